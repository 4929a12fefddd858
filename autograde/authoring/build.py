"""Generates the student labs (labs/) from the instructor notebooks (solutions/) with nbgrader.

nbgrader's ``generate_assignment`` does the work: it swaps solution regions for our TODO
stubs, drops hidden tests, locks test cells, records checksums and clears outputs. We run
it in a throw-away gradebook and release folder, then copy the result into place, so
building never touches the instructor's real gradebook and a check can build elsewhere
and compare.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets.config.loader import PyFileConfigLoader

from autograde.course import GRADEBOOK, CourseError, sqlite_url

if TYPE_CHECKING:
    from traitlets.config import Config

    from autograde.course import Course


def load_nbgrader_config(course: Course) -> Config:
    return PyFileConfigLoader(course.nbgrader_config.name, path=str(course.nbgrader_config.parent)).load_config()


def api_config(course: Course, folder: str | Path) -> Config:
    """The course's nbgrader configuration for nbgrader's API working in ``folder``, which says only what went wrong.

    NbGraderAPI logs through traitlets' own logger, which this process prints; and when made it looks for its exchange
    (for releasing to students on a shared server, unused here), with a critical line where it cannot write: ``folder``
    is one it can.
    """
    config = load_nbgrader_config(course)
    config.Application.log_level = "ERROR"
    config.NbGraderAPI.log_level = "ERROR"
    config.Exchange.root = str(folder)
    return config


def nbgrader_environment() -> None:
    """Prepares this process to run nbgrader.

    nbgrader creates a fresh gradebook by running ``alembic``: put this Python's bin/ on PATH.
    Its gradebook code trips SQLAlchemy autoflush warnings that are not ours to fix: hide them.
    """
    warnings.filterwarnings("ignore", message=".*not in session.*")
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def generate_labs(course: Course, labs: Iterable[str] | None = None, dest: str | Path | None = None) -> list[Path]:
    """Writes ``dest/<lab>/`` (default: the course's labs/) for each lab; returns the lab folders."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    labs = [course.resolve_lab(lab) for lab in labs] if labs else course.labs()
    dest = Path(dest) if dest else course.labs_dir
    nbgrader_environment()
    written = []
    with tempfile.TemporaryDirectory(prefix="build-labs-") as tmp:
        config = api_config(course, tmp)
        config.CourseDirectory.release_directory = str(Path(tmp) / "release")
        config.CourseDirectory.db_url = sqlite_url(Path(tmp) / GRADEBOOK)
        # The course object decides where links point, so `course publish --repository` can override it.
        config.SetColabLinks.repository_slug = course.github_slug
        config.SetColabLinks.ref = course.release
        coursedir = CourseDirectory(config=config)
        api = NbGraderAPI(coursedir=coursedir, config=config)
        for lab in labs:
            result = api.generate_assignment(lab, force=True, create=True)
            if not result["success"]:
                raise CourseError(f"nbgrader could not generate {lab}:\n{result.get('error') or result.get('log')}")
            target = dest / lab
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / "release" / lab, target)
            written.append(target)
    return written


def stale_labs(course: Course) -> list[str]:
    """Files in labs/ that differ from what ``generate_labs`` makes from solutions/ today."""
    with tempfile.TemporaryDirectory(prefix="check-labs-") as tmp:
        generate_labs(course, dest=tmp)
        return sorted(_tree_differences(Path(tmp), course.labs_dir))


def _tree_differences(expected, actual, prefix=""):
    comparison = filecmp.dircmp(expected, actual, ignore=["__pycache__", ".ipynb_checkpoints"])
    yield from (f"missing from labs/: {prefix}{name}" for name in comparison.left_only)
    yield from (f"not generated from solutions/: {prefix}{name}" for name in comparison.right_only)
    _, mismatch, errors = filecmp.cmpfiles(expected, actual, comparison.common_files, shallow=False)
    yield from (f"out of date: {prefix}{name}" for name in mismatch + errors)
    for sub in comparison.common_dirs:
        yield from _tree_differences(expected / sub, actual / sub, f"{prefix}{sub}/")
