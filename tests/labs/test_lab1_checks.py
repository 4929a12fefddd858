"""The Lab 1 checks pass the reference solution and catch typical mistakes with a useful message.

Each check is judged as the grader judges it (``judged``, ``fails_with``: the probe, then the private references'
expectation for any arguments), and, where the arguments are those of the solution's visible test cells, as the
student's self-check runs it too (``checks.check_<name>``: the probe, then the expectation stored in
``course_utils/checks/expected/lab1.json``).
"""

import inspect
import json

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from helpers import fails_with, judged, solution_namespace
from keras import ops
from tensorflow import clip_by_global_norm as clip_alias  # aliases taken before any check runs

from autograde.cells import is_test
from autograde.grading.judge import expectation, get_check, judged_params
from autograde.grading.references import lab1 as references, stored_differences
from autograde.grading.references.lab1 import (
    _reference_jacobian_norms as reference_alias,  # private, but importable here
)
from course_utils.checks import CheckFailed, lab1 as checks
from course_utils.checks.probing import EXPECTED_DIR

LAB = "lab1_rnns_from_scratch"


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, LAB)


def caught_by_self_check(pattern, check, *args, **kwargs):
    """Asserts that the student's self-check (the probe, then the stored expectation) rejects a wrong implementation
    with a message matching ``pattern``: for mistakes probed with a visible test cell's arguments."""
    with pytest.raises(CheckFailed, match=pattern):
        check(*args, **kwargs)


def test_reference_solution_passes_every_check(solution):
    judged(checks.check_rnn_cell_weights, solution["MyRNNCell"], input_dim=5, units=3)
    judged(
        checks.check_rnn_cell_matches_simple_rnn, solution["MyRNNCell"], batch=2, steps=4, input_dim=2, units=3, seed=5
    )
    judged(checks.check_rnn_model, solution["build_rnn_model"], solution["MyRNNCell"], seed=5)
    judged(checks.check_rnn_step_backward, solution["rnn_step_backward"], batch=2, input_dim=3, units=4, seed=5)
    judged(checks.check_rnn_backward, solution["rnn_backward"], batch=2, steps=4, input_dim=2, units=3, seed=5)
    judged(checks.check_jacobian_norms, solution["jacobian_norms"], units=5, steps=7, seed=5)
    judged(checks.check_clip_gradients, solution["clip_gradients"], seed=5)
    judged(checks.check_lstm_cell, solution["MyLSTMCell"], batch=2, steps=4, input_dim=2, units=3, seed=5)
    judged(
        checks.check_peephole_lstm_cell, solution["MyPeepholeLSTMCell"], batch=2, steps=4, input_dim=2, units=3, seed=5
    )
    judged(checks.check_recall_task, solution["make_selective_recall"], num_examples=100, length=10, seed=5)


def lab1_check_calls(course, seed_key=None):
    """(call, arguments) of every Lab 1 check call of the solution's test cells, the hidden ones included, with the
    arguments bound as the grader binds them (each seed drawn for a submission whose key is ``seed_key``, if given)."""
    solution = nbformat.read(course.solution_notebook(LAB), as_version=4)
    for cell in solution.cells:
        if is_test(cell):
            for call, params in judged_params(
                LAB, cell.source, seed_key=seed_key, grade_id=cell.metadata["nbgrader"]["grade_id"]
            ):
                if call.check != "prediction":  # shared by every lab, tested with the predictions
                    yield call, params


def call_arguments(namespace, call, params):
    """The objects of ``call`` (its arguments that are not literals), evaluated in ``namespace``, and ``params``."""
    names = list(get_check(LAB, call.check).signature.parameters)
    positional = len(call.params["__positional__"])
    objects = [eval(arg, namespace) for i, arg in enumerate(call.args[:positional]) if names[i] not in params]  # noqa: S307
    keywords = dict(arg.split("=", 1) for arg in call.args[positional:])
    objects_by_name = {name: eval(value, namespace) for name, value in keywords.items() if name not in params}  # noqa: S307
    return objects, {**objects_by_name, **params}


@pytest.mark.slow  # every visible and hidden call of the notebook, for two submissions (as Labs 3 and 4 mark theirs)
@pytest.mark.parametrize("seed_key", ["any", "another submission"])
def test_the_solution_passes_every_test_cell_call_with_drawn_seeds(course, solution, seed_key):
    # As the grader judges a submission: the seeds drawn for it, the hidden calls included.
    for call, params in lab1_check_calls(course, seed_key):
        objects, arguments = call_arguments(solution, call, params)
        check = get_check(LAB, call.check)
        if call.check == "answer":  # shared by every lab (course_utils.checks): judged against this lab's references
            check.compare(check.probe(*objects, **arguments), expectation(LAB, call.check, params), **params)
        else:
            judged(check, *objects, **arguments)


def test_the_self_checks_pass_the_solution_from_stored_data_alone(course, solution):
    visible = [(call, params) for call, params in lab1_check_calls(course) if not call.hidden]
    assert {call.check for call, _ in visible} == {
        name.removeprefix("check_") for name in checks.__all__ if name.startswith("check_")
    } - {"prediction", "answer"}  # check_answer runs in hidden tests only
    for call, params in visible:
        objects, arguments = call_arguments(solution, call, params)
        get_check(LAB, call.check)(*objects, **arguments)


def test_the_stored_expectations_are_those_of_the_references(course):
    assert stored_differences(course, LAB) == []


def test_the_stored_expectations_are_small():
    stored = json.loads((EXPECTED_DIR / "lab1.json").read_text())
    for name, entries in stored.items():
        for entry in entries:
            assert len(json.dumps(entry)) < 8_000, name


def test_the_public_module_holds_no_reference_or_mistake_variant():
    for name in (
        "_reference_jacobian_norms",
        "_reference_peephole_lstm",
        "_reference_step_backward",
        "_reference_rnn_backward",
        "_tape_gradients",
        "_mistakes",
        "QUESTIONS",
        "_sigmoid",
        "_randomise",
        "_random_weights_like",
        "WRONG_GATE_ORDERS",
        "gate_blocks_as_read",
        "_gate_order_fingerprints",
    ):
        assert not hasattr(checks, name), name
    source = inspect.getsource(checks)
    for computation in (
        "tf.clip_by_global_norm(",
        "tf.keras.layers.LSTM(",
        "tf.keras.layers.SimpleRNN(",
        "itertools.permutations",
    ):
        assert computation not in source, computation


def test_rnn_cell_with_transposed_kernel(solution):
    class Transposed(solution["MyRNNCell"]):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(self.units, input_shape[-1]))
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units))
            self.bias = self.add_weight(shape=(self.units,))

    fails_with(r"kernel .*expected shape \(3, 4\), got \(4, 3\)", checks.check_rnn_cell_weights, Transposed, 3, 4)


def test_rnn_cell_ignoring_the_previous_state(solution):
    class Forgetful(solution["MyRNNCell"]):
        def call(self, inputs, states):
            h = tf.tanh(tf.matmul(inputs, self.kernel) + self.bias)
            return h, [h]

    fails_with(
        "at step 1; step 0 matches.*recurrent_kernel is not used", checks.check_rnn_cell_matches_simple_rnn, Forgetful
    )
    caught_by_self_check(
        "at step 1; step 0 matches.*recurrent_kernel is not used", checks.check_rnn_cell_matches_simple_rnn, Forgetful
    )


def test_rnn_cell_without_bias(solution):
    class NoBias(solution["MyRNNCell"]):
        def call(self, inputs, states):
            h = tf.tanh(tf.matmul(inputs, self.kernel) + tf.matmul(states[0], self.recurrent_kernel))
            return h, [h]

    fails_with("at step 0.*bias is not used", checks.check_rnn_cell_matches_simple_rnn, NoBias)


def test_rnn_model_without_output_layer(solution):
    def no_dense(input_dim, units, output_dim, return_sequences=True):
        return tf.keras.Sequential(
            [
                tf.keras.Input((None, input_dim)),
                tf.keras.layers.RNN(solution["MyRNNCell"](units), return_sequences=return_sequences),
            ]
        )

    fails_with(r"expected shape \(2, 6, 2\), got \(2, 6, 5\)", checks.check_rnn_model, no_dense, solution["MyRNNCell"])
    caught_by_self_check(
        r"expected shape \(2, 6, 2\), got \(2, 6, 5\)", checks.check_rnn_model, no_dense, solution["MyRNNCell"]
    )


def test_rnn_model_with_an_extra_layer(solution):
    def deeper(input_dim, units, output_dim, return_sequences=True):
        return tf.keras.Sequential(
            [
                tf.keras.Input((None, input_dim)),
                tf.keras.layers.RNN(solution["MyRNNCell"](units), return_sequences=return_sequences),
                tf.keras.layers.Dense(units),
                tf.keras.layers.Dense(output_dim),
            ]
        )

    fails_with(
        r"^expected 57 parameters \(RNN: 3\*5 \+ 5\*5 \+ 5, Dense: 5\*2 \+ 2\), got 87$",
        checks.check_rnn_model,
        deeper,
        solution["MyRNNCell"],
    )
    caught_by_self_check("expected 57 parameters", checks.check_rnn_model, deeper, solution["MyRNNCell"])


def test_rnn_model_whose_many_to_one_output_is_not_the_last_step(solution):
    def first_step(input_dim, units, output_dim, return_sequences=True):
        model = solution["build_rnn_model"](input_dim, units, output_dim, return_sequences=True)
        if return_sequences:
            return model
        return tf.keras.Model(model.inputs, model.outputs[0][:, 0])

    fails_with(
        "many-to-one output vs the last step of many-to-many: differs",
        checks.check_rnn_model,
        first_step,
        solution["MyRNNCell"],
    )


def test_rnn_model_with_an_activation_on_the_output(solution):
    def squashed(input_dim, units, output_dim, return_sequences=True):
        return tf.keras.Sequential(
            [
                tf.keras.Input((None, input_dim)),
                tf.keras.layers.RNN(solution["MyRNNCell"](units), return_sequences=return_sequences),
                tf.keras.layers.Dense(output_dim, activation="tanh"),
            ]
        )

    fails_with(r"y_t = h_t W_hy \+ b_y at every step: differs", checks.check_rnn_model, squashed, solution["MyRNNCell"])


def test_jacobian_norms_in_reverse_order(solution):
    fails_with("reverse order", checks.check_jacobian_norms, lambda w, u: solution["jacobian_norms"](w, u)[::-1])


