"""Folk tunes in ABC notation: the corpus, its normalisation and split, and whether a tune is well-formed ABC.

The tunes come from the ABC collections that ship inside the music21 package (no download).
Every tune is normalised the same way, so a model learns one consistent format:

* a tune starts at an ``X:`` line and is renumbered ``X:1`` (the number is only an index);
* header fields kept, in this order: ``X:``, ``T:`` (first title only, when ``titles=True``), ``M:`` (meter),
  ``L:`` (unit note length), ``K:`` (key, always last); every other field (book ``B:``, notes ``N:``,
  transcriber ``Z:``, rhythm ``R:``, source ``S:``, ...) is dropped, and so are lyrics (``w:``/``W:``);
* in the body, comments (``%`` to the end of the line) are dropped, and so is everything that does not change
  which notes sound or for how long: quoted text (annotations, fingerings, chord symbols), grace notes ``{...}``,
  slurs ``( )`` (not triplets ``(3``), staccato dots, and the decoration symbols ``~ H L M O P R S T u v`` and
  ``!...!``; inline ``K:``/``M:``/``L:`` changes (lines or ``[K:...]``) are kept;
* whitespace: spaces after a field's colon removed, runs of spaces collapsed to one, blank lines dropped,
  every line stripped;
* tunes with no ``K:`` line or no notes are fragments and are dropped, and so are exact duplicates.
* by default every tune is then transposed to the key of its mode without sharps or flats (D major to
  C major, E minor to A minor, A dorian to D dorian): a melody is then written the same whatever key it was
  in, so the model learns it once instead of once per key. (folk-rnn, Sturm et al. 2016, had the same aim but
  moved every tune to the root C, keeping its mode: C major, C minor, C dorian.) Tunes whose key
  changes midway, or is not a plain key (``K:none``, bagpipe keys), stay as written.

music21 is imported only inside the functions that parse, so ``import course_utils.music`` is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from music21 import stream

COLLECTIONS = ("oneills1850", "essenFolksong", "ryansMammoth")  # music21 corpus folders with ABC tunes
DEFAULT_COLLECTION = "oneills1850"  # O'Neill's Music of Ireland (1903), "the 1850" for its 1,850 melodies
TUNE_SEPARATOR = "\n\n"  # tunes are joined, and generated tunes end, with a blank line
NOTE_LETTERS = re.compile(r"[A-Ga-g]")
FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")
BODY_FIELDS_KEPT = ("K", "M", "L")  # inline changes of key, meter and unit length are music


def corpus_files(collection: str = DEFAULT_COLLECTION) -> list[Path]:
    """The ABC files of one music21 corpus collection, sorted by name."""
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}: choose one of {', '.join(COLLECTIONS)}")
    from music21 import corpus

    files = sorted(Path(p) for p in corpus.getPaths(fileExtensions=("abc",)) if Path(p).parent.name == collection)
    if not files:
        raise FileNotFoundError(f"music21's corpus has no ABC files in {collection}/: is music21 installed in full?")
    return files


def split_abc_file(text: str) -> list[str]:
    """The raw tunes of an ABC file: one string per ``X:`` header, file header and blank lines outside."""
    starts = [m.start() for m in re.finditer(r"^X:", text, flags=re.MULTILINE)]
    return [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]


INLINE_FIELD = re.compile(r"(\[[A-Za-z]:[^\]]*\])")  # [K:D], [M:3/4] inside a line of notes
DECORATIONS = [
    re.compile(r'"[^"]*"'),  # annotations, fingerings and chord symbols
    re.compile(r"![^!]*!|\+[^+\s]*\+"),  # !trill! and +trill+ decorations
    re.compile(r"\{[^}]*\}"),  # grace notes
    re.compile(r"\((?!\d)|\)"),  # slurs; "(3" starts a triplet and stays
    re.compile(
        r"[.~HIJLMOPRSTUVWYuv]"
    ),  # staccato dots, rolls, trills, fermatas, bowings and other one-symbol decorations
]


def _clean_body_line(line):
    line = line.split("%", 1)[0]  # comment
    parts = INLINE_FIELD.split(line)
    for i in range(0, len(parts), 2):  # even parts are music, odd ones inline fields
        for decoration in DECORATIONS:
            parts[i] = decoration.sub("", parts[i])
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def normalise_tune(raw: str, titles: bool = False) -> str | None:
    """One raw tune (from ``X:`` to the next) in the documented normal form, or ``None`` for a fragment.

    Returns ``None`` when the tune has no ``K:`` line or no notes after it.
    """
    header = {}
    body = []
    for line in raw.splitlines():
        field = FIELD.match(line.strip())
        if "K" not in header:  # still in the header
            if field:
                name, value = field.group(1), _clean_header_value(field.group(2))
                if name in ("T", "M", "L", "K") and name not in header:
                    header[name] = value
            continue
        if field and field.group(1) not in BODY_FIELDS_KEPT:
            continue  # lyrics, parts, notes and other fields inside the body
        line = f"{field.group(1)}:{_clean_header_value(field.group(2))}" if field else _clean_body_line(line)
        if line:
            body.append(line)
    if "K" not in header or not NOTE_LETTERS.search("".join(line for line in body if not FIELD.match(line))):
        return None
    lines = ["X:1"]
    if titles and header.get("T"):
        lines.append(f"T:{header['T']}")
    lines += [f"{name}:{header[name]}" for name in ("M", "L") if header.get(name)]
    lines.append(f"K:{header['K']}")
    return "\n".join(lines + body)


def _clean_header_value(value):
    return re.sub(r"\s+", " ", value.split("%", 1)[0]).strip()


# Transposing to a key signature without sharps or flats (written by hand: music21 reads ABC but cannot write it).
LETTERS = "CDEFGAB"
MAJOR_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}  # sharps (+) or flats (-) of each major key
MODE_FIFTHS = {
    "": 0,
    "maj": 0,
    "ion": 0,
    "mix": -1,
    "dor": -2,
    "m": -3,
    "min": -3,
    "aeo": -3,
    "phr": -4,
    "loc": -5,
    "lyd": 1,
}
KEY = re.compile(r"^([A-G])([#b]?)\s*([A-Za-z]*)$")
NOTE = re.compile(r"(\^\^|__|\^|_|=)?([A-Ga-g])([,']*)")
ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}


def key_signature(key: str) -> int | None:
    """The sharps (> 0) or flats (< 0) of an ABC key such as ``G``, ``F#m``, ``Ador``; ``None`` if not a plain key."""
    match = KEY.match(key.strip())
    if not match:
        return None
    mode = match.group(3).lower()
    mode = mode if mode in MODE_FIFTHS else mode[:3]  # "Dmixolydian" -> "mix"
    if mode not in MODE_FIFTHS:
        return None
    return MAJOR_FIFTHS[match.group(1)] + 7 * {"#": 1, "b": -1, "": 0}[match.group(2)] + MODE_FIFTHS[mode]


