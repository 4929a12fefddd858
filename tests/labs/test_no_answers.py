"""Nothing a student can import is an answer: every public name of ``course_utils`` fails every exercise's check,
as the grader judges it (probe in process, expectation from the private references), and no line of the private
references is in the student package.

The exercises are read from the solution notebooks (every function or class their solution cells define), so a new
exercise without a row in ``EXERCISES`` fails ``test_every_exercise_is_tried``.
"""

import ast
import functools
import importlib
import inspect
import json
import pkgutil
import signal
import time

import keras
import numpy as np
import pytest
from helpers import ROOT, judged, solution_namespace

import course_utils
from autograde.course import Course
from course_utils.checks import lab1, lab2, lab3, lab4, lab5

LABS = (
    "lab1_rnns_from_scratch",
    "lab2_music_generation",
    "lab3_tweet_sentiment",
    "lab4_seq2seq_attention",
    "lab5_image_captioning",
)
# An attempt that runs longer fails. The solutions' checks take at most a few seconds (the test below holds them to a
# third of this), so a public name this slow is no answer; a probe of another exercise, handed this one's arguments,
# can run for minutes.
SECONDS_PER_ATTEMPT = 30


def public_callables():
    """{"module.name": object} for every public function and class reachable from course_utils, each object once."""
    found = {}
    modules = [course_utils] + [
        importlib.import_module(info.name) for info in pkgutil.walk_packages(course_utils.__path__, "course_utils.")
    ]
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("_") or not callable(value) or inspect.ismodule(value):
                continue
            if not (getattr(value, "__module__", "") or "").startswith("course_utils"):
                continue  # numpy, keras, ... re-exported by import: not the course's to ship
            found.setdefault(id(value), (f"{module.__name__}.{name}", value))
    return dict(found.values())


@pytest.fixture(scope="module")
def solutions(course):
    return {lab: solution_namespace(course, lab) for lab in LABS}


@pytest.fixture(scope="module")
def exercises(solutions):
    """{(lab, exercise name): check(candidate)} for every exercise (two labs may name an exercise alike)."""
    s1, s2, s3, _, _ = (solutions[lab] for lab in LABS)
    vectorizer = keras.layers.TextVectorization(max_tokens=30, output_sequence_length=6)
    vectorizer.adapt(np.array(["good day", "bad day", "ok then"], dtype=object))
    model = s3["build_classifier"](30, 4, [keras.layers.GlobalAveragePooling1D()])
    by_lab = {
        "lab1_rnns_from_scratch": {
            "MyRNNCell": lambda c: (
                judged(lab1.check_rnn_cell_weights, c),
                judged(lab1.check_rnn_cell_matches_simple_rnn, c),
            ),
            "build_rnn_model": lambda f: judged(lab1.check_rnn_model, f, s1["MyRNNCell"]),
            "rnn_step_backward": functools.partial(judged, lab1.check_rnn_step_backward),
            "rnn_backward": functools.partial(judged, lab1.check_rnn_backward),
            "jacobian_norms": functools.partial(judged, lab1.check_jacobian_norms),
            "clip_gradients": functools.partial(judged, lab1.check_clip_gradients),
            "MyLSTMCell": functools.partial(judged, lab1.check_lstm_cell),
            "MyPeepholeLSTMCell": functools.partial(judged, lab1.check_peephole_lstm_cell),
            "make_selective_recall": functools.partial(judged, lab1.check_recall_task),
        },
        "lab2_music_generation": {
            "vectorize_string": lambda f: judged(lab2.check_vectorize, f, s2["ids_to_string"]),
            "ids_to_string": lambda f: judged(lab2.check_vectorize, s2["vectorize_string"], f),
            "get_batch": functools.partial(judged, lab2.check_get_batch),
            "build_model": functools.partial(judged, lab2.check_build_model),
            "compute_loss": functools.partial(judged, lab2.check_loss),
            "make_train_step": lambda f: judged(lab2.check_train_step, f, s2["build_model"]),
            "sample_next": functools.partial(judged, lab2.check_sample_next),
            "sample_in_time": functools.partial(judged, lab2.check_sample_in_time),
            "generate_ids": functools.partial(judged, lab2.check_generate),
        },
        "lab3_tweet_sentiment": {
            "build_classifier": functools.partial(judged, lab3.check_classifier),
            "make_encoder": functools.partial(judged, lab3.check_encoder),
            "class_weights": functools.partial(judged, lab3.check_class_weights),
            "macro_recall": functools.partial(judged, lab3.check_macro_recall),
            "MyAttentionPooling": functools.partial(judged, lab3.check_attention_pooling),
            "LayerNormLSTMCell": functools.partial(judged, lab3.check_layer_norm_lstm_cell),
            "build_string_model": lambda f: judged(
                lab3.check_string_model, f, vectorizer, model, ["good day", "bad", "new words"]
            ),
        },
        "lab4_seq2seq_attention": {
            "MyGRUCell": functools.partial(judged, lab4.check_gru_cell),
            "build_encoder": functools.partial(judged, lab4.check_encoder),
            "AdditiveAttention": functools.partial(judged, lab4.check_attention),
            "make_decoder_io": functools.partial(judged, lab4.check_decoder_io),
            "masked_loss": functools.partial(judged, lab4.check_masked_loss),
            "make_train_step": functools.partial(judged, lab4.check_train_step),
            "sequence_accuracy": functools.partial(judged, lab4.check_sequence_accuracy),
            "make_greedy_decoder": functools.partial(judged, lab4.check_greedy_decoder),
            "beam_search": functools.partial(judged, lab4.check_beam_search),
        },
        "lab5_image_captioning": {
            "ImageEncoder": functools.partial(judged, lab5.check_image_encoder),
            "SoftAttention": functools.partial(judged, lab5.check_attention),
            "Captioner": functools.partial(judged, lab5.check_decoder_step),
            "captioning_loss": functools.partial(judged, lab5.check_captioning_loss),
            "make_greedy_captioner": functools.partial(judged, lab5.check_greedy_captioner),
        },
    }
    return {(lab, name): check for lab, checks in by_lab.items() for name, check in checks.items()}


