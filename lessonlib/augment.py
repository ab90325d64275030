"""Translated images: the data augmentation by small shifts, and its measurement.

:func:`shift_images` moves every image by whole pixels with zeros shifted
in (nothing wraps around); :func:`random_shifts` gives each image of a
batch its own random offset, the augmentation that teaches a network that
a shifted digit is the same digit (assignment 09; :func:`lessonlib.train_mnist`
trains LeNet-5 with it).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_generator, check_int

__all__ = ["shift_images", "random_shifts"]

_NCHW = "Layout is (N, C, H, W): a batch of images, e.g. load_mnist()[0]."


def _shift_amount(value, name, n):
    """``value`` as an int or as an int64 array of shape (n,)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        if value.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers (pixels), got dtype {value.dtype}. "
                            f"Round first: np.rint({name}).astype(int).")
        if value.shape != (n,):
            raise ValueError(f"{name} must be an int or one int per image, shape ({n},), "
                             f"got shape {value.shape}.")
        return value.astype(np.int64)
    return check_int(value, name)


def _shift_all(X, dx, dy):
    """Shift every image of ``X`` by the same ``(dx, dy)``; zero fill."""
    out = np.zeros_like(X)
    H, W = X.shape[2:]
    if abs(dy) >= H or abs(dx) >= W:
        return out
    src_r, dst_r = slice(max(0, -dy), H - max(0, dy)), slice(max(0, dy), H - max(0, -dy))
    src_c, dst_c = slice(max(0, -dx), W - max(0, dx)), slice(max(0, dx), W - max(0, -dx))
    out[:, :, dst_r, dst_c] = X[:, :, src_r, src_c]
    return out


def shift_images(X, dx, dy):
    """Translate images by whole pixels, filling with zeros (nothing wraps around).

    ``out[n, c, i, j] = X[n, c, i - dy, j - dx]`` where that pixel exists,
    else 0: a positive ``dx`` moves the content right, a positive ``dy``
    down. Pixels pushed past the border are lost.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)
    dx, dy : int or ndarray of int, shape (N,)
        Horizontal and vertical shift in pixels, the same for every image
        or one per image. ``|dx| >= W`` or ``|dy| >= H`` gives zeros.

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
        A new array of ``X``'s dtype (float64 for integer input).

    Examples
    --------
    >>> x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    >>> shift_images(x, 1, 0)[0, 0]
    array([[0., 1., 2.],
           [0., 4., 5.],
           [0., 7., 8.]])
    >>> shift_images(x, 0, -1)[0, 0]
    array([[4., 5., 6.],
           [7., 8., 9.],
           [0., 0., 0.]])
    """
    X = as_float_array(X, "X", ndim=4, hint=_NCHW)
    dx = _shift_amount(dx, "dx", X.shape[0])
    dy = _shift_amount(dy, "dy", X.shape[0])
    if isinstance(dx, int) and isinstance(dy, int):
        return _shift_all(X, dx, dy)
    N, C, H, W = X.shape
    dx = np.clip(np.broadcast_to(dx, (N,)), -W, W)     # a shift of W or more: all zeros
    dy = np.clip(np.broadcast_to(dy, (N,)), -H, H)
    p, q = int(np.abs(dy).max(initial=0)), int(np.abs(dx).max(initial=0))
    padded = np.pad(X, ((0, 0), (0, 0), (p, p), (q, q)))
    rows = (p - dy)[:, None] + np.arange(H)              # (N, H): source row of each row
    cols = (q - dx)[:, None] + np.arange(W)              # (N, W)
    return padded[np.arange(N)[:, None, None, None], np.arange(C)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def random_shifts(X, max_shift, rng=None):
    """Shift each image by its own random whole-pixel offset: data augmentation.

    Every image gets independent ``dx`` and ``dy`` drawn uniformly from the
    integers ``-max_shift, ..., max_shift``; see :func:`shift_images`.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)
    max_shift : int
        Largest shift in pixels, >= 0 (0 returns a copy of ``X``).
    rng : None, int or np.random.Generator
        Source of the offsets; an int gives the same offsets every time.

    Returns
    -------
    out : ndarray of shape (N, C, H, W)

    Examples
    --------
    >>> X = np.ones((100, 1, 28, 28))
    >>> out = random_shifts(X, 2, rng=0)
    >>> out.shape, int((out.sum(axis=(1, 2, 3)) >= 26 * 26).sum())
    ((100, 1, 28, 28), 100)
    """
    X = as_float_array(X, "X", ndim=4, hint=_NCHW)
    max_shift = check_int(max_shift, "max_shift", 0)
    rng = as_generator(rng)
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, X.shape[0]))
    return shift_images(X, dx, dy)
