"""Machinery shared by the checks of assignments 01-04.

* :class:`ShapeDiagnosis`: a mistake recognised by the output shape it
  produces (padding ignored, stride ignored ...), turned into a
  ``shape_hint`` for :func:`~lessonlib.checks._core.run_cases`;
* :func:`guard`: a wrapper around the student's function that refuses
  calls to the reference it is compared with (whatever name it was
  imported under), explains crashes caused by float sizes, and can
  inspect the result (``post``);
* :func:`run`: ``run_cases`` with both.
"""

from __future__ import annotations

import functools
import numbers
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import conv as _conv
from ._core import CheckFailed, ForbiddenCall, crash_line, recording_calls, run_cases

__all__: list[str] = []


def skip():
    """Raise: a diagnosis that does not apply to the case at hand."""
    raise ValueError("not applicable")


def as_pair(v):
    """``(v, v)`` for a single value, the pair itself for a pair."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


@dataclass
class ShapeDiagnosis:
    """A mistake recognised by the output shape it produces.

    ``shape(*args, **kwargs)`` returns the shape the buggy code returns for
    the case (or raises when the mistake cannot be told apart there).
    """

    shape: Callable[..., tuple]
    message: str


def shape_hint(diagnoses):
    """A ``shape_hint`` for :func:`run_cases` trying each shape diagnosis in turn."""
    def hint(got, expected, case):
        found = []
        for d in diagnoses:
            try:
                wrong = tuple(d.shape(*case.args, **case.kwargs))
            except Exception:  # the diagnosis does not apply to this case
                continue
            if wrong == tuple(got) and wrong != tuple(expected) and d.message not in found:
                found.append(d.message)
        return " Or: ".join(found)
    return hint


def _label(f):
    """The dotted name of a function, as the student's kernel can look it up."""
    mod = getattr(f, "__module__", "") or ""
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))
    return f"{mod}.{name}".lstrip(".")


def _forbidden_labels(functions):
    """Display name -> function, for :func:`~lessonlib.checks._core.recording_calls`."""
    out = {}
    for f in functions:
        label = f"{getattr(f, '__module__', '') or ''}.{getattr(f, '__name__', repr(f))}"
        out[label.replace("numpy._core.numeric", "numpy").lstrip(".")] = f
    return out


_SIZE_ERRORS = ("cannot be interpreted as an integer", "slice indices must be integers",
                "'float' object cannot")


def guard(student_fn, name, forbidden=(), post=None):
    """Wrap ``student_fn``: refuse calls to ``forbidden`` and explain float sizes.

    While the student's function runs, a profile hook records every call;
    calling one of ``forbidden`` (lessonlib's reference, ``np.convolve`` ...)
    fails the check, whatever name the student imported it under. A crash
    caused by a float used as a size gets a hint about ``//``. ``post(out)``
    may inspect the result (and raise :class:`CheckFailed`).
    """
    if not callable(student_fn):
        return student_fn  # run_cases reports it
    if hasattr(student_fn, "forbidding"):   # runs in the student's kernel: it watches there
        student_fn = student_fn.forbidding([_label(f) for f in forbidden])
    targets = _forbidden_labels(forbidden)

    @functools.wraps(student_fn)
    def guarded(*args, **kwargs):
        hits = []
        try:
            with recording_calls(targets, hits):
                out = student_fn(*args, **kwargs)
        except ForbiddenCall as exc:
            hits.extend(exc.labels)
            out = None
        except TypeError as exc:
            if not any(s in str(exc) for s in _SIZE_ERRORS):
                raise
            raise CheckFailed(
                f"{name} raised TypeError: {exc}{crash_line(exc)}. A size or an index is a "
                f"float: sizes computed with / are floats, use // (floor division) instead."
            ) from None
        if hits:
            raise CheckFailed(
                f"{name} calls {hits[0]}, which computes the very thing the exercise asks "
                f"for. Write the computation yourself (loops and NumPy basics are fine)."
            )
        if post is not None:
            post(out)
        return out

    return guarded


def torch_functions(*names):
    """``torch.nn.functional`` functions, when PyTorch is already imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    F = torch.nn.functional
    return [getattr(F, n) for n in names if hasattr(F, n)]


def int_result(name):
    """A ``post`` hook refusing a float that happens to equal the expected integer."""
    def post(out):
        if isinstance(out, (float, np.floating)):
            if float(out).is_integer():
                raise CheckFailed(
                    f"{name} returned {out!r}, a float. A size (or a count) is a whole "
                    f"number used as an array shape: return an int. Did you use / instead "
                    f"of //?"
                )
        elif out is not None and (isinstance(out, (bool, np.bool_))
                                  or not isinstance(out, numbers.Integral)):
            raise CheckFailed(
                f"{name} returned {out!r} of type {type(out).__name__}; return an int."
            )
    return post


def run(name, student_fn, reference, cases, diagnoses=(), shapes=(), forbidden=(),
         post=None):
    """:func:`run_cases` with a guarded student function and shape diagnoses.

    Returns None: a grade cell's last line shows nothing when the check passes
    (only its printed one-line summary).
    """
    run_cases(name, guard(student_fn, name, forbidden, post), reference, cases,
                     diagnoses, shape_hint(shapes) if shapes else None)


def scipy_functions():
    sig = sys.modules.get("scipy.signal")
    nd = sys.modules.get("scipy.ndimage")
    out = []
    if sig is not None:
        out += [sig.correlate2d, sig.convolve2d, sig.correlate, sig.convolve]
    if nd is not None:
        out += [nd.correlate, nd.convolve]
    return out


def conv_fn(name):
    """lessonlib.conv.<name>, or a placeholder while it does not exist."""
    return getattr(_conv, name, _missing)


def _missing(*args, **kwargs):  # pragma: no cover - placeholder, never a student's target
    raise NotImplementedError


_CHECK_PARAMETERS = """

    Parameters
    ----------
    student_fn : callable
        The student's function, called on copies of each case's inputs.
    hidden : bool, default False
        Also run the random and adversarial cases of the hidden tests.
    seed : int, default 0
        Seed of the random cases.

    Raises
    ------
    CheckFailed
        On the first case where the student's function crashes, changes its
        input, calls the reference, or returns something else than the
        reference; the message names the case and the likely mistake.
    """


def documented(check):
    """Append the Parameters and Raises sections every check shares to its docstring."""
    check.__doc__ = (check.__doc__ or "").rstrip() + _CHECK_PARAMETERS
    return check

