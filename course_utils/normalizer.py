"""Loading Lab 4's saved normaliser: spoken forms in, written forms out, with TensorFlow alone.

Lab 4 saves its final model as a TensorFlow SavedModel (``keras.export.ExportArchive``): the
student's encoder, attention, decoder and greedy and beam-search decoding, traced into graphs
together with the character lookup tables. Loading it needs no Python class from the notebook::

    normalize = course_utils.load_normalizer("artifacts/lab4")
    normalize(["the twenty-first of november twenty twenty-six"])   # ['2026-11-21']
    normalize(["zweiundvierzig"], beam_width=3)                       # ['42']

Inputs are standardised first, as the training data was (lower case, punctuation to spaces).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Where Lab 4 puts the SavedModel inside its output folder, and the description next to it.
SAVED_MODEL = "normalizer"
DESCRIPTION = "normalizer.json"


class Normalizer:
    """A loaded Lab 4 model: call it with a list of spoken forms.

    Args:
        saved_model: the object ``tf.saved_model.load`` returned; it has a ``greedy`` endpoint (strings -> strings)
            and a ``beam_<k>`` endpoint (one string -> one string) for each beam width it was saved with.
        description: the saved ``normalizer.json``: the beam widths and what the model was trained on.

    Call arguments:
        texts: a list (or tuple) of spoken-form strings.
        beam_width: 1 (default) decodes greedily, in one batch; a larger width runs beam search on each text.

    Returns:
        list of written forms (str), one for each text.
    """

    def __init__(self, saved_model: Any, description: dict[str, Any]):
        self._saved_model = saved_model
        self.description = description
        self.beam_widths = tuple(description.get("beam_widths", ()))

    def __call__(self, texts: list[str] | tuple[str, ...], beam_width: int = 1) -> list[str]:
        import tensorflow as tf

        from course_utils.normalization import standardize_spoken

        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise TypeError(
                f"texts should be a list of strings, e.g. normalize(['forty two']); got {type(texts).__name__}"
            )
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("texts should be a list of strings; one of them is not a str")
        texts = [standardize_spoken(text) for text in texts]
        if not texts:
            return []
        if beam_width == 1:
            written = self._saved_model.greedy(tf.constant(texts))
            return [value.decode("utf-8") for value in written.numpy()]
        if beam_width not in self.beam_widths:
            raise ValueError(
                f"beam_width={beam_width!r}: this model was saved with beam widths {self.beam_widths} (and 1, greedy)"
            )
        decode = getattr(self._saved_model, f"beam_{beam_width}")
        return [decode(tf.constant(text)).numpy().decode("utf-8") for text in texts]

    def __repr__(self) -> str:
        return f"Normalizer(beam_widths={self.beam_widths}, trained_on={self.description.get('trained_on')!r})"


def load_normalizer(path: str | os.PathLike[str]) -> Normalizer:
    """Loads the normaliser that Lab 4 saved under ``path``.

    Args:
        path: Lab 4's output folder (``"artifacts/lab4"``), or the SavedModel folder inside it.

    Returns:
        a :class:`Normalizer`.

    Raises:
        FileNotFoundError: nothing Lab 4 saved is there; the message says what to run.
    """
    import tensorflow as tf

    path = Path(path)
    folder = path if (path / "saved_model.pb").is_file() else path / SAVED_MODEL
    if not (folder / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"no saved normaliser in {path}: run Lab 4 to the end (its last part saves {SAVED_MODEL}/ in the lab's output "
            "folder, artifacts/lab4 unless LAB_OUTPUT_DIR is set) and pass that folder"
        )
    description_file = folder.parent / DESCRIPTION
    description = json.loads(description_file.read_text()) if description_file.is_file() else {}
    return Normalizer(tf.saved_model.load(str(folder)), description)


__all__ = ["DESCRIPTION", "Normalizer", "SAVED_MODEL", "load_normalizer"]
