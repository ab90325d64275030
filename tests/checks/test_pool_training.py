"""A pool of plausible wrong implementations of the graded functions of assignment 09.

The format of ``tests/checks/test_pool.py``: each entry is ``(function name,
wrong implementation, regex)``, the implementation what a student writes
with one usual bug (two permutations for X and y, fan_in = shape[0], the
other momentum convention, Adam without bias correction, the unbiased
variance, ``mask < p``, ``np.roll`` ...), in plain NumPy, independently of
lessonlib; ``regex`` must match the message of the check (it names the
cause).

Measured over the pool (``summary``) and asserted, more strictly than for
01-08:

* the visible cases predict the grade: no wrong implementation passes the
  visible cases (so none passes them and fails the hidden ones);
* every message names its cause, and no message names another entry's
  cause (the patterns of one function's entries tell their causes apart).

Run ``python tests/checks/test_pool_training.py`` to print the counts and
the messages that do not match.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys

import numpy as np
import pytest

from lessonlib import checks
from lessonlib.checks import CheckFailed


# ============================================================== train_val_split

def train_val_split(X, y, n_val, rng, bug=None):
    n = len(X)
    if bug == "shuffle_each":                      # two shuffles: two permutations
        Xs, ys = X.copy(), y.copy()
        rng.shuffle(Xs)
        rng.shuffle(ys)
        return Xs[n_val:], ys[n_val:], Xs[:n_val], ys[:n_val]
    if bug == "choice":
        val = rng.choice(n, size=n_val, replace=False)
        rest = np.array([i for i in range(n) if i not in set(val)])
        return X[rest], y[rest], X[val], y[val]
    if bug == "global":
        order = np.random.default_rng().permutation(n)
    elif bug == "unshuffled":
        order = np.arange(n)
    else:
        order = rng.permutation(n)
    if bug == "mask":
        is_val = np.zeros(n, dtype=bool)
        is_val[order[:n_val]] = True
        return X[~is_val], y[~is_val], X[is_val], y[is_val]
    val, train = order[:n_val], order[n_val:]
    if bug == "from_end":
        val, train = order[-n_val:], order[:-n_val]
    if bug == "all_train":
        train = order
    if bug == "one_more":
        val = order[:n_val + 1]
    if bug == "val_first":
        return X[val], y[val], X[train], y[train]
    return X[train], y[train], X[val], y[val]


# ============================================================== kaiming_normal

def kaiming_normal(shape, rng, bug=None):
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    if bug == "fan_out":
        fan_in = shape[0]
    if bug == "all":
        fan_in = int(np.prod(shape))
    if bug == "c_in":
        fan_in = shape[1]
    std = np.sqrt(2.0 / fan_in)
    if bug == "variance":
        std = 2.0 / fan_in
    if bug == "lecun":
        std = np.sqrt(1.0 / fan_in)
    if bug == "int_div":
        std = np.sqrt(2 // fan_in)
    if bug == "uniform":
        b = np.sqrt(6.0 / fan_in)
        return rng.uniform(-b, b, size=shape)
    if bug == "global":
        return std * np.random.randn(*shape)
    return std * rng.standard_normal(shape)


# ============================================================== momentum_step

def momentum_step(param, grad, velocity, lr, momentum=0.9, bug=None):
    if bug == "in_place":
        velocity *= momentum
        velocity += grad
        param -= lr * velocity
        return param, velocity
    if bug == "lr_inside":
        v = momentum * velocity + lr * grad
        return param - v, v
    if bug == "minus":
        v = momentum * velocity - lr * grad
        return param + v, v
    if bug == "old":
        return param - lr * velocity, momentum * velocity + grad
    v = momentum * velocity + ((1 - momentum) * grad if bug == "dampening" else grad)
    if bug == "nesterov":
        return param - lr * (grad + momentum * v), v
    return param - lr * v, v


# ============================================================== adam_step

def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bug=None):
    b1, b2 = betas
    if bug == "swapped_betas":
        b2, b1 = betas
    if bug == "in_place":
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad ** 2
        new_m, new_v = m, v
    else:
        new_m = b1 * m + (1 - b1) * grad
        new_v = b2 * v + (1 - b2) * grad ** 2
    used_m, used_v = (m, v) if bug == "after" else (new_m, new_v)
    k = {"t_minus_1": t - 1, "t_plus_1": t + 1}.get(bug, t)
    m_hat, v_hat = used_m / (1 - b1 ** k), used_v / (1 - b2 ** k)
    if bug == "no_correction":
        m_hat, v_hat = used_m, used_v
    if bug == "eps_inside":
        step = m_hat / np.sqrt(v_hat + eps)
    else:
        step = m_hat / (np.sqrt(v_hat) + eps)
    if bug == "returns_hat":
        return param - lr * step, m_hat, v_hat
    return param - lr * step, new_m, new_v


# ============================================================== batch_norm2d

def batch_norm2d(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                 eps=1e-5, bug=None):
    axes = {"per_sample": (1, 2, 3), "all": (0, 1, 2, 3)}.get(bug, (0, 2, 3))
    if training or bug == "eval_batch":
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=1 if bug == "unbiased" else 0)
    else:
        mean = running_mean.reshape(1, -1, 1, 1)
        var = running_var.reshape(1, -1, 1, 1)
    if training or bug == "eval_updates":
        mu, sigma2 = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        count = x.shape[0] * x.shape[2] * x.shape[3]
        unbiased = sigma2 if bug == "biased_running" else sigma2 * count / (count - 1)
        k = 1 - momentum if bug == "inverted_momentum" else momentum
        if bug == "rebinds":
            running_mean = (1 - k) * running_mean + k * mu
            running_var = (1 - k) * running_var + k * unbiased
        elif bug == "replaced":
            running_mean[:] = mu
            running_var[:] = unbiased
        else:
            running_mean[:] = (1 - k) * running_mean + k * mu
            running_var[:] = (1 - k) * running_var + k * unbiased
    if bug == "eps_outside":
        x_hat = (x - mean) / (np.sqrt(var) + eps)
    else:
        x_hat = (x - mean) / np.sqrt(var + eps)
    if bug == "plain_gamma":
        y = gamma * x_hat + beta
    else:
        y = gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)
    if bug == "returns_stats":
        return y, running_mean, running_var
    return y


# ============================================================== batch_norm2d_backward

def batch_norm2d_backward(dout, x, gamma, eps=1e-5, bug=None):
    """The chain rule written out, CS231n style: through x_hat, var and mean."""
    axes = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=axes, keepdims=True) / (m - 1 if bug == "unbiased" else m)
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    g = gamma.reshape(1, -1, 1, 1)
    dxhat = dout * g
    dvar = (dxhat * (x - mu) * -0.5 * std ** -3).sum(axis=axes, keepdims=True)
    dmean = (-dxhat / std).sum(axis=axes, keepdims=True) \
        + dvar * (-2 * (x - mu)).sum(axis=axes, keepdims=True) / m
    if bug == "affine":
        dx = dxhat / std
    elif bug == "no_mean":
        dx = dxhat / std + dvar * 2 * (x - mu) / m
    elif bug == "no_var":
        dx = dxhat / std + dmean / m
    else:
        dx = dxhat / std + dvar * 2 * (x - mu) / m + dmean / m
    dgamma = {"dgamma_sum": dout, "dgamma_x": dout * x}.get(bug, dout * x_hat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    if bug == "means":
        dgamma, dbeta = dgamma / m, dbeta / m
    return dx, dgamma, dbeta


# ============================================================== dropout

def dropout(x, p, training, rng, bug=None):
    if not training and bug not in ("eval_drops", "eval_draws"):
        if bug == "eval_scaled":
            return x * (1 - p), np.ones(x.shape, dtype=bool)
        return x.copy(), np.ones(x.shape, dtype=bool)
    if bug == "global":
        mask = np.random.rand(*x.shape) >= p
    elif bug == "binomial":
        mask = rng.binomial(1, 1 - p, size=x.shape).astype(bool)
    else:
        u = rng.random(x.shape)
        mask = u < p if bug == "lt" else u >= p
    if bug == "eval_draws" and not training:
        return x.copy(), np.ones(x.shape, dtype=bool)
    if bug == "int_buffer":
        out = np.zeros_like(x)
        if p < 1:
            out[mask] = x[mask] / (1 - p)
        return out, mask
    if p == 1 and bug not in ("nan_at_1", "times_p", "unscaled"):
        return np.zeros_like(x, dtype=float), mask
    if bug == "unscaled":
        return x * mask, mask
    if bug == "times_p":
        return x * mask * p, mask
    with np.errstate(divide="ignore", invalid="ignore"):
        return x * mask / (1 - p), mask


# ============================================================== dropout_backward

def dropout_backward(dout, mask, p, bug=None):
    if bug == "in_place":
        dout[~mask] = 0
        return dout / (1 - p) if p < 1 else dout
    if bug == "unscaled":
        return dout * mask
    if bug == "inverted":
        return dout * ~mask / (1 - p) if p < 1 else np.zeros_like(dout)
    if bug == "over_p":
        return dout * mask / p if p > 0 else dout * mask
    if p == 1 and bug != "nan_at_1":
        return np.zeros_like(dout)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dout * mask / (1 - p)


# ============================================================== random_shifts

def random_shifts(X, max_shift, rng, bug=None):
    n, _, h, w = X.shape
    if bug == "one_pair":
        dx0, dy0 = rng.integers(-max_shift, max_shift + 1, size=2)
        dx, dy = np.full(n, dx0), np.full(n, dy0)
    elif bug == "exclusive":
        dx, dy = rng.integers(-max_shift, max_shift, size=(2, n))
    else:
        dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    if bug == "swapped":
        dx, dy = dy, dx
    if bug == "flipped":
        dx, dy = -dx, -dy
    out = X if bug == "in_place" else np.zeros_like(X)
    for i in range(n):
        a, b = int(dx[0] if bug == "first_for_all" else dx[i]), \
            int(dy[0] if bug == "first_for_all" else dy[i])
        if bug == "roll":
            out[i] = np.roll(X[i], (b, a), axis=(1, 2))
            continue
        if bug == "edge":
            p = max(h, w)
            padded = np.pad(X[i], ((0, 0), (p, p), (p, p)), mode="edge")
            out[i] = padded[:, p - b:p - b + h, p - a:p - a + w]
            continue
        if bug == "minus_zero":      # out[..., dy:, dx:] = X[..., :-dy, :-dx] for positive shifts
            rows_out = slice(b, None) if b >= 0 else slice(None, b)
            rows_in = slice(None, -b) if b >= 0 else slice(-b, None)
            cols_out = slice(a, None) if a >= 0 else slice(None, a)
            cols_in = slice(None, -a) if a >= 0 else slice(-a, None)
            out[i, :, rows_out, cols_out] = X[i, :, rows_in, cols_in]
            continue
        img = X[i].copy() if bug == "in_place" else X[i]
        if bug == "in_place":
            out[i] = 0
        for r in range(h):
            for c in range(w):
                sr, sc = r - b, c - a
                if 0 <= sr < h and 0 <= sc < w:
                    out[i, :, r, c] = img[:, sr, sc]
    return out


# ============================================================== the pool

POOL = [
    # ------------------------------------------------------------- train_val_split
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "shuffle_each"),
     "two different permutations"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "from_end"),
     "FIRST n_val indices"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "unshuffled"),
     "not random \\(the first"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "mask"),
     "original order \\(a boolean mask"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "all_train"),
     "all N examples"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "val_first"),
     "sets are swapped"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "choice"),
     "rng.choice draws"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "one_more"),
     "One example too many"),
    ("train_val_split", lambda X, y, n, r: train_val_split(X, y, n, r, "global"),
     "drew nothing from rng"),
    # ------------------------------------------------------------- kaiming_normal
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "fan_out"), "number of INPUTS"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "all"), "number of weights"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "c_in"), "C_in alone"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "variance"), "SQUARE ROOT"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "lecun"), "LeCun"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "int_div"), "integer division"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "uniform"), "He UNIFORM"),
    ("kaiming_normal", lambda s, r: kaiming_normal(s, r, "global"), "drew nothing from rng"),
    # ------------------------------------------------------------- momentum_step
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="lr_inside"),
     "momentum \\* v \\+ lr \\* grad.*follows PyTorch"),
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="minus"),
     "momentum \\* v - lr \\* grad.*follows PyTorch"),
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="old"), "OLD velocity"),
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="dampening"), "dampening"),
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="nesterov"), "Nesterov"),
    ("momentum_step", lambda *a, **k: momentum_step(*a, **k, bug="in_place"),
     "changed its input.*Return new arrays"),
    # ------------------------------------------------------------- adam_step
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="no_correction"),
     "bias correction is missing"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="eps_inside"),
     "eps goes outside the square root"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="t_minus_1"), "beta \\*\\* \\(t - 1\\)"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="t_plus_1"), "t already counts from 1"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="after"), "OLD m and v"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="swapped_betas"),
     "betas is \\(beta1, beta2\\)"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="in_place"),
     "changed its input.*Return new arrays"),
    ("adam_step", lambda *a, **k: adam_step(*a, **k, bug="returns_hat"),
     "not the bias-corrected m_hat"),
    # ------------------------------------------------------------- batch_norm2d
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="unbiased"),
     "Normalise with the BIASED variance"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="biased_running"),
     "running_var averages the UNBIASED"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="rebinds"),
     "were not updated: change them IN PLACE"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="replaced"),
     "replaced by the batch's"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="inverted_momentum"),
     "weight of the NEW batch"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="eval_batch"),
     "not with the batch's statistics"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="eval_updates"),
     "used, not updated"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="per_sample"), "per example"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="all"), "all channels"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="plain_gamma"),
     "reshape them to \\(1, C, 1, 1\\)"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="eps_outside"),
     "eps goes inside the square root"),
    ("batch_norm2d", lambda *a, **k: batch_norm2d(*a, **k, bug="returns_stats"),
     "return y alone"),
    # ------------------------------------------------------------- batch_norm2d_backward
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="no_mean"),
     "mean term is missing"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="no_var"),
     "variance term is missing"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="affine"),
     "fixed affine map"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="dgamma_sum"),
     "gamma's gradient carries x_hat"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="dgamma_x"),
     "NORMALISED x_hat, not x"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="means"),
     "SUMS over N, H and W"),
    ("batch_norm2d_backward", lambda *a, **k: batch_norm2d_backward(*a, **k, bug="unbiased"),
     "BIASED variance \\(ddof=0\\), so its"),
    # ------------------------------------------------------------- dropout
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="lt"), "probability of\\s+DROPPING"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="unscaled"), "are not scaled"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="times_p"), "multiplied by p:"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="eval_drops"),
     "drew random numbers.*evaluation mode"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="eval_draws"),
     "drew random numbers.*evaluation mode"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="eval_scaled"), "nothing to undo"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="nan_at_1"), "With p = 1, 1 - p is 0"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="global"), "drew nothing from rng"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="int_buffer"), "int dtype"),
    ("dropout", lambda *a, **k: dropout(*a, **k, bug="binomial"), "rng.binomial"),
    # ------------------------------------------------------------- dropout_backward
    ("dropout_backward", lambda d, m, p: dropout_backward(d, m, p, "unscaled"),
     "gradient is not scaled"),
    ("dropout_backward", lambda d, m, p: dropout_backward(d, m, p, "inverted"),
     "mask is inverted"),
    ("dropout_backward", lambda d, m, p: dropout_backward(d, m, p, "nan_at_1"),
     "With p = 1, 1 - p is 0"),
    ("dropout_backward", lambda d, m, p: dropout_backward(d, m, p, "in_place"),
     "changed its input.*Return new arrays"),
    ("dropout_backward", lambda d, m, p: dropout_backward(d, m, p, "over_p"),
     "probability of KEEPING"),
    # ------------------------------------------------------------- random_shifts
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "roll"), "np.roll wraps around"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "swapped"),
     "dx and dy are swapped"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "flipped"),
     "moved the wrong way"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "one_pair"),
     "same shift: draw one offset per image"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "first_for_all"),
     "the first image's"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "exclusive"),
     "excludes its upper bound"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "edge"), "repeat the border"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "in_place"), "Do not modify X"),
    ("random_shifts", lambda X, m, r: random_shifts(X, m, r, "minus_zero"),
     "EMPTY when dy = 0"),
]

CORRECT = {
    "train_val_split": train_val_split,
    "kaiming_normal": kaiming_normal,
    "momentum_step": momentum_step,
    "adam_step": adam_step,
    "batch_norm2d": batch_norm2d,
    "batch_norm2d_backward": batch_norm2d_backward,
    "dropout": dropout,
    "dropout_backward": dropout_backward,
    "random_shifts": random_shifts,
}


def check_of(name):
    return getattr(checks, f"check_{name}")


def outcome(name, fn):
    """``(visible message or None, hidden message or None)`` of the check on ``fn``."""
    msgs = []
    for hidden in (False, True):
        try:
            with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
                check_of(name)(fn, hidden=hidden)
            msgs.append(None)
        except CheckFailed as exc:
            msgs.append(str(exc))
    return tuple(msgs)


def wrong_causes(name, pattern, message):
    """The other entries' causes (patterns) of ``name`` that ``message`` names too."""
    return sorted({p for n, _, p in POOL if n == name and p != pattern
                   and re.search(p, message)})


