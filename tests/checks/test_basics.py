"""The checks of assignments 01-04 pass correct work and reject known mistakes.

Each check is run on an implementation written here independently of
lessonlib (plain loops, as a student writes them), which must pass on
visible and hidden cases, and on mutants: the same loops with one planted
bug each (or a lazy shortcut), which must be rejected, with a message
that names the mistake where the check has a diagnosis for it.
"""

import re
import sys

import numpy as np
import pytest

import lessonlib
from lessonlib import checks
from lessonlib.checks import CheckFailed


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ----------------------------------------------------------------------------- correct, by hand

def convolve1d(x, k, mode="full", flip=True, same_start=None, always_full=False, short=False):
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    n, m = len(x), len(k)
    full = np.zeros(n + m - 1)
    for i in range(n + m - 1):
        for j in range(m):
            src = i - j if flip else i - (m - 1) + j
            if 0 <= src < n:
                full[i] += x[src] * k[j]
    if mode == "full" or always_full:
        return full
    if mode == "same":
        start = (m - 1) // 2 if same_start is None else same_start(m)
        return full[start:start + n]
    return full[m - 1:n - (1 if short else 0)]


def correlate1d(x, k, mode="full", **bugs):
    return convolve1d(x, k, mode, flip=False, **bugs)


def correlate2d(image, kernel, flip=False, transpose=False, mean=False, off_by_one=False,
                pad=0):
    image = np.pad(np.asarray(image, dtype=float), pad)
    kernel = np.asarray(kernel, dtype=float)
    kernel = kernel[::-1, ::-1] if flip else kernel.T if transpose else kernel
    kh, kw = kernel.shape
    ho, wo = image.shape[0] - kh + 1 - off_by_one, image.shape[1] - kw + 1 - off_by_one
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out / kernel.size if mean else out


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    return (n + 2 * padding - span) // stride + 1


def pad2d(x, padding, value=0.0, one_side=False, swap=False, torch_order=False, fill=None):
    x = np.asarray(x)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        top, bottom, left, right = padding
        if torch_order:
            left, right, top, bottom = padding
    else:
        ph, pw = _pair(padding)
        if swap:
            ph, pw = pw, ph
        top, bottom, left, right = ph, ph, pw, pw
    if one_side:
        bottom = right = 0
    h, w = x.shape[-2:]
    out = np.full(x.shape[:-2] + (h + top + bottom, w + left + right),
                  value if fill is None else fill, dtype=float)
    out[..., top:top + h, left:left + w] = x
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0, flip=False, use_bias=True,
           step=True, relu=False, first_channel=False, bias_sum=False, pad_once=False,
           float_size=False):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    x = pad2d(x, (ph, 0, pw, 0) if pad_once else (ph, ph, pw, pw))
    w = np.asarray(weight, dtype=float)
    w = w[..., ::-1, ::-1] if flip else w
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = (h - kh) / sh + 1, (wd - kw) / sw + 1
    ho, wo = (ho, wo) if float_size else (int(ho), int(wo))
    out = np.zeros((n, f, ho, wo))
    for b in range(n):
        for o in range(f):
            for i in range(ho):
                for j in range(wo):
                    r, s = (i * sh, j * sw) if step else (i, j)
                    chans = slice(0, 1) if first_channel else slice(None)
                    out[b, o, i, j] = np.sum(x[b, chans, r:r + kh, s:s + kw] * w[o, chans])
            if bias is not None and use_bias:
                out[b, o] += np.sum(bias) if bias_sum else bias[o]
    return np.maximum(out, 0) if relu else out


def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = _pair(kernel_size)
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def linear_param_count(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)


def relu(x):
    return np.where(np.asarray(x) > 0, x, 0.0)


