"""Lab 2 data: corpus loading and normalisation, the split, tune extraction and validity."""
import re

import numpy as np
import pytest

from course_utils import music


@pytest.fixture(scope="module")
def oneills():
    return music.load_tunes("oneills1850")


def test_counts_add_up(oneills):
    tunes, stats = oneills
    headers = sum(len(re.findall(r"^X:", p.read_text(errors="replace"), flags=re.MULTILINE)) for p in music.corpus_files("oneills1850"))
    assert stats["raw"] == headers
    assert stats["kept"] == len(tunes) == stats["raw"] - stats["fragments"] - stats["duplicates"]
    assert 1900 < len(tunes) <= 2100  # "about 2,000 tunes"
    assert len(set(tunes)) == len(tunes)


def test_every_tune_is_in_normal_form(oneills):
    for tune in oneills[0]:
        lines = tune.splitlines()
        assert lines[0] == "X:1"
        header = lines[: next(i for i, line in enumerate(lines) if line.startswith("K:")) + 1]
        assert [line[0] for line in header[1:-1]] in (["M", "L"], ["M"], ["L"], [])
        assert "%" not in tune and '"' not in tune and "\n\n" not in tune
        assert all(line == line.strip() and "  " not in line for line in lines)


def test_normalisation_keeps_music_and_drops_the_rest():
    raw = """X: 17
T: A Title
M: 6/8
L: 1/8
R: jig
Z: transcriber
K:G
% a comment line
"D.C." (GAB) {c}d2.e ~f | (3ABc [K:D] Td2 :| % end
w: some lyrics
"""
    assert music.normalise_tune(raw) == "X:1\nM:6/8\nL:1/8\nK:G\nGAB d2e f | (3ABc [K:D] d2 :|"
    assert music.normalise_tune(raw, titles=True).splitlines()[1] == "T:A Title"


@pytest.mark.parametrize("raw", ["X:1\nT:no key\nM:4/4\nABC|", "X:1\nM:4/4\nK:G\n|: z2 :|", "X:1\nK:G\n"])
def test_fragments_are_dropped(raw):
    assert music.normalise_tune(raw) is None


def test_split_is_deterministic_disjoint_and_complete(oneills):
    tunes = oneills[0]
    train, validation = music.split_tunes(tunes, 0.1, seed=0)
    again = music.split_tunes(tunes, 0.1, seed=0)
    assert (train, validation) == again
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(tunes)
    assert len(validation) == round(0.1 * len(tunes))
    assert music.split_tunes(tunes, 0.1, seed=1)[1] != validation
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        music.split_tunes(tunes, 1.5)


def test_unknown_collection_lists_the_choices():
    with pytest.raises(ValueError, match="oneills1850, essenFolksong, ryansMammoth"):
        music.load_tunes("beatles")


def test_extract_tunes():
    text = "junk\nX:1\nK:G\nABc|\n\nX:1\nK:D\nd2|\nX:1\nK:A\ncde"
    tunes = music.extract_tunes(text)
    assert [t.text for t in tunes] == ["X:1\nK:G\nABc|", "X:1\nK:D\nd2|", "X:1\nK:A\ncde"]
    assert [t.finished for t in tunes] == [True, True, False]
    assert music.extract_tunes("no tune here") == []


def test_judge_first_tunes_says_why():
    judged = music.judge_first_tunes(["X:1\nM:4/4\nL:1/8\nK:G\nABcd|\n\n", "X:1\nM:4/4\nK:G\nAB", "nothing"], length=7)
    assert [v.valid for _, v in judged] == [True, False, False]
    assert judged[1][1].reason == "unfinished within 7 characters"
    assert "no X: line" in judged[2][1].reason


