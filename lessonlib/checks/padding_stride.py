"""Checks of assignment 02 (padding and stride), and its output-size drills.

``check_pad2d`` and ``check_conv_output_size`` work as the checks of 01
(:mod:`lessonlib.checks.convolution`); sizes must be integers, so a float
that happens to equal the expected size is refused.

The drills are generated from the convolution-arithmetic relationships.
Each relationship (Dumoulin & Visin, "A guide to convolution arithmetic
for deep learning", 2016) says how the output length ``o`` follows from
the input length ``i``, kernel ``k``, stride ``s``, padding ``p`` and
dilation ``d``:

1. no padding, unit stride:        o = i - k + 1
2. zero padding, unit stride:      o = i - k + 2p + 1
3. half ("same") padding, odd k:   p = (k - 1) / 2  ->  o = i
4. full padding:                   p = k - 1        ->  o = i + k - 1
5. no padding, stride s:           o = floor((i - k) / s) + 1
6. padding and stride:             o = floor((i + 2p - k) / s) + 1
7. dilation:                       k' = d(k - 1) + 1, then as above

plus the traps: an even kernel cannot keep the size with the same padding
on both sides, and sizes not divisible by the stride drop the last pixels.
"""

from __future__ import annotations

import numpy as np

from .. import arithmetic as _arith
from .. import padding as _pad
from .._validation import padding_sides
from ._core import Case, Diagnosis, ShapeDiagnosis, _a, skip
from ._runner import documented, int_result, run, truncated

__all__ = ["check_conv_output_size", "check_pad2d", "conv_arithmetic_drills", "drill_feedback"]


# ----------------------------------------------------------------------------- output size

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


