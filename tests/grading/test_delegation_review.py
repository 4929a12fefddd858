"""Delegation judged in the grader from the student's code (autograde.grading.delegation_review): no code is run."""

import pytest
from helpers import lab_check_modules

from autograde.grading.delegation_review import delegation, probe_exercises
from course_utils.checks.delegation import Exercise, Forbidden

SETUP = ["import keras\nimport numpy as np\nimport tensorflow as tf\nfrom course_utils.checks import lab1 as checks"]
CLIP = Exercise(
    "clip_gradients",
    "compute the global norm yourself",
    (Forbidden("tf.clip_by_global_norm", "tensorflow/python/ops/clip_ops.py", "clip_by_global_norm"),),
)
RNN = Exercise(
    "MyRNNCell",
    "write the step yourself",
    (Forbidden.defined_with("keras.layers.SimpleRNNCell", "keras.layers.SimpleRNNCell"),),
)


@pytest.mark.parametrize(
    "student",
    [
        "def clip_gradients(grads, max_norm):\n    return tf.clip_by_global_norm(grads, max_norm)\n",
        "from tensorflow import clip_by_global_norm as clip\ndef clip_gradients(grads, max_norm):\n    return clip(grads, max_norm)\n",
        "import tensorflow as t2\ndef clip_gradients(grads, max_norm):\n    return t2.clip_by_global_norm(grads, max_norm)\n",
        # through a helper of the student's, defined in another cell
        "def helper(g, m):\n    return tf.clip_by_global_norm(g, m)\n\ndef clip_gradients(grads, max_norm):\n    return helper(grads, max_norm)\n",
        # a default argument captured at definition time
        "def clip_gradients(grads, max_norm, f=tf.clip_by_global_norm):\n    return f(grads, max_norm)\n",
    ],
)
def test_a_forbidden_function_named_in_the_answer_is_refused(student):
    message = delegation(CLIP, [student], SETUP, "clip_gradients")
    assert message and message.startswith("clip_gradients calls tf.clip_by_global_norm, which is the exercise itself")


@pytest.mark.parametrize(
    "student",
    [
        "class MyRNNCell(keras.layers.SimpleRNNCell):\n    pass\n",  # a subclass
        "from keras.layers import SimpleRNNCell as Cell\nclass MyRNNCell(keras.layers.Layer):\n"
        "    def __init__(self, units):\n        super().__init__()\n        self.inner = Cell(units)\n",
    ],
)
def test_a_forbidden_class_used_by_the_answer_is_refused(student):
    assert "is the exercise itself" in delegation(RNN, [student], SETUP, "MyRNNCell")


def test_honest_code_and_other_cells_are_not_refused():
    honest = "def clip_gradients(grads, max_norm):\n    norm = tf.sqrt(sum(tf.reduce_sum(g * g) for g in grads if g is not None))\n    return grads, norm\n"
    elsewhere = "clipped, norm = tf.clip_by_global_norm([tf.ones(3)], 1.0)  # an experiment in another cell\n"
    assert delegation(CLIP, [honest, elsewhere], SETUP, "clip_gradients") is None
    assert (
        delegation(CLIP, ["def clip_gradients(:\n"], SETUP, "clip_gradients") is None
    )  # does not parse: nothing to read
    assert delegation(CLIP, [], SETUP, "clip_gradients") is None  # not defined at all: the probe will say so


def test_every_exercise_of_every_lab_is_named_by_a_probe():
    # The grader finds an exercise's forbidden functions through the probe that names it: none may be left unnamed.
    from course_utils.checks.delegation import Exercise

    seen = set()
    for module in lab_check_modules():
        exercises = {
            value.name for value in vars(module).values() if isinstance(value, Exercise) and id(value) not in seen
        }
        seen |= {
            id(value) for value in vars(module).values() if isinstance(value, Exercise)
        }  # imported ones count once
        probes = [v.probe for k, v in vars(module).items() if k.startswith("check_") and hasattr(v, "probe")]
        named = {exercise.name for probe in probes for exercise in probe_exercises(probe)}
        assert exercises and exercises <= named, (module.__name__, exercises - named)


@pytest.mark.parametrize(
    "student",
    [
        # a parameter that shares its name with a notebook variable built with Keras
        [
            "model = keras.Sequential([keras.layers.Dense(2)])\n",
            "def clip_gradients(grads, max_norm, model=None):\n    return grads, 1.0\n",
        ],
        # a local that shares its name with a notebook variable
        ["c = tf.clip_by_global_norm\n", "def clip_gradients(grads, max_norm):\n    c = 2.0\n    return grads, c\n"],
        # a class compared with, not run
        [
            "def clip_gradients(grads, max_norm):\n    assert not isinstance(grads, tf.clip_by_global_norm)\n    return grads, 1.0\n"
        ],
        # an annotation is not a call
        [
            "def clip_gradients(grads: tf.clip_by_global_norm, max_norm) -> tf.clip_by_global_norm:\n    return grads, 1.0\n"
        ],
    ],
)
def test_names_the_answer_does_not_run_are_not_delegation(student):
    assert delegation(CLIP, student, SETUP, "clip_gradients") is None


def test_a_forbidden_function_of_a_library_the_grader_has_not_loaded_is_known_by_its_name():
    recall = Exercise(
        "macro_recall",
        "count it yourself",
        (Forbidden("sklearn.metrics.recall_score", "sklearn/metrics/_classification.py", "recall_score"),),
    )
    student = "from sklearn.metrics import recall_score\ndef macro_recall(y, p, k):\n    return recall_score(y, p, average='macro')\n"
    assert "is the exercise itself" in delegation(recall, [student], SETUP, "macro_recall")


def test_no_module_a_student_names_is_imported_by_the_grader():
    import sys

    student = "def clip_gradients(grads, max_norm):\n    x: numpy.f2py.__main__ = 1\n    return numpy.distutils_student_module.run(grads), 1.0\n"
    delegation(CLIP, [student], SETUP + ["import numpy"], "clip_gradients")
    assert "numpy.f2py.__main__" not in sys.modules and "numpy.distutils_student_module" not in sys.modules


def test_tf_keras_is_keras():
    student = "class MyRNNCell(tf.keras.layers.SimpleRNNCell):\n    pass\n"
    assert "is the exercise itself" in delegation(RNN, [student], SETUP, "MyRNNCell")
