"""Example submissions for every lab, made from its solution and student notebooks.

``course make-examples LAB`` writes ``autograde/examples/<lab>/submissions/``: the cases a
grader meets in practice, honest and hostile, and ``autograde/examples/<lab>/expected.json``:
the row each must get (status, score, and whether its code is flagged for review). Scores
follow from the notebook's structure: a test cell passes when every answer cell before it is
filled in.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograde.cells import grade_id_of, is_answer, is_graded, is_test, points
from autograde.grading.rows import Status

if TYPE_CHECKING:
    from autograde.course import Course

MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
INFINITE_LOOP = "while True:  # oops: this never ends\n    pass\n"

# Hostile cells, each the way a student would write it. {short} is the lab's short name (lab1).
SWITCH_OFF_CHECKS = """\
# Make every check pass, whatever the answers are.
import sys, types
import numpy as np
import course_utils.checks.{short} as public_checks
for name in dir(public_checks):
    if name.startswith("check_"):
        setattr(public_checks, name, lambda *args, **kwargs: None)
fake = types.ModuleType("autograde.grading.references.{short}")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["autograde.grading.references"] = types.ModuleType("autograde.grading.references")
sys.modules["autograde.grading.references.{short}"] = fake
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
SILENCE_TRACEBACKS = """\
# Errors? What errors.
shell = get_ipython()
shell.showtraceback = lambda *args, **kwargs: None
shell._showtraceback = lambda *args, **kwargs: None
"""
READ_HIDDEN_TESTS = """\
# Print the hidden tests and the references, every way there is.
import gc, inspect, linecache, os, sys, types
import course_utils
repository = os.path.dirname(os.path.dirname(course_utils.__file__))
for path in ("autograde/grading/references/{short}.py", "solutions/{lab}/{lab}.ipynb", ".grading-secret"):
    try:
        print(open(os.path.join(repository, path)).read())
    except Exception as error:
        print("open:", type(error).__name__)
for name, module in list(sys.modules.items()):
    if "hidden" in name or "references" in name or "autograde" in name:
        try:
            print(inspect.getsource(module))
        except Exception as error:
            print("inspect:", error)
for obj in gc.get_objects():
    if type(obj) is types.ModuleType and "autograde" in vars(obj).get("__name__", ""):
        print("gc:", obj)
print("linecache:", [name for name, entry in linecache.cache.items() if len(entry) > 2 and any("BEGIN HIDDEN" in line for line in entry[2])])
print("history:", [cell for cell in In if "HIDDEN" in cell])
"""
PLANT_FILES = """\
# Leave something behind for the students graded after me.
import os, socket, tempfile
import course_utils
repository = os.path.dirname(os.path.dirname(course_utils.__file__))
for folder in (os.path.dirname(course_utils.__file__), os.path.join(repository, "autograde", "grading", "references"),
               os.path.join("/tmp", "rnn-course-grader"), os.path.join("..", "source")):
    try:
        with open(os.path.join(folder, "planted_by_a_student.py"), "w") as f:
            f.write("PLANTED = True\\n")
        print("planted in", folder)
    except Exception as error:
        print("could not plant in", folder, type(error).__name__)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("connected")
except Exception as error:
    print("no connection:", type(error).__name__)
print(sorted(name for name in os.environ))
"""
# Attacks on the design where checks ran in the student's kernel (issue 14). Each comes with stub answers (an honest 0):
# none may earn a point, and each is flagged for review.
REWRITE_TEST_CELLS = """\
# An input hook that rewrites every test cell into one that passes.
def neuter(lines):
    return ["pass\\n" if ("checks." in line or "probe" in line) else line for line in lines]
get_ipython().input_transformer_manager.line_transforms.append(neuter)
get_ipython().input_transformer_manager.cleanup_transforms.append(neuter)
"""
HOOK_AROUND_REQUESTS = """\
# A post-transform hook that removes itself around the grader's own requests.
ip = get_ipython()
def hook(lines):
    text = "".join(lines)
    if "run_probe" in text or "begin_test" in text:
        return ["None\\n"]
    return lines
ip.input_transformers_post.append(hook)
"""
SWAP_NAMES_BEFORE_CELLS = """\
# Before every cell, swap the checks (and whatever runs the probes) for objects that accept anything.
import course_utils.checks.probing as probing
class Anything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
def swap(*args, **kwargs):
    ns = get_ipython().user_ns
    ns["checks"] = ns["hidden_tests"] = Anything()
    probing.run_probe = lambda probe, *a, **k: "{}"
get_ipython().events.register("pre_run_cell", swap)
get_ipython().events.register("pre_execute", swap)
"""
FORGE_OBSERVATIONS = """\
# Answer every probe with what the course's stored results say a correct answer gives.
import json
import course_utils.checks.probing as probing
def forged(probe, *args, **kwargs):
    name = probe.__name__.removeprefix("probe_")
    for lab_file in probing.EXPECTED_DIR.glob("*.json"):
        for entry in json.loads(lab_file.read_text()).get(name, []):
            return json.dumps(entry["expectation"])
    return json.dumps({"recorded": True, "answer": None, "shown": "?"})
probing.run_probe = forged
"""
READ_FRAMES_AND_OBJECTS = """\
# Find the grader's objects and the checks' reference values in the kernel: frames, gc, the shell's attributes.
import gc, sys
found = []
for name, value in vars(get_ipython()).items():
    if callable(getattr(value, "begin_test", None)) or "grading" in name:
        found.append(name)
for obj in gc.get_objects():
    if isinstance(obj, dict) and ("expected" in obj or "reference" in obj) and len(obj) < 50:
        found.append(sorted(obj)[:5])
frame = sys._getframe()
while frame is not None:
    found.append(sorted(k for k in frame.f_locals if "expect" in k))
    frame = frame.f_back
print("found:", found[:20])
"""
PATCH_NUMPY_CODE = """\
# Keep numpy's functions, change what they compute: every comparison in this kernel now agrees.
import numpy as np
import numpy.core.numeric as numeric
def always(*args, **kwargs):
    return True
for function in (numeric.allclose, numeric.array_equal):
    try:
        function.__code__ = always.__code__
    except Exception as error:
        print("could not patch", function.__name__, type(error).__name__)
"""
PRINT_HIDDEN_DISGUISED = """\
# Print whatever hidden-test text the kernel holds, with a zero-width space between letters.
import linecache
texts = [cell for cell in In] + ["".join(entry[2]) for entry in linecache.cache.values() if len(entry) > 2]
hidden = [text for text in texts if "HIDDEN" in text]
print("\\u200b".join("".join(hidden)) or "nothing hidden here")
"""
HUGE_RESULT = "'x' * 100_000_000  # a 100 MB return value\n"

