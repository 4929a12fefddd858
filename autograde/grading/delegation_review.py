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
:mod:`autograde.grading.flags` list it for a person.
"""

import ast
import functools
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

from course_utils.checks.delegation import Exercise, refusal_message

# Libraries whose names are resolved (imported here, in the grader): nothing a student wrote is ever imported.
LIBRARIES = frozenset({"tensorflow", "keras", "numpy", "scipy", "sklearn", "course_utils"})


def _parse(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 -- a cell that does not parse defines nothing this review can read
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


def _bound_inside(definition):
    """Names a definition binds for itself (parameters, assignments, loop and ``with`` targets, inner imports and
    definitions): a use of one of them reads the local, not the notebook's name."""
    bound = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not definition:
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    for node in ast.walk(definition):  # `global x` makes x the notebook's again
        if isinstance(node, ast.Global):
            bound -= set(node.names)
    return bound


def _uses(definition):
    """The Name and Attribute nodes of a definition that can run what they name: not annotations, nor the classes an
    ``isinstance`` or ``issubclass`` compares with."""
    skipped = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.arg) and node.annotation is not None:
            skipped.add(id(node.annotation))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            skipped.add(id(node.returns))
        elif isinstance(node, ast.AnnAssign):
            skipped.add(id(node.annotation))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
        ):
            skipped.add(id(node.args[1]))
    stack = [definition]
    while stack:
        node = stack.pop()
        if id(node) in skipped:
            continue
        if isinstance(node, (ast.Attribute, ast.Name)):
            yield node
            if isinstance(node, ast.Attribute):
                continue  # its value is part of the same dotted name
        stack.extend(ast.iter_child_nodes(node))


@functools.lru_cache(maxsize=256)
def used_names(student_sources: tuple[str, ...], other_sources: tuple[str, ...], name: str) -> set[str]:
    """The dotted names (imports resolved) that the student's definition of ``name``, and the student's definitions it
    uses, name from the notebook's scope (names bound inside a definition are its own locals, not followed)."""
    student = [tree for tree in map(_parse, student_sources) if tree is not None]
    others = [tree for tree in map(_parse, other_sources) if tree is not None]
    aliases, definitions = _aliases(others + student), _definitions(student)
    seen, queue, names = set(), [name], set()
    while queue:
        current = queue.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        definition = definitions[current]
        local = _bound_inside(definition) if not isinstance(definition, (ast.Assign, ast.AnnAssign)) else set()
        for node in _uses(definition):
            dotted = _dotted(node)
            if not dotted:
                continue
            head, _, rest = dotted.partition(".")
            if head in local and head != current:
                continue
            if head in definitions and head not in seen:
                queue.append(head)
            if head in aliases:
                names.add(_canonical(f"{aliases[head]}.{rest}".rstrip(".")))
    return names


def _canonical(dotted):
    """``tensorflow.keras.x`` is ``keras.x`` (TensorFlow 2.16+ ships Keras 3 as tf.keras)."""
    return "keras." + dotted[len("tensorflow.keras.") :] if dotted.startswith("tensorflow.keras.") else dotted


def _declared(forbidden):
    """The dotted names a forbidden function's ``name`` gives (``"tf.clip_by_global_norm"``), ``tf.`` read as tensorflow."""
    names = set()
    for token in forbidden.name.replace("(", " ").replace(")", " ").replace(",", " ").split():
        if "." in token and token.replace(".", "").replace("_", "").isalnum():
            names.add(_canonical("tensorflow." + token[3:] if token.startswith("tf.") else token))
    return names


@functools.lru_cache(maxsize=4096)
def resolve(dotted: str) -> Any:
    """The object a dotted name of a library in :data:`LIBRARIES` names, or None.

    Nothing is imported on a student's say-so: the name is looked up in the modules this process has already
    loaded (the grader imports the libraries and the references before it judges), attribute by attribute.
    """
    parts = dotted.split(".")
    if parts[0] not in LIBRARIES:
        return None
    for split in range(len(parts), 0, -1):
        obj = sys.modules.get(".".join(parts[:split]))
        if obj is None:
            continue
        try:
            for attribute in parts[split:]:
                # No lookup that runs code: a module's own dict (no lazy import), a class's static attributes.
                obj = vars(obj)[attribute] if inspect.ismodule(obj) else inspect.getattr_static(obj, attribute)
        except (KeyError, AttributeError, TypeError):
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


def delegation(
    exercise: Exercise, student_sources: Iterable[str], other_sources: Iterable[str], name: str
) -> str | None:
    """The refusal message when the student's ``name`` uses one of ``exercise``'s forbidden functions, else None."""
    for dotted in sorted(used_names(tuple(student_sources), tuple(other_sources), name)):
        by_name = next((f for f in exercise.forbidden if dotted in _declared(f)), None)  # a library not loaded here too
        by_code = (f for code in _codes(resolve(dotted)) for f in exercise.forbidden if f.matches(code))
        forbidden = by_name or next(by_code, None)
        if forbidden is not None:
            return refusal_message(exercise, forbidden) + f" (your code names {dotted})"
    return None


@functools.lru_cache(maxsize=None)
def probe_exercises(probe: Callable[..., Any]) -> list[Exercise]:
    """The exercises a probe watches: the module constants named by ``refuse_delegation(...)`` or ``refusing_delegation(...)``."""
    try:
        tree = ast.parse(inspect.getsource(probe))
    except (OSError, TypeError, SyntaxError):
        return []
    module = inspect.getmodule(probe)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("refuse_delegation", "refusing_delegation")
        ):
            for arg in node.args:
                exercise = getattr(module, arg.id, None) if isinstance(arg, ast.Name) else None
                if exercise is not None and hasattr(exercise, "forbidden") and exercise not in found:
                    found.append(exercise)
    return found
