"""Lab 3's library code: the tweet standardisation, the layers, the reference metrics, and the saved model."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import metrics
from course_utils.layers import NgramFeatures, SkipUnknownWords, WordDropout
from course_utils.text import standardize_tweet


@pytest.mark.parametrize(
    "tweet, expected",
    [
        ("@user Loved it!!! :D #Best http://t.co/x", "@user loved it !!! :d #best"),
        ("see www.example.com/a?b=1 now", "see now"),
        ("Tom &amp; Jerry &lt;3", "tom jerry <3"),
        ("I\\u2019m here\\u002c really", "i'm here really"),
        ("I'm sad :( (really)...", "i'm sad :( really"),
        ("Is it Friday yet?? <3", "is it friday yet ?? <3"),
        ('10:30, a "quote" & more', "10 30 a quote more"),
        ("", ""),
    ],
)
def test_standardize_tweet_keeps_what_carries_sentiment(tweet, expected):
    assert standardize_tweet(tf.constant([tweet])).numpy()[0].decode() == expected


def test_standardize_tweet_keeps_the_shape():
    assert standardize_tweet(tf.constant([["a!"], ["b :)"]])).shape == (2, 1)
    assert standardize_tweet(tf.constant("Hi")).numpy() == b"hi"


def test_skip_unknown_words_turns_the_unknown_id_into_padding_and_the_lstm_skips_it():
    ids = np.array([[5, 1, 7, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(SkipUnknownWords()(ids), [[5, 0, 7, 0], [0, 0, 0, 0]])
    keras.utils.set_random_seed(0)
    lstm = keras.Sequential([keras.layers.Embedding(10, 4, mask_zero=True), keras.layers.LSTM(3)])
    skipping = keras.Sequential([SkipUnknownWords(), lstm])
    # the tweet with an unknown word reads like the same tweet without it
    np.testing.assert_allclose(skipping(np.array([[5, 1, 7, 0]])), lstm(np.array([[5, 7, 0, 0]])), atol=1e-6)
    assert SkipUnknownWords(unknown_id=3).get_config()["unknown_id"] == 3


def test_word_dropout_drops_every_occurrence_of_a_word_and_only_while_training():
    ids = np.tile(np.array([[3, 3, 4, 5, 3, 0, 0], [1, 2, 2, 9, 2, 7, 0]]), (200, 1))
    layer = WordDropout(0.4, vocab_size=10, seed=1)
    np.testing.assert_array_equal(layer(ids), ids)  # inference: nothing dropped
    dropped = np.asarray(layer(ids, training=True))
    assert np.all((dropped == ids) | (dropped == 0)), "a word is kept or becomes padding"
    for row, original in zip(dropped, ids):
        for word in set(original[original > 0].tolist()):
            kept = row[original == word]
            assert np.all(kept == word) or np.all(kept == 0), "every occurrence of a word type is dropped together"
    types = [(i, w) for i, original in enumerate(ids) for w in set(original[original > 0].tolist())]
    share = np.mean([not np.any(dropped[i][ids[i] == w]) for i, w in types])
    assert 0.33 < share < 0.47, f"about 40% of the word types should be dropped, got {share:.1%}"
    assert WordDropout(0.2, vocab_size=10).get_config()["rate"] == 0.2


@pytest.mark.parametrize(
    "kwargs, named", [({"rate": 1.0, "vocab_size": 5}, "rate"), ({"rate": 0.1, "vocab_size": 0}, "vocab_size")]
)
def test_word_dropout_refuses_bad_arguments_by_name(kwargs, named):
    with pytest.raises(ValueError, match=named):
        WordDropout(**kwargs)


def test_ngram_features_drop_the_oov_column_take_log_counts_and_have_unit_rows():
    texts = np.array(["good good day", "bad day", "zzz qqq"], dtype=object)
    words = keras.layers.TextVectorization(output_mode="count", sparse=True)
    words.adapt(texts[:2])
    vocabulary = words.get_vocabulary()  # ["[UNK]", "day", "good", "bad"] in some order after [UNK]
    features = NgramFeatures()([words(texts), words(texts)])  # two blocks: each loses its [UNK] column
    assert isinstance(features, tf.SparseTensor)
    dense = tf.sparse.to_dense(features).numpy()
    assert dense.shape == (3, 2 * (len(vocabulary) - 1))
    block = dense[0, : len(vocabulary) - 1]
    expected = np.array([np.log1p({"good": 2, "day": 1}.get(word, 0)) for word in vocabulary[1:]])
    np.testing.assert_allclose(block, expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(dense[:2], axis=1), np.sqrt(2), rtol=1e-6)  # each block has length 1
    assert not dense[2].any() and np.isfinite(dense).all()  # only unknown words: no features, no NaN
    dense_input = NgramFeatures()([tf.sparse.to_dense(words(texts))])
    np.testing.assert_allclose(tf.sparse.to_dense(dense_input).numpy(), dense[:, : len(vocabulary) - 1], rtol=1e-6)


def test_metrics_on_a_hand_worked_example():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 2, 1, 1, 2, 2, 2, 1]
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, 3), [[2, 1, 1], [0, 2, 0], [0, 1, 3]])
    np.testing.assert_allclose(metrics.per_class_recall(y_true, y_pred, 3), [0.5, 1.0, 0.75])
    np.testing.assert_allclose(
        metrics.per_class_recall([0, 0, 1], [1, 1, 1], 3), [0.0, 1.0, np.nan]
    )  # class 2 never occurs


@pytest.mark.slow  # trains, saves, reloads in a new Python
def test_saved_string_model_reloads_in_a_fresh_process_and_predicts_raw_tweets(tmp_path):
    """Lab 3's final model: the average of an n-gram model and a BiLSTM that skips unknown words (trained with word dropout)."""
    texts = np.array(
        ["so happy :) #win", "@user awful day :(", "meeting at 10", "love it!!!", "", "brand new wordz"], dtype=object
    )
    vectorizer = keras.layers.TextVectorization(max_tokens=40, standardize=standardize_tweet, output_sequence_length=8)
    vectorizer.adapt(texts[:5])
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(40, 6, mask_zero=True)(WordDropout(0.3, 40)(SkipUnknownWords()(tokens)))
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x)
    x = keras.layers.GlobalAveragePooling1D()(
        x
    )  # the lab uses the student's attention layer here; not the course's to ship
    core = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(x))
    chars = keras.layers.TextVectorization(
        standardize=standardize_tweet, split="character", ngrams=(2, 3), output_mode="count", sparse=True
    )
    chars.adapt(texts[:5])
    strings = keras.Input(shape=(), dtype="string")
    ngrams = keras.layers.Dense(3, activation="softmax")(NgramFeatures()([chars(strings)]))
    model = keras.Model(strings, keras.layers.Average()([core(vectorizer(strings)), ngrams]))
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
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reloaded" in result.stdout
