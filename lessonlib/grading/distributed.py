"""Grading beyond one machine: each student's job on an existing Dask cluster.

``lessonlib grade SUBMISSIONS --out OUT --scheduler tcp://HOST:PORT`` sends
every student's job to the Dask scheduler at that address
(``distributed.Client``); the template, the intake, the merge and the
reports stay on the instructor's machine, in :mod:`lessonlib.grading.run`,
with its guarantees (staging folder, atomic swap, rollback).

What travels
------------
No shared file system is assumed. A job is self-contained data:

* the course's grading bundle (the template folder made by
  :func:`~lessonlib.grading.jobs.build_template`: configuration, source,
  gradebook, kernel ``lessonlib`` overlays, the seed secret) as one
  in-memory tar, sent to the cluster once (``scatter``, to every worker);
* the student's prepared submission (``<assignment>/<notebook>.ipynb``) as
  an in-memory tar;
* the spec of :func:`~lessonlib.grading.jobs.grade_student` without any of
  the instructor's paths (student, assignments, course id, hidden test
  lines, timeout, sandbox).

The worker (:func:`grade_remote`) unpacks them into a temporary folder of
its own, grades with the same ``grade_student`` (the sandbox runs there:
workers need bubblewrap and lessonlib installed), and returns the result
with the student's gradebook, feedback and executed notebooks as a tar;
its temporary folder's path in the result is replaced by a placeholder the
orchestrator turns into its own work folder, so rows read as for a local
run. The orchestrator unpacks the files (``tarfile``'s ``data`` filter:
no link, no absolute path, nothing outside) where a local job would have
written them. Sizes are capped (:data:`MAX_BUNDLE`, :data:`MAX_SUBMISSION`,
:data:`MAX_RESULT`): past them the student fails with the reason.

A worker that dies
------------------
The scheduler gives the tasks of a worker that died to another worker (up
to ``distributed.scheduler.allowed-failures`` times); a task that raised is
tried once more (``retries=1``). A student whose task still fails (Dask's
``KilledWorker``, a lost connection) is reported ``failed`` with the
reason, never missing.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import shutil
import tarfile
import tempfile
import threading

__all__ = ["DaskPool", "DistributedMissing", "connect", "grade_remote", "pack", "unpack",
           "payload", "EXTRA_HINT"]

EXTRA_HINT = 'pip install "lessonlib[cluster]"'
MAX_BUNDLE = 256 << 20       # the template, packed
MAX_SUBMISSION = 64 << 20    # one student's notebooks, packed
MAX_RESULT = 256 << 20       # one student's gradebook, feedback and executed notebooks
PLACEHOLDER = "\x00lessonlib-worker-root\x00"
CONNECT_TIMEOUT = 10         # seconds to reach the scheduler


class DistributedMissing(RuntimeError):
    """``--scheduler`` without Dask's distributed package."""


def available():
    import importlib.util
    return importlib.util.find_spec("distributed") is not None


# ----------------------------------------------------------------------------------------
# folders as data


def pack(folder, limit, what):
    """The files under ``folder`` as tar bytes (regular files and folders only)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    tar.add(path, arcname=os.path.relpath(path, folder), recursive=False)
            if buf.tell() > limit:
                break
    data = buf.getvalue()
    if len(data) > limit:
        raise ValueError(f"{what} is larger than {limit >> 20} MiB packed")
    return data


def unpack(data, dest):
    """Extract tar bytes into ``dest`` (no links, nothing outside ``dest``)."""
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            if not (m.isfile() or m.isdir()):
                raise ValueError(f"unexpected member {m.name!r} in a packed folder")
        tar.extractall(dest, filter="data")


def _replace(obj, old, new):
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, dict):
        return {k: _replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace(v, old, new) for v in obj)
    return obj


# ----------------------------------------------------------------------------------------
# on the worker

_init_lock = threading.Lock()
_initialised = False


def payload(spec):
    """What a job carries besides the bundle: ``spec`` without the orchestrator's paths."""
    keep = ("student", "assignments", "source_dir", "course_id", "hidden", "sandbox", "limits")
    out = {k: spec[k] for k in keep if k in spec}
    if spec.get("execute", {}).get("timeout"):
        out["execute"] = {"timeout": int(spec["execute"]["timeout"])}
    out["submission"] = pack(spec["submission"], MAX_SUBMISSION,
                             f"the submission of {spec['student']}")
    return out


