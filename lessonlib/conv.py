"""2-D convolution of a batch (NCHW), its gradients, and depthwise separable convolution.

What a CNN calls convolution is a cross-correlation (no kernel flip)::

    out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j]
                      * x_padded[n, g*C_g + c, y*sH + i*dH, x*sW + j*dW]

where ``g = o // (C_out / groups)`` is the group of output channel ``o``
and ``C_g = C_in / groups``. The semantics (padding modes, groups,
dilation, shapes) are those of ``torch.nn.functional.conv2d``.

The computation runs on the fast path of :mod:`lessonlib.fast.im2col`
(im2col + one matrix product per chunk of images; depthwise convolutions
multiply and add shifted windows instead); :mod:`lessonlib.loops.conv`
holds the same functions written with plain loops.
"""

from __future__ import annotations

from ._validation import (as_float_array, as_pair, check_dout, check_int, padding_sides,
                          result_dtype)
from .fast import im2col as fast
from .arithmetic import conv_output_size

__all__ = ["conv2d", "conv2d_backward", "depthwise_separable_conv2d"]

_X_HINT = ("Layout is (N, C, H, W): for one image use x[None], "
           "for one gray (H, W) image x[None, None].")
_W_HINT = "Layout is (C_out, C_in // groups, kH, kW)."


def output_hw(in_hw, kernel_hw, stride, pads, dilation):
    """``(Ho, Wo)`` from :func:`~lessonlib.arithmetic.conv_output_size`, naming the failing axis."""
    out = []
    for axis, n, k, s, p, d in zip(("height", "width"), in_hw, kernel_hw, stride,
                                   (pads[:2], pads[2:]), dilation):
        try:
            out.append(conv_output_size(n, k, s, p, d))
        except ValueError as err:
            raise ValueError(f"Along the {axis} of x: {err}") from None
    return tuple(out)


def check_groups(c_in, c_out, weight_in, groups, what="x"):
    """Check ``groups`` against the channels; return it as an int."""
    groups = check_int(groups, "groups", 1)
    if c_in % groups:
        raise ValueError(
            f"groups={groups} must divide the {c_in} input channels of {what}. "
            f"Use a divisor of {c_in} (groups={c_in} is a depthwise convolution)."
        )
    if c_out % groups:
        raise ValueError(
            f"groups={groups} must divide the {c_out} output channels. "
            f"Use a number of output channels that is a multiple of groups."
        )
    if weight_in * groups != c_in:
        raise ValueError(
            f"weight expects {weight_in * groups} input channels (weight.shape[1]={weight_in} "
            f"x groups={groups}) but {what} has {c_in} channels ({what}.shape[1]). "
            f"Check the weight layout (C_out, C_in // groups, kH, kW) and groups."
        )
    return groups


def check_not_empty(x, weight):
    """Refuse zero channels, zero-size images and empty kernels (an empty batch is fine)."""
    if 0 in x.shape[1:]:
        raise ValueError(f"x must have at least one channel, row and column, got shape {x.shape}.")
    if weight.size == 0:
        raise ValueError(
            f"weight must not be empty, got shape {weight.shape}: it needs at least one "
            f"output channel and a kernel of at least 1x1."
        )


def check_bias(bias, c_out, dtype):
    """Return ``bias`` as a (C_out,) array of ``dtype``, or None."""
    if bias is None:
        return None
    bias = as_float_array(bias, "bias", ndim=1,
                          hint=f"Give one value per output channel: ({c_out},).")
    if bias.shape != (c_out,):
        raise ValueError(
            f"bias must have shape ({c_out},), one value per output channel, "
            f"got shape {bias.shape}."
        )
    return bias.astype(dtype, copy=False)


