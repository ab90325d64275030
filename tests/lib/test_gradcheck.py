"""The gradient checker itself: it must accept right gradients and reject wrong ones."""

import numpy as np
import pytest

from lessonlib import gradcheck, numerical_gradient, relative_error
from lessonlib.gradcheck import GRADCHECK_TOL


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)


def test_numerical_gradient_with_dout_weights_array_outputs():
    x = np.array([1.0, 2.0, 3.0])
    dout = np.array([1.0, -1.0, 2.0])
    g = numerical_gradient(lambda v: np.sin(v), x, dout=dout)
    np.testing.assert_allclose(g, np.cos(x) * dout, rtol=1e-8)


def test_gradcheck_accepts_the_right_gradient_and_rejects_wrong_ones():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    f = lambda v: np.sum(np.tanh(v) * v)  # noqa: E731
    right = np.tanh(x) + x * (1 - np.tanh(x) ** 2)
    assert gradcheck(f, x, right) < GRADCHECK_TOL
    assert gradcheck(f, x, np.tanh(x)) > 1e-2          # forgot the product rule
    assert gradcheck(f, x, right.T.reshape(x.shape)) > 1e-2   # right values, wrong places
    assert gradcheck(f, x, right * 1.001) > GRADCHECK_TOL    # 0.1 % off is still caught


def test_input_is_not_modified_and_float32_is_checked_in_float64():
    x = np.array([1.0, 2.0], dtype=np.float32)
    before = x.copy()
    seen = []
    g = numerical_gradient(lambda v: (seen.append(v.dtype), np.sum(v ** 2))[1], x)
    assert seen[0] == np.float64 and g.dtype == np.float64
    np.testing.assert_array_equal(x, before)


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    assert relative_error(np.array([np.nan]), np.array([1.0])) == float("inf")
    # a zero entry off by rounding noise does not blow the error up
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 1e-12])) < 1e-11


@pytest.mark.parametrize("call,exc,match", [
    (lambda: numerical_gradient(lambda v: v * 2, np.ones(3)), ValueError,
     r"f must return a scalar, got an array of shape \(3,\).*pass dout="),
    (lambda: numerical_gradient(lambda v: v, np.ones(3), dout=np.ones(2)), ValueError,
     r"dout must have the shape of f\(x\), \(3,\), got \(2,\)"),
    (lambda: numerical_gradient(lambda v: v.sum(), np.ones(3), eps=0), ValueError,
     r"eps must be a small positive number"),
    (lambda: numerical_gradient("f", np.ones(3)), TypeError, r"f must be a function of x"),
    (lambda: gradcheck(lambda v: v.sum(), np.ones(3), np.ones(2)), ValueError,
     r"grad must have the shape of x \(3,\), got \(2,\)"),
    (lambda: relative_error(np.ones(2), np.ones(3)), ValueError,
     r"a and b must have the same shape"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
