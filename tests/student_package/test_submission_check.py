"""The students' "check my notebook before I submit" command."""

import pytest

from course_utils.submission import check_notebook, main

pytestmark = pytest.mark.notebook
EXAMPLES = "autograde/examples/lab2_music_generation/submissions"  # the quickest lab to run


@pytest.mark.slow
def test_a_finished_notebook_without_metadata_passes(course, capsys):
    # Colab may drop nbgrader metadata: test cells are found by their "# Test" heading.
    assert check_notebook(course.root / EXAMPLES / "stripped-metadata.ipynb") is True
    out = capsys.readouterr().out
    assert "Tests passing: 13 of 13." in out and "All good" in out  # prediction tests too: their cells start "# Test"


@pytest.mark.slow
def test_an_unfinished_notebook_lists_what_is_left(course, capsys):
    assert main([str(course.root / EXAMPLES / "partial.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "Tests passing: 6 of 13." in out  # 3 of the 13 are predictions, 2 reasoning questions
    # Each test's whole name, and under it what failed.
    assert (
        "\u2718 Test 8: every draw sees the logits the whole model gives for the whole text so far (start and draws), "
        "with the state carried.\n      NotImplementedError: Replace this line with your code\n"
    ) in out
    assert "Exercises still to do" in out and "def sample_next(logits, temperature):" in out


def test_not_a_notebook(tmp_path, capsys):
    script = tmp_path / "lab1.py"
    script.write_text("print(1)")
    with pytest.raises(SystemExit):
        main([str(script)])
    assert "File > Download > Download .ipynb" in capsys.readouterr().err


def test_outside_colab_without_a_path(capsys):
    assert check_notebook() is False
    assert "Give the notebook's path" in capsys.readouterr().out
