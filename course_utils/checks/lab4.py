"""Self-checks for Lab 4, "Sequence to sequence with attention".

Every check compares the student's code with a reference: Keras layers, a small model built here, or
the small numpy computations below (private, and refused as answers while the student's code runs),
on random inputs, so nothing depends on one seed. The exercises that a library already does run
under ``refuse_delegation`` (the ``Exercise`` constants below).
"""
import itertools

import keras
import numpy as np
import tensorflow as tf

from course_utils.checks import CheckFailed, check_close, check_shape, fail, max_abs_diff, passed
from course_utils.checks.delegation import Exercise, Forbidden, refuse_delegation, refuse_reference_while_watched, refusing_delegation

ATOL = 1e-5
_THIS_FILE = "course_utils/checks/lab4.py"
GRU_CELL = Exercise(
    "MyGRUCell",
    hint="compute the gates, the candidate and the new state with keras.ops yourself",
    forbidden=(
        Forbidden("keras.layers.GRUCell (or GRU)", "keras/src/layers/rnn/gru.py"),
        Forbidden("tf.raw_ops.GRUBlockCell", "tensorflow/python/ops/gen_rnn_ops.py"),
        Forbidden("tf.raw_ops.CudnnRNN", "tensorflow/python/ops/gen_cudnn_rnn_ops.py"),
    ),
)
ATTENTION = Exercise(
    "AdditiveAttention",
    hint="create the three weights with self.add_weight and compute the scores, the masked softmax and the context with keras.ops",
    forbidden=(
        Forbidden("keras.layers.AdditiveAttention", "keras/src/layers/attention/additive_attention.py"),
        Forbidden("keras.layers.Attention", "keras/src/layers/attention/attention.py"),
        Forbidden("keras.layers.MultiHeadAttention", "keras/src/layers/attention/multi_head_attention.py"),
        Forbidden("the check's reference attention", _THIS_FILE, "_reference_attention"),
    ),
)
BEAM_SEARCH = Exercise(
    "beam_search",
    hint="keep the beams' tokens, scores, states and lengths in tensors and pick the survivors with tf.math.top_k",
    forbidden=(
        Forbidden("tf.nn.ctc_beam_search_decoder", "tensorflow/python/ops/ctc_ops.py"),
        Forbidden("the check's exhaustive search", _THIS_FILE, "_exhaustive_search"),
    ),
)


# --- Exercise 1: the GRU cell -------------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gru_variant(weights, x, h0, variant="keras"):
    """Numpy GRU over x (batch, T, d) from h0, in Keras's layout, or one of the typical mistakes."""
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
            candidate = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * units:] + recurrent_bias[2 * units:])
        else:
            candidate = np.tanh(x_h + r * h_h)
        h = (1 - z) * h + z * candidate if variant == "z flipped" else z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1)


GRU_MISTAKES = {
    "gates swapped": "the update gate z and the reset gate r are swapped: Keras packs them z, r, h (z first)",
    "reset before": "the reset gate is applied before the recurrent product, (r * h) U_h; with reset_after=True it multiplies (h U_h + b'_h)",
    "z flipped": "the new state mixes the other way round: Keras uses h_t = z * h_(t-1) + (1 - z) * candidate",
    "no recurrent bias": "the recurrent bias (bias row 1) is not used: add it to h_(t-1) U before splitting",
}


def _gradients(layer, x, initial_state, projection):
    """Gradients of sum(layer(x) * projection) with respect to x and the layer's weights."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, initial_state=initial_state) * projection)
    return tape.gradient(loss, [x] + layer.trainable_weights)


def check_gru_cell(cell_class, input_dim=3, units=4, batch=2, steps=5, seed=0):
    """``keras.layers.RNN(cell_class(units))`` against ``keras.layers.GRU(units)`` with the same weights: outputs and gradients."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, steps, input_dim)).astype("float32"))
    h0 = tf.constant(rng.normal(scale=0.5, size=(batch, units)).astype("float32"))
    reference = keras.layers.GRU(units, return_sequences=True)
    reference.build((batch, steps, input_dim))
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    initial_states = {"from a zero state": None, "from a random initial state": [h0]}
    expected_outputs = {name: np.asarray(reference(x, initial_state=initial)) for name, initial in initial_states.items()}
    projection = tf.constant(rng.normal(size=(batch, steps, units)).astype("float32"))
    expected_grads = _gradients(reference, x, [h0], projection)
    with refuse_delegation(GRU_CELL):
        cell = cell_class(units)
        if getattr(cell, "state_size", None) != units:
            fail(f"state_size should be units={units}, got {getattr(cell, 'state_size', None)!r}")
        mine = keras.layers.RNN(cell, return_sequences=True)
        mine.build((batch, steps, input_dim))
        expected_shapes = [("kernel", (input_dim, 3 * units)), ("recurrent_kernel", (units, 3 * units)), ("bias", (2, 3 * units))]
        if len(mine.weights) != 3:
            fail(f"the cell should create 3 weights (kernel, recurrent_kernel, bias), it created {len(mine.weights)}")
        for weight, (name, shape) in zip(mine.weights, expected_shapes):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        mine.set_weights(weights)
        for description, initial in initial_states.items():
            actual, expected = np.asarray(mine(x, initial_state=initial)), expected_outputs[description]
            check_shape("RNN(MyGRUCell) outputs", actual, expected.shape)
            if not np.allclose(actual, expected, atol=ATOL):
                start = np.zeros((batch, units)) if initial is None else np.asarray(h0)
                for variant, message in GRU_MISTAKES.items():
                    if np.allclose(actual, _gru_variant(weights, x, start, variant), atol=1e-4):
                        fail(f"{description}: {message}")
                fail(f"{description}: outputs differ from keras.layers.GRU by up to {max_abs_diff(actual, expected):.3g}")
        actual_grads = _gradients(mine, x, [h0], projection)
        for label, a, e in zip(["inputs", "kernel", "recurrent_kernel", "bias"], actual_grads, expected_grads):
            if a is None:
                fail(f"no gradient reaches {label}: compute with keras.ops on the cell's weights, not on copies in numpy")
            check_close(f"gradient with respect to {label}", a, e, atol=1e-4)
    passed(f"MyGRUCell({units}) equals keras.layers.GRU: weights, outputs and gradients")


# --- Exercise 2: the encoder ---------------------------------------------------------------------------------

def _random_tokens(rng, batch, steps, vocab_size):
    """Token ids in 1..vocab_size-1 with random lengths (one row full), padded with 0 at the end."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    tokens = rng.integers(1, vocab_size, size=(batch, steps))
    tokens[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32"), lengths


def check_encoder(build_fn, vocab_size=20, embed_dim=5, units=3, batch=3, steps=7, seed=0):
    """``build_encoder(vocab_size, embed_dim, units)``: [states (batch, T, 2u), summary (batch, 2u)], padding ignored."""
    rng = np.random.default_rng(seed)
    tokens, lengths = _random_tokens(rng, batch, steps, vocab_size)
    model = build_fn(vocab_size, embed_dim, units)
    if not isinstance(model, keras.Model):
        fail(f"build_encoder should return a keras.Model, got {type(model).__name__}")
    outputs = model(tokens)
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        fail("the encoder should return [states, summary]")
    states, summary = (np.asarray(o) for o in outputs)
    check_shape("states", states, (batch, steps, 2 * units))
    check_shape("summary", summary, (batch, 2 * units))
    gru = 3 * (embed_dim * units + units * units + 2 * units)
    expected_parameters = vocab_size * embed_dim + 2 * gru
    if model.count_params() != expected_parameters:
        fail(f"the encoder should have {expected_parameters} parameters (Embedding {vocab_size * embed_dim} and two GRUs of {gru}), "
             f"it has {model.count_params()}: an Embedding and a Bidirectional GRU of {units} units, nothing else")
    padded_states, padded_summary = (np.asarray(o) for o in model(np.pad(tokens, [(0, 0), (0, 3)])))
    real = np.arange(steps)[None, :] < lengths[:, None]
    if not np.allclose(padded_states[:, :steps][real], states[real], atol=ATOL) or not np.allclose(padded_summary, summary, atol=ATOL):
        fail("padding appended to the input changed the states or the summary: use Embedding(..., mask_zero=True) so that the GRUs skip it")
    last = lengths - 1
    forward_last = states[np.arange(batch), last, :units]
    if not np.allclose(summary[:, :units], forward_last, atol=ATOL) or not np.allclose(summary[:, units:], states[:, 0, units:], atol=ATOL):
        fail("the summary should be [the forward GRU's state at the last real character, the backward GRU's state at the first]: "
             "concatenate the two final states that Bidirectional(..., return_state=True) returns")
    passed(f"build_encoder: shapes, {expected_parameters} parameters, padding ignored, summary of both directions")


# --- Exercise 3: additive attention --------------------------------------------------------------------------

def _reference_attention(weights, query, keys, mask):
    """Additive attention in numpy: (context, weights)."""
    refuse_reference_while_watched("the check's reference attention")
    query_kernel, key_kernel, score_vector = (np.asarray(w, dtype=np.float64) for w in weights)
    scores = np.tanh((query @ query_kernel)[:, :, None, :] + (keys @ key_kernel)[:, None, :, :]) @ score_vector
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    attention = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return attention @ keys, attention


def check_attention(layer_class, batch=3, query_steps=4, key_steps=6, query_dim=5, key_dim=7, units=3, seed=0):
    """``layer_class(units)(query, keys, mask=mask)`` against additive attention in numpy."""
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(batch, query_steps, query_dim)).astype("float32")
    keys = rng.normal(size=(batch, key_steps, key_dim)).astype("float32")
    lengths = rng.integers(1, key_steps + 1, size=batch)
    lengths[0] = key_steps
    mask = np.arange(key_steps)[None, :] < lengths[:, None]
    shapes = [("query_kernel", (query_dim, units)), ("key_kernel", (key_dim, units)), ("score_vector", (units,))]
    weights = [rng.normal(size=shape).astype("float32") for _, shape in shapes]
    expected = {name: _reference_attention(weights, query, keys, m) for name, m in (("without a mask", None), ("with a mask", mask))}
    all_masked = mask.copy()
    all_masked[-1] = False
    with refuse_delegation(ATTENTION):
        layer = layer_class(units)
        result = layer(query, keys, mask=mask)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("call should return (context, weights)")
        if len(layer.weights) != 3:
            fail(f"the layer should create 3 weights (query_kernel, key_kernel, score_vector), it created {len(layer.weights)}")
        for weight, (name, shape) in zip(layer.weights, shapes):
            check_shape(f"{name} (weight in creation order)", tuple(weight.shape), shape)
        layer.set_weights(weights)
        for description, m in (("without a mask", None), ("with a mask", mask)):
            context, attention = (np.asarray(t) for t in layer(query, keys, mask=m))
            check_shape(f"attention weights {description}", attention, (batch, query_steps, key_steps))
            check_shape(f"context {description}", context, (batch, query_steps, key_dim))
            if np.allclose(attention.sum(axis=1), 1.0, atol=1e-5) and not np.allclose(attention.sum(axis=-1), 1.0, atol=1e-5):
                fail("the weights sum to 1 over the query steps: take the softmax over the keys, the last axis")
            if m is not None and np.max(attention[~np.broadcast_to(m[:, None, :], attention.shape)], initial=0) > 1e-6:
                fail("padded key steps get attention: set their scores to a large negative number (e.g. -1e9) before the softmax")
            expected_context, expected_attention = expected[description]
            check_close(f"attention weights {description}", attention, expected_attention, atol=ATOL)
            check_close(f"context {description}", context, expected_context, atol=1e-4)
        context, attention = (np.asarray(t) for t in layer(query, keys, mask=all_masked))
        if not (np.all(np.isfinite(context)) and np.all(np.isfinite(attention))):
            fail("a row whose keys are all padding gives NaN: use a large negative number like -1e9 for masked scores, not -inf")
        one_context, _ = layer(query[:1], keys[:1], mask=mask[:1])
        check_close("context for a batch of one", one_context, expected["with a mask"][0][:1], atol=1e-4)
        step_context, step_attention = layer(query[:, :1], keys, mask=mask)
        check_shape("attention weights for one query step (as in decoding)", np.asarray(step_attention), (batch, 1, key_steps))
        check_close("context for one query step (as in decoding)", step_context, expected["with a mask"][0][:, :1], atol=1e-4)
    passed(f"AdditiveAttention({units}) matches the reference, masks padding, survives all-padding rows and batches of one")


# --- Exercise 4: decoder inputs, loss, accuracy ---------------------------------------------------------------

def _random_written(rng, batch, steps, vocab_size=9, first_id=3):
    """Written ids in first_id..vocab_size-1 (after padding, start and end) with random lengths, one row full."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    ids = rng.integers(first_id, vocab_size, size=(batch, steps))
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return ids.astype("int32"), lengths


def check_decoder_io(make_fn, start_id=1, end_id=2, batch=4, steps=5, seed=0):
    """``make_decoder_io(written_ids, start_id, end_id)``: the end token after each row, the input one step behind."""
    rng = np.random.default_rng(seed)
    written, lengths = _random_written(rng, batch, steps)
    target = np.zeros((batch, steps + 1), "int32")
    target[:, :steps] = written
    target[np.arange(batch), lengths] = end_id
    inputs = np.zeros_like(target)
    inputs[:, 0] = start_id
    inputs[:, 1:] = written
    result = make_fn(written.copy(), start_id, end_id)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("make_decoder_io should return (decoder_input, decoder_target)")
    actual_input, actual_target = (np.asarray(r) for r in result)
    check_shape("decoder_target", actual_target, target.shape)
    check_shape("decoder_input", actual_input, inputs.shape)
    if np.array_equal(actual_input, actual_target):
        fail("decoder_input equals decoder_target: the input at step t is the target of step t-1 (start token first)")
    if not np.array_equal(actual_target, target):
        if np.all(actual_target[:, -1] == end_id) and not np.all(lengths == steps):
            fail("the end token is at the very end of the padding; put it right after each row's last character")
        fail(f"decoder_target should be the written ids with the end token right after the last character, e.g. {target[-1].tolist()}, got {actual_target[-1].tolist()}")
    if actual_input[0, 0] != start_id:
        fail(f"decoder_input should start with the start token {start_id}")
    if not np.array_equal(actual_input, inputs):
        fail(f"decoder_input should be the start token followed by the written ids, e.g. {inputs[-1].tolist()}, got {actual_input[-1].tolist()}")
    passed("make_decoder_io: targets end with the end token after each row's characters, inputs are one step behind")


def check_masked_loss(loss_fn, batch=3, steps=6, vocab_size=7, seed=0):
    """``masked_loss(targets, logits)``: the mean cross-entropy over the non-padding positions."""
    rng = np.random.default_rng(seed)
    targets, _ = _random_written(rng, batch, steps, vocab_size, first_id=1)
    logits = rng.normal(size=(batch, steps, vocab_size)).astype("float32")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per_position = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    real = targets != 0
    expected = per_position[real].mean()
    actual = float(loss_fn(tf.constant(targets), tf.constant(logits)))
    if not np.isclose(actual, expected, rtol=1e-4):
        if np.isclose(actual, per_position.mean(), rtol=1e-4):
            fail("the padding positions count in your mean: multiply by the mask (targets != 0) and divide by its sum")
        if np.isclose(actual, per_position[real].sum(), rtol=1e-4):
            fail("you return the sum; divide by the number of real positions")
        fail(f"the masked loss should be {expected:.5f}, got {actual:.5f}")
    passed("masked_loss is the mean cross-entropy over the real positions")


