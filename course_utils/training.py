"""Training helpers for character models: validation loss in nats and bits per character, a live loss plot, checkpoints."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras
    from numpy.typing import ArrayLike

    from course_utils.vocab import Vocabulary


def bits_per_char(nats: float) -> float:
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

    def __init__(self, model: keras.Model, sequences: Iterable[ArrayLike], batch_size: int = 32):
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

    def __call__(self) -> float:
        return sum(float(self._summed_loss(x, y, mask)) for x, y, mask in self.batches) / self.num_predicted


class LiveLossPlot:
    """Train and validation loss curves, redrawn in place in a notebook (printed as text elsewhere).

    ``add(name, step, value)`` records a point; ``show()`` redraws; ``figure`` is the matplotlib figure.
    """

    def __init__(self, title: str = "Loss (nats per character)"):
        import matplotlib.pyplot as plt

        self.curves = {}
        self.figure, self.ax = plt.subplots(figsize=(7, 3.5))
        self.title = title
        plt.close(self.figure)  # shown through the display handle below, not again at the end of the cell
        self._handle = None

    def add(self, name: str, step: int, value: float) -> None:
        steps, values = self.curves.setdefault(name, ([], []))
        steps.append(step)
        values.append(float(value))

    def show(self) -> None:
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


class TrainingCheckpoint:
    """A training run's state on disk, so that a run cut off (a Colab runtime that disconnects) resumes where it stopped.

    ``save(step, ...)`` writes into ``folder``: the current weights, the optimizer's state, the best weights so far, and
    ``state.json`` (the step, the best validation loss and its step, the loss curves, the batch generator's state, the
    seconds trained and the settings). Written by hand rather than with ``tf.train.CheckpointManager`` because a Keras 3
    optimizer builds its variables on its first step, after a restore would have run; ``optimizer.build`` and
    ``optimizer.variables`` (public API) restore it exactly. Each file is written under a temporary name and then
    renamed, so a cut in the middle of a save leaves the previous one whole.

    Args:
        folder: where to keep the checkpoint, e.g. ``OUTPUT_DIR / "checkpoint"`` (point ``LAB_OUTPUT_DIR`` at Google Drive
            and it survives the runtime).
        model: the model being trained.
        optimizer: its optimizer.
        settings: a JSON-able dict of what defines the run (sizes, steps, ...); a checkpoint made with other settings
            is not resumed.

    Example:

    >>> checkpoint = TrainingCheckpoint(OUTPUT_DIR / "checkpoint", model, optimizer, settings)
    >>> first_step = checkpoint.restore(batch_rng, plot)  # 1 on a fresh start
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        settings: dict[str, Any],
    ):
        self.folder, self.model, self.optimizer, self.settings = Path(folder), model, optimizer, settings
        self.best_loss, self.best_step, self.seconds = float("inf"), 0, 0.0

    def _write(self, name, write):
        temporary = self.folder / f"partial-{name}"
        write(temporary)
        os.replace(temporary, self.folder / name)

    def save(self, step: int, batch_rng: np.random.Generator, plot: LiveLossPlot, seconds: float) -> None:
        """Saves the state after ``step``; ``seconds``: trained in this session so far (``self.seconds`` holds the earlier sessions')."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write("current.weights.h5", self.model.save_weights)
        self._write("optimizer.npz", self._save_optimizer)
        state = {
            "step": step,
            "best_loss": self.best_loss,
            "best_step": self.best_step,
            "seconds": self.seconds + seconds,
            "curves": plot.curves,
            "batch_rng": batch_rng.bit_generator.state,
            "settings": self.settings,
        }
        self._write("state.json", lambda path: Path(path).write_text(json.dumps(state)))

    def _save_optimizer(self, path):
        with open(path, "wb") as file:  # a file object: np.savez would add ".npz" to a name
            np.savez(file, *[variable.numpy() for variable in self.optimizer.variables])

    def keep_best(self, loss: float, step: int) -> None:
        """Records a new best validation loss and saves the weights that reached it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.best_loss, self.best_step = float(loss), step
        self._write("best.weights.h5", self.model.save_weights)

    def restore(self, batch_rng: np.random.Generator, plot: LiveLossPlot) -> int:
        """Resumes a saved run with the same settings: weights, optimizer, batch generator and curves come back.

        Returns the first step still to train: 1 when there is nothing to resume.
        """
        if not (self.folder / "state.json").is_file():
            return 1
        state = json.loads((self.folder / "state.json").read_text())
        if state["settings"] != self.settings:
            changed = sorted(
                k for k in {**state["settings"], **self.settings} if state["settings"].get(k) != self.settings.get(k)
            )
            print(
                f"not resuming the checkpoint in {self.folder}: it was made with other settings ({', '.join(changed)}); starting afresh"
            )
            return 1
        try:
            self.model.load_weights(self.folder / "current.weights.h5")
            self.optimizer.build(self.model.trainable_variables)
            with np.load(self.folder / "optimizer.npz") as saved:
                values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            if len(values) != len(self.optimizer.variables):
                raise ValueError(
                    f"{len(values)} optimizer variables saved, {len(self.optimizer.variables)} in this optimizer"
                )
            for variable, value in zip(self.optimizer.variables, values):
                variable.assign(value)
        except (ValueError, OSError) as error:
            raise ValueError(
                f"the checkpoint in {self.folder} does not fit this model ({error}); "
                f"delete that folder (or set START_FRESH = True) to train from scratch"
            ) from error
        self.best_loss, self.best_step, self.seconds = state["best_loss"], state["best_step"], state["seconds"]
        batch_rng.bit_generator.state = state["batch_rng"]
        plot.curves = {name: tuple(points) for name, points in state["curves"].items()}
        print(
            f"resumed from the checkpoint in {self.folder}: {state['step']} steps done, best validation loss "
            f"{self.best_loss:.3f} at step {self.best_step}"
        )
        return state["step"] + 1

    def load_best(self) -> None:
        """Gives the model the weights with the best validation loss (those it has, when none was kept)."""
        if (self.folder / "best.weights.h5").is_file():
            self.model.load_weights(self.folder / "best.weights.h5")


def save_char_model(model: keras.Model, vocab: Vocabulary, folder: str | os.PathLike[str]) -> Path:
    """Saves ``folder/model.keras`` (ids (batch, time) -> logits (batch, time, vocab)) and ``folder/vocab.json``."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    vocab.save(folder / "vocab.json")
    return folder


def load_char_model(folder: str | os.PathLike[str]) -> tuple[keras.Model, Vocabulary]:
    """Reloads what :func:`save_char_model` wrote and checks that they fit together.

    Returns ``(model, vocab)``; raises ``FileNotFoundError`` or ``ValueError`` saying what is missing or wrong.
    """
    from pathlib import Path

    import keras

    from course_utils.vocab import Vocabulary

    folder = Path(folder)
    for name in ("model.keras", "vocab.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing: save the model and vocabulary with save_char_model first"
            )
    model = keras.models.load_model(folder / "model.keras")
    vocab = Vocabulary.load(folder / "vocab.json")
    logits = model(np.zeros((1, 3), dtype=np.int32))
    if tuple(logits.shape) != (1, 3, len(vocab)):
        raise ValueError(
            f"the model maps ids of shape (1, 3) to {tuple(logits.shape)}, not to logits (1, 3, {len(vocab)}) "
            f"over the {len(vocab)} characters of vocab.json: the two files do not belong together"
        )
    return model, vocab
