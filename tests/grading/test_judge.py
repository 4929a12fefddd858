"""Test cells judged in the grader (autograde.grading.judge): planning, seeds, what reaches the kernel, what comes back."""

import json

import nbformat
import numpy as np
import pytest

from autograde.grading.judge import (
    ProbeCall,
    Setup,
    TestPlanError as PlanError,  # as TestPlanError, pytest would take it for a test class
    bound_params,
    get_check,
    judge,
    plan_test_cell,
    probe_code,
    seed_for,
)
from course_utils.checks import CheckFailed
from course_utils.checks.probing import ARRAY, decode, encode, run_probe

LAB = "lab1_rnns_from_scratch"
CELL = """\
# Test 1.1b
x = 1
checks.check_rnn_cell_matches_simple_rnn(MyRNNCell, batch=2, steps=5, input_dim=3, units=4, seed=0)
### BEGIN HIDDEN TESTS
checks.check_rnn_cell_matches_simple_rnn(MyRNNCell, batch=3, steps=9, input_dim=5, units=7, seed=11)
### END HIDDEN TESTS
"""


def test_a_test_cell_is_planned_into_setup_and_probe_calls():
    steps = plan_test_cell(CELL)
    assert [type(s) for s in steps] == [Setup, ProbeCall, ProbeCall]
    assert steps[0].source == "x = 1"
    assert [s.hidden for s in steps[1:]] == [False, True]
    assert steps[2].args == ("MyRNNCell", "batch=3", "steps=9", "input_dim=5", "units=7", "seed=11")


def test_seeds_are_drawn_per_submission_and_test_and_call():
    check = get_check(LAB, "rnn_cell_matches_simple_rnn")
    call = plan_test_cell(CELL)[2]
    params = bound_params(check, call, seed_for("key-a", "test_x", 1))
    assert params == {"batch": 3, "steps": 9, "input_dim": 5, "units": 7, "seed": seed_for("key-a", "test_x", 1)}
    assert params["seed"] != 11
    seeds = {seed_for(key, test, i) for key in ("key-a", "key-b") for test in ("t1", "t2") for i in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**31 for s in seeds)
    assert seed_for("key-a", "t1", 0) == seed_for("key-a", "t1", 0)  # a rerun draws the same


def test_the_kernel_gets_the_probe_call_and_nothing_of_the_test_cell():
    check = get_check(LAB, "rnn_cell_matches_simple_rnn")
    call = plan_test_cell(CELL)[2]
    code = probe_code(LAB, call, bound_params(check, call, 123))
    assert "probe_rnn_cell_matches_simple_rnn, MyRNNCell, batch=3, steps=9, input_dim=5, units=7, seed=123)" in code
    for secret in ("HIDDEN", "check_", "seed=11", "expect", "references"):
        assert secret not in code


@pytest.mark.parametrize(
    "source, message",
    [
        ("checks.check_rnn_cell_weights(MyRNNCell, input_dim=n, units=4)", "input_dim must be written as a literal"),
        ("checks.check_rnn_cell_weights(*args)", "may not use"),
        ("checks.check_no_such_thing(MyRNNCell)", "has no check called check_no_such_thing"),
    ],
)
def test_a_test_cell_the_grader_cannot_judge_says_why(source, message):
    with pytest.raises(PlanError, match=message):
        call = plan_test_cell(source)[0]
        bound_params(get_check(LAB, call.check), call)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x" * 100, "Expecting value"),
        (json.dumps({"a": {ARRAY: ["|O", [1], "AA=="]}}), "not accepted"),
        (json.dumps({"a": {ARRAY: ["<f8", [1000], "AAAAAAAAAAA="]}}), "does not fit its shape"),
        (json.dumps({"a": {ARRAY: ["<f8", [-1], ""]}}), "does not fit its shape"),
        (json.dumps({"a": [1] * 10}), "more than the 10 allowed"),
    ],
)
def test_observations_are_parsed_safely(text, message):
    with pytest.raises(ValueError, match=message):
        decode(text, max_chars=10 if "more than" in message else 16_000_000)


def test_observations_round_trip_arrays_and_plain_data():
    observed = {
        "a": np.arange(6, dtype="float32").reshape(2, 3),
        "b": [1, "x", None, True],
        "c": {"d": np.float64(2.5)},
        "nan": float("nan"),
    }
    back = decode(encode(observed))
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3) and back["b"] == [1, "x", None, True]
    assert back["c"]["d"] == 2.5 and np.isnan(back["nan"])
    with pytest.raises(TypeError, match="plain data"):
        encode({"x": object()})


def test_a_probe_that_fails_or_raises_becomes_a_failure_not_a_crash():
    def raises():
        raise NotImplementedError("Replace this line with your code")

    def exits():
        raise SystemExit(0)

    call = plan_test_cell("checks.check_rnn_cell_weights(MyRNNCell)")[0]
    for probe, message in (
        (raises, "your code raised NotImplementedError: Replace"),
        (exits, "your code raised SystemExit"),
    ):
        with pytest.raises(CheckFailed, match=message):
            judge(LAB, call, {"input_dim": 3, "units": 4}, decode(run_probe(probe)))


