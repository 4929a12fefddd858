"""Review flags: student code that touches the grading machinery, listed for a human to read.

Test cells always come from the instructor's notebook, but they run in the same kernel as the
student's code, so that code can still reach them: replace a check (``checks.check_lstm_cell =
...``), swap a module in ``sys.modules``, silence the traceback that marks a test as failed, read
the hidden tests (``inspect.getsource``, the ``In`` history), or leave the working folder. Nothing
here stops that (a determined student can hide anything from a static reading); it lists, for the
``flags`` column of the grades CSV, the places where a reviewer should look.

The rules are tables of names with the reason each is flagged. Code is read, never run: each
cell goes through IPython's input transformer (``!cmd``, ``%magic``, ``%%cell`` become Python),
then :mod:`ast`. A cell that does not parse gets no flags; one too large or too deeply nested to read
in bounded time gets a flag saying so.

Code can hide a name from tables of names: build it from pieces (``"hidden_" + "tests"``), reach
an object through a container or a call (``[np][0].allclose = ...``), name an attribute at run
time (``getattr(x, name)``), or pass the IPython shell around as a value. Strings built from
constants are folded (bounded) and read like literals; ``getattr(x, "a")``, ``vars(x)["a"]``,
``x.__dict__["a"]`` and ``[x][0]`` read as ``x.a`` and ``x``; what cannot be followed that way is
flagged as such.
"""

import ast
import builtins
import functools
import re
import string
from collections.abc import Iterable
from fnmatch import fnmatchcase

# Names the instructor's setup cells bind to modules (the caller passes the real ones).
DEFAULT_MODULE_NAMES = frozenset(
    {"np", "tf", "keras", "plt", "checks", "course_utils", "os", "sys", "json", "ops", "math", "random"}
)

SHELL = "get_ipython()"  # how the IPython shell appears in dotted names below

_MODULES = "can replace the modules the tests import"
_BUILTINS = "the interpreter's built-in functions, which the tests use too"
_HIDDEN_EXEC = "runs code built at run time, which this review cannot read"
_TRACEBACK = "IPython's traceback display, which marks a failed test"
_SOURCE = "reads source code, the hidden tests' included"
_FRAMES = "reaches the frames and variables of running code, the tests' included"
_HISTORY = "the notebook's input and output history holds the test cells' code"
_NATIVE = "reaches raw memory and native code"
_SUBPROCESS = "starts another process, outside the kernel's limits"
_NETWORK = "uses the network"
_CODE = "a function's code and globals"
_CLASSES = "walks the class hierarchy, which reaches every class, the checks' included"
_SHELL_HOOK = "changes what IPython runs for every cell, the test cells included"
_TRACE = "runs code at every line or call, the tests' included"
_GRADER = "the grader's private package"

# Dotted names, after imports are resolved (``from inspect import getsource as g`` makes ``g`` mean
# ``inspect.getsource``), whose import or use is flagged. Patterns as in fnmatch; every prefix of
# a dotted name is tried, so ``subprocess`` covers ``subprocess.run`` too.
_THREADS = "runs code in another thread or process, which the checks' watch for delegation does not see"
_PROBES = "the checks' probes and their inputs: code that runs them can forge what the grader observes"

NAMES = {
    **dict.fromkeys(
        [
            "threading.Thread",
            "threading.Timer",
            "_thread",
            "concurrent.futures",
            "multiprocessing",
            "asyncio.to_thread",
        ],
        _THREADS,
    ),
    # Replacing what the tests import or call.
    "sys.modules": _MODULES,
    "sys.meta_path": _MODULES,
    "sys.path_hooks": _MODULES,
    "sys.path.insert": "changes where modules are imported from",
    "sys.path.append": "changes where modules are imported from",
    "sys.path.extend": "changes where modules are imported from",
    "importlib": "imports, reloads or replaces modules",
    "__import__": "imports a module chosen at run time",
    "builtins": _BUILTINS,
    "__builtins__": _BUILTINS,
    "__main__": "the notebook's global names, the checks included",
    "globals": "the notebook's global names, the checks included",
    "autograde": "the grader's private package, hidden tests included",
    "unittest.mock": "mock objects can stand in for the course's checks",
    "mock": "mock objects can stand in for the course's checks",
    "exec": _HIDDEN_EXEC,
    "eval": _HIDDEN_EXEC,
    "compile": _HIDDEN_EXEC,
    "runpy": _HIDDEN_EXEC,
    "types.CodeType": _HIDDEN_EXEC,
    "types.FunctionType": _HIDDEN_EXEC,
    # IPython's traceback and display machinery: silencing it would hide a failed test.
    "sys.excepthook": _TRACEBACK,
    "sys.displayhook": _TRACEBACK,
    "IPython.core.ultratb": _TRACEBACK,
    "IPython.core.interactiveshell": _TRACEBACK,
    "IPython.core.displayhook": _TRACEBACK,
    "IPython.core.displaypub": _TRACEBACK,
    "IPython.core.history": _HISTORY,
    "ipykernel": "the kernel's internals",
    # Reading source code, stack frames and live objects.
    "inspect.getsource*": _SOURCE,
    "inspect.getfile": _SOURCE,
    "inspect.getmodule": _SOURCE,
    "inspect.getclosurevars": _FRAMES,
    "inspect.stack": _FRAMES,
    "inspect.trace": _FRAMES,
    "inspect.*frame*": _FRAMES,  # currentframe, getouterframes, getframeinfo...
    "inspect.get*locals": _FRAMES,  # getgeneratorlocals, getcoroutinelocals
    "inspect.getattr_static": "reads an attribute past the object's own rules",
    "sys._getframe": _FRAMES,
    "sys._current_frames": _FRAMES,
    "sys.exc_info": _FRAMES,  # its traceback leads to the frames
    "sys.exception": _FRAMES,
    "sys.last_*": _FRAMES,
    "traceback.walk_*": _FRAMES,
    "traceback.extract_stack": _FRAMES,
    "gc.get_objects": "reaches every live object, the checks included",
    "gc.get_referrers": "reaches every live object, the checks included",
    "gc.get_referents": "reaches every live object, the checks included",
    "linecache": _SOURCE,
    "dis": "disassembles code, the hidden tests' included",
    "marshal": "reads or writes compiled code",
    "sys.settrace": _TRACE,
    "sys.setprofile": _TRACE,
    "sys.monitoring": _TRACE,
    "sys.call_tracing": _TRACE,
    "threading.settrace*": _TRACE,
    "threading.setprofile*": _TRACE,
    "sys.addaudithook": "hooks into the interpreter",
    "signal": "signal handlers can ignore the grader's interrupts",
    # The notebook's input and output history (and HISTORY_NAME below).
    "In": _HISTORY,
    "Out": _HISTORY,
    # Native code.
    "ctypes": _NATIVE,
    "cffi": _NATIVE,
    # Other processes.
    "subprocess": _SUBPROCESS,
    "os.system": _SUBPROCESS,
    "os.popen": _SUBPROCESS,
    "os.exec*": _SUBPROCESS,
    "os.spawn*": _SUBPROCESS,
    "os.posix_spawn*": _SUBPROCESS,
    "os.fork*": _SUBPROCESS,
    "pty": _SUBPROCESS,
    "multiprocessing": _SUBPROCESS,
    "concurrent.futures.ProcessPoolExecutor": _SUBPROCESS,
    # The file system.
    "os.chdir": "changes the working folder",
    "os.fchdir": "changes the working folder",
    # The network.
    "socket": _NETWORK,
    "urllib": _NETWORK,
    "urllib3": _NETWORK,
    "requests": _NETWORK,
    "http.client": _NETWORK,
    "http.server": _NETWORK,
    "httpx": _NETWORK,
    "aiohttp": _NETWORK,
    "ftplib": _NETWORK,
    "smtplib": _NETWORK,
}

# IPython's other history names: _i12 (the code of cell 12), _12 (its result), _ih, _oh, _dh, and _, __,
# ___ (the last results: a cell ending in get_ipython() leaves the shell in _); not _2d, nor a _ the student sets.
HISTORY_NAME = re.compile(r"_(?:\d+|i\d*|ii|iii|ih|oh|dh)|_{1,3}")

# Modules that other modules hold as attributes (os.sys, np.sys, importlib.sys): a chain from an
# imported module that reaches one of these is judged as that module's (os.sys.modules is sys.modules).
REEXPORTED_MODULES = {
    "sys",
    "os",
    "builtins",
    "importlib",
    "inspect",
    "gc",
    "types",
    "threading",
    "subprocess",
    "ctypes",
    "linecache",
}

# Attribute names flagged whatever object they are read from or written to: they are rare
# enough in lab code that one use is worth a look. A dotted key means consecutive attributes.
ATTRIBUTES = {
    # IPython's traceback and display machinery.
    "showtraceback": _TRACEBACK,
    "_showtraceback": _TRACEBACK,
    "showsyntaxerror": _TRACEBACK,
    "InteractiveTB": _TRACEBACK,
    "SyntaxTB": _TRACEBACK,
    "set_custom_exc": _TRACEBACK,
    "custom_exceptions": _TRACEBACK,
    "excepthook": _TRACEBACK,
    "displayhook": _TRACEBACK,
    "display_pub": _TRACEBACK,
    "run_cell": "runs cells through IPython itself",
    "run_code": "runs cells through IPython itself",
    "run_ast_nodes": "runs cells through IPython itself",
    "history_manager": _HISTORY,
    "user_ns": "the notebook's global names, the checks included",
    "user_global_ns": "the notebook's global names, the checks included",
    "user_ns_hidden": "the notebook's global names, the checks included",
    # IPython's events and its input, token, line, prefilter and AST hooks: each one can change, or
    # run code around, what every cell runs.
    **dict.fromkeys(
        [
            "events.register",
            "events.unregister",
            "events.callbacks",
            "events.trigger",
            "pre_run_cell",
            "post_run_cell",
            "pre_execute",
            "post_execute",
        ],
        "runs code before or after every cell, the test cells included",
    ),
    **dict.fromkeys(
        [
            "input_transformer_manager",
            "input_transformers_cleanup",
            "input_transformers_post",
            "line_transforms",
            "token_transformers",
            "cleanup_transforms",
            "ast_transformers",
            "input_splitter",
            "prefilter_manager",
            "register_transformer",
            "register_checker",
            "register_handler",
            "run_cell_async",
            "transform_cell",
            "transform_ast",
            "should_run_async",
        ],
        _SHELL_HOOK,
    ),
    # A function's code, globals and defaults: replacing them changes a check without renaming it.
    **dict.fromkeys(["__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__", "__func__"], _CODE),
    **dict.fromkeys(["co_code", "co_consts", "co_names"], _CODE),
    "__builtins__": _BUILTINS,
    "__self__": "a built-in function's module (print.__self__ is builtins) or a method's object",
    **dict.fromkeys(
        ["__getattribute__", "__setattr__", "__delattr__"], "reads or writes attributes past their normal lookup"
    ),
    **dict.fromkeys(["run_probe", "EXPECTED_DIR", "stored_expectation"], _PROBES),
    **dict.fromkeys(["__subclasses__", "__mro__", "__bases__", "__base__"], _CLASSES),
    # Tracebacks, frames, generators and coroutines lead to the frames of running code.
    **dict.fromkeys(
        [
            "__traceback__",
            "tb_frame",
            "tb_next",
            "f_globals",
            "f_locals",
            "f_builtins",
            "f_back",
            "f_code",
            "f_trace",
            "gi_frame",
            "gi_code",
            "cr_frame",
            "cr_code",
            "ag_frame",
            "ag_code",
        ],
        _FRAMES,
    ),
    # Where modules live on disk: the way to the course's and the grader's files.
    "__file__": "where a module's file is",
    "__path__": "where a module's file is",
    "__spec__": "where a module's file is",
    "__loader__": "where a module's file is",
    "__cached__": "where a module's file is",
}

# Methods of the IPython shell (get_ipython()). Magics are judged by name (MAGICS); any other
# use of the shell is flagged as such.
MAGIC_RUNNERS = {"run_line_magic", "run_cell_magic", "magic"}
HARMLESS_SHELL = {"show_usage"}  # what a lone "?" becomes
SHELL_COMMANDS = {"system", "getoutput", "system_raw", "system_piped"}  # !cmd and x = !cmd

_SHELL_MAGIC = "a shell command"
MAGICS = {
    **dict.fromkeys(
        [
            "!",
            "system",
            "sx",
            "sc",
            "bash",
            "sh",
            "script",
            "perl",
            "ruby",
            "python",
            "python2",
            "python3",
            "pypy",
            "alias",
            "cat",
            "cp",
            "ls",
            "ll",
            "lf",
            "lk",
            "lx",
            "ldir",
            "mkdir",
            "mv",
            "rm",
            "rmdir",
            "less",
            "more",
            "man",
        ],
        _SHELL_MAGIC,
    ),
    **dict.fromkeys(
        ["pip", "conda", "mamba", "micromamba"], "installs packages, which can replace the course's modules"
    ),
    "writefile": "writes a file",
    **dict.fromkeys(["run", "load", "loadpy"], "runs or loads code from a file"),
    **dict.fromkeys(["cd", "pushd", "popd", "bookmark"], "changes the working folder"),
    **dict.fromkeys(["psource", "pfile", "pinfo2"], "shows an object's source code"),
    **dict.fromkeys(["history", "hist", "recall", "rerun", "macro", "save", "store"], _HISTORY),
}
# Magics whose argument is Python code: that code is reviewed too.
CODE_MAGICS = {"time", "timeit", "prun", "capture", "debug"}

# Writing a special attribute (obj.__call__ = ..., x.__class__ = ...) changes how Python calls,
# compares or classes an object, whatever object it is: one of the checks' arguments included.
SPECIAL_ATTRIBUTE = re.compile(r"__\w+__")
_SPECIAL = "changes how Python calls, compares or classes the object"
_NAMESPACE = "the module's namespace: writing to it replaces what the tests call"

# String literals (and f-strings, their values read as "x"), anywhere in the code: what they name.
# Only strings that could be one whole path are judged: not "/2, mean " or a regular expression.
PATH_SHAPE = re.compile(r"[\w.~/\\: -]+")
STRINGS = {
    r"^(?:~?/|[A-Za-z]:[/\\])[\w.~-]": "a path outside the working folder",  # absolute, in the home folder, on a drive
    r"(?:^|[/\\])\.\.(?:[/\\]|$)": "a path outside the working folder",  # ../
    r"site-packages|dist-packages": "the installed packages' files",
    r"\.(?:py|pyc|pth)$": "a Python file",
}
_STRING_RULES = [(re.compile(pattern), reason) for pattern, reason in STRINGS.items()]
# Judged in every string, whatever its shape ("from autograde import x", getattr(m, "hidden_tests")).
# A string that is a whole name of ATTRIBUTES ("post_run_cell", "__globals__") is flagged too.
GRADER_STRING = re.compile(r"autograde|hidden_tests")

# Names that a string built from pieces ("hidden_" + "tests", "".join(["hid", "den"]), "%s.modules"
# % "sys") is flagged for spelling out, beside the plain names of NAMES and ATTRIBUTES: a name split
# across pieces hides from every rule above. A name inside one literal piece is not flagged this way
# ("hidden state" + x, f"hidden_size={n}"); one that spans two pieces, or comes out of a string
# method or a slice ("stset_neddih"[::-1]), is.
BUILT_NAMES = {
    "hidden": "the grader's hidden tests",
    "hidden_tests": _GRADER,
    "autograde": _GRADER,
    "_grading": _GRADER,
    "checks": "the course's checks",
    "course_utils": "the course's package, the checks included",
    "get_ipython": "the IPython shell",
    "modules": _MODULES,
    "_getframe": _FRAMES,
    "settrace": _TRACE,
    "setprofile": _TRACE,
    "getsource": _SOURCE,
    "import_module": "imports a module chosen at run time",
}

# Bounds on reading hostile code: a larger cell is flagged unread; a string built from constants
# is followed up to FOLDED_CHARS characters (longer, it is unknown: "a" * 10**9 is never built).
MAX_CELL_CHARS = 200_000
MAX_DEPTH = 100  # of the cell's syntax tree; the course's own code stays under 20
FOLDED_CHARS = 10_000
FOLDED_PIECES = 1_000

_SHELL_FUNCTIONS = {"get_ipython", "IPython.get_ipython", "IPython.core.getipython.get_ipython"}
_SENSITIVE_ROOTS = {"sys", "os", "builtins", "__builtins__", "inspect", "gc", "importlib", SHELL}  # getattr(sys, name)
_PATCHABLE = {
    "module",
    "setup",
    "name",
    "alias",
    "container",
}  # how a root is bound when writing through it patches a module
_GETATTR = {"getattr", "object.__getattribute__", "type.__getattribute__"}
_SETATTR = {"setattr", "object.__setattr__", "type.__setattr__"}
_DELATTR = {"delattr", "object.__delattr__", "type.__delattr__"}
_SHELL_VALUE = "the review follows the shell no further"
_NAMED_ACCESS = {
    "hasattr": "tests",
    **dict.fromkeys(_GETATTR, "uses"),
    **dict.fromkeys(_SETATTR, "sets"),
    **dict.fromkeys(_DELATTR, "deletes"),
}


def review_flags(cells: Iterable[tuple[str, str]], module_names: Iterable[str] = DEFAULT_MODULE_NAMES) -> list[str]:
    """Flags for the student's code cells, sorted, e.g. ``"cell 14: uses inspect.getsource (...)"``.

    ``cells``: ``(label, source)`` pairs, the student's answers and extra cells, in notebook order.
    ``module_names``: the names the instructor's setup cells import (``np``, ``checks``, ...).
    """
    flags, trees = set(), []
    for label, source in cells:
        tree, problem = _read(source)
        if problem:
            flags.add(f"{label}: {problem}")
        elif tree is not None:
            trees.append((label, tree))
    module_names = frozenset(module_names)
    bindings, shells = {}, set()
    for _, tree in trees:  # a module imported in one cell can be patched in another
        _collect_bindings(tree, bindings, shells)
    _collect_aliases([tree for _, tree in trees], bindings, module_names)
    own = _own_names([tree for _, tree in trees]) - set(bindings) - module_names
    constants = _string_constants([tree for _, tree in trees])
    for label, tree in trees:
        _Review(label, bindings, shells, module_names, own, constants, flags).review(tree)
    return sorted(flags, key=_natural)


@functools.cache
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _read(source):
    """(the AST of a cell after IPython's transformations, None), (None, None) if it does not parse,
    or (None, why it was not read) for a cell too large or too deeply nested to review in bounded time."""
    if len(source) > MAX_CELL_CHARS:
        return None, f"cell too large to review ({len(source):,} characters; the review reads up to {MAX_CELL_CHARS:,})"
    try:
        code = _transformer().transform_cell(source)
    except Exception:  # anything IPython's transformer raises on odd input
        return None, None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # the kernel cannot run it either (ValueError: a null byte)
        return None, None
    except (RecursionError, MemoryError):
        return None, "cell too deeply nested to review (the parser gave up)"
    if _deeper_than(tree, MAX_DEPTH):
        return None, f"cell too deeply nested to review (over {MAX_DEPTH} levels)"
    return tree, None


def _deeper_than(tree, limit):
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def _collect_bindings(tree, bindings, shells):
    """Names bound by imports (name -> (dotted name, "module" or "name")) and to get_ipython()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings[alias.asname] = (alias.name, "module")
                else:  # import a.b.c binds a
                    top = alias.name.split(".")[0]
                    bindings[top] = (top, "module")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    bindings[alias.asname or alias.name] = (f"{node.module}.{alias.name}", "name")
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _call_name(node.value) in _SHELL_FUNCTIONS
        ):
            if all(
                isinstance(t, ast.Name) for t in node.targets
            ):  # any other binding is flagged as passing the shell on
                shells.update(t.id for t in node.targets)


def _collect_aliases(trees, bindings, module_names):
    """Names bound, anywhere, to an imported module or to one of its attributes (``_L = keras.layers.LSTM``,
    ``cls = np.ndarray``, ``m = [np][0]``): writing through them patches the module as writing through
    its name does. Names bound to a container that holds one (``d = {"a": np}``) are bound as "container"."""
    waiting = {}  # the name an assignment's value comes from -> (name assigned, value)
    for tree in trees:
        for node in ast.walk(tree):
            for name, value in _assigned(node):
                for source in _container_sources(value):
                    waiting.setdefault(source, []).append((name, value))
    ready = [name for name in waiting if name in bindings or name in module_names]
    while ready:  # b = a.x after a = np: aliases of aliases
        for name, value in waiting.pop(ready.pop(), []):
            if name not in bindings and name not in module_names:
                root, parts = _chain(value)
                if isinstance(root, ast.Name):
                    bindings[name] = (".".join([bindings.get(root.id, (root.id,))[0], *parts]), "alias")
                else:
                    bindings[name] = (name, "container")
                ready.append(name)


def _container_sources(value):
    """The names an object is taken from through attributes, constant subscripts and container
    literals, calls not followed: ``np`` for ``np.linalg``, ``[np][0]`` and ``{"a": np}``; none for ``np.zeros(3)``."""
    names, stack = [], [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred, ast.NamedExpr)):
            stack.append(node.value)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            stack.extend(node.elts)
        elif isinstance(node, ast.Dict):
            stack.extend(node.values)
        elif isinstance(node, ast.IfExp):
            stack.extend([node.body, node.orelse])
        elif isinstance(node, ast.BoolOp):
            stack.extend(node.values)
    return names


def _assigned(node):
    """(name, value) for each plain name a statement sets to an expression."""
    if isinstance(node, ast.Assign):
        pairs = [(t, node.value) for t in node.targets]
    elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        pairs = [(node.target, node.value)]
    else:
        return []
    for target, value in list(pairs):  # a, b = np.x, np.y
        if (
            isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
        ):
            pairs += zip(target.elts, value.elts)
    return [(t.id, v) for t, v in pairs if isinstance(t, ast.Name)]


def _own_names(trees):
    """Names the student's code binds, in any scope (assignments, loops, def, class, arguments...): for
    these, ``In`` or ``signal`` is the student's variable, not IPython's history or the module. A binding
    that reads the name itself (``In = In[:]``, ``In += ...``) does not count: it keeps the original.
    Builtins (``exec``) and dunder names are never the student's own: ``del exec`` brings the builtin back."""
    bound, kept = set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
                bound.add(node.name)
            kept |= _set_from_itself(node)
    return {name for name in bound - kept if name not in vars(builtins) and not SPECIAL_ATTRIBUTE.fullmatch(name)}