def test_jacobian_norms_without_tanhs_derivative(solution):
    def linear(w, u):  # a backward step that forgets tanh's derivative: every factor is W^T
        product, norms = np.eye(len(w)), []
        for _ in range(len(u)):
            product = product @ w.T
            norms.append(np.linalg.norm(product))
        return np.array(norms)

    fails_with("your norms are those of a linear RNN", checks.check_jacobian_norms, linear)
    caught_by_self_check("your norms are those of a linear RNN", checks.check_jacobian_norms, linear)


def test_jacobian_norms_one_short(solution):
    fails_with(
        r"expected 4 norms \(one per distance T-k = 1..4\), got 3",
        checks.check_jacobian_norms,
        lambda w, u: solution["jacobian_norms"](w, u)[:-1],
        units=3,
        steps=4,
    )


def test_jacobian_norms_computed_with_a_tape_are_refused(solution):
    def with_tape(w, u):
        steps, units = u.shape
        h = tf.zeros((1, units), tf.float64)
        states = [h]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(h)
            for t in range(steps):
                h = tf.tanh(u[t : t + 1] + h @ w)
                states.append(h)
        return np.array([tf.norm(tape.jacobian(states[-1], states[-1 - j])).numpy() for j in range(1, steps + 1)])

    fails_with("^jacobian_norms calls tf.GradientTape", checks.check_jacobian_norms, with_tape)


def test_reference_jacobian_norms_without_tanhs_derivative_are_powers_of_the_matrix():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    norms = references._reference_jacobian_norms(0.9 * q, np.zeros((5, 8)), activation="identity")
    np.testing.assert_allclose(norms, np.sqrt(8) * 0.9 ** np.arange(1, 6))


# --- backpropagation through time by hand ---------------------------------------------------------------------------


def centred_differences(batch, steps, input_dim, units, seed, last_step_only=False, eps=1e-6):
    """The gradients of sum_t sum(h_t * dh_t) by centred finite differences in float64, by name (dx, dh0, ...)."""
    draws = checks.rnn_backward_draws(batch, steps, input_dim, units, seed, last_step_only)
    names = {"x": "dx", "h0": "dh0", "W_xh": "dW_xh", "W_hh": "dW_hh", "b": "db"}

    def loss():
        h, total = draws["h0"], 0.0
        for t in range(steps):
            h = np.tanh(draws["x"][:, t] @ draws["W_xh"] + h @ draws["W_hh"] + draws["b"])
            total += np.sum(h * draws["dh"][:, t])
        return total

    gradients = {}
    for name, gradient in names.items():
        array, grad = draws[name], np.zeros_like(draws[name])
        for i in np.ndindex(array.shape):
            saved = array[i]
            array[i] = saved + eps
            up = loss()
            array[i] = saved - eps
            down = loss()
            array[i] = saved
            grad[i] = (up - down) / (2 * eps)
        gradients[gradient] = grad
    return gradients


