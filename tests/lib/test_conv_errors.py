"""Bad input to the convolution functions: every message names the parameter and a fix."""

import numpy as np
import pytest

from lessonlib import (conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward,
                       depthwise_separable_conv2d)

X = np.ones((2, 3, 5, 5))
W = np.ones((4, 3, 3, 3))
WT = np.ones((3, 2, 3, 3))          # conv_transpose2d weight: 3 -> 2 channels


CONV2D_VALUE_ERRORS = [
    (dict(x=np.ones((3, 5, 5))),
     r"x must be a 4-D array, got a 3-D array of shape \(3, 5, 5\)\. "
     r"Layout is \(N, C, H, W\): for one image use x\[None\]"),
    (dict(weight=np.ones((4, 3, 3))),
     r"weight must be a 4-D array, got a 3-D.*\(C_out, C_in // groups, kH, kW\)"),
    (dict(weight=np.ones((4, 2, 3, 3))),
     r"weight expects 2 input channels \(weight\.shape\[1\]=2 x groups=1\) but x has 3 channels"),
    (dict(weight=np.ones((4, 1, 3, 3)), groups=2),
     r"groups=2 must divide the 3 input channels of x\. Use a divisor of 3"),
    (dict(x=np.ones((2, 4, 5, 5)), weight=np.ones((3, 2, 3, 3)), groups=2),
     r"groups=2 must divide the 3 output channels"),
    (dict(groups=0), r"groups must be >= 1, got 0"),
    (dict(weight=np.ones((4, 3, 7, 3))),
     r"Along the height of x: kernel_size=7 spans 7 samples, more than the padded input: "
     r"n=5 \+ padding 0\+0 = 5.*padding=1"),
    (dict(dilation=(1, 3)), r"Along the width of x: kernel_size=3 with dilation=3 spans 7 samples"),
    (dict(weight=np.ones((4, 3, 9, 9)), padding=1),
     r"n=5 \+ padding 1\+1 = 7.*padding=2 is the smallest"),
    (dict(stride=0), r"stride must be a positive integer or a pair of them, got 0"),
    (dict(stride=(1, -1)), r"stride must be a positive integer or a pair of them, got \(1, -1\)"),
    (dict(dilation=0), r"dilation must be a positive integer or a pair of them, got 0"),
    (dict(padding=-1), r"padding must be >= 0 on every side, got -1. Padding cannot be negative"),
    (dict(padding="SAME"),
     r"padding must be an integer >= 0, a pair \(ph, pw\) or one of 'valid', 'same', 'full', got 'SAME'"),
    (dict(padding=(1, 1, 1, 1)),
     r"got the 4-tuple \(1, 1, 1, 1\).*call pad2d\(x, \(top, bottom, left, right\)\)"),
    (dict(padding="same", stride=2),
     r"padding='same' needs stride=1 \(as in PyTorch\), got stride=\(2, 2\)"),
    (dict(bias=np.ones(3)),
     r"bias must have shape \(4,\), one value per output channel, got shape \(3,\)"),
    (dict(bias=np.ones((4, 1))), r"bias must be a 1-D array, got a 2-D array of shape \(4, 1\)"),
    (dict(weight=np.ones((4, 3, 0, 3))), r"weight must not be empty, got shape \(4, 3, 0, 3\)"),
    (dict(x=np.ones((2, 0, 5, 5)), weight=np.ones((4, 0, 3, 3))),
     r"x must have at least one channel, row and column, got shape \(2, 0, 5, 5\)"),
]


@pytest.mark.parametrize("kwargs, match", CONV2D_VALUE_ERRORS)
def test_conv2d_value_errors(kwargs, match):
    args = {"x": X, "weight": W, **kwargs}
    with pytest.raises(ValueError, match=match):
        conv2d(**args)


