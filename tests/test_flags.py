"""Review flags: the course's own code raises none; code that reaches for the grading machinery does."""
import json
import re
from pathlib import Path

import pytest

from autograde.flags import DEFAULT_MODULE_NAMES, review_flags

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def _cells(path):
    return json.loads(Path(path).read_text())["cells"]


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_answer(cell):
    return cell.get("cell_type") == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")


@pytest.mark.parametrize("lab", LABS)
def test_solution_answers_raise_no_flags(lab):
    cells = [
        (f"cell {i + 1}", "\n".join(line for line in _source(c).split("\n") if not MARKER.match(line)))
        for i, c in enumerate(_cells(ROOT / "solutions" / lab / f"{lab}.ipynb"))
        if _is_answer(c)
    ]
    assert cells
    assert review_flags(cells) == []


@pytest.mark.parametrize("path", sorted((ROOT / "autograde" / "examples").glob("*/submissions/*.ipynb")), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_example_submissions_raise_exactly_the_expected_flags(path):
    """Every code cell a student wrote or changed (answers and extra cells; not the instructor's cells)."""
    lab = path.parts[-3]
    flagged = json.loads((path.parents[1] / "expected.json").read_text())[path.name]["flagged"]
    release = ROOT / "labs" / lab / f"{lab}.ipynb"
    instructor = {_source(c) for c in _cells(release) if c.get("cell_type") == "code" and not _is_answer(c)} if release.exists() else set()
    cells = [
        (f"cell {i + 1}", _source(c))
        for i, c in enumerate(_cells(path))
        if c.get("cell_type") == "code" and _source(c) not in instructor and _source(c).strip()
    ]
    if path.name == "rearranged.ipynb":  # the one with extra cells of the student's own
        assert any("my_helper_that_returns" in source for _, source in cells)
    assert bool(review_flags(cells)) == flagged, review_flags(cells)


def flags_of(source, **kwargs):
    return review_flags([("cell 7", source)], **kwargs)


def assert_flagged(source, *fragments, **kwargs):
    flags = flags_of(source, **kwargs)
    assert flags, f"no flag for {source!r}"
    for fragment in fragments:
        assert any(fragment in flag for flag in flags), f"{fragment!r} not in {flags}"
    assert all(flag.startswith("cell 7: ") for flag in flags)
    return flags


# --- patching imported modules -----------------------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("checks.check_lstm_cell = lambda *a, **k: None", "assigns an attribute of imported module `checks` (checks.check_lstm_cell = ...)"),
    ("setattr(checks, 'check_lstm_cell', lambda *a, **k: None)", "sets an attribute of imported module `checks`"),
    ("import course_utils.checks.lab1 as c\nc.check_rnn_model = print", "imported module `c` (c.check_rnn_model = ...)"),
    ("course_utils.checks.lab1.check_rnn_model = print", "imported module `course_utils`"),
    ("checks.calls += 1", "assigns an attribute of imported module `checks`"),
    ("del checks.check_lstm_cell", "deletes an attribute of imported module `checks` (del checks.check_lstm_cell)"),
    ("delattr(np, 'allclose')", "deletes an attribute of imported module `np`"),
    ("np.allclose = lambda *a, **k: True", "imported module `np`"),
    ("keras.layers.LSTM.call = my_call", "imported module `keras` (keras.layers.LSTM.call = ...)"),
    ("from keras.layers import LSTM\nLSTM.call = my_call", "imported `LSTM` (LSTM.call = ...)"),
    ("from course_utils.checks import lab1\nlab1.ATOL, x = 1.0, 2", "imported `lab1` (lab1.ATOL = ...)"),
    ("object.__setattr__(checks, 'check_lstm_cell', None)", "sets an attribute of imported module `checks`"),
    ("def sneaky():\n    checks.check_lstm_cell = None\n", "imported module `checks`"),
])
def test_patching_imported_modules(source, fragment):
    assert_flagged(source, fragment)


def test_module_names_come_from_the_caller():
    assert flags_of("music.load_tunes = fake") == []
    assert_flagged("music.load_tunes = fake", "imported module `music`", module_names=DEFAULT_MODULE_NAMES | {"music"})


def test_rebinding_the_setups_names():
    assert_flagged("checks = FakeChecks()", "rebinds `checks`, which the instructor's setup imported (checks = ...)")
    assert_flagged("def checks():\n    pass\n", "rebinds `checks`")
    assert_flagged("if True:\n    np, x = fake, 1\n", "rebinds `np`")
    assert_flagged("def f():\n    global checks\n    checks = None\n", "global checks in f")
    assert flags_of("import numpy as np\nfrom keras import ops\n") == []  # re-importing is ordinary
    assert flags_of("def f(np):\n    checks = 1\n    return np\n") == []  # local names


def test_objects_that_are_not_imported_are_not_flagged():
    assert flags_of("self.kernel = 1\nmodel.trainable = False\nplt.rcParams['figure.figsize'] = (8, 4)\n") == []


# --- replacing what the tests import ----------------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("sys.modules['autograde.hidden_tests.lab1'] = fake", "uses sys.modules"),
    ("import sys\nprint(list(sys.modules))", "uses sys.modules"),
    ("import builtins\nbuiltins.print = lambda *a: None", "imports builtins"),
    ("__builtins__.print = None", "uses __builtins__"),
    ("import importlib\nimportlib.reload(checks)", "imports importlib"),
    ("from importlib import reload", "imports importlib"),
    ("m = __import__('os')", "uses __import__"),
    ("getattr(sys, 'modules')['x'] = 1", "uses sys.modules"),
    ("getattr(sys, name)", "an attribute of sys chosen at run time"),
    ("globals()['checks'] = fake", "uses globals"),
    ("vars()['checks'] = fake", "uses vars()"),
    ("exec('import ct' + 'ypes')", "uses exec"),
    ("from autograde.hidden_tests import lab1", "imports autograde"),
    ("from unittest.mock import MagicMock\nchecks = MagicMock()", "imports unittest.mock"),
    ("sys.path.insert(0, 'mine')", "uses sys.path.insert"),
])
def test_replacing_modules(source, fragment):
    assert_flagged(source, fragment)


# --- IPython's traceback and display machinery ------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("get_ipython().showtraceback = lambda *a, **k: None", "assigns an attribute of the IPython shell (get_ipython().showtraceback = ...)"),
    ("get_ipython().showtraceback = lambda *a, **k: None", "uses get_ipython().showtraceback"),
    ("ip = get_ipython()\nip._showtraceback = lambda *a: None", "assigns an attribute of the IPython shell (ip._showtraceback = ...)"),
    ("get_ipython().set_custom_exc((Exception,), handler)", "uses get_ipython().set_custom_exc"),
    ("get_ipython().InteractiveTB.structured_traceback = f", "uses get_ipython().InteractiveTB"),
    ("shell.SyntaxTB = None", "uses shell.SyntaxTB"),
    ("sys.excepthook = lambda *a: None", "uses sys.excepthook"),
    ("get_ipython().displayhook = None", "uses get_ipython().displayhook"),
    ("get_ipython().display_pub.publish = f", "uses get_ipython().display_pub"),
    ("get_ipython().run_cell('checks = 1')", "uses get_ipython().run_cell"),
    ("get_ipython().events.register('post_run_cell', hook)", "uses get_ipython().events.register"),
    ("from IPython import get_ipython\nsetattr(get_ipython(), 'showtraceback', None)", "sets an attribute of the IPython shell"),
    ("from IPython.core import ultratb", "imports IPython.core.ultratb"),
    ("get_ipython().user_ns['checks'] = fake", "uses get_ipython().user_ns"),
    ("get_ipython().kernel.shell = None", "uses get_ipython().kernel (the IPython shell's internals)"),
])
def test_traceback_machinery(source, fragment):
    assert_flagged(source, fragment)


# --- reading source, frames and live objects --------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("import inspect; print(inspect.getsource(hidden_tests))", "uses inspect.getsource"),
    ("from inspect import getsourcelines as g\ng(f)", "imports inspect.getsourcelines"),
    ("import inspect as i\ni.getfile(checks)", "uses inspect.getfile"),
    ("import inspect\nframe = inspect.currentframe().f_back", "uses inspect.currentframe"),
    ("import inspect\ninspect.stack()", "uses inspect.stack"),
    ("sys._getframe(1).f_globals['checks'] = fake", "uses sys._getframe"),
    ("import gc\n[o for o in gc.get_objects() if 1]", "uses gc.get_objects"),
    ("import gc\ngc.get_referrers(f)", "uses gc.get_referrers"),
    ("import linecache\nlinecache.getlines(path)", "imports linecache"),
    ("sys.settrace(tracer)", "uses sys.settrace"),
    ("sys.setprofile(profiler)", "uses sys.setprofile"),
    ("sys.addaudithook(hook)", "uses sys.addaudithook"),
    ("import dis\ndis.dis(f)", "imports dis"),
    ("import marshal", "imports marshal"),
    ("checks.check_lstm_cell.__code__ = (lambda *a: None).__code__", "uses checks.check_lstm_cell.__code__"),
    ("f.__globals__['np'] = fake", "uses f.__globals__"),
    ("try:\n    1/0\nexcept Exception as e:\n    print(e.__traceback__.tb_frame.f_back.f_globals)", "tb_frame"),
])
def test_reading_source_and_frames(source, fragment):
    assert_flagged(source, fragment)


