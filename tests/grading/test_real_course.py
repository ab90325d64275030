"""The course's own eight assignments graded in the sandbox, as an instructor would.

The instructor's solutions, submitted as they are, score full marks with no
flag; the release, submitted blank, scores 0; a student who hands four
exercises to lessonlib's reference (directly, under the grouped
convolution's ``groups=``, by name lookup) scores 0 on those and is flagged,
while the rest of their work is graded.
"""

import contextlib
import csv
import io
import json
import os
import shutil

import pytest

from lessonlib.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.xdist_group("grading-real-course")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSIGNMENTS = sorted(d for d in os.listdir(os.path.join(REPO, "solutions"))
                     if os.path.isdir(os.path.join(REPO, "solutions", d)))

# assignment -> (function, the body that hands it to the reference)
COPIED = {
    "03_channels": ("conv2d", "import lessonlib\n"
                    "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
                    "    return lessonlib.conv2d(x, weight, bias, stride=stride, padding=padding)"),
    "05_classifier": ("softmax", "import lessonlib\n"
                      "def softmax(z, axis=-1):\n"
                      "    return getattr(lessonlib, 'soft' + 'max')(z, axis=axis)"),
    "06_backprop": ("conv2d_backward", "from lessonlib import conv2d_backward as _b\n"
                    "def conv2d_backward(dout, x, weight, stride=1, padding=0):\n"
                    "    return _b(dout, x, weight, stride=stride, padding=padding)"),
    "08_beyond": ("grouped_conv2d", "import lessonlib\n"
                  "def grouped_conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):\n"
                  "    return lessonlib.conv2d(x, weight, bias, stride=stride, padding=padding,\n"
                  "                            groups=groups)"),
    "09_training": ("dropout", "from lessonlib import dropout as _dropout\n"
                    "def dropout(x, p, training, rng):\n"
                    "    return _dropout(x, p, training, rng)"),
}


def run_cli(*args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(list(args))
    return status, buf.getvalue()


def _notebook(folder):
    [name] = [f for f in os.listdir(folder) if f.endswith(".ipynb")]
    return name


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    course = tmp / "course"
    course.mkdir()
    shutil.copy(os.path.join(REPO, "nbgrader_config.py"), course)
    shutil.copytree(os.path.join(REPO, "solutions"), course / "solutions")
    status, log = run_cli("--course", str(course), "release")
    assert status == 0, log
    subs = tmp / "subs"
    for a in ASSIGNMENTS:
        name = _notebook(course / "solutions" / a)
        for sid, src in (("solver", course / "solutions"), ("blank", course / "course")):
            (subs / sid / a).mkdir(parents=True)
            shutil.copy(src / a / name, subs / sid / a / name)
        if a in COPIED:
            fn, body = COPIED[a]
            nb = json.loads((course / "solutions" / a / name).read_text())
            [cell] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                      and "".join(c["source"]).lstrip().startswith(f"def {fn}(")]
            cell["source"] = body
            (subs / "copier" / a).mkdir(parents=True)
            (subs / "copier" / a / name).write_text(json.dumps(nb))
    out = tmp / "out"
    status, log = run_cli("--course", str(course), "grade", str(subs), "--out", str(out),
                          "--jobs", "2")
    assert status == 0, log
    with open(out / "grades.csv", newline="") as fh:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    return rows, out, log


def test_solutions_score_full_marks_without_a_flag(graded):
    rows, out, log = graded
    for a in ASSIGNMENTS:
        row = rows["solver", a]
        assert (row["score"], row["status"], row["flags"]) == (row["max_score"], "graded", ""), \
            (a, row)
        assert float(row["max_score"]) > 0
    # and no cell of theirs failed, demos included (they must not need a blocked reference)
    for a in ASSIGNMENTS:
        nb = json.loads((out / "autograded" / "solver" / a / _notebook(
            out / "autograded" / "solver" / a)).read_text())
        errors = [o for c in nb["cells"] for o in c.get("outputs", [])
                  if o["output_type"] == "error"]
        assert errors == [], (a, errors[:1])


def test_blank_releases_score_zero(graded):
    rows, _, _ = graded
    for a in ASSIGNMENTS:
        assert (rows["blank", a]["score"], rows["blank", a]["status"],
                rows["blank", a]["flags"]) == ("0", "graded", ""), a


def test_the_reference_cannot_be_used_to_pass(graded):
    rows, out, _ = graded
    for a, (fn, _) in COPIED.items():
        row = rows["copier", a]
        assert row["status"] == "flagged", (a, row)
        assert "called lessonlib's reference" in row["flags"], (a, row["flags"])
        assert 0 < float(row["score"]) < float(row["max_score"]), (a, row)
        fb = next((out / "feedback" / "copier" / a).glob("*.html")).read_text()
        assert "ReferenceUnavailable" in fb or "not available while" in fb, a
