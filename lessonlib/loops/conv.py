"""Convolution written with plain loops: what a student writes first.

Every function here computes the same numbers as its fast counterpart in
:mod:`lessonlib.conv` / :mod:`lessonlib.conv_transpose`, one output pixel
(or one input pixel) at a time. They are slow, obvious, and derived
independently of the fast path (no im2col, no adjoint trick), which is
why the tests compare the two.

On purpose, nothing here calls the fast path (:mod:`lessonlib.conv`,
:mod:`lessonlib.fast`): the arithmetic is written again, one loop per
axis, so that the two can only agree by both being right. Shared are the
argument rules (how ``padding`` is read: :mod:`lessonlib._validation`)
and the output-size formulas (:mod:`lessonlib.arithmetic`). Arguments are
not validated beyond that; use the fast functions for that.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_pair, padding_sides, result_dtype
from ..arithmetic import conv_output_size, conv_transpose_output_size

__all__ = ["conv2d_loops", "conv2d_backward_loops", "conv_transpose2d_loops"]


def _arrays(*arrays):
    """Float arrays in one dtype (float32 only if all are float32)."""
    arrays = [None if a is None else as_float_array(a, "array") for a in arrays]
    dtype = result_dtype(*arrays)
    return [None if a is None else a.astype(dtype) for a in arrays]


def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """:func:`lessonlib.conv2d` with one Python loop per output pixel.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
    bias : ndarray of shape (C_out,), optional
    stride, padding, dilation, groups
        As in :func:`lessonlib.conv2d`.

    Returns
    -------
    ndarray of shape (N, C_out, Ho, Wo)
    """
    x, weight, bias = _arrays(x, weight, bias)
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    n_batch, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    top, bottom, left, right = padding_sides(padding, kernel_hw=(kh, kw), stride=(sh, sw),
                                             dilation=(dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    ho = conv_output_size(h, kh, sh, (top, bottom), dh)
    wo = conv_output_size(w, kw, sw, (left, right), dw)
    out_per_group = c_out // groups

    out = np.zeros((n_batch, c_out, ho, wo), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            g = o // out_per_group                         # this filter's group
            channels = slice(g * c_group, (g + 1) * c_group)
            for y in range(ho):
                for xx in range(wo):
                    window = xp[n, channels,
                                y * sh: y * sh + dh * (kh - 1) + 1: dh,
                                xx * sw: xx * sw + dw * (kw - 1) + 1: dw]
                    out[n, o, y, xx] = np.sum(window * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out


def conv2d_backward_loops(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """:func:`lessonlib.conv2d_backward` with one Python loop per output pixel.

    Each output pixel ``out[n, o, y, x] = sum(window * weight[o])`` sends
    ``dout[n, o, y, x] * weight[o]`` back to its window and
    ``dout[n, o, y, x] * window`` to ``weight[o]``.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dweight : ndarray of shape (C_out, C_in // groups, kH, kW)
    dbias : ndarray of shape (C_out,)
    """
    dout, x, weight = _arrays(dout, x, weight)
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    n_batch, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    top, bottom, left, right = padding_sides(padding, kernel_hw=(kh, kw), stride=(sh, sw),
                                             dilation=(dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_per_group = c_out // groups

    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    dbias = np.zeros(c_out, dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            g = o // out_per_group
            channels = slice(g * c_group, (g + 1) * c_group)
            for y in range(dout.shape[2]):
                for xx in range(dout.shape[3]):
                    rows = slice(y * sh, y * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(xx * sw, xx * sw + dw * (kw - 1) + 1, dw)
                    grad = dout[n, o, y, xx]
                    dxp[n, channels, rows, cols] += grad * weight[o]
                    dweight[o] += grad * xp[n, channels, rows, cols]
                    dbias[o] += grad
    dx = dxp[:, :, top:top + h, left:left + w]
    return np.ascontiguousarray(dx), dweight, dbias


def conv_transpose2d_loops(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1):
    """:func:`lessonlib.conv_transpose2d` with one Python loop per input pixel.

    Each input pixel stamps its value times the kernel into the output at
    ``(y*sH, x*sW)``; then ``padding`` is cropped from every side.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    weight : ndarray of shape (C_in, C_out // groups, kH, kW)
    bias : ndarray of shape (C_out,), optional
    stride, padding, output_padding, groups, dilation
        As in :func:`lessonlib.conv_transpose2d`.

    Returns
    -------
    ndarray of shape (N, C_out, Ho, Wo)
    """
    x, weight, bias = _arrays(x, weight, bias)
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    ph, pw = as_pair(padding, "padding", minimum=0)
    oph, opw = as_pair(output_padding, "output_padding", minimum=0)
    n_batch, c_in, h, w = x.shape
    _, out_per_group, kh, kw = weight.shape
    in_per_group = c_in // groups
    ho = conv_transpose_output_size(h, kh, sh, ph, oph, dh)
    wo = conv_transpose_output_size(w, kw, sw, pw, opw, dw)

    full = np.zeros((n_batch, out_per_group * groups, ho + 2 * ph, wo + 2 * pw), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            g = c // in_per_group
            channels = slice(g * out_per_group, (g + 1) * out_per_group)
            for y in range(h):
                for xx in range(w):
                    full[n, channels,
                         y * sh: y * sh + dh * (kh - 1) + 1: dh,
                         xx * sw: xx * sw + dw * (kw - 1) + 1: dw] += x[n, c, y, xx] * weight[c]
    out = full[:, :, ph:ph + ho, pw:pw + wo]
    if bias is not None:
        out = out + bias[:, None, None]
    return np.ascontiguousarray(out)
