"""Sections "conv" and "pool": lessonlib's fast path against PyTorch, shape by shape.

Each row times one forward + backward step, float32, in the same process:

* conv: ``conv2d`` then ``conv2d_backward`` (dx, dweight, dbias) against
  ``F.conv2d(x, w, b).backward(dout)`` with ``x``, ``w``, ``b`` requiring grad;
* pool: ``max_pool2d`` / ``avg_pool2d`` then their ``*_backward`` (the
  stateless functions, whose max backward recomputes the forward pass),
  and the ``MaxPool2d`` layer (forward caches, backward reuses), against
  ``F.max_pool2d(x, ...).backward(dout)`` / ``F.avg_pool2d``.

The suite rows count in the geometric mean; the extra rows (depthwise, the
two layers of the digits CNN) are there to explain the training figures.
"""

from __future__ import annotations

import time

import numpy as np

from timing import alternate, geomean, optional_torch, ratio, summary

__all__ = ["CONV_SUITE", "CONV_EXTRA", "POOL_SUITE", "POOL_EXTRA", "run_conv", "run_pool"]

# name, x shape (N, C, H, W), weight shape (C_out, C_in // groups, kH, kW), stride, padding, groups
CONV_SUITE = [
    ("lenet_c1", (64, 1, 28, 28), (6, 1, 5, 5), 1, 0, 1),
    ("lenet_c3", (64, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1),
    ("cifar_first", (32, 3, 32, 32), (16, 3, 3, 3), 1, 1, 1),
    ("c16_c32_16px", (32, 16, 16, 16), (32, 16, 3, 3), 1, 1, 1),
    ("c32_c64_s2_32px", (32, 32, 32, 32), (64, 32, 3, 3), 2, 1, 1),
    ("c64_c64_28px_b8", (8, 64, 28, 28), (64, 64, 3, 3), 1, 1, 1),
]
CONV_EXTRA = [
    ("depthwise_64_28px_b8", (8, 64, 28, 28), (64, 1, 3, 3), 1, 1, 64),
    ("digits_conv1", (32, 1, 8, 8), (16, 1, 3, 3), 1, 1, 1),
    ("digits_conv2", (32, 16, 4, 4), (32, 16, 3, 3), 1, 1, 1),
]
CONV_TINY = [("tiny", (2, 3, 6, 6), (4, 3, 3, 3), 1, 1, 1)]

# name, x shape, kernel, stride, padding
POOL_SUITE = [
    ("lenet_s2", (64, 6, 24, 24), 2, 2, 0),
    ("lenet_s4", (64, 16, 10, 10), 2, 2, 0),
    ("cifar_16ch_32px", (32, 16, 32, 32), 2, 2, 0),
    ("c32_16px", (32, 32, 16, 16), 2, 2, 0),
    ("overlap_k3_s2_p1", (32, 32, 32, 32), 3, 2, 1),
    ("c64_28px_b8", (8, 64, 28, 28), 2, 2, 0),
]
POOL_EXTRA = [
    ("digits_pool1", (32, 16, 8, 8), 2, 2, 0),
    ("digits_pool2", (32, 32, 4, 4), 2, 2, 0),
]
POOL_TINY = [("tiny", (2, 3, 6, 6), 2, 2, 0)]


def _row(name, in_suite, samples, ours, theirs, extra=None):
    mine = summary(samples[ours])
    row = {"name": name, "in_suite": in_suite, "lessonlib_ms": mine["median"],
           "lessonlib_min_ms": mine["min"], "lessonlib_spread_pct": mine["spread_pct"],
           "lessonlib_cpu_ms": mine["cpu_median"], "runs": mine["runs"],
           "torch_ms": None, "torch_min_ms": None, "torch_spread_pct": None,
           "torch_cpu_ms": None, "ratio": None, "cpu_ratio": None}
    if theirs in samples:
        t = summary(samples[theirs])
        row.update(torch_ms=t["median"], torch_min_ms=t["min"], torch_spread_pct=t["spread_pct"],
                   torch_cpu_ms=t["cpu_median"], ratio=ratio(mine["median"], t["median"]),
                   cpu_ratio=ratio(mine["cpu_median"], t["cpu_median"]))
    row.update(extra or {})
    return row


def run_conv(repeats, tiny=False, loops=True, log=print):
    """Time conv2d + conv2d_backward against PyTorch; return the section's dict."""
    from lessonlib import conv2d, conv2d_backward

    torch = optional_torch()
    rng = np.random.default_rng(0)
    rows = []
    shapes = [(s, True) for s in (CONV_TINY if tiny else CONV_SUITE)]
    shapes += [] if tiny else [(s, False) for s in CONV_EXTRA]
    for (name, xs, ws, stride, pad, groups), in_suite in shapes:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        b = rng.standard_normal(ws[0], dtype=np.float32)
        dout = rng.standard_normal(conv2d(x, w, b, stride, pad, groups=groups).shape,
                                   dtype=np.float32)

        def ours(x=x, w=w, b=b, dout=dout, s=stride, p=pad, g=groups):
            conv2d(x, w, b, s, p, groups=g)
            conv2d_backward(dout, x, w, s, p, groups=g)

        candidates = {"lessonlib": ours}
        if torch is not None:
            candidates["torch"] = _torch_conv_step(torch, x, w, b, dout, stride, pad, groups)
        samples = alternate(candidates, repeats)
        row = _row(name, in_suite, samples, "lessonlib", "torch",
                   {"x_shape": list(xs), "weight_shape": list(ws), "stride": stride,
                    "padding": pad, "groups": groups})
        rows.append(row)
        log(f"  conv {name}: lessonlib {row['lessonlib_ms']:.2f} ms, torch "
            f"{_fmt(row['torch_ms'])} ms, ratio {_fmt(row['ratio'])}")
    section = {"rows": rows,
               "geomean_ratio": geomean(r["ratio"] for r in rows if r["in_suite"]),
               "geomean_cpu_ratio": geomean(r["cpu_ratio"] for r in rows if r["in_suite"]),
               "target_geomean_ratio": 3.0}
    if loops:
        section["loops"] = _time_loops(rows[0], CONV_TINY[0] if tiny else CONV_SUITE[0],
                                       1 if repeats < 5 else 2)
        log(f"  conv plain loops on {section['loops']['name']}: "
            f"{section['loops']['loops_ms']:.0f} ms ({section['loops']['slowdown']:.0f}x the "
            f"fast path)")
    return section


def _torch_conv_step(torch, x, w, b, dout, stride, pad, groups):
    F = torch.nn.functional
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dt = torch.from_numpy(dout)

    def step():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, stride, pad, groups=groups).backward(dt)

    return step


