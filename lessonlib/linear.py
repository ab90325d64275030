"""Flatten and the fully connected (linear) layer, forward and backward.

``linear(x, weight, bias) = x @ weight.T + bias`` with ``weight`` of shape
``(out_features, in_features)``, the layout of ``torch.nn.Linear``. The
backward pass is three matrix products::

    dx      = dout @ weight          (N, in)
    dweight = dout.T @ x             (out, in)
    dbias   = dout.sum(axis=0)       (out,)
"""

from __future__ import annotations

from ._validation import as_float_array, result_dtype

__all__ = ["flatten", "linear", "linear_backward"]


def flatten(x):
    """Keep the batch axis, merge the others: ``(N, C, H, W) -> (N, C*H*W)``.

    Like ``torch.flatten(x, 1)``; the features are in C order (channel,
    then row, then column).

    Parameters
    ----------
    x : ndarray of shape (N, ...)
        At least 2-D.

    Returns
    -------
    out : ndarray of shape (N, prod(...))
        A view of ``x`` when possible.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(
            f"x must have a batch axis and at least one feature axis (N, ...), got "
            f"shape {x.shape}. For a single example use x[None]."
        )
    return x.reshape(x.shape[0], -1)


def _check_linear(x, weight, name_x="x"):
    x = as_float_array(x, name_x, ndim=2,
                       hint="linear expects (N, in_features); flatten images first "
                            "with flatten(x).")
    weight = as_float_array(weight, "weight", ndim=2,
                            hint="The weight is (out_features, in_features).")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but weight expects in_features = "
            f"{weight.shape[1]} (weight shape {weight.shape} is (out_features, "
            f"in_features)). Check the flattened size of the layer before."
        )
    return x, weight


def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias``, like ``F.linear``.

    Parameters
    ----------
    x : ndarray of shape (N, in_features)
        Input batch.
    weight : ndarray of shape (out_features, in_features)
    bias : ndarray of shape (out_features,), optional

    Returns
    -------
    out : ndarray of shape (N, out_features)
        float32 if every input is float32, else float64.

    Raises
    ------
    ValueError
        If a shape does not fit (the message names which).

    Examples
    --------
    >>> import numpy as np
    >>> linear(np.ones((1, 3)), np.arange(6.0).reshape(2, 3), np.array([0.5, 0.0]))
    array([[ 3.5, 12. ]])
    """
    x, weight = _check_linear(x, weight)
    if bias is not None:
        bias = as_float_array(bias, "bias", ndim=1)
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(
                f"bias must have out_features = {weight.shape[0]} entries (one per "
                f"row of weight), got shape {bias.shape}."
            )
    dtype = result_dtype(x, weight, bias)
    out = x.astype(dtype, copy=False) @ weight.astype(dtype, copy=False).T
    if bias is not None:
        out += bias.astype(dtype, copy=False)
    return out


def linear_backward(dout, x, weight):
    """Gradients of :func:`linear` with respect to ``x``, ``weight`` and ``bias``.

    Parameters
    ----------
    dout : ndarray of shape (N, out_features)
        Gradient of the loss with respect to the output.
    x : ndarray of shape (N, in_features)
        The forward input.
    weight : ndarray of shape (out_features, in_features)

    Returns
    -------
    dx : ndarray of shape (N, in_features)
    dweight : ndarray of shape (out_features, in_features)
    dbias : ndarray of shape (out_features,)
        Ignore it for a layer without bias.
    """
    x, weight = _check_linear(x, weight)
    dout = as_float_array(dout, "dout", ndim=2)
    if dout.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(
            f"dout must have the forward output's shape (N, out_features) = "
            f"{(x.shape[0], weight.shape[0])}, got {dout.shape}."
        )
    dtype = result_dtype(dout, x, weight)
    dout = dout.astype(dtype, copy=False)
    dx = dout @ weight.astype(dtype, copy=False)
    dweight = dout.T @ x.astype(dtype, copy=False)
    dbias = dout.sum(axis=0)
    return dx, dweight, dbias
