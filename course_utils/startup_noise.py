"""TensorFlow's start-up lines, kept out of what people read (``course-check``, the grader's console).

``TF_CPP_MIN_LOG_LEVEL``, set before TensorFlow is imported, silences its C++ log ("This TensorFlow binary is
optimized...", "failed call to cuInit"). It does not silence the lines TensorFlow 2.21's shared libraries log while
they load, before any setting is read: absl's "WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR", "oneDNN custom operations are on" and "Could not find cuda drivers". Those are taken out of
stderr here, by their exact text: stderr goes to a file while TensorFlow starts, and every other line is written
back, in order, so no error is lost.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

TF_LOG_LEVEL = "3"  # TF_CPP_MIN_LOG_LEVEL unless set: only fatal errors (the labs set the same before importing TF)
_ABSL_PREFIX = r"[IWE]\d{4} [\d:.]+ +\d+ "  # "I0000 00:00:1796553741.004505   22757 "
NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rf"|{_ABSL_PREFIX}port\.cc:\d+\] oneDNN custom operations are on\. "
    rf"|{_ABSL_PREFIX}cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\."
)


def is_noise(line: bytes | str) -> bool:
    """Whether ``line`` (bytes or text) is one of TensorFlow's start-up lines that no setting silences."""
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    return NOISE.match(text) is not None


@contextmanager
def quiet_tensorflow_start() -> Iterator[None]:
    """For a block that may import TensorFlow in this process: its start-up lines stay off stderr.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` (unless it is set: ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything) and sends this
    process's stderr (file descriptor 2, where TensorFlow's C++ code writes) to a file during the block; after it,
    every line of that file but :data:`NOISE` is written back to stderr.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _write_back(captured)


@contextmanager
def child_stderr() -> Iterator[IO[bytes]]:
    """A file to give a child process (a kernel) as its stderr; when the block ends, every line the child wrote there
    but :data:`NOISE` is written to this process's stderr."""
    with tempfile.TemporaryFile() as captured:
        try:
            yield captured
        finally:
            _write_back(captured)


def _write_back(captured):
    """Writes every line of the file ``captured`` but :data:`NOISE` to file descriptor 2."""
    captured.seek(0)
    for line in captured:
        if not is_noise(line):
            os.write(2, line)
