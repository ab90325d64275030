"""The grading kernel's lessonlib: graded references blocked, everything else working.

For every assignment of the course, :func:`build_overlay` is given the
checks its grade cells call; then, in a fresh Python whose PYTHONPATH is
the overlay, the blocked references raise ReferenceUnavailable however
they are reached (and say so on stderr), what is not blocked still
computes, the instructor's functions pass every check of the assignment
when they run against the overlay (the grader's checks calling them over
the wire, as while grading), and the solution notebook runs without its
grade cells (which a grading kernel never runs) with no error and no
blocked call.
"""

import glob
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lessonlib
from lessonlib.grading.references import (
    DISPLAY_ORACLES, GRADED_FAMILIES, NEVER_BLOCKED, PERMITTED, REFERENCE_MARK,
    blocked_modules, build_overlay, overlay_plan)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def grade_cells(folder):
    for path in sorted(glob.glob(str(ROOT / "solutions" / folder / "*.ipynb"))):
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            nbg = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and nbg.get("grade"):
                src = cell["source"]
                yield "".join(src) if isinstance(src, list) else src


def checks_of(folder):
    """The check names the grade cells of ``solutions/<folder>`` call."""
    return sorted({name for src in grade_cells(folder) for name in re.findall(r"\bcheck_\w+", src)})


def clean_env(**extra):
    """The environment of a subprocess: no coverage hooks, no inherited PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COV_", "COVERAGE")) and k != "PYTHONPATH"}
    env.update(extra)
    return env


def run_in_overlay(overlay, code, cwd):
    """Run ``code`` in a fresh Python whose lessonlib is the overlay; return the result."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          env=clean_env(PYTHONPATH=str(overlay)), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def overlays(tmp_path_factory):
    """Assignment -> (overlay folder, checks); built once per test module."""
    base = tmp_path_factory.mktemp("overlays")
    out = {}
    for a in ASSIGNMENTS:
        checks = checks_of(a)
        out[a] = (Path(build_overlay(base / a, checks, a)), checks)
    return out


# ------------------------------------------------------------------ the tables

def test_every_check_of_the_course_has_a_family():
    used = {c for a in ASSIGNMENTS for c in checks_of(a)}
    assert used, "no grade cell found"
    missing = sorted(used - set(GRADED_FAMILIES))
    assert missing == [], f"add these checks to GRADED_FAMILIES: {missing}"


def test_families_name_checks_and_modules_that_exist():
    import lessonlib.checks as checks
    import importlib
    for check, family in {**GRADED_FAMILIES}.items():
        assert hasattr(checks, check), check
        for module in family:
            importlib.import_module(f"lessonlib.{module}")
            assert module not in NEVER_BLOCKED, (check, module)
    for check, names in list(DISPLAY_ORACLES.items()) + list(PERMITTED.items()):
        assert check in GRADED_FAMILIES
        for dotted in names:
            module, name = dotted.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(f"lessonlib.{module}"), name))


def test_an_unknown_check_must_be_decided_first():
    with pytest.raises(ValueError, match="GRADED_FAMILIES"):
        blocked_modules(["check_conv2d", "check_something_new"])
    assert blocked_modules([]) == []
    assert blocked_modules(["check_vertical_edge_kernel"]) == []


def test_permitted_only_when_every_blocking_check_permits_it():
    assert overlay_plan(["check_grouped_conv2d"])["permitted"] == {"conv.conv2d": "groups=1"}
    # the restrictions of every check add up, whatever their order
    for checks in (["check_grouped_conv2d", "check_dilated_conv2d"],
                   ["check_dilated_conv2d", "check_pointwise_conv2d", "check_grouped_conv2d"]):
        assert overlay_plan(checks)["permitted"] == {"conv.conv2d": "groups=1, dilation=1"}
    # check_conv2d blocks conv without permitting conv2d: no restricted version then
    assert overlay_plan(["check_grouped_conv2d", "check_conv2d"])["permitted"] == {}


