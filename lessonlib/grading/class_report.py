"""The class report: how a class did on each exercise, and the mistakes it made.

Every ``lessonlib grade`` run writes two files next to ``grades.csv``:

``report.json``
    the data: for each assignment, the score distribution (a histogram)
    and, for each exercise (a grade cell and its check calls), the share of
    students who pass its visible and its hidden cases and the most
    frequent diagnoses across the class, each with its count and the
    students concerned; then every flagged and failed submission with its
    reasons (the flags of ``grades.csv``);
``report.html``
    the same, to read in a browser: one self-contained page (the plots are
    PNG images drawn by matplotlib, embedded as ``data:`` URIs; no script,
    no style sheet or font to fetch). Every text a student controls (their
    id, what their code raised or returned) is HTML-escaped, and long
    lists are cut (:data:`HTML_STUDENTS`, :data:`HTML_DIAGNOSES`,
    :data:`HTML_ROWS`).

Where the diagnoses come from
-----------------------------
Not from the feedback pages: from the grader's own verdicts. When
:class:`~lessonlib.grading.preprocessors.SandboxedExecute` runs a check of
a grade cell (in the grading worker, never in the student's kernel), it
records what happened to that call (:func:`verdict`): the student,
assignment, notebook, grade id, index of the call in the cell, check,
hidden or not, passed or not and, for a failure, a *kind* and a *key*
(:func:`diagnose`):

``diagnosis``
    the check recognised a known mistake: the
    :class:`~lessonlib.checks.CheckFailed` it raised carries the matching
    :class:`~lessonlib.checks.Diagnosis` (``exc.diagnosis``, possibly on an
    exception the check re-raised from); the key is its ``label`` (by
    default the first sentence of its message), e.g. ``It returns |x|:
    negative inputs must become 0, not positive.``;
``crash``
    the student's function raised: the exception the kernel reported is in
    the chain of the CheckFailed; the key is ``crash: <ExceptionType>``
    (``crash: NotImplementedError`` for a stub left as released);
``timeout``, ``grader error``
    the call ran out of time; the check itself failed (a bug of the
    grader's, never scored against the student);
``other``
    any other failure: the key is ``other: <shape of the message>``, its
    first sentence with the case description, numbers, quoted text and
    arrays masked (:func:`message_shape`), so that students who fail the
    same way on different hidden inputs fall in one group.

The worker gathers the verdicts of each notebook into its result
(``checks`` of each assignment, :func:`lessonlib.grading.jobs.grade_student`);
the orchestrator (:mod:`lessonlib.grading.run`) puts them together with the
rows of ``grades.csv`` (:func:`collect`, :func:`aggregate`). The exercises
are read from the course source (:func:`exercises`), so an exercise that no
student passed, or a student for whom no verdict was recorded, is counted,
not missing. The population of an exercise is the submissions that were
scored (``graded`` or ``flagged``); a ``failed`` submission is in the list
of failed submissions with its reason.

Reruns agree: everything is sorted (diagnoses by count, then key; students
by id), and only the ``generated`` field (the time of the run) changes.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import os
import re
import time

from .intake import cell_source
from .verdict import UnsupportedGradeCell, parse_grade_cell

__all__ = ["FORMAT", "verdict", "diagnose", "message_shape", "exercises", "collect",
           "aggregate", "render_html", "write", "JSON_NAME", "HTML_NAME"]

FORMAT = "lessonlib-class-report/1"
JSON_NAME, HTML_NAME = "report.json", "report.html"

#: Most characters of a message or key kept in a record.
MAX_TEXT = 300
#: Most characters of an "other: ..." key.
MAX_KEY = 160
#: report.json: most diagnoses per exercise, most students named per diagnosis.
MAX_DIAGNOSES, MAX_STUDENTS = 25, 200
#: report.html: most diagnoses per exercise, students per diagnosis, flagged/failed rows.
HTML_DIAGNOSES, HTML_STUDENTS, HTML_ROWS = 10, 30, 500

_STATUSES = ("graded", "flagged", "failed")


# ----------------------------------------------------------------------------------------
# verdicts: recorded by the grader where it runs a check


def _cap(text, n=MAX_TEXT):
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _first_line(text):
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return _cap(lines[0]) if lines else ""


def _chain(exc, most=12):
    """``exc`` and the exceptions it was raised from or while handling, innermost last."""
    found = []
    while exc is not None and len(found) < most and not any(exc is e for e in found):
        found.append(exc)
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__
    return found


def _type_name(name):
    return re.sub(r"[^\w.]", "_", str(name))[:60] or "Exception"


def diagnose(exc):
    """``(kind, key)`` of a failed check: what the class report groups it under.

    ``exc`` is the :class:`~lessonlib.checks.CheckFailed` a check raised in
    the grader (see the module docstring for the kinds).

    >>> from lessonlib.checks import CheckFailed, Diagnosis
    >>> err = CheckFailed("relu is wrong for x = [-1, 2]. It returns |x|: no. Use max.")
    >>> err.diagnosis = Diagnosis(abs, "It returns |x|: no. Use max.")
    >>> diagnose(err)
    ('diagnosis', 'It returns |x|: no.')
    >>> diagnose(CheckFailed("relu returned None for x = [-1, 2]. Did you forget `return`?"))
    ('other', 'other: relu returned None. Did you forget `\u2026`?')
    """
    text = str(exc)
    chain = _chain(exc)
    for e in chain:
        d = getattr(e, "diagnosis", None)
        message = str(getattr(d, "message", "") or "")
        if d is not None and message and message in text:   # not a stale one
            return "diagnosis", _cap(getattr(d, "label", "") or message)
    for e in chain[1:]:
        if hasattr(e, "student_line"):     # re-made from what the kernel reported
            return "crash", f"crash: {_type_name(type(e).__name__)}"
        if type(e).__name__ == "RemoteError" and getattr(e, "type_name", None):
            return "crash", f"crash: {_type_name(e.type_name)}"
    return "other", "other: " + message_shape(text)


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])"
                     r"|(?<![\w.])-?(?:nan|inf)(?!\w)")
_GROUP = re.compile(r"\(\s*(?:[N\u2026,\s]|\(\u2026\)|\[\u2026\]|'\u2026')*\)"
                    r"|\[\s*(?:[N\u2026,\s]|\(\u2026\)|\[\u2026\]|'\u2026')*\]")
_CASE = re.compile(r" for (?!\().*?(?=: |; |, expected |, which |\.$|$)")


def _mask(text):
    text = _QUOTED.sub(lambda m: m.group(0)[0] + "\u2026" + m.group(0)[-1], text)
    text = _NUMBER.sub("N", text)
    for _ in range(6):
        text, n = _GROUP.subn(lambda m: m.group(0)[0] + "\u2026" + m.group(0)[-1], text)
        if not n:
            break
    return text


def message_shape(text):
    """A failure message reduced to what students who fail the same way share.

    The first line's first sentence, without the case it failed on (the
    `` for <case>`` the checks put after the function's name) and cut at a
    ``;``, then its second sentence (often the advice, such as the mistake a
    wrong shape points to); numbers become ``N``, quoted text and arrays
    ``…``.

    >>> message_shape("relu is wrong for x of shape (1, 2, 3): 5 of 6 value(s) differ; "
    ...               "the largest difference is at index (0, 1, 2): got 1, expected 0.")
    'relu is wrong: N of N value(s) differ'
    >>> message_shape("pad has shape (3, 4) for x of shape (2, 2), padding=1, expected (4, 4). "
    ...               "Padding applied on one side only. More.")
    'pad has shape (\u2026), expected (\u2026). Padding applied on one side only.'
    """
    line = _first_line(text)[:600]
    sentences = _SENTENCE.split(line, maxsplit=2)
    first = _CASE.sub("", sentences[0], count=1).split("; ")[0].rstrip()
    parts = [_mask(first)]
    if len(sentences) > 1:
        parts.append(_mask(sentences[1]))
    return _cap(" ".join(parts), MAX_KEY) or "(no message)"


def verdict(ids, grade_id, index, call, failure=None, kind=None):
    """The record of one check call of a grade cell, as the grader decided it.

    Parameters
    ----------
    ids : (str, str, str)
        Student, assignment, notebook.
    grade_id : str
        The grade cell's id.
    index : int
        The call's position in the cell.
    call : lessonlib.grading.verdict.CheckCall
    failure : CheckFailed, Exception or str, optional
        None when the check passed; the CheckFailed it raised (classified
        by :func:`diagnose`); or, with ``kind`` (``"timeout"``,
        ``"grader error"``), what else stopped it.

    Returns
    -------
    dict
        JSON-able: ``student, assignment, notebook, grade_id, index, check,
        target, hidden, passed, kind, diagnosis_key, message_first_line``.
    """
    student, assignment, notebook = ids
    rec = {"student": str(student), "assignment": str(assignment), "notebook": str(notebook),
           "grade_id": str(grade_id), "index": int(index), "check": str(call.check),
           "target": _cap(call.target, 100), "hidden": bool(call.hidden),
           "passed": failure is None, "kind": None, "diagnosis_key": None,
           "message_first_line": ""}
    if failure is None:
        return rec
    if kind is None:
        kind, key = diagnose(failure)
    elif kind == "timeout":
        key = "timeout"
    else:
        name = type(failure).__name__ if isinstance(failure, BaseException) else ""
        key = f"{kind}: {_type_name(name)}" if name else kind
    rec.update(kind=kind, diagnosis_key=key, message_first_line=_first_line(failure))
    return rec


# ----------------------------------------------------------------------------------------
# the exercises of the course, and the verdicts of a run


def exercises(course, assignments):
    """The graded code cells of ``assignments``, in notebook order, with their check calls.

    Returns
    -------
    list of dict
        ``assignment, notebook, grade_id, points, calls`` (each call:
        ``index, check, target, hidden``).
    """
    found = []
    for a in assignments:
        for nb in course.assignments.get(a, []):
            with open(course.path(course.source_dir, a, nb + ".ipynb"), encoding="utf-8") as fh:
                cells = json.load(fh).get("cells", [])
            for cell in cells:
                nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
                if cell.get("cell_type") != "code" or not nbg.get("grade"):
                    continue
                try:
                    calls = parse_grade_cell(cell_source(cell))
                except UnsupportedGradeCell:
                    calls = []
                found.append({"assignment": a, "notebook": nb,
                              "grade_id": str(nbg.get("grade_id", "")),
                              "points": float(nbg.get("points") or 0),
                              "calls": [{"index": k, "check": c.check, "target": c.target,
                                         "hidden": bool(c.hidden)} for k, c in enumerate(calls)]})
    return found


def collect(results):
    """Every verdict of a run's results (student -> grade_student result), sorted.

    The student and the assignment are those the result is filed under.
    """
    out = []
    for sid, res in results.items():
        for a, r in (res.get("assignments") or {}).items():
            for rec in r.get("checks") or []:
                if isinstance(rec, dict):
                    out.append(dict(rec, student=sid, assignment=a))
    return sorted(out, key=lambda r: (r["student"], r["assignment"], str(r.get("notebook")),
                                      str(r.get("grade_id")), int(r.get("index", 0))))


# ----------------------------------------------------------------------------------------
# aggregation


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _bins(scores, max_score):
    """Histogram bins over [0, max_score]: one per point for whole scores up to 20, else 10."""
    top = max_score if max_score and max_score > 0 else max(scores, default=0.0)
    whole = top == int(top) and all(s == int(s) for s in scores)
    if top <= 0:
        edges, where = [(0.0, 0.0)], lambda s: 0
    elif whole and top <= 20:
        edges = [(float(k), float(k)) for k in range(int(top) + 1)]
        where = lambda s: int(round(s))   # noqa: E731
    else:
        step = top / 10
        edges = [(k * step, (k + 1) * step) for k in range(10)]
        where = lambda s: int(s // step)   # noqa: E731
    counts = [0] * len(edges)
    for s in scores:   # extra credit and penalties go to the end bins
        counts[min(max(where(s), 0), len(edges) - 1)] += 1
    out = []
    for (lo, hi), n in zip(edges, counts):
        label = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
        out.append({"from": round(lo, 6), "to": round(hi, 6), "label": label, "count": n})
    return out


def _scores(rows, max_score):
    values = sorted(v for v in (_number(r["score"]) for r in rows) if v is not None)
    stats = {"n": len(values), "mean": None, "median": None, "min": None, "max": None}
    if values:
        n = len(values)
        mid = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
        stats.update(mean=round(sum(values) / n, 4), median=round(mid, 4), min=values[0],
                     max=values[-1])
    stats["values"] = values
    stats["bins"] = _bins(values, max_score)
    return stats


def _share(passed, n):
    return round(passed / n, 4) if n else None


def _exercise(ex, scored, failed, by_call):
    """One exercise's pass shares and diagnoses over the ``scored`` students."""
    calls = ex["calls"]
    visible = [c["index"] for c in calls if not c["hidden"]]
    hidden = [c["index"] for c in calls if c["hidden"]]
    key = (ex["assignment"], ex["notebook"], ex["grade_id"])
    passed = {"visible": 0, "hidden": 0, "all": 0}
    groups, no_verdict = {}, []
    for sid in scored:
        recs = {i: by_call.get((sid,) + key + (i,)) for i in range(len(calls))}
        if calls and all(r is None for r in recs.values()):
            no_verdict.append(sid)
            continue
        ok = {i: bool(r and r.get("passed")) for i, r in recs.items()}
        passed["visible"] += bool(visible) and all(ok[i] for i in visible)
        passed["hidden"] += bool(hidden) and all(ok[i] for i in hidden)
        passed["all"] += bool(calls) and all(ok.values())
        for i, r in recs.items():
            if r is None or r.get("passed"):
                continue
            k = str(r.get("diagnosis_key") or "other: (no message)")
            g = groups.setdefault(k, {"key": k, "kind": str(r.get("kind") or "other"),
                                      "students": set(), "visible": set(), "hidden": set(),
                                      "examples": {}})
            g["students"].add(sid)
            g["hidden" if r.get("hidden") else "visible"].add(sid)
            g["examples"].setdefault(sid, str(r.get("message_first_line") or ""))
    diagnoses = []
    for g in sorted(groups.values(), key=lambda g: (-len(g["students"]), g["key"])):
        names = sorted(g["students"])
        diagnoses.append({"key": g["key"], "kind": g["kind"], "count": len(names),
                          "students": names[:MAX_STUDENTS],
                          "more_students": max(len(names) - MAX_STUDENTS, 0),
                          "visible": len(g["visible"]), "hidden": len(g["hidden"]),
                          "example": g["examples"][names[0]]})
    n = len(scored)

    def part(idx, count):
        if not idx:
            return None
        return {"cases": len(idx), "passed": count, "share": _share(count, n)}
    return {"notebook": ex["notebook"], "grade_id": ex["grade_id"], "points": ex["points"],
            "checks": sorted({c["check"] for c in calls}),
            "targets": sorted({c["target"] for c in calls}),
            "students": n, "not_graded": len(failed),
            "visible": part(visible, passed["visible"]), "hidden": part(hidden, passed["hidden"]),
            "passed_all": passed["all"], "share_all": _share(passed["all"], n),
            "no_verdict": sorted(no_verdict),
            "diagnoses": diagnoses[:MAX_DIAGNOSES],
            "more_diagnoses": max(len(diagnoses) - MAX_DIAGNOSES, 0)}


