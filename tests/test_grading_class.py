"""A synthetic class graded end to end with ``lessonlib grade`` (nbgrader, real kernels).

The demo course (``lessonlib.grading.demo``) has two assignments, each with
two graded functions and hidden tests:

    01_alpha  relu (relu-test, 2 points), clip01 (clip-test, 1 point)
    02_beta   conv_output_size (size-test, 3 points), count_params (params-test, 1 point)

Each student of ``DEMO_STUDENTS`` is honest, blank, buggy, faulty or
cheating; every row of grades.csv is asserted.
"""

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from lessonlib.cli import main
from lessonlib.grading.course import nbgrader_env
from lessonlib.grading.demo import make_demo_class, make_demo_course

pytestmark = pytest.mark.slow

# (student, assignment) -> (score, status, substrings the flags must contain)
EXPECTED = {
    ("blank", "01_alpha"): ("0", "graded", []),
    ("blank", "02_beta"): ("0", "graded", []),
    ("buggy", "01_alpha"): ("1", "graded", []),            # relu wrong
    ("buggy", "02_beta"): ("1", "graded", []),             # true division: floats
    ("copier", "01_alpha"): ("1", "flagged", [
        "relu-test scored 0: relu called lessonlib's reference relu while being checked",
        "audit: relu-impl: imports lessonlib's reference relu, the function it must implement"]),
    ("copier", "02_beta"): ("1", "flagged", [
        "size-test scored 0: conv_output_size called lessonlib's reference conv_output_size",
        "audit: size-impl: imports importlib"]),
    ("crasher", "01_alpha"): ("", "failed", [
        "the kernel died while running clip-test", "audit: clip-impl: imports os"]),
    ("crasher", "02_beta"): ("4", "graded", []),
    ("hijacker", "01_alpha"): ("0", "flagged", [
        "relu-test scored 0: IPython input transformers (cleanup) were changed",
        "a failing test was reported as passing",
        "audit: cell 3: uses get_ipython()"]),
    ("hijacker", "02_beta"): ("0", "flagged", [
        "IPython shell.custom_exceptions was replaced",
        "IPython.core.interactiveshell.ExecutionResult.success was replaced",
        "sys.stderr was changed", "audit: cell 3: rebinds sys.excepthook"]),
    ("honest", "01_alpha"): ("3", "graded", []),
    ("honest", "02_beta"): ("4", "graded", []),
    ("looper", "01_alpha"): ("1", "flagged", ["relu-test timed out after 5 s (scored 0)"]),
    ("looper", "02_beta"): ("4", "graded", []),
    ("stubborn", "01_alpha"): ("", "failed", ["no submission for this assignment"]),
    ("stubborn", "02_beta"): ("", "failed", [
        "the kernel stopped responding after size-test timed out (5 s) and could not be "
        "interrupted", "audit: size-impl: imports signal"]),
    ("mangler", "01_alpha"): ("3", "flagged", [
        "cell clip-impl appeared 2 times, graded the last edited copy",
        "test cell relu-test was deleted, restored from the source and graded"]),
    ("mangler", "02_beta"): ("", "failed", ["beta.ipynb is not valid notebook JSON"]),
    ("misnamer", "01_alpha"): ("3", "flagged", ["alpha (1).ipynb graded as alpha.ipynb"]),
    ("misnamer", "02_beta"): ("4", "flagged", [
        "extra notebook scratch.ipynb not graded",
        "extra file numpy.py ignored (it could shadow a module)"]),
    ("patcher", "01_alpha"): ("0", "flagged", [
        "relu-test scored 0: lessonlib.checks._core.compare was replaced",
        "audit: cell 3: rebinds lessonlib.checks._core.compare"]),
    ("patcher", "02_beta"): ("0", "flagged", [
        "size-test scored 0: run_cases was redefined in the notebook",
        "audit: cell 3: redefines run_cases, which the tests call"]),
    ("reader", "01_alpha"): ("1", "flagged", [
        "blocked while grading: glob.glob", "audit: relu-impl: opens a file"]),
    ("reader", "02_beta"): ("3", "flagged", [
        "blocked while grading: sqlite3.connect", "audit: params-impl: imports sqlite3"]),
    ("warner", "01_alpha"): ("3", "graded", []),
    ("warner", "02_beta"): ("4", "graded", []),
}
# Code of the hidden tests (their failure messages may describe the failing case).
HIDDEN = ["linspace(-1.0, 1.0, 12)", "linspace(-2.0, 2.0, 9)", "dict(stride=2, padding=1)",
          "Case((16, 32, 5)"]


