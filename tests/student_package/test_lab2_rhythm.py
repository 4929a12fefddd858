"""course_utils.rhythm: the incremental reader of ABC durations, and the constraint Lab 2 samples under."""

from fractions import Fraction

import numpy as np
import pytest

from course_utils import music, rhythm

HEADER = "X:1\nM:6/8\nL:1/8\nK:C\n"


def lengths(body, header=HEADER):
    """The bars' lengths as fractions of a full bar."""
    return [length / full for length, full in rhythm.bar_lengths(header + body)]


@pytest.mark.parametrize(
    "body, bars",
    [
        ("ABc def|g3 a2b|", [1, 1]),  # plain notes and lengths
        ("A/B/c/d/e/f/ g3|c6|", [1, 1]),  # halves
        ("A3/2B/ c4|A//B//c/ z4 d3/4e/4|", [1, 1]),  # dotted, quarters, slashes
        ("A>B c2 d<e|A>>B c4|", [1, 1]),  # broken rhythm: 3/2 + 1/2, 1/2 + 3/2, 7/4 + 1/4
        ("(3ABc d3 z|(3:2:3ABc d4|", [1, 1]),  # a triplet of eighths lasts two eighths
        ("[ceg]2 [c2e2] c2|[ce]3 z3|", [1, 1]),  # a chord lasts its first note (times its own length)
        ('{ga}A3- A3|"C"c3 !trill!c3|', [1, 1]),  # grace notes, annotations and decorations take no time
        ("|:A6:|[1 c6:|[2 d6|]", [1, 1, 1]),  # repeats and endings are bar lines, empty bars are none
        ("c'3 C,3|^c3 _B3|", [1, 1]),  # octave marks and accidentals
        ("c3\\\nc3|", [1]),  # a line continued
    ],
)
def test_bar_lengths(body, bars):
    assert lengths(body) == bars


def test_bar_positions_follow_the_bar_character_by_character():
    positions = rhythm.bar_positions(HEADER + "ABc def|g6|")
    assert np.isnan(positions[: len(HEADER) - 1]).all()  # the header counts nothing (K:C's newline starts the body)
    body = positions[len(HEADER) :]
    # A, B and c are each still being written (A2 may follow) when read, then finished by the next character.
    assert body[3] == pytest.approx(3 / 6) and body[7] == 0.0  # after "ABc " half the bar; after the bar line empty
    assert body[-1] == 0.0 and body[-2] == pytest.approx(6 / 48)  # "g6" counts at its least (g6/8) until "|"
    assert len(positions) == len(HEADER + "ABc def|g6|")


def test_a_note_still_being_written_counts_at_the_least_it_can_become():
    state = rhythm.read(HEADER + "c4")
    assert state.filled == 0 and state.note.written == Fraction(4, 8)
    assert state.least_filled == Fraction(4, 8) / 8  # c4/8 may still follow
    assert rhythm.read("/2", state).least_filled == Fraction(2, 8)  # a denominator is written: no more shrinking


def test_meter_and_unit_changes():
    header = "X:1\nM:2/4\nK:C\n"  # without L:, 2/4 means sixteenths
    assert lengths("c8|[M:3/4]c6c6|\nM:6/8\nc6c6|\nL:1/8\nc6|", header) == [1, 1, 1, 1]
    assert rhythm.meter_length("C|") == 1 and rhythm.meter_length("C") == 1 and rhythm.meter_length("none") is None


@pytest.mark.parametrize(
    "body",
    ["c12", "c/3", "c///", "c/16", "c0", "^^^c", "c k", "c 2", "c /", "c -", "c>>>d", "(3 c", "[c d]", "c\\ c", "|11"],
)
def test_what_is_not_music_as_the_corpus_writes_it_leaves_no_bar_to_complete(body):
    assert rhythm.read(HEADER + "c").completable and not rhythm.read(HEADER + body).completable


def test_a_blank_line_ends_the_tune_and_the_header_counts_nothing():
    state = rhythm.read(HEADER + "c3|\n\nX:1\nM:3/4\n")
    assert state.bar is None and not state.in_body
    assert rhythm.read("L:1/8\nK:C\n", state).bar == Fraction(3, 4)


def test_the_reader_agrees_with_music21_on_the_corpus():
    # check_rhythm (music21) is the judge; the reader must measure the same bars. music21 cuts a bar that is exactly
    # two bars long in two, so such a bar counts as two here. On the whole corpus they agree on 1,995 of 2,002 tunes.
    tunes, _ = music.load_tunes()
    disagree = []
    for tune in tunes[:120]:
        verdict = music.check_tune(tune)
        if music._meter_parts(tune) != [tune]:
            continue
        theirs = [bar["length"] for bar in music._bars(tune, verdict.score)]
        ours = []
        for length, full in rhythm.bar_lengths(tune):
            times = length / full
            ours += [full * 4] * int(times) if times > 1 and times.denominator == 1 else [length * 4]
        if ours != theirs:
            disagree.append(tune)
    assert len(disagree) <= 1, disagree


