"""Grading throughput: plain serial ``nbgrader autograde`` against ``course grade`` with 1 and 2 workers.

All grade the same submissions (copies of a lab's example submissions, at least 20) with
the lab under LAB_BUDGET=smoke, on this machine, in one run. Prints submissions per minute,
the ratios to nbgrader, and our per-notebook overhead: wall time minus the time the
notebooks spent executing, per notebook (1 worker). Our kernels are forked from a server with
TensorFlow already imported (autograde/isolation/forked_kernels.py); nbgrader starts each one afresh.

Both run the same tests. Plain nbgrader runs them as it did before issue 14: every check, hidden ones included, in
the kernel, which gets a copy of course_utils whose stored expectations cover the hidden calls too (the student
bundle's cover only the visible ones). Ours probes them in the kernel and judges every call in the grader's process.
``--visible-only`` adds the baseline that runs the visible checks alone (less work than ours);
``--sandbox-cost`` adds 2 workers without the sandbox. It always prints what the self-test costs (one reference
notebook, graded before anyone and then cached), per notebook.

Targets: at least 2x nbgrader's throughput on a 2-core machine; overhead under 1 s a notebook.

    python benchmarks/grading_throughput.py [--lab lab1] [--count 20] [--repeats 3]

The runs of one machine vary by 10 % or more from one to the next, so ``--repeats N`` times nbgrader and 2 workers N
times, interleaved, and prints each pair's ratio; the other figures use the medians (1 worker, for the overhead, runs once).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograde.authoring.build import nbgrader_environment
from autograde.course import Course, OutputFolder
from autograde.grading.folder import grade_folder
from autograde.grading.rows import Status, load_result

EXAMPLES = ["full-marks", "partial", "untouched", "stripped-metadata", "rearranged", "tampered-tests"]


def make_submissions(course, lab, count, folder):
    source = course.example_submissions(lab)
    folder.mkdir(parents=True)
    for i in range(count):
        shutil.copy(source / f"{EXAMPLES[i % len(EXAMPLES)]}.ipynb", folder / f"s{i:03d}_{lab}.ipynb")


HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)


def plain_nbgrader(course, lab, submissions, root, visible_only=False):
    """nbgrader as shipped: its own config, one `nbgrader autograde` process, notebooks one at a time.

    Its kernels import a copy of course_utils whose stored expectations cover every call of the test cells, hidden
    ones included, so they run the same checks ours judges; ``visible_only`` removes the hidden tests instead.
    """
    from autograde.grading.references import expected_data, expected_path

    shutil.copytree(course.solutions_dir / lab, root / "source" / lab)
    source = root / "source" / lab / f"{lab}.ipynb"
    env = {**os.environ, "LAB_BUDGET": "smoke"}
    if visible_only:
        notebook = nbformat.read(source, as_version=4)
        for cell in notebook.cells:
            cell.source = HIDDEN_REGION.sub("", cell.source)
        nbformat.write(notebook, source)
    else:
        package = root / "packages"
        shutil.copytree(
            course.root / "course_utils", package / "course_utils", ignore=shutil.ignore_patterns("__pycache__")
        )
        stored = package / "course_utils" / expected_path(lab).relative_to(course.root / "course_utils")
        stored.write_text(json.dumps(expected_data(course, lab, hidden=True)))
        env["PYTHONPATH"] = os.pathsep.join([str(package), *filter(None, [os.environ.get("PYTHONPATH")])])
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
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(
        [*nbgrader, "generate_assignment", lab, "--force"], cwd=root, env=env, check=True, capture_output=True
    )
    started = time.monotonic()
    subprocess.run([*nbgrader, "autograde", lab, "--force"], cwd=root, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def ours(course, lab, submissions, out, workers, sandboxed=True):
    started = time.monotonic()
    rows = grade_folder(course, lab, submissions, out, workers=workers, force=True, progress=False, sandboxed=sandboxed)
    seconds = time.monotonic() - started
    assert all(r.status == Status.GRADED for r in rows), [r.status for r in rows]
    results = [load_result(path) for path in OutputFolder(out).results_dir.glob("*.json")]
    assert all(r.forked_kernel for r in results), "some kernels were not forked from the preloaded server"
    return seconds, sum(r.execute_seconds for r in results)


def self_test_seconds(course, lab):
    """The reference solution graded once, uncached, as `course grade` does before grading anyone (the same job, so
    the grading runs below find it cached)."""
    from autograde.grading.folder import self_test_lab
    from autograde.grading.worker import cache_folder

    for cached in cache_folder().glob(f"self-test-{lab}-*.json"):
        cached.unlink()
    started = time.monotonic()
    check = self_test_lab(course, lab)
    assert check.passed, check.summary()
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="lab1")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument(
        "--visible-only", action="store_true", help="also time nbgrader running the visible checks alone"
    )
    parser.add_argument("--sandbox-cost", action="store_true", help="also time 2 workers without the sandbox")
    parser.add_argument(
        "--repeats", type=int, default=1, help="time nbgrader and 2 workers this many times, interleaved"
    )
    args = parser.parse_args()
    course = Course.find()
    lab = course.resolve_lab(args.lab)
    nbgrader_environment()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_submissions(course, lab, args.count, tmp / "submissions")
        self_test = self_test_seconds(course, lab)  # first, so that no timed run below includes it
        baselines, twos = [], []
        for repeat in range(args.repeats):
            baselines.append(plain_nbgrader(course, lab, tmp / "submissions", tmp / f"nbgrader-{repeat}"))
            twos.append(ours(course, lab, tmp / "submissions", tmp / f"ours-2-{repeat}", workers=2)[0])
        baseline, two = statistics.median(baselines), statistics.median(twos)
        if args.visible_only:
            visible = plain_nbgrader(course, lab, tmp / "submissions", tmp / "nbgrader-visible", visible_only=True)
        one, executing = ours(course, lab, tmp / "submissions", tmp / "ours-1", workers=1)
        if args.sandbox_cost:
            unsandboxed, _ = ours(
                course, lab, tmp / "submissions", tmp / "ours-2-unsandboxed", workers=2, sandboxed=False
            )

    def per_minute(seconds):
        return args.count / seconds * 60

    print(
        f"{args.count} submissions of {lab} (LAB_BUDGET=smoke), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  nbgrader autograde (serial): {baseline:7.1f} s  {per_minute(baseline):5.1f} submissions/min  (the same tests)"
    )
    if args.visible_only:
        print(
            f"  nbgrader, visible checks only: {visible:5.1f} s  {per_minute(visible):5.1f} submissions/min  "
            f"(ours with 2 workers: {visible / two:.2f}x)"
        )
    print(
        f"  course grade, 1 worker:      {one:7.1f} s  {per_minute(one):5.1f} submissions/min  {baseline / one:.2f}x nbgrader"
    )
    print(
        f"  course grade, 2 workers:     {two:7.1f} s  {per_minute(two):5.1f} submissions/min  {baseline / two:.2f}x nbgrader"
    )
    if args.repeats > 1:
        ratios = [b / t for b, t in zip(baselines, twos)]
        print(
            f"  {args.repeats} repeats, nbgrader then 2 workers each: nbgrader "
            + ", ".join(f"{b:.1f}" for b in baselines)
            + " s; 2 workers "
            + ", ".join(f"{t:.1f}" for t in twos)
            + " s; ratios "
            + ", ".join(f"{r:.2f}x" for r in ratios)
            + f"; median {statistics.median(ratios):.2f}x"
        )
    print(f"  overhead per notebook (1 worker, all but execution): {(one - executing) / args.count:.2f} s")
    if args.sandbox_cost:
        print(
            f"  sandbox: 2 workers without it {unsandboxed:.1f} s, with it {two:.1f} s: "
            f"{(two - unsandboxed) / args.count:+.2f} s per notebook (wall time, 2 workers)"
        )
    print(
        f"  self-test: {self_test:.1f} s once per grader version, {self_test / args.count:.2f} s per notebook for "
        f"{args.count} submissions (then cached)"
    )


if __name__ == "__main__":
    main()
