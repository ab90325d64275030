"""Figures of networks (assignments 05-09): flatten, gradients, filters, digits, fields.

Every function draws with matplotlib and returns the ``Figure``. In a
notebook, assign it (``fig = plot_history(h)``) so that Jupyter shows it
once (a trailing ``;`` is not enough under nbval). Nothing here computes
what a student implements: probabilities, gradients, feature maps and
receptive fields are passed in by the notebook.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .images import show_images, show_values

__all__ = [
    "plot_flatten", "plot_pool_gradient", "plot_digits", "plot_filters",
    "plot_feature_maps", "plot_misclassified", "plot_receptive_fields",
    "plot_backprop_chain", "plot_channel_groups",
]


def plot_flatten(volume):
    """A feature volume (C, H, W) and the vector that flatten makes of it.

    Parameters
    ----------
    volume : ndarray of shape (C, H, W)
        One example's feature maps (small: a few channels of a few pixels).
    """
    volume = np.asarray(volume, dtype=float)
    c, h, w = volume.shape
    colors = plt.cm.tab10(np.arange(c) % 10)
    fig = plt.figure(figsize=(max(8, 0.42 * c * h * w), 3.6))
    grid = fig.add_gridspec(2, c, height_ratios=[3, 1.2], hspace=0.5)
    for k in range(c):
        ax = fig.add_subplot(grid[0, k])
        show_values(ax=ax, a=volume[k], title=f"channel {k}", fmt="{:.0f}", cmap="Greys")
        for spine in ax.spines.values():
            spine.set_edgecolor(colors[k])
            spine.set_linewidth(3)
    ax = fig.add_subplot(grid[1, :])
    flat = volume.reshape(-1)
    for i, v in enumerate(flat):
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=colors[i // (h * w)], alpha=0.35,
                               edgecolor="white"))
        ax.text(i + 0.5, 0.5, f"{v:.0f}", ha="center", va="center", fontsize=10)
    ax.set_xlim(0, flat.size)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks(np.arange(flat.size) + 0.5, [str(i) for i in range(flat.size)], fontsize=8)
    ax.set_title(f"flatten: a vector of C*H*W = {c}*{h}*{w} = {flat.size} values "
                 f"(channel 0 first, row by row)", fontsize=12)
    return fig


def plot_pool_gradient(x, dout, dx, kernel_size, stride, title=None):
    """Max-pool backward on one channel: x with its windows, dout, and dx.

    Parameters
    ----------
    x, dx : ndarray of shape (H, W)
    dout : ndarray of shape (H_out, W_out)
    kernel_size, stride : int
    """
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.9))
    show_values(ax=axes[0], a=x, title="x (windows outlined)", cmap="Greys")
    colors = plt.cm.tab10(np.arange(dout.size) % 10)
    k, s = kernel_size, stride
    for idx, (i, j) in enumerate(np.ndindex(dout.shape)):
        off = 0.06 + 0.07 * (idx % 4)
        axes[0].add_patch(Rectangle((j * s - 0.5 + off, i * s - 0.5 + off), k - 2 * off,
                                    k - 2 * off, fill=False, edgecolor=colors[idx],
                                    linewidth=2.5))
    show_values(ax=axes[1], a=dout, title="dout (one value per window)", cmap="Oranges")
    for idx, (i, j) in enumerate(np.ndindex(dout.shape)):
        axes[1].add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False,
                                    edgecolor=colors[idx], linewidth=2.5))
    show_values(ax=axes[2], a=dx, title="dx = sum of what each window sends", cmap="Greens")
    if title:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return fig


def plot_receptive_fields(fields, titles, size=3.2):
    """Which input pixels reach one output pixel, for several stacks of layers.

    Parameters
    ----------
    fields : sequence of ndarray of shape (H, W)
        Non-zero where the input pixel influences the centre output pixel
        (e.g. the gradient of that output with respect to the input).
    titles : sequence of str
    """
    fig, axes = plt.subplots(1, len(fields), figsize=(size * len(fields), size + 0.5))
    for ax, f, t in zip(np.atleast_1d(axes), fields, titles):
        f = np.asarray(f, float)
        ax.imshow(f > 0, cmap="Greys", vmin=0, vmax=1.4)
        ax.imshow(np.where(f > 0, f, np.nan), cmap="viridis", alpha=0.85)
        h, w = f.shape
        ax.add_patch(Rectangle((w // 2 - 0.5, h // 2 - 0.5), 1, 1, fill=False,
                               edgecolor="red", linewidth=2))
        ax.set_xticks(np.arange(w + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(h + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        rows = np.flatnonzero((f > 0).any(axis=1))
        span = rows[-1] - rows[0] + 1 if rows.size else 0
        ax.set_title(f"{t}\nfield {span}x{span}, {int((f > 0).sum())} pixels used", fontsize=11)
    fig.tight_layout()
    return fig


def plot_backprop_chain(names, loss="loss L"):
    """Layers as boxes: values flow forward (top), gradients flow back (bottom).

    Parameters
    ----------
    names : sequence of str
        The layers in forward order, e.g. ``["conv", "ReLU", "max pool"]``.
    loss : str
        Label of the last box.
    """
    names = list(names) + [loss]
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.75 * n + 0.8, 2.6))
    for i, name in enumerate(names):
        last = i == n - 1
        ax.add_patch(Rectangle((1.75 * i, 0), 1.25, 1, facecolor="#fde9c9" if last else "#dbe9f6",
                               edgecolor="black", linewidth=1.2))
        ax.text(1.75 * i + 0.625, 0.5, name, ha="center", va="center", fontsize=11)
        if i < n - 1:
            x0, x1 = 1.75 * i + 1.25, 1.75 * (i + 1)
            ax.annotate("", xy=(x1, 0.78), xytext=(x0, 0.78),
                        arrowprops=dict(arrowstyle="->", color="tab:blue", lw=2))
            ax.annotate("", xy=(x0, 0.22), xytext=(x1, 0.22),
                        arrowprops=dict(arrowstyle="->", color="tab:red", lw=2))
    ax.text(0, 1.35, "forward: each layer computes its output from its input",
            color="tab:blue", fontsize=11)
    ax.text(0, -0.45, "backward: each layer turns dL/d(output) into dL/d(input) "
            "(and dL/d(weights)) by the chain rule", color="tab:red", fontsize=11)
    ax.set_xlim(-0.2, 1.75 * n)
    ax.set_ylim(-0.7, 1.6)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_channel_groups(in_channels, out_channels, groups_list):
    """Which input channels each output channel reads, for several ``groups``.

    Parameters
    ----------
    in_channels, out_channels : int
    groups_list : sequence of int
        Each must divide both channel counts.
    """
    fig, axes = plt.subplots(1, len(groups_list), figsize=(3.4 * len(groups_list), 3.4))
    colors = plt.cm.tab10(np.arange(max(groups_list)) % 10)
    for ax, g in zip(np.atleast_1d(axes), groups_list):
        cin, cout = in_channels // g, out_channels // g
        for o in range(out_channels):
            grp = o // cout
            for c in range(grp * cin, (grp + 1) * cin):
                ax.plot([0, 1], [c / max(in_channels - 1, 1), o / max(out_channels - 1, 1)],
                        color=colors[grp], alpha=0.7, lw=1.3)
        ax.scatter(np.zeros(in_channels), np.linspace(0, 1, in_channels), s=60, color="black",
                   zorder=3)
        ax.scatter(np.ones(out_channels), np.linspace(0, 1, out_channels), s=60,
                   color=[colors[o // cout] for o in range(out_channels)], zorder=3)
        n_links = out_channels * cin
        ax.set_title(f"groups={g}: {n_links} channel links", fontsize=11)
        ax.text(0, -0.12, "input\nchannels", ha="center", va="top", fontsize=10)
        ax.text(1, -0.12, "output\nchannels", ha="center", va="top", fontsize=10)
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylim(-0.35, 1.08)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_digits(images, labels=None, predictions=None, ncols=10, size=1.1, title=None):
    """A grid of small gray images with their labels (and predictions).

    Parameters
    ----------
    images : ndarray of shape (N, 1, H, W) or (N, H, W)
    labels, predictions : ndarray of int, shape (N,), optional
        A wrong prediction is written in red.
    """
    images = np.asarray(images)
    images = images[:, 0] if images.ndim == 4 else images
    titles = colors = None
    if labels is not None and predictions is not None:
        titles = [f"{t} -> {p}" for t, p in zip(labels, predictions)]
        colors = ["black" if t == p else "tab:red" for t, p in zip(labels, predictions)]
    elif labels is not None:
        titles = [str(t) for t in labels]
    return show_images(images, titles, cmap="gray_r", size=size, signed=False, ncols=ncols,
                       suptitle=title, vmin=0, vmax=1, title_colors=colors)


def plot_filters(weight, ncols=8, size=1.2, title=None):
    """The kernels of a convolution layer, one small image each.

    Parameters
    ----------
    weight : ndarray of shape (C_out, C_in, kH, kW)
        Channel 0 of each filter is shown (red positive, blue negative), all
        on one colour scale centred on 0.
    """
    weight = np.asarray(weight)[:, 0]
    return show_images(weight, [f"filter {k}" for k in range(len(weight))], size=size,
                       signed=True, same_scale=True, colorbar=False, ncols=ncols,
                       suptitle=title)


def plot_feature_maps(maps, ncols=8, size=1.2, title=None, cmap="viridis"):
    """The channels of one feature volume, one small image each, each on its own scale.

    Parameters
    ----------
    maps : ndarray of shape (C, H, W)
    """
    maps = np.asarray(maps)
    return show_images(maps, [str(k) for k in range(len(maps))], cmap=cmap, size=size,
                       signed=False, ncols=ncols, suptitle=title)


def plot_misclassified(images, labels, predictions, probs=None, max_images=12):
    """The test digits the network gets wrong: true label -> prediction (confidence).

    Parameters
    ----------
    images : ndarray of shape (N, 1, H, W)
    labels, predictions : ndarray of int, shape (N,)
    probs : ndarray of shape (N, C), optional
        Softmax outputs; the confidence of the prediction is shown.
    """
    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predictions))[:max_images]
    suptitle = f"{len(wrong)} misclassified digit(s): true \u2192 predicted (confidence)"
    if not len(wrong):
        fig, ax = plt.subplots(figsize=(3, 1.5), layout="constrained")
        ax.axis("off")
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        fig.suptitle(suptitle, fontsize=12)
        return fig
    titles = [f"{labels[k]} \u2192 {predictions[k]}"
              + (f" ({100 * probs[k, predictions[k]]:.0f}%)" if probs is not None else "")
              for k in wrong]
    return show_images(np.asarray(images)[wrong, 0], titles, cmap="gray_r", size=1.7,
                       signed=False, ncols=6, suptitle=suptitle, vmin=0, vmax=1,
                       title_colors=["tab:red"] * len(wrong))
