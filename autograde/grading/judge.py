"""Test cells judged in the grader: the kernel runs probes, this process compares.

A test cell of a solution notebook is a list of statements::

    # Test 1.1b: ...
    checks.check_rnn_cell_matches_simple_rnn(MyRNNCell, batch=2, steps=5, input_dim=3, units=4, seed=0)
    ### BEGIN HIDDEN TESTS
    checks.check_rnn_cell_matches_simple_rnn(MyRNNCell, batch=3, steps=9, input_dim=5, units=7, seed=11)
    ### END HIDDEN TESTS

When grading, the cell's text is never sent to the kernel. Each ``checks.check_<name>(...)`` call becomes one probe
request: ``probe_<name>`` of the lab's public checks module with the same arguments, except that a ``seed`` is
replaced by one drawn for this submission (:func:`seed_for`, from a secret only the instructor's side holds, the
submission and the test), so nothing can be precomputed and a rerun gives the same grade. The observations come back
as size-capped JSON (:func:`course_utils.checks.probing.decode`), and the check's comparison runs here, against the
expectation the private references (:mod:`autograde.grading.references`) compute for the same arguments. Any other statement
of the cell (instructor code such as ``x, y = get_batch(...)``) runs in the kernel first, as setup. The cell's outputs
are then what this process decided: a ``✔`` line per passing call, or the first failure as an error, which is how
nbgrader scores it. So the kernel never holds a reference, an expected value or hidden-test text.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import hashlib
import hmac
import importlib
import traceback
import typing
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from nbclient.exceptions import CellTimeoutError
from nbclient.util import ensure_async, run_sync
from nbformat.v4 import new_output
from traitlets import Any, HasTraits, Integer, Unicode

from autograde.cells import INSTRUCTOR, STUDENT, TEST, cell_origin, grade_id_of, is_test
from course_utils.checks import CheckFailed
from course_utils.checks.probing import as_param, decode, parameters, raise_for_probe_failure
from course_utils.startup_noise import quiet_tensorflow_start

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from autograde.course import Course
    from course_utils.checks.probing import Check

CHECKS_NAME = "checks"  # what the notebooks call the lab's checks module
CHECK_PREFIX = "check_"
SEED = "seed"
MAX_OBSERVATION_CHARS = 16_000_000
# The longest failure message a test cell shows: the grader writes it into the cell itself, past the output caps
# (autograde.grading.output_budget), and a forged reply chooses its text (a probe's own failure, an answer's repr).
MAX_MESSAGE_CHARS = 4_000


def lab_short_name(lab: str) -> str:
    return lab.split("_")[0]


class ProbeTimeout(Exception):
    """The kernel did not answer a request within the cell's time limit."""


class TestPlanError(ValueError):
    """A test cell of a solution notebook is not of the form the grader judges; the message says why."""


@dataclass(frozen=True)
class ProbeCall:
    """One ``checks.check_<name>(...)`` call of a test cell.

    Args:
        check: the check's name without ``check_``.
        args: the arguments' source text, in order (positional first, then ``name=value``).
        params: the arguments that are literals, by parameter name (defaults not included).
    """

    check: str
    args: tuple
    params: dict = field(hash=False)
    hidden: bool = False


@dataclass(frozen=True)
class Setup:
    """A statement of a test cell that is not a check call: instructor code run in the kernel before the probes."""

    source: str


