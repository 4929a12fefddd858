"""The Lab 5 checks pass the reference solution and catch typical mistakes with a useful message.

Both as the grader judges them (:func:`helpers.judged`: the probe, then an expectation the private references compute
afresh, for any arguments and seeds) and as students run them in the notebook (``checks.check_<name>(...)``: the probe,
then the expectation stored in ``course_utils/checks/expected/lab5.json`` for the visible test calls' arguments).
"""

import re

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from helpers import call_arguments, fails_from_stored_data, fails_with, judged, solution_namespace
from keras import ops

from autograde.cells import is_test
from autograde.grading.judge import get_check, judged_params
from autograde.grading.references import lab5 as references, stored_differences
from course_utils.captioning import END_ID, PAD_ID, START_ID
from course_utils.checks import lab5 as checks
from course_utils.checks.delegation import DelegationRefused
from course_utils.checks.probing import Check

LAB = "lab5_image_captioning"
SEED_KEYS = ("first submission", "second submission", "third submission")  # each draws other seeds for every call
TEST_CELLS = (
    "test_image_encoder",
    "test_soft_attention",
    "test_captioner",
    "test_captioning_loss",
    "test_greedy_captioner",
)
CHECK_OF_CELL = {
    "test_image_encoder": "image_encoder",
    "test_soft_attention": "attention",
    "test_captioner": "decoder_step",
    "test_captioning_loss": "captioning_loss",
    "test_greedy_captioner": "greedy_captioner",
}


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, LAB)


@pytest.fixture(scope="module")
def test_cells(course):
    """{grade_id: source} of the solution notebook's test cells, hidden tests included."""
    notebook = nbformat.read(course.solution_notebook(LAB), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells if is_test(cell)}


@pytest.fixture(params=[fails_with, fails_from_stored_data], ids=["judged", "stored"])
def rejects(request):
    return request.param


# --- the reference passes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, name",
    [
        (checks.check_image_encoder, "ImageEncoder"),
        (checks.check_attention, "SoftAttention"),
        (checks.check_decoder_step, "Captioner"),
        (checks.check_captioning_loss, "captioning_loss"),
        (checks.check_greedy_captioner, "make_greedy_captioner"),
    ],
)
def test_reference_passes(solution, check, name):
    judged(check, solution[name], seed=5)


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
        check(*args, **kwargs)
    assert capsys.readouterr().out.count("\u2714") == len(visible)


def test_the_stored_expectations_are_up_to_date(course):
    assert stored_differences(course, LAB) == []


def test_every_check_is_a_probe_and_a_comparison_with_a_private_expectation():
    found = {name: value for name, value in vars(checks).items() if isinstance(value, Check) and value.expects}
    assert sorted(found) == sorted(f"check_{name}" for name in CHECK_OF_CELL.values())
    for name, check in found.items():
        assert check.expects and callable(getattr(references, f"expect_{check.name}", None)), name
        assert check.__doc__ and "Args:" in check.__doc__, name


def test_no_reference_is_public():
    names = set(vars(checks))
    for private in ("soft_attention", "decoder_steps", "reference_greedy", "captioning_loss", "_sigmoid", "_lstm"):
        assert private not in names


def test_the_greedy_check_has_rows_that_end_early_and_rows_that_do_not():
    tokens = np.concatenate(
        [
            references.expect_greedy_captioner(max_length=6, batch=5, image_size=16, seed=seed)["tokens"]
            for seed in range(4)
        ]
    )
    ended = (tokens == END_ID).any(axis=1)
    assert ended.any() and not ended.all() and (tokens[ended] == PAD_ID).any(), tokens
    assert set(tokens[~ended].ravel()) == {3, 4}, tokens  # both words are written, never the padding or the start


# --- Exercise 1: the image encoder ---------------------------------------------------------------------------


