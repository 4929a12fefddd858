"""Self-checks for Lab 4, "Sequence to sequence with attention".

Every check is a probe and a comparison (see :mod:`course_utils.checks.probing`). The probe (``probe_<name>``) makes
random inputs from the check's arguments with the public input functions below (``gru_inputs``, ``attention_inputs``,
..., so nothing depends on one seed), runs the student's code on them and returns what came out. The comparison
(``compare_<name>``) compares that with the expectation: what the references (Keras layers, a small model, numpy
computations, kept with the instructor, not here) and each typical mistake give on the same inputs. The exercises
that a library already does run under ``refuse_delegation`` (the ``Exercise`` constants below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from course_utils.checks import (
    CheckFailed,
    Expectation,
    Observations,
    check_answer,  # noqa: F401 -- the test cells' reasoning questions
    check_answer_recorded,  # noqa: F401
    check_close,
    check_shape,
    fail,
    max_abs_diff,
)
from course_utils.checks._common import compare_given_weights, full_float32, outputs_with_given_weights
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refusing_delegation
from course_utils.checks.probing import Check

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

ATOL = 1e-5
# The instructor's references, refused if the student's code reaches them where they are installed (never in the
# student bundle); see autograde/grading/references/lab4.py.
_REFERENCES_FILE = "autograde/grading/references/lab4.py"
GRU_CELL = Exercise(
    "MyGRUCell",
    hint="compute the gates, the candidate and the new state with keras.ops yourself",
    forbidden=(
        Forbidden.defined_with("keras.layers.GRUCell (or GRU)", "keras.layers.GRUCell"),
        Forbidden("tf.raw_ops.GRUBlockCell", "tensorflow/python/ops/gen_rnn_ops.py"),
        Forbidden("tf.raw_ops.CudnnRNN", "tensorflow/python/ops/gen_cudnn_rnn_ops.py"),
    ),
)
ATTENTION = Exercise(
    "AdditiveAttention",
    hint="create the three weights with self.add_weight and compute the scores, the masked softmax and the context with keras.ops",
    forbidden=(
        Forbidden.defined_with("keras.layers.AdditiveAttention", "keras.layers.AdditiveAttention"),
        Forbidden.defined_with("keras.layers.Attention", "keras.layers.Attention"),
        Forbidden.defined_with("keras.layers.MultiHeadAttention", "keras.layers.MultiHeadAttention"),
        Forbidden("the check's reference attention", _REFERENCES_FILE, "reference_attention"),
    ),
)
BEAM_SEARCH = Exercise(
    "beam_search",
    hint="keep the beams' tokens, scores, states and lengths in tensors and pick the survivors with tf.math.top_k",
    forbidden=(
        Forbidden("tf.nn.ctc_beam_search_decoder", "tensorflow/python/ops/ctc_ops.py"),
        Forbidden("the check's exhaustive search", _REFERENCES_FILE, "exhaustive_search"),
        Forbidden("the check's reference beam search", _REFERENCES_FILE, "reference_beam_search"),
    ),
)


# --- Exercise 1: the GRU cell -------------------------------------------------------------------------------

INITIAL_STATES = ("from a zero state", "from a random initial state")
GRU_MISTAKES = {
    "gates swapped": "the update gate z and the reset gate r are swapped: Keras packs them z, r, h (z first)",
    "reset before": "the reset gate is applied before the recurrent product, (r * h) U_h; with reset_after=True it multiplies (h U_h + b'_h)",
    "z flipped": "the new state mixes the other way round: Keras uses h_t = z * h_(t-1) + (1 - z) * candidate",
    "no recurrent bias": "the recurrent bias (bias row 1) is not used: add it to h_(t-1) U before splitting",
}
GRU_GRADIENTS = ("inputs", "kernel", "recurrent_kernel", "bias")


def gru_weight_shapes(input_dim: int, units: int) -> list[tuple[str, tuple[int, ...]]]:
    """[(name, shape)] of a GRU cell's weights in creation order, in Keras's layout (gates z, r, h; reset_after=True)."""
    return [("kernel", (input_dim, 3 * units)), ("recurrent_kernel", (units, 3 * units)), ("bias", (2, 3 * units))]


def gru_inputs(
    batch: int, steps: int, input_dim: int, units: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """The inputs of the GRU comparison: x (batch, steps, input_dim), a random initial state h0 (batch, units), the
    weights [kernel, recurrent_kernel, bias] (see :func:`gru_weight_shapes`) and the projection (batch, steps, units)
    whose product with the outputs is differentiated."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, input_dim)).astype("float32")
    h0 = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
    weights = [rng.normal(scale=0.5, size=shape).astype("float32") for _, shape in gru_weight_shapes(input_dim, units)]
    projection = rng.normal(size=(batch, steps, units)).astype("float32")
    return x, h0, weights, projection