def summary(pool=POOL):
    """Counts over the pool, and the entries that miss (for the report)."""
    rows = []
    for name, fn, pattern in pool:
        visible, hidden = outcome(name, fn)
        shown = visible if visible is not None else hidden
        rows.append({"name": name, "pattern": pattern, "visible": visible, "hidden": hidden,
                     "named": shown is not None and re.search(pattern, shown) is not None,
                     "wrong_causes": wrong_causes(name, pattern, shown or "")})
    return {
        "size": len(rows),
        "accepted": [r for r in rows if r["hidden"] is None],
        "visible_pass": [r for r in rows if r["visible"] is None],
        "visible_pass_hidden_fail": [r for r in rows if r["visible"] is None
                                     and r["hidden"] is not None],
        "unnamed": [r for r in rows if not r["named"]],
        "misnamed": [r for r in rows if r["wrong_causes"]],
        "rows": rows,
    }


def _id(entry):
    return f"{entry[0]}-{entry[2][:30]}"


@pytest.mark.parametrize("name", sorted(CORRECT))
@pytest.mark.parametrize("hidden, seed", [(False, 0), (True, 0), (True, 7)])
def test_the_pool_s_correct_implementations_pass(name, hidden, seed, capsys):
    check_of(name)(CORRECT[name], hidden=hidden, seed=seed)
    assert "\N{CHECK MARK}" in capsys.readouterr().out


