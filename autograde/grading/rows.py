"""What a row of ``grades.csv`` can say, defined once for the grader that writes it and the report that reads it.

The report imports this module rather than :mod:`autograde.grading.folder`, which loads the whole grading stack.
"""
import csv
from pathlib import Path

from autograde.course import CourseError, OutputFolder

# A row's status, when it is not one of intake's (superseded, not a notebook, ...).
GRADED, ENVIRONMENT_PROBLEM, GRADER_ERROR = "graded", "environment problem", "grader error"
NOT_GRADED = "not graded"  # a notebook the grader will not run (too large to rebuild); the notes say why
# Text starting with one of these is a formula to a spreadsheet: grades.csv puts a ' before it.
SPREADSHEET_PREFIX = ("=", "+", "-", "@", "\t", "\r")


def read_grades(out, lab):
    """The rows of ``grades.csv`` in a grading output folder, as dicts.

    Args:
        out: the folder ``course grade`` wrote.
        lab: the lab's full name (for the error message).

    Raises:
        CourseError: when there is no ``grades.csv`` yet; the message says which command to run.
    """
    path = OutputFolder(Path(out)).grades
    if not path.is_file():
        short = lab.split("_", 1)[0]
        option = "" if OutputFolder(Path(out)).is_default_for(lab) else f" --out {out}"
        raise CourseError(f"no grades found in {out}: run `course grade {short} FOLDER{option}` first")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str) and value[:1] == "'" and value[1:2] in SPREADSHEET_PREFIX:
                row[key] = value[1:]
    return rows
