"""Checks of assignments 03 (channels and filters) and 04 (ReLU and pooling).

Re-exported by :mod:`lessonlib.checks.basics`; see there for how a check
works.
"""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from .. import conv as _conv
from .. import pooling as _pool
from .. import signal as _sig
from ._core import Diagnosis
from .basics_cases import conv2d_cases, param_count_cases, pool_cases, relu_cases
from .basics_common import (ShapeDiagnosis, When, as_pair, broadcast_advice, conv_fn, documented,
                            int_result, loop_diagnoses, run, scipy_functions, skip,
                            torch_functions, truncated)

__all__ = [
    "check_conv2d", "check_conv2d_param_count", "check_linear_param_count",
    "check_relu", "check_max_pool2d", "check_avg_pool2d",
]


# ----------------------------------------------------------------------------- 03

def _conv2d_wrongs():
    def conv(x, weight, bias=None, stride=1, padding=0):
        return _conv.conv2d(x, weight, bias, stride=stride, padding=padding)

    def no_stride_step(x, weight, bias=None, stride=1, padding=0):
        if as_pair(stride) == (1, 1):
            raise ValueError("not applicable")
        full = conv(x, weight, bias, 1, padding)
        ho, wo = conv(x, weight, bias, stride, padding).shape[2:]
        return full[:, :, :ho, :wo]

    def stride_on_input(x, weight, bias=None, stride=1, padding=0):
        sh, sw = as_pair(stride)
        if (sh, sw) == (1, 1):
            raise ValueError("not applicable")
        return conv(np.asarray(x)[:, :, ::sh, ::sw], weight, bias, 1, padding)

    def stride_on_padded(x, weight, bias=None, stride=1, padding=0):
        sh, sw = as_pair(stride)
        ph, pw = as_pair(padding)
        if (sh, sw) == (1, 1):
            raise ValueError("not applicable")
        xp = np.pad(np.asarray(x), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        return conv(xp[:, :, ::sh, ::sw], weight, bias, 1, 0)

    def bias_inside(x, weight, bias=None, stride=1, padding=0):
        if bias is None:
            raise ValueError("not applicable")
        taps = int(np.prod(np.shape(weight)[1:]))
        return conv(x, weight, bias, stride, padding) + (taps - 1) * np.asarray(
            bias, dtype=float)[None, :, None, None]

    def bias_sum(x, weight, bias=None, stride=1, padding=0):
        if bias is None or len(bias) < 2:
            raise ValueError("not applicable")
        return conv(x, weight, None, stride, padding) + np.sum(bias)

    return [
        Diagnosis(lambda x, w, b=None, stride=1, padding=0:
                  conv(x, np.asarray(w)[..., ::-1, ::-1], b, stride, padding),
                  "It matches the flipped kernel: that is true convolution, CNNs use "
                  "cross-correlation (no flip)."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0:
                  conv(x, w, None, stride, padding) if b is not None else skip(),
                  "You forgot the bias: add bias[f] to every value of output channel f."),
        Diagnosis(bias_sum, "Every output channel got the sum of all biases: filter f adds "
                            "its own bias[f] only."),
        Diagnosis(no_stride_step,
                  "The output has the right size, but the windows start at (i, j) instead of "
                  "(i * stride, j * stride): step the window by the stride."),
        Diagnosis(stride_on_input,
                  "The stride was applied to the input (x[:, :, ::stride]), which drops input "
                  "pixels before the kernel sees them. The stride is the step of the window: "
                  "window (i, j) starts at (i * stride, j * stride) of the padded input, and "
                  "covers kH x kW neighbouring pixels."),
        Diagnosis(stride_on_padded,
                  "The stride was applied to the padded input (xp[:, :, ::stride]), which "
                  "drops pixels before the kernel sees them. The stride is the step of the "
                  "window: window (i, j) starts at (i * stride, j * stride) and covers kH x kW "
                  "neighbouring pixels."),
        Diagnosis(bias_inside,
                  "The bias was added inside the sum, to every product (sum(window * w + b)), "
                  "so it counts C_in * kH * kW times. Add bias[f] once per output value, "
                  "after the sum."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0:
                  _act.relu(conv(x, w, b, stride, padding)),
                  "Negative values are missing: conv2d is linear, the ReLU comes after it "
                  "as a separate layer."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0:
                  conv(np.asarray(x)[:, :1], np.asarray(w)[:, :1], b, stride, padding)
                  if np.shape(x)[1] > 1 else skip(),
                  "Only the first input channel is used: a filter spans the full depth of "
                  "the input, sum the products over every input channel."),
    ]


def _conv_ref(x, w, b=None, stride=1, padding=0):
    return _conv.conv2d(x, w, b, stride=stride, padding=padding)


def _conv2d_shapes():
    def out(x, w, stride=1, padding=0, once=False):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
        m = 1 if once else 2
        return (n, f, (h + m * ph - kh) // sh + 1, (wd + m * pw - kw) // sw + 1)

    def sig(fn):
        return lambda x, w, b=None, stride=1, padding=0: fn(x, w, stride, padding)

    def swapped(a):
        a = as_pair(a)
        if a[0] == a[1]:
            raise ValueError
        return a[::-1]

    def square(x, w, s, p):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        if kh == kw:
            raise ValueError
        (sh, sw), (ph, pw) = as_pair(s), as_pair(p)
        return (n, f, (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kh) // sw + 1)

    def strided_input(x, w, s, p):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        (sh, sw), (ph, pw) = as_pair(s), as_pair(p)
        if (sh, sw) == (1, 1):
            raise ValueError
        h2, w2 = -(-h // sh), -(-wd // sw)
        return (n, f, h2 + 2 * ph - kh + 1, w2 + 2 * pw - kw + 1)

    return [
        ShapeDiagnosis(sig(square),
                        "The kernel was taken as square: a kernel has kH = weight.shape[2] rows "
                        "and kW = weight.shape[3] columns, which may differ."),
        ShapeDiagnosis(sig(strided_input),
                        "The stride was applied to the input (x[:, :, ::stride]). The stride is "
                        "the step of the window: window (i, j) starts at (i * stride, "
                        "j * stride), and the output has conv_output_size(H, kH, stride, "
                        "padding) rows."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, 0) if as_pair(p) != (0, 0)
                           else skip()),
                        "Is padding applied? Pad x with `padding` zeros on each side of the "
                        "height and width before sliding the kernel."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, 1, p)),
                        "Stride ignored: with stride s the window jumps s pixels, and the "
                        "output has conv_output_size(H, kH, s, padding) rows."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, p, once=True)),
                        "Padding counted only once: the padded height is H + 2 * padding."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, swapped(p))),
                        "Height and width padding are swapped: padding=(ph, pw)."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, swapped(s), p)),
                        "Height and width strides are swapped: stride=(sh, sw)."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, p)[:1] + (np.shape(x)[1],)
                            + out(x, w, s, p)[2:]),
                        "The output has one channel per input channel; it needs one per "
                        "filter: C_out = weight.shape[0]."),
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, p)[1:]),
                        "The batch axis is missing: the output is (N, C_out, H_out, W_out), "
                        "even when N = 1."),
    ]


