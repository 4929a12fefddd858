"""Reading ABC durations one character at a time: how full the current bar is, under the tune's meter and unit length.

:func:`advance` takes a :class:`BarState` (what has been read so far) and one more character, and returns the state
after it; :func:`bar_lengths` reads a whole tune that way. The reader knows what ``music.check_rhythm`` allows in a
bar: notes and rests with lengths (``A2``, ``A/``, ``A3/2``, ``z``), broken rhythm (``A>B``, ``A<B``, ``A>>B``),
tuplets (``(3abc``, ``(3:2:3``), chords (``[ceg]2``: the first note's length), grace notes (``{ga}``: no time), ties,
decorations and annotations (no time), bar lines and repeats (``|`` ``||`` ``|]`` ``|:`` ``:|`` ``::`` ``|1``
``:|2`` ``[1``), and changes of meter and unit length (``M:`` ``L:`` lines, ``[M:3/4]``). It reads a tune from its
``X:`` line; a blank line ends the tune.

Lengths are exact fractions of a whole note. A note whose length is still being written (``A``, ``A3``, ``A/``: more
digits or slashes may follow) counts at the least it can still become, an eighth of its numerator (``A/8``,
``A3/8``), so a reader of a prefix does not call a bar over-full while it can still be completed. Lengths are read as
the corpus writes them: a numerator of one digit, divided by 2, 4 or 8 or by ``/`` and ``//``. Anything else (``A12``,
``A/3``, ``A///``), and what is not ABC music (a stray letter or digit, ``^^^``) makes the text unreadable: no bar can
be completed after it. :class:`BarConstraint` turns this into what Lab 2's constrained sampling step needs: for a batch
of texts being generated, what the bar would hold after each character of the vocabulary, and whether that character
would close a bar.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

NOTE_LETTERS = "ABCDEFGabcdefg"
RESTS = "z"  # a rest lasts like a note; music21 (the judge, music.check_rhythm) gives x and Z no time
OCTAVE_MARKS = ",'"
ACCIDENTALS = "^_="
DENOMINATORS = "248"  # the corpus writes A/2, A/4, A/8, A3/2 and A// (a quarter), and numerators of one digit
MAX_SLASHES = 2
INLINE_FIELD_CHARACTERS = ":/ #]"  # and letters and digits: [M:6/8], [L:1/16], [K:G], [K:F#m]
MAX_CHORD_NOTES = 3  # the corpus's chords have two notes, a few three
BODY_CHARACTERS = set(NOTE_LETTERS + "zxZ" + "0123456789/" + ACCIDENTALS + '|:[]()<>- \n\\"!{}.')  # what a body holds
BODY_NOTE_STARTS = NOTE_LETTERS + RESTS + "xZ"  # a body line starting with another letter is a field (M:, L:, K:)
WRITTEN_SO_FAR_SHRINKS_TO = Fraction(1, 8)  # an unfinished note may still become an eighth of its numerator (A/8)


def meter_length(value: str) -> Fraction | None:
    """The length of a bar (in whole notes) that an ``M:`` field's value writes: ``6/8`` -> 3/4, ``C`` -> 1,
    ``C|`` -> 1, ``2+3/8`` -> 5/8; ``None`` for ``none`` or a value that writes no meter."""
    value = value.strip()
    if value in ("C", "C|"):
        return Fraction(1)
    match = re.fullmatch(r"\(?([\d+ ]+)\)?\s*/\s*(\d+)", value)
    if not match:
        return None
    numerator = sum(int(part) for part in match.group(1).split("+") if part.strip())
    denominator = int(match.group(2))
    return Fraction(numerator, denominator) if numerator and denominator else None


def unit_length(value: str) -> Fraction | None:
    """The unit note length an ``L:`` field's value writes (``1/8`` -> 1/8), or ``None`` if it writes none."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match or not int(match.group(1)) or not int(match.group(2)):
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


