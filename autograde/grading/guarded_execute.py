"""nbgrader's Execute preprocessor, hardened against runaway student code.

nbgrader's own Execute gives one timeout to every cell and stops grading the notebook when
the kernel dies. Ours:

- gives the cells the release notebook marks as training cells (cell metadata
  ``autograde.training``, set by the instructor) a longer timeout than the others;
- stops a notebook that runs past its wall-clock limit (the remaining cells are marked "not run");
- watches the kernel's memory and stops it past the limit (default 4 GB);
- caps every kind of output, per cell and per notebook (:mod:`autograde.grading.output_budget`), so a
  100 MB print or return value cannot flood the grader or a feedback file;
- judges each test cell outside the kernel (:mod:`autograde.grading.judge`): the kernel runs only the
  checks' probes, with seeds drawn for this submission, and this process compares what they
  observed with the private references; a test cell's text never reaches the kernel;
- starts each kernel forked from a server that has already imported TensorFlow
  (:mod:`autograde.isolation.forked_kernels`), saving every notebook about 2 s of start-up;
- puts each kernel in a sandbox (:mod:`autograde.isolation.sandbox`): it reads only the Python
  environment, ``course_utils`` and the lab's data, writes only its working folder and a private
  temporary folder, reaches no network, and sees none of the grader's environment variables;
- survives the kernel dying (``os._exit``, a crash, the memory limit): the cell that killed it
  and every later cell get an error saying so, and the tests that ran before keep their points.

Every such event, the errors of cells the student cannot edit, and the execution time are
recorded in the notebook's metadata under ``grading`` for the grades table. The limits' names,
defaults and help come from :mod:`autograde.grading.limits`.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import psutil
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Float, Integer, Unicode, default

from autograde.cells import INSTRUCTOR, cell_origin, is_training
from autograde.grading.feedback import failure
from autograde.grading.judge import JudgedCells, test_sources
from autograde.grading.limits import LIMIT_NAMED
from autograde.grading.output_budget import OutputBudget
from autograde.isolation import sandbox
from autograde.isolation.bounded_sockets import MB, BoundedKernelManager
from autograde.isolation.forked_kernels import use_fork_provisioner

if TYPE_CHECKING:
    from jupyter_client.manager import KernelManager


def _limit(name):
    limit = LIMIT_NAMED[name]
    return Integer(limit.default, help=limit.help).tag(config=True)


class GuardedExecute(JudgedCells, Execute):
    cell_timeout = _limit("cell_timeout")
    training_cell_timeout = _limit("training_cell_timeout")
    notebook_timeout = _limit("notebook_timeout")
    memory_limit_mb = _limit("memory_limit_mb")
    max_cell_text_chars = _limit("max_cell_text_chars")
    max_cell_output_chars = _limit("max_cell_output_chars")
    max_notebook_output_chars = _limit("max_notebook_output_chars")
    max_processes = _limit("max_processes")
    max_file_mb = _limit("max_file_mb")
    course_root = Unicode("", help="the course whose references judge the notebook (default: found from here)").tag(
        config=True
    )
    poll_seconds = Float(0.2).tag(config=True)
    kernel_env = Dict(help="environment variables for the kernel, e.g. LAB_BUDGET").tag(config=True)
    kernel_cwd = Unicode("", help="the kernel's working folder (default: the notebook's folder)").tag(config=True)
    kernel_tmp = Unicode("", help="the kernel's private temporary folder (default: the system's)").tag(config=True)
    fork_kernels = Bool(True, help="start kernels from a server with TensorFlow already imported").tag(config=True)
    sandbox = Bool(True, help="run each kernel in the sandbox (needs kernel_tmp)").tag(config=True)
    kernel_stop_reason = Unicode("")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # nbgrader's Execute names jupyter_client's AsyncKernelManager unless told another.
        kwargs.setdefault("kernel_manager_class", BoundedKernelManager)
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self) -> KernelManager:
        # ForkProvisioner starts the kernel, forked or not, in its sandbox; jupyter_client's own would not sandbox it.
        km = use_fork_provisioner(super().create_kernel_manager(), fork=self.fork_kernels)
        if isinstance(km, BoundedKernelManager):
            # Output is read whatever its size up to what the kernel's memory could hold (the output caps cut a
            # huge one and say so); a probe's reply, no larger than its observations (text of up to twice their
            # characters) in JSON. A larger message ends that channel (bounded_sockets' docstring).
            km.max_output_message_bytes = self.memory_limit_mb * MB
            km.max_message_bytes = 4 * self.max_observation_chars + MB
        return km

    def preprocess(
        self, nb: NotebookNode, resources: dict | None = None, km: KernelManager | None = None
    ) -> tuple[NotebookNode, dict]:
        self._started = time.monotonic()
        self._stopped = None  # why the remaining cells are not run
        self._budget = OutputBudget(
            self.max_cell_text_chars, self.max_cell_output_chars, self.max_notebook_output_chars
        )
        self._problems = []
        self._limits_hit = set()  # which limits the notebook ran into: "timeout", "memory", "output"
        self._cell_errors = []  # errors in cells the student cannot edit
        self._forked = False
        self.kernel_stop_reason = ""
        lab = (resources or {}).get("nbgrader", {}).get("assignment")
        if lab and not self.lab:
            from autograde.course import Course

            self.lab = lab
            self.test_sources = test_sources(Course.find(self.course_root or None), lab)
        watchdog = threading.Thread(target=self._watch_memory, daemon=True)
        self._watching = True
        watchdog.start()
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            # The kernel died while nbclient was shutting it down: the cells are already marked.
            return self.nb, self.resources
        finally:
            self._watching = False
            nb.metadata["grading"] = {
                "problems": self._problems,
                "execute_seconds": round(time.monotonic() - self._started, 2),
                "forked_kernel": self._forked,
                "sandboxed": bool(self.sandbox and self.kernel_tmp),
                "limits_hit": sorted(self._limits_hit),
                "instructor_cell_errors": self._cell_errors,
            }

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        # The kernel's own stderr carries only TensorFlow's start-up log lines.
        kwargs.setdefault("env", {**os.environ, **self.kernel_env})
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        if self.kernel_cwd:
            kwargs["cwd"] = self.kernel_cwd
        if self.sandbox and self.kernel_tmp:
            kwargs["env"] = {**kwargs["env"], sandbox.VARIABLE: self.sandbox_policy().to_json()}
        started = await super().async_start_new_kernel(**kwargs)
        self._forked = getattr(self.km.provisioner, "forked", False)
        return started

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient binds the sync twin at class creation

    def sandbox_policy(self) -> sandbox.SandboxPolicy:
        """The kernel's sandbox: it writes its working folder and the lab's output folder, reads the lab's data."""
        paths = [value for value in self.kernel_env.values() if isinstance(value, str) and os.path.isabs(value)]
        writable = [path for path in [self.kernel_cwd, self.kernel_env.get("LAB_OUTPUT_DIR")] if path]
        return sandbox.SandboxPolicy(
            temp_dir=self.kernel_tmp,
            writable=writable,
            readable=[p for p in paths if p not in writable and os.path.exists(p)],
            env=dict(self.kernel_env),
            max_processes=self.max_processes,
            max_file_mb=self.max_file_mb,
            cpu_seconds=self.notebook_timeout * (os.cpu_count() or 1),  # every thread's CPU time counts
        )

    @default("timeout_func")
    def _default_timeout_func(self):
        return self.time_limit

    @default("timeout")
    def _default_timeout(self):
        # nbclient's limit where there is no cell: the wait for the new kernel's first reply.
        return min(self.cell_timeout, self.notebook_timeout)

    def time_limit(self, cell: NotebookNode) -> int:
        """Seconds ``cell`` may run (nbclient's ``timeout_func``): a training cell's longer limit or every other
        cell's, never past the notebook's remaining time."""
        limit = self.training_cell_timeout if is_training(cell) else self.cell_timeout
        left = self.notebook_timeout - (time.monotonic() - self._started)
        return max(1, min(limit, int(left) + 1))

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type != "code":
            return cell, self.resources
        if self._stopped is None and time.monotonic() - self._started > self.notebook_timeout:
            self._limits_hit.add("timeout")
            self._stop(f"the notebook's time limit of {self.notebook_timeout} s was reached")
        if self._stopped:
            cell.outputs = [_error("NotRun", f"not run: {self._stopped}")]
            return cell, self.resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            reason = self.kernel_stop_reason or "the kernel died (a crash, os._exit() or running out of memory)"
            cell.outputs.append(_error("KernelDied", reason))
            self._stop(f"{reason}, in cell {index + 1}")
            self._note_instructor_error(cell, index)
            return cell, self.resources
        except CellTimeoutError:
            # The kernel replied, but its output did not all arrive within iopub_timeout (nbgrader raises then):
            # a flood of output, from the cell or a thread it left running. That costs the cell, not the notebook.
            cell.outputs.append(
                _error(
                    "OutputTimeout",
                    f"the cell's output did not arrive within {self.iopub_timeout} s "
                    "of its end (far too much output); the rest of it was dropped",
                )
            )
            self._problems.append(f"cell {index + 1} sent more output than could be read in time; the rest was dropped")
            self._limits_hit.add("output")
            self._note_instructor_error(cell, index)
            return cell, self.resources
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self._problems.append(f"cell {index + 1} ran past its time limit and was interrupted")
            self._limits_hit.add("timeout")
        self._note_instructor_error(cell, index)
        return cell, resources

    def _note_instructor_error(self, cell, index):
        found = failure(cell) if cell_origin(cell) == INSTRUCTOR else None
        if found:  # as autograde.grading.rows.CellError's fields
            self._cell_errors.append({"cell": index + 1, "ename": found[0], "message": found[1]})

    def _stop(self, reason):
        self._stopped = reason
        self._problems.append(reason)

    def process_message(self, msg: dict[str, Any], cell: NotebookNode, cell_index: int) -> NotebookNode | None:
        keep, problem = self._budget.admit(msg, cell_index)
        if problem:
            self._problems.append(problem)
            self._limits_hit.add("output")
        if not keep:
            return None
        return super().process_message(msg, cell, cell_index)

    def _watch_memory(self):
        limit = self.memory_limit_mb * 2**20
        while self._watching:
            time.sleep(self.poll_seconds)
            pid = getattr(getattr(self.km, "provisioner", None), "pid", None) if self.km else None
            if not pid:
                continue
            try:
                kernel = psutil.Process(pid)
                used = sum(p.memory_info().rss for p in [kernel, *kernel.children(recursive=True)])
            except psutil.Error:
                continue
            if used > limit:
                self._limits_hit.add("memory")
                self.kernel_stop_reason = (
                    f"the kernel used more than the {self.memory_limit_mb} MB memory limit and was stopped"
                )
                for process in [*kernel.children(recursive=True), kernel]:
                    try:
                        process.kill()
                    except psutil.Error:
                        pass


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
