"""``course grade LAB FOLDER``: grades a folder of submissions into one gradebook, a CSV and feedback.

The steps: read every file (:mod:`autograde.grading.intake`), rebuild each notebook on the release
(:mod:`autograde.grading.rebuild`) and review its code (:mod:`autograde.grading.flags`), grade the reference
solution first (:mod:`autograde.grading.self_test`: no one is graded unless it gets full marks), grade
the rebuilt notebooks in parallel, each in its own process and sandboxed kernel
(:func:`autograde.grading.worker.grade_one`, locally or on a Dask cluster), then, in this process only,
record the scores in the gradebook and write ``grades.csv`` and one feedback file per student.
Every file gets a row, whatever happened to it. What the output folder holds: :class:`autograde.course.OutputFolder`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from autograde.authoring.build import nbgrader_environment
from autograde.cells import total_points
from autograde.course import GRADEBOOK, Course, CourseError, OutputFolder, sqlite_file
from autograde.grading import self_test
from autograde.grading.intake import StudentIds, collect
from autograde.grading.judge import submission_seed_key
from autograde.grading.limits import DEFAULT_LIMITS
from autograde.grading.rows import GradeResult, Row, Status, load_result, number, save_result, write_csv
from autograde.grading.worker import (
    cache_folder,
    grade_one,
    grader_template,
    grader_version,
    register_lab,
    render_feedback,
)
from autograde.isolation.sandbox import probe

# Errors in a cell the student cannot edit that point at the machine rather than the student's code.
ENVIRONMENT_ERRORS = (
    "CellTimeoutError",
    "KernelDied",
    "TweetDataError",
    "ModuleNotFoundError",
    "ImportError",
    "PermissionError",
    "ConnectionError",
)

logger = logging.getLogger(__name__)


class SelfTestFailed(CourseError):
    """The reference solution did not get full marks; the message says why and what to do."""


def grade_folder(
    course: Course,
    lab: str,
    folder: str | Path,
    out: str | Path,
    workers: int | None = None,
    force: bool = False,
    student_ids: Callable[[str], str | None] | None = None,
    limits: dict[str, int] | None = None,
    db_url: str | None = None,
    dask_scheduler: str | None = None,
    budget: str = "smoke",
    progress: bool = True,
    skip_self_test: bool = False,
    sandboxed: bool = True,
) -> list[Row]:
    """Grades every file in ``folder``; returns the rows also written to ``out/grades.csv``.

    Raises DataUnavailable, before anything is read or written, when the lab's data is neither here nor
    downloadable, and SelfTestFailed, before grading anyone, when the reference solution does not get full
    marks (unless ``skip_self_test``). ``sandboxed=False`` runs kernels without the sandbox. What this machine's
    sandbox lacks is logged as a warning, the self-test's result as information (a warning when it fails); ``course``
    shows both on stderr.
    """
    lab = course.resolve_lab(lab)
    # Kernels cannot download (the sandbox has no network): the data is fetched here, before kernel_env points at it.
    course.require_data(lab)
    nbgrader_environment()
    # Absolute: nbgrader changes this process's working folder while it makes a feedback page, which it does in a
    # thread while results are recorded here.
    folder, out = Path(folder).resolve(), OutputFolder(Path(out).resolve()).make()
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    max_score = total_points(release)

    gaps = probe().missing if sandboxed else ["not sandboxed (--no-sandbox)"]
    if gaps:
        logger.warning("sandbox on this machine: %s", "; ".join(gaps))

    shared = shared_job_fields(course, lab, limits, budget, sandboxed)
    secret = course.grading_secret()

    rows, jobs = [], []
    for submission in collect(folder, student_ids or StudentIds()):
        row = Row(
            submission.file,
            submission.student_id,
            submission.status,
            max_score=max_score,
            notes=list(submission.notes),
            reason=submission.reason,
        )
        rows.append(row)
        if submission.status != Status.GRADABLE:
            continue
        try:
            new_job = grading_job(
                shared, secret, nbformat.from_dict(submission.notebook), row.student_id, submission.sha256
            )
            key = {
                "sha256": submission.sha256,
                **{k: new_job[k] for k in ("grader_version", "limits", "env", "sandbox", "seed_key")},
            }
            cached = _cached(out.result(row.student_id), key) if not force else None
            if cached:
                _apply(row, cached)
                continue
            jobs.append((row, key, new_job))
        except Exception as error:  # one file's trouble is that file's row, never the end of the run
            _grader_error(row, "preparing the notebook", error)

    if jobs:
        grader_template(course, lab)  # build the shared template once, before the workers race for it
        if not skip_self_test:
            check = run_self_test(self_test_job(course, lab, shared, secret), max_score, dask_scheduler)
            logger.log(logging.INFO if check.passed else logging.WARNING, check.summary())
            if not check.passed:
                raise SelfTestFailed(check.summary())
        # Local workers leave each feedback page to this process, which makes it while they grade the next notebook.
        with tempfile.TemporaryDirectory(prefix="grading-") as feedback_root, ThreadPoolExecutor(1) as pages:
            if not dask_scheduler:
                for _, _, job in jobs:
                    job["feedback_root"] = feedback_root
            waiting = []  # (row, key, result, the future of its page): recorded as soon as the page is made
            for (row, key, _), result in _run(jobs, workers, dask_scheduler, progress):
                if result.feedback_folder:
                    page = pages.submit(render_feedback, course, lab, result.student_id, result.feedback_folder)
                    waiting.append((row, key, result, page))
                else:
                    _record(out, row, key, result)
                waiting = _record_made_pages(out, waiting)
            _record_made_pages(out, waiting, wait=True)

    record_in_gradebook(course, lab, out.gradebook_url(db_url), rows)
    write_csv(out.grades, rows, release)
    return rows


def self_test_lab(
    course: Course,
    lab: str,
    limits: dict[str, int] | None = None,
    budget: str = "smoke",
    sandboxed: bool = True,
    dask_scheduler: str | None = None,
) -> self_test.SelfTest:
    """Grades only the reference solution, as ``grade_folder`` does before anyone (``course self-test``).

    Args:
        course: the Course.
        lab: the lab's name or short name (``"lab1"``).
        limits: limits that differ from ``autograde.grading.limits.DEFAULT_LIMITS``, by name.
        budget: ``LAB_BUDGET`` for the kernel.
        sandboxed: run the kernel in the sandbox, as grading does.
        dask_scheduler: grade on this Dask scheduler instead of a local process.

    Returns:
        a ``SelfTest``; a pass is cached (and reused, ``cached=True``) as when grading.
    """
    lab = course.resolve_lab(lab)
    course.require_data(lab)
    nbgrader_environment()
    shared = shared_job_fields(course, lab, limits, budget, sandboxed)
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    max_score = total_points(release)
    return run_self_test(self_test_job(course, lab, shared, course.grading_secret()), max_score, dask_scheduler)


def shared_job_fields(
    course: Course, lab: str, limits: dict[str, int] | None = None, budget: str = "smoke", sandboxed: bool = True
) -> dict[str, Any]:
    """What every grading job of a run shares (computed once: the version hashes every course and grading file)."""
    return {
        "course_root": str(course.root),
        "lab": lab,
        "grader_version": grader_version(course, lab),
        "limits": {**DEFAULT_LIMITS, **(limits or {})},
        "env": kernel_env(budget),
        "sandbox": sandboxed,
    }


def grading_job(
    shared: dict[str, Any], secret: str, notebook: nbformat.NotebookNode, student_id: str, sha256: str
) -> dict[str, Any]:
    """The job that grades ``notebook`` (the file's hash ``sha256``) for ``student_id``.

    The worker rebuilds the notebook on the release (bounded in time: a huge notebook never stalls the caller).
    Seeds for the probes come from the course's secret and the file: unknown in advance, the same on a rerun.
    """
    return {
        **shared,
        "student_id": student_id,
        "submission": nbformat.writes(notebook),
        "seed_key": submission_seed_key(secret, sha256),
    }


def self_test_job(course: Course, lab: str, shared: dict[str, Any], secret: str) -> dict[str, Any]:
    """The job that grades the reference solution before anyone (its result is cached: :func:`run_self_test`)."""
    reference = self_test.reference_notebook(course, lab)
    reference_sha = hashlib.sha256(nbformat.writes(reference).encode()).hexdigest()
    return grading_job(shared, secret, reference, self_test.REFERENCE_ID, reference_sha)


def kernel_env(budget: str) -> dict[str, str]:
    """The variables a grading kernel gets besides the sandbox's own: the budget and the lab's data."""
    from course_utils.tweets import cache_dir

    env = {"LAB_BUDGET": budget}
    if os.environ.get("TWEETS_DIR"):
        env["TWEETS_DIR"] = str(Path(os.environ["TWEETS_DIR"]).resolve())
    elif (cache_dir() / "mapping.txt").is_file():  # the kernel's home is private: point it at the instructor's download
        env["TWEETS_DIR"] = str(cache_dir())
    return env


def _cached(path, key):
    """The result cached at ``path`` for ``key``, or None (none, another key, an older grader's format)."""
    try:
        return load_result(path, key)
    except ValueError:
        return None


def run_self_test(job: dict[str, Any], max_score: float, dask_scheduler: str | None) -> self_test.SelfTest:
    """Grades the reference solution (cached while nothing it depends on changes); returns a SelfTest."""
    cache = cache_folder() / f"self-test-{job['lab']}-{self_test.cache_key(job)}.json"
    if cache.exists():
        return self_test.SelfTest(**{**json.loads(cache.read_text()), "cached": True})
    [(_, result)] = list(_run([(None, None, job)], 1, dask_scheduler, progress=False))
    check = self_test.judge(result, max_score)
    if check.passed:  # written whole, then renamed: another grading process may be reading it
        written = cache.with_name(f"{cache.name}.{os.getpid()}")
        written.write_text(json.dumps({k: v for k, v in vars(check).items() if k != "cached"}))
        written.replace(cache)
    return check


def _record(out, row, key, result):
    try:
        _save(out, row, key, result)
        _apply(row, result)
    except Exception as error:
        _grader_error(row, "recording the result", error)


def _record_made_pages(out, waiting, wait=False):
    """Records the results in ``waiting`` whose feedback page is made (all of them, with ``wait``); returns the rest.

    A page that could not be made is said in the log; the grade stands without it.
    """
    pending = []
    for row, key, result, page in waiting:
        if not (wait or page.done()):
            pending.append((row, key, result, page))
            continue
        try:
            result.feedback_html = page.result()
        except Exception as error:
            logger.warning("no feedback page for %s: %s", row.file, traceback.format_exception_only(error)[-1].strip())
        result.feedback_folder = None
        _record(out, row, key, result)
    return pending


def _grader_error(row, during, error):
    row.status = Status.GRADER_ERROR
    row.notes.append(f"grader error while {during}: {traceback.format_exception_only(error)[-1].strip()[:300]}")


def _run(jobs, workers, dask_scheduler, progress):
    """Yields (job, result) as they finish; a job whose worker died still yields a result."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="grading", unit="notebook", disable=not progress)
    if dask_scheduler:
        from dask.distributed import Client, as_completed as dask_completed

        with Client(dask_scheduler) as client:
            futures = {client.submit(grade_one, job[2], pure=False): job for job in jobs}
            for future in dask_completed(futures):
                yield futures[future], _result_or_crash(future, futures[future])
                bar.update()
    else:
        workers = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(grade_one, job[2]): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], _result_or_crash(future, futures[future])
                bar.update()
    bar.close()


def _result_or_crash(future, job):
    try:
        return future.result()
    except Exception as error:  # the worker process itself died; the submission keeps its row
        return GradeResult.failed(job[2]["student_id"], f"the grading process failed: {error!r}")


def _save(out, row, key, result):
    student = row.student_id
    if result.feedback_html:
        out.feedback(student).write_text(result.feedback_html)
    if result.autograded:
        out.autograded(student).write_text(result.autograded)
    save_result(out.result(student), result, key)


def _apply(row, result):
    row.status = result.status
    row.answers = list(result.answers)
    row.flags = list(result.flags)
    row.notes.extend(result.prepare_notes)
    row.tests = dict(result.tests)
    row.score = result.score
    row.notes.extend(result.problems)
    for error in result.instructor_cell_errors:
        if error.ename in ENVIRONMENT_ERRORS and row.status == Status.GRADED:
            row.status = Status.ENVIRONMENT_PROBLEM
        message = " ".join(error.message.split())[:200]  # one line: a note is one cell of the CSV
        where = f"instructor cell {error.cell} (a cell the student cannot edit) failed: {message}"
        row.notes.append(
            f"{where}; likely an environment problem, not the student's work: regrade after fixing it"
            if error.ename in ENVIRONMENT_ERRORS
            else where
        )
    row.notes.extend(result.sandbox_gaps)  # as found on the machine that graded it (a Dask worker too)


def record_in_gradebook(course: Course, lab: str, db_url: str, rows: list[Row]) -> None:
    """Writes the scores into the nbgrader gradebook (this process is its only writer)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = sqlite_file(db_url)
    if path and not path.exists():
        shutil.copy(grader_template(course, lab) / GRADEBOOK, path)  # a new gradebook starts as the template
    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(lab)
        except MissingEntry:
            register_lab(course, lab, db_url)
    graded = {row.student_id for row in rows if row.status.was_graded}
    with Gradebook(db_url) as gb:
        for row in rows:
            if row.student_id is None or (not row.status.was_graded and row.student_id in graded):
                continue  # an older or broken file of a student whose newest file was graded
            gb.update_or_create_student(row.student_id)
            gb.update_or_create_submission(lab, row.student_id)
            for grade in gb.find_submission_notebook(lab, lab, row.student_id).grades:
                test = row.tests.get(grade.name)
                grade.auto_score = test.score if test else 0.0
                grade.needs_manual_grade = False
            gb.db.commit()


def summary(rows: list[Row]) -> str:
    """The table printed at the end of ``course grade``."""
    width = max([len(r.file) for r in rows] + [4])
    lines = [f"{'file':{width}}  {'student':14}  {'score':>9}  status"]
    for row in sorted(rows, key=lambda r: r.file):
        score = f"{number(row.score)}/{number(row.max_score)}" if row.status.was_graded else "-"
        flagged = f"  ({len(row.flags)} flag{'s' * (len(row.flags) != 1)} to review)" if row.flags else ""
        lines.append(f"{row.file:{width}}  {(row.student_id or '?'):14}  {score:>9}  {row.status_text}{flagged}")
    graded = [r for r in rows if r.status == Status.GRADED]
    mean = sum(r.score for r in graded) / len(graded) if graded else 0.0
    others = sum(r.status == Status.ENVIRONMENT_PROBLEM for r in rows)
    lines.append(
        f"{len(rows)} files: {len(graded)} graded (mean {mean:.1f}), {others} with an environment problem, "
        f"{len(rows) - len(graded) - others} not graded; {sum(bool(r.flags) for r in rows)} flagged for review"
    )
    return "\n".join(lines)