def _reasons(flags):
    return [f for f in str(flags or "").split("; ") if f]


def aggregate(rows, exercises, records, course_id=""):
    """The class report's data (all but its ``generated`` time).

    Parameters
    ----------
    rows : list of dict
        The rows of ``grades.csv`` (:func:`lessonlib.grading.report.rows`).
    exercises : list of dict
        :func:`exercises` of the graded assignments.
    records : list of dict
        The verdicts (:func:`verdict`, :func:`collect`).
    course_id : str

    Returns
    -------
    dict
        See the module docstring; JSON-able and deterministic.
    """
    by_call = {}
    for r in records:
        by_call.setdefault((str(r.get("student")), str(r.get("assignment")),
                            str(r.get("notebook")), str(r.get("grade_id")),
                            int(r.get("index", 0))), r)
    assignments = sorted({r["assignment"] for r in rows} | {e["assignment"] for e in exercises})
    out = {"format": FORMAT, "generated": None, "course_id": str(course_id),
           "students": len({r["student_id"] for r in rows}), "assignments": [],
           "flagged": [], "failed": []}
    for a in assignments:
        arows = sorted((r for r in rows if r["assignment"] == a), key=lambda r: r["student_id"])
        max_score = next((m for m in (_number(r["max_score"]) for r in arows) if m is not None),
                         None)
        scored = [r["student_id"] for r in arows if r["status"] in ("graded", "flagged")]
        failed = [r["student_id"] for r in arows if r["status"] not in ("graded", "flagged")]
        out["assignments"].append({
            "assignment": a, "max_score": max_score,
            "submissions": dict({s: sum(r["status"] == s for r in arows) for s in _STATUSES},
                                total=len(arows)),
            "scores": _scores([r for r in arows if r["status"] in ("graded", "flagged")],
                              max_score),
            "exercises": [_exercise(e, scored, failed, by_call) for e in exercises
                          if e["assignment"] == a]})
    for r in sorted(rows, key=lambda r: (r["student_id"], r["assignment"])):
        if r["status"] == "flagged":
            out["flagged"].append({"student": r["student_id"], "assignment": r["assignment"],
                                   "score": _number(r["score"]),
                                   "max_score": _number(r["max_score"]),
                                   "reasons": _reasons(r["flags"])})
        elif r["status"] not in ("graded", "flagged"):
            out["failed"].append({"student": r["student_id"], "assignment": r["assignment"],
                                  "reasons": _reasons(r["flags"]) or ["not graded"]})
    return out


