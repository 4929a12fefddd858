"""What several test files share; fixtures are in conftest.py. Test files import from here, never from each other.

- ``ROOT``, the repository, and ``TWEETS_DIR``, the tweets beside it;
- the labs' reference code and checks as the grader runs them (:func:`solution_namespace`, :func:`judged`,
  :func:`fails_with`);
- which of a lab's example submissions the suite grades, and how (:func:`examples_to_grade`, :func:`grading_options`);
- a grading output folder made up for the report's tests (:func:`make_grading_folder`);
- headless Chromium, to open the pages the grader writes (:func:`open_in_chromium`);
- a notebook client whose kernel the grader's provisioner starts (:func:`fork_provisioned_client`).
"""

import copy
import dataclasses
import json
import linecache
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from autograde import cells
from autograde.cells import STUDENT_ORIGIN, grade_id_of
from autograde.course import OutputFolder
from autograde.grading.rows import Answer, Found, GradeResult, Row, Status, TestScore, save_result, write_csv

ROOT = Path(__file__).resolve().parents[1]


def lab_check_modules():
    """``course_utils.checks.labN`` of every lab in solutions/, in order: the inventory tests read, not a list."""
    import importlib

    from autograde.course import Course

    return [importlib.import_module(f"course_utils.checks.{lab.split('_')[0]}") for lab in Course.load(ROOT).labs()]


TWEETS_DIR = ROOT.parent / "shared" / "data" / "tweets"  # the tweets Lab 3 reads, beside the repository (never in it)


# --- the labs' reference code and checks -------------------------------------------------------------------------


def solution_namespace(
    course,
    lab,
    preamble="import numpy as np\nimport tensorflow as tf\nimport keras\nfrom keras import ops\n"
    "from course_utils.predictions import Predictions\npredictions = Predictions()\nanswers = {}\n"
    "from course_utils.captioning import END_ID, PAD_ID, START_ID\n",  # Lab 5's imports cell names them
):
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
    from autograde.grading.judge import expectation
    from course_utils.checks.probing import decode, raise_for_probe_failure, run_probe

    params = check.params(*args, **kwargs)
    observed = decode(run_probe(check.probe, *args, **kwargs))
    raise_for_probe_failure(observed)
    expected = expectation(check.lab, check.name, params) if check.expects else None
    return check.compare(observed, expected, **params)


def fails_from_stored_data(pattern, check, *args, **kwargs):
    """Asserts that the public check, as a student runs it (the expectation stored for the visible test calls),
    rejects a wrong implementation with a message matching ``pattern``."""
    from course_utils.checks import CheckFailed

    with pytest.raises(CheckFailed, match=pattern):
        check(*args, **kwargs)


def call_arguments(check, call, params, namespace):
    """(args, kwargs) of a test cell's check call: its objects evaluated in ``namespace``, its arguments ``params``."""
    args, kwargs = eval(f"(lambda *args, **kwargs: (args, kwargs))({', '.join(call.args)})", dict(namespace))  # noqa: S307
    bound = check.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    bound.arguments.update(params)
    return bound.args, bound.kwargs


def fails_with(pattern, check, *args, **kwargs):
    """Asserts that a check, as the grader judges it, rejects a wrong implementation with a message matching ``pattern``."""
    from course_utils.checks import CheckFailed

    with pytest.raises(CheckFailed, match=pattern):
        judged(check, *args, **kwargs)


# --- the example submissions, graded (conftest.py's graded_examples grades each lab's once a session) -------------

