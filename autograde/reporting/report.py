"""``course report LAB``: one HTML page that sums up a graded lab for the instructor.

It reads what ``course grade`` left in the output folder (``grades.csv``, and ``results/<student>.json``
for each graded notebook: every test's score and failure message, the seconds it took, the limits
it ran into) and writes ``report.html`` beside them: the scores, each test's pass rate and most
common failure messages, the time per notebook and the submissions that hit a limit, every
flagged, superseded or ungraded file and why, how the answer cells were found, and the pairs of
submissions with similar code (:mod:`autograde.reporting.similarity`, whose side-by-side view it writes
to ``similarity.html``).

The page is one file: plots are PNG images inside it, there is no JavaScript, and it opens
offline. Everything from students (file names, ids, notes, failure messages, code) is escaped
by the template engine.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from autograde.cells import grade_id_of, is_graded, points as points_of
from autograde.course import Course, CourseError, OutputFolder
from autograde.grading.rows import Found, GradeResult, Row, Status, load_result, read_rows
from autograde.reporting.pages import render

TOP_FAILURES = 3  # failure messages shown per test
LIMITS_HIT = {"timeout": "time", "memory": "memory", "output": "output"}  # results' "limits_hit" -> what the page says
FOUND = {Found.GRADE_ID: "grade_id", Found.CELL_ID: "cell id", Found.SIMILARITY: "similarity", Found.MISSING: "missing"}


def read_results(out: str | Path, lab: str, rows: list[Row]) -> dict[str, GradeResult]:
    """The grader's result of each row that has one (``results/<student>.json``), by file.

    A student's result is that of their graded row; of their grader-error row when none was graded (a file intake
    could not read has no result, but its student may have another file that was graded).

    Raises:
        CourseError: a result was written by an older grader, in another format.
    """
    graded = {row.student_id for row in rows if row.status.was_graded}
    results = {}
    for row in rows:
        if row.student_id and (
            row.status.was_graded or (row.status == Status.GRADER_ERROR and row.student_id not in graded)
        ):
            path = OutputFolder(Path(out)).result(row.student_id)
            try:
                result = load_result(path)
            except ValueError:
                raise CourseError(
                    f"{path} was written by an older version of the grader: grade again "
                    f"(`course grade {lab.split('_', 1)[0]} FOLDER`, with the same --out) to report on it"
                ) from None
            if result:
                results[row.file] = result
    return results


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(height=3.0):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global

    figure = Figure(figsize=(7, height))
    return figure, figure.add_subplot()


def score_plot(scores: list[float], max_score: float) -> str:
    """A histogram of scores, one bar per point when there are few points."""
    import numpy as np

    figure, ax = _figure()
    edges = np.arange(0, max_score + 2) - 0.5 if max_score <= 40 else np.linspace(0, max_score, 21)
    ax.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("files")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def tests_plot(tests: list[dict[str, Any]]) -> str:
    """A horizontal bar per test: the share of graded files that passed it."""
    figure, ax = _figure(0.6 + 0.35 * len(tests))
    names = [t["grade_id"] for t in tests][::-1]
    rates = [t["share"] * 100 for t in tests][::-1]
    ax.barh(names, rates, color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("passed (% of graded files)")
    return _png(figure)


def time_plot(seconds: list[float]) -> str:
    """A histogram of the seconds each notebook took to grade."""
    figure, ax = _figure()
    ax.hist(seconds, bins=min(20, max(5, len(seconds))), color="#8172b2", edgecolor="white")
    ax.set_xlabel("seconds per notebook")
    ax.set_ylabel("files")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def _tests(rows, results, release_points):
    """Pass rate and most common failure messages of each test, over the graded rows."""
    tests = []
    for grade_id, points in release_points.items():
        passed, failures = 0, Counter()
        for row in rows:
            result = results.get(row.file)
            test = result.tests.get(grade_id) if result else None
            scored = test or row.tests.get(grade_id)  # grades.csv has the score, not the message
            if ((scored and scored.score) or 0.0) >= points:
                passed += 1
            else:
                failures[(test and test.message) or "(no error message)"] += 1
        share = passed / len(rows) if rows else 0.0
        tests.append(
            {
                "grade_id": grade_id,
                "points": f"{points:g}",
                "passed": passed,
                "attempted": len(rows),
                "share": share,
                "rate": f"{share:.0%}",
                "failures": failures.most_common(TOP_FAILURES),
            }
        )
    return tests


def _limit_hits(rows, results):
    hits = []
    for row in rows:
        result = results.get(row.file)
        if result and result.limits_hit:
            hits.append(
                {
                    "file": row.file,
                    "student": row.student_id,
                    "limits": [LIMITS_HIT.get(kind, kind) for kind in result.limits_hit],
                    "problems": result.problems,
                }
            )
    return hits


def _review(rows, results):
    """Every file a person should look at: flagged, superseded, not graded, environment problem or grader error."""
    items = []
    for row in rows:
        result = results.get(row.file)
        gaps = result.sandbox_gaps if result else []  # said in every row: not about this file
        seen = {"file": row.file, "student": row.student_id}
        if row.flags:
            items.append({**seen, "what": "flagged", "why": row.flags})
        if row.status == Status.SUPERSEDED:
            items.append({**seen, "what": Status.SUPERSEDED.value, "why": [row.status_text]})
        elif row.status in (Status.ENVIRONMENT_PROBLEM, Status.GRADER_ERROR):
            why = [note for note in row.notes if note not in gaps]
            items.append({**seen, "what": row.status.value, "why": why or [row.status_text]})
        elif row.status != Status.GRADED:
            items.append({**seen, "what": Status.NOT_GRADED.value, "why": [row.status_text]})
    return items


def _answers(results):
    """Counts of how each answer cell was found, per answer cell, over the rebuilt notebooks."""
    counts, notebooks = {}, 0
    for result in results.values():
        if not result.answers:
            continue
        notebooks += 1
        for answer in result.answers:
            counts.setdefault(answer.grade_id, Counter())[answer.found] += 1
    table = [(grade_id, [c[found] for found in FOUND]) for grade_id, c in counts.items()]
    totals = [sum(c[found] for c in counts.values()) for found in FOUND]
    return {"kinds": list(FOUND.values()), "rows": table, "totals": totals, "notebooks": notebooks}


def _similarity(course, lab, out):
    from autograde.reporting import similarity

    try:
        pairs, compared = similarity.find_pairs(course, lab, out)
    except CourseError as error:  # copydetect is missing (the grades were read already)
        return {"error": f"similar code not compared: {error}"}
    page = similarity.write_html(OutputFolder(Path(out)).similarity, pairs, lab, compared)
    return {
        "error": "",
        "pairs": pairs,
        "compared": compared,
        "threshold": f"{similarity.THRESHOLD:.2f}",
        "not_verdicts": similarity.NOT_VERDICTS,
        "page": page.name,
    }


def build_context(course: Course, lab: str, out: str | Path) -> dict[str, Any]:
    """Everything the report shows, from a grading output folder (see :func:`write_report`)."""
    import nbformat

    rows = read_rows(out, lab)
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    points = {grade_id_of(c): points_of(c) for c in release.cells if is_graded(c)}
    graded = [row for row in rows if row.status == Status.GRADED]
    results = read_results(out, lab, rows)
    scores = [row.score for row in graded]
    max_score = sum(points.values()) or max([r.max_score for r in rows] + [0.0])
    tests = _tests(graded, results, points)
    timed = [(results[row.file].total_seconds, row.file) for row in graded if row.file in results]
    plots = {
        "scores": score_plot(scores, max_score) if scores else "",
        "tests": tests_plot(tests) if graded and tests else "",
        "time": time_plot([s for s, _ in timed]) if timed else "",
    }
    longest = max(timed, default=(0.0, ""))
    return {
        "lab": lab,
        "out": str(out),
        "written": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "summary": {
            "files": len(rows),
            "graded": len(graded),
            "environment": sum(r.status == Status.ENVIRONMENT_PROBLEM for r in rows),
            "not_graded": sum(not r.status.was_graded for r in rows),
            "mean": f"{statistics.mean(scores):.1f}" if scores else "-",
            "median": f"{statistics.median(scores):g}" if scores else "-",
            "max_score": f"{max_score:g}",
            "flagged": sum(bool(r.flags) for r in rows),
        },
        "plots": plots,
        "tests": tests,
        "time": {
            "median": f"{statistics.median([s for s, _ in timed]):.0f}" if timed else "-",
            "longest": f"{longest[0]:.0f}",
            "longest_file": longest[1],
        },
        "limit_hits": _limit_hits(rows, results),
        "review": _review(rows, results),
        "answers": _answers(results),
        "similarity": _similarity(course, lab, out),
    }


def write_report(course: Course, lab: str, out: str | Path) -> Path:
    """Writes ``report.html`` (and ``similarity.html``) into a grading output folder.

    Args:
        course: the :class:`autograde.course.Course`.
        lab: the lab's full name.
        out: the folder ``course grade`` wrote (``grading/<lab>`` by default).

    Returns:
        The path of ``report.html``.

    Raises:
        CourseError: when the folder holds no grades yet.
    """
    path = OutputFolder(Path(out)).report
    path.write_text(render("report.html.j2", **build_context(course, lab, out)))
    return path
