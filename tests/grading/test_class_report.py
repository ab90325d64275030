"""The class report (``OUT/report.json``, ``OUT/report.html``): what a class got wrong, and why.

Two parts:

* fast tests of the pieces, on hand-made records and on lessonlib's own
  checks run in this process (no kernel, no sandbox): how a failure is
  classified (:func:`class_report.diagnose`), what a verdict holds, the
  aggregation (counts, students, shares, histogram, caps, order), the
  rendering (escaping, self-contained page);
* one synthetic class graded end to end in the sandbox, whose mistakes are
  known: three students with the same mistake in relu, two with another in
  linear_param_count, one correct, one blank, one whose notebook is broken,
  and one named like a script tag whose relu fails only hidden cases and
  whose linear_param_count crashes.

The hostile class of ``test_class.py`` is asserted there (its
failures and timeouts in the report), with the negative control (a class
that is all correct lists no diagnosis) and the reruns (the same report but
for its time).
"""

import base64
import contextlib
import csv
import io
import json
import os
import random
import re

import numpy as np
import pytest

from lessonlib.checks import CheckFailed, Diagnosis
from lessonlib.checks import check_linear_param_count, check_relu
from lessonlib.grading import class_report as cr
from lessonlib.grading.in_kernel import RemoteError
from lessonlib.grading.verdict import CheckCall, _student_exception

ABS_LABEL = "It returns |x|: negative inputs must become 0, not positive."
BIAS_LABEL = "You forgot the bias: one per output feature."


def failure(check, fn):
    with pytest.raises(CheckFailed) as info:
        with contextlib.redirect_stdout(io.StringIO()):
            check(fn)
    return info.value


# ----------------------------------------------------------------------------------------
# classifying a failure


def test_a_diagnosis_has_a_label_defaulting_to_its_first_sentence():
    d = Diagnosis(abs, "Padding applied on one side only. Pad both sides: 2 * padding.")
    assert d.label == "Padding applied on one side only."
    assert Diagnosis(abs, "No stop").label == "No stop"
    assert Diagnosis(abs, "A long message. More.", "one-sided padding").label == \
        "one-sided padding"


def test_a_known_mistake_is_named_by_the_diagnosis_the_check_matched():
    exc = failure(check_relu, np.abs)
    assert cr.diagnose(exc) == ("diagnosis", ABS_LABEL)
    exc = failure(check_linear_param_count, lambda i, o, bias=True: i * o)
    assert cr.diagnose(exc) == ("diagnosis", BIAS_LABEL)
    # negative control: a wrong answer no diagnosis knows is "other", by its shape
    kind, key = cr.diagnose(failure(check_relu, lambda x: np.asarray(x) * 2.0))
    assert kind == "other" and key == "other: relu is wrong: N of N value(s) differ", key


def test_a_stale_diagnosis_is_not_trusted():
    exc = CheckFailed("relu returned None. Did you forget the `return` statement?")
    exc.diagnosis = Diagnosis(abs, "It returns |x|: negative inputs must become 0.")
    assert cr.diagnose(exc)[0] == "other"


def test_a_diagnosis_survives_a_check_re_raising_with_more_advice():
    inner = CheckFailed("f is wrong for x. It returns |x|: bad.")
    inner.diagnosis = Diagnosis(abs, "It returns |x|: bad.")
    try:
        try:
            raise inner
        except CheckFailed as exc:
            raise CheckFailed(f"{exc} Also: a hint.") from None
    except CheckFailed as outer:
        assert cr.diagnose(outer) == ("diagnosis", "It returns |x|: bad.")