# ----------------------------------------------------------------------------------------
# rendering


def _png(draw, width, height):
    """A matplotlib figure drawn by ``draw(ax)``, as base64 PNG (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plain(text):
    """Text matplotlib draws as it is (no mathtext)."""
    return str(text).replace("$", r"\$")


def _histogram_png(a):
    bins = a["scores"]["bins"]

    def draw(ax):
        xs = range(len(bins))
        ax.bar(xs, [b["count"] for b in bins], color="#4878a8", width=0.8)
        ax.set_xticks(list(xs), [_plain(b["label"]) for b in bins],
                      rotation=0 if len(bins) <= 12 else 45, fontsize=8)
        ax.set_xlabel(f"score (out of {a['max_score']:g})" if a["max_score"] is not None
                      else "score")
        ax.set_ylabel("submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_plain(f"{a['assignment']}: score distribution"), fontsize=10)
    return _png(draw, 6.0, 2.8)


def _shares_png(a):
    exs = a["exercises"]

    def draw(ax):
        ys = list(range(len(exs)))[::-1]
        for off, part, color in ((0.2, "visible", "#6aa84f"), (-0.2, "hidden", "#e69138")):
            vals = [(e[part]["share"] or 0) * 100 if e[part] else 0 for e in exs]
            ax.barh([y + off for y in ys], vals, height=0.38, color=color,
                    label=f"{part} cases passed")
        ax.set_yticks(ys, [_plain(e["grade_id"]) for e in exs], fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of scored submissions")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(_plain(f"{a['assignment']}: exercises"), fontsize=10)
    return _png(draw, 7.0, 1.3 + 0.45 * len(exs))


def _img(make, alt, what):
    try:
        data = make(what)
    except Exception as exc:   # no plot is no reason to lose the report
        return f'<p class="note">(plot unavailable: {html.escape(type(exc).__name__)})</p>'
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _pct(part):
    if not part or part["share"] is None:
        return "&ndash;"
    return f"{part['passed']} ({100 * part['share']:.0f}%)"


def _names(names, more=0, cap=HTML_STUDENTS):
    shown = ", ".join(html.escape(n) for n in names[:cap])
    rest = len(names) - cap + more if len(names) > cap else more
    return shown + (f" and {rest} more" if rest > 0 else "")


_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; } .note { color: #666; font-size: .9em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
td, th { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; }
li { margin: .2em 0; } .kind { color: #666; font-size: .85em; }
"""


