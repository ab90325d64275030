"""The course's figures, by concept; every one is importable from here.

==================  =====================================================
:mod:`.images`      arrays as pictures: the one grid of images, values in
                    cells, the colour rules (signed arrays centred on 0)
:mod:`.windows`     a kernel sliding over an input (01-04): correlation
                    steps, signals, padding, strides, coverage, pooling
:mod:`.networks`    networks (05-09): flatten, pooling gradients, digits,
                    filters, feature maps, receptive fields, channel groups
:mod:`.charts`      curves and bars: activations, histories, errors
==================  =====================================================

A notebook imports the package once (``from lessonlib import viz``) and
calls ``viz.show_images(...)``, ``viz.plot_history(...)``. Every function
returns the ``Figure``; nothing here computes what a student implements.
"""

from .images import *  # noqa: F401,F403
from .windows import *  # noqa: F401,F403
from .networks import *  # noqa: F401,F403
from .charts import *  # noqa: F401,F403
from . import charts, images, networks, windows

__all__ = images.__all__ + windows.__all__ + networks.__all__ + charts.__all__
