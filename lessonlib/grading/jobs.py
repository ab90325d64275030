"""The work done in the grading pool's processes, with nbgrader's converters.

Three jobs, each a plain function of a JSON-able spec so that a process
pool can run it:

:func:`build_template`
    a course folder with the source of the assignments to grade and a
    gradebook made by ``GenerateAssignment`` (nbgrader generate_assignment);
    the release it writes is what students started from. It also checks
    that every grade cell is made of check calls, writes each assignment's
    kernel ``lessonlib`` (:mod:`lessonlib.grading.references`) and the
    secret the hidden cases' seeds derive from.
:func:`grade_student`
    one student, in a course folder of their own (a copy of the template:
    configuration, source, gradebook), with nbgrader's ``Autograde`` and
    ``GenerateFeedback``; the kernel runs in the sandbox and the grade cells
    are decided by :class:`~lessonlib.grading.preprocessors.SandboxedExecute`.
:func:`export_grades`
    nbgrader's CSV export plugin on the merged gradebook.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import sys
import warnings

from .course import nbgrader_env
from .verdict import UnsupportedGradeCell, parse_grade_cell

__all__ = ["init_worker", "build_template", "grade_student", "export_grades"]


def init_worker():
    """Pool initializer: import nbgrader once per process.

    jsonschema imports the optional ``rfc3987_syntax`` package when it is
    installed, which builds a grammar for seconds at every start; nbformat
    does not use that format checker, so the worker goes without it.
    """
    sys.modules.setdefault("rfc3987_syntax", None)
    warnings.simplefilter("ignore")   # library warnings mean nothing to the instructor
    os.environ["PATH"] = nbgrader_env()["PATH"]   # nbgrader runs `alembic`
    import nbgrader.converters  # noqa: F401


def _logger(name):
    log = logging.getLogger(f"lessonlib.grading.{name}")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    log.setLevel(logging.INFO)
    return log


def _config(root, course_id, extra=None):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    c = Config()
    if os.path.isfile(os.path.join(root, "nbgrader_config.py")):
        c.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
    c.CourseDirectory.root = root
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db")
    for section, values in (extra or {}).items():
        for key, value in values.items():
            c[section][key] = value
    return c


def _run(converter_cls, config, assignment, student=None, log_name="nbgrader", **attrs):
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    cd = CourseDirectory(config=config)
    cd.assignment_id = assignment
    if student is not None:
        cd.student_id = student
    app = converter_cls(coursedir=cd, config=config, log=_logger(log_name))
    for k, v in attrs.items():
        setattr(app, k, v)
    return capture_log(app)


def build_template(spec):
    """Make the template course: source copies and a gradebook with the assignments.

    ``spec``: ``root`` (new folder), ``course_root``, ``source_dir``,
    ``release_dir``, ``course_id``, ``assignments``.

    Returns
    -------
    dict
        ``{"ok": bool, "error": str}``.
    """
    from nbgrader.converters import GenerateAssignment
    root = spec["root"]
    os.makedirs(root, exist_ok=True)
    cfg_src = os.path.join(spec["course_root"], "nbgrader_config.py")
    shutil.copy(cfg_src, os.path.join(root, "nbgrader_config.py"))
    src_root = os.path.join(spec["course_root"], spec["source_dir"])
    for name in os.listdir(src_root):   # header/footer notebooks and the like
        if os.path.isfile(os.path.join(src_root, name)):
            os.makedirs(os.path.join(root, spec["source_dir"]), exist_ok=True)
            shutil.copy(os.path.join(src_root, name), os.path.join(root, spec["source_dir"]))
    for a in spec["assignments"]:
        shutil.copytree(os.path.join(src_root, a), os.path.join(root, spec["source_dir"], a),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    digest = hashlib.sha256(os.environ.get("LESSONLIB_GRADING_SECRET", "").encode())
    with open(cfg_src, "rb") as fh:
        digest.update(fh.read())
    for a in spec["assignments"]:
        try:
            checks = _grade_cell_checks(os.path.join(root, spec["source_dir"], a), digest)
        except UnsupportedGradeCell as exc:
            return {"ok": False, "error": str(exc)}
        _kernel_lessonlib(os.path.join(root, "kernel-lib", a), checks, a)
    with open(os.path.join(root, "secret"), "w") as fh:
        fh.write(digest.hexdigest())
    config = _config(root, spec["course_id"])
    for a in spec["assignments"]:
        res = _run(GenerateAssignment, config, a, log_name="template", force=True,
                   create_assignment=True)
        if not res["success"]:
            return {"ok": False, "error": f"nbgrader generate_assignment {a} failed: "
                                          + _cause(res.get("log", "") + res.get("error", ""))}
    return {"ok": True, "error": ""}


def _grade_cell_checks(folder, digest):
    """The check names the grade cells of an assignment call (and hash the sources).

    Raises
    ------
    UnsupportedGradeCell
        If a grade cell holds anything but check calls.
    """
    names = []
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".ipynb"):
            continue
        with open(os.path.join(folder, f), "rb") as fh:
            raw = fh.read()
        digest.update(raw)
        for cell in json.loads(raw).get("cells", []):
            nbg = cell.get("metadata", {}).get("nbgrader", {})
            if cell.get("cell_type") == "code" and nbg.get("grade"):
                src = "".join(cell["source"]) if isinstance(cell["source"], list) \
                    else cell["source"]
                try:
                    names += [c.check for c in parse_grade_cell(src)]
                except UnsupportedGradeCell as exc:
                    raise UnsupportedGradeCell(
                        f"{os.path.basename(folder)}/{f}, grade cell {nbg.get('grade_id')}: "
                        f"{exc}") from None
    return sorted(set(names))


def _kernel_lessonlib(dest, checks, assignment):
    """Write the ``lessonlib`` a grading kernel of ``assignment`` imports; return its folder."""
    from .references import build_overlay
    os.makedirs(dest, exist_ok=True)
    return build_overlay(dest, checks, assignment)


_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt))(: .*)?$")


def _cause(text):
    """The first exception line of a log (not nbgrader's 'see above'), else its last line."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for ln in lines:
        m = _EXCEPTION.match(ln)
        if m and "NbGraderException" not in m.group(1):
            return ln[:300]
    return (lines[-1] if lines else "unknown error").replace("[ERROR] ", "")[:300]


def _failure_reason(res, reports):
    for rep in reports.values():
        if rep.get("fatal"):
            return rep["fatal"]
    text = (res.get("log", "") or "") + "\n" + (res.get("error", "") or "")
    return "nbgrader could not grade it: " + _cause(text)


def _html_text(path):
    with open(path, encoding="utf-8") as fh:
        text = re.sub(r"<[^>]+>", "", fh.read())
    return re.sub(r"\s+", " ", html.unescape(text))


def _gradebook(db_url, course_id, assignment, student):
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gb:
        sub = gb.find_submission(assignment, student)
        cells = []
        for nb in sub.notebooks:
            for g in nb.grades:
                cells.append({"notebook": nb.name, "cell": g.name, "score": g.score,
                              "max_score": g.max_score, "manual": bool(g.needs_manual_grade)})
        return {"score": sub.score, "max_score": sub.max_score,
                "late_penalty": sub.late_submission_penalty or 0.0, "cells": cells}


def grade_student(spec):
    """Autograde one student's assignments and make their feedback.

    ``spec``: ``student``, ``root`` (new folder for this student's course),
    ``template``, ``submission`` (prepared ``<assignment>/<notebook>.ipynb``),
    ``assignments`` (with something to grade), ``source_dir``,
    ``course_id``, ``hidden`` (``{assignment: [hidden test lines]}``),
    ``execute`` (configuration of GuardedExecute).

    Returns
    -------
    dict
        ``{"student": ..., "assignments": {assignment: result}}`` where a
        result holds ``success``, ``reason``, ``reports`` (per notebook),
        ``checks`` (the verdict of every check call, for the class report),
        and for a success ``score``, ``max_score``, ``cells``,
        ``feedback`` (list of files) and ``feedback_withheld``.
    """
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, GetGrades,
                                        IgnorePattern, LimitOutput, SaveAutoGrades)
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from .preprocessors import HideHiddenTests, SandboxedExecute

    sid, root = spec["student"], spec["root"]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    tpl = spec["template"]
    shutil.copy(os.path.join(tpl, "nbgrader_config.py"), root)
    shutil.copy(os.path.join(tpl, "gradebook.db"), root)
    shutil.copytree(os.path.join(tpl, spec["source_dir"]), os.path.join(root, spec["source_dir"]))
    shutil.copytree(spec["submission"], os.path.join(root, "submitted", sid))
    results = {}
    with open(os.path.join(tpl, "secret")) as fh:
        secret = fh.read().strip()
    # short: the kernels' unix sockets live in here (paths of at most 107 bytes)
    kernels = os.path.join(os.path.dirname(tpl), "k")
    for a in spec["assignments"]:
        report_dir = os.path.join(root, "reports", a)
        execute = {"report_dir": report_dir, "sandbox": bool(spec.get("sandbox", True)),
                   "lessonlib_path": os.path.join(tpl, "kernel-lib", a),
                   "work_dir": kernels, "seed_secret": secret}
        if spec.get("execute", {}).get("timeout"):
            execute["timeout"] = int(spec["execute"]["timeout"])
        if spec.get("limits"):
            execute["limits"] = dict(spec["limits"])
        config = _config(root, spec["course_id"], {
            "Autograde": {"autograde_preprocessors": [
                SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor,
                LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]},
            "OverwriteCells": {"add_missing_cells": True},
            "SandboxedExecute": execute,
            "GenerateFeedback": {"preprocessors": [GetGrades, HideHiddenTests,
                                                   CSSHTMLHeaderPreprocessor]},
            "HTMLExporter": {"template_name": "feedback"},
        })
        res = _run(Autograde, config, a, sid, log_name=sid, force=True, create_student=True)
        reports = {}
        if os.path.isdir(report_dir):
            for f in sorted(os.listdir(report_dir)):
                if f.endswith(".json") and not f.endswith(".kernel.log"):
                    with open(os.path.join(report_dir, f)) as fh:
                        reports[f[:-5]] = json.load(fh)
        # the grader's verdict of every check call, for the class report (class_report.py)
        checks = [r for rep in reports.values() for r in rep.pop("checks", None) or []]
        out = {"success": bool(res["success"]), "reports": reports, "log": res.get("log", ""),
               "checks": checks}
        if not res["success"]:
            out["reason"] = _failure_reason(res, reports)
            results[a] = out
            continue
        out.update(_gradebook(config.CourseDirectory.db_url, spec["course_id"], a, sid))
        fb = _run(GenerateFeedback, config, a, sid, log_name=sid, force=True)
        folder = os.path.join(root, "feedback", sid, a)
        out["feedback"], out["feedback_withheld"] = [], []
        if fb["success"] and os.path.isdir(folder):
            hidden = spec["hidden"].get(a, [])
            for f in sorted(os.listdir(folder)):
                path = os.path.join(folder, f)
                text = _html_text(path) if f.endswith(".html") else ""
                leaked = [h for h in hidden if re.sub(r"\s+", " ", h) in text]
                if leaked:
                    os.remove(path)
                    out["feedback_withheld"].append(f)
                else:
                    out["feedback"].append(path)
        elif not fb["success"]:
            out["feedback_error"] = _cause(fb.get("log", "") + fb.get("error", ""))
        results[a] = out
    return {"student": sid, "assignments": results}


def export_grades(spec):
    """Run nbgrader's CSV export on a gradebook.

    ``spec``: ``db`` (path), ``course_id``, ``to`` (CSV path).
    """
    from .gradebook import export_csv, sqlite_url
    return export_csv(sqlite_url(spec["db"], read_only=True), spec["course_id"], spec["to"],
                      log=_logger("export"))
