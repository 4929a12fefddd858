"""`course grade` on every lab's example submissions: exact scores, every file a row, no leaks, repeatable."""

import csv
import html
import io
import json
import re
import sqlite3
from pathlib import Path

import nbformat
import pytest
from helpers import (
    EXECUTED_FOR_EVERY_LAB,
    MACHINERY_LAB,
    PNG,
    REPORT_SECTIONS,
    ROOT,
    graded_examples_group,
    grades_machinery,
    grading_options,
    needs_chromium,
    on_disk,
    open_in_chromium,
)

from autograde.authoring.examples import LAB_SPECIFIC, STUB_ATTACKS
from autograde.cells import grade_id_of
from autograde.course import Course
from autograde.grading.folder import grade_folder
from autograde.grading.rows import Found

LABS = Course.load(ROOT).labs()
pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module", params=[pytest.param(lab, marks=graded_examples_group(lab)) for lab in LABS])
def graded(request, graded_examples):
    """(lab, submissions folder, {file: expected row}, grading folder, rows) for the examples this run grades
    (helpers.examples_to_grade)."""
    return graded_examples(request.param)


def machinery_examples(lab, rows):
    """The rows by file, or a skip where this lab's grading machinery examples were not graded (see MACHINERY_LAB)."""
    if not grades_machinery(lab):
        pytest.skip(
            f"the grading machinery's examples are graded for {MACHINERY_LAB}; GRADE_EVERY_EXAMPLE=1 grades every lab's"
        )
    return {r.file: r for r in rows}


def test_every_lab_has_examples(course):
    for lab in course.labs():
        examples = course.examples_dir(lab)
        assert (examples / "expected.json").is_file(), f"run `course make-examples {lab}`"
        expected = json.loads((examples / "expected.json").read_text())
        assert sorted({on_disk(name) for name in expected}) == sorted(
            p.name for p in (examples / "submissions").iterdir()
        )
        assert set(LAB_SPECIFIC) < {Path(on_disk(name)).stem for name in expected}
    assert set(EXECUTED_FOR_EVERY_LAB) < set(LAB_SPECIFIC)


def test_exact_scores_and_a_row_for_every_file(graded):
    *_, expected, _, rows = graded
    assert sorted(r.file for r in rows) == sorted(expected)
    for row in rows:
        want = expected[row.file]
        assert row.student_id == want["student_id"]
        assert (row.status == "graded") == (want["status"] == "graded"), (row.file, row.status, row.notes)
        assert (row.score, row.max_score) == (want["score"], want["max_score"]), (row.file, row.tests, row.notes)
        assert bool(row.flags) == want["flagged"], (row.file, row.flags)


def printed(notebook_path):
    """Everything the code cells of a graded notebook printed."""
    notebook = json.loads(notebook_path.read_text())
    return "".join(
        "".join(output.get("text", []))
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    )


def test_what_happened_is_said_in_the_row(graded):
    lab, *_, out, rows = graded
    by_name = {r.file: r for r in rows}
    assert all(a.how == "grade_id" for a in by_name["full-marks.ipynb"].answers)
    honest = ["full-marks.ipynb", "partial.ipynb"]
    if grades_machinery(lab):  # else these are rebuilt, not graded: test_answers_are_found_wherever_they_sit
        assert any(a.found == Found.SIMILARITY for a in by_name["stripped-metadata.ipynb"].answers)
        assert any("extra code cell" in n for n in by_name["rearranged.ipynb"].notes)
        assert all("stub left in place" in a.how for a in by_name["answer-below-stub.ipynb"].answers)
        assert all("the last of 2 copies" in a.how for a in by_name["copied-answer-cell.ipynb"].answers)
        honest += ["stripped-metadata.ipynb", "rearranged.ipynb", "answer-below-stub.ipynb"]
    for name in honest:
        assert not [n for n in by_name[name].notes if "grading machinery" in n], (name, by_name[name].notes)
        assert not by_name[name].flags, (name, by_name[name].flags)
    # The student lab as released: it has tests, and every one of them fails until the exercises are done.
    untouched = by_name["untouched.ipynb"]
    assert untouched.tests and [grade_id for grade_id, test in untouched.tests.items() if test.score] == []
    # Nor does any visible check pass on a stub (its hidden tests, in the same cell, would hide that from the score).
    assert "\u2714" not in printed(out / "autograded" / "untouched.ipynb")
    assert "\u2714" in printed(out / "autograded" / "full-marks.ipynb")


def test_the_full_marks_example_runs_clean(graded):
    """Every lab's solution, run under LAB_BUDGET=smoke: the full-marks example is the solution's answers in the
    released notebook (test_build_labs.py keeps it so), and its grading runs every cell. No cell
    raised, and no cell the student cannot edit failed."""
    *_, out, rows = graded
    row = {r.file: r for r in rows}["full-marks.ipynb"]
    assert row.status == "graded" and row.score == row.max_score, (row.tests, row.notes)
    assert not [note for note in row.notes if "instructor cell" in note], row.notes
    notebook = json.loads((out / "autograded" / "full-marks.ipynb").read_text())
    raised = [
        (index, output["ename"], output["evalue"])
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert raised == []


@pytest.mark.parametrize("lab", LABS)
def test_answers_are_found_wherever_they_sit(course, lab):
    """The examples that hold full-marks' answers elsewhere (another cell below the stub, a second copy, among extra
    cells, without metadata), rebuilt for every lab, no kernel: each answer runs in its answer cell or in the student's
    cells right after it, before any instructor cell, and the row says how it was found. Executing them is the same
    machinery for every lab: MACHINERY_LAB's grading does it (helpers.EXECUTED_FOR_EVERY_LAB)."""
    from autograde.cells import is_answer, is_students_extra
    from autograde.grading.rebuild import prepare_bounded

    release = nbformat.read(course.lab_notebook(lab), as_version=4)

    def prepared(name):
        return prepare_bounded(release, nbformat.read(course.example_submissions(lab) / f"{name}.ipynb", as_version=4))

    def code_run_for_each_answer(notebook):
        """grade_id -> the code of its answer cell and of the student's cells that follow it."""
        code, current = {}, None
        for cell in notebook.cells:
            if is_answer(cell):
                current = grade_id_of(cell)
                code[current] = cell.source
            elif current and is_students_extra(cell):
                code[current] += "\n" + cell.source
            elif cell.cell_type == "code":
                current = None
        return code

    expected = json.loads((course.examples_dir(lab) / "expected.json").read_text())
    full_marks = code_run_for_each_answer(prepared("full-marks").notebook)
    assert full_marks and all(a.how == "grade_id" for a in prepared("full-marks").answers)
    for name in ("stripped-metadata", *(name for name in LAB_SPECIFIC if name not in EXECUTED_FOR_EVERY_LAB)):
        assert expected[f"{name}.ipynb"]["score"] == expected["full-marks.ipynb"]["score"], name
        found = prepared(name)
        runs = code_run_for_each_answer(found.notebook)
        assert [grade_id for grade_id, answer in full_marks.items() if answer not in runs[grade_id]] == [], name
        assert not found.flags, (name, found.flags)
    assert any(a.found == Found.SIMILARITY for a in prepared("stripped-metadata").answers)
    assert any("extra code cell" in n for n in prepared("rearranged").notes)
    assert all("stub left in place" in a.how for a in prepared("answer-below-stub").answers)
    assert all("the last of 2 copies" in a.how for a in prepared("copied-answer-cell").answers)


def test_what_the_grading_machinery_did_is_said_in_the_row(graded):
    lab, *_, rows = graded
    by_name = machinery_examples(lab, rows)
    assert any("edited test cells were replaced" in n for n in by_name["tampered-tests.ipynb"].notes)
    assert any("time limit" in n for n in by_name["infinite-loop.ipynb"].notes)
    assert "submit the .ipynb" in by_name["not-a-notebook.py"].reason
    assert any(n.startswith("repaired:") for n in by_name["schema-broken.ipynb"].notes)
    # Intake: a zip counts for its owner alone, an oversized one gets one row, a huge notebook is graded in its budget.
    assert by_name["full-marks.ipynb"].score == by_name["full-marks.ipynb"].max_score
    assert any("counts only for names-another" in n for n in by_name["names-another.zip/full-marks.ipynb"].notes)
    assert by_name["many-members.zip"].reason.startswith("archive has 2,000 members")
    assert any("produced more output than the limits allow" in n for n in by_name["huge-result.ipynb"].notes)
    # Attacks on checks run in the kernel, with stub answers: every test fails, as it does for the untouched lab.
    for attack in STUB_ATTACKS:
        row = by_name[f"{attack}.ipynb"]
        assert row.status == "graded" and not [t for t, test in row.tests.items() if test.score], (attack, row.tests)
        assert row.flags, attack


def test_student_code_cannot_plant_files_for_later_students(course, graded):
    from autograde.grading.worker import cache_folder

    lab, *_, out, rows = graded
    machinery_examples(lab, rows)
    planted = [*course.root.rglob("planted_by_a_student.py"), *cache_folder().rglob("planted_by_a_student.py")]
    assert planted == []
    notebook = json.loads((out / "autograded" / "plants-files.ipynb").read_text())
    said = "".join(o.get("text", "") for o in notebook["cells"][-1]["outputs"])
    assert "could not plant in" in said and "planted in" not in said.replace("could not plant in", "")


def test_gradebook_holds_the_scores(graded):
    *_, out, rows = graded
    with sqlite3.connect(out / "gradebook.db") as db:
        totals = dict(
            db.execute(
                "SELECT student.id, SUM(grade.auto_score) FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id"
            )
        )
    for row in rows:
        if row.status == "graded":
            assert totals[row.student_id] == pytest.approx(row.score)


def hidden_text(course, lab):
    """Lines no student may see: the hidden regions of the solution's test cells, and the private references."""
    from autograde.cells import is_test

    solution = nbformat.read(course.solution_notebook(lab), as_version=4)
    references = course.references_file(lab).read_text()
    # The references' own lines: not those a student's answer holds too (a reference model is built as the answer is).
    answers = "\n".join(cell.source for cell in solution.cells)
    lines = {
        line.strip()
        for line in references.splitlines()
        if len(line.strip()) >= 40
        and not line.strip().startswith(("#", "import", "from"))
        and line.strip() not in answers
    }
    for cell in solution.cells:
        if is_test(cell) and "### BEGIN HIDDEN TESTS" in cell.source:
            region = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
            lines |= {line.strip() for line in region.splitlines() if line.strip()}
    return lines


def test_feedback_never_shows_hidden_tests(course, graded):
    lab, _, expected, out, rows = graded
    hidden = hidden_text(course, lab)
    assert len(hidden) > 20  # guards the scan
    feedback = sorted((out / "feedback").glob("*.html"))
    assert len(feedback) == sum(r.status == "graded" for r in rows)
    for path in feedback:
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
        plain = text.replace("\u200b", "")  # a zero-width space between letters hides nothing
        assert "BEGIN HIDDEN TESTS" not in plain, path
        assert not [line for line in hidden if line in plain], path
    partial = html.unescape(re.sub(r"<[^>]+>", "", (out / "feedback" / "partial.html").read_text()))
    assert "\u2718 " in partial and " failed: " in partial and "\u2714 " in partial


@needs_chromium
def test_report_and_similarity_pages_open_in_chromium(course, graded):
    """`course report` and `course similarity` on the graded examples (issue #12): every section, then no browser errors."""
    from autograde.reporting import report, similarity

    lab, _, expected, out, rows = graded
    pairs, compared = similarity.find_pairs(course, lab, out)  # as `course similarity` calls them
    assert compared == sum(r.status in ("graded", "environment problem") for r in rows)
    # The same solution twice (graded together where the machinery's examples are: helpers.EXECUTED_FOR_EVERY_LAB).
    twice = grades_machinery(lab)
    if twice:
        assert ("full-marks", "stripped-metadata") in {(p.a, p.b) for p in pairs}, "the same solution twice is listed"
    assert f"{compared} submissions compared" in similarity.text_table(pairs, compared)
    side_by_side = similarity.write_html(out / "similarity.html", pairs, lab, compared).read_text()
    page_path = report.write_report(course, lab, out)
    assert (out / "similarity.html").read_text() == side_by_side, "`course report` writes the same side-by-side page"

    page = open_in_chromium(page_path)
    assert page.exceptions == [] and page.console_errors == [] and page.failed_requests == {} and page.dialogs == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    images = page.state["images"]
    assert len(images) == 3 and all(i["src"].startswith(PNG) and i["complete"] and i["width"] > 100 for i in images), (
        images
    )
    assert re.search(r'<img class="plot" alt="Histogram of scores" src="data:image/png;base64,', page_path.read_text())
    text = page.state["text"]
    for heading in REPORT_SECTIONS:
        assert f"\n{heading}\n" in text, heading
    assert f"Files\t{len(expected)}\n" in text and f"Graded\t{sum(r.status == 'graded' for r in rows)}\n" in text
    graded_rows = [r for r in rows if r.status == "graded"]
    release = json.loads(course.lab_notebook(lab).read_text())
    tests = {
        c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"].get("points", 0)
        for c in release["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
    }
    assert tests
    for grade_id, points in tests.items():
        passed = sum(r.tests[grade_id].score >= points for r in graded_rows)
        assert f"\n{grade_id}\t{points:g}\t{passed} / {len(graded_rows)}\t" in text, grade_id
    review = text.split("\nFlagged, superseded and ungraded files\n")[1].split("\nHow each answer cell was found\n")[0]
    for name, want in expected.items():
        if want["flagged"] or want["status"] != "graded":
            assert name in review, name
    assert f"{compared} submissions compared" in text
    assert not twice or "full-marks\tstripped-metadata\t" in text

    page = open_in_chromium(out / "similarity.html")
    assert page.exceptions == [] and page.console_errors == [] and page.failed_requests == {} and page.dialogs == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    assert f"{compared} submissions compared" in page.state["text"]
    assert not twice or "\nfull-marks and stripped-metadata\n" in page.state["text"]


def test_a_second_run_gives_the_same_csv_without_regrading(course, graded):
    lab, submissions, _, out, _ = graded
    first = (out / "grades.csv").read_text()
    rows = grade_folder(course, lab, submissions, out, **grading_options(lab))
    assert (out / "grades.csv").read_text() == first
    assert len(rows) == len(list(csv.reader(io.StringIO(first)))) - 1
