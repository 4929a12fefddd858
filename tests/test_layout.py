"""The layout of autograde/: its modules import one another without cycles (read with ast, nothing is imported)."""

import ast
import importlib.util

from helpers import ROOT

PACKAGE = "autograde"


def modules():
    """``{dotted name: path}`` of every module of the package (a package by its ``__init__.py``); the example
    submissions' ``.py`` files are data, outside any package."""
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        if not all(
            (folder / "__init__.py").is_file() for folder in path.parents if ROOT / PACKAGE in (folder, *folder.parents)
        ):
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path, known):
    """The package's modules that the module at ``path`` imports, at its top or inside a function alike."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {
                f"{imported_from(node, package)}.{alias.name}" for alias in node.names
            }  # a module, or a name in it
    return {_module(name, known) for name in names if name.split(".")[0] == PACKAGE} - {None}


def imported_from(node, package):
    """The absolute name of the module a ``from ... import`` statement in ``package`` imports from."""
    return importlib.util.resolve_name("." * node.level + (node.module or ""), package)  # as the import system does


def _module(name, known):
    """The longest known module that ``name`` (a module, or a name in one) is or lies in."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def import_graph():
    """``{module: modules of the package it imports}``, without packages' implicit imports of their parents."""
    known = modules()
    return {name: imported(path, known) - {name} for name, path in known.items()}


def cycles(graph):
    """Every import cycle of ``graph``, each as the list of modules around it (the first repeated at the end)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_import_graph_is_read_from_every_kind_of_import():
    graph = import_graph()
    assert "autograde.reporting.similarity" in graph["autograde.reporting.report"], "a function-level import"
    assert "autograde.grading.rows" in graph["autograde.reporting.report"], "a module-level from-import"
    assert "autograde.isolation.sandbox" in graph["autograde.grading.worker"], "from a package, import a module"


def test_relative_imports_are_read_from_the_importing_package():
    def source(statement):
        return imported_from(ast.parse(statement).body[0], "autograde.grading")

    assert source("from autograde.course import Course") == "autograde.course"
    assert source("from .rows import Status") == "autograde.grading.rows"
    assert source("from . import rows") == "autograde.grading"
    assert source("from ..course import Course") == "autograde.course"


def test_a_cycle_is_found_and_named():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_autograde_imports_itself_back():
    found = cycles(import_graph())
    assert not found, "import cycles (break them by moving the shared piece to its owner): " + "; ".join(
        " -> ".join(cycle) for cycle in found
    )


# What each part of autograde may import of autograde, besides itself (a name covers the modules under it). course.py
# and cells.py are what everyone stands on; isolation enforces the limits and knows nothing else of grading; reporting
# reads an output folder and the rows' format, never the grading stack; nothing but the command line imports reporting.
ALLOWED = {
    "autograde.course": set(),
    "autograde.cells": set(),
    "autograde.isolation": {"autograde.grading.limits"},
    "autograde.reporting": {"autograde.course", "autograde.cells", "autograde.grading.rows"},
    "autograde.grading": {"autograde.course", "autograde.cells", "autograde.isolation", "autograde.authoring"},
    "autograde.authoring": {"autograde.course", "autograde.cells", "autograde.grading"},
}
TOP = {"autograde.cli", "autograde.nbgrader_config"}  # imported by no module: the command line, the config file


def _within(module, name):
    return module == name or module.startswith(name + ".")


def test_each_room_imports_only_what_it_may():
    graph = import_graph()
    assert set(ALLOWED) | TOP <= set(graph), "a room or module was renamed: update ALLOWED"
    wrong = []
    for module, targets in sorted(graph.items()):
        room = next((name for name in ALLOWED if _within(module, name)), None)
        for target in sorted(targets):
            if target in TOP:
                wrong.append(f"{module} imports {target}")
            elif room and not _within(target, room) and not any(_within(target, allowed) for allowed in ALLOWED[room]):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports across rooms that the layout does not allow (see ALLOWED): " + "; ".join(wrong)
