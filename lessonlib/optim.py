"""Stochastic gradient descent with momentum and weight decay (``torch.optim.SGD``).

For each parameter ``p`` with gradient ``g``, one :meth:`SGD.step` does::

    g = g + weight_decay * p                # L2 penalty, if weight_decay > 0
    buf = g              on the first step  # momentum buffer, if momentum > 0
    buf = momentum * buf + g   afterwards
    p  -= lr * buf                          # (buf = g without momentum)

exactly PyTorch's update (dampening 0, no Nesterov). Parameters change in
place, so the layers holding them see the new values.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["SGD"]


def _check_rate(value, name, hint):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}. {hint}")
    return value


class SGD:
    """Stochastic gradient descent over a model's ``.params`` and ``.grads``.

    Parameters
    ----------
    model : object with ``params`` and ``grads`` dicts
        A layer or a :class:`lessonlib.Sequential`; both dicts have the
        same keys (``"0.weight"``, ...) and arrays of the same shapes.
    lr : float
        Learning rate, > 0.
    momentum : float, default 0.0
        Momentum factor in ``[0, 1)``; 0.9 is the usual choice.
    weight_decay : float, default 0.0
        L2 penalty added to every gradient (biases included, as in PyTorch).

    Examples
    --------
    >>> from lessonlib import Linear
    >>> layer = Linear(3, 2, rng=0)
    >>> opt = SGD(layer, lr=0.1, momentum=0.9)
    >>> layer.grads["bias"][:] = 1.0
    >>> before = layer.bias.copy()
    >>> opt.step()
    >>> (before - layer.bias).round(6).tolist()
    [0.1, 0.1]
    """

    def __init__(self, model, lr, momentum=0.0, weight_decay=0.0):
        if not (hasattr(model, "params") and hasattr(model, "grads")):
            raise TypeError(
                f"model must have .params and .grads (a layer or a Sequential), got "
                f"{type(model).__name__}. Pass the model itself, not model.params."
            )
        self.model = model
        self.lr = _check_rate(lr, "lr", "Try 0.01 to 0.1.")
        if self.lr == 0:
            raise ValueError("lr must be > 0, got 0.0: the parameters would never change. "
                             "Try 0.01 to 0.1.")
        self.momentum = _check_rate(momentum, "momentum", "Use 0 (none) or about 0.9.")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {self.momentum!r}: the updates "
                             f"would grow without bound. Use about 0.9.")
        self.weight_decay = _check_rate(weight_decay, "weight_decay", "Try 1e-4 or 0.")
        #: Momentum buffers, one per parameter name, created on the first step.
        self.state = {}

    def step(self):
        """Update every parameter in place from its current gradient."""
        params, grads = self.model.params, self.model.grads
        for name, p in params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{name!r}] has shape {g.shape} but the parameter has "
                    f"{p.shape}. A backward pass must fill gradients of the same shape."
                )
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                buf = self.state.get(name)
                if buf is None:
                    buf = self.state[name] = np.array(g, dtype=p.dtype)
                else:
                    buf *= self.momentum
                    buf += g
                g = buf
            p -= (self.lr * g).astype(p.dtype, copy=False)

    def zero_grad(self):
        """Set every gradient to 0 (in place)."""
        for g in self.model.grads.values():
            g[...] = 0

    def __repr__(self):
        return (f"SGD(lr={self.lr:g}, momentum={self.momentum:g}, "
                f"weight_decay={self.weight_decay:g})")
