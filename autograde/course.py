"""Where the course lives on disk, what pyproject.toml says about it, and the data its labs read."""
import importlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

LAB_NAME = re.compile(r"^lab\d+_[a-z0-9_]+$")
SECRET_FILE = ".grading-secret"
SECRET_VARIABLE = "COURSE_GRADING_SECRET"
# Data a lab reads that the package does not ship, by lab: the course_utils module that finds it. Its require()
# returns where the data is (downloading it first if it can) or raises a ValueError that says what to set. Lab 2's
# tunes come with music21; Lab 4 makes its own dates and numbers.
LAB_DATA = {"lab3_tweet_sentiment": "course_utils.tweets"}


class CourseError(Exception):
    """A problem with the course layout or configuration; the message says what to do."""

    exit_code = 2  # what the `course` command exits with


class DataUnavailable(CourseError):
    """A lab's data is neither on this machine nor downloadable; the message says what to set."""

    exit_code = 3


@dataclass(frozen=True)
class Course:
    root: Path
    repository: str  # public GitHub repository students open labs from
    version: str  # [project] version in pyproject.toml: the release students install

    @property
    def release(self):
        """The git tag of the release in the public repository: badges and install lines point at it, so a lab opened
        in week 1 and one opened in week 10 install the same checks."""
        return f"v{self.version}"

    @property
    def solutions_dir(self):
        return self.root / "solutions"

    @property
    def labs_dir(self):
        return self.root / "labs"

    @property
    def nbgrader_config(self):
        return self.root / "autograde" / "nbgrader_config.py"

    @property
    def github_slug(self):
        """``owner/name`` of the public repository."""
        match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", self.repository)
        if not match:
            raise CourseError(
                f"[tool.course] repository = {self.repository!r} in pyproject.toml is not a GitHub URL like "
                "https://github.com/OWNER/NAME; Colab opens notebooks from GitHub only."
            )
        return match.group(1)

    def labs(self):
        """Names of the labs: folders ``solutions/labN_topic/`` holding ``labN_topic.ipynb``."""
        return sorted(
            (p.name for p in self.solutions_dir.iterdir() if LAB_NAME.match(p.name) and (p / f"{p.name}.ipynb").is_file()),
            key=lambda name: int(re.match(r"lab(\d+)", name).group(1)),
        )

    def resolve_lab(self, name):
        """Accepts a lab's full name or its short form (``lab1``)."""
        labs = self.labs()
        matches = [lab for lab in labs if lab == name or lab.split("_", 1)[0] == name]
        if len(matches) != 1:
            raise CourseError(f"no lab called {name!r}; the labs are: {', '.join(labs)}")
        return matches[0]

    def require_data(self, lab):
        """Makes sure the data ``lab`` reads is on this machine, downloading it if it can; cheap when it is there.

        Raises:
            DataUnavailable: it is not here and cannot be downloaded; the message says what to set or connect.
        """
        if lab not in LAB_DATA:
            return
        try:
            importlib.import_module(LAB_DATA[lab]).require()
        except (ValueError, OSError) as error:  # OSError: e.g. a cache folder it may not write
            raise DataUnavailable(f"{lab} cannot run here: {error}") from error

    def solution_notebook(self, lab):
        return self.solutions_dir / lab / f"{lab}.ipynb"

    def lab_notebook(self, lab):
        return self.labs_dir / lab / f"{lab}.ipynb"

    def colab_url(self, lab):
        return f"https://colab.research.google.com/github/{self.github_slug}/blob/{self.release}/labs/{lab}/{lab}.ipynb"

    def install_url(self):
        return f"git+https://github.com/{self.github_slug}@{self.release}"

    @property
    def grading_secret_file(self):
        return self.root / SECRET_FILE

    def grading_secret(self):
        """The secret the grader draws every submission's seeds from (:func:`autograde.judge.seed_for`).

        ``$COURSE_GRADING_SECRET`` if set, else ``.grading-secret`` in the course root, made on first use (git
        ignores it; no grading kernel can read it). Keep it for the term: with the same secret a regrade, on this
        machine or another, draws the same seeds and gives the same grades.
        """
        if os.environ.get(SECRET_VARIABLE):
            return os.environ[SECRET_VARIABLE]
        path = self.grading_secret_file
        if not path.is_file():
            import secrets
            import tempfile

            with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".grading-secret-", delete=False) as f:
                f.write(secrets.token_hex(32) + "\n")
            try:
                os.link(f.name, path)  # atomic, and never replaces a secret another process made first
            except FileExistsError:
                pass
            finally:
                os.unlink(f.name)
        return path.read_text().strip()

    @classmethod
    def find(cls, start=None):
        """The course whose root is ``start``, ``$COURSE_ROOT``, the working directory or one of its parents."""
        given = start or os.environ.get("COURSE_ROOT")
        candidates = [Path(given)] if given else [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[1]]
        for path in candidates:
            if (path / "solutions").is_dir() and (path / "autograde" / "nbgrader_config.py").is_file():
                return cls.load(path)
        raise CourseError(
            f"no course found at {candidates[0]}: run this from the course repository (the folder with solutions/ "
            "and autograde/) or set COURSE_ROOT to it."
        )

    @classmethod
    def load(cls, root):
        root = Path(root).resolve()
        with open(root / "pyproject.toml", "rb") as f:
            pyproject = tomllib.load(f)
        settings = pyproject.get("tool", {}).get("course", {})
        if "repository" not in settings:
            raise CourseError(f"{root / 'pyproject.toml'} needs a [tool.course] table with repository = 'https://github.com/OWNER/NAME'")
        return cls(root=root, repository=settings["repository"], version=pyproject["project"]["version"])
