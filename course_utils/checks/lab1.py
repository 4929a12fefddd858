"""Self-checks for Lab 1, "RNNs from scratch".

Every check builds a reference (a Keras layer, ``tf.clip_by_global_norm`` or a numpy
computation), runs the student's code on the same random inputs and weights, and fails
with a message that points at the mistake. The visible test cells call these with one
set of shapes and seeds; the graders' hidden tests call them with others. The student's
code runs under ``refuse_delegation``: it may not call the function the exercise asks for
(the ``Exercise`` constants below list them).
"""
import itertools

import numpy as np
import tensorflow as tf

from course_utils.checks import CheckFailed, check_close, check_prediction, check_shape, fail, max_abs_diff, passed
from course_utils.checks.probing import Check
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refuse_reference_while_watched, refusing_delegation

ATOL = 1e-5  # float32 agreement asked of cells that reproduce a Keras layer

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
_CUDNN_RNN = Forbidden("tf.raw_ops.CudnnRNN", "tensorflow/python/ops/gen_cudnn_rnn_ops.py")
RNN_CELL = Exercise(
    "MyRNNCell",
    hint="create kernel, recurrent_kernel and bias with self.add_weight and compute tanh(x W_xh + h W_hh + b) with tf.matmul",
    forbidden=(Forbidden("keras.layers.SimpleRNNCell (or SimpleRNN)", "keras/src/layers/rnn/simple_rnn.py"), _CUDNN_RNN),
)
LSTM_CELL = Exercise(
    "MyLSTMCell",
    hint="create the three weights with self.add_weight and compute the gates from z = x W + h U + b with tf.split, tf.sigmoid and tf.tanh",
    forbidden=(
        Forbidden("keras.layers.LSTMCell (or LSTM)", "keras/src/layers/rnn/lstm.py"),
        Forbidden("tf.raw_ops.LSTMBlockCell (or BlockLSTM)", "tensorflow/python/ops/gen_rnn_ops.py"),
        _CUDNN_RNN,
    ),
)
PEEPHOLE_LSTM_CELL = Exercise(
    "MyPeepholeLSTMCell",
    hint="add the three peephole vectors with self.add_weight and add w * c to each gate's pre-activation yourself",
    # The LSTM's shortcuts (LSTMBlockCell has peepholes too: use_peephole=True), and the check's own reference.
    forbidden=LSTM_CELL.forbidden + (Forbidden("the check's reference", "course_utils/checks/lab1.py", "_reference_peephole_lstm"),),
)
JACOBIAN_NORMS = Exercise(
    "jacobian_norms",
    hint="run the recurrence inside a persistent tf.GradientTape and take the norms of tape.jacobian yourself",
    forbidden=(Forbidden("the check's reference", "course_utils/checks/lab1.py", "_reference_jacobian_norms"),),
)
CLIP_GRADIENTS = Exercise(
    "clip_gradients",
    hint="compute the global norm and the scale yourself",
    forbidden=(
        Forbidden("tf.clip_by_global_norm", "tensorflow/python/ops/clip_ops.py", "clip_by_global_norm"),
        Forbidden("tf.linalg.global_norm", "tensorflow/python/ops/clip_ops.py", "global_norm"),
        Forbidden("Keras's clip_by_global_norm (global_clipnorm)", "keras/src/optimizers/base_optimizer.py", "clip_by_global_norm"),
        Forbidden("Keras's global_norm", "keras/src/optimizers/base_optimizer.py", "global_norm"),
    ),
)


def _random_inputs(rng, batch, steps, input_dim):
    return rng.normal(size=(batch, steps, input_dim)).astype("float32")


def _random_weights_like(rng, layer):
    # Scaled so the recurrence matters without saturating tanh everywhere.
    return [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]


def _built_rnn(cell, batch, steps, input_dim, **kwargs):
    layer = tf.keras.layers.RNN(cell, **kwargs)
    layer.build((batch, steps, input_dim))
    return layer


def _check_weight_shapes(cell, expected):
    weights = cell.weights
    names = [name for name, _ in expected]
    if len(weights) != len(expected):
        fail(f"the cell should create {len(expected)} weights ({', '.join(names)}), it created {len(weights)}")
    for weight, (name, shape) in zip(weights, expected):
        check_shape(f"{name} (weight #{names.index(name) + 1} in creation order)", tuple(weight.shape), shape)


def _randomise(rng, reference, batch, steps, input_dim):
    """Builds a Keras reference layer, gives it random weights and returns them."""
    reference.build((batch, steps, input_dim))
    weights = _random_weights_like(rng, reference)
    reference.set_weights(weights)
    return weights


def _rnn_with_weights(cell, weights, batch, steps, input_dim, **rnn_kwargs):
    """``RNN(cell)``, built, holding ``weights``."""
    mine = _built_rnn(cell, batch, steps, input_dim, **rnn_kwargs)
    mine.set_weights(weights)
    return mine


def _lstm_outputs(cell, weights, x):
    """``RNN(cell)`` holding ``weights`` and its (outputs, final h, final c) for ``x``, as numpy arrays."""
    batch, steps, input_dim = x.shape
    layer = _rnn_with_weights(cell, weights, batch, steps, input_dim, return_sequences=True, return_state=True)
    results = layer(x)
    if len(results) != 3:
        fail("the cell should return (h, [h, c]): two states")
    return layer, [np.asarray(t) for t in results]


def _gradients(layer, x, projection):
    """Gradients of sum(layer(x) * projection) with respect to x and the layer's weights."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * projection)
    return tape.gradient(loss, [x] + layer.trainable_weights)


def _step_mismatch(actual, expected, reference_name, hint_after_step_0):
    """None when (batch, time, ...) outputs agree, else a message naming the first step that differs."""
    per_step = np.max(np.abs(np.asarray(actual) - np.asarray(expected)).reshape(actual.shape[0], actual.shape[1], -1), axis=(0, 2))
    bad = np.flatnonzero(per_step > ATOL)
    if not bad.size:
        return None
    step = int(bad[0])
    message = f"outputs differ from {reference_name} by {per_step[step]:.3g} at step {step}"
    return message + (f"; step 0 matches, so {hint_after_step_0}" if step > 0 else "")


def probe_rnn_cell_weights(cell_class, input_dim=3, units=4):
    """``state_size`` and the shapes of the weights ``cell_class(units)`` creates for inputs of size ``input_dim``."""
    with refuse_delegation(RNN_CELL):
        cell = cell_class(units)
        state_size = cell.state_size
        cell.build((None, input_dim))
        shapes = [list(weight.shape) for weight in cell.weights]
    return {"state_size": np.ravel(state_size).tolist() if np.ndim(state_size) else state_size, "weight_shapes": shapes}


def compare_rnn_cell_weights(observed, expected, input_dim, units):
    if observed["state_size"] != units:
        fail(f"state_size should be units={units} (one hidden state vector), got {observed['state_size']!r}")
    _compare_weight_shapes(observed["weight_shapes"], expected["weight_shapes"])
    return f"MyRNNCell({units}) on inputs of size {input_dim} has state_size and weights of the right shapes"


def _compare_weight_shapes(shapes, expected):
    """``expected``: [(name, shape), ...] in creation order."""
    names = [name for name, _ in expected]
    if len(shapes) != len(expected):
        fail(f"the cell should create {len(expected)} weights ({', '.join(names)}), it created {len(shapes)}")
    for shape, (name, wanted) in zip(shapes, expected):
        check_shape(f"{name} (weight #{names.index(name) + 1} in creation order)", tuple(shape), tuple(wanted))


check_rnn_cell_weights = Check(probe_rnn_cell_weights, compare_rnn_cell_weights)


def simple_rnn_inputs(batch, steps, input_dim, units, seed):
    """The inputs, weights (kernel, recurrent_kernel, bias) and output projection of the SimpleRNN comparison."""
    rng = np.random.default_rng(seed)
    x = _random_inputs(rng, batch, steps, input_dim)
    shapes = [(input_dim, units), (units, units), (units,)]
    # Scaled so the recurrence matters without saturating tanh everywhere.
    weights = [rng.normal(scale=0.5, size=shape).astype("float32") for shape in shapes]
    projection = rng.normal(size=(batch, steps, units)).astype("float32")
    return x, weights, projection


def probe_rnn_cell_matches_simple_rnn(cell_class, batch=2, steps=5, input_dim=3, units=4, seed=0):
    """Outputs and gradients of ``RNN(cell_class(units))`` on :func:`simple_rnn_inputs`, and its outputs with the
    recurrent kernel, then the bias, set to zero (which shows whether each is used)."""
    x, weights, projection = simple_rnn_inputs(batch, steps, input_dim, units, seed)
    x = tf.constant(x)
    with refuse_delegation(RNN_CELL):
        mine = _rnn_with_weights(cell_class(units), weights, batch, steps, input_dim, return_sequences=True)
        outputs = mine(x).numpy()
        variants = {}
        for name, zeroed in (("without_recurrent_kernel", 1), ("without_bias", 2)):
            mine.set_weights([np.zeros_like(w) if i == zeroed else w for i, w in enumerate(weights)])
            variants[name] = mine(x).numpy()
        mine.set_weights(weights)
        grads = _gradients(mine, x, tf.constant(projection))
    names = ["inputs", "kernel", "recurrent_kernel", "bias"]
    return {"outputs": outputs, **variants, "gradients": {n: None if g is None else np.asarray(g) for n, g in zip(names, grads)}}


def compare_rnn_cell_matches_simple_rnn(observed, expected, batch, steps, input_dim, units, seed):
    actual = observed["outputs"]
    check_shape("RNN(MyRNNCell) outputs", actual, np.shape(expected["outputs"]))
    message = _step_mismatch(actual, expected["outputs"], "SimpleRNN", "look at how the previous state h_{t-1} enters")
    if message:
        if np.allclose(observed["without_recurrent_kernel"], actual, atol=ATOL):
            message += "; recurrent_kernel is not used"
        if np.allclose(observed["without_bias"], actual, atol=ATOL):
            message += "; bias is not used"
        fail(message)
    for name, g_ref in expected["gradients"].items():
        g_mine = observed["gradients"].get(name)
        if g_mine is None:
            fail(f"no gradient flows to {name}: is it used inside a TensorFlow computation?")
        check_shape(f"gradient with respect to {name}", g_mine, np.shape(g_ref))
        if not np.allclose(g_mine, g_ref, atol=ATOL, rtol=ATOL):
            fail(f"gradient with respect to {name} differs from SimpleRNN's by {max_abs_diff(g_mine, g_ref):.3g}")
    return f"RNN(MyRNNCell({units})) matches SimpleRNN({units}) on {steps} steps: outputs and gradients agree to {ATOL}"


check_rnn_cell_matches_simple_rnn = Check(probe_rnn_cell_matches_simple_rnn, compare_rnn_cell_matches_simple_rnn)


def check_rnn_model(build_fn, cell_class, input_dim=3, units=5, output_dim=2, steps=6, batch=2, seed=0):
    """``build_fn(input_dim, units, output_dim, return_sequences)``: many-to-many and many-to-one models."""
    rng = np.random.default_rng(seed)
    x = _random_inputs(rng, batch, steps, input_dim)
    models = {}
    for return_sequences in (True, False):
        model = build_fn(input_dim, units, output_dim, return_sequences=return_sequences)
        if not isinstance(model, tf.keras.Model):
            fail(f"build_rnn_model should return a keras Model, got {type(model).__name__}")
        rnns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.RNN)]
        if len(rnns) != 1 or not isinstance(rnns[0].cell, cell_class):
            fail("the model should contain exactly one keras.layers.RNN layer wrapping your MyRNNCell")
        expected_shape = (batch, steps, output_dim) if return_sequences else (batch, output_dim)
        check_shape(f"output with return_sequences={return_sequences}", model(x), expected_shape)
        models[return_sequences] = model

    many_to_many, many_to_one = models[True], models[False]
    expected_params = input_dim * units + units * units + units + units * output_dim + output_dim
    if many_to_many.count_params() != expected_params:
        fail(
            f"expected {expected_params} parameters (RNN: {input_dim}*{units} + {units}*{units} + {units}, "
            f"Dense: {units}*{output_dim} + {output_dim}), got {many_to_many.count_params()}"
        )
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in many_to_many.get_weights()]
    many_to_many.set_weights(weights)
    many_to_one.set_weights(weights)
    y_all = many_to_many(x).numpy()
    check_close("many-to-one output vs the last step of many-to-many", many_to_one(x).numpy(), y_all[:, -1])

    rnn = [layer for layer in many_to_many.layers if isinstance(layer, tf.keras.layers.RNN)][0]
    hidden = rnn(x).numpy()
    w_hy, b_y = weights[3], weights[4]
    check_close("y_t = h_t W_hy + b_y at every step", y_all, hidden @ w_hy + b_y)
    passed("many-to-many and many-to-one models have the right shapes, parameters and outputs")


def _reference_jacobian_norms(recurrent_kernel, inputs, activation="tanh"):
    """Frobenius norms of dh_T/dh_{T-j} for j = 1..T, by multiplying per-step Jacobians in numpy.

    With a_t = u_t + h_{t-1} W and h_t = f(a_t) (row vectors), dh_t/dh_{t-1} = diag(f'(a_t)) W^T.
    """
    refuse_reference_while_watched("the check's reference")
    w = np.asarray(recurrent_kernel, dtype=np.float64)
    u = np.asarray(inputs, dtype=np.float64)
    h = np.zeros(w.shape[0])
    step_jacobians = []
    for u_t in u:
        a = u_t + h @ w
        h = np.tanh(a) if activation == "tanh" else a
        slope = 1.0 - h**2 if activation == "tanh" else np.ones_like(a)
        step_jacobians.append(slope[:, None] * w.T)
    norms, product = [], np.eye(w.shape[0])
    for jacobian in reversed(step_jacobians):
        product = product @ jacobian
        norms.append(np.linalg.norm(product))
    return np.array(norms)


def check_jacobian_norms(jacobian_norms_fn, units=6, steps=10, seed=0):
    """``jacobian_norms(W, inputs, activation)`` against the numpy product of step Jacobians."""
    rng = np.random.default_rng(seed)
    for activation_name, activation in (("tanh", tf.tanh), ("identity", tf.identity)):
        w = rng.normal(scale=1.2 / np.sqrt(units), size=(units, units)).astype("float32")
        u = rng.normal(scale=0.5, size=(steps, units)).astype("float32")
        expected = _reference_jacobian_norms(w, u, activation_name)
        with refuse_delegation(JACOBIAN_NORMS):
            actual = np.asarray(jacobian_norms_fn(tf.constant(w), tf.constant(u), activation), dtype=np.float64).ravel()
        if actual.shape != expected.shape:
            fail(f"expected {steps} norms (one per distance T-k = 1..{steps}), got {actual.shape[0]}")
        if np.allclose(actual[::-1], expected, rtol=1e-3) and not np.allclose(actual, expected, rtol=1e-3):
            fail("your norms are in reverse order: entry j-1 should be the norm of dh_T/dh_{T-j}, nearest step first")
        bad = np.flatnonzero(~np.isclose(actual, expected, rtol=1e-3, atol=0.0))
        if bad.size:
            j = int(bad[0]) + 1
            fail(
                f"with {activation_name} activation, ||dh_T/dh_(T-{j})|| should be {expected[j - 1]:.4g}, "
                f"got {actual[j - 1]:.4g}"
            )
    passed(f"jacobian_norms matches the product of step Jacobians over {steps} steps, for tanh and identity")


def check_clip_gradients(clip_fn, seed=0):
    """``clip_gradients(grads, max_norm)`` against ``tf.clip_by_global_norm``."""
    rng = np.random.default_rng(seed)
    clip_fn = refusing_delegation(clip_fn, CLIP_GRADIENTS)

    def tensors(*shapes, scale=1.0):
        return [tf.constant(rng.normal(scale=scale, size=s).astype("float32")) for s in shapes]

    cases = {
        "a large gradient (global norm above max_norm)": (tensors((3, 4), (4,), (2, 2, 2), scale=3.0), 1.0),
        "a small gradient (global norm below max_norm)": (tensors((3, 4), (4,), scale=0.01), 5.0),
        "a list with None entries": ([None] + tensors((5,), scale=2.0) + [None] + tensors((2, 3), scale=2.0), 0.5),
        "all-zero gradients": ([tf.zeros((3,)), tf.zeros((2, 2))], 1.0),
    }
    for description, (grads, max_norm) in cases.items():
        expected_clipped, expected_norm = tf.clip_by_global_norm(grads, max_norm)
        result = clip_fn(grads, max_norm)
        if not isinstance(result, tuple) or len(result) != 2:
            fail("clip_gradients should return a pair (clipped_grads, global_norm)")
        clipped, norm = result
        if not np.isfinite(float(norm)):
            fail(f"with {description} the global norm is {float(norm)}: guard against dividing by zero")
        if not np.isclose(float(norm), float(expected_norm), rtol=1e-5):
            fail(
                f"with {description} the global norm should be {float(expected_norm):.5g} (the square root of the "
                f"sum of squares of every entry of every gradient), got {float(norm):.5g}"
            )
        if len(clipped) != len(grads):
            fail(f"with {description} you returned {len(clipped)} gradients for {len(grads)} inputs")
        for i, (mine, ref, original) in enumerate(zip(clipped, expected_clipped, grads)):
            if ref is None:
                if mine is not None:
                    fail(f"grads[{i}] is None (the loss does not depend on that variable) and must stay None")
                continue
            if mine is None:
                fail(f"with {description}, grads[{i}] came back as None")
            mine = np.asarray(mine)
            if not np.all(np.isfinite(mine)):
                fail(f"with {description}, grads[{i}] contains NaN or inf: guard against dividing by zero")
            if not np.allclose(mine, ref, rtol=1e-5, atol=1e-7):
                factor = float(expected_norm) and min(1.0, max_norm / float(expected_norm))
                fail(
                    f"with {description} (global norm {float(expected_norm):.3g}, max_norm {max_norm}), "
                    f"every gradient should be scaled by {factor:.3g}; grads[{i}] differs from that by "
                    f"{max_abs_diff(mine, ref):.3g}"
                )
            check_shape(f"grads[{i}]", mine, np.shape(original))
    passed("clip_gradients agrees with tf.clip_by_global_norm, None entries and zero gradients included")


def check_lstm_cell(cell_class, batch=2, steps=5, input_dim=3, units=4, seed=0):
    """``RNN(cell_class(units))`` reproduces ``LSTM(units)``: outputs and final states h and c."""
    rng = np.random.default_rng(seed)
    x = tf.constant(_random_inputs(rng, batch, steps, input_dim))
    reference = tf.keras.layers.LSTM(units, return_sequences=True, return_state=True)
    weights = _randomise(rng, reference, batch, steps, input_dim)
    expected_seq, expected_h, expected_c = (t.numpy() for t in reference(x))

    with refuse_delegation(LSTM_CELL):
        cell = cell_class(units)
        if list(np.ravel(cell.state_size)) != [units, units]:
            fail(f"state_size should be [units, units] = [{units}, {units}] (h and c), got {cell.state_size!r}")
        cell.build((None, input_dim))
        _check_weight_shapes(
            cell, [("kernel", (input_dim, 4 * units)), ("recurrent_kernel", (units, 4 * units)), ("bias", (4 * units,))]
        )
        mine, (actual_seq, actual_h, actual_c) = _lstm_outputs(cell, weights, x)
        check_shape("outputs", actual_seq, expected_seq.shape)
        message = _step_mismatch(actual_seq, expected_seq, "keras.layers.LSTM", "check the new states you return: [h, c], in that order")
        if message:
            fail(message + _gate_order_hint(mine, weights, x, expected_seq, units))
    if np.allclose(actual_h, expected_c, atol=ATOL) and np.allclose(actual_c, expected_h, atol=ATOL):
        fail("the states come back as [c, h]; Keras expects [h, c]")
    check_close("final hidden state h", actual_h, expected_h, atol=ATOL)
    check_close("final cell state c", actual_c, expected_c, atol=ATOL)
    passed(f"RNN(MyLSTMCell({units})) matches keras.layers.LSTM({units}): outputs and final h, c agree to {ATOL}")


def _gate_order_hint(layer, weights, x, expected, units):
    """Finds the gate order the student used, if it is a permutation of Keras's i, f, c, o.

    The first three weights are kernel, recurrent_kernel and bias; any after them (peepholes) are kept as they are.
    """
    gates = "ifco"
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        permuted = [np.concatenate([w[..., k * units:(k + 1) * units] for k in order], axis=-1) for w in weights[:3]]
        permuted += list(weights[3:])
        layer.set_weights(permuted)
        if np.allclose(layer(x)[0], expected, atol=ATOL):
            used = "".join(gates[k] for k in order)
            return f"; your code reads the gate blocks in the order {', '.join(used)}: Keras packs them i, f, c, o"
    layer.set_weights(weights)
    return ""


PEEPHOLES = ("input_gate_peephole", "forget_gate_peephole", "output_gate_peephole")  # w_ci, w_cf, w_co


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
    w, u, b, w_ci, w_cf, w_co = (np.asarray(a, dtype=np.float64) for a in (kernel, recurrent_kernel, bias, w_ci, w_cf, w_co))
    h = c = np.zeros((x.shape[0], u.shape[0]))
    outputs = []
    for x_t in np.moveaxis(x, 1, 0):
        z_i, z_f, z_c, z_o = np.split(x_t @ w + h @ u + b, 4, axis=-1)
        c_prev = c
        c = _sigmoid(z_f + w_cf * c_prev) * c_prev + _sigmoid(z_i + w_ci * c_prev) * np.tanh(z_c)
        h = _sigmoid(z_o + w_co * (c_prev if output_gate_reads_c_prev else c)) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def check_peephole_lstm_cell(cell_class, batch=2, steps=5, input_dim=3, units=4, seed=0):
    """``RNN(cell_class(units))`` is a peephole LSTM: ``keras.layers.LSTM`` when the peepholes are zero, the numpy reference otherwise.

    Args:
        cell_class: the student's cell class, built as ``cell_class(units)``.
        batch, steps, input_dim, units: sizes of the test. ``steps`` must be at least 2: the input and forget
            gates read c_{t-1}, which is zero at the first step.
        seed: seed of the random inputs and weights.
    """
    if steps < 2:
        raise ValueError(f"steps should be at least 2 (the input and forget gates read c_(t-1), zero at the first step), got {steps}")
    rng = np.random.default_rng(seed)
    x = tf.constant(_random_inputs(rng, batch, steps, input_dim))
    reference = tf.keras.layers.LSTM(units, return_sequences=True, return_state=True)
    lstm_weights = _randomise(rng, reference, batch, steps, input_dim)
    plain = reference(x)[0].numpy()
    peepholes = [rng.normal(scale=1.0, size=units).astype("float32") for _ in PEEPHOLES]
    weights = lstm_weights + peepholes
    expected_seq, expected_h, expected_c = _reference_peephole_lstm(x, *weights)
    output_gate_late = _reference_peephole_lstm(x, *weights, output_gate_reads_c_prev=True)[0]
    no_peepholes = lstm_weights + [np.zeros(units, "float32") for _ in PEEPHOLES]

    with refuse_delegation(PEEPHOLE_LSTM_CELL):
        cell = cell_class(units)
        if list(np.ravel(cell.state_size)) != [units, units]:
            fail(f"state_size should be [units, units] = [{units}, {units}] (h and c), got {cell.state_size!r}")
        cell.build((None, input_dim))
        for name, weight in zip(PEEPHOLES, cell.weights[3:]):
            if len(weight.shape) == 2:
                fail(f"{name} has shape {tuple(weight.shape)}: peephole weights are diagonal, one vector of shape "
                     f"(units,) = ({units},) per gate, multiplied elementwise with the cell state (w * c, not a matmul)")
        _check_weight_shapes(
            cell,
            [("kernel", (input_dim, 4 * units)), ("recurrent_kernel", (units, 4 * units)), ("bias", (4 * units,))]
            + [(name, (units,)) for name in PEEPHOLES],
        )
        mine, (actual_seq, actual_h, actual_c) = _lstm_outputs(cell, no_peepholes, x)
        check_shape("outputs", actual_seq, plain.shape)
        if np.allclose(actual_c, actual_seq[:, -1], atol=ATOL) and not np.allclose(actual_h, actual_seq[:, -1], atol=ATOL):
            fail("the states come back as [c, h]; Keras expects [h, c] (the first state is the output h)")
        message = _step_mismatch(actual_seq, plain, "keras.layers.LSTM", "check the new states you return: [h, c], in that order")
        if message:
            fail("with zero peephole weights the cell should compute keras.layers.LSTM, but its "
                 + message + _gate_order_hint(mine, no_peepholes, x, plain, units))

        mine.set_weights(weights)
        actual_seq, actual_h, actual_c = (np.asarray(t) for t in mine(x))
        message = _step_mismatch(
            actual_seq, expected_seq, "the peephole LSTM",
            "look at the input and forget gates (at step 0 they read c_(t-1) = 0, so only the output gate's peephole counts)",
        )
        if message:
            fail(message + _peephole_hint(mine, weights, x, actual_seq, plain, output_gate_late))
    check_close("final hidden state h", actual_h, expected_h, atol=ATOL)
    check_close("final cell state c", actual_c, expected_c, atol=ATOL)
    passed(f"RNN(MyPeepholeLSTMCell({units})) equals keras.layers.LSTM({units}) with zero peepholes, and a peephole "
           f"LSTM computed in numpy with random ones: outputs and final h, c agree to {ATOL}")


def _peephole_hint(layer, weights, x, actual, plain, output_gate_late):
    """Names the likely mistake of a cell whose outputs differ from the peephole LSTM's."""
    if np.allclose(actual, plain, atol=ATOL):
        return "; they equal keras.layers.LSTM's: the cell computes a plain LSTM and ignores its peephole weights"
    if np.allclose(actual, output_gate_late, atol=ATOL):
        return "; the output gate reads c_(t-1): it should read the new cell state c_t, the one it is about to show"
    unused = []
    for k, name in enumerate(PEEPHOLES):
        layer.set_weights([np.zeros_like(w) if i == 3 + k else w for i, w in enumerate(weights)])
        if np.allclose(layer(x)[0], actual, atol=ATOL):
            unused.append(name)
    layer.set_weights(weights)
    if unused:
        return f"; {' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used: each gate reads the cell state through its own peephole"
    return ""


def check_recall_task(make_fn, num_examples=200, length=12, num_symbols=4, seed=0):
    """``make_selective_recall(num_examples, length, num_symbols, seed)``: the data of Part 5."""
    x, y = make_fn(num_examples, length, num_symbols, seed)
    x, y = np.asarray(x), np.asarray(y)
    check_shape("x", x, (num_examples, length))
    check_shape("y", y, (num_examples,))
    if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        fail(f"x and y should hold integer token ids, got dtypes {x.dtype} and {y.dtype}")
    marker = num_symbols
    markers_per_row = np.sum(x == marker, axis=1)
    if not np.all(markers_per_row == 1):
        fail(f"every sequence needs exactly one marker token ({marker}); row {int(np.argmax(markers_per_row != 1))} has {int(markers_per_row[np.argmax(markers_per_row != 1)])}")
    if x.min() < 0 or x.max() > marker:
        fail(f"token ids should lie in 0..{marker}, got {x.min()}..{x.max()}")
    position = np.argmax(x == marker, axis=1)
    if position.max() >= length // 2:
        fail(f"the marker should sit in the first half (positions 0..{length // 2 - 1}), found one at {position.max()}")
    if not np.array_equal(y, x[np.arange(num_examples), position + 1]):
        fail("y should be the token right after the marker")
    if len(np.unique(position)) < 2 or len(np.unique(y)) < num_symbols:
        fail("marker positions and targets should be random: draw them with the generator seeded by `seed`")
    x_again, _ = make_fn(num_examples, length, num_symbols, seed)
    if not np.array_equal(x, np.asarray(x_again)):
        fail("the same seed should give the same data: use np.random.default_rng(seed)")
    x_other, _ = make_fn(num_examples, length, num_symbols, seed + 1)
    if np.array_equal(x, np.asarray(x_other)):
        fail("a different seed should give different data")
    passed(f"make_selective_recall builds {num_examples} sequences of length {length} with one marker each")


__all__ = [
    "CheckFailed",
    "check_clip_gradients",
    "check_jacobian_norms",
    "check_lstm_cell",
    "check_peephole_lstm_cell",
    "check_prediction",
    "check_recall_task",
    "check_rnn_cell_matches_simple_rnn",
    "check_rnn_cell_weights",
    "check_rnn_model",
]
