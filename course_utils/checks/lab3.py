"""Self-checks for Lab 3, "Tweet sentiment with embeddings and (bi)directional LSTMs".

Every check is a probe and a comparison (see :mod:`course_utils.checks.probing`). The probe (``probe_<name>``) runs
the student's code on inputs made from its arguments by the public input functions below (random token ids with
random lengths, random labels, random weights: nothing depends on one seed) and returns what came out. The comparison
(``compare_<name>``) judges those observations: against properties that need no reference (probabilities sum to 1,
padding changes nothing, masked steps get no attention), and against the expectation the grader's private
references compute (``autograde/grading/references/lab3.py``: parameter counts, the reference weights, recall, attention and
layer-normalised LSTM, and what each known mistake gives), which students' self-checks read from stored data.
The student's code runs under ``refuse_delegation``: it may not call the function the exercise asks for (the
``Exercise`` constants below).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
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
from course_utils.checks._common import (
    compare_final_states,
    compare_given_weights,
    full_float32,
    outputs_with_given_weights,
    step_mismatch,
)
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refusing_delegation
from course_utils.checks.lab1 import LSTM_CELL
from course_utils.checks.probing import Check
from course_utils.layers import load_model

ATOL = 1e-5
# Layer norm divides by a standard deviation that can be as small as sqrt(epsilon) (about 0.03), which scales float32
# rounding up to some 30 times over a few steps: a right cell was 1.1e-5 off the float64 reference once in some 630 draws.
# The known mistakes are 1e-2 or more away on the visible call and 4e-3 or more on the larger hidden one; on the
# smallest (two units, two steps) one can come within it (i and f swapped: 9.2e-5 at one seed), and the others catch it.
LAYER_NORM_ATOL = 1e-4

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
# scikit-learn is not a course dependency, but Colab has it.
_SKLEARN_METRICS = "sklearn/metrics/_classification.py"
_SKLEARN_WEIGHTS = "sklearn/utils/class_weight.py"
# The checks' references live with the grader (not in the student bundle); named here in case a copy reaches a kernel.
_REFERENCES = "autograde/grading/references/lab3.py"
CLASS_WEIGHTS = Exercise(
    "class_weights",
    hint="count the examples of each class with np.bincount and compute n / (num_classes * n_c) yourself",
    forbidden=(
        Forbidden("the check's reference weights", _REFERENCES, "_balanced_weights"),
        Forbidden("sklearn.utils.class_weight.compute_class_weight", _SKLEARN_WEIGHTS, "compute_class_weight"),
        Forbidden("sklearn.utils.class_weight.compute_sample_weight", _SKLEARN_WEIGHTS, "compute_sample_weight"),
    ),
)
MACRO_RECALL = Exercise(
    "macro_recall",
    hint="compute the recall of each class that occurs in y_true, mean(y_pred[y_true == c] == c), and average them yourself",
    forbidden=(
        Forbidden("the check's reference macro recall", _REFERENCES, "_macro_recall_*"),
        Forbidden("course_utils.metrics.per_class_recall", "course_utils/metrics.py", "per_class_recall"),
        Forbidden("sklearn.metrics.recall_score", _SKLEARN_METRICS, "recall_score"),
        Forbidden(
            "sklearn.metrics.balanced_accuracy_score (the macro recall)", _SKLEARN_METRICS, "balanced_accuracy_score"
        ),
        Forbidden(
            "sklearn.metrics.precision_recall_fscore_support", _SKLEARN_METRICS, "precision_recall_fscore_support"
        ),
        Forbidden("sklearn.metrics.classification_report", _SKLEARN_METRICS, "classification_report"),
    ),
)
LAYER_NORM_LSTM_CELL = Exercise(
    "LayerNormLSTMCell",
    hint="compute the four gate blocks, the new c and the new h in call with keras.ops and the cell's own norm layers",
    # Lab 1's LSTM shortcuts (Keras's LSTM, the fused LSTMBlockCell, cuDNN) and the check's own numpy.
    forbidden=LSTM_CELL.forbidden
    + (
        Forbidden("the check's reference cell", _REFERENCES, "_reference_layer_norm_lstm"),
        Forbidden("the check's reference layer norm", _REFERENCES, "_layer_norm"),
        Forbidden("the check's reference sigmoid", _REFERENCES, "_sigmoid"),
        # TensorFlow Addons had a LayerNormLSTMCell (it normalises each gate alone); Colab may still have it.
        Forbidden("tensorflow_addons.rnn.LayerNormLSTMCell", "tensorflow_addons/rnn/layer_norm_lstm_cell.py"),
    ),
)
ATTENTION_POOLING = Exercise(
    "MyAttentionPooling",
    hint="create kernel, bias and score_vector with self.add_weight and compute the scores, the masked softmax and the weighted sum with keras.ops",
    forbidden=(Forbidden("the check's reference attention", _REFERENCES, "_reference_attention"),),
)

# Where the student's code raised while probed: the probe stops there and records the error under this key; the
# comparison fails with it when it gets to the first observation the probe could not make (so a mistake the
# observations before it show is still named first, as a check that ran in one go would).
RAISED = "raised"
EXTRA_PADDING = 3  # padding tokens appended to see that the outputs ignore them


def _error_text(error):
    return f"{type(error).__name__}: {error}"[:2000]


def _reached(observed, entry, key):
    """``entry[key]``; fails with the student's error when the probe stopped before it could observe ``key``."""
    if not isinstance(entry, dict) or key not in entry:
        fail(f"your code raised {observed.get(RAISED, f'an error before the check could observe {key}')}")
    return entry[key]


def _entry(observed, key, index):
    """The ``index``-th observation of the list ``observed[key]`` (one per case); fails like :func:`_reached` when the
    probe stopped before it."""
    entries = _reached(observed, observed, key)
    if index >= len(entries):
        _reached(observed, {}, f"{key}[{index}]")
    return entries[index]


