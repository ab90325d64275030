"""The checks of assignments 05-08 accept correct work and reject known bugs.

Each check gets a correct implementation written independently of
lessonlib (PyTorch autograd or a formula written out here), which must
pass both visible and hidden cases, and a set of mutants, the mistakes
students make, which must be rejected, with the diagnosis named where the
check has one.
"""

import copy
import re

import numpy as np
import pytest

import lessonlib
import lessonlib.checks as checks
from lessonlib.checks import CheckFailed, backprop, beyond, classifier, lenet

import test_pool as P   # the same functions in plain NumPy

try:  # PyTorch is optional: without it only the comparison with PyTorch is skipped
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None


def t(a, grad=False):
    torch.set_default_dtype(torch.float64)
    out = torch.tensor(np.asarray(a, dtype=np.float64))
    return out.requires_grad_(grad)


def np_(tensor):
    return tensor.detach().numpy()


# ------------------------------------------------------------ correct work
def torch_flatten(x):
    return np_(torch.flatten(t(x), 1))


def torch_linear(x, weight, bias=None):
    return np_(F.linear(t(x), t(weight), None if bias is None else t(bias)))


def torch_softmax(z, axis=-1):
    return np_(F.softmax(t(z), dim=axis))


def torch_log_softmax(z, axis=-1):
    return np_(F.log_softmax(t(z), dim=axis))


def torch_cross_entropy(logits, targets):
    return F.cross_entropy(t(logits), torch.as_tensor(np.asarray(targets))).item()


def torch_cross_entropy_backward(logits, targets):
    z = t(logits, True)
    F.cross_entropy(z, torch.as_tensor(np.asarray(targets))).backward()
    return np_(z.grad)


def _vjp(fn, dout, *inputs):
    leaves = [t(a, True) for a in inputs]
    fn(*leaves).backward(t(dout))
    return [np_(leaf.grad) for leaf in leaves]


def torch_relu_backward(dout, x):
    return _vjp(F.relu, dout, x)[0]


def torch_linear_backward(dout, x, weight):
    x_, w_, b_ = t(x, True), t(weight, True), torch.zeros(weight.shape[0], requires_grad=True)
    F.linear(x_, w_, b_).backward(t(dout))
    return np_(x_.grad), np_(w_.grad), np_(b_.grad)


def torch_max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    return _vjp(lambda a: F.max_pool2d(a, kernel_size, stride, padding), dout, x)[0]


def torch_avg_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    return _vjp(lambda a: F.avg_pool2d(a, kernel_size, stride, padding), dout, x)[0]


def torch_conv2d_backward(dout, x, weight, stride=1, padding=0):
    x_, w_ = t(x, True), t(weight, True)
    b_ = torch.zeros(weight.shape[0], requires_grad=True)
    F.conv2d(x_, w_, b_, stride=stride, padding=padding).backward(t(dout))
    return np_(x_.grad), np_(w_.grad), np_(b_.grad)


def ok_numerical_gradient(f, x, eps=1e-6):
    h = eps
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def torch_conv_param_count(in_channels, out_channels, kernel_size, groups=1, bias=True):
    layer = torch.nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias)
    return sum(p.numel() for p in layer.parameters())


def ok_receptive_field(kernel_sizes, dilations=None, strides=None):
    n = len(kernel_sizes)
    dilations = dilations or [1] * n
    strides = strides or [1] * n
    r = 1  # walk back from one output pixel to the input
    for k, d, s in reversed(list(zip(kernel_sizes, dilations, strides))):
        r = (r - 1) * s + d * (k - 1) + 1
    return r


def torch_grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    b = None if bias is None else t(bias)
    return np_(F.conv2d(t(x), t(weight), b, stride=stride, padding=padding, groups=groups))


def torch_depthwise_separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                                  pointwise_bias=None, stride=1, padding=0):
    db = None if depthwise_bias is None else t(depthwise_bias)
    pb = None if pointwise_bias is None else t(pointwise_bias)
    h = F.conv2d(t(x), t(depthwise_weight), db, stride=stride, padding=padding,
                 groups=x.shape[1])
    return np_(F.conv2d(h, t(pointwise_weight), pb))


def torch_conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    b = None if bias is None else t(bias)
    return np_(F.conv_transpose2d(t(x), t(weight), b, stride=stride, padding=padding,
                                  output_padding=output_padding))


#: PyTorch's results (autograd), compared with the NumPy implementations when torch is there.
TORCH = {n: globals()[f"torch_{n}"] for n in ['flatten', 'linear', 'softmax', 'log_softmax', 'cross_entropy', 'cross_entropy_backward', 'relu_backward', 'linear_backward', 'max_pool2d_backward', 'avg_pool2d_backward', 'conv2d_backward', 'conv_param_count', 'grouped_conv2d', 'depthwise_separable_conv2d', 'conv_transpose2d']}

ok_flatten, ok_linear, ok_softmax, ok_log_softmax = P.flatten, P.linear, P.softmax, P.log_softmax
ok_cross_entropy, ok_cross_entropy_backward = P.cross_entropy, P.cross_entropy_backward
ok_relu_backward, ok_linear_backward = P.relu_backward, P.linear_backward
ok_max_pool2d_backward, ok_avg_pool2d_backward = P.CORRECT["max_pool2d_backward"], \
    P.CORRECT["avg_pool2d_backward"]
ok_conv2d_backward = P.CORRECT["conv2d_backward"]
ok_conv_param_count, ok_grouped_conv2d = P.conv_param_count, P.grouped_conv2d
ok_depthwise_separable_conv2d, ok_conv_transpose2d = P.depthwise_separable_conv2d, \
    P.conv_transpose2d

CORRECT = {
    "flatten": ok_flatten,
    "linear": ok_linear,
    "softmax": ok_softmax,
    "log_softmax": ok_log_softmax,
    "cross_entropy": ok_cross_entropy,
    "cross_entropy_backward": ok_cross_entropy_backward,
    "relu_backward": ok_relu_backward,
    "linear_backward": ok_linear_backward,
    "max_pool2d_backward": ok_max_pool2d_backward,
    "avg_pool2d_backward": ok_avg_pool2d_backward,
    "conv2d_backward": ok_conv2d_backward,
    "numerical_gradient": ok_numerical_gradient,
    "conv_param_count": ok_conv_param_count,
    "receptive_field": ok_receptive_field,
    "grouped_conv2d": ok_grouped_conv2d,
    "depthwise_separable_conv2d": ok_depthwise_separable_conv2d,
    "conv_transpose2d": ok_conv_transpose2d,
}




# ------------------------------------------------------------------ mutants
def _onehot(targets, c):
    y = np.zeros((len(targets), c))
    y[np.arange(len(targets)), targets] = 1
    return y


def _naive_softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _stable(z, axis=-1):
    return z - z.max(axis=axis, keepdims=True)


def student_pool_backward(dout, x, kernel_size, stride=None, padding=0, mode="max", bug=None):
    """A student's loop, with one switchable bug."""
    k, p = kernel_size, padding
    s = k if stride is None or bug == "stride" else stride
    if bug == "stride":
        s = 1 if stride is None else stride
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    dx = np.zeros(xp.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win = xp[n, c, i * s:i * s + k, j * s:j * s + k]
                    g = dout[n, c, i, j]
                    if mode == "max":
                        if bug == "ties_all":
                            dx[n, c, i * s:i * s + k, j * s:j * s + k] += g * (win == win.max())
                            continue
                        flat = win.ravel()
                        a = (flat.size - 1 - int(np.argmax(flat[::-1]))) if bug == "ties_last" \
                            else int(np.argmax(flat))
                        r, q = divmod(a, k)
                        if bug == "assign":
                            dx[n, c, i * s + r, j * s + q] = g
                        else:
                            dx[n, c, i * s + r, j * s + q] += g
                    else:
                        if bug == "no_divide":
                            share = g
                        elif bug == "valid":
                            rows = np.clip([i * s - p, i * s - p + k], 0, x.shape[2])
                            cols = np.clip([j * s - p, j * s - p + k], 0, x.shape[3])
                            share = g / ((rows[1] - rows[0]) * (cols[1] - cols[0]))
                        else:
                            share = g / (k * k)
                        if bug == "assign":
                            dx[n, c, i * s:i * s + k, j * s:j * s + k] = share
                        else:
                            dx[n, c, i * s:i * s + k, j * s:j * s + k] += share
    if bug == "no_crop" or p == 0:
        return dx
    return dx[:, :, p:-p, p:-p]


def _conv_grads(dout, x, weight, stride=1, padding=0):
    return ok_conv2d_backward(dout, x, weight, stride, padding)


def _one_sided(f, x, eps=1e-6):
    h = eps
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x)) / h
    return g


def _no_restore(f, x, eps=1e-6):
    h = eps
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        g[i] = (up - f(x)) / (2 * h)
    return g


def _dws(x, dw, pw, db=None, pb=None, stride=1, padding=0, relu=False, pw_stride=1,
         pw_padding=0, skip_pointwise=False):
    h = ok_grouped_conv2d(x, dw, db, stride, padding, groups=x.shape[1])
    if relu:
        h = np.maximum(h, 0)
    if skip_pointwise:
        return h
    return ok_grouped_conv2d(h, pw, pb, pw_stride, pw_padding)


