"""The instructor's command line: ``course grade``, ``course build-labs``, ``course run-solutions``, ``course publish``..."""

import argparse
import logging
import sys

from autograde.course import Course, CourseError, DataUnavailable, OutputFolder
from autograde.grading.limits import LIMITS
from autograde.reporting.export import FORMATS
from autograde.reporting.similarity import THRESHOLD as SIMILARITY_THRESHOLD

GRADE_EXIT_STATUS = f"""exit status:
  0  graded: every file has a row in grades.csv saying how it went
  1  the grader itself crashed (a traceback)
  {CourseError.exit_code}  stopped with a message saying what to do: the self-test failed (no one was graded),
     or an option, folder or file is wrong
  {DataUnavailable.exit_code}  the lab's data is not on this machine and cannot be downloaded (e.g. Lab 3's tweets):
     nothing was graded; the message says what to set or connect"""


def build_labs(course: Course, args: argparse.Namespace) -> None:
    from autograde.authoring.build import generate_labs
    from autograde.grading.references import write_expected

    for folder in generate_labs(course, args.labs):
        print(f"built {folder.relative_to(course.root)}/")
        path = write_expected(course, folder.name)
        print(f"built {path.relative_to(course.root)} (what the self-checks compare with)")


def check_labs(course: Course, args: argparse.Namespace) -> int | None:
    from autograde.authoring.build import stale_labs
    from autograde.grading.references import stored_differences

    differences = stale_labs(course)
    differences += [
        f"course_utils/checks/expected ({lab}): {problem}"
        for lab in course.labs()
        for problem in stored_differences(course, lab)
    ]
    for line in differences:
        print(line)
    if differences:
        print(
            "labs/ or the stored expectations are not what solutions/ and autograde/grading/references make: "
            "run `course build-labs` and commit labs/ and course_utils/checks/expected/."
        )
        return 1
    print("labs/ and course_utils/checks/expected/ are up to date with solutions/ and autograde/grading/references/")


def run_solutions(course: Course, args: argparse.Namespace) -> int:
    """Executes each solution notebook (hidden tests included) and prints one line per lab."""
    from autograde.authoring.solutions import execute_solution

    failed = 0
    for lab in [course.resolve_lab(lab) for lab in args.labs] or course.labs():
        _, run = execute_solution(course, lab, cwd=course.root, env={"LAB_BUDGET": args.budget})
        earned, total = run.points
        passed = sum(test.passed for test in run.tests)
        status = "ok" if run.ok else "FAILED"
        print(
            f"{lab:32s} {status:6s} {passed}/{len(run.tests)} test cells, {earned:g}/{total:g} points, {run.seconds:.0f} s ({args.budget})"
        )
        for test in run.tests:
            if not test.passed:
                print(f"    test {test.grade_id}: {test.failure}")
        for failure in run.failures:
            print(f"    cell {failure.cell_id}: {failure.error}")
        failed += not run.ok
    return 1 if failed else 0


def publish(course: Course, args: argparse.Namespace) -> None:
    from autograde.authoring.build import generate_labs
    from autograde.authoring.publish import publish_bundle, set_version

    if args.version:
        course = set_version(course, args.version)
        generate_labs(course)  # labs/ here follows the new release too, so check-labs stays green
        print(f"pyproject.toml: version {course.version}; labs/ rebuilt (commit both)")
    written = publish_bundle(course, args.dest, repository=args.repository)
    print(f"student bundle written to {written}: labs/, course_utils/, README.md, pyproject.toml")
    print(
        f"Its badges and install lines point at the tag {course.release}: commit the bundle there, then "
        f"`git tag {course.release} && git push origin HEAD {course.release}`. Until that tag exists, Colab cannot open the labs."
    )


def grade(course: Course, args: argparse.Namespace) -> None:
    from autograde.grading.folder import grade_folder, summary
    from autograde.grading.intake import DEFAULT_ID_PATTERN, StudentIds

    lab = course.resolve_lab(args.lab)
    limits = _limits(args)
    try:
        ids = StudentIds(args.id_pattern or DEFAULT_ID_PATTERN, args.ids, class_zip=args.class_zip)
        out = OutputFolder.of(lab, args.out)
        rows = grade_folder(
            course,
            lab,
            args.folder,
            out.path,
            workers=args.workers,
            force=args.force,
            student_ids=ids,
            limits=limits,
            db_url=args.db,
            dask_scheduler=args.dask,
            budget=args.budget,
            skip_self_test=args.skip_self_test,
            sandboxed=not args.no_sandbox,
        )
    except (FileNotFoundError, ValueError) as error:
        raise CourseError(str(error)) from error
    print(summary(rows))
    print(f"grades: {out.grades}   feedback: {out.feedback_dir}/   gradebook: {args.db or out.gradebook}")
    if args.report:
        from autograde.reporting.report import write_report

        print(f"report: {write_report(course, lab, out.path)}")