def random_padded_tokens(rng: np.random.Generator, batch: int, steps: int, vocab_size: int) -> np.ndarray:
    """Token ids in 1..vocab_size-1 with random lengths (1..steps, one row full), padded with 0 at the end."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    tokens = rng.integers(1, vocab_size, size=(batch, steps))
    tokens[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32")


def _padded(tokens, extra=EXTRA_PADDING):
    return np.pad(tokens, [(0, 0), (0, extra)])


def _compare_padding(what, outputs, padded_outputs, extra=EXTRA_PADDING):
    """More zeros at the end must not change the output: the padding is masked."""
    if np.shape(padded_outputs) != np.shape(outputs):
        difference = np.inf
    else:
        difference = max_abs_diff(padded_outputs, outputs)
    if difference > ATOL:
        fail(
            f"{what}: appending {extra} padding tokens (id 0) changed the outputs by {difference:.3g}; "
            "the Embedding needs mask_zero=True so that the layers after it skip the padding"
        )


# --- Exercise 3.1: build_classifier ---------------------------------------------------------------------------

DROPOUT = 0.4  # the rate the dropout layers are checked with


def classifier_tokens(batch: int, steps: int, vocab_size: int, seed: int) -> np.ndarray:
    """The token ids the classifier check feeds: :func:`random_padded_tokens` drawn from ``seed``."""
    return random_padded_tokens(np.random.default_rng(seed), batch, steps, vocab_size)


def classifier_encoders(units: int, stacked: bool = False) -> dict[str, Callable[[], list[keras.layers.Layer]]]:
    """Fresh encoders by name, as the classifier check hands them to ``build_classifier``: lists of layers turning
    (batch, time, dim) into (batch, features). With ``stacked``, also one of two layers, each reading the one before
    (as the lab's BiLSTM with attention pooling is)."""
    encoders = {
        "average pooling": lambda: [keras.layers.GlobalAveragePooling1D()],
        f"LSTM({units})": lambda: [keras.layers.LSTM(units)],
    }
    if stacked:
        encoders[f"LSTM({units}) then average pooling"] = lambda: [
            keras.layers.LSTM(units, return_sequences=True),
            keras.layers.GlobalAveragePooling1D(),
        ]
    return encoders


def probe_classifier(
    build_fn: Callable[..., keras.Model],
    vocab_size: int = 50,
    embed_dim: int = 8,
    units: int = 4,
    num_classes: int = 3,
    batch: int = 4,
    steps: int = 7,
    seed: int = 0,
    stacked_encoder: bool = False,
) -> Observations:
    """``build_classifier(vocab_size, embed_dim, encoder, num_classes, dropout)``: shapes, masking, probabilities, parameters.

    Builds a model with each encoder of :func:`classifier_encoders` and no dropout, then one with ``dropout=0.4``,
    which should hold SpatialDropout1D(0.4) right after the Embedding (dropping whole channels) and Dropout(0.4)
    right before the output layer.

    Args:
        build_fn: the student's ``build_classifier``.
        vocab_size, embed_dim, num_classes: what it is called with.
        units: the size of the LSTM encoder (the other encoder is average pooling).
        batch, steps, seed: the token ids the models read (:func:`classifier_tokens`).
        stacked_encoder: hand it a two-layer encoder too (:func:`classifier_encoders`).

    Returns:
        observations: for each encoder the model's type, whether it holds the encoder's layers, its outputs for the
        tokens and for the tokens with padding appended, its parameter count; for the model with dropout, its
        layers, their rates, which entries the layer after the Embedding zeroes in training mode, and two predictions;
        last, each model's outputs with the weights of :func:`~course_utils.checks._common.outputs_with_given_weights`.
    """
    tokens = classifier_tokens(batch, steps, vocab_size, seed)
    observed = {"encoders": []}
    models = []
    with full_float32():  # TF32 on Ampere GPUs would change the outputs the padding is compared by
        try:
            for name, make in classifier_encoders(units, stacked_encoder).items():
                encoder = make()
                model = build_fn(vocab_size, embed_dim, encoder, num_classes=num_classes, dropout=0.0)
                entry = {"name": name, "type": type(model).__name__, "is_model": isinstance(model, keras.Model)}
                observed["encoders"].append(entry)
                models.append(model)
                if not entry["is_model"]:
                    return observed
                entry["holds_encoder"] = all(any(layer is mine for mine in model.layers) for layer in encoder)
                if not entry["holds_encoder"]:
                    return observed
                entry["probabilities"] = np.asarray(model(tokens))
                entry["padded_probabilities"] = np.asarray(model(_padded(tokens)))
                entry["parameters"] = int(model.count_params())
            observed["dropout"], with_dropout = _dropout_observations(
                build_fn, vocab_size, embed_dim, num_classes, tokens
            )
            # What the models compute, not only what they hold: observed last, so that any other mistake is named first.
            for entry, model in zip(observed["encoders"], models):
                entry["given_weights_probabilities"] = outputs_with_given_weights(model, tokens, seed)
            if "predictions" in observed["dropout"]:
                observed["dropout"]["given_weights_probabilities"] = outputs_with_given_weights(
                    with_dropout, tokens, seed
                )
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001  the student's code raised: the comparison says so where it gets to it
            observed[RAISED] = _error_text(error)
    return observed


def _dropout_observations(build_fn, vocab_size, embed_dim, num_classes, tokens, rate=DROPOUT):
    model = build_fn(
        vocab_size, embed_dim, [keras.layers.GlobalAveragePooling1D()], num_classes=num_classes, dropout=rate
    )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    seen = {"layers": [type(layer).__name__ for layer in layers]}
    after_embedding = layers[1] if len(layers) > 1 else None
    seen["spatial_after_embedding"] = isinstance(after_embedding, keras.layers.SpatialDropout1D)
    if not seen["spatial_after_embedding"]:
        return seen, model
    output = len(layers) - 1  # the Dense layer, before any parameter-free softmax layer after it
    while output > 1 and isinstance(layers[output], (keras.layers.Softmax, keras.layers.Activation)):
        output -= 1
    before_output = layers[output - 1]
    seen["dropout_before_output"] = type(before_output) is keras.layers.Dropout
    if not seen["dropout_before_output"]:
        return seen, model
    seen["rates"] = [[type(layer).__name__, float(layer.rate)] for layer in (after_embedding, before_output)]
    # Channels, not single entries: in training mode a dropped channel is zero at every step. 64 tweets, so that
    # there are at least 64 channels whatever embed_dim is (see _compare_dropout).
    ones = np.ones((64, 6, embed_dim), dtype="float32")
    seen["dropped"] = np.asarray(after_embedding(ones, training=True)) == 0
    seen["predictions"] = [np.asarray(model(tokens)), np.asarray(model(tokens))]  # inference: dropout is off
    return seen, model


def compare_classifier(
    observed: Observations,
    expected: Expectation,
    vocab_size: int,
    embed_dim: int,
    units: int,
    num_classes: int,
    batch: int,
    steps: int,
    seed: int,
    stacked_encoder: bool = False,
) -> str:
    names = []
    for index, (name, parameters) in enumerate(expected["parameters"]):
        entry = _entry(observed, "encoders", index)
        if not entry["is_model"]:
            fail(f"build_classifier should return a keras Model, got {entry['type']}")
        if not entry["holds_encoder"]:
            fail(
                "the model should contain the encoder layers it is given, in order, between the Embedding and the output layer"
            )
        probabilities = _reached(observed, entry, "probabilities")
        check_shape(f"output with the {name} encoder", probabilities, (batch, num_classes))
        if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5):
            fail(
                "the outputs should be class probabilities (non-negative, summing to 1): end with Dense(num_classes, activation='softmax')"
            )
        _compare_padding(f"with the {name} encoder", probabilities, _reached(observed, entry, "padded_probabilities"))
        if _reached(observed, entry, "parameters") != parameters:
            fail(
                f"with the {name} encoder the model should have {parameters} parameters (Embedding {vocab_size}*{embed_dim}, "
                f"the encoder, Dense to {num_classes} classes), got {entry['parameters']}"
            )
        names.append(name)
    _compare_dropout(_reached(observed, observed, "dropout"), observed)
    # What the models compute: last, so that a mistake the observations above show is named first.
    for index, (name, wanted) in enumerate(expected["probabilities"]):
        entry = _entry(observed, "encoders", index)
        compare_given_weights(
            f"with the {name} encoder your model's probabilities",
            _reached(observed, entry, "given_weights_probabilities"),
            wanted,
            "the model should be Embedding(mask_zero=True) -> SpatialDropout1D -> the encoder's layers in order -> "
            "Dropout -> Dense(num_classes, activation='softmax'), each layer applied to the one before's output, "
            "and nothing else",
        )
    compare_given_weights(
        f"with dropout={DROPOUT} at inference your model's probabilities",
        _reached(observed, observed["dropout"], "given_weights_probabilities"),
        expected["probabilities"][0][1],  # dropout is off at inference: the model without dropout's
        "dropout should only act in training; with it or without, the model should compute the same at inference",
    )
    return (
        f"build_classifier: shapes, probabilities, masking, parameter counts and what the model computes are right "
        f"for {', '.join(names)}"
    )


