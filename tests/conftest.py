"""Fixtures every test folder can ask for; shared functions and constants are in helpers.py."""

import os
import shutil

import pytest
from helpers import ROOT, TWEETS_DIR, examples_to_grade, grading_options, on_disk

from autograde.course import Course

if TWEETS_DIR.is_dir():  # notebook kernels inherit the environment
    os.environ.setdefault("TWEETS_DIR", str(TWEETS_DIR))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Tests marked floor (they install an environment of their own) run only when `-m` names them: `pytest -m floor`."""
    # pytest-xdist's --dist loadgroup marks a grouped test's id with "@group"; where it does not (pytest-xdist issue
    # 1386), each lab's examples would be graded in both processes, so the run stops here instead.
    if getattr(config.option, "loadgroup", False):
        ungrouped = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
        if ungrouped:
            raise pytest.UsageError(
                f"pytest-xdist did not group {ungrouped[0]} (pytest {pytest.__version__}); install the versions "
                "pyproject.toml's test extra names, or run with -n 0"
            )
    if "floor" in config.getoption("markexpr"):
        return
    floor = [item for item in items if item.get_closest_marker("floor")]
    if floor:
        config.hook.pytest_deselected(items=floor)
        items[:] = [item for item in items if not item.get_closest_marker("floor")]


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)


@pytest.fixture(scope="session")
def graded_examples(course, tmp_path_factory):
    """A function lab -> (lab, submissions folder, {file: expected row}, grading folder, rows): the lab's example
    submissions that this run grades (helpers.examples_to_grade), graded once a session and shared by every test that
    reads their rows, feedback or autograded notebooks."""
    from autograde.grading.folder import grade_folder

    graded = {}

    def grade(lab):
        if lab not in graded:
            examples = course.examples_dir(lab)
            expected = examples_to_grade(course, lab)
            submissions = tmp_path_factory.mktemp(f"submissions-{lab}")
            for name in {on_disk(name) for name in expected}:
                shutil.copy(examples / "submissions" / name, submissions / name)
            out = tmp_path_factory.mktemp(f"grading-{lab}")
            rows = grade_folder(course, lab, submissions, out, **grading_options(lab))
            graded[lab] = lab, submissions, expected, out, rows
        return graded[lab]

    return grade