def plan_test_cell(source: str) -> list[Setup | ProbeCall]:
    """The steps of a test cell: :class:`Setup` and :class:`ProbeCall`, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise TestPlanError(f"the test cell does not parse: {error}") from None
    hidden_from = _hidden_line(source)
    steps = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) else None
        func = call.func if call else None
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == CHECKS_NAME
            and func.attr.startswith(CHECK_PREFIX)
        ):
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                raise TestPlanError(f"line {statement.lineno}: a check call may not use *args or **kwargs")
            args = [ast.get_source_segment(source, a) for a in call.args]
            args += [f"{k.arg}={ast.get_source_segment(source, k.value)}" for k in call.keywords]
            params = {k.arg: _literal(k.value) for k in call.keywords if _is_literal(k.value)}
            positional = [_literal(a) if _is_literal(a) else _NOT_LITERAL for a in call.args]
            steps.append(
                ProbeCall(
                    func.attr[len(CHECK_PREFIX) :],
                    tuple(args),
                    {"__positional__": positional, **params},
                    hidden=hidden_from is not None and statement.lineno > hidden_from,
                )
            )
        else:
            steps.append(Setup(ast.get_source_segment(source, statement)))
    return steps


_NOT_LITERAL = object()


def _is_literal(node):
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return False


def _literal(node):
    value = ast.literal_eval(node)
    return list(value) if isinstance(value, tuple) else value


def _hidden_line(source):
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip() == "### BEGIN HIDDEN TESTS":
            return number
    return None


def bound_params(check: Check, call: ProbeCall, seed: int | None = None) -> dict[str, typing.Any]:
    """The arguments of ``call`` (see :func:`course_utils.checks.probing.parameters`) bound to ``check``'s probe,
    defaults included; ``seed`` replaces the seed. Raises TestPlanError when an argument is not a literal."""
    positional = call.params["__positional__"]
    keywords = {
        arg.split("=", 1)[0]: call.params.get(arg.split("=", 1)[0], _NOT_LITERAL)
        for arg in call.args[len(positional) :]
    }
    try:
        bound = check.signature.bind(*positional, **keywords)
    except TypeError as error:
        raise TestPlanError(f"{CHECK_PREFIX}{call.check}: {error}") from None
    bound.apply_defaults()
    params = {}
    for name in parameters(check.signature):
        value = bound.arguments[name]
        if value is _NOT_LITERAL:
            raise TestPlanError(
                f"{CHECK_PREFIX}{call.check}: {name} must be written as a literal in the test cell "
                "(the grader computes the expectation from it)"
            )
        params[name] = as_param(value)
    if seed is not None and SEED in params:
        params[SEED] = seed
    return params


def seed_for(seed_key: str, grade_id: str, index: int) -> int:
    """The seed of the ``index``-th check call of test ``grade_id``, for the submission whose key is ``seed_key``."""
    digest = hmac.new(seed_key.encode(), f"{grade_id}/{index}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def submission_seed_key(secret: str, notebook_text: str) -> str:
    """A submission's seed key: the course's grading secret and the submitted notebook, hashed together."""
    return hmac.new(secret.encode(), notebook_text.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=16)
def lab_modules(lab: str) -> tuple[ModuleType, ModuleType]:
    """The lab's public checks module and its private references module, imported in this (the grader's) process."""
    short = lab_short_name(lab)
    with quiet_tensorflow_start():  # they import TensorFlow: the first import in the grader's processes
        checks = importlib.import_module(f"course_utils.checks.{short}")
        references = importlib.import_module(f"autograde.grading.references.{short}")
    return checks, references


def get_check(lab: str, name: str) -> Check:
    checks, _ = lab_modules(lab)
    check = getattr(checks, f"{CHECK_PREFIX}{name}", None)
    if check is None or not hasattr(check, "probe"):
        raise TestPlanError(f"course_utils.checks.{lab_short_name(lab)} has no check called {CHECK_PREFIX}{name}")
    return check


def expectation(lab: str, name: str, params: dict[str, typing.Any]) -> typing.Any:
    """What the reference and each known mistake give for ``params``, from the private references."""
    check = get_check(lab, name)
    if not check.expects:
        return None
    _, references = lab_modules(lab)
    expect = getattr(references, f"expect_{name}", None)
    if expect is None:
        raise TestPlanError(f"autograde.grading.references.{lab_short_name(lab)} has no expect_{name}")
    return expect(**params)


def judge(lab: str, call: ProbeCall, params: dict[str, typing.Any], observed: typing.Any) -> str:
    """The pass message of one probe call's observations; raises CheckFailed naming the mistake.

    Observations that the comparison cannot read (a key missing, a wrong type) fail the check: only the probe's own
    output has the form the comparison expects.
    """
    try:
        return _judge(lab, call, params, observed)
    except CheckFailed as failure:
        message = str(failure)
        if len(message) <= MAX_MESSAGE_CHARS:
            raise
        raise CheckFailed(f"{message[:MAX_MESSAGE_CHARS]}... ({len(message):,} characters, cut)") from None


def _judge(lab: str, call: ProbeCall, params: dict[str, typing.Any], observed: typing.Any) -> str:
    raise_for_probe_failure(observed)
    check = get_check(lab, call.check)
    expected = expectation(lab, call.check, params)
    try:
        return check.compare(observed, expected, **params)
    except CheckFailed:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise CheckFailed(
            f"what your code gave could not be compared with the reference ({type(error).__name__}: "
            f"{str(error)[:120]}); if your notebook changes the course's checks or probes, undo that"
        ) from None


def probe_code(lab: str, call: ProbeCall, params: dict[str, typing.Any]) -> str:
    """The code the kernel runs for one call: the probe, its objects as the test cell writes them, its arguments as
    the grader bound them (the drawn seed in place of the cell's)."""
    check = get_check(lab, call.check)
    names = list(check.signature.parameters)
    objects = [arg for i, arg in enumerate(call.args[: len(call.params["__positional__"])]) if names[i] not in params]
    objects += [arg for arg in call.args[len(call.params["__positional__"]) :] if arg.split("=", 1)[0] not in params]
    arguments = [f"{name}={value!r}" for name, value in params.items()]
    probe = check.probe
    return (
        f"__import__('course_utils.checks.probing', fromlist=['run_probe']).run_probe("
        f"__import__({probe.__module__!r}, fromlist=['_']).{probe.__name__}, {', '.join(objects + arguments)})"
    )


class JudgedCells(HasTraits):
    """Mixin for an nbclient NotebookClient: test cells are probed in the kernel and judged in this process.

    Set ``lab`` to turn it on. ``test_sources`` maps a test's grade_id to the instructor's source of its cell (with
    hidden tests); without it the cell's own source is used (a solution notebook). ``seed_key`` draws the seeds.
    """

    lab = Unicode("", help="the lab whose test cells are judged here; empty: test cells run as they are").tag(
        config=True
    )
    seed_key = Unicode("", help="the submission's seed key (see submission_seed_key)").tag(config=True)
    test_sources = Any(None, allow_none=True, help="grade_id -> the instructor's source of that test cell")
    max_observation_chars = Integer(MAX_OBSERVATION_CHARS, help="largest observations a probe may return").tag(
        config=True
    )

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        grade_id = grade_id_of(cell)
        known = (
            self.test_sources is None or grade_id in self.test_sources
        )  # a cell a student marked as a test is theirs
        if not self.lab or cell_origin(cell) != TEST or not known:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        source = (self.test_sources or {}).get(grade_id, cell.source)
        cell.outputs = []
        await self._async_judge_cell(cell, grade_id, source)
        cell.execution_count = execution_count
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the sync twin at class creation

    async def _async_judge_cell(self, cell, grade_id, source):
        try:
            steps = planned_steps(self.lab, source, self.seed_key, grade_id)
        except TestPlanError as error:
            return self._fail(cell, "GraderError", f"the instructor's test cell cannot be judged: {error}")
        for step, params in steps:
            if isinstance(step, Setup):
                try:
                    reply = await self._async_request(step.source, cell)
                except ProbeTimeout as timeout:
                    return self._fail(cell, "CellTimeoutError", f"`{step.source[:120]}`: {timeout}")
                if reply.get("status") != "ok":
                    return self._fail(
                        cell, "CheckFailed", f"running `{step.source[:120]}` failed: {_reply_error(reply)}"
                    )
                continue
            try:
                self._refuse_delegation(get_check(self.lab, step.check), step)
                reply = await self._async_request("pass", cell, {"observed": probe_code(self.lab, step, params)})
                observed = self._observations(reply)
                message = await asyncio.to_thread(judge, self.lab, step, params, observed)
            except ProbeTimeout as timeout:
                return self._fail(cell, "CellTimeoutError", f"{CHECK_PREFIX}{step.check}: {timeout}")
            except CheckFailed as failure:
                note = " (a hidden test, with other sizes and seeds than the visible one)" if step.hidden else ""
                return self._fail(cell, "CheckFailed", f"{failure}{note}")
            except (Exception, SystemExit) as error:  # the grader's own trouble: that test fails, and the row says so
                last = traceback.format_exception_only(error)[-1].strip()[:300]
                return self._fail(
                    cell, "GraderError", f"judging {CHECK_PREFIX}{step.check} failed in the grader: {last}"
                )
            if not step.hidden:
                cell.outputs.append(new_output("stream", name="stdout", text=f"\u2714 {message}\n"))
        if any(step.hidden for step, params in steps if params is not None):
            cell.outputs.append(new_output("stream", name="stdout", text="\u2714 the hidden tests pass too\n"))

    def _refuse_delegation(self, check, call):
        """Fails when the code of an object the probe runs delegates its exercise (judged on the student's code)."""
        from autograde.grading.delegation_review import delegation, probe_exercises

        exercises = probe_exercises(check.probe)
        if not exercises:
            return
        code_cells = [c for c in self.nb.cells if c.cell_type == "code"]
        student = [c.source for c in code_cells if cell_origin(c) == STUDENT]
        others = [c.source for c in code_cells if cell_origin(c) == INSTRUCTOR]
        for arg in call.args:
            name = arg.strip()
            if not name.isidentifier():
                continue
            for exercise in exercises:
                refused = delegation(exercise, student, others, name)
                if refused:
                    raise CheckFailed(refused)

    def _fail(self, cell, ename, message):
        cell.outputs.append(new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]))

    async def _async_request(self, code, cell, user_expressions=None):
        """Runs ``code`` in the kernel, silently and out of its history; returns the reply's content.

        Raises ProbeTimeout when the kernel does not answer within the cell's time limit (the kernel is interrupted).
        """
        msg_id = self.kc.execute(
            code,
            silent=True,
            store_history=False,
            allow_stdin=False,
            stop_on_error=False,
            user_expressions=user_expressions or {},
        )
        try:
            reply = await self.async_wait_for_reply(msg_id, cell)
        except CellTimeoutError:
            reply = None
        if reply is None or reply.get("content", {}).get("ename") == "CellTimeoutError":
            if not self.interrupt_on_timeout:  # nbclient interrupts only when told to; a probe must not block the rest
                await ensure_async(self.km.interrupt_kernel())
            raise ProbeTimeout(
                "it ran past the cell's time limit and was interrupted (an endless loop, or far too slow)"
            )
        return reply.get("content")

    def _observations(self, reply):
        if reply.get("status") != "ok":
            raise CheckFailed(f"the probe could not run: {_reply_error(reply)}")
        answer = (reply.get("user_expressions") or {}).get("observed") or {}
        if answer.get("status") != "ok":
            raise CheckFailed(
                f"the probe could not run: {answer.get('ename', '?')}: {str(answer.get('evalue', ''))[:300]}"
            )
        text = (answer.get("data") or {}).get("text/plain", "")
        if len(text) > self.max_observation_chars * 2 + 2:
            raise CheckFailed(
                f"the probe's observations are larger than the {self.max_observation_chars:,} characters allowed"
            )
        try:
            return decode(ast.literal_eval(text), self.max_observation_chars)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
            raise CheckFailed(
                f"the probe's observations could not be read ({str(error)[:200]}): was the probe replaced?"
            ) from None


