"""Objects a check hands to the student's function: they must exist in a grading kernel.

While grading, a check runs in the grader and the student's function in the
sandboxed kernel, whose ``lessonlib`` lacks the references of the graded
functions (:mod:`lessonlib.grading.references`), the other check modules
included. What a check passes *to* the student's function lives here, in a
module every grading kernel has:

* :class:`Smooth` and :class:`Coupled`, the test functions given to
  ``numerical_gradient``; their instances travel to the kernel by value
  (``__lessonlib_wire__``);
* :func:`small_model`, the network given to ``train_step``; the kernel
  builds its own copy from the same seed;
* :func:`generator`, the ``rng`` given to the functions of 09 that draw
  random numbers (a Generator cannot travel as data: the kernel makes its
  own from the same seed, and the check reads it through a proxy).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Smooth", "Coupled", "small_model", "generator"]


class Smooth:
    """f(x) = sum(c * sin(x) + 0.5 * x**2), a test function that counts its calls.

    It has no gradient method: the check computes the exact gradient itself
    (in the grader), and ``calls`` tells it whether the student's
    ``numerical_gradient`` evaluated ``f`` at all.

    Parameters
    ----------
    c : ndarray
        The coefficients, of the shape of the input ``x``.
    """

    __lessonlib_wire__ = True

    def __init__(self, c):
        self.c = c
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return float(np.sum(self.c * np.sin(x) + 0.5 * x ** 2))


class Coupled(Smooth):
    """f(x) = sum(c * sin(x)) + sum(x)**2 / 2: every entry's derivative depends on all of x.

    With it, an entry left perturbed by a ``numerical_gradient`` changes the
    differences of the entries after it (``Smooth`` cannot tell: it is a sum
    of functions of one entry each). Counts its calls, has no gradient method.
    """

    __lessonlib_wire__ = True   # declared by each class: subclasses are not accepted blindly

    def __call__(self, x):
        self.calls += 1
        return float(np.sum(self.c * np.sin(x)) + 0.5 * np.sum(x) ** 2)


def small_model(seed):
    """Conv2d(1, 2, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(8, 3), from ``seed``."""
    import lessonlib as ll
    return ll.Sequential(ll.Conv2d(1, 2, 3, padding=1, rng=seed), ll.ReLU(), ll.MaxPool2d(2),
                         ll.Flatten(), ll.Linear(8, 3, rng=seed + 1))


def generator(seed):
    """``np.random.default_rng(seed)``: the same stream in the grader and in the kernel."""
    return np.random.default_rng(seed)
