"""The course as nbgrader sees it: release, validation and an autograde round trip.

For every assignment in ``solutions/``:

- the committed ``course/`` is exactly what ``nbgrader generate_assignment``
  makes of ``solutions/`` (nobody hand-edited the release);
- the release holds no solution code and no hidden test;
- ``nbgrader validate`` passes on the solutions and ``--invert`` on the
  release (every test fails on the stubs);
- autograding three students in a scratch course gives the solutions full
  marks, the untouched release 0, and a submission with one planted bug
  loses exactly the points of that exercise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lessonlib.grading.course import nbgrader_env

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
RELEASE = ROOT / "course"
ASSIGNMENTS = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit())

# One planted bug per assignment: the function whose output is nudged. The
# round trip checks that exactly its grade cell (test_<name>) loses points.
PLANTED = {
    "01_convolution": "correlate2d",
    "02_padding_stride": "conv_output_size",
    "03_channels": "conv2d",
    "04_relu_pooling": "max_pool2d",
    "05_classifier": "linear",
    "06_backprop": "linear_backward",
    "07_lenet": "accuracy",
    "08_beyond": "conv_transpose2d",
    "09_training": "batch_norm2d",
}

pytestmark = pytest.mark.slow


def _env():
    env = nbgrader_env()   # nbgrader runs `alembic` and the kernel from this environment
    env.pop("MPLBACKEND", None)
    return env


def _nbgrader(args, cwd, check=True):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _notebook(folder, assignment):
    files = sorted((folder / assignment).glob("*.ipynb"))
    assert len(files) == 1, f"{folder / assignment} should hold one notebook, has {files}"
    return files[0]


def _course_dir(tmp_path):
    """A scratch course: the repository's config and a copy of solutions/."""
    course = tmp_path / "course_root"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(SOLUTIONS, course / "solutions")
    return course


def _source_cells(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id")}


def test_every_assignment_is_in_the_planted_bug_table():
    assert ASSIGNMENTS == sorted(PLANTED), "add the new assignment to PLANTED"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_carry_no_volatile_metadata(assignment):
    """Timings and widget ids change on every run: `make execute` strips them."""
    nb = nbformat.read(_notebook(SOLUTIONS, assignment), as_version=4)
    assert "widgets" not in nb.metadata
    assert not [i for i, c in enumerate(nb.cells) if "execution" in c.metadata]


def test_strip_removes_timings_and_widget_state():
    from lessonlib.authoring import strip_volatile_metadata

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nb.metadata["widgets"] = {"state": {}}
    strip_volatile_metadata(nb)
    assert "execution" not in nb.cells[0].metadata and "widgets" not in nb.metadata


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """Every assignment released anew from solutions/ into a scratch course."""
    course = _course_dir(tmp_path_factory.mktemp("release"))
    proc = subprocess.run([str(Path(sys.executable).parent / "lessonlib"), "--course", str(course),
                           "release"], env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course / "course"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_what_nbgrader_generates(assignment, fresh_release):
    fresh = nbformat.read(_notebook(fresh_release, assignment), as_version=4)
    committed = nbformat.read(_notebook(RELEASE, assignment), as_version=4)
    assert [c.source for c in fresh.cells] == [c.source for c in committed.cells], (
        f"course/{assignment} differs from solutions/{assignment}: run `make release`"
    )
    assert [c.metadata for c in fresh.cells] == [c.metadata for c in committed.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    text = _notebook(RELEASE, assignment).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True"):
        assert marker not in text, f"course/{assignment} leaks {marker!r}"
    # No line of a solution survives into the release's solution cells.
    src = _source_cells(nbformat.read(_notebook(SOLUTIONS, assignment), as_version=4))
    rel = _source_cells(nbformat.read(_notebook(RELEASE, assignment), as_version=4))
    for gid, cell in src.items():
        if not cell.metadata["nbgrader"].get("solution"):
            continue
        body = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
        if not body:
            continue
        solution_lines = {ln.strip() for ln in body.group(1).splitlines()
                          if len(ln.strip()) > 12 and not ln.strip().startswith("#")}
        released = {ln.strip() for ln in rel[gid].source.splitlines()}
        assert not solution_lines & released, f"{assignment}/{gid} leaks solution lines"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_validate_and_release_stubs_fail_every_test(assignment):
    ok = _nbgrader(["validate", str(_notebook(SOLUTIONS, assignment))], cwd=ROOT, check=False)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout + ok.stderr
    inv = _nbgrader(["validate", "--invert", str(_notebook(RELEASE, assignment))], cwd=ROOT,
                    check=False)
    assert "Success! The notebook does not pass any tests." in inv.stdout, inv.stdout + inv.stderr


def _plant_bug(nb, func):
    """Nudge ``func``'s output in the cell that defines it (a plausible slip)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(rf"^def {func}\(", cell.source, re.M):
            cell.source += (
                f"\n\n_planted_{func} = {func}\n"
                f"def {func}(*args, **kwargs):\n"
                f"    out = _planted_{func}(*args, **kwargs)\n"
                f"    if isinstance(out, tuple):\n"
                f"        return (out[0] + 1,) + tuple(out[1:])\n"
                f"    return out + 1\n"
            )
            return
    raise AssertionError(f"no cell defines {func}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_round_trip(assignment, tmp_path):
    from nbgrader.api import Gradebook

    course = _course_dir(tmp_path)
    _nbgrader(["generate_assignment", assignment, "--force"], cwd=course)
    name = _notebook(SOLUTIONS, assignment).name
    solution = nbformat.read(_notebook(SOLUTIONS, assignment), as_version=4)
    buggy = nbformat.read(_notebook(SOLUTIONS, assignment), as_version=4)
    _plant_bug(buggy, PLANTED[assignment])
    submissions = {
        "honest": solution,
        "blank": nbformat.read(_notebook(course / "course", assignment), as_version=4),
        "buggy": buggy,
    }
    for student, nb in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
        (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    _nbgrader(["autograde", assignment, "--force", "--create"], cwd=course)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        def scores(student):
            sub = gb.find_submission_notebook(Path(name).stem, assignment, student)
            return {g.name: (g.score, g.max_score) for g in sub.grades}

        honest, blank, buggy_scores = scores("honest"), scores("blank"), scores("buggy")
    total = sum(m for _, m in honest.values())
    assert total > 0
    assert {k: s for k, (s, m) in honest.items()} == {k: m for k, (s, m) in honest.items()}, (
        f"the solutions lose points: {honest}"
    )
    assert sum(s for s, _ in blank.values()) == 0, f"the blank release earns points: {blank}"
    target = f"test_{PLANTED[assignment]}"
    assert target in buggy_scores, f"no grade cell {target} in {sorted(buggy_scores)}"
    lost = {k for k, (s, m) in buggy_scores.items() if s < m}
    assert lost == {target}, f"the planted bug in {PLANTED[assignment]} cost {sorted(lost)}"
    assert buggy_scores[target][0] == 0


def test_execute_notebook_runs_and_strips_timings(tmp_path):
    from lessonlib.authoring import execute_notebook

    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]),
                   path)
    execute_notebook(path, timeout=60)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert "execution" not in nb.cells[0].metadata