def default_unit(meter: Fraction | None) -> Fraction:
    """ABC's unit note length when there is no ``L:``: a sixteenth below a meter of 3/4, an eighth otherwise."""
    return Fraction(1, 16) if meter is not None and meter < Fraction(3, 4) else Fraction(1, 8)


def tuplet_ratio(notes: int, in_time_of: int | None, compound: bool) -> Fraction:
    """How much a note of a tuplet ``(p:q`` lasts of its written length, q/p; q as ABC's standard says when omitted."""
    if in_time_of is None:
        in_time_of = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(notes, 3 if compound else 2)
    return Fraction(in_time_of, notes)


@dataclasses.dataclass(frozen=True)
class Note:
    """A note (or rest, or closed chord) whose length characters may still follow: its length is
    ``base * numerator / denominator`` as written so far."""

    base: Fraction  # the unit length times the tuplet and broken-rhythm factors in force
    numerator: str = ""  # digits after the letter
    slashes: int = 0
    denominator: str = ""  # digits after the slash

    @property
    def written(self) -> Fraction:
        numerator = int(self.numerator) if self.numerator else 1
        if self.denominator:
            denominator = int(self.denominator)
        else:
            denominator = 2**self.slashes
        return self.base * numerator / denominator if denominator else self.base * numerator

    @property
    def can_shrink(self) -> bool:
        """Whether more length characters may still shorten the note (``A`` -> ``A/`` -> ``A//``, ``A3`` -> ``A3/4``)."""
        return not self.denominator and self.slashes < MAX_SLASHES

    @property
    def least(self) -> Fraction:
        """The least this note can still last: what is written, or an eighth of its numerator (``A/8``, ``A3/8``) while
        it may still shrink."""
        if not self.can_shrink:
            return self.written
        return self.base * (int(self.numerator) if self.numerator else 1) * WRITTEN_SO_FAR_SHRINKS_TO


@dataclasses.dataclass(frozen=True)
class BarState:
    """What the reader knows after a prefix of ABC text.

    ``filled`` is the length of the finished notes of the current bar; ``note`` the note still being written, if any;
    ``closed`` the length of the bar the last character closed (``None`` if it closed none, or a bar without notes), and
    ``must_be_full`` whether that bar had to be full: not the tune's first bar (a pickup), nor a bar that starts a section
    (after ``|:``, ``||``, ``|]``, ``:|``, ``::`` or an ending), nor one a repeat sign ``:|`` or ``::`` closes.
    Lengths are in whole notes; ``meter`` is a full bar's length (``None`` in the header or without a meter).
    """

    in_body: bool = False
    field: str | None = None  # the text of a field being read (``M:6/8``), header line or inline ``[M:...]``
    inline: bool = False  # the field is inline, between [ and ]
    skipping: str = ""  # the character that ends text that takes no time: '"', '!' or '}'
    meter: Fraction | None = None
    unit: Fraction | None = None  # from L:, else default_unit(meter)
    compound: bool = False  # 6/8, 9/8, 12/8: tuplets (5 (7 (9 are in the time of 3
    line_start: bool = True
    previous: str = "\n"  # the last character read in the body
    filled: Fraction = Fraction(0)
    has_notes: bool = False
    note: Note | None = None
    last: Fraction = Fraction(0)  # the last finished note's length before any broken rhythm
    broken: str = ""  # the run of > or < after the last note
    tuplet_left: int = 0
    tuplet_factor: Fraction = Fraction(1)
    tuplet_spec: str | None = None  # the digits and colons after "(" being read
    bracket: bool = False  # the last character was a "[" whose meaning the next one decides
    chord: bool = False
    chord_length: Fraction | None = None
    chord_notes: int = 0
    accidental: str = ""  # ^ ^^ _ __ = before a note letter
    pickup: bool = (
        True  # no bar with notes closed yet: the first may be shorter than the meter (check_rhythm allows it)
    )
    unreadable: bool = False  # the body has a character that is not ABC music here (a stray letter or digit, ^^^)
    boundary: bool = (
        True  # a section boundary (the tune's start, |: || |] [| :| ::, an ending) came after the last bar's notes
    )
    section_start: bool = True  # the current bar starts a section, so it may be short (music.check_rhythm allows it)
    closed: Fraction | None = None
    must_be_full: bool = False  # whether the bar just closed (``closed``) had to be full

    @property
    def bar(self) -> Fraction | None:
        """A full bar's length in whole notes, or ``None`` where nothing is counted (the header, no meter)."""
        return self.meter if self.in_body else None

    @property
    def shortest(self) -> Fraction:
        """The shortest note the reader expects next: an eighth of the unit (``A/8``), in a tuplet a part of that."""
        shortest = (self.unit if self.unit is not None else default_unit(self.meter)) * WRITTEN_SO_FAR_SHRINKS_TO
        return shortest * self.tuplet_factor if self.tuplet_left else shortest

    @property
    def least_filled(self) -> Fraction:
        """The least the current bar can still hold: its finished notes, the note being written at its least, and a
        note at its shortest if an accidental says one comes next."""
        note = self.note.least if self.note is not None and not self.chord else Fraction(0)
        coming = Fraction(0)
        if self.accidental or self.tuplet_spec is not None or self.broken:  # ^, ( and > are followed by a note
            coming = self.shortest
            if self.broken and self.last and self.note is None:  # A> lengthens A when that note comes
                before, after = broken_factors(self.broken)
                coming = self.last * (before - 1) + self.shortest * after
        return self.filled + note + coming

    @property
    def completable(self) -> bool:
        """Whether the current bar can still end exactly full: the text is readable, and what is left of the bar is
        nothing or at least the shortest note (or, with a note still being written, at least what that note needs)."""
        if self.unreadable or self.chord or self.skipping:
            # a chord's length is known only when it closes, and music21 reads some decorations as notes: the
            # constraint lets neither start (the corpus, once normalised, has few chords and no decorations)
            return False
        if self.bar is None:
            return True
        room = self.bar - self.least_filled
        if (
            (self.note is not None and self.note.can_shrink)
            or self.accidental
            or self.tuplet_spec is not None
            or self.broken
        ):
            return room >= 0  # the note can still shrink (A/, A//) to take what is left
        return room == 0 or room >= self.shortest


