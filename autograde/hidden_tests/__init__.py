"""Hidden tests, called from the ``### BEGIN HIDDEN TESTS`` blocks of the solution notebooks.

They live here, not in the notebooks, so that their code never reaches students: the
generated labs drop the hidden blocks, and graders' feedback shows only a test's name,
whether it passed and its message. Each runs the lab's public checks with other shapes
and seeds than the visible test cells, plus edge cases.
"""
