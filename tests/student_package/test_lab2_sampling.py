"""Lab 2 generation and the saved model: the compiled sampler agrees with the model; reload checks its files."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import solution_namespace

from course_utils import music, rhythm, training
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
        np.testing.assert_array_equal(row, text[len(start) :])


def categorical(logits, temperature):
    return tf.random.categorical(logits / temperature, 1, dtype=tf.int32)[:, 0]


def test_sampled_ids_and_texts(model):
    texts = generate_text(model, VOCAB, "X:1\n", 40, num_samples=5, temperature=1.0, sample_fn=categorical)
    assert len(texts) == 5 and all(t.startswith("X:1\n") and len(t) == 44 for t in texts)
    assert len(set(texts)) > 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"start": "X:1\nK:G\nAB♯c"},
            r"the start string has 1 character\(s\) not in the .*'♯' \(first at position 10\)",
        ),
        ({"start": ""}, "the start text is empty"),
        ({"length": 0}, "length should be at least 1"),
        ({"temperature": 0.0}, "temperature should be positive"),
        ({"sample_fn": None}, "generate_text needs sample_fn=your sample_next"),
    ],
)
def test_bad_generation_requests(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_text(model, VOCAB, **{"start": "X:1\n", "length": 5, "sample_fn": categorical, **kwargs})


def test_the_sampler_takes_the_students_sampling_step(model):
    with pytest.raises(TypeError, match="sample_fn should be your sampling function"):
        CharSampler(model, "categorical")


def test_loss_evaluator_matches_a_direct_computation(model):
    sequences = [VOCAB.encode("X:1\nK:G\nABc|"), VOCAB.encode("X:1\nK:D\nd2 e|f"), VOCAB.encode("X:")]
    expected_sum = sum(
        float(
            tf.reduce_sum(
                keras.losses.sparse_categorical_crossentropy(s[None, 1:], model(s[None, :-1]), from_logits=True)
            )
        )
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


def _run(folder, steps, stop_after=None, settings=None):
    """A tiny training run with checkpoints every 2 steps; returns the final weights and the checkpoint."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(len(VOCAB), 4),
            keras.layers.LSTM(6, return_sequences=True),
            keras.layers.Dense(len(VOCAB)),
        ]
    )
    optimizer = keras.optimizers.Adam(0.01)
    plot = training.LiveLossPlot()
    rng = np.random.default_rng(1)
    checkpoint = training.TrainingCheckpoint(folder, model, optimizer, settings or {"steps": steps})
    for step in range(checkpoint.restore(rng, plot), steps + 1):
        x = rng.integers(0, len(VOCAB), size=(3, 5))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(x, model(x), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        plot.add("train", step, float(loss))
        if step % 2 == 0:
            if float(loss) < checkpoint.best_loss:
                checkpoint.keep_best(float(loss), step)
            checkpoint.save(step, rng, plot, seconds=1.0)
        if step == stop_after:
            break  # the runtime disconnects here
    return [w.copy() for w in model.get_weights()], checkpoint, plot


def test_a_run_cut_off_resumes_where_its_checkpoint_stopped(tmp_path):
    straight, _, straight_plot = _run(tmp_path / "straight", steps=8)
    _run(tmp_path / "cut", steps=8, stop_after=4)
    resumed, checkpoint, plot = _run(tmp_path / "cut", steps=8)
    for a, b in zip(straight, resumed):  # same weights, optimizer moments and batches as the uninterrupted run
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert (
        plot.curves["train"][0] == straight_plot.curves["train"][0]
    )  # the loss curve from step 1, not from the resume
    assert checkpoint.seconds == 1.0  # what the cut-off session had trained when it last saved
    assert checkpoint.best_step in (2, 4, 6, 8)


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, capsys):
    _run(tmp_path, steps=4)
    _, checkpoint, plot = _run(tmp_path, steps=2, settings={"steps": 2})
    assert "made with other settings (steps); starting afresh" in capsys.readouterr().out
    assert plot.curves["train"][0] == [1, 2]


def in_time(logits, temperature, fill, closes):
    allowed = (fill <= 1.0) & (~closes | (fill == 1.0))
    return tf.random.categorical(tf.where(allowed, logits / temperature, -np.inf), 1, dtype=tf.int32)[:, 0]


def test_the_constrained_sampler_keeps_every_bar_full(model):
    # A random model writes bar lines anywhere; under the constraint every bar its first tune closes is exactly full.
    header = "X:1\nM:4/4\nL:1/8\nK:G\n"

    def closed_bars(texts):
        bars = [bar for text in texts for bar in rhythm.bar_lengths(music.extract_tunes(text)[0].text)[:-1]]
        return [length / full for length, full in bars if full]  # (a random model may write M:none)

    sampler = CharSampler(model, in_time, rhythm.BarConstraint(VOCAB.chars))
    tf.random.set_seed(0)
    constrained = closed_bars(generate_text(model, VOCAB, header, 200, num_samples=8, temperature=1.5, sampler=sampler))
    free = closed_bars(generate_text(model, VOCAB, header, 200, num_samples=8, temperature=1.5, sample_fn=categorical))
    assert constrained and set(constrained) == {1}
    assert set(free) - {1}


def test_a_constraint_for_another_vocabulary_is_refused(model):
    with pytest.raises(ValueError, match="BarConstraint\\(vocab.chars\\)"):
        CharSampler(model, in_time, rhythm.BarConstraint(["a", "b"]))
