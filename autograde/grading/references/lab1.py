"""Private references for Lab 1's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab1.probe_<name>`` (sizes and a seed; never the
student's objects), makes the same inputs with the public input function, and returns plain data.
"""

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from autograde.grading.references import answer, answer_to, lstm_parameters
from course_utils.checks import lab1 as public
from course_utils.checks._common import full_float32
from course_utils.checks.delegation import refuse_reference_while_watched

GATES = "ifco"  # Keras packs an LSTM's gate blocks in this order: input, forget, cell candidate, output
# Every other order a cell could read the blocks in, as the gates it takes blocks 0..3 for ("icfo": block 1 as c).
WRONG_GATE_ORDERS = tuple("".join(order) for order in itertools.permutations(GATES) if "".join(order) != GATES)


def expect_rnn_cell_weights(input_dim: int, units: int) -> dict[str, Any]:
    return {"weight_shapes": [["kernel", [input_dim, units]], ["recurrent_kernel", [units, units]], ["bias", [units]]]}


def expect_rnn_cell_matches_simple_rnn(batch: int, steps: int, input_dim: int, units: int, seed: int) -> dict[str, Any]:
    x, weights, projection = public.simple_rnn_inputs(batch, steps, input_dim, units, seed)
    x = tf.constant(x)
    reference = tf.keras.layers.SimpleRNN(units, return_sequences=True)
    reference.build((batch, steps, input_dim))
    reference.set_weights(weights)
    with full_float32(), tf.GradientTape() as tape:
        tape.watch(x)
        outputs = reference(x)
        loss = tf.reduce_sum(outputs * projection)
    grads = tape.gradient(loss, [x, *reference.trainable_weights])
    names = ["inputs", "kernel", "recurrent_kernel", "bias"]
    return {"outputs": outputs.numpy(), "gradients": {n: np.asarray(g) for n, g in zip(names, grads)}}


def expect_rnn_model(input_dim: int, units: int, output_dim: int, steps: int, batch: int, seed: int) -> dict[str, Any]:
    """The output shapes of the many-to-many and many-to-one models and of their RNN layer, and the parameter count
    of RNN + Dense."""
    return {
        "output_shapes": {"True": [batch, steps, output_dim], "False": [batch, output_dim]},
        "hidden_shape": [batch, steps, units],
        "parameters": input_dim * units + units * units + units + units * output_dim + output_dim,
    }


def _tape_gradients(draws, steps):
    """The gradients of sum_t sum(h_t * dh_t) for the RNN of ``draws`` (public.rnn_backward_draws) over ``steps``
    steps, by tf.GradientTape in float64: {"dx", "dh0", "dW_xh", "dW_hh", "db"}."""
    x, h0, w_xh, w_hh, b, dh = (tf.constant(draws[k], tf.float64) for k in ("x", "h0", "W_xh", "W_hh", "b", "dh"))
    with tf.GradientTape() as tape:
        tape.watch([x, h0, w_xh, w_hh, b])
        h, loss = h0, tf.constant(0.0, tf.float64)
        for t in range(steps):
            h = tf.tanh(x[:, t] @ w_xh + h @ w_hh + b)
            loss += tf.reduce_sum(h * dh[:, t])
    grads = tape.gradient(loss, [x, h0, w_xh, w_hh, b])
    return dict(zip(public.BACKWARD_GRADIENTS, (g.numpy() for g in grads)))


def _reference_step_backward(dh, cache, mistake=None):
    """One step's gradients (dx, dh_prev, dW_xh, dW_hh, db) in numpy, or what a known ``mistake`` gives
    (``public.STEP_MISTAKES``)."""
    refuse_reference_while_watched("the check's reference")
    x, h_prev, w_xh, w_hh, h = cache
    if mistake == "no_tanh_derivative":
        da = dh
    elif mistake == "derivative_at_h_prev":
        da = dh * (1.0 - h_prev**2)
    else:
        da = dh * (1.0 - h**2)  # tanh'(a) = 1 - tanh(a)^2, and tanh(a) = h
    if mistake == "transposed":  # each product the other way round, where the shapes let it be computed
        square = w_xh.shape[0] == w_xh.shape[1]
        return (da @ w_xh if square else None, da @ w_hh, da.T @ x if square else None, da.T @ h_prev, None)
    db = da.mean(axis=0) if mistake == "batch_mean" else da.sum(axis=0)
    return da @ w_xh.T, da @ w_hh.T, x.T @ da, h_prev.T @ da, db


