"""Caps what a notebook's cells may output, for every output type, per cell and per notebook.

A student cell can print 100 MB, return a 100 MB string (an execute_result), display a huge
HTML page or raise an error with a huge message. Each such output would land in the autograded
notebook and the student's feedback file. :class:`OutputBudget` sees every output message
before it is stored and shortens or drops what is over the limits. Error outputs are never
dropped, only shortened: an error is what makes a test fail.
"""

import json
from typing import Any

TEXT_MIME = "text/plain"
OUTPUT_MESSAGES = ("stream", "execute_result", "display_data", "update_display_data", "error")


def _size(value):
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def _cut(text, keep):
    return text if len(text) <= keep else text[: max(keep, 0)]


class OutputBudget:
    """Counts a notebook's output and shortens messages that pass its limits.

    Args:
        cell_text_chars: text a cell may output (streams, text/plain results, error messages).
        cell_output_chars: output of every type a cell may produce (characters of JSON).
        notebook_output_chars: output of every type the whole notebook may produce.
    """

    def __init__(self, cell_text_chars: int, cell_output_chars: int, notebook_output_chars: int):
        self.cell_text_chars = cell_text_chars
        self.cell_output_chars = cell_output_chars
        self.notebook_output_chars = notebook_output_chars
        self.notebook_used = 0
        self._cells = {}  # cell index -> {"text": used, "all": used, "cut": bool}

    def admit(self, msg: dict[str, Any], cell_index: int) -> tuple[bool, str | None]:
        """Shortens ``msg`` (an iopub message, changed in place) to what is left of the budget.

        Returns ``(keep, problem)``: whether to store the message at all (once a cell was cut,
        its further output is dropped, errors excepted), and a problem to report the first
        time a cell passes a limit, else None.
        """
        kind = msg["msg_type"]
        if kind not in OUTPUT_MESSAGES:
            return True, None
        used = self._cells.setdefault(cell_index, {"text": 0, "all": 0, "cut": False})
        if used["cut"] and kind != "error":
            return False, None
        text_left = self.cell_text_chars - used["text"]
        all_left = min(self.cell_output_chars - used["all"], self.notebook_output_chars - self.notebook_used)
        content = msg["content"]
        if kind == "stream":
            cut = self._shorten_stream(content, min(text_left, all_left))
        elif kind == "error":
            cut = self._shorten_error(content, min(text_left, all_left))
        else:
            cut = self._shorten_data(content, text_left, all_left)
        size = self._content_size(kind, content)
        text = size if kind in ("stream", "error") else _size(content.get("data", {}).get(TEXT_MIME, ""))
        used["text"] += text
        used["all"] += size
        self.notebook_used += size
        if not cut or used["cut"]:
            return True, None
        used["cut"] = True
        return True, (
            f"cell {cell_index + 1} produced more output than the limits allow (per cell {self.cell_text_chars:,} "
            f"characters of text, {self.cell_output_chars:,} of all output; {self.notebook_output_chars:,} per notebook); "
            "the rest was cut"
        )

    @staticmethod
    def _content_size(kind, content):
        if kind == "stream":
            return len(content.get("text", ""))
        if kind == "error":
            return len(content.get("evalue", "")) + sum(len(line) for line in content.get("traceback", []))
        return sum(_size(v) for v in content.get("data", {}).values()) + _size(content.get("metadata", {}))

    @staticmethod
    def _shorten_stream(content, left):
        text = content.get("text", "")
        if len(text) <= left:
            return False
        content["text"] = _cut(text, left) + "\n[output cut: over the output limit]\n"
        return True

    @staticmethod
    def _shorten_error(content, left):
        evalue, traceback = content.get("evalue", ""), content.get("traceback", [])
        if len(evalue) + sum(len(line) for line in traceback) <= left:
            return False
        content["evalue"] = _cut(evalue, max(left, 200)) + " [message cut: over the output limit]"
        content["traceback"] = [f"{content.get('ename', 'Error')}: {content['evalue']}"]
        return True

    @staticmethod
    def _shorten_data(content, text_left, all_left):
        data = content.get("data", {})
        size = sum(_size(v) for v in data.values()) + _size(content.get("metadata", {}))
        text = data.get(TEXT_MIME, "")
        if size <= all_left and _size(text) <= text_left:
            return False
        notice = "[output cut: over the output limit]"
        if isinstance(text, str) and text and len(text) + len(notice) <= all_left:
            content["data"] = {TEXT_MIME: _cut(text, min(text_left, all_left - len(notice))) + notice}
        else:
            content["data"] = {TEXT_MIME: notice}
        content["metadata"] = {}
        return True
