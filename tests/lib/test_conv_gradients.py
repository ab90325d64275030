"""Central-difference gradient checks (float64) for the convolution backward passes.

The loss is ``L = sum(forward(x, w, b) * dout)`` for a fixed random
``dout``, so ``dL/d(out) = dout`` and the analytic gradients from the
backward function must match finite differences of ``L``. Each check is
also run on deliberately wrong gradients, which it must reject.
"""

import numpy as np
import pytest

from lessonlib import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from lessonlib.loops.conv import conv2d_backward_loops

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7     # central differences in float64: error ~ EPS**2 + round-off / EPS


def numerical_gradient(loss, a):
    """d loss / d a by central differences, perturbing ``a`` in place one entry at a time."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + EPS
        plus = loss()
        a[idx] = old - EPS
        minus = loss()
        a[idx] = old
        grad[idx] = (plus - minus) / (2 * EPS)
    return grad


def gradients_match(forward, backward, x, w, b, kw, rng):
    """True if ``backward``'s (dx, dw, db) match finite differences of ``forward``."""
    dout = rng.standard_normal(forward(x, w, b, **kw).shape)

    def loss():
        return float(np.sum(forward(x, w, b, **kw) * dout))

    analytic = backward(dout, x, w, **kw)
    numeric = [numerical_gradient(loss, a) for a in (x, w, b)]
    return all(g.shape == n.shape and np.allclose(g, n, rtol=RTOL, atol=ATOL)
               for g, n in zip(analytic, numeric))


CONV_CONFIGS = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),            # 7 not divisible by 2
    dict(stride=(1, 3), padding=(2, 0), dilation=(2, 1), groups=2),
    dict(stride=1, padding="same", dilation=1, groups=4),       # depthwise, even kernel
    dict(stride=(2, 1), padding="full", dilation=(1, 2), groups=1),
]


def conv_arrays(kw, rng, kernel=(2, 3)):
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((4, 4 // kw["groups"]) + kernel)
    return x, w, rng.standard_normal(4)


@pytest.mark.parametrize("kw", CONV_CONFIGS)
def test_conv2d_backward_matches_finite_differences(kw, rng):
    x, w, b = conv_arrays(kw, rng)
    assert gradients_match(conv2d, conv2d_backward, x, w, b, kw, rng)


@pytest.mark.parametrize("kw", CONV_CONFIGS[1:3])
def test_conv2d_backward_loops_matches_finite_differences(kw, rng):
    x, w, b = conv_arrays(kw, rng)
    assert gradients_match(conv2d, conv2d_backward_loops, x, w, b, kw, rng)


def _flipped_dweight(backward):
    def wrong(*args, **kw):
        dx, dw, db = backward(*args, **kw)
        return dx, dw[..., ::-1, ::-1], db
    return wrong


def _shifted_dx(backward):
    def wrong(*args, **kw):
        dx, dw, db = backward(*args, **kw)
        return np.roll(dx, 1, axis=-1), dw, db
    return wrong


def _mean_dbias(backward):
    def wrong(dout, *args, **kw):
        dx, dw, _ = backward(dout, *args, **kw)
        return dx, dw, dout.mean(axis=(0, 2, 3))
    return wrong


def _ignored_stride(backward):
    def wrong(dout, x, w, **kw):         # gradients of a stride-1 conv, cut to shape
        out = conv2d(x, w, padding=kw["padding"], dilation=kw["dilation"], groups=kw["groups"])
        full = np.zeros_like(out)
        full[:, :, :dout.shape[2], :dout.shape[3]] = dout
        return backward(full, x, w, **{**kw, "stride": 1})
    return wrong


@pytest.mark.parametrize("make_wrong", [_flipped_dweight, _shifted_dx, _mean_dbias])
def test_gradient_check_rejects_wrong_conv2d_gradients(make_wrong, rng):
    kw = CONV_CONFIGS[2]
    x, w, b = conv_arrays(kw, rng)
    assert not gradients_match(conv2d, make_wrong(conv2d_backward), x, w, b, kw, rng)


def test_gradient_check_rejects_a_backward_that_ignores_stride(rng):
    kw = CONV_CONFIGS[1]
    x, w, b = conv_arrays(kw, rng)
    assert not gradients_match(conv2d, _ignored_stride(conv2d_backward), x, w, b, kw, rng)


TRANSPOSE_CONFIGS = [
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1),
    dict(stride=(1, 3), padding=(0, 1), output_padding=(1, 2), groups=1, dilation=(2, 1)),
]


def transpose_arrays(kw, rng):
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 6 // kw["groups"], 3, 2))
    return x, w, rng.standard_normal(6)


@pytest.mark.parametrize("kw", TRANSPOSE_CONFIGS)
def test_conv_transpose2d_backward_matches_finite_differences(kw, rng):
    x, w, b = transpose_arrays(kw, rng)
    assert gradients_match(conv_transpose2d, conv_transpose2d_backward, x, w, b, kw, rng)


@pytest.mark.parametrize("make_wrong", [_flipped_dweight, _shifted_dx, _mean_dbias])
def test_gradient_check_rejects_wrong_conv_transpose2d_gradients(make_wrong, rng):
    kw = TRANSPOSE_CONFIGS[1]
    x, w, b = transpose_arrays(kw, rng)
    assert not gradients_match(conv_transpose2d, make_wrong(conv_transpose2d_backward),
                               x, w, b, kw, rng)
