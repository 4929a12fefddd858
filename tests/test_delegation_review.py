"""Delegation judged in the grader from the student's code (autograde.delegation_review): no code is run."""
import pytest

from autograde.delegation_review import delegation, probe_exercises
from course_utils.checks.delegation import Exercise, Forbidden

SETUP = ["import keras\nimport numpy as np\nimport tensorflow as tf\nfrom course_utils.checks import lab1 as checks"]
CLIP = Exercise("clip_gradients", "compute the global norm yourself",
                (Forbidden("tf.clip_by_global_norm", "tensorflow/python/ops/clip_ops.py", "clip_by_global_norm"),))
RNN = Exercise("MyRNNCell", "write the step yourself", (Forbidden("keras.layers.SimpleRNNCell", "keras/src/layers/rnn/simple_rnn.py"),))


@pytest.mark.parametrize("student", [
    "def clip_gradients(grads, max_norm):\n    return tf.clip_by_global_norm(grads, max_norm)\n",
    "from tensorflow import clip_by_global_norm as clip\ndef clip_gradients(grads, max_norm):\n    return clip(grads, max_norm)\n",
    "import tensorflow as t2\ndef clip_gradients(grads, max_norm):\n    return t2.clip_by_global_norm(grads, max_norm)\n",
    # through a helper of the student's, defined in another cell
    "def helper(g, m):\n    return tf.clip_by_global_norm(g, m)\n\ndef clip_gradients(grads, max_norm):\n    return helper(grads, max_norm)\n",
    # a default argument captured at definition time
    "def clip_gradients(grads, max_norm, f=tf.clip_by_global_norm):\n    return f(grads, max_norm)\n",
])
def test_a_forbidden_function_named_in_the_answer_is_refused(student):
    message = delegation(CLIP, [student], SETUP, "clip_gradients")
    assert message and message.startswith("clip_gradients calls tf.clip_by_global_norm, which is the exercise itself")


@pytest.mark.parametrize("student", [
    "class MyRNNCell(keras.layers.SimpleRNNCell):\n    pass\n",  # a subclass
    "from keras.layers import SimpleRNNCell as Cell\nclass MyRNNCell(keras.layers.Layer):\n"
    "    def __init__(self, units):\n        super().__init__()\n        self.inner = Cell(units)\n",
])
def test_a_forbidden_class_used_by_the_answer_is_refused(student):
    assert "is the exercise itself" in delegation(RNN, [student], SETUP, "MyRNNCell")


def test_honest_code_and_other_cells_are_not_refused():
    honest = "def clip_gradients(grads, max_norm):\n    norm = tf.sqrt(sum(tf.reduce_sum(g * g) for g in grads if g is not None))\n    return grads, norm\n"
    elsewhere = "clipped, norm = tf.clip_by_global_norm([tf.ones(3)], 1.0)  # an experiment in another cell\n"
    assert delegation(CLIP, [honest, elsewhere], SETUP, "clip_gradients") is None
    assert delegation(CLIP, ["def clip_gradients(:\n"], SETUP, "clip_gradients") is None  # does not parse: nothing to read
    assert delegation(CLIP, [], SETUP, "clip_gradients") is None  # not defined at all: the probe will say so


def test_every_exercise_of_every_lab_is_named_by_a_probe():
    # The grader finds an exercise's forbidden functions through the probe that names it: none may be left unnamed.
    from course_utils.checks import lab1, lab2, lab3, lab4
    from course_utils.checks.delegation import Exercise

    seen = set()
    for module in (lab1, lab2, lab3, lab4):
        exercises = {value.name for value in vars(module).values() if isinstance(value, Exercise) and id(value) not in seen}
        seen |= {id(value) for value in vars(module).values() if isinstance(value, Exercise)}  # imported ones count once
        probes = [v.probe for k, v in vars(module).items() if k.startswith("check_") and hasattr(v, "probe")]
        named = {exercise.name for probe in probes for exercise in probe_exercises(probe)}
        assert exercises and exercises <= named, (module.__name__, exercises - named)
