"""Self-checks for Lab 3, "Tweet sentiment with embeddings and (bi)directional LSTMs".

Every check compares the student's code with a reference: Keras layers built here, or the
small numpy computations below (private, and refused as answers). Inputs are random token ids
with random lengths, so nothing depends on one seed. The student's code runs under
``refuse_delegation``: it may not call the function the exercise asks for (the ``Exercise``
constants below).
"""
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from course_utils.checks import CheckFailed, check_close, check_prediction, check_shape, fail, max_abs_diff, passed
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refuse_reference_while_watched, refusing_delegation
from course_utils.checks.lab1 import LSTM_CELL, _step_mismatch
from course_utils.layers import load_model

ATOL = 1e-5

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
# scikit-learn is not a course dependency, but Colab has it.
_SKLEARN_METRICS = "sklearn/metrics/_classification.py"
_SKLEARN_WEIGHTS = "sklearn/utils/class_weight.py"
_THIS_FILE = "course_utils/checks/lab3.py"
CLASS_WEIGHTS = Exercise(
    "class_weights",
    hint="count the examples of each class with np.bincount and compute n / (num_classes * n_c) yourself",
    forbidden=(
        Forbidden("the check's reference weights", _THIS_FILE, "_balanced_weights"),
        Forbidden("sklearn.utils.class_weight.compute_class_weight", _SKLEARN_WEIGHTS, "compute_class_weight"),
        Forbidden("sklearn.utils.class_weight.compute_sample_weight", _SKLEARN_WEIGHTS, "compute_sample_weight"),
    ),
)
MACRO_RECALL = Exercise(
    "macro_recall",
    hint="compute the recall of each class that occurs in y_true, mean(y_pred[y_true == c] == c), and average them yourself",
    forbidden=(
        Forbidden("the check's reference macro recall", _THIS_FILE, "_macro_recall_*"),
        Forbidden("course_utils.metrics.per_class_recall", "course_utils/metrics.py", "per_class_recall"),
        Forbidden("sklearn.metrics.recall_score", _SKLEARN_METRICS, "recall_score"),
        Forbidden("sklearn.metrics.balanced_accuracy_score (the macro recall)", _SKLEARN_METRICS, "balanced_accuracy_score"),
        Forbidden("sklearn.metrics.precision_recall_fscore_support", _SKLEARN_METRICS, "precision_recall_fscore_support"),
        Forbidden("sklearn.metrics.classification_report", _SKLEARN_METRICS, "classification_report"),
    ),
)
LAYER_NORM_LSTM_CELL = Exercise(
    "LayerNormLSTMCell",
    hint="compute the four gate blocks, the new c and the new h in call with keras.ops and the cell's own norm layers",
    # Lab 1's LSTM shortcuts (Keras's LSTM, the fused LSTMBlockCell, cuDNN) and the check's own numpy.
    forbidden=LSTM_CELL.forbidden + (
        Forbidden("the check's reference cell", _THIS_FILE, "_reference_layer_norm_lstm"),
        Forbidden("the check's reference layer norm", _THIS_FILE, "_layer_norm"),
        Forbidden("the check's reference sigmoid", _THIS_FILE, "_sigmoid"),
        # TensorFlow Addons had a LayerNormLSTMCell (it normalises each gate alone); Colab may still have it.
        Forbidden("tensorflow_addons.rnn.LayerNormLSTMCell", "tensorflow_addons/rnn/layer_norm_lstm_cell.py"),
    ),
)
ATTENTION_POOLING = Exercise(
    "MyAttentionPooling",
    hint="create kernel, bias and score_vector with self.add_weight and compute the scores, the masked softmax and the weighted sum with keras.ops",
    forbidden=(Forbidden("the check's reference attention", _THIS_FILE, "_reference_attention"),),
)