def _compare_dropout(seen, observed, rate=DROPOUT):
    names = seen["layers"]
    if not seen["spatial_after_embedding"]:
        fail(
            f"right after the Embedding put SpatialDropout1D({rate}), which drops whole embedding channels for a tweet "
            f"(the same channels at every step); your layers are {names}"
        )
    if not seen["dropout_before_output"]:
        fail(
            f"right before the output layer put Dropout({rate}) (plain dropout on the tweet's vector); your layers are {names}"
        )
    for layer, layer_rate in _reached(observed, seen, "rates"):
        if layer_rate != rate:
            fail(f"with dropout={rate} the {layer} layer should have rate {rate}, got {layer_rate}")
    dropped = _reached(observed, seen, "dropped")
    if not np.all(dropped == dropped[:, :1, :]):
        fail(
            "the layer after the Embedding drops single numbers; SpatialDropout1D drops a channel at every step of the tweet"
        )
    # At least 64 channels at rate 0.4: all kept, or all dropped, by chance has probability below 1e-14.
    if not 0 < dropped.mean() < 1:
        fail(
            f"in training mode the layer after the Embedding dropped {dropped.mean():.0%} of the channels; with rate {rate} it should drop about {rate:.0%}"
        )
    first, second = _reached(observed, seen, "predictions")
    check_close("predictions with dropout (inference: dropout is off)", first, second)


check_classifier = Check(probe_classifier, compare_classifier)


# --- Exercise 3.2: make_encoder -------------------------------------------------------------------------------

ENCODER_KINDS = ("simple_rnn", "lstm", "bilstm")
RECURRENT_DROPOUT = 0.25  # what the encoder check asks make_encoder for


def encoder_tokens(batch: int, steps: int, vocab_size: int, seed: int) -> np.ndarray:
    """The token ids the encoder check feeds: :func:`random_padded_tokens` drawn from ``seed``."""
    return random_padded_tokens(np.random.default_rng(seed), batch, steps, vocab_size)


def _class_names(obj):
    """The names of ``obj``'s class and its bases (what ``isinstance`` would accept)."""
    return [cls.__name__ for cls in type(obj).__mro__]