def _set_from_itself(node):
    """The names a statement sets from their own value: ``In = In[:]``, ``for In in In``, ``In += ...``."""
    if isinstance(node, ast.AugAssign):
        return set(_names([node.target]))
    if isinstance(node, ast.Assign):
        targets, source = node.targets, node.value
    elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
        targets, source = [node.target], node.value
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        targets, source = [node.target], node.iter
    else:
        return set()
    read = {n.id for n in ast.walk(source) if isinstance(n, ast.Name)} if source else set()
    return set(_names(targets)) & read


def _chain(node, text=None):
    """(what a chain of attributes starts from, the attribute names after it). Besides ``a.b``, a step
    may be written ``getattr(a, "b")``, ``vars(a)["b"]``, ``a.__dict__["b"]``; ``[a][0]`` and ``{"k": a}["k"]``
    are ``a``. ``text``: how a name argument reads as a string (a folder's; string literals only by default)."""
    text = text or _literal_text
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (step := _named_step(node, text)) is not None:
            node, name = step
            if name is not None:
                parts.append(name)
        else:
            break
    return node, parts[::-1]


def _named_step(node, text):
    """(object, attribute name or None) when ``node`` reads an attribute by a name given as a value
    (``getattr(a, "b")``, ``vars(a)["b"]``, ``a.__dict__["b"]``), or (element, None) for a constant
    subscript of a container literal; None otherwise."""
    if isinstance(node, ast.Call) and _call_name(node) in _GETATTR and len(node.args) == 2 and not node.keywords:
        name = text(node.args[1])
        return (node.args[0], name) if name is not None else None
    if not isinstance(node, ast.Subscript):
        return None
    namespace = _namespace_of(node.value)
    if namespace is not None:
        name = text(node.slice)
        return (namespace, name) if name is not None else None
    key = node.slice
    if isinstance(node.value, (ast.List, ast.Tuple)) and isinstance(key, ast.Constant) and type(key.value) is int:
        if -len(node.value.elts) <= key.value < len(node.value.elts) and not any(
            isinstance(e, ast.Starred) for e in node.value.elts
        ):
            return node.value.elts[key.value], None
    if isinstance(node.value, ast.Dict) and isinstance(key, ast.Constant) and None not in node.value.keys:  # no **d
        found = [
            v
            for k, v in zip(node.value.keys, node.value.values)
            if isinstance(k, ast.Constant) and k.value == key.value
        ]
        if found:
            return found[-1], None
    return None


def _namespace_of(node):
    """``a`` for ``vars(a)`` and ``a.__dict__``, else None."""
    if isinstance(node, ast.Call) and _call_name(node) == "vars" and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return node.value
    return None


def _literal_text(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(call):
    """'a.b.c' for a call of a.b.c(...) (imports unresolved), else None."""
    parts, node = [], call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _by_last_name(table):
    """``{"register": [("events", reason)], "__code__": [(None, reason)]}`` for a table with dotted keys."""
    index = {}
    for key, reason in table.items():
        *before, last = key.split(".")
        index.setdefault(last, []).append((before[-1] if before else None, reason))
    return index


_ATTRIBUTES_BY_LAST = _by_last_name(ATTRIBUTES)


def _flagged_inside(node):
    """Whether a chain of attributes already has an attribute of ATTRIBUTES before its last one."""
    while isinstance(node, ast.Attribute):
        if node.attr in ATTRIBUTES:
            return True
        node = node.value
    return False


def _natural(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _short(node, limit=60):
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


CHECKS_PUBLIC = re.compile(r"check_\w+|CheckFailed")
CHECK_MACHINERY = re.compile(r"(?:probe|compare|check|expect)_\w+|run_probe")  # what an assignment may not replace


def _dunder_bindings(tree):
    """Special names (``__import__``, ``__builtins__``, ``__name__``...) a cell binds at its top level, however it binds
    them: an assignment, a def or class, ``import x as __import__``, ``except E as __import__``, a loop target."""
    found, stack = set(), list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]  # their bodies are their own scopes
            stack.extend(node.decorator_list)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.asname or alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ExceptHandler):
            names = [node.name] if node.name else []
            stack.extend(node.body)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names = [node.id]
        elif isinstance(node, ast.Lambda):
            names = []
        else:
            names = []
            stack.extend(ast.iter_child_nodes(node))
        found |= {name for name in names if SPECIAL_ATTRIBUTE.fullmatch(name)}
    return found


def _checks_internal(name):
    """Whether a dotted name reaches into the checks beyond what a test cell calls: ``checks.batch_data``,
    ``course_utils.checks.probing``, ``course_utils.checks.lab2.probe_generate`` (not ``checks.check_generate``)."""
    parts = name.split(".")
    if parts[:2] == ["course_utils", "checks"]:
        rest = parts[2:]
        if rest and re.fullmatch(r"lab\d+", rest[0]):
            rest = rest[1:]
    elif parts[0] == "checks":
        rest = parts[1:]
    else:
        return False
    return bool(rest) and not CHECKS_PUBLIC.fullmatch(rest[0])


def _first_match(name, table):
    """(the first prefix of a dotted name that a pattern of ``table`` matches, its reason) or None."""
    parts = name.split(".")
    patterns = [p for p in table if "*" in p or "?" in p or "[" in p]
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix in table:  # most entries are plain names: a dictionary lookup
            return prefix, table[prefix]
        for pattern in patterns:
            if fnmatchcase(prefix, pattern):
                return prefix, table[pattern]
    return None


def _string_constants(trees):
    """Names set once, anywhere, and to a string built from constants (``n = "__glo" + "bals__"``): the
    folder reads them as that string, so ``getattr(f, n)`` reads as ``f.__globals__``."""
    bound, candidates = {}, []
    for tree in trees:
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names = [node.id]
            elif isinstance(node, ast.arg):
                names = [node.arg]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [(a.asname or a.name).split(".")[0] for a in node.names]
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                names = node.names
            for name in names:
                bound[name] = bound.get(name, 0) + 1
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                candidates.append((node.targets[0].id, node.value))
    constants, candidates = {}, [(name, value) for name, value in candidates if bound.get(name) == 1]
    for _ in range(3):  # b = a + "x" after a = "...": constants of constants, a few deep
        folder = _Folder(constants)
        found = {name: text for name, value in candidates if (text := folder.text(value)) is not None}
        if not found:
            break
        constants.update(found)
        candidates = [(name, value) for name, value in candidates if name not in found]
    return constants


_GAP = (None, False)  # a piece of a string that cannot be known without running the code
_EDGE = 100  # of a long literal piece, only the ends can join others to spell a name
_STRING_METHODS = {
    "lower",
    "upper",
    "casefold",
    "swapcase",
    "title",
    "capitalize",
    "strip",
    "lstrip",
    "rstrip",
    "removeprefix",
    "removesuffix",
    "replace",
}  # none makes a string longer, but replace (checked)