def random_padded_tokens(rng, batch, steps, vocab_size):
    """Token ids in 1..vocab_size-1 with random lengths (1..steps, one row full), padded with 0 at the end."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    tokens = rng.integers(1, vocab_size, size=(batch, steps))
    tokens[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32")


def _check_padding_ignored(what, model, tokens, extra=3):
    """More zeros at the end must not change the output: the padding is masked."""
    padded = np.pad(tokens, [(0, 0), (0, extra)])
    difference = max_abs_diff(model(padded), model(tokens))
    if difference > ATOL:
        fail(
            f"{what}: appending {extra} padding tokens (id 0) changed the outputs by {difference:.3g}; "
            "the Embedding needs mask_zero=True so that the layers after it skip the padding"
        )


def _reference_parameters(vocab_size, embed_dim, encoder, num_classes):
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(vocab_size, embed_dim), *encoder])
    features = model.output_shape[-1]
    return model.count_params() + features * num_classes + num_classes


def _encoders(units):
    """Fresh reference encoders by name: lists of layers turning (batch, time, dim) into (batch, features)."""
    return {
        "average pooling": lambda: [keras.layers.GlobalAveragePooling1D()],
        f"LSTM({units})": lambda: [keras.layers.LSTM(units)],
    }


def _check_dropout_layers(build_fn, vocab_size, embed_dim, num_classes, tokens, rate=0.4):
    """SpatialDropout1D(rate) right after the Embedding, dropping whole channels; Dropout(rate) right before the output."""
    model = build_fn(vocab_size, embed_dim, [keras.layers.GlobalAveragePooling1D()], num_classes=num_classes, dropout=rate)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = [type(layer).__name__ for layer in layers]
    after_embedding = layers[1] if len(layers) > 1 else None
    if not isinstance(after_embedding, keras.layers.SpatialDropout1D):
        fail(
            f"right after the Embedding put SpatialDropout1D({rate}), which drops whole embedding channels for a tweet "
            f"(the same channels at every step); your layers are {names}"
        )
    before_output = layers[-2]
    if type(before_output) is not keras.layers.Dropout:
        fail(f"right before the output layer put Dropout({rate}) (plain dropout on the tweet's vector); your layers are {names}")
    for layer in (after_embedding, before_output):
        if layer.rate != rate:
            fail(f"with dropout={rate} the {type(layer).__name__} layer should have rate {rate}, got {layer.rate}")
    # Channels, not single entries: in training mode a dropped channel is zero at every step.
    ones = np.ones((8, 6, embed_dim), dtype="float32")
    dropped = np.asarray(after_embedding(ones, training=True)) == 0
    if not np.all(dropped == dropped[:, :1, :]):
        fail("the layer after the Embedding drops single numbers; SpatialDropout1D drops a channel at every step of the tweet")
    # 64 channels at rate 0.4: all kept, or all dropped, by chance has probability below 1e-14.
    if not 0 < dropped.mean() < 1:
        fail(f"in training mode the layer after the Embedding dropped {dropped.mean():.0%} of the channels; with rate {rate} it should drop about {rate:.0%}")
    check_close("predictions with dropout (inference: dropout is off)", model(tokens), model(tokens))


def check_classifier(build_fn, vocab_size=50, embed_dim=8, units=4, num_classes=3, batch=4, steps=7, seed=0):
    """``build_classifier(vocab_size, embed_dim, encoder, num_classes, dropout)``: shapes, masking, probabilities, parameters."""
    rng = np.random.default_rng(seed)
    tokens = random_padded_tokens(rng, batch, steps, vocab_size)
    for name, make in _encoders(units).items():
        encoder = make()
        model = build_fn(vocab_size, embed_dim, encoder, num_classes=num_classes, dropout=0.0)
        if not isinstance(model, keras.Model):
            fail(f"build_classifier should return a keras Model, got {type(model).__name__}")
        if not all(any(layer is mine for mine in model.layers) for layer in encoder):
            fail("the model should contain the encoder layers it is given, in order, between the Embedding and the output layer")
        probabilities = np.asarray(model(tokens))
        check_shape(f"output with the {name} encoder", probabilities, (batch, num_classes))
        if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5):
            fail("the outputs should be class probabilities (non-negative, summing to 1): end with Dense(num_classes, activation='softmax')")
        _check_padding_ignored(f"with the {name} encoder", model, tokens)
        expected = _reference_parameters(vocab_size, embed_dim, make(), num_classes)
        if model.count_params() != expected:
            fail(
                f"with the {name} encoder the model should have {expected} parameters (Embedding {vocab_size}*{embed_dim}, "
                f"the encoder, Dense to {num_classes} classes), got {model.count_params()}"
            )

    _check_dropout_layers(build_fn, vocab_size, embed_dim, num_classes, tokens)
    passed(f"build_classifier: shapes, probabilities, masking and parameter counts are right for {', '.join(_encoders(units))}")


RECURRENT_KINDS = {
    # kind: (layer class, parameters for input size d and units u, output features)
    "simple_rnn": (keras.layers.SimpleRNN, lambda d, u: d * u + u * u + u, lambda u: u),
    "lstm": (keras.layers.LSTM, lambda d, u: 4 * (d * u + u * u + u), lambda u: u),
    "bilstm": (keras.layers.Bidirectional, lambda d, u: 8 * (d * u + u * u + u), lambda u: 2 * u),
}


def check_encoder(make_fn, input_dim=6, units=5, vocab_size=40, batch=3, steps=6, seed=0):
    """``make_encoder(kind, units, recurrent_dropout)``: the right layer, output size, parameters, dropout and masking."""
    rng = np.random.default_rng(seed)
    tokens = random_padded_tokens(rng, batch, steps, vocab_size)
    for kind, (layer_class, parameters, features) in RECURRENT_KINDS.items():
        layers = make_fn(kind, units, recurrent_dropout=0.25)
        if not isinstance(layers, list) or not all(isinstance(layer, keras.layers.Layer) for layer in layers):
            fail(f"make_encoder({kind!r}, ...) should return a list of Keras layers, got {type(layers).__name__}")
        if len(layers) != 1 or not isinstance(layers[0], layer_class):
            fail(f"make_encoder({kind!r}, ...) should return [keras.layers.{layer_class.__name__}(...)], got {[type(l).__name__ for l in layers]}")
        layer = layers[0]
        if kind == "bilstm" and not isinstance(layer.forward_layer, keras.layers.LSTM):
            fail(f"'bilstm' should wrap an LSTM in Bidirectional, it wraps a {type(layer.forward_layer).__name__}")
        if kind == "bilstm" and layer.merge_mode != "concat":
            fail(f"keep Bidirectional's default merge_mode='concat' (both directions side by side), not {layer.merge_mode!r}")
        recurrent = layer.forward_layer if kind == "bilstm" else layer
        if recurrent.recurrent_dropout != 0.25:
            fail(f"make_encoder({kind!r}, units, recurrent_dropout=0.25) built a layer with recurrent_dropout={recurrent.recurrent_dropout}")
        model = keras.Sequential(
            [keras.Input((None,), dtype="int32"), keras.layers.Embedding(vocab_size, input_dim, mask_zero=True), *layers]
        )
        outputs = np.asarray(model(tokens))
        if outputs.ndim == 3:
            fail(f"{kind}: the output has a time axis {outputs.shape}; use return_sequences=False (the default) to keep one vector per tweet")
        check_shape(f"{kind} output for {units} units", outputs, (batch, features(units)))
        expected = parameters(input_dim, units)
        if layer.count_params() != expected:
            fail(f"{kind} with {units} units on inputs of size {input_dim} should have {expected} parameters, got {layer.count_params()}")
        _check_padding_ignored(kind, model, tokens)
    try:
        make_fn("transformer", units)
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001  any other exception is the wrong kind of answer
        fail(f"an unknown kind should raise ValueError naming the kinds, it raised {type(error).__name__}: {error}")
    else:
        fail("make_encoder('transformer', ...) should raise ValueError: it is not one of 'simple_rnn', 'lstm', 'bilstm'")
    passed(f"make_encoder builds SimpleRNN, LSTM and Bidirectional(LSTM) encoders of {units} units with the right outputs and parameters")


def _random_labels(rng, size, num_classes):
    # Unequal class shares, so that accuracy and macro recall differ.
    shares = rng.dirichlet(np.ones(num_classes))
    return rng.choice(num_classes, size=size, p=shares)


def _balanced_weights(labels, num_classes):
    refuse_reference_while_watched("the check's reference weights")
    counts = np.bincount(labels, minlength=num_classes)
    return {c: len(labels) / (num_classes * counts[c]) for c in range(num_classes)}


def check_class_weights(class_weights_fn, size=300, num_classes=3, seed=0):
    """``class_weights(labels, num_classes)`` against n / (num_classes * n_c)."""
    if not size >= num_classes >= 2:
        raise ValueError(f"size ({size}) should be at least num_classes ({num_classes}), and num_classes at least 2")
    rng = np.random.default_rng(seed)
    class_weights_fn = refusing_delegation(class_weights_fn, CLASS_WEIGHTS)
    labels = _random_labels(rng, size, num_classes)
    labels[rng.choice(size, num_classes, replace=False)] = np.arange(num_classes)  # every class occurs: no n_c is 0
    expected = _balanced_weights(labels, num_classes)
    weights = class_weights_fn(labels, num_classes)
    if not isinstance(weights, dict) or sorted(weights) != list(range(num_classes)):
        fail(f"class_weights should return a dict with one weight per class 0..{num_classes - 1}, got {weights!r}")
    actual = np.array([float(weights[c]) for c in range(num_classes)])
    reference = np.array([expected[c] for c in range(num_classes)])
    counts = np.bincount(labels, minlength=num_classes)
    if np.allclose(actual / actual.sum(), counts / counts.sum(), rtol=1e-6):
        fail("your weights grow with the class size; rare classes need the larger weights (n / (num_classes * n_c))")
    if not np.allclose(actual, reference, rtol=1e-6):
        if np.allclose(actual / actual.sum(), reference / reference.sum(), rtol=1e-6):
            fail("your weights have the right proportions but the wrong scale: use n / (num_classes * n_c), so the weighted total stays n")
        fail(f"for class counts {counts.tolist()} the weights should be {np.round(reference, 4).tolist()}, got {np.round(actual, 4).tolist()}")
    passed(f"class_weights matches n / (num_classes * n_c) on {size} labels of {num_classes} classes")


def check_macro_recall(macro_recall_fn, size=200, num_classes=3, seed=0):
    """``macro_recall(y_true, y_pred, num_classes)`` against the reference, on random labels and edge cases."""
    rng = np.random.default_rng(seed)
    macro_recall_fn = refusing_delegation(macro_recall_fn, MACRO_RECALL)
    y_true = _random_labels(rng, size, num_classes)
    y_true[:num_classes] = np.arange(num_classes)  # every class occurs
    y_pred = _random_labels(rng, size, num_classes)
    never_predicted = np.where(y_pred == num_classes - 1, 0, y_pred)
    missing_class = np.where(y_true == num_classes - 1, 0, y_true)
    cases = {
        "random labels": (y_true, y_pred),
        "a perfect prediction": (y_true, y_true),
        f"predictions that never use class {num_classes - 1}": (y_true, never_predicted),
        "everything predicted as class 0": (y_true, np.zeros_like(y_true)),
        f"labels where class {num_classes - 1} never occurs in y_true": (missing_class, y_pred),
        f"labels where class {num_classes - 1} occurs in neither y_true nor y_pred": (missing_class, never_predicted),
        "Python lists": (y_true.tolist(), y_pred.tolist()),
    }
    for description, (truth, prediction) in cases.items():
        truth, prediction, given = np.asarray(truth), np.asarray(prediction), (truth, prediction)
        expected = _macro_recall_over_true_classes(truth, prediction, num_classes)
        accepted = {expected, _macro_recall_as_sklearn(truth, prediction, num_classes)}
        actual = macro_recall_fn(*given, num_classes)
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            fail(f"macro_recall should return a number, got {type(actual).__name__}")
        if np.isnan(actual):
            fail(f"with {description} you returned NaN: a class absent from y_true has no recall, leave it out of the mean")
        if not any(np.isclose(actual, value, atol=1e-9) for value in accepted):
            hint = ""
            if np.isclose(actual, np.mean(truth == prediction)):
                hint = ": that is the accuracy (every tweet counts the same); average the recall of each class instead"
            elif np.isclose(actual, _macro_precision(truth, prediction, num_classes)):
                hint = ": that is the macro precision; divide by the number of tweets of each true class, not by the number predicted as it"
            elif "never occurs" in description or "neither" in description:
                hint = ": a class absent from y_true has no recall, so leave it out of the mean"
            fail(f"with {description} the macro recall should be {expected:.4f}, got {actual:.4f}{hint}")
    passed(f"macro_recall agrees with the reference on random labels of {num_classes} classes and {len(cases) - 1} edge cases")


def _macro_recall_over_true_classes(y_true, y_pred, num_classes):
    """The lab's convention: the mean recall of the classes that occur in y_true."""
    refuse_reference_while_watched("the check's reference macro recall")
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in range(num_classes) if np.any(y_true == c)]))


