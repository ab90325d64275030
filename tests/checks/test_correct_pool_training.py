"""Unusual but correct implementations of 09's functions: every check must accept them.

The style of ``tests/checks/test_correct_pool.py``: what students write
besides the notebook's solution. Loops per channel or per pixel,
``einsum`` and ``np.moveaxis`` for the statistics, in-place arithmetic on
copies, ``np.where`` and ``np.divide(..., where=...)`` masks, the
efficient form of Adam from Kingma and Ba's paper, ``rng.normal`` and
``rng.uniform`` for the same draws, shifts vectorised with padding and
fancy indexing, or made with ``np.roll`` and the wrapped part zeroed.
"""

import math

import numpy as np
import pytest

import lessonlib.checks as checks


# ------------------------------------------------------------------ train_val_split
def train_val_split_take(X, y, n_val, rng):
    order = rng.permutation(len(X))
    return (np.take(X, order[n_val:], axis=0), np.take(y, order[n_val:]),
            np.take(X, order[:n_val], axis=0), np.take(y, order[:n_val]))


def train_val_split_shuffle_then_cut(X, y, n_val, rng):
    order = rng.permutation(len(y))                 # len(y) == len(X)
    Xs, ys = X[order], y[order]
    return Xs[n_val:], ys[n_val:], Xs[:n_val], ys[:n_val]


# ------------------------------------------------------------------ kaiming_normal
def kaiming_normal_rng_normal(shape, rng):
    return rng.normal(0.0, math.sqrt(2 / math.prod(shape[1:])), size=shape)


def kaiming_normal_loop(shape, rng):
    fan_in = 1
    for n in shape[1:]:
        fan_in = fan_in * n
    return rng.standard_normal(size=shape) * (2.0 / fan_in) ** 0.5


# ------------------------------------------------------------------ momentum_step
def momentum_step_in_place_on_copies(param, grad, velocity, lr, momentum=0.9):
    v = velocity.copy()
    v *= momentum
    v += grad
    p = param.copy()
    p -= lr * v
    return p, v


def momentum_step_ufuncs(param, grad, velocity, lr, momentum=0.9):
    v = np.add(np.multiply(momentum, velocity), grad)
    return np.subtract(param, np.multiply(lr, v)), v


