"""ReLU, softmax, log-softmax: hand values, SciPy, stability, gradients, PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from lessonlib import gradcheck, log_softmax, relu, relu_backward, softmax
from lessonlib.gradcheck import GRADCHECK_TOL


def naive_softmax(z, axis=-1):
    """Wrong: no max subtraction, so exp overflows for large logits."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)


def wrong_axis_softmax(z, axis=-1):
    """Wrong: normalises over the whole array instead of one axis."""
    e = np.exp(z - z.max())
    return e / e.sum()


# ---------------------------------------------------------------- hand-computed

def test_relu_by_hand():
    assert relu(np.array([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]


def test_relu_gradient_is_zero_at_zero_like_torch():
    dx = relu_backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0]))
    assert dx.tolist() == [0.0, 0.0, 5.0]
    assert np.where(np.array([-1.0, 0.0, 2.0]) >= 0, 5.0, 0).tolist() != dx.tolist()


def test_relu_gradient_of_a_non_finite_dout_stays_zero_where_inactive():
    dx = relu_backward(np.array([np.inf, np.nan, 1.0]), np.array([-1.0, -1.0, 1.0]))
    assert dx.tolist() == [0.0, 0.0, 1.0]  # as torch: no inf * 0 = nan


def test_softmax_by_hand():
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    np.testing.assert_allclose(log_softmax(np.array([0.0, np.log(3.0)])),
                               np.log([0.25, 0.75]))


# ---------------------------------------------------------------- SciPy as an oracle

@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_scipy(axis):
    z = np.random.default_rng(0).standard_normal((4, 5, 3)) * 10
    np.testing.assert_allclose(softmax(z, axis=axis), special.softmax(z, axis=axis),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(log_softmax(z, axis=axis), special.log_softmax(z, axis=axis),
                               rtol=1e-12, atol=1e-12)
    expected = z - special.logsumexp(z, axis=axis, keepdims=True)
    np.testing.assert_allclose(log_softmax(z, axis=axis), expected, rtol=1e-12, atol=1e-12)


def test_scipy_comparison_rejects_softmax_over_the_wrong_axis():
    z = np.random.default_rng(1).standard_normal((3, 4))
    assert not np.allclose(wrong_axis_softmax(z), special.softmax(z, axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    p = softmax(z)
    logp = log_softmax(z)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(logp[0], [0.0, -2e4, -1e4], rtol=1e-6)
    assert p.dtype == logp.dtype == dtype
    # negative control: the naive formula overflows on the same input
    assert not np.all(np.isfinite(naive_softmax(z)))


# ---------------------------------------------------------------- properties

finite_logits = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                           elements=st.floats(-1e4, 1e4))


@given(finite_logits, st.floats(-1e3, 1e3))
def test_property_softmax_sums_to_one_and_is_shift_invariant(z, c):
    p = softmax(z, axis=-1)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(z + c, axis=-1), p, atol=1e-9)
    np.testing.assert_allclose(log_softmax(z + c, axis=-1), log_softmax(z, axis=-1),
                               atol=1e-7 * (1 + np.abs(z).max()))


def test_properties_reject_known_wrong_softmaxes():
    z = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert not np.allclose(wrong_axis_softmax(z).sum(axis=-1), 1.0)
    assert not np.all(np.isfinite(naive_softmax(z + 1e3)))


# ---------------------------------------------------------------- gradients

def test_relu_backward_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 4))
    x[np.abs(x) < 0.01] = 0.5  # keep away from the kink at 0
    dout = rng.standard_normal(x.shape)
    assert gradcheck(relu, x, relu_backward(dout, x), dout=dout) < GRADCHECK_TOL
    # negative control: a gradient that ignores the mask
    assert gradcheck(relu, x, dout, dout=dout) > 0.1


# ---------------------------------------------------------------- dtype and errors

def test_float32_in_float32_out():
    z = np.ones((2, 3), np.float32)
    for f in (relu, softmax, log_softmax):
        assert f(z).dtype == np.float32
    assert relu_backward(z, z).dtype == np.float32
    assert relu_backward(z.astype(np.float64), z).dtype == np.float64


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 1\] for a 2-D array, got 2"):
        softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"axis must be an integer"):
        log_softmax(np.zeros((2, 3)), axis=1.0)
    with pytest.raises(ValueError, match=r"z must have at least one axis, got a scalar"):
        softmax(3.0)
    with pytest.raises(ValueError, match=r"dout must have the shape of x \(3,\), got \(2,\)"):
        relu_backward(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match=r"x must hold real numbers, got dtype complex128"):
        relu(np.array([1j]))


# ---------------------------------------------------------------- PyTorch

def test_matches_torch():
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(3).standard_normal((4, 6)) * 5
    z[0, 0] = 0.0
    zt = torch.tensor(z, requires_grad=True)
    torch.relu(zt).backward(torch.ones_like(zt))
    np.testing.assert_allclose(relu(z), torch.relu(zt).detach().numpy())
    np.testing.assert_allclose(relu_backward(np.ones_like(z), z), zt.grad.numpy())
    for axis in (0, 1):
        np.testing.assert_allclose(softmax(z, axis), torch.softmax(torch.tensor(z), axis).numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(log_softmax(z, axis),
                                   torch.log_softmax(torch.tensor(z), axis).numpy(), rtol=1e-12)
    big = np.array([[1e4, -1e4]], np.float32)
    np.testing.assert_allclose(log_softmax(big), torch.log_softmax(torch.tensor(big), 1).numpy())
    assert not np.allclose(wrong_axis_softmax(z), torch.softmax(torch.tensor(z), 1).numpy())
