"""Checks of assignment 06: backward passes, numerical gradients, and learning a kernel."""

from __future__ import annotations

import functools

import numpy as np

from . import fixtures as _fixtures
from ._core import CheckFailed, Diagnosis, case, randn
from .._validation import NUMERICAL_GRADIENT_TOL
from ..loops.pooling import pool2d_backward_loops
from ._runner import ref, run_with_hints, scipy_functions, torch_functions
from .fixtures import Smooth

__all__ = [
    "check_relu_backward",
    "check_linear_backward",
    "check_max_pool2d_backward",
    "check_avg_pool2d_backward",
    "check_conv2d_backward",
    "check_numerical_gradient",
    "check_kernel_loss_and_grad",
]

_FORGOT_DBIAS = (("dbias", "returned None"),
                 "You forgot dbias: it is dout summed over every axis except the "
                 "output-feature (channel) axis.")


# ------------------------------------------------------------------- relu
def check_relu_backward(student_fn, hidden=False, seed=0):
    """Check ``relu_backward(dout, x)`` = dout where x > 0, else 0."""
    rng = np.random.default_rng(seed)
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    dout = np.array([[1.0, -2.0, 3.0, -4.0, 5.0]])
    cases = [case(dout, x, description="x = [[-2, -0.5, 0, 0.5, 3]], dout = [[1, -2, 3, -4, 5]]"),
             case(np.array([[0.5, -1.0, 2.0], [1.5, 3.0, -0.5]]),
                  np.array([[1.0, 0.0, -2.0], [-1.0, 2.0, 0.5]]),
                  description="x = [[1, 0, -2], [-1, 2, 0.5]], dout = [[0.5, -1, 2], [1.5, 3, -0.5]]")]
    if hidden:
        cases += [
            case(randn(rng, 2, 3, 4, 5), randn(rng, 2, 3, 4, 5), description="(2, 3, 4, 5) arrays"),
            case(randn(rng, 1, 1, 3, 3), np.zeros((1, 1, 3, 3)), description="x all zeros"),
            case(randn(rng, 4, 6), np.round(randn(rng, 4, 6)), description="x with several zeros"),
        ]
    diagnoses = [
        Diagnosis(lambda d, x: d * (x >= 0),
                  "The gradient passes where x == 0. ReLU's derivative at 0 is taken as 0 "
                  "(as in PyTorch): use the mask x > 0."),
        Diagnosis(lambda d, x: (x > 0).astype(float),
                  "You returned the local derivative (the mask x > 0) alone; the chain rule "
                  "multiplies it by the upstream gradient: dout * (x > 0)."),
        Diagnosis(lambda d, x: d * (d > 0),
                  "The mask must come from the forward input x, not from dout: dout * (x > 0)."),
        Diagnosis(lambda d, x: d * np.maximum(x, 0),
                  "The local derivative of ReLU is 1 where x > 0, not x: dout * (x > 0)."),
        Diagnosis(lambda d, x: np.array(d, dtype=float) if np.any(x <= 0) else _na(),
                  "The gradient passes everywhere: ReLU blocks it where its input was not "
                  "positive, dout * (x > 0)."),
        Diagnosis(lambda d, x: d * (x < 0),
                  "The mask is inverted (x < 0): the gradient passes where the input was "
                  "positive, dout * (x > 0)."),
    ]
    run_with_hints("relu_backward", student_fn, ref("relu_backward"), cases,
                   diagnoses=diagnoses,
                   forbidden=[ref("relu_backward"), "lessonlib.nn.layers.ReLU.backward"])


def _na():
    raise ValueError("not applicable")


# ----------------------------------------------------------------- linear
def _lin_parts(d, x, w):
    return d @ w, d.T @ x, d.sum(axis=0)


def _lin_shape_hint(got, exp, case_):
    if len(got) == 2 and got == exp[::-1]:
        return ("It is transposed: weight has shape (out_features, in_features), "
                "so dweight = dout.T @ x (and dx = dout @ weight).")
    if len(exp) == 1 and got != exp:
        return "dbias has one entry per output feature: sum dout over the batch only (axis=0)."
    return ""


