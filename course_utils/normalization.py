"""Spoken and written forms of dates and numbers: the data of Lab 4 (inverse text normalisation).

A speech recogniser writes "the twenty first of november twenty twenty six"; a reader wants "2026-11-21".
This module makes such pairs, reproducibly, for English and German (which says the units before the tens,
"zweiundvierzig" for 42, so the words and the digits cross). Sproat & Jaitly (2016), "RNN Approaches to Text
Normalization: A Challenge", pose the opposite direction (written to spoken, for speech synthesis) on pairs of this
kind. Numbers, ordinals and years are verbalised by num2words; month and weekday names come from the Unicode CLDR
through Babel.

Splits are made by value: a stable hash of the written form puts every date and number in exactly one
split, so no value is seen in two splits in any of its forms. The "long" split holds held-out values whose
spoken form is longer than anything in the other splits (``MAX_TRAIN_INPUT_LENGTH``).

Example::

    from course_utils import normalization
    normalization.make_examples(3, "test", languages=("de",), kinds=("date",), seed=1)
    # [Example(spoken='am dritten mai neunzehnhundertzwölf', written='1912-05-03', language='de', kind='date'), ...]
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import random
import re
from collections.abc import Iterable
from typing import NamedTuple

from babel.dates import get_day_names, get_month_names
from num2words import num2words

LANGUAGES = ("en", "de")
KINDS = ("date", "number")
SPLITS = ("train", "val", "test", "long")
# Every spoken form in train, val and test has at most this many characters; every form in "long" has more.
# The 92nd percentile of the lengths of the forms of random values, all languages and kinds (median 46, 90th
# percentile 58, longest 75): measured by tests/test_normalization_data.py::test_the_long_split_is_the_tail_of_the_lengths.
MAX_TRAIN_INPUT_LENGTH = 60

FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
LARGEST_NUMBER = 999_999
# Numbers below this are all in "train": every number word ("seven", "elf") must be seen in training.
ALWAYS_TRAINED_BELOW = 1000
# Share of the values in each split, by hash bucket out of 100.
_BUCKETS = (("train", 85), ("val", 5), ("test", 5), ("long", 5))
# How many digits a drawn number has: mostly long numbers, where the structure is.
_DIGIT_WEIGHTS = {1: 1, 2: 2, 3: 4, 4: 6, 5: 8, 6: 9}


class Example(NamedTuple):
    """One training pair, with the language and kind it was made from."""

    spoken: str
    written: str
    language: str
    kind: str


def standardize_spoken(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: what the model reads.

    "The twenty-first of November, twenty twenty-six" -> "the twenty first of november twenty twenty six".
    Letters of any script (ä, ß, é) are kept.
    """
    return " ".join(re.sub(r"[^\w]+|_", " ", text.lower()).split())


def written_form(value: datetime.date | int, kind: str) -> str:
    """The written form: ISO ``YYYY-MM-DD`` for a date, the decimal digits for a number."""
    _check_choice("kind", kind, KINDS)
    if kind == "date":
        if not isinstance(value, datetime.date):
            raise TypeError(f"a date's value should be a datetime.date, got {type(value).__name__}")
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LARGEST_NUMBER:
        raise ValueError(f"a number's value should be an int from 0 to {LARGEST_NUMBER}, got {value!r}")
    return str(value)


def spoken_forms(value: datetime.date | int, language: str, kind: str) -> list[str]:
    """Every surface form of ``value`` in ``language``, standardized, distinct and sorted.

    Args:
        value: a ``datetime.date`` (kind "date") or an int from 0 to 999,999 (kind "number").
        language: one of ``LANGUAGES``.
        kind: one of ``KINDS``.

    Returns:
        list of str.
    """
    _check_choice("language", language, LANGUAGES)
    written_form(value, kind)  # validates the value
    return list(_forms(value, language, kind))


def split_of(value: datetime.date | int, kind: str) -> str:
    """The split that ``value`` belongs to: the same on every run and machine (a SHA-256 of its written form)."""
    written = written_form(value, kind)
    if kind == "number" and value < ALWAYS_TRAINED_BELOW:
        return "train"
    bucket = int(hashlib.sha256(f"{kind}:{written}".encode()).hexdigest(), 16) % 100
    for split, share in _BUCKETS:
        if bucket < share:
            return split
        bucket -= share
    raise AssertionError("the bucket shares add up to 100")