def probe_encoder(
    make_fn: Callable[..., list[keras.layers.Layer]],
    input_dim: int = 6,
    units: int = 5,
    vocab_size: int = 40,
    batch: int = 3,
    steps: int = 6,
    seed: int = 0,
) -> Observations:
    """``make_encoder(kind, units, recurrent_dropout)``: the right layer, output size, parameters, dropout and masking.

    Args:
        make_fn: the student's ``make_encoder``.
        input_dim: the size of the embeddings the encoder reads (an ``Embedding(vocab_size, input_dim, mask_zero=True)``
            before it).
        units: what it is called with, for each of 'simple_rnn', 'lstm' and 'bilstm' (with ``recurrent_dropout=0.25``).
        vocab_size, batch, steps, seed: the token ids the encoders read (:func:`encoder_tokens`).

    Returns:
        observations: for each kind, the layers returned (their classes, what a Bidirectional wraps and how it
        merges, the recurrent dropout), the outputs for the tokens and for the tokens with padding appended, and the
        parameter count; what ``make_encoder('transformer', units)`` did; last, for each kind, the outputs with the
        weights of :func:`~course_utils.checks._common.outputs_with_given_weights` (the Embedding's included).
    """
    tokens = encoder_tokens(batch, steps, vocab_size, seed)
    observed = {"kinds": []}
    models = []
    with full_float32():  # TF32 on Ampere GPUs would change the outputs the padding is compared by
        try:
            for kind in ENCODER_KINDS:
                layers = make_fn(kind, units, recurrent_dropout=RECURRENT_DROPOUT)
                entry = {
                    "kind": kind,
                    "returned": type(layers).__name__,
                    "is_layer_list": isinstance(layers, list)
                    and all(isinstance(layer, keras.layers.Layer) for layer in layers),
                }
                observed["kinds"].append(entry)
                if not entry["is_layer_list"]:
                    return observed
                entry["layers"] = [type(layer).__name__ for layer in layers]
                if len(layers) != 1:
                    return observed
                layer = layers[0]
                entry["classes"] = _class_names(layer)
                forward = getattr(layer, "forward_layer", None)
                entry["wrapped"] = None if forward is None else _class_names(forward)
                entry["merge_mode"] = getattr(layer, "merge_mode", None)
                recurrent = layer if forward is None else forward
                entry["recurrent_dropout"] = getattr(recurrent, "recurrent_dropout", None)
                model = keras.Sequential(
                    [
                        keras.Input((None,), dtype="int32"),
                        keras.layers.Embedding(vocab_size, input_dim, mask_zero=True),
                        *layers,
                    ]
                )
                models.append(model)
                entry["outputs"] = np.asarray(model(tokens))
                entry["parameters"] = int(layer.count_params())
                entry["padded_outputs"] = np.asarray(model(_padded(tokens)))
            try:
                make_fn("transformer", units)
            except ValueError:
                observed["unknown_kind"] = {"raised": "ValueError", "value_error": True}
            except Exception as error:  # noqa: BLE001  any other exception is the wrong kind of answer
                observed["unknown_kind"] = {"raised": _error_text(error), "value_error": False}
            else:
                observed["unknown_kind"] = {"raised": None, "value_error": False}
            # What the encoders compute, not only what they are: observed last, so that any other mistake is named first.
            for entry, model in zip(observed["kinds"], models):
                entry["given_weights_outputs"] = outputs_with_given_weights(model, tokens, seed)
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001  the student's code raised: the comparison says so where it gets to it
            observed[RAISED] = _error_text(error)
    return observed


def compare_encoder(
    observed: Observations,
    expected: Expectation,
    input_dim: int,
    units: int,
    vocab_size: int,
    batch: int,
    steps: int,
    seed: int,
) -> str:
    for index, wanted in enumerate(expected["kinds"]):
        kind, layer_class = wanted["kind"], wanted["layer"]
        entry = _entry(observed, "kinds", index)
        if not entry["is_layer_list"]:
            fail(f"make_encoder({kind!r}, ...) should return a list of Keras layers, got {entry['returned']}")
        if len(entry["layers"]) != 1 or layer_class not in _reached(observed, entry, "classes"):
            fail(f"make_encoder({kind!r}, ...) should return [keras.layers.{layer_class}(...)], got {entry['layers']}")
        if wanted["wraps"] is not None and wanted["wraps"] not in (entry["wrapped"] or []):
            got = entry["wrapped"][0] if entry["wrapped"] else None
            fail(f"{kind!r} should wrap an {wanted['wraps']} in Bidirectional, it wraps a {got}")
        if wanted["merge_mode"] is not None and entry["merge_mode"] != wanted["merge_mode"]:
            fail(
                f"keep Bidirectional's default merge_mode={wanted['merge_mode']!r} (both directions side by side), not {entry['merge_mode']!r}"
            )
        if entry["recurrent_dropout"] != RECURRENT_DROPOUT:
            fail(
                f"make_encoder({kind!r}, units, recurrent_dropout={RECURRENT_DROPOUT}) built a layer with recurrent_dropout={entry['recurrent_dropout']}"
            )
        outputs = _reached(observed, entry, "outputs")
        if outputs.ndim == 3:
            fail(
                f"{kind}: the output has a time axis {outputs.shape}; use return_sequences=False (the default) to keep one vector per tweet"
            )
        check_shape(f"{kind} output for {units} units", outputs, (batch, wanted["features"]))
        if _reached(observed, entry, "parameters") != wanted["parameters"]:
            fail(
                f"{kind} with {units} units on inputs of size {input_dim} should have {wanted['parameters']} parameters, got {entry['parameters']}"
            )
        _compare_padding(kind, outputs, _reached(observed, entry, "padded_outputs"))
    unknown = _reached(observed, observed, "unknown_kind")
    if not unknown["value_error"]:
        if unknown["raised"] is not None:
            fail(f"an unknown kind should raise ValueError naming the kinds, it raised {unknown['raised']}")
        fail(
            "make_encoder('transformer', ...) should raise ValueError: it is not one of 'simple_rnn', 'lstm', 'bilstm'"
        )
    # What the encoders compute: last, so that a mistake the observations above show is named first.
    for index, wanted in enumerate(expected["kinds"]):
        entry = _entry(observed, "kinds", index)
        layer = wanted["layer"] if wanted["wraps"] is None else f"{wanted['layer']}({wanted['wraps']})"
        compare_given_weights(
            f"{wanted['kind']}: the outputs of Embedding(mask_zero=True) -> your encoder",
            _reached(observed, entry, "given_weights_outputs"),
            wanted["outputs"],
            f"keep {layer}'s other settings at Keras's defaults (activations, direction, biases); "
            "only units and recurrent_dropout are make_encoder's to set",
        )
    return f"make_encoder builds SimpleRNN, LSTM and Bidirectional(LSTM) encoders of {units} units with the right outputs and parameters"


check_encoder = Check(probe_encoder, compare_encoder)


# --- Exercise 4.1: class_weights ------------------------------------------------------------------------------


def random_labels(rng: np.random.Generator, size: int, num_classes: int) -> np.ndarray:
    """Labels 0..num_classes-1 with unequal class shares (drawn from a Dirichlet), so that accuracy and macro recall differ."""
    shares = rng.dirichlet(np.ones(num_classes))
    return rng.choice(num_classes, size=size, p=shares)


def class_weights_labels(size: int, num_classes: int, seed: int) -> np.ndarray:
    """The labels the class-weights check feeds: :func:`random_labels` with every class occurring (no n_c is 0)."""
    if not size >= num_classes >= 2:
        raise ValueError(f"size ({size}) should be at least num_classes ({num_classes}), and num_classes at least 2")
    rng = np.random.default_rng(seed)
    labels = random_labels(rng, size, num_classes)
    labels[rng.choice(size, num_classes, replace=False)] = np.arange(num_classes)
    return labels


def probe_class_weights(
    class_weights_fn: Callable[[np.ndarray, int], dict[int, float]],
    size: int = 300,
    num_classes: int = 3,
    seed: int = 0,
) -> Observations:
    """``class_weights(labels, num_classes)`` against n / (num_classes * n_c).

    Args:
        class_weights_fn: the student's ``class_weights``.
        size, num_classes, seed: the labels it is given (:func:`class_weights_labels`).

    Returns:
        observations: the weight of each class 0..num_classes-1.
    """
    labels = class_weights_labels(size, num_classes, seed)
    weights = refusing_delegation(class_weights_fn, CLASS_WEIGHTS)(labels, num_classes)
    if not isinstance(weights, dict) or sorted(weights) != list(range(num_classes)):
        fail(
            f"class_weights should return a dict with one weight per class 0..{num_classes - 1}, got {weights!r}"[:2000]
        )
    return {"weights": [float(weights[c]) for c in range(num_classes)]}


def compare_class_weights(observed: Observations, expected: Expectation, size: int, num_classes: int, seed: int) -> str:
    actual = np.asarray(observed["weights"], dtype=np.float64)
    reference = np.asarray(expected["weights"], dtype=np.float64)
    counts = np.asarray(expected["counts"])
    check_shape("the class weights", actual, reference.shape)
    # Right first: with classes of equal size the right weights (all 1) are proportional to the class sizes too.
    if not np.allclose(actual, reference, rtol=1e-6):
        if np.allclose(actual / actual.sum(), counts / counts.sum(), rtol=1e-6):
            fail(
                "your weights grow with the class size; rare classes need the larger weights (n / (num_classes * n_c))"
            )
        if np.allclose(actual / actual.sum(), reference / reference.sum(), rtol=1e-6):
            fail(
                "your weights have the right proportions but the wrong scale: use n / (num_classes * n_c), so the weighted total stays n"
            )
        fail(
            f"for class counts {counts.tolist()} the weights should be {np.round(reference, 4).tolist()}, got {np.round(actual, 4).tolist()}"
        )
    return f"class_weights matches n / (num_classes * n_c) on {size} labels of {num_classes} classes"


check_class_weights = Check(probe_class_weights, compare_class_weights)


# --- Exercise 5: macro_recall ---------------------------------------------------------------------------------


def macro_recall_cases(
    size: int, num_classes: int, seed: int
) -> dict[str, tuple[np.ndarray | list[int], np.ndarray | list[int]]]:
    """The (y_true, y_pred) pairs the macro-recall check feeds, by description: random labels and edge cases.

    The last case gives the random labels as Python lists.
    """
    rng = np.random.default_rng(seed)
    y_true = random_labels(rng, size, num_classes)
    y_true[:num_classes] = np.arange(num_classes)  # every class occurs
    y_pred = random_labels(rng, size, num_classes)
    never_predicted = np.where(y_pred == num_classes - 1, 0, y_pred)
    missing_class = np.where(y_true == num_classes - 1, 0, y_true)
    return {
        "random labels": (y_true, y_pred),
        "a perfect prediction": (y_true, y_true),
        f"predictions that never use class {num_classes - 1}": (y_true, never_predicted),
        "everything predicted as class 0": (y_true, np.zeros_like(y_true)),
        f"labels where class {num_classes - 1} never occurs in y_true": (missing_class, y_pred),
        f"labels where class {num_classes - 1} occurs in neither y_true nor y_pred": (missing_class, never_predicted),
        "Python lists": (y_true.tolist(), y_pred.tolist()),
    }


def probe_macro_recall(
    macro_recall_fn: Callable[[np.ndarray | list[int], np.ndarray | list[int], int], float],
    size: int = 200,
    num_classes: int = 3,
    seed: int = 0,
) -> Observations:
    """``macro_recall(y_true, y_pred, num_classes)`` against the reference, on random labels and edge cases.

    Args:
        macro_recall_fn: the student's ``macro_recall``.
        size, num_classes, seed: the labels it is given (:func:`macro_recall_cases`).

    Returns:
        observations: for each case, what it returned as a float (or the type it returned, when that is not a number).
    """
    macro_recall_fn = refusing_delegation(macro_recall_fn, MACRO_RECALL)
    observed = {"cases": []}
    try:
        for description, (truth, prediction) in macro_recall_cases(size, num_classes, seed).items():
            actual = macro_recall_fn(
                _copy(truth), _copy(prediction), num_classes
            )  # copies: the next cases share arrays
            entry = {"case": description}
            observed["cases"].append(entry)
            try:
                entry["value"] = float(actual)
            except (TypeError, ValueError):
                entry["value"], entry["type"] = None, type(actual).__name__
                return observed
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001  the student's code raised: the comparison says so where it gets to it
        observed[RAISED] = _error_text(error)
    return observed


def _copy(labels):
    return list(labels) if isinstance(labels, list) else np.array(labels)


def compare_macro_recall(observed: Observations, expected: Expectation, size: int, num_classes: int, seed: int) -> str:
    cases = expected["cases"]
    for index, case in enumerate(cases):
        description = case["case"]
        entry = _entry(observed, "cases", index)
        actual = entry["value"]
        if actual is None:
            fail(f"macro_recall should return a number, got {entry['type']}")
        if np.isnan(actual):
            fail(
                f"with {description} you returned NaN: a class absent from y_true has no recall, leave it out of the mean"
            )
        if not any(np.isclose(actual, case[accepted], atol=1e-9) for accepted in ("expected", "as_sklearn")):
            hint = ""
            if np.isclose(actual, case["accuracy"]):
                hint = ": that is the accuracy (every tweet counts the same); average the recall of each class instead"
            elif np.isclose(actual, case["macro_precision"]):
                hint = ": that is the macro precision; divide by the number of tweets of each true class, not by the number predicted as it"
            elif "never occurs" in description or "neither" in description:
                hint = ": a class absent from y_true has no recall, so leave it out of the mean"
            fail(f"with {description} the macro recall should be {case['expected']:.4f}, got {actual:.4f}{hint}")
    return f"macro_recall agrees with the reference on random labels of {num_classes} classes and {len(cases) - 1} edge cases"


check_macro_recall = Check(probe_macro_recall, compare_macro_recall)


