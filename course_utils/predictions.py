"""Prediction questions: say what an experiment will show before it runs, then compare with what it measured.

Before a cell that runs an experiment, a lab asks what you expect and you record your answer in the notebook's
``predictions`` (a :class:`Predictions`, a dict from question name to answer). The test cell under it checks that the
answer is one of the choices. The point is for answering, right or wrong: a prediction teaches only when it is honest,
so it is never graded on whether it came true. After the experiment, :meth:`Predictions.reveal` prints your answer
beside what this run measured, and why.

Example:

>>> predictions = Predictions()
>>> predictions["tanh_rho2"] = "grow"
>>> predictions.reveal("tanh_rho2", "grow", "the norm rose from 5.7 to 126 over 40 steps.")
✔ You predicted 'grow'; this run shows 'grow': the norm rose from 5.7 to 126 over 40 steps.
"""


def normalise(answer: object) -> str:
    """How answers are compared: case, runs of spaces and a final full stop do not matter (0.5 and "0.5" are alike)."""
    return " ".join(str(answer).rstrip().rstrip(".").split()).lower()


class Predictions(dict):
    """Your answers to a lab's prediction questions, by question name."""

    def reveal(self, name: str, measured: str | float, why: str) -> None:
        """Prints the answer to question ``name`` beside ``measured`` (what this run showed) and ``why``.

        Args:
            name: the question's name, e.g. ``"tanh_rho2"``.
            measured: the choice that this run's numbers support, e.g. ``"grow"``.
            why: one or two sentences with the measured numbers that decide it.
        """
        answer = self.get(name)
        if answer is None:
            print(f"You made no prediction for {name!r}; this run shows {measured!r}: {why}")
        elif normalise(answer) == normalise(measured):
            print(f"\u2714 You predicted {answer!r}; this run shows {measured!r}: {why}")
        else:
            print(f"\u2718 You predicted {answer!r}, but this run shows {measured!r}: {why}")
