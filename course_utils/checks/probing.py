"""Probes and self-checks: what a check does in the student's kernel, and what it compares with.

Every check is split in two:

- a **probe** (``probe_<name>`` in ``course_utils.checks.labN``, public) builds the student's object, feeds it
  inputs made from the arguments it is given (sizes and a seed), and returns what came out as plain data: a dict of
  arrays, numbers, strings and lists (the *observations*). It never holds a reference or an expected value. It may
  fail early with :class:`~course_utils.checks.CheckFailed` when the student's object cannot be probed at all (wrong
  type, wrong number of weights): a probe can make a check fail, never pass.
- a **comparison** (``compare_<name>``, public) takes the observations, the *expectation* (what the reference and
  each known mistake give on the same inputs, as data) and the same arguments; it raises ``CheckFailed`` naming the
  mistake, or returns the message a passing check prints.

The expectation is computed by the instructor's private references (``autograde/grading/references/``). Students get it as
stored data for the arguments their notebook's test cells use (``expected/<lab>.json``, written by
``course build-labs``), so :class:`Check` (``checks.check_<name>``) runs probe and comparison in the notebook
from data alone. The grader runs only the probe in the student's kernel, with a seed no student can know in advance,
and compares in its own process with a freshly computed expectation.

Observations cross from the kernel to the grader as JSON text (:func:`encode`, :func:`decode`): arrays as dtype,
shape and base64 bytes, numeric dtypes only, size-capped; no pickle.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.checks import CheckFailed, Expectation, Observations, fail, passed

EXPECTED_DIR = Path(__file__).with_name("expected")
ARRAY = "__ndarray__"
# dtypes an observation's array may have: numbers and booleans, never objects.
ARRAY_KINDS = frozenset("biuf")
FAILED = "__failed__"  # the probe failed the check itself (a CheckFailed raised while probing)
ERROR = "__error__"  # the student's code raised while probed


def _to_data(value):
    if isinstance(value, dict):
        return {str(key): _to_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_data(item) for item in value]
    if hasattr(value, "numpy") and callable(value.numpy):  # a tf.Tensor or a Keras variable
        value = value.numpy()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"an observation's array must hold numbers or booleans, not {value.dtype}")
        shape = list(value.shape)  # np.ascontiguousarray makes a 0-d array 1-d: keep the shape it had
        return {
            ARRAY: [value.dtype.str, shape, base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")]
        }
    if isinstance(value, float) and not math.isfinite(value):
        return {ARRAY: [np.dtype(float).str, [], base64.b64encode(np.float64(value).tobytes()).decode("ascii")]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"an observation must be plain data (arrays, numbers, strings, lists, dicts), not {type(value).__name__}"
    )


def encode(observations: Observations | Expectation) -> str:
    """Observations (or an expectation) as JSON text: arrays become ``{"__ndarray__": [dtype, shape, base64]}``."""
    return json.dumps(_to_data(observations), separators=(",", ":"))


def _from_data(value):
    if isinstance(value, list):
        return [_from_data(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {ARRAY}:
            dtype, shape, data = value[ARRAY]
            dtype = np.dtype(str(dtype))
            if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
                raise ValueError(f"arrays of dtype {dtype} are not accepted")
            shape = tuple(int(n) for n in shape)
            raw = base64.b64decode(data, validate=True)
            if any(n < 0 for n in shape) or len(raw) != math.prod(shape) * dtype.itemsize:
                raise ValueError("an array's data does not fit its shape")
            array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
            return array[()] if shape == () else array
        return {key: _from_data(item) for key, item in value.items()}
    return value


def decode(text: str, max_chars: int = 16_000_000) -> Any:
    """The observations in ``text`` (see :func:`encode`); refuses anything over ``max_chars`` or not of that form."""
    if not isinstance(text, str):
        raise ValueError(f"observations must arrive as text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise ValueError(f"the observations are {len(text):,} characters, more than the {max_chars:,} allowed")
    return _from_data(json.loads(text))


def run_probe(probe: Callable[..., Observations], *args: Any, **kwargs: Any) -> str:
    """Runs ``probe`` and returns its observations as JSON text, whatever happens.

    A ``CheckFailed`` raised while probing becomes ``{"__failed__": message}``; any other exception (the student's
    code raised) ``{"__error__": "TypeError: ..."}``; observations that are not plain data become an error too.
    """
    try:
        return encode(probe(*args, **kwargs))
    except CheckFailed as failure:
        return encode({FAILED: str(failure)})
    except Exception as error:  # noqa: BLE001 -- whatever student code raises is the student's result
        return encode({ERROR: f"{type(error).__name__}: {error}"[:2000]})
    except BaseException as error:  # SystemExit, KeyboardInterrupt from student code: a failure, not the grader's end
        return encode({ERROR: f"{type(error).__name__}: {error}"[:2000]})


def raise_for_probe_failure(observed: object) -> None:
    """Fails with the probe's own message, or with the error the student's code raised while probed."""
    if not isinstance(observed, dict):
        fail(f"the probe returned {type(observed).__name__}, not observations")
    if FAILED in observed:
        fail(str(observed[FAILED]))
    if ERROR in observed:
        fail(f"your code raised {observed[ERROR]}")


def parameters(signature: inspect.Signature) -> list[str]:
    """The names of a probe's *arguments*: its parameters with a default (sizes, seeds, names). The others are the
    *objects* it probes (the student's class or function, notebook data), evaluated in the kernel."""
    return [p.name for p in signature.parameters.values() if p.default is not inspect.Parameter.empty]


def is_literal(value: object) -> bool:
    """Whether ``value`` is plain data an argument may be: numbers, strings, booleans, None, lists and tuples of them."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(is_literal(item) for item in value)
    return False


def as_param(value: Any) -> Any:
    return [as_param(v) for v in value] if isinstance(value, (list, tuple)) else value


def same_params(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@functools.lru_cache(maxsize=8)
def _stored(lab):
    path = EXPECTED_DIR / f"{lab}.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def stored_expectation(lab: str, name: str, params: dict[str, Any]) -> Expectation:
    """The stored expectation of check ``name`` for ``params``; fails (saying which arguments exist) when none is stored."""
    entries = _stored(lab).get(name, [])
    for entry in entries:
        if same_params(entry["params"], params):
            return _from_data(entry["expectation"])
    shown = "; ".join(", ".join(f"{k}={v!r}" for k, v in sorted(e["params"].items())) for e in entries) or "none"
    fail(
        f"this self-check has stored results only for the arguments its test cell uses ({shown}); "
        f"it cannot check other arguments ({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))}): "
        "run the test cell as it is given"
    )


class Check:
    """A self-check a test cell calls: the probe, then the comparison with the stored expectation.

    Args:
        probe: ``probe_<name>(objects..., **arguments)`` returning observations. Its parameters without a default
            are the objects it probes (evaluated in the kernel); those with a default are its *arguments*, plain
            data the grader knows too (a test cell must write them as literals).
        compare: ``compare_<name>(observed, expected, **arguments)`` raising ``CheckFailed`` or returning the
            message a pass prints; it gets every argument, defaults included.
        expects: whether the comparison reads an expectation (``False`` for checks of properties alone, such as
            a prediction being one of its choices).

    Example::

        check_rnn_cell_weights = Check(probe_rnn_cell_weights, compare_rnn_cell_weights)
        check_rnn_cell_weights(MyRNNCell, input_dim=3, units=4)  # prints "✔ ..." or raises CheckFailed
    """

    def __init__(self, probe: Callable[..., Observations], compare: Callable[..., str], expects: bool = True):
        self.probe, self.compare, self.expects = probe, compare, expects
        self.name = probe.__name__.removeprefix("probe_")
        self.lab = probe.__module__.rpartition(".")[2]
        self.signature = inspect.signature(probe)
        functools.update_wrapper(self, probe)
        self.__name__ = self.__qualname__ = f"check_{self.name}"

    def params(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The call's arguments (see :func:`parameters`), defaults included; fails unless each is plain data."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        params = {name: bound.arguments[name] for name in parameters(self.signature)}
        for name, value in params.items():
            if not is_literal(value):
                fail(
                    f"{self.__name__}: {name} should be plain data (a number, a string, a list of them), got {type(value).__name__}"
                )
        return {name: as_param(value) for name, value in params.items()}

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        params = self.params(*args, **kwargs)
        expected = stored_expectation(self.lab, self.name, params) if self.expects else None
        observed = _from_data(json.loads(encode(self.probe(*args, **kwargs))))  # as the grader would receive it
        passed(self.compare(observed, expected, **params))

    def __repr__(self) -> str:
        # The call as a test cell writes it, names and defaults: the annotations (in help()) would crowd it.
        call = self.signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in self.signature.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
        return f"<check {self.lab}.{self.__name__}{call}>"
