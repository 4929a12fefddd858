"""What the grader overrides or calls inside nbgrader, nbconvert, nbclient and jupyter_client still exists (about a second).

The grader subclasses nbgrader's preprocessors, nbclient's notebook client and jupyter_client's provisioner, and
configures them through their public traits and extension points (a provisioner entry point, nbclient's timeout_func,
nbgrader's ClearSolutions.code_stub). It overrides no protected member; the one implementation it still leans on is
LocalProvisioner's: a forked kernel sets the attributes LocalProvisioner.launch_kernel sets, and hands it a stand-in
for its subprocess.Popen. pyproject.toml's grading extra caps those packages below their next breaking version; these
tests say which member went missing or changed, and where the grader uses it, when an install goes outside the caps
or a cap is widened. The last tests keep OVERRIDES complete: a protected member that our subclasses define or our
code names, and that a base class also has, must be in it.
"""

import ast
import functools
import importlib
import importlib.metadata
import inspect
import operator
import re
import tomllib
import types

import pytest
from helpers import ROOT
from packaging.requirements import Requirement
from traitlets import HasTraits

PINNED = ("nbgrader", "nbconvert", "nbclient", "jupyter_client")
# (package, "module:Class" or "module", member, parameters, where the grader uses it).
# parameters: None = it only has to exist; "instance" = an instance has it (set in __init__); "=(a, b)" = the exact parameters of a method we override
# (self left out, "**" for **kwargs); "has(a, b)" = parameters we pass by name.
OVERRIDES = [
    ("nbgrader", "nbgrader.preprocessors:ClearSolutions", "code_stub", None, "nbgrader_config.py sets our stub"),
    (
        "nbgrader",
        "nbgrader.preprocessors:ClearHiddenTests",
        "enforce_metadata",
        None,
        "nbgrader_config.py turns it off for feedback pages",
    ),
    (
        "nbgrader",
        "nbgrader.converters:Autograde",
        "autograde_preprocessors",
        None,
        "nbgrader_config.py puts GuardedExecute in it",
    ),
    (
        "nbgrader",
        "nbgrader.converters:GenerateAssignment",
        "preprocessors",
        None,
        "nbgrader_config.py puts our preprocessors in it",
    ),
    (
        "nbgrader",
        "nbgrader.converters:GenerateFeedback",
        "exporter_class",
        None,
        "nbgrader_config.py sets FeedbackExporter",
    ),
    (
        "nbconvert",
        "nbconvert.exporters:HTMLExporter",
        "environment",
        None,
        "grading/feedback.py: FeedbackExporter extends it",
    ),
    (
        "nbconvert",
        "nbconvert.preprocessors:ExecutePreprocessor",
        "preprocess",
        "=(nb, resources, km)",
        "grading/guarded_execute.py overrides it",
    ),
    (
        "nbconvert",
        "nbconvert.preprocessors:ExecutePreprocessor",
        "preprocess_cell",
        "=(cell, resources, index)",
        "grading/guarded_execute.py overrides it",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "timeout_func",
        None,
        "grading/guarded_execute.py: GuardedExecute.time_limit is its default",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "timeout",
        None,
        "grading/guarded_execute.py gives it a default: the wait for a new kernel",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "async_execute_cell",
        "=(cell, cell_index, execution_count, store_history)",
        "grading/judge.py: JudgedCells overrides it",
    ),
    ("nbclient", "nbclient:NotebookClient", "execute_cell", None, "grading/judge.py rebinds it with run_sync"),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "async_start_new_kernel",
        "=(**)",
        "grading/guarded_execute.py overrides it",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "start_new_kernel",
        None,
        "grading/guarded_execute.py rebinds it with run_sync",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "process_message",
        "=(msg, cell, cell_index)",
        "grading/guarded_execute.py overrides it",
    ),
    ("nbclient", "nbclient:NotebookClient", "async_wait_for_reply", "has(msg_id, cell)", "grading/judge.py calls it"),
    ("nbclient", "nbclient:NotebookClient", "nb", "instance", "grading/judge.py reads the student's cells through it"),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "create_kernel_manager",
        "=()",
        "grading/guarded_execute.py overrides it to name our provisioner",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "km",
        "instance",
        "grading/guarded_execute.py reads the kernel's provisioner through it",
    ),
    ("nbclient", "nbclient:NotebookClient", "kc", "instance", "grading/judge.py sends the probe requests through it"),
    ("nbclient", "nbclient.util", "run_sync", None, "grading/guarded_execute.py and grading/judge.py import it"),
    ("nbclient", "nbclient.exceptions", "DeadKernelError", None, "grading/guarded_execute.py catches it"),
    (
        "jupyter_client",
        "jupyter_client.manager:AsyncKernelManager",
        "kernel_spec",
        None,
        "isolation/forked_kernels.py names ForkProvisioner in its metadata.kernel_provisioner",
    ),
    (
        "jupyter_client",
        "jupyter_client.manager:AsyncKernelManager",
        "provisioner",
        None,
        "grading/guarded_execute.py reads whether the kernel was forked, and its pid, through it",
    ),
    (
        "jupyter_client",
        "jupyter_client.provisioning:KernelProvisionerFactory",
        "GROUP_NAME",
        None,
        "isolation/forked_kernels.py looks ForkProvisioner's entry point up in this group (pyproject.toml registers it)",
    ),
    (
        "jupyter_client",
        "jupyter_client.provisioning:LocalProvisioner",
        "launch_kernel",
        "=(cmd, **)",
        "isolation/forked_kernels.py overrides it",
    ),
    (
        "jupyter_client",
        "jupyter_client.provisioning:LocalProvisioner",
        "cleanup",
        "=(restart)",
        "isolation/forked_kernels.py overrides it",
    ),
    (
        "nbgrader",
        "nbgrader.preprocessors:Execute",
        "__init__",
        "=(args, **)",
        "grading/guarded_execute.py overrides it to pass kernel_manager_class (Execute's own names AsyncKernelManager)",
    ),
    (
        "nbclient",
        "nbclient:NotebookClient",
        "kernel_manager_class",
        None,
        "grading/guarded_execute.py makes it BoundedKernelManager",
    ),
    (
        "jupyter_client",
        "jupyter_client.manager:AsyncKernelManager",
        "client",
        "=(**)",
        "isolation/bounded_sockets.py: BoundedKernelManager overrides it to size its clients",
    ),
    (
        "jupyter_client",
        "jupyter_client.manager:AsyncKernelManager",
        "client_factory",
        None,
        "isolation/bounded_sockets.py: BoundedKernelManager's clients are BoundedKernelClient",
    ),
    (
        "jupyter_client",
        "jupyter_client.asynchronous:AsyncKernelClient",
        "connect_iopub",
        "=(identity)",
        "isolation/bounded_sockets.py: BoundedKernelClient overrides it to bound the output channel alone",
    ),
    (
        "jupyter_client",
        "jupyter_client.asynchronous:AsyncKernelClient",
        "context",
        None,
        "isolation/bounded_sockets.py sets the socket options of the client's own context",
    ),
    # ForkProvisioner starts a process that is not a subprocess.Popen, so it does by hand what LocalProvisioner.launch_kernel
    # does after its Popen: the rest of LocalProvisioner (poll, wait, signals, kill, shutdown) reads these.
    *[
        (
            "jupyter_client",
            "jupyter_client.provisioning:LocalProvisioner",
            name,
            None,
            "isolation/forked_kernels.py sets it for a forked kernel, as LocalProvisioner.launch_kernel does",
        )
        for name in ("process", "pid", "pgid", "cwd")
    ],
    (
        "jupyter_client",
        "jupyter_client.provisioning:LocalProvisioner",
        "connection_info",
        None,
        "isolation/forked_kernels.py returns it for a forked kernel, as LocalProvisioner.launch_kernel does",
    ),
]


