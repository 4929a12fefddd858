"""Self-checks for Lab 1, "RNNs from scratch".

Every check is a probe and a comparison (see :mod:`course_utils.checks.probing`). The probe (``probe_<name>``)
makes random inputs and weights from its arguments with a public function (``simple_rnn_inputs``,
``lstm_inputs``...), runs the student's code on them and returns what came out. The comparison
(``compare_<name>``) sets that against what a reference (a Keras layer, ``tf.clip_by_global_norm`` or a numpy
computation, kept with the graders) and each known mistake give on the same inputs, and fails with a message that
points at the mistake. The visible test cells call the checks with one set of shapes and seeds, whose expected
results ship with the lab; the graders' hidden tests call them with others, and with seeds drawn per submission.
The student's code runs under ``refuse_delegation``: it may not call the function the exercise asks for (the
``Exercise`` constants below list them), and with TensorFloat-32 off, so that GPUs compute in full float32 as the
references do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from course_utils.checks import (
    CheckFailed,
    Expectation,
    Observations,
    check_answer,
    check_answer_recorded,
    check_close,
    check_prediction,
    check_shape,
    fail,
    max_abs_diff,
)
from course_utils.checks._common import compare_final_states, full_float32, step_mismatch
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refusing_delegation
from course_utils.checks.probing import Check

if TYPE_CHECKING:
    import keras
    from numpy.typing import ArrayLike

ATOL = 1e-5  # float32 agreement asked of cells that reproduce a Keras layer

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
_CUDNN_RNN = Forbidden("tf.raw_ops.CudnnRNN", "tensorflow/python/ops/gen_cudnn_rnn_ops.py")
# The graders' references (autograde/grading/references/lab1.py): not shipped to students, refused wherever a copy is found.
_REFERENCES = "autograde/grading/references/lab1.py"
RNN_CELL = Exercise(
    "MyRNNCell",
    hint="create kernel, recurrent_kernel and bias with self.add_weight and compute tanh(x W_xh + h W_hh + b) with tf.matmul",
    forbidden=(
        Forbidden.defined_with("keras.layers.SimpleRNNCell (or SimpleRNN)", "keras.layers.SimpleRNNCell"),
        _CUDNN_RNN,
    ),
)
LSTM_CELL = Exercise(
    "MyLSTMCell",
    hint="create the three weights with self.add_weight and compute the gates from z = x W + h U + b with tf.split, tf.sigmoid and tf.tanh",
    forbidden=(
        Forbidden.defined_with("keras.layers.LSTMCell (or LSTM)", "keras.layers.LSTMCell"),
        Forbidden("tf.raw_ops.LSTMBlockCell (or BlockLSTM)", "tensorflow/python/ops/gen_rnn_ops.py"),
        _CUDNN_RNN,
    ),
)
PEEPHOLE_LSTM_CELL = Exercise(
    "MyPeepholeLSTMCell",
    hint="add the three peephole vectors with self.add_weight and add w * c to each gate's pre-activation yourself",
    # The LSTM's shortcuts (LSTMBlockCell has peepholes too: use_peephole=True), and the check's own reference.
    forbidden=LSTM_CELL.forbidden + (Forbidden("the check's reference", _REFERENCES, "_reference_peephole_lstm"),),
)
JACOBIAN_NORMS = Exercise(
    "jacobian_norms",
    hint="run the recurrence inside a persistent tf.GradientTape and take the norms of tape.jacobian yourself",
    forbidden=(Forbidden("the check's reference", _REFERENCES, "_reference_jacobian_norms"),),
)
CLIP_GRADIENTS = Exercise(
    "clip_gradients",
    hint="compute the global norm and the scale yourself",
    forbidden=(
        Forbidden("tf.clip_by_global_norm", "tensorflow/python/ops/clip_ops.py", "clip_by_global_norm"),
        Forbidden("tf.linalg.global_norm", "tensorflow/python/ops/clip_ops.py", "global_norm"),
        # Keras keeps these in a private file that no public object of its is defined in (checked by tests/labs/test_delegation.py).
        Forbidden(
            "Keras's clip_by_global_norm (global_clipnorm)",
            "keras/src/optimizers/base_optimizer.py",
            "clip_by_global_norm",
        ),
        Forbidden("Keras's global_norm", "keras/src/optimizers/base_optimizer.py", "global_norm"),
    ),
)

PEEPHOLES = ("input_gate_peephole", "forget_gate_peephole", "output_gate_peephole")  # w_ci, w_cf, w_co


def _random_inputs(rng, batch, steps, input_dim):
    return rng.normal(size=(batch, steps, input_dim)).astype("float32")


def _built_rnn(cell, batch, steps, input_dim, **kwargs):
    layer = tf.keras.layers.RNN(cell, **kwargs)
    layer.build((batch, steps, input_dim))
    return layer


def _check_weight_shapes(cell, expected):
    """Fails unless ``cell`` created the weights ``expected`` ([(name, shape), ...], in creation order): the probe's
    inputs (made with those shapes) could not be given to it otherwise."""
    _compare_weight_shapes([tuple(weight.shape) for weight in cell.weights], expected)


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


def probe_rnn_cell_weights(cell_class: type[keras.layers.Layer], input_dim: int = 3, units: int = 4) -> Observations:
    """``state_size`` and the shapes of the weights ``cell_class(units)`` creates for inputs of size ``input_dim``."""
    with refuse_delegation(RNN_CELL):
        cell = cell_class(units)
        state_size = cell.state_size
        cell.build((None, input_dim))
        shapes = [list(weight.shape) for weight in cell.weights]
    return {"state_size": np.ravel(state_size).tolist() if np.ndim(state_size) else state_size, "weight_shapes": shapes}


def compare_rnn_cell_weights(observed: Observations, expected: Expectation, input_dim: int, units: int) -> str:
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


def simple_rnn_inputs(
    batch: int, steps: int, input_dim: int, units: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """The inputs, weights (kernel, recurrent_kernel, bias) and output projection of the SimpleRNN comparison."""
    rng = np.random.default_rng(seed)
    x = _random_inputs(rng, batch, steps, input_dim)
    shapes = [(input_dim, units), (units, units), (units,)]
    # Scaled so the recurrence matters without saturating tanh everywhere.
    weights = [rng.normal(scale=0.5, size=shape).astype("float32") for shape in shapes]
    projection = rng.normal(size=(batch, steps, units)).astype("float32")
    return x, weights, projection


def probe_rnn_cell_matches_simple_rnn(
    cell_class: type[keras.layers.Layer],
    batch: int = 2,
    steps: int = 5,
    input_dim: int = 3,
    units: int = 4,
    seed: int = 0,
) -> Observations:
    """Outputs and gradients of ``RNN(cell_class(units))`` on :func:`simple_rnn_inputs`, and its outputs with the
    recurrent kernel, then the bias, set to zero (which shows whether each is used)."""
    x, weights, projection = simple_rnn_inputs(batch, steps, input_dim, units, seed)
    x = tf.constant(x)
    with full_float32(), refuse_delegation(RNN_CELL):
        mine = _rnn_with_weights(cell_class(units), weights, batch, steps, input_dim, return_sequences=True)
        outputs = mine(x).numpy()
        variants = {}
        for name, zeroed in (("without_recurrent_kernel", 1), ("without_bias", 2)):
            mine.set_weights([np.zeros_like(w) if i == zeroed else w for i, w in enumerate(weights)])
            variants[name] = mine(x).numpy()
        mine.set_weights(weights)
        grads = _gradients(mine, x, tf.constant(projection))
    names = ["inputs", "kernel", "recurrent_kernel", "bias"]
    return {
        "outputs": outputs,
        **variants,
        "gradients": {n: None if g is None else np.asarray(g) for n, g in zip(names, grads)},
    }


def compare_rnn_cell_matches_simple_rnn(
    observed: Observations, expected: Expectation, batch: int, steps: int, input_dim: int, units: int, seed: int
) -> str:
    actual = observed["outputs"]
    check_shape("RNN(MyRNNCell) outputs", actual, np.shape(expected["outputs"]))
    message = step_mismatch(
        ATOL, actual, expected["outputs"], "SimpleRNN", "look at how the previous state h_{t-1} enters"
    )
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


def rnn_model_inputs(
    batch: int, steps: int, input_dim: int, seed: int, weight_shapes: Iterable[Sequence[int]] = ()
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The inputs of the model comparison, then random weights of ``weight_shapes`` (the model's own, in order)."""
    rng = np.random.default_rng(seed)
    x = _random_inputs(rng, batch, steps, input_dim)
    weights = [rng.normal(scale=0.5, size=shape).astype("float32") for shape in weight_shapes]
    return x, weights


