"""Checks of assignments 01 (convolution) and 02 (padding and stride).

Every ``check_<name>(student_fn, hidden=False, seed=0)`` runs the
student's function and lessonlib's reference on hand-made cases (and, with
``hidden=True``, on random and adversarial ones: non-square inputs,
stride > 1, padding > 0, N = 1, C = 1, even kernels, sizes not divisible by
the stride, ties) and raises :class:`~lessonlib.checks.CheckFailed` naming
the likely mistake. The checks of assignments 03 and 04 live in
:mod:`lessonlib.checks.basics_layers` and are re-exported here.

Two kinds of diagnosis:

* value diagnoses (:class:`~lessonlib.checks.Diagnosis`): a known-wrong
  function; when the student's output equals its output, its message is
  shown (the flipped kernel, the forgotten bias ...);
* shape diagnoses (:class:`~lessonlib.checks.basics_common.ShapeDiagnosis`):
  the output shape a mistake produces (padding ignored, stride ignored,
  padding counted once ...).

A student's function may not call the reference it is compared with, and
sizes must be integers (:mod:`lessonlib.checks.basics_common`).
"""

from __future__ import annotations

import numpy as np

from .. import arithmetic as _arith
from .. import signal as _sig
from ._core import Case, CheckFailed, Diagnosis, call_student
from .basics_cases import (conv_output_size_cases, corr1d_cases, corr2d_cases,
                           pad2d_cases)
from .basics_common import (ShapeDiagnosis, broadcast_advice, skip, conv_fn, documented, guard,
                            int_result, loop_diagnoses, run, scipy_functions, truncated)
from .basics_drills import conv_arithmetic_drills, drill_feedback
from .basics_layers import (check_avg_pool2d, check_conv2d, check_conv2d_param_count,
                            check_linear_param_count, check_max_pool2d, check_relu)

__all__ = [
    "check_convolve1d", "check_correlate1d", "check_correlate2d",
    "check_vertical_edge_kernel", "check_conv_output_size", "check_pad2d",
    "check_conv2d", "check_conv2d_param_count", "check_linear_param_count",
    "check_relu", "check_max_pool2d", "check_avg_pool2d",
    "conv_arithmetic_drills", "drill_feedback",
]


# ----------------------------------------------------------------------------- 01: 1-D

_SIGNAL_SHAPES = [
    ShapeDiagnosis(lambda x, k, mode="full": (len(x) + len(k) - 1,) if mode != "full"
                    else None,
                    "That is the length of mode='full' (every overlap): crop it for "
                    "mode='same' or 'valid'."),
    ShapeDiagnosis(lambda x, k, mode="full": (len(x) - len(k) + 1,) if mode != "valid"
                    else None,
                    "That is the length of mode='valid' (only where k fits inside x): "
                    "is the `mode` argument used?"),
    ShapeDiagnosis(lambda x, k, mode="full": (len(x) - len(k),) if mode == "valid"
                    else None,
                    "One sample short: there are len(x) - len(k) + 1 positions where k fits, "
                    "so loop over range(len(x) - len(k) + 1)."),
    ShapeDiagnosis(lambda x, k, mode="full": (len(x) + len(k) - 2,) if mode == "full"
                    else None,
                    "One sample short: mode='full' has len(x) + len(k) - 1 samples."),
    ShapeDiagnosis(lambda x, k, mode="full": (1, len(_sig.correlate1d(x, k, mode))),
                    "The result has an extra axis: return a 1-D array of samples."),
]


def _shifted_same(reference, shift):
    """``reference`` in mode 'same' but cropped ``shift`` samples off centre."""
    def wrong(x, k, mode="full"):
        if mode != "same" or len(k) < 2:
            raise ValueError("not applicable")
        full = reference(x, k, mode="full")
        start = (min(len(x), len(k)) - 1) // 2 + shift
        if start < 0 or start + max(len(x), len(k)) > len(full):
            raise ValueError("not applicable")
        return full[start:start + max(len(x), len(k))]
    return wrong


def _last_missing(reference):
    def wrong(x, k, mode="full"):
        if mode != "full":
            raise ValueError("not applicable")
        out = np.array(reference(x, k, mode), dtype=float)
        out[-1] = 0
        return out
    return wrong


_LAST_MSG = ("The last sample is 0: mode='full' has len(x) + len(k) - 1 samples, so the loop "
             "over the output runs over range(len(x) + len(k) - 1).")

_SAME_MSG = ("mode='same' is off centre by one sample: take the full result and drop "
             "(len(k) - 1) // 2 samples at its start (as numpy.convolve does).")