# Simple disguises of code that reaches for the grading machinery (issue 14, item 4), one per cell: the review must flag
# each cell. They run harmlessly; with half the answers the notebook earns half the points, and is flagged.
DISGUISES = (
    "shell = (lambda: get_ipython())()\nprint(type(shell).__name__)\n",
    "import numpy as np\n[np][0].testing.assert_allclose = lambda *args, **kwargs: None\n",
    "import sys\nname = 'mod' + 'ules'\nloaded = getattr(sys, name)\nprint(len(loaded))\n",
    "import sys\nprint(('hidden' + '_tests') in sys.modules, '_'.join(['course', 'utils']) in sys.modules)\n",
    "everything = print.__self__\nprint(len(vars(everything)))\n",
    "try:\n    1 / 0\nexcept ZeroDivisionError as error:\n    frame = error.__traceback__.tb_frame\n    print(sorted(frame.f_back.f_locals)[:3] if frame.f_back else [])\n",
    "def mine():\n    return 1\ndef theirs():\n    return 2\nmine.__code__ = theirs.__code__\n",
    "print(len(get_ipython().events.callbacks['pre_run_cell']))\n",
    "manager = get_ipython().input_transformer_manager\nprint(len(manager.line_transforms), len(manager.token_transformers))\n"
    "print(len(get_ipython().prefilter_manager.transformers))\n",
)

STUB_ATTACKS = {
    "rewrites-test-cells": REWRITE_TEST_CELLS,
    "hooks-around-requests": HOOK_AROUND_REQUESTS,
    "swaps-names-before-cells": SWAP_NAMES_BEFORE_CELLS,
    "forges-observations": FORGE_OBSERVATIONS,
    "reads-frames-and-objects": READ_FRAMES_AND_OBJECTS,
    "patches-numpy-code": PATCH_NUMPY_CODE,
    "prints-hidden-disguised": PRINT_HIDDEN_DISGUISED,
}

# The examples whose grade turns on how the lab's own answer cells are found. The others (edited tests, a time limit,
# switched-off checks, silenced tracebacks, reading hidden tests, planted files, a huge result, broken files) test the
# grading machinery, which is the same for every lab.
LAB_SPECIFIC = (
    "full-marks",
    "untouched",
    "partial",
    "stripped-metadata",
    "rearranged",
    "answer-below-stub",
    "copied-answer-cell",
)


def answers_from_solution(course: Course, lab: str) -> dict[str, str]:
    """grade_id -> the cell as a student who finished the exercise would have it."""
    solution = nbformat.read(course.solution_notebook(lab), as_version=4)
    return {
        grade_id_of(cell): "\n".join(line for line in cell.source.split("\n") if not MARKER.match(line))
        for cell in solution.cells
        if is_answer(cell)
    }