def solution_cell_definitions(course, lab):
    """Names of the functions and classes the solution cells of ``lab`` define at top level."""
    cells = json.loads(course.solution_notebook(lab).read_text())["cells"]
    names = set()
    for cell in cells:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            tree = ast.parse("".join(cell["source"]))
            names |= {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return names


def test_every_exercise_is_tried(course, exercises):
    defined = {(lab, name) for lab in LABS for name in solution_cell_definitions(course, lab)}
    assert defined == set(exercises), f"add a row to exercises for {sorted(defined - set(exercises))}"


def test_the_solutions_pass_the_checks_as_called_here(solutions, exercises):
    # Guards the table: a check called with the wrong arguments would fail every candidate for the wrong reason; and
    # the time limit: an answer must have time to pass.
    slow = {}
    for (lab, name), check in exercises.items():
        assert not cannot_take(solutions[lab][name], first_call(check)), f"first_call would pass over {name}"
        start = time.monotonic()
        check(solutions[lab][name])
        seconds = time.monotonic() - start
        if seconds > SECONDS_PER_ATTEMPT / 3:
            slow[(lab, name)] = round(seconds, 1)
    assert slow == {}, f"raise SECONDS_PER_ATTEMPT: the solutions' checks took {slow} s"


def _timeout(signum, frame):
    raise TimeoutError(f"took more than {SECONDS_PER_ATTEMPT} s")


def first_call(check):
    """The (args, kwargs) with which ``check`` first calls a function it is given, when that call raising TypeError
    fails the check; else None.

    A plain Python function whose signature cannot take that call raises TypeError there, before its body runs, and
    the check fails the same way: it need not be tried. Lab 4's checks build a model before that call, a third of a
    second an attempt, and almost every public name fails on its arguments.
    """
    calls = []

    def recorder(*args, **kwargs):
        calls.append((args, kwargs))
        raise TypeError("the recorder takes no call")

    try:
        check(recorder)
    except Exception:  # noqa: BLE001  the expected way: the TypeError, or what the check made of it
        return calls[0] if calls else None
    return None


def cannot_take(candidate, call):
    """Whether ``candidate``, a plain function, raises TypeError on ``call`` before running (see first_call)."""
    if call is None or not inspect.isfunction(candidate):
        return False
    args, kwargs = call
    try:
        # The function's own parameters: a functools.wraps wrapper takes any call, whatever it wraps.
        inspect.signature(candidate, follow_wrapped=False).bind(*args, **kwargs)
    except TypeError:
        return True
    return False


# One test an exercise, so that `pytest -n` spreads them: each tries every public callable (about 200).
EXERCISE_NAMES = sorted((lab, name) for lab in LABS for name in solution_cell_definitions(Course.load(ROOT), lab))


@pytest.mark.slow  # about 7,000 attempts in all, most failing at once on their arguments (see first_call)
@pytest.mark.parametrize("lab, exercise", EXERCISE_NAMES, ids=[f"{lab[:4]}-{name}" for lab, name in EXERCISE_NAMES])
def test_no_public_name_passes_the_exercise(lab, exercise, exercises, tmp_path, monkeypatch):
    check = exercises[(lab, exercise)]
    # Side effects of a candidate called with an exercise's arguments stay in a scratch folder, with no data to read.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_OUTPUT_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TWEETS_DIR", str(tmp_path / "no-tweets"))
    call = first_call(check)
    previous = signal.signal(signal.SIGALRM, _timeout)
    passed = []
    try:
        for qualified, candidate in sorted(public_callables().items()):
            if cannot_take(candidate, call):
                continue  # fails as the recorder did
            signal.alarm(SECONDS_PER_ATTEMPT)
            try:
                check(candidate)
            except BaseException as error:  # noqa: BLE001  any failure means it is not an answer
                if isinstance(error, KeyboardInterrupt):
                    raise
            else:
                passed.append(f"{qualified} passes the check of {lab}'s {exercise}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not passed, "\n".join(passed)


def test_the_public_names_include_the_course_layers_and_helpers():
    # Guards the enumeration: an empty or partial list would make the test above pass vacuously.
    names = public_callables()
    for expected in (
        "course_utils.layers.SkipUnknownWords",
        "course_utils.metrics.per_class_recall",
        "course_utils.sampling.CharSampler",
        "course_utils.checks.lab3.check_macro_recall",
    ):
        assert expected in names
    assert len(names) > 60


def test_the_student_package_holds_no_code_of_the_references(course, tmp_path):
    from autograde.authoring.publish import instructor_text_in, reference_functions

    assert len(reference_functions(course)) > 30  # guards the scan: the references are read
    assert instructor_text_in(course, course.root / "course_utils") == []
    # A reference copied into the package under another name is found.
    source = course.references_file("lab1").read_text()
    (tmp_path / "copied.py").write_text(source.replace("def expect_", "def my_own_"))
    assert [
        line for line in instructor_text_in(course, tmp_path) if "the code of the private reference expect_" in line
    ]


def test_no_reference_function_is_left_in_the_public_checks():
    # References moved to autograde/grading/references: the public checks hold probes and comparisons only.
    for module in (lab1, lab2, lab3, lab4, lab5):
        leftovers = [name for name in vars(module) if name.startswith(("_reference", "reference_", "expect_"))]
        assert not leftovers, f"{module.__name__} still defines {leftovers}"
