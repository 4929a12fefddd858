import json
from pathlib import Path

import pytest

from autograde.course import Course

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)


def solution_namespace(course, lab, preamble="import numpy as np\nimport tensorflow as tf\nimport keras\n"):
    """Executes the solution cells of a lab's solution notebook and returns the names they define.

    Lets unit tests use the instructor's reference code without copying it.
    """
    cells = json.loads(course.solution_notebook(lab).read_text())["cells"]
    namespace = {}
    exec(preamble, namespace)
    for cell in cells:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), namespace)
    return namespace