def pool2d(x, kernel_size, stride=None, padding=0, op="max", none_stride=None,
           pad_value=None, step=True, mix=None, exclude_pad=False, divisor=None, ceil=False):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    if stride is None and none_stride is not None:
        sh, sw = none_stride, none_stride
    ph, pw = _pair(padding)
    x = np.asarray(x, dtype=float)
    fill = (-np.inf if op == "max" else 0.0) if pad_value is None else pad_value
    xp = pad2d(x, (ph, pw), fill)
    counted = pad2d(np.ones_like(x), (ph, pw), 0.0)
    n, c, h, w = xp.shape
    if ceil:
        ho, wo = -((h - kh) // -sh) + 1, -((w - kw) // -sw) + 1
    else:
        ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r, s = (i * sh, j * sw) if step else (i, j)
            win = xp[:, :, r:r + kh, s:s + kw]
            if ceil:  # partial windows at the border
                win = np.pad(win, ((0, 0), (0, 0), (0, kh - win.shape[2]),
                                   (0, kw - win.shape[3])), constant_values=fill)
            if op == "max":
                red = win.max(axis=(2, 3))
                if mix == "channels":
                    red = np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], red.shape)
                elif mix == "all":
                    red = np.full(red.shape, win.max())
                elif mix == "min":
                    red = win.min(axis=(2, 3))
            else:
                total = win.sum(axis=(2, 3))
                if exclude_pad:
                    red = total / counted[:, :, r:r + kh, s:s + kw].sum(axis=(2, 3))
                else:
                    red = total / (kh * kw if divisor is None else divisor(kh, kw))
                if mix == "channels":
                    red = np.broadcast_to(win.mean(axis=(1, 2, 3))[:, None], red.shape)
            out[:, :, i, j] = red
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0):
    return pool2d(x, kernel_size, stride, padding, "max")


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    return pool2d(x, kernel_size, stride, padding, "avg")


def vertical_edge_kernel():
    return np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


CORRECT = {
    "convolve1d": (checks.check_convolve1d, convolve1d),
    "correlate1d": (checks.check_correlate1d, correlate1d),
    "correlate2d": (checks.check_correlate2d, correlate2d),
    "vertical_edge_kernel": (checks.check_vertical_edge_kernel, vertical_edge_kernel),
    "conv_output_size": (checks.check_conv_output_size, conv_output_size),
    "pad2d": (checks.check_pad2d, pad2d),
    "conv2d": (checks.check_conv2d, conv2d),
    "conv2d_param_count": (checks.check_conv2d_param_count, conv2d_param_count),
    "linear_param_count": (checks.check_linear_param_count, linear_param_count),
    "relu": (checks.check_relu, relu),
    "max_pool2d": (checks.check_max_pool2d, max_pool2d),
    "avg_pool2d": (checks.check_avg_pool2d, avg_pool2d),
}


def _cases_run(capsys):
    """The number of cases a passing check reports in its one-line summary."""
    out = capsys.readouterr().out
    assert out.startswith("\N{CHECK MARK}"), out
    return int(re.search(r"(\d+) (?:case|test image)", out).group(1))


@pytest.mark.parametrize("name", sorted(CORRECT))
@pytest.mark.parametrize("hidden,seed", [(False, 0), (True, 0), (True, 7)])
def test_a_correct_implementation_passes(name, hidden, seed, capsys):
    check, fn = CORRECT[name]
    assert check(fn, hidden=hidden, seed=seed) is None
    assert _cases_run(capsys) >= 1


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_hidden_cases_add_to_the_visible_ones(name, capsys):
    check, fn = CORRECT[name]
    check(fn, hidden=False)
    visible = _cases_run(capsys)
    check(fn, hidden=True)
    assert _cases_run(capsys) > visible


# ----------------------------------------------------------------------------- mutants

def _modifies_input_1d(x, k, mode="full"):
    x[0] = 0.0
    return convolve1d(x, k, mode)


def _relu_in_place(x):
    x[x < 0] = 0
    return x


def _conv2d_pads_in_place(x, weight, bias=None, stride=1, padding=0):
    out = conv2d(x, weight, bias, stride, padding)
    x *= 1.5
    return out


def _raise_not_implemented(*args, **kwargs):
    raise NotImplementedError()


def _return_none(*args, **kwargs):
    return None


def _kernel(k):
    return lambda: np.array(k, dtype=float)


