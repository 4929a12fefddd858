"""Submissions are rebuilt on the release notebook, whatever their editor did to the metadata."""

import copy
import time

import nbformat
import pytest

import autograde.grading.rebuild
from autograde.authoring.examples import answers_from_solution, fill
from autograde.cells import STUDENT_ORIGIN
from autograde.grading.rebuild import (
    STUB_LEFT_IN_PLACE,
    TooLargeToRebuild,
    edited_tests,
    match_answers,
    prepare_bounded,
    rebuild,
    review_bounded,
)
from autograde.grading.rows import Found

LAB = "lab1_rnns_from_scratch"


@pytest.fixture(scope="module")
def release(course):
    return nbformat.read(course.lab_notebook(LAB), as_version=4)


@pytest.fixture(scope="module")
def finished(course, release):
    answers = answers_from_solution(course, LAB)
    return fill(release, answers, set(answers)), answers


def answer_sources(notebook):
    return [c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]


def test_answers_found_by_grade_id(release, finished):
    notebook, answers = finished
    rebuilt, matches, extra = rebuild(release, notebook)
    assert {m.how for m in matches} == {"grade_id"} and extra == 0
    assert answer_sources(rebuilt) == list(answers.values())


def test_answers_found_by_cell_id_when_metadata_is_gone(release, finished):
    notebook = copy.deepcopy(finished[0])
    for cell in notebook.cells:
        cell.metadata = {}
    assert {m.how for m in match_answers(release, notebook)} == {"cell id"}


def test_answers_found_by_position_when_ids_change_too(release, finished):
    notebook = copy.deepcopy(finished[0])
    for i, cell in enumerate(notebook.cells):
        cell.metadata, cell.id = {}, f"x{i}"
    rebuilt, matches, _ = rebuild(release, notebook)
    assert all(m.how.startswith("position and similarity") for m in matches)
    assert answer_sources(rebuilt) == list(finished[1].values())


def test_a_deleted_answer_is_reported_missing_and_keeps_the_stub(release, finished):
    notebook = copy.deepcopy(finished[0])
    for i, cell in enumerate(notebook.cells):
        cell.metadata, cell.id = {}, f"x{i}"
    notebook.cells = [c for c in notebook.cells if "class MyLSTMCell" not in c.source]
    rebuilt, matches, _ = rebuild(release, notebook)
    how = {m.grade_id: m.how for m in matches}
    assert how["my_lstm_cell"] == "missing"
    lstm = [c for c in rebuilt.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "my_lstm_cell"][0]
    assert "raise NotImplementedError" in lstm.source
    # The next answer, a subclass of MyLSTMCell, resembles the missing one's stub: it stays the answer it is.
    assert how["my_peephole_lstm_cell"].startswith("position and similarity")
    peephole = [c for c in rebuilt.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "my_peephole_lstm_cell"][
        0
    ]
    assert "class MyPeepholeLSTMCell" in peephole.source and "raise NotImplementedError" not in peephole.source


def test_answers_whose_stubs_look_alike_stay_in_their_places(release, finished):
    # The three prediction stubs differ by a name. With the ids gone and only the first prediction answered, the
    # untouched second stub matches the first stub better than the answer does: it must not take the answer's place.
    answers = finished[1]
    notebook = fill(release, answers, set(answers) - {"predict_clip_direction", "predict_recall_length_40"})
    expected = answer_sources(notebook)
    for i, cell in enumerate(notebook.cells):
        cell.metadata, cell.id = {}, f"x{i}"
    rebuilt, matches, _ = rebuild(release, notebook)
    assert all(m.how.startswith("position and similarity") for m in matches)
    assert answer_sources(rebuilt) == expected


def test_extra_cells_run_before_the_answer_they_preceded(release, finished):
    notebook = copy.deepcopy(finished[0])
    position = next(i for i, c in enumerate(notebook.cells) if "def clip_gradients" in c.source)
    notebook.cells.insert(position, nbformat.v4.new_code_cell("SCALE = 2  # my helper"))
    rebuilt, _, extra = rebuild(release, notebook)
    sources = [c.source for c in rebuilt.cells]
    assert extra == 1
    assert (
        sources.index("SCALE = 2  # my helper")
        == next(i for i, s in enumerate(sources) if "def clip_gradients" in s) - 1
    )


