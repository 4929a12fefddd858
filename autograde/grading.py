"""``course grade LAB FOLDER``: grades a folder of submissions into one gradebook, a CSV and feedback.

The steps: read every file (:mod:`autograde.intake`), rebuild each notebook on the release
(:mod:`autograde.rebuild`) and review its code (:mod:`autograde.flags`), grade the reference
solution first (:mod:`autograde.self_test`: no one is graded unless it gets full marks), grade
the rebuilt notebooks in parallel, each in its own process and sandboxed kernel
(:func:`autograde.worker.grade_one`, locally or on a Dask cluster), then, in this process only,
record the scores in the gradebook and write ``grades.csv`` and one feedback file per student.
Every file gets a row, whatever happened to it.

Output folder layout::

    grades.csv              one row per file
    gradebook.db            nbgrader gradebook (unless --db names another database)
    feedback/<student>.html what the student may see: no hidden tests
    autograded/<student>.ipynb
    results/<student>.json  cached results: a rerun regrades only changed files (or all with --force)
"""
import csv
import hashlib
import json
import os
import shutil
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from autograde import self_test
from autograde.build import nbgrader_environment
from autograde.course import CourseError
from autograde.grade_rows import ENVIRONMENT_PROBLEM, GRADED, GRADER_ERROR, SPREADSHEET_PREFIX
from autograde.intake import GRADABLE, StudentIds, collect
from autograde.judge import submission_seed_key
from autograde.limits import DEFAULT_LIMITS
from autograde.sandbox import probe
from autograde.worker import cache_folder, grade_one, grader_template, grader_version, register_lab

# Errors in a cell the student cannot edit that point at the machine rather than the student's code.
ENVIRONMENT_ERRORS = ("CellTimeoutError", "KernelDied", "TweetDataError", "ModuleNotFoundError", "ImportError",
                      "PermissionError", "ConnectionError")


class SelfTestFailed(CourseError):
    """The reference solution did not get full marks; the message says why and what to do."""


@dataclass
class Row:
    file: str
    student_id: str | None
    status: str
    score: float = 0.0
    max_score: float = 0.0
    tests: dict = field(default_factory=dict)  # grade_id -> {"score", "max_score", "message"}
    answers: str = ""  # how each answer cell was found
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)  # student code that touches the grading machinery, for a human to review


