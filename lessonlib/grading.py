"""Grade a class with nbgrader: in parallel, through bad submissions, flagging cheats.

The instructor's two commands (``lessonlib release``, ``lessonlib grade``)
are :func:`release` and :func:`grade`. :func:`grade` runs, from the course
root:

1. a *template*: the source of the assignments and a gradebook made by
   nbgrader's generate_assignment, in a temporary folder;
2. the *intake* (:mod:`lessonlib.grading_intake`): renamed notebooks,
   broken JSON, duplicated and deleted cells, extra files;
3. the *static audit* (:mod:`lessonlib.grading_audit`) of what each
   student wrote;
4. one *job per student* in a process pool: a course folder of their own
   (copies of the configuration, source and gradebook), nbgrader's
   autograde with the guarded kernel (:mod:`lessonlib.grading_nbgrader`,
   :mod:`lessonlib.grading_guard`), then generate_feedback;
5. the *merge*: each student's gradebook rows into ``OUT/gradebook.db``,
   nbgrader's CSV export of it, and ``OUT/grades.csv`` with a status and
   the reasons behind it for every student and assignment.

Nothing is scored silently: a submission that could not be graded is
``failed`` with its reason and no score; one with anything a person should
look at is ``flagged`` with the reasons; the rest are ``graded``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from .grading_audit import audit_notebook, reference_names
from .grading_course import Course, CourseError, release
from .grading_intake import cell_source, hidden_test_lines, read_submissions
from .grading_worker import build_template, export_grades, grade_student, init_worker

__all__ = ["grade", "release", "GradingError", "COLUMNS"]

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "flags"]
_OUTPUTS = ("grades.csv", "nbgrader_grades.csv", "gradebook.db", "feedback", "autograded",
            "logs")


class GradingError(CourseError):
    """The grading run cannot start or cannot finish (bad arguments, broken course)."""


def _check_args(submissions, out, jobs, timeout):
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise GradingError(f"--jobs must be a positive integer, got {jobs!r}. "
                           f"Use --jobs 1 to grade one student at a time.")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise GradingError(f"--timeout must be a positive number of seconds, got {timeout!r}.")
    if not os.path.exists(submissions):
        raise GradingError(f"the submissions folder {submissions} does not exist. Give a "
                           f"folder laid out <student>/<assignment>/<notebook>.ipynb, or a "
                           f".zip of one.")
    if os.path.isfile(submissions) and not submissions.lower().endswith(".zip"):
        raise GradingError(f"{submissions} is a file but not a .zip; give a folder laid out "
                           f"<student>/<assignment>/<notebook>.ipynb, or a .zip of one.")
    sub, o = os.path.realpath(submissions), os.path.realpath(out)
    if os.path.isdir(sub) and (o == sub or o.startswith(sub + os.sep)):
        raise GradingError(f"--out {out} is inside the submissions folder; choose a folder "
                           f"elsewhere (it would be read as a student).")


def _max_scores(db):
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT a.name, SUM(g.max_score) FROM grade_cells g JOIN base_cell b ON g.id = b.id "
            "JOIN notebook n ON b.notebook_id = n.id JOIN assignment a ON n.assignment_id = a.id "
            "GROUP BY a.name").fetchall()
    finally:
        con.close()
    return {a: float(s or 0) for a, s in rows}


def _merge(target, student, worker_db, assignments):
    """Copy one student's submissions of ``assignments`` into the merged gradebook."""
    con = sqlite3.connect(target)
    try:
        con.execute("ATTACH DATABASE ? AS w", (worker_db,))
        con.execute("INSERT OR REPLACE INTO student SELECT * FROM w.student WHERE id = ?",
                    (student,))
        for a in assignments:
            subs = ("SELECT sa.id FROM w.submitted_assignment sa JOIN w.assignment x ON "
                    "sa.assignment_id = x.id WHERE x.name = ? AND sa.student_id = ?")
            nbs = f"SELECT id FROM w.submitted_notebook WHERE assignment_id IN ({subs})"
            p = (a, student)
            con.execute(f"INSERT OR REPLACE INTO submitted_assignment SELECT * FROM "
                        f"w.submitted_assignment WHERE id IN ({subs})", p)
            con.execute(f"INSERT OR REPLACE INTO submitted_notebook SELECT * FROM "
                        f"w.submitted_notebook WHERE id IN ({nbs})", p)
            for table in ("grade", "comment"):
                con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM w.{table} "
                            f"WHERE notebook_id IN ({nbs})", p)
        con.commit()
        con.execute("DETACH DATABASE w")
    finally:
        con.close()


