"""Exports the student-facing bundle for the public repository.

The bundle holds what students need and nothing else: the generated labs, the
``course_utils`` package with a pyproject.toml of its own (so Colab can ``pip install``
the repository), and a README. ``solutions/`` and ``autograde/`` stay private; a final
scan refuses to publish if any solution or hidden-test text, or the code of any function of
the private references (``autograde/grading/references/``), slipped in.
"""
import ast
import dataclasses
import json
import re
import shutil
import tomllib
from pathlib import Path

from autograde.authoring.build import generate_labs
from autograde.course import INSTRUCTOR_PACKAGE, LABS, PYPROJECT, SOLUTIONS, STUDENT_PACKAGE, CourseError

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "autograde.grading.references")
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
            body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) and isinstance(getattr(node.body[0], "value", None), ast.Constant) else node.body
            if len(body) >= REFERENCE_STATEMENTS:
                found[ast.dump(ast.Module(body=body, type_ignores=[]))] = node.name
    return found


def reference_functions(course):
    """{body: name} of every function of the private references (autograde/grading/references/): none may be in the bundle."""
    found = {}
    for path in sorted(course.references_dir.rglob("*.py")):
        found.update(_bodies(path.read_text()))
    return found


def instructor_text_in(course, folder):
    """'path: what' for every file under ``folder`` holding solution or hidden-test text, or a private reference's code."""
    references = reference_functions(course)
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(folder).parts:
            continue
        text = path.read_text(errors="ignore")
        found += [f"{path.relative_to(folder)}: {marker}" for marker in LEAK_MARKERS if marker in text]
        if path.suffix == ".py":
            found += [f"{path.relative_to(folder)}: {name}, the code of the private reference {references[body]}"
                      for body, name in _bodies(text).items() if body in references]
    return found


def publish_bundle(course, dest, repository=None):
    """Writes the bundle into ``dest`` (created if needed) and returns its path."""
    if repository:
        course = dataclasses.replace(course, repository=repository)
    course.github_slug  # fails early, with a clear message, on a non-GitHub URL
    dest = Path(dest).resolve()
    if dest == course.root or course.root in dest.parents:
        raise CourseError(f"{dest} is inside the course repository; publish to a separate folder (e.g. a clone of the public repository)")
    if (dest / SOLUTIONS).exists() or (dest / INSTRUCTOR_PACKAGE).exists():
        raise CourseError(f"{dest} holds {SOLUTIONS}/ or {INSTRUCTOR_PACKAGE}/: that looks like a private course repository, not the public one")

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
VERSION_LINE = re.compile(r"""^version\s*=\s*(["'])[^"']*\1""")


def set_version(course, version):
    """Writes ``version`` as ``[project] version`` in pyproject.toml (the one place it is kept) and returns the course
    as it now reads. Badges and install lines of labs built afterwards point at the tag ``v{version}``."""
    if not isinstance(version, str) or not RELEASE_VERSION.fullmatch(version):
        raise CourseError(f"--version {version!r} is not a release number like 0.2.0 (MAJOR.MINOR.PATCH)")
    path = course.pyproject
    lines = path.read_text().splitlines(keepends=True)
    table = None
    for i, line in enumerate(lines):
        if line.startswith("["):  # a table header: [project], [tool.course], [[...]]
            table = line.strip()
        elif table == "[project]" and VERSION_LINE.match(line):
            lines[i] = VERSION_LINE.sub(f'version = "{version}"', line, count=1)
            path.write_text("".join(lines))
            return dataclasses.replace(course, version=version)
    raise CourseError(f'{path} has no version = "..." line in its [project] table to set')


def bundle_pyproject(course):
    with open(course.pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    dependencies = ",\n".join(f"    {json.dumps(d)}" for d in project["dependencies"])
    jupyter = ", ".join(json.dumps(d) for d in project["optional-dependencies"]["jupyter"])
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rnn-course-utils"
version = "{course.version}"
description = "Helpers for the recurrent-networks lab notebooks."
requires-python = "{project['requires-python']}"
dependencies = [
{dependencies},
]

[project.optional-dependencies]
jupyter = [{jupyter}]

[project.scripts]
course-check = "course_utils.submission:main"

[tool.setuptools.packages.find]
include = ["course_utils*"]
"""


def lab_title(notebook_path):
    """The first Markdown heading of a notebook, e.g. 'Lab 1: RNNs from scratch'."""
    cells = json.loads(Path(notebook_path).read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook_path).stem


def student_readme(course):
    rows = "\n".join(
        f"| [{lab_title(course.solution_notebook(lab))}](labs/{lab}/{lab}.ipynb) "
        f"| [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({course.colab_url(lab)}) |"
        for lab in course.labs()
    )
    return f"""# Recurrent networks: lab notebooks

Hands-on labs on recurrent neural networks with TensorFlow and Keras.

| Lab | Open |
|---|---|
{rows}

## How to work on a lab
1. Click **Open in Colab** (a CPU runtime is enough), then **File > Save a copy in Drive** so your work is kept.
2. Run the first cell: in Colab it installs the course helpers (`course_utils`).
3. Fill in every cell marked `# TODO` and run the test cell below it. A test prints a ✔ line for each thing it checked, or
   stops with a message that says what is wrong.
4. When every test passes, run the whole notebook once more from the top (**Runtime > Restart and run all**), then download it
   (**File > Download > Download .ipynb**) and submit that file.

## Running locally
```bash
python3 -m venv .venv && . .venv/bin/activate
pip install "rnn-course-utils[jupyter] @ {course.install_url()}"
jupyter lab
```

Labs save what they train under `artifacts/<lab>/` in the working directory (set `LAB_OUTPUT_DIR` to put them elsewhere).
`LAB_BUDGET=smoke` runs a lab with tiny data and few steps, for a quick check that everything runs.
"""
