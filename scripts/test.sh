#!/usr/bin/env bash
# Quickstart (2): set up and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Lint and format first: a second, not half an hour, to learn of a stray import.
python -m ruff check .
python -m ruff format --check .
python -m pytest "$@"
