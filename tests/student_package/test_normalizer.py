"""course_utils.load_normalizer: a SavedModel with Lab 4's endpoints reloads as a function of strings."""

import json

import pytest

import course_utils
from course_utils.normalizer import DESCRIPTION, SAVED_MODEL, Normalizer


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A stand-in for Lab 4's export: the same endpoints, with a string function in place of the model."""
    import keras
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("lab4")
    archive = keras.export.ExportArchive()
    layer = keras.layers.Dense(1)
    layer.build((None, 1))
    archive.track(layer)  # an archive must track a built layer
    archive.add_endpoint(
        "greedy", lambda texts: tf.strings.upper(texts), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    archive.add_endpoint(
        "beam_3", lambda text: tf.strings.join([text, "!"]), input_signature=[tf.TensorSpec([], tf.string)]
    )
    archive.write_out(str(folder / SAVED_MODEL))
    (folder / DESCRIPTION).write_text(json.dumps({"beam_widths": [3], "trained_on": "nothing"}))
    return folder


@pytest.mark.slow  # writes and loads a SavedModel
def test_inputs_are_standardized_and_both_decoders_answer(saved):
    normalize = course_utils.load_normalizer(saved)
    assert isinstance(normalize, Normalizer) and normalize.beam_widths == (3,)
    assert normalize(["The twenty-first of November, twenty  twenty-six", "Zweiundvierzig"]) == [
        "THE TWENTY FIRST OF NOVEMBER TWENTY TWENTY SIX",
        "ZWEIUNDVIERZIG",
    ]
    assert normalize(("forty two",), beam_width=3) == ["forty two!"]
    assert normalize([]) == []
    assert course_utils.load_normalizer(saved / SAVED_MODEL)(["a"]) == ["A"]  # the SavedModel folder itself


@pytest.mark.slow
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda n: n("forty two"), TypeError, r"a list of strings, e.g. normalize\(\['forty two'\]\)"),
        (lambda n: n([42]), TypeError, "one of them is not a str"),
        (lambda n: n(["x"], beam_width=5), ValueError, r"beam_width=5: this model was saved with beam widths \(3,\)"),
    ],
)
def test_bad_calls_say_what_to_do(saved, call, error, message):
    with pytest.raises(error, match=message):
        call(course_utils.load_normalizer(saved))


def test_a_folder_without_a_model_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run Lab 4 to the end"):
        course_utils.load_normalizer(tmp_path)