def test_display_stand_ins_only_in_modules_that_stay():
    plan = overlay_plan(["check_conv_output_size"])
    assert "viz.windows.plot_sliding_window" in plan["display"]
    assert "viz.windows" not in plan["blocked"]
    assert overlay_plan(["check_conv2d"])["display"] == []


def test_overlay_layout(tmp_path):
    dest = build_overlay(tmp_path / "k", ["check_conv2d"], "03_channels")
    root = Path(dest) / "lessonlib"
    assert dest == str(tmp_path / "k")
    assert not list(root.rglob("__pycache__"))
    assert sorted(p.name for p in (root / "grading").iterdir()) == ["__init__.py", "in_kernel.py"]
    assert "import" not in (root / "grading" / "__init__.py").read_text()
    assert (root / "checks" / "_core.py").read_text() == \
        (ROOT / "lessonlib" / "checks" / "_core.py").read_text()
    # a second build replaces the first
    build_overlay(tmp_path / "k", ["check_relu"], "04_relu_pooling")
    assert "Stand-in" not in (root / "conv.py").read_text()
    assert "Stand-in" in (root / "activations.py").read_text()


# ---------------------------------------------- blocked references, per assignment

# One call per reference module: (module, modules it needs besides, expression). When
# the module or one it needs is blocked, the call must raise ReferenceUnavailable;
# otherwise it must give what the real lessonlib gives (the negative control).
_CONV_NEEDS = {"fast.im2col", "arithmetic"}
SAMPLES = [
    ("arithmetic", set(), "lessonlib.conv_output_size(7, 3, stride=2, padding=1)"),
    ("signal", set(), "lessonlib.correlate2d(X2, K2).round(9).tolist()"),
    ("padding", set(), "lessonlib.pad2d(X2, (1, 0, 2, 1)).tolist()"),
    ("conv", _CONV_NEEDS, "lessonlib.conv2d(X4, W4[:, :1].repeat(2, 1), padding=1)"
                          ".round(9).tolist()"),
    ("conv", _CONV_NEEDS, "lessonlib.conv2d(X4, W4, padding=1, groups=2).round(9).tolist()"),
    ("conv", _CONV_NEEDS, "[g.round(9).tolist() for g in lessonlib.conv2d_backward(D4, X4, "
                          "W4.repeat(2, 1))]"),
    ("loops.conv", {"arithmetic"}, "lessonlib.loops.conv.conv2d_loops(X4, W4.repeat(2, 1))"
                                   ".round(9).tolist()"),
    ("conv_transpose", {"conv"} | _CONV_NEEDS,
     "lessonlib.conv_transpose2d(X4, W4T, stride=2).round(9).tolist()"),
    ("nn.conv", {"conv"} | _CONV_NEEDS,
     "lessonlib.Conv2d(2, 3, 3, rng=0)(X4).round(9).tolist()"),
    ("pooling", {"arithmetic"}, "lessonlib.max_pool2d(X4, 2).round(9).tolist()"),
    ("pooling", {"arithmetic"},
     "lessonlib.avg_pool2d_backward(np.ones((1, 2, 2, 2)), X4, 2).tolist()"),
    ("loops.pooling", {"pooling", "arithmetic"},
     "lessonlib.loops.pooling.max_pool2d_loops(X4, 2).round(9).tolist()"),
    ("activations", set(), "lessonlib.relu(X2).tolist()"),
    ("activations", set(), "lessonlib.softmax(X2).round(9).tolist()"),
    ("linear", set(), "lessonlib.linear(X2, X2, X2[0]).round(9).tolist()"),
    ("linear", set(), "lessonlib.flatten(X4).shape"),
    ("losses", {"activations"}, "round(float(lessonlib.cross_entropy(X2, [0, 1, 2, 3])), 9)"),
    ("nn.layers", {"activations"}, "lessonlib.ReLU()(X2).tolist()"),
    ("nn.layers", {"linear"}, "lessonlib.Linear(4, 2, rng=0)(X2).round(9).tolist()"),
    ("gradcheck", set(), "lessonlib.numerical_gradient(lambda a: float((a ** 2).sum()), X2)"
                         ".round(6).tolist()"),
    ("optim", {"nn.layers", "linear"},
     "type(lessonlib.SGD(lessonlib.Linear(2, 2, rng=0), lr=0.1)).__name__"),
    ("train", {"nn.layers", "nn.conv", "activations", "linear", "pooling"} | {"conv"}
     | _CONV_NEEDS, "lessonlib.make_digits_cnn(rng=0)(X8).round(9).tolist()"),
    ("data", set(), "lessonlib.load_digits('test')[0].shape"),
    ("checks.channels", set(),
     "lessonlib.checks.channels.linear_param_count_reference(3, 2)"),
    ("checks.beyond", set(), "lessonlib.checks.beyond._rf([3, 3], [1, 2])"),
    ("checks.lenet", set(), "lessonlib.checks.lenet._accuracy(X2, [0, 1, 2, 3])"),
    ("loops.pooling", {"pooling", "arithmetic"}, "lessonlib.loops.pooling.pool2d_backward_loops("
                                                 "np.ones((1, 2, 2, 2)), X4, 2).tolist()"),
]

PRELUDE = """
import importlib, json
import numpy as np
import lessonlib, lessonlib.checks
X2 = np.arange(16.0).reshape(4, 4) / 7 - 1
K2 = np.array([[1.0, -2.0], [0.5, 3.0]])
X4 = np.arange(32.0).reshape(1, 2, 4, 4) / 9 - 1.5
W4 = np.arange(18.0).reshape(2, 1, 3, 3) / 5 - 1
W4T = np.arange(36.0).reshape(2, 2, 3, 3) / 5 - 3
D4 = np.arange(8.0).reshape(1, 2, 2, 2) - 3
X8 = np.linspace(0, 1, 128).reshape(2, 1, 8, 8)
"""

SAMPLE_SCRIPT = PRELUDE + """
results = []
for module, expr in {samples!r}:
    try:
        importlib.import_module("lessonlib." + module)
        value = eval(expr)
        results.append(["ok", json.loads(json.dumps(value, default=list))])
    except Exception as exc:
        results.append(["error", type(exc).__name__ + ": " + str(exc)[:300]])
print("RESULTS" + json.dumps(results))
"""


def _sample_results(res):
    assert res.returncode == 0, res.stderr[-3000:]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULTS")][0]
    return json.loads(line[len("RESULTS"):])


@pytest.fixture(scope="module")
def real_results(tmp_path_factory):
    """What the real lessonlib gives for SAMPLES."""
    code = SAMPLE_SCRIPT.format(samples=[(m, e) for m, _, e in SAMPLES])
    res = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), env=clean_env(),
                         capture_output=True, text=True, timeout=300)
    results = _sample_results(res)
    assert all(r[0] == "ok" for r in results), results
    return results


def _expect_ok(module, needs, expr, blocked, permitted):
    if "conv.conv2d" in permitted and module == "conv" and expr.startswith("lessonlib.conv2d(") \
            and "groups" not in expr:
        return not ({"arithmetic"} & blocked)    # the restricted conv2d needs nothing else
    return not ({module} | needs) & blocked


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blocked_modules_raise_and_the_others_compute(assignment, overlays, real_results,
                                                      tmp_path):
    overlay, checks = overlays[assignment]
    blocked = set(blocked_modules(checks))
    permitted = overlay_plan(checks)["permitted"]
    code = (f"import lessonlib\nassert lessonlib.__file__.startswith({str(overlay)!r})\n"
            + SAMPLE_SCRIPT.format(samples=[(m, e) for m, _, e in SAMPLES]))
    got = _sample_results(run_in_overlay(overlay, code, cwd=tmp_path))
    for (module, needs, expr), real, mine in zip(SAMPLES, real_results, got):
        if _expect_ok(module, needs, expr, blocked, permitted):
            assert mine == real, (assignment, expr, mine)
        else:
            assert mine[0] == "error" and mine[1].startswith("ReferenceUnavailable"), \
                (assignment, expr, mine)
            assert f"while {assignment} is graded" in mine[1], mine


