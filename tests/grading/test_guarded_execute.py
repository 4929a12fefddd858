"""Runaway student code costs its own points and never stops grading."""

import asyncio

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograde.grading.guarded_execute import GuardedExecute

pytestmark = pytest.mark.slow  # every test runs a kernel


def run(tmp_path, *sources, **limits):
    notebook = new_notebook(cells=[s if isinstance(s, dict) else new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    notebook, _ = GuardedExecute(**limits).preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    errors = [[(o.ename, o.evalue) for o in c.outputs if o.output_type == "error"] for c in notebook.cells]
    return notebook, errors, notebook.metadata["grading"]["problems"]


def test_os_exit_kills_the_kernel_and_the_rest_is_marked_not_run(tmp_path):
    _, errors, problems = run(tmp_path, "x = 1", "import os; os._exit(1)", "print(x)")
    assert errors[0] == [] and errors[1][0][0] == "KernelDied" and errors[2][0][0] == "NotRun"
    assert "kernel died" in problems[0] and "cell 2" in problems[0]


def test_a_crash_kills_the_kernel_and_grading_goes_on(tmp_path):
    _, errors, problems = run(tmp_path, "import ctypes; ctypes.string_at(0)", "y = 2")  # reads address 0: SIGSEGV
    assert errors[0][0][0] == "KernelDied" and errors[1][0][0] == "NotRun" and "kernel died" in problems[0]


def test_sys_exit_is_an_ordinary_error(tmp_path):
    _, errors, problems = run(tmp_path, "import sys; sys.exit(3)", "y = 2")
    assert errors == [[("SystemExit", "3")], []] and problems == []


def test_an_infinite_loop_is_interrupted_and_grading_goes_on(tmp_path):
    _, errors, problems = run(tmp_path, "while True: pass", "z = 3", cell_timeout=2)
    assert ("CellTimeoutError", "") in errors[0] and errors[1] == []
    assert "ran past its time limit" in problems[0]


def test_only_the_cells_the_instructor_marks_as_training_get_the_longer_timeout(tmp_path):
    training = new_code_cell(
        "train_model()  # a comment naming .fit( earns nothing", metadata={"autograde": {"training": True}}
    )
    _, errors, _ = run(
        tmp_path,
        "import time\ndef train_model(): time.sleep(3)\n",
        training,
        "train_model()  # model.fit(x) for epoch in tqdm",
        cell_timeout=1,
        training_cell_timeout=10,
    )
    assert errors[:2] == [[], []]
    assert ("CellTimeoutError", "") in errors[2], "a comment must not buy a longer timeout"


def test_huge_output_is_cut(tmp_path):
    notebook, errors, problems = run(tmp_path, "print('x' * 100_000_000)", "print('ok')", max_cell_text_chars=1000)
    printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    assert len(printed) < 2000 and "output cut" in printed and errors == [[], []]
    assert "cell 1 produced more output than the limits allow" in problems[0]


@pytest.mark.parametrize(
    "source",
    [
        "'x' * 100_000_000",  # a return value: execute_result
        "from IPython.display import HTML, display; display(HTML('<p>' * 30_000_000))",
        "from IPython.display import display; display({'text/plain': 'y' * 50_000_000}, raw=True)",
    ],
)
def test_every_output_type_is_capped_per_cell(tmp_path, source):
    notebook, errors, problems = run(
        tmp_path, source, "print('ok')", max_cell_text_chars=1000, max_cell_output_chars=5000
    )
    assert len(nbformat.writes(notebook)) < 20_000 and errors == [[], []]
    assert "cell 1 produced more output" in problems[0]


def test_an_error_over_the_cap_is_shortened_but_still_an_error(tmp_path):
    notebook, errors, _ = run(tmp_path, "raise ValueError('z' * 10_000_000)", max_cell_text_chars=1000)
    assert errors[0][0][0] == "ValueError" and len(nbformat.writes(notebook)) < 20_000


def test_output_is_capped_per_notebook(tmp_path):
    cells = [f"print('{i}' * 4000)" for i in range(10)]
    notebook, errors, problems = run(tmp_path, *cells, max_cell_text_chars=10_000, max_notebook_output_chars=12_000)
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in notebook.cells]
    assert sum(map(len, printed)) < 14_000 and printed[0].startswith("0000") and "output cut" in "".join(printed)
    assert problems


def test_memory_hog_is_stopped(tmp_path):
    _, errors, problems = run(
        tmp_path, "import numpy as np", "a = np.ones(2_000_000_000 // 8)", "print('after')", memory_limit_mb=500
    )
    assert errors[0] == [], "the kernel was stopped before the student's allocation"
    assert errors[1][0][0] == "KernelDied" and "500 MB memory limit" in errors[1][0][1]
    assert errors[2][0][0] == "NotRun" and "memory limit" in problems[0]


def test_notebook_time_limit(tmp_path):
    _, errors, problems = run(tmp_path, "import time; time.sleep(2)", "time.sleep(2)", "w = 4", notebook_timeout=3)
    assert errors[2] and errors[2][0][0] in ("NotRun", "CellTimeoutError")
    assert any("time limit" in p for p in problems)


def test_kernels_are_forked_from_the_preloaded_server_unless_turned_off(tmp_path):
    forked, _, _ = run(tmp_path, "x = 1")
    started, _, _ = run(tmp_path, "x = 1", fork_kernels=False)
    assert forked.metadata["grading"]["forked_kernel"] is True
    assert started.metadata["grading"]["forked_kernel"] is False


def test_errors_in_cells_the_student_cannot_edit_are_recorded_apart(tmp_path):
    student = new_code_cell("import time; time.sleep(5)", metadata={"autograde": {"origin": "student"}})
    instructor = new_code_cell("import time; time.sleep(5)")
    notebook, errors, _ = run(tmp_path, student, instructor, cell_timeout=1)
    assert ("CellTimeoutError", "") in errors[0] and ("CellTimeoutError", "") in errors[1]
    recorded = notebook.metadata["grading"]["instructor_cell_errors"]
    assert [e["cell"] for e in recorded] == [2] and recorded[0]["ename"] == "CellTimeoutError"
    assert recorded[0]["message"].startswith("CellTimeoutError: ")


class SlowOutputReader(GuardedExecute):
    """Reads a cell's output late, as the grader does when a thread of the kernel flooded it while a test was judged."""

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        if cell_index == 0:
            await asyncio.sleep(2)
        return await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)


def test_output_that_arrives_too_late_costs_the_cell_not_the_notebook(tmp_path):
    # nbgrader raises when a cell's output is still arriving iopub_timeout after its reply. A kernel thread that floods
    # the output while the grader judges a test cell used to end the notebook's grading: a "grader error" row, no score.
    notebook = new_notebook(cells=[new_code_cell("print('late')"), new_code_cell("print('on')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    notebook, _ = SlowOutputReader(iopub_timeout=1).preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    assert [o.ename for o in notebook.cells[0].outputs if o.output_type == "error"] == ["OutputTimeout"]
    assert any(
        "cell 1 sent more output than could be read in time" in p for p in notebook.metadata["grading"]["problems"]
    )
    assert [o.get("text") for o in notebook.cells[1].outputs] == ["on\n"], "the notebook goes on"
