"""Grade a class with nbgrader: in parallel, through bad submissions, flagging cheats.

The instructor's two commands (``lessonlib release``, ``lessonlib grade``)
are :func:`release` and :func:`grade`. :func:`grade` runs, from the course
root:

1. a *template*: the source of the assignments and a gradebook made by
   nbgrader's generate_assignment, in a temporary folder;
2. the *intake* (:mod:`lessonlib.grading.intake`): renamed notebooks,
   broken JSON, duplicated and deleted cells, extra files;
3. the *static audit* (:mod:`lessonlib.grading.audit`) of what each
   student wrote;
4. one *job per student* in a process pool: a course folder of their own
   (copies of the configuration, source and gradebook), nbgrader's
   autograde with the guarded kernel (:mod:`lessonlib.grading.preprocessors`,
   :mod:`lessonlib.grading.guard`), then generate_feedback;
5. the *merge*: each student's gradebook rows into ``OUT/gradebook.db``,
   nbgrader's CSV export of it, and ``OUT/grades.csv`` with a status and
   the reasons behind it for every student and assignment.

Nothing is scored silently: a submission that could not be graded is
``failed`` with its reason and no score; one with anything a person should
look at is ``flagged`` with the reasons; the rest are ``graded``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from .audit import audit_notebook, reference_names
from .course import Course, CourseError, release
from .intake import cell_source, hidden_test_lines, read_submissions
from . import report
from .report import COLUMNS, fmt
from .jobs import build_template, export_grades, grade_student, init_worker

__all__ = ["grade", "release", "GradingError", "COLUMNS"]

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
            parts.append(f"{a} {fmt(res['score'])}/{fmt(res['max_score'])}")
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
        if not students:
            echo(f"  no student folder found in {run.submissions}: the layout is "
                 f"<student>/<assignment>/<notebook>.ipynb")
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
                report.merge(merged, sid, os.path.join(run.work, "students", sid, "gradebook.db"), ok)
        export = pool.submit(export_grades, {"db": merged, "course_id": course.course_id,
                                             "to": os.path.join(run.out, "nbgrader_grades.csv")})
        export.result()
    rows = report.rows(run, intake, graded, results, audits)
    report.write(run, rows, results)
    report.summary(run, rows, graded, started)
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
