"""labs/ is generated from solutions/: in sync, without solutions or hidden tests, with TODO stubs and the right links."""

import nbformat
import pytest
from helpers import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograde.authoring.preprocessors import STUB_CODE
from autograde.course import Course


def load(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.slow  # generates every lab
def test_labs_are_in_sync_with_solutions(course):
    from autograde.authoring.build import stale_labs

    assert stale_labs(course) == [], "labs/ is stale: run `course build-labs` and commit labs/"


@pytest.mark.parametrize("lab", Course.load(ROOT).labs())
def test_the_stored_expectations_are_what_the_references_compute(course, lab):
    from autograde.grading.references import stored_differences

    assert stored_differences(course, lab) == [], "course_utils/checks/expected/ is stale: run `course build-labs`"


def test_every_solution_has_a_lab(course):
    assert course.labs(), "no labs found in solutions/"
    for lab in course.labs():
        assert course.lab_notebook(lab).is_file()


@pytest.mark.parametrize("kind", ["solution_notebook", "lab_notebook"])
def test_notebooks_are_committed_without_outputs(course, kind):
    for lab in course.labs():
        for cell in load(getattr(course, kind)(lab)).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{lab}: cell {cell.id} has outputs"


def test_labs_hold_no_solutions_or_hidden_tests(course):
    for lab in course.labs():
        text = course.lab_notebook(lab).read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden_tests"):
            assert marker not in text, f"{lab} leaks {marker!r}"


def test_every_exercise_becomes_a_todo_stub(course):
    for lab in course.labs():
        solutions = [
            c for c in load(course.solution_notebook(lab)).cells if c.metadata.get("nbgrader", {}).get("solution")
        ]
        stubs = [c for c in load(course.lab_notebook(lab)).cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(stubs) == len(solutions) > 0
        for solution, stub in zip(solutions, stubs):
            assert stub.source.count(STUB_CODE) == solution.source.count("### BEGIN SOLUTION")
            assert "# TODO" in stub.source and "YOUR CODE HERE" not in stub.source


def test_lab_links_point_at_the_public_repository(course):
    for lab in course.labs():
        cells = load(course.lab_notebook(lab)).cells
        assert f"]({course.colab_url(lab)})" in cells[0].source, "the first cell should be the Open-in-Colab badge"
        setup = cells[1].source
        assert '"google.colab" in sys.modules' in setup and course.install_url() in setup
        # pinned: the release's tag, never a branch that moves during the term
        assert course.install_url().endswith(f"@v{course.version}") and f"/blob/v{course.version}/" in course.colab_url(
            lab
        )


def clear(course, source, cell_type="code"):
    """The cell as our release pipeline leaves it: our TODO check, then nbgrader's ClearSolutions as configured."""
    from nbgrader.preprocessors import ClearSolutions

    from autograde.authoring.build import load_nbgrader_config
    from autograde.authoring.preprocessors import RequireTodo

    cell = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    cell.metadata["nbgrader"] = {
        "solution": True,
        "grade": False,
        "locked": False,
        "grade_id": "f",
        "schema_version": 3,
    }
    notebook = nbformat.v4.new_notebook(cells=[cell])
    config = load_nbgrader_config(course)
    for preprocessor in (RequireTodo(config=config), ClearSolutions(config=config)):
        notebook, _ = preprocessor.preprocess(notebook, {})
    return notebook.cells[0].source


def test_stub_keeps_todo_lines_and_indentation(course):
    source = "def f(x):\n    # TODO: return twice x.\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(f)"
    assert clear(course, source) == f"def f(x):\n    # TODO: return twice x.\n    {STUB_CODE}\n\nprint(f)"


def test_a_solution_without_todo_is_refused(course):
    with pytest.raises(RuntimeError, match="has no '# TODO: ...' line right above its '### BEGIN SOLUTION'"):
        clear(course, "### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    with pytest.raises(
        RuntimeError, match="has no '# TODO"
    ):  # the TODO inside the region (where it used to go) is removed with it
        clear(course, "### BEGIN SOLUTION\n# TODO: x\nx = 1\n### END SOLUTION")


def test_unclosed_solution_is_refused(course):
    with pytest.raises(RuntimeError, match="no end solution statement"):
        clear(course, "# TODO: x\n### BEGIN SOLUTION\nx = 1")


def test_markdown_solutions_get_the_text_stub(course):
    assert clear(course, "### BEGIN SOLUTION\nAn answer.\n### END SOLUTION", "markdown") == "YOUR ANSWER HERE"


def test_example_submissions_are_in_sync(course, tmp_path):
    import filecmp

    from autograde.authoring.examples import make_examples

    for lab in course.labs():
        fresh = make_examples(course, lab, dest=tmp_path / lab)
        committed = course.examples_dir(lab)
        comparison = filecmp.dircmp(fresh / "submissions", committed / "submissions")
        _, mismatch, errors = filecmp.cmpfiles(
            fresh / "submissions", committed / "submissions", comparison.common_files, shallow=False
        )
        stale = comparison.left_only + comparison.right_only + mismatch + errors
        assert not stale and filecmp.cmp(fresh / "expected.json", committed / "expected.json", shallow=False), (
            f"autograde/examples/{lab} is stale ({stale}): run `course make-examples {lab}` and commit it"
        )