def test_a_crash_of_the_students_code_is_named_by_its_exception_type():
    def student(x):   # what the grader's proxy raises for an exception in the kernel
        raise _student_exception(RemoteError("ZeroDivisionError", "division by zero", 3,
                                             "return x / 0", builtin=True))
    assert cr.diagnose(failure(check_relu, student)) == ("crash", "crash: ZeroDivisionError")

    def stub(x):
        raise _student_exception(RemoteError("NotImplementedError", "", 2,
                                             "raise NotImplementedError()", builtin=True))
    assert cr.diagnose(failure(check_relu, stub)) == ("crash", "crash: NotImplementedError")
    # an exception class of the student's, with a hostile name
    def own(x):
        raise _student_exception(RemoteError("My<b>Error", "boom", 1, "raise", builtin=False))
    assert cr.diagnose(failure(check_relu, own)) == ("crash", "crash: My_b_Error")
    # negative control: the same crash in this process (no kernel) is not a student's line
    def local(x):
        raise ZeroDivisionError("division by zero")
    assert cr.diagnose(failure(check_relu, local))[0] == "other"


def test_the_shape_of_a_message_groups_different_cases_and_values():
    a = cr.message_shape("conv2d is wrong for x of shape (1, 1, 5, 5), stride 2: 3 of 9 "
                         "value(s) differ; the largest difference is at index (0, 0, 1, 2): "
                         "got 1.5, expected 2 (relative error 0.25).")
    b = cr.message_shape("conv2d is wrong for random x of shape (2, 3, 7, 7): 40 of 98 "
                         "value(s) differ; the largest difference is at index (1, 0, 0, 0): "
                         "got -0.31, expected 1e-05 (absolute error 0.3).")
    assert a == b == "conv2d is wrong: N of N value(s) differ"
    assert cr.message_shape("f returned 'abc' of type str; return an int.") == \
        "f returned '\u2026' of type str"
    assert cr.message_shape("pad has shape (2, 3) for x = [[1, 2]], expected (4, 5). Padding "
                            "on one side only. Pad both.") == \
        "pad has shape (\u2026), expected (\u2026). Padding on one side only."
    assert len(cr.message_shape("x" * 5000)) <= cr.MAX_KEY
    assert cr.message_shape("") == "(no message)"


def test_a_verdict_records_who_what_and_why():
    ids = ("ann", "01_alpha", "alpha")
    call = CheckCall("check_relu", "relu", hidden=True)
    rec = cr.verdict(ids, "relu-test", 1, call)
    assert rec == {"student": "ann", "assignment": "01_alpha", "notebook": "alpha",
                   "grade_id": "relu-test", "index": 1, "check": "check_relu",
                   "target": "relu", "hidden": True, "passed": True, "kind": None,
                   "diagnosis_key": None, "message_first_line": ""}
    rec = cr.verdict(ids, "relu-test", 0, call, failure(check_relu, np.abs))
    assert (rec["passed"], rec["kind"], rec["diagnosis_key"]) == (False, "diagnosis", ABS_LABEL)
    assert rec["message_first_line"].startswith("relu is wrong for x = [")
    rec = cr.verdict(ids, "relu-test", 0, call, "relu did not finish within 10 s", "timeout")
    assert (rec["kind"], rec["diagnosis_key"]) == ("timeout", "timeout")
    rec = cr.verdict(ids, "relu-test", 0, call, KeyError("x"), "grader error")
    assert rec["diagnosis_key"] == "grader error: KeyError"
    long = CheckFailed("line one " * 100 + "\nline two")
    assert len(cr.verdict(ids, "relu-test", 0, call, long)["message_first_line"]) \
        <= cr.MAX_TEXT
    json.dumps(rec)


# ----------------------------------------------------------------------------------------
# aggregating hand-made records

EXERCISES = [
    {"assignment": "01_a", "notebook": "a", "grade_id": "conv-test", "points": 2.0,
     "calls": [{"index": 0, "check": "check_conv2d", "target": "conv2d", "hidden": False},
               {"index": 1, "check": "check_conv2d", "target": "conv2d", "hidden": True}]},
    {"assignment": "01_a", "notebook": "a", "grade_id": "pad-test", "points": 1.0,
     "calls": [{"index": 0, "check": "check_pad2d", "target": "pad2d", "hidden": False}]},
]
ONE_SIDED = "padding applied on one side only"


def rec(sid, gid, index, passed=True, key=None, kind="diagnosis", hidden=None, msg=""):
    return {"student": sid, "assignment": "01_a", "notebook": "a", "grade_id": gid,
            "index": index, "check": "check_conv2d", "target": "conv2d",
            "hidden": bool(index) if hidden is None else hidden, "passed": passed,
            "kind": None if passed else kind, "diagnosis_key": None if passed else key,
            "message_first_line": msg}


def row(sid, score, status="graded", flags="", max_score="3"):
    return {"student_id": sid, "assignment": "01_a", "score": score, "max_score": max_score,
            "status": status, "flags": flags}


def class_records():
    """alice, bob, carl: one-sided padding (visible); dora: passes visible, fails hidden
    (other); erin: all correct; fred: crash; gina: failed (kernel died); hugo: no verdict."""
    recs = []
    for sid in ("carl", "alice", "bob"):
        recs.append(rec(sid, "conv-test", 0, False, ONE_SIDED, msg=f"conv2d is wrong ({sid})"))
        recs.append(rec(sid, "pad-test", 0))
    recs += [rec("dora", "conv-test", 0), rec("dora", "conv-test", 1, False,
                                              "other: conv2d is wrong: N of N value(s) differ",
                                              "other"),
             rec("dora", "pad-test", 0, False, ONE_SIDED)]
    recs += [rec("erin", "conv-test", 0), rec("erin", "conv-test", 1), rec("erin", "pad-test", 0)]
    recs += [rec("fred", "conv-test", 0, False, "crash: IndexError", "crash"),
             rec("fred", "pad-test", 0, False, "crash: IndexError", "crash")]
    recs += [rec("gina", "conv-test", 0)]   # recorded, but the submission failed
    rows = [row("alice", "1"), row("bob", "1"), row("carl", "1"), row("dora", "0"),
            row("erin", "3"), row("fred", "0", "flagged", "audit: conv-impl: imports os"),
            row("gina", "", "failed", "the kernel died while running conv-test (the code "
                                      "crashed Python); audit: conv-impl: imports os"),
            row("hugo", "0"), row("ivan", "", "failed", "no submission for this assignment")]
    return rows, recs


def test_the_aggregation_counts_students_per_diagnosis_and_pass_shares():
    rows, recs = class_records()
    data = cr.aggregate(rows, EXERCISES, recs, "course-x")
    [a] = data["assignments"]
    assert a["assignment"] == "01_a" and a["max_score"] == 3.0
    assert a["submissions"] == {"graded": 6, "flagged": 1, "failed": 2, "total": 9}
    conv, pad = a["exercises"]
    assert conv["grade_id"] == "conv-test" and conv["targets"] == ["conv2d"]
    assert conv["students"] == 7 and conv["not_graded"] == 2   # gina and ivan: failed
    # visible passed: dora, erin; hidden passed: erin (hugo has no verdict: not passed)
    assert conv["visible"] == {"cases": 1, "passed": 2, "share": round(2 / 7, 4)}
    assert conv["hidden"] == {"cases": 1, "passed": 1, "share": round(1 / 7, 4)}
    assert conv["passed_all"] == 1 and conv["no_verdict"] == ["hugo"]
    assert [(d["key"], d["count"], d["students"], d["visible"], d["hidden"])
            for d in conv["diagnoses"]] == [
        (ONE_SIDED, 3, ["alice", "bob", "carl"], 3, 0),
        ("crash: IndexError", 1, ["fred"], 1, 0),
        ("other: conv2d is wrong: N of N value(s) differ", 1, ["dora"], 0, 1)]
    assert conv["diagnoses"][0]["example"] == "conv2d is wrong (alice)"
    assert pad["hidden"] is None and pad["visible"]["passed"] == 4   # alice, bob, carl, erin
    assert [(d["key"], d["students"]) for d in pad["diagnoses"]] == [   # a tie: by key
        ("crash: IndexError", ["fred"]), (ONE_SIDED, ["dora"])]
    # the histogram of the scored submissions (failed ones have no score)
    s = a["scores"]
    assert s["values"] == [0, 0, 0, 1, 1, 1, 3]
    assert [(b["label"], b["count"]) for b in s["bins"]] == [("0", 3), ("1", 3), ("2", 0),
                                                              ("3", 1)]
    assert (s["n"], s["mean"], s["median"], s["min"], s["max"]) == (7, 0.8571, 1, 0, 3)
    # flagged and failed, with their reasons, one per line
    assert data["flagged"] == [{"student": "fred", "assignment": "01_a", "score": 0.0,
                                "max_score": 3.0, "reasons": ["audit: conv-impl: imports os"]}]
    assert data["failed"] == [
        {"student": "gina", "assignment": "01_a",
         "reasons": ["the kernel died while running conv-test (the code crashed Python)",
                     "audit: conv-impl: imports os"]},
        {"student": "ivan", "assignment": "01_a", "reasons": ["no submission for this "
                                                              "assignment"]}]
    assert data["students"] == 9 and data["course_id"] == "course-x"


