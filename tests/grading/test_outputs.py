"""What a grading run leaves in OUT: nothing lost, nothing stale, nothing dangerous.

No kernel runs here: the pool's jobs are the fakes of ``grading_fakes`` (a
gradebook made by nbgrader, rows written with SQL), so each test takes a
second or two. Covered: one run per OUT (the lock), results swapped in
only when complete (crashes, Ctrl-C, SIGTERM, SIGKILL at every step of the
swap), nothing left running or lying around, reruns byte-identical,
spreadsheet formulas and terminal escapes defused, tampered gradebooks
refused, a dead worker costing one student, and the sandbox switch.
Every defence has a negative control: the same situation without it.
"""

import contextlib
import csv
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace

import pytest

import grading_fakes as fakes
from lessonlib.cli import main
from lessonlib.grading import report
from lessonlib.grading import run as grun
from lessonlib.grading import sandbox
from lessonlib.grading.course import nbgrader_env
from lessonlib.grading.demo import make_demo_course

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(TESTS))
NOTEBOOKS = {"01_alpha": "alpha", "02_beta": "beta"}
FULL = {"01_alpha": "3", "02_beta": "4"}
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def g(tmp_path, monkeypatch, template_db):
    """A demo course, a class, an OUT, and the fake jobs in place."""
    fakes.install(monkeypatch)
    tmp = tmp_path / "tmp"
    pids = tmp_path / "pids"
    tmp.mkdir()
    pids.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("LESSONLIB_FAKE_TEMPLATE", template_db)
    monkeypatch.setenv("LESSONLIB_FAKE_PIDS", str(pids))
    monkeypatch.setenv("LESSONLIB_FAKE_SLEEP", "60")
    ns = SimpleNamespace(course=make_demo_course(tmp_path / "course"), subs=tmp_path / "subs",
                         out=tmp_path / "out", tmp=tmp, pids=pids, lines=[], root=tmp_path,
                         echo=None)

    def students(*sids, notebook=None):
        for sid in sids:
            for a, nb in NOTEBOOKS.items():
                folder = ns.subs / sid / a
                folder.mkdir(parents=True, exist_ok=True)
                name = notebook if notebook and a == "01_alpha" else nb + ".ipynb"
                shutil.copy(os.path.join(ns.course, "solutions", a, nb + ".ipynb"),
                            folder / name)

    def grade(**kw):
        kw.setdefault("jobs", 2)
        return grun.grade(str(ns.subs), str(ns.out), root=ns.course,
                          echo=lambda line: (ns.echo or ns.lines.append)(line), **kw)

    def cli(*args):
        return main(["--course", ns.course, "grade", str(ns.subs), "--out", str(ns.out), *args])

    ns.students, ns.grade, ns.cli = students, grade, cli
    return ns


def snapshot(folder):
    """Every folder and file under ``folder``, with the bytes of the files."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        found[os.path.relpath(dirpath, folder) + "/"] = None
        for f in filenames:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, folder)] = fh.read()
    return found


def leftovers(g):
    """Staging, set-aside and lock files in OUT; work folders in the temporary folder."""
    out = [n for n in os.listdir(g.out) if n.startswith(".lessonlib")] if g.out.exists() else []
    return out + [n for n in os.listdir(g.tmp) if n.startswith("lessonlib-grade-")]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def by_key(rows):
    return {(r["student_id"], r["assignment"]): r for r in rows}


def alive(pid):
    """Whether ``pid`` runs (a zombie is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def open_files():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
    return found


def wait_dead(pids, seconds=5):
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in pids if alive(p)]


def slow_pids(g, count=1, seconds=20):
    """The worker and kernel pids the slow fakes wrote, once ``count`` of them have."""
    deadline = time.monotonic() + seconds
    while len(os.listdir(g.pids)) < count or any(n.startswith(".") for n in os.listdir(g.pids)):
        assert time.monotonic() < deadline, "the slow fake never started"
        time.sleep(0.02)
    pids = []
    for name in os.listdir(g.pids):
        with open(g.pids / name) as fh:
            info = json.load(fh)
        pids += [info["worker"], info["kernel"]]
    return pids


