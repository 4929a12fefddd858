"""`course grade`'s orchestration with the kernels mocked: self-test, cache keys, rows for every failure (milliseconds)."""

import copy
import json
import logging
import os
import shutil

import nbformat
import pytest
from helpers import ROOT

from autograde.course import Course, OutputFolder
from autograde.grading import folder as grading, worker
from autograde.grading.folder import SelfTestFailed, grade_folder
from autograde.grading.rebuild import prepare_bounded
from autograde.grading.rows import CellError, GradeResult, Status, TestScore, load_result

LAB = "lab1_rnns_from_scratch"
EXAMPLES = Course.load(ROOT).example_submissions(LAB)
MAX = 24.0
TESTS = (
    "test_rnn_cell_weights",
    "test_rnn_cell_matches_simple_rnn",
    "test_rnn_model",
    "test_rnn_step_backward",
    "test_rnn_backward",
    "test_jacobian_norms",
    "test_predict_tanh_rho2",
    "test_answer_smallest_rho",
    "test_clip_gradients",
    "test_predict_clip_direction",
    "test_lstm_cell",
    "test_peephole_lstm_cell",
    "test_answer_lstm_parameters",
    "test_predict_recall_length_40",
    "test_recall_task",
)
POINTS = dict(zip(TESTS, (1, 1, 1, 3, 3, 2, 1, 2, 2, 1, 2, 1, 2, 1, 1)))


def result(student, failing=(), instructor_errors=()):
    tests = {
        t: TestScore(0.0 if t in failing else float(p), float(p), "ValueError: no" if t in failing else None)
        for t, p in POINTS.items()
    }
    return GradeResult(
        student,
        Status.GRADED,
        tests,
        instructor_cell_errors=[CellError(c, e.split(":")[0], e) for c, e in instructor_errors],
    )


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("full-marks.ipynb", "partial.ipynb", "untouched.ipynb"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


@pytest.fixture
def fake_run(monkeypatch, tmp_path):
    """Replaces the kernels: every job gets the result `answers` gives for its student id."""
    calls, answers = [], {}

    release = nbformat.read(Course.load(ROOT).lab_notebook(LAB), as_version=4)

    def run(jobs, workers, dask_scheduler, progress):
        for job in jobs:
            calls.append(job[2]["student_id"])
            prepared = prepare_bounded(
                release, nbformat.reads(job[2]["submission"], as_version=4)
            )  # as the worker does
            graded = copy.deepcopy(answers.get(job[2]["student_id"]) or result(job[2]["student_id"]))
            graded.answers, graded.prepare_notes, graded.flags = prepared.answers, prepared.notes, prepared.flags
            yield job, graded

    monkeypatch.setattr(grading, "_run", run)
    monkeypatch.setattr(grading, "cache_folder", lambda: tmp_path)
    monkeypatch.setattr(grading, "record_in_gradebook", lambda *args: None)
    return calls, answers


def test_a_failing_reference_stops_grading_before_anyone_and_says_why(course, submissions, tmp_path, fake_run, caplog):
    calls, answers = fake_run
    answers["reference-solution"] = result(
        "reference-solution", failing=TESTS[3:], instructor_errors=[(16, "TweetDataError: no tweets. Set TWEETS_DIR")]
    )
    with pytest.raises(SelfTestFailed) as failure:
        grade_folder(course, LAB, submissions, tmp_path / "out", progress=False)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING][-1] == str(failure.value)
    assert calls == ["reference-solution"], "no student was graded"
    message = str(failure.value)
    assert "3/24" in message and "test_jacobian_norms: ValueError: no" in message and "instructor cell 16" in message
    assert (
        "Likely cause: missing data: the kernel could not load Lab 3's tweets" in message
        and "set TWEETS_DIR" in message
    )
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_skip_self_test_grades_anyway(course, submissions, tmp_path, fake_run):
    calls, answers = fake_run
    answers["reference-solution"] = result("reference-solution", failing=TESTS)
    rows = grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    assert "reference-solution" not in calls and len(rows) == 3


def test_a_passing_self_test_is_cached_per_grader_version_limits_and_budget(
    course, submissions, tmp_path, fake_run, caplog
):
    calls, _ = fake_run
    caplog.set_level(logging.INFO, logger=grading.__name__)
    grade_folder(course, LAB, submissions, tmp_path / "a", progress=False)
    grade_folder(course, LAB, submissions, tmp_path / "b", progress=False)
    assert calls.count("reference-solution") == 1 and caplog.messages[-1].endswith("(cached)")
    assert caplog.records[-1].levelno == logging.INFO
    grade_folder(course, LAB, submissions, tmp_path / "c", progress=False, limits={"cell_timeout": 99})
    grade_folder(course, LAB, submissions, tmp_path / "d", progress=False, budget="full")
    assert calls.count("reference-solution") == 3


def test_course_self_test_grades_only_the_reference(fake_run, capsys):
    from autograde.cli import main

    calls, _ = fake_run
    assert main(["--root", str(ROOT), "self-test", "lab1"]) == 0
    assert calls == ["reference-solution"]
    assert "scored 24/24" in capsys.readouterr().out


def test_course_self_test_fails_when_a_cell_raises_despite_full_marks(fake_run, capsys):
    from autograde.cli import main

    _, answers = fake_run
    answers["reference-solution"] = result(
        "reference-solution", instructor_errors=[(57, "AssertionError: an untracked resource")]
    )
    assert main(["--root", str(ROOT), "self-test", "lab1"]) == 1
    out = capsys.readouterr().out
    assert "scored 24/24" in out and "instructor cell 57: AssertionError: an untracked resource" in out


def test_environment_faults_in_instructor_cells_are_said_in_the_row(course, submissions, tmp_path, fake_run):
    _, answers = fake_run
    answers["partial"] = result(
        "partial", failing=TESTS[3:], instructor_errors=[(30, "CellTimeoutError: the cell ran past its time limit")]
    )
    rows = {
        r.student_id: r
        for r in grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    }
    assert rows["partial"].status == "environment problem"
    assert any("instructor cell 30" in n and "environment problem" in n for n in rows["partial"].notes)
    assert rows["full-marks"].status == "graded"


def test_an_error_while_handling_one_file_becomes_its_row(course, submissions, tmp_path, fake_run, monkeypatch):
    release = nbformat.read(course.lab_notebook(LAB), as_version=4)
    real_from_dict = grading.nbformat.from_dict

    def from_dict(notebook):
        cells = notebook.get("cells", [])
        if len(cells) == len(release.cells) and all(c["source"] == r.source for c, r in zip(cells, release.cells)):
            raise RuntimeError("boom")  # the untouched notebook
        return real_from_dict(notebook)

    monkeypatch.setattr(grading.nbformat, "from_dict", from_dict)
    rows = {
        r.student_id: r
        for r in grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    }
    assert rows["untouched"].status == "grader error" and "RuntimeError: boom" in rows["untouched"].notes[-1]
    assert rows["full-marks"].status == rows["partial"].status == "graded"
    assert "untouched.ipynb,untouched,grader error" in (tmp_path / "out" / "grades.csv").read_text()


def test_grade_one_turns_any_exception_into_a_result(monkeypatch):
    monkeypatch.setattr(worker, "_grade", lambda job: 1 / 0)
    answer = worker.grade_one({"student_id": "s1"})
    assert answer.status == Status.GRADER_ERROR and "ZeroDivisionError" in answer.problems[0]


@pytest.fixture
def course_copy(tmp_path):
    root = tmp_path / "course"
    for part in ("autograde", "course_utils", "solutions", "labs"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "examples"))
    shutil.copy(ROOT / "pyproject.toml", root)
    return Course.load(root)


@pytest.mark.parametrize(
    "changed",
    [
        "course_utils/checks/lab1.py",
        "course_utils/checks/delegation.py",
        "autograde/grading/guarded_execute.py",
        "autograde/grading/references/lab1.py",
        "autograde/grading/judge.py",
        "labs/lab1_rnns_from_scratch/lab1_rnns_from_scratch.ipynb",
        "solutions/lab1_rnns_from_scratch/lab1_rnns_from_scratch.ipynb",
        "autograde/isolation/sandbox.py",
        "autograde/cells.py",
    ],
)
def test_the_grader_version_covers_everything_that_can_change_a_score(course_copy, changed):
    before = worker.grader_version(course_copy, LAB)
    path = course_copy.root / changed
    path.write_text(path.read_text() + "\n")
    assert worker.grader_version(course_copy, LAB) != before


@pytest.mark.slow  # builds a grader template for a changed course
def test_a_fixed_check_regrades_instead_of_reusing_stale_results(course_copy, submissions, tmp_path, fake_run):
    calls, _ = fake_run
    grade_folder(course_copy, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    grade_folder(course_copy, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    assert len(calls) == 3, "an unchanged rerun reuses the results"
    checks = course_copy.root / "course_utils" / "checks" / "lab1.py"
    checks.write_text(checks.read_text() + "\n# fixed\n")
    grade_folder(course_copy, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    assert len(calls) == 6


def test_a_worker_whose_course_differs_refuses_the_job(course_copy):
    job = {
        "course_root": str(course_copy.root),
        "lab": LAB,
        "student_id": "s1",
        "grader_version": "0" * 16,
        "submission": "{}",
    }
    answer = worker.grade_one(job)
    assert answer.status == Status.GRADER_ERROR and "differ from the instructor's" in answer.problems[0]


def test_the_csv_has_a_flags_column(course, submissions, tmp_path, fake_run):
    hostile = EXAMPLES / "switched-off-checks.ipynb"
    shutil.copy(hostile, submissions / hostile.name)
    grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    lines = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert "flags" in header
    flagged = next(line for line in lines if line.startswith("switched-off-checks"))
    assert "setattr" in flagged or "sys.modules" in flagged
    assert json.dumps(lines)  # every row is there
    assert len(lines) == 5


def test_a_file_name_cannot_become_a_spreadsheet_formula(course, submissions, tmp_path, fake_run):
    shutil.copy(EXAMPLES / "full-marks.ipynb", submissions / '=HYPERLINK("http:__evil.example","click") x.ipynb')
    grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    text = (tmp_path / "out" / "grades.csv").read_text()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_a_result_is_cached_as_readable_json_and_an_older_graders_file_is_regraded(
    course, submissions, tmp_path, fake_run
):
    calls, _ = fake_run
    graded = result("x", failing=TESTS[:2], instructor_errors=[(3, "KernelDied: gone")])
    assert GradeResult.from_json(json.loads(json.dumps(graded.to_json()))) == graded
    grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    path = OutputFolder(tmp_path / "out").result("partial")
    data = json.loads(path.read_text())
    assert (
        data["format"] == GradeResult.FORMAT
        and data["status"] == "graded"
        and data["tests"]["test_rnn_step_backward"]["score"] == 3.0
    )
    assert load_result(path).answers[0].found == "grade_id"
    del data["format"]  # as an older grader wrote it, under the same key
    path.write_text(json.dumps(data))
    grade_folder(course, LAB, submissions, tmp_path / "out", progress=False, skip_self_test=True)
    assert calls.count("partial") == 2 and calls.count("full-marks") == 1
    assert json.loads(path.read_text())["format"] == GradeResult.FORMAT


def test_relative_folders_survive_the_working_folder_changing_while_pages_are_made(
    course, submissions, tmp_path, fake_run, monkeypatch
):
    # nbgrader changes the process's working folder while it makes a feedback page, in a thread beside the recording:
    # `course grade lab1 in --out grading/lab1` lost rows to FileNotFoundError when its folders stayed relative.
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def page_made_elsewhere(course, lab, student, folder):
        os.chdir(elsewhere)  # and left there: what a page made at the wrong moment looks like to the recording
        return f"<p>feedback of {student}</p>"

    monkeypatch.setattr(grading, "render_feedback", page_made_elsewhere)
    calls, answers = fake_run
    for student in ("full-marks", "partial", "untouched"):
        answers[student] = result(student)
        answers[student].feedback_folder = str(tmp_path / f"left-by-{student}")
    rows = grade_folder(course, LAB, "in", "out", skip_self_test=True, progress=False)
    assert [row.status for row in rows] == [Status.GRADED] * 3, [row.notes for row in rows]
    assert sorted(path.name for path in (tmp_path / "out" / "feedback").iterdir()) == [
        "full-marks.html",
        "partial.html",
        "untouched.html",
    ]
