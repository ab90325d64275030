"""Stand-ins for the jobs of lessonlib.grading.jobs: no kernel, no nbgrader converter.

A ProcessPoolExecutor pickles functions by reference, so the fakes are the
module-level functions of this importable module. :func:`install` puts them
in place of ``lessonlib.grading.run``'s jobs; :func:`cli` does so and runs
``lessonlib.cli`` as ``python -m lessonlib.cli`` would, for tests that
signal a real command process.

The template gradebook is one made by nbgrader (:func:`make_template_db`),
named by ``$LESSONLIB_FAKE_TEMPLATE``. A fake job writes its student's
rows into a copy of it with SQL, the way nbgrader's autograde would.
What a job does depends on words in the student id:

``crash``   the job raises (the message names its work folder)
``oom``     the worker process kills itself with SIGKILL, as the OOM killer would
``slow``    starts a child process (a "kernel"), writes the worker's and the
            child's pids and the worker's open files into
            ``$LESSONLIB_FAKE_PIDS/<md5 of the student>``, sleeps
            ``$LESSONLIB_FAKE_SLEEP`` seconds (default 60)
``tamper``  scores 99 per cell and adds a trigger to its gradebook
``neg``     scores -1.5 per cell
``reader``  reports a refused file access that names its work folder
``ansi``    reports a grader error with ANSI escapes in it
otherwise   full marks.
"""

import csv
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time


def _id(*parts):
    return hashlib.md5("/".join(parts).encode()).hexdigest()


def make_template_db(course_root, path):
    """A gradebook made by nbgrader for the course's source: assignments, notebooks, cells."""
    from nbgrader.api import Gradebook
    from lessonlib.grading.course import Course, nbgrader_env
    course = Course.load(course_root)
    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = nbgrader_env()["PATH"]   # nbgrader runs `alembic`
    try:
        with Gradebook("sqlite:///" + os.path.abspath(path), course.course_id) as gb:
            for a, notebooks in course.assignments.items():
                gb.add_assignment(a)
                for nb in notebooks:
                    gb.add_notebook(nb, a)
                    with open(course.path(course.source_dir, a, nb + ".ipynb")) as fh:
                        cells = json.load(fh)["cells"]
                    for c in cells:
                        meta = c.get("metadata", {}).get("nbgrader", {})
                        if meta.get("grade"):
                            gb.add_grade_cell(meta["grade_id"], nb, a, max_score=meta["points"],
                                              cell_type=c["cell_type"])
                        if meta.get("solution"):
                            gb.add_solution_cell(meta["grade_id"], nb, a)
    finally:
        os.environ["PATH"] = old_path
    return path


def init_worker():
    """No nbgrader to import."""


def build_template(spec):
    """The template course: the source (also as the release) and the nbgrader-made gradebook."""
    root = spec["root"]
    os.makedirs(root)
    shutil.copy(os.path.join(spec["course_root"], "nbgrader_config.py"), root)
    for a in spec["assignments"]:
        src = os.path.join(spec["course_root"], spec["source_dir"], a)
        shutil.copytree(src, os.path.join(root, spec["source_dir"], a))
        shutil.copytree(src, os.path.join(root, spec["release_dir"], a))
    shutil.copy(os.environ["LESSONLIB_FAKE_TEMPLATE"], os.path.join(root, "gradebook.db"))
    return {"ok": True, "error": ""}


def _slow(sid):
    kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                              start_new_session=True)
    folder = os.environ.get("LESSONLIB_FAKE_PIDS")
    if folder:
        tmp = os.path.join(folder, f".{_id(sid)}")
        fds = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        with open(tmp, "w") as fh:
            json.dump({"worker": os.getpid(), "kernel": kernel.pid, "fds": fds}, fh)
        os.rename(tmp, os.path.join(folder, _id(sid)))
    time.sleep(float(os.environ.get("LESSONLIB_FAKE_SLEEP", "60")))
    kernel.kill()
    kernel.wait()


