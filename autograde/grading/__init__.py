"""Grading: ``course grade`` from a folder of downloads to ``grades.csv``, feedback and the gradebook.

Intake reads every file, the rebuild puts each answer into a clean release notebook, the review flags code that
reaches for the grading machinery, the worker grades one notebook with nbgrader (its test cells judged outside the
kernel against the private references), and :mod:`autograde.grading.folder` runs it all and writes the rows.
"""
