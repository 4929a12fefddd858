"""The declared floor holds: on the oldest versions the package promises (constraints/floor.txt), every lab's solution
runs clean under LAB_BUDGET=smoke and the grader passes its self-test. Deselected by default: `pytest -m floor`
(it installs an environment on first use, then takes about as long as running every lab twice)."""

import subprocess

import pytest
from helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.floor]


def test_every_lab_runs_and_passes_its_self_test_on_the_floor():
    result = subprocess.run(["bash", str(ROOT / "scripts" / "check_floor.sh")], capture_output=True, text=True)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
