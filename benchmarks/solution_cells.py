"""A solution notebook's own code cells, run in a benchmark's process.

A benchmark that trains variants of a lab's models runs the lab's own cells (data, layers, training helpers) rather
than restating them, so it measures what students build. Cells are found by id, so edits elsewhere in the notebook
do not matter.
"""

import linecache
import re

import nbformat


def solution_cells(course, lab):
    """{cell id: source} of ``lab``'s solution code cells, with nbgrader's markers, the hidden tests and IPython's
    magic lines taken out."""
    notebook = nbformat.read(course.solution_notebook(lab), as_version=4)
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source, flags=re.DOTALL)
            source = re.sub(r"### (BEGIN|END) SOLUTION", "", source)
            cells[cell.get("id")] = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
    return cells


def run_solution_cells(course, lab, plan, namespace=None):
    """Runs the cells of ``plan``, a list of (cell id, the text to stop before or None for the whole cell), in
    ``namespace`` (a fresh one by default) and returns it.

    Raises SystemExit when a cell no longer holds its stop text (the plan would otherwise run more than it meant to).
    """
    cells = solution_cells(course, lab)
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    for cell_id, stop_before in plan:
        source = cells[cell_id]
        if stop_before is not None:
            if stop_before not in source:
                raise SystemExit(f"{lab}'s cell {cell_id} no longer contains {stop_before!r}: update the benchmark")
            source = source[: source.index(stop_before)]
        filename = f"<{lab} solution {cell_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # AutoGraph reads it
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102  the course's own solution cells
    return namespace
