"""Lab 4's normaliser: exact match with and without attention, by kind of variation, exposure bias, greedy against
beam search, decoding speed, run time.

Runs the solution notebook top to bottom in a fresh kernel (so both models are trained exactly as
students train them) and reads the description it saves beside the normaliser. Targets with
LAB_BUDGET=full on a 2-core CPU: the whole notebook in at most 10 minutes; with attention, greedy
exact match of at least 99% on the held-out test split and 95% on the longer-inputs split; without
attention (as many parameters), worse on the longer-inputs split; beam search at least as accurate as
greedy decoding on the same examples; the compiled batched greedy decoder at least 20 times faster
than the same decoder run eagerly at batch 32. Reported without a target: exact match by kind of
variation (hesitations, and the "unseen" split's variation that training never has), and teacher-forced
against free-running token accuracy (exposure bias). The load average is printed too, since other work
inflates the times.

    python benchmarks/lab4_seq2seq.py [--budget full|smoke] [--executed OUT.ipynb]
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

import nbformat

from autograde.authoring.solutions import execute_solution
from autograde.course import Course

TARGETS = {"test": 0.99, "long": 0.95, "speedup": 20, "seconds": 600}


def verdict(ok):
    return "met" if ok else "MISSED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("full", "smoke"), default="full")
    parser.add_argument(
        "--executed", type=Path, help="also write the executed notebook (with its outputs and plots) here"
    )
    args = parser.parse_args()
    course = Course.find()
    lab = course.resolve_lab("lab4")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        executed, run = execute_solution(course, lab, cwd=tmp, env={"LAB_BUDGET": args.budget, "LAB_OUTPUT_DIR": tmp})
        if args.executed:
            nbformat.write(executed, args.executed)
        if not run.ok:
            raise SystemExit(f"the notebook failed: {run.failures or [t for t in run.tests if not t.passed]}")
        description = json.loads((Path(tmp) / "lab4" / "normalizer.json").read_text())
    load_after = os.getloadavg()

    print(
        f"budget={args.budget}, trained on {description['trained_on']}; load average (1, 5, 15 min) "
        f"before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    for name, seconds in description["train_seconds"].items():
        print(
            f"  training {name}: {seconds:.1f} s ({description['units'][name]} units, {description['parameters'][name]:,} parameters)"
        )
    exact = description["greedy_exact_match"]
    for name, scores in exact.items():
        print(
            f"  {name:>17}, greedy exact match: " + ", ".join(f"{split} {score:.4f}" for split, score in scores.items())
        )
    for split, scores in description["greedy_exact_match_by_variation"].items():
        print(
            f"  with attention on {split:>6}, by variation: "
            + ", ".join(f"{variation} {score:.4f}" for variation, score in scores.items())
        )
    for split, scores in description["exposure_bias"].items():
        forced, free = scores["teacher forced"], scores["free running"]
        print(
            f"  exposure bias on {split:>6}: token accuracy teacher-forced {forced['token accuracy']:.4f}, free-running {free['token accuracy']:.4f}; "
            f"exact match {forced['exact match']:.4f} and {free['exact match']:.4f}; after the first mistake ({scores['rows with a mistake']} rows) "
            f"{forced['after the first mistake']:.4f} and {free['after the first mistake']:.4f}"
        )
    attention, plain = exact["with attention"], exact["without attention"]
    print(
        f"with attention: test {attention['test']:.4f} (target >= {TARGETS['test']}: {verdict(attention['test'] >= TARGETS['test'])}), "
        f"long {attention['long']:.4f} (target >= {TARGETS['long']}: {verdict(attention['long'] >= TARGETS['long'])})"
    )
    print(
        f"without attention on long: {plain['long']:.4f} against {attention['long']:.4f} with it "
        f"(target: worse, {verdict(plain['long'] < attention['long'])})"
    )
    for split, scores in description["beam_width_3"].items():
        print(
            f"beam search (width 3) on the first {scores['examples']} of {split}: greedy {scores['greedy']:.4f}, beam {scores['beam']:.4f} "
            f"(target: beam >= greedy, {verdict(scores['beam'] >= scores['greedy'])})"
        )
    speedup = description["decoding_speedup_batch_32"]
    print(
        f"compiled greedy decoding at batch 32: {speedup:.1f}x the same decoder run eagerly (target >= {TARGETS['speedup']}x: {verdict(speedup >= TARGETS['speedup'])})"
    )
    print(
        f"whole notebook: {run.seconds:.1f} s (target <= {TARGETS['seconds']} s: {verdict(run.seconds <= TARGETS['seconds'])})"
    )


if __name__ == "__main__":
    main()
