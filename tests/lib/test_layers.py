"""Layers: parameters and their names, initialisation, gradients, PyTorch, errors."""

import numpy as np
import pytest

from lessonlib import (SGD, Adam, AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d,
                       CrossEntropyLoss, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential,
                       batch_norm2d, conv2d, gradcheck, max_pool2d, max_pool2d_backward)
from lessonlib.gradcheck import GRADCHECK_TOL


def layer_errors(layer, x, seed=0):
    """Gradcheck errors of ``layer`` at ``x``: {"x": err, "weight": err, ...}."""
    out = layer(x)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    layer(x)
    dx = layer.backward(dout)
    errors = {"x": gradcheck(layer, x, dx, dout=dout)}
    for name, p in layer.params.items():
        analytic = layer.grads[name].copy()

        def f(v, p=p):
            saved = p.copy()
            p[...] = v
            try:
                return layer(x)
            finally:
                p[...] = saved
        errors[name] = gradcheck(f, p, analytic, dout=dout)
    return errors


def distinct(shape, seed):
    """Inputs without ties or values near 0 (no kink of ReLU / max within eps)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) + 1.0) / n * rng.choice([-1, 1], n)).reshape(shape)


LAYERS = [
    (lambda: Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, rng=0), (2, 3, 6, 5)),
    (lambda: Conv2d(4, 6, 3, padding="same", dilation=2, groups=2, rng=1), (1, 4, 7, 6)),
    (lambda: Conv2d(2, 3, 2, bias=False, rng=2), (2, 2, 4, 4)),
    (lambda: ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, rng=3),
     (2, 4, 3, 4)),
    (lambda: ConvTranspose2d(4, 6, 2, stride=2, groups=2, rng=4), (1, 4, 3, 3)),
    (lambda: MaxPool2d(2), (2, 3, 6, 6)),
    (lambda: MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 5)),
    (lambda: AvgPool2d(3, stride=2, padding=1), (2, 2, 5, 6)),
    (lambda: ReLU(), (2, 3, 4, 4)),
    (lambda: Flatten(), (2, 3, 2, 2)),
    (lambda: Linear(5, 3, rng=5), (4, 5)),
]


@pytest.mark.parametrize("make,shape", LAYERS)
def test_every_layer_passes_gradient_checks(make, shape):
    errors = layer_errors(make(), distinct(shape, 1))
    assert max(errors.values()) < GRADCHECK_TOL, errors


def test_sequential_and_loss_pass_gradient_checks_end_to_end():
    model = Sequential(Conv2d(1, 2, 3, padding=1, rng=0), ReLU(), MaxPool2d(2),
                       Conv2d(2, 3, 3, padding=1, rng=1), ReLU(), AvgPool2d(2),
                       Flatten(), Linear(3, 4, rng=2))
    x = distinct((3, 1, 4, 4), 2)
    y = np.array([0, 3, 1])
    crit = CrossEntropyLoss()
    crit(model(x), y)
    dx = model.backward(crit.backward())
    grads = {k: v.copy() for k, v in model.grads.items()}
    assert sorted(grads) == ["0.bias", "0.weight", "3.bias", "3.weight", "7.bias", "7.weight"]
    assert gradcheck(lambda v: crit(model(v), y), x, dx) < GRADCHECK_TOL
    for name, p in model.params.items():
        def loss_at(v, p=p):
            saved = p.copy()
            p[...] = v
            try:
                return crit(model(x), y)
            finally:
                p[...] = saved
        assert gradcheck(loss_at, p, grads[name]) < GRADCHECK_TOL, name


def test_gradient_checks_reject_a_wrong_layer():
    class LinearWrongWeightGrad(Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["weight"] *= 2  # wrong: a factor 2 too much
            return dx

    class ReLUWrong(ReLU):
        def backward(self, dout):
            return dout  # wrong: ignores the mask

    errors = layer_errors(LinearWrongWeightGrad(5, 3, rng=0), distinct((4, 5), 3))
    assert errors["x"] < GRADCHECK_TOL and errors["weight"] > 0.1
    assert layer_errors(ReLUWrong(), distinct((2, 6), 4))["x"] > 0.1


def test_layers_compute_the_functions():
    x = distinct((2, 3, 6, 6), 5)
    conv = Conv2d(3, 2, 3, stride=2, padding=1, rng=0)
    np.testing.assert_array_equal(conv(x), conv2d(x, conv.weight, conv.bias, 2, 1))
    np.testing.assert_array_equal(conv.forward(x), conv(x))
    pool = MaxPool2d(2)
    out = pool(x)
    np.testing.assert_array_equal(out, max_pool2d(x, 2))
    np.testing.assert_array_equal(pool.backward(out), max_pool2d_backward(out, x, 2))


# ---------------------------------------------------------------- parameters and init

def test_parameter_names_and_shapes_like_named_parameters():
    conv = Conv2d(3, 8, (3, 5), groups=1, rng=0)
    assert {k: v.shape for k, v in conv.params.items()} == {"weight": (8, 3, 3, 5),
                                                            "bias": (8,)}
    up = ConvTranspose2d(6, 4, 2, groups=2, rng=0)
    assert up.weight.shape == (6, 2, 2, 2) and up.bias.shape == (4,)
    assert Conv2d(2, 2, 1, bias=False, rng=0).bias is None
    assert list(Conv2d(2, 2, 1, bias=False, rng=0).params) == ["weight"]
    inner = Sequential(Linear(2, 2, rng=0), ReLU())
    model = Sequential(Flatten(), inner, Linear(2, 1, rng=1))
    assert list(model.params) == ["1.0.weight", "1.0.bias", "2.weight", "2.bias"]
    assert model.params["2.weight"] is model[2].weight  # the same array, not a copy
    assert list(model.grads) == list(model.params)
    assert len(model) == 3 and list(model)[1] is inner


@pytest.mark.parametrize("make,fan_in", [
    (lambda rng: Conv2d(16, 32, 3, rng=rng), 16 * 9),
    (lambda rng: Conv2d(8, 8, 3, groups=4, rng=rng), 2 * 9),
    (lambda rng: ConvTranspose2d(8, 6, 3, groups=2, rng=rng), 3 * 9),  # weight.shape[1] * k*k
    (lambda rng: Linear(300, 20, rng=rng), 300),
])
def test_init_is_uniform_within_one_over_sqrt_fan_in(make, fan_in):
    layer = make(0)
    bound = 1 / np.sqrt(fan_in)
    w, b = layer.weight, layer.bias
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # fills the interval ...
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.15)  # ... uniformly
    np.testing.assert_array_equal(make(0).weight, w)               # seeded
    assert not np.array_equal(make(1).weight, w)
    np.testing.assert_array_equal(make(np.random.default_rng(0)).weight, w)


def test_init_bounds_match_torch():
    """Weights and biases fill U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in as torch computes it."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pairs = [(Conv2d(16, 32, 3, rng=0), torch.nn.Conv2d(16, 32, 3)),
             (ConvTranspose2d(8, 6, 3, groups=2, rng=0),
              torch.nn.ConvTranspose2d(8, 6, 3, groups=2)),
             (Linear(128, 10, rng=0), torch.nn.Linear(128, 10))]
    for mine, theirs in pairs:
        w = theirs.weight.detach().numpy()
        bound = 1 / np.sqrt(np.prod(w.shape[1:]))      # torch: fan_in from dim 1 on
        for name, p in theirs.named_parameters():
            t, m = p.detach().numpy(), mine.params[name]
            assert m.shape == t.shape
            assert np.abs(t).max() <= bound and np.abs(m).max() <= bound, name
            if m.size >= 100:   # enough draws to come near the edge of the interval
                assert np.abs(m).max() > 0.9 * bound and np.abs(t).max() > 0.9 * bound, name
    # negative control: fan_in from in_channels (a common mistake for ConvTranspose2d)
    # gives a bound that torch's own draws exceed
    t = torch.nn.ConvTranspose2d(8, 6, 3, groups=2).weight.detach().numpy()
    assert np.abs(t).max() > 1 / np.sqrt(8 * 9)


def test_float32_layers_keep_float32():
    model = Sequential(Conv2d(1, 2, 3, padding=1, rng=0, dtype=np.float32), ReLU(),
                       MaxPool2d(2), Flatten(), Linear(8, 3, rng=0, dtype=np.float32))
    x = np.ones((2, 1, 4, 4), np.float32)
    out = model(x)
    assert out.dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    up = ConvTranspose2d(2, 1, 2, stride=2, rng=0, dtype=np.float32)
    assert up(np.ones((1, 2, 2, 2), np.float32)).dtype == np.float32


def test_backward_replaces_gradients_and_zero_grad_clears_them():
    layer = Linear(3, 2, rng=0)
    x = np.ones((1, 3))
    layer(x)
    layer.backward(np.ones((1, 2)))
    first = layer.grads["weight"].copy()
    layer.backward(np.ones((1, 2)))  # a re-run cell gives the same gradient, not twice it
    np.testing.assert_array_equal(layer.grads["weight"], first)
    model = Sequential(layer)
    model.zero_grad()
    assert not layer.grads["weight"].any()


def test_cross_entropy_loss_layer():
    crit = CrossEntropyLoss()
    logits = np.array([[0.0, np.log(3.0)]])
    assert float(crit(logits, np.array([1]))) == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(crit.backward(), [[0.25, -0.25]])
    np.testing.assert_allclose(crit.backward(2.0), [[0.5, -0.5]])


