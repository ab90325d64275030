"""Shared pytest configuration: hypothesis profiles and seeded generators."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" keeps property tests quick enough for every run; "thorough" is for
# a maintainer hunting a bug: HYPOTHESIS_PROFILE=thorough make test
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# tests/_without_torch/torch.py stands in for PyTorch only when `make test` puts that
# folder on PYTHONPATH. Collected as a module (--doctest-modules), it would put the
# folder on sys.path and hide the real PyTorch from every later test of the worker.
collect_ignore = ["_without_torch"]


@pytest.fixture
def rng():
    """A seeded generator: the same numbers on every run."""
    return np.random.default_rng(0)

# Figures drawn by tests go nowhere: no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``sandbox`` need bubblewrap: skipped without it, unless CI requires it.

    ``.ci/run`` installs bubblewrap and sets ``LESSONLIB_REQUIRE_SANDBOX=1``, so
    there a missing ``bwrap`` fails the run instead of skipping the tests.
    """
    from lessonlib.grading.sandbox import find_bwrap
    if find_bwrap() is not None or os.environ.get("LESSONLIB_REQUIRE_SANDBOX") == "1":
        return
    skip = pytest.mark.skip(reason="bubblewrap (bwrap) is not installed: "
                                   "sudo apt-get install bubblewrap")
    for item in items:
        if "sandbox" in item.keywords:
            item.add_marker(skip)
