"""dropout and its backward: the exact mask, inverted scaling, evaluation mode, errors."""

import numpy as np
import pytest

from lessonlib import dropout, dropout_backward, gradcheck
from lessonlib.gradcheck import GRADCHECK_TOL


def test_mask_is_drawn_exactly_as_rng_random_ge_p():
    x = np.random.default_rng(1).standard_normal((3, 2, 4, 5))
    out, mask = dropout(x, p=0.3, rng=np.random.default_rng(7))
    expected_mask = np.random.default_rng(7).random(x.shape) >= 0.3
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_allclose(out, np.where(expected_mask, x / 0.7, 0.0), rtol=1e-15)
    assert mask.dtype == bool
    # negative control: the other comparison (random < p keeps) is a different mask
    assert not np.array_equal(mask, np.random.default_rng(7).random(x.shape) < 0.7)


def test_int_seeds_repeat_and_generators_advance():
    x = np.ones((4, 6))
    assert np.array_equal(dropout(x, rng=3)[1], dropout(x, rng=3)[1])
    rng = np.random.default_rng(3)
    first, second = dropout(x, rng=rng)[1], dropout(x, rng=rng)[1]
    assert np.array_equal(first, dropout(x, rng=3)[1]) and not np.array_equal(first, second)


def test_inverted_scaling_keeps_the_mean_and_drops_a_fraction_p():
    x = np.full((400, 500), 3.0)
    for p in (0.2, 0.5, 0.8):
        out, mask = dropout(x, p, rng=0)
        assert out.mean() == pytest.approx(3.0, rel=0.02), p
        assert 1 - mask.mean() == pytest.approx(p, abs=0.005), p
        # negative control: without the 1 / (1 - p) the mean shrinks to (1 - p) * 3
        assert (x * mask).mean() != pytest.approx(3.0, rel=0.02), p


def test_p_zero_keeps_everything_and_p_one_gives_zeros_without_dividing_by_zero():
    x = np.random.default_rng(2).standard_normal((2, 3))
    out, mask = dropout(x, p=0.0, rng=0)
    np.testing.assert_array_equal(out, x)
    assert mask.all()
    with np.errstate(all="raise"):        # no 0 / 0 or x / 0 anywhere
        out, mask = dropout(x, p=1.0, rng=0)
        dx = dropout_backward(np.ones_like(x), mask, 1.0)
    assert not out.any() and not mask.any() and not dx.any()


def test_evaluation_mode_is_a_copy_with_an_all_true_mask():
    x = np.arange(6.0).reshape(2, 3)
    rng = np.random.default_rng(0)
    out, mask = dropout(x, p=0.5, training=False, rng=rng)
    np.testing.assert_array_equal(out, x)
    assert out is not x and not np.shares_memory(out, x)
    assert mask.shape == x.shape and mask.dtype == bool and mask.all()
    assert rng.random() == np.random.default_rng(0).random()   # nothing was drawn


def test_backward_passes_gradient_checks():
    x = np.random.default_rng(3).standard_normal((3, 2, 3, 3))
    dout = np.random.default_rng(4).standard_normal(x.shape)
    for p in (0.0, 0.25, 0.6):
        mask = dropout(x, p, rng=5)[1]
        dx = dropout_backward(dout, mask, p)
        f = lambda v, p=p: dropout(v, p, rng=5)[0]   # the seed fixes the mask
        assert gradcheck(f, x, dx, dout=dout) < GRADCHECK_TOL, p
    # negative control: forgetting the scaling in the backward pass is caught
    assert gradcheck(f, x, dout * mask, dout=dout) > 0.1


def test_float32_stays_float32():
    x = np.ones((2, 3), np.float32)
    out, mask = dropout(x, 0.5, rng=0)
    assert out.dtype == np.float32
    assert dropout(x, training=False)[0].dtype == np.float32
    assert dropout_backward(out, mask, 0.5).dtype == np.float32
    assert dropout(np.ones(3, int), 0.5, rng=0)[0].dtype == np.float64


def test_kept_values_are_scaled_like_torch():
    torch = pytest.importorskip("torch")
    x = np.full(10_000, 1.5)
    tout = torch.nn.functional.dropout(torch.tensor(x), p=0.3, training=True).numpy()
    out, _ = dropout(x, 0.3, rng=0)
    np.testing.assert_allclose(np.unique(out), np.unique(tout), rtol=1e-15)   # {0, 1.5 / 0.7}
    assert np.unique(out).tolist() == pytest.approx([0.0, 1.5 / 0.7])
    np.testing.assert_array_equal(
        dropout(x, 0.3, training=False)[0],
        torch.nn.functional.dropout(torch.tensor(x), p=0.3, training=False).numpy())


@pytest.mark.parametrize("call,exc,match", [
    (lambda: dropout(np.ones(3), p=1.5), ValueError,
     r"p must be in \[0, 1\], the probability of dropping a value, got 1.5"),
    (lambda: dropout(np.ones(3), p=-0.1), ValueError, r"p must be in \[0, 1\]"),
    (lambda: dropout(np.ones(3), p="0.5"), TypeError, r"p must be a number in \[0, 1\], got '0.5'"),
    (lambda: dropout(np.ones(3), p=True), TypeError, r"p must be a number"),
    (lambda: dropout(np.ones(3), training="no"), TypeError,
     r"training must be True or False, got 'no'"),
    (lambda: dropout(np.ones(3), rng="seed"), TypeError,
     r"rng must be None, an integer seed or a np.random.Generator, got str"),
    (lambda: dropout_backward(np.ones(3), np.ones(3), 0.5), TypeError,
     r"mask must be a boolean array \(True = kept\), got dtype float64"),
    (lambda: dropout_backward(np.ones(3), np.ones(2, bool), 0.5), ValueError,
     r"mask must have the shape of dout \(3,\), got \(2,\)"),
    (lambda: dropout_backward(np.ones(3), np.ones(3, bool), 2), ValueError,
     r"p must be in \[0, 1\]"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
