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
    headers = sum(
        len(re.findall(r"^X:", p.read_text(errors="replace"), flags=re.MULTILINE))
        for p in music.corpus_files("oneills1850")
    )
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

    # The corpus's own rhythm: of all 2,008 tunes 92.7% have every bar right, and 99.2% of bars are right (the rest are
    # transcription slips: bars a note too long or short, a missing bar line). A naive check, every bar as long as the
    # meter, passes 17%: pickups, repeats and endings make short bars.
    from music21 import stream

    rhythms = [music.check_rhythm(t, v.score) for t, v in zip(sample, verdicts) if v.valid]
    assert sum(r.ok for r in rhythms) >= 0.9 * len(sample), [r.reason for r in rhythms if not r.ok]
    assert sum(r.wrong_bars for r in rhythms) <= 0.01 * sum(r.bars for r in rhythms)
    naive = 0
    for verdict in verdicts:
        part = verdict.score.parts[0] if verdict.score.parts else verdict.score
        full = verdict.score.recurse().getElementsByClass("TimeSignature").first().barDuration.quarterLength
        naive += all(m.duration.quarterLength == full for m in part.getElementsByClass(stream.Measure))
    assert naive < 0.3 * len(sample)


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
    "key, fifths",
    [
        ("C", 0),
        ("G", 1),
        ("D", 2),
        ("Em", 1),
        ("Gm", -2),
        ("Bb", -2),
        ("F#m", 3),
        ("Dmix", 1),
        ("Ador", 1),
        ("Glyd", 2),
        ("Bphr", 1),
        ("none", None),
        ("HP", None),
    ],
)
def test_key_signatures(key, fifths):
    assert music.key_signature(key) == fifths


def test_transposition_respells_accidentals():
    # D major -> C major, one step down: a natural c (a lowered 7th) becomes a flat B; a redundant sharp stays explicit.
    assert (
        music.transpose_to_plain_key("X:1\nM:6/8\nL:1/8\nK:D\nAB=c ^c2d|f'g,a F2|")
        == "X:1\nM:6/8\nL:1/8\nK:C\nGA_B =B2c|e'Fg E2|"
    )
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
    for i in np.random.default_rng(1).choice(len(original), 80, replace=False):
        before, after = (
            [p.midi for n in converter.parse(t, format="abc").recurse().notes for p in n.pitches]
            for t in (original[i], transposed[i])
        )
        assert len(before) == len(after) > 0
        shifts = set(np.subtract(after, before).tolist())
        assert len(shifts) == 1 and abs(shifts.pop()) <= 6, (original[i], transposed[i])
    keys = {line for t in transposed for line in t.splitlines() if line.startswith("K:")}
    assert sum(t.count("\nK:C\n") + t.count("\nK:Am\n") for t in transposed) > 0.8 * len(transposed), keys


HEADER = "X:1\nM:6/8\nL:1/8\nK:C\n"


@pytest.mark.parametrize(
    "body",
    [
        "GAB cde|fga bag|fed cBA|G3 G3|]",  # every bar full
        "D|GAB cde|fga bag|fed cBA|G3 G2|]",  # a pickup, and a closing bar that makes it up
        "|:D|GAB cde|fga bag:|\n|:B|cde fga|bag G2:|",  # short bars on both sides of repeat signs
        "GAB cde|fga bag|1 fed cBA:|2 fed G2||\nB|cde fga|bag fed|]",  # first and second endings, then a double bar
        "GAB cde|fga bag|fed cBA|G3 G2|D|GAB cde|fga bag|]",  # a pickup written as its own bar mid-tune
        "GAB cde|fga bag|[M:3/4]fed cBA|A4 G2|G6|]",  # a change of meter: bars measured against the new one
        "(3GAB (3cde c2|fga bag|fed cBA|[GB]3 G3|]",  # triplets (three in the time of two) and chords
        "GAB cde|fga bag|fed cBA|G3 G2:|\nM:9/8\nD|GAB cde fga|bag fed cBA|G3 G3 G2|]",  # a meter change on its own line
        "GAB cde|fga bag|fed cBA|G3 G2:|\n[M:9/8] D|GAB cde fga|bag fed cBA|G3 G3 G2|]",  # ... or starting a line
    ],
)
def test_well_kept_rhythm_passes(body):
    verdict = music.check_rhythm(HEADER + body)
    assert verdict.ok, verdict.reason
    assert verdict.bars >= 4