def _fmt(x):
    return "" if x is None else f"{float(x):g}"


def _report_flags(res):
    flags = []
    for nb, rep in sorted(res.get("reports", {}).items()):
        for label in rep.get("timeouts", []):
            flags.append(f"{label} timed out after {rep.get('timeout_seconds')} s (scored 0)")
        for item in rep.get("integrity", []):
            flags.append(f"{item['cell']} scored 0: " + ", ".join(dict.fromkeys(item["reasons"])))
        for d in rep.get("denied", []):
            flags.append(f"blocked while grading: {d}")
    manual = [c["cell"] for c in res.get("cells", []) if c.get("manual")]
    if manual:
        flags.append("needs manual grading: " + ", ".join(manual))
    for f in res.get("feedback_withheld", []):
        flags.append(f"feedback {f} withheld (it quoted a hidden test)")
    return flags


class _Run:
    """State of one grading run (paths, course, results)."""

    def __init__(self, course, submissions, out, jobs, timeout, echo):
        self.course, self.jobs, self.echo = course, jobs, echo
        self.submissions = os.path.abspath(submissions)
        self.out = os.path.abspath(out)
        self.timeout = timeout
        self.work = os.path.realpath(tempfile.mkdtemp(prefix="lessonlib-grade-"))
        self.template = os.path.join(self.work, "template")

    def release_notebooks(self, assignments):
        rel = {}
        for a in assignments:
            rel[a] = {}
            for nb in self.course.assignments[a]:
                path = os.path.join(self.template, self.course.release_dir, a, nb + ".ipynb")
                with open(path, encoding="utf-8") as fh:
                    rel[a][nb] = json.load(fh)
        return rel

    def hidden(self, assignments):
        out = {}
        for a in assignments:
            lines = []
            for nb in self.course.assignments[a]:
                with open(self.course.path(self.course.source_dir, a, nb + ".ipynb"),
                          encoding="utf-8") as fh:
                    for c in json.load(fh).get("cells", []):
                        lines += hidden_test_lines(cell_source(c))
            out[a] = [ln for ln in lines if len(ln) >= 12]
        return out

    def student_spec(self, sid, todo, hidden):
        deny = [self.course.root, self.work, self.submissions, self.out]
        execute = {"deny_paths": deny, "scratch_root": os.path.join(self.work, "kernels")}
        if self.timeout is not None:
            execute["timeout"] = int(self.timeout)
        return {"student": sid, "root": os.path.join(self.work, "students", sid),
                "template": self.template, "submission": os.path.join(self.work, "intake", sid),
                "assignments": todo, "source_dir": self.course.source_dir,
                "course_id": self.course.course_id, "hidden": hidden, "execute": execute}


def _progress(k, n, sid, result, started):
    parts = []
    for a, res in sorted(result["assignments"].items()):
        if res["success"]:
            parts.append(f"{a} {_fmt(res['score'])}/{_fmt(res['max_score'])}")
        else:
            parts.append(f"{a} failed")
    return f"[{k}/{n}] {sid}: {', '.join(parts)} ({time.monotonic() - started:.0f} s)"