def grade_remote(job, bundle):
    """Grade one student on a Dask worker, from data only; return data only.

    ``job``: :func:`payload`'s dict; ``bundle``: the template as tar bytes.
    Returns ``{"result": grade_student's dict, "files": tar bytes of the
    student's course folder's gradebook, feedback and autograded,
    "worker": {"pid", "cwd", "tmp"}}``.
    """
    global _initialised
    from .jobs import grade_student, init_worker
    with _init_lock:
        if not _initialised:
            init_worker()
            _initialised = True
    # short: the kernels' unix sockets live in here (paths of at most 107 bytes)
    base = os.path.realpath(tempfile.gettempdir())
    if len(base) > 48 and os.path.isdir("/tmp"):
        base = "/tmp"
    work = os.path.realpath(tempfile.mkdtemp(prefix="llg-", dir=base))
    try:
        tpl = os.path.join(work, "t")
        unpack(bundle, tpl)
        sid = job["student"]
        sub = os.path.join(work, "intake", sid)
        unpack(job["submission"], sub)
        spec = {k: v for k, v in job.items() if k != "submission"}
        spec.update({"root": os.path.join(work, "students", sid), "template": tpl,
                     "submission": sub})
        spec.setdefault("execute", {})
        result = grade_student(spec)
        root = spec["root"]
        keep = os.path.join(work, "keep")
        os.makedirs(keep)
        if os.path.isfile(os.path.join(root, "gradebook.db")):
            shutil.copy(os.path.join(root, "gradebook.db"), keep)
        for kind in ("feedback", "autograded"):
            if os.path.isdir(os.path.join(root, kind)):
                shutil.copytree(os.path.join(root, kind), os.path.join(keep, kind))
        files = pack(keep, MAX_RESULT, f"the results of {sid}")
        return {"result": _replace(result, work, PLACEHOLDER), "files": files,
                "worker": {"pid": os.getpid(), "cwd": os.getcwd(),
                           "tmp": os.path.dirname(work)}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------------------
# on the orchestrator


def connect(address, timeout=CONNECT_TIMEOUT):
    """A ``distributed.Client`` on the scheduler at ``address``.

    Raises
    ------
    DistributedMissing
        Without the distributed package.
    OSError
        When nothing answers at ``address`` within ``timeout`` seconds.
    """
    if not available():
        raise DistributedMissing(f"--scheduler needs Dask's distributed package; install "
                                 f"it with {EXTRA_HINT}")
    import distributed
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001  TimeoutError, OSError, ValueError (bad address)
        raise OSError(f"cannot reach the Dask scheduler at {address} "
                      f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None


class DaskPool:
    """:class:`lessonlib.grading.run._Pool`'s interface, students graded on a Dask cluster.

    :meth:`submit` of ``grade_student`` sends the job to the cluster and
    returns a ``concurrent.futures.Future`` whose result is the student's
    result, once its files are unpacked under the spec's ``root``.
    Everything else (:meth:`call`: the template, the export) runs in
    ``local``, the orchestrator's own process pool.
    """

    def __init__(self, client, local, work):
        self.client, self.local, self.work = client, local, work
        self.bundle = None
        self.workers = {}
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=4)
        self._futures = []

    def width(self):
        """Students in flight at once: the cluster's threads (at least 1)."""
        info = self.client.scheduler_info()
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def _bundle(self, template):
        if self.bundle is None:
            data = pack(template, MAX_BUNDLE, "the course's grading bundle")
            self.bundle = self.client.scatter(data, broadcast=True, hash=False)
        return self.bundle

    def submit(self, fn, spec):
        from .jobs import grade_student
        if fn is not grade_student:
            return self.local.submit(fn, spec)
        out = concurrent.futures.Future()
        try:
            job = payload(spec)
            bundle = self._bundle(spec["template"])
        except (OSError, ValueError) as exc:
            out.set_exception(exc)
            return out
        fut = self.client.submit(grade_remote, job, bundle, pure=False, retries=1,
                                 key=f"lessonlib-grade-{spec['student']}-{os.urandom(4).hex()}")
        self._futures.append(fut)
        fut.add_done_callback(lambda f: self._threads.submit(self._collect, f, spec, out))
        return out

    def _collect(self, fut, spec, out):
        try:
            got = fut.result()
            dest = spec["root"]
            shutil.rmtree(dest, ignore_errors=True)
            unpack(got["files"], dest)
            w = got.get("worker") or {}
            self.workers.setdefault(w.get("pid"), w)
            out.set_result(_replace(got["result"], PLACEHOLDER, self.work))
        except BaseException as exc:  # noqa: BLE001  the student fails with the reason
            out.set_exception(exc)
        finally:
            fut.release()

    def call(self, fn, spec):
        return self.local.call(fn, spec)

    def close(self):
        self.local.close()

    def discard(self):
        try:
            for fut in self._futures:
                if not fut.done():
                    fut.cancel()
        except Exception:  # noqa: BLE001  a closing client
            pass
        self._futures = []
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.local.discard()
