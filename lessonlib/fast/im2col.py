"""The fast path of convolution: im2col, one matrix product, col2im.

A convolution is a matrix product in disguise. Copy every input patch the
kernel sees into one column of a matrix (*im2col*), and the whole layer
becomes ``weight (C_out, C_in*kH*kW) @ cols (C_in*kH*kW, N*Ho*Wo)``: one
call to BLAS instead of a Python loop per pixel. The backward pass is two
more products, and *col2im* adds the patch gradients back where the
patches came from.

Both copies loop over the ``kH * kW`` kernel offsets only. Two layout
tricks make each of those copies one long contiguous run per channel and
image, which is what NumPy copies fastest:

* **Phases.** With a stride ``s``, kernel offset ``i`` reads rows
  ``i*d, i*d + s, i*d + 2s, ...``: every ``s``-th row, starting at phase
  ``(i*d) % s``. Splitting the padded input once into its ``s*s`` phases
  (sub-images of every ``s``-th row and column) turns every read into a
  stride-1 window of one phase.
* **Full-width rows.** A stride-1 window of ``Ho`` rows is not contiguous
  (each row is cut at ``Wo`` of the ``Wq`` columns), but the same rows
  taken at full width ``Wq`` are. So the columns are computed on a grid
  of ``Ho x Wq`` positions; the ``Wq - Wo`` extra positions per row
  are cropped from the output and given zero gradient.

``cols`` has layout ``(C_in, kH, kW, N, Ho*Wq)``: its rows match the
flattened ``weight``, so a convolution with ``groups`` is a batch of
independent products ``(G, C_out/G, K) @ (G, K, N*Ho*Wq)``.

**Chunks of images.** The columns are built for a few images at a time
(about :data:`CHUNK_BYTES` of them) and dropped once used, so the fast
path's memory grows like its input and output, not nine times faster
(for a 3x3 kernel) with a full-size column matrix.

Inputs here are validated and share one dtype; the checked, public
functions are in :mod:`lessonlib.conv` and :mod:`lessonlib.conv_transpose`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._threads import limited

__all__: list[str] = []

#: Size of the im2col columns built at once (bytes).
CHUNK_BYTES = 2 ** 22


@dataclass(frozen=True)
class Plan:
    """Geometry of one convolution: sizes, and where each kernel offset reads.

    All pairs are ``(height, width)``; ``pads`` is ``(top, bottom, left, right)``.
    ``out_hw`` may be smaller than what the sizes allow (a transposed
    convolution's backward pass needs that).
    """

    in_hw: tuple
    kernel_hw: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    out_hw: tuple

    @property
    def phase_hw(self):
        """``(Hq, Wq)``: size of one phase of the padded input."""
        (h, w), (sh, sw), (t, b, l, r) = self.in_hw, self.stride, self.pads
        return -(-(h + t + b) // sh), -(-(w + l + r) // sw)

    @property
    def run(self):
        """Length ``Ho * Wq`` of one window, flattened at full width."""
        return self.out_hw[0] * self.phase_hw[1]

    @property
    def flat_size(self):
        """Length of a flattened phase, with room for the last window's overhang."""
        hq, wq = self.phase_hw
        return hq * wq + (self.kernel_hw[1] - 1) * self.dilation[1] // self.stride[1]

    def offsets(self):
        """Yield ``(i, j, a, b, start)``: kernel offset (i, j) reads phase (a, b) from ``start``."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_hw, self.stride, self.dilation
        wq = self.phase_hw[1]
        for i in range(kh):
            for j in range(kw):
                a, u0 = (i * dh) % sh, (i * dh) // sh
                b, v0 = (j * dw) % sw, (j * dw) // sw
                yield i, j, a, b, u0 * wq + v0

    def phase_slices(self):
        """Yield ``(a, b, phase_index, x_index)`` to move x's pixels into phase (a, b)."""
        (h, w), (sh, sw), (t, _, l, _) = self.in_hw, self.stride, self.pads
        for a in range(sh):
            u, r, rows = _phase_axis(a, t, sh, h)
            for b in range(sw):
                v, c, cols = _phase_axis(b, l, sw, w)
                if rows and cols:
                    yield (a, b, (slice(u, u + rows), slice(v, v + cols)),
                           (slice(r, None, sh), slice(c, None, sw)))


def _phase_axis(a, before, stride, n):
    """Phase ``a`` along one axis holds x's samples ``r, r+stride, ...`` from phase index ``u``."""
    u = -((a - before) // stride)          # first phase row inside x: ceil((before - a) / stride)
    r = u * stride + a - before
    return u, r, len(range(r, n, stride))


def _matmul(a, b):
    """``a @ b`` over a batch of groups; an outer product when the inner size is 1."""
    return a * b if a.shape[-1] == 1 else np.matmul(a, b)


def _chunks(n, bytes_per_image):
    """``(start, stop)`` ranges of images whose columns take about :data:`CHUNK_BYTES`."""
    step = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def to_phases(x, plan):
    """Pad ``x (N, C, H, W)`` and split it into phases: ``(C, N, sH, sW, flat_size)``."""
    n, c = x.shape[:2]
    (sh, sw), (hq, wq) = plan.stride, plan.phase_hw
    buf = np.zeros((c, n, sh, sw, plan.flat_size), dtype=x.dtype)
    grid = buf[..., :hq * wq].reshape(c, n, sh, sw, hq, wq)
    xt = x.transpose(1, 0, 2, 3)
    for a, b, (pu, pv), (xr, xc) in plan.phase_slices():
        grid[:, :, a, b, pu, pv] = xt[:, :, xr, xc]
    return buf


def from_phases(buf, plan):
    """Inverse of :func:`to_phases` for gradients: drop the padding, return ``(N, C, H, W)``."""
    c, n = buf.shape[:2]
    (sh, sw), (hq, wq) = plan.stride, plan.phase_hw
    grid = buf[..., :hq * wq].reshape(c, n, sh, sw, hq, wq)
    dx = np.empty((n, c) + tuple(plan.in_hw), dtype=buf.dtype)    # every pixel is in one phase
    dxt = dx.transpose(1, 0, 2, 3)
    for a, b, (pu, pv), (xr, xc) in plan.phase_slices():
        dxt[:, :, xr, xc] = grid[:, :, a, b, pu, pv]
    return dx


def im2col(phases, plan):
    """Patches, one column per output position: ``(C, kH, kW, N, Ho*Wq)``.

    ``cols[c, i, j, n, y*Wq + x] = x_padded[n, c, y*sH + i*dH, x*sW + j*dW]``
    for ``x < Wo`` (positions ``x >= Wo`` are cropped later).
    """
    c, n = phases.shape[:2]
    (kh, kw), run = plan.kernel_hw, plan.run
    cols = np.empty((c, kh, kw, n, run), dtype=phases.dtype)
    for i, j, a, b, start in plan.offsets():
        cols[:, i, j] = phases[:, :, a, b, start:start + run]
    return cols


def _grouped_cols(phases, plan, groups):
    """:func:`im2col` as ``(G, C/G * kH * kW, n*Ho*Wq)``, the right operand of the products."""
    cols = im2col(phases, plan)
    return cols.reshape(groups, -1, cols.shape[3] * cols.shape[4])


def col2im(dcols, plan, dphases):
    """Add patch gradients back into the phases ``dphases`` (in place): the adjoint of im2col."""
    run = plan.run
    for i, j, a, b, start in plan.offsets():
        dphases[:, :, a, b, start:start + run] += dcols[:, i, j]


def _zero_cropped(arr, plan):
    """Zero the positions ``x >= Wo`` of an array whose last axis is ``N*Ho*Wq``."""
    (ho, wo), wq = plan.out_hw, plan.phase_hw[1]
    if wq > wo:
        arr.reshape(arr.shape[:-1] + (-1, ho, wq))[..., wo:] = 0


def to_grid(y, plan, groups):
    """``y (N, C, Ho, Wo)`` -> ``(G, C/G, N*Ho*Wq)`` with zeros at the cropped positions."""
    n, c, ho, wo = y.shape
    wq = plan.phase_hw[1]
    grid = np.zeros((c, n, ho, wq), dtype=y.dtype)
    grid[..., :wo] = y.transpose(1, 0, 2, 3)
    return grid.reshape(groups, c // groups, n * ho * wq)


def channel_sum(y):
    """``y (N, C, H, W)`` summed over all but the channels: ``(C,)`` (the bias gradient)."""
    n, c, h, w = y.shape
    return np.einsum("ncp->c", y.reshape(n, c, h * w))    # faster than y.sum(axis=(0, 2, 3))


@limited    # one BLAS thread for these small products: lessonlib/_threads.py
def forward(x, weight, plan, groups, bias=None):
    """The convolution ``(N, C_out, Ho, Wo)`` of ``x (N, C_in, H, W)`` with ``weight``.

    ``weight`` is ``(C_out, C_in/G, kH, kW)``; ``bias (C_out,)`` is added if given.
    """
    n, c_out = x.shape[0], weight.shape[0]
    (ho, wo), wq = plan.out_hw, plan.phase_hw[1]
    phases = to_phases(x, plan)
    out = np.empty((n, c_out, ho, wo), dtype=x.dtype)
    wmat = weight.reshape(groups, c_out // groups, -1)
    for n0, n1 in _chunks(n, weight[0].size * groups * plan.run * x.itemsize):
        grid = _matmul(wmat, _grouped_cols(phases[:, n0:n1], plan, groups))
        grid = grid.reshape(c_out, n1 - n0, ho, wq)
        if bias is not None:
            grid += bias[:, None, None, None]
        out[n0:n1] = grid[..., :wo].transpose(1, 0, 2, 3)
    return out


@limited
def backward(dout, weight, plan, groups, x=None, x_shape=None, need_dx=True):
    """Gradients of :func:`forward`: ``(dx, dweight)`` from ``dout (N, C_out, Ho, Wo)``.

    ``dweight`` needs the forward input ``x (N, C_in, H, W)``; without it
    (give ``x_shape``) only ``dx`` is computed, which is a transposed
    convolution of ``dout``. With ``need_dx=False`` only ``dweight`` is.
    What is not computed is returned as None.
    """
    n, c_out = dout.shape[:2]
    c_in = (x.shape if x is not None else x_shape)[1]
    (kh, kw), run, dtype = plan.kernel_hw, plan.run, dout.dtype
    wmat = weight.reshape(groups, c_out // groups, -1)
    finite_weight = bool(np.isfinite(weight).all())
    phases = None if x is None else to_phases(x, plan)
    dweight = None if x is None else np.zeros(wmat.shape, dtype=dtype)
    dphases = (np.zeros((c_in, n) + tuple(plan.stride) + (plan.flat_size,), dtype=dtype)
               if need_dx else None)
    for n0, n1 in _chunks(n, wmat.shape[-1] * groups * run * dout.itemsize):
        dgrid = to_grid(dout[n0:n1], plan, groups)
        if x is not None:
            dweight += _weight_grad(dgrid, _grouped_cols(phases[:, n0:n1], plan, groups), plan)
        if not need_dx:
            continue
        dcols = _matmul(wmat.transpose(0, 2, 1), dgrid)
        if not finite_weight:               # inf * 0 at the cropped positions would give nan
            _zero_cropped(dcols, plan)
        col2im(dcols.reshape(c_in, kh, kw, n1 - n0, run), plan, dphases[:, n0:n1])
    dx = None if dphases is None else from_phases(dphases, plan)
    return dx, None if dweight is None else dweight.reshape(weight.shape)


def _weight_grad(dgrid, cols, plan):
    """``dgrid @ cols.T`` per group, ``(G, C_out/G, K)``.

    The cropped positions of ``dgrid`` are zero, so they add nothing,
    unless ``cols`` holds inf or nan there (0 * inf = nan): only then are
    they zeroed in ``cols`` and the product is recomputed.
    """
    def product():    # computed as (cols @ dgrid.T).T: the faster order for BLAS here
        return np.matmul(cols, dgrid.transpose(0, 2, 1)).transpose(0, 2, 1)

    dweight = product()
    if not np.isfinite(dweight).all():
        _zero_cropped(cols, plan)
        dweight = product()
    return dweight
