"""Max and average pooling, forward and backward (PyTorch semantics, NCHW).

A pooling window of ``kernel_size`` slides over each channel with steps of
``stride`` (default: the kernel size, so windows do not overlap) and keeps
the largest value (max pooling) or the mean (average pooling). The output
size is :func:`lessonlib.arithmetic.conv_output_size` with dilation 1.

Padding follows ``torch.nn.functional``: max pooling pads with ``-inf`` (a
pad never wins), average pooling pads with zeros that *count* in the mean
(``count_include_pad=True``), and padding may be at most half the kernel.

The fast path below loops over the ``kH * kW`` kernel offsets, never over
pixels: offset ``(i, j)`` of every window at once is one strided slice of
the padded input. The input is first copied to channels-last layout
``(H, W, N*C)`` so that each slice is made of long contiguous rows (a small
NCHW feature map has rows of only a few pixels, which NumPy handles
slowly). Backward scatters with strided adds over the same slices, so
overlapping windows accumulate. The pixel loops a student writes live in
:mod:`lessonlib.loops.pooling`; the tests prove both agree.
"""

from __future__ import annotations

import functools

import numpy as np

from .arithmetic import conv_output_size
from ._validation import as_float_array, as_pair, check_dout, result_dtype

# Pure function of small ints, called on every forward and backward pass.
_output_size = functools.lru_cache(maxsize=1024)(conv_output_size)

__all__ = ["max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward"]

_SAME = "x, kernel_size, stride and padding"
_X_HINT = "Pooling expects a batch (N, C, H, W); for one 2-D image use x[None, None]."


def check_pool_args(kernel_size, stride=None, padding=0):
    """Check pooling hyper-parameters; return ``(kH, kW), (sH, sW), (pH, pW)``."""
    k = as_pair(kernel_size, "kernel_size")
    s = k if stride is None else as_pair(stride, "stride")
    p = as_pair(padding, "padding", minimum=0)
    if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
        raise ValueError(
            f"padding must be at most half the kernel size, got padding={p} for "
            f"kernel_size={k}. With more padding a window could cover only padding; "
            f"PyTorch refuses it too. Use padding <= kernel_size // 2."
        )
    return k, s, p


def pool_setup(x, kernel_size, stride, padding, name="x"):
    """Check pooling arguments; return ``x, (kH, kW), (sH, sW), (pH, pW), (Ho, Wo)``.

    Shared by the fast path and the loops of :mod:`lessonlib.loops.pooling`.
    """
    x = as_float_array(x, name, ndim=4, hint=_X_HINT)
    k, s, p = check_pool_args(kernel_size, stride, padding)
    h, w = x.shape[2:]
    if h + 2 * p[0] < k[0] or w + 2 * p[1] < k[1]:
        raise ValueError(
            f"kernel_size {k} is larger than the padded input "
            f"({h + 2 * p[0]}, {w + 2 * p[1]}) (x of shape {x.shape}, padding {p}). "
            f"Use a smaller kernel or a larger input."
        )
    out = (_output_size(h, k[0], s[0], p[0]), _output_size(w, k[1], s[1], p[1]))
    return x, k, s, p, out


def _to_hwc(x, p, value, dtype=None):
    """``(N, C, H, W) -> (H + 2*pH, W + 2*pW, N*C)``: pad and go channels-last.

    One copy does both. Channels-last makes every slice below a block of
    long contiguous rows of ``N*C`` values, which NumPy processes far faster
    than the short rows of 2 to 8 pixels of a small NCHW feature map.
    """
    n, c, h, w = x.shape
    shape = (h + 2 * p[0], w + 2 * p[1], n * c)
    dtype = x.dtype if dtype is None else dtype
    xt = np.empty(shape, dtype=dtype) if p == (0, 0) else np.full(shape, value, dtype=dtype)
    xt[p[0]:p[0] + h, p[1]:p[1] + w] = x.reshape(n * c, h, w).transpose(1, 2, 0)
    return xt


def _from_hwc(t, shape, p=(0, 0)):
    """Inverse of :func:`_to_hwc`: crop the padding, back to ``(N, C, H, W)``."""
    n, c, h, w = shape
    t = t[p[0]:p[0] + h, p[1]:p[1] + w]
    return np.ascontiguousarray(t.transpose(2, 0, 1)).reshape(n, c, h, w)


def _offsets(k, s, out):
    """For each kernel offset (row-major), the (rows, cols) slices picking it in every window."""
    for i in range(k[0]):
        rows = slice(i, i + s[0] * (out[0] - 1) + 1, s[0])
        for j in range(k[1]):
            yield rows, slice(j, j + s[1] * (out[1] - 1) + 1, s[1])


def _max_hwc(xt, k, s, out):
    """Window maxima of the channels-last ``xt``: ``(Ho, Wo, N*C)``."""
    best = None
    for sl in _offsets(k, s, out):
        if best is None:
            best = xt[sl].copy()
        else:
            np.maximum(best, xt[sl], out=best)
    return best


