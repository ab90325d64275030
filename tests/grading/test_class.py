"""A hostile synthetic class graded end to end with ``lessonlib grade``, in the sandbox.

The demo course (``lessonlib.grading.demo``) has two assignments, each with
two functions graded by lessonlib's own checks (visible and hidden cases):

    01_alpha  relu (relu-test, 2 points), linear_param_count (1 point)
    02_beta   conv_output_size (3 points), conv2d_param_count (1 point)

Each student of ``DEMO_STUDENTS`` is honest, blank, buggy, careless or
hostile (see the module); every row of grades.csv is asserted, and so is
what the hostile ones tried beyond their own score: surviving processes,
other students' results, the installed lessonlib, the network, the
grader's environment.
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from lessonlib.cli import main
from lessonlib.grading import sandbox
from lessonlib.grading.course import nbgrader_env
from lessonlib.grading.demo import make_demo_class, make_demo_course

# the class is graded once per worker that runs these tests (session scope: not rebuilt
# when a worker interleaves modules)
pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.xdist_group("grading-class")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRADER_SECRET = "grader-only-7f3a9c"   # in the grader's environment during the run

# (student, assignment) -> (score, status, substrings the flags must contain)
EXPECTED = {
    ("blank", "01_alpha"): ("0", "graded", []),
    ("blank", "02_beta"): ("0", "graded", []),
    ("buggy", "01_alpha"): ("1", "graded", []),            # relu returns |x|
    ("buggy", "02_beta"): ("1", "graded", []),             # true division: floats
    ("copier", "01_alpha"): ("1", "flagged", [
        "called lessonlib's reference",
        "audit: relu-impl: calls lessonlib's reference relu, the function it must implement"]),
    ("copier", "02_beta"): ("1", "flagged", ["audit: size-impl: imports importlib"]),
    ("crasher", "01_alpha"): ("", "failed", [
        "the kernel died while running linear_param_count-test",
        "audit: linear-impl: imports os"]),
    ("crasher", "02_beta"): ("4", "graded", []),
    ("forger", "01_alpha"): ("0", "flagged", ["rebinds lessonlib.grading.in_kernel.call"]),
    ("forger", "02_beta"): ("0", "flagged", ["imports threading"]),
    ("hog", "01_alpha"): ("3", "flagged", ["printed more than 4 MiB"]),
    # the process limit needs a pids cgroup the grader may create
    ("hog", "02_beta"): ("4", "flagged", ["reached the process limit"] if os.access(
        "/sys/fs/cgroup/pids", os.W_OK) else ["audit: cell 3: imports os"]),
    ("honest", "01_alpha"): ("3", "graded", []),
    ("honest", "02_beta"): ("4", "graded", []),
    ("looper", "01_alpha"): ("1", "flagged", ["relu-test timed out after 10 s (scored 0)"]),
    ("looper", "02_beta"): ("4", "graded", []),
    ("mangler", "01_alpha"): ("3", "flagged", [
        "cell linear-impl appeared 2 times, graded the last edited copy",
        "test cell relu-test was deleted, restored from the source and graded"]),
    ("mangler", "02_beta"): ("", "failed", ["beta.ipynb is not valid notebook JSON"]),
    ("misnamer", "01_alpha"): ("3", "flagged", ["alpha (1).ipynb graded as alpha.ipynb"]),
    ("misnamer", "02_beta"): ("4", "flagged", [
        "extra notebook scratch.ipynb not graded",
        "extra file numpy.py ignored (it could shadow a module)"]),
    ("patcher", "01_alpha"): ("0", "flagged", ["audit: cell 3: rebinds numpy.allclose"]),
    ("patcher", "02_beta"): ("0", "flagged", ["redefines run_cases"]),
    ("reader", "01_alpha"): ("1", "flagged", ["audit: relu-impl: opens a file"]),
    ("reader", "02_beta"): ("4", "flagged", ["audit: cell 3: imports socket"]),
    ("spy", "01_alpha"): ("1", "flagged", ["audit: relu-impl: imports inspect"]),
    ("spy", "02_beta"): ("4", "flagged", ["audit: cell 3: imports os"]),
    ("stubborn", "01_alpha"): ("", "failed", ["no submission for this assignment"]),
    ("stubborn", "02_beta"): ("", "failed", [
        "the kernel stopped responding after conv_output_size-test timed out (10 s) and could "
        "not be interrupted", "audit: size-impl: imports signal"]),
    ("vandal", "01_alpha"): ("3", "flagged", ["audit: cell 3: imports sqlite3"]),
    ("vandal", "02_beta"): ("4", "flagged", ["audit: cell 3: imports signal"]),
    ("warner", "01_alpha"): ("3", "graded", []),
    ("warner", "02_beta"): ("4", "graded", []),
}


def run_cli(*args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(list(args))
    return status, buf.getvalue()


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def tree_digest(folder):
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(folder)):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith((".py", ".pth")):
                with open(os.path.join(d, f), "rb") as fh:
                    h.update(f.encode() + fh.read())
    return h.hexdigest()


def processes_with(marker):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


class Listener:
    """A TCP server on 127.0.0.1 recording whatever connects (the network must be closed)."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.received, self.stop = [], False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.received.append(conn.recv(4096))
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    root = make_demo_course(tmp_path_factory.mktemp("demo") / "course")
    status, out = run_cli("--course", root, "release")
    assert status == 0, out
    return root


