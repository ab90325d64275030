"""Timing helpers shared by the benchmark sections: alternating runs, medians, geometric means.

Every comparison runs its candidates *alternately* (A, B, A, B, ... with the
starting candidate rotated each round), so that a burst of load from other
processes hits all of them alike, and reports medians, not means. Both
wall time and process CPU time are recorded: with one thread per library
the CPU time is the better figure on a busy machine (it does not count the
time the process waits for a core), with several threads only wall time
means anything.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import sys
import time

__all__ = ["alternate", "summary", "geomean", "ratio", "environment", "load_average",
           "optional_torch", "format_table"]


def alternate(candidates, repeats, warmup=1):
    """Time each candidate ``repeats`` times, interleaved; return raw seconds.

    Parameters
    ----------
    candidates : dict of str -> callable
        Functions without arguments, each doing the same piece of work.
    repeats : int
        Timed calls of each candidate.
    warmup : int, default 1
        Untimed calls of each candidate first (caches, lazy imports, BLAS threads).

    Returns
    -------
    dict of str -> dict with "wall" and "cpu" lists of seconds
    """
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    times = {name: {"wall": [], "cpu": []} for name in names}
    gc.collect()
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            c0, t0 = time.process_time(), time.perf_counter()
            candidates[name]()
            t1, c1 = time.perf_counter(), time.process_time()
            times[name]["wall"].append(t1 - t0)
            times[name]["cpu"].append(c1 - c0)
    return times


def summary(samples, scale=1e3):
    """Median, minimum and spread of one candidate's samples, in ms by default.

    ``spread`` is the interquartile range over the median, in percent: how
    noisy this row was.
    """
    wall, cpu = sorted(samples["wall"]), sorted(samples["cpu"])
    med = statistics.median(wall)
    if len(wall) >= 4:
        q = statistics.quantiles(wall, n=4)
        spread = 100.0 * (q[2] - q[0]) / med if med > 0 else 0.0
    else:
        spread = 100.0 * (wall[-1] - wall[0]) / med if med > 0 else 0.0
    return {"median": med * scale, "min": wall[0] * scale, "spread_pct": round(spread, 1),
            "cpu_median": statistics.median(cpu) * scale, "runs": len(wall)}


def ratio(a, b):
    """``a / b`` or None when either is missing or ``b`` is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def geomean(values):
    """Geometric mean of the positive values that are not None (None if there are none)."""
    vals = [v for v in values if v is not None and v > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def environment(threads):
    """What the figures depend on: versions, BLAS, thread settings, machine load."""
    import numpy as np

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads_requested": threads,
        "load_average_start": _load(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "executable": sys.executable,
    }
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads",
                                                "architecture", "threading_layer")}
                        for d in threadpool_info()]
    except ImportError:  # pragma: no cover - ships with scikit-learn
        info["blas"] = None
    torch = optional_torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    else:
        info["torch"] = None
    return info


def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every OS
        return None


def load_average():
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    return _load()


#: Set by ``run.py --no-torch``: behave as if PyTorch were not installed.
TORCH_DISABLED = False


def optional_torch():
    """``torch`` if it is installed (and not disabled), else None."""
    if TORCH_DISABLED:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def format_table(headers, rows):
    """A plain-text table: columns right-aligned except the first, floats shortened."""
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) if body else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in body:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)
