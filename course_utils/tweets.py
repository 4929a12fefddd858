"""Loads tweet-sentiment data in the TweetEval format (Barbieri et al., 2020).

A data folder holds ``{split}_text.txt`` (one tweet a line), ``{split}_labels.txt`` (one
integer label a line) and ``mapping.txt`` (``0<TAB>negative`` ...). The folder is, first
found: the ``data_dir`` argument, the ``TWEETS_DIR`` environment variable, or a copy of the
official TweetEval sentiment files downloaded once into a user cache folder
(``$XDG_CACHE_HOME/rnn-course/tweeteval-sentiment``, by default under ``~/.cache``) from
``$TWEETS_URL`` (by default TweetEval's GitHub repository; a mirror works too).

Only the standard library is used, so ``import course_utils.tweets`` stays light.
"""
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")
REQUIRED_SPLITS = ("train", "val")  # Lab 3 reports on test only when the folder has it
TWEETEVAL_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets/sentiment/"
FILES = ["mapping.txt"] + [f"{split}_{kind}.txt" for split in SPLITS for kind in ("text", "labels")]
HOW_TO_PROVIDE = (
    "set the environment variable TWEETS_DIR to a folder of TweetEval sentiment files ({split}_text.txt, "
    "{split}_labels.txt, mapping.txt), or connect to the internet so they can be downloaded"
)


class TweetDataError(ValueError):
    """The tweet data is missing or malformed; the message says what and how to fix it."""


def data_dir(path=None):
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


def require(path=None):
    """The folder of the tweets, once checked to hold what Lab 3 reads (downloading them into the cache if needed).

    For a program that must know before it runs the lab, such as the grader before it starts any kernel.

    Raises:
        TweetDataError: they are not here (or malformed) and could not be downloaded; the message says what to set.
    """
    folder = data_dir(path)
    for split in REQUIRED_SPLITS:
        load_split(split, folder)  # reads mapping.txt too
    return folder


def cache_dir():
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnn-course" / "tweeteval-sentiment"


def download_tweeteval(dest, base_url=None):
    """Downloads the TweetEval sentiment files into ``dest``, checks them, and returns ``dest``.

    Files go to a temporary folder first and are moved into place only once every split
    checks out, so an interrupted download is never mistaken for the data.
    """
    base_url = base_url or os.environ.get("TWEETS_URL") or TWEETEVAL_URL
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".download-"))
    try:
        for name in FILES:
            try:
                with urllib.request.urlopen(base_url + name, timeout=30) as response:
                    (tmp / name).write_bytes(response.read())
            except (urllib.error.URLError, OSError) as error:
                raise TweetDataError(f"the tweets are not here and could not be downloaded ({base_url + name}: {error}); "
                                     f"{HOW_TO_PROVIDE}") from error
        for split in SPLITS:
            load_split(split, tmp)  # raises on mismatched line counts or unknown labels
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def label_names(path=None):
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


def available_splits(path=None):
    """The splits present in the folder, e.g. ``['train', 'val']``."""
    folder = data_dir(path)
    return [split for split in SPLITS if (folder / f"{split}_text.txt").is_file()]


def load_split(split, path=None):
    """Returns ``(texts, labels)`` of one split: a list of strings and an int array of the same length."""
    folder = data_dir(path)
    text_file, label_file = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    if not text_file.is_file() or not label_file.is_file():
        found = ", ".join(available_splits(folder)) or "none"
        raise TweetDataError(f"there is no {split!r} split in {folder} (splits found: {found}); it needs {text_file.name} and {label_file.name}")
    texts = [line.strip() for line in _lines(text_file)]
    label_lines = _lines(label_file)
    if len(label_lines) != len(texts):
        raise TweetDataError(f"{label_file.name} has {len(label_lines)} labels but {text_file.name} has {len(texts)} tweets: each tweet needs one label")
    num_classes = len(label_names(folder))
    labels = np.zeros(len(texts), dtype=np.int64)
    for number, line in enumerate(label_lines, start=1):
        if not line.strip().isdigit() or int(line) >= num_classes:
            raise TweetDataError(f"{label_file} line {number}: {line.strip()!r} is not a label; mapping.txt defines 0..{num_classes - 1}")
        labels[number - 1] = int(line)
    return texts, labels


def _lines(path):
    # Split on "\n" only: str.splitlines() would also split on characters such as U+2028 inside a tweet.
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines
