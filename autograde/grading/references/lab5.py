"""Private references for Lab 5's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab5.probe_<name>`` (sizes and a seed; never the
student's objects), makes the same inputs with the public input functions, and returns plain data: the reference's
result (numpy computations, step-by-step decoding) and the fingerprints of the mistakes the comparison names.
"""

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from numpy.typing import ArrayLike

from course_utils.checks import lab5 as public
from course_utils.checks.delegation import refuse_reference_while_watched

# --- Exercise 1: the image encoder ---------------------------------------------------------------------------


def _cell_coordinates(side: int, centre: bool = True) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(side, dtype=np.float64)
    position = (2 * index + 1) / side - 1 if centre else np.linspace(-1.0, 1.0, side)
    return np.meshgrid(position, position)  # x varies along a row, y down the columns


def _reach(first: int, last: int, blocks: int, side: int) -> tuple[int, int]:
    """The cells (along one axis) that pixels first..last can reach through blocks of a 3x3 'same' convolution and 2x2
    pooling."""
    for _ in range(blocks):
        first, last = max(first - 1, 0), last + 1
        first, last = first // 2, last // 2
    return first, min(last, side - 1)


def encoder_features(weights: list[np.ndarray], images: np.ndarray, variant: str = "reference") -> np.ndarray:
    """The encoder's features (batch, cells, filters[-1]) in float64: blocks of a 3x3 'same' convolution, ReLU and 2x2
    max pooling (or a mistake's: ``average_pooling``, ``strided``), cells row by row."""
    x = np.asarray(images, np.float64)
    for kernel, bias in zip(weights[::2], weights[1::2], strict=True):
        height, width = x.shape[1:3]
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        x = sum(
            padded[:, dy : dy + height, dx : dx + width] @ np.asarray(kernel[dy, dx], np.float64)
            for dy in range(3)
            for dx in range(3)
        ) + np.asarray(bias, np.float64)
        x = np.maximum(x, 0.0)
        if variant == "strided":  # stride 2 with 'same' padding: TensorFlow pads an even side at the end only
            x = x[:, height % 2 == 0 :: 2, width % 2 == 0 :: 2]
            continue
        rows, columns = height // 2, width // 2
        blocks = x[:, : 2 * rows, : 2 * columns].reshape(len(x), rows, 2, columns, 2, -1)
        x = blocks.mean(axis=(2, 4)) if variant == "average_pooling" else blocks.max(axis=(2, 4))
    return x.reshape(len(x), -1, x.shape[-1])


def expect_image_encoder(filters: Sequence[int], image_size: int, batch: int, seed: int) -> dict[str, Any]:
    """The grid's shape, each cell's coordinates (and the mistakes'), the cells the top-left change may reach, and the
    number of weights."""
    side = public.grid_side(image_size, len(filters))
    x, y = _cell_coordinates(side)
    corner_x, corner_y = _cell_coordinates(side, centre=False)
    rows, columns = np.meshgrid(np.arange(side, dtype=np.float64), np.arange(side, dtype=np.float64), indexing="ij")
    rows_first, rows_last = _reach(0, 7, len(filters), side)
    columns_first, columns_last = _reach(0, min(16, image_size) - 1, len(filters), side)
    may_reach = np.zeros((side, side), bool)
    may_reach[rows_first : rows_last + 1, columns_first : columns_last + 1] = True
    channels = [3, *filters]
    images, _ = public.encoder_inputs(batch, image_size, seed)
    weights = public.encoder_weights(filters, seed)
    return {
        "features": encoder_features(weights, images),
        **{mistake: encoder_features(weights, images, mistake) for mistake in public.ENCODER_FEATURE_MISTAKES},
        "shape": [batch, side * side, filters[-1] + 2],
        "coordinates": np.stack([x.ravel(), y.ravel()], -1),
        "swapped": np.stack([y.ravel(), x.ravel()], -1),  # and the cells listed column by column, on a square grid
        "corners": np.stack([corner_x.ravel(), corner_y.ravel()], -1),
        "indices": np.stack([columns.ravel(), rows.ravel()], -1),
        "may_reach": may_reach.ravel(),
        "may_reach_column_major": may_reach.T.ravel(),
        "weights": sum(9 * c_in * c_out + c_out for c_in, c_out in zip(channels, channels[1:])),
    }


