"""Self-checks for Lab 2, "Music generation with an LSTM".

Every check is a probe and a comparison (see :mod:`course_utils.checks.probing`). ``probe_<name>`` runs the student's
code on inputs made from its arguments (sizes and a seed, by the public input functions below) and returns what came
out; ``compare_<name>`` compares that with the expectation: what the course's references (the ``Vocabulary``, Keras's
cross-entropy, one clipped SGD update, the softmax of the tempered logits, the model's logits for the whole text so far)
and each known mistake give on the same inputs, and fails with a message that points at the mistake. The references
are the grader's, not in this module: the notebook's self-checks read their results, stored for the arguments of the
visible test cells. Visible test cells use one set of sizes and seeds; the graders' hidden tests use others, with seeds
drawn per submission. The student's code runs under ``refuse_delegation``: it may not call the function the exercise
asks for (the ``Exercise`` constants below).
"""

from __future__ import annotations

import os
import string
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from course_utils.checks import (
    CheckFailed,
    Expectation,
    Observations,
    check_answer,
    check_answer_recorded,
    check_close,
    check_prediction,
    check_shape,
    fail,
    max_abs_diff,
)
from course_utils.checks._common import compare_given_weights, full_float32, outputs_with_given_weights
from course_utils.checks.delegation import Exercise, Forbidden, refusing_delegation
from course_utils.checks.probing import Check
from course_utils.vocab import Vocabulary

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# What each exercise may not call: the function it asks for, already written (see checks.delegation).
# compute_loss and make_train_step are built from Keras's loss and tf.clip_by_global_norm, as their TODOs say.
_VOCABULARY = Forbidden("course_utils.vocab.Vocabulary", "course_utils/vocab.py")
VECTORIZE_STRING = Exercise(
    "vectorize_string",
    hint="look up each character in char2idx yourself and return np.array(ids)",
    forbidden=(_VOCABULARY,),
)
IDS_TO_STRING = Exercise(
    "ids_to_string", hint="look up each id in idx2char yourself and join the characters", forbidden=(_VOCABULARY,)
)


GENERATE = Exercise(
    "generate_ids",
    hint="advance the LSTM's cell one character at a time (lstm.cell(x, state) returns the output and the new state), "
    "carrying the state; do not run the model or the LSTM layer over the whole text",
    forbidden=(
        Forbidden("course_utils.sampling (CharSampler, generate_text)", "course_utils/sampling.py"),
        Forbidden.defined_with(
            "the whole model, model(ids) or model.predict: that recomputes every step from the start",
            "keras.Sequential",
            "Sequential.call",
        ),
        # Keras keeps the functional model's class and its backend's loop in private files that no public object of
        # its is defined in (checked by tests/labs/test_delegation.py).
        Forbidden("the whole model, model(ids) or model.predict", "keras/src/models/functional.py", "Functional.call"),
        Forbidden.defined_with(
            "the LSTM layer over a sequence (use its .cell for one step)", "keras.layers.RNN", "RNN.call"
        ),
        Forbidden.defined_with(
            "the LSTM layer's loop over a sequence (use its .cell for one step)", "keras.layers.RNN", "RNN.inner_loop"
        ),
        Forbidden.defined_with(
            "the LSTM layer's loop over a sequence (use its .cell for one step)", "keras.layers.LSTM", "LSTM.inner_loop"
        ),
        Forbidden(
            "Keras's recurrent loop over a sequence (use the cell for one step)", "keras/src/backend/tensorflow/rnn.py"
        ),
    ),
)


def _error_text(error):
    return f"{type(error).__name__}: {str(error)[:300]}"


# --- vectorize_string and ids_to_string ------------------------------------------------------------------------------


def vectorize_inputs(vocab_size: int, length: int, seed: int) -> tuple[list[str], str, np.ndarray]:
    """The vectorize check's inputs: a random vocabulary (sorted characters), a text of ``length`` of its characters
    for ``vectorize_string``, and ``length`` random ids for ``ids_to_string``.

    Returns:
        (chars, text, ids): list of str, str, int64 array (length,).
    """
    rng = np.random.default_rng(seed)
    alphabet = list(string.ascii_letters + string.digits + string.punctuation + " \n")
    chars = sorted(rng.choice(alphabet, size=vocab_size, replace=False).tolist())
    text = "".join(rng.choice(chars, size=length))
    ids = rng.integers(0, vocab_size, size=length)
    return chars, text, ids


def _attempt(fn, *args):
    """``fn(*args)`` as (value, None), or (None, "TypeError: ...") when the student's code raises (refusals propagate)."""
    try:
        return fn(*args), None
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001 -- the student's error, reported in its turn
        return None, _error_text(error)


def probe_vectorize(
    vectorize_fn: Callable[[str, dict[str, int]], np.ndarray],
    to_text_fn: Callable[[np.ndarray, np.ndarray], str],
    vocab_size: int = 20,
    length: int = 50,
    seed: int = 0,
) -> Observations:
    """``vectorize_string(text, char2idx)`` and ``ids_to_string(ids, idx2char)`` against ``Vocabulary``.

    Args:
        vectorize_fn: the student's ``vectorize_string``.
        to_text_fn: the student's ``ids_to_string``.
        vocab_size: characters in the random vocabulary.
        length: characters of the random text, and ids of the random id sequence.
        seed: draws the vocabulary, the text and the ids (:func:`vectorize_inputs`).

    Returns:
        the ids ``vectorize_string`` gives for the text (with their type and dtype), the text ``ids_to_string`` gives
        for the ids (with its type), and what both give for empty input.
    """
    chars, text, ids = vectorize_inputs(vocab_size, length, seed)
    vocab = Vocabulary(chars)
    char2idx, idx2char = dict(vocab.index), np.array(vocab.chars)
    vectorize_fn = refusing_delegation(vectorize_fn, VECTORIZE_STRING)
    to_text_fn = refusing_delegation(to_text_fn, IDS_TO_STRING)
    encoded = vectorize_fn(text, char2idx)
    decoded = to_text_fn(ids, idx2char)
    empty_ids, empty_ids_error = _attempt(vectorize_fn, "", char2idx)
    empty_text, empty_text_error = _attempt(to_text_fn, np.zeros(0, dtype=int), idx2char)
    is_array = isinstance(encoded, np.ndarray)
    return {
        "ids_type": type(encoded).__name__,
        "ids_dtype": str(encoded.dtype) if is_array else None,
        "ids": encoded if is_array and np.issubdtype(encoded.dtype, np.integer) else None,
        "text_type": type(decoded).__name__,
        "text": decoded if isinstance(decoded, str) else None,
        "empty_error": empty_ids_error or empty_text_error,
        "empty_shape": None if empty_ids_error else list(np.shape(empty_ids)),
        "empty_text_is_empty": isinstance(empty_text, str) and empty_text == "",
    }


