"""Private references for Lab 4's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab4.probe_<name>`` (sizes, ids and a seed; never
the student's objects), makes the same inputs with the public input functions, and returns plain data: the reference's
result (a Keras layer, numpy twins, a reference train step, step-by-step decoding, exhaustive search) and the
fingerprints of the mistakes the comparison names.
"""

import itertools
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from autograde.grading.references import answer, answer_to
from course_utils.checks import lab4 as public
from course_utils.checks._common import full_float32
from course_utils.checks.delegation import refuse_reference_while_watched

# --- Exercise 1: the GRU cell -------------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_variant(weights: Sequence[np.ndarray], x: np.ndarray, h0: np.ndarray, variant: str = "keras") -> np.ndarray:
    """Numpy GRU over x (batch, T, d) from h0, in Keras's layout, or one of the typical mistakes (the keys of
    ``public.GRU_MISTAKES``)."""
    kernel, recurrent_kernel, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    units = recurrent_kernel.shape[0]
    h, outputs = np.asarray(h0, dtype=np.float64), []
    for x_t in np.asarray(x, dtype=np.float64).transpose(1, 0, 2):
        x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=-1)
        recurrent_bias = np.zeros_like(bias[1]) if variant == "no recurrent bias" else bias[1]
        h_z, h_r, h_h = np.split(h @ recurrent_kernel + recurrent_bias, 3, axis=-1)
        z, r = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
        if variant == "gates swapped":
            z, r = r, z
        if variant == "reset before":
            candidate = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * units :] + recurrent_bias[2 * units :])
        else:
            candidate = np.tanh(x_h + r * h_h)
        h = (1 - z) * h + z * candidate if variant == "z flipped" else z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1)


def expect_gru_cell(input_dim: int, units: int, batch: int, steps: int, seed: int) -> dict[str, Any]:
    """keras.layers.GRU's outputs from each initial state and gradients; each mistake's outputs (fingerprints)."""
    x, h0, weights, projection = public.gru_inputs(batch, steps, input_dim, units, seed)
    x, initial = tf.constant(x), [tf.constant(h0)]
    with full_float32():
        reference = keras.layers.GRU(units, return_sequences=True)
        reference.build((batch, steps, input_dim))
        reference.set_weights(weights)
        outputs = {
            description: np.asarray(reference(x, initial_state=state))
            for description, state in zip(public.INITIAL_STATES, (None, initial))
        }
        gradients = public._gradients(reference, x, initial, tf.constant(projection))
    starts = (np.zeros((batch, units)), h0)
    mistakes = {
        description: {
            variant: gru_variant(weights, x, start, variant).astype("float32") for variant in public.GRU_MISTAKES
        }
        for description, start in zip(public.INITIAL_STATES, starts)
    }
    return {
        "outputs": outputs,
        "mistakes": mistakes,
        "gradients": {label: np.asarray(g) for label, g in zip(public.GRU_GRADIENTS, gradients)},
    }


# --- Exercise 2: the encoder ---------------------------------------------------------------------------------


def reference_encoder(vocab_size: int, embed_dim: int, units: int) -> keras.Model:
    """The lab's encoder (Exercise 2) with keras.layers.GRU for RNN(MyGRUCell) (which the GRU check holds equal to it)."""
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
    gru = keras.layers.GRU(units, return_sequences=True, return_state=True)
    states, forward_state, backward_state = keras.layers.Bidirectional(gru)(x)
    return keras.Model(tokens, [states, keras.layers.Concatenate()([forward_state, backward_state])])


def expect_encoder(vocab_size: int, embed_dim: int, units: int, batch: int, steps: int, seed: int) -> dict[str, Any]:
    """The parameter count of an Embedding and a Bidirectional GRU, the input rows' lengths, and the reference
    encoder's states and summary with the weights the check sets."""
    tokens, lengths = public.encoder_inputs(vocab_size, batch, steps, seed)
    gru = 3 * (embed_dim * units + units * units + 2 * units)
    states, summary = public.outputs_with_given_weights(reference_encoder(vocab_size, embed_dim, units), tokens, seed)
    return {
        "parameters": vocab_size * embed_dim + 2 * gru,
        "gru_parameters": gru,
        "lengths": lengths.astype("int32"),
        "given_weights_states": states.astype("float32"),
        "given_weights_summary": summary.astype("float32"),
    }


# --- Exercise 3: additive attention --------------------------------------------------------------------------


