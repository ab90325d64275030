"""The base class of every layer.

A layer is a :class:`Module`: ``params`` and ``grads`` dicts with the same
keys, ``forward`` (also reached by calling the layer) and ``backward``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, as_generator, float_dtype

__all__ = ["Module"]


class Module:
    """Base class: ``params``/``grads`` dicts, ``layer(x)`` calls ``forward``.

    ``training`` is True (training mode) until ``eval()`` is called, as in
    PyTorch; only layers that behave differently at test time (batch
    normalisation, dropout) look at it.
    """

    #: Training mode (True) or evaluation mode (False); see :meth:`train`.
    training = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self._cache = None
        self.training = True

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode; return ``self``.

        Like ``torch.nn.Module.train``: ``model.train()`` before training,
        ``model.eval()`` before measuring accuracy.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be True or False, got {mode!r}. Use model.train() "
                            f"to train and model.eval() to evaluate.")
        self.training = bool(mode)
        return self

    def eval(self):
        """Set evaluation mode, the same as ``train(False)``; return ``self``."""
        return self.train(False)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def zero_grad(self):
        """Set every gradient to 0 (in place)."""
        for g in self.grads.values():
            g[...] = 0

    def _cached(self):
        if self._cache is None:
            name = type(self).__name__
            raise RuntimeError(
                f"{name}.backward was called before forward. Run out = layer(x) first: "
                f"the backward pass needs what the forward pass saw."
            )
        return self._cache

    def _init_params(self, weight_shape, fan_in, bias, n_out, rng, dtype):
        """PyTorch's default init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        rng, dtype = as_generator(rng), float_dtype(dtype)
        bound = 1.0 / np.sqrt(fan_in)
        self.params["weight"] = rng.uniform(-bound, bound, weight_shape).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, n_out).astype(dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    @property
    def weight(self):
        """The weight array (``params["weight"]``)."""
        return self.params["weight"]

    @property
    def bias(self):
        """The bias array, or None for a layer built with ``bias=False``."""
        return self.params.get("bias")

    def _set_grads(self, **grads):
        for name, value in grads.items():
            if name in self.grads:
                self.grads[name][...] = value

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def check_input(layer, x, channels, what):
    x = as_float_array(x, "x", ndim=4, hint="Layout is (N, C, H, W): for one image use x[None].")
    if x.shape[1] != channels:
        raise ValueError(
            f"{layer!r} expects x with {channels} {what} (N, {channels}, H, W), got shape "
            f"{x.shape}. Check the out_channels of the layer before."
        )
    return x


