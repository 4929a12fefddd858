"""Variants of Lab 3's skip-unknown attention BiLSTM on val and test, each also in the n-gram vote.

Runs the solution notebook's own cells (data, vocabulary, n-gram baseline, attention model) in this
process, skipping the other models' training, then trains the skip-unknown attention BiLSTM once per
word-dropout rate given (0: none). For each it prints val and test macro recall, and those of its vote
with the n-gram model, for every share and for the share the notebook chooses (lowest val log loss);
then the same for the notebook's final model, whose recurrent half averages the model without word
dropout and the one with each rate. This is the comparison behind the notebook's ``WORD_DROPOUT``:
make the choice on val.

    TWEETS_DIR=../shared/data/tweets python benchmarks/lab3_variants.py [--rates 0 0.1 0.2 0.3] [--budget full|smoke]
"""

import argparse
import os
import tempfile
import time

import matplotlib
from solution_cells import run_solution_cells

from autograde.course import Course

# The cells that define the data and the models, with the part of each cell to run (up to the first training of a
# model); lab3_seeds.py runs them too.
DATA_AND_MODEL_CELLS = [
    ("code-02", None),
    ("code-04", None),
    ("code-09", None),
    ("build-classifier", None),
    ("code-14", "keras.utils.set_random_seed(0)\ntrain("),
    ("make-encoder", None),
    ("class-weights", None),
    ("code-23", "keras.utils.set_random_seed(0)"),
    ("macro-recall", None),
]
# What the variants need besides: the n-gram baseline and the attention layer, up to models they do not use.
CELLS = DATA_AND_MODEL_CELLS + [
    ("code-28", "\nprint_comparison()"),
    ("code-ngram", None),
    ("attention-pooling", None),
    ("code-36", "keras.utils.set_random_seed(0)"),
]
SHARES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def vote_scores(namespace, names):
    """(val, test) macro recall of the vote of the n-gram model and the mean of ``names`` for each share, and the share chosen on val."""
    np, trained, macro_recall = namespace["np"], namespace["trained"], namespace["macro_recall"]
    labels = {"val": namespace["y_val"], "test": namespace["y_test"]}
    ngram = trained["n-gram linear (baseline)"]["probabilities"]
    rnn = {split: np.mean([trained[name]["probabilities"][split] for name in names], axis=0) for split in labels}
    rows = []
    for share in SHARES:
        mixed = {split: share * ngram[split] + (1 - share) * rnn[split] for split in rnn}
        val = mixed["val"][np.arange(len(labels["val"])), labels["val"]]
        scores = {split: macro_recall(labels[split], mixed[split].argmax(axis=1)) for split in mixed}
        rows.append((share, float(-np.mean(np.log(val))), scores))
    chosen = min(rows, key=lambda row: row[1])
    return rows, chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3], help="word-dropout rates to train (0: none)"
    )
    parser.add_argument("--budget", choices=("full", "smoke"), default="full")
    args = parser.parse_args()
    os.environ["LAB_BUDGET"] = args.budget
    matplotlib.use("Agg")
    course = Course.find()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAB_OUTPUT_DIR"] = tmp
        namespace = run_solution_cells(course, course.resolve_lab("lab3"), CELLS)
        keras, evaluate, train = namespace["keras"], namespace["evaluate"], namespace["train"]
        from course_utils.layers import SkipUnknownWords, WordDropout

        evaluate("n-gram linear (baseline)")
        if not namespace["HAS_TEST"]:
            raise SystemExit("no test split: set TWEETS_DIR to a folder with one")
        for rate in args.rates:
            keras.utils.set_random_seed(0)
            classifier, _, _ = namespace["build_attention_model"]()
            ids = keras.Input(shape=(None,), dtype="int32")
            x = SkipUnknownWords()(ids)
            if rate:
                x = WordDropout(rate, namespace["VOCAB_SIZE"])(x)
            name = f"unknown skipped, word dropout {rate:g}"
            start = time.monotonic()
            train(name, keras.Model(ids, classifier(x)), class_weight=namespace["fit_class_weights"])
            evaluate(name)
            print(f"  trained in {time.monotonic() - start:.0f} s")

    trained = namespace["trained"]
    print(f"\nbudget={args.budget}; load average {os.getloadavg()[0]:.2f}")
    for name, entry in trained.items():
        scores = entry["scores"]
        print(f"{name:40} val {scores['val']['macro_recall']:.4f}  test {scores['test']['macro_recall']:.4f}")
    without = "unknown skipped, word dropout 0"
    votes = [[name] for name in trained if not name.startswith("n-gram")]
    votes += [
        [without, name] for name in trained if without in trained and name not in (without, "n-gram linear (baseline)")
    ]
    for names in votes:
        rows, (share, _, chosen) = vote_scores(namespace, names)
        print(f"vote of the n-gram model and the mean of {names}:")
        print(
            "  by n-gram share (val/test): " + "  ".join(f"{s:.1f} {r['val']:.3f}/{r['test']:.3f}" for s, _, r in rows)
        )
        print(
            f"  at the share chosen on val (lowest log loss, {share:.1f}): val {chosen['val']:.4f}  test {chosen['test']:.4f}"
        )


if __name__ == "__main__":
    main()
