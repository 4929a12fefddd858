"""Isolation: the sandbox every grading kernel runs in, and the kernels forked from a preloaded server.

Nothing here knows about grading but the limits it enforces (:mod:`autograde.grading.limits`).
"""
