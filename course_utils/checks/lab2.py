"""Self-checks for Lab 2, "Music generation with an LSTM".

Each check runs the student's code next to a reference (the course's ``Vocabulary``, Keras's own
cross-entropy, ``tf.clip_by_global_norm`` with a plain SGD update, the softmax of the tempered logits)
on random inputs, and fails with a message that points at the mistake. Visible test cells use one set
of sizes and seeds; the graders' hidden tests use others. The student's code runs under
``refuse_delegation``: it may not call the function the exercise asks for (the ``Exercise`` constants below).
"""
import os
import string
import sys
import traceback
from contextlib import contextmanager

import numpy as np
import tensorflow as tf
import keras

from course_utils.checks import CheckFailed, check_close, check_prediction, check_shape, fail, max_abs_diff, passed
from course_utils.checks.delegation import Exercise, Forbidden, refusing_delegation
from course_utils.vocab import Vocabulary

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
# compute_loss and make_train_step are built from Keras's loss and tf.clip_by_global_norm, as their TODOs say.
_VOCABULARY = Forbidden("course_utils.vocab.Vocabulary", "course_utils/vocab.py")
VECTORIZE_STRING = Exercise(
    "vectorize_string", hint="look up each character in char2idx yourself and return np.array(ids)", forbidden=(_VOCABULARY,)
)
IDS_TO_STRING = Exercise(
    "ids_to_string", hint="look up each id in idx2char yourself and join the characters", forbidden=(_VOCABULARY,)
)


GENERATE = Exercise(
    "generate_ids",
    hint="advance the LSTM's cell one character at a time (lstm.cell(x, state) returns the output and the new state), "
         "carrying the state; do not run the model or the LSTM layer over the whole text",
    forbidden=(
        Forbidden("course_utils.sampling (CharSampler, generate_text)", "course_utils/sampling.py"),
        Forbidden("the whole model, model(ids) or model.predict: that recomputes every step from the start",
                  "keras/src/models/sequential.py", "Sequential.call"),
        Forbidden("the whole model, model(ids) or model.predict", "keras/src/models/functional.py", "Functional.call"),
        Forbidden("the LSTM layer over a sequence (use its .cell for one step)", "keras/src/layers/rnn/rnn.py", "RNN.call"),
        Forbidden("the LSTM layer's loop over a sequence (use its .cell for one step)", "keras/src/layers/rnn/rnn.py", "RNN.inner_loop"),
        Forbidden("the LSTM layer's loop over a sequence (use its .cell for one step)", "keras/src/layers/rnn/lstm.py", "LSTM.inner_loop"),
        Forbidden("Keras's recurrent loop over a sequence (use the cell for one step)", "keras/src/backend/tensorflow/rnn.py"),
    ),
)


def _random_vocabulary(rng, size):
    alphabet = list(string.ascii_letters + string.digits + string.punctuation + " \n")
    return Vocabulary(sorted(rng.choice(alphabet, size=size, replace=False).tolist()))


def check_vectorize(vectorize_fn, to_text_fn, vocab_size=20, length=50, seed=0):
    """``vectorize_string(text, char2idx)`` and ``ids_to_string(ids, idx2char)`` against ``Vocabulary``."""
    rng = np.random.default_rng(seed)
    vectorize_fn = refusing_delegation(vectorize_fn, VECTORIZE_STRING)
    to_text_fn = refusing_delegation(to_text_fn, IDS_TO_STRING)
    vocab = _random_vocabulary(rng, vocab_size)
    text = "".join(rng.choice(vocab.chars, size=length))
    char2idx, idx2char = dict(vocab.index), np.array(vocab.chars)
    ids = vectorize_fn(text, char2idx)
    if not isinstance(ids, np.ndarray):
        fail(f"vectorize_string should return a numpy array, got {type(ids).__name__}: wrap the ids in np.array(...)")
    if not np.issubdtype(ids.dtype, np.integer):
        fail(f"vectorize_string should return integer ids, got dtype {ids.dtype}")
    check_shape("vectorize_string(text)", ids, (length,))
    expected = vocab.encode(text)
    if not np.array_equal(ids, expected):
        first = int(np.flatnonzero(ids != expected)[0])
        fail(f"character {first} of the text is {text[first]!r}, whose id is char2idx[{text[first]!r}] = {expected[first]}, got {ids[first]}")
    back = to_text_fn(expected, idx2char)
    if not isinstance(back, str):
        fail(f"ids_to_string should return a str, got {type(back).__name__}: join the characters with ''.join(...)")
    if back != text:
        fail(f"ids_to_string(vectorize_string(text)) should give the text back; it starts {back[:20]!r} instead of {text[:20]!r}")
    empty = vectorize_fn("", char2idx)
    if np.shape(empty) != (0,) or to_text_fn(np.zeros(0, dtype=int), idx2char) != "":
        fail("the empty string should map to an empty array (shape (0,)) and back to ''")
    passed(f"vectorize_string and ids_to_string round-trip a {length}-character text over a {vocab_size}-character vocabulary")


def _in_library(filename):
    """Whether an exception raised in ``filename`` came from numpy, TensorFlow, Keras or Python itself rather than the student."""
    libraries = [os.path.dirname(module.__file__) for module in (np, tf, keras, os)]
    return filename.endswith(".pyx") or any(filename.startswith(folder + os.sep) for folder in libraries)


def check_get_batch(get_batch_fn, data_length=500, seq_length=20, batch_size=16, seed=0):
    """``get_batch(vectorized, seq_length, batch_size)``: random windows x and the next characters y."""
    rng = np.random.default_rng(seed)
    data = rng.permutation(data_length).astype(np.int64)  # distinct values: every window has one start
    position_of = np.empty(data_length, dtype=np.int64)
    position_of[data] = np.arange(data_length)

    result = get_batch_fn(data, seq_length, batch_size)
    if not isinstance(result, tuple) or len(result) != 2:
        fail("get_batch should return a pair (x, y)")
    x, y = result
    for name, array in (("x", x), ("y", y)):
        if not isinstance(array, np.ndarray):
            fail(f"{name} should be a numpy array, got {type(array).__name__}")
        if not np.issubdtype(array.dtype, np.integer):
            fail(f"{name} should hold integer ids, got dtype {array.dtype}")
        check_shape(name, array, (batch_size, seq_length))
    starts = position_of[x[:, 0]]
    for row in range(batch_size):
        window = data[starts[row] : starts[row] + seq_length]
        if not np.array_equal(x[row], window):
            fail(f"row {row} of x is not {seq_length} consecutive characters of the data: take vectorized[i : i + seq_length]")
        if starts[row] + seq_length >= data_length:
            fail(f"row {row} of x starts at {starts[row]}, too late to have a next character for its last step")
        if np.array_equal(y[row], x[row]):
            fail("y equals x: y should be the same window shifted one character ahead, vectorized[i + 1 : i + seq_length + 1]")
        if not np.array_equal(y[row], data[starts[row] + 1 : starts[row] + seq_length + 1]):
            fail(f"row {row}: y should be x shifted one character ahead (the character that follows each input), vectorized[i + 1 : i + seq_length + 1]")

    many_starts = np.concatenate([position_of[get_batch_fn(data, seq_length, batch_size)[0][:, 0]] for _ in range(40)])
    last_start = data_length - seq_length - 1
    if len(np.unique(many_starts)) < min(10, last_start + 1):
        fail(f"over 40 batches x started at only {len(np.unique(many_starts))} different positions: draw each row's start at random")
    if many_starts.max() < 0.8 * last_start or many_starts.min() > 0.2 * last_start:
        fail(f"starts should cover 0..{last_start}; yours ranged over {many_starts.min()}..{many_starts.max()}")

    tiny = data[: seq_length + 2]  # exactly two possible starts: 0 and 1
    tiny_starts = {int(position_of[v]) for _ in range(20) for v in get_batch_fn(tiny, seq_length, 8)[0][:, 0]}
    if tiny_starts != {0, 1}:
        fail(f"with {len(tiny)} characters and seq_length={seq_length} the possible starts are 0 and 1 (the last target must exist); yours were {sorted(tiny_starts)}")

    shortest = data[: seq_length + 1]  # one window and its targets: just long enough
    try:
        starts = set(position_of[get_batch_fn(shortest, seq_length, 4)[0][:, 0]].tolist())
    except ValueError as error:
        fail(f"with {seq_length + 1} characters and seq_length={seq_length} there is exactly one window, starting at 0; yours raised ValueError: {error}")
    if starts != {0}:
        fail(f"with {seq_length + 1} characters and seq_length={seq_length} there is exactly one window, starting at 0; yours started at {sorted(starts)}")
    try:
        get_batch_fn(data[:seq_length], seq_length, batch_size)
    except ValueError as error:
        origin = traceback.extract_tb(error.__traceback__)[-1].filename
        if _in_library(origin):
            fail(
                f"a text of {seq_length} characters is too short for seq_length={seq_length}, and the ValueError came from inside "
                f"a library ({error}), not from your code: check the length first and raise ValueError saying what is wrong"
            )
    except Exception as error:
        fail(f"a text of {seq_length} characters is too short for seq_length={seq_length}: raise ValueError with a clear message, not {type(error).__name__}")
    else:
        fail(f"a text of {seq_length} characters is too short for seq_length={seq_length} (no target for the last step): raise ValueError saying so")
    passed(f"get_batch returns random windows of shape ({batch_size}, {seq_length}) with y = x shifted by one, and refuses too-short data")


