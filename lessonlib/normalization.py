"""Spatial batch normalisation, forward and backward (``F.batch_norm``, ``nn.BatchNorm2d``).

For each channel ``c`` the statistics are taken over the batch and both
spatial axes, the ``m = N * H * W`` values ``x[:, c]``::

    mean = x[:, c].mean()            var = x[:, c].var()       # biased: / m
    xhat = (x[:, c] - mean) / sqrt(var + eps)
    out[:, c] = gamma[c] * xhat + beta[c]

That is training mode. The running statistics, if given, are updated in
place with ``running = (1 - momentum) * running + momentum * batch_stat``,
the *unbiased* variance (``/ (m - 1)``) going into ``running_var``, as in
PyTorch. In evaluation mode (``training=False``) the running statistics
replace the batch's, and the layer is a fixed affine map per channel.

The backward pass of training mode has to remember that ``mean`` and
``var`` depend on every ``x``; with ``dxhat = gamma * dout``::

    dx = (dxhat - dxhat.mean() - xhat * (dxhat * xhat).mean()) / sqrt(var + eps)

(means per channel, over N, H and W).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_array, result_dtype

__all__ = ["batch_norm2d", "batch_norm2d_backward"]

_AXES = (0, 2, 3)  # batch and spatial axes: statistics are per channel


def _per_channel(x):
    """A (C,) array broadcast against (N, C, H, W)."""
    return x[None, :, None, None]


def _check_x(x, name="x"):
    return as_float_array(x, name, ndim=4,
                          hint="Layout is (N, C, H, W): for one image use x[None].")


def _check_channels(value, name, channels, hint):
    value = as_float_array(value, name)
    if value.shape != (channels,):
        raise ValueError(
            f"{name} must have shape (C,) = ({channels},), one entry per channel of x, "
            f"got shape {value.shape}. {hint}"
        )
    return value


def _check_number(value, name, low, high, low_open, fix):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    ok = np.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}. {fix}")
    return value


def _check_eps(eps):
    return _check_number(eps, "eps", 0.0, np.inf, True,
                         "eps keeps sqrt(var + eps) away from 0; use the default 1e-5.")


def _check_training(training):
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}. Use "
                        f"training=False for evaluation with the running statistics.")
    return bool(training)


def _check_running(value, name, channels):
    if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
        got = (f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        raise TypeError(
            f"{name} must be a float32 or float64 ndarray (it is updated in place), got "
            f"{got}. Create it with np.zeros(C) for running_mean, np.ones(C) for running_var."
        )
    return _check_channels(value, name, channels, "Create it with np.zeros(C) or np.ones(C).")


def batch_norm2d(x, gamma, beta, running_mean=None, running_var=None, training=True,
                 momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, H, W) for each channel, like ``F.batch_norm``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Input batch.
    gamma : ndarray of shape (C,)
        Scale, one per channel (``weight`` in PyTorch).
    beta : ndarray of shape (C,)
        Shift, one per channel (``bias`` in PyTorch).
    running_mean, running_var : ndarray of shape (C,), optional
        Running statistics. In training mode they are optional and, if
        given, updated in place (``running_var`` with the unbiased
        variance). In evaluation mode both are required and used instead
        of the batch's statistics.
    training : bool, default True
        True: normalise with the batch's mean and biased variance.
        False: normalise with ``running_mean`` and ``running_var``.
    momentum : float, default 0.1
        Weight of the new batch in the running statistics, in [0, 1].
    eps : float, default 1e-5
        Added to the variance before the square root, > 0.

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
        float32 if ``x``, ``gamma`` and ``beta`` are float32, else float64.

    Raises
    ------
    ValueError
        If a shape does not fit, a number is out of range, or training mode
        sees a single value per channel (N * H * W == 1), whose variance is 0.

    Examples
    --------
    >>> x = np.array([1.0, 3.0]).reshape(2, 1, 1, 1)
    >>> running_mean, running_var = np.zeros(1), np.ones(1)
    >>> batch_norm2d(x, np.ones(1), np.zeros(1), running_mean, running_var,
    ...              eps=1e-12).ravel().round(6)
    array([-1.,  1.])
    >>> running_mean, running_var   # 0.9 * old + 0.1 * (mean 2, unbiased var 2)
    (array([0.2]), array([1.1]))
    """
    x = _check_x(x)
    channels = x.shape[1]
    gamma = _check_channels(gamma, "gamma", channels, "gamma scales each channel.")
    beta = _check_channels(beta, "beta", channels, "beta shifts each channel.")
    training = _check_training(training)
    momentum = _check_number(momentum, "momentum", 0.0, 1.0, False,
                             "PyTorch's default is 0.1.")
    eps = _check_eps(eps)
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None:
            _check_running(value, name, channels)
        elif not training:
            raise ValueError(
                f"{name} is required when training=False: evaluation normalises with the "
                f"running statistics. Pass running_mean and running_var (updated during "
                f"training), or use training=True for the batch's statistics."
            )
    dtype = result_dtype(x, gamma, beta)
    x = x.astype(dtype, copy=False)
    if training:
        m = x.size // channels
        if m <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got x of shape "
                f"{x.shape} (N * H * W = {m}): the variance of one value is 0. Use a "
                f"larger batch, or training=False with running statistics."
            )
        mean = x.mean(axis=_AXES)
        var = x.var(axis=_AXES)          # biased, for normalising
        for running, stat in ((running_mean, mean), (running_var, var * (m / (m - 1)))):
            if running is not None:      # the unbiased variance for running_var
                running *= 1 - momentum
                running += momentum * stat
    else:
        mean = running_mean.astype(dtype, copy=False)
        var = running_var.astype(dtype, copy=False)
    scale = gamma.astype(dtype, copy=False) / np.sqrt(var + eps)
    shift = beta.astype(dtype, copy=False)
    return (x - _per_channel(mean)) * _per_channel(scale) + _per_channel(shift)