START = BarState()


def _unit(state):
    return state.unit if state.unit is not None else default_unit(state.meter)


def _finish_note(state: BarState) -> BarState:
    """The state with the note being written finished: its length goes into the bar (or the chord)."""
    if state.note is None:
        return state
    length = state.note.written
    if state.chord:
        return dataclasses.replace(
            state, note=None, chord_length=state.chord_length if state.chord_length is not None else length
        )
    return dataclasses.replace(state, note=None, filled=state.filled + length, last=length, has_notes=True)


def _start_note(state: BarState, base: Fraction) -> BarState:
    """A new note of length ``base`` (before its own length characters) starts: tuplet and broken rhythm apply."""
    if state.chord:
        return dataclasses.replace(state, note=Note(base), chord_notes=state.chord_notes + 1)
    factor, filled = Fraction(1), state.filled
    if state.broken and state.last:  # A>B: the last note is lengthened as this one is shortened
        before, factor = broken_factors(state.broken)
        filled += state.last * (before - 1)
    left, tuplet = state.tuplet_left, state.tuplet_factor
    if left > 0:
        factor *= tuplet
        left -= 1
    if not state.has_notes:  # the bar's first note: the bar starts a section if a boundary came before it
        state = dataclasses.replace(state, section_start=state.boundary, boundary=False)
    return dataclasses.replace(
        state, note=Note(base * factor), filled=filled, broken="", tuplet_left=left, has_notes=True
    )


def broken_factors(run: str) -> tuple[Fraction, Fraction]:
    """What broken rhythm makes of the note before and the note after: ``>`` 3/2 and 1/2, ``>>`` 7/4 and 1/4, ``<``
    the other way round."""
    short = Fraction(1, 2 ** len(run))
    return (2 - short, short) if run[0] == ">" else (short, 2 - short)