def _gradients(layer, x, initial_state, projection):
    """Gradients of sum(layer(x) * projection) with respect to x and the layer's weights."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, initial_state=initial_state) * projection)
    return tape.gradient(loss, [x] + layer.trainable_weights)


def probe_gru_cell(
    cell_class: type[keras.layers.Layer],
    input_dim: int = 3,
    units: int = 4,
    batch: int = 2,
    steps: int = 5,
    seed: int = 0,
) -> Observations:
    """``keras.layers.RNN(cell_class(units))`` against ``keras.layers.GRU(units)`` with the same weights: outputs and gradients.

    The probe gives the cell the weights of :func:`gru_inputs` and returns its outputs from a zero and from a random
    initial state, and the gradients of sum(outputs * projection) from the random one.

    Args:
        cell_class: the student's ``MyGRUCell``.
        input_dim, units, batch, steps: the sizes.
        seed: the inputs' and weights' random seed.
    """
    x, h0, weights, projection = gru_inputs(batch, steps, input_dim, units, seed)
    x, h0 = tf.constant(x), tf.constant(h0)
    with full_float32(), refuse_delegation(GRU_CELL):
        cell = cell_class(units)
        if getattr(cell, "state_size", None) != units:
            fail(f"state_size should be units={units}, got {getattr(cell, 'state_size', None)!r}")
        mine = keras.layers.RNN(cell, return_sequences=True)
        mine.build((batch, steps, input_dim))
        if len(mine.weights) != 3:
            fail(f"the cell should create 3 weights (kernel, recurrent_kernel, bias), it created {len(mine.weights)}")
        for weight, (name, shape) in zip(mine.weights, gru_weight_shapes(input_dim, units)):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        mine.set_weights(weights)
        outputs = {
            description: np.asarray(mine(x, initial_state=initial))
            for description, initial in zip(INITIAL_STATES, (None, [h0]))
        }
        gradients = _gradients(mine, x, [h0], tf.constant(projection))
    return {
        "outputs": outputs,
        "gradients": {
            label: None if g is None else np.asarray(tf.convert_to_tensor(g))
            for label, g in zip(GRU_GRADIENTS, gradients)
        },
    }


def compare_gru_cell(
    observed: Observations, expected: Expectation, input_dim: int, units: int, batch: int, steps: int, seed: int
) -> str:
    """The outputs from each initial state, naming the mistake whose fingerprint they match, then the gradients."""
    for description in INITIAL_STATES:
        actual, wanted = observed["outputs"][description], expected["outputs"][description]
        check_shape("RNN(MyGRUCell) outputs", actual, np.shape(wanted))
        if not np.allclose(actual, wanted, atol=ATOL):
            for variant, message in GRU_MISTAKES.items():
                if np.allclose(actual, expected["mistakes"][description][variant], atol=1e-4):
                    fail(f"{description}: {message}")
            fail(f"{description}: outputs differ from keras.layers.GRU by up to {max_abs_diff(actual, wanted):.3g}")
    for label in GRU_GRADIENTS:
        actual = observed["gradients"][label]
        if actual is None:
            fail(f"no gradient reaches {label}: compute with keras.ops on the cell's weights, not on copies in numpy")
        check_close(f"gradient with respect to {label}", actual, expected["gradients"][label], atol=1e-4)
    return f"MyGRUCell({units}) equals keras.layers.GRU: weights, outputs and gradients"


check_gru_cell = Check(probe_gru_cell, compare_gru_cell)


# --- Exercise 2: the encoder ---------------------------------------------------------------------------------


def random_tokens(rng: np.random.Generator, batch: int, steps: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids in 1..vocab_size-1 with random lengths (one row full), padded with 0 at the end: (tokens, lengths)."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    tokens = rng.integers(1, vocab_size, size=(batch, steps))
    tokens[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32"), lengths


def encoder_inputs(vocab_size: int, batch: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's input: (tokens (batch, steps), lengths), see :func:`random_tokens`."""
    return random_tokens(np.random.default_rng(seed), batch, steps, vocab_size)


ENCODER_PADDING = 3  # padding steps appended to the input, which must change nothing


def probe_encoder(
    build_fn: Callable[[int, int, int], keras.Model],
    vocab_size: int = 20,
    embed_dim: int = 5,
    units: int = 3,
    batch: int = 3,
    steps: int = 7,
    seed: int = 0,
) -> Observations:
    """``build_encoder(vocab_size, embed_dim, units)``: [states (batch, T, 2u), summary (batch, 2u)], padding ignored.

    The probe returns the states and the summary for :func:`encoder_inputs`, again with padding appended, the
    model's number of parameters, and last the states and the summary with the weights of
    :func:`~course_utils.checks._common.outputs_with_given_weights`.

    Args:
        build_fn: the student's ``build_encoder``.
        vocab_size, embed_dim, units: passed to ``build_fn``.
        batch, steps: the input's shape.
        seed: the tokens' random seed.
    """
    tokens, _ = encoder_inputs(vocab_size, batch, steps, seed)
    model = build_fn(vocab_size, embed_dim, units)
    if not isinstance(model, keras.Model):
        fail(f"build_encoder should return a keras.Model, got {type(model).__name__}")
    outputs = model(tokens)
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        fail("the encoder should return [states, summary]")
    padded = model(np.pad(tokens, [(0, 0), (0, ENCODER_PADDING)]))
    if not isinstance(padded, (tuple, list)) or len(padded) != 2:
        fail("the encoder should return [states, summary]")
    observed = {
        "states": np.asarray(outputs[0]),
        "summary": np.asarray(outputs[1]),
        "padded_states": np.asarray(padded[0]),
        "padded_summary": np.asarray(padded[1]),
        "parameters": int(model.count_params()),
    }
    # What the model computes, not only what it holds: the outputs with weights the check chose.
    observed["given_weights_states"], observed["given_weights_summary"] = outputs_with_given_weights(
        model, tokens, seed
    )
    return observed