def _signature_alterations(fifths):
    """The alteration (+1 sharp, -1 flat, 0) the key signature gives each letter C..B."""
    sharps, flats = "FCGDAEB", "BEADGCF"
    return {
        letter: (1 if letter in sharps[: max(fifths, 0)] else -1 if letter in flats[: max(-fifths, 0)] else 0)
        for letter in LETTERS
    }


def _transpose_note(match, steps, signature):
    accidental, letter, marks = match.groups()
    position = LETTERS.index(letter.upper()) + 7 * (
        (4 if letter.isupper() else 5) + marks.count("'") - marks.count(",")
    )
    position += steps
    octave, new_letter = divmod(position, 7)
    new_letter = LETTERS[new_letter]
    text = new_letter if octave <= 4 else new_letter.lower()
    text += "," * max(0, 4 - octave) + "'" * max(0, octave - 5)
    if accidental is None:
        return text  # follows the key signature, in the old key and in the new one
    relative = ACCIDENTALS[accidental] - signature[letter.upper()]  # how far from what the key signature says
    if not -2 <= relative <= 2:
        return match.group(0)  # a triple sharp or flat cannot be written in ABC (never seen in the corpus)
    return {v: k for k, v in ACCIDENTALS.items()}[relative] + text


def transpose_to_plain_key(tune: str) -> str:
    """The tune moved to the key of the same mode whose signature has no sharps or flats (D major to C major,
    E minor to A minor, A dorian to D dorian), every note by the same interval; unchanged when its key is not a
    plain key (``K:none``, bagpipe keys) or changes in the middle.
    """
    lines = tune.splitlines()
    key_lines = [i for i, line in enumerate(lines) if line.startswith("K:")]
    if len(key_lines) != 1 or "[K:" in tune:
        return tune
    fifths = key_signature(lines[key_lines[0]][2:])
    if fifths is None or not -7 <= fifths <= 7:
        return tune
    major_tonic = LETTERS.index("CGDAEBF"[fifths % 7] if fifths >= 0 else "CFBEADG"[-fifths % 7])
    steps = (-major_tonic) % 7
    steps = steps - 7 if steps > 3 else steps  # move by at most a fourth
    signature = _signature_alterations(fifths)
    match = KEY.match(lines[key_lines[0]][2:].strip())
    new_tonic = LETTERS[(LETTERS.index(match.group(1)) + steps) % 7]
    out = lines[: key_lines[0]] + [f"K:{new_tonic}{match.group(3)}"]
    for line in lines[key_lines[0] + 1 :]:
        out.append(line if FIELD.match(line) else NOTE.sub(lambda m: _transpose_note(m, steps, signature), line))
    return "\n".join(out)


