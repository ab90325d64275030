"""Pooling with plain loops: the version a student writes first.

One output pixel at a time: cut its window out of the padded input and
take the max (or mean). Slow, but every line maps to the definition, which
makes these functions the oracle the fast path of :mod:`lessonlib.pooling`
is tested against (same arguments, same validation, same results).
"""

from __future__ import annotations

import numpy as np

from ._validation import result_dtype
from .pooling import check_dout, pool_setup

__all__ = [
    "max_pool2d_loops",
    "avg_pool2d_loops",
    "max_pool2d_backward_loops",
    "avg_pool2d_backward_loops",
]


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
    x, (kh, kw), (sh, sw), p, (ho, wo) = pool_setup(x, kernel_size, stride, padding)
    dout = check_dout(dout, x, (ho, wo))
    xp = _padded(x, p, -np.inf)
    dxp = np.zeros(xp.shape, dtype=result_dtype(dout, x))
    n_batch, n_chan = x.shape[:2]
    for n in range(n_batch):
        for c in range(n_chan):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    dxp[n, c, i * sh + r, j * sw + q] += dout[n, c, i, j]
    h, w = x.shape[2:]
    return dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w].copy()


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
    x, (kh, kw), (sh, sw), p, (ho, wo) = pool_setup(x, kernel_size, stride, padding)
    dout = check_dout(dout, x, (ho, wo))
    n_batch, n_chan, h, w = x.shape
    dxp = np.zeros((n_batch, n_chan, h + 2 * p[0], w + 2 * p[1]),
                   dtype=result_dtype(dout, x))
    for n in range(n_batch):
        for c in range(n_chan):
            for i in range(ho):
                for j in range(wo):
                    share = dout[n, c, i, j] / (kh * kw)
                    dxp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += share
    return dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w].copy()
