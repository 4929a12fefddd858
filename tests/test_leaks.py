"""Outputs that quote hidden tests are withheld; honest outputs are left alone."""
import copy
import html
import json
import random
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograde.leaks import (
    K,
    MESSAGE_WITHHELD,
    TRACEBACK_WITHHELD,
    WITHHELD,
    SecretText,
    hidden_regions,
    lab_secret,
    normalise,
    notebook_secrets,
    withhold_leaks,
)

ROOT = Path(__file__).resolve().parents[1]
LAB = "lab1_rnns_from_scratch"
LABS = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


@pytest.fixture(scope="module")
def secret():
    return lab_secret(ROOT, LAB)


@pytest.fixture(scope="module")
def hidden_module():
    return (ROOT / "autograde" / "hidden_tests" / "lab1.py").read_text()


@pytest.fixture(scope="module")
def solution():
    return nbformat.read(ROOT / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def hidden_line(solution):
    """One line of a hidden region of a test cell, e.g. ``hidden_tests.test_rnn_cell_weights(MyRNNCell)``."""
    return next(line for region in notebook_secrets(solution) for line in region.splitlines() if "(" in line).strip()


def graded_cell(source="checks.check_rnn_cell_weights(MyRNNCell, input_dim=3, units=4)", outputs=()):
    cell = new_code_cell(source, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_rnn_cell_weights", "points": 1, "solution": False, "locked": True}
    return cell


def notebook_printing(*texts):
    cells = [new_code_cell("print(x)", outputs=[new_output("stream", name="stdout", text=text)]) for text in texts]
    return new_notebook(cells=cells)


def stream_texts(notebook):
    return [o.get("text") for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "stream"]


# --- leaks are caught --------------------------------------------------------------------------

def test_printing_a_hidden_test_module_is_withheld(secret, hidden_module):
    notebook = notebook_printing("my answer works\n", hidden_module)
    notes = withhold_leaks(notebook, secret)
    assert notes == ["cell 2: an output was withheld because it contained hidden-test code"]
    assert stream_texts(notebook) == ["my answer works\n", WITHHELD]
    nbformat.validate(notebook)


def test_one_line_of_a_hidden_region_is_withheld(secret, hidden_line):
    notebook = notebook_printing(f"In[5] was:\n{hidden_line}\n")
    assert withhold_leaks(notebook, secret) == ["cell 1: an output was withheld because it contained hidden-test code"]
    assert stream_texts(notebook) == [WITHHELD]


@pytest.mark.parametrize("encode", [repr, json.dumps, lambda s: json.dumps(json.dumps(s)), html.escape, str.upper,
                                    lambda s: " ".join(s.split()), lambda s: "\n".join(s.splitlines()[::1]).replace("\n", "\r\n")],
                         ids=["repr", "json", "json-twice", "html", "upper", "one-line", "crlf"])
def test_escaped_forms_are_withheld(secret, hidden_module, encode):
    notebook = notebook_printing(encode(hidden_module))
    assert withhold_leaks(notebook, secret)
    assert stream_texts(notebook) == [WITHHELD]


def test_a_single_hidden_line_is_found_in_its_repr(secret, hidden_line):
    assert secret.contains_secret(repr(hidden_line))
    assert secret.contains_secret(json.dumps({"source": [hidden_line + "\n"]}))


def test_an_exception_quoting_a_hidden_line_stays_an_error(secret, hidden_line):
    error = new_output("error", ename="ValueError", evalue=f"look: {hidden_line}", traceback=["ValueError: ...", hidden_line])
    notebook = new_notebook(cells=[new_code_cell("raise ValueError(In[5])", outputs=[error])])
    notes = withhold_leaks(notebook, secret)
    assert notes == ["cell 1: an output was withheld because it contained hidden-test code"]
    [output] = notebook.cells[0].outputs
    assert output.output_type == "error" and output.ename == "ValueError"
    assert output.evalue == MESSAGE_WITHHELD
    assert hidden_line not in json.dumps(output)
    nbformat.validate(notebook)


def ipython_traceback(source, path, failing):
    """The coloured traceback IPython shows for ``source`` failing (the way a failed test cell's looks)."""
    import sys

    from IPython.core.ultratb import VerboseTB

    path.write_text(source)

    class Tests:
        def __init__(self, fails):
            self.fails = fails

        def __getattr__(self, name):
            def check(*args, **kwargs):
                if self.fails:
                    raise ValueError("kernel should have shape (7, 2), got (2, 7)")
            return check

    names = {"checks": Tests(fails=failing == "visible"), "hidden_tests": Tests(fails=failing == "hidden")}
    try:
        exec(compile(source, str(path), "exec"), {**names, "MyRNNCell": object})
    except ValueError:
        error_type, error, traceback = sys.exc_info()
        return VerboseTB().structured_traceback(error_type, error, traceback.tb_next)  # from the cell's frame on
    raise AssertionError("the source did not fail")


@pytest.mark.parametrize("failing", ["visible", "hidden"])
def test_a_failing_test_cell_keeps_its_message_but_not_its_traceback(secret, solution, tmp_path, failing):
    """IPython colours a traceback token by token and quotes the lines around the failing one,
    the hidden region included; the message, the check's own words, is kept."""
    source = next(c.source for c in solution.cells if "### BEGIN HIDDEN TESTS" in c.source)
    traceback = ipython_traceback(source, tmp_path / "cell.py", failing)
    assert "\x1b[" in "".join(traceback) and secret.contains_secret("\n".join(traceback))
    error = new_output("error", ename="ValueError", evalue="kernel should have shape (7, 2), got (2, 7)", traceback=traceback)
    notebook = new_notebook(cells=[graded_cell(source, outputs=[error])])
    notes = withhold_leaks(notebook, secret)
    assert notes == ["cell 1: an error's traceback was withheld because it quoted hidden-test code"]
    [output] = notebook.cells[0].outputs
    assert output.output_type == "error"  # the test still counts as failed
    assert (output.ename, output.evalue) == ("ValueError", "kernel should have shape (7, 2), got (2, 7)")
    assert output.traceback == ["ValueError: kernel should have shape (7, 2), got (2, 7)", TRACEBACK_WITHHELD]
    nbformat.validate(notebook)


def test_rich_outputs_are_scanned(secret, hidden_module):
    highlighted = "".join(f'<span class="n">{html.escape(token)}</span>' for token in re.split(r"(\W)", hidden_module))
    cells = [
        new_code_cell("display(HTML(...))", outputs=[new_output("display_data", data={"text/html": highlighted, "text/plain": "<Code>"})]),
        new_code_cell("{'src': src}", execution_count=3, outputs=[new_output("execute_result", data={"application/json": {"src": hidden_module}}, execution_count=3)]),
        new_code_cell("Markdown(src)", outputs=[new_output("display_data", data={"text/markdown": f"```python\n{hidden_module}```"})]),
    ]
    notebook = new_notebook(cells=cells)
    notes = withhold_leaks(notebook, secret)
    assert len(notes) == 3
    assert stream_texts(notebook) == [WITHHELD] * 3
    nbformat.validate(notebook)


def test_a_secret_printed_in_pieces_is_withheld(secret, hidden_module):
    half = len(hidden_module) // 2
    pieces = [new_output("stream", name="stdout", text=hidden_module[i : i + 20]) for i in range(half, half + 200, 20)]
    notebook = new_notebook(cells=[new_code_cell("for c in chunks: print(c, end='', flush=True)", outputs=pieces)])
    assert withhold_leaks(notebook, secret)
    assert stream_texts(notebook) == [WITHHELD]


def test_only_the_given_cells_are_looked_at(secret, hidden_module):
    notebook = notebook_printing(hidden_module, hidden_module)
    assert withhold_leaks(notebook, secret, cells=[1]) == ["cell 2: an output was withheld because it contained hidden-test code"]
    assert stream_texts(notebook) == [hidden_module, WITHHELD]


def test_plain_json_notebooks_work_too(secret, hidden_module):
    notebook = json.loads(nbformat.writes(notebook_printing("fine\n", hidden_module)))
    assert withhold_leaks(notebook, secret) == ["cell 2: an output was withheld because it contained hidden-test code"]
    assert type(notebook["cells"][1]["outputs"][0]) is dict
    assert [o["text"] for c in notebook["cells"] for o in c["outputs"]] == [["fine\n"], WITHHELD]


@pytest.mark.parametrize("lab", LABS)
def test_every_hidden_line_is_caught_on_its_own(lab):
    """Why K is what it is: each hidden line that calls something is caught alone, though its
    first part is often public (the visible test calls the same check)."""
    secret = lab_secret(ROOT, lab)
    solution = json.loads((ROOT / "solutions" / lab / f"{lab}.ipynb").read_text())
    texts = notebook_secrets(solution) + [(ROOT / "autograde" / "hidden_tests" / f"{lab.split('_')[0]}.py").read_text()]
    lines = [line.strip() for text in texts for line in text.splitlines() if "(" in line and not line.strip().startswith(("def ", "from ", "import "))]
    assert lines
    assert [line for line in lines if not secret.contains_secret(line)] == []


# --- honest outputs are left alone -------------------------------------------------------------

MODEL_SUMMARY = """Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ rnn (RNN)                       │ (None, None, 5)        │            45 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, None, 2)        │            12 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 57 (228.00 B)
 Trainable params: 57 (228.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def test_honest_lab_output_is_left_alone(secret, solution):
    release = nbformat.read(ROOT / "labs" / LAB / f"{LAB}.ipynb", as_version=4)
    public_test_lines = [line for c in release.cells if c.metadata.get("nbgrader", {}).get("grade") for line in c.source.splitlines()]
    answers = [c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")]
    checks_source = (ROOT / "course_utils" / "checks" / "lab1.py").read_text()
    error = new_output("error", ename="CheckFailed", evalue="state_size should be units=4, got 3",
                       traceback=["CheckFailed  Traceback (most recent call last)", f"----> 2 {public_test_lines[1]}", checks_source[:2000]])
    cells = [
        new_code_cell("print(public)", outputs=[new_output("stream", name="stdout", text="\n".join(public_test_lines))]),
        new_code_cell("summary", outputs=[new_output("stream", name="stdout", text=MODEL_SUMMARY)]),
        new_code_cell("numbers", outputs=[new_output("stream", name="stdout", text="".join(f"length {n:3d}: SimpleRNN {n % 7 / 7:.0%}   LSTM {n % 5 / 5:.0%}\n" for n in range(2000)))]),
        new_code_cell("print(own code)", outputs=[new_output("stream", name="stdout", text="\n\n".join(answers))]),
        new_code_cell("print(release)", outputs=[new_output("stream", name="stdout", text=json.dumps(nbformat.writes(release)))]),
        new_code_cell("print(checks)", outputs=[new_output("stream", name="stdout", text=checks_source)]),
        new_code_cell("x", execution_count=1, outputs=[new_output("execute_result", data={"text/plain": repr(list(range(500)))}, execution_count=1)]),
        graded_cell(outputs=[error]),
    ]
    notebook = new_notebook(cells=cells)
    before = copy.deepcopy(notebook)
    assert withhold_leaks(notebook, secret) == []
    assert notebook == before


@pytest.mark.parametrize("lab", LABS)
def test_the_probe_scan_answers_like_a_lookup_at_every_position(lab):
    secret = lab_secret(ROOT, lab)
    shingles = sorted(secret.shingles)
    rng = random.Random(0)

    def everywhere(text):
        text = normalise(text)
        return any(text[i : i + secret.k] in secret.shingles for i in range(len(text) - secret.k + 1))

    for _ in range(500):
        shingle = rng.choice(shingles)
        middle = shingle if rng.random() < 0.5 else shingle[rng.randint(0, 12) : rng.randint(20, secret.k)]
        text = "".join(rng.choices("ab(),=._ 01", k=rng.randint(0, 50))) + middle + "".join(rng.choices("xy_.,", k=rng.randint(0, 50)))
        assert secret.contains_secret(text) == everywhere(text), text


def test_normalise_makes_printed_forms_alike(hidden_module):
    plain = normalise(hidden_module)
    assert " " not in plain and "\n" not in plain
    for form in (repr(hidden_module), json.dumps(hidden_module), html.escape(hidden_module), "\x1b[0;32m" + hidden_module + "\x1b[0m"):
        assert normalise(form) == plain


def test_public_text_is_not_secret():
    secret = SecretText(["alpha = compute_the_hidden_answer(seed=12345, size=99)"], public=["alpha = compute_the_hidden_answer(seed=0)"])
    assert len(secret) > 0
    assert secret.contains_secret("compute_the_hidden_answer(seed=12345")
    assert not secret.contains_secret("alpha = compute_the_hidden_answer(seed=0)")
    assert not SecretText([]).contains_secret("anything at all, however long it is")
    assert not SecretText(["short"]).contains_secret("short")  # shorter than K: nothing to match
    assert K >= 24


def test_hidden_regions_are_found():
    source = "check(a)\n### BEGIN HIDDEN TESTS\nhidden(b)\nhidden(c)\n### END HIDDEN TESTS\n"
    assert hidden_regions(source) == ["hidden(b)\nhidden(c)\n"]
    assert hidden_regions(source.splitlines(keepends=True)) == ["hidden(b)\nhidden(c)\n"]
    assert hidden_regions("check(a)\n") == []
