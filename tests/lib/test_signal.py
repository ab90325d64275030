"""Padding and 1-D / 2-D convolution vs cross-correlation, against NumPy and SciPy."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from lessonlib import convolve1d, convolve2d, correlate1d, correlate2d, pad2d
from lessonlib._validation import tolerances

MODES = ["full", "same", "valid"]


def same_values(a, b):
    """The comparison used by every oracle test below: same shape, close values."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, *tolerances(a.dtype))


@st.composite
def signals(draw, min_len=1, max_len=12):
    """Strategy: a signal x and a kernel k, float64, of independent lengths."""
    n, m = draw(st.integers(min_len, max_len)), draw(st.integers(min_len, max_len))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(n), rng.standard_normal(m)


# --------------------------------------------------------------------------- pad2d
def test_pad2d_int_pads_every_side():
    out = pad2d(np.ones((2, 3)), 1)
    assert out.shape == (4, 5)
    assert out.sum() == 6 and out[0].sum() == 0 and out[:, 0].sum() == 0


def test_pad2d_pair_pads_height_then_width():
    assert pad2d(np.ones((1, 2)), (1, 0)).tolist() == [[0, 0], [1, 1], [0, 0]]
    assert pad2d(np.ones((1, 1)), (0, 2)).tolist() == [[0, 0, 1, 0, 0]]


def test_pad2d_four_sides_in_order_top_bottom_left_right():
    out = pad2d(np.full((1, 1), 5.0), (1, 2, 3, 4), value=-1)
    assert out.shape == (4, 8)
    assert out[1, 3] == 5 and (out == -1).sum() == 31


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (2, 1, 3, 4)])
@pytest.mark.parametrize("padding", [2, (1, 3), (0, 1, 2, 3)])
def test_pad2d_matches_np_pad_on_last_two_axes(shape, padding, rng):
    x = rng.standard_normal(shape)
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else (
        (padding[0], padding[0], padding[1], padding[1]) if len(padding) == 2 else padding)
    lead = [(0, 0)] * (x.ndim - 2)
    expected = np.pad(x, lead + [(top, bottom), (left, right)], constant_values=0.5)
    assert same_values(pad2d(x, padding, value=0.5), expected)
    # negative control: top/bottom swapped is rejected by the same comparison
    swapped = np.pad(x, lead + [(bottom + 1, top), (left, right)], constant_values=0.5)
    assert not same_values(pad2d(x, padding, value=0.5), swapped)


def test_pad2d_keeps_float32_and_turns_ints_into_float64():
    assert pad2d(np.ones((2, 2), np.float32), 1).dtype == np.float32
    assert pad2d(np.ones((2, 2), int), 1).dtype == np.float64


def test_pad2d_with_minus_infinity_is_what_max_pooling_needs():
    out = pad2d(np.zeros((1, 1, 1, 1)), 1, value=-np.inf)
    assert np.isneginf(out).sum() == 8 and out[0, 0, 1, 1] == 0


@pytest.mark.parametrize("x, padding, err, match", [
    (np.ones(3), 1, ValueError, r"x must be a 2-D or 3-D or 4-D array, got a 1-D.*last two axes"),
    (np.ones((1,) * 5), 1, ValueError, r"got a 5-D array"),
    (np.ones((2, 2)), -1, ValueError, r"padding must be >= 0 on every side, got -1"),
    (np.ones((2, 2)), (1, 2, 3), ValueError, r"4-tuple \(top, bottom, left, right\).*length 3"),
    (np.ones((2, 2)), 1.5, TypeError, r"padding must be an int.*got 1\.5"),
    (np.ones((2, 2)) + 0j, 1, TypeError, r"x must hold real numbers, got dtype complex128"),
])
def test_pad2d_errors(x, padding, err, match):
    with pytest.raises(err, match=match):
        pad2d(x, padding)


def test_pad2d_value_must_be_a_number():
    with pytest.raises(TypeError, match=r"value must be a real number, got 'zero'"):
        pad2d(np.ones((2, 2)), 1, value="zero")


# --------------------------------------------------------------------------- 1-D
def test_correlate_and_convolve_by_hand():
    x, k = [1, 2, 3, 4], [1, -1]
    assert correlate1d(x, k, "valid").tolist() == [-1, -1, -1]      # x[i] - x[i+1]
    assert convolve1d(x, k, "valid").tolist() == [1, 1, 1]          # x[i+1] - x[i]
    assert correlate1d(x, k, "full").tolist() == [-1, -1, -1, -1, 4]
    assert convolve1d([1, 2, 3], [0, 1, 0.5]).tolist() == [0, 1, 2.5, 4, 1.5]


def test_same_mode_with_an_even_kernel_puts_the_extra_zero_first():
    # numpy's centring: out[i] = x[i-1]*k[0] + x[i]*k[1]
    assert correlate1d([1, 2, 3], [1, 10], "same").tolist() == [10, 21, 32]
    assert np.correlate([1, 2, 3], [1, 10], "same").tolist() == [10, 21, 32]


@given(signals(), st.sampled_from(MODES))
def test_convolve1d_equals_np_convolve(xk, mode):
    x, k = xk
    assert same_values(convolve1d(x, k, mode), np.convolve(x, k, mode))


@given(signals(), st.sampled_from(MODES))
def test_correlate1d_is_convolution_with_the_reversed_kernel(xk, mode):
    x, k = xk
    assert same_values(correlate1d(x, k, mode), np.convolve(x, k[::-1], mode))
    assert same_values(correlate1d(x, k, mode), convolve1d(x, k[::-1], mode))


@given(signals(), st.sampled_from(MODES))
def test_correlate1d_equals_np_correlate_except_documented_case(xk, mode):
    x, k = xk
    documented_exception = mode == "same" and len(k) > len(x) and len(x) % 2 == 0
    assert same_values(correlate1d(x, k, mode), np.correlate(x, k, mode)) != documented_exception