def compare_encoder(
    observed: Observations,
    expected: Expectation,
    vocab_size: int,
    embed_dim: int,
    units: int,
    batch: int,
    steps: int,
    seed: int,
) -> str:
    """Shapes, the parameter count, padding changing nothing, the summary being the two directions' final states, and
    last the outputs with the check's weights."""
    states, summary = observed["states"], observed["summary"]
    check_shape("states", states, (batch, steps, 2 * units))
    check_shape("summary", summary, (batch, 2 * units))
    wanted, gru = expected["parameters"], expected["gru_parameters"]
    if observed["parameters"] != wanted:
        fail(
            f"the encoder should have {wanted} parameters (Embedding {vocab_size * embed_dim} and two GRUs of {gru}), "
            f"it has {observed['parameters']}: an Embedding and a Bidirectional GRU of {units} units, nothing else"
        )
    padded_states, padded_summary = observed["padded_states"], observed["padded_summary"]
    check_shape("states with padding appended", padded_states, (batch, steps + ENCODER_PADDING, 2 * units))
    check_shape("summary with padding appended", padded_summary, (batch, 2 * units))
    lengths = np.asarray(expected["lengths"])
    real = np.arange(steps)[None, :] < lengths[:, None]
    if not np.allclose(padded_states[:, :steps][real], states[real], atol=ATOL) or not np.allclose(
        padded_summary, summary, atol=ATOL
    ):
        fail(
            "padding appended to the input changed the states or the summary: use Embedding(..., mask_zero=True) so that the GRUs skip it"
        )
    forward_last = states[np.arange(batch), lengths - 1, :units]
    if not np.allclose(summary[:, :units], forward_last, atol=ATOL) or not np.allclose(
        summary[:, units:], states[:, 0, units:], atol=ATOL
    ):
        fail(
            "the summary should be [the forward GRU's state at the last real character, the backward GRU's state at the first]: "
            "concatenate the two final states that Bidirectional(..., return_state=True) returns"
        )
    for name in ("states", "summary"):
        compare_given_weights(
            f"your encoder's {name}",
            observed[f"given_weights_{name}"],
            expected[f"given_weights_{name}"],
            "Embedding(mask_zero=True), then Bidirectional around RNN(MyGRUCell(units)) (a forward GRU and its "
            "backward copy), with nothing else in between",
        )
    return f"build_encoder: shapes, {wanted} parameters, padding ignored, summary of both directions, what it computes"


check_encoder = Check(probe_encoder, compare_encoder)


# --- Exercise 3: additive attention --------------------------------------------------------------------------


def attention_weight_shapes(query_dim: int, key_dim: int, units: int) -> list[tuple[str, tuple[int, ...]]]:
    """[(name, shape)] of the attention layer's weights in creation order."""
    return [("query_kernel", (query_dim, units)), ("key_kernel", (key_dim, units)), ("score_vector", (units,))]


