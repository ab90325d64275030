"""The results of a grading run: merged gradebook, grades.csv, summary.

:func:`check_schema` compares a student's gradebook with the template's
(anything beyond nbgrader's schema, such as a trigger, is tampering);
the merge itself goes through nbgrader's API (:mod:`lessonlib.grading.gradebook`).
:func:`rows` turns what the intake, the audit and
the workers found into one row per student and assignment, with a status
and its reasons; :func:`write` writes them (cells escaped against formula
injection, :func:`csv_cell`) and :func:`summary` prints them (control
characters escaped, :func:`printable`).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sqlite3
import sys
import time
from urllib.parse import quote

from . import gradebook

__all__ = ["COLUMNS", "NO_SANDBOX", "check_schema", "rows", "write", "summary", "fmt",
           "csv_cell", "printable"]

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "flags"]
NUMERIC = ("score", "max_score")
NO_SANDBOX = "graded without a sandbox"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _ro_uri(path):
    """An SQLite URI that opens ``path`` read-only (any character in the path is fine)."""
    return "file:" + quote(os.path.abspath(path)) + "?mode=ro"


def _connect_ro(path):
    return sqlite3.connect(_ro_uri(path), uri=True)


def _schema(con):
    return {(t, n): (tbl, sql) for t, n, tbl, sql in con.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master")}


def check_schema(template_db, db):
    """What ``db`` has beyond (or instead of) the schema of ``template_db``.

    Every entry of ``sqlite_master`` (table, index, view, trigger) is
    compared by type, name, table and SQL: a student's gradebook, made
    from the template by nbgrader, has exactly the template's.

    Parameters
    ----------
    template_db, db : str
        Paths of the two gradebooks (both opened read-only).

    Returns
    -------
    list of str
        The differences (``"trigger t"``, ``"table grade changed"``, ...),
        at most 6; empty when the schemas are the same.

    Raises
    ------
    sqlite3.Error
        If either file cannot be read as a database.
    """
    found = []
    for path in (template_db, db):
        con = _connect_ro(path)
        try:
            found.append(_schema(con))
        finally:
            con.close()
    tpl, got = found
    problems = []
    for key in sorted(set(tpl) | set(got), key=lambda k: (k[0] or "", k[1] or "")):
        kind, name = key
        label = f"{kind} {printable(name)[:60]}"
        if key not in tpl:
            problems.append(label)
        elif key not in got:
            problems.append(f"{label} missing")
        elif tpl[key] != got[key]:
            problems.append(f"{label} changed")
    if len(problems) > 6:
        problems = problems[:5] + [f"{len(problems) - 5} more"]
    return problems


def fmt(x):
    """A score as the CSV shows it: ``3``, ``2.5``, or empty for none."""
    return "" if x is None else f"{float(x):g}"


def csv_cell(value, column=None):
    r"""A cell of grades.csv that a spreadsheet will not run as a formula.

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'`` (OWASP's advice for CSV injection); a
    number in a score column stays a number.

    >>> csv_cell('=HYPERLINK("http://x")'), csv_cell("+1"), csv_cell("ann")
    ('\'=HYPERLINK("http://x")', "'+1", 'ann')
    >>> csv_cell("-1.5", "score"), csv_cell("-1.5", "flags"), csv_cell("-x", "score")
    ('-1.5', "'-1.5", "'-x")
    """
    text = "" if value is None else str(value)
    if column in NUMERIC and _NUMBER.fullmatch(text):
        return text
    return "'" + text if text.startswith(_FORMULA_START) else text


def printable(text):
    r"""``text`` with non-printable characters (ANSI escapes, controls) shown escaped.

    >>> printable("ann\x1b[2J\tx")
    'ann\\x1b[2J\\tx'
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in str(text))


def _placeholders(run):
    """Real paths of a run -> the names flags use, so that reruns read the same."""
    names = [(run.work, "<grading work folder>"), (run.course.root, "<course>"),
             (run.submissions, "<submissions>"), (run.out, "<out>"),
             (getattr(run, "staging", None), "<out>")]
    found = {}
    for p, n in names:
        if p:
            found.setdefault(os.path.realpath(p), n)
            found.setdefault(os.path.abspath(p), n)
    return sorted(found.items(), key=lambda x: -len(x[0]))


