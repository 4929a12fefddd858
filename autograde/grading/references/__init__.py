"""The instructor's private references: what each check's observations are compared with.

``autograde/grading/references/labN.py`` holds, for every check ``check_<name>`` of ``course_utils.checks.labN`` that
compares with something, a function ``expect_<name>(**arguments)``: the observations a correct answer gives on the
inputs the public probe makes from the same arguments, plus *fingerprints* (what each known mistake gives), as
plain data. References and mistake variants live only here, never in the student bundle.

Students' self-checks read the expectation for their test cells' own arguments from
``course_utils/checks/expected/labN.json``, which :func:`write_expected` makes (``course build-labs``) and a test
keeps from drifting (:func:`stored_differences`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import numpy as np

from autograde.cells import is_test
from course_utils.checks.probing import EXPECTED_DIR, _from_data, _to_data, same_params

if TYPE_CHECKING:
    from autograde.course import Course


def check_calls(course: Course, lab: str, hidden: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """Every visible check call of the lab's solution notebook (the hidden ones too if ``hidden``), as
    (check name, arguments)."""
    from autograde.grading.judge import get_check, judged_params

    solution = nbformat.read(course.solution_notebook(lab), as_version=4)
    calls = []
    for cell in solution.cells:
        if is_test(cell):
            for call, params in judged_params(lab, cell.source):
                if (hidden or not call.hidden) and get_check(lab, call.check).expects:
                    calls.append((call.check, params))
    return calls


def expected_data(course: Course, lab: str, hidden: bool = False) -> dict[str, list[dict[str, Any]]]:
    """{check name: [{"params": ..., "expectation": ...}]} for the visible calls of ``lab``'s test cells (the hidden
    ones too if ``hidden``: only for benchmarks/grading_throughput.py's baseline, never for the student bundle)."""
    from autograde.grading.judge import expectation

    stored = {}
    for name, params in check_calls(course, lab, hidden):
        entries = stored.setdefault(name, [])
        if not any(same_params(e["params"], params) for e in entries):
            entries.append({"params": params, "expectation": _to_data(expectation(lab, name, params))})
    return stored


def expected_path(lab: str) -> Path:
    return EXPECTED_DIR / f"{lab.split('_')[0]}.json"


def write_expected(course: Course, lab: str) -> Path:
    """Writes ``course_utils/checks/expected/<labN>.json``; returns its path."""
    path = expected_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(expected_data(course, lab), indent=1, sort_keys=True) + "\n")
    return path


def stored_differences(course: Course, lab: str, rtol: float = 1e-5, atol: float = 1e-6) -> list[str]:
    """What differs between the stored expectation and today's references (numbers compared to a tolerance)."""
    path = expected_path(lab)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    fresh = expected_data(course, lab)
    problems = []
    for name in sorted(set(stored) | set(fresh)):
        a, b = stored.get(name, []), fresh.get(name, [])
        if [e["params"] for e in a] != [e["params"] for e in b]:
            problems.append(
                f"{name}: stored for {[e['params'] for e in a]}, the notebook calls {[e['params'] for e in b]}"
            )
            continue
        for old, new in zip(a, b):
            where = _first_difference(_from_data(old["expectation"]), _from_data(new["expectation"]), rtol, atol)
            if where is not None:
                problems.append(f"{name} {old['params']}: {where}")
    return problems


def _first_difference(a, b, rtol, atol, path="expectation"):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path} has keys {sorted(a)} stored, {sorted(b)} now"
        for key in a:
            found = _first_difference(a[key], b[key], rtol, atol, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and not _numeric(a):
        if len(a) != len(b):
            return f"{path} has {len(a)} items stored, {len(b)} now"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, rtol, atol, f"{path}[{i}]")
            if found:
                return found
        return None
    if _numeric(a) and _numeric(b):
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if x.shape != y.shape or not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            return f"{path} differs"
        return None
    return None if a == b else f"{path} differs"


def _numeric(value):
    try:
        return np.asarray(value).dtype.kind in "biuf" and not isinstance(value, (str, bool))
    except (ValueError, TypeError):
        return False


def lstm_parameters(input_dim: int, units: int) -> int:
    """An LSTM layer's parameters: for each of the four gate blocks a kernel, a recurrent kernel and a bias."""
    return 4 * (input_dim * units + units * units + units)


def answer(value: float, mistakes: dict[str, float] | None = None, rtol: float = 1e-9, atol: float = 0.0) -> dict:
    """The expectation of ``check_answer`` for one reasoning question.

    Args:
        value: the right answer.
        mistakes: what each known mistake gives, by what the mistake is, worded to follow "what you get if you ..."
            (e.g. ``{"leave out the biases": 24576}``); the feedback names the one the student's value matches.
        rtol, atol: how near the right value an answer must be (``|answer - value| <= atol + rtol * |value|``).
    """
    return {
        "value": float(value),
        "rtol": rtol,
        "atol": atol,
        "mistakes": [[what, float(given)] for what, given in (mistakes or {}).items()],
    }


def answer_to(questions: dict[str, dict], name: str) -> dict:
    """``expect_answer`` of a lab: the expectation of reasoning question ``name`` from the lab's table of them."""
    if name not in questions:
        raise KeyError(f"no reasoning question {name!r} in this lab's references; it has {sorted(questions)}")
    return questions[name]