def _size_wrongs():
    def span(k, d):
        return d * (k - 1) + 1

    def args(n, kernel_size, stride=1, padding=0, dilation=1):
        return n, kernel_size, stride, padding, dilation

    def f(fn):
        return lambda *a, **kw: fn(*args(*a, **kw))

    return [
        Diagnosis(f(lambda n, k, s, p, d: (n + 2 * p - span(k, d)) / s + 1),
                  "It uses / instead of //: when the windows do not fit exactly the last "
                  "one is dropped, so round down with floor division //."),
        Diagnosis(f(lambda n, k, s, p, d: -((n + 2 * p - span(k, d)) // -s) + 1),
                  "It rounds up: a window that does not fit entirely is dropped, so round "
                  "down (floor division //)."),
        Diagnosis(f(lambda n, k, s, p, d: (n + 2 * p - k) // s + 1),
                  "It ignores dilation: k taps spaced `dilation` apart span "
                  "dilation * (kernel_size - 1) + 1 input samples."),
        Diagnosis(f(lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1),
                  "A dilated kernel spans dilation * (kernel_size - 1) + 1 samples, not "
                  "dilation * kernel_size."),
        Diagnosis(f(lambda n, k, s, p, d: (n + p - span(k, d)) // s + 1),
                  "Padding counted only once: zeros are added on both sides, so the padded "
                  "length is n + 2 * padding."),
        Diagnosis(f(lambda n, k, s, p, d: (n - span(k, d)) // s + 1),
                  "Padding ignored: the padded input has n + 2 * padding samples."),
        Diagnosis(f(lambda n, k, s, p, d: n + 2 * p - span(k, d) + 1),
                  "Stride ignored: the window jumps `stride` samples at a time, so divide "
                  "the distance it travels by the stride."),
        Diagnosis(f(lambda n, k, s, p, d: (n + 2 * p - span(k, d)) // s),
                  "Off by one: the + 1 counts the window at the very start."),
        Diagnosis(f(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s + 1),
                  "Off by one: a kernel of kernel_size taps, dilation apart, spans "
                  "dilation * (kernel_size - 1) + 1 samples (the + 1 is its first tap), and "
                  "that whole span is subtracted from n + 2 * padding."),
    ]


@documented
def check_conv_output_size(student_fn, hidden=False, seed=0):
    """Check ``conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1)``."""
    run("conv_output_size", student_fn, _arith.conv_output_size,
                conv_output_size_cases(hidden, seed), _size_wrongs(),
                forbidden=[_arith.conv_output_size],
                post=int_result("conv_output_size"))


# ----------------------------------------------------------------------------- pad2d

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


def _padded_shape(x, top, bottom, left, right):
    s = np.shape(x)
    return s[:-2] + (s[-2] + top + bottom, s[-1] + left + right)


def _pad2d_shapes():
    def once(x, padding, value=0.0):
        t, b, l, r = padding_sides(padding)
        return _padded_shape(x, t, 0, l, 0)

    def swapped(x, padding, value=0.0):
        if not (isinstance(padding, (tuple, list)) and len(padding) == 2):
            raise ValueError
        return _padded_shape(x, padding[1], padding[1], padding[0], padding[0])

    def torch_order(x, padding, value=0.0):
        if not (isinstance(padding, (tuple, list)) and len(padding) == 4):
            raise ValueError
        left, right, top, bottom = padding
        return _padded_shape(x, top, bottom, left, right)

    def every_axis(x, padding, value=0.0):
        if isinstance(padding, (tuple, list)) and len(padding) == 4:
            raise ValueError  # np.pad(x, 4-tuple) fails on a 2-D array
        extra = sum(padding) if isinstance(padding, (tuple, list)) else 2 * padding
        return tuple(s + extra for s in np.shape(x))

    return [
        ShapeDiagnosis(lambda x, padding, value=0.0: np.shape(x),
                        "No padding was added: the output is as large as the input."),
        ShapeDiagnosis(every_axis,
                        "Every axis was padded: only the last two (height, width) get padding, "
                        "never the batch or channel axes."),
        ShapeDiagnosis(once,
                        "Padding counted only once: pad2d adds rows at the top AND the bottom, "
                        "columns on the left AND the right."),
        ShapeDiagnosis(swapped,
                        "Height and width padding are swapped: (ph, pw) puts ph rows above "
                        "and below, pw columns left and right."),
        ShapeDiagnosis(torch_order,
                        "The 4 numbers were read in PyTorch's F.pad order (left, right, top, "
                        "bottom); pad2d takes (top, bottom, left, right)."),
    ]


@documented
def check_pad2d(student_fn, hidden=False, seed=0):
    """Check ``pad2d(x, padding, value=0.0)``: int, (ph, pw) or (top, bottom, left, right)."""
    diagnoses = [
        Diagnosis(lambda x, padding, value=0.0: _pad.pad2d(x, padding, 0.0)
                  if np.asarray(x).dtype.kind == "f" else skip(),
                  "The fill value was ignored: fill the new border with `value` "
                  "(np.pad(..., constant_values=value))."),
    ]
    diagnoses.append(truncated(_pad.pad2d, "pad2d"))
    run("pad2d", student_fn, _pad.pad2d, pad2d_cases(hidden, seed), diagnoses,
        _pad2d_shapes(), forbidden=[_pad.pad2d],
        hints=[("could not broadcast", "A slice such as out[..., top:-bottom] is empty when "
                "bottom is 0 (-0 is 0): slice with top:top + H and left:left + W instead.")])


# ----------------------------------------------------------------------------- drills

def _drill(relationship, n, k, s=1, p=0, d=1):
    parts = [f"input {n}", f"kernel {k}"]
    parts += [f"stride {s}"] if s != 1 else []
    parts += [f"padding {p}"] if p else []
    parts += [f"dilation {d}"] if d != 1 else []
    return {"question": ", ".join(parts) + ": output size?", "relationship": relationship,
            "n": n, "kernel_size": k, "stride": s, "padding": p, "dilation": d}


def conv_arithmetic_drills(seed=0, count=8):
    """Output-size questions, one per relationship, with random numbers.

    Parameters
    ----------
    seed : int, default 0
        Different seeds give different numbers.
    count : int, default 8
        Number of drills; the eight kinds repeat when ``count > 8``.

    Returns
    -------
    list of dict
        Keys ``question``, ``relationship``, ``n``, ``kernel_size``,
        ``stride``, ``padding``, ``dilation`` (no answer: work it out, then
        compare with ``conv_output_size``).
    """
    rng = np.random.default_rng(seed)

    def r(lo, hi):
        return int(rng.integers(lo, hi + 1))

    makers = [
        lambda: _drill("no padding, unit stride: o = i - k + 1", r(5, 30), r(2, 5)),
        lambda: (lambda k: _drill("zero padding, unit stride: o = i - k + 2p + 1",
                                  r(5, 30), k, 1, r(1, k + 1)))(r(2, 6)),
        lambda: (lambda k: _drill("same padding, odd kernel: p = (k - 1) / 2 keeps o = i",
                                  r(5, 40), k, 1, (k - 1) // 2))(2 * r(1, 3) + 1),
        lambda: (lambda k: _drill("full padding: p = k - 1 gives o = i + k - 1",
                                  r(4, 20), k, 1, k - 1))(r(2, 5)),
        lambda: _stride_drill(r, "no padding, stride s: o = floor((i - k) / s) + 1", 0),
        lambda: _stride_drill(r, "padding and stride: o = floor((i + 2p - k) / s) + 1", r(1, 2)),
        lambda: (lambda k, d: _drill("dilation: the kernel spans d(k - 1) + 1 samples",
                                     r(d * (k - 1) + 1, 30), k, r(1, 2), r(0, 2), d))(r(2, 4),
                                                                                       r(2, 3)),
        lambda: (lambda k: _drill("even kernel, padding k/2: one sample too many, o = i + 1",
                                  r(6, 30), k, 1, k // 2))(2 * r(1, 3)),
    ]
    return [makers[j % len(makers)]() for j in range(count)]


def _stride_drill(r, relationship, p):
    """A strided drill whose distance (i + 2p - k) is NOT a multiple of the stride."""
    while True:
        n, k, s = r(6, 30), r(2, 5), r(2, 4)
        if n + 2 * p >= k and (n + 2 * p - k) % s:
            return _drill(relationship, n, k, s, p)


def drill_feedback(drills, answers):
    """Print each drill with a mark: right, wrong, or not answered yet.

    The correct sizes are not printed, only whether each answer matches
    :func:`lessonlib.conv_output_size`.

    Parameters
    ----------
    drills : list of dict
        From :func:`conv_arithmetic_drills`.
    answers : dict of int -> int or sequence of int
        Your answers by drill number (from 1), or a list in order; a
        missing or ``None`` answer is "not answered yet".

    Returns
    -------
    int
        The number of right answers.
    """
    if not isinstance(answers, dict):
        answers = {j + 1: a for j, a in enumerate(answers)}
    right = 0
    for j, d in enumerate(drills, start=1):
        expected = _arith.conv_output_size(d["n"], d["kernel_size"], d["stride"],
                                           d["padding"], d["dilation"])
        given = answers.get(j)
        if given is None:
            mark = "?  not answered yet"
        elif given == expected:
            mark, right = "\N{CHECK MARK} right", right + 1
        else:
            mark = f"\N{BALLOT X} {given} is wrong; the rule: {d['relationship']}"
        print(f"{j}. {d['question']:<55} {mark}")
    print(f"{right} of {len(drills)} right.")
    return right
