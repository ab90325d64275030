"""Figures of assignments 01-04: images, sliding windows, pooling.

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

from .arithmetic import conv_output_size

__all__ = [
    "show_images", "show_values", "plot_correlation_step", "plot_signals",
    "plot_connectivity", "plot_sliding_window", "sliding_window_explorer",
    "plot_coverage", "plot_pooling", "plot_activation", "plot_bars", "plot_curves",
    "SIGNED_CMAP", "signed_limits", "add_colorbar",
]

_WINDOW_COLORS = ["tab:orange", "tab:blue", "tab:green", "tab:purple"]

#: The one colour map of every signed array (feature maps, kernels): blue
#: below 0, white at 0, red above, always with limits ``-m, m``.
SIGNED_CMAP = "RdBu_r"


def signed_limits(a):
    """Symmetric colour limits ``(-m, m)`` for a signed array: 0 is white."""
    m = float(np.nanmax(np.abs(np.asarray(a, dtype=float)))) if np.size(a) else 0.0
    m = m if np.isfinite(m) and m > 0 else 1.0
    return -m, m


def add_colorbar(mappable, ax, label=None):
    """A slim colour bar beside ``ax`` (it takes its room from ``ax``)."""
    cb = ax.figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03)
    cb.ax.tick_params(labelsize=8)
    if label:
        cb.set_label(label, fontsize=9)
    return cb


def _grid(n, size):
    """A row of ``n`` axes, each about ``size`` inches wide."""
    fig, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
    return fig, list(axes[0])


def show_images(images, titles=None, cmap="gray", size=3.0, signed=None, ncols=None,
                suptitle=None, same_scale=False):
    """Show 2-D arrays side by side, each with its own colour scale.

    Parameters
    ----------
    images : sequence of ndarray of shape (H, W)
        Images or feature maps.
    titles : sequence of str, optional
    cmap : str or sequence of str, default "gray"
        One colour map, or one per image.
    size : float, default 3.0
        Width of one panel in inches.
    signed : bool or sequence of bool, optional
        Draw with a diverging map centred on 0 (blue < 0 < red, white at 0,
        a colour bar beside the panel): the right picture of a feature map
        whose sign matters. Default: True for arrays holding negative values.
    ncols : int, optional
        Panels per row (default: all in one row).
    suptitle : str, optional
    same_scale : bool, default False
        One colour scale for all panels (to compare magnitudes) instead of
        one per panel (to see each one's structure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = [np.asarray(im, dtype=float) for im in images]
    n = len(images)
    ncols = n if ncols is None else ncols
    nrows = -(-n // ncols)
    h0, w0 = images[0].shape[:2]
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * h0 / w0 + 0.4),
                             squeeze=False)
    cmaps = [cmap] * n if isinstance(cmap, str) else list(cmap)
    signs = [signed] * n if signed is None or isinstance(signed, bool) else list(signed)
    top = max(float(np.abs(im).max()) for im in images) if same_scale else None
    low = min(float(im.min()) for im in images) if same_scale else None
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        im = images[k]
        is_signed = bool(im.min() < 0) if signs[k] is None else signs[k]
        if is_signed:
            v = top or float(np.abs(im).max()) or 1.0
            shown = ax.imshow(im, cmap=SIGNED_CMAP, vmin=-v, vmax=v, interpolation="nearest")
            add_colorbar(shown, ax)
        else:
            ax.imshow(im, cmap=cmaps[k], vmin=low, vmax=top, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=11)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    fig.tight_layout()
    return fig


def show_values(a, ax=None, title=None, fmt="{:g}", cmap="Greys", highlight=None,
                color="tab:orange", vmin=None, vmax=None, fontsize=11, signed=False,
                colorbar=False):
    """Draw a small 2-D array as a grid of shaded cells with their values.

    Parameters
    ----------
    a : ndarray of shape (H, W)
    ax : matplotlib Axes, optional
    title : str, optional
    fmt : str, default "{:g}"
        Format of the numbers written in the cells.
    cmap : str, default "Greys"
    highlight : tuple of int (row, col, height, width), optional
        A rectangle of cells to outline.
    color : str
        Colour of the outline.
    vmin, vmax : float, optional
        Colour scale limits.
    signed : bool, default False
        A signed array: the diverging map with white at 0 and limits
        ``-m, m`` (overrides ``cmap``, ``vmin`` and ``vmax``).
    colorbar : bool, default False
        Draw a colour bar beside the grid.

    Returns
    -------
    matplotlib.figure.Figure
    """
    a = np.asarray(a, dtype=float)
    if signed:
        cmap = SIGNED_CMAP
        vmin, vmax = signed_limits(a)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.55 * a.shape[1] + 0.6, 0.55 * a.shape[0] + 0.6))
    fig = ax.figure
    shown = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    lo = a.min() if vmin is None else vmin
    hi = a.max() if vmax is None else vmax
    colors = plt.get_cmap(cmap)
    for (r, c), v in np.ndenumerate(a):
        red, green, blue, _ = colors((v - lo) / (hi - lo) if hi > lo else 0.5)
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")
    ax.set_xticks(np.arange(a.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(a.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.6", linewidth=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor=color,
                               linewidth=3.5))
    if title:
        ax.set_title(title, fontsize=12)
    if colorbar:
        add_colorbar(shown, ax)
    return fig



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


def plot_activation(fn, name, lo=-3.0, hi=3.0):
    """Plot an activation function ``fn`` on ``[lo, hi]``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = np.linspace(lo, hi, 301)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(t, fn(t), linewidth=2.5)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("x")
    ax.set_title(name, fontsize=12)
    fig.tight_layout()
    return fig


def plot_bars(labels, values, title=None, log=True, fmt="{:,}"):
    """Horizontal bars with their values written next to them (log scale by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(labels) + 1.2))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, color=_WINDOW_COLORS[:len(labels)])
    if log:
        ax.set_xscale("log")
        ax.set_xlim(right=max(values) * 60)
    else:
        ax.set_xlim(right=max(values) * 1.35)
    for yi, v in zip(y, values):
        ax.text(v * (1.15 if log else 1.01) + (0 if log else 0), yi, fmt.format(v),
                va="center", fontsize=11)
    ax.set_yticks(y, labels, fontsize=11)
    if title:
        ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig


def plot_curves(x, curves, xlabel, ylabel, title=None):
    """Several named curves over the same x values.

    Parameters
    ----------
    x : ndarray of shape (L,)
    curves : dict of str -> ndarray of shape (L,)

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for name, y in curves.items():
        ax.plot(x, y, marker="o", linewidth=2, label=name)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig
