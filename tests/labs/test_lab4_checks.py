"""The Lab 4 checks pass the reference solution and catch typical mistakes with a useful message.

Both as the grader judges them (:func:`helpers.judged`: the probe, then an expectation the private references compute
afresh, for any arguments and seeds) and as students run them in the notebook (``checks.check_<name>(...)``: the probe,
then the expectation stored in ``course_utils/checks/expected/lab4.json`` for the visible test calls' arguments).
"""

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from helpers import call_arguments, fails_from_stored_data, fails_with, judged, solution_namespace
from keras import ops

from autograde.cells import is_test
from autograde.grading.judge import get_check, judged_params
from autograde.grading.references import lab4 as references, stored_differences
from course_utils.checks import lab4 as checks
from course_utils.checks.delegation import DelegationRefused
from course_utils.checks.probing import Check

LAB = "lab4_seq2seq_attention"
SEED_KEYS = ("first submission", "second submission", "third submission")  # each draws other seeds for every call


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, LAB)


@pytest.fixture(scope="module")
def test_cells(course):
    """{grade_id: source} of the solution notebook's test cells, hidden tests included."""
    notebook = nbformat.read(course.solution_notebook(LAB), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells if is_test(cell)}


TEST_CELLS = (
    "test_gru_cell",
    "test_encoder",
    "test_attention",
    "test_decoder_io",
    "test_masked_loss",
    "test_train_step",
    "test_sequence_accuracy",
    "test_greedy_decoder",
    "test_beam_search",
)


@pytest.fixture(params=[fails_with, fails_from_stored_data], ids=["judged", "stored"])
def rejects(request):
    """``fails_with`` (as the grader judges) or ``fails_from_stored_data`` (as a student runs the check): the mistake
    tests that use the visible test calls' arguments (the probes' defaults) run both ways."""
    return request.param


# --- the reference passes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, name",
    [
        (checks.check_gru_cell, "MyGRUCell"),
        (checks.check_encoder, "build_encoder"),
        (checks.check_attention, "AdditiveAttention"),
        (checks.check_decoder_io, "make_decoder_io"),
        (checks.check_masked_loss, "masked_loss"),
        (checks.check_sequence_accuracy, "sequence_accuracy"),
    ],
)
def test_reference_passes(solution, check, name):
    judged(check, solution[name], seed=5)


@pytest.mark.slow  # traces compiled loops
def test_reference_passes_the_compiled_checks(solution):
    judged(checks.check_train_step, solution["make_train_step"], seed=5)
    judged(checks.check_greedy_decoder, solution["make_greedy_decoder"], seed=5)
    judged(checks.check_beam_search, solution["beam_search"], seed=5)


@pytest.mark.slow  # every visible and hidden test call, with the seeds the grader would draw for three submissions
@pytest.mark.parametrize("grade_id", TEST_CELLS)
def test_reference_passes_every_test_call_as_judged(solution, test_cells, grade_id):
    calls = 0
    for seed_key in SEED_KEYS:
        for call, params in judged_params(LAB, test_cells[grade_id], seed_key=seed_key, grade_id=grade_id):
            check = get_check(LAB, call.check)
            args, kwargs = call_arguments(check, call, params, solution)
            judged(check, *args, **kwargs)
            calls += 1
    assert calls >= len(SEED_KEYS) * 2  # a visible call and at least one hidden one


@pytest.mark.parametrize("grade_id", TEST_CELLS)
def test_reference_passes_the_visible_calls_from_stored_data(solution, test_cells, grade_id, capsys):
    visible = [(call, params) for call, params in judged_params(LAB, test_cells[grade_id]) if not call.hidden]
    assert visible
    for call, params in visible:
        check = get_check(LAB, call.check)
        args, kwargs = call_arguments(check, call, params, solution)
        check(*args, **kwargs)  # the public check: probe, then the stored expectation (no reference in reach)
    assert capsys.readouterr().out.count("\u2714") == len(visible)


