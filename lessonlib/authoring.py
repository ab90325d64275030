"""Keep the instructor's solutions notebooks executed and their diffs clean.

The solutions notebooks are committed *executed*: their outputs are what a
reader sees, and ``pytest --nbval`` compares a fresh run against them. Two
things an execution stores would make every re-run a noisy diff (and leak
into the release): per-cell timing metadata and ipywidgets' model state
with random ids. :func:`execute_notebook` runs a notebook without them.

Command line (the Makefile's ``make execute``)::

    python -m lessonlib.authoring solutions/01_convolution/convolution.ipynb ...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__: list[str] = []


def strip_volatile_metadata(nb):
    """Remove timing and widget-state metadata from ``nb`` in place; return it."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
    return nb


def execute_notebook(path, timeout=600):
    """Execute the notebook at ``path`` in its folder and save it without volatile metadata.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file; it is overwritten.
    timeout : int
        Seconds a cell may run.

    Returns
    -------
    float
        Seconds the execution took.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nbformat.write(strip_volatile_metadata(nb), path)
    return seconds


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m lessonlib.authoring NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for p in argv:
        print(f"{p}: executed in {execute_notebook(p):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
