"""Lab 5's captioner: truth, BLEU-4 and exact match with attention and with one pooled vector, by objects; run time.

Runs the solution notebook top to bottom in a fresh kernel (so both models are trained exactly as students train
them) and reads the description it saves beside the captioner. Targets with LAB_BUDGET=full on a 2-core CPU: the
whole notebook in at most 10 minutes; with attention, at least 95% of captions fully true on held-out test scenes of
one, two and three objects each (reported for four, and on the compositional split); without attention, measured
and reported by number of objects (the issue expects it worse as objects increase). The load average is printed too,
since other work inflates the times.

    python benchmarks/lab5_captioning.py [--budget full|smoke] [--executed OUT.ipynb]
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

import nbformat

from autograde.authoring.solutions import execute_solution
from autograde.course import Course

TARGETS = {"fully_true": 0.95, "seconds": 600}


def verdict(ok):
    return "met" if ok else "MISSED"


def row(name, table):
    return "\n".join(
        f"  {name:>20} {key!s:>4} objects: fully true {r['fully_true']:.3f}, precision {r['precision']:.3f}, "
        f"recall {r['recall']:.3f}, exact {r['exact_match']:.3f}, BLEU-4 {r['bleu4']:.3f} ({r['images']} images)"
        for key, r in table.items()
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("full", "smoke"), default="full")
    parser.add_argument(
        "--executed", type=Path, help="also write the executed notebook (with its outputs and plots) here"
    )
    args = parser.parse_args()
    course = Course.find()
    lab = course.resolve_lab("lab5")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        executed, run = execute_solution(course, lab, cwd=tmp, env={"LAB_BUDGET": args.budget, "LAB_OUTPUT_DIR": tmp})
        if args.executed:
            nbformat.write(executed, args.executed)
        if not run.ok:
            raise SystemExit(f"the notebook failed: {run.failures or [t for t in run.tests if not t.passed]}")
        description = json.loads((Path(tmp) / "lab5" / "captioner.json").read_text())
    load_after = os.getloadavg()

    print(
        f"budget={args.budget}, trained on {description['trained_on']}; load average (1, 5, 15 min) "
        f"before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    for name, seconds in description["train_seconds"].items():
        print(f"  training {name}: {seconds:.1f} s")
    for name, table in description["test_scores"].items():
        print(row(name + ", test", table))
    print(row("compositional", description["compositional_scores"]))
    attention = description["test_scores"]["with attention"]
    for objects in ("1", "2", "3"):
        share = attention[objects]["fully_true"]
        print(
            f"with attention, {objects} object(s): {share:.3f} fully true "
            f"(target >= {TARGETS['fully_true']}: {verdict(share >= TARGETS['fully_true'])})"
        )
    pooled = description["test_scores"]["one pooled vector"]
    counts = [k for k in attention if k != "all"]
    print(
        "fully true by objects, with attention: "
        + ", ".join(f"{k}: {attention[k]['fully_true']:.3f}" for k in counts)
        + "; one pooled vector: "
        + ", ".join(f"{k}: {pooled[k]['fully_true']:.3f}" for k in counts)
    )
    print(
        f"whole notebook: {run.seconds:.1f} s (target <= {TARGETS['seconds']} s: {verdict(run.seconds <= TARGETS['seconds'])})"
    )


if __name__ == "__main__":
    main()
