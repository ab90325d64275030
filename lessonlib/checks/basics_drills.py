"""Drills on output sizes, generated from the convolution-arithmetic relationships.

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

from ..arithmetic import conv_output_size

__all__ = ["conv_arithmetic_drills", "drill_feedback"]


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
        expected = conv_output_size(d["n"], d["kernel_size"], d["stride"], d["padding"],
                                    d["dilation"])
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