def expected_parameter_count(vocab_size, embedding_dim, rnn_units):
    embedding = vocab_size * embedding_dim
    lstm = 4 * (embedding_dim * rnn_units + rnn_units * rnn_units + rnn_units)
    dense = rnn_units * vocab_size + vocab_size
    return embedding + lstm + dense


def check_build_model(build_fn, vocab_size=30, embedding_dim=8, rnn_units=16, seed=0):
    """``build_model(vocab_size, embedding_dim, rnn_units, dropout=0.0)``: Embedding -> LSTM -> Dropout -> Dense logits, stateless."""
    model = build_fn(vocab_size, embedding_dim, rnn_units)
    if not isinstance(model, keras.Model):
        fail(f"build_model should return a keras Model, got {type(model).__name__}")
    rng = np.random.default_rng(seed)
    for batch, steps in ((2, 7), (5, 3)):
        ids = rng.integers(0, vocab_size, size=(batch, steps)).astype("int32")
        try:
            out = model(ids)
        except Exception as error:
            fail(f"the model fails on ids of shape {(batch, steps)}: {type(error).__name__}: {str(error)[:200]}. "
                 "It should accept any batch size and length: keras.Input(shape=(None,), dtype='int32'), no fixed batch size")
        check_shape(f"logits for ids of shape {(batch, steps)}", out, (batch, steps, vocab_size))
    kinds = [type(layer).__name__ for layer in model.layers]
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    if len(lstms) != 1 or not isinstance(model.layers[0], keras.layers.Embedding):
        fail(f"expected the layers Embedding, LSTM, Dropout, Dense; got {', '.join(kinds)}")
    lstm = lstms[0]
    if lstm.units != rnn_units:
        fail(f"the LSTM should have rnn_units={rnn_units} units, got {lstm.units}")
    if lstm.stateful:
        fail("the LSTM should be stateless (stateful=False): every training window starts from a zero state, and so does generation")
    if not lstm.return_sequences:
        fail("the LSTM needs return_sequences=True: the model predicts the next character at every step")
    dense = model.layers[-1]
    if not isinstance(dense, keras.layers.Dense) or dense.units != vocab_size:
        fail(f"the last layer should be Dense(vocab_size={vocab_size})")
    if dense.activation not in (keras.activations.linear, None):
        fail(f"the Dense layer should output raw logits (no activation); it applies {dense.activation.__name__}")
    expected = expected_parameter_count(vocab_size, embedding_dim, rnn_units)
    if model.count_params() != expected:
        fail(f"expected {expected} parameters (Embedding {vocab_size}x{embedding_dim}, LSTM({rnn_units}) on {embedding_dim} inputs, Dense {rnn_units}->{vocab_size}), got {model.count_params()}")
    ids = rng.integers(0, vocab_size, size=(3, 6)).astype("int32")
    check_close("a second call on the same ids (a stateless model forgets between calls)", model(ids), model(ids))

    try:
        with_dropout = build_fn(vocab_size, embedding_dim, rnn_units, dropout=0.5)
    except TypeError:
        fail("build_model should take a dropout argument: build_model(vocab_size, embedding_dim, rnn_units, dropout=0.0)")
    rates = [layer.rate for layer in with_dropout.layers if isinstance(layer, keras.layers.Dropout)]
    if rates != [0.5]:
        fail(f"with dropout=0.5 the model should have one keras.layers.Dropout(0.5) between the LSTM and the Dense layer; its Dropout rates were {rates}")
    ids = rng.integers(0, vocab_size, size=(4, 10)).astype("int32")
    check_close("with dropout, two calls at inference (training=False)", with_dropout(ids, training=False), with_dropout(ids, training=False))
    if np.allclose(with_dropout(ids, training=True), with_dropout(ids, training=False)):
        fail("with dropout=0.5 the outputs in training mode equal those at inference: is the Dropout layer in the model?")
    passed(f"build_model({vocab_size}, {embedding_dim}, {rnn_units}) maps ids (batch, time) to logits (batch, time, {vocab_size}), stateless, with optional dropout")