def grade_folder(course, lab, folder, out, workers=None, force=False, student_ids=None, limits=None,
                 db_url=None, dask_scheduler=None, budget="smoke", progress=True, skip_self_test=False, sandboxed=True,
                 log=print):
    """Grades every file in ``folder``; returns the rows also written to ``out/grades.csv``.

    Raises SelfTestFailed, before grading anyone, when the reference solution does not get full
    marks (unless ``skip_self_test``). ``sandboxed=False`` runs kernels without the sandbox.
    """
    lab = course.resolve_lab(lab)
    nbgrader_environment()
    out = Path(out)
    for sub in ("results", "feedback", "autograded"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    max_score = _max_score(release)

    gaps = probe().missing if sandboxed else ["not sandboxed (--no-sandbox)"]
    if gaps:
        log("sandbox on this machine: " + "; ".join(gaps))

    shared = _shared_settings(course, lab, limits, budget, sandboxed)
    secret = course.grading_secret()

    rows, jobs = [], []
    for submission in collect(folder, student_ids or StudentIds()):
        row = Row(submission.file, submission.student_id, submission.status, max_score=max_score, notes=list(submission.notes))
        rows.append(row)
        if submission.status != GRADABLE:
            continue
        try:
            new_job = _job(shared, secret, nbformat.from_dict(submission.notebook), row.student_id, submission.sha256)
            key = {"sha256": submission.sha256, **{k: new_job[k] for k in ("grader_version", "limits", "env", "sandbox", "seed_key")}}
            cache = out / "results" / f"{row.student_id}.json"
            if not force and cache.exists() and json.loads(cache.read_text()).get("key") == key:
                _apply(row, json.loads(cache.read_text()))
                continue
            jobs.append((row, key, new_job))
        except Exception as error:  # one file's trouble is that file's row, never the end of the run
            _grader_error(row, "preparing the notebook", error)

    if jobs:
        grader_template(course, lab)  # build the shared template once, before the workers race for it
        if not skip_self_test:
            check = _grade_reference(course, lab, shared, secret, max_score, dask_scheduler)
            log(check.summary())
            if not check.passed:
                raise SelfTestFailed(check.summary())
        for (row, key, _), result in _run(jobs, workers, dask_scheduler, progress):
            try:
                _save(out, row, key, result)
                _apply(row, result)
            except Exception as error:
                _grader_error(row, "recording the result", error)

    record_in_gradebook(course, lab, db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}", rows)
    write_csv(out / "grades.csv", rows, release)
    return rows


def self_test_lab(course, lab, limits=None, budget="smoke", sandboxed=True, dask_scheduler=None):
    """Grades only the reference solution, as ``grade_folder`` does before anyone (``course self-test``).

    Args:
        course: the Course.
        lab: the lab's name or short name (``"lab1"``).
        limits: limits that differ from ``autograde.limits.DEFAULT_LIMITS``, by name.
        budget: ``LAB_BUDGET`` for the kernel.
        sandboxed: run the kernel in the sandbox, as grading does.
        dask_scheduler: grade on this Dask scheduler instead of a local process.

    Returns:
        a ``SelfTest``; a pass is cached (and reused, ``cached=True``) as when grading.
    """
    lab = course.resolve_lab(lab)
    nbgrader_environment()
    shared = _shared_settings(course, lab, limits, budget, sandboxed)
    secret = course.grading_secret()
    max_score = _max_score(nbformat.read(course.lab_notebook(lab), as_version=4))
    return _grade_reference(course, lab, shared, secret, max_score, dask_scheduler)


def _max_score(release):
    return sum(float(c.metadata["nbgrader"].get("points", 0)) for c in release.cells if c.metadata.get("nbgrader", {}).get("grade"))


def _shared_settings(course, lab, limits, budget, sandboxed):
    """What every job of a run shares: computed once (the version hashes every course and grading file)."""
    return {"course_root": str(course.root), "lab": lab, "grader_version": grader_version(course, lab),
            "limits": {**DEFAULT_LIMITS, **(limits or {})}, "env": kernel_env(budget), "sandbox": sandboxed}


def _job(shared, secret, notebook, student_id, sha256):
    # The worker rebuilds the notebook on the release (bounded in time: a huge notebook never stalls this loop).
    # Seeds for the probes come from the course's secret and the file: unknown in advance, the same on a rerun.
    return {**shared, "student_id": student_id, "submission": nbformat.writes(notebook),
            "seed_key": submission_seed_key(secret, sha256)}


def _grade_reference(course, lab, shared, secret, max_score, dask_scheduler):
    """The self-test: the reference solution graded like a submission of this run; returns a SelfTest."""
    reference = self_test.reference_notebook(course, lab)
    reference_sha = hashlib.sha256(nbformat.writes(reference).encode()).hexdigest()
    return run_self_test(_job(shared, secret, reference, self_test.REFERENCE_ID, reference_sha), max_score, dask_scheduler)


def kernel_env(budget):
    """The variables a grading kernel gets besides the sandbox's own: the budget and the lab's data."""
    from course_utils.tweets import cache_dir

    env = {"LAB_BUDGET": budget}
    if os.environ.get("TWEETS_DIR"):
        env["TWEETS_DIR"] = str(Path(os.environ["TWEETS_DIR"]).resolve())
    elif (cache_dir() / "mapping.txt").is_file():  # the kernel's home is private: point it at the instructor's download
        env["TWEETS_DIR"] = str(cache_dir())
    return env


def run_self_test(job, max_score, dask_scheduler):
    """Grades the reference solution (cached while nothing it depends on changes); returns a SelfTest."""
    cache = cache_folder() / f"self-test-{job['lab']}-{self_test.cache_key(job)}.json"
    if cache.exists():
        return self_test.SelfTest(**{**json.loads(cache.read_text()), "cached": True})
    [(_, result)] = list(_run([(None, None, job)], 1, dask_scheduler, progress=False))
    check = self_test.judge(result, max_score)
    if check.passed:
        cache.write_text(json.dumps({k: v for k, v in vars(check).items() if k != "cached"}))
    return check


def _grader_error(row, during, error):
    row.status = GRADER_ERROR
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
        return {"student_id": job[2]["student_id"], "status": GRADER_ERROR, "tests": {}, "problems": [f"the grading process failed: {error!r}"]}


def _save(out, row, key, result):
    student = row.student_id
    if result.get("feedback_html"):
        (out / "feedback" / f"{student}.html").write_text(result["feedback_html"])
    if result.get("autograded"):
        (out / "autograded" / f"{student}.ipynb").write_text(result["autograded"])
    kept = {k: v for k, v in result.items() if k not in ("feedback_html", "autograded")}
    (out / "results" / f"{student}.json").write_text(json.dumps({"key": key, **kept}, indent=1, sort_keys=True))


def _apply(row, result):
    row.status = result["status"]
    row.answers = result.get("answers", "")
    row.flags = list(result.get("flags", []))
    row.notes.extend(result.get("prepare_notes", []))
    row.tests = result.get("tests", {})
    row.score = sum(t["score"] or 0 for t in row.tests.values())
    row.notes.extend(result.get("problems", []))
    for error in result.get("instructor_cell_errors", []):
        kind = error["error"].split(":")[0]
        if kind in ENVIRONMENT_ERRORS and row.status == GRADED:
            row.status = ENVIRONMENT_PROBLEM
        message = " ".join(error["error"].split())[:200]  # one line: a note is one cell of the CSV
        where = f"instructor cell {error['cell']} (a cell the student cannot edit) failed: {message}"
        row.notes.append(f"{where}; likely an environment problem, not the student's work: regrade after fixing it"
                         if kind in ENVIRONMENT_ERRORS else where)
    row.notes.extend(result.get("sandbox_gaps", []))  # as found on the machine that graded it (a Dask worker too)


def record_in_gradebook(course, lab, db_url, rows):
    """Writes the scores into the nbgrader gradebook (this process is its only writer)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None
    if path and not path.exists():
        shutil.copy(grader_template(course, lab) / "gradebook.db", path)  # a new gradebook starts as the template
    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(lab)
        except MissingEntry:
            register_lab(course, lab, db_url)
    graded = {row.student_id for row in rows if row.status in (GRADED, ENVIRONMENT_PROBLEM)}
    with Gradebook(db_url) as gb:
        for row in rows:
            if row.student_id is None or (row.status not in (GRADED, ENVIRONMENT_PROBLEM) and row.student_id in graded):
                continue  # an older or broken file of a student whose newest file was graded
            gb.update_or_create_student(row.student_id)
            gb.update_or_create_submission(lab, row.student_id)
            for grade in gb.find_submission_notebook(lab, lab, row.student_id).grades:
                test = row.tests.get(grade.name)
                grade.auto_score = test["score"] if test else 0.0
                grade.needs_manual_grade = False
            gb.db.commit()


def write_csv(path, rows, release):
    test_ids = [c.metadata["nbgrader"]["grade_id"] for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "student_id", "status", "score", "max_score", *test_ids, "answers", "flags", "notes"])
        for row in sorted(rows, key=lambda r: r.file):
            scores = [_number(row.tests[t]["score"]) if t in row.tests else "" for t in test_ids]
            writer.writerow([_cell(row.file), _cell(row.student_id or ""), _cell(row.status), _number(row.score),
                             _number(row.max_score), *scores, _cell(row.answers), _cell(" | ".join(row.flags)), _cell(" | ".join(row.notes))])


def _cell(text):
    """Text a spreadsheet shows as text: a file named '=HYPERLINK(...)' must not become a formula."""
    return f"'{text}" if text[:1] in SPREADSHEET_PREFIX else text


def _number(value):
    return f"{float(value or 0):g}"


def summary(rows):
    """The table printed at the end of ``course grade``."""
    width = max([len(r.file) for r in rows] + [4])
    lines = [f"{'file':{width}}  {'student':14}  {'score':>9}  status"]
    for row in sorted(rows, key=lambda r: r.file):
        score = f"{_number(row.score)}/{_number(row.max_score)}" if row.status in (GRADED, ENVIRONMENT_PROBLEM) else "-"
        flagged = f"  ({len(row.flags)} flag{'s' * (len(row.flags) != 1)} to review)" if row.flags else ""
        lines.append(f"{row.file:{width}}  {(row.student_id or '?'):14}  {score:>9}  {row.status}{flagged}")
    graded = [r for r in rows if r.status == GRADED]
    mean = sum(r.score for r in graded) / len(graded) if graded else 0.0
    others = sum(r.status == ENVIRONMENT_PROBLEM for r in rows)
    lines.append(f"{len(rows)} files: {len(graded)} graded (mean {mean:.1f}), {others} with an environment problem, "
                 f"{len(rows) - len(graded) - others} not graded; {sum(bool(r.flags) for r in rows)} flagged for review")
    return "\n".join(lines)
