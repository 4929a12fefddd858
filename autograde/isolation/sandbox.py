"""A sandbox for every grading kernel: Landlock, resource limits and a clean environment.

A student's notebook runs as the instructor's user. Unconfined, its code could read the
solutions and hidden tests, rewrite the grader's files, reach the network and read the
instructor's credentials from the environment. Each grading kernel runs instead under

- **Landlock** (Linux 5.13+, no root needed): the kernel reads only the Python environment,
  the system's libraries and programs, the few /etc, /dev, /proc and /sys files that Python,
  TensorFlow and matplotlib read, and the paths the grader names (a lab's data); it writes only
  its job's folders and a private temporary folder. From Linux 6.7 it can bind only the ports
  of its connection file and connect to no TCP port but its own shell port; from Linux 6.12 it
  can neither signal nor reach the abstract unix sockets of processes outside its sandbox
  (the grader, other kernels);
- **resource limits**: processes and threads, file size, CPU time, no core files;
- **an environment built from an allow-list**: nothing else of the grader's gets through.

Landlock restricts a thread and whatever it starts afterwards, irreversibly. So the grader
never restricts itself: it describes the sandbox in a :class:`SandboxPolicy`, passes it in the
kernel's environment as ``COURSE_SANDBOX``, and the kernel process applies it with
:func:`enter` before it starts any thread, whichever way it was started (forked from the
preloaded server, or ``python -m autograde.isolation.sandboxed_kernel``: see
:mod:`autograde.isolation.forked_kernels`). On a Linux that lacks a feature the sandbox applies what it
can, and :func:`probe` says what is missing.

Orphans: a kernel's double-forked daemon escapes its process group, so jupyter_client's
shutdown misses it. :func:`become_subreaper` makes such orphans children of the grading
process, and :func:`kill_strays` ends them once the kernel is gone.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib.util
import json
import os
import resource
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

try:
    import landlockpy
    from landlockpy import AccessFS, AccessNet, Scope
except ImportError:  # the grading extra is not installed: no Landlock, the rest still applies
    landlockpy = None

from autograde.grading.limits import DEFAULT_LIMITS

VARIABLE = "COURSE_SANDBOX"

# Read and run: the system's programs and libraries.
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Read only, found by tracing kernels that run the labs (strace -f -e trace=%file). /etc: the
# dynamic loader's cache and preload list, the time zone, fontconfig (matplotlib runs fc-list).
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/localtime",
    "/etc/locale.alias",
    "/etc/ssl/openssl.cnf",
    "/etc/fonts",
    "/var/cache/fontconfig",
    "/dev/random",
    "/dev/urandom",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/filesystems",
    "/sys/devices/system/cpu",
    "/sys/kernel/mm/transparent_hugepage",
)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full")  # read and write
# The kernel's own /proc/self entries (psutil, TensorFlow). Not net/ (nor task/, which holds it
# again), which lists every unix socket on the machine; not environ; not the links root, cwd, exe.
PROC_SELF = (
    "cgroup",
    "cmdline",
    "comm",
    "fd",
    "fdinfo",
    "io",
    "limits",
    "maps",
    "mountinfo",
    "mounts",
    "sched",
    "smaps",
    "smaps_rollup",
    "stat",
    "statm",
    "status",
)
CONNECTION_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# The Landlock ABI version that brought each protection (as landlockpy numbers them).
NETWORK_ABI, SCOPE_ABI, UNIX_SOCKET_ABI, UDP_ABI = 4, 6, 9, 10

PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
_pinned = []  # open /proc paths, see _pin


@dataclasses.dataclass
class SandboxPolicy:
    """What one grading kernel may touch; JSON-friendly, as it travels in the kernel's environment.

    Args:
        temp_dir: the kernel's private folder, which must exist and serve no one else. HOME, TMPDIR,
            IPYTHONDIR and MPLCONFIGDIR point into it. The caller removes it after the kernel ends.
        writable: folders the kernel may read and change, e.g. its working folder and the lab's
            output folder (LAB_OUTPUT_DIR). Missing ones are created.
        readable: further files and folders it may read, e.g. a lab's data set.
        env: variables for the kernel on top of the allow-list, e.g. LAB_BUDGET, TWEETS_DIR.
        max_processes: processes and threads it may start beyond those running when it starts.
        max_file_mb: the largest file it may write, in MB.
        cpu_seconds: CPU time of the kernel process (all its threads); each child has as much.
    """

    temp_dir: str
    writable: list = dataclasses.field(default_factory=list)
    readable: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    max_processes: int = DEFAULT_LIMITS["max_processes"]
    max_file_mb: int = DEFAULT_LIMITS["max_file_mb"]
    cpu_seconds: int = 7200

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        return cls(**json.loads(text))


@dataclasses.dataclass(frozen=True)
class Support:
    """What this machine lets the sandbox enforce.

    Attributes:
        abi: the Landlock ABI version of the running Linux kernel, 0 without Landlock.
        missing: one short sentence for each protection this machine cannot give.
    """

    abi: int
    missing: tuple

    def __str__(self):
        state = f"Landlock ABI {self.abi}" if self.abi else "no Landlock"
        return f"sandbox: {state}; " + ("; ".join(self.missing) if self.missing else "every protection applies")


def landlock_abi() -> int:
    """The Landlock ABI version of the running Linux kernel; 0 without Landlock (or without landlockpy)."""
    return landlockpy.abi_version() if landlockpy else 0


def probe() -> Support:
    """Finds which protections this machine supports; cheap, starts nothing.

    Returns:
        A :class:`Support`. Print it once per grading run; put its ``missing`` sentences in the
        notes of the grades they concern.
    """
    abi = landlock_abi()
    missing = []
    if landlockpy is None:
        missing.append("landlockpy is not installed: kernels can read and write every file and reach the network")
    elif abi == 0:
        missing.append(
            "no Landlock in this Linux kernel (5.13+ needed): kernels can read and write every file and reach the network"
        )
    else:
        if abi < NETWORK_ABI:
            missing.append("Landlock without network rules (Linux 6.7+ needed): kernels can open TCP connections")
        if abi < SCOPE_ABI:
            missing.append(
                "Landlock without scopes (Linux 6.12+ needed): kernels can signal the grader and other kernels"
            )
        if abi < UNIX_SOCKET_ABI:
            missing.append(f"kernels can connect to named unix sockets (Landlock ABI {UNIX_SOCKET_ABI} needed)")
        if abi < UDP_ABI:
            missing.append(f"kernels can send UDP packets (Landlock ABI {UDP_ABI} needed)")
    if os.geteuid() == 0:
        missing.append("grading runs as root, which the limit on processes does not bind")
    return Support(abi, tuple(missing))


def kernel_environment(policy: SandboxPolicy) -> dict[str, str]:
    """The whole environment of a kernel under ``policy``.

    Returns:
        A dict: PATH (the Python environment's bin, then /usr/bin:/bin), HOME, TMPDIR, IPYTHONDIR
        and MPLCONFIGDIR in the private folder, a UTF-8 locale, then ``policy.env``.
    """
    temp = Path(policy.temp_dir)
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(temp),
        "TMPDIR": str(temp / "tmp"),
        "IPYTHONDIR": str(temp / ".ipython"),
        "MPLCONFIGDIR": str(temp / ".matplotlib"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        **policy.env,
    }


def launch_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment to start a kernel with, given the one jupyter_client would give it.

    Args:
        env: the kernel's environment as the grader built it (often the grader's own plus a few).
    Returns:
        ``env`` itself when it names no policy; else only the policy's environment, jupyter_client's
        JPY_ variables and the policy. The grader's other variables never reach the kernel's
        memory, nor its /proc/self/environ.
    """
    if VARIABLE not in env:
        return env
    jupyter = {name: value for name, value in env.items() if name.startswith("JPY_")}
    return {**kernel_environment(SandboxPolicy.from_json(env[VARIABLE])), **jupyter, VARIABLE: env[VARIABLE]}


def enter(argv: list[str]) -> int | None:
    """Puts this process, a new kernel, in the sandbox its environment names; call it before any thread starts.

    Does nothing without ``COURSE_SANDBOX``. Otherwise replaces the environment by the policy's,
    creates the private folders, sets the resource limits, then restricts the process with
    Landlock as far as the running Linux allows. Irreversible; children inherit all of it.

    Args:
        argv: the kernel's command line; its ``-f`` connection file names the ports to allow.
    Returns:
        The Landlock ABI version applied (0: none), or None when no sandbox was asked for.
    """
    text = os.environ.pop(VARIABLE, None)
    if text is None:
        return None
    if len(os.listdir("/proc/self/task")) > 1:  # Landlock would leave the other threads free
        raise RuntimeError("sandbox.enter() must run before the process starts any thread")
    policy = SandboxPolicy.from_json(text)
    jupyter = {name: value for name, value in os.environ.items() if name.startswith("JPY_")}
    os.environ.clear()
    os.environ.update({**kernel_environment(policy), **jupyter})
    tempfile.tempdir = None  # a forked kernel inherits the server's choice of temporary folder
    for folder in (os.environ["TMPDIR"], os.environ["IPYTHONDIR"], os.environ["MPLCONFIGDIR"], *policy.writable):
        os.makedirs(folder, exist_ok=True)
    _set_limits(policy)
    _leave_resource_tracker()
    abi = _restrict(policy, _connection_file(argv))
    _drop_capabilities()
    return abi


def filesystem_rules(policy: SandboxPolicy, connection_file: str | None = None) -> list[tuple[str, AccessFS]]:
    """Every path a kernel under ``policy`` may use, and how.

    Returns:
        A list of (path, landlockpy.AccessFS); paths may be missing on this machine.
    """
    read = AccessFS.READ_FILE | AccessFS.READ_DIR
    write = (
        read
        | AccessFS.WRITE_FILE
        | AccessFS.TRUNCATE
        | AccessFS.REMOVE_FILE
        | AccessFS.REMOVE_DIR
        | AccessFS.MAKE_REG
        | AccessFS.MAKE_DIR
        | AccessFS.REFER
    )  # no symlinks, fifos, sockets or devices
    rules = [(path, read | AccessFS.EXECUTE) for path in (*SYSTEM_FOLDERS, *python_paths())]
    rules += [
        (path, read) for path in (*SYSTEM_FILES, *(f"/proc/self/{entry}" for entry in PROC_SELF), *policy.readable)
    ]
    rules += [(path, AccessFS.READ_FILE | AccessFS.WRITE_FILE | AccessFS.TRUNCATE) for path in DEVICES]
    rules += [(path, write) for path in (policy.temp_dir, *policy.writable)]
    if connection_file:
        rules.append((connection_file, AccessFS.READ_FILE))
    return rules


def python_paths() -> list[str]:
    """The folders of the Python environment a kernel reads, without the course's private parts.

    Returns:
        The prefixes and sys.path folders, minus the course repository (solutions/, autograde/,
        grades), plus its ``course_utils/`` package, which labs import.
    """
    private = _course_root()
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    folders = []
    for entry in {*map(str, prefixes), *sys.path}:
        if not entry or not os.path.isabs(entry) or not os.path.exists(entry):
            continue  # "" (the working folder) and import hooks
        path = Path(entry).resolve()
        if private in (path, *path.parents):  # inside the course: only a Python environment kept there
            if any(prefix in (path, *path.parents) and private in prefix.parents for prefix in prefixes):
                folders.append(path)
        elif path in private.parents:  # holds the course: everything in it but the course
            folders += _beside(path, private)
        else:
            folders.append(path)
    course_utils = importlib.util.find_spec("course_utils")
    if course_utils and course_utils.origin:
        folders.append(Path(course_utils.origin).parent)
    return sorted(set(map(str, folders)))


def _course_root():
    """The course repository when installed editable (the parent of the autograde package), else that package."""
    package = Path(__file__).resolve().parents[1]  # autograde/, this module being autograde/isolation/sandbox.py
    return package.parent if (package.parent / "pyproject.toml").exists() else package


def _beside(folder, excluded):
    """The entries of ``folder`` that together hold everything in it except ``excluded``."""
    entries = []
    for entry in folder.iterdir():
        if entry == excluded:
            continue
        entries += _beside(entry, excluded) if entry in excluded.parents else [entry]
    return entries


def _connection_file(argv):
    """The connection file named by ``-f FILE`` or ``-f=FILE`` in a kernel's command line, or None."""
    for index, arg in enumerate(argv):
        if arg in ("-f", "--f") and index + 1 < len(argv):
            return os.path.abspath(argv[index + 1])
        if arg.startswith(("-f=", "--f=")):
            return os.path.abspath(arg.split("=", 1)[1])
    return None


def _restrict(policy, connection_file):
    abi = landlock_abi()
    if not abi:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)  # still: no setuid programs, and kill_strays can tell our processes apart
        return 0
    with landlockpy.Ruleset(
        scoped=Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET
    ) as ruleset:  # whatever this Linux supports
        for path, access in filesystem_rules(policy, connection_file):
            try:
                if not os.path.isdir(path):
                    access &= (
                        AccessFS.EXECUTE
                        | AccessFS.READ_FILE
                        | AccessFS.WRITE_FILE
                        | AccessFS.TRUNCATE
                        | AccessFS.IOCTL_DEV
                    )
                ruleset.allow_path(path, access)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if path.startswith("/proc/"):
                _pin(path)
        if connection_file:
            # ipykernel binds the five ports and connects one socket to its own shell port; it binds
            # no other port, except a pipe for forked subprocesses' output that it does without.
            connection = json.loads(Path(connection_file).read_text())
            for name in CONNECTION_PORTS:
                ruleset.allow_port(connection[name], AccessNet.BIND_TCP)
            ruleset.allow_port(connection["shell_port"], AccessNet.CONNECT_TCP)
        ruleset.restrict()
    return abi