def check_sequence_accuracy(accuracy_fn, batch=6, steps=5, seed=0):
    """``sequence_accuracy(targets, predicted)`` -> (token accuracy, exact match), padding ignored."""
    rng = np.random.default_rng(seed)
    targets, _ = _random_written(rng, batch, steps, 5)
    predicted = np.where(rng.random(targets.shape) < 0.8, targets, rng.integers(0, 5, size=targets.shape)).astype("int32")
    predicted[0] = targets[0]
    predicted[targets == 0] = rng.integers(1, 5, size=int(np.sum(targets == 0)))  # noise on padding must not count
    real = targets != 0
    expected = (np.sum((predicted == targets) & real) / np.sum(real), np.mean(np.all((predicted == targets) | ~real, axis=1)))
    result = accuracy_fn(targets, predicted)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("sequence_accuracy should return (token_accuracy, exact_match)")
    token, exact = map(float, result)
    if not np.isclose(token, expected[0]):
        if np.isclose(token, np.mean(predicted == targets)):
            fail("token accuracy counts the padding positions; compare only where targets != 0")
        fail(f"token accuracy should be {expected[0]:.4f}, got {token:.4f}")
    if not np.isclose(exact, expected[1]):
        if np.isclose(exact, np.mean(np.all(predicted == targets, axis=1))):
            fail("exact match compares whole rows, padding included; a row is right when every real position is")
        fail(f"exact match should be {expected[1]:.4f}, got {exact:.4f}")
    passed("sequence_accuracy: token accuracy and exact match over the real positions")


class _TinySeq2Seq(keras.Model):
    """A small model with the lab's interface (call, encode, decode_step), built from Keras layers."""

    def __init__(self, source_vocab_size, target_vocab_size, units, **kwargs):
        super().__init__(**kwargs)
        self.source_embedding = keras.layers.Embedding(source_vocab_size, units, mask_zero=True)
        self.encoder = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.target_embedding = keras.layers.Embedding(target_vocab_size, units)
        self.decoder_cell = keras.layers.GRUCell(units)
        self.decoder = keras.layers.RNN(self.decoder_cell, return_sequences=True)
        self.dropout = keras.layers.Dropout(0.5, seed=1)
        self.output_layer = keras.layers.Dense(target_vocab_size)

    def encode(self, source, training=False):
        states, summary = self.encoder(self.source_embedding(source), training=training)
        return tf.identity(states), summary, source != 0

    def _readout(self, outputs, states, mask, training=False):
        weights = tf.nn.softmax(tf.where(mask[:, None, :], tf.matmul(outputs, states, transpose_b=True), -1e9))
        return self.output_layer(self.dropout(tf.concat([outputs, tf.matmul(weights, states)], -1), training=training))

    def call(self, source, decoder_input, training=False):
        states, summary, mask = self.encode(source, training=training)
        outputs = self.decoder(self.target_embedding(decoder_input), initial_state=[summary], training=training)
        return self._readout(outputs, states, mask, training)

    def decode_step(self, tokens, state, states, mask):
        output, _ = self.decoder_cell(self.target_embedding(tokens), [state])
        return self._readout(output[:, None], states, mask)[:, 0], output, None


def _tiny_model(seed, source_vocab_size=9, target_vocab_size=6, units=4):
    keras.utils.set_random_seed(seed)
    model = _TinySeq2Seq(source_vocab_size, target_vocab_size, units, name="tiny_seq2seq")  # a TF scope: no leading "_"
    model(tf.ones((1, 2), tf.int32), tf.ones((1, 2), tf.int32))
    return model


