"""Checks of assignment 08: grouped, depthwise-separable, dilated and transposed convolution."""

from __future__ import annotations

import sys

import numpy as np

import lessonlib.conv_loops  # noqa: F401  (its functions are refused in 08)

from ._core import Diagnosis, case, randn
from ._runner import When, ref, run_with_hints

__all__ = [
    "check_conv_param_count",
    "check_grouped_conv2d",
    "check_depthwise_separable_conv2d",
    "check_receptive_field",
    "check_conv_transpose2d",
]


def _na():
    raise ValueError("not applicable")


def _groups_above_one(arguments):
    g = arguments.get("groups", 1)
    return not (isinstance(g, int) and g == 1)


def _conv_forbidden(*names):
    """lessonlib's convolutions: ``conv2d`` only with groups > 1 (groups=1 is allowed)."""
    return [When(ref("conv2d"), _groups_above_one, "lessonlib.conv.conv2d(groups > 1)"),
            When(sys.modules["lessonlib.conv_loops"].conv2d_loops, _groups_above_one,
                 "lessonlib.conv_loops.conv2d_loops(groups > 1)"),
            "lessonlib.layers_conv.Conv2d.forward", "lessonlib.conv_im2col.backward",
            "torch.nn.functional.conv2d"] + [ref(n) for n in names]


