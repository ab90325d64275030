"""Unusual but correct implementations: every check must accept them.

A correct answer rejected is the worst bug a course can have. These are the
styles students really write besides the reference's: other buffers and
dtypes, ``sliding_window_view``, ``einsum``, ``np.where``, ``np.pad``, float
arithmetic that ends in an int, NumPy scalars for Python numbers.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view as windows

import lessonlib.checks as checks


def correlate2d_windows(image, kernel):
    image, kernel = np.asarray(image), np.asarray(kernel)
    return np.einsum("ijkl,kl->ij", windows(image, kernel.shape), kernel)


def correlate2d_float_buffer(image, kernel):
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def conv_output_size_float_floor(n, kernel_size, stride=1, padding=0, dilation=1):
    return int(np.floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1)


def pad2d_np_pad(x, padding, value=0.0):
    x = np.asarray(x)
    x = x.astype(np.result_type(x, value))   # an int image padded with 0.5 becomes float
    if isinstance(padding, (int, np.integer)):
        t = b = l_ = r = int(padding)
    elif len(padding) == 2:
        t = b = padding[0]
        l_ = r = padding[1]
    else:
        t, b, l_, r = padding
    widths = [(0, 0)] * (x.ndim - 2) + [(t, b), (l_, r)]
    return np.pad(x, widths, constant_values=value)


def conv2d_einsum(x, weight, bias=None, stride=1, padding=0):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = np.asarray(weight, dtype=float)
    win = windows(x, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.einsum("nchwij,ocij->nohw", win, w)
    if bias is not None:
        out = out + np.asarray(bias, dtype=float)[None, :, None, None]
    return out


def relu_where(x):
    x = np.asarray(x)
    return np.where(x > 0, x, 0).astype(x.dtype) if x.dtype.kind in "iu" else np.where(
        x > 0, x, 0.0)


def relu_mask(x):
    x = np.asarray(x)
    return x * (x > 0)


def max_pool2d_windows(x, kernel_size, stride=None, padding=0):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)),
               constant_values=-np.inf)
    return windows(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].max(axis=(-2, -1))


def softmax_logsumexp(z, axis=-1):
    z = np.asarray(z, dtype=float)
    m = np.max(z, axis=axis, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return np.exp(z - lse)


def accuracy_mean(logits, targets):
    return (np.asarray(logits).argmax(axis=1) == np.asarray(targets)).mean()


def linear_param_count_numpy(in_features, out_features, bias=True):
    return np.int64(in_features * out_features + out_features * int(bias))


POOL = [
    ("check_correlate2d", correlate2d_windows),
    ("check_correlate2d", correlate2d_float_buffer),
    ("check_conv_output_size", conv_output_size_float_floor),
    ("check_pad2d", pad2d_np_pad),
    ("check_conv2d", conv2d_einsum),
    ("check_relu", relu_where),
    ("check_relu", relu_mask),
    ("check_max_pool2d", max_pool2d_windows),
    ("check_softmax", softmax_logsumexp),
    ("check_accuracy", accuracy_mean),
    ("check_linear_param_count", linear_param_count_numpy),
]


@pytest.mark.parametrize("check, fn", POOL, ids=[f.__name__ for _, f in POOL])
@pytest.mark.parametrize("hidden, seed", [(False, 0), (True, 0), (True, 7)])
def test_an_unusual_but_correct_implementation_passes(check, fn, hidden, seed, capsys):
    getattr(checks, check)(fn, hidden=hidden, seed=seed)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK}")


def test_negative_control_a_wrong_variant_of_the_pool_is_refused():
    with pytest.raises(checks.CheckFailed):
        checks.check_conv2d(lambda *a, **k: conv2d_einsum(*a, **k) + 1e-3, hidden=True)
