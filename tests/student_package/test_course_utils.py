import inspect
import subprocess
import sys

import numpy as np
import pytest

import course_utils
from course_utils.checks import CheckFailed, check_close, check_shape


def test_import_is_light():
    code = "import sys, course_utils, course_utils.checks; print(sorted(m for m in ('tensorflow', 'music21', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_budget_defaults_to_full(monkeypatch):
    monkeypatch.delenv("LAB_BUDGET", raising=False)
    assert course_utils.lab_budget() == "full"
    assert course_utils.by_budget(full=30, smoke=1) == 30


def test_smoke_budget(monkeypatch):
    monkeypatch.setenv("LAB_BUDGET", " Smoke ")
    assert course_utils.lab_budget() == "smoke"
    assert course_utils.by_budget(full=30, smoke=1) == 1


def test_unknown_budget_says_what_to_use(monkeypatch):
    monkeypatch.setenv("LAB_BUDGET", "tiny")
    with pytest.raises(ValueError, match="'full'.*'smoke'"):
        course_utils.lab_budget()


def test_output_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAB_OUTPUT_DIR", raising=False)
    assert course_utils.output_dir("lab1").resolve() == tmp_path / "artifacts" / "lab1"
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    path = course_utils.output_dir("lab2")
    assert path == tmp_path / "elsewhere" / "lab2" and path.is_dir()


def test_in_colab_is_false_here():
    assert course_utils.in_colab() is False


def test_check_shape_names_expected_and_actual():
    check_shape("x", np.zeros((2, 5)), (2, 5))
    with pytest.raises(CheckFailed, match=r"x: expected shape \(2, 5\), got \(5, 2\)"):
        check_shape("x", np.zeros((5, 2)), (2, 5))


def test_check_close():
    check_close("y", [1.0, 2.0], [1.0, 2.0 + 1e-7])
    with pytest.raises(CheckFailed, match="differs from the reference by up to 0.5"):
        check_close("y", [1.0, 2.5], [1.0, 2.0])
    with pytest.raises(CheckFailed, match="NaN"):
        check_close("y", [np.nan], [1.0])


def probe_size(model: object, size: int = 3, seed: int = 0) -> dict:
    return {"size": size}


def compare_size(observed: dict, expected: None, size: int, seed: int) -> str:
    return "ok"


def test_a_check_shows_the_call_a_test_cell_writes():
    from course_utils.checks.probing import Check

    check = Check(probe_size, compare_size, expects=False)
    assert repr(check) == "<check test_course_utils.check_size(model, size=3, seed=0)>"
    assert list(inspect.signature(check).parameters) == ["model", "size", "seed"]  # the grader binds arguments by name


@pytest.mark.parametrize(
    "module",
    [
        "audio",
        "metrics",
        "music",
        "normalization",
        "normalizer",
        "predictions",
        "runtime",
        "submission",
        "training",
        "tweets",
        "vocab",
        "checks.probing",
        "checks.delegation",
    ],
)
def test_a_module_that_imports_no_heavy_library_stays_light(module):
    # Type hints name TensorFlow, Keras, music21 and matplotlib types under TYPE_CHECKING only.
    code = (
        f"import sys, course_utils.{module}; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'music21', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
