"""The gradebook through nbgrader's API, on SQLite and on a real PostgreSQL server.

``lessonlib grade --gradebook URL`` writes the merged grades into any
database nbgrader supports. Here a PostgreSQL server is started for the
module (Debian's ``postgresql`` package: ``initdb`` and ``pg_ctl``, on
127.0.0.1 and a unix socket in a temporary folder, stopped at the end),
and the same runs are made against an SQLite file. The pool's jobs are the
fakes of ``grading_fakes`` (no kernel); the merges, the definitions copied
into an empty database and ``nbgrader export`` are nbgrader's own.

Without PostgreSQL's binaries or psycopg the PostgreSQL cases skip, unless
``LESSONLIB_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from types import SimpleNamespace

import pytest

import grading_fakes as fakes
from lessonlib.cli import main
from lessonlib.grading import gradebook
from lessonlib.grading import run as grun
from lessonlib.grading.course import nbgrader_env
from lessonlib.grading.demo import make_demo_course

pytestmark = [pytest.mark.filterwarnings("ignore:Object of type"),   # nbgrader's SQLAlchemy
              pytest.mark.xdist_group("gradebook-postgres")]

NOTEBOOKS = {"01_alpha": "alpha", "02_beta": "beta"}
FULL = {"01_alpha": 3.0, "02_beta": 4.0}


def _missing(what):
    if os.environ.get("LESSONLIB_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"LESSONLIB_REQUIRE_POSTGRES=1 but {what}")
    pytest.skip(what)


def _pg_bin(name):
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if isinstance(found, list):
        found = found[-1] if found else None
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A PostgreSQL server of its own: data and socket in a temporary folder."""

    def __init__(self):
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        # /tmp itself: the server's user must reach the folder (pytest's tmp_path is 0700 root)
        self.base = tempfile.mkdtemp(prefix="lessonlib-pg-")
        self.data, self.sock = os.path.join(self.base, "data"), os.path.join(self.base, "s")
        os.mkdir(self.sock)
        self.prefix = []
        if os.geteuid() == 0:   # the server refuses to run as root
            user = pwd.getpwnam("postgres")
            for path in (self.base, self.sock):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()

    def _run(self, *argv, timeout=120):
        return subprocess.run(self.prefix + list(argv), capture_output=True, text=True,
                              timeout=timeout, check=True)

    def start(self):
        self._run(self.initdb, "-D", self.data, "-U", "grader", "-A", "trust", "--no-sync",
                  "-E", "UTF8")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} "
                f"-c fsync=off -c max_connections=40")
        self._run(self.pg_ctl, "-D", self.data, "-o", opts, "-l",
                  os.path.join(self.base, "server.log"), "-w", "-t", "60", "start")

    def url(self, db="postgres"):
        return f"postgresql+psycopg://grader@127.0.0.1:{self.port}/{db}"

    def new_database(self):
        import psycopg
        name = "course_" + uuid.uuid4().hex[:8]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=grader dbname=postgres",
                             autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self):
        try:
            self._run(self.pg_ctl, "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop",
                      timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _postgres():
    """A :class:`Postgres` not yet started, or a skip (a failure under CI) saying what is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (pip install 'psycopg[binary]')")
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        _missing("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
    return Postgres()


@pytest.fixture(scope="module")
def postgres():
    pg = _postgres()
    try:
        pg.start()
    except (subprocess.CalledProcessError, KeyError) as exc:
        log = os.path.join(pg.base, "server.log")
        text = open(log).read()[-2000:] if os.path.exists(log) else ""
        shutil.rmtree(pg.base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc}: {getattr(exc, 'stderr', '')} {text}")
    yield pg
    pg.stop()


@pytest.fixture
def g(tmp_path, monkeypatch, template_db):
    """A demo course, a class of three, an OUT, the fake jobs in place."""
    fakes.install(monkeypatch)
    monkeypatch.setenv("LESSONLIB_FAKE_TEMPLATE", template_db)
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])   # nbgrader runs `alembic`
    ns = SimpleNamespace(course=make_demo_course(tmp_path / "course"), subs=tmp_path / "subs",
                         out=tmp_path / "out", root=tmp_path)
    for sid in ("ann", "bob", "neg-cy"):
        for a, nb in NOTEBOOKS.items():
            folder = ns.subs / sid / a
            folder.mkdir(parents=True)
            shutil.copy(os.path.join(ns.course, "solutions", a, nb + ".ipynb"), folder)

    def cli(*args):
        return main(["--course", ns.course, "grade", str(ns.subs), "--out", str(ns.out),
                     "--jobs", "2", *args])

    ns.cli = cli
    return ns


def course_id(g):
    from lessonlib.grading.course import Course
    return Course.load(g.course).course_id


def scores(url, cid):
    """``{(student, assignment): (score, max_score)}`` read through nbgrader's API."""
    from nbgrader.api import Gradebook
    with Gradebook(url, cid) as gb:
        return {(s.student.id, a.name): (s.score, s.max_score)
                for a in gb.assignments for s in a.submissions}


def nbgrader_export(url, cid, tmp_path):
    """``nbgrader export`` run as an instructor would, on the gradebook at ``url``."""
    to = tmp_path / f"export-{uuid.uuid4().hex[:6]}.csv"
    proc = subprocess.run(
        [shutil.which("nbgrader", path=nbgrader_env()["PATH"]), "export",
         f"--CourseDirectory.db_url={url}", f"--CourseDirectory.course_id={cid}",
         f"--CsvExportPlugin.to={to}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=nbgrader_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(to, newline="") as fh:
        return {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(fh)}


EXPECTED = {("ann", "01_alpha"): (3.0, 3.0), ("ann", "02_beta"): (4.0, 4.0),
            ("bob", "01_alpha"): (3.0, 3.0), ("bob", "02_beta"): (4.0, 4.0),
            ("neg-cy", "01_alpha"): (-3.0, 3.0), ("neg-cy", "02_beta"): (-3.0, 4.0)}
# nbgrader's export gives max(0, raw score - late penalty)
EXPORTED = {k: (max(0.0, s), m) for k, (s, m) in EXPECTED.items()}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """An empty nbgrader database: an SQLite file, or a new database on the server."""
    if request.param == "sqlite":
        return gradebook.sqlite_url(str(tmp_path / "course gradebook.db"))
    return request.getfixturevalue("postgres").new_database()


def test_grades_reach_an_empty_gradebook_and_nbgrader_exports_them(g, target, tmp_path,
                                                                     capsys):
    assert g.cli("--gradebook", target) == 0
    cid = course_id(g)
    assert scores(target, cid) == EXPECTED
    # nbgrader's own export of that database says what its export of OUT's says
    assert nbgrader_export(target, cid, tmp_path) == EXPORTED
    out_db = gradebook.sqlite_url(str(g.out / "gradebook.db"))
    assert nbgrader_export(out_db, cid, tmp_path) == EXPORTED
    with open(g.out / "grades.csv", newline="") as fh:
        rows = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(fh)}
    assert rows == {k: v[0] for k, v in EXPECTED.items()}
    assert "6 submission(s) of 3 student(s) written" in capsys.readouterr().out


def test_a_rerun_updates_in_place_and_keeps_the_manual_grades(g, postgres, tmp_path):
    from nbgrader.api import Gradebook
    url, cid = postgres.new_database(), course_id(g)
    assert g.cli("--gradebook", url) == 0
    with Gradebook(url, cid) as gb:
        n_before = len(gb.db.execute(__import__("sqlalchemy").text(
            "SELECT id FROM grade")).all())
        grade = gb.find_submission("01_alpha", "neg-cy").notebooks[0].grades[0]
        cell, nb = grade.name, grade.notebook.name
        grade.manual_score = 1.0       # what an instructor gives in the formgrader
        gb.db.commit()
    assert scores(url, cid)[("neg-cy", "01_alpha")] == (-0.5, 3.0)
    assert g.cli("--gradebook", url) == 0          # the same class again
    with Gradebook(url, cid) as gb:
        n_after = len(gb.db.execute(__import__("sqlalchemy").text(
            "SELECT id FROM grade")).all())
        kept = gb.find_grade(cell, nb, "01_alpha", "neg-cy")
        assert (kept.manual_score, kept.auto_score, kept.needs_manual_grade) == (1.0, -1.5, False)
        assert len(gb.students) == 3 and len(gb.find_assignment("01_alpha").submissions) == 3
    assert n_after == n_before                     # updated, nothing added
    assert nbgrader_export(url, cid, tmp_path)[("neg-cy", "01_alpha")] == (0.0, 3.0)
    assert scores(url, cid)[("neg-cy", "01_alpha")] == (-0.5, 3.0)


def test_a_tampered_gradebook_reaches_no_database(g, postgres):
    url, cid = postgres.new_database(), course_id(g)
    shutil.copytree(g.subs / "ann", g.subs / "tamper-tim")
    assert g.cli("--gradebook", url) == 0
    got = scores(url, cid)
    assert not any(s == "tamper-tim" for s, _ in got)
    assert got[("ann", "01_alpha")] == (3.0, 3.0)  # control: the others are there


@pytest.mark.parametrize("url, words", [
    ("postgresql+psycopg://grader:hunter2@127.0.0.1:{port}/none", ["cannot connect"]),
    ("no url at all", ["expects a database URL", "'no url at all'"]),
    ("sqlite://", ["in-memory SQLite"]),
    ("nosuchdb://h/x", ["no driver"]),
])
def test_a_gradebook_that_cannot_be_used_is_one_line_and_out_is_untouched(g, url, words,
                                                                          capsys):
    url = url.format(port=_free_port())
    assert g.cli("--gradebook", url) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--gradebook" in err, err
    for w in words:
        assert w in err
    assert "hunter2" not in err and "Traceback" not in err
    assert not g.out.exists()
    assert g.cli() == 0                            # control: the same class without it


def test_a_gradebook_that_fails_while_written_keeps_out(g, tmp_path, monkeypatch, capsys):
    from sqlalchemy.exc import OperationalError
    url = gradebook.sqlite_url(str(tmp_path / "course.db"))

    real_merge = gradebook.merge

    def lost(src, dst, *args, **kwargs):   # only the write into --gradebook's database fails
        if dst == url:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real_merge(src, dst, *args, **kwargs)

    monkeypatch.setattr(grun.gradebook, "merge", lost)
    assert g.cli("--gradebook", url) == 2
    err = capsys.readouterr().err
    assert "not completely written" in err and "server closed the connection" in err
    assert "a rerun writes the gradebook again" in err
    with open(g.out / "grades.csv") as fh:         # OUT was published, every row graded
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"graded"}
    assert scores(gradebook.sqlite_url(str(g.out / "gradebook.db")), course_id(g)) == EXPECTED


def test_merge_reads_the_student_gradebook_read_only(template_db, tmp_path, monkeypatch):
    from nbgrader.api import Gradebook, MissingEntry
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    folder = tmp_path / "odd ?#% name"   # the read-only URI needs these quoted
    folder.mkdir()
    worker, merged = folder / "worker.db", tmp_path / "merged.db"
    shutil.copy(template_db, worker)
    shutil.copy(template_db, merged)
    import sqlite3
    cid = sqlite3.connect(template_db).execute("SELECT id FROM course").fetchone()[0]
    with Gradebook(gradebook.sqlite_url(str(worker)), cid) as gb:
        gb.add_student("ann", first_name="Ann", email="ann@example.org")
        for a in NOTEBOOKS:
            gb.add_submission(a, "ann")
        cells = sorted(c.name for c in gb.find_notebook("alpha", "01_alpha").grade_cells)
        for name, score in zip(cells, (2, 0.5)):
            gb.find_grade(name, "alpha", "01_alpha", "ann").auto_score = score
        gb.db.commit()
    data = worker.read_bytes()
    ro = gradebook.sqlite_url(str(worker), read_only=True)
    assert gradebook.merge(ro, gradebook.sqlite_url(str(merged)), cid, [("ann", "01_alpha")]) == 1
    assert worker.read_bytes() == data
    with Gradebook(gradebook.sqlite_url(str(merged)), cid) as gb:
        assert gb.find_student("ann").email == "ann@example.org"
        assert gb.find_submission("01_alpha", "ann").score == 2.5
        with pytest.raises(MissingEntry):          # not among the submissions merged
            gb.find_submission("02_beta", "ann")
    from nbgrader.api import InvalidEntry
    with Gradebook(ro, cid) as gb, pytest.raises(InvalidEntry, match="readonly"):
        gb.add_student("mallory")
    with Gradebook(gradebook.sqlite_url(str(worker)), cid) as gb:   # control: read-write
        gb.add_student("mallory")


def test_definitions_reach_an_empty_postgresql_database(template_db, postgres, monkeypatch):
    from nbgrader.api import Gradebook
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    import sqlite3
    cid = sqlite3.connect(template_db).execute("SELECT id FROM course").fetchone()[0]
    src, dst = gradebook.sqlite_url(template_db, read_only=True), postgres.new_database()
    assert gradebook.copy_definitions(src, dst, cid) == ["01_alpha", "02_beta"]
    assert gradebook.copy_definitions(src, dst, cid) == ["01_alpha", "02_beta"]   # idempotent
    assert gradebook.max_scores(dst, cid) == FULL == gradebook.max_scores(src, cid)
    with Gradebook(dst, cid) as gb:
        assert len(gb.assignments) == 2
        assert sorted(c.name for c in gb.find_notebook("alpha", "01_alpha").grade_cells) == \
            sorted(c.name for c in Gradebook(src, cid).find_notebook("alpha",
                                                                     "01_alpha").grade_cells)


def test_the_postgresql_server_is_stopped_by_its_owner():
    """Control of the fixture itself: a server that was started answers, then does not."""
    pg = _postgres()
    import psycopg
    pg.start()
    try:
        with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=grader dbname=postgres",
                             connect_timeout=10) as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()
    deadline = time.monotonic() + 10
    with pytest.raises(psycopg.OperationalError):
        while time.monotonic() < deadline:
            psycopg.connect(f"host=127.0.0.1 port={pg.port} user=grader dbname=postgres",
                            connect_timeout=2).close()
            time.sleep(0.2)
    assert not os.path.exists(pg.base)
