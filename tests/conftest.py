"""Fixtures every test folder can ask for; shared functions and constants are in helpers.py."""
import os

import pytest

from autograde.course import Course
from helpers import ROOT, TWEETS_DIR

if TWEETS_DIR.is_dir():  # notebook kernels inherit the environment
    os.environ.setdefault("TWEETS_DIR", str(TWEETS_DIR))


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)