def _reply_error(reply):
    if reply is None:
        return "no answer from the kernel in time"
    return f"{reply.get('ename', '?')}: {str(reply.get('evalue', ''))[:300]}"


@functools.lru_cache(maxsize=8)
def _solution_test_sources(path, mtime):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return {grade_id_of(cell): cell.source for cell in notebook.cells if is_test(cell)}


def test_sources(course: Course, lab: str) -> dict[str, str]:
    """grade_id -> the source of that test cell in the lab's solution notebook (hidden tests included)."""
    path = course.solution_notebook(lab)
    return _solution_test_sources(str(path), path.stat().st_mtime_ns)


def planned_steps(
    lab: str, source: str, seed_key: str | None = None, grade_id: str = ""
) -> list[tuple[Setup, None] | tuple[ProbeCall, dict[str, typing.Any]]]:
    """A test cell's steps, each with its bound arguments: ``(Setup, None)`` or ``(ProbeCall, params)``.

    With ``seed_key`` (``""`` included), the n-th probe call's seed is :func:`seed_for` (key, test, n); without it
    the cell's own seeds stay. Raises TestPlanError for a cell the grader cannot judge.
    """
    steps, index = [], 0
    for step in plan_test_cell(source):
        if isinstance(step, Setup):
            steps.append((step, None))
            continue
        seed = seed_for(seed_key, grade_id, index) if seed_key is not None else None
        steps.append((step, bound_params(get_check(lab, step.check), step, seed)))
        index += 1
    return steps


def judged_params(
    lab: str, source: str, seed_key: str | None = None, grade_id: str = ""
) -> list[tuple[ProbeCall, dict[str, typing.Any]]]:
    """Every probe call of a test cell's source with its bound arguments (see :func:`planned_steps`)."""
    return [(step, params) for step, params in planned_steps(lab, source, seed_key, grade_id) if params is not None]


__all__ = [
    "JudgedCells",
    "ProbeCall",
    "Setup",
    "TestPlanError",
    "expectation",
    "get_check",
    "judge",
    "judged_params",
    "plan_test_cell",
    "planned_steps",
    "probe_code",
    "seed_for",
    "submission_seed_key",
]
