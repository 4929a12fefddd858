"""Reasoning questions: a number the student works out, graded on its value by the grader alone.

In the notebook, ``check_answer_recorded`` passes any finite number and says nothing of whether it is right; the hidden
``check_answer`` compares it, in the grader, with the private references' value and names a known mistake's value.
"""

import math

import nbformat
import numpy as np
import pytest

from autograde.cells import is_test
from autograde.grading.judge import judged_params, lab_modules
from autograde.grading.references import answer, answer_to
from course_utils.checks import CheckFailed, check_answer, check_answer_recorded, compare_answer, probe_answer

# Issue 25 asks for at least two reasoning questions a lab.
LABS_WITH_REASONING = (
    "lab1_rnns_from_scratch",
    "lab2_music_generation",
    "lab3_tweet_sentiment",
    "lab4_seq2seq_attention",
)
QUESTION = answer(4 * (32 * 64 + 64 * 64 + 64), {"leave out the biases": 4 * (32 * 64 + 64 * 64)})


@pytest.mark.parametrize("value", [24832, 24832.0, np.int64(24832), np.float32(24832)])
def test_a_recorded_number_passes_without_saying_whether_it_is_right(value, capsys):
    check_answer_recorded({"lstm_parameters": value}, "lstm_parameters")
    out = capsys.readouterr().out
    assert "recorded" in out and "does not say whether it is right" in out


@pytest.mark.parametrize(
    "answers, message",
    [
        ({}, "no answer yet: set answers['q'] to a number"),
        ({"q": None}, "answers['q'] is None: it should be a finite number"),
        ({"q": "12"}, "answers['q'] is '12': it should be a finite number"),
        ({"q": True}, "answers['q'] is True"),
        ({"q": math.inf}, "answers['q'] is inf"),
        (
            {"q": 10**400},
            "answers['q'] is 1000.*: it should be a finite number",
        ),  # past any float: not "your code raised"
        ([("q", 1)], "answers should be the dict the notebook made, got list"),
    ],
)
def test_a_missing_or_non_numeric_answer_fails_saying_what_to_set(answers, message):
    with pytest.raises(CheckFailed, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        check_answer_recorded(answers, "q")


def test_the_graded_check_does_not_run_in_a_notebook():
    with pytest.raises(CheckFailed, match="run by the grader when you submit"):
        check_answer({"q": 1}, "q")


def test_the_grader_passes_the_right_value_and_names_a_known_mistake():
    def judged(value):
        return compare_answer(probe_answer({"q": value}, "q"), QUESTION, "q")

    assert judged(24832) == "answers['q'] = 24832 is right"
    with pytest.raises(CheckFailed, match="what you get if you leave out the biases"):
        judged(24576)
    with pytest.raises(CheckFailed, match=r"answers\['q'\] = 100 is not right$"):
        judged(100)
    with pytest.raises(CheckFailed, match="no answer yet"):
        compare_answer(probe_answer({}, "q"), QUESTION, "q")


def test_a_tolerance_admits_a_rounded_answer():
    question = answer(1 / 0.6, rtol=0.01)
    assert "is right" in compare_answer(probe_answer({"q": 1.67}, "q"), question, "q")
    with pytest.raises(CheckFailed):
        compare_answer(probe_answer({"q": 1.8}, "q"), question, "q")


def test_an_unknown_question_says_which_exist():
    with pytest.raises(KeyError, match="no reasoning question 'q2'.*\\['q'\\]"):
        answer_to({"q": QUESTION}, "q2")


def reasoning_calls(course, lab):
    """[(cell source, visible names, hidden names)] for each test cell of ``lab`` that asks a reasoning question."""
    cells = []
    for cell in nbformat.read(course.solution_notebook(lab), as_version=4).cells:
        if not is_test(cell):
            continue
        calls = [(call, params) for call, params in judged_params(lab, cell.source)]
        visible = {p["name"] for c, p in calls if c.check == "answer_recorded" and not c.hidden}
        hidden = {p["name"] for c, p in calls if c.check == "answer" and c.hidden}
        if visible or hidden or any(c.check == "answer" for c, _ in calls):
            cells.append((cell.source, visible, hidden, calls))
    return cells


@pytest.mark.parametrize(
    "lab",
    [
        "lab1_rnns_from_scratch",
        "lab2_music_generation",
        "lab3_tweet_sentiment",
        "lab4_seq2seq_attention",
        "lab5_image_captioning",
    ],
)
def test_every_reasoning_question_is_recorded_in_view_and_graded_in_hiding(course, lab):
    """Each question's cell checks the answer is recorded where students see it, and its value only in hidden tests,
    against a value the references know; the labs issue 25 names ask at least two."""
    _, references = lab_modules(lab)
    names = set()
    for source, visible, hidden, calls in reasoning_calls(course, lab):
        assert visible == hidden, f"{lab}: a question recorded but not graded, or graded unseen: {source}"
        assert all(c.hidden for c, _ in calls if c.check == "answer"), f"{lab}: check_answer in view: {source}"
        for name in hidden:
            expected = references.expect_answer(name)
            for mistake, value in expected["mistakes"]:  # else the feedback would call a right answer a mistake
                assert abs(value - expected["value"]) > expected["atol"] + expected["rtol"] * abs(expected["value"]), (
                    f"{lab}: {name}: {mistake!r} gives the right value"
                )
        names |= hidden
    if lab in LABS_WITH_REASONING:
        assert len(names) >= 2, f"{lab} asks {len(names)} reasoning questions"


def test_the_grader_judges_a_hidden_question_against_the_labs_references(monkeypatch):
    from autograde.grading.judge import judge

    lab = "lab1_rnns_from_scratch"
    _, references = lab_modules(lab)
    monkeypatch.setattr(references, "expect_answer", lambda name: answer_to({"q": QUESTION}, name), raising=False)
    source = "checks.check_answer_recorded(answers, name='q')\n### BEGIN HIDDEN TESTS\nchecks.check_answer(answers, name='q')\n### END HIDDEN TESTS\n"
    (visible, visible_params), (hidden, hidden_params) = judged_params(lab, source)
    assert not visible.hidden and hidden.hidden
    observed = probe_answer({"q": 24576}, "q")
    assert "recorded" in judge(lab, visible, visible_params, observed)
    with pytest.raises(CheckFailed, match="leave out the biases"):
        judge(lab, hidden, hidden_params, observed)


def test_a_forged_observation_fails_as_a_wrong_answer_would():
    for forged in (10**400, [1, 2], {"value": 1}):
        with pytest.raises(CheckFailed, match="should be a finite number"):
            compare_answer({"recorded": True, "value": forged, "shown": "?"}, QUESTION, "q")
