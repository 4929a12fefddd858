"""Review flags: student code that touches the grading machinery, listed for a human to read.

Test cells always come from the instructor's notebook, but they run in the same kernel as the
student's code, so that code can still reach them: replace a check (``checks.check_lstm_cell =
...``), swap a module in ``sys.modules``, silence the traceback that marks a test as failed, read
the hidden tests (``inspect.getsource``, the ``In`` history), or leave the working folder. Nothing
here stops that (a determined student can hide anything from a static reading); it lists, for the
``flags`` column of the grades CSV, the places where a reviewer should look.

The rules are tables of names with the reason each is flagged. Code is read, never run: each
cell goes through IPython's input transformer (``!cmd``, ``%magic``, ``%%cell`` become Python),
then :mod:`ast`. A cell that does not parse gets no flags.
"""
import ast
import builtins
import functools
import re
from fnmatch import fnmatchcase

# Names the instructor's setup cells bind to modules (the caller passes the real ones).
DEFAULT_MODULE_NAMES = frozenset({"np", "tf", "keras", "plt", "checks", "course_utils", "os", "sys", "json", "ops", "math", "random"})

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

# Dotted names, after imports are resolved (``from inspect import getsource as g`` makes ``g`` mean
# ``inspect.getsource``), whose import or use is flagged. Patterns as in fnmatch; every prefix of
# a dotted name is tried, so ``subprocess`` covers ``subprocess.run`` too.
NAMES = {
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
    "inspect.currentframe": _FRAMES,
    "inspect.getouterframes": _FRAMES,
    "inspect.getinnerframes": _FRAMES,
    "inspect.getframeinfo": _FRAMES,
    "sys._getframe": _FRAMES,
    "sys._current_frames": _FRAMES,
    "gc.get_objects": "reaches every live object, the checks included",
    "gc.get_referrers": "reaches every live object, the checks included",
    "gc.get_referents": "reaches every live object, the checks included",
    "linecache": _SOURCE,
    "dis": "disassembles code, the hidden tests' included",
    "marshal": "reads or writes compiled code",
    "sys.settrace": "runs code at every line, the tests' included",
    "sys.setprofile": "runs code at every call, the tests' included",
    "threading.settrace": "runs code at every line, the tests' included",
    "threading.setprofile": "runs code at every call, the tests' included",
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

# IPython's other history names: _i12 (the code of cell 12), _12 (its result), _ih, _oh, _dh; not _2d.
HISTORY_NAME = re.compile(r"_(?:\d+|i\d*|ii|iii|ih|oh|dh)")

# Modules that other modules hold as attributes (os.sys, np.sys, importlib.sys): a chain from an
# imported module that reaches one of these is judged as that module's (os.sys.modules is sys.modules).
REEXPORTED_MODULES = {"sys", "os", "builtins", "importlib", "inspect", "gc", "types", "threading", "subprocess", "ctypes", "linecache"}

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
    "events.register": "runs code before or after every cell, the test cells included",
    "history_manager": _HISTORY,
    "user_ns": "the notebook's global names, the checks included",
    "user_global_ns": "the notebook's global names, the checks included",
    # A function's code, globals and defaults: replacing them changes a check without renaming it.
    "__code__": "a function's code and globals",
    "__globals__": "a function's code and globals",
    "__closure__": "a function's code and globals",
    "__defaults__": "a function's code and globals",
    "__kwdefaults__": "a function's code and globals",
    "__builtins__": _BUILTINS,
    "__subclasses__": "reaches every class, the checks' included",
    "f_globals": _FRAMES,
    "f_locals": _FRAMES,
    "f_back": _FRAMES,
    "f_code": _FRAMES,
    "tb_frame": _FRAMES,
    "gi_frame": _FRAMES,
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
    **dict.fromkeys(["!", "system", "sx", "sc", "bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy",
                     "alias", "cat", "cp", "ls", "ll", "lf", "lk", "lx", "ldir", "mkdir", "mv", "rm", "rmdir", "less", "more", "man"], _SHELL_MAGIC),
    **dict.fromkeys(["pip", "conda", "mamba", "micromamba"], "installs packages, which can replace the course's modules"),
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
    r"autograde|hidden_tests": "the grader's private package",
    r"site-packages|dist-packages": "the installed packages' files",
    r"\.(?:py|pyc|pth)$": "a Python file",
}
_STRING_RULES = [(re.compile(pattern), reason) for pattern, reason in STRINGS.items()]

_SHELL_FUNCTIONS = {"get_ipython", "IPython.get_ipython", "IPython.core.getipython.get_ipython"}
_SENSITIVE_ROOTS = {"sys", "os", "builtins", "__builtins__", "inspect", "gc", "importlib", SHELL}  # getattr(sys, name)
_PATCHABLE = {"module", "setup", "name", "alias"}  # how a root is bound when writing through it patches a module