def compare_vectorize(observed: Observations, expected: Expectation, vocab_size: int, length: int, seed: int) -> str:
    """Fails on the first difference from ``Vocabulary``: the ids' type, dtype, shape and values, then the text."""
    if observed["ids_type"] != "ndarray":
        fail(f"vectorize_string should return a numpy array, got {observed['ids_type']}: wrap the ids in np.array(...)")
    if observed["ids"] is None:
        fail(f"vectorize_string should return integer ids, got dtype {observed['ids_dtype']}")
    ids, wanted = observed["ids"], np.asarray(expected["ids"])
    check_shape("vectorize_string(text)", ids, (length,))
    if not np.array_equal(ids, wanted):
        _, text, _ = vectorize_inputs(vocab_size, length, seed)
        first = int(np.flatnonzero(ids != wanted)[0])
        fail(
            f"character {first} of the text is {text[first]!r}, whose id is char2idx[{text[first]!r}] = {wanted[first]}, got {ids[first]}"
        )
    if observed["text_type"] != "str":
        fail(f"ids_to_string should return a str, got {observed['text_type']}: join the characters with ''.join(...)")
    back, text = observed["text"], expected["text"]
    if back != text:
        fail(
            f"ids_to_string(ids) should give back the text the ids stand for (idx2char[id] for each id, joined); "
            f"it starts {back[:20]!r} instead of {text[:20]!r}"
        )
    if observed["empty_error"] or observed["empty_shape"] != [0] or not observed["empty_text_is_empty"]:
        raised = f" (yours raised {observed['empty_error']})" if observed["empty_error"] else ""
        fail(f"the empty string should map to an empty array (shape (0,)) and back to ''{raised}")
    return f"vectorize_string and ids_to_string agree with the vocabulary on a {length}-character text over a {vocab_size}-character vocabulary"


check_vectorize = Check(probe_vectorize, compare_vectorize)


# --- get_batch -------------------------------------------------------------------------------------------------------


