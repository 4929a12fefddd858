"""The Lab 2 checks pass the reference solution and catch typical mistakes with a useful message.

Mistakes are judged as the grader judges them (``fails_with``: the probe, then an expectation computed afresh by the
private references); the notebook's self-checks, which read stored expectations, are tried at the end.
"""

import string

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from helpers import fails_with, judged, solution_namespace
from keras import ops

from autograde.cells import is_test
from autograde.grading.judge import Setup, judge, judged_params, plan_test_cell, probe_code
from autograde.grading.references import expected_path, stored_differences
from course_utils.checks import CheckFailed, lab2 as checks
from course_utils.checks.probing import decode
from course_utils.vocab import Vocabulary

LAB = "lab2_music_generation"


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, LAB)


def test_reference_solution_passes_every_check(solution):
    judged(
        checks.check_vectorize,
        solution["vectorize_string"],
        solution["ids_to_string"],
        vocab_size=10,
        length=30,
        seed=5,
    )
    judged(checks.check_get_batch, solution["get_batch"], data_length=300, seq_length=12, batch_size=5, seed=5)
    judged(checks.check_build_model, solution["build_model"], vocab_size=9, embedding_dim=4, rnn_units=6, seed=5)
    judged(checks.check_loss, solution["compute_loss"], seed=5)
    model = solution["build_model"](40, 16, 32)
    x, y = solution["get_batch"](np.arange(1000) % 40, 50, 4)
    judged(checks.check_untrained_loss, solution["compute_loss"], model, x, y, 40)
    judged(checks.check_train_step, solution["make_train_step"], solution["build_model"], seed=5)
    judged(checks.check_sample_next, solution["sample_next"], vocab_size=4, seed=5)
    judged(checks.check_sample_in_time, solution["sample_in_time"], vocab_size=9, seed=5)
    judged(checks.check_generate, solution["generate_ids"], seed=5)


def test_vectorize_returning_a_list(solution):
    fails_with(
        "should return a numpy array, got list",
        checks.check_vectorize,
        lambda s, c: [c[ch] for ch in s],
        solution["ids_to_string"],
    )


def test_vectorize_off_by_one(solution):
    fails_with(
        r"character 0 of the text is .* whose id is",
        checks.check_vectorize,
        lambda s, c: np.array([c[ch] + 1 for ch in s]),
        solution["ids_to_string"],
    )


def test_ids_to_string_returning_a_list(solution):
    fails_with(
        "should return a str",
        checks.check_vectorize,
        solution["vectorize_string"],
        lambda ids, chars: [chars[i] for i in ids],
    )


def test_batch_with_y_equal_to_x(solution):
    def same(data, seq_length, batch_size, rng=None):
        x, _ = solution["get_batch"](data, seq_length, batch_size, rng)
        return x, x.copy()

    fails_with("y equals x", checks.check_get_batch, same)


def test_batch_shifted_the_wrong_way(solution):
    def backwards(data, seq_length, batch_size, rng=None):
        x, _ = solution["get_batch"](data[1:], seq_length, batch_size, rng)
        starts = [int(np.flatnonzero(data == row[0])[0]) for row in x]
        return x, np.stack([data[i - 1 : i - 1 + seq_length] for i in starts])

    fails_with("y should be x shifted one character ahead", checks.check_get_batch, backwards)


def test_batch_always_from_the_start():
    def fixed(data, seq_length, batch_size, rng=None):
        if len(data) <= seq_length:
            raise ValueError("too short")
        x = np.stack([data[:seq_length]] * batch_size)
        return x, np.stack([data[1 : seq_length + 1]] * batch_size)

    fails_with("started at only 1 different positions", checks.check_get_batch, fixed)


def test_batch_never_using_the_last_window():
    def one_short(data, seq_length, batch_size, rng=None):
        if len(data) <= seq_length:
            raise ValueError("too short")
        starts = np.random.default_rng().integers(0, len(data) - seq_length - 1, size=batch_size)
        return np.stack([data[i : i + seq_length] for i in starts]), np.stack(
            [data[i + 1 : i + seq_length + 1] for i in starts]
        )

    fails_with(r"the possible starts are 0 and 1 .* yours were \[0\]", checks.check_get_batch, one_short)


def test_batch_that_accepts_too_short_data(solution):
    def no_guard(data, seq_length, batch_size, rng=None):
        if len(data) <= seq_length:
            return np.zeros((batch_size, seq_length), int), np.zeros((batch_size, seq_length), int)
        return solution["get_batch"](data, seq_length, batch_size, rng)

    fails_with("too short .* raise ValueError", checks.check_get_batch, no_guard)