@pytest.mark.parametrize(
    "observed",
    [
        {},  # the probe replaced by one that returns nothing
        {"state_size": 4, "weight_shapes": "all of them"},
        {"recorded": True, "answer": None, "shown": "?"},  # another check's observations
    ],
)
def test_forged_observations_of_the_wrong_form_fail(observed):
    call = plan_test_cell("checks.check_rnn_cell_weights(MyRNNCell)")[0]
    with pytest.raises(CheckFailed):
        judge(LAB, call, {"input_dim": 3, "units": 4}, observed)


@pytest.mark.parametrize(
    "observed",
    [
        {"__failed__": "A" * 1_000_000},  # a replaced probe failing with a huge message
        {"recorded": True, "value": 1.0, "shown": "A" * 1_000_000},  # an answer whose repr was forged
    ],
)
def test_forged_failure_messages_are_cut(observed):
    # The grader writes the message into the test cell past the output caps: a 15 MB one made a 32 MB notebook.
    from autograde.grading.judge import MAX_MESSAGE_CHARS

    call = plan_test_cell('checks.check_answer(answers, "smallest_rho")')[0]
    with pytest.raises(CheckFailed) as failure:
        judge(LAB, call, {"name": "smallest_rho"}, observed)
    assert MAX_MESSAGE_CHARS < len(str(failure.value)) < MAX_MESSAGE_CHARS + 100


def test_replayed_observations_of_the_visible_seed_fail_under_the_drawn_seed(course):
    # What a student could store from a self-check (the visible seed) does not pass the grader's seed.
    from autograde.grading.judge import expectation

    visible = expectation(
        LAB, "rnn_cell_matches_simple_rnn", {"batch": 2, "steps": 5, "input_dim": 3, "units": 4, "seed": 0}
    )
    call = plan_test_cell(CELL)[1]
    replayed = {
        **visible,
        "without_recurrent_kernel": np.zeros_like(visible["outputs"]),
        "without_bias": np.zeros_like(visible["outputs"]),
    }
    with pytest.raises(CheckFailed, match="outputs differ"):
        judge(LAB, call, {"batch": 2, "steps": 5, "input_dim": 3, "units": 4, "seed": seed_for("k", "t", 0)}, replayed)
    assert judge(LAB, call, {"batch": 2, "steps": 5, "input_dim": 3, "units": 4, "seed": 0}, replayed)


STUB = "class MyRNNCell:\n    def __init__(self, units):\n        raise NotImplementedError('Replace this line with your code')\n"


def tiny_notebook(student_source, test_source):
    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("from course_utils.checks import lab1 as checks\nimport keras, tensorflow as tf")
    answer = nbformat.v4.new_code_cell(student_source)
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "my_rnn_cell", "locked": False}
    test = nbformat.v4.new_code_cell(test_source)
    test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "test_cell", "points": 1, "locked": True}
    notebook.cells = [setup, answer, test]
    return notebook


def run_judged(tmp_path, notebook, timeout=60):
    from autograde.authoring.solutions import execute_notebook

    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    executed, run = execute_notebook(path, tmp_path, cell_timeout=timeout, lab=LAB, seed_key="test")
    return executed, run


@pytest.mark.slow  # starts a kernel
def test_in_a_kernel_hooks_and_patches_earn_nothing_and_the_test_text_never_arrives(tmp_path, course):
    attack = STUB + (
        "import course_utils.checks.probing as probing, json\n"
        "seen = []\n"
        "get_ipython().events.register('pre_execute', lambda: seen.append(get_ipython().user_ns.get('_ih', [''])[-1]))\n"
        "get_ipython().input_transformer_manager.line_transforms.append(lambda lines: seen.append(''.join(lines)) or lines)\n"
        "probing.run_probe = lambda probe, *a, **k: json.dumps({'state_size': k.get('units'), 'weight_shapes': []})\n"
        "checks.check_rnn_cell_weights = lambda *a, **k: None\n"
    )
    test = (
        "checks.check_rnn_cell_matches_simple_rnn(MyRNNCell, batch=2, steps=5, input_dim=3, units=4, seed=0)\n"
        "### BEGIN HIDDEN TESTS\nchecks.check_rnn_cell_weights(MyRNNCell, input_dim=7, units=2)\n### END HIDDEN TESTS\n"
    )
    notebook = tiny_notebook(attack, test)
    notebook.cells.append(nbformat.v4.new_code_cell("print('SEEN', seen)"))
    executed, run = run_judged(tmp_path, notebook)
    [result] = run.tests
    assert not result.passed and "CheckFailed" in result.failure
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    # The hooks saw the student's own cells and the grader's bare requests ("pass"), never the test cell's text.
    assert "SEEN" in printed and "pass" in printed
    assert "BEGIN HIDDEN" not in printed and "input_dim=7" not in printed and "seed=0" not in printed


@pytest.mark.slow  # starts a kernel
def test_a_probe_that_never_ends_fails_its_test_and_the_notebook_goes_on(tmp_path):
    looping = STUB.replace(
        "raise NotImplementedError('Replace this line with your code')", "while True:\n            pass"
    )
    notebook = tiny_notebook(looping, "checks.check_rnn_cell_weights(MyRNNCell)")
    notebook.cells.append(nbformat.v4.new_code_cell("print('still running')"))
    executed, run = run_judged(tmp_path, notebook, timeout=20)  # the setup cell imports TensorFlow within it
    assert "CellTimeoutError" in run.tests[0].failure
    assert "still running" in "".join(o.get("text", "") for o in executed.cells[-1].outputs)