# ------------------------------------------------------------ counting
def _param_count(in_channels, out_channels, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def check_conv_param_count(student_fn, hidden=False, seed=0):
    """Check ``conv_param_count(in_channels, out_channels, kernel_size, groups=1, bias=True)``."""
    cases = [
        case(3, 16, 3, description="3 -> 16 channels, 3x3 kernel"),
        case(32, 64, 3, groups=4, description="32 -> 64 channels, 3x3, groups=4"),
        case(8, 8, 5, bias=False, description="8 -> 8 channels, 5x5, no bias"),
    ]
    if hidden:
        cases += [
            case(64, 64, 3, groups=64, description="depthwise: 64 channels, groups=64"),
            case(64, 128, 1, description="pointwise 1x1: 64 -> 128"),
            case(1, 1, 1, bias=False, description="1 -> 1, 1x1, no bias"),
            case(12, 6, 7, groups=3, bias=False, description="12 -> 6, 7x7, groups=3, no bias"),
        ]
    diagnoses = [
        Diagnosis(lambda ci, co, k, groups=1, bias=True: _param_count(ci, co, k, 1, bias),
                  "groups is ignored: each filter only sees in_channels // groups input "
                  "channels, so the weight has shape (out, in // groups, k, k)."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True: _param_count(ci, co, k, groups, True),
                  "bias=False means no bias parameters."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True: _param_count(ci, co, k, groups, False),
                  "The bias is missing: one bias per output channel (when bias=True)."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True:
                  co * ci * groups * k * k + (co if bias else 0),
                  "Divide by groups, do not multiply: a filter sees in_channels // groups channels."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True:
                  co * (ci // groups) * k + (co if bias else 0),
                  "A k x k kernel has k*k weights per input channel, not k."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True:
                  _param_count(ci, co, k, groups, False) + (ci if bias else 0),
                  "There is one bias per OUTPUT channel (per filter), not per input channel."),
        Diagnosis(lambda ci, co, k, groups=1, bias=True:
                  _param_count(ci, co, k, groups, False) + (co // groups if bias and groups > 1
                                                             else _na()),
                  "That counts the biases of one group only: there is one bias per OUTPUT "
                  "channel, out_channels in all, whatever the groups."),
    ]
    run_with_hints("conv_param_count", student_fn, _param_count, cases,
                   diagnoses=diagnoses,
                   forbidden=["lessonlib.layers_conv.Conv2d.__init__"])


def _rf(kernel_sizes, dilations=None, strides=None):
    n = len(kernel_sizes)
    dilations = [1] * n if dilations is None else list(dilations)
    strides = [1] * n if strides is None else list(strides)
    r, jump = 1, 1
    for k, d, s in zip(kernel_sizes, dilations, strides):
        r += (k - 1) * d * jump
        jump *= s
    return r


def _rf_own_stride(kernel_sizes, dilations=None, strides=None):
    if strides is None or all(s == 1 for s in strides):
        raise ValueError("not applicable")
    n = len(kernel_sizes)
    dilations = [1] * n if dilations is None else list(dilations)
    r, jump = 1, 1
    for k, d, s in zip(kernel_sizes, dilations, strides):
        jump *= s
        r += (k - 1) * d * jump
    return r


def check_receptive_field(student_fn, hidden=False, seed=0):
    """Check ``receptive_field(kernel_sizes, dilations=None, strides=None)``."""
    cases = [
        case([3, 3, 3], description="three 3x3 layers"),
        case([3, 3, 3], [1, 2, 4], description="3x3 layers with dilations 1, 2, 4"),
        case([3, 2, 3, 3], [1, 1, 1, 2], [1, 2, 1, 1],
             description="3x3, a 2x2 stride-2 pool, 3x3, then 3x3 with dilation 2"),
    ]
    if hidden:
        cases += [
            case([5], description="one 5x5 layer"),
            case([3, 2, 3], [1, 1, 1], [1, 2, 1], description="3x3, 2x2 stride 2 pool, 3x3"),
            case([3, 3, 3, 3], [1, 2, 4, 8], description="dilations 1, 2, 4, 8"),
            case([7, 3, 3], [1, 2, 1], [2, 1, 2], description="kernels 7, 3, 3 with dilations and strides"),
            case([1, 1], description="two 1x1 layers"),
        ]
    diagnoses = [
        Diagnosis(lambda ks, ds=None, ss=None: _rf(ks, None, ss),
                  "dilations are ignored: a kernel of size k with dilation d spans "
                  "d*(k-1) + 1 pixels."),
        Diagnosis(lambda ks, ds=None, ss=None: _rf(ks, ds, None),
                  "strides are ignored: after a layer with stride s, one step in the next "
                  "layer moves s pixels in the input, so later layers grow the field s times faster."),
        Diagnosis(lambda ks, ds=None, ss=None: sum(k * d for k, d in zip(ks, ds or [1] * len(ks))),
                  "Adjacent layers share a pixel: each layer adds d*(k-1) to the field, "
                  "starting from 1."),
        Diagnosis(lambda ks, ds=None, ss=None: int(np.prod(ks)),
                  "Receptive fields grow by addition, not multiplication: r = 1 + sum of d*(k-1) "
                  "(times the product of the earlier strides)."),
        Diagnosis(lambda ks, ds=None, ss=None: _rf_own_stride(ks, ds, ss),
                  "A layer's own stride was counted in its own step: the stride of a layer "
                  "spreads the layers AFTER it, so multiply the jump by s after adding "
                  "d*(k-1)*jump (the product of the earlier strides only)."),
    ]
    run_with_hints("receptive_field", student_fn, _rf, cases, diagnoses=diagnoses)


# --------------------------------------------------------- grouped conv
def _grouped_ref(x, weight, bias=None, stride=1, padding=0, groups=1):
    return ref("conv2d")(x, weight, bias, stride=stride, padding=padding, groups=groups)


def _interleaved(x, weight, bias=None, stride=1, padding=0, groups=1):
    c = x.shape[1]
    if groups in (1, c):
        raise ValueError("not distinguishable")
    order = np.concatenate([np.arange(g, c, groups) for g in range(groups)])
    return _grouped_ref(x[:, order], weight, bias, stride, padding, groups)


def _same_filters(x, weight, bias=None, stride=1, padding=0, groups=1):
    if groups == 1:
        raise ValueError("not applicable")
    fg = weight.shape[0] // groups
    w = np.concatenate([weight[:fg]] * groups)
    return _grouped_ref(x, w, bias, stride, padding, groups)


def check_grouped_conv2d(student_fn, hidden=False, seed=0):
    """Check ``grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1)``."""
    rng = np.random.default_rng(seed)
    x = np.arange(2 * 4 * 4 * 4, dtype=float).reshape(2, 4, 4, 4) / 10
    w = randn(rng, 4, 2, 3, 3)
    cases = [
        case(x, w, groups=2, description="x (2, 4, 4, 4), weight (4, 2, 3, 3), groups=2"),
        case(x, randn(rng, 4, 1, 3, 3), randn(rng, 4), padding=1, groups=4,
             description="depthwise: x (2, 4, 4, 4), weight (4, 1, 3, 3), groups=4, padding 1"),
        case(randn(rng, 1, 4, 5, 7), randn(rng, 6, 2, 2, 3), randn(rng, 6), stride=2,
             padding=1, groups=2, description="x (1, 4, 5, 7), weight (6, 2, 2, 3), groups=2, "
             "stride 2, padding 1"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 1, 6, 7, 5), randn(rng, 9, 2, 3, 2), randn(rng, 9), stride=2,
                 padding=1, groups=3, description="x (1, 6, 7, 5), 6 -> 9 channels, groups=3, "
                 "stride 2, padding 1"),
            case(randn(rng, 2, 3, 5, 5), randn(rng, 2, 3, 3, 3), randn(rng, 2),
                 description="groups=1 (a plain convolution)"),
            case(randn(rng, 1, 8, 4, 4), randn(rng, 4, 4, 1, 1), groups=2,
                 description="1x1 kernel, 8 -> 4 channels, groups=2"),
            case(randn(rng, 1, 2, 6, 6), randn(rng, 6, 1, 3, 3), groups=2,
                 description="channel multiplier 3: 2 -> 6 channels, groups=2"),
        ]
    diagnoses = [
        Diagnosis(_interleaved,
                  "Group g takes the CONTIGUOUS input channels g*C_in/groups ... "
                  "(g+1)*C_in/groups - 1, and produces the contiguous output channels "
                  "g*C_out/groups ... of the result; yours interleaves them."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, groups=1:
                  _grouped_ref(x, w, None, stride, padding, groups),
                  "The bias is missing: add bias[o] to output channel o."),
        Diagnosis(_same_filters,
                  "Every group used the first block of filters: group g convolves its "
                  "channels with its own filters weight[g*C_out/groups:(g+1)*C_out/groups]."),
    ]

    def shape_hint(got, exp, case_):
        s, p = case_.kwargs.get("stride", 1), case_.kwargs.get("padding", 0)
        if len(got) == 4 and got[:2] == exp[:2] and s != 1 and got[2] > exp[2]:
            return "stride is ignored: pass stride to the convolution of every group."
        if len(got) == 4 and got[:2] == exp[:2] and p and got[2] < exp[2]:
            return "padding is ignored: pass padding to the convolution of every group."
        if len(got) == 4 and got[1] != exp[1]:
            return "The output has C_out = weight.shape[0] channels: concatenate every group's."
        return ""
    hints = [(("raised",), "weight has shape (C_out, C_in // groups, kH, kW): split x into "
              "`groups` blocks of C_in // groups channels and weight into `groups` blocks "
              "of C_out // groups filters, convolve block g with block g, concatenate.")]
    run_with_hints("grouped_conv2d", student_fn, _grouped_ref, cases, hints,
                   diagnoses=diagnoses, shape_hint=shape_hint,
                   forbidden=_conv_forbidden("conv_transpose2d", "conv2d_backward",
                                             "depthwise_separable_conv2d"))


# ---------------------------------------------------- depthwise separable
def _dws_ref(x, dw, pw, db=None, pb=None, stride=1, padding=0):
    return ref("depthwise_separable_conv2d")(x, dw, pw, db, pb, stride=stride, padding=padding)


def _dws_by_parts(x, dw, pw, db=None, pb=None, stride=1, padding=0, relu=False,
                  pw_stride=1, pw_padding=0):
    conv2d = ref("conv2d")
    h = conv2d(x, dw, db, stride=stride, padding=padding, groups=x.shape[1])
    if relu:
        h = np.maximum(h, 0)
    return conv2d(h, pw, pb, stride=pw_stride, padding=pw_padding)


def check_depthwise_separable_conv2d(student_fn, hidden=False, seed=0):
    """Check ``depthwise_separable_conv2d(x, depthwise_weight, pointwise_weight, ...)``."""
    rng = np.random.default_rng(seed)
    cases = [
        case(randn(rng, 1, 2, 5, 5), randn(rng, 2, 1, 3, 3), randn(rng, 3, 2, 1, 1),
             description="x (1, 2, 5, 5), depthwise (2, 1, 3, 3), pointwise (3, 2, 1, 1)"),
        case(randn(rng, 2, 3, 4, 4), randn(rng, 3, 1, 3, 3), randn(rng, 4, 3, 1, 1),
             randn(rng, 3), randn(rng, 4), padding=1,
             description="with both biases, padding 1"),
        case(randn(rng, 1, 2, 5, 7), randn(rng, 2, 1, 3, 3), randn(rng, 3, 2, 1, 1),
             randn(rng, 2), randn(rng, 3), stride=2, padding=1,
             description="x (1, 2, 5, 7), both biases, stride 2, padding 1"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 1, 4, 7, 6), randn(rng, 4, 1, 3, 3), randn(rng, 2, 4, 1, 1),
                 randn(rng, 4), randn(rng, 2), stride=2, padding=1,
                 description="x (1, 4, 7, 6), stride 2, padding 1"),
            case(randn(rng, 3, 1, 5, 5), randn(rng, 1, 1, 2, 2), randn(rng, 1, 1, 1, 1),
                 description="one channel in and out, 2x2 depthwise kernel"),
            case(randn(rng, 1, 3, 6, 6), randn(rng, 3, 1, 3, 3), randn(rng, 5, 3, 1, 1),
                 None, randn(rng, 5), stride=2,
                 description="pointwise bias only, stride 2"),
        ]
    diagnoses = [
        Diagnosis(lambda *a, **k: _dws_by_parts(*a, **k, relu=True),
                  "There is no ReLU between the two steps here: the depthwise result goes "
                  "straight into the pointwise 1x1 convolution."),
        Diagnosis(lambda x, dw, pw, db=None, pb=None, stride=1, padding=0:
                  _dws_by_parts(x, dw, pw, None, pb, stride, padding),
                  "depthwise_bias is missing: add it after the depthwise step."),
        Diagnosis(lambda x, dw, pw, db=None, pb=None, stride=1, padding=0:
                  _dws_by_parts(x, dw, pw, db, None, stride, padding),
                  "pointwise_bias is missing: add it after the 1x1 step."),
        Diagnosis(lambda x, dw, pw, db=None, pb=None, stride=1, padding=0:
                  _dws_by_parts(x, dw, pw, None, None, stride, padding),
                  "Both biases are missing: depthwise_bias after the depthwise step, "
                  "pointwise_bias after the 1x1 step."),
    ]

    def hint(got, exp, case_):
        s, p = case_.kwargs.get("stride", 1), case_.kwargs.get("padding", 0)
        if len(got) == 4 and got[2] > exp[2] and p:
            return "Padding belongs to the depthwise step only; the 1x1 step needs none."
        if len(got) == 4 and got[2] < exp[2] and s > 1:
            return "Stride belongs to the depthwise step only; the 1x1 step uses stride 1."
        if len(got) == 4 and got[1] != exp[1]:
            return ("The output has C_out = pointwise_weight.shape[0] channels: did you "
                    "apply the pointwise step?")
        return ""

    run_with_hints("depthwise_separable_conv2d", student_fn, _dws_ref, cases,
                   diagnoses=diagnoses, shape_hint=hint,
                   forbidden=_conv_forbidden("depthwise_separable_conv2d", "conv_transpose2d"))