def load_tunes(
    collection: str = DEFAULT_COLLECTION, titles: bool = False, transpose: bool = True
) -> tuple[list[str], dict[str, int]]:
    """The normalised tunes of a music21 corpus collection, duplicates and fragments removed.

    With ``transpose=True`` every tune is also moved to a key without sharps or flats (see
    :func:`transpose_to_plain_key`), so that a melody is written the same whatever key it was in.

    Returns:
        (tunes, stats): a list of tune strings in corpus order, and a dict with the counts
        ``raw``, ``fragments``, ``duplicates`` and ``kept``.
    """
    raw = [
        tune
        for path in corpus_files(collection)
        for tune in split_abc_file(path.read_text(encoding="utf-8", errors="replace"))
    ]
    tunes, seen, fragments = [], set(), 0
    for text in raw:
        tune = normalise_tune(text, titles=titles)
        if tune is not None and transpose:
            tune = transpose_to_plain_key(tune)
        if tune is None:
            fragments += 1
        elif tune not in seen:
            seen.add(tune)
            tunes.append(tune)
    stats = {
        "raw": len(raw),
        "fragments": fragments,
        "duplicates": len(raw) - fragments - len(tunes),
        "kept": len(tunes),
    }
    return tunes, stats


def split_tunes(tunes: Sequence[str], validation_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Splits tunes (not characters) into (train, validation) with a fixed seed; order within each kept."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction should lie strictly between 0 and 1, got {validation_fraction}")
    order = np.random.default_rng(seed).permutation(len(tunes))
    num_validation = max(1, round(validation_fraction * len(tunes)))
    validation = set(order[:num_validation].tolist())
    train = [t for i, t in enumerate(tunes) if i not in validation]
    return train, [t for i, t in enumerate(tunes) if i in validation]


def join_tunes(tunes: Iterable[str]) -> str:
    """One training text: the tunes, each followed by a blank line."""
    return "".join(tune + TUNE_SEPARATOR for tune in tunes)


@dataclass
class Extracted:
    """A tune cut out of generated text; ``finished`` is False when the text stopped inside it."""

    text: str
    finished: bool


def extract_tunes(text: str) -> list[Extracted]:
    """Cuts generated text into tunes: each starts at an ``X:`` line and ends at a blank line or the next ``X:``.

    Text before the first ``X:`` is ignored. The last tune is ``finished=False`` when the text ends
    before its blank line (the generator ran out of characters inside it).
    """
    starts = [m.start() for m in re.finditer(r"^X:", text, flags=re.MULTILINE)]
    tunes = []
    for start, next_start in zip(starts, starts[1:] + [None]):
        chunk = text[start:next_start]
        end = chunk.find(TUNE_SEPARATOR)
        if end >= 0:
            tunes.append(Extracted(chunk[:end], True))
        else:
            tunes.append(Extracted(chunk.rstrip("\n"), next_start is not None))
    return tunes


