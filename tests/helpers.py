"""What several test files share (fixtures are in conftest.py); test files import from here, never from each other."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
