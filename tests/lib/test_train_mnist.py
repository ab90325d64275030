"""LeNet-5 and the MLP on MNIST: their shapes, shifted images, and that they really learn."""

import numpy as np
import pytest

from lessonlib import (Conv2d, evaluate, load_mnist, make_lenet5, make_mlp, random_shifts,
                       shift_images, shifted_accuracy, train_mnist)
from lessonlib.train import mnist


def shift_loops(X, dx, dy):
    """The oracle: out[n, c, i, j] = X[n, c, i - dy, j - dx] where it exists, else 0."""
    N, C, H, W = X.shape
    dx = np.broadcast_to(dx, (N,))
    dy = np.broadcast_to(dy, (N,))
    out = np.zeros_like(X)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                si, sj = i - dy[n], j - dx[n]
                if 0 <= si < H and 0 <= sj < W:
                    out[n, :, i, j] = X[n, :, si, sj]
    return out


# ------------------------------------------------------------------ LeNet-5

def test_lenet5_parameters_counted_by_hand():
    shapes = {k: v.shape for k, v in make_lenet5(rng=0).params.items()}
    assert shapes == {"0.weight": (6, 1, 5, 5), "0.bias": (6,),
                      "3.weight": (16, 6, 5, 5), "3.bias": (16,),
                      "6.weight": (120, 16, 5, 5), "6.bias": (120,),
                      "9.weight": (84, 120), "9.bias": (84,),
                      "11.weight": (10, 84), "11.bias": (10,)}
    c1 = 6 * 1 * 5 * 5 + 6            # 156
    c3 = 16 * 6 * 5 * 5 + 16          # 2,416 (full connections; the paper's table: 1,516)
    c5 = 120 * 16 * 5 * 5 + 120       # 48,120
    f6 = 120 * 84 + 84                # 10,164
    out = 84 * 10 + 10                # 850
    assert c1 + c3 + c5 + f6 + out == 61706
    assert sum(v.size for v in make_lenet5(rng=0).params.values()) == 61706


def test_lenet5_feature_maps_have_the_papers_sizes():
    # o = (n + 2p - k) // s + 1: C1 (28 + 4 - 5) + 1 = 28, S2 28 // 2 = 14,
    # C3 14 - 5 + 1 = 10, S4 5, C5 5 - 5 + 1 = 1
    model = make_lenet5(rng=0)
    x = np.random.default_rng(0).random((3, 1, 28, 28))
    shapes = []
    for layer in model:
        x = layer(x)
        shapes.append(x.shape[1:])
    assert [shapes[i] for i in (0, 2, 3, 5, 6)] == [(6, 28, 28), (6, 14, 14), (16, 10, 10),
                                                    (16, 5, 5), (120, 1, 1)]
    assert shapes[7:] == [(120, 1, 1), (120,), (84,), (84,), (10,)]


def test_c1_padding_2_is_the_papers_32x32_input():
    model = make_lenet5(rng=1)
    x = np.random.default_rng(1).random((2, 1, 28, 28))
    unpadded = Conv2d(1, 6, 5, rng=0)
    unpadded.params["weight"][...] = model[0].params["weight"]
    unpadded.params["bias"][...] = model[0].params["bias"]
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    assert padded.shape[2:] == (32, 32)
    np.testing.assert_allclose(model[0](x), unpadded(padded), rtol=1e-12, atol=1e-12)


