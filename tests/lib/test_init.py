"""Weight initialisation: fan-in, the exact draws, deep activation statistics, errors."""

import numpy as np
import pytest

from lessonlib import (BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, Linear, ReLU, Sequential,
                       activation_stats, fan_in, init_model, kaiming_normal, naive_normal)


@pytest.mark.parametrize("shape,expected", [
    ((10, 128), 128), ((32, 16, 3, 3), 144), ((8, 2, 3, 3), 18), ((4, 1, 5, 1), 5),
])
def test_fan_in_of_linear_and_conv_weights(shape, expected):
    assert fan_in(shape) == expected
    assert isinstance(fan_in(shape), int)


def test_fan_in_agrees_with_torch():
    torch = pytest.importorskip("torch")
    calc = torch.nn.init._calculate_fan_in_and_fan_out
    for shape in ((10, 128), (32, 16, 3, 3), (8, 2, 3, 5)):
        assert fan_in(shape) == calc(torch.empty(shape))[0]


def test_draws_are_exactly_std_times_standard_normal():
    shape = (16, 8, 3, 3)
    w = kaiming_normal(shape, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(
        w, np.sqrt(2) / np.sqrt(72) * np.random.default_rng(4).standard_normal(shape))
    np.testing.assert_array_equal(
        kaiming_normal((5, 20), rng=1, gain=1.0),
        1 / np.sqrt(20) * np.random.default_rng(1).standard_normal((5, 20)))
    np.testing.assert_array_equal(
        naive_normal(shape, std=0.05, rng=2),
        0.05 * np.random.default_rng(2).standard_normal(shape))
    f32 = kaiming_normal(shape, rng=4, dtype=np.float32)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, w.astype(np.float32))
    assert naive_normal((2, 2), rng=0, dtype=np.float32).dtype == np.float32


def test_kaiming_std_is_sqrt_two_over_fan_in():
    w = kaiming_normal((512, 64, 3, 3), rng=0)
    assert w.std() == pytest.approx(np.sqrt(2 / 576), rel=0.01)
    assert abs(w.mean()) < 0.01 * w.std()


def test_kaiming_std_matches_torch_kaiming_normal():
    torch = pytest.importorskip("torch")
    w = kaiming_normal((512, 64, 3, 3), rng=0)
    torch.manual_seed(0)
    t = torch.nn.init.kaiming_normal_(torch.empty(512, 64, 3, 3), nonlinearity="relu").numpy()
    assert w.std() == pytest.approx(float(t.std()), rel=0.01)


def deep_relu_net(layers=10, channels=32):
    mods = []
    for _ in range(layers):
        mods += [Conv2d(channels, channels, 3, padding=1, rng=0), ReLU()]
    return Sequential(*mods)


def relu_stds(model, x):
    return [std for name, mean, std in activation_stats(model, x) if name.endswith("ReLU")]


def test_kaiming_keeps_the_activation_scale_through_ten_relu_convs_and_naive_shrinks_it():
    x = np.random.default_rng(1).standard_normal((4, 32, 12, 12))
    kaiming = relu_stds(init_model(deep_relu_net(), "kaiming", rng=2), x)
    naive = relu_stds(init_model(deep_relu_net(), "naive", rng=2), x)
    assert len(kaiming) == len(naive) == 10
    # "roughly": a finite width lets the scale wander by a factor of about 2 over ten
    # layers (0.4 to 2.0 over 20 seeds), never by orders of magnitude
    assert 0.25 < kaiming[-1] / kaiming[0] < 4.0, kaiming
    # each naive layer multiplies the scale by about 0.01 * sqrt(288 / 2) = 0.12
    assert naive[-1] / naive[0] < 1e-6, naive
    assert all(b < a for a, b in zip(naive, naive[1:]))


def test_init_model_changes_weights_in_place_zeros_biases_and_is_seeded():
    model = Sequential(Conv2d(1, 4, 3, rng=0), ReLU(),
                       Sequential(BatchNorm2d(4), Flatten(), Linear(4, 3, rng=0)),
                       ConvTranspose2d(1, 1, 2, rng=0))
    w0, w_lin, w_up = model[0].weight, model[2][2].weight, model[3].weight.copy()
    assert init_model(model, "kaiming", rng=5) is model
    assert model[0].weight is w0 and model[2][2].weight is w_lin    # same arrays
    assert not model[0].bias.any() and not model[2][2].bias.any()
    np.testing.assert_array_equal(model[3].weight, w_up)            # left alone
    assert model[2][0].weight.tolist() == [1.0] * 4                 # BatchNorm untouched
    rng = np.random.default_rng(5)   # one generator, layers in order
    np.testing.assert_array_equal(w0, kaiming_normal((4, 1, 3, 3), rng))
    np.testing.assert_array_equal(w_lin, kaiming_normal((3, 4), rng))
    init_model(model, "naive", rng=5, std=0.1)
    np.testing.assert_array_equal(w0, naive_normal((4, 1, 3, 3), 0.1, np.random.default_rng(5)))
    f32 = init_model(Sequential(Linear(3, 2, rng=0, dtype=np.float32)), rng=0)
    assert f32[0].weight.dtype == np.float32


def test_activation_stats_names_and_values():
    model = Sequential(Linear(3, 4, rng=0), ReLU())
    x = np.random.default_rng(0).standard_normal((5, 3))
    stats = activation_stats(model, x)
    hidden = model[0](x)
    assert [s[0] for s in stats] == ["0: Linear", "1: ReLU"]
    assert stats[0][1:] == pytest.approx((hidden.mean(), hidden.std()))
    assert stats[1][1:] == pytest.approx((np.maximum(hidden, 0).mean(),
                                          np.maximum(hidden, 0).std()))
    assert all(isinstance(v, float) for s in stats for v in s[1:])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: fan_in((3, 4, 5)), ValueError,
     r"shape must have 2 entries \(out_features, in_features\) or 4 \(C_out, C_in // groups, "
     r"kH, kW\), got 3: \(3, 4, 5\)"),
    (lambda: fan_in((7,)), ValueError, r"shape must have 2 entries .* got 1"),
    (lambda: fan_in(np.ones((2, 3))), TypeError,
     r"shape must be a tuple of ints such as weight.shape, got ndarray"),
    (lambda: fan_in((2, 0)), ValueError, r"shape must hold positive integers, got \(2, 0\)"),
    (lambda: fan_in((2, 3.0)), ValueError, r"shape must hold positive integers"),
    (lambda: kaiming_normal((2, 3), gain=0), ValueError,
     r"gain must be a finite number > 0, got 0"),
    (lambda: kaiming_normal((2, 3), dtype=np.int64), TypeError, r"dtype must be np.float32"),
    (lambda: naive_normal((2, 3), std=-1), ValueError, r"std must be a finite number > 0, got -1"),
    (lambda: naive_normal((2, 3), rng="x"), TypeError, r"rng must be None, an integer seed"),
    (lambda: init_model(Sequential(ReLU()), "xavier"), ValueError,
     r"scheme must be 'kaiming' or 'naive', got 'xavier'"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
