"""The validation split: a random, seeded cut of the training data.

:func:`train_val_split` is exported with the data loaders
(:mod:`lessonlib.data`) but lives in a module of its own: while
assignment 09 is graded it is the reference of an exercise, so the grading
kernel's copy of lessonlib replaces this module by a stub
(:mod:`lessonlib.grading.references`), while :mod:`lessonlib.data`, whose
``load_digits`` the notebook needs, stays.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_int

__all__ = ["train_val_split"]


def train_val_split(X, y, n_val, rng=None):
    """Random split of ``(X, y)`` into a training and a validation set.

    One permutation is drawn, ``order = rng.permutation(len(X))``, exactly
    so (a student's version with a generator in the same state gives the
    same split): the first ``n_val`` indices of ``order`` are the validation
    set, the others the training set, both in the order of ``order``.
    Images and labels are reordered together.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
        The examples, e.g. images of shape (N, C, H, W).
    y : ndarray of shape (N,)
        Their labels.
    n_val : int
        Number of validation examples, ``1 <= n_val <= N - 1``.
    rng : None, int or np.random.Generator
        Source of the permutation; an int gives the same split every time.

    Returns
    -------
    X_train : ndarray of shape (N - n_val, ...)
    y_train : ndarray of shape (N - n_val,)
    X_val : ndarray of shape (n_val, ...)
    y_val : ndarray of shape (n_val,)
        New arrays (``X`` and ``y`` are not modified), of the dtypes of
        ``X`` and ``y``.

    Raises
    ------
    ValueError
        If ``X`` is not an array of examples, ``y`` does not have one entry
        per example, or ``n_val`` leaves one of the two sets empty.
    TypeError
        If ``n_val`` is not an integer.

    Examples
    --------
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> X_train, y_train, X_val, y_val = train_val_split(X, y, 2, rng=0)
    >>> y_val, y_train                  # rng.permutation(5) of seed 0 is [2, 4, 3, 0, 1]
    (array([2, 4]), array([3, 0, 1]))
    >>> X_val
    array([[4., 5.],
           [8., 9.]])
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1:
        raise ValueError(f"X must be an array of examples of shape (N, ...), got a scalar "
                         f"{X!r}. Pass the whole data set, e.g. X of shape (N, C, H, W).")
    n = len(X)
    if y.ndim < 1 or len(y) != n:
        got = "a scalar" if y.ndim < 1 else f"{len(y)} entries (shape {y.shape})"
        raise ValueError(f"y must have one label per example of X, {n} entries, got {got}. "
                         f"Pass the labels of X, in the same order.")
    n_val = check_int(n_val, "n_val")
    if not 1 <= n_val <= n - 1:
        raise ValueError(f"n_val must be between 1 and N - 1 = {n - 1} (both sets "
                         f"non-empty), got {n_val}. For a validation set of 20 % use "
                         f"n_val = len(X) // 5.")
    order = as_generator(rng).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]
