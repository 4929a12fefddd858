"""Lab 2 vocabulary: the round trip, saving, and clear messages for characters and ids it does not know."""

import numpy as np
import pytest

from course_utils.vocab import Vocabulary


def test_round_trip():
    text = "X:1\nM:6/8\nK:G\nABc d2e|"
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert vocab.chars == sorted(set(text)) and len(vocab) == len(set(text))
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


def test_save_and_load(tmp_path):
    vocab = Vocabulary.from_text("hello, world\n")
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").chars == vocab.chars


def test_unknown_characters_are_named():
    vocab = Vocabulary.from_text("ABC")
    with pytest.raises(
        ValueError,
        match=r"the start string has 2 character\(s\) not in the 3-character vocabulary: 'x', 'é' \(first at position 1\)",
    ):
        vocab.encode("AxéB", what="the start string")


def test_bad_ids_and_bad_vocabularies():
    vocab = Vocabulary.from_text("AB")
    with pytest.raises(ValueError, match=r"ids should lie in 0..1, got values from 0 to 5"):
        vocab.decode([0, 5])
    with pytest.raises(ValueError, match="each character once"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="single characters"):
        Vocabulary(["ab"])