def batch_data(data_length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The get_batch check's text: a random permutation of 0..data_length-1, so every window has one start.

    Returns:
        (data, position_of): int64 arrays (data_length,); ``position_of[data[i]] == i``.
    """
    data = np.random.default_rng(seed).permutation(data_length).astype(np.int64)
    position_of = np.empty(data_length, dtype=np.int64)
    position_of[data] = np.arange(data_length)
    return data, position_of


def _in_library(filename):
    """Whether an exception raised in ``filename`` came from numpy, TensorFlow, Keras or Python itself rather than the student."""
    libraries = [os.path.dirname(module.__file__) for module in (np, tf, keras, os)]
    return filename.endswith(".pyx") or any(filename.startswith(folder + os.sep) for folder in libraries)


def _first_column(result):
    """The first column of the x of ``get_batch``'s result, as int64."""
    return np.asarray(np.asarray(result[0])[:, 0], dtype=np.int64)


SPREAD_STARTS = 400  # starts drawn to judge their spread: a correct get_batch misses the ends with chance below 1e-30


def _spread_batches(batch_size):
    return max(40, -(-SPREAD_STARTS // batch_size))


def probe_get_batch(
    get_batch_fn: Callable[..., tuple[np.ndarray, np.ndarray]],
    data_length: int = 500,
    seq_length: int = 20,
    batch_size: int = 16,
    seed: int = 0,
) -> Observations:
    """``get_batch(vectorized, seq_length, batch_size)``: random windows x and the next characters y.

    Args:
        get_batch_fn: the student's ``get_batch``.
        data_length: characters of the text (:func:`batch_data`: distinct ids, so each window has one start).
        seq_length: characters per window.
        batch_size: windows per batch.
        seed: draws the text.

    Returns:
        one batch (x, y); the first ids of x over 40 more batches; those over 20 batches of 8 from a text with two
        possible windows; what a text with one window gives (or the error); what a text too short for any window does.
    """
    data, _ = batch_data(data_length, seed)
    result = get_batch_fn(data, seq_length, batch_size)
    if not isinstance(result, tuple) or len(result) != 2:
        fail("get_batch should return a pair (x, y)")
    for name, array in zip("xy", result):
        if not isinstance(array, np.ndarray):
            fail(f"{name} should be a numpy array, got {type(array).__name__}")
        if not np.issubdtype(array.dtype, np.integer):
            fail(f"{name} should hold integer ids, got dtype {array.dtype}")
        check_shape(name, array, (batch_size, seq_length))
    observed = {"x": result[0].astype(np.int64), "y": result[1].astype(np.int64)}

    observed["many_first"], observed["many_error"] = _attempt(
        lambda: np.concatenate(
            [_first_column(get_batch_fn(data, seq_length, batch_size)) for _ in range(_spread_batches(batch_size))]
        )
    )
    tiny = data[: seq_length + 2]  # exactly two possible starts: 0 and 1
    observed["tiny_first"], observed["tiny_error"] = _attempt(
        lambda: np.concatenate([_first_column(get_batch_fn(tiny, seq_length, 8)) for _ in range(20)])
    )

    shortest = data[: seq_length + 1]  # one window and its targets: just long enough
    observed["shortest_first"], observed["shortest_error"], observed["shortest_raised"] = None, None, None
    try:
        observed["shortest_first"] = _first_column(get_batch_fn(shortest, seq_length, 4))
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001
        observed["shortest_raised"], observed["shortest_error"] = type(error).__name__, str(error)[:300]

    too_short = {"raised": None, "message": "", "from_library": False}
    try:
        get_batch_fn(data[:seq_length], seq_length, batch_size)
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001
        origin = traceback.extract_tb(error.__traceback__)[-1].filename
        too_short = {
            "raised": "ValueError" if isinstance(error, ValueError) else type(error).__name__,
            "message": str(error)[:300],
            "from_library": _in_library(origin),
        }
    observed["too_short"] = too_short
    return observed


def _positions(ids, position_of, what):
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(position_of)):
        fail(
            f"{what} holds ids that are not in the data (from {ids.min()} to {ids.max()}): take windows of vectorized itself"
        )
    return position_of[ids]


def compare_get_batch(
    observed: Observations, expected: None, data_length: int, seq_length: int, batch_size: int, seed: int
) -> str:
    """Checks the windows against the text the probe gave (properties of the student's batches; no expectation)."""
    data, position_of = batch_data(data_length, seed)
    x, y = observed["x"], observed["y"]
    starts = _positions(x[:, 0], position_of, "x")
    for row in range(batch_size):
        window = data[starts[row] : starts[row] + seq_length]
        if not np.array_equal(x[row], window):
            fail(
                f"row {row} of x is not {seq_length} consecutive characters of the data: take vectorized[i : i + seq_length]"
            )
        if starts[row] + seq_length >= data_length:
            fail(f"row {row} of x starts at {starts[row]}, too late to have a next character for its last step")
        if np.array_equal(y[row], x[row]):
            fail(
                "y equals x: y should be the same window shifted one character ahead, vectorized[i + 1 : i + seq_length + 1]"
            )
        if not np.array_equal(y[row], data[starts[row] + 1 : starts[row] + seq_length + 1]):
            fail(
                f"row {row}: y should be x shifted one character ahead (the character that follows each input), vectorized[i + 1 : i + seq_length + 1]"
            )

    if observed["many_error"]:
        fail(f"get_batch raised {observed['many_error']} when called again on the same data")
    many_starts = _positions(observed["many_first"], position_of, "x")
    last_start = data_length - seq_length - 1
    if len(np.unique(many_starts)) < min(10, last_start + 1):
        fail(
            f"over {_spread_batches(batch_size)} batches x started at only {len(np.unique(many_starts))} different positions: "
            "draw each row's start at random"
        )
    if many_starts.max() < 0.8 * last_start or many_starts.min() > 0.2 * last_start:
        fail(f"starts should cover 0..{last_start}; yours ranged over {many_starts.min()}..{many_starts.max()}")

    if observed["tiny_error"]:
        fail(
            f"with {seq_length + 2} characters and seq_length={seq_length} there are two windows, starting at 0 and 1; "
            f"yours raised {observed['tiny_error']}"
        )
    tiny_starts = set(_positions(observed["tiny_first"], position_of, "x").tolist())
    if tiny_starts != {0, 1}:
        fail(
            f"with {seq_length + 2} characters and seq_length={seq_length} the possible starts are 0 and 1 (the last target must exist); yours were {sorted(tiny_starts)}"
        )

    one_window = (
        f"with {seq_length + 1} characters and seq_length={seq_length} there is exactly one window, starting at 0"
    )
    if observed["shortest_raised"] == "ValueError":
        fail(f"{one_window}; yours raised ValueError: {observed['shortest_error']}")
    if observed["shortest_raised"]:
        fail(f"{one_window}; yours raised {observed['shortest_raised']}: {observed['shortest_error']}")
    starts = set(_positions(observed["shortest_first"], position_of, "x").tolist())
    if starts != {0}:
        fail(f"{one_window}; yours started at {sorted(starts)}")

    too_short = observed["too_short"]
    if too_short["raised"] == "ValueError":
        if too_short["from_library"]:
            fail(
                f"a text of {seq_length} characters is too short for seq_length={seq_length}, and the ValueError came from inside "
                f"a library ({too_short['message']}), not from your code: check the length first and raise ValueError saying what is wrong"
            )
    elif too_short["raised"]:
        fail(
            f"a text of {seq_length} characters is too short for seq_length={seq_length}: raise ValueError with a clear message, not {too_short['raised']}"
        )
    else:
        fail(
            f"a text of {seq_length} characters is too short for seq_length={seq_length} (no target for the last step): raise ValueError saying so"
        )
    return f"get_batch returns random windows of shape ({batch_size}, {seq_length}) with y = x shifted by one, and refuses too-short data"


check_get_batch = Check(probe_get_batch, compare_get_batch, expects=False)


# --- build_model -----------------------------------------------------------------------------------------------------


def build_model_ids(vocab_size: int, seed: int) -> np.ndarray:
    """The ids (3, 9) the build-model check reads the model's logits for, with the check's weights; id 0, a character
    like any other, is among them (a masking Embedding would skip it)."""
    ids = np.random.default_rng([seed, 2]).integers(0, vocab_size, size=(3, 9)).astype("int32")
    ids[1, 4] = 0
    return ids


def probe_build_model(
    build_fn: Callable[..., keras.Model],
    vocab_size: int = 30,
    embedding_dim: int = 8,
    rnn_units: int = 16,
    num_layers: int = 1,
    seed: int = 0,
) -> Observations:
    """``build_model(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1)``: Embedding, then ``num_layers``
    times LSTM -> Dropout, then Dense logits; stateless.

    Args:
        build_fn: the student's ``build_model``.
        vocab_size, embedding_dim, rnn_units: the sizes it is called with.
        num_layers: the LSTM layers it is asked to stack (passed only when it is not 1, the default).
        seed: draws the ids fed to the model.

    Returns:
        the layers (kinds, the LSTM's settings, the last layer's units and activation), the parameter count, the logits
        of two calls on the same ids, and with ``dropout=0.5``: the Dropout rates and the logits of two calls at inference
        and one in training mode. Fails at once when the model cannot run on ids of any batch size and length, or its
        logits are not of shape (batch, time, vocab_size).
    """
    depth = {} if num_layers == 1 else {"num_layers": num_layers}
    try:
        model = build_fn(vocab_size, embedding_dim, rnn_units, **depth)
    except TypeError as error:
        if depth and "num_layers" in str(error):
            return {"num_layers_argument": False}
        raise
    if not isinstance(model, keras.Model):
        fail(f"build_model should return a keras Model, got {type(model).__name__}")
    rng = np.random.default_rng(seed)
    for batch, steps in ((2, 7), (5, 3)):
        ids = rng.integers(0, vocab_size, size=(batch, steps)).astype("int32")
        try:
            out = model(ids)
        except Exception as error:
            fail(
                f"the model fails on ids of shape {(batch, steps)}: {type(error).__name__}: {str(error)[:200]}. "
                "It should accept any batch size and length: keras.Input(shape=(None,), dtype='int32'), no fixed batch size"
            )
        check_shape(f"logits for ids of shape {(batch, steps)}", out, (batch, steps, vocab_size))
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    last = model.layers[-1] if model.layers else None
    activation = getattr(last, "activation", None)
    observed = {
        "num_layers_argument": True,
        "layers": [type(layer).__name__ for layer in model.layers],
        "first_is_embedding": bool(model.layers) and isinstance(model.layers[0], keras.layers.Embedding),
        "lstms": [
            {
                "units": int(layer.units),
                "stateful": bool(layer.stateful),
                "return_sequences": bool(layer.return_sequences),
            }
            for layer in lstms
        ],
        "last_is_dense": isinstance(last, keras.layers.Dense),
        "last_units": int(last.units) if isinstance(last, keras.layers.Dense) else None,
        "last_activation": None
        if activation in (keras.activations.linear, None)
        else getattr(activation, "__name__", repr(activation)),
        "parameter_count": int(model.count_params()),
        # Exactly keras.Sequential, as the exercise asks: a subclass (of Model or of Sequential) can compute anything
        # in call (a softmax at the end, skip its LSTMs) with the right layers and parameter count.
        "sequential": type(model) is keras.Sequential,
        "model_class": type(model).__name__,
    }
    ids = rng.integers(0, vocab_size, size=(3, 6)).astype("int32")
    observed["repeat"] = [np.asarray(model(ids)), np.asarray(model(ids))]
    # What the model computes, not only what it holds: the logits with weights the check chose.
    observed["given_weights_logits"] = outputs_with_given_weights(model, build_model_ids(vocab_size, seed), seed)

    try:
        with_dropout = build_fn(vocab_size, embedding_dim, rnn_units, dropout=0.5, **depth)
    except TypeError:
        return {**observed, "dropout_argument": False}
    observed["dropout_argument"] = True
    observed["dropout_rates"] = [
        float(layer.rate) for layer in with_dropout.layers if isinstance(layer, keras.layers.Dropout)
    ]
    observed["dropout_layers"] = [type(layer).__name__ for layer in with_dropout.layers]
    # The LSTMs' own dropout, which no output at inference and no step of the dropout-free model shows.
    observed["lstm_dropouts"] = [
        [float(getattr(layer, "dropout", 0.0)), float(getattr(layer, "recurrent_dropout", 0.0))]
        for layer in with_dropout.layers
        if isinstance(layer, keras.layers.LSTM)
    ]
    ids = rng.integers(0, vocab_size, size=(4, 10)).astype("int32")
    observed["inference"] = [
        np.asarray(with_dropout(ids, training=False)),
        np.asarray(with_dropout(ids, training=False)),
    ]
    observed["training"] = np.asarray(with_dropout(ids, training=True))
    return observed


def compare_build_model(
    observed: Observations,
    expected: Expectation,
    vocab_size: int,
    embedding_dim: int,
    rnn_units: int,
    num_layers: int,
    seed: int,
) -> str:
    """Fails on the first layer, setting or parameter count that differs from Embedding, ``num_layers`` times
    LSTM -> Dropout, then Dense."""
    signature = "build_model(vocab_size, embedding_dim, rnn_units, dropout=0.0, num_layers=1)"
    if not observed["num_layers_argument"]:
        fail(f"build_model should take a num_layers argument, the LSTM layers it stacks: {signature}")
    lstms = observed["lstms"]
    wanted_layers = ", ".join(["Embedding"] + ["LSTM", "Dropout"] * num_layers + ["Dense"])
    if not observed["sequential"]:
        fail(
            f"build_model should return a keras.Sequential of the layers {wanted_layers}, got a {observed['model_class']}: "
            "another model class can compute something else than its layers say (a softmax, a layer skipped)"
        )
    if not observed["first_is_embedding"] or not lstms:
        fail(f"expected the layers {wanted_layers}; got {', '.join(observed['layers'])}")
    if len(lstms) != num_layers:
        fail(
            f"with num_layers={num_layers} the model should stack {num_layers} LSTM layer(s), each reading the states "
            f"of the one before; it has {len(lstms)} ({', '.join(observed['layers'])})"
        )
    for number, lstm in enumerate(lstms, 1):
        which = "the LSTM" if num_layers == 1 else f"LSTM layer {number}"
        if lstm["units"] != rnn_units:
            fail(f"{which} should have rnn_units={rnn_units} units, got {lstm['units']}")
        if lstm["stateful"]:
            fail(
                f"{which} should be stateless (stateful=False): every training window starts from a zero state, and so "
                "does generation"
            )
        if not lstm["return_sequences"]:
            fail(
                f"{which} needs return_sequences=True: the model predicts the next character at every step"
                + ("" if num_layers == 1 else ", and each layer reads every state of the one below")
            )
    if not observed["last_is_dense"] or observed["last_units"] != vocab_size:
        fail(f"the last layer should be Dense(vocab_size={vocab_size})")
    if observed["last_activation"] is not None:
        fail(f"the Dense layer should output raw logits (no activation); it applies {observed['last_activation']}")
    wanted = expected["parameter_count"]
    if observed["parameter_count"] != wanted:
        stacked = "" if num_layers == 1 else f", {num_layers - 1} more LSTM({rnn_units}) on {rnn_units} inputs each"
        fail(
            f"expected {wanted} parameters (Embedding {vocab_size}x{embedding_dim}, LSTM({rnn_units}) on {embedding_dim} "
            f"inputs{stacked}, Dense {rnn_units}->{vocab_size}), got {observed['parameter_count']}"
        )
    check_close("a second call on the same ids (a stateless model forgets between calls)", *observed["repeat"])
    compare_given_weights(
        "your model's logits",
        observed["given_weights_logits"],
        expected["logits"],
        "each LSTM should read its inputs forward with Keras's default activations, the Dense layer see the last "
        "LSTM's state at every step, and the Embedding mask nothing (id 0 is a character too)",
    )
    if not observed["dropout_argument"]:
        fail(f"build_model should take a dropout argument: {signature}")
    rates = observed["dropout_rates"]
    if rates != [0.5] * num_layers:
        where = (
            "one keras.layers.Dropout(0.5) between the LSTM and the Dense layer"
            if num_layers == 1
            else f"a keras.layers.Dropout(0.5) after each of its {num_layers} LSTM layers"
        )
        fail(f"with dropout=0.5 the model should have {where}; its Dropout rates were {rates}")
    extra = [pair for pair in observed["lstm_dropouts"] if any(pair)]
    if extra:
        fail(
            f"with dropout=0.5 the LSTM layers should keep their own dropout and recurrent_dropout at 0 (got "
            f"{extra[0][0]} and {extra[0][1]}): the model's dropout is the Dropout layer after each LSTM, not the LSTM's"
        )
    check_close("with dropout, two calls at inference (training=False)", *observed["inference"])
    if np.shape(observed["training"]) == np.shape(observed["inference"][0]) and np.allclose(
        observed["training"], observed["inference"][0]
    ):
        fail(
            "with dropout=0.5 the outputs in training mode equal those at inference: is the Dropout layer in the model?"
        )
    order = [name for name in observed["dropout_layers"] if name != "InputLayer"]
    if order != wanted_layers.split(", "):
        fail(
            f"with dropout=0.5 the layers should be {wanted_layers}, in that order (each LSTM followed by its own "
            f"Dropout, the Dense layer last); got {', '.join(order)}"
        )
    layers = "" if num_layers == 1 else f", {num_layers} LSTM layers"
    return (
        f"build_model({vocab_size}, {embedding_dim}, {rnn_units}{layers}) maps ids (batch, time) to logits "
        f"(batch, time, {vocab_size}), stateless, with optional dropout"
    )


check_build_model = Check(probe_build_model, compare_build_model)


# --- compute_loss ----------------------------------------------------------------------------------------------------


def loss_inputs(batch: int, steps: int, vocab_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random labels (batch, steps) and logits (batch, steps, vocab_size) for the loss check."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, vocab_size, size=(batch, steps))
    logits = rng.normal(scale=2.0, size=(batch, steps, vocab_size)).astype("float32")
    return labels, logits


def probe_loss(
    loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    batch: int = 4,
    steps: int = 9,
    vocab_size: int = 12,
    seed: int = 0,
) -> Observations:
    """``compute_loss(labels, logits)``: mean sparse categorical cross-entropy from logits.

    Args:
        loss_fn: the student's ``compute_loss``.
        batch, steps, vocab_size: the sizes of the random labels and logits (:func:`loss_inputs`).
        seed: draws them.

    Returns:
        what ``compute_loss`` returns for them, as an array (a scalar when right).
    """
    labels, logits = loss_inputs(batch, steps, vocab_size, seed)
    loss = np.asarray(loss_fn(tf.constant(labels), tf.constant(logits)), dtype=np.float64)
    # A number as a number: probing.encode would send a 0-d array as shape (1,) (np.ascontiguousarray).
    return {"loss": loss.item() if loss.ndim == 0 else loss}


def compare_loss(
    observed: Observations, expected: Expectation, batch: int, steps: int, vocab_size: int, seed: int
) -> str:
    """Fails when the loss is not one number, is the sum, reads the logits as probabilities, or differs from Keras's."""
    actual = observed["loss"]
    if np.ndim(actual) != 0:
        fail(f"compute_loss should return one number (the mean over batch and time), got shape {np.shape(actual)}")
    actual, wanted = float(actual), float(expected["loss"])
    if np.isclose(actual, expected["summed"], rtol=1e-4):
        fail("your loss is the sum over all characters; take the mean")
    if np.isclose(actual, expected["from_probabilities"], rtol=1e-4):
        fail("the model outputs logits, not probabilities: use from_logits=True")
    if not np.isclose(actual, wanted, rtol=1e-4, atol=1e-5):
        fail(f"the mean cross-entropy should be {wanted:.5f} nats, got {actual:.5f}")
    return (
        f"compute_loss equals Keras's sparse categorical cross-entropy from logits ({wanted:.4f} nats on random logits)"
    )


check_loss = Check(probe_loss, compare_loss)


def probe_untrained_loss(
    loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    vocab_size: int,
    tolerance: float = 0.1,
) -> Observations:
    """An untrained model predicts nearly uniformly, so its loss is close to ln(vocab_size).

    Args:
        loss_fn: the student's ``compute_loss``.
        model: a freshly built model.
        x, y: a batch of inputs and targets.
        vocab_size: the number of characters.
        tolerance: how far from ln(vocab_size) the loss may be, in nats.

    Returns:
        the loss of ``model`` on the batch, and ``vocab_size``.
    """
    return {"loss": float(loss_fn(tf.constant(y), model(x))), "vocab_size": int(vocab_size)}


def compare_untrained_loss(observed: Observations, expected: None, tolerance: float) -> str:
    """Compares the loss with ln(vocab_size) (a property of the untrained model; no expectation)."""
    loss, vocab_size = observed["loss"], observed["vocab_size"]
    uniform = float(np.log(vocab_size))
    if not abs(loss - uniform) <= tolerance:
        fail(
            f"the untrained model's loss is {loss:.3f}; a nearly uniform guess over {vocab_size} characters gives ln({vocab_size}) = {uniform:.3f}. "
            "Is the model freshly built, and does compute_loss take logits?"
        )
    return f"untrained loss {loss:.3f} nats/char is close to ln({vocab_size}) = {uniform:.3f}: the model starts by guessing uniformly"


check_untrained_loss = Check(probe_untrained_loss, compare_untrained_loss, expects=False)


# --- make_train_step -------------------------------------------------------------------------------------------------

TRAIN_STEP_EMBEDDING_DIM, TRAIN_STEP_UNITS = (
    4,
    6,
)  # the model the step is tried on: build_model(vocab_size, 4, 6), small to store
TRAIN_STEP_LEARNING_RATE = 0.5  # plain SGD
TRAIN_STEP_CASES = (
    (100.0, "without clipping (max_norm above the gradient norm)"),
    (0.05, "with clipping (max_norm = 0.05)"),
)
TRAIN_STEP_WEIGHT_SCALE = 0.5


def train_step_inputs(
    vocab_size: int, batch: int, steps: int, seed: int, weight_shapes: Iterable[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The train-step check's batch and the model's starting weights, drawn for the given weight shapes.

    Returns:
        (x, y, weights): int32 arrays (batch, steps), and a float32 array of each shape in ``weight_shapes`` (normal,
        scale :data:`TRAIN_STEP_WEIGHT_SCALE`: gradients well above the clipping case's max_norm).
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab_size, size=(batch, steps)).astype(np.int32)
    y = rng.integers(0, vocab_size, size=(batch, steps)).astype(np.int32)
    weights = [
        rng.normal(scale=TRAIN_STEP_WEIGHT_SCALE, size=tuple(shape)).astype(np.float32) for shape in weight_shapes
    ]
    return x, y, weights


class _TrainingModeRecorder(keras.layers.Layer):
    """Passes its input through and records whether it was called in training mode (read when traced)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def call(self, inputs, training=None):
        self.calls.append(bool(training))
        return inputs


def _training_mode_calls(make_train_step_fn, vocab_size, x, y):
    """The training flags a step passes to a layer of its model (dropout is silently off unless training=True)."""
    # The layer name is a TensorFlow name scope when a step calls model.call() or the layers directly: no leading "_".
    recorder = _TrainingModeRecorder(name="training_probe")
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, 4),
            recorder,
            keras.layers.Dense(vocab_size),
        ]
    )
    recorder.calls.clear()  # building the model called it once, symbolically
    make_train_step_fn(model, keras.optimizers.SGD(0.1), 1.0)(tf.constant(x), tf.constant(y))
    return list(recorder.calls)


def probe_train_step(
    make_train_step_fn: Callable[
        [keras.Model, keras.optimizers.Optimizer, float], Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
    ],
    build_fn: Callable[..., keras.Model],
    vocab_size: int = 11,
    batch: int = 3,
    steps: int = 8,
    seed: int = 0,
) -> Observations:
    """``make_train_step(model, optimizer, max_norm)`` returns a ``tf.function`` ``train_step(x, y) -> (loss, norm)``
    that applies one clipped update; compared with a reference update of the same weights, using plain SGD.

    Args:
        make_train_step_fn: the student's ``make_train_step``.
        build_fn: the student's ``build_model``; the step is tried on ``build_fn(vocab_size, 4, 6)``.
        vocab_size, batch, steps: the sizes of the random batch.
        seed: draws the batch and the model's starting weights (:func:`train_step_inputs`).

    Returns:
        the model's weight shapes; for max_norm 100 (no clipping) and 0.05 (clipping), each from the same starting
        weights: the loss and norm the step returns and the weights after it; and the training flags the step passes
        to the model's layers. Fails at once when the step is not a ``tf.function`` or does not return a pair.
    """
    observed = {"cases": []}
    for max_norm, _ in TRAIN_STEP_CASES:
        model = build_fn(vocab_size, TRAIN_STEP_EMBEDDING_DIM, TRAIN_STEP_UNITS)
        model(np.zeros((1, 1), "int32"))
        shapes = [list(w.shape) for w in model.get_weights()]
        x, y, weights = train_step_inputs(vocab_size, batch, steps, seed, shapes)
        model.set_weights(weights)
        train_step = make_train_step_fn(model, keras.optimizers.SGD(TRAIN_STEP_LEARNING_RATE), max_norm)
        if not hasattr(train_step, "get_concrete_function"):
            fail(
                "make_train_step should return a function decorated with @tf.function (compiled), not a plain Python function"
            )
        with full_float32():
            result = train_step(tf.constant(x), tf.constant(y))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail(
                "train_step should return (loss, global_norm): the loss before the update and the gradient norm before clipping"
            )
        loss, norm = map(float, result)
        observed["weight_shapes"] = shapes
        observed["cases"].append({"loss": loss, "norm": norm, "weights": [np.asarray(w) for w in model.get_weights()]})
    observed["training_calls"] = _training_mode_calls(make_train_step_fn, vocab_size, x, y)
    return observed


def compare_train_step(
    observed: Observations, expected: Expectation, vocab_size: int, batch: int, steps: int, seed: int
) -> str:
    """Fails on the first case whose loss, norm or updated weights differ from the reference step's, then on a step
    that calls the model in inference mode."""
    shapes, wanted_shapes = observed["weight_shapes"], expected["weight_shapes"]
    if [list(s) for s in shapes] != [list(s) for s in wanted_shapes]:
        fail(
            f"train_step is tried on build_model({vocab_size}, {TRAIN_STEP_EMBEDDING_DIM}, {TRAIN_STEP_UNITS}), whose weights have "
            f"shapes {[tuple(s) for s in shapes]}; Embedding -> LSTM -> Dropout -> Dense gives {[tuple(s) for s in wanted_shapes]}: "
            "make build_model pass its test first"
        )
    _, _, initial = train_step_inputs(vocab_size, batch, steps, seed, shapes)
    for (max_norm, case), mine, reference in zip(TRAIN_STEP_CASES, observed["cases"], expected["cases"]):
        loss, norm = mine["loss"], mine["norm"]
        if not np.isclose(loss, reference["loss"], rtol=1e-4):
            fail(
                f"{case}: the returned loss should be the cross-entropy before the update, {reference['loss']:.5f}, got {loss:.5f}"
            )
        if not np.isclose(norm, reference["norm"], rtol=1e-3):
            fail(
                f"{case}: the returned norm should be the global norm of all gradients before clipping, {reference['norm']:.5g}, got {norm:.5g}"
            )
        if all(np.array_equal(a, b) for a, b in zip(mine["weights"], initial)):
            fail(
                "train_step did not change the weights: apply the gradients with optimizer.apply_gradients(zip(grads, model.trainable_variables))"
            )
        worst = max(max_abs_diff(a, b) for a, b in zip(mine["weights"], reference["weights"]))
        if not worst <= 1e-4:
            message = f"{case}: after one step the weights differ from the reference update by up to {worst:.3g}"
            if max_norm < 1:
                message += (
                    "; clip all gradients together by their global norm (tf.clip_by_global_norm), before applying them"
                )
            fail(message)
    calls = observed["training_calls"]
    if not calls or not all(calls):
        fail(
            "train_step calls the model in inference mode: call model(x, training=True), or the Dropout layer does nothing while training"
        )
    return "train_step computes the loss in training mode, clips the gradients by global norm and applies them, inside tf.function"


check_train_step = Check(probe_train_step, compare_train_step)


# --- sample_next -----------------------------------------------------------------------------------------------------

SAMPLE_TEMPERATURES = (1.0, 0.5, 2.0)


def sample_logits(vocab_size: int, seed: int) -> np.ndarray:
    """The logits (vocab_size,) the sampler is tried on."""
    return np.random.default_rng(seed).normal(scale=1.5, size=vocab_size).astype("float32")


def _draw_counts(
    name: str, call: str, ids: ArrayLike, draws: int, vocab_size: int, counts: list, outside: list
) -> None:
    """Appends to ``counts`` how often each id was drawn and to ``outside`` how many ids lie outside the vocabulary,
    after failing on ids of the wrong shape or type (``name`` is the student's sampler, ``call`` how it was called)."""
    ids = np.asarray(ids)
    if ids.shape == (draws, 1):
        fail(f"{name} should return shape (batch,) = ({draws},), got ({draws}, 1): take [:, 0]")
    check_shape(f"{call} for logits of shape (batch, vocab)", ids, (draws,))
    if not np.issubdtype(ids.dtype, np.integer):
        fail(f"{name} should return integer ids, got dtype {ids.dtype}")
    inside = (ids >= 0) & (ids < vocab_size)
    counts.append(np.bincount(ids[inside].astype(np.int64), minlength=vocab_size))
    outside.append(int(np.sum(~inside)))


def probe_sample_next(
    sample_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], vocab_size: int = 5, draws: int = 20000, seed: int = 0
) -> Observations:
    """``sample_next(logits, temperature)``: draws from softmax(logits / temperature), one id per row.

    Compares the frequencies of many draws with the reference probabilities; with ``draws`` samples a
    correct sampler lands within 0.02 of every probability except with negligible chance.

    Args:
        sample_fn: the student's ``sample_next``, run inside ``tf.function``.
        vocab_size: the size of the random logits (:func:`sample_logits`).
        draws: rows of the batch (each the same logits), so draws per temperature.
        seed: draws the logits.

    Returns:
        for each temperature of :data:`SAMPLE_TEMPERATURES`, how often each id was drawn, and how many ids fell
        outside 0..vocab_size-1. Fails at once when sample_fn fails inside tf.function or returns other than (draws,) ints.
    """
    logits = sample_logits(vocab_size, seed)
    batch_logits = tf.constant(np.tile(logits, (draws, 1)))
    compiled = tf.function(sample_fn)
    counts, outside = [], []
    for temperature in SAMPLE_TEMPERATURES:
        try:
            ids = compiled(batch_logits, tf.constant(temperature))
        except Exception as error:
            fail(
                f"sample_next fails inside tf.function ({type(error).__name__}: {str(error)[:160]}); use TensorFlow ops such as tf.random.categorical"
            )
        _draw_counts("sample_next", "sample_next(logits)", ids, draws, vocab_size, counts, outside)
    return {"counts": np.stack(counts), "outside": outside}


def compare_sample_next(observed: Observations, expected: Expectation, vocab_size: int, draws: int, seed: int) -> str:
    """Compares the frequencies with softmax(logits / temperature), and names the mistake whose distribution they follow."""
    for i, temperature in enumerate(SAMPLE_TEMPERATURES):
        counts = np.asarray(observed["counts"][i])
        if (
            counts.shape != (vocab_size,)
            or not np.issubdtype(counts.dtype, np.integer)
            or counts.min() < 0
            or counts.sum() + observed["outside"][i] != draws
        ):
            fail(
                f"at temperature {temperature} the counts of the draws do not add up to the {draws} drawn: was the probe changed?"
            )
        if observed["outside"][i]:
            fail(
                f"at temperature {temperature}, {observed['outside'][i]} of the {draws} ids were outside 0..{vocab_size - 1}"
            )
        frequencies = np.asarray(observed["counts"][i], dtype=np.float64) / draws
        wanted = np.asarray(expected["probabilities"][i])
        if np.max(np.abs(frequencies - wanted)) > 0.02:
            if np.max(frequencies) > 0.999:
                fail(
                    "sample_next always picks the same id: sample with tf.random.categorical instead of taking the argmax"
                )
            if np.max(np.abs(frequencies - expected["multiplied"][i])) < 0.02:
                fail(
                    f"at temperature {temperature} the draws follow softmax(logits * temperature): divide the logits by the temperature"
                )
            if np.max(np.abs(frequencies - expected["from_probabilities"][i])) < 0.02:
                fail("tf.random.categorical takes logits, not probabilities: do not apply softmax first")
            fail(
                f"at temperature {temperature} the draws should follow softmax(logits / temperature) = {np.round(wanted, 3)}; "
                f"their frequencies were {np.round(frequencies, 3)}"
            )
    return f"sample_next draws from softmax(logits / temperature) at temperatures 0.5, 1 and 2 ({draws} draws each)"


check_sample_next = Check(probe_sample_next, compare_sample_next)


# --- sample_in_time --------------------------------------------------------------------------------------------------

IN_TIME_TEMPERATURES = (1.0, 0.5, 2.0)  # one per case of in_time_inputs
IN_TIME_FILLS = (0.5, 0.75, 1.0, 1.25, np.inf)  # what the bar would hold after a character (inf: never completed)


def in_time_inputs(vocab_size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The logits, fills and bar-line flags the constrained sampler is tried on: three cases, one row each.

    Case 0 and 1 are inside a tune's body: every row has a bar line that would close the bar full (``fill == 1``)
    and one that would close it early (``fill < 1``), a note that would fill the bar exactly and one that would
    overflow it, the four with the largest logits; the other characters are drawn at random. Case 2 is the header: nothing counted, everything allowed.

    Returns:
        (logits, fill, closes): float32, float32 and bool arrays of shape (3, vocab_size).
    """
    if vocab_size < 4:
        raise ValueError(
            f"vocab_size should be at least 4 (the four kinds of character every case has), got {vocab_size}"
        )
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(3, vocab_size)).astype("float32")
    fill = rng.choice(IN_TIME_FILLS, size=(3, vocab_size)).astype("float32")
    closes = rng.random((3, vocab_size)) < 0.3
    for case in (0, 1):  # the four kinds, each among the likeliest characters, so that every mistake shows
        first = rng.permutation(vocab_size)[:4]
        fill[case, first], closes[case, first] = (1.0, 0.75, 1.0, 1.25), (True, True, False, False)
        logits[case, first] = logits[case].max() + 1.0 + rng.random(4).astype("float32")
    logits[1] -= logits[1].max() + 2.0  # all below zero: a logit set to 0 instead of -inf would then be the likeliest
    fill[2], closes[2] = 0.0, False
    return logits, fill, closes


def probe_sample_in_time(
    sample_fn: Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor],
    vocab_size: int = 6,
    draws: int = 20000,
    seed: int = 0,
) -> Observations:
    """``sample_in_time(logits, temperature, fill, closes)``: draws from softmax(logits / temperature) over the
    characters that keep the bar possible to complete, one id per row.

    Args:
        sample_fn: the student's ``sample_in_time``, run inside ``tf.function``.
        vocab_size: the size of the random inputs (:func:`in_time_inputs`).
        draws: rows of the batch (each the same inputs), so draws per case.
        seed: draws the inputs.

    Returns:
        for each case, how often each id was drawn, and how many ids fell outside 0..vocab_size-1. Fails at once when
        sample_fn fails inside tf.function or returns other than (draws,) ints.
    """
    logits, fill, closes = in_time_inputs(vocab_size, seed)
    compiled = tf.function(sample_fn)
    counts, outside = [], []
    for case, temperature in enumerate(IN_TIME_TEMPERATURES):
        tiled = [tf.constant(np.tile(a[case], (draws, 1))) for a in (logits, fill, closes)]
        try:
            ids = compiled(tiled[0], tf.constant(temperature), tiled[1], tiled[2])
        except Exception as error:
            fail(
                f"sample_in_time fails inside tf.function ({type(error).__name__}: {str(error)[:160]}); use TensorFlow "
                "ops such as tf.where and tf.random.categorical"
            )
        _draw_counts("sample_in_time", "sample_in_time(logits, ...)", ids, draws, vocab_size, counts, outside)
    return {"counts": np.stack(counts), "outside": outside}


IN_TIME_MISTAKES = {
    "unmasked": "sample_in_time masks nothing: its draws follow softmax(logits / temperature) over every character",
    "bar_line_early": "sample_in_time lets a bar line close a bar that is not full: a character that closes a bar "
    "(closes is True) is allowed only when fill == 1",
    "overflow": "sample_in_time lets a note overflow the bar: a character with fill > 1 can never be completed",
    "strict": "sample_in_time forbids characters that fill the bar exactly (fill == 1): only more than a full bar is impossible",
    "zero_logits": "sample_in_time sets forbidden logits to 0, which still gives them probability: use -inf (or a very "
    "large negative number)",
    "from_probabilities": "tf.random.categorical takes logits, not probabilities: mask the logits, not softmax(logits)",
    "after_sampling": "sample_in_time masks after sampling (a forbidden draw replaced by the likeliest allowed character): "
    "mask the logits before drawing, so every allowed character keeps its share",
    "multiplied": "sample_in_time multiplies the logits by the temperature: divide them",
}


def compare_sample_in_time(
    observed: Observations, expected: Expectation, vocab_size: int, draws: int, seed: int
) -> str:
    """Compares the frequencies with softmax(logits / temperature) over the allowed characters, and names the mistake
    whose distribution they follow."""
    _, fill, closes = in_time_inputs(vocab_size, seed)
    for case, temperature in enumerate(IN_TIME_TEMPERATURES):
        counts = np.asarray(observed["counts"][case])
        if (
            counts.shape != (vocab_size,)
            or not np.issubdtype(counts.dtype, np.integer)
            or counts.min() < 0
            or counts.sum() + observed["outside"][case] != draws
        ):
            fail(f"in case {case} the counts of the draws do not add up to the {draws} drawn: was the probe changed?")
        if observed["outside"][case]:
            fail(f"in case {case}, {observed['outside'][case]} of the {draws} ids were outside 0..{vocab_size - 1}")
        frequencies = counts / draws
        wanted = np.asarray(expected["probabilities"][case])
        if np.max(np.abs(frequencies - wanted)) <= 0.02:
            continue
        for mistake, message in IN_TIME_MISTAKES.items():
            if np.max(np.abs(frequencies - np.asarray(expected[mistake][case]))) <= 0.02:
                fail(message)
        forbidden = wanted == 0
        early = forbidden & closes[case] & (fill[case] < 1)
        if counts[early].sum():
            fail(IN_TIME_MISTAKES["bar_line_early"])
        if counts[forbidden & (fill[case] > 1)].sum():
            fail(IN_TIME_MISTAKES["overflow"])
        fail(
            f"in case {case} (temperature {temperature}) the draws should follow softmax(logits / temperature) over the "
            f"allowed characters = {np.round(wanted, 3)}; their frequencies were {np.round(frequencies, 3)}"
        )
    # Close in frequency is not enough where the answer is exact: a right sampler never draws a forbidden character
    # (a finite penalty such as logits - 5 * forbidden still does, in some 1% of the draws, within 0.02 of each frequency).
    for case in range(len(IN_TIME_TEMPERATURES)):
        drawn = int(np.asarray(observed["counts"][case])[np.asarray(expected["probabilities"][case]) == 0].sum())
        if drawn:
            fail(
                f"in case {case}, {drawn} of the {draws} draws were characters that are not allowed: give them no "
                "probability at all (a logit of -inf, not a finite penalty), so that none is ever drawn"
            )
    return (
        f"sample_in_time draws from softmax(logits / temperature) over the characters that keep the bar possible to "
        f"complete, at temperatures 1, 0.5 and 2 ({draws} draws each)"
    )


check_sample_in_time = Check(probe_sample_in_time, compare_sample_in_time)


# --- generate_ids ----------------------------------------------------------------------------------------------------

GENERATION_TEMPERATURE = 0.7
GENERATION_EMBEDDING_DIM, GENERATION_UNITS = 6, 12


def generation_model(vocab_size: int, seed: int) -> keras.Sequential:
    """A random Embedding -> LSTM -> Dropout -> Dense model of Part 4's shape (built here, not with the student's
    build_model), its weights drawn with numpy from ``seed``.

    The weights are large, and the forget gate open: a state that is not carried, or not read from the start text,
    changes the logits clearly. The Dropout layer (rate 0.5) must do nothing while generating.
    """
    units, dim = GENERATION_UNITS, GENERATION_EMBEDDING_DIM
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, dim),
            keras.layers.LSTM(units, return_sequences=True),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(vocab_size),
        ]
    )
    rng = np.random.default_rng([seed, 1])
    bias = rng.normal(scale=0.5, size=4 * units)
    bias[units : 2 * units] += 2.0  # gates in Keras's order i, f, c, o
    weights = [
        rng.normal(scale=1.0, size=(vocab_size, dim)),
        rng.normal(scale=0.6, size=(dim, 4 * units)),
        rng.normal(scale=0.65, size=(units, 4 * units)),
        bias,
        rng.normal(scale=1.0, size=(units, vocab_size)),
        rng.normal(scale=0.5, size=vocab_size),
    ]
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def generation_inputs(vocab_size: int, start_length: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The start text's ids, and the ids the recording sampler returns for the first ``length`` draws (drawn uniformly,
    whatever the logits: the text so far is then known before the loop runs).

    Returns:
        (start_ids, draws): int32 arrays (start_length,) and (length,).
    """
    rng = np.random.default_rng(seed)
    start_ids = rng.integers(0, vocab_size, size=start_length).astype(np.int32)
    draws = rng.integers(0, vocab_size, size=length).astype(np.int32)
    return start_ids, draws


_EAGER_ONLY = "generate_ids must run in plain (eager) Python, not inside tf.function: CharSampler, after this exercise, is the compiled version"


class _RecordingSampler:
    """A sample_next stand-in that records the logits and temperature it is given and returns ids set in advance
    (``draws``, then ids from a seeded generator if it is called more often)."""

    def __init__(self, draws, vocab_size, seed):
        self.draws, self.vocab_size = [int(i) for i in draws], vocab_size
        self.rng, self.logits, self.temperatures, self.ids = np.random.default_rng([seed, 2]), [], [], []
        self.traced = False  # called while tf.function traced a graph

    def __call__(self, logits, temperature):
        if not tf.executing_eagerly():
            self.traced = True
            fail(_EAGER_ONLY)
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[0] != 1:
            fail(f"sample_fn should get logits of shape (1, vocab) for one sequence, got {logits.shape}")
        self.logits.append(logits[0])
        self.temperatures.append(float(temperature))
        k = len(self.ids)
        self.ids.append(self.draws[k] if k < len(self.draws) else int(self.rng.integers(0, self.vocab_size)))
        return tf.constant([self.ids[-1]], tf.int32)


class _CellSteps:
    """Counts the steps of one recurrent cell taken while it is active (a profile hook, so any way of calling it counts)."""

    def __init__(self, cell):
        self.code = type(cell).call.__code__
        self.count = 0

    @contextmanager
    def counting(self):
        previous = sys.getprofile()

        def hook(frame, event, arg):
            if event == "call" and frame.f_code is self.code:
                self.count += 1
            if previous is not None:
                previous(frame, event, arg)

        sys.setprofile(hook)
        try:
            yield
        finally:
            sys.setprofile(previous)


def probe_generate(
    generate_fn: Callable[[keras.Model, np.ndarray, int, float, Callable[[tf.Tensor, float], tf.Tensor]], ArrayLike],
    vocab_size: int = 7,
    start_length: int = 5,
    length: int = 12,
    seed: int = 0,
) -> Observations:
    """``generate_ids(model, start_ids, length, temperature, sample_fn)``: one character at a time, the LSTM state carried.

    The sampling step is replaced by one that records the logits it gets and returns ids set in advance; each must equal
    (up to a constant) the logits the whole model gives for the whole text so far (the start and everything drawn).
    The LSTM cell may take at most one step per character: recomputing the whole text for every draw is refused.

    Args:
        generate_fn: the student's ``generate_ids``.
        vocab_size: the size of the random model's vocabulary (:func:`generation_model`).
        start_length: ids in the start text.
        length: ids to generate.
        seed: draws the model, the start text and the sampler's ids (:func:`generation_inputs`).

    Returns:
        the logits and temperatures sample_fn got, the ids it returned, the ids generate_ids returned, the number of
        LSTM cell steps, and whether the model's weights changed.
    """
    model = generation_model(vocab_size, seed)
    weights = [w.copy() for w in model.get_weights()]
    start_ids, draws = generation_inputs(vocab_size, start_length, length, seed)
    sampler = _RecordingSampler(draws, vocab_size, seed)
    steps = _CellSteps(model.layers[1].cell)
    with full_float32(), steps.counting():
        try:
            generated = refusing_delegation(generate_fn, GENERATE)(
                model, start_ids, length, GENERATION_TEMPERATURE, sampler
            )
        except CheckFailed:
            raise
        except Exception:
            if sampler.traced:  # tf.function wraps the check's message in its own error
                fail(_EAGER_ONLY)
            raise
    generated = np.asarray(generated)
    numeric = generated.dtype.kind in "biuf"
    return {
        "logits": sampler.logits,
        "temperatures": sampler.temperatures,
        "drawn": sampler.ids,
        "returned": generated if numeric else None,
        "returned_shape": list(generated.shape),
        "returned_dtype": str(generated.dtype),
        "cell_steps": steps.count,
        "weights_changed": any(
            not np.array_equal(before, after) for before, after in zip(weights, model.get_weights())
        ),
    }


def _centred(logits):
    # log_softmax(logits) or logits - max(logits) sample the same ids as the logits: compare up to a constant.
    logits = np.asarray(logits, dtype=np.float64)
    return logits - np.mean(logits)


def _close_up_to_a_constant(a, b):
    return max_abs_diff(_centred(a), _centred(b)) <= 1e-3


def compare_generate(
    observed: Observations, expected: Expectation, vocab_size: int, start_length: int, length: int, seed: int
) -> str:
    """Fails on the loop's bookkeeping (weights, calls, cell steps, temperature, returned ids), then at the first draw whose
    logits differ from the model's for the text so far, naming the mistake whose logits they are."""
    if observed["weights_changed"]:
        fail("generate_ids changed the model's weights: only read them")
    logits = observed["logits"]
    if len(logits) != length:
        fail(
            f"sample_fn was called {len(logits)} times for length={length}: call it once for every character generated"
        )
    if observed["cell_steps"] > start_length + length:
        fail(
            f"the LSTM cell took {observed['cell_steps']} steps for a {start_length}-character start and {length} draws: one step "
            "per character is enough when the state is carried; do not recompute the text so far for every draw"
        )
    temperatures = observed["temperatures"]
    if not np.allclose(temperatures, GENERATION_TEMPERATURE, rtol=1e-6):
        fail(
            f"sample_fn got temperature {sorted(set(temperatures))}, not the temperature={GENERATION_TEMPERATURE} given: pass it through"
        )
    check_shape(f"generate_ids(..., length={length})", tuple(observed["returned_shape"]), (length,))
    generated = observed["returned"]
    if generated is None or not np.issubdtype(generated.dtype, np.integer):
        fail(f"generate_ids should return integer ids, got dtype {observed['returned_dtype']}")
    drawn = [int(i) for i in observed["drawn"]]
    if not np.array_equal(generated, drawn):
        fail(f"generate_ids should return the ids sample_fn drew, in order: {drawn}, got {generated.tolist()}")
    for t, got in enumerate(logits):
        wanted = expected["logits"][t]
        if np.shape(got) != np.shape(wanted):
            fail(
                f"sample_fn got logits of shape (1, {np.size(got)}) at draw {t}, not (1, vocab_size={vocab_size}): give it the Dense layer's output"
            )
        if not _close_up_to_a_constant(got, wanted):
            _explain_wrong_logits(t, got, wanted, expected)
    return (
        f"generate_ids reads a {start_length}-character start and draws {length} characters with the LSTM state carried"
    )


def _explain_wrong_logits(t, got, wanted, expected):
    """Names the mistake whose fingerprint (its logits at draw ``t``, from the expectation) the logits ``got`` match."""
    if _close_up_to_a_constant(got, expected["tempered"][t]):
        fail(
            "the logits given to sample_fn were already divided by the temperature: give the Dense layer's logits as they are, "
            "sample_fn divides them"
        )
    if max_abs_diff(got, expected["probabilities"][t]) <= 1e-4:
        fail("sample_fn got probabilities: give it the Dense layer's logits, before any softmax")
    alone = expected["last_character_alone"][t]  # the model's logits for the last character, from a zero state
    if t == 0 and _close_up_to_a_constant(got, alone):
        fail(
            "the first draw saw only the last character of the start text: feed every start character through the "
            "LSTM cell first, carrying the state, and sample from the logits after the last one"
        )
    if t == 0:
        fail(
            "the logits of the first draw differ from the model's after the start text: read the whole start text, "
            "one character at a time from a zero state, and apply the Dense layer to the LSTM's output (Dropout "
            "must drop nothing while generating: leave it out, or call it with training=False)"
        )
    if _close_up_to_a_constant(got, alone):
        fail(
            f"draw {t} saw only the previous character, from a fresh state: carry the state the cell returns "
            "into the next step instead of starting again from zeros"
        )
    fail(
        f"the logits of draw {t} differ from the model's for the text so far by {max_abs_diff(got, wanted):.3g} "
        "(draw 0 matched): feed each drawn id back in as the next input, with the state carried"
    )


check_generate = Check(probe_generate, compare_generate)


__all__ = [
    "CheckFailed",
    "check_answer",
    "check_answer_recorded",
    "batch_data",
    "check_build_model",
    "check_generate",
    "check_get_batch",
    "check_loss",
    "check_prediction",
    "check_sample_in_time",
    "check_sample_next",
    "check_train_step",
    "check_untrained_loss",
    "check_vectorize",
    "generation_inputs",
    "generation_model",
    "in_time_inputs",
    "loss_inputs",
    "sample_logits",
    "train_step_inputs",
    "vectorize_inputs",
]
