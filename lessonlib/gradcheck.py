"""Numerical gradients by central differences, to check a backward pass.

For a scalar function ``f`` and a tiny ``eps``::

    df/dx[i] ~ (f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)

with an error of order ``eps**2``. In float64 with ``eps = 1e-6`` a correct
analytic gradient agrees to about ``1e-8`` relative error or better; a
wrong one is off by ``1e-2`` or more. float32 has too few digits for this:
everything here runs in float64.

A function with an array output ``y = f(x)`` is checked through the scalar
``sum(f(x) * dout)`` for a random ``dout``: its gradient is exactly what a
backward function returns when given ``dout``.

>>> x = np.array([1.0, -2.0, 3.0])
>>> numerical_gradient(lambda x: (x ** 2).sum(), x).round(6)
array([ 2., -4.,  6.])
>>> gradcheck(lambda x: (x ** 2).sum(), x, 2 * x) < GRADCHECK_TOL
True
>>> gradcheck(lambda x: (x ** 2).sum(), x, x) < GRADCHECK_TOL   # wrong: forgot the 2
False
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import GRADCHECK_TOL, as_float_array

__all__ = ["numerical_gradient", "relative_error", "gradcheck", "GRADCHECK_TOL"]

# GRADCHECK_TOL, the largest relative error gradcheck accepts for a correct float64
# gradient, is one of the tolerances kept together in lessonlib._validation.


def _check_eps(eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise ValueError(
            f"eps must be a small positive number such as 1e-6, got {eps!r}. Too large "
            f"and the difference quotient is inaccurate; too small and rounding dominates."
        )
    return float(eps)


def _scalar(value, dout):
    """``f``'s output as a float: itself if scalar, else ``sum(value * dout)``."""
    value = np.asarray(value, dtype=np.float64)
    if dout is None:
        if value.size != 1:
            raise ValueError(
                f"f must return a scalar, got an array of shape {value.shape}. To check a "
                f"function with an array output, pass dout= (an array of that shape); "
                f"the gradient of sum(f(x) * dout) is then checked."
            )
        return float(value.reshape(()))
    if value.shape != dout.shape:
        raise ValueError(
            f"dout must have the shape of f(x), {value.shape}, got {dout.shape}."
        )
    return float(np.sum(value * dout))


def numerical_gradient(f, x, eps=1e-6, dout=None):
    """Central-difference gradient of ``f`` at ``x``, in float64.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar, or an array of the shape of ``dout``.
        It receives a float64 array that is changed in place between
        calls: it must not keep a reference to it.
    x : ndarray of any shape
        Where to differentiate; not modified (a float64 copy is used).
    eps : float, default 1e-6
        Step of the central difference.
    dout : ndarray of the shape of f(x), optional
        Weights of ``f``'s outputs: the gradient of ``sum(f(x) * dout)``
        is returned. Required when ``f`` returns an array.

    Returns
    -------
    grad : ndarray of the same shape as ``x``, float64
        ``2 * x.size`` evaluations of ``f``: use small inputs.
    """
    if not callable(f):
        raise TypeError(f"f must be a function of x, got {type(f).__name__}.")
    eps = _check_eps(eps)
    x = np.array(as_float_array(x, "x"), dtype=np.float64)  # a private copy
    if dout is not None:
        dout = np.asarray(as_float_array(dout, "dout"), dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = _scalar(f(x), dout)
        flat[i] = old - eps
        minus = _scalar(f(x), dout)
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """Largest difference between ``a`` and ``b``, relative to their largest entry.

    ``max|a - b| / max(max|a|, max|b|)``, and 0 when both are all zeros.
    Scaling by the largest entry (not entry by entry) keeps gradient
    entries that are 0 up to rounding from producing huge ratios.

    Parameters
    ----------
    a, b : ndarray of the same shape

    Returns
    -------
    float
    """
    a = np.asarray(as_float_array(a, "a"), dtype=np.float64)
    b = np.asarray(as_float_array(b, "b"), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape to be compared, got {a.shape} and "
            f"{b.shape}. A gradient has the shape of the variable it is taken for."
        )
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    diff = float(np.max(np.abs(a - b)))
    if not np.isfinite(diff):
        return float("inf")
    return diff / scale if scale > 0 else 0.0


def gradcheck(f, x, grad, eps=1e-6, dout=None):
    """Relative error between an analytic gradient and central differences.

    Parameters
    ----------
    f : callable
        As in :func:`numerical_gradient`.
    x : ndarray of any shape
        Where to check.
    grad : ndarray of the same shape as ``x``
        The analytic gradient to check (e.g. what a backward function
        returned for ``dout``).
    eps : float, default 1e-6
    dout : ndarray of the shape of f(x), optional
        As in :func:`numerical_gradient`.

    Returns
    -------
    float
        :func:`relative_error` of ``grad`` and the numerical gradient; a
        correct float64 gradient gives less than :data:`GRADCHECK_TOL`.
    """
    x = as_float_array(x, "x")
    grad = as_float_array(grad, "grad")
    if grad.shape != x.shape:
        raise ValueError(
            f"grad must have the shape of x {x.shape}, got {grad.shape}. Did you pass "
            f"the gradient of another variable?"
        )
    return relative_error(grad, numerical_gradient(f, x, eps=eps, dout=dout))
