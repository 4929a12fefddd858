"""Lab 3's library code: the tweet standardisation, the attention layer, the reference metrics, and the saved model."""
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import metrics
from course_utils.layers import AttentionPooling
from course_utils.text import standardize_tweet


@pytest.mark.parametrize(
    "tweet, expected",
    [
        ("@user Loved it!!! :D #Best http://t.co/x", "@user loved it !!! :d #best http"),
        ("I'm sad :( (really)...", "i'm sad :( really"),
        ("Is it Friday yet?? <3", "is it friday yet ?? <3"),
        ("10:30, a \"quote\" & more", "10 30 a quote more"),
        ("", ""),
    ],
)
def test_standardize_tweet_keeps_what_carries_sentiment(tweet, expected):
    assert standardize_tweet(tf.constant([tweet])).numpy()[0].decode() == expected


def test_standardize_tweet_keeps_the_shape():
    assert standardize_tweet(tf.constant([["a!"], ["b :)"]])).shape == (2, 1)
    assert standardize_tweet(tf.constant("Hi")).numpy() == b"hi"


def test_attention_pooling_weights_ignore_padding_and_sum_to_one():
    layer = AttentionPooling(4)
    x = tf.random.normal((3, 5, 6))
    layer.build(x.shape)
    mask = tf.constant([[True] * 5, [True, True, False, False, False], [False] * 5])
    weights = layer.attention_weights(x, mask).numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[1, 2:] == 0.0)
    np.testing.assert_allclose(weights[2], 0.2, rtol=1e-6)  # nothing to attend to: uniform, not NaN
    np.testing.assert_allclose(layer(x, mask=mask)[1], weights[1, :2] @ x[1, :2].numpy(), rtol=1e-5, atol=1e-6)
    assert AttentionPooling.from_config(layer.get_config()).units == 4


def test_reference_metrics_on_a_hand_worked_example():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 2, 1, 1, 2, 2, 2, 1]
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, 3), [[2, 1, 1], [0, 2, 0], [0, 1, 3]])
    np.testing.assert_allclose(metrics.per_class_recall(y_true, y_pred, 3), [0.5, 1.0, 0.75])
    assert metrics.macro_recall(y_true, y_pred) == pytest.approx(0.75)
    assert metrics.macro_recall([0, 0, 1], [1, 1, 1]) == pytest.approx(0.5)  # class 2 never occurs: left out
    assert metrics.macro_recall(y_true, [1] * 10) == pytest.approx(1 / 3)  # one class always: 1/K


def test_balanced_class_weights():
    weights = metrics.balanced_class_weights([0, 0, 0, 1], 2)
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0})
    with pytest.raises(ValueError, match="class 2 has no examples"):
        metrics.balanced_class_weights([0, 1, 1], 3)


def test_saved_string_model_reloads_in_a_fresh_process_and_predicts_raw_tweets(tmp_path):
    texts = np.array(["so happy :) #win", "@user awful day :(", "meeting at 10", "love it!!!", ""], dtype=object)
    vectorizer = keras.layers.TextVectorization(max_tokens=40, standardize=standardize_tweet, output_sequence_length=8)
    vectorizer.adapt(texts)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(40, 6, mask_zero=True)(tokens)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x)
    x = AttentionPooling(3)(x)
    core = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(x))
    strings = keras.Input(shape=(), dtype="string")
    model = keras.Model(strings, core(vectorizer(strings)))
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "expected.npy", model.predict(texts, verbose=0))

    script = textwrap.dedent(f"""
        import numpy as np
        from course_utils.layers import load_model
        model = load_model({str(tmp_path / "model.keras")!r})
        texts = np.array({texts.tolist()!r}, dtype=object)
        np.testing.assert_allclose(model.predict(texts, verbose=0), np.load({str(tmp_path / "expected.npy")!r}), atol=1e-6)
        print("reloaded")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reloaded" in result.stdout
