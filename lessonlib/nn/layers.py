"""Layers with state, in the style of ``torch.nn``: parameters, forward, backward.

Every layer is called like a function, ``out = layer(x)`` (the same as
``layer.forward(x)``), which also remembers what the backward pass needs.
``dx = layer.backward(dout)`` then returns the gradient with respect to
the input and writes the gradients of the parameters into ``layer.grads``.

``layer.params`` and ``layer.grads`` are dicts with the same keys, named
like PyTorch's ``named_parameters()``: ``"weight"``, ``"bias"``; a
:class:`Sequential` prefixes each with the layer's position, ``"0.weight"``.
An optimiser updates ``params`` in place from ``grads``.

``model.train()`` and ``model.eval()`` switch the layers that behave
differently at test time, :class:`BatchNorm2d` and :class:`Dropout`
(:mod:`lessonlib.nn.normalization`), as in PyTorch.

One difference from PyTorch: ``backward`` *replaces* the gradients instead
of adding to them, so running a notebook cell twice gives the same result.
``zero_grad()`` exists for PyTorch-style training loops.

Initialisation is PyTorch's default (``kaiming_uniform_`` with ``a=sqrt(5)``),
which comes down to weight and bias drawn from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

>>> model = Sequential(Linear(4, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
>>> sorted(model.params)
['0.bias', '0.weight', '2.bias', '2.weight']
"""

from __future__ import annotations

import numpy as np

from .._threads import limited    # one BLAS thread inside lessonlib's calls
from .._validation import as_float_array, check_int
from ..activations import relu, relu_backward
from ..linear import linear, linear_backward
from ..losses import cross_entropy, cross_entropy_backward
from ..pooling import (_max_backward_cache, _max_cache, avg_pool2d, avg_pool2d_backward,
                      check_pool_args)

from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "ReLU", "Flatten", "Linear", "Sequential",
           "CrossEntropyLoss"]


class _PoolBase(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        check_pool_args(kernel_size, stride, padding)  # fail at construction, not later
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_PoolBase):
    """Max pooling layer, like ``torch.nn.MaxPool2d``; see :func:`lessonlib.max_pool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
    """

    def forward(self, x):
        """``x`` (N, C, H, W) -> (N, C, Ho, Wo)."""
        out, self._cache = _max_cache(x, self.kernel_size, self.stride, self.padding)
        return out

    def backward(self, dout):
        """``dout`` (N, C, Ho, Wo) -> ``dx`` (N, C, H, W)."""
        return _max_backward_cache(dout, self._cached())


class AvgPool2d(_PoolBase):
    """Average pooling layer, like ``torch.nn.AvgPool2d``; see :func:`lessonlib.avg_pool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Zero padding, counted in the average.
    """

    def forward(self, x):
        """``x`` (N, C, H, W) -> (N, C, Ho, Wo)."""
        out = avg_pool2d(x, self.kernel_size, self.stride, self.padding)
        self._cache = x
        return out

    def backward(self, dout):
        """``dout`` (N, C, Ho, Wo) -> ``dx`` (N, C, H, W)."""
        return avg_pool2d_backward(dout, self._cached(), self.kernel_size, self.stride,
                                   self.padding)


class ReLU(Module):
    """``max(x, 0)`` element-wise, like ``torch.nn.ReLU``; see :func:`lessonlib.relu`.

    No parameters. ``forward`` keeps ``x``; ``backward(dout)`` returns
    ``dout`` where ``x > 0`` and 0 elsewhere (0 at ``x == 0``, as PyTorch).
    """

    def forward(self, x):
        """``x`` of any shape -> same shape."""
        out = relu(x)
        self._cache = x
        return out

    def backward(self, dout):
        """``dout`` -> ``dout`` where ``x > 0``, else 0."""
        return relu_backward(dout, self._cached())


class Flatten(Module):
    """``(N, C, H, W) -> (N, C*H*W)``, like ``torch.nn.Flatten()``.

    No parameters. ``backward(dout)`` reshapes ``dout`` of shape
    ``(N, C*H*W)`` back to the input's shape ``(N, C, H, W)``.
    """

    def forward(self, x):
        """``x`` (N, ...) -> (N, prod(...))."""
        x = as_float_array(x, "x")
        if x.ndim < 2:
            raise ValueError(f"Flatten expects a batch (N, ...), got shape {x.shape}. "
                             f"For a single example use x[None].")
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        """``dout`` (N, D) -> ``dx`` of the input's shape."""
        shape = self._cached()
        dout = as_float_array(dout, "dout")
        expected = (shape[0], int(np.prod(shape[1:])))
        if dout.shape != expected:
            raise ValueError(f"dout must have the forward output's shape {expected}, got "
                             f"{dout.shape}.")
        return dout.reshape(shape)


