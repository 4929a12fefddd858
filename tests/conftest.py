import json
import linecache
import os
from pathlib import Path

import pytest

from autograde.course import Course

ROOT = Path(__file__).resolve().parents[1]
# Data the labs read, kept beside the repository (never in it); notebook kernels inherit the environment.
TWEETS_DIR = ROOT.parent / "shared" / "data" / "tweets"
if TWEETS_DIR.is_dir():
    os.environ.setdefault("TWEETS_DIR", str(TWEETS_DIR))


def pytest_collection_modifyitems(config, items):
    """Tests marked floor (they install an environment of their own) run only when `-m` names them: `pytest -m floor`."""
    if "floor" in config.getoption("markexpr"):
        return
    floor = [item for item in items if item.get_closest_marker("floor")]
    if floor:
        config.hook.pytest_deselected(items=floor)
        items[:] = [item for item in items if not item.get_closest_marker("floor")]


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)


def solution_namespace(course, lab, preamble="import numpy as np\nimport tensorflow as tf\nimport keras\nfrom keras import ops\n"
                       "from course_utils.predictions import Predictions\npredictions = Predictions()\n"):
    """Executes the solution cells of a lab's solution notebook and returns the names they define.

    Lets unit tests use the instructor's reference code without copying it.
    """
    cells = json.loads(course.solution_notebook(lab).read_text())["cells"]
    namespace = {}
    exec(preamble, namespace)
    for cell in cells:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            source = "".join(cell["source"])
            # Registered in linecache, as IPython does with cells: AutoGraph reads a function's source to convert its loops.
            filename = f"<{lab} cell {cell.get('id')}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
            exec(compile(source, filename, "exec"), namespace)
    return namespace


def judged(check, *args, **kwargs):
    """A check as the grader runs it, in one process: the probe, then the comparison with an expectation computed
    afresh by the private references (any arguments, not only those stored for students). Returns the pass message."""
    from autograde.judge import expectation
    from course_utils.checks.probing import decode, raise_for_probe_failure, run_probe

    params = check.params(*args, **kwargs)
    observed = decode(run_probe(check.probe, *args, **kwargs))
    raise_for_probe_failure(observed)
    expected = expectation(check.lab, check.name, params) if check.expects else None
    return check.compare(observed, expected, **params)


def fails_with(pattern, check, *args, **kwargs):
    """Asserts that a check, as the grader judges it, rejects a wrong implementation with a message matching ``pattern``."""
    from course_utils.checks import CheckFailed

    with pytest.raises(CheckFailed, match=pattern):
        judged(check, *args, **kwargs)
