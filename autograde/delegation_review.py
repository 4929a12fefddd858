"""Delegation judged in the grader, from the code the student wrote.

An exercise may not hand its work to a function that already does it (``tf.clip_by_global_norm`` inside
``clip_gradients``, Keras's ``SimpleRNNCell`` inside ``MyRNNCell``): each probe names its exercise with
``refuse_delegation(EXERCISE)`` (:mod:`course_utils.checks.delegation`), whose ``forbidden`` functions are recognised by
where their code is defined. The probe's watch in the kernel is evidence the student's code reports about itself;
this module decides in the grader's process, from the rebuilt notebook's student cells, without running them:

1. the definition of the object a test probes (``class MyRNNCell``, ``def clip_gradients``) and every top-level
   definition of the student's that it uses, transitively, are read with :mod:`ast`;
2. each dotted name they use (``tf.clip_by_global_norm``, ``keras.layers.SimpleRNNCell`` as a base class, an alias
   from ``from tensorflow import clip_by_global_norm as clip``) is resolved, through the notebook's imports, to the
   real object here, in the grader, for modules of :data:`LIBRARIES` only;
3. a function is delegation when its code is one of the exercise's forbidden functions; a class, when one of its
   methods is.

Delegation hidden by indirection (``getattr`` with a built name, ``exec``) is not seen here; the review flags of
:mod:`autograde.flags` list it for a person.
"""
import ast
import functools
import importlib
import inspect

from course_utils.checks.delegation import refusal_message

# Libraries whose names are resolved (imported here, in the grader): nothing a student wrote is ever imported.
LIBRARIES = frozenset({"tensorflow", "keras", "numpy", "scipy", "sklearn", "course_utils"})


def _parse(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001: a cell that does not parse defines nothing this review can read
        return None


def _aliases(trees):
    """{local name: dotted name} from every import of the notebook."""
    aliases = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _definitions(trees):
    """{name: node} of the top-level functions, classes and assignments of the student's cells (the last one counts)."""
    found = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        found[target.id] = node
    return found


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


@functools.lru_cache(maxsize=256)
def used_names(student_sources, other_sources, name):
    """The dotted names (imports resolved) that the student's definition of ``name`` and the definitions it uses name."""
    student = [tree for tree in map(_parse, student_sources) if tree is not None]
    others = [tree for tree in map(_parse, other_sources) if tree is not None]
    aliases, definitions = _aliases(others + student), _definitions(student)
    seen, queue, names = set(), [name], set()
    while queue:
        current = queue.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        for node in ast.walk(definitions[current]):
            dotted = _dotted(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
            if not dotted:
                continue
            head, _, rest = dotted.partition(".")
            if head in definitions and head not in seen:
                queue.append(head)
            if head in aliases:
                names.add(f"{aliases[head]}.{rest}".rstrip("."))
    return names


@functools.lru_cache(maxsize=4096)
def resolve(dotted):
    """The object a dotted name of a library in :data:`LIBRARIES` names, or None."""
    parts = dotted.split(".")
    if parts[0] not in LIBRARIES:
        return None
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except Exception:  # noqa: BLE001: not a module (an attribute), or a module that fails to import
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except Exception:  # noqa: BLE001
            return None
        return obj
    return None


def _codes(obj):
    """The code objects an object runs: a function's own, a class's methods (its bases' too)."""
    if inspect.isclass(obj):
        codes = []
        for klass in inspect.getmro(obj):
            for value in vars(klass).values():
                value = getattr(value, "__func__", value)
                if inspect.isfunction(value):
                    codes.append(inspect.unwrap(value).__code__)
        return codes
    try:
        function = inspect.unwrap(obj)
    except ValueError:
        return []
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    return [code] if code is not None else []


def delegation(exercise, student_sources, other_sources, name):
    """The refusal message when the student's ``name`` uses one of ``exercise``'s forbidden functions, else None."""
    for dotted in sorted(used_names(tuple(student_sources), tuple(other_sources), name)):
        for code in _codes(resolve(dotted)):
            forbidden = next((f for f in exercise.forbidden if f.matches(code)), None)
            if forbidden is not None:
                return refusal_message(exercise, forbidden) + f" (your code names {dotted})"
    return None


@functools.lru_cache(maxsize=None)
def probe_exercises(probe):
    """The exercises a probe watches: the module constants named by ``refuse_delegation(...)`` or ``refusing_delegation(...)``."""
    try:
        tree = ast.parse(inspect.getsource(probe))
    except (OSError, TypeError, SyntaxError):
        return []
    module = inspect.getmodule(probe)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("refuse_delegation", "refusing_delegation"):
            for arg in node.args:
                exercise = getattr(module, arg.id, None) if isinstance(arg, ast.Name) else None
                if exercise is not None and hasattr(exercise, "forbidden") and exercise not in found:
                    found.append(exercise)
    return found
