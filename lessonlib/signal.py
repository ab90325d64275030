"""Convolution versus cross-correlation on plain signals.

A CNN's "convolution" is a *cross-correlation*: the kernel slides over the
input without being flipped,

    correlate1d(x, k)[i] = sum_j x[i + j] * k[j]          (mode="valid")

while the convolution of signal processing flips it first,

    convolve1d(x, k) == correlate1d(x, k[::-1])            (every mode).

For a symmetric kernel the two agree; for any other kernel they do not,
which lesson 1 shows with an edge detector.

The 1-D functions follow :func:`numpy.convolve`'s three modes exactly; the
2-D single-channel functions follow :func:`scipy.signal.correlate2d` and
:func:`scipy.signal.convolve2d` (zero fill). Multi-channel, batched,
strided convolution is :func:`lessonlib.conv2d`.
"""

from __future__ import annotations


import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validation import as_float_array, result_dtype
from .padding import pad2d

__all__ = ["convolve1d", "correlate1d", "correlate2d", "convolve2d"]

_MODES = ("full", "same", "valid")


def _check_mode(mode):
    if mode not in _MODES:
        raise ValueError(
            f"mode must be one of 'full', 'same', 'valid', got {mode!r}."
        )


def _as_signal(x, name):
    x = as_float_array(x, name, ndim=1, hint="Flatten it first, or use correlate2d for images.")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}.")
    return x


def _full_correlate1d(x, k):
    """``out[m] = sum_j x[m - (K-1) + j] k[j]`` for m in 0 .. N+K-2 (zero fill)."""
    n, m = len(x), len(k)
    xp = np.zeros(n + 2 * (m - 1), dtype=x.dtype)
    xp[m - 1:m - 1 + n] = x
    return sliding_window_view(xp, m) @ k


def _numpy_mode(full, n, m, mode):
    """Slice a full result of length n + m - 1 the way numpy.convolve does."""
    if mode == "full":
        return full
    if mode == "same":
        start, length = (min(n, m) - 1) // 2, max(n, m)
    else:
        start, length = min(n, m) - 1, abs(n - m) + 1
    return full[start:start + length]


def correlate1d(x, k, mode="full"):
    """Cross-correlation of two 1-D signals: what a CNN calls convolution.

    ``out[i] = sum_j x[i + j] * k[j]``, the kernel sliding unflipped; the
    index ``i`` runs from ``-(K-1)`` to ``N-1`` in mode ``"full"`` (zeros
    outside ``x``) and from 0 to ``N-K`` in mode ``"valid"``.

    How it relates to NumPy, exactly:

    * ``correlate1d(x, k, mode) == np.convolve(x, k[::-1], mode)`` and
      ``== convolve1d(x, k[::-1], mode)`` for every mode and length.
    * ``correlate1d(x, k, mode) == np.correlate(x, k, mode)`` for every mode,
      except ``"same"`` when ``len(k) > len(x)`` and ``len(x)`` is even
      (``np.correlate`` then swaps its inputs and centres one sample further).

    Parameters
    ----------
    x : ndarray of shape (N,)
        The signal.
    k : ndarray of shape (K,)
        The kernel.
    mode : {"full", "same", "valid"}, default "full"
        Output length ``N + K - 1``, ``max(N, K)`` or ``max(N, K) - min(N, K) + 1``,
        sliced from the full result as :func:`numpy.convolve` does: mode
        ``"same"`` starts at index ``(min(N, K) - 1) // 2``, so for an even
        kernel the extra zero is on the left, ``out[i] = sum_j x[i + j - K//2] k[j]``.
        (``conv2d(padding="same")``, like PyTorch, puts it on the right.)

    Returns
    -------
    ndarray of shape (L,)
        float32 if both inputs are float32, else float64.

    Examples
    --------
    >>> correlate1d([1, 2, 3, 4], [1, -1], mode="valid").tolist()
    [-1.0, -1.0, -1.0]
    >>> convolve1d([1, 2, 3, 4], [1, -1], mode="valid").tolist()
    [1.0, 1.0, 1.0]
    """
    x, k = _as_signal(x, "x"), _as_signal(k, "k")
    _check_mode(mode)
    dtype = result_dtype(x, k)
    full = _full_correlate1d(x.astype(dtype, copy=False), k.astype(dtype, copy=False))
    return _numpy_mode(full, len(x), len(k), mode)


def convolve1d(x, k, mode="full"):
    """Convolution of two 1-D signals: the kernel is flipped, then slid.

    ``out[i] = sum_j x[i - j] * k[j]``; identical to
    ``np.convolve(x, k, mode)`` for every mode and length (including
    ``len(k) > len(x)``: convolution is symmetric in its two inputs).

    Parameters
    ----------
    x : ndarray of shape (N,)
        The signal.
    k : ndarray of shape (K,)
        The kernel.
    mode : {"full", "same", "valid"}, default "full"
        As in :func:`numpy.convolve`: lengths ``N + K - 1``, ``max(N, K)``,
        ``max(N, K) - min(N, K) + 1``.

    Returns
    -------
    ndarray of shape (L,)
        float32 if both inputs are float32, else float64.

    Examples
    --------
    >>> convolve1d([1, 2, 3], [0, 1, 0.5]).tolist()
    [0.0, 1.0, 2.5, 4.0, 1.5]
    >>> convolve1d([1, 2, 3], [0, 1, 0.5], mode="same").tolist()
    [1.0, 2.5, 4.0]
    """
    x, k = _as_signal(x, "x"), _as_signal(k, "k")
    _check_mode(mode)
    dtype = result_dtype(x, k)
    full = _full_correlate1d(x.astype(dtype, copy=False), k[::-1].astype(dtype))
    return _numpy_mode(full, len(x), len(k), mode)