def test_the_stored_expectations_are_up_to_date(course):
    assert stored_differences(course, LAB) == []


def test_every_check_is_a_probe_and_a_comparison_with_a_private_expectation():
    found = {  # the shared reasoning-question checks (check_answer, ...) are imported, not Lab 4's own
        name: value
        for name, value in vars(checks).items()
        if isinstance(value, Check) and value.probe.__module__ == checks.__name__
    }
    assert sorted(found) == sorted(f"check_{grade_id.removeprefix('test_')}" for grade_id in TEST_CELLS)
    for name, check in found.items():
        assert check.expects and callable(getattr(references, f"expect_{check.name}", None)), name
        assert check.__doc__ and "Args:" in check.__doc__, name


def test_no_reference_is_public():
    names = set(vars(checks))
    for moved in (
        "_gru_variant",
        "_reference_attention",
        "_reference_greedy",
        "_exhaustive_search",
        "gru_variant",
        "reference_attention",
        "reference_greedy",
        "exhaustive_search",
        "_sigmoid",
    ):
        assert moved not in names


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
                h_h = ops.matmul(r * h_prev, self.recurrent_kernel[:, 2 * units :]) + self.bias[1][2 * units :]
                candidate = ops.tanh(x_h + h_h)
            else:
                candidate = ops.tanh(x_h + r * h_h)
            h = (1 - z) * h_prev + z * candidate if mistake == "z flipped" else z * h_prev + (1 - z) * candidate
            return h, [h]

    return Variant


@pytest.mark.parametrize(
    "mistake, message",
    [
        ("gates swapped", "update gate z and the reset gate r are swapped"),
        ("reset before", "reset gate is applied before the recurrent product"),
        ("z flipped", r"h_t = z \* h_\(t-1\) \+ \(1 - z\) \* candidate"),
        ("no recurrent bias", r"recurrent bias \(bias row 1\) is not used"),
    ],
)
def test_gru_cell_mistakes(solution, mistake, message, rejects):
    rejects(message, checks.check_gru_cell, gru_variant(solution, mistake))


def test_gru_cell_with_one_bias_vector(solution, rejects):
    class OneBias(solution["MyGRUCell"]):
        def build(self, input_shape):
            super().build(input_shape)
            self.bias = self.add_weight(shape=(3 * self.units,), initializer="zeros", name="bias")

    rejects(
        r"the cell should create 3 weights|bias \(weight in creation order\): expected shape",
        checks.check_gru_cell,
        OneBias,
    )


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
        checks.check_gru_cell(Delegating)  # in the notebook: the probe raises
    fails_with(
        "^MyGRUCell calls keras.layers.GRUCell", checks.check_gru_cell, Delegating
    )  # the grader: the probe's failure


# --- Exercise 2: the encoder -----------------------------------------------------------------------------------


def test_encoder_without_mask_zero(rejects):
    def build(vocab_size, embed_dim, units):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim)(tokens)
        states, forward, backward = keras.layers.Bidirectional(
            keras.layers.GRU(units, return_sequences=True, return_state=True)
        )(x)
        return keras.Model(tokens, [states, keras.layers.Concatenate()([forward, backward])])

    rejects("padding appended.*mask_zero=True", checks.check_encoder, build)


def test_encoder_with_a_wrong_summary(rejects):
    def build(vocab_size, embed_dim, units):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
        states, forward, backward = keras.layers.Bidirectional(
            keras.layers.GRU(units, return_sequences=True, return_state=True)
        )(x)
        return keras.Model(tokens, [states, keras.layers.Concatenate()([backward, forward])])

    rejects("the summary should be", checks.check_encoder, build)


