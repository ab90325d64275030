"""Grade a class with nbgrader: in parallel, through bad submissions, flagging cheats.

The instructor's two commands (``lessonlib release``, ``lessonlib grade``)
are :func:`release` and :func:`grade`. :func:`grade` runs, from the course
root:

1. a *template*: the source of the assignments and a gradebook made by
   nbgrader's generate_assignment, in a temporary folder;
2. the *intake* (:mod:`lessonlib.grading.intake`): renamed notebooks,
   broken JSON, duplicated and deleted cells, extra files;
3. the *static audit* (:mod:`lessonlib.grading.audit`) of what each
   student wrote;
4. one *job per student* in a process pool: a course folder of their own
   (copies of the configuration, source and gradebook), nbgrader's
   autograde with the kernel in the sandbox (:mod:`lessonlib.grading.sandbox`,
   :mod:`lessonlib.grading.preprocessors`), then generate_feedback;
5. the *merge*: each student's gradebook, once its schema is checked
   against the template's, into ``gradebook.db``, nbgrader's CSV export of
   it, and ``grades.csv`` with a status and the reasons behind it for every
   student and assignment;
6. the *class report* (:mod:`lessonlib.grading.class_report`):
   ``report.json`` and ``report.html``, made from ``grades.csv``'s rows and
   the verdicts the workers recorded.

Nothing is scored silently: a submission that could not be graded is
``failed`` with its reason and no score; one with anything a person should
look at is ``flagged`` with the reasons; the rest are ``graded``.

Nothing is lost
---------------
* **One run per OUT.** A run holds an advisory lock (``flock``) on
  ``OUT/.lessonlib-grade.lock`` from start to end; a second run on the same
  OUT is refused (:class:`OutputLocked`) with the holder's pid and start
  time. The kernel drops the lock when its process dies, so the file a
  killed run leaves behind blocks nobody.
* **All or nothing.** Results are written into ``OUT/.lessonlib-staging-R``
  (R random; inside OUT so that every move is a rename on one file system)
  and swapped in only when all of them are written. The swap
  (:func:`_swap`), in this order:

  1. make ``OUT/.lessonlib-old-R``; move the previous outputs into it,
     ``grades.csv`` first;
  2. move the new outputs from the staging folder into OUT, ``grades.csv``
     last;
  3. remove the (now empty) staging folder: **the commit**;
  4. delete ``OUT/.lessonlib-old-R``.

  So ``OUT/grades.csv`` exists only while OUT holds a complete set, old or
  new, and at every instant a complete set is on disk: before the commit
  the old one (in OUT and ``.lessonlib-old-R``), after it the new one. Until
  the commit, every way a run can stop (an exception, Ctrl-C, SIGTERM)
  rolls back to the previous results, byte for byte; a run killed outright
  (SIGKILL, power cut) in the middle of the swap is rolled back by the next
  run on OUT, first thing, under the lock (:func:`_recover`). SIGINT and
  SIGTERM wait while the swap and the clean-up run (they take
  milliseconds) and act right after.
* **Nothing left running.** SIGTERM becomes :class:`Terminated` (a
  ``SystemExit``) in the main process, so the clean-up runs as for Ctrl-C:
  the pool is shut down with ``cancel_futures=True``, and every worker
  process (found in the pool's ``_processes``) is frozen with SIGSTOP along
  with everything it started (kernels, sandboxes, found through
  ``/proc``), then killed with SIGKILL. While it grades, the main process
  is a child subreaper (Linux), so orphans (the kernel of a worker that
  died, a process a student's code detached) are adopted, and killed at
  the end of the run. The work folder (``lessonlib-grade-*`` in the
  temporary folder) and the staging folder are removed. Workers ask Linux
  to kill them when the main process dies (``PR_SET_PDEATHSIG``), so even a
  SIGKILL of the grader leaves no idle worker waiting for work forever;
  the sandbox takes the kernels with their worker (``--die-with-parent``).
* **A dead worker costs one student.** At most ``jobs`` students are in
  the pool at a time. A worker that dies (the out-of-memory killer) breaks
  the pool: it is rebuilt, and the students that were in it are graded
  again one at a time, so that only the one whose grading kills its worker
  fails (with the reason). A job that raises fails its student only.
* **Beyond one machine.** With ``scheduler`` (``--scheduler tcp://HOST:PORT``)
  the students' jobs go to a Dask cluster as data, not paths
  (:mod:`lessonlib.grading.distributed`); their results and files come back
  into the same work folder, so the staging, the swap and the rollback are
  the same. A worker that dies has its jobs retried elsewhere by Dask; a
  student whose job still fails is ``failed`` with the reason.
* **Reruns agree.** ``grades.csv`` holds no path, time or duration; its
  rows are sorted by student and assignment: the same inputs give the
  same bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .audit import audit_notebook, reference_names
from .course import Course, CourseError, release
from .intake import cell_source, hidden_test_lines, read_submissions
from sqlalchemy.exc import SQLAlchemyError

from . import class_report, gradebook, report
from . import sandbox as _sandbox
from .report import COLUMNS, fmt
from .jobs import build_template, export_grades, grade_student, init_worker

__all__ = ["grade", "release", "GradingError", "OutputLocked", "Terminated", "COLUMNS",
           "LOCK_NAME"]

# Swapped in this order (grades.csv first out of OUT, last into it).
_OUTPUTS = ("grades.csv", "report.json", "report.html", "nbgrader_grades.csv", "gradebook.db",
            "feedback", "autograded", "logs")
LOCK_NAME = ".lessonlib-grade.lock"
_STAGING = ".lessonlib-staging-"
_ASIDE = ".lessonlib-old-"


class GradingError(CourseError):
    """The grading run cannot start or cannot finish (bad arguments, broken course)."""


class OutputLocked(GradingError):
    """Another grading run is writing to the same output folder."""


class Terminated(SystemExit):
    """The run was stopped by SIGTERM (raised in the main process by its signal handler)."""

    def __init__(self):
        super().__init__(128 + signal.SIGTERM)


def _check_args(submissions, out, jobs, timeout):
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise GradingError(f"--jobs must be a positive integer, got {jobs!r}. "
                           f"Use --jobs 1 to grade one student at a time.")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise GradingError(f"--timeout must be a positive number of seconds, got {timeout!r}.")
    if not os.path.exists(submissions):
        raise GradingError(f"the submissions folder {submissions} does not exist. Give a "
                           f"folder laid out <student>/<assignment>/<notebook>.ipynb, or a "
                           f".zip of one.")
    if os.path.isfile(submissions) and not submissions.lower().endswith(".zip"):
        raise GradingError(f"{submissions} is a file but not a .zip; give a folder laid out "
                           f"<student>/<assignment>/<notebook>.ipynb, or a .zip of one.")
    sub, o = os.path.realpath(submissions), os.path.realpath(out)
    if os.path.isdir(sub) and (o == sub or o.startswith(sub + os.sep)):
        raise GradingError(f"--out {out} is inside the submissions folder; choose a folder "
                           f"elsewhere (it would be read as a student).")
    if os.path.exists(out) and not os.path.isdir(out):
        raise GradingError(f"--out {out} is a file; give a folder.")


# ----------------------------------------------------------------------------------------
# one run per OUT


class _OutLock:
    """``flock`` on ``OUT/.lessonlib-grade.lock``, non-blocking, for the whole run.

    The file holds the holder's pid and start time, for the message of a
    refused run; it is removed when the run ends (a run that finds the
    file replaced under it while it was waiting for the lock starts over).
    """

    def __init__(self, out):
        self.out, self.path, self.fd = out, os.path.join(out, LOCK_NAME), None

    def acquire(self):
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 4096).decode("utf-8", "replace")
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise GradingError(f"cannot lock {self.path}: {exc}") from None
                raise OutputLocked(self._refusal(holder)) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)   # the previous holder removed the file as we opened it
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S %z")
        os.write(fd, json.dumps({"pid": os.getpid(), "started": started}).encode() + b"\n")
        self.fd = fd

    def _refusal(self, holder):
        try:
            info = json.loads(holder)
            pid, started = int(info["pid"]), str(info["started"])
        except (ValueError, KeyError, TypeError):
            pid, started = "unknown", "an unknown time"
        return (f"another grading run is writing to {self.out} (pid {pid}, started at "
                f"{started}); wait for it or choose another --out")

    def release(self):
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)   # while still holding it: nobody can take a removed file
        os.close(self.fd)
        self.fd = None


# ----------------------------------------------------------------------------------------
# signals


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def _sigterm_raises():
    """SIGTERM raises :class:`Terminated` in the main thread while the block runs."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is done, then act (for critical sections).

    Yields the list of signals received meanwhile.
    """
    pending = []
    if not _in_main_thread():
        yield pending
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield pending
    finally:
        for s in sigs:
            signal.signal(s, previous[s])
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), pending[0])


# ----------------------------------------------------------------------------------------
# processes


def _stat(pid):
    """(state, ppid) of a process from /proc, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1])


