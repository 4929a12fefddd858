"""The Lab 3 checks pass the reference solution and catch typical mistakes with a useful message.

``fails_with`` and ``judged`` run a check as the grader does (the probe, then the comparison with an expectation
the private references compute afresh, for any arguments); ``checks.check_<name>(...)`` runs it as a student's
self-check does, from the expectation stored for the notebook's visible test calls.
"""

import ast

import keras
import nbformat
import numpy as np
import pytest
from helpers import fails_with, judged, solution_namespace
from keras import ops

from autograde.cells import is_test
from autograde.grading.judge import judged_params
from autograde.grading.references import lab3 as references, stored_differences
from course_utils import metrics
from course_utils.checks import CheckFailed, compare_answer, lab3 as checks, probe_answer

LAB = "lab3_tweet_sentiment"


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, LAB)


@pytest.fixture(scope="module")
def tiny_vectorizer_and_model(solution):
    from course_utils.text import standardize_tweet

    vectorizer = keras.layers.TextVectorization(max_tokens=30, standardize=standardize_tweet, output_sequence_length=6)
    vectorizer.adapt(np.array(["good :)", "bad :( #fail", "@user ok then", "so good!!!"], dtype=object))
    model = solution["build_classifier"](30, 4, solution["make_encoder"]("lstm", 3))
    return vectorizer, model


TEXTS = ["good :)", "@user bad!!!", "", "an unseen word"]


@pytest.mark.slow  # builds and runs every reference model
def test_reference_solution_passes_every_check(solution, tiny_vectorizer_and_model):
    judged(checks.check_classifier, solution["build_classifier"], vocab_size=20, embed_dim=3, units=2, seed=5)
    judged(checks.check_encoder, solution["make_encoder"], input_dim=3, units=2, seed=5)
    judged(checks.check_class_weights, solution["class_weights"], seed=5)
    judged(checks.check_macro_recall, solution["macro_recall"], seed=5)
    judged(checks.check_attention_pooling, solution["MyAttentionPooling"], seed=5)
    judged(checks.check_layer_norm_lstm_cell, solution["LayerNormLSTMCell"], seed=5)
    checks.check_string_model(
        solution["build_string_model"], *tiny_vectorizer_and_model, TEXTS
    )  # compares no expectation


def test_a_right_layer_norm_cell_passes_where_float32_rounding_grows(solution):
    # The seed a grader drew in CI: the solution's outputs were 1.13e-5 off the float64 reference (LAYER_NORM_ATOL).
    sizes = {"batch": 4, "steps": 5, "input_dim": 3, "units": 4, "seed": 1776722223}
    observed = checks.probe_layer_norm_lstm_cell(solution["LayerNormLSTMCell"], **sizes)
    expected = references.expect_layer_norm_lstm_cell(**sizes)
    assert np.abs(observed["outputs"] - expected["outputs"]).max() > checks.ATOL  # still the case it was
    checks.compare_layer_norm_lstm_cell(observed, expected, **sizes)


def solution_calls(course, solution, seed_key=None, hidden=True):
    """Every check call of the solution notebook's test cells whose objects the solution cells define, as
    (check, objects, arguments): the arguments bound as the grader binds them (seeds drawn from ``seed_key``)."""
    notebook = nbformat.read(course.solution_notebook(LAB), as_version=4)
    calls = []
    for cell in notebook.cells:
        if not is_test(cell):
            continue
        for call, params in judged_params(
            LAB, cell.source, seed_key=seed_key, grade_id=cell.metadata["nbgrader"]["grade_id"]
        ):
            if call.hidden and not hidden:
                continue
            check = getattr(checks, f"check_{call.check}")
            names = list(check.signature.parameters)
            positional = len(call.params["__positional__"])
            sources = [arg for name, arg in zip(names, call.args[:positional]) if name not in params]
            sources += [arg.split("=", 1)[1] for arg in call.args[positional:] if arg.split("=", 1)[0] not in params]
            used = {node.id for source in sources for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
            # Predictions and recorded answers compare with nothing; the answers' values: the test after the next.
            if call.check in ("prediction", "answer_recorded", "answer") or not used <= set(solution):  # notebook data
                continue
            calls.append((check, [eval(source, solution) for source in sources], params))
    return calls


def test_the_solution_notebook_calls_every_check_with_solution_objects(course, solution):
    # Guards the two tests below: the calls they run include every check that compares with an expectation.
    names = {check.name for check, _, _ in solution_calls(course, solution)}
    assert names == {
        "classifier",
        "encoder",
        "class_weights",
        "layer_norm_lstm_cell",
        "macro_recall",
        "attention_pooling",
    }


def test_the_solution_passes_the_visible_checks_from_stored_data_alone(course, solution, capsys):
    # As a student's self-check runs: the expectation comes from course_utils/checks/expected/lab3.json.
    calls = solution_calls(course, solution, hidden=False)
    for check, objects, params in calls:
        check(*objects, **params)
    assert capsys.readouterr().out.count("\u2714") == len(calls) == 6


@pytest.mark.slow  # every visible and hidden call of the notebook, for three submissions
@pytest.mark.parametrize("seed_key", ["any", "another submission", "a third"])
def test_the_solution_passes_every_notebook_call_as_graded(course, solution, seed_key):
    for check, objects, params in solution_calls(course, solution, seed_key=seed_key):
        judged(check, *objects, **params)


def test_the_solution_answers_every_reasoning_question_right(solution):
    assert set(solution["answers"]) == set(references.QUESTIONS)
    for name in references.QUESTIONS:
        observed = probe_answer(solution["answers"], name)
        assert compare_answer(observed, references.expect_answer(name), name).endswith("is right")


def test_the_stored_expectations_match_the_references(course):
    assert stored_differences(course, LAB) == []


def test_the_public_checks_hold_no_reference():
    for name in (
        "_balanced_weights",
        "_macro_recall_over_true_classes",
        "_macro_recall_as_sklearn",
        "_macro_precision",
        "_reference_attention",
        "_reference_layer_norm_lstm",
        "_layer_norm",
        "_sigmoid",
        "_reference_parameters",
        "RECURRENT_KINDS",
    ):
        assert not hasattr(checks, name), name
        assert hasattr(references, name), name


def classifier_variant(
    solution,
    mask_zero=True,
    activation="softmax",
    use_encoder=True,
    embedding_dropout=keras.layers.SpatialDropout1D,
    output_dropout=keras.layers.Dropout,
):
    def build(vocab_size, embed_dim, encoder, num_classes=3, dropout=0.0):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=mask_zero)(tokens)
        if embedding_dropout:
            x = embedding_dropout(dropout)(x)
        for layer in encoder if use_encoder else [keras.layers.GlobalAveragePooling1D()]:
            x = layer(x)
        if output_dropout:
            x = output_dropout(dropout)(x)
        return keras.Model(tokens, keras.layers.Dense(num_classes, activation=activation)(x))

    return build


