"""Text helpers for the tweet lab: a tweet-friendly standardisation for ``TextVectorization``.

Keras's default standardisation, ``lower_and_strip_punctuation``, deletes every ASCII
punctuation mark, so ``#fail`` becomes ``fail``, ``@user`` becomes ``user`` and ``:(``
vanishes. In tweets those carry meaning: an emoticon is often the clearest sentiment
signal, a hashtag is a topic or a verdict, and ``@user`` marks a reply. This one keeps them.

It is a registered Keras serializable, so a model holding a ``TextVectorization`` that uses
it saves and reloads (after ``import course_utils.text``).

It also removes what differs between the periods of the data for reasons that have nothing to do
with sentiment (measured in Lab 3, Part 7): URLs (in a third of the SemEval-2016 training tweets,
but stripped from TweetEval's validation split and nearly absent from its test split), HTML
entities (``&amp;``, only in the training tweets) and literal ``\\u2019``-style escapes (only in
the validation tweets).
"""

import keras
import tensorflow as tf

# Western emoticons after lower-casing: eyes, an optional nose, a mouth (":)", ";-p", "=d", ":/"), and "<3".
EMOTICON = r"(?:[:;=][\-o\*']?[\)\]\(\[dp/\\\|\*]|<3)"
URL = r"(?:https?://|www\.)\S+"
# Collection artefacts, each with what it stands for: HTML entities and the escapes of ' and , left as text.
ARTEFACTS = [(r"&amp;", "&"), (r"&lt;", "<"), (r"&gt;", ">"), (r"&quot;", '"'), (r"\\u2019", "'"), (r"\\u002c", ",")]
# ASCII punctuation except the characters that belong to tokens we keep: # @ ' and _.
PUNCTUATION = r"[!\"$%&()*+,\-./:;<=>?\[\\\]^`{|}~]+"


@keras.saving.register_keras_serializable(package="course_utils")
def standardize_tweet(texts: tf.Tensor) -> tf.Tensor:
    """Lower-cases tweets and strips punctuation, keeping hashtags, ``@user``, emoticons, ``!`` and ``?``.

    URLs are dropped, and HTML entities and escaped quotes become the characters they stand for.
    Works on a ``tf.string`` tensor of any shape (what ``TextVectorization`` passes) and returns
    one of the same shape, tokens separated by spaces.

    >>> standardize_tweet(tf.constant(["@user Loved it!!! :D #Best http://t.co/x"]))
    [b'@user loved it !!! :d #best']
    """
    shape = tf.shape(texts)
    texts = tf.reshape(texts, [-1])
    for pattern, meaning in ARTEFACTS:
        texts = tf.strings.regex_replace(texts, pattern, meaning)
    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, URL, " ")
    # Put spaces around emoticons and runs of ! and ? so that each becomes a token of its own.
    texts = tf.strings.regex_replace(texts, EMOTICON + r"|[!?]+", r" \0 ")
    tokens = tf.strings.split(texts)  # ragged: one list of whitespace-separated tokens per tweet
    # RE2 (TensorFlow's regex engine) has no look-arounds, so "strip punctuation unless the token
    # is an emoticon" is done token by token.
    keep = tf.strings.regex_full_match(tokens.flat_values, EMOTICON + r"|[!?]+")
    stripped = tf.strings.regex_replace(tokens.flat_values, PUNCTUATION, " ")
    tokens = tokens.with_flat_values(tf.where(keep, tokens.flat_values, stripped))
    texts = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    texts = tf.strings.strip(tf.strings.regex_replace(texts, " +", " "))
    return tf.reshape(texts, shape)
