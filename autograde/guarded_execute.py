"""nbgrader's Execute preprocessor, hardened against runaway student code.

nbgrader's own Execute gives one timeout to every cell and stops grading the notebook when
the kernel dies. Ours:

- gives cells that train a longer timeout than the others;
- stops a notebook that runs past its wall-clock limit (the remaining cells are marked "not run");
- watches the kernel's memory and stops it past the limit (default 4 GB);
- caps each cell's printed output, so a 100 MB print cannot flood the grader;
- starts each kernel forked from a server that has already imported TensorFlow
  (:mod:`autograde.forked_kernels`), saving every notebook about 2 s of start-up;
- survives the kernel dying (``os._exit``, a crash, the memory limit): the cell that killed it
  and every later cell get an error saying so, and the tests that ran before keep their points.

Every such event, and the execution time, is recorded in the notebook's metadata under
``grading`` for the grades table.
"""
import os
import re
import subprocess
import threading
import time

import psutil
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Float, Integer, Unicode

from autograde.forked_kernels import ForkingKernelManager

TRAINING_CODE = re.compile(r"\.fit\(|\btrain(ing)?_?\w*\(|for .* in .*(epoch|tqdm)", re.IGNORECASE)


class GuardedExecute(Execute):
    cell_timeout = Integer(120, help="seconds a cell may run").tag(config=True)
    training_cell_timeout = Integer(600, help="seconds a cell that trains a model may run").tag(config=True)
    notebook_timeout = Integer(1800, help="seconds the whole notebook may run").tag(config=True)
    memory_limit_mb = Integer(4096, help="memory the kernel may use, in MB").tag(config=True)
    max_output_chars = Integer(200_000, help="characters of printed output kept per cell").tag(config=True)
    poll_seconds = Float(0.2).tag(config=True)
    kernel_env = Dict(help="environment variables for the kernel, e.g. LAB_BUDGET").tag(config=True)
    fork_kernels = Bool(True, help="start kernels from a server with TensorFlow already imported").tag(config=True)
    kernel_stop_reason = Unicode("")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.fork_kernels and "kernel_manager_class" not in kwargs:
            self.kernel_manager_class = ForkingKernelManager  # nbgrader's Execute sets AsyncKernelManager in its __init__

    def preprocess(self, nb, resources=None, km=None):
        self._started = time.monotonic()
        self._stopped = None  # why the remaining cells are not run
        self._printed = {}
        self._problems = []
        self._forked = False
        self.kernel_stop_reason = ""
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
            nb.metadata["grading"] = {"problems": self._problems, "execute_seconds": round(time.monotonic() - self._started, 2),
                                      "forked_kernel": self._forked}

    async def async_start_new_kernel(self, **kwargs):
        # The kernel's own stderr carries only TensorFlow's start-up log lines.
        kwargs.setdefault("env", {**os.environ, **self.kernel_env})
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        started = await super().async_start_new_kernel(**kwargs)
        self._forked = getattr(self.km.provisioner, "forked", False)
        return started

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient binds the sync twin at class creation

    def _get_timeout(self, cell):
        limit = self.training_cell_timeout if cell is not None and TRAINING_CODE.search(cell.source) else self.cell_timeout
        left = self.notebook_timeout - (time.monotonic() - self._started)
        return max(1, min(limit, int(left) + 1))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, self.resources
        if self._stopped is None and time.monotonic() - self._started > self.notebook_timeout:
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
            return cell, self.resources
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self._problems.append(f"cell {index + 1} ran past its time limit and was interrupted")
        return cell, resources

    def _stop(self, reason):
        self._stopped = reason
        self._problems.append(reason)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            printed = self._printed.get(cell_index, 0)
            self._printed[cell_index] = printed + len(msg["content"]["text"])
            if printed >= self.max_output_chars:
                return None
            if printed + len(msg["content"]["text"]) > self.max_output_chars:
                msg["content"]["text"] = (
                    msg["content"]["text"][: self.max_output_chars - printed]
                    + f"\n[output cut: this cell printed more than {self.max_output_chars:,} characters]\n"
                )
                self._problems.append(f"cell {cell_index + 1} printed more than {self.max_output_chars:,} characters; the rest was dropped")
        return super().output(outs, msg, display_id, cell_index)

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
                self.kernel_stop_reason = f"the kernel used more than the {self.memory_limit_mb} MB memory limit and was stopped"
                for process in [*kernel.children(recursive=True), kernel]:
                    try:
                        process.kill()
                    except psutil.Error:
                        pass


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
