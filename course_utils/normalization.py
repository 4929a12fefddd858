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

A recogniser does not write the tidy forms of a grammar, so examples carry *variation* as well (``Example.variation``).
A share of the examples of every split has a hesitation ("uh", "äh") between two words. The "unseen" split holds
kinds of variation that no other split has (``HELD_OUT_VARIATIONS``): the day of an English date said as a cardinal
("november twenty one"), an English number said with "a" ("a hundred and five"), and German compounds written as
separate words ("zwei und vierzig"). Its values are those of "test" and its lengths those of train, so the two splits
differ by the variation alone.

Example::

    from course_utils import normalization
    normalization.make_examples(3, "test", languages=("de",), kinds=("date",), seed=1)
    # [Example(spoken='am dritten mai neunzehnhundertzwölf', written='1912-05-03', language='de', kind='date',
    #          variation='none'), ...]
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
SPLITS = ("train", "val", "test", "long", "unseen")
# The variation each split may have: "unseen" has only kinds that no other split has, one per language and kind.
SEEN_VARIATIONS = ("none", "hesitation")
HELD_OUT_VARIATIONS = ("cardinal day", "a hundred", "words apart")
VARIATIONS = SEEN_VARIATIONS + HELD_OUT_VARIATIONS
# Share of the examples of train, val, test and long with a hesitation.
HESITATION_SHARE = 0.3
HESITATIONS = {"en": ("uh", "um", "er"), "de": ("äh", "ähm", "öh")}
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
    """One training pair, with the language, kind and variation it was made from."""

    spoken: str
    written: str
    language: str
    kind: str
    variation: str = "none"


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


def spoken_forms(value: datetime.date | int, language: str, kind: str, variation: str = "none") -> list[str]:
    """Every surface form of ``value`` in ``language`` with ``variation``, standardized, distinct and sorted.

    Args:
        value: a ``datetime.date`` (kind "date") or an int from 0 to 999,999 (kind "number").
        language: one of ``LANGUAGES``.
        kind: one of ``KINDS``.
        variation: one of ``VARIATIONS``; empty where it does not apply (see :func:`variation_applies`).

    Returns:
        list of str.
    """
    _check_choice("language", language, LANGUAGES)
    _check_choice("variation", variation, VARIATIONS)
    written_form(value, kind)  # validates the value
    if variation == "hesitation":
        return sorted(
            {
                hesitant
                for form in _forms(value, language, kind, "none")
                for filler in HESITATIONS[language]
                for hesitant in _hesitations(form, filler)
            }
        )
    return list(_forms(value, language, kind, variation))


def variation_applies(variation: str, language: str, kind: str) -> bool:
    """Whether ``variation`` exists for ``language`` and ``kind``: "cardinal day" for English dates, "a hundred" for
    English numbers, "words apart" for German; "none" and "hesitation" everywhere."""
    _check_choice("variation", variation, VARIATIONS)
    return {
        "cardinal day": (language, kind) == ("en", "date"),
        "a hundred": (language, kind) == ("en", "number"),
        "words apart": language == "de",
    }.get(variation, True)


def split_of(value: datetime.date | int, kind: str) -> str:
    """The split that ``value`` belongs to: the same on every run and machine (a SHA-256 of its written form).

    "unseen" is never returned: its values are those of "test"."""
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
        split: one of ``SPLITS``; values are drawn from that split only (from "test" for "unseen"), with a form
            of the split's lengths and a variation the split has.
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
    """One example of ``pair`` = (language, kind) from ``split``: values and forms are redrawn until one fits the split."""
    language, kind = pair
    value_split = "test" if split == "unseen" else split
    while True:
        if split == "unseen":
            variation = next(v for v in HELD_OUT_VARIATIONS if variation_applies(v, language, kind))
        else:
            variation = "hesitation" if rng.random() < HESITATION_SHARE else "none"
        value = _random_value(rng, kind, longest=split == "long", leading_one=variation == "a hundred")
        if split_of(value, kind) != value_split:
            continue
        forms = _forms(value, language, kind, "none" if variation == "hesitation" else variation)
        if not forms:
            continue
        spoken = rng.choice(forms)
        if variation == "hesitation":
            spoken = rng.choice(_hesitations(spoken, rng.choice(HESITATIONS[language])))
        if (len(spoken) > MAX_TRAIN_INPUT_LENGTH) == (split == "long"):
            return Example(spoken, written_form(value, kind), language, kind, variation)


