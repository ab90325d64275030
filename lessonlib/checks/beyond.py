"""Checks of assignment 08: grouped, 1x1, depthwise-separable, dilated, transposed convolution."""

from __future__ import annotations

import sys

import numpy as np

import lessonlib.fast.im2col  # noqa: F401  (refused with a dilated plan)
import lessonlib.loops.conv  # noqa: F401  (its functions are refused in 08)

from .._validation import as_pair
from ._core import Diagnosis, ShapeDiagnosis, case, randn
from .channels import conv2d_param_count_reference
from ._runner import When, ref, run_with_hints, scipy_functions, torch_functions

__all__ = [
    "check_conv_param_count",
    "check_grouped_conv2d",
    "check_pointwise_conv2d",
    "check_depthwise_separable_conv2d",
    "check_dilated_conv2d",
    "check_receptive_field",
    "check_conv_transpose2d",
]


def _na():
    raise ValueError("not applicable")


def _groups_above_one(arguments):
    g = arguments.get("groups", 1)
    return not (isinstance(g, int) and g == 1)


def _dilated_or_grouped(arguments):
    return _groups_above_one(arguments) or as_pair(arguments.get("dilation", 1), "dilation") != (1, 1)


def _conv_forbidden(*names, test=_groups_above_one, what="groups > 1"):
    """lessonlib's convolutions: ``conv2d`` only when ``test`` (groups > 1; groups=1 is allowed)."""
    return [When(ref("conv2d"), test, f"lessonlib.conv.conv2d({what})"),
            When(sys.modules["lessonlib.loops.conv"].conv2d_loops, test,
                 f"lessonlib.loops.conv.conv2d_loops({what})"),
            "lessonlib.nn.conv.Conv2d.forward", "lessonlib.fast.im2col.backward",
            "torch.nn.functional.conv2d"] + [ref(n) for n in names]


# ------------------------------------------------------------ counting
def _param_count(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """``conv_param_count``'s argument order for the one count of :mod:`.channels`."""
    return conv2d_param_count_reference(in_channels, out_channels, kernel_size, bias, groups)


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
                   forbidden=["lessonlib.nn.conv.Conv2d.__init__"])


