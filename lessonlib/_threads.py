"""lessonlib's thread policy: one BLAS thread for its own (small) matrix products.

The policy
----------
While one of lessonlib's computations runs (a convolution through the
im2col path, a ``Linear`` or ``Sequential`` forward or backward pass, a
check of the student's function, :func:`lessonlib.train_digits_cnn`), the
BLAS library NumPy uses (OpenBLAS, MKL ...) is limited to **one thread**;
when the outermost such call returns, the previous number is restored, so
the student's own NumPy code keeps the library's default.

Why: the matrix products of this course are tiny (a LeNet on 8x8 digits,
batches of 32), far too small to gain from several threads. OpenBLAS's
threads busy-wait for each other, so on a machine where another process
keeps a core busy, two BLAS threads made notebook 07's training step 3 to
10 times slower than one (``benchmarks/threads.py`` measures it). One
thread is as fast on an idle machine and stays fast on a busy one.

Override with the environment variable ``LESSONLIB_BLAS_THREADS`` (read
when the first limited call starts): a positive integer is the limit,
``none`` (or ``0``, ``off``) leaves BLAS alone. Setting
``OPENBLAS_NUM_THREADS=1`` before NumPy starts has the same effect for
every call, lessonlib's or not.

The limit is applied with :mod:`threadpoolctl` (a dependency): its
controllers are looked up once, then each outermost call costs two C
calls (set, restore). Nested calls only count their depth.
"""

from __future__ import annotations

import functools
import os
import threading

__all__ = ["blas_limit", "limited", "policy_threads"]

ENV_VAR = "LESSONLIB_BLAS_THREADS"
DEFAULT_THREADS = 1

_lock = threading.Lock()
_depth = 0
_saved = []          # (controller, previous number of threads) of the outermost call
_controllers = None  # threadpoolctl's BLAS library controllers, looked up once


def policy_threads():
    """The BLAS thread limit of lessonlib's calls: an int >= 1, or None (no limit)."""
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if raw == "":
        return DEFAULT_THREADS
    if raw in ("none", "off", "0", "no", "false"):
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a positive integer or 'none', got {raw!r}.") from None
    return n if n >= 1 else None


def _blas_controllers():
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController
            ctl = ThreadpoolController().select(user_api="blas")
            _controllers = list(ctl.lib_controllers)
        except Exception:  # pragma: no cover - no threadpoolctl, or an unknown BLAS
            _controllers = []
    return _controllers


def _enter(n="policy"):
    global _depth
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        if n == "policy":
            n = policy_threads()
        if n is None:
            return
        for lib in _blas_controllers():
            try:
                before = lib.get_num_threads()
                if before is not None and before > n:
                    lib.set_num_threads(n)
                    _saved.append((lib, before))
            except Exception:  # pragma: no cover - a library that refuses: leave it
                pass


def _exit():
    global _depth
    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        while _saved:
            lib, before = _saved.pop()
            try:
                lib.set_num_threads(before)
            except Exception:  # pragma: no cover
                pass


class blas_limit:
    """``with blas_limit():`` runs the block under the policy (or ``blas_limit(n)``: n threads).

    The default reads :func:`policy_threads`; ``n=None``: no limit. Re-entrant:
    only the outermost block changes and restores the library's setting.
    """

    __slots__ = ("n",)

    def __init__(self, n="policy"):
        self.n = policy_threads() if n == "policy" else n

    def __enter__(self):
        _enter(self.n)
        return self

    def __exit__(self, *exc):
        _exit()
        return False


def limited(fn):
    """Decorator: ``fn`` runs under the thread policy (see the module's docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _enter()
        try:
            return fn(*args, **kwargs)
        finally:
            _exit()
    return wrapper
