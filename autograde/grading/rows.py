"""What a row of ``grades.csv`` can say, defined once for the grader that writes it and the report that reads it.

The report imports this module rather than :mod:`autograde.grading.folder`, which loads the whole grading stack.
"""
# A row's status, when it is not one of intake's (superseded, not a notebook, ...).
GRADED, ENVIRONMENT_PROBLEM, GRADER_ERROR = "graded", "environment problem", "grader error"
NOT_GRADED = "not graded"  # a notebook the grader will not run (too large to rebuild); the notes say why
# Text starting with one of these is a formula to a spreadsheet: grades.csv puts a ' before it.
SPREADSHEET_PREFIX = ("=", "+", "-", "@", "\t", "\r")
