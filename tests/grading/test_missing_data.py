"""A lab whose data is missing: `course grade` says so before any kernel starts, with its own exit status, and
scripts/main.sh skips that lab, grades the others and says which failed (seconds: no kernel starts)."""

import os
import shutil
import socket
import stat
import subprocess
import sys

import pytest
from helpers import ROOT

from autograde.course import CourseError, DataUnavailable

LAB3 = "lab3_tweet_sentiment"


@pytest.fixture
def offline_without_tweets(tmp_path):
    """An environment with no TWEETS_DIR, an empty download cache, and a download address that refuses at once."""
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if name != "TWEETS_DIR"}
    return {
        **env,
        "XDG_CACHE_HOME": str(tmp_path / "empty-cache"),
        "TWEETS_URL": f"http://127.0.0.1:{port}/",
        "PYTHONPATH": str(ROOT),
    }


def test_grade_without_the_lab_data_stops_before_any_kernel_and_says_what_to_set(tmp_path, offline_without_tweets):
    submissions = tmp_path / "in"
    submissions.mkdir()
    shutil.copy(ROOT / "autograde" / "examples" / LAB3 / "submissions" / "partial.ipynb", submissions)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "autograde.cli", "grade", "lab3", str(submissions), "--out", str(out)],
        cwd=ROOT,
        env=offline_without_tweets,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == DataUnavailable.exit_code == 3, done.stderr
    [line] = done.stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"error: {LAB3} cannot run here: the tweets are not here and could not be downloaded")
    assert (
        "set the environment variable TWEETS_DIR to a folder of TweetEval" in line and "connect to the internet" in line
    )
    assert not out.exists(), "nothing is written, and so no kernel started"


def test_grade_help_lists_the_exit_statuses():
    done = subprocess.run(
        [sys.executable, "-m", "autograde.cli", "grade", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert f"  {DataUnavailable.exit_code}  the lab's data is not on this machine" in done.stdout
    assert f"  {CourseError.exit_code}  stopped with a message" in done.stdout


STUB_COURSE = """#!/usr/bin/env bash
# Stands in for `course`: records its arguments; `course grade LAB ...` exits with $STUB_STATUS_<LAB> (default 0).
echo "$*" >> "$STUB_CALLS"
if [ "$1" = grade ]; then
    echo "graded $2 (stub)"
    status_variable="STUB_STATUS_$2"
    exit "${!status_variable:-0}"
fi
"""
LABS = ["lab1_a", "lab2_b", "lab3_c", "lab4_d"]


@pytest.fixture
def main_script(tmp_path):
    """scripts/main.sh in a copy of the course's layout whose setup does nothing and whose `course` is a stub."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "main.sh", repo / "scripts" / "main.sh")
    (repo / "scripts" / "setup.sh").write_text('cd "$(dirname "${BASH_SOURCE[0]}")/.."\n')  # as the real one does
    for lab in LABS:
        (repo / "autograde" / "examples" / lab / "submissions").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "course").write_text(STUB_COURSE)
    (bin_dir / "course").chmod(stat.S_IRWXU)
    calls = tmp_path / "calls.txt"

    def run(**statuses):
        calls.write_text("")
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "STUB_CALLS": str(calls),
            **{f"STUB_STATUS_{lab}": str(status) for lab, status in statuses.items()},
        }
        done = subprocess.run(
            ["bash", str(repo / "scripts" / "main.sh")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        graded = [line.split()[1] for line in calls.read_text().splitlines() if line.startswith("grade ")]
        return done, graded, done.stdout.strip().splitlines()[-len(LABS) :]

    return run


def test_main_grades_every_lab(main_script):
    done, graded, summary = main_script()
    assert done.returncode == 0, done.stdout + done.stderr
    assert graded == LABS
    assert summary == [
        f"{lab:24} graded   report: grading/{lab}/report.html, similar code side by side: grading/{lab}/similarity.html"
        for lab in LABS
    ]


def test_main_skips_a_lab_without_its_data_and_grades_the_rest(main_script):
    done, graded, summary = main_script(lab3_c=DataUnavailable.exit_code)
    assert done.returncode == 0, "a lab skipped for its data is not a failure"
    assert graded == LABS, "the labs after it are graded too"
    assert summary[2] == f"{'lab3_c':24} skipped  its data is not here: what to set is under == lab3_c above"
    assert [line.split()[1] for line in summary] == ["graded", "graded", "skipped", "graded"]


@pytest.mark.parametrize("status", [1, CourseError.exit_code])
def test_main_goes_on_after_a_failing_lab_and_exits_with_failure(main_script, status):
    done, graded, summary = main_script(lab2_b=status, lab3_c=DataUnavailable.exit_code)
    assert done.returncode == 1
    assert graded == LABS
    assert (
        summary[1] == f"{'lab2_b':24} FAILED   course grade exited with status {status}: why is under == lab2_b above"
    )
    assert [line.split()[1] for line in summary] == ["graded", "FAILED", "skipped", "graded"]
