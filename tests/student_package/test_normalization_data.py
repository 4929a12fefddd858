"""course_utils.normalization: Lab 4's spoken and written forms, reproducible and split by value."""

import collections
import datetime
import random
import time

import numpy as np
import pytest

from course_utils import normalization as data

NOVEMBER_21 = datetime.date(2026, 11, 21)


@pytest.mark.parametrize(
    "value, language, kind, spoken",
    [
        (NOVEMBER_21, "en", "date", "the twenty first of november twenty twenty six"),
        (NOVEMBER_21, "en", "date", "saturday the twenty first of november twenty twenty six"),
        (NOVEMBER_21, "de", "date", "einundzwanzigster november zweitausendsechsundzwanzig"),
        (NOVEMBER_21, "de", "date", "samstag den einundzwanzigsten november zweitausendsechsundzwanzig"),
        (342005, "en", "number", "three hundred and forty two thousand five"),
        (342005, "de", "number", "dreihundertzweiundvierzigtausendfünf"),
        (101000, "de", "number", "einhunderteintausend"),  # num2words writes "einhunderteinstausend"
        (1, "de", "number", "eins"),
        (datetime.date(1905, 3, 3), "en", "date", "march third nineteen oh five"),
        (datetime.date(1905, 3, 3), "en", "date", "march third nineteen hundred and five"),
    ],
)
def test_known_forms(value, language, kind, spoken):
    assert spoken in data.spoken_forms(value, language, kind)


@pytest.mark.parametrize(
    "value, language, kind, variation, spoken",
    [
        (NOVEMBER_21, "en", "date", "hesitation", "the twenty first of uh november twenty twenty six"),
        (NOVEMBER_21, "de", "date", "hesitation", "äh am einundzwanzigsten november zweitausendsechsundzwanzig"),
        (42, "de", "number", "hesitation", "zweiundvierzig ähm"),
        (NOVEMBER_21, "en", "date", "cardinal day", "november twenty one twenty twenty six"),
        (NOVEMBER_21, "en", "date", "cardinal day", "saturday november twenty one two thousand and twenty six"),
        (105, "en", "number", "a hundred", "a hundred and five"),
        (1500, "en", "number", "a hundred", "a thousand five hundred"),
        (101000, "en", "number", "a hundred", "a hundred and one thousand"),
        (342005, "de", "number", "words apart", "drei hundert zwei und vierzig tausend fünf"),
        (NOVEMBER_21, "de", "date", "words apart", "am ein und zwanzigsten november zwei tausend sechs und zwanzig"),
    ],
)
def test_known_variations(value, language, kind, variation, spoken):
    assert spoken in data.spoken_forms(value, language, kind, variation)


@pytest.mark.parametrize(
    "value, language, kind, variation",
    [
        (NOVEMBER_21, "de", "date", "cardinal day"),
        (342005, "en", "number", "words apart"),
        (342005, "en", "number", "a hundred"),  # only a number said "one hundred ..." or "one thousand ..."
        (12, "de", "number", "words apart"),  # "zwölf" has no parts
    ],
)
def test_a_variation_that_does_not_fit_has_no_forms(value, language, kind, variation):
    assert data.spoken_forms(value, language, kind, variation) == []


def test_written_forms():
    assert data.written_form(NOVEMBER_21, "date") == "2026-11-21"
    assert data.written_form(datetime.date(1900, 1, 2), "date") == "1900-01-02"
    assert data.written_form(0, "number") == "0"
    assert data.written_form(342005, "number") == "342005"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The twenty-first of November, twenty twenty-six", "the twenty first of november twenty twenty six"),
        ("  Samstag,  den 21. März ", "samstag den 21 märz"),
        ("DREIßIG", "dreißig"),
        ("", ""),
    ],
)
def test_standardize_spoken(text, expected):
    assert data.standardize_spoken(text) == expected


def test_forms_are_standardized_distinct_and_name_the_true_weekday():
    rng = random.Random(0)
    weekdays = {
        "en": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
        "de": ["montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"],
    }
    for _ in range(200):
        date = data._random_value(rng, "date")
        for language in data.LANGUAGES:
            forms = data.spoken_forms(date, language, "date")
            assert forms == sorted(set(forms)) and len(forms) >= 5
            assert all(form == data.standardize_spoken(form) for form in forms)
            named = {day for form in forms for day in weekdays[language] if form.startswith(day + " ")}
            assert named == {weekdays[language][date.weekday()]}


def test_the_same_arguments_give_the_same_examples():
    assert data.make_examples(50, seed=3) == data.make_examples(50, seed=3)
    assert data.make_examples(50, seed=3) != data.make_examples(50, seed=4)


@pytest.mark.parametrize("split", ["val", "unseen"])
def test_examples_are_what_they_say(split):
    for example in data.make_examples(400, split, seed=5):
        value = datetime.date.fromisoformat(example.written) if example.kind == "date" else int(example.written)
        assert example.spoken in data.spoken_forms(value, example.language, example.kind, example.variation)
        assert data.split_of(value, example.kind) == ("test" if split == "unseen" else split)


def test_held_out_variations_are_only_in_the_unseen_split():
    for split in data.SPLITS:
        variations = collections.Counter(e.variation for e in data.make_examples(1000, split, seed=10))
        if split == "unseen":
            assert set(variations) == set(data.HELD_OUT_VARIATIONS)
        else:
            assert set(variations) == set(data.SEEN_VARIATIONS)
            if split != "long":  # a hesitation makes a form longer, so "long" has more
                assert abs(variations["hesitation"] / 1000 - data.HESITATION_SHARE) < 0.05


@pytest.mark.parametrize("kind", data.KINDS)
def test_no_value_is_in_two_splits(kind):
    value_splits = [split for split in data.SPLITS if split != "unseen"]  # "unseen" has the values of "test"
    written = {
        split: {e.written for e in data.make_examples(2000, split, kinds=(kind,), seed=6)} for split in value_splits
    }
    for first in value_splits:
        for second in value_splits:
            if first < second:
                assert not written[first] & written[second], (first, second)


def test_numbers_below_a_thousand_are_only_in_train():
    assert {data.split_of(value, "number") for value in range(1000)} == {"train"}
    assert all(
        int(e.written) >= 1000
        for split in ("val", "test", "long", "unseen")
        for e in data.make_examples(500, split, kinds=("number",))
    )


def test_the_long_split_is_longer_than_every_other_split():
    for split in data.SPLITS:
        lengths = [len(e.spoken) for e in data.make_examples(1000, split, seed=7)]
        if split == "long":
            assert min(lengths) > data.MAX_TRAIN_INPUT_LENGTH
        else:
            assert max(lengths) <= data.MAX_TRAIN_INPUT_LENGTH


def test_the_long_split_is_the_tail_of_the_lengths():
    # The figures in the comment on MAX_TRAIN_INPUT_LENGTH.
    rng = random.Random(0)
    lengths = []
    for _ in range(4000):
        language, kind = rng.choice(data.LANGUAGES), rng.choice(data.KINDS)
        lengths += [len(form) for form in data._forms(data._random_value(rng, kind), language, kind)]
    share_within = np.mean(np.array(lengths) <= data.MAX_TRAIN_INPUT_LENGTH)
    print(
        f"median {np.median(lengths):.0f}, 90th percentile {np.percentile(lengths, 90):.0f}, longest {max(lengths)}; "
        f"{share_within:.1%} of forms within MAX_TRAIN_INPUT_LENGTH = {data.MAX_TRAIN_INPUT_LENGTH}"
    )
    assert 0.88 <= share_within <= 0.96


def test_languages_and_kinds_are_balanced_and_filtered():
    counts = collections.Counter((e.language, e.kind) for e in data.make_examples(103, seed=8))
    assert set(counts) == {(language, kind) for language in data.LANGUAGES for kind in data.KINDS}
    assert max(counts.values()) - min(counts.values()) <= 1
    only = data.make_examples(20, "test", languages=("de",), kinds=("number",))
    assert {(e.language, e.kind) for e in only} == {("de", "number")}


def test_thirty_thousand_examples_are_quick():
    start = time.perf_counter()
    data.make_examples(30_000, seed=9)
    print(
        f"30,000 examples in {time.perf_counter() - start:.2f} s"
    )  # measured, not asserted: timing belongs in benchmarks


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.make_examples(0), r"n=0 should be a positive int"),
        (lambda: data.make_examples(2.5), r"n=2.5 should be a positive int"),
        (lambda: data.make_examples(5, "dev"), r"split='dev' is not one of 'train', 'val', 'test', 'long', 'unseen'"),
        (lambda: data.make_examples(5, languages=("fr",)), r"languages='fr' is not one of 'en', 'de'"),
        (lambda: data.make_examples(5, languages=()), r"languages is empty"),
        (lambda: data.make_examples(5, kinds=("time",)), r"kinds='time' is not one of 'date', 'number'"),
        (lambda: data.spoken_forms(5, "xx", "number"), r"language='xx' is not one of"),
        (lambda: data.written_form(5, "money"), r"kind='money' is not one of"),
        (lambda: data.spoken_forms(5, "en", "number", "mumbled"), r"variation='mumbled' is not one of"),
        (lambda: data.written_form(1_000_000, "number"), r"from 0 to 999999"),
    ],
)
def test_bad_arguments_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_date_given_as_a_string_is_refused():
    with pytest.raises(TypeError, match="datetime.date"):
        data.written_form("2026-11-21", "date")