def self_test(course: Course, args: argparse.Namespace) -> int:
    """Grades only the reference solution, as `course grade` does first. Stricter than there: it fails unless the
    reference gets full marks and every cell of it runs clean, instructor cells too."""
    from autograde.grading.folder import self_test_lab

    check = self_test_lab(course, args.lab, limits=_limits(args), budget=args.budget, sandboxed=not args.no_sandbox)
    print(check.summary())
    if check.passed and check.failures:  # full marks, yet a cell no test covers raised
        print("but a cell raised (`course grade` grades anyway; the notebook does not run clean here):")
        print("\n".join(f"  {failure}" for failure in check.failures))
    return 0 if check.passed and not check.failures else 1


def _add_limit_options(parser):
    for limit in LIMITS:
        parser.add_argument(
            limit.option,
            dest=limit.name,
            type=int,
            metavar=limit.metavar,
            help=f"{limit.help} (default: {limit.default:,})",
        )


def _limits(args):
    """The limits given on the command line, by name (the rest keep their defaults)."""
    return {limit.name: getattr(args, limit.name) for limit in LIMITS if getattr(args, limit.name) is not None}


def report(course: Course, args: argparse.Namespace) -> None:
    from autograde.reporting.report import write_report

    lab = course.resolve_lab(args.lab)
    print(f"report: {write_report(course, lab, OutputFolder.of(lab, args.out).path)}")


def similarity(course: Course, args: argparse.Namespace) -> None:
    from autograde.reporting.similarity import find_pairs, text_table, write_html

    lab = course.resolve_lab(args.lab)
    out = OutputFolder.of(lab, args.out)
    pairs, compared = find_pairs(course, lab, out.path, args.threshold)
    print(text_table(pairs, compared, args.threshold))
    print(f"side by side: {write_html(out.similarity, pairs, lab, compared, args.threshold)}")


def export(course: Course, args: argparse.Namespace) -> None:
    from autograde.reporting.export import export_grades, gradebook_url, read_roster

    lab = course.resolve_lab(args.lab)
    out = OutputFolder.of(lab, args.out)
    try:
        roster = read_roster(args.ids) if args.ids else None
    except FileNotFoundError as error:
        raise CourseError(f"no roster at {args.ids}: give --ids a CSV with a student_id column") from error
    result = export_grades(
        gradebook_url(out.path, lab, args.db),
        lab,
        args.format,
        args.dest or out.export(args.format),
        roster=roster,
        assignment=args.assignment,
    )
    print(result.summary())


