"""Keras layers for the labs, registered so that saved models reload with ``keras.models.load_model``.

Only layers that no exercise asks for live here: a lab's final model uses the student's own
layers (Lab 3's ``MyAttentionPooling``), which the notebook registers with Keras.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import keras
from keras import ops

if TYPE_CHECKING:
    import tensorflow as tf


@keras.saving.register_keras_serializable(package="course_utils")
class SkipUnknownWords(keras.layers.Layer):
    """Turns the id of unknown words into the padding id, so that a masked model skips those words.

    ``TextVectorization`` gives every word outside its vocabulary the same id, 1 (``[UNK]``). A model
    then learns one vector for "some rare word", from the few rare words of its training set, and on
    later text, where many more words are new, that vector can dominate what it reads (Lab 3, Part 7).
    After this layer an ``Embedding(mask_zero=True)`` masks unknown words like padding: the recurrent
    layers carry their state across them, as if the word were not there.

    Args:
        unknown_id: the id to skip (``TextVectorization``'s is 1).

    Example:

    >>> ids = keras.Input(shape=(None,), dtype="int32")  # TextVectorization's output
    >>> x = keras.layers.Embedding(vocab_size, 64, mask_zero=True)(SkipUnknownWords()(ids))
    >>> SkipUnknownWords()(np.array([[5, 1, 7, 0]]))  # -> [[5, 0, 7, 0]]
    """

    def __init__(self, unknown_id: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.unknown_id = unknown_id

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return ops.where(ops.equal(ids, self.unknown_id), ops.zeros_like(ids), ids)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unknown_id": self.unknown_id}


@keras.saving.register_keras_serializable(package="course_utils")
class WordDropout(keras.layers.Layer):
    """While training, removes a random share of the word types of each sequence: every occurrence of a dropped word.

    It drops word types as the embedding dropout of Gal & Ghahramani (2016, "A theoretically grounded application of
    dropout in recurrent neural networks") does, every occurrence at once, but not in their way: they zero the
    word's vector and the recurrent layer still takes the step. Here a dropped word becomes the padding id 0, so that
    an ``Embedding(mask_zero=True)`` masks it and the recurrent layers skip the step, carrying their state across
    it, exactly as they do for the unknown words that
    :class:`SkipUnknownWords` removes: the model learns to decide from the words it is left with, which
    is what it has to do on later text full of new words (Lab 3, Part 7). At inference it does nothing.

    Args:
        rate: the probability that a word type of a sequence is dropped, in [0, 1).
        vocab_size: the number of token ids (``TextVectorization.vocabulary_size()``); ids are below it.
        seed: optional seed for the random draws.

    Call arguments:
        ids: int token ids, shape (batch, time), 0 for padding.
        training: whether to drop words (Keras passes it: True in ``fit``, False in ``predict``).

    Example:

    >>> ids = keras.Input(shape=(None,), dtype="int32")
    >>> x = WordDropout(0.3, vocab_size)(SkipUnknownWords()(ids))
    >>> x = keras.layers.Embedding(vocab_size, 64, mask_zero=True)(x)
    """

    def __init__(self, rate: float, vocab_size: int, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate should be in [0, 1), got {rate!r}")
        if int(vocab_size) < 1:
            raise ValueError(f"vocab_size should be a positive number of token ids, got {vocab_size!r}")
        self.rate, self.vocab_size, self.seed = rate, int(vocab_size), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not training or self.rate == 0:
            return ids
        # One draw per (sequence, word type), read at each occurrence: the same word is dropped everywhere in the sequence.
        draws = keras.random.uniform((ops.shape(ids)[0], self.vocab_size), seed=self.seed_generator)
        dropped = ops.take_along_axis(draws, ops.cast(ids, "int32"), axis=1) < self.rate
        return ops.where(dropped, ops.zeros_like(ids), ids)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "vocab_size": self.vocab_size, "seed": self.seed}


@keras.saving.register_keras_serializable(package="course_utils")
class NgramFeatures(keras.layers.Layer):
    """Joins the n-gram counts of several ``TextVectorization(output_mode="count")`` layers into one feature row.

    Each block of counts loses its first column (the out-of-vocabulary count: how many n-grams the
    vocabulary lacks says nothing about sentiment, and later text has many more), becomes ``log(1 + count)``
    (the 10th "!" adds less than the first) and is scaled to length 1 (a long tweet does not outweigh a
    short one). This is the "sublinear TF, L2-normalised" weighting of linear text classifiers, e.g.
    scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` without the IDF factor. Works on sparse counts
    (``TextVectorization(..., sparse=True)``) and returns a sparse tensor that ``Dense`` takes as is.

    Call arguments:
        inputs: a list of count tensors, shapes (batch, vocabulary_i), sparse or dense.

    Example:

    >>> words = keras.layers.TextVectorization(output_mode="count", ngrams=2, sparse=True)
    >>> words.adapt(texts)
    >>> features = NgramFeatures()([words(texts)])  # (batch, vocabulary - 1)
    """

    def call(self, inputs: list[tf.Tensor | tf.SparseTensor]) -> tf.SparseTensor:
        import tensorflow as tf  # sparse tensors: this layer is for the TensorFlow backend

        blocks = []
        for counts in inputs:
            counts = counts if isinstance(counts, tf.SparseTensor) else tf.sparse.from_dense(counts)
            counts = tf.sparse.slice(counts, [0, 1], [counts.dense_shape[0], counts.dense_shape[1] - 1])
            values = tf.math.log1p(tf.cast(counts.values, self.compute_dtype))
            rows = counts.indices[:, 0]
            norms = tf.sqrt(tf.math.unsorted_segment_sum(values * values, rows, counts.dense_shape[0]))
            blocks.append(tf.SparseTensor(counts.indices, values / tf.gather(norms, rows), counts.dense_shape))
        return tf.sparse.concat(1, blocks, expand_nonconcat_dims=True)

    def compute_output_shape(self, input_shapes: list[tuple[int | None, ...]]) -> tuple[int | None, int | None]:
        widths = [shape[-1] for shape in input_shapes]
        return (input_shapes[0][0], None if None in widths else sum(widths) - len(widths))


def load_model(path: str | os.PathLike[str], custom_objects: dict[str, type] | None = None) -> keras.Model:
    """Loads a model saved by a lab, e.g. Lab 3's ``model.keras`` (raw tweets in, class probabilities out).

    Args:
        path: the ``.keras`` file.
        custom_objects: ``{name: class}`` for layers of your own that the model holds, e.g.
            ``{"MyAttentionPooling": MyAttentionPooling}``; not needed where the class is defined with
            ``@keras.saving.register_keras_serializable`` (as in the lab's notebook).
    """
    import course_utils.text  # noqa: F401  registers standardize_tweet, which the saved TextVectorization names

    return keras.models.load_model(path, custom_objects=custom_objects)
