"""Self-checks for Lab 5, "Image captioning".

Every check is a probe and a comparison (see :mod:`course_utils.checks.probing`). The probe (``probe_<name>``) makes
random inputs from the check's arguments with the public input functions below, runs the student's code on them and
returns what came out. The comparison (``compare_<name>``) compares that with the expectation: what the references
(numpy computations and step-by-step decoding, kept with the instructor, not here) and each typical mistake give on
the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from course_utils.checks import (
    CheckFailed,
    Expectation,
    Observations,
    check_answer,
    check_answer_recorded,
    check_prediction,
    check_shape,
    fail,
    max_abs_diff,
)
from course_utils.checks._common import full_float32
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation
from course_utils.checks.probing import Check

ATOL = 1e-5
# The instructor's references, refused if the student's code reaches them where they are installed (never in the
# student bundle); see autograde/grading/references/lab5.py.
_REFERENCES_FILE = "autograde/grading/references/lab5.py"
ATTENTION = Exercise(
    "SoftAttention",
    hint="create the six weights with self.add_weight and compute the scores, the softmax, the gate and the context with keras.ops",
    forbidden=(
        Forbidden.defined_with("keras.layers.AdditiveAttention", "keras.layers.AdditiveAttention"),
        Forbidden.defined_with("keras.layers.Attention", "keras.layers.Attention"),
        Forbidden.defined_with("keras.layers.MultiHeadAttention", "keras.layers.MultiHeadAttention"),
        Forbidden("the check's reference attention", _REFERENCES_FILE, "soft_attention"),
    ),
)
DECODER_STEP = Exercise(
    "Captioner.start and Captioner.step",
    hint="use the layers __init__ made: self.init_h, self.init_c, self.attention, self.embedding, self.cell, self.deep_output, self.output_layer",
    forbidden=(Forbidden("the check's reference decoder", _REFERENCES_FILE, "decoder_steps"),),
)
GREEDY = Exercise(
    "make_greedy_captioner",
    hint="loop over the steps inside the tf.function, feeding back the argmax of each step's logits",
    forbidden=(Forbidden("the check's step-by-step decoding", _REFERENCES_FILE, "reference_greedy"),),
)


# --- Exercise 1: the image encoder ---------------------------------------------------------------------------


def grid_side(image_size: int, blocks: int) -> int:
    """The side of the encoder's grid: each block's pooling halves the image's side."""
    return image_size // 2**blocks