def check_loss(loss_fn, batch=4, steps=9, vocab_size=12, seed=0):
    """``compute_loss(labels, logits)``: mean sparse categorical cross-entropy from logits."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, vocab_size, size=(batch, steps))
    logits = rng.normal(scale=2.0, size=(batch, steps, vocab_size)).astype("float32")
    expected = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    actual = loss_fn(tf.constant(labels), tf.constant(logits))
    if np.ndim(actual) != 0:
        fail(f"compute_loss should return one number (the mean over batch and time), got shape {np.shape(actual)}")
    actual = float(actual)
    if np.isclose(actual, expected * batch * steps, rtol=1e-4):
        fail("your loss is the sum over all characters; take the mean")
    treated_as_probabilities = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=False)))
    if np.isclose(actual, treated_as_probabilities, rtol=1e-4):
        fail("the model outputs logits, not probabilities: use from_logits=True")
    if not np.isclose(actual, expected, rtol=1e-4, atol=1e-5):
        fail(f"the mean cross-entropy should be {expected:.5f} nats, got {actual:.5f}")
    passed(f"compute_loss equals Keras's sparse categorical cross-entropy from logits ({expected:.4f} nats on random logits)")


def check_untrained_loss(loss_fn, model, x, y, vocab_size, tolerance=0.1):
    """An untrained model predicts nearly uniformly, so its loss is close to ln(vocab_size)."""
    loss = float(loss_fn(tf.constant(y), model(x)))
    uniform = float(np.log(vocab_size))
    if abs(loss - uniform) > tolerance:
        fail(f"the untrained model's loss is {loss:.3f}; a nearly uniform guess over {vocab_size} characters gives ln({vocab_size}) = {uniform:.3f}. "
             "Is the model freshly built, and does compute_loss take logits?")
    passed(f"untrained loss {loss:.3f} nats/char is close to ln({vocab_size}) = {uniform:.3f}: the model starts by guessing uniformly")


def _twin_models(build_fn, vocab_size, seed):
    keras.utils.set_random_seed(seed)
    model, twin = build_fn(vocab_size, 6, 10), build_fn(vocab_size, 6, 10)
    model(np.zeros((1, 1), "int32"))
    twin(np.zeros((1, 1), "int32"))
    twin.set_weights(model.get_weights())
    return model, twin


def _reference_step(model, x, y, learning_rate, max_norm):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, norm = tf.clip_by_global_norm(grads, max_norm)
    for variable, grad in zip(model.trainable_variables, clipped):
        variable.assign_sub(learning_rate * tf.convert_to_tensor(grad))  # the embedding gets IndexedSlices
    return float(loss), float(norm)


class _TrainingProbe(keras.layers.Layer):
    """Passes its input through and records whether it was called in training mode (read when traced)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def call(self, inputs, training=None):
        self.calls.append(bool(training))
        return inputs


