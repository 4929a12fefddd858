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
"""
import copy
import difflib
import itertools
from dataclasses import dataclass

import nbformat

SIMILAR_ENOUGH = 0.35  # a student's answer keeps the stub's signature and docstring
SAME_CELL = 0.9  # a cell this close to an instructor cell is that cell, not an extra one
STUDENT_ORIGIN = {"autograde": {"origin": "student"}}
STUB_LEFT_IN_PLACE = "stub left in place, answer in the cell below"


@dataclass
class AnswerMatch:
    grade_id: str
    how: str  # "grade_id", "cell id", "position and similarity 0.82" or "missing"; remarks in brackets: "grade_id (the last of 2 copies)"
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


def _is_test(cell):
    return bool(_nbgrader(cell).get("grade")) and not _nbgrader(cell).get("solution")


def _remark(how, remark):
    """Adds ``remark`` to ``how``, all remarks in one pair of brackets (the CSV joins answers with "; ")."""
    return f"{how[:-1]}, {remark})" if how.endswith(")") else f"{how} ({remark})"


def match_answers(release, submission, anchors=None):
    """Finds the student's cell for every answer cell of the release notebook."""
    anchors = _anchor_positions(release, submission) if anchors is None else anchors
    answers = [(i, c) for i, c in enumerate(release.cells) if _is_answer(c)]
    cells = submission.cells
    answer_ids = {_nbgrader(c)["grade_id"] for _, c in answers}
    claimed, matches = set(), {}

    def free(j, grade_id):
        # A cell carrying an answer's grade_id is that answer or a copy of it; a test's copy is no answer.
        theirs = _nbgrader(cells[j]).get("grade_id")
        return (j not in claimed and cells[j].get("cell_type") == "code" and not _is_test(cells[j])
                and (theirs not in answer_ids or theirs == grade_id))

    def claim(grade_id, found, how):
        index = found[-1]  # the last copy counts, as with nbgrader's DeduplicateIds
        claimed.add(index)
        matches[grade_id] = AnswerMatch(grade_id, _remark(how, f"the last of {len(found)} copies") if len(found) > 1 else how, index)

    for key, how in ((lambda c: _nbgrader(c).get("grade_id"), "grade_id"), (lambda c: c.get("id"), "cell id")):
        for _, cell in answers:  # 1. the nbgrader id survived; 2. the cell id survived
            grade_id = _nbgrader(cell)["grade_id"]
            if grade_id in matches or key(cell) is None:
                continue
            found = [j for j, c in enumerate(cells) if free(j, grade_id) and key(c) == key(cell)]
            if found:
                claim(grade_id, found, how)

    # 3. where it stands and what it looks like. The best-scoring pairs are taken first, over all the answers still
    # to find: taken in answer order, a missing answer would claim a later answer that resembles its stub.
    pairs = []
    for order, (position, cell) in enumerate(answers):
        grade_id = _nbgrader(cell)["grade_id"]
        if grade_id in matches:
            continue
        low, high = _window(position, anchors, len(cells))
        pairs += [
            (_similarity(cells[j].source, cell.source) + (0.1 if low <= j < high else 0.0), -order, j, grade_id)
            for j in range(len(cells))
            if free(j, grade_id) and j not in anchors.values()
        ]
    for score, _, j, grade_id in sorted(pairs, reverse=True):
        if score >= SIMILAR_ENOUGH and grade_id not in matches and j not in claimed:
            claim(grade_id, [j], f"position and similarity {min(score, 1.0):.2f}")
    for _, cell in answers:
        grade_id = _nbgrader(cell)["grade_id"]
        matches.setdefault(grade_id, AnswerMatch(grade_id, "missing", None))
    result = [matches[_nbgrader(c)["grade_id"]] for _, c in answers]
    _note_stubs_left_in_place(release, submission, result, _landmarks(release, submission, anchors, result))
    return result


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


def _landmarks(release, submission, anchors, matches):
    """Student cell index -> release cell index, for the student's cells that stand for a release cell:
    instructor cells left (almost) unchanged, copies of test cells (by grade_id, edited or not), answers."""
    tests = {_nbgrader(c)["grade_id"]: i for i, c in enumerate(release.cells) if _is_test(c)}
    answers = {_nbgrader(c)["grade_id"]: i for i, c in enumerate(release.cells) if _is_answer(c)}
    marks = {j: i for i, j in anchors.items()}
    for j, cell in enumerate(submission.cells):
        if _is_test(cell) and _nbgrader(cell).get("grade_id") in tests:
            marks.setdefault(j, tests[_nbgrader(cell)["grade_id"]])
    marks.update({m.source_index: answers[m.grade_id] for m in matches if m.source_index is not None})
    return marks


def _is_extra(cell, j, landmarks):
    """A student's own code cell: not an instructor cell, an answer or a copy of a test (ours run instead)."""
    return j not in landmarks and cell.get("cell_type") == "code" and bool(cell.source.strip()) and not _is_test(cell)


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
    stubs = {_nbgrader(c)["grade_id"]: c.source.strip() for c in release.cells if _is_answer(c)}
    cells = submission.cells
    for match in matches:
        j = match.source_index
        if j is None or cells[j].source.strip() != stubs[match.grade_id]:
            continue
        following = itertools.takewhile(lambda k: k not in landmarks, range(j + 1, len(cells)))
        if any(_is_extra(cells[k], k, landmarks) for k in following):
            match.how = _remark(match.how, STUB_LEFT_IN_PLACE)


def _student_cell(source):
    return nbformat.v4.new_code_cell(source, metadata=copy.deepcopy(STUDENT_ORIGIN))


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
    anchors = _anchor_positions(release, submission)
    matches = match_answers(release, submission, anchors)
    extras = _extras(submission, _landmarks(release, submission, anchors, matches))
    by_grade_id = {m.grade_id: m for m in matches}

    rebuilt = copy.deepcopy(release)
    cells = []
    for i, cell in enumerate(rebuilt.cells):
        cells.extend(_student_cell(submission.cells[j].source) for j in extras.get(i, []))
        match = by_grade_id[_nbgrader(cell)["grade_id"]] if _is_answer(cell) else None
        if match and match.source_index is not None:
            cell.source = submission.cells[match.source_index].source
        cells.append(cell)
    cells.extend(_student_cell(submission.cells[j].source) for j in extras[None])
    rebuilt.cells = cells
    return rebuilt, matches, sum(len(v) for v in extras.values())
