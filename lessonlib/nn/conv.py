"""Convolution layers: :class:`Conv2d` and :class:`ConvTranspose2d` (``torch.nn`` style).

Both hold ``params["weight"]`` and ``params["bias"]`` initialised as in
PyTorch, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and call the functions of
:mod:`lessonlib.conv` and :mod:`lessonlib.conv_transpose`.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_pair, check_int, padding_sides
from ..conv import conv2d, conv2d_backward
from ..conv_transpose import conv_transpose2d, conv_transpose2d_backward
from .module import Module, check_input

__all__ = ["Conv2d", "ConvTranspose2d"]


class _ConvBase(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        self.groups = check_int(groups, "groups", 1)
        for name, value in (("in_channels", self.in_channels),
                            ("out_channels", self.out_channels)):
            if value % self.groups:
                raise ValueError(f"{name}={value} must be divisible by groups={self.groups}. "
                                 f"Use a multiple of groups.")
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = as_pair(stride, "stride")
        self.dilation = as_pair(dilation, "dilation")
        sides = padding_sides(padding, kernel_hw=self.kernel_size, stride=self.stride,
                              dilation=self.dilation)
        self.padding = padding if isinstance(padding, str) else (sides[0], sides[2])

    def _hyper(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvBase):
    """2-D convolution layer, like ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), "valid", "same" or "full", default 0
    dilation : int or (int, int), default 1
    groups : int, default 1
    bias : bool, default True
    rng : None, int or np.random.Generator
        Source of the initial weights.
    dtype : np.float32 or np.float64, default np.float64

    Attributes
    ----------
    weight : ndarray of shape (out_channels, in_channels // groups, kH, kW)
    bias : ndarray of shape (out_channels,) or None

    Examples
    --------
    >>> conv = Conv2d(1, 16, 3, padding=1, rng=0)
    >>> conv(np.zeros((2, 1, 8, 8))).shape
    (2, 16, 8, 8)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, rng=None, dtype=np.float64):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups)
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self._init_params(shape, shape[1] * kh * kw, bias, self.out_channels, rng, dtype)

    def forward(self, x):
        """``x`` (N, C_in, H, W) -> (N, C_out, Ho, Wo); remembers ``x``."""
        x = check_input(self, x, self.in_channels, "channels")
        self._cache = x
        return conv2d(x, self.weight, self.bias, **self._hyper())

    def backward(self, dout):
        """``dout`` (N, C_out, Ho, Wo) -> ``dx`` (N, C_in, H, W); fills ``grads``."""
        x = self._cached()
        dx, dw, db = conv2d_backward(dout, x, self.weight, **self._hyper())
        self._set_grads(weight=dw, bias=db)
        return dx


class ConvTranspose2d(_ConvBase):
    """Transposed 2-D convolution layer, like ``torch.nn.ConvTranspose2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding, output_padding : int or (int, int), default 0
    groups : int, default 1
    dilation : int or (int, int), default 1
    bias : bool, default True
    rng : None, int or np.random.Generator
    dtype : np.float32 or np.float64, default np.float64

    Attributes
    ----------
    weight : ndarray of shape (in_channels, out_channels // groups, kH, kW)
        Note the order, as in PyTorch; ``fan_in`` for the initialisation
        is ``weight.shape[1] * kH * kW``, also as in PyTorch.
    bias : ndarray of shape (out_channels,) or None

    Examples
    --------
    >>> up = ConvTranspose2d(4, 2, 2, stride=2, rng=0)
    >>> up(np.zeros((1, 4, 3, 3))).shape
    (1, 2, 6, 6)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, dilation=1, bias=True, rng=None,
                 dtype=np.float64):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups)
        if isinstance(self.padding, str):
            raise ValueError(f"padding must be an int or a pair for ConvTranspose2d, got "
                             f"{padding!r} (PyTorch has no string padding here either).")
        self.output_padding = as_pair(output_padding, "output_padding", minimum=0)
        kh, kw = self.kernel_size
        shape = (self.in_channels, self.out_channels // self.groups, kh, kw)
        self._init_params(shape, shape[1] * kh * kw, bias, self.out_channels, rng, dtype)

    def _hyper(self):
        return dict(super()._hyper(), output_padding=self.output_padding)

    def forward(self, x):
        """``x`` (N, C_in, H, W) -> (N, C_out, Ho, Wo); remembers ``x``."""
        x = check_input(self, x, self.in_channels, "channels")
        self._cache = x
        return conv_transpose2d(x, self.weight, self.bias, **self._hyper())

    def backward(self, dout):
        """``dout`` (N, C_out, Ho, Wo) -> ``dx`` (N, C_in, H, W); fills ``grads``."""
        x = self._cached()
        dx, dw, db = conv_transpose2d_backward(dout, x, self.weight, **self._hyper())
        self._set_grads(weight=dw, bias=db)
        return dx
