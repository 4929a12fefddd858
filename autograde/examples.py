"""Example submissions for every lab, made from its solution and student notebooks.

``course make-examples LAB`` writes ``autograde/examples/<lab>/submissions/``: the cases a
grader meets in practice, and ``autograde/examples/<lab>/expected.json``: the row each must get. Scores follow from the
notebook's structure: a test cell passes when every answer cell before it is filled in.
"""
import copy
import json
import re
import shutil

import nbformat

from autograde.rebuild import _is_answer, _nbgrader

MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
INFINITE_LOOP = "while True:  # oops: this never ends\n    pass\n"


def answers_from_solution(course, lab):
    """grade_id -> the cell as a student who finished the exercise would have it."""
    solution = nbformat.read(course.solution_notebook(lab), as_version=4)
    return {
        _nbgrader(cell)["grade_id"]: "\n".join(line for line in cell.source.split("\n") if not MARKER.match(line))
        for cell in solution.cells
        if _is_answer(cell)
    }


def fill(release, answers, grade_ids):
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if _is_answer(cell) and _nbgrader(cell)["grade_id"] in grade_ids:
            cell.source = answers[_nbgrader(cell)["grade_id"]]
    return notebook


def expected_score(release, filled):
    """Points of the test cells that come after only filled-in answer cells."""
    score, blocked = 0.0, False
    for cell in release.cells:
        meta = _nbgrader(cell)
        if _is_answer(cell) and meta["grade_id"] not in filled:
            blocked = True
        elif meta.get("grade") and not blocked:
            score += float(meta.get("points", 0))
    return score


def make_examples(course, lab, dest=None):
    """Writes the examples into ``dest`` (default: autograde/examples/<lab>) and returns that folder."""
    release = nbformat.read(course.lab_notebook(lab), as_version=4)
    answers = answers_from_solution(course, lab)
    order = list(answers)
    everything, first_half = set(order), set(order[: len(order) // 2])
    total = expected_score(release, everything)
    examples = {}

    examples["full-marks"] = (fill(release, answers, everything), total)
    examples["untouched"] = (copy.deepcopy(release), 0.0)
    examples["partial"] = (fill(release, answers, first_half), expected_score(release, first_half))

    stripped = fill(release, answers, everything)
    for index, cell in enumerate(stripped.cells):
        cell.metadata = {}
        cell.id = f"colab-{index:03d}"
    stripped.metadata = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"}}
    examples["stripped-metadata"] = (stripped, total)

    examples["rearranged"] = (_rearranged(fill(release, answers, everything), answers), total)

    tampered = fill(release, answers, first_half)
    for cell in tampered.cells:
        if _nbgrader(cell).get("grade"):
            cell.source = "pass  # tests? what tests"
            cell.metadata["nbgrader"]["points"] = 100
    examples["tampered-tests"] = (tampered, expected_score(release, first_half))

    looping = fill(release, answers, everything)
    last = [cell for cell in looping.cells if _is_answer(cell)][-1]
    last.source = INFINITE_LOOP + last.source
    examples["infinite-loop"] = (looping, expected_score(release, everything - {order[-1]}))

    folder = dest or course.root / "autograde" / "examples" / lab
    if folder.exists():
        shutil.rmtree(folder)
    submissions = folder / "submissions"
    submissions.mkdir(parents=True)
    expected = {}
    for name, (notebook, score) in examples.items():
        filename = f"{name}.ipynb"
        nbformat.write(notebook, submissions / filename)
        expected[filename] = {"student_id": name, "status": "graded", "score": score, "max_score": total}
    (submissions / "not-a-notebook.py").write_text("# Exported with File > Download > .py instead of .ipynb\nprint('hello')\n")
    expected["not-a-notebook.py"] = {"student_id": "not-a-notebook", "status": "not graded", "score": 0.0, "max_score": total}
    (folder / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    return folder


def _rearranged(notebook, answers):
    """Cells inserted (a helper an answer uses, a scratch cell), deleted and reordered."""
    cells = notebook.cells
    answer_positions = [i for i, cell in enumerate(cells) if _is_answer(cell)]
    # A helper defined before the first answer, and used by it.
    first = cells[answer_positions[0]]
    helper = nbformat.v4.new_code_cell("def my_helper_that_returns(value):\n    return value\n")
    helper.id = "my-helper"
    first.source += "\n\nassert my_helper_that_returns(42) == 42\n"
    # A scratch cell right after the last answer.
    scratch = nbformat.v4.new_code_cell("print('checking my work')\n")
    scratch.id = "scratch"
    markdown = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown"]
    result = []
    for i, cell in enumerate(cells):
        if i == markdown[-1]:
            continue  # a deleted markdown cell
        if i == answer_positions[0]:
            result.append(helper)
        result.append(cell)
        if i == answer_positions[-1]:
            result.append(scratch)
    # Two markdown cells swapped.
    md = [i for i, cell in enumerate(result) if cell.cell_type == "markdown"]
    result[md[1]], result[md[2]] = result[md[2]], result[md[1]]
    notebook.cells = result
    return notebook
