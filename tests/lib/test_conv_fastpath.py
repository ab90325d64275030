"""The fast path's chunks of images: same numbers as one big product, bounded memory.

The fast path builds its im2col columns a few images at a time
(``lessonlib.fast.im2col.CHUNK_BYTES``). The property tests elsewhere use batches of
one or two small images, which always fit in one chunk; here the chunks
are made tiny so that every batch is split, and the results must equal
the plain loops.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lessonlib.fast.im2col as fast
from lessonlib import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from lessonlib._validation import tolerances
from lessonlib.loops.conv import conv2d_backward_loops, conv2d_loops, conv_transpose2d_loops


def same_values(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, *tolerances(a.dtype))


@pytest.fixture
def one_image_per_chunk(monkeypatch):
    monkeypatch.setattr(fast, "CHUNK_BYTES", 1)


@st.composite
def batches(draw):
    """(x, weight, dout-shaped rng, kwargs): 3 to 5 images, any stride, padding, groups."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = draw(st.integers(1, 3))
    stride, padding, dilation = draw(st.integers(1, 2)), draw(st.integers(0, 2)), draw(
        st.integers(1, 2))
    size = max(1, dilation * (k - 1) + 1 - 2 * padding) + draw(st.integers(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(3, 5)), c_in, size, size + 1))
    weight = rng.standard_normal((c_out, c_in // groups, k, k))
    return x, weight, rng, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def test_tiny_chunks_really_split_the_batch(one_image_per_chunk):
    assert fast._chunks(5, bytes_per_image=100) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    # ... and a real chunk size keeps a small batch whole
    assert fast._chunks(5, bytes_per_image=100) != [(0, 5)]


def test_default_chunks_group_images_up_to_the_budget():
    per_image = fast.CHUNK_BYTES // 3
    assert fast._chunks(7, per_image) == [(0, 3), (3, 6), (6, 7)]
    assert fast._chunks(2, 10 * fast.CHUNK_BYTES) == [(0, 1), (1, 2)]   # never empty


@given(batches())
def test_chunked_conv2d_forward_and_backward_equal_loops(case):
    x, weight, rng, kw = case
    bias = rng.standard_normal(weight.shape[0])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "CHUNK_BYTES", 1)
        out = conv2d(x, weight, bias, **kw)
        dout = rng.standard_normal(out.shape)
        grads = conv2d_backward(dout, x, weight, **kw)
    assert same_values(out, conv2d_loops(x, weight, bias, **kw))
    assert all(same_values(a, b) for a, b in zip(grads, conv2d_backward_loops(dout, x, weight,
                                                                              **kw)))


@given(batches())
def test_chunked_conv_transpose2d_equals_loops_and_its_gradient_is_conv2d(case):
    x, weight, rng, kw = case
    weight = rng.standard_normal((x.shape[1], 2) + weight.shape[2:])   # (C_in, C_out/G, k, k)
    k, (s, p, d) = weight.shape[-1], (kw["stride"], kw["padding"], kw["dilation"])
    if (min(x.shape[2:]) - 1) * s - 2 * p + d * (k - 1) + 1 < 1:      # padding crops it all
        kw["padding"] = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "CHUNK_BYTES", 1)
        out = conv_transpose2d(x, weight, **kw)
        dout = rng.standard_normal(out.shape)
        dx, dw, _ = conv_transpose2d_backward(dout, x, weight, **kw)
    assert same_values(out, conv_transpose2d_loops(x, weight, **kw))
    assert same_values(dx, conv2d(dout, weight, **kw))
    assert same_values(dw, conv_transpose2d_backward(dout, x, weight, **kw)[1])  # one chunk


def test_a_chunk_that_is_skipped_is_caught(rng, monkeypatch):
    """Negative control: the comparison above sees a chunking bug (the last image dropped)."""
    x, w = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    dout = rng.standard_normal((4, 3, 4, 4))
    expected = conv2d_backward_loops(dout, x, w)
    monkeypatch.setattr(fast, "CHUNK_BYTES", 1)
    real = fast._chunks
    monkeypatch.setattr(fast, "_chunks", lambda n, b: real(n, b)[:-1])
    got = conv2d_backward(dout, x, w)
    assert not same_values(got[0], expected[0]) and not same_values(got[1], expected[1])


def test_float32_chunks_stay_float32(rng, one_image_per_chunk):
    x = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    out = conv2d(x, w, np.ones(4, np.float32), padding=1)
    grads = conv2d_backward(np.ones_like(out), x, w, padding=1)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert same_values(grads[1], conv2d_backward_loops(np.ones_like(out), x, w, padding=1)[1])


def _peak_bytes(x, w):
    conv2d(x[:1], w, padding=1)                       # warm up outside the count
    tracemalloc.start()
    try:
        out = conv2d(x, w, padding=1)
        conv2d_backward(out, x, w, padding=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_like_the_input_not_like_im2col(rng, monkeypatch):
    """A few copies of x plus a few chunks, not the 9x of a full 3x3 im2col matrix."""
    x = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)     # 4 MB
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    bound = 6 * x.nbytes + 3 * fast.CHUNK_BYTES
    assert _peak_bytes(x, w) < bound
    # negative control: one chunk for the whole batch holds the full matrix and exceeds it
    monkeypatch.setattr(fast, "CHUNK_BYTES", 2**40)
    assert _peak_bytes(x, w) > bound


def test_an_empty_batch_has_empty_gradients_and_a_zero_bias_gradient():
    """No chunk at all: every result still has its shape and dtype."""
    x, w = np.zeros((0, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3), np.float32)
    out = conv2d(x, w, np.ones(4, np.float32), padding=1)
    dx, dw, db = conv2d_backward(out, x, w, padding=1)
    assert out.shape == (0, 4, 5, 5) and dx.shape == x.shape and dx.dtype == np.float32
    assert dw.shape == w.shape and not dw.any() and db.tolist() == [0.0] * 4
    up = conv_transpose2d(np.zeros((0, 3, 4, 4)), np.ones((3, 2, 3, 3)), stride=2)
    assert up.shape == (0, 2, 9, 9)