def grade_student(spec):
    """Grade one student the fake way (see the module docstring)."""
    sid, root = spec["student"], spec["root"]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    if "slow" in sid:
        _slow(sid)
    if "oom" in sid:
        os.kill(os.getpid(), signal.SIGKILL)
    if "crash" in sid:
        raise RuntimeError(f"the fake job crashed in {root}")
    db = os.path.join(root, "gradebook.db")
    shutil.copy(os.path.join(spec["template"], "gradebook.db"), db)
    con = sqlite3.connect(db)
    results = {}
    try:
        con.execute("INSERT INTO student (id) VALUES (?)", (sid,))
        for a in spec["assignments"]:
            (aid,) = con.execute("SELECT id FROM assignment WHERE name = ?", (a,)).fetchone()
            said = _id(sid, a)
            con.execute("INSERT INTO submitted_assignment VALUES (?, ?, ?, ?, NULL)",
                        (said, aid, sid, "2024-01-01 00:00:00.000000"))
            score = max_score = 0.0
            for nbid, nb in con.execute("SELECT id, name FROM notebook WHERE assignment_id = ?"
                                        " ORDER BY name", (aid,)).fetchall():
                snid = _id(sid, a, nb)
                con.execute("INSERT INTO submitted_notebook VALUES (?, ?, ?, 0, NULL)",
                            (snid, said, nbid))
                cells = con.execute(
                    "SELECT b.id, b.name, g.max_score FROM base_cell b JOIN grade_cells g "
                    "ON g.id = b.id WHERE b.notebook_id = ? ORDER BY b.name", (nbid,)).fetchall()
                for cid, name, top in cells:
                    got = -1.5 if "neg" in sid else 99.0 if "tamper" in sid else top
                    con.execute("INSERT INTO grade VALUES (?, ?, ?, ?, NULL, NULL, 0)",
                                (_id(sid, a, nb, name), snid, cid, got))
                    score, max_score = score + got, max_score + top
                for kind, ext in (("feedback", "html"), ("autograded", "ipynb")):
                    folder = os.path.join(root, kind, sid, a)
                    os.makedirs(folder, exist_ok=True)
                    with open(os.path.join(folder, f"{nb}.{ext}"), "w") as fh:
                        fh.write(f"{kind} of {nb} for {sid}\n")
            reports = {}
            if "reader" in sid:
                reports["nb"] = {"limits": [f"open({root}/secret.txt) was refused"]}
            if "ansi" in sid:   # text that came out of a kernel
                reports["nb"] = {"grader_errors": ["printed \x1b[2J\x1b[31mALL GOOD\x07"]}
            results[a] = {"success": True, "score": score, "max_score": max_score,
                          "reports": reports, "cells": [], "feedback": [],
                          "feedback_withheld": [],
                          "log": f"fake autograde in {root} (sandbox={spec.get('sandbox')})"}
        if "tamper" in sid:
            con.execute("CREATE TRIGGER lessonlib_evil AFTER INSERT ON grade BEGIN "
                        "UPDATE grade SET auto_score = 99; END")
        con.commit()
    finally:
        con.close()
    return {"student": sid, "assignments": results}


def export_grades(spec):
    """nbgrader's CSV export, computed with SQL: one row per student and assignment."""
    con = sqlite3.connect(spec["db"])
    try:
        students = [s for (s,) in con.execute("SELECT id FROM student ORDER BY id")]
        rows = []
        for aid, a in con.execute("SELECT id, name FROM assignment ORDER BY name").fetchall():
            (top,) = con.execute(
                "SELECT SUM(g.max_score) FROM grade_cells g JOIN base_cell b ON g.id = b.id "
                "JOIN notebook n ON b.notebook_id = n.id WHERE n.assignment_id = ?",
                (aid,)).fetchone()
            for sid in students:
                (score,) = con.execute(
                    "SELECT SUM(COALESCE(g.manual_score, g.auto_score, 0) + "
                    "COALESCE(g.extra_credit, 0)) FROM grade g JOIN submitted_notebook sn "
                    "ON g.notebook_id = sn.id JOIN submitted_assignment sa ON "
                    "sn.assignment_id = sa.id WHERE sa.student_id = ? AND sa.assignment_id = ?",
                    (sid, aid)).fetchone()
                rows.append({"assignment": a, "student_id": sid, "score": score or 0.0,
                             "max_score": top or 0.0})
    finally:
        con.close()
    with open(spec["to"], "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["assignment", "student_id", "score", "max_score"])
        w.writeheader()
        w.writerows(rows)
    return spec["to"]


def export_fails(spec):
    """An export that fails (in the worker, as a bug in nbgrader would)."""
    raise RuntimeError("the fake export failed")


def _no_check():
    """bubblewrap need not be installed to test the plumbing."""


def install(monkeypatch=None):
    """Put the fakes in place of the jobs (with ``monkeypatch``, undone after the test)."""
    import lessonlib.grading.run as run
    import lessonlib.grading.sandbox as sandbox
    swaps = [(run, "build_template", build_template), (run, "grade_student", grade_student),
             (run, "export_grades", export_grades), (run, "init_worker", init_worker),
             (sandbox, "check_available", _no_check)]
    for obj, name, value in swaps:
        if monkeypatch is None:
            setattr(obj, name, value)
        else:
            monkeypatch.setattr(obj, name, value)


def cli():
    """``python -m lessonlib.cli ARGS``, with the fakes in place (``sys.argv[1:]`` = ARGS)."""
    import runpy
    install()
    sys.argv[0] = "lessonlib"
    runpy.run_module("lessonlib.cli", run_name="__main__", alter_sys=True)