def _macro_recall_as_sklearn(y_true, y_pred, num_classes):
    """``sklearn.metrics.recall_score(average="macro")``'s convention, also accepted: it averages over the classes that occur
    in y_true *or* y_pred, and a class predicted but absent from y_true counts with recall 0."""
    refuse_reference_while_watched("the check's reference macro recall")
    present = [c for c in range(num_classes) if np.any(y_true == c) or np.any(y_pred == c)]
    return float(np.mean([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else 0.0 for c in present]))


def _macro_precision(y_true, y_pred, num_classes):
    return _macro_recall_over_true_classes(y_pred, y_true, num_classes)  # precision is recall with the roles swapped


def _reference_attention(weights, x, mask):
    """Attention pooling in numpy with ``weights`` = [kernel W, bias b, score vector v]: (attention weights, pooled output)."""
    refuse_reference_while_watched("the check's reference attention")
    kernel, bias, score_vector = (np.asarray(w, dtype=np.float64) for w in weights)
    scores = np.tanh(x @ kernel + bias) @ score_vector  # (batch, time)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=1, keepdims=True)
    attention = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    return attention, np.einsum("bt,btf->bf", attention, x)


def check_attention_pooling(layer_class, batch=4, steps=6, features=5, units=3, seed=0):
    """``MyAttentionPooling(units)`` against attention pooling computed in numpy with the same weights."""
    rng = np.random.default_rng(seed)
    expected_shapes = [("kernel", (features, units)), ("bias", (units,)), ("score_vector", (units,))]
    weights = [rng.normal(size=shape).astype("float32") for _, shape in expected_shapes]
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    masks = {"without a mask": None, "with a mask": random_padded_tokens(rng, batch, steps, 2) > 0}
    tokens = random_padded_tokens(rng, batch, steps, 30)
    expected = {description: _reference_attention(weights, x, m) for description, m in masks.items()}

    with refuse_delegation(ATTENTION_POOLING):
        layer = layer_class(units)
        layer.build((batch, steps, features))
        if len(layer.weights) != 3:
            fail(f"the layer should create 3 weights (kernel, bias, score_vector), it created {len(layer.weights)}")
        for weight, (name, shape) in zip(layer.weights, expected_shapes):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        layer.set_weights(weights)

        for description, m in masks.items():
            attention = np.asarray(layer.attention_weights(x, mask=m))
            check_shape(f"attention_weights {description}", attention, (batch, steps))
            if not np.allclose(attention.sum(axis=1), 1.0, atol=1e-5):
                fail(f"attention weights {description} should sum to 1 over the time steps (softmax over axis 1), they sum to {attention.sum(axis=1).round(3).tolist()}")
            if m is not None and np.any(~m) and np.max(attention[~m]) > 1e-6:
                fail(f"masked (padding) steps got weights up to {np.max(attention[~m]):.3g}; they should get 0: set their scores to a large negative number before the softmax")
            expected_attention, expected_pooled = expected[description]
            check_close(f"attention weights {description}", attention, expected_attention, atol=ATOL)
            check_close(f"pooled output {description} (sum over t of a_t h_t)", layer(x, mask=m), expected_pooled, atol=ATOL)

        model = keras.Sequential(
            [keras.Input((None,), dtype="int32"), keras.layers.Embedding(30, features, mask_zero=True), layer_class(units), keras.layers.Dense(2)]
        )
        check_shape("Embedding(mask_zero=True) -> your layer -> Dense output", model(tokens), (batch, 2))
        _check_padding_ignored("Embedding(mask_zero=True) -> your layer", model, tokens)
    passed(f"MyAttentionPooling({units}) matches the reference: weights zero on padding, sum to 1, same outputs")


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _layer_norm(x, gain, shift, epsilon):
    """Each row of ``x`` to mean 0 and variance 1 over its last axis (its own statistics), then scaled and shifted."""
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(x.var(axis=-1, keepdims=True) + epsilon) * gain + shift