def _setup(x, weight, bias, stride, padding, dilation, groups, dout=None):
    """Validate conv2d's arguments; return arrays in one dtype and the hyper-parameters.

    With ``dout``, also check it has the output's shape and return it last.
    """
    x = as_float_array(x, "x", ndim=4, hint=_X_HINT)
    weight = as_float_array(weight, "weight", ndim=4, hint=_W_HINT)
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    check_not_empty(x, weight)
    c_out, c_in_g, kh, kw = weight.shape
    groups = check_groups(x.shape[1], c_out, c_in_g, groups)
    pads = padding_sides(padding, kernel_hw=(kh, kw), stride=stride, dilation=dilation)
    out_hw = output_hw(x.shape[2:], (kh, kw), stride, pads, dilation)
    if bias is not None:
        bias = as_float_array(bias, "bias", ndim=1,
                              hint=f"Give one value per output channel: ({c_out},).")
    if dout is not None:
        dout = check_dout(dout, (x.shape[0], c_out) + out_hw, "conv2d",
                          "x, weight and hyper-parameters (stride, padding, ...)")
    dtype = result_dtype(x, weight, bias, dout)
    bias = check_bias(bias, c_out, dtype)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    plan = fast.Plan(x.shape[2:], (kh, kw), stride, dilation, pads, out_hw)
    if dout is not None:
        return x, weight, bias, plan, groups, dout.astype(dtype, copy=False)
    return x, weight, bias, plan, groups


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
        Input batch.
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
        Filters.
    bias : ndarray of shape (C_out,), optional
        Added to every pixel of each output channel.
    stride : int or tuple of (int, int), default 1
        Step of the kernel.
    padding : int or tuple of (int, int) or {"valid", "same", "full"}, default 0
        Zeros added around the input. ``p`` or ``(ph, pw)`` pad both sides
        of each axis; ``"valid"`` is 0; ``"same"`` keeps ``H, W`` (stride 1
        only; for an even kernel the extra pixel is at the bottom/right);
        ``"full"`` pads ``dilation*(k-1)`` on every side.
    dilation : int or tuple of (int, int), default 1
        Spacing between kernel taps.
    groups : int, default 1
        Split channels into ``groups`` independent convolutions;
        ``groups = C_in`` is a depthwise convolution.

    Returns
    -------
    ndarray of shape (N, C_out, Ho, Wo)
        ``Ho = conv_output_size(H, kH, sH, pH, dH)``, likewise ``Wo``.
        float32 if every input is float32, else float64.

    Raises
    ------
    ValueError
        Wrong number of dimensions, channels that do not match ``weight``
        or ``groups``, a kernel larger than the padded input, sizes < 1,
        ``padding="same"`` with a stride, a bias of the wrong shape.
    TypeError
        Non-real dtypes (complex, strings, objects), non-integer sizes.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d(x, np.ones((1, 1, 2, 2)))[0, 0].tolist()
    [[8.0, 12.0], [20.0, 24.0]]
    >>> conv2d(np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding="same").shape
    (2, 4, 8, 8)
    """
    x, weight, bias, plan, groups = _setup(x, weight, bias, stride, padding, dilation, groups)
    return fast.forward(x, weight, plan, groups, bias)


def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`conv2d` with respect to its input, weight and bias.

    Stateless: computed from the forward call's inputs and the upstream
    gradient ``dout = dL/d(out)``.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, Ho, Wo)
        Gradient of the loss with respect to conv2d's output.
    x : ndarray of shape (N, C_in, H, W)
        The forward input.
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
        The forward filters.
    stride : int or tuple of (int, int), default 1
    padding : int or tuple of (int, int) or {"valid", "same", "full"}, default 0
    dilation : int or tuple of (int, int), default 1
    groups : int, default 1
        ``stride``, ``padding``, ``dilation`` and ``groups`` as given to :func:`conv2d`.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dweight : ndarray of shape (C_out, C_in // groups, kH, kW)
    dbias : ndarray of shape (C_out,)
        ``dout.sum(axis=(0, 2, 3))``; the bias itself is not needed.

    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> dx[0, 0].tolist()          # how many windows cover each pixel
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    >>> dw[0, 0].tolist(), db.tolist()
    ([[4.0, 4.0], [4.0, 4.0]], [4.0])
    """
    x, weight, _, plan, groups, dout = _setup(x, weight, None, stride, padding, dilation,
                                              groups, dout)
    dx, dweight = fast.backward(dout, weight, plan, groups, x=x)
    return dx, dweight, fast.channel_sum(dout)


def depthwise_separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                               pointwise_bias=None, stride=1, padding=0, dilation=1):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution.

    The depthwise step filters each input channel on its own
    (``groups = C_in``); the pointwise step mixes channels. Together they
    cost about ``1/C_out + 1/(kH*kW)`` of a full convolution (MobileNet).

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
        Input batch.
    depthwise_weight : ndarray of shape (C_in, 1, kH, kW)
        One spatial filter per input channel (``(C_in * m, 1, kH, kW)``
        applies ``m`` filters to each channel).
    pointwise_weight : ndarray of shape (C_out, C_in, 1, 1)
        Channel mixing (``(C_out, C_in * m, 1, 1)`` with a multiplier ``m``).
    depthwise_bias : ndarray of shape (C_in,), optional
    pointwise_bias : ndarray of shape (C_out,), optional
    stride : int or tuple of (int, int), default 1
    padding : int or tuple of (int, int) or {"valid", "same", "full"}, default 0
    dilation : int or tuple of (int, int), default 1
        ``stride``, ``padding`` and ``dilation`` of the depthwise step, as in :func:`conv2d`.

    Returns
    -------
    ndarray of shape (N, C_out, Ho, Wo)
        ``conv2d(conv2d(x, depthwise_weight, depthwise_bias, stride, padding,
        dilation, groups=C_in), pointwise_weight, pointwise_bias)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 2, 4, 4))
    >>> y = depthwise_separable_conv2d(x, np.ones((2, 1, 3, 3)), np.ones((5, 2, 1, 1)))
    >>> y.shape, float(y[0, 0, 0, 0])
    ((1, 5, 2, 2), 18.0)
    """
    x = as_float_array(x, "x", ndim=4, hint=_X_HINT)
    depthwise_weight = as_float_array(depthwise_weight, "depthwise_weight", ndim=4,
                                      hint="Layout is (C_in, 1, kH, kW).")
    pointwise_weight = as_float_array(pointwise_weight, "pointwise_weight", ndim=4,
                                      hint="Layout is (C_out, C_in, 1, 1).")
    c_in, c_mid = x.shape[1], depthwise_weight.shape[0]
    if depthwise_weight.shape[1] != 1 or c_mid % c_in:
        raise ValueError(
            f"depthwise_weight must have shape ({c_in}, 1, kH, kW): one filter per input "
            f"channel of x, got {depthwise_weight.shape}."
        )
    if pointwise_weight.shape[1:] != (c_mid, 1, 1):
        raise ValueError(
            f"pointwise_weight must have shape (C_out, {c_mid}, 1, 1): a 1x1 convolution "
            f"over the {c_mid} depthwise channels, got {pointwise_weight.shape}."
        )
    mid = conv2d(x, depthwise_weight, depthwise_bias, stride, padding, dilation, groups=c_in)
    return conv2d(mid, pointwise_weight, pointwise_bias)