def test_classifier_without_mask_zero(solution):
    fails_with(
        "padding tokens.*changed the outputs.*mask_zero=True",
        checks.check_classifier,
        classifier_variant(solution, mask_zero=False),
    )


def test_classifier_without_softmax(solution):
    fails_with("class probabilities.*softmax", checks.check_classifier, classifier_variant(solution, activation=None))


def test_classifier_ignoring_the_encoder(solution):
    fails_with("contain the encoder layers", checks.check_classifier, classifier_variant(solution, use_encoder=False))


def test_classifier_variant_with_both_dropouts_passes(solution):
    checks.check_classifier(classifier_variant(solution))


def test_classifier_with_its_softmax_as_a_layer_of_its_own_passes():
    # "a Dense layer with a softmax": Dense(num_classes) then Softmax() is that too (the review found it failed).
    def build(vocab_size, embed_dim, encoder, num_classes=3, dropout=0.0):
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.SpatialDropout1D(dropout)(
            keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
        )
        for layer in encoder:
            x = layer(x)
        x = keras.layers.Dense(num_classes)(keras.layers.Dropout(dropout)(x))
        return keras.Model(tokens, keras.layers.Softmax()(x))

    judged(checks.check_classifier, build, seed=3)


def test_classifier_ignoring_dropout(solution):
    fails_with(
        r"right after the Embedding put SpatialDropout1D\(0.4\)",
        checks.check_classifier,
        classifier_variant(solution, embedding_dropout=None, output_dropout=None),
    )


def test_classifier_with_plain_dropout_after_the_embedding(solution):
    fails_with(
        r"right after the Embedding put SpatialDropout1D\(0.4\).*\['Embedding', 'Dropout'",
        checks.check_classifier,
        classifier_variant(solution, embedding_dropout=keras.layers.Dropout),
    )


def test_classifier_without_dropout_before_the_output(solution):
    fails_with(
        r"right before the output layer put Dropout\(0.4\)",
        checks.check_classifier,
        classifier_variant(solution, output_dropout=None),
    )


def test_classifier_with_a_dropout_subclass_after_the_embedding(solution):
    class SpatialDropout(keras.layers.Dropout):  # the right name, the wrong layer
        pass

    fails_with(
        r"right after the Embedding put SpatialDropout1D",
        checks.check_classifier,
        classifier_variant(solution, embedding_dropout=SpatialDropout),
    )


def test_classifier_whose_spatial_dropout_drops_single_numbers(solution):
    class SpatialByNameOnly(keras.layers.SpatialDropout1D):
        def call(self, inputs, training=False):
            return keras.layers.Dropout.call(self, inputs, training=training)

    fails_with(
        "drops single numbers",
        checks.check_classifier,
        classifier_variant(solution, embedding_dropout=SpatialByNameOnly),
    )


def test_classifier_whose_spatial_dropout_drops_nothing(solution):
    class SpatialDoingNothing(keras.layers.SpatialDropout1D):
        def call(self, inputs, training=False):
            return inputs

    fails_with(
        "dropped 0% of the channels; with rate 0.4",
        checks.check_classifier,
        classifier_variant(solution, embedding_dropout=SpatialDoingNothing),
    )


class _ReadingTheFirstWordOnly(keras.Model):
    """The lab's layers, all built and in order; but the encoder reads only the first word of each tweet."""

    def __init__(self, vocab_size, embed_dim, encoder, num_classes, dropout):
        super().__init__()
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)
        self.spatial = keras.layers.SpatialDropout1D(dropout)
        self.encoder = encoder
        self.dropout = keras.layers.Dropout(dropout)
        self.classify = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, tokens, training=False):
        x = self.spatial(self.embedding(tokens[:, :1]), training=training)
        for layer in self.encoder:
            x = layer(x)
        return self.classify(self.dropout(x, training=training))


