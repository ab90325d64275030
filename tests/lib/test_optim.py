"""SGD, Adam and the one-step functions: hand-computed steps, PyTorch's trajectories, errors."""

import numpy as np
import pytest

from lessonlib import (SGD, Adam, BatchNorm2d, Linear, Sequential, adam_step,
                       momentum_step)


class Toy:
    """A 'model' with two parameters and a quadratic loss 0.5 * sum(A p^2)."""

    def __init__(self, dtype=np.float64):
        self.params = {"weight": np.array([[1.0, -2.0], [3.0, 0.5]], dtype),
                       "bias": np.array([0.25, -1.0], dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def backward(self):
        for k, p in self.params.items():
            self.grads[k][...] = (1.0 + np.arange(p.size).reshape(p.shape)) * p


def test_plain_step_by_hand():
    toy = Toy()
    toy.grads["bias"][...] = [1.0, 2.0]
    SGD(toy, lr=0.5).step()
    assert toy.params["bias"].tolist() == [-0.25, -2.0]


def test_momentum_first_buffer_is_the_gradient_then_accumulates():
    toy = Toy()
    opt = SGD(toy, lr=1.0, momentum=0.9)
    toy.grads["bias"][...] = [1.0, 0.0]
    opt.step()
    assert toy.params["bias"].tolist() == [-0.75, -1.0]      # buf = g = 1
    opt.step()
    assert toy.params["bias"][0] == pytest.approx(-0.75 - 1.9)   # buf = 0.9 * 1 + 1
    # negative control: dampening, buf = 0.9 * buf + (1 - 0.9) * g, would give 1.0
    assert toy.params["bias"][0] != pytest.approx(-0.75 - (0.9 * 1.0 + 0.1 * 1.0))


def test_weight_decay_adds_l2_gradient():
    toy = Toy()
    SGD(toy, lr=0.1, weight_decay=0.5).step()  # grads are 0: only the decay acts
    np.testing.assert_allclose(toy.params["bias"], np.array([0.25, -1.0]) * (1 - 0.05))


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.01),
                                                  (0.5, 0.1)])
def test_trajectory_matches_torch(momentum, weight_decay):
    torch = pytest.importorskip("torch")
    toy = Toy()
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in toy.params.values()]
    opt = SGD(toy, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    topt = torch.optim.SGD(tparams, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    for _ in range(5):
        toy.backward()
        opt.step()
        topt.zero_grad()
        loss = sum(0.5 * ((1.0 + torch.arange(p.numel(), dtype=p.dtype).reshape(p.shape))
                          * p ** 2).sum() for p in tparams)
        loss.backward()
        topt.step()
    for mine, theirs in zip(toy.params.values(), tparams):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_torch_trajectory_rejects_decay_applied_after_momentum():
    """Negative control: a classic mistake gives a different trajectory."""
    torch = pytest.importorskip("torch")
    p = np.array([1.0])
    buf = None
    pt = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([pt], lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        g = 2 * p
        buf = g if buf is None else 0.9 * buf + g
        p = p - 0.1 * (buf + 0.1 * p)  # wrong: decay outside the momentum buffer
        topt.zero_grad()
        (pt ** 2).sum().backward()
        topt.step()
    assert not np.allclose(p, pt.detach().numpy())


def test_updates_in_place_so_layers_see_them():
    model = Sequential(Linear(3, 2, rng=0))
    w = model[0].weight
    before = w.copy()
    model.grads["0.weight"][...] = 1.0
    SGD(model, lr=0.1).step()
    assert model[0].weight is w
    np.testing.assert_allclose(w, before - 0.1)


def test_zero_grad_and_float32_parameters_stay_float32():
    toy = Toy(np.float32)
    toy.backward()
    opt = SGD(toy, lr=0.1, momentum=0.9, weight_decay=1e-3)
    opt.step()
    assert all(p.dtype == np.float32 for p in toy.params.values())
    opt.zero_grad()
    assert all(not g.any() for g in toy.grads.values())
    assert repr(opt) == "SGD(lr=0.1, momentum=0.9, weight_decay=0.001)"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(lr=-0.1), ValueError, r"lr must be a finite number >= 0, got -0.1"),
    (dict(lr=0), ValueError, r"lr must be > 0, got 0.0"),
    (dict(lr="0.1"), TypeError, r"lr must be a number, got '0.1'"),
    (dict(lr=float("nan")), ValueError, r"lr must be a finite number"),
    (dict(lr=0.1, momentum=1.0), ValueError, r"momentum must be < 1"),
    (dict(lr=0.1, momentum=-0.5), ValueError, r"momentum must be a finite number >= 0"),
    (dict(lr=0.1, weight_decay=-1), ValueError, r"weight_decay must be a finite number >= 0"),
])
def test_bad_hyper_parameters_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SGD(Toy(), **kwargs)


