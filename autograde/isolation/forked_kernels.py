"""Kernels forked from a process that has already imported TensorFlow.

Before the first line of a student's code runs, a fresh kernel spends about 2 s of CPU
importing ipykernel, NumPy, TensorFlow and Keras: a sixth of a lab under the smoke budget,
paid again for every submission. The standard library's multiprocessing *forkserver* imports
a list of modules once and forks each new process from that state; we start each grading
kernel that way. A kernel is still a new process per notebook, with its own copy-on-write
memory: nothing one notebook does reaches the server or the next kernel. The server has only
imported modules (TensorFlow's runtime and thread pools start in each kernel, after the fork).

jupyter_client starts kernels through a *provisioner*, which a kernel's spec names (its
``metadata.kernel_provisioner``) among those registered as ``jupyter_client.kernel_provisioners``
entry points. :class:`ForkProvisioner` is registered in pyproject.toml, and :func:`use_fork_provisioner`
names it in the spec of a kernel about to start. It is jupyter_client's LocalProvisioner with one change,
how the process is started; signals, interrupts, kills and the shutdown sequence are jupyter_client's own.
Kernels other than ipykernel on this Python, and processes that may not have children (a daemonic
Dask worker), start the usual way.

Both ways put the kernel in the sandbox its environment names (``COURSE_SANDBOX``, see
:mod:`autograde.isolation.sandbox`): a forked kernel enters it right after the fork, a kernel started the
usual way runs ``python -m autograde.isolation.sandboxed_kernel`` instead of ``ipykernel_launcher``.
With ``fork=False`` every kernel starts the usual way, sandboxed all the same.

The server itself starts with an environment of a few harmless variables (the grader's may hold
credentials, and a forked kernel inherits the server's memory), which modules that read
variables when imported read. It forks only for the grading process that started it: a kernel
knows the server's socket and could otherwise ask it for a process outside any sandbox.
"""

from __future__ import annotations

import errno
import functools
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.reduction
import os
import socket
import struct
import sys
import types
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner
from traitlets import Bool

from autograde.isolation import sandbox

if TYPE_CHECKING:
    from jupyter_client.connect import KernelConnectionInfo
    from jupyter_client.manager import KernelManager

