"""Instructor toolchain: build the student labs from the solutions, publish them, grade submissions.

Not part of the student bundle: ``course publish`` leaves this package out.
"""