def _random_value(rng, kind, longest=False, leading_one=False):
    """A random date, or a number; with ``longest``, a number of the most digits (only those have the longest forms);
    with ``leading_one``, a number said "one thousand ..." or "one hundred thousand ..." (1,000-1,999 or
    100,000-199,999: smaller ones are all in train)."""
    if kind == "date":
        return FIRST_DATE + datetime.timedelta(days=rng.randrange((LAST_DATE - FIRST_DATE).days + 1))
    if leading_one:
        digits = rng.choices((4, 6), weights=(_DIGIT_WEIGHTS[4], _DIGIT_WEIGHTS[6]))[0]
        return 10 ** (digits - 1) + rng.randrange(10 ** (digits - 1))
    digits = (
        max(_DIGIT_WEIGHTS) if longest else rng.choices(list(_DIGIT_WEIGHTS), weights=list(_DIGIT_WEIGHTS.values()))[0]
    )
    return rng.randrange(0 if digits == 1 else 10 ** (digits - 1), 10**digits)


def _hesitations(form, filler):
    """``form`` with ``filler`` before, between or after its words, one place each."""
    words = form.split()
    return [" ".join([*words[:i], filler, *words[i:]]) for i in range(len(words) + 1)]


@functools.lru_cache(maxsize=None)
def _forms(value, language, kind, variation="none"):
    """The standardized forms of a value with a variation other than "hesitation", as a sorted tuple; empty where the
    variation does not apply (cached: num2words is the slow part)."""
    if not variation_applies(variation, language, kind):
        return ()
    if variation == "cardinal day":
        forms = _english_dates(value, day=num2words(value.day, lang="en"))
    elif variation == "a hundred":
        # "one hundred thousand ..." -> "a hundred thousand ..."; inside a number "one" stays
        forms = [
            "a " + form[len("one ") :]
            for form in _forms(value, language, kind)
            if re.match(r"one (hundred|thousand)\b", form)
        ]
    elif variation == "words apart":  # "zweitausendsechsundzwanzig" -> "zwei tausend sechs und zwanzig"
        forms = [apart for form in _forms(value, language, kind) if (apart := _german_words_apart(form)) != form]
    elif kind == "date":
        forms = _english_dates(value) if language == "en" else _german_dates(value)
    else:
        forms = _english_numbers(value) if language == "en" else _german_numbers(value)
    return tuple(sorted({standardize_spoken(form) for form in forms}))


def _german_words_apart(form):
    """A German form with its compounds written as separate words at "und", "hundert" and "tausend"."""
    return " ".join(re.sub(r"(und|hundert|tausend)", r" \1 ", form).split())


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


def _english_dates(date, day=None):
    """The English forms of a date; with ``day`` (a cardinal, "twenty one"), the forms that a cardinal day fits."""
    month = _month(date, "en")
    weekday = _weekday(date, "en")
    forms = []
    for year in _english_years(date.year):
        if day is not None:
            forms += [f"{month} {day} {year}", f"{weekday} {month} {day} {year}", f"the {day} of {month} {year}"]
            continue
        ordinal = num2words(date.day, lang="en", to="ordinal")
        forms += [
            f"the {ordinal} of {month} {year}",
            f"{ordinal} of {month} {year}",
            f"{month} {ordinal} {year}",
            f"{month} the {ordinal} {year}",
            f"{weekday} the {ordinal} of {month} {year}",
            f"{weekday} {month} {ordinal} {year}",
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
    "HELD_OUT_VARIATIONS",
    "HESITATIONS",
    "HESITATION_SHARE",
    "KINDS",
    "LANGUAGES",
    "MAX_TRAIN_INPUT_LENGTH",
    "SEEN_VARIATIONS",
    "SPLITS",
    "VARIATIONS",
    "make_examples",
    "spoken_forms",
    "split_of",
    "standardize_spoken",
    "variation_applies",
    "written_form",
]