def review_flags(cells, module_names=DEFAULT_MODULE_NAMES):
    """Flags for the student's code cells, sorted, e.g. ``"cell 14: uses inspect.getsource (...)"``.

    ``cells``: ``(label, source)`` pairs, the student's answers and extra cells, in notebook order.
    ``module_names``: the names the instructor's setup cells import (``np``, ``checks``, ...).
    """
    trees = [(label, tree) for label, source in cells if (tree := _parse(source)) is not None]
    module_names = frozenset(module_names)
    bindings, shells = {}, set()
    for _, tree in trees:  # a module imported in one cell can be patched in another
        _collect_bindings(tree, bindings, shells)
    _collect_aliases([tree for _, tree in trees], bindings, module_names)
    own = _own_names([tree for _, tree in trees]) - set(bindings) - module_names
    flags = set()
    for label, tree in trees:
        _Review(label, bindings, shells, module_names, own, flags).review(tree)
    return sorted(flags, key=_natural)


@functools.cache
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _parse(source):
    """The AST of a cell after IPython's transformations, or None if it does not parse."""
    try:
        return ast.parse(_transformer().transform_cell(source))
    except Exception:  # SyntaxError, or anything IPython's transformer raises on odd input
        return None


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
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _call_name(node.value) in _SHELL_FUNCTIONS:
            shells.update(t.id for t in node.targets if isinstance(t, ast.Name))


def _collect_aliases(trees, bindings, module_names):
    """Names bound, anywhere, to an imported module or to one of its attributes (``_L = keras.layers.LSTM``,
    ``cls = np.ndarray``): writing through them patches the module as writing through its name does."""
    pairs = [pair for tree in trees for node in ast.walk(tree) for pair in _assigned(node)]
    changed = True
    while changed:  # b = a.x after a = np: aliases of aliases
        changed = False
        for name, value in pairs:
            root = _chain_root(value)
            if name not in bindings and name not in module_names and isinstance(root, ast.Name) and (root.id in bindings or root.id in module_names):
                bindings[name] = (_resolved(value, bindings), "alias")
                changed = True


def _assigned(node):
    """(name, value) for each plain name a statement sets to a name or a chain of attributes."""
    if isinstance(node, ast.Assign):
        pairs = [(t, node.value) for t in node.targets]
    elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        pairs = [(node.target, node.value)]
    else:
        return []
    for target, value in list(pairs):  # a, b = np.x, np.y
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) and len(target.elts) == len(value.elts):
            pairs += zip(target.elts, value.elts)
    return [(t.id, v) for t, v in pairs if isinstance(t, ast.Name) and isinstance(v, (ast.Name, ast.Attribute))]


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


def _chain_root(node):
    """What a chain of attributes starts from (``np`` in ``np.linalg.norm``)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _resolved(node, bindings):
    """The dotted name of a chain of attributes from a name, imports and aliases resolved."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([bindings.get(node.id, (node.id,))[0], *reversed(parts)])


def _call_name(call):
    """'a.b.c' for a call of a.b.c(...) (imports unresolved), else None."""
    parts, node = [], call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


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