def _close_bar(state: BarState, repeat: bool = False) -> BarState:
    """A bar line (``repeat``: the ``:`` of ``:|`` or ``::``, which ends a section): the bar ends; ``closed`` is its
    length if it had notes."""
    state = _finish_note(state)
    closed = state.filled if state.has_notes else None
    return dataclasses.replace(
        state,
        pickup=state.pickup and not state.has_notes,
        filled=Fraction(0),
        has_notes=False,
        last=Fraction(0),
        broken="",
        closed=closed,
        must_be_full=closed is not None and not (state.pickup or state.section_start or repeat),
        boundary=state.boundary or repeat,
    )


def _mark_boundary(state: BarState) -> BarState:
    """The bar line just read is a section boundary (``||``, ``|]``, ``|:``, ``[|``, an ending): the next bar starts a
    section."""
    return dataclasses.replace(state, boundary=True)


def _apply_field(state: BarState, text: str) -> BarState:
    """A field (``M:3/4``, ``L:1/16``, ``K:G``, ``X:1``) read whole."""
    name, _, value = text.partition(":")
    if name == "M":
        meter = meter_length(value)
        compound = bool(re.fullmatch(r"\s*(6|9|12)\s*/\s*8\s*", value))
        return dataclasses.replace(state, meter=meter, compound=compound)
    if name == "L":
        unit = unit_length(value)
        return dataclasses.replace(state, unit=unit if unit is not None else state.unit)
    if name == "K" and not state.in_body:  # the body starts; without L:, the unit is what the header's meter implies
        return dataclasses.replace(state, in_body=True, unit=_unit(state))
    return state


def _broken_rhythm(state: BarState, char: str) -> BarState:
    """``>`` or ``<``: counted when the next note starts (music21 ignores one that no note follows, or after a tie)."""
    state = _finish_note(state)
    return dataclasses.replace(state, broken=state.broken + char if state.broken[:1] in ("", char) else char)


