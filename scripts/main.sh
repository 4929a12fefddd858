#!/usr/bin/env bash
# Quickstart (1): set up, build the student labs from the solutions, and run every solution notebook
# under LAB_BUDGET=smoke, one line per lab.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
course build-labs
course run-solutions