def _clean(text, places):
    for path, name in places:
        text = text.replace(path, name)
    return text


def _report_flags(res, places=()):
    flags = []
    for nb, rep in sorted(res.get("reports", {}).items()):
        for label in rep.get("timeouts", []):
            flags.append(f"{label} timed out after {rep.get('timeout_seconds')} s (scored 0)")
        for name, where in rep.get("reference", []):
            if where == "graded-call":   # a cell of the student's own is no cheat
                flags.append(f"called lessonlib's reference {name} while being graded "
                             f"(that exercise scored 0)")
        flags += list(rep.get("limits", []))
        for why in rep.get("grader_errors", []):
            flags.append(f"grader error, look at this row: {why}")
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


def _dest(run):
    """Where the run writes its outputs: the staging folder, moved into OUT at the end."""
    return getattr(run, "staging", None) or run.out


def rows(run, intake, graded, results, audits):
    """One row per student and assignment: score, status and the reasons.

    Flags name the run's folders by placeholders (``<out>``, ``<course>``,
    ...), so that a rerun on the same inputs gives the same rows. A run
    without the sandbox flags every row (:data:`NO_SANDBOX`).

    Parameters
    ----------
    run : lessonlib.grading.run._Run
        Paths and course of the run (its ``nbgrader_grades.csv`` must exist).
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
        Rows with the keys of :data:`COLUMNS`, sorted by student then assignment.
    """
    template_db = getattr(run, "template_db", None) or os.path.join(run.template, "gradebook.db")
    max_scores = gradebook.max_scores(gradebook.sqlite_url(template_db, read_only=True),
                                      run.course.course_id)
    exported = _exported(os.path.join(_dest(run), "nbgrader_grades.csv"))
    places = _placeholders(run)
    sandboxed = getattr(run, "sandbox", True)
    out = []
    for sid in sorted(intake.students):
        for a in sorted(graded):
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
                    row["flags"] += _report_flags(res, places)
                    row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
                    row["status"] = "graded"
            if sub is not None and row["status"] == "failed":
                row["flags"] += [f"audit: {t}" for t in audits.get((sid, a), [])]
            if not sandboxed:
                row["flags"].append(NO_SANDBOX)
            if row["flags"] and row["status"] == "graded":
                row["status"] = "flagged"
            row["flags"] = "; ".join(dict.fromkeys(
                printable(_clean(str(f), places)).replace(";", ",") for f in row["flags"]))
            out.append(row)
    return out


def write(run, rows, results):
    """Write ``grades.csv``, feedback, executed notebooks and logs (into the staging folder).

    Cells go through :func:`csv_cell`. Feedback and executed notebooks are
    copied for the assignments graded successfully only.
    """
    dest = _dest(run)
    with open(os.path.join(dest, "grades.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([csv_cell(r[c], c) for c in COLUMNS])
    for kind in ("feedback", "autograded", "logs"):
        os.makedirs(os.path.join(dest, kind), exist_ok=True)
    for sid, res in sorted(results.items()):
        sroot = os.path.join(run.work, "students", sid)
        logs = []
        for a, r in sorted(res["assignments"].items()):
            logs.append(f"===== {a} =====\n{r.get('log', '')}")
            if not r.get("success"):
                continue
            for kind in ("feedback", "autograded"):
                src = os.path.join(sroot, kind, sid, a)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(dest, kind, sid, a))
        with open(os.path.join(dest, "logs", f"{sid}.log"), "w", encoding="utf-8",
                  errors="replace") as fh:
            fh.write("\n".join(logs))


def summary(run, rows, graded, started):
    """Print counts by status, each assignment's mean, and every row to look at.

    Student ids and flags are shown with :func:`printable`: nothing a
    student named can drive the instructor's terminal.
    """
    def echo(line):
        run.echo(printable(line))

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
