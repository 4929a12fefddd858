"""Lab 5's caption helpers: word ids both ways, the three scores, attention maps, and the saved captioner's loader."""

import numpy as np
import pytest

from course_utils import captioning, scenes
from course_utils.captioning import END_ID, PAD_ID, decode_ids, encode_captions, score_captions


@pytest.fixture(scope="module")
def examples():
    return scenes.make_examples(40, "val", seed=0)


def test_captions_become_ids_and_back(examples):
    captions = [references[0] for references in examples.references]
    ids = encode_captions(captions)
    assert ids.shape == (40, captioning.MAX_CAPTION_LENGTH) and ids.dtype == np.int32
    assert decode_ids(ids) == captions
    for row, caption in zip(ids, captions, strict=True):
        words = len(caption.split())
        assert row[words] == END_ID and not row[words + 1 :].any()


def test_the_longest_reference_fits_with_its_end_token():
    four = scenes.make_examples(20, "train", seed=1, objects=4)
    longest = max(len(r.split()) for references in four.references for r in references)
    assert longest + 1 == captioning.MAX_CAPTION_LENGTH


def test_decoding_stops_at_the_end_token_and_skips_padding_and_start():
    word = captioning.WORD_IDS
    ids = [
        [captioning.START_ID, word["a"], word["red"], word["circle"], END_ID, word["a"]],
        [word["a"], PAD_ID, 0, 0, 0, 0],
    ]
    assert decode_ids(ids) == ["a red circle", "a"]


def test_bad_captions_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"caption 1 .* outside the vocabulary: \['purple'\]"):
        encode_captions(["a red circle", "a purple circle"])
    with pytest.raises(ValueError, match="needs length > 3"):
        encode_captions(["a red circle"], length=3)
    with pytest.raises(ValueError, match="outside 0..18"):
        decode_ids([[99]])


def test_the_references_score_perfectly(examples):
    table = score_captions([references[0] for references in examples.references], examples)
    assert set(table) == {1, 2, 3, 4, "all"}
    for row in table.values():
        assert row["fully_true"] == row["precision"] == row["recall"] == row["exact_match"] == 1.0
        assert row["bleu4"] == pytest.approx(1.0)
    assert table["all"]["images"] == 40 and sum(table[k]["images"] for k in (1, 2, 3, 4)) == 40


def test_one_wrong_colour_keeps_bleu_high_and_makes_the_caption_false(examples):
    # BLEU's blind spot, which Lab 5 shows on a model's own captions.
    rows = [i for i, scene in enumerate(examples.scenes) if len(scene.objects) == 4]
    captions = [examples.references[i][0] for i in rows]
    wrong = []
    for caption in captions:
        words = caption.split()
        colour = next(i for i, w in enumerate(words) if w in scenes.COLOURS)
        words[colour] = next(c for c in scenes.COLOURS if c != words[colour])
        wrong.append(" ".join(words))
    subset = scenes.Examples(
        examples.images[rows], [examples.scenes[i] for i in rows], [examples.references[i] for i in rows]
    )
    table = score_captions(wrong, subset)[4]
    assert table["fully_true"] == 0 and table["bleu4"] > 0.8


def test_bleu_of_captions_without_any_match_is_zero_and_quiet(recwarn):
    assert captioning.bleu4(["a a a"], [["a red circle"]]) == pytest.approx(0.0, abs=1e-9)
    assert not [w for w in recwarn if "n-gram" in str(w.message) or "gram overlaps" in str(w.message)]
    assert 0 < captioning.sentence_bleu4("a red circle", ["a red circle left of a blue square"]) < 1


def test_format_scores_has_a_row_per_name_and_objects(examples):
    table = score_captions([references[0] for references in examples.references], examples)
    text = captioning.format_scores({"model": table, "again": table})
    assert len(text.splitlines()) == 1 + 2 * 5 and "BLEU-4" in text.splitlines()[0]


def test_attention_maps_are_drawn_for_each_word(examples):
    import matplotlib

    matplotlib.use("Agg")
    weights = np.random.default_rng(0).dirichlet(np.ones(64), size=3)
    figure = captioning.plot_attention(examples.images[0], ["a", "red", "circle"], weights, columns=2)
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["a", "red", "circle"]
    with pytest.raises(ValueError, match="square grid"):
        captioning.plot_attention(examples.images[0], ["a"], np.ones((1, 10)) / 10)
    with pytest.raises(ValueError, match=r"\(len\(words\), grid cells\)"):
        captioning.plot_attention(examples.images[0], ["a", "b"], weights)


def test_loading_a_folder_without_a_captioner_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run Lab 5 to the end"):
        captioning.load_captioner(tmp_path)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A stand-in for Lab 5's export: the same endpoint, captions from the images' mean colour in place of a model."""
    import json

    import keras
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("lab5")
    archive = keras.export.ExportArchive()
    layer = keras.layers.Dense(1)
    layer.build((None, 1))
    archive.track(layer)  # an archive must track a built layer

    def caption(images):
        bright = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2, 3]) > 40
        return tf.where(bright, "a large red circle", "a small blue square")

    size = scenes.IMAGE_SIZE
    archive.add_endpoint("caption", caption, input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
    archive.write_out(str(folder / captioning.SAVED_MODEL))
    (folder / captioning.DESCRIPTION).write_text(json.dumps({"trained_on": "nothing"}))
    return folder


@pytest.mark.slow  # writes and loads a SavedModel
def test_a_saved_captioner_reloads_as_a_function_of_images(saved, examples):
    import course_utils

    caption = course_utils.load_captioner(saved)
    assert repr(caption) == "SavedCaptioner(trained_on='nothing')"
    dark = np.zeros((scenes.IMAGE_SIZE, scenes.IMAGE_SIZE, 3), np.uint8)
    assert caption(np.stack([dark, dark + 255])) == ["a small blue square", "a large red circle"]
    assert caption(dark) == ["a small blue square"]  # one image is a batch of one
    assert caption(examples.images[:0]) == []
    assert captioning.load_captioner(saved / captioning.SAVED_MODEL)(dark) == ["a small blue square"]
    with pytest.raises(ValueError, match=r"should be \(N, 64, 64, 3\)"):
        caption(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(TypeError, match="should be uint8"):
        caption(examples.images.astype(np.float32))