# --- Exercise 2: soft attention -------------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def soft_attention(
    weights: Sequence[ArrayLike], grid: ArrayLike, hidden: ArrayLike, variant: str = "reference"
) -> tuple[np.ndarray, np.ndarray]:
    """(context, attention weights) of Show, Attend and Tell's soft attention with its gate, in float64; or a mistake's
    (the keys of ``public.ATTENTION_MISTAKES``)."""
    refuse_reference_while_watched("the reference soft attention")
    grid_kernel, hidden_kernel, bias, score_kernel, gate_kernel, gate_bias = (
        np.asarray(w, np.float64) for w in weights
    )
    grid, hidden = np.asarray(grid, np.float64), np.asarray(hidden, np.float64)
    hidden_part = (hidden @ hidden_kernel)[:, None, :]
    activation = (lambda v: v) if variant == "no_tanh" else np.tanh
    scores = (activation(grid @ grid_kernel + hidden_part + bias) @ score_kernel)[..., 0]
    attention = _softmax(scores, axis=0 if variant == "softmax_over_batch" else 1)
    gate = _sigmoid(hidden @ gate_kernel + gate_bias)  # (batch, 1)
    context = np.einsum("bl,bld->bd", attention, grid)
    if variant != "no_gate":
        context = gate * context
    if variant == "gated_weights":
        attention = gate * attention
    return context, attention


def _numeric_gradients(function, arrays: list[np.ndarray], step: float = 1e-6) -> list[np.ndarray]:
    """The gradient of ``function(*arrays)`` (a float64 number) with respect to each array, by central differences."""
    arrays = [np.array(a, np.float64) for a in arrays]
    gradients = []
    for array in arrays:
        gradient = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            kept = array[index]
            array[index] = kept + step
            above = function(*arrays)
            array[index] = kept - step
            below = function(*arrays)
            array[index] = kept
            gradient[index] = (above - below) / (2 * step)
        gradients.append(gradient)
    return gradients


def expect_attention(batch: int, cells: int, grid_dim: int, hidden_dim: int, units: int, seed: int) -> dict[str, Any]:
    """The reference's context and weights, and each mistake's."""
    grid, hidden, weights = public.attention_inputs(batch, cells, grid_dim, hidden_dim, units, seed)
    context, attention = soft_attention(weights, grid, hidden)
    for_context, for_weights = public.attention_projections(batch, cells, grid_dim, seed)

    def objective(grid, hidden, *weights):
        c, a = soft_attention(weights, grid, hidden)
        return float((c * for_context).sum() + (a * for_weights).sum())

    gradients = _numeric_gradients(objective, [grid, hidden, *weights])
    mistakes = {}
    for mistake in public.ATTENTION_MISTAKES:
        c, a = soft_attention(weights, grid, hidden, mistake)
        mistakes[mistake] = {"context": c, "weights": a}
    return {"context": context, "weights": attention, "gradients": gradients, "mistakes": mistakes}


# --- Exercise 4: the loss ------------------------------------------------------------------------------------------