def _time_loops(fast_row, shape, repeats):
    """The plain-loop path (conv2d_loops + conv2d_backward_loops) on the smallest shape."""
    from lessonlib.loops.conv import conv2d_backward_loops, conv2d_loops

    name, xs, ws, stride, pad, groups = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    b = rng.standard_normal(ws[0], dtype=np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = conv2d_loops(x, w, b, stride, pad, groups=groups)
        conv2d_backward_loops(np.ones_like(out), x, w, stride, pad, groups=groups)
        times.append(time.perf_counter() - t0)
    loops_ms = 1e3 * float(np.median(times))
    return {"name": name, "loops_ms": loops_ms, "runs": repeats,
            "fast_ms": fast_row["lessonlib_ms"], "slowdown": loops_ms / fast_row["lessonlib_ms"]}


def run_pool(repeats, tiny=False, log=print):
    """Time max/avg pooling forward + backward against PyTorch; return the section's dict."""
    from lessonlib import (avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward)
    from lessonlib.nn.layers import MaxPool2d

    torch = optional_torch()
    rng = np.random.default_rng(0)
    rows = []
    shapes = [(s, True) for s in (POOL_TINY if tiny else POOL_SUITE)]
    shapes += [] if tiny else [(s, False) for s in POOL_EXTRA]
    for (name, xs, k, s, p), in_suite in shapes:
        x = rng.standard_normal(xs, dtype=np.float32)
        out_shape = max_pool2d(x, k, s, p).shape
        dout = rng.standard_normal(out_shape, dtype=np.float32)
        layer = MaxPool2d(k, s, p)

        def max_fn(x=x, dout=dout, k=k, s=s, p=p):
            max_pool2d(x, k, s, p)
            max_pool2d_backward(dout, x, k, s, p)

        def max_layer(x=x, dout=dout, layer=layer):
            layer(x)
            layer.backward(dout)

        def avg_fn(x=x, dout=dout, k=k, s=s, p=p):
            avg_pool2d(x, k, s, p)
            avg_pool2d_backward(dout, x, k, s, p)

        candidates = {"max": max_fn, "max_layer": max_layer, "avg": avg_fn}
        if torch is not None:
            candidates["torch_max"] = _torch_pool_step(torch, "max_pool2d", x, dout, k, s, p)
            candidates["torch_avg"] = _torch_pool_step(torch, "avg_pool2d", x, dout, k, s, p)
        samples = alternate(candidates, repeats)
        common = {"x_shape": list(xs), "kernel": k, "stride": s, "padding": p}
        layer_ms = summary(samples["max_layer"])["median"]
        max_row = _row(name, in_suite, samples, "max", "torch_max",
                       dict(common, op="max", layer_ms=layer_ms))
        max_row["layer_ratio"] = ratio(layer_ms, max_row["torch_ms"])
        avg_row = _row(name, in_suite, samples, "avg", "torch_avg", dict(common, op="avg"))
        rows += [max_row, avg_row]
        log(f"  pool {name}: max {max_row['lessonlib_ms']:.2f} ms (layer {layer_ms:.2f}) vs "
            f"{_fmt(max_row['torch_ms'])}; avg {avg_row['lessonlib_ms']:.2f} ms vs "
            f"{_fmt(avg_row['torch_ms'])}")
    suite = [r for r in rows if r["in_suite"]]
    return {"rows": rows,
            "geomean_ratio": geomean(r["ratio"] for r in suite),
            "geomean_ratio_max": geomean(r["ratio"] for r in suite if r["op"] == "max"),
            "geomean_ratio_max_layer": geomean(r["layer_ratio"] for r in suite
                                               if r["op"] == "max"),
            "geomean_ratio_avg": geomean(r["ratio"] for r in suite if r["op"] == "avg")}


def _torch_pool_step(torch, fn, x, dout, k, s, p):
    pool = getattr(torch.nn.functional, fn)
    xt = torch.from_numpy(x).requires_grad_()
    dt = torch.from_numpy(dout)

    def step():
        xt.grad = None
        pool(xt, k, s, p).backward(dt)

    return step


def _fmt(v):
    return "-" if v is None else f"{v:.2f}"
