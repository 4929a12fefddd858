"""Training helpers for character models: validation loss in nats and bits per character, a live loss plot."""
import math

import numpy as np


def bits_per_char(nats):
    """Converts a loss in nats per character to bits per character."""
    return nats / math.log(2)


class LossEvaluator:
    """Mean cross-entropy (nats per character) of a model on held-out sequences, e.g. whole tunes.

    Each sequence is read from a zero state, as the model starts when it composes, and every character
    after its first is predicted once; the mean is over all those characters. Sequences are padded to
    the longest of their batch and the padding is masked out. The forward pass is compiled once, so
    calling the evaluator during training is cheap.

    Args:
        model: ids (batch, time) -> logits (batch, time, vocab).
        sequences: list of 1-D int arrays (each at least 2 ids long).
        batch_size: sequences per forward pass.

    Call ``evaluator()`` for the current weights of ``model``.
    """

    def __init__(self, model, sequences, batch_size=32):
        import tensorflow as tf

        sequences = sorted((np.asarray(s) for s in sequences), key=len)  # similar lengths share a batch: less padding
        if not sequences or len(sequences[0]) < 2:
            raise ValueError("LossEvaluator needs at least one sequence, each of two or more ids")
        self.batches = []
        for i in range(0, len(sequences), batch_size):
            group = sequences[i : i + batch_size]
            width = max(len(s) for s in group)
            ids = np.zeros((len(group), width), dtype=np.int32)
            mask = np.zeros((len(group), width - 1), dtype=np.float32)
            for row, s in enumerate(group):
                ids[row, : len(s)] = s
                mask[row, : len(s) - 1] = 1.0
            self.batches.append((ids[:, :-1], ids[:, 1:], mask))
        self.num_predicted = sum(float(mask.sum()) for _, _, mask in self.batches)

        @tf.function(reduce_retracing=True)
        def summed_loss(x, y, mask):
            logits = model(x, training=False)
            return tf.reduce_sum(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True) * mask)

        self._summed_loss = summed_loss

    def __call__(self):
        return sum(float(self._summed_loss(x, y, mask)) for x, y, mask in self.batches) / self.num_predicted


class LiveLossPlot:
    """Train and validation loss curves, redrawn in place in a notebook (printed as text elsewhere).

    ``add(name, step, value)`` records a point; ``show()`` redraws; ``figure`` is the matplotlib figure.
    """

    def __init__(self, title="Loss (nats per character)"):
        import matplotlib.pyplot as plt

        self.curves = {}
        self.figure, self.ax = plt.subplots(figsize=(7, 3.5))
        self.title = title
        plt.close(self.figure)  # shown through the display handle below, not again at the end of the cell
        self._handle = None

    def add(self, name, step, value):
        steps, values = self.curves.setdefault(name, ([], []))
        steps.append(step)
        values.append(float(value))

    def show(self):
        from IPython.display import display

        self.ax.clear()
        for name, (steps, values) in self.curves.items():
            style = "-" if len(steps) > 20 else "o-"
            self.ax.plot(steps, values, style, label=name, alpha=0.8 if name == "train" else 1.0)
        self.ax.set(xlabel="training step", ylabel="nats / char", title=self.title)
        self.ax.legend()
        if self._handle is None:
            self._handle = display(self.figure, display_id=True)
        elif self._handle is not None:
            self._handle.update(self.figure)


def save_char_model(model, vocab, folder):
    """Saves ``folder/model.keras`` (ids (batch, time) -> logits (batch, time, vocab)) and ``folder/vocab.json``."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    vocab.save(folder / "vocab.json")
    return folder


def load_char_model(folder):
    """Reloads what :func:`save_char_model` wrote and checks that they fit together.

    Returns ``(model, vocab)``; raises ``FileNotFoundError`` or ``ValueError`` saying what is missing or wrong.
    """
    from pathlib import Path

    import keras

    from course_utils.vocab import Vocabulary

    folder = Path(folder)
    for name in ("model.keras", "vocab.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing: save the model and vocabulary with save_char_model first")
    model = keras.models.load_model(folder / "model.keras")
    vocab = Vocabulary.load(folder / "vocab.json")
    logits = model(np.zeros((1, 3), dtype=np.int32))
    if tuple(logits.shape) != (1, 3, len(vocab)):
        raise ValueError(
            f"the model maps ids of shape (1, 3) to {tuple(logits.shape)}, not to logits (1, 3, {len(vocab)}) "
            f"over the {len(vocab)} characters of vocab.json: the two files do not belong together"
        )
    return model, vocab
