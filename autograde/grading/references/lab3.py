"""Private references for Lab 3's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab3.probe_<name>`` (sizes and a seed; never the
student's objects), makes the same inputs with the public input function, and returns plain data: the reference's
values (parameter counts, class weights, macro recalls, attention, the layer-normalised LSTM) and the fingerprints of
the mistakes the comparison names (weights proportional to the class sizes, accuracy or macro precision in place of
macro recall, an LSTM normalising each gate alone, carrying the normalised cell or swapping its states).

The numpy references refuse to run while an exercise is watched (``refuse_reference_while_watched``): the grader
runs them in its own process, after the probe, so one that runs under a watch was called by a student's code.
"""

from typing import Any

import keras
import numpy as np

from autograde.grading.references import answer as public_answer, answer_to, lstm_parameters
from course_utils.checks import lab3 as public
from course_utils.checks.delegation import refuse_reference_while_watched

# The given build's LayerNormalization layers keep Keras's default epsilon (1e-3); the reference cell uses the same.
GIVEN_EPSILON = keras.layers.LayerNormalization().epsilon
# Stored expectations hold float32: compact, and far closer to float64 than the checks' tolerance (1e-5).
STORED = np.float32


# --- build_classifier: the parameter count of the reference model with each encoder, and what it computes -------


def _reference_parameters(vocab_size, embed_dim, encoder, num_classes):
    model = keras.Sequential(
        [keras.Input((None,), dtype="int32"), keras.layers.Embedding(vocab_size, embed_dim), *encoder]
    )
    features = model.output_shape[-1]
    return model.count_params() + features * num_classes + num_classes


