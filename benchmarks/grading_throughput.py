"""Grading throughput: plain serial ``nbgrader autograde`` against ``course grade`` with 1 and 2 workers.

All three grade the same submissions (copies of a lab's example submissions, at least 20)
with the lab under LAB_BUDGET=smoke, on this machine, in one run. Prints submissions per
minute, the ratios to nbgrader, and our per-notebook overhead: wall time minus the time the
notebooks spent executing, per notebook (1 worker). Our kernels are forked from a server with
TensorFlow already imported (autograde/forked_kernels.py); nbgrader starts each one afresh.

Targets: at least 2x nbgrader's throughput on a 2-core machine; overhead under 3 s a notebook.

    python benchmarks/grading_throughput.py [--lab lab1] [--count 20]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograde.build import nbgrader_environment
from autograde.course import Course
from autograde.grading import grade_folder

EXAMPLES = ["full-marks", "partial", "untouched", "stripped-metadata", "rearranged", "tampered-tests"]


def make_submissions(course, lab, count, folder):
    source = course.root / "autograde" / "examples" / lab / "submissions"
    folder.mkdir(parents=True)
    for i in range(count):
        shutil.copy(source / f"{EXAMPLES[i % len(EXAMPLES)]}.ipynb", folder / f"s{i:03d}_{lab}.ipynb")


def plain_nbgrader(course, lab, submissions, root):
    """nbgrader as shipped: its own config, one `nbgrader autograde` process, notebooks one at a time."""
    shutil.copytree(course.solutions_dir / lab, root / "source" / lab)
    for path in sorted(submissions.iterdir()):
        student = path.name.split("_")[0]
        (root / "submitted" / student / lab).mkdir(parents=True)
        shutil.copy(path, root / "submitted" / student / lab / f"{lab}.ipynb")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.Execute.timeout = 120\n"  # nbgrader's 30 s default is too short for training cells
        "c.Execute.kernel_name = 'python3'\n"
    )
    env = {**os.environ, "LAB_BUDGET": "smoke"}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", lab, "--force"], cwd=root, env=env, check=True, capture_output=True)
    started = time.monotonic()
    subprocess.run([*nbgrader, "autograde", lab, "--force"], cwd=root, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def ours(course, lab, submissions, out, workers):
    started = time.monotonic()
    rows = grade_folder(course, lab, submissions, out, workers=workers, force=True, progress=False)
    seconds = time.monotonic() - started
    assert all(r.status == "graded" for r in rows), [r.status for r in rows]
    results = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    assert all(r["forked_kernel"] for r in results), "some kernels were not forked from the preloaded server"
    return seconds, sum(r["execute_seconds"] for r in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="lab1")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    course = Course.find()
    lab = course.resolve_lab(args.lab)
    nbgrader_environment()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_submissions(course, lab, args.count, tmp / "submissions")
        baseline = plain_nbgrader(course, lab, tmp / "submissions", tmp / "nbgrader")
        one, executing = ours(course, lab, tmp / "submissions", tmp / "ours-1", workers=1)
        two, _ = ours(course, lab, tmp / "submissions", tmp / "ours-2", workers=2)

    def per_minute(seconds):
        return args.count / seconds * 60

    print(f"{args.count} submissions of {lab} (LAB_BUDGET=smoke), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"  nbgrader autograde (serial): {baseline:7.1f} s  {per_minute(baseline):5.1f} submissions/min")
    print(f"  course grade, 1 worker:      {one:7.1f} s  {per_minute(one):5.1f} submissions/min  {baseline / one:.2f}x nbgrader")
    print(f"  course grade, 2 workers:     {two:7.1f} s  {per_minute(two):5.1f} submissions/min  {baseline / two:.2f}x nbgrader")
    print(f"  overhead per notebook (1 worker, all but execution): {(one - executing) / args.count:.2f} s")


if __name__ == "__main__":
    main()
