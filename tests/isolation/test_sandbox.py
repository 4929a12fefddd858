"""The grading kernels' sandbox: what student code may not touch, and that labs still run in it."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import ROOT, fork_provisioned_client
from nbformat.v4 import new_code_cell, new_notebook

from autograde.course import Course
from autograde.isolation import sandbox

ABI = sandbox.landlock_abi()


def needs_abi(version, what):
    return pytest.mark.skipif(ABI < version, reason=f"{what} needs Landlock ABI {version}; this Linux has {ABI}")


@pytest.fixture
def job(tmp_path, monkeypatch):
    """A grading job's folders, and the places around it that a kernel must not reach."""
    folders = {
        name: tmp_path / name for name in ("work", "temp", "data", "course_utils", "hidden_tests", "template", "home")
    }
    for folder in folders.values():
        folder.mkdir()
    (folders["data"] / "tweets.txt").write_text("a tweet\n")
    (folders["hidden_tests"] / "lab1.py").write_text("SECRET_CHECK = 42\n")
    (folders["home"] / ".netrc").write_text("machine example.org password hunter2\n")
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t")  # in the grader's environment only
    policy = sandbox.SandboxPolicy(
        temp_dir=str(folders["temp"]),
        writable=[str(folders["work"])],
        readable=[str(folders["data"]), str(folders["course_utils"])],
        env={
            "LAB_BUDGET": "smoke",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        },
    )
    return policy, folders


def in_sandbox(policy, code, cwd):
    """Runs Python ``code`` in a new process that enters the sandbox first; returns what it printed."""
    program = f"import sys\nfrom autograde.isolation import sandbox\nsandbox.enter(sys.argv)\n{textwrap.dedent(code)}"
    env = {**os.environ, sandbox.VARIABLE: policy.to_json()}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


ATTEMPT = """
import os

def attempt(action, *args):
    try:
        action(*args)
        print("allowed")
    except OSError as error:
        print(type(error).__name__)

def write(path):
    with open(path, "w") as file:
        file.write("changed")

def read(path):
    with open(path) as file:
        file.read()
"""


@needs_abi(1, "file rules")
def test_a_sandboxed_process_writes_only_its_folders(job):
    policy, folders = job
    code = (
        ATTEMPT
        + f"""
for folder in {[str(folders[name]) for name in ("course_utils", "hidden_tests", "template", "data")]!r}:
    attempt(write, folder + "/planted.py")
attempt(write, {str(folders["work"] / "answer.txt")!r})
attempt(write, {str(folders["temp"] / "scratch.txt")!r})
attempt(os.symlink, "/etc/passwd", "link")  # the grader could follow a link planted in the job's folder
"""
    )
    assert in_sandbox(policy, code, folders["work"]) == ["PermissionError"] * 4 + [
        "allowed",
        "allowed",
        "PermissionError",
    ]
    assert not any(
        folders[name].joinpath("planted.py").exists() for name in ("course_utils", "hidden_tests", "template")
    )


@needs_abi(1, "file rules")
def test_a_sandboxed_process_reads_neither_hidden_tests_nor_home_nor_the_course(job):
    policy, folders = job
    private = [
        folders["hidden_tests"] / "lab1.py",
        folders["home"] / ".netrc",
        Course.load(ROOT).references_file("lab1"),
        ROOT / "README.md",
        *sorted((ROOT / "solutions").glob("*/*.ipynb"))[:1],
    ]
    code = (
        ATTEMPT
        + f"""
for path in {list(map(str, private))!r}:
    attempt(read, path)
attempt(read, {str(folders["data"] / "tweets.txt")!r})
attempt(read, {str(ROOT / "course_utils" / "__init__.py")!r})
"""
    )
    assert in_sandbox(policy, code, folders["work"]) == ["PermissionError"] * len(private) + ["allowed", "allowed"]


def test_the_python_environment_is_readable_but_not_the_course_or_home():
    allowed = [Path(p) for p in sandbox.python_paths()]
    assert ROOT / "course_utils" in allowed
    for path in allowed:
        for private in (ROOT, Course.load(ROOT).references_dir, ROOT / "solutions", Path.home()):
            assert not private.is_relative_to(path), f"{private} is readable through {path}"