def _reference_classifier(vocab_size, embed_dim, encoder, num_classes, dropout=0.0):
    """The lab's classifier (Exercise 3.1), as its solution builds it."""
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
    x = keras.layers.SpatialDropout1D(dropout)(x)
    for layer in encoder:
        x = layer(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(tokens, keras.layers.Dense(num_classes, activation="softmax")(x))


def expect_classifier(
    vocab_size: int,
    embed_dim: int,
    units: int,
    num_classes: int,
    batch: int,
    steps: int,
    seed: int,
    stacked_encoder: bool = False,
) -> dict[str, Any]:
    """Each encoder's parameter count, and the reference model's probabilities with the weights the check sets."""
    encoders = public.classifier_encoders(units, stacked_encoder)
    tokens = public.classifier_tokens(batch, steps, vocab_size, seed)
    return {
        "parameters": [
            [name, _reference_parameters(vocab_size, embed_dim, make(), num_classes)] for name, make in encoders.items()
        ],
        "probabilities": [
            [
                name,
                public.outputs_with_given_weights(
                    _reference_classifier(vocab_size, embed_dim, make(), num_classes), tokens, seed
                ).astype(STORED),
            ]
            for name, make in encoders.items()
        ],
    }


# --- make_encoder: the layer each kind is, its output features and parameters ---------------------------------

RECURRENT_KINDS = {
    # kind: (layer class, what a Bidirectional wraps, parameters for input size d and units u, output features)
    "simple_rnn": (keras.layers.SimpleRNN, None, lambda d, u: d * u + u * u + u, lambda u: u),
    "lstm": (keras.layers.LSTM, None, lstm_parameters, lambda u: u),
    "bilstm": (keras.layers.Bidirectional, keras.layers.LSTM, lambda d, u: 2 * lstm_parameters(d, u), lambda u: 2 * u),
}


def _reference_encoder(kind, units, recurrent_dropout):
    """The lab's ``make_encoder(kind, units, recurrent_dropout)`` (Exercise 3.2), as its solution builds it."""
    layer_class, wraps, _, _ = RECURRENT_KINDS[kind]
    if wraps is None:
        return [layer_class(units, recurrent_dropout=recurrent_dropout)]
    return [layer_class(wraps(units, recurrent_dropout=recurrent_dropout))]


def expect_encoder(input_dim: int, units: int, vocab_size: int, batch: int, steps: int, seed: int) -> dict[str, Any]:
    """Each kind's layer, output features and parameters, and its outputs with the weights the check sets."""
    tokens = public.encoder_tokens(batch, steps, vocab_size, seed)
    kinds = []
    for kind in public.ENCODER_KINDS:
        layer_class, wraps, parameters, features = RECURRENT_KINDS[kind]
        model = keras.Sequential(  # as the probe reads the student's encoder
            [
                keras.Input((None,), dtype="int32"),
                keras.layers.Embedding(vocab_size, input_dim, mask_zero=True),
                *_reference_encoder(kind, units, public.RECURRENT_DROPOUT),
            ]
        )
        kinds.append(
            {
                "kind": kind,
                "layer": layer_class.__name__,
                "wraps": None if wraps is None else wraps.__name__,
                "merge_mode": "concat"
                if layer_class is keras.layers.Bidirectional
                else None,  # Bidirectional's default
                "features": features(units),
                "parameters": parameters(input_dim, units),
                "outputs": public.outputs_with_given_weights(model, tokens, seed).astype(STORED),
            }
        )
    return {"kinds": kinds}


# --- class_weights --------------------------------------------------------------------------------------------


def _balanced_weights(labels, num_classes):
    refuse_reference_while_watched("the check's reference weights")
    counts = np.bincount(labels, minlength=num_classes)
    return {c: len(labels) / (num_classes * counts[c]) for c in range(num_classes)}


def expect_class_weights(size: int, num_classes: int, seed: int) -> dict[str, Any]:
    labels = public.class_weights_labels(size, num_classes, seed)
    weights = _balanced_weights(labels, num_classes)
    # The class counts are the fingerprint of weights that grow with the class size (proportional to them).
    return {
        "weights": [float(weights[c]) for c in range(num_classes)],
        "counts": np.bincount(labels, minlength=num_classes).tolist(),
    }


# --- macro_recall ---------------------------------------------------------------------------------------------


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


def expect_macro_recall(size: int, num_classes: int, seed: int) -> dict[str, Any]:
    cases = []
    for description, (truth, prediction) in public.macro_recall_cases(size, num_classes, seed).items():
        truth, prediction = np.asarray(truth), np.asarray(prediction)
        cases.append(
            {
                "case": description,
                "expected": _macro_recall_over_true_classes(truth, prediction, num_classes),
                "as_sklearn": _macro_recall_as_sklearn(truth, prediction, num_classes),
                # Fingerprints: what a macro recall that is the accuracy, or the macro precision, returns.
                "accuracy": float(np.mean(truth == prediction)),
                "macro_precision": _macro_precision(truth, prediction, num_classes),
            }
        )
    return {"cases": cases}


# --- MyAttentionPooling ---------------------------------------------------------------------------------------


def _reference_attention(weights, x, mask):
    """Attention pooling in numpy with ``weights`` = [kernel W, bias b, score vector v]: (attention weights, pooled output).

    A row of padding alone gets equal weights (what a large negative finite score gives); the check only asks that
    such a row's outputs be finite.
    """
    refuse_reference_while_watched("the check's reference attention")
    kernel, bias, score_vector = (np.asarray(w, dtype=np.float64) for w in weights)
    scores = np.tanh(x @ kernel + bias) @ score_vector  # (batch, time)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
        scores[~np.any(mask, axis=1)] = 0.0
    scores = scores - scores.max(axis=1, keepdims=True)
    attention = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    return attention, np.einsum("bt,btf->bf", attention, x)


def expect_attention_pooling(
    batch: int, steps: int, features: int, units: int, seed: int, padding_only_row: bool = False
) -> dict[str, Any]:
    weights, x, mask, _ = public.attention_pooling_inputs(batch, steps, features, units, seed, padding_only_row)
    cases = []
    for description, m in public.attention_masks(mask):
        attention, pooled = _reference_attention(weights, x, m)
        cases.append(
            {
                "case": description,
                "masked": m is not None,
                "attention": attention.astype(STORED),
                "pooled": pooled.astype(STORED),
            }
        )
    return {"mask": mask, "cases": cases}


# --- LayerNormLSTMCell ----------------------------------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _layer_norm(x, gain, shift, epsilon):
    """Each row of ``x`` to mean 0 and variance 1 over its last axis (its own statistics), then scaled and shifted."""
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(x.var(axis=-1, keepdims=True) + epsilon) * gain + shift


def _reference_layer_norm_lstm(weights, epsilons, x, mistake=None):
    """The layer-normalised LSTM (Ba, Kiros & Hinton 2016) in numpy: (outputs (batch, time, units), final h, final c).

    ``weights`` = [kernel, recurrent_kernel, bias, input gain, recurrent gain, cell gain, cell shift] and ``epsilons``
    those of the input, recurrent and cell norms. ``mistake`` (a key of ``LAYER_NORM_LSTM_MISTAKES`` of the public
    checks) computes that wrong version instead: its fingerprint.
    """
    refuse_reference_while_watched("the check's reference cell")
    kernel, recurrent_kernel, bias, input_gain, recurrent_gain, cell_gain, cell_shift = (
        np.asarray(w, np.float64) for w in weights
    )
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
        z = (
            normalised(x[:, t] @ kernel, input_gain, input_epsilon)
            + normalised(h @ recurrent_kernel, recurrent_gain, recurrent_epsilon)
            + bias
        )
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


def expect_layer_norm_lstm_cell(batch: int, steps: int, input_dim: int, units: int, seed: int) -> dict[str, Any]:
    x, values = public.layer_norm_lstm_inputs(batch, steps, input_dim, units, seed)
    epsilons = (GIVEN_EPSILON,) * 3
    outputs, h, c = _reference_layer_norm_lstm(values, epsilons, x)
    mistakes = {
        mistake: _reference_layer_norm_lstm(values, epsilons, x, mistake)[0].astype(STORED)
        for mistake in public.LAYER_NORM_LSTM_MISTAKES
    }
    return {
        "epsilons": list(epsilons),
        "outputs": outputs.astype(STORED),
        "h": h.astype(STORED),
        "c": c.astype(STORED),
        "mistakes": mistakes,
    }


# --- Reasoning questions ----------------------------------------------------------------------------------------


RATE, STEPS = 0.2, 20  # the naive-dropout question: the recurrent dropout of Part 4 over a tweet of 20 words
EMBED, UNITS = 100, 64  # the parameter questions: the lab's full-budget word vectors and LSTM size
QUESTIONS = {
    "naive_kept_every_step": public_answer(
        (1 - RATE) ** STEPS,
        {
            "share one mask across the steps (that is variational dropout)": 1 - RATE,
            "count the units dropped at least once": 1 - (1 - RATE) ** STEPS,
            "multiply the drop rates rather than the keep rates": RATE**STEPS,
        },
        rtol=0.01,
    ),
    "stacked_bilstm_parameters": public_answer(
        2 * lstm_parameters(EMBED, UNITS) + 2 * lstm_parameters(2 * UNITS, UNITS),
        {
            "give the second layer the word vectors as its input (100 numbers, not the first layer's 2 x 64)": 4
            * lstm_parameters(EMBED, UNITS),
            "give the second layer one direction's state as its input (64 numbers, not 2 x 64)": 2
            * lstm_parameters(EMBED, UNITS)
            + 2 * lstm_parameters(UNITS, UNITS),
            "count one direction of each layer only": lstm_parameters(EMBED, UNITS) + lstm_parameters(2 * UNITS, UNITS),
            "leave out the biases": 2 * (lstm_parameters(EMBED, UNITS) - 4 * UNITS)
            + 2 * (lstm_parameters(2 * UNITS, UNITS) - 4 * UNITS),
        },
    ),
    "layer_norm_cell_parameters": public_answer(
        lstm_parameters(EMBED, UNITS) + 2 * 4 * UNITS + 2 * UNITS,
        {
            "give the two normalisations of the gate terms a shift as well as a gain": lstm_parameters(EMBED, UNITS)
            + 2 * 2 * 4 * UNITS
            + 2 * UNITS,
            "leave out the normalisations' gains and shifts (that is a plain LSTM)": lstm_parameters(EMBED, UNITS),
            "give the cell state's normalisation a gain only": lstm_parameters(EMBED, UNITS) + 2 * 4 * UNITS + UNITS,
        },
    ),
}


def expect_answer(name: str) -> dict[str, Any]:
    return answer_to(QUESTIONS, name)