def _correlate2d_padded(image, kernel, mode, flipped, func):
    """Validate, zero-pad for ``mode``, slide ``kernel`` (already flipped if ``flipped``)."""
    image = as_float_array(
        image, "image", ndim=2,
        hint=f"{func} works on one (H, W) channel; use conv2d for (N, C, H, W) batches.")
    kernel = as_float_array(kernel, "kernel", ndim=2,
                            hint="Give a single (kH, kW) kernel.")
    _check_mode(mode)
    if 0 in image.shape or 0 in kernel.shape:
        raise ValueError(f"image and kernel must not be empty, got shapes {image.shape} "
                         f"and {kernel.shape}.")
    (h, w), (kh, kw) = image.shape, kernel.shape
    if mode == "valid" and (kh > h or kw > w):
        raise ValueError(
            f"kernel of shape {kernel.shape} is larger than image of shape {image.shape}: "
            f"mode='valid' has no position where it fits. Use mode='same' or 'full', "
            f"or a smaller kernel."
        )
    dtype = result_dtype(image, kernel)
    (top, bottom), (left, right) = _mode_pads(kh, mode, flipped), _mode_pads(kw, mode, flipped)
    padded = pad2d(image.astype(dtype, copy=False), (top, bottom, left, right))
    windows = sliding_window_view(padded, (kh, kw))          # (Ho, Wo, kH, kW)
    return np.tensordot(windows, kernel.astype(dtype, copy=False), axes=2)


def correlate2d(image, kernel, mode="valid"):
    """Cross-correlate one (H, W) image with one (kH, kW) kernel (no flip).

    ``out[i, j] = sum_{a, b} image[i + a, j + b] * kernel[a, b]`` with zeros
    outside the image: the same numbers as ``scipy.signal.correlate2d(image,
    kernel, mode)``.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        One channel.
    kernel : ndarray of shape (kH, kW)
        The filter.
    mode : {"valid", "same", "full"}, default "valid"
        ``"valid"``: only where the kernel fits, shape ``(H-kH+1, W-kW+1)``;
        ``"same"``: shape ``(H, W)``, padding ``(k-1)//2`` before and ``k//2``
        after (like ``conv2d(padding="same")``); ``"full"``: every overlap,
        shape ``(H+kH-1, W+kW-1)``. (scipy's default mode is "full".)

    Returns
    -------
    ndarray of shape (Ho, Wo)
        float32 if both inputs are float32, else float64.

    Raises
    ------
    ValueError
        In mode ``"valid"`` when the kernel is larger than the image (scipy
        would swap the two; a CNN has no output there).

    Examples
    --------
    >>> correlate2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0], [0, -1]]).tolist()
    [[-4.0, -4.0], [-4.0, -4.0]]
    """
    return _correlate2d_padded(image, kernel, mode, False, "correlate2d")


def convolve2d(image, kernel, mode="valid"):
    """Convolve one (H, W) image with one (kH, kW) kernel (flipped kernel).

    ``out[i, j] = sum_{a, b} image[i - a, j - b] * kernel[a, b]`` with zeros
    outside: the same numbers as ``scipy.signal.convolve2d(image, kernel,
    mode)``, and ``correlate2d(image, kernel[::-1, ::-1], mode)`` except in
    mode ``"same"`` with an even kernel, where scipy centres convolution one
    pixel differently (padding ``k//2`` before and ``(k-1)//2`` after).

    Parameters
    ----------
    image : ndarray of shape (H, W)
        One channel.
    kernel : ndarray of shape (kH, kW)
        The filter, flipped before sliding.
    mode : {"valid", "same", "full"}, default "valid"
        Output shapes as in :func:`correlate2d`.

    Returns
    -------
    ndarray of shape (Ho, Wo)
        float32 if both inputs are float32, else float64.

    Examples
    --------
    >>> convolve2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0], [0, -1]]).tolist()
    [[4.0, 4.0], [4.0, 4.0]]
    """
    kernel = as_float_array(kernel, "kernel", ndim=2, hint="Give a single (kH, kW) kernel.")
    return _correlate2d_padded(image, kernel[::-1, ::-1], mode, True, "convolve2d")


def _mode_pads(k, mode, flipped):
    """(before, after) zero padding of one axis for a scipy-style mode."""
    if mode == "valid":
        return 0, 0
    if mode == "full":
        return k - 1, k - 1
    small, large = (k - 1) // 2, k // 2
    return (large, small) if flipped else (small, large)