def test_the_aggregation_does_not_depend_on_the_order_of_the_records():
    rows, recs = class_records()
    first = json.dumps(cr.aggregate(rows, EXERCISES, recs))
    for seed in range(3):
        random.Random(seed).shuffle(recs)
        random.Random(seed).shuffle(rows)
        assert json.dumps(cr.aggregate(rows, EXERCISES, recs)) == first


def test_a_class_that_is_all_correct_lists_no_diagnosis():
    rows = [row(s, "3") for s in ("ann", "bob")]
    recs = [rec(s, g, i) for s in ("ann", "bob") for g, i in
            (("conv-test", 0), ("conv-test", 1), ("pad-test", 0))]
    data = cr.aggregate(rows, EXERCISES, recs)
    for x in data["assignments"][0]["exercises"]:
        assert x["diagnoses"] == [] and x["share_all"] == 1.0 and x["no_verdict"] == []
    assert data["flagged"] == data["failed"] == []
    page = cr.render_html(data)
    assert "No failure: every scored submission passed every check." in page
    assert "student" not in page.split("Most frequent diagnoses")[1].split("<h2>")[0]


def test_histogram_bins_for_fractional_and_large_scores():
    bins = cr._bins([0.5, 2.5, 10, 49.9, 50, 51], 50)
    assert len(bins) == 10 and [b["count"] for b in bins] == [2, 0, 1, 0, 0, 0, 0, 0, 0, 3]
    assert bins[0]["label"] == "0-5" and bins[-1]["label"] == "45-50"
    assert [b["count"] for b in cr._bins([0, 1.5, 3], 3)] == [1] + [0] * 4 + [1] + [0] * 3 + [1]
    assert cr._bins([], 0) == [{"from": 0.0, "to": 0.0, "label": "0", "count": 0}]


def test_long_lists_are_capped(monkeypatch):
    monkeypatch.setattr(cr, "MAX_STUDENTS", 5)
    monkeypatch.setattr(cr, "MAX_DIAGNOSES", 3)
    names = [f"s{k:03d}" for k in range(60)]
    rows = [row(s, "0") for s in names]
    recs = [rec(s, "pad-test", 0, False, ONE_SIDED if k < 40 else f"other: odd {k}", "other")
            for k, s in enumerate(names)]
    data = cr.aggregate(rows, EXERCISES, recs)
    pad = data["assignments"][0]["exercises"][1]
    top = pad["diagnoses"][0]
    assert (top["count"], top["students"], top["more_students"]) == (40, names[:5], 35)
    assert len(pad["diagnoses"]) == 3 and pad["more_diagnoses"] == 18
    page = cr.render_html(data)
    assert "s000, s001, s002, s003, s004 and 35 more" in page
    monkeypatch.setattr(cr, "MAX_STUDENTS", 200)
    page = cr.render_html(cr.aggregate(rows, EXERCISES, recs))
    assert f"{', '.join(names[:cr.HTML_STUDENTS])} and {40 - cr.HTML_STUDENTS} more" in page