def check_linear_backward(student_fn, hidden=False, seed=0):
    """Check ``linear_backward(dout, x, weight)`` -> (dx, dweight, dbias)."""
    rng = np.random.default_rng(seed)
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 2.0]])
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
    d = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0]])
    cases = [case(d, x, w, description="x (2, 3), weight (4, 3), dout (2, 4)"),
             case(np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0], [-0.5, 1.0, 1.0]]),
                  np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0], [2.0, 1.0, 0.0]]),
                  np.array([[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.5, -0.5]]),
                  description="x (3, 3), a square weight (3, 3), dout (3, 3)")]
    if hidden:
        cases += [
            case(randn(rng, 5, 6), randn(rng, 5, 3), randn(rng, 6, 3), description="x (5, 3), weight (6, 3)"),
            case(randn(rng, 1, 2), randn(rng, 1, 4), randn(rng, 2, 4), description="N=1"),
            case(randn(rng, 3, 3), randn(rng, 3, 3), randn(rng, 3, 3), description="square weight (3, 3)"),
            case(randn(rng, 4, 1), randn(rng, 4, 1), randn(rng, 1, 1), description="one feature in and out"),
        ]
    diagnoses = [
        Diagnosis(lambda d, x, w: (lambda a, b, c: (a, b.T, c))(*_lin_parts(d, x, w)),
                  "dweight is transposed: weight has shape (out_features, in_features), so "
                  "dweight = dout.T @ x."),
        Diagnosis(lambda d, x, w: (lambda a, b, c: (d @ w.T, b, c))(*_lin_parts(d, x, w)),
                  "dx = dout @ weight: the forward pass multiplied by weight.T, the backward "
                  "pass multiplies by weight."),
        Diagnosis(lambda d, x, w: (lambda a, b, c: (a, b, c / len(x)))(*_lin_parts(d, x, w)),
                  "dbias is the SUM of dout over the batch, not the mean."),
        Diagnosis(lambda d, x, w: (lambda a, b, c: (a, b / len(x), c / len(x)))(*_lin_parts(d, x, w)),
                  "You averaged over the batch; gradients of a shared weight add up: sum them."),
        Diagnosis(lambda d, x, w: (lambda a, b, c: (a, b, np.zeros_like(c)))(*_lin_parts(d, x, w)),
                  "dbias is all zeros: it is dout.sum(axis=0)."),
    ]
    run_with_hints("linear_backward", student_fn, ref("linear_backward"), cases,
                   [_FORGOT_DBIAS], diagnoses=diagnoses, shape_hint=_lin_shape_hint,
                   outputs=("dx", "dweight", "dbias"),
                   forbidden=[ref("linear_backward"), "lessonlib.nn.layers.Linear.backward",
                              ref("conv2d_backward")])


# ---------------------------------------------------------------- pooling
_EMPTY_CROP = ("dx[:, :, p:-p, p:-p] is EMPTY when p = 0 (-0 is 0, so the slice is 0:0): "
               "crop with p:p + H and p:p + W instead.")


def _pool_shape_hint(got, exp, case_):
    p = case_.kwargs.get("padding", 0)
    if len(got) == 4 and got[:2] == exp[:2] and got[2:] == (0, 0) and not p:
        return _EMPTY_CROP
    if len(got) == 4 and got[:2] == exp[:2] and got[2] == exp[2] + 2 * p and p:
        return f"dx has the padded input's size: crop the padding off (dx[..., {p}:-{p}, {p}:-{p}])."
    return "dx always has the shape of the forward input x."


def _pool_cases(rng, hidden, mode):
    x = np.array([[[[1.0, 2.0, 0.0, 1.0],
                    [3.0, 0.5, 2.0, 4.0],
                    [0.0, 1.0, 5.0, 1.0],
                    [2.0, 2.5, 1.0, 0.0]]]])
    x5 = np.arange(25.0).reshape(1, 1, 5, 5) % 7
    cases = [
        case(np.array([[[[1.0, -1.0], [2.0, 0.5]]]]), x, 2,
             description="x (1, 1, 4, 4), kernel 2 (stride 2, no overlap)"),
        case(np.arange(9.0).reshape(1, 1, 3, 3) - 4, x5, 3, stride=1,
             description="x (1, 1, 5, 5), kernel 3, stride 1 (overlapping windows)"),
    ]
    xw = np.array([[[[1.0, 3.0, 2.0, 0.0, 4.0, 1.0, 2.0],
                     [0.0, 2.0, 5.0, 1.0, 0.0, 3.0, 1.0],
                     [2.0, 1.0, 0.0, 4.0, 2.0, 2.0, 0.0],
                     [1.0, 0.0, 3.0, 2.0, 1.0, 5.0, 3.0]]]])
    cases.append(case(np.array([[[[1.0, -2.0, 0.5, 3.0], [2.0, 1.0, -1.0, 0.5]]]]), xw, 3,
                      stride=2, padding=1,
                      description="x (1, 1, 4, 7) wider than tall, kernel 3, stride 2, "
                      "padding 1"))
    xt = np.arange(24.0).reshape(1, 1, 6, 4) * 7 % 11
    cases.append(case(np.array([[[[1.0, -1.0], [2.0, 0.5], [-0.5, 1.5]]]]), xt, 2,
                      description="x (1, 1, 6, 4) taller than wide, kernel 2"))
    if mode == "max":
        ties = np.array([[[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                           [2.0, 0.0, 3.0, 3.0], [0.0, 2.0, 3.0, 3.0]]]])
        cases.append(case(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), ties, 2,
                          description="ties: equal maxima inside a window"))
    if hidden:
        def grad(x, k, s=None, p=0):
            out = ref("max_pool2d" if mode == "max" else "avg_pool2d")(x, k, stride=s, padding=p)
            return randn(rng, *out.shape)

        xa = randn(rng, 2, 3, 7, 6)
        xb = randn(rng, 1, 2, 5, 5)
        xc = np.round(randn(rng, 1, 1, 6, 6))  # many ties
        xd = randn(rng, 3, 1, 4, 4)
        xe = randn(rng, 1, 1, 5, 7)
        cases += [
            case(grad(xa, 3, 2), xa, 3, stride=2, description="x (2, 3, 7, 6), kernel 3, stride 2"),
            case(grad(xb, 3, 2, 1), xb, 3, stride=2, padding=1,
                 description="x (1, 2, 5, 5), kernel 3, stride 2, padding 1"),
            case(grad(xc, 2, 1), xc, 2, stride=1, description="x (1, 1, 6, 6) with ties, kernel 2, stride 1"),
            case(grad(xd, 2), xd, 2, description="x (3, 1, 4, 4), kernel 2"),
            case(grad(xe, 2, 1, 1), xe, 2, stride=1, padding=1,
                 description="x (1, 1, 5, 7), kernel 2, stride 1, padding 1"),
        ]
    return cases


