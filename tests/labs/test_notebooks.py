"""Every solution keeps what it saves where LAB_OUTPUT_DIR says.

That every solution runs clean under LAB_BUDGET=smoke and passes every test is its full-marks example's grading
(tests/grading/test_grading.py: test_the_full_marks_example_runs_clean), which runs the same answers in the released
notebook; executing each solution notebook a second time cost CI five minutes. That every student lab's tests fail
until filled in is the `untouched` example.
"""

import nbformat
import pytest
from helpers import ROOT

from autograde.course import Course

LABS = Course.load(ROOT).labs()


@pytest.mark.parametrize("lab", LABS)
def test_solution_saves_under_its_output_dir(course, lab):
    # The grader's kernel runs in a scratch folder whose artifacts/ is also LAB_OUTPUT_DIR, so a lab that wrote to
    # ./artifacts would pass its grading: read the code instead.
    code = [
        cell.source
        for cell in nbformat.read(course.solution_notebook(lab), as_version=4).cells
        if cell.cell_type == "code"
    ]
    short_name = lab.split("_", 1)[0]
    assert any(f'course_utils.output_dir("{short_name}")' in source for source in code), (
        f"{lab} should save under course_utils.output_dir({short_name!r}) (artifacts/{short_name}, or LAB_OUTPUT_DIR)"
    )
    assert [source for source in code if "artifacts" in source] == [], "a path under artifacts/ ignores LAB_OUTPUT_DIR"
