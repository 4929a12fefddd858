"""What the grader says about each file, defined once for the modules that write it and those that read it:

- :class:`Status`, every status a row can have;
- :class:`GradeResult`, what a worker returns for one notebook (and the grader caches as ``results/<student>.json``);
- :class:`Row`, one row of ``grades.csv``, and the file itself (:func:`write_csv`, :func:`read_rows`).

The report imports this module rather than :mod:`autograde.grading.folder`, which loads the whole grading stack.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograde.cells import grade_id_of, is_graded
from autograde.course import CourseError, OutputFolder

if TYPE_CHECKING:
    from nbformat import NotebookNode

# Text starting with one of these is a formula to a spreadsheet: grades.csv puts a ' before it.
SPREADSHEET_PREFIX = ("=", "+", "-", "@", "\t", "\r")
SUPERSEDED_BY = "superseded by the newer file"  # followed by that file's name, in an older file's row
LIST_SEPARATOR = " | "  # between the flags, and between the notes, of a row of grades.csv
ANSWER_SEPARATOR = "; "  # between the answer cells of a row of grades.csv


class Status(StrEnum):
    """What happened to a file: the status column of ``grades.csv`` (the value is what it says).

    A file that intake refused (not a notebook, an empty file, a zip over the limits...) is ``NOT_GRADED`` and one
    superseded by its student's newer file ``SUPERSEDED``; for those the row's :attr:`Row.reason` says why and what to
    do, and the status column shows that sentence instead.
    """

    GRADABLE = "ok"  # intake: a readable notebook with a student id, to be graded (never a row's final status)
    GRADED = "graded"
    ENVIRONMENT_PROBLEM = "environment problem"  # graded, but a cell the student cannot edit failed for the machine
    GRADER_ERROR = "grader error"  # the grader failed on this file; the notes say how
    NOT_GRADED = "not graded"  # refused at intake, or too large to rebuild; the reason or the notes say why
    SUPERSEDED = "superseded"  # an older file of a student whose newer file was graded

    @property
    def was_graded(self) -> bool:
        """Whether the notebook ran: its scores count (an environment problem's too, for a person to judge)."""
        return self in (Status.GRADED, Status.ENVIRONMENT_PROBLEM)


class Found(StrEnum):
    """How the rebuild found a student's cell for an answer cell (:mod:`autograde.grading.rebuild`), in its order."""

    GRADE_ID = "grade_id"
    CELL_ID = "cell id"
    SIMILARITY = "position and similarity"
    MISSING = "missing"


@dataclass(frozen=True)
class Answer:
    """How one answer cell was found.

    Args:
        grade_id: the answer cell's grade_id in the release.
        found: how (:class:`Found`).
        how: what grades.csv says: ``found``, with the similarity score and remarks in brackets, e.g.
            ``"position and similarity 0.82 (stub left in place, answer in the cell below)"``.
    """

    grade_id: str
    found: Found
    how: str

    def __str__(self):
        return f"{self.grade_id}: {self.how}"


@dataclass(frozen=True)
class TestScore:
    """One test cell's outcome.

    Args:
        score: points earned (None: nbgrader could not score it).
        max_score: points it is worth (None in a row read back from grades.csv, which keeps scores only).
        message: why it failed (``"ename: evalue"``), None when it passed.
    """

    __test__ = False  # not a pytest test class

    score: float | None
    max_score: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class CellError:
    """An error in a cell the student cannot edit (an instructor cell).

    Args:
        cell: the cell's number in the rebuilt notebook, from 1.
        ename: the error's class name, e.g. ``"TweetDataError"``.
        message: ``"ename: evalue"``, as the feedback shows it.
    """

    cell: int
    ename: str
    message: str


@dataclass
class GradeResult:
    """What grading one notebook gave (:func:`autograde.grading.worker.grade_one`), cached as ``results/<student>.json``.

    Args:
        student_id: whose notebook.
        status: GRADED, or GRADER_ERROR or NOT_GRADED when it could not be graded (``problems`` says why).
        tests: the score of every test cell, by grade_id.
        problems: what went wrong while it ran: time limits, kernel deaths, output cut, the grader's own failures.
        instructor_cell_errors: errors in cells the student cannot edit.
        answers: how each answer cell was found (the rebuild's).
        prepare_notes: what the rebuild noted (extra cells, edited tests).
        flags: student code for a person to review (:mod:`autograde.grading.flags`).
        sandboxed: whether the kernel ran in the sandbox; ``sandbox_gaps``: what this machine's sandbox lacks.
        execute_seconds: seconds nbgrader's execution took; ``total_seconds``: the whole job.
        limits_hit: the limits the notebook ran into: "timeout", "memory", "output".
        forked_kernel: whether its kernel was forked from the preloaded server.
        feedback_html, autograded: the feedback page and the autograded notebook (JSON); saved as files of their own,
            never in the cache file.
        feedback_folder: where the feedback page is still to be made from, when the worker left that to its caller
            (:func:`autograde.grading.worker.render_feedback`); never cached.
    """

    student_id: str | None
    status: Status
    tests: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    instructor_cell_errors: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    prepare_notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    sandboxed: bool = False
    sandbox_gaps: list = field(default_factory=list)
    execute_seconds: float = 0.0
    total_seconds: float = 0.0
    limits_hit: list = field(default_factory=list)
    forked_kernel: bool = False
    feedback_html: str | None = None
    autograded: str | None = None
    feedback_folder: str | None = None

    FORMAT = 2  # of the cache file; files without it (written before results were typed) are refused, never misread
    NOT_CACHED = ("feedback_html", "autograded", "feedback_folder")

    @classmethod
    def failed(cls, student_id: str | None, problem: str, status: Status = Status.GRADER_ERROR) -> GradeResult:
        """A result for a notebook that could not be graded, saying why."""
        return cls(student_id, status, problems=[problem])

    @property
    def score(self) -> float:
        return sum(test.score or 0 for test in self.tests.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: every field but the feedback page, its folder and the autograded notebook, and ``format``."""
        data = {name: value for name, value in dataclasses.asdict(self).items() if name not in self.NOT_CACHED}
        return {"format": self.FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeResult:
        """The result ``to_json`` made ``data`` from (extra keys, such as the cache's ``key``, are ignored).

        Raises:
            ValueError: ``data`` is of another format (an older grader's cache file).
        """
        if data.get("format") != cls.FORMAT:
            raise ValueError(f"a grading result of format {data.get('format')!r}, not {cls.FORMAT}")
        fields = {f.name for f in dataclasses.fields(cls)} - set(cls.NOT_CACHED)
        result = cls(**{name: value for name, value in data.items() if name in fields})
        result.status = Status(result.status)
        result.tests = {grade_id: TestScore(**test) for grade_id, test in result.tests.items()}
        result.instructor_cell_errors = [CellError(**error) for error in result.instructor_cell_errors]
        result.answers = [Answer(a["grade_id"], Found(a["found"]), a["how"]) for a in result.answers]
        return result


def save_result(path: str | Path, result: GradeResult, key: dict[str, Any]) -> None:
    """Writes ``result`` (without its feedback page and notebook) and the cache ``key`` it was graded under to
    ``path``, ``results/<student>.json`` of an output folder: indented JSON, for people too."""
    Path(path).write_text(json.dumps({"key": key, **result.to_json()}, indent=1, sort_keys=True))


def load_result(path: str | Path, key: dict[str, Any] | None = None) -> GradeResult | None:
    """The :class:`GradeResult` :func:`save_result` wrote to ``path``; None when there is no such file, or (given
    ``key``) when it was graded under another key.

    Raises:
        ValueError: the file is an older grader's (see :attr:`GradeResult.FORMAT`).
    """
    path = Path(path)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if key is not None and data.get("key") != key:
        return None
    return GradeResult.from_json(data)


@dataclass
class Row:
    """One row of ``grades.csv``: one file of the submissions folder, whatever happened to it.

    Args:
        file: the file, relative to the submissions folder (``a.zip/b.ipynb`` for a zip's member).
        student_id: whose it is (None when its name says no id).
        status: what happened to it.
        score, max_score: points earned and possible.
        tests: each test cell's :class:`TestScore`, by grade_id.
        answers: how each answer cell was found (:class:`Answer`).
        notes: what a person should know, one sentence each.
        flags: student code that touches the grading machinery, for a person to review.
        reason: for a file intake refused or a superseded one, why and what to do (the status column shows it).
    """

    file: str
    student_id: str | None
    status: Status
    score: float = 0.0
    max_score: float = 0.0
    tests: dict = field(default_factory=dict)
    answers: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    reason: str = ""

    @property
    def status_text(self) -> str:
        """What the status column says."""
        return self.reason or self.status.value


def write_csv(path: str | Path, rows: Iterable[Row], release: NotebookNode) -> None:
    """Writes ``grades.csv``: a row per file (by file name), a column per graded cell of the release notebook."""
    test_ids = [grade_id_of(c) for c in release.cells if is_graded(c)]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "student_id", "status", "score", "max_score", *test_ids, "answers", "flags", "notes"])
        for row in sorted(rows, key=lambda r: r.file):
            scores = [number(row.tests[t].score) if t in row.tests else "" for t in test_ids]
            writer.writerow(
                [
                    _cell(row.file),
                    _cell(row.student_id or ""),
                    _cell(row.status_text),
                    number(row.score),
                    number(row.max_score),
                    *scores,
                    _cell(ANSWER_SEPARATOR.join(map(str, row.answers))),
                    _cell(LIST_SEPARATOR.join(row.flags)),
                    _cell(LIST_SEPARATOR.join(row.notes)),
                ]
            )


def read_rows(out: str | Path, lab: str) -> list[Row]:
    """The rows of ``grades.csv`` in a grading output folder, as :func:`write_csv` wrote them.

    What the CSV cannot say comes back empty: a test's max_score and message, how each answer cell was found (read
    them from the row's :class:`GradeResult`).

    Args:
        out: the folder ``course grade`` wrote.
        lab: the lab's full name (for the error message).

    Raises:
        CourseError: when there is no ``grades.csv`` yet; the message says which command to run.
    """
    folder = OutputFolder(Path(out))
    if not folder.grades.is_file():
        short = lab.split("_", 1)[0]
        option = "" if folder.is_default_for(lab) else f" --out {out}"
        raise CourseError(f"no grades found in {out}: run `course grade {short} FOLDER{option}` first")
    with open(folder.grades, newline="") as f:
        reader = csv.DictReader(f)
        test_ids = reader.fieldnames[5:-3]
        lines = [{key: _uncell(value) for key, value in line.items()} for line in reader]
    rows = []
    for line in lines:
        status, reason = _status(line["status"])
        rows.append(
            Row(
                line["file"],
                line["student_id"] or None,
                status,
                float(line["score"] or 0),
                float(line["max_score"] or 0),
                notes=_list(line["notes"]),
                flags=_list(line["flags"]),
                tests={t: TestScore(float(line[t])) for t in test_ids if line[t] != ""},
                reason=reason,
            )
        )
    return rows


def _status(text):
    """The status and reason of a status column's text (see :attr:`Row.status_text`)."""
    try:
        return Status(text), ""
    except ValueError:  # a sentence: why intake refused the file, or which newer file superseded it
        return (Status.SUPERSEDED if text.startswith(SUPERSEDED_BY) else Status.NOT_GRADED), text


def _list(text):
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _cell(text):
    """Text a spreadsheet shows as text: a file named '=HYPERLINK(...)' must not become a formula."""
    return f"'{text}" if text[:1] in SPREADSHEET_PREFIX else text


def _uncell(text):
    return text[1:] if isinstance(text, str) and text[:1] == "'" and text[1:2] in SPREADSHEET_PREFIX else text


def number(value: float | None) -> str:
    """A score as grades.csv and the summary write it: ``17``, ``0.5``."""
    return f"{float(value or 0):g}"