def _rows_dropped(mode):
    """The gradient of the rows past min(H_out, W_out) is lost: the loop bounds are swapped."""
    def wrong(d, x, k, stride=None, padding=0):
        ho, wo = d.shape[2:]
        if ho == wo:
            raise ValueError("not applicable")
        d = d.copy()
        m = min(ho, wo)
        d[:, :, m:, :] = 0
        d[:, :, :, m:] = 0
        return pool2d_backward_loops(d, x, k, stride, padding, mode=mode)
    return wrong


_ROWS_DROPPED = ("The gradient of the last output rows or columns is missing: the loops over "
                 "dout use each other's bound. Rows go to H_out = dout.shape[2], columns to "
                 "W_out = dout.shape[3] (an input wider than tall, or taller than wide, tells "
                 "them apart).")


def _stride_ignored(mode):
    def wrong(d, x, k, stride=None, padding=0):
        if stride is None or stride == 1:
            raise ValueError("not applicable")
        return pool2d_backward_loops(d, x, k, 1, padding, mode=mode)
    return wrong


_STRIDE_IGNORED = ("stride is ignored: window (i, j) starts at (i * stride, j * stride) of the "
                   "padded input, as in the forward pass.")


def check_max_pool2d_backward(student_fn, hidden=False, seed=0):
    """Check ``max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0)``."""
    rng = np.random.default_rng(seed)
    cases = _pool_cases(rng, hidden, "max")

    def wrong(**opts):
        return lambda d, x, k, stride=None, padding=0: pool2d_backward_loops(
            d, x, k, stride=opts.get("stride", stride), padding=padding, mode="max",
            accumulate=opts.get("accumulate", True), ties=opts.get("ties", "first"))

    diagnoses = [
        Diagnosis(wrong(accumulate=False),
                  "The gradient is off only where windows overlap: a pixel that is the max "
                  "of several windows receives the sum of their gradients. Accumulate with "
                  "+= instead of assigning with =."),
        Diagnosis(wrong(ties="all"),
                  "The gradient is routed to every tied maximum. PyTorch (and the reference) "
                  "routes it to the first maximum of the window only (np.argmax)."),
        Diagnosis(wrong(ties="last"),
                  "The gradient goes to the last of several tied maxima; PyTorch routes it to "
                  "the first one (np.argmax returns the first)."),
        Diagnosis(wrong(ties="split"),
                  "The gradient is split among tied maxima. PyTorch (and the reference) sends "
                  "all of it to the first maximum of the window only (np.argmax)."),
        Diagnosis(lambda d, x, k, stride=None, padding=0: wrong(stride=1)(d, x, k, stride,
                                                                          padding)
                  if stride is None else _na(),
                  "stride=None means stride = kernel_size (as in PyTorch), not 1."),
        Diagnosis(_stride_ignored("max"), _STRIDE_IGNORED),
        Diagnosis(_rows_dropped("max"), _ROWS_DROPPED),
        Diagnosis(lambda d, x, k, stride=None, padding=0: np.zeros(np.shape(x)),
                  "dx is all zeros: route each window's gradient dout[n, c, i, j] to the "
                  "position of the window's maximum (and add it there)."),
    ]
    run_with_hints("max_pool2d_backward", student_fn, ref("max_pool2d_backward"),
                   cases, diagnoses=diagnoses, shape_hint=_pool_shape_hint,
                   forbidden=[ref("max_pool2d_backward"), "lessonlib.nn.layers.MaxPool2d.backward",
                              "lessonlib.loops.pooling.max_pool2d_backward_loops"])


