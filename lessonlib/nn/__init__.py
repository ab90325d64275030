"""Layers with state, in the style of ``torch.nn``, and their initialisation.

=====================  ====================================================
:mod:`.module`         ``Module``: params, grads, forward, backward, train/eval
:mod:`.layers`         ReLU, Flatten, Linear, MaxPool2d, AvgPool2d, Sequential,
                       CrossEntropyLoss
:mod:`.conv`           Conv2d, ConvTranspose2d
:mod:`.normalization`  BatchNorm2d, Dropout
:mod:`.init`           kaiming_normal, naive_normal, init_model (``torch.nn.init``)
=====================  ====================================================

A layer computes nothing itself: its forward and backward call the
stateless functions of :mod:`lessonlib` (``conv2d``, ``max_pool2d_backward``
...), so there is one implementation of each operation.
"""

from .module import Module
from .layers import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .init import *  # noqa: F401,F403
from . import conv, init, layers, normalization

__all__ = (["Module"] + layers.__all__ + conv.__all__ + normalization.__all__
           + init.__all__)
