"""Checks of assignment 01 (convolution): 1-D convolution and correlation, 2-D correlation.

Every ``check_<name>(student_fn, hidden=False, seed=0)`` runs the
student's function and lessonlib's reference on hand-made cases (and, with
``hidden=True``, on random and adversarial ones: non-square inputs, even
kernels, float32 inputs) and raises :class:`~lessonlib.checks.CheckFailed`
naming the likely mistake.

Two kinds of diagnosis:

* value diagnoses (:class:`~lessonlib.checks.Diagnosis`): a known-wrong
  function; when the student's output equals its output, its message is
  shown (the flipped kernel, the transposed kernel ...);
* shape diagnoses (:class:`~lessonlib.checks._core.ShapeDiagnosis`):
  the output shape a mistake produces (mode 'full' instead of 'valid',
  one sample short ...).

A student's function may not call the reference it is compared with
(:mod:`lessonlib.checks._runner`).
"""

from __future__ import annotations

import numpy as np

from .. import signal as _sig
from ._core import Case, CheckFailed, Diagnosis, ShapeDiagnosis, _a, call_student
from ._runner import (broadcast_advice, conv_fn, documented, guard, loop_diagnoses, run,
                      scipy_functions, truncated)

__all__ = ["check_convolve1d", "check_correlate1d", "check_correlate2d",
           "check_vertical_edge_kernel"]


# ----------------------------------------------------------------------------- 1-D

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


# ----------------------------------------------------------------------------- 2-D

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