def attention_inputs(
    batch: int, query_steps: int, key_steps: int, query_dim: int, key_dim: int, units: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The inputs of the attention comparison: query (batch, query_steps, query_dim), keys (batch, key_steps,
    key_dim), a mask (batch, key_steps) of random lengths (row 0 full) and the weights (see
    :func:`attention_weight_shapes`)."""
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(batch, query_steps, query_dim)).astype("float32")
    keys = rng.normal(size=(batch, key_steps, key_dim)).astype("float32")
    lengths = rng.integers(1, key_steps + 1, size=batch)
    lengths[0] = key_steps
    mask = np.arange(key_steps)[None, :] < lengths[:, None]
    weights = [
        rng.normal(size=shape).astype("float32") for _, shape in attention_weight_shapes(query_dim, key_dim, units)
    ]
    return query, keys, mask, weights


ATTENTION_MASKS = ("without a mask", "with a mask")


def probe_attention(
    layer_class: type[keras.layers.Layer],
    batch: int = 3,
    query_steps: int = 4,
    key_steps: int = 6,
    query_dim: int = 5,
    key_dim: int = 7,
    units: int = 3,
    seed: int = 0,
) -> Observations:
    """``layer_class(units)(query, keys, mask=mask)`` against additive attention in numpy.

    The probe gives the layer the weights of :func:`attention_inputs` and returns its context and weights without a
    mask, with the mask, with the last row all padding, for the first row alone and for the first query step alone
    (as in decoding).

    Args:
        layer_class: the student's ``AdditiveAttention``.
        batch, query_steps, key_steps, query_dim, key_dim, units: the sizes.
        seed: the inputs' and weights' random seed.
    """
    query, keys, mask, weights = attention_inputs(batch, query_steps, key_steps, query_dim, key_dim, units, seed)
    all_masked = mask.copy()
    all_masked[-1] = False

    def run(query, keys, mask):
        context, attention = layer(query, keys, mask=mask)
        return {"context": np.asarray(context), "weights": np.asarray(attention)}

    with full_float32(), refuse_delegation(ATTENTION):
        layer = layer_class(units)
        result = layer(query, keys, mask=mask)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("call should return (context, weights)")
        if len(layer.weights) != 3:
            fail(
                f"the layer should create 3 weights (query_kernel, key_kernel, score_vector), it created {len(layer.weights)}"
            )
        for weight, (name, shape) in zip(layer.weights, attention_weight_shapes(query_dim, key_dim, units)):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        layer.set_weights(weights)
        observed = {description: run(query, keys, m) for description, m in zip(ATTENTION_MASKS, (None, mask))}
        observed["all padding in the last row"] = run(query, keys, all_masked)
        observed["a batch of one"] = run(query[:1], keys[:1], mask[:1])
        observed["one query step"] = run(query[:, :1], keys, mask)
    return observed


def compare_attention(
    observed: Observations,
    expected: Expectation,
    batch: int,
    query_steps: int,
    key_steps: int,
    query_dim: int,
    key_dim: int,
    units: int,
    seed: int,
) -> str:
    """Shapes, the softmax's axis, masking, the reference's weights and context, all-padding rows, one row, one step."""
    mask = np.asarray(expected["mask"], dtype=bool)
    for description in ATTENTION_MASKS:
        context, attention = observed[description]["context"], observed[description]["weights"]
        check_shape(f"attention weights {description}", attention, (batch, query_steps, key_steps))
        check_shape(f"context {description}", context, (batch, query_steps, key_dim))
        if np.allclose(attention.sum(axis=1), 1.0, atol=1e-5) and not np.allclose(
            attention.sum(axis=-1), 1.0, atol=1e-5
        ):
            fail("the weights sum to 1 over the query steps: take the softmax over the keys, the last axis")
        if (
            description == "with a mask"
            and np.max(attention[~np.broadcast_to(mask[:, None, :], attention.shape)], initial=0) > 1e-6
        ):
            fail(
                "padded key steps get attention: set their scores to a large negative number (e.g. -1e9) before the softmax"
            )
        check_close(f"attention weights {description}", attention, expected[description]["weights"], atol=ATOL)
        check_close(f"context {description}", context, expected[description]["context"], atol=1e-4)
    all_padding = observed["all padding in the last row"]
    if not (np.all(np.isfinite(all_padding["context"])) and np.all(np.isfinite(all_padding["weights"]))):
        fail(
            "a row whose keys are all padding gives NaN: use a large negative number like -1e9 for masked scores, not -inf"
        )
    masked_context = np.asarray(expected["with a mask"]["context"])
    check_close("context for a batch of one", observed["a batch of one"]["context"], masked_context[:1], atol=1e-4)
    step = observed["one query step"]
    check_shape("attention weights for one query step (as in decoding)", step["weights"], (batch, 1, key_steps))
    check_close("context for one query step (as in decoding)", step["context"], masked_context[:, :1], atol=1e-4)
    return (
        f"AdditiveAttention({units}) matches the reference, masks padding, survives all-padding rows and batches of one"
    )


check_attention = Check(probe_attention, compare_attention)


# --- Exercise 4: decoder inputs, loss, accuracy ---------------------------------------------------------------


def random_written(
    rng: np.random.Generator, batch: int, steps: int, vocab_size: int = 9, first_id: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Written ids in first_id..vocab_size-1 (after padding, start and end) with random lengths, one row full:
    (ids, lengths)."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    ids = rng.integers(first_id, vocab_size, size=(batch, steps))
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return ids.astype("int32"), lengths


def decoder_io_inputs(batch: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The written ids given to ``make_decoder_io``: (ids (batch, steps), lengths), see :func:`random_written`."""
    return random_written(np.random.default_rng(seed), batch, steps)


def probe_decoder_io(
    make_fn: Callable[[np.ndarray, int, int], tuple[ArrayLike, ArrayLike]],
    start_id: int = 1,
    end_id: int = 2,
    batch: int = 4,
    steps: int = 5,
    seed: int = 0,
) -> Observations:
    """``make_decoder_io(written_ids, start_id, end_id)``: the end token after each row, the input one step behind.

    The probe returns what ``make_fn`` makes of :func:`decoder_io_inputs`.

    Args:
        make_fn: the student's ``make_decoder_io``.
        start_id, end_id: the start and end tokens.
        batch, steps: the written ids' shape.
        seed: the ids' random seed.
    """
    written, _ = decoder_io_inputs(batch, steps, seed)
    result = make_fn(written.copy(), start_id, end_id)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("make_decoder_io should return (decoder_input, decoder_target)")
    return {"decoder_input": np.asarray(result[0]), "decoder_target": np.asarray(result[1])}


def compare_decoder_io(
    observed: Observations, expected: Expectation, start_id: int, end_id: int, batch: int, steps: int, seed: int
) -> str:
    """The target and the input against the expected ones, naming the usual mistakes."""
    actual_input, actual_target = observed["decoder_input"], observed["decoder_target"]
    target, inputs, lengths = (np.asarray(expected[key]) for key in ("decoder_target", "decoder_input", "lengths"))
    check_shape("decoder_target", actual_target, target.shape)
    check_shape("decoder_input", actual_input, inputs.shape)
    if np.array_equal(actual_input, actual_target):
        fail("decoder_input equals decoder_target: the input at step t is the target of step t-1 (start token first)")
    if not np.array_equal(actual_target, target):
        if np.all(actual_target[:, -1] == end_id) and not np.all(lengths == steps):
            fail("the end token is at the very end of the padding; put it right after each row's last character")
        fail(
            f"decoder_target should be the written ids with the end token right after the last character, e.g. {target[-1].tolist()}, got {actual_target[-1].tolist()}"
        )
    if actual_input[0, 0] != start_id:
        fail(f"decoder_input should start with the start token {start_id}")
    if not np.array_equal(actual_input, inputs):
        fail(
            f"decoder_input should be the start token followed by the written ids, e.g. {inputs[-1].tolist()}, got {actual_input[-1].tolist()}"
        )
    return "make_decoder_io: targets end with the end token after each row's characters, inputs are one step behind"


check_decoder_io = Check(probe_decoder_io, compare_decoder_io)


def masked_loss_inputs(batch: int, steps: int, vocab_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The targets (batch, steps), padded with 0, and the logits (batch, steps, vocab_size) given to ``masked_loss``."""
    rng = np.random.default_rng(seed)
    targets, _ = random_written(rng, batch, steps, vocab_size, first_id=1)
    logits = rng.normal(size=(batch, steps, vocab_size)).astype("float32")
    return targets, logits


def probe_masked_loss(
    loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    batch: int = 3,
    steps: int = 6,
    vocab_size: int = 7,
    seed: int = 0,
) -> Observations:
    """``masked_loss(targets, logits)``: the mean cross-entropy over the non-padding positions.

    The probe returns the loss of :func:`masked_loss_inputs`.

    Args:
        loss_fn: the student's ``masked_loss``.
        batch, steps, vocab_size: the sizes.
        seed: the inputs' random seed.
    """
    targets, logits = masked_loss_inputs(batch, steps, vocab_size, seed)
    with full_float32():
        return {"loss": float(loss_fn(tf.constant(targets), tf.constant(logits)))}


def compare_masked_loss(
    observed: Observations, expected: Expectation, batch: int, steps: int, vocab_size: int, seed: int
) -> str:
    """The loss against the masked mean, naming the unmasked mean and the sum."""
    actual, wanted = observed["loss"], expected["loss"]
    if not np.isclose(actual, wanted, rtol=1e-4):
        if np.isclose(actual, expected["mean_over_every_position"], rtol=1e-4):
            fail("the padding positions count in your mean: multiply by the mask (targets != 0) and divide by its sum")
        if np.isclose(actual, expected["sum_over_real_positions"], rtol=1e-4):
            fail("you return the sum; divide by the number of real positions")
        fail(f"the masked loss should be {wanted:.5f}, got {actual:.5f}")
    return "masked_loss is the mean cross-entropy over the real positions"


check_masked_loss = Check(probe_masked_loss, compare_masked_loss)


def sequence_accuracy_inputs(batch: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets (batch, steps) padded with 0, and predictions: mostly right, row 0 all right, noise on the padding."""
    rng = np.random.default_rng(seed)
    targets, _ = random_written(rng, batch, steps, 5)
    predicted = np.where(rng.random(targets.shape) < 0.8, targets, rng.integers(0, 5, size=targets.shape)).astype(
        "int32"
    )
    predicted[0] = targets[0]
    predicted[targets == 0] = rng.integers(1, 5, size=int(np.sum(targets == 0)))  # noise on padding must not count
    return targets, predicted


def probe_sequence_accuracy(
    accuracy_fn: Callable[[np.ndarray, np.ndarray], tuple[float, float]], batch: int = 6, steps: int = 5, seed: int = 0
) -> Observations:
    """``sequence_accuracy(targets, predicted)`` -> (token accuracy, exact match), padding ignored.

    The probe returns both for :func:`sequence_accuracy_inputs`.

    Args:
        accuracy_fn: the student's ``sequence_accuracy``.
        batch, steps: the sizes.
        seed: the inputs' random seed.
    """
    targets, predicted = sequence_accuracy_inputs(batch, steps, seed)
    result = accuracy_fn(targets, predicted)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("sequence_accuracy should return (token_accuracy, exact_match)")
    token, exact = map(float, result)
    return {"token_accuracy": token, "exact_match": exact}


def compare_sequence_accuracy(observed: Observations, expected: Expectation, batch: int, steps: int, seed: int) -> str:
    """Both figures against the expected ones, naming the figures that count the padding."""
    token, exact = observed["token_accuracy"], observed["exact_match"]
    if not np.isclose(token, expected["token_accuracy"]):
        if np.isclose(token, expected["token_accuracy_counting_padding"]):
            fail("token accuracy counts the padding positions; compare only where targets != 0")
        fail(f"token accuracy should be {expected['token_accuracy']:.4f}, got {token:.4f}")
    if not np.isclose(exact, expected["exact_match"]):
        if np.isclose(exact, expected["exact_match_of_whole_rows"]):
            fail("exact match compares whole rows, padding included; a row is right when every real position is")
        fail(f"exact match should be {expected['exact_match']:.4f}, got {exact:.4f}")
    return "sequence_accuracy: token accuracy and exact match over the real positions"


check_sequence_accuracy = Check(probe_sequence_accuracy, compare_sequence_accuracy)


class _TinySeq2Seq(keras.Model):
    """A small model with the lab's interface (call, encode, decode_step), built from Keras layers."""

    def __init__(self, source_vocab_size, target_vocab_size, units, **kwargs):
        super().__init__(**kwargs)
        self.source_embedding = keras.layers.Embedding(source_vocab_size, units, mask_zero=True)
        self.encoder = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.target_embedding = keras.layers.Embedding(target_vocab_size, units)
        self.decoder_cell = keras.layers.GRUCell(units)
        self.decoder = keras.layers.RNN(self.decoder_cell, return_sequences=True)
        self.dropout = keras.layers.Dropout(0.5, seed=1)
        self.output_layer = keras.layers.Dense(target_vocab_size)

    def encode(self, source, training=False):
        states, summary = self.encoder(self.source_embedding(source), training=training)
        return tf.identity(states), summary, source != 0

    def _readout(self, outputs, states, mask, training=False):
        weights = tf.nn.softmax(tf.where(mask[:, None, :], tf.matmul(outputs, states, transpose_b=True), -1e9))
        return self.output_layer(self.dropout(tf.concat([outputs, tf.matmul(weights, states)], -1), training=training))

    def call(self, source, decoder_input, training=False):
        states, summary, mask = self.encode(source, training=training)
        outputs = self.decoder(self.target_embedding(decoder_input), initial_state=[summary], training=training)
        return self._readout(outputs, states, mask, training)

    def decode_step(self, tokens, state, states, mask):
        output, _ = self.decoder_cell(self.target_embedding(tokens), [state])
        return self._readout(output[:, None], states, mask)[:, 0], output, None


def tiny_model(seed: int, source_vocab_size: int = 9, target_vocab_size: int = 6, units: int = 4) -> keras.Model:
    """A built :class:`_TinySeq2Seq` whose weights depend only on ``seed`` (it sets Keras's global random seed)."""
    keras.utils.set_random_seed(seed)
    model = _TinySeq2Seq(source_vocab_size, target_vocab_size, units, name="tiny_seq2seq")  # a TF scope: no leading "_"
    model(tf.ones((1, 2), tf.int32), tf.ones((1, 2), tf.int32))
    return model


TRAIN_STEP_LEARNING_RATE = 0.5  # of the SGD optimizer given to make_train_step


def train_step_inputs(
    batch: int, source_steps: int, target_steps: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, decoder_input, decoder_target) for one training step of :func:`tiny_model`: source ids below 9, target
    ids below 6, the decoder input starting with 1."""
    rng = np.random.default_rng(seed)
    source, _ = random_tokens(rng, batch, source_steps, 9)
    decoder_target, _ = random_written(rng, batch, target_steps, 6)
    decoder_input = np.concatenate([np.ones((batch, 1), "int32"), decoder_target[:, :-1]], axis=1)
    return source, decoder_input, decoder_target


def probe_train_step(
    make_train_step_fn: Callable[
        [keras.Model, keras.optimizers.Optimizer], Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]
    ],
    batch: int = 3,
    source_steps: int = 6,
    target_steps: int = 4,
    seed: int = 0,
) -> Observations:
    """``make_train_step(model, optimizer)`` returns a tf.function step (source, decoder_input, decoder_target) -> loss.

    The probe gives ``make_train_step_fn`` :func:`tiny_model` (``seed``, with dropout) and plain SGD, runs one step on
    :func:`train_step_inputs` and returns the loss and the model's weights before and after.

    Args:
        make_train_step_fn: the student's ``make_train_step``.
        batch, source_steps, target_steps: the batch's shape.
        seed: the inputs' and the model's random seed.
    """
    source, decoder_input, decoder_target = train_step_inputs(batch, source_steps, target_steps, seed)
    model = tiny_model(seed)
    before = [w.copy() for w in model.get_weights()]
    with full_float32():
        train_step = make_train_step_fn(model, keras.optimizers.SGD(TRAIN_STEP_LEARNING_RATE))
        if not hasattr(train_step, "get_concrete_function"):
            fail(
                "make_train_step should return a function decorated with @tf.function (compiled), not a plain Python function"
            )
        loss = float(train_step(tf.constant(source), tf.constant(decoder_input), tf.constant(decoder_target)))
    return {"loss": loss, "weights_before": before, "weights_after": model.get_weights()}


def compare_train_step(
    observed: Observations, expected: Expectation, batch: int, source_steps: int, target_steps: int, seed: int
) -> str:
    """The weights changed, the loss is the masked loss in training mode, the update is the reference step's."""
    before, after = observed["weights_before"], observed["weights_after"]
    if len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(after, before)):
        fail(
            "train_step did not change the weights: apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables))"
        )
    loss, wanted = observed["loss"], expected["loss"]
    if not np.isclose(loss, wanted, rtol=1e-3):
        message = f"the returned loss should be the masked loss before the update, {wanted:.5f}, got {loss:.5f}"
        if np.isclose(loss, expected["loss_without_dropout"], rtol=1e-3):
            fail(message + "; that is the loss with dropout off: call model(source, decoder_input, training=True)")
        fail(
            message
            + ": return masked_loss(decoder_target, logits) of model(source, decoder_input, training=True), computed before the update"
        )
    reference = expected["weights_after"]
    if len(after) != len(reference) or any(np.shape(a) != np.shape(b) for a, b in zip(after, reference)):
        fail("after one step the model's weights are not those it was given: the step should only update them")
    worst = max(max_abs_diff(a, b) for a, b in zip(after, reference))
    if worst > 1e-4:
        fail(
            f"after one step the weights differ from the reference update by up to {worst:.3g}: take the gradients of your masked loss"
        )
    return "train_step computes the masked loss in training mode, applies its gradients, and is compiled"


check_train_step = Check(probe_train_step, compare_train_step)


# --- Exercise 5: greedy decoding -------------------------------------------------------------------------------

GREEDY_TARGET_VOCAB_SIZE = 4  # few tokens, so that some rows end early


def greedy_decoder_inputs(batch: int, steps: int, seed: int) -> tuple[keras.Model, np.ndarray]:
    """The model and source ids (batch, steps) to decode: :func:`tiny_model` (``seed``, 4 target tokens) and
    :func:`random_tokens` below 9."""
    model = tiny_model(seed, target_vocab_size=GREEDY_TARGET_VOCAB_SIZE)
    source, _ = random_tokens(np.random.default_rng(seed), batch, steps, 9)
    return model, source


def probe_greedy_decoder(
    make_fn: Callable[[keras.Model, int, int, int], Callable[[tf.Tensor], tf.Tensor]],
    start_id: int = 1,
    end_id: int = 2,
    max_length: int = 6,
    batch: int = 5,
    steps: int = 7,
    seed: int = 0,
) -> Observations:
    """``make_greedy_decoder(model, start_id, end_id, max_length)``: compiled, batched, predictions fed back, 0 after the end.

    The probe decodes the source of :func:`greedy_decoder_inputs` as a batch, then each row alone.

    Args:
        make_fn: the student's ``make_greedy_decoder``.
        start_id, end_id, max_length: passed to ``make_fn``.
        batch, steps: the source's shape.
        seed: the model's and the source's random seed.
    """
    model, source = greedy_decoder_inputs(batch, steps, seed)
    with full_float32():
        decode = make_fn(model, start_id, end_id, max_length)
        if not hasattr(decode, "get_concrete_function"):
            fail("make_greedy_decoder should return a function decorated with @tf.function (compiled)")
        tokens = np.asarray(decode(tf.constant(source)))
        alone = [np.asarray(decode(tf.constant(source[row : row + 1]))) for row in range(batch)]
    return {"tokens": tokens, "alone": alone}


def _padded_tokens(tokens, max_length):
    """Decoded tokens padded with 0 to max_length steps (stopping early may leave the tail out)."""
    tokens = np.asarray(tokens)
    return np.pad(tokens, [(0, 0), (0, max_length - tokens.shape[1])])


def compare_greedy_decoder(
    observed: Observations,
    expected: Expectation,
    start_id: int,
    end_id: int,
    max_length: int,
    batch: int,
    steps: int,
    seed: int,
) -> str:
    """The batch against step-by-step decoding, naming tokens after the end; each row alone against the batch."""
    actual, wanted = observed["tokens"], np.asarray(expected["tokens"])
    if actual.ndim != 2 or actual.shape[0] != batch or actual.shape[1] > max_length:
        fail(f"decode should return tokens of shape (batch, max_length) = ({batch}, {max_length}), got {actual.shape}")
    actual = _padded_tokens(actual, max_length)
    if not np.array_equal(actual, wanted):
        row = int(np.flatnonzero(np.any(actual != wanted, axis=1))[0])
        ended = wanted[row] == end_id
        end = int(np.argmax(ended)) + 1
        if ended.any() and np.any(actual[row, end:] != 0) and np.array_equal(actual[row, :end], wanted[row, :end]):
            fail(
                f"after the end token a row should only get 0 (padding); row {row}: expected {wanted[row].tolist()}, got {actual[row].tolist()}"
            )
        fail(
            f"row {row} should decode to {wanted[row].tolist()} (argmax at each step, fed back as the next input), got {actual[row].tolist()}"
        )
    for row, alone in enumerate(observed["alone"]):  # one row at a time, as in a batch
        alone = np.asarray(alone)
        if alone.ndim != 2 or alone.shape[0] != 1 or alone.shape[1] > max_length:
            fail(f"decoding row {row} alone gives tokens of shape {alone.shape}, not (1, up to {max_length})")
        alone = _padded_tokens(alone, max_length)
        if not np.array_equal(alone[0], wanted[row]):
            fail(
                f"decoding row {row} alone gives {alone[0].tolist()}, in the batch {wanted[row].tolist()}: rows must not depend on each other"
            )
    return (
        f"greedy decoding of {batch} inputs matches step-by-step decoding, with padding after the end token, compiled"
    )


check_greedy_decoder = Check(probe_greedy_decoder, compare_greedy_decoder)


# --- Exercise 6: beam search ---------------------------------------------------------------------------------

BEAM_SEARCH_TRIALS = 4  # tiny Markov models per check
BEAM_SEARCH_ALPHAS = (0.0, 0.7, 1.0)  # length normalisations tried with a beam wide enough to keep every sequence


def markov_step_fn(log_prob_table: np.ndarray) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A second-order Markov model as a step_fn: the state holds the token before the last one.

    So the log-probabilities depend on the state, and a beam search that does not reorder the states
    with their beams gets them wrong.
    """
    table = tf.constant(log_prob_table, tf.float32)  # [token before the last, last token, next token]

    def step_fn(tokens, state):
        before = tf.cast(state[:, 0], tf.int32)
        new_state = tf.concat([tf.cast(tokens, state.dtype)[:, None], state[:, 1:]], axis=1)
        return tf.gather_nd(table, tf.stack([before, tokens], axis=1)), new_state

    return step_fn


def markov_initial_state(start_id: int) -> tf.Tensor:
    """The state of :func:`markov_step_fn` before the first step: the token before the last is the start token."""
    return tf.constant([float(start_id), 0.0])


def beam_search_tables(vocab_size: int, seed: int) -> list[np.ndarray]:
    """The log-probability tables [token before the last, last token, next token] of the check's tiny Markov models
    (float32, normalised over the next token; padding, token 0, is never produced)."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(BEAM_SEARCH_TRIALS):
        logits = rng.normal(scale=1.5, size=(vocab_size, vocab_size, vocab_size))
        logits[..., 0] = -1e9  # padding is never produced
        tables.append((logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))).astype("float32"))
    return tables


