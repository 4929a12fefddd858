"""Turns a folder of downloaded submissions into one row per file, each with a student id.

Students' files arrive as they left them: ``lab1 (2).ipynb``, ``Copy of lab1.ipynb``,
``s1234_lab1.ipynb``, a ``.zip`` from the LMS, a ``.py`` export, an empty or truncated file.
Every file becomes a :class:`Submission` with a status; only readable notebooks go on to
grading, and the others keep their row with a message that says what to do.
"""
import csv
import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# Default: the student id is the file name up to the first space, underscore or dot, e.g.
# "s1234_lab1.ipynb" -> "s1234", "alice.lab1 (1).ipynb" -> "alice".
DEFAULT_ID_PATTERN = r"^(?P<student>[A-Za-z0-9-]+)"
COLAB_NAME_NOISE = re.compile(r"^(copy of\s+)+", re.IGNORECASE)

GRADABLE = "ok"


@dataclass
class Submission:
    file: str  # path relative to the submissions folder ("a.zip/b.ipynb" for zip members)
    student_id: str | None
    status: str  # "ok" or why it cannot be graded
    modified: float = 0.0  # seconds since the epoch, to pick the newest of a student's files
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
    try:
        original = nbformat.reads(data.decode("utf-8", errors="replace"), as_version=nbformat.NO_CONVERT)
        version = original.get("nbformat")
        notebook = nbformat.convert(original, 4)
    except Exception as error:  # nbformat raises several kinds for junk
        kind = "not a notebook (not JSON)" if data.lstrip()[:1] not in (b"{", b"[") else "not a readable notebook"
        return None, f"{kind}: {str(error).splitlines()[0][:120]}", []
    notes = [f"converted from notebook format {version} to 4"] if version and version < 4 else []
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return None, "notebook without code cells", notes
    return notebook, GRADABLE, notes


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
            submissions.extend(_unpack(path, name, student_ids))
        else:
            submissions.append(_entry(name, path.read_bytes(), path.stat().st_mtime, student_ids))
    for submission in submissions:
        if submission.status == GRADABLE and not submission.student_id:
            submission.status = "no student id in the file name: add it to the id mapping CSV (--ids) or rename the file"
    _flag_duplicates(submissions)
    return submissions


def _unpack(path, name, student_ids):
    """Zip members become submissions. A zip holding one file is one student's (the zip's name
    carries the id); a zip of many files is a class download (each file's name carries its id)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not Path(m.filename).name.startswith((".", "__MACOSX"))]
            if not members:
                return [Submission(file=name, student_id=student_ids(name), status="empty zip archive")]
            entries = [_entry(f"{name}/{m.filename}", archive.read(m), _zip_time(m), student_ids) for m in members]
    except zipfile.BadZipFile:
        return [Submission(file=name, student_id=student_ids(name), status="a damaged .zip archive: ask for it again")]
    if len(entries) == 1:
        entries[0].student_id = student_ids(name)
    return entries


def _zip_time(member):
    import datetime

    return datetime.datetime(*member.date_time).timestamp()


def _flag_duplicates(submissions):
    """Keeps the newest gradable file of each student; the others are flagged, not lost."""
    by_student = {}
    for submission in submissions:
        if submission.status == GRADABLE:
            by_student.setdefault(submission.student_id, []).append(submission)
    for files in by_student.values():
        files.sort(key=lambda s: (s.modified, s.file))
        newest = files[-1]
        for older in files[:-1]:
            older.status = f"superseded by the newer file {newest.file}"
            newest.notes.append(f"also submitted {older.file} (older, not graded)")
