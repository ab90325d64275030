"""flatten, linear and linear_backward: hand values, gradients, PyTorch, errors."""

import numpy as np
import pytest

from lessonlib import flatten, gradcheck, linear, linear_backward
from lessonlib.gradcheck import GRADCHECK_TOL


def test_linear_by_hand():
    x = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    out = linear(x, w, np.array([0.5, -1.0]))
    assert out.tolist() == [[1.5, 4.0]]
    assert linear(x, w).tolist() == [[1.0, 5.0]]
    assert (x @ w.T).tolist() != out.tolist()  # negative control: the bias matters


def test_linear_backward_by_hand():
    x = np.array([[1.0, 2.0]])
    w = np.array([[3.0, 4.0]])
    dx, dw, db = linear_backward(np.array([[2.0]]), x, w)
    assert dx.tolist() == [[6.0, 8.0]] and dw.tolist() == [[2.0, 4.0]] and db.tolist() == [2.0]


def test_flatten_keeps_the_batch_and_c_order():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    out = flatten(x)
    assert out.shape == (2, 12)
    assert out[1].tolist() == list(range(12, 24))
    # negative control: flattening channels-last orders the features differently
    assert not np.array_equal(out, x.transpose(0, 2, 3, 1).reshape(2, -1))


def test_gradients_match_numerical_gradients():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    dx, dw, db = linear_backward(dout, x, w)
    assert gradcheck(lambda v: linear(v, w, b), x, dx, dout=dout) < GRADCHECK_TOL
    assert gradcheck(lambda v: linear(x, v, b), w, dw, dout=dout) < GRADCHECK_TOL
    assert gradcheck(lambda v: linear(x, w, v), b, db, dout=dout) < GRADCHECK_TOL
    # negative controls: a transposed product and a mean instead of a sum
    assert gradcheck(lambda v: linear(x, v, b), w, (x.T @ dout).T[::-1], dout=dout) > 0.1
    assert gradcheck(lambda v: linear(x, w, v), b, dout.mean(0), dout=dout) > 0.1


def test_float32_in_float32_out():
    x, w, b = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), np.ones(4, np.float32)
    assert linear(x, w, b).dtype == np.float32
    assert linear(x, w.astype(np.float64), b).dtype == np.float64
    assert flatten(np.ones((2, 1, 2, 2), np.float32)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in linear_backward(np.ones((2, 4), np.float32), x, w))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    dout = rng.standard_normal((6, 3))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.linear(xt, wt, bt)
    out.backward(torch.tensor(dout))
    np.testing.assert_allclose(linear(x, w, b), out.detach().numpy(), rtol=1e-12)
    for mine, theirs in zip(linear_backward(dout, x, w), (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(x @ w.T, out.detach().numpy())  # negative control: no bias


@pytest.mark.parametrize("call,exc,match", [
    (lambda: linear(np.zeros((2, 1, 2, 2)), np.zeros((3, 4))), ValueError,
     r"x must be a 2-D array.*flatten\(x\)"),
    (lambda: linear(np.zeros((2, 5)), np.zeros((3, 4))), ValueError,
     r"x has 5 features but weight expects in_features = 4"),
    (lambda: linear(np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(2)), ValueError,
     r"bias must have out_features = 3 entries"),
    (lambda: linear_backward(np.zeros((2, 2)), np.zeros((2, 4)), np.zeros((3, 4))), ValueError,
     r"dout must have the forward output's shape \(N, out_features\) = \(2, 3\)"),
    (lambda: flatten(np.zeros(3)), ValueError, r"x must have a batch axis.*x\[None\]"),
    (lambda: linear(np.zeros((2, 4)), "w"), TypeError, r"weight must hold real numbers"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