@pytest.fixture(scope="session")
def graded_class(demo, tmp_path_factory):
    """The whole class graded once with two jobs, and what happened around it."""
    tmp = tmp_path_factory.mktemp("class")
    subs, out = tmp / "subs", tmp / "out"
    listener = Listener(0)
    make_demo_class(demo, subs, network_port=listener.port)
    lib_before = tree_digest(os.path.join(REPO, "lessonlib"))
    os.environ["LESSONLIB_TEST_GRADER_SECRET"] = GRADER_SECRET
    try:
        status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(out),
                              "--jobs", "2", "--timeout", "10")  # 10 s: room for a loaded machine
    finally:
        del os.environ["LESSONLIB_TEST_GRADER_SECRET"]
    grades_after_run = (out / "grades.csv").read_bytes()
    time.sleep(4)   # the persister's children would rewrite grades.csv after 3 s
    listener.close()
    return {"status": status, "log": log, "out": out, "subs": subs,
            "grades_after_run": grades_after_run, "received": listener.received,
            "lib_before": lib_before, "lib_after": tree_digest(os.path.join(REPO, "lessonlib"))}


def test_every_row_of_the_hostile_class(graded_class):
    assert graded_class["status"] == 0, graded_class["log"]
    rows = read_rows(graded_class["out"] / "grades.csv")
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
    log = graded_class["log"]
    assert re.search(r"\[16/16\] \w+: ", log)
    assert "01_alpha: mean" in log


def test_nothing_the_class_did_outlived_the_run_or_reached_outside(graded_class):
    out = graded_class["out"]
    assert processes_with("lessonlib-demo-persister") == []
    assert (out / "grades.csv").read_bytes() == graded_class["grades_after_run"]
    assert graded_class["received"] == []          # no byte reached 127.0.0.1
    assert graded_class["lib_after"] == graded_class["lib_before"]
    # the vandal's gradebook trigger did not zero anyone: the honest scores stand
    rows = {(r["student_id"], r["assignment"]): r for r in read_rows(out / "grades.csv")}
    assert rows["warner", "02_beta"]["score"] == "4"
    for path in out.rglob("*"):
        if path.is_file():
            assert GRADER_SECRET.encode() not in path.read_bytes(), path


def test_feedback_names_no_other_student_and_no_hidden_test(graded_class):
    out = graded_class["out"]
    students = {s for s, _ in EXPECTED}
    pages = 0
    for (sid, a), (score, status_, _) in EXPECTED.items():
        folder = out / "feedback" / sid / a
        if status_ == "failed":
            assert not folder.exists()
            continue
        [page] = list(folder.glob("*.html"))
        text = page.read_text()
        pages += 1
        for hidden in ("BEGIN HIDDEN TESTS", "hidden=True"):
            assert hidden not in text, (sid, a, hidden)
        for other in students - {sid}:
            assert f"/{other}/" not in text and f"{other}," not in text, (sid, other)
    assert pages == 28


def test_the_class_report_of_the_hostile_class(graded_class):
    """report.json/html: every failed and flagged row with its reasons, known mistakes named."""
    out = graded_class["out"]
    data = json.loads((out / "report.json").read_text())
    failed = {(f["student"], f["assignment"]): f["reasons"] for f in data["failed"]}
    assert sorted(failed) == sorted(k for k, v in EXPECTED.items() if v[1] == "failed")
    for key, reasons in failed.items():   # timed out, died, invalid JSON, no submission
        for needle in EXPECTED[key][2]:
            assert any(needle in r for r in reasons), (key, needle, reasons)
    assert {(f["student"], f["assignment"]) for f in data["flagged"]} == {
        k for k, v in EXPECTED.items() if v[1] == "flagged"}
    for a in data["assignments"]:
        assert a["scores"]["values"] == sorted(
            float(v[0]) for k, v in EXPECTED.items() if k[1] == a["assignment"] and v[0])
    [relu] = [x for a in data["assignments"] for x in a["exercises"]
              if x["grade_id"] == "relu-test"]
    groups = {d["key"]: d["students"] for d in relu["diagnoses"]}
    assert groups["It returns |x|: negative inputs must become 0, not positive."] == ["buggy"]
    assert groups["timeout"] == ["looper"]
    assert groups["crash: NotImplementedError"] == ["blank", "patcher"]
    assert relu["students"] == 14 and relu["not_graded"] == 2   # crasher, stubborn
    page = (out / "report.html").read_text()
    assert not re.search(r"https?://", page) and "<script" not in page
    assert page.count('<img src="data:image/png;base64,') == 4


