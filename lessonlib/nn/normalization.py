"""Layers that act differently in training and evaluation: BatchNorm2d and Dropout.

Both look at ``layer.training`` (set by ``model.train()`` / ``model.eval()``):

* :class:`BatchNorm2d` normalises with the batch's statistics while
  training, and updates its running statistics; in evaluation it uses the
  running statistics and leaves them alone.
* :class:`Dropout` drops values while training, and is the identity in
  evaluation.

The running statistics are *buffers*, not parameters: they are not in
``params``, so an optimiser never changes them.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_generator, check_int, float_dtype, result_dtype
from ..dropout import check_p, dropout, dropout_backward
from ..normalization import _check_eps, _check_number, batch_norm2d, batch_norm2d_backward
from .module import Module, check_input

__all__ = ["BatchNorm2d", "Dropout"]


class BatchNorm2d(Module):
    """Batch normalisation of each channel, like ``torch.nn.BatchNorm2d``.

    See :func:`lessonlib.batch_norm2d`. Training mode normalises with the
    batch's mean and variance over (N, H, W) and updates the running
    statistics; evaluation mode (``layer.eval()``) uses the running ones.

    Parameters
    ----------
    num_features : int
        The number of channels C.
    eps : float, default 1e-5
    momentum : float, default 0.1
        Weight of each new batch in the running statistics, in [0, 1].
    dtype : np.float32 or np.float64, default np.float64

    Attributes
    ----------
    weight : ndarray of shape (C,)
        gamma, initialised to ones (``params["weight"]``).
    bias : ndarray of shape (C,)
        beta, initialised to zeros (``params["bias"]``).
    running_mean : ndarray of shape (C,)
        Buffer, zeros at first; not a parameter.
    running_var : ndarray of shape (C,)
        Buffer, ones at first; not a parameter.

    Examples
    --------
    >>> bn = BatchNorm2d(3)
    >>> out = bn(np.random.default_rng(0).normal(5.0, 2.0, (8, 3, 4, 4)))
    >>> out.shape, bool(abs(out.mean()) < 1e-12), sorted(bn.params)
    ((8, 3, 4, 4), True, ['bias', 'weight'])
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float64):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", 1)
        self.eps = _check_eps(eps)
        self.momentum = _check_number(momentum, "momentum", 0.0, 1.0, False,
                                      "PyTorch's default is 0.1.")
        dtype = float_dtype(dtype)
        self.params = {"weight": np.ones(self.num_features, dtype),
                       "bias": np.zeros(self.num_features, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_var = np.ones(self.num_features, dtype)

    def forward(self, x):
        """``x`` (N, C, H, W) -> (N, C, H, W); in training, updates the running statistics."""
        x = check_input(self, x, self.num_features, "channels")
        out = batch_norm2d(x, self.weight, self.bias, self.running_mean, self.running_var,
                           training=self.training, momentum=self.momentum, eps=self.eps)
        # evaluation's backward needs the statistics the forward pass used
        stats = None if self.training else (self.running_mean.copy(), self.running_var.copy())
        self._cache = (x, stats)
        return out

    def backward(self, dout):
        """``dout`` (N, C, H, W) -> ``dx`` (N, C, H, W); fills ``grads``.

        The mode is the forward pass's: batch statistics after a training
        forward, the (constant) running statistics after an evaluation one.
        """
        x, stats = self._cached()
        if stats is None:
            dx, dgamma, dbeta = batch_norm2d_backward(dout, x, self.weight, self.eps)
        else:  # a fixed affine map per channel: out = scale * x + shift
            dout = as_float_array(dout, "dout")
            if dout.shape != x.shape:
                raise ValueError(f"dout must have the shape of x {x.shape}, got {dout.shape}.")
            mean, var = stats
            dtype = result_dtype(dout, x, self.weight)
            inv_std = (1.0 / np.sqrt(var + self.eps)).astype(dtype)[None, :, None, None]
            xhat = (x - mean.astype(dtype)[None, :, None, None]) * inv_std
            dgamma, dbeta = (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
            dx = dout * (self.weight.astype(dtype)[None, :, None, None] * inv_std)
        self._set_grads(weight=dgamma, bias=dbeta)
        return dx

    def extra_repr(self):  # as torch 2.13 prints it
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine=True, bias=True, track_running_stats=True")


class Dropout(Module):
    """Inverted dropout, like ``torch.nn.Dropout``; see :func:`lessonlib.dropout`.

    In training mode each forward pass draws a new mask from ``self.rng``
    (``rng.random(x.shape) >= p``); in evaluation mode (``layer.eval()``)
    the layer passes ``x`` through unchanged and draws nothing.

    Parameters
    ----------
    p : float, default 0.5
        Probability of dropping a value, in [0, 1].
    rng : None, int or np.random.Generator
        Source of the masks, kept as ``self.rng``.

    Examples
    --------
    >>> drop = Dropout(0.5, rng=0)
    >>> drop(np.ones((2, 4)))
    array([[2., 0., 0., 0.],
           [2., 2., 2., 2.]])
    >>> drop.eval()(np.ones((1, 3)))
    array([[1., 1., 1.]])
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = check_p(p)
        self.rng = as_generator(rng)

    def forward(self, x):
        """``x`` of shape (N, ...) -> the same shape; remembers the mask."""
        out, mask = dropout(x, self.p, training=self.training, rng=self.rng)
        self._cache = (mask, self.p if self.training else 0.0)  # evaluation: identity
        return out

    def backward(self, dout):
        """``dout`` of shape (N, ...) -> ``dx``: ``dout * mask / (1 - p)``."""
        mask, p = self._cached()
        return dropout_backward(dout, mask, p)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"
