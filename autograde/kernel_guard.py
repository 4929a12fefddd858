"""Runs inside a grading kernel: private tests, and evidence that the grading machinery is intact.

The grader never imports this module in the kernel (a sandboxed kernel cannot even read
autograde/): it sends this file's text, which the kernel executes in a fresh namespace with a
private copy of the builtins, before any student code runs (:mod:`autograde.private_tests`
builds the requests). The guard's own work uses no module a student could patch later: the
sources come as a Python literal, and results go back as one (``repr``). Before the first cell runs,
:class:`Guard` records the functions, classes and hooks that grading relies on: every
callable of numpy, TensorFlow, Keras, course_utils, IPython, ipykernel and the standard
modules that show errors, every method of their classes, the shell's traceback and display
hooks and its input transformers. Around each test cell it

- puts back whatever student code replaced since (the test runs on the real machinery) and
  reports it;
- gives the test cell *private* copies of the checks and of the hidden tests, built from
  source the grader sends, never taken from ``sys.modules`` or any module a student can patch;
- after the test, removes them again, drops the test cell's text from ``linecache``, and
  reports whatever changed *during* the test: such a test scores 0.

This is evidence, not a wall: code in the same process can, with enough effort, defeat any
check made there. The grader's static review flags (:mod:`autograde.flags`) are the backstop.
"""
import builtins
import linecache
import operator
import sys
import types

# Imported before the record is made: numpy loads these lazily, and the checks rely on them.
PRELOAD = ("numpy.testing", "numpy.linalg", "numpy.random")
GRADER_PACKAGE = "autograde"  # a kernel imports none but the forkserver's: any other such module is planted
WATCHED_PACKAGES = ("builtins", "sys", "numpy", "tensorflow", "keras", "course_utils", "IPython", "ipykernel",
                    "inspect", "traceback", "linecache", "unittest", "math", "types", "json", "zlib", "base64", "ast",
                    "functools", "operator", "re", "copy", "contextlib")
# Values that change in normal use: the last result (`_`), the last exception (`sys.last_type`),
# and input(), which ipykernel sets anew for every request.
NOT_WATCHED = {"builtins": {"_", "__", "___", "input"}, "sys": {"last_type", "last_value", "last_traceback", "last_exc"}}
SHELL_HOOKS = ("showtraceback", "_showtraceback", "showsyntaxerror", "showindentationerror", "run_cell", "run_cell_async",
               "run_code", "run_ast_nodes", "transform_cell", "excepthook", "set_custom_exc", "CustomTB", "custom_exceptions",
               "displayhook", "display_pub", "display_formatter", "InteractiveTB", "SyntaxTB", "compile", "user_expressions",
               "ev", "ex")
SHELL_LISTS = ("ast_transformers", "input_transformers_cleanup", "input_transformers_post")
MISSING = object()
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"


def _same(current, recorded):
    # A bound method is a new object each time it is read (IPython sets sys.excepthook = self.excepthook).
    return current is recorded or (isinstance(recorded, types.MethodType) and current == recorded)


def _is_machinery(value):
    # Lazily loaded modules (TensorFlow's LazyLoader, a ModuleType subclass) replace themselves on first use.
    if isinstance(value, types.ModuleType):
        return type(value) is types.ModuleType
    return callable(value) or isinstance(value, (staticmethod, classmethod, property))


