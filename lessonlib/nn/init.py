"""Weight initialisation: Kaiming (He) normal against "small random numbers".

A layer's output is a sum of ``fan_in`` products ``w * x``. With weights
of standard deviation ``std`` its variance is ``fan_in * std**2 * E[x**2]``,
and a ReLU keeps half of it. So ``std = sqrt(2 / fan_in)`` (Kaiming He et
al., 2015) keeps the activations' scale from layer to layer, while a fixed
``std = 0.01`` multiplies it by ``0.01 * sqrt(fan_in / 2)`` at each layer:
after ten layers nothing is left, and the gradients vanish with it.

Both draw ``std * rng.standard_normal(shape)``, exactly: a student's
version with a generator in the same state gives the same weights, which
the course's checks rely on.

>>> fan_in((16, 3, 3, 3))        # C_in * kH * kW
27
>>> w = kaiming_normal((64, 27), rng=0)
>>> np.array_equal(w, np.sqrt(2 / 27) * np.random.default_rng(0).standard_normal((64, 27)))
True
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_generator, float_dtype
from .conv import Conv2d
from .layers import Linear, Sequential

__all__ = ["fan_in", "kaiming_normal", "naive_normal", "init_model", "activation_stats"]


def _check_shape(shape):
    if isinstance(shape, np.ndarray) or not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of ints such as weight.shape, got "
                        f"{type(shape).__name__}. Pass the weight's shape, not the weight.")
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_))
               and n >= 1 for n in shape):
        raise ValueError(f"shape must hold positive integers, got {tuple(shape)!r}.")
    return tuple(int(n) for n in shape)


def _check_positive(value, name, fix):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}. {fix}")
    return float(value)


def fan_in(shape):
    """The number of inputs each output of a layer sums over.

    Parameters
    ----------
    shape : tuple of int
        A weight's shape: of shape (out_features, in_features) for a
        Linear layer, (C_out, C_in // groups, kH, kW) for a Conv2d.

    Returns
    -------
    int
        ``in_features``, or ``C_in // groups * kH * kW`` (as PyTorch's
        ``_calculate_fan_in_and_fan_out``).

    Raises
    ------
    ValueError
        For a shape with other than 2 or 4 entries.

    Examples
    --------
    >>> fan_in((10, 128)), fan_in((32, 16, 3, 3)), fan_in((8, 2, 3, 3))   # the last: groups=4
    (128, 144, 18)
    """
    shape = _check_shape(shape)
    if len(shape) not in (2, 4):
        raise ValueError(
            f"shape must have 2 entries (out_features, in_features) or 4 (C_out, "
            f"C_in // groups, kH, kW), got {len(shape)}: {shape!r}. Pass a Linear or "
            f"Conv2d weight's shape."
        )
    return int(np.prod(shape[1:]))


def kaiming_normal(shape, rng=None, gain=np.sqrt(2), dtype=np.float64):
    """Kaiming (He) normal initialisation, ``std = gain / sqrt(fan_in)``.

    Drawn exactly as ``std * rng.standard_normal(shape)`` (in float64, then
    cast to ``dtype``); the same as ``torch.nn.init.kaiming_normal_`` with
    its defaults (mode ``"fan_in"``, gain ``sqrt(2)`` for ReLU), in
    distribution.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape, of shape (out_features, in_features) or
        (C_out, C_in // groups, kH, kW); see :func:`fan_in`.
    rng : None, int or np.random.Generator
    gain : float, default sqrt(2)
        ``sqrt(2)`` for ReLU; 1 for a layer with no nonlinearity after it.
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    weight : ndarray of the given shape

    Examples
    --------
    >>> w = kaiming_normal((256, 3, 5, 5), rng=0)
    >>> round(float(w.std() * np.sqrt(75 / 2)), 1)
    1.0
    """
    std = _check_positive(gain, "gain", "Use np.sqrt(2) for ReLU.") / np.sqrt(fan_in(shape))
    dtype = float_dtype(dtype)
    return (std * as_generator(rng).standard_normal(shape)).astype(dtype, copy=False)


def naive_normal(shape, std=0.01, rng=None, dtype=np.float64):
    """"Small random numbers": ``std * rng.standard_normal(shape)``, whatever the fan-in.

    The initialisation of early neural-network tutorials; fine for one or
    two layers, vanishing activations for a deep ReLU network.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape, e.g. of shape (C_out, C_in, kH, kW).
    std : float, default 0.01
        Standard deviation, > 0.
    rng : None, int or np.random.Generator
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    weight : ndarray of the given shape

    Examples
    --------
    >>> naive_normal((2, 3), rng=0).round(4)
    array([[ 0.0013, -0.0013,  0.0064],
           [ 0.001 , -0.0054,  0.0036]])
    """
    std = _check_positive(std, "std", "0.01 is the classic choice.")
    shape, dtype = _check_shape(shape), float_dtype(dtype)
    return (std * as_generator(rng).standard_normal(shape)).astype(dtype, copy=False)


def _layers(model):
    if isinstance(model, Sequential):
        for layer in model:
            yield from _layers(layer)
    else:
        yield model


def init_model(model, scheme="kaiming", rng=None, std=0.01):
    """Re-initialise every Conv2d and Linear weight of a model in place; biases to 0.

    The layers are visited in order (nested Sequentials included), each
    weight drawn from the one generator. Other layers (ConvTranspose2d,
    BatchNorm2d, ...) are left as they are.

    Parameters
    ----------
    model : Sequential or layer
        A model whose Conv2d weights are of shape (C_out, C_in // groups,
        kH, kW) and Linear weights (out_features, in_features).
    scheme : {"kaiming", "naive"}, default "kaiming"
        :func:`kaiming_normal` or :func:`naive_normal`.
    rng : None, int or np.random.Generator
    std : float, default 0.01
        The standard deviation of the ``"naive"`` scheme.

    Returns
    -------
    model
        The same model, for chaining: ``init_model(make_cnn(), "naive", rng=0)``.

    Examples
    --------
    >>> from lessonlib import ReLU
    >>> model = init_model(Sequential(Linear(4, 3), ReLU(), Linear(3, 2)), "naive", rng=0)
    >>> float(abs(model[0].weight).max()) < 0.05, model[2].bias.tolist()
    (True, [0.0, 0.0])
    """
    if scheme not in ("kaiming", "naive"):
        raise ValueError(f"scheme must be 'kaiming' or 'naive', got {scheme!r}.")
    rng = as_generator(rng)
    for layer in _layers(model):
        if isinstance(layer, (Conv2d, Linear)):
            w = layer.weight
            if scheme == "kaiming":
                w[...] = kaiming_normal(w.shape, rng, dtype=w.dtype)
            else:
                w[...] = naive_normal(w.shape, std, rng, dtype=w.dtype)
            if layer.bias is not None:
                layer.bias[...] = 0
    return model


def activation_stats(model, x):
    """Mean and standard deviation of each layer's output, for one forward pass.

    Parameters
    ----------
    model : Sequential
        Its layers are run one after the other on ``x``.
    x : ndarray of shape (N, C, H, W)
        Input batch (or whatever the first layer takes).

    Returns
    -------
    list of (str, float, float)
        ``(name, mean, std)`` per layer, the name as ``"3: ReLU"`` (position
        and class).

    Examples
    --------
    >>> from lessonlib import ReLU
    >>> model = Sequential(Linear(2, 2, rng=0), ReLU())
    >>> [name for name, mean, std in activation_stats(model, np.ones((4, 2)))]
    ['0: Linear', '1: ReLU']
    """
    stats = []
    for i, layer in enumerate(model):
        x = layer(x)
        stats.append((f"{i}: {type(layer).__name__}", float(np.mean(x)), float(np.std(x))))
    return stats
