"""Feedback that never shows hidden tests, and where nothing the student's code sent runs.

nbgrader's feedback is the autograded notebook rendered to HTML, hidden test code and
tracebacks included (nbgrader issue #917). Before rendering, nbgrader's own ClearHiddenTests
cuts the hidden regions out of every cell's source (nbgrader_config.py lists it first), and
HideTestDetails does the rest: a test cell's outputs become one line with the test's name, pass
or fail, and the failure message. Tracebacks (which quote the hidden test code) and the hidden
tests' printouts are dropped. BoundedPage keeps the page's size, and the time and memory the grading process spends
making it, bounded: a notebook may hold any amount of code and 20 MB of outputs.

Every output comes from the student's kernel, which can send any: nbconvert writes HTML and Markdown outputs into
the page as they are, runs JavaScript ones and writes an image's size into its tag unquoted, so the student's code
could run in the browser of whoever opens the page (the student, the instructor) or make it load from elsewhere.
InertOutputs keeps only text, images and HTML cleaned of scripts, event handlers, frames, forms, style sheets and
remote addresses. Widget outputs (a tqdm progress bar) so keep only their text: a static page cannot show a widget,
and nbconvert's placeholder script for one needs jQuery, which the feedback page does not load (the browser
reported "$ is not defined").
"""

from __future__ import annotations

import functools
import re
from typing import Any

import nh3
from jinja2 import Environment, FileSystemBytecodeCache
from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from autograde.cells import grade_id_of, is_graded, is_students_extra, is_test

# What a page shows of code cells and their outputs, in characters (images embedded in it aside; each cell counts
# CELL_CHARS more, for its frame): honest pages show under 100,000. Making a page costs the grading process about 10 µs
# of CPU and 200 bytes of memory per character of HTML output (nbconvert parses the whole page with BeautifulSoup) and
# 30 bytes per character of code; a notebook may keep 20 MB of outputs and hold any amount of code, and one page of
# such outputs took the grading process 3 minutes and 3.5 GB.
PAGE_CHARS = 1_000_000
CELL_CHARS = 1_000
NOT_SHOWN = f"not shown: a feedback page shows at most {PAGE_CHARS:,} characters of code and outputs"
DATA_URL = re.compile(r"data:[^\"'\s>]*")
# HTML outputs a page shows, in characters (data: URLs aside; honest pages have under 4,000: Keras's model summaries).
# Parsing HTML takes time that grows with the square of its nesting, in any parser that parses as browsers do (nh3:
# 1.5 s for 20,000 nested <div>, 37 s for 80,000; bleach, tried first, 18 s for 20,000).
HTML_CHARS = 100_000
HTML_NOT_SHOWN = f"not shown: a feedback page shows at most {HTML_CHARS:,} characters of HTML outputs"
# What a page shows of an output's data. nbconvert also writes Markdown and LaTeX (with raw HTML, or for MathJax),
# runs JavaScript and loads widgets: the rest is dropped. An SVG image is shown as an <img>, where it runs nothing.
SHOWN_DATA = ("text/plain", "text/html", "image/png", "image/jpeg", "image/svg+xml")
IMAGES = ("image/png", "image/jpeg")
# What HTML outputs keep: text formatting, tables, images and the audio player embedded in the page (data: URLs), the
# inline styles of Keras's model summaries (rich), links. No script, event handler, frame, form, style sheet, class
# or id (the page's own style sheets could then lay the output over the page's scores), nor anything fetched
# from elsewhere when the page opens.
HTML_TAGS = frozenset(
    "a abbr audio b blockquote br caption code div em h1 h2 h3 h4 h5 h6 hr i img li ol p pre s small source span "
    "strong sub sup table tbody td tfoot th thead tr u ul".split()
)
HTML_ATTRIBUTES = frozenset("alt title style width height colspan rowspan controls type".split())
CSS_PROPERTIES = frozenset(
    "background-color color font-family font-style font-weight line-height overflow-x text-align text-decoration "
    "text-decoration-color white-space".split()
)


def failure(cell: dict[str, Any]) -> tuple[str, str] | None:
    """``(ename, "ename: evalue")`` of the error a cell's outputs hold (a timeout first), or None when it ran cleanly."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if any(o.get("ename") == "CellTimeoutError" for o in errors):
        return "CellTimeoutError", "CellTimeoutError: the cell ran past its time limit and was interrupted"
    for output in errors:
        ename = output.get("ename", "Error")
        return ename, f"{ename}: {output.get('evalue', '')}".strip().rstrip(":")
    return None


def failure_message(cell: dict[str, Any]) -> str | None:
    """'ename: evalue' of a cell's first error output (see :func:`failure`), or None when it ran cleanly."""
    found = failure(cell)
    return found[1] if found else None


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (HTML with its ``feedback`` template) whose compiled templates Jinja keeps on disk.

    nbgrader makes a new exporter for every feedback page, and each parsed and compiled the same nine templates again,
    a quarter of a second a notebook. Jinja's bytecode cache (in a folder of the user's own, keyed by each template's
    source) makes that a load.
    """

    @property
    def environment(self) -> Environment:
        environment = super().environment
        environment.bytecode_cache = _bytecode_cache()
        return environment


@functools.cache
def _bytecode_cache():
    return FileSystemBytecodeCache()


class HideTestDetails(NbGraderPreprocessor):
    """A test cell's outputs become its one-line verdict.

    Runs after nbgrader's ClearHiddenTests, which leaves outputs alone.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code" and is_graded(cell):
            message = failure_message(cell)
            name = grade_id_of(cell)
            verdict = f"\u2714 {name} passed" if message is None else f"\u2718 {name} failed: {message}"
            cell.outputs = [new_output("stream", name="stdout", text=verdict + "\n")]
        return cell, resources


class BoundedPage(NbGraderPreprocessor):
    """A page shows at most PAGE_CHARS characters of code cells and outputs; what is past that is left out, and said.

    Instructions and test cells (with their verdicts) are always shown. Past the limit, an answer or instructor code
    cell keeps its place with a note instead of its code and outputs, and the student's own extra cells are left out
    (a note at the end counts them): their number has no bound. Runs before InertOutputs, which cleans only what is left.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        left, cells, left_out = PAGE_CHARS, [], 0
        for cell in nb.cells:
            if cell.cell_type == "code" and not is_test(cell):
                size = CELL_CHARS + len(cell.source) + sum(map(_shown_chars, cell.get("outputs", [])))
                if size > left and is_students_extra(cell):
                    left_out += 1
                    continue
                if size > left:
                    cell.source, cell.outputs, size = (
                        f"# {len(cell.source):,} characters and their outputs {NOT_SHOWN}",
                        [],
                        0,
                    )
                left -= size
            cells.append(cell)
        if left_out:
            cells.append(new_markdown_cell(f"*{left_out:,} of the student's own code cells are {NOT_SHOWN}.*"))
        nb.cells = cells
        return nb, resources


def _shown_chars(output):
    """The characters of an output a page shows as text or HTML (images embedded as data: URLs aside)."""
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    if output.get("output_type") == "error":
        return len(output.get("evalue", "")) + sum(map(len, output.get("traceback", [])))
    data = output.get("data", {})
    return sum(len(DATA_URL.sub("", str(value))) for mimetype, value in data.items() if mimetype not in IMAGES)


class InertOutputs(NbGraderPreprocessor):
    """Every output keeps only what is safe to show: text, images, cleaned HTML (see SHOWN_DATA and HTML_TAGS).

    Output metadata is dropped but for an image's size in whole pixels: nbconvert writes an image's width and height
    into its tag unquoted (a width of ``1 onerror=...`` is an event handler), shows HTML marked ``isolated`` in a frame
    and an image named in ``filenames`` from that address. Past HTML_CHARS of HTML in a page, an output shows its text
    instead.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self.html_left = HTML_CHARS
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        for output in cell.get("outputs", []):
            if "data" not in output:  # streams and errors: nbconvert escapes their text
                continue
            output.data = {mimetype: value for mimetype, value in output.data.items() if mimetype in SHOWN_DATA}
            html = output.data.pop("text/html", None)
            if html is not None:
                html = "".join(html) if isinstance(html, list) else str(html)
                size = len(DATA_URL.sub("", html))
                if size <= self.html_left:
                    output.data["text/html"] = clean_html(html)
                    self.html_left -= size
                else:
                    output.data.setdefault("text/plain", f"[HTML {HTML_NOT_SHOWN}]")
            output.metadata = _image_sizes(output.get("metadata"))
        return cell, resources


def clean_html(html: str) -> str:
    """``html`` (an output's text/html) without anything that runs, loads from elsewhere or restyles the page."""
    return nh3.clean(
        html,
        tags=HTML_TAGS,
        clean_content_tags={"script", "style"},  # dropped with their text
        attributes={"*": HTML_ATTRIBUTES, "a": {"href"}, "img": {"src"}, "audio": {"src"}, "source": {"src"}},
        attribute_filter=_allowed_attribute,
        url_schemes={"data", "http", "https", "mailto"},
        filter_style_properties=CSS_PROPERTIES,
        strip_comments=True,
    )


def _allowed_attribute(tag, name, value):
    if name == "src":  # only media embedded in the page (data: URLs): opening it fetches nothing
        return value if value.startswith("data:") else None
    if name == "href":  # a link to a page elsewhere, opened only when followed
        return value if value.startswith(("https:", "http:", "mailto:")) else None
    return value


def _image_sizes(metadata):
    """Of an output's metadata, the width and height of its images that are whole numbers of pixels."""
    kept = {}
    for mimetype in IMAGES:
        sizes = (metadata or {}).get(mimetype)
        if isinstance(sizes, dict):
            whole = {k: sizes[k] for k in ("width", "height") if type(sizes.get(k)) is int}
            if whole:
                kept[mimetype] = whole
    return kept