def encoder_variant(solution, mistake):
    """ImageEncoder with one typical mistake."""

    class Variant(solution["ImageEncoder"]):
        def call(self, images):
            x = images
            for conv, pool in self.blocks:
                x = pool(conv(x))
            side = x.shape[1]
            if mistake == "features column major":
                x = ops.transpose(x, (0, 2, 1, 3))
            if mistake == "global pooling":
                x = ops.broadcast_to(ops.mean(x, axis=(1, 2), keepdims=True), ops.shape(x))
            centres = (2 * ops.arange(side, dtype="float32") + 1) / side - 1
            if mistake == "corners":
                centres = ops.linspace(-1.0, 1.0, side)
            if mistake == "indices":
                centres = ops.arange(side, dtype="float32")
            xs, ys = ops.meshgrid(centres, centres)
            if mistake == "column major":
                xs, ys = ops.transpose(xs), ops.transpose(ys)
            pair = [ys, xs] if mistake == "swapped" else [xs, ys]
            coordinates = ops.stack([ops.reshape(c, [-1]) for c in pair], axis=-1)
            features = ops.reshape(x, [-1, side * side, x.shape[-1]])
            if mistake == "no coordinates":
                return features
            if mistake == "one vector":
                features = ops.mean(features, axis=1, keepdims=True)
                coordinates = coordinates[:1]
            coordinates = ops.broadcast_to(coordinates[None], [ops.shape(features)[0], ops.shape(features)[1], 2])
            return ops.concatenate([features, coordinates], axis=-1)

    return Variant


@pytest.mark.parametrize(
    "mistake, message",
    [
        ("swapped", r"the coordinates are \(y, x\)"),
        ("column major", "column by column"),  # features and coordinates alike: it reads as (y, x)
        ("features column major", "the cells are listed column by column"),
        ("corners", "at the outer cells"),
        ("indices", "the cells' indices"),
        ("no coordinates", "end with its two coordinates"),
        ("one vector", "the grid has one cell"),
        ("global pooling", "some far from there"),
    ],
)
def test_image_encoder_mistakes(solution, mistake, message, rejects):
    rejects(message, checks.check_image_encoder, encoder_variant(solution, mistake), filters=[4, 6], image_size=32)


def test_an_encoder_without_relu_or_with_other_layers_is_named(solution):
    class Linear(solution["ImageEncoder"]):
        def __init__(self, filters=(32, 64, 64), **kwargs):
            super().__init__(filters, **kwargs)
            for conv, _ in self.blocks:
                conv.activation = keras.activations.linear

    fails_with("should come out of a ReLU", checks.check_image_encoder, Linear)

    class Wider(solution["ImageEncoder"]):
        def __init__(self, filters=(32, 64, 64), **kwargs):
            super().__init__(filters, **kwargs)
            self.blocks.insert(0, (keras.layers.Conv2D(3, 1), keras.layers.Identity()))

    fails_with("the encoder has .* weights; 2 blocks", checks.check_image_encoder, Wider)


def test_an_encoder_whose_features_are_not_the_blocks_is_caught(solution, rejects):
    class CornerOnly(solution["ImageEncoder"]):
        """Builds its blocks, then keeps zeros but for a first cell that reads the top-left pixels."""

        def call(self, images):
            grid = super().call(images)
            corner = ops.mean(images[:, :4, :4], axis=(1, 2, 3))[:, None, None]
            first_cell = ops.one_hot(ops.zeros([1], "int32"), ops.shape(grid)[1])[0][None, :, None]
            return ops.concatenate([corner * first_cell * ops.ones_like(grid[..., :-2]), grid[..., -2:]], axis=-1)

    class Sigmoid(solution["ImageEncoder"]):
        def __init__(self, filters=(32, 64, 64), **kwargs):
            super().__init__(filters, **kwargs)
            for conv, _ in self.blocks:
                conv.activation = keras.activations.sigmoid

    for wrong in (CornerOnly, Sigmoid):
        rejects(
            "with the same weights, the features differ",
            checks.check_image_encoder,
            wrong,
            filters=[4, 6],
            image_size=32,
        )


@pytest.mark.parametrize(
    "mistake, block",
    [
        (
            "average_pooling",
            lambda f: (keras.layers.Conv2D(f, 3, padding="same", activation="relu"), keras.layers.AveragePooling2D(2)),
        ),
        (
            "strided",
            lambda f: (
                keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Identity(),
            ),
        ),
    ],
)
def test_encoder_feature_mistakes(solution, mistake, block, rejects):
    class Variant(solution["ImageEncoder"]):
        def __init__(self, filters=(32, 64, 64), **kwargs):
            super().__init__(filters, **kwargs)
            self.blocks = [block(f) for f in self.filters]

    message = re.escape(checks.ENCODER_FEATURE_MISTAKES[mistake])
    rejects(message, checks.check_image_encoder, Variant, filters=[4, 6], image_size=32)
    fails_with(message, checks.check_image_encoder, Variant, filters=[3, 5, 4], image_size=64, batch=3, seed=9)


# --- Exercise 2: soft attention -------------------------------------------------------------------------------