MUTANTS = [
    # (check, wrong implementation, message pattern or None)
    ("convolve1d", lambda x, k, mode="full": correlate1d(x, k, mode), "not flipped"),
    ("convolve1d", lambda x, k, mode="full": convolve1d(x, k, mode, same_start=lambda m: m // 2),
     "off centre"),
    ("convolve1d", lambda x, k, mode="full": convolve1d(x, k, mode, always_full=True),
     r"mode='full'"),
    ("convolve1d", lambda x, k, mode="full": convolve1d(x, k, mode, short=True), "One sample short"),
    ("convolve1d", lambda x, k, mode="full": np.convolve(x, k, mode), "numpy.convolve"),
    ("convolve1d", lessonlib.convolve1d, "reference implementation"),
    ("convolve1d", lambda x, k, mode="full": lessonlib.correlate1d(x, k[::-1], mode),
     "calls lessonlib"),
    ("convolve1d", _modifies_input_1d, "in place"),
    ("convolve1d", _return_none, "return"),
    ("convolve1d", _raise_not_implemented, "not implemented"),
    ("convolve1d", lambda x, k, mode="full": convolve1d(x, k, mode).astype(int), "int dtype"),
    ("convolve1d", lambda x, k, mode="full": convolve1d(x, k, mode)[None], "extra axis"),
    ("correlate1d", lambda x, k, mode="full": convolve1d(x, k, mode), "true convolution"),
    ("correlate1d", lambda x, k, mode="full": correlate1d(x, k, mode)[::-1], "reversed"),
    ("correlate1d", lambda x, k, mode="full": correlate1d(x, k, mode,
                                                          same_start=lambda m: m // 2),
     "off centre"),
    ("correlate1d", lambda x, k, mode="full": correlate1d(x, k, "valid"), r"mode='valid'"),
    ("correlate1d", lambda x, k, mode="full": np.correlate(x, k, mode), "numpy.correlate"),
    ("correlate2d", lambda im, k: correlate2d(im, k, flip=True), "true convolution"),
    ("correlate2d", lambda im, k: correlate2d(im, k, transpose=True), "transposed kernel"),
    ("correlate2d", lambda im, k: correlate2d(im, k, mean=True), "divided by the kernel size"),
    ("correlate2d", lambda im, k: correlate2d(im, k, off_by_one=True), "One row and one column"),
    ("correlate2d", lambda im, k: correlate2d(im, k, pad=(np.shape(k)[0] - 1) // 2)
     if np.shape(k)[0] == 3 else correlate2d(im, k), "input's size"),
    ("correlate2d", lambda im, k: correlate2d(im, k).T, "swapped"),
    ("correlate2d", lambda im, k: lessonlib.correlate2d(im, k), "calls lessonlib"),
    ("correlate2d", lambda im, k: lessonlib.convolve2d(im, np.asarray(k)[::-1, ::-1]),
     "calls lessonlib"),
    ("correlate2d", lambda im, k: correlate2d(im, k).astype(np.float16), None),
    ("vertical_edge_kernel", _kernel(vertical_edge_kernel().T), "Transpose"),
    ("vertical_edge_kernel", _kernel([[1, 0, 1]] * 3), "row"),
    ("vertical_edge_kernel", _kernel([[0, 0, 1]] * 3), "responds to"),
    ("vertical_edge_kernel", _kernel([[1, -1], [-1, 1]]), "barely responds"),
    ("vertical_edge_kernel", _kernel(np.zeros((3, 3))), "all zeros"),
    ("vertical_edge_kernel", _kernel(np.ones((9, 9))), "at most 7x7"),
    ("vertical_edge_kernel", _kernel([-1, 0, 1]), "2-D"),
    ("vertical_edge_kernel", _kernel([[np.nan, 0, 1]]), "nan"),
    ("vertical_edge_kernel", _return_none, "return"),
    ("vertical_edge_kernel", _raise_not_implemented, "not implemented"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n + 2 * padding - dilation * (k - 1) - 1) / stride + 1, "/ instead of //"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     -((n + 2 * padding - dilation * (k - 1) - 1) // -stride) + 1, "rounds up"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n + 2 * padding - k) // stride + 1, "ignores dilation"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n + 2 * padding - dilation * k) // stride + 1, "not dilation \\* kernel_size"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n + padding - dilation * (k - 1) - 1) // stride + 1, "counted only once"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n - dilation * (k - 1) - 1) // stride + 1, "Padding ignored"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     n + 2 * padding - dilation * (k - 1), "Stride ignored"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     (n + 2 * padding - dilation * (k - 1) - 1) // stride, "Off by one"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     float(conv_output_size(n, k, stride, padding, dilation)), "a float"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     lessonlib.conv_output_size(n, k, stride, padding, dilation), "calls lessonlib"),
    ("conv_output_size", lambda n, k, stride=1, padding=0, dilation=1:
     str(conv_output_size(n, k, stride, padding, dilation)), None),
    ("pad2d", lambda x, p, value=0.0: np.pad(x, p), "Every axis"),
    ("pad2d", lambda x, p, value=0.0: pad2d(x, p, value, one_side=True), "only once"),
    ("pad2d", lambda x, p, value=0.0: pad2d(x, p, value, swap=True), "swapped"),
    ("pad2d", lambda x, p, value=0.0: pad2d(x, p, value, torch_order=True), "PyTorch"),
    ("pad2d", lambda x, p, value=0.0: pad2d(x, p, value, fill=0.0), "fill value"),
    ("pad2d", lambda x, p, value=0.0: np.array(x, dtype=float), "No padding"),
    ("pad2d", lambda x, p, value=0.0: lessonlib.pad2d(x, p, value), "calls lessonlib"),
    ("pad2d", _return_none, "return"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0: conv2d(x, w, b, stride, 0),
     "padding applied"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, use_bias=False), "forgot the bias"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, flip=True), "flipped kernel"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0: conv2d(x, w, b, 1, padding),
     "Stride ignored"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, step=False), r"i \* stride"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, relu=True), "ReLU"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, first_channel=True), "full depth"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, bias_sum=True), "sum of all biases"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, pad_once=True), "only once"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, _pair(padding)[::-1]), "swapped"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding, float_size=True), "use //"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     conv2d(x, w, b, stride, padding)[0], "batch axis"),
    ("conv2d", lambda x, w, b=None, stride=1, padding=0:
     lessonlib.conv2d(x, w, b, stride=stride, padding=padding), "calls lessonlib"),
    ("conv2d", lessonlib.conv2d, "reference implementation"),
    ("conv2d", _conv2d_pads_in_place, "in place"),
    ("conv2d", _return_none, "return"),
    ("conv2d", _raise_not_implemented, "not implemented"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     conv2d_param_count(ci, co, k, False), "forgot the bias"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     conv2d_param_count(1, co, k, bias), "in_channels is missing"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     conv2d_param_count(ci, 1, k, bias), "single filter"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     conv2d_param_count(ci, co, k, False) + (ci * co if bias else 0), "One bias per filter"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     conv2d_param_count(ci, co, _pair(k)[0], bias), r"kH \* kW"),
    ("conv2d_param_count", lambda ci, co, k, bias=True:
     float(conv2d_param_count(ci, co, k, bias)), "a float"),
    ("linear_param_count", lambda i, o, bias=True: i * o, "forgot the bias"),
    ("linear_param_count", lambda i, o, bias=True: i * o + (i if bias else 0), "not per input"),
    ("linear_param_count", lambda i, o, bias=True: i * o + (1 if bias else 0), "not one for"),
    ("linear_param_count", lambda i, o, bias=True: (i + 1) * o, "bias"),
    ("relu", lambda x: (np.asarray(x) > 0).astype(float), "instead of the values"),
    ("relu", lambda x: np.abs(x), r"\|x\|"),
    ("relu", lambda x: np.minimum(x, 0), "keeps the negative"),
    ("relu", lambda x: np.clip(x, 0, 1), "upper limit"),
    ("relu", lambda x: np.where(np.asarray(x) > 0, x, 0.01 * np.asarray(x)), "leaky"),
    ("relu", _relu_in_place, "in place"),
    ("relu", lambda x: lessonlib.relu(x), "calls lessonlib"),
    ("relu", lambda x: relu(x).astype(int), None),
    ("relu", _return_none, "return"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, none_stride=1), "stride=None means"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, pad_value=0.0), "-inf"),
    ("max_pool2d", lambda x, k, stride=None, padding=0: avg_pool2d(x, k, stride, padding),
     "average pooling"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, mix="min"), "smallest"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, step=False), r"i \* stride"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, mix="channels"), "mixes channels"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, mix="all"), "mixes channels"),
    ("max_pool2d", lambda x, k, stride=None, padding=0: max_pool2d(x, k, stride, 0),
     "padding applied"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, ceil=True), "rounded up"),
    ("max_pool2d", lambda x, k, stride=None, padding=0: max_pool2d(x, k, None, padding),
     "Stride ignored"),
    ("max_pool2d", lambda x, k, stride=None, padding=0: max_pool2d(x, k, stride, padding)[:, :1],
     "mixes channels"),
    ("max_pool2d", lambda x, k, stride=None, padding=0:
     lessonlib.max_pool2d(x, k, stride, padding), "calls lessonlib"),
    ("max_pool2d", _raise_not_implemented, "not implemented"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", exclude_pad=True), "excludes the padding"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", divisor=lambda kh, kw: 1), "sum of each window"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", divisor=lambda kh, kw: kh), "kH only"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0: max_pool2d(x, k, stride, padding),
     "max pooling"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", mix="channels"), "mixes channels"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", none_stride=1), "stride=None means"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0:
     pool2d(x, k, stride, padding, "avg", step=False), r"i \* stride"),
    ("avg_pool2d", lambda x, k, stride=None, padding=0: avg_pool2d(x, k, stride, 0),
     "padding applied"),
    ("avg_pool2d", lessonlib.avg_pool2d, "reference implementation"),
    ("avg_pool2d", _return_none, "return"),
]


