"""The Lab 4 checks pass the reference solution and catch typical mistakes with a useful message."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from conftest import fails_with, solution_namespace
from course_utils.checks import lab4 as checks
from course_utils.checks.delegation import DelegationRefused


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, "lab4_seq2seq_attention")


# --- the reference passes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("check, name", [
    (checks.check_gru_cell, "MyGRUCell"),
    (checks.check_encoder, "build_encoder"),
    (checks.check_attention, "AdditiveAttention"),
    (checks.check_decoder_io, "make_decoder_io"),
    (checks.check_masked_loss, "masked_loss"),
    (checks.check_sequence_accuracy, "sequence_accuracy"),
])
def test_reference_passes(solution, check, name):
    check(solution[name], seed=5)


@pytest.mark.slow  # traces compiled loops
def test_reference_passes_the_compiled_checks(solution):
    checks.check_train_step(solution["make_train_step"], seed=5)
    checks.check_greedy_decoder(solution["make_greedy_decoder"], seed=5)
    checks.check_beam_search(solution["beam_search"], seed=5)


@pytest.mark.slow  # every hidden test
def test_reference_passes_the_hidden_tests(solution):
    from autograde.hidden_tests import lab4 as hidden

    hidden.test_gru_cell(solution["MyGRUCell"])
    hidden.test_encoder(solution["build_encoder"])
    hidden.test_attention(solution["AdditiveAttention"])
    hidden.test_decoder_io(solution["make_decoder_io"])
    hidden.test_masked_loss(solution["masked_loss"])
    hidden.test_train_step(solution["make_train_step"])
    hidden.test_sequence_accuracy(solution["sequence_accuracy"])
    hidden.test_greedy_decoder(solution["make_greedy_decoder"])
    hidden.test_beam_search(solution["beam_search"])


# --- Exercise 1: the GRU cell ----------------------------------------------------------------------------------

def gru_variant(solution, mistake):
    """MyGRUCell with one typical mistake."""

    class Variant(solution["MyGRUCell"]):
        def call(self, inputs, states, training=False):
            h_prev, units = states[0], self.units
            x_z, x_r, x_h = ops.split(ops.matmul(inputs, self.kernel) + self.bias[0], 3, axis=-1)
            recurrent_bias = 0.0 * self.bias[1] if mistake == "no recurrent bias" else self.bias[1]
            h_z, h_r, h_h = ops.split(ops.matmul(h_prev, self.recurrent_kernel) + recurrent_bias, 3, axis=-1)
            z, r = ops.sigmoid(x_z + h_z), ops.sigmoid(x_r + h_r)
            if mistake == "gates swapped":
                z, r = r, z
            if mistake == "reset before":
                h_h = ops.matmul(r * h_prev, self.recurrent_kernel[:, 2 * units:]) + self.bias[1][2 * units:]
                candidate = ops.tanh(x_h + h_h)
            else:
                candidate = ops.tanh(x_h + r * h_h)
            h = (1 - z) * h_prev + z * candidate if mistake == "z flipped" else z * h_prev + (1 - z) * candidate
            return h, [h]

    return Variant


@pytest.mark.parametrize("mistake, message", [
    ("gates swapped", "update gate z and the reset gate r are swapped"),
    ("reset before", "reset gate is applied before the recurrent product"),
    ("z flipped", r"h_t = z \* h_\(t-1\) \+ \(1 - z\) \* candidate"),
    ("no recurrent bias", r"recurrent bias \(bias row 1\) is not used"),
])
def test_gru_cell_mistakes(solution, mistake, message):
    fails_with(message, checks.check_gru_cell, gru_variant(solution, mistake))


def test_gru_cell_with_one_bias_vector(solution):
    class OneBias(solution["MyGRUCell"]):
        def build(self, input_shape):
            super().build(input_shape)
            self.bias = self.add_weight(shape=(3 * self.units,), initializer="zeros", name="bias")

    fails_with(r"the cell should create 3 weights|bias \(weight in creation order\): expected shape", checks.check_gru_cell, OneBias)


def test_gru_cell_delegating_to_keras_is_refused():
    class Delegating(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.cell = keras.layers.GRUCell(units)
            self.state_size = self.output_size = units

        def build(self, input_shape):
            self.cell.build(input_shape)

        def call(self, inputs, states, training=False):
            return self.cell(inputs, states)

    with pytest.raises(DelegationRefused, match="^MyGRUCell calls keras.layers.GRUCell"):
        checks.check_gru_cell(Delegating)


# --- Exercise 2: the encoder -----------------------------------------------------------------------------------

def test_encoder_without_mask_zero():
    def build(vocab_size, embed_dim, units):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim)(tokens)
        states, forward, backward = keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True, return_state=True))(x)
        return keras.Model(tokens, [states, keras.layers.Concatenate()([forward, backward])])

    fails_with("padding appended.*mask_zero=True", checks.check_encoder, build)


def test_encoder_with_a_wrong_summary():
    def build(vocab_size, embed_dim, units):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
        states, forward, backward = keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True, return_state=True))(x)
        return keras.Model(tokens, [states, keras.layers.Concatenate()([backward, forward])])

    fails_with("the summary should be", checks.check_encoder, build)


# --- Exercise 3: attention -------------------------------------------------------------------------------------

def attention_variant(solution, mistake):
    class Variant(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            scores = ops.sum(ops.tanh(ops.matmul(query, self.query_kernel)[:, :, None] + ops.matmul(keys, self.key_kernel)[:, None])
                             * self.score_vector, axis=-1)
            if mask is not None and mistake != "mask ignored":
                scores = ops.where(ops.cast(mask, "bool")[:, None, :], scores, float("-inf") if mistake == "-inf" else -1e9)
            weights = ops.softmax(scores, axis=1 if mistake == "wrong axis" else -1)
            return ops.matmul(weights, keys), weights

    return Variant


@pytest.mark.parametrize("mistake, message", [
    ("wrong axis", "sum to 1 over the query steps"),
    ("mask ignored", "padded key steps get attention"),
    ("-inf", "all padding gives NaN.*not -inf"),
])
def test_attention_mistakes(solution, mistake, message):
    fails_with(message, checks.check_attention, attention_variant(solution, mistake))


def test_attention_delegating_to_keras_is_refused(solution):
    class Delegating(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            keras.layers.AdditiveAttention()([query, keys])
            return super().call(query, keys, mask)

    with pytest.raises(DelegationRefused, match="^AdditiveAttention calls keras.layers.AdditiveAttention"):
        checks.check_attention(Delegating)


# --- Exercise 4: teacher forcing, loss, training, accuracy -------------------------------------------------------

def test_decoder_io_without_the_shift(solution):
    def no_shift(written_ids, start_id, end_id):
        _, target = solution["make_decoder_io"](written_ids, start_id, end_id)
        return target, target

    fails_with("decoder_input equals decoder_target", checks.check_decoder_io, no_shift)


def test_decoder_io_with_the_end_token_after_the_padding():
    def end_after_padding(written_ids, start_id, end_id):
        written_ids = np.asarray(written_ids)
        target = np.concatenate([written_ids, np.full((len(written_ids), 1), end_id)], axis=1)
        decoder_input = np.concatenate([np.full((len(written_ids), 1), start_id), written_ids], axis=1)
        return decoder_input, target

    fails_with("end token is at the very end of the padding", checks.check_decoder_io, end_after_padding)


def test_decoder_io_shifted_the_wrong_way(solution):
    def wrong_way(written_ids, start_id, end_id):
        decoder_input, target = solution["make_decoder_io"](written_ids, start_id, end_id)
        return np.roll(target, -1, axis=1), target

    fails_with("decoder_input should start with the start token|decoder_input should be", checks.check_decoder_io, wrong_way)


def test_loss_not_masked():
    def unmasked(targets, logits):
        return ops.mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))

    fails_with("padding positions count", checks.check_masked_loss, unmasked)


@pytest.mark.slow
def test_train_step_in_inference_mode(solution):
    def make_train_step(model, optimizer):
        @tf.function
        def train_step(source, decoder_input, decoder_target):
            with tf.GradientTape() as tape:
                loss = solution["masked_loss"](decoder_target, model(source, decoder_input))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return train_step

    fails_with(r"training=True", checks.check_train_step, make_train_step)


def test_train_step_not_compiled(solution):
    def make_train_step(model, optimizer):
        return lambda source, decoder_input, decoder_target: 0.0

    fails_with("@tf.function", checks.check_train_step, make_train_step)


def test_accuracy_counting_padding():
    def counting_padding(targets, predicted):
        targets, predicted = np.asarray(targets), np.asarray(predicted)
        return float(np.mean(targets == predicted)), float(np.mean(np.all(targets == predicted, axis=1)))

    fails_with("token accuracy counts the padding", checks.check_sequence_accuracy, counting_padding)


def test_exact_match_comparing_whole_rows(solution):
    def whole_rows(targets, predicted):
        token, _ = solution["sequence_accuracy"](targets, predicted)
        return token, float(np.mean(np.all(np.asarray(targets) == np.asarray(predicted), axis=1)))

    fails_with("exact match compares whole rows", checks.check_sequence_accuracy, whole_rows)


# --- Exercises 5 and 6: decoding ---------------------------------------------------------------------------------

def test_greedy_decoder_not_compiled(solution):
    def make(model, start_id, end_id, max_length):
        return solution["make_greedy_decoder"](model, start_id, end_id, max_length).python_function

    fails_with("@tf.function", checks.check_greedy_decoder, make)


@pytest.mark.slow
def test_greedy_decoder_that_keeps_going_after_the_end():
    def make(model, start_id, end_id, max_length):
        @tf.function
        def decode(source):
            states, state, mask = model.encode(source)
            tokens = tf.fill([tf.shape(source)[0]], start_id)
            steps = []
            for _ in range(max_length):
                logits, state, _ = model.decode_step(tokens, state, states, mask)
                tokens = tf.argmax(logits, axis=-1, output_type=tf.int32)
                steps.append(tokens)
            return tf.stack(steps, axis=1)

        return decode

    fails_with("after the end token a row should only get 0", checks.check_greedy_decoder, make, seed=1)


@pytest.mark.slow
def test_beam_search_without_length_normalisation(solution):
    def unnormalised(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        return solution["beam_search"](step_fn, initial_state, start_id, end_id, beam_width, max_length, 0.0)

    fails_with(r"with alpha=0.7|length \*\* alpha", checks.check_beam_search, unnormalised)


@pytest.mark.slow
def test_beam_search_that_goes_on_after_the_end(solution):
    def never_finishing(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        return solution["beam_search"](step_fn, initial_state, start_id, -1, beam_width, max_length, alpha)  # extends past the end

    fails_with("with beam_width=1 beam search should be greedy decoding", checks.check_beam_search, never_finishing)


def test_attention_that_squeezes_every_axis_of_one(solution):
    class SqueezeAll(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            projected = ops.tanh(ops.matmul(query, self.query_kernel)[:, :, None] + ops.matmul(keys, self.key_kernel)[:, None])
            scores = ops.squeeze(ops.matmul(projected, self.score_vector[:, None]))  # no axis: one query step loses its axis too
            if mask is not None:
                scores = ops.where(ops.cast(mask, "bool")[:, None, :], scores, -1e9)
            weights = ops.softmax(scores, axis=-1)
            return ops.matmul(weights, keys), weights

    fails_with("one query step", checks.check_attention, SqueezeAll)


@pytest.mark.slow
def test_train_step_with_an_unmasked_loss_is_not_blamed_on_dropout(solution):
    def make(model, optimizer):
        @tf.function
        def train_step(source, decoder_input, decoder_target):
            with tf.GradientTape() as tape:
                logits = model(source, decoder_input, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(decoder_target, logits, from_logits=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return train_step

    fails_with(r"^(?!.*dropout).*(masked_loss\(decoder_target, logits\)|gradients of your masked loss)", checks.check_train_step, make)


@pytest.mark.slow
def test_beam_search_that_does_not_reorder_the_states(solution):
    def stale_states(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        previous = {}

        def in_creation_order(tokens, state):  # each beam gets the state of the beam that had its place before
            log_probs, new_state = step_fn(tokens, previous.get("state", state))
            previous["state"] = new_state
            return log_probs, new_state

        return solution["beam_search"](in_creation_order, initial_state, start_id, end_id, beam_width, max_length, alpha)

    fails_with("the best is|should be greedy decoding|the score of", checks.check_beam_search, stale_states)