def check_avg_pool2d_backward(student_fn, hidden=False, seed=0):
    """Check ``avg_pool2d_backward(dout, x, kernel_size, stride=None, padding=0)``."""
    rng = np.random.default_rng(seed)
    cases = _pool_cases(rng, hidden, "avg")

    def wrong(**opts):
        return lambda d, x, k, stride=None, padding=0: pool2d_backward_loops(
            d, x, k, stride=opts.get("stride", stride), padding=padding, mode="avg",
            accumulate=opts.get("accumulate", True), divisor=opts.get("divisor", "window"))

    diagnoses = [
        Diagnosis(wrong(accumulate=False),
                  "The gradient is off only where windows overlap: a pixel in several windows "
                  "receives a share from each. Accumulate with += instead of assigning with =."),
        Diagnosis(wrong(divisor="none"),
                  "Each window's gradient must be shared out: every pixel of the window gets "
                  "dout / (kernel_size * kernel_size)."),
        Diagnosis(wrong(divisor="valid"),
                  "You divided by the number of real (un-padded) pixels in the window. Like "
                  "PyTorch's avg_pool2d (count_include_pad=True), divide by kernel_size**2 "
                  "everywhere."),
        Diagnosis(lambda d, x, k, stride=None, padding=0: wrong(stride=1)(d, x, k, stride,
                                                                          padding)
                  if stride is None else _na(),
                  "stride=None means stride = kernel_size (as in PyTorch), not 1."),
        Diagnosis(_stride_ignored("avg"), _STRIDE_IGNORED),
        Diagnosis(_rows_dropped("avg"), _ROWS_DROPPED),
    ]
    run_with_hints("avg_pool2d_backward", student_fn, ref("avg_pool2d_backward"),
                   cases, diagnoses=diagnoses, shape_hint=_pool_shape_hint,
                   forbidden=[ref("avg_pool2d_backward"), "lessonlib.nn.layers.AvgPool2d.backward",
                              "lessonlib.loops.pooling.avg_pool2d_backward_loops",
                              ref("conv2d_backward"), ref("conv_transpose2d")])