def check_train_step(make_train_step_fn, batch=3, source_steps=6, target_steps=4, seed=0):
    """``make_train_step(model, optimizer)`` returns a tf.function step (source, decoder_input, decoder_target) -> loss."""
    rng = np.random.default_rng(seed)
    source, _ = _random_tokens(rng, batch, source_steps, 9)
    decoder_target, _ = _random_written(rng, batch, target_steps, 6)
    decoder_input = np.concatenate([np.ones((batch, 1), "int32"), decoder_target[:, :-1]], axis=1)
    model = _tiny_model(seed)
    before = [w.copy() for w in model.get_weights()]
    train_step = make_train_step_fn(model, keras.optimizers.SGD(0.5))
    if not hasattr(train_step, "get_concrete_function"):
        fail("make_train_step should return a function decorated with @tf.function (compiled), not a plain Python function")
    loss = float(train_step(tf.constant(source), tf.constant(decoder_input), tf.constant(decoder_target)))
    # The reference: the same step on a twin, with the same dropout seed (its first training call). It is built only
    # now, so that a wrong kind of answer fails at once.
    twin = _tiny_model(seed)
    twin.set_weights(before)
    with tf.GradientTape() as tape:
        logits = twin(tf.constant(source), tf.constant(decoder_input), training=True)
        real = tf.cast(decoder_target != 0, tf.float32)
        per_position = keras.losses.sparse_categorical_crossentropy(decoder_target, logits, from_logits=True)
        expected_loss = tf.reduce_sum(per_position * real) / tf.reduce_sum(real)
    grads = tape.gradient(expected_loss, twin.trainable_variables)
    eval_logits = twin(tf.constant(source), tf.constant(decoder_input), training=False)  # the loss a step without dropout returns
    eval_loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(decoder_target, eval_logits, from_logits=True) * real) / tf.reduce_sum(real)
    for variable, grad in zip(twin.trainable_variables, grads):
        variable.assign_sub(0.5 * tf.convert_to_tensor(grad))
    if all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before)):
        fail("train_step did not change the weights: apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables))")
    if not np.isclose(loss, float(expected_loss), rtol=1e-3):
        message = f"the returned loss should be the masked loss before the update, {float(expected_loss):.5f}, got {loss:.5f}"
        if np.isclose(loss, float(eval_loss), rtol=1e-3):
            fail(message + "; that is the loss with dropout off: call model(source, decoder_input, training=True)")
        fail(message + ": return masked_loss(decoder_target, logits) of model(source, decoder_input, training=True), computed before the update")
    worst = max(max_abs_diff(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))
    if worst > 1e-4:
        fail(f"after one step the weights differ from the reference update by up to {worst:.3g}: take the gradients of your masked loss")
    passed("train_step computes the masked loss in training mode, applies its gradients, and is compiled")


def _reference_greedy(model, source, start_id, end_id, max_length):
    """Row by row, step by step, eagerly."""
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
    return np.array(rows)


def check_greedy_decoder(make_fn, start_id=1, end_id=2, max_length=6, batch=5, steps=7, seed=0):
    """``make_greedy_decoder(model, start_id, end_id, max_length)``: compiled, batched, predictions fed back, 0 after the end."""
    rng = np.random.default_rng(seed)
    model = _tiny_model(seed, target_vocab_size=4)  # few tokens, so that some rows end early
    source, _ = _random_tokens(rng, batch, steps, 9)
    expected = _reference_greedy(model, source, start_id, end_id, max_length)  # before make_fn can touch the model
    decode = make_fn(model, start_id, end_id, max_length)
    if not hasattr(decode, "get_concrete_function"):
        fail("make_greedy_decoder should return a function decorated with @tf.function (compiled)")
    actual = np.asarray(decode(tf.constant(source)))
    if actual.shape[0] != batch or actual.shape[1] > max_length:
        fail(f"decode should return tokens of shape (batch, max_length) = ({batch}, {max_length}), got {actual.shape}")
    actual = np.pad(actual, [(0, 0), (0, max_length - actual.shape[1])])  # stopping early may leave the tail out
    if not np.array_equal(actual, expected):
        row = int(np.flatnonzero(np.any(actual != expected, axis=1))[0])
        ended = expected[row] == end_id
        if ended.any() and np.any(actual[row, int(np.argmax(ended)) + 1:] != 0) and np.array_equal(actual[row, : int(np.argmax(ended)) + 1], expected[row, : int(np.argmax(ended)) + 1]):
            fail(f"after the end token a row should only get 0 (padding); row {row}: expected {expected[row].tolist()}, got {actual[row].tolist()}")
        fail(f"row {row} should decode to {expected[row].tolist()} (argmax at each step, fed back as the next input), got {actual[row].tolist()}")
    for row in range(batch):  # one row at a time, as in a batch
        alone = np.asarray(decode(tf.constant(source[row:row + 1])))
        alone = np.pad(alone, [(0, 0), (0, max_length - alone.shape[1])])
        if not np.array_equal(alone[0], expected[row]):
            fail(f"decoding row {row} alone gives {alone[0].tolist()}, in the batch {expected[row].tolist()}: rows must not depend on each other")
    passed(f"greedy decoding of {batch} inputs matches step-by-step decoding, with padding after the end token, compiled")


