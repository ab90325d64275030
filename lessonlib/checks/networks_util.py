"""Shared helpers of the checks of assignments 05-08.

The references are looked up in the :mod:`lessonlib` namespace when a
check runs (``ref("softmax")``), so this module does not care which
lessonlib module defines them.
"""

from __future__ import annotations

import sys

import numpy as np

from ._core import Case

__all__: list[str] = []


def ref(name):
    """Return lessonlib's public function ``name`` (the reference)."""
    import lessonlib  # noqa: F401  (already imported: this is a subpackage)

    return getattr(sys.modules["lessonlib"], name)


def randn(rng, *shape):
    """Standard normal float64 array of ``shape`` drawn from ``rng``."""
    return rng.standard_normal(shape)


def run_with_hints(name, student_fn, reference_fn, cases, hints=(), forbidden=(),
                   **kwargs):
    """:func:`~lessonlib.checks.basics_common.run`, the runner of every check.

    ``hints`` is a sequence of ``(phrases, advice)``: when the failure
    message contains every phrase of ``phrases`` (a str or a tuple of
    str), ``advice`` is appended (the first matching hint only). This is
    how a crash such as ``matmul: ... mismatch`` or a ``None`` output gets
    an explanation in the lesson's words. ``forbidden`` are the functions
    the student's one may not call (lessonlib's reference among them).
    """
    from .basics_common import run

    return run(name, student_fn, reference_fn, cases, hints=hints, forbidden=forbidden,
               **kwargs)


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


def case(*args, description="", **kwargs):
    """Shorthand for :class:`Case`."""
    return Case(args=args, kwargs=kwargs, description=description)
