"""conv2d and conv2d_backward: by hand, against plain loops, SciPy and PyTorch.

Every comparison below is also run on a known-wrong implementation (a
flipped kernel, an ignored stride, padding on the wrong side ...) to show
that it can fail.
"""

import warnings

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from lessonlib import conv2d, conv2d_backward, depthwise_separable_conv2d
from lessonlib._validation import tolerances
from lessonlib.loops.conv import conv2d_backward_loops, conv2d_loops


def same_values(a, b):
    """Same shape and values within the tolerance of a's dtype."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, *tolerances(a.dtype))


def all_same(xs, ys):
    return len(xs) == len(ys) and all(same_values(a, b) for a, b in zip(xs, ys))


# --------------------------------------------------------------------------- configurations
@st.composite
def conv_cases(draw, paddings=("int", "pair", "valid", "same", "full"), max_groups=3):
    """Strategy: (x, weight, bias, kwargs) for a valid conv2d call, float64."""
    groups = draw(st.integers(1, max_groups))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kind = draw(st.sampled_from(paddings))
    stride = (1, 1) if kind == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if kind == "int":
        padding = draw(st.integers(0, 2))
        pads = (padding, padding)
    elif kind == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = padding
    else:
        padding, pads = kind, (0, 0)     # "same"/"full" always fit
    min_h = max(1, dilation[0] * (kh - 1) + 1 - 2 * pads[0])
    min_w = max(1, dilation[1] * (kw - 1) + 1 - 2 * pads[1])
    h, w = draw(st.integers(min_h, min_h + 5)), draw(st.integers(min_w, min_w + 5))
    n = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in // groups, kh, kw))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


# --------------------------------------------------------------------------- by hand
def test_3x3_input_2x2_kernel_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)               # [[0 1 2] [3 4 5] [6 7 8]]
    assert conv2d(x, np.ones((1, 1, 2, 2)))[0, 0].tolist() == [[8, 12], [20, 24]]
    diag = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])        # x[i, j] - x[i+1, j+1]
    assert conv2d(x, diag)[0, 0].tolist() == [[-4, -4], [-4, -4]]


def test_stride_and_padding_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    diag = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    # padded 5x5, windows at rows/cols 0 and 2: xp[2y, 2x] - xp[2y+1, 2x+1]
    assert conv2d(x, diag, stride=2, padding=1)[0, 0].tolist() == [[0, -2], [-6, -4]]


def test_channels_are_summed_and_bias_added_by_hand():
    x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])[None]    # (1, 2, 3, 3)
    out = conv2d(x, np.ones((1, 2, 2, 2)), bias=np.array([0.5]))
    assert out.shape == (1, 1, 2, 2) and np.all(out == 4 * 1 + 4 * 2 + 0.5)


def test_groups_keep_channels_apart_by_hand():
    x = np.stack([np.ones((2, 2)), np.ones((2, 2))])[None]
    out = conv2d(x, np.array([3.0, 5.0]).reshape(2, 1, 1, 1), groups=2)
    assert out[0, 0].tolist() == [[3, 3], [3, 3]] and out[0, 1].tolist() == [[5, 5], [5, 5]]


def test_dilation_spreads_the_taps_by_hand():
    x = np.arange(5.0).reshape(1, 1, 1, 5)
    out = conv2d(x, np.ones((1, 1, 1, 2)), dilation=2)        # x[i] + x[i+2]
    assert out[0, 0, 0].tolist() == [2, 4, 6]


def test_backward_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), x, np.ones((1, 1, 2, 2)))
    assert dx[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]   # windows covering each pixel
    assert dw[0, 0].tolist() == [[8, 12], [20, 24]]                 # sum of each shifted 2x2 view
    assert db.tolist() == [4]


# --------------------------------------------------------------------------- padding modes
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("dilation", [1, 2])
def test_same_padding_keeps_size_for_odd_and_even_kernels(k, dilation, rng):
    x = rng.standard_normal((1, 2, 7, 6))
    out = conv2d(x, rng.standard_normal((3, 2, k, k)), padding="same", dilation=dilation)
    assert out.shape == (1, 3, 7, 6)


def test_same_padding_puts_the_extra_pixel_right_for_even_kernels():
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    w = np.array([1.0, 10.0]).reshape(1, 1, 1, 2)
    out = conv2d(x, w, padding="same")[0, 0, 0].tolist()
    extra_pixel_left = [10.0, 21.0, 32.0]
    assert out == [21.0, 32.0, 3.0] and out != extra_pixel_left


def test_full_padding_is_every_overlap_and_matches_correlate2d_full(rng):
    from lessonlib import correlate2d
    x, w = rng.standard_normal((1, 1, 4, 5)), rng.standard_normal((1, 1, 3, 2))
    out = conv2d(x, w, padding="full")
    assert out.shape == (1, 1, 6, 6)
    assert same_values(out[0, 0], correlate2d(x[0, 0], w[0, 0], "full"))
    assert same_values(conv2d(x, w, padding="valid"), conv2d(x, w, padding=0))


# --------------------------------------------------------------------------- loops vs fast
def agrees_with_loops(fast_fn, case):
    x, weight, bias, kw = case
    return same_values(fast_fn(x, weight, bias, **kw), conv2d_loops(x, weight, bias, **kw))


@given(conv_cases())
def test_fast_forward_equals_loops(case):
    assert agrees_with_loops(conv2d, case)


CONTROL_CONFIGS = [
    dict(stride=(2, 2), padding=0, dilation=(1, 1), groups=1),
    dict(stride=(1, 3), padding=(1, 2), dilation=(2, 1), groups=1),
    dict(stride=(3, 2), padding=1, dilation=(1, 1), groups=2),
    dict(stride=(2, 1), padding=2, dilation=(2, 2), groups=4),      # depthwise
]


@pytest.mark.parametrize("kw", CONTROL_CONFIGS)
def test_loops_comparison_rejects_flipped_kernel_and_ignored_stride(kw, rng):
    x = rng.standard_normal((2, 4, 9, 8))
    weight = rng.standard_normal((4, 4 // kw["groups"], 3, 2))
    case = (x, weight, None, kw)

    def flipped(x, w, b, **kw):
        return conv2d(x, w[..., ::-1, ::-1], b, **kw)

    def no_stride(x, w, b, **kw):
        return conv2d(x, w, b, **{**kw, "stride": 1})

    assert agrees_with_loops(conv2d, case)
    assert not agrees_with_loops(flipped, case)
    assert not agrees_with_loops(no_stride, case)


@given(conv_cases())
def test_fast_backward_equals_loops(case):
    x, weight, _, kw = case
    dout = np.random.default_rng(1).standard_normal(conv2d(x, weight, **kw).shape)
    assert all_same(conv2d_backward(dout, x, weight, **kw),
                    conv2d_backward_loops(dout, x, weight, **kw))


def test_backward_loops_comparison_rejects_a_wrong_gradient(rng):
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    dout = rng.standard_normal((2, 3, 3, 3))
    dx, dw, db = conv2d_backward(dout, x, w)
    loops = conv2d_backward_loops(dout, x, w)
    assert all_same((dx, dw, db), loops)
    assert not all_same((dx, dw[..., ::-1, ::-1], db), loops)       # flipped weight gradient
    assert not all_same((dx, dw, db * x.shape[0]), loops)           # bias grad scaled


# --------------------------------------------------------------------------- SciPy oracle
def scipy_conv2d(x, weight, bias, stride, padding, dilation, groups, flip=False):
    """conv2d from scipy.signal.correlate over (channels, H, W) blocks, 'valid' mode."""
    (sh, sw), (dh, dw) = stride, dilation
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    c_out, c_g, kh, kw = weight.shape
    dilated = np.zeros((c_out, c_g, dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    dilated[:, :, ::dh, ::dw] = weight[..., ::-1, ::-1] if flip else weight
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = []
    for n in range(x.shape[0]):
        maps = []
        for o in range(c_out):
            g = o // (c_out // groups)
            block = xp[n, g * c_g:(g + 1) * c_g]
            maps.append(scipy.signal.correlate(block, dilated[o], mode="valid")[0, ::sh, ::sw])
        out.append(maps)
    out = np.array(out)
    return out if bias is None else out + bias[:, None, None]


@given(conv_cases(paddings=("int", "pair")))
def test_forward_equals_scipy_correlate(case):
    x, weight, bias, kw = case
    assert same_values(conv2d(x, weight, bias, **kw), scipy_conv2d(x, weight, bias, **kw))


def test_scipy_comparison_rejects_true_convolution_and_ignored_stride(rng):
    x, w = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 3, 2))
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=1)
    ours = conv2d(x, w, **kw)
    assert same_values(ours, scipy_conv2d(x, w, None, **kw))
    assert not same_values(ours, scipy_conv2d(x, w, None, **kw, flip=True))
    assert not same_values(ours, scipy_conv2d(x, w, None, **{**kw, "stride": (1, 1)}))


# --------------------------------------------------------------------------- PyTorch
@pytest.fixture(scope="module")
def torch():
    """PyTorch on one thread (small tensors; several threads only contend on a busy machine)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def torch_conv2d(torch, x, weight, bias, stride, padding, dilation, groups, backward_of=None):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(bias if bias is not None else np.zeros(weight.shape[0]), requires_grad=True)
    if padding == "full":      # not a torch mode: d*(k-1) on every side
        padding = tuple(d * (k - 1) for k, d in zip(weight.shape[2:], dilation))
    with warnings.catch_warnings():   # torch notes that even "same" kernels need a padded copy
        warnings.filterwarnings("ignore", message="Using padding='same'")
        out = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    if backward_of is None:
        return out.detach().numpy()
    out.backward(torch.tensor(backward_of))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@given(case=conv_cases())