def _pin(path):
    """Keeps ``path`` open: /proc makes a new inode when it looks a name up again, and Landlock's
    rule holds the old one, so an entry dropped from the cache would silently become unreadable."""
    try:
        _pinned.append(os.open(path, os.O_PATH | os.O_CLOEXEC))
    except OSError:
        pass


def _set_limits(policy):
    _lower(resource.RLIMIT_CORE, 0)
    _lower(resource.RLIMIT_FSIZE, policy.max_file_mb * 2**20)  # Python ignores SIGXFSZ: writes fail with EFBIG
    _lower(resource.RLIMIT_CPU, policy.cpu_seconds, policy.cpu_seconds + 5)  # SIGXCPU, then SIGKILL
    # The limit counts every process and thread of the user (root is exempt). Counting every
    # task on the machine overestimates, which errs on the side of the kernels.
    _lower(resource.RLIMIT_NPROC, _tasks_running() + policy.max_processes)


def _lower(which, soft, hard=None):
    """Sets a resource limit, never above the current hard limit (only root may raise it)."""
    hard = soft if hard is None else hard
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
    resource.setrlimit(which, (min(soft, hard), hard))


def _tasks_running():
    """Processes and threads running on the machine (the fourth field of /proc/loadavg: running/total)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    except (OSError, IndexError, ValueError):
        return 4096


def _leave_resource_tracker():
    """A forked kernel inherits the grader's multiprocessing resource tracker, which unlinks what it
    is told to when the grader exits: drop it (the kernel starts its own if it needs one)."""
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    if tracker is None or tracker._resource_tracker._fd is None:
        return
    try:
        os.close(tracker._resource_tracker._fd)
    except OSError:
        pass
    tracker._resource_tracker._fd = tracker._resource_tracker._pid = None


def _drop_capabilities():
    """Clears every capability, which a kernel has when grading runs as root: Landlock does not stop
    root from loading kernel modules, for instance. no_new_privs keeps programs it runs from regaining them."""
    if os.geteuid() != 0:
        return
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: twice 32 bits, all cleared
    if ctypes.CDLL(None, use_errno=True).capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _prctl(option, value):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


_running = set()  # pids of kernels this process started and has not cleaned up


def track_kernel(pid: int, running: bool = True) -> None:
    """Records that kernel ``pid`` runs (or, with ``running=False``, has ended): :func:`kill_strays` spares running ones."""
    if running:
        _running.add(pid)
    else:
        _running.discard(pid)


def become_subreaper() -> None:
    """Makes this process adopt its orphaned descendants, such as a kernel's double-forked daemons.

    Call it once in the grading process (worker), before it starts kernels: it is what lets
    :func:`kill_strays` find them.
    """
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def kill_strays(keep: Iterable[int] = ()) -> int:
    """Kills what sandboxed kernels left behind, with everything they started.

    A stray is a child of this process (a subreaper adopts orphans) that runs with no_new_privs,
    which every sandboxed process has for good and the grader's own helpers lack, and is no kernel
    still running (:func:`track_kernel`, or ``keep``). When the grader itself runs with
    no_new_privs (some containers), every other child counts, except multiprocessing's servers.

    Args:
        keep: pids to spare.
    Returns:
        The number of live processes killed (dead strays are only reaped).
    """
    import psutil

    spared = {*keep, *_running, *_multiprocessing_servers()}
    marked = not _no_new_privs(os.getpid())
    killed = 0
    for _ in range(100):  # a stray that forks while we kill it hands its children to us: go again
        strays = [
            child
            for child in psutil.Process().children()
            if child.pid not in spared and (not marked or _no_new_privs(child.pid))
        ]
        if not strays:
            break
        for stray in strays:
            for process in [stray, *_descendants(stray)]:
                try:
                    if process.status() != psutil.STATUS_ZOMBIE:
                        process.kill()
                        killed += 1
                except psutil.Error:
                    pass
            try:
                stray.wait(timeout=5)  # reaps it (a zombie too): it is our child
            except psutil.Error:
                pass
    return killed


def _descendants(process):
    import psutil

    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def _no_new_privs(pid):
    """Whether process ``pid`` runs with no_new_privs (zombies too); False when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.split() == ["NoNewPrivs:", "1"] for line in status)
    except OSError:
        return False


def _multiprocessing_servers():
    """The pids of this process's multiprocessing forkserver and resource tracker, if started."""
    pids = set()
    forkserver = sys.modules.get("multiprocessing.forkserver")
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    if forkserver and forkserver._forkserver._forkserver_pid:
        pids.add(forkserver._forkserver._forkserver_pid)
    if tracker and tracker._resource_tracker._pid:
        pids.add(tracker._resource_tracker._pid)
    return pids
