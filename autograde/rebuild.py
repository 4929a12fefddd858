"""Rebuilds a student's notebook on a clean copy of the release notebook before grading.

nbgrader grades by cell metadata, and Colab and other editors lose or change it (nbgrader
issues #1273, #1398, #1941). So we never grade the student's file as it is: we take the
student's answer for each answer cell of the release notebook and put it into a clean copy
of that notebook. Everything else (instructions, setup, test cells) comes from the release,
so edited or deleted test cells never count. The student's extra code cells run where they
were: just before the answer cell that followed them.

An answer cell is matched by, in order: its nbgrader ``grade_id``; its cell id; its
position between the cells around it and the similarity of its code to the stub.
"""
import copy
import difflib
from dataclasses import dataclass

import nbformat

SIMILAR_ENOUGH = 0.35  # a student's answer keeps the stub's signature and docstring
SAME_CELL = 0.9  # a cell this close to an instructor cell is that cell, not an extra one


@dataclass
class AnswerMatch:
    grade_id: str
    how: str  # "grade_id", "cell id", "position and similarity 0.82" or "missing"
    source_index: int | None  # index of the student's cell, None when missing


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _similarity(a, b, at_least=0.0):
    """difflib's ratio of two sources; 0 when its cheap upper bounds show it is below ``at_least``."""
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < at_least or matcher.quick_ratio() < at_least:
        return 0.0
    return matcher.ratio()


def _is_answer(cell):
    return cell.get("cell_type") == "code" and _nbgrader(cell).get("solution")


def match_answers(release, submission, anchors=None):
    """Finds the student's cell for every answer cell of the release notebook."""
    anchors = _anchor_positions(release, submission) if anchors is None else anchors
    answers = [(i, c) for i, c in enumerate(release.cells) if _is_answer(c)]
    cells = submission.cells
    claimed, matches = set(), {}

    def claim(grade_id, index, how):
        claimed.add(index)
        matches[grade_id] = AnswerMatch(grade_id, how, index)

    for _, cell in answers:  # 1. the nbgrader id survived
        grade_id = _nbgrader(cell)["grade_id"]
        found = [j for j, c in enumerate(cells) if j not in claimed and _nbgrader(c).get("grade_id") == grade_id and c.get("cell_type") == "code"]
        if found:
            claim(grade_id, found[0], "grade_id")
    for _, cell in answers:  # 2. the cell id survived
        grade_id = _nbgrader(cell)["grade_id"]
        if grade_id not in matches:
            found = [j for j, c in enumerate(cells) if j not in claimed and c.get("id") == cell.get("id") and c.get("cell_type") == "code"]
            if found:
                claim(grade_id, found[0], "cell id")

    for position, cell in answers:  # 3. where it stands and what it looks like
        grade_id = _nbgrader(cell)["grade_id"]
        if grade_id in matches:
            continue
        low, high = _window(position, anchors, len(cells))
        candidates = [
            (_similarity(cells[j].source, cell.source) + (0.1 if low <= j < high else 0.0), j)
            for j, c in enumerate(cells)
            if j not in claimed and c.get("cell_type") == "code" and j not in anchors.values()
        ]
        best = max(candidates, default=(0.0, None))
        if best[1] is not None and best[0] >= SIMILAR_ENOUGH:
            claim(grade_id, best[1], f"position and similarity {min(best[0], 1.0):.2f}")
        else:
            matches[grade_id] = AnswerMatch(grade_id, "missing", None)
    return [matches[_nbgrader(c)["grade_id"]] for _, c in answers]


def _anchor_positions(release, submission):
    """Release cell index -> student cell index, for instructor cells the student left (almost) unchanged."""
    anchors, used = {}, set()
    unchanged = {}
    for j, theirs in enumerate(submission.cells):
        unchanged.setdefault((theirs.get("cell_type"), theirs.source), []).append(j)
    ours = [(i, c) for i, c in enumerate(release.cells) if not _is_answer(c)]
    for i, cell in ours:  # cells left exactly as they were: a dictionary lookup
        free = [j for j in unchanged.get((cell.cell_type, cell.source), []) if j not in used]
        if free:
            anchors[i] = free[0]
            used.add(free[0])
    for i, cell in ours:  # cells touched a little (a comment, a blank line): similarity
        if i in anchors:
            continue
        for j, theirs in enumerate(submission.cells):
            if j not in used and theirs.get("cell_type") == cell.cell_type and _similarity(theirs.source, cell.source, SAME_CELL) >= SAME_CELL:
                anchors[i] = j
                used.add(j)
                break
    return anchors


def _window(position, anchors, length):
    """Student cell indices between the anchors around release cell ``position``."""
    before = [anchors[i] for i in anchors if i < position]
    after = [anchors[i] for i in anchors if i > position]
    return (max(before) + 1 if before else 0), (min(after) if after else length)


def edited_tests(release, submission):
    """grade_ids of test cells the student changed (their copies are ignored: ours run)."""
    ours = {_nbgrader(c)["grade_id"]: c.source for c in release.cells if _nbgrader(c).get("grade")}
    return sorted(
        {_nbgrader(c)["grade_id"] for c in submission.cells if _nbgrader(c).get("grade") and ours.get(_nbgrader(c)["grade_id"]) != c.source}
    )


def rebuild(release, submission):
    """A clean copy of ``release`` holding the student's answers and extra code cells.

    Returns ``(notebook, matches, extra_count)``.
    """
    anchor_map = _anchor_positions(release, submission)
    matches = match_answers(release, submission, anchor_map)
    by_grade_id = {m.grade_id: m for m in matches}
    anchors = set(anchor_map.values())
    matched = {m.source_index for m in matches if m.source_index is not None}
    # Cells that still carry test-cell metadata are (possibly edited) copies of our tests, not extras.
    tests = {j for j, c in enumerate(submission.cells) if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")}

    # Student code cells that are neither an answer nor an instructor cell, grouped by the
    # answer cell that follows them in the student's notebook (None: after the last answer).
    extras, pending = {}, []
    for j, cell in enumerate(submission.cells):
        if j in matched:
            grade_id = next(m.grade_id for m in matches if m.source_index == j)
            extras[grade_id], pending = pending, []
        elif j not in anchors and j not in tests and cell.get("cell_type") == "code" and cell.source.strip():
            pending.append(cell.source)
    extras[None] = pending

    rebuilt = copy.deepcopy(release)
    cells = []
    for cell in rebuilt.cells:
        if _is_answer(cell):
            grade_id = _nbgrader(cell)["grade_id"]
            cells.extend(nbformat.v4.new_code_cell(source) for source in extras.get(grade_id, []))
            match = by_grade_id[grade_id]
            if match.source_index is not None:
                cell.source = submission.cells[match.source_index].source
        cells.append(cell)
    cells.extend(nbformat.v4.new_code_cell(source) for source in extras[None])
    rebuilt.cells = cells
    extra_count = sum(len(v) for v in extras.values())
    return rebuilt, matches, extra_count
