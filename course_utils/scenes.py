"""Lab 5's data: small rendered scenes, captions that describe them, and a judge of whether a caption is true.

A scene is one to four objects on a dark background, each a shape (circle, square, triangle) with a colour, a size
and a position. Because the scene is known, any caption can be checked against it: ``caption_truth`` says which of
the facts a caption states hold and which objects it left out. n-gram scores such as BLEU cannot tell a fluent false
caption from a true one; this can.

Captions follow a small grammar. An object is named by a phrase, ``a [size] [colour] shape``; phrases are joined by
``and`` (which states nothing more) or by a relation, ``left of``, ``right of``, ``above`` or ``below``, which states
that relation between the two objects it joins::

    a large red circle left of a small blue square left of a small yellow triangle

states five facts: each of the three objects exists with those attributes, the circle is left of the square, and the
square is left of the triangle. The reference captions of a scene name every object with all its attributes, chained
by one relation in its direction (left to right with ``left of``, and so on); a scene of one object has one reference.

Objects never overlap, and any two are at least ``MIN_GAP`` pixels apart both across and down, so every relation
between two objects is plain to see.

Splits are by scene: each scene belongs to ``train``, ``val`` or ``test`` by a hash of its content, so no scene is
in two of them. ``compositional`` holds scenes with at least one object whose colour and shape are one of
``HELD_OUT_PAIRS``; no other split has such an object (as CLEVR's CoGenT).

Example:
    >>> from course_utils import scenes
    >>> data = scenes.make_examples(100, "train", seed=0)
    >>> data.images.shape, data.images.dtype
    ((100, 64, 64, 3), dtype('uint8'))
    >>> truth = scenes.caption_truth(data.references[0][0], data.scenes[0])
    >>> truth.fully_true
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

IMAGE_SIZE = 64
SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (220, 50, 47), "green": (60, 180, 75), "blue": (60, 110, 230), "yellow": (235, 200, 40)}
SIZES = {"small": 5, "large": 9}  # half the side of the object's bounding square, in pixels
RELATIONS = ("left of", "right of", "above", "below")
# Colour-shape pairs found only in the compositional split: each colour and each shape is still seen in training.
HELD_OUT_PAIRS = (("red", "triangle"), ("green", "circle"), ("blue", "square"))
SPLITS = ("train", "val", "test", "compositional")
SPLIT_SHARES = {"train": 0.8, "val": 0.1, "test": 0.1}  # of the scenes without a held-out pair, by content hash
MAX_OBJECTS = 4
MIN_GAP = 6  # pixels between any two objects' centres, across and down
BACKGROUND = (28, 28, 32)

# Every word a caption can use, in a fixed order.
VOCABULARY = ("a", *SIZES, *COLOURS, *SHAPES, "and", "left", "right", "of", "above", "below")


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One object of a scene.

    Args:
        shape: one of ``SHAPES``.
        colour: one of ``COLOURS``.
        size: one of ``SIZES``.
        x, y: its centre in pixels, from the image's left and top edges.
    """

    shape: str
    colour: str
    size: str
    x: int
    y: int

    def __post_init__(self):
        for name, allowed in (("shape", SHAPES), ("colour", COLOURS), ("size", SIZES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: use one of {tuple(allowed)}")
        half = SIZES[self.size]
        for name in ("x", "y"):
            if not half <= getattr(self, name) <= IMAGE_SIZE - 1 - half:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}: a {self.size} object's centre is between {half} and "
                    f"{IMAGE_SIZE - 1 - half}, so that it lies inside the {IMAGE_SIZE}x{IMAGE_SIZE} image"
                )

    @property
    def phrase(self) -> str:
        """The phrase that names it with all its attributes: ``'a large red circle'``."""
        return f"a {self.size} {self.colour} {self.shape}"


@dataclasses.dataclass(frozen=True)
class Scene:
    """A scene: its objects, in no particular order.

    Args:
        objects: one to ``MAX_OBJECTS`` :class:`SceneObject`, which neither overlap nor sit closer than
            ``MIN_GAP`` pixels across or down.
    """

    objects: tuple[SceneObject, ...]

    def __post_init__(self):
        object.__setattr__(self, "objects", tuple(self.objects))
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            raise ValueError(f"a scene has 1 to {MAX_OBJECTS} objects; got {len(self.objects)}")
        for first, second in itertools.combinations(self.objects, 2):
            if not _apart(first, second):
                raise ValueError(
                    f"{first} and {second} are too close: centres must be {MIN_GAP} pixels apart across and down, "
                    "and objects must not overlap"
                )

    @property
    def split(self) -> str:
        """The split this scene belongs to (``'train'``, ``'val'``, ``'test'`` or ``'compositional'``)."""
        if any((o.colour, o.shape) in HELD_OUT_PAIRS for o in self.objects):
            return "compositional"
        key = repr(sorted((o.shape, o.colour, o.size, o.x, o.y) for o in self.objects)).encode()
        share = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
        return "train" if share < SPLIT_SHARES["train"] else "val" if share < 1 - SPLIT_SHARES["test"] else "test"


