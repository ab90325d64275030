"""LeNet-5 on real 28x28 MNIST digits, an MLP baseline, and shifted images.

LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), input 1 x 28 x 28::

    C1  Conv2d(1, 6, 5, padding=2)  -> ReLU       6 x 28 x 28
    S2  MaxPool2d(2)                              6 x 14 x 14
    C3  Conv2d(6, 16, 5)            -> ReLU      16 x 10 x 10
    S4  MaxPool2d(2)                             16 x  5 x  5
    C5  Conv2d(16, 120, 5)          -> ReLU     120 x  1 x  1
        Flatten                                 120
    F6  Linear(120, 84)             -> ReLU      84
        Linear(84, 10)                           10 class scores

61,706 parameters, trained by :func:`train_mnist` with mini-batch SGD with
momentum (a cosine learning-rate schedule, random shifts of up to 2 pixels)
on the 4,000 training digits of :func:`lessonlib.load_mnist`, the learning
curve read on its 500 validation digits, the final figure on its 500 test
digits (:func:`lessonlib.evaluate`): about 98 % in 15 epochs, 10 to 20 s
on one core. :func:`make_mlp` is the baseline without convolutions, of
about the same size (94 %); :func:`shifted_accuracy` measures what the
convolutions buy: robustness to a translation of the digit
(``benchmarks/mnist.py`` prints all of it).
"""

from __future__ import annotations

import numbers
import time

import numpy as np

from .._threads import blas_limit
from ..augment import random_shifts, shift_images
from .._validation import as_float_array, as_generator, check_int, float_dtype
from ..data import load_mnist
from ..nn import Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, ReLU, Sequential
from ..optim import SGD
from .digits import evaluate

__all__ = ["make_lenet5", "make_mlp", "train_mnist", "shifted_accuracy", "MNIST_LR",
           "MNIST_EPOCHS", "MNIST_AUGMENT_SHIFT"]

#: Defaults of :func:`train_mnist` (with batch 32, momentum 0.9, shifts of up to 2 pixels
#: and a cosine schedule), chosen on the validation split.
MNIST_LR = 0.02
MNIST_EPOCHS = 15
MNIST_AUGMENT_SHIFT = 2
LR_SCHEDULES = ("cosine", "constant")

_NCHW = "Layout is (N, C, H, W): a batch of images, e.g. load_mnist()[0]."


def make_lenet5(rng=None, dtype=np.float64):
    """LeNet-5 for 28x28 images, freshly initialised (PyTorch's default initialisation).

    The layers of LeCun et al. (1998): C1 6@5x5, S2 2x2 subsampling, C3
    16@5x5, S4 2x2 subsampling, C5 120@5x5 (a 1x1 output: a convolution
    that is fully connected here), F6 84 units and 10 outputs. The paper
    pads the 28x28 digits to 32x32; ``Conv2d(1, 6, 5, padding=2)`` does
    exactly that with zeros, so C1's output is 28x28 as in the paper.

    Three modernisations, as in most LeNet-5s written today: ReLU instead
    of the scaled tanh ``1.7159 tanh(2x/3)``, max pooling instead of the
    trainable averaging subsampling (a weight and a bias per map followed
    by a sigmoid), and a plain linear output read by a softmax
    cross-entropy instead of the Euclidean RBF units with hand-drawn
    targets. From PyTorch's default initialisation they train faster and
    end better. And C3 connects every one of its 16 maps to all 6 maps of
    S2, not the paper's sparse table (60 of 96 connections, chosen in
    1998 to save computation and break symmetry): 2,416 parameters in C3
    instead of 1,516.

    Parameters
    ----------
    rng : None, int or np.random.Generator
        Source of the initial weights; an int gives the same network every time.
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    model : Sequential
        Input of shape (N, 1, 28, 28), output of shape (N, 10) logits.
        Parameters ``"0.weight"`` (6, 1, 5, 5), ``"3.weight"`` (16, 6, 5, 5),
        ``"6.weight"`` (120, 16, 5, 5), ``"9.weight"`` (84, 120),
        ``"11.weight"`` (10, 84) and their biases: 61,706 numbers.

    Examples
    --------
    >>> model = make_lenet5(rng=0)
    >>> sum(p.size for p in model.params.values())
    61706
    >>> model(np.zeros((2, 1, 28, 28))).shape
    (2, 10)
    """
    rng = as_generator(rng)
    dtype = float_dtype(dtype)
    return Sequential(
        Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype), ReLU(),    # C1: 6 x 28 x 28
        MaxPool2d(2),                                                # S2: 6 x 14 x 14
        Conv2d(6, 16, 5, rng=rng, dtype=dtype), ReLU(),              # C3: 16 x 10 x 10
        MaxPool2d(2),                                                # S4: 16 x 5 x 5
        Conv2d(16, 120, 5, rng=rng, dtype=dtype), ReLU(),            # C5: 120 x 1 x 1
        Flatten(),
        Linear(120, 84, rng=rng, dtype=dtype), ReLU(),               # F6
        Linear(84, 10, rng=rng, dtype=dtype),                        # output
    )