def test_forward_and_backward_equal_torch(torch, case):
    x, weight, bias, kw = case
    out = conv2d(x, weight, bias, **kw)
    assert same_values(out, torch_conv2d(torch, x, weight, bias, **kw))
    dout = np.random.default_rng(2).standard_normal(out.shape)
    assert all_same(conv2d_backward(dout, x, weight, **kw),
                    torch_conv2d(torch, x, weight, bias, **kw, backward_of=dout))


@pytest.mark.parametrize("padding", ["valid", "same", "full", 0, 2, (1, 2)])
def test_every_padding_mode_equals_torch(torch, padding, rng):
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 4, 3))
    b = rng.standard_normal(6)
    kw = dict(stride=1, padding=padding, dilation=(2, 1), groups=2)
    torch_kw = {**kw, "stride": (1, 1), "dilation": (2, 1)}
    assert same_values(conv2d(x, w, b, **kw), torch_conv2d(torch, x, w, b, **torch_kw))


def test_torch_comparison_rejects_flipped_kernel_and_left_heavy_same_padding(torch, rng):
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 2, 2))
    kw = dict(stride=(1, 1), padding="same", dilation=(1, 1), groups=1)
    reference = torch_conv2d(torch, x, w, None, **kw)
    assert same_values(conv2d(x, w, padding="same"), reference)
    assert not same_values(conv2d(x, w[..., ::-1, ::-1], padding="same"), reference)
    left_heavy = conv2d(np.pad(x, ((0, 0), (0, 0), (1, 0), (1, 0))), w)   # extra pixel top/left
    assert not same_values(left_heavy, reference)