def test_batch_whose_only_guard_is_numpys_own_error(solution):
    def numpy_guard(data, seq_length, batch_size, rng=None):
        rng = rng or np.random.default_rng()
        starts = rng.integers(0, len(data) - seq_length, size=batch_size)  # high <= 0 raises inside numpy
        x = np.stack([data[i : i + seq_length] for i in starts])
        return x, np.stack([data[i + 1 : i + seq_length + 1] for i in starts])

    fails_with(
        "the ValueError came from inside a library .* check the length first", checks.check_get_batch, numpy_guard
    )


def test_batch_that_refuses_data_just_long_enough(solution):
    def strict(data, seq_length, batch_size, rng=None):
        if len(data) <= seq_length + 1:
            raise ValueError(f"the text has {len(data)} characters; it needs more than {seq_length + 1}")
        return solution["get_batch"](data, seq_length, batch_size, rng)

    fails_with("there is exactly one window, starting at 0", checks.check_get_batch, strict)


def model_with(lstm=None, activation=None, stateful_batch=None):
    def build(vocab_size, embedding_dim, rnn_units):
        layers = [
            keras.Input(shape=(None,), dtype="int32", batch_size=stateful_batch),
            keras.layers.Embedding(vocab_size, embedding_dim),
            lstm(rnn_units)
            if lstm
            else keras.layers.LSTM(rnn_units, return_sequences=True, stateful=bool(stateful_batch)),
            keras.layers.Dense(vocab_size, activation=activation),
        ]
        return keras.Sequential(layers)

    return build


def test_model_with_softmax_output():
    fails_with("raw logits .* applies softmax", checks.check_build_model, model_with(activation="softmax"))


def test_model_returning_only_the_last_step():
    fails_with(
        r"expected shape \(2, 7, 30\), got \(2, 30\)",
        checks.check_build_model,
        model_with(lstm=lambda units: keras.layers.LSTM(units)),
    )


def test_stateful_model_with_a_fixed_batch():
    fails_with("any batch size", checks.check_build_model, model_with(stateful_batch=2))


def test_model_without_a_dropout_argument():
    fails_with("should take a dropout argument", checks.check_build_model, model_with())


def test_model_ignoring_dropout(solution):
    def no_dropout(vocab_size, embedding_dim, rnn_units, dropout=0.0):
        return model_with()(vocab_size, embedding_dim, rnn_units)

    fails_with(r"one keras.layers.Dropout\(0.5\) .* rates were \[\]", checks.check_build_model, no_dropout)


def test_model_with_a_simple_rnn():
    fails_with(
        "Embedding, LSTM, Dropout, Dense; got .*SimpleRNN",
        checks.check_build_model,
        model_with(lstm=lambda units: keras.layers.SimpleRNN(units, return_sequences=True)),
    )


def stacked_with(mistake):
    """build_model with num_layers, written with one mistake (None: right)."""

    def build(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1):
        layers = [keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(vocab_size, embedding_dim)]
        for number in range(1 if mistake == "one layer" else num_layers):
            layers.append(keras.layers.LSTM(rnn_units, return_sequences=True))
            if mistake != "dropout once" or number == num_layers - 1:
                layers.append(keras.layers.Dropout(dropout))
        return keras.Sequential(layers + [keras.layers.Dense(vocab_size)])

    return build


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("one layer", r"num_layers=2 the model should stack 2 LSTM layer\(s\).* it has 1"),
        (
            "dropout once",
            r"a keras.layers.Dropout\(0.5\) after each of its 2 LSTM layers; its Dropout rates were \[0.5\]",
        ),
    ],
)
def test_stacked_model_mistakes(mistake, message):
    fails_with(message, checks.check_build_model, stacked_with(mistake), num_layers=2, seed=1)


def test_stacked_model_passes_and_one_layer_is_not_enough(solution):
    judged(
        checks.check_build_model,
        solution["build_model"],
        vocab_size=11,
        embedding_dim=9,
        rnn_units=4,
        num_layers=3,
        seed=2,
    )
    judged(checks.check_build_model, stacked_with(None), num_layers=2, seed=1)
    fails_with("should take a num_layers argument", checks.check_build_model, model_with(), num_layers=2, seed=1)


class _SoftmaxModel(keras.Model):
    """The right layers and parameter count, but call returns probabilities: passed before the model's class was checked."""

    def __init__(self, vocab_size, embedding_dim, rnn_units, dropout, num_layers):
        super().__init__()
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)
        self.stack = []
        for _ in range(num_layers):
            self.stack += [keras.layers.LSTM(rnn_units, return_sequences=True), keras.layers.Dropout(dropout)]
        self.dense = keras.layers.Dense(vocab_size)

    def call(self, ids, training=False):
        x = self.embedding(ids)
        for layer in self.stack:
            x = layer(x, training=training)
        return ops.softmax(self.dense(x))


