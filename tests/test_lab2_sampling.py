"""Lab 2 generation and the saved model: the compiled sampler agrees with the model; reload checks its files."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from conftest import solution_namespace
from course_utils import training
from course_utils.sampling import CharSampler, generate_text
from course_utils.vocab import Vocabulary

VOCAB = Vocabulary.from_text("X:1\nM:4/4\nL:1/8\nK:G\nABCDEFGabcdefg|2 ")


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, "lab2_music_generation")


@pytest.fixture(scope="module")
def model(solution):
    keras.utils.set_random_seed(0)
    model = solution["build_model"](len(VOCAB), 8, 16)
    # Larger weights than the initial ones, so that the logits differ clearly between characters.
    model.set_weights([w * 3 for w in model.get_weights()])
    return model


def greedy(logits, temperature):
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def test_sampler_continues_like_the_model_run_over_the_whole_text(model):
    # Reference: re-run the stateless model over the whole text so far and take the likeliest next character.
    start = VOCAB.encode("X:1\nK:G\nAB")
    text = list(start)
    for _ in range(12):
        text.append(int(np.argmax(model(np.array([text]))[0, -1])))
    generated = CharSampler(model, greedy)(start, 12, num_samples=3)
    assert generated.shape == (3, 12) and generated.dtype == np.int32
    for row in generated:
        np.testing.assert_array_equal(row, text[len(start):])


def test_sampled_ids_and_texts(model):
    texts = generate_text(model, VOCAB, "X:1\n", 40, num_samples=5, temperature=1.0)
    assert len(texts) == 5 and all(t.startswith("X:1\n") and len(t) == 44 for t in texts)
    assert len(set(texts)) > 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start": "X:1\nK:G\nAB♯c"}, r"the start string has 1 character\(s\) not in the .*'♯' \(first at position 10\)"),
        ({"start": ""}, "the start text is empty"),
        ({"length": 0}, "length should be at least 1"),
        ({"temperature": 0.0}, "temperature should be positive"),
    ],
)
def test_bad_generation_requests(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_text(model, VOCAB, **{"start": "X:1\n", "length": 5, **kwargs})


def test_loss_evaluator_matches_a_direct_computation(model):
    sequences = [VOCAB.encode("X:1\nK:G\nABc|"), VOCAB.encode("X:1\nK:D\nd2 e|f"), VOCAB.encode("X:")]
    expected_sum = sum(
        float(tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(s[None, 1:], model(s[None, :-1]), from_logits=True)))
        for s in sequences
    )
    evaluator = training.LossEvaluator(model, sequences, batch_size=2)
    assert evaluator() == pytest.approx(expected_sum / sum(len(s) - 1 for s in sequences), rel=1e-5)
    assert training.bits_per_char(np.log(2)) == pytest.approx(1.0)


def test_saved_model_reloads_as_ids_to_logits(model, tmp_path):
    training.save_char_model(model, VOCAB, tmp_path)
    reloaded, vocab = training.load_char_model(tmp_path)
    assert vocab.chars == VOCAB.chars
    ids = np.random.default_rng(0).integers(0, len(VOCAB), size=(4, 9)).astype("int32")
    logits = reloaded(ids)
    assert tuple(logits.shape) == (4, 9, len(VOCAB))
    np.testing.assert_allclose(logits, model(ids), atol=1e-6)


def test_reload_refuses_files_that_do_not_belong_together(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras is missing"):
        training.load_char_model(tmp_path)
    training.save_char_model(model, Vocabulary.from_text("abc"), tmp_path)
    with pytest.raises(ValueError, match="do not belong together"):
        training.load_char_model(tmp_path)
