"""Real data that ships with installed packages: nothing downloads.

* :func:`load_digits`: the 1,797 handwritten digits of scikit-learn
  (8x8 gray images, UCI ML hand-written digits), as an NCHW batch in
  ``[0, 1]``, with a fixed, stratified train/test split.
* :func:`load_photo`: a photograph of Grace Hopper from matplotlib's sample
  data, gray ``(H, W)`` or color ``(3, H, W)`` in ``[0, 1]``.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import as_pair
from .layers_base import float_dtype

__all__ = ["load_digits", "load_photo"]

#: Fraction of the digits held out for testing (450 of 1,797), and the seed of the split.
TEST_SIZE = 0.25
SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = bunch.images / 16.0  # pixel counts 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                                   stratify=y)
    return images[:, None], y, {"train": train, "test": test, None: idx}


def load_digits(split=None, dtype=np.float64):
    """The scikit-learn handwritten digits as ``(X, y)`` in NCHW layout.

    Parameters
    ----------
    split : None, "train" or "test"
        ``None``: all 1,797 images in their original order. ``"train"``
        (1,347) and ``"test"`` (450): the fixed held-out split of
        ``train_test_split(test_size=0.25, random_state=0, stratify=y)``,
        the same on every run and every machine.
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    X : ndarray of shape (N, 1, 8, 8)
        Gray levels in ``[0, 1]`` (ink is 1).
    y : ndarray of int64, shape (N,)
        The digit, 0 to 9.

    Examples
    --------
    >>> X, y = load_digits("test")
    >>> X.shape, y.shape, float(X.min()), float(X.max())
    ((450, 1, 8, 8), (450,), 0.0, 1.0)
    """
    if not (split is None or (isinstance(split, str) and split in ("train", "test"))):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}. There is "
                         f"no separate validation split: hold out part of 'train'.")
    dtype = float_dtype(dtype)
    images, y, splits = _digits()
    idx = splits[split]
    return images[idx].astype(dtype), y[idx].copy()


@functools.lru_cache(maxsize=1)
def _photo():
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        return img.convert("RGB")


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        return as_pair(size, "size")
    return as_pair(size, "size")[0]


def load_photo(gray=True, size=None):
    """A real photograph (Grace Hopper, from matplotlib's sample data).

    Parameters
    ----------
    gray : bool, default True
        Gray (luma ``0.299 R + 0.587 G + 0.114 B``) or color.
    size : None, int or (int, int)
        ``None``: the original 600 x 512 (H x W). An int: the shorter side
        becomes ``size``, keeping the aspect ratio (as torchvision's
        ``Resize``). A pair: exactly ``(H, W)``. Resampling is antialiased.

    Returns
    -------
    image : ndarray of float64, shape (H, W) if gray else (3, H, W)
        Values in ``[0, 1]``, channels first like every image in lessonlib.

    Examples
    --------
    >>> load_photo().shape, load_photo(gray=False, size=64).shape
    ((600, 512), (3, 75, 64))
    """
    if not isinstance(gray, (bool, np.bool_)):
        raise TypeError(f"gray must be True or False, got {gray!r}.")
    size = _check_size(size)
    img = _photo()
    if size is not None:
        from PIL import Image

        w, h = img.size
        if isinstance(size, int):
            scale = size / min(h, w)
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
        img = img.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    rgb = np.asarray(img, dtype=np.float64) / 255.0  # (H, W, 3)
    if gray:
        return np.clip(rgb @ np.array([0.299, 0.587, 0.114]), 0.0, 1.0)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))
