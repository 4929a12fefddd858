"""Review flags: the course's own code raises none; code that reaches for the grading machinery does."""

import json
import re
import time
from pathlib import Path

import pytest
from helpers import ROOT

from autograde.course import EXAMPLES
from autograde.grading.flags import DEFAULT_MODULE_NAMES, review_flags

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


@pytest.mark.parametrize(
    "path", sorted((ROOT / EXAMPLES).glob("*/submissions/*.ipynb")), ids=lambda p: f"{p.parts[-3]}/{p.name}"
)
def test_example_submissions_raise_exactly_the_expected_flags(path):
    """Every code cell a student wrote or changed (answers and extra cells; not the instructor's cells)."""
    lab = path.parts[-3]
    flagged = json.loads((path.parents[1] / "expected.json").read_text())[path.name]["flagged"]
    release = ROOT / "labs" / lab / f"{lab}.ipynb"
    instructor = (
        {_source(c) for c in _cells(release) if c.get("cell_type") == "code" and not _is_answer(c)}
        if release.exists()
        else set()
    )
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


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "checks.check_lstm_cell = lambda *a, **k: None",
            "assigns an attribute of imported module `checks` (checks.check_lstm_cell = ...)",
        ),
        ("setattr(checks, 'check_lstm_cell', lambda *a, **k: None)", "sets an attribute of imported module `checks`"),
        (
            "import course_utils.checks.lab1 as c\nc.check_rnn_model = print",
            "imported module `c` (c.check_rnn_model = ...)",
        ),
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
    ],
)
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


@pytest.mark.parametrize(
    "source, fragment",
    [
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
    ],
)
def test_replacing_modules(source, fragment):
    assert_flagged(source, fragment)


# --- IPython's traceback and display machinery ------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "get_ipython().showtraceback = lambda *a, **k: None",
            "assigns an attribute of the IPython shell (get_ipython().showtraceback = ...)",
        ),
        ("get_ipython().showtraceback = lambda *a, **k: None", "uses get_ipython().showtraceback"),
        (
            "ip = get_ipython()\nip._showtraceback = lambda *a: None",
            "assigns an attribute of the IPython shell (ip._showtraceback = ...)",
        ),
        ("get_ipython().set_custom_exc((Exception,), handler)", "uses get_ipython().set_custom_exc"),
        ("get_ipython().InteractiveTB.structured_traceback = f", "uses get_ipython().InteractiveTB"),
        ("shell.SyntaxTB = None", "uses shell.SyntaxTB"),
        ("sys.excepthook = lambda *a: None", "uses sys.excepthook"),
        ("get_ipython().displayhook = None", "uses get_ipython().displayhook"),
        ("get_ipython().display_pub.publish = f", "uses get_ipython().display_pub"),
        ("get_ipython().run_cell('checks = 1')", "uses get_ipython().run_cell"),
        ("get_ipython().events.register('post_run_cell', hook)", "uses get_ipython().events.register"),
        (
            "from IPython import get_ipython\nsetattr(get_ipython(), 'showtraceback', None)",
            "sets an attribute of the IPython shell",
        ),
        ("from IPython.core import ultratb", "imports IPython.core.ultratb"),
        ("get_ipython().user_ns['checks'] = fake", "uses get_ipython().user_ns"),
        ("get_ipython().kernel.shell = None", "uses get_ipython().kernel (the IPython shell's internals)"),
    ],
)
def test_traceback_machinery(source, fragment):
    assert_flagged(source, fragment)


# --- reading source, frames and live objects --------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
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
    ],
)
def test_reading_source_and_frames(source, fragment):
    assert_flagged(source, fragment)


