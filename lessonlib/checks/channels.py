"""Checks of assignment 03 (channels and filters): conv2d, conv2d_fast and the counts.

They work as the checks of 01 (:mod:`lessonlib.checks.convolution`): value
and shape diagnoses name the likely mistake. The counts must be integers.
``conv2d_fast`` is checked on conv2d's own cases, with the diagnoses of a
vectorised version added, and must not loop over the output positions.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from .. import activations as _act
from .. import conv as _conv
from .. import signal as _sig
from .._validation import as_pair
from ._core import (Case, CheckFailed, Diagnosis, ShapeDiagnosis, _a, _is_notebook_frame,
                    skip)
from ._runner import (broadcast_advice, conv_fn, documented, int_result, loop_diagnoses, run,
                      scipy_functions, torch_functions, truncated)

__all__ = ["check_conv2d", "check_conv2d_fast", "check_conv2d_param_count",
           "check_linear_param_count"]


# ----------------------------------------------------------------------------- conv2d

def _conv_case(x, w, b=None, stride=1, padding=0, label=""):
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    parts = [f"x of shape {x.shape}", f"weight of shape {w.shape}",
             "no bias" if b is None else f"bias of shape {b.shape}"]
    parts += [f"{a}={v}" for a, v in kwargs.items()]
    args = (x, w) if b is None else (x, w, b)
    return Case(args, kwargs, (label + ": " if label else "") + ", ".join(parts))


def conv2d_cases(hidden, seed):
    """Cases ``(x, weight[, bias], stride=, padding=)`` for conv2d."""
    rng = np.random.default_rng(seed)
    x1 = np.arange(16, dtype=float).reshape(1, 1, 4, 4) % 5
    w1 = _a([1, 0, -1], [1, 0, -1], [1, 0, -1]).reshape(1, 1, 3, 3)
    xs = rng.integers(-2, 3, size=(1, 3, 5, 5)).astype(float)
    ws = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(float)
    cases = [
        _conv_case(x1, w1, label="one channel, one filter"),
        _conv_case(xs, ws, np.array([0.5, -1.0]), label="3 channels, 2 filters"),
        _conv_case(rng.integers(-2, 3, size=(2, 2, 5, 5)).astype(float),
                   rng.integers(-1, 2, size=(3, 2, 3, 3)).astype(float),
                   np.array([1.0, 0.0, -1.0]), stride=2, padding=1),
        _conv_case(rng.integers(0, 4, size=(1, 1, 4, 6)).astype(float),
                   _a([1, 2, 1], [-1, -2, -1]).reshape(1, 1, 2, 3), None,
                   stride=(1, 2), padding=(1, 0)),
        _conv_case(np.arange(2 * 5 * 8).reshape(1, 2, 5, 8) % 4,
                   np.array([[[[0.5, -1.0], [1.0, 0.0], [0.0, 0.5]],
                              [[1.0, 0.5], [-0.5, 0.0], [0.0, 1.0]]],
                             [[[0.0, 1.0], [0.5, 0.5], [-1.0, 0.0]],
                              [[0.5, 0.0], [0.0, -0.5], [1.0, 1.0]]]]),
                   np.array([0.25, -1.0]), stride=2, padding=(1, 0),
                   label="int x, 3x2 kernel, stride 2 (the last column does not fit)"),
    ]
    if hidden:
        specs = [  # (N, C, H, W), (F, kH, kW), bias?, stride, padding
            ((1, 1, 7, 5), (1, 3, 3), True, 1, 0),
            ((2, 3, 6, 9), (4, 2, 2), True, 2, 1),
            ((1, 2, 7, 7), (3, 3, 3), False, 3, 2),
            ((3, 1, 5, 8), (2, 4, 1), True, (2, 1), (0, 2)),
            ((1, 4, 4, 4), (1, 4, 4), True, 1, 0),
            ((2, 2, 9, 6), (2, 1, 1), True, 2, 0),
            ((1, 3, 8, 5), (5, 2, 4), False, (3, 2), (1, 1)),
            ((1, 1, 3, 3), (2, 3, 3), True, 1, 1),
            ((2, 3, 10, 7), (2, 3, 2), True, 3, (2, 0)),
        ]
        for (n, c, h, w), (f, kh, kw), has_b, s, p in specs:
            x = rng.normal(size=(n, c, h, w))
            wt = rng.normal(size=(f, c, kh, kw))
            b = rng.normal(size=f) if has_b else None
            cases.append(_conv_case(x, wt, b, s, p))
        x = rng.normal(size=(1, 2, 6, 5)).astype(np.float32)
        wt = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
        cases.append(_conv_case(x, wt, rng.normal(size=3).astype(np.float32), 2, 1,
                                label="float32"))
    return cases


def _conv2d_wrongs():
    def conv(x, weight, bias=None, stride=1, padding=0):
        return _conv.conv2d(x, weight, bias, stride=stride, padding=padding)

    def no_stride_step(x, weight, bias=None, stride=1, padding=0):
        if as_pair(stride, "stride") == (1, 1):
            raise ValueError("not applicable")
        full = conv(x, weight, bias, 1, padding)
        ho, wo = conv(x, weight, bias, stride, padding).shape[2:]
        return full[:, :, :ho, :wo]

    def stride_on_input(x, weight, bias=None, stride=1, padding=0):
        sh, sw = as_pair(stride, "stride")
        if (sh, sw) == (1, 1):
            raise ValueError("not applicable")
        return conv(np.asarray(x)[:, :, ::sh, ::sw], weight, bias, 1, padding)

    def stride_on_padded(x, weight, bias=None, stride=1, padding=0):
        sh, sw = as_pair(stride, "stride")
        ph, pw = as_pair(padding, "padding", 0)
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
        (sh, sw), (ph, pw) = as_pair(stride, "stride"), as_pair(padding, "padding", 0)
        m = 1 if once else 2
        return (n, f, (h + m * ph - kh) // sh + 1, (wd + m * pw - kw) // sw + 1)

    def sig(fn):
        return lambda x, w, b=None, stride=1, padding=0: fn(x, w, stride, padding)

    def swapped(a):
        a = as_pair(a, "value", 0)
        if a[0] == a[1]:
            raise ValueError
        return a[::-1]

    def square(x, w, s, p):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        if kh == kw:
            raise ValueError
        (sh, sw), (ph, pw) = as_pair(s, "stride"), as_pair(p, "padding", 0)
        return (n, f, (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kh) // sw + 1)

    def strided_input(x, w, s, p):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        (sh, sw), (ph, pw) = as_pair(s, "stride"), as_pair(p, "padding", 0)
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
        ShapeDiagnosis(sig(lambda x, w, s, p: out(x, w, s, 0) if as_pair(p, "padding", 0) != (0, 0)
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


def _conv2d_forbidden():
    """What computes a convolutional layer: lessonlib's, SciPy's and PyTorch's convolutions."""
    return [conv_fn("conv2d"), conv_fn("conv2d_backward"), _sig.correlate2d, _sig.convolve2d,
            "lessonlib.loops.conv.conv2d_loops", "lessonlib.fast.im2col.forward"] \
        + scipy_functions() + torch_functions("conv2d")