def test_the_pool_covers_every_graded_function_of_09():
    from lessonlib.checks import training
    graded = {n[len("check_"):] for n in training.__all__}
    per_function = {n: sum(e[0] == n for e in POOL) for n in graded}
    assert min(per_function.values()) >= 3, per_function
    assert len(POOL) >= 40


def test_patterns_tell_the_causes_apart():
    """A message that names its own cause must not name another's: no pattern contains another."""
    for name, _, pattern in POOL:
        for other_name, _, other in POOL:
            if other_name == name and other != pattern:
                assert not re.search(other, pattern.replace("\\", "")), (pattern, other)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("entry", POOL, ids=[_id(e) for e in POOL])
def test_a_wrong_implementation_is_rejected_and_its_cause_named(entry):
    name, fn, pattern = entry
    visible, hidden = outcome(name, fn)
    assert hidden is not None, "accepted by the hidden cases"
    assert visible is not None, f"passes the visible cases, fails hidden: {hidden}"
    assert re.search(pattern, visible), visible
    assert wrong_causes(name, pattern, visible) == [], visible


def test_the_visible_cases_predict_the_grade_and_messages_name_the_cause():
    s = summary()
    assert s["visible_pass"] == []
    assert s["unnamed"] == [] and s["misnamed"] == []


if __name__ == "__main__":
    s = summary()
    print(f"pool: {s['size']}, accepted: {len(s['accepted'])}, visible pass / hidden fail: "
          f"{len(s['visible_pass_hidden_fail'])}, named: {s['size'] - len(s['unnamed'])}, "
          f"naming another cause too: {len(s['misnamed'])}")
    for r in s["accepted"]:
        print("ACCEPTED", r["name"], r["pattern"])
    for r in s["visible_pass_hidden_fail"]:
        print("VPHF", r["name"], r["pattern"], "|", r["hidden"][:200])
    for r in s["unnamed"] + s["misnamed"]:
        if r["hidden"] is not None:
            print("UNNAMED" if not r["named"] else "MISNAMED", r["name"], r["pattern"], "|",
                  (r["visible"] or r["hidden"])[:400], r["wrong_causes"])
    sys.exit(0)
