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


def conv2d_fast_im2col(x, weight, bias=None, stride=1, padding=0):
    """im2col written out: one column per window (a loop over the kH*kW taps), one matmul."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = np.asarray(weight, dtype=float)
    (n, c, h, wd), (f, _, kh, kw) = x.shape, w.shape
    ho, wo = (h - kh) // sh + 1, (wd - kw) // sw + 1
    cols = np.empty((c, kh, kw, n, ho, wo))
    for a in range(kh):
        for b in range(kw):
            cols[:, a, b] = x[:, :, a:a + sh * (ho - 1) + 1:sh,
                              b:b + sw * (wo - 1) + 1:sw].transpose(1, 0, 2, 3)
    out = (w.reshape(f, -1) @ cols.reshape(c * kh * kw, -1)).reshape(f, n, ho, wo)
    out = np.moveaxis(out, 0, 1)
    return out if bias is None else out + np.asarray(bias)[:, None, None]


def conv2d_fast_as_strided(x, weight, bias=None, stride=1, padding=0):
    """The windows made with as_strided (strides of the stride built in), einsum, dtype kept."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    x = np.asarray(x)
    x = np.pad(x if x.dtype.kind == "f" else x.astype(float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = np.asarray(weight).astype(np.result_type(x, weight))
    (n, c, h, wd), (f, _, kh, kw) = x.shape, w.shape
    ho, wo = (h - kh) // sh + 1, (wd - kw) // sw + 1
    s = x.strides
    win = np.lib.stride_tricks.as_strided(
        x, (n, c, ho, wo, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]),
        writeable=False)
    out = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
    if bias is not None:
        out = out + np.asarray(bias, dtype=out.dtype)[None, :, None, None]
    return out


def kernel_loss_and_grad_taps(image, kernel, target):
    """Vectorised over the positions, a loop over the k*k taps: shifted copies of the image."""
    image = np.asarray(image, dtype=float)
    k = np.asarray(kernel, dtype=float)
    ho, wo = image.shape[0] - k.shape[0] + 1, image.shape[1] - k.shape[1] + 1
    shifted = {(u, v): image[u:u + ho, v:v + wo] for u in range(k.shape[0])
               for v in range(k.shape[1])}
    r = sum(k[u, v] * s for (u, v), s in shifted.items()) - target
    grad = np.zeros_like(k)
    for (u, v), s in shifted.items():
        grad[u, v] = 2 * np.mean(r * s)
    return np.mean(r ** 2), grad          # a NumPy scalar loss


def kernel_loss_and_grad_matrix(image, kernel, target):
    """Least squares as a matrix: A (M, k*k) of windows, prediction A @ k, gradient 2/M A.T r."""
    k = np.asarray(kernel, dtype=float)
    a = windows(np.asarray(image, dtype=float), k.shape).reshape(-1, k.size)
    r = a @ k.ravel() - np.ravel(target)
    return np.array(r @ r / r.size), (2 / r.size * (a.T @ r)).reshape(k.shape)


def pointwise_conv2d_einsum(x, weight, bias=None):
    out = np.einsum("nchw,oc->nohw", np.asarray(x, dtype=float), weight[:, :, 0, 0])
    return out if bias is None else out + np.asarray(bias)[:, None, None]


def pointwise_conv2d_batched(x, weight, bias=None):
    """No transpose at all: (C_out, C_in) @ (N, C_in, H*W), broadcast over the batch."""
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    out = weight.reshape(weight.shape[0], c) @ x.reshape(n, c, h * w)
    if bias is not None:
        out = out + np.asarray(bias).reshape(-1, 1)
    return out.reshape(n, -1, h, w)


def dilated_conv2d_windows(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Windows spanning the dilated kernel, every d-th pixel of each: one tensordot."""
    d, p = dilation, padding
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (p, p), (p, p)))
    kh, kw = weight.shape[2:]
    span = (d * (kh - 1) + 1, d * (kw - 1) + 1)
    win = windows(x, span, axis=(2, 3))[:, :, ::stride, ::stride, ::d, ::d]
    out = np.tensordot(win, weight, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    return out if bias is None else out + bias[None, :, None, None]


def dilated_conv2d_spread_kernel(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The notebook's way: zeros between the taps, then lessonlib's ordinary conv2d."""
    import lessonlib
    f, c, kh, kw = weight.shape
    spread = np.zeros((f, c, dilation * (kh - 1) + 1, dilation * (kw - 1) + 1))
    spread[:, :, ::dilation, ::dilation] = weight
    return lessonlib.conv2d(x, spread, bias, stride=stride, padding=padding, dilation=1)


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
    ("check_conv2d_fast", conv2d_einsum),
    ("check_conv2d_fast", conv2d_fast_im2col),
    ("check_conv2d_fast", conv2d_fast_as_strided),
    ("check_kernel_loss_and_grad", kernel_loss_and_grad_taps),
    ("check_kernel_loss_and_grad", kernel_loss_and_grad_matrix),
    ("check_pointwise_conv2d", pointwise_conv2d_einsum),
    ("check_pointwise_conv2d", pointwise_conv2d_batched),
    ("check_dilated_conv2d", dilated_conv2d_windows),
    ("check_dilated_conv2d", dilated_conv2d_spread_kernel),
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
