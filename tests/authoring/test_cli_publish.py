"""The instructor command line and the student bundle."""

import subprocess
import sys
import tomllib

import pytest

from autograde.authoring.publish import (
    LEAK_MARKERS,
    bundle_pyproject,
    lab_title,
    publish_bundle,
    set_version,
    student_readme,
)
from autograde.cli import main
from autograde.course import Course, CourseError


@pytest.mark.slow  # generates every lab
def test_check_labs_command(course, capsys):
    assert main(["--root", str(course.root), "check-labs"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_no_course_here_is_a_clear_error(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "check-labs"]) == 2
    assert "COURSE_ROOT" in capsys.readouterr().err


def test_lab_short_names(course):
    assert course.resolve_lab("lab1") == "lab1_rnns_from_scratch"
    with pytest.raises(CourseError, match="no lab called 'lab9'; the labs are: lab1_rnns_from_scratch"):
        course.resolve_lab("lab9")


def test_repository_must_be_on_github(course):
    with pytest.raises(CourseError, match="not a GitHub URL"):
        Course(course.root, "https://gitlab.com/x/y", "0.1.0").github_slug  # noqa: B018 -- reading it raises


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory):
    return publish_bundle(
        course, tmp_path_factory.mktemp("public") / "rnn-labs", repository="https://github.com/someone/their-labs"
    )


@pytest.mark.slow  # its bundle fixture generates every lab
def test_bundle_holds_what_students_need_and_nothing_else(course, bundle):
    names = {p.name for p in bundle.iterdir()}
    assert names == {"labs", "course_utils", "README.md", "pyproject.toml", ".gitignore"}
    for lab in course.labs():
        assert (bundle / "labs" / lab / f"{lab}.ipynb").is_file()
    for path in bundle.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            assert not [m for m in LEAK_MARKERS if m in text], path


@pytest.mark.slow  # its bundle fixture generates every lab
def test_bundle_links_follow_the_chosen_repository(course, bundle):
    readme = (bundle / "README.md").read_text()
    lab = course.labs()[0]
    release = f"v{course.version}"
    colab = f"https://colab.research.google.com/github/someone/their-labs/blob/{release}/labs/{lab}/{lab}.ipynb"
    assert colab in readme and "Lab 1: RNNs from scratch" in readme
    notebook = (bundle / "labs" / lab / f"{lab}.ipynb").read_text()
    assert colab in notebook and f"git+https://github.com/someone/their-labs@{release}" in notebook
    assert tomllib.loads((bundle / "pyproject.toml").read_text())["project"]["version"] == course.version
    assert "rnn-course/rnn-labs" not in notebook


