"""The ``lessonlib`` command: the instructor's release and grade commands.

::

    lessonlib release [ASSIGNMENT ...]
    lessonlib grade SUBMISSIONS --out OUT [--jobs N] [--assignment A] [--timeout S]

Both run from the course root (the folder with ``nbgrader_config.py``),
or from the folder given with ``--course``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer (the number of students graded at once), "
            f"got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer (the number of students graded at once), "
            f"got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, got {text!r}")
    return value


def build_parser():
    """The argument parser of the ``lessonlib`` command."""
    p = argparse.ArgumentParser(
        prog="lessonlib",
        description="Release and grade the course's nbgrader assignments.")
    p.add_argument("--course", default=".", metavar="DIR",
                   help="course root, the folder with nbgrader_config.py (default: .)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("release", help="regenerate the student release from the source",
                       description="Regenerate the release (course/) from the source "
                                   "(solutions/) with nbgrader generate_assignment --force.")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to release (default: all)")

    g = sub.add_parser("grade", help="autograde a class's submissions",
                       description="Autograde submissions with nbgrader, write OUT/grades.csv "
                                   "and per-student feedback, flag what needs a look.")
    g.add_argument("submissions", metavar="SUBMISSIONS",
                   help="folder <student>/<assignment>/<notebook>.ipynb, or a .zip of one")
    g.add_argument("--out", required=True, metavar="OUT",
                   help="output folder (grades.csv, feedback/, autograded/, gradebook.db)")
    g.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="students graded at the same time (default: 1)")
    g.add_argument("--assignment", action="append", metavar="A",
                   help="grade only this assignment (repeatable; default: all submitted)")
    g.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="per-cell time limit (default: nbgrader_config.py's)")
    return p


def main(argv=None):
    """Run the command; return the exit status (0 done, 2 usage or course error)."""
    args = build_parser().parse_args(argv)
    from .grading.course import CourseError, release
    try:
        if args.command == "release":
            release(args.assignments, root=args.course)
        else:
            from .grading.run import grade
            grade(args.submissions, args.out, jobs=args.jobs, assignments=args.assignment,
                  timeout=args.timeout, root=args.course)
    except CourseError as exc:
        print(f"lessonlib {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
