"""SGD: hand-computed steps, PyTorch's trajectory, in-place updates, errors."""

import numpy as np
import pytest

from lessonlib import SGD, Linear, Sequential


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
