"""Turns a folder of downloaded submissions into one row per file, each with a student id.

Students' files arrive as they left them: ``lab1 (2).ipynb``, ``Copy of lab1.ipynb``,
``s1234_lab1.ipynb``, a ``.zip`` from the LMS, a ``.py`` export, an empty or truncated file.
Every file becomes a :class:`Submission` with a status; only readable notebooks go on to
grading, and the others keep their row with a message that says what to do. A notebook that
breaks the nbformat schema (a cell without ``source``, a code cell without ``outputs``, a
duplicate cell id...) is repaired where that is safe, and its row says what was repaired.
An unexpected error while reading one file becomes that file's row ("grader error: ..."):
it never stops the others.
"""
import csv
import hashlib
import json
import re
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4.nbbase import random_cell_id
from nbformat.v4.nbjson import JSONReader

# Default: the student id is the file name up to the first space, underscore or dot, e.g.
# "s1234_lab1.ipynb" -> "s1234", "alice.lab1 (1).ipynb" -> "alice".
DEFAULT_ID_PATTERN = r"^(?P<student>[A-Za-z0-9-]+)"
COLAB_NAME_NOISE = re.compile(r"^(copy of\s+)+", re.IGNORECASE)

GRADABLE = "ok"
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
    status: str  # "ok" or why it cannot be graded
    modified: float = 0.0  # seconds since the epoch, to pick the newest of a student's files
    source: str = ""  # the zip it came from; "" for a loose file
    sha256: str = ""
    notebook: dict | None = field(default=None, repr=False)  # nbformat v4, when status is "ok"
    notes: list = field(default_factory=list)


class StudentIds:
    """Finds a student's id from a file name, by regular expression or by a CSV mapping."""

    def __init__(self, pattern=DEFAULT_ID_PATTERN, mapping_csv=None):
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


def read_notebook(data, name):
    """Parses bytes as a notebook; returns (notebook as a dict, status, notes)."""
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
    return notebook, GRADABLE, notes


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
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in getattr(error, "absolute_path", [])).lstrip(".")
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
    elif not isinstance(source, str) and not (isinstance(source, list) and all(isinstance(line, str) for line in source)):
        cell["source"] = "".join(str(line) for line in source if line is not None) if isinstance(source, list) else str(source)
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
    """"2 cells without source, 1 duplicate cell id"."""
    return ", ".join(f"{n} {noun if n == 1 else noun + 's'} {rest}".strip() for (noun, rest), n in Counter(repairs).items())


def _entry(name, data, modified, student_ids):
    submission = Submission(file=name, student_id=student_ids(Path(name).name), status=GRADABLE, modified=modified,
                            sha256=hashlib.sha256(data).hexdigest())
    suffix = Path(name).suffix.lower()
    if suffix == ".py":
        submission.status = "a Python file, not a notebook: submit the .ipynb (Colab: File > Download > Download .ipynb)"
    elif suffix not in (".ipynb", ".json"):
        submission.status = f"not a notebook ({suffix or 'no extension'}): submit the .ipynb"
    else:
        submission.notebook, submission.status, submission.notes = read_notebook(data, name)
    return submission


def collect(folder, student_ids=None):
    """One :class:`Submission` per file in ``folder`` (recursively) and per file inside each zip."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of submissions")
    student_ids = student_ids or StudentIds()
    submissions = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        name = path.relative_to(folder).as_posix()
        if path.suffix.lower() == ".zip":
            submissions.extend(_guarded(name, student_ids, lambda: _unpack(path, name, student_ids)))
        else:
            submissions.extend(_guarded(name, student_ids, lambda: [_entry(name, path.read_bytes(), path.stat().st_mtime, student_ids)]))
    for submission in submissions:
        if submission.status == GRADABLE and not submission.student_id:
            submission.status = "no student id in the file name: add it to the id mapping CSV (--ids) or rename the file"
    _flag_duplicates(submissions)
    return submissions


def _guarded(name, student_ids, read):
    """``read()``'s submissions, or, when it fails, one row for ``name`` that says why: one bad file never stops the rest."""
    try:
        return read()
    except Exception as error:
        try:
            student_id = student_ids(Path(name).name)
        except Exception:
            student_id = None
        return [Submission(file=name, student_id=student_id, status=f"grader error: {type(error).__name__}: {_first_line(error)}")]


def _unpack(path, name, student_ids):
    """Zip members become submissions. A zip holding one file is one student's (the zip's name
    carries the id). A zip of many files is a class download (each file's name carries its id),
    unless one of its files carries the zip's own id: then it is that student's zip, and its files
    named for anyone else are not graded (they would stand in for the other student's own work)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not Path(m.filename).name.startswith((".", "__MACOSX"))]
            if not members:
                return [Submission(file=name, student_id=student_ids(name), status="empty zip archive")]
            entries = []
            for m in members:
                member = f"{name}/{m.filename}"
                entries += _guarded(member, student_ids, lambda: [_entry(member, archive.read(m), _zip_time(m), student_ids)])
    except zipfile.BadZipFile:
        return [Submission(file=name, student_id=student_ids(name), status="a damaged .zip archive: ask for it again")]
    owner = student_ids(name)
    if len(entries) == 1:
        entries[0].student_id = owner
    elif owner and any(entry.student_id == owner for entry in entries):
        for entry in entries:
            if entry.student_id and entry.student_id != owner:
                entry.status = (f"not graded: inside {name}, a file named for another student ({entry.student_id}); "
                                "a student's zip may hold only their own work")
                entry.student_id = owner  # the row is the uploader's: it must not make a submission in the other's name
    for entry in entries:
        entry.source = name
    return entries


def _zip_time(member):
    import datetime

    return datetime.datetime(*member.date_time).timestamp()


def _flag_duplicates(submissions):
    """Keeps the newest gradable file of each student; the others are flagged, not lost. A date inside
    a zip is whatever the zip's maker set: when a student's files come from several sources, the graded
    row's note names them all."""
    now = time.time()
    by_student = {}
    for submission in submissions:
        if submission.status == GRADABLE:
            by_student.setdefault(submission.student_id, []).append(submission)
    for files in by_student.values():
        files.sort(key=lambda s: _recency(s, now))
        newest = files[-1]
        for older in files[:-1]:
            older.status = f"superseded by the newer file {newest.file}"
            newest.notes.append(f"also submitted {older.file} (older, not graded)")
        if len({s.source for s in files}) > 1:
            sources = ", ".join(sorted({s.source or s.file for s in files}))
            newest.notes.append(f"files from several sources ({sources}): the newest was graded, but dates inside a zip "
                                "are set by whoever made it; check that it is the student's latest work")


def _recency(submission, now):
    """Sort key, newest last: a zip date in the future loses to any other date, and a loose file's own
    time wins a tie with a zip date."""
    from_zip = bool(submission.source)
    return (not (from_zip and submission.modified > now), submission.modified, not from_zip, submission.file)