# ------------------------------------------------------- transposed conv
def _ct_ref(x, w, b=None, stride=1, padding=0, output_padding=0):
    return ref("conv_transpose2d")(x, w, b, stride=stride, padding=padding,
                                   output_padding=output_padding)


def _ct_shape_hint(got, exp, case_):
    s = case_.kwargs.get("stride", 1)
    p = case_.kwargs.get("padding", 0)
    op = case_.kwargs.get("output_padding", 0)
    if len(got) != 4:
        return "The output is 4-D: (N, C_out, H_out, W_out)."
    if got[1] != exp[1]:
        return ("weight of a transposed convolution has shape (C_in, C_out, kH, kW): "
                "the output has weight.shape[1] channels.")
    dh = got[2] - exp[2]
    if op and dh == -op:
        return (f"The output is {op} pixel(s) short: output_padding is ignored (it adds "
                f"{op} row(s) and column(s) at the bottom and right).")
    if p and dh == 2 * p:
        return (f"padding is ignored: in a transposed convolution it REMOVES {p} pixel(s) "
                f"from each side of the output (it undoes the forward conv's padding).")
    if p and dh == 4 * p:
        return "padding crops the output of a transposed convolution, it does not add zeros."
    if s > 1 and got[2] < exp[2]:
        return (f"stride {s} is ignored: input pixel (i, j) scatters its kernel to output "
                f"position (i*{s}, j*{s}); H_out = (H - 1)*stride - 2*padding + kH + output_padding.")
    return "H_out = (H - 1)*stride - 2*padding + kH + output_padding."