class _SpatialDropoutScalingAtInference(keras.layers.SpatialDropout1D):
    """Dropout as first published: scaled by the keep rate at inference (Keras scales in training instead)."""

    def call(self, inputs, training=False):
        return super().call(inputs, training=training) if training else inputs * (1 - self.rate)


@pytest.mark.parametrize(
    "mistake",
    ["an activation after the encoder", "reading the first word only", "dropout scaled at inference"],
)
def test_classifier_computing_something_else_with_the_right_layers(solution, mistake):
    # Layers, masking, probabilities, dropout and parameter counts all right: only the outputs with the check's weights
    # tell (each of these passed the check before it compared them).
    if mistake == "reading the first word only":

        def build(vocab_size, embed_dim, encoder, num_classes=3, dropout=0.0):
            return _ReadingTheFirstWordOnly(vocab_size, embed_dim, encoder, num_classes, dropout)

        pattern = "with the average pooling encoder your model's probabilities, with the weights the check set, differ"
    elif mistake == "an activation after the encoder":

        def build(vocab_size, embed_dim, encoder, num_classes=3, dropout=0.0):
            encoder = [*encoder, keras.layers.Activation("tanh")]
            return solution["build_classifier"](vocab_size, embed_dim, encoder, num_classes, dropout)

        pattern = "with the average pooling encoder your model's probabilities, with the weights the check set, differ"
    else:
        build = classifier_variant(solution, embedding_dropout=_SpatialDropoutScalingAtInference)
        pattern = r"with dropout=0.4 at inference your model's probabilities, with the weights the check set, differ"
    fails_with(pattern, checks.check_classifier, build, seed=3)


def test_classifier_applying_each_encoder_layer_to_the_embeddings(solution):
    # Right with every one-layer encoder, so only a two-layer one (the hidden test's) tells.
    def build(vocab_size, embed_dim, encoder, num_classes=3, dropout=0.0):
        tokens = keras.Input(shape=(None,), dtype="int32")
        embedded = keras.layers.SpatialDropout1D(dropout)(
            keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True)(tokens)
        )
        x = embedded
        for layer in encoder:
            x = layer(embedded)
        x = keras.layers.Dropout(dropout)(x)
        return keras.Model(tokens, keras.layers.Dense(num_classes, activation="softmax")(x))

    judged(checks.check_classifier, build, seed=3)
    fails_with(
        "should contain the encoder layers it is given, in order",
        checks.check_classifier,
        build,
        seed=3,
        stacked_encoder=True,
    )
    judged(checks.check_classifier, solution["build_classifier"], seed=3, stacked_encoder=True)


def encoder_variant(solution, **overrides):
    def make(kind, units, recurrent_dropout=0.0):
        if kind in overrides:
            return overrides[kind](units, recurrent_dropout)
        return solution["make_encoder"](kind, units, recurrent_dropout)

    return make


def test_encoder_returning_sequences(solution):
    make = encoder_variant(
        solution, lstm=lambda u, r: [keras.layers.LSTM(u, recurrent_dropout=r, return_sequences=True)]
    )
    fails_with("time axis.*return_sequences=False", checks.check_encoder, make)


def test_encoder_with_the_wrong_layer(solution):
    make = encoder_variant(solution, lstm=lambda u, r: [keras.layers.GRU(u, recurrent_dropout=r)])
    fails_with(r"make_encoder\('lstm', ...\) should return \[keras.layers.LSTM", checks.check_encoder, make)


def test_bidirectional_summing_the_directions(solution):
    make = encoder_variant(
        solution,
        bilstm=lambda u, r: [keras.layers.Bidirectional(keras.layers.LSTM(u, recurrent_dropout=r), merge_mode="sum")],
    )
    fails_with("merge_mode='concat'", checks.check_encoder, make)


def test_encoder_ignoring_recurrent_dropout(solution):
    make = encoder_variant(solution, simple_rnn=lambda u, r: [keras.layers.SimpleRNN(u)])
    fails_with("recurrent_dropout=0.25.*recurrent_dropout=0.0", checks.check_encoder, make)


def test_encoder_accepting_an_unknown_kind(solution):
    make = encoder_variant(solution, transformer=lambda u, r: [keras.layers.LSTM(u)])
    fails_with("should raise ValueError", checks.check_encoder, make)