def _mutant_id(m):
    return f"{m[0]}-{m[2] or 'no-message'}"


@pytest.mark.parametrize("name,wrong,pattern", MUTANTS, ids=[_mutant_id(m) for m in MUTANTS])
def test_a_known_mistake_is_rejected_and_named(name, wrong, pattern):
    check = CORRECT[name][0]
    with pytest.raises(CheckFailed, match=pattern) as info:
        check(wrong, hidden=True)
    assert name in str(info.value)


def test_every_check_has_mutants():
    assert {m[0] for m in MUTANTS} == set(CORRECT)


# ----------------------------------------------------------------------------- machinery

def test_the_profile_hook_is_removed_after_a_check():
    before = sys.getprofile()
    with pytest.raises(CheckFailed):
        checks.check_conv2d(lambda *a, **k: lessonlib.conv2d(*a, **k))
    checks.check_relu(relu)
    assert sys.getprofile() is before


def test_a_student_crash_is_reported_with_its_line():
    def broken(x, k, mode="full"):
        return x[100]

    with pytest.raises(CheckFailed, match=r"IndexError.*line \d+"):
        checks.check_convolve1d(broken)


def test_a_non_callable_is_refused():
    with pytest.raises(CheckFailed, match="must be a function"):
        checks.check_conv2d(np.zeros(3))


