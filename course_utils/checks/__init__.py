"""Self-checks for the lab notebooks.

Each check compares a student's code with a reference computation (never with numbers
pinned to one random seed) and raises :class:`CheckFailed` with a message that says what
is wrong, e.g. ``kernel: expected shape (3, 4), got (4, 3)``. The per-lab checks live in
``course_utils.checks.lab1`` and so on; this module holds what they share.
"""

from __future__ import annotations

import contextlib
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


def probe_answer(answers: dict[str, Any], name: str = "") -> Observations:
    """The number recorded for reasoning question ``name`` in the notebook's ``answers``."""
    if not isinstance(answers, dict):
        fail(f"answers should be the dict the notebook made, got {type(answers).__name__}: set answers[{name!r}] = ...")
    value = answers.get(name)
    number = None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        with contextlib.suppress(OverflowError):  # an int beyond any float, such as 10**400, stays None
            number = float(value)
    return {
        "recorded": name in answers,
        "value": number if number is not None and np.isfinite(number) else None,
        "shown": repr(value)[:200],
    }


def compare_answer_recorded(observed: Observations, expected: None, name: str) -> str:
    """Passes when ``answers[name]`` is a finite number: the self-check never shows whether it is the right one."""
    if not observed["recorded"]:
        fail(f"no answer yet: set answers[{name!r}] to a number")
    if observed["value"] is None:
        fail(f"answers[{name!r}] is {observed['shown']}: it should be a finite number (an int or a float)")
    return (
        f"your answer to {name!r} is recorded: {observed['shown']}. It is graded on its value when you submit; "
        "this check does not say whether it is right, so work it out and confirm it as the text suggests"
    )


def compare_answer(observed: Observations, expected: Expectation, name: str) -> str:
    """Passes when ``answers[name]`` is the right value, to the question's tolerance; names a known mistake's value.

    ``expected`` is ``{"value": v, "rtol": r, "atol": a, "mistakes": [[what the mistake is, its value], ...]}``.
    """
    compare_answer_recorded(observed, None, name)
    try:  # what a kernel sends back may be forged: anything but a finite float fails here, as it would in the probe
        answered = float(observed["value"])
    except (TypeError, ValueError, OverflowError):
        fail(f"answers[{name!r}] is {observed['shown']}: it should be a finite number (an int or a float)")

    def near(value: float) -> bool:
        return abs(answered - value) <= expected["atol"] + expected["rtol"] * abs(value)

    if near(expected["value"]):
        return f"answers[{name!r}] = {observed['shown']} is right"
    for mistake, value in expected["mistakes"]:
        if near(value):
            fail(f"answers[{name!r}] = {observed['shown']} is what you get if you {mistake}")
    fail(f"answers[{name!r}] = {observed['shown']} is not right")


class GradedOnSubmission(Check):
    """A check the grader runs (from a hidden test) but a student's notebook cannot: its expectation is the answer."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        fail(
            f"{self.__name__} is run by the grader when you submit; in the notebook, "
            "check_answer_recorded checks that your answer is recorded"
        )


check_answer_recorded = Check(probe_answer, compare_answer_recorded, expects=False)
check_answer_recorded.__doc__ = """Passes when ``answers[name]`` is a finite number, without saying whether it is right.

    Args:
        answers: the notebook's ``answers`` (a dict from question name to a number).
        name: the question, e.g. ``"lstm_parameters"``.
    """
check_answer = GradedOnSubmission(probe_answer, compare_answer)
check_answer.__doc__ = """The grader's check of ``answers[name]``'s value (in hidden tests; it does not run in a notebook).

    Args:
        answers: the notebook's ``answers`` (a dict from question name to a number).
        name: the question, e.g. ``"lstm_parameters"``.
    """
