"""Before grading anyone, the grader grades the reference solution and must give it full marks.

The reference solution is the release notebook with every answer filled in from the solution
notebook, graded like any submission: same machine, kernels, sandbox, limits and budget. If it
does not get full marks, something other than the students' work is wrong (missing data, a
missing package, limits too tight for this machine, a grader bug), and every grade would be
wrong with it. A passing self-test is cached per grader version, limits, budget and kernel
environment, so it costs one notebook per change, not one per run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nbformat

from autograde.authoring.examples import answers_from_solution, fill
from autograde.cells import grade_id_of, is_answer
from autograde.grading.rows import Status

if TYPE_CHECKING:
    from autograde.course import Course
    from autograde.grading.rows import GradeResult

REFERENCE_ID = "reference-solution"
# Errors that come from the machine, not from code: (ename or text, what to do).
CAUSES = (
    (
        "TweetDataError",
        "missing data: the kernel could not load Lab 3's tweets (TweetDataError above): set TWEETS_DIR to a "
        "folder of TweetEval files that every grading machine can read (a kernel cannot download them: "
        "the sandbox has no network)",
    ),
    (
        "ModuleNotFoundError",
        "a package the lab imports is missing from the grading environment: install it (pip install -e '.[grading]')",
    ),
    ("PermissionError", "the kernel's sandbox denied a file or folder the lab needs"),
    (
        "CellTimeoutError",
        "this machine is slower than the time limits allow: raise --cell-timeout or --training-cell-timeout",
    ),
    ("time limit", "this machine is slower than the time limits allow: raise --notebook-timeout"),
    ("memory limit", "the lab needs more memory than the limit: raise --memory-limit"),
    (
        "KernelDied",
        "the kernel died while running the reference solution: check the machine (memory, a broken install)",
    ),
    ("GraderError", "the grader could not judge a test of the reference solution: a grader bug, please report it"),
)


@dataclass
class SelfTest:
    passed: bool
    score: float
    max_score: float
    failures: list = field(default_factory=list)  # "test_x: message" and "instructor cell N: message"
    cause: str = ""
    cached: bool = False

    def summary(self) -> str:
        head = f"self-test: the reference solution scored {self.score:g}/{self.max_score:g}"
        if self.passed:
            return head + (" (cached)" if self.cached else "")
        lines = [head + "; no one was graded.", *(f"  {failure}" for failure in self.failures)]
        lines.append(
            f"Likely cause: {self.cause}"
            if self.cause
            else "Fix the failure above, or grade anyway with --skip-self-test."
        )
        return "\n".join(lines)


def reference_notebook(course: Course, lab: str) -> nbformat.NotebookNode:
    """The release notebook with every answer of the solution filled in: a full-marks submission."""
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    answers = answers_from_solution(course, lab)
    return fill(release, answers, {grade_id_of(c) for c in release.cells if is_answer(c)})


def cache_key(job: dict[str, Any]) -> str:
    """What the reference's score depends on: the grader version, limits, budget and kernel environment."""
    keyed = {name: job.get(name) for name in ("grader_version", "limits", "env", "lab", "sandbox", "seed_key")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


def judge(result: GradeResult, max_score: float) -> SelfTest:
    """A SelfTest from the reference solution's :class:`~autograde.grading.rows.GradeResult`."""
    score = result.score
    failures = [
        f"{name}: {t.message or 'no points'}"
        for name, t in sorted(result.tests.items())
        if (t.score or 0) < t.max_score
    ]
    failures = [f"instructor cell {e.cell}: {e.message}" for e in result.instructor_cell_errors] + failures
    failures += [f"grading: {problem}" for problem in result.problems] if result.status != Status.GRADED else []
    passed = result.status == Status.GRADED and score == max_score
    return SelfTest(passed, score, max_score, failures, "" if passed else likely_cause(result, failures))


def likely_cause(result: GradeResult, failures: list[str]) -> str:
    """The first known cause that the errors point to (the messages name the error or the limit)."""
    text = "\n".join(failures + list(result.problems))
    for marker, cause in CAUSES:
        if marker in text:
            return cause
    return ""