def _rf(ks, ds=None, ss=None, use_d=True, use_s=True):
    return ok_receptive_field(ks, ds if use_d else None, ss if use_s else None)


def _ct(x, w, b=None, stride=1, padding=0, output_padding=0):
    return ok_conv_transpose2d(x, w, b, stride, padding, output_padding)


# (name, mutant, regex the message must match, caught by the visible cases too)
MUTANTS = [
    # flatten
    ("flatten", lambda x: x.reshape(-1), "Keep the batch axis", True),
    ("flatten", lambda x: x.reshape(x.shape[0], -1, order="F"), "wrong order", True),
    ("flatten", lambda x: x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1), "channels-last", True),
    ("flatten", lambda x: x.reshape(x.shape[0], x.shape[1], -1), "Flatten every axis", True),
    ("flatten", lambda x: x.reshape(-1, x.shape[0]), "shape", True),
    # linear
    ("linear", lambda x, w, b=None: x @ w.T, "bias is missing", True),
    ("linear", lambda x, w, b=None: x @ w + (0 if b is None else b), r"weight\.T", True),
    ("linear", lambda x, w, b=None: x @ w.T + b, "bias may be None", True),
    ("linear", lambda x, w, b=None: x @ w.T - (0 if b is None else b), "subtracted", True),
    ("linear", lambda x, w, b=None: w @ x.T + (0 if b is None else b[:, None]), "swapped", True),
    # softmax
    ("softmax", _naive_softmax, "subtract each row's maximum", True),
    ("softmax", lambda z, axis=-1: _naive_softmax(z - z.max(), axis), "maximum", False),
    ("softmax", lambda z, axis=-1: ok_softmax(z, 0), "wrong axis", True),
    ("softmax", lambda z, axis=-1: np.exp(_stable(z, axis)) / np.exp(_stable(z, axis)).sum(axis),
     "keepdims", True),
    ("softmax", lambda z, axis=-1: ok_softmax(z, -1), "axis", False),
    ("softmax", lambda z, axis=-1: z / z.sum(axis=axis, keepdims=True), "exponentiates", True),
    ("softmax", lambda z, axis=-1: 1 / (1 + np.exp(-z)), "sigmoid", True),
    ("softmax", lambda z, axis=-1: np.round(ok_softmax(z, axis), 3), "differ", True),
    # log_softmax
    ("log_softmax", lambda z, axis=-1: np.log(ok_softmax(z, axis)), "log-sum-exp", True),
    ("log_softmax", lambda z, axis=-1: np.log(_naive_softmax(z, axis)), "log-sum-exp", True),
    ("log_softmax", lambda z, axis=-1: z - np.log(np.exp(_stable(z, axis)).sum(axis=axis, keepdims=True)),
     "add it back", True),
    ("log_softmax", lambda z, axis=-1: ok_log_softmax(z, -1), "axis", True),
    # cross_entropy
    ("cross_entropy", lambda z, t: -ok_log_softmax(z)[np.arange(len(t)), t].sum(),
     "instead of taking the mean", True),
    ("cross_entropy", lambda z, t: ok_log_softmax(z)[np.arange(len(t)), t].mean(), "sign", True),
    ("cross_entropy", lambda z, t: -(ok_log_softmax(z) * _onehot(t, z.shape[1])).mean(),
     r"N\*C", True),
    ("cross_entropy", lambda z, t: -ok_log_softmax(z)[:, t].mean(), "np.arange", True),
    ("cross_entropy", lambda z, t: -z[np.arange(len(t)), t].mean(), "raw score", True),
    ("cross_entropy", lambda z, t: -np.log(_naive_softmax(z)[np.arange(len(t)), t]).mean(),
     "maximum", True),
    ("cross_entropy", lambda z, t: -ok_log_softmax(z)[np.arange(len(t)), t], "forget the mean",
     True),
    # cross_entropy_backward
    ("cross_entropy_backward", lambda z, t: ok_softmax(z) - _onehot(t, z.shape[1]),
     "divide by N", True),
    ("cross_entropy_backward", lambda z, t: (_onehot(t, z.shape[1]) - ok_softmax(z)) / len(t),
     "sign", True),
    ("cross_entropy_backward", lambda z, t: ok_softmax(z) / len(t), "one-hot", True),
    ("cross_entropy_backward", lambda z, t: (_naive_softmax(z) - _onehot(t, z.shape[1])) / len(t),
     "maximum", True),
    ("cross_entropy_backward", lambda z, t: (ok_softmax(z) - _onehot(t, z.shape[1])) / z.size,
     r"N\*C", True),
    # relu_backward
    ("relu_backward", lambda d, x: d * (x >= 0), "x == 0", True),
    ("relu_backward", lambda d, x: (x > 0) * 1.0, "chain rule", True),
    ("relu_backward", lambda d, x: d * (d > 0), "forward input", True),
    ("relu_backward", lambda d, x: d * np.maximum(x, 0), "local derivative", True),
    ("relu_backward", lambda d, x: d.copy(), "passes everywhere", True),
    # linear_backward
    ("linear_backward", lambda d, x, w: (d @ w, x.T @ d, d.sum(0)), "transposed", True),
    ("linear_backward", lambda d, x, w: (d @ w.T, d.T @ x, d.sum(0)), r"dout @ weight", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x / len(x), d.mean(0)), "averaged", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x, d.mean(0)), "SUM", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x, None), "forgot dbias", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x, np.zeros(w.shape[0])), "all zeros", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x, d.sum(1)), "shape", True),
    ("linear_backward", lambda d, x, w: (d @ w, d.T @ x), "must return 3 values", True),
    # max_pool2d_backward
    ("max_pool2d_backward", lambda *a, **k: student_pool_backward(*a, **k, bug="assign"),
     r"(?i)accumulate with \+=", True),
    ("max_pool2d_backward", lambda *a, **k: student_pool_backward(*a, **k, bug="ties_all"),
     "every tied", True),
    ("max_pool2d_backward", lambda *a, **k: student_pool_backward(*a, **k, bug="ties_last"),
     "first", True),
    ("max_pool2d_backward", lambda *a, **k: student_pool_backward(*a, **k, bug="stride"),
     "stride=None", True),
    ("max_pool2d_backward", lambda *a, **k: student_pool_backward(*a, **k, bug="no_crop"),
     "crop", False),
    ("max_pool2d_backward", lambda d, x, k, stride=None, padding=0: np.zeros_like(x), "all zeros",
     True),
    # avg_pool2d_backward
    ("avg_pool2d_backward",
     lambda *a, **k: student_pool_backward(*a, **k, mode="avg", bug="assign"),
     r"Accumulate with \+=", True),
    ("avg_pool2d_backward",
     lambda *a, **k: student_pool_backward(*a, **k, mode="avg", bug="no_divide"),
     "shared out", True),
    ("avg_pool2d_backward",
     lambda *a, **k: student_pool_backward(*a, **k, mode="avg", bug="valid"),
     "count_include_pad", False),
    ("avg_pool2d_backward",
     lambda *a, **k: student_pool_backward(*a, **k, mode="avg", bug="stride"),
     "stride=None", True),
    ("avg_pool2d_backward",
     lambda *a, **k: student_pool_backward(*a, **k, mode="avg", bug="no_crop"), "crop", False),
    # conv2d_backward
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (_conv_grads(d, x, w[:, :, ::-1, ::-1].copy(), stride,
                                                       padding)[0],
                                           *_conv_grads(d, x, w, stride, padding)[1:]),
     "rotated by 180", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw / len(x), db / len(x)))(
         *_conv_grads(d, x, w, stride, padding)), "averaged over the batch", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw / len(x), db))(
         *_conv_grads(d, x, w, stride, padding)), "averaged over the batch", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw, d.sum((0, 2, 3)) / len(x)))(
         *_conv_grads(d, x, w, stride, padding)), "dbias is the SUM", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw, None))(
         *_conv_grads(d, x, w, stride, padding)), "forgot dbias", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw.transpose(1, 0, 2, 3), db))(
         *_conv_grads(d, x, w, stride, padding)), "swapped", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw[:, :, ::-1, ::-1], db))(
         *_conv_grads(d, x, w, stride, padding)), "dweight is rotated", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (lambda dx, dw, db: (dx, dw, d.sum(0)))(
         *_conv_grads(d, x, w, stride, padding)), "one entry per output channel", True),
    ("conv2d_backward",
     lambda d, x, w, stride=1, padding=0: (
         _conv_grads(d, np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2)), w, stride, 0)[0],
         *_conv_grads(d, x, w, stride, padding)[1:]), "crop", True),
    # numerical_gradient
    ("numerical_gradient", _one_sided, "central difference", True),
    ("numerical_gradient", lambda f, x, eps=1e-6: 2 * ok_numerical_gradient(f, x, eps), r"2\*eps",
     True),
    ("numerical_gradient",
     lambda f, x, eps=1e-6: np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps)),
     "one entry at a time",
     True),
    ("numerical_gradient", _no_restore, "Restore", True),
    # the exact gradient from the test function's coefficients: no evaluation of f
    ("numerical_gradient", lambda f, x, eps=1e-6: f.c * np.cos(x) + x, "never evaluated f",
     True),
    ("numerical_gradient",
     lambda f, x, eps=1e-6: ok_numerical_gradient(lambda a: np.float32(f(a.astype(np.float32))), x,
                                                   eps),
     "differ", True),
    # conv_param_count
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * ci * k * k + co * bias,
     "groups is ignored", True),
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * (ci // groups) * k * k + co,
     "bias=False", True),
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * (ci // groups) * k * k,
     "bias is missing", True),
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * ci * groups * k * k + co * bias,
     "Divide by groups", True),
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * (ci // groups) * k + co * bias,
     r"k\*k", True),
    ("conv_param_count", lambda ci, co, k, groups=1, bias=True: co * (ci // groups) * k * k + ci * bias,
     "OUTPUT channel", True),
    # receptive_field
    ("receptive_field", lambda ks, ds=None, ss=None: _rf(ks, ds, ss, use_d=False),
     "dilations are ignored", True),
    ("receptive_field", lambda ks, ds=None, ss=None: _rf(ks, ds, ss, use_s=False),
     "strides are ignored", False),
    ("receptive_field", lambda ks, ds=None, ss=None: sum(k * d for k, d in zip(ks, ds or [1] * len(ks))),
     "share a pixel", True),
    ("receptive_field", lambda ks, ds=None, ss=None: int(np.prod(ks)), "addition", True),
    # grouped_conv2d
    ("grouped_conv2d",
     lambda x, w, b=None, stride=1, padding=0, groups=1: ok_grouped_conv2d(
         x[:, np.concatenate([np.arange(g, x.shape[1], groups) for g in range(groups)])], w, b,
         stride, padding, groups), "CONTIGUOUS", True),
    ("grouped_conv2d",
     lambda x, w, b=None, stride=1, padding=0, groups=1: ok_grouped_conv2d(x, w, None, stride,
                                                                          padding, groups),
     "bias is missing", True),
    ("grouped_conv2d",
     lambda x, w, b=None, stride=1, padding=0, groups=1: ok_grouped_conv2d(x, w, b, stride, padding),
     "split x", True),
    ("grouped_conv2d",
     lambda x, w, b=None, stride=1, padding=0, groups=1: ok_grouped_conv2d(
         x, w, b, stride, padding, groups)[:, ::-1], "differ", True),
    # depthwise_separable_conv2d
    ("depthwise_separable_conv2d", lambda *a, **k: _dws(*a, **k, relu=True), "no ReLU", True),
    ("depthwise_separable_conv2d",
     lambda x, dw, pw, db=None, pb=None, stride=1, padding=0: _dws(x, dw, pw, None, pb, stride, padding),
     "depthwise_bias", True),
    ("depthwise_separable_conv2d",
     lambda x, dw, pw, db=None, pb=None, stride=1, padding=0: _dws(x, dw, pw, db, None, stride, padding),
     "pointwise_bias", True),
    ("depthwise_separable_conv2d",
     lambda *a, **k: _dws(*a, **k, pw_stride=k.get("stride", 1)), "Stride belongs", False),
    ("depthwise_separable_conv2d",
     lambda *a, **k: _dws(*a, **k, pw_padding=k.get("padding", 0)), "Padding belongs", True),
    ("depthwise_separable_conv2d", lambda *a, **k: _dws(*a, **k, skip_pointwise=True),
     "pointwise step", True),
    # conv_transpose2d
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(
         x, w[:, :, ::-1, ::-1].copy(), b, stride, padding, output_padding), "rotated", True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(
         x, w.transpose(1, 0, 2, 3).copy(), b, stride, padding, output_padding), r"C_in, C_out",
     True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(
         x, w, None, stride, padding, output_padding), "bias is missing", True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(x, w, b, stride, padding),
     "output_padding is ignored", True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(
         x, w, b, stride, 0, output_padding), "REMOVES", True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: np.pad(
         _ct(x, w, b, stride, 0, output_padding), ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2)),
     "crops", True),
    ("conv_transpose2d",
     lambda x, w, b=None, stride=1, padding=0, output_padding=0: _ct(x, w, b, 1, padding, 0),
     "is ignored", True),
]




