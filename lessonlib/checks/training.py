"""Checks of assignment 09: validation split, initialisation, optimisers, normalisation, dropout.

Two kinds of graded function need more than "the same inputs, the same outputs":

* four draw random numbers from the generator ``rng`` they are given
  (train_val_split, kaiming_normal, dropout, random_shifts). A case holds a
  :class:`_Seed` where the generator goes: the student's function gets a
  fresh ``np.random.default_rng(seed)`` (made in the student's kernel while
  grading, :func:`~lessonlib.checks.fixtures.generator`: a Generator cannot
  travel as data) and the reference another one from the same seed, so a
  correct function draws exactly the reference's numbers. Where the outputs
  cannot show a wrong draw (dropout in evaluation mode must draw nothing),
  the generators' positions after the call are compared too;
* batch_norm2d updates ``running_mean`` and ``running_var`` in place: the
  check hands it copies and compares them after the call as two more
  outputs, after ``y``.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from . import fixtures as _fixtures
from ._core import CheckFailed, Diagnosis, case, randn
from ._runner import guard, ref, run, torch_functions

__all__ = [
    "check_train_val_split",
    "check_kaiming_normal",
    "check_momentum_step",
    "check_adam_step",
    "check_batch_norm2d",
    "check_batch_norm2d_backward",
    "check_dropout",
    "check_dropout_backward",
    "check_random_shifts",
]


def _na():
    raise ValueError("not applicable")


# ------------------------------------------------------------------ the machinery
class _Seed:
    """Stands for ``np.random.default_rng(seed)`` in a case.

    ``draws``: the message when the student's generator is not where the
    reference's is after the call (None: only the outputs are compared).
    """

    def __init__(self, seed, draws=None):
        self.seed, self.draws = int(seed), draws

    def fresh(self):
        return np.random.default_rng(self.seed)

    def __repr__(self):
        return f"np.random.default_rng({self.seed})"


def _gen(rng):
    """The generator a diagnosis draws from: a fresh one for a _Seed (the student's stream)."""
    return rng.fresh() if isinstance(rng, _Seed) else rng


def _substitute(args, kwargs, make):
    """The arguments with a generator for each _Seed, and the list of (seed, generator)."""
    gens = []

    def sub(v):
        if isinstance(v, _Seed):
            g = make(_fixtures.generator, v.seed) if make is not None else v.fresh()
            gens.append((v, g))
            return g
        return v
    return tuple(sub(a) for a in args), {k: sub(v) for k, v in kwargs.items()}, gens


def _next(g):
    """Where a generator stands: its next three numbers (read in the kernel for a proxy)."""
    return np.asarray(g.random(3), dtype=float)


def _seeded(reference):
    """``reference`` called with a fresh generator for every _Seed argument."""
    def call(*args, **kwargs):
        a, kw, _ = _substitute(args, kwargs, None)
        return reference(*a, **kw)
    return call


def _drawing(fn, make, reference, seen):
    """``fn`` given generators for the _Seed arguments; compares where they end up.

    ``seen["idle"]`` tells, after each call, that ``fn`` drew nothing from a
    generator the reference draws from (a hint for a wrong output).
    """
    @functools.wraps(fn)
    def call(*args, **kwargs):
        seen["idle"] = False
        a, kw, gens = _substitute(args, kwargs, make)
        out = fn(*a, **kw)
        if gens:
            ra, rkw, rgens = _substitute(copy.deepcopy(args), copy.deepcopy(kwargs), None)
            reference(*ra, **rkw)
            for (seed, g), (_, rg) in zip(gens, rgens):
                theirs, expected = _next(g), _next(rg)
                if np.array_equal(theirs, expected):
                    continue
                seen["idle"] = bool(np.array_equal(theirs, _next(seed.fresh())))
                if seed.draws:
                    raise CheckFailed(seed.draws)
        return out
    return call


def _check(name, student_fn, reference, cases, forbidden, hints=(), idle="", adapt=None,
           post=None, **kwargs):
    """The runner of 09: guard the student's function, give it generators, adapt its outputs.

    ``idle`` is the advice appended to a failure when the student's function
    drew nothing from its ``rng``; ``adapt`` turns a function (the student's
    and the reference) into the one compared (batch_norm2d's running statistics).
    """
    seen = {}
    fn = student_fn
    if callable(student_fn):        # run() explains what is not a function
        make = getattr(student_fn, "make", None) if hasattr(student_fn, "forbidding") else None
        fn = _drawing(guard(student_fn, name, forbidden, post), make, reference, seen)
    expected = _seeded(reference)
    if adapt is not None:
        fn = adapt(fn) if callable(fn) else fn
        expected = adapt(expected)
    # the advice for an undrawn rng only where no diagnosis explained the values
    hints = list(hints) + [(("value(s) differ",),
                            lambda msg, c: idle if idle and seen.get("idle") else "")]
    run(name, fn, expected, cases, hints=hints, **kwargs)


def _in_place(names):
    """Advice for an input changed in place, naming it (``argument 2`` -> ``grad``)."""
    def advice(msg, case_):
        for k, n in enumerate(names, start=1):
            if f"`argument {k}`" in msg:
                return (f"(Argument {k} is `{n}`.) Return new arrays: an expression such as "
                        f"`{n} * 2` makes a new one, while `{n} -= ...`, `{n} *= ...`, "
                        f"`{n} += ...` or `{n}[...] = ...` change the caller's array.")
        return ""
    return advice


# ------------------------------------------------------------------ train_val_split
def _tvs(X, y, n_val, rng, bug=None):
    """train_val_split with switches for known mistakes."""
    g, n = _gen(rng), len(X)
    if bug == "choice":
        val = g.choice(n, n_val, replace=False)
        return X[np.setdiff1d(np.arange(n), val)], y[np.setdiff1d(np.arange(n), val)], \
            X[val], y[val]
    if bug == "separate":
        px, py = g.permutation(n), g.permutation(n)
        return X[px[n_val:]], y[py[n_val:]], X[px[:n_val]], y[py[:n_val]]
    order = np.arange(n) if bug in ("unshuffled", "unshuffled_end") else g.permutation(n)
    if bug in ("from_end", "unshuffled_end"):
        val, train = order[n - n_val:], order[:n - n_val]
    else:
        val, train = order[:n_val], order[n_val:]
    if bug == "sorted":
        val, train = np.sort(val), np.sort(train)
    if bug == "sorted_train":
        train = np.sort(train)
    if bug == "swapped":
        val, train = train, val
    return X[train], y[train], X[val], y[val]


def _tvs_shape_hint(got, exp, case_):
    n, n_val = len(case_.args[0]), case_.args[2]
    if got[:1] == (n,):
        return ("It holds all N examples: the two sets must not overlap, the validation set "
                "is order[:n_val], the training set order[n_val:] (the rest).")
    if got[:1] in ((n_val,), (n - n_val,)) and got[:1] != exp[:1]:
        return ("The training and validation sets are swapped: the validation set has n_val "
                "examples (order[:n_val]), the training set the other N - n_val; return "
                "X_train, y_train, X_val, y_val in this order.")
    if got and exp and abs(got[0] - exp[0]) == 1:
        return ("One example too many or too few: an example is in both sets or in neither. "
                "Cut order at n_val: order[:n_val] and order[n_val:].")
    return "X_train and y_train have N - n_val entries, X_val and y_val n_val."


def check_train_val_split(student_fn, hidden=False, seed=0):
    """Check ``train_val_split(X, y, n_val, rng)``: one permutation, the first n_val validate."""
    rng = np.random.default_rng(seed)

    def tvs_case(X, y, n_val, gen, what):
        return case(X, y, n_val, _Seed(gen), description=f"{what}, n_val={n_val}, "
                    f"rng = np.random.default_rng({gen})")

    cases = [
        tvs_case(np.arange(40.0).reshape(10, 4), np.arange(10) * 7 % 10, 3, 0,
                 "X (10, 4), y (10,)"),
        tvs_case(np.arange(32, dtype=np.uint8).reshape(8, 1, 2, 2), np.arange(8)[::-1].copy(),
                 2, 1, "uint8 images X (8, 1, 2, 2), y (8,)"),
        tvs_case(np.linspace(0, 1, 6, dtype=np.float32), np.array([3, 1, 4, 1, 5, 9]), 5, 2,
                 "float32 X (6,), y (6,), n_val = N - 1"),
    ]
    if hidden:
        seeds = [int(s) for s in rng.integers(2 ** 31, size=4)]
        cases += [
            tvs_case(randn(rng, 20, 1, 3, 3), rng.integers(0, 10, 20), 5, seeds[0],
                     "X (20, 1, 3, 3), y (20,)"),
            tvs_case(randn(rng, 2, 3), np.array([1, 0]), 1, seeds[1], "X (2, 3), y (2,)"),
            tvs_case(rng.integers(0, 255, 15), np.arange(15), 4, seeds[2], "int X (15,)"),
            tvs_case(randn(rng, 9, 2).astype(np.float32), np.arange(9) % 3, 1, seeds[3],
                     "float32 X (9, 2)"),
        ]
    one = ("draw ONE order = rng.permutation(len(X)) and index both X and y with it")
    diagnoses = [
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "separate"),
                  f"Images and labels were shuffled with two different permutations, so they "
                  f"no longer belong together: {one}."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "from_end"),
                  "The validation set is the FIRST n_val indices of order, order[:n_val]; "
                  "the training set is the rest, order[n_val:]."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "unshuffled"),
                  f"The split is not random (the first n_val examples validate): {one}, "
                  f"then cut order."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "unshuffled_end"),
                  f"The split is not random (the last n_val examples validate): {one}, then "
                  f"cut it: order[:n_val] validates."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "swapped"),
                  "The training and validation sets are swapped: the validation set is "
                  "order[:n_val], the training set order[n_val:]; return X_train, y_train, "
                  "X_val, y_val in this order."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "sorted"),
                  "The right examples, but in their original order (a boolean mask or np.sort "
                  "keeps it): index with the shuffled indices themselves, X[order[n_val:]], "
                  "so that both sets come out shuffled."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "sorted_train"),
                  "The training set is in its original order (np.setdiff1d or a mask sorts "
                  "it): take it as order[n_val:], in the order of the permutation."),
        Diagnosis(lambda X, y, n, r: _tvs(X, y, n, r, "choice"),
                  f"rng.choice draws other numbers than rng.permutation: {one}."),
    ]
    _check("train_val_split", student_fn, ref("train_val_split"), cases,
           forbidden=[ref("train_val_split"), "sklearn.model_selection.train_test_split",
                      "torch.utils.data.random_split"],
           hints=[(("changed its input",), _in_place(["X", "y"]))],
           idle="Your function drew nothing from rng: draw order = rng.permutation(len(X)) "
                "from the generator it is given (np.random.permutation or a generator of "
                "your own give another order).",
           diagnoses=diagnoses, shape_hint=_tvs_shape_hint,
           outputs=("X_train", "y_train", "X_val", "y_val"))