def make_mlp(hidden=(76,), rng=None, dtype=np.float64):
    """A multilayer perceptron on the flattened 28x28 image: LeNet-5's baseline.

    ``Flatten -> Linear(784, h1) -> ReLU -> ... -> Linear(h_last, 10)``.
    The default, one hidden layer of 76 units, has 60,430 parameters, as
    many as LeNet-5 (61,706) within 2 %, but no convolution: every weight
    belongs to one pixel position.

    Parameters
    ----------
    hidden : int or sequence of int, default (76,)
        Widths of the hidden layers; ``()`` gives a linear classifier.
        ``(72, 72)``: two hidden layers, 62,506 parameters.
    rng : None, int or np.random.Generator
    dtype : np.float32 or np.float64, default np.float64

    Returns
    -------
    model : Sequential
        Input of shape (N, 1, 28, 28) (any (N, C, H, W) with C*H*W = 784),
        output of shape (N, 10) logits.

    Examples
    --------
    >>> model = make_mlp(rng=0)
    >>> sum(p.size for p in model.params.values()), model(np.zeros((2, 1, 28, 28))).shape
    (60430, (2, 10))
    """
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)):
        raise TypeError(f"hidden must be an int or a sequence of ints (the widths of the "
                        f"hidden layers), got {hidden!r}. Use hidden=(76,) for one layer.")
    widths = [784] + [check_int(h, "hidden width", 1) for h in hidden] + [10]
    rng = as_generator(rng)
    dtype = float_dtype(dtype)
    layers = [Flatten()]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Linear(a, b, rng=rng, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def shifted_accuracy(model, X, y, shifts=(1, 2, 3), batch_size=256):
    """Accuracy on images translated by ``s`` pixels, for each ``s`` of ``shifts``.

    For a shift ``s`` every image is moved ``s`` pixels right, left, down
    and up in turn (:func:`shift_images`, zero fill); the figure is the mean
    accuracy over these four copies. ``s = 0`` is the plain accuracy.

    Parameters
    ----------
    model : callable
        Maps a batch of shape (B, C, H, W) to logits of shape (B, n_classes).
    X : ndarray of shape (N, C, H, W)
    y : ndarray of int, shape (N,)
    shifts : iterable of int, default (1, 2, 3)
    batch_size : int, default 256

    Returns
    -------
    dict
        ``{s: accuracy}``, floats in ``[0, 1]``, in the order of ``shifts``.

    Examples
    --------
    >>> X, y = load_mnist("test")
    >>> untrained = make_lenet5(rng=0)
    >>> sorted(shifted_accuracy(untrained, X[:20], y[:20], shifts=(0, 2)))
    [0, 2]
    """
    X = as_float_array(X, "X", ndim=4, hint=_NCHW)
    out = {}
    for s in shifts:
        s = check_int(s, "shift", 0)
        if s == 0:
            out[s] = evaluate(model, X, y, batch_size)
            continue
        out[s] = float(np.mean([evaluate(model, shift_images(X, a, b), y, batch_size)
                                for a, b in ((s, 0), (-s, 0), (0, s), (0, -s))]))
    return out


def _set_mode(model, training):
    """``model.train(training)`` for models with modes (BatchNorm2d, Dropout), else nothing."""
    if callable(getattr(model, "train", None)):
        model.train(training)


def _epoch_lr(lr, epoch, epochs, schedule):
    """The learning rate of epoch ``epoch`` (0-based) of ``epochs``."""
    if schedule == "constant":
        return lr
    return float(lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))