@pytest.mark.parametrize("gru_settings", [{"activation": "relu"}, {"recurrent_activation": "hard_sigmoid"}])
def test_encoder_computing_something_else_with_the_right_layers(rejects, gru_settings):
    # Shapes, parameters, masking and summary all right: only the outputs with the check's weights tell (each passed the
    # check before it compared them).
    def build(vocab_size, embed_dim, units):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
        states, forward, backward = keras.layers.Bidirectional(
            keras.layers.GRU(units, return_sequences=True, return_state=True, **gru_settings)
        )(x)
        return keras.Model(tokens, [states, keras.layers.Concatenate()([forward, backward])])

    rejects(
        "^your encoder's states, with the weights the check set, differ from the lab's", checks.check_encoder, build
    )


# --- Exercise 3: attention -------------------------------------------------------------------------------------


def attention_variant(solution, mistake):
    class Variant(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            scores = ops.sum(
                ops.tanh(ops.matmul(query, self.query_kernel)[:, :, None] + ops.matmul(keys, self.key_kernel)[:, None])
                * self.score_vector,
                axis=-1,
            )
            if mask is not None and mistake != "mask ignored":
                scores = ops.where(
                    ops.cast(mask, "bool")[:, None, :], scores, float("-inf") if mistake == "-inf" else -1e9
                )
            weights = ops.softmax(scores, axis=1 if mistake == "wrong axis" else -1)
            return ops.matmul(weights, keys), weights

    return Variant


@pytest.mark.parametrize(
    "mistake, message",
    [
        ("wrong axis", "sum to 1 over the query steps"),
        ("mask ignored", "padded key steps get attention"),
        ("-inf", "all padding gives NaN.*not -inf"),
    ],
)
def test_attention_mistakes(solution, mistake, message, rejects):
    rejects(message, checks.check_attention, attention_variant(solution, mistake))


def test_attention_delegating_to_keras_is_refused(solution):
    class Delegating(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            keras.layers.AdditiveAttention()([query, keys])
            return super().call(query, keys, mask)

    with pytest.raises(DelegationRefused, match="^AdditiveAttention calls keras.layers.AdditiveAttention"):
        checks.check_attention(Delegating)  # in the notebook: the probe raises
    fails_with(
        "^AdditiveAttention calls keras.layers.AdditiveAttention", checks.check_attention, Delegating
    )  # the grader


def test_attention_calling_the_private_reference_is_refused(solution):
    class Copying(
        solution["AdditiveAttention"]
    ):  # where the instructor's references are installed (the grader's machines)
        def call(self, query, keys, mask=None):
            weights = [w.numpy() for w in (self.query_kernel, self.key_kernel, self.score_vector)]
            references.reference_attention(
                weights, np.asarray(query), np.asarray(keys), None if mask is None else np.asarray(mask)
            )
            return super().call(query, keys, mask)

    fails_with("AdditiveAttention calls the check's reference attention", checks.check_attention, Copying)


# --- Exercise 4: teacher forcing, loss, training, accuracy -------------------------------------------------------


def test_decoder_io_without_the_shift(solution, rejects):
    def no_shift(written_ids, start_id, end_id):
        _, target = solution["make_decoder_io"](written_ids, start_id, end_id)
        return target, target

    rejects("decoder_input equals decoder_target", checks.check_decoder_io, no_shift)


def test_decoder_io_with_the_end_token_after_the_padding(rejects):
    def end_after_padding(written_ids, start_id, end_id):
        written_ids = np.asarray(written_ids)
        target = np.concatenate([written_ids, np.full((len(written_ids), 1), end_id)], axis=1)
        decoder_input = np.concatenate([np.full((len(written_ids), 1), start_id), written_ids], axis=1)
        return decoder_input, target

    rejects("end token is at the very end of the padding", checks.check_decoder_io, end_after_padding)


def test_decoder_io_shifted_the_wrong_way(solution, rejects):
    def wrong_way(written_ids, start_id, end_id):
        decoder_input, target = solution["make_decoder_io"](written_ids, start_id, end_id)
        return np.roll(target, -1, axis=1), target

    rejects(
        "decoder_input should start with the start token|decoder_input should be", checks.check_decoder_io, wrong_way
    )


def test_loss_not_masked(rejects):
    def unmasked(targets, logits):
        return ops.mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))

    rejects("padding positions count", checks.check_masked_loss, unmasked)


