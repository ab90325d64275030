"""Arrays as pictures: the colour rules, grids of images, values written in cells.

Every figure of the course that shows arrays goes through here:
:func:`show_images` is the one grid of images (a row or several rows, with
titles, shared or separate colour scales, optional values in the cells),
:func:`show_values` draws one small array with its numbers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

__all__ = ["show_images", "show_values", "SIGNED_CMAP", "signed_limits", "add_colorbar"]

#: The colours of successive windows, bars and curves.
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
                suptitle=None, same_scale=False, values=False, fmt="{:g}", vmin=None,
                vmax=None, colorbar=True, title_colors=None):
    """Show 2-D arrays in a grid, each with its own colour scale: the one image grid.

    Every grid of images of the course is drawn here (digits, filters,
    feature maps, misclassified digits, rows of photos and of small arrays
    with their values).

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
    values : bool, default False
        Write each value in its cell (:func:`show_values`), for small arrays.
    fmt : str, default "{:g}"
        The format of the values written in.
    vmin, vmax : float, optional
        Fixed colour limits of the unsigned panels (e.g. 0 and 1 for digits).
    colorbar : bool, default True
        A colour bar beside each signed panel.
    title_colors : sequence of str, optional
        One colour per title (a wrong prediction in red).

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = [np.asarray(im, dtype=float) for im in images]
    n = len(images)
    ncols = n if ncols is None else max(1, min(ncols, n))
    nrows = -(-n // ncols)
    h0, w0 = images[0].shape[:2]
    title_size = min(11.0, 6.0 + 2.0 * size)
    row_height = size * h0 / w0 + (title_size / 30 if titles is not None else 0.0)
    height = round(row_height * nrows + (0.45 if suptitle else 0.0) + 0.1, 1)
    # Constrained layout keeps titles and colour bars off the images, however
    # small the panels are.
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(size * ncols, 1.6), height),
                             squeeze=False, layout="constrained")
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
        if values:
            ax.axis("on")
            show_values(im, ax=ax, fmt=fmt, cmap=cmaps[k], signed=is_signed,
                        colorbar=is_signed and colorbar)
        elif is_signed:
            v = top or float(np.abs(im).max()) or 1.0
            shown = ax.imshow(im, cmap=SIGNED_CMAP, vmin=-v, vmax=v, interpolation="nearest")
            if colorbar:
                add_colorbar(shown, ax)
        else:
            ax.imshow(im, cmap=cmaps[k], vmin=low if vmin is None else vmin,
                      vmax=top if vmax is None else vmax, interpolation="nearest")
        if titles is not None:
            color = "black" if title_colors is None else title_colors[k]
            ax.set_title(titles[k], fontsize=title_size, pad=2, color=color)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
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
