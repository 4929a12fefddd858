"""Runs a notebook top to bottom in a fresh Jupyter kernel and reports each test cell."""
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograde.feedback import failure_message


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


def execute_notebook(path, cwd, env=None, cell_timeout=600):
    """Executes ``path`` with errors allowed (every cell runs) in working directory ``cwd``.

    ``env`` adds environment variables for the kernel, e.g. ``{"LAB_BUDGET": "smoke"}``.
    Returns the executed notebook and a :class:`NotebookRun`.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}}
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