def nan_and_values_agree(ours, theirs):
    return all(a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b))
               and np.allclose(a, b, equal_nan=True) for a, b in zip(ours, theirs))


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_inf_in_input_or_weight_spreads_like_torch(torch, rng, monkeypatch):
    """The fast path computes on full-width rows; the extra positions must not leak inf*0=nan."""
    x, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
    x[0, 1, 2, 5], w[1, 0, 0, 2] = np.inf, -np.inf
    kw = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    dout = rng.standard_normal((2, 3, 5, 6))
    expected = torch_conv2d(torch, x, w, None, **kw, backward_of=dout)[:2]
    assert nan_and_values_agree(conv2d_backward(dout, x, w, **kw)[:2], expected)
    # negative control: without zeroing the extra positions, nan leaks and the check fails
    import lessonlib.fast.im2col as fast
    monkeypatch.setattr(fast, "_zero_cropped", lambda arr, plan: None)
    assert not nan_and_values_agree(conv2d_backward(dout, x, w, **kw)[:2], expected)


# --------------------------------------------------------------------------- dtypes
def test_float32_in_float32_out_everywhere(rng):
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out = conv2d(x, w, b, stride=2, padding=1, groups=2)
    assert out.dtype == np.float32
    dout = np.ones_like(out)
    assert all(g.dtype == np.float32 for g in conv2d_backward(dout, x, w, 2, 1, groups=2))
    assert conv2d_loops(x, w, b, 2, 1, groups=2).dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv2d_backward_loops(dout, x, w, 2, 1, groups=2))
    dws = depthwise_separable_conv2d(x, w[:, :1], np.ones((3, 4, 1, 1), np.float32))
    assert dws.dtype == np.float32
    # float32 loses only float32-sized precision
    exact = conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 2, 1,
                   groups=2)
    assert np.allclose(out, exact, rtol=1e-4, atol=1e-4)


