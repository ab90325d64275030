"""Output-size arithmetic of convolution and transposed convolution.

These two formulas are written once, here; every other function of the
library (convolution, pooling, layers, checks) calls them.

Along one axis, a kernel of ``kernel_size`` taps spaced ``dilation`` apart
covers ``dilation * (kernel_size - 1) + 1`` input samples. Sliding it with
step ``stride`` over an input of length ``n`` padded by ``padding`` on each
side gives::

    o = floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

A transposed convolution runs the same map backwards::

    o = (n - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1

>>> conv_output_size(32, 3, stride=1, padding=1)      # "same" 3x3 layer
32
>>> conv_output_size(7, 3, stride=2)                   # floor((7 - 3) / 2) + 1
3
>>> conv_transpose_output_size(3, 3, stride=2)         # back up to 7
7
"""

from __future__ import annotations

from ._validation import check_int, padding_sides

__all__ = ["conv_output_size", "conv_transpose_output_size"]


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """Length of a convolution's output along one axis.

    ``o = floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``

    The same formula gives the output size of max and average pooling
    (with ``dilation=1``).

    Parameters
    ----------
    n : int
        Input length (height or width), >= 1.
    kernel_size : int
        Number of kernel taps along this axis, >= 1.
    stride : int, default 1
        Step between two output positions, >= 1.
    padding : int or tuple of (int, int), default 0
        Zeros added on each side; a pair ``(before, after)`` pads the two
        sides differently (``padding="same"`` with an even kernel does).
    dilation : int, default 1
        Spacing between kernel taps, >= 1.

    Returns
    -------
    int
        The output length, >= 1.

    Raises
    ------
    ValueError
        If the (dilated) kernel is larger than the padded input, or a size
        is out of range.
    TypeError
        If a size is not an integer (e.g. ``3.0`` from ``/``; use ``//``).

    Examples
    --------
    >>> conv_output_size(5, 3)
    3
    >>> conv_output_size(5, 3, padding=1)
    5
    >>> conv_output_size(6, 3, stride=2, padding=1)
    3
    >>> conv_output_size(7, 3, dilation=2)
    3
    """
    n = check_int(n, "n", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    dilation = check_int(dilation, "dilation", 1)
    before, after = padding_sides(padding, axes=1)
    span = dilation * (kernel_size - 1) + 1
    padded = n + before + after
    if span > padded:
        extra = span - padded
        if before == after:
            fix = f"padding={before + (extra + 1) // 2} is the smallest that fits"
        else:
            fix = f"pad by at least {extra} more in total"
        dilated = f" with dilation={dilation}" if dilation > 1 else ""
        raise ValueError(
            f"kernel_size={kernel_size}{dilated} spans {span} samples, more than the "
            f"padded input: n={n} + padding {before}+{after} = {padded}. "
            f"Use a smaller kernel or more padding ({fix})."
        )
    return (padded - span) // stride + 1


def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0,
                               dilation=1):
    """Length of a transposed convolution's output along one axis.

    ``o = (n - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``

    A convolution with ``stride > 1`` maps several input lengths to the same
    output length (floor division); ``output_padding`` chooses which of
    them the transposed convolution produces, so it must be smaller than
    ``stride`` or than ``dilation`` (PyTorch's rule).

    Parameters
    ----------
    n : int
        Input length (height or width), >= 1.
    kernel_size : int
        Number of kernel taps, >= 1.
    stride : int, default 1
        Upsampling factor, >= 1.
    padding : int, default 0
        Samples removed from each side of the full output, >= 0.
    output_padding : int, default 0
        Samples added on one side (the end) of the output, >= 0 and smaller
        than ``stride`` or ``dilation``.
    dilation : int, default 1
        Spacing between kernel taps, >= 1.

    Returns
    -------
    int
        The output length, >= 1.

    Raises
    ------
    ValueError
        If ``output_padding`` is too large, a size is out of range, or the
        padding removes the whole output.

    Examples
    --------
    >>> conv_transpose_output_size(3, 3, stride=2)
    7
    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)
    6
    >>> conv_output_size(6, 3, stride=2, padding=1)   # the convolution it inverts
    3
    """
    n = check_int(n, "n", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    output_padding = check_int(output_padding, "output_padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    if output_padding >= stride and output_padding >= dilation:
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got "
            f"output_padding={output_padding} with stride={stride}, dilation={dilation}. "
            f"It only picks which of the input lengths that a strided convolution "
            f"maps to the same size is produced: use 0 to {max(stride, dilation) - 1}."
        )
    out = (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"padding={padding} removes the whole output: the full transposed "
            f"convolution has {out + 2 * padding} samples and 2*padding = {2 * padding} "
            f"are cropped, leaving {out}. Use padding <= {(out + 2 * padding - 1) // 2}."
        )
    return out