BLOCKED_SCRIPT = """
import ast, gc, importlib, importlib.util, inspect, os, sys
import lessonlib, lessonlib.checks, lessonlib.viz
from lessonlib._unavailable import ReferenceUnavailable
overlay, real_dir, assignment = {overlay!r}, {real_dir!r}, {assignment!r}
every, own, top, permitted = {every!r}, {own!r}, {top!r}, {permitted!r}
assert lessonlib.__file__.startswith(overlay), lessonlib.__file__


def raises(f):
    try:
        f()
    except ReferenceUnavailable as exc:
        assert f"while {{assignment}} is graded" in str(exc), str(exc)
        return True
    return False


checked = 0
for module in every:
    mod = importlib.import_module("lessonlib." + module)
    path = mod.__file__
    assert path.startswith(overlay), path
    source = open(path, encoding="utf-8").read()
    # the stub's source holds no function, class or lambda: assignments and imports only
    tree = ast.parse(source)
    assert not [n for n in ast.walk(tree) if isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))], path
    for name in every[module]:       # every module-level name of the real module is there
        assert hasattr(mod, name), (module, name)
        assert "def " + name + "(" not in source and "class " + name not in source
    reloaded = importlib.reload(mod)
    again = importlib.import_module("lessonlib." + module)
    spec = importlib.util.spec_from_file_location("copy_of_" + module.replace(".", "_"), path)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    namespace = {{"__name__": "exec_of_" + module}}
    exec(compile(source, path, "exec"), namespace)
    for name in own[module]:
        if module + "." + name in permitted:
            continue
        ways = [getattr(mod, name), getattr(reloaded, name), getattr(again, name),
                getattr(copy, name), namespace[name]]
        if name in top[module]:
            ways.append(getattr(lessonlib, name))
        for obj in ways:
            assert raises(obj), (module, name, obj)
            checked += 1
        obj = ways[0]
        if inspect.isclass(obj):      # a stub class still works with isinstance, subclassing
            assert not isinstance(3, obj)
            assert raises(type("Sub", (obj,), {{}}))
# none of the real code is in this process: no module, no function from the real folder
assert not [m for m in list(sys.modules.values())
            if (getattr(m, "__file__", None) or "").startswith(real_dir)]
assert not [o for o in gc.get_objects()
            if inspect.isfunction(o) and o.__code__.co_filename.startswith(real_dir)]
print("CHECKED", checked)
"""


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_blocked_name_raises_however_it_is_reached(assignment, overlays, tmp_path):
    import importlib
    overlay, checks = overlays[assignment]
    plan = overlay_plan(checks)
    every, own, top = {}, {}, {}
    for module in plan["blocked"]:
        real = importlib.import_module(f"lessonlib.{module}")
        every[module] = sorted(n for n in vars(real) if not (n.startswith("__") and n.endswith("__"))
                               and n != "annotations")
        own[module] = [n for n in every[module] if callable(getattr(real, n))
                       and getattr(getattr(real, n), "__module__", None) == real.__name__]
        top[module] = [n for n in own[module] if getattr(lessonlib, n, None) is getattr(real, n)]
    code = BLOCKED_SCRIPT.format(overlay=str(overlay), real_dir=str(ROOT / "lessonlib") + os.sep,
                                 assignment=assignment, every=every, own=own, top=top,
                                 permitted=sorted(plan["permitted"]))
    res = run_in_overlay(overlay, code, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    checked = int(res.stdout.split("CHECKED")[1])
    assert (checked > 0) == bool(plan["blocked"])
    if plan["blocked"]:
        assert REFERENCE_MARK in res.stderr


def test_a_cheating_conv2d_is_refused_and_reported(overlays, tmp_path):
    overlay, _ = overlays["03_channels"]
    res = run_in_overlay(overlay, """
        import importlib, numpy as np
        import lessonlib
        from lessonlib import conv2d as reference
        from lessonlib._unavailable import ReferenceUnavailable

        def conv2d(x, weight, bias=None, stride=1, padding=0):
            for f in (reference, importlib.import_module("lessonlib.loops.conv").conv2d_loops,
                      lambda *a, **k: lessonlib.Conv2d(1, 1, 3)(a[0])):
                try:
                    return f(x, weight, bias, stride=stride, padding=padding)
                except ReferenceUnavailable:
                    pass
            return None

        print("RESULT", conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))))
        """, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "RESULT None" in res.stdout
    marks = [ln for ln in res.stderr.splitlines() if ln.startswith(REFERENCE_MARK)]
    assert marks == [f"{REFERENCE_MARK} lessonlib.conv.conv2d (notebook)",
                     f"{REFERENCE_MARK} lessonlib.loops.conv.conv2d_loops (notebook)",
                     f"{REFERENCE_MARK} lessonlib.nn.conv.Conv2d (notebook)"]


def test_the_mark_says_where_the_call_came_from(overlays, tmp_path):
    """A graded call of the student's function, a check run in a cell, or a cell's own code."""
    overlay, _ = overlays["01_convolution"]
    res = run_in_overlay(overlay, """
        import numpy as np
        import lessonlib
        from lessonlib.grading import in_kernel
        from lessonlib.checks import check_correlate2d

        def conv2d(x, weight, bias=None, stride=1, padding=0):
            return lessonlib.conv2d(x, weight, bias, stride=stride, padding=padding)

        answer = in_kernel.decode(in_kernel.call(conv2d, in_kernel.encode(
            {"args": [np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))], "kwargs": {}})))
        print("ANSWER", answer["error"]["type"])
        try:
            check_correlate2d(lambda image, kernel: image)
        except Exception as exc:
            print("CHECK", type(exc).__name__)
        try:
            lessonlib.correlate2d(np.ones((3, 3)), np.ones((2, 2)))
        except RuntimeError:
            pass
        """, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ANSWER ReferenceUnavailable" in res.stdout
    marks = [ln for ln in res.stderr.splitlines() if ln.startswith(REFERENCE_MARK)]
    assert marks[0] == f"{REFERENCE_MARK} lessonlib.conv.conv2d (graded-call)"
    assert marks[1] == f"{REFERENCE_MARK} lessonlib.signal.correlate2d (check)"
    assert marks[-1] == f"{REFERENCE_MARK} lessonlib.signal.correlate2d (notebook)"
    # the grader's parser reads the dotted name
    from lessonlib.grading.preprocessors import REFERENCE_MARK as GRADER_MARK
    assert re.findall(GRADER_MARK + r" ([\w.]{1,100})", res.stderr)[0] == "lessonlib.conv.conv2d"


def test_every_stub_has_its_own_code_object(overlays, tmp_path):
    """Profilers and in_kernel's forbidden-call watch tell stubs apart by code object."""
    overlay, _ = overlays["06_backprop"]
    res = run_in_overlay(overlay, """
        import lessonlib
        names = ["conv2d", "conv2d_backward", "relu", "linear", "max_pool2d", "Sequential"]
        codes = [getattr(lessonlib, n).__code__ if not isinstance(getattr(lessonlib, n), type)
                 else getattr(lessonlib, n).__new__.__code__ for n in names]
        assert len(set(map(id, codes))) == len(codes)
        assert [c.co_name for c in codes] == names, [c.co_name for c in codes]
        print("OK")
        """, cwd=tmp_path)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_the_message_names_the_graded_function(overlays, tmp_path):
    overlay, _ = overlays["03_channels"]
    res = run_in_overlay(overlay, """
        import lessonlib
        try:
            lessonlib.conv2d(1, 2)
        except RuntimeError as exc:
            print(type(exc).__name__, exc)
        """, cwd=tmp_path)
    assert res.stdout.strip() == (
        "ReferenceUnavailable lessonlib.conv2d is not available while 03_channels is graded: "
        "your conv2d and conv2d_fast must compute their results themselves.")


def test_permitted_conv2d_is_ordinary_convolution_only(overlays, tmp_path):
    overlay, _ = overlays["08_beyond"]
    rng = np.random.default_rng(0)
    cases = []
    for dtype in ("float64", "float32"):
        for stride, padding, dilation, bias in [(1, 0, 1, False), (2, 1, 1, True),
                                                ((2, 1), (0, 2), (2, 1), True),
                                                (1, "same", 2, False), (1, "full", 1, True),
                                                (3, "valid", 1, False)]:
            x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
            w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
            b = rng.standard_normal(4).astype(dtype) if bias else None
            kw = dict(stride=stride, padding=padding, dilation=dilation)
            ref = lessonlib.conv2d(x, w, b, **kw)
            cases.append((x.tolist(), w.tolist(), None if b is None else b.tolist(), dtype,
                          kw, ref.tolist(), str(ref.dtype)))
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases))
    res = run_in_overlay(overlay, f"""
        import json, numpy as np, lessonlib
        from lessonlib._unavailable import ReferenceUnavailable
        for x, w, b, dtype, kw, ref, ref_dtype in json.load(open({str(data)!r})):
            x, w = np.array(x, dtype), np.array(w, dtype)
            b = None if b is None else np.array(b, dtype)
            if kw["dilation"] != 1:       # 08's dilated_conv2d: an ordinary convolution only
                try:
                    lessonlib.conv2d(x, w, b, **kw)
                    raise SystemExit("dilation not refused")
                except ReferenceUnavailable as exc:
                    assert "is not" in str(exc) and "dilation=" in str(exc), exc
                    print("NO-DILATION")
                continue
            out = lessonlib.conv2d(x, w, b, **kw)
            assert str(out.dtype) == ref_dtype, (out.dtype, ref_dtype)
            tol = 1e-4 if dtype == "float32" else 1e-10
            assert np.allclose(out, ref, rtol=tol, atol=tol), kw
        x = np.ones((1, 4, 5, 5))
        for call in (lambda: lessonlib.conv2d(x, np.ones((4, 2, 3, 3)), groups=2),
                     lambda: lessonlib.depthwise_separable_conv2d(x, x, x),
                     lambda: lessonlib.conv2d_backward(x, x, x),
                     lambda: lessonlib.conv_transpose2d(x, np.ones((4, 1, 3, 3)))):
            try:
                call()
                raise SystemExit("not blocked")
            except ReferenceUnavailable as exc:
                print("REFUSED", exc)
        """, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("REFUSED") == 4 and res.stdout.count("NO-DILATION") == 4
    assert "groups=2 is not" in res.stdout
    assert f"{REFERENCE_MARK} lessonlib.conv.conv2d" in res.stderr


def test_display_stand_ins_draw_nothing_and_report_nothing(overlays, tmp_path):
    overlay, _ = overlays["02_padding_stride"]
    res = run_in_overlay(overlay, """
        import lessonlib
        from lessonlib import viz
        from lessonlib.checks import conv_arithmetic_drills, drill_feedback
        drills = conv_arithmetic_drills(seed=2)
        assert len(drills) == 8 and "question" in drills[0]
        assert viz.plot_sliding_window(5, 3, 1, 1) is None
        assert viz.plot_coverage(6, 3, paddings=(0, 1)) is None
        assert viz.sliding_window_explorer(n=7) is None
        assert drill_feedback(drills, {1: 3}) is None
        assert viz.show_values([[1.0, 2.0]]) is not None          # other figures still draw
        try:
            viz.windows.conv_output_size(5, 3)
        except RuntimeError as exc:
            print("BLOCKED", type(exc).__name__)
        """, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "BLOCKED ReferenceUnavailable" in res.stdout
    assert res.stderr.count(REFERENCE_MARK) == 1


# -------------------------------------- the solutions pass with the kernel's lessonlib

WIRE_SERVER = r"""
import ast, json, os, struct, sys
out = os.fdopen(os.dup(1), "wb")          # answers; anything printed goes to stderr
os.dup2(2, 1)
ns = {"__name__": "__main__"}
nb = json.load(open(sys.argv[1]))
for cell in nb["cells"]:                  # imports, functions, classes: as grading/test_verdict
    if cell["cell_type"] != "code" or cell["metadata"].get("nbgrader", {}).get("grade"):
        continue
    src = "\n".join(ln for ln in "".join(cell["source"]).splitlines()
                    if not ln.lstrip().startswith(("%", "!")))
    keep = [n for n in ast.parse(src).body
            if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
    exec(compile(ast.Module(keep, []), sys.argv[1], "exec"), ns)
import lessonlib
assert lessonlib.__file__.startswith(sys.argv[2]), lessonlib.__file__
while True:
    head = sys.stdin.buffer.read(8)
    if len(head) < 8:
        break
    expr = sys.stdin.buffer.read(struct.unpack(">Q", head)[0]).decode()
    try:
        answer = b"+" + str(eval(expr, ns)).encode()
    except BaseException as exc:
        answer = b"-" + repr(exc).encode()
    out.write(struct.pack(">Q", len(answer)) + answer)
    out.flush()
"""


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_pass_every_check_with_the_kernels_lessonlib(assignment, overlays, tmp_path):
    """The grader's checks, the instructor's functions in a process that has the overlay."""
    import struct

    import lessonlib.checks as checks
    from lessonlib.grading.verdict import KernelLink, parse_grade_cell

    overlay, _ = overlays[assignment]
    (path,) = glob.glob(str(ROOT / "solutions" / assignment / "*.ipynb"))
    stderr_path = tmp_path / "kernel-stderr.txt"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", WIRE_SERVER, path, str(overlay)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                cwd=tmp_path, env=clean_env(PYTHONPATH=str(overlay),
                                                            MPLBACKEND="Agg"))

    def ask(expr):
        data = expr.encode()
        proc.stdin.write(struct.pack(">Q", len(data)) + data)
        proc.stdin.flush()
        head = proc.stdout.read(8)
        assert len(head) == 8, stderr_path.read_text()[-3000:]
        answer = proc.stdout.read(struct.unpack(">Q", head)[0]).decode()
        assert answer[0] == "+", answer
        return answer[1:]

    try:
        link, n = KernelLink(ask), 0
        for src in grade_cells(assignment):
            for call in parse_grade_cell(src):
                getattr(checks, call.check)(link.resolve(call.target), hidden=call.hidden,
                                            seed=12345 if call.hidden else 0)
                n += 1
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert n == 2 * len(checks_of(assignment))
    assert REFERENCE_MARK not in stderr_path.read_text()


# ------------------------------------------------------- the notebooks' own cells

def _execute_without_grade_cells(folder, overlay, tmp_path):
    """Run the solution notebook of ``folder`` as a grading kernel would, minus grade cells."""
    import nbformat
    from nbclient import NotebookClient

    (path,) = glob.glob(str(ROOT / "solutions" / folder / "*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))]
    nb.cells.append(nbformat.v4.new_code_cell("import lessonlib\nprint('LESSONLIB', lessonlib.__file__)"))
    stderr_path = tmp_path / "kernel-stderr.txt"
    env = clean_env(PYTHONPATH=str(overlay), NBGRADER_EXECUTION="autograde",
                    PYTHONDONTWRITEBYTECODE="1")
    with open(stderr_path, "w") as stderr:
        client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(Path(path).parent)}})
        client.execute(env=env, stderr=stderr)
    return nb, stderr_path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_notebook_needs_no_blocked_reference(assignment, overlays, tmp_path):
    overlay, _ = overlays[assignment]
    nb, stderr = _execute_without_grade_cells(assignment, overlay, tmp_path)
    errors, marks = [], []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(f"cell {i}: {out.ename}: {out.evalue}")
            text = out.get("text", "") if out.output_type == "stream" else ""
            if REFERENCE_MARK in text:
                marks.append(f"cell {i}: {text.strip()}")
    assert errors == []
    assert marks == [] and REFERENCE_MARK not in stderr, (marks, stderr[-2000:])
    # the kernel did use the overlay
    assert nb.cells[-1].outputs[0].text.strip() == f"LESSONLIB {overlay / 'lessonlib' / '__init__.py'}"