def attention_variant(solution, mistake):
    class Variant(solution["SoftAttention"]):
        def call(self, grid, hidden):
            projected = (
                ops.matmul(grid, self.grid_kernel) + ops.matmul(hidden, self.hidden_kernel)[:, None, :] + self.bias
            )
            activated = projected if mistake == "no_tanh" else ops.tanh(projected)
            scores = ops.squeeze(ops.matmul(activated, self.score_kernel), axis=-1)
            weights = ops.softmax(scores, axis=0 if mistake == "softmax_over_batch" else 1)
            gate = ops.sigmoid(ops.matmul(hidden, self.gate_kernel) + self.gate_bias)
            context = ops.einsum("bl,bld->bd", weights, grid)
            if mistake != "no_gate":
                context = gate * context
            if mistake == "gated_weights":
                weights = gate * weights
            return context, weights

    return Variant


@pytest.mark.parametrize("mistake", list(checks.ATTENTION_MISTAKES))
def test_attention_mistakes(solution, mistake, rejects):
    message = checks.ATTENTION_MISTAKES[mistake]
    rejects(re.escape(message), checks.check_attention, attention_variant(solution, mistake))


def test_attention_that_training_cannot_follow_is_caught(solution, rejects):
    class ScoresStopped(solution["SoftAttention"]):
        """Right numbers, but the scores' weights never learn."""

        def call(self, grid, hidden):
            _, weights = super().call(grid, hidden)
            weights = ops.stop_gradient(weights)
            gate = ops.sigmoid(ops.matmul(hidden, self.gate_kernel) + self.gate_bias)
            return gate * ops.einsum("bl,bld->bd", weights, grid), weights

    rejects("their gradient with respect to grid is not", checks.check_attention, ScoresStopped)


def test_attention_with_weights_in_another_order_is_named(solution):
    class Reordered(solution["SoftAttention"]):
        def build(self, grid_shape, hidden_shape):
            self.gate_kernel = self.add_weight(shape=(hidden_shape[-1], 1), name="gate_kernel")
            super().build(grid_shape, hidden_shape)

    fails_with("should create its weights in this order", checks.check_attention, Reordered)


def test_attention_may_not_use_keras_attention_layers(solution):
    class Delegating(solution["SoftAttention"]):
        def call(self, grid, hidden):
            keras.layers.AdditiveAttention()([hidden[:, None, :2], grid[..., :2]])
            return super().call(grid, hidden)

    fails_with("calls keras.layers.AdditiveAttention, which is the exercise itself", checks.check_attention, Delegating)


# --- Exercise 3: the decoder ---------------------------------------------------------------------------------------


def captioner_variant(solution, mistake):
    class Variant(solution["Captioner"]):
        def start(self, grid):
            mean = ops.sum(grid, axis=1) if mistake == "sum_start" else ops.mean(grid, axis=1)
            h, c = self.init_h(mean), self.init_c(mean)
            if mistake == "zero_start":
                h, c = ops.zeros_like(h), ops.zeros_like(c)
            return [c, h] if mistake == "swapped_start" else [h, c]

        def step(self, tokens, state, grid):
            context, weights = self.attention(grid, state[1] if mistake == "attends_with_c" else state[0])
            embedded = self.embedding(tokens)
            if mistake == "no_context_input":
                pieces = [embedded, ops.zeros_like(context)]
            elif mistake == "inputs_swapped":
                pieces = [context, embedded]
            else:
                pieces = [embedded, context]
            h, new_state = self.cell(ops.concatenate(pieces, axis=-1), state)
            read = state[0] if mistake == "output_from_old_state" else h
            deep = self.deep_output(ops.concatenate([read, context], axis=-1))
            if mistake != "no_embedding_in_output":
                deep = deep + embedded
            return self.output_layer(deep), new_state, weights

    return Variant


@pytest.mark.parametrize("mistake", list(checks.DECODER_MISTAKES))
def test_decoder_mistakes(solution, mistake, rejects):
    rejects(
        re.escape(checks.DECODER_MISTAKES[mistake]), checks.check_decoder_step, captioner_variant(solution, mistake)
    )


def test_a_decoder_that_returns_too_little_is_named(solution):
    class TwoThings(solution["Captioner"]):
        def step(self, tokens, state, grid):
            logits, state, _ = super().step(tokens, state, grid)
            return logits, state

    fails_with(r"step should return \(logits, state, attention weights\)", checks.check_decoder_step, TwoThings)


# --- Exercise 4: the loss ------------------------------------------------------------------------------------------