def probe_rnn_model(
    build_fn: Callable[..., keras.Model],
    cell_class: type[keras.layers.Layer],
    input_dim: int = 3,
    units: int = 5,
    output_dim: int = 2,
    steps: int = 6,
    batch: int = 2,
    seed: int = 0,
) -> Observations:
    """``build_fn(input_dim, units, output_dim, return_sequences)``: many-to-many and many-to-one models.

    Checks the output shapes with ``return_sequences`` True and False, the parameter count, that the many-to-one
    output is the last step of the many-to-many one when both hold the same random weights, and that the output is
    ``y_t = h_t W_hy + b_y`` at every step, with ``h_t`` the model's own RNN layer's output.

    Args:
        build_fn: the student's ``build_rnn_model``.
        cell_class: the student's ``MyRNNCell``; the model's one ``keras.layers.RNN`` layer must wrap one.
        input_dim, units, output_dim: passed to ``build_fn``.
        steps, batch: sizes of the random inputs.
        seed: seed of the random inputs and weights (:func:`rnn_model_inputs`).
    """
    x, _ = rnn_model_inputs(batch, steps, input_dim, seed)
    models, output_shapes = {}, {}
    for return_sequences in (True, False):
        model = build_fn(input_dim, units, output_dim, return_sequences=return_sequences)
        if not isinstance(model, tf.keras.Model):
            fail(f"build_rnn_model should return a keras Model, got {type(model).__name__}")
        rnns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.RNN)]
        if len(rnns) != 1 or not isinstance(rnns[0].cell, cell_class):
            fail("the model should contain exactly one keras.layers.RNN layer wrapping your MyRNNCell")
        output_shapes[str(return_sequences)] = [int(d) for d in np.shape(model(x))]
        models[return_sequences] = model
    many_to_many, many_to_one = models[True], models[False]
    observed = {"output_shapes": output_shapes, "weight_shapes": [list(w.shape) for w in many_to_many.get_weights()]}
    try:  # a model of the wrong shape may not get this far: the comparison reports its shape first
        _, weights = rnn_model_inputs(batch, steps, input_dim, seed, observed["weight_shapes"])
        many_to_many.set_weights(weights)
        many_to_one.set_weights(weights)
        rnn = [layer for layer in many_to_many.layers if isinstance(layer, tf.keras.layers.RNN)][0]
        with full_float32():
            observed.update(
                many_to_many=np.asarray(many_to_many(x)),
                many_to_one=np.asarray(many_to_one(x)),
                hidden=np.asarray(rnn(x)),
            )
    except Exception as error:  # noqa: BLE001 -- the student's model raised
        observed["raised"] = f"{type(error).__name__}: {error}"[:2000]
    return observed


def compare_rnn_model(
    observed: Observations,
    expected: Expectation,
    input_dim: int,
    units: int,
    output_dim: int,
    steps: int,
    batch: int,
    seed: int,
) -> str:
    for return_sequences in (True, False):
        check_shape(
            f"output with return_sequences={return_sequences}",
            tuple(observed["output_shapes"][str(return_sequences)]),
            tuple(expected["output_shapes"][str(return_sequences)]),
        )
    parameters = sum(int(np.prod(shape)) for shape in observed["weight_shapes"])  # the model's count_params()
    if parameters != expected["parameters"]:
        fail(
            f"expected {expected['parameters']} parameters (RNN: {input_dim}*{units} + {units}*{units} + {units}, "
            f"Dense: {units}*{output_dim} + {output_dim}), got {parameters}"
        )
    if "raised" in observed:
        fail(f"your code raised {observed['raised']}")
    if len(observed["weight_shapes"]) != 5:
        fail(
            f"the model should hold 5 weights (the RNN's kernel, recurrent_kernel and bias, then the Dense layer's "
            f"kernel and bias), it holds {len(observed['weight_shapes'])}"
        )
    y_all, hidden = observed["many_to_many"], observed["hidden"]
    check_shape("output with return_sequences=True", y_all, tuple(expected["output_shapes"]["True"]))
    check_shape("the RNN layer's output h_t", hidden, tuple(expected["hidden_shape"]))
    check_close("many-to-one output vs the last step of many-to-many", observed["many_to_one"], y_all[:, -1])
    _, weights = rnn_model_inputs(batch, steps, input_dim, seed, observed["weight_shapes"])  # the weights the probe set
    w_hy, b_y = weights[3], weights[4]
    check_close("y_t = h_t W_hy + b_y at every step", y_all, hidden @ w_hy + b_y)
    return "many-to-many and many-to-one models have the right shapes, parameters and outputs"