# Grading runs notebooks, the suite's costliest step, so each example is executed where what it shows depends on
# execution. All of a lab's examples are graded for the quickest lab, MACHINERY_LAB: the grading machinery is the same
# code for every lab. The other labs execute the examples whose score depends on their own exercises; the rest of
# LAB_SPECIFIC (an answer found without metadata, in a rearranged notebook, below its stub, in a copied cell) differ
# from full-marks only in where the answers sit, which tests/grading/test_grading.py checks for every lab by rebuilding
# them, no kernel. Those labs skip the self-test: their full-marks example is the same check through the student's
# path, and it is also each lab's solution run under smoke (test_the_full_marks_example_runs_clean).
# GRADE_EVERY_EXAMPLE=1 grades every example of every lab, self-tests included.
MACHINERY_LAB = "lab2_music_generation"
EXECUTED_FOR_EVERY_LAB = ("full-marks", "untouched", "partial")
GRADE_EVERY_EXAMPLE = os.environ.get("GRADE_EVERY_EXAMPLE") == "1"
# The same limits wherever examples are graded, so that a lab's self-test runs once a session (it is cached by them).
EXAMPLE_LIMITS = {"cell_timeout": 30}  # the infinite-loop example costs one timeout


def grades_machinery(lab):
    """Whether every example of ``lab`` is graded in this run (else only EXECUTED_FOR_EVERY_LAB)."""
    return GRADE_EVERY_EXAMPLE or lab == MACHINERY_LAB


def on_disk(row_file):
    """The file a row is for: ``names-another.zip/full-marks.ipynb`` is a member of ``names-another.zip``."""
    return row_file.split("/")[0]


def examples_to_grade(course, lab):
    """{file: expected row} for the example submissions of ``lab`` that this run grades (:func:`grades_machinery`)."""
    expected = json.loads((course.examples_dir(lab) / "expected.json").read_text())
    if not grades_machinery(lab):
        expected = {name: row for name, row in expected.items() if Path(on_disk(name)).stem in EXECUTED_FOR_EVERY_LAB}
    return expected


def graded_examples_group(lab):
    """The mark that keeps the tests reading ``lab``'s graded examples in one pytest-xdist worker (`--dist
    loadgroup`, as scripts/test.sh runs), which grades them once."""
    return pytest.mark.xdist_group(f"graded-examples-{lab}")


def grading_options(lab):
    """grade_folder's keyword arguments for the examples of ``lab``: the same for every grading of them in a run."""
    return {"workers": 2, "limits": EXAMPLE_LIMITS, "progress": False, "skip_self_test": not grades_machinery(lab)}


# --- a grading output folder, made up ---------------------------------------------------------------------------

LAB = "lab1_rnns_from_scratch"
EVIL = "<script>alert(1)</script>"
STUB_HEAD = '''def clip_gradients(grads, max_norm):
    """Scales every gradient by max_norm / global_norm when the global norm is at least max_norm."""
'''
# One student's answer, a renamed copy of it with other comments, and two answers written independently.
ORIGINAL = (
    STUB_HEAD
    + """    total = tf.constant(0.0)
    for g in grads:
        if g is not None:
            total += tf.reduce_sum(g ** 2)
    norm = tf.sqrt(total)
    if norm >= max_norm and norm > 0:
        factor = max_norm / norm
    else:
        factor = 1.0
    clipped = []
    for g in grads:
        clipped.append(None if g is None else g * factor)
    return clipped, norm
"""
)
RENAMED_COPY = (
    STUB_HEAD
    + """    # </pre><script>alert(1)</script> sum the squares
    sq_sum = tf.constant(0.0)
    for grad in grads:
        if grad is not None:
            sq_sum += tf.reduce_sum(grad ** 2)
    gnorm = tf.sqrt(sq_sum)
    if gnorm >= max_norm and gnorm > 0:
        ratio = max_norm / gnorm
    else:
        ratio = 1.0
    out = []
    for grad in grads:
        out.append(None if grad is None else grad * ratio)
    return out, gnorm
"""
)
INDEPENDENT = [
    STUB_HEAD
    + """    norms = tf.stack([tf.norm(g) for g in grads if g is not None])
    global_norm = tf.norm(norms)
    ratio = tf.minimum(1.0, max_norm / (global_norm + 1e-12))
    return [g * ratio if g is not None else None for g in grads], global_norm
""",
    STUB_HEAD
    + """    flat = tf.concat([tf.reshape(g, [-1]) for g in grads if g is not None], axis=0)
    global_norm = tf.math.sqrt(tf.math.reduce_sum(flat * flat))
    if global_norm < max_norm or global_norm == 0:
        return list(grads), global_norm
    return [g if g is None else g * (max_norm / global_norm) for g in grads], global_norm
""",
]
EXTRA_CELL = "def helper_of_alice(x):\n    return [value * 2 for value in x if value is not None]\n"


