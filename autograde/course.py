"""Where everything lives on disk: the course repository (:class:`Course`), what its pyproject.toml says, the data
its labs read, and the folder ``course grade`` writes (:class:`OutputFolder`)."""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

LAB_NAME = re.compile(r"^lab\d+_[a-z0-9_]+$")
SECRET_FILE = ".grading-secret"
SECRET_VARIABLE = "COURSE_GRADING_SECRET"
# The repository's layout, relative to its root (the student bundle that `course publish` writes has labs/ and
# course_utils/ too).
PYPROJECT = "pyproject.toml"
SOLUTIONS = "solutions"
LABS = "labs"
STUDENT_PACKAGE = "course_utils"
INSTRUCTOR_PACKAGE = "autograde"
NBGRADER_CONFIG = f"{INSTRUCTOR_PACKAGE}/nbgrader_config.py"
REFERENCES = f"{INSTRUCTOR_PACKAGE}/grading/references"  # the private references, one labN.py per lab
EXAMPLES = f"{INSTRUCTOR_PACKAGE}/examples"  # example submissions: <lab>/submissions/ and <lab>/expected.json
GRADEBOOK = "gradebook.db"  # the nbgrader gradebook's file, in an output folder and in each grading job's folder
DEFAULT_OUTPUT = Path("grading")  # `course grade LAB` writes grading/<lab>/ in the working folder unless --out says
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
    def release(self) -> str:
        """The git tag of the release in the public repository: badges and install lines point at it, so a lab opened
        in week 1 and one opened in week 10 install the same checks."""
        return f"v{self.version}"

    @property
    def solutions_dir(self) -> Path:
        return self.root / SOLUTIONS

    @property
    def labs_dir(self) -> Path:
        return self.root / LABS

    @property
    def student_package(self) -> Path:
        """``course_utils/``: what students install."""
        return self.root / STUDENT_PACKAGE

    @property
    def instructor_package(self) -> Path:
        """``autograde/``: this toolchain, never published."""
        return self.root / INSTRUCTOR_PACKAGE

    @property
    def nbgrader_config(self) -> Path:
        return self.root / NBGRADER_CONFIG

    @property
    def pyproject(self) -> Path:
        return self.root / PYPROJECT

    @property
    def references_dir(self) -> Path:
        """The private references (``labN.py``, see :mod:`autograde.grading.references`)."""
        return self.root / REFERENCES

    def references_file(self, lab: str) -> Path:
        return self.references_dir / f"{lab.split('_', 1)[0]}.py"

    def examples_dir(self, lab: str) -> Path:
        """``autograde/examples/<lab>/``: ``submissions/`` and ``expected.json`` (``course make-examples``)."""
        return self.root / EXAMPLES / lab

    def example_submissions(self, lab: str) -> Path:
        return self.examples_dir(lab) / "submissions"

    @property
    def github_slug(self) -> str:
        """``owner/name`` of the public repository."""
        match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", self.repository)
        if not match:
            raise CourseError(
                f"[tool.course] repository = {self.repository!r} in pyproject.toml is not a GitHub URL like "
                "https://github.com/OWNER/NAME; Colab opens notebooks from GitHub only."
            )
        return match.group(1)

    def labs(self) -> list[str]:
        """Names of the labs: folders ``solutions/labN_topic/`` holding ``labN_topic.ipynb``."""
        return sorted(
            (
                p.name
                for p in self.solutions_dir.iterdir()
                if LAB_NAME.match(p.name) and (p / f"{p.name}.ipynb").is_file()
            ),
            key=lambda name: int(re.match(r"lab(\d+)", name).group(1)),
        )

    def resolve_lab(self, name: str) -> str:
        """Accepts a lab's full name or its short form (``lab1``)."""
        labs = self.labs()
        matches = [lab for lab in labs if lab == name or lab.split("_", 1)[0] == name]
        if len(matches) != 1:
            raise CourseError(f"no lab called {name!r}; the labs are: {', '.join(labs)}")
        return matches[0]

    def require_data(self, lab: str) -> None:
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

    def solution_notebook(self, lab: str) -> Path:
        return self.solutions_dir / lab / f"{lab}.ipynb"

    def lab_notebook(self, lab: str) -> Path:
        return self.labs_dir / lab / f"{lab}.ipynb"

    def colab_url(self, lab: str) -> str:
        return f"https://colab.research.google.com/github/{self.github_slug}/blob/{self.release}/labs/{lab}/{lab}.ipynb"

    def install_url(self) -> str:
        return f"git+https://github.com/{self.github_slug}@{self.release}"

    @property
    def grading_secret_file(self) -> Path:
        return self.root / SECRET_FILE

    def grading_secret(self) -> str:
        """The secret the grader draws every submission's seeds from (:func:`autograde.grading.judge.seed_for`).

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
    def find(cls, start: str | Path | None = None) -> Course:
        """The course whose root is ``start``, ``$COURSE_ROOT``, the working directory or one of its parents."""
        given = start or os.environ.get("COURSE_ROOT")
        candidates = [Path(given)] if given else [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[1]]
        for path in candidates:
            if (path / SOLUTIONS).is_dir() and (path / NBGRADER_CONFIG).is_file():
                return cls.load(path)
        raise CourseError(
            f"no course found at {candidates[0]}: run this from the course repository (the folder with solutions/ "
            "and autograde/) or set COURSE_ROOT to it."
        )

    @classmethod
    def load(cls, root: str | Path) -> Course:
        root = Path(root).resolve()
        with open(root / PYPROJECT, "rb") as f:
            pyproject = tomllib.load(f)
        settings = pyproject.get("tool", {}).get("course", {})
        if "repository" not in settings:
            raise CourseError(
                f"{root / PYPROJECT} needs a [tool.course] table with repository = 'https://github.com/OWNER/NAME'"
            )
        return cls(root=root, repository=settings["repository"], version=pyproject["project"]["version"])


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of the SQLite file at ``path`` (made absolute), as nbgrader's Gradebook takes it."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(Path(path).resolve())).render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLAlchemy URL names, or None for a server's database or an in-memory one."""
    from sqlalchemy.engine import make_url

    url = make_url(url)
    return (
        Path(url.database)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        else None
    )