class Guard:
    """The kernel's record of the grading machinery, and the test harness around test cells.

    Args:
        shell: the kernel's IPython shell.
        preload: modules to import before the record is made (the lab's checks).
    """

    def __init__(self, shell, marker, preload=()):
        for name in (*PRELOAD, *preload):
            __import__(name)
        self.shell = shell
        self._marker = marker  # a word in the text of every request the grader sends
        self.result = "{}"  # a dict's repr, read by the grader through user_expressions
        self._saved_names = {}
        self._private = {}  # (private module, name) -> value, as loaded for the current test
        self.graders_own = {name for name in sys.modules if name.split(".")[0] == GRADER_PACKAGE}  # the forkserver's
        self.owners = []  # (module or class, names of its machinery, their values, all its names), see _record_owner
        self.baseline = self._record()

    # -- the record ---------------------------------------------------------------------------

    def _record(self, known=()):
        """The hooks, lists and sys.modules entries; modules' and classes' attributes go to self.owners."""
        record = {}
        for name, module in list(sys.modules.items()):
            if module is None or name.split(".")[0] not in WATCHED_PACKAGES or ("sys.modules", name) in known:
                continue
            record[("sys.modules", name)] = module
            machinery = self._record_owner(module, NOT_WATCHED.get(name, ()))
            for value in machinery:
                if isinstance(value, type) and value.__module__ == name:
                    self._record_owner(value)
        for hook in SHELL_HOOKS:
            record[("shell", hook)] = self.shell.__dict__.get(hook, MISSING)
        for name in SHELL_LISTS:
            record[("list", name)] = list(getattr(self.shell, name, []))
        for event, callbacks in self.shell.events.callbacks.items():
            record[("event", event)] = list(callbacks)
        record[("list", "sys.meta_path")] = list(sys.meta_path)
        record[("list", "sys.path_hooks")] = list(sys.path_hooks)
        record[("hook", "trace")] = sys.gettrace()
        record[("hook", "profile")] = sys.getprofile()
        return record

    def _record_owner(self, owner, skip=()):
        """Records a module's or class's machinery; returns its values."""
        try:
            names = dict(vars(owner))
        except TypeError:
            return []
        keys = tuple(key for key, value in names.items() if key not in skip and _is_machinery(value))
        values = tuple(names[key] for key in keys)
        self.owners.append((owner, keys, values, set(names) | set(skip)))
        return values

    def _owner_changes(self):
        """Attributes replaced or deleted, and machinery added, since the record. Compares in bulk: it runs twice a test."""
        changed = []
        for owner, keys, values, names in self.owners:
            current = vars(owner)
            now = [current.get(key, MISSING) for key in keys]
            if any(map(operator.is_not, now, values)):
                changed += [(("attribute", owner, key, value), f"{self._owner(owner)}.{key}")
                            for key, new, value in zip(keys, now, values) if not _same(new, value)]
            # A method added to a class shadows an inherited one. A module gains names in normal use
            # (imports still running in another thread), and shadows nothing unless it has __getattr__.
            if len(current) != len(names) and (isinstance(owner, type) or "__getattr__" in current):
                changed += [(("added", owner, key), f"{self._owner(owner)}.{key} (added)") for key in _added(owner, names)]
        return changed

    def _current(self, key):
        kind = key[0]
        if kind == "sys.modules":
            return sys.modules.get(key[1], MISSING)
        if kind == "shell":
            return self.shell.__dict__.get(key[1], MISSING)
        if kind == "list":
            return self._list(key[1])
        if kind == "event":
            return self.shell.events.callbacks.get(key[1], [])
        return sys.gettrace() if key[1] == "trace" else sys.getprofile()

    def _list(self, name):
        if name == "sys.meta_path":
            return sys.meta_path
        if name == "sys.path_hooks":
            return sys.path_hooks
        return getattr(self.shell, name, [])

    def changed(self):
        """The recorded entries whose value is no longer the recorded one, as (key, readable name) pairs."""
        changed = [(("planted", name), f"sys.modules[{name!r}] (a planted module)") for name in list(sys.modules)
                   if name.split(".")[0] == GRADER_PACKAGE and name not in self.graders_own]
        changed += self._owner_changes()
        for key, value in self.baseline.items():
            current = self._current(key)
            if key[0] == "event":  # callbacks may be added (matplotlib registers one), not removed
                same = all(any(_same(c, r) for c in current) for r in value)
            elif isinstance(value, list):
                same = len(current) == len(value) and all(_same(a, b) for a, b in zip(current, value))
            else:
                same = _same(current, value)
            if not same:
                changed.append((key, self._describe(key)))
        return changed

    @staticmethod
    def _owner(owner):
        return owner.__name__ if isinstance(owner, types.ModuleType) else f"{owner.__module__}.{owner.__qualname__}"

    def _describe(self, key):
        kind = key[0]
        if kind == "sys.modules":
            return f"sys.modules[{key[1]!r}]"
        if kind == "shell":
            return f"the IPython shell's {key[1]}"
        if kind in ("list", "event"):
            return f"the list {key[1]}" if kind == "list" else f"the IPython {key[1]} event callbacks"
        return f"sys.set{key[1]}"

    def restore(self, changed):
        """Puts the recorded values back."""
        for key, _ in changed:
            if key[0] == "planted":
                sys.modules.pop(key[1], None)
                continue
            if key[0] in ("added", "attribute"):
                self._set(key[1], key[2], key[3] if key[0] == "attribute" else MISSING)
                continue
            value, kind = self.baseline[key], key[0]
            if kind == "sys.modules":
                sys.modules[key[1]] = value
            elif kind == "shell":
                self.shell.__dict__.pop(key[1], None)
                if value is not MISSING:
                    self.shell.__dict__[key[1]] = value
            elif kind == "list":
                self._list(key[1])[:] = value
            elif kind == "event":
                added = [c for c in self.shell.events.callbacks.get(key[1], []) if not any(_same(c, r) for r in value)]
                self.shell.events.callbacks[key[1]] = list(value) + added
            elif key[1] == "trace":
                sys.settrace(value)
            else:
                sys.setprofile(value)

    @staticmethod
    def _set(owner, name, value):
        try:
            if value is MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        except (AttributeError, TypeError):  # a built-in type's dict cannot be changed, so it was not
            pass

    # -- around a test cell ---------------------------------------------------------------------

    def begin_test(self, sources):
        """Before a test cell: restore the machinery, bind private ``checks`` and ``hidden_tests``.

        Args:
            sources: the private sources, a dict literal made by :meth:`autograde.private_tests.PrivateTests.begin_code`.
        """
        _forget_text(self._marker)  # this request's text, hidden tests included, leaves linecache at once
        changed = self.changed()
        self.restore(changed)
        # Modules imported since (TensorFlow loads many lazily) join the record as they are now.
        self.baseline.update({k: v for k, v in self._record(known=self.baseline).items() if k not in self.baseline})
        modules = _PrivateModules(sources["modules"])
        names = {sources["checks_name"]: modules.load(sources["checks_module"])}
        if sources.get("hidden"):
            names["hidden_tests"] = modules.load_hidden(sources["hidden"])
        self._private = {(module, key): value for module in [*modules.modules.values(), *names.values()]
                         for key, value in vars(module).items()}
        user_ns = self.shell.user_ns
        self._saved_names = {name: user_ns.get(name, MISSING) for name in names}
        user_ns.update(names)
        self.result = repr({"restored": [name for _, name in changed]})

    def end_test(self):
        """After a test cell: unbind the private names, forget the cell's text, report changes made during it."""
        user_ns = self.shell.user_ns
        for name, value in self._saved_names.items():
            user_ns.pop(name, None)
            if value is not MISSING:
                user_ns[name] = value
        self._saved_names = {}
        _forget_text(HIDDEN_MARKER, self._marker)
        found = self.changed()
        self.restore(found)
        changed = [name for _, name in found] + self._private_changes()
        self._private = {}
        self.result = repr({"changed": changed})

    def _private_changes(self):
        """What student code called by the test changed in the private checks and hidden tests."""
        modules = {module for module, _ in self._private}
        changed = [f"the private {module.__name__}.{key}" for (module, key), value in self._private.items()
                   if vars(module).get(key, MISSING) is not value]
        for module in modules:  # a check may import a private module lazily: that adds a submodule, nothing else
            changed += [f"the private {module.__name__}.{key} (added)" for key, value in dict(vars(module)).items()
                        if (module, key) not in self._private and not isinstance(value, types.ModuleType)]
        return changed


