"""Cross-entropy loss for classification, forward and backward.

``cross_entropy(logits, targets) = -mean_n log_softmax(logits)[n, targets[n]]``,
like ``F.cross_entropy`` with integer class targets and ``reduction="mean"``.
Going through :func:`lessonlib.log_softmax` keeps it finite for logits of
``+-1e4``. Its gradient is famously simple: ``(softmax(logits) - onehot) / N``.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array
from .activations import log_softmax, softmax

__all__ = ["cross_entropy", "cross_entropy_backward"]


def _check(logits, targets):
    logits = as_float_array(
        logits, "logits", ndim=2,
        hint="Expected one row of class scores per example, (N, C).")
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(
            f"logits must have at least one example and one class, got shape "
            f"{logits.shape}.")
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(
            f"targets must hold integer class indices in [0, {c - 1}], got dtype "
            f"{targets.dtype}. Convert labels with targets.astype(np.int64); "
            f"one-hot or probability targets are not supported (use argmax(axis=1)).")
    if targets.ndim != 1:
        raise ValueError(
            f"targets must be a 1-D array of N class indices, got shape "
            f"{targets.shape}. One-hot rows? Use targets.argmax(axis=1).")
    if targets.shape[0] != n:
        raise ValueError(
            f"targets has {targets.shape[0]} entries but logits has N = {n} rows: "
            f"give one class index per example.")
    bad = np.flatnonzero((targets < 0) | (targets >= c))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"targets must be class indices in [0, {c - 1}] for logits with C = {c} "
            f"classes, got {int(targets[i])} at position {i}. Labels that start at 1 "
            f"need targets - 1; otherwise the layer before has too few outputs.")
    return logits, targets.astype(np.intp, copy=False)


def cross_entropy(logits, targets):
    """Mean negative log-likelihood of the target classes, like ``F.cross_entropy``.

    Parameters
    ----------
    logits : ndarray of shape (N, C)
        Unnormalised class scores.
    targets : ndarray of int, shape (N,)
        The correct class of each example, in ``[0, C - 1]``.

    Returns
    -------
    loss : numpy scalar of the dtype of ``logits``
        ``-mean(log_softmax(logits)[arange(N), targets])``.

    Raises
    ------
    TypeError
        If ``targets`` are not integers.
    ValueError
        If a shape does not fit or a class index is out of range.

    Examples
    --------
    >>> float(cross_entropy(np.zeros((2, 4)), np.array([0, 3])))  # log(4)
    1.3862943611198906
    """
    logits, targets = _check(logits, targets)
    logp = log_softmax(logits, axis=1)
    loss = -logp[np.arange(logits.shape[0]), targets].mean()
    return logits.dtype.type(loss)


def cross_entropy_backward(logits, targets):
    """Gradient of :func:`cross_entropy` with respect to the logits.

    Parameters
    ----------
    logits : ndarray of shape (N, C)
    targets : ndarray of int, shape (N,)

    Returns
    -------
    dlogits : ndarray of shape (N, C)
        ``(softmax(logits) - onehot(targets)) / N``, dtype of ``logits``.
    """
    logits, targets = _check(logits, targets)
    n = logits.shape[0]
    grad = softmax(logits, axis=1)
    grad[np.arange(n), targets] -= 1
    grad /= n
    return grad
