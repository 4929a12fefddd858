"""``course similarity LAB``: pairs of submissions whose student-written code is alike, for a person to look at.

For every answer cell of the lab, the code each student wrote there (the answer cell and the
student's own cells that ran after it, before the next answer) is compared with every other
student's, with copydetect's MOSS-style winnowing: the code is tokenized, names, strings and
comments are abstracted away (a copy with renamed variables and new comments still matches),
and each fingerprint (a run of ``NOISE_CHARS`` filtered characters) found anywhere in the
release notebook, the stubs and every instructor cell, is dropped as boilerplate.

The code comes from the notebooks the grader kept (``grading/<lab>/autograded/``): each is the
student's work rebuilt on the release notebook, so every answer already sits under its
release cell's ``grade_id``, however Colab mangled the file.

It lists pairs to look at, not verdicts: short exercises have few ways to be written, two
students may have learned from the same source, and a high score only says that the code
is alike. ``benchmarks/similarity.py`` measured where ``THRESHOLD`` lies between renamed
copies and independently written answers.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import numpy as np

from autograde.cells import grade_id_of, is_answer, is_students_extra
from autograde.course import CourseError, OutputFolder
from autograde.grading.rows import read_rows
from autograde.reporting.pages import render

if TYPE_CHECKING:
    from autograde.course import Course

# Both measured by benchmarks/similarity.py (README, Benchmarks): renamed and lightly edited copies scored 0.67 to
# 1.00 with 63 or more matching characters; independently written answers to the same exercise at most 0.58, and
# shared at most 56 characters (two that both followed the stub's hint).
THRESHOLD = 0.6
MIN_MATCHED_CHARS = 60  # less in common than this (about two statements) is an idiom, not a copy
NOISE_CHARS = 25  # a fingerprint is this many characters of filtered code (copydetect's default)
NOT_VERDICTS = (
    "These are pairs to look at, not verdicts: similar code can be written independently, "
    "above all for short exercises. Read the code side by side before drawing any conclusion."
)


@dataclass
class CellMatch:
    """How alike two students' code for one answer cell is.

    Args:
        grade_id: the answer cell.
        score: the larger of the two shares of code found in the other's (copydetect's similarity), 0 to 1.
        matched_chars: characters of filtered code the two have in common.
        sides: for each student, the code as a list of ``(text, matched)`` pieces, for the side-by-side view.
    """

    grade_id: str
    score: float
    matched_chars: int
    sides: tuple = ()


@dataclass
class Pair:
    """Two students with at least one answer cell above the threshold.

    Args:
        a, b: their student ids.
        overall: the share of all their student-written code found in the other's (the larger of the two).
        cells: the answer cells above the threshold, most alike first.
    """

    a: str
    b: str
    overall: float
    cells: list = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(cell.score for cell in self.cells)


def student_code(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The code a student wrote in a rebuilt (or autograded) notebook, by answer cell.

    Args:
        notebook: a notebook rebuilt by :func:`autograde.grading.rebuild.rebuild`.

    Returns:
        ``{grade_id: code}``: each answer cell followed by the student's extra code cells that ran
        after it, before the next answer cell (extra cells before the first answer go with it).
    """
    code, current, pending = {}, None, []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if is_answer(cell):
            current = grade_id_of(cell)
            code[current] = "\n\n".join([*pending, cell.source])
            pending = []
        elif is_students_extra(cell):
            if current is None:
                pending.append(cell.source)
            else:
                code[current] += "\n\n" + cell.source
    return code


def boilerplate(release: nbformat.NotebookNode) -> frozenset[int]:
    """Fingerprints of every code cell of the release notebook (stubs and instructor cells), as a frozenset."""
    hashes = set()
    for cell in release.cells:
        if cell.cell_type == "code" and cell.source.strip():
            hashes |= _fingerprint(cell.source).hashes
    return frozenset(hashes)


def _copydetect():
    try:
        import copydetect
        import copydetect.utils
    except ImportError as error:
        raise CourseError(f"comparing code needs copydetect ({error}): pip install -e '.[grading]'") from error
    return copydetect


def _fingerprint(code, ignored=frozenset()):
    """copydetect's fingerprint of ``code``, without the fingerprints in ``ignored``.

    The boilerplate is dropped here rather than by copydetect's ``boilerplate`` argument, which
    also drops every fingerprint the student's code holds twice (its set intersection assumes
    unique values): an earlier copy of an answer kept above it would not count, nor be highlighted.
    """
    copydetect = _copydetect()
    fingerprint = copydetect.CodeFingerprint("answer.py", NOISE_CHARS, 1, language="python", fp=io.StringIO(code))
    if ignored:
        fingerprint.hash_idx = {h: i for h, i in fingerprint.hash_idx.items() if h not in ignored}
        fingerprint.hashes = set(fingerprint.hash_idx)
        fingerprint.token_coverage = copydetect.utils.get_token_coverage(
            fingerprint.hash_idx, NOISE_CHARS, len(fingerprint.filtered_code)
        )
    return fingerprint


