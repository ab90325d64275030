"""Shared helpers of the checks of assignments 05-08.

The references are looked up in the :mod:`lessonlib` namespace when a
check runs (``ref("softmax")``), so this module does not care which
lessonlib module defines them.
"""

from __future__ import annotations

import sys

import numpy as np

from ._core import Case, CheckFailed, run_cases

__all__: list[str] = []


def ref(name):
    """Return lessonlib's public function ``name`` (the reference)."""
    import lessonlib  # noqa: F401  (already imported: this is a subpackage)

    return getattr(sys.modules["lessonlib"], name)


def randn(rng, *shape):
    """Standard normal float64 array of ``shape`` drawn from ``rng``."""
    return rng.standard_normal(shape)


def run_with_hints(name, student_fn, reference_fn, cases, hints=(), **kwargs):
    """:func:`run_cases`, adding advice to a failure message that contains a phrase.

    ``hints`` is a sequence of ``(phrases, advice)``: when the failure
    message contains every phrase of ``phrases`` (a str or a tuple of
    str), ``advice`` is appended (the first matching hint only). This is
    how a crash such as ``matmul: ... mismatch`` or a ``None`` output gets
    an explanation in the lesson's words.
    """
    try:
        return run_cases(name, student_fn, reference_fn, cases, **kwargs)
    except CheckFailed as exc:
        msg = str(exc)
        for phrases, advice in hints:
            phrases = (phrases,) if isinstance(phrases, str) else tuple(phrases)
            if all(p in msg for p in phrases):
                raise CheckFailed(f"{msg} {advice}") from None
        raise


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
    ties : {"first", "last", "all"}
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
                        if ties == "all":
                            mask = win == win.max()
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