@documented
def check_convolve1d(student_fn, hidden=False, seed=0):
    """Check ``convolve1d(x, k, mode="full")`` (true convolution: the kernel is flipped)."""
    diagnoses = [
        Diagnosis(_sig.correlate1d,
                  "It matches cross-correlation: the kernel was not flipped. True "
                  "convolution computes out[i] = sum_j x[i - j] * k[j], which is "
                  "cross-correlation with k[::-1]."),
        Diagnosis(_shifted_same(_sig.convolve1d, 1), _SAME_MSG),
        Diagnosis(_shifted_same(_sig.convolve1d, -1), _SAME_MSG),
        Diagnosis(_last_missing(_sig.convolve1d), _LAST_MSG),
        truncated(_sig.convolve1d, "convolve1d"),
    ]
    run("convolve1d", student_fn, _sig.convolve1d, corr1d_cases(hidden, seed),
                diagnoses, _SIGNAL_SHAPES,
                forbidden=[_sig.convolve1d, _sig.correlate1d, np.convolve, np.correlate])


@documented
def check_correlate1d(student_fn, hidden=False, seed=0):
    """Check ``correlate1d(x, k, mode="full")`` (cross-correlation: no flip)."""
    diagnoses = [
        Diagnosis(_sig.convolve1d,
                  "It matches the flipped kernel: that is true convolution. CNNs use "
                  "cross-correlation, out[i] = sum_j x[i + j] * k[j], with no flip."),
        Diagnosis(lambda x, k, mode="full": _sig.correlate1d(x, k, mode)[::-1],
                  "It is reversed: out[0] is the leftmost position of the kernel."),
        Diagnosis(_shifted_same(_sig.correlate1d, 1), _SAME_MSG),
        Diagnosis(_shifted_same(_sig.correlate1d, -1), _SAME_MSG),
        Diagnosis(_last_missing(_sig.correlate1d), _LAST_MSG),
        truncated(_sig.correlate1d, "correlate1d"),
    ]
    run("correlate1d", student_fn, _sig.correlate1d, corr1d_cases(hidden, seed),
                diagnoses, _SIGNAL_SHAPES,
                forbidden=[_sig.convolve1d, _sig.correlate1d, np.convolve, np.correlate])


# ----------------------------------------------------------------------------- 01: 2-D

def _corr2d_shapes():
    def hw(image, kernel):
        return np.shape(image), np.shape(kernel)
    return [
        ShapeDiagnosis(lambda im, k: hw(im, k)[0],
                        "That is the input's size: valid cross-correlation adds no padding, "
                        "its output is (H - kH + 1) x (W - kW + 1)."),
        ShapeDiagnosis(lambda im, k: tuple(a + b - 1 for a, b in zip(*hw(im, k))),
                        "That is mode 'full' (zero padding all around); the exercise asks "
                        "for 'valid', only positions where the kernel fits."),
        ShapeDiagnosis(lambda im, k: tuple(a - b for a, b in zip(*hw(im, k))),
                        "One row and one column short: the kernel fits at H - kH + 1 "
                        "positions, so loop over range(H - kH + 1)."),
        ShapeDiagnosis(lambda im, k: tuple(a - b + 1 for a, b in zip(*hw(im, k)))[::-1],
                        "Height and width are swapped: rows come from the image height "
                        "(axis 0), columns from its width (axis 1)."),
    ]


@documented
def check_correlate2d(student_fn, hidden=False, seed=0):
    """Check ``correlate2d(image, kernel)``: one channel, mode 'valid', no flip."""
    diagnoses = [
        Diagnosis(lambda im, k: _sig.correlate2d(im, np.asarray(k)[::-1, ::-1]),
                  "It matches the flipped kernel: that is true convolution, CNNs use "
                  "cross-correlation (slide the kernel as it is)."),
        Diagnosis(lambda im, k: _sig.correlate2d(im, np.asarray(k).T),
                  "It matches the transposed kernel: kernel[a, b] multiplies "
                  "image[i + a, j + b] (a for rows, b for columns)."),
        Diagnosis(lambda im, k: _sig.correlate2d(im, k) / np.size(k),
                  "It is divided by the kernel size: each output is the plain sum of the "
                  "products (a dot product), not their mean."),
    ]
    reference = lambda im, k: _sig.correlate2d(im, k, mode="valid")  # noqa: E731
    diagnoses += [truncated(reference, "correlate2d")] + loop_diagnoses(reference)
    run("correlate2d", student_fn, reference,
        corr2d_cases(hidden, seed), diagnoses, _corr2d_shapes(),
        forbidden=[_sig.correlate2d, _sig.convolve2d, conv_fn("conv2d")] + scipy_functions(),
        hints=[("could not be broadcast", broadcast_advice("kernel"))])


