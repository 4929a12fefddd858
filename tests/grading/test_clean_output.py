"""What `course-check` and `course grade` print is for people: no start-up lines of TensorFlow or Jupyter, whole test
names. The commands run as they are run by hand, in a subprocess, their stdout and stderr read as a person sees them."""

import os
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest
from helpers import ROOT
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.startup_noise import is_noise

# The start-up lines people saw between their results (TensorFlow 2.21, ipykernel 7), by a piece of each.
STARTUP_LINES = (
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "cuInit",
    "All log messages before absl::InitializeLog()",
    "This TensorFlow binary is optimized",
    "To enable the following instructions",
    "Kernel is running over TCP",
)
ENV = {**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}, "PYTHONPATH": str(ROOT)}


def startup_lines_in(text):
    return [line for line in text.splitlines() if any(piece in line for piece in STARTUP_LINES)]


def test_only_the_startup_lines_are_taken_out_of_stderr():
    # The lines as TensorFlow 2.21 prints them, written by this process and by a child, among lines that must stay.
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796553741.004505   22757 port.cc:153] oneDNN custom operations are on. You may see slightly "
        "different numerical results due to floating-point round-off errors from different computation orders.",
        "I0000 00:00:1796553741.005929   22757 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
        "will not be used.",
    ]
    assert all(is_noise(line) for line in noise)
    script = textwrap.dedent("""
        import os, subprocess, sys
        from course_utils.startup_noise import quiet_tensorflow_start
        absl, onednn, cuda = sys.argv[1:]
        print("before", file=sys.stderr)
        with quiet_tensorflow_start():
            os.write(2, f"{absl}\\n{onednn}\\nE0000 00:00:1.0 1 op_kernel.cc:9] a real error\\n".encode())
            child = "import sys; sys.stderr.write(sys.argv[1] + '\\\\nfrom a child\\\\n')"
            subprocess.run([sys.executable, "-c", child, cuda])
            print("Traceback: from Python", file=sys.stderr)
            print("level", os.environ["TF_CPP_MIN_LOG_LEVEL"])
        print("after", file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script, *noise], env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "before",
        "E0000 00:00:1.0 1 op_kernel.cc:9] a real error",
        "from a child",
        "Traceback: from Python",
        "after",
    ]
    assert done.stdout == "level 3\n"


def test_course_logs_progress_and_warnings_to_stderr_and_quiet_keeps_the_warnings():
    # As `course` configures logging (autograde.cli): the toolchain's lines plain on stderr, other libraries' progress
    # not at all (SQLAlchemy's would be every SQL statement nbgrader runs).
    script = textwrap.dedent("""
        import logging, sys
        from autograde.cli import _configure_logging
        _configure_logging(quiet=sys.argv[1] == "quiet")
        logging.getLogger("autograde.grading.folder").info("progress")
        logging.getLogger("autograde.grading.folder").warning("trouble")
        logging.getLogger("sqlalchemy.engine").info("SELECT 1")
    """)
    for mode, shown in (("", "progress\ntrouble\n"), ("quiet", "trouble\n")):
        done = subprocess.run([sys.executable, "-c", script, mode], env=ENV, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", shown), done.stderr


def test_importing_the_checks_prints_nothing():
    # As the grader's processes do (autograde.grading.judge.lab_modules): TensorFlow starts, and must say nothing.
    script = "from autograde.grading.judge import lab_modules; checks, _ = lab_modules('lab1'); checks.tf.zeros(1)"
    done = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


LONG_NAME = (
    "Test 9: a test whose name runs well past seventy characters, which the check used to cut in the middle "
    "of a phrase, to its very end."
)


@pytest.mark.slow
@pytest.mark.notebook
def test_course_check_prints_whole_test_names_and_no_startup_lines(tmp_path):
    notebook = new_notebook(
        cells=[
            new_code_cell("import tensorflow as tf\nx = tf.zeros(3)"),  # no TF_CPP_MIN_LOG_LEVEL: a student's own setup
            new_code_cell(f"# {LONG_NAME}\nassert x.shape == (4,), 'x should have 4 entries'"),
            new_code_cell("# Test 10: a short one.\nassert x.shape == (3,)"),
        ]
    )
    path = tmp_path / "mine.ipynb"
    nbformat.write(notebook, path)
    command = [
        sys.executable,
        "-c",
        "import sys; from course_utils.submission import main; sys.exit(main())",
        str(path),
    ]
    done = subprocess.run(command, env=ENV, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert f"  \u2718 {LONG_NAME}\n      AssertionError: x should have 4 entries\n" in done.stdout
    assert "Tests passing: 1 of 2." in done.stdout
    assert startup_lines_in(done.stdout + done.stderr) == []
    assert done.stderr == ""


@pytest.mark.slow
@pytest.mark.notebook
def test_course_grade_prints_no_startup_lines(tmp_path):
    # One notebook, its exercises left as stubs, without the self-test: the grader's process, a worker, a kernel.
    submissions = tmp_path / "in"
    submissions.mkdir()
    shutil.copy(
        ROOT / "autograde" / "examples" / "lab1_rnns_from_scratch" / "submissions" / "untouched.ipynb", submissions
    )
    command = [
        sys.executable,
        "-m",
        "autograde.cli",
        "grade",
        "lab1",
        str(submissions),
        "--out",
        str(tmp_path / "out"),
        "--skip-self-test",
        "--workers",
        "1",
    ]
    done = subprocess.run(command, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1 files: 1 graded" in done.stdout
    assert startup_lines_in(done.stdout + done.stderr) == []
    progress = [line for line in done.stderr.replace("\r", "\n").splitlines() if line.strip()]
    # tqdm's bar, and what the grader logs: what this machine's sandbox lacks (running as root, say); nothing else
    assert all(line.startswith(("grading:", "sandbox on this machine:")) for line in progress), progress


@pytest.mark.slow  # nbgrader generates every lab
def test_building_the_labs_prints_only_the_commands_own_lines():
    # nbgrader's API logged through traitlets' logger ("Updating/creating assignment ...") and, looking for an
    # exchange it never uses, "Unwritable directory, please contact your instructor: ...".
    command = [sys.executable, "-m", "autograde.cli", "check-labs"]
    done = subprocess.run(command, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert done.stdout.strip().splitlines() == [
        "labs/ and course_utils/checks/expected/ are up to date with solutions/ and autograde/grading/references/"
    ]