CONV2D_TYPE_ERRORS = [
    (dict(x=X + 0j), r"x must hold real numbers, got dtype complex128.*np\.real"),
    (dict(x=np.full((1, 3, 2, 2), "a")), r"x must hold real numbers, got dtype <U1"),
    (dict(x=np.ones((1, 3, 5, 5), dtype=object)), r"x must hold real numbers, got dtype object"),
    (dict(weight=W.astype(np.complex64)), r"weight must hold real numbers, got dtype complex64"),
    (dict(bias=np.ones(4) * 1j), r"bias must hold real numbers, got dtype complex128"),
    (dict(groups=1.0), r"groups must be an integer, got 1\.0 of type float"),
    (dict(stride=1.5), r"stride must be a positive integer or a pair of them, got 1\.5"),
    (dict(padding=0.5), r"padding must be an integer >= 0, a pair \(ph, pw\) or one of .*, got 0\.5"),
    (dict(x=[[[[1.0, 2.0]]], [[[1.0]]]]), r"x must be an array of numbers, got list"),
]


@pytest.mark.parametrize("kwargs, match", CONV2D_TYPE_ERRORS)
def test_conv2d_type_errors(kwargs, match):
    args = {"x": X, "weight": W, **kwargs}
    with pytest.raises(TypeError, match=match):
        conv2d(**args)


def test_valid_inputs_next_to_the_bad_ones_are_accepted():
    """Negative control: the neighbours of every bad case above go through."""
    assert conv2d(X, W).shape == (2, 4, 3, 3)
    assert conv2d(X, np.ones((3, 1, 3, 3)), groups=3).shape == (2, 3, 3, 3)
    assert conv2d(X, np.ones((4, 3, 5, 5))).shape == (2, 4, 1, 1)
    assert conv2d(X, W, dilation=(1, 2)).shape == (2, 4, 3, 1)
    assert conv2d(X, np.ones((4, 3, 7, 7)), padding=1).shape == (2, 4, 1, 1)
    assert conv2d(X, W, padding="same", stride=1, bias=np.ones(4)).shape == (2, 4, 5, 5)
    assert conv2d(X, W, padding=(0, 1), stride=(1, 2)).shape == (2, 4, 3, 3)
    assert conv2d(X.astype(bool), W).dtype == np.float64
    assert conv2d(np.ones((0, 3, 5, 5)), W).shape == (0, 4, 3, 3)     # an empty batch is fine


def test_conv2d_backward_checks_dout_against_the_forward_shape():
    with pytest.raises(ValueError, match=r"dout must have the shape of conv2d's output for "
                                         r"these arguments, \(2, 4, 3, 3\), got \(2, 4, 4, 4\)"):
        conv2d_backward(np.ones((2, 4, 4, 4)), X, W)
    with pytest.raises(ValueError, match=r"dout must be a 4-D array, got a 3-D"):
        conv2d_backward(np.ones((4, 3, 3)), X, W)
    with pytest.raises(TypeError, match=r"dout must hold real numbers"):
        conv2d_backward(np.ones((2, 4, 3, 3), complex), X, W)
    with pytest.raises(ValueError, match=r"groups=2 must divide the 3 input channels"):
        conv2d_backward(np.ones((2, 4, 3, 3)), X, np.ones((4, 1, 3, 3)), groups=2)
    dx, dw, db = conv2d_backward(np.ones((2, 4, 3, 3)), X, W)        # the right shape passes
    assert dx.shape == X.shape and dw.shape == W.shape and db.shape == (4,)