class _Folder:
    """Strings built from constants, read without running anything. A folded string is a tuple of
    pieces ``(text, literal)``: ``literal`` when the text is written whole in the code (a string literal,
    or a name set once to one), not when an operation made it (a slice, a string method); a piece with
    None for text cannot be known. ``fold`` gives None for an expression that is not a string.
    Bounded: no result holds more than FOLDED_CHARS known characters or FOLDED_PIECES pieces (past
    that it is unknown), and a review reads at most 100 * FOLDED_CHARS characters of built strings."""

    def __init__(self, constants):
        self.constants, self.memo, self.budget = constants, {}, 100 * FOLDED_CHARS

    def fold(self, node):
        if id(node) not in self.memo:
            self.memo[id(node)] = self._fold(node)
        return self.memo[id(node)]

    def text(self, node):
        """The whole string an expression builds from constants, or None."""
        pieces = self.fold(node)
        return None if pieces is None or _GAP in pieces else "".join(text for text, _ in pieces)

    def prefix(self, node):
        """What the string an expression builds is known to start with ("" if nothing is known)."""
        known = []
        for text, _ in self.fold(node) or [_GAP]:
            if text is None:
                break
            known.append(text)
        return "".join(known)

    def spelled(self, pieces):
        """The names of _built_names() that pieces spell across two pieces, or inside a piece an operation
        made; None when the review's budget of characters is spent."""
        found, run, literal_spans, at = [], [], [], 0
        for text, literal in [*pieces, _GAP]:
            if text is not None:
                run.append(text)
                if literal:
                    literal_spans.append((at, at + len(text)))
                at += len(text)
                continue
            if len(run) > 1 or len(literal_spans) < len(run):  # one literal alone is judged as a literal
                whole = "".join(run)
                self.budget -= len(whole)
                if self.budget < 0:
                    return None
                matches = [match.span(1) for match in _built_names_pattern().finditer(whole)]
                for start, end in matches:
                    inside = any(
                        a <= start and end <= b and (a, b) != (start, end) for a, b in matches
                    )  # "globals" in "__globals__"
                    if not inside and not any(a <= start and end <= b for a, b in literal_spans):
                        found.append(whole[start:end])
            run, literal_spans, at = [], [], 0
        return found

    def _fold(self, node):
        if isinstance(node, ast.Constant):
            return ((node.value, True),) if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return ((self.constants[node.id], True),) if node.id in self.constants else None
        if isinstance(node, ast.JoinedStr):  # f"{'hid'}den": a value is known when it is, shown plainly
            pieces = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    pieces.append((value.value, True))
                elif value.conversion in (-1, ord("s")) and value.format_spec is None:
                    pieces.extend(self.fold(value.value) or [_GAP])
                else:
                    pieces.append(_GAP)
            return _capped(pieces)
        if isinstance(node, ast.BinOp):
            return self._operation(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):  # "stset_neddih"[::-1]
            if self.fold(node.value) is None:
                return None
            text, index = self.text(node.value), _index(node.slice)
            if text is None or index is None:
                return (_GAP,)
            try:
                return _capped([(text[index], False)])
            except (IndexError, ValueError):
                return (_GAP,)
        return None

    def _operation(self, node):
        left, right = self.fold(node.left), self.fold(node.right)
        if left is None and right is None:
            return None
        if isinstance(node.op, ast.Add):
            return _capped([*(left or [_GAP]), *(right or [_GAP])])
        if isinstance(node.op, ast.Mult):  # "ab" * 3; never "a" * 10**9
            pieces, count = (left, _integer(node.right)) if left is not None else (right, _integer(node.left))
            if count is None or len(pieces) * max(count, 0) > FOLDED_PIECES:
                return (_GAP,)
            return _capped(list(pieces) * max(count, 0))
        if isinstance(node.op, ast.Mod) and left is not None:  # "%s_%s" % ("hidden", "tests"): %s and %% only
            template = self.text(node.left)
            values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            parts = re.split(r"(%.)", template) if template is not None else None
            if (
                parts is None
                or any(p.startswith("%") and p not in ("%s", "%%") for p in parts[1::2])
                or parts[1::2].count("%s") != len(values)
            ):
                return (_GAP,)
            literal = len(left) == 1 and left[0][1]
            pieces, values = [], iter(values)
            for i, part in enumerate(parts):
                if i % 2 == 0 or part == "%%":
                    pieces.append((part if i % 2 == 0 else "%", literal))
                else:
                    pieces.extend(self.fold(next(values)) or [_GAP])
            return _capped(pieces)
        return (_GAP,)

    def _call(self, node):
        func, args = node.func, node.args
        if isinstance(func, ast.Name) and func.id == "str" and len(args) == 1 and not node.keywords:
            return self.fold(args[0])
        if isinstance(func, ast.Name) and func.id == "chr" and len(args) == 1:
            code = _integer(args[0])
            return ((chr(code), False),) if code is not None and 0 <= code < 0x110000 else (_GAP,)
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr == "decode" and isinstance(func.value, ast.Constant) and isinstance(func.value.value, bytes):
            try:  # b"hidden_tests".decode()
                return _capped([(func.value.value.decode(*[self.text(a) for a in args]), False)])
            except (TypeError, LookupError, UnicodeError):
                return (_GAP,)
        base = self.fold(func.value)
        if base is None or func.attr not in {"join", "format", *_STRING_METHODS}:
            return None
        text = self.text(func.value)
        literal = len(base) == 1 and base[0][1]
        if text is None or any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in node.keywords):
            return (_GAP,)
        if func.attr == "join":  # "".join(["hid", "den"])
            if (
                len(args) != 1
                or not isinstance(args[0], (ast.List, ast.Tuple))
                or any(isinstance(e, ast.Starred) for e in args[0].elts)
            ):
                return (_GAP,)
            pieces = []
            for i, item in enumerate(args[0].elts):
                pieces += [(text, literal)] * (i > 0) + list(self.fold(item) or [_GAP])
            return _capped(pieces)
        if func.attr == "format":
            return self._format(text, literal, args, {k.arg: k.value for k in node.keywords})
        values = [self.text(a) if _integer(a) is None else _integer(a) for a in args]
        if None in values or node.keywords:
            return (_GAP,)
        if (
            func.attr == "replace"
            and values
            and isinstance(values[0], str)
            and len(values) > 1
            and isinstance(values[1], str)
        ):
            grows = (text.count(values[0]) if values[0] else len(text) + 1) * (len(values[1]) - len(values[0]))
            if len(text) + grows > FOLDED_CHARS:
                return (_GAP,)
        try:
            return _capped([(getattr(text, func.attr)(*values), False)])
        except (TypeError, ValueError):
            return (_GAP,)

    def _format(self, template, literal, args, keywords):
        """ "{}_{}".format("hidden", "tests"): plain fields only; one with a format or a conversion is unknown."""
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError:
            return (_GAP,)
        pieces, auto = [], 0
        for text, field, spec, conversion in fields:
            if text:
                pieces.append((text, literal))
            if field is None:
                continue
            value = None
            if field == "":
                value, auto = (args[auto] if auto < len(args) else None), auto + 1
            elif field.isdigit():
                value = args[int(field)] if int(field) < len(args) else None
            elif field.isidentifier():
                value = keywords.get(field)
            pieces.extend(
                (self.fold(value) if value is not None and not spec and conversion in (None, "s") else None) or [_GAP]
            )
        return _capped(pieces)