# --- Exercise 6: beam search ---------------------------------------------------------------------------------

def _markov_step_fn(log_prob_table):
    """A second-order Markov model as a step_fn: the state holds the token before the last one.

    So the log-probabilities depend on the state, and a beam search that does not reorder the states
    with their beams gets them wrong.
    """
    table = tf.constant(log_prob_table, tf.float32)  # [token before the last, last token, next token]

    def step_fn(tokens, state):
        before = tf.cast(state[:, 0], tf.int32)
        new_state = tf.concat([tf.cast(tokens, state.dtype)[:, None], state[:, 1:]], axis=1)
        return tf.gather_nd(table, tf.stack([before, tokens], axis=1)), new_state

    return step_fn


def _initial_state(start_id):
    return tf.constant([float(start_id), 0.0])


def _exhaustive_search(log_prob_table, start_id, end_id, max_length, alpha):
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


def _random_table(rng, vocab_size):
    logits = rng.normal(scale=1.5, size=(vocab_size, vocab_size, vocab_size))
    logits[..., 0] = -1e9  # padding is never produced
    return (logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))).astype("float32")


def check_beam_search(beam_search_fn, vocab_size=4, max_length=4, start_id=3, end_id=1, seed=0):
    """Against exhaustive search on tiny Markov models, greedy decoding at width 1, length normalisation, tf.function."""
    rng = np.random.default_rng(seed)
    beam_search_fn = refusing_delegation(beam_search_fn, BEAM_SEARCH)
    wide = (vocab_size - 1) ** max_length
    for trial in range(4):
        table = _random_table(rng, vocab_size)
        greedy, before, previous = [], start_id, start_id
        for _ in range(max_length):
            before, previous = previous, int(np.argmax(table[before, previous]))
            greedy.append(previous)
            if previous == end_id:
                break
        greedy += [0] * (max_length - len(greedy))
        tokens, _ = beam_search_fn(_markov_step_fn(table), _initial_state(start_id), start_id, end_id, 1, max_length, 1.0)
        if np.asarray(tokens).tolist() != greedy:
            fail(f"with beam_width=1 beam search should be greedy decoding, {greedy}; you returned {np.asarray(tokens).tolist()}")
        for alpha in (0.0, 0.7, 1.0):
            expected_tokens, expected_score = _exhaustive_search(table, start_id, end_id, max_length, alpha)
            tokens, score = beam_search_fn(_markov_step_fn(table), _initial_state(start_id), start_id, end_id, wide, max_length, alpha)
            tokens = np.asarray(tokens).tolist()
            if tokens != expected_tokens:
                unnormalised = _exhaustive_search(table, start_id, end_id, max_length, 0.0)[0]
                if alpha > 0 and tokens == unnormalised and unnormalised != expected_tokens:
                    fail(f"with alpha={alpha} you return the best raw score {unnormalised}; divide each finished sequence's score by length ** alpha")
                fail(f"with a beam wide enough to keep every sequence (alpha={alpha}) the best is {expected_tokens}, you returned {tokens}")
            if not np.isclose(float(score), expected_score, atol=1e-4):
                fail(f"the score of {expected_tokens} with alpha={alpha} should be {expected_score:.4f} (log-probability / length ** alpha), got {float(score):.4f}")
    try:
        def search():
            return beam_search_fn(_markov_step_fn(table), _initial_state(start_id), start_id, end_id, 2, max_length, 1.0)

        tf.function(search)()
    except CheckFailed:
        raise  # delegation refused while tracing
    except Exception as error:  # noqa: BLE001  any failure to trace is the student's to fix
        fail(f"beam_search does not run inside tf.function ({type(error).__name__}: {error}); use TensorFlow operations only, "
             "no .numpy() and no Python if on tensors")
    passed("beam_search agrees with exhaustive search and with greedy decoding, normalises by length, and compiles")