def rebuilt(release, clip_gradients, extra=None):
    """The release notebook as the grader rebuilds it, with this answer to clip_gradients (and an extra cell after it)."""
    notebook = copy.deepcopy(release)
    for i, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "clip_gradients":
            cell.source = clip_gradients
            if extra:
                notebook.cells.insert(i + 1, nbformat.v4.new_code_cell(extra, metadata=copy.deepcopy(STUDENT_ORIGIN)))
            break
    return notebook


# The students of the fabricated folder: their answer to clip_gradients, test_recall_task's failure message (None:
# passed), the limits they hit and what the grader said about it, seconds to grade. gina has alice's answer, bob a
# renamed copy of it, erin carol's with one number changed; dave wrote his own.
STUDENTS = {
    "alice": (ORIGINAL, None, [], [], 30.0),
    "bob": (RENAMED_COPY, f"ValueError: {EVIL}", [], [], 35.5),
    "carol": (
        INDEPENDENT[0],
        f"ValueError: {EVIL}",
        ["timeout"],
        ["cell 28 ran past its time limit and was interrupted"],
        61.0,
    ),
    "dave": (
        INDEPENDENT[1],
        "AssertionError: shapes differ",
        ["memory", "output"],
        [
            "the kernel used more than the 4096 MB memory limit and was stopped, in cell 30",
            "cell 31 produced more output than the limits allow",
        ],
        44.0,
    ),
    "erin": (
        INDEPENDENT[0].replace("1e-12", "1e-9"),
        "NameError: name 'make_selective_recall' is not defined",
        [],
        [],
        38.0,
    ),
    "hank": (STUB_HEAD + "    raise NotImplementedError\n", "KeyError: 'the least common message'", [], [], 20.0),
    "gina": (ORIGINAL, None, [], [], 12.0),  # an environment problem
}
SANDBOX_GAPS = ["sandbox: kernels can send UDP packets"]  # said in every row


def make_grading_folder(course, out):
    """A folder as `course grade lab1` leaves it: grades.csv, results/ and autograded/ for STUDENTS, and two files not graded."""
    release = nbformat.read(course.lab_notebook(LAB), as_version=4)
    points = {grade_id_of(c): cells.points(c) for c in release.cells if cells.is_graded(c)}
    found = {grade_id_of(c): (Found.GRADE_ID, "grade_id") for c in release.cells if cells.is_answer(c)}
    folder = OutputFolder(out).make()
    rows = []
    for student, (answer, failure, hit, problems, seconds) in STUDENTS.items():
        tests = {gid: TestScore(p, p) for gid, p in points.items()}
        if failure:
            tests["test_recall_task"] = TestScore(0.0, points["test_recall_task"], failure)
        status = Status.ENVIRONMENT_PROBLEM if student == "gina" else Status.GRADED
        how = found | (
            {
                "clip_gradients": (
                    Found.SIMILARITY,
                    "position and similarity 0.82 (stub left in place, answer in the cell below)",
                ),
                "my_lstm_cell": (Found.MISSING, "missing"),
                "my_rnn_cell": (Found.CELL_ID, "cell id"),
            }
            if student == "erin"
            else {}
        )
        answers = [Answer(gid, kind, text) for gid, (kind, text) in how.items()]
        row = Row(
            f"{student}.ipynb",
            student,
            status,
            sum(t.score for t in tests.values()),
            sum(points.values()),
            tests=tests,
            answers=answers,
            notes=list(problems),
        )
        if student == "bob":
            row.notes.append(f"1 extra code cell(s) {EVIL}")
            row.flags = [f"cell 23: names '{EVIL}' (a path outside the working folder)"]
        if student == "gina":
            row.notes.append("instructor cell 3 (a cell the student cannot edit) failed: TweetDataError: no tweets")
        row.notes += SANDBOX_GAPS
        rows.append(row)
        result = GradeResult(
            student,
            status,
            tests,
            problems=problems,
            answers=answers,
            flags=row.flags,
            limits_hit=hit,
            total_seconds=seconds,
            execute_seconds=seconds - 1,
            sandbox_gaps=SANDBOX_GAPS,
        )
        save_result(folder.result(student), result, key={})
        notebook = rebuilt(release, answer, EXTRA_CELL if student == "alice" else None)
        nbformat.write(notebook, folder.autograded(student))
    rows.append(Row("erin_old.ipynb", "erin", Status.SUPERSEDED, reason="superseded by the newer file erin.ipynb"))
    rows.append(Row("frank.py", "frank", Status.NOT_GRADED, reason="a Python file, not a notebook: submit the .ipynb"))
    write_csv(folder.grades, rows, release)
    return rows


