"""The contracts every lab keeps: the run budget, where outputs go, and where it runs.

``LAB_BUDGET`` is ``full`` (the default, what students run) or ``smoke`` (tiny data and
steps, for CI and the autograder). Anything a lab trains goes under
``artifacts/<lab>/`` in the working directory; ``LAB_OUTPUT_DIR`` replaces ``artifacts``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TypeVar

BUDGETS = ("full", "smoke")
Setting = TypeVar("Setting")  # what by_budget chooses between: a number of epochs, a size...


def lab_budget() -> str:
    """Returns the run budget named by ``LAB_BUDGET``: ``"full"`` (default) or ``"smoke"``."""
    budget = os.environ.get("LAB_BUDGET", "").strip().lower() or "full"
    if budget not in BUDGETS:
        raise ValueError(
            f"LAB_BUDGET={os.environ['LAB_BUDGET']!r} is not a budget: use 'full' (the default) "
            "or 'smoke' (tiny data and steps), or unset it."
        )
    return budget


def by_budget(full: Setting, smoke: Setting) -> Setting:
    """Returns ``full`` or ``smoke`` according to the current budget.

    Example:
        >>> epochs = by_budget(full=30, smoke=1)
    """
    return smoke if lab_budget() == "smoke" else full


def output_dir(lab: str) -> Path:
    """Returns (and creates) the folder where lab ``lab`` (e.g. ``"lab1"``) saves what it trains."""
    root = Path(os.environ.get("LAB_OUTPUT_DIR") or "artifacts")
    path = root / lab
    path.mkdir(parents=True, exist_ok=True)
    return path


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules
