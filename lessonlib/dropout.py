"""Inverted dropout, forward and backward (``F.dropout``, ``nn.Dropout``).

In training mode each value is kept with probability ``1 - p`` and set to
0 otherwise; the kept values are divided by ``1 - p`` so that the expected
output equals the input (*inverted* dropout: nothing to rescale at test
time). In evaluation mode dropout does nothing.

The mask is drawn as ``rng.random(x.shape) >= p``, exactly: a student's
implementation given a generator in the same state draws the same mask,
which is what the course's checks rely on.

>>> out, mask = dropout(np.ones((2, 4)), p=0.5, rng=0)
>>> out
array([[2., 0., 0., 0.],
       [2., 2., 2., 2.]])
>>> np.array_equal(mask, np.random.default_rng(0).random((2, 4)) >= 0.5)
True
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_array, as_generator, result_dtype

__all__ = ["dropout", "dropout_backward"]


def check_p(p):
    """``p`` as a float in [0, 1], or a clear error."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a number in [0, 1], got {p!r} of type "
                        f"{type(p).__name__}.")
    p = float(p)
    if not 0 <= p <= 1:
        raise ValueError(
            f"p must be in [0, 1], the probability of dropping a value, got {p!r}. "
            f"0.5 is the classic choice for fully connected layers."
        )
    return p


def _scale(p):
    """``1 / (1 - p)``, and 0 for ``p == 1`` (every value dropped: no division by 0)."""
    return 0.0 if p == 1 else 1.0 / (1.0 - p)


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout: zero each value with probability ``p``, scale the rest.

    ``out = x * mask / (1 - p)`` with ``mask = rng.random(x.shape) >= p``,
    drawn exactly so (one ``rng.random`` call of ``x``'s shape), so that
    the same generator gives the same mask.

    Parameters
    ----------
    x : ndarray of shape (N, ...)
        Input of any shape, e.g. (N, C, H, W) or (N, D).
    p : float, default 0.5
        Probability of dropping a value, in [0, 1]. ``p == 1`` gives zeros.
    training : bool, default True
        False: evaluation mode, ``out`` is a copy of ``x``, ``mask`` is all
        True and ``rng`` is not used.
    rng : None, int or np.random.Generator
        Source of the mask: a Generator is advanced, an int seed gives the
        same mask on every call, None fresh entropy.

    Returns
    -------
    out : ndarray of shape (N, ...)
        The shape and dtype of ``x``.
    mask : ndarray of bool of shape (N, ...)
        True where the value was kept.

    Examples
    --------
    >>> out, mask = dropout(np.ones(4), p=1.0, rng=0)
    >>> out, mask.any()
    (array([0., 0., 0., 0.]), np.False_)
    >>> dropout(np.ones(2), training=False)
    (array([1., 1.]), array([ True,  True]))
    """
    x = as_float_array(x, "x")
    p = check_p(p)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}. Use "
                        f"training=False for evaluation, where dropout does nothing.")
    if not training:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = as_generator(rng).random(x.shape) >= p
    return x * mask * _scale(p), mask


def dropout_backward(dout, mask, p):
    """Gradient of training-mode :func:`dropout`: ``dout * mask / (1 - p)``.

    In evaluation mode dropout is the identity and so is its gradient:
    there, pass ``p=0`` (with the all-True mask) or use ``dout`` itself.

    Parameters
    ----------
    dout : ndarray of shape (N, ...)
        Gradient of the loss with respect to the output.
    mask : ndarray of bool of shape (N, ...)
        The mask :func:`dropout` returned.
    p : float
        The forward drop probability, in [0, 1].

    Returns
    -------
    dx : ndarray of shape (N, ...)
        The shape and dtype of ``dout``.

    Examples
    --------
    >>> dropout_backward(np.ones(3), np.array([True, False, True]), p=0.5)
    array([2., 0., 2.])
    """
    dout = as_float_array(dout, "dout")
    p = check_p(p)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(
            f"mask must be a boolean array (True = kept), got dtype {mask.dtype}. Pass the "
            f"mask dropout returned, not a scaled copy of it."
        )
    if mask.shape != dout.shape:
        raise ValueError(
            f"mask must have the shape of dout {dout.shape}, got {mask.shape}. Dropout "
            f"acts element-wise: one mask entry per value."
        )
    return np.multiply(dout, mask, dtype=result_dtype(dout)) * _scale(p)
