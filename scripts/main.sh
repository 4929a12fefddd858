#!/usr/bin/env bash
# Quickstart (1): set up, build the student labs from the solutions, and grade the bundled example
# submissions of every lab (autograde/examples/<lab>/submissions) into grading/<lab>/, printing each table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
course build-labs
# Lab 3 reads tweets from TWEETS_DIR (else it downloads TweetEval); use the copy beside the repository if there is one.
if [ -z "${TWEETS_DIR:-}" ] && [ -d ../shared/data/tweets ]; then export TWEETS_DIR="$PWD/../shared/data/tweets"; fi
for examples in autograde/examples/*/; do
    lab=$(basename "$examples")
    echo
    echo "== $lab"
    # A short cell timeout: one example loops forever on purpose.
    course grade "$lab" "$examples/submissions" --out "grading/$lab" --cell-timeout 30 --report
done
echo
for examples in autograde/examples/*/; do
    lab=$(basename "$examples")
    echo "$lab report: grading/$lab/report.html (similar code side by side: grading/$lab/similarity.html)"
done