@dataclass
class Verdict:
    """Whether a tune is well-formed ABC that music21 reads into notes (rhythm is not checked), why not, and what music21 made of it."""

    valid: bool
    reason: str  # "" when valid
    num_notes: int = 0
    score: stream.Stream | None = None  # the music21 stream when parsing succeeded


def check_tune(tune: str) -> Verdict:
    """Judges one ABC tune: valid when it has a ``K:`` and a meter or unit-length line, music21
    parses it without error, and the result has at least one note.

    Returns a :class:`Verdict`; its ``reason`` says what is wrong, e.g. ``"no notes"`` or
    ``"music21 could not parse it: ZeroDivisionError ..."``.
    """
    if not isinstance(tune, str) or not tune.strip():
        return Verdict(False, "empty tune")
    fields = {m.group(1) for m in (FIELD.match(line) for line in tune.splitlines()) if m}
    if "K" not in fields:
        return Verdict(False, "no key (K:) line")
    if not fields & {"M", "L"}:
        return Verdict(False, "no meter (M:) or unit note length (L:) line")
    from music21 import converter

    try:
        score = converter.parse(tune, format="abc")
    except Exception as error:  # music21 raises many kinds on bad ABC; all of them mean "not valid"
        message = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        return Verdict(False, f"music21 could not parse it: {type(error).__name__} {message}".strip())
    num_notes = len(score.recurse().notes)
    if num_notes == 0:
        return Verdict(False, "no notes", 0, score)
    if not score.highestTime > 0:
        return Verdict(False, "zero duration", num_notes, score)
    return Verdict(True, "", num_notes, score)


@dataclass
class RhythmVerdict:
    """Whether every full bar of a tune lasts what its meter says, and if not, the first bar that does not."""

    ok: bool
    reason: str  # "" when ok
    bars: int = 0  # bars with notes or rests that were checked
    wrong_bars: int = 0


# Barlines that end a section (music21's names for ABC's || |] [| and the repeats :| |: ::); a plain | is a bar
# line and music21 stores nothing for it.
SECTION_BARLINES = ("double", "final", "heavy-light", "light-heavy", "heavy", "heavy-heavy")
METER_FIELD = re.compile(r"^M:(.*)$|\[M:([^\]]*)\]", flags=re.MULTILINE)


def _written_meters(tune):
    """The meters the tune's ``M:`` fields write, as music21 names them ("6/8"; ``M:C`` is "4/4")."""
    meters = {_meter(match.group(1) or match.group(2)) for match in METER_FIELD.finditer(tune)}
    return meters - {None}


def _meter(value):
    """The meter an ``M:`` field's value writes, as music21 names it ("6/8"; "C" is "4/4"), or None if it writes none."""
    from music21 import abcFormat

    field = abcFormat.ABCMetadata("M:" + (value or "").strip())
    try:
        field.preParse()
        meter = field.getTimeSignatureObject()
    except Exception:  # a malformed meter ([M:6/0], [M:]): music21 ignores it when parsing too
        return None
    return meter.ratioString if meter is not None else None