@pytest.mark.parametrize("kernel", [
    [[-1, 1]], [[1, 0, -1]] * 3, 100 * vertical_edge_kernel(), 0.01 * vertical_edge_kernel(),
    [[-1, -1, 0, 1, 1]] * 5])
def test_any_reasonable_vertical_edge_kernel_passes(kernel, capsys):
    checks.check_vertical_edge_kernel(np.array(kernel, dtype=float), hidden=True)
    assert _cases_run(capsys) >= 5


def test_a_check_message_names_the_case():
    with pytest.raises(CheckFailed, match=r"x of shape \(2, 2, 5, 5\).*stride=2, padding=1"):
        checks.check_conv2d(lambda x, w, b=None, stride=1, padding=0:
                            conv2d(x, w, b, stride, 0))


# ----------------------------------------------------------------------------- drills

@pytest.mark.parametrize("seed", range(5))
def test_drills_follow_their_relationship(seed):
    drills = checks.conv_arithmetic_drills(seed=seed)
    assert len(drills) == 8
    by_rule = {d["relationship"].split(":")[0]: d for d in drills}
    same = by_rule["same padding, odd kernel"]
    assert lessonlib.conv_output_size(same["n"], same["kernel_size"], 1, same["padding"]) == same["n"]
    even = by_rule["even kernel, padding k/2"]
    assert even["kernel_size"] % 2 == 0
    assert lessonlib.conv_output_size(even["n"], even["kernel_size"], 1,
                                      even["padding"]) == even["n"] + 1
    full = by_rule["full padding"]
    assert lessonlib.conv_output_size(full["n"], full["kernel_size"], 1, full["padding"]) == \
        full["n"] + full["kernel_size"] - 1
    for rule in ("no padding, stride s", "padding and stride"):
        d = by_rule[rule]
        assert d["stride"] > 1 and (d["n"] + 2 * d["padding"] - d["kernel_size"]) % d["stride"]
    assert by_rule["dilation"]["dilation"] > 1


def test_drills_change_with_the_seed():
    assert checks.conv_arithmetic_drills(seed=1) != checks.conv_arithmetic_drills(seed=2)


def test_drill_feedback_counts_right_answers_without_revealing_them(capsys):
    drills = checks.conv_arithmetic_drills(seed=3)
    right = [conv_output_size(d["n"], d["kernel_size"], d["stride"], d["padding"],
                              d["dilation"]) for d in drills]
    answers = {1: right[0], 2: right[1] + 1}
    assert checks.drill_feedback(drills, answers) == 1
    out = capsys.readouterr().out
    assert "not answered yet" in out and f"{right[1] + 1} is wrong" in out
    assert checks.drill_feedback(drills, right) == len(drills)
