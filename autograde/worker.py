"""Grades one submission in isolation, with nbgrader, in a course folder of its own.

Each job gets a temporary nbgrader course: a copy of a template gradebook that already
knows the lab (built once per machine and solution version), the rebuilt submission under
``submitted/``, then nbgrader ``autograde`` and ``generate_feedback``. Nothing is shared
between jobs, so any number run side by side (processes, Dask workers, shards) without
"database is locked"; the caller merges the results into the one real gradebook.

A job and its result are plain dicts (JSON-friendly), so they travel to any worker.
"""
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from autograde.build import load_nbgrader_config, nbgrader_environment
from autograde.course import Course
from autograde.feedback import failure_message

IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
DEFAULT_LIMITS = {
    "cell_timeout": 120,
    "training_cell_timeout": 600,
    "notebook_timeout": 1800,
    "memory_limit_mb": 4096,
    "max_output_chars": 200_000,
}


def template_version(course, lab):
    """Changes whenever what grading depends on changes: the solution, its hidden tests, the config."""
    digest = hashlib.sha256()
    for path in (course.solution_notebook(lab), course.root / "autograde" / "hidden_tests" / f"{lab.split('_')[0]}.py", course.nbgrader_config):
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def register_lab(course, lab, db_url):
    """Adds the lab (its cells, tests and points) to a gradebook, with nbgrader generate_assignment."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    nbgrader_environment()
    with tempfile.TemporaryDirectory(prefix="register-") as tmp:
        shutil.copytree(course.solutions_dir / lab, Path(tmp) / "source" / lab, ignore=IGNORED)
        config = course_config(course, tmp)
        config.CourseDirectory.db_url = db_url
        result = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config).generate_assignment(lab, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"could not add {lab} to the gradebook {db_url}:\n{result.get('error') or result.get('log')}")


def grader_template(course, lab):
    """A course folder whose gradebook holds the lab, built once per machine and grader version."""
    template = Path(tempfile.gettempdir()) / "rnn-course-grader" / f"{lab}-{template_version(course, lab)}"
    if (template / "ready").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{lab}-", dir=template.parent))
    shutil.copytree(course.solutions_dir / lab, building / "source" / lab, ignore=IGNORED)
    register_lab(course, lab, f"sqlite:///{building / 'gradebook.db'}")
    (building / "ready").touch()
    try:
        building.rename(template)  # atomic: when two builders race, the first copy wins
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return template


def course_config(course, root, limits=None):
    """The course's nbgrader configuration, pointed at a grading folder ``root``."""
    config = load_nbgrader_config(course)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    config.Application.log_level = "ERROR"
    for name, value in (limits or {}).items():
        setattr(config.GuardedExecute, name, value)
    return config


def grade_one(job):
    """Grades ``job["notebook"]`` (a rebuilt notebook, as a JSON string) for ``job["student_id"]``.

    Other keys: ``course_root``, ``lab``, ``grader_version`` (see :func:`template_version`), ``limits``
    (see DEFAULT_LIMITS), ``env`` (variables for the kernel, e.g. LAB_BUDGET). Returns a dict with the scores of every test cell, their
    failure messages, the problems met (timeouts, kernel deaths), the feedback HTML and the
    autograded notebook.
    """
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    started = time.monotonic()
    # On another machine (a Dask worker) the course may live elsewhere: COURSE_ROOT or the installed package.
    course = Course.load(job["course_root"]) if Path(job["course_root"]).is_dir() else Course.find()
    lab, student = job["lab"], job["student_id"]
    if job.get("grader_version", template_version(course, lab)) != template_version(course, lab):
        return {"student_id": student, "status": "grader error", "tests": {},
                "problems": [f"the worker's copy of {lab} differs from the instructor's: update the course on the worker machines"]}
    template = grader_template(course, lab)
    nbgrader_environment()
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        root = Path(tmp)
        shutil.copy(template / "gradebook.db", root / "gradebook.db")
        os.symlink(template / "source", root / "source")
        submitted = root / "submitted" / student / lab
        submitted.mkdir(parents=True)
        (submitted / f"{lab}.ipynb").write_text(job["notebook"])
        config = course_config(course, root, {**DEFAULT_LIMITS, **job.get("limits", {})})
        config.GuardedExecute.kernel_env = {**job.get("env", {}), "LAB_OUTPUT_DIR": str(root / "artifacts")}
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        outcome = api.autograde(lab, student, force=True, create=True)
        autograded_path = root / "autograded" / student / lab / f"{lab}.ipynb"
        if not outcome["success"] or not autograded_path.exists():
            return {"student_id": student, "status": "grader error", "problems": [_last_line(outcome)], "tests": {}}
        feedback = api.generate_feedback(lab, student, force=True)
        feedback_path = root / "feedback" / student / lab / f"{lab}.html"

        autograded = nbformat.read(autograded_path, as_version=4)
        messages = {
            cell.metadata["nbgrader"]["grade_id"]: failure_message(cell)
            for cell in autograded.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        }
        with Gradebook(config.CourseDirectory.db_url) as gb:
            grades = gb.find_submission_notebook(lab, lab, student).grades
            tests = {g.name: {"score": g.score, "max_score": g.max_score, "message": messages.get(g.name)} for g in grades}
        grading = autograded.metadata.get("grading", {})
        return {
            "student_id": student,
            "status": "graded",
            "tests": tests,
            "problems": grading.get("problems", []),
            "execute_seconds": grading.get("execute_seconds", 0.0),
            "forked_kernel": grading.get("forked_kernel", False),
            "total_seconds": round(time.monotonic() - started, 2),
            "feedback_html": feedback_path.read_text() if feedback["success"] and feedback_path.exists() else None,
            "autograded": json.dumps(autograded),
        }


def _last_line(outcome):
    text = (outcome.get("error") or outcome.get("log") or "nbgrader failed without a message").strip()
    return text.splitlines()[-1][:300]