def cell_score(code_a: str, code_b: str, ignored: frozenset[int] = frozenset()) -> tuple[float, int]:
    """How alike two pieces of code are.

    Args:
        code_a, code_b: the code (Python source).
        ignored: fingerprints to ignore (:func:`boilerplate`).

    Returns:
        ``(score, matched_chars)``: the larger of the two shares of code found in the other, and the
        number of characters of filtered code they have in common.
    """
    score, matched, _ = _match(_fingerprint(code_a, ignored), _fingerprint(code_b, ignored))
    return score, matched


def _match(fa, fb):
    if not fa.hashes or not fb.hashes:
        return 0.0, 0, None
    matched, shares, slices = _copydetect().compare_files(fa, fb)
    return float(max(shares)), int(matched), (shares, slices)


def compare(
    codes: dict[str, dict[str, str]], release: nbformat.NotebookNode, threshold: float = THRESHOLD
) -> list[Pair]:
    """Compares every pair of students, answer cell by answer cell.

    Args:
        codes: ``{student_id: {grade_id: code}}``, as :func:`student_code` returns for each student.
        release: the release notebook (its code is boilerplate).
        threshold: the cell score from which a pair is listed.

    Returns:
        The pairs with at least one answer cell scoring ``threshold`` or more on at least
        ``MIN_MATCHED_CHARS`` characters, most alike first.
    """
    ignored = boilerplate(release)
    prints = {
        student: {gid: _fingerprint(code, ignored) for gid, code in cells.items()} for student, cells in codes.items()
    }
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        cells, common, sizes = [], [0.0, 0.0], [0.0, 0.0]
        for grade_id in sorted(set(prints[a]) & set(prints[b])):
            fa, fb = prints[a][grade_id], prints[b][grade_id]
            sizes[0] += fa.token_coverage
            sizes[1] += fb.token_coverage
            score, matched, details = _match(fa, fb)
            if details is None:
                continue
            (share_a, share_b), (slices_a, slices_b) = details
            common[0] += share_a * fa.token_coverage
            common[1] += share_b * fb.token_coverage
            if score >= threshold and matched >= MIN_MATCHED_CHARS:
                sides = (_pieces(fa.raw_code, slices_a), _pieces(fb.raw_code, slices_b))
                cells.append(CellMatch(grade_id, score, matched, sides))
        if cells:
            overall = max(c / s if s else 0.0 for c, s in zip(common, sizes))
            pairs.append(Pair(a, b, float(overall), sorted(cells, key=lambda c: -c.score)))
    return sorted(pairs, key=lambda p: (-len(p.cells), -p.score, p.a, p.b))


def _pieces(code, slices):
    """``code`` cut into ``(text, matched)`` pieces at copydetect's slices (a row of starts, a row of ends)."""
    pieces, at = [], 0
    for start, end in sorted(zip(np.asarray(slices[0], dtype=int), np.asarray(slices[1], dtype=int))):
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        if start > at:
            pieces.append((code[at:start], False))
        pieces.append((code[start:end], True))
        at = end
    if at < len(code):
        pieces.append((code[at:], False))
    return pieces


def load_code(out: str | Path, lab: str) -> dict[str, dict[str, str]]:
    """``{student_id: {grade_id: code}}`` from a grading output folder.

    Args:
        out: the folder ``course grade`` wrote (``grades.csv`` and ``autograded/``).
        lab: the lab's full name (for the error message).

    Raises:
        CourseError: when the folder holds no grades yet.
    """
    codes = {}
    for row in read_rows(out, lab):
        path = OutputFolder(Path(out)).autograded(row.student_id)
        if row.status.was_graded and path.is_file():  # the rows with a rebuilt notebook
            codes[row.student_id] = student_code(nbformat.read(path, as_version=4))
    return codes


def find_pairs(course: Course, lab: str, out: str | Path, threshold: float = THRESHOLD) -> tuple[list[Pair], int]:
    """The pairs of a graded lab (see :func:`compare`) and the number of submissions compared."""
    codes = load_code(out, lab)
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    return compare(codes, release, threshold), len(codes)


def text_table(pairs: list[Pair], compared: int, threshold: float = THRESHOLD) -> str:
    """The short table ``course similarity`` prints."""
    lines = [
        NOT_VERDICTS,
        f"{compared} submissions compared, answer cell by answer cell; "
        f"{len(pairs)} pair{'s' * (len(pairs) != 1)} with a cell at {threshold:.2f} or more.",
    ]
    if pairs:
        width = max(len(p.a) for p in pairs) + max(len(p.b) for p in pairs) + 5
        lines.append(f"{'pair':{width}}  {'overall':>7}  cells at or above the threshold (score)")
        for pair in pairs:
            cells = ", ".join(f"{c.grade_id} {c.score:.2f}" for c in pair.cells)
            lines.append(f"{pair.a + ' ~ ' + pair.b:{width}}  {pair.overall:7.2f}  {cells}")
    return "\n".join(lines)


def write_html(path: str | Path, pairs: list[Pair], lab: str, compared: int, threshold: float = THRESHOLD) -> Path:
    """Writes the side-by-side view of every pair's matching code (one self-contained file)."""
    Path(path).write_text(
        render(
            "similarity.html.j2",
            lab=lab,
            pairs=pairs,
            compared=compared,
            threshold=threshold,
            not_verdicts=NOT_VERDICTS,
            noise_chars=NOISE_CHARS,
            min_matched=MIN_MATCHED_CHARS,
        )
    )
    return Path(path)