@pytest.mark.parametrize(
    "kind, layers, passes",
    [
        ("simple_rnn", lambda u, r: [keras.layers.SimpleRNN(u, recurrent_dropout=r, activation="relu")], False),
        ("lstm", lambda u, r: [keras.layers.LSTM(u, recurrent_dropout=r, go_backwards=True)], False),
        (
            "bilstm",
            lambda u, r: [
                keras.layers.Bidirectional(
                    keras.layers.LSTM(u, recurrent_dropout=r, recurrent_activation="hard_sigmoid")
                )
            ],
            False,
        ),
        # unit_forget_bias only changes the initial bias, which the check's weights replace: it passes.
        ("lstm", lambda u, r: [keras.layers.LSTM(u, recurrent_dropout=r, unit_forget_bias=False)], True),
    ],
)
def test_encoder_computing_something_else_with_the_right_layer(solution, kind, layers, passes):
    # The right layer class, output size, parameters, recurrent dropout and masking: only the outputs with the check's
    # weights tell (each failing one here passed the check before it compared them).
    make = encoder_variant(solution, **{kind: layers})
    if passes:
        judged(checks.check_encoder, make, seed=3)
    else:
        fails_with(
            rf"^{kind}: the outputs of Embedding\(mask_zero=True\) -> your encoder, with the weights the check set, differ",
            checks.check_encoder,
            make,
            seed=3,
        )


def test_class_weights_growing_with_the_class():
    fails_with(
        "grow with the class size",
        checks.check_class_weights,
        lambda y, k: {c: float(np.mean(y == c)) for c in range(k)},
    )


def test_class_weights_of_classes_of_equal_size_pass(solution):
    # The right weights (all 1) are then proportional to the class sizes too: not the mistake of weights growing with them.
    seed = next(s for s in range(1000) if len(set(np.bincount(checks.class_weights_labels(20, 2, s)))) == 1)
    judged(checks.check_class_weights, solution["class_weights"], size=20, num_classes=2, seed=seed)


def test_class_weights_without_scaling():
    fails_with(
        "right proportions but the wrong scale",
        checks.check_class_weights,
        lambda y, k: {c: 1 / np.sum(y == c) for c in range(k)},
    )


def test_macro_recall_that_is_accuracy():
    fails_with(
        "that is the accuracy", checks.check_macro_recall, lambda t, p, k=3: np.mean(np.asarray(t) == np.asarray(p))
    )


def test_macro_recall_that_is_precision(solution):
    fails_with(
        "that is the macro precision", checks.check_macro_recall, lambda t, p, k=3: solution["macro_recall"](p, t, k)
    )


def test_macro_recall_dividing_by_zero_for_an_absent_class():
    def nan_for_absent(y_true, y_pred, num_classes=3):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        with np.errstate(invalid="ignore"):
            return float(
                np.mean([np.sum((y_true == c) & (y_pred == c)) / np.sum(y_true == c) for c in range(num_classes)])
            )

    fails_with("NaN", checks.check_macro_recall, nan_for_absent)


def test_macro_recall_with_scikit_learns_convention_passes():
    # sklearn.metrics.recall_score(average="macro"), as TweetEval's scorer computes it: the classes in y_true or y_pred,
    # and a predicted class absent from y_true has recall 0.
    def as_sklearn(y_true, y_pred, num_classes=3):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        labels = np.union1d(y_true, y_pred)
        return float(np.mean([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else 0.0 for c in labels]))

    checks.check_macro_recall(as_sklearn)
    judged(checks.check_macro_recall, as_sklearn, size=7, num_classes=2, seed=38)


def test_macro_recall_counting_an_absent_class_as_one():
    def one_for_absent(y_true, y_pred, num_classes=3):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        return float(
            np.mean([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else 1.0 for c in range(num_classes)])
        )

    fails_with("never occurs in y_true.*leave it out of the mean", checks.check_macro_recall, one_for_absent)


def test_macro_recall_counting_every_class_as_zero_when_absent():
    # Agrees with scikit-learn while the absent class is predicted; only a class in neither array tells them apart.
    def zero_for_absent(y_true, y_pred, num_classes=3):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        return float(
            np.mean([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else 0.0 for c in range(num_classes)])
        )

    fails_with(
        "occurs in neither y_true nor y_pred.*leave it out of the mean", checks.check_macro_recall, zero_for_absent
    )


def attention_variant(solution, weights_fn=None, call_fn=None):
    class Variant(solution["MyAttentionPooling"]):
        if weights_fn:

            def attention_weights(self, inputs, mask=None):
                return weights_fn(self, inputs, mask)

        if call_fn:

            def call(self, inputs, mask=None):
                return call_fn(self, inputs, mask)

    return Variant


def test_attention_ignoring_the_mask(solution):
    reference = solution["MyAttentionPooling"].attention_weights
    variant = attention_variant(solution, weights_fn=lambda self, x, mask: reference(self, x, None))
    fails_with(r"masked \(padding\) steps got weights", checks.check_attention_pooling, variant)


def test_attention_softmax_over_the_batch(solution):
    def over_batch(self, x, mask):
        scores = ops.tensordot(ops.tanh(ops.matmul(x, self.kernel) + self.bias), self.score_vector, axes=1)
        return ops.softmax(scores, axis=0)

    fails_with(
        "should sum to 1 over the time steps",
        checks.check_attention_pooling,
        attention_variant(solution, weights_fn=over_batch),
    )


def test_attention_with_infinite_scores_on_padding(solution):
    """-inf scores pass while every tweet has a word; a tweet of padding alone gets NaN weights, and fails."""

    def minus_infinity(self, x, mask):
        scores = ops.tensordot(ops.tanh(ops.matmul(x, self.kernel) + self.bias), self.score_vector, axes=1)
        return ops.softmax(scores if mask is None else ops.where(mask, scores, float("-inf")), axis=-1)

    variant = attention_variant(solution, weights_fn=minus_infinity)
    judged(checks.check_attention_pooling, variant, batch=3, steps=5, seed=5)
    fails_with(
        "for a tweet that is all padding.*-inf",
        checks.check_attention_pooling,
        variant,
        batch=3,
        steps=5,
        seed=5,
        padding_only_row=True,
    )
    judged(
        checks.check_attention_pooling, solution["MyAttentionPooling"], batch=3, steps=5, seed=5, padding_only_row=True
    )


def test_attention_averaging_instead_of_weighting(solution):
    variant = attention_variant(solution, call_fn=lambda self, x, mask: ops.mean(x, axis=1))
    fails_with(r"pooled output without a mask.*differs from the reference", checks.check_attention_pooling, variant)


def test_string_model_taking_token_ids(solution, tiny_vectorizer_and_model):
    fails_with(
        "could not predict a batch of raw strings",
        checks.check_string_model,
        lambda v, m: m,
        *tiny_vectorizer_and_model,
        TEXTS,
    )


# --- refusing delegation: the exercise may not call the function it asks for ------------------------------


def test_class_weights_from_the_checks_reference_are_refused():
    refused = "^class_weights calls the check's reference weights, which is the exercise itself: count"
    fails_with(refused, checks.check_class_weights, references._balanced_weights)
    fails_with(refused, checks.check_class_weights, lambda labels, k: dict(references._balanced_weights(labels, k)))


def test_class_weights_from_np_unique_pass():
    def class_weights(labels, num_classes):
        classes, counts = np.unique(labels, return_counts=True)
        return {int(c): len(labels) / (num_classes * n) for c, n in zip(classes, counts)}

    checks.check_class_weights(class_weights)


@pytest.mark.parametrize(
    "macro_recall, refused",
    [
        (
            lambda t, p, k=3: references._macro_recall_over_true_classes(np.asarray(t), np.asarray(p), k),
            "the check's reference macro recall",
        ),
        (
            lambda t, p, k=3: references._macro_recall_as_sklearn(np.asarray(t), np.asarray(p), k),
            "the check's reference macro recall",
        ),
        (
            lambda t, p, k=3: float(np.nanmean(metrics.per_class_recall(t, p, k))),
            "course_utils.metrics.per_class_recall",
        ),
    ],
    ids=["the check's reference", "the check's sklearn convention", "per-class recall"],
)
def test_macro_recall_from_course_code_is_refused(macro_recall, refused):
    message = f"^macro_recall calls {refused}, which is the exercise itself: compute the recall"
    fails_with(message, checks.check_macro_recall, macro_recall)


def test_macro_recall_from_the_confusion_matrix_passes():
    def from_confusion_matrix(y_true, y_pred, num_classes=3):
        matrix = metrics.confusion_matrix(y_true, y_pred, num_classes)  # allowed: counting is not the exercise
        present = matrix.sum(axis=1) > 0
        return float(np.mean(np.diag(matrix)[present] / matrix.sum(axis=1)[present]))

    checks.check_macro_recall(from_confusion_matrix)


class AttentionFromTheCheck(keras.layers.Layer):
    """Builds its weights, then hands every call to the check's own numpy reference."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias")
        self.score_vector = self.add_weight(shape=(self.units,), name="score_vector")

    def attention_weights(self, inputs, mask=None):
        weights = [w.numpy() for w in self.weights]
        return references._reference_attention(weights, np.asarray(inputs), None if mask is None else np.asarray(mask))[
            0
        ]

    def call(self, inputs, mask=None):
        return ops.sum(inputs * ops.expand_dims(self.attention_weights(inputs, mask), -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None


def test_attention_pooling_handing_its_work_to_the_checks_reference_is_refused():
    refused = "^MyAttentionPooling calls the check's reference attention, which is the exercise itself: create kernel"
    fails_with(refused, checks.check_attention_pooling, AttentionFromTheCheck)


def layer_norm_lstm_variant(solution, gates=None, cell_state=None, output=None, states=None):
    """The solution's LayerNormLSTMCell with one step of ``call`` replaced.

    Args:
        gates: fn(cell, x, h) -> the (batch, 4 * units) gate pre-activations.
        cell_state: fn(cell, c_new) -> the c carried to the next step.
        output: fn(cell, o, c_new) -> h_t.
        states: fn(h, c) -> the list of states returned.
    """

    def normalised_gates(cell, x, h):
        return (
            cell.input_norm(ops.matmul(x, cell.kernel))
            + cell.recurrent_norm(ops.matmul(h, cell.recurrent_kernel))
            + cell.bias
        )

    class Variant(solution["LayerNormLSTMCell"]):
        def call(self, inputs, states_in, training=False):
            h_previous, c_previous = states_in
            i, f, g, o = ops.split((gates or normalised_gates)(self, inputs, h_previous), 4, axis=-1)
            c = ops.sigmoid(f) * c_previous + ops.sigmoid(i) * ops.tanh(g)
            h = output(self, o, c) if output else ops.sigmoid(o) * ops.tanh(self.cell_norm(c))
            c = cell_state(self, c) if cell_state else c
            return h, (states or (lambda h, c: [h, c]))(h, c)

    return Variant


def by_hand(term, norm, axis=-1):
    """Layer norm of ``term`` with ``norm``'s gain, over ``axis``."""
    centred = term - ops.mean(term, axis=axis, keepdims=True)
    return centred / ops.sqrt(ops.var(term, axis=axis, keepdims=True) + norm.epsilon) * norm.gamma