@functools.lru_cache(maxsize=200_000)
def advance(state: BarState, char: str) -> BarState:
    """The state after reading one more character of ABC text.

    Args:
        state: the state after the text so far (:data:`START` before the first character).
        char: the next character.

    Returns:
        A new :class:`BarState` (states are immutable and hashable, so they can be cached and compared).
    """
    state = dataclasses.replace(state, closed=None) if state.closed is not None else state
    if state.field is not None:  # a field: read to the end of its line (or to "]" inline), then apply it
        if len(state.field) == 1 and char != ":":  # a letter that starts no field (X:, M:, ...)
            return dataclasses.replace(state, field=None, unreadable=True)
        if state.inline and not (char.isalnum() or char in INLINE_FIELD_CHARACTERS):  # [M:6/8] ends on its line
            return dataclasses.replace(state, unreadable=True)
        if (char == "]" and state.inline) or (char == "\n" and not state.inline):
            state = _apply_field(dataclasses.replace(state, field=None, inline=False), state.field)
            return dataclasses.replace(state, line_start=char == "\n", previous=char)
        return dataclasses.replace(state, field=state.field + char)
    if not state.in_body:
        if char == "\n":
            return dataclasses.replace(state, line_start=True)
        if state.line_start:
            return dataclasses.replace(state, field=char, line_start=False)
        return state
    if state.skipping:
        return dataclasses.replace(state, skipping="") if char == state.skipping else state
    if char == "\n" and state.line_start:  # a blank line ends the tune
        return START
    if state.line_start and char.isalpha() and char not in BODY_NOTE_STARTS:  # a field line in the body (M:, L:, X:)
        state = _finish_note(state)
        if char == "X":
            return dataclasses.replace(START, field="X")
        return dataclasses.replace(state, field=char, line_start=False)
    line_start = char == "\n"
    if state.previous == "\\" and char != "\n":  # a line continuation ends its line
        return dataclasses.replace(state, unreadable=True)
    if state.accidental:  # an accidental is followed by another (^^, __) or by its note
        if char in ACCIDENTALS and state.accidental + char in ("^^", "__"):
            return dataclasses.replace(state, accidental=state.accidental + char, previous=char)
        if char not in NOTE_LETTERS:
            return dataclasses.replace(state, unreadable=True)
        state = dataclasses.replace(state, accidental="")
    if state.bracket:
        state = dataclasses.replace(state, bracket=False)
        if char in "12" and not state.has_notes and state.note is None:  # [1 [2: an ending, where a bar starts
            return dataclasses.replace(_mark_boundary(state), previous=char, line_start=line_start)
        if char == "|":  # [|
            return dataclasses.replace(_mark_boundary(_close_bar(state)), previous="|", line_start=line_start)
        if char in "KLM":  # [M:3/4], [L:1/16], [K:G]
            return dataclasses.replace(state, field=char, inline=True)
        if char not in NOTE_LETTERS + ACCIDENTALS:
            return dataclasses.replace(state, unreadable=True)
        state = dataclasses.replace(state, chord=True, chord_length=None, chord_notes=0)  # [ceg]: timed when it closes
    if state.tuplet_spec is not None:
        spec = state.tuplet_spec
        if (char.isdigit() and not spec[-1:].isdigit()) or (char == ":" and spec and spec.count(":") < 2):
            return dataclasses.replace(state, tuplet_spec=spec + char, previous=char)  # (3 (3:2 (3:2:3, one digit each
        if state.tuplet_spec and char not in NOTE_LETTERS + RESTS + ACCIDENTALS:  # (3 is followed by its notes
            return dataclasses.replace(state, unreadable=True)
        state = _start_tuplet(state)
    note = state.note
    if note is not None:  # length characters of the note being written
        if char.isdigit():
            if (
                note.denominator
                or note.slashes > 1
                or (note.slashes and char not in DENOMINATORS)
                or char == "0"
                or (note.numerator and not note.slashes)
            ):  # lengths as the corpus writes them: one digit, divided by 2, 4 or 8 at most
                return dataclasses.replace(state, unreadable=True)
            if note.slashes:
                return dataclasses.replace(state, note=dataclasses.replace(note, denominator=note.denominator + char))
            return dataclasses.replace(state, note=dataclasses.replace(note, numerator=note.numerator + char))
        if char == "/" and not note.denominator:
            if note.slashes == MAX_SLASHES:
                return dataclasses.replace(state, unreadable=True)
            return dataclasses.replace(state, note=dataclasses.replace(note, slashes=note.slashes + 1))
        if char in OCTAVE_MARKS and not note.numerator and not note.slashes:
            return state
    previous = state.previous
    if state.chord and (
        char not in NOTE_LETTERS + ACCIDENTALS + "]" or (char in NOTE_LETTERS and state.chord_notes == MAX_CHORD_NOTES)
    ):
        return dataclasses.replace(state, unreadable=True)  # a chord holds a few notes, and nothing else
    if char in ACCIDENTALS:
        return dataclasses.replace(_finish_note(state), accidental=char, previous=char, line_start=False)
    if (char.isalpha() and char not in BODY_NOTE_STARTS) or char in OCTAVE_MARKS or char not in BODY_CHARACTERS:
        return dataclasses.replace(state, unreadable=True)
    if char.isdigit() and previous not in "|:":  # a digit that is not a note's length nor an ending's number
        return dataclasses.replace(state, unreadable=True)
    if char == "/" or (char == "-" and note is None) or (char in "><" and note is None and state.broken != char):
        return dataclasses.replace(state, unreadable=True)  # a length, tie or broken rhythm with no note before it
    state = dataclasses.replace(state, previous=char, line_start=line_start)
    if state.broken and char not in NOTE_LETTERS + RESTS + ACCIDENTALS + "[(><":  # A> is followed by its note
        return dataclasses.replace(state, unreadable=True)
    if char in NOTE_LETTERS or char in RESTS:
        return _start_note(_finish_note(state), _unit(state))
    if char in "><":
        return _broken_rhythm(state, char)
    state = _finish_note(state)
    if char == "-":  # a tie: music21 ignores broken rhythm after it
        return dataclasses.replace(state, last=Fraction(0))
    if char == "|":
        return (
            _mark_boundary(_close_bar(state)) if previous in "|:" else _close_bar(state)
        )  # || and :| (its | closes nothing)
    if char == ":":
        return _mark_boundary(state) if previous in "|:" else _close_bar(state, repeat=True)  # |: and ::, or :|
    if char in "12" and previous in "|:":  # |1 :|2: an ending starts
        return _mark_boundary(state)
    if char == "[":
        return dataclasses.replace(state, bracket=True)
    if char == "]" and previous == "|" and not state.chord:  # |]
        return _mark_boundary(state)
    if char == "]":
        if state.chord:
            length = state.chord_length if state.chord_length is not None else _unit(state)
            state = dataclasses.replace(state, chord=False, chord_length=None)
            unit = _unit(state)
            started = _start_note(state, unit)  # the chord counts as one note for tuplets and broken rhythm
            return dataclasses.replace(started, note=Note(started.note.base / unit * length))
        return state
    if char == "(":
        return dataclasses.replace(state, tuplet_spec="")
    if char in '"!{':
        return dataclasses.replace(state, skipping="}" if char == "{" else char)
    return state


