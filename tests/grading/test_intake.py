"""The grader's intake and static audit, on notebooks built in memory (no kernel)."""

import copy
import json
import zipfile

import pytest

from lessonlib.grading.audit import audit_notebook
from lessonlib.grading.course import Course
from lessonlib.grading.demo import make_demo_course
from lessonlib.grading.intake import hidden_test_lines, normalise, read_submissions


def _code(src, grade_id=None, solution=False, grade=False, locked=False, cid=None):
    cell = {"cell_type": "code", "id": cid or grade_id or "x", "metadata": {},
            "execution_count": None, "outputs": [], "source": src}
    if grade_id:
        cell["metadata"]["nbgrader"] = {"grade_id": grade_id, "solution": solution,
                                        "grade": grade, "locked": locked, "schema_version": 3}
    return cell


STUB = "def relu(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
RELEASE = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    _code("import numpy as np\nfrom lessonlib.checks import Case, run_cases, check_relu\n"
          "from lessonlib import load_digits", "imports", locked=True),
    _code(STUB, "relu-impl", solution=True),
    _code("from lessonlib import relu as _ref\nrun_cases('relu', relu, _ref, [])",
          "relu-test", grade=True, locked=True),
]}


def submission(solution="def relu(x):\n    return np.maximum(x, 0)", *extra):
    nb = copy.deepcopy(RELEASE)
    nb["cells"][1]["source"] = solution
    for i, src in enumerate(extra):
        nb["cells"].append(_code(src, cid=f"s{i}"))
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return Course.load(make_demo_course(tmp_path_factory.mktemp("course")))


def release_of(course):
    rel = {}
    for a, nbs in course.assignments.items():
        rel[a] = {}
        for nb in nbs:
            with open(course.path(course.source_dir, a, nb + ".ipynb")) as fh:
                rel[a][nb] = json.load(fh)
    return rel


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


# -- names and hidden tests ----------------------------------------------------

def test_normalise_ignores_case_copy_marks_and_punctuation():
    assert normalise("Alpha (1).ipynb") == normalise("alpha-Copy1") == "alpha"
    assert normalise("02_Beta") == "02beta"
    assert normalise("alphabet.ipynb") != "alpha"


def test_hidden_test_lines_are_the_lines_between_the_delimiters():
    src = "a = 1\n### BEGIN HIDDEN TESTS\ncheck(f, hidden=True)\n\n### END HIDDEN TESTS\nb"
    assert hidden_test_lines(src) == ["check(f, hidden=True)"]
    assert hidden_test_lines("no hidden part") == []


# -- intake --------------------------------------------------------------------

def test_layout_renames_invalid_json_and_extras(course, tmp_path):
    alpha = json.loads(open(course.path("solutions", "01_alpha", "alpha.ipynb")).read())
    subs = tmp_path / "subs"
    write(subs / "ann" / "01_alpha" / "alpha.ipynb", alpha)
    write(subs / "bob" / "01_alpha" / "Alpha (1).ipynb", alpha)
    write(subs / "cat" / "alpha.ipynb", alpha)                       # outside its folder
    write(subs / "dan" / "01_Alpha" / "alpha.ipynb", alpha)           # folder case
    write(subs / "eve" / "01_alpha" / "alpha.ipynb", '{"cells": [')   # truncated
    write(subs / "fay" / "01_alpha" / "notes.ipynb", alpha)
    write(subs / "fay" / "01_alpha" / "alpha.ipynb", alpha)
    write(subs / "fay" / "01_alpha" / "lessonlib.py", "x = 1")
    write(subs / "fay" / "01_alpha" / "figure.png", "png")
    write(subs / "gus" / "01_alpha" / "alpha.ipynb", {"not": "a notebook"})
    beta = json.loads(open(course.path("solutions", "02_beta", "beta.ipynb")).read())
    write(subs / "hal" / "02_beta" / "other.ipynb", beta)
    write(subs / "readme.txt", "hello")
    intake = read_submissions(str(subs), str(tmp_path / "work"), course, release_of(course))
    s = intake.submissions
    assert intake.students == ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"]
    assert s["ann", "01_alpha"].notebooks == ["alpha"] and s["ann", "01_alpha"].flags == []
    assert s["bob", "01_alpha"].flags == ["Alpha (1).ipynb graded as alpha.ipynb"]
    assert s["cat", "01_alpha"].flags == ["alpha.ipynb was outside its assignment folder"]
    assert s["dan", "01_alpha"].flags == ["folder '01_Alpha' graded as 01_alpha"]
    assert not s["eve", "01_alpha"].gradable
    assert "not valid notebook JSON" in s["eve", "01_alpha"].failures["alpha"]
    assert s["fay", "01_alpha"].notebooks == ["alpha"]
    assert s["fay", "01_alpha"].flags == [
        "extra notebook notes.ipynb not graded",
        "extra file lessonlib.py ignored (it could shadow a module)"]
    assert "not a Jupyter notebook" in s["gus", "01_alpha"].failures["alpha"]
    # a single unexpected notebook is taken for the one expected
    assert s["hal", "02_beta"].flags == ["other.ipynb graded as beta.ipynb"]
    assert any("readme.txt" in line for line in intake.ignored)
    prepared = tmp_path / "work" / "fay" / "01_alpha"
    assert sorted(p.name for p in prepared.iterdir()) == ["alpha.ipynb"]


