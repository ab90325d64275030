"""Padding an image: the pixels a convolution or a pooling window sees past the border.

:func:`pad2d` is the one function that pads (``signal.correlate2d`` uses it,
lesson 02 grades it); how a padding argument is read (``p``, ``(ph, pw)``,
``(top, bottom, left, right)``, ``"same"`` ...) is the one rule
:func:`lessonlib._validation.padding_sides`, shared with every
convolution and output-size function.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_array, padding_sides

__all__ = ["pad2d"]


def pad2d(x, padding, value=0.0):
    """Pad the last two axes (height, width) of an array with a constant.

    Parameters
    ----------
    x : ndarray of shape (H, W), (C, H, W) or (N, C, H, W)
        Array to pad.
    padding : int or tuple of (int, int) or tuple of (int, int, int, int)
        ``p`` pads every side by ``p``; ``(ph, pw)`` pads top and bottom by
        ``ph``, left and right by ``pw``; ``(top, bottom, left, right)``
        pads each side on its own.
    value : float, default 0.0
        The fill value (``-inf`` is what max pooling pads with).

    Returns
    -------
    ndarray of shape (..., H + top + bottom, W + left + right)
        A new array with the dtype of ``x`` (float32 stays float32).

    Examples
    --------
    >>> pad2d(np.ones((1, 2)), (1, 0)).tolist()
    [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    >>> pad2d(np.ones((1, 1)), (0, 0, 1, 2), value=9).tolist()
    [[9.0, 1.0, 9.0, 9.0]]
    """
    x = as_float_array(x, "x", ndim=(2, 3, 4),
                       hint="pad2d pads the last two axes (height, width).")
    top, bottom, left, right = padding_sides(padding)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be a real number, got {value!r}.")
    h, w = x.shape[-2:]
    out = np.full(x.shape[:-2] + (h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[..., top:top + h, left:left + w] = x
    return out
