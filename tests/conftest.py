"""Fixtures every test folder can ask for; shared functions and constants are in helpers.py."""
import os

import pytest

from autograde.course import Course
from helpers import ROOT

# Data the labs read, kept beside the repository (never in it); notebook kernels inherit the environment.
TWEETS_DIR = ROOT.parent / "shared" / "data" / "tweets"
if TWEETS_DIR.is_dir():
    os.environ.setdefault("TWEETS_DIR", str(TWEETS_DIR))


@pytest.fixture(scope="session")
def course():
    return Course.load(ROOT)
