"""nbgrader preprocessors of our own, used when generating the student labs."""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

# What nbgrader's ClearSolutions puts in place of a code solution region (its ``code_stub``, set in
# nbgrader_config.py), indented like the region. The ``# TODO`` lines the instructor writes just above the region
# stay, so students read what to write right above the line they replace.
STUB_CODE = 'raise NotImplementedError("Replace this line with your code")'
BEGIN_SOLUTION = "BEGIN SOLUTION"  # nbgrader's ClearSolutions.begin_solution_delimeter


class RequireTodo(NbGraderPreprocessor):
    """Refuses a code solution region without a ``# TODO: ...`` line right above it.

    nbgrader's stub is one fixed text for every exercise. Ours says what to write: the ``# TODO``
    lines above each region, which ClearSolutions leaves in place. A region without them is an
    error, so no exercise ships without instructions. Runs before ClearSolutions.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            previous = ""
            for line in cell.source.split("\n"):
                if BEGIN_SOLUTION in line and not previous.strip().startswith("# TODO"):
                    raise RuntimeError(
                        f"the solution region in cell {cell.get('id')!r} has no '# TODO: ...' line right above its "
                        f"'{line.strip()}'; put one there saying what students should write"
                    )
                previous = line
        return cell, resources


class SetColabLinks(NbGraderPreprocessor):
    """Points the Open-in-Colab badge and the setup cell's install line at the public repository."""

    repository_slug = Unicode("", help="owner/name of the public GitHub repository").tag(config=True)
    ref = Unicode("main", help="git tag (or branch) the links and the install line point at: the course's release").tag(
        config=True
    )
    labs_directory = Unicode("labs", help="folder of the student labs in the public repository").tag(config=True)

    COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"']+")
    INSTALL_URL = re.compile(r"git\+https://github\.com/[^\s\"'@]+(?:@[^\s\"']+)?")

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        if not self.repository_slug:
            raise RuntimeError("SetColabLinks.repository_slug is not set (see autograde/nbgrader_config.py)")
        lab, notebook = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        self._colab = (
            f"https://colab.research.google.com/github/{self.repository_slug}/blob/{self.ref}/"
            f"{self.labs_directory}/{lab}/{notebook}.ipynb"
        )
        self._install = f"git+https://github.com/{self.repository_slug}@{self.ref}"
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        source = self.COLAB_LINK.sub(self._colab, cell.source)
        cell.source = self.INSTALL_URL.sub(self._install, source)
        return cell, resources
