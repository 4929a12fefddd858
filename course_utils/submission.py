""" "Check my notebook before I submit": rerun it from the top in a fresh kernel and list what fails.

In Colab, in a cell of the lab::

    import course_utils
    course_utils.check_notebook()          # Colab: checks the notebook you have open

Anywhere else::

    course-check lab1_rnns_from_scratch.ipynb

It catches what a grader would meet and a student would not: a cell that only worked
because of something run earlier and since deleted, an exercise left as a stub, a test
that fails on a fresh run. It runs the lab with ``LAB_BUDGET=smoke`` (quick settings), as
the grader does. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from course_utils.startup_noise import TF_LOG_LEVEL, child_stderr

STUB = 'raise NotImplementedError("Replace this line with your code")'
RUNNING = "COURSE_CHECK_RUNNING"  # set in the checking kernel, so a check never checks itself


def _current_colab_notebook():
    from google.colab import _message  # only in Colab

    return _message.blocking_request("get_ipynb", timeout_sec=120)["ipynb"]


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    first_line = "".join(cell.get("source", "")).lstrip().split("\n", 1)[0]
    return cell.get("cell_type") == "code" and (meta.get("grade") or first_line.startswith("# Test"))


def _title(cell):
    """The cell's first line, whole: a test's name (``Test 4.1: RNN(MyLSTMCell) ...``) or the start of its code."""
    return "".join(cell.get("source", "")).lstrip().split("\n", 1)[0].lstrip("# ").strip()


def _error(output):
    """'ename: evalue' on one line, shortened at a word boundary (the whole message is in the notebook)."""
    return textwrap.shorten(f"{output['ename']}: {output['evalue']}", width=300, placeholder=" ...")


def check_notebook(path: str | os.PathLike[str] | None = None, cell_timeout: int = 600) -> bool:
    """Runs the notebook at ``path`` (in Colab: the open notebook) and prints a report.

    Returns True when it ran top to bottom and every test cell passed.
    """
    if os.environ.get(RUNNING):
        return True  # we are the notebook being checked
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path should be the notebook's file name, e.g. 'lab1_rnns_from_scratch.ipynb', got {type(path).__name__}"
        )
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:  # course_utils installed without its dependencies (pip install --no-deps)
        print(
            f"check_notebook needs nbformat, nbclient and ipykernel ({error}): run `pip install nbformat nbclient ipykernel`, then check again."
        )
        return False

    if path is None:
        if "google.colab" not in sys.modules:
            print(
                "Give the notebook's path: check_notebook('lab1_rnns_from_scratch.ipynb'), or run `course-check FILE` in a terminal."
            )
            return False
        # Colab sends sources as lists of lines; reading the JSON back joins them into strings.
        notebook = nbformat.reads(json.dumps(_current_colab_notebook()), as_version=4)
        name = "the open notebook"
    else:
        notebook = nbformat.read(path, as_version=4)
        name = Path(path).name

    stubs = [_title(c) for c in notebook.cells if c.cell_type == "code" and STUB in c.source]
    print(f"Running {name} from the top in a fresh kernel (LAB_BUDGET=smoke); this takes a minute or two...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir, child_stderr() as kernel_stderr:
        # The kernel's own stderr carries TensorFlow's start-up lines (TF_CPP_MIN_LOG_LEVEL silences most of them,
        # child_stderr the rest); what the notebook prints is captured in its outputs.
        env = {
            "TF_CPP_MIN_LOG_LEVEL": TF_LOG_LEVEL,
            **os.environ,
            "LAB_BUDGET": "smoke",
            "LAB_OUTPUT_DIR": workdir,
            RUNNING: "1",
        }
        client = NotebookClient(
            notebook,
            timeout=cell_timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": workdir}},
        )
        client.execute(env=env, stderr=kernel_stderr, **_encrypted_transport())
    seconds = time.monotonic() - started

    tests, failures, broken = 0, [], []
    for number, cell in enumerate(notebook.cells, start=1):
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if _is_test(cell):
            tests += 1
            if error:
                failures.append((_title(cell), _error(error)))
        elif error and cell.cell_type == "code" and STUB not in cell.source:
            broken.append((f"cell {number}: {_title(cell)}", _error(error)))

    print(f"Ran in {seconds:.0f} s. Tests passing: {tests - len(failures)} of {tests}.")
    for title, error in failures:  # a test's whole name on its line, what failed under it
        print(f"  \u2718 {title}\n      {error}")
    if stubs:
        print("Exercises still to do (they still raise NotImplementedError):")
        for title in stubs:
            print(f"  - {title}")
    if broken:
        print(
            "Other cells that raised an error on a fresh run (did they depend on a cell you deleted or ran out of order?):"
        )
        for title, error in broken:
            print(f"  - {title}\n      {error}")
    ok = not failures and not broken and not stubs
    print("All good: download the .ipynb and submit it." if ok else "Fix the above, then check again.")
    return ok


def _encrypted_transport():
    """Asks jupyter_client to encrypt the kernel's messages (CurveZMQ) where it can and the kernel supports it (here
    jupyter_client 8.10, ipykernel 7.4); ipykernel 7 warns "Kernel is running over TCP without encryption" otherwise."""
    import zmq
    from jupyter_client.manager import KernelManager

    supported = KernelManager.class_traits().get("transport_encryption") is not None and zmq.has("curve")
    return {"transport_encryption": "auto"} if supported else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-check", description=__doc__.splitlines()[0].strip('"'))
    parser.add_argument("notebook", help="the .ipynb file you are about to submit")
    args = parser.parse_args(argv)
    if not Path(args.notebook).is_file():
        parser.error(f"{args.notebook} is not a file")
    try:
        json.loads(Path(args.notebook).read_text())
    except (ValueError, UnicodeDecodeError):
        parser.error(f"{args.notebook} is not a notebook (.ipynb): in Colab use File > Download > Download .ipynb")
    return 0 if check_notebook(args.notebook) else 1


if __name__ == "__main__":
    sys.exit(main())