HOSTILE = "<script>alert('x')</script>"


def test_the_page_escapes_what_students_control_and_fetches_nothing():
    rows, recs = class_records()
    rows.append(row(HOSTILE, "0", "flagged", f"cell {HOSTILE} & more"))
    recs.append(rec(HOSTILE, "conv-test", 0, False, f"crash: {HOSTILE}", "crash",
                    msg=f'conv2d raised <img src=x onerror="alert(1)">: {HOSTILE}'))
    page = cr.render_html(cr.aggregate(rows, EXERCISES, recs))
    assert "<script" not in page.lower() and "onerror=\"" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "cell &lt;script&gt;" in page and "&amp; more" in page
    assert not re.search(r"https?://", page)
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for s in srcs:
        assert base64.b64decode(s.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_the_report_never_costs_the_class_its_grades(tmp_path, monkeypatch):
    class Run:
        staging = str(tmp_path)
        course = type("C", (), {"course_id": "c", "assignments": {}})()
    lines = []

    def broken(*a, **k):
        raise RuntimeError("a bug in the report")
    monkeypatch.setattr(cr, "aggregate", broken)
    data = cr.write(Run(), [], {}, [], echo=lines.append, now="2024-01-01 00:00:00 +0000")
    assert data["error"] == "RuntimeError: a bug in the report"
    assert json.loads((tmp_path / "report.json").read_text())["error"] == data["error"]
    assert "could not be made" in (tmp_path / "report.html").read_text()
    assert lines == ["  the class report could not be made (RuntimeError: a bug in the report)"]


# ----------------------------------------------------------------------------------------
# a synthetic class, graded in the sandbox

SCRIPT = "<script>alert(1)<script>"   # a student id may not hold "/"
RELU = {"good": "return np.maximum(np.asarray(x), 0)", "abs": "return np.abs(x)",
        "clip": "return np.clip(x, 0, 1e6)"}          # wrong only on the hidden huge values
LINEAR = {"good": "return in_features * out_features + (out_features if bias else 0)",
          "nobias": "return in_features * out_features",
          "crash": "raise ValueError('<b>no</b> & \"more\"')"}
CLASS = {"ann": ("abs", "good"), "bob": ("abs", "good"), "cat": ("abs", "good"),
         "dan": ("good", "nobias"), "eve": ("good", "nobias"), "fay": ("good", "good"),
         "gus": (None, None), "hal": "broken", SCRIPT: ("clip", "crash")}
SCORES = {"ann": 1, "bob": 1, "cat": 1, "dan": 2, "eve": 2, "fay": 3, "gus": 0, SCRIPT: 0}


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    from lessonlib.cli import main
    from lessonlib.grading.demo import make_demo_course
    tmp = tmp_path_factory.mktemp("class-report")
    root = make_demo_course(tmp / "course")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--course", root, "release", "01_alpha"]) == 0
    with open(os.path.join(root, "course", "01_alpha", "alpha.ipynb")) as fh:
        release = json.load(fh)
    subs = tmp / "subs"
    for sid, plan in CLASS.items():
        folder = subs / sid / "01_alpha"
        folder.mkdir(parents=True)
        nb = json.loads(json.dumps(release))
        if plan == "broken":
            (folder / "alpha.ipynb").write_text(json.dumps(nb)[:400])
            continue
        for c in nb["cells"]:
            gid = c["metadata"].get("nbgrader", {}).get("grade_id")
            if gid == "relu-impl" and plan[0]:
                c["source"] = "def relu(x):\n    " + RELU[plan[0]]
            if gid == "linear-impl" and plan[1]:
                c["source"] = ("def linear_param_count(in_features, out_features, bias=True):"
                               "\n    " + LINEAR[plan[1]])
        (folder / "alpha.ipynb").write_text(json.dumps(nb))
    out = tmp / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["--course", root, "grade", str(subs), "--out", str(out), "--jobs", "2",
                       "--assignment", "01_alpha"])
    assert status == 0, buf.getvalue()
    return {"out": out, "log": buf.getvalue(),
            "json": json.loads((out / "report.json").read_text()),
            "html": (out / "report.html").read_text()}


def _exercise(data, gid):
    [a] = data["assignments"]
    return next(x for x in a["exercises"] if x["grade_id"] == gid)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_synthetic_class_diagnoses(synthetic):
    data = synthetic["json"]
    assert data["format"] == cr.FORMAT and data["students"] == 9
    relu = _exercise(data, "relu-test")
    assert (relu["students"], relu["not_graded"]) == (8, 1)
    assert [(d["key"], d["kind"], d["count"], d["students"], d["visible"], d["hidden"])
            for d in relu["diagnoses"]] == [
        (ABS_LABEL, "diagnosis", 3, ["ann", "bob", "cat"], 3, 0),
        ("crash: NotImplementedError", "crash", 1, ["gus"], 1, 0),
        ("other: relu is wrong: N of N value(s) differ", "other", 1, [SCRIPT], 0, 1)]
    linear = _exercise(data, "linear_param_count-test")
    assert [(d["key"], d["count"], d["students"]) for d in linear["diagnoses"]] == [
        (BIAS_LABEL, 2, ["dan", "eve"]), ("crash: NotImplementedError", 1, ["gus"]),
        ("crash: ValueError", 1, [SCRIPT])]
    assert relu["diagnoses"][0]["example"] == (
        "relu is wrong for x = [-2, -0.5, 0, 0.5, 2]. " + ABS_LABEL)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_synthetic_class_pass_shares_and_histogram(synthetic):
    data = synthetic["json"]
    relu = _exercise(data, "relu-test")
    # visible: dan, eve, fay and the clipping student; hidden: dan, eve, fay
    assert relu["visible"] == {"cases": 1, "passed": 4, "share": 0.5}
    assert relu["hidden"] == {"cases": 1, "passed": 3, "share": 0.375}
    linear = _exercise(data, "linear_param_count-test")
    assert linear["visible"]["passed"] == linear["hidden"]["passed"] == 4   # ann, bob, cat, fay
    assert relu["no_verdict"] == linear["no_verdict"] == []
    [a] = data["assignments"]
    assert a["submissions"] == {"graded": 8, "flagged": 0, "failed": 1, "total": 9}
    assert a["scores"]["values"] == sorted(SCORES.values())
    assert [(b["label"], b["count"]) for b in a["scores"]["bins"]] == [
        ("0", 2), ("1", 3), ("2", 2), ("3", 1)]
    # the same scores as grades.csv
    with open(synthetic["out"] / "grades.csv", newline="") as fh:
        csv_scores = {r["student_id"]: r["score"] for r in csv.DictReader(fh)}
    assert {s: float(v) for s, v in csv_scores.items() if v} == SCORES
    [failed] = data["failed"]
    assert failed["student"] == "hal" and failed["assignment"] == "01_alpha"
    assert "alpha.ipynb is not valid notebook JSON" in failed["reasons"][0]
    assert data["flagged"] == []
    assert "class report: " in synthetic["log"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_synthetic_class_page(synthetic):
    page = synthetic["html"]
    assert not re.search(r"https?://", page)
    assert "<script" not in page.lower() and "<b>no</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;script&gt;" in page
    assert "&lt;b&gt;no&lt;/b&gt; &amp; &quot;more&quot;" in page
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) == 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in imgs)
    assert len(re.findall(r"<img ", page)) == 2   # no other image, no other source
    assert ("relu: It returns |x|: negative inputs must become 0, not positive: "
            "<b>3 students</b>: ann, bob, cat") in page
    assert ("linear_param_count: You forgot the bias: one per output feature: "
            "<b>2 students</b>: dan, eve") in page
    assert "<td>hal</td><td>01_alpha</td>" in page
