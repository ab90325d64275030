"""A two-assignment demo course and a synthetic class, to try the grader on.

``make_demo_course(root)`` writes an nbgrader course (``solutions/`` with
``01_alpha/alpha.ipynb`` and ``02_beta/beta.ipynb``, each with two graded
functions and hidden tests); ``make_demo_class(course_root, out)`` writes
submissions in nbgrader's layout ``<student>/<assignment>/<notebook>.ipynb``
for students that are honest, blank, buggy, faulty or cheating, built
from the release in ``course/``. The tests and the grading benchmark use
them; an instructor can use them to see what the grader reports.
"""

from __future__ import annotations

import copy
import json
import os
import textwrap

__all__ = ["make_demo_course", "make_demo_class", "DEMO_STUDENTS", "DEMO_CONFIG"]

DEMO_CONFIG = '''"""nbgrader configuration of the demo course."""
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.CourseDirectory.course_id = "demo-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ExecutePreprocessor.timeout = 120
'''

_IMPORTS = "import numpy as np\nfrom lessonlib.checks import Case, run_cases"


def _src(text):
    return textwrap.dedent(text).strip("\n")


def _cell(kind, source, grade_id=None, points=None, solution=False, locked=False):
    cell = {"cell_type": kind, "id": grade_id or "",
            "metadata": {}, "source": _src(source)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if grade_id:
        cell["metadata"]["nbgrader"] = {
            "grade": points is not None, "grade_id": grade_id, "locked": locked,
            "schema_version": 3, "solution": solution, "task": False}
        if points is not None:
            cell["metadata"]["nbgrader"]["points"] = points
    return cell


def _notebook(cells):
    for i, c in enumerate(cells):  # stable, unique cell ids
        c["id"] = c["id"] or f"cell-{i}"
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def _alpha():
    return _notebook([
        _cell("markdown", "# Alpha: two element-wise functions", "intro", locked=True),
        _cell("code", _IMPORTS, "imports", locked=True),
        _cell("markdown", "Implement `relu(x)`: the element-wise maximum of `x` and 0."),
        _cell("code", '''
            def relu(x):
                """Rectified linear unit of an array."""
                ### BEGIN SOLUTION
                return np.maximum(x, 0.0)
                ### END SOLUTION
            ''', "relu-impl", solution=True),
        _cell("code", '''
            """relu matches lessonlib.relu (2 points)."""
            from lessonlib import relu as _ref_relu
            run_cases("relu", relu, _ref_relu, [Case((np.array([-2.0, 0.0, 3.0]),), description="x = [-2, 0, 3]")])
            ### BEGIN HIDDEN TESTS
            run_cases("relu", relu, _ref_relu, [Case((np.linspace(-1.0, 1.0, 12).reshape(3, 4),), description="a 3x4 grid")])
            ### END HIDDEN TESTS
            ''', "relu-test", points=2, locked=True),
        _cell("markdown", "Implement `clip01(x)`: clip every value into [0, 1]."),
        _cell("code", '''
            def clip01(x):
                """Clip an array into [0, 1]."""
                ### BEGIN SOLUTION
                return np.clip(x, 0.0, 1.0)
                ### END SOLUTION
            ''', "clip-impl", solution=True),
        _cell("code", '''
            """clip01 matches np.clip(x, 0, 1) (1 point)."""
            _ref_clip = lambda x: np.clip(x, 0.0, 1.0)
            run_cases("clip01", clip01, _ref_clip, [Case((np.array([-0.5, 0.5, 1.5]),), description="x = [-0.5, 0.5, 1.5]")]);
            ### BEGIN HIDDEN TESTS
            run_cases("clip01", clip01, _ref_clip, [Case((np.linspace(-2.0, 2.0, 9),), description="9 values in [-2, 2]")]);
            ### END HIDDEN TESTS
            ''', "clip-test", points=1, locked=True),
    ])


def _beta():
    return _notebook([
        _cell("markdown", "# Beta: counting", "intro", locked=True),
        _cell("code", _IMPORTS, "imports", locked=True),
        _cell("code", '''
            def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
                """Length of a convolution's output along one axis."""
                ### BEGIN SOLUTION
                return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
                ### END SOLUTION
            ''', "size-impl", solution=True),
        _cell("code", '''
            """conv_output_size matches lessonlib's (3 points)."""
            from lessonlib import conv_output_size as _ref_size
            run_cases("conv_output_size", conv_output_size, _ref_size, [Case((7, 3), description="n=7, k=3")]);
            ### BEGIN HIDDEN TESTS
            run_cases("conv_output_size", conv_output_size, _ref_size, [Case((10, 3), dict(stride=2, padding=1), description="n=10, k=3, stride 2, padding 1"), Case((9, 3), dict(dilation=2), description="n=9, k=3, dilation 2")]);
            ### END HIDDEN TESTS
            ''', "size-test", points=3, locked=True),
        _cell("code", '''
            def count_params(c_in, c_out, k):
                """Weights and biases of a k x k convolution layer."""
                ### BEGIN SOLUTION
                return c_out * (c_in * k * k + 1)
                ### END SOLUTION
            ''', "params-impl", solution=True),
        _cell("code", '''
            """count_params counts weights and biases (1 point)."""
            _ref_params = lambda c_in, c_out, k: c_out * (c_in * k * k + 1)
            run_cases("count_params", count_params, _ref_params, [Case((3, 8, 3), description="3 -> 8 channels, 3x3")]);
            ### BEGIN HIDDEN TESTS
            run_cases("count_params", count_params, _ref_params, [Case((1, 1, 1), description="1 -> 1, 1x1"), Case((16, 32, 5), description="16 -> 32, 5x5")]);
            ### END HIDDEN TESTS
            ''', "params-test", points=1, locked=True),
    ])


def make_demo_course(root):
    """Write the demo course (config and ``solutions/``) into ``root``.

    Returns
    -------
    str
        ``root``, made absolute.
    """
    root = os.path.abspath(root)
    for name, nb in (("01_alpha/alpha", _alpha()), ("02_beta/beta", _beta())):
        path = os.path.join(root, "solutions", name + ".ipynb")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(nb, fh, indent=1)
    with open(os.path.join(root, "nbgrader_config.py"), "w") as fh:
        fh.write(DEMO_CONFIG)
    return root


# ----------------------------------------------------------------- the class --

def _solution(grade_id, body):
    """The source of a solution cell: the function's def line and ``body``."""
    heads = {
        "relu-impl": "def relu(x):",
        "clip-impl": "def clip01(x):",
        "size-impl": "def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):",
        "params-impl": "def count_params(c_in, c_out, k):",
    }
    return heads[grade_id] + "\n" + textwrap.indent(_src(body), "    ")


_GOOD = {
    "relu-impl": "return np.maximum(x, 0.0)",
    "clip-impl": "return np.clip(x, 0.0, 1.0)",
    "size-impl": "return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1",
    "params-impl": "return c_out * (c_in * k * k + 1)",
}

# What each student does, per assignment: a dict of changes (see _apply).
#   honest   correct, with numpy, np.pad, print, a plot, %matplotlib
#   blank    the release as it is;  buggy  one wrong function per assignment
#   warner   correct, but warns and prints on stderr
#   looper   an infinite loop;  stubborn  a loop that ignores the interrupt
#   crasher  exits the kernel;  mangler  duplicated + deleted cells, truncated JSON
#   misnamer a renamed notebook, extra notebook and numpy.py
#   patcher  patches lessonlib's comparison / redefines run_cases
#   hijacker empties cells with an input transformer / custom exception handler,
#            excepthook, captured stderr, ExecutionResult.success forced
#   reader   reads the instructor's notebook / the gradebook from the kernel
#   copier   calls lessonlib's reference (directly / through importlib)
DEMO_STUDENTS = {
    "honest": {
        "01_alpha": {"solve": _GOOD, "append": [
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nx = np.linspace(-2, 2, 9)\n"
            "plt.plot(x, relu(x))\nprint('relu of', x, 'is', relu(x))"]},
        "02_beta": {"solve": {**_GOOD, "size-impl": (
            "padded = np.pad(np.zeros(n), padding)\n"
            "span = dilation * (kernel_size - 1) + 1\n"
            "return (len(padded) - span) // stride + 1")}},
    },
    "blank": {"01_alpha": {}, "02_beta": {}},
    "buggy": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": "return np.abs(x)"}},
        "02_beta": {"solve": {**_GOOD, "size-impl": "return (n + 2 * padding - kernel_size) / stride + 1"}},
    },
    "warner": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": (
            "import warnings, sys\nwarnings.warn('relu: about to clip negatives')\n"
            "print('debug: x has', np.size(x), 'values', file=sys.stderr)\n"
            "return np.maximum(x, 0.0)")}},
        "02_beta": {"solve": _GOOD},
    },
    "looper": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": "while True:\n    pass"}},
        "02_beta": {"solve": _GOOD},
    },
    "crasher": {
        "01_alpha": {"solve": {**_GOOD, "clip-impl": "import os\nos._exit(1)"}},
        "02_beta": {"solve": _GOOD},
    },
    "stubborn": {   # no 01_alpha at all; a loop that ignores the interrupt
        "02_beta": {"solve": {**_GOOD, "size-impl": (
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
            "    pass")}},
    },
    "mangler": {
        "01_alpha": {"solve": {k: v for k, v in _GOOD.items() if k != "clip-impl"},
                     "delete": ["relu-test"], "duplicate": {"clip-impl": _GOOD["clip-impl"]}},
        "02_beta": {"truncate": True},
    },
    "misnamer": {
        "01_alpha": {"solve": _GOOD, "filename": "alpha (1).ipynb"},
        "02_beta": {"solve": _GOOD, "extra_files": {"scratch.ipynb": "{}",
                                                    "numpy.py": "allclose = None\n"}},
    },
    "patcher": {
        "01_alpha": {"extra": [
            "import lessonlib.checks._core as core\ncore.compare = lambda *a, **k: None\n"
            "core.call_student = lambda fn, name, case: None"]},
        "02_beta": {"extra": ["run_cases = lambda *args, **kwargs: 1"]},
    },
    "hijacker": {
        "01_alpha": {"extra": [
            "get_ipython().input_transformers_cleanup.append(lambda lines: [])"]},
        "02_beta": {"extra": [
            "ip = globals()['get_' + 'ipython']()\n"
            "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
            "import sys, io\nsys.excepthook = lambda *a: None\nsys.stderr = io.StringIO()\n"
            "from IPython.core import interactiveshell as _s\n"
            "_s.ExecutionResult.success = property(lambda self: True)"]},
    },
    "reader": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": (
            "import os, json, glob\n"
            "found = []\n"
            "for base in ('../../..', os.environ.get('OLDPWD', '.'), os.environ.get('PWD', '.'),\n"
            "             os.readlink('/proc/%d/cwd' % os.getppid())):\n"
            "    found += glob.glob(os.path.join(base, '*', '01_alpha', 'alpha.ipynb'))\n"
            "nb = json.load(open(found[0]))\n"
            "src = [''.join(c['source']) for c in nb['cells'] if 'def relu' in ''.join(c['source'])]\n"
            "ns = {'np': np}\nexec(src[0], ns)\nreturn ns['relu'](x)")}},
        "02_beta": {"solve": {**_GOOD, "params-impl": (
            "import os, sqlite3\n"
            "db = os.path.join(os.readlink('/proc/%d/cwd' % os.getppid()), 'gradebook.db')\n"
            "sqlite3.connect(db).execute('select * from grade').fetchall()\n"
            "return c_out * (c_in * k * k + 1)")}},
    },
    "copier": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": (
            "from lessonlib import relu as _r\nreturn _r(x)")}},
        "02_beta": {"solve": {**_GOOD, "size-impl": (
            "import importlib\nm = importlib.import_module('less' + 'onlib')\n"
            "return getattr(m, 'conv_output_' + 'size')(n, kernel_size, stride, padding, dilation)")}},
    },
}


def _source(cell):
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _apply(nb, plan):
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    for c in cells:
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in plan.get("solve", {}):
            c["source"] = _solution(gid, plan["solve"][gid])
    for gid, body in plan.get("duplicate", {}).items():
        i = next(k for k, c in enumerate(cells)
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)
        first = copy.deepcopy(cells[i])
        first["source"] = _solution(gid, body)   # solved in the copy, the original left as is
        first["id"] = cells[i]["id"] + "-copy"
        cells.insert(i, first)
    for gid in plan.get("delete", []):
        cells[:] = [c for c in cells
                    if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != gid]
    for i, src in enumerate(plan.get("extra", [])):   # right after the imports
        cells.insert(2 + i, {"cell_type": "code", "id": f"student-{i}", "metadata": {},
                             "execution_count": None, "outputs": [], "source": src})
    for i, src in enumerate(plan.get("append", [])):  # at the end
        cells.append({"cell_type": "code", "id": f"student-end-{i}", "metadata": {},
                      "execution_count": None, "outputs": [], "source": src})
    return nb


def make_demo_class(course_root, out, students=None):
    """Write the synthetic class's submissions into ``out``.

    Parameters
    ----------
    course_root : str
        A demo course whose release (``course/``) has been generated.
    out : str
        Folder to create: ``out/<student>/<assignment>/<notebook>.ipynb``.
    students : sequence of str, optional
        Names from :data:`DEMO_STUDENTS` (all by default).

    Returns
    -------
    list of str
        The students written.
    """
    names = list(students or DEMO_STUDENTS)
    for student in names:
        for assignment, plan in DEMO_STUDENTS[student].items():
            nbname = assignment.split("_", 1)[1]
            with open(os.path.join(course_root, "course", assignment, nbname + ".ipynb")) as fh:
                release = json.load(fh)
            folder = os.path.join(out, student, assignment)
            os.makedirs(folder, exist_ok=True)
            text = json.dumps(_apply(release, plan), indent=1)
            if plan.get("truncate"):
                text = text[: len(text) // 2]
            with open(os.path.join(folder, plan.get("filename", nbname + ".ipynb")), "w") as fh:
                fh.write(text)
            for fname, content in plan.get("extra_files", {}).items():
                with open(os.path.join(folder, fname), "w") as fh:
                    fh.write(content)
    return names