@documented
def check_conv2d(student_fn, hidden=False, seed=0):
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0)`` (int or pair stride/padding)."""
    diagnoses = _conv2d_wrongs() + [truncated(_conv_ref, "conv2d")] + loop_diagnoses(_conv_ref)
    run("conv2d", student_fn, _conv_ref, conv2d_cases(hidden, seed), diagnoses,
        _conv2d_shapes(), forbidden=_conv2d_forbidden(),
        hints=[("could not be broadcast", broadcast_advice("kernel"))])


# ----------------------------------------------------------------------------- conv2d_fast
# The same layer, vectorised: all windows at once (sliding_window_view or im2col) and one
# product. Its own mistakes are about axes: which array is windowed, which axes the stride
# and the product act on, and in which order the result's axes come out.

def _fast_wrongs():
    def out_of(fn):
        """``fn`` applied to the result before the bias is added (on axis 1, as usual)."""
        def wrong(x, w, b=None, stride=1, padding=0):
            out = fn(_conv_ref(x, w, None, stride, padding), x, w)
            return out if b is None else out + np.asarray(b, dtype=float)[None, :, None, None]
        return wrong

    def batch_channel_swapped(out, x, w):
        if out.shape[0] != out.shape[1] or out.shape[0] < 2:
            skip()
        return out.transpose(1, 0, 2, 3)

    def reshaped(out, x, w):
        n, f, ho, wo = out.shape
        if f < 2 or ho * wo < 2:
            skip()
        return out.transpose(0, 2, 3, 1).reshape(n, f, ho, wo)

    def hw_transposed(out, x, w):
        if out.shape[2] != out.shape[3] or out.shape[2] < 2:
            skip()
        return out.transpose(0, 1, 3, 2)

    def kernel_transposed(x, w, b=None, stride=1, padding=0):
        w = np.asarray(w)
        if w.shape[2] != w.shape[3] or w.shape[2] < 2:
            skip()
        return _conv_ref(x, w.transpose(0, 1, 3, 2), b, stride, padding)

    def flipped_or_transposed(x, w, b=None, stride=1, padding=0):
        flipped = _conv_ref(x, np.asarray(w)[..., ::-1, ::-1], b, stride, padding)
        if not np.allclose(flipped, kernel_transposed(x, w, b, stride, padding)):
            skip()
        return flipped

    def filters_channels_swapped(x, w, b=None, stride=1, padding=0):
        w = np.asarray(w)
        if w.shape[0] != w.shape[1] or w.shape[0] < 2:
            skip()
        return _conv_ref(x, w.transpose(1, 0, 2, 3), b, stride, padding)

    return [
        Diagnosis(flipped_or_transposed,
                  "It matches the flipped kernel, and the transposed one too (this input "
                  "cannot tell them apart): either the kernel was flipped (true convolution; "
                  "CNNs use cross-correlation, no flip), or the tensordot axes pair the "
                  "window's kernel axes with the weight's in the wrong order (pair the "
                  "window axes (C_in, kH, kW) with weight axes (1, 2, 3))."),
        Diagnosis(out_of(batch_channel_swapped),
                  "The batch and channel axes are swapped: np.tensordot(weight, windows, ...) "
                  "puts the filters first, (C_out, N, H_out, W_out). Put the windows first, "
                  "np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3])) gives (N, H_out, "
                  "W_out, C_out), then .transpose(0, 3, 1, 2)."),
        Diagnosis(out_of(reshaped),
                  "The maps are scrambled: the channels-last result (N, H_out, W_out, C_out) "
                  "was reshaped to (N, C_out, H_out, W_out). reshape keeps the order of the "
                  "numbers, it does not move an axis: use .transpose(0, 3, 1, 2)."),
        Diagnosis(out_of(hw_transposed),
                  "Each map is transposed (its rows are the columns): the axes were moved "
                  "back with .transpose(0, 3, 2, 1); the channels-last (N, H_out, W_out, "
                  "C_out) goes to (N, C_out, H_out, W_out) with .transpose(0, 3, 1, 2)."),
        Diagnosis(kernel_transposed,
                  "It matches the transposed kernel: the tensordot axes pair the window's "
                  "kernel axes with the weight's in the wrong order. Pair them in the same "
                  "order: window axes (C_in, kH, kW) with weight axes (1, 2, 3)."),
        Diagnosis(filters_channels_swapped,
                  "The filters and the input channels are swapped: weight is (C_out, C_in, kH, "
                  "kW), so the window's channel axis is contracted with weight axis 1, and the "
                  "output's channels come from weight axis 0."),
    ]


def _fast_shapes():
    def full(x, w, p):
        (n, c, h, wd), (f, _, kh, kw) = np.shape(x), np.shape(w)
        ph, pw = as_pair(p, "padding", 0)
        return n, f, h + 2 * ph - kh + 1, wd + 2 * pw - kw + 1

    def up(a, s):
        return -(-a // s)

    def unpadded(x, w, b=None, stride=1, padding=0):
        if as_pair(padding, "padding", 0) == (0, 0):
            skip()
        return _conv_ref(x, w, None, stride, 0).shape

    def strided_batch(x, w, b=None, stride=1, padding=0):
        (sh, sw), (n, f, h1, w1) = as_pair(stride, "stride"), full(x, w, padding)
        if (sh, sw) == (1, 1):
            skip()
        return up(n, sh), up(f, sw), h1, w1

    def strided_channels_last(x, w, b=None, stride=1, padding=0):
        (sh, sw), (n, f, h1, w1) = as_pair(stride, "stride"), full(x, w, padding)
        if (sh, sw) == (1, 1):
            skip()
        return n, up(f, sw), h1, up(w1, sh)

    def channels_last(x, w, b=None, stride=1, padding=0):
        n, f, ho, wo = _conv_ref(x, w, None, stride, padding).shape
        return n, ho, wo, f

    def filters_first(x, w, b=None, stride=1, padding=0):
        n, f, ho, wo = _conv_ref(x, w, None, stride, padding).shape
        if b is not None:   # (C_out, N, ...) + bias.reshape(1, -1, 1, 1) broadcasts
            return (f, f, ho, wo) if n in (1, f) else skip()
        return f, n, ho, wo

    def hw_swapped(x, w, b=None, stride=1, padding=0):
        n, f, ho, wo = _conv_ref(x, w, None, stride, padding).shape
        return n, f, wo, ho

    return [
        ShapeDiagnosis(unpadded,
                       "The windows were taken from the unpadded x: pad first (np.pad), then "
                       "take the windows of the padded array."),
        ShapeDiagnosis(strided_batch,
                       "The stride was applied to the wrong axes (the batch and channel axes "
                       "0 and 1): keep every stride-th POSITION, windows[:, :, ::sH, ::sW] "
                       "(axes 2 and 3 of the windows, or of an (N, C_out, H, W) result)."),
        ShapeDiagnosis(strided_channels_last,
                       "The stride was applied to the wrong axes of a channels-last result "
                       "(N, H, W, C_out): axes 2 and 3 are the width and the channels there. "
                       "Keep every stride-th position, [:, ::sH, ::sW, :], or stride the "
                       "windows before the product, windows[:, :, ::sH, ::sW]."),
        ShapeDiagnosis(channels_last,
                       "The channels are last: np.tensordot(windows, weight, axes=([1, 4, 5], "
                       "[1, 2, 3])) returns (N, H_out, W_out, C_out); move them to axis 1 with "
                       ".transpose(0, 3, 1, 2)."),
        ShapeDiagnosis(filters_first,
                       "The batch and channel axes are swapped: np.tensordot(weight, windows, "
                       "...) puts the filters first. Put the windows first and move the "
                       "channel axis with .transpose(0, 3, 1, 2)."),
        ShapeDiagnosis(hw_swapped,
                       "Height and width are swapped: from (N, H_out, W_out, C_out) go to "
                       "(N, C_out, H_out, W_out) with .transpose(0, 3, 1, 2), not "
                       ".transpose(0, 3, 2, 1)."),
    ]


class _TooManyLines(Exception):
    """Raised inside the student's function by the line counter of :func:`_loop_free`."""


