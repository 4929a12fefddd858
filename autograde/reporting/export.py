"""``course export LAB``: a lab's scores from the nbgrader gradebook, in a file an LMS imports.

The nbgrader gradebook that ``course grade`` writes is the source of truth: scores are read from it
with nbgrader's public :class:`nbgrader.api.Gradebook` API (so a score changed in nbgrader's formgrader
counts), never from ``grades.csv``. A score is the submission's score less any late penalty, as
``nbgrader export`` computes it.

Students are matched to the LMS through a roster CSV (``--ids``), one row per student:

    student_id   the grader's id, as in grades.csv and the gradebook (required)
    name         the name as the LMS shows it; for Canvas "Last, First" (its sortable name) or the full name
    email        the LMS account's email address
    lms_id       the LMS's own user id (Canvas: the "ID" column of its gradebook export)
    sis_user_id  the institution's student number (Canvas "SIS User ID"; Moodle "ID number")
    login_id     the login (Canvas "SIS Login ID"; Moodle "Username")
    section      Canvas's section name (optional)

Other columns are ignored, so the ``file,student_id`` CSV of ``course grade --ids`` can carry them.
Graded students missing from the roster and roster students without a submission are always listed.

Formats (one assignment column, named by ``--assignment``, default the lab's name):

``csv``
    ``student_id,score,max_score``; a roster student without a submission gets an empty score.

``canvas``
    Canvas's gradebook import layout: ``Student,ID,SIS User ID,SIS Login ID,Section,<Assignment name (id)>``,
    then a ``Points Possible`` row, then one row per student. Canvas finds the student by ID, then
    SIS User ID, then SIS Login ID, then name; the assignment by the id in parentheses, else by title, else
    it creates one with the points possible. Graded students missing from the roster get a row named by
    their grader id, which Canvas's import preview lists as unknown students. Students without a
    submission get no row, so Canvas leaves their grade as it is (an empty cell would clear it).
    Documented in Instructure's guides (import: "How do I import grades in the Gradebook?",
    https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807)
    and, column by column, at
    https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
    and https://nemogb-dev.github.io/nemogb-r/articles/detailed-canvas-export-info.html; the rules above are
    those of Canvas's importer, ``app/models/gradebook_importer.rb`` in github.com/instructure/canvas-lms.

``moodle``
    For Moodle's "Import grades > CSV file" (https://docs.moodle.org/en/Grade_import):
    ``Name,ID number,Username,Email address,<grade item>``. On import, under "Identify user by", map the
    column the export names (the first of Email address, ID number, Username that every row fills in) to
    useremail, useridnumber or username; map the grade column to the lab's grade item (or "new grade item").
    Moodle stops an import at a user it cannot find, so graded students missing from the roster get no
    row: they are listed instead, to be added to the roster.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from autograde.course import CourseError, OutputFolder

FORMATS = ("csv", "canvas", "moodle")
ROSTER_COLUMNS = ("student_id", "name", "email", "lms_id", "sis_user_id", "login_id", "section")
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# Moodle's "Map to" identifiers, in the order the export prefers them: (column, roster field, Moodle's name).
MOODLE_IDENTIFIERS = [
    ("Email address", "email", "useremail"),
    ("ID number", "sis_user_id", "useridnumber"),
    ("Username", "login_id", "username"),
]


@dataclass
class RosterEntry:
    student_id: str
    name: str = ""
    email: str = ""
    lms_id: str = ""
    sis_user_id: str = ""
    login_id: str = ""
    section: str = ""


@dataclass
class ExportResult:
    """What :func:`export_grades` wrote, and who could not be matched."""

    dest: Path
    format: str
    rows: int  # student rows written
    not_in_roster: list = field(default_factory=list)  # graded students the roster lacks
    no_submission: list = field(default_factory=list)  # roster students the gradebook has no submission of
    how_to_import: str = ""

    def summary(self) -> str:
        """The lines ``course export`` prints."""
        lines = [f"wrote {self.rows} student rows ({self.format}) to {self.dest}"]
        if self.not_in_roster:
            fate = {
                "moodle": "no row: Moodle stops at a user it cannot find; add them to the roster",
                "canvas": "their rows are named by grader id: Canvas's import preview lists them as unknown students",
            }.get(self.format, "they have a row")
            lines.append(
                f"{len(self.not_in_roster)} graded student(s) not in the roster ({fate}): {', '.join(self.not_in_roster)}"
            )
        if self.no_submission:
            fate = "empty score" if self.format == "csv" else "no row: the LMS keeps whatever grade they have"
            lines.append(
                f"{len(self.no_submission)} roster student(s) without a submission ({fate}): {', '.join(self.no_submission)}"
            )
        if self.how_to_import:
            lines.append(self.how_to_import)
        return "\n".join(lines)


def gradebook_url(out: str | Path, lab: str, db_url: str | None = None) -> str:
    """The gradebook ``course grade`` wrote: ``db_url`` if given, else ``out/gradebook.db``.

    Raises:
        CourseError: there is no gradebook at ``out`` (grading has not run, or ran with another --out).
    """
    folder = OutputFolder(Path(out))
    if not db_url and not folder.gradebook.is_file():
        raise CourseError(
            f"no gradebook at {folder.gradebook}: run `course grade {lab} FOLDER` first "
            "(or give the --out or --db that grading used)"
        )
    return folder.gradebook_url(db_url)


def read_scores(db_url: str, lab: str) -> tuple[dict[str, float], float]:
    """Reads a lab's scores from an nbgrader gradebook.

    Args:
        db_url: SQLAlchemy URL of the gradebook.
        lab: the lab's full name (the nbgrader assignment).

    Returns:
        ``({student_id: score}, max_score)``: every submission of the lab, its score less any late penalty.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            max_score = float(gb.find_assignment(lab).max_score)
        except MissingEntry:
            raise CourseError(f"the gradebook {db_url} holds no {lab}: run `course grade {lab} FOLDER` first") from None
        scores = {
            sub.student_id: max(0.0, sub.score - (sub.late_submission_penalty or 0.0))
            for sub in gb.assignment_submissions(lab)
        }
    return scores, max_score