def _parents():
    out = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat(name)
                if st is not None:
                    out[int(name)] = st[1]
    return out


def _children(pid):
    return {p for p, pp in _parents().items() if pp == pid}


def _tree(roots):
    """The processes of ``roots`` and all their descendants (``/proc``; else ``roots``)."""
    kids = {}
    for p, pp in _parents().items():
        kids.setdefault(pp, []).append(p)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += kids.get(pid, [])
    return found


def _send(pid, sig):
    with contextlib.suppress(OSError):
        os.kill(pid, sig)


def _subreaper(on):
    """Set Linux's child-subreaper flag of this process; return the previous one (or None)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        old = ctypes.c_int(0)
        if libc.prctl(37, ctypes.byref(old), 0, 0, 0) != 0:     # PR_GET_CHILD_SUBREAPER
            return None
        if libc.prctl(36, int(bool(on)), 0, 0, 0) != 0:         # PR_SET_CHILD_SUBREAPER
            return None
        return old.value
    except (OSError, AttributeError):
        return None


def _helpers():
    """Processes multiprocessing keeps for itself (resource tracker, fork server)."""
    pids = set()
    for mod, attr, pid_attr in (("resource_tracker", "_resource_tracker", "_pid"),
                                ("forkserver", "_forkserver", "_forkserver_pid")):
        m = sys.modules.get(f"multiprocessing.{mod}")
        pid = getattr(getattr(m, attr, None), pid_attr, None)
        if pid:
            pids.add(pid)
    return pids


class _Processes:
    """Every process a run starts, so that none outlives it.

    Trees are frozen (SIGSTOP, so nothing in them can fork), then killed
    (SIGKILL). This process is a child subreaper while the run lasts, so the
    orphans of a dead worker are adopted and can be found, killed and reaped.
    """

    def __init__(self):
        self.pid = os.getpid()
        self.before = _children(self.pid)
        self.previous = _subreaper(True)

    def orphans(self):
        keep = self.before | _helpers() | {p.pid for p in multiprocessing.active_children()}
        return _children(self.pid) - keep

    def kill(self, roots=()):
        roots = {p for p in roots if p > 1 and p != self.pid} | self.orphans()
        frozen = set()
        for _ in range(20):
            new = _tree(roots) - frozen
            if not new:
                break
            for pid in new:
                _send(pid, signal.SIGSTOP)
            frozen |= new
        victims = frozen | roots
        for pid in victims:
            _send(pid, signal.SIGKILL)
        self._reap(victims)

    def _reap(self, victims):
        workers = {p.pid for p in multiprocessing.active_children()}   # joined by the pool
        deadline = time.monotonic() + 3
        left = set(victims)
        while left and time.monotonic() < deadline:
            for pid in list(left):
                st = _stat(pid)
                if st is None:
                    left.discard(pid)
                elif st[1] == self.pid and pid not in workers:
                    try:
                        if os.waitpid(pid, os.WNOHANG)[0] == pid:
                            left.discard(pid)
                    except ChildProcessError:
                        left.discard(pid)
                elif st[0] in "ZX" and st[1] not in left:
                    left.discard(pid)   # a zombie its living parent will reap
            if left:
                time.sleep(0.01)

    def close(self):
        """Kill what is left: workers of a pool that was not shut down, adopted orphans."""
        self.kill({p.pid for p in multiprocessing.active_children()} - self.before)
        multiprocessing.active_children()   # joins the workers just killed
        if self.previous is not None:
            _subreaper(self.previous)


def _die_with(parent):
    """Have Linux kill this process (SIGKILL) when ``parent`` dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PDEATHSIG
    if os.getppid() != parent:   # it died before the request
        os._exit(1)


