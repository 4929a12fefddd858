"""nbgrader preprocessors of our own, used when generating the student labs."""
import re

from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor
from traitlets import Unicode

STUB_CODE = 'raise NotImplementedError("Replace this line with your code")'


class ClearSolutionsKeepTodo(ClearSolutions):
    """Replaces each code solution region by its leading ``# TODO`` comment lines and a ``raise``.

    nbgrader's own stub is one fixed text for every exercise ("YOUR CODE HERE"). Ours says
    what to write: the instructor starts every solution region with ``# TODO: ...`` lines,
    and those lines are what students get. A region without them is an error, so no
    exercise ships without instructions.
    """

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != "code":
            return super()._replace_solution_region(cell, language)
        new_lines, region, indent = [], None, ""
        for line in cell.source.split("\n"):
            if self.begin_solution_delimeter in line:
                if region is not None:
                    raise RuntimeError(f"nested solution regions in cell {cell.get('id')!r}")
                region, indent = [], re.match(r"\s*", line).group(0)
            elif self.end_solution_delimeter in line:
                if region is None:
                    raise RuntimeError(f"'{self.end_solution_delimeter}' without a begin in cell {cell.get('id')!r}")
                new_lines.extend(self._stub(region, indent, cell))
                region = None
            elif region is not None:
                region.append(line)
            else:
                new_lines.append(line)
        if region is not None:
            raise RuntimeError(f"no '{self.end_solution_delimeter}' in cell {cell.get('id')!r}")
        replaced = new_lines != cell.source.split("\n")
        cell.source = "\n".join(new_lines)
        return replaced

    @staticmethod
    def _stub(region, indent, cell):
        todo = []
        for line in region:
            if not line.strip().startswith("# TODO"):
                break
            todo.append(line)
        if not todo:
            raise RuntimeError(
                f"the solution region in cell {cell.get('id')!r} does not start with a '# TODO: ...' comment; "
                "start every solution with one saying what students should write"
            )
        return todo + [indent + STUB_CODE]


class SetColabLinks(NbGraderPreprocessor):
    """Points the Open-in-Colab badge and the setup cell's install line at the public repository."""

    repository_slug = Unicode("", help="owner/name of the public GitHub repository").tag(config=True)
    ref = Unicode("main", help="git tag (or branch) the links and the install line point at: the course's release").tag(config=True)
    labs_directory = Unicode("labs", help="folder of the student labs in the public repository").tag(config=True)

    COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"']+")
    INSTALL_URL = re.compile(r"git\+https://github\.com/[^\s\"'@]+(?:@[^\s\"']+)?")

    def preprocess(self, nb, resources):
        if not self.repository_slug:
            raise RuntimeError("SetColabLinks.repository_slug is not set (see autograde/nbgrader_config.py)")
        lab, notebook = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        self._colab = (
            f"https://colab.research.google.com/github/{self.repository_slug}/blob/{self.ref}/"
            f"{self.labs_directory}/{lab}/{notebook}.ipynb"
        )
        self._install = f"git+https://github.com/{self.repository_slug}@{self.ref}"
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        source = self.COLAB_LINK.sub(self._colab, cell.source)
        cell.source = self.INSTALL_URL.sub(self._install, source)
        return cell, resources