def grade(submissions, out, jobs=1, assignments=None, timeout=None, root=".", echo=print):
    """Grade every submission with nbgrader; write grades, feedback and a summary.

    Parameters
    ----------
    submissions : str
        Folder ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's
        submitted layout) or a ``.zip`` of one.
    out : str
        Output folder: ``grades.csv``, ``feedback/<student>/<assignment>/``,
        ``autograded/`` (executed notebooks), ``gradebook.db`` (nbgrader's,
        merged), ``nbgrader_grades.csv`` (nbgrader export), ``logs/``.
        These are replaced on every run; other files are left alone.
    jobs : int
        Students graded at the same time.
    assignments : sequence of str, optional
        Assignments to grade (default: every assignment found in the
        submissions).
    timeout : float, optional
        Per-cell execution timeout in seconds (default: the course's
        ``nbgrader_config.py``).
    root : str
        The course folder (with ``nbgrader_config.py``).
    echo : callable
        Where progress and the summary go.

    Returns
    -------
    list of dict
        The rows of ``grades.csv``.

    Raises
    ------
    GradingError
        For wrong arguments or a course nbgrader cannot build.
    """
    _check_args(submissions, out, jobs, timeout)
    course = Course.load(root)
    wanted = course.select(assignments) if assignments else None
    run = _Run(course, submissions, out, jobs, timeout, echo)
    started = time.monotonic()
    try:
        return _grade(run, wanted, started)
    finally:
        shutil.rmtree(run.work, ignore_errors=True)