@pytest.mark.slow  # pip install
def test_bundle_installs_with_pip(course, bundle, tmp_path):
    project = tomllib.loads((bundle / "pyproject.toml").read_text())["project"]
    main_project = tomllib.loads((course.root / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == main_project["dependencies"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(tmp_path / "site"),
            str(bundle),
        ],
        check=True,
    )
    assert (tmp_path / "site" / "course_utils" / "checks" / "lab1.py").is_file()
    assert not (tmp_path / "site" / "autograde").exists()


def test_publish_version_is_written_once_and_links_follow_it(course, tmp_path):
    original = (course.root / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(original)
    local = Course(tmp_path, course.repository, course.version)
    released = set_version(local, "0.3.1")
    assert released.version == "0.3.1" and Course.load(tmp_path).version == "0.3.1"
    assert released.install_url() == "git+https://github.com/rnn-course/rnn-labs@v0.3.1"
    assert "/blob/v0.3.1/labs/lab1_rnns_from_scratch/" in released.colab_url("lab1_rnns_from_scratch")
    changed = [
        (before, after)
        for before, after in zip(
            original.splitlines(), (tmp_path / "pyproject.toml").read_text().splitlines(), strict=True
        )
        if before != after
    ]
    assert changed == [(f'version = "{course.version}"', 'version = "0.3.1"')]  # comments and layout kept


def test_publish_version_needs_a_version_in_the_project_table(course, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.other]\nversion = "1.0.0"  # not this one\n'
    )
    with pytest.raises(CourseError, match=r'no version = "..." in its \[project\] table'):
        set_version(Course(tmp_path, course.repository, "1.0.0"), "0.3.1")
    assert 'version = "1.0.0"  # not this one' in (tmp_path / "pyproject.toml").read_text()


def test_bundle_pyproject_takes_the_student_side_of_the_course_pyproject(course):
    text = bundle_pyproject(course)
    bundle, main_project = tomllib.loads(text), tomllib.loads(course.pyproject.read_text())["project"]
    assert bundle["project"]["name"] == "rnn-course-utils" and bundle["project"]["version"] == course.version
    assert bundle["project"]["dependencies"] == main_project["dependencies"]
    assert bundle["project"]["requires-python"] == main_project["requires-python"]
    assert bundle["project"]["optional-dependencies"] == {"jupyter": main_project["optional-dependencies"]["jupyter"]}
    assert bundle["project"]["scripts"] == {"course-check": "course_utils.submission:main"}
    assert bundle["tool"] == {"setuptools": {"packages": {"find": {"include": ["course_utils*"]}}}}
    assert "# Lab 4's data (course_utils.normalization)" in text  # the dependencies' comments come along


def test_student_readme_has_a_row_and_a_badge_per_lab(course):
    readme = student_readme(course)
    rows = [line for line in readme.splitlines() if line.startswith("| [")]
    assert [row.split("](")[0] for row in rows] == [
        f"| [{lab_title(course.solution_notebook(lab))}" for lab in course.labs()
    ]
    for row, lab in zip(rows, course.labs()):
        assert (
            f"(labs/{lab}/{lab}.ipynb)" in row
            and f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({course.colab_url(lab)}) |"
            in row
        )
    assert f'pip install "rnn-course-utils[jupyter] @ {course.install_url()}"' in readme
    assert readme.endswith("quick check that everything runs.\n") and "{{" not in readme and "{%" not in readme


def test_every_template_is_package_data(course):
    """pip installs only what package-data names: a template left out works here and fails in an installed copy."""
    patterns = tomllib.loads(course.pyproject.read_text())["tool"]["setuptools"]["package-data"]["autograde"]
    templates = [
        path.relative_to(course.instructor_package) for path in course.instructor_package.glob("*/templates/*")
    ]
    assert templates and [str(t) for t in templates if not any(t.match(pattern) for pattern in patterns)] == []


@pytest.mark.parametrize("version", ["0.3", "v0.3.1", "0.3.1rc1", "latest", ""])
def test_publish_refuses_a_version_that_is_not_a_release(course, version):
    with pytest.raises(CourseError, match="not a release number like 0.2.0"):
        set_version(course, version)


def test_publish_refuses_the_course_repository_itself(course):
    with pytest.raises(CourseError, match="inside the course repository"):
        publish_bundle(course, course.root / "public")


def test_publish_refuses_a_private_looking_folder(course, tmp_path):
    (tmp_path / "solutions").mkdir()
    with pytest.raises(CourseError, match="private course repository"):
        publish_bundle(course, tmp_path)


@pytest.mark.slow  # runs `course grade`: builds the grader's template gradebook when the grading code changed
def test_grade_command_on_files_that_cannot_be_graded(course, tmp_path, capsys):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "amy_lab1.py").write_text("print(1)")
    (folder / "bo_lab1.ipynb").write_text("")
    out = tmp_path / "out"
    assert main(["--root", str(course.root), "grade", "lab1", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 files: 0 graded" in printed and "amy" in printed and "empty file" in printed
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("file,student_id,status,score,max_score,test_rnn_cell_weights") and len(rows) == 3


def test_grade_command_reports_bad_arguments(course, tmp_path, capsys):
    assert main(["--root", str(course.root), "grade", "lab1", str(tmp_path / "missing")]) == 2
    assert "not a folder of submissions" in capsys.readouterr().err
    (tmp_path / "ids.csv").write_text("name\nx\n")
    assert main(["--root", str(course.root), "grade", "lab1", str(tmp_path), "--ids", str(tmp_path / "ids.csv")]) == 2
    assert "file,student_id" in capsys.readouterr().err