def reference_attention(
    weights: Sequence[np.ndarray], query: np.ndarray, keys: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Additive attention in numpy: (context, weights)."""
    refuse_reference_while_watched("the check's reference attention")
    query_kernel, key_kernel, score_vector = (np.asarray(w, dtype=np.float64) for w in weights)
    scores = np.tanh((query @ query_kernel)[:, :, None, :] + (keys @ key_kernel)[:, None, :, :]) @ score_vector
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    attention = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return attention @ keys, attention


def expect_attention(
    batch: int, query_steps: int, key_steps: int, query_dim: int, key_dim: int, units: int, seed: int
) -> dict[str, Any]:
    """The reference's context and weights without and with the mask, and the mask."""
    query, keys, mask, weights = public.attention_inputs(batch, query_steps, key_steps, query_dim, key_dim, units, seed)
    expected = {"mask": mask}
    for description, m in zip(public.ATTENTION_MASKS, (None, mask)):
        context, attention = reference_attention(weights, query, keys, m)
        expected[description] = {"context": context.astype("float32"), "weights": attention.astype("float32")}
    return expected


# --- Exercise 4: decoder inputs, loss, training, accuracy -------------------------------------------------------


def expect_decoder_io(start_id: int, end_id: int, batch: int, steps: int, seed: int) -> dict[str, Any]:
    """The decoder's target (the end token after each row) and input (start token, then the written ids), and the
    rows' lengths."""
    written, lengths = public.decoder_io_inputs(batch, steps, seed)
    target = np.zeros((batch, steps + 1), "int32")
    target[:, :steps] = written
    target[np.arange(batch), lengths] = end_id
    inputs = np.zeros_like(target)
    inputs[:, 0] = start_id
    inputs[:, 1:] = written
    return {"decoder_target": target, "decoder_input": inputs, "lengths": lengths.astype("int32")}


def expect_masked_loss(batch: int, steps: int, vocab_size: int, seed: int) -> dict[str, Any]:
    """The mean cross-entropy over the real positions; the mean over every position and the sum (fingerprints)."""
    targets, logits = public.masked_loss_inputs(batch, steps, vocab_size, seed)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per_position = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    real = targets != 0
    return {
        "loss": float(per_position[real].mean()),
        "mean_over_every_position": float(per_position.mean()),
        "sum_over_real_positions": float(per_position[real].sum()),
    }


def expect_sequence_accuracy(batch: int, steps: int, seed: int) -> dict[str, Any]:
    """Token accuracy and exact match over the real positions; both counting the padding too (fingerprints)."""
    targets, predicted = public.sequence_accuracy_inputs(batch, steps, seed)
    real, right = targets != 0, predicted == targets
    return {
        "token_accuracy": float(np.sum(right & real) / np.sum(real)),
        "exact_match": float(np.mean(np.all(right | ~real, axis=1))),
        "token_accuracy_counting_padding": float(np.mean(right)),
        "exact_match_of_whole_rows": float(np.mean(np.all(right, axis=1))),
    }


def _masked_loss(targets, logits):
    real = tf.cast(targets != 0, tf.float32)
    per_position = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return tf.reduce_sum(per_position * real) / tf.reduce_sum(real)


def expect_train_step(batch: int, source_steps: int, target_steps: int, seed: int) -> dict[str, Any]:
    """The reference step on the probe's model: the masked loss in training mode (the same dropout mask: the model's
    first training call), the weights after one plain SGD step; the loss with dropout off (a fingerprint)."""
    source, decoder_input, decoder_target = (
        tf.constant(a) for a in public.train_step_inputs(batch, source_steps, target_steps, seed)
    )
    with full_float32():
        twin = public.tiny_model(seed)
        with tf.GradientTape() as tape:
            loss = _masked_loss(decoder_target, twin(source, decoder_input, training=True))
        gradients = tape.gradient(loss, twin.trainable_variables)
        loss_without_dropout = _masked_loss(decoder_target, twin(source, decoder_input, training=False))
        for variable, gradient in zip(twin.trainable_variables, gradients):
            variable.assign_sub(public.TRAIN_STEP_LEARNING_RATE * tf.convert_to_tensor(gradient))
    return {
        "loss": float(loss),
        "loss_without_dropout": float(loss_without_dropout),
        "weights_after": twin.get_weights(),
    }


# --- Exercise 5: greedy decoding -------------------------------------------------------------------------------


def reference_greedy(model: keras.Model, source: np.ndarray, start_id: int, end_id: int, max_length: int) -> np.ndarray:
    """Row by row, step by step, eagerly: tokens (rows, max_length), 0 after the end token."""
    rows = []
    for row in source:
        states, state, mask = model.encode(tf.constant(row[None]))
        token, tokens = start_id, []
        for _ in range(max_length):
            logits, state, _ = model.decode_step(tf.constant([token]), state, states, mask)
            token = int(np.argmax(logits[0]))
            tokens.append(token)
            if token == end_id:
                break
        rows.append(tokens + [0] * (max_length - len(tokens)))
    return np.array(rows, dtype="int32")


def expect_greedy_decoder(
    start_id: int, end_id: int, max_length: int, batch: int, steps: int, seed: int
) -> dict[str, Any]:
    """Step-by-step greedy decoding of the probe's source with the probe's model."""
    model, source = public.greedy_decoder_inputs(batch, steps, seed)
    with full_float32():
        return {"tokens": reference_greedy(model, source, start_id, end_id, max_length)}


# --- Exercise 6: beam search ---------------------------------------------------------------------------------


def exhaustive_search(
    log_prob_table: np.ndarray, start_id: int, end_id: int, max_length: int, alpha: float
) -> tuple[list[int], float] | None:
    """The best sequence of a second-order Markov table by trying every one: (tokens padded to max_length, normalised score)."""
    refuse_reference_while_watched("the check's exhaustive search")
    vocab_size = log_prob_table.shape[0]
    best = None
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(1, vocab_size), repeat=length):
            if end_id in sequence[:-1] or (length < max_length and sequence[-1] != end_id):
                continue
            before, previous, total = start_id, start_id, 0.0
            for token in sequence:
                total += log_prob_table[before, previous, token]
                before, previous = previous, token
            score = total / length**alpha
            if best is None or score > best[1]:
                best = (list(sequence) + [0] * (max_length - length), score)
    return best


