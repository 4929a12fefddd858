"""The limits every grading kernel runs under, defined once.

``course grade``'s options, GuardedExecute's configuration traits, the sandbox's resource
limits and the README read their names, defaults and help from :data:`LIMITS`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str  # the GuardedExecute trait and the key in a job's "limits"
    default: int
    help: str
    option: str  # the `course grade` option
    metavar: str = "N"


LIMITS = (
    Limit("cell_timeout", 120, "seconds a cell may run", "--cell-timeout", "S"),
    Limit(
        "training_cell_timeout",
        600,
        "seconds a training cell may run (the cells the release notebook marks with metadata autograde.training)",
        "--training-cell-timeout",
        "S",
    ),
    Limit("notebook_timeout", 1800, "seconds the whole notebook may run", "--notebook-timeout", "S"),
    Limit("memory_limit_mb", 4096, "memory the kernel and its children may use, in MB", "--memory-limit", "MB"),
    # Every output type counts (streams, results, displays, errors). Text a person reads is
    # capped low; plots and players are larger (Lab 2's audio player is about 1.9 MB).
    Limit(
        "max_cell_text_chars",
        200_000,
        "characters of text output (prints, results, errors) kept per cell",
        "--max-cell-text",
        "CHARS",
    ),
    Limit(
        "max_cell_output_chars",
        5_000_000,
        "characters of output of every type kept per cell, as JSON",
        "--max-cell-output",
        "CHARS",
    ),
    Limit(
        "max_notebook_output_chars",
        20_000_000,
        "characters of output of every type kept per notebook, as JSON",
        "--max-notebook-output",
        "CHARS",
    ),
    # Linux counts threads as processes here, and TensorFlow starts a few per core.
    Limit(
        "max_processes",
        512,
        "processes and threads a kernel may have beyond those its user already runs",
        "--max-processes",
    ),
    Limit("max_file_mb", 1024, "largest file a kernel may write, in MB", "--max-file-size", "MB"),
)

DEFAULT_LIMITS = {limit.name: limit.default for limit in LIMITS}
LIMIT_NAMED = {limit.name: limit for limit in LIMITS}
