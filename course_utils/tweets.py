"""Loads tweet-sentiment data in the TweetEval format (Barbieri et al., 2020).

A data folder holds ``{split}_text.txt`` (one tweet a line), ``{split}_labels.txt`` (one
integer label a line) and ``mapping.txt`` (``0<TAB>negative`` ...). The folder is, first
found: the ``data_dir`` argument, the ``TWEETS_DIR`` environment variable, or a copy of the
official TweetEval sentiment files downloaded once into a user cache folder
(``$XDG_CACHE_HOME/rnn-course/tweeteval-sentiment``, by default under ``~/.cache``) from
``$TWEETS_URL`` (by default TweetEval's GitHub repository; a mirror works too).

The download is of one commit of TweetEval's repository, :data:`TWEETEVAL_COMMIT`, so every student gets the same
tweets, and each file is verified by its git blob id at that commit (:data:`TWEETEVAL_BLOBS`, the ids
``git ls-tree -l COMMIT datasets/sentiment/`` lists, which anyone can check). The blob id, not a sha256 passed to
``keras.utils.get_file``, because it is known for all seven files (the sha256 of ``train_text.txt`` is not recorded
here) and one rule for every file is simpler to trust than two. A folder of one's own (``data_dir``, ``TWEETS_DIR``) is
never checked against these ids: it may hold other tweets in the same format.

Reading a folder needs numpy only; Keras is imported when a download is needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from course_utils.startup_noise import quiet_tensorflow_start

SPLITS = ("train", "val", "test")
REQUIRED_SPLITS = ("train", "val")  # Lab 3 reports on test only when the folder has it
TWEETEVAL_COMMIT = "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66"  # the sentiment files last changed in 3eb5e91d
TWEETEVAL_URL = f"https://raw.githubusercontent.com/cardiffnlp/tweeteval/{TWEETEVAL_COMMIT}/datasets/sentiment/"
# Each file's git blob id at TWEETEVAL_COMMIT: sha1 of b"blob <size>\0" + its bytes.
TWEETEVAL_BLOBS = {
    "mapping.txt": "e98272f57db16af409fee64d9efccf5116e1ec27",
    "train_text.txt": "a2c955f25c9c75a51680b5ce8e75e6c63ca835e1",
    "train_labels.txt": "d0d28cb9b5a64abecfe97c06c826f70305556e9a",
    "val_text.txt": "b608664639361a9f8da99a882472af44f0330c89",
    "val_labels.txt": "fd86539deb0d094782a1efed6dd06416fac75566",
    "test_text.txt": "95fe0b5fdfaba658fca9e4d85ab9e5224bc67bbe",
    "test_labels.txt": "e3cf7395a85ad38caf6b53cfdeeefd7fbf2dcc48",
}
FILES = list(TWEETEVAL_BLOBS)
DOWNLOAD_TIMEOUT_S = 30  # seconds without a byte from the server before a download fails
HOW_TO_PROVIDE = (
    "set the environment variable TWEETS_DIR to a folder of TweetEval sentiment files (mapping.txt, and SPLIT_text.txt "
    "and SPLIT_labels.txt for SPLIT train, val and test), or connect to the internet so they can be downloaded"
)


class TweetDataError(ValueError):
    """The tweet data is missing or malformed; the message says what and how to fix it."""


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder to read: ``path``, else ``$TWEETS_DIR``, else the download cache (downloading if needed)."""
    given = path or os.environ.get("TWEETS_DIR")
    if given:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            source = "data_dir" if path else "TWEETS_DIR"
            raise TweetDataError(f"{source}={str(given)!r} is not a folder: {HOW_TO_PROVIDE}")
        return folder
    cached = cache_dir()
    if not (cached / "mapping.txt").is_file():
        download_tweeteval(cached)
    return cached


def require(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the tweets, once checked to hold what Lab 3 reads (downloading them into the cache if needed).

    For a program that must know before it runs the lab, such as the grader before it starts any kernel.

    Raises:
        TweetDataError: they are not here (or malformed) and could not be downloaded; the message says what to set.
    """
    folder = data_dir(path)
    for split in REQUIRED_SPLITS:
        load_split(split, folder)  # reads mapping.txt too
    return folder


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnn-course" / "tweeteval-sentiment"


def download_tweeteval(dest: str | os.PathLike[str], base_url: str | None = None) -> Path:
    """Downloads the TweetEval sentiment files of :data:`TWEETEVAL_COMMIT` into ``dest``, verifies each, and returns
    ``dest``.

    ``keras.utils.get_file`` fetches the files into a temporary folder beside ``dest``, which is moved into place only
    once every file's git blob id is the one :data:`TWEETEVAL_BLOBS` gives, so an interrupted or altered download is
    never mistaken for the data.

    Args:
        dest: the folder to fill (replaced if it exists).
        base_url: where the files are, ending in ``/``: by default ``$TWEETS_URL`` (a mirror must serve the same
            files), else :data:`TWEETEVAL_URL`.

    Raises:
        TweetDataError: a file could not be downloaded, or is not the commit's; nothing is left in ``dest``.
    """
    with quiet_tensorflow_start():  # here: reading a folder of tweets needs no TensorFlow
        import keras

    base_url = base_url or os.environ.get("TWEETS_URL") or TWEETEVAL_URL
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".download-"))
    try:
        for name, expected in TWEETEVAL_BLOBS.items():
            url = base_url + name
            try:
                with _socket_timeout(DOWNLOAD_TIMEOUT_S):  # get_file takes none; a stalled server would hang the lab
                    path = keras.utils.get_file(name, url, cache_dir=tmp.parent, cache_subdir=tmp.name)
            except Exception as error:  # noqa: BLE001 -- get_file raises a bare Exception for network and HTTP errors
                raise TweetDataError(
                    f"the tweets are not here and could not be downloaded ({url}: {error}); {HOW_TO_PROVIDE}"
                ) from error
            found = git_blob_id(path)
            if found != expected:
                raise TweetDataError(
                    f"{url} is not TweetEval's {name}: its git blob id is {found}, the file at commit "
                    f"{TWEETEVAL_COMMIT[:8]} has {expected}. The download was cut short or altered, or the address "
                    f"serves other files; nothing was kept, so running again retries. {HOW_TO_PROVIDE}"
                )
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


@contextmanager
def _socket_timeout(seconds):
    """socket's default timeout set to ``seconds`` for the block (urllib, under ``get_file``, reads it), then put back."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def git_blob_id(path: str | os.PathLike[str]) -> str:
    """The id git gives the file at ``path`` (``git hash-object PATH``): the sha1 of ``b"blob <size>\\0"`` and its bytes."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def label_names(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The class names in label order, from ``mapping.txt``: ``['negative', 'neutral', 'positive']``."""
    mapping = data_dir(path) / "mapping.txt"
    if not mapping.is_file():
        raise TweetDataError(f"{mapping} is missing: it names the classes, one '<label><TAB><name>' per line")
    names = {}
    for number, line in enumerate(_lines(mapping), start=1):
        label, _, name = line.strip().partition("\t")
        if not label.isdigit() or not name:
            raise TweetDataError(f"{mapping} line {number}: expected '<label><TAB><name>', got {line!r}")
        names[int(label)] = name.strip()
    if sorted(names) != list(range(len(names))):
        raise TweetDataError(f"{mapping}: labels should be 0..{len(names) - 1}, got {sorted(names)}")
    return [names[label] for label in range(len(names))]


def available_splits(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The splits present in the folder, e.g. ``['train', 'val']``."""
    folder = data_dir(path)
    return [split for split in SPLITS if (folder / f"{split}_text.txt").is_file()]


def load_split(split: str, path: str | os.PathLike[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Returns ``(texts, labels)`` of one split: a list of strings and an int array of the same length."""
    folder = data_dir(path)
    text_file, label_file = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    if not text_file.is_file() or not label_file.is_file():
        found = ", ".join(available_splits(folder)) or "none"
        raise TweetDataError(
            f"there is no {split!r} split in {folder} (splits found: {found}); it needs {text_file.name} and {label_file.name}"
        )
    texts = [line.strip() for line in _lines(text_file)]
    label_lines = _lines(label_file)
    if len(label_lines) != len(texts):
        raise TweetDataError(
            f"{label_file.name} has {len(label_lines)} labels but {text_file.name} has {len(texts)} tweets: each tweet needs one label"
        )
    num_classes = len(label_names(folder))
    labels = np.zeros(len(texts), dtype=np.int64)
    for number, line in enumerate(label_lines, start=1):
        if not line.strip().isdigit() or int(line) >= num_classes:
            raise TweetDataError(
                f"{label_file} line {number}: {line.strip()!r} is not a label; mapping.txt defines 0..{num_classes - 1}"
            )
        labels[number - 1] = int(line)
    return texts, labels


def _lines(path):
    # Split on "\n" only: str.splitlines() would also split on characters such as U+2028 inside a tweet.
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines
