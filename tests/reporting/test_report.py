"""`course report`: one self-contained HTML page per graded lab, with every section, and no student text as markup."""

import base64
import re
from pathlib import Path

import nbformat
import pytest
from helpers import EVIL, LAB, make_grading_folder

from autograde.cli import main
from autograde.course import CourseError, OutputFolder
from autograde.grading.rows import Row, Status, read_rows, write_csv
from autograde.reporting import report


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("grading") / LAB
    make_grading_folder(course, out)
    path = report.write_report(course, LAB, out)
    return out, path.read_text()


def test_the_report_is_one_file_with_every_section(graded):
    out, html = graded
    assert (out / "report.html").is_file()
    for section in ("summary", "scores", "tests", "time", "review", "answers", "similarity"):
        assert f'<section id="{section}">' in html
    assert "<script" not in html.replace("&lt;script", ""), "no JavaScript at all"
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing is loaded from elsewhere"
    summary = re.search(r'<section id="summary">(.*?)</section>', html, re.S).group(1)
    # 9 files: 6 graded, 1 environment problem, 2 not graded (superseded, .py); scores 24 x 1, 23 x 5 (out of 24).
    for label, value in [
        ("Files", "9"),
        ("Graded", "6"),
        ("With an environment problem", "1"),
        ("Not graded (see below)", "2"),
        ("Mean score", "23.2 / 24"),
        ("Median score", "23 / 24"),
        ("Flagged for review", "1"),
    ]:
        assert re.search(rf"<th>{re.escape(label)}</th><td class=\"number\">{re.escape(value)}</td>", summary), label


def test_plots_are_embedded_png_images(graded):
    _, html = graded
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(sources) == 3  # scores, tests, time
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


def test_student_text_never_becomes_markup(graded):
    out, html = graded
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2  # the failure message and the flag
    side_by_side = (out / "similarity.html").read_text()
    assert EVIL not in side_by_side and "</pre><script>" not in side_by_side
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in side_by_side


def test_each_test_shows_its_pass_rate_and_three_most_common_failures(graded):
    _, html = graded
    row = re.search(r"<code>test_recall_task</code>(.*?)(?=<tr><td><code>|</section>)", html, re.S).group(1)
    assert '<td class="number">1 / 6</td><td class="number">17%</td>' in row
    messages = re.findall(r'<td class="message">(.*?)</td><td class="number">(\d+)</td>', row)
    assert messages == [
        ("ValueError: &lt;script&gt;alert(1)&lt;/script&gt;", "2"),
        ("AssertionError: shapes differ", "1"),
        ("NameError: name &#39;make_selective_recall&#39; is not defined", "1"),
    ]
    passing = re.search(r"<code>test_clip_gradients</code>(.*?)(?=<tr><td><code>|</section>)", html, re.S).group(1)
    assert "6 / 6" in passing and "100%" in passing


def test_limit_hits_and_files_to_review_say_why(graded):
    _, html = graded
    time_section = re.search(r'<section id="time">(.*?)</section>', html, re.S).group(1)
    assert "Median 37 s, longest 61 s (carol.ipynb)" in time_section
    assert re.search(r"<td>carol.ipynb</td><td>carol</td><td>time</td>.*ran past its time limit", time_section, re.S)
    assert re.search(
        r"<td>dave.ipynb</td><td>dave</td><td>memory, output</td>.*4096 MB memory limit", time_section, re.S
    )
    review = re.search(r'<section id="review">(.*?)</section>', html, re.S).group(1)
    assert re.search(
        r"<td>erin_old.ipynb</td><td>erin</td><td>superseded</td>\s*<td>.*superseded by the newer file", review
    )
    assert re.search(r"<td>frank.py</td><td>frank</td><td>not graded</td>\s*<td>.*a Python file", review)
    assert re.search(r"<td>bob.ipynb</td><td>bob</td><td>flagged</td>", review)
    gina = re.search(r"<td>gina.ipynb</td><td>gina</td><td>environment problem</td>(.*?)</tr>", review, re.S).group(1)
    assert "TweetDataError" in gina and "UDP" not in gina, "the sandbox's gaps are in every row: not a reason"


def test_answer_cells_are_counted_by_how_they_were_found(graded):
    _, html = graded
    section = re.search(r'<section id="answers">(.*?)</section>', html, re.S).group(1)
    header = re.search(r"<tr><th>Answer cell</th>(.*?)</tr>", section).group(1)
    assert re.findall(r'<th class="number">([\w ]+)</th>', header) == ["grade_id", "cell id", "similarity", "missing"]
    counts = dict(re.findall(r"<tr><td><code>(\w+)</code></td>((?:<td class=\"number\">\d+</td>)+)</tr>", section))
    number = lambda cells: [int(n) for n in re.findall(r"\d+", cells)]  # noqa: E731
    assert number(counts["clip_gradients"]) == [6, 0, 1, 0]
    assert number(counts["my_lstm_cell"]) == [6, 0, 0, 1]
    assert number(counts["my_rnn_cell"]) == [6, 1, 0, 0]
    assert "Counts over the 7 rebuilt notebooks" in section


def test_the_similarity_section_lists_the_copy_and_says_these_are_not_verdicts(graded):
    _, html = graded
    section = re.search(r'<section id="similarity">(.*?)</section>', html, re.S).group(1)
    assert "not verdicts" in section and 'href="similarity.html"' in section
    listed = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td>", section)
    # gina has alice's answer, bob a renamed copy of it, erin carol's with one number changed; dave's is his own.
    assert set(listed) == {("alice", "bob"), ("alice", "gina"), ("bob", "gina"), ("carol", "erin")}


def test_the_command_line_writes_the_report_and_says_what_to_do_before_grading(
    course, graded, tmp_path, capsys, monkeypatch
):
    out, _ = graded
    assert main(["--root", str(course.root), "report", "lab1", "--out", str(out)]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    assert main(["--root", str(course.root), "report", "lab1", "--out", str(tmp_path)]) == 2
    assert (
        f"no grades found in {tmp_path}: run `course grade lab1 FOLDER --out {tmp_path}` first"
        in capsys.readouterr().err
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CourseError, match=rf"no grades found in grading/{LAB}: run `course grade lab1 FOLDER` first"):
        read_rows(Path("grading") / LAB, LAB)


def test_grade_can_write_the_report_too(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    assert "--report" in capsys.readouterr().out


def test_the_report_reads_back_every_status_the_grader_writes(course, tmp_path):
    from autograde.grading import intake

    release = nbformat.read(course.lab_notebook(LAB), as_version=4)
    files = [intake.Submission(f"a_{i}.ipynb", "a", modified=float(i)) for i in (1, 2)]
    intake._flag_duplicates(files)
    assert files[0].status == Status.SUPERSEDED and files[1].status == Status.GRADABLE
    written = [
        Row(f"{status}.ipynb", "s", status) for status in Status if status not in (Status.GRADABLE, Status.SUPERSEDED)
    ]
    written += [
        Row(files[0].file, "a", files[0].status, reason=files[0].reason),
        Row("=cmd.py", "b", Status.NOT_GRADED, reason="-not a notebook", notes=["+1", "@x"], flags=["=f"]),
    ]
    write_csv(OutputFolder(tmp_path).grades, written, release)
    assert "'=cmd.py" in OutputFolder(tmp_path).grades.read_text(), "no text becomes a spreadsheet formula"
    read = {row.file: row for row in read_rows(tmp_path, LAB)}
    assert {(r.file, r.status, r.reason, tuple(r.notes), tuple(r.flags)) for r in written} == {
        (r.file, r.status, r.reason, tuple(r.notes), tuple(r.flags)) for r in read.values()
    }


def test_a_file_intake_could_not_read_is_filed_as_a_grader_error_with_why(course, tmp_path, monkeypatch):
    """Intake's errors once wrote "grader error: ..." as the status, which the report filed under "not graded"."""
    from autograde.grading import intake

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "zed_lab1.ipynb").write_text("{}")
    monkeypatch.setattr(intake, "read_notebook", lambda data, name: 1 / 0)
    [submission] = intake.collect(tmp_path / "in")
    row = Row(
        submission.file, submission.student_id, submission.status, notes=submission.notes, reason=submission.reason
    )
    write_csv(OutputFolder(tmp_path).grades, [row], nbformat.read(course.lab_notebook(LAB), as_version=4))
    assert OutputFolder(tmp_path).grades.read_text().splitlines()[1].startswith("zed_lab1.ipynb,zed,grader error,")
    [item] = report._review(read_rows(tmp_path, LAB), {})
    assert item["what"] == "grader error" and item["why"] == [
        "grader error while reading the file: ZeroDivisionError: division by zero"
    ]