# --- Exercise 6: MyAttentionPooling ---------------------------------------------------------------------------

ATTENTION_VOCAB = 30  # the vocabulary of the Embedding -> MyAttentionPooling -> Dense model the check builds


def attention_layout(features: int, units: int) -> list[tuple[str, tuple[int, ...]]]:
    """The weights ``MyAttentionPooling(units)`` creates on inputs of ``features`` features: [(name, shape)], in order."""
    return [("kernel", (features, units)), ("bias", (units,)), ("score_vector", (units,))]


def attention_pooling_inputs(
    batch: int, steps: int, features: int, units: int, seed: int, padding_only_row: bool = False
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """What the attention check feeds, from ``seed``: (weights in :func:`attention_layout`'s order, inputs x of shape
    (batch, steps, features), a mask (batch, steps) with one row full, token ids for a model). With
    ``padding_only_row`` the last row of the mask and of the token ids is all padding (an empty tweet)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=shape).astype("float32") for _, shape in attention_layout(features, units)]
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    mask = random_padded_tokens(rng, batch, steps, 2) > 0
    tokens = random_padded_tokens(rng, batch, steps, ATTENTION_VOCAB)
    if padding_only_row:
        if batch < 2:
            raise ValueError("padding_only_row needs batch >= 2: the first row is kept full")
        mask[-1], tokens[-1] = False, 0
    return weights, x, mask, tokens


def attention_masks(mask: np.ndarray) -> list[tuple[str, np.ndarray | None]]:
    """The mask cases of the attention check, in order: (description, the mask its layer is given)."""
    return [("without a mask", None), ("with a mask", mask)]


def probe_attention_pooling(
    layer_class: type[keras.layers.Layer],
    batch: int = 4,
    steps: int = 6,
    features: int = 5,
    units: int = 3,
    seed: int = 0,
    padding_only_row: bool = False,
) -> Observations:
    """``MyAttentionPooling(units)`` against attention pooling computed in numpy with the same weights.

    Args:
        layer_class: the student's ``MyAttentionPooling``.
        batch, steps, features, units, seed: the weights and inputs it is given (:func:`attention_pooling_inputs`).
        padding_only_row: whether the last row is all padding, a tweet with no word (its outputs must be finite).

    Returns:
        observations: with and without a mask, ``attention_weights`` and the pooled output; the outputs of
        ``Embedding(mask_zero=True) -> layer_class(units) -> Dense(2)`` for token ids, and with padding appended.
    """
    weights, x, mask, tokens = attention_pooling_inputs(batch, steps, features, units, seed, padding_only_row)
    layout = attention_layout(features, units)
    observed = {"cases": []}
    with full_float32(), refuse_delegation(ATTENTION_POOLING):
        layer = layer_class(units)
        layer.build((batch, steps, features))
        if len(layer.weights) != 3:
            fail(f"the layer should create 3 weights (kernel, bias, score_vector), it created {len(layer.weights)}")
        for weight, (name, shape) in zip(layer.weights, layout):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        layer.set_weights(weights)
        try:
            for description, m in attention_masks(mask):
                entry = {"case": description}
                observed["cases"].append(entry)
                entry["attention"] = np.asarray(layer.attention_weights(x, mask=m))
                entry["pooled"] = np.asarray(layer(x, mask=m))
            model = keras.Sequential(
                [
                    keras.Input((None,), dtype="int32"),
                    keras.layers.Embedding(ATTENTION_VOCAB, features, mask_zero=True),
                    layer_class(units),
                    keras.layers.Dense(2),
                ]
            )
            observed["model_outputs"] = np.asarray(model(tokens))
            observed["padded_model_outputs"] = np.asarray(model(_padded(tokens)))
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001  the student's code raised: the comparison says so where it gets to it
            observed[RAISED] = _error_text(error)
    return observed


def compare_attention_pooling(
    observed: Observations,
    expected: Expectation,
    batch: int,
    steps: int,
    features: int,
    units: int,
    seed: int,
    padding_only_row: bool = False,
) -> str:
    mask = np.asarray(expected["mask"], dtype=bool)
    for index, case in enumerate(expected["cases"]):
        description = case["case"]
        entry = _entry(observed, "cases", index)
        attention = _reached(observed, entry, "attention")
        pooled = _reached(observed, entry, "pooled")
        check_shape(f"attention_weights {description}", attention, (batch, steps))
        # Rows with a real step are compared; a row of padding alone (an empty tweet) has no right weights, only
        # wrong ones: NaN, which -inf scores give (exp(-inf) / sum of zeros).
        rows = np.any(mask, axis=1) if case["masked"] else np.ones(batch, dtype=bool)
        if not np.all(rows):
            empty = ~rows
            if not (np.all(np.isfinite(attention[empty])) and np.all(np.isfinite(np.asarray(pooled)[empty]))):
                fail(
                    f"for a tweet that is all padding, attention weights {description} are {attention[empty].round(3).tolist()}: "
                    "with every score at -inf the softmax divides 0 by 0; a large negative finite number keeps the weights finite"
                )
        if not np.allclose(attention[rows].sum(axis=1), 1.0, atol=1e-5):
            fail(
                f"attention weights {description} should sum to 1 over the time steps (softmax over axis 1), they sum to {attention[rows].sum(axis=1).round(3).tolist()}"
            )
        padding = ~mask & rows[:, None]
        if case["masked"] and np.any(padding) and np.max(attention[padding]) > 1e-6:
            fail(
                f"masked (padding) steps got weights up to {np.max(attention[padding]):.3g}; they should get 0: set their scores to a large negative number before the softmax"
            )
        check_close(f"attention weights {description}", attention[rows], case["attention"][rows], atol=ATOL)
        check_close(
            f"pooled output {description} (sum over t of a_t h_t)",
            np.asarray(pooled)[rows],
            case["pooled"][rows],
            atol=ATOL,
        )
    outputs = _reached(observed, observed, "model_outputs")
    check_shape("Embedding(mask_zero=True) -> your layer -> Dense output", outputs, (batch, 2))
    if not np.all(np.isfinite(outputs)):
        fail(
            f"Embedding(mask_zero=True) -> your layer -> Dense gave {outputs.round(3).tolist()}: every output should be finite"
        )
    _compare_padding(
        "Embedding(mask_zero=True) -> your layer", outputs, _reached(observed, observed, "padded_model_outputs")
    )
    empty = ", a tweet of padding alone included" if padding_only_row else ""
    return f"MyAttentionPooling({units}) matches the reference: weights zero on padding, sum to 1, same outputs{empty}"


check_attention_pooling = Check(probe_attention_pooling, compare_attention_pooling)


# --- Exercise 4.2: LayerNormLSTMCell --------------------------------------------------------------------------


def layer_norm_lstm_layout(input_dim: int, units: int) -> list[tuple[str, tuple[int, ...]]]:
    """The cell's weights, read by name from the layout the exercise's ``build`` gives: [(name, shape)], in order."""
    return [
        ("kernel", (input_dim, 4 * units)),
        ("recurrent_kernel", (units, 4 * units)),
        ("bias", (4 * units,)),
        ("input_norm.gamma", (4 * units,)),
        ("recurrent_norm.gamma", (4 * units,)),
        ("cell_norm.gamma", (units,)),
        ("cell_norm.beta", (units,)),
    ]


def layer_norm_lstm_inputs(
    batch: int, steps: int, input_dim: int, units: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """What the layer-norm LSTM check feeds, from ``seed``: (inputs x of shape (batch, steps, input_dim), values of the
    cell's weights in :func:`layer_norm_lstm_layout`'s order).

    Gains are drawn away from 1 and shifts away from 0, so that a norm layer left out (or computed by hand without them) shows.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, input_dim)).astype("float32")
    shapes = [shape for _, shape in layer_norm_lstm_layout(input_dim, units)]
    values = [rng.normal(scale=0.5, size=shape) for shape in shapes[:3]]
    values += [rng.uniform(0.5, 1.5, size=shape) for shape in shapes[3:6]] + [rng.normal(scale=0.3, size=shapes[6])]
    return x, [v.astype("float32") for v in values]


