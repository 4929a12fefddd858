"""Keeps hidden-test text out of every output a student will see.

Hidden tests stay hidden only if no output quotes them, and student code can make outputs
say anything: print ``inspect.getsource(hidden_tests)``, read ``autograde/hidden_tests/lab1.py``,
print ``In[-1]`` after a test cell ran, walk ``sys.modules``, or raise an exception whose
message or traceback quotes a hidden line (any failing test cell's traceback does). So, after
grading and before anything is rendered for students, every output of every code cell is
compared with the texts we know to be secret: the hidden regions of the test cells and the
hidden test modules. An output that contains any of it is withheld.

The comparison is by k-character shingles (every substring of length K) of a normalised form
of the text (see :func:`normalise`): secret shingles minus those that also occur in public text
(the release notebook, ``course_utils``), since a student printing their own notebook or the
public checks leaks nothing. A set lookup per position of the output makes the scan linear.
"""
import copy
import html
import json
import re
from pathlib import Path

from nbformat import NotebookNode, from_dict

# K, the shingle length, in characters of normalised text (no whitespace or quotes). Measured on
# the three labs' hidden tests:
# - Small enough that one hidden line on its own is caught. The shortest that say anything,
#   ``hidden_tests.test_loss(compute_loss)`` and ``checks.check_clip_gradients(clip_fn, seed=16)``,
#   are 36 and 44 characters, and their first part is public (the visible test calls the same
#   check). At K=32 every hidden line with a call in it still has 5 or more secret shingles
#   (tests/test_leaks.py checks that each is caught); at K=40 four of them have none.
# - Large enough that secret shingles do not turn up by chance. Against 20 MB of Keras, NumPy and
#   this repository's code, K=24 found a few (``def test_attention_pooling`` in a pytest file, an
#   argument list ``input_dim=6, units=5, seed`` of another lab's visible test); K=28 and 32 none.
K = 32

WITHHELD = "[output withheld: it contained hidden-test code]\n"
MESSAGE_WITHHELD = "[message withheld: it contained hidden-test code]"
TRACEBACK_WITHHELD = "[traceback withheld: it quoted hidden-test code]"

HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.S | re.M)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\?)?")  # colours, cursor moves, links
_TAG = re.compile(r"<[^<>]*>")
_UNICODE_ESCAPE = re.compile(r"\\+(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2}))")
_WHITESPACE_ESCAPE = re.compile(r"\\+[ntrfvb]")
_OTHER_ESCAPE = re.compile(r"\\+")
# Whitespace, quotes and backslashes carry no meaning for a leak and differ between print(src),
# print(repr(src)), json.dumps(src) and a traceback's quoted line, so they are dropped.
_DROP = re.compile(r"[\s\"'`\\]+")


def normalise(text):
    """The form text is compared in: escapes decoded, ANSI codes and HTML entities gone, lower case,
    no whitespace, quotes or backslashes. ``repr()``, JSON and HTML forms of a text normalise alike."""
    if "\\" in text:
        text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
        text = _WHITESPACE_ESCAPE.sub(" ", text)  # "\\n" is a newline in a repr or JSON string
        text = _OTHER_ESCAPE.sub("", text)
    if "\x1b" in text:
        text = _ANSI.sub("", text)  # IPython colours tracebacks token by token
    if "&" in text:
        text = html.unescape(text)
    return _DROP.sub("", text).lower()


def _shingles(text, k):
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def _line_shingles(text, k):
    """Shingles that lie within one line: a shingle across a line break joins the end of one
    statement to the start of the next (``):checks.check_``), which is generic, not secret."""
    return {shingle for line in text.splitlines() for shingle in _shingles(normalise(line), k)}


class SecretText:
    """Knows the secret texts and tells whether some text quotes them.

    ``secrets``: texts that must not reach students (hidden regions, hidden test modules).
    ``public``: texts students have anyway (release notebook cells, course_utils sources); what
    they share with the secrets is not secret.
    """

    def __init__(self, secrets, public=(), k=K):
        self.k = k
        shingles = set()
        for text in secrets:
            shingles |= _line_shingles(text, k)
        for text in public:
            shingles -= _shingles(normalise(text), k)
        self.shingles = frozenset(shingles)
        # A character no secret shingle has cannot be part of a leak: outputs are cut at such
        # characters and only pieces of at least k characters are scanned. Training logs and
        # model summaries ("━", "│", "/", "-") shrink to almost nothing; code-like text is scanned whole.
        alphabet = "".join(sorted(set("".join(self.shingles))))
        self._foreign = re.compile(f"[^{re.escape(alphabet)}]+") if alphabet else None
        # Probes: the m-character substrings of the secret shingles, m = k/2. A secret shingle at
        # position p of the text holds a probe at each of p .. p+k-m, k-m+1 positions in a row, so
        # looking at every (k-m+1)-th position finds a probe inside it; only there are the k-character
        # windows around checked. Same answer as a lookup at every position, about k/2 times fewer lookups.
        self._m = k // 2
        self._probes = frozenset(s[j : j + self._m] for s in self.shingles for j in range(k - self._m + 1))

    def __len__(self):
        return len(self.shingles)

    def contains_secret(self, text):
        """True when the normalised ``text`` has a k-character substring of a secret (and not of a public text)."""
        if not self.shingles or not text:
            return False
        k, m, shingles, probes = self.k, self._m, self.shingles, self._probes
        step = k - m + 1
        for piece in self._foreign.split(normalise(text)):
            n = len(piece)
            if n < k:
                continue
            for i in range(0, n - m + 1, step):
                if piece[i : i + m] in probes:
                    for j in range(max(0, i - (k - m)), min(i, n - k) + 1):  # the k-windows holding this probe
                        if piece[j : j + k] in shingles:
                            return True
        return False


def hidden_regions(source):
    """The code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` in a cell's source."""
    return [match.group(1) for match in HIDDEN_REGION.finditer(_text(source))]


def notebook_secrets(notebook):
    """The hidden regions of every code cell of an nbgrader source notebook (the solution)."""
    return [region for cell in notebook["cells"] if cell.get("cell_type") == "code" for region in hidden_regions(cell.get("source", ""))]


def lab_secret(root, lab, k=K):
    """The :class:`SecretText` of a lab: the hidden regions of ``solutions/<lab>/<lab>.ipynb`` and
    ``autograde/hidden_tests/<labN>.py`` are secret; the release notebook ``labs/<lab>/<lab>.ipynb``
    (cells and grade ids) and ``course_utils/**/*.py`` are public."""
    root = Path(root)
    solution = json.loads((root / "solutions" / lab / f"{lab}.ipynb").read_text())
    secrets = notebook_secrets(solution) + [(root / "autograde" / "hidden_tests" / f"{lab.split('_')[0]}.py").read_text()]
    public = [path.read_text() for path in sorted((root / "course_utils").rglob("*.py"))]
    release = root / "labs" / lab / f"{lab}.ipynb"
    if release.exists():
        cells = json.loads(release.read_text())["cells"]
        public += [_text(cell.get("source", "")) for cell in cells]
        public += [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "") for cell in cells]
    return SecretText(secrets, public, k=k)


def _text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


def _is_text_mime(mime):
    """Mime types whose data is text a notebook renders (images and PDFs are base64 and are skipped)."""
    return mime.startswith("text/") or mime.endswith(("json", "+xml")) or mime == "application/javascript"


def _output_text(output):
    """Everything readable in a non-error output: its text, text-like data, and metadata."""
    parts = [_text(output.get("text", ""))]
    for mime, value in (output.get("data") or {}).items():
        if _is_text_mime(mime):
            value = value if isinstance(value, str) else _text(value) if isinstance(value, list) else json.dumps(value)
            if "html" in mime or mime.endswith("xml"):
                value = _TAG.sub("", value)  # highlighted code is split into <span>s token by token
            parts.append(value)
    if output.get("metadata"):
        parts.append(json.dumps(output["metadata"]))
    return "\n".join(parts)


def _withheld_stream():
    return {"output_type": "stream", "name": "stdout", "text": WITHHELD}


def _as_node(output, like):
    """``output`` as the same kind of object as ``like`` (a NotebookNode in a NotebookNode notebook)."""
    return from_dict(output) if isinstance(like, NotebookNode) else output


def withhold_leaks(notebook, secret, cells=None):
    """Withholds, in place, every output of ``notebook`` that contains secret text; returns notes.

    ``cells``: the indices of the cells to look at (default: every code cell). A stream, result or
    display output that quotes a secret is replaced by one stream output saying it was withheld.
    An error output stays an error (so a test cell still counts as failed) with its ``ename``; its
    ``evalue`` and ``traceback`` are replaced by a generic line when they quote a secret.
    Streams are also checked together, so a secret printed in pieces is caught too.
    Notes say ``cell N`` with N counted from 1, like the grader's other notes.
    """
    indices = range(len(notebook["cells"])) if cells is None else cells
    notes = []
    for index in indices:
        cell = notebook["cells"][index]
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            continue
        withheld, tracebacks = 0, 0
        outputs = []
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                cleaned, changed = _clean_error(output, secret)
                if changed == "message":
                    withheld += 1
                elif changed == "traceback":
                    tracebacks += 1
                outputs.append(_as_node(cleaned, output) if changed else output)
            elif secret.contains_secret(_output_text(output)):
                withheld += 1
                outputs.append(_as_node(_withheld_stream(), output))
            else:
                outputs.append(output)
        streams = [o for o in outputs if o.get("output_type") == "stream" and _text(o.get("text")) != WITHHELD]
        if len(streams) > 1 and secret.contains_secret("".join(_text(o.get("text")) for o in streams)):
            withheld += len(streams)
            outputs = [_as_node(_withheld_stream(), o) if any(o is s for s in streams) else o for o in outputs]
        cell["outputs"] = _merge_withheld(outputs)
        where = f"cell {index + 1}"
        if withheld:
            notes.append(f"{where}: an output was withheld because it contained hidden-test code")
        if tracebacks:
            notes.append(f"{where}: an error's traceback was withheld because it quoted hidden-test code")
    return notes


def _clean_error(output, secret):
    """(the error output to keep, what changed: None, "traceback" or "message")."""
    ename = output.get("ename", "Error")
    evalue = output.get("evalue", "")
    traceback = output.get("traceback", [])
    message_leaks = secret.contains_secret(ename) or secret.contains_secret(evalue)
    traceback_leaks = message_leaks or secret.contains_secret("\n".join(traceback))
    if not traceback_leaks:
        return output, None
    cleaned = copy.deepcopy(dict(output))
    if secret.contains_secret(ename):
        ename = "Error"
    if message_leaks:
        evalue = MESSAGE_WITHHELD
    cleaned.update(ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}", TRACEBACK_WITHHELD])
    return cleaned, "message" if message_leaks else "traceback"


def _merge_withheld(outputs):
    """Consecutive "withheld" outputs become one."""
    merged = []
    for output in outputs:
        if merged and _text(output.get("text")) == WITHHELD and _text(merged[-1].get("text")) == WITHHELD:
            continue
        merged.append(output)
    return merged