def test_layer_norm_lstm_by_hand_with_the_gains_passes(solution):
    def gates(cell, x, h):
        return (
            by_hand(ops.matmul(x, cell.kernel), cell.input_norm)
            + by_hand(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm)
            + cell.bias
        )

    checks.check_layer_norm_lstm_cell(layer_norm_lstm_variant(solution, gates=gates))


def test_layer_norm_lstm_without_normalisation(solution):
    def gates(cell, x, h):
        return ops.matmul(x, cell.kernel) + ops.matmul(h, cell.recurrent_kernel) + cell.bias

    fails_with(
        r"do not depend on the gain of self.input_norm",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_normalising_the_sum(solution):
    def gates(cell, x, h):
        return cell.input_norm(ops.matmul(x, cell.kernel) + ops.matmul(h, cell.recurrent_kernel)) + cell.bias

    fails_with(
        r"do not depend on the gain of self.recurrent_norm",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_by_hand_without_the_gains(solution):
    def gates(cell, x, h):
        def plain(term):
            return (term - ops.mean(term, axis=-1, keepdims=True)) / ops.sqrt(
                ops.var(term, axis=-1, keepdims=True) + 1e-3
            )

        return plain(ops.matmul(x, cell.kernel)) + plain(ops.matmul(h, cell.recurrent_kernel)) + cell.bias

    fails_with(
        r"do not depend on the gain of self.input_norm",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_with_batch_statistics(solution):
    def gates(cell, x, h):
        return (
            by_hand(ops.matmul(x, cell.kernel), cell.input_norm, axis=0)
            + by_hand(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm, axis=0)
            + cell.bias
        )

    fails_with(
        r"change with the other examples of the batch",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_normalising_each_gate_alone(solution):
    def per_gate(term, norm):
        blocks, gains = ops.split(term, 4, axis=-1), ops.split(norm.gamma, 4)
        plain = [
            (b - ops.mean(b, axis=-1, keepdims=True)) / ops.sqrt(ops.var(b, axis=-1, keepdims=True) + norm.epsilon)
            for b in blocks
        ]
        return ops.concatenate([block * gain for block, gain in zip(plain, gains)], axis=-1)

    def gates(cell, x, h):
        return (
            per_gate(ops.matmul(x, cell.kernel), cell.input_norm)
            + per_gate(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm)
            + cell.bias
        )

    fails_with(
        r"normalised each gate's block on its own",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_without_the_cell_norm(solution):
    variant = layer_norm_lstm_variant(solution, output=lambda cell, o, c: ops.sigmoid(o) * ops.tanh(c))
    fails_with(r"do not depend on the gain of self.cell_norm", checks.check_layer_norm_lstm_cell, variant)


def test_layer_norm_lstm_carrying_the_normalised_cell(solution):
    variant = layer_norm_lstm_variant(solution, cell_state=lambda cell, c: cell.cell_norm(c))
    fails_with(
        r"cell state you carry to the next step is the normalised one", checks.check_layer_norm_lstm_cell, variant
    )


def test_layer_norm_lstm_returning_c_first(solution):
    variant = layer_norm_lstm_variant(solution, states=lambda h, c: [c, h])
    fails_with(r"states are in the order \[c, h\]", checks.check_layer_norm_lstm_cell, variant)


def test_layer_norm_lstm_with_the_gates_in_another_order(solution):
    def gates(cell, x, h):
        i, f, g, o = ops.split(
            cell.input_norm(ops.matmul(x, cell.kernel))
            + cell.recurrent_norm(ops.matmul(h, cell.recurrent_kernel))
            + cell.bias,
            4,
            axis=-1,
        )
        return ops.concatenate([f, i, g, o], axis=-1)

    fails_with(
        r"outputs differ from the reference.*Keras's order i, f, c, o",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_handing_its_work_to_keras_lstm_cell_is_refused(solution):
    class Delegating(solution["LayerNormLSTMCell"]):
        def call(self, inputs, states, training=False):
            cell = keras.layers.LSTMCell(self.units)
            cell.build(inputs.shape)
            return cell(inputs, states)

    fails_with("^LayerNormLSTMCell calls keras.layers.LSTMCell", checks.check_layer_norm_lstm_cell, Delegating)


def test_layer_norm_lstm_handing_its_work_to_the_checks_reference_is_refused(solution):
    class FromTheCheck(solution["LayerNormLSTMCell"]):
        def call(self, inputs, states, training=False):
            weights = [
                w.numpy()
                for w in (
                    self.kernel,
                    self.recurrent_kernel,
                    self.bias,
                    self.input_norm.gamma,
                    self.recurrent_norm.gamma,
                    self.cell_norm.gamma,
                    self.cell_norm.beta,
                )
            ]
            epsilons = (self.input_norm.epsilon, self.recurrent_norm.epsilon, self.cell_norm.epsilon)
            _, h, c = references._reference_layer_norm_lstm(weights, epsilons, np.asarray(inputs)[:, None, :])
            return h, [h, c]

    # Raised inside the layer's call, so Keras puts its own line in front of the message.
    fails_with(
        "LayerNormLSTMCell calls the check's reference cell, which is the exercise itself",
        checks.check_layer_norm_lstm_cell,
        FromTheCheck,
    )


def test_layer_norm_lstm_ignoring_the_cell_norms_shift(solution):
    def without_shift(cell, o, c):
        centred = c - ops.mean(c, axis=-1, keepdims=True)
        return ops.sigmoid(o) * ops.tanh(
            centred / ops.sqrt(ops.var(c, axis=-1, keepdims=True) + cell.cell_norm.epsilon) * cell.cell_norm.gamma
        )

    fails_with(
        r"do not depend on the shift \(beta\) of self.cell_norm",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, output=without_shift),
    )


def test_layer_norm_lstm_without_epsilon_says_why_it_is_nan(solution):
    def gates(cell, x, h):
        def no_epsilon(term, norm):
            return (
                (term - ops.mean(term, axis=-1, keepdims=True))
                / ops.sqrt(ops.var(term, axis=-1, keepdims=True))
                * norm.gamma
            )

        return (
            no_epsilon(ops.matmul(x, cell.kernel), cell.input_norm)
            + no_epsilon(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm)
            + cell.bias
        )

    fails_with(
        r"NaN or inf, first at step 0.*epsilon",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_computed_in_numpy_fails_where_fit_would(solution):
    def gates(cell, x, h):  # works eagerly, but a traced tensor has no numpy value
        return ops.convert_to_tensor(
            np.asarray(cell.input_norm(ops.matmul(x, cell.kernel)))
            + np.asarray(cell.recurrent_norm(ops.matmul(h, cell.recurrent_kernel)))
            + np.asarray(cell.bias)
        )

    fails_with(
        r"not inside a compiled model",
        checks.check_layer_norm_lstm_cell,
        layer_norm_lstm_variant(solution, gates=gates),
    )


def test_layer_norm_lstm_handing_the_lstm_to_the_fused_block_cell_is_refused(solution):
    import tensorflow as tf

    class Fused(solution["LayerNormLSTMCell"]):
        def call(self, inputs, states, training=False):
            h_previous, c_previous = states
            z = (
                self.input_norm(ops.matmul(inputs, self.kernel))
                + self.recurrent_norm(ops.matmul(h_previous, self.recurrent_kernel))
                + self.bias
            )
            i, f, g, o = ops.split(z, 4, axis=-1)
            weights = tf.zeros((2 * self.units, 4 * self.units))
            _, c, *_ = tf.raw_ops.LSTMBlockCell(
                x=tf.concat([i, f], axis=-1)[:, : 2 * self.units] * 0 + tf.concat([i, f], axis=-1),
                cs_prev=c_previous,
                h_prev=tf.zeros_like(h_previous),
                w=weights,
                wci=tf.zeros(self.units),
                wcf=tf.zeros(self.units),
                wco=tf.zeros(self.units),
                b=tf.concat([i, g, f, o], axis=-1)[0],
                forget_bias=0.0,
                cell_clip=-1.0,
                use_peephole=False,
            )
            h = ops.sigmoid(o) * ops.tanh(self.cell_norm(c))
            return h, [h, c]

    fails_with(r"^LayerNormLSTMCell calls tf.raw_ops.LSTMBlockCell", checks.check_layer_norm_lstm_cell, Fused)


def test_layer_norm_lstm_using_the_checks_layer_norm_is_refused(solution):
    class WithTheChecksHelper(solution["LayerNormLSTMCell"]):
        def call(self, inputs, states, training=False):
            references._layer_norm(np.ones((1, 4)), 1.0, 0.0, 1e-3)
            return super().call(inputs, states, training)

    fails_with(
        r"LayerNormLSTMCell calls the check's reference layer norm",
        checks.check_layer_norm_lstm_cell,
        WithTheChecksHelper,
    )


# --- the student's self-check catches the mistakes too, from the stored expectation alone -------------------


def _gates_in_order_f_i_c_o(cell, x, h):
    i, f, g, o = ops.split(
        cell.input_norm(ops.matmul(x, cell.kernel))
        + cell.recurrent_norm(ops.matmul(h, cell.recurrent_kernel))
        + cell.bias,
        4,
        axis=-1,
    )
    return ops.concatenate([f, i, g, o], axis=-1)


def _gates_normalised_per_gate(cell, x, h):
    def per_gate(term, norm):
        blocks, gains = ops.split(term, 4, axis=-1), ops.split(norm.gamma, 4)
        return ops.concatenate(
            [
                (b - ops.mean(b, axis=-1, keepdims=True))
                / ops.sqrt(ops.var(b, axis=-1, keepdims=True) + norm.epsilon)
                * gain
                for b, gain in zip(blocks, gains)
            ],
            axis=-1,
        )

    return (
        per_gate(ops.matmul(x, cell.kernel), cell.input_norm)
        + per_gate(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm)
        + cell.bias
    )


def _gates_with_batch_statistics(cell, x, h):
    return (
        by_hand(ops.matmul(x, cell.kernel), cell.input_norm, axis=0)
        + by_hand(ops.matmul(h, cell.recurrent_kernel), cell.recurrent_norm, axis=0)
        + cell.bias
    )


# (check, the mistake made from the solution, what the failure says); every one with the visible test's arguments.
STORED_MISTAKES = {
    "classifier without mask_zero": (
        checks.check_classifier,
        lambda s: classifier_variant(s, mask_zero=False),
        "padding tokens.*changed the outputs.*mask_zero=True",
    ),
    "classifier without the output dropout": (
        checks.check_classifier,
        lambda s: classifier_variant(s, output_dropout=None),
        r"right before the output layer put Dropout\(0.4\)",
    ),
    "encoder returning sequences": (
        checks.check_encoder,
        lambda s: encoder_variant(
            s, lstm=lambda u, r: [keras.layers.LSTM(u, recurrent_dropout=r, return_sequences=True)]
        ),
        "time axis.*return_sequences=False",
    ),
    "encoder with the wrong layer": (
        checks.check_encoder,
        lambda s: encoder_variant(s, lstm=lambda u, r: [keras.layers.GRU(u, recurrent_dropout=r)]),
        r"make_encoder\('lstm', ...\) should return \[keras.layers.LSTM",
    ),
    "class weights growing with the class": (
        checks.check_class_weights,
        lambda s: lambda y, k: {c: float(np.mean(y == c)) for c in range(k)},
        "grow with the class size",
    ),
    "class weights without scaling": (
        checks.check_class_weights,
        lambda s: lambda y, k: {c: 1 / np.sum(y == c) for c in range(k)},
        "right proportions but the wrong scale",
    ),
    "macro recall that is accuracy": (
        checks.check_macro_recall,
        lambda s: lambda t, p, k=3: np.mean(np.asarray(t) == np.asarray(p)),
        "that is the accuracy",
    ),
    "macro recall that is precision": (
        checks.check_macro_recall,
        lambda s: lambda t, p, k=3: s["macro_recall"](p, t, k),
        "that is the macro precision",
    ),
    "attention ignoring the mask": (
        checks.check_attention_pooling,
        lambda s: attention_variant(
            s, weights_fn=lambda self, x, mask: s["MyAttentionPooling"].attention_weights(self, x, None)
        ),
        r"masked \(padding\) steps got weights",
    ),
    "attention averaging": (
        checks.check_attention_pooling,
        lambda s: attention_variant(s, call_fn=lambda self, x, mask: ops.mean(x, axis=1)),
        r"pooled output without a mask.*differs from the reference",
    ),
    "layer norm lstm without the cell norm": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, output=lambda cell, o, c: ops.sigmoid(o) * ops.tanh(c)),
        r"do not depend on the gain of self.cell_norm",
    ),
    "layer norm lstm with batch statistics": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, gates=_gates_with_batch_statistics),
        r"change with the other examples of the batch",
    ),
    "layer norm lstm normalising each gate alone": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, gates=_gates_normalised_per_gate),
        r"normalised each gate's block on its own",
    ),
    "layer norm lstm carrying the normalised cell": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, cell_state=lambda cell, c: cell.cell_norm(c)),
        r"cell state you carry to the next step is the normalised one",
    ),
    "layer norm lstm returning c first": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, states=lambda h, c: [c, h]),
        r"states are in the order \[c, h\]",
    ),
    "layer norm lstm with the gates in another order": (
        checks.check_layer_norm_lstm_cell,
        lambda s: layer_norm_lstm_variant(s, gates=_gates_in_order_f_i_c_o),
        r"outputs differ from the reference.*Keras's order i, f, c, o",
    ),
}


