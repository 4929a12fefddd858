"""Every public function of the two packages says what it takes and returns (type hints).

Public: a module-level function or a method of a module-level class, in a module whose name has no leading underscore,
whose own name has none (``__init__`` counts when it takes arguments); checked from the source, so nothing is imported.
A parameter is annotated unless it is ``self`` or ``cls``; a function's return is annotated unless it is ``__init__``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autograde", "course_utils")
# Not code of the package: example submissions (test data) and nbgrader's configuration file.
SKIPPED = ("autograde/examples/", "autograde/nbgrader_config.py")


def public_modules(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(SKIPPED) or any(
            part.startswith("_") and part != "__init__.py" for part in path.relative_to(ROOT).parts
        ):
            continue
        yield relative, ast.parse(path.read_text(), relative)


def public_functions(tree):
    """(qualified name, node) of every public function and method of ``tree``."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    not member.name.startswith("_") or member.name == "__init__"
                ):
                    yield f"{node.name}.{member.name}", member


def missing_hints(node):
    """What of ``node``'s signature has no annotation: parameter names, and ``return``."""
    arguments = node.args
    parameters = [
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        *filter(None, [arguments.vararg, arguments.kwarg]),
    ]
    missing = [p.arg for p in parameters if p.annotation is None and p.arg not in ("self", "cls")]
    if node.returns is None and node.name != "__init__":
        missing.append("return")
    return missing


def unannotated(package):
    found = []
    for relative, tree in public_modules(package):
        for name, node in public_functions(tree):
            missing = missing_hints(node)
            if missing:
                found.append(f"{relative}:{node.lineno} {name}: {', '.join(missing)}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_function_has_type_hints(package):
    found = unannotated(package)
    assert not found, f"{len(found)} public functions of {package} lack type hints:\n" + "\n".join(found)


def test_the_check_sees_a_missing_hint():
    tree = ast.parse(
        "def shown(a: int, b) -> int: ...\nclass Public:\n    def method(self, x: int): ...\n"
        "    def _private(self, y): ...\ndef _hidden(z): ...\n"
    )
    assert {name: missing_hints(node) for name, node in public_functions(tree)} == {
        "shown": ["b"],
        "Public.method": ["return"],
    }
