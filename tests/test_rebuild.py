"""Submissions are rebuilt on the release notebook, whatever their editor did to the metadata."""
import copy

import nbformat
import pytest

from autograde.examples import answers_from_solution, fill
from autograde.rebuild import edited_tests, match_answers, rebuild

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
    assert {m.grade_id: m.how for m in matches}["my_lstm_cell"] == "missing"
    lstm = [c for c in rebuilt.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "my_lstm_cell"][0]
    assert "raise NotImplementedError" in lstm.source


def test_extra_cells_run_before_the_answer_they_preceded(release, finished):
    notebook = copy.deepcopy(finished[0])
    position = next(i for i, c in enumerate(notebook.cells) if "def clip_gradients" in c.source)
    notebook.cells.insert(position, nbformat.v4.new_code_cell("SCALE = 2  # my helper"))
    rebuilt, _, extra = rebuild(release, notebook)
    sources = [c.source for c in rebuilt.cells]
    assert extra == 1
    assert sources.index("SCALE = 2  # my helper") == next(i for i, s in enumerate(sources) if "def clip_gradients" in s) - 1


def test_edited_tests_are_replaced_by_ours(release, finished):
    notebook = copy.deepcopy(finished[0])
    test = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_lstm_cell")
    test.source = "pass"
    test.metadata["nbgrader"]["points"] = 100
    rebuilt, _, extra = rebuild(release, notebook)
    assert edited_tests(release, notebook) == ["test_lstm_cell"] and extra == 0
    ours = next(c for c in rebuilt.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_lstm_cell")
    assert ours.source != "pass" and ours.metadata["nbgrader"]["points"] == 3