def _check_training_mode(make_train_step_fn, vocab_size, x, y):
    """The step must call the model with training=True, or dropout is silently off during training."""
    # The layer name is a TensorFlow name scope when a step calls model.call() or the layers directly: no leading "_".
    probe = _TrainingProbe(name="training_probe")
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(vocab_size, 4), probe, keras.layers.Dense(vocab_size)])
    probe.calls.clear()  # building the model called it once, symbolically
    make_train_step_fn(model, keras.optimizers.SGD(0.1), 1.0)(x, y)
    if not probe.calls or not all(probe.calls):
        fail("train_step calls the model in inference mode: call model(x, training=True), or the Dropout layer does nothing while training")


def check_train_step(make_train_step_fn, build_fn, vocab_size=11, batch=3, steps=8, seed=0):
    """``make_train_step(model, optimizer, max_norm)`` returns a ``tf.function`` ``train_step(x, y) -> (loss, norm)``
    that applies one clipped update; compared with a reference on a twin model, using plain SGD."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.integers(0, vocab_size, size=(batch, steps)), tf.int32)
    y = tf.constant(rng.integers(0, vocab_size, size=(batch, steps)), tf.int32)
    learning_rate = 0.5
    for max_norm, case in ((100.0, "without clipping (max_norm above the gradient norm)"), (0.05, "with clipping (max_norm = 0.05)")):
        model, twin = _twin_models(build_fn, vocab_size, seed)
        train_step = make_train_step_fn(model, keras.optimizers.SGD(learning_rate), max_norm)
        if not hasattr(train_step, "get_concrete_function"):
            fail("make_train_step should return a function decorated with @tf.function (compiled), not a plain Python function")
        result = train_step(x, y)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("train_step should return (loss, global_norm): the loss before the update and the gradient norm before clipping")
        loss, norm = map(float, result)
        expected_loss, expected_norm = _reference_step(twin, x, y, learning_rate, max_norm)
        if not np.isclose(loss, expected_loss, rtol=1e-4):
            fail(f"{case}: the returned loss should be the cross-entropy before the update, {expected_loss:.5f}, got {loss:.5f}")
        if not np.isclose(norm, expected_norm, rtol=1e-3):
            fail(f"{case}: the returned norm should be the global norm of all gradients before clipping, {expected_norm:.5g}, got {norm:.5g}")
        unchanged = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), _twin_models(build_fn, vocab_size, seed)[0].get_weights()))
        if unchanged:
            fail("train_step did not change the weights: apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables))")
        worst = max(max_abs_diff(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))
        if worst > 1e-4:
            message = f"{case}: after one step the weights differ from the reference update by up to {worst:.3g}"
            if max_norm < 1:
                message += "; clip all gradients together by their global norm (tf.clip_by_global_norm), before applying them"
            fail(message)
    _check_training_mode(make_train_step_fn, vocab_size, x, y)
    passed("train_step computes the loss in training mode, clips the gradients by global norm and applies them, inside tf.function")


def _frequencies(ids, vocab_size):
    return np.bincount(np.asarray(ids).reshape(-1), minlength=vocab_size) / np.size(ids)


def check_sample_next(sample_fn, vocab_size=5, draws=20000, seed=0):
    """``sample_next(logits, temperature)``: draws from softmax(logits / temperature), one id per row.

    Compares the frequencies of many draws with the reference probabilities; with ``draws`` samples a
    correct sampler lands within 0.02 of every probability except with negligible chance.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=vocab_size).astype("float32")
    batch_logits = tf.constant(np.tile(logits, (draws, 1)))
    compiled = tf.function(sample_fn)
    for temperature in (1.0, 0.5, 2.0):
        try:
            ids = compiled(batch_logits, tf.constant(temperature))
        except Exception as error:
            fail(f"sample_next fails inside tf.function ({type(error).__name__}: {str(error)[:160]}); use TensorFlow ops such as tf.random.categorical")
        ids = np.asarray(ids)
        if ids.shape == (draws, 1):
            fail(f"sample_next should return shape (batch,) = ({draws},), got ({draws}, 1): take [:, 0]")
        check_shape("sample_next(logits) for logits of shape (batch, vocab)", ids, (draws,))
        if not np.issubdtype(ids.dtype, np.integer):
            fail(f"sample_next should return integer ids, got dtype {ids.dtype}")
        frequencies = _frequencies(ids, vocab_size)
        expected = tf.nn.softmax(logits / temperature).numpy()
        if np.max(np.abs(frequencies - expected)) > 0.02:
            if np.max(frequencies) > 0.999:
                fail("sample_next always picks the same id: sample with tf.random.categorical instead of taking the argmax")
            if np.max(np.abs(frequencies - tf.nn.softmax(logits * temperature).numpy())) < 0.02:
                fail(f"at temperature {temperature} the draws follow softmax(logits * temperature): divide the logits by the temperature")
            if np.max(np.abs(frequencies - tf.nn.softmax(tf.nn.softmax(logits / temperature)).numpy())) < 0.02:
                fail("tf.random.categorical takes logits, not probabilities: do not apply softmax first")
            fail(f"at temperature {temperature} the draws should follow softmax(logits / temperature) = {np.round(expected, 3)}; "
                 f"their frequencies were {np.round(frequencies, 3)}")
    passed(f"sample_next draws from softmax(logits / temperature) at temperatures 0.5, 1 and 2 ({draws} draws each)")


