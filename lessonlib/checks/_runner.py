"""The one runner every check of the course runs through (assignments 01-08).

* :func:`run`: the one runner. It guards the student's function, compares
  it with the reference on every case (:func:`~lessonlib.checks._core.run_cases`),
  explains a wrong shape (:class:`~lessonlib.checks._core.ShapeDiagnosis`
  or a ``shape_hint``), a crash (``hints``), and an output with nan/inf
  that a known mistake produces exactly; :func:`run_with_hints` is the
  same with ``hints`` as its fifth argument, and :func:`ref` looks up the
  reference by name when the check runs;
* :func:`guard`: the one way the student's function is called. It refuses
  calls to lessonlib's reference and to what computes the graded thing
  (the same policy in every notebook: lessonlib's function, its loop
  versions, its layer, SciPy's and PyTorch's equivalents). Forbidden
  items are functions, dotted names resolved when the student's code runs
  (so the list does not depend on what was imported before the check),
  or :class:`When` rules (``conv2d`` with ``groups > 1`` only). For a
  function running in the student's kernel the labels go to the kernel
  (``forbidding``); explains crashes caused by float sizes; ``post``
  inspects each result;
* known mistakes shared by several checks: :func:`truncated` (an int
  output buffer), :func:`loop_diagnoses` (loops that stop early or use
  each other's bounds), :func:`broadcast_advice`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import numbers
import sys

import numpy as np

from .. import conv as _conv
from ._core import (CheckFailed, Diagnosis, ForbiddenCall, crash_line, recording_calls, run_cases,
                    shape_hint)

__all__: list[str] = []


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


class When:
    """A forbidden call only when ``test(arguments)`` is true (``conv2d`` with ``groups > 1``).

    ``arguments`` is the dict of the call's arguments by parameter name
    (``{"x": ..., "groups": 2, ...}``), the only thing read from the call.

    Checked in this process only (a proxy of the student's kernel is guarded
    there by the grading overlay, which provides the permitted part).
    """

    def __init__(self, function, test, label=None):
        self.function, self.test, self.label = function, test, label

    def __call__(self, *args, **kwargs):  # pragma: no cover - never called
        raise TypeError("a forbidden-call rule, not a function")


def _resolve(item):
    """A forbidden item (function, dotted name or :class:`When`) -> function or None."""
    if isinstance(item, str):
        mod, _, attr = item.rpartition(".")
        obj = sys.modules.get(mod)
        if obj is None and mod.partition(".")[0] in sys.modules:
            try:   # the package is loaded, the submodule not yet: importing it is cheap
                obj = importlib.import_module(mod)
            except Exception:  # not importable here: nothing to forbid
                obj = None
        if obj is None:
            parent, _, sub = mod.rpartition(".")
            holder = sys.modules.get(parent)
            obj = getattr(holder, sub, None) if holder is not None else None
        return getattr(obj, attr, None) if obj is not None else None
    return item


def _item_label(item):
    if isinstance(item, str):
        return item
    if isinstance(item, When):
        return item.label or _label(item.function)
    return _label(item)


def _call_arguments(frame):
    """The arguments of the call that ``frame`` starts, by parameter name (nothing else).

    At a profile hook's ``"call"`` event only the parameters are bound; reading
    exactly those (not whatever else the frame holds) is what a :class:`When`
    rule is given.
    """
    code = frame.f_code
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    values = frame.f_locals
    return {name: values[name] for name in code.co_varnames[:n] if name in values}


@contextlib.contextmanager
def _recording_when(rules, hits):
    """Record calls matching :class:`When` rules, on top of any profile hook in place."""
    codes = {}
    for rule in rules:
        target = inspect.unwrap(getattr(rule.function, "_implementation", rule.function))
        code = getattr(target, "__code__", None)
        if code is not None:
            codes[code] = rule
    if not codes:
        yield
        return
    inner = sys.getprofile()

    def hook(frame, event, arg):
        if inner is not None:
            inner(frame, event, arg)
        if event == "call" and frame.f_code in codes:
            rule = codes[frame.f_code]
            try:
                hit = rule.test(_call_arguments(frame))
            except Exception:  # a rule that cannot tell: not a hit
                hit = False
            if hit:
                hits.append(_item_label(rule))

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(inner)


def guard(student_fn, name, forbidden=(), post=None):
    """Wrap ``student_fn``: refuse calls to ``forbidden`` and explain float sizes.

    While the student's function runs, a profile hook records every call;
    calling one of ``forbidden`` (lessonlib's reference, ``np.convolve`` ...)
    fails the check, whatever name the student imported it under. Items are
    functions, dotted names (``"torch.nn.functional.conv2d"``, resolved at
    each call, so a module imported later counts too, and nothing is
    imported for it) or :class:`When` rules. A crash caused by a float used
    as a size gets a hint about ``//``. ``post(out)`` may inspect the result
    (and raise :class:`CheckFailed`).
    """
    if not callable(student_fn):
        return student_fn  # run_cases reports it
    forbidden = list(forbidden)
    rules = [f for f in forbidden if isinstance(f, When)]
    plain = [f for f in forbidden if not isinstance(f, When)]
    if hasattr(student_fn, "forbidding"):   # runs in the student's kernel: it watches there
        student_fn = student_fn.forbidding([_item_label(f) for f in plain])
        rules = []

    @functools.wraps(student_fn)
    def guarded(*args, **kwargs):
        hits = []
        targets = {}
        for f in plain:
            fn = _resolve(f)
            if fn is not None:
                label = f if isinstance(f, str) else next(iter(_forbidden_labels([fn])))
                targets[label] = fn
        try:
            with recording_calls(targets, hits), _recording_when(rules, hits):
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
                f"for (or most of it). Write the computation yourself (loops and NumPy "
                f"basics are fine); lessonlib's version is what your function is compared "
                f"with."
            )
        if post is not None:
            post(out)
        return out

    return guarded


def torch_functions(*names):
    """``torch.nn.functional`` functions, by name: resolved when the student's code runs."""
    return [f"torch.nn.functional.{n}" for n in names] + [f"torch.{n}" for n in names]


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


def _where(case):
    return f" for {case.description}" if case.description else ""


def _rediagnose(name, exc, case, got, diagnoses):
    """A better message for a nan/inf output that one diagnosis produces exactly."""
    g = np.asarray(got, dtype=float)
    for d in diagnoses:
        try:
            with np.errstate(all="ignore"):
                wrong = np.asarray(d.wrong(*copy.deepcopy(case.args),
                                           **copy.deepcopy(case.kwargs)), dtype=float)
        except Exception:  # the diagnosis does not apply here
            continue
        if wrong.shape == g.shape and np.allclose(g, wrong, equal_nan=True) \
                and not np.isfinite(wrong).all():
            return CheckFailed(f"{name} is wrong{_where(case)}: it contains nan/inf. "
                               f"{d.message}")
    return exc


def int_dtype_message(name):
    return (f"{name} returns integers where the result has fractions: the output array "
            f"took the input's int dtype (np.zeros_like(x) of an int array, or .astype(int)), "
            f"so every value was truncated. Create it as floats, e.g. np.zeros(shape) or "
            f"np.zeros_like(x, dtype=float).")


def run(name, student_fn, reference, cases, diagnoses=(), shapes=(), forbidden=(),
        post=None, hints=(), shape_hint=None, outputs=None, rtol=None, atol=None,
        quiet=False):
    """The one runner of every check: guard, compare, diagnose, explain crashes.

    ``student_fn`` is guarded (:func:`guard`: ``forbidden`` calls refused,
    ``post`` run on each result) and compared with ``reference`` on
    ``cases`` by :func:`~lessonlib.checks._core.run_cases` with the value
    ``diagnoses``; a wrong shape is explained by the shape diagnoses
    ``shapes`` or by ``shape_hint``. ``hints`` is a sequence of
    ``(phrases, advice)``: when a failure message contains every phrase
    (a str or a tuple of str), ``advice`` is appended (the first matching
    hint only); ``advice`` may be a function ``advice(message, case)``
    returning a str or "" (no advice). An output with nan or inf that a
    diagnosis produces exactly is named by that diagnosis.

    Returns None: a grade cell's last line shows nothing when the check passes
    (only its printed one-line summary).
    """
    cases = list(cases)
    guarded = guard(student_fn, name, forbidden, post)
    seen = {}

    if callable(guarded):
        inner = guarded

        @functools.wraps(inner)
        def guarded(*args, **kwargs):
            seen["index"] = seen.get("index", -1) + 1
            seen.pop("out", None)
            out = inner(*args, **kwargs)
            seen["out"] = out
            return out

    if shape_hint is None and shapes:
        shape_hint = globals()["shape_hint"](shapes)
    try:
        run_cases(name, guarded, reference, cases, diagnoses, shape_hint, outputs=outputs,
                  rtol=rtol, atol=atol, quiet=quiet)
    except CheckFailed as exc:
        msg = str(exc)
        i = seen.get("index")
        case = cases[i] if i is not None and i < len(cases) else None
        if case is not None and "nan/inf" in msg and outputs is None and "out" in seen:
            msg = str(_rediagnose(name, exc, case, seen["out"], diagnoses))
        if "took the input's int dtype" in msg and "out" in seen:
            kind = np.asarray(seen["out"]).dtype.kind if seen["out"] is not None else "O"
            if kind == "f":   # a float output that only happens to look truncated
                msg = msg.replace(int_dtype_message(name), "The values differ from the "
                                  "expected ones; compare your output with the expected one "
                                  "on this small case by hand.")
        for phrases, advice in list(hints) + [("Cannot cast ufunc", int_dtype_message(name))]:
            phrases = (phrases,) if isinstance(phrases, str) else tuple(phrases)
            if all(p in msg for p in phrases):
                extra = advice(msg, case) if callable(advice) else advice
                if extra:
                    raise CheckFailed(f"{msg} {extra}") from None
        if msg != str(exc):
            raise CheckFailed(msg) from None
        raise


def run_with_hints(name, student_fn, reference_fn, cases, hints=(), forbidden=(),
                   **kwargs):
    """:func:`run` with ``hints`` as its fifth argument, for the checks of 05-08.

    ``hints`` is a sequence of ``(phrases, advice)``: when the failure
    message contains every phrase of ``phrases`` (a str or a tuple of
    str), ``advice`` is appended (the first matching hint only). This is
    how a crash such as ``matmul: ... mismatch`` or a ``None`` output gets
    an explanation in the lesson's words. ``forbidden`` are the functions
    the student's one may not call (lessonlib's reference among them).
    """
    return run(name, student_fn, reference_fn, cases, hints=hints, forbidden=forbidden,
               **kwargs)


def ref(name):
    """Return lessonlib's public function ``name`` (the reference)."""
    import lessonlib  # noqa: F401  (already imported: this is a subpackage)

    return getattr(sys.modules["lessonlib"], name)


def scipy_functions():
    """SciPy's correlations and convolutions, by name: resolved when the student's code runs."""
    return [f"scipy.signal.{n}" for n in ("correlate2d", "convolve2d", "correlate", "convolve",
                                          "fftconvolve", "oaconvolve")] + \
        [f"scipy.ndimage.{n}" for n in ("correlate", "convolve", "correlate1d", "convolve1d")]


def conv_fn(name):
    """Return lessonlib.conv.<name>."""
    return getattr(_conv, name)


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


# ----------------------------------------------------------------------------- diagnoses
# Known-wrong variants shared by several checks, built from the reference.

def truncated(reference, name):
    """The result of an output buffer that inherited an int input's dtype."""
    def wrong(*args, **kwargs):
        out = np.asarray(reference(*args, **kwargs), dtype=float)
        t = np.trunc(out)
        if np.array_equal(t, out):
            raise ValueError("not applicable")
        return t
    return Diagnosis(wrong, int_dtype_message(name))


def _edit(reference, edit):
    def wrong(*args, **kwargs):
        out = np.array(reference(*args, **kwargs), dtype=float)
        if out.ndim < 2:
            raise ValueError("not applicable")
        if not edit(out):
            raise ValueError("not applicable")
        return out
    return wrong


def _zero_last_row(out):
    if out.shape[-2] < 2:
        return False
    out[..., -1, :] = 0
    return True


def _zero_last_col(out):
    if out.shape[-1] < 2:
        return False
    out[..., :, -1] = 0
    return True


def _swapped_bounds(out):
    ho, wo = out.shape[-2:]
    if ho == wo:
        return False
    m = min(ho, wo)
    out[..., m:, :] = 0
    out[..., :, m:] = 0
    return True


def loop_diagnoses(reference):
    """The output's loops stop early: the last row, the last column, swapped bounds."""
    return [
        Diagnosis(_edit(reference, _swapped_bounds),
                  "The last rows or columns of the output are 0: the loops over the output's "
                  "height and width use each other's size. Rows go to H_out (from the "
                  "height, axis -2), columns to W_out (from the width, axis -1); inputs wider "
                  "than tall tell them apart."),
        Diagnosis(_edit(reference, _zero_last_row),
                  "The last row of the output is 0: the row loop stops one step early "
                  "(loop over range(H_out), all the output rows)."),
        Diagnosis(_edit(reference, _zero_last_col),
                  "The last column of the output is 0: the column loop stops one step early "
                  "(loop over range(W_out), all the output columns)."),
    ]


def broadcast_advice(what):
    """Advice for a crash 'could not be broadcast' inside a sliding window."""
    def advice(msg, case):
        return (f"A window and the {what} have different shapes: is the {what} assumed "
                f"square (use kH, kW = its last two sizes), or are the output's height and "
                f"width swapped (H_out from the height, W_out from the width)?")
    return advice
