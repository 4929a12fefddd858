"""Helpers for the recurrent-networks lab notebooks.

Importing this package is cheap: TensorFlow and music21 are imported only by the
functions and submodules that need them (``course_utils.checks.lab1`` and friends).
"""

from course_utils.captioning import load_captioner  # imports TensorFlow only when called
from course_utils.normalizer import load_normalizer  # imports TensorFlow only when called
from course_utils.runtime import by_budget, in_colab, lab_budget, output_dir
from course_utils.submission import check_notebook

__all__ = ["by_budget", "check_notebook", "in_colab", "lab_budget", "load_captioner", "load_normalizer", "output_dir"]


def _installed_version():
    # The version lives in one place, pyproject.toml; students install it as rnn-course-utils, instructors as rnn-course-labs.
    from importlib.metadata import PackageNotFoundError, version

    for distribution in ("rnn-course-utils", "rnn-course-labs"):
        try:
            return version(distribution)
        except PackageNotFoundError:
            pass
    return "unknown (not installed with pip)"


__version__ = _installed_version()
