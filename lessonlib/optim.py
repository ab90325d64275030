"""Optimisers: SGD with momentum (``torch.optim.SGD``) and Adam (``torch.optim.Adam``).

For each parameter ``p`` with gradient ``g``, one :meth:`SGD.step` does::

    g = g + weight_decay * p                # L2 penalty, if weight_decay > 0
    buf = g              on the first step  # momentum buffer, if momentum > 0
    buf = momentum * buf + g   afterwards
    p  -= lr * buf                          # (buf = g without momentum)

exactly PyTorch's update (dampening 0, no Nesterov). Parameters change in
place, so the layers holding them see the new values.

:func:`momentum_step` and :func:`adam_step` are the same updates for one
array, written as pure functions: they return new arrays and change none
of their inputs. :class:`Adam` applies :func:`adam_step` to every
parameter of a model.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_array, check_int

__all__ = ["SGD", "Adam", "momentum_step", "adam_step"]


def _check_rate(value, name, hint):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}. {hint}")
    return value


def _check_model(model):
    if not (hasattr(model, "params") and hasattr(model, "grads")):
        raise TypeError(
            f"model must have .params and .grads (a layer or a Sequential), got "
            f"{type(model).__name__}. Pass the model itself, not model.params."
        )
    return model


def _grad_of(grads, name, p):
    g = grads[name]
    if g.shape != p.shape:
        raise ValueError(
            f"grads[{name!r}] has shape {g.shape} but the parameter has "
            f"{p.shape}. A backward pass must fill gradients of the same shape."
        )
    return g


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
        self.model = _check_model(model)
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
            g = _grad_of(grads, name, p)
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


# ---------------------------------------------------------------- one array, one step

def _check_lr(lr):
    lr = _check_rate(lr, "lr", "Try 1e-3 for Adam, 0.01 to 0.1 for SGD.")
    if lr == 0:
        raise ValueError("lr must be > 0, got 0.0: the parameters would never change. "
                         "Try 1e-3 for Adam, 0.01 to 0.1 for SGD.")
    return lr


def _check_factor(value, name, fix):
    """A momentum or a beta: a number in [0, 1)."""
    value = _check_rate(value, name, fix)
    if value >= 1:
        raise ValueError(f"{name} must be < 1, got {value!r}: the average would never "
                         f"forget the first gradients. {fix}")
    return value


def _check_betas(betas):
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise TypeError(f"betas must be a pair (beta1, beta2) such as (0.9, 0.999), got "
                        f"{betas!r}.")
    return tuple(_check_factor(b, f"betas[{i}]", "The defaults are (0.9, 0.999).")
                 for i, b in enumerate(betas))


def _same_shape(param, **arrays):
    """``param`` and the others as float arrays, all of ``param``'s shape."""
    param = as_float_array(param, "param")
    out = [param]
    for name, value in arrays.items():
        value = as_float_array(value, name)
        if value.shape != param.shape:
            raise ValueError(
                f"{name} must have the shape of param {param.shape}, got {value.shape}. "
                f"Every parameter has its own {name} of its own shape"
                + (" (start with np.zeros_like(param))." if name != "grad" else ".")
            )
        out.append(value)
    return out


def momentum_step(param, grad, velocity, lr, momentum=0.9):
    """One step of SGD with momentum, PyTorch's convention, as a pure function.

    ::

        velocity = momentum * velocity + grad
        param    = param - lr * velocity

    Start with ``velocity = np.zeros_like(param)``. PyTorch starts its
    buffer at the first gradient instead; that is the same thing, since
    ``momentum * 0 + grad = grad``. (Some texts write
    ``v = momentum * v - lr * grad; param += v``: the same path for a
    constant ``lr``, but a differently scaled velocity.)

    Parameters
    ----------
    param : ndarray of any shape
        The parameter, e.g. a weight of shape (C_out, C_in, kH, kW).
    grad : ndarray of the same shape as param
        Gradient of the loss with respect to ``param``.
    velocity : ndarray of the same shape as param
        The velocity after the previous step (zeros before the first).
    lr : float
        Learning rate, > 0.
    momentum : float, default 0.9
        In [0, 1); 0 gives plain SGD.

    Returns
    -------
    new_param : ndarray of the same shape and dtype as param
    new_velocity : ndarray of the same shape and dtype as param
        Neither input is modified.

    Examples
    --------
    >>> p, v = np.array([1.0]), np.zeros(1)
    >>> p, v = momentum_step(p, np.array([1.0]), v, lr=0.1)
    >>> p, v = momentum_step(p, np.array([1.0]), v, lr=0.1)   # v = 0.9 * 1 + 1
    >>> p.round(6), v.round(6)
    (array([0.71]), array([1.9]))
    """
    param, grad, velocity = _same_shape(param, grad=grad, velocity=velocity)
    lr = _check_lr(lr)
    momentum = _check_factor(momentum, "momentum", "Use 0 (none) or about 0.9.")
    new_velocity = momentum * velocity + grad
    new_param = param - lr * new_velocity
    return new_param.astype(param.dtype, copy=False), new_velocity.astype(param.dtype, copy=False)


