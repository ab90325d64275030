"""Output-size arithmetic: hand-computed values, brute-force counts, error messages."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib import conv_output_size, conv_transpose_output_size


# --------------------------------------------------------------------------- oracles
def count_positions(n, k, s=1, p=0, d=1):
    """Brute force: how many kernel placements fit in the padded input."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, n + 2 * p, s) if start + span <= n + 2 * p)


def agrees_with_brute_force(size_fn):
    """True if ``size_fn`` gives the brute-force count on a grid of small cases."""
    for n in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, 3):
                    for d in range(1, 3):
                        if d * (k - 1) + 1 > n + 2 * p:
                            continue
                        if size_fn(n, k, s, p, d) != count_positions(n, k, s, p, d):
                            return False
    return True


def inverts_convolution(transpose_size_fn):
    """True if a transposed conv's output size maps back to its input size under conv."""
    for n in range(1, 8):
        for k in range(1, 5):
            for s in range(1, 4):
                for d in range(1, 3):
                    for p in range(0, 2):
                        for op in range(0, s):
                            if (n - 1) * s + d * (k - 1) + op + 1 - 2 * p < 1:
                                continue            # padding crops everything
                            m = transpose_size_fn(n, k, s, p, op, d)
                            if m < 1 or count_positions(m, k, s, p, d) != n:
                                return False
    return True


# --------------------------------------------------------------------------- hand values
@pytest.mark.parametrize("args, kwargs, expected", [
    ((5, 3), {}, 3),                                 # 5 - 3 + 1
    ((5, 3), {"padding": 1}, 5),                     # "same" for a 3x3 kernel
    ((7, 3), {"stride": 2}, 3),                      # floor(4 / 2) + 1
    ((6, 3), {"stride": 2, "padding": 1}, 3),        # floor(5 / 2) + 1
    ((8, 3), {"stride": 2}, 3),                      # floor(5 / 2) + 1: 8 not divisible by 2
    ((7, 3), {"dilation": 2}, 3),                    # the kernel spans 5 samples
    ((28, 5), {}, 24),                               # LeNet C1
    ((32, 3), {"padding": 1}, 32),
    ((4, 2), {"stride": 2}, 2),                      # 2x2 pooling
    ((5, 2), {"padding": (0, 1)}, 5),                # asymmetric "same" for an even kernel
])
def test_conv_output_size_hand_values(args, kwargs, expected):
    assert conv_output_size(*args, **kwargs) == expected


@pytest.mark.parametrize("args, kwargs, expected", [
    ((3, 3), {"stride": 2}, 7),                       # (3-1)*2 + 3
    ((3, 3), {"stride": 2, "padding": 1, "output_padding": 1}, 6),
    ((4, 4), {"stride": 2, "padding": 1}, 8),         # the DCGAN upsampling layer
    ((2, 2), {"stride": 2}, 4),
    ((3, 3), {"dilation": 2}, 7),                     # (3-1) + 2*2 + 1
    ((3, 3), {"output_padding": 1, "dilation": 2}, 8),  # output_padding < dilation is allowed
])
def test_conv_transpose_output_size_hand_values(args, kwargs, expected):
    assert conv_transpose_output_size(*args, **kwargs) == expected


def test_output_size_is_an_int_not_a_float():
    assert type(conv_output_size(6, 3, stride=2)) is int
    assert type(conv_transpose_output_size(3, 3, stride=2)) is int


# --------------------------------------------------------------------------- brute force + controls
def test_conv_output_size_matches_brute_force_count():
    assert agrees_with_brute_force(conv_output_size)


@pytest.mark.parametrize("wrong", [
    lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1,          # "/" instead of "//"
    lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,                       # dilation forgotten
    lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1,  # ceil
    lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,             # padding on one side
], ids=["true-division", "no-dilation", "ceil", "one-sided-padding"])
def test_brute_force_comparison_rejects_wrong_formulas(wrong):
    assert not agrees_with_brute_force(wrong)


@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5),
       p=st.integers(0, 4), d=st.integers(1, 4))
def test_conv_output_size_property(n, k, s, p, d):
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ValueError, match="more than the padded input"):
            conv_output_size(n, k, s, p, d)
    else:
        assert conv_output_size(n, k, s, p, d) == count_positions(n, k, s, p, d)


def test_transposed_size_inverts_convolution_for_every_output_padding():
    assert inverts_convolution(conv_transpose_output_size)


@pytest.mark.parametrize("wrong", [
    lambda n, k, s, p, op, d: (n - 1) * s + 2 * p + d * (k - 1) + op + 1,  # +2p
    lambda n, k, s, p, op, d: (n - 1) * s - 2 * p + (k - 1) + op + 1,      # dilation forgotten
    lambda n, k, s, p, op, d: n * s - 2 * p + d * (k - 1) + op + 1,        # n instead of n - 1
], ids=["plus-padding", "no-dilation", "n-not-n-minus-1"])
def test_inversion_check_rejects_wrong_transposed_formulas(wrong):
    assert not inverts_convolution(wrong)


@given(n=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4),
       p=st.integers(0, 3), d=st.integers(1, 3), data=st.data())
def test_transposed_size_property(n, k, s, p, d, data):
    op = data.draw(st.integers(0, max(s, d) - 1))
    full = (n - 1) * s + d * (k - 1) + op + 1
    if full - 2 * p < 1:
        with pytest.raises(ValueError, match="removes the whole output"):
            conv_transpose_output_size(n, k, s, p, op, d)
    else:
        assert conv_transpose_output_size(n, k, s, p, op, d) == full - 2 * p


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # tiny tensors: one thread avoids contention
    yield torch
    torch.set_num_threads(threads)


def test_sizes_agree_with_torch_shapes(torch):
    for n, k, s, p, d in [(7, 3, 2, 1, 1), (9, 4, 3, 0, 2), (5, 5, 1, 2, 1), (10, 2, 2, 0, 3)]:
        x = torch.zeros(1, 1, n, n)
        y = torch.nn.functional.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert y.shape[-1] == conv_output_size(n, k, s, p, d)
        for op in range(max(s, d)):
            z = torch.nn.functional.conv_transpose2d(
                x, torch.zeros(1, 1, k, k), stride=s, padding=p, output_padding=op, dilation=d)
            assert z.shape[-1] == conv_transpose_output_size(n, k, s, p, op, d)


# --------------------------------------------------------------------------- errors
def test_kernel_larger_than_input_names_numbers_and_suggests_padding():
    with pytest.raises(ValueError, match=r"kernel_size=5 spans 5 samples, more than the padded "
                                         r"input: n=3 \+ padding 0\+0 = 3.*"
                                         r"padding=1 is the smallest"):
        conv_output_size(3, 5)


def test_dilated_kernel_too_large_mentions_dilation():
    with pytest.raises(ValueError, match=r"kernel_size=3 with dilation=3 spans 7 samples"):
        conv_output_size(5, 3, dilation=3)


def test_asymmetric_padding_too_small_says_how_much_is_missing():
    with pytest.raises(ValueError, match=r"pad by at least 2 more in total"):
        conv_output_size(2, 5, padding=(1, 0))


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 5, "kernel_size": 0}, r"kernel_size must be >= 1, got 0"),
    ({"n": 5, "kernel_size": -2}, r"kernel_size must be >= 1, got -2"),
    ({"n": 5, "kernel_size": 3, "stride": 0}, r"stride must be >= 1, got 0"),
    ({"n": 5, "kernel_size": 3, "dilation": 0}, r"dilation must be >= 1, got 0"),
    ({"n": 0, "kernel_size": 1}, r"n must be >= 1, got 0"),
    ({"n": 5, "kernel_size": 3, "padding": -1}, r"padding must be >= 0 on every side, got -1"),
    ({"n": 5, "kernel_size": 3, "padding": (1, 2, 3)}, r"pair \(before, after\).*length 3"),
])
def test_conv_output_size_rejects_out_of_range_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 6.0, "kernel_size": 3}, r"n must be an integer, got 6\.0.*Use int\(\.\.\.\) or //"),
    ({"n": 6, "kernel_size": 3, "stride": 1.5}, r"stride must be an integer, got 1\.5"),
    ({"n": 6, "kernel_size": True}, r"kernel_size must be an integer, got True"),
    ({"n": 6, "kernel_size": 3, "padding": "same"}, r"padding must be an integer >= 0 or a pair"),
])
def test_conv_output_size_rejects_non_integers(kwargs, match):
    with pytest.raises(TypeError, match=match):
        conv_output_size(**kwargs)


def test_output_padding_must_be_smaller_than_stride_or_dilation():
    with pytest.raises(ValueError, match=r"output_padding must be smaller than stride or "
                                         r"dilation, got output_padding=2 with stride=2, "
                                         r"dilation=1.*use 0 to 1"):
        conv_transpose_output_size(3, 3, stride=2, output_padding=2)


def test_transposed_padding_that_removes_everything_is_refused():
    with pytest.raises(ValueError, match=r"padding=2 removes the whole output.*padding <= 1"):
        conv_transpose_output_size(1, 3, padding=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"stride": 0}, r"stride must be >= 1, got 0"),
    ({"kernel_size": 0}, r"kernel_size must be >= 1"),
    ({"output_padding": -1}, r"output_padding must be >= 0, got -1"),
    ({"padding": -1}, r"padding must be >= 0, got -1"),
])
def test_conv_transpose_output_size_rejects_out_of_range_values(kwargs, match):
    args = {"n": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        conv_transpose_output_size(**args)