def test_subclassed_model_returning_probabilities():
    def build(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1):
        return _SoftmaxModel(vocab_size, embedding_dim, rnn_units, dropout, num_layers)

    fails_with(
        "should return a keras.Sequential .* got a _SoftmaxModel", checks.check_build_model, build, num_layers=2, seed=1
    )


@pytest.mark.parametrize("where", ["before each LSTM", "all at the end"])
def test_stacked_model_with_its_dropouts_elsewhere(where):
    def build(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1):
        lstms = [keras.layers.LSTM(rnn_units, return_sequences=True) for _ in range(num_layers)]
        dropouts = [keras.layers.Dropout(dropout) for _ in range(num_layers)]
        middle = [x for pair in zip(dropouts, lstms) for x in pair] if where == "before each LSTM" else lstms + dropouts
        head = [keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(vocab_size, embedding_dim)]
        return keras.Sequential(head + middle + [keras.layers.Dense(vocab_size)])

    fails_with("in that order .* got Embedding, ", checks.check_build_model, build, num_layers=2, seed=1)


def sequential_model(lstm_settings=lambda dropout: {}, embedding_settings=None):
    """build_model as the exercise asks, with settings of its own for each LSTM (from the dropout rate) and the
    Embedding: the right layers, in order, whatever the settings compute."""

    def build(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1):
        layers = [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim, **(embedding_settings or {})),
        ]
        for _ in range(num_layers):
            layers += [
                keras.layers.LSTM(rnn_units, return_sequences=True, **lstm_settings(dropout)),
                keras.layers.Dropout(dropout),
            ]
        return keras.Sequential(layers + [keras.layers.Dense(vocab_size)])

    return build


@pytest.mark.parametrize(
    "lstm_settings",
    [
        {"go_backwards": True},
        {"activation": "relu"},
        {"recurrent_activation": "hard_sigmoid"},
        {"unit_forget_bias": False},
    ],
)
def test_model_computing_something_else_with_the_right_layers(lstm_settings):
    # Layers, settings the probe reads and parameter count all right: only the logits with the check's weights tell.
    # (unit_forget_bias only changes the initial bias, which the check's weights replace: it must pass.)
    build = sequential_model(lambda dropout: lstm_settings)
    if lstm_settings == {"unit_forget_bias": False}:
        judged(checks.check_build_model, build, num_layers=2, seed=1)
    else:
        fails_with(
            "your model's logits, with the weights the check set, differ", checks.check_build_model, build, seed=3
        )


@pytest.mark.parametrize("lstm_dropout", [{"dropout": "rate"}, {"recurrent_dropout": "rate"}])
def test_model_with_the_lstms_own_dropout_besides_the_dropout_layers(lstm_dropout):
    # Right layers, rates and order, and right at inference and in the dropout-free training step: only the LSTMs'
    # settings tell (passed every check before they were read).
    build = sequential_model(lambda dropout: {name: dropout for name in lstm_dropout})
    fails_with(
        "the LSTM layers should keep their own dropout and recurrent_dropout at 0",
        checks.check_build_model,
        build,
        seed=2,
    )


def test_model_masking_id_zero():
    # Id 0 is a character (the check's ids always hold one): a masking Embedding skips it and computes something else.
    build = sequential_model(embedding_settings={"mask_zero": True})
    for seed in range(3):
        fails_with("the Embedding mask nothing", checks.check_build_model, build, vocab_size=83, seed=seed)


def test_functional_model_is_told_to_be_sequential(solution):
    def build(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1):
        return keras.Model(
            *_functional(solution["build_model"](vocab_size, embedding_dim, rnn_units, dropout, num_layers))
        )

    fails_with(
        "should return a keras.Sequential of the layers Embedding, LSTM, Dropout, Dense, got a Functional",
        checks.check_build_model,
        build,
    )


def _functional(sequential):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = inputs
    for layer in sequential.layers:
        x = layer(x)
    return inputs, x


def test_loss_summed():
    fails_with(
        "sum over all characters",
        checks.check_loss,
        lambda y, logits: tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)),
    )


def test_loss_without_from_logits():
    fails_with(
        "from_logits=True",
        checks.check_loss,
        lambda y, logits: tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits)),
    )


def test_loss_per_step():
    fails_with(
        "one number",
        checks.check_loss,
        lambda y, logits: keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True),
    )


def test_untrained_loss_far_from_uniform(solution):
    model = solution["build_model"](40, 16, 32)
    model.set_weights([w * 20 for w in model.get_weights()])
    x = np.random.default_rng(0).integers(0, 40, size=(4, 30))
    fails_with(r"close to|ln\(40\)", checks.check_untrained_loss, solution["compute_loss"], model, x, x, 40)


