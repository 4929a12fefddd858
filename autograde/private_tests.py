"""The grader's side of :mod:`autograde.kernel_guard`: private tests handed to the kernel at test time.

Test cells call ``checks.check_...`` (the lab's public checks) and, in their hidden region,
``hidden_tests.test_...``. Neither name is imported by the notebook at test time: just before
each test cell the grader sends the kernel the source of the hidden tests and of every
``course_utils`` module they and the checks import, the kernel builds private copies of them,
and binds ``checks`` and ``hidden_tests`` to those copies for that one cell. So a student who
patches ``course_utils.checks.lab1``, or plants a fake ``autograde.hidden_tests`` in
``sys.modules``, changes nothing that grades them.

:class:`GuardedCells` is the part of a notebook client that does this; the grader's
GuardedExecute and :func:`autograde.execute.execute_notebook` both use it.
"""
import ast
import functools
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.v4 import new_output
from nbclient.util import run_sync
from traitlets import Any, HasTraits

GUARD_SOURCE = Path(__file__).with_name("kernel_guard.py").read_text()
TAMPERED = "GradingMachineryChanged"


def is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def lab_short_name(lab):
    return lab.split("_")[0]


def hidden_tests_file(course, lab):
    return course.root / "autograde" / "hidden_tests" / f"{lab_short_name(lab)}.py"


def _course_modules(course, source, package=""):
    """``course_utils`` modules that ``source`` imports, as {module name: file}."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "course_utils" or name == "course_utils":
                continue
            path = course.root / Path(*name.split("."))
            for file in (path.with_suffix(".py"), path / "__init__.py"):
                if file.is_file():
                    found[name] = file
    return found


def private_modules(course, entry_sources):
    """Every ``course_utils`` module reachable by imports from ``entry_sources``, with its parent packages."""
    found, queue = {}, [(text, "") for text in entry_sources]
    while queue:
        text, package = queue.pop()
        for name, file in _course_modules(course, text, package).items():
            parents = [".".join(name.split(".")[:i]) for i in range(2, name.count(".") + 1)]
            for module in [*parents, name]:
                if module in found:
                    continue
                module_file = file if module == name else course.root / Path(*module.split(".")) / "__init__.py"
                found[module] = module_file
                is_package = module_file.name == "__init__.py"
                queue.append((module_file.read_text(), module if is_package else module.rpartition(".")[0]))
    return found


@dataclass
class PrivateTests:
    """What one lab's test cells get from the grader.

    Args:
        checks_module: the lab's public checks module, e.g. ``course_utils.checks.lab1``.
        sources: the private sources as a Python literal (see :meth:`for_lab`): no module a
            student could patch (json, zlib) is needed to read them in the kernel.
        hidden_source: the hidden tests' source ("" when the lab has none).
    """

    checks_module: str
    sources: str
    hidden_source: str = ""
    guard_name: str = field(default_factory=lambda: f"_grading_{secrets.token_hex(8)}")

    @classmethod
    def for_lab(cls, course, lab):
        checks_module = f"course_utils.checks.{lab_short_name(lab)}"
        hidden_file = hidden_tests_file(course, lab)
        hidden = hidden_file.read_text() if hidden_file.is_file() else ""
        checks_file = course.root / "course_utils" / "checks" / f"{lab_short_name(lab)}.py"
        modules = private_modules(course, [hidden, f"import {checks_module}" if checks_file.is_file() else ""])
        sources = {
            "modules": [(name, str(file.relative_to(course.root)), file.read_text()) for name, file in sorted(modules.items())],
            "checks_module": checks_module,
            "checks_name": "checks",
            "hidden": hidden,
        }
        return cls(checks_module=checks_module, sources=repr(sources), hidden_source=hidden)

    def _guard(self):
        return f"__import__('IPython').get_ipython().__dict__[{self.guard_name!r}]"

    def install_code(self):
        """Before the first cell: the guard, with a private copy of the builtins (student code may patch the real ones)."""
        bootstrap = (f"{GUARD_SOURCE}\n\n_shell = __import__('IPython').get_ipython()\n"
                     f"_shell.__dict__[{self.guard_name!r}] = Guard(_shell, {self.guard_name!r}, preload=[{self.checks_module!r}])\n")
        namespace = "{'__name__': 'grading_guard', '__builtins__': dict(vars(__import__('builtins')))}"
        return f"exec(compile({bootstrap!r}, '<grading guard>', 'exec'), {namespace})"

    def begin_code(self):
        return f"{self._guard()}.begin_test({self.sources})"

    def end_code(self):
        return f"{self._guard()}.end_test()"

    def result_expression(self):
        return f"{self._guard()}.result"


@functools.lru_cache(maxsize=16)
def private_tests_for(course, lab):
    return PrivateTests.for_lab(course, lab)


class GuardedCells(HasTraits):
    """Mixin for an nbclient NotebookClient: runs every test cell between the guard's two requests.

    Set ``private_tests`` (a :class:`PrivateTests`) to turn it on. What happened is kept in
    ``guard_report``: machinery put back before a test ("restored"), machinery changed during a
    test (that test gets an error output, so it scores 0), and guard requests that failed.
    """

    private_tests = Any(None, allow_none=True, help="the lab's PrivateTests; None turns the guard off")

    def reset_guard(self):
        self._guard_installed = False
        self.guard_report = {"restored": [], "tampered": {}}

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self.private_tests is None or cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if not getattr(self, "_guard_installed", False):
            if not hasattr(self, "guard_report"):
                self.reset_guard()
            self._guard_installed = True
            await self._async_guard_request(self.private_tests.install_code())
        if not is_test_cell(cell):
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        before = await self._async_guard_request(self.private_tests.begin_code())
        # store_history=False: the test's text never enters the kernel's In/_ih history.
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history=False)
        after = await self._async_guard_request(self.private_tests.end_code())
        self._judge(cell, before, after)
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the sync twin at class creation

    async def _async_guard_request(self, code, tries=2):
        """Runs ``code`` silently in the kernel; returns the guard's result, or None if that failed (twice)."""
        for _ in range(tries):
            msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False,
                                     user_expressions={"guard": self.private_tests.result_expression()})
            reply = await self.async_wait_for_reply(msg_id)
            try:
                content = reply["content"]
                if content["status"] == "ok":
                    return ast.literal_eval(ast.literal_eval(content["user_expressions"]["guard"]["data"]["text/plain"]))
                self._guard_error = f"{content.get('ename')}: {content.get('evalue')}"[:200]
            except (TypeError, KeyError, ValueError, SyntaxError) as error:
                self._guard_error = f"no answer from the kernel ({type(error).__name__})"
        return None

    def record_reply(self, **kwargs):
        """An nbclient on_cell_executed hook: keeps the kernel's reply for :meth:`_judge`.

        (nbgrader's Execute has an on_cell_executed of its own that does the same job.)
        """
        self._last_reply = kwargs.get("execute_reply")

    def _judge(self, cell, before, after):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        reply = (getattr(self, "_last_reply", None) or {}).get("content", {})
        if reply.get("status") == "error" and not any(o.get("output_type") == "error" for o in cell.outputs):
            # The test raised, but no error was shown (a broken traceback display): it still failed.
            cell.outputs.append(new_output("error", ename=reply.get("ename", "Error"), evalue=reply.get("evalue", ""),
                                           traceback=["the test raised an error, but the traceback display did not show it"]))
        if before is not None:
            self.guard_report["restored"].extend(n for n in before.get("restored", []) if n not in self.guard_report["restored"])
        if before is None or after is None:
            reason = f"the grader's checks inside the kernel were removed or failed ({getattr(self, '_guard_error', '?')})"
        elif after.get("changed"):
            reason = f"student code changed the grading machinery during this test: {', '.join(after['changed'][:5])}"
        else:
            return
        self.guard_report["tampered"][grade_id] = reason
        cell.outputs.append(new_output("error", ename=TAMPERED, evalue=reason, traceback=[f"{TAMPERED}: {reason}"]))