# --- headless Chromium, driven by Playwright (the system's Chromium: Playwright's own browsers are never needed) ---

CHROMIUM = next(
    (
        path
        for path in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
        if path and os.access(path, os.X_OK)
    ),
    None,
)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: apt-get install chromium")
PNG = "data:image/png;base64,iVBORw0KGgo"  # a PNG file's signature, in base64
# The sections of the grading report (autograde/reporting/templates/report.html.j2), as a reader sees their headings.
REPORT_SECTIONS = (
    "Summary",
    "Scores",
    "Tests",
    "Time per notebook",
    "Flagged, superseded and ungraded files",
    "How each answer cell was found",
    "Similar code",
)
LOAD_TIMEOUT_MS = 30_000
SETTLE_MS = 1_000  # after the load event, for late errors (a script that failed to load, a timer)
# What the page shows once loaded: its text, its images as the browser decoded them, MathJax's output.
PAGE_STATE = """() => ({
    text: document.body.innerText,
    images: Array.from(document.images).map(i => ({src: (i.getAttribute("src") || "").slice(0, 40), complete: i.complete, width: i.naturalWidth})),
    mathjax: document.querySelectorAll(".MathJax, .MathJax_CHTML, mjx-container").length,
})"""


@dataclasses.dataclass
class PageVisit:
    """What happened while Chromium opened a file, and what the page then showed."""

    exceptions: list = dataclasses.field(default_factory=list)  # uncaught JavaScript errors ("$ is not defined")
    # (text, url) of console messages of level error: the page's console.error calls and the browser's own reports
    # ("Failed to load resource", at the url of what failed)
    console_errors: list = dataclasses.field(default_factory=list)
    requests: list = dataclasses.field(default_factory=list)
    failed_requests: dict = dataclasses.field(default_factory=dict)  # {url: why}
    dialogs: list = dataclasses.field(default_factory=list)  # alert(), confirm()... messages, each accepted
    state: dict = dataclasses.field(default_factory=dict)  # PAGE_STATE


def open_in_chromium(path):
    """Opens ``path`` in headless Chromium; returns a :class:`PageVisit`."""
    from playwright.sync_api import sync_playwright  # here: every test imports this module, few open a browser

    visit = PageVisit()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: visit.exceptions.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    visit.console_errors.append((message.text, message.location["url"]))
                    if message.type in ("error", "assert")
                    else None
                ),
            )
            page.on("request", lambda request: visit.requests.append(request.url))
            page.on("requestfailed", lambda request: visit.failed_requests.update({request.url: request.failure}))
            page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.accept()))
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_timeout(SETTLE_MS)
            visit.state = page.evaluate(PAGE_STATE)
        finally:
            browser.close()
    return visit


# --- kernels as the grader starts them ----------------------------------------------------------------------------


def fork_provisioned_client(notebook, fork=True, **kwargs):
    """nbclient's client for ``notebook`` whose kernel ForkProvisioner starts, as the grader's are: forked from the
    preloaded server, or the usual way with ``fork=False``. ``kwargs`` go to NotebookClient."""
    from nbclient import NotebookClient

    from autograde.isolation.forked_kernels import use_fork_provisioner

    class ForkProvisionedClient(NotebookClient):
        def create_kernel_manager(self):
            return use_fork_provisioner(super().create_kernel_manager(), fork=fork)

    return ForkProvisionedClient(notebook, **kwargs)