# ------------------------------------------------------------------ kaiming_normal
def _normal(shape, rng, std):
    return std * _gen(rng).standard_normal(shape)


def _prod(shape):
    return int(np.prod(shape))


def check_kaiming_normal(student_fn, hidden=False, seed=0):
    """Check ``kaiming_normal(shape, rng)`` = sqrt(2 / fan_in) * rng.standard_normal(shape)."""
    rng = np.random.default_rng(seed)

    def k_case(shape, gen, what):
        return case(shape, _Seed(gen), description=f"shape {shape} ({what}), "
                    f"rng = np.random.default_rng({gen})")

    cases = [k_case((4, 6), 0, "Linear, fan_in 6"),
             k_case((3, 2, 3, 3), 1, "Conv2d 3x3, fan_in 18"),
             k_case((5, 4, 1, 2), 2, "Conv2d 1x2, fan_in 8")]
    if hidden:
        s = [int(v) for v in rng.integers(2 ** 31, size=5)]
        cases += [k_case((10, 128), s[0], "Linear, fan_in 128"),
                  k_case((16, 1, 3, 3), s[1], "Conv2d 3x3, fan_in 9"),
                  k_case((32, 16, 3, 3), s[2], "Conv2d 3x3, fan_in 144"),
                  k_case((6, 4, 2, 5), s[3], "Conv2d 2x5, fan_in 40"),
                  k_case((7, 2), s[4], "Linear, fan_in 2")]
    fan = "fan_in is the product of all dimensions but the first, prod(shape[1:])"
    diagnoses = [
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(2 / sh[0])),
                  f"fan_in is the number of INPUTS of each output: {fan} (in_features, or "
                  f"C_in * kH * kW); shape[0] is the number of outputs."),
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(2 / _prod(sh))),
                  f"That divides by the number of weights, prod(shape): {fan}."),
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(2 / sh[1])) if len(sh) > 2 else _na(),
                  f"fan_in counts the kernel's positions too: {fan} = C_in * kH * kW, not "
                  f"C_in alone."),
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(2 / (sh[0] * _prod(sh[2:])))),
                  f"That is fan_out (C_out * kH * kW); He initialisation for a forward pass "
                  f"uses fan_in: {fan}."),
        Diagnosis(lambda sh, r: _normal(sh, r, 2 / _prod(sh[1:])),
                  "std is the SQUARE ROOT of 2 / fan_in (2 / fan_in is the variance): "
                  "np.sqrt(2 / fan_in) * rng.standard_normal(shape)."),
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(1 / _prod(sh[1:]))),
                  "That is std sqrt(1 / fan_in) (LeCun's, for layers without ReLU); He's "
                  "std has a 2 for the ReLU: sqrt(2 / fan_in)."),
        Diagnosis(lambda sh, r: _normal(sh, r, np.sqrt(2 / (_prod(sh[1:]) + sh[0]
                                                              * _prod(sh[2:])))),
                  "That is Glorot (Xavier) initialisation, sqrt(2 / (fan_in + fan_out)); "
                  "He's uses fan_in only: sqrt(2 / fan_in)."),
        Diagnosis(lambda sh, r: _normal(sh, r, 1.0),
                  "The draw is not scaled: multiply it by std = np.sqrt(2 / fan_in)."),
        Diagnosis(lambda sh, r: _normal(sh, r, 1 / np.sqrt(2 / _prod(sh[1:]))),
                  "The draw is divided by the std: multiply it, np.sqrt(2 / fan_in) * "
                  "rng.standard_normal(shape)."),
        Diagnosis(lambda sh, r: _gen(r).uniform(-1, 1, sh) * np.sqrt(6 / _prod(sh[1:])),
                  "That is He UNIFORM (rng.uniform(-b, b, shape), b = sqrt(6 / fan_in)); the "
                  "exercise asks for the normal draw np.sqrt(2 / fan_in) * "
                  "rng.standard_normal(shape)."),
        Diagnosis(lambda sh, r: np.zeros(sh),
                  "The weights are all 0: is the std 0? 2 // fan_in is an integer division "
                  "(0 for fan_in > 2): use 2 / fan_in."),
    ]
    _check("kaiming_normal", student_fn, ref("kaiming_normal"), cases,
           forbidden=[ref("kaiming_normal"), ref("naive_normal"), ref("fan_in"),
                      ref("init_model"), "torch.nn.init.kaiming_normal_",
                      "torch.nn.init.normal_"],
           idle="Your function drew nothing from rng: draw rng.standard_normal(shape) from "
                "the generator it is given (np.random.randn or a generator of your own give "
                "other numbers).",
           diagnoses=diagnoses,
           shape_hint=lambda g, e, c: "Return an array of the given shape: "
                                      "rng.standard_normal(shape) has it.")