def previous_results(g):
    """A first, complete run, plus a file of the instructor's in OUT; returns OUT's snapshot."""
    g.students("ann", "bob")
    g.grade()
    (g.out / "notes.txt").write_text("my notes")
    (g.out / "mine").mkdir()
    (g.out / "mine" / "plot.png").write_bytes(b"\x89PNG")
    return snapshot(g.out)


# ----------------------------------------------------------------------------------------
# a run


def test_a_run_writes_every_output_and_nothing_else(g):
    before = previous_results(g)
    assert sorted(os.listdir(g.out)) == sorted(grun._OUTPUTS + ("mine", "notes.txt"))
    g.students("cat")
    rows = g.grade()
    assert [(r["student_id"], r["status"]) for r in rows] == [
        ("ann", "graded"), ("ann", "graded"), ("bob", "graded"), ("bob", "graded"),
        ("cat", "graded"), ("cat", "graded")]
    assert sorted(os.listdir(g.out)) == sorted(grun._OUTPUTS + ("mine", "notes.txt"))
    assert (g.out / "notes.txt").read_text() == "my notes"
    assert (g.out / "mine" / "plot.png").read_bytes() == before["mine/plot.png"]
    assert (g.out / "feedback" / "cat" / "01_alpha" / "alpha.html").exists()
    assert (g.out / "logs" / "cat.log").exists()
    assert leftovers(g) == []


# ----------------------------------------------------------------------------------------
# one run per OUT

HOLD = """
import sys, time
from lessonlib.grading.run import _OutLock
lock = _OutLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def hold_lock(out):
    out.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_on_the_same_out_is_refused(g, capsys):
    before = previous_results(g)
    holder = hold_lock(g.out)
    try:
        # negative control: the holder's lock is real, a plain flock fails too
        import fcntl
        fd = os.open(g.out / grun.LOCK_NAME, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
        capsys.readouterr()
        assert g.cli() == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lessonlib grade: error: another grading run is writing to "
                              f"{g.out} (pid {holder.pid}, started at ")
        assert err.rstrip().endswith("; wait for it or choose another --out")
        assert err.count("\n") == 1
        after = snapshot(g.out)
        assert after.pop(grun.LOCK_NAME)      # the holder's file is left to the holder
        assert after == before
    finally:
        holder.kill()
        holder.wait()
    assert [n for n in os.listdir(g.tmp) if n.startswith("lessonlib-grade-")] == []


def test_a_lock_left_by_a_killed_run_does_not_block(g, capsys):
    g.students("ann")
    holder = hold_lock(g.out)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (g.out / grun.LOCK_NAME).exists()   # the stale file is there
    assert str(holder.pid) in (g.out / grun.LOCK_NAME).read_text()
    assert g.cli() == 0, capsys.readouterr().err
    assert (g.out / "grades.csv").exists()
    assert leftovers(g) == []                    # and the lock file is removed at the end


def test_out_cannot_be_the_course_folder(g, capsys):
    g.students("ann")
    db = os.path.join(g.course, "gradebook.db")
    with open(db, "wb") as fh:
        fh.write(b"the course's own gradebook")
    assert main(["--course", g.course, "grade", str(g.subs), "--out", g.course]) == 2
    assert "is the course folder" in capsys.readouterr().err
    assert open(db, "rb").read() == b"the course's own gradebook"
    # negative control: another folder is fine
    assert main(["--course", g.course, "grade", str(g.subs), "--out", str(g.out)]) == 0


def test_runs_one_after_the_other_are_fine(g):
    g.students("ann")
    g.grade()
    g.grade()
    assert leftovers(g) == []


# ----------------------------------------------------------------------------------------
# a run that does not finish changes nothing


class Boom(RuntimeError):
    pass


def _crash_in_intake(monkeypatch, g):
    def intake(*a, **k):
        raise Boom("intake")
    monkeypatch.setattr(grun, "read_submissions", intake)


def _crash_while_grading(monkeypatch, g):
    def echo(line):
        if line.startswith("[1/"):
            raise Boom("grading")
    g.echo = echo


def _crash_in_merge(monkeypatch, g):
    def merge(*a, **k):
        raise Boom("merge")
    monkeypatch.setattr(grun.gradebook, "merge", merge)


def _crash_in_export(monkeypatch, g):
    monkeypatch.setattr(grun, "export_grades", fakes.export_fails)


def _crash_after_write(monkeypatch, g):
    real = report.write

    def write(run, rows, results):
        real(run, rows, results)
        # the new grades.csv is complete, in the staging folder, and differs from OUT's
        new = os.path.join(run.staging, "grades.csv")
        assert open(new, "rb").read() != (g.out / "grades.csv").read_bytes()
        raise Boom("write")
    monkeypatch.setattr(report, "write", write)


def _crash_in_swap(monkeypatch, g):
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == 8:            # old outputs aside, two new ones in
            raise OSError(28, "No space left on device")
        return real(src, dst)
    monkeypatch.setattr(grun.os, "rename", rename)


CRASHES = {"intake": _crash_in_intake, "grading": _crash_while_grading,
           "merge": _crash_in_merge, "export": _crash_in_export, "write": _crash_after_write,
           "swap": _crash_in_swap}


@pytest.mark.parametrize("where", list(CRASHES))
def test_a_crash_leaves_the_previous_results_byte_identical(g, where):
    before = previous_results(g)
    workers_before = multiprocessing.active_children()
    g.students("cat", "dan", "reader")
    with pytest.MonkeyPatch.context() as mp:
        CRASHES[where](mp, g)
        with pytest.raises((Boom, OSError, RuntimeError)):
            g.grade()
    assert snapshot(g.out) == before
    assert leftovers(g) == []
    assert multiprocessing.active_children() == workers_before
    g.echo = None   # negative control: the same run, finishing, changes OUT
    g.grade()
    assert (g.out / "grades.csv").read_bytes() != before["grades.csv"]
    assert len(read_csv(g.out / "grades.csv")) == 10


def test_ctrl_c_while_students_are_graded_changes_nothing_and_kills_the_workers(g):
    before = previous_results(g)
    g.students("ann-slow", "cat", "dan")
    pids, held, workers_before = [], [], multiprocessing.active_children()

    def echo(line):
        if line.startswith("[1/"):
            pids.extend(slow_pids(g))
            assert all(alive(p) for p in pids)
            held.append([f for f in open_files() if grun.LOCK_NAME in f])
            raise KeyboardInterrupt
    g.echo = echo
    with pytest.raises(KeyboardInterrupt):
        g.grade()
    assert len(pids) == 2
    assert wait_dead(pids) == []   # the busy worker and its "kernel", in another session
    # the worker did not keep the lock on OUT (it could outlive the grader); this process did
    info = json.loads(next(g.pids.iterdir()).read_text())
    assert info["fds"] and not [f for f in info["fds"] if grun.LOCK_NAME in f]
    assert held == [[str(g.out / grun.LOCK_NAME)]]
    assert snapshot(g.out) == before
    assert leftovers(g) == []
    assert multiprocessing.active_children() == workers_before


FAKE_CLI = "import grading_fakes; grading_fakes.cli()"


def command(g, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, REPO]), TMPDIR=str(g.tmp),
               PATH=nbgrader_env()["PATH"])
    return subprocess.Popen([sys.executable, "-c", FAKE_CLI, "--course", g.course, "grade",
                             str(g.subs), "--out", str(g.out), "--jobs", "2", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("sig, status, said", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                               (signal.SIGINT, 130, "interrupted")])
def test_a_signal_to_the_command_changes_nothing_and_leaves_nothing(g, sig, status, said):
    before = previous_results(g)
    g.students("ann-slow", "cat")
    proc = command(g)
    try:
        pids = slow_pids(g)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)   # Ctrl-C: the terminal signals the whole group
        else:
            proc.send_signal(sig)      # kill PID
        out, err = proc.communicate(timeout=120)   # a loaded CI machine is slow to start
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1] == (f"lessonlib grade: {said}; a grading run that did "
                                           f"not finish leaves OUT as it was")
    assert "Traceback" not in err
    assert wait_dead(pids) == []
    assert snapshot(g.out) == before
    assert leftovers(g) == []


def test_a_command_killed_outright_is_cleaned_up_by_the_next_run(g):
    before = previous_results(g)
    g.students("ann-slow", "cat")
    proc = command(g)
    pids = slow_pids(g)
    tree = grun._tree({proc.pid}) - {proc.pid}
    assert set(pids) <= tree
    proc.kill()                        # SIGKILL: no clean-up can run
    proc.wait()
    try:
        # the workers die with the grader (PR_SET_PDEATHSIG); the sandbox would take the
        # kernels with them (bwrap --die-with-parent), this fake kernel is left running
        workers = tree - {pids[1]}
        assert wait_dead(workers) == []
        assert alive(pids[1])
    finally:
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
    assert snapshot(g.out)["grades.csv"] == before["grades.csv"]
    assert [n for n in os.listdir(g.out) if n.startswith(".lessonlib-staging-")]  # left over
    shutil.rmtree(g.subs / "ann-slow")
    g.grade()
    assert [n for n in os.listdir(g.out) if n.startswith(".lessonlib")] == []
    assert len(read_csv(g.out / "grades.csv")) == 6


# ----------------------------------------------------------------------------------------
# the swap, step by step

def _outputs(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    for name in grun._OUTPUTS:
        if "." in name:
            (folder / name).write_text(f"{text} {name}")
        else:
            (folder / name / "x").mkdir(parents=True)
            (folder / name / "x" / "f.txt").write_text(f"{text} {name}")


def _swap_setup(tmp_path):
    out = tmp_path / "out"
    _outputs(out, "old")
    (out / "notes.txt").write_text("mine")
    old = snapshot(out)
    staging = out / (grun._STAGING + "t")
    _outputs(staging, "new")
    new = snapshot(staging)
    new["notes.txt"] = old["notes.txt"]
    return out, staging, out / (grun._ASIDE + "t"), old, new


class Killed(BaseException):
    """The process died here: nothing after this runs (no rollback either)."""


def _visible_set(out):
    """OUT's outputs: 'old', 'new' or 'mixed'; None without grades.csv."""
    if not (out / "grades.csv").exists():
        return None
    kinds = set()
    for name in grun._OUTPUTS:
        path = out / name if "." in name else out / name / "x" / "f.txt"
        kinds.add(path.read_text().split()[0] if path.exists() else "missing")
    return kinds.pop() if len(kinds) == 1 else "mixed"