def _start_tuplet(state: BarState) -> BarState:
    """The text after "(" is complete: "(3" or "(3:2" or "(3:2:3" starts a tuplet, a bare "(" is a slur (no time)."""
    spec, state = state.tuplet_spec, dataclasses.replace(state, tuplet_spec=None)
    parts = [int(p) if p else None for p in spec.split(":")] if spec else []
    if not parts or not parts[0]:
        return state
    notes, in_time_of, count = (parts + [None, None])[:3]
    ratio = tuplet_ratio(notes, in_time_of, state.compound)
    return dataclasses.replace(state, tuplet_left=count or notes, tuplet_factor=ratio)


def read(text: str, state: BarState = START) -> BarState:
    """The state after reading ``text`` from ``state``."""
    for char in text:
        state = advance(state, char)
    return state


def bar_lengths(tune: str) -> list[tuple[Fraction, Fraction | None]]:
    """The bars of a tune with notes in them, each as (its length, a full bar's length), in whole notes.

    A bar the tune's end closes (no bar line after it) is included.
    """
    bars, state = [], START
    for char in tune:
        meter = state.bar
        state = advance(state, char)
        if state.closed is not None:
            bars.append((state.closed, meter))
    state = _finish_note(state)
    if state.has_notes:
        bars.append((state.filled, state.bar))
    return bars


def bar_positions(tune: str) -> np.ndarray:
    """How full the current bar is after each character of ``tune``, as a fraction of a full bar: 0 after a bar line,
    1 when the bar is full (a note still being written counts at its least); NaN where nothing is counted (the header,
    a tune without a meter). One number per character, for lining up with what a model computes at each step.
    """
    positions, state = np.full(len(tune), np.nan), START
    for i, char in enumerate(tune):
        state = advance(state, char)
        if state.bar:
            positions[i] = float(state.least_filled / state.bar)
    return positions


class BarConstraint:
    """For a batch of texts being generated: what the bar would hold after each character of the vocabulary.

    Args:
        chars: the vocabulary's characters in id order (``vocab.chars``).

    Call :meth:`reset` with the start text and the batch size, then :meth:`advance` with each step's drawn ids. Both
    return ``(fill, closes)``, two arrays of shape ``(batch, vocab)``:

    * ``fill[b, v]``: what the current bar of text ``b`` would hold after character ``v``, as a fraction of a full bar
      (1.0 is exactly full; a note still being written counts at the least it can become); if ``v`` would close a
      bar, the length of the bar it closes; ``inf`` if after ``v`` the bar could never end full (``v`` is not music
      there, would start a chord or a decoration, or would leave less room than the shortest note). ``0.0`` where
      nothing is counted (the header, a tune without a meter).
    * ``closes[b, v]``: whether character ``v`` would close a bar that must be full (a bar line, or the ``:`` of
      ``:|``): a bar with notes, other than those ``music.check_rhythm`` allows to be short and the reader can tell at
      that character: the tune's first (a pickup), a bar that starts a section (after ``|:``, ``||``, ``|]``, ``:|``
      or an ending) and a bar a repeat sign (``:|``, ``::``) closes.

    A short bar may also end a section with a double bar (``||``, ``|]``) or before a repeat (``|:``), as about 40% of
    O'Neill's tunes end. Its ``|`` cannot tell yet which follows, so a ``|`` that closes a short bar does not count as
    closing one that must be full (``closes`` is False), and the row after it allows only :data:`SECTION_ENDS`.

    At a dead end (rare: a tuplet or broken rhythm left less room than any note), no character could complete the bar;
    the rows then allow only the characters that close it, and :attr:`dead_ends` counts such steps.
    """

    SECTION_ENDS = "|]:"  # what may follow a | that closed a short bar: ||, |] or |: make it a section's end

    def __init__(self, chars: Sequence[str]):
        self.chars = list(chars)
        self.states: list[BarState] = []
        self._section_ends = np.array([char in self.SECTION_ENDS for char in self.chars])
        self.dead_ends = 0  # steps where no character could complete the bar, so the bar was closed
        self._rows: dict[BarState, tuple[np.ndarray, np.ndarray]] = {}

    def _row(self, state: BarState) -> tuple[np.ndarray, np.ndarray]:
        row = self._rows.get(state)
        if row is None:
            row = self._rows[state] = self._judge_each_character(state)
        if not ((row[0] <= 1) & (~row[1] | (row[0] == 1))).any():
            # Rare (a tuplet or broken rhythm left less room than any note): the bar cannot end full, so it ends
            # now: only the characters that close it are allowed.
            self.dead_ends += 1
            if row[1].any():
                return np.where(row[1], 1.0, np.inf).astype(np.float32), row[1]
            return np.zeros_like(row[0]), row[1]  # nothing closes it (the first bar): this step is left free
        return row

    def _judge_each_character(self, state: BarState) -> tuple[np.ndarray, np.ndarray]:
        """(fill, closes) for every character of the vocabulary after ``state``."""
        fill = np.zeros(len(self.chars), np.float32)
        closes = np.zeros(len(self.chars), bool)
        bar = state.bar
        for i, char in enumerate(self.chars):
            after = advance(state, char)
            if after.closed is not None and bar:
                fill[i], closes[i] = float(after.closed / bar), after.must_be_full and not self._closed_short(after)
            elif not after.completable:
                fill[i] = np.inf
            elif after.bar:
                fill[i] = float(after.least_filled / after.bar)
        if self._closed_short(state):  # only what makes its | a section's end may follow
            fill[~self._section_ends] = np.inf
        return fill, closes

    @staticmethod
    def _closed_short(state: BarState) -> bool:
        """Whether the last character read was a plain ``|`` that closed a short bar that had to be full (``[|``
        already ends a section)."""
        return (
            state.must_be_full
            and state.previous == "|"
            and not state.boundary
            and state.bar is not None
            and state.closed < state.bar
        )

    def _rows_now(self) -> tuple[np.ndarray, np.ndarray]:
        rows = [self._row(state) for state in self.states]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def reset(self, start: str, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Every text of the batch starts with ``start``; returns ``(fill, closes)`` for the first character drawn."""
        self.states = [read(start)] * int(batch)
        return self._rows_now()

    def current(self, batch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(fill, closes)`` for the next character, as the last :meth:`reset` or :meth:`advance` returned."""
        return self._rows_now()

    def advance(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reads one drawn id per text; returns ``(fill, closes)`` for the next character."""
        self.states = [self._read(state, self.chars[int(i)]) for state, i in zip(self.states, np.ravel(ids))]
        return self._rows_now()

    @staticmethod
    def _read(state: BarState, char: str) -> BarState:
        """The state after ``char``; a character the reader cannot read (drawn at a dead end) is passed over."""
        after = advance(state, char)
        return state if after.unreadable and not state.unreadable else after
