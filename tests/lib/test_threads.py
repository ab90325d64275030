"""lessonlib's thread policy: one BLAS thread inside its calls, restored after (no timing here).

The times are measured by ``benchmarks/threads.py``; these tests only check
that the policy is applied where it is documented (lessonlib/_threads.py).
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import lessonlib
from lessonlib import _threads
from lessonlib.checks import Case, run_cases


def blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_threads(monkeypatch):
    """BLAS at 2 threads around the test (`make test` starts it at 1), the policy at default."""
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    with threadpool_limits(limits=2, user_api="blas"):
        if max(blas_threads()) < 2:
            pytest.skip("this BLAS cannot be set to 2 threads")
        yield


class Probe(lessonlib.nn.module.Module):
    """A layer that records the BLAS threads it runs under."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(blas_threads())
        return x

    def backward(self, dout):
        self.seen.append(blas_threads())
        return dout


def test_sequential_runs_its_layers_with_one_blas_thread_and_restores(two_threads):
    probe = Probe()
    model = lessonlib.Sequential(lessonlib.Conv2d(1, 2, 3, rng=0), probe, lessonlib.Flatten(),
                                 lessonlib.Linear(2 * 3 * 3, 4, rng=0))
    out = model(np.ones((2, 1, 5, 5)))
    model.backward(np.ones_like(out))
    assert probe.seen and all(max(s) == 1 for s in probe.seen), probe.seen
    assert max(blas_threads()) == 2     # the student's own NumPy keeps its threads


def test_conv_and_linear_products_run_with_one_thread(two_threads, monkeypatch):
    from lessonlib.fast import im2col as conv_im2col
    seen = []
    real = conv_im2col._matmul

    def spy(a, b):
        seen.append(blas_threads())
        return real(a, b)

    monkeypatch.setattr(conv_im2col, "_matmul", spy)
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6))
    w = np.random.default_rng(1).normal(size=(4, 3, 3, 3))
    out = lessonlib.conv2d(x, w, padding=1)
    lessonlib.conv2d_backward(np.ones_like(out), x, w, padding=1)
    assert seen and all(max(s) == 1 for s in seen), seen
    assert max(blas_threads()) == 2


def test_a_check_runs_the_students_function_with_one_thread(two_threads):
    seen = []

    def student(x):
        seen.append(blas_threads())
        return x @ x.T

    run_cases("gram", student, lambda x: x @ x.T, [Case((np.eye(3),))], quiet=True)
    assert seen == [[1] * len(seen[0])]
    assert max(blas_threads()) == 2


def test_nested_calls_restore_once_at_the_outermost(two_threads):
    with _threads.blas_limit():
        assert max(blas_threads()) == 1
        with _threads.blas_limit():
            assert max(blas_threads()) == 1
        assert max(blas_threads()) == 1          # the inner exit does not restore
    assert max(blas_threads()) == 2


def test_env_var_none_leaves_blas_alone(two_threads, monkeypatch):
    monkeypatch.setenv(_threads.ENV_VAR, "none")
    probe = Probe()
    lessonlib.Sequential(probe)(np.ones((1, 1)))
    assert max(probe.seen[0]) == 2


def test_env_var_sets_the_limit_and_is_validated(monkeypatch):
    monkeypatch.setenv(_threads.ENV_VAR, "3")
    assert _threads.policy_threads() == 3
    monkeypatch.setenv(_threads.ENV_VAR, "off")
    assert _threads.policy_threads() is None
    monkeypatch.setenv(_threads.ENV_VAR, "many")
    with pytest.raises(ValueError, match="LESSONLIB_BLAS_THREADS"):
        _threads.policy_threads()
    monkeypatch.delenv(_threads.ENV_VAR)
    assert _threads.policy_threads() == 1


def test_an_exception_inside_restores_the_threads(two_threads):
    class Boom(Probe):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lessonlib.Sequential(Boom())(np.ones((1, 1)))
    assert max(blas_threads()) == 2
    assert _threads._depth == 0