def test_lenet5_seed_dtype_and_output():
    a, b = make_lenet5(rng=3), make_lenet5(rng=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["0.weight"], make_lenet5(rng=4).params["0.weight"])
    out = make_lenet5(rng=0, dtype=np.float32)(np.zeros((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 10) and out.dtype == np.float32
    with pytest.raises(TypeError, match=r"dtype must be np.float32 or np.float64"):
        make_lenet5(dtype=np.int32)


# ---------------------------------------------------------------------- MLP

def test_mlp_sizes():
    assert sum(p.size for p in make_mlp(rng=0).params.values()) == 784 * 76 + 76 + 76 * 10 + 10
    assert sum(p.size for p in make_mlp((72, 72), rng=0).params.values()) == 62506
    linear = make_mlp((), rng=0)
    assert {k: v.shape for k, v in linear.params.items()} == {"1.weight": (10, 784),
                                                              "1.bias": (10,)}
    assert make_mlp(50, rng=0)(np.zeros((4, 1, 28, 28))).shape == (4, 10)


@pytest.mark.parametrize("hidden,exc,match", [
    ("76", TypeError, r"hidden must be an int or a sequence of ints"),
    ((76, 0), ValueError, r"hidden width must be >= 1, got 0"),
    ((7.5,), TypeError, r"hidden width must be an integer"),
])
def test_mlp_refuses_bad_widths(hidden, exc, match):
    with pytest.raises(exc, match=match):
        make_mlp(hidden)


# ----------------------------------------------------------------- shifting

def test_shift_by_hand():
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(shift_images(x, 1, 0)[0, 0], [[0, 1, 2, 3],
                                                                [0, 5, 6, 7],
                                                                [0, 9, 10, 11]])
    np.testing.assert_array_equal(shift_images(x, -2, 1)[0, 0], [[0, 0, 0, 0],
                                                                 [3, 4, 0, 0],
                                                                 [7, 8, 0, 0]])
    np.testing.assert_array_equal(shift_images(x, 0, 0), x)
    assert shift_images(x, 0, 0) is not x
    assert not shift_images(x, 4, 0).any() and not shift_images(x, 0, -3).any()  # nothing wraps


@pytest.mark.parametrize("seed", range(4))
def test_shift_matches_the_loop_oracle(seed):
    rng = np.random.default_rng(seed)
    N, C, H, W = 5, 2, int(rng.integers(1, 7)), int(rng.integers(1, 7))
    X = rng.standard_normal((N, C, H, W)).astype(np.float32)
    for dx, dy in [(int(rng.integers(-8, 9)), int(rng.integers(-8, 9))),
                   (rng.integers(-8, 9, N), rng.integers(-8, 9, N)),
                   (rng.integers(-2, 3, N), 1)]:
        out = shift_images(X, dx, dy)
        assert out.dtype == np.float32 and out.shape == X.shape
        np.testing.assert_array_equal(out, shift_loops(X, dx, dy))


def test_shift_there_and_back_keeps_the_middle():
    X = np.random.default_rng(0).random((3, 1, 6, 6))
    back = shift_images(shift_images(X, 2, -1), -2, 1)
    np.testing.assert_array_equal(back[:, :, 1:, :4], X[:, :, 1:, :4])
    assert not back[:, :, :1].any() and not back[:, :, :, 4:].any()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: shift_images(np.zeros((3, 3)), 1, 1), ValueError,
     r"X must be a 4-D array, got a 2-D array of shape \(3, 3\). Layout is \(N, C, H, W\)"),
    (lambda: shift_images(np.zeros((2, 1, 3, 3)), 1.0, 0), TypeError,
     r"dx must be an integer, got 1.0"),
    (lambda: shift_images(np.zeros((2, 1, 3, 3)), np.array([1, 2, 3]), 0), ValueError,
     r"dx must be an int or one int per image, shape \(2,\), got shape \(3,\)"),
    (lambda: shift_images(np.zeros((2, 1, 3, 3)), 0, np.array([0.5, 1.0])), TypeError,
     r"dy must hold integers \(pixels\), got dtype float64"),
    (lambda: random_shifts(np.zeros((2, 1, 3, 3)), -1), ValueError,
     r"max_shift must be >= 0, got -1"),
])
def test_shift_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_random_shifts_stay_within_bounds_and_cover_them():
    # one lit pixel in the middle of each image: where it lands gives (dx, dy)
    N, m = 2000, 2
    X = np.zeros((N, 1, 9, 9))
    X[:, 0, 4, 4] = 1.0
    out = random_shifts(X, m, rng=0)
    assert np.all(out.sum(axis=(1, 2, 3)) == 1.0)     # never pushed out: 4 + 2 < 9
    n, _, i, j = np.nonzero(out)
    np.testing.assert_array_equal(n, np.arange(N))
    dx, dy = j - 4, i - 4
    assert dx.min() == dy.min() == -m and dx.max() == dy.max() == m
    # independent, uniform: all 25 pairs appear, each about N / 25 = 80 times
    counts = np.bincount((dy + m) * (2 * m + 1) + dx + m, minlength=25)
    assert counts.min() > 40 and counts.max() < 130
    # seeded: the same seed gives the same shifts, another seed others
    np.testing.assert_array_equal(random_shifts(X, m, rng=0), out)
    assert not np.array_equal(random_shifts(X, m, rng=1), out)
    same = random_shifts(X, 0, rng=0)
    np.testing.assert_array_equal(same, X)
    assert same is not X


def test_shifted_accuracy_of_a_position_bound_and_a_shift_free_model():
    X = np.zeros((4, 1, 9, 9))
    X[:, 0, 4, 4] = 1.0
    y = np.ones(4, np.int64)

    def reads_the_centre(batch):           # class 1 iff the centre pixel is lit
        lit = batch[:, 0, 4, 4] > 0.5
        return np.stack([~lit, lit], axis=1).astype(float)

    def counts_ink(batch):                 # class 1 iff anything is lit: shift-free
        lit = batch.sum(axis=(1, 2, 3)) > 0.5
        return np.stack([~lit, lit], axis=1).astype(float)

    assert shifted_accuracy(reads_the_centre, X, y, shifts=(0, 1, 3)) == {0: 1.0, 1: 0.0, 3: 0.0}
    assert shifted_accuracy(counts_ink, X, y) == {1: 1.0, 2: 1.0, 3: 1.0}
    # a shift of 5 pushes the pixel out in each of the four directions
    assert shifted_accuracy(counts_ink, X, y, shifts=(5,)) == {5: 0.0}
    with pytest.raises(ValueError, match=r"shift must be >= 0, got -1"):
        shifted_accuracy(counts_ink, X, y, shifts=(-1,))


