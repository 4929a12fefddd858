"""Authoring: the student labs built from the solutions (``course build-labs``), the nbgrader environment they are built
in, the public bundle (``course publish``), the example submissions (``course make-examples``) and the solutions run
as the grader judges them (``course run-solutions``)."""