@dataclass(frozen=True)
class OutputFolder:
    """The folder ``course grade`` writes, and ``course report``, ``course similarity`` and ``course export`` read::

    grades.csv              one row per file
    gradebook.db            nbgrader gradebook (unless --db names another database)
    feedback/<student>.html what the student may see: no hidden tests
    autograded/<student>.ipynb
    results/<student>.json  cached results: a rerun regrades only changed files (or all with --force)
    report.html             `course report` (and `course grade --report`)
    similarity.html         similar code side by side (`course similarity`, `course report`)
    export-<format>.csv     `course export`
    """

    path: Path

    @classmethod
    def of(cls, lab: str, out: str | Path | None = None) -> OutputFolder:
        """The folder ``--out`` names, else ``grading/<lab>`` in the working folder."""
        return cls(Path(out) if out else DEFAULT_OUTPUT / lab)

    def is_default_for(self, lab: str) -> bool:
        return self.path == DEFAULT_OUTPUT / lab

    @property
    def grades(self) -> Path:
        return self.path / "grades.csv"

    @property
    def gradebook(self) -> Path:
        return self.path / GRADEBOOK

    def gradebook_url(self, db_url: str | None = None) -> str:
        """``db_url`` (``--db``) if given, else the URL of this folder's ``gradebook.db``."""
        return db_url or sqlite_url(self.gradebook)

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    @property
    def feedback_dir(self) -> Path:
        return self.path / "feedback"

    @property
    def autograded_dir(self) -> Path:
        return self.path / "autograded"

    def result(self, student: str) -> Path:
        return self.results_dir / f"{student}.json"

    def feedback(self, student: str) -> Path:
        return self.feedback_dir / f"{student}.html"

    def autograded(self, student: str) -> Path:
        return self.autograded_dir / f"{student}.ipynb"

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    @property
    def similarity(self) -> Path:
        return self.path / "similarity.html"

    def export(self, fmt: str) -> Path:
        return self.path / f"export-{fmt}.csv"

    def make(self) -> OutputFolder:
        """Creates the folder and its subfolders."""
        for folder in (self.results_dir, self.feedback_dir, self.autograded_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self