N_STEPS = 2 * len(grun._OUTPUTS)   # renames in a swap


@pytest.mark.parametrize("step", range(N_STEPS + 1))
def test_a_kill_at_any_step_of_the_swap_is_rolled_back_by_the_next_run(tmp_path, step):
    out, staging, aside, old, new = _swap_setup(tmp_path)
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) > step:
            raise Killed
        return real(src, dst)

    def rmdir(path):
        raise Killed
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grun.os, "rename", rename)
        mp.setattr(grun.os, "rmdir", rmdir)
        mp.setattr(grun, "_rollback", lambda *a: None)   # killed: no rollback runs
        with pytest.raises(Killed):
            grun._swap(str(out), str(staging), str(aside))
    # while the swap is cut short, grades.csv marks a complete set, and only then
    assert _visible_set(out) in (None, "old", "new")
    assert (_visible_set(out) is None) == (0 < step < N_STEPS)
    grun._recover(str(out), lambda line: None)
    assert snapshot(out) == old


def test_a_kill_after_the_commit_keeps_the_new_results(tmp_path):
    out, staging, aside, old, new = _swap_setup(tmp_path)
    aside.mkdir()
    for name in grun._OUTPUTS:
        os.rename(out / name, aside / name)
        os.rename(staging / name, out / name)
    staging.rmdir()                    # committed; killed before the old set was deleted
    grun._recover(str(out), lambda line: None)
    assert snapshot(out) == new


@pytest.mark.parametrize("step", range(N_STEPS + 1))
def test_an_error_at_any_step_of_the_swap_is_rolled_back_at_once(tmp_path, step):
    out, staging, aside, old, new = _swap_setup(tmp_path)
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == step + 1:
            raise OSError(5, "Input/output error")
        return real(src, dst)
    def rmdir(path):
        raise OSError(5, "Input/output error")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grun.os, "rename", rename)
        if step == N_STEPS:            # the commit itself fails
            mp.setattr(grun.os, "rmdir", rmdir)
        with pytest.raises(OSError):
            grun._swap(str(out), str(staging), str(aside))
    grun._settle(str(out), str(staging), str(aside))
    assert snapshot(out) == old


def test_a_signal_during_the_swap_rolls_it_back_and_without_one_it_commits(tmp_path):
    out, staging, aside, old, new = _swap_setup(tmp_path)
    assert grun._swap(str(out), str(staging), str(aside), interrupted=lambda: True) is False
    grun._settle(str(out), str(staging), str(aside))
    assert snapshot(out) == old
    out, staging, aside, old, new = _swap_setup(tmp_path / "again")
    assert grun._swap(str(out), str(staging), str(aside)) is True
    assert snapshot(out) == new        # negative control: the same swap, uninterrupted


# ----------------------------------------------------------------------------------------
# reruns, spreadsheets, terminals

def test_a_rerun_gives_a_byte_identical_grades_csv(g):
    g.students("ann", "bob-reader", "cat-crash", "dan-neg", "eve-ansi")
    g.grade(jobs=2)
    first = (g.out / "grades.csv").read_bytes()
    log = (g.out / "logs" / "bob-reader.log").read_text()
    g.grade(jobs=1)
    assert (g.out / "grades.csv").read_bytes() == first
    # negative control: what the jobs reported named this run's own folders
    assert (g.out / "logs" / "bob-reader.log").read_text() != log
    assert str(g.tmp) in log and str(g.tmp).encode() not in first
    rows = read_csv(g.out / "grades.csv")
    assert [(r["student_id"], r["assignment"]) for r in rows] == sorted(
        (r["student_id"], r["assignment"]) for r in rows)
    assert rows[2]["flags"] == ("open(<grading work folder>/students/bob-reader/secret.txt) "
                                "was refused")


EVIL = ['=HYPERLINK("evil.example","click me")', "+1", "@SUM(A1)", "=1+2"]


