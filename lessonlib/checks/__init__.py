"""Checks that the notebooks' grade cells call.

Each ``check_<name>(student_fn, hidden=False, seed=0)`` compares the
student's function with lessonlib's reference on hand-made and random
cases and raises :class:`CheckFailed` with a diagnosis when they differ.
``hidden=True`` runs the larger set of cases used under
``### BEGIN HIDDEN TESTS``.
"""

from ._core import Case, CheckFailed, Diagnosis, run_cases  # noqa: F401
from .basics import *  # noqa: F401,F403   assignments 01-04
from .networks import *  # noqa: F401,F403   assignments 05-08
