#!/usr/bin/env bash
# The declared floor holds: installs the package with the oldest versions it promises (constraints/floor.txt) into a
# virtual environment of its own, then, for every lab (or the labs given), runs the solution notebook under
# LAB_BUDGET=smoke (`course run-solutions`) and the grader's self-test (`course self-test`). Prints one line per lab
# and step; exits non-zero if any step fails. Each step's whole output is kept in a log folder it names.
#   bash scripts/check_floor.sh [LAB ...]
# FLOOR_VENV: the environment (default .venv-floor; reused, reinstalled only when pyproject.toml, the pins or the
# repository's path changed). PYTHON: the interpreter that creates it (default python3, 3.11 or newer).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PINS=constraints/floor.txt
VENV=${FLOOR_VENV:-.venv-floor}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11 and run again." >&2
        exit 1
    fi
    "$PYTHON" -m venv "$VENV" || exit 1
fi
VENV=$(cd "$VENV" && pwd)
# The install is editable, so it follows the tree it was made from: the stamp names this tree too.
stamp="$VENV/.floor-$(cat pyproject.toml "$PINS" <(echo "$ROOT") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "Installing the package with the floor pins into $VENV (the first run takes a few minutes)..."
    # The pins as constraints: whatever the package or its extras ask for, pip may not move these.
    if ! "$VENV/bin/python" -m pip install -c "$PINS" -e ".[grading,test]" >"$VENV/install.log" 2>&1; then
        tail -n 40 "$VENV/install.log" >&2
        echo "error: installing the floor environment failed; the whole log is in $VENV/install.log" >&2
        exit 1
    fi
    rm -f "$VENV"/.floor-*
    touch "$stamp"
fi
# nbgrader shells out to tools in the environment's bin/ (alembic); the kernels' "python" is the environment's.
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this tree's code, whatever the environment was installed from
# Lab 3 reads tweets from TWEETS_DIR (else it downloads TweetEval); use the copy beside the repository if there is one.
if [ -z "${TWEETS_DIR:-}" ] && [ -d ../shared/data/tweets ]; then export TWEETS_DIR="$ROOT/../shared/data/tweets"; fi
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/floor-check.XXXXXX")
export LAB_OUTPUT_DIR="$LOGS/artifacts"  # what the labs save, out of the repository

# Refuse to report a pass measured on other versions: the environment, and the kernel the notebooks get, must be the
# floor's.
if ! "$VENV/bin/python" - "$PINS" <<'EOF'
import importlib.metadata
import platform
import subprocess
import sys

from jupyter_client.manager import start_new_kernel
from packaging.requirements import Requirement

pins = [Requirement(line) for line in open(sys.argv[1]).read().splitlines() if line.strip() and not line.startswith("#")]
installed = {pin.name: importlib.metadata.version(pin.name) for pin in pins}
wrong = [f"{pin.name} {installed[pin.name]} (pinned {pin.specifier})" for pin in pins if installed[pin.name] not in pin.specifier]
kernel_manager, kernel = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)  # the solutions' kernel
outputs = []
kernel.execute_interactive("import sys; print(sys.prefix, end='')", output_hook=outputs.append, timeout=60)
kernel_manager.shutdown_kernel(now=True)
kernel_prefix = "".join(msg["content"].get("text", "") for msg in outputs if msg["msg_type"] == "stream")
if kernel_prefix != sys.prefix:
    wrong.append(f"the python3 kernel runs in {kernel_prefix or '(no answer)'}, not in {sys.prefix}")
versions = ", ".join(f"{name} {version}" for name, version in installed.items())
print(f"floor: {versions} (Python {platform.python_version()}) in {sys.prefix}")
if wrong:
    print("error: not the floor environment: " + "; ".join(wrong), file=sys.stderr)
    sys.exit(1)
EOF
then
    exit 1
fi

course() { "$VENV/bin/python" -m autograde.cli "$@"; }
labs=("$@")
[ ${#labs[@]} -gt 0 ] || mapfile -t labs < <("$VENV/bin/python" -c 'from autograde.course import Course; print(*Course.load(".").labs(), sep="\n")')

failed=0
step() {  # step LAB NAME COMMAND...: runs one step and prints its line; its output goes to the log folder
    local lab=$1 name=$2 log="$LOGS/$1-$2" start=$SECONDS status=ok
    shift 2
    "$@" >"$log.out" 2>"$log.err" || { status=FAILED; failed=1; }
    # The command's own report (stdout): its first line sums up the step, the next ones say which test or cell failed
    # and why. Its stderr is mostly TensorFlow's logging.
    printf '%-24s %-10s %-6s %4d s   %s\n' "$lab" "$name" "$status" $((SECONDS - start)) "$(head -n 1 "$log.out")"
    [ $status = ok ] || sed -n '2,40s/^/    /p' "$log.out"
}
for lab in "${labs[@]}"; do
    step "$lab" solution course run-solutions "$lab"
    step "$lab" self-test course self-test "$lab"
done
echo "logs: $LOGS"
exit $failed