def test_mixed_or_integer_input_computes_in_float64(rng):
    x32 = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    assert conv2d(x32, np.ones((1, 1, 2, 2))).dtype == np.float64
    assert conv2d(x32, np.ones((1, 1, 2, 2), np.float32), bias=np.zeros(1)).dtype == np.float64
    assert conv2d(np.ones((1, 1, 3, 3), int), np.ones((1, 1, 2, 2), int)).dtype == np.float64


def test_inputs_are_not_modified_and_views_are_accepted(rng):
    big = rng.standard_normal((2, 3, 10, 12))
    x = big[:, :, ::2, 1::2]                                    # a strided view
    w = rng.standard_normal((2, 3, 3, 3)).transpose(0, 1, 3, 2)  # non-contiguous weight
    x_before, w_before = x.copy(), w.copy()
    out = conv2d(x, w, padding=1)
    conv2d_backward(np.ones_like(out), x, w, padding=1)
    assert np.array_equal(x, x_before) and np.array_equal(w, w_before)
    assert same_values(out, conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), padding=1))


# --------------------------------------------------------------------------- depthwise separable
def test_depthwise_separable_is_depthwise_then_pointwise(rng):
    x = rng.standard_normal((2, 3, 8, 7))
    dw, pw = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal((5, 3, 1, 1))
    db, pb = rng.standard_normal(3), rng.standard_normal(5)
    out = depthwise_separable_conv2d(x, dw, pw, db, pb, stride=2, padding=1)
    mid = conv2d_loops(x, dw, db, 2, 1, groups=3)
    assert same_values(out, conv2d_loops(mid, pw, pb))
    # negative control: the same comparison rejects a full (non-depthwise) first step
    full_first = conv2d_loops(conv2d_loops(x, np.repeat(dw, 3, axis=1), db, 2, 1), pw, pb)
    assert not same_values(out, full_first)


def test_depthwise_separable_equals_torch(torch, rng):
    x = rng.standard_normal((1, 4, 9, 9))
    dw, pw = rng.standard_normal((4, 1, 3, 3)), rng.standard_normal((6, 4, 1, 1))
    F = torch.nn.functional
    expected = F.conv2d(F.conv2d(torch.tensor(x), torch.tensor(dw), padding=2, dilation=2,
                                 groups=4), torch.tensor(pw)).numpy()
    assert same_values(depthwise_separable_conv2d(x, dw, pw, padding=2, dilation=2), expected)
