"""The ``lessonlib`` command: the instructor's release and grade commands.

::

    lessonlib release [ASSIGNMENT ...]
    lessonlib grade SUBMISSIONS --out OUT [--jobs N] [--assignment A] [--timeout S]
                    [--no-sandbox] [--scheduler tcp://HOST:PORT] [--gradebook URL]
    lessonlib --version

Both run from the course root (the folder with ``nbgrader_config.py``),
or from the folder given with ``--course`` (before or after the command).

Exit status
-----------
0
    done.
1
    an unexpected internal error: one line on stderr, the traceback in the
    log file it names.
2
    a usage, course or lock error: a wrong argument, not a course folder,
    an unknown assignment, another run writing to the same OUT, nbgrader
    or bubblewrap missing, a ``--gradebook`` that cannot be reached
    (before OUT is touched) or written (OUT then has every result). The
    message says what to do.
130, 143
    interrupted by Ctrl-C (SIGINT) or stopped by SIGTERM: a grading run
    that did not finish leaves OUT's previous results as they were.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import traceback

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_EPILOG = """\
exit status:
  0         done
  1         unexpected internal error (one line here, the traceback in the log it names)
  2         usage, course or lock error (wrong argument, not a course folder, another
            run writing to the same OUT, nbgrader or bubblewrap missing, a --gradebook
            that cannot be reached or written)
  130, 143  interrupted (Ctrl-C) or stopped (SIGTERM): OUT keeps its previous results
"""

_NBGRADER_HINT = 'pip install -e ".[course]"'
_UNFINISHED = "; a grading run that did not finish leaves OUT as it was"


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("lessonlib")
    except PackageNotFoundError:
        return "unknown (not installed)"


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
    course_help = "course root, the folder with nbgrader_config.py (default: .)"
    p = argparse.ArgumentParser(
        prog="lessonlib",
        description="Release and grade the course's nbgrader assignments.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"lessonlib {_version()}")
    p.add_argument("--course", default=".", metavar="DIR", help=course_help)
    # --course is also accepted after the command; SUPPRESS keeps the value given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", default=argparse.SUPPRESS, metavar="DIR", help=course_help)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("release", parents=[common], epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="regenerate the student release from the source",
                       description="Regenerate the release (course/) from the source "
                                   "(solutions/) with nbgrader generate_assignment --force.")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to release (default: all)")

    g = sub.add_parser("grade", parents=[common], epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="autograde a class's submissions",
                       description="Autograde submissions with nbgrader, write OUT/grades.csv "
                                   "and per-student feedback, flag what needs a look. OUT's "
                                   "previous results are replaced only when the run "
                                   "completes; one run at a time per OUT.")
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
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="grade each student on the Dask cluster of this scheduler (needs "
                        "lessonlib[cluster]; workers need lessonlib and bubblewrap; "
                        "default: this machine)")
    g.add_argument("--gradebook", default=None, metavar="URL",
                   help="also write the grades into this nbgrader database once OUT is "
                        "written, e.g. the course's: sqlite:////abs/path/gradebook.db or "
                        "postgresql+psycopg://user:password@host/db (needs psycopg); "
                        "a rerun updates it and keeps manual grades")
    g.add_argument("--no-sandbox", action="store_true",
                   help="grade without the bubblewrap sandbox (unsafe: for machines without "
                        "bubblewrap; every row is flagged)")
    return p


def _one_line(text):
    return " ".join(str(text).split())


def _internal_error(command, exc):
    """Write the traceback to a log file; return the one line that names it."""
    fd, path = tempfile.mkstemp(prefix=f"lessonlib-{command}-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
        fh.write(f"lessonlib {command}: argv {sys.argv!r}\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
    return (f"lessonlib {command}: internal error ({type(exc).__name__}: "
            f"{_one_line(exc)[:200]}); see the log {path}")


def main(argv=None):
    """Run the command; return the exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    cmd = args.command

    def say(text):
        from .grading.report import printable
        print("\n".join(printable(line) for line in str(text).splitlines()), file=sys.stderr)

    if importlib.util.find_spec("nbgrader") is None:
        say(f"lessonlib {cmd}: error: nbgrader is not installed in this Python "
            f"({sys.executable}); install the course tools: {_NBGRADER_HINT}")
        return EXIT_USAGE
    from .grading.course import CourseError, release
    from .grading.run import Terminated, grade
    try:
        if cmd == "release":
            release(args.assignments, root=args.course)
        else:
            grade(args.submissions, args.out, jobs=args.jobs, assignments=args.assignment,
                  timeout=args.timeout, root=args.course, sandbox=not args.no_sandbox,
                  scheduler=args.scheduler, gradebook_url=args.gradebook)
    except CourseError as exc:
        say(f"lessonlib {cmd}: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say(f"lessonlib {cmd}: interrupted" + (_UNFINISHED if cmd == "grade" else ""))
        return EXIT_INTERRUPTED
    except Terminated as exc:
        say(f"lessonlib {cmd}: stopped by SIGTERM" + (_UNFINISHED if cmd == "grade" else ""))
        return exc.code
    except Exception as exc:  # noqa: BLE001  anything else is a bug: one line, and the log
        say(_internal_error(cmd, exc))
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
