"""Exports the student-facing bundle for the public repository.

The bundle holds what students need and nothing else: the generated labs, the
``course_utils`` package with a pyproject.toml of its own (so Colab can ``pip install``
the repository), and a README. ``solutions/`` and ``autograde/`` stay private; a final
scan refuses to publish if any solution or hidden-test text, or the code of any function of
the private references (``autograde/grading/references/``), slipped in.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
from pathlib import Path

import jinja2
import tomlkit

from autograde.authoring.build import generate_labs
from autograde.course import INSTRUCTOR_PACKAGE, LABS, PYPROJECT, SOLUTIONS, STUDENT_PACKAGE, Course, CourseError

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "autograde.grading.references")
TEMPLATES = Path(__file__).resolve().parent / "templates"  # the bundle's README
REFERENCE_STATEMENTS = 3  # a shorter function (a getter, a one-line formula) is not worth calling a copy


def _bodies(source):
    """{the code of a function's body, names kept, docstring left out: the function's name} for every function."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = (
                node.body[1:]
                if node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(getattr(node.body[0], "value", None), ast.Constant)
                else node.body
            )
            if len(body) >= REFERENCE_STATEMENTS:
                found[ast.dump(ast.Module(body=body, type_ignores=[]))] = node.name
    return found


def reference_functions(course: Course) -> dict[str, str]:
    """{body: name} of every function of the private references (autograde/grading/references/): none may be in the bundle."""
    found = {}
    for path in sorted(course.references_dir.rglob("*.py")):
        found.update(_bodies(path.read_text()))
    return found


def instructor_text_in(course: Course, folder: Path) -> list[str]:
    """'path: what' for every file under ``folder`` holding solution or hidden-test text, or a private reference's code."""
    references = reference_functions(course)
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(folder).parts:
            continue
        text = path.read_text(errors="ignore")
        found += [f"{path.relative_to(folder)}: {marker}" for marker in LEAK_MARKERS if marker in text]
        if path.suffix == ".py":
            found += [
                f"{path.relative_to(folder)}: {name}, the code of the private reference {references[body]}"
                for body, name in _bodies(text).items()
                if body in references
            ]
    return found


def publish_bundle(course: Course, dest: str | Path, repository: str | None = None) -> Path:
    """Writes the bundle into ``dest`` (created if needed) and returns its path."""
    if repository:
        course = dataclasses.replace(course, repository=repository)
    course.github_slug  # noqa: B018 -- fails early, with a clear message, on a non-GitHub URL
    dest = Path(dest).resolve()
    if dest == course.root or course.root in dest.parents:
        raise CourseError(
            f"{dest} is inside the course repository; publish to a separate folder (e.g. a clone of the public repository)"
        )
    if (dest / SOLUTIONS).exists() or (dest / INSTRUCTOR_PACKAGE).exists():
        raise CourseError(
            f"{dest} holds {SOLUTIONS}/ or {INSTRUCTOR_PACKAGE}/: that looks like a private course repository, not the public one"
        )

    dest.mkdir(parents=True, exist_ok=True)
    for name in (LABS, STUDENT_PACKAGE):
        if (dest / name).exists():
            shutil.rmtree(dest / name)
    generate_labs(course, dest=dest / LABS)
    shutil.copytree(course.student_package, dest / STUDENT_PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / PYPROJECT).write_text(bundle_pyproject(course))
    (dest / "README.md").write_text(student_readme(course))
    (dest / ".gitignore").write_text("artifacts/\n__pycache__/\n.ipynb_checkpoints/\n")

    leaks = instructor_text_in(course, dest)
    if leaks:
        raise CourseError("refusing to publish, instructor-only text found in the bundle:\n" + "\n".join(leaks))
    return dest


RELEASE_VERSION = re.compile(r"\d+\.\d+\.\d+")  # a plain release: tags v1.2.3 and pip versions agree
BUNDLE_NAME = "rnn-course-utils"  # what students pip-install: course_utils alone
BUNDLE_DESCRIPTION = "Helpers for the recurrent-networks lab notebooks."


def set_version(course: Course, version: str) -> Course:
    """Writes ``version`` as ``[project] version`` in pyproject.toml (the one place it is kept) and returns the course
    as it now reads. Badges and install lines of labs built afterwards point at the tag ``v{version}``.

    The file is edited with tomlkit, so everything else in it (comments, order, layout) stays as it was.
    """
    if not isinstance(version, str) or not RELEASE_VERSION.fullmatch(version):
        raise CourseError(f"--version {version!r} is not a release number like 0.2.0 (MAJOR.MINOR.PATCH)")
    path = course.pyproject
    document = tomlkit.parse(path.read_text())
    project = document.get("project")
    if not isinstance(project, dict) or "version" not in project:
        raise CourseError(f'{path} has no version = "..." in its [project] table to set: add one')
    project["version"] = version
    path.write_text(tomlkit.dumps(document))
    return dataclasses.replace(course, version=version)


def bundle_pyproject(course: Course) -> str:
    """The bundle's pyproject.toml: the course's build system, Python version, student dependencies (their comments
    kept), ``jupyter`` extra and ``course-check`` command, with ``course_utils`` as the only package."""
    course_pyproject = tomlkit.parse(course.pyproject.read_text())
    course_project = course_pyproject["project"]
    project = tomlkit.table()
    project.update(
        {
            "name": BUNDLE_NAME,
            "version": course.version,
            "description": BUNDLE_DESCRIPTION,
            "requires-python": course_project["requires-python"],
            "dependencies": course_project["dependencies"],
            "optional-dependencies": {"jupyter": course_project["optional-dependencies"]["jupyter"]},
            "scripts": {"course-check": course_project["scripts"]["course-check"]},
        }
    )
    bundle = tomlkit.document()
    bundle["build-system"] = course_pyproject["build-system"]
    bundle["project"] = project
    bundle["tool"] = {"setuptools": {"packages": {"find": {"include": [f"{STUDENT_PACKAGE}*"]}}}}
    return tomlkit.dumps(bundle)


def lab_title(notebook_path: str | Path) -> str:
    """The first Markdown heading of a notebook, e.g. 'Lab 1: RNNs from scratch'."""
    cells = json.loads(Path(notebook_path).read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook_path).stem


def student_readme(course: Course) -> str:
    """The bundle's README.md, from ``autograde/authoring/templates/student_readme.md.j2``: a row per lab (its title
    and Colab badge) and how to work on a lab, in Colab or locally."""
    labs = [
        {"name": lab, "title": lab_title(course.solution_notebook(lab)), "colab_url": course.colab_url(lab)}
        for lab in course.labs()
    ]
    return (
        _templates()
        .get_template("student_readme.md.j2")
        .render(labs=labs, package=BUNDLE_NAME, install_url=course.install_url())
    )


def _templates():
    # Markdown, not HTML: nothing to escape. StrictUndefined: a misspelt name fails instead of printing nothing.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
