"""Grade cells decided by the grader: every check of the course through the wire.

While grading, a check runs in the grader and calls the student's function
in the kernel through :class:`lessonlib.grading.verdict.RemoteObject`. These
tests connect the two ends in one process (a *loopback* link: the kernel's
side is :mod:`lessonlib.grading.in_kernel`, evaluated in a namespace that
holds the solution's functions) and show that, for every grade cell of
the course, a check reaches the same verdict, with the same message, as
when it calls the function directly: the solutions pass, and known-wrong
variants fail with the same diagnosis.
"""

import ast
import glob
import json
import os

import numpy as np
import pytest

import lessonlib.checks as checks
from lessonlib.checks import CheckFailed
from lessonlib.grading import in_kernel
from lessonlib.grading.in_kernel import WireError, decode, encode
from lessonlib.grading.verdict import (KernelLink, RemoteObject, UnsupportedGradeCell,
                                       hidden_seed, parse_grade_cell)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "solutions", "*", "*.ipynb")))


def loopback(namespace):
    """A link whose 'kernel' is ``in_kernel`` evaluating in ``namespace``."""
    return KernelLink(lambda expr: eval(expr, namespace))  # noqa: S307 - test harness


def _definitions(path):
    """The imports, functions and classes of a notebook's code cells, executed."""
    ns = {"__name__": "__main__"}
    with open(path) as fh:
        nb = json.load(fh)
    for cell in nb["cells"]:
        nbg = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] != "code" or nbg.get("grade"):
            continue
        src = "\n".join(ln for ln in "".join(cell["source"]).splitlines()
                        if not ln.lstrip().startswith(("%", "!")))   # IPython magics
        tree = ast.parse(src)
        keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom,
                                                       ast.FunctionDef, ast.ClassDef))]
        exec(compile(ast.Module(keep, []), path, "exec"), ns)  # noqa: S102 - test harness
    return ns, nb


def _grade_calls():
    out = []
    for path in NOTEBOOKS:
        with open(path) as fh:
            nb = json.load(fh)
        for cell in nb["cells"]:
            nbg = cell["metadata"].get("nbgrader", {})
            if nbg.get("grade"):
                for call in parse_grade_cell("".join(cell["source"])):
                    out.append(pytest.param(path, call, id=f"{nbg['grade_id']}-"
                                            f"{'hidden' if call.hidden else 'visible'}"))
    return out


CALLS = _grade_calls()
_NS = {}


def _namespace(path):
    if path not in _NS:
        _NS[path] = _definitions(path)[0]
    return _NS[path]


def test_every_grade_cell_of_the_course_is_check_calls():
    assert len(CALLS) >= 60   # 31 grade cells, a visible and a hidden call each
    names = {c.values[1].check for c in CALLS}
    assert all(callable(getattr(checks, n)) for n in names)


@pytest.mark.parametrize("path, call", CALLS)
def test_solution_passes_through_the_wire(path, call, capsys):
    ns = _namespace(path)
    check = getattr(checks, call.check)
    remote = loopback(ns).resolve(call.target)
    assert isinstance(remote, RemoteObject) and remote.__name__ == call.target
    check(remote, hidden=call.hidden, seed=12345 if call.hidden else 0)
    assert "\N{CHECK MARK}" in capsys.readouterr().out


def _mutants(fn):
    """Plausible wrong versions of ``fn``: forgets to return, returns its input,
    changes its first array in place, crashes."""
    def returns_none(*a, **k):
        fn(*a, **k)

    def returns_first_argument(*a, **k):
        return a[0] if a else None

    def edits_input(*a, **k):
        out = fn(*a, **k)
        for v in a:
            if isinstance(v, np.ndarray) and v.size and v.dtype.kind == "f":
                v[...] = v + 1.0
                break
        return out

    def crashes(*a, **k):
        return {}["no such key"]

    return [returns_none, returns_first_argument, edits_input, crashes]


def _verdict(check, fn, hidden):
    try:
        check(fn, hidden=hidden, seed=7)
    except CheckFailed as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("path, call", [c for c in CALLS if not c.values[1].hidden])
def test_wrong_functions_get_the_same_diagnosis_through_the_wire(path, call, capsys):
    ns = dict(_namespace(path))
    check = getattr(checks, call.check)
    solution = eval(call.target, ns)  # noqa: S307
    failed = 0
    for k, mutant in enumerate(_mutants(solution)):
        ns[f"_mutant_{k}"] = mutant
        local = _verdict(check, mutant, call.hidden)
        remote = _verdict(check, loopback(ns).resolve(f"_mutant_{k}"), call.hidden)
        # the student's own line is quoted the same way; only the frame text may differ
        assert (local is None) == (remote is None), (mutant.__name__, local, remote)
        if local is not None:
            failed += 1
            if " at 0x" in local or "in the student's kernel" in remote:
                continue   # an object's description: the kernel's repr is not sent
            assert remote == local, mutant.__name__
    assert failed >= 2   # a check that cannot fail is a defect