# ------------------------------------------------------------ dilated
def _dil_ref(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return ref("conv2d")(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def _dil_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _dil_shapes():
    def out(x, w, s, p, dh, dw):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        ho, wo = _dil_size(h, kh, s, p, dh), _dil_size(wd, kw, s, p, dw)
        return (n, f, ho, wo) if ho > 0 and wo > 0 else _na()

    def sig(fn):
        return lambda x, w, b=None, stride=1, padding=0, dilation=1: fn(x, w, stride, padding,
                                                                        dilation)

    def more_gaps(x, w, s, p, d):
        return out(x, w, s, p, d + 1, d + 1) if d > 1 else _na()

    def on_input(x, w, s, p, d):
        if d == 1:
            _na()
        n, c, h, wd = np.shape(x)
        return out(np.empty((n, c, -(-h // d), -(-wd // d))), w, s, p, 1, 1)

    def undilated(x, w, s, p, d):
        return out(x, w, s, p, 1, 1) if d > 1 else _na()

    def one_axis(x, w, s, p, d):
        if d == 1 or 1 in np.shape(w)[2:]:
            _na()
        return out(x, w, s, p, d, 1)

    def padding_scaled(x, w, s, p, d):
        if d == 1 or p == 0:
            _na()
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        return n, f, _dil_size(h, kh, s, p * d, d), _dil_size(wd, kw, s, p * d, d)

    def squared(x, w, s, p, d):
        return out(x, w, s, p, d * d, d * d) if d > 1 else _na()

    return [
        ShapeDiagnosis(sig(more_gaps),
                       "The kernel was spread with `dilation` zeros between its taps: with "
                       "dilation d, neighbouring taps are d pixels apart, so d - 1 zeros go "
                       "between them (a spread kernel of d*(k - 1) + 1 pixels, "
                       "spread[:, :, ::d, ::d] = weight)."),
        ShapeDiagnosis(sig(on_input),
                       "The dilation was applied to the input (x[:, :, ::dilation, ::dilation]): "
                       "it spreads the KERNEL. Every input pixel stays; the taps of one window "
                       "read pixels d apart."),
        ShapeDiagnosis(sig(undilated),
                       "The output size is that of the undilated kernel: a dilated kernel spans "
                       "d*(k - 1) + 1 pixels, so H_out = (H + 2*padding - d*(kH - 1) - 1) // "
                       "stride + 1 (conv_output_size with dilation). Or is the dilation "
                       "ignored?"),
        ShapeDiagnosis(sig(one_axis),
                       "The kernel was spread along the height only: spread both axes, "
                       "spread[:, :, ::d, ::d] = weight."),
        ShapeDiagnosis(sig(padding_scaled),
                       "The padding was multiplied by the dilation: pad `padding` zeros on "
                       "each side, as in an ordinary convolution."),
        ShapeDiagnosis(sig(squared),
                       "The taps are d*d apart: the spread kernel has d*(k - 1) + 1 rows and "
                       "columns, with the taps at multiples of d."),
    ]


def _dil_on_input(x, weight, bias=None, stride=1, padding=0, dilation=1):
    if dilation == 1:
        _na()
    return _dil_ref(np.asarray(x)[:, :, ::dilation, ::dilation], weight, bias, stride, padding)


def check_dilated_conv2d(student_fn, hidden=False, seed=0):
    """Check ``dilated_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    lessonlib's ``conv2d`` with dilation=1 and groups=1 may be used (on a spread kernel);
    with any other dilation (or groups) it is refused, like the loop version and PyTorch's.
    """
    rng = np.random.default_rng(seed)
    x1 = np.arange(49.0).reshape(1, 1, 7, 7) % 5
    w1 = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 1.0, -1.0]]]])
    cases = [
        case(x1, w1, dilation=2,
             description="x (1, 1, 7, 7), a 3x3 kernel, dilation 2"),
        case(randn(rng, 1, 2, 9, 8), randn(rng, 3, 2, 2, 3), randn(rng, 3), padding=2,
             dilation=3, description="x (1, 2, 9, 8), weight (3, 2, 2, 3), bias, padding 2, "
             "dilation 3"),
        case(randn(rng, 2, 3, 8, 11), randn(rng, 2, 3, 3, 2), randn(rng, 2), stride=2,
             padding=1, dilation=2, description="x (2, 3, 8, 11), weight (2, 3, 3, 2), bias, "
             "stride 2, padding 1, dilation 2"),
        case(randn(rng, 1, 2, 5, 6), randn(rng, 2, 2, 3, 3), randn(rng, 2), padding=1,
             description="x (1, 2, 5, 6), weight (2, 2, 3, 3), bias, padding 1, dilation 1 "
             "(an ordinary convolution)"),
    ]
    if hidden:
        specs = [  # (N, C, H, W), (F, kH, kW), bias?, stride, padding, dilation
            ((1, 1, 9, 9), (1, 3, 3), True, 1, 0, 3),
            ((2, 2, 10, 7), (3, 2, 3), True, 1, 2, 2),
            ((1, 3, 12, 9), (2, 3, 3), False, 3, 3, 2),
            ((3, 1, 8, 8), (2, 1, 1), True, 2, 0, 3),
            ((1, 2, 11, 13), (4, 3, 2), True, 2, 1, 3),
            ((2, 4, 6, 6), (1, 2, 2), True, 1, 0, 1),
            ((1, 2, 7, 10), (2, 3, 3), False, 1, 2, 2),
        ]
        for (n, c, h, w), (f, kh, kw), has_b, s, p, d in specs:
            cases.append(case(randn(rng, n, c, h, w), randn(rng, f, c, kh, kw),
                              randn(rng, f) if has_b else None, stride=s, padding=p,
                              dilation=d, description=f"x {(n, c, h, w)}, weight {(f, c, kh, kw)}"
                              f"{', bias' if has_b else ''}, stride {s}, padding {p}, "
                              f"dilation {d}"))
    diagnoses = [
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, dilation=1:
                  _dil_ref(x, np.asarray(w)[:, :, ::-1, ::-1], b, stride, padding, dilation),
                  "It matches the flipped kernel: that is true convolution, CNNs use "
                  "cross-correlation (no flip)."),
        Diagnosis(lambda x, w, b=None, stride=1, padding=0, dilation=1:
                  _dil_ref(x, w, None, stride, padding, dilation) if b is not None else _na(),
                  "The bias is missing: add bias[o] to every pixel of output channel o."),
        Diagnosis(_dil_on_input,
                  "The dilation was applied to the input (x[:, :, ::dilation, ::dilation]): "
                  "it spreads the KERNEL. Every input pixel stays; the taps of one window "
                  "read pixels d apart."),
    ]
    hints = [("could not be broadcast",
              "A window and the kernel have different shapes: with dilation d, a window of "
              "the padded input spans d*(kH - 1) + 1 rows and d*(kW - 1) + 1 columns, and its "
              "taps are every d-th pixel of it (window[..., ::d, ::d] has the kernel's shape).")]
    run_with_hints("dilated_conv2d", student_fn, _dil_ref, cases, hints,
                   diagnoses=diagnoses, shapes=_dil_shapes(),
                   forbidden=_conv_forbidden("conv2d_backward", "conv_transpose2d",
                                             "depthwise_separable_conv2d",
                                             test=_dilated_or_grouped,
                                             what="dilation > 1 or groups > 1")
                   + [When(sys.modules["lessonlib.fast.im2col"].forward,
                           lambda a: tuple(getattr(a.get("plan"), "dilation", (1, 1)))
                           != (1, 1), "lessonlib.fast.im2col.forward(dilation > 1)")]
                   + torch_functions("conv2d"))


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


