"""refuse_delegation recognises a forbidden function by its code, however the student reaches it, and only inside the watch."""

import ast
import fnmatch
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import ROOT, lab_check_modules
from tensorflow import clip_by_global_norm as imported_early  # an alias taken before any check runs

from course_utils import metrics, text
from course_utils.checks import CheckFailed, lab1, lab3
from course_utils.checks.delegation import (
    DelegationRefused,
    Exercise,
    Forbidden,
    defining_file,
    refuse_delegation,
    refusing_delegation,
)
from course_utils.vocab import Vocabulary

GRADS = [tf.ones((2, 3)), None, tf.fill((4,), 2.0)]
CLIP_REFUSED = r"^clip_gradients calls tf.clip_by_global_norm, which is the exercise itself: compute the global norm and the scale yourself$"


def own_clip(grads, max_norm):
    """Clipping by global norm from allowed primitives."""
    norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads if g is not None]))
    scale = tf.minimum(1.0, max_norm / tf.maximum(norm, 1e-12))
    return [None if g is None else g * scale for g in grads], norm


def load_file_as_module(path, name):
    """Imports the file at ``path`` under the module name ``name``, whatever folder it sits in."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- every route to tf.clip_by_global_norm ---------------------------------------------------------------


def direct(grads, max_norm):
    return tf.clip_by_global_norm(grads, max_norm)


def via_early_alias(grads, max_norm):
    return imported_early(grads, max_norm)


def via_default_argument(grads, max_norm, clip=tf.clip_by_global_norm):
    return clip(grads, max_norm)


def via_closure():
    clip = tf.clip_by_global_norm

    def clip_gradients(grads, max_norm):
        return clip(grads, max_norm)

    return clip_gradients


def helper(values, limit):
    return tf.clip_by_global_norm(values, limit)


def via_wrapper(grads, max_norm):
    return helper(grads, max_norm)


@pytest.mark.parametrize(
    "student",
    [
        direct,
        via_early_alias,
        via_default_argument,
        via_closure(),
        via_wrapper,
        lambda g, m: tf.clip_by_global_norm(g, m),
    ],
    ids=["direct", "alias imported earlier", "default argument", "closure", "wrapper", "lambda"],
)
def test_every_route_to_the_forbidden_function_is_refused(student):
    with pytest.raises(DelegationRefused, match=CLIP_REFUSED):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            student(GRADS, 1.0)


def test_a_refusal_is_a_failed_check():
    assert issubclass(DelegationRefused, CheckFailed) and issubclass(DelegationRefused, AssertionError)


def test_a_replaced_module_attribute_changes_nothing(monkeypatch):
    original = tf.clip_by_global_norm
    monkeypatch.setattr(tf, "clip_by_global_norm", own_clip)  # the module no longer names the real one
    with pytest.raises(DelegationRefused, match=CLIP_REFUSED):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            original(GRADS, 1.0)
    with refuse_delegation(lab1.CLIP_GRADIENTS):
        tf.clip_by_global_norm(GRADS, 1.0)  # now the student's own code under the library's name


def test_replacing_sys_setprofile_does_not_switch_the_watch_off(monkeypatch):
    monkeypatch.setattr(sys, "setprofile", lambda hook: None)
    with pytest.raises(DelegationRefused):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            direct(GRADS, 1.0)


SWITCHED_OFF = r"^clip_gradients calls sys.setprofile, which switches off the check's watch"


@pytest.mark.parametrize("put_back", [False, True], ids=["left off", "put back afterwards"])
def test_switching_the_watch_off_is_refused(put_back):
    before = sys.getprofile()
    with pytest.raises(DelegationRefused, match=SWITCHED_OFF):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            watch = sys.getprofile()
            sys.setprofile(None)
            direct(GRADS, 1.0)
            if put_back:
                sys.setprofile(watch)
    assert sys.getprofile() is before


def test_a_thread_started_under_the_watch_is_watched():
    from concurrent.futures import ThreadPoolExecutor

    with pytest.raises(DelegationRefused, match=CLIP_REFUSED):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            with ThreadPoolExecutor(1) as pool:
                pool.submit(direct, GRADS, 1.0).result()


def test_a_checks_reference_refuses_to_run_while_watched_however_it_is_reached():
    import types
    from concurrent.futures import ThreadPoolExecutor

    from autograde.grading.references import lab3 as references

    reference = references._macro_recall_over_true_classes
    # A copy of its code under another file name is not recognised by its code, but keeps the reference's own guard.
    renamed = types.FunctionType(reference.__code__.replace(co_filename="student.py"), reference.__globals__)
    y = np.array([0, 1, 1])
    assert renamed(y, y, 2) == 1.0  # outside a watch it runs
    for route in (lambda: renamed(y, y, 2), lambda: ThreadPoolExecutor(1).submit(reference, y, y, 2).result()):
        with pytest.raises(DelegationRefused, match="^macro_recall calls the check's reference macro recall"):
            with refuse_delegation(lab3.MACRO_RECALL):
                route()


def test_allowed_primitives_pass_and_calls_outside_the_watch_do_not_count():
    expected, _ = tf.clip_by_global_norm(GRADS, 1.0)  # the check's own reference, before the watch
    with refuse_delegation(lab1.CLIP_GRADIENTS):
        clipped, _ = own_clip(GRADS, 1.0)
        tf.clip_by_norm(GRADS[0], 1.0)  # same file as the forbidden function, another name
    tf.clip_by_global_norm(GRADS, 1.0)  # after the watch
    np.testing.assert_allclose(clipped[0], expected[0], rtol=1e-6)


def test_refusing_delegation_wraps_a_function():
    watched = refusing_delegation(own_clip, lab1.CLIP_GRADIENTS)
    clipped, norm = watched(GRADS, max_norm=1.0)
    assert clipped[1] is None and float(norm) == pytest.approx(np.sqrt(6 + 16))
    with pytest.raises(DelegationRefused, match=CLIP_REFUSED):
        refusing_delegation(direct, lab1.CLIP_GRADIENTS)(GRADS, 1.0)


# --- recognised by file and name --------------------------------------------------------------------------


def test_a_fresh_copy_of_a_course_module_elsewhere_is_recognised(tmp_path):
    copy = tmp_path / "grader" / "course_utils" / "metrics.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / "course_utils" / "metrics.py", copy)
    private = load_file_as_module(copy, "private_copy_of_metrics")
    with pytest.raises(DelegationRefused, match="^macro_recall calls course_utils.metrics.per_class_recall"):
        with refuse_delegation(lab3.MACRO_RECALL):
            private.per_class_recall([0, 1, 1], [0, 1, 0], 2)


def test_a_private_copy_compiled_under_a_relative_file_name_is_recognised():
    # As the grader builds the course's modules in the kernel: compiled from source, named relative to the repository.
    namespace = {}
    exec(compile((ROOT / "course_utils" / "metrics.py").read_text(), "course_utils/metrics.py", "exec"), namespace)
    with pytest.raises(DelegationRefused, match="^macro_recall calls course_utils.metrics.per_class_recall"):
        with refuse_delegation(lab3.MACRO_RECALL):
            namespace["per_class_recall"]([0, 1], [0, 0], 2)


@pytest.mark.parametrize("relative", ["metrics.py", "not_course_utils/metrics.py"])
def test_a_function_of_the_same_name_in_another_file_is_allowed(tmp_path, relative):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("def per_class_recall(y_true, y_pred, num_classes=3):\n    return 1.0\n")
    student_module = load_file_as_module(path, f"student_{path.parent.name}_metrics")
    with refuse_delegation(lab3.MACRO_RECALL):
        assert student_module.per_class_recall([0], [0]) == 1.0


def test_a_librarys_file_is_found_from_its_public_object_wherever_the_library_keeps_it(tmp_path, monkeypatch):
    for release, private in (
        ("1.0", "fakelib/_impl/cells.py"),
        ("2.0", "fakelib/_src/layers/cells.py"),
    ):  # 2.0 moved it
        root = tmp_path / release
        (root / private).parent.mkdir(parents=True)
        (root / private).write_text("class Cell:\n    def call(self):\n        return 1\n")
        for folder in (root / private).parents[:-1]:
            (folder / "__init__.py").touch()
        module = private.removesuffix(".py").replace("/", ".")
        (root / "fakelib" / "__init__.py").write_text(f"from {module} import Cell\n")  # the public name: fakelib.Cell
        monkeypatch.syspath_prepend(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == "fakelib"]:
            monkeypatch.delitem(sys.modules, name)
        assert defining_file("fakelib.Cell") == private
        forbidden = Forbidden.defined_with("fakelib.Cell", "fakelib.Cell", "Cell.call")
        exercise = Exercise("MyCell", hint="write it yourself", forbidden=(forbidden,))
        with pytest.raises(DelegationRefused, match="^MyCell calls fakelib.Cell"):
            with refuse_delegation(exercise):
                importlib.import_module("fakelib").Cell().call()


def _qualnames(path):
    """The qualified names of the functions and classes a Python file defines."""
    names = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(prefix + child.name)
                visit(child, prefix + child.name + ("." if isinstance(child, ast.ClassDef) else ".<locals>."))

    visit(ast.parse(path.read_text()), "")
    return names


def test_every_forbidden_keras_function_is_where_the_checks_look():
    """Where a public object leads to Keras's file, the checks follow Keras; the rest name private files, which a new
    Keras may move: then this fails, naming them."""
    import keras

    site = Path(keras.__file__).parents[1]
    keras_forbidden = {
        f
        for module in lab_check_modules()
        for exercise in vars(module).values()
        if isinstance(exercise, Exercise)
        for f in exercise.forbidden
        if f.path.startswith("keras/")
    }
    assert len(keras_forbidden) >= 10
    missing = [
        f"{f.path}: {f.qualname}"
        for f in keras_forbidden
        if not (site / f.path).is_file() or not fnmatch.filter(_qualnames(site / f.path), f.qualname)
    ]
    assert not missing, f"keras {keras.__version__} no longer defines these where the checks look: {missing}"


def test_a_qualname_pattern_matches_every_method_of_a_class():
    exercise = Exercise(
        "Demo", hint="write it yourself", forbidden=(Forbidden("Vocabulary", "course_utils/vocab.py", "Vocabulary.*"),)
    )
    with pytest.raises(
        DelegationRefused, match="^Demo calls Vocabulary, which is the exercise itself: write it yourself$"
    ):
        with refuse_delegation(exercise):
            Vocabulary(["a", "b"])


def test_course_code_converted_by_autograph_inside_tf_function_is_recognised():
    @tf.function
    def compiled(texts):
        return text.standardize_tweet(texts)  # AutoGraph runs a generated copy of standardize_tweet

    exercise = Exercise(
        "Demo",
        hint="write it yourself",
        forbidden=(Forbidden("standardize_tweet", "course_utils/text.py", "standardize_tweet"),),
    )
    with pytest.raises(DelegationRefused, match="^Demo calls standardize_tweet"):
        with refuse_delegation(exercise):
            compiled(tf.constant(["Hello :)"]))


# --- the profile hook: restored, chained, nested ----------------------------------------------------------


def test_the_previous_profile_function_is_restored_after_success_refusal_and_error():
    before = sys.getprofile()
    with refuse_delegation(lab1.CLIP_GRADIENTS):
        own_clip(GRADS, 1.0)
    assert sys.getprofile() is before
    with pytest.raises(DelegationRefused):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            direct(GRADS, 1.0)
    assert sys.getprofile() is before
    with pytest.raises(ZeroDivisionError):
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            1 / 0  # noqa: B018 -- the error is the point
    assert sys.getprofile() is before


def test_an_error_of_the_body_gives_way_to_the_refusal():
    with pytest.raises(DelegationRefused, match=CLIP_REFUSED) as refused:
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            direct(GRADS, 1.0)
            raise ValueError("the student's own bug")
    assert isinstance(refused.value.__cause__, ValueError)


def test_a_profiler_installed_before_keeps_seeing_calls_and_comes_back():
    calls = []

    def profiler(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)

    sys.setprofile(profiler)
    try:
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            own_clip(GRADS, 1.0)
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)
    assert "own_clip" in calls


def test_nested_watches_each_watch_their_own_body():
    before = sys.getprofile()
    with pytest.raises(DelegationRefused, match="^clip_gradients calls"):  # the outer watch sees into the inner body
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            with refuse_delegation(lab3.MACRO_RECALL):
                direct(GRADS, 1.0)
    with pytest.raises(DelegationRefused, match="^macro_recall calls"):  # the inner refusal comes out unchanged
        with refuse_delegation(lab1.CLIP_GRADIENTS):
            with refuse_delegation(lab3.MACRO_RECALL):
                metrics.per_class_recall([0, 1], [0, 0], 2)
    assert sys.getprofile() is before


# --- scikit-learn (not a course dependency, but in Colab): a stand-in at the same paths -------------------

SKLEARN_CLASSIFICATION = """
import numpy as np