def make_examples(
    n: int,
    split: str = "train",
    languages: str | Iterable[str] = LANGUAGES,
    kinds: str | Iterable[str] = KINDS,
    seed: int = 0,
) -> list[Example]:
    """``n`` examples of ``split``, as many of each (language, kind) pair (within one), in random order.

    Args:
        n: how many examples, a positive int.
        split: one of ``SPLITS``; values are drawn from that split only, with a form of the split's lengths.
        languages: a non-empty tuple of ``LANGUAGES``.
        kinds: a non-empty tuple of ``KINDS``.
        seed: the random seed; the same arguments give the same examples.

    Returns:
        list of :class:`Example`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} should be a positive int, the number of examples")
    _check_choice("split", split, SPLITS)
    languages, kinds = _check_subset("languages", languages, LANGUAGES), _check_subset("kinds", kinds, KINDS)
    rng = random.Random(f"{seed}:{split}:{','.join(languages)}:{','.join(kinds)}")
    pairs = [(language, kind) for language in languages for kind in kinds]
    examples = [_draw(rng, pairs[i % len(pairs)], split) for i in range(n)]
    rng.shuffle(examples)
    return examples


def _draw(rng, pair, split):
    """One example of ``pair`` = (language, kind) from ``split``: values are redrawn until one fits the split."""
    language, kind = pair
    while True:
        value = _random_value(rng, kind, longest=split == "long")
        if split_of(value, kind) != split:
            continue
        forms = [
            form for form in _forms(value, language, kind) if (len(form) > MAX_TRAIN_INPUT_LENGTH) == (split == "long")
        ]
        if forms:
            return Example(rng.choice(forms), written_form(value, kind), language, kind)


def _random_value(rng, kind, longest=False):
    """A random date, or a number; with ``longest``, a number of the most digits (only those have the longest forms)."""
    if kind == "date":
        return FIRST_DATE + datetime.timedelta(days=rng.randrange((LAST_DATE - FIRST_DATE).days + 1))
    digits = (
        max(_DIGIT_WEIGHTS) if longest else rng.choices(list(_DIGIT_WEIGHTS), weights=list(_DIGIT_WEIGHTS.values()))[0]
    )
    return rng.randrange(0 if digits == 1 else 10 ** (digits - 1), 10**digits)


@functools.lru_cache(maxsize=None)
def _forms(value, language, kind):
    """The standardized forms of a value, as a sorted tuple (cached: num2words is the slow part)."""
    if kind == "date":
        forms = _english_dates(value) if language == "en" else _german_dates(value)
    else:
        forms = _english_numbers(value) if language == "en" else _german_numbers(value)
    return tuple(sorted({standardize_spoken(form) for form in forms}))


def _english_numbers(value):
    full = num2words(value, lang="en").replace(",", "")  # "three hundred and forty-two thousand and five"
    without_and = re.sub(r"\band ", "", full)
    hundred_and_only = re.sub(r"(?<!hundred) and\b", "", full)  # "three hundred and forty-two thousand five"
    return [full, without_and, hundred_and_only]


def _german_numbers(value):
    # num2words writes 101,000 as "einhunderteinstausend"; German says "eintausend" inside a number.
    full = num2words(value, lang="de").replace("einstausend", "eintausend")
    forms = [full]
    # Spoken German often drops the leading "ein" of "einhundert" and "eintausend".
    for word in ("hundert", "tausend"):
        if full.startswith("ein" + word):
            forms.append(full[3:])
    return forms


def _english_years(year):
    years = {num2words(year, lang="en", to="year")}  # "nineteen ninety-nine", "twenty twenty-six", "nineteen oh-five"
    if year >= 2000:
        cardinal = num2words(year, lang="en")  # "two thousand and twenty-six"
        years |= {cardinal, cardinal.replace(" and", "")}
    elif year % 100 < 10:
        years.add(f"nineteen hundred and {num2words(year % 100, lang='en')}" if year % 100 else "nineteen hundred")
    return years


def _english_dates(date):
    day = num2words(date.day, lang="en", to="ordinal")
    month = _month(date, "en")
    weekday = _weekday(date, "en")
    forms = []
    for year in _english_years(date.year):
        forms += [
            f"the {day} of {month} {year}",
            f"{day} of {month} {year}",
            f"{month} {day} {year}",
            f"{month} the {day} {year}",
            f"{weekday} the {day} of {month} {year}",
            f"{weekday} {month} {day} {year}",
        ]
    return forms


def _german_dates(date):
    day = num2words(date.day, lang="de", to="ordinal")  # "einundzwanzigste"
    month = _month(date, "de")
    weekday = _weekday(date, "de")
    year = num2words(date.year, lang="de", to="year")
    return [
        f"{day}r {month} {year}",
        f"der {day} {month} {year}",
        f"am {day}n {month} {year}",
        f"{weekday} der {day} {month} {year}",
        f"{weekday} den {day}n {month} {year}",
    ]


@functools.lru_cache(maxsize=None)
def _month_names(language):
    return {number: name.lower() for number, name in get_month_names("wide", locale=language).items()}


@functools.lru_cache(maxsize=None)
def _weekday_names(language):
    return {number: name.lower() for number, name in get_day_names("wide", locale=language).items()}  # 0 is Monday


def _month(date, language):
    return _month_names(language)[date.month]


def _weekday(date, language):
    return _weekday_names(language)[date.weekday()]


def _check_choice(argument, value, choices):
    if value not in choices:
        raise ValueError(f"{argument}={value!r} is not one of {', '.join(repr(c) for c in choices)}")


def _check_subset(argument, values, choices):
    if isinstance(values, str):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ValueError(f"{argument} is empty: give at least one of {', '.join(repr(c) for c in choices)}")
    for value in values:
        _check_choice(argument, value, choices)
    return values


__all__ = [
    "Example",
    "KINDS",
    "LANGUAGES",
    "MAX_TRAIN_INPUT_LENGTH",
    "SPLITS",
    "make_examples",
    "spoken_forms",
    "split_of",
    "standardize_spoken",
    "written_form",
]
