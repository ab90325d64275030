"""Every argument rule of lessonlib, written once, and the project's tolerances.

Every public function validates its input with these helpers, so that a
wrong call fails with one kind of message everywhere: the parameter's
name, what was expected, what was got, and a hint. One rule, one function:
arrays and dtypes (:func:`as_float_array`, :func:`result_dtype`,
:func:`float_dtype`), integers and pairs (:func:`check_int`,
:func:`as_pair`), padding (:func:`padding_sides`), the shape of a backward
pass's ``dout`` (:func:`check_dout`), random generators
(:func:`as_generator`) and the tolerances of every comparison
(:func:`tolerances`).

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


#: A gradient check passes when the relative error of the analytic gradient against
#: the central-difference one is below this (float64; :func:`lessonlib.gradcheck`).
GRADCHECK_TOL = 1e-6

#: A central-difference gradient (``eps=1e-6``, float64) against the exact one: its
#: truncation and rounding errors are about 1e-9, so these leave room but catch a
#: one-sided difference (error ~ eps).
NUMERICAL_GRADIENT_TOL = {"rtol": 1e-7, "atol": 1e-8}


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


def float_dtype(dtype):
    """``dtype`` as ``np.dtype``, refusing anything but float32 and float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}. "
                        f"Training in float32 is faster; gradient checks need float64.")
    return dt


def as_generator(rng):
    """``None`` (fresh entropy), an int seed or a Generator -> ``np.random.Generator``."""
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"rng must be None, an integer seed or a np.random.Generator, got "
        f"{type(rng).__name__}. Use rng=0 for reproducible weights."
    )


_CONV_MODES = ("valid", "same", "full")


def padding_sides(padding, name="padding", axes=2, kernel_hw=None, stride=(1, 1),
                  dilation=(1, 1)):
    """The padding rule: a padding argument -> the pixels added on each side.

    Every function that takes a padding reads it here (output sizes, ``pad2d``,
    convolutions and their layers, the loop versions, the checks).

    Parameters
    ----------
    padding : int, tuple of int or str
        ``p`` pads every side by ``p``. With ``axes=1``, ``(before, after)``.
        With ``axes=2``, ``(ph, pw)`` pads top and bottom by ``ph``, left and
        right by ``pw``; ``(top, bottom, left, right)`` pads each side on its
        own (``pad2d``), except for a convolution (``kernel_hw`` given), which
        takes PyTorch's forms: ``"valid"``, ``"same"`` (a total of
        ``dilation*(k-1)`` per axis, the extra pixel of an even kernel after,
        stride 1 only) and ``"full"`` (``dilation*(k-1)`` on every side).
    name : str, default "padding"
        The parameter's name, for the messages.
    axes : {1, 2}, default 2
        One axis (``conv_output_size``) or height and width.
    kernel_hw, stride, dilation : pair of int, optional
        Given for a convolution's padding: what the strings depend on.

    Returns
    -------
    tuple of int
        ``(before, after)`` for ``axes=1``, else ``(top, bottom, left, right)``.

    Examples
    --------
    >>> padding_sides((1, 2))
    (1, 1, 2, 2)
    >>> padding_sides("same", kernel_hw=(4, 3))
    (1, 2, 1, 1)
    >>> padding_sides(3, axes=1)
    (3, 3)
    """
    conv = kernel_hw is not None
    if axes == 1:
        forms = "an integer >= 0 or a pair (before, after)"
    elif conv:
        forms = "an integer >= 0, a pair (ph, pw) or one of 'valid', 'same', 'full'"
    else:
        forms = "an integer >= 0, a pair (ph, pw) or a 4-tuple (top, bottom, left, right)"
    if isinstance(padding, str) and conv:
        spans = [d * (k - 1) for k, d in zip(kernel_hw, dilation)]
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "full":
            return spans[0], spans[0], spans[1], spans[1]
        if padding == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(
                    f"{name}='same' needs stride=1 (as in PyTorch), got stride={stride}. "
                    f"For a strided layer give the padding as a number, e.g. "
                    f"{name}={kernel_hw[0] // 2} for a {kernel_hw[0]}x{kernel_hw[1]} kernel."
                )
            return (spans[0] // 2, spans[0] - spans[0] // 2,
                    spans[1] // 2, spans[1] - spans[1] // 2)
        raise ValueError(f"{name} must be {forms}, got {padding!r}.")
    if isinstance(padding, (tuple, list)):
        if conv and len(padding) == 4:
            raise ValueError(
                f"{name} must be {forms} (as in PyTorch), got the 4-tuple {tuple(padding)!r}. "
                f"For a different padding on each side, call pad2d(x, (top, bottom, left, "
                f"right)) first."
            )
        if len(padding) == 2:
            items = tuple(padding) if axes == 1 else (padding[0], padding[0],
                                                       padding[1], padding[1])
        elif len(padding) == 4 and axes == 2:
            items = tuple(padding)
        else:
            raise ValueError(
                f"{name} must be {forms}, got a sequence of length {len(padding)}: {padding!r}."
            )
    else:
        items = (padding,) * (2 * axes)
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
            raise TypeError(
                f"{name} must be {forms}, got {padding!r} of type {type(padding).__name__}. "
                f"Padding is a whole number of pixels."
            )
        if item < 0:
            raise ValueError(
                f"{name} must be >= 0 on every side, got {padding!r}. Padding cannot be "
                f"negative: to remove pixels, slice the array instead."
            )
    return tuple(int(i) for i in items)


def check_dout(dout, expected, func, same="x and hyper-parameters"):
    """Return ``dout`` as a float array after checking it has the forward output's shape.

    Parameters
    ----------
    dout : array_like
        The upstream gradient given to a backward function.
    expected : tuple of int
        The shape of the forward output for the same arguments.
    func : str
        The forward function's name, e.g. ``"conv2d"``.
    same : str
        What the caller must pass again, for the hint.
    """
    expected = tuple(expected)
    dout = as_float_array(dout, "dout", ndim=len(expected),
                          hint=f"dout has the shape of {func}'s output.")
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the shape of {func}'s output for these arguments, "
            f"{expected}, got {dout.shape}. Pass the same {same} as to the forward call."
        )
    return dout

