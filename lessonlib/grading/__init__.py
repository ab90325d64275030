"""Grading a class: the instructor's side, and the little that runs in the sandbox.

What runs where, by module:

==================  ===========================================================
module              runs in
==================  ===========================================================
``run``             the grader: one grading run from start to finish
``course``          the grader: the course folder and the release command
``intake``          the grader: reading submissions before anything runs them
``audit``           the grader: the static (advisory) audit of student code
``jobs``            the grader's worker processes: nbgrader per student
``preprocessors``   the grader's worker processes: nbgrader preprocessors
``sandbox``         the grader's worker processes: the bubblewrap sandbox
``verdict``         the grader's worker processes: checks run against the kernel
``references``      the grader: the kernel's lessonlib without graded references
``report``          the grader: gradebook merge, grades.csv, the summary
``demo``            tests and benchmarks: a small course and a synthetic class
``in_kernel``       **inside the sandbox**: runs the student's function on
                    inputs sent by the grader and sends back the outputs
==================  ===========================================================

Nothing that decides a score runs inside the sandbox: ``in_kernel`` only
computes outputs, and the grader compares them with the reference.
"""

from .course import CourseError, release
from .run import COLUMNS, GradingError, grade

__all__ = ["grade", "release", "GradingError", "CourseError", "COLUMNS"]
