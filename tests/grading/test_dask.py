"""``lessonlib grade --scheduler``: the demo class graded on a real (local) Dask cluster.

A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, each
worker in a working directory and a TMPDIR of its own, none of them the
orchestrator's: a job travels as data (lessonlib.grading.distributed).
Every process is stopped (its whole session killed) at teardown.
"""

import contextlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

pytest.importorskip("distributed")

from lessonlib.cli import main  # noqa: E402
from lessonlib.grading import distributed as dist  # noqa: E402
from lessonlib.grading.demo import make_demo_class, make_demo_course  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.xdist_group("grading-dask")]

STUDENTS = ["honest", "buggy", "crasher", "blank"]
START_TIMEOUT = 120   # seconds for the scheduler and the workers to come up


def run_cli(*args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(list(args))
    return status, buf.getvalue()


class Cluster:
    """A scheduler and ``n`` workers (no nanny), in sessions of their own."""

    def __init__(self, base, n=2):
        self.base, self.procs, self.workers, self.tmps = base, [], [], []
        base.mkdir(parents=True, exist_ok=True)
        self.file = base / "scheduler.json"
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                     "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                     str(self.file)], base, env, base / "scheduler.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.file.exists():
            assert time.monotonic() < deadline, (base / "scheduler.log").read_text()
            time.sleep(0.2)
        time.sleep(0.5)
        self.address = json.loads(self.file.read_text())["address"]
        for i in range(n):
            # a short TMPDIR of its own: the kernels' unix sockets live in it
            wdir, wtmp = base / f"worker{i}", tempfile.mkdtemp(prefix=f"lld{i}-", dir="/tmp")
            wdir.mkdir()
            self.tmps.append(wtmp)
            p = self._start([sys.executable, "-m", "distributed.cli.dask_worker",
                             "--scheduler-file", str(self.file), "--nthreads", "1",
                             "--nworkers", "1", "--no-nanny", "--host", "127.0.0.1",
                             "--no-dashboard", "--local-directory", str(wdir / "dask"),
                             "--death-timeout", "60"],
                            wdir, dict(env, TMPDIR=str(wtmp)), base / f"worker{i}.log")
            self.workers.append({"proc": p, "cwd": str(wdir), "tmp": str(wtmp)})
        import distributed
        with distributed.Client(self.address, timeout=30, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=START_TIMEOUT)

    def _start(self, argv, cwd, env, log):
        fh = open(log, "wb")
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        fh.close()
        self.procs.append(p)
        return p

    def kill(self, p):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)   # the worker and the kernels it started
        p.wait(30)

    def close(self):
        for p in reversed(self.procs):
            self.kill(p)
        for t in self.tmps:
            shutil.rmtree(t, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = make_demo_course(tmp_path_factory.mktemp("dask-demo") / "course")
    status, out = run_cli("--course", root, "release")
    assert status == 0, out
    return root


@pytest.fixture
def cluster(tmp_path):
    c = Cluster.__new__(Cluster)
    c.procs, c.tmps = [], []
    try:
        c.__init__(tmp_path / "cluster")
        yield c
    finally:   # also a half-started one
        c.close()


def _report(out):
    rep = json.loads((out / "report.json").read_text())
    assert rep.pop("generated")
    return rep


def test_a_class_graded_on_two_dask_workers_equals_a_local_run(demo, tmp_path, cluster):
    subs = tmp_path / "subs"
    make_demo_class(demo, subs, students=STUDENTS)
    local, remote = tmp_path / "local", tmp_path / "remote"
    t0 = time.monotonic()
    status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(local),
                          "--jobs", "2", "--timeout", "10")
    t_local = time.monotonic() - t0
    assert status == 0, log
    t0 = time.monotonic()
    status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(remote),
                          "--timeout", "10", "--scheduler", cluster.address)
    t_remote = time.monotonic() - t0
    assert status == 0, log
    print(f"local --jobs 2: {t_local:.1f} s; two Dask workers: {t_remote:.1f} s")
    assert (remote / "grades.csv").read_bytes() == (local / "grades.csv").read_bytes()
    assert (local / "grades.csv").read_bytes().count(b"\n") == 1 + 2 * len(STUDENTS)
    assert _report(remote) == _report(local)
    for kind in ("feedback", "autograded"):
        files = sorted(os.path.relpath(os.path.join(d, f), local / kind)
                       for d, _, fs in os.walk(local / kind) for f in fs)
        assert files and files == sorted(
            os.path.relpath(os.path.join(d, f), remote / kind)
            for d, _, fs in os.walk(remote / kind) for f in fs)
    # the jobs ran in the workers' own temporary folders, none of them the orchestrator's
    used = {line.split("temporary folder ")[1].strip()
            for line in log.splitlines() if "graded on a Dask worker" in line}
    assert used and used <= {os.path.realpath(w["tmp"]) for w in cluster.workers}
    assert os.path.realpath(tempfile.gettempdir()) not in used
    for w in cluster.workers:   # and left nothing behind there
        assert os.listdir(w["tmp"]) == []


def test_a_job_carries_data_and_no_path_of_the_orchestrator(tmp_path):
    sub = tmp_path / "orchestrator-intake" / "ann"
    (sub / "01_alpha").mkdir(parents=True)
    (sub / "01_alpha" / "alpha.ipynb").write_text("{}")
    spec = {"student": "ann", "root": str(tmp_path / "orch-root"),
            "template": str(tmp_path / "orch-template"), "submission": str(sub),
            "assignments": ["01_alpha"], "source_dir": "solutions", "course_id": "demo",
            "hidden": {}, "sandbox": True,
            "execute": {"deny_paths": [str(tmp_path / "orch-course")], "timeout": 10,
                        "scratch_root": str(tmp_path / "orch-kernels")}}
    job = dist.payload(spec)
    raw = pickle.dumps(job)
    assert str(tmp_path).encode() not in raw
    assert job["execute"] == {"timeout": 10}
    out = tmp_path / "unpacked"
    dist.unpack(job["submission"], out)
    assert (out / "01_alpha" / "alpha.ipynb").read_text() == "{}"
    (sub / "01_alpha" / "big.bin").write_bytes(b"\0" * (dist.MAX_SUBMISSION + 1))
    with pytest.raises(ValueError, match="larger than"):
        dist.payload(spec)


def test_a_worker_killed_mid_run_loses_no_student(demo, tmp_path, cluster):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs, students=STUDENTS)
    victim = cluster.workers[0]
    killed = threading.Event()
    stop = threading.Event()

    def killer():   # as soon as the victim has a job in its temporary folder
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline:
            if any(n.startswith("llg-") for n in os.listdir(victim["tmp"])):
                time.sleep(1)
                cluster.kill(victim["proc"])
                killed.set()
                return
            time.sleep(0.1)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        status, log = run_cli("--course", demo, "grade", str(subs), "--out", str(out),
                              "--timeout", "10", "--scheduler", cluster.address)
    finally:
        stop.set()
        t.join(30)
    assert killed.is_set(), log
    assert status == 0, log
    import csv
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    seen = {(r["student_id"], r["assignment"]) for r in rows}
    assert seen == {(s, a) for s in STUDENTS for a in ("01_alpha", "02_beta")}
    for r in rows:
        assert r["status"] in ("graded", "flagged", "failed"), r
        if r["status"] == "failed":
            assert r["flags"], r


def test_an_unreachable_scheduler_is_one_line_and_out_is_untouched(demo, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_demo_class(demo, subs, students=["honest"])
    out.mkdir()
    (out / "grades.csv").write_text("previous\n")
    p = subprocess.run([sys.executable, "-m", "lessonlib.cli", "--course", demo, "grade",
                        str(subs), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in err
    assert sorted(os.listdir(out)) == ["grades.csv"]
    assert (out / "grades.csv").read_text() == "previous\n"
