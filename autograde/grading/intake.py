"""Turns a folder of downloaded submissions into one row per file, each with a student id.

Students' files arrive as they left them: ``lab1 (2).ipynb``, ``Copy of lab1.ipynb``,
``s1234_lab1.ipynb``, a ``.zip``, a ``.py`` export, an empty or truncated file.
Every file becomes a :class:`Submission` with a status; only readable notebooks go on to
grading, and the others keep their row with a reason that says what to do. A notebook that
breaks the nbformat schema (a cell without ``source``, a code cell without ``outputs``, a
duplicate cell id...) is repaired where that is safe, and its row says what was repaired.
An unexpected error while reading one file becomes that file's row (status "grader error", the error in its
notes): it never stops the others.

A ``.zip`` is its owner's: everything in it counts for the student its own name identifies, never
for a student a member's name identifies (``class_zip=True``, ``course grade --class-zip``, reads a
zip as the LMS's download of the whole class instead: members' names say whose they are). Archives
are read within :data:`ARCHIVE_LIMITS`, from the zip's own directory, without unpacking them to disk.
File names are shown with control and invisible characters escaped (:func:`shown`).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
import time
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zlib import error as zlib_error

import nbformat
from nbformat.v4.nbbase import random_cell_id
from nbformat.v4.nbjson import JSONReader

from autograde.grading.rows import SUPERSEDED_BY, Status

# Default: the student id is the file name up to the first space, underscore or dot, e.g.
# "s1234_lab1.ipynb" -> "s1234", "alice.lab1 (1).ipynb" -> "alice".
DEFAULT_ID_PATTERN = r"^(?P<student>[A-Za-z0-9-]+)"
COLAB_NAME_NOISE = re.compile(r"^(copy of\s+)+", re.IGNORECASE)


# What one archive may hold. Over these, the archive (or the member) gets a row saying so and is not read;
# the sizes are those the zip's directory declares, and no member is read past the size it declares.
@dataclass(frozen=True)
class ArchiveLimits:
    members: int = 200  # entries in one .zip (folders and __MACOSX files included)
    total_bytes: int = 200_000_000  # its members' sizes unpacked, together (200 MB)
    member_bytes: int = 50_000_000  # one member's size unpacked (50 MB)
    # A zip's directory is read into memory before any member: a directory larger than this per allowed member
    # (an honest entry is about 100 bytes) is refused as it is, whatever count the zip claims.
    directory_bytes_per_member: int = 2_048


ARCHIVE_LIMITS = ArchiveLimits()
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# Characters that would redraw a terminal, break a CSV line, reorder text or hide in it: control characters
# (ANSI escapes start with one), line and paragraph separators, format characters (bidi overrides, zero-width
# spaces and joiners, the byte order mark), surrogates (undecodable bytes in a file name), private-use and
# unassigned code points; and the invisible Hangul fillers.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
HIDDEN_CHARACTERS = {"\u115f", "\u1160", "\u3164", "\uffa0"}
CELL_FIELDS = {
    "code": {"id", "cell_type", "metadata", "source", "outputs", "execution_count"},
    "markdown": {"id", "cell_type", "metadata", "source", "attachments"},
    "raw": {"id", "cell_type", "metadata", "source", "attachments"},
}
NOTEBOOK_FIELDS = {"nbformat", "nbformat_minor", "metadata", "cells"}
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# What a repair note says, as (noun, the rest): "2 cells without source".
NO_SOURCE = ("cell", "without source")
SOURCE_NOT_TEXT = ("cell", "whose source was not text")
NO_METADATA = ("cell", "without metadata")
UNKNOWN_TYPE = ("cell", "of unknown type (kept as raw text, not run)")
NO_OUTPUTS = ("code cell", "without outputs")
BAD_OUTPUTS = ("code cell", "with malformed outputs (dropped)")
BAD_EXECUTION_COUNT = ("code cell", "without a valid execution_count")
EXTRA_FIELDS = ("cell", "with unexpected fields (removed)")
NOT_A_CELL = ("entry", "in the cell list that was not a cell (removed)")
NO_ID = ("cell", "without a valid id")
DUPLICATE_ID = ("duplicate cell id", "")
BAD_METADATA = ("metadata field", "that broke the schema (removed)")
NOTEBOOK_METADATA = ("notebook", "without metadata")
NOTEBOOK_EXTRA_FIELD = ("unexpected notebook field", "(removed)")


@dataclass
class Submission:
    file: str  # path relative to the submissions folder ("a.zip/b.ipynb" for zip members)
    student_id: str | None
    status: Status = Status.GRADABLE  # NOT_GRADED (reason says why), SUPERSEDED or GRADER_ERROR (the notes say why)
    modified: float = 0.0  # seconds since the epoch, to pick the newest of a student's files
    source: str = ""  # the zip it came from; "" for a loose file
    sha256: str = ""
    notebook: dict | None = field(default=None, repr=False)  # nbformat v4, when status is GRADABLE
    notes: list = field(default_factory=list)
    reason: str = ""  # why it is not graded and what to do, for a person: what the row's status column says

    def refuse(self, reason: str) -> Submission:
        """Marks the file as not graded, for ``reason``."""
        self.status, self.reason = Status.NOT_GRADED, reason
        return self


class StudentIds:
    """Finds a student's id from a file name, by regular expression or by a CSV mapping.

    ``class_zip``: whether a .zip is the LMS's download of the whole class (its members' names say
    whose each file is) rather than one student's upload (everything in it is the zip owner's).
    """

    def __init__(
        self, pattern: str = DEFAULT_ID_PATTERN, mapping_csv: str | Path | None = None, class_zip: bool = False
    ):
        self.class_zip = class_zip
        self.pattern = re.compile(pattern)
        if "student" not in self.pattern.groupindex:
            raise ValueError(f"the id pattern {pattern!r} needs a named group (?P<student>...)")
        self.mapping = {}
        if mapping_csv:
            with open(mapping_csv, newline="") as f:
                rows = list(csv.DictReader(f))
            if not rows or not {"file", "student_id"} <= set(rows[0]):
                raise ValueError(f"{mapping_csv} needs the columns file,student_id")
            self.mapping = {row["file"].strip(): row["student_id"].strip() for row in rows}

    def __call__(self, name):
        if self.mapping:
            return self.mapping.get(name) or self.mapping.get(Path(name).name)
        match = self.pattern.search(COLAB_NAME_NOISE.sub("", Path(name).name))
        return match.group("student") if match else None


def shown(text: str) -> str:
    """``text`` as a row, a note or the console may show it: control characters (ANSI escapes), line breaks,
    bidi overrides, zero-width and other invisible characters written as Python escapes (``\\x1b``,
    ``\\n``, ``\\u202e``); everything else, accented letters included, as it is."""
    if not text or (text.isascii() and text.isprintable()):
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii") if _hidden(ch) else ch for ch in text)


def _hidden(ch):
    return ch in HIDDEN_CHARACTERS or unicodedata.category(ch) in HIDDEN_CATEGORIES


def student_id(student_ids: Callable[[str], str | None], name: str) -> tuple[str | None, str | None]:
    """``(id, note)``: the student id ``student_ids`` finds in ``name``, and a note when there is one to make.
    An id holding control or invisible characters is rejected (None), never escaped: it could pass for another id."""
    found = student_ids(name)
    if found is not None and (not isinstance(found, str) or any(_hidden(ch) for ch in found)):
        return None, (
            f"the student id read from the name, {shown(str(found))}, has control or invisible characters: "
            "rejected (rename the file, or map it to an id with --ids)"
        )
    return found, None


def read_notebook(data: bytes, name: str) -> tuple[nbformat.NotebookNode | None, str, list[str]]:
    """Parses bytes as a notebook; returns (notebook, why it cannot be graded or "" when it can, notes)."""
    if not data.strip():
        return None, "empty file: the download may have failed; ask for the file again", []
    text = data.decode("utf-8", errors="replace")
    try:
        notebook, notes = _as_v4(json.loads(text), text)
    except Exception as error:  # json and nbformat raise several kinds for junk
        kind = "not a notebook (not JSON)" if data.lstrip()[:1] not in (b"{", b"[") else "not a readable notebook"
        return None, f"{kind}: {_first_line(error)}", []
    repairs = _repair_ids(notebook)
    error = _schema_error(notebook)
    if error:
        repairs += _repair(notebook)
        error = _schema_error(notebook)
    if error:
        return None, f"not a valid notebook: {error}; ask the student to download the .ipynb again", notes
    if repairs:
        notes.append(f"repaired: {_describe(repairs)}")
    notebook = JSONReader().to_notebook(notebook)  # as nbformat.reads: lines joined, transient fields dropped
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return None, "notebook without code cells", notes
    return notebook, "", notes


def _as_v4(raw, text):
    """The notebook as a v4 dict, older formats converted; returns (notebook, notes)."""
    if isinstance(raw, dict) and raw.get("nbformat") == 4:
        return raw, []
    original = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    version = original.get("nbformat")
    notes = [f"converted from notebook format {version} to 4"] if version and version < 4 else []
    return nbformat.convert(original, 4), notes


def _first_line(error, limit=120):
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:limit]


def _schema_error(notebook):
    """The first thing in ``notebook`` that breaks the nbformat schema, in a few words; None if valid."""
    if not isinstance(notebook.get("cells"), list):
        return "it has no list of cells"
    if not isinstance(notebook.get("nbformat_minor"), int):
        return "it has no valid nbformat_minor"
    try:
        with warnings.catch_warnings():  # nbformat warns about ids, which _repair_ids fixed already
            warnings.simplefilter("ignore")
            nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        where = "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in getattr(error, "absolute_path", [])
        ).lstrip(".")
        message = _first_line(getattr(error, "message", error), 100)
        return f"{where}: {message}" if where else message
    except Exception as error:  # the validator itself choked on it
        return f"the validator failed ({type(error).__name__}: {_first_line(error, 80)})"
    return None


def _repair_ids(notebook):
    """Gives cells without a valid id a new one; of duplicate ids, the last cell keeps it (the rebuild
    takes the last copy as the answer), whereas nbformat's own repair would rename the last."""
    cells = notebook.get("cells")
    minor = notebook.get("nbformat_minor")
    if not isinstance(cells, list) or not isinstance(minor, int) or minor < 5:
        return []
    cells = [cell for cell in cells if isinstance(cell, dict)]
    repairs, taken, kept = [], {cell.get("id") for cell in cells}, set()
    for cell in reversed(cells):
        if not (isinstance(cell.get("id"), str) and CELL_ID.match(cell["id"])):
            repairs.append(NO_ID)
        elif cell["id"] in kept:
            repairs.append(DUPLICATE_ID)
        else:
            kept.add(cell["id"])
            continue
        cell["id"] = _new_id(taken)
    return repairs


