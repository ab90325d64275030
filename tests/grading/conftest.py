"""Fixtures shared by the grading tests that use the fake jobs of ``grading_fakes``."""

import pytest

import grading_fakes as fakes
from lessonlib.grading.demo import make_demo_course


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A gradebook made by nbgrader for the demo course (assignments, notebooks, cells)."""
    folder = tmp_path_factory.mktemp("template")
    root = make_demo_course(folder / "course")
    return fakes.make_template_db(root, str(folder / "gradebook.db"))