@pytest.mark.slow
def test_train_step_in_inference_mode(solution, rejects):
    def make_train_step(model, optimizer):
        @tf.function
        def train_step(source, decoder_input, decoder_target):
            with tf.GradientTape() as tape:
                loss = solution["masked_loss"](decoder_target, model(source, decoder_input))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return train_step

    rejects(r"training=True", checks.check_train_step, make_train_step)


def test_train_step_not_compiled(solution, rejects):
    def make_train_step(model, optimizer):
        return lambda source, decoder_input, decoder_target: 0.0

    rejects("@tf.function", checks.check_train_step, make_train_step)


def test_accuracy_counting_padding(rejects):
    def counting_padding(targets, predicted):
        targets, predicted = np.asarray(targets), np.asarray(predicted)
        return float(np.mean(targets == predicted)), float(np.mean(np.all(targets == predicted, axis=1)))

    rejects("token accuracy counts the padding", checks.check_sequence_accuracy, counting_padding)


def test_exact_match_comparing_whole_rows(solution, rejects):
    def whole_rows(targets, predicted):
        token, _ = solution["sequence_accuracy"](targets, predicted)
        return token, float(np.mean(np.all(np.asarray(targets) == np.asarray(predicted), axis=1)))

    rejects("exact match compares whole rows", checks.check_sequence_accuracy, whole_rows)


# --- Exercises 5 and 6: decoding ---------------------------------------------------------------------------------


