"""Every solution runs clean under LAB_BUDGET=smoke (that every student lab's tests fail until filled in is the
`untouched` example of tests/grading/test_grading.py)."""

import pytest
from helpers import ROOT

from autograde.authoring.solutions import execute_solution
from autograde.course import Course

LABS = Course.load(ROOT).labs()
pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.mark.parametrize("lab", LABS)
def test_solution_runs_and_passes_every_test(course, lab, tmp_path):
    _, run = execute_solution(
        course, lab, cwd=tmp_path, env={"LAB_BUDGET": "smoke", "LAB_OUTPUT_DIR": str(tmp_path / "out")}
    )
    print(f"{lab}: {run.seconds:.1f} s under LAB_BUDGET=smoke")
    assert run.failures == []
    assert run.tests and [t.grade_id for t in run.tests if not t.passed] == []
    short_name = lab.split("_", 1)[0]
    assert any((tmp_path / "out" / short_name).iterdir()), "the lab saved nothing under LAB_OUTPUT_DIR/<lab>/"
    assert not (tmp_path / "artifacts").exists(), "the lab ignored LAB_OUTPUT_DIR"