def _reference_rnn_backward(dh, caches, mistake=None):
    """The gradients (dx, dh0, dW_xh, dW_hh, db) of a tanh RNN over the steps of ``caches``, in numpy, or what a known
    ``mistake`` gives (``public.SEQUENCE_MISTAKES``)."""
    refuse_reference_while_watched("the check's reference")
    steps = len(caches)
    step_mistake = mistake if mistake in public.STEP_MISTAKES else None
    dx = [None] * steps
    weights = [0.0, 0.0, 0.0]
    carried = np.zeros_like(dh[:, 0])  # the gradient of h_t that the step after it passed back
    order = range(steps) if mistake == "forward_in_time" else reversed(range(steps))
    for t in order:
        if mistake == "no_recurrent_gradient":
            total = dh[:, t]
        elif mistake == "upstream_replaced" and t < steps - 1:
            total = carried
        else:
            total = dh[:, t] + carried
        step = _reference_step_backward(total, caches[t], step_mistake)
        dx[t], carried = step[0], step[1]
        if mistake == "one_step_weights":
            weights = list(step[2:])  # overwritten: the first step's (the loop's last) alone remains
        else:
            weights = [None if w is None or g is None else w + g for w, g in zip(weights, step[2:])]
    dx = None if any(d is None for d in dx) else np.stack(dx, axis=1)
    if mistake == "dx_reversed":
        dx = dx[:, ::-1]
    return (dx, carried, *weights)


def _mistakes(compute, catalogue, correct):
    """{mistake: {gradient name: float32 array}} for each mistake in ``catalogue``: what ``compute(mistake)`` gives
    where a mistake's shapes let it be computed on these inputs (None elsewhere) and it differs from ``correct``
    (kept small: students' self-checks store it)."""
    mistakes = {}
    for mistake in catalogue:
        given = zip(correct, compute(mistake))
        mistakes[mistake] = {
            name: g.astype("float32")
            for name, g in given
            if g is not None and not (g.shape == correct[name].shape and np.allclose(g, correct[name]))
        }
    return mistakes


def expect_rnn_step_backward(batch: int, input_dim: int, units: int, seed: int) -> dict[str, Any]:
    """The tape's gradients of one step (float64), and what each of ``public.STEP_MISTAKES`` gives."""
    draws = public.rnn_backward_draws(batch, 1, input_dim, units, seed)
    tape = _tape_gradients(draws, 1)
    dh, caches = public.rnn_backward_inputs(batch, 1, input_dim, units, seed)
    gradients = dict(
        zip(public.BACKWARD_STEP_GRADIENTS, (tape["dx"][:, 0], tape["dh0"], tape["dW_xh"], tape["dW_hh"], tape["db"]))
    )
    return {
        "gradients": gradients,
        "mistakes": _mistakes(
            lambda m: _reference_step_backward(dh[:, 0], caches[0], m), public.STEP_MISTAKES, gradients
        ),
    }


def expect_rnn_backward(
    batch: int, steps: int, input_dim: int, units: int, seed: int, last_step_only: bool
) -> dict[str, Any]:
    """The tape's gradients over the sequence (float64), and what each of ``public.SEQUENCE_MISTAKES`` gives."""
    draws = public.rnn_backward_draws(batch, steps, input_dim, units, seed, last_step_only)
    dh, caches = public.rnn_backward_inputs(batch, steps, input_dim, units, seed, last_step_only)
    gradients = _tape_gradients(draws, steps)
    return {
        "gradients": gradients,
        "mistakes": _mistakes(lambda m: _reference_rnn_backward(dh, caches, m), public.SEQUENCE_MISTAKES, gradients),
    }


