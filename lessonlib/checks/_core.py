"""The machinery every check is built from.

A check runs the student's function and lessonlib's reference on the same
cases and, when they disagree, says *why* in a sentence a student
understands. The "why" comes from diagnoses: known-wrong variants of the
reference (the flipped kernel, the forgotten padding, the missing max
subtraction ...). When the student's output matches one of them, the
message names that mistake.

A failed check raises :class:`CheckFailed` (an ``AssertionError``), which
is what nbgrader counts as a failed test cell. In a notebook it shows as
the diagnosis alone, first, wrapped to :data:`WIDTH` columns, without the
traceback through lessonlib's internals (IPython asks the exception for
its lines: :meth:`CheckFailed._render_traceback_`, see :func:`render`).
Those lines are also what nbgrader's Validate dialog and feedback HTML
show: both print the error output's ``traceback``.

A mistake can also be recognised by the output shape it produces
(:class:`ShapeDiagnosis`, tried in turn by :func:`shape_hint`). The one
runner of every check, which guards the student's function and calls
:func:`run_cases`, is :func:`lessonlib.checks._runner.run`.

The NumPy functions used to compare are bound here at import time, so a
notebook that later rebinds ``np.allclose`` does not change a verdict.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import re
import sys
import textwrap
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._threads import limited
from .._validation import tolerances

__all__ = ["CheckFailed", "ForbiddenCall", "Case", "Diagnosis", "ShapeDiagnosis", "run_cases",
           "compare", "shape_hint", "passed", "crash_line", "recording_calls", "render",
           "format_mismatch", "WIDTH", "case", "randn", "skip"]

# Bound once: a student rebinding np.allclose & co. does not change verdicts.
_isclose = np.isclose
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_array_equal = np.array_equal
_ndarray = np.ndarray


#: Columns of a rendered failure. nbgrader's Validate (command line) indents
#: by 4 and clips at 87 columns; JupyterLab's output area and the feedback
#: HTML fit 80 without a horizontal scroll bar.
WIDTH = 80

_RED_BOLD, _RESET = "\x1b[1;31m", "\x1b[0m"


def render(message, name="CheckFailed", width=WIDTH, color=True):
    """The lines a student sees for a failed check: ``name: message``, wrapped.

    Parameters
    ----------
    message : str
        The diagnosis (``str(exc)``); its own newlines start new paragraphs.
    name : str, default "CheckFailed"
        Shown before the message (in bold red with ``color``).
    width : int, default WIDTH
        Most columns of a line, not counting the colour codes.
    color : bool, default True
        Wrap ``name`` in ANSI codes (rendered by JupyterLab and by nbconvert's
        ``ansi2html``; stripped by nbgrader's Validate).

    Returns
    -------
    list of str
        One string per line, none longer than ``width`` visible characters.
        This is what :meth:`CheckFailed._render_traceback_` returns and what
        the grader can put in an error output's ``traceback``.

    Examples
    --------
    >>> render("conv2d is wrong for a 3x3 kernel. You flipped the kernel.", color=False)
    ['CheckFailed: conv2d is wrong for a 3x3 kernel. You flipped the kernel.']
    >>> lines = render("word " * 40, color=False, width=30)
    >>> max(map(len, lines)) <= 30, lines[1].startswith("  ")
    (True, True)
    """
    message = str(message).strip() or "(no message)"
    lines = []
    for k, para in enumerate(message.split("\n")):
        head = f"{name}: " if k == 0 else ""
        wrapped = textwrap.wrap(head + para, width=width, subsequent_indent="  ",
                                break_on_hyphens=False) or [""]
        lines += wrapped
    if color and lines[0].startswith(f"{name}:"):
        lines[0] = f"{_RED_BOLD}{name}{_RESET}" + lines[0][len(name):]
    return lines


class CheckFailed(AssertionError):
    """A check found a difference; the message says what and the likely cause.

    In IPython (JupyterLab, nbgrader) the error shows as the message alone,
    wrapped (:func:`render`), not as a traceback through lessonlib.
    """

    def _render_traceback_(self):
        """IPython's hook: the lines shown instead of the traceback."""
        return render(str(self), type(self).__name__)


class ForbiddenCall(Exception):
    """The student's function called a function the exercise rules out.

    Raised by the grader's proxy of a function that runs in the student's
    kernel (:mod:`lessonlib.grading.verdict`); ``labels`` are the dotted
    names of the functions called.
    """

    def __init__(self, labels):
        super().__init__(", ".join(labels))
        self.labels = list(labels)


@contextlib.contextmanager
def recording_calls(targets, hits):
    """Append to ``hits`` the label of each function of ``targets`` called in the block.

    Parameters
    ----------
    targets : dict of str to callable
        Label -> function (Python or built-in; None entries are ignored).
    hits : list
        Where the labels of the calls go, in call order.
    """
    codes, builtins = {}, {}
    for label, f in targets.items():
        if f is None:
            continue
        target = inspect.unwrap(getattr(f, "_implementation", f))
        code = getattr(target, "__code__", None)
        if code is not None:
            codes[code] = label
        else:
            builtins[id(f)] = label
    if not codes and not builtins:
        yield
        return

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            hits.append(codes[frame.f_code])
        elif event == "c_call" and id(arg) in builtins:
            hits.append(builtins[id(arg)])

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def _is_notebook_frame(filename):
    return filename.startswith(("<ipython-input", "<cell")) or "/ipykernel_" in filename


def crash_line(exc):
    """`` (line N: `code`)`` of the student's own line where ``exc`` was raised, or "".

    The innermost frame of the notebook's code (not of NumPy or lessonlib);
    for a function that ran in the student's kernel while grading, the line
    the kernel reported.
    """
    where = getattr(exc, "student_line", None)
    if where is None:
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if _is_notebook_frame(f.filename or "")]
        f = (mine or frames or [None])[-1]
        where = (f.lineno, f.line) if f is not None else (None, None)
    line, code = where
    return f" (line {line}: `{code}`)" if line and code else ""


