"""Fast text generation from a character-level model: compiled, stateful one step at a time, batched.

A trained model maps ids ``(batch, time)`` to logits ``(batch, time, vocab)`` and is stateless:
every call starts from a zero state. Generating by re-running it over the whole text so far costs
O(n^2); feeding one character at a time from eager Python costs a few milliseconds of overhead per
character. :class:`CharSampler` instead takes the model's own layers apart (embedding, the cell of
each recurrent layer, the output layer), advances the cells one step at a time with their state
carried, and runs the whole loop inside one ``tf.function``, for many sequences at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from course_utils.rhythm import BarConstraint
    from course_utils.vocab import Vocabulary


class CharSampler:
    """Samples continuations of a start text from a stateless Embedding -> RNN(s) -> Dense model.

    Args:
        model: a keras model whose layers, applied in order to ids (batch, time), give logits; recurrent
            layers (``keras.layers.RNN`` and subclasses such as ``LSTM``) must use ``return_sequences=True``.
        sample_fn: the sampling step ``(logits (batch, vocab), temperature) -> ids (batch,)``: Lab 2's
            ``sample_next``, which students write (the course ships none); it runs inside ``tf.function``,
            so it must use TensorFlow ops.
        constraint: a :class:`course_utils.rhythm.BarConstraint` for this vocabulary, to generate under it: every
            step then calls ``sample_fn(logits, temperature, fill, closes)`` (Lab 2's ``sample_in_time``) with what
            the constraint says of each character (``fill``, ``closes``: ``(batch, vocab)``).

    Call ``sampler(start_ids, length, num_samples, temperature)``: returns an int32 numpy array
    ``(num_samples, length)`` of generated ids (the start text is not repeated), every sequence
    starting from a zero state.
    """

    def __init__(
        self, model: keras.Model, sample_fn: Callable[..., tf.Tensor], constraint: BarConstraint | None = None
    ):
        if not callable(sample_fn):
            raise TypeError(
                f"sample_fn should be your sampling function sample_next(logits, temperature), got {type(sample_fn).__name__}"
            )
        self.layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        self.cells = [layer.cell for layer in self.layers if isinstance(layer, keras.layers.RNN)]
        if not self.cells:
            raise ValueError("the model has no recurrent layer: CharSampler expects Embedding -> LSTM -> Dense")
        self.sample_fn = sample_fn
        self.vocab_size = model.output_shape[-1]
        self.constraint = constraint
        if constraint is not None and len(constraint.chars) != self.vocab_size:
            raise ValueError(
                f"the constraint reads {len(constraint.chars)} characters but the model has {self.vocab_size} outputs: "
                "make it with BarConstraint(vocab.chars) for the model's vocabulary"
            )
        self._generate = tf.function(
            self._loop,
            input_signature=[
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
            ],
        )

    def step(self, ids: tf.Tensor, states: list[list[tf.Tensor]]) -> tuple[tf.Tensor, list[list[tf.Tensor]]]:
        """Advances every layer by one character: ids (batch,) -> logits (batch, vocab), new states."""
        x, new_states, k = ids, [], 0
        for layer in self.layers:
            if isinstance(layer, keras.layers.RNN):
                x, state = layer.cell(x, states[k])
                new_states.append(list(state))
                k += 1
            else:
                x = layer(x)
        return x, new_states

    def zero_states(self, batch: int | tf.Tensor) -> list[list[tf.Tensor]]:
        return [[tf.zeros([batch, size]) for size in np.ravel(cell.state_size)] for cell in self.cells]

    def _loop(self, start_ids, length, num_samples, temperature):
        states = self.zero_states(num_samples)
        logits = tf.zeros([num_samples, self.vocab_size])
        for i in tf.range(tf.shape(start_ids)[0]):  # read the start text; keep the state it leaves
            logits, states = self.step(tf.fill([num_samples], start_ids[i]), states)
        generated = tf.TensorArray(tf.int32, size=length)
        if self.constraint is None:
            for i in tf.range(length):
                ids = tf.cast(self.sample_fn(logits, temperature), tf.int32)
                generated = generated.write(i, ids)
                logits, states = self.step(ids, states)
            return tf.transpose(generated.stack())
        fill, closes = self._constrained(self.constraint.current, num_samples)  # the constraint has read the start
        for i in tf.range(length):
            ids = tf.cast(self.sample_fn(logits, temperature, fill, closes), tf.int32)
            generated = generated.write(i, ids)
            logits, states = self.step(ids, states)
            fill, closes = self._constrained(self.constraint.advance, ids)
        return tf.transpose(generated.stack())

    def _constrained(self, method: Callable[[Any], tuple[np.ndarray, np.ndarray]], argument: tf.Tensor):
        """(fill, closes) from the constraint, a Python object, called from inside the compiled loop."""
        fill, closes = tf.numpy_function(method, [argument], [tf.float32, tf.bool], stateful=True)
        fill.set_shape([None, self.vocab_size])
        closes.set_shape([None, self.vocab_size])
        return fill, closes

    def __call__(self, start_ids: ArrayLike, length: int, num_samples: int = 1, temperature: float = 1.0) -> np.ndarray:
        start_ids = np.asarray(start_ids, dtype=np.int32).reshape(-1)
        if start_ids.size == 0:
            raise ValueError("the start text is empty: give at least one character, e.g. 'X:'")
        if int(length) < 1:
            raise ValueError(f"length should be at least 1 character to generate, got {length}")
        if int(num_samples) < 1:
            raise ValueError(f"num_samples should be at least 1, got {num_samples}")
        if not float(temperature) > 0:
            raise ValueError(f"temperature should be positive, got {temperature}")
        if self.constraint is not None:
            self.constraint.reset("".join(self.constraint.chars[i] for i in start_ids), int(num_samples))
        return self._generate(
            tf.constant(start_ids),
            tf.constant(int(length)),
            tf.constant(int(num_samples)),
            tf.constant(float(temperature)),
        ).numpy()


def generate_text(
    model: keras.Model,
    vocab: Vocabulary,
    start: str = "X:1\n",
    length: int = 1000,
    num_samples: int = 1,
    temperature: float = 1.0,
    sample_fn: Callable[..., tf.Tensor] | None = None,
    sampler: CharSampler | None = None,
) -> list[str]:
    """``num_samples`` texts, each ``start`` followed by ``length`` generated characters.

    Give the sampling step ``sample_fn`` (your ``sample_next``), or a ``sampler`` (a :class:`CharSampler`)
    to reuse its compiled loop across calls. Characters of ``start`` outside ``vocab`` raise
    ``ValueError`` naming them.
    """
    if sampler is None and sample_fn is None:
        raise ValueError("generate_text needs sample_fn=your sample_next, or sampler=CharSampler(model, sample_next)")
    start_ids = vocab.encode(start, what="the start string")
    sampler = sampler or CharSampler(model, sample_fn)
    return [start + vocab.decode(row) for row in sampler(start_ids, length, num_samples, temperature)]