# ------------------------------------------------------------------- conv
def _conv_loop(d, x, w, stride=1, padding=0, step=None, assign=False):
    """conv2d_backward with loops, with switches for known mistakes (step, = for +=)."""
    s, p = stride, padding
    t = s if step is None else step
    xp = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, h, wd = xp.shape
    f, _, kh, kw = w.shape
    ho, wo = d.shape[2], d.shape[3]
    ho, wo = min(ho, (h - kh) // t + 1), min(wo, (wd - kw) // t + 1)
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for b in range(n):
        for o in range(f):
            for i in range(ho):
                for j in range(wo):
                    g = d[b, o, i, j]
                    rows, cols = slice(i * t, i * t + kh), slice(j * t, j * t + kw)
                    if assign:
                        dxp[b, :, rows, cols] = w[o] * g
                    else:
                        dxp[b, :, rows, cols] += w[o] * g
                    dw[o] += xp[b, :, rows, cols] * g
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, d.sum(axis=(0, 2, 3))


def _conv_ref(d, x, w, stride=1, padding=0):
    return ref("conv2d_backward")(d, x, w, stride=stride, padding=padding)


def _conv_shape_hint(got, exp, case_):
    p = case_.kwargs.get("padding", 0)
    if len(got) == 4 and got[:2] == exp[:2] and got[2:] == (0, 0) and not p:
        return _EMPTY_CROP
    if len(got) == 4 and got[:2] == exp[:2] and p and got[2:] == (exp[2] + 2 * p, exp[3] + 2 * p):
        return f"dx has the padded input's size: crop {p} pixel(s) off each side."
    if len(got) == 4 and got == (exp[1], exp[0]) + exp[2:]:
        return ("The first two axes are swapped: dweight has the weight's shape "
                "(C_out, C_in, kH, kW).")
    if len(exp) == 1:
        return "dbias has one entry per output channel: dout.sum(axis=(0, 2, 3))."
    return "Each gradient has the shape of what it is the gradient of (x, weight, bias)."


def check_conv2d_backward(student_fn, hidden=False, seed=0):
    """Check ``conv2d_backward(dout, x, weight, stride=1, padding=0)`` -> (dx, dweight, dbias)."""
    rng = np.random.default_rng(seed)
    x1 = np.arange(16.0).reshape(1, 1, 4, 4) / 4
    w1 = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]])
    d1 = np.array([[[[1.0, -1.0], [0.5, 2.0]]]])

    def grad(x, w, s=1, p=0):
        out = ref("conv2d")(x, w, stride=s, padding=p)
        return randn(rng, *out.shape)

    x2, w2 = randn(rng, 2, 2, 5, 5), randn(rng, 3, 2, 3, 3)
    x3, w3 = randn(rng, 2, 2, 5, 6), randn(rng, 2, 2, 2, 3)
    cases = [
        case(d1, x1, w1, description="x (1, 1, 4, 4), weight (1, 1, 3, 3)"),
        case(grad(x2, w2, 1, 1), x2, w2, stride=1, padding=1,
             description="x (2, 2, 5, 5), weight (3, 2, 3, 3), padding 1"),
        case(grad(x3, w3, 2, 0), x3, w3, stride=2, padding=0,
             description="x (2, 2, 5, 6), weight (2, 2, 2, 3), stride 2 (the last row does "
             "not fit)"),
    ]
    if hidden:
        xa, wa = randn(rng, 2, 3, 7, 6), randn(rng, 4, 3, 3, 3)
        xb, wb = randn(rng, 1, 1, 6, 5), randn(rng, 1, 1, 2, 3)
        xc, wc = randn(rng, 3, 2, 6, 6), randn(rng, 5, 2, 3, 3)
        xd, wd = randn(rng, 1, 4, 5, 5), randn(rng, 2, 4, 1, 1)
        cases += [
            case(grad(xa, wa, 2, 0), xa, wa, stride=2, padding=0,
                 description="x (2, 3, 7, 6), weight (4, 3, 3, 3), stride 2"),
            case(grad(xb, wb, 1, 2), xb, wb, stride=1, padding=2,
                 description="x (1, 1, 6, 5), kernel 2x3, padding 2"),
            case(grad(xc, wc, 2, 1), xc, wc, stride=2, padding=1,
                 description="x (3, 2, 6, 6), weight (5, 2, 3, 3), stride 2, padding 1"),
            case(grad(xd, wd, 1, 0), xd, wd, description="1x1 kernel, weight (2, 4, 1, 1)"),
        ]

    def mod(fn):
        def wrong(d, x, w, stride=1, padding=0):
            return fn(d, x, w, stride, padding, *_conv_ref(d, x, w, stride, padding))
        return wrong

    diagnoses = [
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db:
                      (_conv_ref(d, x, w[:, :, ::-1, ::-1], s, p)[0], dw, db)),
                  "dx is the 'full' correlation of dout with the kernel rotated by 180 "
                  "degrees (each input pixel collects from every output it fed); yours "
                  "matches the unrotated kernel."),
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db: (dx, dw, d.sum(axis=(0, 2, 3)) / len(x))),
                  "dbias is the SUM of dout over the batch and the positions, not the mean over the batch."),
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db: (dx, dw / len(x), db / len(x))),
                  "You averaged over the batch; the same kernel is used for every image, "
                  "so the gradients add up: sum over the batch."),
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db: (dx, dw[:, :, ::-1, ::-1], db)),
                  "dweight is rotated by 180 degrees: dweight[o, c, i, j] sums "
                  "dout[n, o] * x[n, c] shifted by (i, j), like the forward correlation."),
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db: (dx, dw, np.zeros_like(db))),
                  "dbias is all zeros: it is dout.sum(axis=(0, 2, 3))."),
        Diagnosis(mod(lambda d, x, w, s, p, dx, dw, db: (dx, dw, d[0].sum(axis=(1, 2)))
                      if len(x) > 1 else _na()),
                  "dbias only has the first image's gradient: sum dout over the batch too, "
                  "dout.sum(axis=(0, 2, 3))."),
        Diagnosis(lambda d, x, w, stride=1, padding=0: _conv_loop(d, x, w, stride, padding,
                                                                  assign=True),
                  "dx is off where windows overlap: an input pixel inside several windows "
                  "collects a gradient from each. Accumulate with += instead of assigning "
                  "with =."),
        Diagnosis(lambda d, x, w, stride=1, padding=0: _conv_loop(d, x, w, stride, padding,
                                                                  step=1) if stride != 1
                  else _na(),
                  "stride is ignored: window (i, j) starts at (i * stride, j * stride) of the "
                  "padded input, as in the forward pass."),
    ]
    run_with_hints("conv2d_backward", student_fn, _conv_ref, cases,
                   [_FORGOT_DBIAS, ("could not be broadcast", "A window and the kernel have "
                                    "different shapes: pad x by `padding` first, slide the "
                                    "windows with the stride, and crop dx at the end.")],
                   diagnoses=diagnoses, shape_hint=_conv_shape_hint,
                   outputs=("dx", "dweight", "dbias"),
                   forbidden=[ref("conv2d_backward"), ref("conv_transpose2d"),
                              "lessonlib.conv_transpose.conv_transpose2d_backward",
                              "lessonlib.loops.conv.conv2d_backward_loops",
                              "lessonlib.loops.conv.conv_transpose2d_loops",
                              "lessonlib.fast.im2col.backward",
                              "lessonlib.nn.conv.Conv2d.backward"])