# Wrong versions the reference can compute, each with what to tell the student when theirs matches it.
_LAYER_NORM_LSTM_MISTAKES = {
    "per gate": "you normalised each gate's block on its own; normalise each term, x_t W_xh and h_{t-1} W_hh, over all "
    "4 * units numbers at once (one mean and one variance per term), as the exercise's formula does",
    "cell carried normalised": "the cell state you carry to the next step is the normalised one; keep c_t as the LSTM computes "
    "it and normalise it only on the way to h_t = o * tanh(LN(c_t))",
    "states swapped": "the states are in the order [c, h]; Keras passes and expects [h, c] (the output h first), both in the "
    "states you read and in those you return",
}


def _reference_layer_norm_lstm(weights, epsilons, x, mistake=None):
    """The layer-normalised LSTM (Ba, Kiros & Hinton 2016) in numpy: (outputs (batch, time, units), final h, final c).

    ``weights`` = [kernel, recurrent_kernel, bias, input gain, recurrent gain, cell gain, cell shift] and ``epsilons``
    those of the input, recurrent and cell norms. ``mistake`` (a key of ``_LAYER_NORM_LSTM_MISTAKES``) computes that
    wrong version instead, so that a failure can say which mistake it looks like.
    """
    refuse_reference_while_watched("the check's reference cell")
    kernel, recurrent_kernel, bias, input_gain, recurrent_gain, cell_gain, cell_shift = (np.asarray(w, np.float64) for w in weights)
    input_epsilon, recurrent_epsilon, cell_epsilon = epsilons
    x = np.asarray(x, np.float64)
    units = recurrent_kernel.shape[0]
    h, c = np.zeros((x.shape[0], units)), np.zeros((x.shape[0], units))

    def normalised(term, gain, epsilon):
        if mistake == "per gate":
            blocks = zip(np.split(term, 4, axis=-1), np.split(gain, 4))
            return np.concatenate([_layer_norm(block, g, 0.0, epsilon) for block, g in blocks], axis=-1)
        return _layer_norm(term, gain, 0.0, epsilon)

    outputs = []
    for t in range(x.shape[1]):
        z = normalised(x[:, t] @ kernel, input_gain, input_epsilon) + normalised(h @ recurrent_kernel, recurrent_gain, recurrent_epsilon) + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        c_normalised = _layer_norm(c, cell_gain, cell_shift, cell_epsilon)
        if mistake == "cell carried normalised":
            c = c_normalised
        h = _sigmoid(o) * np.tanh(c_normalised)
        outputs.append(h)
        if mistake == "states swapped":
            h, c = c, h
    return np.stack(outputs, axis=1), h, c


