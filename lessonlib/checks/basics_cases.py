"""The inputs the checks of assignments 01-04 try.

Visible cases are small and hand-made, so a student can redo them on
paper; ``hidden=True`` adds random and adversarial ones drawn from
``np.random.default_rng(seed)``: non-square inputs, stride > 1, padding > 0,
N = 1, C = 1, even kernels, sizes not divisible by the stride, ties in max
pooling, float32 inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import Case
from .basics_drills import conv_arithmetic_drills

__all__: list[str] = []


def _a(*rows):
    return np.array(rows, dtype=float)


# ----------------------------------------------------------------------------- 01

def corr1d_cases(hidden, seed):
    """Cases ``(x, k[, mode])`` for convolve1d and correlate1d."""
    x5 = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    cases = [
        Case((np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5])), {},
             "x = [1, 2, 3], k = [0, 1, 0.5] (mode left at its default, 'full')"),
        Case((x5, np.array([1.0, -1.0])), {"mode": "full"}, "x = [1, 2, 3, 4, 5], k = [1, -1], "
             "mode='full'"),
        Case((np.array([0.0, 1.0, 4.0, 9.0, 16.0, 25.0]), np.array([1.0, 2.0, 0.0])),
             {"mode": "valid"}, "x = [0, 1, 4, 9, 16, 25], k = [1, 2, 0], mode='valid'"),
        Case((np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0]), np.array([1.0, 0.0, -2.0])),
             {"mode": "same"}, "x = [3, 1, 4, 1, 5, 9], k = [1, 0, -2], mode='same'"),
        Case((np.array([2.0, -1.0, 0.0, 3.0, 1.0, 4.0, -2.0]), np.array([1.0, 2.0, -1.0, 0.5])),
             {"mode": "same"}, "x = [2, -1, 0, 3, 1, 4, -2], an even kernel k = [1, 2, -1, 0.5], "
             "mode='same'"),
        Case((np.array([1.0, 4.0, -2.0, 0.0, 3.0]), np.array([2.0, -1.0])),
             {"mode": "same"}, "x = [1, 4, -2, 0, 3], an even kernel k = [2, -1], mode='same'"),
    ]
    if hidden:
        rng = np.random.default_rng(seed)
        for n, m in [(7, 2), (8, 4), (9, 1), (6, 6), (12, 5), (5, 3), (10, 6)]:
            for mode in ("full", "same", "valid"):
                x, k = rng.normal(size=n), rng.normal(size=m)
                cases.append(Case((x, k), {"mode": mode},
                                  f"random x of length {n}, k of length {m}, mode={mode!r}"))
        x32 = rng.normal(size=9).astype(np.float32)
        cases.append(Case((x32, np.array([1, 2, -1], dtype=np.float32)), {"mode": "same"},
                          "float32 x of length 9, k = [1, 2, -1], mode='same'"))
    return cases


def corr2d_cases(hidden, seed):
    """Cases ``(image, kernel)`` for correlate2d (mode 'valid')."""
    img4 = _a([1, 2, 0, 1], [0, 1, 3, 2], [2, 0, 1, 1], [1, 3, 2, 0])
    sobel = _a([1, 0, -1], [2, 0, -2], [1, 0, -1])
    img56 = np.arange(30, dtype=float).reshape(5, 6) % 7
    cases = [
        Case((img4, sobel), {}, "a 4x4 image and a 3x3 kernel [[1, 0, -1], [2, 0, -2], [1, 0, -1]]"),
        Case((img56, _a([1, 2], [0, -1])), {}, "a 5x6 image and the 2x2 kernel [[1, 2], [0, -1]]"),
        Case((np.array([[3, 0, 1, 2], [1, 5, 2, 0], [0, 2, 4, 1], [2, 1, 0, 3], [1, 1, 2, 2]]),
              _a([0.5, 1, 0], [-1, 0, 0.5])), {},
             "an int 5x4 image [[3, 0, 1, 2], [1, 5, 2, 0], [0, 2, 4, 1], [2, 1, 0, 3], "
             "[1, 1, 2, 2]] and the 2x3 kernel [[0.5, 1, 0], [-1, 0, 0.5]]"),
    ]
    if hidden:
        rng = np.random.default_rng(seed)
        for (h, w), (kh, kw) in [((6, 9), (3, 3)), ((7, 4), (2, 3)), ((5, 5), (1, 1)),
                                 ((4, 7), (1, 4)), ((8, 6), (4, 1)), ((3, 5), (3, 5)),
                                 ((9, 8), (4, 2))]:
            im, k = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
            cases.append(Case((im, k), {}, f"a random {h}x{w} image, {kh}x{kw} kernel"))
        cases.append(Case((rng.random((6, 7)).astype(np.float32),
                           rng.normal(size=(3, 3)).astype(np.float32)), {},
                          "a float32 6x7 image and 3x3 kernel"))
    return cases


# ----------------------------------------------------------------------------- 02

def _size_case(n, k, s=1, p=0, d=1):
    kwargs = {}
    if s != 1:
        kwargs["stride"] = s
    if p != 0:
        kwargs["padding"] = p
    if d != 1:
        kwargs["dilation"] = d
    desc = ", ".join([f"n={n}", f"kernel_size={k}"] + [f"{a}={b}" for a, b in kwargs.items()])
    return Case((n, k), kwargs, desc)


def conv_output_size_cases(hidden, seed):
    """Cases ``(n, kernel_size, stride=, padding=, dilation=)`` for conv_output_size."""
    cases = [_size_case(*c) for c in [(5, 3), (5, 3, 1, 1), (7, 3, 2), (6, 3, 2),
                                      (7, 3, 1, 0, 2), (32, 5, 1, 2), (8, 2, 2, 1)]]
    if hidden:
        for d in conv_arithmetic_drills(seed=seed, count=10):
            cases.append(_size_case(d["n"], d["kernel_size"], d["stride"], d["padding"],
                                    d["dilation"]))
        rng = np.random.default_rng(seed + 1)
        cases += [_size_case(1, 1), _size_case(10, 1, 3), _size_case(4, 4), _size_case(9, 4, 5),
                  _size_case(224, 7, 2, 3), _size_case(13, 3, 4, 2, 3)]
        while len(cases) < 40:
            n, k, s, p, d = (int(rng.integers(1, 40)), int(rng.integers(1, 8)),
                             int(rng.integers(1, 5)), int(rng.integers(0, 4)),
                             int(rng.integers(1, 4)))
            if d * (k - 1) + 1 <= n + 2 * p:
                cases.append(_size_case(n, k, s, p, d))
    return cases


def pad2d_cases(hidden, seed):
    """Cases ``(x, padding[, value])`` for pad2d."""
    x23 = _a([1, 2, 3], [4, 5, 6])
    cases = [
        Case((x23, 1), {}, "x = [[1, 2, 3], [4, 5, 6]], padding=1"),
        Case((np.arange(6.0).reshape(1, 1, 2, 3), (1, 2)), {},
             "x of shape (1, 1, 2, 3), padding=(1, 2)"),
        Case((x23, (0, 1, 2, 0)), {}, "x = [[1, 2, 3], [4, 5, 6]], padding=(0, 1, 2, 0) "
             "(top, bottom, left, right)"),
        Case((x23, 1), {"value": -1.0}, "x = [[1, 2, 3], [4, 5, 6]], padding=1, value=-1"),
        Case((np.array([[1, 2], [3, 4], [5, 6]]), (1, 0, 0, 2)), {"value": 0.5},
             "an int x = [[1, 2], [3, 4], [5, 6]], padding=(1, 0, 0, 2), value=0.5"),
    ]
    if hidden:
        rng = np.random.default_rng(seed)
        for shape, pad in [((3, 4, 5), 2), ((2, 3, 4, 6), (2, 1)), ((1, 1, 3, 3), (1, 0, 3, 2)),
                           ((4, 7), 0), ((2, 1, 5, 2), (0, 3)), ((3, 5), (2, 0, 0, 1))]:
            x = rng.normal(size=shape)
            cases.append(Case((x, pad), {}, f"x of shape {shape}, padding={pad}"))
        cases.append(Case((rng.normal(size=(1, 2, 3, 4)), (1, 2, 0, 3)), {"value": -np.inf},
                          "x of shape (1, 2, 3, 4), padding=(1, 2, 0, 3), value=-inf"))
        cases.append(Case((rng.normal(size=(2, 3)).astype(np.float32), (2, 1)), {"value": 0.5},
                          "float32 x of shape (2, 3), padding=(2, 1), value=0.5"))
    return cases


# ----------------------------------------------------------------------------- 03

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


# ----------------------------------------------------------------------------- 04

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
