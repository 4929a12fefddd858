"""Prediction questions: a recorded answer among the choices passes, anything else says what to do; every lab asks at
least three, each before its experiment, and reveals what the run measured after it."""

import json
import re

import pytest

from course_utils.checks import CheckFailed, check_prediction
from course_utils.predictions import Predictions

LABS_WITH_PREDICTIONS = ("lab1_rnns_from_scratch", "lab2_music_generation", "lab3_tweet_sentiment")


@pytest.mark.parametrize("answer", ["grow", "Grow", " grow. ", "about  the same"])
def test_an_answer_among_the_choices_passes_whatever_it_is(answer, capsys):
    check_prediction(Predictions(tanh_rho2=answer), "tanh_rho2", ("grow", "shrink", "about the same"))
    assert "recorded" in capsys.readouterr().out


@pytest.mark.parametrize(
    "predictions, message",
    [
        (Predictions(), "no prediction yet: set predictions['tanh_rho2'] to 'grow' or 'shrink'"),
        (Predictions(tanh_rho2="explode"), "predictions['tanh_rho2'] is 'explode': it should be 'grow' or 'shrink'"),
        (Predictions(tanh_rho2=None), "predictions['tanh_rho2'] is None"),
        (Predictions(tanh_rho2=["grow"]), "predictions['tanh_rho2'] is ['grow']"),
        ("grow", "predictions should be the Predictions() the notebook made, got str"),
        ({"tanh_rho2": "grow"}, "rather than assigning predictions itself"),
        (
            Predictions(tanh_rho2=0.5),
            "predictions['tanh_rho2'] is 0.5: it should be 'grow' or 'shrink' (a string, in quotes)",
        ),
    ],
)
def test_a_missing_or_unknown_answer_fails_saying_what_to_set(predictions, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check_prediction(predictions, "tanh_rho2", ("grow", "shrink"))


def test_a_number_is_an_answer_when_the_choice_is_that_number():
    check_prediction(Predictions(temperature=0.5), "temperature", ("0.5", "1.5", "about the same"))


@pytest.mark.parametrize(
    "answer, start",
    [
        ("grow", "\u2714 You predicted 'grow'; this run shows 'grow'"),
        ("shrink", "\u2718 You predicted 'shrink', but this run shows 'grow'"),
        (None, "You made no prediction for 'tanh_rho2'"),
    ],
)
def test_reveal_compares_the_answer_with_the_measured_outcome(answer, start, capsys):
    predictions = Predictions() if answer is None else Predictions(tanh_rho2=answer)
    predictions.reveal("tanh_rho2", "grow", "from 5.7 to 126.")
    out = capsys.readouterr().out
    assert out.startswith(start) and out.rstrip().endswith("from 5.7 to 126.")


@pytest.mark.parametrize("lab", LABS_WITH_PREDICTIONS)
def test_each_lab_asks_three_predictions_before_and_reveals_after_the_experiment(course, lab):
    cells = json.loads((course.root / "solutions" / lab / f"{lab}.ipynb").read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells]
    asked = {}
    for i, (cell, source) in enumerate(zip(cells, sources)):
        match = re.search(r'checks\.check_prediction\(predictions, "(\w+)"', source)
        if match:
            assert cell["metadata"]["nbgrader"]["grade"] and cell["metadata"]["nbgrader"]["points"] == 1
            answer_cell = cells[i - 1]["metadata"].get("nbgrader", {})
            assert answer_cell.get("solution") and f'predictions["{match.group(1)}"]' in sources[i - 1]
            asked[match.group(1)] = i
    assert len(asked) >= 3
    for name, asked_at in asked.items():
        revealed_at = [i for i, source in enumerate(sources) if f'predictions.reveal("{name}"' in source]
        assert len(revealed_at) == 1 and revealed_at[0] > asked_at, f"{name}: the reveal must come after the question"