@pytest.mark.parametrize("mistake", list(STORED_MISTAKES))
def test_the_self_check_catches_the_mistake_from_stored_data(solution, mistake):
    check, make, pattern = STORED_MISTAKES[mistake]
    with pytest.raises(CheckFailed, match=pattern):
        check(make(solution))


def test_the_self_check_refuses_arguments_it_has_no_stored_expectation_for(solution):
    with pytest.raises(CheckFailed, match="stored results only for the arguments its test cell uses"):
        checks.check_class_weights(solution["class_weights"], size=301)


def test_a_layer_norm_lstm_with_another_epsilon_is_told_to_keep_build(solution):
    class OtherEpsilon(solution["LayerNormLSTMCell"]):
        def build(self, input_shape):
            super().build(input_shape)
            self.input_norm.epsilon = 1e-1

    fails_with(
        r"epsilons are \[0.1, 0.001, 0.001\].*keep build as it is given",
        checks.check_layer_norm_lstm_cell,
        OtherEpsilon,
    )


def test_an_error_after_a_mistake_is_reported_after_it(solution):
    # The encoder for 'lstm' returns sequences (a mistake); the one for 'bilstm' raises: the mistake is named first.
    def broken(units, recurrent_dropout):
        raise RuntimeError("not written yet")

    make = encoder_variant(
        solution, lstm=lambda u, r: [keras.layers.LSTM(u, recurrent_dropout=r, return_sequences=True)], bilstm=broken
    )
    fails_with("time axis", checks.check_encoder, make)
    fails_with(
        "^your code raised RuntimeError: not written yet",
        checks.check_encoder,
        encoder_variant(solution, bilstm=broken),
    )
