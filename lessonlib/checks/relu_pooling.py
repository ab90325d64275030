"""Checks of assignment 04 (ReLU and pooling): relu, max_pool2d, avg_pool2d.

They work as the checks of 01 (:mod:`lessonlib.checks.convolution`): value
and shape diagnoses name the likely mistake; the hidden cases add ties in
max pooling, overlapping windows and padding.
"""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from .. import pooling as _pool
from .. import padding as _pad
from .._validation import as_pair
from ._core import Case, Diagnosis, ShapeDiagnosis, _a, skip
from ._runner import (When, broadcast_advice, conv_fn, documented, loop_diagnoses, run,
                      torch_functions, truncated)

__all__ = ["check_relu", "check_max_pool2d", "check_avg_pool2d"]


# ----------------------------------------------------------------------------- relu

def relu_cases(hidden, seed):
    """Cases ``(x,)`` for relu."""
    rng = np.random.default_rng(seed)
    cases = [Case((np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),), {}, "x = [-2, -0.5, 0, 0.5, 2]"),
             Case((rng.integers(-3, 4, size=(1, 2, 3, 3)).astype(float),), {},
                  "x of shape (1, 2, 3, 3)")]
    if hidden:
        cases += [
            Case((rng.normal(size=(2, 3, 4, 5)) * 10,), {}, "random x of shape (2, 3, 4, 5)"),
            Case((-np.abs(rng.normal(size=(3, 4))) - 0.1,), {}, "all-negative x"),
            Case((np.array([[1e300, -1e300], [3.5, -0.0]]),), {}, "huge values"),
            Case((rng.normal(size=(2, 8)).astype(np.float32),), {}, "float32 x"),
        ]
    return cases


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


# ----------------------------------------------------------------------------- pooling

def _pool_case(x, k, s=None, p=0, label=""):
    kwargs = {}
    if s is not None:
        kwargs["stride"] = s
    if p != 0:
        kwargs["padding"] = p
    desc = ", ".join([f"x of shape {x.shape}", f"kernel_size={k}"]
                     + [f"{a}={v}" for a, v in kwargs.items()])
    return Case((x, k), kwargs, (label + ": " if label else "") + desc)


def pool_cases(kind, hidden, seed):
    """Cases ``(x, kernel_size, stride=, padding=)`` for max_pool2d / avg_pool2d."""
    rng = np.random.default_rng(seed)
    x44 = _a([1, 3, 2, 0], [5, 4, 1, 2], [0, 2, 8, 6], [1, 1, 7, 3]).reshape(1, 1, 4, 4)
    cases = [
        _pool_case(x44, 2, label="2x2 windows, stride left at its default"),
        _pool_case(rng.integers(-3, 6, size=(1, 2, 4, 4)).astype(float), 2, 1),
        _pool_case(-1.0 - rng.integers(0, 5, size=(1, 1, 5, 5)).astype(float), 3, 1, 1,
                   label="negative values, padding 1"),
        _pool_case(np.arange(2 * 5 * 10).reshape(1, 2, 5, 10) * 7 % 11, (2, 3), 2, (1, 0),
                   label="int x wider than tall, 2x3 windows, stride 2, padding (1, 0)"),
    ]
    if hidden:
        specs = [  # shape, kernel, stride, padding
            ((2, 3, 6, 8), 2, None, 0), ((1, 1, 7, 5), 3, 2, 1), ((1, 2, 5, 7), 2, None, 0),
            ((2, 1, 9, 6), (3, 2), (2, 1), (1, 1)), ((1, 3, 4, 4), 4, None, 0),
            ((3, 2, 8, 9), 3, 3, 1), ((1, 1, 6, 6), (2, 4), (2, 3), (0, 2)),
            ((1, 2, 5, 5), 1, 2, 0), ((2, 2, 7, 7), 3, 1, 1),
        ]
        for shape, k, s, p in specs:
            cases.append(_pool_case(rng.normal(size=shape), k, s, p))
        ties = rng.integers(-1, 2, size=(2, 3, 6, 6)).astype(float)
        cases.append(_pool_case(ties, 2, label="many ties"))
        cases.append(_pool_case(ties, 3, 2, 1, label="many ties, overlapping windows"))
        cases.append(_pool_case(-np.abs(rng.normal(size=(1, 1, 5, 6))) - 1, (3, 3), 2, (1, 1),
                                label="all negative, padding 1"))
        cases.append(_pool_case(rng.normal(size=(1, 2, 6, 6)).astype(np.float32), 2,
                                label="float32"))
    return cases


def _pool_shapes():
    def out(x, k, s=None, p=0, ceil=False):
        n, c, h, w = np.shape(x)
        (kh, kw) = as_pair(k, "kernel_size")
        (sh, sw) = as_pair(k if s is None else s, "stride")
        (ph, pw) = as_pair(p, "padding", 0)
        if ceil:
            return (n, c, -((h + 2 * ph - kh) // -sh) + 1, -((w + 2 * pw - kw) // -sw) + 1)
        return (n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    def sig(fn):
        return lambda x, kernel_size, stride=None, padding=0: fn(x, kernel_size, stride, padding)

    def square(x, k, s, p):
        kh, kw = as_pair(k, "kernel_size")
        if kh == kw:
            raise ValueError
        return out(x, (kh, kh), k if s is None else s, p)

    def swapped(v):
        v = as_pair(v, "value", 0)
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
        ShapeDiagnosis(sig(lambda x, k, s, p: out(x, k, s, 0) if as_pair(p, "padding", 0) != (0, 0)
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
        if as_pair(s, "stride") == (1, 1):
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
        if as_pair(padding, "padding", 0) == (0, 0):
            raise ValueError("not applicable")
        p = as_pair(padding, "padding", 0)
        return _pool.max_pool2d(_pad.pad2d(x, p), kernel_size, stride, 0)

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
        forbidden=[_pool.max_pool2d, "lessonlib.loops.pooling.max_pool2d_loops"]
        + torch_functions("max_pool2d"),
        hints=[("could not be broadcast", broadcast_advice("window"))])


@documented
def check_avg_pool2d(student_fn, hidden=False, seed=0):
    """Check ``avg_pool2d(x, kernel_size, stride=None, padding=0)`` (padding zeros count, as torch)."""
    def k_area(kernel_size):
        kh, kw = as_pair(kernel_size, "kernel_size")
        return kh * kw

    def exclude(x, kernel_size, stride=None, padding=0):
        if as_pair(padding, "padding", 0) == (0, 0):
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
                  / as_pair(kernel_size, "kernel_size")[0],
                  "It divides by kH only: the window holds kH * kW values."),
        Diagnosis(lambda x, kernel_size, stride=None, padding=0:
                  _pool.max_pool2d(x, kernel_size, stride, padding),
                  "That is max pooling: average pooling keeps the mean of each window."),
    ]
    diagnoses += [truncated(_pool.avg_pool2d, "avg_pool2d")] + loop_diagnoses(_pool.avg_pool2d)
    run("avg_pool2d", student_fn, _pool.avg_pool2d, pool_cases("avg", hidden, seed),
        diagnoses, _pool_shapes(),
        forbidden=[_pool.avg_pool2d, "lessonlib.loops.pooling.avg_pool2d_loops",
                   When(conv_fn("conv2d"), lambda a: _groups_of(a) > 1)]
        + torch_functions("avg_pool2d"),
        hints=[("could not be broadcast", broadcast_advice("window"))])
