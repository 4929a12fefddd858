"""Runs a notebook top to bottom in a fresh Jupyter kernel and reports each test cell."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbclient import NotebookClient

from autograde.cells import grade_id_of, is_graded, points
from autograde.grading.feedback import failure_message
from autograde.grading.judge import JudgedCells, submission_seed_key, test_sources

if TYPE_CHECKING:
    from autograde.course import Course


class JudgedNotebookClient(JudgedCells, NotebookClient):
    """nbclient's client, with test cells probed in the kernel and judged in this process (:mod:`autograde.grading.judge`)."""


@dataclass
class CellFailure:
    cell_id: str
    error: str  # "NameError: name 'x' is not defined"


@dataclass
class TestCell:
    grade_id: str
    points: float
    failure: str | None  # None when the cell ran without error

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class NotebookRun:
    notebook: Path
    seconds: float
    tests: list = field(default_factory=list)  # TestCell for every nbgrader test cell
    failures: list = field(default_factory=list)  # CellFailure for every other cell that raised

    @property
    def ok(self) -> bool:
        return not self.failures and all(test.passed for test in self.tests)

    @property
    def points(self) -> tuple[float, float]:
        return sum(test.points for test in self.tests if test.passed), sum(test.points for test in self.tests)


def execute_notebook(
    path: str | Path,
    cwd: str | Path,
    env: dict[str, str] | None = None,
    cell_timeout: int = 600,
    lab: str = "",
    seed_key: str = "",
    sources: dict[str, str] | None = None,
) -> tuple[nbformat.NotebookNode, NotebookRun]:
    """Executes ``path`` with errors allowed (every cell runs) in working directory ``cwd``.

    ``env`` adds environment variables for the kernel, e.g. ``{"LAB_BUDGET": "smoke"}``.
    With ``lab``, test cells are judged as the grader judges them (their text, ``sources`` by grade_id if given,
    is planned into probes; seeds come from ``seed_key``); without it they run as they are, on the public checks.
    Returns the executed notebook and a :class:`NotebookRun`.
    """
    nb = nbformat.read(path, as_version=4)
    client = JudgedNotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
        lab=lab,
        seed_key=seed_key,
        test_sources=sources,
    )
    start = time.monotonic()
    # The kernel process's own stderr carries TensorFlow's start-up log lines; what the
    # notebook itself prints is captured in its outputs.
    client.execute(env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
    run = NotebookRun(notebook=Path(path), seconds=time.monotonic() - start)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        error = failure_message(cell)
        if is_graded(cell):
            run.tests.append(TestCell(grade_id_of(cell), points(cell), error))
        elif error:
            run.failures.append(CellFailure(cell.get("id", "?"), error))
    return nb, run


def execute_solution(
    course: Course, lab: str, cwd: str | Path, env: dict[str, str] | None = None, cell_timeout: int = 600
) -> tuple[nbformat.NotebookNode, NotebookRun]:
    """Executes ``lab``'s solution notebook, its test cells (hidden tests included) judged as the grader does, with
    seeds drawn from the course's grading secret (see :func:`execute_notebook`)."""
    path = course.solution_notebook(lab)
    seed_key = submission_seed_key(course.grading_secret(), path.read_text())
    return execute_notebook(path, cwd, env, cell_timeout, lab=lab, seed_key=seed_key, sources=test_sources(course, lab))
