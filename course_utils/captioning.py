"""Lab 5's helpers around the captioner: caption words to ids and back, scoring captions, and attention maps.

None of this is an exercise: the students write the encoder, the attention, the decoder's step, the loss and greedy
decoding; this module turns words into ids, scores what their model wrote (BLEU with NLTK's implementation, exact
match, and truth with :func:`course_utils.scenes.caption_truth`) and draws where it looked.

Example:
    >>> from course_utils import captioning, scenes
    >>> data = scenes.make_examples(4, "val")
    >>> ids = captioning.encode_captions([refs[0] for refs in data.references])   # (4, MAX_CAPTION_LENGTH) int32
    >>> captioning.decode_ids(ids)[0] == data.references[0][0]
    True
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils import scenes

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

PAD, START, END = "<pad>", "<start>", "<end>"
WORDS = (PAD, START, END, *scenes.VOCABULARY)  # id i stands for WORDS[i]; padding is 0
PAD_ID, START_ID, END_ID = 0, 1, 2
WORD_IDS = {word: i for i, word in enumerate(WORDS)}
# Where Lab 5 puts the SavedModel inside its output folder, and the description next to it.
SAVED_MODEL = "captioner"
DESCRIPTION = "captioner.json"
# The longest reference: every object named in full (4 words), joined by two-word relations; plus the end token.
MAX_CAPTION_LENGTH = 4 * scenes.MAX_OBJECTS + 2 * (scenes.MAX_OBJECTS - 1) + 1


def encode_captions(captions: Sequence[str], length: int = MAX_CAPTION_LENGTH) -> np.ndarray:
    """Captions as word ids, each followed by ``END_ID`` and padded with ``PAD_ID``: int32, shape ``(n, length)``.

    Raises:
        ValueError: a caption has a word outside ``WORDS``, or is too long for ``length`` with its end token.
    """
    ids = np.zeros((len(captions), length), np.int32)
    for row, caption in enumerate(captions):
        words = caption.split()
        unknown = [word for word in words if word not in WORD_IDS or word in (PAD, START, END)]
        if unknown:
            raise ValueError(f"caption {row} ({caption!r}) has words outside the vocabulary: {unknown}")
        if len(words) + 1 > length:
            raise ValueError(f"caption {row} has {len(words)} words: with its end token it needs length > {length}")
        ids[row, : len(words) + 1] = [WORD_IDS[word] for word in words] + [END_ID]
    return ids


def decode_ids(ids: ArrayLike) -> list[str]:
    """Rows of word ids to captions: each row read up to its first ``END_ID`` (or its end), padding and start left out."""
    captions = []
    for row in np.asarray(ids).reshape(len(ids), -1).tolist():
        words = []
        for i in row:
            if i == END_ID:
                break
            if not 0 <= i < len(WORDS):
                raise ValueError(f"word id {i} is outside 0..{len(WORDS) - 1}")
            if i not in (PAD_ID, START_ID):
                words.append(WORDS[i])
        captions.append(" ".join(words))
    return captions


def bleu4(captions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU-4 of the captions against their references (NLTK's ``corpus_bleu``, uniform weights, no smoothing).

    Args:
        captions: one caption for each image.
        references: the reference captions of each image.
    """
    from nltk.translate.bleu_score import corpus_bleu

    if len(captions) != len(references):
        raise ValueError(f"{len(captions)} captions but references for {len(references)} images")
    with warnings.catch_warnings():  # NLTK warns when no 4-gram matches: the score is then 0, which says it
        warnings.simplefilter("ignore", UserWarning)
        return float(
            corpus_bleu([[r.split() for r in refs] for refs in references], [caption.split() for caption in captions])
        )


