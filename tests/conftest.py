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


@pytest.fixture
def rng():
    """A seeded generator: the same numbers on every run."""
    return np.random.default_rng(0)

# Figures drawn by tests go nowhere: no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")