def test_cells_are_escaped_against_formula_injection(g, monkeypatch):
    g.students(*EVIL, "negative", "ann")
    g.students("misnamer", notebook="=1+1.ipynb")
    g.grade()
    rows = by_key(read_csv(g.out / "grades.csv"))
    for sid in EVIL:
        assert sid.startswith(DANGEROUS)                     # the data is dangerous...
        for a in NOTEBOOKS:
            assert rows[("'" + sid, a)]["score"] == FULL[a]  # ...and defused
    assert ("ann", "01_alpha") in rows                       # plain text stays plain
    neg = [rows[("negative", a)]["score"] for a in NOTEBOOKS]
    assert neg == ["-3", "-3"] and [float(s) for s in neg] == [-3.0, -3.0]
    flags = rows[("misnamer", "01_alpha")]["flags"]
    assert flags.startswith("'=1+1.ipynb") and "graded as alpha.ipynb" in flags
    cells = [c for r in rows.values() for k, c in r.items() if k not in report.NUMERIC]
    assert not [c for c in cells if c.startswith(DANGEROUS)]
    # negative control: without the escaping, the same class writes formulas
    monkeypatch.setattr(report, "csv_cell", lambda value, column=None: str(value))
    g.grade()
    raw = by_key(read_csv(g.out / "grades.csv"))
    assert (EVIL[0], "01_alpha") in raw and raw[("misnamer", "01_alpha")]["flags"][0] == "="


def test_the_terminal_gets_no_control_characters(g, monkeypatch):
    g.students("ann-ansi", "bob")
    g.grade()
    text = "\n".join(g.lines)
    assert "\x1b" not in text and "\x07" not in text
    assert "printed \\x1b[2J\\x1b[31mALL GOOD\\x07" in text
    assert "\x1b" not in (g.out / "grades.csv").read_text()
    # negative control: without printable(), the escapes reach the terminal
    monkeypatch.setattr(report, "printable", lambda text: str(text))
    g.lines.clear()
    g.grade()
    assert "\x1b[2J" in "\n".join(g.lines)


# ----------------------------------------------------------------------------------------
# gradebooks

def test_a_tampered_gradebook_is_refused_and_an_honest_one_merged(g, monkeypatch):
    g.students("ann", "tamperer")
    g.grade()
    rows = by_key(read_csv(g.out / "grades.csv"))
    for a in NOTEBOOKS:
        assert (rows[("ann", a)]["score"], rows[("ann", a)]["status"]) == (FULL[a], "graded")
        bad = rows[("tamperer", a)]
        assert (bad["score"], bad["status"]) == ("", "failed")
        assert bad["flags"] == ("the student's gradebook was tampered with "
                                "(trigger lessonlib_evil)")
    con = sqlite3.connect(g.out / "gradebook.db")
    assert {s for (s,) in con.execute("SELECT student_id FROM submitted_assignment")} == {"ann"}
    assert {s for (s,) in con.execute("SELECT id FROM student")} == {"ann"}
    assert not con.execute("SELECT * FROM sqlite_master WHERE type = 'trigger'").fetchall()
    con.close()
    assert (g.out / "feedback" / "ann").is_dir() and not (g.out / "feedback" / "tamperer").exists()
    # negative control: without the schema check, the forged scores are merged
    monkeypatch.setattr(report, "check_schema", lambda template, db: [])
    g.grade()
    rows = by_key(read_csv(g.out / "grades.csv"))
    assert rows[("tamperer", "01_alpha")]["score"] == "198"


