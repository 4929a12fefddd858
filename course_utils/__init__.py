"""Helpers for the recurrent-networks lab notebooks.

Importing this package is cheap: TensorFlow and music21 are imported only by the
functions and submodules that need them (``course_utils.checks.lab1`` and friends).
"""
from course_utils.normalizer import load_normalizer  # imports TensorFlow only when called
from course_utils.runtime import by_budget, in_colab, lab_budget, output_dir
from course_utils.submission import check_notebook

__all__ = ["by_budget", "check_notebook", "in_colab", "lab_budget", "load_normalizer", "output_dir"]
__version__ = "0.1.0"