@pytest.mark.parametrize("last_step_only", [False, True])
def test_the_tapes_gradients_and_the_numpy_reference_agree_with_centred_differences(last_step_only):
    sizes = {"batch": 2, "steps": 4, "input_dim": 3, "units": 5, "seed": 3, "last_step_only": last_step_only}
    numerical = centred_differences(**sizes)
    expected = references.expect_rnn_backward(**sizes)["gradients"]
    dh, caches = checks.rnn_backward_inputs(**sizes)
    by_hand = dict(zip(checks.BACKWARD_GRADIENTS, references._reference_rnn_backward(dh, caches)))
    for name in checks.BACKWARD_GRADIENTS:
        np.testing.assert_allclose(expected[name], numerical[name], rtol=1e-6, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(by_hand[name], expected[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_float32_answer_passes(solution):
    def in_float32(dh, cache):
        return tuple(g.astype("float32") for g in solution["rnn_step_backward"](dh, cache))

    judged(checks.check_rnn_step_backward, in_float32)


def step_with(da_of, dx=None, dh_prev=None, dW_xh=None, dW_hh=None, db=None):
    """A backward step written right, except for the parts given (each a function of da and the cache)."""

    def step_backward(dh, cache):
        x, h_prev, W_xh, W_hh, h = cache
        da = da_of(dh, cache)
        right = {
            "dx": lambda: da @ W_xh.T,
            "dh_prev": lambda: da @ W_hh.T,
            "dW_xh": lambda: x.T @ da,
            "dW_hh": lambda: h_prev.T @ da,
            "db": lambda: da.sum(axis=0),
        }
        given = {"dx": dx, "dh_prev": dh_prev, "dW_xh": dW_xh, "dW_hh": dW_hh, "db": db}
        return tuple(right[n]() if given[n] is None else given[n](da, cache) for n in checks.BACKWARD_STEP_GRADIENTS)

    return step_backward


def tanh_derivative(dh, cache):
    return dh * (1.0 - cache[4] ** 2)


@pytest.mark.parametrize(
    "step_backward, message",
    [
        (step_with(lambda dh, cache: dh), "^dx differs .*: it is what you get without tanh's derivative"),
        (
            step_with(lambda dh, cache: dh * (1.0 - cache[1] ** 2)),
            "^dx differs .*: it is what you get with tanh's derivative taken at h_prev",
        ),
        (
            step_with(tanh_derivative, dh_prev=lambda da, cache: da @ cache[3]),
            "^dh_prev differs .*: it is what you get with a matrix transposed",
        ),
        (
            step_with(tanh_derivative, dW_hh=lambda da, cache: da.T @ cache[1]),
            "^dW_hh differs .*: it is what you get with a matrix transposed",
        ),
        (
            step_with(tanh_derivative, db=lambda da, cache: da.mean(axis=0)),
            "^db differs .*: it is the mean over the batch",
        ),
        (
            step_with(tanh_derivative, db=lambda da, cache: da),
            r"^db: expected shape \(5,\), got \(3, 5\): b is added to every row of the batch",
        ),
        (
            step_with(tanh_derivative, dW_xh=lambda da, cache: da.T @ cache[0]),
            r"^dW_xh: expected shape \(4, 5\), got \(5, 4\): a weight's gradient has the weight's shape",
        ),
        (lambda dh, cache: (dh, dh), r"^rnn_step_backward should return a tuple of 5 arrays"),
    ],
    ids=[
        "no tanh'",
        "tanh' at h_prev",
        "dh_prev transposed",
        "dW_hh transposed",
        "db averaged",
        "db not summed",
        "dW_xh transposed",
        "two values",
    ],
)
def test_step_backward_mistakes_are_named(step_backward, message):
    fails_with(message, checks.check_rnn_step_backward, step_backward)
    caught_by_self_check(message, checks.check_rnn_step_backward, step_backward)


def test_a_transposed_input_gradient_of_a_square_kernel_is_named():
    # With input_dim == units the shapes cannot tell: the hidden tests have such a case.
    fails_with(
        "^dx differs .*: it is what you get with a matrix transposed",
        checks.check_rnn_step_backward,
        step_with(tanh_derivative, dx=lambda da, cache: da @ cache[2]),
        batch=1,
        input_dim=6,
        units=6,
        seed=23,
    )


def backward_with(solution, order="backwards", combine=lambda upstream, carried: upstream + carried, accumulate=True):
    """rnn_backward written with the solution's step, in the given order, combining and accumulating as told."""

    def rnn_backward(dh, caches):
        steps = len(caches)
        dx, weights, carried = [None] * steps, None, np.zeros_like(dh[:, 0])
        for t in reversed(range(steps)) if order == "backwards" else range(steps):
            dx[t], carried, *step = solution["rnn_step_backward"](combine(dh[:, t], carried), caches[t])
            weights = step if weights is None or not accumulate else [w + g for w, g in zip(weights, step)]
        return (np.stack(dx, axis=1), carried, *weights)

    return rnn_backward


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda s: backward_with(s, combine=lambda up, carried: up),
            r"the gradient that flows back to h_\(t-1\) is dropped",
        ),
        (
            lambda s: backward_with(s, combine=lambda up, carried: carried if np.any(carried) else up),
            "replaces the upstream",
        ),
        (lambda s: backward_with(s, accumulate=False), "^dW_xh differs .*: it is one step's gradient"),
        (lambda s: backward_with(s, order="forwards"), "it is what you get going forwards in time"),
        (
            lambda s: lambda dh, caches: (lambda r: (r[0][:, ::-1], *r[1:]))(s["rnn_backward"](dh, caches)),
            "^dx differs .*: its steps are in reverse order",
        ),
    ],
    ids=["recurrent gradient dropped", "upstream replaced", "weights not accumulated", "forwards", "dx reversed"],
)
def test_sequence_backward_mistakes_are_named(solution, make, message):
    fails_with(message, checks.check_rnn_backward, make(solution))
    caught_by_self_check(message, checks.check_rnn_backward, make(solution))


def test_dropping_the_recurrent_gradient_is_caught_when_only_the_last_state_counts(solution):
    fails_with(
        r"the gradient that flows back to h_\(t-1\) is dropped",
        checks.check_rnn_backward,
        backward_with(solution, combine=lambda up, carried: up),
        batch=2,
        steps=7,
        input_dim=2,
        units=3,
        seed=26,
        last_step_only=True,
    )


def test_backward_passes_with_a_tape_are_refused():
    def step_with_tape(dh, cache):
        x, h_prev, W_xh, W_hh, h = (tf.constant(a) for a in cache)
        b = tf.constant(np.arctanh(cache[4]) - cache[0] @ cache[2] - cache[1] @ cache[3])
        with tf.GradientTape() as tape:
            tape.watch([x, h_prev, W_xh, W_hh, b])
            out = tf.tanh(x @ W_xh + h_prev @ W_hh + b[0])
        return tuple(
            g.numpy() for g in tape.gradient(out, [x, h_prev, W_xh, W_hh, b], output_gradients=tf.constant(dh))
        )

    fails_with("^rnn_step_backward calls tf.GradientTape", checks.check_rnn_step_backward, step_with_tape)


def test_backward_passes_calling_the_checks_reference_are_refused():
    refused = "calls the check's reference, which is the exercise itself"
    fails_with("^rnn_step_backward " + refused, checks.check_rnn_step_backward, references._reference_step_backward)
    fails_with("^rnn_backward " + refused, checks.check_rnn_backward, references._reference_rnn_backward)


def global_norm(grads):
    """Written out: tf.linalg.global_norm is refused inside clip_gradients."""
    return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads if g is not None]))


def test_clip_that_always_rescales():
    def always(grads, max_norm):
        norm = global_norm(grads)
        return [None if g is None else g * max_norm / norm for g in grads], norm

    fails_with("below max_norm.*scaled by 1", checks.check_clip_gradients, always)
    caught_by_self_check("below max_norm.*scaled by 1", checks.check_clip_gradients, always)


def test_clip_dropping_none_entries(solution):
    def drops_none(grads, max_norm):
        return solution["clip_gradients"]([g for g in grads if g is not None], max_norm)

    fails_with("None entries.*returned", checks.check_clip_gradients, drops_none)


def test_clip_that_slices_every_gradient_fails_on_the_hidden_edge_cases(solution):
    def sliced(grads, max_norm):  # g[:] assumes every gradient has an axis: a scalar has none
        sliced_grads = [None if g is None else g[:] for g in grads]
        clipped, _ = solution["clip_gradients"](sliced_grads, max_norm)
        return clipped, global_norm(sliced_grads)

    judged(checks.check_clip_gradients, sliced, seed=16)
    fails_with("your code raised", checks.check_clip_gradients, sliced, seed=16, edge_cases=True)


def test_clip_dividing_by_zero():
    def unguarded(grads, max_norm):
        norm = global_norm(grads)
        return [None if g is None else g / norm * tf.minimum(norm, max_norm) for g in grads], norm

    fails_with("all-zero.*NaN", checks.check_clip_gradients, unguarded)
    caught_by_self_check("all-zero.*NaN", checks.check_clip_gradients, unguarded)


def test_clip_returning_a_list():
    fails_with(
        r"should return a pair \(clipped_grads, global_norm\)",
        checks.check_clip_gradients,
        lambda grads, max_norm: [grads, global_norm(grads)],
    )


def test_clip_replacing_none_by_zeros(solution):
    def zeros_for_none(grads, max_norm):
        clipped, norm = solution["clip_gradients"](grads, max_norm)
        return [tf.zeros([1]) if g is None else g for g in clipped], norm

    fails_with(r"grads\[0\] is None .* must stay None", checks.check_clip_gradients, zeros_for_none)


def test_lstm_with_gates_in_the_wrong_order(solution):
    class WrongOrder(solution["MyLSTMCell"]):
        def call(self, inputs, states):
            h_prev, c_prev = states
            z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel) + self.bias
            z_i, z_c, z_f, z_o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(z_f) * c_prev + tf.sigmoid(z_i) * tf.tanh(z_c)
            h = tf.sigmoid(z_o) * tf.tanh(c)
            return h, [h, c]

    fails_with("order i, c, f, o: Keras packs them i, f, c, o", checks.check_lstm_cell, WrongOrder)
    caught_by_self_check("order i, c, f, o: Keras packs them i, f, c, o", checks.check_lstm_cell, WrongOrder)


@pytest.mark.parametrize("order", ["fcio", "oifc"])
def test_lstm_reading_the_gates_in_a_cycled_order_is_told_which(solution, order):
    # Not its own inverse, unlike i, c, f, o: the fingerprints must name the order the cell reads, not its inverse.
    class Cycled(solution["MyLSTMCell"]):
        def call(self, inputs, states):
            h_prev, c_prev = states
            z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel) + self.bias
            z = dict(zip(order, tf.split(z, 4, axis=-1)))
            c = tf.sigmoid(z["f"]) * c_prev + tf.sigmoid(z["i"]) * tf.tanh(z["c"])
            h = tf.sigmoid(z["o"]) * tf.tanh(c)
            return h, [h, c]

    fails_with(f"order {', '.join(order)}: Keras packs them i, f, c, o", checks.check_lstm_cell, Cycled, seed=3)


def test_lstm_returning_states_swapped(solution):
    class Swapped(solution["MyLSTMCell"]):
        def call(self, inputs, states):
            h, (_, c) = super().call(inputs, states)
            return h, [c, h]

    fails_with(r"step 0 matches, so check the new states you return: \[h, c\]", checks.check_lstm_cell, Swapped)
    # Over a single step the outputs agree: only the final states show it.
    fails_with(
        r"^the states come back as \[c, h\]; Keras expects \[h, c\]$",
        checks.check_lstm_cell,
        Swapped,
        batch=1,
        steps=1,
        input_dim=1,
        units=2,
        seed=18,
    )


def test_lstm_with_one_state(solution):
    class OneState(solution["MyLSTMCell"]):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.state_size = units

    fails_with(r"state_size should be \[units, units\]", checks.check_lstm_cell, OneState)
    caught_by_self_check(r"state_size should be \[units, units\]", checks.check_lstm_cell, OneState)


def peephole_step(cell, inputs, states, w_ci, w_cf, w_co, output_gate_reads_new_c=True, read=tf.multiply):
    """A peephole LSTM step on the cell's LSTM weights; a gate reads the cell state c as read(c, w).

    The tests below give it the mistakes: a zero or wrong peephole, the output gate reading c_{t-1}, a matrix product.
    """
    h_prev, c_prev = states
    z = tf.matmul(inputs, cell.kernel) + tf.matmul(h_prev, cell.recurrent_kernel) + cell.bias
    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
    c = tf.sigmoid(z_f + read(c_prev, w_cf)) * c_prev + tf.sigmoid(z_i + read(c_prev, w_ci)) * tf.tanh(z_c)
    h = tf.sigmoid(z_o + read(c if output_gate_reads_new_c else c_prev, w_co)) * tf.tanh(c)
    return h, [h, c]


def test_the_peephole_step_these_tests_break_passes_when_written_right(solution):
    # Guards the mistakes below: each differs from the solution only where it says.
    class Written(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            return peephole_step(
                self, inputs, states, self.input_gate_peephole, self.forget_gate_peephole, self.output_gate_peephole
            )

    checks.check_peephole_lstm_cell(Written)


def test_peephole_lstm_without_peepholes(solution):
    class Plain(solution["MyPeepholeLSTMCell"]):
        call = solution["MyLSTMCell"].call  # the weights are created, never read

    fails_with(
        "at step 0; they equal keras.layers.LSTM's: the cell computes a plain LSTM and ignores its peephole weights",
        checks.check_peephole_lstm_cell,
        Plain,
    )


def test_peephole_lstm_whose_output_gate_reads_the_previous_cell_state(solution):
    class Early(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            return peephole_step(
                self,
                inputs,
                states,
                self.input_gate_peephole,
                self.forget_gate_peephole,
                self.output_gate_peephole,
                output_gate_reads_new_c=False,
            )

    fails_with(
        r"the output gate reads c_\(t-1\): it should read the new cell state c_t",
        checks.check_peephole_lstm_cell,
        Early,
    )
    caught_by_self_check(
        r"the output gate reads c_\(t-1\): it should read the new cell state c_t",
        checks.check_peephole_lstm_cell,
        Early,
    )


@pytest.mark.parametrize("gate", checks.PEEPHOLES)
def test_peephole_lstm_with_one_gate_blind_to_the_cell(solution, gate):
    class OneBlind(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            w_ci, w_cf, w_co = (
                tf.zeros([self.units]) if name == gate else getattr(self, name) for name in checks.PEEPHOLES
            )
            return peephole_step(self, inputs, states, w_ci, w_cf, w_co)

    first_step = "step 0" if gate == "output_gate_peephole" else "step 1; step 0 matches"
    fails_with(
        f"at {first_step}.*; {gate} is not used: each gate reads the cell state through its own peephole$",
        checks.check_peephole_lstm_cell,
        OneBlind,
    )
    caught_by_self_check(
        f"at {first_step}.*; {gate} is not used: each gate reads the cell state through its own peephole$",
        checks.check_peephole_lstm_cell,
        OneBlind,
    )


def test_peephole_lstm_with_peephole_matrices(solution):
    class Matrices(solution["MyPeepholeLSTMCell"]):
        def build(self, input_shape):
            solution["MyLSTMCell"].build(self, input_shape)
            self.input_gate_peephole, self.forget_gate_peephole, self.output_gate_peephole = (
                self.add_weight(shape=(self.units, self.units), name=name) for name in checks.PEEPHOLES
            )

        def call(self, inputs, states):
            return peephole_step(
                self,
                inputs,
                states,
                self.input_gate_peephole,
                self.forget_gate_peephole,
                self.output_gate_peephole,
                read=tf.matmul,
            )

    fails_with(
        r"input_gate_peephole has shape \(4, 4\): peephole weights are diagonal, one vector of shape \(units,\) = \(4,\)",
        checks.check_peephole_lstm_cell,
        Matrices,
    )


def test_peephole_lstm_with_the_peepholes_in_one_vector(solution):
    class Packed(solution["MyPeepholeLSTMCell"]):
        def build(self, input_shape):
            solution["MyLSTMCell"].build(self, input_shape)
            self.peepholes = self.add_weight(shape=(3 * self.units,), name="peepholes")

    fails_with(
        r"should create 6 weights \(kernel, recurrent_kernel, bias, input_gate_peephole, forget_gate_peephole, "
        r"output_gate_peephole\), it created 4",
        checks.check_peephole_lstm_cell,
        Packed,
    )


def test_peephole_lstm_returning_states_swapped(solution):
    class Swapped(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            h, (_, c) = super().call(inputs, states)
            return h, [c, h]

    fails_with(r"^the states come back as \[c, h\]; Keras expects \[h, c\]", checks.check_peephole_lstm_cell, Swapped)


def test_peephole_lstm_with_gates_in_the_wrong_order_fails_on_zero_peepholes(solution):
    class WrongOrder(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            h_prev, c_prev = states
            z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel) + self.bias
            z_i, z_f, z_o, z_c = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(z_f + self.forget_gate_peephole * c_prev) * c_prev + tf.sigmoid(
                z_i + self.input_gate_peephole * c_prev
            ) * tf.tanh(z_c)
            h = tf.sigmoid(z_o + self.output_gate_peephole * c) * tf.tanh(c)
            return h, [h, c]

    fails_with(
        "^with zero peephole weights the cell should compute keras.layers.LSTM, but its outputs differ .* at step 0; "
        "your code reads the gate blocks in the order i, f, o, c",
        checks.check_peephole_lstm_cell,
        WrongOrder,
    )
    caught_by_self_check(
        "^with zero peephole weights the cell should compute keras.layers.LSTM, but its outputs differ .* at step 0; "
        "your code reads the gate blocks in the order i, f, o, c",
        checks.check_peephole_lstm_cell,
        WrongOrder,
    )


def test_peephole_check_needs_two_steps(solution):
    # The test cell's arguments are wrong, not the student's cell: the grader's expectation refuses them.
    with pytest.raises(ValueError, match="steps should be at least 2"):
        judged(checks.check_peephole_lstm_cell, solution["MyPeepholeLSTMCell"], steps=1)


def test_recall_task_with_the_wrong_target(solution):
    def first_token(n, length, num_symbols, seed):
        x, _ = solution["make_selective_recall"](n, length, num_symbols, seed)
        return x, x[:, 0]

    fails_with("right after the marker", checks.check_recall_task, first_token)
    caught_by_self_check("right after the marker", checks.check_recall_task, first_token)


def test_recall_task_ignoring_the_seed(solution):
    def fixed_seed(n, length, num_symbols, seed):
        return solution["make_selective_recall"](n, length, num_symbols, 0)

    fails_with("different seed", checks.check_recall_task, fixed_seed)


def test_recall_task_ignoring_the_seed_for_a_global_generator(solution):
    generator = np.random.default_rng(0)

    def unseeded(n, length, num_symbols, seed):
        return solution["make_selective_recall"](n, length, num_symbols, int(generator.integers(2**31)))

    fails_with("the same seed should give the same data", checks.check_recall_task, unseeded)


def test_recall_task_with_float_tokens(solution):
    def floats(n, length, num_symbols, seed):
        x, y = solution["make_selective_recall"](n, length, num_symbols, seed)
        return x.astype("float32"), y

    fails_with("integer token ids, got dtypes float32", checks.check_recall_task, floats)


def test_recall_task_with_the_marker_anywhere(solution):
    def anywhere(n, length, num_symbols, seed):
        rng = np.random.default_rng(seed)
        x = rng.integers(0, num_symbols, size=(n, length))
        position = rng.integers(0, length - 1, size=n)
        position[0] = length - 2
        x[np.arange(n), position] = num_symbols
        return x, x[np.arange(n), position + 1]

    fails_with("the marker should sit in the first half", checks.check_recall_task, anywhere)


# --- refusing delegation: the exercise may not call the function it asks for ------------------------------


def delegating_cell(keras_cell_class):
    """A cell that hands its weights and every step to a Keras cell it holds."""

    class Delegating(tf.keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.inner = keras_cell_class(units)
            self.units, self.state_size, self.output_size = units, self.inner.state_size, units

        def build(self, input_shape):
            self.inner.build(input_shape)

        def call(self, inputs, states):
            return self.inner(inputs, states)

    return Delegating


def subclassed_cell(keras_cell_class):
    """A cell whose call() runs Keras's through super()."""

    class Subclassed(keras_cell_class):
        def call(self, inputs, states, training=False):
            return super().call(inputs, states, training=training)

    return Subclassed


class BlockLSTMCell(tf.keras.layers.Layer):
    """An LSTM step by TensorFlow's fused LSTMBlockCell op, gate blocks rearranged from i, f, c, o to i, c, f, o."""

    use_peephole = False

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size, self.output_size = units, [units, units], units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units))
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units))
        self.bias = self.add_weight(shape=(4 * self.units,))

    def peepholes(self):
        return [tf.zeros([self.units])] * 3

    def call(self, inputs, states):
        h_prev, c_prev = states
        w_i, w_f, w_c, w_o = tf.split(tf.concat([self.kernel, self.recurrent_kernel], 0), 4, axis=1)
        b_i, b_f, b_c, b_o = tf.split(self.bias, 4)
        w_ci, w_cf, w_co = self.peepholes()
        _, c, _, _, _, _, h = tf.raw_ops.LSTMBlockCell(
            x=inputs,
            cs_prev=c_prev,
            h_prev=h_prev,
            w=tf.concat([w_i, w_c, w_f, w_o], 1),
            wci=w_ci,
            wcf=w_cf,
            wco=w_co,
            b=tf.concat([b_i, b_c, b_f, b_o], 0),
            forget_bias=0.0,
            cell_clip=-1.0,
            use_peephole=self.use_peephole,
        )
        return h, [h, c]


class PeepholeBlockLSTMCell(BlockLSTMCell):
    """The same op with its peepholes on: TensorFlow's equations are the exercise's (input and forget gates read c_{t-1}, output c_t)."""

    use_peephole = True

    def build(self, input_shape):
        super().build(input_shape)
        self.peephole_weights = [self.add_weight(shape=(self.units,), name=name) for name in checks.PEEPHOLES]

    def peepholes(self):
        return self.peephole_weights


@pytest.mark.parametrize("make", [delegating_cell, subclassed_cell], ids=["wrapper", "subclass"])
def test_rnn_cell_handing_its_work_to_keras_is_refused(make):
    cell = make(tf.keras.layers.SimpleRNNCell)
    refused = (
        r"^MyRNNCell calls keras.layers.SimpleRNNCell \(or SimpleRNN\), which is the exercise itself: create kernel"
    )
    fails_with(refused, checks.check_rnn_cell_weights, cell)
    fails_with(refused, checks.check_rnn_cell_matches_simple_rnn, cell)


def test_rnn_cell_written_with_keras_ops_passes_where_keras_own_cell_is_refused(solution):
    class WithKerasOps(solution["MyRNNCell"]):
        def call(self, inputs, states):
            h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel) + self.bias)
            return h, [h]

    checks.check_rnn_cell_matches_simple_rnn(WithKerasOps)
    fails_with(
        "^MyRNNCell calls keras.layers.SimpleRNNCell",
        checks.check_rnn_cell_matches_simple_rnn,
        subclassed_cell(tf.keras.layers.SimpleRNNCell),
    )


@pytest.mark.parametrize(
    "cell, refused",
    [
        (delegating_cell(tf.keras.layers.LSTMCell), r"keras.layers.LSTMCell \(or LSTM\)"),
        (subclassed_cell(tf.keras.layers.LSTMCell), r"keras.layers.LSTMCell \(or LSTM\)"),
        (BlockLSTMCell, r"tf.raw_ops.LSTMBlockCell \(or BlockLSTM\)"),
    ],
    ids=["wrapper", "subclass", "fused op"],
)
def test_lstm_cell_handing_its_work_to_a_library_is_refused(cell, refused):
    fails_with(
        f"^MyLSTMCell calls {refused}, which is the exercise itself: create the three weights",
        checks.check_lstm_cell,
        cell,
    )


def test_tensorflows_peephole_lstm_is_a_right_answer_that_is_refused():
    # Computed outside the watch, the fused op gives the reference's outputs: what is refused is a real shortcut.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = tf.keras.layers.RNN(PeepholeBlockLSTMCell(4), return_sequences=True)
    layer.build(x.shape)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    np.testing.assert_allclose(layer(x), references._reference_peephole_lstm(x, *weights)[0], atol=1e-5)
    fails_with(
        r"^MyPeepholeLSTMCell calls tf.raw_ops.LSTMBlockCell \(or BlockLSTM\), which is the exercise itself: add the three",
        checks.check_peephole_lstm_cell,
        PeepholeBlockLSTMCell,
    )


@pytest.mark.parametrize(
    "cell",
    [delegating_cell(tf.keras.layers.LSTMCell), subclassed_cell(tf.keras.layers.LSTMCell)],
    ids=["wrapper", "subclass"],
)
def test_peephole_lstm_cell_built_on_keras_lstm_is_refused(cell):
    fails_with(
        r"^MyPeepholeLSTMCell calls keras.layers.LSTMCell \(or LSTM\), which is the exercise itself",
        checks.check_peephole_lstm_cell,
        cell,
    )


def test_peephole_lstm_cell_calling_the_checks_reference_is_refused(solution):
    class FromTheReference(solution["MyPeepholeLSTMCell"]):
        def call(self, inputs, states):
            super().call(inputs, states)
            _, h, c = references._reference_peephole_lstm(
                inputs[:, None], *self.get_weights()
            )  # right from zero states only
            return h, [h, c]

    # Not anchored: Keras wraps errors raised inside a layer's call in a message of its own.
    fails_with(
        "MyPeepholeLSTMCell calls the check's reference, which is the exercise itself",
        checks.check_peephole_lstm_cell,
        FromTheReference,
    )


@pytest.mark.parametrize(
    "jacobian_norms",
    [
        lambda w, u: references._reference_jacobian_norms(w, u),
        lambda w, u: reference_alias(w, u),
    ],
    ids=["module attribute", "alias imported earlier"],
)
def test_jacobian_norms_calling_the_checks_reference_is_refused(jacobian_norms):
    refused = (
        "^jacobian_norms calls the check's reference, which is the exercise itself: run the recurrence with rnn_forward"
    )
    fails_with(refused, checks.check_jacobian_norms, jacobian_norms)


def clip_with_global_norm_from_tf(grads, max_norm):
    norm = tf.linalg.global_norm(grads)
    scale = tf.minimum(1.0, max_norm / tf.maximum(norm, 1e-12))
    return [None if g is None else g * scale for g in grads], norm


@pytest.mark.parametrize(
    "clip, refused",
    [
        (lambda grads, max_norm: tf.clip_by_global_norm(grads, max_norm), "tf.clip_by_global_norm"),
        (lambda grads, max_norm: clip_alias(grads, max_norm), "tf.clip_by_global_norm"),
        (lambda grads, max_norm, clip=tf.clip_by_global_norm: clip(grads, max_norm), "tf.clip_by_global_norm"),
        (clip_with_global_norm_from_tf, "tf.linalg.global_norm"),
    ],
    ids=["direct", "alias imported earlier", "default argument", "global norm from tf"],
)
def test_clip_gradients_calling_tf_is_refused(clip, refused):
    fails_with(
        f"^clip_gradients calls {refused}, which is the exercise itself: compute the global norm and the scale yourself$",
        checks.check_clip_gradients,
        clip,
    )


def test_clip_from_tf_primitives_passes_where_tf_clip_by_global_norm_is_refused():
    def flattened(grads, max_norm):
        present = [tf.reshape(g, [-1]) for g in grads if g is not None]
        norm = tf.norm(tf.concat(present, axis=0))
        scale = tf.where(norm > max_norm, max_norm / tf.maximum(norm, 1e-12), 1.0)
        return [None if g is None else g * scale for g in grads], norm

    checks.check_clip_gradients(flattened)
    fails_with("^clip_gradients calls tf.clip_by_global_norm", checks.check_clip_gradients, tf.clip_by_global_norm)


def test_the_reasoning_questions_values_are_what_keras_and_numpy_measure():
    lstm = tf.keras.layers.LSTM(32)
    lstm.build((None, None, 8))
    assert lstm.count_params() == references.expect_answer("lstm_parameters")["value"]
    # The linear RNN's norms are those of W^T multiplied j times: at the smallest rho, distance 40 is 1/100 of distance 1.
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(16, 16)))
    rho = references.expect_answer("smallest_rho")["value"]
    norms = references._reference_jacobian_norms(rho * q, np.zeros((40, 16)), activation="identity")
    assert norms[39] / norms[0] == pytest.approx(0.01)
