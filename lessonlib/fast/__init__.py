"""Vectorised engines: what makes the reference functions fast.

:mod:`.im2col` lays the windows of a convolution out as the columns of a
matrix, so that ``conv2d``, ``conv2d_backward`` and ``conv_transpose2d``
(and their layers) are a few BLAS products. The engine validates nothing:
the public functions of :mod:`lessonlib.conv` and
:mod:`lessonlib.conv_transpose` check the arguments, then plan and call it.
"""