# Wrong versions the references compute too (autograde/grading/references/lab3.py), each with what to tell the student when
# theirs matches it.
LAYER_NORM_LSTM_MISTAKES = {
    "per gate": "you normalised each gate's block on its own; normalise each term, x_t W_xh and h_{t-1} W_hh, over all "
    "4 * units numbers at once (one mean and one variance per term), as the exercise's formula does",
    "cell carried normalised": "the cell state you carry to the next step is the normalised one; keep c_t as the LSTM computes "
    "it and normalise it only on the way to h_t = o * tanh(LN(c_t))",
    "states swapped": "the states are in the order [c, h]; Keras passes and expects [h, c] (the output h first), both in the "
    "states you read and in those you return",
}
# The runs that diagnose a mismatch: each norm's gain doubled, and the cell norm's shift moved by 1 (index in the layout).
_LAYER_NORM_LSTM_CHANGES = (
    ("the gain of self.input_norm (on x_t W_xh)", 3, lambda v: v * 2.0),
    ("the gain of self.recurrent_norm (on h_{t-1} W_hh)", 4, lambda v: v * 2.0),
    ("the gain of self.cell_norm (on c_t)", 5, lambda v: v * 2.0),
    ("the shift (beta) of self.cell_norm", 6, lambda v: v + 1.0),
)


def _layer_norm_lstm_weights(cell):
    """The cell's weights in :func:`layer_norm_lstm_layout`'s order."""
    try:
        return [
            cell.kernel,
            cell.recurrent_kernel,
            cell.bias,
            cell.input_norm.gamma,
            cell.recurrent_norm.gamma,
            cell.cell_norm.gamma,
            cell.cell_norm.beta,
        ]
    except AttributeError as error:
        fail(
            f"the cell is missing a weight or a norm layer of the given build method ({error}); keep build as it is given"
        )


def probe_layer_norm_lstm_cell(
    cell_class: type[keras.layers.Layer],
    batch: int = 4,
    steps: int = 5,
    input_dim: int = 3,
    units: int = 4,
    seed: int = 0,
) -> Observations:
    """``RNN(LayerNormLSTMCell(units))`` against the layer-normalised LSTM computed in numpy with the same weights.

    Args:
        cell_class: the student's ``LayerNormLSTMCell``.
        batch, steps, input_dim, units, seed: the inputs and weight values it is given (:func:`layer_norm_lstm_inputs`).

    Returns:
        observations: the norm layers' epsilons; the outputs and final states h and c; the outputs with each norm's
        gain (and the cell norm's shift) changed, for the first example alone, and inside a ``tf.function``.
    """
    x, values = layer_norm_lstm_inputs(batch, steps, input_dim, units, seed)
    layout = layer_norm_lstm_layout(input_dim, units)
    with full_float32(), refuse_delegation(LAYER_NORM_LSTM_CELL):
        cell = cell_class(units)
        if list(np.ravel(cell.state_size)) != [units, units]:
            fail(f"state_size should be [units, units] = [{units}, {units}] (h and c), got {cell.state_size!r}")
        layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
        layer.build((None, steps, input_dim))
        weights = _layer_norm_lstm_weights(cell)
        for weight, (name, shape) in zip(weights, layout):
            check_shape(name, tuple(weight.shape), shape)
        epsilons = [float(cell.input_norm.epsilon), float(cell.recurrent_norm.epsilon), float(cell.cell_norm.epsilon)]

        def run(inputs, new_values):
            for weight, value in zip(weights, new_values):
                weight.assign(value)
            results = layer(inputs)
            if len(results) != 3:
                fail("the cell should return (h, [h, c]): the output and two states")
            return [np.asarray(r) for r in results]

        with_weight_changed = []
        for what, index, change in _LAYER_NORM_LSTM_CHANGES:
            changed = list(values)
            changed[index] = change(values[index])
            with_weight_changed.append([what, run(x, changed)[0]])
        first_alone = run(x[:1], values)[0]
        outputs, h, c = run(x, values)
        # model.fit and predict trace call into a graph: numpy inside it works eagerly and fails there.
        try:
            in_graph = np.asarray(tf.function(lambda inputs: layer(inputs)[0])(tf.constant(x)))
        except Exception as error:  # noqa: BLE001  any failure to trace is the student's to fix
            fail(
                f"the cell works step by step but not inside a compiled model, as model.fit runs it ({type(error).__name__}: "
                f"{str(error)[:150]}); compute with keras.ops on the tensors you get, not with numpy"
            )
    return {
        "epsilons": epsilons,
        "outputs": outputs,
        "h": h,
        "c": c,
        "with_weight_changed": with_weight_changed,
        "first_alone": first_alone,
        "in_graph": in_graph,
    }


def compare_layer_norm_lstm_cell(
    observed: Observations, expected: Expectation, batch: int, steps: int, input_dim: int, units: int, seed: int
) -> str:
    actual_seq, actual_h, actual_c = observed["outputs"], observed["h"], observed["c"]
    expected_seq, expected_h, expected_c = expected["outputs"], expected["h"], expected["c"]
    check_shape("outputs", actual_seq, np.shape(expected_seq))
    if not np.all(np.isfinite(actual_seq)):
        step = int(np.flatnonzero(~np.all(np.isfinite(actual_seq), axis=(0, 2)))[0])
        fail(
            f"the outputs contain NaN or inf, first at step {step}: with h_0 = 0 the recurrent term h_(t-1) W_hh is all zeros, "
            "and normalising it divides 0 by 0 unless epsilon is added to the variance inside the square root (the norm layers do)"
        )
    if not np.allclose(observed["in_graph"], actual_seq, atol=LAYER_NORM_ATOL):
        fail(
            "the cell gives other outputs inside a compiled model (as model.fit runs it) than step by step: "
            "compute with keras.ops on the tensors you get, with no Python-side state"
        )
    if not np.allclose(actual_seq, expected_seq, atol=LAYER_NORM_ATOL):
        if not np.allclose(observed["epsilons"], expected["epsilons"], rtol=1e-6, atol=0):
            fail(
                f"the norm layers' epsilons are {observed['epsilons']}, the given build makes them {list(expected['epsilons'])}; "
                "keep build as it is given (the check compares with a reference that uses those)"
            )
        for what, outputs in observed["with_weight_changed"]:
            if np.allclose(outputs, actual_seq, atol=LAYER_NORM_ATOL):
                fail(f"the outputs do not depend on {what}: call that layer, it holds the learnt gain and shift")
        if not np.allclose(observed["first_alone"], actual_seq[:1], atol=LAYER_NORM_ATOL):
            fail(
                "the outputs for one example change with the other examples of the batch: normalise over the features "
                "of each example (the last axis), never over the batch; per-example statistics are what make layer norm "
                "work at any batch size, and the same in training and at inference"
            )
        for mistake, message in LAYER_NORM_LSTM_MISTAKES.items():
            if np.allclose(actual_seq, expected["mistakes"][mistake], atol=LAYER_NORM_ATOL):
                fail(message)
        fail(
            step_mismatch(
                LAYER_NORM_ATOL, actual_seq, expected_seq, "the reference", "look at how c_{t-1} and h_{t-1} enter"
            )
            + "; check the "
            "formula of each line of call (gate blocks in Keras's order i, f, c, o; c_t from c_{t-1}; h_t from LN(c_t))"
        )
    compare_final_states(
        LAYER_NORM_ATOL, actual_h, actual_c, expected_h, expected_c, "final cell state c (not normalised)"
    )
    return f"RNN(LayerNormLSTMCell({units})) matches the layer-normalised LSTM computed in numpy, each example with its own statistics"


check_layer_norm_lstm_cell = Check(probe_layer_norm_lstm_cell, compare_layer_norm_lstm_cell)


# --- Exercise 7: build_string_model ---------------------------------------------------------------------------


def probe_string_model(
    build_fn: Callable[[keras.layers.TextVectorization, keras.Model], keras.Model],
    vectorizer: keras.layers.TextVectorization,
    model: keras.Model,
    texts: Sequence[str],
) -> Observations:
    """``build_string_model(vectorizer, model)``: raw strings in, the model's probabilities out, and it saves and reloads.

    Compares the student's string model with the student's own ``model(vectorizer(texts))``: no reference.

    Args:
        build_fn: the student's ``build_string_model``.
        vectorizer: the notebook's ``TextVectorization`` layer.
        model: a trained model of the notebook (token ids in, class probabilities out).
        texts: raw tweets (a list of strings).

    Returns:
        observations: the probabilities of ``model(vectorizer(texts))``, of the string model on ``texts``, and of the
        string model after saving it to a ``.keras`` file and reloading it with ``course_utils.layers.load_model``.
    """
    texts = np.asarray(texts, dtype=object)
    direct = np.asarray(model.predict(vectorizer(texts), verbose=0))
    string_model = build_fn(vectorizer, model)
    if not isinstance(string_model, keras.Model):
        fail(f"build_string_model should return a keras Model, got {type(string_model).__name__}")
    try:
        from_strings = np.asarray(string_model.predict(texts, verbose=0))
    except Exception as error:  # noqa: BLE001  report what the model could not digest
        fail(
            f"the model could not predict a batch of raw strings ({type(error).__name__}: {str(error)[:200]}); its input should be keras.Input(shape=(), dtype='string')"
        )
    observed = {"number_of_texts": len(texts), "direct": direct, "from_strings": from_strings}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        try:
            string_model.save(path)
        except Exception as error:  # noqa: BLE001  reported after the comparison of the predictions, as it comes after it
            observed[RAISED] = _error_text(error)
            return observed
        try:
            reloaded = load_model(path)
        except Exception as error:  # noqa: BLE001
            observed["reload_error"] = f"{type(error).__name__}: {str(error)[:300]}"
            return observed
        observed["reloaded"] = np.asarray(reloaded.predict(texts, verbose=0))
    return observed


def compare_string_model(observed: Observations, expected: None) -> str:
    direct = observed["direct"]
    check_close(
        "probabilities of the string model vs model(vectorizer(texts))", observed["from_strings"], direct, atol=ATOL
    )
    if "reload_error" in observed:
        fail(f"the saved model does not reload with course_utils.layers.load_model: {observed['reload_error']}")
    check_close("probabilities after saving and reloading", _reached(observed, observed, "reloaded"), direct, atol=ATOL)
    return f"the string model predicts {observed['number_of_texts']} raw tweets like model(vectorizer(texts)) and reloads from a .keras file"


check_string_model = Check(probe_string_model, compare_string_model, expects=False)


__all__ = [
    "CheckFailed",
    "check_answer",
    "check_answer_recorded",
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