def make_step(solution, clip=True, compiled=True, returns_norm=True, training=True):
    def make_train_step(model, optimizer, max_norm=1.0):
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = solution["compute_loss"](y, model(x, training=training) if training is not None else model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            norm = tf.linalg.global_norm(grads)
            if clip == "per-tensor":
                grads = [tf.clip_by_norm(g, max_norm) for g in grads]
            elif clip:
                grads, _ = tf.clip_by_global_norm(grads, max_norm)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return (loss, norm) if returns_norm else loss

        return tf.function(train_step) if compiled else train_step

    return make_train_step


def test_train_step_without_clipping(solution):
    fails_with(
        "with clipping.*clip all gradients together by their global norm",
        checks.check_train_step,
        make_step(solution, clip=False),
        solution["build_model"],
    )


def test_train_step_clipping_each_tensor(solution):
    fails_with(
        "with clipping.*global norm",
        checks.check_train_step,
        make_step(solution, clip="per-tensor"),
        solution["build_model"],
    )


@pytest.mark.parametrize("training", [None, False], ids=["model(x)", "training=False"])
def test_train_step_in_inference_mode(solution, training):
    # The step is tried on build_model(vocab_size, 4, 6), without dropout, so its update matches the reference: only the
    # layer that records the training flag sees this mistake (dropout silently off in training).
    fails_with(
        "calls the model in inference mode: call model\\(x, training=True\\)",
        checks.check_train_step,
        make_step(solution, training=training),
        solution["build_model"],
    )


@pytest.mark.parametrize("call", ["model.call", "layers"])
def test_train_step_calling_the_model_another_way_passes(solution, call):
    # model.call(x, training=True), or each layer in turn, is a correct step; the probe layer's name must not break it.
    def forward(model, x):
        if call == "model.call":
            return model.call(x, training=True)
        for layer in model.layers:
            x = layer(x, training=True)
        return x

    def make_train_step(model, optimizer, max_norm=1.0):
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = solution["compute_loss"](y, forward(model, x))
            grads = tape.gradient(loss, model.trainable_variables)
            clipped, norm = tf.clip_by_global_norm(grads, max_norm)
            optimizer.apply_gradients(zip(clipped, model.trainable_variables))
            return loss, norm

        return train_step

    checks.check_train_step(make_train_step, solution["build_model"])


def test_train_step_on_a_model_of_another_architecture_says_so_before_comparing(solution):
    def with_a_gru(vocab_size, embedding_dim, rnn_units, dropout=0.0):
        return model_with(lstm=lambda units: keras.layers.GRU(units, return_sequences=True))(
            vocab_size, embedding_dim, rnn_units
        )

    fails_with(
        "tried on build_model\\(11, 4, 6\\), whose weights have shapes .* make build_model pass its test first",
        checks.check_train_step,
        solution["make_train_step"],
        with_a_gru,
    )


def test_train_step_not_compiled(solution):
    fails_with("@tf.function", checks.check_train_step, make_step(solution, compiled=False), solution["build_model"])


def test_train_step_returning_only_the_loss(solution):
    fails_with(
        r"\(loss, global_norm\)",
        checks.check_train_step,
        make_step(solution, returns_norm=False),
        solution["build_model"],
    )


def test_train_step_that_never_updates(solution):
    def make_train_step(model, optimizer, max_norm=1.0):
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = solution["compute_loss"](y, model(x, training=True))
            return loss, tf.linalg.global_norm(tape.gradient(loss, model.trainable_variables))

        return train_step

    fails_with("did not change the weights", checks.check_train_step, make_train_step, solution["build_model"])


def test_sampling_with_argmax():
    fails_with("always picks the same id", checks.check_sample_next, lambda logits, t: tf.argmax(logits, axis=-1))


def test_sampling_multiplying_by_the_temperature():
    fails_with(
        "divide the logits by the temperature",
        checks.check_sample_next,
        lambda logits, t: tf.random.categorical(logits * t, 1)[:, 0],
    )


def test_sampling_from_probabilities():
    fails_with(
        "takes logits, not probabilities",
        checks.check_sample_next,
        lambda logits, t: tf.random.categorical(tf.nn.softmax(logits / t), 1)[:, 0],
    )


def test_sampling_with_the_wrong_shape():
    fails_with(r"take \[:, 0\]", checks.check_sample_next, lambda logits, t: tf.random.categorical(logits / t, 1))


def test_sampling_with_numpy():
    def numpy_sampler(logits, t):
        p = np.exp(logits.numpy() / t)
        return np.array([np.random.choice(len(row), p=row / row.sum()) for row in p])

    fails_with("inside tf.function", checks.check_sample_next, numpy_sampler)


# --- refusing delegation: the exercise may not call the function it asks for ------------------------------


def test_vectorize_with_the_course_vocabulary_is_refused(solution):
    def vectorize_string(string, char2idx):
        return Vocabulary(list(char2idx)).encode(string)

    def ids_to_string(ids, idx2char):
        return Vocabulary(list(idx2char)).decode(ids)

    refused = "calls course_utils.vocab.Vocabulary, which is the exercise itself: look up each"
    fails_with(
        f"^vectorize_string {refused} character", checks.check_vectorize, vectorize_string, solution["ids_to_string"]
    )
    fails_with(f"^ids_to_string {refused} id", checks.check_vectorize, solution["vectorize_string"], ids_to_string)


def test_vectorize_with_numpy_passes_where_the_vocabulary_is_refused(solution):
    def vectorize_string(string, char2idx):
        return np.fromiter(map(char2idx.__getitem__, string), dtype=np.int64, count=len(string))

    checks.check_vectorize(vectorize_string, solution["ids_to_string"])
    fails_with(
        "^vectorize_string calls course_utils.vocab.Vocabulary",
        checks.check_vectorize,
        lambda s, c: Vocabulary(list(c)).encode(s),
        solution["ids_to_string"],
    )


def test_gumbel_max_sampling_passes():
    def gumbel_max(logits, temperature):
        noise = -tf.math.log(-tf.math.log(tf.random.uniform(tf.shape(logits), 1e-20, 1.0)))
        return tf.argmax(logits / temperature + noise, axis=-1, output_type=tf.int32)

    checks.check_sample_next(gumbel_max)


# The generation loop: a loop that forgets its state, skips the start text, recomputes the whole text, applies dropout,
# drops the temperature or returns other ids each fails with a message that names the mistake.
def _loop(model, start_ids, length, temperature, sample_fn, carry=True, dropout=False, temperature_used=None):
    embedding, lstm, dropout_layer, dense = model.layers
    zero = [tf.zeros((1, lstm.units)), tf.zeros((1, lstm.units))]
    state = zero
    for i in start_ids:
        output, state = lstm.cell(embedding(tf.constant([i])), state)
    generated = []
    for _ in range(length):
        logits = dense(dropout_layer(output, training=True) if dropout else output)
        generated.append(
            int(np.asarray(sample_fn(logits, temperature if temperature_used is None else temperature_used))[0])
        )
        output, state = lstm.cell(embedding(tf.constant([generated[-1]])), state if carry else zero)
    return np.array(generated)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (
            lambda m, s, n, t, f: _loop(m, s, n, t, f, carry=False),
            "draw 1 saw only the previous character, from a fresh state",
        ),
        (
            lambda m, s, n, t, f: _loop(m, s[-1:], n, t, f),
            "the first draw saw only the last character of the start text",
        ),
        (lambda m, s, n, t, f: _loop(m, s, n, t, f, dropout=True), "Dropout must drop nothing while generating"),
        (
            lambda m, s, n, t, f: _loop(m, s, n, t, f, temperature_used=1.0),
            "got temperature \\[1.0\\], not the temperature=0.7",
        ),
        (lambda m, s, n, t, f: _loop(m, s, n + 1, t, f)[1:], "sample_fn was called 13 times for length=12"),
        (
            lambda m, s, n, t, f: np.argmax(np.eye(7)[_loop(m, s, n, t, f)], axis=1)[::-1],
            "should return the ids sample_fn drew, in order",
        ),
    ],
)
def test_generation_loop_mistakes(wrong, message):
    fails_with(message, checks.check_generate, wrong)


