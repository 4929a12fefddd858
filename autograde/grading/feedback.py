"""Feedback that never shows hidden tests.

nbgrader's feedback is the autograded notebook rendered to HTML, hidden test code and
tracebacks included (nbgrader issue #917). Before rendering, nbgrader's own ClearHiddenTests
cuts the hidden regions out of every cell's source (nbgrader_config.py lists it first), and
HideTestDetails does the rest: a test cell's outputs become one line with the test's name, pass
or fail, and the failure message. Tracebacks (which quote the hidden test code) and the hidden
tests' printouts are dropped. Widget outputs (a tqdm progress bar) keep only their text: a static
page cannot show a widget, and nbconvert's placeholder script for one needs jQuery, which the
feedback page does not load (the browser reported "$ is not defined").
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache
from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from autograde.cells import grade_id_of, is_graded

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def failure(cell: dict[str, Any]) -> tuple[str, str] | None:
    """``(ename, "ename: evalue")`` of the error a cell's outputs hold (a timeout first), or None when it ran cleanly."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if any(o.get("ename") == "CellTimeoutError" for o in errors):
        return "CellTimeoutError", "CellTimeoutError: the cell ran past its time limit and was interrupted"
    for output in errors:
        ename = output.get("ename", "Error")
        return ename, f"{ename}: {output.get('evalue', '')}".strip().rstrip(":")
    return None


def failure_message(cell: dict[str, Any]) -> str | None:
    """'ename: evalue' of a cell's first error output (see :func:`failure`), or None when it ran cleanly."""
    found = failure(cell)
    return found[1] if found else None


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (HTML with its ``feedback`` template) whose compiled templates Jinja keeps on disk.

    nbgrader makes a new exporter for every feedback page, and each parsed and compiled the same nine templates again,
    a quarter of a second a notebook. Jinja's bytecode cache (in a folder of the user's own, keyed by each template's
    source) makes that a load.
    """

    @property
    def environment(self) -> Environment:
        environment = super().environment
        environment.bytecode_cache = _bytecode_cache()
        return environment


@functools.cache
def _bytecode_cache():
    return FileSystemBytecodeCache()


class HideTestDetails(NbGraderPreprocessor):
    """A test cell's outputs become its one-line verdict; widget outputs keep only their text.

    Runs after nbgrader's ClearHiddenTests, which leaves outputs alone.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code" and is_graded(cell):
            message = failure_message(cell)
            name = grade_id_of(cell)
            verdict = f"\u2714 {name} passed" if message is None else f"\u2718 {name} failed: {message}"
            cell.outputs = [new_output("stream", name="stdout", text=verdict + "\n")]
        return cell, resources