# ------------------------------------------------------ pointwise (1x1)
def _pw_ref(x, weight, bias=None):
    return ref("conv2d")(x, weight, bias)


def _pw_matrix(weight):
    return np.asarray(weight, dtype=float)[:, :, 0, 0]


def _pw_bias(out, bias, axis):
    """``out`` (N, C_out, H, W) with ``bias`` added along ``axis`` (1 is right)."""
    if bias is None:
        raise ValueError("not applicable")
    shape = [1, 1, 1, 1]
    shape[axis] = len(bias)
    if out.shape[axis] != len(bias):
        raise ValueError("not applicable")
    return out + np.asarray(bias, dtype=float).reshape(shape)


def _pw_not_transposed(x, weight, bias=None):
    w = _pw_matrix(weight)
    if w.shape[0] != w.shape[1]:
        raise ValueError("not applicable")
    out = (np.asarray(x, dtype=float).transpose(0, 2, 3, 1) @ w).transpose(0, 3, 1, 2)
    return out if bias is None else out + np.asarray(bias)[None, :, None, None]


def _pw_moved(reshape_in, reshape_back):
    """The channels moved last and back with reshape (instead of transpose) on either way."""
    def wrong(x, weight, bias=None):
        x = np.asarray(x, dtype=float)
        n, c, h, w = x.shape
        if c == 1 or h * w == 1:
            raise ValueError("not applicable")
        y = (x.reshape(n, h, w, c) if reshape_in else x.transpose(0, 2, 3, 1)) \
            @ _pw_matrix(weight).T
        if bias is not None:
            y = y + bias
        return y.reshape(n, -1, h, w) if reshape_back else y.transpose(0, 3, 1, 2)
    return wrong


_PW_RESHAPED = ("The pixels are scrambled: the channels were moved with reshape, which keeps "
                "the order of the numbers and does not move an axis. Use x.transpose(0, 2, 3, "
                "1) to put the channels last and .transpose(0, 3, 1, 2) to put them back.")