@documented
def check_conv2d(student_fn, hidden=False, seed=0):
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0)`` (int or pair stride/padding)."""
    diagnoses = _conv2d_wrongs() + [truncated(_conv_ref, "conv2d")] + loop_diagnoses(_conv_ref)
    run("conv2d", student_fn, _conv_ref, conv2d_cases(hidden, seed), diagnoses,
        _conv2d_shapes(),
        forbidden=[conv_fn("conv2d"), conv_fn("conv2d_backward"), _sig.correlate2d,
                   _sig.convolve2d, "lessonlib.conv_loops.conv2d_loops",
                   "lessonlib.conv_im2col.forward"] + scipy_functions()
        + torch_functions("conv2d"),
        hints=[("could not be broadcast", broadcast_advice("kernel"))])


def conv2d_param_count_reference(in_channels, out_channels, kernel_size, bias=True):
    """Learnable numbers of a Conv2d layer: weights (C_out, C_in, kH, kW) and C_out biases."""
    kh, kw = as_pair(kernel_size)
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def linear_param_count_reference(in_features, out_features, bias=True):
    """Learnable numbers of a Linear layer: weights (out, in) and ``out`` biases."""
    return out_features * in_features + (out_features if bias else 0)


@documented
def check_conv2d_param_count(student_fn, hidden=False, seed=0):
    """Check ``conv2d_param_count(in_channels, out_channels, kernel_size, bias=True)``."""
    def kk(k):
        kh, kw = as_pair(k)
        return kh * kw

    diagnoses = [
        Diagnosis(lambda ci, co, k, bias=True: co * ci * kk(k) if bias else skip(),
                  "You forgot the bias: every filter has one, out_channels more numbers."),
        Diagnosis(lambda ci, co, k, bias=True: co * kk(k) + (co if bias else 0),
                  "in_channels is missing: each filter spans the full depth of the input, "
                  "so it has in_channels * kH * kW weights."),
        Diagnosis(lambda ci, co, k, bias=True: ci * kk(k) + (1 if bias else 0),
                  "That counts a single filter: the layer has out_channels of them."),
        Diagnosis(lambda ci, co, k, bias=True: co * ci * kk(k) + (co * ci if bias else 0),
                  "One bias per filter, not per (filter, input channel) pair."),
        Diagnosis(lambda ci, co, k, bias=True: co * ci * as_pair(k)[0] ** 2 + (co if bias else 0),
                  "For kernel_size=(kH, kW) the filter has kH * kW taps, not kH ** 2."),
        Diagnosis(lambda ci, co, k, bias=True: co * ci * sum(as_pair(k)) + (co if bias else 0),
                  "A kH x kW kernel has kH * kW taps per input channel, not kH + kW."),
        Diagnosis(lambda ci, co, k, bias=True: co * kk(k) * (ci + 1) if bias else skip(),
                  "The bias was counted as one more input channel (kH * kW numbers per "
                  "filter); a filter has ONE bias: out_channels biases in all."),
        Diagnosis(lambda ci, co, k, bias=True: co * ci * kk(k) + co if not bias else skip(),
                  "With bias=False the layer has no bias: only the weights count."),
    ]
    run("conv2d_param_count", student_fn, conv2d_param_count_reference,
                param_count_cases("conv", hidden, seed), diagnoses,
                post=int_result("conv2d_param_count"))


@documented
def check_linear_param_count(student_fn, hidden=False, seed=0):
    """Check ``linear_param_count(in_features, out_features, bias=True)``."""
    diagnoses = [
        Diagnosis(lambda i, o, bias=True: i * o if bias else skip(),
                  "You forgot the bias: one per output feature."),
        Diagnosis(lambda i, o, bias=True: i * o + (i if bias else 0),
                  "There is one bias per output feature (out_features), not per input."),
        Diagnosis(lambda i, o, bias=True: i * o + (1 if bias else 0),
                  "There is one bias per output feature, not one for the whole layer."),
        Diagnosis(lambda i, o, bias=True: (i + 1) * (o + 1) if bias else skip(),
                  "That is (in + 1) * (out + 1): the bias adds one number per output feature "
                  "only, in * out + out."),
        Diagnosis(lambda i, o, bias=True: i * o + o if not bias else skip(),
                  "With bias=False the layer has no bias: only the in * out weights count."),
    ]
    run("linear_param_count", student_fn, linear_param_count_reference,
                param_count_cases("linear", hidden, seed), diagnoses,
                post=int_result("linear_param_count"))


# ----------------------------------------------------------------------------- 04

@documented
def check_relu(student_fn, hidden=False, seed=0):
    """Check ``relu(x)`` = max(0, x) elementwise, any shape, input untouched."""
    diagnoses = [
        Diagnosis(lambda x: (np.asarray(x) > 0).astype(float),
                  "It returns 1/0 (is x positive?) instead of the values: ReLU keeps the "
                  "positive values themselves, np.maximum(x, 0)."),
        Diagnosis(lambda x: np.abs(x),
                  "It returns |x|: negative inputs must become 0, not positive."),
        Diagnosis(lambda x: np.minimum(x, 0),
                  "It keeps the negative values and zeroes the positive ones: "
                  "use np.maximum(x, 0)."),
        Diagnosis(lambda x: np.clip(x, 0, 1),
                  "Values above 1 are clipped: ReLU has no upper limit."),
        Diagnosis(lambda x: np.where(np.asarray(x) > 0, x, 0.01 * np.asarray(x)),
                  "That is a leaky ReLU (0.01 x for x < 0); plain ReLU returns 0 there."),
    ]
    diagnoses.append(truncated(_act.relu, "relu"))
    run("relu", student_fn, _act.relu, relu_cases(hidden, seed), diagnoses,
        forbidden=[_act.relu, _act.relu_backward] + torch_functions("relu"))


def _pool_shapes():
    def out(x, k, s=None, p=0, ceil=False):
        n, c, h, w = np.shape(x)
        (kh, kw) = as_pair(k)
        (sh, sw) = as_pair(k if s is None else s)
        (ph, pw) = as_pair(p)
        if ceil:
            return (n, c, -((h + 2 * ph - kh) // -sh) + 1, -((w + 2 * pw - kw) // -sw) + 1)
        return (n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    def sig(fn):
        return lambda x, kernel_size, stride=None, padding=0: fn(x, kernel_size, stride, padding)

    def square(x, k, s, p):
        kh, kw = as_pair(k)
        if kh == kw:
            raise ValueError
        return out(x, (kh, kh), k if s is None else s, p)

    def swapped(v):
        v = as_pair(v)
        if v[0] == v[1]:
            raise ValueError
        return v[::-1]

    return [
        ShapeDiagnosis(sig(square),
                        "The window was taken as square: kernel_size=(kH, kW) has kH rows and "
                        "kW columns, which may differ."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, s, swapped(p))),
                        "Height and width padding are swapped: padding=(ph, pw) adds ph rows "
                        "above and below, pw columns left and right."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, swapped(s), p) if s is not None
                           else skip()),
                        "Height and width strides are swapped: stride=(sh, sw)."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, 1, p) if s is None else skip()),
                        "stride=None means stride = kernel_size (windows side by side, no "
                        "overlap), not 1."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, k, p) if s is not None else skip()),
                        "Stride ignored: the windows must move by `stride`, not by the kernel "
                        "size."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, s, 0) if as_pair(p) != (0, 0)
                           else skip()),
                        "Is padding applied? Pad the height and width by `padding` on each "
                        "side first."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, s, p, ceil=True)),
                        "The size is rounded up: a window that does not fit entirely is "
                        "dropped (floor division //)."),
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, s, p)[:1] + (1,) + out(x, k, s, p)[2:]),
                        "Pooling mixes channels: it acts on each channel (depth slice) on its "
                        "own, so the number of channels does not change."),
    ]


def _groups_of(arguments):
    g = arguments.get("groups", 1)
    return g if isinstance(g, int) else 1


def _pool_common(pool, name):
    """Value diagnoses shared by max and average pooling."""
    def no_step(x, kernel_size, stride=None, padding=0):
        s = kernel_size if stride is None else stride
        if as_pair(s) == (1, 1):
            raise ValueError("not applicable")
        ho, wo = pool(x, kernel_size, stride, padding).shape[2:]
        return pool(x, kernel_size, 1, padding)[:, :, :ho, :wo]

    def mix(axis):
        def wrong(x, kernel_size, stride=None, padding=0):
            x = np.asarray(x, dtype=float)
            if x.shape[1] == 1 and axis == (1,) or x.shape[0] * x.shape[1] == 1:
                raise ValueError("not applicable")
            red = x.max(axis=axis, keepdims=True) if name == "max" else x.mean(axis=axis,
                                                                               keepdims=True)
            return np.broadcast_to(pool(red, kernel_size, stride, padding),
                                   pool(x, kernel_size, stride, padding).shape)
        return wrong

    return [
        Diagnosis(no_step, "The output has the right size, but the windows start at (i, j) "
                           "instead of (i * stride, j * stride): step the window by the stride."),
        Diagnosis(mix((1,)), "Pooling mixes channels: take the "
                             f"{name} over each channel's window on its own, "
                             "x[n, c, window], never across channels."),
        Diagnosis(mix((0, 1)), "Pooling mixes channels and images: every (n, c) slice is "
                               "pooled on its own."),
    ]


@documented
def check_max_pool2d(student_fn, hidden=False, seed=0):
    """Check ``max_pool2d(x, kernel_size, stride=None, padding=0)`` (pads with -inf, as torch)."""
    def zero_pad(x, kernel_size, stride=None, padding=0):
        if as_pair(padding) == (0, 0):
            raise ValueError("not applicable")
        p = as_pair(padding)
        return _pool.max_pool2d(_sig.pad2d(x, p), kernel_size, stride, 0)

    diagnoses = _pool_common(_pool.max_pool2d, "max") + [
        Diagnosis(zero_pad, "It pads with zeros: max pooling pads with -inf, so the padding "
                            "never wins over a (possibly negative) value."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  _pool.avg_pool2d(x, kernel_size, stride, padding),
                  "That is average pooling: max pooling keeps the largest value of each "
                  "window."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  -_pool.max_pool2d(-np.asarray(x, dtype=float), kernel_size, stride, padding),
                  "It keeps the smallest value of each window: use .max()."),
    ]
    diagnoses += loop_diagnoses(_pool.max_pool2d)
    run("max_pool2d", student_fn, _pool.max_pool2d, pool_cases("max", hidden, seed),
        diagnoses, _pool_shapes(),
        forbidden=[_pool.max_pool2d, "lessonlib.pool_loops.max_pool2d_loops"]
        + torch_functions("max_pool2d"),
        hints=[("could not be broadcast", broadcast_advice("window"))])


@documented
def check_avg_pool2d(student_fn, hidden=False, seed=0):
    """Check ``avg_pool2d(x, kernel_size, stride=None, padding=0)`` (padding zeros count, as torch)."""
    def k_area(kernel_size):
        kh, kw = as_pair(kernel_size)
        return kh * kw

    def exclude(x, kernel_size, stride=None, padding=0):
        if as_pair(padding) == (0, 0):
            raise ValueError("not applicable")
        ones = np.ones_like(np.asarray(x, dtype=float))
        return (_pool.avg_pool2d(x, kernel_size, stride, padding)
                / _pool.avg_pool2d(ones, kernel_size, stride, padding))

    diagnoses = _pool_common(_pool.avg_pool2d, "mean") + [
        Diagnosis(exclude, "The average excludes the padding zeros: as in PyTorch "
                           "(count_include_pad=True) divide by kH * kW, padding included."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  _pool.avg_pool2d(x, kernel_size, stride, padding) * k_area(kernel_size),
                  "It is the sum of each window: divide by the number of values, kH * kW."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  _pool.avg_pool2d(x, kernel_size, stride, padding) * k_area(kernel_size)
                  / as_pair(kernel_size)[0],
                  "It divides by kH only: the window holds kH * kW values."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  _pool.max_pool2d(x, kernel_size, stride, padding),
                  "That is max pooling: average pooling keeps the mean of each window."),
    ]
    diagnoses += [truncated(_pool.avg_pool2d, "avg_pool2d")] + loop_diagnoses(_pool.avg_pool2d)
    run("avg_pool2d", student_fn, _pool.avg_pool2d, pool_cases("avg", hidden, seed),
        diagnoses, _pool_shapes(),
        forbidden=[_pool.avg_pool2d, "lessonlib.pool_loops.avg_pool2d_loops",
                   When(conv_fn("conv2d"), lambda a: _groups_of(a) > 1)]
        + torch_functions("avg_pool2d"),
        hints=[("could not be broadcast", broadcast_advice("window"))])
