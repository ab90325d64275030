"""LeNet-5 and an MLP of the same size on 5,000 real MNIST digits: time, accuracy, shifts.

Usage (from the repository root)::

    .venv/bin/python benchmarks/mnist.py                 # ~1-2 minutes on 2 cores
    .venv/bin/python benchmarks/mnist.py --no-plain      # only the recipe's defaults
    .venv/bin/python benchmarks/mnist.py --epochs 2      # a quick look

Trains :func:`lessonlib.make_lenet5` and :func:`lessonlib.make_mlp` with
:func:`lessonlib.train_mnist`'s defaults (15 epochs, batch 32, SGD lr 0.02
momentum 0.9, cosine schedule, random shifts of up to 2 pixels, float32,
seed 0, one BLAS thread) on the 4,000 training digits of
:func:`lessonlib.load_mnist`, then, unless ``--no-plain``, the same without
augmentation (``augment_shift=0``), which shows what the architecture
alone does with shifted digits. For each run it prints the parameters,
the epochs, the training wall time (``history["seconds"]``: the loop and
the validation accuracy after each epoch), the final validation and
test accuracy, and :func:`lessonlib.shifted_accuracy` on the 500 test
digits moved 1, 2 and 3 pixels (mean over right, left, down, up).

Measured on 2 shared cores (load average about 2, one BLAS thread), seed 0::

    model   params  aug epochs    time    val   test shift1 shift2 shift3
    lenet5   61706    2     15   12.5s  97.2%  97.8%  97.8%  97.0%  95.0%
    mlp      60430    2     15    1.0s  93.8%  94.4%  94.4%  92.5%  82.8%
    lenet5   61706    0     15   12.3s  95.8%  97.2%  95.2%  85.1%  64.7%
    mlp      60430    0     15    0.6s  90.2%  91.8%  86.2%  63.0%  35.3%

(the whole script: 30 s). LeNet-5 with the defaults and seeds 1 to 4:
98.4, 98.0, 98.2, 98.4 % test accuracy. The accuracies are figures on 500
digits: one digit is 0.2 %.

Times depend on the machine and its load: they are not tests.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))     # the repository's lessonlib, when not installed

SHIFTS = (1, 2, 3)


def run(name, augment_shift, epochs, seed):
    """Train one model; return its row of figures."""
    import lessonlib

    model_fn = {"lenet5": lessonlib.make_lenet5, "mlp": lessonlib.make_mlp}[name]
    model, history = lessonlib.train_mnist(model_fn, epochs=epochs, seed=seed,
                                           augment_shift=augment_shift, progress=False)
    X_test, y_test = lessonlib.load_mnist("test", np.float32)
    return {"model": name, "params": sum(p.size for p in model.params.values()),
            "augment_shift": augment_shift, "epochs": epochs,
            "seconds": history["seconds"], "val_acc": history["val_acc"][-1],
            "test_acc": lessonlib.evaluate(model, X_test, y_test),
            "shifted": lessonlib.shifted_accuracy(model, X_test, y_test, SHIFTS)}


def main(argv=None):
    import lessonlib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=lessonlib.MNIST_EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the runs without augmentation")
    args = parser.parse_args(argv)

    import tqdm.auto  # noqa: F401  (imported by train_mnist: not part of its time)

    lessonlib.load_mnist()                   # the csv.gz is read once, before any timing
    augments = [lessonlib.MNIST_AUGMENT_SHIFT] + ([] if args.no_plain else [0])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"train_mnist pins BLAS to one thread")
    head = (f"{'model':7s} {'params':>6s} {'aug':>4s} {'epochs':>6s} {'time':>7s} {'val':>6s} "
            f"{'test':>6s} " + " ".join(f"shift{s:d}" for s in SHIFTS))
    print(head)
    rows = []
    for aug in augments:
        for name in ("lenet5", "mlp"):
            r = run(name, aug, args.epochs, args.seed)
            rows.append(r)
            print(f"{r['model']:7s} {r['params']:6d} {aug:4d} {r['epochs']:6d} "
                  f"{r['seconds']:6.1f}s {r['val_acc']:6.1%} {r['test_acc']:6.1%} "
                  + " ".join(f"{r['shifted'][s]:6.1%}" for s in SHIFTS), flush=True)
    return rows


if __name__ == "__main__":
    main()
