"""Cross-entropy: hand values, overflow safety, gradients, PyTorch, errors."""

import numpy as np
import pytest

from lessonlib import cross_entropy, cross_entropy_backward, gradcheck, softmax
from lessonlib.gradcheck import GRADCHECK_TOL


def naive_cross_entropy(logits, targets):
    """Wrong: log of a softmax without max subtraction overflows."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
        return -np.mean(np.log(p[np.arange(len(targets)), targets]))


def test_two_classes_by_hand():
    logits = np.array([[0.0, np.log(3.0)], [0.0, np.log(3.0)]])  # p = [1/4, 3/4]
    loss = cross_entropy(logits, np.array([1, 0]))
    assert float(loss) == pytest.approx((-np.log(0.75) - np.log(0.25)) / 2, rel=1e-12)
    np.testing.assert_allclose(cross_entropy_backward(logits, np.array([1, 0])),
                               [[0.125, -0.125], [-0.375, 0.375]])
    # negative control: the sum instead of the mean over the batch
    assert float(loss) != pytest.approx(-np.log(0.75) - np.log(0.25))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflow_safe_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4], [1e4, 1e4]], dtype=dtype)
    loss = cross_entropy(logits, np.array([1, 0]))
    assert np.isfinite(loss) and loss.dtype == dtype
    assert float(loss) == pytest.approx((2e4 + np.log(2)) / 2, rel=1e-6)
    grad = cross_entropy_backward(logits, np.array([1, 0]))
    assert np.all(np.isfinite(grad)) and grad.dtype == dtype
    assert not np.isfinite(naive_cross_entropy(logits.astype(np.float64), np.array([1, 0])))


def test_backward_is_softmax_minus_onehot_over_n():
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    expected = (softmax(logits, axis=1) - np.eye(4)[y]) / 5
    np.testing.assert_allclose(cross_entropy_backward(logits, y), expected, rtol=1e-12)


def test_backward_matches_numerical_gradient():
    rng = np.random.default_rng(1)
    logits, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    grad = cross_entropy_backward(logits, y)
    assert gradcheck(lambda z: cross_entropy(z, y), logits, grad) < GRADCHECK_TOL
    # negative control: forgetting to divide by N
    assert gradcheck(lambda z: cross_entropy(z, y), logits, grad * 6) > 0.1


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    logits, y = rng.standard_normal((8, 10)) * 50, rng.integers(0, 10, 8)
    logits[0, :2] = [1e4, -1e4]
    lt = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(lt, torch.tensor(y))
    loss_t.backward()
    assert float(cross_entropy(logits, y)) == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(cross_entropy_backward(logits, y), lt.grad.numpy(),
                               rtol=1e-10, atol=1e-15)
    assert not np.isclose(naive_cross_entropy(logits, y), loss_t.item())


def test_accepts_lists_and_any_integer_dtype():
    assert float(cross_entropy([[0.0, 0.0]], np.array([1], np.uint8))) == pytest.approx(np.log(2))
    assert float(cross_entropy(np.zeros((1, 2)), [0])) == pytest.approx(np.log(2))


@pytest.mark.parametrize("logits,targets,exc,match", [
    (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError,
     r"targets must hold integer class indices in \[0, 2\], got dtype float64.*astype"),
    (np.zeros((2, 3)), np.array([True, False]), TypeError, r"got dtype bool"),
    (np.zeros((2, 3)), np.eye(3, dtype=int)[:2], ValueError,
     r"targets must be a 1-D array.*argmax\(axis=1\)"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError,
     r"targets has 3 entries but logits has N = 2 rows"),
    (np.zeros((2, 3)), np.array([0, 3]), ValueError,
     r"class indices in \[0, 2\] for logits with C = 3 classes, got 3 at position 1"),
    (np.zeros((2, 3)), np.array([-1, 0]), ValueError, r"got -1 at position 0"),
    (np.zeros(3), np.array([0]), ValueError, r"logits must be a 2-D array.*\(N, C\)"),
    (np.zeros((0, 3)), np.array([], int), ValueError, r"at least one example"),
])
@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_backward])
def test_errors_name_the_problem(fn, logits, targets, exc, match):
    with pytest.raises(exc, match=match):
        fn(logits, targets)