PRELOAD = ["ipykernel.kernelapp", "numpy", "tensorflow", "keras", __name__]
# What a kernel's environment holds when a lab imports these modules, read by them at import
# time: the level the labs set before importing TensorFlow, the backend ipykernel sets before a
# notebook imports matplotlib (ipykernel imports pyplot itself).
SERVER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
# The grader's variables the server keeps: locale, the libraries' thread and device settings, and PYTHONPATH, so that
# the server imports this module from where the grader did (Python 3.11's forkserver drops the sys.path it is sent,
# and nbgrader has changed the working folder by then): else a course on PYTHONPATH over an installed one would fork
# kernels from the installed copy's code, or from none.
SERVER_PASSES = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_CPP_MIN_LOG_LEVEL",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
    "KERAS_HOME",
    "MPLBACKEND",
    "PYTHONPATH",
)
SERVER_PARENT = "COURSE_FORKSERVER_PARENT"  # tells the server, at its preload, which process it serves
PROVISIONER = "autograde-fork"  # ForkProvisioner's entry point name, in pyproject.toml


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked from the preloaded server, each in its sandbox if asked."""

    fork = Bool(True, help="fork the kernel from the preloaded server (False: start it the usual way)").tag(config=True)
    forked = False  # whether this kernel was forked (True) or started the usual way

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = sandbox.launch_environment(dict(kwargs.get("env") or os.environ))
        # A daemonic process (a Dask worker by default) may not have multiprocessing children.
        if self.fork and _is_this_ipykernel(cmd) and not multiprocessing.current_process().daemon:
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                process = _forkserver().Process(target=_run_kernel, args=(cmd, env, cwd))
                with _grader_hidden():
                    process.start()
            except (OSError, ValueError):  # no forkserver on this platform, or it could not start
                pass
            else:
                self.process = _KernelProcess(process)
                self.forked = True
                self.pid = self.pgid = process.pid  # the kernel makes itself a process-group leader
                self.cwd = cwd
                sandbox.track_kernel(self.pid)
                return self.connection_info
        if sandbox.VARIABLE in env:
            cmd = _sandboxed_command(cmd)
        connection_info = await super().launch_kernel(cmd, **{**kwargs, "env": env})
        sandbox.track_kernel(self.pid)
        return connection_info

    async def cleanup(self, restart: bool = False) -> None:
        sandbox.track_kernel(self.pid, running=False)
        await super().cleanup(restart)


def use_fork_provisioner(km: KernelManager, fork: bool = True) -> KernelManager:
    """Makes the kernel manager ``km`` start its kernel with :class:`ForkProvisioner`; returns ``km``.

    Args:
        km: a jupyter_client kernel manager whose kernel has not started (nbclient's ``create_kernel_manager()``).
        fork: fork the kernel from the preloaded server; False starts it the usual way. Either way it enters the
            sandbox its environment names.
    """
    if not entry_points(group=KernelProvisionerFactory.GROUP_NAME, name=PROVISIONER):
        raise RuntimeError(
            f"jupyter_client finds no kernel provisioner {PROVISIONER!r}: the course package registers it "
            "when installed; reinstall it (pip install -e . in the repository, or bash scripts/setup.sh)"
        )
    spec = km.kernel_spec  # the manager's own copy, read from the kernel's spec file
    spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": PROVISIONER, "config": {"fork": fork}}}
    return km


class _KernelProcess:
    """The part of subprocess.Popen that LocalProvisioner uses, for a multiprocessing.Process."""

    stdin = stdout = stderr = None

    def __init__(self, process):
        self._process = process
        self.pid = process.pid

    def poll(self):
        return self._process.exitcode

    def wait(self, timeout=None):
        self._process.join(timeout)
        return self._process.exitcode

    def send_signal(self, signum):
        if self._process.exitcode is None:  # a finished kernel's pid may belong to someone else by now
            os.kill(self.pid, signum)

    def kill(self):
        self._process.kill()

    def terminate(self):
        self._process.terminate()


def _is_this_ipykernel(cmd):
    return (
        len(cmd) >= 3
        and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable)
        and cmd[1:3] == ["-m", "ipykernel_launcher"]
    )


def _sandboxed_command(cmd):
    """``python -m autograde.isolation.sandboxed_kernel ...`` for ``python -m ipykernel_launcher ...``."""
    if not _is_this_ipykernel(cmd):
        raise RuntimeError(f"cannot sandbox the kernel {' '.join(cmd)!r}: only this Python's ipykernel can be")
    return [cmd[0], "-m", "autograde.isolation.sandboxed_kernel", *cmd[3:]]


@functools.cache
def _forkserver():
    """The forkserver context, its server started (once per process) with PRELOAD imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    passed = {name: os.environ[name] for name in SERVER_PASSES if name in os.environ}
    env = {**SERVER_ENV, **passed, SERVER_PARENT: str(os.getpid())}
    with _environment(env), _stderr_to_devnull():  # TensorFlow prints start-up lines that no setting silences
        multiprocessing.forkserver.ensure_running()
    return context


@contextmanager
def _environment(env):
    """os.environ replaced by ``env`` for the duration of the block."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _serve_only_the_grader():
    """In the server: refuse to fork for any process but the grading process that started it.

    The server forks, outside any sandbox, whatever a client sends; a forked kernel inherits the
    address of its socket, and Landlock before ABI 9 does not stop connecting to a named socket.
    """
    grader = os.getppid()
    receive = multiprocessing.reduction.recvfds

    def recvfds(sock, size):
        pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        if pid != grader:  # the server's loop drops the connection and goes on serving
            raise ConnectionAbortedError(errno.ECONNABORTED, f"fork request from process {pid}, not from the grader")
        return receive(sock, size)

    multiprocessing.reduction.recvfds = recvfds


@contextmanager
def _grader_hidden():
    """multiprocessing re-runs the parent's ``__main__`` in each child (spawn semantics) and sends it
    the parent's sys.argv (``course grade --db URL`` may hold a password); a kernel needs neither."""
    main, argv = sys.modules["__main__"], sys.argv
    sys.modules["__main__"] = types.ModuleType("__main__")
    sys.argv = argv[:1]
    try:
        yield
    finally:
        sys.modules["__main__"], sys.argv = main, argv


@contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _run_kernel(cmd, env, cwd):
    """In the forked child: become what ``python -m ipykernel_launcher ...`` would have been."""
    os.setsid()  # its own process group, as jupyter_client gives kernels: signals reach its subprocesses too
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the kernel sends what students see over ZeroMQ; its own stdio goes nowhere
        os.dup2(devnull, fd)
    os.environ.clear()
    os.environ.update(env)
    os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the kernel exits if the server (so the grader) dies
    os.chdir(cwd)
    sandbox.enter(cmd)  # single-threaded still: the fork left the server's threads behind
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh seed, as in a new interpreter, not the server's
    sys.argv = list(cmd)
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher does; IPython puts "" back where it belongs
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=cmd[3:])


if os.environ.pop(SERVER_PARENT, None) == str(os.getppid()):  # this is the server, importing its preload
    _serve_only_the_grader()