def _meter_parts(tune):
    """The tune cut where its body changes meter: each part a tune of its own, with the header in the part's meter.

    music21 (as of 10.5) drops a meter change inside the tune body (an ``M:`` line, or a ``[M:6/8]`` that starts a line)
    and goes on counting bars in the old meter, so each part is parsed on its own. Every part keeps the unit length in
    force where it starts: the last ``L:`` line before it, or without one the unit length the first meter implies (ABC
    reads it from the header's meter only).
    """
    from fractions import Fraction

    from music21 import abcFormat

    lines = tune.splitlines()
    key_line = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if key_line is None:
        return [tune]
    header, key = lines[:key_line], lines[key_line]
    meter_line = next((line for line in header if line.startswith("M:")), "M:")
    unit_line = next((line for line in header if line.startswith("L:")), None)
    meter = _meter(meter_line[2:])
    if unit_line is None and meter is not None:
        field = abcFormat.ABCMetadata(meter_line)
        field.preParse()
        unit_line = f"L:{Fraction(field.getDefaultQuarterLength()).limit_denominator() / 4}"
    fields = [line for line in header if not line.startswith(("M:", "L:"))]
    parts = [([*header, key], [])]  # (header, body); the first part is the tune's own start
    for line in lines[key_line + 1 :]:
        change = METER_FIELD.match(line)  # at the line's start: a meter line, or a [M:...] that starts the line
        new_meter = change and _meter(change.group(1) or change.group(2))
        if not new_meter or new_meter == meter:  # no change (a malformed meter too: music21 ignores it)
            parts[-1][1].append(line)
            unit_line = line if line.startswith("L:") else unit_line
            continue
        meter = new_meter
        parts.append(
            (
                [*fields, f"M:{meter}", *[unit_line] * (unit_line is not None), key],
                [line[change.end() :]] if change.group(2) is not None else [],
            )
        )
    if len(parts) == 1:
        return [tune]
    return ["\n".join([*head, *body]) for head, body in parts if NOTE_LETTERS.search(" ".join(body))]


def _note_names(measure):
    return " ".join(n.name if n.isNote else "chord" if n.isChord else "rest" for n in measure.notesAndRests)


def _bars(tune, score):
    """Each bar as a dict: its length and a full bar's (quarter notes), whether a section starts or ends there, notes.

    music21 splits a bar longer than its meter in two and gives the second part a meter of its own that the tune
    never wrote (``reBar``); such parts are joined back to the bar they were cut from.
    """
    from fractions import Fraction

    from music21 import bar, spanner, stream

    part = score.parts[0] if getattr(score, "parts", None) else score
    written = _written_meters(tune)
    endings = {
        id(m): bracket
        for bracket in score.recurse().getElementsByClass(spanner.RepeatBracket)
        for m in bracket.getSpannedElements()
    }

    def ends_section(barline):
        return isinstance(barline, bar.Repeat) or (barline is not None and barline.type in SECTION_BARLINES)

    bars, meter, boundary = [], None, True
    for measure in part.getElementsByClass(stream.Measure):
        length = Fraction(measure.duration.quarterLength)
        signature = measure.timeSignature
        if signature is not None and signature.ratioString not in written and bars:
            bars[-1]["length"] += length  # the rest of a bar music21 cut at the meter's length
            bars[-1]["notes"] += " " + _note_names(measure)
            boundary = ends_section(measure.rightBarline)
            continue
        changed_meter = signature is not None and meter is not None and signature.ratioString != meter.ratioString
        meter = signature or meter
        if length == 0:  # an empty bar, as in "|| ||": a boundary, nothing to check
            boundary = True
            continue
        starts = (
            boundary
            or ends_section(measure.leftBarline)
            or changed_meter
            or bool(bars and endings.get(id(measure)) is not bars[-1]["ending"])
        )
        if bars and starts:
            bars[-1]["ends"] = True
        bars.append(
            {
                "length": length,
                "meter": meter,
                "starts": starts,
                "ends": False,
                "notes": _note_names(measure),
                "ending": endings.get(id(measure)),
            }
        )
        boundary = ends_section(measure.rightBarline)
    if bars:
        bars[-1]["ends"] = True
    return bars