@pytest.mark.parametrize(
    "body, reason",
    [
        ("GAB cde|fga ba|fed cBA|G3 G3|]", "bar 2 (F G A B A) lasts 5/6 of a bar of 6/8, inside a section"),
        ("GAB cde|fga bag a|fed cBA|G3 G3|]", "bar 2 (F G A B A G A) lasts 7/6 of a bar of 6/8: longer than the meter"),
        (
            "D|GAB cde|fga bag2|fed cBA|G3 G2|]",
            "bar 3 (F G A B A G G) lasts 7/6 of a bar of 6/8: longer than the meter",
        ),
        ("GAB cde|fga bag|fed c2|G3 G3|]", "bar 3 (F E D C) lasts 5/6 of a bar of 6/8, inside a section"),
    ],
)
def test_a_wrong_bar_is_named(body, reason):
    verdict = music.check_rhythm(HEADER + body)
    assert not verdict.ok and verdict.reason == reason and verdict.wrong_bars == 1


def test_a_meter_change_in_the_body_is_measured_in_the_new_meter():
    # music21 drops an M: line in the tune body and would measure the 9/8 bars against 6/8.
    short = music.check_rhythm(HEADER + "GAB cde|fga bag|fed cBA|G3 G2:|\nM:9/8\nD|GAB cde fga|bag fed cB|G3 G3 G2|]")
    assert short.reason == "bar 7 (B A G F E D C B) lasts 8/9 of a bar of 9/8, inside a section"
    # Without L:, the unit length stays the one the first meter implies (1/16 for 2/4), not the new meter's (1/8).
    sixteenths = (
        "X:1\nM:2/4\nK:C\nGABc defg|abag fedc|gfed cBAG|c4 c4:|\nM:3/4\nGABc defg abag|fedc BAGF EDCB|c4 c4 c4|]"
    )
    assert music.check_rhythm(sixteenths).ok, music.check_rhythm(sixteenths).reason
    # ... and an L: line in the body holds for the parts after it.
    halved = HEADER + "GAB cde|fga bag|\nL:1/16\nG2A2B2 c2d2e2|f2g2a2 b2a2g2|\nM:3/4\nG2A2B2 c2d2e2|f2g2a2 b2a2g2|]"
    assert music.check_rhythm(halved).ok, music.check_rhythm(halved).reason
    # A change on the first line of the body counts from the first bar.
    assert music.check_rhythm(HEADER + "M:9/8\nGAB cde fga|bag fed cBA|G3 G3 G3|]").ok
    assert not music.check_rhythm(HEADER + "M:9/8\nGAB cde fga|bag fed|G3 G3 G3|]").ok
    # The same meter written again changes nothing: no new section starts there to excuse a short bar.
    again = music.check_rhythm(HEADER + "GAB cde|fga b|\nM:6/8\nfed cBA|G3 G3|]")
    assert again.reason == "bar 2 (F G A B) lasts 2/3 of a bar of 6/8, inside a section"


def test_every_wrong_bar_is_counted():
    verdict = music.check_rhythm(HEADER + "GAB cde|fga b|fed c|G3 G3 G|]")
    assert verdict.wrong_bars == 3 and verdict.bars == 4
    assert verdict.reason.startswith("bar 2 (F G A B) lasts 2/3") and verdict.reason.endswith("; 2 more wrong bars")


def test_rhythm_needs_a_meter_and_valid_music():
    assert "no meter" in music.check_rhythm("X:1\nL:1/8\nK:G\nGAB cde|fga bag|").reason
    assert music.check_rhythm("X:1\nM:4/4\nL:1/8\nK:G\n").reason == "not valid music: no notes"
    with pytest.raises(TypeError, match="tune should be ABC text"):
        music.check_rhythm(42)


def test_short_bars_pair_up_only_once():
    """A pickup written as a bar of its own pairs with one neighbour; a run of half bars is not a run of pairs."""
    assert music.check_rhythm(HEADER + "GAB cde|fga bag|fed|cBA|G3 G3|]").ok  # one full bar split by a bar line
    halves = music.check_rhythm(HEADER + "GAB|cde|fga|bag|fed|cBA|G3|G3|]")
    assert (
        not halves.ok and halves.wrong_bars == 6 and halves.reason.startswith("bar 2 (C D E) lasts 1/2 of a bar of 6/8")
    )
    assert music.check_rhythm(HEADER + "GA|Bcde|GA|Bcde|fg|abag|]").wrong_bars == 4


@pytest.mark.parametrize("meter", ["[M:]", "[M:6/0]", "[M:0/8]", "[M:/]", "[M:6/8/8]", "[M:3/4", '"[M:x]"'])
def test_a_malformed_inline_meter_is_no_crash(meter):
    verdict = music.check_rhythm(HEADER + f"GAB cde|fga bag|{meter}fed cBA|G3 G3|]")
    assert isinstance(verdict, music.RhythmVerdict)


def test_a_tune_with_too_few_bar_lines_says_so():
    assert (
        music.check_rhythm(HEADER + "GAB cde|fga bag|]").reason
        == "fewer than two bar lines: music21 made no bars to check"
    )