@needs_abi(sandbox.NETWORK_ABI, "network rules")
def test_a_sandboxed_process_cannot_connect_to_a_listening_socket(job):
    policy, folders = job
    with socket.create_server(("127.0.0.1", 0)) as server:
        code = (
            ATTEMPT
            + f"""
import socket
attempt(socket.create_connection, ("127.0.0.1", {server.getsockname()[1]}), 5)
"""
        )
        assert in_sandbox(policy, code, folders["work"]) == ["PermissionError"]


@needs_abi(sandbox.NETWORK_ABI, "network rules")
def test_a_sandboxed_process_binds_only_its_connection_ports(job, tmp_path):
    policy, folders = job
    free = []
    for _ in range(6):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free.append(probe.getsockname()[1])
    connection = tmp_path / "kernel.json"
    connection.write_text(json.dumps(dict(zip(sandbox.CONNECTION_PORTS, free))))
    code = (
        ATTEMPT
        + f"""
import socket
for port in {free!r} + [0]:  # 0: any free port
    attempt(socket.create_server, ("127.0.0.1", port))
"""
    )
    program = f"import sys\nfrom autograde.isolation import sandbox\nsandbox.enter(sys.argv)\n{textwrap.dedent(code)}"
    result = subprocess.run(
        [sys.executable, "-c", program, "-f", str(connection)],
        env={**os.environ, sandbox.VARIABLE: policy.to_json()},
        cwd=folders["work"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["allowed"] * 5 + ["PermissionError"] * 2, result.stderr


@needs_abi(sandbox.SCOPE_ABI, "scopes")
def test_a_sandboxed_process_cannot_signal_the_grader_or_reach_its_abstract_sockets(job):
    policy, folders = job
    name = f"\0course-sandbox-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(name)
        server.listen()
        code = (
            ATTEMPT
            + f"""
import socket
attempt(os.kill, {os.getpid()}, 0)  # signal 0 only asks whether a signal would be allowed
attempt(socket.socket(socket.AF_UNIX).connect, {name!r})
attempt(os.kill, os.getpid(), 0)
"""
        )
        assert in_sandbox(policy, code, folders["work"]) == ["PermissionError", "PermissionError", "allowed"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only a kernel of a grader running as root has capabilities to lose")
def test_a_kernel_of_a_root_grader_has_no_capabilities(job):
    policy, folders = job
    code = """
import subprocess
print([line.split()[1] for line in open("/proc/self/status") if line.startswith(("CapEff", "CapPrm"))])
print("PermissionError" in subprocess.run([sys.executable, "-c", "import os; os.setuid(65534)"], capture_output=True, text=True).stderr)
"""
    # Nor do the programs it runs regain them.
    assert in_sandbox(policy, code, folders["work"]) == ["['0000000000000000',", "'0000000000000000']", "True"]


@needs_abi(1, "file rules")
def test_children_inherit_the_sandbox(job):
    policy, folders = job
    code = f"""
import subprocess
print(subprocess.run(["cat", {str(folders["hidden_tests"] / "lab1.py")!r}], capture_output=True).returncode)
print(subprocess.run(["sh", "-c", "echo x > {folders["template"] / "planted"}"], capture_output=True).returncode)
print(subprocess.run(["sh", "-c", "echo x > {folders["work"] / "fine"}"], capture_output=True).returncode)
"""
    assert in_sandbox(policy, code, folders["work"]) == ["1", "2", "0"]
    assert not (folders["template"] / "planted").exists()


def test_resource_limits_apply(job):
    policy, folders = job
    policy.max_file_mb, policy.cpu_seconds = 1, 30
    tasks = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])  # every process and thread running
    code = (
        ATTEMPT
        + f"""
import resource
attempt(lambda: open("big", "wb").write(b"x" * 2**21))
print(resource.getrlimit(resource.RLIMIT_FSIZE)[1] == 2**20, resource.getrlimit(resource.RLIMIT_CORE) == (0, 0),
      resource.getrlimit(resource.RLIMIT_CPU)[0] == 30, {tasks} < resource.getrlimit(resource.RLIMIT_NPROC)[0] < {tasks + 600})
"""
    )
    assert in_sandbox(policy, code, folders["work"]) == ["OSError", "True", "True", "True", "True"]
    assert (folders["work"] / "big").stat().st_size <= 2**20


def test_without_landlock_the_rest_still_applies(job):
    policy, folders = job
    program = (
        ATTEMPT
        + "import os, resource, sys\nfrom autograde.isolation import sandbox\nsandbox.landlock_abi = lambda: 0\n"
        "print(sandbox.enter(sys.argv))\nprint('SECRET_TOKEN' in os.environ, resource.getrlimit(resource.RLIMIT_CORE))\n"
        f"attempt(write, {str(folders['template'] / 'planted')!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, sandbox.VARIABLE: policy.to_json()},
        cwd=folders["work"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["0", "False", "(0,", "0)", "allowed"], result.stderr


def test_the_environment_is_an_allow_list(job):
    policy, folders = job
    code = "import os\nprint(sorted(os.environ) == sorted(sandbox.kernel_environment(sandbox.SandboxPolicy('/'))))"
    policy.env = {}
    assert in_sandbox(policy, code, folders["work"]) == ["True"]  # SECRET_TOKEN and the rest of the grader's are gone


def test_kernels_start_with_the_allow_list_only(job):
    policy, _ = job
    grader = {**os.environ, "JPY_PARENT_PID": "1", sandbox.VARIABLE: policy.to_json()}
    assert sandbox.launch_environment(grader) == {
        **sandbox.kernel_environment(policy),
        "JPY_PARENT_PID": "1",
        sandbox.VARIABLE: policy.to_json(),
    }
    assert sandbox.launch_environment({"SECRET_TOKEN": "s3cr3t"}) == {"SECRET_TOKEN": "s3cr3t"}  # no sandbox asked for


def test_probe_describes_this_machine():
    support = sandbox.probe()
    assert support.abi == ABI
    assert (support.abi >= sandbox.NETWORK_ABI) == (not any("TCP" in line for line in support.missing))
    assert str(support).startswith(f"sandbox: Landlock ABI {ABI}; " if ABI else "sandbox: no Landlock; ")


def test_strays_are_killed_and_the_graders_own_children_spared(job):
    policy, folders = job
    # A process of its own becomes the subreaper, so that pytest adopts no orphans.
    program = f"""
import os, subprocess, sys, time
from autograde.isolation import sandbox
sandbox.become_subreaper()
own = subprocess.Popen(["sleep", "60"])
sandboxed = {{**os.environ, "COURSE_SANDBOX": {policy.to_json()!r}}}
waiting = "import sys, time; from autograde.isolation import sandbox; sandbox.enter(sys.argv); time.sleep(60)"
running = subprocess.Popen([sys.executable, "-c", waiting], env=sandboxed)
sandbox.track_kernel(running.pid)  # a kernel still running (another job's, in a threaded Dask worker)
daemon_maker = '''
import os, sys, time
from autograde.isolation import sandbox
sandbox.enter(sys.argv)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        os.dup2(os.open(os.devnull, os.O_RDWR), 1)  # lets the pipe close, as a daemon does
        os.dup2(1, 2)
        time.sleep(60)
    os._exit(0)
'''
kernel = subprocess.run([sys.executable, "-c", daemon_maker], env=sandboxed, capture_output=True, text=True, timeout=30)
daemon = int(kernel.stdout)
time.sleep(0.5)  # the middle process exits: the daemon is ours now
adopted = daemon in [int(line.split()[0]) for line in os.popen(f"ps -o pid= --ppid {{os.getpid()}}")]
killed = sandbox.kill_strays()
print(adopted, killed, os.path.exists(f"/proc/{{daemon}}"), own.poll() is None, running.poll() is None)
own.kill()
running.kill()
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["True", "1", "False", "True", "True"], result.stderr


def run(tmp_path, policy, fork, *sources):
    """Runs cells in a new kernel (forked from the preloaded server if ``fork``) under ``policy``; returns what each
    cell printed (or its error)."""
    notebook = new_notebook(cells=[new_code_cell(s) for s in sources])
    client = fork_provisioned_client(
        notebook,
        fork,
        kernel_name="python3",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path / "work")}},
    )
    client.execute(env={**os.environ, sandbox.VARIABLE: policy.to_json()})
    return ["".join(_shown(o) for o in cell.outputs).strip() for cell in notebook.cells]


def _shown(output):
    if output.output_type == "stream":
        return output.text if output.name == "stdout" else ""  # TensorFlow logs its start on stderr, whatever the level
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"
    return "[image]" if "image/png" in output.get("data", {}) else ""


LSTM = (
    "import keras, numpy as np\nmodel = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4)])\n"
    "print(model(np.ones((2, 5, 3))).shape)"
)


def environment_check(policy):
    """A cell that prints the grader's variables (same name and value) that reached the kernel outside the
    allow-list, and whether the secret is in the environment the process started with (/proc/self/environ)."""
    allowed = sandbox.kernel_environment(policy)
    # The grader's own variables: what this process started with, plus what the test set. Not those that
    # TensorFlow sets when imported (ENABLE_RUNTIME_UPTIME_TELEMETRY): a kernel importing it sets them too.
    started = dict(line.split("=", 1) for line in open("/proc/self/environ").read().split("\0") if "=" in line)
    own = {name: value for name, value in os.environ.items() if name in started or "SECRET" in name}
    grader = {name: hashlib.sha256(value.encode()).hexdigest() for name, value in own.items() if name not in allowed}
    return (
        f"import hashlib, os\ngrader = {grader!r}\n"
        "try:\n    started = open('/proc/self/environ', 'rb').read()\nexcept OSError:\n    started = b''\n"
        "print([name for name, value in os.environ.items() if grader.get(name) == hashlib.sha256(value.encode()).hexdigest()],\n"
        "      b'SECRET_TOKEN' in started)"
    )


@pytest.mark.notebook
@pytest.mark.slow
@needs_abi(sandbox.NETWORK_ABI, "the kernel's network rules")
def test_a_forked_kernel_runs_tensorflow_in_its_sandbox(tmp_path, job):
    policy, folders = job
    escaped = tmp_path / "escaped"
    outputs = run(
        tmp_path,
        policy,
        True,
        "import sys; print('tensorflow' in sys.modules)",  # forked from the preloaded server
        LSTM,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
        f"print(open({str(folders['data'] / 'tweets.txt')!r}).read())",
        f"open({str(folders['hidden_tests'] / 'lab1.py')!r}).read()",
        environment_check(policy),
        # The forkserver forks whatever it is sent, outside any sandbox: it must refuse a kernel.
        textwrap.dedent(f"""
            import os, pickle, socket
            from multiprocessing import forkserver, reduction
            class Escape:
                def __reduce__(self):
                    return exec, ("open({str(escaped)!r}, 'w').write('out')",)
            r, w = os.pipe()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(forkserver._forkserver._forkserver_address)
                reduction.sendfds(client, [r, w, w, w])
            os.write(w, pickle.dumps(Escape()))
            print("sent")"""),
    )
    assert outputs[:4] == ["True", "(2, 4)", "[image]", "a tweet"]
    assert outputs[4] == f"PermissionError: [Errno 13] Permission denied: '{folders['hidden_tests'] / 'lab1.py'}'"
    assert outputs[5] == "[] False"
    time.sleep(2)
    assert not escaped.exists(), "the forkserver forked an unsandboxed process for a kernel"
    assert run(tmp_path, policy, True, "print(1 + 1)") == ["2"], "the forkserver stopped serving the grader"


@pytest.mark.notebook
@pytest.mark.slow
@needs_abi(sandbox.NETWORK_ABI, "the kernel's network rules")
def test_a_kernel_started_the_usual_way_is_sandboxed_too(tmp_path, job):
    policy, folders = job
    outputs = run(
        tmp_path,
        policy,
        False,
        "import sys; print('tensorflow' in sys.modules)",
        LSTM,
        "from music21 import converter\ntune = 'X:1\\nT:t\\nM:4/4\\nL:1/4\\nK:C\\nCDEF|'\n"
        "print(len(converter.parse(tune, format='abc').flatten().notes))",
        f"open({str(folders['template'] / 'planted')!r}, 'w')",
        environment_check(policy),
    )
    assert outputs[:3] == ["False", "(2, 4)", "4"]
    assert outputs[3].startswith("PermissionError") and not (folders["template"] / "planted").exists()
    assert outputs[4] == "[] False"
