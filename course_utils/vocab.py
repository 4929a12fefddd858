"""A character vocabulary: characters to integer ids and back, saved as JSON (Lab 2)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


class Vocabulary:
    """The characters a model knows, in index order: id ``i`` stands for ``chars[i]``.

    Example:
        >>> vocab = Vocabulary.from_text("abca")
        >>> vocab.encode("cab")          # array([2, 0, 1], dtype=int32)
        >>> vocab.decode([2, 0, 1])      # 'cab'
    """

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("a vocabulary is a non-empty list of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("a vocabulary lists each character once")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> Self:
        """The sorted set of characters of ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The characters of ``text`` that are not in the vocabulary, sorted."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text: str, what: str = "the text") -> np.ndarray:
        """``text`` as an int32 array of shape ``(len(text),)``; unknown characters raise ``ValueError``."""
        missing = self.unknown(text)
        if missing:
            where = text.index(missing[0])
            raise ValueError(
                f"{what} has {len(missing)} character(s) not in the {len(self)}-character vocabulary: "
                f"{', '.join(map(repr, missing))} (first at position {where}); use only characters the model was trained on"
            )
        return np.fromiter((self.index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids: ArrayLike) -> str:
        """The string for a 1-D sequence of ids."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids should lie in 0..{len(self) - 1}, got values from {ids.min()} to {ids.max()}")
        return "".join(self.chars[i] for i in ids.tolist())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the characters, in index order, as a JSON list."""
        Path(path).write_text(json.dumps(self.chars, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        return cls(json.loads(Path(path).read_text()))