def batch_norm2d_backward(dout, x, gamma, eps=1e-5):
    """Gradients of training-mode :func:`batch_norm2d` with respect to x, gamma, beta.

    The batch statistics are recomputed from ``x``; the running statistics
    play no part in training mode's gradient.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H, W)
        Gradient of the loss with respect to the output.
    x : ndarray of shape (N, C, H, W)
        The forward input.
    gamma : ndarray of shape (C,)
        The forward scale.
    eps : float, default 1e-5
        The forward ``eps``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dgamma : ndarray of shape (C,)
        ``sum(dout * xhat)`` over N, H, W.
    dbeta : ndarray of shape (C,)
        ``sum(dout)`` over N, H, W.

    Examples
    --------
    >>> x = np.array([1.0, 3.0]).reshape(2, 1, 1, 1)
    >>> dx, dgamma, dbeta = batch_norm2d_backward(np.ones((2, 1, 1, 1)), x, np.ones(1))
    >>> dx.ravel(), dbeta       # adding a constant to every output changes nothing upstream
    (array([0., 0.]), array([2.]))
    """
    x = _check_x(x)
    dout = _check_x(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(
            f"dout must have the shape of x {x.shape}, got {dout.shape}. Batch "
            f"normalisation keeps the shape, so its gradient has the input's shape."
        )
    channels = x.shape[1]
    gamma = _check_channels(gamma, "gamma", channels, "Pass the gamma of the forward pass.")
    eps = _check_eps(eps)
    if x.size // channels <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got x of shape "
            f"{x.shape}. The training-mode gradient needs the batch statistics."
        )
    dtype = result_dtype(dout, x, gamma)
    x, dout = x.astype(dtype, copy=False), dout.astype(dtype, copy=False)
    inv_std = 1.0 / np.sqrt(x.var(axis=_AXES) + eps)
    xhat = (x - _per_channel(x.mean(axis=_AXES))) * _per_channel(inv_std)
    dbeta = dout.sum(axis=_AXES)
    dgamma = (dout * xhat).sum(axis=_AXES)
    m = x.size // channels
    dx = (dout - _per_channel(dbeta / m) - xhat * _per_channel(dgamma / m)) \
        * _per_channel(gamma.astype(dtype, copy=False) * inv_std)
    return dx, dgamma, dbeta
