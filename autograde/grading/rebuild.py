"""Rebuilds a student's notebook on a clean copy of the release notebook before grading.

nbgrader grades by cell metadata, and Colab and other editors lose or change it (nbgrader
issues #1273, #1398, #1941). So we never grade the student's file as it is: we take the
student's answer for each answer cell of the release notebook and put it into a clean copy
of that notebook. Everything else (instructions, setup, test cells) comes from the release,
so edited or deleted test cells never count.

An answer cell is matched by, in order: its nbgrader ``grade_id``; its cell id; its
position between the cells around it and the similarity of its code to the stub. Of two or
more student cells with the same ``grade_id`` (or cell id), the last is the answer, as with
nbgrader's ``DeduplicateIds``; the earlier copies stay as extra cells.

The student's extra code cells (helpers, scratch cells, earlier copies of an answer, a cell
written below a stub left in place) run where the student ran them: just before the
instructor cell that followed them in the student's notebook (an answer, a test, setup code
or text), or at the end. They carry the metadata ``{"autograde": {"origin": "student"}}``.

A rebuild takes bounded time whatever the notebook (a cell of a megabyte of blank lines, thousands
of cells): a score compares at most :data:`SIMILARITY_CHARS` of a cell, each instructor cell is
compared with at most :data:`CANDIDATES` student cells (those nearest where it belongs), and past
:data:`REBUILD_SECONDS` the rebuild stops with :class:`TooLargeToRebuild`. :func:`prepare_bounded`
is everything grading needs of a notebook (rebuild, edited tests, the code review), bounded.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import nbformat
from nbformat.v4.nbbase import random_cell_id
from rapidfuzz.fuzz import ratio

from autograde.cells import STUDENT, STUDENT_ORIGIN, cell_origin, grade_id_of, is_answer, is_test
from autograde.grading.rows import Answer, Found

SIMILAR_ENOUGH = 0.35  # a student's answer keeps the stub's signature and docstring
IN_PLACE_BONUS = 0.1  # for a cell between the instructor cells around the answer's place
SAME_CELL = 0.9  # a cell this close to an instructor cell is that cell, not an extra one
# Bounds, none reached by an honest notebook (the largest instructor cell of the labs is 3,201 characters,
# the longest notebook 82 cells).
SIMILARITY_CHARS = 5_000  # characters of each cell a similarity score compares (its cost grows with their product)
CANDIDATES = 100  # student cells compared with one instructor cell: those nearest the instructor cells around its place
REBUILD_SECONDS = 20  # wall-clock budget of one rebuild
REVIEW_CELL_CHARS = 20_000  # a student cell longer than this is not reviewed, but flagged for a person to read
REVIEW_CHARS = 100_000  # student code reviewed per notebook; cells beyond it are flagged likewise
STUB_LEFT_IN_PLACE = "stub left in place, answer in the cell below"


@dataclass
class AnswerMatch:
    grade_id: str
    found: Found  # how the student's cell was found
    how: str  # ``found``, a similarity score, remarks in brackets: "grade_id (the last of 2 copies)"
    source_index: int | None  # index of the student's cell, None when missing


class TooLargeToRebuild(Exception):
    """The rebuild ran past its time budget: the message, for the row, says so and what to do."""


class _Clock:
    """Raises TooLargeToRebuild once ``seconds`` have passed (None: never)."""

    def __init__(self, submission, seconds):
        self.submission, self.seconds = submission, seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def check(self):
        if self.end is not None and time.monotonic() > self.end:
            cells = self.submission.cells
            raise TooLargeToRebuild(
                f"the notebook is too large or slow to rebuild: stopped after {self.seconds:g} s ({len(cells):,} cells, "
                f"{sum(len(c.source) for c in cells):,} characters); not graded: ask the student to delete the huge or "
                "repeated cells (blank lines, pasted data) and submit again"
            )


def _similarity(a, b, at_least=0.0):
    """How alike two sources are, 0 to 1 (their first SIMILARITY_CHARS characters): twice the length of their longest
    common subsequence over their total length, rapidfuzz's ``ratio``; 0 when it is below ``at_least``."""
    return ratio(a[:SIMILARITY_CHARS], b[:SIMILARITY_CHARS], score_cutoff=100 * at_least) / 100