def test_the_sandbox_hides_the_course_and_other_students(demo, tmp_path):
    """A student whose relu passes only if it can see forbidden paths scores 0 for it."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs, students=["honest"])
    nb_path = subs / "honest" / "01_alpha" / "alpha.ipynb"
    nb = json.loads(nb_path.read_text())
    probes = [os.path.join(demo, "nbgrader_config.py"), os.path.join(demo, "solutions"),
              os.path.join(REPO, "README.md"), str(subs / "honest"), "/etc/passwd",
              "/etc/hostname", os.path.dirname(sys.executable) + "/.."]
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "relu-impl":
            cell["source"] = (
                "import os\n"
                "def relu(x):\n"
                f"    seen = [p for p in {probes!r} if os.path.exists(p)]\n"
                "    blocked = [p for p in seen if not p.endswith('/..')]\n"
                "    if blocked:\n"
                "        raise RuntimeError('can see ' + ', '.join(blocked))\n"
                "    return np.maximum(np.asarray(x), 0)\n")
    nb_path.write_text(json.dumps(nb))
    status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(out))
    assert status == 0, log
    rows = {(r["student_id"], r["assignment"]): r for r in read_rows(out / "grades.csv")}
    assert rows["honest", "01_alpha"]["score"] == "3", log   # nothing of those was visible
    # a class that is all correct: the class report lists no diagnosis
    report = json.loads((out / "report.json").read_text())
    exercises = [x for a in report["assignments"] for x in a["exercises"]]
    assert len(exercises) == 4 and all(x["diagnoses"] == [] and x["share_all"] == 1.0
                                       for x in exercises)
    # negative control: outside the sandbox, the same probes do see those paths
    assert [p for p in probes if os.path.exists(p) and not p.endswith("/..")]


def test_without_bubblewrap_grading_is_refused_unless_asked(demo, tmp_path, monkeypatch,
                                                            capsys):
    subs = tmp_path / "subs"
    make_demo_class(demo, subs, students=["honest"])
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    status = main(["--course", demo, "grade", str(subs), "--out", str(tmp_path / "o1")])
    err = capsys.readouterr().err
    assert status == 2
    assert "apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert not (tmp_path / "o1" / "grades.csv").exists()
    status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(tmp_path / "o2"),
                          "--no-sandbox")
    assert status == 0, log
    rows = read_rows(tmp_path / "o2" / "grades.csv")
    assert [r["score"] for r in rows] == ["3", "4"]
    assert all(r["status"] == "flagged" and "graded without a sandbox" in r["flags"]
               for r in rows)


def test_parallel_equals_serial_and_reruns_are_byte_identical(demo, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs, students=["honest", "buggy", "misnamer"])
    (subs / "notes.txt").write_text("not a student")
    shutil.make_archive(str(tmp_path / "class"), "zip", tmp_path, "subs")
    status, _ = run_cli("--course", demo, "grade", str(subs), "--out", str(out), "--jobs", "2")
    assert status == 0
    first = (out / "grades.csv").read_bytes()
    assert first.count(b"\n") == 7
    first_report = json.loads((out / "report.json").read_text())
    first_page = re.sub(r"<p class=note>Generated .*\n", "", (out / "report.html").read_text())
    status, log = run_cli("--course", demo, "grade", str(tmp_path / "class.zip"), "--out",
                          str(out), "--jobs", "1")
    assert status == 0, log
    assert (out / "grades.csv").read_bytes() == first
    assert "ignored notes.txt" in log
    # and so does the class report, but for the time it was made
    report = json.loads((out / "report.json").read_text())
    assert report.pop("generated") and first_report.pop("generated")
    assert report == first_report and report["assignments"][0]["exercises"][0]["diagnoses"]
    page = re.sub(r"<p class=note>Generated .*\n", "", (out / "report.html").read_text())
    assert page == first_page


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


def test_a_grade_cell_that_decides_in_the_kernel_is_refused(tmp_path):
    root = make_demo_course(tmp_path / "course")
    path = os.path.join(root, "solutions", "01_alpha", "alpha.ipynb")
    nb = json.load(open(path))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "relu-test":
            cell["source"] = "assert relu(-1) == 0"
    json.dump(nb, open(path, "w"))
    assert run_cli("--course", root, "release")[0] == 0
    subs = tmp_path / "subs"
    make_demo_class(root, subs, students=["honest"])
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        status, _ = run_cli("--course", root, "grade", str(subs), "--out", str(tmp_path / "o"))
    assert status == 2
    assert "relu-test" in buf.getvalue() and "not a check call" in buf.getvalue()