def test_zip_with_a_top_folder_and_unsafe_members(course, tmp_path):
    alpha = open(course.path("solutions", "01_alpha", "alpha.ipynb")).read()
    zpath = tmp_path / "class.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("submitted/ann/01_alpha/alpha.ipynb", alpha)
        zf.writestr("submitted/bob/02_beta/beta.ipynb", "{}")
        zf.writestr("../escape.txt", "no")
        zf.writestr("__MACOSX/submitted/._ann", "junk")
    intake = read_submissions(str(zpath), str(tmp_path / "work"), course, release_of(course))
    assert intake.students == ["ann", "bob"]
    assert intake.submissions["ann", "01_alpha"].gradable
    assert not (tmp_path / "escape.txt").exists()


def test_duplicated_cells_keep_the_last_edited_copy_and_deleted_tests_are_noted(
        course, tmp_path):
    rel = release_of(course)
    nb = copy.deepcopy(rel["01_alpha"]["alpha"])
    cells = nb["cells"]
    impl = next(i for i, c in enumerate(cells)
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu-impl")
    stub_src = "def relu(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    rel["01_alpha"]["alpha"]["cells"][impl]["source"] = stub_src
    solved = copy.deepcopy(cells[impl])
    solved["source"] = "def relu(x):\n    return x * (x > 0)"
    stub = copy.deepcopy(cells[impl])
    stub["source"] = stub_src
    cells[impl:impl + 1] = [solved, stub]                         # solved, then the stub
    tests = [c["metadata"]["nbgrader"]["grade_id"] for c in cells
             if c["metadata"].get("nbgrader", {}).get("grade")]
    gone = tests[-1]
    cells[:] = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id")
                != gone]                                           # a deleted test
    write(tmp_path / "subs" / "ann" / "01_alpha" / "alpha.ipynb", nb)
    intake = read_submissions(str(tmp_path / "subs"), str(tmp_path / "work"), course, rel)
    sub = intake.submissions["ann", "01_alpha"]
    assert sub.flags == [
        "cell relu-impl appeared 2 times; graded the last edited copy",
        f"test cell {gone} was deleted; restored from the source and graded"]
    out = json.loads((tmp_path / "work" / "ann" / "01_alpha" / "alpha.ipynb").read_text())
    kept = [c for c in out["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu-impl"]
    assert [c["source"] for c in kept] == ["def relu(x):\n    return x * (x > 0)"]
    ids = [c["id"] for c in out["cells"]]
    assert len(ids) == len(set(ids))


# -- static audit --------------------------------------------------------------

REFERENCE = {"relu", "conv2d", "pad2d", "load_digits"}


def audit(*cells, solution="def relu(x):\n    return np.maximum(x, 0)"):
    return audit_notebook(submission(solution, *cells), RELEASE, REFERENCE)


def test_honest_code_is_not_flagged():
    assert audit() == []
    assert audit("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])",
                 "print(relu(np.arange(3)))\nx = np.pad(np.ones(3), 1)",
                 "import warnings, sys, time\nwarnings.warn('w')\nprint('e', file=sys.stderr)",
                 "%%time\nfrom lessonlib.checks import check_relu\ny = relu(np.ones(2))",
                 "%timeit relu(np.ones(3))\ndigits = load_digits()",
                 solution="def relu(x):\n    out = np.pad(x, 0)\n    return np.where(out > 0, out, 0)"
                 ) == []


def test_an_unedited_release_is_not_flagged():
    assert audit_notebook(RELEASE, RELEASE, REFERENCE) == []


@pytest.mark.parametrize("code, expected", [
    ("from lessonlib import relu as r\ndef relu(x):\n    return r(x)",
     "imports lessonlib's reference relu, the function it must implement"),
    ("import lessonlib\ndef relu(x):\n    return lessonlib.relu(x)",
     "calls lessonlib's reference relu, the function it must implement"),
    ("import lessonlib as L\ndef relu(x):\n    return L.conv2d(x)",
     "calls lessonlib's reference conv2d (the notebook does not provide it)"),
    ("from lessonlib.conv import *", "imports everything from lessonlib.conv"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "rebinds numpy.allclose"),
    ("import numpy\nnumpy.testing.assert_allclose = print",
     "rebinds numpy.testing.assert_allclose"),
    ("setattr(np, 'isclose', None)", "setattr on numpy"),
    ("vars(np)['isclose'] = None", "rebinds numpy"),
    ("import lessonlib.checks._core as c\nc.compare = print", "rebinds lessonlib.checks._core.compare"),
    ("def run_cases(*a, **k):\n    pass", "redefines run_cases, which the tests call"),
    ("check_relu = lambda *a, **k: None", "redefines check_relu, which the tests call"),
    ("import fakenp as np", "binds np to something other than the numpy module"),
    ("get_ipython().input_transformers_cleanup.append(lambda lines: [])", "uses get_ipython()"),
    ("ip = globals()['get_' + 'ipython']()", "manipulates the notebook's global namespace"),
    ("from IPython import get_ipython", "imports IPython"),
    ("import sys\nsys.excepthook = print", "rebinds sys.excepthook"),
    ("import sys, io\nsys.stdout = io.StringIO()", "rebinds sys.stdout"),
    ("import sys\nsys.modules['lessonlib.checks'] = None", "uses sys.modules"),
    ("%%capture out\nprint(1)", "uses the IPython cell magic %%capture"),
    ("!cat ../../../solutions/01/a.ipynb", "runs a shell command"),
    ("import os\nos.listdir('..')", "imports os"),
    ("text = open('../../gradebook.db').read()", "opens a file"),
    ("import sqlite3", "imports sqlite3"),
    ("exec('x = 1')", "executes code built at run time"),
    ("m = __import__('less' + 'onlib')", "imports a module by name at run time"),
    ("import importlib\nm = importlib.import_module('lessonlib')", "imports importlib"),
    ("import gc\ngc.get_objects()", "imports gc"),
    ("f = relu.__globals__", "uses interpreter internals (__globals__)"),
    ("import ctypes", "imports ctypes"),
    ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", "imports signal"),
    ("exit()", "ends the kernel"),
])
def test_cheat_patterns_are_flagged(code, expected):
    found = audit(code)
    assert any(expected in f for f in found), found


def test_findings_name_the_cell():
    found = audit(solution="def relu(x):\n    import lessonlib\n    return lessonlib.relu(x)")
    assert found == ["relu-impl: calls lessonlib's reference relu, the function it must implement"]
    assert audit("import os")[0].startswith("cell 4: ")


def test_code_that_does_not_parse_is_not_flagged():
    assert audit("def broken(:\n    pass") == []
