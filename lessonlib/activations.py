"""ReLU, softmax and log-softmax, with PyTorch semantics.

``softmax`` and ``log_softmax`` subtract the maximum along ``axis`` first:
``softmax(z) == softmax(z - c)`` for any constant ``c``, and after the
shift the largest exponent is ``exp(0) = 1``, so logits of ``+-1e4`` neither
overflow nor underflow to ``log(0)``.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_int, result_dtype

__all__ = ["relu", "relu_backward", "softmax", "log_softmax"]


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` element-wise.

    Parameters
    ----------
    x : ndarray of shape (N, ...)
        Input of any shape, e.g. (N, C, H, W); nan stays nan, as in PyTorch.

    Returns
    -------
    out : ndarray of shape (N, ...)
        The shape and dtype of ``x``.

    Examples
    --------
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0)


def relu_backward(dout, x):
    """Gradient of :func:`relu`: ``dout`` where ``x > 0``, else 0.

    At ``x == 0`` the gradient is 0, as in PyTorch (ReLU has no derivative
    there; frameworks pick the subgradient 0).

    Parameters
    ----------
    dout : ndarray of shape (N, ...)
        Gradient of the loss with respect to ``relu(x)``, the shape of ``x``.
    x : ndarray of shape (N, ...)
        The forward input.

    Returns
    -------
    dx : ndarray of shape (N, ...)
        The shape of ``x``.
    """
    dout = as_float_array(dout, "dout")
    x = as_float_array(x, "x")
    if dout.shape != x.shape:
        raise ValueError(
            f"dout must have the shape of x {x.shape}, got {dout.shape}. ReLU acts "
            f"element-wise, so its gradient has the shape of its input."
        )
    dtype = result_dtype(dout, x)
    if np.isfinite(dout).all():  # a product is several times faster than np.where
        return np.multiply(dout, x > 0, dtype=dtype)
    return np.where(x > 0, dout, 0).astype(dtype, copy=False)  # inf * 0 would be nan


def _check_axis(axis, ndim):
    axis = check_int(axis, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"axis must be in [{-ndim}, {ndim - 1}] for a {ndim}-D array, got {axis}. "
            f"For logits of shape (N, C) the classes are axis 1 (or -1)."
        )
    return axis


def _shifted(z, axis):
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError(
            "z must have at least one axis, got a scalar. Softmax normalises over "
            "an axis: pass an array such as z[None]."
        )
    axis = _check_axis(axis, z.ndim)
    return z - z.max(axis=axis, keepdims=True), axis


def softmax(z, axis=-1):
    """Softmax along ``axis``: ``exp(z) / sum(exp(z))``, computed stably.

    Parameters
    ----------
    z : ndarray of shape (..., C, ...)
        Scores (logits); ``axis`` indexes the classes.
    axis : int, default -1
        The axis that sums to 1.

    Returns
    -------
    p : ndarray of the same shape and dtype as ``z``
        Non-negative, summing to 1 along ``axis``.

    Examples
    --------
    >>> softmax(np.array([1e4, 1e4]))
    array([0.5, 0.5])
    """
    shifted, axis = _shifted(z, axis)
    e = np.exp(shifted)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(z, axis=-1):
    """Logarithm of :func:`softmax`, computed without forming ``softmax``.

    ``log_softmax(z) = (z - m) - log(sum(exp(z - m)))`` with ``m = max(z)``:
    finite even where ``softmax`` underflows to 0.

    Parameters
    ----------
    z : ndarray of shape (..., C, ...)
        Scores (logits); ``axis`` indexes the classes.
    axis : int, default -1

    Returns
    -------
    out : ndarray of the same shape and dtype as ``z``

    Examples
    --------
    >>> log_softmax(np.array([0.0, -1e4]))
    array([     0., -10000.])
    """
    shifted, axis = _shifted(z, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