def test_the_constraint_says_what_each_character_would_do():
    chars = sorted(set(HEADER + "ABCDEFGabcdefgz/23|:>()[] \n"))
    constraint = rhythm.BarConstraint(chars)
    first = constraint.reset(HEADER + "c2", batch=1)
    assert not first[1][0, chars.index("|")]  # the first bar may be a pickup: a bar line may close it short
    fill, closes = constraint.reset(HEADER + "c6|c2d", batch=2)
    assert fill.shape == closes.shape == (2, len(chars))
    at = {char: i for i, char in enumerate(chars)}
    assert fill[0, at[" "]] == pytest.approx(3 / 6)  # d finished: three eighths of six
    assert fill[0, at["3"]] == pytest.approx((2 + 3 / 8) / 6)  # d3 counts as d3/8 until its length is finished
    # A bar line would close a short bar: allowed only as a section's end (the next row says so, see below).
    assert not closes[0, at["|"]] and fill[0, at["|"]] == pytest.approx(3 / 6)
    fill, closes = constraint.advance(np.array([at["3"], at["3"]]))
    fill, closes = constraint.advance(np.array([at["e"], at[" "]]))
    assert fill[0, at["|"]] == 1 and closes[0, at["|"]]  # c2d3e: full
    assert fill[1, at["|"]] == pytest.approx(5 / 6)
    assert fill[1, at["e"]] == pytest.approx((5 + 1 / 8) / 6)  # a new note counts at the least it can become
    assert fill[1, at["\n"]] == pytest.approx(5 / 6) and not closes[1, at["\n"]]


@pytest.mark.parametrize(
    "body, short_bar_allowed",
    [
        ("c6|c2d", False),  # inside a section: the bar line needs a full bar
        ("c6|:c2d", True),  # the first bar of a repeated section may be short (a pickup to it)
        ("c6||c2d", True),  # after a double bar
        ("c6:|c2d", True),  # after a repeat's end
        ("c6|]c2d", True),
        ("c6|1c2d", True),  # an ending starts
        ("c6|c6|c2d", False),
    ],
)
def test_a_bar_that_starts_a_section_may_be_short(body, short_bar_allowed):
    chars = sorted(set(HEADER + "ABCDEFGabcdefgz/2356|:]1 \n"))
    constraint = rhythm.BarConstraint(chars)
    fill, closes = constraint.reset(HEADER + body, batch=1)
    assert fill[0, chars.index("|")] == pytest.approx(3 / 6) and not closes[0, chars.index("|")]
    fill, _ = constraint.advance(np.array([chars.index("|")]))
    allowed = {char for char, f in zip(chars, fill[0]) if f <= 1}
    # A section's first bar may be short and end anywhere; a short bar inside a section only where the section ends.
    assert allowed >= set("|]:ABc ") if short_bar_allowed else allowed == set("|]:")


@pytest.mark.parametrize("section_end", ["||", "|]", "|:", ":|"])
def test_a_short_bar_may_end_a_section_and_nothing_else(section_end):
    chars = sorted(set(HEADER + "ABCDEFGabcdefgz/2356|:]1 \n"))
    constraint = rhythm.BarConstraint(chars)
    fill, closes = constraint.reset(HEADER + "c6|c2d", batch=1)
    first, second = (chars.index(char) for char in section_end)
    assert not closes[0, first] and fill[0, first] == pytest.approx(3 / 6)  # the | of || |] |:, or the : of :|
    fill, closes = constraint.advance(np.array([first]))
    assert fill[0, second] <= 1 and not closes[0, second]
    if section_end[0] == "|":  # the | could not tell what follows: only what makes it a section's end may
        assert {char for char, f in zip(chars, fill[0]) if f <= 1} == set("|]:")
    verdict = music.check_rhythm(HEADER + f"c6|c6|c2d{section_end}c6|c6|]\n")
    assert verdict.ok, verdict.reason  # the check allows what the constraint allows


def test_a_bar_line_after_a_full_bar_leaves_the_next_character_free():
    chars = sorted(set(HEADER + "ABCDEFGabcdefgz/2356|:]1 \n"))
    constraint = rhythm.BarConstraint(chars)
    constraint.reset(HEADER + "c6|c3d3", batch=2)
    fill, _ = constraint.advance(np.array([chars.index("|"), chars.index(" ")]))
    assert (fill[0] <= 1).sum() > len("|]:")


def test_the_constraint_counts_nothing_in_the_header():
    chars = sorted(set(HEADER + "|"))
    fill, closes = rhythm.BarConstraint(chars).reset("X:1\n", batch=1)
    assert not fill.any() and not closes.any()