# ------------------------------------------------------------------ LeNet
from lessonlib import (  # noqa: E402
    AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, cross_entropy,
    cross_entropy_backward,
)


def _lenet(rng=None, relu=True, pool=MaxPool2d, fc_in=128, extra=False, k=3):
    rng = np.random.default_rng(rng)
    layers = [Conv2d(1, 16, k, padding=k // 2, rng=rng)]
    layers += [ReLU()] if relu else []
    layers += [pool(2), Conv2d(16, 32, 3, padding=1, rng=rng)]
    layers += [ReLU()] if relu else []
    layers += [pool(2), Flatten(), Linear(fc_in, 10, rng=rng)]
    if extra:
        layers += [ReLU(), Linear(10, 10, rng=rng)]
    return Sequential(*layers)


def ok_build_lenet(rng=None):
    return _lenet(rng)


def ok_accuracy(logits, targets):
    pred = np.asarray(logits).argmax(axis=1)
    return float((pred == np.asarray(targets)).sum()) / len(pred)


def _student_step(model, x, y, lr, sign=-1.0, use_lr=True, rebind=False, mean=True,
                  loss_after=False, update_first=False):
    def update():
        for name, p in model.params.items():
            g = model.grads[name]
            if rebind:
                p = p + sign * (lr if use_lr else 1.0) * g  # noqa: F841 (the bug)
            else:
                p += sign * (lr if use_lr else 1.0) * g
    if update_first:
        update()
    logits = model(x)
    loss = cross_entropy(logits, y)
    d = cross_entropy_backward(logits, y) * (1 if mean else len(y))
    model.backward(d)
    if not update_first:
        update()
    if loss_after:
        return cross_entropy(model(x), y)
    return float(loss)


def ok_train_step(model, x, y, lr):
    return _student_step(model, x, y, lr)


def _lenet5(rng=None, pool=MaxPool2d, padding=2, c5_linear=False, relus=(1, 1, 1, 1),
            one_seed=False, wide_f6=False):
    gen = rng if one_seed else np.random.default_rng(rng)
    act = [[ReLU()] if r else [] for r in relus]
    layers = [Conv2d(1, 6, 5, padding=padding, rng=gen), *act[0], pool(2),
              Conv2d(6, 16, 5, rng=gen), *act[1], pool(2)]
    if c5_linear:
        layers += [Flatten(), Linear(400, 120, rng=gen), *act[2]]
    else:
        layers += [Conv2d(16, 120, 5, rng=gen), *act[2], Flatten()]
    f6 = 100 if wide_f6 else 84
    return Sequential(*layers, Linear(120, f6, rng=gen), *act[3], Linear(f6, 10, rng=gen))


def ok_build_lenet5(rng=None):
    return _lenet5(rng)


CORRECT.update(build_lenet=ok_build_lenet, build_lenet5=ok_build_lenet5, accuracy=ok_accuracy,
               train_step=ok_train_step)

MUTANTS = MUTANTS + [
    ("build_lenet", lambda rng=None: _lenet(rng, relu=False), "ReLUs are missing", True),
    ("build_lenet", lambda rng=None: _lenet(rng, pool=AvgPool2d), "MaxPool2d", True),
    ("build_lenet", lambda rng=None: _lenet(rng, fc_in=512), "in_features=512", True),
    ("build_lenet", lambda rng=None: _lenet(rng, extra=True), "has 8 parameter arrays", True),
    ("build_lenet", lambda rng=None: _lenet(rng, k=5), r"\(16, 1, 5, 5\)", True),
    ("build_lenet", lambda rng=None: [Conv2d(1, 16, 3)], "must return a model", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, pool=AvgPool2d), "not average pooling", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, padding=0), "Is C1 padded", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, c5_linear=True), "C5 is a convolution", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, relus=(1, 1, 1, 0)), "ReLU after F6", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, relus=(1, 1, 0, 1)), "ReLU after C5", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, relus=(0, 0, 0, 0)), "ReLUs are missing", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, one_seed=True), "same random numbers", True),
    ("build_lenet5", lambda rng=None: _lenet5(rng, wide_f6=True), "F6 parameter", True),
    ("build_lenet5", lambda rng=None: ok_build_lenet(rng), "LeNet-5 has 10", True),
    ("accuracy", lambda z, t: 100 * ok_accuracy(z, t), "percentage", True),
    ("accuracy", lambda z, t: int((np.argmax(z, 1) == np.asarray(t)).sum()), "number of correct",
     True),
    ("accuracy", lambda z, t: 1 - ok_accuracy(z, t), "error rate", True),
    ("accuracy", lambda z, t: float(np.mean(np.argmax(z, axis=0) == np.asarray(t))), "axis=1",
     True),
    ("accuracy", lambda z, t: float(np.mean(np.argmin(z, 1) == np.asarray(t))), "argmin", True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, rebind=True), "did not change",
     True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, sign=1.0), "uphill", True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, use_lr=False),
     "learning rate is ignored", True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, mean=False), "N times", True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, loss_after=True), "AFTER", True),
    ("train_step", lambda m, x, y, lr: _student_step(m, x, y, lr, update_first=True),
     "did not change", True),
    ("train_step", lambda m, x, y, lr: None, "loss", True),
]