def encoder_inputs(batch: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images, changed): random float32 images in [0, 1), and the same images with their top-left 8x16 pixels (8 rows,
    16 columns) redrawn."""
    rng = np.random.default_rng(seed)
    images = rng.random((batch, image_size, image_size, 3), dtype=np.float32)
    changed = images.copy()
    changed[:, :8, :16] = rng.random((batch, 8, min(16, image_size), 3), dtype=np.float32)
    return images, changed


def encoder_weight_shapes(filters: Sequence[int]) -> list[tuple[int, ...]]:
    """The shapes of ImageEncoder's weights in order: each block's 3x3 convolution kernel, then its bias."""
    channels = [3, *filters]
    return [shape for c_in, c_out in zip(channels, channels[1:]) for shape in ((3, 3, c_in, c_out), (c_out,))]


def encoder_weights(filters: Sequence[int], seed: int) -> list[np.ndarray]:
    """Random weights in :func:`encoder_weight_shapes`' order: He-scaled kernels keep the features near 1 block after
    block, and biases of either sign let the ReLU cut."""
    rng = np.random.default_rng([seed, 1])
    return [
        rng.normal(scale=np.sqrt(2 / (9 * shape[2])) if len(shape) == 4 else 0.3, size=shape).astype(np.float32)
        for shape in encoder_weight_shapes(filters)
    ]


def probe_image_encoder(
    encoder_class: type[keras.layers.Layer],
    filters: Sequence[int] = (4, 6),
    image_size: int = 32,
    batch: int = 2,
    seed: int = 0,
) -> Observations:
    """``ImageEncoder(filters)`` maps images (batch, H, W, 3) to a grid (batch, cells, filters[-1] + 2).

    The probe encodes :func:`encoder_inputs`' images and the same images changed in their top-left corner, and returns
    the grid's shape, the last two features of each cell of the first image (its coordinates), which cells the change
    reached, and the number of weights; then, if the weights have :func:`encoder_weight_shapes`, sets them to
    :func:`encoder_weights` and returns the features of the images.

    Args:
        encoder_class: the student's ``ImageEncoder``.
        filters: the filters of each convolution block.
        image_size: the images' height and width.
        batch: how many images.
        seed: the images' and the weights' random seed.
    """
    keras.utils.set_random_seed(seed)
    encoder = encoder_class(filters=list(filters))
    images, changed = encoder_inputs(batch, image_size, seed)
    with full_float32():
        grid = np.asarray(encoder(tf.constant(images)))
        if grid.ndim != 3 or grid.shape[0] != batch:
            fail(f"the encoder should return a grid of shape (batch, cells, features); got shape {grid.shape}")
        other = np.asarray(encoder(tf.constant(changed)))
        reached = np.max(np.abs(other - grid)[..., :-2], axis=(0, 2)) > 1e-6 if other.shape == grid.shape else None
        shapes = [tuple(w.shape) for w in encoder.weights]
        features = None
        if shapes == encoder_weight_shapes(filters):
            encoder.set_weights(encoder_weights(filters, seed))
            features = np.asarray(encoder(tf.constant(images)), np.float64)[..., :-2]
    return {
        "shape": list(grid.shape),
        "coordinates": grid[0, :, -2:].astype(np.float64),
        "reached": reached,
        "non_negative": bool(np.all(grid[..., :-2] >= 0)),
        "weights": int(sum(np.prod(w.shape) for w in encoder.weights)),
        "weight_shapes": [list(shape) for shape in shapes],
        "features": features,
    }


def compare_image_encoder(
    observed: Observations, expected: Expectation, filters: Sequence[int], image_size: int, batch: int, seed: int
) -> str:
    """Shape, the cells' coordinates (naming swapped axes, column order, other scales), locality, weight count."""
    shape, wanted = tuple(observed["shape"]), tuple(expected["shape"])
    side = grid_side(image_size, len(filters))
    if shape != wanted:
        if shape[1] == 1:
            fail(f"the grid has one cell: keep the {side}x{side} grid (reshape it to cells) instead of pooling it away")
        if len(shape) == 3 and shape[2] == wanted[2] - 2:
            fail("each cell should end with its two coordinates (x, y): concatenate them to the features")
        fail(
            f"for {image_size}x{image_size} images and {len(filters)} blocks (each pooling by 2) the grid should have shape "
            f"{wanted} ({side}x{side} cells, {filters[-1]} features + 2 coordinates); got {shape}"
        )
    coordinates = np.asarray(observed["coordinates"])
    if not np.allclose(coordinates, expected["coordinates"], atol=1e-5):
        for mistake, message in ENCODER_COORDINATE_MISTAKES.items():
            if np.allclose(coordinates, expected[mistake], atol=1e-5):
                fail(message)
        fail(
            "the last two features of cell k (row k // side, column k % side) should be its centre's x = (2 * column + 1) / side - 1 "
            "and y = (2 * row + 1) / side - 1, in [-1, 1]"
        )
    if not observed["non_negative"]:
        fail("the features (all but the coordinates) should come out of a ReLU: some are negative")
    reached, may = np.asarray(observed["reached"]), np.asarray(expected["may_reach"])
    if np.any(reached & ~may):
        if not np.any(reached & ~np.asarray(expected["may_reach_column_major"])):
            fail(
                "the cells are listed column by column: list them row by row, as keras.ops.reshape of (batch, rows, "
                "columns, features) does (cell k is row k // side, column k % side)"
            )
        fail(
            f"changing the top-left 8x16 pixels changed {int(reached.sum())} of {reached.size} cells, some far from there: each cell "
            "should see only its own neighbourhood (3x3 convolutions with 'same' padding and 2x2 max pooling, no dense layer or global pooling)"
        )
    if not reached.any():
        fail("changing the top-left pixels changed no cell: the grid should be computed from the images")
    if observed["weights"] != expected["weights"]:
        fail(
            f"the encoder has {observed['weights']} weights; {len(filters)} blocks of a 3x3 convolution with bias ({list(filters)} filters) have {expected['weights']}"
        )
    wanted_shapes = encoder_weight_shapes(filters)
    if [tuple(shape) for shape in observed["weight_shapes"]] != wanted_shapes:
        fail(
            f"the encoder's weights have shapes {[tuple(s) for s in observed['weight_shapes']]}; expected each block's "
            f"3x3 kernel then its bias, in order: {wanted_shapes}"
        )
    features = np.asarray(observed["features"])
    if not np.allclose(features, expected["features"], rtol=1e-4, atol=1e-5):
        for mistake, message in ENCODER_FEATURE_MISTAKES.items():
            if np.allclose(features, expected[mistake], rtol=1e-4, atol=1e-5):
                fail(message)
        fail(
            f"with the same weights, the features differ from {len(filters)} blocks of a 3x3 convolution ('same' padding, "
            f"ReLU) and 2x2 max pooling by up to {max_abs_diff(features, expected['features']):.3g}"
        )
    return f"ImageEncoder: a {side}x{side} grid of {filters[-1]} features and its coordinates, each cell seeing its own part of the image"


ENCODER_COORDINATE_MISTAKES = {
    "swapped": "the coordinates are (y, x), or the cells are listed column by column: list them row by row (as "
    "keras.ops.reshape of (batch, rows, columns, features) does) and put x, the column's, first",
    "corners": "the coordinates run from -1 to 1 at the outer cells; use each cell's centre, (2 * index + 1) / side - 1",
    "indices": "the coordinates are the cells' indices; scale them to their centres in [-1, 1], (2 * index + 1) / side - 1",
}