def _ct_assign(x, w, b=None, stride=1, padding=0, output_padding=0):
    """The scatter loop with = instead of +=."""
    n, c, h, wd = x.shape
    _, f, kh, kw = w.shape
    s = stride
    out = np.zeros((n, f, (h - 1) * s + kh + output_padding, (wd - 1) * s + kw + output_padding))
    for bi in range(n):
        for ci in range(c):
            for i in range(h):
                for j in range(wd):
                    out[bi, :, i * s:i * s + kh, j * s:j * s + kw] = x[bi, ci, i, j] * w[ci]
    p = padding
    out = out[:, :, p:out.shape[2] - p, p:out.shape[3] - p]
    if b is not None:
        out = out + np.asarray(b)[None, :, None, None]
    return out


def check_conv_transpose2d(student_fn, hidden=False, seed=0):
    """Check ``conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0)``."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.array([[[[1.0, 0.0], [2.0, -1.0]]]]),
             description="x [[1, 2], [3, 4]], 2x2 kernel, stride 1"),
        case(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.ones((1, 1, 3, 3)), stride=2,
             description="x [[1, 2], [3, 4]], 3x3 kernel of ones, stride 2 (overlaps add up)"),
        case(randn(rng, 1, 2, 3, 3), randn(rng, 2, 3, 3, 3), randn(rng, 3), stride=2,
             padding=1, output_padding=1,
             description="x (1, 2, 3, 3), weight (2, 3, 3, 3), stride 2, padding 1, output_padding 1"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 2, 3, 4, 5), randn(rng, 3, 2, 2, 3), randn(rng, 2), stride=2,
                 description="x (2, 3, 4, 5), kernel 2x3, stride 2"),
            case(randn(rng, 1, 1, 5, 4), randn(rng, 1, 1, 3, 3), padding=1,
                 description="one channel, padding 1"),
            case(randn(rng, 1, 2, 3, 3), randn(rng, 2, 2, 4, 4), stride=3, padding=2,
                 output_padding=2, description="stride 3, padding 2, output_padding 2"),
            case(randn(rng, 3, 4, 2, 2), randn(rng, 4, 1, 1, 1), description="1x1 kernel, 4 -> 1 channels"),
            case(randn(rng, 1, 2, 3, 3), randn(rng, 2, 2, 3, 3), randn(rng, 2), stride=2,
                 output_padding=1, description="square weight (2, 2, 3, 3), stride 2, output_padding 1"),
        ]
    diagnoses = [
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, output_padding=0:
                  _ct_ref(x, w[:, :, ::-1, ::-1], b, stride, padding, output_padding),
                  "The kernel is rotated by 180 degrees. A transposed convolution scatters "
                  "x[i, j] * weight into the output at (i*stride, j*stride), unflipped."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, output_padding=0:
                  _ct_ref(x, w.transpose(1, 0, 2, 3), b, stride, padding, output_padding),
                  "weight has shape (C_in, C_out, kH, kW) here: weight[c, o] links input "
                  "channel c to output channel o (the transpose of conv2d's layout)."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, output_padding=0:
                  _ct_ref(x, w, None, stride, padding, output_padding),
                  "The bias is missing: add bias[o] to every pixel of output channel o."),
        Diagnosis(_ct_assign,
                  "The output is off where the scattered kernels overlap: each input pixel "
                  "ADDS x[i, j] * weight into the output. Accumulate with += instead of "
                  "assigning with =."),
    ]
    hints = [(("raised",), "Remember the layout: x is (N, C_in, H, W) and weight is "
              "(C_in, C_out, kH, kW); the output is (N, C_out, H_out, W_out) with "
              "H_out = (H - 1)*stride - 2*padding + kH + output_padding.")]
    run_with_hints("conv_transpose2d", student_fn, _ct_ref, cases, hints,
                   diagnoses=diagnoses, shape_hint=_ct_shape_hint,
                   forbidden=[ref("conv_transpose2d"), ref("conv2d_backward"),
                              "lessonlib.conv_loops.conv_transpose2d_loops",
                              "lessonlib.conv_loops.conv2d_backward_loops",
                              "lessonlib.conv_im2col.backward",
                              "lessonlib.layers_conv.ConvTranspose2d.forward",
                              "torch.nn.functional.conv_transpose2d"])
