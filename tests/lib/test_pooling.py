"""Max and average pooling: hand-computed values, loops, SciPy, gradients, PyTorch.

Every kind of test carries a negative control: a known-wrong pooling that
the same assertion rejects, so no test here passes by construction.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import ndimage

from lessonlib import (avg_pool2d, avg_pool2d_backward, gradcheck, max_pool2d,
                       max_pool2d_backward)
from lessonlib.gradcheck import GRADCHECK_TOL
from lessonlib.loops.pooling import (avg_pool2d_backward_loops, avg_pool2d_loops,
                                  max_pool2d_backward_loops, max_pool2d_loops)

# ---------------------------------------------------------------- known-wrong variants


def max_pool_backward_last_tie(dout, x, k, s=None, p=0):
    """Wrong: on a tie, the gradient goes to the *last* maximum."""
    flipped = max_pool2d_backward_loops(dout[..., ::-1, ::-1], x[..., ::-1, ::-1], k, s, p)
    return flipped[..., ::-1, ::-1]


def max_pool_backward_all_ties(dout, x, k, s=None, p=0):
    """Wrong: every maximum of a window receives the full gradient."""
    s = k if s is None else s
    out = max_pool2d(x, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    dxp = np.zeros_like(xp)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            win = xp[:, :, i * s:i * s + k, j * s:j * s + k]
            dxp[:, :, i * s:i * s + k, j * s:j * s + k] += (
                (win == out[:, :, i:i + 1, j:j + 1]) * dout[:, :, i:i + 1, j:j + 1])
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]


def avg_pool_exclude_pad(x, k, s=None, p=0):
    """Wrong (for PyTorch's default): padding not counted in the mean."""
    ones = np.ones_like(x)
    return avg_pool2d(x, k, s, p) / avg_pool2d(ones, k, s, p)


def avg_pool_backward_no_divide(dout, x, k, s=None, p=0):
    """Wrong: forgets to divide by the window size."""
    kk = k * k if isinstance(k, int) else k[0] * k[1]
    return avg_pool2d_backward(dout, x, k, s, p) * kk


# ---------------------------------------------------------------- hand-computed

X44 = np.array([[1, 2, 5, 0],
                [3, 4, 1, 6],
                [7, 0, 2, 2],
                [1, 8, 2, 2]], dtype=float)[None, None]


def test_max_pool_4x4_by_hand():
    assert max_pool2d(X44, 2)[0, 0].tolist() == [[4, 6], [8, 2]]


def test_avg_pool_4x4_by_hand():
    assert avg_pool2d(X44, 2)[0, 0].tolist() == [[2.5, 3.0], [4.0, 2.0]]


def test_max_pool_backward_by_hand_sends_gradient_to_the_maximum():
    dout = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[3, 1] = 10, 20, 30
    expected[2, 2] = 40  # bottom-right window is all 2s: the first (top-left) one wins
    np.testing.assert_array_equal(max_pool2d_backward(dout, X44, 2)[0, 0], expected)
    # negative control: sending a tie's gradient to the last maximum is caught
    assert not np.array_equal(max_pool_backward_last_tie(dout, X44, 2)[0, 0], expected)


def test_ties_in_overlapping_windows_go_to_each_windows_first_maximum():
    x = np.ones((1, 1, 4, 4))
    dx = max_pool2d_backward(np.ones((1, 1, 3, 3)), x, 2, stride=1)
    expected = np.zeros((4, 4))
    expected[:3, :3] = 1  # window (i, j) starts at (i, j): its first element wins
    np.testing.assert_array_equal(dx[0, 0], expected)
    assert not np.array_equal(max_pool_backward_all_ties(np.ones((1, 1, 3, 3)), x, 2, 1)[0, 0],
                              expected)


def test_non_finite_gradient_reaches_only_the_maximum():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool2d_backward(np.array([[[[np.inf]]]]), x, 2)
    assert dx[0, 0].tolist() == [[0.0, 0.0], [0.0, np.inf]]  # as torch: no inf * 0 = nan


def test_overlapping_windows_accumulate_gradient():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre is the maximum of all four 2x2 windows
    dx = max_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, stride=1)
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_avg_pool_counts_zero_padding_like_torch():
    x = np.ones((1, 1, 3, 3))
    out = avg_pool2d(x, 3, stride=2, padding=1)
    np.testing.assert_allclose(out[0, 0], [[4 / 9, 4 / 9], [4 / 9, 4 / 9]])
    assert not np.allclose(avg_pool_exclude_pad(x, 3, 2, 1)[0, 0], 4 / 9)