ENCODER_FEATURE_MISTAKES = {
    "average_pooling": "the features are average-pooled: pool each block with keras.layers.MaxPooling2D(2)",
    "strided": "the convolutions stride by 2 instead of being max-pooled: 3x3 convolutions with stride 1, then MaxPooling2D(2)",
}

check_image_encoder = Check(probe_image_encoder, compare_image_encoder)


# --- Exercise 2: soft attention -------------------------------------------------------------------------------


def attention_weight_shapes(grid_dim: int, hidden_dim: int, units: int) -> list[tuple[str, tuple[int, ...]]]:
    """[(name, shape)] of SoftAttention's weights in creation order."""
    return [
        ("grid_kernel", (grid_dim, units)),
        ("hidden_kernel", (hidden_dim, units)),
        ("bias", (units,)),
        ("score_kernel", (units, 1)),
        ("gate_kernel", (hidden_dim, 1)),
        ("gate_bias", (1,)),
    ]


def attention_inputs(
    batch: int, cells: int, grid_dim: int, hidden_dim: int, units: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(grid (batch, cells, grid_dim), hidden (batch, hidden_dim), weights in :func:`attention_weight_shapes`' order)."""
    rng = np.random.default_rng(seed)
    grid = rng.normal(size=(batch, cells, grid_dim)).astype(np.float32)
    hidden = rng.normal(size=(batch, hidden_dim)).astype(np.float32)
    weights = [
        rng.normal(scale=0.7, size=shape).astype(np.float32)
        for _, shape in attention_weight_shapes(grid_dim, hidden_dim, units)
    ]
    return grid, hidden, weights


def attention_projections(batch: int, cells: int, grid_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(for the context (batch, grid_dim), for the weights (batch, cells)): the probe's gradients are those of
    sum(context * the first) + sum(weights * the second)."""
    rng = np.random.default_rng([seed, 2])
    return rng.normal(size=(batch, grid_dim)).astype(np.float32), rng.normal(size=(batch, cells)).astype(np.float32)


ATTENTION_GRADIENTS = ("grid", "hidden", *(name for name, _ in attention_weight_shapes(1, 1, 1)))


def probe_attention(
    attention_class: type[keras.layers.Layer],
    batch: int = 3,
    cells: int = 5,
    grid_dim: int = 4,
    hidden_dim: int = 3,
    units: int = 2,
    seed: int = 0,
) -> Observations:
    """``SoftAttention(units)(grid, hidden)`` returns (context (batch, grid_dim), weights (batch, cells)).

    The probe builds the layer on :func:`attention_inputs`, sets its weights to the inputs' and returns the context and
    weights, the gradients (with respect to the grid, hidden and the weights, in :data:`ATTENTION_GRADIENTS`' order) of
    their sums times :func:`attention_projections`, and the context and weights for a grid of one cell (a pooled image).

    Args:
        attention_class: the student's ``SoftAttention``.
        batch, cells, grid_dim, hidden_dim, units: the sizes.
        seed: the inputs' random seed.
    """
    grid, hidden, weights = attention_inputs(batch, cells, grid_dim, hidden_dim, units, seed)
    layer = attention_class(units)
    grid_tensor, hidden_tensor = tf.constant(grid), tf.constant(hidden)
    for_context, for_weights = attention_projections(batch, cells, grid_dim, seed)
    with full_float32():
        with tf.GradientTape() as tape:
            tape.watch([grid_tensor, hidden_tensor])
            with refuse_delegation(ATTENTION):
                layer(grid_tensor, hidden_tensor)
                shapes = [tuple(w.shape) for w in layer.weights]
                wanted = [shape for _, shape in attention_weight_shapes(grid_dim, hidden_dim, units)]
                if shapes != wanted:
                    names = ", ".join(
                        f"{name} {shape}" for name, shape in attention_weight_shapes(grid_dim, hidden_dim, units)
                    )
                    fail(
                        f"SoftAttention({units}) should create its weights in this order: {names}; it has shapes {shapes}"
                    )
                layer.set_weights(weights)
                context, attention = layer(grid_tensor, hidden_tensor)
                pooled_context, pooled_attention = layer(tf.constant(grid[:, :1]), tf.constant(hidden))
            objective = tf.reduce_sum(context * for_context) + tf.reduce_sum(attention * for_weights)
        # Outside the watch: TensorFlow's gradient code, which trips the watcher's hook where a path has no gradient.
        sources = [grid_tensor, hidden_tensor, *layer.weights]
        gradients = tape.gradient(objective, sources)
    return {
        "context": np.asarray(context, np.float64),
        "weights": np.asarray(attention, np.float64),
        "gradients": [
            np.zeros(source.shape)
            if g is None
            else np.asarray(tf.convert_to_tensor(g), np.float64)  # None: not reached
            for source, g in zip(sources, gradients, strict=True)
        ],
        "pooled_weights": np.asarray(pooled_attention, np.float64),
        "pooled_context": np.asarray(pooled_context, np.float64),
    }


ATTENTION_MISTAKES = {
    "no_gate": "the context is not multiplied by the gate, sigmoid(hidden @ gate_kernel + gate_bias)",
    "no_tanh": "the scores skip the tanh: score = tanh(grid @ grid_kernel + hidden @ hidden_kernel + bias) @ score_kernel",
    "gated_weights": "return the attention weights before the gate: they are a softmax over the cells and sum to 1",
    "softmax_over_batch": "the softmax runs over the batch: take it over the cells (axis 1)",
}


def compare_attention(
    observed: Observations,
    expected: Expectation,
    batch: int,
    cells: int,
    grid_dim: int,
    hidden_dim: int,
    units: int,
    seed: int,
) -> str:
    """Context and weights against numpy's, naming the mistake; a grid of one cell gets weight 1."""
    check_shape("context", observed["context"], (batch, grid_dim))
    check_shape("weights", observed["weights"], (batch, cells))
    context, weights = observed["context"], observed["weights"]
    if not (
        np.allclose(weights, expected["weights"], atol=ATOL) and np.allclose(context, expected["context"], atol=ATOL)
    ):
        for mistake, message in ATTENTION_MISTAKES.items():
            fingerprint = expected["mistakes"][mistake]
            if np.allclose(context, fingerprint["context"], atol=ATOL) and np.allclose(
                weights, fingerprint["weights"], atol=ATOL
            ):
                fail(message)
        if not np.allclose(weights, expected["weights"], atol=ATOL):
            fail(
                f"the attention weights differ from the reference by up to {max_abs_diff(weights, expected['weights']):.3g}"
            )
        fail(f"the context differs from the reference by up to {max_abs_diff(context, expected['context']):.3g}")
    for name, gradient, wanted in zip(ATTENTION_GRADIENTS, observed["gradients"], expected["gradients"], strict=True):
        if np.shape(gradient) != np.shape(wanted) or not np.allclose(gradient, wanted, atol=1e-4):
            fail(
                f"the context and weights are right but their gradient with respect to {name} is not: compute them with "
                "keras.ops on the inputs and the layer's weights (no numpy, no stop_gradient), so that training can follow it"
            )
    if not np.allclose(observed["pooled_weights"], 1.0, atol=ATOL):
        fail("with a grid of one cell every weight should be 1 (a softmax over one cell)")
    check_shape("context for a grid of one cell", observed["pooled_context"], (batch, grid_dim))
    return "SoftAttention: scores, softmax over the cells, gate and context as numpy computes them"


check_attention = Check(probe_attention, compare_attention)


# --- Exercise 4: the loss ------------------------------------------------------------------------------------------


def loss_inputs(
    batch: int, steps: int, vocab_size: int, cells: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(targets (batch, steps) with 0 after each row's end, logits (batch, steps, vocab_size), attention weights
    (batch, steps, cells), each step's a softmax); row 0 is full length."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(1, vocab_size, size=(batch, steps)).astype(np.int32)
    for row in range(1, batch):
        targets[row, rng.integers(1, steps) :] = 0
    logits = rng.normal(scale=2.0, size=(batch, steps, vocab_size)).astype(np.float32)
    scores = rng.normal(scale=2.0, size=(batch, steps, cells))
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return targets, logits, weights.astype(np.float32)


def probe_captioning_loss(
    loss_fn: Callable[[tf.Tensor, tf.Tensor, tf.Tensor, float], tf.Tensor],
    penalty_weights: Sequence[float] = (0.0, 0.5),
    batch: int = 4,
    steps: int = 6,
    vocab_size: int = 7,
    cells: int = 4,
    seed: int = 0,
) -> Observations:
    """``captioning_loss(targets, logits, attention_weights, penalty_weight)`` -> a scalar, for each penalty weight,
    and its gradients with respect to the logits and the attention weights (what training follows).

    Args:
        loss_fn: the student's ``captioning_loss``.
        penalty_weights: the penalty weights to try.
        batch, steps, vocab_size, cells: the sizes of :func:`loss_inputs`.
        seed: the inputs' random seed.
    """
    targets, logits, weights = loss_inputs(batch, steps, vocab_size, cells, seed)
    observed = {"losses": [], "logits_gradients": [], "weights_gradients": []}
    with full_float32():
        for penalty_weight in penalty_weights:
            logits_tensor, weights_tensor = tf.constant(logits), tf.constant(weights)
            with tf.GradientTape() as tape:
                tape.watch([logits_tensor, weights_tensor])
                loss = loss_fn(tf.constant(targets), logits_tensor, weights_tensor, float(penalty_weight))
                loss = tf.convert_to_tensor(loss, tf.float32)  # a number computed outside TensorFlow has no gradient
            if np.shape(loss) != ():
                fail(f"captioning_loss should return one number (a scalar tensor), got shape {np.shape(loss)}")
            gradients = tape.gradient(
                loss, [logits_tensor, weights_tensor], unconnected_gradients=tf.UnconnectedGradients.ZERO
            )
            observed["losses"].append(float(loss))
            observed["logits_gradients"].append(np.asarray(gradients[0], np.float64))
            observed["weights_gradients"].append(np.asarray(gradients[1], np.float64))
    return observed


LOSS_MISTAKES = {
    "padding_counted": "the cross-entropy counts the padding positions: average only where targets != 0",
    "mean_of_rows": "the cross-entropy is averaged row by row, then over rows: average over all real words at once",
    "penalty_with_padding": "the penalty counts the attention of padding steps: sum the weights only over steps where targets != 0",
    "no_penalty": "the penalty adds nothing: for each cell, sum its weights over the real steps, then add penalty_weight * sum over cells of (1 - that sum) ** 2, averaged over the batch (summing over the cells first gives 0: each step's weights sum to 1)",
    "penalty_mean_over_cells": "the penalty averages over the cells: sum (1 - total) ** 2 over the cells, then average over the batch",
}


def compare_captioning_loss(
    observed: Observations,
    expected: Expectation,
    penalty_weights: Sequence[float],
    batch: int,
    steps: int,
    vocab_size: int,
    cells: int,
    seed: int,
) -> str:
    """Each loss against the reference, naming the mistake."""
    losses, wanted = np.asarray(observed["losses"]), np.asarray(expected["losses"])
    if losses.shape != wanted.shape or not np.allclose(losses, wanted, rtol=1e-4, atol=1e-5):
        for mistake, message in LOSS_MISTAKES.items():
            if np.allclose(losses, expected["mistakes"][mistake], rtol=1e-4, atol=1e-5):
                fail(message)
        shown = ", ".join(f"{w}: {x:.5f}" for w, x in zip(penalty_weights, wanted, strict=True))
        got = ", ".join(f"{x:.5f}" for x in losses)
        fail(f"the losses for penalty weights {list(penalty_weights)} should be {shown}; got {got}")
    for part, what in (("logits_gradients", "logits"), ("weights_gradients", "attention weights")):
        if not np.allclose(observed[part], expected[part], atol=1e-6):
            fail(
                f"the loss is right but its gradient with respect to the {what} is not (it differs by up to "
                f"{max_abs_diff(np.asarray(observed[part]), np.asarray(expected[part])):.3g}): compute it with TensorFlow "
                "operations on the tensors it gets (no numpy, no .numpy(), no stop_gradient), so that training can follow it"
            )
    return "captioning_loss: masked cross-entropy plus the doubly stochastic penalty over the real steps"


check_captioning_loss = Check(probe_captioning_loss, compare_captioning_loss)


# --- Exercise 3: the decoder's first state and its step ----------------------------------------------------------


def decoder_weight_shapes(
    vocab_size: int, embed_dim: int, units: int, attention_units: int, grid_dim: int
) -> list[tuple[str, list[tuple[int, ...]]]]:
    """[(layer, [weight shapes])] of the Captioner's decoder layers, in the order the probe sets them."""
    return [
        ("init_h", [(grid_dim, units), (units,)]),
        ("init_c", [(grid_dim, units), (units,)]),
        ("embedding", [(vocab_size, embed_dim)]),
        ("attention", [shape for _, shape in attention_weight_shapes(grid_dim, units, attention_units)]),
        ("cell", [(embed_dim + grid_dim, 4 * units), (units, 4 * units), (4 * units,)]),
        ("deep_output", [(units + grid_dim, embed_dim), (embed_dim,)]),
        ("output_layer", [(embed_dim, vocab_size), (vocab_size,)]),
    ]


def decoder_inputs(
    vocab_size: int,
    embed_dim: int,
    units: int,
    attention_units: int,
    batch: int,
    cells: int,
    grid_dim: int,
    steps: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, list[np.ndarray]]]:
    """(grid (batch, cells, grid_dim), tokens (batch, steps), {layer: weights}) for the decoder's probe."""
    rng = np.random.default_rng(seed)
    grid = rng.normal(size=(batch, cells, grid_dim)).astype(np.float32)
    tokens = rng.integers(1, vocab_size, size=(batch, steps)).astype(np.int32)
    weights = {
        layer: [rng.normal(scale=0.5, size=shape).astype(np.float32) for shape in shapes]
        for layer, shapes in decoder_weight_shapes(vocab_size, embed_dim, units, attention_units, grid_dim)
    }
    return grid, tokens, weights


def probe_decoder_step(
    captioner_class: type[keras.Model],
    vocab_size: int = 7,
    embed_dim: int = 4,
    units: int = 5,
    attention_units: int = 3,
    batch: int = 2,
    cells: int = 4,
    grid_dim: int = 6,
    steps: int = 3,
    seed: int = 0,
) -> Observations:
    """``Captioner.start(grid)`` -> [h, c]; ``Captioner.step(tokens, state, grid)`` -> (logits, state, weights).

    The probe makes ``captioner_class(vocab_size, embed_dim, units, attention_units, filters=[grid_dim - 2])``, sets
    the weights of its decoder layers to :func:`decoder_inputs`' and, from ``start`` on the inputs' grid, runs
    ``step`` on each column of the inputs' tokens (teacher forcing). It returns the first state and each step's
    logits, attention weights and state.

    Args:
        captioner_class: the student's ``Captioner``.
        vocab_size, embed_dim, units, attention_units: the model's sizes.
        batch, cells, grid_dim, steps: the inputs' sizes.
        seed: the inputs' random seed.
    """
    grid, tokens, weights = decoder_inputs(
        vocab_size, embed_dim, units, attention_units, batch, cells, grid_dim, steps, seed
    )
    model = captioner_class(
        vocab_size, embed_dim=embed_dim, units=units, attention_units=attention_units, filters=[grid_dim - 2]
    )
    grid_tensor = tf.constant(grid)
    for_logits, for_weights = decoder_projections(vocab_size, batch, cells, steps, seed)
    with full_float32():
        with refuse_delegation(DECODER_STEP):
            state = model.start(grid_tensor)
            model.step(tf.constant(tokens[:, 0]), state, grid_tensor)  # builds the layers
            for layer, values in weights.items():
                shapes = [tuple(w.shape) for w in getattr(model, layer).weights]
                if shapes != [v.shape for v in values]:
                    fail(
                        f"the Captioner's {layer} has weights of shapes {shapes}, expected {[v.shape for v in values]}: "
                        "use the layers __init__ makes, with the inputs the exercise names (in that order)"
                    )
                getattr(model, layer).set_weights(values)
        sources = [grid_tensor] + [w for layer in weights for w in getattr(model, layer).weights]
        with tf.GradientTape() as tape:
            tape.watch(grid_tensor)
            with refuse_delegation(DECODER_STEP):
                state = model.start(grid_tensor)
                if not isinstance(state, (list, tuple)) or len(state) != 2:
                    fail("start should return the LSTM's state, a list [h, c]")
                observed = {
                    "start": [np.asarray(s, np.float64) for s in state],
                    "logits": [],
                    "weights": [],
                    "states": [],
                }
                objective = 0.0
                for t in range(steps):
                    result = model.step(tf.constant(tokens[:, t]), state, grid_tensor)
                    if not isinstance(result, (list, tuple)) or len(result) != 3:
                        fail("step should return (logits, state, attention weights)")
                    logits, state, attention = result
                    objective += tf.reduce_sum(logits * for_logits[t]) + tf.reduce_sum(attention * for_weights[t])
                    observed["logits"].append(np.asarray(logits, np.float64))
                    observed["weights"].append(np.asarray(attention, np.float64))
                    observed["states"].append([np.asarray(s, np.float64) for s in state])
        # Outside the watch: TensorFlow's gradient code trips the watcher's hook where a path has no gradient.
        gradients = tape.gradient(objective, sources)
    observed["gradients"] = [
        np.zeros(source.shape) if g is None else np.asarray(tf.convert_to_tensor(g), np.float64)  # None: not reached
        for source, g in zip(sources, gradients, strict=True)
    ]
    return observed


def decoder_projections(
    vocab_size: int, batch: int, cells: int, steps: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(for the logits (steps, batch, vocab_size), for the weights (steps, batch, cells)): the probe's gradients are
    those of the sum over the steps of sum(logits * the first) + sum(weights * the second)."""
    rng = np.random.default_rng([seed, 3])
    return (
        rng.normal(size=(steps, batch, vocab_size)).astype(np.float32),
        rng.normal(size=(steps, batch, cells)).astype(np.float32),
    )


DECODER_MISTAKES = {
    "zero_start": "start returns zeros: the first state comes from the image, [init_h(mean of the grid's cells), init_c(same)]",
    "swapped_start": "start returns [c, h]: return [init_h(mean), init_c(mean)], h first as Keras's LSTMCell expects",
    "sum_start": "start uses the sum of the cells: take their mean",
    "attends_with_c": "the attention reads the cell state c: it should read the previous hidden state h (state[0])",
    "no_context_input": "the LSTM's input lacks the context: give it concatenate([embedding(tokens), context])",
    "inputs_swapped": "the LSTM's input is [context, embedding]: concatenate them as [embedding, context]",
    "no_embedding_in_output": "the logits leave out the word's embedding: output_layer(embedding(tokens) + deep_output([h, context]))",
    "output_from_old_state": "the logits read the hidden state from before the LSTM step: use the new one",
}


def compare_decoder_step(
    observed: Observations,
    expected: Expectation,
    vocab_size: int,
    embed_dim: int,
    units: int,
    attention_units: int,
    batch: int,
    cells: int,
    grid_dim: int,
    steps: int,
    seed: int,
) -> str:
    """The first state and every step against numpy's, naming the mistake, and the step where they part."""

    def agrees(values, reference):
        return all(
            np.shape(a) == np.shape(b) and np.allclose(a, b, atol=ATOL)
            for a, b in zip(_flat(values), _flat(reference), strict=True)
        )

    parts = ("start", "logits", "weights", "states")
    if all(agrees(observed[p], expected[p]) for p in parts):
        # The gradient, along a few random directions of (grid, every decoder weight): cheap for the grader to know.
        flat = np.concatenate([np.ravel(g) for g in observed["gradients"]])
        along = [
            float(flat @ np.ravel(direction))
            for direction in decoder_directions(flat.size, len(expected["slopes"]), seed)
        ]
        if not np.allclose(along, expected["slopes"], rtol=1e-3, atol=1e-3):
            fail(
                "the first state and the steps are right but their gradient is not: compute them with the layers and "
                "keras.ops (no numpy, no stop_gradient), so that training can follow it"
            )
        return f"Captioner.start and .step: the first state from the image, {steps} steps of attention, LSTM and deep output"
    for mistake, message in DECODER_MISTAKES.items():
        fingerprint = expected["mistakes"][mistake]
        if all(agrees(observed[p], fingerprint[p]) for p in parts):
            fail(message)
    if not agrees(observed["start"], expected["start"]):
        fail("start's state differs from the reference: [init_h(mean of the cells), init_c(mean of the cells)]")
    for t in range(steps):
        for part, what in (("weights", "attention weights"), ("states", "state"), ("logits", "logits")):
            if not agrees(observed[part][t], expected[part][t]):
                hint = "; Test 2 (SoftAttention) must pass first" if part == "weights" else ""
                fail(f"step {t}: the {what} differ from the reference{hint}")
    fail("the decoder differs from the reference")


def decoder_directions(size: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` random unit directions in the space of (grid, every decoder weight), flattened in the probe's order."""
    rng = np.random.default_rng([seed, 4])
    directions = rng.normal(size=(count, size))
    return list(directions / np.linalg.norm(directions, axis=1, keepdims=True))


def _flat(values):
    if isinstance(values, (list, tuple)):
        return [item for value in values for item in _flat(value)]
    return [np.asarray(values)]


check_decoder_step = Check(probe_decoder_step, compare_decoder_step)


# --- Exercise 5: greedy decoding -------------------------------------------------------------------------------

GREEDY_VOCAB_SIZE = 5  # padding, start, end and two words: rows end early


class _TinyCaptioner(keras.Model):
    """A small model with the lab's decoding interface (encode, start, step), built from Keras layers.

    Its words turn on the word fed back, the image and a GRU; it never writes the padding or the start token, and writes the end token from a step
    that depends on the image (2 to 9, from the sum of its pixels): with ``max_length`` 6, most images end early and
    some never do. It keeps the fewest images any call of ``step`` got, for the probe to see whether decoding is batched.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(3, 4, strides=4)
        self.start_layer = keras.layers.Dense(units, activation="tanh")
        self.embedding = keras.layers.Embedding(GREEDY_VOCAB_SIZE, units)
        self.recurrent = keras.layers.GRUCell(units)
        self.output_layer = keras.layers.Dense(GREEDY_VOCAB_SIZE)
        self.fewest_images = tf.Variable(np.iinfo(np.int32).max, dtype=tf.int32, trainable=False)

    def encode(self, images):
        features = self.conv(tf.cast(images, tf.float32) / 255.0)
        features = tf.reshape(features, [tf.shape(features)[0], -1, 3])
        due = 2 + tf.math.floormod(tf.reduce_sum(tf.cast(images, tf.int32), axis=[1, 2, 3]), 8)  # exact, per image
        due = tf.broadcast_to(tf.cast(due, tf.float32)[:, None, None], tf.concat([tf.shape(features)[:2], [1]], 0))
        return tf.concat([features, due], axis=-1)

    def start(self, grid):
        return [self.start_layer(tf.reduce_mean(grid[..., :3], 1)), tf.zeros([tf.shape(grid)[0], 1])]

    def step(self, tokens, state, grid):
        self.fewest_images.assign(tf.minimum(self.fewest_images, tf.size(tokens)))
        h, count = state
        features = grid[..., :3]
        weights = tf.nn.softmax(tf.reduce_sum(features, -1) * tf.reduce_mean(h, -1, keepdims=True), axis=-1)
        context = tf.einsum("bl,bld->bd", weights, features)
        output, [h] = self.recurrent(tf.concat([self.embedding(tokens)[:, :3] + context, h[:, :1]], -1), [h])
        count = count + 1
        from course_utils.captioning import END_ID, PAD_ID, START_ID

        # Which word comes next turns on the word fed back and the image; the end token on the image and the step.
        due = grid[:, 0, -1]
        phase = count[:, 0] * due + tf.cast(tokens, tf.float32)
        words = 10.0 * tf.sin(phase)[:, None] * (tf.one_hot(3, GREEDY_VOCAB_SIZE) - tf.one_hot(4, GREEDY_VOCAB_SIZE))
        ends = tf.where(count[:, 0] >= due, 20.0, -20.0)[:, None] * tf.one_hot(END_ID, GREEDY_VOCAB_SIZE)
        never = tf.one_hot(PAD_ID, GREEDY_VOCAB_SIZE) + tf.one_hot(START_ID, GREEDY_VOCAB_SIZE)
        logits = self.output_layer(output) + words + ends - 20.0 * never
        return logits, [h, count], weights


def greedy_inputs(batch: int, image_size: int, seed: int) -> tuple[keras.Model, np.ndarray]:
    """A :class:`_TinyCaptioner` whose weights depend only on ``seed`` (it sets Keras's global seed), and uint8 images."""
    keras.utils.set_random_seed(seed)
    model = _TinyCaptioner(6, name="tiny_captioner")
    images = np.random.default_rng(seed).integers(0, 256, size=(batch, image_size, image_size, 3), dtype=np.uint8)
    grid = model.encode(images[:1])
    model.step(tf.constant([1]), model.start(grid), grid)  # builds it
    return model, images


def probe_greedy_captioner(
    make_fn: Callable[[keras.Model, int], Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]],
    max_length: int = 6,
    batch: int = 5,
    image_size: int = 16,
    seed: int = 0,
) -> Observations:
    """``make_greedy_captioner(model, max_length)``: compiled and batched; images -> (tokens, attention weights).

    The probe decodes :func:`greedy_inputs`' images as a batch, noting the fewest images a call of the model's
    ``step`` got and any call back into Python in the compiled function, then decodes each image alone.

    Args:
        make_fn: the student's ``make_greedy_captioner``.
        max_length: passed to ``make_fn``.
        batch, image_size: the images' number and size.
        seed: the model's and the images' random seed.
    """
    model, images = greedy_inputs(batch, image_size, seed)
    with full_float32(), refuse_delegation(GREEDY):
        decode = make_fn(model, max_length)
        if not hasattr(decode, "get_concrete_function"):
            fail("make_greedy_captioner should return a function decorated with @tf.function (compiled)")
        model.fewest_images.assign(np.iinfo(np.int32).max)
        result = decode(tf.constant(images))
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            fail("the decoder should return (tokens, attention weights)")
        fewest_images = int(model.fewest_images.numpy())
        python_calls = _python_calls(decode.get_concrete_function(tf.constant(images)))
        alone = [np.asarray(decode(tf.constant(images[row : row + 1]))[0]) for row in range(batch)]
    return {
        "tokens": np.asarray(result[0]),
        "weights": np.asarray(result[1], np.float64),
        "alone": alone,
        "fewest_images": fewest_images,
        "python_calls": python_calls,
    }


PYTHON_CALL_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")  # tf.numpy_function and tf.py_function


def _python_calls(concrete_function) -> list[str]:
    """The operations of a traced function, the functions it calls included, that run Python code."""
    graph = concrete_function.graph.as_graph_def()
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    return sorted({node.op for node in nodes if node.op in PYTHON_CALL_OPS})


def compare_greedy_captioner(
    observed: Observations, expected: Expectation, max_length: int, batch: int, image_size: int, seed: int
) -> str:
    """Tokens and attention weights against step-by-step decoding; each image alone against the batch."""
    from course_utils.captioning import END_ID

    tokens, wanted = np.asarray(observed["tokens"]), np.asarray(expected["tokens"])
    if tokens.shape != (batch, max_length):
        fail(f"the tokens should have shape (batch, max_length) = ({batch}, {max_length}), got {tokens.shape}")
    if not np.array_equal(tokens, wanted):
        row = int(np.flatnonzero(np.any(tokens != wanted, axis=1))[0])
        ended = wanted[row] == END_ID
        end = int(np.argmax(ended)) + 1
        if ended.any() and np.any(tokens[row, end:] != 0) and np.array_equal(tokens[row, :end], wanted[row, :end]):
            fail(
                f"after the end token a row should only get 0 (padding); image {row}: expected {wanted[row].tolist()}, got {tokens[row].tolist()}"
            )
        fail(
            f"image {row} should decode to {wanted[row].tolist()} (argmax at each step, fed back as the next input, from START_ID), got {tokens[row].tolist()}"
        )
    if observed["python_calls"]:
        fail(
            f"the tf.function calls back into Python ({', '.join(observed['python_calls'])}: tf.py_function or "
            "tf.numpy_function), so it is not compiled: write the loop with TensorFlow operations"
        )
    weights = observed["weights"]
    check_shape("attention weights", weights, np.shape(expected["weights"]))
    if not np.allclose(weights, expected["weights"], atol=1e-5):
        fail(
            "the attention weights differ from step-by-step decoding's: keep each step's weights, and zeros after the end token"
        )
    if observed["fewest_images"] != batch:
        fail(
            f"a call of model.step got {observed['fewest_images']} image(s), not the batch of {batch}: decode all the "
            "images together, one model.step on the whole batch at each position (no loop or tf.map_fn over images)"
        )
    for row, alone in enumerate(observed["alone"]):
        if np.shape(alone) != (1, max_length) or not np.array_equal(alone[0], wanted[row]):
            fail(
                f"decoding image {row} alone gives {np.asarray(alone).tolist()}, in the batch {wanted[row].tolist()}: images must not depend on each other"
            )
    return (
        f"greedy captioning of {batch} images matches step-by-step decoding, with padding after the end token, compiled"
    )


check_greedy_captioner = Check(probe_greedy_captioner, compare_greedy_captioner)


__all__ = [
    "CheckFailed",
    "check_answer",
    "check_answer_recorded",
    "check_attention",
    "check_captioning_loss",
    "check_decoder_step",
    "check_greedy_captioner",
    "check_image_encoder",
    "check_prediction",
]