def _remark(how, remark):
    """Adds ``remark`` to ``how``, all remarks in one pair of brackets (the CSV joins answers with "; ")."""
    return f"{how[:-1]}, {remark})" if how.endswith(")") else f"{how} ({remark})"


def match_answers(
    release: nbformat.NotebookNode,
    submission: nbformat.NotebookNode,
    anchors: dict[int, int] | None = None,
    clock: _Clock | None = None,
) -> list[AnswerMatch]:
    """Finds the student's cell for every answer cell of the release notebook."""
    clock = clock or _Clock(submission, None)
    anchors = _anchor_positions(release, submission, clock) if anchors is None else anchors
    answers = [(i, c) for i, c in enumerate(release.cells) if is_answer(c)]
    cells = submission.cells
    answer_ids = {grade_id_of(c) for _, c in answers}
    anchored = set(anchors.values())
    claimed, matches = set(), {}

    def free(j, grade_id):
        # A cell carrying an answer's grade_id is that answer or a copy of it; a test's copy is no answer.
        theirs = grade_id_of(cells[j])
        return (
            j not in claimed
            and cells[j].get("cell_type") == "code"
            and not is_test(cells[j])
            and (theirs not in answer_ids or theirs == grade_id)
        )

    def claim(grade_id, candidates, found, how):
        index = candidates[-1]  # the last copy counts, as with nbgrader's DeduplicateIds
        claimed.add(index)
        how = _remark(how, f"the last of {len(candidates)} copies") if len(candidates) > 1 else how
        matches[grade_id] = AnswerMatch(grade_id, found, how, index)

    for key, how in ((grade_id_of, Found.GRADE_ID), (lambda c: c.get("id"), Found.CELL_ID)):
        for _, cell in answers:  # 1. the nbgrader id survived; 2. the cell id survived
            grade_id = grade_id_of(cell)
            if grade_id in matches or key(cell) is None:
                continue
            candidates = [j for j, c in enumerate(cells) if free(j, grade_id) and key(c) == key(cell)]
            if candidates:
                claim(grade_id, candidates, how, how.value)

    # 3. where it stands and what it looks like. The best-scoring pairs are taken first, over all the answers still
    # to find: taken in answer order, a missing answer would claim a later answer that resembles its stub.
    pairs = []
    for order, (position, cell) in enumerate(answers):
        grade_id = grade_id_of(cell)
        if grade_id in matches:
            continue
        low, high = _window(position, anchors, len(cells))
        for j in _nearest(low, high, [j for j in range(len(cells)) if free(j, grade_id) and j not in anchored]):
            clock.check()
            # A score below SIMILAR_ENOUGH - IN_PLACE_BONUS can never be claimed: its cheap bounds suffice.
            score = _similarity(cells[j].source, cell.source, SIMILAR_ENOUGH - IN_PLACE_BONUS)
            pairs.append((score + (IN_PLACE_BONUS if low <= j < high else 0.0), -order, j, grade_id))
    for score, _, j, grade_id in sorted(pairs, reverse=True):
        if score >= SIMILAR_ENOUGH and grade_id not in matches and j not in claimed:
            claim(grade_id, [j], Found.SIMILARITY, f"{Found.SIMILARITY} {min(score, 1.0):.2f}")
    for _, cell in answers:
        grade_id = grade_id_of(cell)
        matches.setdefault(grade_id, AnswerMatch(grade_id, Found.MISSING, Found.MISSING.value, None))
    result = [matches[grade_id_of(c)] for _, c in answers]
    _note_stubs_left_in_place(release, submission, result, _landmarks(release, submission, anchors, result))
    return result


def _anchor_positions(release, submission, clock=None):
    """Release cell index -> student cell index, for instructor cells the student left (almost) unchanged."""
    clock = clock or _Clock(submission, None)
    anchors, used = {}, set()
    unchanged = {}
    for j, theirs in enumerate(submission.cells):
        unchanged.setdefault((theirs.get("cell_type"), theirs.source), []).append(j)
    ours = [(i, c) for i, c in enumerate(release.cells) if not is_answer(c)]
    for i, cell in ours:  # cells left exactly as they were: a dictionary lookup
        free = [j for j in unchanged.get((cell.cell_type, cell.source), []) if j not in used]
        if free:
            anchors[i] = free[0]
            used.add(free[0])
    cells = submission.cells
    for i, cell in ours:  # cells touched a little (a comment, a blank line): similarity
        if i in anchors:
            continue
        low, high = _window(i, anchors, len(cells))
        for j in sorted(
            _nearest(
                low,
                high,
                [j for j, theirs in enumerate(cells) if j not in used and theirs.get("cell_type") == cell.cell_type],
            )
        ):
            clock.check()
            if _similarity(cells[j].source, cell.source, SAME_CELL) >= SAME_CELL:
                anchors[i] = j
                used.add(j)
                break
    return anchors


