"""Transposed convolution ("deconvolution"): the adjoint of :func:`lessonlib.conv2d`.

A convolution maps an input ``u`` to ``A u`` with a matrix ``A`` fixed by
the weight and the hyper-parameters. The transposed convolution with the
same weight and hyper-parameters maps ``v`` to ``A.T v``: every input
pixel scatters a copy of the kernel, scaled by its value, into the output,
spaced ``stride`` apart. Hence, for all ``u``, ``v`` of matching shapes,

    <conv2d(u, w), v> == <u, conv_transpose2d(v, w)>

and the transposed convolution *is* the input gradient of a convolution:
``conv_transpose2d(dout, w) == conv2d_backward(dout, u, w)[0]``. This module
reuses that: its forward pass is conv2d's backward, and its backward pass
is conv2d's forward. Semantics, shapes and argument order are those of
``torch.nn.functional.conv_transpose2d``.
"""

from __future__ import annotations

from ._validation import as_float_array, as_pair, check_dout, check_int, result_dtype
from .arithmetic import conv_transpose_output_size
from .conv import check_bias, check_not_empty
from .fast import im2col as fast

__all__ = ["conv_transpose2d", "conv_transpose2d_backward"]


def _setup(x, weight, bias, stride, padding, output_padding, groups, dilation, dout=None):
    """Validate the arguments; return arrays in one dtype and the hyper-parameters."""
    x = as_float_array(x, "x", ndim=4, hint="Layout is (N, C_in, H, W); for one image use x[None].")
    weight = as_float_array(weight, "weight", ndim=4,
                            hint="Layout is (C_in, C_out // groups, kH, kW).")
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    if isinstance(padding, str):
        raise ValueError(
            f"conv_transpose2d takes padding as an int or a pair (ph, pw), got {padding!r}. "
            f"It crops the output; choose output_padding to pick the output size."
        )
    ph, pw = as_pair(padding, "padding", minimum=0)
    oph, opw = as_pair(output_padding, "output_padding", minimum=0)
    groups = check_int(groups, "groups", 1)
    check_not_empty(x, weight)
    n, c_in, h, w = x.shape
    if weight.shape[0] != c_in:
        raise ValueError(
            f"weight.shape[0]={weight.shape[0]} must equal the {c_in} input channels of x "
            f"(x.shape[1]). A transposed convolution's weight is (C_in, C_out // groups, "
            f"kH, kW): the layout of the conv2d it transposes."
        )
    if c_in % groups:
        raise ValueError(
            f"groups={groups} must divide the {c_in} input channels of x. "
            f"Use a divisor of {c_in}."
        )
    c_out = weight.shape[1] * groups
    out_hw = []
    for axis, args in (("height", (h, weight.shape[2], stride[0], ph, oph, dilation[0])),
                       ("width", (w, weight.shape[3], stride[1], pw, opw, dilation[1]))):
        try:
            out_hw.append(conv_transpose_output_size(*args))
        except ValueError as err:
            raise ValueError(f"Along the {axis} of x: {err}") from None
    out_hw = tuple(out_hw)
    if bias is not None:
        bias = as_float_array(bias, "bias", ndim=1,
                              hint=f"Give one value per output channel: ({c_out},).")
    if dout is not None:
        dout = check_dout(dout, (n, c_out) + out_hw, "conv_transpose2d",
                          "x, weight and hyper-parameters (stride, padding, ...)")
    dtype = result_dtype(x, weight, bias, dout)
    bias = check_bias(bias, c_out, dtype)
    # The convolution this one transposes maps (N, C_out, Ho, Wo) to (N, C_in, H, W).
    plan = fast.Plan(out_hw, weight.shape[2:], stride, dilation, (ph, ph, pw, pw), (h, w))
    arrays = [a.astype(dtype, copy=False) for a in (x, weight)]
    if dout is not None:
        arrays.append(dout.astype(dtype, copy=False))
    return arrays, bias, plan, groups, (n, c_out) + out_hw


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution of a batch, as ``torch.nn.functional.conv_transpose2d``.

    Each input pixel adds ``x[n, c, y, x] * weight[c]`` into the output at
    ``(y*sH, x*sW)`` (taps spaced ``dilation`` apart); then ``padding``
    pixels are cropped from every side and ``output_padding`` extra rows
    and columns are kept at the bottom and right.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
        Input batch.
    weight : ndarray of shape (C_in, C_out // groups, kH, kW)
        Filters (note the order: input channels first, as in PyTorch).
    bias : ndarray of shape (C_out,), optional
    stride : int or tuple of (int, int), default 1
        Upsampling factor.
    padding : int or tuple of (int, int), default 0
        Cropped from each side of the full output.
    output_padding : int or tuple of (int, int), default 0
        Extra size at the bottom/right; smaller than stride or dilation.
    groups : int, default 1
        Independent groups of channels.
    dilation : int or tuple of (int, int), default 1
        Spacing between kernel taps.

    Returns
    -------
    ndarray of shape (N, C_out, Ho, Wo)
        ``Ho = conv_transpose_output_size(H, kH, sH, pH, opH, dH)``, likewise
        ``Wo``. float32 if every input is float32, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)[0, 0].tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    (x, weight), bias, plan, groups, out_shape = _setup(
        x, weight, bias, stride, padding, output_padding, groups, dilation)
    out, _ = fast.backward(x, weight, plan, groups, x_shape=out_shape)
    if bias is not None:
        out += bias[:, None, None]
    return out


def conv_transpose2d_backward(dout, x, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1):
    """Gradients of :func:`conv_transpose2d` with respect to input, weight and bias.

    Since the transposed convolution is conv2d's input gradient, its own
    input gradient is a plain convolution of ``dout`` with the same weight.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, Ho, Wo)
        Gradient of the loss with respect to the output.
    x : ndarray of shape (N, C_in, H, W)
        The forward input.
    weight : ndarray of shape (C_in, C_out // groups, kH, kW)
        The forward filters.
    stride : int or tuple of (int, int), default 1
    padding : int or tuple of (int, int), default 0
    output_padding : int or tuple of (int, int), default 0
    groups : int, default 1
    dilation : int or tuple of (int, int), default 1
        These five as given to :func:`conv_transpose2d`.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
        ``conv2d(dout, weight, stride=stride, padding=padding, dilation=dilation,
        groups=groups)``, cut to ``(H, W)``.
    dweight : ndarray of shape (C_in, C_out // groups, kH, kW)
    dbias : ndarray of shape (C_out,)

    Examples
    --------
    >>> import numpy as np
    >>> dx, dw, db = conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...                                        np.ones((1, 1, 2, 2)))
    >>> dx[0, 0].tolist(), dw[0, 0].tolist(), db.tolist()
    ([[4.0, 4.0], [4.0, 4.0]], [[4.0, 4.0], [4.0, 4.0]], [9.0])
    """
    (x, weight, dout), _, plan, groups, _ = _setup(
        x, weight, None, stride, padding, output_padding, groups, dilation, dout)
    dx = fast.forward(dout, weight, plan, groups)
    _, dweight = fast.backward(x, weight, plan, groups, x=dout, need_dx=False)
    return dx, dweight, fast.channel_sum(dout)