def _layer_norm_lstm_weights(cell):
    """The cell's weights in the reference's order, read by name from the layout the exercise gives."""
    try:
        return [cell.kernel, cell.recurrent_kernel, cell.bias, cell.input_norm.gamma, cell.recurrent_norm.gamma,
                cell.cell_norm.gamma, cell.cell_norm.beta]
    except AttributeError as error:
        fail(f"the cell is missing a weight or a norm layer of the given build method ({error}); keep build as it is given")


def check_layer_norm_lstm_cell(cell_class, batch=4, steps=5, input_dim=3, units=4, seed=0):
    """``RNN(LayerNormLSTMCell(units))`` against the layer-normalised LSTM computed in numpy with the same weights."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, input_dim)).astype("float32")
    layout = [("kernel", (input_dim, 4 * units)), ("recurrent_kernel", (units, 4 * units)), ("bias", (4 * units,)),
              ("input_norm.gamma", (4 * units,)), ("recurrent_norm.gamma", (4 * units,)), ("cell_norm.gamma", (units,)),
              ("cell_norm.beta", (units,))]  # the order of _layer_norm_lstm_weights
    shapes = [shape for _, shape in layout]
    # Gains away from 1 and shifts away from 0, so that a norm layer left out (or computed by hand without them) shows.
    values = [rng.normal(scale=0.5, size=shape) for shape in shapes[:3]]
    values += [rng.uniform(0.5, 1.5, size=shape) for shape in shapes[3:6]] + [rng.normal(scale=0.3, size=shapes[6])]
    values = [v.astype("float32") for v in values]

    norms = ((3, "self.input_norm (on x_t W_xh)"), (4, "self.recurrent_norm (on h_{t-1} W_hh)"), (5, "self.cell_norm (on c_t)"))
    with refuse_delegation(LAYER_NORM_LSTM_CELL):
        cell = cell_class(units)
        if list(np.ravel(cell.state_size)) != [units, units]:
            fail(f"state_size should be [units, units] = [{units}, {units}] (h and c), got {cell.state_size!r}")
        layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
        layer.build((None, steps, input_dim))
        weights = _layer_norm_lstm_weights(cell)
        for weight, (name, shape) in zip(weights, layout):
            check_shape(name, tuple(weight.shape), shape)
        epsilons = (cell.input_norm.epsilon, cell.recurrent_norm.epsilon, cell.cell_norm.epsilon)

        def run(inputs, new_values):
            for weight, value in zip(weights, new_values):
                weight.assign(value)
            results = layer(inputs)
            if len(results) != 3:
                fail("the cell should return (h, [h, c]): the output and two states")
            return [np.asarray(r) for r in results]

        # The runs that diagnose a mismatch: each norm's gain (and the cell norm's shift) changed, and the first example alone.
        with_weight_changed = {}
        for index, norm in norms:
            changed = list(values)
            changed[index] = values[index] * 2.0
            with_weight_changed[f"the gain of {norm}"] = run(x, changed)[0]
        changed = list(values)
        changed[6] = values[6] + 1.0
        with_weight_changed["the shift (beta) of self.cell_norm"] = run(x, changed)[0]
        first_alone = run(x[:1], values)[0]
        actual_seq, actual_h, actual_c = run(x, values)
        # model.fit and predict trace call into a graph: numpy inside it works eagerly and fails there.
        try:
            in_graph = np.asarray(tf.function(lambda inputs: layer(inputs)[0])(tf.constant(x)))
        except Exception as error:  # noqa: BLE001  any failure to trace is the student's to fix
            fail(f"the cell works step by step but not inside a compiled model, as model.fit runs it ({type(error).__name__}: "
                 f"{str(error)[:150]}); compute with keras.ops on the tensors you get, not with numpy")

    expected_seq, expected_h, expected_c = _reference_layer_norm_lstm(values, epsilons, x)
    check_shape("outputs", actual_seq, expected_seq.shape)
    if not np.all(np.isfinite(actual_seq)):
        step = int(np.flatnonzero(~np.all(np.isfinite(actual_seq), axis=(0, 2)))[0])
        fail(f"the outputs contain NaN or inf, first at step {step}: with h_0 = 0 the recurrent term h_(t-1) W_hh is all zeros, "
             "and normalising it divides 0 by 0 unless epsilon is added to the variance inside the square root (the norm layers do)")
    if not np.allclose(in_graph, actual_seq, atol=ATOL):
        fail("the cell gives other outputs inside a compiled model (as model.fit runs it) than step by step: "
             "compute with keras.ops on the tensors you get, with no Python-side state")
    if not np.allclose(actual_seq, expected_seq, atol=ATOL):
        for what, outputs in with_weight_changed.items():
            if np.allclose(outputs, actual_seq, atol=ATOL):
                fail(f"the outputs do not depend on {what}: call that layer, it holds the learnt gain and shift")
        if not np.allclose(first_alone, actual_seq[:1], atol=ATOL):
            fail("the outputs for one example change with the other examples of the batch: normalise over the features "
                 "of each example (the last axis), never over the batch; per-example statistics are what make layer norm "
                 "work at any batch size, and the same in training and at inference")
        for mistake, message in _LAYER_NORM_LSTM_MISTAKES.items():
            if np.allclose(actual_seq, _reference_layer_norm_lstm(values, epsilons, x, mistake)[0], atol=ATOL):
                fail(message)
        fail(_step_mismatch(actual_seq, expected_seq, "the reference", "look at how c_{t-1} and h_{t-1} enter") + "; check the "
             "formula of each line of call (gate blocks in Keras's order i, f, c, o; c_t from c_{t-1}; h_t from LN(c_t))")
    if np.allclose(actual_h, expected_c, atol=ATOL) and np.allclose(actual_c, expected_h, atol=ATOL):
        fail("the states come back as [c, h]; Keras expects [h, c]")
    check_close("final hidden state h", actual_h, expected_h, atol=ATOL)
    check_close("final cell state c (not normalised)", actual_c, expected_c, atol=ATOL)
    passed(f"RNN(LayerNormLSTMCell({units})) matches the layer-normalised LSTM computed in numpy, each example with its own statistics")


def check_string_model(build_fn, vectorizer, model, texts):
    """``build_string_model(vectorizer, model)``: raw strings in, the model's probabilities out, and it saves and reloads."""
    texts = np.asarray(texts, dtype=object)
    expected = np.asarray(model.predict(vectorizer(texts), verbose=0))
    string_model = build_fn(vectorizer, model)
    if not isinstance(string_model, keras.Model):
        fail(f"build_string_model should return a keras Model, got {type(string_model).__name__}")
    try:
        actual = np.asarray(string_model.predict(texts, verbose=0))
    except Exception as error:  # noqa: BLE001  report what the model could not digest
        fail(f"the model could not predict a batch of raw strings ({type(error).__name__}: {str(error)[:200]}); its input should be keras.Input(shape=(), dtype='string')")
    check_close("probabilities of the string model vs model(vectorizer(texts))", actual, expected, atol=ATOL)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        string_model.save(path)
        try:
            reloaded = load_model(path)
        except Exception as error:  # noqa: BLE001
            fail(f"the saved model does not reload with course_utils.layers.load_model: {type(error).__name__}: {str(error)[:300]}")
        check_close("probabilities after saving and reloading", reloaded.predict(texts, verbose=0), expected, atol=ATOL)
    passed(f"the string model predicts {len(texts)} raw tweets like model(vectorizer(texts)) and reloads from a .keras file")


__all__ = [
    "CheckFailed",
    "check_attention_pooling",
    "check_class_weights",
    "check_classifier",
    "check_encoder",
    "check_layer_norm_lstm_cell",
    "check_macro_recall",
    "check_prediction",
    "check_string_model",
    "random_padded_tokens",
]
