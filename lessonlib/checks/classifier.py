"""Checks of assignment 05: flatten, linear, softmax, log-softmax, cross-entropy."""

from __future__ import annotations

import numpy as np

from ._core import Diagnosis, case, randn
from ._runner import ref, run_with_hints

__all__ = [
    "check_flatten",
    "check_linear",
    "check_softmax",
    "check_log_softmax",
    "check_cross_entropy",
    "check_cross_entropy_backward",
]

def _skip():
    raise ValueError("not applicable")


_BIAS_AXIS = ("The bias is added along the wrong axis: it has shape (out_features,), one "
              "number per output feature (column), so x @ weight.T + bias broadcasts it over "
              "the rows; bias[:, None] adds it per example (row) instead.")

_OVERFLOW = (
    "np.exp overflowed or underflowed (exp(1000) is inf, exp(-1000) is 0, and inf/inf "
    "or 0/0 is nan): subtract each row's maximum, z - z.max(axis=axis, keepdims=True), "
    "before np.exp. The result does not change, the numbers stay finite."
)


# ----------------------------------------------------------------- flatten
def _flatten_shape_hint(got, expected, case_):
    if len(got) == 1:
        return ("Keep the batch axis: one row per image, x.reshape(x.shape[0], -1).")
    if len(got) > 2:
        return "Flatten every axis after the first one into a single axis."
    if len(got) == 2 and got[0] != expected[0]:
        return ("The output has one row per image (N = x.shape[0] rows) and C*H*W columns: "
                "x.reshape(x.shape[0], -1), the batch axis first.")
    if len(got) == 2 and got[1] < expected[1]:
        return ("Some values are missing: flatten every axis after the first one (all the "
                "channels, rows and columns), C*H*W values per image.")
    return ""