@pytest.mark.slow  # parses the whole corpus with music21
def test_almost_every_corpus_tune_is_valid(oneills):
    # A fixed sample keeps the test fast (music21 parses about 30 tunes a second);
    # benchmarks/lab2_quality.py --corpus checks every tune.
    tunes = oneills[0]
    sample = [tunes[i] for i in np.random.default_rng(0).choice(len(tunes), 300, replace=False)]
    verdicts = [music.check_tune(t) for t in sample]
    assert sum(v.valid for v in verdicts) >= 0.99 * len(sample), [v.reason for v in verdicts if not v.valid]
    assert all(v.num_notes > 0 for v in verdicts if v.valid)


@pytest.mark.parametrize(
    "junk, reason",
    [
        ("", "empty tune"),
        ("X:1\nM:4/4\nL:1/8\nABC|", "no key"),
        ("X:1\nK:G\nABC|", "no meter"),
        ("X:1\nM:4/4\nL:1/8\nK:G\n", "no notes"),
        ("X:1\nM:4/4\nL:1/8\nK:G\n|] z4 |", "no notes"),
        ("X:1\nM:4/4\nL:1/8\nK:G\nAB [cd", "could not parse"),
        ("X:1\nM:4/4\nL:1/8\nK:G\nG/0 A|", "could not parse"),
    ],
)
def test_junk_is_not_valid(junk, reason):
    verdict = music.check_tune(junk)
    assert not verdict.valid and reason in verdict.reason


def test_random_characters_are_not_valid():
    rng = np.random.default_rng(0)
    alphabet = list("ABCDEFGabcdefg|:[]()/2345z,'^_= \n")
    junk = ["X:1\nM:4/4\nL:1/8\nK:G\n" + "".join(rng.choice(alphabet, 80)) for _ in range(20)]
    assert sum(music.check_tune(t).valid for t in junk) < 10


@pytest.mark.parametrize(
    "key, fifths", [("C", 0), ("G", 1), ("D", 2), ("Em", 1), ("Gm", -2), ("Bb", -2), ("F#m", 3), ("Dmix", 1), ("Ador", 1), ("Glyd", 2), ("Bphr", 1), ("none", None), ("HP", None)]
)
def test_key_signatures(key, fifths):
    assert music.key_signature(key) == fifths


def test_transposition_respells_accidentals():
    # D major -> C major, one step down: a natural c (a lowered 7th) becomes a flat B; a redundant sharp stays explicit.
    assert music.transpose_to_plain_key("X:1\nM:6/8\nL:1/8\nK:D\nAB=c ^c2d|f'g,a F2|") == "X:1\nM:6/8\nL:1/8\nK:C\nGA_B =B2c|e'Fg E2|"
    # G minor -> A minor, one step up: the raised 7th F# becomes G#, E flat (already in the key) an explicit F natural.
    assert music.transpose_to_plain_key("X:1\nL:1/8\nK:Gm\n^FGA _e2|") == "X:1\nL:1/8\nK:Am\n^GAB =f2|"
    for unchanged in ("X:1\nL:1/8\nK:HP\nABc|", "X:1\nL:1/8\nK:D\nAB|\nK:G\nAB|", "X:1\nL:1/8\nK:D\nAB [K:G] AB|"):
        assert music.transpose_to_plain_key(unchanged) == unchanged


@pytest.mark.slow
def test_transposition_moves_every_note_by_the_same_interval(oneills):
    # Reference: music21's own reading of the tune before and after; the pitch differences must all be equal.
    from music21 import converter

    original, _ = music.load_tunes("oneills1850", transpose=False)
    transposed = oneills[0]
    assert len(original) == len(transposed)
    intervals = set()
    for i in np.random.default_rng(1).choice(len(original), 80, replace=False):
        before, after = ([p.midi for n in converter.parse(t, format="abc").recurse().notes for p in n.pitches] for t in (original[i], transposed[i]))
        assert len(before) == len(after) > 0
        shifts = set(np.subtract(after, before).tolist())
        assert len(shifts) == 1 and abs(shifts.pop()) <= 6, (original[i], transposed[i])
    keys = {line for t in transposed for line in t.splitlines() if line.startswith("K:")}
    assert sum(t.count("\nK:C\n") + t.count("\nK:Am\n") for t in transposed) > 0.8 * len(transposed), keys