def recall_score(y_true, y_pred, average="macro"):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def balanced_accuracy_score(y_true, y_pred):
    return recall_score(y_true, y_pred)
"""

SKLEARN_CLASS_WEIGHT = """
import numpy as np


def compute_class_weight(class_weight, classes, y):
    counts = np.bincount(np.asarray(y), minlength=len(classes))
    return len(y) / (len(classes) * counts[classes])
"""


@pytest.fixture(scope="module")
def sklearn_stand_in(tmp_path_factory):
    """Modules whose files sit where scikit-learn keeps recall_score and compute_class_weight."""
    root = tmp_path_factory.mktemp("site-packages") / "sklearn"
    files = {"metrics/_classification.py": SKLEARN_CLASSIFICATION, "utils/class_weight.py": SKLEARN_CLASS_WEIGHT}
    modules = {}
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        modules[path.stem] = load_file_as_module(path, f"sklearn_stand_in_{path.stem}")
    return modules


@pytest.mark.parametrize("name", ["recall_score", "balanced_accuracy_score"])
def test_macro_recall_from_scikit_learn_is_refused(sklearn_stand_in, name):
    score = getattr(sklearn_stand_in["_classification"], name)
    with pytest.raises(DelegationRefused, match=f"^macro_recall calls sklearn.metrics.{name}"):
        lab3.check_macro_recall(lambda y_true, y_pred, num_classes=3: score(y_true, y_pred))


def test_class_weights_from_scikit_learn_are_refused(sklearn_stand_in):
    compute = sklearn_stand_in["class_weight"].compute_class_weight

    def class_weights(labels, num_classes):
        return dict(enumerate(compute("balanced", classes=np.arange(num_classes), y=labels)))

    with pytest.raises(DelegationRefused, match="^class_weights calls sklearn.utils.class_weight.compute_class_weight"):
        lab3.check_class_weights(class_weights)


def test_every_forbidden_file_of_the_course_exists():
    """course_utils names the references' files by path (it cannot import autograde): they must be where course.py says."""
    from autograde.course import INSTRUCTOR_PACKAGE, Course

    course = Course.load(ROOT)
    ours = {
        f.path
        for module in lab_check_modules()
        for exercise in vars(module).values()
        if isinstance(exercise, Exercise)
        for f in exercise.forbidden
        if f.path.startswith(f"{INSTRUCTOR_PACKAGE}/")
    }
    assert ours, "the checks refuse the references' own functions"
    assert {(course.root / path).parent for path in ours} == {course.references_dir}
    assert all((course.root / path).is_file() for path in ours), sorted(ours)