def _ignore(signum, frame):
    pass


def _init_worker(parent, close_fds, init):
    """Pool initializer: workers leave Ctrl-C and SIGTERM to the main process, die with it.

    ``close_fds``: descriptors a forked worker must not keep (the lock on
    OUT: a worker that outlived the grader would hold it).
    """
    # Ctrl-C reaches the whole terminal group: the main process stops the workers. A
    # handler, not SIG_IGN, which the kernels they start would inherit (and keep)
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)    # not the main process's handler
    for fd in close_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    _die_with(parent)
    init()


class _Pool:
    """The grading processes: built when needed, rebuilt after a worker died.

    :meth:`discard` stops them at once: the queue is cancelled and each
    worker (the executor's ``_processes``) is killed with every process it
    started. A ``ProcessPoolExecutor`` does not kill busy workers itself.
    """

    def __init__(self, jobs, procs, close_fds=()):
        self.jobs, self.procs, self.executor = jobs, procs, None
        self.close_fds = tuple(close_fds)

    def submit(self, fn, spec):
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.jobs, initializer=_init_worker,
                initargs=(os.getpid(), self.close_fds, init_worker))
        return self.executor.submit(fn, spec)

    def call(self, fn, spec):
        fut = self.submit(fn, spec)
        try:
            return fut.result()
        except BrokenProcessPool:
            self.discard()
            raise

    def close(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def discard(self):
        with _signals_deferred():
            ex = self.executor
            if ex is None:
                return
            workers = dict(getattr(ex, "_processes", None) or {})   # shutdown() forgets them
            ex.shutdown(wait=False, cancel_futures=True)
            self.procs.kill({pid for pid, p in workers.items() if p.exitcode is None})
            for p in workers.values():
                p.join(5)
            ex.shutdown(wait=True)
            self.executor = None


# ----------------------------------------------------------------------------------------
# the output folder


def _lexists(*parts):
    return os.path.lexists(os.path.join(*parts))


def _fsync(path, flags=os.O_RDONLY):
    with contextlib.suppress(OSError):
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap(out, staging, aside, interrupted=lambda: False):
    """Move the new outputs of ``staging`` into ``out``; the old ones end in ``aside``, deleted.

    ``staging`` must hold every name of ``_OUTPUTS`` and nothing else. The
    order and what a crash at each step leaves are in the module
    docstring. If ``interrupted()`` is true once the outputs are in, or if
    anything raises, the swap is rolled back and the old outputs are back.

    Returns
    -------
    bool
        Whether the new outputs are in place.
    """
    os.mkdir(aside)
    committed = False
    try:
        for name in _OUTPUTS:
            if _lexists(out, name):
                os.rename(os.path.join(out, name), os.path.join(aside, name))
        for name in reversed(_OUTPUTS):
            os.rename(os.path.join(staging, name), os.path.join(out, name))
        _fsync(out)
        if not interrupted():
            os.rmdir(staging)                     # the commit
            committed = True
    except BaseException:
        _rollback(out, staging, aside)
        raise
    if not committed:
        _rollback(out, staging, aside)
        return False
    _fsync(out)
    shutil.rmtree(aside, ignore_errors=True)
    return True


def _rollback(out, staging, aside):
    """Undo a swap that did not commit (idempotent: it resumes a rollback that was cut short).

    A name the staging folder lacks was moved into OUT: the new output goes
    back to the staging folder; then the old outputs come back from
    ``aside`` (``grades.csv`` last, so that it marks a complete set).
    """
    for name in _OUTPUTS:
        if not _lexists(staging, name) and _lexists(out, name):
            os.rename(os.path.join(out, name), os.path.join(staging, name))
    for name in reversed(_OUTPUTS):
        if _lexists(aside, name) and not _lexists(out, name):
            os.rename(os.path.join(aside, name), os.path.join(out, name))
    _fsync(out)


def _settle(out, staging, aside):
    """Leave ``out`` with one complete set, whatever point a run stopped at; remove its folders.

    Returns True if a swap that had not committed was rolled back.
    """
    rolled = False
    if os.path.isdir(aside):
        if os.path.isdir(staging):                # the swap began, did not commit
            _rollback(out, staging, aside)
            rolled = True
        shutil.rmtree(aside)                      # empty now, or the old set after a commit
    shutil.rmtree(staging, ignore_errors=True)
    return rolled


def _recover(out, echo):
    """Settle what a run killed outright (SIGKILL, power cut) left in ``out``."""
    names = sorted(os.listdir(out))
    for name in names:
        if name.startswith(_ASIDE) and os.path.isdir(os.path.join(out, name)):
            staging = os.path.join(out, _STAGING + name[len(_ASIDE):])
            if _settle(out, staging, os.path.join(out, name)):
                echo("  an earlier run was killed while putting its results in place: "
                     "the results before it are back")
    for name in names:
        if name.startswith(_STAGING):
            shutil.rmtree(os.path.join(out, name), ignore_errors=True)


# ----------------------------------------------------------------------------------------
# the run


class _Run:
    """State of one grading run (paths, course, results)."""

    def __init__(self, course, submissions, out, jobs, timeout, echo, sandbox=True):
        self.course, self.jobs = course, jobs
        self.echo = lambda line: echo(report.printable(line))
        self.submissions = os.path.abspath(submissions)
        self.out = os.path.abspath(out)
        self.timeout = timeout
        self.sandbox = bool(sandbox)
        self.work = self.staging = self.aside = None

    def make_folders(self):
        """The work folder (temporary folder) and the staging folder (in OUT)."""
        self.work = os.path.realpath(tempfile.mkdtemp(prefix="lessonlib-grade-"))
        self.template = os.path.join(self.work, "template")
        self.template_db = os.path.join(self.work, "gradebook-template.db")
        self.staging = tempfile.mkdtemp(prefix=_STAGING, dir=self.out)
        self.aside = os.path.join(self.out, _ASIDE + os.path.basename(self.staging)[len(_STAGING):])

    def remove_folders(self):
        if self.work:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.staging:
            _settle(self.out, self.staging, self.aside)

    def release_notebooks(self, assignments):
        rel = {}
        for a in assignments:
            rel[a] = {}
            for nb in self.course.assignments[a]:
                path = os.path.join(self.template, self.course.release_dir, a, nb + ".ipynb")
                with open(path, encoding="utf-8") as fh:
                    rel[a][nb] = json.load(fh)
        return rel

    def hidden(self, assignments):
        out = {}
        for a in assignments:
            lines = []
            for nb in self.course.assignments[a]:
                with open(self.course.path(self.course.source_dir, a, nb + ".ipynb"),
                          encoding="utf-8") as fh:
                    for c in json.load(fh).get("cells", []):
                        lines += hidden_test_lines(cell_source(c))
            out[a] = [ln for ln in lines if len(ln) >= 12]
        return out

    def student_spec(self, sid, todo, hidden):
        deny = [self.course.root, self.work, self.submissions, self.out]
        execute = {"deny_paths": deny, "scratch_root": os.path.join(self.work, "kernels")}
        if self.timeout is not None:
            execute["timeout"] = int(self.timeout)
        return {"student": sid, "root": os.path.join(self.work, "students", sid),
                "template": self.template, "submission": os.path.join(self.work, "intake", sid),
                "assignments": todo, "source_dir": self.course.source_dir,
                "course_id": self.course.course_id, "hidden": hidden, "execute": execute,
                "sandbox": self.sandbox}


def _progress(k, n, sid, result, started):
    parts = []
    for a, res in sorted(result["assignments"].items()):
        if res["success"]:
            parts.append(f"{a} {fmt(res['score'])}/{fmt(res['max_score'])}")
        else:
            parts.append(f"{a} failed")
    return f"[{k}/{n}] {sid}: {', '.join(parts)} ({time.monotonic() - started:.0f} s)"


def grade(submissions, out, jobs=1, assignments=None, timeout=None, root=".", echo=print,
          sandbox=True, scheduler=None, gradebook_url=None):
    """Grade every submission with nbgrader; write grades, feedback and a summary.

    Parameters
    ----------
    submissions : str
        Folder ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's
        submitted layout) or a ``.zip`` of one.
    out : str
        Output folder: ``grades.csv``, ``feedback/<student>/<assignment>/``,
        ``autograded/`` (executed notebooks), ``gradebook.db`` (nbgrader's,
        merged), ``nbgrader_grades.csv`` (nbgrader export), ``logs/``,
        ``report.json`` and ``report.html`` (the class report).
        These are replaced together when the run completes, and left as
        they were by a run that does not; other files are left alone.
    jobs : int
        Students graded at the same time.
    assignments : sequence of str, optional
        Assignments to grade (default: every assignment found in the
        submissions).
    timeout : float, optional
        Per-cell execution timeout in seconds (default: the course's
        ``nbgrader_config.py``).
    root : str
        The course folder (with ``nbgrader_config.py``).
    echo : callable
        Where progress and the summary go (non-printable characters are
        shown escaped).
    sandbox : bool
        Run the kernels in the bubblewrap sandbox (checked once the
        arguments and the course are, before anything else). Without it
        every row is flagged ``graded without a sandbox``.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://HOST:PORT``): every student's
        job is sent to its cluster as data (:mod:`lessonlib.grading.distributed`);
        the sandbox then runs on the workers. At least as many students as
        the cluster has threads are in flight at once.
    gradebook_url : str, optional
        An nbgrader database (SQLAlchemy URL: ``sqlite:////abs/gradebook.db``,
        ``postgresql+psycopg://user:password@host/db``), for example the
        course's own: once OUT is written, the graded assignments and
        submissions are written there too, through nbgrader's API
        (:mod:`lessonlib.grading.gradebook`). It is checked before OUT is
        touched; a rerun updates what it wrote and keeps manual grades.

    Returns
    -------
    list of dict
        The rows of ``grades.csv`` (not escaped for spreadsheets).

    Raises
    ------
    GradingError
        For wrong arguments or a course nbgrader cannot build;
        :class:`OutputLocked` when another run writes to ``out``; when
        ``gradebook_url`` cannot be reached (before OUT is touched) or
        written (after OUT is, and the summary printed).
    lessonlib.grading.sandbox.SandboxUnavailable
        When ``sandbox`` is true and bubblewrap cannot run here.
    Terminated
        On SIGTERM (a ``SystemExit``); like KeyboardInterrupt, OUT is left
        as it was.
    """
    _check_args(submissions, out, jobs, timeout)
    course = Course.load(root)
    wanted = course.select(assignments) if assignments else None
    if os.path.realpath(out) == os.path.realpath(course.root):
        raise GradingError(f"--out {out} is the course folder, whose gradebook.db nbgrader "
                           f"uses; choose another folder.")
    if gradebook_url is not None:
        try:
            gradebook.check_url(gradebook_url)   # before OUT is touched
        except gradebook.GradebookError as exc:
            raise GradingError(str(exc)) from None
    client = None
    if scheduler is not None:
        client = _connect(scheduler)   # before OUT is touched
    elif sandbox:
        _sandbox.check_available()
    run = _Run(course, submissions, out, jobs, timeout, echo, sandbox)
    started = time.monotonic()
    lock, procs = _OutLock(run.out), None
    with _sigterm_raises():
        try:
            os.makedirs(run.out, exist_ok=True)
            lock.acquire()
            _recover(run.out, run.echo)
            procs = _Processes()
            run.make_folders()
            pool = _Pool(1 if client else run.jobs, procs, [lock.fd])
            if client is not None:
                from .distributed import DaskPool
                pool = DaskPool(client, pool, run.work)
                run.jobs = max(run.jobs, pool.width())
            rows, graded = _grade(run, wanted, started, pool)
            _publish(run)
            unwritten = None if gradebook_url is None else _write_gradebook(run, gradebook_url)
            if client is not None:
                for w in sorted(pool.workers.values(), key=lambda w: w.get("pid") or 0):
                    run.echo(f"  graded on a Dask worker: pid {w.get('pid')}, "
                             f"temporary folder {w.get('tmp')}")
        finally:
            with _signals_deferred():
                try:
                    if procs is not None:
                        procs.close()
                    run.remove_folders()
                finally:
                    try:
                        if client is not None:
                            client.close(timeout=10)
                    except Exception:  # noqa: BLE001  a scheduler gone away
                        pass
                    lock.release()
    report.summary(run, rows, graded, started)
    run.echo(f"class report: {os.path.join(run.out, class_report.HTML_NAME)}")
    if unwritten:
        raise GradingError(unwritten)
    return rows


def _write_gradebook(run, url):
    """Write OUT's merged gradebook into the one at ``url``; the reason if it fails."""
    merged = gradebook.sqlite_url(os.path.join(run.out, "gradebook.db"), read_only=True)
    course_id, shown = run.course.course_id, gradebook.show_url(url)
    try:
        gradebook.copy_definitions(merged, url, course_id)
        pairs = gradebook.submissions(merged, course_id)
        n = gradebook.merge(merged, url, course_id, pairs)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        first = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return (f"--gradebook {shown}: not completely written ({type(exc).__name__}: {first}); "
                f"OUT has every result, and a rerun writes the gradebook again")
    run.echo(f"gradebook {shown}: {n} submission(s) of "
             f"{len({s for s, _ in pairs})} student(s) written")
    return None


def _connect(address):
    from . import distributed
    try:
        return distributed.connect(address)
    except distributed.DistributedMissing as exc:
        raise GradingError(str(exc)) from None
    except OSError as exc:
        raise GradingError(str(exc)) from None


def _publish(run):
    """Swap the staging folder's outputs into OUT (see the module docstring)."""
    for name in os.listdir(run.staging):
        if name not in _OUTPUTS:
            path = os.path.join(run.staging, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    missing = [n for n in _OUTPUTS if not _lexists(run.staging, n)]
    if missing:
        raise GradingError(f"the run did not write {', '.join(missing)}")
    for name in _OUTPUTS:   # the files on disk before the renames that publish them
        if os.path.isfile(os.path.join(run.staging, name)):
            _fsync(os.path.join(run.staging, name), os.O_RDWR)
    _fsync(run.staging)
    with _signals_deferred() as pending:
        _swap(run.out, run.staging, run.aside, interrupted=lambda: bool(pending))


def _grade(run, wanted, started, pool):
    course, echo = run.course, run.echo
    template_for = wanted or course.select()
    echo(f"grading {run.submissions} with {run.jobs} job(s); results in {run.out}")
    try:
        try:
            tpl = pool.call(build_template, {
                "root": run.template, "course_root": course.root,
                "source_dir": course.source_dir, "release_dir": course.release_dir,
                "course_id": course.course_id, "assignments": template_for})
        except BrokenProcessPool as exc:
            raise GradingError(f"the worker building the template died ({exc})") from None
        if not tpl["ok"]:
            raise GradingError(tpl["error"])
        # the gradebook as nbgrader made it, before any student's job runs
        shutil.copy(os.path.join(run.template, "gradebook.db"), run.template_db)
        echo(f"gradebook ready: {len(template_for)} assignment(s) "
             f"({time.monotonic() - started:.0f} s)")
        release_nbs = run.release_notebooks(template_for)
        intake = read_submissions(run.submissions, os.path.join(run.work, "intake"), course,
                                  release_nbs)
        graded = wanted or sorted({a for _, a in intake.submissions})
        students = intake.students
        echo(f"{len(students)} student(s), assignment(s): {', '.join(graded) or 'none'}")
        if not students:
            echo(f"  no student folder found in {run.submissions}: the layout is "
                 f"<student>/<assignment>/<notebook>.ipynb")
        for line in intake.ignored:
            echo(f"  ignored {line}")
        hidden = run.hidden(graded)
        specs = {}
        for sid in students:
            todo = [a for a in graded if (sid, a) in intake.submissions
                    and intake.submissions[(sid, a)].gradable]
            if todo:
                specs[sid] = run.student_spec(sid, todo, hidden)
        audits = _audit(intake, graded, release_nbs)
        results = _grade_students(run, pool, specs, started)
        merged = os.path.join(run.staging, "gradebook.db")
        shutil.copy(run.template_db, merged)
        for sid, res in sorted(results.items()):
            _merge_student(run, merged, sid, res)
        pool.call(export_grades, {"db": merged, "course_id": course.course_id,
                                  "to": os.path.join(run.staging, "nbgrader_grades.csv")})
        pool.close()
    finally:
        pool.discard()   # nothing left after close(); everything killed otherwise
    rows = report.rows(run, intake, graded, results, audits)
    report.write(run, rows, results)
    class_report.write(run, rows, results, graded, echo=echo)
    return rows, graded


def _failed(spec, reason):
    return {"student": spec["student"],
            "assignments": {a: {"success": False, "reason": reason} for a in spec["assignments"]}}


def _grade_students(run, pool, specs, started):
    """Every student's result; one that cannot be graded fails alone, with the reason."""
    results = {}

    def done(sid, res):
        results[sid] = res
        run.echo(_progress(len(results), len(specs), sid, res, started))

    again = _batch(pool, specs, sorted(specs), run.jobs, done)
    if again:
        run.echo(f"  a grading worker died while grading {', '.join(again)}: grading "
                 f"them again one at a time")
        _batch(pool, specs, again, 1, done)
    return results


def _batch(pool, specs, sids, width, done):
    """Grade ``sids``, ``width`` at a time; return those to grade again alone.

    When a worker dies, the pool breaks and every job in it fails: a job
    that was alone in it gets a failed result; the others are returned.
    """
    queue, running, again = deque(sids), {}, []
    while queue or running:
        while queue and len(running) < width:
            sid = queue.popleft()
            running[pool.submit(grade_student, specs[sid])] = sid
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        broken = []
        for fut in sorted(finished, key=running.get):
            sid = running.pop(fut)
            try:
                done(sid, fut.result())
            except BrokenProcessPool as exc:
                broken.append((sid, exc))
            except Exception as exc:   # a job that raised fails its student only
                done(sid, _failed(specs[sid], f"the grading worker failed "
                                              f"({type(exc).__name__}: {exc})"))
        if broken:   # the pool is gone, with every job still in it
            wait(running)
            for fut in sorted(running, key=running.get):
                sid = running.pop(fut)
                try:
                    done(sid, fut.result())
                except BrokenProcessPool as exc:
                    broken.append((sid, exc))
                except Exception as exc:
                    done(sid, _failed(specs[sid], f"the grading worker failed "
                                                  f"({type(exc).__name__}: {exc})"))
            pool.discard()
            if len(broken) == 1:
                sid, exc = broken[0]
                done(sid, _failed(specs[sid], f"the grading worker process died while "
                                              f"grading this student (out of memory? "
                                              f"{type(exc).__name__})"))
            else:
                again += sorted(sid for sid, _ in broken)
    return again


def _merge_student(run, merged, sid, res):
    """Merge one student's gradebook, if its schema is nbgrader's; else fail their rows."""
    ok = [a for a, r in sorted(res["assignments"].items()) if r.get("success")]
    if not ok:
        return
    worker_db = os.path.join(run.work, "students", sid, "gradebook.db")
    reason = None
    try:
        problems = report.check_schema(run.template_db, worker_db)
        if problems:
            reason = f"the student's gradebook was tampered with ({', '.join(problems)})"
        else:
            gradebook.merge(gradebook.sqlite_url(worker_db, read_only=True),
                            gradebook.sqlite_url(merged), run.course.course_id,
                            [(sid, a) for a in ok])
    except (sqlite3.Error, OSError, ValueError, SQLAlchemyError) as exc:
        # ValueError: nbgrader's MissingEntry and InvalidEntry
        reason = f"the student's gradebook could not be merged ({type(exc).__name__}: {exc})"
    if reason:
        for a in ok:
            res["assignments"][a] = {"success": False, "reason": reason,
                                     "log": res["assignments"][a].get("log", "")}


def _audit(intake, graded, release_nbs):
    reference = reference_names()
    found = {}
    for (sid, a), sub in intake.submissions.items():
        if a not in graded:
            continue
        items = []
        for nb in sub.notebooks:
            with open(os.path.join(sub.folder, nb + ".ipynb"), encoding="utf-8") as fh:
                data = json.load(fh)
            items += audit_notebook(data, release_nbs[a][nb], reference)
        found[(sid, a)] = items
    return found