def train_mnist(model_fn=make_lenet5, epochs=MNIST_EPOCHS, batch_size=32, lr=MNIST_LR,
                momentum=0.9, seed=0, dtype=np.float32, augment_shift=MNIST_AUGMENT_SHIFT,
                lr_schedule="cosine", progress=True, model=None, blas_threads=1):
    """Train a network on the 4,000 MNIST training digits with SGD; return it and its curves.

    The recipe of :func:`lessonlib.train_digits_cnn` on 28x28 digits: each
    epoch visits the training split of :func:`lessonlib.load_mnist` in a
    new random order in mini-batches; after each epoch the accuracy on
    the 500 validation digits is recorded. The test split is not touched:
    measure it once at the end, ``evaluate(model, *load_mnist("test"))``.

    Measured on 2 cores (shared, load average about 2; one BLAS thread;
    the defaults, seed 0; ``benchmarks/mnist.py``): LeNet-5 trains in
    12.5 s, 97.2 % validation and 97.8 % test accuracy (seeds 1 to 4:
    98.4, 98.0, 98.2, 98.4 % test); without augmentation 95.8 % / 97.2 %.
    The MLP of :func:`make_mlp` (60,430 parameters): 1.0 s, 93.8 % / 94.4 %
    (90.2 % / 91.8 % without augmentation).

    Parameters
    ----------
    model_fn : callable, default make_lenet5
        ``model_fn(rng=..., dtype=...)`` builds the network to train
        (:func:`make_lenet5`, :func:`make_mlp`, ...). Not called when
        ``model`` is given.
    epochs : int, default MNIST_EPOCHS (15)
        Passes over the 4,000 training images.
    batch_size : int, default 32
    lr : float, default MNIST_LR (0.02)
        The learning rate of the first epoch (see ``lr_schedule``).
    momentum : float, default 0.9
    seed : int or None, default 0
        Seeds the initial weights, the order of the mini-batches and the
        augmentation: the same seed gives the same run.
    dtype : np.float32 or np.float64, default np.float32
    augment_shift : int, default MNIST_AUGMENT_SHIFT (2)
        When > 0, every image of every training batch is shifted at random
        by up to this many pixels in each direction (:func:`random_shifts`),
        a new draw each time: data augmentation, which 4,000 digits need
        to reach 97 %. 0: the images as they are.
    lr_schedule : "cosine" or "constant", default "cosine"
        ``"cosine"``: epoch ``e`` (from 0) uses ``lr * (1 + cos(pi e / epochs)) / 2``,
        from ``lr`` down to nearly 0, so the last epochs settle instead of
        jumping around a minimum (``torch.optim.lr_scheduler.CosineAnnealingLR``
        stepped once per epoch). ``"constant"``: ``lr`` throughout.
    progress : bool, default True
        Show a progress bar (tqdm; a widget in Jupyter).
    model : Sequential, optional
        A network to train instead of a fresh ``model_fn(...)``.
    blas_threads : int or None, default 1
        Threads of the BLAS library while training (None: leave it alone);
        see :func:`lessonlib.train_digits_cnn`.

    Returns
    -------
    model : Sequential
        The trained network: input of shape (N, 1, 28, 28), output of
        shape (N, 10) logits. Trained in training mode, validated and
        returned in evaluation mode (``model.eval()``; it matters only for
        layers such as Dropout or BatchNorm2d).
    history : dict
        ``"loss"``, ``"train_acc"``, ``"val_acc"``: lists with one value
        per epoch (mean training loss, accuracy on the training batches
        while training, validation accuracy after the epoch);
        ``"seconds"``: the wall time of the whole training, a float.

    Examples
    --------
    >>> model, history = train_mnist(make_mlp, epochs=1, progress=False)
    >>> len(history["val_acc"]), history["val_acc"][-1] > 0.7    # chance: 0.1
    (1, True)
    """
    from tqdm.auto import tqdm

    if model is None and not callable(model_fn):
        raise TypeError(f"model_fn must be a function that builds a network, like "
                        f"make_lenet5 or make_mlp, got {model_fn!r}.")
    if not (isinstance(lr_schedule, str) and lr_schedule in LR_SCHEDULES):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}.")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    augment_shift = check_int(augment_shift, "augment_shift", 0)
    dtype = float_dtype(dtype)
    if seed is not None:
        seed = check_int(seed, "seed", 0)
    if blas_threads is not None:
        blas_threads = check_int(blas_threads, "blas_threads", 1)
    rng = np.random.default_rng(seed)
    if model is None:
        model = model_fn(rng=rng, dtype=dtype)
    X_train, y_train = load_mnist("train", dtype)
    X_val, y_val = load_mnist("val", dtype)
    criterion = CrossEntropyLoss()
    optimizer = SGD(model, lr=lr, momentum=momentum)
    base_lr = optimizer.lr                     # checked by SGD
    history = {"loss": [], "train_acc": [], "val_acc": [], "seconds": 0.0}
    n = len(y_train)
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
    start = time.perf_counter()
    with blas_limit(blas_threads):
        for epoch in bar:
            optimizer.lr = _epoch_lr(base_lr, epoch, epochs, lr_schedule)
            _set_mode(model, True)
            order = rng.permutation(n)
            total, correct = 0.0, 0
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                xb = X_train[idx]
                if augment_shift:
                    xb = random_shifts(xb, augment_shift, rng)
                logits = model(xb)
                loss = criterion(logits, y_train[idx])
                optimizer.zero_grad()
                model.backward(criterion.backward())
                optimizer.step()
                total += float(loss) * len(idx)
                correct += int(np.sum(np.argmax(logits, axis=1) == y_train[idx]))
            history["loss"].append(total / n)
            history["train_acc"].append(correct / n)
            _set_mode(model, False)
            history["val_acc"].append(evaluate(model, X_val, y_val))
            bar.set_postfix(loss=f"{total / n:.4f}", val_acc=f"{history['val_acc'][-1]:.3f}")
    history["seconds"] = time.perf_counter() - start
    return model, history