def _nearest(low, high, indices, limit=None):
    """Of ``indices`` (ascending), the ``limit`` (CANDIDATES) nearest the edges of the window ``[low, high)`` (a cell
    follows the instructor cell before it or precedes the one after it, the student's own cells aside); all when
    there are no more."""
    limit = CANDIDATES if limit is None else limit
    if len(indices) <= limit:
        return indices

    def distance(j):
        return low - j if j < low else j - high + 1 if j >= high else min(j - low, high - 1 - j)

    return sorted(indices, key=lambda j: (distance(j), j))[:limit]


def _window(position, anchors, length):
    """Student cell indices between the anchors around release cell ``position``."""
    before = [anchors[i] for i in anchors if i < position]
    after = [anchors[i] for i in anchors if i > position]
    return (max(before) + 1 if before else 0), (min(after) if after else length)


def _landmarks(release, submission, anchors, matches):
    """Student cell index -> release cell index, for the student's cells that stand for a release cell:
    instructor cells left (almost) unchanged, copies of test cells (by grade_id, edited or not), answers."""
    tests = {grade_id_of(c): i for i, c in enumerate(release.cells) if is_test(c)}
    answers = {grade_id_of(c): i for i, c in enumerate(release.cells) if is_answer(c)}
    marks = {j: i for i, j in anchors.items()}
    for j, cell in enumerate(submission.cells):
        if is_test(cell) and grade_id_of(cell) in tests:
            marks.setdefault(j, tests[grade_id_of(cell)])
    marks.update({m.source_index: answers[m.grade_id] for m in matches if m.source_index is not None})
    return marks


def _is_extra(cell, j, landmarks):
    """A student's own code cell: not an instructor cell, an answer or a copy of a test (ours run instead)."""
    return j not in landmarks and cell.get("cell_type") == "code" and bool(cell.source.strip()) and not is_test(cell)


def _extras(submission, landmarks):
    """Release cell index -> indices of the student's extra cells that go just before it (None: at the end)."""
    extras, pending = {None: []}, []
    for j, cell in enumerate(submission.cells):
        if j in landmarks:
            extras.setdefault(landmarks[j], []).extend(pending)
            pending = []
        elif _is_extra(cell, j, landmarks):
            pending.append(j)
    extras[None] = pending
    return extras


def _note_stubs_left_in_place(release, submission, matches, landmarks):
    """Says so when the answer is the untouched stub and the student's own cells follow it before the next instructor cell."""
    stubs = {grade_id_of(c): c.source.strip() for c in release.cells if is_answer(c)}
    cells = submission.cells
    for match in matches:
        j = match.source_index
        if j is None or cells[j].source.strip() != stubs[match.grade_id]:
            continue
        following = itertools.takewhile(lambda k: k not in landmarks, range(j + 1, len(cells)))
        if any(_is_extra(cells[k], k, landmarks) for k in following):
            match.how = _remark(match.how, STUB_LEFT_IN_PLACE)


def _student_cell(source):
    """nbformat's new_code_cell without its schema check, which costs 1 ms a cell (seconds for thousands)."""
    return nbformat.from_dict(
        {
            "id": random_cell_id(),
            "cell_type": "code",
            "metadata": copy.deepcopy(STUDENT_ORIGIN),
            "execution_count": None,
            "source": source,
            "outputs": [],
        }
    )


def edited_tests(release: nbformat.NotebookNode, submission: nbformat.NotebookNode) -> list[str]:
    """grade_ids of test cells the student changed (their copies are ignored: ours run)."""
    ours = {grade_id_of(c): c.source for c in release.cells if is_test(c)}
    return sorted({grade_id_of(c) for c in submission.cells if is_test(c) and ours.get(grade_id_of(c)) != c.source})


