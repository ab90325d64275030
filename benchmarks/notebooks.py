"""Section "notebooks": how long each solutions notebook takes to execute, top to bottom.

Each ``solutions/*/*.ipynb`` runs once with nbclient in a fresh kernel, from
its own folder (as nbval and nbgrader run it); nothing is written back.
``seconds`` is the whole execution including the kernel's start,
``cells_seconds`` the sum of the cells' own run times (nbclient's timing
metadata). The course's budget is 30 s per notebook.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import subprocess
import sys
import time

__all__ = ["run_notebooks"]

BUDGET_SECONDS = 30.0


def run_notebooks(root, log=print, timeout=600):
    """Execute every solutions notebook under ``root``; return the section's dict."""
    paths = sorted(pathlib.Path(root, "solutions").glob("*/*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    if not paths:
        return {"skipped": "no notebooks under solutions/", "rows": []}
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as err:
        return {"skipped": f"nbclient is not installed ({err})", "rows": []}
    # The kernel is started from this interpreter's environment (nbgrader tools
    # and the kernel spec live in the venv's bin).
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        row = {"notebook": str(path.relative_to(root)), "cells": len(nb.cells)}
        t0 = time.perf_counter()
        try:
            client.execute(stderr=subprocess.DEVNULL)   # the kernel's own start-up warnings
            row["ok"] = True
        except Exception as err:  # a failing notebook is a figure too, not a crash
            row["ok"] = False
            row["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200]}"
        row["seconds"] = time.perf_counter() - t0
        row["cells_seconds"] = _cells_seconds(nb)
        row["within_budget"] = row["ok"] and row["seconds"] <= BUDGET_SECONDS
        rows.append(row)
        log(f"  notebook {row['notebook']}: {row['seconds']:.1f} s"
            + ("" if row["ok"] else f"  FAILED {row['error']}"))
    return {"rows": rows, "budget_seconds": BUDGET_SECONDS,
            "total_seconds": sum(r["seconds"] for r in rows),
            "nbgrader_execution": bool(os.environ.get("NBGRADER_EXECUTION"))}


def _cells_seconds(nb):
    """Sum of the code cells' execution times recorded by nbclient, or None."""
    total, seen = 0.0, False
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            total += (_parse(end) - _parse(start)).total_seconds()
            seen = True
    return total if seen else None


def _parse(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