# --- the input history ------------------------------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("print(In[-1])", "uses In ("),
    ("print(_ih[5])", "uses _ih"),
    ("Out.clear()", "uses Out"),
    ("_oh", "uses _oh"),
    ("print(_i)", "uses _i ("),
    ("print(_ii + _iii)", "uses _ii"),
    ("print(_i12)", "uses _i12"),
    ("print(get_ipython().history_manager.input_hist_raw)", "history_manager"),
    ("%history -n 1-10", "runs %history"),
])
def test_input_history(source, fragment):
    assert_flagged(source, fragment)


# --- native code, processes, files, network ---------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("import ctypes", "imports ctypes"),
    ("from cffi import FFI", "imports cffi"),
    ("!cat /etc/passwd", "runs a shell command (!cat /etc/passwd)"),
    ("files = !ls ..", "runs a shell command (!ls ..)"),
    ("%%bash\ncat /etc/passwd\n", "runs %%bash"),
    ("%%sh\nls\n", "runs %%sh"),
    ("%%!\nls\n", "runs %%!"),
    ("%system ls", "runs %system"),
    ("get_ipython().system('ls')", "runs a shell command (!ls)"),
    ("%pip install fake-course-utils", "runs %pip"),
    ("%%writefile course_utils/checks/lab1.py\nx = 1\n", "runs %%writefile"),
    ("%time sys.modules['x'] = 1", "uses sys.modules"),  # the timed code is reviewed too
    ("%%capture\nimport ctypes\n", "imports ctypes"),
    ("import subprocess\nsubprocess.run(['ls'])", "imports subprocess"),
    ("os.system('ls')", "uses os.system"),
    ("os.popen('ls')", "uses os.popen"),
    ("os.execv('/bin/sh', [])", "uses os.execv"),
    ("os.spawnl(os.P_WAIT, 'x')", "uses os.spawnl"),
    ("pid = os.fork()", "uses os.fork"),
    ("import pty", "imports pty"),
    ("from multiprocessing import Process", "imports multiprocessing"),
    ("open('/work/main/course_utils/x.py', 'w')", "names '/work/main/course_utils/x.py' (a path outside the working folder)"),
    ("open('../../answers.txt')", "names '../../answers.txt' (a path outside the working folder)"),
    ("from pathlib import Path\nPath('~/.ipython/profile_default/startup/x.py').write_text(code)", "a path outside the working folder"),
    ("import shutil\nshutil.rmtree('/tmp/grading')", "names '/tmp/grading'"),
    ("os.remove(f'{base}/../checks.py')", "a path outside the working folder"),
    ("os.chdir('artifacts')", "uses os.chdir"),
    ("%cd ..", "runs %cd"),
    ("open('checks.py', 'w').write(fake)", "names 'checks.py' (a Python file)"),
    ("print(course_utils.__file__)", "uses course_utils.__file__"),
    ("print(checks.__path__)", "uses checks.__path__"),
    ("import socket", "imports socket"),
    ("import urllib.request\nurllib.request.urlopen(url)", "imports urllib.request"),
    ("import requests", "imports requests"),
    ("import http.client", "imports http.client"),
    ("from os import *", "imports * from os"),
])
def test_processes_files_network(source, fragment):
    assert_flagged(source, fragment)


def test_flags_name_their_cell_and_are_sorted():
    flags = review_flags([("cell 12", "import ctypes"), ("cell 2", "print(In[0])"), ("cell 2", "import socket")])
    assert flags == sorted(flags, key=lambda f: (int(f.split(":")[0].split()[1]), f))
    assert [f.split(":")[0] for f in flags] == ["cell 2", "cell 2", "cell 12"]


def test_imports_in_one_cell_count_in_another():
    flags = review_flags([("cell 3", "import course_utils.checks.lab1 as c"), ("cell 5", "c.check_rnn_model = print")])
    assert flags == ["cell 5: assigns an attribute of imported module `c` (c.check_rnn_model = ...)"]


@pytest.mark.parametrize("source", ["def f(:\n    pass", "x = (", "", "   \n", "%", "%%", "?", "x?", "class", "\x00", "a = 'unterminated"])
def test_code_that_does_not_parse_gets_no_flags(source):
    assert review_flags([("cell 1", source)]) == []


# --- honest code that only looks like the rules -----------------------------------------------

