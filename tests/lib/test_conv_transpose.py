"""conv_transpose2d: by hand, against plain loops, the adjoint identity and PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib import conv2d, conv_transpose2d, conv_transpose2d_backward
from lessonlib._validation import tolerances
from lessonlib.loops.conv import conv_transpose2d_loops


def same_values(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, *tolerances(a.dtype))


@st.composite
def transpose_cases(draw, max_groups=3):
    """Strategy: (x, weight, bias, kwargs) for a valid conv_transpose2d call, float64."""
    groups = draw(st.integers(1, max_groups))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    # padding may crop at most the whole output but one pixel
    full = [(n - 1) * s + d * (k - 1) + op + 1
            for n, s, d, k, op in zip((h, w), stride, dilation, (kh, kw), output_padding)]
    padding = tuple(draw(st.integers(0, min(2, (f - 1) // 2))) for f in full)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(1, 2)), c_in, h, w))
    weight = rng.standard_normal((c_in, c_out // groups, kh, kw))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=stride, padding=padding, output_padding=output_padding,
                                 groups=groups, dilation=dilation)


# --------------------------------------------------------------------------- by hand
def test_each_pixel_stamps_the_kernel_by_hand():
    out = conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    assert out[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]       # overlaps add
    strided = conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)
    assert strided[0, 0].tolist() == [[1] * 4] * 4                        # stamps just touch


def test_padding_crops_and_output_padding_extends_by_hand():
    x = np.array([1.0, 2.0]).reshape(1, 1, 1, 2)
    w = np.ones((1, 1, 1, 3))
    # full output: [1, 1, 1+2, 2, 2]
    assert conv_transpose2d(x, w, stride=2)[0, 0, 0].tolist() == [1, 1, 3, 2, 2]
    assert conv_transpose2d(x, w, stride=2, padding=(0, 1))[0, 0, 0].tolist() == [1, 3, 2]
    assert conv_transpose2d(x, w, stride=2, padding=(0, 1),
                            output_padding=(0, 1))[0, 0, 0].tolist() == [1, 3, 2, 2]


def test_channels_groups_and_bias_by_hand():
    x = np.stack([np.ones((1, 1)), 2 * np.ones((1, 1))])[None]      # (1, 2, 1, 1)
    w = np.array([10.0, 100.0]).reshape(2, 1, 1, 1)
    assert conv_transpose2d(x, w, groups=2).ravel().tolist() == [10, 200]
    w_mix = np.ones((2, 3, 1, 1))                                    # 2 -> 3 channels, summed
    out = conv_transpose2d(x, w_mix, bias=np.array([0.0, 1.0, 2.0]))
    assert out.ravel().tolist() == [3, 4, 5]


def test_backward_by_hand():
    dx, dw, db = conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
                                           np.ones((1, 1, 2, 2)))
    assert dx[0, 0].tolist() == [[4, 4], [4, 4]]      # each input pixel reached 4 outputs
    assert dw[0, 0].tolist() == [[4, 4], [4, 4]]
    assert db.tolist() == [9]


# --------------------------------------------------------------------------- loops vs fast
@given(transpose_cases())
def test_fast_equals_loops(case):
    x, weight, bias, kw = case
    assert same_values(conv_transpose2d(x, weight, bias, **kw),
                       conv_transpose2d_loops(x, weight, bias, **kw))


@pytest.mark.parametrize("kw", [
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=1, dilation=(1, 1)),
    dict(stride=(2, 2), padding=1, output_padding=0, groups=2, dilation=(2, 1)),
])
def test_loops_comparison_rejects_flipped_kernel_and_ignored_stride(kw, rng):
    x, weight = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((4, 3, 3, 2))
    reference = conv_transpose2d_loops(x, weight, **kw)
    assert same_values(conv_transpose2d(x, weight, **kw), reference)
    assert not same_values(conv_transpose2d(x, weight[..., ::-1, ::-1], **kw), reference)
    assert not same_values(conv_transpose2d(x, weight, **{**kw, "stride": 1,
                                                           "output_padding": 0}), reference)


# --------------------------------------------------------------------------- adjoint identity
@st.composite
def adjoint_cases(draw):
    """u (conv2d input), w, v (conv2d output) and matching hyper-parameters."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    hw = tuple(draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 9))
               for ki, di, pi in zip(k, d, p))
    # the output_padding that makes conv_transpose2d return u's size exactly
    op = tuple((n + 2 * pi - di * (ki - 1) - 1) % si for n, ki, si, pi, di in zip(hw, k, s, p, d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = rng.standard_normal((draw(st.integers(1, 2)), c_in) + hw)
    w = rng.standard_normal((c_out, c_in // groups) + k)
    conv_kw = dict(stride=s, padding=p, dilation=d, groups=groups)
    v = rng.standard_normal(conv2d(u, w, **conv_kw).shape)
    return u, w, v, conv_kw, op


def adjoint_gap(conv_fn, transpose_fn, case):
    """|<conv(u), v> - <u, conv_transpose(v)>| relative to the sizes involved."""
    u, w, v, kw, op = case
    left = np.vdot(conv_fn(u, w, **kw), v)
    right = np.vdot(u, transpose_fn(v, w, output_padding=op, **kw))
    return abs(left - right) / (1.0 + abs(left) + abs(right))


@given(adjoint_cases())
def test_conv_transpose_is_the_adjoint_of_conv(case):
    assert adjoint_gap(conv2d, conv_transpose2d, case) < 1e-12


@pytest.mark.parametrize("kw", [
    dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
    dict(stride=(2, 3), padding=(1, 2), dilation=(1, 1), groups=2),
    dict(stride=(2, 1), padding=(2, 1), dilation=(2, 2), groups=1),
])
def test_adjoint_identity_rejects_wrong_transposed_convolutions(kw, rng):
    """Negative controls: a flipped kernel, an ignored dilation, a 1 % scale all fail."""
    u, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 4 // kw["groups"], 3, 2))
    v = rng.standard_normal(conv2d(u, w, **kw).shape)
    op = tuple((n + 2 * p - d * (k - 1) - 1) % s for n, k, s, p, d in
               zip(u.shape[2:], w.shape[2:], kw["stride"], kw["padding"], kw["dilation"]))
    case = (u, w, v, kw, op)

    def flipped(v, w, **kw):
        return conv_transpose2d(v, w[..., ::-1, ::-1], **kw)

    def rescaled(v, w, **kw):
        return 1.01 * conv_transpose2d(v, w, **kw)

    def no_dilation(v, w, dilation, output_padding, **kw):
        out = conv_transpose2d(v, w, dilation=1, **kw)
        return np.pad(out, [(0, 0)] * 2 + [(0, n - m) for n, m in zip(u.shape[2:], out.shape[2:])])

    assert adjoint_gap(conv2d, conv_transpose2d, case) < 1e-12
    assert adjoint_gap(conv2d, flipped, case) > 1e-6
    assert adjoint_gap(conv2d, rescaled, case) > 1e-6
    if kw["dilation"] != (1, 1):
        assert adjoint_gap(conv2d, no_dilation, case) > 1e-6


# --------------------------------------------------------------------------- PyTorch
@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def torch_transpose(torch, x, weight, bias, dout=None, **kw):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(np.zeros(weight.shape[1] * kw["groups"]) if bias is None else bias,
                      requires_grad=True)
    out = torch.nn.functional.conv_transpose2d(xt, wt, bt, **kw)
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@given(case=transpose_cases())
def test_forward_and_backward_equal_torch(torch, case):
    x, weight, bias, kw = case
    out = conv_transpose2d(x, weight, bias, **kw)
    assert same_values(out, torch_transpose(torch, x, weight, bias, **kw))
    dout = np.random.default_rng(3).standard_normal(out.shape)
    ours = conv_transpose2d_backward(dout, x, weight, **kw)
    theirs = torch_transpose(torch, x, weight, bias, dout=dout, **kw)
    assert all(same_values(a, b) for a, b in zip(ours, theirs))


def test_torch_comparison_rejects_wrong_output_padding_side_and_flip(torch, rng):
    x, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3))
    kw = dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1)
    reference = torch_transpose(torch, x, w, None, **kw)
    assert same_values(conv_transpose2d(x, w, **kw), reference)
    assert not same_values(conv_transpose2d(x, w[..., ::-1, ::-1], **kw), reference)
    # output_padding added at the top/left instead of bottom/right
    full = conv_transpose2d(x, w, stride=2)
    top_left = full[:, :, 0:6, 0:6]
    assert not same_values(top_left, reference)


# --------------------------------------------------------------------------- dtypes
def test_float32_in_float32_out(rng):
    x = rng.standard_normal((2, 4, 3, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = np.ones(6, np.float32)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    out = conv_transpose2d(x, w, b, **kw)
    assert out.dtype == np.float32
    assert conv_transpose2d_loops(x, w, b, **kw).dtype == np.float32
    grads = conv_transpose2d_backward(np.ones_like(out), x, w, **kw)
    assert all(g.dtype == np.float32 for g in grads)
    assert conv_transpose2d(x, w.astype(np.float64), **kw).dtype == np.float64
    exact = conv_transpose2d(x.astype(float), w.astype(float), b.astype(float), **kw)
    assert np.allclose(out, exact, rtol=1e-4, atol=1e-4)