# ------------------------------------------------------- numerical gradient
#: A test function whose entries are coupled (fixtures.Coupled): with it, an entry left
#: perturbed changes the differences of the entries after it.
_COUPLED = _fixtures.Coupled


def _exact(f, x, eps=1e-6):
    """The exact gradient of the test function ``f``: c cos(x) + x (Smooth), or
    c cos(x) + sum(x) (Coupled)."""
    x = np.asarray(x, dtype=np.float64)
    if isinstance(f, _COUPLED):
        return f.c * np.cos(x) + np.sum(x)
    return f.c * np.cos(x) + x


def _not_restored(f, x, eps=1e-6):
    """Central differences that leave each entry at x[i] - eps."""
    if not isinstance(f, _COUPLED):
        raise ValueError("not distinguishable")
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        g[i] = (up - f(x)) / (2 * eps)
    return g


def _one_sided(f, x, eps=1e-6):
    h = eps
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        g[i] = (f(x) - fx) / h
        x[i] = old
    return g


def _counting_calls(student_fn):
    """``student_fn``, refusing a result obtained without evaluating ``f`` per entry."""
    if not callable(student_fn):
        return student_fn

    @functools.wraps(student_fn)
    def counted(f, x, *args, **kwargs):
        before = getattr(f, "calls", 0)
        out = student_fn(f, x, *args, **kwargs)
        n = getattr(f, "calls", 0) - before
        if out is not None and n == 0:
            raise CheckFailed(
                f"numerical_gradient never evaluated f: a numerical gradient evaluates f at "
                f"x + eps and x - eps for each entry ({2 * np.size(x)} calls here), it "
                f"does not use a formula.")
        return out
    return counted


def check_numerical_gradient(student_fn, hidden=False, seed=0):
    """Check ``numerical_gradient(f, x, eps=1e-6)``: central differences, one entry at a time."""
    rng = np.random.default_rng(seed)
    cases = [case(Smooth(np.array([1.0, -2.0, 0.5])), np.array([0.3, -1.2, 2.0]),
                  description="f(x) = sum(c*sin(x) + x**2/2), x of shape (3,)"),
             case(Smooth(np.array([[0.5, 1.5], [-1.0, 2.0], [1.0, -0.5]])),
                  np.array([[1.0, -0.5], [0.2, 2.5], [-1.5, 0.7]]), eps=1e-4,
                  description="f(x) = sum(c*sin(x) + x**2/2), x of shape (3, 2), eps=1e-4"),
             # coupled entries: the only kind that tells an entry left perturbed
             case(_COUPLED(np.array([1.0, -1.0, 2.0, 0.5])), np.array([0.5, 1.0, -0.3, 2.0]),
                  description="f(x) = sum(c*sin(x)) + sum(x)**2/2, x of shape (4,)")]
    if hidden:
        cases += [
            case(Smooth(randn(rng, 2, 3)), randn(rng, 2, 3), description="x of shape (2, 3)"),
            case(Smooth(randn(rng, 1, 2, 2, 3)), randn(rng, 1, 2, 2, 3), description="x of shape (1, 2, 2, 3)"),
            case(Smooth(np.array([3.0])), np.array([1.0]), eps=1e-4, description="one entry, eps=1e-4"),
        ]
    diagnoses = [
        Diagnosis(_one_sided,
                  "That is the one-sided difference (f(x+eps) - f(x)) / eps, whose error "
                  "shrinks like eps. Use the central difference (f(x+eps) - f(x-eps)) / "
                  "(2*eps): its error shrinks like eps**2."),
        Diagnosis(lambda f, x, eps=1e-6: 2 * _exact(f, x),
                  "Twice too large: the two points x+eps and x-eps are 2*eps apart, divide "
                  "by 2*eps."),
        Diagnosis(_not_restored,
                  "x[i] is not put back after its perturbation: the entries after it are "
                  "differentiated at a shifted point. Restore x[i] = old after evaluating "
                  "f(x + eps) and f(x - eps)."),
        Diagnosis(lambda f, x, eps=1e-6: _exact(f, x) / 2,
                  "Half the gradient: the two points x+eps and x-eps are 2*eps apart; divide "
                  "by 2*eps, not by 4*eps (or 2 * (2*eps))."),
        Diagnosis(lambda f, x, eps=1e-6: np.full(np.shape(x), (f(x + eps) - f(x - eps)) / (2 * eps)),
                  "You moved every entry at once. Perturb one entry at a time and put it back "
                  "before moving on to the next."),
    ]
    run_with_hints("numerical_gradient", _counting_calls(student_fn), _exact, cases,
                          [(("changed its input",), "Restore x[i] after each perturbation "
                            "(or work on x.copy()).")],
                          diagnoses=diagnoses, **NUMERICAL_GRADIENT_TOL,
                          forbidden=["lessonlib.gradcheck.numerical_gradient",
                                     "lessonlib.gradcheck.gradcheck"])