TRANSPOSE_ERRORS = [
    (dict(weight=np.ones((4, 3, 3, 3))), ValueError,
     r"weight\.shape\[0\]=4 must equal the 3 input channels of x \(x\.shape\[1\]\)\. A "
     r"transposed convolution's weight is \(C_in, C_out // groups, kH, kW\)"),
    (dict(groups=2), ValueError, r"groups=2 must divide the 3 input channels of x"),
    (dict(stride=2, output_padding=2), ValueError,
     r"Along the height of x: output_padding must be smaller than stride or dilation, got "
     r"output_padding=2 with stride=2, dilation=1"),
    (dict(output_padding=(0, 1)), ValueError,
     r"Along the width of x: output_padding must be smaller"),
    (dict(padding="same"), ValueError,
     r"conv_transpose2d takes padding as an int or a pair \(ph, pw\), got 'same'"),
    (dict(x=np.ones((1, 3, 1, 1)), weight=np.ones((3, 2, 1, 1)), padding=1), ValueError,
     r"Along the height of x: padding=1 removes the whole output"),
    (dict(bias=np.ones(3)), ValueError,
     r"bias must have shape \(2,\), one value per output channel"),
    (dict(x=np.ones((5, 5))), ValueError,
     r"x must be a 4-D array, got a 2-D array of shape \(5, 5\)"),
    (dict(weight=np.ones((3, 2, 3))), ValueError,
     r"weight must be a 4-D.*\(C_in, C_out // groups, kH, kW\)"),
    (dict(stride=0), ValueError, r"stride must be a positive integer"),
    (dict(dilation=-1), ValueError, r"dilation must be a positive integer"),
    (dict(output_padding=-1), ValueError, r"output_padding must be a.* integer >= 0"),
    (dict(weight=np.ones((3, 0, 3, 3))), ValueError, r"weight must not be empty"),
    (dict(x=X.astype(complex)), TypeError, r"x must hold real numbers, got dtype complex128"),
    (dict(groups=1.5), TypeError, r"groups must be an integer, got 1\.5"),
]


@pytest.mark.parametrize("kwargs, err, match", TRANSPOSE_ERRORS)
def test_conv_transpose2d_errors(kwargs, err, match):
    args = {"x": X, "weight": WT, **kwargs}
    with pytest.raises(err, match=match):
        conv_transpose2d(**args)


def test_conv_transpose2d_accepts_the_neighbours_of_bad_input():
    assert conv_transpose2d(X, WT).shape == (2, 2, 7, 7)
    assert conv_transpose2d(X, WT, stride=2, output_padding=1).shape == (2, 2, 12, 12)
    assert conv_transpose2d(X, WT, output_padding=1, dilation=2).shape == (2, 2, 10, 10)
    out = conv_transpose2d(X, np.ones((3, 1, 3, 3)), groups=3, bias=np.ones(3))
    assert out.shape == (2, 3, 7, 7)


def test_conv_transpose2d_backward_checks_dout():
    with pytest.raises(ValueError, match=r"dout must have the shape of conv_transpose2d's "
                                         r"output for these arguments, \(2, 2, 7, 7\), "
                                         r"got \(2, 2, 5, 5\)"):
        conv_transpose2d_backward(np.ones((2, 2, 5, 5)), X, WT)
    grads = conv_transpose2d_backward(np.ones((2, 2, 7, 7)), X, WT)
    assert [g.shape for g in grads] == [X.shape, WT.shape, (2,)]


@pytest.mark.parametrize("dw, pw, match", [
    (np.ones((3, 3, 3, 3)), np.ones((5, 3, 1, 1)),
     r"depthwise_weight must have shape \(3, 1, kH, kW\): one filter per input channel of x, "
     r"got \(3, 3, 3, 3\)"),
    (np.ones((2, 1, 3, 3)), np.ones((5, 2, 1, 1)),
     r"depthwise_weight must have shape \(3, 1, kH, kW\)"),
    (np.ones((3, 1, 3, 3)), np.ones((5, 3, 3, 3)),
     r"pointwise_weight must have shape \(C_out, 3, 1, 1\): a 1x1 convolution over the 3 "
     r"depthwise channels, got \(5, 3, 3, 3\)"),
    (np.ones((3, 3, 3)), np.ones((5, 3, 1, 1)),
     r"depthwise_weight must be a 4-D array.*\(C_in, 1, kH, kW\)"),
    (np.ones((3, 1, 3, 3)), np.ones((5, 3)),
     r"pointwise_weight must be a 4-D array.*\(C_out, C_in, 1, 1\)"),
])
def test_depthwise_separable_errors(dw, pw, match):
    with pytest.raises(ValueError, match=match):
        depthwise_separable_conv2d(X, dw, pw)


def test_depthwise_separable_accepts_a_channel_multiplier():
    out = depthwise_separable_conv2d(X, np.ones((6, 1, 3, 3)), np.ones((4, 6, 1, 1)), padding=1)
    assert out.shape == (2, 4, 5, 5)
