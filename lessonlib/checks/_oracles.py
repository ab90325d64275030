"""The checks' own reference computations, shared and lesson-independent.

Plain-loop versions of what lessonlib computes, with switches for known
mistakes: a check builds its diagnoses from them (the gradient routed to
every tied maximum, a window's gradient assigned instead of added ...).
Being references, they are blocked (stubbed) in a grading kernel while a
check that uses them is graded (:data:`lessonlib.grading.references.GRADED_FAMILIES`),
so this module holds nothing else.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pool_backward_loop"]


def pool_backward_loop(dout, x, kernel_size, stride=None, padding=0, mode="max",
                       accumulate=True, ties="first", divisor="window"):
    """Pooling gradient with plain loops, with switches for known mistakes.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H_out, W_out)
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding : int
        ``stride=None`` means ``stride = kernel_size``.
    mode : {"max", "avg"}
    accumulate : bool
        False writes each window's gradient with ``=`` (the overlap bug).
    ties : {"first", "last", "all", "split"}
        Which maxima of a window receive the gradient.
    divisor : {"window", "valid", "none"}
        Average pooling: divide by ``k*k``, by the number of un-padded
        pixels in the window, or not at all.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    k = int(kernel_size)
    s = k if stride is None else int(stride)
    p = int(padding)
    n_, c_, h, w = x.shape
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    real = np.pad(np.ones((h, w)), p)
    dxp = np.zeros_like(xp)
    ho, wo = dout.shape[2], dout.shape[3]
    for n in range(n_):
        for c in range(c_):
            for i in range(ho):
                for j in range(wo):
                    rows = slice(i * s, i * s + k)
                    cols = slice(j * s, j * s + k)
                    win = xp[n, c, rows, cols]
                    g = dout[n, c, i, j]
                    if mode == "max":
                        mask = np.zeros(win.shape, dtype=bool)
                        if ties in ("all", "split"):
                            mask = win == win.max()
                            if ties == "split":
                                g = g / mask.sum()
                        elif ties == "last":
                            flat = win.ravel()[::-1]
                            mask.ravel()[flat.size - 1 - int(np.argmax(flat))] = True
                        else:
                            mask.ravel()[int(np.argmax(win))] = True
                        if accumulate:
                            dxp[n, c, rows, cols][mask] += g
                        else:
                            dxp[n, c, rows, cols][mask] = g
                    else:
                        if divisor == "valid":
                            share = g / real[rows, cols].sum()
                        elif divisor == "none":
                            share = g
                        else:
                            share = g / (k * k)
                        if accumulate:
                            dxp[n, c, rows, cols] += share
                        else:
                            dxp[n, c, rows, cols] = share
    return dxp[:, :, p:p + h, p:p + w].astype(x.dtype)