def captioning_loss(
    targets: ArrayLike, logits: ArrayLike, weights: ArrayLike, penalty_weight: float, variant: str = "reference"
) -> float:
    """Masked mean cross-entropy plus penalty_weight times the doubly stochastic penalty, in float64; or a mistake's."""
    targets, logits, weights = np.asarray(targets), np.asarray(logits, np.float64), np.asarray(weights, np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    real = (targets != 0).astype(np.float64)
    if variant == "padding_counted":
        real_for_loss = np.ones_like(real)
    else:
        real_for_loss = real
    if variant == "mean_of_rows":
        loss = np.mean((cross_entropy * real).sum(1) / real.sum(1))
    else:
        loss = (cross_entropy * real_for_loss).sum() / real_for_loss.sum()
    steps = np.ones_like(real) if variant == "penalty_with_padding" else real
    totals = (weights * steps[..., None]).sum(1)  # (batch, cells): each cell's attention over the real steps
    if variant == "no_penalty":
        penalty = 0.0
    elif variant == "penalty_mean_over_cells":
        penalty = np.mean(((1 - totals) ** 2).mean(-1))
    else:
        penalty = np.mean(((1 - totals) ** 2).sum(-1))
    return float(loss + penalty_weight * penalty)


def captioning_loss_gradients(
    targets: ArrayLike, logits: ArrayLike, weights: ArrayLike, penalty_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """The reference loss's gradients with respect to the logits and the attention weights, in float64."""
    targets, logits, weights = np.asarray(targets), np.asarray(logits, np.float64), np.asarray(weights, np.float64)
    real = (targets != 0).astype(np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    one_hot = np.eye(logits.shape[-1])[targets]
    logits_gradient = (probabilities - one_hot) * real[..., None] / real.sum()
    totals = (weights * real[..., None]).sum(1)  # (batch, cells)
    weights_gradient = -2.0 * penalty_weight * (1 - totals)[:, None, :] * real[..., None] / len(targets)
    return logits_gradient, weights_gradient


def expect_captioning_loss(
    penalty_weights: Sequence[float], batch: int, steps: int, vocab_size: int, cells: int, seed: int
) -> dict[str, Any]:
    """The reference's loss for each penalty weight, and each mistake's."""
    targets, logits, weights = public.loss_inputs(batch, steps, vocab_size, cells, seed)

    def losses(variant):
        return [captioning_loss(targets, logits, weights, w, variant) for w in penalty_weights]

    gradients = [captioning_loss_gradients(targets, logits, weights, w) for w in penalty_weights]
    return {
        "losses": losses("reference"),
        "logits_gradients": [logits_gradient for logits_gradient, _ in gradients],
        "weights_gradients": [weights_gradient for _, weights_gradient in gradients],
        "mistakes": {m: losses(m) for m in public.LOSS_MISTAKES},
    }


# --- Exercise 3: the decoder's first state and its step ----------------------------------------------------------


def _lstm(kernel, recurrent_kernel, bias, x, h, c):
    # Keras's LSTMCell: gates i, f, c, o; recurrent activation sigmoid.
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def decoder_steps(
    weights: dict[str, list[np.ndarray]], grid: ArrayLike, tokens: np.ndarray, variant: str = "reference"
) -> dict[str, Any]:
    """The first state, then each step's logits, attention weights and state, in float64; or a mistake's (the keys
    of ``public.DECODER_MISTAKES``)."""
    refuse_reference_while_watched("the reference decoder")
    w = {layer: [np.asarray(v, np.float64) for v in values] for layer, values in weights.items()}
    grid = np.asarray(grid, np.float64)
    mean = grid.sum(1) if variant == "sum_start" else grid.mean(1)
    h, c = np.tanh(mean @ w["init_h"][0] + w["init_h"][1]), mean @ w["init_c"][0] + w["init_c"][1]
    if variant == "zero_start":
        h, c = np.zeros_like(h), np.zeros_like(c)
    if variant == "swapped_start":
        h, c = c, h
    result: dict[str, Any] = {"start": [h, c], "logits": [], "weights": [], "states": []}
    for t in range(tokens.shape[1]):
        embedded = w["embedding"][0][tokens[:, t]]
        context, attention = soft_attention(w["attention"], grid, c if variant == "attends_with_c" else h)
        if variant == "no_context_input":
            x = np.concatenate([embedded, np.zeros_like(context)], -1)
        elif variant == "inputs_swapped":
            x = np.concatenate([context, embedded], -1)
        else:
            x = np.concatenate([embedded, context], -1)
        new_h, c = _lstm(*w["cell"], x, h, c)
        read = h if variant == "output_from_old_state" else new_h
        deep = np.concatenate([read, context], -1) @ w["deep_output"][0] + w["deep_output"][1]
        if variant != "no_embedding_in_output":
            deep = deep + embedded
        h = new_h
        result["logits"].append(deep @ w["output_layer"][0] + w["output_layer"][1])
        result["weights"].append(attention)
        result["states"].append([h, c])
    return result


def expect_decoder_step(
    vocab_size: int,
    embed_dim: int,
    units: int,
    attention_units: int,
    batch: int,
    cells: int,
    grid_dim: int,
    steps: int,
    seed: int,
) -> dict[str, Any]:
    """The reference decoder's first state and steps, and each mistake's."""
    grid, tokens, weights = public.decoder_inputs(
        vocab_size, embed_dim, units, attention_units, batch, cells, grid_dim, steps, seed
    )
    expected = decoder_steps(weights, grid, tokens)
    expected["mistakes"] = {m: decoder_steps(weights, grid, tokens, m) for m in public.DECODER_MISTAKES}
    expected["slopes"] = _decoder_slopes(weights, grid, tokens, vocab_size, cells, seed)
    return expected


DECODER_DIRECTIONS = 4


def _decoder_slopes(weights, grid, tokens, vocab_size, cells, seed, step=1e-5) -> list[float]:
    """The probe's objective's derivative along each of public.decoder_directions, by central differences."""
    batch, steps = tokens.shape
    for_logits, for_weights = public.decoder_projections(vocab_size, batch, cells, steps, seed)
    arrays = [np.asarray(grid, np.float64)] + [np.asarray(w, np.float64) for values in weights.values() for w in values]
    sizes = [a.size for a in arrays]
    flat = np.concatenate([a.ravel() for a in arrays])

    def objective(vector):
        parts = np.split(vector, np.cumsum(sizes)[:-1])
        unpacked = [p.reshape(a.shape) for p, a in zip(parts, arrays, strict=True)]
        layers, position = {}, 1
        for layer, values in weights.items():
            layers[layer] = unpacked[position : position + len(values)]
            position += len(values)
        result = decoder_steps(layers, unpacked[0], tokens)
        return sum(
            float((logits * for_logits[t]).sum() + (attention * for_weights[t]).sum())
            for t, (logits, attention) in enumerate(zip(result["logits"], result["weights"], strict=True))
        )

    return [
        (objective(flat + step * direction) - objective(flat - step * direction)) / (2 * step)
        for direction in public.decoder_directions(flat.size, DECODER_DIRECTIONS, seed)
    ]


# --- Exercise 5: greedy decoding -------------------------------------------------------------------------------


def reference_greedy(model: keras.Model, images: np.ndarray, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Image by image, step by step, eagerly: tokens (images, max_length), 0 after the end token, and attention
    weights (images, max_length, cells), 0 after the end token."""
    import tensorflow as tf

    from course_utils.captioning import END_ID, START_ID

    refuse_reference_while_watched("the reference greedy decoding")
    all_tokens, all_weights = [], []
    for image in images:
        grid = model.encode(image[None])
        state = model.start(grid)
        token, tokens = START_ID, np.zeros(max_length, np.int32)
        weights = np.zeros((max_length, grid.shape[1]))
        for t in range(max_length):
            logits, state, attention = model.step(tf.constant([token], tf.int32), state, grid)
            token = int(np.argmax(logits[0]))
            tokens[t], weights[t] = token, np.asarray(attention[0])
            if token == END_ID:
                break
        all_tokens.append(tokens)
        all_weights.append(weights)
    return np.stack(all_tokens), np.stack(all_weights)


def expect_greedy_captioner(max_length: int, batch: int, image_size: int, seed: int) -> dict[str, Any]:
    """Step-by-step greedy decoding of the probe's images with the probe's model."""
    from course_utils.checks._common import full_float32

    model, images = public.greedy_inputs(batch, image_size, seed)
    with full_float32():
        tokens, weights = reference_greedy(model, images, max_length)
    return {"tokens": tokens, "weights": weights}
