"""Kernels forked from the preloaded server: faster to start, and still one clean process per notebook."""

import importlib.metadata
import math
import multiprocessing.forkserver
import os
import tomllib

import pytest
from helpers import ROOT, fork_provisioned_client
from nbformat.v4 import new_code_cell, new_notebook

import autograde.isolation.forked_kernels as forked_kernels

pytestmark = pytest.mark.slow  # every test starts a kernel or the preloaded kernel server


def run(tmp_path, *sources, env=None):
    """Runs cells in a new forked kernel; returns what each cell printed (or its error)."""
    notebook = new_notebook(cells=[new_code_cell(s) for s in sources])
    client = fork_provisioned_client(
        notebook, kernel_name="python3", timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env={"PATH": "/usr/bin:/bin", **(env or {})})
    return ["".join(_shown(o) for o in cell.outputs).strip() for cell in notebook.cells]


def _shown(output):
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"
    return "[image]" if "image/png" in output.get("data", {}) else ""


def test_tensorflow_is_imported_before_the_first_cell(tmp_path):
    assert run(tmp_path, "import sys; print('tensorflow' in sys.modules, 'keras' in sys.modules)") == ["True True"]


def test_nothing_one_notebook_changes_reaches_the_next(tmp_path):
    first = run(
        tmp_path,
        "import os, numpy, tensorflow as tf\nnumpy.pi = 3\ntf.from_a_student = True\nos.environ['LEAK'] = '1'\nprint('changed')",
    )
    second = run(
        tmp_path,
        "import os, numpy, tensorflow as tf\nprint(numpy.pi, hasattr(tf, 'from_a_student'), 'LEAK' in os.environ)",
    )
    assert first == ["changed"] and second == [f"{math.pi} False False"]


def test_each_kernel_gets_its_environment_folder_and_own_random_seed(tmp_path):
    cells = (
        "import os; print(os.environ.get('LAB_BUDGET'), os.getcwd(), os.getpid())",
        "import numpy as np; print(np.random.rand())",
    )
    first, second = run(tmp_path, *cells, env={"LAB_BUDGET": "smoke"}), run(tmp_path, *cells)
    assert first[0].split()[:2] == ["smoke", str(tmp_path)] and second[0].split()[:2] == ["None", str(tmp_path)]
    assert first[0].split()[2] != second[0].split()[2], "two notebooks ran in the same process"
    assert first[1] != second[1], "two kernels drew the same 'random' numbers"


def test_tensorflow_runs_in_the_forked_kernel(tmp_path):
    code = "import keras, numpy as np\nmodel = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4)])\nprint(model(np.ones((2, 5, 3))).shape)"
    assert run(tmp_path, code) == ["(2, 4)"]


def test_plots_are_shown_inline(tmp_path):
    assert run(tmp_path, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()") == ["[image]"]


def test_without_a_forkserver_kernels_start_the_usual_way(tmp_path, monkeypatch):
    def unavailable():
        raise OSError("the forkserver could not start")

    monkeypatch.setattr(forked_kernels, "_forkserver", unavailable)
    assert run(tmp_path, "import sys; print('tensorflow' in sys.modules)") == ["False"]


def test_the_server_holds_none_of_the_graders_variables():
    # A forked kernel inherits the server's memory, sandboxed or not: no credentials may be in it.
    forked_kernels._forkserver()
    with open(f"/proc/{multiprocessing.forkserver._forkserver._forkserver_pid}/environ", "rb") as environ:
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.read().split(b"\0") if entry}
    kept = {*forked_kernels.SERVER_PASSES, *forked_kernels.SERVER_ENV, forked_kernels.SERVER_PARENT}
    assert not (names - kept) & set(os.environ)  # C libraries may add a few (COLUMNS), never the grader's own


def test_jupyter_client_finds_the_provisioner_pyproject_registers():
    from jupyter_client.provisioning import KernelProvisionerFactory

    group = KernelProvisionerFactory.GROUP_NAME
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][group]
    assert (
        importlib.metadata.EntryPoint(forked_kernels.PROVISIONER, declared[forked_kernels.PROVISIONER], group).load()
        is forked_kernels.ForkProvisioner
    )
    installed = importlib.metadata.entry_points(group=group, name=forked_kernels.PROVISIONER)
    assert [e.value for e in installed] == [declared[forked_kernels.PROVISIONER]], (
        "the installed entry points are not pyproject.toml's: reinstall (pip install -e .)"
    )


@pytest.mark.parametrize("fork", [True, False])
def test_the_kernel_spec_names_the_provisioner_and_whether_to_fork(fork):
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning import KernelProvisionerFactory

    km = forked_kernels.use_fork_provisioner(AsyncKernelManager(kernel_name="python3"), fork=fork)
    provisioner = KernelProvisionerFactory.instance().create_provisioner_instance("a-kernel", km.kernel_spec, parent=km)
    assert type(provisioner) is forked_kernels.ForkProvisioner and provisioner.fork is fork
    assert "kernel_provisioner" not in AsyncKernelManager(kernel_name="python3").kernel_spec.metadata, (
        "another kernel's spec changed"
    )