# ----------------------------------------------------------------- training

def test_cosine_schedule():
    assert mnist._epoch_lr(0.1, 0, 10, "cosine") == 0.1
    assert mnist._epoch_lr(0.1, 5, 10, "cosine") == pytest.approx(0.05)
    assert 0 < mnist._epoch_lr(0.1, 9, 10, "cosine") < 0.003
    assert mnist._epoch_lr(0.1, 9, 10, "constant") == 0.1


def test_one_epoch_of_the_mlp_history_and_reproducibility():
    _, h1 = train_mnist(make_mlp, epochs=2, progress=False, seed=3)
    _, h2 = train_mnist(make_mlp, epochs=2, progress=False, seed=3)
    assert set(h1) == {"loss", "train_acc", "val_acc", "seconds"}
    assert len(h1["loss"]) == len(h1["train_acc"]) == len(h1["val_acc"]) == 2
    assert isinstance(h1["seconds"], float) and h1["seconds"] > 0
    assert h1["loss"] == h2["loss"] and h1["val_acc"] == h2["val_acc"]
    assert h1["val_acc"][-1] > 0.8                 # chance is 0.1
    _, h3 = train_mnist(make_mlp, epochs=2, progress=False, seed=4)
    assert h3["loss"] != h1["loss"]


def test_one_epoch_of_lenet5_on_the_digits_beats_chance_by_far():
    model, history = train_mnist(epochs=1, progress=False, seed=0)
    X, y = load_mnist("val", np.float32)
    acc = evaluate(model, X, y)
    assert acc == history["val_acc"][-1]
    assert acc > 0.5, f"validation accuracy {acc:.3f} after one epoch (chance: 0.1)"
    assert history["loss"][0] < np.log(10)


def test_training_a_given_model_changes_its_weights():
    model = make_mlp(rng=1, dtype=np.float32)
    before = model.params["1.weight"].copy()
    trained, _ = train_mnist(epochs=1, progress=False, model=model, augment_shift=0,
                             lr_schedule="constant", blas_threads=None)
    assert trained is model and not np.array_equal(before, model.params["1.weight"])


def test_validation_runs_in_evaluation_mode():
    from lessonlib import Dropout, Flatten, Linear, ReLU, Sequential

    calls = []

    class Spy(Dropout):
        def forward(self, x):
            calls.append((self.training, x.shape[0]))
            return super().forward(x)

    model = Sequential(Flatten(), Linear(784, 32, rng=0), ReLU(), Spy(0.5, rng=0),
                       Linear(32, 10, rng=1))
    trained, _ = train_mnist(epochs=1, progress=False, model=model, augment_shift=0)
    assert trained.training is False and trained[3].training is False
    assert {size for training, size in calls if training} == {32}        # the batches
    assert sum(size for training, size in calls if not training) == 500  # the validation


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(epochs=0), ValueError, r"epochs must be >= 1"),
    (dict(batch_size=2.5), TypeError, r"batch_size must be an integer"),
    (dict(lr=-1.0), ValueError, r"lr must be a finite number >= 0"),
    (dict(dtype=np.float16), TypeError, r"dtype must be np.float32 or np.float64"),
    (dict(seed=-1), ValueError, r"seed must be >= 0, got -1"),
    (dict(augment_shift=-1), ValueError, r"augment_shift must be >= 0, got -1"),
    (dict(lr_schedule="step"), ValueError,
     r"lr_schedule must be 'cosine' or 'constant', got 'step'"),
    (dict(model_fn="lenet"), TypeError, r"model_fn must be a function that builds a network"),
    (dict(blas_threads=0), ValueError, r"blas_threads must be >= 1, got 0"),
])
def test_bad_arguments_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_mnist(progress=False, **kwargs)


@pytest.mark.slow
def test_lenet5_reaches_97_percent_on_the_test_digits():
    model, history = train_mnist(seed=0, progress=False)
    X, y = load_mnist("test", np.float32)
    acc = evaluate(model, X, y)
    assert acc >= 0.97, f"test accuracy {acc:.3f} after {len(history['loss'])} epochs"
    assert history["val_acc"][-1] >= 0.95
    # what the convolutions (and the augmentation) buy: a 2-pixel shift costs little
    assert shifted_accuracy(model, X, y, shifts=(2,))[2] >= 0.95
