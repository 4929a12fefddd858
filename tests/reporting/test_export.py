"""`course export`: the gradebook's scores in Canvas's, Moodle's and a plain CSV layout (a second or two).

The lab and its test cells are added to the gradebook with nbgrader's Gradebook API (what `course grade`'s
template gets from nbgrader generate_assignment, without its seconds), then the scores are written the way
`course grade` writes them (autograde.grading.folder.record_in_gradebook), from rows made up here: no kernel runs.
"""

import csv
import io
import shutil

import nbformat
import pytest

from autograde.cli import main
from autograde.course import GRADEBOOK, CourseError, sqlite_url
from autograde.grading.folder import record_in_gradebook
from autograde.grading.rows import Row, Status, TestScore
from autograde.reporting.export import export_grades, read_roster, read_scores

LAB = "lab1_rnns_from_scratch"
MAX = 24.0  # Lab 1: 17 points of exercises, 4 of reasoning questions and 3 of predictions
# Graded: ann (full marks), ben (first test failed), zoe (not in the roster). In the roster without a submission: cat.
ROSTER = """student_id,name,email,lms_id,sis_user_id,login_id,section,file
ann,"Lee, Ann",ann@uni.edu,101,S-1,alee,Sec A,ann_lab1.ipynb
ben,"Ng, Ben",ben@uni.edu,102,S-2,bng,Sec B,ben_lab1.ipynb
cat,"Cox, Cat",cat@uni.edu,103,S-3,ccox,Sec A,cat_lab1.ipynb
"""


def points_of(course):
    release = nbformat.read(course.lab_notebook(LAB), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
        for c in release.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """An output folder as `course grade` leaves it (gradebook only), and the roster."""
    from nbgrader.api import Gradebook

    out = tmp_path_factory.mktemp("grading")
    url = sqlite_url(out / GRADEBOOK)
    points = points_of(course)
    with Gradebook(url) as gb:
        gb.add_assignment(LAB)
        gb.add_notebook(LAB, LAB)
        for grade_id, max_score in points.items():
            gb.add_grade_cell(grade_id, LAB, LAB, max_score=max_score, cell_type="code")
    first = next(iter(points))
    rows = [
        Row(
            f"{student}_lab1.ipynb",
            student,
            Status.GRADED,
            tests={t: TestScore(0.0 if t in failed else p, p) for t, p in points.items()},
        )
        for student, failed in (("ann", ()), ("ben", (first,)), ("zoe", ()))
    ]
    record_in_gradebook(course, LAB, url, rows)
    (out / "roster.csv").write_text(ROSTER)
    return out


@pytest.fixture
def gradebook(graded, tmp_path):
    """A private copy of the gradebook, its URL and the roster, for a test that changes or exports it."""
    shutil.copy(graded / "gradebook.db", tmp_path / "gradebook.db")
    return sqlite_url(tmp_path / GRADEBOOK), read_roster(graded / "roster.csv")


def rows_of(path):
    return list(csv.reader(io.StringIO(path.read_text())))


def test_scores_are_read_from_the_gradebook(course, gradebook, tmp_path):
    from nbgrader.api import Gradebook

    url, _ = gradebook
    ben_max = MAX - points_of(course)[next(iter(points_of(course)))]
    assert read_scores(url, LAB) == ({"ann": MAX, "ben": ben_max, "zoe": MAX}, MAX)
    with Gradebook(url) as gb:  # a score changed in nbgrader (formgrader) is what gets exported
        grade = gb.find_submission_notebook(LAB, LAB, "ben").grades[0]
        grade.manual_score = grade.max_score
        gb.db.commit()
    assert read_scores(url, LAB)[0]["ben"] == MAX


def test_canvas_layout(gradebook, tmp_path):
    url, roster = gradebook
    result = export_grades(url, LAB, "canvas", tmp_path / "canvas.csv", roster, assignment="Lab 1 (4242)")
    assert rows_of(tmp_path / "canvas.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 1 (4242)"],
        ["Points Possible", "", "", "", "", "24"],
        ["Lee, Ann", "101", "S-1", "alee", "Sec A", "24"],
        ["Ng, Ben", "102", "S-2", "bng", "Sec B", "23"],
        ["zoe", "", "", "", "", "24"],  # not in the roster: Canvas's import preview lists her as unknown
    ]
    assert (result.not_in_roster, result.no_submission, result.rows) == (["zoe"], ["cat"], 3)
    summary = result.summary()
    assert (
        "not in the roster" in summary and "zoe" in summary and "without a submission" in summary and "cat" in summary
    )


def test_moodle_layout_names_the_identifier_to_map(gradebook, tmp_path):
    url, roster = gradebook
    result = export_grades(url, LAB, "moodle", tmp_path / "moodle.csv", roster)
    assert rows_of(tmp_path / "moodle.csv") == [
        ["Name", "ID number", "Username", "Email address", LAB],
        ["Lee, Ann", "S-1", "alee", "ann@uni.edu", "24"],
        ["Ng, Ben", "S-2", "bng", "ben@uni.edu", "23"],
    ]  # zoe has no Moodle account to name: listed, not written (Moodle stops at an unknown user)
    assert result.not_in_roster == ["zoe"] and "zoe" in result.summary()
    assert '"Email address" to "useremail"' in result.how_to_import

    roster["ben"].email = ""  # then the ID number is the column every row fills in
    result = export_grades(url, LAB, "moodle", tmp_path / "moodle.csv", roster)
    assert '"ID number" to "useridnumber"' in result.how_to_import
    roster["ben"].sis_user_id = roster["ben"].login_id = ""
    with pytest.raises(CourseError, match="email for ben; sis_user_id for ben; login_id for ben"):
        export_grades(url, LAB, "moodle", tmp_path / "moodle.csv", roster)


def test_plain_csv_with_and_without_a_roster(gradebook, tmp_path):
    url, roster = gradebook
    result = export_grades(url, LAB, "csv", tmp_path / "plain.csv")
    assert rows_of(tmp_path / "plain.csv") == [
        ["student_id", "score", "max_score"],
        ["ann", "24", "24"],
        ["ben", "23", "24"],
        ["zoe", "24", "24"],
    ]
    assert result.not_in_roster == result.no_submission == []
    export_grades(url, LAB, "csv", tmp_path / "plain.csv", roster)
    assert rows_of(tmp_path / "plain.csv")[1:] == [
        ["ann", "24", "24"],
        ["ben", "23", "24"],
        ["zoe", "24", "24"],
        ["cat", "", "24"],
    ]


def test_a_student_canvas_cannot_identify_is_refused(gradebook, tmp_path):
    url, roster = gradebook
    roster["ann"].name = roster["ann"].lms_id = roster["ann"].sis_user_id = roster["ann"].login_id = ""
    with pytest.raises(CourseError, match="Canvas cannot find these students.*ann"):
        export_grades(url, LAB, "canvas", tmp_path / "canvas.csv", roster)


def test_rosters_that_cannot_be_used_say_why(tmp_path):
    (tmp_path / "a.csv").write_text("file,name\nx.ipynb,X\n")
    with pytest.raises(CourseError, match="needs a student_id column"):
        read_roster(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("student_id,email\nann,a@x\nann,b@x\n")
    with pytest.raises(CourseError, match="line 3: a second, different row for student ann"):
        read_roster(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_bytes(
        "\ufeffstudent_id,email\nann,a@x\nann,a@x\n".encode()
    )  # Excel's BOM; a repeated row
    assert list(read_roster(tmp_path / "c.csv")) == ["ann"]


def test_export_command(course, graded, tmp_path, capsys):
    root = ["--root", str(course.root)]
    dest = tmp_path / "canvas.csv"
    assert (
        main(
            [
                *root,
                "export",
                "lab1",
                "--out",
                str(graded),
                "--format",
                "canvas",
                "--ids",
                str(graded / "roster.csv"),
                "--dest",
                str(dest),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"wrote 3 student rows (canvas) to {dest}" in printed and "zoe" in printed and "cat" in printed
    assert rows_of(dest)[0][-1] == LAB

    assert main([*root, "export", "lab1", "--out", str(tmp_path / "nothing")]) == 2
    assert "run `course grade lab1_rnns_from_scratch FOLDER` first" in capsys.readouterr().err
    assert main([*root, "export", "lab1", "--out", str(graded), "--format", "moodle"]) == 2
    assert "needs --ids ROSTER.csv" in capsys.readouterr().err


def test_nbgrader_export_reads_the_gradebook_the_grader_writes(gradebook, tmp_path, monkeypatch):
    from nbgrader.apps import ExportApp

    url, _ = gradebook
    monkeypatch.chdir(tmp_path)  # no nbgrader_config.py from the working folder
    app = ExportApp()
    app.initialize(["--db", url, "--to", str(tmp_path / "nbgrader.csv"), "--log-level", "ERROR"])
    app.start()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "nbgrader.csv").read_text())))
    assert {(r["assignment"], r["student_id"], float(r["score"]), float(r["max_score"])) for r in rows} == {
        (LAB, "ann", MAX, MAX),
        (LAB, "ben", 23.0, MAX),
        (LAB, "zoe", MAX, MAX),
    }
