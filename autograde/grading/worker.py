"""Grades one submission in isolation, with nbgrader, in a course folder of its own.

Each job gets a temporary nbgrader course: its own copies of a template gradebook that
already knows the lab (built once per machine and grader version) and of the lab's source,
the rebuilt submission under ``submitted/``, then nbgrader ``autograde`` and
``generate_feedback``. The kernel works in ``work/`` with a private ``tmp/``, the only places
the sandbox lets it write. Nothing is shared between jobs, so any number run side by side
(processes, Dask workers, shards) without "database is locked"; the caller merges the
results into the one real gradebook.

A job is a plain dict and its result a :class:`~autograde.grading.rows.GradeResult`: both travel to any worker.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from autograde.authoring.build import api_config, nbgrader_environment
from autograde.cells import grade_id_of, is_graded
from autograde.course import GRADEBOOK, Course, sqlite_url
from autograde.grading.feedback import failure_message
from autograde.grading.limits import DEFAULT_LIMITS
from autograde.grading.rebuild import TooLargeToRebuild, prepare_bounded
from autograde.grading.rows import CellError, GradeResult, Status, TestScore
from autograde.isolation import sandbox

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
# Packages whose version can change how a notebook runs or is scored.
SCORING_PACKAGES = (
    "nbgrader",
    "nbclient",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "ipython",
    "jupyter_client",
    "tensorflow",
    "keras",
    "numpy",
    "music21",
    "landlockpy",
)


def grader_version(course: Course, lab: str) -> str:
    """A key that changes whenever anything that can change a score changes, limits and budget aside.

    It covers the release and solution notebooks (hidden tests included), every course_utils module and stored
    expectation, the grading code, its references and configuration, and the versions of Python and the packages in
    SCORING_PACKAGES. Cached results, the template gradebook and Dask workers all compare it.
    """
    digest = hashlib.sha256()
    files = [course.lab_notebook(lab), course.solution_notebook(lab)]
    files += sorted(course.student_package.rglob("*.py")) + sorted(course.student_package.rglob("*.json"))
    files += sorted(course.instructor_package.rglob("*.py"))  # every room, the references included
    for path in files:
        digest.update(str(path.relative_to(course.root)).encode())
        digest.update(path.read_bytes() if path.exists() else b"(missing)")
    for package in SCORING_PACKAGES:
        try:
            digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{package} missing".encode())
    digest.update(platform.python_version().encode())
    return digest.hexdigest()[:16]


def register_lab(course: Course, lab: str, db_url: str) -> None:
    """Adds the lab (its cells, tests and points) to a gradebook, with nbgrader generate_assignment."""
    nbgrader_environment()
    with tempfile.TemporaryDirectory(prefix="register-") as tmp:
        shutil.copytree(course.solutions_dir / lab, Path(tmp) / "source" / lab, ignore=IGNORED)
        config = course_config(course, tmp)
        config.CourseDirectory.db_url = db_url
        result = nbgrader_api(config).generate_assignment(lab, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(
            f"could not add {lab} to the gradebook {db_url}:\n{result.get('error') or result.get('log')}"
        )


def cache_folder() -> Path:
    """Where the grader keeps, per machine, what it builds once per grader version (templates, self-tests)."""
    folder = Path(tempfile.gettempdir()) / "rnn-course-grader"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def grader_template(course: Course, lab: str) -> Path:
    """A course folder whose gradebook holds the lab, built once per machine and grader version."""
    template = cache_folder() / f"{lab}-{grader_version(course, lab)}"
    if (template / "ready").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{lab}-", dir=template.parent))
    shutil.copytree(course.solutions_dir / lab, building / "source" / lab, ignore=IGNORED)
    register_lab(course, lab, sqlite_url(building / GRADEBOOK))
    (building / "ready").touch()
    try:
        building.rename(template)  # atomic: when two builders race, the first copy wins
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return template


def nbgrader_api(config: Config) -> NbGraderAPI:
    """nbgrader's API on the course folder ``config`` names (a :func:`course_config`)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def course_config(course: Course, root: str | Path, limits: dict[str, int] | None = None) -> Config:
    """The course's nbgrader configuration, pointed at a grading folder ``root``."""
    config = api_config(course, root)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.db_url = sqlite_url(Path(root) / GRADEBOOK)
    config.GuardedExecute.course_root = str(course.root)
    for name, value in (limits or {}).items():
        setattr(config.GuardedExecute, name, value)
    return config


