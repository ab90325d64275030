"""Notebook 07's training loop on an idle and on a busy machine: lessonlib's BLAS thread policy.

Usage (from the repository root)::

    .venv/bin/python benchmarks/threads.py              # 3 epochs per run, ~1-2 minutes
    .venv/bin/python benchmarks/threads.py --epochs 5 --repeats 3

Each configuration runs in a fresh Python process whose environment has no
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` /
``LESSONLIB_BLAS_THREADS`` (as in a student's kernel started from a plain
shell), except what the configuration sets:

``default``
    lessonlib as shipped: its thread policy (:mod:`lessonlib._threads`)
    decides.
``policy off``
    ``LESSONLIB_BLAS_THREADS=none``: lessonlib leaves BLAS alone, so
    OpenBLAS uses one thread per core (what the course did before).
``forced 1``
    ``OPENBLAS_NUM_THREADS=1`` (and OMP/MKL) set before NumPy starts: the
    reference figure.

and each is timed on an idle machine and with ``--busy N`` (default 1)
other CPU-bound processes (``python -c "while True: pass"``) running.
The loop timed is the one notebook 07 runs (``solutions/07_lenet``): the
LeNet of ``build_lenet``, ``train_step`` (forward, cross-entropy, backward,
in-place SGD update) over batches of 32 of the 1,077 training digits, then
the training and validation accuracy; float64, as in the notebook. The
script prints the median epoch time of every configuration and the ratio
busy / idle-forced-1, their CPU time (OpenBLAS threads
that busy-wait burn CPU without progress) and the BLAS threads left after
the loop (the policy restores them), then (the target: the default's busy time within 1.3x of the
idle single-thread time). Times depend on the machine: they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "LESSONLIB_BLAS_THREADS")

CONFIGS = {
    "default": {},
    "policy off": {"LESSONLIB_BLAS_THREADS": "none"},
    "forced 1": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
}

# The child: notebook 07's cells (data split, build_lenet, accuracy, train_step, the loop).
CHILD = r"""
import json, sys, time
import numpy as np
import lessonlib
from lessonlib import (Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
                       cross_entropy, cross_entropy_backward)

epochs = int(sys.argv[1])
X_learn, y_learn = lessonlib.load_digits("train")
split = np.random.default_rng(0).permutation(len(X_learn))
X_val, y_val = X_learn[split[:270]], y_learn[split[:270]]
X_train, y_train = X_learn[split[270:]], y_learn[split[270:]]

def build_lenet(rng=None):
    rng = np.random.default_rng(rng)
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
        Flatten(), Linear(32 * 2 * 2, 10, rng=rng),
    )

def accuracy(logits, targets):
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(targets)))

def train_step(model, x, y, lr):
    logits = model(x)
    loss = cross_entropy(logits, y)
    model.backward(cross_entropy_backward(logits, y))
    for name, p in model.params.items():
        p -= lr * model.grads[name]
    return float(loss)

model = build_lenet(rng=0)
order_rng = np.random.default_rng(0)
times, cpu = [], []
for epoch in range(epochs):
    t0, c0 = time.perf_counter(), time.process_time()
    order = order_rng.permutation(len(X_train))
    losses = [train_step(model, X_train[b], y_train[b], 0.2)
              for b in np.array_split(order, len(order) // 32)]
    accuracy(model(X_train), y_train), accuracy(model(X_val), y_val)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
from threadpoolctl import threadpool_info
blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"epoch_s": times, "cpu_s": cpu, "blas_threads_after": blas,
                  "val_acc": accuracy(model(X_val), y_val)}))
"""


def run_child(env_extra, epochs, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(epochs)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"the training child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_busy(n):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_busy(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration")
    parser.add_argument("--busy", type=int, default=1,
                        help="CPU-bound processes running during the busy runs (default 1)")
    parser.add_argument("--output", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or args.busy < 0:
        parser.error("--epochs and --repeats must be >= 1, --busy >= 0")

    print(f"notebook 07's training loop, {args.epochs} epoch(s) x {args.repeats} run(s) per "
          f"configuration; {os.cpu_count()} CPU(s); busy = {args.busy} other CPU-bound "
          f"process(es)")
    results = {}
    for load in ("idle", "busy"):
        for name, env_extra in CONFIGS.items():
            busy = start_busy(args.busy) if load == "busy" else []
            try:
                time.sleep(0.3 if busy else 0)
                epochs, cpus, blas = [], [], None
                for _ in range(args.repeats):
                    r = run_child(env_extra, args.epochs)
                    skip = 1 if len(r["epoch_s"]) > 1 else 0    # the first epoch warms up
                    epochs += r["epoch_s"][skip:]
                    cpus += r["cpu_s"][skip:]
                    blas = r["blas_threads_after"]
            finally:
                stop_busy(busy)
            med = statistics.median(epochs)
            results[(load, name)] = med
            print(f"  {load:4s}  {name:10s}  median epoch {med:6.3f} s  "
                  f"(min {min(epochs):.3f}, max {max(epochs):.3f}; CPU "
                  f"{statistics.median(cpus):.3f} s; BLAS threads after the loop: {blas})",
                  flush=True)
    ref = results[("idle", "forced 1")]
    print(f"\nbusy / idle single-thread ({ref:.3f} s):")
    for name in CONFIGS:
        print(f"  {name:10s}  idle {results[('idle', name)] / ref:4.2f}x   "
              f"busy {results[('busy', name)] / ref:4.2f}x")
    print("default / forced 1 under the same load: "
          + ", ".join(f"{load} {results[(load, 'default')] / results[(load, 'forced 1')]:.2f}x"
                      for load in ("idle", "busy")))
    try:
        load1 = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load1:.2f} on {os.cpu_count()} CPU(s): "
              f"'idle' is only as idle as the machine was")
    except OSError:  # pragma: no cover
        pass
    verdict = results[("busy", "default")] / ref
    print(f"\ndefault, busy: {verdict:.2f}x the idle single-thread time "
          f"({'within' if verdict <= 1.3 else 'above'} the 1.3x target)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"epochs": args.epochs, "repeats": args.repeats, "busy": args.busy,
                       "cpus": os.cpu_count(),
                       "median_epoch_s": {f"{l}/{n}": v for (l, n), v in results.items()},
                       "busy_default_over_idle_single": verdict}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