def test_greedy_decoder_not_compiled(solution, rejects):
    def make(model, start_id, end_id, max_length):
        return solution["make_greedy_decoder"](model, start_id, end_id, max_length).python_function

    rejects("@tf.function", checks.check_greedy_decoder, make)


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
def test_beam_search_without_length_normalisation(solution, rejects):
    def unnormalised(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        return solution["beam_search"](step_fn, initial_state, start_id, end_id, beam_width, max_length, 0.0)

    rejects(r"with alpha=0.7|length \*\* alpha", checks.check_beam_search, unnormalised)


@pytest.mark.slow
def test_beam_search_passes_at_widths_between_one_and_the_widest(solution):
    assert "at width 3" in judged(
        checks.check_beam_search, solution["beam_search"], vocab_size=5, max_length=4, beam_width=3, seed=5
    )


def test_the_reference_beam_search_is_greedy_at_width_one_and_exhaustive_when_wide():
    for table in checks.beam_search_tables(5, seed=3):
        assert references.reference_beam_search(table, 4, 2, 1, 3, 1.0)[0] == references.greedy_markov(table, 4, 2, 3)
        for alpha in checks.BEAM_SEARCH_ALPHAS:
            tokens, score = references.reference_beam_search(table, 4, 2, 4**3, 3, alpha)
            best_tokens, best_score = references.exhaustive_search(table, 4, 2, 3, alpha)
            assert tokens == best_tokens and np.isclose(score, best_score)


@pytest.mark.slow
def test_beam_search_that_ranks_by_normalised_score_while_searching():
    """Greedy at width 1 and exhaustive when wide, but not the lab's search in between: only a middle width can show
    it, and only on some tables (on 3 of the seeds 50-79 with these arguments)."""

    def normalising_early(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        state = tf.repeat(tf.convert_to_tensor(initial_state)[None], beam_width, axis=0)
        scores = tf.concat([[0.0], tf.fill([beam_width - 1], float("-inf"))], axis=0)
        last = tf.fill([beam_width], start_id)
        tokens = tf.zeros([beam_width, 0], tf.int32)
        finished = tf.zeros([beam_width], tf.bool)
        lengths = tf.zeros([beam_width])
        for _ in range(max_length):
            log_probs, new_state = step_fn(last, state)
            vocab_size = tf.shape(log_probs)[1]
            only_padding = tf.where(tf.range(vocab_size) == 0, 0.0, float("-inf"))
            log_probs = tf.where(finished[:, None], only_padding[None, :], log_probs)
            extended = tf.reshape(scores[:, None] + log_probs, [-1])
            grown = tf.repeat(lengths + tf.cast(~finished, tf.float32), vocab_size)
            _, flat_index = tf.math.top_k(extended / tf.maximum(grown, 1.0) ** alpha, k=beam_width)  # the mistake
            scores = tf.gather(extended, flat_index)
            beam, last = flat_index // vocab_size, tf.cast(flat_index % vocab_size, tf.int32)
            was_finished = tf.gather(finished, beam)
            tokens = tf.concat([tf.gather(tokens, beam), last[:, None]], axis=1)
            state = tf.gather(new_state, beam)
            lengths = tf.gather(lengths, beam) + tf.cast(~was_finished, tf.float32)
            finished = was_finished | (last == end_id)
        normalised = scores / tf.maximum(lengths, 1.0) ** alpha
        best = tf.argmax(normalised)
        return tokens[best], normalised[best]

    judged(checks.check_beam_search, normalising_early, seed=5)  # the visible test cannot tell
    fails_with(
        r"with beam_width=2 .* by raw score",
        checks.check_beam_search,
        normalising_early,
        vocab_size=5,
        max_length=4,
        start_id=4,
        end_id=2,
        beam_width=2,
        seed=58,
    )


@pytest.mark.slow
def test_beam_search_that_goes_on_after_the_end(solution):
    def never_finishing(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        return solution["beam_search"](
            step_fn, initial_state, start_id, -1, beam_width, max_length, alpha
        )  # extends past the end

    fails_with("with beam_width=1 beam search should be greedy decoding", checks.check_beam_search, never_finishing)


def test_attention_that_squeezes_every_axis_of_one(solution, rejects):
    class SqueezeAll(solution["AdditiveAttention"]):
        def call(self, query, keys, mask=None):
            projected = ops.tanh(
                ops.matmul(query, self.query_kernel)[:, :, None] + ops.matmul(keys, self.key_kernel)[:, None]
            )
            scores = ops.squeeze(
                ops.matmul(projected, self.score_vector[:, None])
            )  # no axis: one query step loses its axis too
            if mask is not None:
                scores = ops.where(ops.cast(mask, "bool")[:, None, :], scores, -1e9)
            weights = ops.softmax(scores, axis=-1)
            return ops.matmul(weights, keys), weights

    rejects("one query step", checks.check_attention, SqueezeAll)


@pytest.mark.slow
def test_train_step_with_an_unmasked_loss_is_not_blamed_on_dropout(solution):
    def make(model, optimizer):
        @tf.function
        def train_step(source, decoder_input, decoder_target):
            with tf.GradientTape() as tape:
                logits = model(source, decoder_input, training=True)
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(decoder_target, logits, from_logits=True)
                )
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return train_step

    fails_with(
        r"^(?!.*dropout).*(masked_loss\(decoder_target, logits\)|gradients of your masked loss)",
        checks.check_train_step,
        make,
    )


@pytest.mark.slow
def test_beam_search_that_does_not_reorder_the_states(solution):
    def stale_states(step_fn, initial_state, start_id, end_id, beam_width, max_length, alpha=1.0):
        previous = {}

        def in_creation_order(tokens, state):  # each beam gets the state of the beam that had its place before
            log_probs, new_state = step_fn(tokens, previous.get("state", state))
            previous["state"] = new_state
            return log_probs, new_state

        return solution["beam_search"](
            in_creation_order, initial_state, start_id, end_id, beam_width, max_length, alpha
        )

    fails_with("the best is|should be greedy decoding|the score of", checks.check_beam_search, stale_states)