def test_max_pool_pads_with_minus_infinity_not_zero():
    x = -np.ones((1, 1, 2, 2))
    out = max_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(out, -np.ones((1, 1, 3, 3)))  # zero padding would give 0


def test_avg_pool_backward_by_hand():
    dx = avg_pool2d_backward(np.array([[[[4.0]]]]), np.zeros((1, 1, 2, 2)), 2)
    np.testing.assert_array_equal(dx, np.ones((1, 1, 2, 2)))
    assert not np.allclose(avg_pool_backward_no_divide(np.array([[[[4.0]]]]),
                                                       np.zeros((1, 1, 2, 2)), 2), 1.0)


def test_stride_defaults_to_kernel_size():
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6))
    np.testing.assert_array_equal(max_pool2d(x, 3), max_pool2d(x, 3, stride=3))
    assert max_pool2d(x, 3).shape != max_pool2d(x, 3, stride=1).shape


# ---------------------------------------------------------------- loops vs fast path

CASES = [  # (shape, kernel, stride, padding)
    ((2, 3, 7, 9), 3, 2, 1),            # non-square input, overlapping, padding
    ((1, 1, 5, 6), (2, 3), 1, (1, 0)),  # N=1, C=1, non-square kernel, stride < kernel
    ((3, 2, 7, 7), 2, None, 0),         # size not divisible by the stride
    ((2, 1, 6, 5), 3, 1, 1),
    ((1, 4, 9, 4), (3, 2), (2, 1), (1, 1)),
    ((2, 2, 5, 5), 2, 3, 0),            # stride > kernel: gaps between windows
]


@pytest.mark.parametrize("shape,k,s,p", CASES)
def test_fast_path_matches_loops_with_ties(shape, k, s, p):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=shape).astype(float)  # many ties
    out = max_pool2d_loops(x, k, s, p)
    np.testing.assert_array_equal(max_pool2d(x, k, s, p), out)
    np.testing.assert_allclose(avg_pool2d(x, k, s, p), avg_pool2d_loops(x, k, s, p))
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(max_pool2d_backward(dout, x, k, s, p),
                               max_pool2d_backward_loops(dout, x, k, s, p))
    np.testing.assert_allclose(avg_pool2d_backward(dout, x, k, s, p),
                               avg_pool2d_backward_loops(dout, x, k, s, p))


def test_loops_comparison_rejects_a_wrong_fast_path():
    """Negative control: a fast path with the kernel's axes swapped is caught."""
    x = np.random.default_rng(2).standard_normal((1, 1, 6, 6))
    wrong = max_pool2d(x, (2, 3), 1)
    right = max_pool2d_loops(x, (3, 2), 1)
    assert wrong.shape != right.shape
    assert not np.allclose(max_pool2d(x, 2, 1, 1)[..., :5, :5], max_pool2d_loops(x, 2, 1))


# ---------------------------------------------------------------- SciPy as an oracle

def scipy_pool(x, k, s, p, kind):
    """Pooling from scipy.ndimage's filters, subsampled at the window starts."""
    kh, kw = (k, k) if isinstance(k, int) else k
    s = (kh, kw) if s is None else ((s, s) if isinstance(s, int) else s)
    ph, pw = (p, p) if isinstance(p, int) else p
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    if kind == "max":
        f = ndimage.maximum_filter(xp, size=(1, 1, kh, kw), mode="constant", cval=-np.inf)
    else:
        f = ndimage.uniform_filter(xp, size=(1, 1, kh, kw), mode="constant", cval=0.0)
    ho = (x.shape[2] + 2 * ph - kh) // s[0] + 1
    wo = (x.shape[3] + 2 * pw - kw) // s[1] + 1
    # a window starting at r is centred (scipy's origin 0) at r + k // 2
    return f[:, :, kh // 2:kh // 2 + s[0] * (ho - 1) + 1:s[0],
             kw // 2:kw // 2 + s[1] * (wo - 1) + 1:s[1]]


@pytest.mark.parametrize("shape,k,s,p", CASES)
def test_forward_matches_scipy_ndimage(shape, k, s, p):
    x = np.random.default_rng(3).standard_normal(shape)
    np.testing.assert_array_equal(max_pool2d(x, k, s, p), scipy_pool(x, k, s, p, "max"))
    np.testing.assert_allclose(avg_pool2d(x, k, s, p), scipy_pool(x, k, s, p, "avg"),
                               rtol=1e-12, atol=1e-12)


def test_scipy_oracle_rejects_average_that_excludes_padding():
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 5))
    assert not np.allclose(avg_pool_exclude_pad(x, 3, 2, 1), scipy_pool(x, 3, 2, 1, "avg"))


# ---------------------------------------------------------------- gradient checks

def distinct_values(shape, seed):
    """Values at least 0.1 apart: no tie, no kink within eps of a perturbation."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + 0.01 * rng.random(shape)


@pytest.mark.parametrize("shape,k,s,p", CASES[:4])
def test_max_pool_backward_matches_numerical_gradient(shape, k, s, p):
    x = distinct_values(shape, 5)
    dout = np.random.default_rng(6).standard_normal(max_pool2d(x, k, s, p).shape)
    err = gradcheck(lambda v: max_pool2d(v, k, s, p), x,
                    max_pool2d_backward(dout, x, k, s, p), dout=dout)
    assert err < GRADCHECK_TOL


@pytest.mark.parametrize("shape,k,s,p", CASES[:4])
def test_avg_pool_backward_matches_numerical_gradient(shape, k, s, p):
    x = np.random.default_rng(7).standard_normal(shape)
    dout = np.random.default_rng(8).standard_normal(avg_pool2d(x, k, s, p).shape)
    err = gradcheck(lambda v: avg_pool2d(v, k, s, p), x,
                    avg_pool2d_backward(dout, x, k, s, p), dout=dout)
    assert err < GRADCHECK_TOL


def test_gradcheck_rejects_wrong_pooling_gradients():
    x = distinct_values((1, 2, 5, 5), 9)
    dout = np.random.default_rng(10).standard_normal((1, 2, 2, 2))
    wrong_avg = avg_pool_backward_no_divide(dout, x, 2)
    assert gradcheck(lambda v: avg_pool2d(v, 2), x, wrong_avg, dout=dout) > 0.1
    wrong_max = max_pool2d_backward(dout, x, 2)[..., ::-1, :]  # rows reversed
    assert gradcheck(lambda v: max_pool2d(v, 2), x, wrong_max, dout=dout) > 0.1


# ---------------------------------------------------------------- property tests

@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).integers(-2, 3, size=(n, c, h, w)).astype(float)
    return values, (kh, kw), s, (ph, pw)


@given(pool_cases())
def test_property_shapes_and_loops_agree_with_ties(case):
    x, k, s, p = case
    ho = (x.shape[2] + 2 * p[0] - k[0]) // s[0] + 1
    wo = (x.shape[3] + 2 * p[1] - k[1]) // s[1] + 1
    out = max_pool2d(x, k, s, p)
    assert out.shape == x.shape[:2] + (ho, wo)
    assert avg_pool2d(x, k, s, p).shape == out.shape
    np.testing.assert_array_equal(out, max_pool2d_loops(x, k, s, p))
    dout = np.arange(out.size, dtype=float).reshape(out.shape) + 1
    dx = max_pool2d_backward(dout, x, k, s, p)
    np.testing.assert_array_equal(dx, max_pool2d_backward_loops(dout, x, k, s, p))
    # every window hands its whole gradient to one input pixel
    assert dx.sum() == pytest.approx(dout.sum())
    np.testing.assert_allclose(avg_pool2d_backward(dout, x, k, s, p),
                               avg_pool2d_backward_loops(dout, x, k, s, p), atol=1e-12)


@given(pool_cases())
def test_property_max_dominates_mean_without_padding(case):
    x, k, s, _ = case
    assume(x.shape[2] >= k[0] and x.shape[3] >= k[1])
    assert np.all(max_pool2d(x, k, s) >= avg_pool2d(x, k, s) - 1e-12)


def test_property_checks_reject_known_wrong_variants():
    """Negative control: the properties above fail for the wrong variants."""
    x = np.ones((1, 1, 3, 3))
    dout = np.ones((1, 1, 2, 2))
    wrong = max_pool_backward_all_ties(dout, x, 2, 1)
    assert wrong.sum() != dout.sum()
    assert not np.array_equal(max_pool_backward_last_tie(dout, x, 2, 1),
                              max_pool2d_backward_loops(dout, x, 2, 1))


# ---------------------------------------------------------------- dtype

def test_float32_in_float32_out():
    x = np.random.default_rng(11).standard_normal((2, 3, 6, 6)).astype(np.float32)
    dout = np.ones((2, 3, 3, 3), np.float32)
    for f in (max_pool2d, avg_pool2d):
        assert f(x, 2).dtype == np.float32
        assert f(x.astype(np.float64), 2).dtype == np.float64
    for b in (max_pool2d_backward, avg_pool2d_backward):
        assert b(dout, x, 2).dtype == np.float32
        assert b(dout.astype(np.float64), x, 2).dtype == np.float64
    assert max_pool2d(np.arange(16).reshape(1, 1, 4, 4), 2).dtype == np.float64  # ints


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(kernel_size=3, padding=2), ValueError, r"padding must be at most half the kernel"),
    (dict(kernel_size=7), ValueError, r"kernel_size \(7, 7\) is larger than the padded input"),
    (dict(kernel_size=0), ValueError, r"kernel_size must be a positive integer"),
    (dict(kernel_size=2, stride=0), ValueError, r"stride must be a positive integer"),
    (dict(kernel_size=2.0), TypeError, r"kernel_size must be a positive integer"),
    (dict(kernel_size=2, padding=-1), ValueError, r"Padding cannot be negative"),
])
@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d, max_pool2d_loops])
def test_bad_hyper_parameters_are_refused(fn, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(np.zeros((1, 1, 5, 5)), **kwargs)


def test_bad_input_shape_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"x must be a 4-D array.*x\[None, None\]"):
        max_pool2d(np.zeros((5, 5)), 2)


def test_dout_of_the_wrong_shape_is_refused():
    for fn in (max_pool2d_backward, avg_pool2d_backward, max_pool2d_backward_loops):
        with pytest.raises(ValueError, match=r"dout must have the shape of \w+_pool2d's output "
                                             r"for these arguments, \(1, 1, 2, 2\), got "
                                             r"\(1, 1, 3, 3\). Pass the same x, kernel_size"):
            fn(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), 2)


# ---------------------------------------------------------------- PyTorch

TORCH_CASES = CASES + [((4, 3, 8, 8), 2, 2, 0), ((2, 2, 9, 7), 3, 2, 1)]


@pytest.mark.parametrize("shape,k,s,p", TORCH_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_forward_and_backward(shape, k, s, p, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(12)
    x = rng.integers(0, 4, size=shape).astype(dtype)  # ties decide where gradients go
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for fn, bwd, tfn in ((max_pool2d, max_pool2d_backward, F.max_pool2d),
                         (avg_pool2d, avg_pool2d_backward, F.avg_pool2d)):
        xt = torch.tensor(x, requires_grad=True)
        out_t = tfn(xt, k, s, p)
        dout = rng.standard_normal(tuple(out_t.shape)).astype(dtype)
        out_t.backward(torch.tensor(dout))
        out = fn(x, k, s, p)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, out_t.detach().numpy(), **tol)
        np.testing.assert_allclose(bwd(dout, x, k, s, p), xt.grad.numpy(), **tol)


def test_torch_comparison_rejects_wrong_variants():
    torch = pytest.importorskip("torch")
    x = np.ones((1, 1, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2, 1).sum().backward()
    dout = np.ones((1, 1, 3, 3))
    assert not np.allclose(max_pool_backward_last_tie(dout, x, 2, 1), xt.grad.numpy())
    y = np.random.default_rng(13).standard_normal((1, 1, 5, 5))
    expected = torch.nn.functional.avg_pool2d(torch.tensor(y), 3, 2, 1).numpy()
    assert not np.allclose(avg_pool_exclude_pad(y, 3, 2, 1), expected)