# --- the input history ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("print(In[-1])", "uses In ("),
        ("print(_ih[5])", "uses _ih"),
        ("Out.clear()", "uses Out"),
        ("_oh", "uses _oh"),
        ("print(_i)", "uses _i ("),
        ("print(_ii + _iii)", "uses _ii"),
        ("print(_i12)", "uses _i12"),
        ("print(get_ipython().history_manager.input_hist_raw)", "history_manager"),
        ("%history -n 1-10", "runs %history"),
    ],
)
def test_input_history(source, fragment):
    assert_flagged(source, fragment)


# --- native code, processes, files, network ---------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
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
        (
            "open('/work/main/course_utils/x.py', 'w')",
            "names '/work/main/course_utils/x.py' (a path outside the working folder)",
        ),
        ("open('../../answers.txt')", "names '../../answers.txt' (a path outside the working folder)"),
        (
            "from pathlib import Path\nPath('~/.ipython/profile_default/startup/x.py').write_text(code)",
            "a path outside the working folder",
        ),
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
    ],
)
def test_processes_files_network(source, fragment):
    assert_flagged(source, fragment)


def test_flags_name_their_cell_and_are_sorted():
    flags = review_flags([("cell 12", "import ctypes"), ("cell 2", "print(In[0])"), ("cell 2", "import socket")])
    assert flags == sorted(flags, key=lambda f: (int(f.split(":")[0].split()[1]), f))
    assert [f.split(":")[0] for f in flags] == ["cell 2", "cell 2", "cell 12"]


def test_imports_in_one_cell_count_in_another():
    flags = review_flags([("cell 3", "import course_utils.checks.lab1 as c"), ("cell 5", "c.check_rnn_model = print")])
    assert flags == ["cell 5: assigns an attribute of imported module `c` (c.check_rnn_model = ...)"]


@pytest.mark.parametrize(
    "source", ["def f(:\n    pass", "x = (", "", "   \n", "%", "%%", "?", "x?", "class", "\x00", "a = 'unterminated"]
)
def test_code_that_does_not_parse_gets_no_flags(source):
    assert review_flags([("cell 1", source)]) == []


# --- honest code that only looks like the rules -----------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
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
    ],
)
def test_honest_code_raises_no_flags(source):
    assert flags_of(source) == []


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("In = In[:]", "uses In ("),  # a binding from the name itself keeps IPython's history
        ("In += ['x']", "uses In ("),
        ("for Out in Out.values():\n    pass", "uses Out ("),
        ("def exec(x):\n    pass\ndel exec\nexec(code)", "uses exec"),  # a builtin comes back after del
        ("print(_2, _ii, _dh)", "uses _2 ("),
        ("os.remove(f'/tmp/{name}')", "names f'/tmp/{name}' (a path outside the working folder)"),
    ],
)
def test_the_history_and_paths_are_still_flagged(source, fragment):
    assert_flagged(source, fragment)


# --- reaching the same modules by other ways --------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("os.sys.modules['checks'] = fake", "uses sys.modules"),
        ("os.sys.settrace(tracer)", "uses sys.settrace"),
        ("np.sys.modules.pop('course_utils')", "uses sys.modules"),
        ("import importlib as il\nil.sys.setprofile(p)", "uses sys.setprofile"),
        ("from os import sys\nsys.modules['x'] = 1", "uses sys.modules"),
        ("getattr(os.sys, name)", "an attribute of sys chosen at run time"),
    ],
)
def test_modules_reached_through_other_modules(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "_L = keras.layers.LSTM\n_L.__call__ = fake",
            "assigns an attribute of `_L`, which is keras.layers.LSTM (_L.__call__ = ...)",
        ),
        ("_L = keras.layers.LSTM\nsetattr(_L, 'call', fake)", "sets an attribute of `_L`, which is keras.layers.LSTM"),
        ("_L = keras.layers.LSTM\ndelattr(_L, 'call')", "deletes an attribute of `_L`"),
        ("cls = np.ndarray\ncls.x = 1", "assigns an attribute of `cls`, which is np.ndarray (cls.x = ...)"),
        ("a, b = np, 1\nc = a.linalg\nc.norm = fake", "`c`, which is np.linalg"),
        ("from course_utils import checks as k\nm = k\nm.check_rnn_model = print", "`m`, which is course_utils.checks"),
        ("s = os.sys\ns.modules['x'] = 1", "uses sys.modules"),
    ],
)
def test_aliases_of_modules_and_their_attributes(source, fragment):
    assert_flagged(source, fragment)


def test_an_alias_made_in_one_cell_counts_in_another():
    flags = review_flags([("cell 3", "helper = checks.check_lstm_cell"), ("cell 5", "helper.__wrapped__ = fake")])
    assert (
        "cell 5: assigns an attribute of `helper`, which is checks.check_lstm_cell (helper.__wrapped__ = ...)" in flags
    )


@pytest.mark.parametrize(
    "source, fragment",
    [
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
    ],
)
def test_special_attributes_and_module_namespaces(source, fragment):
    assert_flagged(source, fragment)


def test_objects_of_the_students_own_keep_their_namespaces():
    assert flags_of("class Net:\n    pass\nnet = Net()\nprint(vars(net), net.__dict__)") == []


# --- disguise: what code can do to hide a name from the tables -----------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_each_solution_answer_cell_alone_raises_no_flags(lab):
    """Each answer cell reviewed on its own (as a student's extra cell might be): no binding from
    another cell to make a name the student's own, nothing to lean on."""
    for i, cell in enumerate(_cells(ROOT / "solutions" / lab / f"{lab}.ipynb")):
        if _is_answer(cell):
            source = "\n".join(line for line in _source(cell).split("\n") if not MARKER.match(line))
            assert review_flags([(f"cell {i + 1}", source)]) == []


@pytest.mark.parametrize(
    "source",
    [
        "units = getattr(layer, 'units')\nhas = hasattr(layer, name)",
        "@tf.function\ndef step(x):\n    return keras.ops.tanh(x)",
        "rng = np.random.default_rng(0)\nx = rng.normal(size=(2, 3))",
        "class Cell(keras.layers.Layer):\n    def __init__(self, units, **kwargs):\n        super().__init__(**kwargs)\n"
        "        self.units = units\n    def build(self, shape):\n        self.kernel = self.add_weight(shape=(shape[-1], self.units))\n"
        "        self.w_i = getattr(self, f'w_{\"i\"}', None)",
        "hidden_units = 32\nhidden_size = hidden_units * 2\nprint(f'hidden_size={hidden_size}', 'hidden state ' + str(hidden_units))",
        "print('%s: %d hidden units' % (name, n), '{} checks'.format(n), 'the hidden' + ' state')",
        "label = 'hidden' + '_' + str(i)",  # a name of the student's own, not one of the grader's
        "print('=' * 60 + '\\n' + '-' * 60)",
        "layer = getattr(keras.layers, name)(units)",  # a course module's attributes read by name
        "model.layers[0].trainable = False\nself.cells[i].units = 4",  # objects of the student's (or the setup's), through subscripts
        "type(self).count = 0",
        "ip = get_ipython()\nif ip is not None:\n    print(ip is None)",
        "for _ in range(3):\n    pass\nprint(_)",
        "words = ' '.join(tokens)\nparts = text.split('_')\nname = ''.join(['lstm', '_', str(3)])",
    ],
)
def test_honest_code_that_looks_like_a_disguise_raises_no_flags(source):
    assert flags_of(source) == []


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("(lambda: get_ipython())()", "passes the IPython shell on as a value (lambda: get_ipython()"),
        (
            "def shell():\n    return get_ipython()\nshell().showtraceback = None",
            "passes the IPython shell on as a value (return get_ipython()",
        ),
        ("g = get_ipython\ng().events.register('pre_run_cell', f)", "uses get_ipython as a value (g = get_ipython"),
        ("[get_ipython][0]().run_cell = f", "uses get_ipython as a value ([get_ipython]"),
        ("[get_ipython][0]().kernel", "uses get_ipython().kernel (the IPython shell's internals)"),  # [x][0] is x
        ("hooks = {'s': get_ipython()}", "passes the IPython shell on as a value"),
        ("print(get_ipython)", "uses get_ipython as a value"),
        ("import IPython\nf = IPython.get_ipython", "uses get_ipython as a value"),
        ("get_ipython()\n", None),  # a bare call is fine; the next case reads it back
        ("print(_.user_ns)", "uses _ ("),
    ],
)
def test_the_shell_got_other_than_by_a_plain_call(source, fragment):
    if fragment is None:
        assert flags_of(source) == []
    else:
        assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("[np][0].testing = None", "assigns an attribute of imported module `np` ([np][0].testing = ...)"),
        (
            "(np,)[0].allclose = lambda *a, **k: True",
            "assigns an attribute of imported module `np` ((np,)[0].allclose = ...)",
        ),
        ("{'a': np}['a'].x = 1", "assigns an attribute of imported module `np`"),
        (
            "d = {'a': np}\nd[key].allclose = fake",
            "assigns an attribute of an object reached from `d`, which holds an imported module",
        ),
        ("m = [checks][0]\nm.check_lstm_cell = fake", "assigns an attribute of `m`, which is checks"),
        ("(lambda: checks)().check_lstm_cell = fake", "reached from imported module `checks`"),
        ("next(iter([checks])).check_lstm_cell = fake", "reached from imported module `checks`"),
        ("(checks if True else None).check_lstm_cell = fake", "reached from imported module `checks`"),
        ("np.random.default_rng(0).bit_generator.state = s", "reached from imported module `np`"),
        ("setattr([checks][0], 'check_lstm_cell', fake)", "sets an attribute of imported module `checks`"),
        ("delattr((np,)[i], 'allclose')", "deletes an attribute of an object reached from imported module `np`"),
        ("[get_ipython()][0].showtraceback = f", "assigns an attribute of the IPython shell"),
        ("().__class__.__base__.x = 1", "assigns an attribute of an object this review cannot trace"),
        ("print.__self__.len = fake", "assigns an attribute of an object this review cannot trace"),
        ("[np][0].__dict__['allclose'] = fake", "uses [np][0].__dict__ (the module's namespace"),
    ],
)
def test_attributes_written_through_containers_and_calls(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("getattr(f, name)", "reads an attribute whose name is chosen at run time (getattr(f, <computed name>)"),
        (
            "setattr(self, name, value)",
            "sets an attribute whose name is chosen at run time (setattr(self, <computed name>)",
        ),
        ("delattr(obj, name)", "deletes an attribute whose name is chosen at run time"),
        ("setattr(self, f'f{x}', v)", "sets an attribute whose name is chosen at run time"),  # f_globals, f_back...
        ("vars(f)[name] = 1", "sets an attribute whose name is chosen at run time (vars(f)[<computed name>]"),
        (
            "net.__dict__[key] = value",
            "sets an attribute whose name is chosen at run time (net.__dict__[<computed name>]",
        ),
        ("getattr(print, name)", "reads an attribute whose name is chosen at run time"),
        ("getattr(sys, 'mod' + 'ules')['checks'] = fake", "uses sys.modules"),  # a built name is read as the attribute
        (
            "getattr(f, '__glo' + 'bals__')['np'] = fake",
            "uses getattr(f, '__globals__') (a function's code and globals)",
        ),
        (
            "n = '__glo' + 'bals__'\ngetattr(f, n)",
            "uses getattr(f, '__globals__')",
        ),  # a name set once to a built string
        ("getattr(f, '__globals__')", "uses getattr(f, '__globals__')"),
        ("object.__getattribute__(f, '__globals__')", "uses object.__getattribute__(f, '__globals__')"),
        ("vars(sys)['modules']['x'] = 1", "uses sys.modules"),
        ("sys.__dict__['modules']", "uses sys.modules"),
        ("getattr(get_ipython(), 'ker' + 'nel')", "uses get_ipython().kernel"),
    ],
)
def test_attributes_named_by_a_value(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "x = 'hidden' + '_tests'",
            "builds the name 'hidden_tests' from pieces ('hidden' + '_tests': the grader's private package)",
        ),
        ("x = 'hidden_' + 'tests'", "builds the name 'hidden_tests'"),
        ("x = ''.join(['hid', 'den'])", "builds the name 'hidden' from pieces (''.join(['hid', 'den'])"),
        ("x = f\"{'hidden_'}{'tests'}\"", "builds the name 'hidden_tests'"),
        ("x = '%s_%s' % ('hidden', 'tests')", "builds the name 'hidden_tests'"),
        ("x = '{}{}'.format('auto', 'grade')", "builds the name 'autograde'"),
        ("x = '{a}.{b}'.format(a='sys', b='modules')", "builds the name 'sys.modules'"),
        ("x = 'stset_neddih'[::-1]", "builds the name 'hidden_tests'"),
        ("x = 'HIDDEN_TESTS'.lower()", "builds the name 'hidden_tests'"),
        ("x = b'hidden_tests'.decode()", "builds the name 'hidden_tests'"),
        ("x = ''.join([chr(104), chr(105), chr(100), chr(100), chr(101), chr(110)])", "builds the name 'hidden'"),
        ("a = 'get_'\nb = a + 'ipython'", "builds the name 'get_ipython'"),
        ("x = '_grad' + 'ing'", "builds the name '_grading'"),
        ("x = '__buil' + 'tins__'", "builds the name '__builtins__'"),
        ("x = 'chec' + 'ks'", "builds the name 'checks'"),
        ("x = 'pre_run' + '_cell'", "builds the name 'pre_run_cell'"),
    ],
)
def test_names_built_from_pieces(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "__import__('autograde.hidden_tests.lab1')",
            "names 'autograde.hidden_tests.lab1' (the grader's private package)",
        ),
        ("open('hidden_tests/lab1 copy (2).py')", "the grader's private package"),
        ("import importlib\nimportlib.import_module('autograde')", "names 'autograde'"),
        ("getattr(m, 'hidden_tests')", "names 'hidden_tests'"),
        (
            "get_ipython().events.register('post_run_cell', f)",
            "names 'post_run_cell' (runs code before or after every cell",
        ),
    ],
)
def test_literal_strings_that_name_the_grader(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("print.__self__", "uses print.__self__ (a built-in function's module"),
        ("b = len.__self__\nb.open", "uses len.__self__"),
        ("f.__globals__", "uses f.__globals__ (a function's code and globals)"),
        ("f.__closure__[0].cell_contents", "uses f.__closure__"),
        ("m.__func__", "uses m.__func__"),
        ("object.__subclasses__()", "uses object.__subclasses__ (walks the class hierarchy"),
        ("x.__class__.__mro__[-1]", "uses x.__class__.__mro__ (walks the class hierarchy"),
        ("().__class__.__bases__[0]", "uses ().__class__.__bases__"),
        ("''.__class__.__base__", "uses ''.__class__.__base__"),
    ],
)
def test_special_attributes_that_reach_further(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("try:\n    1/0\nexcept Exception as e:\n    tb = e.__traceback__", "uses e.__traceback__ (reaches the frames"),
        ("tb.tb_frame", "uses tb.tb_frame"),
        ("tb.tb_next", "uses tb.tb_next"),
        ("frame.f_back", "uses frame.f_back"),
        ("frame.f_locals", "uses frame.f_locals"),
        ("frame.f_globals", "uses frame.f_globals"),
        ("gen.gi_frame", "uses gen.gi_frame"),
        ("coro.cr_frame", "uses coro.cr_frame"),
        ("sys._getframe(1)", "uses sys._getframe"),
        ("sys.exc_info()[2]", "uses sys.exc_info (reaches the frames"),
        ("import traceback\ntraceback.walk_stack(None)", "uses traceback.walk_stack"),
        ("import traceback\ntraceback.walk_tb(tb)", "uses traceback.walk_tb"),
        ("from inspect import getinnerframes\ngetinnerframes(tb)", "imports inspect.getinnerframes"),
        ("import inspect\ninspect.getgeneratorlocals(g)", "uses inspect.getgeneratorlocals"),
    ],
)
def test_tracebacks_and_frames(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("checks.check_lstm_cell.__code__ = (lambda *a: None).__code__", "assigns special attribute __code__"),
        ("code = f.__code__", "uses f.__code__ (a function's code and globals)"),
        ("g = code.replace(co_consts=(None,))", "makes a changed code object (code.replace(co_consts=(None,))"),
        ("print(code.co_consts)", "uses code.co_consts"),
        ("import types\ntypes.CodeType(*args)", "uses types.CodeType"),
        ("f.__defaults__ = (True,)", "assigns special attribute __defaults__"),
        ("f.__kwdefaults__ = {'atol': 1e9}", "assigns special attribute __kwdefaults__"),
    ],
)
def test_code_objects(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("ip = get_ipython()\nip.events.callbacks['post_run_cell'].append(f)", "uses ip.events.callbacks"),
        ("get_ipython().events.register('post_execute', f)", "uses get_ipython().events.register"),
        ("get_ipython().events.unregister('pre_execute', f)", "uses get_ipython().events.unregister"),
        ("events.register('pre_run_cell', f)", "names 'pre_run_cell'"),
        ("e.callbacks['post_execute']", "names 'post_execute'"),
    ],
)
def test_ipython_events(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source, fragment",
    [
        (
            "get_ipython().input_transformer_manager.line_transforms.append(f)",
            "uses get_ipython().input_transformer_manager",
        ),
        ("tm.token_transformers.insert(0, t)", "uses tm.token_transformers"),
        ("tm.cleanup_transforms.append(t)", "uses tm.cleanup_transforms"),
        ("get_ipython().input_transformers_cleanup.append(f)", "uses get_ipython().input_transformers_cleanup"),
        ("get_ipython().input_transformers_post.append(f)", "uses get_ipython().input_transformers_post"),
        ("get_ipython().ast_transformers.append(NodeTransformer())", "uses get_ipython().ast_transformers"),
        ("get_ipython().prefilter_manager.register_checker(c)", "uses get_ipython().prefilter_manager"),
        ("pm.register_transformer(t)", "uses pm.register_transformer"),
        ("pm.register_handler('x', h, [])", "uses pm.register_handler"),
        ("get_ipython().input_splitter", "uses get_ipython().input_splitter"),
        ("get_ipython().run_cell = f", "assigns an attribute of the IPython shell (get_ipython().run_cell = ...)"),
        ("get_ipython().run_cell_async = f", "uses get_ipython().run_cell_async"),
        ("get_ipython().run_code = f", "uses get_ipython().run_code"),
        ("get_ipython().transform_cell = f", "uses get_ipython().transform_cell"),
        ("get_ipython().should_run_async = lambda *a, **k: False", "uses get_ipython().should_run_async"),
        ("get_ipython().user_ns['checks'] = fake", "uses get_ipython().user_ns"),
        ("get_ipython().user_global_ns['np'] = fake", "uses get_ipython().user_global_ns"),
        ("sys.settrace(t)", "uses sys.settrace"),
        ("sys.setprofile(p)", "uses sys.setprofile"),
        ("import threading\nthreading.settrace(t)", "uses threading.settrace"),
        ("sys.addaudithook(h)", "uses sys.addaudithook"),
        ("import gc\ngc.get_objects()", "uses gc.get_objects"),
        ("import gc\ngc.get_referrers(f)", "uses gc.get_referrers"),
        ("import gc\ngc.get_referents(f)", "uses gc.get_referents"),
        ("import ctypes as c", "imports ctypes"),
        ("vars(get_ipython())['user_ns']", "uses vars(get_ipython()) (the IPython shell's internals)"),
        ("vars(get_ipython())['events'].register('post_run_cell', f)", "uses get_ipython().events"),
        ("get_ipython().__dict__['user_ns']", "uses get_ipython().__dict__['user_ns']"),
    ],
)
def test_ipython_hooks_and_interpreter_hooks(source, fragment):
    assert_flagged(source, fragment)