def _reference_jacobian_norms(recurrent_kernel, inputs, activation="tanh"):
    """Frobenius norms of dh_T/dh_{T-j} for j = 1..T, by multiplying per-step Jacobians in numpy.

    With a_t = u_t + h_{t-1} W and h_t = f(a_t) (row vectors), dh_t/dh_{t-1} = diag(f'(a_t)) W^T. With ``activation``
    "identity" the factors are W^T alone: what a backward pass without tanh's derivative computes.
    """
    refuse_reference_while_watched("the check's reference")
    w = np.asarray(recurrent_kernel, dtype=np.float64)
    u = np.asarray(inputs, dtype=np.float64)
    h = np.zeros(w.shape[0])
    step_jacobians = []
    for u_t in u:
        a = u_t + h @ w
        h = np.tanh(a)
        slope = 1.0 - h**2 if activation == "tanh" else np.ones_like(a)
        step_jacobians.append(slope[:, None] * w.T)
    norms, product = [], np.eye(w.shape[0])
    for jacobian in reversed(step_jacobians):
        product = product @ jacobian
        norms.append(np.linalg.norm(product))
    return np.array(norms)


def expect_jacobian_norms(units: int, steps: int, seed: int) -> dict[str, Any]:
    """The norms of dh_T/dh_(T-j), j = 1..steps, of a tanh RNN, from the numpy product of step Jacobians; and those
    of the product without tanh's derivative (a mistake)."""
    w, u = public.jacobian_inputs(units, steps, seed)
    return {
        "norms": _reference_jacobian_norms(w, u, "tanh"),
        "without_tanh_derivative": _reference_jacobian_norms(w, u, "identity"),
    }


def expect_clip_gradients(seed: int, edge_cases: bool) -> dict[str, Any]:
    """For each case of ``clip_gradient_cases``: ``tf.clip_by_global_norm``'s clipped gradients and global norm, and
    the scale it applied (for the message)."""
    cases = []
    for description, grads, max_norm in public.clip_gradient_cases(seed, edge_cases):
        clipped, norm = tf.clip_by_global_norm([None if g is None else tf.constant(g) for g in grads], max_norm)
        norm = float(norm)
        cases.append(
            {
                "description": description,
                "max_norm": max_norm,
                "norm": norm,
                "scale": norm and min(1.0, max_norm / norm),
                "clipped": [None if g is None else g.numpy() for g in clipped],
            }
        )
    return {"cases": cases}


def _keras_lstm_outputs(x, weights):
    """``keras.layers.LSTM`` holding ``weights`` (kernel, recurrent_kernel, bias): its outputs and final h and c."""
    batch, steps, input_dim = x.shape
    units = weights[1].shape[0]
    layer = tf.keras.layers.LSTM(units, return_sequences=True, return_state=True)
    layer.build((batch, steps, input_dim))
    layer.set_weights(weights)
    with full_float32():
        return [t.numpy() for t in layer(tf.constant(x))]


def gate_blocks_as_read(weights: Sequence[np.ndarray], order: str, units: int) -> list[np.ndarray]:
    """The LSTM weights on which a correct LSTM computes what a cell that reads the gate blocks as ``order``
    (``"icfo"``: block 1 as the cell candidate, block 2 as the forget gate) computes on ``weights``.

    Block j of the result is the block of ``weights`` that such a cell takes for gate ``GATES[j]``. Only the first
    three weights (kernel, recurrent_kernel, bias) are rearranged.
    """
    blocks = [order.index(gate) for gate in GATES]
    return [np.concatenate([w[..., k * units : (k + 1) * units] for k in blocks], axis=-1) for w in weights[:3]]


def _gate_order_fingerprints(x, lstm_weights, units):
    """What a cell reading the gate blocks in each wrong order outputs on ``x`` with ``lstm_weights``.

    Computed with the numpy LSTM (the peephole reference with zero peepholes): 23 passes cost milliseconds, where a
    Keras layer costs a second in all, on the grader's clock.
    """
    zeros = [np.zeros(units)] * 3
    outputs = [
        _reference_peephole_lstm(x, *gate_blocks_as_read(lstm_weights, order, units), *zeros)[0]
        for order in WRONG_GATE_ORDERS
    ]
    return {"orders": list(WRONG_GATE_ORDERS), "outputs": np.stack(outputs).astype("float32")}


