"""Private references for Lab 2's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab2.probe_<name>`` (sizes and a seed; never the
student's objects), makes the same inputs with the public input function, and returns plain data. ``check_get_batch``
and ``check_untrained_loss`` compare properties of what the student's code gives, and have no expectation.
"""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from autograde.grading.references import answer, answer_to, lstm_parameters
from course_utils.checks import lab2 as public
from course_utils.checks._common import full_float32
from course_utils.vocab import Vocabulary


def expect_vectorize(vocab_size: int, length: int, seed: int) -> dict[str, Any]:
    """The vocabulary's ids for the text, and its text for the ids."""
    chars, text, ids = public.vectorize_inputs(vocab_size, length, seed)
    vocab = Vocabulary(chars)
    return {"ids": vocab.encode(text), "text": vocab.decode(ids)}


def expected_parameter_count(vocab_size: int, embedding_dim: int, rnn_units: int, num_layers: int = 1) -> int:
    """Parameters of Embedding, ``num_layers`` times LSTM -> Dropout, then Dense, for these sizes."""
    embedding = vocab_size * embedding_dim
    lstms = lstm_parameters(embedding_dim, rnn_units) + (num_layers - 1) * lstm_parameters(rnn_units, rnn_units)
    dense = rnn_units * vocab_size + vocab_size
    return embedding + lstms + dense


def expect_build_model(
    vocab_size: int, embedding_dim: int, rnn_units: int, num_layers: int, seed: int
) -> dict[str, Any]:
    """The parameter count, and the reference model's logits with the weights the probe gives the student's model."""
    model = reference_model(vocab_size, embedding_dim, rnn_units, num_layers=num_layers)
    logits = public.outputs_with_given_weights(model, public.build_model_ids(vocab_size, seed), seed)
    return {
        "parameter_count": expected_parameter_count(vocab_size, embedding_dim, rnn_units, num_layers),
        "logits": logits,
    }


def expect_loss(batch: int, steps: int, vocab_size: int, seed: int) -> dict[str, Any]:
    """Keras's mean cross-entropy from logits, and the fingerprints of the sum and of logits read as probabilities."""
    labels, logits = public.loss_inputs(batch, steps, vocab_size, seed)
    loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    from_probabilities = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=False)))
    return {"loss": loss, "summed": loss * batch * steps, "from_probabilities": from_probabilities}


def reference_model(
    vocab_size: int, embedding_dim: int, rnn_units: int, dropout: float = 0.0, num_layers: int = 1
) -> keras.Sequential:
    """The lab's model (Part 4), built: Embedding, ``num_layers`` times LSTM -> Dropout, then Dense."""
    stack = []
    for _ in range(num_layers):
        stack += [keras.layers.LSTM(rnn_units, return_sequences=True), keras.layers.Dropout(dropout)]
    model = keras.Sequential(
        [keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(vocab_size, embedding_dim)]
        + stack
        + [keras.layers.Dense(vocab_size)]
    )
    model(np.zeros((1, 1), "int32"))
    return model


def _reference_step(model, x, y, learning_rate, max_norm):
    """One step of plain SGD on the loss, its gradients clipped by their global norm; returns (loss, norm) before it."""
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, norm = tf.clip_by_global_norm(grads, max_norm)
    for variable, grad in zip(model.trainable_variables, clipped):
        variable.assign_sub(learning_rate * tf.convert_to_tensor(grad))  # the embedding gets IndexedSlices
    return float(loss), float(norm)


def expect_train_step(vocab_size: int, batch: int, steps: int, seed: int) -> dict[str, Any]:
    """The reference model's weight shapes, and for each max_norm the loss, norm and weights after one reference step
    from the starting weights the probe gives the student's model."""
    model = reference_model(vocab_size, public.TRAIN_STEP_EMBEDDING_DIM, public.TRAIN_STEP_UNITS)
    shapes = [list(w.shape) for w in model.get_weights()]
    x, y, weights = public.train_step_inputs(vocab_size, batch, steps, seed, shapes)
    cases = []
    with full_float32():
        for max_norm, _ in public.TRAIN_STEP_CASES:
            model.set_weights(weights)
            loss, norm = _reference_step(
                model, tf.constant(x), tf.constant(y), public.TRAIN_STEP_LEARNING_RATE, max_norm
            )
            cases.append({"loss": loss, "norm": norm, "weights": [w.astype(np.float32) for w in model.get_weights()]})
    return {"weight_shapes": shapes, "cases": cases}