def greedy_markov(log_prob_table: np.ndarray, start_id: int, end_id: int, max_length: int) -> list[int]:
    """Greedy decoding of a second-order Markov table: the most likely next token at each step, 0 after the end."""
    tokens, before, previous = [], start_id, start_id
    for _ in range(max_length):
        before, previous = previous, int(np.argmax(log_prob_table[before, previous]))
        tokens.append(previous)
        if previous == end_id:
            break
    return tokens + [0] * (max_length - len(tokens))


def reference_beam_search(
    log_prob_table: np.ndarray, start_id: int, end_id: int, beam_width: int, max_length: int, alpha: float
) -> tuple[list[int], float]:
    """Beam search on a second-order Markov table as the lab describes it: the ``beam_width`` best extensions of all
    the beams by raw score at every step, a finished beam extended only by padding at no cost; the best by
    score / length ** alpha at the end. Returns (tokens padded to max_length, normalised score)."""
    refuse_reference_while_watched("the check's reference beam search")
    vocab_size = log_prob_table.shape[0]
    scores = np.full(beam_width, -np.inf)
    scores[0] = 0.0
    tokens = np.zeros((beam_width, 0), dtype=int)
    before, last = np.full(beam_width, start_id), np.full(beam_width, start_id)
    finished, lengths = np.zeros(beam_width, bool), np.zeros(beam_width)
    for _ in range(max_length):
        log_probs = log_prob_table[before, last].astype(np.float64)
        log_probs[finished] = -np.inf
        log_probs[finished, 0] = 0.0
        extensions = (scores[:, None] + log_probs).ravel()
        chosen = np.argsort(-extensions, kind="stable")[:beam_width]
        beam, token = chosen // vocab_size, chosen % vocab_size
        scores, was_finished = extensions[chosen], finished[beam]
        tokens = np.concatenate([tokens[beam], token[:, None]], axis=1)
        before, last = last[beam], token
        lengths = lengths[beam] + ~was_finished
        finished = was_finished | (token == end_id)
    normalised = scores / np.maximum(lengths, 1.0) ** alpha
    best = int(np.argmax(normalised))
    return tokens[best].tolist(), float(normalised[best])


def expect_beam_search(
    vocab_size: int, max_length: int, start_id: int, end_id: int, beam_width: int | None, seed: int
) -> dict[str, Any]:
    """Per table: greedy decoding, the best sequence and score for each alpha, the best unnormalised sequence, and
    with ``beam_width`` the reference beam search's sequence and score for each alpha."""
    trials = []
    for table in public.beam_search_tables(vocab_size, seed):
        best = [exhaustive_search(table, start_id, end_id, max_length, alpha) for alpha in public.BEAM_SEARCH_ALPHAS]
        trial = {
            "greedy": greedy_markov(table, start_id, end_id, max_length),
            "best": [{"tokens": tokens, "score": float(score)} for tokens, score in best],
            "best_unnormalised": exhaustive_search(table, start_id, end_id, max_length, 0.0)[0],
        }
        if beam_width is not None:
            trial["middle"] = [
                dict(
                    zip(
                        ("tokens", "score"),
                        reference_beam_search(table, start_id, end_id, beam_width, max_length, alpha),
                    )
                )
                for alpha in public.BEAM_SEARCH_ALPHAS
            ]
        trials.append(trial)
    return {"trials": trials}


# --- Reasoning questions -------------------------------------------------------------------------------------------

QUESTIONS = {
    # AdditiveAttention(48) on queries and keys of 96 numbers: query_kernel, key_kernel, score_vector.
    "attention_parameters": answer(
        96 * 48 + 96 * 48 + 48,
        {"leave out the score vector": 96 * 48 * 2, "give each projection a bias": 96 * 48 * 2 + 48 + 2 * 48},
    ),
    # The tanh's input (batch, output steps, input steps, units) for 128 rows, 11 output steps, 64 input characters.
    "attention_tanh_values": answer(
        128 * 11 * 64 * 48,
        {
            "count one value per pair of steps, leaving out the attention units": 128 * 11 * 64,
            "leave out the batch": 11 * 64 * 48,
            "add the input and output lengths instead of multiplying them": 128 * (11 + 64) * 48,
        },
    ),
}


def expect_answer(name: str) -> dict[str, Any]:
    """The right value of reasoning question ``name`` and the values of its known mistakes."""
    return answer_to(QUESTIONS, name)