@pytest.mark.parametrize("source", [
    'for epoch in range(2):\n    x = 0.5\n    print(f"epoch {epoch + 1}/2, mean {x}")',  # an f-string's fragment is no path
    "In = keras.Input(shape=(3,))\nOut = keras.layers.Dense(1)(In)\nmodel = keras.Model(In, Out)",
    "t = np.linspace(0, 1, 50)\nsignal = np.sin(2 * np.pi * t)\nprint(signal.shape, getattr(signal, 'ndim'))",
    "for dis in range(3):\n    print(dis)",
    "def plot(signal, Out=None):\n    return signal\n",
    "class In:\n    pass\n",
    "from scipy import signal\nsignal.stft(x)",
    "_2d = x.reshape(2, -1)\n_3x = 3 * x\nprint(_2d, _3x)",  # not IPython's _2 or _i3
    "import re\nwords = re.split(r'\\s+', text)",  # a regular expression is no path
    "print(f'{name}: {value:.3f}/step, {rate:>8}')",
])
def test_honest_code_raises_no_flags(source):
    assert flags_of(source) == []


@pytest.mark.parametrize("source, fragment", [
    ("In = In[:]", "uses In ("),  # a binding from the name itself keeps IPython's history
    ("In += ['x']", "uses In ("),
    ("for Out in Out.values():\n    pass", "uses Out ("),
    ("def exec(x):\n    pass\ndel exec\nexec(code)", "uses exec"),  # a builtin comes back after del
    ("print(_2, _ii, _dh)", "uses _2 ("),
    ("os.remove(f'/tmp/{name}')", "names f'/tmp/{name}' (a path outside the working folder)"),
])
def test_the_history_and_paths_are_still_flagged(source, fragment):
    assert_flagged(source, fragment)


# --- reaching the same modules by other ways --------------------------------------------------

@pytest.mark.parametrize("source, fragment", [
    ("os.sys.modules['checks'] = fake", "uses sys.modules"),
    ("os.sys.settrace(tracer)", "uses sys.settrace"),
    ("np.sys.modules.pop('course_utils')", "uses sys.modules"),
    ("import importlib as il\nil.sys.setprofile(p)", "uses sys.setprofile"),
    ("from os import sys\nsys.modules['x'] = 1", "uses sys.modules"),
    ("getattr(os.sys, name)", "an attribute of sys chosen at run time"),
])
def test_modules_reached_through_other_modules(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize("source, fragment", [
    ("_L = keras.layers.LSTM\n_L.__call__ = fake", "assigns an attribute of `_L`, which is keras.layers.LSTM (_L.__call__ = ...)"),
    ("_L = keras.layers.LSTM\nsetattr(_L, 'call', fake)", "sets an attribute of `_L`, which is keras.layers.LSTM"),
    ("_L = keras.layers.LSTM\ndelattr(_L, 'call')", "deletes an attribute of `_L`"),
    ("cls = np.ndarray\ncls.x = 1", "assigns an attribute of `cls`, which is np.ndarray (cls.x = ...)"),
    ("a, b = np, 1\nc = a.linalg\nc.norm = fake", "`c`, which is np.linalg"),
    ("from course_utils import checks as k\nm = k\nm.check_rnn_model = print", "`m`, which is course_utils.checks"),
    ("s = os.sys\ns.modules['x'] = 1", "uses sys.modules"),
])
def test_aliases_of_modules_and_their_attributes(source, fragment):
    assert_flagged(source, fragment)


def test_an_alias_made_in_one_cell_counts_in_another():
    flags = review_flags([("cell 3", "helper = checks.check_lstm_cell"), ("cell 5", "helper.__wrapped__ = fake")])
    assert "cell 5: assigns an attribute of `helper`, which is checks.check_lstm_cell (helper.__wrapped__ = ...)" in flags


@pytest.mark.parametrize("source, fragment", [
    ("obj.__call__ = fake", "assigns special attribute __call__ (obj.__call__ = ...: "),
    ("x.__class__ = Always", "assigns special attribute __class__"),
    ("setattr(x, '__eq__', lambda *a: True)", "sets special attribute __eq__"),
    ("object.__setattr__(x, '__eq__', f)", "sets special attribute __eq__"),
    ("del model.__call__", "deletes special attribute __call__"),
    ("vars(np).update(allclose=fake)", "uses vars(np) (the module's namespace"),
    ("np.__dict__['allclose'] = fake", "uses np.__dict__ (the module's namespace"),
    ("m = checks\nvars(m)['check_lstm_cell'] = fake", "uses vars(m)"),
    ("import course_utils.checks.lab1 as c\nc.__dict__.update(d)", "uses c.__dict__"),
    ("globals()['checks'] = fake", "uses globals"),
])
def test_special_attributes_and_module_namespaces(source, fragment):
    assert_flagged(source, fragment)


def test_objects_of_the_students_own_keep_their_namespaces():
    assert flags_of("class Net:\n    pass\nnet = Net()\nprint(vars(net), net.__dict__)") == []