check_rnn_model = Check(probe_rnn_model, compare_rnn_model)

JACOBIAN_ACTIVATIONS = (("tanh", tf.tanh), ("identity", tf.identity))


def jacobian_inputs(units: int, steps: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{activation name: (W, inputs)}: a random recurrent kernel (units, units), scaled near the edge of stability,
    and per-step inputs (steps, units), one pair for each activation of :data:`JACOBIAN_ACTIVATIONS`."""
    rng = np.random.default_rng(seed)
    pairs = {}
    for name, _ in JACOBIAN_ACTIVATIONS:
        w = rng.normal(scale=1.2 / np.sqrt(units), size=(units, units)).astype("float32")
        u = rng.normal(scale=0.5, size=(steps, units)).astype("float32")
        pairs[name] = (w, u)
    return pairs


def probe_jacobian_norms(
    jacobian_norms_fn: Callable[[tf.Tensor, tf.Tensor, Callable[[tf.Tensor], tf.Tensor]], ArrayLike],
    units: int = 6,
    steps: int = 10,
    seed: int = 0,
) -> Observations:
    """``jacobian_norms(W, inputs, activation)`` against the numpy product of step Jacobians.

    Args:
        jacobian_norms_fn: the student's ``jacobian_norms``, called as ``jacobian_norms_fn(W, inputs, activation)``
            with ``tf.tanh`` and with ``tf.identity``; it should return the norms of dh_T/dh_(T-j) for j = 1..steps.
        units, steps: sizes of W (units, units) and of the inputs (steps, units).
        seed: seed of the random W and inputs (:func:`jacobian_inputs`).
    """
    inputs = jacobian_inputs(units, steps, seed)
    norms = {}
    for name, activation in JACOBIAN_ACTIVATIONS:
        w, u = inputs[name]
        with full_float32(), refuse_delegation(JACOBIAN_NORMS):
            norms[name] = np.asarray(
                jacobian_norms_fn(tf.constant(w), tf.constant(u), activation), dtype=np.float64
            ).ravel()
    return {"norms": norms}


def compare_jacobian_norms(observed: Observations, expected: Expectation, units: int, steps: int, seed: int) -> str:
    for activation_name, _ in JACOBIAN_ACTIVATIONS:
        actual, wanted = observed["norms"][activation_name], expected["norms"][activation_name]
        if actual.shape != wanted.shape:
            fail(f"expected {steps} norms (one per distance T-k = 1..{steps}), got {actual.shape[0]}")
        if np.allclose(actual[::-1], wanted, rtol=1e-3) and not np.allclose(actual, wanted, rtol=1e-3):
            fail("your norms are in reverse order: entry j-1 should be the norm of dh_T/dh_{T-j}, nearest step first")
        bad = np.flatnonzero(~np.isclose(actual, wanted, rtol=1e-3, atol=0.0))
        if bad.size:
            j = int(bad[0]) + 1
            fail(
                f"with {activation_name} activation, ||dh_T/dh_(T-{j})|| should be {wanted[j - 1]:.4g}, got {actual[j - 1]:.4g}"
            )
    return f"jacobian_norms matches the product of step Jacobians over {steps} steps, for tanh and identity"


check_jacobian_norms = Check(probe_jacobian_norms, compare_jacobian_norms)


def clip_gradient_cases(seed: int) -> list[tuple[str, list[np.ndarray | None], float]]:
    """[(description, grads, max_norm)]: the gradient lists (float32 arrays, None where a variable gets no gradient)
    that ``clip_gradients`` is given, each with its ``max_norm``."""
    rng = np.random.default_rng(seed)

    def arrays(*shapes, scale=1.0):
        return [rng.normal(scale=scale, size=s).astype("float32") for s in shapes]

    return [
        ("a large gradient (global norm above max_norm)", arrays((3, 4), (4,), (2, 2, 2), scale=3.0), 1.0),
        ("a small gradient (global norm below max_norm)", arrays((3, 4), (4,), scale=0.01), 5.0),
        ("a list with None entries", [None] + arrays((5,), scale=2.0) + [None] + arrays((2, 3), scale=2.0), 0.5),
        ("all-zero gradients", [np.zeros((3,), "float32"), np.zeros((2, 2), "float32")], 1.0),
    ]


def probe_clip_gradients(
    clip_fn: Callable[[list[tf.Tensor | None], float], tuple[list[tf.Tensor | None], tf.Tensor]], seed: int = 0
) -> Observations:
    """``clip_gradients(grads, max_norm)`` against ``tf.clip_by_global_norm``, None entries and zero gradients included.

    Args:
        clip_fn: the student's ``clip_gradients``, returning ``(clipped_grads, global_norm)``.
        seed: seed of the random gradients (:func:`clip_gradient_cases`).
    """
    clip_fn = refusing_delegation(clip_fn, CLIP_GRADIENTS)
    cases = []
    for description, grads, max_norm in clip_gradient_cases(seed):
        result = clip_fn([None if g is None else tf.constant(g) for g in grads], max_norm)
        if not isinstance(result, tuple) or len(result) != 2:
            cases.append({"description": description, "pair": False})
            continue
        clipped, norm = result
        cases.append(
            {
                "description": description,
                "pair": True,
                "norm": float(norm),
                "clipped": [None if g is None else np.asarray(g) for g in clipped],
            }
        )
    return {"cases": cases}


def compare_clip_gradients(observed: Observations, expected: Expectation, seed: int) -> str:
    for case, wanted in zip(observed["cases"], expected["cases"]):
        description, max_norm, expected_norm = wanted["description"], wanted["max_norm"], wanted["norm"]
        if not case["pair"]:
            fail("clip_gradients should return a pair (clipped_grads, global_norm)")
        norm, clipped = case["norm"], case["clipped"]
        if not np.isfinite(norm):
            fail(f"with {description} the global norm is {norm}: guard against dividing by zero")
        if not np.isclose(norm, expected_norm, rtol=1e-5):
            fail(
                f"with {description} the global norm should be {expected_norm:.5g} (the square root of the "
                f"sum of squares of every entry of every gradient), got {norm:.5g}"
            )
        if len(clipped) != len(wanted["clipped"]):
            fail(f"with {description} you returned {len(clipped)} gradients for {len(wanted['clipped'])} inputs")
        for i, (mine, ref) in enumerate(zip(clipped, wanted["clipped"])):
            if ref is None:
                if mine is not None:
                    fail(f"grads[{i}] is None (the loss does not depend on that variable) and must stay None")
                continue
            if mine is None:
                fail(f"with {description}, grads[{i}] came back as None")
            if not np.all(np.isfinite(mine)):
                fail(f"with {description}, grads[{i}] contains NaN or inf: guard against dividing by zero")
            if not np.allclose(mine, ref, rtol=1e-5, atol=1e-7):
                fail(
                    f"with {description} (global norm {expected_norm:.3g}, max_norm {max_norm}), "
                    f"every gradient should be scaled by {wanted['scale']:.3g}; grads[{i}] differs from that by "
                    f"{max_abs_diff(mine, ref):.3g}"
                )
            check_shape(f"grads[{i}]", mine, np.shape(ref))
    return "clip_gradients agrees with tf.clip_by_global_norm, None entries and zero gradients included"


check_clip_gradients = Check(probe_clip_gradients, compare_clip_gradients)


def _lstm_draws(rng, batch, steps, input_dim, units):
    x = _random_inputs(rng, batch, steps, input_dim)
    # Scaled so the recurrence matters without saturating the gates everywhere.
    weights = [
        rng.normal(scale=0.5, size=shape).astype("float32") for _, shape in _lstm_weight_shapes(input_dim, units)
    ]
    return x, weights


def _lstm_weight_shapes(input_dim, units):
    """[(name, shape)] of an LSTM cell's weights, in creation order."""
    return [("kernel", (input_dim, 4 * units)), ("recurrent_kernel", (units, 4 * units)), ("bias", (4 * units,))]


def lstm_inputs(batch: int, steps: int, input_dim: int, units: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The inputs (batch, steps, input_dim) and LSTM weights (kernel, recurrent_kernel, bias; gate blocks i, f, c, o)
    of the LSTM comparison."""
    return _lstm_draws(np.random.default_rng(seed), batch, steps, input_dim, units)


def _check_lstm_cell_structure(cell_class, units, input_dim, extra_weights=()):
    """``cell_class(units)``, built, after failing unless it has two states and the weights the inputs fit."""
    cell = cell_class(units)
    if list(np.ravel(cell.state_size)) != [units, units]:
        fail(f"state_size should be [units, units] = [{units}, {units}] (h and c), got {cell.state_size!r}")
    cell.build((None, input_dim))
    for name, weight in zip(extra_weights, cell.weights[3:]):
        if len(weight.shape) == 2:
            fail(
                f"{name} has shape {tuple(weight.shape)}: peephole weights are diagonal, one vector of shape "
                f"(units,) = ({units},) per gate, multiplied elementwise with the cell state (w * c, not a matmul)"
            )
    _check_weight_shapes(cell, _lstm_weight_shapes(input_dim, units) + [(name, (units,)) for name in extra_weights])
    return cell


def probe_lstm_cell(
    cell_class: type[keras.layers.Layer],
    batch: int = 2,
    steps: int = 5,
    input_dim: int = 3,
    units: int = 4,
    seed: int = 0,
) -> Observations:
    """``RNN(cell_class(units))`` reproduces ``LSTM(units)``: outputs and final states h and c.

    A cell that reads the gate blocks in another order than Keras's i, f, c, o is told which order it reads.

    Args:
        cell_class: the student's cell class, built as ``cell_class(units)``.
        batch, steps, input_dim, units: sizes of the test.
        seed: seed of the random inputs and weights (:func:`lstm_inputs`).
    """
    x, weights = lstm_inputs(batch, steps, input_dim, units, seed)
    with full_float32(), refuse_delegation(LSTM_CELL):
        cell = _check_lstm_cell_structure(cell_class, units, input_dim)
        _, (outputs, h, c) = _lstm_outputs(cell, weights, tf.constant(x))
    return {"outputs": outputs, "h": h, "c": c}


def _gate_order_hint(outputs, fingerprints):
    """The gate order a cell reads, when its outputs are those of a correct LSTM on weights whose blocks are permuted.

    ``fingerprints``: {"orders": [...], "outputs": [...]}, what a cell reading each wrong order outputs.
    """
    for order, fingerprint in zip(fingerprints["orders"], fingerprints["outputs"]):
        if np.shape(outputs) == np.shape(fingerprint) and np.allclose(outputs, fingerprint, atol=ATOL):
            return f"; your code reads the gate blocks in the order {', '.join(order)}: Keras packs them i, f, c, o"
    return ""


def compare_lstm_cell(
    observed: Observations, expected: Expectation, batch: int, steps: int, input_dim: int, units: int, seed: int
) -> str:
    actual_seq, actual_h, actual_c = observed["outputs"], observed["h"], observed["c"]
    expected_seq, expected_h, expected_c = expected["outputs"], expected["h"], expected["c"]
    check_shape("outputs", actual_seq, np.shape(expected_seq))
    message = step_mismatch(
        ATOL, actual_seq, expected_seq, "keras.layers.LSTM", "check the new states you return: [h, c], in that order"
    )
    if message:
        fail(message + _gate_order_hint(actual_seq, expected["gate_orders"]))
    compare_final_states(ATOL, actual_h, actual_c, expected_h, expected_c)
    return f"RNN(MyLSTMCell({units})) matches keras.layers.LSTM({units}): outputs and final h, c agree to {ATOL}"


check_lstm_cell = Check(probe_lstm_cell, compare_lstm_cell)


def peephole_lstm_inputs(
    batch: int, steps: int, input_dim: int, units: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The inputs and LSTM weights of :func:`lstm_inputs`'s form, then the three random peephole vectors (units,)."""
    rng = np.random.default_rng(seed)
    x, lstm_weights = _lstm_draws(rng, batch, steps, input_dim, units)
    peepholes = [rng.normal(scale=1.0, size=units).astype("float32") for _ in PEEPHOLES]
    return x, lstm_weights, peepholes


def probe_peephole_lstm_cell(
    cell_class: type[keras.layers.Layer],
    batch: int = 2,
    steps: int = 5,
    input_dim: int = 3,
    units: int = 4,
    seed: int = 0,
) -> Observations:
    """``RNN(cell_class(units))`` is a peephole LSTM: ``keras.layers.LSTM`` when the peepholes are zero, the numpy reference otherwise.

    The cell also runs with each peephole set to zero in turn, which shows whether it is used.

    Args:
        cell_class: the student's cell class, built as ``cell_class(units)``.
        batch, steps, input_dim, units: sizes of the test. ``steps`` must be at least 2: the input and forget
            gates read c_{t-1}, which is zero at the first step.
        seed: seed of the random inputs and weights (:func:`peephole_lstm_inputs`).
    """
    x, lstm_weights, peepholes = peephole_lstm_inputs(batch, steps, input_dim, units, seed)
    x = tf.constant(x)
    weights = lstm_weights + peepholes
    no_peepholes = lstm_weights + [np.zeros(units, "float32") for _ in PEEPHOLES]
    with full_float32(), refuse_delegation(PEEPHOLE_LSTM_CELL):
        cell = _check_lstm_cell_structure(cell_class, units, input_dim, PEEPHOLES)
        mine, (plain_seq, plain_h, plain_c) = _lstm_outputs(cell, no_peepholes, x)
        without = {}
        for k, name in enumerate(PEEPHOLES):
            mine.set_weights([np.zeros_like(w) if i == 3 + k else w for i, w in enumerate(weights)])
            without[name] = np.asarray(mine(x)[0])
        mine.set_weights(weights)
        outputs, h, c = (np.asarray(t) for t in mine(x))
    return {
        "zero_peepholes": {"outputs": plain_seq, "h": plain_h, "c": plain_c},
        "outputs": outputs,
        "h": h,
        "c": c,
        "without": without,
    }


def compare_peephole_lstm_cell(
    observed: Observations, expected: Expectation, batch: int, steps: int, input_dim: int, units: int, seed: int
) -> str:
    plain = expected["lstm_outputs"]
    zero = observed["zero_peepholes"]
    check_shape("outputs", zero["outputs"], np.shape(plain))
    last_output = zero["outputs"][:, -1]
    if np.allclose(zero["c"], last_output, atol=ATOL) and not np.allclose(zero["h"], last_output, atol=ATOL):
        fail("the states come back as [c, h]; Keras expects [h, c] (the first state is the output h)")
    message = step_mismatch(
        ATOL, zero["outputs"], plain, "keras.layers.LSTM", "check the new states you return: [h, c], in that order"
    )
    if message:
        fail(
            "with zero peephole weights the cell should compute keras.layers.LSTM, but its "
            + message
            + _gate_order_hint(zero["outputs"], expected["gate_orders"])
        )

    actual_seq = observed["outputs"]
    check_shape("outputs", actual_seq, np.shape(expected["outputs"]))
    message = step_mismatch(
        ATOL,
        actual_seq,
        expected["outputs"],
        "the peephole LSTM",
        "look at the input and forget gates (at step 0 they read c_(t-1) = 0, so only the output gate's peephole counts)",
    )
    if message:
        fail(message + _peephole_hint(observed, expected))
    check_close("final hidden state h", observed["h"], expected["h"], atol=ATOL)
    check_close("final cell state c", observed["c"], expected["c"], atol=ATOL)
    return (
        f"RNN(MyPeepholeLSTMCell({units})) equals keras.layers.LSTM({units}) with zero peepholes, and a peephole "
        f"LSTM computed in numpy with random ones: outputs and final h, c agree to {ATOL}"
    )


def _peephole_hint(observed, expected):
    """Names the likely mistake of a cell whose outputs differ from the peephole LSTM's."""
    actual = observed["outputs"]
    if np.allclose(actual, expected["lstm_outputs"], atol=ATOL):
        return "; they equal keras.layers.LSTM's: the cell computes a plain LSTM and ignores its peephole weights"
    if np.allclose(actual, expected["output_gate_reads_c_prev"], atol=ATOL):
        return "; the output gate reads c_(t-1): it should read the new cell state c_t, the one it is about to show"
    unused = [
        name
        for name in PEEPHOLES
        if np.shape(observed["without"][name]) == np.shape(actual)
        and np.allclose(observed["without"][name], actual, atol=ATOL)
    ]
    if unused:
        return f"; {' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used: each gate reads the cell state through its own peephole"
    return ""


check_peephole_lstm_cell = Check(probe_peephole_lstm_cell, compare_peephole_lstm_cell)


def _draw_observed(x, y):
    """x and y as observations: their shapes and dtypes, and the arrays when they hold numbers."""
    x, y = np.asarray(x), np.asarray(y)
    numeric = x.dtype.kind in "biuf" and y.dtype.kind in "biuf"
    return {
        "x": x if numeric else None,
        "y": y if numeric else None,
        "x_shape": list(x.shape),
        "y_shape": list(y.shape),
        "dtypes": [str(x.dtype), str(y.dtype)],
    }


def probe_recall_task(
    make_fn: Callable[[int, int, int, int], tuple[ArrayLike, ArrayLike]],
    num_examples: int = 200,
    length: int = 12,
    num_symbols: int = 4,
    seed: int = 0,
) -> Observations:
    """``make_selective_recall(num_examples, length, num_symbols, seed)``: the data of Part 5.

    Checks the shapes and integer dtypes, one marker token (``num_symbols``) per row in the first half, the target
    being the token right after it, that the draws are random, and that they are reproducible: ``make_fn`` runs
    twice with ``seed`` and once with ``seed + 1``.

    Args:
        make_fn: the student's ``make_selective_recall``, returning ``(x, y)``.
        num_examples, length, num_symbols, seed: passed to ``make_fn``.
    """
    draws = []
    for draw_seed in (seed, seed, seed + 1):
        x, y = make_fn(num_examples, length, num_symbols, draw_seed)
        draws.append(_draw_observed(x, y))
    first, again, other = draws
    return {**first, "x_same_seed": again["x"], "x_next_seed": other["x"]}


def compare_recall_task(
    observed: Observations, expected: None, num_examples: int, length: int, num_symbols: int, seed: int
) -> str:
    check_shape("x", tuple(observed["x_shape"]), (num_examples, length))
    check_shape("y", tuple(observed["y_shape"]), (num_examples,))
    x, y = observed["x"], observed["y"]
    if x is None or not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        fail(f"x and y should hold integer token ids, got dtypes {observed['dtypes'][0]} and {observed['dtypes'][1]}")
    marker = num_symbols
    markers_per_row = np.sum(x == marker, axis=1)
    if not np.all(markers_per_row == 1):
        fail(
            f"every sequence needs exactly one marker token ({marker}); row {int(np.argmax(markers_per_row != 1))} has {int(markers_per_row[np.argmax(markers_per_row != 1)])}"
        )
    if x.min() < 0 or x.max() > marker:
        fail(f"token ids should lie in 0..{marker}, got {x.min()}..{x.max()}")
    position = np.argmax(x == marker, axis=1)
    if position.max() >= length // 2:
        fail(f"the marker should sit in the first half (positions 0..{length // 2 - 1}), found one at {position.max()}")
    if not np.array_equal(y, x[np.arange(num_examples), position + 1]):
        fail("y should be the token right after the marker")
    if len(np.unique(position)) < 2 or len(np.unique(y)) < num_symbols:
        fail("marker positions and targets should be random: draw them with the generator seeded by `seed`")
    if observed["x_same_seed"] is None or not np.array_equal(x, observed["x_same_seed"]):
        fail("the same seed should give the same data: use np.random.default_rng(seed)")
    if observed["x_next_seed"] is not None and np.array_equal(x, observed["x_next_seed"]):
        fail("a different seed should give different data")
    return f"make_selective_recall builds {num_examples} sequences of length {length} with one marker each"


check_recall_task = Check(probe_recall_task, compare_recall_task, expects=False)


__all__ = [
    "CheckFailed",
    "check_answer",
    "check_answer_recorded",
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