def _grade(run, wanted, started):
    course, echo = run.course, run.echo
    os.makedirs(run.out, exist_ok=True)
    for name in _OUTPUTS:
        path = os.path.join(run.out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    template_for = wanted or course.select()
    echo(f"grading {run.submissions} with {run.jobs} job(s); results in {run.out}")
    results = {}
    with ProcessPoolExecutor(max_workers=run.jobs, initializer=init_worker) as pool:
        tpl = pool.submit(build_template, {
            "root": run.template, "course_root": course.root, "source_dir": course.source_dir,
            "release_dir": course.release_dir, "course_id": course.course_id,
            "assignments": template_for}).result()
        if not tpl["ok"]:
            raise GradingError(tpl["error"])
        echo(f"gradebook ready: {len(template_for)} assignment(s) "
             f"({time.monotonic() - started:.0f} s)")
        release_nbs = run.release_notebooks(template_for)
        intake = read_submissions(run.submissions, os.path.join(run.work, "intake"), course,
                                  release_nbs)
        graded = wanted or sorted({a for _, a in intake.submissions})
        students = intake.students
        echo(f"{len(students)} student(s), assignment(s): {', '.join(graded) or 'none'}")
        for line in intake.ignored:
            echo(f"  ignored {line}")
        hidden = run.hidden(graded)
        futures = {}
        for sid in students:
            todo = [a for a in graded if (sid, a) in intake.submissions
                    and intake.submissions[(sid, a)].gradable]
            if todo:
                futures[pool.submit(grade_student, run.student_spec(sid, todo, hidden))] = sid
        audits = _audit(intake, graded, release_nbs)
        for k, fut in enumerate(as_completed(futures), 1):
            sid = futures[fut]
            try:
                results[sid] = fut.result()
            except Exception as exc:  # a worker that died must not stop the class
                results[sid] = {"student": sid, "assignments": {
                    a: {"success": False, "reason": f"the grading worker failed ({exc!r})"}
                    for a in graded}}
            echo(_progress(k, len(futures), sid, results[sid], started))
        merged = os.path.join(run.out, "gradebook.db")
        shutil.copy(os.path.join(run.template, "gradebook.db"), merged)
        for sid, res in sorted(results.items()):
            ok = [a for a, r in res["assignments"].items() if r.get("success")]
            if ok:
                _merge(merged, sid, os.path.join(run.work, "students", sid, "gradebook.db"), ok)
        export = pool.submit(export_grades, {"db": merged, "course_id": course.course_id,
                                             "to": os.path.join(run.out, "nbgrader_grades.csv")})
        export.result()
    rows = _rows(run, intake, graded, results, audits)
    _write(run, rows, results)
    _summary(run, rows, graded, started)
    return rows


def _audit(intake, graded, release_nbs):
    reference = reference_names()
    found = {}
    for (sid, a), sub in intake.submissions.items():
        if a not in graded:
            continue
        items = []
        for nb in sub.notebooks:
            with open(os.path.join(sub.folder, nb + ".ipynb"), encoding="utf-8") as fh:
                data = json.load(fh)
            items += audit_notebook(data, release_nbs[a][nb], reference)
        found[(sid, a)] = items
    return found


def _exported(path):
    with open(path, newline="") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


def _rows(run, intake, graded, results, audits):
    max_scores = _max_scores(os.path.join(run.template, "gradebook.db"))
    exported = _exported(os.path.join(run.out, "nbgrader_grades.csv"))
    rows = []
    for sid in intake.students:
        for a in graded:
            sub = intake.submissions.get((sid, a))
            row = {"student_id": sid, "assignment": a, "score": "",
                   "max_score": _fmt(max_scores.get(a)), "status": "failed", "flags": []}
            if sub is None:
                row["flags"].append("no submission for this assignment")
            elif not sub.gradable:
                row["flags"] += list(sub.failures.values()) + sub.flags
            else:
                res = results.get(sid, {}).get("assignments", {}).get(a, {})
                if not res.get("success"):
                    row["flags"] += [res.get("reason", "not graded")] + sub.flags
                else:
                    row["score"] = _fmt(exported[(sid, a)]["score"])
                    row["max_score"] = _fmt(exported[(sid, a)]["max_score"])
                    row["flags"] += sub.flags
                    row["flags"] += [f"{why} (scored 0)" for why in sub.failures.values()]
                    row["flags"] += _report_flags(res)
                    row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
                    row["status"] = "flagged" if row["flags"] else "graded"
            if sub is not None and row["status"] == "failed":
                row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
            row["flags"] = "; ".join(dict.fromkeys(f.replace(";", ",") for f in row["flags"]))
            rows.append(row)
    return rows


def _write(run, rows, results):
    with open(os.path.join(run.out, "grades.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    for sid, res in results.items():
        sroot = os.path.join(run.work, "students", sid)
        logs = []
        for a, r in sorted(res["assignments"].items()):
            logs.append(f"===== {a} =====\n{r.get('log', '')}")
            for kind in ("feedback", "autograded"):
                src = os.path.join(sroot, kind, sid, a)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(run.out, kind, sid, a))
        os.makedirs(os.path.join(run.out, "logs"), exist_ok=True)
        with open(os.path.join(run.out, "logs", f"{sid}.log"), "w") as fh:
            fh.write("\n".join(logs))


def _summary(run, rows, graded, started):
    echo = run.echo
    counts = {s: sum(r["status"] == s for r in rows) for s in ("graded", "flagged", "failed")}
    echo(f"done in {time.monotonic() - started:.0f} s: "
         + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for a in graded:
        scores = [float(r["score"]) for r in rows if r["assignment"] == a and r["score"] != ""]
        maxi = next((r["max_score"] for r in rows if r["assignment"] == a), "")
        mean = f"{sum(scores) / len(scores):.2f}" if scores else "-"
        echo(f"  {a}: mean {mean} / {maxi} over {len(scores)} scored submission(s)")
    for r in rows:
        if r["status"] != "graded":
            echo(f"  {r['status']:7s} {r['student_id']}/{r['assignment']}: {r['flags']}")
    echo(f"grades: {os.path.join(run.out, 'grades.csv')}; feedback: "
         f"{os.path.join(run.out, 'feedback')}")
    sys.stdout.flush()
