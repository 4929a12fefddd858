"""Fixtures every test folder can ask for; shared functions and constants are in helpers.py."""

import os

import pytest
from helpers import ROOT, TWEETS_DIR

from autograde.course import Course

if TWEETS_DIR.is_dir():  # notebook kernels inherit the environment
    os.environ.setdefault("TWEETS_DIR", str(TWEETS_DIR))


def pytest_collection_modifyitems(config, items):
    """Tests marked floor (they install an environment of their own) run only when `-m` names them: `pytest -m floor`."""
    if "floor" in config.getoption("markexpr"):
        return
    floor = [item for item in items if item.get_closest_marker("floor")]
    if floor:
        config.hook.pytest_deselected(items=floor)
        items[:] = [item for item in items if not item.get_closest_marker("floor")]


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)