# ------------------------------------------------------- learning a kernel
def _correlate(image, kernel):
    """Valid 2-D cross-correlation: every (kH, kW) window of ``image`` times ``kernel``."""
    image = np.asarray(image, dtype=float)
    windows = np.lib.stride_tricks.sliding_window_view(image, np.shape(kernel))
    return np.einsum("ijuv,uv->ij", windows, np.asarray(kernel, dtype=float))


def _kernel_parts(image, kernel, target, flip=False):
    """(prediction, residual, M): the forward pass of kernel_loss_and_grad."""
    k = np.asarray(kernel, dtype=float)
    prediction = _correlate(image, k[::-1, ::-1] if flip else k)
    residual = prediction - np.asarray(target, dtype=float)
    return prediction, residual, residual.size


def _kernel_ref(image, kernel, target):
    """loss = mean((correlate(image, kernel) - target)**2) and its gradient 2/M corr(image, r)."""
    _, r, m = _kernel_parts(image, kernel, target)
    return float(np.mean(r ** 2)), 2.0 / m * _correlate(image, r)


def _kernel_with(loss=None, grad=None):
    """A wrong (loss, dkernel): ``loss(r, m)`` and/or ``grad(image, r, m, kernel)`` replaced."""
    def wrong(image, kernel, target):
        _, r, m = _kernel_parts(image, kernel, target)
        right_loss, right_grad = _kernel_ref(image, kernel, target)
        return (right_loss if loss is None else float(loss(r, m)),
                right_grad if grad is None else grad(np.asarray(image, dtype=float), r, m,
                                                     np.asarray(kernel, dtype=float)))
    return wrong


def _convolved(image, kernel, target):
    """The prediction is a true convolution (flipped kernel): loss and gradient of that."""
    k = np.asarray(kernel, dtype=float)
    if np.array_equal(k, k[::-1, ::-1]):
        raise ValueError("not distinguishable")
    _, r, m = _kernel_parts(image, kernel, target, flip=True)
    return float(np.mean(r ** 2)), (2.0 / m * _correlate(image, r))[::-1, ::-1]


def _kernel_cases(hidden, seed):
    rng = np.random.default_rng(seed)
    sobel = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    image = np.array([[1.0, 2.0, 0.0, 1.0, 3.0], [0.0, 1.0, 2.0, 2.0, 1.0],
                      [3.0, 0.0, 1.0, 0.0, 2.0], [1.0, 1.0, 0.0, 2.0, 0.0]])
    xs = randn(rng, 6, 8)
    xi = np.arange(7 * 9).reshape(7, 9) * 5 % 7
    cases = [
        case(image, np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[1.0, 0.0, 2.0, -1.0],
                                                                   [0.0, 3.0, 1.0, 2.0],
                                                                   [2.0, -1.0, 0.0, 1.0]]),
             description="image (4, 5), kernel [[1, 2], [0, -1]], target (3, 4)"),
        case(xs, randn(rng, 3, 3), randn(rng, 4, 6),
             description="image (6, 8), a random 3x3 kernel, target (4, 6)"),
        case(xi, np.zeros((3, 3)), _correlate(xi, sobel),
             description="int image (7, 9), kernel of zeros, target = the image's Sobel map "
             "(the demo's first step)"),
    ]
    if hidden:
        for (h, w), k in [((8, 5), 3), ((5, 9), 2), ((10, 10), 5), ((6, 7), 1), ((12, 7), 4)]:
            cases.append(case(randn(rng, h, w), randn(rng, k, k), randn(rng, h - k + 1, w - k + 1),
                              description=f"image ({h}, {w}), a random {k}x{k} kernel"))
        xj = rng.integers(0, 5, size=(9, 6))
        cases.append(case(xj, np.zeros((3, 3)), _correlate(xj, sobel.T),
                          description="int image (9, 6), kernel of zeros, target = its "
                          "horizontal Sobel map"))
        cases.append(case(xs, sobel, _correlate(xs, sobel) + 0.5,
                          description="image (6, 8), the Sobel kernel, target = its map + 0.5"))
    return cases


def _kernel_shape_hint(got, exp, case_):
    image, kernel, target = case_.args
    if tuple(got) == np.shape(target):
        return ("That is the shape of the prediction: 2/M * residual is the gradient with "
                "respect to the PREDICTION. The kernel's gradient correlates the image with "
                "it: dkernel has the kernel's shape.")
    if len(exp) == 2:
        return "dkernel has the kernel's shape (k, k): it is the gradient of the loss with "\
               "respect to every kernel entry."
    return "loss is one number (a float): the mean of the squared residuals."


def check_kernel_loss_and_grad(student_fn, hidden=False, seed=0):
    """Check ``kernel_loss_and_grad(image, kernel, target)`` -> (loss, dkernel).

    loss = mean((correlate2d(image, kernel) - target)**2), dkernel its gradient
    2/M * correlate2d(image, residual) (M = residual.size).
    """
    diagnoses = [
        Diagnosis(_kernel_with(loss=lambda r, m: np.sum(r ** 2)),
                  "That is the SUM of the squared residuals: the loss is their mean, "
                  "np.mean(residual**2) (divide by M = residual.size)."),
        Diagnosis(_kernel_with(loss=lambda r, m: np.sqrt(np.mean(r ** 2))),
                  "That is the root of the mean squared residual: the loss is the mean "
                  "itself, without the square root."),
        Diagnosis(_kernel_with(loss=lambda r, m: np.mean(np.abs(r))),
                  "That is the mean of |residual|: square the residuals, "
                  "np.mean(residual**2)."),
        Diagnosis(_kernel_with(loss=lambda r, m: np.mean(r) ** 2),
                  "That is the square of the mean residual: square first, then average, "
                  "np.mean(residual**2)."),
        Diagnosis(_convolved,
                  "It matches a true convolution (the kernel flipped): the prediction is the "
                  "cross-correlation of assignment 1, prediction[i, j] = sum of "
                  "image[i + u, j + v] * kernel[u, v], no flip."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: 2.0 * _correlate(x, r)),
                  "dkernel is M times too large: it is the gradient of the SUM of squared "
                  "residuals. The loss is a mean, so its gradient has the factor 2/M "
                  "(M = residual.size)."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: _correlate(x, r) / m),
                  "dkernel is half the gradient: the derivative of r**2 is 2 * r, so the "
                  "gradient is 2/M * correlate(image, residual)."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: (2.0 / m * _correlate(x, r))[::-1, ::-1]),
                  "dkernel is flipped (rotated by 180 degrees): that is a convolution of "
                  "the image with the residual. The gradient is a CORRELATION, dkernel[u, v] "
                  "= 2/M * sum of residual[i, j] * image[i + u, j + v]."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: -2.0 / m * _correlate(x, r)),
                  "dkernel has the wrong sign: the residual is prediction - target (the "
                  "derivative of (prediction - target)**2 with respect to the prediction is "
                  "+2 * residual), so descending the gradient moves the prediction towards "
                  "the target."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: 2.0 / x.size * _correlate(x, r)
                               if x.size != m else _na()),
                  "dkernel is divided by the number of IMAGE pixels H*W; the mean is over the "
                  "M = (H - k + 1) * (W - k + 1) values of the residual."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: 2.0 / k.size * _correlate(x, r)
                               if k.size != m else _na()),
                  "dkernel is divided by the number of kernel entries; the mean is over the "
                  "M = residual.size values of the residual."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: _correlate(x, np.sign(r)) / m),
                  "That is the gradient of mean(|residual|), another loss: the gradient of "
                  "mean(residual**2) is 2/M * correlate(image, residual)."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: 2.0 / m * _correlate(x, np.ones_like(r))),
                  "That is the gradient of mean(residual), not of mean(residual**2): the "
                  "chain rule multiplies by 2 * residual, dkernel = 2/M * "
                  "correlate(image, residual)."),
        Diagnosis(_kernel_with(grad=lambda x, r, m, k: 2.0 / m * _correlate(x, r - r.mean())
                               if abs(r.mean()) > 1e-12 else _na()),
                  "dkernel uses the residual minus its mean: the residual is prediction - "
                  "target, as it is."),
    ]
    run_with_hints("kernel_loss_and_grad", student_fn, _kernel_ref, _kernel_cases(hidden, seed),
                   [(("loss", "returned None"), "Return a pair (loss, dkernel)."),
                    ("could not be broadcast", "The image's windows have the kernel's shape "
                     "(k, k), one per output position: (H - k + 1, W - k + 1, k, k). The "
                     "prediction multiplies each window with the kernel; dkernel weights each "
                     "window by the residual at its position and sums over the positions.")],
                   diagnoses=diagnoses, shape_hint=_kernel_shape_hint,
                   outputs=("loss", "dkernel"),
                   forbidden=[ref("correlate2d"), ref("convolve2d"), ref("conv2d"),
                              ref("conv2d_backward"), ref("conv_transpose2d"),
                              "lessonlib.loops.conv.conv2d_loops",
                              "lessonlib.loops.conv.conv2d_backward_loops",
                              "lessonlib.fast.im2col.forward", "lessonlib.fast.im2col.backward",
                              "lessonlib.nn.conv.Conv2d.forward",
                              "lessonlib.nn.conv.Conv2d.backward",
                              "lessonlib.gradcheck.numerical_gradient",
                              "lessonlib.gradcheck.gradcheck"]
                   + scipy_functions() + torch_functions("conv2d"))