def _recompute_with_the_model(model, start_ids, length, temperature, sample_fn):
    ids = list(start_ids)
    for _ in range(length):
        ids.append(int(np.asarray(sample_fn(model(np.array([ids]))[:, -1], temperature))[0]))
    return np.array(ids[len(start_ids) :])


def _recompute_with_the_layers(model, start_ids, length, temperature, sample_fn):
    embedding, lstm, _, dense = model.layers
    ids = list(start_ids)
    for _ in range(length):
        ids.append(int(np.asarray(sample_fn(dense(lstm(embedding(np.array([ids]))))[:, -1], temperature))[0]))
    return np.array(ids[len(start_ids) :])


def _course_sampler(model, start_ids, length, temperature, sample_fn):
    from course_utils.sampling import CharSampler

    return CharSampler(model, sample_fn)(start_ids, length, 1, temperature)[0]


@pytest.mark.parametrize(
    "delegating, what",
    [
        (_recompute_with_the_model, "the whole model"),
        (_recompute_with_the_layers, "the LSTM layer over a sequence"),
        (_course_sampler, "course_utils.sampling"),
    ],
)
def test_generation_that_recomputes_or_delegates_is_refused(delegating, what):
    fails_with(f"generate_ids calls {what}", checks.check_generate, delegating)


def _recompute_with_the_cell(model, start_ids, length, temperature, sample_fn):
    embedding, lstm, _, dense = model.layers
    ids = list(start_ids)
    for _ in range(length):
        state = [tf.zeros((1, lstm.units)), tf.zeros((1, lstm.units))]
        for i in ids:
            output, state = lstm.cell(embedding(tf.constant([i])), state)
        ids.append(int(np.asarray(sample_fn(dense(output), temperature))[0]))
    return np.array(ids[len(start_ids) :])


def _zeroes_the_output_layer(model, start_ids, length, temperature, sample_fn):
    dense = model.layers[-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    return np.array([int(np.asarray(sample_fn(np.zeros((1, dense.units)), temperature))[0]) for _ in range(length)])


def test_recomputing_the_text_with_the_cell_is_refused():
    fails_with(
        "the LSTM cell took 126 steps for a 5-character start and 12 draws",
        checks.check_generate,
        _recompute_with_the_cell,
    )


def test_changing_the_model_is_refused():
    fails_with("generate_ids changed the model's weights", checks.check_generate, _zeroes_the_output_layer)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda logits, t: logits / t, "already divided by the temperature"),
        (lambda logits, t: tf.nn.softmax(logits), "sample_fn got probabilities"),
    ],
)
def test_logits_changed_before_sampling_are_named(solution, change, message):
    def wrong(model, start_ids, length, temperature, sample_fn):
        return solution["generate_ids"](
            model, start_ids, length, temperature, lambda logits, t: sample_fn(change(logits, t), t)
        )

    fails_with(message, checks.check_generate, wrong)


@pytest.mark.parametrize("variant", ["log_softmax", "float32 temperature"])
def test_equivalent_generation_loops_pass(solution, variant):
    def loop(model, start_ids, length, temperature, sample_fn):
        if variant == "log_softmax":
            return solution["generate_ids"](
                model, start_ids, length, temperature, lambda logits, t: sample_fn(tf.nn.log_softmax(logits), t)
            )
        return solution["generate_ids"](model, start_ids, length, np.float32(temperature), sample_fn)

    checks.check_generate(loop)


def test_a_loop_inside_tf_function_is_told_to_run_eagerly(solution):
    def compiled(model, start_ids, length, temperature, sample_fn):
        embedding, lstm, _, dense = model.layers

        @tf.function
        def draw(output):
            return sample_fn(dense(output), temperature)

        state = [tf.zeros((1, lstm.units)), tf.zeros((1, lstm.units))]
        for i in start_ids:
            output, state = lstm.cell(embedding(tf.constant([i])), state)
        return np.array([int(draw(output)[0]) for _ in range(length)])

    fails_with("must run in plain \\(eager\\) Python, not inside tf.function", checks.check_generate, compiled)


def _allowed(fill, closes):
    return (fill <= 1.0) & (~closes | (fill == 1.0))


def _masking_after_sampling(logits, t, fill, closes):
    allowed = _allowed(fill, closes)
    ids = tf.random.categorical(logits / t, 1, dtype=tf.int32)[:, 0]
    best = tf.argmax(tf.where(allowed, logits, -np.inf), axis=-1, output_type=tf.int32)
    return tf.where(tf.gather(allowed, ids, batch_dims=1), ids, best)


IN_TIME_MISTAKES = {
    "masks nothing": lambda logits, t, fill, closes: tf.random.categorical(logits / t, 1)[:, 0],
    "lets a bar line close a bar that is not full": lambda logits, t, fill, closes: tf.random.categorical(
        tf.where(fill <= 1.0, logits / t, -np.inf), 1
    )[:, 0],
    "lets a note overflow the bar": lambda logits, t, fill, closes: tf.random.categorical(
        tf.where(~closes | (fill == 1.0), logits / t, -np.inf), 1
    )[:, 0],
    "forbids characters that fill the bar exactly": lambda logits, t, fill, closes: tf.random.categorical(
        tf.where(tf.where(closes, fill == 1.0, fill < 1.0), logits / t, -np.inf), 1
    )[:, 0],
    "sets forbidden logits to 0": lambda logits, t, fill, closes: tf.random.categorical(
        logits / t * tf.cast(_allowed(fill, closes), tf.float32), 1
    )[:, 0],
    "takes logits, not probabilities": lambda logits, t, fill, closes: tf.random.categorical(
        tf.nn.softmax(tf.where(_allowed(fill, closes), logits / t, -np.inf)), 1
    )[:, 0],
    "masks after sampling": _masking_after_sampling,
    "multiplies the logits by the temperature": lambda logits, t, fill, closes: tf.random.categorical(
        tf.where(_allowed(fill, closes), logits * t, -np.inf), 1
    )[:, 0],
    r"take \[:, 0\]": lambda logits, t, fill, closes: tf.random.categorical(
        tf.where(_allowed(fill, closes), logits / t, -np.inf), 1
    ),
    "fails inside tf.function": lambda logits, t, fill, closes: np.argmax(np.asarray(logits), axis=-1),
}


@pytest.mark.parametrize("message", IN_TIME_MISTAKES)
def test_constrained_sampling_mistakes(message):
    fails_with(message, checks.check_sample_in_time, IN_TIME_MISTAKES[message], vocab_size=7, seed=3)


def test_constrained_sampling_with_a_large_negative_number_passes():
    def in_time(logits, t, fill, closes):
        return tf.random.categorical(tf.where(_allowed(fill, closes), logits / t, -1e9), 1)[:, 0]

    judged(checks.check_sample_in_time, in_time, vocab_size=7, seed=3)


@pytest.mark.parametrize("penalty", [5.0, 10.0])
def test_constrained_sampling_with_a_finite_penalty_fails(penalty):
    # logits - 5 * forbidden drew forbidden characters in some 0.7% of the draws yet was within 0.02 of every frequency.
    def in_time(logits, t, fill, closes):
        return tf.random.categorical(logits / t - penalty * tf.cast(~_allowed(fill, closes), logits.dtype), 1)[:, 0]

    fails_with(
        "not allowed: give them no probability at all", checks.check_sample_in_time, in_time, vocab_size=40, seed=3
    )


# --- the solution's test cells, as the grader judges them and as students run them ----------------------------------


def solution_test_cells(course):
    """(grade_id, source) of every test cell of the solution notebook, hidden tests included."""
    notebook = nbformat.read(course.solution_notebook(LAB), as_version=4)
    return [(cell.metadata["nbgrader"]["grade_id"], cell.source) for cell in notebook.cells if is_test(cell)]


@pytest.fixture(scope="module")
def cell_namespace(solution):
    """The solution's names, the checks module, and stand-ins for the notebook's data that test cells read."""
    vocab = Vocabulary(sorted(set(string.printable)))
    train_ids = np.random.default_rng(0).integers(0, len(vocab), size=5000)
    return {**solution, "checks": checks, "vocab": vocab, "train_ids": train_ids}


def judge_cell(namespace, grade_id, source, seed_key):
    """Runs a test cell as the grader does: setup statements in the "kernel" (``namespace``), each check call as the
    probe code the kernel would evaluate (with the seed drawn for ``seed_key``), its observations read back from JSON
    and judged here against a fresh expectation."""
    calls = iter(judged_params(LAB, source, seed_key=seed_key, grade_id=grade_id))
    for step in plan_test_cell(source):
        if isinstance(step, Setup):
            exec(step.source, namespace)
            continue
        call, params = next(calls)
        judge(LAB, call, params, decode(eval(probe_code(LAB, call, params), namespace)))


@pytest.mark.slow  # every visible and hidden call of the notebook, for three submissions (as Labs 3 and 4 mark theirs)
@pytest.mark.parametrize("seed_key", ["any", "another submission", "a third one"])
def test_the_solution_passes_every_visible_and_hidden_call_for_drawn_seeds(course, cell_namespace, seed_key):
    for grade_id, source in solution_test_cells(course):
        judge_cell(dict(cell_namespace), grade_id, source, seed_key)


def test_the_visible_test_cells_pass_from_stored_data_alone(course, cell_namespace, capsys):
    # What a student runs: the cells' visible part, each check reading its expectation from expected/lab2.json.
    for _, source in solution_test_cells(course):
        exec(source.split("### BEGIN HIDDEN TESTS")[0], dict(cell_namespace))
    printed = capsys.readouterr().out
    assert printed.count("\u2714") == sum(
        1
        for _, source in solution_test_cells(course)
        for step in plan_test_cell(source)
        if not isinstance(step, Setup) and not step.hidden
    )


def test_stored_expectations_are_those_of_the_references_and_small(course):
    assert stored_differences(course, LAB) == []
    assert expected_path(LAB).stat().st_size < 48_000


def _generation_mistake(solution, change):
    def wrong(model, start_ids, length, temperature, sample_fn):
        return solution["generate_ids"](
            model, start_ids, length, temperature, lambda logits, t: sample_fn(change(logits, t), t)
        )

    return wrong