def test_bad_model_and_gradient_shapes_are_refused():
    with pytest.raises(TypeError, match=r"model must have .params and .grads.*not model.params"):
        SGD({"w": np.ones(2)}, lr=0.1)
    toy = Toy()
    toy.grads["bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"grads\['bias'\] has shape \(3,\) but the parameter "
                                         r"has \(2,\)"):
        SGD(toy, lr=0.1).step()


# ---------------------------------------------------------------- momentum_step

def frozen(*arrays):
    """Read-only copies: a function that writes into its inputs raises."""
    out = []
    for a in arrays:
        a = np.array(a, dtype=float)
        a.flags.writeable = False
        out.append(a)
    return out


def test_momentum_step_by_hand_two_steps():
    p, v = frozen([1.0, -2.0], [0.0, 0.0])
    p1, v1 = momentum_step(p, *frozen([1.0, 0.5]), v, lr=0.1, momentum=0.9)
    assert v1.tolist() == [1.0, 0.5]                               # v = 0.9 * 0 + g
    np.testing.assert_allclose(p1, [0.9, -2.05], rtol=1e-15)
    p2, v2 = momentum_step(p1, *frozen([-1.0, 0.5]), v1, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(v2, [-0.1, 0.95], rtol=1e-14)       # 0.9 * v + g
    np.testing.assert_allclose(p2, [0.91, -2.145], rtol=1e-14)
    assert p.tolist() == [1.0, -2.0] and v.tolist() == [0.0, 0.0]  # inputs untouched


def test_momentum_step_zero_is_plain_sgd_and_float32_stays_float32():
    p, g = np.array([1.0, 2.0], np.float32), np.array([0.5, -1.0], np.float32)
    p1, v1 = momentum_step(p, g, np.zeros_like(p), lr=0.1, momentum=0.0)
    np.testing.assert_allclose(p1, p - 0.1 * g)
    assert p1.dtype == v1.dtype == np.float32
    assert p1 is not p and v1 is not g


def test_momentum_step_follows_the_sgd_class():
    toy = Toy()
    opt = SGD(toy, lr=0.05, momentum=0.8)
    mine = {k: v.copy() for k, v in toy.params.items()}
    vel = {k: np.zeros_like(v) for k, v in mine.items()}
    for _ in range(6):
        toy.backward()
        grads = {k: (1.0 + np.arange(p.size).reshape(p.shape)) * p for k, p in mine.items()}
        for k in mine:
            mine[k], vel[k] = momentum_step(mine[k], grads[k], vel[k], lr=0.05, momentum=0.8)
        opt.step()
    for k in mine:
        np.testing.assert_allclose(mine[k], toy.params[k], rtol=1e-14, atol=1e-15)


def test_momentum_step_follows_torch_sgd():
    torch = pytest.importorskip("torch")
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.05, momentum=0.8)
    q, v = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(6):
        topt.zero_grad()
        (p ** 4).sum().backward()
        topt.step()
        q, v = momentum_step(q, 4 * q ** 3, v, lr=0.05, momentum=0.8)
    np.testing.assert_allclose(q, p.detach().numpy(), rtol=1e-13)
    # negative control: dampening, v = 0.8 * v + (1 - 0.8) * g, is another trajectory
    q2, v2 = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(6):
        v2 = 0.8 * v2 + 0.2 * 4 * q2 ** 3
        q2 = q2 - 0.05 * v2
    assert not np.allclose(q2, p.detach().numpy())


# ---------------------------------------------------------------- adam_step

def test_adam_step_by_hand_two_steps():
    # g1 = 1: m = 0.1, v = 0.001; m_hat = 0.1 / 0.1 = 1, v_hat = 0.001 / 0.001 = 1
    # g2 = -1: m = 0.09 - 0.1 = -0.01, v = 0.000999 + 0.001 = 0.001999
    #          m_hat = -0.01 / 0.19 = -1/19, v_hat = 0.001999 / (1 - 0.998001) = 1
    p, m, v = frozen([2.0], [0.0], [0.0])
    p1, m1, v1 = adam_step(p, *frozen([1.0]), m, v, 1, lr=0.1)
    np.testing.assert_allclose(m1, [0.1], rtol=1e-15)
    np.testing.assert_allclose(v1, [0.001], rtol=1e-14)
    np.testing.assert_allclose(p1, [2.0 - 0.1 / (1 + 1e-8)], rtol=1e-15)
    p2, m2, v2 = adam_step(p1, *frozen([-1.0]), m1, v1, 2, lr=0.1)
    np.testing.assert_allclose(m2, [-0.01], rtol=1e-13)
    np.testing.assert_allclose(v2, [0.001999], rtol=1e-13)
    np.testing.assert_allclose(p2, p1 + 0.1 * (1 / 19) / (1 + 1e-8), rtol=1e-14)
    assert (p.tolist(), m.tolist(), v.tolist()) == ([2.0], [0.0], [0.0])


def test_adam_moves_each_entry_by_about_lr_whatever_the_gradient_scale():
    p = np.zeros(3)
    m, v = np.zeros(3), np.zeros(3)
    g = np.array([1e-4, 1.0, -1e4])
    for t in range(1, 4):
        p, m, v = adam_step(p, g, m, v, t, lr=0.01)
        np.testing.assert_allclose(p, -0.01 * t * np.sign(g), rtol=1e-3)
    # negative control: without the bias correction the first step is about
    # 0.1 / sqrt(0.001) = 3.16 times too large
    uncorrected = -0.01 * (0.1 * g) / (np.sqrt(0.001 * g ** 2) + 1e-8)
    np.testing.assert_allclose(uncorrected, -0.0316 * np.sign(g), rtol=0.01)


def test_adam_step_keeps_float32():
    p = np.ones(2, np.float32)
    out = adam_step(p, np.ones(2), np.zeros(2, np.float32), np.zeros(2, np.float32), 1)
    assert all(a.dtype == np.float32 for a in out)


# ---------------------------------------------------------------- Adam

def torch_quadratic_trajectory(torch, toy_params, steps, **kwargs):
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in toy_params.values()]
    topt = torch.optim.Adam(tparams, **kwargs)
    for _ in range(steps):
        topt.zero_grad()
        loss = sum(0.5 * ((1.0 + torch.arange(p.numel(), dtype=p.dtype).reshape(p.shape))
                          * p ** 2).sum() for p in tparams)
        loss.backward()
        topt.step()
    return [p.detach().numpy() for p in tparams]


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.05, betas=(0.8, 0.99)),
                                    dict(lr=0.1, weight_decay=0.1),
                                    dict(lr=0.01, eps=1e-3, weight_decay=0.01)])
def test_adam_trajectory_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    toy = Toy()
    expected = torch_quadratic_trajectory(torch, toy.params, 8, **kwargs)
    opt = Adam(toy, **kwargs)
    for _ in range(8):
        toy.backward()
        opt.step()
    for mine, theirs in zip(toy.params.values(), expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    assert all(s["step"] == 8 for s in opt.state.values())


def test_adam_without_bias_correction_differs_from_torch_at_step_one():
    """Negative control: the comparison with torch catches a missing bias correction."""
    torch = pytest.importorskip("torch")
    toy = Toy()
    expected = torch_quadratic_trajectory(torch, toy.params, 1, lr=0.1)
    toy.backward()
    for (name, p), theirs in zip(toy.params.items(), expected):
        g = toy.grads[name]
        uncorrected = p - 0.1 * (0.1 * g) / (np.sqrt(0.001 * g * g) + 1e-8)
        assert not np.allclose(uncorrected, theirs, rtol=1e-3), name
        np.testing.assert_allclose(adam_step(p, g, 0 * p, 0 * p, 1, lr=0.1)[0], theirs,
                                   rtol=1e-12)


def test_adam_updates_in_place_keeps_float32_and_skips_buffers():
    model = Sequential(Linear(3, 2, rng=0, dtype=np.float32), BatchNorm2d(2, dtype=np.float32))
    w = model[0].weight
    before, running = w.copy(), model[1].running_var
    for g in model.grads.values():
        g[...] = 1.0
    opt = Adam(model, lr=0.1, weight_decay=1e-3)
    opt.step()
    assert model[0].weight is w and w.dtype == np.float32
    np.testing.assert_allclose(w, before - 0.1 * (1 + 1e-3 * before) / (np.abs(1 + 1e-3 * before)
                                                                      + 1e-8), rtol=1e-5)
    assert model[1].running_var is running and running.tolist() == [1.0, 1.0]
    assert sorted(opt.state) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    opt.zero_grad()
    assert all(not g.any() for g in model.grads.values())
    assert repr(opt) == "Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.001)"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(lr=0), ValueError, r"lr must be > 0, got 0.0"),
    (dict(lr=-1e-3), ValueError, r"lr must be a finite number >= 0, got -0.001"),
    (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be < 1, got 1.0"),
    (dict(betas=(-0.1, 0.999)), ValueError, r"betas\[0\] must be a finite number >= 0"),
    (dict(betas=0.9), TypeError, r"betas must be a pair \(beta1, beta2\) such as \(0.9, 0.999\)"),
    (dict(eps=-1.0), ValueError, r"eps must be a finite number >= 0, got -1.0"),
    (dict(weight_decay=-1), ValueError, r"weight_decay must be a finite number >= 0"),
])
def test_adam_refuses_bad_hyper_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Adam(Toy(), **kwargs)
    with pytest.raises(TypeError, match=r"model must have .params and .grads"):
        Adam([np.ones(2)])


P = np.ones(3)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: momentum_step(P, np.ones(2), P, 0.1), ValueError,
     r"grad must have the shape of param \(3,\), got \(2,\)"),
    (lambda: momentum_step(P, P, np.ones(4), 0.1), ValueError,
     r"velocity must have the shape of param \(3,\), got \(4,\).*np.zeros_like\(param\)"),
    (lambda: momentum_step(P, P, P, lr=0), ValueError, r"lr must be > 0"),
    (lambda: momentum_step(P, P, P, 0.1, momentum=1.0), ValueError, r"momentum must be < 1"),
    (lambda: adam_step(P, P, P, P, 0), ValueError,
     r"t must be >= 1, got 0: t is the 1-based step count"),
    (lambda: adam_step(P, P, P, P, 1.0), TypeError, r"t must be an integer, got 1.0"),
    (lambda: adam_step(P, P, np.ones(2), P, 1), ValueError,
     r"m must have the shape of param \(3,\), got \(2,\)"),
    (lambda: adam_step(P, P, P, P, 1, betas=(0.9,)), TypeError, r"betas must be a pair"),
    (lambda: adam_step(P, P, P, P, 1, lr="fast"), TypeError, r"lr must be a number, got 'fast'"),
])
def test_step_functions_name_the_problem(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