def probe_beam_search(
    beam_search_fn: Callable[..., tuple[tf.Tensor, tf.Tensor]],
    vocab_size: int = 4,
    max_length: int = 4,
    start_id: int = 3,
    end_id: int = 1,
    beam_width: int | None = None,
    seed: int = 0,
) -> Observations:
    """Against exhaustive search on tiny Markov models, greedy decoding at width 1, length normalisation, tf.function,
    and, with ``beam_width``, against beam search as the lab describes it at that width.

    For each table of :func:`beam_search_tables` the probe returns the tokens the search finds at width 1 and, with a
    beam wide enough to keep every sequence, the tokens and score for each alpha of ``BEAM_SEARCH_ALPHAS``, and the
    same at ``beam_width`` if given; then whether the search runs inside ``tf.function`` (width 2, the last table).

    Args:
        beam_search_fn: the student's ``beam_search``.
        vocab_size: the Markov models' number of tokens.
        max_length, start_id, end_id: passed to ``beam_search_fn``.
        beam_width: a width from 2 to ``vocab_size - 1`` (so that the first step has that many real extensions),
            or None.
        seed: the tables' random seed.
    """
    if beam_width is not None and not 2 <= beam_width <= vocab_size - 1:
        raise ValueError(f"beam_width={beam_width} should be from 2 to vocab_size - 1 = {vocab_size - 1}, or None")
    search = refusing_delegation(beam_search_fn, BEAM_SEARCH)
    wide = (vocab_size - 1) ** max_length
    trials = []
    tables = beam_search_tables(vocab_size, seed)
    for table in tables:
        tokens, _ = search(markov_step_fn(table), markov_initial_state(start_id), start_id, end_id, 1, max_length, 1.0)
        trial = {"width_1": np.asarray(tokens).tolist(), "wide": [], "middle": []}
        for alpha in BEAM_SEARCH_ALPHAS:
            for width, found in ((wide, trial["wide"]), (beam_width, trial["middle"])):
                if width is not None:
                    tokens, score = search(
                        markov_step_fn(table),
                        markov_initial_state(start_id),
                        start_id,
                        end_id,
                        width,
                        max_length,
                        alpha,
                    )
                    found.append({"tokens": np.asarray(tokens).tolist(), "score": float(score)})
        trials.append(trial)
    try:

        def compiled_search():
            return search(
                markov_step_fn(tables[-1]), markov_initial_state(start_id), start_id, end_id, 2, max_length, 1.0
            )

        tf.function(compiled_search)()
        compile_error = None
    except CheckFailed:
        raise  # delegation refused while tracing
    except Exception as error:  # noqa: BLE001  any failure to trace is the student's to fix
        compile_error = f"{type(error).__name__}: {error}"[:1000]
    return {"trials": trials, "compile_error": compile_error}