def test_edited_tests_are_replaced_by_ours(release, finished):
    notebook = copy.deepcopy(finished[0])
    test = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_lstm_cell")
    test.source = "pass"
    test.metadata["nbgrader"]["points"] = 100
    rebuilt, _, extra = rebuild(release, notebook)
    assert edited_tests(release, notebook) == ["test_lstm_cell"] and extra == 0
    ours = next(c for c in rebuilt.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_lstm_cell")
    assert ours.source != "pass" and ours.metadata["nbgrader"]["points"] == 2


def strip_metadata(notebook):
    """What Colab may do: every cell loses its metadata and gets a new id."""
    for i, cell in enumerate(notebook.cells):
        cell.metadata, cell.id = {}, f"x{i}"
    return notebook


def index_of(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def student_cells(notebook):
    return [c for c in notebook.cells if c.metadata.get("autograde", {}).get("origin") == "student"]


@pytest.mark.parametrize("how, same_id", [("grade_id", False), ("cell id", True)])
def test_of_two_copies_of_an_answer_the_last_counts_and_the_first_runs_before_it(release, finished, how, same_id):
    """A student copied the answer cell (metadata and all) and finished the second copy."""
    notebook = copy.deepcopy(finished[0])
    position = index_of(notebook, "clip_gradients")
    stub = copy.deepcopy(release.cells[index_of(release, "clip_gradients")])
    stub.id = stub.id if same_id else "my-copy"
    notebook.cells.insert(position, stub)
    if how == "cell id":
        for cell in notebook.cells:
            cell.metadata = {}
    rebuilt, matches, extra = rebuild(release, notebook)
    clip = next(m for m in matches if m.grade_id == "clip_gradients")
    assert clip.how == f"{how} (the last of 2 copies)" and clip.source_index == position + 1
    answer = index_of(rebuilt, "clip_gradients")
    assert rebuilt.cells[answer].source == finished[1]["clip_gradients"]
    assert rebuilt.cells[answer - 1].source == stub.source and extra == 1
    assert rebuilt.cells[answer - 1].metadata == STUDENT_ORIGIN  # the copy's nbgrader metadata is gone
    nbformat.validate(rebuilt)


def first_after(notebook, grade_id, wanted):
    """The id of the first cell after the cell ``grade_id`` that is ``wanted``."""
    return next(c.id for c in notebook.cells[index_of(notebook, grade_id) + 1 :] if wanted(c))


def plain(cell_type):
    return lambda cell: cell.cell_type == cell_type and "nbgrader" not in cell.metadata


INSTRUCTOR_CELLS = {  # where the helper goes: before the release cell with this id
    "a test": lambda nb: first_after(nb, "clip_gradients", lambda c: True),
    "text": lambda nb: first_after(nb, "test_clip_gradients", plain("markdown")),
    "setup code": lambda nb: first_after(nb, "test_rnn_model", plain("code")),
    "the text before an answer": lambda nb: nb.cells[index_of(nb, "build_rnn_model") - 1].id,
    "code after the last answer": lambda nb: first_after(nb, "test_recall_task", plain("code")),
}


@pytest.mark.parametrize("before", list(INSTRUCTOR_CELLS))
def test_extra_cells_stay_before_the_instructor_cell_that_followed_them(release, finished, before):
    """A helper between an answer and its test, or before text or setup code, is not moved past them."""
    cell_id = INSTRUCTOR_CELLS[before](release)
    notebook = copy.deepcopy(finished[0])
    notebook.cells.insert(
        next(i for i, c in enumerate(notebook.cells) if c.id == cell_id),
        nbformat.v4.new_code_cell("SCALE = 2  # my helper"),
    )
    rebuilt, _, extra = rebuild(release, notebook)
    ids = [c.id for c in rebuilt.cells]
    assert extra == 1 and rebuilt.cells[ids.index(cell_id) - 1].source == "SCALE = 2  # my helper"


@pytest.mark.parametrize("stripped", [False, True], ids=["metadata intact", "metadata stripped"])
def test_a_stub_left_in_place_with_the_answer_below_earns_the_points(release, finished, stripped):
    """The untouched stub is the answer cell (it raises, grading goes on); the cell below runs before the test."""
    answers = finished[1]
    notebook = fill(release, answers, set(answers) - {"clip_gradients"})
    position = index_of(notebook, "clip_gradients")
    notebook.cells.insert(position + 1, nbformat.v4.new_code_cell(answers["clip_gradients"]))
    if stripped:
        strip_metadata(notebook)
    rebuilt, matches, extra = rebuild(release, notebook)
    clip = next(m for m in matches if m.grade_id == "clip_gradients")
    assert clip.source_index == position and clip.how.endswith(f"({STUB_LEFT_IN_PLACE})")
    assert clip.how.startswith("position and similarity" if stripped else "grade_id")
    answer = index_of(rebuilt, "clip_gradients")
    stub = release.cells[index_of(release, "clip_gradients")]
    assert rebuilt.cells[answer].source == stub.source and rebuilt.cells[answer].metadata == stub.metadata
    assert rebuilt.cells[answer + 1].source == answers["clip_gradients"] and extra == 1
    assert rebuilt.cells[answer + 2].metadata["nbgrader"]["grade_id"] == "test_clip_gradients"
    # An untouched stub with nothing below it is just an answer left undone.
    assert {m.how for m in rebuild(release, copy.deepcopy(release))[1]} == {"grade_id"}


def test_cells_the_rebuild_inserts_are_marked_as_the_students(release, finished):
    notebook = copy.deepcopy(finished[0])
    notebook.cells.insert(index_of(notebook, "my_lstm_cell"), nbformat.v4.new_code_cell("import math"))
    notebook.cells.insert(index_of(notebook, "test_lstm_cell"), nbformat.v4.new_code_cell("print(MyLSTMCell)"))
    notebook.cells.append(nbformat.v4.new_code_cell("print('done')"))  # after the last instructor cell: at the end
    rebuilt, _, extra = rebuild(release, notebook)
    assert [c.source for c in student_cells(rebuilt)] == [
        "import math",
        "print(MyLSTMCell)",
        "print('done')",
    ] and extra == 3
    assert rebuilt.cells[-1].source == "print('done')"
    assert all(c.metadata == {"autograde": {"origin": "student"}} for c in student_cells(rebuilt))
    ours = [c for c in rebuilt.cells if c not in student_cells(rebuilt)]
    assert [c.metadata for c in ours] == [c.metadata for c in release.cells]


def small_release():
    """A release notebook of three answers, each with its text and its test, whose stubs share blank lines."""
    cells = []
    for name in ("alpha", "beta", "gamma"):
        cells.append(nbformat.v4.new_markdown_cell(f"## Exercise {name}\nWrite `{name}`."))
        cells.append(
            nbformat.v4.new_code_cell(
                f"def {name}(x):\n\n    # YOUR CODE HERE\n\n    raise NotImplementedError()\n",
                metadata={"nbgrader": {"grade_id": name, "solution": True, "grade": False}},
            )
        )
        cells.append(
            nbformat.v4.new_code_cell(
                f"assert {name}(1) == 1\n",
                metadata={"nbgrader": {"grade_id": f"test_{name}", "grade": True, "points": 1}},
            )
        )
    return nbformat.v4.new_notebook(cells=cells)


def answered(release, *extra_cells, at=1):
    """The release answered, its metadata and ids gone (as Colab may leave it), with ``extra_cells`` inserted at ``at``."""
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = cell.source.replace("    raise NotImplementedError()", "    return x  # done")
    notebook.cells[at:at] = [
        nbformat.from_dict(
            {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
        )
        for source in extra_cells
    ]  # unchecked: 5,000 checks take seconds
    return strip_metadata(notebook)


def timed(function, *args, **kwargs):
    started = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "blank",
    ["\n" * 1_000_000, " " * 1_000_000, (" " * 1_000 + "\n") * 1_000],
    ids=["1 MB of newlines", "1 MB of spaces", "1,000 lines of 1,000 spaces"],
)
def test_a_megabyte_of_blank_lines_rebuilds_quickly(blank):
    """A score once compared the whole cell with every stub (minutes, for 1 MB of newlines); now it reads 5,000 characters."""
    release = small_release()
    (rebuilt, matches, extra), seconds = timed(rebuild, release, answered(release, blank, blank), seconds=None)
    assert seconds < 5, seconds  # it took 30 to 66 s before
    assert all(m.how.startswith("position and similarity") for m in matches) and extra == 0  # blank cells do not run
    assert all("return x  # done" in source for source in answer_sources(rebuilt))


def test_thousands_of_cells_rebuild_quickly(monkeypatch):
    """5,000 cells between an exercise's text and its answer: each answer is compared with the 100 cells nearest its place."""
    compared = []
    similarity = autograde.grading.rebuild._similarity
    monkeypatch.setattr(
        autograde.grading.rebuild, "_similarity", lambda a, b, *args: compared.append(a) or similarity(a, b, *args)
    )
    release = small_release()
    cells = [f"x{i} = {i}\n" + " " * 100 for i in range(5_000)]
    (rebuilt, matches, extra), seconds = timed(rebuild, release, answered(release, *cells, at=4), seconds=None)
    assert seconds < 5 and len(compared) <= 3 * autograde.grading.rebuild.CANDIDATES == 300, (seconds, len(compared))
    assert all(m.how.startswith("position and similarity") for m in matches) and extra == 5_000
    assert all("return x  # done" in source for source in answer_sources(rebuilt))


def test_a_rebuild_past_its_time_budget_stops_with_a_clear_message():
    release = small_release()
    with pytest.raises(
        TooLargeToRebuild, match=r"^the notebook is too large or slow to rebuild: stopped after 0 s \(9 cells, "
    ):
        rebuild(release, answered(release), seconds=0)
    with pytest.raises(TooLargeToRebuild, match="not graded: ask the student to delete the huge or repeated cells"):
        prepare_bounded(release, answered(release), seconds=0)


def test_the_review_reads_a_bounded_amount_of_code():
    cells = [("cell 1", "import ctypes"), ("cell 2", "\n" * 1_000_000)] + [
        (f"cell {i}", "x = 1\n" * 1_000) for i in range(3, 40)
    ]
    flags, seconds = timed(review_bounded, cells)
    assert seconds < 5, seconds
    assert flags == [
        "cell 1: imports ctypes (reaches raw memory and native code)",
        "cell 2: not reviewed: 1,000,000 characters, more than the 20,000 reviewed per cell; read it",
        "cell 19 to cell 39 (21 cells): not reviewed: the student's code passed the 100,000 characters "
        "reviewed per notebook; read it",
    ]


def test_prepare_bounded_fills_the_row(release, finished):
    """What a worker calls: the rebuilt notebook, how each answer was found, notes and flags."""
    notebook = copy.deepcopy(finished[0])
    notebook.cells.insert(3, nbformat.v4.new_code_cell("import ctypes"))
    notebook.cells[index_of(notebook, "test_lstm_cell")].source = "pass"
    prepared = prepare_bounded(release, copy.deepcopy(notebook))
    assert all(a.how == "grade_id" and a.found == Found.GRADE_ID for a in prepared.answers)
    assert any("edited test cells were replaced" in n for n in prepared.notes) and any(
        "ctypes" in f for f in prepared.flags
    )
    test = prepared.notebook.cells[index_of(prepared.notebook, "test_lstm_cell")]
    assert test.source == release.cells[index_of(release, "test_lstm_cell")].source
    nbformat.validate(prepared.notebook)