def run_cli(*args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(list(args))
    return status, buf.getvalue()


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = make_demo_course(tmp_path_factory.mktemp("demo") / "course")
    status, out = run_cli("--course", root, "release")
    assert status == 0, out
    return root


def test_release_is_what_nbgrader_generate_assignment_makes(demo, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("course", "gradebook.db"))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "02_beta",
                           "--force"], cwd=copy, env=nbgrader_env(), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    ours = open(os.path.join(demo, "course", "02_beta", "beta.ipynb"), "rb").read()
    assert (copy / "course" / "02_beta" / "beta.ipynb").read_bytes() == ours
    for a, nb in (("01_alpha", "alpha"), ("02_beta", "beta")):
        text = open(os.path.join(demo, "course", a, nb + ".ipynb")).read()
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        assert "np.maximum" not in text and "raise NotImplementedError()" in text
        cells = json.loads(text)["cells"]
        assert any(c["metadata"].get("nbgrader", {}).get("checksum") for c in cells)


def test_synthetic_class_with_two_jobs(demo, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs)
    status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(out),
                          "--jobs", "2", "--timeout", "5")
    assert status == 0, log
    rows = read_rows(out / "grades.csv")
    assert list(rows[0]) == ["student_id", "assignment", "score", "max_score", "status",
                             "flags"]
    got = {(r["student_id"], r["assignment"]): r for r in rows}
    assert sorted(got) == sorted(EXPECTED)
    for key, (score, status_, needles) in EXPECTED.items():
        row = got[key]
        assert (row["score"], row["status"]) == (score, status_), (key, row)
        assert row["max_score"] == ("3" if key[1] == "01_alpha" else "4")
        if not needles:
            assert row["flags"] == "", (key, row["flags"])
        for needle in needles:
            assert needle in row["flags"], (key, needle, row["flags"])
    # progress while grading, a summary at the end
    assert re.search(r"\[13/13\] \w+: ", log)
    assert "10 graded, 12 flagged, 4 failed" in log
    assert "01_alpha: mean" in log
    # feedback: one page per graded submission, none quoting a hidden test
    for (sid, a), (score, status_, _) in EXPECTED.items():
        folder = out / "feedback" / sid / a
        if status_ == "failed":
            assert not folder.exists()
            continue
        pages = list(folder.glob("*.html"))
        assert len(pages) == 1, (sid, a)
        text = pages[0].read_text()
        for hidden in HIDDEN + ["BEGIN HIDDEN TESTS", "hidden=True"]:
            assert hidden not in text, (sid, a, hidden)
    # nbgrader's own export of the merged gradebook agrees
    exported = {(r["student_id"], r["assignment"]): r
                for r in read_rows(out / "nbgrader_grades.csv")}
    for key, row in got.items():
        if row["status"] != "failed":
            assert float(exported[key]["score"]) == float(row["score"])


