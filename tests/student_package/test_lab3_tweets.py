"""The tweet loader: a data folder, the download into the cache (served locally, each file verified), missing splits,
malformed files.

Every tweet here is synthetic: no real tweet is committed to the project.
"""

import functools
import http.server
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from helpers import TWEETS_DIR

from course_utils import tweets
from course_utils.tweets import TweetDataError

MAPPING = "0\tnegative\n1\tneutral\n2\tpositive\n"


def write_split(folder, split, texts, labels):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.txt").write_text(MAPPING)
    (folder / f"{split}_text.txt").write_text("".join(f"{t} \n" for t in texts), encoding="utf-8")
    (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for label in labels))
    return folder


def synthetic_tweets(count, seed=0):
    rng = np.random.default_rng(seed)
    words = ["great", "awful", "meh", "#monday", "@user", ":)", ":(", "the", "game", "tonight"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(count)]
    return texts, rng.integers(0, 3, size=count).tolist()


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "tweets"
    for split, count in (("train", 12), ("val", 5)):
        write_split(folder, split, *synthetic_tweets(count, seed=count))
    return folder


@pytest.fixture
def no_data_configured(monkeypatch, tmp_path):
    """No TWEETS_DIR and an empty cache, as on a student's first run in Colab."""
    monkeypatch.delenv("TWEETS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "rnn-course" / "tweeteval-sentiment"


def test_load_split_from_a_folder(data):
    texts, labels = tweets.load_split("train", data)
    expected_texts, expected_labels = synthetic_tweets(12, seed=12)
    assert texts == expected_texts  # trailing spaces (as in TweetEval's files) are stripped
    assert labels.tolist() == expected_labels and labels.dtype == np.int64
    assert tweets.label_names(data) == ["negative", "neutral", "positive"]
    assert tweets.available_splits(data) == ["train", "val"]


def test_tweets_dir_environment_variable(data, monkeypatch):
    monkeypatch.setenv("TWEETS_DIR", str(data))
    assert len(tweets.load_split("val")[0]) == 5
    monkeypatch.setenv("TWEETS_DIR", str(data / "nowhere"))
    with pytest.raises(TweetDataError, match="TWEETS_DIR=.*nowhere' is not a folder"):
        tweets.load_split("val")


def test_a_missing_split_names_the_splits_there(data):
    with pytest.raises(TweetDataError, match=r"no 'test' split in .*splits found: train, val"):
        tweets.load_split("test", data)


def test_more_labels_than_texts(data):
    (data / "val_labels.txt").write_text("0\n1\n2\n0\n1\n2\n")
    with pytest.raises(TweetDataError, match="val_labels.txt has 6 labels but val_text.txt has 5 tweets"):
        tweets.load_split("val", data)


@pytest.mark.parametrize("bad", ["7", "-1", "positive", ""])
def test_a_label_outside_the_mapping(data, bad):
    (data / "val_labels.txt").write_text(f"0\n1\n{bad}\n2\n0\n")
    with pytest.raises(
        TweetDataError, match=rf"val_labels.txt line 3: '{bad}' is not a label; mapping.txt defines 0..2"
    ):
        tweets.load_split("val", data)


def test_a_tweet_holding_a_unicode_line_separator_stays_one_tweet(tmp_path):
    folder = write_split(tmp_path, "val", ["first\u2028still first", "second"], [0, 2])
    assert tweets.load_split("val", folder)[0] == ["first\u2028still first", "second"]


def git_hash_object(path):
    return subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def tweeteval_server(tmp_path, monkeypatch):
    """A local HTTP server holding the three TweetEval splits, standing in for GitHub; the files it serves are the
    ones the loader expects (their git blob ids replace TweetEval's)."""
    remote = tmp_path / "remote"
    for split, count in (("train", 20), ("val", 6), ("test", 9)):
        write_split(remote, split, *synthetic_tweets(count, seed=count))
    monkeypatch.setattr(tweets, "TWEETEVAL_BLOBS", {name: git_hash_object(remote / name) for name in tweets.FILES})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(remote))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield remote, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_download_once_into_the_cache_then_reuse(tweeteval_server, no_data_configured, monkeypatch):
    remote, url = tweeteval_server
    monkeypatch.setattr(tweets, "TWEETEVAL_URL", url)
    texts, labels = tweets.load_split("test")
    assert (texts, labels.tolist()) == synthetic_tweets(9, seed=9)
    assert tweets.data_dir() == no_data_configured
    assert sorted(p.name for p in no_data_configured.iterdir()) == sorted(tweets.FILES)

    monkeypatch.setattr(tweets, "TWEETEVAL_URL", "http://127.0.0.1:9/nothing-here/")  # a second download would fail
    assert tweets.load_split("val")[0] == synthetic_tweets(6, seed=6)[0]


def assert_nothing_cached(cache):
    assert not cache.exists()
    assert [p.name for p in cache.parent.iterdir()] == []  # no half-written download left behind


def test_a_corrupted_file_is_refused_and_nothing_is_cached(tweeteval_server, no_data_configured, monkeypatch):
    remote, url = tweeteval_server
    (remote / "train_labels.txt").write_text("0\n" * 21)  # not the file whose id the loader knows
    corrupted = git_hash_object(remote / "train_labels.txt")
    monkeypatch.setattr(tweets, "TWEETEVAL_URL", url)
    expected = tweets.TWEETEVAL_BLOBS["train_labels.txt"]
    with pytest.raises(
        TweetDataError,
        match=rf"{url}train_labels.txt is not TweetEval's train_labels.txt: its git blob id "
        rf"is {corrupted}, the file at commit 4fbd22cd has {expected}.*nothing was kept",
    ):
        tweets.load_split("val")
    assert_nothing_cached(no_data_configured)


def test_a_file_missing_from_the_server_is_refused_and_nothing_is_cached(
    tweeteval_server, no_data_configured, monkeypatch
):
    remote, url = tweeteval_server
    (remote / "test_labels.txt").unlink()
    monkeypatch.setattr(tweets, "TWEETEVAL_URL", url)
    with pytest.raises(
        TweetDataError,
        match=rf"could not be downloaded \({url}test_labels.txt: .*404.*set the environment variable TWEETS_DIR",
    ):
        tweets.load_split("val")
    assert_nothing_cached(no_data_configured)


def test_without_data_or_network_it_fails_at_once_saying_how_to_provide_data(no_data_configured, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(tweets, "TWEETEVAL_URL", f"http://127.0.0.1:{port}/")
    with pytest.raises(TweetDataError, match="could not be downloaded .*set the environment variable TWEETS_DIR"):
        tweets.load_split("train")
    assert_nothing_cached(no_data_configured)


def test_a_server_that_never_answers_fails_the_download_after_its_timeout(no_data_configured, monkeypatch):
    with socket.socket() as silent:  # accepts the connection (the backlog does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(tweets, "TWEETEVAL_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.setattr(tweets, "DOWNLOAD_TIMEOUT_S", 1)
        started = time.monotonic()
        with pytest.raises(TweetDataError, match="could not be downloaded .*timed out"):
            tweets.load_split("train")
    assert time.monotonic() - started < 30
    assert socket.getdefaulttimeout() is None  # put back
    assert_nothing_cached(no_data_configured)


def test_the_download_is_of_one_commit_and_its_files_are_known_by_their_git_ids(tmp_path):
    assert (
        tweets.TWEETEVAL_URL
        == f"https://raw.githubusercontent.com/cardiffnlp/tweeteval/{tweets.TWEETEVAL_COMMIT}/datasets/sentiment/"
    )
    assert sorted(tweets.FILES) == sorted(
        ["mapping.txt", *(f"{split}_{kind}.txt" for split in tweets.SPLITS for kind in ("text", "labels"))]
    )
    sample = tmp_path / "tweets.txt"
    sample.write_bytes("caf\u00e9 \U0001f600\n\u2028\x00".encode())
    assert tweets.git_blob_id(sample) == git_hash_object(sample)


@pytest.mark.skipif(not TWEETS_DIR.is_dir(), reason=f"no {TWEETS_DIR}")
def test_the_known_ids_are_those_of_tweeteval_files():
    """The shared data's validation split and mapping are TweetEval's, unchanged (its README says so)."""
    for name in ("mapping.txt", "val_text.txt", "val_labels.txt"):
        assert tweets.git_blob_id(TWEETS_DIR / name) == tweets.TWEETEVAL_BLOBS[name], name


def test_the_download_address_can_be_set(tweeteval_server, no_data_configured, monkeypatch):
    remote, url = tweeteval_server
    monkeypatch.setenv("TWEETS_URL", url)  # e.g. a mirror; `course grade`'s tests point it at a closed port
    assert tweets.require() == no_data_configured
    assert tweets.load_split("val")[0] == synthetic_tweets(6, seed=6)[0]
    assert tweets.data_dir() == no_data_configured


def test_require_checks_the_splits_the_lab_reads(data, tmp_path):
    assert tweets.require(data) == data
    (data / "val_labels.txt").unlink()
    with pytest.raises(TweetDataError, match=r"no 'val' split in .*it needs val_text.txt and val_labels.txt"):
        tweets.require(data)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TweetDataError, match="no 'train' split .*splits found: none"):
        tweets.require(empty)
