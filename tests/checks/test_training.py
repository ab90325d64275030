"""The checks of assignment 09 pass the notebook's solutions and name the classic mistakes.

The correct functions are the instructor's, read from the solution notebook.
Every mistake listed here is a small edit of one of them (or a few lines in
the same style) and must be rejected with its diagnosis; lessonlib's
reference and PyTorch's are refused; float32 and int inputs are among the
cases; a function that changes its inputs in place is caught.
"""

import ast
import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

import lessonlib
from lessonlib import checks
from lessonlib.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "solutions" / "09_training" / "training.ipynb"
NAMES = ["train_val_split", "kaiming_normal", "momentum_step", "adam_step", "batch_norm2d",
         "batch_norm2d_backward", "dropout", "dropout_backward", "random_shifts"]


def _solutions():
    """The functions of the notebook's solution cells."""
    ns = {"np": np}
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            tree = ast.parse("".join(cell["source"]))
            exec(compile(tree, str(NOTEBOOK), "exec"), ns)  # noqa: S102 - test harness
    return ns


SOL = _solutions()


def check(name):
    return getattr(checks, f"check_{name}")


def _summary(capsys):
    out = capsys.readouterr().out
    assert out.startswith("\N{CHECK MARK}") and out.count("\n") == 1, out
    return int(re.search(r"all (\d+) case", out).group(1))


# ------------------------------------------------------------------ correct work passes
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hidden, seed", [(False, 0), (True, 0), (True, 7), (True, 12345)])
def test_the_notebook_s_solution_passes(name, hidden, seed, capsys):
    assert check(name)(SOL[name], hidden=hidden, seed=seed) is None
    assert _summary(capsys) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_hidden_cases_add_to_the_visible_ones(name, capsys):
    check(name)(SOL[name])
    visible = _summary(capsys)
    check(name)(SOL[name], hidden=True)
    assert _summary(capsys) > visible


def _recorded(name, hidden):
    """The inputs the check hands to the solution (generators as they come)."""
    seen = []

    def spy(*args, **kwargs):
        seen.append((args, kwargs))
        return SOL[name](*args, **kwargs)
    with contextlib.redirect_stdout(io.StringIO()):
        check(name)(spy, hidden=hidden)
    return seen


def _dtypes(calls):
    return {a.dtype for args, kw in calls for a in list(args) + list(kw.values())
            if isinstance(a, np.ndarray) and a.dtype != bool}


@pytest.mark.parametrize("name", [n for n in NAMES if n != "kaiming_normal"])
@pytest.mark.parametrize("hidden", [False, True])
def test_float32_inputs_are_among_the_cases_and_pass(name, hidden):
    assert np.dtype(np.float32) in _dtypes(_recorded(name, hidden))


@pytest.mark.parametrize("name", ["train_val_split", "dropout", "random_shifts"])
@pytest.mark.parametrize("hidden", [False, True])
def test_int_inputs_are_among_the_cases_where_they_mean_something(name, hidden):
    """Images of uint8, labels and activations of ints: the first argument."""
    assert any(args[0].dtype.kind in "iu" for args, _ in _recorded(name, hidden))


@pytest.mark.parametrize("name", ["train_val_split", "kaiming_normal", "dropout", "random_shifts"])
def test_the_student_gets_a_real_generator(name):
    calls = _recorded(name, False)
    assert all(any(isinstance(a, np.random.Generator) for a in args) for args, _ in calls)


# ------------------------------------------------------------------ mistakes named
def _tvs(bug):
    def wrong(X, y, n_val, rng):
        n = len(X)
        if bug == "separate":
            px, py = rng.permutation(n), rng.permutation(n)
            return X[px[n_val:]], y[py[n_val:]], X[px[:n_val]], y[py[:n_val]]
        order = np.arange(n) if bug == "unshuffled" else rng.permutation(n)
        val, train = order[:n_val], order[n_val:]
        if bug == "from_end":
            val, train = order[n - n_val:], order[:n - n_val]
        if bug == "overlap":
            train = order[n_val - 1:]
        return X[train], y[train], X[val], y[val]
    return wrong


def _kaiming(fan, std=None):
    def wrong(shape, rng):
        f = fan(shape)
        return (np.sqrt(2.0 / f) if std is None else std(f)) * rng.standard_normal(shape)
    return wrong


def _momentum(bug):
    def wrong(param, grad, velocity, lr, momentum=0.9):
        if bug == "lr_inside":
            v = momentum * velocity + lr * grad
            return param - v, v
        return param - lr * velocity, momentum * velocity + grad     # the old velocity
    return wrong