def _new_id(taken):
    while (new := random_cell_id()) in taken:
        pass
    taken.add(new)
    return new


def _repair(notebook):
    """Minimal repairs, in place, of a v4 notebook that breaks the schema; returns what was repaired."""
    repairs = []
    if not isinstance(notebook.get("metadata"), dict):
        notebook["metadata"] = {}
        repairs.append(NOTEBOOK_METADATA)
    for key in set(notebook) - NOTEBOOK_FIELDS:
        del notebook[key]
        repairs.append(NOTEBOOK_EXTRA_FIELD)
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return repairs
    notebook["cells"] = [cell for cell in cells if isinstance(cell, dict)]
    repairs += [NOT_A_CELL] * (len(cells) - len(notebook["cells"]))
    with_ids = isinstance(notebook.get("nbformat_minor"), int) and notebook["nbformat_minor"] >= 5
    for cell in notebook["cells"]:
        repairs += _repair_cell(cell, with_ids)
    return repairs + _strip_invalid_metadata(notebook)


def _repair_cell(cell, with_ids):
    repairs = []
    if cell.get("cell_type") not in CELL_FIELDS:
        cell["cell_type"] = "raw"
        repairs.append(UNKNOWN_TYPE)
    source = cell.get("source")
    if source is None:
        cell["source"] = ""
        repairs.append(NO_SOURCE)
    elif not isinstance(source, str) and not (
        isinstance(source, list) and all(isinstance(line, str) for line in source)
    ):
        cell["source"] = (
            "".join(str(line) for line in source if line is not None) if isinstance(source, list) else str(source)
        )
        repairs.append(SOURCE_NOT_TEXT)
    if not isinstance(cell.get("metadata"), dict):
        cell["metadata"] = {}
        repairs.append(NO_METADATA)
    if cell["cell_type"] == "code":
        repairs += _repair_code_cell(cell)
    allowed = CELL_FIELDS[cell["cell_type"]] if with_ids else CELL_FIELDS[cell["cell_type"]] - {"id"}
    unexpected = set(cell) - allowed
    for key in unexpected:
        del cell[key]
    return repairs + ([EXTRA_FIELDS] if unexpected else [])


def _repair_code_cell(cell):
    """Outputs are simply dropped when malformed: we never grade the student's outputs."""
    repairs = []
    if "outputs" not in cell:
        repairs.append(NO_OUTPUTS)
        cell["outputs"] = []
    elif not isinstance(cell["outputs"], list) or not all(_valid_output(output) for output in cell["outputs"]):
        repairs.append(BAD_OUTPUTS)
        cell["outputs"] = []
    count = cell.get("execution_count")
    if "execution_count" not in cell or not (count is None or (type(count) is int and count >= 0)):
        repairs.append(BAD_EXECUTION_COUNT)
        cell["execution_count"] = None
    return repairs


def _valid_output(output):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.validator.isvalid(output, ref="output", version=4, version_minor=4)


def _strip_invalid_metadata(notebook):
    """nbformat's own normalisation drops metadata keys that break the schema (a kernelspec without a name...)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            changes, normal = nbformat.validator.normalize(notebook, strip_invalid_metadata=True)
    except Exception:  # nbformat could not make sense of it; validation will say what is wrong
        return []
    notebook.update(normal)
    return [BAD_METADATA] * changes


def _describe(repairs):
    """ "2 cells without source, 1 duplicate cell id"."""
    return ", ".join(
        f"{n} {noun if n == 1 else noun + 's'} {rest}".strip() for (noun, rest), n in Counter(repairs).items()
    )


def _entry(name, data, modified, identify):
    """``identify(name)``: the ``(id, note)`` of the student whose file it is (see :func:`student_id`)."""
    found, note = identify(name)
    submission = Submission(file=name, student_id=found, modified=modified, sha256=hashlib.sha256(data).hexdigest())
    suffix = Path(name).suffix.lower()
    if suffix == ".py":
        submission.refuse("a Python file, not a notebook: submit the .ipynb (Colab: File > Download > Download .ipynb)")
    elif suffix not in (".ipynb", ".json"):
        submission.refuse(f"not a notebook ({suffix or 'no extension'}): submit the .ipynb")
    else:
        submission.notebook, refused, submission.notes = read_notebook(data, name)
        if refused:
            submission.refuse(refused)
    submission.notes[:0] = [note] if note else []
    return submission


def collect(
    folder: str | Path,
    student_ids: Callable[[str], str | None] | None = None,
    class_zip: bool | None = None,
    archive_limits: ArchiveLimits = ARCHIVE_LIMITS,
) -> list[Submission]:
    """One :class:`Submission` per file in ``folder`` (recursively) and per file inside each zip.

    ``class_zip``: read every .zip as the LMS's download of the whole class, each member for the student
    its own name identifies (default: as ``student_ids.class_zip`` says, else False: a zip and all it holds
    are the student's whom the zip's name identifies). ``archive_limits``: what one zip may hold.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submissions")
    student_ids = student_ids or StudentIds()
    class_zip = getattr(student_ids, "class_zip", False) if class_zip is None else class_zip
    by_name = _by_own_name(student_ids)
    submissions = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        name = path.relative_to(folder).as_posix()
        if path.suffix.lower() == ".zip":
            read = functools.partial(_unpack, path, name, student_ids, class_zip, archive_limits)
        else:
            read = functools.partial(_read_file, path, name, by_name)
        submissions.extend(_guarded(name, by_name, read))
    for submission in submissions:
        if submission.status == Status.GRADABLE and not submission.student_id:
            submission.refuse(
                "no student id in the zip's name (all its files count for the student it names): rename the "
                "zip or add it to the id mapping CSV (--ids); a download of the whole class: --class-zip"
                if submission.source and not class_zip
                else "no student id in the file name: add it to the id mapping CSV (--ids) or rename the file"
            )
    _flag_duplicates(submissions)
    for submission in submissions:  # names are shown escaped wherever they appear
        submission.file, submission.source, submission.reason = (
            shown(submission.file),
            shown(submission.source),
            shown(submission.reason),
        )
        submission.notes = [shown(note) for note in submission.notes]
    return submissions


def _by_own_name(student_ids):
    """``identify`` for files that are whoever their own name says: a loose file, a member of a class download."""
    return lambda name: student_id(student_ids, Path(name).name)


def _read_file(path, name, identify):
    """The submission a plain file holds, as a list (what :func:`_guarded` reads)."""
    return [_entry(name, path.read_bytes(), path.stat().st_mtime, identify)]


def _one_member(archive, info, member, identify, limits):
    """The submission one member of a zip holds, as a list (what :func:`_guarded` reads)."""
    return [_member(archive, info, member, identify, limits)]


def _guarded(name, identify, read):
    """``read()``'s submissions, or, when it fails, one row for ``name`` that says why: one bad file never stops the rest."""
    try:
        return read()
    except Exception as error:
        try:
            found, note = identify(name)
        except Exception:
            found, note = None, None
        problem = f"grader error while reading the file: {type(error).__name__}: {_first_line(error)}"
        return [
            Submission(
                file=name, student_id=found, status=Status.GRADER_ERROR, notes=[note, problem] if note else [problem]
            )
        ]


def _unpack(path, name, student_ids, class_zip=False, limits=ARCHIVE_LIMITS):
    """A zip's members as submissions, read from the zip's directory within ``limits`` (nothing is unpacked to disk).

    A student's zip (the default): every member is the zip owner's, the student the zip's own name identifies;
    a member named for someone else still counts only for the owner, and its row says so. Of several notebooks,
    the newest is graded and the others are flagged, as with any student's several files. ``class_zip``: the
    LMS's download of the whole class, each member the student's whom its own name identifies.
    """
    owner, owner_note = student_id(student_ids, name)
    identify = _by_own_name(student_ids) if class_zip else lambda member: (owner, owner_note)

    def archive_row(reason):
        return [Submission(file=name, student_id=owner, notes=[owner_note] if owner_note else []).refuse(reason)]

    too_large = _over_limits_on_disk(path, limits)
    if too_large:
        return archive_row(too_large)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            too_large = _over_limits(infos, limits)
            if too_large:
                return archive_row(too_large)
            members = [m for m in infos if not m.is_dir() and not Path(m.filename).name.startswith((".", "__MACOSX"))]
            if not members:
                return archive_row("empty zip archive")
            entries = []
            for m in members:
                member = f"{name}/{m.filename}"
                entry = _guarded(
                    member, identify, functools.partial(_one_member, archive, m, member, identify, limits)
                )[0]
                entry.source = name
                named = None if class_zip else student_id(student_ids, Path(m.filename).name)[0]
                if named and named != owner:  # the member's name never chooses a student: the zip's does
                    entry.notes.append(
                        f"named for another student ({named}), but inside {name}: it counts only for "
                        f"{owner or 'the student the zip names'}, whose zip it is "
                        "(a download of the whole class: --class-zip)"
                    )
                entries.append(entry)
    except zipfile.BadZipFile:
        return archive_row("a damaged .zip archive: ask for it again")
    return entries


def _over_limits_on_disk(path, limits):
    """Why the zip at ``path`` is not opened, judged from its size and its end record alone; None if it may be."""
    size = path.stat().st_size
    if size > limits.total_bytes:
        return f"archive is {_mb(size)}, more than the {_mb(limits.total_bytes)} allowed: {_UNPACK_IT}"
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # what ZipFile itself reads first (the count is not what it reads by)
    except Exception:  # unreadable here: ZipFile says what is wrong
        return None
    if end and end[zipfile._ECD_ENTRIES_TOTAL] > limits.members:
        return f"archive has {end[zipfile._ECD_ENTRIES_TOTAL]:,} members, more than the {limits.members:,} allowed: {_UNPACK_IT}"
    if end and end[zipfile._ECD_SIZE] > limits.members * limits.directory_bytes_per_member:
        return (
            f"archive's directory is {_mb(end[zipfile._ECD_SIZE])}, more than {limits.members:,} members need: "
            f"it may hide more members than it says: {_UNPACK_IT}"
        )
    return None


def _over_limits(infos, limits):
    """Why a zip with these members is not read, from the sizes its directory declares; None if it may be."""
    if len(infos) > limits.members:
        return f"archive has {len(infos):,} members, more than the {limits.members:,} allowed: {_UNPACK_IT}"
    total = sum(m.file_size for m in infos)
    if total > limits.total_bytes:
        return f"archive unpacks to {_mb(total)}, more than the {_mb(limits.total_bytes)} allowed: {_UNPACK_IT}"
    return None