# ------------------------------------------------------------------ adam_step
def adam_step_kingma_ba(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """Section 2 of the paper: the corrections folded into the step size and eps."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * np.square(grad)
    c2 = math.sqrt(1 - b2 ** t)
    step = lr * c2 / (1 - b1 ** t)
    return param - step * m / (np.sqrt(v) + eps * c2), m, v


def adam_step_loops(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    new_p, new_m, new_v = np.empty_like(param), np.empty_like(m), np.empty_like(v)
    for i in np.ndindex(param.shape):
        new_m[i] = b1 * m[i] + (1 - b1) * grad[i]
        new_v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i]
        m_hat = new_m[i] / (1 - b1 ** t)
        v_hat = new_v[i] / (1 - b2 ** t)
        new_p[i] = param[i] - lr * m_hat / (math.sqrt(v_hat) + eps)
    return new_p, new_m, new_v


# ------------------------------------------------------------------ batch_norm2d
def batch_norm2d_channel_loop(x, gamma, beta, running_mean, running_var, training=True,
                              momentum=0.1, eps=1e-5):
    y = np.empty(x.shape, dtype=np.result_type(x, gamma, beta, np.float32))
    for c in range(x.shape[1]):
        values = x[:, c]
        if training:
            mean, var = values.mean(), values.var()
            np.copyto(running_mean[c:c + 1], (1 - momentum) * running_mean[c] + momentum * mean)
            running_var[c] = (1 - momentum) * running_var[c] + momentum * values.var(ddof=1)
        else:
            mean, var = running_mean[c], running_var[c]
        y[:, c] = gamma[c] * (values - mean) / np.sqrt(var + eps) + beta[c]
    return y


def batch_norm2d_einsum(x, gamma, beta, running_mean, running_var, training=True,
                        momentum=0.1, eps=1e-5):
    if training:
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mean = np.einsum("nchw->c", x) / m
        centred = x - mean[None, :, None, None]
        var = np.einsum("nchw,nchw->c", centred, centred) / m
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * m / (m - 1)
    else:
        mean, var = running_mean, running_var
    scale = gamma / np.sqrt(var + eps)
    return np.einsum("nchw,c->nchw", x - mean[None, :, None, None], scale) \
        + beta[None, :, None, None]


def batch_norm2d_moveaxis(x, gamma, beta, running_mean, running_var, training=True,
                          momentum=0.1, eps=1e-5):
    c = x.shape[1]
    flat = np.moveaxis(x, 1, 0).reshape(c, -1)          # (C, N*H*W)
    if training:
        mean, var = flat.mean(axis=1), flat.var(axis=1)
        running_mean[:] = (1 - momentum) * running_mean + momentum * mean
        running_var[:] = (1 - momentum) * running_var + momentum * flat.var(axis=1, ddof=1)
    else:
        mean, var = running_mean, running_var
    out = (flat - mean[:, None]) / np.sqrt(var[:, None] + eps) * gamma[:, None] + beta[:, None]
    return np.moveaxis(out.reshape((c, x.shape[0]) + x.shape[2:]), 0, 1)


# ------------------------------------------------------------------ batch_norm2d_backward
def batch_norm2d_backward_channel_loop(dout, x, gamma, eps=1e-5):
    dx = np.empty(x.shape, dtype=np.result_type(dout, x, gamma))
    dgamma, dbeta = np.empty(x.shape[1], dx.dtype), np.empty(x.shape[1], dx.dtype)
    for c in range(x.shape[1]):
        xc, dc = x[:, c], dout[:, c]
        inv_std = 1 / np.sqrt(xc.var() + eps)
        xhat = (xc - xc.mean()) * inv_std
        dbeta[c], dgamma[c] = dc.sum(), (dc * xhat).sum()
        dx[:, c] = gamma[c] * inv_std * (dc - dc.mean() - xhat * (dc * xhat).mean())
    return dx, dgamma, dbeta


def batch_norm2d_backward_einsum(dout, x, gamma, eps=1e-5):
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mean = np.einsum("nchw->c", x) / m
    centred = x - mean[None, :, None, None]
    inv_std = 1 / np.sqrt(np.einsum("nchw,nchw->c", centred, centred) / m + eps)
    xhat = centred * inv_std[None, :, None, None]
    dbeta = np.einsum("nchw->c", dout)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat)
    dx = (m * dout - dbeta[None, :, None, None] - xhat * dgamma[None, :, None, None]) \
        * (gamma * inv_std / m)[None, :, None, None]
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ dropout
def dropout_where(x, p, training, rng):
    if not training:
        return np.array(x, copy=True), np.full(x.shape, True)
    keep = ~(rng.random(x.shape) < p)
    if p == 1:
        return np.zeros(x.shape), keep
    return np.where(keep, x / (1 - p), 0.0), keep


def dropout_uniform_and_indexing(x, p, training, rng):
    if not training:
        return x.copy(), np.ones_like(x, dtype=bool)
    mask = rng.uniform(0.0, 1.0, size=x.shape) >= p
    out = np.zeros(x.shape, dtype=np.result_type(x, np.float32))
    out[mask] = x[mask] / (1 - p)             # nothing is divided when p == 1: mask is all False
    return out, mask


# ------------------------------------------------------------------ dropout_backward
def dropout_backward_where(dout, mask, p):
    return np.where(mask, dout, 0) * (0.0 if p == 1 else 1 / (1 - p))


def dropout_backward_divide_where(dout, mask, p):
    return np.divide(dout * mask, 1 - p, out=np.zeros(dout.shape), where=(1 - p) != 0)


# ------------------------------------------------------------------ random_shifts
def random_shifts_pad_and_index(X, max_shift, rng):
    """Fully vectorised: pad by max_shift, then gather each image's window."""
    n, c, h, w = X.shape
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    m = max_shift
    padded = np.pad(X, ((0, 0), (0, 0), (m, m), (m, m)))
    rows = (m - dy)[:, None] + np.arange(h)          # source row of output row i, per image
    cols = (m - dx)[:, None] + np.arange(w)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def random_shifts_pad_and_slice(X, max_shift, rng):
    n, _, h, w = X.shape
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    m = max_shift
    padded = np.pad(X, ((0, 0), (0, 0), (m, m), (m, m)))
    return np.stack([padded[i, :, m - dy[i]:m - dy[i] + h, m - dx[i]:m - dx[i] + w]
                     for i in range(n)])


def random_shifts_roll_and_zero(X, max_shift, rng):
    n, _, h, w = X.shape
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    out = np.empty_like(X)
    for i in range(n):
        img = np.roll(X[i], (dy[i], dx[i]), axis=(1, 2))
        if dy[i] > 0:
            img[:, :dy[i]] = 0
        elif dy[i] < 0:
            img[:, h + dy[i]:] = 0
        if dx[i] > 0:
            img[:, :, :dx[i]] = 0
        elif dx[i] < 0:
            img[:, :, w + dx[i]:] = 0
        if abs(dy[i]) >= h or abs(dx[i]) >= w:
            img[...] = 0
        out[i] = img
    return out


POOL = [
    ("check_train_val_split", train_val_split_take),
    ("check_train_val_split", train_val_split_shuffle_then_cut),
    ("check_kaiming_normal", kaiming_normal_rng_normal),
    ("check_kaiming_normal", kaiming_normal_loop),
    ("check_momentum_step", momentum_step_in_place_on_copies),
    ("check_momentum_step", momentum_step_ufuncs),
    ("check_adam_step", adam_step_kingma_ba),
    ("check_adam_step", adam_step_loops),
    ("check_batch_norm2d", batch_norm2d_channel_loop),
    ("check_batch_norm2d", batch_norm2d_einsum),
    ("check_batch_norm2d", batch_norm2d_moveaxis),
    ("check_batch_norm2d_backward", batch_norm2d_backward_channel_loop),
    ("check_batch_norm2d_backward", batch_norm2d_backward_einsum),
    ("check_dropout", dropout_where),
    ("check_dropout", dropout_uniform_and_indexing),
    ("check_dropout_backward", dropout_backward_where),
    ("check_dropout_backward", dropout_backward_divide_where),
    ("check_random_shifts", random_shifts_pad_and_index),
    ("check_random_shifts", random_shifts_pad_and_slice),
    ("check_random_shifts", random_shifts_roll_and_zero),
]


@pytest.mark.parametrize("check, fn", POOL, ids=[f.__name__ for _, f in POOL])
@pytest.mark.parametrize("hidden, seed", [(False, 0), (True, 0), (True, 7)])
def test_an_unusual_but_correct_implementation_passes(check, fn, hidden, seed, capsys):
    getattr(checks, check)(fn, hidden=hidden, seed=seed)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK}")


def test_every_check_of_09_has_unusual_correct_implementations():
    from lessonlib.checks import training
    assert {c for c, _ in POOL} == set(training.__all__)


@pytest.mark.parametrize("check, fn", [
    ("check_batch_norm2d", lambda *a, **k: batch_norm2d_einsum(*a, **k) + 1e-3),
    ("check_dropout", lambda x, p, training, rng: dropout_where(1.001 * x, p, training, rng)),
    ("check_random_shifts", lambda X, m, r: random_shifts_pad_and_slice(X, m, r)[::-1]),
])
def test_negative_control_a_wrong_variant_of_the_pool_is_refused(check, fn):
    with pytest.raises(checks.CheckFailed):
        getattr(checks, check)(fn, hidden=True)
