"""Section "memory": peak memory of the conv fast path against the size of its input.

For each input size a fresh Python process (so that nothing allocated
before counts) builds ``x (N, C, H, W)`` and ``weight (C, C, 3, 3)`` in
float32, starts :mod:`tracemalloc` (NumPy reports its array buffers to it)
and runs ``conv2d`` (padding 1), then ``conv2d_backward``. Reported:

* ``forward_peak_mb`` / ``step_peak_mb``: the most memory allocated at
  once during the forward call / the forward + backward step, on top of
  the inputs (the output and the gradients included);
* ``peak_over_input``: ``step_peak_mb`` over the size of ``x``; a
  materialised im2col matrix alone is ``kH * kW = 9`` times ``x``;
* ``maxrss_mb``: the process's peak resident size (interpreter and
  imports included, about 200 MB of it).

Run alone: ``python benchmarks/memory.py N C H W`` prints one JSON row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["run_memory", "SIZES", "QUICK_SIZES"]

# (N, C, H, W): a 32 -> 32 channel 3x3 layer, the image side doubling.
SIZES = [(8, 32, 16, 16), (8, 32, 32, 32), (8, 32, 64, 64), (8, 32, 128, 128)]
QUICK_SIZES = [(8, 32, 16, 16), (8, 32, 32, 32)]
TINY_SIZES = [(1, 2, 8, 8)]


def measure(n, c, h, w):
    """Peak memory of one conv2d forward + backward on ``(n, c, h, w)``; one JSON-able row."""
    import tracemalloc

    import numpy as np

    from lessonlib import conv2d, conv2d_backward

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((c, c, 3, 3), dtype=np.float32)
    dout = rng.standard_normal((n, c, h, w), dtype=np.float32)
    conv2d(x[:1], weight, padding=1)                 # imports and caches, outside the count
    tracemalloc.start()
    out = conv2d(x, weight, padding=1)
    _, forward_peak = tracemalloc.get_traced_memory()
    del out
    tracemalloc.reset_peak()
    out = conv2d(x, weight, padding=1)
    grads = conv2d_backward(dout, x, weight, padding=1)
    _, step_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del out, grads
    mb = 2.0 ** 20
    return {"x_shape": [n, c, h, w], "input_mb": x.nbytes / mb,
            "forward_peak_mb": forward_peak / mb, "step_peak_mb": step_peak / mb,
            "peak_over_input": step_peak / x.nbytes, "maxrss_mb": _peak_rss_mb()}


def _peak_rss_mb():
    """This process's peak resident size in MB (VmHWM: on Linux, ru_maxrss would include
    the parent's peak from before the exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def run_memory(sizes, log=print):
    """Measure every size in its own process; return the section's dict."""
    rows = []
    here = os.path.abspath(__file__)
    for size in sizes:
        proc = subprocess.run([sys.executable, here, *map(str, size)], capture_output=True,
                              text=True, timeout=600)
        if proc.returncode != 0:
            rows.append({"x_shape": list(size), "error": proc.stderr.strip()[-300:]})
            log(f"  memory {size}: FAILED")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        log(f"  memory x {tuple(size)} ({row['input_mb']:.1f} MB): peak "
            f"{row['step_peak_mb']:.1f} MB = {row['peak_over_input']:.1f} x input")
    return {"rows": rows, "layer": "conv2d 3x3, padding 1, C_in = C_out = C, float32"}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(json.dumps(measure(*map(int, sys.argv[1:5]))))
