"""Lab 5's scenes: reproducible, split by scene, rendered as described, and judged by caption_truth."""

import itertools

import numpy as np
import pytest

from course_utils import scenes
from course_utils.scenes import Scene, SceneObject, caption_truth, make_examples, parse_caption, render

CIRCLE = SceneObject("circle", "red", "large", 12, 12)
SQUARE = SceneObject("square", "blue", "small", 40, 30)
TRIANGLE = SceneObject("triangle", "yellow", "small", 52, 50)
SCENE = Scene((CIRCLE, SQUARE, TRIANGLE))


def test_examples_are_reproducible_and_differ_by_seed_and_split():
    first, again = make_examples(20, "train", seed=3), make_examples(20, "train", seed=3)
    assert first.images.shape == (20, 64, 64, 3) and first.images.dtype == np.uint8
    assert first.scenes == again.scenes and np.array_equal(first.images, again.images)
    assert first.scenes != make_examples(20, "train", seed=4).scenes
    assert not set(first.scenes) & set(make_examples(20, "val", seed=3).scenes)


@pytest.mark.parametrize("split", scenes.SPLITS)
def test_every_scene_belongs_to_the_split_asked_for(split):
    data = make_examples(60, split, seed=1)
    assert {scene.split for scene in data.scenes} == {split}
    held_out = {(o.colour, o.shape) for scene in data.scenes for o in scene.objects} & set(scenes.HELD_OUT_PAIRS)
    assert bool(held_out) == (split == "compositional")


def test_the_split_is_decided_by_the_scene_alone():
    # The same objects listed in another order are the same scene, in the same split.
    for scene in make_examples(40, "test", seed=2).scenes:
        for order in itertools.permutations(scene.objects):
            assert Scene(order).split == "test"


def test_object_counts_are_drawn_in_turn():
    data = make_examples(9, "train", seed=0, objects=(1, 3, 4))
    assert [len(scene.objects) for scene in data.scenes] == [1, 3, 4] * 3
    assert [len(scene.objects) for scene in make_examples(3, "val", objects=2).scenes] == [2, 2, 2]


def test_objects_keep_their_distance():
    for scene in make_examples(200, "train", seed=5, objects=4).scenes:
        for first, second in itertools.combinations(scene.objects, 2):
            assert abs(first.x - second.x) >= scenes.MIN_GAP and abs(first.y - second.y) >= scenes.MIN_GAP


def test_every_reference_is_fully_true_and_names_every_object():
    data = make_examples(200, "train", seed=6)
    for scene, references in zip(data.scenes, data.references, strict=True):
        assert len(references) == (1 if len(scene.objects) == 1 else len(scenes.RELATIONS))
        for reference in references:
            truth = caption_truth(reference, scene)
            assert truth.fully_true and truth.precision == 1 and truth.recall == 1, (reference, truth)
            assert set(reference.split()) <= set(scenes.VOCABULARY)


def test_render_draws_each_object_in_its_colour_where_it_is():
    image = render(SCENE)
    assert tuple(image[0, 63]) == scenes.BACKGROUND
    for o in SCENE.objects:
        assert tuple(image[o.y, o.x]) == scenes.COLOURS[o.colour]
    # a circle's corners are background, a square's are not; a triangle is narrow at the top
    half = scenes.SIZES["large"]
    assert tuple(image[CIRCLE.y - half + 1, CIRCLE.x - half + 1]) == scenes.BACKGROUND
    square = render(Scene((SceneObject("square", "green", "large", 30, 30),)))
    assert tuple(square[30 - half + 1, 30 - half + 1]) == scenes.COLOURS["green"]
    triangle = render(Scene((SceneObject("triangle", "green", "large", 30, 30),)))
    rows = (triangle != scenes.BACKGROUND).any(-1).sum(1)
    assert rows[30 - half + 1] < rows[30] < rows[30 + half]


def test_bad_scenes_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="colour='purple'"):
        SceneObject("circle", "purple", "small", 20, 20)
    with pytest.raises(ValueError, match="x=2"):
        SceneObject("circle", "red", "large", 2, 20)
    with pytest.raises(ValueError, match="too close"):
        Scene((CIRCLE, SceneObject("square", "red", "small", 14, 40)))
    with pytest.raises(ValueError, match="1 to 4 objects"):
        Scene(())
    with pytest.raises(ValueError, match="split='dev'"):
        make_examples(1, "dev")
    with pytest.raises(ValueError, match="objects=5"):
        make_examples(1, "train", objects=5)


@pytest.mark.parametrize(
    ("caption", "false_facts", "left_out"),
    [
        ("a large red circle left of a small blue square left of a small yellow triangle", (), ()),
        ("a small yellow triangle below a small blue square", (), (CIRCLE,)),
        ("a red circle and a square", (), (TRIANGLE,)),  # true, but says less
        (  # a relation to an object that is not there does not hold either
            "a small red circle left of a small blue square",
            ("no small red circle in the scene", "a small red circle left of a small blue square"),
            (CIRCLE, TRIANGLE),
        ),
        (
            "a large red circle right of a small blue square and a small yellow triangle",
            ("a large red circle right of a small blue square",),
            (),
        ),
        ("a red circle and a red circle", ("no red circle in the scene",), (SQUARE, TRIANGLE)),
        ("a triangle above a circle", ("a triangle above a circle",), (SQUARE,)),
    ],
)
def test_caption_truth_names_each_false_fact_and_each_object_left_out(caption, false_facts, left_out):
    truth = caption_truth(caption, SCENE)
    assert truth.parsed and truth.false_facts == false_facts and truth.left_out == left_out
    assert truth.fully_true == (not false_facts and not left_out)
    assert truth.precision == (truth.facts - len(false_facts)) / truth.facts
    assert truth.recall == 1 - len(left_out) / 3


def test_the_reading_that_makes_most_facts_true_is_taken():
    two_circles = Scene((SceneObject("circle", "red", "small", 10, 10), SceneObject("circle", "red", "large", 40, 40)))
    assert caption_truth("a red circle above a red circle", two_circles).fully_true
    assert caption_truth("a red circle below a red circle", two_circles).fully_true
    truth = caption_truth("a small red circle below a red circle", two_circles)
    assert truth.false_facts == ("a small red circle below a red circle",)


@pytest.mark.parametrize(
    ("caption", "problem"),
    [
        ("", "word 1: expected 'a'"),
        ("a red", "word 3: expected a shape"),
        ("the red circle", "got 'the'"),
        ("a red circle left a blue square", "word 4: expected 'and' or a relation"),
        ("a circle and", "word 4: expected 'a' to start an object, got the end"),
    ],
)
def test_a_caption_outside_the_grammar_states_nothing_true(caption, problem):
    truth = caption_truth(caption, SCENE)
    assert not truth.parsed and problem in truth.problem
    assert truth.precision == 0 and truth.recall == 0 and not truth.fully_true
    with pytest.raises(ValueError, match=problem.split(":")[0]):
        parse_caption(caption)


def test_a_caption_may_be_a_list_of_words():
    assert caption_truth(["a", "red", "circle"], SCENE).recall == pytest.approx(1 / 3)
