"""How well ``course similarity`` separates copies from independent work (README, Benchmarks).

The set, per lab: every example submission (autograde/examples/<lab>/submissions, all holding the
solution's answers or stubs), rebuilt as the grader rebuilds them; a generated copy of the
solution with every local variable renamed, comments dropped and the code reformatted; and the
handwritten answers in benchmarks/similarity_cases/<lab>/<grade_id>/: NAME.py are genuinely
different correct implementations of one small exercise (each is checked with the lab's own
check first), NAME--copy.py is NAME.py copied with renamed variables, new comments and small
edits. Each handwritten answer is one student: the release notebook with only that answer filled.

It prints the score of every copied pair, the highest score among independently written answers
(the solution's included), and what ``course similarity`` lists at its default threshold:
copies must be found, independent answers must not be.

    .venv/bin/python benchmarks/similarity.py
"""

import ast
import contextlib
import io
import itertools
import os
import sys
import time
from pathlib import Path

import nbformat

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from autograde.authoring.examples import answers_from_solution, fill
from autograde.course import Course
from autograde.grading.intake import StudentIds, collect
from autograde.grading.rebuild import rebuild
from autograde.grading.rows import Status
from autograde.reporting import similarity  # noqa: E402

CASES = Path(__file__).resolve().parent / "similarity_cases"
COPY = "--copy"
# The lab's public check for each handwritten exercise: (module, check, keyword arguments).
CHECKS = {
    "clip_gradients": ("course_utils.checks.lab1", "check_clip_gradients", {"seed": 0}),
    "macro_recall": ("course_utils.checks.lab3", "check_macro_recall", {"seed": 0}),
    "class_weights": ("course_utils.checks.lab3", "check_class_weights", {"seed": 0}),
}


def renamed_copy(source):
    """``source`` with every variable assigned inside a function renamed, comments dropped, code reformatted."""
    tree = ast.parse(source)
    local = sorted(
        {
            node.id
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef)
            for node in ast.walk(function)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        }
    )
    names = {name: f"my_var{i}" for i, name in enumerate(local)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    return "# my own version\n" + ast.unparse(tree)


def verify(path, grade_id):
    """Runs a handwritten answer through the lab's check; raises if it is not correct."""
    import importlib

    import numpy as np
    import tensorflow as tf

    namespace = {"np": np, "tf": tf}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    module, check, kwargs = CHECKS[grade_id]
    with contextlib.redirect_stdout(io.StringIO()):  # the check's pass line
        getattr(importlib.import_module(module), check)(namespace[grade_id], **kwargs)


def lab_set(course, lab):
    """``{student: {grade_id: code}}`` for the lab's benchmark set, and ``{(student, grade_id): group}``."""
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    answers = answers_from_solution(course, lab)
    codes, groups = {}, {}
    for submission in collect(course.example_submissions(lab), StudentIds()):
        if submission.status == Status.GRADABLE:
            codes[submission.student_id] = similarity.student_code(
                rebuild(release, nbformat.from_dict(submission.notebook))[0]
            )
    renamed = {grade_id: renamed_copy(code) for grade_id, code in answers.items()}
    codes["renamed-solution"] = similarity.student_code(fill(release, renamed, renamed))
    for student, cells in codes.items():
        groups.update({(student, grade_id): "solution" for grade_id in cells})
    for path in sorted((CASES / lab).glob("*/*.py")):
        grade_id, student = path.parent.name, f"{path.parent.name}-{path.stem}"
        codes[student] = similarity.student_code(fill(release, {grade_id: path.read_text()}, {grade_id}))
        groups[(student, grade_id)] = path.stem.removesuffix(COPY)
    return release, answers, codes, groups


def main():
    course = Course.find()
    started = time.monotonic()
    copied, independent, listed_copies, false_positives = (
        [],
        [],
        set(),
        [],
    )  # copied: (score, matched, what, pair and cell)
    submissions = 0
    for lab in course.labs():
        release, answers, codes, groups = lab_set(course, lab)
        submissions += len(codes)
        ignored = similarity.boilerplate(release)
        for grade_id, answer in answers.items():  # generated renamed copies of every answer cell
            score, matched = similarity.cell_score(answer, codes["renamed-solution"][grade_id], ignored)
            copied.append(
                (
                    score,
                    matched,
                    f"{lab} {grade_id}: solution ~ renamed copy",
                    ("full-marks", "renamed-solution", grade_id),
                )
            )
        for folder in sorted(p for p in (CASES / lab).glob("*") if p.is_dir()):
            grade_id = folder.name
            cases = {path.stem: path for path in sorted(folder.glob("*.py"))}
            for path in cases.values():
                verify(path, grade_id)
            own = {name: path.read_text() for name, path in cases.items() if not name.endswith(COPY)}
            own["solution"] = answers[grade_id]
            for a, b in itertools.combinations(sorted(own), 2):
                score, matched = similarity.cell_score(own[a], own[b], ignored)
                independent.append((score, matched, f"{lab} {grade_id}: {a} ~ {b}"))
            for name in cases:
                if name.endswith(COPY):
                    original = name.removesuffix(COPY)
                    score, matched = similarity.cell_score(
                        cases[original].read_text(), cases[name].read_text(), ignored
                    )
                    pair = tuple(sorted([f"{grade_id}-{original}", f"{grade_id}-{name}"])) + (grade_id,)
                    copied.append((score, matched, f"{lab} {grade_id}: {original} ~ {name} (handwritten)", pair))
        for pair in similarity.compare(codes, release):  # what `course similarity` would list
            for cell in pair.cells:
                if groups.get((pair.a, cell.grade_id)) == groups.get((pair.b, cell.grade_id)):
                    listed_copies.add((pair.a, pair.b, cell.grade_id))
                else:
                    false_positives.append(f"{lab} {cell.grade_id}: {pair.a} ~ {pair.b} {cell.score:.2f}")
    seconds = time.monotonic() - started

    print(
        f"threshold {similarity.THRESHOLD}, at least {similarity.MIN_MATCHED_CHARS} matched characters "
        f"(fingerprints of {similarity.NOISE_CHARS})\n"
    )
    print("copied pairs (must be found):")
    for score, matched, what, _ in sorted(copied):
        print(f"  {score:5.2f}  {matched:5d} chars  {what}")
    print("\nindependently written answers (must not be found), highest first:")
    for score, matched, what in sorted(independent, reverse=True):
        print(f"  {score:5.2f}  {matched:5d} chars  {what}")
    short = [c for c in copied if c[1] < similarity.MIN_MATCHED_CHARS]  # one-line answers: nothing to tell apart
    comparable = [c for c in copied if c[1] >= similarity.MIN_MATCHED_CHARS]
    missed = [c[2] for c in comparable if c[3] not in listed_copies]
    top = max(independent)
    print(
        f"\ncopied pairs: {len(comparable) - len(missed)} of {len(comparable)} found (scores "
        f"{min(c[0] for c in comparable):.2f} to {max(c[0] for c in comparable):.2f}, {min(c[1] for c in comparable)} "
        f"or more matching characters); {len(short)} one-line answers share fewer than {similarity.MIN_MATCHED_CHARS} "
        f"characters with their copy and are not compared ({', '.join(c[2] for c in short)})"
    )
    print(
        f"independent answers: {len(independent)} pairs, highest score {top[0]:.2f} ({top[1]} matching characters, "
        f"{top[2]}); most matching characters {max(c[1] for c in independent)}"
    )
    print(
        f"course similarity on the whole set ({submissions} submissions): "
        f"{len(missed)} copies missed{': ' + '; '.join(missed) if missed else ''}; {len(false_positives)} independent "
        f"answers listed{': ' + '; '.join(false_positives) if false_positives else ''}"
    )
    print(f"{seconds:.1f} s")
    return 1 if missed or false_positives else 0


if __name__ == "__main__":
    sys.exit(main())
