"""The results of a grading run: merged gradebook, grades.csv, summary.

:func:`merge` copies one student's graded submissions from their own
gradebook into the run's ``OUT/gradebook.db`` (all gradebooks come from
the same template, so assignments, notebooks and cells share their ids).
:func:`rows` turns what the intake, the audit and the workers found into
one row per student and assignment, with a status and its reasons;
:func:`write` and :func:`summary` write and print them.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import sys
import time

__all__ = ["COLUMNS", "merge", "rows", "write", "summary", "fmt"]

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "flags"]


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


def merge(target, student, worker_db, assignments):
    """Copy one student's submissions of ``assignments`` into the merged gradebook.

    Parameters
    ----------
    target : str
        The merged gradebook (a copy of the template's).
    student : str
    worker_db : str
        The student's own gradebook, made from the same template.
    assignments : sequence of str
        The assignments graded successfully (failed ones are left out).
    """
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


def fmt(x):
    """A score as the CSV shows it: ``3``, ``2.5``, or empty for none."""
    return "" if x is None else f"{float(x):g}"


def _placeholders(run):
    """Real paths of a run -> the names flags use, so that reruns read the same."""
    names = [(run.work, "<grading work folder>"), (run.course.root, "<course>"),
             (run.submissions, "<submissions>"), (run.out, "<out>")]
    return sorted(((os.path.realpath(p), n) for p, n in names), key=lambda x: -len(x[0]))


def _report_flags(res, places=()):
    def clean(text):
        for path, name in places:
            text = text.replace(path, name)
        return text

    flags = []
    for nb, rep in sorted(res.get("reports", {}).items()):
        for label in rep.get("timeouts", []):
            flags.append(f"{label} timed out after {rep.get('timeout_seconds')} s (scored 0)")
        for item in rep.get("integrity", []):
            flags.append(f"{item['cell']} scored 0: " + ", ".join(dict.fromkeys(item["reasons"])))
        for d in rep.get("denied", []):
            flags.append(f"blocked while grading: {clean(d)}")
    manual = [c["cell"] for c in res.get("cells", []) if c.get("manual")]
    if manual:
        flags.append("needs manual grading: " + ", ".join(manual))
    for f in res.get("feedback_withheld", []):
        flags.append(f"feedback {f} withheld (it quoted a hidden test)")
    if res.get("feedback_error"):
        flags.append(f"no feedback: {res['feedback_error']}")
    return flags


def _exported(path):
    with open(path, newline="") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


def rows(run, intake, graded, results, audits):
    """One row per student and assignment: score, status and the reasons.

    Parameters
    ----------
    run : lessonlib.grading._Run
        Paths and course of the run (``OUT/nbgrader_grades.csv`` must exist).
    intake : lessonlib.grading.intake.Intake
    graded : list of str
        The assignments graded.
    results : dict
        Student -> :func:`lessonlib.grading.jobs.grade_student`'s result.
    audits : dict
        (student, assignment) -> static audit findings.

    Returns
    -------
    list of dict
        Rows with the keys of :data:`COLUMNS`, by student then assignment.
    """
    max_scores = _max_scores(os.path.join(run.template, "gradebook.db"))
    exported = _exported(os.path.join(run.out, "nbgrader_grades.csv"))
    out = []
    for sid in intake.students:
        for a in graded:
            sub = intake.submissions.get((sid, a))
            row = {"student_id": sid, "assignment": a, "score": "",
                   "max_score": fmt(max_scores.get(a)), "status": "failed", "flags": []}
            if sub is None:
                row["flags"].append("no submission for this assignment")
            elif not sub.gradable:
                row["flags"] += list(sub.failures.values()) + sub.flags
            else:
                res = results.get(sid, {}).get("assignments", {}).get(a, {})
                if not res.get("success"):
                    row["flags"] += [res.get("reason", "not graded")] + sub.flags
                else:
                    row["score"] = fmt(exported[(sid, a)]["score"])
                    row["max_score"] = fmt(exported[(sid, a)]["max_score"])
                    row["flags"] += sub.flags
                    row["flags"] += [f"{why} (scored 0)" for why in sub.failures.values()]
                    row["flags"] += _report_flags(res, _placeholders(run))
                    row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
                    row["status"] = "flagged" if row["flags"] else "graded"
            if sub is not None and row["status"] == "failed":
                row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
            row["flags"] = "; ".join(dict.fromkeys(f.replace(";", ",") for f in row["flags"]))
            out.append(row)
    return out


def write(run, rows, results):
    """Write ``grades.csv``; copy feedback, executed notebooks and logs into OUT."""
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


def summary(run, rows, graded, started):
    """Print counts by status, each assignment's mean, and every row to look at."""
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
