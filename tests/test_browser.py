"""The grading report and a feedback page, opened in headless Chromium: no errors, plots shown, text readable.

Chromium is driven over its DevTools protocol with Tornado's websocket client (Tornado comes with
ipykernel), so no browser-automation package is needed. Without Chromium the tests skip, saying how to
install it; CI installs it (.ci/run).
"""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from autograde.reporting import report
from test_report import EVIL, LAB, make_grading_folder

CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if path and os.access(path, os.X_OK)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: apt-get install chromium")
PNG = "data:image/png;base64,iVBORw0KGgo"  # a PNG file's signature, in base64
SETTLE_SECONDS = 1.0  # after the load event, for late errors (a script that failed to load, a timer)
# What the page shows once loaded: its text, its images as the browser decoded them, MathJax's output.
PAGE_STATE = """JSON.stringify({
    text: document.body.innerText,
    images: Array.from(document.images).map(i => ({src: i.getAttribute("src").slice(0, 40), complete: i.complete, width: i.naturalWidth})),
    mathjax: document.querySelectorAll(".MathJax, .MathJax_CHTML, mjx-container").length,
})"""


class Page:
    """What happened while Chromium opened a file: errors, requests, dialogs, and the page's state."""

    def __init__(self):
        self.exceptions, self.console_errors, self.log_errors, self.requests, self.dialogs = [], [], [], [], []
        self.state = {}


async def _open(websocket_url, url):
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(websocket_url, max_message_size=1 << 30)
    page, ids, replies = Page(), iter(range(1, 1 << 30)), {}

    async def call(method, **params):
        number = next(ids)
        connection.write_message(json.dumps({"id": number, "method": method, "params": params}))
        while number not in replies:
            await read()
        return replies.pop(number)

    async def read():
        message = json.loads(await connection.read_message())
        if "id" in message:
            replies[message["id"]] = message.get("result", message.get("error"))
            return
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            page.exceptions.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            page.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            page.log_errors.append((params["entry"]["source"], params["entry"]["text"]))
        elif method == "Network.requestWillBeSent":
            page.requests.append(params["request"]["url"])
        elif method == "Page.javascriptDialogOpening":
            page.dialogs.append(params["message"])
            await call("Page.handleJavaScriptDialog", accept=True)
        elif method == "Page.loadEventFired":
            page.loaded = True

    for domain in ("Runtime", "Log", "Network", "Page"):
        await call(f"{domain}.enable")
    page.loaded = False
    await call("Page.navigate", url=url)
    deadline = time.monotonic() + 30
    while not page.loaded and time.monotonic() < deadline:
        await asyncio.wait_for(read(), timeout=deadline - time.monotonic())
    settle = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < settle:
        try:
            await asyncio.wait_for(read(), timeout=settle - time.monotonic())
        except asyncio.TimeoutError:
            break
    result = await call("Runtime.evaluate", expression=PAGE_STATE, returnByValue=True)
    page.state = json.loads(result["result"]["value"])
    connection.close()
    return page


def open_in_chromium(path, tmp_path):
    """Opens ``path`` in headless Chromium; returns a :class:`Page`."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))  # a new one: an old DevToolsActivePort would mislead
    browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 30
        while not port_file.exists() or "/devtools/browser/" not in port_file.read_text():  # written in full
            assert browser.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(t for t in targets if t["type"] == "page")
        return asyncio.run(_open(target["webSocketDebuggerUrl"], path.resolve().as_uri()))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()


@needs_chromium
def test_the_report_opens_offline_without_errors_and_shows_its_plots(course, tmp_path):
    out = tmp_path / LAB
    make_grading_folder(course, out)
    page = open_in_chromium(report.write_report(course, LAB, out), tmp_path)
    assert page.exceptions == [] and page.console_errors == [] and page.log_errors == [] and page.dialogs == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    images = page.state["images"]
    assert len(images) == 3 and all(i["src"].startswith(PNG) and i["complete"] and i["width"] > 100 for i in images)
    for heading in ("Summary", "Scores", "Tests", "Time per notebook", "Flagged, superseded and ungraded files",
                    "How each answer cell was found", "Similar code"):
        assert heading in page.state["text"]
    assert EVIL in page.state["text"], "the student's text is shown as text"
    side_by_side = open_in_chromium(out / "similarity.html", tmp_path)
    assert side_by_side.exceptions == [] and side_by_side.console_errors == [] and side_by_side.dialogs == []
    assert "</pre><script>alert(1)</script>" in side_by_side.state["text"]


@pytest.mark.slow
@needs_chromium
def test_feedback_is_readable_without_mathjax(course, tmp_path):
    """Grades one example submission; its feedback page loads MathJax from a CDN, which may be out of reach."""
    from autograde.grading.folder import grade_folder

    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(course.example_submissions(LAB) / "partial.ipynb", folder)
    grade_folder(course, LAB, folder, tmp_path / "out", workers=1, progress=False, limits={"cell_timeout": 60}, log=lambda _: None)
    feedback = tmp_path / "out" / "feedback" / "partial.html"
    page = open_in_chromium(feedback, tmp_path)
    assert page.exceptions == [] and page.console_errors == [] and page.dialogs == []
    assert all(source == "network" for source, _ in page.log_errors), page.log_errors  # only MathJax's download may fail
    text = page.state["text"]
    assert page.state["mathjax"] > 0 or "$h_t$" in text, "math is rendered, or its source is readable"
    # "partial" answers the first half of the exercises (autograde/authoring/examples.py): Lab 1's MyLSTMCell is in the second half.
    assert "test_rnn_cell_weights passed" in text and "test_lstm_cell failed: CheckFailed: your code raised NotImplementedError" in text
    plots = [image for image in page.state["images"] if image["src"].startswith("data:")]  # the Colab badge is online
    assert plots and all(image["src"].startswith(PNG) and image["complete"] and image["width"] > 0 for image in plots)
