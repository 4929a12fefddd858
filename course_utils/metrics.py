"""Metrics that explain a classifier's mistakes, in numpy, and the plots that go with them.

Hand-written rather than taken from scikit-learn because scikit-learn is not one of the
course's dependencies and each of these is a few lines of numpy. What Lab 3 asks students
to write (the macro recall, balanced class weights) is deliberately not here: nothing a
student can import is an exercise's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> np.ndarray:
    """Counts, shape (num_classes, num_classes): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64).ravel(), np.asarray(y_pred, dtype=np.int64).ravel()
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_recall(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> np.ndarray:
    """Recall of each class: the share of its tweets predicted as it; NaN for a class absent from y_true."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)


def plot_confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Confusion matrix normalised by row (each row: where that class's tweets went), with the counts."""
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{shares[i, j]:.0%}\n({count})",
            ha="center",
            va="center",
            color="white" if shares[i, j] > 0.5 else "black",
        )
    ticks = np.arange(len(class_names))
    ax.set(
        xticks=ticks, yticks=ticks, xticklabels=class_names, yticklabels=class_names, xlabel="predicted", ylabel="true"
    )
    ax.set_title(title or "Confusion matrix (row-normalised)")
    return ax