# --- reading hostile code in bounded time -------------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("x = 1\n" * 40_000, "cell too large to review (240,000 characters"),
        ("x = " + " + ".join(["'a'"] * 5_000), "cell too deeply nested to review"),
        ("x = " + "f(" * 150 + ")" * 150, "cell too deeply nested to review (over 100 levels)"),
    ],
)
def test_cells_too_large_or_deep_are_flagged_unread(source, fragment):
    assert_flagged(source, fragment)


@pytest.mark.parametrize(
    "source",
    [
        "x = 'a' * 10**9\ny = 'ab' * 999_999_999 + 'c'\nz = ('x' * 1000) * 1000",
        "x = '{:>1000000000}'.format('a')\ny = '%1000000000s' % 'a'\nz = f\"{'a':>1000000000}\"",
        "x = ('a' * 1000).replace('a', 'b' * 1000)",
        "x = '{0[1]}'.format(y) + '%(a)s' % d + 'a'[1:2:0] + 'abc'[10] + chr(-1) + b'\\xff'.decode()",
    ],
)
def test_constant_folding_is_bounded(source):
    started = time.monotonic()
    assert flags_of(source) == []
    assert time.monotonic() - started < 5


def test_names_spelled_past_a_long_run_of_text_are_still_found():
    assert_flagged("x = " + repr("q" * 150_000 + " ") + " + 'hidden_' + 'tests'", "builds the name 'hidden_tests'")


