"""The instructor's command line: ``course build-labs``, ``course run-solutions``, ``course publish``."""
import argparse
import sys

from autograde.course import Course, CourseError


def build_labs(course, args):
    from autograde.build import generate_labs

    for folder in generate_labs(course, args.labs):
        print(f"built {folder.relative_to(course.root)}/")


def check_labs(course, args):
    from autograde.build import stale_labs

    differences = stale_labs(course)
    for line in differences:
        print(line)
    if differences:
        print("labs/ is not what solutions/ generates: run `course build-labs` and commit labs/.")
        return 1
    print("labs/ is up to date with solutions/")


def run_solutions(course, args):
    """Executes each solution notebook (hidden tests included) and prints one line per lab."""
    from autograde.execute import execute_notebook

    failed = 0
    for lab in [course.resolve_lab(lab) for lab in args.labs] or course.labs():
        _, run = execute_notebook(course.solution_notebook(lab), cwd=course.root, env={"LAB_BUDGET": args.budget})
        earned, total = run.points
        passed = sum(test.passed for test in run.tests)
        status = "ok" if run.ok else "FAILED"
        print(f"{lab:32s} {status:6s} {passed}/{len(run.tests)} test cells, {earned:g}/{total:g} points, {run.seconds:.0f} s ({args.budget})")
        for test in run.tests:
            if not test.passed:
                print(f"    test {test.grade_id}: {test.failure}")
        for failure in run.failures:
            print(f"    cell {failure.cell_id}: {failure.error}")
        failed += not run.ok
    return 1 if failed else 0


def publish(course, args):
    from autograde.publish import publish_bundle

    written = publish_bundle(course, args.dest, repository=args.repository)
    print(f"student bundle written to {written}: labs/, course_utils/, README.md, pyproject.toml")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course", description="Instructor tools for the RNN lab package.")
    parser.add_argument("--root", help="the course repository (default: found from the working directory)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build-labs", help="generate labs/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("labs", nargs="*", help="labs to build (default: all)")
    p.set_defaults(func=build_labs)

    p = commands.add_parser("check-labs", help="fail if labs/ differs from what solutions/ generates")
    p.set_defaults(func=check_labs)

    p = commands.add_parser("run-solutions", help="execute the solution notebooks and report their tests")
    p.add_argument("labs", nargs="*", help="labs to run (default: all)")
    p.add_argument("--budget", choices=["smoke", "full"], default="smoke", help="LAB_BUDGET for the run (default: smoke)")
    p.set_defaults(func=run_solutions)

    p = commands.add_parser("publish", help="export the student bundle (labs, course_utils, README) for the public repository")
    p.add_argument("dest", help="folder to write, e.g. a clone of the public repository")
    p.add_argument("--repository", help="public repository URL for badges and install lines (default: [tool.course] in pyproject.toml)")
    p.set_defaults(func=publish)

    args = parser.parse_args(argv)
    try:
        course = Course.find(args.root)
        return args.func(course, args) or 0
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
