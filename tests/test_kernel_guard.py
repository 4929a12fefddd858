"""Test cells run on private checks and hidden tests; student code cannot switch them off or read them back."""
import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograde.execute import GuardedNotebookClient
from autograde.private_tests import TAMPERED, private_tests_for

pytestmark = [pytest.mark.notebook, pytest.mark.slow]
LAB = "lab1_rnns_from_scratch"
DUMMY_CELL = "class MyRNNCell:  # a dummy answer\n    pass\n"


def solution_cells(course):
    solution = nbformat.read(course.solution_notebook(LAB), as_version=4)
    setup = next(c for c in solution.cells if c.cell_type == "code" and "course_utils.checks" in c.source)
    test = next(c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_cell_weights")
    return copy.deepcopy(setup), copy.deepcopy(test)


def run(course, tmp_path, *cells):
    setup, test = solution_cells(course)
    notebook = nbformat.v4.new_notebook(cells=[setup, *[copy.deepcopy(test) if c is TEST else new_code_cell(c) for c in cells]])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    client = GuardedNotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                                   resources={"metadata": {"path": str(tmp_path)}}, private_tests=private_tests_for(course, LAB))
    client.execute(env={"LAB_BUDGET": "smoke", "LAB_OUTPUT_DIR": str(tmp_path)})
    errors = [[(o.ename, o.evalue) for o in c.outputs if o.output_type == "error"] for c in notebook.cells]
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in notebook.cells]
    return errors, printed, client.guard_report


TEST = None  # where the solution's test cell (visible and hidden checks) goes


def test_switched_off_checks_are_put_back_and_the_dummy_answer_fails(course, tmp_path):
    switch_off = (
        "import sys, types\nimport course_utils.checks.lab1 as public\n"
        "for name in dir(public):\n    if name.startswith('check_'):\n        setattr(public, name, lambda *a, **k: None)\n"
        "fake = types.ModuleType('autograde.hidden_tests.lab1')\nfake.__getattr__ = lambda name: (lambda *a, **k: None)\n"
        "sys.modules['autograde.hidden_tests.lab1'] = fake\nchecks = public\nhidden_tests = fake\n"
    )
    errors, _, report = run(course, tmp_path, switch_off, DUMMY_CELL, TEST)
    assert errors[3], "the dummy answer passed the test"
    assert errors[3][0][0] != TAMPERED, "the test ran on the put-back machinery and failed on its own"
    assert "course_utils.checks.lab1.check_rnn_cell_weights" in report["restored"]


def test_silenced_tracebacks_are_put_back(course, tmp_path):
    silence = "get_ipython().showtraceback = lambda *a, **k: None\nget_ipython()._showtraceback = lambda *a, **k: None\n"
    errors, _, report = run(course, tmp_path, silence, DUMMY_CELL, TEST)
    assert errors[3], "a silenced traceback hid the failure"
    assert "the IPython shell's showtraceback" in report["restored"]


def test_a_change_made_during_the_test_scores_zero(course, tmp_path):
    cheat = (
        "import numpy as np, keras\n"
        "class MyRNNCell(keras.layers.Layer):\n"
        "    def __init__(self, units, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        np.testing.assert_allclose = lambda *a, **k: None  # switched off from inside the test\n"
    )
    errors, _, report = run(course, tmp_path, cheat, TEST)
    assert errors[2] and errors[2][-1][0] == TAMPERED and "numpy.testing.assert_allclose" in errors[2][-1][1]
    assert "test_rnn_cell_weights" in report["tampered"]


def test_the_hidden_tests_leave_no_text_behind(course, tmp_path):
    probe = (
        "import gc, inspect, linecache, sys, types\n"
        "marker = 'BEGIN ' + 'HIDDEN'  # not spelled out: this cell's own text is in the history too\n"
        "print('history:', marker in '\\n'.join(In))\n"
        "print('linecache:', any(marker in ''.join(e[2]) for e in linecache.cache.values() if len(e) > 2))\n"
        "print('modules:', [n for n in sys.modules if 'hidden' in n])\n"
        "found = [o for o in gc.get_objects() if type(o) is types.ModuleType and vars(o).get('__name__') == 'hidden_tests']\n"
        "print('sources:', [inspect.getsource(f) for m in found for f in vars(m).values() if inspect.isfunction(f)][:1])\n"
    )
    errors, printed, _ = run(course, tmp_path, DUMMY_CELL, TEST, probe, "print('names:', 'hidden_tests' in dir())")
    assert errors[3] == [], errors[3]
    assert "history: False" in printed[3] and "linecache: False" in printed[3] and "modules: []" in printed[3]
    assert "sources: []" in printed[3] or "could not get source" in str(errors[3])
    assert "names: False" in printed[4]


def test_the_guard_reads_nothing_a_student_can_patch(course, tmp_path):
    patch = (  # json too would break the kernel's own messages
        "import ast, base64, zlib\n"
        "zlib.__dict__['decompress'] = lambda *a, **k: b''\nbase64.__dict__['b64decode'] = lambda *a, **k: b''\n"
        "ast.__dict__['literal_eval'] = lambda *a, **k: {}\n"
    )
    errors, _, report = run(course, tmp_path, patch, DUMMY_CELL, TEST)
    assert errors[3] and errors[3][0][0] != TAMPERED, "the dummy answer must fail on its own"
    assert "zlib.decompress" in report["restored"] and "ast.literal_eval" in report["restored"]


def test_student_code_that_changes_the_private_checks_during_the_test_scores_zero(course, tmp_path):
    inside = (
        "class MyRNNCell:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        noop = lambda *a, **k: None\n"
        "        vars(checks).update(fail=noop, check_shape=noop, check_close=noop)  # `checks` is the private copy now\n"
    )
    errors, _, report = run(course, tmp_path, inside, TEST)
    assert errors[2] and errors[2][-1][0] == TAMPERED and "the private course_utils.checks.lab1" in errors[2][-1][1]


def test_an_added_method_that_shadows_an_inherited_one_is_removed(course, tmp_path):
    shadow = "import keras\nkeras.layers.SimpleRNN.__call__ = lambda self, *a, **k: None\n"
    errors, _, report = run(course, tmp_path, shadow, DUMMY_CELL, TEST)
    assert errors[3] and errors[3][0][0] != TAMPERED
    assert any("SimpleRNN.__call__ (added)" in name for name in report["restored"])


def test_the_hidden_tests_cannot_be_read_back_while_they_run(course, tmp_path):
    peek = (
        "import linecache\n"
        "class MyRNNCell:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        texts = [''.join(e[2]) for e in list(linecache.cache.values()) if len(e) > 2]\n"
        "        words = ('begin' + '_test', 'def ' + 'test_')  # not spelled out: this cell is in linecache too\n"
        "        print('seen:', any(w in t for t in texts for w in words))\n"
    )
    _, printed, _ = run(course, tmp_path, peek, TEST)
    assert "seen: True" not in printed[2] and "seen: False" in printed[2]