def rebuild(
    release: nbformat.NotebookNode, submission: nbformat.NotebookNode, seconds: float | None = REBUILD_SECONDS
) -> tuple[nbformat.NotebookNode, list[AnswerMatch], int]:
    """A clean copy of ``release`` holding the student's answers and extra code cells.

    Returns ``(notebook, matches, extra_count)``. Raises :class:`TooLargeToRebuild` past ``seconds``
    (None: no limit).
    """
    clock = _Clock(submission, seconds)
    anchors = _anchor_positions(release, submission, clock)
    matches = match_answers(release, submission, anchors, clock)
    clock.check()
    extras = _extras(submission, _landmarks(release, submission, anchors, matches))
    by_grade_id = {m.grade_id: m for m in matches}

    rebuilt = copy.deepcopy(release)
    cells = []
    for i, cell in enumerate(rebuilt.cells):
        cells.extend(_student_cell(submission.cells[j].source) for j in extras.get(i, []))
        match = by_grade_id[grade_id_of(cell)] if is_answer(cell) else None
        if match and match.source_index is not None:
            cell.source = submission.cells[match.source_index].source
        cells.append(cell)
    cells.extend(_student_cell(submission.cells[j].source) for j in extras[None])
    rebuilt.cells = cells
    return rebuilt, matches, sum(len(v) for v in extras.values())


def review_bounded(
    cells: Iterable[tuple[str, str]], cell_chars: int = REVIEW_CELL_CHARS, total_chars: int = REVIEW_CHARS
) -> list[str]:
    """:func:`autograde.grading.flags.review_flags` of ``cells`` (``(label, source)`` pairs) in bounded time: it costs
    about 1.5 s per 100,000 characters of code. A cell over ``cell_chars``, or past ``total_chars`` of code in all,
    is not reviewed; a flag says so instead, for a person to read it."""
    from autograde.grading.flags import review_flags

    reviewed, too_long, past_total, total = [], [], [], 0
    for label, source in cells:
        if len(source) > cell_chars:
            too_long.append(
                f"{label}: not reviewed: {len(source):,} characters, more than the {cell_chars:,} reviewed per cell; read it"
            )
        elif total + len(source) > total_chars:
            past_total.append(label)
        else:
            reviewed.append((label, source))
            total += len(source)
    if past_total:
        which = (
            past_total[0]
            if len(past_total) == 1
            else f"{past_total[0]} to {past_total[-1]} ({len(past_total):,} cells)"
        )
        too_long.append(
            f"{which}: not reviewed: the student's code passed the {total_chars:,} characters reviewed per notebook; read it"
        )
    return review_flags(reviewed) + too_long


@dataclass
class Prepared:
    """What grading needs of a student's notebook: the rebuilt notebook and the row's answers, notes and flags."""

    notebook: nbformat.NotebookNode
    answers: list  # how each answer cell was found (autograde.grading.rows.Answer)
    notes: list = field(default_factory=list)
    flags: list = field(
        default_factory=list
    )  # student code to review (autograde.grading.flags), and cells too large to review


def prepare_bounded(
    release: nbformat.NotebookNode, submission: nbformat.NotebookNode, seconds: float | None = REBUILD_SECONDS
) -> Prepared:
    """Rebuilds ``submission`` on ``release``, finds its edited tests and reviews its code, in bounded time and size.

    Raises :class:`TooLargeToRebuild` (its message is the row's note) when the rebuild runs past ``seconds``;
    the review reads at most REVIEW_CELL_CHARS per cell and REVIEW_CHARS in all (see :func:`review_bounded`).
    """
    notebook, matches, extra = rebuild(release, submission, seconds)
    prepared = Prepared(notebook, [Answer(m.grade_id, m.found, m.how) for m in matches])
    if extra:
        prepared.notes.append(
            f"{extra} extra code cell(s) of the student's ran where they were, before the instructor cell that followed them"
        )
    edited = edited_tests(release, submission)
    if edited:
        prepared.notes.append(f"edited test cells were replaced by the originals: {', '.join(edited)}")
    student_cells = [
        (f"cell {i + 1}", c.source)
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and cell_origin(c) == STUDENT
    ]
    prepared.flags = review_bounded(student_cells)
    return prepared
