"""A small CNN that learns the 8x8 handwritten digits, built from lessonlib's layers.

The network (input 1 x 8 x 8)::

    Conv2d(1, 16, 3, padding=1)  -> ReLU -> MaxPool2d(2)    16 x 4 x 4
    Conv2d(16, 32, 3, padding=1) -> ReLU -> MaxPool2d(2)    32 x 2 x 2
    Flatten -> Linear(128, 10)                              10 class scores

trained with mini-batch SGD with momentum on the 1,347 training digits and
evaluated on the 450 held out (:func:`lessonlib.load_digits`). It reaches
about 98 % test accuracy in a few seconds. From a shell::

    python -m lessonlib.train --epochs 30

:func:`predict` and :func:`evaluate` work for any model; the 28x28 MNIST
recipe (LeNet-5) is in :mod:`lessonlib.train.mnist`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .._threads import blas_limit
from .._validation import as_float_array, as_generator, check_int, float_dtype
from ..data import load_digits
from ..nn import Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, Sequential
from ..optim import SGD

__all__ = ["make_digits_cnn", "train_digits_cnn", "evaluate", "predict", "DEFAULT_LR"]

#: Learning rate of :func:`train_digits_cnn` (with momentum 0.9, batch 32).
DEFAULT_LR = 0.05


def make_digits_cnn(rng=None, dtype=np.float64):
    """The digits CNN, freshly initialised (PyTorch's default initialisation).

    Parameters
    ----------
    rng : None, int or np.random.Generator
        Source of the initial weights; an int gives the same network every time.
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    model : Sequential
        Input ``(N, 1, 8, 8)``, output ``(N, 10)`` logits. Parameters
        ``"0.weight"`` (16, 1, 3, 3), ``"3.weight"`` (32, 16, 3, 3),
        ``"7.weight"`` (10, 128) and their biases.
    """
    rng = as_generator(rng)
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
        Flatten(), Linear(32 * 2 * 2, 10, rng=rng, dtype=dtype),
    )


def predict(model, X, batch_size=256):
    """Predicted class of each example: the argmax of the logits.

    Parameters
    ----------
    model : callable
        Maps a batch ``(B, ...)`` to logits ``(B, C)``.
    X : ndarray of shape (N, ...)
    batch_size : int, default 256
        Examples per forward pass (bounds the memory used).

    Returns
    -------
    labels : ndarray of int64, shape (N,)
    """
    X = as_float_array(X, "X")
    batch_size = check_int(batch_size, "batch_size", 1)
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty batch (N, ...), got shape {X.shape}.")
    parts = [np.argmax(model(X[i:i + batch_size]), axis=1)
             for i in range(0, X.shape[0], batch_size)]
    return np.concatenate(parts).astype(np.int64)


def evaluate(model, X, y, batch_size=256):
    """Accuracy of ``model`` on ``(X, y)``: the fraction of correct predictions.

    Parameters
    ----------
    model : callable
    X : ndarray of shape (N, ...)
    y : ndarray of int, shape (N,)
    batch_size : int, default 256

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    y = np.asarray(y)
    X = as_float_array(X, "X")
    if y.ndim != 1 or X.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must hold one label per example of X: X has shape {X.shape}, "
                         f"y has shape {y.shape}.")
    return float(np.mean(predict(model, X, batch_size) == y))


def _blas_threads(n):
    """Limit the BLAS thread pool to ``n`` threads inside a ``with`` block (None: no limit).

    The same mechanism as every lessonlib call (:mod:`lessonlib._threads`).
    """
    return blas_limit(n)


def train_digits_cnn(epochs=30, batch_size=32, lr=DEFAULT_LR, momentum=0.9, seed=0,
                     dtype=np.float32, progress=True, model=None, blas_threads=1):
    """Train the digits CNN with SGD; return the model and its learning curves.

    Parameters
    ----------
    epochs : int, default 30
        Passes over the 1,347 training images.
    batch_size : int, default 32
    lr : float, default DEFAULT_LR
    momentum : float, default 0.9
    seed : int or None, default 0
        Seeds the initial weights and the order of the mini-batches: the
        same seed gives the same run.
    dtype : np.float32 or np.float64, default np.float32
        float32 is faster; float64 is what gradient checks need.
    progress : bool, default True
        Show a progress bar (tqdm; a widget in Jupyter).
    model : Sequential, optional
        A network to train instead of a fresh :func:`make_digits_cnn`.
    blas_threads : int or None, default 1
        Threads of the BLAS library while training (None: leave it alone).
        This network's matrix products are too small to gain from several
        threads, and on a busy machine BLAS threads that wait for each
        other made training 5 to 10 times slower in our measurements
        (``benchmarks/threads.py``; the policy: :mod:`lessonlib._threads`).

    Returns
    -------
    model : Sequential
        The trained network.
    history : dict
        ``"loss"``, ``"train_acc"``, ``"test_acc"``: lists with one value
        per epoch (mean training loss, accuracy on the training batches
        while training, test accuracy after the epoch); ``"seconds"``: the
        wall time of the whole training, a float.

    Examples
    --------
    >>> model, history = train_digits_cnn(epochs=1, progress=False)
    >>> len(history["test_acc"]), history["test_acc"][-1] > 0.5
    (1, True)
    """
    from tqdm.auto import tqdm

    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    dtype = float_dtype(dtype)
    if seed is not None:
        seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    if model is None:
        model = make_digits_cnn(rng, dtype)
    X_train, y_train = load_digits("train", dtype)
    X_test, y_test = load_digits("test", dtype)
    criterion = CrossEntropyLoss()
    optimizer = SGD(model, lr=lr, momentum=momentum)
    if blas_threads is not None:
        blas_threads = check_int(blas_threads, "blas_threads", 1)
    history = {"loss": [], "train_acc": [], "test_acc": [], "seconds": 0.0}
    n = len(y_train)
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
    start = time.perf_counter()
    with _blas_threads(blas_threads):
        for _ in bar:
            order = rng.permutation(n)
            total, correct = 0.0, 0
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                logits = model(X_train[idx])
                loss = criterion(logits, y_train[idx])
                optimizer.zero_grad()
                model.backward(criterion.backward())
                optimizer.step()
                total += float(loss) * len(idx)
                correct += int(np.sum(np.argmax(logits, axis=1) == y_train[idx]))
            history["loss"].append(total / n)
            history["train_acc"].append(correct / n)
            history["test_acc"].append(evaluate(model, X_test, y_test))
            bar.set_postfix(loss=f"{total / n:.4f}", test_acc=f"{history['test_acc'][-1]:.3f}")
    history["seconds"] = time.perf_counter() - start
    return model, history


def main(argv=None):
    """``python -m lessonlib.train``: train the digits CNN, print accuracy and time."""
    parser = argparse.ArgumentParser(
        prog="python -m lessonlib.train",
        description="Train lessonlib's small CNN on the handwritten digits.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    _, history = train_digits_cnn(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                  momentum=args.momentum, seed=args.seed,
                                  dtype=np.dtype(args.dtype), progress=not args.no_progress)
    print(f"test accuracy {history['test_acc'][-1]:.2%} after {args.epochs} epochs "
          f"in {history['seconds']:.1f} s ({args.dtype}, lr={args.lr:g}, seed={args.seed})")
    return history