def _listed(cls, name):
    """Whether OVERRIDES lists ``name`` for ``cls`` or for a subclass of it (which inherits it)."""
    return any(
        member == name and ":" in target and issubclass(resolve(target), cls) for _, target, member, _, _ in OVERRIDES
    )


def pinned_range(package):
    """The versions of ``package`` that pyproject.toml allows the grader: its grading extra's cap, and the students'
    range where they need it too (nbclient, for check_notebook)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [
        r.specifier
        for r in map(Requirement, project["dependencies"] + project["optional-dependencies"]["grading"])
        if r.name.replace("-", "_") == package
    ]
    assert found, f"{package} is not in pyproject.toml's dependencies or grading extra"
    return functools.reduce(operator.and_, found)


def test_every_package_is_capped_for_the_grader():
    grading = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["grading"]
    capped = {
        r.name.replace("-", "_") for r in map(Requirement, grading) if any(s.operator == "<" for s in r.specifier)
    }
    assert set(PINNED) <= capped, f"the grading extra does not cap {sorted(set(PINNED) - capped)}"


def resolve(target):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name) if name else importlib.import_module(module)


def parameters(function):
    names = []
    for p in list(inspect.signature(function).parameters.values())[1:]:  # self
        names.append("**" if p.kind is p.VAR_KEYWORD else p.name)
    return names


def where(package, target, member, used):
    version = importlib.metadata.version(package)
    return (
        f"{package} {version} (pinned {pinned_range(package)} in pyproject.toml and environment.yml): "
        f"{target.replace(':', '.')}.{member}; {used}"
    )


@pytest.mark.parametrize(
    "package, target, member, params, used", OVERRIDES, ids=[f"{t.split(':')[-1]}.{m}" for _, t, m, _, _ in OVERRIDES]
)
def test_what_the_grader_overrides_or_calls_is_there(package, target, member, params, used):
    owner = resolve(target)
    if params == "instance":
        from nbformat.v4 import new_notebook

        owner, params = owner(new_notebook()), None
    assert hasattr(owner, member), (
        f"gone from {where(package, target, member, used)}: adapt the grader or pin below this version"
    )
    if params is None:
        return
    expected = [p.strip() for p in params[params.index("(") + 1 : -1].split(",") if p.strip()]
    found = parameters(getattr(owner, member))
    if params.startswith("="):
        ok = found == expected
    else:
        ok = set(expected) <= set(found)
    assert ok, (
        f"parameters changed to ({', '.join(found)}), expected {params}, in {where(package, target, member, used)}"
    )


def test_installed_versions_are_the_pinned_ones():
    for package in PINNED:
        version = importlib.metadata.version(package)
        assert pinned_range(package).contains(version), (
            f"{package} {version} is installed, outside the pinned {pinned_range(package)}: the grader's overrides were checked "
            "against the pinned versions only; reinstall (bash scripts/setup.sh) or check test_overrides.py's table and widen the pin"
        )


def test_the_kernel_process_stand_in_has_everything_local_provisioner_uses():
    """ForkProvisioner gives LocalProvisioner a _KernelProcess where it expects a subprocess.Popen."""
    from jupyter_client.provisioning import LocalProvisioner

    from autograde.isolation.forked_kernels import _KernelProcess

    source = inspect.getsource(LocalProvisioner)
    used = set(re.findall(r"self\.process\.(\w+)", source)) - {"win32_interrupt_event"}  # Windows only
    used |= set(re.findall(r'"(stdout|stderr|stdin)"', source))
    stand_in = _KernelProcess(types.SimpleNamespace(pid=1))  # its pid is set per instance
    missing = sorted(name for name in used if not hasattr(stand_in, name))
    assert not missing, (
        f"jupyter_client {importlib.metadata.version('jupyter_client')} (pinned {pinned_range('jupyter_client')}): "
        f"LocalProvisioner uses process.{', process.'.join(missing)}, which autograde/isolation/forked_kernels.py's _KernelProcess lacks"
    )


def grader_modules():
    """The autograde modules that import a pinned package at their top (nbgrader_config.py is a config file)."""
    for path in sorted((ROOT / "autograde").rglob("*.py")):
        if path.stem != "nbgrader_config" and re.search(
            rf"^(from|import) ({'|'.join(PINNED)})\b", path.read_text(), re.MULTILINE
        ):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield importlib.import_module(".".join(parts[:-1] if path.stem == "__init__" else parts))


def grader_classes():
    """Every class defined in autograde/ that has a base class from the pinned packages."""
    return [
        c
        for module in grader_modules()
        for c in vars(module).values()
        if inspect.isclass(c) and c.__module__ == module.__name__ and any(_external(base) for base in c.__mro__)
    ]


def _external(cls):
    return cls.__module__.split(".")[0] in PINNED


# What the metaclasses of traitlets and abc put in every class (_traits, _descriptors, _abc_impl...).
METACLASS_NAMES = {*vars(type("Probe", (HasTraits,), {})), "_abc_impl"}


def _protected(name):
    return name.startswith("_") and not name.startswith("__") and name not in METACLASS_NAMES


def _target(cls):
    """The OVERRIDES spelling of a class, by the module path the table uses (its package's public one)."""
    for _, target, _, _, _ in OVERRIDES:
        if ":" in target and resolve(target) is cls:
            return target
    return f"{cls.__module__}:{cls.__qualname__}"


def test_every_protected_member_our_subclasses_share_with_a_base_is_listed():
    classes = grader_classes()
    assert {c.__name__ for c in classes} >= {"GuardedExecute", "ForkProvisioner", "RequireTodo"}
    unlisted = []
    for cls in classes:
        ours = [c for c in cls.__mro__ if c.__module__.startswith("autograde.")]
        bases = [c for c in cls.__mro__ if _external(c)]
        for name in {n for c in ours for n in vars(c) if _protected(n)}:
            owner = next((b for b in bases if name in vars(b)), None)
            if owner and not _listed(owner, name):
                unlisted.append(f"{cls.__name__}.{name} overrides {_target(owner)}.{name}")
        # Attributes our code sets on self that a base class's code also uses would clash silently.
        assigned = {n for c in ours for n in re.findall(r"self\.(_\w+)\s*=", inspect.getsource(c)) if _protected(n)}
        for base in bases:
            for name in assigned & set(re.findall(r"self\.(_\w+)", inspect.getsource(base))):
                if not _listed(base, name):
                    unlisted.append(f"{cls.__name__} sets self.{name}, which {_target(base)} also uses")
    assert not unlisted, "add to OVERRIDES in tests/test_overrides.py (or rename ours): " + "; ".join(
        sorted(set(unlisted))
    )


def test_every_protected_member_our_code_names_on_their_classes_is_listed():
    imported = [c for module in grader_modules() for c in vars(module).values() if inspect.isclass(c)]
    classes = {b for c in imported for b in c.__mro__ if _external(b)}
    classes |= {resolve(target) for _, target, _, _, _ in OVERRIDES if ":" in target}
    named = set()
    for path in (ROOT / "autograde").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and _protected(node.attr):
                named.add(node.attr)
    unlisted = sorted(
        f"{_target(c)}.{name}" for c in classes for name in named if name in vars(c) and not _listed(c, name)
    )
    assert not unlisted, (
        "autograde/ names these protected members; add them to OVERRIDES in tests/test_overrides.py: "
        + ", ".join(unlisted)
    )


def test_the_table_names_real_packages():
    for package, target, *_ in OVERRIDES:
        assert package in PINNED and target.split(".")[0].split(":")[0] == package, f"{target} is not in {package}"