class Linear(Module):
    """Fully connected layer ``x @ weight.T + bias``, like ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    rng : None, int or np.random.Generator
    dtype : np.float32 or np.float64, default np.float64

    Attributes
    ----------
    weight : ndarray of shape (out_features, in_features)
    bias : ndarray of shape (out_features,) or None
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float64):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        self._init_params((self.out_features, self.in_features), self.in_features, bias,
                          self.out_features, rng, dtype)

    @limited
    def forward(self, x):
        """``x`` (N, in_features) -> (N, out_features)."""
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"{self!r} expects x of shape (N, {self.in_features}), got {x.shape}. "
                f"Put a Flatten() before it, and check in_features against the "
                f"flattened size.")
        self._cache = x
        return linear(x, self.weight, self.bias)

    @limited
    def backward(self, dout):
        """``dout`` (N, out_features) -> ``dx`` (N, in_features); fills ``grads``."""
        dx, dw, db = linear_backward(dout, self._cached(), self.weight)
        self._set_grads(weight=dw, bias=db)
        return dx

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sequential(Module):
    """A chain of layers: forward runs them in order, backward in reverse.

    Parameters
    ----------
    *layers : layer objects
        Anything with ``forward`` and ``backward`` (and optionally
        ``params``/``grads``), including another Sequential.
        ``model.train()`` and ``model.eval()`` reach every layer that has
        a ``train`` method.

    Attributes
    ----------
    params, grads : dict
        Every layer's entries, prefixed by its position: ``"0.weight"``.
        The arrays are the layers' own, so in-place updates reach them.
    """

    def __init__(self, *layers):
        self._cache = None
        for i, layer in enumerate(layers):
            if isinstance(layer, type):
                raise TypeError(
                    f"Sequential takes layer instances, got the class {layer.__name__} at "
                    f"position {i}. Call it: {layer.__name__}(...), e.g. ReLU().")
            if not (callable(getattr(layer, "forward", None))
                    and callable(getattr(layer, "backward", None))):
                raise TypeError(
                    f"Sequential takes layers (objects with forward and backward), got "
                    f"{type(layer).__name__} at position {i}.")
        self.layers = list(layers)
        self.training = True

    def train(self, mode=True):
        """Set training (or evaluation) mode here and in every layer; return ``self``."""
        super().train(mode)
        for layer in self.layers:
            if callable(getattr(layer, "train", None)):
                layer.train(mode)
        return self

    def _named(self, attr):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, attr, {}).items()}

    @property
    def params(self):
        return self._named("params")

    @property
    def grads(self):
        return self._named("grads")

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    @limited
    def forward(self, x):
        """Run ``x`` through every layer in order."""
        for layer in self.layers:
            x = layer(x)
        return x

    @limited
    def backward(self, dout):
        """Run ``dout`` back through every layer in reverse; return ``dx``."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __repr__(self):
        lines = [f"({i}): " + repr(layer).replace("\n", "\n  ")
                 for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "".join(f"  {line}\n" for line in lines) + ")"


class CrossEntropyLoss(Module):
    """Cross-entropy of logits and integer targets, like ``torch.nn.CrossEntropyLoss``.

    ``loss = crit(logits, targets)`` then ``dlogits = crit.backward()``.

    Examples
    --------
    >>> crit = CrossEntropyLoss()
    >>> round(float(crit(np.zeros((2, 4)), np.array([0, 3]))), 4)
    1.3863
    >>> crit.backward().shape
    (2, 4)
    """

    def forward(self, logits, targets):
        """Mean cross-entropy; see :func:`lessonlib.cross_entropy`."""
        loss = cross_entropy(logits, targets)
        self._cache = (logits, targets)
        return loss

    def backward(self, dout=1.0):
        """Gradient with respect to the logits, times ``dout`` (default 1).

        Returns
        -------
        dlogits : ndarray of shape (N, C)
        """
        logits, targets = self._cached()
        grad = cross_entropy_backward(logits, targets)
        if dout != 1.0:
            grad *= dout
        return grad