@pytest.mark.parametrize(
    "mistake, message",
    [
        ("vectorize off by one", r"character 0 of the text is .* whose id is"),
        ("build_model with softmax", "raw logits .* applies softmax"),
        ("loss summed", "sum over all characters"),
        ("loss without from_logits", "from_logits=True"),
        ("train_step without clipping", "with clipping.*clip all gradients together by their global norm"),
        ("train_step clipping each tensor", "with clipping.*global norm"),
        ("sampling multiplying by the temperature", "divide the logits by the temperature"),
        ("sampling from probabilities", "takes logits, not probabilities"),
        ("generation forgetting its state", "draw 1 saw only the previous character, from a fresh state"),
        ("generation skipping the start", "the first draw saw only the last character of the start text"),
        ("generation dividing by the temperature", "already divided by the temperature"),
        ("generation giving probabilities", "sample_fn got probabilities"),
        ("constrained sampling masking nothing", "masks nothing"),
        ("constrained sampling closing a bar early", "lets a bar line close a bar that is not full"),
    ],
)
def test_catalogued_mistakes_are_caught_from_stored_data_alone(solution, mistake, message):
    # The visible test cells' arguments (the checks' defaults): the self-check reads the stored expectation.
    calls = {
        "vectorize off by one": lambda: checks.check_vectorize(
            lambda s, c: np.array([c[ch] + 1 for ch in s]), solution["ids_to_string"]
        ),
        "build_model with softmax": lambda: checks.check_build_model(model_with(activation="softmax")),
        "loss summed": lambda: checks.check_loss(
            lambda y, logits: tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        ),
        "loss without from_logits": lambda: checks.check_loss(
            lambda y, logits: tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits))
        ),
        "train_step without clipping": lambda: checks.check_train_step(
            make_step(solution, clip=False), solution["build_model"]
        ),
        "train_step clipping each tensor": lambda: checks.check_train_step(
            make_step(solution, clip="per-tensor"), solution["build_model"]
        ),
        "sampling multiplying by the temperature": lambda: checks.check_sample_next(
            lambda logits, t: tf.random.categorical(logits * t, 1)[:, 0]
        ),
        "sampling from probabilities": lambda: checks.check_sample_next(
            lambda logits, t: tf.random.categorical(tf.nn.softmax(logits / t), 1)[:, 0]
        ),
        "generation forgetting its state": lambda: checks.check_generate(
            lambda m, s, n, t, f: _loop(m, s, n, t, f, carry=False)
        ),
        "generation skipping the start": lambda: checks.check_generate(lambda m, s, n, t, f: _loop(m, s[-1:], n, t, f)),
        "generation dividing by the temperature": lambda: checks.check_generate(
            _generation_mistake(solution, lambda logits, t: logits / t)
        ),
        "generation giving probabilities": lambda: checks.check_generate(
            _generation_mistake(solution, lambda logits, t: tf.nn.softmax(logits))
        ),
        "constrained sampling masking nothing": lambda: checks.check_sample_in_time(IN_TIME_MISTAKES["masks nothing"]),
        "constrained sampling closing a bar early": lambda: checks.check_sample_in_time(
            IN_TIME_MISTAKES["lets a bar line close a bar that is not full"]
        ),
    }
    with pytest.raises(CheckFailed, match=message):
        calls[mistake]()


def test_a_self_check_with_other_arguments_says_it_has_no_stored_result(solution):
    fails = pytest.raises(CheckFailed, match="stored results only for the arguments its test cell uses")
    with fails:
        checks.check_loss(solution["compute_loss"], seed=5)


def test_the_public_module_computes_no_reference():
    # The expectations are the grader's (autograde.grading.references.lab2): the public module holds probes, comparisons and the
    # public input functions, and calls none of the references' functions (its messages may still name them).
    import ast
    import inspect

    from autograde.grading.references import lab2 as references

    for name in ("vectorize", "build_model", "loss", "train_step", "sample_next", "sample_in_time", "generate"):
        assert callable(getattr(references, f"expect_{name}"))
    called = set()
    for node in ast.walk(ast.parse(inspect.getsource(checks))):
        if isinstance(node, ast.Call):
            called.add(node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", ""))
    reference_calls = {
        "clip_by_global_norm",
        "SparseCategoricalCrossentropy",
        "sparse_categorical_crossentropy",
        "softmax",
        "encode",
        "decode",
        "expected_parameter_count",
        "GradientTape",
    }
    assert not called & reference_calls
    assert not [
        name
        for name in vars(checks)
        if name.startswith("_reference") or name in ("_twin_models", "expected_parameter_count")
    ]


def test_the_bar_fraction_question_is_what_the_rhythm_reader_measures():
    from autograde.grading.references import lab2 as references
    from course_utils.rhythm import BarConstraint

    tune = "X:1\nM:6/8\nL:1/8\nK:C\nc>d (3efg a/"  # the bar Question 2 asks about
    chars = sorted(set(tune) | {"|"})
    fill, _ = BarConstraint(chars).reset(tune, 1)
    assert fill[0, chars.index("|")] == pytest.approx(references.expect_answer("bar_fraction")["value"])
