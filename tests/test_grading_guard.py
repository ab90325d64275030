"""The in-kernel guard (run in a plain Python process) and the nbgrader preprocessors."""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os, subprocess, sys
    import numpy as np
    import lessonlib
    from lessonlib import grading_guard as guard
    from lessonlib.checks._core import Case, CheckFailed, run_cases
    deny, scratch = sys.argv[1], sys.argv[2]
    guard.install(deny=[deny], allow=[scratch])
    out = {"clean": json.loads(guard.report())}

    def attempt(label, fn):
        try:
            fn()
            out[label] = "allowed"
        except PermissionError as exc:
            out[label] = str(exc)

    attempt("read", lambda: open(os.path.join(deny, "solutions", "secret.ipynb")).read())
    attempt("relative", lambda: open(os.path.join(scratch, "..", "course", "solutions",
                                                  "secret.ipynb")).read())
    attempt("list", lambda: os.listdir(deny))
    attempt("link", lambda: os.symlink(deny, os.path.join(scratch, "link")))
    attempt("scratch", lambda: open(os.path.join(scratch, "mine.txt"), "w").write("ok"))
    attempt("process", lambda: subprocess.run(["true"]))
    attempt("library", lambda: open(lessonlib.__file__).read())

    # honest use of the reference outside a check, and an honest student function
    lessonlib.relu(np.ones(2))
    def relu(x):
        return np.maximum(x, 0.0)
    run_cases("relu", relu, lessonlib.relu, [Case((np.array([-1.0, 2.0]),))], quiet=True)
    out["honest"] = json.loads(guard.report())

    # a student function that calls the reference it must implement
    def relu(x):
        return lessonlib.relu(x)
    run_cases("relu", relu, lessonlib.relu, [Case((np.array([-1.0, 2.0]),))], quiet=True)
    out["copied"] = json.loads(guard.report())

    np.allclose = lambda *a, **k: True
    import lessonlib.checks._core as core
    core.compare = lambda *a, **k: None
    sys.excepthook = print
    out["patched"] = json.loads(guard.report())
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    base = tmp_path_factory.mktemp("guard")
    course = base / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "solutions" / "secret.ipynb").write_text("{}")
    scratch = base / "scratch"
    scratch.mkdir()
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(course), str(scratch)],
                          capture_output=True, text=True, cwd=str(scratch), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_clean_process_reports_nothing(guarded):
    assert guarded["clean"] == {"tampered": [], "reference": [], "denied": []}


@pytest.mark.parametrize("attempt", ["read", "relative", "list", "link", "process"])
def test_instructor_files_and_processes_are_out_of_reach(guarded, attempt):
    assert guarded[attempt].startswith("grading sandbox:")


def test_the_scratch_folder_and_the_library_stay_usable(guarded):
    assert guarded["scratch"] == "allowed"
    assert guarded["library"] == "allowed"


def test_refused_operations_are_recorded(guarded):
    denied = guarded["patched"]["denied"]
    assert any(d.startswith("open ") and d.endswith("secret.ipynb") for d in denied)
    assert any("subprocess.Popen" in d for d in denied)


def test_honest_code_and_demos_of_the_reference_are_not_reported(guarded):
    assert guarded["honest"]["reference"] == []
    assert guarded["honest"]["tampered"] == []


def test_calling_the_reference_in_place_of_the_function_is_reported(guarded):
    assert guarded["copied"]["reference"] == [
        "relu called lessonlib's reference relu while being checked"]


def test_patched_comparisons_and_hooks_are_reported(guarded):
    tampered = guarded["patched"]["tampered"]
    assert "numpy.allclose was replaced" in tampered
    assert "lessonlib.checks._core.compare was replaced" in tampered
    assert "sys.excepthook was changed" in tampered


# -- preprocessors ---------------------------------------------------------------

def _grade_cell(source, outputs):
    from nbformat.v4 import new_code_cell
    cell = new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 2,
                                 "solution": False, "locked": True, "schema_version": 3}
    return cell


def test_grade_cells_keep_their_points_with_stderr_or_a_shown_value():
    from nbformat.v4 import new_output
    from nbgrader.utils import determine_grade
    from lessonlib.grading_nbgrader import GradeCellOutputs
    cell = _grade_cell("check(f)", [
        new_output("stream", name="stderr", text="RuntimeWarning: overflow\n"),
        new_output("execute_result", data={"text/plain": "1"}, execution_count=3)])
    assert determine_grade(cell) == (0, 2)          # nbgrader alone: 0 for the warning
    cell, _ = GradeCellOutputs().preprocess_cell(cell, {}, 0)
    assert determine_grade(cell) == (2, 2)
    assert [o["output_type"] for o in cell.outputs] == ["stream", "display_data"]
    failing = _grade_cell("check(f)", [new_output("error", ename="CheckFailed", evalue="no",
                                                  traceback=[])])
    failing, _ = GradeCellOutputs().preprocess_cell(failing, {}, 0)
    assert determine_grade(failing) == (0, 2)       # negative control: errors still fail


def test_feedback_loses_hidden_tests_and_their_tracebacks():
    from nbformat.v4 import new_output
    from lessonlib.grading_nbgrader import HideHiddenTests
    src = ("check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, hidden=True)\n"
           "### END HIDDEN TESTS\nprint('done')")
    cell = _grade_cell(src, [new_output(
        "error", ename="CheckFailed", evalue="f is wrong for x of shape (2, 3)",
        traceback=["----> 3 check(f, hidden=True)", "CheckFailed: f is wrong"])])
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert cell.source == "check(f)\nprint('done')"
    assert cell.outputs[0]["traceback"] == ["CheckFailed: f is wrong for x of shape (2, 3)"]