# ------------------------------------------------------------------ a kernel, 1x1, dilated
def torch_kernel_loss_and_grad(image, kernel, target):
    k = t(kernel, True)
    loss = F.mse_loss(F.conv2d(t(image)[None, None], k[None, None])[0, 0], t(target))
    loss.backward()
    return loss.item(), np_(k.grad)


def torch_pointwise_conv2d(x, weight, bias=None):
    return np_(F.conv2d(t(x), t(weight), None if bias is None else t(bias)))


def torch_dilated_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return np_(F.conv2d(t(x), t(weight), None if bias is None else t(bias), stride=stride,
                        padding=padding, dilation=dilation))


TORCH.update(kernel_loss_and_grad=torch_kernel_loss_and_grad,
             pointwise_conv2d=torch_pointwise_conv2d, dilated_conv2d=torch_dilated_conv2d)
CORRECT.update(kernel_loss_and_grad=P.kernel_loss_and_grad, pointwise_conv2d=P.pointwise_conv2d,
               dilated_conv2d=P.dilated_conv2d)


def _klg(image, kernel, target, scale=1.0, flip=False):
    loss, grad = P.kernel_loss_and_grad(image, kernel, target)
    return loss, scale * (grad[::-1, ::-1] if flip else grad)


MUTANTS = MUTANTS + [
    ("kernel_loss_and_grad", lambda im, k, tg: _klg(im, k, tg, scale=0.5), "half", True),
    ("kernel_loss_and_grad", lambda im, k, tg: _klg(im, k, tg, scale=-1.0), "wrong sign", True),
    ("kernel_loss_and_grad", lambda im, k, tg: _klg(im, k, tg, flip=True), "flipped", True),
    ("kernel_loss_and_grad", lambda im, k, tg: (np.sqrt(_klg(im, k, tg)[0]), _klg(im, k, tg)[1]),
     "root", True),
    ("kernel_loss_and_grad", lambda im, k, tg: _klg(im, k, tg)[1], "2 values", True),
    ("pointwise_conv2d", lambda x, w, b=None: P.pointwise_conv2d(x, w, None), "bias is missing",
     True),
    ("pointwise_conv2d", lambda x, w, b=None: P.pointwise_conv2d(x, w, b, "no_transpose"), "W.T",
     True),
    ("pointwise_conv2d", lambda x, w, b=None: P.pointwise_conv2d(x, w, b)[::-1], "batch", True),
    ("dilated_conv2d", lambda x, w, b=None, stride=1, padding=0, dilation=1: P.dilated_conv2d(
        x, w, b, stride, padding, 1), "undilated kernel", True),
    ("dilated_conv2d", lambda x, w, b=None, stride=1, padding=0, dilation=1: P.dilated_conv2d(
        x, w, b, stride, padding * dilation, dilation), "padding was multiplied", True),
    ("dilated_conv2d", lambda x, w, b=None, stride=1, padding=0, dilation=1: P.dilated_conv2d(
        x, w, b, stride, padding, dilation, "gaps"), "d - 1 zeros", True),
]


# ------------------------------------------------------------------ the tests
def check_of(name):
    return getattr(checks, f"check_{name}")


def cases_passed(name, fn, hidden, capsys):
    """Run a check that must pass; return the number of cases its message reports."""
    assert check_of(name)(fn, hidden=hidden) is None  # a notebook cell shows no value
    match = re.search(r"all (\d+) case\(s\) match", capsys.readouterr().out)
    assert match, "a passing check prints one line saying how many cases passed"
    return int(match.group(1))


@pytest.mark.parametrize("name", sorted(CORRECT))
@pytest.mark.parametrize("hidden", [False, True])
def test_correct_implementation_passes(name, hidden, capsys):
    assert cases_passed(name, CORRECT[name], hidden, capsys) >= 1


@pytest.mark.parametrize("name", sorted(TORCH))
def test_the_numpy_implementations_agree_with_pytorch(name, capsys):
    """On every input of the hidden cases, PyTorch computes what the NumPy versions do."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    calls = []

    def recording(*args, **kwargs):
        calls.append((copy.deepcopy(args), copy.deepcopy(kwargs)))
        return CORRECT[name](*args, **kwargs)

    check_of(name)(recording, hidden=True)
    assert calls
    for args, kwargs in calls:
        mine = CORRECT[name](*copy.deepcopy(args), **copy.deepcopy(kwargs))
        theirs = TORCH[name](*copy.deepcopy(args), **copy.deepcopy(kwargs))
        for a, b in zip(*(m if isinstance(m, tuple) else (m,) for m in (mine, theirs))):
            np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                       rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_hidden_runs_more_cases_than_visible(name, capsys):
    visible = cases_passed(name, CORRECT[name], False, capsys)
    assert cases_passed(name, CORRECT[name], True, capsys) > visible


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_unimplemented_stub_is_rejected(name):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_of(name)(stub)


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_returning_nothing_is_rejected(name):
    with pytest.raises(CheckFailed):
        check_of(name)(lambda *args, **kwargs: None)


@pytest.mark.parametrize("name", sorted(n for n in CORRECT if hasattr(lessonlib, n)))
def test_reference_itself_is_refused(name):
    ref = getattr(lessonlib, name)
    with pytest.raises(CheckFailed, match="reference implementation"):
        check_of(name)(ref)


def test_every_check_is_tested():
    graded = [n for m in (classifier, backprop, lenet, beyond) for n in m.__all__]
    assert {n[len("check_"):] for n in graded} == set(CORRECT)


def _mutant_id(m):
    return f"{m[0]}-{m[2]}"


# Some mutants overflow on purpose (softmax without the max subtracted).
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, mutant, match, visible", MUTANTS,
                         ids=[_mutant_id(m) for m in MUTANTS])
def test_mutant_is_rejected_with_its_diagnosis(name, mutant, match, visible):
    with pytest.raises(CheckFailed, match=match):
        check_of(name)(mutant, hidden=True)
    if visible:
        with pytest.raises(CheckFailed):
            check_of(name)(mutant, hidden=False)


def test_every_check_has_mutants():
    assert {m[0] for m in MUTANTS} == set(CORRECT)


# ------------------------------------------------------ the figures of 05-08
def test_figures_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lessonlib import viz as V
    from lessonlib.viz import charts, networks

    rng = np.random.default_rng(0)
    digits = rng.uniform(0, 1, (6, 1, 8, 8))
    labels = np.array([0, 1, 2, 3, 4, 5])
    preds = np.array([0, 1, 7, 3, 9, 5])
    figures = {
        "flatten": (V.plot_flatten(np.arange(12.0).reshape(3, 2, 2)), 4),
        "probabilities": (V.plot_probabilities(np.arange(3.0), ok_softmax(np.arange(3.0))), 2),
        "pool gradient": (V.plot_pool_gradient(np.zeros((5, 5)), np.ones((2, 2)), np.zeros((5, 5)),
                                               3, 2), 3),
        "errors": (V.plot_difference_errors(np.array([1e-3, 1e-4]), {"a": np.ones(2)}), 1),
        "digits": (V.plot_digits(digits, labels, preds, ncols=3), 6),
        "history": (V.plot_history({"loss": [2.0, 1.0], "train_acc": [0.5, 0.9],
                                    "test_acc": [0.4, 0.8]}), 2),
        "filters": (V.plot_filters(rng.standard_normal((4, 1, 3, 3)), ncols=4), 4),
        "feature maps": (V.plot_feature_maps(rng.standard_normal((3, 4, 4)), ncols=3), 3),
        "chain": (V.plot_backprop_chain(["conv", "ReLU"]), 1),
        "groups": (V.plot_channel_groups(4, 4, [1, 2]), 2),
        "fields": (V.plot_receptive_fields([np.eye(5)], ["x"]), 1),
        "row": (V.show_images([np.eye(3), np.eye(3)], ["a", "b"], values=True), 2),
    }
    drawn = {"flatten": "plot_flatten", "probabilities": "plot_probabilities",
             "pool gradient": "plot_pool_gradient", "errors": "plot_difference_errors",
             "digits": "plot_digits", "history": "plot_history", "filters": "plot_filters",
             "feature maps": "plot_feature_maps", "chain": "plot_backprop_chain",
             "groups": "plot_channel_groups", "fields": "plot_receptive_fields",
             "row": "show_images"}
    assert set(drawn.values()) | {"plot_misclassified"} == (
        set(networks.__all__) | {"plot_probabilities", "plot_difference_errors", "plot_history",
                                 "show_images"}), "draw every figure"
    assert {"plot_probabilities", "plot_difference_errors", "plot_history"} <= set(charts.__all__)
    for name, (fig, n_axes) in figures.items():
        assert len(fig.axes) == n_axes, name
        plt.close(fig)
    fig = V.plot_misclassified(digits, labels, preds, max_images=12)
    assert "2 misclassified" in fig._suptitle.get_text()
    plt.close(fig)