@pytest.mark.parametrize("source", __import__("autograde.authoring.examples", fromlist=["DISGUISES"]).DISGUISES)
def test_every_disguise_of_the_example_submissions_is_flagged_on_its_own(source):
    assert review_flags([("cell 1", source)]), source


@pytest.mark.parametrize(
    "source, flag",
    [
        # Found in a hostile review of judging outside the kernel: ways to take over or feed the probes.
        ("def __import__(name, *args, **kwargs):\n    return None\n", "binds __import__"),
        ("class __import__:\n    pass\n", "binds __import__"),
        ("import os as __import__\n", "binds __import__"),
        ("try:\n    pass\nexcept Exception as __import__:\n    pass\n", "binds __import__"),
        ("__builtins__ = {}\n", "binds __builtins__"),
        ("x = checks.batch_data(3)\n", "uses checks.batch_data (the checks' probes"),
        ("import course_utils.checks.probing as p\n", "imports course_utils.checks.probing"),
        (
            "from course_utils.checks.lab2 import generation_model\n",
            "imports course_utils.checks.lab2.generation_model",
        ),
        ("class A:\n    m = checks\nA.m.probe_generate = 1\n", "an attribute named probe_generate"),
        ("def f():\n    return checks\nf().run_probe = 1\n", "an attribute named run_probe"),
        ("type(checks).__getattribute__(checks, 'x')\n", "past their normal lookup"),
        ("from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(1)\n", "another thread"),
        ("import threading\nthreading.Thread(target=print).start()\n", "another thread"),
    ],
)
def test_taking_over_or_feeding_the_probes(source, flag):
    assert any(flag in f for f in flags_of(source)), flags_of(source)


def test_a_test_cells_own_call_and_dunder_methods_are_not_flagged():
    assert flags_of("checks.check_get_batch(get_batch)\nclass A:\n    def __init__(self):\n        self.x = 1\n") == []