def compare_beam_search(
    observed: Observations,
    expected: Expectation,
    vocab_size: int,
    max_length: int,
    start_id: int,
    end_id: int,
    beam_width: int | None,
    seed: int,
) -> str:
    """Per table: width 1 against greedy decoding, then each alpha against exhaustive search (naming a missing length
    normalisation) and against the lab's beam search at ``beam_width``; finally whether the search compiles."""
    for trial, wanted in zip(observed["trials"], expected["trials"]):
        if trial["width_1"] != wanted["greedy"]:
            fail(
                f"with beam_width=1 beam search should be greedy decoding, {wanted['greedy']}; you returned {trial['width_1']}"
            )
        for alpha, found, best in zip(BEAM_SEARCH_ALPHAS, trial["wide"], wanted["best"]):
            if found["tokens"] != best["tokens"]:
                unnormalised = wanted["best_unnormalised"]
                if alpha > 0 and found["tokens"] == unnormalised and unnormalised != best["tokens"]:
                    fail(
                        f"with alpha={alpha} you return the best raw score {unnormalised}; divide each finished sequence's score by length ** alpha"
                    )
                fail(
                    f"with a beam wide enough to keep every sequence (alpha={alpha}) the best is {best['tokens']}, you returned {found['tokens']}"
                )
            if not np.isclose(found["score"], best["score"], atol=1e-4):
                fail(
                    f"the score of {best['tokens']} with alpha={alpha} should be {best['score']:.4f} (log-probability / length ** alpha), got {found['score']:.4f}"
                )
        for alpha, found, best in zip(BEAM_SEARCH_ALPHAS, trial["middle"], wanted.get("middle", [])):
            if found["tokens"] != best["tokens"] or not np.isclose(found["score"], best["score"], atol=1e-4):
                fail(
                    f"with beam_width={beam_width} (alpha={alpha}) beam search finds {best['tokens']} with score {best['score']:.4f}, "
                    f"you returned {found['tokens']} with {found['score']:.4f}: keep the {beam_width} best extensions of all the beams "
                    "at every step by raw score, finished beams among them, and normalise by length only to pick the best at the end"
                )
    if observed["compile_error"] is not None:
        fail(
            f"beam_search does not run inside tf.function ({observed['compile_error']}); use TensorFlow operations only, "
            "no .numpy() and no Python if on tensors"
        )
    widths = f", at width {beam_width}," if beam_width is not None else ""
    return f"beam_search agrees with exhaustive search{widths} and with greedy decoding, normalises by length, and compiles"


check_beam_search = Check(probe_beam_search, compare_beam_search)