TAMPERING = {
    "trigger": ("CREATE TRIGGER t AFTER INSERT ON grade BEGIN SELECT 1; END", "trigger t"),
    "view": ("CREATE VIEW v AS SELECT * FROM grade", "view v"),
    "table": ("CREATE TABLE extra (x)", "table extra"),
    "index": ("CREATE INDEX idx ON grade (auto_score)", "index idx"),
    "changed": ("ALTER TABLE student ADD COLUMN evil TEXT", "table student changed"),
    "dropped": ("DROP TABLE comment", "table comment missing"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_check_schema_finds_anything_beyond_nbgraders(template_db, tmp_path, kind):
    sql, found = TAMPERING[kind]
    db = tmp_path / "worker.db"
    shutil.copy(template_db, db)
    assert report.check_schema(template_db, db) == []        # negative control
    con = sqlite3.connect(db)
    con.execute(sql)
    con.commit()
    con.close()
    assert found in report.check_schema(template_db, db)


def test_check_schema_refuses_a_file_that_is_no_database(template_db, tmp_path):
    (tmp_path / "worker.db").write_bytes(b"not a database, not at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        report.check_schema(template_db, tmp_path / "worker.db")


# merging through nbgrader's API, read-only, on SQLite and PostgreSQL:
# tests/grading/test_gradebook.py


# ----------------------------------------------------------------------------------------
# dead workers

@pytest.mark.parametrize("jobs", [1, 2])
def test_a_dead_worker_costs_one_student(g, monkeypatch, jobs):
    monkeypatch.setenv("LESSONLIB_FAKE_SLEEP", "0.5")   # "a-slow" is in the pool with b-oom
    g.students("a-slow", "b-oom", "c", "d-crash", "e")
    workers_before = multiprocessing.active_children()
    g.grade(jobs=jobs)
    rows = by_key(read_csv(g.out / "grades.csv"))
    for a in NOTEBOOKS:
        for sid in ("a-slow", "c", "e"):
            assert (rows[(sid, a)]["score"], rows[(sid, a)]["status"]) == (FULL[a], "graded")
        assert rows[("b-oom", a)]["status"] == "failed"
        assert rows[("b-oom", a)]["flags"].startswith(
            "the grading worker process died while grading this student (out of memory?")
        assert rows[("d-crash", a)]["status"] == "failed"
        assert rows[("d-crash", a)]["flags"].startswith(
            "the grading worker failed (RuntimeError: the fake job crashed in "
            "<grading work folder>/students/d-crash)")
    again = [ln for ln in g.lines if "grading them again one at a time" in ln]
    assert len(again) == (jobs > 1)
    assert multiprocessing.active_children() == workers_before


def test_without_rebuilding_a_broken_pool_the_next_students_are_lost(tmp_path):
    # negative control of the test above: a plain pool fails every later job
    with ProcessPoolExecutor(max_workers=1) as pool:
        dead = pool.submit(fakes.grade_student, {"student": "oom", "root": str(tmp_path / "x")})
        with pytest.raises(BrokenProcessPool):
            dead.result()
        with pytest.raises(BrokenProcessPool):
            pool.submit(fakes.init_worker).result()


# ----------------------------------------------------------------------------------------
# the sandbox switch

def test_without_the_sandbox_every_row_is_flagged(g, monkeypatch):
    def unavailable():
        raise sandbox.SandboxUnavailable("no bwrap here")
    monkeypatch.setattr(sandbox, "check_available", unavailable)
    g.students("ann", "bob-crash")
    assert g.cli("--no-sandbox") == 0
    rows = by_key(read_csv(g.out / "grades.csv"))
    for a in NOTEBOOKS:
        assert (rows[("ann", a)]["status"], rows[("ann", a)]["flags"]) == (
            "flagged", "graded without a sandbox")
        assert rows[("bob-crash", a)]["status"] == "failed"
        assert rows[("bob-crash", a)]["flags"].endswith("; graded without a sandbox")
    assert "(sandbox=False)" in (g.out / "logs" / "ann.log").read_text()


def test_with_the_sandbox_it_is_checked_before_anything_runs(g, monkeypatch, capsys):
    g.students("ann")
    g.grade()
    assert "(sandbox=True)" in (g.out / "logs" / "ann.log").read_text()
    assert read_csv(g.out / "grades.csv")[0]["flags"] == ""
    before = snapshot(g.out)

    def unavailable():
        raise sandbox.SandboxUnavailable("bubblewrap (bwrap) is not installed: " +
                                         sandbox.INSTALL_HINT)
    monkeypatch.setattr(sandbox, "check_available", unavailable)
    capsys.readouterr()
    assert g.cli() == 2
    err = capsys.readouterr().err
    assert err.startswith("lessonlib grade: error: bubblewrap (bwrap) is not installed")
    assert "--no-sandbox" in err
    assert snapshot(g.out) == before and leftovers(g) == []