def render_html(data):
    """``report.html``: the report as one self-contained page (all text escaped)."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Class report {e(data.get('course_id') or '')}</title>",
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Class report: {e(data.get('course_id') or 'course')}</h1>"]
    if data.get("error"):
        out.append(f"<p>The class report could not be made: {e(data['error'])}. "
                   f"grades.csv is complete.</p>")
    out.append(f"<p>{data.get('students', 0)} student(s), "
               f"{len(data.get('assignments', []))} assignment(s); "
               f"{len(data.get('flagged', []))} flagged and {len(data.get('failed', []))} failed "
               f"submission(s) (listed at the end).</p>")
    for a in data.get("assignments", []):
        s, sub = a["scores"], a["submissions"]
        mean = f"{s['mean']:g}" if s["mean"] is not None else "&ndash;"
        median = f"{s['median']:g}" if s["median"] is not None else "&ndash;"
        top = f"{a['max_score']:g}" if a["max_score"] is not None else "?"
        out.append(f"<h2>{e(a['assignment'])}</h2>")
        out.append(f"<p>{sub['total']} submission(s): {sub['graded']} graded, "
                   f"{sub['flagged']} flagged, {sub['failed']} failed. Mean {mean} / {top}, "
                   f"median {median}, over {s['n']} scored.</p>")
        out.append(_img(_histogram_png, f"histogram of the scores of {a['assignment']}", a))
        out.append("<table><tr><th>score</th>" + "".join(
            f"<td class=n>{e(b['label'])}</td>" for b in s["bins"]) + "</tr><tr><th>"
            "submissions</th>" + "".join(f"<td class=n>{b['count']}</td>" for b in s["bins"])
            + "</tr></table>")
        if not a["exercises"]:
            continue
        out.append("<h3>Exercises</h3><table><tr><th>exercise</th><th>checks</th>"
                   "<th>points</th><th>scored</th><th>visible cases passed</th>"
                   "<th>hidden cases passed</th></tr>")
        for x in a["exercises"]:
            out.append(f"<tr><td>{e(x['grade_id'])}</td><td>{e(', '.join(x['checks']))}</td>"
                       f"<td class=n>{x['points']:g}</td><td class=n>{x['students']}</td>"
                       f"<td class=n>{_pct(x['visible'])}</td>"
                       f"<td class=n>{_pct(x['hidden'])}</td></tr>")
        out.append("</table>")
        out.append(_img(_shares_png, f"share of {a['assignment']}'s submissions passing "
                                     f"each exercise", a))
        out.append("<h3>Most frequent diagnoses</h3>")
        listed = False
        for x in a["exercises"]:
            what = ", ".join(x["targets"]) or x["grade_id"]
            notes = []
            if x["no_verdict"]:
                notes.append(f"no verdict recorded for {_names(x['no_verdict'])}")
            if not x["diagnoses"] and not notes:
                continue
            listed = True
            out.append(f"<p><b>{e(x['grade_id'])}</b> ({e(what)})</p><ul>")
            shown = x["diagnoses"][:HTML_DIAGNOSES]
            for d in shown:
                where = [f"{d['visible']} on visible cases"] if d["visible"] else []
                where += [f"{d['hidden']} on hidden cases"] if d["hidden"] else []
                out.append(f"<li>{e(what)}: {e(d['key'].rstrip('.'))}: <b>{d['count']} student"
                           f"{'s' if d['count'] != 1 else ''}</b>: "
                           f"{_names(d['students'], d['more_students'])} "
                           f"<span class=kind>({e(d['kind'])}; {', '.join(where)}; e.g. "
                           f"&ldquo;{e(d['example'])}&rdquo;)</span></li>")
            more = len(x["diagnoses"]) - len(shown) + x["more_diagnoses"]
            if more > 0:
                out.append(f"<li class=note>and {more} more (in report.json)</li>")
            out += [f"<li class=note>{n}</li>" for n in notes]
            out.append("</ul>")
        if not listed:
            out.append("<p>No failure: every scored submission passed every check.</p>")
    for title, items, cols in (("Flagged submissions", data.get("flagged", []), True),
                               ("Failed submissions", data.get("failed", []), False)):
        out.append(f"<h2>{title}</h2>")
        if not items:
            out.append("<p>None.</p>")
            continue
        out.append("<table><tr><th>student</th><th>assignment</th>"
                   + ("<th>score</th>" if cols else "") + "<th>reasons</th></tr>")
        for r in items[:HTML_ROWS]:
            score = ""
            if cols:
                sc = "" if r["score"] is None else f"{r['score']:g}"
                mx = "" if r["max_score"] is None else f"{r['max_score']:g}"
                score = f"<td class=n>{sc} / {mx}</td>"
            reasons = "".join(f"<li>{e(x)}</li>" for x in r["reasons"][:20])
            if len(r["reasons"]) > 20:
                reasons += f"<li>and {len(r['reasons']) - 20} more</li>"
            out.append(f"<tr><td>{e(r['student'])}</td><td>{e(r['assignment'])}</td>{score}"
                       f"<td><ul>{reasons}</ul></td></tr>")
        out.append("</table>")
        if len(items) > HTML_ROWS:
            out.append(f"<p class=note>and {len(items) - HTML_ROWS} more (in grades.csv)</p>")
    out.append(f"<p class=note>Generated {e(str(data.get('generated') or ''))} by lessonlib "
               f"grade; the data is in report.json.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write(run, rows, results, graded, echo=None, now=None):
    """Write ``report.json`` and ``report.html`` into the run's output (staging) folder.

    The report never stops a run: if it cannot be made, both files say so
    (and why), and ``echo`` is told.
    """
    from .report import _dest
    dest = _dest(run)
    course = run.course
    try:
        source = course   # the copy of the source that was graded, if the run made one
        template = getattr(run, "template", None)
        if template and os.path.isdir(os.path.join(template, course.source_dir)):
            source = dataclasses.replace(course, root=template)
        data = aggregate(rows, exercises(source, graded), collect(results),
                         getattr(course, "course_id", ""))
    except Exception as exc:   # a bug here must not cost the class its grades
        data = {"format": FORMAT, "generated": None, "course_id": getattr(course, "course_id",
                                                                          ""),
                "error": _cap(f"{type(exc).__name__}: {exc}"), "students": 0,
                "assignments": [], "flagged": [], "failed": []}
        if echo is not None:
            echo(f"  the class report could not be made ({data['error']})")
    data["generated"] = now or time.strftime("%Y-%m-%d %H:%M:%S %z")
    with open(os.path.join(dest, JSON_NAME), "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=True)
        fh.write("\n")
    with open(os.path.join(dest, HTML_NAME), "w", encoding="utf-8") as fh:
        fh.write(render_html(data))
    return data