# ------------------------------------------------------------ the wire format --

@pytest.mark.parametrize("value", [
    None, True, 0, -3, 2 ** 70, 1.5, float("nan"), float("inf"), "text", (1, (2, 3)), [1, [2]],
    {"a": 1, "b": [1.0]}, np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(2.5),
    np.int64(7), np.zeros((0, 3)), np.array([True, False]), np.array(1 + 2j)])
def test_data_round_trips_with_types_kept(value):
    back = decode(encode(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value


@pytest.mark.parametrize("text, why", [
    ("[" * 100_000 + "]" * 100_000, "nested|deep"),
    ('{"__nd__": ["|O", [1], "AA=="]}', "dtype"),
    ('{"__nd__": ["<f8", [1000000000, 1000000000], ""]}', "too large"),
    ('{"__nd__": ["<f8", [2], "AAAA"]}', "does not match"),
    ('{"__pickle__": "gASV"}', "unknown"),
    ('{"__obj__": ["os:system", {}]}', "not accepted"),
    ('{"__obj__": ["lessonlib.checks._core:Case", {}]}', "not accepted"),
    ("not json", "not valid JSON"),
    ("x" * (in_kernel.MAX_BYTES + 1), "too long"),
])
def test_hostile_messages_are_refused(text, why):
    with pytest.raises(WireError, match=why):
        decode(text)


def test_objects_that_are_not_data_are_refused_without_a_keeper():
    with pytest.raises(WireError, match="cannot be sent"):
        encode(object())
    with pytest.raises(WireError, match="cannot be sent"):
        encode(np.array([object()]))


def test_a_forged_answer_is_only_data():
    link = KernelLink(lambda expr: '{"ok": {"__pickle__": "x"}}')
    with pytest.raises(Exception, match="refused"):
        link.resolve("anything")


# ---------------------------------------------------------- grade cell parsing --

def test_grade_cell_parsing_accepts_the_course_form():
    calls = parse_grade_cell('"""doc"""\nfrom lessonlib.checks import check_relu\n'
                             "check_relu(relu)\n### BEGIN HIDDEN TESTS\n"
                             "check_relu(relu, hidden=True, seed=3)\n")
    assert [(c.check, c.target, c.hidden, c.seed) for c in calls] == [
        ("check_relu", "relu", False, 0), ("check_relu", "relu", True, 3)]


@pytest.mark.parametrize("source", [
    "assert relu(1) == 1", "check_relu(relu, hidden=flag)", "check_relu(lambda x: x)",
    "check_relu(relu, tolerance=1)", "import os", "x = 1", "check_relu(relu) +",
    "print(check_relu(relu))"])
def test_grade_cells_that_would_decide_in_the_kernel_are_refused(source):
    with pytest.raises(UnsupportedGradeCell):
        parse_grade_cell(source)


def test_hidden_seeds_differ_by_student_and_cell_and_need_the_secret():
    a = hidden_seed("s3cret", "alice", "01_alpha", "alpha", "relu-test", 1)
    assert a == hidden_seed("s3cret", "alice", "01_alpha", "alpha", "relu-test", 1)
    others = {hidden_seed("s3cret", "bob", "01_alpha", "alpha", "relu-test", 1),
              hidden_seed("s3cret", "alice", "01_alpha", "alpha", "other-test", 1),
              hidden_seed("other", "alice", "01_alpha", "alpha", "relu-test", 1)}
    assert a not in others and len(others) == 3
    assert 0 <= a < 2 ** 31


def test_different_seeds_give_different_hidden_inputs():
    seen = {}
    for seed in (1, 2):
        inputs = []

        def relu(x, _inputs=inputs):
            _inputs.append(np.asarray(x).copy())
            return np.maximum(x, 0)
        checks.check_relu(relu, hidden=True, seed=seed)
        seen[seed] = inputs
    assert any(a.shape != b.shape or not np.array_equal(a, b)
               for a, b in zip(seen[1], seen[2]))


def test_the_kernel_reports_forbidden_calls_it_made():
    ns = {"np": np}
    exec("def convolve1d(x, k, mode='full'):\n    return np.convolve(x, k, mode)", ns)
    remote = loopback(ns).resolve("convolve1d")
    with pytest.raises(CheckFailed, match="calls numpy.convolve"):
        checks.check_convolve1d(remote)


def test_a_numerical_gradient_by_formula_is_refused_through_the_wire():
    """The test function travels without its gradient; the kernel's call count comes back."""
    ns = {"np": np}
    exec("def numerical_gradient(f, x, eps=1e-6):\n    return f.c * np.cos(x) + x", ns)
    with pytest.raises(CheckFailed, match="never evaluated f"):
        checks.check_numerical_gradient(loopback(ns).resolve("numerical_gradient"))
    assert not hasattr(checks.fixtures.Smooth(np.ones(2)), "grad")
