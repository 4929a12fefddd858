"""`course similarity`: renamed copies are found, independently written answers are not, and it lists pairs, not verdicts."""

import nbformat
import pytest
from helpers import EXTRA_CELL, INDEPENDENT, LAB, ORIGINAL, RENAMED_COPY, STUB_HEAD, make_grading_folder, rebuilt

from autograde.cli import main
from autograde.reporting import similarity


@pytest.fixture(scope="module")
def release(course):
    return nbformat.read(course.lab_notebook(LAB), as_version=4)


def test_a_renamed_copy_is_found_and_independent_answers_are_not(release):
    codes = {
        student: similarity.student_code(rebuilt(release, answer))
        for student, answer in {
            "original": ORIGINAL,
            "copy": RENAMED_COPY,
            "own-1": INDEPENDENT[0],
            "own-2": INDEPENDENT[1],
        }.items()
    }
    pairs = similarity.compare(codes, release)
    assert [(p.a, p.b) for p in pairs] == [("copy", "original")]
    [cell] = pairs[0].cells
    assert cell.grade_id == "clip_gradients" and cell.score >= similarity.THRESHOLD
    for a, b in [("original", "own-1"), ("original", "own-2"), ("own-1", "own-2")]:
        score, _ = similarity.cell_score(
            codes[a]["clip_gradients"], codes[b]["clip_gradients"], similarity.boilerplate(release)
        )
        assert score < similarity.THRESHOLD, (a, b)


def test_the_release_notebook_is_boilerplate(release):
    stub = next(c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "clip_gradients")
    codes = {"a": similarity.student_code(rebuilt(release, stub)), "b": similarity.student_code(rebuilt(release, stub))}
    assert similarity.compare(codes, release) == [], "two untouched stubs are not a copy"
    ignored = similarity.boilerplate(release)
    assert (
        similarity.cell_score(STUB_HEAD + "    return grads, 0.0\n", STUB_HEAD + "    return grads, 1.0\n", ignored)[0]
        == 0.0
    )


def test_a_stub_left_in_place_and_copied_below_is_still_boilerplate(release):
    stub = next(c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "clip_gradients")
    signature_and_docstring = stub.split("    # TODO")[0]
    below = [
        signature_and_docstring + body.split('"""\n', 2)[-1] for body in INDEPENDENT
    ]  # each answer under the stub's head
    codes = {
        f"student-{i}": similarity.student_code(rebuilt(release, stub, extra=answer)) for i, answer in enumerate(below)
    }
    assert similarity.compare(codes, release) == [], "the stub's signature and docstring, twice, are not a copy"


def test_release_code_pasted_twice_still_counts_for_nothing(release):
    setup = max((c.source for c in release.cells if c.cell_type == "code"), key=len)
    twice = setup + "\n\n" + setup
    _, matched = similarity.cell_score(twice, twice, similarity.boilerplate(release))
    assert matched < similarity.MIN_MATCHED_CHARS, "only the k-grams across the seam between the two copies are left"


def test_a_student_s_own_code_kept_twice_counts_twice(release):
    # copydetect's own boilerplate option would take the second copy of the answer for boilerplate.
    codes = {"a": {"x": ORIGINAL + "\n\n" + ORIGINAL}, "b": {"x": RENAMED_COPY}}
    [pair] = similarity.compare(codes, release)
    highlighted = "".join(text for text, matched in pair.cells[0].sides[0] if matched)
    assert highlighted.count("total += tf.reduce_sum(g ** 2)") == 2


def test_extra_cells_count_with_the_answer_before_them(release):
    code = similarity.student_code(rebuilt(release, ORIGINAL, extra=EXTRA_CELL))
    assert code["clip_gradients"] == ORIGINAL + "\n\n" + EXTRA_CELL
    assert "raise NotImplementedError" in code["my_lstm_cell"] and EXTRA_CELL not in code["my_lstm_cell"]


def test_matching_code_is_cut_into_highlighted_pieces(release):
    codes = {"a": {"x": ORIGINAL}, "b": {"x": RENAMED_COPY}}
    [pair] = similarity.compare(codes, release)
    left, right = pair.cells[0].sides
    assert "".join(text for text, _ in left) == ORIGINAL and "".join(text for text, _ in right) == RENAMED_COPY
    assert any(matched and "tf.reduce_sum(g ** 2)" in text for text, matched in left)


def test_the_outputs_say_these_are_pairs_to_look_at_not_verdicts(course, tmp_path, capsys):
    out = tmp_path / LAB
    make_grading_folder(course, out)
    assert main(["--root", str(course.root), "similarity", "lab1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pairs to look at, not verdicts" in printed
    assert "alice ~ bob" in printed and "carol ~ erin" in printed and "dave" not in printed
    page = (out / "similarity.html").read_text()
    assert "pairs to look at, not verdicts" in page and "<script" not in page.replace("&lt;script", "")
    assert page.count('<div class="side-by-side">') == 4  # one answer cell in each of the 4 pairs
    assert main(["--root", str(course.root), "similarity", "lab1", "--out", str(tmp_path / "nothing")]) == 2
    assert "run `course grade lab1 FOLDER" in capsys.readouterr().err


def test_the_threshold_is_defined_once_and_shown_by_help(capsys):
    with pytest.raises(SystemExit):
        main(["similarity", "--help"])
    assert f"default: {similarity.THRESHOLD}" in capsys.readouterr().out