def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step with bias correction, as ``torch.optim.Adam``, as a pure function.

    ::

        m = beta1 * m + (1 - beta1) * grad          # running mean of the gradient
        v = beta2 * v + (1 - beta2) * grad ** 2     # ... and of its square
        m_hat = m / (1 - beta1 ** t)                # bias correction: m and v
        v_hat = v / (1 - beta2 ** t)                # start at 0
        param = param - lr * m_hat / (sqrt(v_hat) + eps)

    Start with ``m = v = np.zeros_like(param)`` and ``t = 1``. Without the
    bias correction the first steps would be far too large or small
    (``m`` is only ``(1 - beta1) * grad`` after one step).

    Parameters
    ----------
    param : ndarray of any shape
        The parameter, e.g. a weight of shape (out_features, in_features).
    grad : ndarray of the same shape as param
        Gradient of the loss (plus any weight decay) with respect to ``param``.
    m, v : ndarray of the same shape as param
        First and second moment estimates after the previous step.
    t : int
        The 1-based number of this step: 1 on the first call.
    lr : float, default 1e-3
        Learning rate, > 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of ``m`` and ``v``, each in [0, 1).
    eps : float, default 1e-8
        Added to ``sqrt(v_hat)``, >= 0.

    Returns
    -------
    new_param : ndarray of the same shape and dtype as param
    new_m, new_v : ndarray of the same shape and dtype as param
        No input is modified.

    Examples
    --------
    With a constant gradient, ``m_hat = grad`` and ``v_hat = grad ** 2``:
    every step moves by about ``lr``, whatever the gradient's size.

    >>> p, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    >>> for t in (1, 2):
    ...     p, m, v = adam_step(p, np.array([1e-3]), m, v, t, lr=0.1)
    >>> p.round(4)
    array([0.8])
    """
    param, grad, m, v = _same_shape(param, grad=grad, m=m, v=v)
    t = check_int(t, "t")
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}: t is the 1-based step count, 1 on the "
                         f"first step (the bias correction divides by 1 - beta ** t).")
    lr = _check_lr(lr)
    beta1, beta2 = _check_betas(betas)
    eps = _check_rate(eps, "eps", "The default is 1e-8.")
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * (grad * grad)
    m_hat = new_m / (1 - beta1 ** t)
    v_hat = new_v / (1 - beta2 ** t)
    new_param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    dtype = param.dtype
    return (new_param.astype(dtype, copy=False), new_m.astype(dtype, copy=False),
            new_v.astype(dtype, copy=False))


class Adam:
    """Adam over a model's ``.params`` and ``.grads``, like ``torch.optim.Adam``.

    Each :meth:`step` applies :func:`adam_step` to every parameter, after
    adding ``weight_decay * param`` to its gradient (L2, as torch.optim.Adam;
    not the decoupled decay of AdamW). Parameters change in place.

    Parameters
    ----------
    model : object with ``params`` and ``grads`` dicts
        A layer or a :class:`lessonlib.Sequential`.
    lr : float, default 1e-3
        Learning rate, > 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to ``sqrt(v_hat)``, >= 0.
    weight_decay : float, default 0
        L2 penalty added to every gradient.

    Attributes
    ----------
    state : dict
        Per parameter name, ``{"step": t, "exp_avg": m, "exp_avg_sq": v}``
        (PyTorch's names), with m and v of the parameter's shape (C_out, ...).

    Examples
    --------
    >>> from lessonlib import Linear
    >>> layer = Linear(3, 2, rng=0)
    >>> opt = Adam(layer, lr=0.01)
    >>> layer.grads["bias"][:] = [5.0, -1e-3]
    >>> before = layer.bias.copy()
    >>> opt.step()          # the first step moves each entry by lr, against its gradient
    >>> (before - layer.bias).round(6).tolist()
    [0.01, -0.01]
    """

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        self.model = _check_model(model)
        self.lr = _check_lr(lr)
        self.betas = _check_betas(betas)
        self.eps = _check_rate(eps, "eps", "The default is 1e-8.")
        self.weight_decay = _check_rate(weight_decay, "weight_decay", "Try 1e-4 or 0.")
        self.state = {}

    def step(self):
        """Update every parameter in place from its current gradient."""
        params, grads = self.model.params, self.model.grads
        for name, p in params.items():
            g = _grad_of(grads, name, p)
            if self.weight_decay:
                g = g + self.weight_decay * p
            state = self.state.get(name)
            if state is None:
                state = {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
            t = state["step"] + 1
            new_p, m, v = adam_step(p, g, state["exp_avg"], state["exp_avg_sq"], t,
                                    self.lr, self.betas, self.eps)
            p[...] = new_p        # in place: the layers holding p see the new values
            self.state[name] = {"step": t, "exp_avg": m, "exp_avg_sq": v}

    def zero_grad(self):
        """Set every gradient to 0 (in place)."""
        for g in self.model.grads.values():
            g[...] = 0

    def __repr__(self):
        return (f"Adam(lr={self.lr:g}, betas=({self.betas[0]:g}, {self.betas[1]:g}), "
                f"eps={self.eps:g}, weight_decay={self.weight_decay:g})")
