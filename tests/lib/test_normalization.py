"""batch_norm2d and its backward: loop oracle, running statistics, gradients, PyTorch, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib import batch_norm2d, batch_norm2d_backward, gradcheck
from lessonlib.gradcheck import GRADCHECK_TOL


def batch_norm2d_loops(x, gamma, beta, running_mean=None, running_var=None, training=True,
                       momentum=0.1, eps=1e-5):
    """The definition, one channel and one value at a time (updates running stats in place)."""
    n, c, h, w = x.shape
    out = np.empty_like(x, dtype=np.float64)
    for ch in range(c):
        values = [float(x[i, ch, r, s]) for i in range(n) for r in range(h) for s in range(w)]
        m = len(values)
        if training:
            mean = sum(values) / m
            var = sum((v - mean) ** 2 for v in values) / m
            if running_mean is not None:
                running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mean
                running_var[ch] = (1 - momentum) * running_var[ch] + momentum * var * m / (m - 1)
        else:
            mean, var = float(running_mean[ch]), float(running_var[ch])
        for i in range(n):
            for r in range(h):
                for s in range(w):
                    xhat = (x[i, ch, r, s] - mean) / np.sqrt(var + eps)
                    out[i, ch, r, s] = gamma[ch] * xhat + beta[ch]
    return out


def data(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(3.0, 2.0, shape)
    return x, rng.uniform(0.5, 2.0, c), rng.standard_normal(c)


# ---------------------------------------------------------------- forward

def test_training_mode_matches_the_loop_definition_and_updates_running_stats():
    x, gamma, beta = data((4, 3, 5, 2))
    rm, rv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 0.5])
    rm_loop, rv_loop = rm.copy(), rv.copy()
    rm_id, rv_id = rm, rv
    out = batch_norm2d(x, gamma, beta, rm, rv, momentum=0.3)
    expected = batch_norm2d_loops(x, gamma, beta, rm_loop, rv_loop, momentum=0.3)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, rm_loop, rtol=1e-12)
    np.testing.assert_allclose(rv, rv_loop, rtol=1e-12)
    assert rm is rm_id and rv is rv_id     # in place, not rebound


def test_running_var_takes_the_unbiased_variance():
    x = np.array([1.0, 3.0]).reshape(2, 1, 1, 1)   # mean 2, biased var 1, unbiased var 2
    rm, rv = np.zeros(1), np.zeros(1)
    batch_norm2d(x, np.ones(1), np.zeros(1), rm, rv, momentum=1.0)
    assert rm.tolist() == [2.0] and rv.tolist() == [2.0]
    # negative control: the biased variance (what normalises the batch) would give 1
    assert rv.tolist() != [x.var()]


def test_momentum_zero_keeps_and_one_replaces_the_running_stats():
    x, gamma, beta = data((3, 2, 2, 2))
    rm, rv = np.array([7.0, 8.0]), np.array([9.0, 10.0])
    batch_norm2d(x, gamma, beta, rm, rv, momentum=0.0)
    assert rm.tolist() == [7.0, 8.0] and rv.tolist() == [9.0, 10.0]
    batch_norm2d(x, gamma, beta, rm, rv, momentum=1.0)
    np.testing.assert_allclose(rm, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(rv, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)


def test_each_output_channel_has_mean_beta_and_std_gamma():
    x, gamma, beta = data((8, 4, 3, 3), 1)
    out = batch_norm2d(x, gamma, beta, eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-10)


def test_evaluation_mode_uses_the_running_stats_and_leaves_them():
    x, gamma, beta = data((2, 3, 2, 2), 2)
    rm, rv = np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.25, 1.0])
    out = batch_norm2d(x, gamma, beta, rm, rv, training=False)
    np.testing.assert_allclose(out, batch_norm2d_loops(x, gamma, beta, rm, rv, training=False),
                               rtol=1e-12, atol=1e-12)
    assert rm.tolist() == [1.0, 2.0, 3.0] and rv.tolist() == [4.0, 0.25, 1.0]
    # one value per channel is fine in evaluation: no statistics are taken
    assert batch_norm2d(x[:1, :, :1, :1], gamma, beta, rm, rv, training=False).shape == (1, 3, 1, 1)
    # negative control: evaluation differs from training on the same batch
    assert not np.allclose(out, batch_norm2d(x, gamma, beta))


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(2, 3),
       seed=st.integers(0, 2 ** 16))
def test_any_shape_matches_the_loops(n, c, h, w, seed):
    x, gamma, beta = data((n, c, h, w), seed)
    rm, rv = np.zeros(c), np.ones(c)
    rm2, rv2 = rm.copy(), rv.copy()
    np.testing.assert_allclose(batch_norm2d(x, gamma, beta, rm, rv),
                               batch_norm2d_loops(x, gamma, beta, rm2, rv2),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rv, rv2, rtol=1e-12)


def test_float32_stays_float32_and_running_stats_keep_their_dtype():
    x, gamma, beta = (a.astype(np.float32) for a in data((2, 2, 3, 3)))
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float64)
    out = batch_norm2d(x, gamma, beta, rm, rv)
    assert out.dtype == np.float32 and rm.dtype == np.float32 and rv.dtype == np.float64
    assert batch_norm2d(x, gamma, beta, rm, rv, training=False).dtype == np.float32
    assert batch_norm2d(x, gamma.astype(np.float64), beta).dtype == np.float64
    assert all(g.dtype == np.float32 for g in batch_norm2d_backward(np.ones_like(x), x, gamma))


# ---------------------------------------------------------------- backward

def test_backward_passes_gradient_checks_for_x_gamma_and_beta():
    x, gamma, beta = data((3, 2, 3, 2), 3)
    dout = np.random.default_rng(4).standard_normal(x.shape)
    dx, dgamma, dbeta = batch_norm2d_backward(dout, x, gamma)
    assert gradcheck(lambda v: batch_norm2d(v, gamma, beta), x, dx, dout=dout) < GRADCHECK_TOL
    assert gradcheck(lambda v: batch_norm2d(x, v, beta), gamma, dgamma, dout=dout) \
        < GRADCHECK_TOL
    assert gradcheck(lambda v: batch_norm2d(x, gamma, v), beta, dbeta, dout=dout) \
        < GRADCHECK_TOL


def test_gradient_checks_reject_backwards_that_forget_a_term():
    """Negative controls: the mean's and the variance's dependence on x both matter."""
    x, gamma, beta = data((3, 2, 3, 2), 5)
    dout = np.random.default_rng(6).standard_normal(x.shape)
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    inv = (1 / np.sqrt(x.var(axis=axes) + 1e-5))[None, :, None, None]
    xhat = (x - x.mean(axis=axes, keepdims=True)) * inv
    g = gamma[None, :, None, None]
    dgamma = (dout * xhat).sum(axis=axes)[None, :, None, None]
    no_mean_term = g * inv * (dout - xhat * dgamma / m)
    no_var_term = g * inv * (dout - dout.sum(axis=axes, keepdims=True) / m)
    constant_stats = g * inv * dout
    for wrong in (no_mean_term, no_var_term, constant_stats):
        assert gradcheck(lambda v: batch_norm2d(v, gamma, beta), x, wrong, dout=dout) > 1e-2


def test_backward_by_hand_for_two_values():
    # x = (1, 3): xhat = (-1, 1); out = gamma * xhat + beta
    x = np.array([1.0, 3.0]).reshape(2, 1, 1, 1)
    dx, dgamma, dbeta = batch_norm2d_backward(np.array([1.0, 0.0]).reshape(2, 1, 1, 1), x,
                                              np.array([2.0]), eps=1e-12)
    assert dbeta.tolist() == [1.0]
    assert dgamma == pytest.approx([-1.0])
    # out_0 = 2 * (x0 - x1) / |x0 - x1| is constant for x0 < x1: no gradient
    np.testing.assert_allclose(dx.ravel(), [0.0, 0.0], atol=1e-9)


# ---------------------------------------------------------------- PyTorch

def test_matches_torch_batch_norm_with_running_stats():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, gamma, beta = data((5, 3, 4, 3), 7)
    rm, rv = np.array([0.1, 0.2, 0.3]), np.array([1.0, 1.5, 2.0])
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    for _ in range(3):  # three batches: the running stats accumulate
        out = batch_norm2d(x, gamma, beta, rm, rv, training=True, momentum=0.2, eps=1e-4)
        tout = F.batch_norm(xt, trm, trv, gt, bt, training=True, momentum=0.2, eps=1e-4)
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-13)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-13)
    dout = np.random.default_rng(8).standard_normal(x.shape)
    tout.backward(torch.tensor(dout))
    for mine, theirs in zip(batch_norm2d_backward(dout, x, gamma, eps=1e-4),
                            (xt.grad, gt.grad, bt.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12)
    out = batch_norm2d(x, gamma, beta, rm, rv, training=False, eps=1e-4)
    tout = F.batch_norm(xt, trm, trv, gt, bt, training=False, eps=1e-4)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    # negative control: a biased running variance is not what torch keeps
    trv1 = torch.tensor([1.0, 1.5, 2.0], dtype=torch.float64)
    F.batch_norm(torch.tensor(x), torch.zeros(3, dtype=torch.float64), trv1, training=True,
                 momentum=0.2)
    biased = (1 - 0.2) * np.array([1.0, 1.5, 2.0]) + 0.2 * x.var(axis=(0, 2, 3))
    assert not np.allclose(biased, trv1.numpy(), rtol=1e-6)


def test_one_value_per_channel_is_refused_in_training_like_torch():
    torch = pytest.importorskip("torch")
    x = np.ones((1, 2, 1, 1))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got x of shape \(1, 2, 1, 1\)"):
        batch_norm2d(x, np.ones(2), np.zeros(2))


# ---------------------------------------------------------------- errors

X = np.ones((2, 3, 2, 2))
G, B = np.ones(3), np.zeros(3)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: batch_norm2d(np.ones((2, 3)), G, B), ValueError,
     r"x must be a 4-D array, got a 2-D array of shape \(2, 3\)\. Layout is \(N, C, H, W\)"),
    (lambda: batch_norm2d(X, np.ones(2), B), ValueError,
     r"gamma must have shape \(C,\) = \(3,\), one entry per channel of x, got shape \(2,\)"),
    (lambda: batch_norm2d(X, G, np.zeros((3, 1))), ValueError,
     r"beta must have shape \(C,\) = \(3,\).*got shape \(3, 1\)"),
    (lambda: batch_norm2d(X, G, B, np.zeros(4), np.ones(3)), ValueError,
     r"running_mean must have shape \(C,\) = \(3,\)"),
    (lambda: batch_norm2d(X, G, B, [0.0, 0.0, 0.0], np.ones(3)), TypeError,
     r"running_mean must be a float32 or float64 ndarray \(it is updated in place\), got list"),
    (lambda: batch_norm2d(X, G, B, np.zeros(3, int), np.ones(3)), TypeError,
     r"running_mean must be a float32 or float64 ndarray .* got an array of dtype int64"),
    (lambda: batch_norm2d(X, G, B, training=False), ValueError,
     r"running_mean is required when training=False"),
    (lambda: batch_norm2d(X, G, B, np.zeros(3), training=False), ValueError,
     r"running_var is required when training=False"),
    (lambda: batch_norm2d(X, G, B, training="eval"), TypeError,
     r"training must be True or False, got 'eval'"),
    (lambda: batch_norm2d(X, G, B, eps=0), ValueError, r"eps must be in \(0, inf\], got 0.0"),
    (lambda: batch_norm2d(X, G, B, eps=-1e-5), ValueError, r"eps must be in \(0, inf\]"),
    (lambda: batch_norm2d(X, G, B, momentum=1.5), ValueError,
     r"momentum must be in \[0, 1\], got 1.5"),
    (lambda: batch_norm2d(X, G, B, momentum=-0.1), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: batch_norm2d(X, G, B, momentum=None), TypeError, r"momentum must be a number, "
                                                               r"got None"),
    (lambda: batch_norm2d_backward(np.ones((2, 3, 2, 1)), X, G), ValueError,
     r"dout must have the shape of x \(2, 3, 2, 2\), got \(2, 3, 2, 1\)"),
    (lambda: batch_norm2d_backward(X, X, np.ones(4)), ValueError,
     r"gamma must have shape \(C,\) = \(3,\)"),
    (lambda: batch_norm2d_backward(X, X, G, eps=0.0), ValueError, r"eps must be in \(0, inf\]"),
    (lambda: batch_norm2d_backward(X[:1, :, :1, :1], X[:1, :, :1, :1], G), ValueError,
     r"Expected more than 1 value per channel"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_a_refused_call_leaves_the_running_stats_alone():
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="running_var must have shape"):
        batch_norm2d(X * np.arange(3.0)[None, :, None, None] + 1, G, B, rm, np.ones(4))
    with pytest.raises(ValueError, match="gamma"):
        batch_norm2d(X + 1, np.ones(2), B, rm, rv)
    assert rm.tolist() == [0.0] * 3 and rv.tolist() == [1.0] * 3