def _added(owner, recorded):
    """Names added to a module or class since it was recorded, whose value is machinery (a submodule import is not)."""
    try:
        current = dict(vars(owner))
    except TypeError:
        return []
    return [name for name, value in current.items() if name not in recorded and _is_machinery(value)
            and not isinstance(value, types.ModuleType)]


def _forget_text(*markers):
    """Drops from linecache every cached cell whose text holds one of ``markers``."""
    for filename, entry in list(linecache.cache.items()):
        lines = entry[2] if len(entry) > 2 else ()  # lazily loaded entries hold no text yet
        if any(marker in line for line in lines for marker in markers):
            del linecache.cache[filename]


class _PrivateModules:
    """Modules built from the grader's source text, importing each other privately.

    ``from course_utils.checks import lab1`` inside them gives the private copy; any other
    import is the ordinary one. Nothing is added to ``sys.modules``.
    """

    def __init__(self, sources):
        self.sources = {name: (filename, text) for name, filename, text in sources}
        self.modules = {}
        self.real_import = builtins.__import__
        self.builtins = dict(vars(builtins), __import__=self._import)

    def load(self, name):
        if name not in self.modules:
            filename, text = self.sources[name]
            module = types.ModuleType(name)
            module.__file__ = filename
            module.__builtins__ = self.builtins
            is_package = filename.endswith("__init__.py")
            module.__package__ = name if is_package else name.rpartition(".")[0]
            if is_package:
                module.__path__ = []
            self.modules[name] = module
            custom_objects = _keras_custom_objects()
            saved = dict(custom_objects)
            exec(_compiled(text, filename), module.__dict__)
            custom_objects.clear()  # registering a private Keras class must not replace the student's view
            custom_objects.update(saved)
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(self.package(parent), child, module)
        return self.modules[name]

    def load_hidden(self, text):
        module = types.ModuleType("hidden_tests")
        module.__builtins__ = self.builtins
        # No file name: no source for inspect. Not cached: the kernel keeps no hidden text between tests.
        exec(compile(text, "<hidden tests>", "exec"), module.__dict__)
        return module

    def package(self, name):
        """The private module ``name``, or a view of the real one whose private submodules are ours."""
        if name in self.sources:
            return self.load(name)
        if name not in self.modules:
            real = sys.modules.get(name) or self.real_import(name)
            view = types.ModuleType(name)
            view.__getattr__ = lambda attribute: getattr(real, attribute)
            view.__path__ = []
            self.modules[name] = view
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(self.package(parent), child, view)
        return self.modules[name]

    def _is_ours(self, name):
        return any(source == name or source.startswith(name + ".") for source in self.sources)

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            package = (globals or {}).get("__package__") or ""
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            name = f"{base}.{name}" if name else base
        if not self._is_ours(name):
            return self.real_import(name, globals, locals, fromlist, 0)
        module = self.package(name)
        for item in fromlist or ():
            if f"{name}.{item}" in self.sources:
                self.load(f"{name}.{item}")
        return module if fromlist else self.package(name.split(".")[0])


_CODE = {}  # (file name, source) -> code of the public course_utils modules: compiled once, run anew for each test


def _compiled(text, filename):
    if (filename, text) not in _CODE:
        _CODE[(filename, text)] = compile(text, filename, "exec")
    return _CODE[(filename, text)]


def _keras_custom_objects():
    keras = sys.modules.get("keras")
    return keras.saving.get_custom_objects() if keras is not None else {}