#: A case with many output positions and nothing else to loop over (one image, one
#: channel, one filter, a 1x1 kernel): a loop over rows alone runs 2 * 120 lines.
_PROBE_SIZE, _LINE_BUDGET = 120, 100


def _loop_free(student_fn, name):
    """Refuse a Python loop over the output positions: count the lines the student's code runs.

    On one image of :data:`_PROBE_SIZE` x :data:`_PROBE_SIZE` pixels with a 1x1 kernel, a
    vectorised version runs a few dozen lines of its own code (its file and the notebook's
    cells; NumPy's are not counted), a loop over the rows alone more than
    :data:`_LINE_BUDGET`. Only for a function of this process (a function in the student's
    kernel is checked on its values only); a crash is left to the cases to report.
    """
    fn = inspect.unwrap(student_fn) if callable(student_fn) else None
    code = getattr(fn, "__code__", None)
    if code is None or hasattr(student_fn, "forbidding"):
        return
    own = code.co_filename
    lines = [0]

    def count(frame, event, arg):
        if event == "line":
            lines[0] += 1
            if lines[0] > _LINE_BUDGET:
                raise _TooManyLines
        return count

    def tracer(frame, event, arg):
        filename = frame.f_code.co_filename
        return count if filename == own or _is_notebook_frame(filename) else None

    x = np.ones((1, 1, _PROBE_SIZE, _PROBE_SIZE))
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        student_fn(x, np.ones((1, 1, 1, 1)))
    except _TooManyLines:
        pass
    except Exception:  # noqa: BLE001 - the cases report crashes, with the case
        return
    finally:
        sys.settrace(previous)
    if lines[0] > _LINE_BUDGET:
        raise CheckFailed(
            f"{name} loops over the output positions in Python: for one "
            f"{_PROBE_SIZE} x {_PROBE_SIZE} image and a 1x1 kernel it ran more than "
            f"{_LINE_BUDGET} lines of your code. Take every window at once, "
            f"np.lib.stride_tricks.sliding_window_view(xp, (kH, kW), axis=(2, 3)), keep every "
            f"stride-th one, and contract them with the weight in ONE np.tensordot (or "
            f"np.einsum).")


_TENSORDOT_ADVICE = (
    "The product (tensordot or einsum) must pair equal sizes: the windows' (C_in, kH, kW) "
    "axes with the weight's axes (1, 2, 3). If the stride was applied to the kernel axes of "
    "the windows (axes 4 and 5) instead of the positions (axes 2 and 3), their sizes no "
    "longer match: windows[:, :, ::sH, ::sW].")


_BIAS_ADVICE = (
    "The bias does not fit the result: it has one value per output channel, for axis 1 of "
    "(N, C_out, H_out, W_out). Look at the result's shape before adding it: if the stride "
    "or the product acted on the wrong axes, the channels are not on axis 1.")


@documented
def check_conv2d_fast(student_fn, hidden=False, seed=0):
    """Check ``conv2d_fast(x, weight, bias=None, stride=1, padding=0)``: conv2d, vectorised.

    The cases are :func:`check_conv2d`'s; the diagnoses add what a vectorised version gets
    wrong (the unpadded input windowed, the stride or the product on the wrong axes, the
    result's axes in the wrong order), and a Python loop over the positions is refused.
    """
    _loop_free(student_fn, "conv2d_fast")
    fast = _fast_wrongs()
    diagnoses = fast[:1] + _conv2d_wrongs() + fast[1:] + [truncated(_conv_ref, "conv2d_fast")]
    run("conv2d_fast", student_fn, _conv_ref, conv2d_cases(hidden, seed), diagnoses,
        _fast_shapes() + _conv2d_shapes(),
        forbidden=_conv2d_forbidden() + ["lessonlib.fast.im2col.im2col"],
        hints=[(("could not be broadcast", "bias"), _BIAS_ADVICE),
               ("shape-mismatch for sum", _TENSORDOT_ADVICE),
               ("remapped shapes", _TENSORDOT_ADVICE),     # np.einsum's mismatch
               ("could not be broadcast", broadcast_advice("kernel"))])