def read_roster(path: str | Path) -> dict[str, RosterEntry]:
    """Reads a roster CSV (columns in the module docstring).

    Args:
        path: the CSV file; a byte-order mark (Excel's) is fine.

    Returns:
        ``{student_id: RosterEntry}`` in the file's order. Repeated identical rows count once.

    Raises:
        CourseError: no ``student_id`` column, a row without one, or two different rows for one student.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if "student_id" not in (reader.fieldnames or []):
            raise CourseError(f"{path} needs a student_id column (and any of {', '.join(ROSTER_COLUMNS[1:])})")
        roster = {}
        for line, row in enumerate(reader, start=2):
            entry = RosterEntry(**{key: (row.get(key) or "").strip() for key in ROSTER_COLUMNS})
            if not entry.student_id:
                raise CourseError(f"{path}, line {line}: no student_id")
            if roster.get(entry.student_id, entry) != entry:
                raise CourseError(f"{path}, line {line}: a second, different row for student {entry.student_id}")
            roster[entry.student_id] = entry
    return roster


def export_grades(
    db_url: str,
    lab: str,
    fmt: str,
    dest: str | Path,
    roster: dict[str, RosterEntry] | None = None,
    assignment: str | None = None,
) -> ExportResult:
    """Writes a lab's scores from the gradebook as a CSV file in an LMS's import format.

    Args:
        db_url: SQLAlchemy URL of the nbgrader gradebook.
        lab: the lab's full name.
        fmt: one of FORMATS.
        dest: the file to write.
        roster: ``{student_id: RosterEntry}`` (see :func:`read_roster`); required for canvas and moodle.
        assignment: the assignment column's header (default: ``lab``); for Canvas "Name (id)" updates
            the assignment with that id.

    Returns:
        An ExportResult: the file, the rows written and the students that could not be matched.
    """
    if fmt not in FORMATS:
        raise CourseError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt != "csv" and not roster:
        raise CourseError(
            f"a {fmt} export needs --ids ROSTER.csv, mapping student ids to the LMS's users "
            f"(columns {', '.join(ROSTER_COLUMNS)}; see README)"
        )
    scores, max_score = read_scores(db_url, lab)
    roster = roster or {}
    column = assignment or lab
    result = ExportResult(
        Path(dest),
        fmt,
        0,
        no_submission=[s for s in roster if s not in scores],
        not_in_roster=sorted(s for s in scores if s not in roster) if roster else [],
    )
    known = [roster[s] for s in roster if s in scores]
    if fmt == "csv":
        table = [["student_id", "score", "max_score"]]
        table += [
            [s, _number(scores[s]), _number(max_score)]
            for s in [*roster, *sorted(set(scores) - set(roster))]
            if s in scores
        ]
        table += [[s, "", _number(max_score)] for s in result.no_submission]
    elif fmt == "canvas":
        _require_identifiers(known, ["lms_id", "sis_user_id", "login_id", "name"], "Canvas")
        table = [[*CANVAS_STUDENT_COLUMNS, column], ["Points Possible", "", "", "", "", _number(max_score)]]
        table += [
            [r.name, r.lms_id, r.sis_user_id, r.login_id, r.section, _number(scores[r.student_id])] for r in known
        ]
        table += [[s, "", "", "", "", _number(scores[s])] for s in result.not_in_roster]
    else:
        header, attribute, moodle_name = _moodle_identifier(known)
        table = [["Name", "ID number", "Username", "Email address", column]]
        table += [[r.name, r.sis_user_id, r.login_id, r.email, _number(scores[r.student_id])] for r in known]
        result.how_to_import = (
            f'In Moodle (Grades > Import > CSV file): under "Identify user by" map "{header}" to '
            f'"{moodle_name}", and map "{column}" to the lab\'s grade item.'
        )
    result.dest.parent.mkdir(parents=True, exist_ok=True)
    with open(result.dest, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(table)
    result.rows = len(table) - (2 if fmt == "canvas" else 1)
    return result


def _require_identifiers(entries, fields, lms):
    missing = [e.student_id for e in entries if not any(getattr(e, name) for name in fields)]
    if missing:
        raise CourseError(
            f"{lms} cannot find these students: the roster gives none of {', '.join(fields)} for {', '.join(missing)}"
        )


def _moodle_identifier(entries):
    """The first identifier column every row fills in: (column, roster field, Moodle's "Map to" name)."""
    for header, attribute, moodle_name in MOODLE_IDENTIFIERS:
        if all(getattr(e, attribute) for e in entries):
            return header, attribute, moodle_name
    gaps = "; ".join(
        f"{attribute} for {', '.join(e.student_id for e in entries if not getattr(e, attribute))}"
        for _, attribute, _ in MOODLE_IDENTIFIERS
    )
    raise CourseError(f"Moodle needs one identifier column that every student has; the roster lacks {gaps}")


def _number(value):
    return f"{float(value):g}"
