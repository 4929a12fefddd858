"""The cell predicates (autograde.cells): one meaning each, nbgrader's where nbgrader has one."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader import utils

from autograde import cells


def marked(cell, **nbgrader):
    cell.metadata["nbgrader"] = {"grade_id": "x", **nbgrader}
    return cell


CRAFTED = {
    "answer": marked(new_code_cell("x = 1"), solution=True, grade=False),
    "test": marked(new_code_cell("assert x == 1"), solution=False, grade=True, points=2),
    "autograded answer": marked(new_code_cell("x = 1"), solution=True, grade=True, points=1),
    "written answer": marked(new_markdown_cell("Because."), solution=True, grade=True, points=1),
    "locked setup": marked(new_code_cell("import numpy"), locked=True),
    "plain": new_code_cell("print(1)"),
    "student's extra": new_code_cell("y = 2", metadata={"autograde": {"origin": "student"}}),
    "training": new_code_cell("model.fit()", metadata={"autograde": {"training": True}}),
}


def notebook_cells(course):
    for lab in course.labs():
        for path in (course.solution_notebook(lab), course.lab_notebook(lab)):
            yield from nbformat.read(path, as_version=4).cells


def test_graded_and_solution_are_nbgraders_own_marks(course):
    for cell in [*CRAFTED.values(), *notebook_cells(course)]:
        assert cells.is_graded(cell) == bool(utils.is_grade(cell)), cell
        assert cells.is_solution(cell) == bool(utils.is_solution(cell)), cell


@pytest.mark.parametrize(
    "name, graded, test, answer, origin",
    [
        ("answer", False, False, True, "student"),
        ("test", True, True, False, "test"),
        ("autograded answer", True, False, True, "student"),  # points, but the student's to write: never put back
        ("written answer", True, False, False, "student"),
        ("locked setup", False, False, False, "instructor"),
        ("plain", False, False, False, "instructor"),
        ("student's extra", False, False, False, "student"),
    ],
)
def test_a_graded_cell_is_a_test_cell_only_when_it_is_not_an_answer(name, graded, test, answer, origin):
    cell = CRAFTED[name]
    assert (cells.is_graded(cell), cells.is_test(cell), cells.is_answer(cell), cells.cell_origin(cell)) == (
        graded,
        test,
        answer,
        origin,
    )


def test_points_and_grade_ids(course):
    assert cells.points(CRAFTED["test"]) == 2.0 and cells.points(CRAFTED["answer"]) == 0.0
    assert cells.grade_id_of(CRAFTED["test"]) == "x" and cells.grade_id_of(CRAFTED["plain"]) is None
    release = nbformat.read(course.lab_notebook("lab1_rnns_from_scratch"), as_version=4)
    assert sum(cells.points(c) for c in release.cells if cells.is_graded(c)) == 24.0


def test_the_training_mark_and_plain_dicts():
    assert cells.is_training(CRAFTED["training"]) and not cells.is_training(CRAFTED["plain"])
    raw = {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": "a"}}, "source": ""}
    assert cells.is_answer(raw) and cells.grade_id_of(raw) == "a" and not cells.is_test({"cell_type": "code"})