class Examples(NamedTuple):
    """What :func:`make_examples` returns.

    Attributes:
        images: uint8 array, shape ``(n, IMAGE_SIZE, IMAGE_SIZE, 3)``.
        scenes: the :class:`Scene` of each image.
        references: the reference captions of each image (a list of strings).
    """

    images: np.ndarray
    scenes: list[Scene]
    references: list[list[str]]


def _apart(first: SceneObject, second: SceneObject) -> bool:
    dx, dy = abs(first.x - second.x), abs(first.y - second.y)
    reach = SIZES[first.size] + SIZES[second.size] + 1  # bounding squares one pixel apart at least
    return dx >= MIN_GAP and dy >= MIN_GAP and (dx >= reach or dy >= reach)


def relation_holds(relation: str, first: SceneObject, second: SceneObject) -> bool:
    """Whether ``first <relation> second`` holds: ``relation_holds('left of', circle, square)``."""
    if relation == "left of":
        return first.x < second.x
    if relation == "right of":
        return first.x > second.x
    if relation == "above":
        return first.y < second.y
    if relation == "below":
        return first.y > second.y
    raise ValueError(f"relation={relation!r}: use one of {RELATIONS}")


def references(scene: Scene) -> list[str]:
    """The reference captions of a scene: every object named in full, chained in each relation's direction.

    A scene of one object has one reference (its phrase); others have four, one for each relation, e.g. left to
    right joined by ``left of``.
    """
    if len(scene.objects) == 1:
        return [scene.objects[0].phrase]
    orders = {
        "left of": sorted(scene.objects, key=lambda o: o.x),
        "right of": sorted(scene.objects, key=lambda o: -o.x),
        "above": sorted(scene.objects, key=lambda o: o.y),
        "below": sorted(scene.objects, key=lambda o: -o.y),
    }
    return [f" {relation} ".join(o.phrase for o in order) for relation, order in orders.items()]


_ROWS, _COLUMNS = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]


def render(scene: Scene) -> np.ndarray:
    """Draws a scene: a uint8 RGB image, shape ``(IMAGE_SIZE, IMAGE_SIZE, 3)``."""
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    image[:] = BACKGROUND
    for o in scene.objects:
        half = SIZES[o.size]
        dx, dy = _COLUMNS - o.x, _ROWS - o.y
        if o.shape == "circle":
            inside = dx**2 + dy**2 <= half**2 + half  # + half: the disc's edge pixels read as round at this size
        elif o.shape == "square":
            inside = (np.abs(dx) <= half - 1) & (np.abs(dy) <= half - 1)  # the same area as the circle, about
        else:  # an upright triangle, apex at the top of its bounding square
            inside = (dy >= -half) & (dy <= half) & (2 * np.abs(dx) <= dy + half)
        image[inside] = COLOURS[o.colour]
    return image


_SIZE_NAMES, _COLOUR_NAMES = tuple(SIZES), tuple(COLOURS)


def _object_from(u: list[float]) -> SceneObject:
    # Five uniform numbers in [0, 1) to an object: its shape, colour, size and the position of its centre.
    size = _SIZE_NAMES[int(u[2] * len(SIZES))]
    half = SIZES[size]
    span = IMAGE_SIZE - 2 * half  # centres from half to IMAGE_SIZE - 1 - half
    x, y = half + int(u[3] * span), half + int(u[4] * span)
    return SceneObject(SHAPES[int(u[0] * len(SHAPES))], _COLOUR_NAMES[int(u[1] * len(COLOURS))], size, x, y)


def random_scene(rng: np.random.Generator, num_objects: int) -> Scene:
    """A scene of ``num_objects`` objects drawn uniformly (attributes) and placed at random, in any split."""
    if not 1 <= num_objects <= MAX_OBJECTS:
        raise ValueError(f"num_objects={num_objects!r}: a scene has 1 to {MAX_OBJECTS} objects")
    while True:  # objects are placed one by one, each where it keeps its distance; a crowded start begins again
        objects: list[SceneObject] = []
        for u in rng.random((16 * num_objects, 5)).tolist():
            candidate = _object_from(u)
            if all(_apart(candidate, o) for o in objects):
                objects.append(candidate)
                if len(objects) == num_objects:
                    return Scene(tuple(objects))


def _object_counts(objects: int | Sequence[int]) -> tuple[int, ...]:
    counts = (objects,) if isinstance(objects, (int, np.integer)) else tuple(objects)
    if not counts or any(not isinstance(c, (int, np.integer)) or not 1 <= c <= MAX_OBJECTS for c in counts):
        raise ValueError(f"objects={objects!r}: give a number of objects per scene (1 to {MAX_OBJECTS}), or several")
    return counts


def make_examples(n: int, split: str, seed: int = 0, objects: int | Sequence[int] = (1, 2, 3, 4)) -> Examples:
    """Makes ``n`` scenes of one split, their images and their reference captions, reproducibly.

    Args:
        n: how many examples.
        split: ``'train'``, ``'val'``, ``'test'`` or ``'compositional'`` (module docstring).
        seed: the same seed and arguments give the same examples.
        objects: the number of objects in each scene, or several numbers, drawn in turn (``n=8, objects=(1, 2)``
            gives four scenes of each).

    Returns:
        :class:`Examples`: images, scenes, references.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: use one of {SPLITS}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n={n!r}: give the number of examples, an int >= 0")
    counts = _object_counts(objects)
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    chosen: list[Scene] = []
    for i in range(n):
        num_objects = counts[i % len(counts)]
        while True:
            scene = random_scene(rng, num_objects)
            if split == "compositional" and scene.split != "compositional":
                # Most scenes have no held-out pair: give one object such a pair, if the scene keeps its layout.
                o = scene.objects[rng.integers(num_objects)]
                colour, shape = HELD_OUT_PAIRS[rng.integers(len(HELD_OUT_PAIRS))]
                swapped = dataclasses.replace(o, colour=colour, shape=shape)
                scene = Scene(tuple(swapped if other is o else other for other in scene.objects))
            if scene.split == split:
                chosen.append(scene)
                break
    images = np.stack([render(scene) for scene in chosen]) if chosen else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), "u1")
    return Examples(images, chosen, [references(scene) for scene in chosen])


# ----------------------------------------------------------------------------------------------------------- truth


@dataclasses.dataclass(frozen=True)
class Mention:
    """An object a caption names: the attributes it states (``None``: not stated)."""

    shape: str
    colour: str | None = None
    size: str | None = None

    def fits(self, o: SceneObject) -> bool:
        return self.shape == o.shape and self.colour in (None, o.colour) and self.size in (None, o.size)

    def __str__(self) -> str:
        return " ".join(word for word in ("a", self.size, self.colour, self.shape) if word)

    @property
    def noun(self) -> str:
        """What it names without the article: ``'red circle'``."""
        return str(self)[2:]


@dataclasses.dataclass(frozen=True)
class CaptionTruth:
    """What :func:`caption_truth` found.

    Attributes:
        parsed: whether the caption follows the grammar; if not, it states no fact and nothing else is filled in.
        problem: why it does not parse (empty when it does).
        mentions: the objects it names, in order.
        relations: the relations it states, ``(first mention's index, relation, second's index)``.
        false_facts: each stated fact that does not hold, in words.
        facts: how many facts it states (one for each mention and one for each relation).
        left_out: the scene's objects that no true mention names.
    """

    parsed: bool
    problem: str = ""
    mentions: tuple[Mention, ...] = ()
    relations: tuple[tuple[int, str, int], ...] = ()
    false_facts: tuple[str, ...] = ()
    facts: int = 0
    left_out: tuple[SceneObject, ...] = ()
    num_objects: int = 0

    @property
    def precision(self) -> float:
        """The share of stated facts that hold (0 for a caption that does not parse or states nothing)."""
        return (self.facts - len(self.false_facts)) / self.facts if self.parsed and self.facts else 0.0

    @property
    def recall(self) -> float:
        """The share of the scene's objects that a true mention names."""
        return 1 - len(self.left_out) / self.num_objects if self.num_objects else 0.0

    @property
    def fully_true(self) -> bool:
        """It parses, every fact it states holds, and it names every object."""
        return self.parsed and self.facts > 0 and not self.false_facts and not self.left_out


def parse_caption(caption: str | Sequence[str]) -> tuple[list[Mention], list[tuple[int, str, int]]]:
    """Reads a caption by the grammar: its mentions and its relations (see :class:`CaptionTruth`).

    Raises:
        ValueError: the caption does not follow the grammar; the message says where.
    """
    words = caption.split() if isinstance(caption, str) else [str(word) for word in caption]
    mentions: list[Mention] = []
    relations: list[tuple[int, str, int]] = []
    position = 0

    def expect_phrase():
        nonlocal position
        if position >= len(words) or words[position] != "a":
            raise ValueError(f"word {position + 1}: expected 'a' to start an object, got {_word(words, position)}")
        position += 1
        size = colour = None
        if position < len(words) and words[position] in SIZES:
            size, position = words[position], position + 1
        if position < len(words) and words[position] in COLOURS:
            colour, position = words[position], position + 1
        if position >= len(words) or words[position] not in SHAPES:
            raise ValueError(f"word {position + 1}: expected a shape {SHAPES}, got {_word(words, position)}")
        mentions.append(Mention(words[position], colour, size))
        position += 1

    expect_phrase()
    while position < len(words):
        word = words[position]
        if word == "and":
            position += 1
            expect_phrase()
            continue
        relation = None
        for candidate in RELATIONS:
            if words[position : position + len(candidate.split())] == candidate.split():
                relation = candidate
        if relation is None:
            raise ValueError(f"word {position + 1}: expected 'and' or a relation {RELATIONS}, got {word!r}")
        position += len(relation.split())
        expect_phrase()
        relations.append((len(mentions) - 2, relation, len(mentions) - 1))
    return mentions, relations


def _word(words: list[str], position: int) -> str:
    return repr(words[position]) if position < len(words) else "the end"


def caption_truth(caption: str | Sequence[str], scene: Scene) -> CaptionTruth:
    """Checks a caption against the scene it describes.

    Each mention must name a different object of the scene that has every attribute it states; each relation must
    hold between the objects its two mentions name. Where mentions could name several objects (two red circles),
    the reading that makes the most facts true is taken.

    Args:
        caption: a string of words separated by spaces, or a list of words.
        scene: the :class:`Scene` the caption describes.

    Returns:
        :class:`CaptionTruth`.
    """
    try:
        mentions, relations = parse_caption(caption)
    except ValueError as error:
        return CaptionTruth(parsed=False, problem=str(error), left_out=scene.objects, num_objects=len(scene.objects))
    objects = scene.objects
    # Each mention reads as an object it fits, or as none (-1: it names nothing in the scene); no object is named twice.
    options = [[k for k, o in enumerate(objects) if m.fits(o)] + [-1] for m in mentions]
    best: tuple[int, tuple[int, ...]] | None = None
    for reading in itertools.product(*options):
        named = [k for k in reading if k >= 0]
        if len(named) != len(set(named)):
            continue
        true = len(named) + sum(_relation_true(reading, objects, r) for r in relations)
        if best is None or true > best[0]:
            best = (true, reading)
    assert best is not None  # the reading of no object at all is always allowed
    reading = best[1]
    false_facts = [f"no {m.noun} in the scene" for m, k in zip(mentions, reading, strict=True) if k < 0]
    false_facts += [
        f"{mentions[i]} {relation} {mentions[j]}"
        for i, relation, j in relations
        if not _relation_true(reading, objects, (i, relation, j))
    ]
    named = {k for k in reading if k >= 0}
    return CaptionTruth(
        parsed=True,
        mentions=tuple(mentions),
        relations=tuple(relations),
        false_facts=tuple(false_facts),
        facts=len(mentions) + len(relations),
        left_out=tuple(o for k, o in enumerate(objects) if k not in named),
        num_objects=len(objects),
    )


def _relation_true(reading: tuple[int, ...], objects: tuple[SceneObject, ...], relation: tuple[int, str, int]) -> bool:
    i, name, j = relation
    return reading[i] >= 0 and reading[j] >= 0 and relation_holds(name, objects[reading[i]], objects[reading[j]])


__all__ = [
    "COLOURS",
    "HELD_OUT_PAIRS",
    "IMAGE_SIZE",
    "MAX_OBJECTS",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "VOCABULARY",
    "CaptionTruth",
    "Examples",
    "Mention",
    "Scene",
    "SceneObject",
    "caption_truth",
    "make_examples",
    "parse_caption",
    "random_scene",
    "references",
    "relation_holds",
    "render",
]
