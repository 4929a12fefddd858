"""Self-checks for the lab notebooks.

Each check compares a student's code with a reference computation (never with numbers
pinned to one random seed) and raises :class:`CheckFailed` with a message that says what
is wrong, e.g. ``kernel: expected shape (3, 4), got (4, 3)``. The per-lab checks live in
``course_utils.checks.lab1`` and so on; this module holds what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from course_utils.predictions import Predictions, normalise

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# What a probe returns (its observations) and what a comparison compares them with (the expectation): plain data by
# name, arrays, numbers, strings, lists and dicts (see course_utils.checks.probing).
Observations = dict[str, Any]
Expectation = dict[str, Any]


class CheckFailed(AssertionError):
    """A self-check found a mistake; the message says which."""


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


def passed(message: str) -> None:
    """Prints a pass line; the test cells end with one so students see what was checked."""
    print(f"\u2714 {message}")


def max_abs_diff(actual: ArrayLike, expected: ArrayLike) -> float:
    return float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))))


def check_shape(name: str, actual: ArrayLike | tuple[int | None, ...], expected: Sequence[int | None]) -> None:
    """Fails unless ``actual`` (an array, or a shape given as a tuple) has shape ``expected``."""
    shape = actual if isinstance(actual, tuple) else np.shape(actual)
    shape = tuple(None if d is None else int(d) for d in shape)
    if shape != tuple(expected):
        fail(f"{name}: expected shape {tuple(expected)}, got {shape}")


def check_close(name: str, actual: ArrayLike, expected: ArrayLike, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Fails unless the arrays agree elementwise to ``atol + rtol * |expected|``."""
    check_shape(name, actual, np.shape(expected))
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(actual)):
        fail(f"{name}: contains NaN or inf")
    if not np.allclose(actual, expected, atol=atol, rtol=rtol):
        fail(f"{name}: differs from the reference by up to {max_abs_diff(actual, expected):.3g}")


def probe_prediction(predictions: Predictions, name: str = "", choices: Sequence[str | float] = ()) -> Observations:
    """The answer recorded for prediction ``name`` (a check of a prediction compares no expected value)."""
    # Duck-typed: the notebook's Predictions comes from the public module.
    if not isinstance(predictions, dict) or not callable(getattr(predictions, "reveal", None)):
        fail(
            f"predictions should be the Predictions() the notebook made, got {type(predictions).__name__}: set "
            f"predictions[{name!r}] = ... rather than assigning predictions itself (rerun the imports cell to get it back)"
        )
    answer = predictions.get(name)
    answerable = isinstance(answer, str) or (isinstance(answer, (int, float)) and not isinstance(answer, bool))
    return {
        "recorded": name in predictions,
        "answer": normalise(answer) if answerable else None,
        "shown": repr(answer)[:200],
    }


def compare_prediction(observed: Observations, expected: None, name: str, choices: Sequence[str | float]) -> str:
    """Passes when the recorded answer is one of ``choices``: a prediction is scored for being made, not for being right."""
    wanted = " or ".join(repr(c) for c in choices)
    if not observed["recorded"]:
        fail(f"no prediction yet: set predictions[{name!r}] to {wanted}, before you run the experiment")
    if observed["answer"] not in {normalise(c) for c in choices}:
        fail(f"predictions[{name!r}] is {observed['shown']}: it should be {wanted} (a string, in quotes)")
    return f"your prediction for {name!r} is recorded: {observed['shown']} (the experiment below shows what happens)"


from course_utils.checks.probing import Check  # noqa: E402 -- probing reads CheckFailed, fail and passed from above

check_prediction = Check(probe_prediction, compare_prediction, expects=False)
check_prediction.__doc__ = """Passes when ``predictions[name]`` is one of ``choices``. Any choice passes: a prediction is scored for being made.

    Args:
        predictions: the notebook's ``predictions`` (a dict from question name to answer).
        name: the question, e.g. ``"tanh_rho2"``.
        choices: the answers the question offers, e.g. ``("grow", "shrink")``.
    """
