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
    conda_side += [
        d.split("#")[0]
        for entry in env["dependencies"]
        if isinstance(entry, dict)
        for d in entry.get("pip", [])
        if not d.startswith("-")
    ]  # what conda-forge lacks
    assert dict(map(normalise, conda_side)) == dict(map(normalise, pip_side))
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in env["dependencies"]), (
        "environment.yml should pip-install the project itself"
    )


def test_student_dependencies_exclude_grading_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {normalise(d)[0] for d in project["dependencies"]}
    assert not names & {"nbgrader", "nbconvert", "jupyter", "pytest", "landlockpy", "copydetect"}
    assert {"nbformat", "nbclient", "ipykernel"} <= names  # course_utils.check_notebook() runs the student's notebook


def test_floor_pins_are_the_declared_lower_bounds():
    """constraints/floor.txt (what scripts/check_floor.sh runs the labs on) pins the lowest release pyproject.toml allows."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {Requirement(d).name: Requirement(d).specifier for d in project["dependencies"]}
    lines = (ROOT / "constraints" / "floor.txt").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert {"tensorflow", "numpy"} <= {pin.name for pin in pins}
    for pin in pins:
        [exact] = pin.specifier
        assert exact.operator == "==", f"{pin}: the floor pins exact versions"
        if pin.name in declared:
            [lower] = [s for s in declared[pin.name] if s.operator == ">="]
            pinned, bound = Version(exact.version), Version(lower.version)
            assert pinned in declared[pin.name] and pinned.release[: len(bound.release)] == bound.release, (
                f"{pin} is not at pyproject.toml's lower bound {pin.name}{lower}: move the pin or the bound"
            )