# ---------------------------------------------------------------- repr and PyTorch

def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    pairs = [(Conv2d(1, 16, 3, padding=1), nn.Conv2d(1, 16, 3, padding=1)),
             (Conv2d(4, 8, (3, 1), stride=2, dilation=2, groups=2, bias=False),
              nn.Conv2d(4, 8, (3, 1), stride=2, dilation=2, groups=2, bias=False)),
             (ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
              nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)),
             (Linear(128, 10), nn.Linear(128, 10)), (ReLU(), nn.ReLU())]
    for mine, theirs in pairs:
        assert repr(mine) == repr(theirs)
    model = Sequential(Conv2d(1, 2, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(8, 2))
    assert repr(model).splitlines()[1] == "  (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(model).splitlines()[3] == "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0)"


def test_small_cnn_matches_torch_end_to_end():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = Sequential(Conv2d(1, 4, 3, padding=1, rng=0), ReLU(), MaxPool2d(2),
                       Conv2d(4, 6, 3, padding=1, rng=1), ReLU(), AvgPool2d(2),
                       Flatten(), Linear(6, 5, rng=2))
    tmodel = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                           nn.Flatten(), nn.Linear(6, 5)).double()
    with torch.no_grad():
        for name, p in tmodel.named_parameters():
            p.copy_(torch.tensor(model.params[name]))
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 1, 4, 4)), rng.integers(0, 5, 4)
    crit = CrossEntropyLoss()
    loss = crit(model(x), y)
    dx = model.backward(crit.backward())
    xt = torch.tensor(x, requires_grad=True)
    tloss = nn.functional.cross_entropy(tmodel(xt), torch.tensor(y))
    tloss.backward()
    assert float(loss) == pytest.approx(tloss.item(), rel=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in tmodel.named_parameters():
        np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12)
    # negative control: a perturbed weight is noticed
    model.params["7.bias"][0] += 1e-3
    assert float(crit(model(x), y)) != pytest.approx(tloss.item(), rel=1e-10)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("call,exc,match", [
    (lambda: Conv2d(3, 4, 3, rng=0)(np.zeros((1, 2, 5, 5))), ValueError,
     r"Conv2d\(3, 4, .*\) expects x with 3 channels \(N, 3, H, W\), got shape \(1, 2, 5, 5\)"),
    (lambda: Conv2d(3, 4, 3, groups=2), ValueError, r"in_channels=3 must be divisible by groups=2"),
    (lambda: Conv2d(2, 3, 3, groups=2), ValueError, r"out_channels=3 must be divisible"),
    (lambda: Conv2d(2, 3, 3, padding="half"), ValueError, r"padding must be an integer >= 0, a pair"),
    (lambda: Conv2d(0, 3, 3), ValueError, r"in_channels must be >= 1, got 0"),
    (lambda: ConvTranspose2d(2, 3, 3, padding="same"), ValueError,
     r"padding must be an int or a pair for ConvTranspose2d"),
    (lambda: Linear(4, 2, rng=0)(np.zeros((2, 5))), ValueError,
     r"Linear\(in_features=4, out_features=2, bias=True\) expects x of shape \(N, 4\), got "
     r"\(2, 5\)\. Put a Flatten\(\) before it"),
    (lambda: Linear(4, 2, rng="seed"), TypeError, r"rng must be None, an integer seed or a "
                                                   r"np.random.Generator, got str"),
    (lambda: Linear(4, 2, dtype=np.int32), TypeError, r"dtype must be np.float32 or np.float64"),
    (lambda: Linear(4, 2, dtype="half-ish"), TypeError, r"dtype must be np.float32 or np.float64"
                                                        r", got 'half-ish'"),
    (lambda: Sequential(Linear(2, 2), ReLU), TypeError,
     r"got the class ReLU at position 1\. Call it: ReLU\(\.\.\.\)"),
    (lambda: Sequential(Linear(2, 2), np.tanh), TypeError,
     r"Sequential takes layers \(objects with forward and backward\), got ufunc at position 1"),
    (lambda: MaxPool2d(3, padding=2), ValueError, r"padding must be at most half the kernel"),
    (lambda: ReLU().backward(np.ones(3)), RuntimeError, r"ReLU.backward was called before "
                                                        r"forward"),
    (lambda: Flatten()(np.ones(3)), ValueError, r"Flatten expects a batch \(N, \.\.\.\)"),
])
def test_errors_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_flatten_backward_checks_the_shape():
    flat = Flatten()
    flat(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 12\)"):
        flat.backward(np.ones((2, 11)))