def _pw_channels_summed(x, weight, bias=None):
    x = np.asarray(x, dtype=float)
    if x.shape[1] == 1:
        raise ValueError("not applicable")
    out = x.sum(axis=1, keepdims=True) * _pw_matrix(weight).sum(axis=1)[None, :, None, None]
    return out if bias is None else out + np.asarray(bias)[None, :, None, None]


def _pw_shapes():
    def shape(x, weight):
        (n, c, h, w), f = np.shape(x), np.shape(weight)[0]
        return n, c, h, w, f

    def spatial_swapped(x, weight, bias=None):
        n, c, h, w, f = shape(x, weight)
        return (n, f, w, h) if h != w else _na()

    def channels_last(x, weight, bias=None):
        n, c, h, w, f = shape(x, weight)
        return n, h, w, f

    def one_channel(x, weight, bias=None):
        n, c, h, w, f = shape(x, weight)
        return (n, 1, h, w) if f != 1 else _na()

    def input_channels(x, weight, bias=None):
        n, c, h, w, f = shape(x, weight)
        return (n, c, h, w) if f != c else _na()

    return [
        ShapeDiagnosis(spatial_swapped,
                       "Height and width are swapped: back from channels last (N, H, W, C_out) "
                       "to (N, C_out, H, W) is .transpose(0, 3, 1, 2), not .transpose(0, 3, 2, "
                       "1) (an input with H != W tells them apart)."),
        ShapeDiagnosis(channels_last,
                       "The channels are still last: move them back to axis 1 with "
                       ".transpose(0, 3, 1, 2)."),
        ShapeDiagnosis(one_channel,
                       "The output has one channel: the input channels were summed into one. "
                       "A 1x1 convolution has C_out = weight.shape[0] outputs, each its own "
                       "weighted sum of the C_in input channels."),
        ShapeDiagnosis(input_channels,
                       "The output has C_in channels: the products were summed over the "
                       "OUTPUT channels. Sum over the input channels: (N, H, W, C_in) @ W.T, "
                       "with W = weight[:, :, 0, 0] of shape (C_out, C_in)."),
    ]