def test_parallel_equals_serial_and_reruns_are_idempotent(demo, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs, students=["honest", "patcher", "misnamer"])
    (subs / "notes.txt").write_text("not a student")
    shutil.make_archive(str(tmp_path / "class"), "zip", tmp_path, "subs")
    status, _ = run_cli("--course", demo, "grade", str(subs), "--out", str(out), "--jobs", "2")
    assert status == 0
    first = (out / "grades.csv").read_text()
    assert first.count("\n") == 7
    status, log = run_cli("--course", demo, "grade", str(tmp_path / "class.zip"), "--out",
                          str(out), "--jobs", "1")
    assert status == 0, log
    assert (out / "grades.csv").read_text() == first
    assert "ignored notes.txt" in log


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = {"01_convolution": "convolution", "02_padding_stride": "padding_stride"}


def _real_course_ready():
    for a, nb in REAL.items():
        path = os.path.join(REPO, "solutions", a, nb + ".ipynb")
        if not os.path.isfile(path) or '"points"' not in open(path).read():
            return False
    return True


def _solution_cell(nb, name):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                and "".join(c["source"]).lstrip().startswith(f"def {name}("))


@pytest.mark.skipif(not _real_course_ready(), reason="the course's first assignments are "
                                                     "not written yet")
def test_the_real_course_first_assignments(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(os.path.join(REPO, "nbgrader_config.py"), course)
    for a in REAL:
        shutil.copytree(os.path.join(REPO, "solutions", a), course / "solutions" / a)
    status, log = run_cli("--course", str(course), "release")
    assert status == 0, log
    subs = tmp_path / "subs"
    for a, nb in REAL.items():
        release = json.loads((course / "course" / a / f"{nb}.ipynb").read_text())
        plans = {"solver": json.loads((course / "solutions" / a / f"{nb}.ipynb").read_text()),
                 "blank": release}
        if a == "01_convolution":   # all solved, but correlate2d handed to the reference
            copier = json.loads(json.dumps(plans["solver"]))
            _solution_cell(copier, "correlate2d")["source"] = (
                "from lessonlib import correlate2d as _ref\n"
                "def correlate2d(image, kernel):\n    return _ref(image, kernel)")
            plans["copier"] = copier
        else:                       # comparisons patched so that stubs would pass
            patcher = json.loads(json.dumps(release))
            patcher["cells"].insert(0, {
                "cell_type": "code", "id": "patch", "metadata": {}, "outputs": [],
                "execution_count": None, "source":
                    "import numpy as np\nimport lessonlib.checks._core as core\n"
                    "np.allclose = lambda *a, **k: True\n"
                    "core.call_student = lambda fn, name, case: case.args[0]\n"
                    "core.compare = lambda *a, **k: None"})
            plans["patcher"] = patcher
        for sid, notebook in plans.items():
            (subs / sid / a).mkdir(parents=True)
            (subs / sid / a / f"{nb}.ipynb").write_text(json.dumps(notebook))
    out = tmp_path / "out"
    status, log = run_cli("--course", str(course), "grade", str(subs), "--out", str(out),
                          "--jobs", "2")
    assert status == 0, log
    rows = {(r["student_id"], r["assignment"]): r for r in read_rows(out / "grades.csv")}
    full = {a: rows["solver", a]["max_score"] for a in REAL}
    for a in REAL:
        assert (rows["solver", a]["score"], rows["solver", a]["status"],
                rows["solver", a]["flags"]) == (full[a], "graded", "")
        assert (rows["blank", a]["score"], rows["blank", a]["status"],
                rows["blank", a]["flags"]) == ("0", "graded", "")
    copier = rows["copier", "01_convolution"]
    assert copier["status"] == "flagged"
    assert 0 < float(copier["score"]) < float(full["01_convolution"])
    assert "audit: correlate2d: imports lessonlib's reference correlate2d" in copier["flags"]
    assert "scored 0: " in copier["flags"]
    patcher = rows["patcher", "02_padding_stride"]
    assert (patcher["score"], patcher["status"]) == ("0", "flagged")
    assert "lessonlib.checks._core.compare was replaced" in patcher["flags"]
    assert "numpy.allclose was replaced" in patcher["flags"]