def expect_lstm_cell(batch: int, steps: int, input_dim: int, units: int, seed: int) -> dict[str, Any]:
    """``keras.layers.LSTM``'s outputs and final h and c, and the gate-order fingerprints."""
    x, weights = public.lstm_inputs(batch, steps, input_dim, units, seed)
    outputs, h, c = _keras_lstm_outputs(x, weights)
    return {"outputs": outputs, "h": h, "c": c, "gate_orders": _gate_order_fingerprints(x, weights, units)}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reference_peephole_lstm(inputs, kernel, recurrent_kernel, bias, w_ci, w_cf, w_co, output_gate_reads_c_prev=False):
    """A peephole LSTM over ``inputs`` (batch, steps, input_dim) from zero states, in float64 numpy.

    Keras's LSTM (gate blocks i, f, c, o) plus Gers & Schmidhuber's (2000) peepholes: i_t and f_t also read
    w_ci * c_{t-1} and w_cf * c_{t-1}, o_t reads w_co * c_t. ``output_gate_reads_c_prev=True`` computes a
    likely mistake instead (o_t reading c_{t-1}), to recognise it.

    Returns:
        (outputs, h, c): outputs of shape (batch, steps, units), the final h and c of shape (batch, units).
    """
    refuse_reference_while_watched("the check's reference")
    x = np.asarray(inputs, dtype=np.float64)
    w, u, b, w_ci, w_cf, w_co = (
        np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias, w_ci, w_cf, w_co)
    )
    h = c = np.zeros((x.shape[0], u.shape[0]))
    outputs = []
    for x_t in np.moveaxis(x, 1, 0):
        z_i, z_f, z_c, z_o = np.split(x_t @ w + h @ u + b, 4, axis=-1)
        c_prev = c
        c = _sigmoid(z_f + w_cf * c_prev) * c_prev + _sigmoid(z_i + w_ci * c_prev) * np.tanh(z_c)
        h = _sigmoid(z_o + w_co * (c_prev if output_gate_reads_c_prev else c)) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def expect_peephole_lstm_cell(batch: int, steps: int, input_dim: int, units: int, seed: int) -> dict[str, Any]:
    """``keras.layers.LSTM``'s outputs (the cell with zero peepholes) and their gate-order fingerprints; the numpy
    peephole LSTM's outputs and final h and c with the random peepholes, and the outputs of an output gate reading
    c_(t-1) (a fingerprint)."""
    if steps < 2:
        raise ValueError(
            f"steps should be at least 2 (the input and forget gates read c_(t-1), zero at the first step), got {steps}"
        )
    x, lstm_weights, peepholes = public.peephole_lstm_inputs(batch, steps, input_dim, units, seed)
    outputs, h, c = _reference_peephole_lstm(x, *lstm_weights, *peepholes)
    return {
        "lstm_outputs": _keras_lstm_outputs(x, lstm_weights)[0],
        "gate_orders": _gate_order_fingerprints(x, lstm_weights, units),
        "outputs": outputs.astype("float32"),
        "h": h.astype("float32"),
        "c": c.astype("float32"),
        "output_gate_reads_c_prev": _reference_peephole_lstm(
            x, *lstm_weights, *peepholes, output_gate_reads_c_prev=True
        )[0].astype("float32"),
    }


# The reasoning questions (checks.check_answer, in hidden tests): each one's value and what each known mistake gives.
QUESTIONS = {
    # Question 2.4: sqrt(n) rho^40 >= sqrt(n) rho^1 / 100, so rho^39 >= 1/100.
    "smallest_rho": answer(
        0.01 ** (1 / 39),
        {
            "count 40 factors of rho between distances 1 and 40 (there are 39)": 0.01 ** (1 / 40),
            "turn the ratio upside down (the gradient 40 steps back 100 times the one 1 step back)": 100 ** (1 / 39),
        },
        rtol=1e-3,  # three significant digits
    ),
    # Question 4.3: four blocks (i, f, c, o), each with an input kernel, a recurrent kernel and a bias.
    "lstm_parameters": answer(
        lstm_parameters(8, 32),
        {
            "leave out the biases": 4 * (8 * 32 + 32 * 32),
            "count one block of weights, not four (three gates and the candidate)": 8 * 32 + 32 * 32 + 32,
            "count the three gates and leave out the candidate": 3 * (8 * 32 + 32 * 32 + 32),
            "leave out the recurrent kernel": 4 * (8 * 32 + 32),
            "add Exercise 4.2's peepholes (Keras's LSTM has none)": 4 * (8 * 32 + 32 * 32 + 32) + 3 * 32,
        },
    ),
}


def expect_answer(name: str) -> dict[str, Any]:
    """The value of reasoning question ``name`` and what each known mistake gives (see ``QUESTIONS``)."""
    return answer_to(QUESTIONS, name)
