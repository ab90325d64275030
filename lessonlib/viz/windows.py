"""Figures of a kernel sliding over an input (assignments 01-04): windows, padding, pooling.

Every function draws with matplotlib and returns the ``Figure`` (the
notebook shows it; a script can save it). Nothing here computes what a
student implements: output sizes come from
:func:`lessonlib.arithmetic.conv_output_size` and feature maps from the
notebook that calls.

:func:`sliding_window_explorer` is interactive when ipywidgets and a
widget frontend are there (JupyterLab), and a static picture elsewhere
(a notebook viewer, a script, nbconvert without widget state).
"""

from __future__ import annotations

import base64
import io
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..arithmetic import conv_output_size
from .images import _WINDOW_COLORS, _grid, show_values

__all__ = [
    "plot_correlation_step", "plot_signals", "plot_connectivity", "plot_sliding_window",
    "sliding_window_explorer", "plot_coverage", "plot_pooling",
]

def plot_correlation_step(image, kernel, feature_map, row, col, fmt="{:g}"):
    """One step of a 2-D cross-correlation: window, kernel, output cell.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    kernel : ndarray of shape (kH, kW)
    feature_map : ndarray of shape (H - kH + 1, W - kW + 1)
        The valid cross-correlation of ``image`` with ``kernel``.
    row, col : int
        The output cell to explain.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    kh, kw = kernel.shape
    window = image[row:row + kh, col:col + kw]
    products = " + ".join(f"{a:g}·{b:g}" if b >= 0 else f"{a:g}·({b:g})"
                          for a, b in zip(window.ravel(), kernel.ravel()))
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2),
                             gridspec_kw={"width_ratios": [image.shape[1], kw + 1.5,
                                                           feature_map.shape[1] + 0.5]})
    show_values(image, axes[0], "input", fmt, highlight=(row, col, kh, kw))
    show_values(kernel, axes[1], "kernel (filter)", fmt, signed=True, colorbar=True)
    show_values(feature_map, axes[2], "feature map", fmt, signed=True, colorbar=True,
                highlight=(row, col, 1, 1))
    fig.suptitle(f"output[{row}, {col}] = sum of window * kernel = "
                 f"{float((window * kernel).sum()):g}", fontsize=12)
    if len(products) < 150:
        fig.text(0.5, 0.02, products, ha="center", fontsize=10, family="monospace")
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig


def plot_signals(signals, title=None, stems=(), size=(9, 3.2)):
    """Plot named 1-D signals against their sample index.

    Parameters
    ----------
    signals : dict of str -> ndarray of shape (L,)
        Lines to draw, in order; a value ``(offset, y)`` starts at ``offset``.
    title : str, optional
    stems : sequence of str
        Names drawn as stems (markers at the samples) instead of lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=size)
    for name, y in signals.items():
        start, y = (y if isinstance(y, tuple) else (0, y))
        t = start + np.arange(len(y))
        if name in stems:
            ax.stem(t, y, label=name, basefmt=" ")
        else:
            ax.plot(t, y, marker=".", label=name)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("sample index")
    ax.legend(fontsize=10, loc="best")
    if title:
        ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_connectivity(n_in=8, kernel_size=3):
    """Fully connected versus convolutional: who connects to whom.

    Left: every output neuron has its own weight to every input. Right: a
    1-D valid convolution, each output sees ``kernel_size`` neighbours
    (local connectivity) through the same ``kernel_size`` weights, drawn in
    the same three colours everywhere (parameter sharing).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_out = n_in - kernel_size + 1
    fig, axes = _grid(2, 5.0)
    colors = plt.get_cmap("tab10").colors
    x_in = np.arange(n_in)
    x_out = np.arange(n_out) + (kernel_size - 1) / 2
    for ax, dense in zip(axes, (True, False)):
        for j in range(n_out):
            inputs = range(n_in) if dense else range(j, j + kernel_size)
            for i in inputs:
                c = "0.55" if dense else colors[i - j]
                ax.plot([x_in[i], x_out[j]], [0, 1], color=c, linewidth=0.8 if dense else 2)
        ax.scatter(x_in, np.zeros(n_in), s=160, color="white", edgecolor="black", zorder=3)
        ax.scatter(x_out, np.ones(n_out), s=160, color="tab:blue", edgecolor="black", zorder=3)
        ax.set_ylim(-0.3, 1.3)
        ax.axis("off")
        ax.text(-0.8, 0, "input", ha="right", va="center", fontsize=11)
        ax.text(-0.8, 1, "output", ha="right", va="center", fontsize=11)
        weights = n_in * n_out if dense else kernel_size
        ax.set_title(("fully connected" if dense else "convolution (local, shared)")
                     + f"\n{weights} weights", fontsize=12)
    fig.tight_layout()
    return fig


def plot_sliding_window(n, kernel_size, stride=1, padding=0, dilation=1, ax=None):
    """The padded input, the first windows of a sliding kernel, the output.

    One axis of size ``n`` is drawn as an ``n x n`` square input. Padding
    cells are grey with a 0; the first window is orange, the next one
    along the row (``stride`` further) blue; the kernel's taps are the
    filled cells (gaps between them when ``dilation > 1``). Input columns
    that no window reaches (sizes not divisible by the stride) are hatched
    red. The output grid on the right has ``conv_output_size(...)`` cells.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k, s, p, d = kernel_size, stride, padding, dilation
    span = d * (k - 1) + 1
    total = n + 2 * p
    try:
        o = conv_output_size(n, k, s, p, d)
    except ValueError:
        o = 0
    lim_out = max(o, 2) + 0.4
    if ax is None:
        width = 0.45 * (total + lim_out) + 1.2
        fig, axes = plt.subplots(1, 2, figsize=(max(width, 7.5), 0.45 * total + 1.8),
                                 gridspec_kw={"width_ratios": [total + 0.4, lim_out]},
                                 layout="constrained")
    else:
        fig, axes = ax.figure, ax
    ax_in, ax_out = axes
    for a in axes:
        a.set_aspect("equal")
        a.axis("off")
    reach = (o - 1) * s + span if o else 0
    for r in range(total):
        for c in range(total):
            inside = p <= r < p + n and p <= c < p + n
            y = total - 1 - r
            ax_in.add_patch(Rectangle((c, y), 1, 1, facecolor="white" if inside else "0.85",
                                      edgecolor="0.55", linewidth=0.8))
            if not inside:
                ax_in.text(c + 0.5, y + 0.5, "0", ha="center", va="center", fontsize=8,
                           color="0.4")
            if r >= reach or c >= reach:
                ax_in.add_patch(Rectangle((c, y), 1, 1, fill=False, hatch="///",
                                          edgecolor="tab:red", linewidth=0))
    for j in range(min(o, 2)):
        col0 = j * s
        color = _WINDOW_COLORS[j]
        for a in range(k):
            for b in range(k):
                ax_in.add_patch(Rectangle((col0 + b * d + 0.1, total - 1 - a * d + 0.1), 0.8,
                                          0.8, facecolor=color, alpha=0.6 if j == 0 else 0.4))
        ax_in.add_patch(Rectangle((col0, total - span), span, span, fill=False,
                                  edgecolor=color, linewidth=3))
    ax_in.set_xlim(-0.2, total + 0.2)
    ax_in.set_ylim(-0.2, total + 0.2)
    ax_in.set_title(f"input {n}x{n} + padding {p}", fontsize=11)
    for r in range(o):
        for c in range(o):
            face = _WINDOW_COLORS[c] if r == 0 and c < 2 else "white"
            ax_out.add_patch(Rectangle((c, total - 1 - r), 1, 1, facecolor=face,
                                       alpha=0.7 if face != "white" else 1, edgecolor="0.3"))
    ax_out.set_xlim(-0.2, lim_out)
    ax_out.set_ylim(-0.2, total + 0.2)
    ax_out.set_title(f"output {o}x{o}" if o else "no output", fontsize=11)
    formula = (f"o = floor(({n} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1 = {o}" if o else
               "the kernel does not fit in the padded input")
    note = "   (hatched: never reached)" if o and reach < total else ""
    fig.suptitle(f"kernel {k}, stride {s}, padding {p}, dilation {d}\n{formula}{note}",
                 fontsize=11)
    return fig


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _widgets_available():
    """The code runs in a Jupyter kernel (not a grading run).

    nbgrader sets ``NBGRADER_EXECUTION`` when it runs a notebook; lessonlib's
    sandboxed grader builds the kernel's environment itself and sets
    ``LESSONLIB_GRADING`` instead.
    """
    if os.environ.get("NBGRADER_EXECUTION") or os.environ.get("LESSONLIB_GRADING"):
        return False
    from IPython import get_ipython   # ipywidgets, a dependency of lessonlib, depends on it

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def sliding_window_explorer(n=7, kernel_size=3, stride=1, padding=0, dilation=1,
                            interactive=None):
    """Sliders for kernel size, stride, padding and dilation that redraw the window.

    Parameters
    ----------
    n, kernel_size, stride, padding, dilation : int
        Starting values.
    interactive : bool, optional
        Force the widget (True) or the static figure (False). By default a
        widget when ipywidgets and a Jupyter kernel are there.

    Returns
    -------
    ipywidgets.VBox or matplotlib.figure.Figure
        The widget is displayed by this function (assign the result, do not
        leave it as a cell's last expression); it also carries a PNG of its
        starting state, which a frontend without widget support (a notebook
        viewer) shows instead. The static figure is shown like any figure.
    """
    if interactive is None:
        interactive = _widgets_available()
    if not interactive:
        return plot_sliding_window(n, kernel_size, stride, padding, dilation)
    import ipywidgets as w
    from IPython.display import display

    sliders = {
        "n": w.IntSlider(n, 3, 12, description="input n"),
        "kernel_size": w.IntSlider(kernel_size, 1, 6, description="kernel"),
        "stride": w.IntSlider(stride, 1, 4, description="stride"),
        "padding": w.IntSlider(padding, 0, 4, description="padding"),
        "dilation": w.IntSlider(dilation, 1, 3, description="dilation"),
    }
    out = w.Output()

    def redraw(_=None):
        values = {name: s.value for name, s in sliders.items()}
        with out:
            out.clear_output(wait=True)
            fig = plot_sliding_window(**values)
            display(fig)
            plt.close(fig)

    for s in sliders.values():
        s.observe(redraw, names="value")

    class _Explorer(w.VBox):
        def _repr_mimebundle_(self, **kwargs):
            data = super()._repr_mimebundle_(**kwargs) or {}
            fig = plot_sliding_window(**{k: s.value for k, s in sliders.items()})
            data["image/png"] = _figure_png(fig)
            plt.close(fig)
            return data

    box = _Explorer([w.HBox([sliders["n"], sliders["kernel_size"], sliders["stride"]]),
                     w.HBox([sliders["padding"], sliders["dilation"]]), out])
    redraw()
    display(box)
    return box