def make_examples(course: Course, args: argparse.Namespace) -> None:
    from autograde.authoring.examples import make_examples as write_examples

    for lab in [course.resolve_lab(lab) for lab in args.labs] or course.labs():
        print(f"wrote {write_examples(course, lab).relative_to(course.root)}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description="Instructor tools for the RNN lab package.")
    parser.add_argument("--root", help="the course repository (default: found from the working directory)")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="show no progress, only results, warnings and errors"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "grade",
        help="grade a folder of submitted notebooks (the instructor's main job)",
        epilog=GRADE_EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("lab", help="the lab, e.g. lab1 or lab1_rnns_from_scratch")
    p.add_argument("folder", help="folder of downloaded submissions (.ipynb, .zip; file names as students left them)")
    p.add_argument("--out", help="output folder (default: grading/<lab>)")
    p.add_argument("--workers", type=int, help="notebooks graded at once (default: number of cores)")
    p.add_argument("--force", action="store_true", help="regrade every file, not only new or changed ones")
    p.add_argument("--ids", metavar="CSV", help="CSV with columns file,student_id mapping file names to student ids")
    p.add_argument(
        "--id-pattern", metavar="REGEX", help="regular expression with a (?P<student>...) group, matched on file names"
    )
    p.add_argument(
        "--class-zip",
        action="store_true",
        help="read each .zip as the LMS's download of the whole class: each file in it counts for the student "
        "its own name identifies (default: a .zip is one student's upload, and everything in it counts only "
        "for the student the zip's own name identifies)",
    )
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the gradebook (default: sqlite in the output folder)")
    p.add_argument("--dask", metavar="SCHEDULER", help="grade on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument(
        "--budget", choices=["smoke", "full"], default="smoke", help="LAB_BUDGET for the notebooks (default: smoke)"
    )
    p.add_argument(
        "--skip-self-test",
        action="store_true",
        help="grade even if the reference solution does not get full marks (it is graded first, and cached)",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run kernels without the sandbox (only for submissions you trust; every row says so)",
    )
    p.add_argument("--report", action="store_true", help="then write report.html (as `course report`)")
    _add_limit_options(p)
    p.set_defaults(func=grade)

    p = commands.add_parser(
        "self-test",
        help="grade only the reference solution, as `course grade` does before anyone "
        "(a pass is cached, as there); fails unless it gets full marks and none of its cells raises",
    )
    p.add_argument("lab", help="the lab, e.g. lab1 or lab1_rnns_from_scratch")
    p.add_argument(
        "--budget", choices=["smoke", "full"], default="smoke", help="LAB_BUDGET for the notebook (default: smoke)"
    )
    p.add_argument("--no-sandbox", action="store_true", help="run the kernel without the sandbox")
    _add_limit_options(p)
    p.set_defaults(func=self_test)

    p = commands.add_parser("export", help="write a lab's scores from the gradebook for an LMS: canvas, moodle or csv")
    p.add_argument("lab", help="the lab, e.g. lab1 or lab1_rnns_from_scratch")
    p.add_argument("--format", choices=FORMATS, default="csv", help="the LMS's import layout (default: csv)")
    p.add_argument(
        "--ids",
        metavar="CSV",
        help="roster: student_id and the LMS's name, email, lms_id, sis_user_id, login_id, section",
    )
    p.add_argument("--out", help="the folder `course grade` wrote (default: grading/<lab>)")
    p.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL of the gradebook (default: gradebook.db in the output folder)"
    )
    p.add_argument("--dest", metavar="FILE", help="file to write (default: export-<format>.csv in the output folder)")
    p.add_argument(
        "--assignment",
        metavar="NAME",
        help="the assignment column's header, e.g. 'Lab 1 (12345)' for Canvas "
        "assignment 12345 (default: the lab's name)",
    )
    p.set_defaults(func=export)

    p = commands.add_parser(
        "report", help="write report.html for a graded lab: scores, tests, time, flags, similar code"
    )
    p.add_argument("lab", help="the lab, e.g. lab1 or lab1_rnns_from_scratch")
    p.add_argument("--out", help="the folder `course grade` wrote (default: grading/<lab>)")
    p.set_defaults(func=report)

    p = commands.add_parser(
        "similarity", help="list pairs of submissions with similar student-written code, to look at"
    )
    p.add_argument("lab", help="the lab, e.g. lab1 or lab1_rnns_from_scratch")
    p.add_argument("--out", help="the folder `course grade` wrote (default: grading/<lab>)")
    p.add_argument(
        "--threshold",
        type=float,
        default=SIMILARITY_THRESHOLD,
        metavar="SCORE",
        help=f"list pairs with an answer cell scoring this or more, 0 to 1 (default: {SIMILARITY_THRESHOLD}, "
        "measured by benchmarks/similarity.py)",
    )
    p.set_defaults(func=similarity)

    p = commands.add_parser("make-examples", help="write autograde/examples/<lab>/ from the solution and the lab")
    p.add_argument("labs", nargs="*", help="labs (default: all)")
    p.set_defaults(func=make_examples)

    p = commands.add_parser("build-labs", help="generate labs/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("labs", nargs="*", help="labs to build (default: all)")
    p.set_defaults(func=build_labs)

    p = commands.add_parser("check-labs", help="fail if labs/ differs from what solutions/ generates")
    p.set_defaults(func=check_labs)

    p = commands.add_parser("run-solutions", help="execute the solution notebooks and report their tests")
    p.add_argument("labs", nargs="*", help="labs to run (default: all)")
    p.add_argument(
        "--budget", choices=["smoke", "full"], default="smoke", help="LAB_BUDGET for the run (default: smoke)"
    )
    p.set_defaults(func=run_solutions)

    p = commands.add_parser(
        "publish", help="export the student bundle (labs, course_utils, README) for the public repository"
    )
    p.add_argument("dest", help="folder to write, e.g. a clone of the public repository")
    p.add_argument(
        "--repository",
        help="public repository URL for badges and install lines (default: [tool.course] in pyproject.toml)",
    )
    p.add_argument(
        "--version",
        help="release number to publish, e.g. 0.2.0: written to pyproject.toml; badges and install lines "
        "point at the tag v<version> (default: the version pyproject.toml has)",
    )
    p.set_defaults(func=publish)

    args = parser.parse_args(argv)
    _configure_logging(args.quiet)
    try:
        course = Course.find(args.root)
        return args.func(course, args) or 0
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


def _configure_logging(quiet: bool) -> None:
    """What the toolchain logs reaches stderr as plain lines: its progress unless ``quiet``, and its warnings.

    Other libraries' loggers stay at WARNING, as Python shows them without any configuration: at INFO SQLAlchemy
    would echo nbgrader's every SQL statement.
    """
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("autograde").setLevel(logging.WARNING if quiet else logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