_UNPACK_IT = (
    "not unpacked; ask the student for the .ipynb alone (an instructor's own download of the class: "
    "unpack it into the folder and grade that)"
)


def _member(archive, info, name, identify, limits):
    """One member of a zip as a submission; read no further than the size the zip declares for it."""
    found, note = identify(name)

    def refused(reason):
        return Submission(file=name, student_id=found, modified=_zip_time(info), notes=[note] if note else []).refuse(
            reason
        )

    if Path(info.filename).suffix.lower() == ".zip":
        return refused("a .zip inside the .zip: zips inside zips are not unpacked; ask for the .ipynb itself")
    if info.flag_bits & 0x1:
        return refused("encrypted inside the .zip: ask for it without a password")
    if info.compress_type not in READABLE_METHODS:
        return refused(
            f"compressed with zip method {info.compress_type}, which is not read (only stored and deflated "
            "files are): ask for a plain .zip or the .ipynb"
        )
    if info.file_size > limits.member_bytes:
        return refused(
            f"{_mb(info.file_size)} unpacked, more than the {_mb(limits.member_bytes)} allowed for one file "
            "in a zip: not read; ask for the .ipynb itself"
        )
    try:
        with archive.open(info) as f:
            data = f.read(info.file_size + 1)  # zipfile stops at the declared size too, then checks the CRC
    except (zipfile.BadZipFile, EOFError, zlib_error) as error:
        return refused(
            f"damaged or tampered inside the .zip (its size or checksum is not what the zip declares: "
            f"{_first_line(error, 80)}): not read; ask for the file again"
        )
    if len(data) != info.file_size:
        return refused(
            f"damaged or tampered inside the .zip (it holds {'more' if len(data) > info.file_size else 'less'} "
            f"than the {info.file_size:,} bytes the zip declares): not read; ask for the file again"
        )
    return _entry(name, data, _zip_time(info), identify)


def _mb(size):
    """A size in bytes as people read it: "512 bytes", "1.5 MB", "200 MB" (1 MB = 1,000,000 bytes)."""
    if size < 100_000:
        return f"{size:,} bytes"
    return f"{size / 1_000_000:,.1f}".removesuffix(".0") + " MB"


def _zip_time(member):
    """A member's date as seconds since the epoch (read as local time, as zipfile does); 0 if it is no date."""
    import datetime

    try:
        return datetime.datetime(*member.date_time).timestamp()
    except (ValueError, OverflowError):
        return 0.0


def _flag_duplicates(submissions):
    """Keeps the newest gradable file of each student; the others are flagged, not lost. A date inside
    a zip is whatever the zip's maker set: when a student's files come from several sources, the graded
    row's note names them all."""
    now = time.time()
    by_student = {}
    for submission in submissions:
        if submission.status == Status.GRADABLE:
            by_student.setdefault(submission.student_id, []).append(submission)
    for files in by_student.values():
        files.sort(key=lambda s: _recency(s, now))
        newest = files[-1]
        for older in files[:-1]:
            older.status, older.reason = Status.SUPERSEDED, f"{SUPERSEDED_BY} {newest.file}"
            newest.notes.append(f"also submitted {older.file} (older, not graded)")
        if len({s.source for s in files}) > 1:
            sources = ", ".join(sorted({s.source or s.file for s in files}))
            newest.notes.append(
                f"files from several sources ({sources}): the newest was graded, but dates inside a zip "
                "are set by whoever made it; check that it is the student's latest work"
            )


def _recency(submission, now):
    """Sort key, newest last: a zip date in the future loses to any other date, and a loose file's own
    time wins a tie with a zip date."""
    from_zip = bool(submission.source)
    return (not (from_zip and submission.modified > now), submission.modified, not from_zip, submission.file)
