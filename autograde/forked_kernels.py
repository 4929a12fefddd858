"""Kernels forked from a process that has already imported TensorFlow.

Before the first line of a student's code runs, a fresh kernel spends about 2 s of CPU
importing ipykernel, NumPy, TensorFlow and Keras: a sixth of a lab under the smoke budget,
paid again for every submission. The standard library's multiprocessing *forkserver* imports
a list of modules once and forks each new process from that state; we start each grading
kernel that way. A kernel is still a new process per notebook, with its own copy-on-write
memory: nothing one notebook does reaches the server or the next kernel. The server has only
imported modules (TensorFlow's runtime and thread pools start in each kernel, after the fork).

jupyter_client starts kernels through a *provisioner*. :class:`ForkProvisioner` is its
LocalProvisioner with one change, how the process is started; signals, interrupts, kills and
the shutdown sequence are jupyter_client's own. Kernels other than ipykernel on this Python,
and processes that may not have children (a daemonic Dask worker), start the usual way.

Modules that read environment variables when imported read the server's: it is started with
the grading process's environment, as kernels were before.
"""
import functools
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import types
import uuid
from contextlib import contextmanager

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

PRELOAD = ["ipykernel.kernelapp", "numpy", "tensorflow", "keras", __name__]
# What a kernel's environment holds when a lab imports these modules, read by them at import
# time: the level the labs set before importing TensorFlow, the backend ipykernel sets before a
# notebook imports matplotlib (ipykernel imports pyplot itself).
SERVER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked from the preloaded server."""

    forked = False  # whether this kernel was forked (True) or started the usual way

    async def launch_kernel(self, cmd, **kwargs):
        # A daemonic process (a Dask worker by default) may not have multiprocessing children.
        if not _is_this_ipykernel(cmd) or multiprocessing.current_process().daemon:
            return await super().launch_kernel(cmd, **kwargs)
        env, cwd = dict(kwargs.get("env") or os.environ), str(kwargs.get("cwd") or os.getcwd())
        try:
            process = _forkserver().Process(target=_run_kernel, args=(cmd, env, cwd))
            with _main_module_hidden():
                process.start()
        except (OSError, ValueError):  # no forkserver on this platform, or it could not start
            return await super().launch_kernel(cmd, **kwargs)
        self.process = _KernelProcess(process)
        self.forked = True
        self.pid = self.pgid = process.pid  # the kernel makes itself a process-group leader
        self.cwd = cwd
        return self.connection_info


class ForkingKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with kernels started by :class:`ForkProvisioner`."""

    async def _async_pre_start_kernel(self, **kw):
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


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
    return len(cmd) >= 3 and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable) and cmd[1:3] == ["-m", "ipykernel_launcher"]


@functools.cache
def _forkserver():
    """The forkserver context, its server started (once per process) with PRELOAD imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with _environment(SERVER_ENV), _stderr_to_devnull():  # TensorFlow prints start-up lines that no setting silences
        multiprocessing.forkserver.ensure_running()
    return context


@contextmanager
def _environment(defaults):
    """os.environ with ``defaults`` for the variables it does not set, for the duration of the block."""
    added = {name: value for name, value in defaults.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            del os.environ[name]


@contextmanager
def _main_module_hidden():
    """multiprocessing re-runs the parent's ``__main__`` in each child (spawn semantics); a kernel needs none of it."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


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
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh seed, as in a new interpreter, not the server's
    sys.argv = list(cmd)
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher does; IPython puts "" back where it belongs
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=cmd[3:])