def _capped(pieces):
    """Pieces within the folder's bounds: a long literal keeps only its ends, past the bounds all is unknown."""
    if len(pieces) > FOLDED_PIECES:
        return (_GAP,)
    if any(literal and text is not None and len(text) > 2 * _EDGE for text, literal in pieces):
        kept = []
        for text, literal in pieces:
            long = literal and text is not None and len(text) > 2 * _EDGE
            kept += [(text[:_EDGE], True), _GAP, (text[-_EDGE:], True)] if long else [(text, literal)]
        pieces = kept
    if sum(len(text) for text, _ in pieces if text) > FOLDED_CHARS:
        return (_GAP,)
    return tuple(pieces)


def _integer(node):
    """The value of an integer constant (``3``, ``-1``), or None."""
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    node = node.operand if negative else node
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return -node.value if negative else node.value
    return None


def _index(node):
    """An index or slice of integer constants, as Python takes it, or None."""
    if not isinstance(node, ast.Slice):
        return _integer(node)
    bounds = [None if part is None else _integer(part) for part in (node.lower, node.upper, node.step)]
    if any(b is None and part is not None for b, part in zip(bounds, (node.lower, node.upper, node.step))):
        return None
    return slice(*bounds)


def _may_name_flagged(prefix):
    """Whether an attribute name known to start with ``prefix`` could be special or one of ATTRIBUTES."""
    return not prefix or prefix.startswith("_") or any(key.startswith(prefix) for key in _ATTRIBUTES_BY_LAST)


@functools.cache
def _built_names():
    """Every name a string built from pieces is flagged for spelling out, with its reason."""
    plain = {name: reason for name, reason in NAMES.items() if len(name) >= 4 and not any(c in name for c in "*?[")}
    return {**plain, **ATTRIBUTES, **BUILT_NAMES}


@functools.cache
def _built_names_pattern():
    names = sorted(_built_names(), key=len, reverse=True)  # the longest name at each place
    return re.compile(r"(?=(?<![A-Za-z0-9])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9]))")


