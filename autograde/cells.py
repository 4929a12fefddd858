"""What a notebook cell is to the grader, decided here once: nbgrader's marks and the grader's own.

Two questions that look alike have different answers:

- a **graded** cell carries points (nbgrader's ``grade`` mark): every test cell, and an answer cell that nbgrader
  would grade by its output if a lab had one. Points, scores, the gradebook's grades and the columns of grades.csv
  go by graded cells;
- a **test** cell is a graded cell that is not an answer (nbgrader's "autograder tests" cell): the instructor's code
  that checks the answers. What the grader judges outside the kernel, puts back from the release and reports as
  edited goes by test cells.

The predicates read the metadata as nbgrader's own ``nbgrader.utils.is_grade`` and ``is_solution`` do (a test holds
them to it); they do not import them, because importing ``nbgrader.utils`` loads nbgrader's server extensions: 0.9 s
more for every ``course`` command, which starts in 1.3 s without them (measured on 2 busy cores). They take plain dicts
and nbformat's NotebookNodes alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

STUDENT = "student"
TEST = "test"
INSTRUCTOR = "instructor"
# The metadata the rebuild gives a student's own code cells (helpers, scratch cells, earlier copies of an answer).
STUDENT_ORIGIN = {"autograde": {"origin": STUDENT}}
TRAINING = "training"  # cell metadata autograde.training: the instructor's mark for cells that train


def nbgrader_metadata(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's ``nbgrader`` metadata ({} when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def _autograde_metadata(cell):
    return cell.get("metadata", {}).get("autograde", {})


def grade_id_of(cell: dict[str, Any]) -> str | None:
    """The cell's nbgrader ``grade_id``, or None."""
    return nbgrader_metadata(cell).get("grade_id")


def points(cell: dict[str, Any]) -> float:
    """The points a graded cell is worth (0 for any other cell)."""
    return float(nbgrader_metadata(cell).get("points", 0)) if is_graded(cell) else 0.0


def total_points(notebook: NotebookNode) -> float:
    """The points a notebook's graded cells are worth together (its max score)."""
    return sum(points(cell) for cell in notebook.cells)


def is_graded(cell: dict[str, Any]) -> bool:
    """Whether the cell carries points (nbgrader's ``grade`` mark): a test cell, or an answer graded by its output."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_solution(cell: dict[str, Any]) -> bool:
    """Whether nbgrader marks the cell as the student's to write (``solution``), whatever its type."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_test(cell: dict[str, Any]) -> bool:
    """Whether the cell is an autograder test: graded, and not the student's to write."""
    return is_graded(cell) and not is_solution(cell)


def is_answer(cell: dict[str, Any]) -> bool:
    """Whether the cell is a code cell the student writes (an exercise: nbgrader's ``solution``)."""
    return cell.get("cell_type") == "code" and is_solution(cell)


def is_students_extra(cell: dict[str, Any]) -> bool:
    """Whether the rebuild marked the cell as one the student added (:data:`STUDENT_ORIGIN`)."""
    return _autograde_metadata(cell).get("origin") == STUDENT


def cell_origin(cell: dict[str, Any]) -> str:
    """Who wrote a cell of a rebuilt notebook: :data:`STUDENT` (an answer or an extra cell), :data:`TEST` or
    :data:`INSTRUCTOR`."""
    if is_solution(cell) or is_students_extra(cell):
        return STUDENT
    return TEST if is_test(cell) else INSTRUCTOR


def is_training(cell: dict[str, Any]) -> bool:
    """Whether the instructor marked the cell as one that trains (it gets the longer time limit)."""
    return bool(_autograde_metadata(cell).get(TRAINING))