def check_rhythm(tune: str, score: stream.Stream | None = None) -> RhythmVerdict:
    """Judges the rhythm of one ABC tune: every full bar lasts exactly what the meter (``M:``) says.

    A naive check, every bar as long as the meter, fails most tunes of the corpus, because folk tunes are written with
    pickups (an upbeat before the first bar line), a short closing bar that makes up the pickup, and the same before
    and after repeat signs, double bars and first and second endings. So a bar may be **shorter** than the meter where
    a section starts or ends (the tune's start and end, a repeat sign ``|:`` ``:|`` ``::``, a double bar ``||`` ``|]``
    ``[|``, a first or second ending ``|1`` ``:|2``, a change of meter), and so may two neighbouring bars that together
    make one full bar (a pickup written as a bar of its own; once: a run of such pairs is a tune barred in halves).
    No bar may be longer than the meter.

    What it cannot see: a bar exactly two (or more) bars long, a bar line missing between two full bars, since music21
    cuts it into full bars before the check sees it; and a tune with fewer than two bar lines, which music21 leaves
    without bars.

    Args:
        tune: an ABC tune (text).
        score: the music21 stream :func:`check_tune` made of it (``Verdict.score``), to save parsing it again.

    Returns:
        A :class:`RhythmVerdict`; its ``reason`` names the first wrong bar, e.g.
        ``"bar 3 (F E D C) lasts 5/6 of a bar of 6/8, inside a section"``, or says why nothing could be checked.
    """
    from fractions import Fraction

    if not isinstance(tune, str):
        raise TypeError(f"tune should be ABC text, got {type(tune).__name__}")
    if score is None:
        verdict = check_tune(tune)
        if not verdict.valid:
            return RhythmVerdict(False, f"not valid music: {verdict.reason}")
        score = verdict.score
    try:
        parts = _meter_parts(tune)
        if parts == [tune]:
            bars = _bars(tune, score)
        else:
            from music21 import converter

            bars = [bar for part in parts for bar in _bars(part, converter.parse(part, format="abc"))]
    except Exception as error:  # music21 builds odd streams from odd ABC; say so rather than crash
        return RhythmVerdict(False, f"could not check the bars: {type(error).__name__} {str(error)[:80]}".strip())
    if not bars:
        return RhythmVerdict(False, "fewer than two bar lines: music21 made no bars to check")
    if bars[0]["meter"] is None:
        return RhythmVerdict(False, "no meter (M: with a number) to check the bars against")
    fulls = [Fraction(this["meter"].barDuration.quarterLength) for this in bars]
    # Two neighbouring short bars that make one full bar (a pickup written as a bar of its own) are paired from the
    # left, each bar at most once; a pair next to another pair is no pickup but a tune barred in halves, and counts wrong.
    pairs = []
    for i in range(len(bars) - 1):
        if (
            (not pairs or pairs[-1] < i - 1)
            and bars[i]["length"] < fulls[i]
            and bars[i + 1]["length"] < fulls[i + 1]
            and bars[i]["length"] + bars[i + 1]["length"] == fulls[i]
        ):
            pairs.append(i)
    paired = {j for i in pairs if i - 2 not in pairs and i + 2 not in pairs for j in (i, i + 1)}
    wrong = []
    for number, (this, full) in enumerate(zip(bars, fulls), start=1):
        if this["length"] == full:
            continue
        where = f"bar {number} ({this['notes']}) lasts {this['length'] / full} of a bar of {this['meter'].ratioString}"
        if this["length"] > full:
            wrong.append(where + ": longer than the meter")
        elif not (this["starts"] or this["ends"] or number - 1 in paired):
            wrong.append(where + ", inside a section")
    reason = (
        wrong[0] + (f"; {len(wrong) - 1} more wrong bar{'s' * (len(wrong) > 2)}" if len(wrong) > 1 else "")
        if wrong
        else ""
    )
    return RhythmVerdict(not wrong, reason, len(bars), len(wrong))


def describe(tune: str, width: int = 60) -> str:
    """The first line after the header, shortened: how messages name a tune."""
    body = [line for line in tune.splitlines() if not FIELD.match(line)]
    first = body[0] if body else tune.splitlines()[0] if tune else ""
    return repr(first[:width] + ("..." if len(first) > width else ""))


def judge_first_tunes(texts: Iterable[str], length: int | None = None) -> list[tuple[str, Verdict]]:
    """The first tune of each generated text and its :class:`Verdict`: the tune composed from a fresh state.

    A text with no ``X:`` line, or whose first tune is unfinished, counts as invalid with that reason;
    ``length`` (the number of generated characters) only makes the unfinished message more precise.
    Returns a list of ``(tune_text, verdict)``.
    """
    results = []
    for text in texts:
        tunes = extract_tunes(text)
        if not tunes:
            results.append(("", Verdict(False, "no tune: the text has no X: line")))
        elif not tunes[0].finished:
            within = f" within {length} characters" if length else ""
            results.append((tunes[0].text, Verdict(False, f"unfinished{within}")))
        else:
            results.append((tunes[0].text, check_tune(tunes[0].text)))
    return results