class _Review(ast.NodeVisitor):
    def __init__(self, label, bindings, shells, module_names, own, flags):
        self.label, self.bindings, self.shells, self.module_names, self.own, self.flags = label, bindings, shells, module_names, own, flags
        self.called = set()  # ids of nodes that are the function of a call

    def flag(self, text):
        self.flags.add(f"{self.label}: {text}")

    def review(self, tree):
        self.called |= {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        self._rebindings(tree)
        self.visit(tree)

    # --- resolving names -------------------------------------------------------------------

    def dotted(self, node):
        """The dotted name of a chain of attributes, imports resolved (``get_ipython()`` for the
        shell), or None when the chain does not start from a name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if self.is_shell(node):
            return ".".join([SHELL, *reversed(parts)])
        if not isinstance(node, ast.Name):
            return None
        name = [*self.bindings.get(node.id, (node.id,))[0].split("."), *reversed(parts)]
        if node.id in self.bindings or node.id in self.module_names:  # os.sys.modules is sys.modules
            reached = [i for i, part in enumerate(name) if i and part in REEXPORTED_MODULES]
            name = name[reached[-1]:] if reached else name
        return ".".join(name)

    def is_own(self, node):
        """Whether a chain of attributes starts from a name the student's code binds (``In = keras.Input(...)``)."""
        root = _chain_root(node)
        return isinstance(root, ast.Name) and root.id in self.own

    def is_shell(self, node):
        if isinstance(node, ast.Name):
            return node.id in self.shells
        return isinstance(node, ast.Call) and not node.args and self.dotted(node.func) in _SHELL_FUNCTIONS

    def root(self, node):
        """The name a chain of attributes starts from, and how it was bound: "module", "name",
        "setup" (the instructor's imports), "shell", or None for anything else."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if self.is_shell(node):
            return SHELL, "shell"
        if isinstance(node, ast.Name):
            if node.id in self.bindings:
                return node.id, self.bindings[node.id][1]
            if node.id in self.module_names:
                return node.id, "setup"
        return None, None

    def check_name(self, name, verb="uses"):
        match = _first_match(name, NAMES)
        if match:  # an import is named in full (urllib.request), a use by what matched (sys.modules)
            self.flag(f"{verb} {name if verb == 'imports' else match[0]} ({match[1]})")
        elif verb == "uses" and HISTORY_NAME.fullmatch(name.split(".")[0]):
            self.flag(f"uses {name.split('.')[0]} ({_HISTORY})")

    def check_string(self, text, shown):
        if PATH_SHAPE.fullmatch(text):
            for pattern, reason in _STRING_RULES:
                if pattern.search(text):
                    self.flag(f"names {shown if len(shown) <= 60 else shown[:57] + '...'} ({reason})")

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

    def visit_Attribute(self, node):
        name = self.dotted(node)
        if name and not self.is_own(node):
            self.check_name(name)
        if node.attr == "__dict__" and self.root(node.value)[1] in _PATCHABLE:
            self.flag(f"uses {_short(node)} ({_NAMESPACE})")
        for key, reason in ATTRIBUTES.items():
            *before, last = key.split(".")
            if node.attr == last and (not before or (isinstance(node.value, ast.Attribute) and node.value.attr == before[-1])):
                if not _flagged_inside(node.value):  # e.tb_frame.f_back.f_globals: one flag, at tb_frame
                    self.flag(f"uses {_short(node)} ({reason})")
        if self.is_shell(node.value) and node.attr not in ATTRIBUTES:
            if node.attr in SHELL_COMMANDS:
                if id(node) not in self.called:  # calls are flagged with their command in visit_Call
                    self.flag(f"uses {SHELL}.{node.attr} (runs {_SHELL_MAGIC})")
            elif node.attr not in MAGIC_RUNNERS | HARMLESS_SHELL:
                self.flag(f"uses {SHELL}.{node.attr} (the IPython shell's internals)")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.check_string(node.value, repr(node.value))

    def visit_JoinedStr(self, node):
        """An f-string is judged whole, each value read as "x": f"{base}/../a.py" names a path, and
        f"epoch {e}/2, mean {m}" does not (its fragment "/2, mean " is no path)."""
        self.check_string("".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values), _short(node))
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.generic_visit(value)

    # --- assignments ----------------------------------------------------------------------

    def _targets(self, targets, verb):
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                self._targets(target.elts, verb)
            elif isinstance(target, ast.Starred):
                self._targets([target.value], verb)
            elif isinstance(target, ast.Attribute):
                written = f"del {_short(target)}" if verb == "deletes" else f"{_short(target)} = ..."
                self._patched(target, verb, written)
                self._special(target.attr, verb, written)

    def _patched(self, target, verb, written):
        """Flags writing an attribute of an imported module (or class), of an alias of one, or of the IPython shell."""
        root, how = self.root(target)
        if how == "shell":
            self.flag(f"{verb} an attribute of the IPython shell ({written})")
        elif how in ("module", "setup"):
            self.flag(f"{verb} an attribute of imported module `{root}` ({written})")
        elif how == "name":
            self.flag(f"{verb} an attribute of imported `{root}` ({written})")
        elif how == "alias":
            self.flag(f"{verb} an attribute of `{root}`, which is {self.bindings[root][0]} ({written})")

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
        if function in ("setattr", "delattr", "object.__setattr__", "object.__delattr__", "type.__setattr__", "type.__delattr__") and args:
            verb = "sets" if "set" in function else "deletes"
            written = f"{function}({', '.join(_short(a, 30) for a in args[:2])}, ...)"
            self._patched(args[0], verb, written)
            if len(args) >= 2 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
                self._special(args[1].value, verb, written)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__") and args:
            self._patched(node.func.value, "sets", f"{_short(node.func)}(...)")
        if function in ("getattr", "setattr", "delattr", "hasattr") and len(args) >= 2:
            target = None if self.is_own(args[0]) else self.dotted(args[0])
            if isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
                if target:  # getattr(sys, "modules") is sys.modules
                    self.check_name(f"{target}.{args[1].value}")
                if args[1].value in ATTRIBUTES:
                    self.flag(f"uses {function}(..., {args[1].value!r}) ({ATTRIBUTES[args[1].value]})")
            elif target in _SENSITIVE_ROOTS:
                self.flag(f"uses {function}({target}, <computed name>) (an attribute of {target} chosen at run time)")
        if function == "vars" and not args:
            self.flag(f"uses vars() ({NAMES['globals']})")
        elif function == "vars" and self.root(args[0])[1] in _PATCHABLE:
            self.flag(f"uses vars({_short(args[0])}) ({_NAMESPACE})")
        if isinstance(node.func, ast.Attribute) and self.is_shell(node.func.value):
            self._shell_call(node.func.attr, args)
        self.generic_visit(node)

    def _shell_call(self, method, args):
        literal = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in args]
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
                code = literal[2] if method == "run_cell_magic" and len(literal) > 2 else (literal[1] if len(literal) > 1 else (rest[0] if rest else None))
                tree = _parse(code) if code else None
                if tree is not None:  # %time sys.modules[...] = ...: the timed code is reviewed too
                    _Review(self.label, self.bindings, self.shells, self.module_names, self.own, self.flags).review(tree)

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