def _generation_model(vocab_size, seed):
    """A random Embedding -> LSTM -> Dropout -> Dense model of Part 4's shape, built here (not with the student's build_model)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocab_size, 6),
        keras.layers.LSTM(12, return_sequences=True, recurrent_initializer=keras.initializers.Orthogonal(gain=1.5)),
        keras.layers.Dropout(0.5),  # must do nothing while generating
        keras.layers.Dense(vocab_size),
    ])
    # Large weights: a state that is not carried, or not read from the start text, changes the logits clearly.
    model.set_weights([w * 3 for w in model.get_weights()])
    return model


_EAGER_ONLY = "generate_ids must run in plain (eager) Python, not inside tf.function: CharSampler, after this exercise, is the compiled version"


class _RecordingSampler:
    """A sample_next stand-in that records the logits and temperature it is given and draws from a seeded numpy generator."""

    def __init__(self, seed):
        self.rng, self.logits, self.temperatures, self.ids = np.random.default_rng(seed), [], [], []
        self.traced = False  # called while tf.function traced a graph

    def __call__(self, logits, temperature):
        if not tf.executing_eagerly():
            self.traced = True
            fail(_EAGER_ONLY)
        logits = np.asarray(logits, dtype=np.float64)
        self.logits.append(logits)
        self.temperatures.append(float(temperature))
        if logits.ndim != 2 or logits.shape[0] != 1:
            fail(f"sample_fn should get logits of shape (1, vocab) for one sequence, got {logits.shape}")
        probabilities = np.exp(logits[0] - logits[0].max())
        self.ids.append(int(self.rng.choice(len(probabilities), p=probabilities / probabilities.sum())))
        return tf.constant([self.ids[-1]], tf.int32)


class _CellSteps:
    """Counts the steps of one recurrent cell taken while it is active (a profile hook, so any way of calling it counts)."""

    def __init__(self, cell):
        self.code = type(cell).call.__code__
        self.count = 0

    @contextmanager
    def counting(self):
        previous = sys.getprofile()

        def hook(frame, event, arg):
            if event == "call" and frame.f_code is self.code:
                self.count += 1
            if previous is not None:
                previous(frame, event, arg)

        sys.setprofile(hook)
        try:
            yield
        finally:
            sys.setprofile(previous)


def _centred(logits):
    # log_softmax(logits) or logits - max(logits) sample the same ids as the logits: compare up to a constant.
    return logits - np.mean(logits)


def check_generate(generate_fn, vocab_size=7, start_length=5, length=12, seed=0):
    """``generate_ids(model, start_ids, length, temperature, sample_fn)``: one character at a time, the LSTM state carried.

    The sampling step is replaced by one that records the logits it gets; each must equal (up to a constant) the logits
    the whole model gives for the whole text so far (the start and everything generated), computed here from scratch.
    The LSTM cell may take at most one step per character: recomputing the whole text for every draw is refused.
    """
    rng = np.random.default_rng(seed)
    model = _generation_model(vocab_size, seed)
    weights = [w.copy() for w in model.get_weights()]
    start_ids = rng.integers(0, vocab_size, size=start_length).astype(np.int32)
    sampler = _RecordingSampler(seed)
    temperature = 0.7
    steps = _CellSteps(model.layers[1].cell)
    tensor_float_32 = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)  # GPUs: the reference and the loop in full float32
    try:
        with steps.counting():
            try:
                generated = refusing_delegation(generate_fn, GENERATE)(model, start_ids, length, temperature, sampler)
            except CheckFailed:
                raise
            except Exception:
                if sampler.traced:  # tf.function wraps the check's message in its own error
                    fail(_EAGER_ONLY)
                raise
        if any(not np.array_equal(before, after) for before, after in zip(weights, model.get_weights())):
            fail("generate_ids changed the model's weights: only read them")
        if len(sampler.logits) != length:
            fail(f"sample_fn was called {len(sampler.logits)} times for length={length}: call it once for every character generated")
        if steps.count > start_length + length:
            fail(f"the LSTM cell took {steps.count} steps for a {start_length}-character start and {length} draws: one step "
                 "per character is enough when the state is carried; do not recompute the text so far for every draw")
        if not np.allclose(sampler.temperatures, temperature, rtol=1e-6):
            fail(f"sample_fn got temperature {sorted(set(sampler.temperatures))}, not the temperature={temperature} given: pass it through")
        generated = np.asarray(generated)
        check_shape(f"generate_ids(..., length={length})", generated, (length,))
        if not np.issubdtype(generated.dtype, np.integer):
            fail(f"generate_ids should return integer ids, got dtype {generated.dtype}")
        if not np.array_equal(generated, sampler.ids):
            fail(f"generate_ids should return the ids sample_fn drew, in order: {sampler.ids}, got {generated.tolist()}")
        text = list(start_ids)
        for t, got in enumerate(sampler.logits):
            expected = model(np.array([text], np.int32), training=False)[0, -1].numpy()
            if max_abs_diff(_centred(got[0]), _centred(expected)) > 1e-3:
                _explain_wrong_logits(model, t, text, got[0], expected, temperature)
            text.append(sampler.ids[t])
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(tensor_float_32)
    passed(f"generate_ids reads a {start_length}-character start and draws {length} characters with the LSTM state carried")


def _explain_wrong_logits(model, t, text, got, expected, temperature):
    def close(a, b):
        return max_abs_diff(_centred(a), _centred(b)) <= 1e-3

    if close(got, expected / temperature):
        fail("the logits given to sample_fn were already divided by the temperature: give the Dense layer's logits as they are, "
             "sample_fn divides them")
    if max_abs_diff(got, tf.nn.softmax(expected).numpy()) <= 1e-4:
        fail("sample_fn got probabilities: give it the Dense layer's logits, before any softmax")
    alone = model(np.array([text[-1:]], np.int32), training=False)[0, -1].numpy()  # the last character, from a zero state
    if t == 0 and close(got, alone):
        fail("the first draw saw only the last character of the start text: feed every start character through the "
             "LSTM cell first, carrying the state, and sample from the logits after the last one")
    if t == 0:
        fail("the logits of the first draw differ from the model's after the start text: read the whole start text, "
             "one character at a time from a zero state, and apply the Dense layer to the LSTM's output (Dropout "
             "must drop nothing while generating: leave it out, or call it with training=False)")
    if close(got, alone):
        fail(f"draw {t} saw only the previous character, from a fresh state: carry the state the cell returns "
             "into the next step instead of starting again from zeros")
    fail(f"the logits of draw {t} differ from the model's for the text so far by {max_abs_diff(got, expected):.3g} "
         "(draw 0 matched): feed each drawn id back in as the next input, with the state carried")


__all__ = [
    "CheckFailed",
    "check_build_model",
    "check_generate",
    "check_get_batch",
    "check_loss",
    "check_prediction",
    "check_sample_next",
    "check_train_step",
    "check_untrained_loss",
    "check_vectorize",
    "expected_parameter_count",
]
