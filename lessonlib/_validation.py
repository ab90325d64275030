"""Input checks shared by every module, and the project's tolerances.

Every public function validates its input with these helpers, so that a
wrong call fails with one kind of message everywhere: the parameter's
name, what was expected, what was got, and a hint.

    >>> as_pair(3, "stride")
    (3, 3)
    >>> as_pair(0, "stride")
    Traceback (most recent call last):
    ...
    ValueError: stride must be a positive integer or a pair of them, got 0. ...
"""

from __future__ import annotations

import numbers

import numpy as np

__all__: list[str] = []

#: Tolerances used wherever lessonlib compares two arrays (tests, checks):
#: one place, one value per dtype.
RTOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-4}
ATOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-5}


def tolerances(dtype):
    """Return ``(rtol, atol)`` for comparing arrays of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype not in RTOL:
        dtype = np.dtype(np.float64)
    return RTOL[dtype], ATOL[dtype]


def as_float_array(x, name, ndim=None, hint=""):
    """Return ``x`` as a floating-point ndarray, checking its ``ndim``.

    float32 and float64 arrays are returned as they are (no copy, no
    upcast); integers and booleans become float64. Complex numbers,
    strings and objects are refused with a ``TypeError``.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The parameter's name, used in the error message.
    ndim : int or tuple of int, optional
        Accepted number of dimensions.
    hint : str, optional
        Extra advice appended to a shape error, e.g. the expected layout.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:  # ragged nested lists
            raise TypeError(
                f"{name} must be an array of numbers, got {type(x).__name__} "
                f"that NumPy cannot turn into one ({exc})."
            ) from None
    if arr.dtype.kind == "c":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}. "
            f"Take the real part or the magnitude first (np.real / np.abs)."
        )
    if arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    elif arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    else:
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}. "
            f"Convert it with np.asarray({name}, dtype=float)."
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(
                f"{name} must be a {want} array, got a {arr.ndim}-D array of "
                f"shape {arr.shape}.{(' ' + hint) if hint else ''}"
            )
    return arr


def result_dtype(*arrays):
    """float32 if every array is float32, else float64."""
    if all(a.dtype == np.float32 for a in arrays if a is not None):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_int(value, name, minimum=None):
    """Return ``value`` as a Python int, refusing bools, floats and too-small values."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
            + (" Use int(...) or // for integer division." if isinstance(value, float) else "")
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(
            f"{name} must be >= {minimum}, got {value}."
            + (" A kernel or stride of 0 (or less) has no meaning." if minimum == 1 else "")
        )
    return value


def as_pair(value, name, minimum=1):
    """Return ``(a, b)`` from an int or a pair of ints, each ``>= minimum``.

    ``as_pair(2, "stride") == (2, 2)``; ``as_pair((3, 1), "kernel_size") == (3, 1)``.
    """
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        items = tuple(value)
    elif isinstance(value, (tuple, list)):
        raise ValueError(
            f"{name} must be {kind} or a pair of them (height, width), "
            f"got a sequence of length {len(value)}: {value!r}."
        )
    else:
        items = (value, value)
    out = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
            raise TypeError(
                f"{name} must be {kind} or a pair of them, got {value!r}. "
                f"Sizes are whole numbers of pixels."
            )
        if int(item) < minimum:
            raise ValueError(
                f"{name} must be {kind} or a pair of them, got {value!r}. "
                + ("A stride, kernel or dilation below 1 has no meaning."
                   if minimum == 1 else "Padding cannot be negative.")
            )
        out.append(int(item))
    return out[0], out[1]