def _softmax(logits, axis=-1):
    shifted = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def expect_sample_next(vocab_size: int, draws: int, seed: int) -> dict[str, Any]:
    """softmax(logits / T) for each temperature, and the fingerprints: softmax(logits * T), and the draws of
    tf.random.categorical given probabilities (softmax of the softmax)."""
    logits = public.sample_logits(vocab_size, seed).astype(np.float64)
    temperatures = public.SAMPLE_TEMPERATURES
    probabilities = np.stack([_softmax(logits / t) for t in temperatures])
    return {
        "probabilities": probabilities,
        "multiplied": np.stack([_softmax(logits * t) for t in temperatures]),
        "from_probabilities": np.stack([_softmax(p) for p in probabilities]),
    }


def expect_generate(vocab_size: int, start_length: int, length: int, seed: int) -> dict[str, Any]:
    """For each draw t: the model's logits after the text so far (the start and the sampler's first t ids), and the
    fingerprints: those logits divided by the temperature, their softmax, and the model's logits for the last
    character of the text alone, from a zero state."""
    model = public.generation_model(vocab_size, seed)
    start_ids, draws = public.generation_inputs(vocab_size, start_length, length, seed)
    text = np.concatenate([start_ids, draws]).astype(np.int32)
    with full_float32():
        outputs = model(text[None, : max(start_length + length - 1, 1)], training=False)[0].numpy()
        logits = outputs[start_length - 1 : start_length - 1 + length]  # after each prefix: the start and t draws
        alone = model(text[start_length - 1 : start_length - 1 + length][:, None], training=False)[:, 0].numpy()
    logits = logits.astype(np.float64)
    return {
        "logits": logits.astype(np.float32),
        "tempered": (logits / public.GENERATION_TEMPERATURE).astype(np.float32),
        "probabilities": _softmax(logits).astype(np.float32),
        "last_character_alone": alone.astype(np.float32),
    }


def expect_sample_in_time(vocab_size: int, draws: int, seed: int) -> dict[str, Any]:
    """softmax(logits / T) over the allowed characters (fill <= 1, and a bar line only at fill == 1) for each case,
    and the distributions each mistake of ``public.IN_TIME_MISTAKES`` gives."""
    logits, fill, closes = public.in_time_inputs(vocab_size, seed)
    tempered = logits.astype(np.float64) / np.array(public.IN_TIME_TEMPERATURES)[:, None]
    full = fill == 1.0
    allowed = (fill <= 1.0) & (~closes | full)

    def masked(allowed, values=tempered, fallback=-np.inf):
        return _softmax(np.where(allowed, values, fallback))

    plain = _softmax(tempered)
    best = np.argmax(np.where(allowed, tempered, -np.inf), axis=-1)
    after = plain * allowed
    after[np.arange(len(best)), best] += (plain * ~allowed).sum(axis=-1)
    return {
        "probabilities": masked(allowed),
        "unmasked": plain,
        "bar_line_early": masked(fill <= 1.0),
        "overflow": masked(~closes | full),
        "strict": masked(np.where(closes, full, fill < 1.0)),
        "zero_logits": masked(allowed, fallback=0.0),
        "from_probabilities": masked(allowed, values=masked(allowed), fallback=0.0),
        "after_sampling": after,
        "multiplied": masked(
            allowed, values=logits.astype(np.float64) * np.array(public.IN_TIME_TEMPERATURES)[:, None]
        ),
    }


# Reasoning questions: the right value, and what each known mistake gives (checks.check_answer, grader only).
_E, _H = 64, 384  # the lab's full settings, EMBEDDING_DIM and RNN_UNITS
QUESTIONS = {
    "lstm_parameters": answer(
        lstm_parameters(_E, _H),
        {
            "leave out the biases": 4 * (_E * _H + _H * _H),
            "count one set of weights instead of four (the input, forget and output gates and the candidate)": _E * _H
            + _H * _H
            + _H,
            "leave out the recurrent weights (the previous state's)": 4 * (_E * _H + _H),
        },
    ),
    # c>d (3efg a/ in M:6/8, L:1/8: c>d lasts two eighths, the triplet of eighths two, a/ half of one: 4.5 of six.
    "bar_fraction": answer(
        4.5 / 6,
        {
            "count the triplet as three eighths": 5.5 / 6,
            "read a/ as twice a": 6 / 6,
            "lengthen c by half without shortening d": 5 / 6,
        },
        rtol=0.01,
    ),
}


def expect_answer(name: str) -> dict[str, Any]:
    """The expectation of Lab 2's reasoning question ``name``."""
    return answer_to(QUESTIONS, name)