def sentence_bleu4(caption: str, references: Sequence[str]) -> float:
    """BLEU-4 of one caption (NLTK's ``sentence_bleu`` with its smoothing method 1, so that short captions score)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    return float(
        sentence_bleu([r.split() for r in references], caption.split(), smoothing_function=SmoothingFunction().method1)
    )


def score_captions(captions: Sequence[str], examples: scenes.Examples) -> dict[str | int, dict[str, float | int]]:
    """Scores the captions of ``examples``' images, by number of objects and over all (key ``'all'``).

    Each row: ``images``; ``fully_true`` (share of captions that are :attr:`~course_utils.scenes.CaptionTruth.fully_true`);
    ``precision`` (mean share of stated facts that hold); ``recall`` (mean share of objects named); ``exact_match``
    (share equal to one of the references); ``bleu4`` (corpus BLEU-4, :func:`bleu4`).
    """
    if len(captions) != len(examples.scenes):
        raise ValueError(f"{len(captions)} captions for {len(examples.scenes)} images")
    truths = [scenes.caption_truth(c, s) for c, s in zip(captions, examples.scenes, strict=True)]
    groups: dict[str | int, list[int]] = {"all": list(range(len(captions)))}
    for i, scene in enumerate(examples.scenes):
        groups.setdefault(len(scene.objects), []).append(i)
    table = {}
    for key in sorted(groups, key=lambda k: (k == "all", k if isinstance(k, int) else 0)):
        rows = groups[key]
        table[key] = {
            "images": len(rows),
            "fully_true": float(np.mean([truths[i].fully_true for i in rows])),
            "precision": float(np.mean([truths[i].precision for i in rows])),
            "recall": float(np.mean([truths[i].recall for i in rows])),
            "exact_match": float(np.mean([captions[i] in examples.references[i] for i in rows])),
            "bleu4": bleu4([captions[i] for i in rows], [examples.references[i] for i in rows]),
        }
    return table


def format_scores(tables: dict[str, dict[str | int, dict[str, float | int]]]) -> str:
    """Several :func:`score_captions` tables (by name) as one text table, a row for each name and number of objects."""
    lines = [
        f"{'':<24}{'objects':>8}{'images':>8}{'fully true':>12}{'precision':>11}{'recall':>8}{'exact':>8}{'BLEU-4':>8}"
    ]
    for name, table in tables.items():
        for key, row in table.items():
            lines.append(
                f"{name:<24}{key!s:>8}{row['images']:>8}{row['fully_true']:>12.1%}{row['precision']:>11.1%}"
                f"{row['recall']:>8.1%}{row['exact_match']:>8.1%}{row['bleu4']:>8.3f}"
            )
    return "\n".join(lines)


def plot_attention(image: np.ndarray, words: Sequence[str], weights: ArrayLike, columns: int = 6) -> Figure:
    """The image once for each generated word, shaded by where the model looked to write it.

    Args:
        image: uint8, ``(height, width, 3)``.
        words: the generated words (and the end token if you like), one for each row of ``weights``.
        weights: attention weights, ``(len(words), grid_height * grid_width)`` (a square grid, row by row).
        columns: images per row of the figure.
    """
    import matplotlib.pyplot as plt

    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or len(weights) != len(words):
        raise ValueError(f"weights should be (len(words), grid cells) = ({len(words)}, L); got shape {weights.shape}")
    side = int(round(np.sqrt(weights.shape[1])))
    if side * side != weights.shape[1]:
        raise ValueError(f"{weights.shape[1]} grid cells do not make a square grid")
    rows = -(-len(words) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.1 * rows), squeeze=False)
    height, width = image.shape[:2]
    for ax, word, w in zip(axes.flat, words, weights, strict=False):
        # Each grid cell's weight, relative to the largest, spread over the pixels it covers; dark where it did not look.
        cells = w.reshape(side, side) / max(w.max(), 1e-12)
        shade = np.repeat(np.repeat(cells, -(-height // side), 0), -(-width // side), 1)[:height, :width]
        ax.imshow((image * (0.15 + 0.85 * shade[..., None])).astype(np.uint8))
        ax.set_title(word, fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


class SavedCaptioner:
    """A loaded Lab 5 model: call it with a batch of images.

    Args:
        saved_model: the object ``tf.saved_model.load`` returned; its ``caption`` endpoint maps uint8 images
            (N, IMAGE_SIZE, IMAGE_SIZE, 3) to N strings.
        description: the saved ``captioner.json``: what the model was trained on and how it scored.

    Call arguments:
        images: uint8 array (N, IMAGE_SIZE, IMAGE_SIZE, 3), e.g. ``scenes.make_examples(...).images``; one image
            (H, W, 3) is taken as a batch of one.

    Returns:
        list of N captions (str).
    """

    def __init__(self, saved_model: Any, description: dict[str, Any]):
        self._saved_model = saved_model
        self.description = description

    def __call__(self, images: ArrayLike) -> list[str]:
        import tensorflow as tf

        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        size = scenes.IMAGE_SIZE
        if images.ndim != 4 or images.shape[1:] != (size, size, 3):
            raise ValueError(
                f"images should be (N, {size}, {size}, 3), as scenes.render makes them; got shape {images.shape}"
            )
        if images.dtype != np.uint8:
            raise TypeError(f"images should be uint8 (0-255), as scenes.render makes them; got {images.dtype}")
        if not len(images):
            return []
        return [text.decode("utf-8") for text in self._saved_model.caption(tf.constant(images)).numpy()]

    def __repr__(self) -> str:
        return f"SavedCaptioner(trained_on={self.description.get('trained_on')!r})"


def load_captioner(path: str | os.PathLike[str]) -> SavedCaptioner:
    """Loads the captioner that Lab 5 saved under ``path``, with TensorFlow alone.

    Args:
        path: Lab 5's output folder (``"artifacts/lab5"``), or the SavedModel folder inside it.

    Returns:
        a :class:`SavedCaptioner`: ``load_captioner("artifacts/lab5")(images)`` -> captions.

    Raises:
        FileNotFoundError: nothing Lab 5 saved is there; the message says what to run.
    """
    import tensorflow as tf

    path = Path(path)
    folder = path if (path / "saved_model.pb").is_file() else path / SAVED_MODEL
    if not (folder / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"no saved captioner in {path}: run Lab 5 to the end (its last part saves {SAVED_MODEL}/ in the lab's output "
            "folder, artifacts/lab5 unless LAB_OUTPUT_DIR is set) and pass that folder"
        )
    description_file = folder.parent / DESCRIPTION
    description = json.loads(description_file.read_text()) if description_file.is_file() else {}
    return SavedCaptioner(tf.saved_model.load(str(folder)), description)


__all__ = [
    "DESCRIPTION",
    "SAVED_MODEL",
    "SavedCaptioner",
    "load_captioner",
    "END",
    "END_ID",
    "MAX_CAPTION_LENGTH",
    "PAD",
    "PAD_ID",
    "START",
    "START_ID",
    "WORDS",
    "WORD_IDS",
    "bleu4",
    "decode_ids",
    "encode_captions",
    "format_scores",
    "plot_attention",
    "score_captions",
    "sentence_bleu4",
]