def grade_one(job: dict[str, Any]) -> GradeResult:
    """Rebuilds ``job["submission"]`` (the student's notebook as a JSON string) on the release, reviews its code, and
    grades it for ``job["student_id"]``; each step bounded in time, so one notebook never stalls the run.

    Other keys: ``course_root``, ``lab``, ``grader_version`` (see :func:`grader_version`), ``limits``
    (see autograde.grading.limits), ``env`` (variables for the kernel, e.g. LAB_BUDGET), ``seed_key`` (the submission's
    key for the probes' seeds, :func:`autograde.grading.judge.submission_seed_key`; the course's secret stays with the caller). Returns a
    :class:`~autograde.grading.rows.GradeResult`: the scores of every test cell, their failure messages, the problems
    met (timeouts, kernel deaths, errors in cells the student cannot edit), the feedback HTML and the autograded
    notebook, what the rebuild found and the review's flags. With ``feedback_root`` (a folder of a caller on the same
    machine), the feedback page is left to the caller: the result names the folder to make it from
    (:func:`render_feedback`), so that the page is made while this process grades the next notebook. Whatever goes wrong, it returns a result: status
    GRADER_ERROR and why, or NOT_GRADED for a notebook too large to rebuild.
    """
    started = time.monotonic()
    _adopt_orphans()
    try:
        result = _grade(job)
    except (Exception, SystemExit) as error:  # the job keeps its row, with what went wrong (a library's exit() too)
        last = traceback.format_exception_only(error)[-1].strip()
        result = GradeResult.failed(job.get("student_id"), f"grading failed: {last[:300]}")
    finally:
        sandbox.kill_strays()  # a kernel's leftover daemon could otherwise rewrite files after grading
    result.total_seconds = round(time.monotonic() - started, 2)
    return result


@functools.cache
def _adopt_orphans():
    """Once per grading process: orphaned descendants (a kernel's daemons) become its children."""
    try:
        sandbox.become_subreaper()
    except OSError:  # not Linux: strays are left to the process group's kill
        pass


def _grade(job):
    # On another machine (a Dask worker) the course may live elsewhere: COURSE_ROOT or the installed package.
    course = Course.load(job["course_root"]) if Path(job["course_root"]).is_dir() else Course.find()
    lab, student = job["lab"], job["student_id"]
    if job["grader_version"] != grader_version(course, lab):
        return GradeResult.failed(
            student,
            f"the worker's course, grading code or packages differ from the instructor's ({lab}): "
            "install the same version of the course and its packages on the worker machines",
        )
    try:
        prepared = prepare_bounded(
            nbformat.read(course.lab_notebook(lab), as_version=4), nbformat.reads(job["submission"], as_version=4)
        )
    except TooLargeToRebuild as error:
        return GradeResult.failed(student, str(error), Status.NOT_GRADED)
    result = _grade_prepared(job, course, lab, student, prepared.notebook)
    result.answers, result.prepare_notes, result.flags = prepared.answers, prepared.notes, prepared.flags
    return result


def _grade_prepared(job, course, lab, student, notebook):
    template = grader_template(course, lab)
    nbgrader_environment()
    # With a feedback_root (a caller on this machine) the folder is left there for the caller to render the feedback
    # page from (render_feedback) while this process grades the next notebook; otherwise it goes when done.
    leave_feedback = bool(job.get("feedback_root"))
    root = Path(tempfile.mkdtemp(prefix="grade-", dir=job.get("feedback_root")))
    try:
        result = _grade_in(root, job, course, lab, student, notebook, template, leave_feedback)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    if not result.feedback_folder:
        shutil.rmtree(root, ignore_errors=True)
    return result


def _grade_in(root, job, course, lab, student, notebook, template, leave_feedback):
    from nbgrader.api import Gradebook

    shutil.copy(template / GRADEBOOK, root / GRADEBOOK)
    shutil.copytree(template / "source", root / "source")  # each job its own copy: nothing writable is shared
    work, private_tmp = root / "work", root / "tmp"
    shutil.copytree(root / "source" / lab, work, ignore=shutil.ignore_patterns("*.ipynb"))
    private_tmp.mkdir()
    submitted = root / "submitted" / student / lab
    submitted.mkdir(parents=True)
    nbformat.write(notebook, submitted / f"{lab}.ipynb")
    config = course_config(course, root, {**DEFAULT_LIMITS, **job.get("limits", {})})
    config.GuardedExecute.kernel_env = {**job.get("env", {}), "LAB_OUTPUT_DIR": str(work / "artifacts")}
    config.GuardedExecute.kernel_cwd = str(work)
    config.GuardedExecute.kernel_tmp = str(private_tmp)
    config.GuardedExecute.sandbox = job.get("sandbox", True)
    config.GuardedExecute.seed_key = job["seed_key"]
    api = nbgrader_api(config)
    outcome = api.autograde(lab, student, force=True, create=True)
    autograded_path = root / "autograded" / student / lab / f"{lab}.ipynb"
    if not outcome["success"] or not autograded_path.exists():
        return GradeResult.failed(student, _last_line(outcome))

    autograded = nbformat.read(autograded_path, as_version=4)
    feedback_html = None if leave_feedback else _feedback_page(api, lab, student, root)
    messages = {
        grade_id_of(cell): failure_message(cell)
        for cell in autograded.cells
        if cell.cell_type == "code" and is_graded(cell)
    }
    with Gradebook(config.CourseDirectory.db_url) as gb:
        grades = gb.find_submission_notebook(lab, lab, student).grades
        tests = {g.name: TestScore(g.score, g.max_score, messages.get(g.name)) for g in grades}
    grading = autograded.metadata.get("grading", {})  # what GuardedExecute recorded
    return GradeResult(
        student,
        Status.GRADED,
        tests,
        problems=grading.get("problems", []),
        instructor_cell_errors=[CellError(**error) for error in grading.get("instructor_cell_errors", [])],
        sandboxed=grading.get("sandboxed", False),
        sandbox_gaps=_sandbox_gaps(grading.get("sandboxed", False)),
        execute_seconds=grading.get("execute_seconds", 0.0),
        limits_hit=grading.get("limits_hit", []),
        forked_kernel=grading.get("forked_kernel", False),
        feedback_html=feedback_html,
        feedback_folder=str(root) if leave_feedback else None,
        autograded=json.dumps(autograded),
    )


def render_feedback(course: Course, lab: str, student: str, folder: str | Path) -> str | None:
    """The feedback page of the notebook graded in ``folder``, which :func:`grade_one` left there for it (a job with
    a ``feedback_root``); None if nbgrader could not make it. ``folder`` is removed, page or not.
    """
    try:
        nbgrader_environment()
        config = course_config(course, folder)
        return _feedback_page(nbgrader_api(config), lab, student, Path(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _feedback_page(api, lab, student, root):
    feedback = api.generate_feedback(lab, student, force=True)
    path = root / "feedback" / student / lab / f"{lab}.html"
    return path.read_text() if feedback["success"] and path.exists() else None


def _sandbox_gaps(sandboxed):
    """What this machine's sandbox lacks, one sentence each (said in every row graded here)."""
    if not sandboxed:
        return ["not sandboxed (--no-sandbox): the kernel could read and write every file and reach the network"]
    return [f"sandbox: {gap}" for gap in sandbox.probe().missing]


def _last_line(outcome):
    text = (outcome.get("error") or outcome.get("log") or "nbgrader failed without a message").strip()
    return text.splitlines()[-1][:300]
