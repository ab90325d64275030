"""Section "train": the digits CNN trained by lessonlib and by PyTorch, same start, same batches.

lessonlib's figure is :func:`lessonlib.train.train_digits_cnn` itself
(30 epochs, batch 32, float32, SGD lr 0.05 momentum 0.9, seed 0; its
``history["seconds"]`` covers the training loop and the test accuracy
computed after every epoch). The PyTorch run builds the same network
(``Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-ReLU-MaxPool2d(2)
-Flatten-Linear(128,10)``), copies lessonlib's initial weights, draws the
same mini-batches from the same generator and also evaluates after every
epoch, so both runs do the same arithmetic and end at nearly the same
accuracy. The two alternate; the medians are compared.

``train_digits_cnn`` is called with its defaults, as a student would: it
limits BLAS to one thread itself (``blas_threads=1``, recorded in the
JSON), whatever ``--threads`` says; PyTorch uses ``--threads``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from timing import optional_torch, ratio

__all__ = ["run_train", "train_torch"]

SEED, LR, MOMENTUM, BATCH = 0, 0.05, 0.9, 32


def train_lessonlib(epochs):
    """One run of ``train_digits_cnn``: ``(seconds, final test accuracy)``."""
    from lessonlib.train import train_digits_cnn

    _, history = train_digits_cnn(epochs=epochs, batch_size=BATCH, lr=LR, momentum=MOMENTUM,
                                  seed=SEED, dtype=np.float32, progress=False)
    return history["seconds"], history["test_acc"][-1]


def train_torch(torch, epochs):
    """The same training in PyTorch: ``(seconds, final test accuracy)``."""
    from lessonlib.data import load_digits
    from lessonlib.train import make_digits_cnn

    nn = torch.nn
    rng = np.random.default_rng(SEED)              # as train_digits_cnn: weights, then batches
    reference = make_digits_cnn(rng, np.float32)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(reference.params[name]))
    X_train, y_train = (torch.from_numpy(a) for a in load_digits("train", np.float32))
    X_test, y_test = (torch.from_numpy(a) for a in load_digits("test", np.float32))
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    criterion = nn.CrossEntropyLoss()
    n = len(y_train)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        for i in range(0, n, BATCH):
            idx = order[i:i + BATCH]
            loss = criterion(net(X_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = float((net(X_test).argmax(1) == y_test).float().mean())
    return time.perf_counter() - start, accuracy


def _default_blas_threads():
    """The BLAS thread limit train_digits_cnn applies by default (None: it sets none)."""
    import inspect

    from lessonlib.train import train_digits_cnn

    param = inspect.signature(train_digits_cnn).parameters.get("blas_threads")
    return None if param is None else param.default


def run_train(repeats, epochs=30, log=print):
    """Alternate lessonlib and PyTorch trainings; return the section's dict."""
    from lessonlib.data import load_digits

    import tqdm.auto  # noqa: F401  (imported by train_digits_cnn: not part of its time)

    torch = optional_torch()
    load_digits("train")                       # the data set is read once, before any timing
    runs = {"lessonlib": [], "torch": []}
    for r in range(repeats):
        order = ["lessonlib", "torch"] if r % 2 == 0 else ["torch", "lessonlib"]
        for who in order:
            if who == "torch" and torch is None:
                continue
            c0 = time.process_time()
            seconds, acc = train_lessonlib(epochs) if who == "lessonlib" else train_torch(
                torch, epochs)
            runs[who].append({"seconds": seconds, "cpu_seconds": time.process_time() - c0,
                              "test_acc": acc})
            log(f"  train {who}: {seconds:.2f} s, test accuracy {acc:.2%}")
    out = {"epochs": epochs, "batch_size": BATCH, "lr": LR, "momentum": MOMENTUM,
           "dtype": "float32", "seed": SEED, "runs": runs,
           "lessonlib_blas_threads": _default_blas_threads(),
           "target_seconds": 15.0, "target_accuracy": 0.97, "target_ratio": 5.0}
    for who, rs in runs.items():
        out[f"{who}_seconds"] = statistics.median(x["seconds"] for x in rs) if rs else None
        out[f"{who}_cpu_seconds"] = statistics.median(x["cpu_seconds"] for x in rs) if rs else None
        out[f"{who}_test_acc"] = rs[-1]["test_acc"] if rs else None
    out["ratio"] = ratio(out["lessonlib_seconds"], out["torch_seconds"])
    out["cpu_ratio"] = ratio(out["lessonlib_cpu_seconds"], out["torch_cpu_seconds"])
    return out
