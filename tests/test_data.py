"""The real data: scikit-learn's digits with a fixed split, matplotlib's photograph."""

import numpy as np
import pytest

from lessonlib import load_digits, load_photo


def test_digits_shapes_range_and_labels():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_digits_are_scikit_learns_images_scaled_to_unit_range():
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X, y = load_digits()
    np.testing.assert_array_equal(X[:, 0] * 16, bunch.images)
    np.testing.assert_array_equal(y, bunch.target)


def test_fixed_stratified_split():
    from sklearn.model_selection import train_test_split

    X, y = load_digits()
    Xtr, ytr = load_digits("train")
    Xte, yte = load_digits("test", dtype=np.float32)
    assert len(ytr) == 1347 and len(yte) == 450 and Xte.dtype == np.float32
    # the documented recipe gives exactly these examples, in this order
    a, b, ya, yb = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    np.testing.assert_array_equal(Xtr, a)
    np.testing.assert_array_equal(yte, yb)
    # stratified: every class keeps its share (within one example)
    assert np.all(np.abs(np.bincount(yte) - np.bincount(y) * 0.25) <= 1)
    # negative control: another seed gives another split
    c, d, yc, yd = train_test_split(X, y, test_size=0.25, random_state=1, stratify=y)
    assert not np.array_equal(yd, yte)


def test_split_is_the_same_on_every_call_and_copies_are_independent():
    X1, y1 = load_digits("test")
    X1[:] = -1
    y1[:] = -1
    X2, y2 = load_digits("test")
    assert X2.min() == 0.0 and y2.min() == 0


def test_photo_gray_and_color():
    gray = load_photo()
    color = load_photo(gray=False)
    assert gray.shape == (600, 512) and color.shape == (3, 600, 512)
    assert gray.dtype == color.dtype == np.float64
    assert 0.0 <= gray.min() and gray.max() <= 1.0 and color.max() <= 1.0
    assert gray.std() > 0.1  # a real picture, not a constant
    np.testing.assert_allclose(gray, np.tensordot([0.299, 0.587, 0.114], color, axes=1))


def test_photo_resize():
    assert load_photo(size=64).shape == (75, 64)          # shorter side, aspect kept
    assert load_photo(gray=False, size=(32, 40)).shape == (3, 32, 40)
    small = load_photo(size=(60, 51))
    big = load_photo()
    # antialiased: the small image's mean brightness matches the original's
    assert abs(small.mean() - big.mean()) < 0.01


@pytest.mark.parametrize("call,exc,match", [
    (lambda: load_digits("val"), ValueError, r"split must be None, 'train' or 'test', got 'val'"),
    (lambda: load_digits(dtype=np.int64), TypeError, r"dtype must be np.float32 or np.float64"),
    (lambda: load_photo(size=0), ValueError, r"size must be a positive integer"),
    (lambda: load_photo(size=(1, 2, 3)), ValueError, r"size must be a positive integer or a pair"),
    (lambda: load_photo(gray="yes"), TypeError, r"gray must be True or False"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