def loss_variant(mistake):
    def loss_fn(targets, logits, attention_weights, penalty_weight):
        real = ops.cast(ops.not_equal(targets, 0), "float32")
        cross_entropy = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        counted = ops.ones_like(real) if mistake == "padding_counted" else real
        if mistake == "mean_of_rows":
            loss = ops.mean(ops.sum(cross_entropy * real, axis=1) / ops.sum(real, axis=1))
        else:
            loss = ops.sum(cross_entropy * counted) / ops.sum(counted)
        steps = ops.ones_like(real) if mistake == "penalty_with_padding" else real
        totals = ops.sum(attention_weights * steps[:, :, None], axis=1)
        if mistake == "no_penalty":
            return loss
        if mistake == "penalty_mean_over_cells":
            return loss + penalty_weight * ops.mean(ops.mean((1.0 - totals) ** 2, axis=-1))
        return loss + penalty_weight * ops.mean(ops.sum((1.0 - totals) ** 2, axis=-1))

    return loss_fn


@pytest.mark.parametrize("mistake", list(checks.LOSS_MISTAKES))
def test_loss_mistakes(mistake, rejects):
    rejects(
        re.escape(checks.LOSS_MISTAKES[mistake]),
        checks.check_captioning_loss,
        loss_variant(mistake),
        penalty_weights=[0.0, 0.5],
    )


def test_a_loss_that_training_cannot_follow_is_caught(solution, rejects):
    reference = solution["captioning_loss"]

    def in_numpy(targets, logits, attention_weights, penalty_weight):  # the right number, but no gradient
        arrays = [tf.constant(np.asarray(x)) for x in (targets, logits, attention_weights)]
        return float(reference(*arrays, penalty_weight))

    def penalty_stopped(targets, logits, attention_weights, penalty_weight):
        return reference(targets, logits, ops.stop_gradient(attention_weights), penalty_weight)

    rejects(
        "gradient with respect to the logits is not", checks.check_captioning_loss, in_numpy, penalty_weights=[0.0, 0.5]
    )
    rejects(
        "gradient with respect to the attention weights is not",
        checks.check_captioning_loss,
        penalty_stopped,
        penalty_weights=[0.0, 0.5],
    )


def test_a_loss_that_is_not_one_number_is_named():
    fails_with("should return one number", checks.check_captioning_loss, lambda t, logits, w, p: logits[..., 0])


# --- Exercise 5: greedy decoding -------------------------------------------------------------------------------


def greedy_variant(mistake):
    def make(model, max_length):
        def decode(images):
            grid = model.encode(images)
            state = model.start(grid)
            batch = tf.shape(images)[0]
            tokens = tf.fill([batch], START_ID)
            finished = tf.zeros([batch], tf.bool)
            all_tokens, all_weights = [], []
            for _ in range(max_length):
                logits, state, weights = model.step(tokens, state, grid)
                tokens = tf.argmax(logits, axis=-1, output_type=tf.int32)
                if mistake != "no padding":
                    tokens = tf.where(finished, PAD_ID, tokens)
                all_tokens.append(tokens)
                all_weights.append(
                    weights if mistake == "weights after the end" else tf.where(finished[:, None], 0.0, weights)
                )
                finished = finished | (tokens == END_ID)
            return tf.stack(all_tokens, axis=1), tf.stack(all_weights, axis=1)

        return decode if mistake == "eager" else tf.function(decode)

    return make


@pytest.mark.parametrize(
    "mistake, message",
    [
        ("no padding", "after the end token a row should only get 0"),
        ("weights after the end", "zeros after the end token"),
        ("eager", "decorated with @tf.function"),
    ],
)
def test_greedy_mistakes(mistake, message, rejects):
    rejects(message, checks.check_greedy_captioner, greedy_variant(mistake), max_length=6)


def test_greedy_decoding_from_the_wrong_start_is_named():
    def make(model, max_length):
        @tf.function
        def decode(images):
            grid = model.encode(images)
            state = model.start(grid)
            tokens = tf.fill([tf.shape(images)[0]], END_ID)
            all_tokens, all_weights = [], []
            for _ in range(max_length):
                logits, state, weights = model.step(tokens, state, grid)
                tokens = tf.argmax(logits, axis=-1, output_type=tf.int32)
                all_tokens.append(tokens)
                all_weights.append(weights)
            return tf.stack(all_tokens, axis=1), tf.stack(all_weights, axis=1)

        return decode

    fails_with("from START_ID", checks.check_greedy_captioner, make)


def decode_one_by_one(model, max_length, one_image):
    """Greedy decoding of one image (a batch of one), as the reference does it, compiled."""
    grid = model.encode(one_image)
    state = model.start(grid)
    tokens, finished = tf.fill([1], START_ID), tf.zeros([1], tf.bool)
    all_tokens, all_weights = [], []
    for _ in range(max_length):
        logits, state, weights = model.step(tokens, state, grid)
        tokens = tf.where(finished, PAD_ID, tf.argmax(logits, axis=-1, output_type=tf.int32))
        all_tokens.append(tokens)
        all_weights.append(tf.where(finished[:, None], 0.0, weights))
        finished = finished | (tokens == END_ID)
    return tf.stack(all_tokens, axis=1), tf.stack(all_weights, axis=1)


def test_greedy_decoding_image_by_image_is_caught(rejects):
    def with_map_fn(model, max_length):
        @tf.function
        def decode(images):
            def one(image):
                tokens, weights = decode_one_by_one(model, max_length, image[None])
                return tokens[0], weights[0]

            return tf.map_fn(one, images, fn_output_signature=(tf.int32, tf.float32))

        return decode

    def with_python_loop(model, max_length):
        @tf.function
        def decode(images):
            rows = [decode_one_by_one(model, max_length, images[i : i + 1]) for i in range(images.shape[0])]
            return tf.concat([t for t, _ in rows], 0), tf.concat([w for _, w in rows], 0)

        return decode

    for make in (with_map_fn, with_python_loop):
        rejects("a call of model.step got 1 image", checks.check_greedy_captioner, make, max_length=6)


def test_greedy_decoding_in_python_inside_the_tf_function_is_caught(rejects):
    def make(model, max_length):
        def eager(images):  # batched and right, but run by Python at each call
            grid = model.encode(images)
            state = model.start(grid)
            tokens, finished = tf.fill([len(images)], START_ID), np.zeros(len(images), bool)
            all_tokens, all_weights = [], []
            for _ in range(max_length):
                logits, state, weights = model.step(tokens, state, grid)
                tokens = tf.where(finished, PAD_ID, tf.argmax(logits, axis=-1, output_type=tf.int32))
                all_tokens.append(tokens)
                all_weights.append(tf.where(finished[:, None], 0.0, weights))
                finished = finished | (tokens.numpy() == END_ID)
            return tf.stack(all_tokens, axis=1), tf.stack(all_weights, axis=1)

        @tf.function
        def decode(images):
            tokens, weights = tf.py_function(eager, [images], [tf.int32, tf.float32])
            return tokens, weights

        return decode

    rejects("calls back into Python", checks.check_greedy_captioner, make, max_length=6)


def test_the_references_refuse_to_run_while_student_code_is_watched():
    from course_utils.checks.delegation import refuse_delegation

    grid, hidden, weights = checks.attention_inputs(2, 3, 4, 3, 2, 0)
    with pytest.raises(DelegationRefused), refuse_delegation(checks.ATTENTION):
        references.soft_attention(weights, grid, hidden)
    assert np.isfinite(references.soft_attention(weights, grid, hidden)[0]).all()


@pytest.mark.parametrize("where", ["context", "embedding", "state"])
def test_a_decoder_that_blocks_its_gradient_is_named(solution, where):
    class Blocked(solution["Captioner"]):
        def step(self, tokens, state, grid):
            context, weights = self.attention(grid, state[0])
            embedded = self.embedding(tokens)
            if where == "context":
                context = tf.stop_gradient(context)
            if where == "embedding":
                embedded = tf.stop_gradient(embedded)
            if where == "state":
                state = [tf.stop_gradient(s) for s in state]
            h, state = self.cell(ops.concatenate([embedded, context], axis=-1), state)
            logits = self.output_layer(embedded + self.deep_output(ops.concatenate([h, context], axis=-1)))
            return logits, state, weights

    fails_with("the first state and the steps are right but their gradient is not", checks.check_decoder_step, Blocked)


def test_the_decoder_gradient_agrees_with_central_differences_well_inside_the_tolerance(solution):
    params = checks.check_decoder_step.params(solution["Captioner"], seed=9)
    observed = checks.probe_decoder_step(solution["Captioner"], seed=9)
    expected = references.expect_decoder_step(**params)
    flat = np.concatenate([np.ravel(g) for g in observed["gradients"]])
    along = [flat @ d for d in checks.decoder_directions(flat.size, len(expected["slopes"]), 9)]
    assert np.allclose(along, expected["slopes"], rtol=1e-5, atol=1e-5), (along, expected["slopes"])
