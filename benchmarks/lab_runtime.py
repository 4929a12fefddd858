"""Wall-clock time of each solution notebook, run top to bottom in a fresh kernel.

Targets: under LAB_BUDGET=full (what students run) a lab finishes in under 10 minutes on
a 2-core CPU; under LAB_BUDGET=smoke (CI, autograding) in under 2 minutes.

    python benchmarks/lab_runtime.py [--budget full|smoke] [LAB ...]
"""

import argparse
import tempfile

from autograde.authoring.solutions import execute_solution
from autograde.course import Course

TARGET_SECONDS = {"full": 600, "smoke": 120}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*")
    parser.add_argument("--budget", choices=sorted(TARGET_SECONDS), default="full")
    args = parser.parse_args()
    course = Course.find()
    target = TARGET_SECONDS[args.budget]
    for lab in [course.resolve_lab(lab) for lab in args.labs] or course.labs():
        with tempfile.TemporaryDirectory() as tmp:
            _, run = execute_solution(course, lab, cwd=tmp, env={"LAB_BUDGET": args.budget})
        verdict = "within" if run.seconds < target and run.ok else "MISSES"
        print(
            f"{lab:32s} budget={args.budget:5s} {run.seconds:6.1f} s  ({verdict} the {target} s target; tests {'pass' if run.ok else 'FAIL'})"
        )


if __name__ == "__main__":
    main()
