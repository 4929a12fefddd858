#!/usr/bin/env bash
# Quickstart (2): set up and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Lint and format first: a second, not half an hour, to learn of a stray import.
python -m ruff check .
python -m ruff format --check .
# Two processes (pytest-xdist): CI's two cores are busy while one process waits on a kernel or judges alone; the
# tests that read a lab's graded examples share a process (tests/helpers.py: graded_examples_group). TEST_WORKERS=0
# runs in this process only; arguments given here come last and win.
python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "$@"
