"""Curves and bars: activations, training histories, errors, probabilities.

Every function draws with matplotlib and returns the ``Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .images import _WINDOW_COLORS

__all__ = ["plot_activation", "plot_bars", "plot_curves", "plot_probabilities",
           "plot_difference_errors", "plot_history"]


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


def plot_probabilities(scores, probs, classes=None, title=None):
    """Class scores (logits) beside the softmax probabilities made from them.

    Parameters
    ----------
    scores, probs : ndarray of shape (C,)
    classes : sequence of str, optional
    """
    scores, probs = np.asarray(scores, float), np.asarray(probs, float)
    classes = [str(i) for i in range(len(scores))] if classes is None else list(classes)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.3))
    a1.bar(classes, scores, color=["tab:red" if s < 0 else "tab:blue" for s in scores])
    a1.axhline(0, color="black", linewidth=0.8)
    a1.set_title("scores (logits): any real numbers")
    a2.bar(classes, probs, color="tab:green")
    a2.set_ylim(0, 1)
    for i, p in enumerate(probs):
        a2.text(i, p + 0.02, f"{p:.2f}", ha="center", fontsize=10)
    a2.set_title("softmax: positive, sum to 1")
    for ax in (a1, a2):
        ax.set_xlabel("class")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_difference_errors(hs, errors, title="error of a numerical derivative"):
    """Log-log plot of the error of finite differences against the step h.

    Parameters
    ----------
    hs : ndarray of shape (K,)
    errors : dict of str -> ndarray of shape (K,)
        One curve per method, e.g. ``{"one-sided": ..., "central": ...}``.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, err in errors.items():
        ax.loglog(hs, np.maximum(err, 1e-17), "o-", label=name)
    ax.set_xlabel("step h")
    ax.set_ylabel("|numerical - exact|")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.4)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_history(history):
    """Training loss and train/validation accuracy per epoch.

    Parameters
    ----------
    history : dict
        ``"loss"`` (one value per epoch, or per step), ``"train_acc"`` and
        ``"val_acc"`` (one value per epoch). A ``"test_acc"`` curve is drawn
        too when given (:func:`lessonlib.train.train_digits_cnn` records
        one); a notebook measures the test set once, after training.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    loss = np.asarray(history["loss"], float)
    per_epoch = max((len(history.get(k, [])) for k in ("train_acc", "val_acc", "test_acc")),
                    default=0)
    a1.plot(np.arange(1, len(loss) + 1), loss, color="tab:blue")
    a1.set_yscale("log")
    a1.set_xlabel("epoch" if len(loss) == per_epoch else "step")
    a1.set_ylabel("cross-entropy loss")
    a1.set_title("training loss")
    for key, name in (("train_acc", "train"), ("val_acc", "validation"), ("test_acc", "test")):
        if key in history and len(history[key]):
            acc = 100 * np.asarray(history[key], float)
            a2.plot(np.arange(1, len(acc) + 1), acc, "o-", markersize=3, label=name)
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy (%)")
    a2.set_ylim(top=100.5)
    a2.grid(True, alpha=0.4)
    a2.legend()
    a2.set_title("accuracy")
    fig.tight_layout()
    return fig