def plot_coverage(n, kernel_size, paddings=(0,), size=3.6):
    """How many windows of a stride-1 kernel read each input pixel.

    Without padding a corner pixel is read once and a central one
    ``kernel_size**2`` times: what happens at the border barely reaches
    the output. Padding evens this out.

    Parameters
    ----------
    n : int
        Input height and width.
    kernel_size : int
    paddings : sequence of int
        One panel per padding.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = _grid(len(paddings), size)
    for ax, p in zip(axes, paddings):
        o = conv_output_size(n, kernel_size, 1, p)
        counts = np.zeros((n + 2 * p, n + 2 * p), dtype=int)
        for r in range(o):
            for c in range(o):
                counts[r:r + kernel_size, c:c + kernel_size] += 1
        show_values(counts[p:p + n, p:p + n], ax, f"padding {p}: output {o}x{o}",
                    fmt="{:.0f}", cmap="Blues", vmin=0, vmax=kernel_size ** 2, fontsize=9)
    fig.suptitle(f"how many {kernel_size}x{kernel_size} windows read each pixel of a "
                 f"{n}x{n} input", fontsize=12)
    fig.tight_layout()
    return fig


def plot_pooling(x, pooled, kernel_size=2, stride=None, title="max pooling", fmt="{:g}"):
    """A pooling layer on one small channel: coloured windows and their results.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    pooled : ndarray of shape (Ho, Wo)
        The pooled channel (computed by the caller).
    kernel_size, stride : int
        Stride defaults to the kernel size.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, pooled = np.asarray(x, float), np.asarray(pooled, float)
    s = kernel_size if stride is None else stride
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2),
                             gridspec_kw={"width_ratios": [x.shape[1], pooled.shape[1] + 1]})
    show_values(x, axes[0], f"input {x.shape[0]}x{x.shape[1]}", fmt, cmap="Greys")
    show_values(pooled, axes[1], f"{title}: {pooled.shape[0]}x{pooled.shape[1]}", fmt,
                cmap="Greys", vmin=x.min(), vmax=x.max())
    colors = plt.get_cmap("tab10").colors
    for (r, c), _ in np.ndenumerate(pooled):
        color = colors[(r * pooled.shape[1] + c) % 10]
        inset = 0.06 * ((r + c) % 2)
        axes[0].add_patch(Rectangle((c * s - 0.5 + inset, r * s - 0.5 + inset),
                                    kernel_size - 2 * inset, kernel_size - 2 * inset,
                                    fill=False, edgecolor=color, linewidth=3))
        axes[1].add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=color,
                                    linewidth=3))
    fig.tight_layout()
    return fig
