"""Runs a notebook top to bottom in a fresh Jupyter kernel and reports each test cell."""
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograde.feedback import failure_message
from autograde.private_tests import GuardedCells, private_tests_for


class GuardedNotebookClient(GuardedCells, NotebookClient):
    """nbclient's client, with test cells run on the grader's private checks and hidden tests."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_cell_executed = self.record_reply


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
    def passed(self):
        return self.failure is None


@dataclass
class NotebookRun:
    notebook: Path
    seconds: float
    tests: list = field(default_factory=list)  # TestCell for every nbgrader test cell
    failures: list = field(default_factory=list)  # CellFailure for every other cell that raised

    @property
    def ok(self):
        return not self.failures and all(test.passed for test in self.tests)

    @property
    def points(self):
        return sum(test.points for test in self.tests if test.passed), sum(test.points for test in self.tests)


def execute_notebook(path, cwd, env=None, cell_timeout=600, private_tests=None):
    """Executes ``path`` with errors allowed (every cell runs) in working directory ``cwd``.

    ``env`` adds environment variables for the kernel, e.g. ``{"LAB_BUDGET": "smoke"}``.
    ``private_tests`` (:func:`autograde.private_tests.private_tests_for`) gives test cells the
    lab's checks and hidden tests; a solution notebook's hidden tests need it.
    Returns the executed notebook and a :class:`NotebookRun`.
    """
    nb = nbformat.read(path, as_version=4)
    client = GuardedNotebookClient(
        nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}},
        private_tests=private_tests,
    )
    start = time.monotonic()
    # The kernel process's own stderr carries TensorFlow's start-up log lines; what the
    # notebook itself prints is captured in its outputs.
    client.execute(env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
    run = NotebookRun(notebook=Path(path), seconds=time.monotonic() - start)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        error = failure_message(cell)
        if meta.get("grade"):
            run.tests.append(TestCell(meta["grade_id"], float(meta.get("points", 0)), error))
        elif error:
            run.failures.append(CellFailure(cell.get("id", "?"), error))
    return nb, run


def execute_solution(course, lab, cwd, env=None, cell_timeout=600):
    """Executes ``lab``'s solution notebook, hidden tests included (see :func:`execute_notebook`)."""
    return execute_notebook(course.solution_notebook(lab), cwd, env, cell_timeout, private_tests_for(course, lab))