@dataclass
class Case:
    """One input to try: positional args, keyword args and a description.

    ``description`` is shown to the student when the case fails, e.g.
    ``"x of shape (1, 1, 5, 5), 3x3 kernel, stride 2, padding 1"``.
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    description: str = ""


@dataclass
class Diagnosis:
    """A known mistake: a function computing the wrong answer, and what to say.

    ``wrong(*args, **kwargs)`` returns what a buggy implementation returns
    for the same case; if the student's output equals it, ``message`` is
    the explanation shown. ``label`` names the mistake in the grader's
    class report (default: the message's first sentence); the
    :class:`CheckFailed` raised for it carries the diagnosis as ``diagnosis``.
    """

    wrong: Callable[..., Any]
    message: str
    label: str = ""

    def __post_init__(self):
        if not self.label:
            self.label = re.split(r"(?<=[.!?])\s", str(self.message).strip(), maxsplit=1)[0]


@dataclass
class ShapeDiagnosis:
    """A mistake recognised by the output shape it produces.

    ``shape(*args, **kwargs)`` returns the shape the buggy code returns for
    the case (or raises when the mistake cannot be told apart there).
    """

    shape: Callable[..., tuple]
    message: str


def _significant(x, digits):
    return f"{x:.{digits}g}"


def format_mismatch(got, expected):
    """``"got A, expected B (relative error R)"`` with enough digits to tell A from B.

    Both numbers get the same number of significant digits, starting at 6
    and adding digits until their texts differ (at most 17, which tells any
    two different floats apart).

    Examples
    --------
    >>> format_mismatch(0.3185412, 0.3185398)
    'got 0.318541, expected 0.31854 (relative error 4.4e-06)'
    >>> format_mismatch(0.31854000001, 0.31854)
    'got 0.31854000001, expected 0.31854 (relative error 3.1e-11)'
    >>> format_mismatch(2.0, 3.0)
    'got 2, expected 3 (relative error 0.33)'
    >>> format_mismatch(1e-3, 0.0)
    'got 0.001, expected 0 (absolute error 0.001)'
    """
    g, e = float(got), float(expected)
    digits = 6
    while digits < 17 and _significant(g, digits) == _significant(e, digits):
        digits += 1
    text = f"got {_significant(g, digits)}, expected {_significant(e, digits)}"
    if not (_isfinite(g) and _isfinite(e)):
        return text
    if e != 0:
        return text + f" (relative error {abs(g - e) / abs(e):.2g})"
    return text + f" (absolute error {abs(g - e):.2g})"


def _describe_value(v):
    if isinstance(v, _ndarray):
        return f"array of shape {v.shape}, dtype {v.dtype}"
    return f"{type(v).__name__} {v!r}"


def _close(a, b, rtol, atol):
    try:
        a = _asarray(a, dtype=float)
        b = _asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape:
        return False
    return bool(_isclose(a, b, rtol=rtol, atol=atol, equal_nan=False).all())


def compare(name, got, expected, case, diagnoses=(), shape_hint=None, rtol=None, atol=None):
    """Compare one output with the expected one; raise CheckFailed if they differ.

    Parameters
    ----------
    name : str
        What is compared, e.g. ``"conv2d(x, weight)"`` or ``"dx"``.
    got, expected : ndarray or scalar
        The student's and the reference's outputs.
    case : Case
        The inputs, to describe and to re-run diagnoses on.
    diagnoses : sequence of Diagnosis
        Known mistakes to recognise.
    shape_hint : callable, optional
        ``shape_hint(got_shape, expected_shape, case) -> str`` says which
        hyper-parameter a wrong shape points to.
    """
    exp = _asarray(expected)
    if rtol is None or atol is None:
        r, a = tolerances(exp.dtype if exp.dtype.kind == "f" else np.float64)
        rtol = r if rtol is None else rtol
        atol = a if atol is None else atol
    where = f" for {case.description}" if case.description else ""
    if got is None:
        raise CheckFailed(
            f"{name} returned None{where}. Did you forget the `return` statement?"
        )
    if exp.ndim > 0 and not isinstance(got, (_ndarray, list, tuple, float, int, np.number)):
        raise CheckFailed(
            f"{name} returned {_describe_value(got)}{where}; expected an array of "
            f"shape {exp.shape}."
        )
    try:
        g = _asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(
            f"{name} returned {_describe_value(got)}{where}, which is not a number "
            f"or an array of numbers."
        ) from None
    if g.shape != exp.shape:
        hint = shape_hint(g.shape, exp.shape, case) if shape_hint else ""
        raise CheckFailed(
            f"{name} has shape {g.shape}{where}, expected {exp.shape}."
            + (f" {hint}" if hint else "")
        )
    if _close(g, exp, rtol, atol):
        return
    if not _isfinite(g).all() and _isfinite(exp).all():
        n_bad = int(g.size - _isfinite(g).sum())
        msg = f"{name} contains {n_bad} nan/inf value(s){where}; the expected output is finite."
        for d in diagnoses:
            if d.message and "overflow" in d.message.lower():
                msg += " " + d.message
                break
        raise CheckFailed(msg)
    for d in diagnoses:
        try:
            wrong = d.wrong(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:  # a diagnosis that does not apply to this case
            continue
        if _close(g, wrong, rtol, atol):
            exc = CheckFailed(f"{name} is wrong{where}. {d.message}")
            exc.diagnosis = d
            raise exc
    diff = _abs(g - exp)
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    n_wrong = int((~_isclose(g, exp, rtol=rtol, atol=atol)).sum())
    at = f" at index {tuple(int(i) for i in idx)}" if idx else ""
    raise CheckFailed(
        f"{name} is wrong{where}: {n_wrong} of {exp.size} value(s) differ; the largest "
        f"difference is{at}: {format_mismatch(g[idx] if idx else g, exp[idx] if idx else exp)}."
    )


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


def _is_reference(fn):
    """True if ``fn`` is lessonlib's own implementation, not the student's."""
    mod = getattr(fn, "__module__", "") or ""
    return mod == "lessonlib" or mod.startswith("lessonlib.")


def call_student(fn, name, case):
    """Call ``fn`` on copies of the case's inputs; turn crashes into CheckFailed.

    Also fails if the function modified its input arrays in place.
    """
    args = copy.deepcopy(case.args)
    kwargs = copy.deepcopy(case.kwargs)
    where = f" for {case.description}" if case.description else ""
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` "
            f"with your code."
        ) from None
    except CheckFailed:
        raise
    except Exception as exc:  # the student's bug, reported with their line
        raise CheckFailed(
            f"{name} raised {type(exc).__name__}: {exc}{where}{crash_line(exc)}."
        ) from None
    for before, after, label in _inputs_pairs(case, args, kwargs):
        if isinstance(before, _ndarray) and not _array_equal(before, after, equal_nan=True):
            raise CheckFailed(
                f"{name} changed its input `{label}` in place{where}. Work on a copy "
                f"(e.g. x.copy() or np.pad(...)), never on the caller's array."
            )
    return out


def _inputs_pairs(case, args, kwargs):
    for i, (b, a) in enumerate(zip(case.args, args)):
        yield b, a, f"argument {i + 1}"
    for k, b in case.kwargs.items():
        yield b, kwargs[k], k


@limited    # one BLAS thread while checking (lessonlib/_threads.py)
def run_cases(name, student_fn, reference_fn, cases, diagnoses=(), shape_hint=None,
              outputs=None, rtol=None, atol=None, quiet=False):
    """Run ``student_fn`` and ``reference_fn`` on every case and compare.

    Parameters
    ----------
    name : str
        The function's name as the student wrote it, e.g. ``"conv2d"``.
    student_fn, reference_fn : callable
    cases : iterable of Case
    diagnoses : sequence of Diagnosis
        Known mistakes. For functions returning a tuple, the diagnosis's
        ``wrong`` returns the same tuple.
    shape_hint : callable, optional
        See :func:`compare`.
    outputs : sequence of str, optional
        Names of the outputs when the function returns a tuple
        (``("dx", "dweight", "dbias")``); each is compared in turn.
    quiet : bool
        If False, print one line when every case passes.

    Returns
    -------
    int
        The number of cases that passed (all of them: a failure raises).
    """
    if not callable(student_fn):
        raise CheckFailed(f"{name} must be a function, got {_describe_value(student_fn)}.")
    if _is_reference(student_fn):
        raise CheckFailed(
            f"{name} is lessonlib's reference implementation, not yours. "
            f"Write the function yourself; the reference is what it is compared with."
        )
    n = 0
    for case in cases:
        got = call_student(student_fn, name, case)
        expected = reference_fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        if outputs is None:
            compare(name, got, expected, case, diagnoses, shape_hint, rtol, atol)
        else:
            if not isinstance(got, (tuple, list)) or len(got) != len(outputs):
                raise CheckFailed(
                    f"{name} must return {len(outputs)} values ({', '.join(outputs)}), "
                    f"got {_describe_value(got)}."
                )
            for k, out_name in enumerate(outputs):
                sub = [Diagnosis(lambda *a, _d=d, _k=k, **kw: _d.wrong(*a, **kw)[_k], d.message,
                                 d.label)
                       for d in diagnoses]
                compare(f"{out_name} from {name}", got[k], expected[k], case, sub,
                        shape_hint, rtol, atol)
        n += 1
    if n == 0:
        raise CheckFailed(f"no test case was run for {name}: the check itself is broken.")
    if not quiet:
        passed(name, n)
    return n


def passed(name, n):
    """Print the one-line success message of a check."""
    print(f"\N{CHECK MARK} {name}: all {n} case(s) match the reference.")


# ----------------------------------------------------------------------------- helpers
# Building cases and diagnoses, for the checks of every assignment.

def case(*args, description="", **kwargs):
    """Shorthand for :class:`Case`."""
    return Case(args=args, kwargs=kwargs, description=description)


def randn(rng, *shape):
    """Standard normal float64 array of ``shape`` drawn from ``rng``."""
    return rng.standard_normal(shape)


def _a(*rows):
    """A float array from its rows: ``_a([1, 2], [3, 4])``."""
    return np.array(rows, dtype=float)


def skip():
    """Raise: a diagnosis that does not apply to the case at hand."""
    raise ValueError("not applicable")