def check_flatten(student_fn, hidden=False, seed=0):
    """Check ``flatten(x)``: (N, C, H, W) -> (N, C*H*W), row-major order."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.arange(24.0).reshape(2, 3, 2, 2), description="x = arange(24) of shape (2, 3, 2, 2)"),
        case(np.array([[[[5.0]]]]), description="x of shape (1, 1, 1, 1)"),
        case(np.arange(30.0).reshape(1, 2, 3, 5), description="x = arange(30) of shape (1, 2, 3, 5)"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 1, 4, 3, 5), description="x of shape (1, 4, 3, 5)"),
            case(randn(rng, 5, 2, 1, 7), description="x of shape (5, 2, 1, 7)"),
            case(randn(rng, 3, 2, 4), description="x of shape (3, 2, 4)"),
        ]
    diagnoses = [
        Diagnosis(lambda x: x.reshape(x.shape[0], -1, order="F"),
                  "The values are in the wrong order (column-major, order='F'). Flatten in "
                  "C order so that channel 0's pixels come first: x.reshape(x.shape[0], -1)."),
        Diagnosis(lambda x: np.moveaxis(x, 1, -1).reshape(x.shape[0], -1),
                  "The values are in channels-last order (H, W, C). The layout here is NCHW: "
                  "flatten x as it is, x.reshape(x.shape[0], -1)."),
        Diagnosis(lambda x: np.swapaxes(x, -1, -2).reshape(x.shape[0], -1),
                  "Height and width are swapped (column by column): flatten x as it is, row "
                  "by row, x.reshape(x.shape[0], -1)."),
    ]
    run_with_hints("flatten", student_fn, ref("flatten"), cases,
                   diagnoses=diagnoses, shape_hint=_flatten_shape_hint,
                   forbidden=[ref("flatten"), "lessonlib.nn.layers.Flatten.forward",
                              "torch.flatten"])


# ------------------------------------------------------------------ linear
def check_linear(student_fn, hidden=False, seed=0):
    """Check ``linear(x, weight, bias=None)`` = x @ weight.T + bias."""
    rng = np.random.default_rng(seed)
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    w = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.5, -0.5, 2.0]])
    b = np.array([0.1, -0.2, 0.3, 1.0])
    cases = [
        case(x, w, b, description="x (2, 3), weight (4, 3), bias (4,)"),
        case(x, w, description="x (2, 3), weight (4, 3), no bias"),
        case(np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0], [2.0, 1.0, 0.0]]),
             np.array([[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.5, -0.5]]),
             np.array([1.0, -2.0, 0.5]),
             description="x (3, 3), a square weight (3, 3), bias (3,)"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 1, 5), randn(rng, 2, 5), randn(rng, 2),
                 description="N=1: x (1, 5), weight (2, 5), bias (2,)"),
            case(randn(rng, 4, 1), randn(rng, 1, 1), randn(rng, 1),
                 description="one input and one output feature"),
            case(randn(rng, 3, 3), randn(rng, 3, 3), randn(rng, 3),
                 description="square weight (3, 3)"),
            case(randn(rng, 6, 8), randn(rng, 10, 8), None,
                 description="x (6, 8), weight (10, 8), bias=None"),
        ]
    diagnoses = [
        Diagnosis(lambda x, w, b=None: x @ w.T,
                  "The bias is missing: add it, x @ weight.T + bias (when bias is not None)."),
        Diagnosis(lambda x, w, b=None: x @ w + (0 if b is None else b),
                  "weight has shape (out_features, in_features): multiply by its "
                  "transpose, x @ weight.T."),
        Diagnosis(lambda x, w, b=None: w @ x.T + (0 if b is None else b[:, None]),
                  "The output must be (N, out_features), one row per example: x @ weight.T."),
        Diagnosis(lambda x, w, b=None: x @ w.T - b if b is not None else _skip(),
                  "The bias is subtracted: the layer ADDS it, x @ weight.T + bias."),
        Diagnosis(lambda x, w, b=None: x @ w.T + b[:, None] if b is not None else _skip(),
                  _BIAS_AXIS),
        Diagnosis(lambda x, w, b=None: x @ w.T + b.sum() if b is not None and len(b) > 1
                  else _skip(),
                  "Every output got the sum of all biases: output feature j adds bias[j] only, "
                  "x @ weight.T + bias."),
    ]

    def hint(got, exp, case_):
        if got == exp[::-1]:
            return "Rows and columns are swapped: the output is (N, out_features), x @ weight.T."
        return ""

    hints = [
        (("NoneType",), "bias may be None: add it only when it is given (if bias is not None)."),
        (("could not be broadcast",), _BIAS_AXIS),
        (("matmul",), "weight has shape (out_features, in_features): use x @ weight.T."),
        (("shapes",), "weight has shape (out_features, in_features): use x @ weight.T."),
    ]
    run_with_hints("linear", student_fn, ref("linear"), cases, hints,
                   diagnoses=diagnoses, shape_hint=hint,
                   forbidden=[ref("linear"), ref("linear_backward"), "lessonlib.nn.layers.Linear.forward",
                              "torch.nn.functional.linear"])


# ----------------------------------------------------------------- softmax
def _softmax_naive(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_wrong_axis(z, axis=-1):
    if np.ndim(z) < 2:
        raise ValueError("not applicable")
    other = 0 if axis in (-1, np.ndim(z) - 1) else -1
    e = np.exp(z - z.max(axis=other, keepdims=True))
    return e / e.sum(axis=other, keepdims=True)


def _softmax_no_keepdims(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis)


def _softmax_global_max(z, axis=-1):
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z))
        return e / e.sum(axis=axis, keepdims=True)


def _softmax_global_sum(z, axis=-1):
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z))
        return e / e.sum()


def _softmax_last_axis(z, axis=-1):
    if axis in (-1, np.ndim(z) - 1):
        raise ValueError("not applicable")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_GLOBAL_MAX = ("You subtracted the maximum of the whole array, z.max(): a row far below it "
               "underflows to exp(-1000) = 0 and gives 0/0. Subtract each row's own maximum, "
               "z.max(axis=axis, keepdims=True).")
_AXIS_IGNORED = ("The `axis` argument is ignored (always the last axis): normalise along "
                 "`axis`, z.max(axis=axis, keepdims=True) and e.sum(axis=axis, keepdims=True).")

_FAR_APART = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -999.0]])


def check_softmax(student_fn, hidden=False, seed=0):
    """Check ``softmax(z, axis=-1)``: stable, each row sums to 1."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), description="z = [[1, 2, 3], [1, 1, 1]]"),
        case(np.array([[1000.0, 1001.0, 1002.0]]), description="large logits z = [[1000, 1001, 1002]]"),
        case(_FAR_APART, description="rows far apart: z = [[1000, 1001, 999], [-1000, -1002, -999]]"),
        case(np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]]), axis=0,
             description="z = [[1, 0, 2], [3, 1, -1]], axis=0 (each column sums to 1)"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 5, 10) * 3, description="z of shape (5, 10)"),
            case(np.array([[-1000.0, -1001.0, -999.0], [1000.0, 0.0, -1000.0]]),
                 description="logits of +-1000"),
            case(np.array([[1e4, -1e4, 0.0, 1e4]]), description="logits of +-1e4 with a tie"),
            case(np.array([[7.0]]), description="one class: z = [[7]]"),
            case(randn(rng, 1, 4), description="N=1: z of shape (1, 4)"),
            case(randn(rng, 4, 4), description="square z of shape (4, 4)"),
            case(randn(rng, 3, 5), axis=0, description="z of shape (3, 5), axis=0"),
            case(randn(rng, 2, 3, 4) * 10, description="z of shape (2, 3, 4)"),
        ]
    diagnoses = [
        Diagnosis(_softmax_global_max, _GLOBAL_MAX),
        Diagnosis(_softmax_naive, _OVERFLOW),
        Diagnosis(_softmax_last_axis, _AXIS_IGNORED),
        Diagnosis(_softmax_global_sum,
                  "You summed over the whole array: each row (each slice along `axis`) must "
                  "sum to 1 on its own, e.sum(axis=axis, keepdims=True)."),
        Diagnosis(_softmax_wrong_axis,
                  "Normalised along the wrong axis: each row (one example's scores along "
                  "`axis`) must sum to 1. Use the `axis` argument for max and sum."),
        Diagnosis(_softmax_no_keepdims,
                  "The sum lost its axis (no keepdims=True), so broadcasting divided column j "
                  "by the sum of row j. Use e.sum(axis=axis, keepdims=True)."),
        Diagnosis(lambda z, axis=-1: z / z.sum(axis=axis, keepdims=True),
                  "Softmax exponentiates first: exp(z) / sum(exp(z)), not z / sum(z)."),
        Diagnosis(lambda z, axis=-1: 1 / (1 + np.exp(-z)),
                  "That is the sigmoid of each score; softmax normalises over the classes."),
    ]
    hints = [(("could not be broadcast",),
              "Keep the summed axis with keepdims=True so that the division broadcasts.")]
    run_with_hints("softmax", student_fn, ref("softmax"), cases, hints,
                   diagnoses=diagnoses,
                   forbidden=[ref("softmax"), ref("log_softmax"), ref("cross_entropy_backward"),
                              "scipy.special.softmax", "scipy.special.log_softmax"]
                   + _torch("softmax", "log_softmax"))


# ------------------------------------------------------------- log_softmax
def _log_softmax_naive(z, axis=-1):
    with np.errstate(all="ignore"):
        return np.log(_softmax_naive(z, axis))


def _log_of_stable_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    with np.errstate(divide="ignore"):
        return np.log(e / e.sum(axis=axis, keepdims=True))


def check_log_softmax(student_fn, hidden=False, seed=0):
    """Check ``log_softmax(z, axis=-1)`` = z - logsumexp(z), finite for huge logits."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), description="z = [[1, 2, 3], [0, 0, 0]]"),
        case(np.array([[1000.0, 0.0, -1000.0]]), description="z = [[1000, 0, -1000]]"),
        case(_FAR_APART, description="rows far apart: z = [[1000, 1001, 999], [-1000, -1002, -999]]"),
        case(np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]]), axis=0,
             description="z = [[1, 0, 2], [3, 1, -1]], axis=0"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 6, 4) * 5, description="z of shape (6, 4)"),
            case(np.array([[1e4, -1e4], [-1e4, -1e4]]), description="logits of +-1e4"),
            case(np.array([[-3.0]]), description="one class"),
            case(randn(rng, 4, 3), axis=0, description="z of shape (4, 3), axis=0"),
        ]
    def global_max(z, axis=-1):
        m = np.max(z)
        with np.errstate(all="ignore"):
            return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))

    def last_axis(z, axis=-1):
        if axis in (-1, np.ndim(z) - 1):
            raise ValueError("not applicable")
        m = z.max(axis=-1, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))

    diagnoses = [
        Diagnosis(global_max, _GLOBAL_MAX),
        Diagnosis(last_axis, _AXIS_IGNORED),
        Diagnosis(_log_of_stable_softmax,
                  "log(softmax(z)) underflows to log(0) = -inf (and can overflow) for scores "
                  "far below the max. Use the log-sum-exp form: (z - m) - "
                  "log(sum(exp(z - m))) with m the row maximum."),
        Diagnosis(_log_softmax_naive, _OVERFLOW + " Better still, use the log-sum-exp form: "
                  "(z - m) - log(sum(exp(z - m))) with m the row maximum."),
        Diagnosis(lambda z, axis=-1: z - np.log(np.exp(z - z.max(axis=axis, keepdims=True))
                                                .sum(axis=axis, keepdims=True)),
                  "You subtracted the max inside the exponential but did not add it back: "
                  "logsumexp(z) = m + log(sum(exp(z - m)))."),
    ]
    run_with_hints("log_softmax", student_fn, ref("log_softmax"), cases,
                   diagnoses=diagnoses,
                   forbidden=[ref("log_softmax"), ref("softmax"), ref("cross_entropy"),
                              "scipy.special.log_softmax", "scipy.special.softmax"]
                   + _torch("log_softmax", "softmax"))


# ----------------------------------------------------------- cross_entropy
def _torch(*names):
    return [f"torch.nn.functional.{n}" for n in names] + [f"torch.{n}" for n in names]


def _log_softmax_axis0(z):
    if z.shape[0] == 1:
        raise ValueError("not applicable")
    m = z.max(axis=0, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=0, keepdims=True))


def _ce_parts(logits, targets):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    targets = np.asarray(targets)
    return logp, logp[np.arange(len(targets)), targets]


def _ce_naive(logits, targets):
    with np.errstate(all="ignore"):
        p = _softmax_naive(logits)
        return -np.log(p[np.arange(len(targets)), np.asarray(targets)]).mean()


def _ce_all_columns(logits, targets):
    logp, _ = _ce_parts(logits, targets)
    if logp.shape[0] == 1:
        raise ValueError("not distinguishable")
    return -logp[:, np.asarray(targets)].mean()


def _ce_shape_hint(got, expected, case_):
    if len(got) == 1:
        return ("cross_entropy returns one number, the mean loss over the batch: "
                "did you forget the mean?")
    return "cross_entropy returns a single number (a 0-d value)."


def check_cross_entropy(student_fn, hidden=False, seed=0):
    """Check ``cross_entropy(logits, targets)``: mean of -log softmax at the targets."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), np.array([0, 1]),
             description="logits [[2, 1, 0.1], [0.5, 2.5, 0.3]], targets [0, 1]"),
        case(np.array([[1000.0, 0.0, -1000.0]]), np.array([2]),
             description="logits [[1000, 0, -1000]], target 2 (loss 2000)"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 7, 5) * 2, rng.integers(0, 5, 7), description="7 examples, 5 classes"),
            case(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([1, 2]),
                 description="logits of +-1e4"),
            case(randn(rng, 1, 4), np.array([3]), description="N=1"),
            case(randn(rng, 3, 1), np.array([0, 0, 0]), description="one class (loss 0)"),
            case(randn(rng, 4, 4), np.array([3, 3, 0, 1]), description="square logits (4, 4)"),
        ]
    diagnoses = [
        Diagnosis(lambda z, t: -_ce_parts(z, t)[1].sum(),
                  "You summed the losses over the batch instead of taking the mean: "
                  "divide by N, the number of examples."),
        Diagnosis(lambda z, t: _ce_parts(z, t)[1].mean(),
                  "The sign is wrong: the loss is MINUS the log-probability of the correct "
                  "class (it is >= 0)."),
        Diagnosis(lambda z, t: -_ce_parts(z, t)[1].sum() / z.size,
                  "You divided by N*C; average over the N examples only."),
        Diagnosis(_ce_all_columns,
                  "logp[:, targets] picks every row at every target. Pick one entry per "
                  "row: logp[np.arange(N), targets]."),
        Diagnosis(lambda z, t: -z[np.arange(len(t)), np.asarray(t)].mean(),
                  "You used the raw score of the correct class. Take log-softmax first: "
                  "the loss is -log p[target]."),
        Diagnosis(_ce_naive, _OVERFLOW + " Better still, use log-softmax (log-sum-exp) "
                  "instead of log(softmax)."),
        Diagnosis(lambda z, t: -_log_softmax_axis0(z)[np.arange(len(t)), np.asarray(t)].mean(),
                  "The log-softmax was taken over the wrong axis (axis=0, over the examples): "
                  "each row's scores are normalised over the classes, axis=1."),
    ]
    run_with_hints("cross_entropy", student_fn, ref("cross_entropy"), cases,
                   diagnoses=diagnoses, shape_hint=_ce_shape_hint,
                   forbidden=[ref("cross_entropy"), ref("log_softmax"), ref("softmax"),
                              "lessonlib.nn.layers.CrossEntropyLoss.forward",
                              "scipy.special.log_softmax", "scipy.special.softmax"]
                   + _torch("cross_entropy", "log_softmax", "softmax", "nll_loss"))


def _ce_backward_parts(z, t):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.zeros_like(p)
    y[np.arange(len(t)), np.asarray(t)] = 1.0
    return p, y, len(t)


def _ce_backward_naive(z, t):
    with np.errstate(all="ignore"):
        p = _softmax_naive(z)
    y = np.zeros_like(p)
    y[np.arange(len(t)), np.asarray(t)] = 1.0
    return (p - y) / len(t)


def check_cross_entropy_backward(student_fn, hidden=False, seed=0):
    """Check ``cross_entropy_backward(logits, targets)`` = (softmax(logits) - onehot) / N."""
    rng = np.random.default_rng(seed)
    cases = [
        case(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), np.array([0, 1]),
             description="logits [[2, 1, 0.1], [0.5, 2.5, 0.3]], targets [0, 1]"),
        case(np.array([[1000.0, 0.0, -1000.0]]), np.array([2]),
             description="logits [[1000, 0, -1000]], target 2"),
    ]
    if hidden:
        cases += [
            case(randn(rng, 6, 4), rng.integers(0, 4, 6), description="6 examples, 4 classes"),
            case(np.array([[1e4, -1e4], [0.0, 1e4]]), np.array([1, 1]), description="logits of +-1e4"),
            case(randn(rng, 1, 3), np.array([1]), description="N=1"),
            case(randn(rng, 2, 1), np.array([0, 0]), description="one class (gradient 0)"),
        ]
    diagnoses = [
        Diagnosis(lambda z, t: (lambda p, y, n: p - y)(*_ce_backward_parts(z, t)),
                  "p - y is the gradient of the SUM of the losses; the loss is their mean, "
                  "so divide by N."),
        Diagnosis(lambda z, t: (lambda p, y, n: (y - p) / n)(*_ce_backward_parts(z, t)),
                  "The sign is flipped: the gradient is (p - y) / N, not (y - p) / N."),
        Diagnosis(lambda z, t: (lambda p, y, n: p / n)(*_ce_backward_parts(z, t)),
                  "Subtract the one-hot target: (p - y) / N, where y is 1 at the correct class."),
        Diagnosis(lambda z, t: (lambda p, y, n: (p - y) / p.size)(*_ce_backward_parts(z, t)),
                  "You divided by N*C; divide by N only."),
        Diagnosis(_ce_backward_naive, _OVERFLOW),
        Diagnosis(lambda z, t: (lambda p, y, n: (p - y) / z.shape[1])(*_ce_backward_parts(z, t))
                  if z.shape[1] != len(t) else _skip(),
                  "You divided by the number of classes C; the loss is the mean over the N "
                  "examples, so divide by N = len(targets)."),
        Diagnosis(lambda z, t: (np.exp(_log_softmax_axis0(z)) - _ce_backward_parts(z, t)[1])
                  / len(t),
                  "The softmax was taken over the wrong axis (axis=0, over the examples): "
                  "normalise each row over the classes, axis=1."),
    ]
    run_with_hints("cross_entropy_backward", student_fn, ref("cross_entropy_backward"),
                   cases, diagnoses=diagnoses,
                   forbidden=[ref("cross_entropy_backward"), ref("softmax"), ref("log_softmax"),
                              "lessonlib.nn.layers.CrossEntropyLoss.backward",
                              "scipy.special.softmax"] + _torch("softmax"))
