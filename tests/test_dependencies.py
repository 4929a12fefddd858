"""environment.yml (conda) and pyproject.toml (pip) must name the same dependencies."""
import re
import tomllib

import yaml

from helpers import ROOT


def normalise(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = [d for d in env["dependencies"] if isinstance(d, str) and normalise(d)[0] not in ("python", "pip")]
    conda_side += [d.split("#")[0] for entry in env["dependencies"] if isinstance(entry, dict)
                   for d in entry.get("pip", []) if not d.startswith("-")]  # what conda-forge lacks
    assert dict(map(normalise, conda_side)) == dict(map(normalise, pip_side))
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in env["dependencies"]), "environment.yml should pip-install the project itself"


def test_student_dependencies_exclude_grading_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {normalise(d)[0] for d in project["dependencies"]}
    assert not names & {"nbgrader", "nbconvert", "jupyter", "pytest", "landlockpy", "copydetect"}
    assert {"nbformat", "nbclient", "ipykernel"} <= names  # course_utils.check_notebook() runs the student's notebook