# ---------------------------------------------------------------- modes, BatchNorm2d, Dropout

def modes(model):
    """The ``training`` flag of the model and of every layer inside it, in order."""
    out = [getattr(model, "training", None)]
    for layer in getattr(model, "layers", []):
        out += modes(layer)
    return out


def test_train_and_eval_reach_every_layer_and_return_self():
    class Plain:   # a layer that is not a Module: no train(), left alone
        def forward(self, x):
            return x

        def backward(self, dout):
            return dout

    inner = Sequential(Linear(2, 2, rng=0), Dropout(0.5, rng=0))
    model = Sequential(BatchNorm2d(2), Flatten(), inner, Plain())
    assert modes(model) == [True] * 6 + [None]
    assert model.eval() is model
    assert modes(model) == [False] * 6 + [None]
    assert model.train() is model and modes(model) == [True] * 6 + [None]
    assert model.train(False) is model and not model[2][1].training
    assert ReLU().eval().training is False and ReLU().training is True


def test_module_subclass_without_init_still_has_a_mode():
    class Bare(ReLU):
        def __init__(self):   # forgets super().__init__(), as students do
            pass

    assert Bare().training is True and Bare().eval().training is False


def bn_with_stats(seed=0):
    """A BatchNorm2d with non-trivial gamma, beta and running statistics."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm2d(3, momentum=0.5)
    bn.weight[...] = rng.uniform(0.5, 2.0, 3)
    bn.bias[...] = rng.standard_normal(3)
    for _ in range(3):
        bn(rng.normal(2.0, 3.0, (4, 3, 3, 3)))
    return bn


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_layer_passes_gradient_checks_in_both_modes(training):
    bn = bn_with_stats().train(training)
    errors = layer_errors(bn, distinct((2, 3, 3, 2), 6) * 4 + 1)
    assert max(errors.values()) < GRADCHECK_TOL, errors


def test_batchnorm_layer_computes_the_function_and_keeps_buffers_out_of_params():
    bn = BatchNorm2d(3)
    assert sorted(bn.params) == ["bias", "weight"]
    assert bn.weight.tolist() == [1.0] * 3 and bn.bias.tolist() == [0.0] * 3
    assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    x = distinct((4, 3, 2, 2), 7) + 5
    rm, rv = np.zeros(3), np.ones(3)
    np.testing.assert_array_equal(bn(x), batch_norm2d(x, bn.weight, bn.bias, rm, rv))
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    bn.eval()
    np.testing.assert_array_equal(bn(x), batch_norm2d(x, bn.weight, bn.bias, rm, rv,
                                                      training=False))
    np.testing.assert_array_equal(bn.running_mean, rm)   # evaluation leaves them
    # optimisers see only params: the running statistics are never stepped
    model = Sequential(bn)
    model.train()
    model(x)
    stats = bn.running_mean.copy(), bn.running_var.copy()
    model.backward(np.ones_like(x))
    for opt in (SGD(model, lr=0.1, momentum=0.9, weight_decay=0.1), Adam(model, lr=0.1)):
        opt.step()
    np.testing.assert_array_equal(bn.running_mean, stats[0])
    np.testing.assert_array_equal(bn.running_var, stats[1])
    assert sorted(model.params) == ["0.bias", "0.weight"]


def test_dropout_layer_draws_a_new_mask_each_time_and_is_the_identity_in_eval():
    x = np.ones((4, 5))
    drop = Dropout(0.4, rng=3)
    gen = np.random.default_rng(3)
    first, second = drop(x), drop(x)
    np.testing.assert_array_equal(first != 0, gen.random(x.shape) >= 0.4)
    np.testing.assert_array_equal(second != 0, gen.random(x.shape) >= 0.4)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), second)   # same mask, scale
    drop.eval()
    out = drop(x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(drop.backward(2 * x), 2 * x)   # no 1 / (1 - p) in eval
    assert drop.params == {} and Dropout().p == 0.5


def test_dropout_layer_passes_gradient_checks_with_a_reset_generator():
    drop = Dropout(0.3)
    x = distinct((2, 3, 2, 2), 8)
    dout = np.random.default_rng(9).standard_normal(x.shape)

    def f(v):
        drop.rng = np.random.default_rng(10)   # the same mask on every call
        return drop(v)

    f(x)
    dx = drop.backward(dout)
    assert gradcheck(f, x, dx, dout=dout) < GRADCHECK_TOL
    # negative control: the gradient without the mask is rejected
    assert gradcheck(f, x, dout / 0.7, dout=dout) > 0.1


def cnn_with_bn_and_dropout():
    return Sequential(Conv2d(2, 4, 3, padding=1, rng=0), BatchNorm2d(4, momentum=0.3), ReLU(),
                      MaxPool2d(2), Flatten(), Dropout(0.4, rng=1), Linear(16, 3, rng=2))


def test_sequential_with_batchnorm_and_dropout_passes_gradient_checks():
    model = cnn_with_bn_and_dropout()
    drop = model[5]
    x = distinct((3, 2, 4, 4), 11)
    y = np.array([0, 2, 1])
    crit = CrossEntropyLoss()

    def loss(v=x):
        drop.rng = np.random.default_rng(12)
        return crit(model(v), y)

    loss()
    dx = model.backward(crit.backward())
    grads = {k: v.copy() for k, v in model.grads.items()}
    assert gradcheck(loss, x, dx) < GRADCHECK_TOL
    for name in ("0.weight", "1.weight", "1.bias", "6.weight"):
        p = model.params[name]

        def loss_at(v, p=p):
            saved = p.copy()
            p[...] = v
            try:
                return loss()
            finally:
                p[...] = saved
        assert gradcheck(loss_at, p, grads[name]) < GRADCHECK_TOL, name


def test_sequential_with_batchnorm_and_dropout_matches_torch_in_both_modes():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class FixedMask(nn.Module):
        """Dropout with the mask our layer drew (torch's generator is another)."""

        def __init__(self):
            super().__init__()
            self.mask = None

        def forward(self, x):
            return x * torch.tensor(self.mask) / (1 - 0.4) if self.training else x

    model = cnn_with_bn_and_dropout()
    fixed = FixedMask()
    tmodel = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.3),
                           nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fixed,
                           nn.Linear(16, 3)).double()
    with torch.no_grad():
        for name, p in tmodel.named_parameters():
            p.copy_(torch.tensor(model.params[name]))
    rng = np.random.default_rng(13)
    crit = CrossEntropyLoss()
    for _ in range(3):   # training: batch statistics, running statistics, gradients
        x, y = rng.standard_normal((5, 2, 4, 4)), rng.integers(0, 3, 5)
        loss = crit(model(x), y)
        fixed.mask = model[5]._cache[0]
        dx = model.backward(crit.backward())
        xt = torch.tensor(x, requires_grad=True)
        tmodel.zero_grad()
        tloss = nn.functional.cross_entropy(tmodel(xt), torch.tensor(y))
        tloss.backward()
        assert float(loss) == pytest.approx(tloss.item(), rel=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        for name, p in tmodel.named_parameters():
            np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=name)
    tbn = tmodel[1]
    np.testing.assert_allclose(model[1].running_mean, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(model[1].running_var, tbn.running_var.numpy(), rtol=1e-12)
    model.eval()
    tmodel.eval()
    x = rng.standard_normal((2, 2, 4, 4))
    with torch.no_grad():
        expected = tmodel(torch.tensor(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-12, atol=1e-12)
    # negative control: evaluating in training mode (batch statistics, dropout) differs
    assert not np.allclose(model.train()(x), expected, rtol=1e-6)


def test_batchnorm_and_dropout_match_torch_layers():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    for mine, theirs in [(BatchNorm2d(16), nn.BatchNorm2d(16)),
                         (BatchNorm2d(3, eps=1e-3, momentum=0.01),
                          nn.BatchNorm2d(3, eps=1e-3, momentum=0.01)),
                         (Dropout(), nn.Dropout()), (Dropout(0.25), nn.Dropout(0.25))]:
        # torch 2.13 prints BatchNorm's new bias= option; earlier versions do not
        assert repr(mine).replace(", bias=True", "") == repr(theirs).replace(", bias=True", "")
    assert repr(BatchNorm2d(4)) == ("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, "
                                    "bias=True, track_running_stats=True)")
    bn, tbn = BatchNorm2d(3), nn.BatchNorm2d(3).double()
    for name, p in tbn.named_parameters():
        np.testing.assert_array_equal(bn.params[name], p.detach().numpy())
    np.testing.assert_array_equal(bn.running_mean, tbn.running_mean.numpy())
    np.testing.assert_array_equal(bn.running_var, tbn.running_var.numpy())
    x = np.random.default_rng(14).normal(1.0, 2.0, (6, 3, 2, 2))
    for _ in range(2):
        out = bn(x)
        tout = tbn(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(out, tout, rtol=1e-12, atol=1e-12)
    bn.eval()
    tbn.eval()
    np.testing.assert_allclose(bn(x), tbn(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


def test_float32_batchnorm_and_dropout_keep_float32():
    model = Sequential(BatchNorm2d(2, dtype=np.float32), Dropout(0.5, rng=0))
    x = distinct((2, 2, 3, 3), 15).astype(np.float32)
    out = model(x)
    assert out.dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert model[0].running_var.dtype == np.float32
    model.eval()
    assert model(x).dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda: BatchNorm2d(0), ValueError, r"num_features must be >= 1, got 0"),
    (lambda: BatchNorm2d(3, momentum=2), ValueError, r"momentum must be in \[0, 1\], got 2.0"),
    (lambda: BatchNorm2d(3, eps=0), ValueError, r"eps must be in \(0, inf\]"),
    (lambda: BatchNorm2d(3, dtype=np.int32), TypeError, r"dtype must be np.float32"),
    (lambda: BatchNorm2d(3)(np.ones((2, 4, 2, 2))), ValueError,
     r"BatchNorm2d\(3, .*\) expects x with 3 channels \(N, 3, H, W\), got shape \(2, 4, 2, 2\)"),
    (lambda: BatchNorm2d(2)(np.ones((1, 2, 1, 1))), ValueError,
     r"Expected more than 1 value per channel when training"),
    (lambda: BatchNorm2d(2).backward(np.ones((2, 2, 2, 2))), RuntimeError,
     r"BatchNorm2d.backward was called before forward"),
    (lambda: Dropout(1.5), ValueError, r"p must be in \[0, 1\]"),
    (lambda: Dropout(0.5, rng="seed"), TypeError, r"rng must be None, an integer seed"),
    (lambda: Dropout().backward(np.ones(2)), RuntimeError, r"Dropout.backward was called before"),
    (lambda: Sequential(ReLU()).train("eval"), TypeError,
     r"mode must be True or False, got 'eval'\. Use model.train\(\) to train and "
     r"model.eval\(\) to evaluate"),
])
def test_mode_layers_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
