#!/usr/bin/env bash
# Creates .venv with the package and every extra installed from pyproject.toml.
# Re-running is quick: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11 and run again." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=".venv/.installed-$(cat pyproject.toml | "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
if [ ! -f "$stamp" ]; then
    echo "Installing dependencies into .venv (first run takes a minute or two)..."
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[jupyter,grading,cluster,test]"; } >.venv/install.log 2>&1; then
        tail -n 40 .venv/install.log >&2
        echo "error: installing the dependencies failed; the whole log is in .venv/install.log" >&2
        exit 1
    fi
    rm -f .venv/.installed-*
    touch "$stamp"
fi
# nbgrader shells out to tools in the environment's bin/ (alembic).
export PATH="$PWD/.venv/bin:$PATH"