def fill(release: nbformat.NotebookNode, answers: dict[str, str], grade_ids: Collection[str]) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if is_answer(cell) and grade_id_of(cell) in grade_ids:
            cell.source = answers[grade_id_of(cell)]
    return notebook


def expected_score(release: nbformat.NotebookNode, filled: Collection[str]) -> float:
    """Points of the test cells that come after only filled-in answer cells."""
    score, blocked = 0.0, False
    for cell in release.cells:
        if is_answer(cell) and grade_id_of(cell) not in filled:
            blocked = True
        elif is_graded(cell) and not blocked:
            score += points(cell)
    return score


def make_examples(course: Course, lab: str, dest: Path | None = None) -> Path:
    """Writes the examples into ``dest`` (default: autograde/examples/<lab>) and returns that folder."""
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    answers = answers_from_solution(course, lab)
    order = list(answers)
    everything, first_half = set(order), set(order[: len(order) // 2])
    total = expected_score(release, everything)
    examples = {}

    examples["full-marks"] = (fill(release, answers, everything), total)
    examples["untouched"] = (copy.deepcopy(release), 0.0)
    examples["partial"] = (fill(release, answers, first_half), expected_score(release, first_half))

    stripped = fill(release, answers, everything)
    for index, cell in enumerate(stripped.cells):
        cell.metadata = {}
        cell.id = f"colab-{index:03d}"
    stripped.metadata = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"}}
    examples["stripped-metadata"] = (stripped, total)

    examples["rearranged"] = (_rearranged(fill(release, answers, everything), answers), total)

    tampered = fill(release, answers, first_half)
    for cell in tampered.cells:
        if is_test(cell):
            cell.source = "pass  # tests? what tests"
            cell.metadata["nbgrader"]["points"] = 100
    examples["tampered-tests"] = (tampered, expected_score(release, first_half))

    looping = fill(release, answers, everything)
    last = [cell for cell in looping.cells if is_answer(cell)][-1]
    last.source = INFINITE_LOOP + last.source
    examples["infinite-loop"] = (looping, expected_score(release, everything - {order[-1]}))

    examples.update(_habits(release, answers, total))
    short = lab.split("_")[0]
    half = expected_score(release, first_half)
    flagged = {
        "switched-off-checks",
        "silenced-tracebacks",
        "reads-hidden-tests",
        "plants-files",
        "disguised",
        *STUB_ATTACKS,
    }
    examples["switched-off-checks"] = (
        _with_cell_after_setup(fill(release, answers, first_half), SWITCH_OFF_CHECKS.format(short=short)),
        half,
    )
    examples["silenced-tracebacks"] = (
        _with_cell_after_setup(fill(release, answers, first_half), SILENCE_TRACEBACKS),
        half,
    )
    examples["reads-hidden-tests"] = (
        _with_cell_at_end(fill(release, answers, everything), READ_HIDDEN_TESTS.format(short=short, lab=lab)),
        total,
    )
    examples["plants-files"] = (_with_cell_at_end(fill(release, answers, everything), PLANT_FILES), total)
    examples["huge-result"] = (_with_cell_at_end(fill(release, answers, everything), HUGE_RESULT), total)
    for name, source in STUB_ATTACKS.items():
        examples[name] = (_with_cell_after_setup(copy.deepcopy(release), source), 0.0)
    disguised = fill(release, answers, first_half)
    for index, source in enumerate(DISGUISES):
        disguised.cells.append(_student_cell(source, f"disguise-{index}"))
    examples["disguised"] = (disguised, half)

    folder = dest or course.examples_dir(lab)
    if folder.exists():
        shutil.rmtree(folder)
    submissions = folder / "submissions"
    submissions.mkdir(parents=True)
    expected = {}
    for name, (notebook, score) in examples.items():
        filename = f"{name}.ipynb"
        nbformat.write(notebook, submissions / filename)
        expected[filename] = {
            "student_id": name,
            "status": Status.GRADED,
            "score": score,
            "max_score": total,
            "flagged": name in flagged,
        }
    (submissions / "not-a-notebook.py").write_text(
        "# Exported with File > Download > .py instead of .ipynb\nprint('hello')\n"
    )
    expected["not-a-notebook.py"] = {
        "student_id": "not-a-notebook",
        "status": Status.NOT_GRADED,
        "score": 0.0,
        "max_score": total,
        "flagged": False,
    }
    _intake_attacks(release, answers, everything, total, submissions, expected)
    broken = json.loads(nbformat.writes(fill(release, answers, everything)))
    for cell in broken["cells"][:2]:
        del cell["source"]  # valid JSON that breaks the notebook schema
    (submissions / "schema-broken.ipynb").write_text(json.dumps(broken, indent=1))
    expected["schema-broken.ipynb"] = {
        "student_id": "schema-broken",
        "status": Status.GRADED,
        "score": total,
        "max_score": total,
        "flagged": False,
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    return folder


MANY_MEMBERS = 2_000
HUGE_NOTEBOOK_CHARS = 1_000_000


def _intake_attacks(release, answers, everything, total, submissions, expected):
    """Files a student could use against others or against the run: each gets its own row, and the run goes on.

    - ``names-another.zip`` holds the untouched lab named as another student's file (``full-marks.ipynb``): it counts
      for its owner alone, and full-marks keeps its full marks;
    - ``many-members.zip`` holds 2,000 files: one row says it was not unpacked;
    - ``huge-blank-lines.ipynb`` is the untouched lab with a cell of 1 MB of long blank lines: rebuilt and reviewed
      within their budgets, and graded.
    """
    fixed = (1980, 1, 1, 0, 0, 0)  # zip member dates, so regenerated examples compare equal
    with zipfile.ZipFile(submissions / "names-another.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo("full-marks.ipynb", fixed), nbformat.writes(release))
    expected["names-another.zip/full-marks.ipynb"] = {
        "student_id": "names-another",
        "status": Status.GRADED,
        "score": 0.0,
        "max_score": total,
        "flagged": False,
    }
    with zipfile.ZipFile(submissions / "many-members.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(MANY_MEMBERS):
            archive.writestr(zipfile.ZipInfo(f"member-{index:04d}.ipynb", fixed), "{}")
    expected["many-members.zip"] = {
        "student_id": "many-members",
        "status": Status.NOT_GRADED,
        "score": 0.0,
        "max_score": total,
        "flagged": False,
    }
    huge = copy.deepcopy(release)
    huge.cells.append(_student_cell((" " * 999 + "\n") * (HUGE_NOTEBOOK_CHARS // 1000), "a-megabyte-of-blank-lines"))
    nbformat.write(huge, submissions / "huge-blank-lines.ipynb")
    expected["huge-blank-lines.ipynb"] = {
        "student_id": "huge-blank-lines",
        "status": Status.GRADED,
        "score": 0.0,
        "max_score": total,
        "flagged": False,
    }


def _habits(release, answers, total):
    """Honest habits that must still earn full marks: a stub left with the answer below it, a copied answer cell."""
    below = copy.deepcopy(release)
    cells = []
    for cell in below.cells:
        cells.append(cell)
        if is_answer(cell):  # the stub stays; the answer goes into a new cell right below it
            cells.append(_student_cell(answers[grade_id_of(cell)], f"{cell.id}-below"))
    below.cells = cells
    copied = copy.deepcopy(release)
    cells = []
    for cell in copied.cells:
        cells.append(cell)
        if is_answer(cell):  # Colab's copy keeps the metadata; the student finished the copy
            twin = copy.deepcopy(cell)
            twin.id = f"{cell.id}-copy"
            twin.source = answers[grade_id_of(cell)]
            cells.append(twin)
    copied.cells = cells
    return {"answer-below-stub": (below, total), "copied-answer-cell": (copied, total)}


def _with_cell_after_setup(notebook, source):
    """``source`` in a new cell right after the first code cell that imports the lab's checks."""
    setup = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "course_utils.checks" in c.source)
    notebook.cells.insert(setup + 1, _student_cell(source, "after-setup"))
    return notebook


def _with_cell_at_end(notebook, source):
    notebook.cells.append(_student_cell(source, "at-end"))
    return notebook


def _student_cell(source, cell_id):
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cell_id  # fixed, so that regenerated examples compare equal
    return cell


def _rearranged(notebook, answers):
    """Cells inserted (a helper an answer uses, a scratch cell), deleted and reordered."""
    cells = notebook.cells
    answer_positions = [i for i, cell in enumerate(cells) if is_answer(cell)]
    # A helper defined before the first answer, and used by it.
    first = cells[answer_positions[0]]
    helper = nbformat.v4.new_code_cell("def my_helper_that_returns(value):\n    return value\n")
    helper.id = "my-helper"
    first.source += "\n\nassert my_helper_that_returns(42) == 42\n"
    # A scratch cell right after the last answer.
    scratch = nbformat.v4.new_code_cell("print('checking my work')\n")
    scratch.id = "scratch"
    markdown = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown"]
    result = []
    for i, cell in enumerate(cells):
        if i == markdown[-1]:
            continue  # a deleted markdown cell
        if i == answer_positions[0]:
            result.append(helper)
        result.append(cell)
        if i == answer_positions[-1]:
            result.append(scratch)
    # Two markdown cells swapped.
    md = [i for i, cell in enumerate(result) if cell.cell_type == "markdown"]
    result[md[1]], result[md[2]] = result[md[2]], result[md[1]]
    notebook.cells = result
    return notebook