def check_pointwise_conv2d(student_fn, hidden=False, seed=0):
    """Check ``pointwise_conv2d(x, weight, bias=None)``: a 1x1 convolution as a matrix product.

    weight has shape (C_out, C_in, 1, 1). No convolution may be called (lessonlib's
    ``conv2d`` not even with groups=1, nor PyTorch's), nor a fully connected layer.
    """
    rng = np.random.default_rng(seed)
    cases = [
        case(np.arange(24.0).reshape(1, 2, 3, 4) % 5, np.array([[1.0, 2.0], [0.0, -1.0],
                                                              [3.0, 1.0]]).reshape(3, 2, 1, 1),
             description="x (1, 2, 3, 4), weight (3, 2, 1, 1), no bias"),
        case(randn(rng, 2, 3, 4, 5), randn(rng, 4, 3, 1, 1), randn(rng, 4),
             description="x (2, 3, 4, 5), weight (4, 3, 1, 1), bias (4,)"),
        case(randn(rng, 1, 3, 2, 3), randn(rng, 3, 3, 1, 1), randn(rng, 3),
             description="x (1, 3, 2, 3), a square weight (3, 3, 1, 1), bias (3,)"),
        case(np.arange(2 * 2 * 3 * 3).reshape(2, 2, 3, 3) % 4, randn(rng, 2, 2, 1, 1),
             randn(rng, 2), description="int x (2, 2, 3, 3), weight (2, 2, 1, 1), bias (2,)"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 1, 8, 5, 7), randn(rng, 16, 8, 1, 1), randn(rng, 16),
                 description="x (1, 8, 5, 7), 8 -> 16 channels"),
            case(randn(rng, 3, 1, 6, 2), randn(rng, 5, 1, 1, 1), randn(rng, 5),
                 description="x (3, 1, 6, 2), 1 -> 5 channels"),
            case(randn(rng, 2, 16, 1, 1), randn(rng, 4, 16, 1, 1),
                 description="x (2, 16, 1, 1), 16 -> 4 channels, no bias"),
            case(randn(rng, 2, 4, 3, 4), randn(rng, 4, 4, 1, 1), randn(rng, 4),
                 description="x (2, 4, 3, 4), a square weight (4, 4, 1, 1), bias (4,)"),
            case(rng.integers(-3, 4, size=(1, 3, 4, 6)), randn(rng, 2, 3, 1, 1), randn(rng, 2),
                 description="int x (1, 3, 4, 6), 3 -> 2 channels"),
        ]
    diagnoses = [
        Diagnosis(lambda x, w, b=None: _pw_ref(x, w, None) if b is not None else _na(),
                  "The bias is missing: add bias[o] to every pixel of output channel o."),
        Diagnosis(_pw_not_transposed,
                  "The weight is not transposed: W = weight[:, :, 0, 0] is (C_out, C_in), so "
                  "the channels-last pixels (N, H, W, C_in) are multiplied by W.T."),
        Diagnosis(lambda x, w, b=None: _pw_bias(_pw_ref(x, w, None), b, 3),
                  "The bias was added along the width (the last axis of (N, C_out, H, W)): "
                  "add it while the channels are last, or as bias[None, :, None, None]."),
        Diagnosis(lambda x, w, b=None: _pw_bias(_pw_ref(x, w, None), b, 2),
                  "The bias was added along the height: it belongs to the channels, "
                  "bias[None, :, None, None] in (N, C_out, H, W)."),
        Diagnosis(lambda x, w, b=None: _pw_ref(x, w, b).transpose(0, 1, 3, 2)
                  if np.shape(x)[2] == np.shape(x)[3] else _na(),
                  "Each map is transposed: back from channels last (N, H, W, C_out) is "
                  ".transpose(0, 3, 1, 2), not .transpose(0, 3, 2, 1)."),
        Diagnosis(_pw_moved(True, False), _PW_RESHAPED),
        Diagnosis(_pw_moved(False, True), _PW_RESHAPED),
        Diagnosis(_pw_moved(True, True), _PW_RESHAPED),
        Diagnosis(_pw_channels_summed,
                  "The channels were summed before they were weighted: (sum of x over c) * "
                  "(sum of W[o] over c) is not sum of x[c] * W[o, c]. The matrix product does "
                  "the weighted sum: (N, H, W, C_in) @ W.T."),
        Diagnosis(lambda x, w, b=None: _pw_ref(x, w, b)[::-1] if len(x) > 1 else _na(),
                  "The images of the batch are in the wrong order: keep the batch axis 0 "
                  "where it is."),
    ]
    hints = [("mismatch in its core dimension",
              "The matrix product does not fit: the channels-last pixels (N, H, W, C_in) are "
              "multiplied by W.T, of shape (C_in, C_out), with W = weight[:, :, 0, 0]."),
             ("could not be broadcast",
              "The bias has one value per OUTPUT channel: add it while the channels are last "
              "(the last axis), or as bias[None, :, None, None] in (N, C_out, H, W).")]
    run_with_hints("pointwise_conv2d", student_fn, _pw_ref, cases, hints,
                   diagnoses=diagnoses, shapes=_pw_shapes(),
                   forbidden=[ref("conv2d"), ref("conv2d_backward"), ref("conv_transpose2d"),
                              ref("depthwise_separable_conv2d"), ref("linear"),
                              "lessonlib.loops.conv.conv2d_loops",
                              "lessonlib.fast.im2col.forward", "lessonlib.fast.im2col.backward",
                              "lessonlib.nn.conv.Conv2d.forward",
                              "lessonlib.nn.layers.Linear.forward"]
                   + torch_functions("conv2d", "linear") + scipy_functions())


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
                              "lessonlib.loops.conv.conv_transpose2d_loops",
                              "lessonlib.loops.conv.conv2d_backward_loops",
                              "lessonlib.fast.im2col.backward",
                              "lessonlib.nn.conv.ConvTranspose2d.forward",
                              "torch.nn.functional.conv_transpose2d"])