def _edge_images(rng, hidden):
    """(name, image, kind) test images: kind is 'vertical', 'horizontal' or 'flat'."""
    step = np.zeros((9, 9))
    step[:, 5:] = 1.0
    images = [("a dark-to-bright vertical edge", step, "vertical"),
              ("a horizontal edge", step.T.copy(), "horizontal"),
              ("a flat grey area", np.full((9, 9), 0.5), "flat")]
    if hidden:
        images += [("a bright-to-dark vertical edge", 1 - step[:, ::-1], "vertical"),
                   ("a vertical edge at column 2", np.tile(np.r_[0, 0, 1., 1, 1, 1, 1, 1, 1],
                                                          (9, 1)), "vertical"),
                   ("random horizontal stripes", np.tile(rng.random((11, 1)), (1, 10)),
                    "horizontal"),
                   ("a bright flat area", np.full((8, 10), 3.0), "flat")]
    return images


@documented
def check_vertical_edge_kernel(student_fn, hidden=False, seed=0):
    """Check a designed kernel: strong on vertical edges, ~0 on horizontal edges and flat areas.

    ``student_fn`` is a function of no argument returning the kernel (or the
    kernel itself): a 2-D array with at most 7 rows and columns. Its
    response is measured relative to its size (the sum of ``|kernel|``), so
    scaling a kernel does not change the verdict.
    """
    name = "vertical_edge_kernel"
    if callable(student_fn):
        kernel = call_student(guard(student_fn, name), name, Case(()))
    else:
        kernel = student_fn
    if kernel is None:
        raise CheckFailed(f"{name} returned None. Did you forget the `return` statement?")
    try:
        k = np.asarray(kernel, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} must be a 2-D array of numbers, got {kernel!r}.") from None
    if k.ndim != 2 or not (1 <= k.shape[0] <= 7 and 1 <= k.shape[1] <= 7):
        raise CheckFailed(f"{name} must be a 2-D array of at most 7x7 numbers, got shape "
                          f"{k.shape}, e.g. np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]).")
    if not np.isfinite(k).all():
        raise CheckFailed(f"{name} contains nan or inf.")
    size = np.abs(k).sum()
    if size == 0:
        raise CheckFailed(f"{name} is all zeros: it responds to nothing at all.")
    n = 0
    for label, image, kind in _edge_images(np.random.default_rng(seed), hidden):
        if k.shape[0] > image.shape[0] or k.shape[1] > image.shape[1]:
            continue
        response = np.abs(_sig.correlate2d(image, k)).max() / size
        n += 1
        if kind == "vertical" and response < 0.2:
            if np.abs(_sig.correlate2d(image.T, k)).max() / size >= 0.2:
                raise CheckFailed(
                    f"{name} barely responds to {label}, but strongly to a horizontal edge: "
                    f"it compares top with bottom. Transpose it (kernel.T) to compare left "
                    f"with right."
                )
            raise CheckFailed(
                f"{name} barely responds to {label} (strongest response "
                f"{response:.2g} x the sum of |kernel|; want >= 0.2). A vertical edge is a "
                f"change from left to right: give the left and right columns opposite signs."
            )
        if kind != "vertical" and response > 1e-6:
            rows = k.sum(axis=1)
            fix = ("Make every row sum to zero, so a change from top to bottom cancels out."
                   if kind == "horizontal" or np.abs(rows).max() > 1e-9 * size else "")
            if kind == "flat":
                fix = (f"The weights add up to {k.sum():g}: a flat area gives that sum times "
                       f"its brightness. Make every row sum to zero. " + fix).strip()
            raise CheckFailed(f"{name} responds to {label} (strongest response "
                              f"{response:.2g} x the sum of |kernel|; want 0). {fix}")
    print(f"\N{CHECK MARK} {name}: strong on vertical edges, ~0 on horizontal edges and "
          f"flat areas ({n} test images).")


# ----------------------------------------------------------------------------- 02

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


def _pad4(padding):
    if isinstance(padding, (tuple, list)):
        return tuple(padding) if len(padding) == 4 else (padding[0],) * 2 + (padding[1],) * 2
    return (padding,) * 4


def _padded_shape(x, top, bottom, left, right):
    s = np.shape(x)
    return s[:-2] + (s[-2] + top + bottom, s[-1] + left + right)


def _pad2d_shapes():
    def once(x, padding, value=0.0):
        t, b, l, r = _pad4(padding)
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
        Diagnosis(lambda x, padding, value=0.0: _sig.pad2d(x, padding, 0.0)
                  if np.asarray(x).dtype.kind == "f" else skip(),
                  "The fill value was ignored: fill the new border with `value` "
                  "(np.pad(..., constant_values=value))."),
    ]
    diagnoses.append(truncated(_sig.pad2d, "pad2d"))
    run("pad2d", student_fn, _sig.pad2d, pad2d_cases(hidden, seed), diagnoses,
        _pad2d_shapes(), forbidden=[_sig.pad2d],
        hints=[("could not broadcast", "A slice such as out[..., top:-bottom] is empty when "
                "bottom is 0 (-0 is 0): slice with top:top + H and left:left + W instead.")])
