"""The grading report and a feedback page, opened in headless Chromium: no errors, plots shown, text readable.

Playwright drives the system's Chromium (``helpers.open_in_chromium``). Without Chromium the tests skip, saying how to
install it; CI installs it (.ci/run).
"""

import pytest
from helpers import (
    EVIL,
    LAB,
    PNG,
    REPORT_SECTIONS,
    graded_examples_group,
    make_grading_folder,
    needs_chromium,
    open_in_chromium,
)

from autograde.reporting import report


@needs_chromium
def test_the_report_opens_offline_without_errors_and_shows_its_plots(course, tmp_path):
    out = tmp_path / LAB
    make_grading_folder(course, out)
    page = open_in_chromium(report.write_report(course, LAB, out))
    assert page.exceptions == [] and page.console_errors == [] and page.failed_requests == {} and page.dialogs == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    images = page.state["images"]
    assert len(images) == 3 and all(i["src"].startswith(PNG) and i["complete"] and i["width"] > 100 for i in images)
    for heading in REPORT_SECTIONS:
        assert heading in page.state["text"]
    assert EVIL in page.state["text"], "the student's text is shown as text"
    side_by_side = open_in_chromium(out / "similarity.html")
    assert side_by_side.exceptions == [] and side_by_side.console_errors == [] and side_by_side.dialogs == []
    assert "</pre><script>alert(1)</script>" in side_by_side.state["text"]


@pytest.mark.slow
@needs_chromium
@graded_examples_group(LAB)
def test_feedback_is_readable_without_mathjax(graded_examples):
    """An example submission's feedback page (graded once a session); it loads MathJax from a CDN, which may be out
    of reach."""
    *_, out, _ = graded_examples(LAB)
    feedback = out / "feedback" / "partial.html"
    page = open_in_chromium(feedback)
    assert page.exceptions == [] and page.dialogs == []
    # Only downloads from the network (MathJax's) may fail, and the only errors be the browser's reports of them.
    assert all(url.startswith(("http:", "https:")) for url in page.failed_requests), page.failed_requests
    assert [(text, url) for text, url in page.console_errors if url not in page.failed_requests] == []
    text = page.state["text"]
    assert page.state["mathjax"] > 0 or "$h_t$" in text, "math is rendered, or its source is readable"
    # "partial" answers the first half of the exercises (autograde/authoring/examples.py): Lab 1's MyLSTMCell is in the second half.
    assert (
        "test_rnn_cell_weights passed" in text
        and "test_lstm_cell failed: CheckFailed: your code raised NotImplementedError" in text
    )
    assert "HIDDEN TESTS" not in text, "the hidden tests' region is not shown"
    plots = [image for image in page.state["images"] if image["src"].startswith("data:")]  # the Colab badge is online
    assert plots and all(image["src"].startswith(PNG) and image["complete"] and image["width"] > 0 for image in plots)