# ------------------------------------------------------------------ momentum_step
_PYTORCH_MOMENTUM = ("This course follows PyTorch (torch.optim.SGD): v = momentum * v + grad, "
                     "then param - lr * v.")


def check_momentum_step(student_fn, hidden=False, seed=0):
    """Check ``momentum_step(param, grad, velocity, lr, momentum=0.9)`` -> (param, velocity)."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([1.0, 2.0, -1.0]), np.array([0.5, -1.0, 2.0]), np.zeros(3), 0.1,
             description="first step (velocity 0), param (3,), lr 0.1, momentum 0.9 (the "
             "default)"),
        case(randn(rng, 2, 3), randn(rng, 2, 3), randn(rng, 2, 3), 0.05, 0.5,
             description="param (2, 3), velocity not 0, lr 0.05, momentum 0.5"),
        case(randn(rng, 2, 1, 2, 2).astype(np.float32), randn(rng, 2, 1, 2, 2).astype(np.float32),
             randn(rng, 2, 1, 2, 2).astype(np.float32), 0.01, momentum=0.9,
             description="float32 param (2, 1, 2, 2), velocity not 0, lr 0.01, momentum 0.9"),
        case(np.array([0.5, -0.5]), np.array([1.0, 3.0]), np.array([2.0, -1.0]), 0.2, 0.0,
             description="momentum 0 (plain SGD), velocity not 0, lr 0.2"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 3, 4, 2, 2), randn(rng, 3, 4, 2, 2), randn(rng, 3, 4, 2, 2), 0.03,
                 0.99, description="param (3, 4, 2, 2), lr 0.03, momentum 0.99"),
            case(randn(rng, 5), randn(rng, 5), np.zeros(5), 0.5, description="first step, "
                 "param (5,), lr 0.5"),
            case(randn(rng, 4, 3).astype(np.float32), randn(rng, 4, 3).astype(np.float32),
                 randn(rng, 4, 3).astype(np.float32), 0.1, 0.8,
                 description="float32 param (4, 3), lr 0.1, momentum 0.8"),
            case(randn(rng, 1, 1), randn(rng, 1, 1), randn(rng, 1, 1), 0.3, 0.0,
                 description="momentum 0, param (1, 1)"),
        ]

    def step(p, g, v, lr, momentum=0.9, how=None):
        if how == "lr_inside":
            nv = momentum * v + lr * g
            return p - nv, nv
        if how == "minus":
            nv = momentum * v - lr * g
            return p + nv, nv
        if how == "dampening":
            nv = momentum * v + (1 - momentum) * g
        elif how == "no_velocity":
            nv = g
        else:
            nv = momentum * v + g
        new_p = {"old": p - lr * v, "nesterov": p - lr * (g + momentum * nv),
                 "sign": p + lr * nv, "no_lr": p - nv}.get(how, p - lr * nv)
        if how == "order":
            return nv, new_p
        return new_p, (v if how == "old_returned" else nv)

    def d(how, msg):
        return Diagnosis(lambda *a, **k: step(*a, **k, how=how), msg)

    diagnoses = [
        d("lr_inside", "That is the other convention of momentum, v = momentum * v + lr * "
          "grad, then param - v. " + _PYTORCH_MOMENTUM),
        d("minus", "That is the other convention of momentum, v = momentum * v - lr * grad, "
          "then param + v. " + _PYTORCH_MOMENTUM),
        d("old", "param was updated with the OLD velocity: first v = momentum * velocity + "
          "grad, then param - lr * v with this new v."),
        d("dampening", "That is a moving average of the gradients (v = momentum * v + (1 - "
          "momentum) * grad, dampening); PyTorch's momentum adds the gradient itself: v = "
          "momentum * v + grad."),
        d("no_velocity", "The velocity is not carried over (or momentum is ignored): v = "
          "momentum * velocity + grad."),
        d("nesterov", "That is Nesterov momentum (a step along grad + momentum * v); plain "
          "momentum steps along v itself: param - lr * v."),
        d("sign", "The parameter moved uphill: gradient DEscent subtracts, param - lr * v."),
        d("no_lr", "The learning rate is missing: param - lr * v."),
        d("order", "The outputs are swapped: return new_param, new_velocity, in this order."),
        d("old_returned", "The velocity returned is the old one: return the new velocity, "
          "momentum * velocity + grad, for the next step."),
    ]
    _check("momentum_step", student_fn, ref("momentum_step"), cases,
           forbidden=[ref("momentum_step"), "lessonlib.optim.SGD.step", "torch.optim.SGD.step",
                      "torch.optim.sgd.sgd"],
           hints=[(("changed its input",), _in_place(["param", "grad", "velocity"]))],
           diagnoses=diagnoses, outputs=("new_param", "new_velocity"))


# ------------------------------------------------------------------ adam_step
def _adam(p, g, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bug=None):
    """adam_step with switches for known mistakes."""
    b1, b2 = betas
    if bug == "betas_swapped":
        b1, b2 = b2, b1
    w1, w2 = (1.0, 1.0) if bug == "no_one_minus" else (1 - b1, 1 - b2)
    sq = {"v_of_grad": g, "v_of_abs": np.abs(g)}.get(bug, g * g)
    nm, nv = b1 * m + w1 * g, b2 * v + w2 * sq
    um, uv = (m, v) if bug == "after_use" else (nm, nv)
    tt = {"t_minus_1": t - 1, "t_plus_1": t + 1}.get(bug, t)
    c1, c2 = 1 - b1 ** tt, 1 - b2 ** tt
    if bug == "no_correction":
        c1 = c2 = 1.0
    if bug == "correct_m_only":
        c2 = 1.0
    if bug == "correct_v_only":
        c1 = 1.0
    if bug == "multiplied":
        c1, c2 = 1 / c1, 1 / c2
    with np.errstate(divide="ignore", invalid="ignore"):
        mh, vh = um / c1, uv / c2
        denom = {"eps_inside": np.sqrt(vh + eps), "no_sqrt": vh + eps}.get(bug, np.sqrt(vh) + eps)
        new_p = {"sign": p + lr * mh / denom, "no_lr": p - mh / denom}.get(bug, p - lr * mh / denom)
    if bug == "returns_hat":
        return new_p, mh, vh
    return new_p, nm, nv


def check_adam_step(student_fn, hidden=False, seed=0):
    """Check ``adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)``."""
    rng = np.random.default_rng(seed)

    def moments(*shape, dtype=np.float64):
        return (0.1 * randn(rng, *shape)).astype(dtype), \
            (0.01 * randn(rng, *shape) ** 2).astype(dtype)

    m2, v2 = moments(2, 3)
    m3, v3 = moments(2, 1, 2, 2, dtype=np.float32)
    cases = [
        case(np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.1, -0.2, 1e-3, 1e-4]), np.zeros(4),
             np.zeros(4), 1, description="first step (t = 1, m = v = 0), param (4,), the "
             "default lr, betas, eps"),
        case(randn(rng, 2, 3), randn(rng, 2, 3), m2, v2, 3, lr=0.01,
             description="step t = 3, m and v not 0, param (2, 3), lr 0.01"),
        case(randn(rng, 2, 1, 2, 2).astype(np.float32), randn(rng, 2, 1, 2, 2).astype(np.float32),
             m3, v3, 5, 0.1, (0.8, 0.95), 1e-3,
             description="float32 param (2, 1, 2, 2), t = 5, lr 0.1, betas (0.8, 0.95), eps 1e-3"),
    ]
    if hidden:
        m4, v4 = moments(3, 4)
        m5, v5 = moments(2, 2, 2, 2, dtype=np.float32)
        cases += [
            case(randn(rng, 3, 2, 2), randn(rng, 3, 2, 2), np.zeros((3, 2, 2)),
                 np.zeros((3, 2, 2)), 1, lr=0.05, description="first step, param (3, 2, 2), "
                 "lr 0.05"),
            case(randn(rng, 3, 4), randn(rng, 3, 4), m4, v4, 10, 0.002,
                 description="t = 10, param (3, 4), lr 0.002"),
            case(randn(rng, 2, 2, 2, 2).astype(np.float32),
                 randn(rng, 2, 2, 2, 2).astype(np.float32), m5, v5, 2, 0.01, (0.5, 0.9),
                 description="float32, t = 2, betas (0.5, 0.9)"),
            case(randn(rng, 5), 1e-6 * randn(rng, 5), np.zeros(5), np.zeros(5), 1, 0.1,
                 eps=1e-6, description="tiny gradients (1e-6), eps 1e-6, first step"),
            case(randn(rng, 2, 2), randn(rng, 2, 2), m4[:2, :2], v4[:2, :2], 100,
                 description="t = 100, param (2, 2)"),
        ]

    def d(bug, msg):
        return Diagnosis(lambda *a, **k: _adam(*a, **k, bug=bug), msg)

    diagnoses = [
        d("no_correction", "The bias correction is missing: m_hat = m / (1 - beta1 ** t), "
          "v_hat = v / (1 - beta2 ** t), and the step uses m_hat / (sqrt(v_hat) + eps) (m and "
          "v start at 0, too small in the first steps)."),
        d("eps_inside", "eps goes outside the square root: m_hat / (np.sqrt(v_hat) + eps), as "
          "in torch.optim.Adam."),
        d("t_minus_1", "The bias correction uses this step's number t (1 on the first step): "
          "1 - beta ** t, not t - 1."),
        d("t_plus_1", "t already counts from 1 (t = 1 on the first step): the correction is "
          "1 - beta ** t, not beta ** (t + 1)."),
        d("after_use", "The step used the OLD m and v: first update m and v with this "
          "gradient, then correct them and step."),
        d("no_sqrt", "Divide by the SQUARE ROOT of v_hat: m_hat / (np.sqrt(v_hat) + eps)."),
        d("v_of_grad", "v averages the SQUARED gradients: v = beta2 * v + (1 - beta2) * "
          "grad ** 2."),
        d("v_of_abs", "v averages the SQUARED gradients, grad ** 2, not their absolute "
          "values."),
        d("betas_swapped", "betas is (beta1, beta2): beta1 (0.9 by default) for m, beta2 "
          "(0.999) for v."),
        d("returns_hat", "Return m and v themselves, not the bias-corrected m_hat and v_hat: "
          "the next step goes on averaging m and v."),
        d("no_one_minus", "The new gradient is weighted by 1 - beta: m = beta1 * m + (1 - "
          "beta1) * grad, v = beta2 * v + (1 - beta2) * grad ** 2."),
        d("correct_m_only", "Only m is bias-corrected: correct v too, v_hat = v / (1 - "
          "beta2 ** t)."),
        d("correct_v_only", "Only v is bias-corrected: correct m too, m_hat = m / (1 - "
          "beta1 ** t)."),
        d("multiplied", "The bias correction DIVIDES by 1 - beta ** t (m and v are too small "
          "at first): m / (1 - beta1 ** t)."),
        d("sign", "The parameter moved uphill: Adam subtracts its step, param - lr * m_hat / "
          "(sqrt(v_hat) + eps)."),
        d("no_lr", "The learning rate is missing: param - lr * m_hat / (sqrt(v_hat) + eps)."),
    ]
    nan_at_1 = ("1 - beta ** (t - 1) is 0 at t = 1, and m / 0 is nan: the bias correction "
                "uses this step's number, 1 - beta ** t.")
    _check("adam_step", student_fn, ref("adam_step"), cases,
           forbidden=[ref("adam_step"), "lessonlib.optim.Adam.step", "torch.optim.Adam.step",
                      "torch.optim.adam.adam"],
           hints=[(("changed its input",), _in_place(["param", "grad", "m", "v"])),
                  (("nan/inf", "t = 1"), nan_at_1), (("ZeroDivisionError", "t = 1"), nan_at_1)],
           diagnoses=diagnoses, outputs=("new_param", "new_m", "new_v"))


# ------------------------------------------------------------------ batch_norm2d
_AXES = {"per_sample": (1, 2, 3), "all_channels": (0, 1, 2, 3), "instance": (2, 3),
         "batch_only": (0,)}


def _bn(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5,
        bug=None):
    """batch_norm2d -> (y, running_mean, running_var), with switches for known mistakes."""
    x = np.asarray(x, dtype=float)
    g, b = np.asarray(gamma, dtype=float), np.asarray(beta, dtype=float)
    rm, rv = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
    n, m = x.shape[0], x.size // x.shape[1]
    batch = training or bug in ("eval_batch", "eval_batch_update")
    if batch and m < 2:
        _na()
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    if (training and bug != "no_update") or bug in ("eval_batch_update", "eval_updates",
                                                     "eval_updates_new"):
        k = momentum if bug != "momentum_inverted" else 1 - momentum
        if bug == "count_n" and n < 2:
            _na()
        stat_var = {"biased_running": var,
                    "count_n": var * n / (n - 1) if n > 1 else var}.get(bug, var * m / (m - 1))
        if bug == "replace":
            rm, rv = mean, stat_var
        else:
            rm, rv = (1 - k) * rm + k * mean, (1 - k) * rv + k * stat_var
    axes = _AXES.get(bug, (0, 2, 3))
    if batch:
        mu = x.mean(axis=axes, keepdims=True)
        v = x.var(axis=axes, keepdims=True, ddof=1 if bug == "unbiased_norm" else 0)
    elif bug == "eval_updates_new":
        mu, v = rm[None, :, None, None], rv[None, :, None, None]
    else:
        mu, v = (np.asarray(running_mean, dtype=float)[None, :, None, None],
                 np.asarray(running_var, dtype=float)[None, :, None, None])
    denom = {"eps_outside": np.sqrt(v) + eps, "no_eps": np.sqrt(v),
             "var_as_std": v + eps}.get(bug, np.sqrt(v + eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        xhat = (x - mu) / denom
    shape = {"gamma_last": (-1,), "gamma_first": (-1, 1, 1, 1)}.get(bug, (1, -1, 1, 1))
    g4, b4 = g.reshape(shape), b.reshape(shape)
    if bug == "swapped_gamma_beta":
        g4, b4 = b4, g4
    y = {"no_gamma": xhat + b4, "no_beta": g4 * xhat}.get(bug, None)
    if y is None:
        y = g4 * xhat + b4
    if y.shape != x.shape:
        _na()
    return y, rm, rv


def _with_running(fn):
    """batch_norm2d -> (y, running_mean, running_var) after the call.

    Copies of the running statistics go in (the case's arrays stay as they
    are, so changing them in place is not "changing an input"); what the
    function did to them comes out.
    """
    @functools.wraps(fn)
    def call(x, gamma, beta, running_mean, running_var, *rest, **kwargs):
        rm, rv = np.array(running_mean, copy=True), np.array(running_var, copy=True)
        return fn(x, gamma, beta, rm, rv, *rest, **kwargs), rm, rv
    return call


_STATS = ("The statistics are per channel: mean and var over the batch and the positions, "
          "x.mean(axis=(0, 2, 3)), shape (C,).")
_GAMMA = ("gamma and beta have shape (C,), one per channel: reshape them to (1, C, 1, 1) "
          "(gamma[None, :, None, None]) so that they broadcast along the channel axis.")


def check_batch_norm2d(student_fn, hidden=False, seed=0):
    """Check ``batch_norm2d(x, gamma, beta, running_mean, running_var, training=True,
    momentum=0.1, eps=1e-5)``: the output and the running statistics updated in place."""
    rng = np.random.default_rng(seed)

    def bn_case(x, rm, rv, what, **kw):
        c = x.shape[1]
        gamma = (np.linspace(1.5, -1.0, c) if c > 1 else np.array([1.5])).astype(x.dtype)
        beta = (np.linspace(0.1, 0.3, c) - 0.15 * (np.arange(c) % 2)).astype(x.dtype)
        mode = "evaluation mode" if kw.get("training") is False else "training mode"
        return case(x, gamma, beta, np.asarray(rm, x.dtype), np.asarray(rv, x.dtype),
                    description=f"x {x.shape}, {mode}, {what}", **kw)

    cases = [
        bn_case(2 * randn(rng, 4, 3, 2, 3) + 1, np.zeros(3), np.ones(3),
                "running stats zeros and ones (the defaults: training, momentum 0.1)"),
        bn_case(randn(rng, 3, 3, 4, 2) - 0.5, [0.5, -1.0, 2.0], [0.25, 4.0, 1.0],
                "running stats not 0 / 1, momentum 0.3", training=True, momentum=0.3),
        bn_case(randn(rng, 2, 3, 3, 2) * 3, [0.5, -1.0, 2.0], [0.25, 4.0, 1.5],
                "running mean [0.5, -1, 2], running var [0.25, 4, 1.5]", training=False),
        bn_case(randn(rng, 5, 2, 1, 1), [1.0, -1.0], [2.0, 0.5], "H = W = 1, eps 0.1",
                eps=0.1),
        bn_case(randn(rng, 1, 2, 3, 3).astype(np.float32), [0.2, 0.1], [1.5, 0.5],
                "float32, N = 1"),
    ]
    if hidden:
        cases += [
            bn_case(randn(rng, 8, 4, 3, 3) * 2, randn(rng, 4), 1 + rng.uniform(size=4),
                    "running stats random, momentum 0.2", momentum=0.2),
            bn_case(randn(rng, 1, 3, 4, 5), np.zeros(3), np.ones(3), "N = 1"),
            bn_case(randn(rng, 6, 2, 1, 1) + 3, [1.0, 2.0], [0.5, 3.0], "H = W = 1"),
            bn_case(randn(rng, 4, 2, 5, 3), randn(rng, 2), 1 + rng.uniform(size=2),
                    "running stats random", training=False),
            bn_case(randn(rng, 2, 3, 2, 2).astype(np.float32), randn(rng, 3),
                    1 + rng.uniform(size=3), "float32", training=False),
            bn_case(randn(rng, 2, 2, 3, 2), [0.1, 0.2], [1.0, 2.0], "N = C = W = 2, eps 1e-3",
                    eps=1e-3, momentum=0.5),
            bn_case(randn(rng, 3, 3, 2, 3).astype(np.float32), np.zeros(3), np.ones(3),
                    "float32, N = C = W = 3"),
        ]

    def d(bug, msg):
        return Diagnosis(lambda *a, **k: _bn(*a, **k, bug=bug), msg)

    diagnoses = [
        d("unbiased_norm", "Normalise with the BIASED variance, x.var(...) with its default "
          "ddof=0 (the mean of the squared deviations); only running_var takes the unbiased "
          "one."),
        d("biased_running", "running_var averages the UNBIASED variance, var * m / (m - 1) "
          "with m = N * H * W values per channel (as PyTorch does); the biased one is for "
          "normalising only."),
        d("count_n", "The unbiased variance divides by m - 1 with m = N * H * W, the number of "
          "values per channel, not N - 1."),
        d("no_update", "running_mean and running_var were not updated: change them IN PLACE, "
          "running_mean[...] = (1 - momentum) * running_mean + momentum * mean (running_mean "
          "= ... only rebinds your local name; the caller's array does not change)."),
        d("replace", "The running statistics were replaced by the batch's: they are running "
          "AVERAGES, (1 - momentum) * running + momentum * batch statistic."),
        d("momentum_inverted", "momentum is the weight of the NEW batch (PyTorch's "
          "convention): (1 - momentum) * running + momentum * batch statistic."),
        d("eval_batch", "In evaluation mode (training=False) normalise with running_mean and "
          "running_var, not with the batch's statistics."),
        d("eval_batch_update", "In evaluation mode (training=False) normalise with "
          "running_mean and running_var, not with the batch's statistics, and leave them as "
          "they are."),
        d("eval_updates", "In evaluation mode (training=False) the running statistics are "
          "used, not updated: leave running_mean and running_var unchanged."),
        d("eval_updates_new", "In evaluation mode (training=False) the running statistics are "
          "used, not updated: leave running_mean and running_var unchanged, and normalise "
          "with them as they are."),
        d("var_as_std", "running_var is a variance: divide by np.sqrt(running_var + eps), "
          "not by running_var + eps."),
        d("per_sample", "The statistics were taken per example (over axes 1, 2, 3). " + _STATS),
        d("all_channels", "The statistics were taken over all channels together. " + _STATS),
        d("instance", "The statistics were taken per example and channel (over axes 2, 3 "
          "only, instance normalisation); batch normalisation takes the whole batch too. "
          + _STATS),
        d("batch_only", "The statistics were taken over the batch only (axis 0, one per "
          "position). " + _STATS),
        d("gamma_last", "gamma and beta were broadcast along the LAST axis (the width): "
          + _GAMMA),
        d("gamma_first", "gamma and beta were broadcast along the FIRST axis (the batch): "
          + _GAMMA),
        d("eps_outside", "eps goes inside the square root: (x - mean) / np.sqrt(var + eps)."),
        d("no_eps", "eps is missing: (x - mean) / np.sqrt(var + eps)."),
        d("no_gamma", "gamma is missing: y = gamma * x_hat + beta (per channel)."),
        d("no_beta", "beta is missing: y = gamma * x_hat + beta (per channel)."),
        d("swapped_gamma_beta", "gamma and beta are swapped: y = gamma * x_hat + beta."),
    ]
    hints = [
        (("could not broadcast input array",), _STATS + " The running statistics have shape "
         "(C,) too."),
        (("operands could not be broadcast together",), _GAMMA + " " + _STATS),
        (("changed its input",), "Only running_mean and running_var are changed in place; "
         "x, gamma and beta stay as they are (x - mean makes a new array, x -= mean does "
         "not)."),
    ]

    def y_alone(out):
        if isinstance(out, (tuple, list)):
            raise CheckFailed(f"batch_norm2d returned {len(out)} values: return y alone. "
                              f"running_mean and running_var are updated in place "
                              f"(running_mean[...] = ...), not returned.")
    _check("batch_norm2d", student_fn, ref("batch_norm2d"), cases,
           forbidden=[ref("batch_norm2d"), ref("batch_norm2d_backward"),
                      "lessonlib.nn.normalization.BatchNorm2d.forward",
                      "lessonlib.nn.normalization.BatchNorm2d.backward", "torch.nn.BatchNorm2d.forward"]
           + torch_functions("batch_norm"),
           hints=hints, adapt=_with_running, post=y_alone, diagnoses=diagnoses,
           outputs=("y", "running_mean", "running_var"))


# ------------------------------------------------------------------ batch_norm2d_backward
def _bn_back(dout, x, gamma, eps=1e-5, bug=None):
    """batch_norm2d_backward with switches for known mistakes."""
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    axes = (0, 2, 3)
    g = np.asarray(gamma, dtype=float)[None, :, None, None]
    var = x.var(axis=axes, keepdims=True, ddof=1 if bug == "unbiased" else 0)
    if bug == "unbiased" and x.size // x.shape[1] < 2:
        _na()
    inv = 1 / np.sqrt(var + (0 if bug == "no_eps" else eps))
    xhat = (x - x.mean(axis=axes, keepdims=True)) * inv
    mean_term = dout.mean(axis=axes, keepdims=True)
    var_term = xhat * (dout * xhat).mean(axis=axes, keepdims=True)
    if bug == "no_mean":
        mean_term = 0
    if bug == "no_var":
        var_term = 0
    if bug == "var_sign":
        var_term = -var_term
    inner = dout if bug == "affine" else dout - mean_term - var_term
    dx = inner * inv * (1 if bug == "no_gamma" else g)
    dgamma = {"dgamma_dout": dout, "dgamma_x": dout * x}.get(bug, dout * xhat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    if bug == "means":
        dgamma, dbeta = dgamma / (x.size // x.shape[1]), dbeta / (x.size // x.shape[1])
    if bug == "swapped":
        dgamma, dbeta = dbeta, dgamma
    return dx, dgamma, dbeta


def check_batch_norm2d_backward(student_fn, hidden=False, seed=0):
    """Check ``batch_norm2d_backward(dout, x, gamma, eps=1e-5)`` -> (dx, dgamma, dbeta)."""
    rng = np.random.default_rng(seed)

    def bb_case(shape, gamma, what, dtype=np.float64, **kw):
        x = (randn(rng, *shape) * 2 + 1).astype(dtype)
        return case(randn(rng, *shape).astype(dtype), x, np.asarray(gamma, dtype),
                    description=f"x and dout {shape}, gamma {list(gamma)}{what}", **kw)

    cases = [bb_case((4, 3, 2, 3), [1.5, 0.5, -1.0], ""),
             bb_case((1, 2, 3, 4), [2.0, -0.5], ", N = 1"),
             bb_case((5, 2, 1, 1), [1.0, 3.0], ", H = W = 1, eps 0.1", eps=0.1),
             bb_case((3, 2, 2, 2), [0.5, 1.5], ", float32", dtype=np.float32)]
    if hidden:
        cases += [bb_case((6, 4, 3, 3), [1.0, -2.0, 0.5, 0.25], ""),
                  bb_case((2, 3, 5, 2), [0.3, 1.0, -1.0], ", eps 1e-3", eps=1e-3),
                  bb_case((1, 1, 4, 4), [2.5], ", N = 1"),
                  bb_case((4, 3, 2, 2), [1.0, 0.1, 2.0], ", float32", dtype=np.float32),
                  bb_case((8, 2, 1, 1), [-1.0, 1.0], ", H = W = 1")]

    def d(bug, msg):
        return Diagnosis(lambda *a, **k: _bn_back(*a, **k, bug=bug), msg)

    formula = ("dx = gamma / sqrt(var + eps) * (dout - mean(dout) - x_hat * mean(dout * x_hat)), "
               "means per channel over N, H, W")
    diagnoses = [
        d("affine", f"That is the gradient of a fixed affine map: the mean and the variance "
          f"depend on x too, and send gradients back. {formula}."),
        d("no_mean", f"The mean term is missing (the gradient through the batch mean): "
          f"{formula}."),
        d("no_var", f"The variance term is missing (the gradient through the batch "
          f"variance): {formula}."),
        d("var_sign", f"The variance term has the wrong sign: {formula}."),
        d("no_gamma", f"dx lacks the factor gamma: {formula}."),
        d("no_eps", "eps is missing: 1 / np.sqrt(var + eps), as in the forward pass."),
        d("unbiased", "Training mode normalises with the BIASED variance (ddof=0), so its "
          "gradient uses it too."),
        d("dgamma_dout", "dgamma is sum(dout * x_hat) over N, H, W: the output is gamma * "
          "x_hat + beta, so gamma's gradient carries x_hat."),
        d("dgamma_x", "dgamma is sum(dout * x_hat), with the NORMALISED x_hat, not x."),
        d("means", "dgamma and dbeta are SUMS over N, H and W (every value of the channel "
          "uses the same gamma and beta), not means."),
        d("swapped", "dgamma and dbeta are swapped: return dx, dgamma, dbeta."),
    ]

    def shape_hint(got, exp, case_):
        if len(exp) == 1:
            return ("dgamma and dbeta have one entry per channel: sum over axes (0, 2, 3), "
                    "the batch and the positions.")
        return "dx has the shape of x."

    _check("batch_norm2d_backward", student_fn, ref("batch_norm2d_backward"), cases,
           forbidden=[ref("batch_norm2d_backward"), ref("batch_norm2d"),
                      "lessonlib.nn.normalization.BatchNorm2d.backward",
                      "lessonlib.nn.normalization.BatchNorm2d.forward"]
           + torch_functions("batch_norm"),
           hints=[(("changed its input",), _in_place(["dout", "x", "gamma"]))],
           diagnoses=diagnoses, shape_hint=shape_hint, outputs=("dx", "dgamma", "dbeta"))


# ------------------------------------------------------------------ dropout
def _drop(x, p, training, rng, bug=None):
    """dropout with switches for known mistakes."""
    x = np.asarray(x)
    xf = x.astype(float)
    if not training and bug not in ("eval_drops",):
        if bug == "eval_scaled":
            return xf * (1 - p), np.ones(x.shape, bool)
        return xf.copy(), np.ones(x.shape, bool)
    u = _gen(rng).random(x.shape) if bug != "binomial" else None
    mask = _gen(rng).binomial(1, 1 - p, x.shape).astype(bool) if bug == "binomial" \
        else (u < p if bug == "mask_lt" else u >= p)
    if p == 1 and bug not in ("scale_p", "scale_1mp", "no_scale", "mask_float"):
        return np.zeros(x.shape), mask
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = {"no_scale": 1.0, "scale_p": p, "div_p": 1 / p if p else np.inf,
                 "scale_1mp": 1 - p}.get(bug, 1 / (1 - p))
        out = xf * mask * scale
    if bug == "truncated":
        if np.array_equal(np.trunc(out), out):
            _na()
        return np.trunc(out), mask
    if bug == "mask_float":
        return out, mask / (1 - p)
    return out, mask


def check_dropout(student_fn, hidden=False, seed=0):
    """Check ``dropout(x, p, training, rng)`` -> (out, mask), mask = rng.random(x.shape) >= p."""
    rng = np.random.default_rng(seed)

    def drop_case(x, p, training, gen):
        mode = "training mode" if training else "evaluation mode"
        kind = f"{x.dtype} " if x.dtype != np.float64 else ""
        desc = (f"{kind}x {x.shape}, p = {p:g}, {mode}, rng = "
                f"np.random.default_rng({gen})")
        draws = None if training else (
            f"dropout drew random numbers for {desc}. In evaluation mode (training=False) "
            f"dropout does nothing: return a copy of x and an all-True mask, and draw "
            f"nothing from rng (check `if not training:` first).")
        return case(x, p, training, _Seed(gen, draws), description=desc)

    cases = [
        drop_case(randn(rng, 2, 6), 0.5, True, 0),
        drop_case(randn(rng, 2, 3, 2, 2), 0.25, True, 1),
        drop_case(randn(rng, 3, 4), 0.5, False, 2),
        drop_case(randn(rng, 2, 5), 1.0, True, 3),
        drop_case(np.arange(12).reshape(3, 4) - 5, 0.4, True, 4),
        drop_case(randn(rng, 2, 4).astype(np.float32), 0.3, True, 5),
        drop_case(randn(rng, 2, 2).astype(np.float32), 0.5, False, 6),
    ]
    if hidden:
        s = [int(v) for v in rng.integers(2 ** 31, size=7)]
        cases += [
            drop_case(randn(rng, 4, 8), 0.75, True, s[0]),
            drop_case(randn(rng, 2, 2, 3, 3), 0.1, True, s[1]),
            drop_case(randn(rng, 2, 3, 4, 4), 0.9, False, s[2]),
            drop_case(randn(rng, 4, 3), 1.0, True, s[3]),
            drop_case(rng.integers(-9, 9, (2, 5)), 0.5, True, s[4]),
            drop_case(randn(rng, 3, 3).astype(np.float32), 0.6, True, s[5]),
            drop_case(randn(rng, 5, 1).astype(np.float32), 0.2, False, s[6]),
        ]

    def d(bug, msg):
        return Diagnosis(lambda *a, **k: _drop(*a, **k, bug=bug), msg)

    draw = "mask = rng.random(x.shape) >= p"
    diagnoses = [
        d("mask_lt", f"The mask keeps each value with probability p: p is the probability of "
          f"DROPPING, so keep where the draw is >= p, {draw}."),
        d("no_scale", "The kept values are not scaled: inverted dropout divides them by 1 - p "
          "(x * mask / (1 - p)), so that the expected output equals x."),
        d("scale_p", "The kept values are multiplied by p: inverted dropout divides them by "
          "1 - p, x * mask / (1 - p)."),
        d("div_p", "The kept values are divided by p: divide by the probability of KEEPING, "
          "1 - p."),
        d("scale_1mp", "The kept values are multiplied by 1 - p: inverted dropout DIVIDES by "
          "1 - p, x * mask / (1 - p)."),
        d("eval_scaled", "In evaluation mode return x itself (a copy): inverted dropout "
          "already scaled by 1 / (1 - p) during training, there is nothing to undo (x * "
          "(1 - p) belongs to the old, non-inverted dropout)."),
        d("eval_drops", "In evaluation mode (training=False) dropout does nothing: return a "
          "copy of x and an all-True mask."),
        d("mask_float", "mask is the boolean keep-mask (True where kept), not the scale: "
          f"return {draw} itself."),
        d("binomial", f"That mask comes from rng.binomial: draw it exactly as {draw}, so that "
          f"the same generator gives the same mask."),
        d("truncated", "The output kept the int dtype of x (np.zeros_like(x) of an int array), "
          "so x / (1 - p) was truncated: make the output float, e.g. x * mask / (1 - p)."),
    ]
    p1 = ("With p = 1, 1 - p is 0 and x * mask / 0 is nan (0 / 0): every value is dropped, "
          "return zeros (if p == 1: ...) without dividing.")
    _check("dropout", student_fn, ref("dropout"), cases,
           forbidden=[ref("dropout"), ref("dropout_backward"),
                      "lessonlib.nn.normalization.Dropout.forward", "torch.nn.Dropout.forward"]
           + torch_functions("dropout"),
           hints=[(("nan/inf", "p = 1"), p1), (("ZeroDivisionError", "p = 1"), p1),
                  (("changed its input",), _in_place(["x"]))],
           idle=f"Your function drew nothing from rng: draw {draw} from the generator it is "
                f"given (np.random.rand or a generator of your own give another mask).",
           diagnoses=diagnoses, outputs=("out", "mask"))


def check_dropout_backward(student_fn, hidden=False, seed=0):
    """Check ``dropout_backward(dout, mask, p)`` = dout * mask / (1 - p), zeros for p = 1."""
    rng = np.random.default_rng(seed)

    def back_case(shape, p, what="", dtype=np.float64):
        mask = rng.random(shape) >= p
        return case(randn(rng, *shape).astype(dtype), mask, p,
                    description=f"dout {shape}{what}, p = {p:g}")

    cases = [back_case((2, 6), 0.5), back_case((2, 3, 2, 2), 0.25),
             back_case((2, 4), 1.0, " (mask all False)"),
             back_case((3, 3), 0.0, " (mask all True)"),
             back_case((2, 5), 0.4, " float32", np.float32)]
    if hidden:
        cases += [back_case((4, 8), 0.75), back_case((3, 3), 1.0, " (mask all False)"),
                  back_case((2, 2, 3, 3), 0.1, " float32", np.float32),
                  back_case((2, 2), 0.0, " (mask all True)"), back_case((5, 1, 2, 2), 0.6)]

    def scaled(factor):
        def wrong(dout, mask, p):
            with np.errstate(divide="ignore", invalid="ignore"):
                return dout * mask * factor(p)
        return wrong

    diagnoses = [
        Diagnosis(scaled(lambda p: 1.0),
                  "The gradient is not scaled: the forward pass multiplied the kept values "
                  "by 1 / (1 - p), so does the backward pass, dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: _na() if p in (0, 1) else dout * mask / p,
                  "Divide by the probability of KEEPING, 1 - p: dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: _na() if p in (0, 1) else dout * mask * p,
                  "The scale is 1 / (1 - p), as in the forward pass: dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: _na() if p in (0, 1) else dout * mask * (1 - p),
                  "Divide by 1 - p, do not multiply: dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: dout * ~mask / (1 - p) if p < 1 else _na(),
                  "The mask is inverted: the gradient flows where the value was KEPT (mask "
                  "True), dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: mask / (1 - p) if p < 1 else _na(),
                  "That is the local derivative alone; the chain rule multiplies it by dout: "
                  "dout * mask / (1 - p)."),
        Diagnosis(lambda dout, mask, p: dout / (1 - p) if p < 1 and not mask.all() else _na(),
                  "The mask is missing: the dropped values get no gradient, dout * mask / "
                  "(1 - p)."),
    ]
    p1 = ("With p = 1, 1 - p is 0 and dout * mask / 0 is nan (0 / 0): nothing was kept, "
          "return zeros (if p == 1: ...) without dividing.")
    _check("dropout_backward", student_fn, ref("dropout_backward"), cases,
           forbidden=[ref("dropout_backward"), ref("dropout"),
                      "lessonlib.nn.normalization.Dropout.backward"],
           hints=[(("nan/inf", "p = 1"), p1), (("ZeroDivisionError", "p = 1"), p1),
                  (("changed its input",), _in_place(["dout", "mask"]))],
           diagnoses=diagnoses)


# ------------------------------------------------------------------ random_shifts
def _shift(img, dx, dy, wrap=False, edge=False):
    """One image (C, H, W) moved right by dx and down by dy."""
    if wrap:
        return np.roll(img, (dy, dx), axis=(-2, -1))
    h, w = img.shape[-2:]
    p = max(h, w)
    padded = np.pad(img, ((0, 0), (p, p), (p, p)), mode="edge" if edge else "constant")
    dy, dx = int(np.clip(dy, -p, p)), int(np.clip(dx, -p, p))
    return padded[:, p - dy:p - dy + h, p - dx:p - dx + w]


def _shifts(X, max_shift, rng, draw="ok", **how):
    """random_shifts with switches for known mistakes in the draw and in the shift."""
    g, n = _gen(rng), len(X)
    if draw == "pair":
        d = g.integers(-max_shift, max_shift + 1, size=2)
        dx, dy = np.full(n, d[0]), np.full(n, d[1])
    elif draw == "rows":
        d = g.integers(-max_shift, max_shift + 1, size=(n, 2))
        dx, dy = d[:, 0], d[:, 1]
    elif draw == "exclusive":
        if max_shift < 1:
            _na()
        dx, dy = g.integers(-max_shift, max_shift, size=(2, n))
    else:
        dx, dy = g.integers(-max_shift, max_shift + 1, size=(2, n))
    if draw == "first":
        dx, dy = np.full(n, dx[0]), np.full(n, dy[0])
    sx, sy = how.get("sx", 1), how.get("sy", 1)
    if how.get("swap"):
        dx, dy = dy, dx
    X = np.asarray(X, dtype=float)
    return np.stack([_shift(X[i], sx * dx[i], sy * dy[i], how.get("wrap", False),
                            how.get("edge", False)) for i in range(n)])


def check_random_shifts(student_fn, hidden=False, seed=0):
    """Check ``random_shifts(X, max_shift, rng)``: one offset per image, zeros in, no wrap."""
    rng = np.random.default_rng(seed)

    def rs_case(X, max_shift, gen, what=""):
        kind = f"{X.dtype} " if X.dtype != np.float64 else ""
        return case(X, max_shift, _Seed(gen), description=f"{kind}X {X.shape}{what}, "
                    f"max_shift {max_shift}, rng = np.random.default_rng({gen})")

    cases = [
        rs_case(np.arange(120.0).reshape(4, 1, 5, 6) + 1, 2, 0),
        rs_case(randn(rng, 3, 2, 4, 4), 1, 1),
        rs_case(rng.integers(1, 255, (5, 1, 6, 5)).astype(np.uint8), 3, 2),
        rs_case(randn(rng, 2, 3, 3, 4).astype(np.float32), 1, 3),
        rs_case(randn(rng, 2, 1, 3, 3), 0, 4, " (no shift)"),
        rs_case(randn(rng, 3, 1, 3, 3), 3, 5, " (shifts as large as the image)"),
    ]
    if hidden:
        s = [int(v) for v in rng.integers(2 ** 31, size=6)]
        cases += [
            rs_case(randn(rng, 8, 1, 8, 8), 2, s[0]),
            rs_case(randn(rng, 6, 3, 5, 7), 1, s[1]),
            rs_case(rng.integers(1, 255, (4, 1, 7, 6)).astype(np.uint8), 2, s[2]),
            rs_case(randn(rng, 5, 2, 4, 3).astype(np.float32), 2, s[3]),
            rs_case(randn(rng, 3, 1, 4, 4), 0, s[4], " (no shift)"),
            rs_case(randn(rng, 4, 1, 3, 3), 3, s[5], " (shifts as large as the image)"),
        ]

    def d(msg, **how):
        return Diagnosis(lambda X, m, r: _shifts(X, m, r, **how), msg)

    draw = "dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, N))"
    diagnoses = [
        d("Pixels shifted out came back on the other side (np.roll wraps around): the "
          "pixels shifted in must be 0. Copy the part that stays into np.zeros_like(X) "
          "instead (or zero the wrapped rows and columns).", wrap=True),
        d("dx and dy are swapped: dx moves the image RIGHT (along the width, the last axis), "
          "dy moves it DOWN (along the height).", swap=True),
        d("The image moved the wrong way: a positive dx moves it right (out[..., j] = "
          "X[..., j - dx]), a positive dy down.", sx=-1, sy=-1),
        d("The horizontal shift goes the wrong way: a positive dx moves the image right, "
          "out[..., j] = X[..., j - dx].", sx=-1),
        d("The vertical shift goes the wrong way: a positive dy moves the image down, "
          "out[..., i, :] = X[..., i - dy, :].", sy=-1),
        d("dy is ignored: each image moves right by dx[n] AND down by dy[n].", sy=0),
        d("dx is ignored: each image moves right by dx[n] AND down by dy[n].", sx=0),
        d(f"Every image got the same shift (the first image's): image n moves by its own "
          f"dx[n], dy[n], from {draw}.", draw="first"),
        d(f"Every image got the same shift: draw one offset per image, {draw}.",
          draw="pair"),
        d(f"The offsets were drawn with size=(N, 2): draw exactly {draw} (the first N "
          f"numbers are dx, the next N dy).", draw="rows"),
        d(f"rng.integers excludes its upper bound: {draw}, so that +max_shift can be "
          f"drawn.", draw="exclusive"),
        d("The pixels shifted in repeat the border (np.pad's mode='edge'): they must be 0, "
          "the background.", edge=True),
    ]
    _check("random_shifts", student_fn, ref("random_shifts"), cases,
           forbidden=[ref("random_shifts"), ref("shift_images"),
                      "lessonlib.augment._shift_all", "scipy.ndimage.shift"],
           hints=[(("changed its input",), "Do not modify X: build the output in a new "
                   "array, e.g. out = np.zeros_like(X), and copy each image's kept part "
                   "into it."),
                  (("could not broadcast",), "A slice like X[..., :-dy] is EMPTY when dy = 0 "
                   "(-0 is 0): give both ends, X[..., :H - dy], or pad X and slice the "
                   "padded array.")],
           idle=f"Your function drew nothing from rng: draw {draw} from the generator it is "
                f"given.",
           diagnoses=diagnoses,
           shape_hint=lambda g, e, c: "The output has the shape of X, (N, C, H, W): the "
                                      "shifted part is cropped, the rest filled with 0.")
