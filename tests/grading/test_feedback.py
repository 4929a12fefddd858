"""Feedback pages, rendered by the preprocessors nbgrader_config.py lists: verdicts, never hidden tests (about two seconds).

tests/grading/test_grading.py checks the same on every example submission's real feedback page (slow).
"""

import copy
import html
import re

import pytest
from helpers import needs_chromium, open_in_chromium
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograde.authoring.build import load_nbgrader_config
from autograde.cells import STUDENT_ORIGIN
from autograde.grading.feedback import CELL_CHARS, HTML_NOT_SHOWN, NOT_SHOWN, PAGE_CHARS, FeedbackExporter

HIDDEN = "checks.check_secret(MyCell, size=97)"
TEST = f"checks.check_visible(MyCell, size=3)\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
GRADED = {"grade": True, "solution": False, "locked": True, "points": 1, "schema_version": 3}


@pytest.fixture(scope="module")
def feedback_page(course):
    """A function: the feedback page (HTML) for some cells, as GenerateFeedback renders it (GetGrades left out: no
    gradebook)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades

    config = GenerateFeedback(config=load_nbgrader_config(course)).config  # with nbgrader's feedback template

    def render(cells):
        exporter = FeedbackExporter(config=config)
        for preprocessor in config.GenerateFeedback.preprocessors:
            if preprocessor is not GetGrades:
                exporter.register_preprocessor(preprocessor, enabled=True)
        scores = {"notebook": "lab", "score": 0.0, "max_score": 1.0, "late_penalty": 0.0}  # what GetGrades would add
        page, _ = exporter.from_notebook_node(new_notebook(cells=cells), resources={"nbgrader": scores})
        return page

    return render


@pytest.fixture(scope="module")
def feedback_text(feedback_page):
    """A function: the text of the feedback page for some cells, as a reader sees it (no style sheet, no script)."""
    hidden = re.compile(r"<(style|script)\b.*?</\1>", re.DOTALL)
    return lambda cells: html.unescape(re.sub(r"<[^>]+>", "", hidden.sub("", feedback_page(cells))))


def graded_cell(grade_id, outputs):
    cell = new_code_cell(TEST, outputs=outputs)
    cell.metadata["nbgrader"] = {**GRADED, "grade_id": grade_id, "score": 0.0}  # the score GetGrades would add
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


# Outputs a student's code can send, each of which used to run code in the browser that opens the page, or make it
# fetch from elsewhere (127.0.0.1:9: nothing answers there); and honest ones, which keep what they show.
HOSTILE_OUTPUTS = [
    new_output(
        "display_data",
        data={
            "text/html": '<b onclick="alert(1)">bold</b><script>alert(2)</script><img src=x onerror="alert(3)">'
            '<iframe src="data:text/html,<script>alert(4)</script>"></iframe><img src="http://127.0.0.1:9/a.png">'
            '<a href="javascript:alert(5)">link</a><form action="http://127.0.0.1:9/"><input name=q></form>'
            '<style>body {display: none}</style><p class="navbar-fixed-top" style="position: fixed">over</p>'
        },
    ),
    new_output("display_data", data={"application/javascript": "alert(6)", "text/plain": "js as text"}),
    new_output("display_data", data={"text/markdown": "<img src=y onerror=alert(7)>", "text/plain": "md as text"}),
    new_output(
        "display_data", data={"image/png": "iVBORw0KGgo="}, metadata={"image/png": {"width": "1 onerror=alert(8)"}}
    ),
    new_output(
        "display_data",
        data={"image/png": "iVBORw0KGgo="},
        metadata={"filenames": {"image/png": "http://127.0.0.1:9/b.png"}},
    ),
    new_output(
        "display_data", data={"text/html": "<script>alert(9)</script>"}, metadata={"text/html": {"isolated": True}}
    ),
]
SUMMARY = (  # as Keras's model.summary() shows (rich)
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal"><span style="font-weight: bold">Total params: '
    '</span><span style="color: #00af00; text-decoration-color: #00af00">57</span></pre>'
)
PLAYER = (  # as IPython.display.Audio shows
    '<audio  controls="controls" >\n<source src="data:audio/wav;base64,UklGRiQAAABXQVZF" type="audio/wav" />\n'
    "Your browser does not support the audio element.\n</audio>"
)
HONEST_OUTPUTS = [
    new_output("display_data", data={"text/html": SUMMARY, "text/plain": "Total params: 57"}),
    new_output("display_data", data={"text/html": PLAYER, "text/plain": "<IPython.lib.display.Audio object>"}),
    new_output("display_data", data={"image/png": "iVBORw0KGgo="}, metadata={"image/png": {"width": 300}}),
]


def test_outputs_cannot_run_code_or_load_anything_in_the_page(feedback_page):
    page = feedback_page([new_code_cell("show()", outputs=HOSTILE_OUTPUTS)])
    body = page[page.index("<body") :]  # the page's own head loads MathJax
    assert "<script" not in body and "<iframe" not in body and "<form" not in body and "<style" not in body
    assert not re.search(r"<[^>]*\son\w+\s*=", body), "no event handler"
    assert "127.0.0.1" not in body and "javascript:" not in body and "position" not in body and "navbar" not in body
    assert "<b>bold</b>" in body and ">over</p>" in body and "js as text" in body and "md as text" in body


def test_honest_outputs_keep_their_html_and_images(feedback_page):
    page = feedback_page([new_code_cell("show()", outputs=HONEST_OUTPUTS)])
    assert '<span style="font-weight' in page and "#00af00" in page and "white-space:pre" in page
    assert (
        "<audio controls=" in page and '<source src="data:audio/wav;base64,UklGRiQAAABXQVZF" type="audio/wav"/>' in page
    )
    assert 'src="data:image/png;base64,iVBORw0KGgo=" width="300"' in page


@needs_chromium
def test_a_browser_opening_the_page_runs_and_fetches_nothing_a_student_sent(feedback_page, tmp_path):
    path = tmp_path / "feedback.html"
    path.write_text(feedback_page([new_code_cell("show()", outputs=HOSTILE_OUTPUTS + HONEST_OUTPUTS)]))
    page = open_in_chromium(path)
    assert page.dialogs == []
    assert [
        url for url in page.requests if "127.0.0.1" in url or url.startswith("file:") and url != path.as_uri()
    ] == []


def students_cell(source, outputs=()):
    return new_code_cell(source, outputs=list(outputs), metadata=copy.deepcopy(STUDENT_ORIGIN))


def test_a_page_shows_a_bounded_amount_of_code_and_outputs(feedback_page):
    """What the grading process spends on a page grows with it (about 200 bytes of memory per character of HTML)."""
    printed = new_output("stream", name="stdout", text="y" * (PAGE_CHARS - CELL_CHARS - 20))
    answer = new_code_cell("def answer():\n" + "    pass\n" * 150_000, metadata={"nbgrader": {"solution": True}})
    cells = [
        students_cell("show()", [printed]),  # fits, just
        answer,  # 1,350,014 characters: a note in its place
        graded_cell("test_answer", []),  # tests and their verdicts are always shown
        *(students_cell(f"x{i} = 1") for i in range(200)),  # each counts 1,000 characters more, for its frame
    ]
    page = feedback_page(cells)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "y" * (PAGE_CHARS - CELL_CHARS - 20) in text
    assert f"# 1,350,014 characters and their outputs {NOT_SHOWN}" in text and "    pass" not in text
    assert "test_answer passed" in text
    assert "x0 = 1" not in text and f"200 of the student's own code cells are {NOT_SHOWN}." in text
    assert len(page) < 2 * PAGE_CHARS


def test_a_page_shows_a_bounded_amount_of_html(feedback_text):
    """Parsing HTML takes time that grows with the square of its nesting."""
    nested = new_output("display_data", data={"text/html": "<div>" * 30_000 + "deep", "text/plain": "nested divs"})
    small = new_output("display_data", data={"text/html": "<b>small</b>"})
    without_text = new_output("display_data", data={"text/html": "<div>" * 30_000})
    text = feedback_text([students_cell("show()", [nested, small, without_text])])
    assert "nested divs" in text and "deep" not in text and "small" in text and HTML_NOT_SHOWN in text
