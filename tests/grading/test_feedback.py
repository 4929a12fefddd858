"""Feedback pages, rendered by the preprocessors nbgrader_config.py lists: verdicts, never hidden tests (about two seconds).

tests/grading/test_grading.py checks the same on every example submission's real feedback page (slow).
"""

import html
import re

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograde.authoring.build import load_nbgrader_config
from autograde.grading.feedback import FeedbackExporter

HIDDEN = "checks.check_secret(MyCell, size=97)"
TEST = f"checks.check_visible(MyCell, size=3)\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
GRADED = {"grade": True, "solution": False, "locked": True, "points": 1, "schema_version": 3}


@pytest.fixture(scope="module")
def feedback_text(course):
    """A function: the text of the feedback page for some cells, as GenerateFeedback renders it (GetGrades left out:
    no gradebook)."""
    from nbgrader.preprocessors import GetGrades

    config = load_nbgrader_config(course)

    def render(cells):
        exporter = FeedbackExporter(config=config)
        for preprocessor in config.GenerateFeedback.preprocessors:
            if preprocessor is not GetGrades:
                exporter.register_preprocessor(preprocessor, enabled=True)
        page, _ = exporter.from_notebook_node(new_notebook(cells=cells))
        return html.unescape(re.sub(r"<[^>]+>", "", page))

    return render


def graded_cell(grade_id, outputs):
    cell = new_code_cell(TEST, outputs=outputs)
    cell.metadata["nbgrader"] = {**GRADED, "grade_id": grade_id}
    return cell


def test_test_cells_show_their_visible_checks_and_one_line_verdicts(feedback_text):
    traceback = [f"---> 3 {HIDDEN}", "CheckFailed: expected 97 rows"]
    failed = new_output("error", ename="CheckFailed", evalue="expected 97 rows", traceback=traceback)
    printed = new_output("stream", name="stdout", text=f"running {HIDDEN}\n")
    text = feedback_text([graded_cell("test_passes", [printed]), graded_cell("test_fails", [printed, failed])])
    assert "checks.check_visible(MyCell, size=3)" in text
    assert "\u2714 test_passes passed" in text and "\u2718 test_fails failed: CheckFailed: expected 97 rows" in text
    assert "check_secret" not in text and "HIDDEN TESTS" not in text


def test_hidden_test_markers_in_a_students_cell_are_cut_out_not_an_error(feedback_text):
    text = feedback_text([new_code_cell(f"x = 1\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS\ny = 2")])
    assert "x = 1" in text and "y = 2" in text and "check_secret" not in text


def test_widget_outputs_keep_only_their_text(feedback_text):
    widget = new_output(
        "display_data",
        data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc"}, "text/plain": "epoch 3/3: 100%"},
    )
    text = feedback_text([new_code_cell("train()", outputs=[widget])])
    assert "epoch 3/3: 100%" in text and "abc" not in text