class _Review(ast.NodeVisitor):
    def __init__(self, label, bindings, shells, module_names, own, constants, flags):
        self.label, self.bindings, self.shells, self.module_names, self.own, self.flags = (
            label,
            bindings,
            shells,
            module_names,
            own,
            flags,
        )
        self.constants, self.folder = constants, _Folder(constants)
        self.called = set()  # ids of nodes that are the function of a call
        self.parents = {}  # id of a node -> the node it is in
        self.folded = set()  # ids of nodes inside a built string already judged whole

    def flag(self, text):
        self.flags.add(f"{self.label}: {text}")

    def review(self, tree):
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
            if isinstance(node, ast.Call):
                self.called.add(id(node.func))
        self._rebindings(tree)
        for name in sorted(_dunder_bindings(tree)):
            self.flag(
                f"binds {name} in the notebook's namespace (a name Python itself looks up: the grader's requests run there)"
            )
        self.visit(tree)

    # --- resolving names -------------------------------------------------------------------

    def chain(self, node):
        return _chain(node, self.folder.text)

    def dotted(self, node):
        """The dotted name of a chain of attributes, imports resolved (``get_ipython()`` for the
        shell), or None when the chain does not start from a name. ``getattr(a, "b")``, ``vars(a)["b"]``
        and ``[a][0].b`` are chains too (see _chain)."""
        root, parts = self.chain(node)
        if self.is_shell(root):
            return ".".join([SHELL, *parts])
        if not isinstance(root, ast.Name):
            return None
        name = [*self.bindings.get(root.id, (root.id,))[0].split("."), *parts]
        if root.id in self.bindings or root.id in self.module_names:  # os.sys.modules is sys.modules
            reached = [i for i, part in enumerate(name) if i and part in REEXPORTED_MODULES]
            name = name[reached[-1] :] if reached else name
        return ".".join(name)

    def is_own(self, node):
        """Whether a chain of attributes starts from a name the student's code binds (``In = keras.Input(...)``)."""
        root, _ = self.chain(node)
        return isinstance(root, ast.Name) and root.id in self.own

    def is_shell(self, node):
        if isinstance(node, ast.Name):
            return node.id in self.shells
        return isinstance(node, ast.Call) and self.dotted(node.func) in _SHELL_FUNCTIONS

    def reach(self, node):
        """Where an object comes from: (how, name, indirect). ``how``: "shell"; how the imported
        module it comes from is bound ("module", "name", "alias", "container"; "setup" for the
        instructor's imports); "object" when it comes from another name (the student's own, the
        instructor's variables); None when no name leads to it (a literal, a builtin's result).
        ``indirect``: through a subscript, a call or a container, not only attributes (``[np][0].x``
        and ``getattr(np, "x")`` are attributes)."""
        leaves = self._sources(node)
        indirect = any(through for _, through in leaves)
        found = None, None
        for leaf, through in leaves:
            if self.is_shell(leaf):
                return "shell", SHELL, indirect
            if isinstance(leaf, ast.Name) and leaf.id not in self.own:
                how = (
                    self.bindings[leaf.id][1]
                    if leaf.id in self.bindings
                    else ("setup" if leaf.id in self.module_names else None)
                )
                if how and (how != "container" or through):  # a container itself is no module
                    return how, leaf.id, indirect
            if isinstance(leaf, ast.Name) and (leaf.id in self.own or leaf.id not in vars(builtins)):
                found = "object", leaf.id
        return *found, indirect

    def _sources(self, node):
        """(leaf, whether reached through a subscript, call or container) for each name or other
        expression an object can come from: what an attribute chain starts from, the elements of a
        container literal, what a lambda or a builtin (``next(iter([np]))``) is given."""
        found, stack = [], [(node, False)]
        while stack:
            node, through = stack.pop()
            step = _named_step(node, self.folder.text)
            if step is not None:
                stack.append((step[0], through))
            elif isinstance(node, (ast.Attribute, ast.Starred, ast.NamedExpr, ast.Await)):
                stack.append((node.value, through))
            elif isinstance(node, ast.Subscript):
                stack.append((node.value, True))
            elif isinstance(node, ast.Call) and not self.is_shell(node):
                stack.append((node.func, True))
                if isinstance(node.func, ast.Name) and node.func.id in vars(builtins) and node.func.id not in self.own:
                    stack += [(a, True) for a in node.args]
            elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                stack += [(e, True) for e in node.elts]
            elif isinstance(node, ast.Dict):
                stack += [(v, True) for v in node.values]
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                stack += [(node.value if isinstance(node, ast.DictComp) else node.elt, True)] + [
                    (g.iter, True) for g in node.generators
                ]
            elif isinstance(node, ast.IfExp):
                stack += [(node.body, True), (node.orelse, True)]
            elif isinstance(node, ast.BoolOp):
                stack += [(v, True) for v in node.values]
            elif isinstance(node, ast.Lambda):
                stack.append((node.body, True))
            else:
                found.append((node, through))
        return found

    def _described(self, root, how):
        if how in ("module", "setup"):
            return f"imported module `{root}`"
        if how == "name":
            return f"imported `{root}`"
        if how == "alias":
            return f"`{root}`, which is {self.bindings[root][0]}"
        return f"`{root}`, which holds an imported module"

    def _outermost(self, node):
        """The longest chain of attributes ``node`` is the start of (``e.__traceback__.tb_frame.f_back``)."""
        while isinstance(parent := self.parents.get(id(node)), ast.Attribute):
            node = parent
        return node

    def check_name(self, name, verb="uses"):
        match = _first_match(name, NAMES)
        if match:  # an import is named in full (urllib.request), a use by what matched (sys.modules)
            self.flag(f"{verb} {name if verb == 'imports' else match[0]} ({match[1]})")
        elif _checks_internal(name):
            self.flag(f"{verb} {name} ({_PROBES})")
        elif verb == "uses" and HISTORY_NAME.fullmatch(name.split(".")[0]):
            self.flag(f"uses {name.split('.')[0]} ({_HISTORY})")

    def check_string(self, text, shown):
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if PATH_SHAPE.fullmatch(text):
            for pattern, reason in _STRING_RULES:
                if pattern.search(text):
                    self.flag(f"names {shown} ({reason})")
        if GRADER_STRING.search(text):
            self.flag(f"names {shown} ({_GRADER})")
        elif text in ATTRIBUTES:  # events.register("post_run_cell", f), getattr(f, "__globals__")
            self.flag(f"names {shown} ({ATTRIBUTES[text]})")

    def _built(self, node):
        """Flags a string built from pieces that spells a name of the tables; judged once, whole, at
        the outermost expression that builds it."""
        if id(node) in self.folded:
            return
        pieces = self.folder.fold(node)
        if pieces is None:
            return
        self.folded.update(id(n) for n in ast.walk(node))
        names = self.folder.spelled(pieces)
        if names is None:
            self.flag(f"cell too large to review (it builds over {100 * FOLDED_CHARS:,} characters of strings)")
        for name in names or []:
            self.flag(f"builds the name {name!r} from pieces ({_short(node)}: {_built_names()[name]})")

    # --- imports --------------------------------------------------------------------------

    def visit_Import(self, node):
        for alias in node.names:
            self.check_name(alias.name, "imports")

    def visit_ImportFrom(self, node):
        if not node.module or node.level:
            return
        for alias in node.names:
            if alias.name == "*":
                flagged = sorted(p for p in NAMES if p.startswith(node.module + "."))
                if flagged:
                    self.flag(f"imports * from {node.module}, which hides the use of {', '.join(flagged[:3])}")
                self.check_name(node.module, "imports")
            else:
                self.check_name(f"{node.module}.{alias.name}", "imports")

    # --- names and attributes -------------------------------------------------------------

    def visit_Name(self, node):
        if node.id not in self.own:
            self.check_name(self.dotted(node))
        if isinstance(node.ctx, ast.Load):
            self._shell_value(node)

    def visit_Attribute(self, node):
        name = self.dotted(node)
        if name and not self.is_own(node):
            self.check_name(name)
        self._shell_value(node)
        if node.attr == "__dict__" and self.reach(node.value)[0] in _PATCHABLE:
            self.flag(f"uses {_short(node)} ({_NAMESPACE})")
        for before, reason in _ATTRIBUTES_BY_LAST.get(node.attr, []):
            if not before or (isinstance(node.value, ast.Attribute) and node.value.attr == before):
                if not _flagged_inside(node.value):  # e.tb_frame.f_back.f_globals: one flag, for the whole chain
                    self.flag(f"uses {_short(self._outermost(node))} ({reason})")
        if self.is_shell(node.value):
            self._shell_attribute(node.attr, node)
        self.generic_visit(node)

    def _shell_attribute(self, attribute, node=None):
        """Flags an attribute of the IPython shell that ATTRIBUTES does not (``node``: the attribute read, if written as one)."""
        if attribute in ATTRIBUTES:
            return
        if attribute in SHELL_COMMANDS:
            if node is None or id(node) not in self.called:  # calls are flagged with their command in visit_Call
                self.flag(f"uses {SHELL}.{attribute} (runs {_SHELL_MAGIC})")
        elif attribute not in MAGIC_RUNNERS | HARMLESS_SHELL:
            self.flag(f"uses {SHELL}.{attribute} (the IPython shell's internals)")

    def _shell_value(self, node):
        """Flags the IPython shell, or get_ipython itself, used as a value: the review follows the shell
        only in ``get_ipython().name``, ``getattr(get_ipython(), "name")`` and ``ip = get_ipython()``;
        ``(lambda: get_ipython())()``, ``g = get_ipython`` or ``[get_ipython][0]()`` take it elsewhere."""
        parent = self.parents.get(id(node))
        if not isinstance(node, ast.Call) and self.dotted(node) in _SHELL_FUNCTIONS:
            if not (isinstance(parent, ast.Call) and parent.func is node):
                self.flag(f"uses get_ipython as a value ({_short(parent or node)}: {_SHELL_VALUE})")
            return
        if not self.is_shell(node) or isinstance(parent, (ast.Expr, ast.Attribute, ast.Compare)):
            return
        if isinstance(parent, ast.Assign) and all(isinstance(t, ast.Name) for t in parent.targets):
            return
        if (
            isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node
        ):  # if ip is None / if ip:
            return
        if (step := _named_step(parent, self.folder.text)) is not None and step[0] is node:
            return
        self.flag(f"passes the IPython shell on as a value ({_short(parent)}: {_SHELL_VALUE})")

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.check_string(node.value, repr(node.value))

    def visit_JoinedStr(self, node):
        """An f-string is judged whole, each value read as "x": f"{base}/../a.py" names a path, and
        f"epoch {e}/2, mean {m}" does not (its fragment "/2, mean " is no path)."""
        self._built(node)
        self.check_string("".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values), _short(node))
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.generic_visit(value)

    def visit_BinOp(self, node):
        self._built(node)
        self.generic_visit(node)

    def visit_Subscript(self, node):
        namespace = _namespace_of(node.value)
        if namespace is not None:  # vars(x)["name"], x.__dict__[name]
            verb = {ast.Store: "sets", ast.Del: "deletes"}.get(type(node.ctx), "uses")
            form = "vars({})[{}]" if isinstance(node.value, ast.Call) else "{}.__dict__[{}]"
            self._named_access(namespace, node.slice, verb, form, _short(node))
        self._built(node)
        self.generic_visit(node)

    # --- assignments ----------------------------------------------------------------------

    def _targets(self, targets, verb):
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                self._targets(target.elts, verb)
            elif isinstance(target, ast.Starred):
                self._targets([target.value], verb)
            elif isinstance(target, ast.Attribute):
                written = f"del {_short(target)}" if verb == "deletes" else f"{_short(target)} = ..."
                before = len(self.flags)
                self._patched(target, verb, written)
                self._special(target.attr, verb, written)
                if (
                    CHECK_MACHINERY.fullmatch(target.attr) and len(self.flags) == before
                ):  # through what this review cannot trace
                    self.flag(
                        f"{verb} an attribute named {target.attr}, as the checks name their parts ({written}: {_PROBES})"
                    )

    def _patched(self, target, verb, written):
        """Flags writing an attribute of an imported module (or class), of an alias of one, or of the
        IPython shell; of an object reached from one through a subscript, a call or a container
        (``(np,)[0].x = ...``); or of an object no name leads to (``().__class__.__base__.x = ...``)."""
        how, root, indirect = self.reach(target)
        if how == "shell":
            self.flag(f"{verb} an attribute of the IPython shell ({written})")
        elif how in _PATCHABLE and indirect:
            self.flag(f"{verb} an attribute of an object reached from {self._described(root, how)} ({written})")
        elif how in _PATCHABLE and how != "container":
            self.flag(f"{verb} an attribute of {self._described(root, how)} ({written})")
        elif how is None:
            self.flag(f"{verb} an attribute of an object this review cannot trace ({written})")

    def _special(self, attribute, verb, written):
        if SPECIAL_ATTRIBUTE.fullmatch(attribute):
            self.flag(f"{verb} special attribute {attribute} ({written}: {_SPECIAL})")

    def visit_Assign(self, node):
        self._targets(node.targets, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._targets([node.target], "assigns")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._targets([node.target], "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node):
        self._targets(node.targets, "deletes")
        self.generic_visit(node)

    def visit_For(self, node):
        self._targets([node.target], "assigns")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        self._targets([item.optional_vars for item in node.items if item.optional_vars is not None], "assigns")
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    # --- calls ----------------------------------------------------------------------------

    def visit_Call(self, node):
        function = self.dotted(node.func)
        args = node.args
        self._shell_value(node)
        verb = _NAMED_ACCESS.get(function)
        if verb and args:
            written = f"{function}({', '.join(_short(a, 30) for a in args[:2])}, ...)"
            if verb in ("sets", "deletes"):
                self._patched(args[0], verb, written)
            if len(args) >= 2:
                self._named_access(args[0], args[1], verb, f"{function}({{}}, {{}})", written)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__") and args:
            self._patched(node.func.value, "sets", f"{_short(node.func)}(...)")
        if function == "vars" and not args:
            self.flag(f"uses vars() ({NAMES['globals']})")
        elif function == "vars" and args:
            how = self.reach(args[0])[0]
            if how == "shell":
                self.flag(f"uses vars({SHELL}) (the IPython shell's internals)")
            elif how in _PATCHABLE:
                self.flag(f"uses vars({_short(args[0])}) ({_NAMESPACE})")
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and any(k.arg and k.arg.startswith("co_") for k in node.keywords)
        ):
            self.flag(f"makes a changed code object ({_short(node)}: {_CODE})")  # f.__code__.replace(co_consts=...)
        if isinstance(node.func, ast.Attribute) and self.is_shell(node.func.value):
            self._shell_call(node.func.attr, args)
        self._built(node)
        self.generic_visit(node)

    def _named_access(self, obj, name, verb, form, written):
        """Flags reading or writing an attribute named by a value: getattr/setattr/delattr/hasattr,
        ``vars(x)[...]``, ``x.__dict__[...]``. A name built from constants is read as that attribute
        (``getattr(sys, "mod" + "ules")`` uses sys.modules); a name chosen at run time is flagged when
        it is written (it could be ``__code__``), and when it is read from the modules of
        _SENSITIVE_ROOTS, the shell, or an object no name leads to."""
        text = self.folder.text(name)
        if text is not None:
            target = None if self.is_own(obj) else self.dotted(obj)
            if target:  # getattr(sys, "modules") is sys.modules
                self.check_name(f"{target}.{text}")
            if text in ATTRIBUTES:
                self.flag(f"uses {form.format(_short(obj, 30), repr(text))} ({ATTRIBUTES[text]})")
            if self.is_shell(obj):
                self._shell_attribute(text)
            if verb in ("sets", "deletes"):
                self._special(text, verb, written)
            return
        if verb == "tests":
            return  # hasattr(x, name) only answers yes or no
        target, (how, _, indirect) = self.dotted(obj), self.reach(obj)
        if target in _SENSITIVE_ROOTS:
            self.flag(f"uses {form.format(target, '<computed name>')} (an attribute of {target} chosen at run time)")
        elif how in ("module", "setup", "name", "alias") and not indirect and verb == "uses":
            return  # getattr(keras.layers, name): reading a module's attributes by name is ordinary
        elif _may_name_flagged(self.folder.prefix(name)):  # getattr(self, f"w_{gate}") cannot
            shown = form.format(_short(obj, 30), "<computed name>")
            self.flag(
                f"{'reads' if verb == 'uses' else verb} an attribute whose name is chosen at run time ({shown}: it could be __globals__ or any name flagged here)"
            )

    def _shell_call(self, method, args):
        literal = [self.folder.text(a) for a in args]
        if method in SHELL_COMMANDS:
            command = literal[0] if literal and literal[0] is not None else "..."
            command = command if len(command) <= 50 else command[:47] + "..."
            self.flag(f"runs {_SHELL_MAGIC} (!{command})")
        elif method in MAGIC_RUNNERS:
            if not literal or literal[0] is None:
                self.flag(f"runs a magic chosen at run time ({SHELL}.{method})")
                return
            if not literal[0].split():
                return  # a lone "%": no magic at all
            name, *rest = literal[0].split(maxsplit=1)  # magic("ls -l") names and arguments at once
            prefix = "%%" if method == "run_cell_magic" else "%"
            if name in MAGICS:
                self.flag(f"runs {prefix}{name} ({MAGICS[name]})")
            elif name in CODE_MAGICS:
                code = (
                    literal[2]
                    if method == "run_cell_magic" and len(literal) > 2
                    else (literal[1] if len(literal) > 1 else (rest[0] if rest else None))
                )
                tree, problem = _read(code) if code else (None, None)
                if problem:
                    self.flag(problem)
                if tree is not None:  # %time sys.modules[...] = ...: the timed code is reviewed too
                    _Review(
                        self.label, self.bindings, self.shells, self.module_names, self.own, self.constants, self.flags
                    ).review(tree)

    # --- rebinding the instructor's names ------------------------------------------------

    def _rebindings(self, tree):
        """Flags top-level code that rebinds a name the instructor's setup imported (``checks = ...``):
        the visible tests call ``checks.check_...`` from the notebook's globals."""
        for name, written in _top_level_bindings(tree.body):
            if name in self.module_names:
                self.flag(f"rebinds `{name}`, which the instructor's setup imported ({written})")


def _top_level_bindings(body):
    """(name, how) for every name the statements bind in the notebook's globals; imports excepted
    (re-importing numpy as np is ordinary), function bodies only through ``global``."""
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            keyword = "class" if isinstance(statement, ast.ClassDef) else "def"
            yield statement.name, f"{keyword} {statement.name}"
            for node in ast.walk(statement):
                if isinstance(node, ast.Global):
                    for name in node.names:
                        yield name, f"global {name} in {statement.name}"
            continue
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            continue
        targets = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [statement.target]
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in statement.items if item.optional_vars is not None]
        elif isinstance(statement, ast.Delete):
            targets = statement.targets
        for name in _names(targets):
            yield name, f"del {name}" if isinstance(statement, ast.Delete) else f"{name} = ..."
        for node in ast.walk(statement):  # (checks := ...) and except ... as checks
            if isinstance(node, ast.NamedExpr):
                yield node.target.id, f"{node.target.id} := ..."
            elif isinstance(node, ast.ExceptHandler) and node.name:
                yield node.name, f"except ... as {node.name}"
        for field in ("body", "orelse", "finalbody"):  # if, for, while, with, try: still the globals
            nested = getattr(statement, field, None)
            if isinstance(nested, list):
                yield from _top_level_bindings(nested)
        for handler in getattr(statement, "handlers", []):
            yield from _top_level_bindings(handler.body)
        for case in getattr(statement, "cases", []):
            yield from _top_level_bindings(case.body)


def _names(targets):
    """The plain names among assignment targets (``a, (b, *c) = ...``); ``a.x`` and ``a[0]`` bind none."""
    for target in targets:
        if isinstance(target, ast.Name):
            yield target.id
        elif isinstance(target, (ast.Tuple, ast.List)):
            yield from _names(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _names([target.value])
