"""Pooling with plain loops: the version a student writes first.

One output pixel at a time: cut its window out of the padded input and
take the max (or mean). Slow, but every line maps to the definition, which
makes these functions the oracle the fast path of :mod:`lessonlib.pooling`
is tested against (same arguments, same validation, same results).

On purpose, the arithmetic is independent of the fast path (no
channels-last copies, no strided views): only the argument checks
(:func:`lessonlib.pooling.pool_setup`, :func:`lessonlib._validation.check_dout`)
are shared. :func:`pool2d_backward_loops` is the one backward loop of the
project: the two ``*_backward_loops`` call it, and the checks of lesson 06
build their diagnoses from its switches for known mistakes (the gradient
assigned instead of added, routed to every tied maximum ...).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_dout, result_dtype
from ..pooling import pool_setup

__all__ = [
    "max_pool2d_loops",
    "avg_pool2d_loops",
    "max_pool2d_backward_loops",
    "avg_pool2d_backward_loops",
    "pool2d_backward_loops",
]

_SAME = "x, kernel_size, stride and padding"


def _padded(x, p, value):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), value, dtype=x.dtype)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    return xp


def max_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """:func:`lessonlib.max_pool2d` with one loop per axis.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding
        As in :func:`lessonlib.max_pool2d`.

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo)
    """
    x, (kh, kw), (sh, sw), p, (ho, wo) = pool_setup(x, kernel_size, stride, padding)
    xp = _padded(x, p, -np.inf)
    n_batch, n_chan = x.shape[:2]
    out = np.zeros((n_batch, n_chan, ho, wo), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(n_chan):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, c, i, j] = window.max()
    return out


def avg_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """:func:`lessonlib.avg_pool2d` with one loop per axis (zero padding counts).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding
        As in :func:`lessonlib.avg_pool2d`.

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo)
    """
    x, (kh, kw), (sh, sw), p, (ho, wo) = pool_setup(x, kernel_size, stride, padding)
    xp = _padded(x, p, 0.0)
    n_batch, n_chan = x.shape[:2]
    out = np.zeros((n_batch, n_chan, ho, wo), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(n_chan):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, c, i, j] = window.sum() / (kh * kw)
    return out


def max_pool2d_backward_loops(dout, x, kernel_size, stride=None, padding=0):
    """:func:`lessonlib.max_pool2d_backward` with loops.

    ``np.argmax`` of a window returns the first maximum in row-major order,
    which is where PyTorch sends the gradient on ties.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding
        As in the forward call.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    x, _, _, _, out_hw = pool_setup(x, kernel_size, stride, padding)
    check_dout(dout, x.shape[:2] + out_hw, "max_pool2d", _SAME)
    return pool2d_backward_loops(dout, x, kernel_size, stride, padding, mode="max")


def avg_pool2d_backward_loops(dout, x, kernel_size, stride=None, padding=0):
    """:func:`lessonlib.avg_pool2d_backward` with loops.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding
        As in the forward call.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    x, _, _, _, out_hw = pool_setup(x, kernel_size, stride, padding)
    check_dout(dout, x.shape[:2] + out_hw, "avg_pool2d", _SAME)
    return pool2d_backward_loops(dout, x, kernel_size, stride, padding, mode="avg")


def pool2d_backward_loops(dout, x, kernel_size, stride=None, padding=0, mode="max",
                          accumulate=True, ties="first", divisor="window"):
    """Pooling gradient with plain loops, with switches for known mistakes.

    The defaults compute :func:`lessonlib.max_pool2d_backward` (``mode="max"``)
    or :func:`lessonlib.avg_pool2d_backward` (``mode="avg"``). The loops run
    over ``dout``'s own shape, which is not checked against the forward
    output: a diagnosis may pass a ``dout`` of another stride on purpose.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H_out, W_out)
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding : int or pair of int
        ``stride=None`` means ``stride = kernel_size``.
    mode : {"max", "avg"}
    accumulate : bool, default True
        False writes each window's gradient with ``=`` (the overlap bug).
    ties : {"first", "last", "all", "split"}, default "first"
        Which maxima of a window receive the gradient (PyTorch: the first).
    divisor : {"window", "valid", "none"}, default "window"
        Average pooling: divide by ``kH*kW`` (PyTorch), by the number of
        un-padded pixels in the window, or not at all.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    x, (kh, kw), (sh, sw), p, _ = pool_setup(x, kernel_size, stride, padding)
    dout = np.asarray(dout)
    xp = _padded(x, p, -np.inf if mode == "max" else 0.0)
    real = _padded(np.ones((1, 1) + x.shape[2:]), p, 0.0)[0, 0]
    dxp = np.zeros(xp.shape, dtype=result_dtype(dout, x))
    n_batch, n_chan, h, w = x.shape
    for n in range(n_batch):
        for c in range(n_chan):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    g = dout[n, c, i, j]
                    if mode == "max":
                        window = xp[n, c, rows, cols]
                        mask = np.zeros(window.shape, dtype=bool)
                        if ties in ("all", "split"):
                            mask = window == window.max()
                            g = g / mask.sum() if ties == "split" else g
                        elif ties == "last":
                            flat = window.ravel()[::-1]
                            mask.ravel()[flat.size - 1 - int(np.argmax(flat))] = True
                        else:
                            mask.ravel()[int(np.argmax(window))] = True
                    else:
                        mask = np.ones((rows.stop - rows.start, cols.stop - cols.start), bool)
                        if divisor == "valid":
                            g = g / real[rows, cols].sum()
                        elif divisor == "window":
                            g = g / (kh * kw)
                    if accumulate:
                        dxp[n, c, rows, cols][mask] += g
                    else:
                        dxp[n, c, rows, cols][mask] = g
    return dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w].copy()