@given(signals(min_len=2), st.sampled_from(MODES))
def test_comparison_rejects_a_flipped_kernel(xk, mode):
    """Negative control: true convolution (flipped kernel) is not what np.correlate computes."""
    x, k = xk
    def flipped(x, k, mode):
        return convolve1d(x, k, mode)
    assert not same_values(flipped(x, k, mode), np.correlate(x, k, mode))


def test_comparison_rejects_same_mode_centred_one_sample_off(rng):
    """Negative control: numpy's 'same' window, shifted by one, is not numpy's 'same'."""
    x, k = rng.standard_normal(7), rng.standard_normal(4)
    full = np.convolve(x, k, "full")
    off_by_one = full[k.size // 2: k.size // 2 + x.size]    # start K//2 instead of (K-1)//2
    assert same_values(convolve1d(x, k, "same"), full[(k.size - 1) // 2:][:x.size])
    assert not same_values(convolve1d(x, k, "same"), off_by_one)


def test_1d_keeps_float32_and_upcasts_mixed_input():
    x32, k32 = np.ones(5, np.float32), np.ones(2, np.float32)
    for fn in (convolve1d, correlate1d):
        for mode in MODES:
            assert fn(x32, k32, mode).dtype == np.float32
        assert fn(x32, k32.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("args, err, match", [
    ((np.ones((2, 2)), [1.0]), ValueError, r"x must be a 1-D array, got a 2-D array of shape"),
    (([], [1.0]), ValueError, r"x must not be empty"),
    (([1.0], []), ValueError, r"k must not be empty"),
    (([1.0, 2.0], [1.0], "middle"), ValueError,
     r"mode must be one of 'full', 'same', 'valid', got 'middle'"),
    ((["a", "b"], [1.0]), TypeError, r"x must hold real numbers, got dtype <U1"),
    (([1.0], [1j]), TypeError, r"k must hold real numbers, got dtype complex128"),
    (([1.0], np.array([None], dtype=object)), TypeError,
     r"k must hold real numbers, got dtype object"),
])
@pytest.mark.parametrize("fn", [convolve1d, correlate1d])
def test_1d_errors(fn, args, err, match):
    with pytest.raises(err, match=match):
        fn(*args)


# --------------------------------------------------------------------------- 2-D
def test_correlate2d_by_hand_3x3_with_2x2():
    image = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    kernel = [[1, 0], [0, -1]]                              # x[i, j] - x[i+1, j+1]
    assert correlate2d(image, kernel).tolist() == [[-4, -4], [-4, -4]]
    assert convolve2d(image, kernel).tolist() == [[4, 4], [4, 4]]
    assert correlate2d(image, [[1, 1], [1, 1]]).tolist() == [[12, 16], [24, 28]]


@pytest.mark.parametrize("fn", ["correlate2d", "convolve2d"])
@given(h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 5), kw=st.integers(1, 5),
       mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_2d_equals_scipy(fn, h, w, kh, kw, mode, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    ours, theirs = getattr(__import__("lessonlib"), fn), getattr(scipy.signal, fn)
    if mode == "valid" and (kh > h or kw > w):
        with pytest.raises(ValueError, match="larger than image"):
            ours(image, kernel, mode)
        return
    assert same_values(ours(image, kernel, mode), theirs(image, kernel, mode))


@pytest.mark.parametrize("mode", MODES)
def test_2d_comparison_rejects_flipped_and_shifted_kernels(mode, rng):
    """Negative controls: convolution is not correlation; 'same' off by one pixel is wrong."""
    image, kernel = rng.standard_normal((6, 5)), rng.standard_normal((2, 3))
    reference = scipy.signal.correlate2d(image, kernel, mode)
    assert same_values(correlate2d(image, kernel, mode), reference)
    assert not same_values(convolve2d(image, kernel, mode), reference)
    if mode == "same":   # scipy's correlate2d centres like PyTorch: not like convolve2d(flip)
        assert not same_values(convolve2d(image, kernel[::-1, ::-1], mode), reference)


def test_correlate2d_same_pads_like_torch_for_even_kernels():
    image = np.array([[1.0, 2.0, 3.0]])
    assert correlate2d(image, [[1.0, 10.0]], "same").tolist() == [[21.0, 32.0, 3.0]]


def test_2d_keeps_float32():
    image, kernel = np.ones((4, 4), np.float32), np.ones((2, 2), np.float32)
    for fn in (correlate2d, convolve2d):
        for mode in MODES:
            assert fn(image, kernel, mode).dtype == np.float32
        assert fn(image, kernel.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("args, err, match", [
    ((np.ones((1, 3, 3)), np.ones((2, 2))), ValueError,
     r"image must be a 2-D array, got a 3-D array.*use conv2d for \(N, C, H, W\)"),
    ((np.ones((3, 3)), np.ones(2)), ValueError, r"kernel must be a 2-D array, got a 1-D"),
    ((np.ones((2, 2)), np.ones((3, 1))), ValueError,
     r"kernel of shape \(3, 1\) is larger than image of shape \(2, 2\).*mode='same' or 'full'"),
    ((np.ones((2, 2)), np.ones((1, 1)), "circular"), ValueError, r"mode must be one of"),
    ((np.ones((0, 2)), np.ones((1, 1))), ValueError, r"must not be empty"),
    ((np.ones((2, 2), complex), np.ones((1, 1))), TypeError, r"image must hold real numbers"),
])
@pytest.mark.parametrize("fn", [correlate2d, convolve2d])
def test_2d_errors(fn, args, err, match):
    with pytest.raises(err, match=match):
        fn(*args)
