"""lessonlib's speed and memory figures, against PyTorch where it is installed.

Usage (from the repository root; ``make bench`` runs the first line)::

    .venv/bin/python benchmarks/run.py                  # every section, 3 to 6 minutes
    .venv/bin/python benchmarks/run.py --quick          # fewer repeats and sizes, ~2 minutes
    .venv/bin/python benchmarks/run.py --only conv --only train
    .venv/bin/python benchmarks/run.py --threads 2      # 2 BLAS / PyTorch threads

Prints one table per section and writes them all as JSON to
``benchmarks/results/latest.json`` (git-ignored; ``--output`` elsewhere):
``{"environment", "options", <one key per section run>, "targets"}``,
each section a dict with its ``rows`` and summary figures.

Sections (``--only SECTION``, repeatable):

``conv``
    ``conv2d`` + ``conv2d_backward`` in float32 on the suite of layer
    shapes of the speed targets (LeNet C1 and C3, a CIFAR-like first layer,
    16->32 at 16x16, a strided 32->64 at 32x32, 64->64 at 28x28 batch 8)
    and a few extra rows (depthwise, the digits CNN's two layers), against
    ``torch.nn.functional.conv2d`` + ``backward`` in the same process.
    Candidates run alternately; medians are compared. ``ratio`` is
    lessonlib's time over PyTorch's, ``geomean_ratio`` its geometric mean
    over the suite (target <= 3). The plain-loop path runs on the smallest
    shape (LeNet C1).
``pool``
    ``max_pool2d`` / ``avg_pool2d`` + backward, and the ``MaxPool2d``
    layer, against PyTorch on a similar suite.
``train``
    ``lessonlib.train.train_digits_cnn`` (30 epochs, batch 32, float32,
    SGD with momentum): time and test accuracy, against the same network
    trained in PyTorch from the same initial weights on the same batches
    (targets: >= 97 % in <= 15 s, <= 5x PyTorch). ``train_digits_cnn``
    runs with its defaults, which pin BLAS to one thread.
``notebooks``
    Execution time of each ``solutions/*/*.ipynb`` (nbclient; skipped if
    there are none).
``memory``
    Peak memory of the conv fast path against the input size, one fresh
    process per size (tracemalloc).

Threads: ``--threads N`` (default 1) sets ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` before NumPy is imported and
``torch.set_num_threads(N)``, for this process and the ones it starts;
``--threads 0`` leaves every library at its default. One thread is the
default because it compares the two libraries core for core and stays
meaningful on a shared machine, where two threads that wait for each
other turn every small matrix product into a scheduling delay (both
libraries slow down several-fold then). Every row records its median,
minimum, spread (interquartile range over median, in percent) and CPU
time; with one thread the CPU-time ratio (``cpu_ratio``) is the figure
least disturbed by other processes. The JSON's ``environment`` records
versions, BLAS, threads and the load average.

Without PyTorch (or with ``--no-torch``) the PyTorch columns and ratios
are empty (``null`` in the JSON). ``--repeats`` overrides the number of
timed runs, ``--tiny`` swaps every suite for one tiny shape (and trains
one epoch) to check that the script works, ``--check`` exits with status
1 if a measured target is missed. Times are not tests: they depend on
the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SECTIONS = ("conv", "pool", "train", "notebooks", "memory")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and sizes: a smoke test, not figures to quote")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help=f"run only this section (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS / PyTorch threads (default 1; 0 = library defaults)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per candidate (default 21, --quick 3)")
    parser.add_argument("--tiny", action="store_true",
                        help="one tiny shape per section, 1 epoch: checks the script runs")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch columns even if PyTorch is installed")
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "results" / "latest.json",
                        help="where to write the JSON (default benchmarks/results/latest.json)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a measured target is missed")
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    return args


def set_threads(threads):
    """Fix the thread counts before NumPy (and its BLAS) is first imported."""
    if threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import timing

    timing.TORCH_DISABLED = args.no_torch
    torch = timing.optional_torch()
    if torch is not None and args.threads > 0:
        torch.set_num_threads(args.threads)
    sections = args.only or list(SECTIONS)
    repeats = args.repeats or (3 if args.quick or args.tiny else 21)
    result = {"environment": timing.environment(args.threads),
              "options": {"quick": args.quick, "tiny": args.tiny, "repeats": repeats,
                          "sections": sections}}
    log = _log
    for name in sections:
        log(f"[{name}]")
        start, load = time.perf_counter(), timing.load_average()
        result[name] = run_section(name, args, repeats, log)
        result[name]["load_average"] = {"start": load, "end": timing.load_average()}
        result[name]["section_seconds"] = time.perf_counter() - start
    result["targets"] = targets(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print()
    print(report(result))
    print(f"\nJSON written to {args.output}")
    missed = [k for k, v in result["targets"].items() if v.get("met") is False]
    return 1 if args.check and missed else 0


def run_section(name, args, repeats, log):
    if name == "conv":
        from conv_pool import run_conv
        return run_conv(repeats, tiny=args.tiny, log=log)
    if name == "pool":
        from conv_pool import run_pool
        return run_pool(repeats, tiny=args.tiny, log=log)
    if name == "train":
        from training import run_train
        return run_train(1 if args.quick or args.tiny else 3, epochs=1 if args.tiny else 30,
                         log=log)
    if name == "notebooks":
        from notebooks import run_notebooks
        return run_notebooks(ROOT, log=log)
    from memory import QUICK_SIZES, SIZES, TINY_SIZES, run_memory
    return run_memory(TINY_SIZES if args.tiny else QUICK_SIZES if args.quick else SIZES, log=log)


def targets(result):
    """The speed targets that the sections measured: value, limit, met."""
    out = {}
    conv = result.get("conv")
    if conv and conv.get("geomean_ratio") is not None:
        out["conv_geomean_ratio"] = _target(conv["geomean_ratio"], 3.0)
    train = result.get("train")
    if train and train.get("epochs") == 30:
        out["train_test_acc"] = _target(train["lessonlib_test_acc"], 0.97, at_least=True)
        out["train_seconds"] = _target(train["lessonlib_seconds"], 15.0)
        if train.get("ratio") is not None:
            out["train_ratio"] = _target(train["ratio"], 5.0)
    return out


def _target(value, limit, at_least=False):
    return {"value": value, "limit": limit, "met": value >= limit if at_least else value <= limit}


def report(result):
    """The tables printed at the end, as one string."""
    from timing import format_table

    env = result["environment"]
    parts = [f"numpy {env['numpy']}, torch {env['torch']}, threads {env['threads_requested']}, "
             f"{env['cpu_count']} CPUs, load average {env['load_average_start']}"]
    if "conv" in result:
        c = result["conv"]
        rows = [[r["name"] + ("" if r["in_suite"] else " *"), _shape(r["x_shape"]),
                 _shape(r["weight_shape"]), r["stride"], r["padding"], r["groups"],
                 r["lessonlib_ms"], r["torch_ms"], r["ratio"], r["cpu_ratio"],
                 _spread(r)] for r in c["rows"]]
        parts.append("conv2d forward + backward, float32 (ms, medians; * = not in the suite)\n"
                     + format_table(["layer", "x", "weight", "s", "p", "g", "lessonlib",
                                     "torch", "ratio", "cpu ratio", "spread %"], rows)
                     + f"\ngeometric mean ratio over the suite: {_f(c['geomean_ratio'])} "
                       f"(CPU time: {_f(c['geomean_cpu_ratio'])}; target <= 3)")
        if "loops" in c:
            lp = c["loops"]
            parts[-1] += (f"\nplain loops on {lp['name']}: {lp['loops_ms']:.0f} ms, "
                          f"{lp['slowdown']:.0f}x the fast path")
    if "pool" in result:
        p = result["pool"]
        rows = [[r["name"] + ("" if r["in_suite"] else " *"), r["op"], _shape(r["x_shape"]),
                 f"{r['kernel']}/{r['stride']}/{r['padding']}", r["lessonlib_ms"],
                 r.get("layer_ms"), r["torch_ms"], r["ratio"], r.get("layer_ratio"),
                 r["cpu_ratio"], _spread(r)] for r in p["rows"]]
        parts.append("pooling forward + backward, float32 (ms, medians; functions, and the "
                     "MaxPool2d layer)\n"
                     + format_table(["shape", "op", "x", "k/s/p", "lessonlib", "layer", "torch",
                                     "ratio", "layer ratio", "cpu ratio", "spread %"], rows)
                     + f"\ngeometric mean ratio: max {_f(p['geomean_ratio_max'])} (layer "
                       f"{_f(p['geomean_ratio_max_layer'])}), avg {_f(p['geomean_ratio_avg'])}")
    if "train" in result:
        t = result["train"]
        rows = [[who, t[f"{who}_seconds"], t[f"{who}_cpu_seconds"], t[f"{who}_test_acc"],
                 len(t["runs"][who])] for who in ("lessonlib", "torch") if t["runs"][who]]
        parts.append(f"digits CNN, {t['epochs']} epochs, batch {t['batch_size']}, float32, "
                     f"SGD momentum {t['momentum']}\n"
                     + format_table(["library", "seconds", "cpu s", "test acc", "runs"], rows)
                     + f"\nratio {_f(t['ratio'])} (CPU time {_f(t['cpu_ratio'])}); targets: "
                       f">= 97 %, <= 15 s, <= 5x PyTorch")
    if "notebooks" in result:
        nb = result["notebooks"]
        if nb.get("skipped"):
            parts.append(f"notebooks: skipped ({nb['skipped']})")
        else:
            rows = [[r["notebook"], r["seconds"], r["cells_seconds"],
                     ("ok" if r["within_budget"] else "ok, over budget") if r["ok"]
                     else r.get("error", "failed")] for r in nb["rows"]]
            parts.append("solutions notebooks, executed once (s)\n"
                         + format_table(["notebook", "total", "cells", "status"], rows)
                         + f"\ntotal {nb['total_seconds']:.1f} s (budget "
                           f"{nb['budget_seconds']:.0f} s per notebook)")
    if "memory" in result:
        m = result["memory"]
        rows = [[_shape(r["x_shape"]), r.get("input_mb"), r.get("forward_peak_mb"),
                 r.get("step_peak_mb"), r.get("peak_over_input"), r.get("maxrss_mb")]
                for r in m["rows"]]
        parts.append(f"peak memory of the conv fast path ({m['layer']}; MB)\n"
                     + format_table(["x", "input", "forward peak", "fwd+bwd peak",
                                     "peak / input", "max RSS"], rows))
    if result.get("targets"):
        rows = [[k, v["value"], v["limit"], "yes" if v["met"] else "NO"]
                for k, v in result["targets"].items()]
        parts.append("targets\n" + format_table(["target", "value", "limit", "met"], rows))
    return "\n\n".join(parts)


def _shape(s):
    return "x".join(map(str, s)) if s else "-"


def _spread(r):
    return f"{_f(r['lessonlib_spread_pct'], 0)}/{_f(r['torch_spread_pct'], 0)}"


def _f(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def _log(msg):
    print(msg, flush=True)


if __name__ == "__main__":
    sys.exit(main())