def _adam(bug):
    def wrong(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        m2, v2 = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad ** 2
        mu, vu = (m, v) if bug == "after" else (m2, v2)
        k = {"t-1": t - 1, "t+1": t + 1}.get(bug, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            mh, vh = (mu, vu) if bug == "no_correction" else (mu / (1 - b1 ** k),
                                                              vu / (1 - b2 ** k))
            step = mh / np.sqrt(vh + eps) if bug == "eps_inside" else mh / (np.sqrt(vh) + eps)
        return param - lr * step, m2, v2
    return wrong


def _bn(bug):
    def wrong(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
              eps=1e-5):
        axes = {"per_sample": (1, 2, 3), "all": (0, 1, 2, 3)}.get(bug, (0, 2, 3))
        m = x.size // x.shape[1]
        if training:
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True, ddof=1 if bug == "unbiased" else 0)
            mu, sig = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
            unb = sig if bug == "biased_running" else sig * m / (m - 1)
            if bug == "replaced":
                running_mean[...], running_var[...] = mu, unb
            elif bug == "not_updated":
                running_mean = (1 - momentum) * running_mean + momentum * mu
            else:
                running_mean[...] = (1 - momentum) * running_mean + momentum * mu
                running_var[...] = (1 - momentum) * running_var + momentum * unb
        elif bug == "eval_batch":
            mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        else:
            mean, var = running_mean[:, None, None], running_var[:, None, None]
        xhat = (x - mean) / np.sqrt(var + eps)
        if bug == "gamma_axis":
            return gamma * xhat + beta
        return gamma[:, None, None] * xhat + beta[:, None, None]
    return wrong


def _bn_back(bug):
    def wrong(dout, x, gamma, eps=1e-5):
        dx, dgamma, dbeta = SOL["batch_norm2d_backward"](dout, x, gamma, eps)
        axes = (0, 2, 3)
        inv = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        xhat = (x - x.mean(axis=axes, keepdims=True)) * inv
        g = gamma[:, None, None] * inv
        if bug == "no_mean":
            dx = g * (dout - xhat * (dout * xhat).mean(axis=axes, keepdims=True))
        if bug == "no_var":
            dx = g * (dout - dout.mean(axis=axes, keepdims=True))
        if bug == "dgamma_no_xhat":
            dgamma = dout.sum(axis=axes)
        return dx, dgamma, dbeta
    return wrong


def _dropout(bug):
    def wrong(x, p, training, rng):
        if not training and bug not in ("eval_drops", "eval_draws"):
            return x.copy(), np.ones(x.shape, dtype=bool)
        u = rng.random(x.shape)
        if bug == "eval_draws" and not training:
            return x.copy(), np.ones(x.shape, dtype=bool)
        mask = u < p if bug == "lt" else u >= p
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 1 and bug != "nan":
                return np.zeros_like(x, dtype=float), mask
            scale = {"unscaled": 1.0, "times_p": p}.get(bug, 1 / (1 - p))
            return x * mask * scale, mask
    return wrong


def _shifts(bug):
    def wrong(X, max_shift, rng):
        n = len(X)
        if bug == "one_for_all":
            dx, dy = (np.full(n, d) for d in rng.integers(-max_shift, max_shift + 1, size=2))
        else:
            dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
        if bug == "swapped":
            dx, dy = dy, dx
        if bug == "flipped":
            dx, dy = -dx, -dy
        if bug == "roll":
            return np.stack([np.roll(X[i], (dy[i], dx[i]), axis=(1, 2)) for i in range(n)])
        out = np.zeros_like(X)
        h, w = X.shape[2:]
        for i in range(n):
            for r in range(h):
                for c in range(w):
                    if 0 <= r - dy[i] < h and 0 <= c - dx[i] < w:
                        out[i, :, r, c] = X[i, :, r - dy[i], c - dx[i]]
        return out
    return wrong


def _in_place(fn, k):
    """``fn``, also zeroing its argument ``k`` in place."""
    def wrong(*args, **kwargs):
        out = fn(*args, **kwargs)
        args[k][...] = 0
        return out
    return wrong


MISTAKES = [
    ("train_val_split", _tvs("separate"), "two different permutations"),
    ("train_val_split", _tvs("from_end"), "FIRST n_val indices of order"),
    ("train_val_split", _tvs("unshuffled"), "not random"),
    ("train_val_split", _tvs("overlap"), "in both sets or in neither"),
    ("kaiming_normal", _kaiming(lambda s: s[0]), "number of INPUTS"),
    ("kaiming_normal", _kaiming(lambda s: int(np.prod(s))), "number of weights, prod\\(shape\\)"),
    ("kaiming_normal", _kaiming(lambda s: int(np.prod(s[1:])), lambda f: 2 / f), "SQUARE ROOT"),
    ("kaiming_normal", _kaiming(lambda s: int(np.prod(s[1:])), lambda f: np.sqrt(1 / f)),
     "sqrt\\(1 / fan_in\\)"),
    ("momentum_step", _momentum("lr_inside"), "lr \\* grad.*This course follows PyTorch"),
    ("momentum_step", _momentum("old"), "OLD velocity"),
    ("momentum_step", _in_place(SOL["momentum_step"], 0), "changed its input.*`param`"),
    ("adam_step", _adam("no_correction"), "bias correction is missing"),
    ("adam_step", _adam("eps_inside"), "eps goes outside the square root"),
    ("adam_step", _adam("t-1"), "t - 1"),
    ("adam_step", _adam("t+1"), "t already counts from 1"),
    ("adam_step", _adam("after"), "OLD m and v"),
    ("adam_step", _in_place(SOL["adam_step"], 2), "changed its input.*`m`"),
    ("batch_norm2d", _bn("unbiased"), "BIASED variance"),
    ("batch_norm2d", _bn("biased_running"), "running_var averages the UNBIASED"),
    ("batch_norm2d", _bn("not_updated"), "not updated: change them IN PLACE"),
    ("batch_norm2d", _bn("replaced"), "replaced by the batch's"),
    ("batch_norm2d", _bn("eval_batch"), "evaluation mode.*not with the batch's"),
    ("batch_norm2d", _bn("per_sample"), "per example"),
    ("batch_norm2d", _bn("all"), "over all channels together"),
    ("batch_norm2d", _bn("gamma_axis"), "LAST axis|reshape them to \\(1, C, 1, 1\\)"),
    ("batch_norm2d", _in_place(SOL["batch_norm2d"], 0), "changed its input.*x, gamma and beta"),
    ("batch_norm2d_backward", _bn_back("no_mean"), "mean term is missing"),
    ("batch_norm2d_backward", _bn_back("no_var"), "variance term is missing"),
    ("batch_norm2d_backward", _bn_back("dgamma_no_xhat"), "carries x_hat"),
    ("batch_norm2d_backward", _in_place(SOL["batch_norm2d_backward"], 0),
     "changed its input.*`dout`"),
    ("dropout", _dropout("lt"), "DROPPING"),
    ("dropout", _dropout("unscaled"), "not scaled"),
    ("dropout", _dropout("times_p"), "multiplied by p"),
    ("dropout", _dropout("eval_drops"), "drew random numbers.*evaluation mode"),
    ("dropout", _dropout("eval_draws"), "drew random numbers.*draw\\s+nothing"),
    ("dropout", _dropout("nan"), "With p = 1, 1 - p is 0"),
    ("dropout", _in_place(SOL["dropout"], 0), "changed its input.*`x`"),
    ("dropout_backward", lambda d, m, p: d * m, "not scaled"),
    ("dropout_backward", _in_place(SOL["dropout_backward"], 0), "changed its input.*`dout`"),
    ("random_shifts", _shifts("roll"), "np.roll wraps around"),
    ("random_shifts", _shifts("swapped"), "dx and dy are swapped"),
    ("random_shifts", _shifts("flipped"), "moved the wrong way"),
    ("random_shifts", _shifts("one_for_all"), "Every image got the same shift"),
    ("random_shifts", _in_place(SOL["random_shifts"], 0), "Do not modify X"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, wrong, pattern", MISTAKES,
                         ids=[f"{n}-{p[:24]}" for n, _, p in MISTAKES])
def test_a_classic_mistake_is_rejected_and_named(name, wrong, pattern):
    with pytest.raises(CheckFailed, match=pattern) as info:
        check(name)(wrong)                          # the visible cases already tell
    assert name in str(info.value)
    with pytest.raises(CheckFailed):
        check(name)(wrong, hidden=True)


def test_every_check_has_mistakes():
    assert {n for n, _, _ in MISTAKES} == set(NAMES)


def test_a_stub_says_it_is_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()
    for name in NAMES:
        with pytest.raises(CheckFailed, match="not implemented yet"):
            check(name)(stub)


# ------------------------------------------------------------------ the reference is refused
def _calling(name, via=None):
    target = getattr(lessonlib, via or name)

    def student(*args, **kwargs):
        return target(*args, **kwargs)
    return student


def _bn_from_layer(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                   eps=1e-5):
    layer = lessonlib.BatchNorm2d(x.shape[1], eps=eps, momentum=momentum)
    layer.weight[...], layer.bias[...] = gamma, beta
    layer.running_mean, layer.running_var = running_mean, running_var
    return layer.train(training)(x)


def _dropout_from_layer(x, p, training, rng):
    layer = lessonlib.Dropout(p, rng=rng).train(training)
    out = layer(x)
    return out, layer._cache[0]


def _kaiming_from_naive(shape, rng):
    return lessonlib.naive_normal(shape, np.sqrt(2 / np.prod(shape[1:])), rng)


def _shifts_from_shift_images(X, max_shift, rng):
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, len(X)))
    return lessonlib.shift_images(X, dx, dy)


REFERENCE_CALLS = [(n, _calling(n)) for n in NAMES] + [
    ("batch_norm2d", _bn_from_layer),
    ("dropout", _dropout_from_layer),
    ("kaiming_normal", _kaiming_from_naive),
    ("random_shifts", _shifts_from_shift_images),
]


@pytest.mark.parametrize("name, fn", REFERENCE_CALLS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(REFERENCE_CALLS)])
def test_calling_lessonlib_s_reference_is_refused(name, fn):
    with pytest.raises(CheckFailed, match=r"calls lessonlib\..*, which computes"):
        check(name)(fn)


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_itself_is_refused(name):
    with pytest.raises(CheckFailed, match="lessonlib's reference implementation"):
        check(name)(getattr(lessonlib, name))


def test_pytorch_s_batch_norm_is_refused():
    torch = pytest.importorskip("torch")

    def batch_norm2d(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                     eps=1e-5):
        rm, rv = torch.from_numpy(running_mean), torch.from_numpy(running_var)
        y = torch.nn.functional.batch_norm(torch.from_numpy(x), rm, rv, torch.from_numpy(gamma),
                                           torch.from_numpy(beta), training, momentum, eps)
        return y.numpy()

    with pytest.raises(CheckFailed, match=r"calls torch\.nn\.functional\.batch_norm"):
        checks.check_batch_norm2d(batch_norm2d)


def test_pytorch_s_dropout_is_refused():
    torch = pytest.importorskip("torch")

    def dropout(x, p, training, rng):
        out = torch.nn.functional.dropout(torch.from_numpy(np.asarray(x, dtype=float)), p,
                                          training)
        return out.numpy(), out.numpy() != 0

    with pytest.raises(CheckFailed, match=r"calls torch\.nn\.functional\.dropout"):
        checks.check_dropout(dropout)


# ------------------------------------------------------------------ details of the machinery
def test_batch_norm2d_running_statistics_are_compared_after_the_call(capsys):
    seen = []

    def spy(x, gamma, beta, running_mean, running_var, **kw):
        before = running_mean.copy()
        out = SOL["batch_norm2d"](x, gamma, beta, running_mean, running_var, **kw)
        seen.append((kw.get("training", True), np.array_equal(before, running_mean)))
        return out
    checks.check_batch_norm2d(spy)
    assert (True, False) in seen and (False, True) in seen    # updated in training only


def test_a_generator_is_drawn_from_exactly_as_the_reference_draws():
    """dropout's evaluation mode must draw nothing: caught by where rng ends up."""
    def draws_then_copies(x, p, training, rng):
        mask = rng.random(x.shape) >= p
        if not training:
            return x.copy(), np.ones(x.shape, dtype=bool)
        return (x * mask / (1 - p) if p < 1 else np.zeros_like(x, dtype=float)), mask
    with pytest.raises(CheckFailed, match="drew random numbers for x \\(3, 4\\), p = 0.5, "
                                          "evaluation mode"):
        checks.check_dropout(draws_then_copies)


def test_a_generator_of_one_s_own_is_named():
    def own(shape, rng):
        return np.sqrt(2 / np.prod(shape[1:])) * np.random.default_rng(1).standard_normal(shape)
    with pytest.raises(CheckFailed, match="drew nothing from rng"):
        checks.check_kaiming_normal(own)


def test_returning_the_running_statistics_is_explained():
    def returns_all(*args, **kwargs):
        return SOL["batch_norm2d"](*args, **kwargs), args[3], args[4]
    with pytest.raises(CheckFailed, match="returned 3 values: return y alone"):
        checks.check_batch_norm2d(returns_all)