# ----------------------------------------------------------------------------- counting

def param_count_cases(kind, hidden, seed):
    """Cases for conv2d_param_count (kind 'conv') or linear_param_count ('linear')."""
    if kind == "conv":
        cases = [Case((3, 16, 3), {}, "in_channels=3, out_channels=16, kernel_size=3"),
                 Case((1, 6, 5), {}, "in_channels=1, out_channels=6, kernel_size=5"),
                 Case((16, 32, 3), {"bias": False},
                      "in_channels=16, out_channels=32, kernel_size=3, bias=False"),
                 Case((3, 8, (1, 5)), {}, "in_channels=3, out_channels=8, kernel_size=(1, 5)")]
        if hidden:
            rng = np.random.default_rng(seed)
            cases += [Case((64, 128, 1), {}, "a 1x1 convolution, 64 -> 128 channels"),
                      Case((1, 1, 1), {"bias": False}, "1 -> 1 channel, 1x1, no bias")]
            for _ in range(6):
                ci, co = int(rng.integers(1, 65)), int(rng.integers(1, 65))
                k = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
                b = bool(rng.integers(0, 2))
                cases.append(Case((ci, co, k), {"bias": b},
                                  f"in_channels={ci}, out_channels={co}, kernel_size={k}, "
                                  f"bias={b}"))
        return cases
    cases = [Case((784, 10), {}, "in_features=784, out_features=10"),
             Case((3, 2), {"bias": False}, "in_features=3, out_features=2, bias=False")]
    if hidden:
        rng = np.random.default_rng(seed)
        cases += [Case((1, 1), {}, "in_features=1, out_features=1"),
                  Case((3 * 32 * 32, 16 * 30 * 30), {}, "a 3x32x32 image to 16x30x30 outputs")]
        for _ in range(4):
            i, o = int(rng.integers(1, 5000)), int(rng.integers(1, 500))
            cases.append(Case((i, o), {"bias": True}, f"in_features={i}, out_features={o}"))
    return cases


def conv2d_param_count_reference(in_channels, out_channels, kernel_size, bias=True, groups=1):
    """Learnable numbers of a Conv2d layer: weights (C_out, C_in // groups, kH, kW) and C_out
    biases. The one parameter count of the checks (03's and, with groups, 08's)."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def linear_param_count_reference(in_features, out_features, bias=True):
    """Learnable numbers of a Linear layer: weights (out, in) and ``out`` biases."""
    return out_features * in_features + (out_features if bias else 0)


@documented
def check_conv2d_param_count(student_fn, hidden=False, seed=0):
    """Check ``conv2d_param_count(in_channels, out_channels, kernel_size, bias=True)``."""
    def kk(k):
        kh, kw = as_pair(k, "kernel_size")
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
        Diagnosis(lambda ci, co, k, bias=True: co * ci * as_pair(k, "kernel_size")[0] ** 2 + (co if bias else 0),
                  "For kernel_size=(kH, kW) the filter has kH * kW taps, not kH ** 2."),
        Diagnosis(lambda ci, co, k, bias=True: co * ci * sum(as_pair(k, "kernel_size")) + (co if bias else 0),
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