def _max_scatter(xt, best, dout_t, k, s, out):
    """Send each window's ``dout`` to its first maximum (row-major), as PyTorch.

    ``free`` marks the windows whose maximum has not been met yet; walking
    the offsets in row-major order, a window takes the first offset whose
    value equals its maximum. Bitwise operations, no branches: ties cost
    nothing extra.
    """
    dxt = np.zeros(xt.shape, dtype=dout_t.dtype)
    free = np.ones(best.shape, dtype=bool)
    hit = np.empty(best.shape, dtype=bool)
    share = np.empty_like(dout_t)
    finite = np.isfinite(dout_t).all()  # then a product replaces the slower np.where
    for sl in _offsets(k, s, out):
        np.equal(xt[sl], best, out=hit)
        hit &= free
        free ^= hit
        if finite:
            np.multiply(dout_t, hit, out=share)
        else:
            share = np.where(hit, dout_t, 0)
        dxt[sl] += share
    return dxt


def _max_cache(x, kernel_size, stride=None, padding=0):
    """Forward max pooling keeping what the backward pass needs: ``(out, cache)``."""
    x, k, s, p, out = pool_setup(x, kernel_size, stride, padding)
    xt = _to_hwc(x, p, -np.inf)
    best = _max_hwc(xt, k, s, out)
    return _from_hwc(best, x.shape[:2] + out), (xt, best, x, k, s, p, out)


def _max_backward_cache(dout, cache):
    """Backward max pooling from the cache of :func:`_max_cache`: ``dx``."""
    xt, best, x, k, s, p, out = cache
    dout = check_dout(dout, x.shape[:2] + out, "max_pool2d", _SAME)
    dout_t = _to_hwc(dout, (0, 0), 0, result_dtype(dout, x))
    return _from_hwc(_max_scatter(xt, best, dout_t, k, s, out), x.shape, p)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling: the largest value of each window, like ``F.max_pool2d``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Input batch.
    kernel_size : int or (int, int)
        Window size ``(kH, kW)``.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size`` (no overlap).
    padding : int or (int, int), default 0
        Implicit ``-inf`` padding on both sides, at most half the kernel.

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo)
        ``Ho = floor((H + 2*pH - kH) / sH) + 1``, likewise ``Wo``; same dtype as ``x``.

    Raises
    ------
    ValueError
        If ``x`` is not 4-D, a size is not positive, the padding exceeds half
        the kernel or the kernel is larger than the padded input.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    x, k, s, p, out = pool_setup(x, kernel_size, stride, padding)
    best = _max_hwc(_to_hwc(x, p, -np.inf), k, s, out)
    return _from_hwc(best, x.shape[:2] + out)


def max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to its input.

    Each window sends its upstream gradient to the position of its maximum;
    on a tie the *first* maximum in row-major window order gets it (as in
    PyTorch). Where windows overlap, the contributions add up.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
        Gradient of the loss with respect to the pooling output.
    x : ndarray of shape (N, C, H, W)
        The forward input.
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
    padding : int or (int, int), default 0
        ``kernel_size``, ``stride`` and ``padding`` as in the forward call.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Gradient with respect to ``x``.
    """
    _, cache = _max_cache(x, kernel_size, stride, padding)
    return _max_backward_cache(dout, cache)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling: the mean of each window, like ``F.avg_pool2d``.

    Zero padding counts in the mean (PyTorch's default
    ``count_include_pad=True``): every window divides by ``kH * kW``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Input batch.
    kernel_size : int or (int, int)
        Window size ``(kH, kW)``.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit zero padding on both sides, at most half the kernel.

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo)
        Same dtype as ``x``.

    Raises
    ------
    ValueError
        As :func:`max_pool2d`.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x, k, s, p, out = pool_setup(x, kernel_size, stride, padding)
    xt = _to_hwc(x, p, 0)
    slices = list(_offsets(k, s, out))
    total = xt[slices[0]].copy()
    for sl in slices[1:]:
        total += xt[sl]
    total /= k[0] * k[1]
    return _from_hwc(total, x.shape[:2] + out)


def avg_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Every position of a window receives ``dout / (kH * kW)`` of that window;
    overlapping windows add up and the share of the padding is dropped.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
        Gradient of the loss with respect to the pooling output.
    x : ndarray of shape (N, C, H, W)
        The forward input (only its shape is used).
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
    padding : int or (int, int), default 0
        ``kernel_size``, ``stride`` and ``padding`` as in the forward call.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Gradient with respect to ``x``.
    """
    x, k, s, p, out = pool_setup(x, kernel_size, stride, padding)
    dout = check_dout(dout, x.shape[:2] + out, "avg_pool2d", _SAME)
    dtype = result_dtype(dout, x)
    share = _to_hwc(dout, (0, 0), 0, dtype)
    share /= k[0] * k[1]
    n, c, h, w = x.shape
    dxt = np.zeros((h + 2 * p[0], w + 2 * p[1], n * c), dtype=dtype)
    for sl in _offsets(k, s, out):
        dxt[sl] += share
    return _from_hwc(dxt, x.shape, p)
