"""The operating-system sandbox every student's kernel runs in (bubblewrap).

:class:`Sandbox` builds the command that starts a kernel inside
`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``):

* its own user, PID, network, IPC, UTS and mount namespaces
  (``--unshare-all``), user and group 65534 (nobody), killed with the
  grader's worker (``--die-with-parent``) and, PID namespace, with every
  process it started; it sees no process of the machine, so it can signal
  none;
* a file system made only of what is bound in: the operating system's
  ``/usr`` (read-only), the Python installation and its packages
  (read-only), a copy of ``lessonlib`` made for the assignment
  (:mod:`lessonlib.grading.references`, read-only, first on
  ``PYTHONPATH``), the assignment's support files (read-only), a
  size-capped ``/tmp`` (the only writable place, the working folder
  ``/tmp/work`` and ``HOME`` are in it), and the folder of the kernel's
  unix sockets. Not the course, the solutions, other students, the
  grading folders, the gradebooks, the submissions or OUT;
* no network: the network namespace has only its own loopback; the
  kernel talks to the grader over ZeroMQ's ``ipc`` transport (unix
  sockets in the bound socket folder, which the grader makes read-only
  for the kernel as soon as the kernel has bound them);
* an environment built from an allowlist (:data:`ENV`), never the
  grader's;
* resource limits set by a tiny launcher before ``bwrap`` starts
  (inherited by everything inside): address space, file size, open
  files, CPU seconds, core dumps off; and, where this machine lets the
  grader make cgroups (``/sys/fs/cgroup/pids`` and ``memory``, cgroup v1),
  a cap on the number of processes and on the memory of the whole
  sandbox. Without cgroups, a fork bomb is limited only by the memory and
  CPU limits of each process, and by the wall-clock limit that kills the
  sandbox (see :attr:`Limits.wall_seconds`).

The verdict is never decided inside: see :mod:`lessonlib.grading.verdict`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from dataclasses import dataclass

from .course import CourseError

__all__ = ["SandboxUnavailable", "Limits", "Sandbox", "find_bwrap", "check_available",
           "INSTALL_HINT", "ENV"]

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                "Fedora: `sudo dnf install bubblewrap`), or pass --no-sandbox to grade "
                "without isolation (every row is then flagged)")

#: Variables the kernel gets (values filled in by :meth:`Sandbox.env`).
ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
       "MPLCONFIGDIR", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
       "PYDEVD_DISABLE_FILE_VALIDATION", "LESSONLIB_GRADING")

_UID = 65534
_CGROUP_ROOT = "/sys/fs/cgroup"

# Runs before bwrap: set the limits, join the cgroups, exec bwrap. No imports
# beyond the standard library, so that it starts in milliseconds.
_LAUNCHER = r"""
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
for procs in spec["cgroups"]:
    try:
        with open(procs, "w") as fh:
            fh.write(str(os.getpid()))
    except OSError:
        pass
os.execv(sys.argv[2], sys.argv[2:])
"""


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot make a sandbox on this machine."""


def find_bwrap():
    """Path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def check_available():
    """Raise :class:`SandboxUnavailable` unless a sandbox can be made here.

    Besides finding ``bwrap``, starts one empty sandbox with the namespaces
    grading uses: a machine (or a container) that forbids user namespaces
    is told so here, not by every student's kernel failing to start.
    """
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}.")
    try:
        proc = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--uid", str(_UID),
                               "--gid", str(_UID), "--ro-bind", "/", "/", "--proc", "/proc",
                               "--dev", "/dev", "true"], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) could not be run ({exc}); "
                                 f"{INSTALL_HINT}.") from None
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().splitlines()
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap}) cannot make a sandbox on this machine "
            f"({why[-1] if why else f'exit status {proc.returncode}'}); it needs user "
            f"namespaces (in a container, allow them), or pass --no-sandbox to grade without "
            f"isolation (every row is then flagged).")


@dataclass
class Limits:
    """What one notebook's kernel may use.

    Attributes
    ----------
    memory_bytes : int
        Address space of each process (``RLIMIT_AS``) and, with cgroups, the
        memory of the whole sandbox.
    file_bytes : int
        Largest file a process may write (``RLIMIT_FSIZE``).
    tmp_bytes : int
        Size of the writable ``/tmp``.
    processes : int
        Processes and threads in the sandbox (needs the pids cgroup).
    open_files : int
        Open file descriptors per process.
    cpu_seconds : int
        CPU time of each process (``RLIMIT_CPU``); past it the kernel dies.
    wall_seconds : int
        Wall-clock time of the whole notebook; past it the grader stops the
        kernel and the remaining cells are not run.
    output_bytes : int
        Bytes of output (streams and display data) the notebook may produce;
        the rest is dropped and the submission flagged.
    """

    memory_bytes: int = 2 * 1024 ** 3
    file_bytes: int = 64 * 1024 ** 2
    tmp_bytes: int = 256 * 1024 ** 2
    processes: int = 128
    open_files: int = 512
    cpu_seconds: int = 900
    wall_seconds: int = 900
    output_bytes: int = 4 * 1024 ** 2


def _cgroup_dirs(name, limits):
    """Make a pids and a memory cgroup (v1) for one kernel; return their folders."""
    made = []
    for controller, files in (("pids", {"pids.max": limits.processes}),
                              ("memory", {"memory.limit_in_bytes": limits.memory_bytes,
                                          "memory.memsw.limit_in_bytes": None})):
        base = os.path.join(_CGROUP_ROOT, controller)
        if not os.access(base, os.W_OK):
            continue
        folder = os.path.join(base, name)
        try:
            os.mkdir(folder)
            for fname, value in files.items():
                if value is None:
                    value = limits.memory_bytes
                try:
                    with open(os.path.join(folder, fname), "w") as fh:
                        fh.write(str(value))
                except OSError:
                    if fname.startswith("pids") or fname == "memory.limit_in_bytes":
                        raise
        except OSError:
            try:
                os.rmdir(folder)
            except OSError:
                pass
            continue
        made.append(folder)
    return made


def _python_roots():
    """Folders of this Python installation and its packages (bound read-only)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    real = {os.path.realpath(r) for r in roots if r and os.path.isdir(r)}
    real |= {r for r in roots if r and os.path.isdir(r)}
    # keep the outermost folders only
    out = []
    for r in sorted(real, key=len):
        if not any(r == o or r.startswith(o + os.sep) for o in out):
            out.append(r)
    return out


def _hidden_packages():
    """Installed packages the kernel must not see: ready-made oracles.

    PyTorch, and the real ``lessonlib`` when it is installed inside the
    Python installation (a non-editable install): the kernel imports its own
    copy (:mod:`lessonlib.grading.references`) and must not reach this one.
    """
    out = []
    for key in ("purelib", "platlib"):
        site = sysconfig.get_paths().get(key)
        for name in ("torch",):
            path = os.path.join(site or "", name)
            if site and os.path.isdir(path) and path not in out:
                out.append(path)
    real = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if any(real.startswith(root + os.sep) for root in _python_roots()) and real not in out:
        out.append(real)
    return out


class Sandbox:
    """One kernel's sandbox: its folders, its bwrap command, its cleanup.

    Parameters
    ----------
    work : str
        A folder of the grader's (outside every bound path) in which the
        socket folder is made.
    lessonlib_path : str
        Folder holding the kernel's ``lessonlib`` package (put first on the
        kernel's ``PYTHONPATH``).
    support : str, optional
        Folder of the assignment's support files, bound read-only into the
        working folder.
    limits : Limits, optional
    """

    WORKDIR = "/tmp/work"
    HOME = "/tmp/home"
    LIB = "/opt/lessonlib-kernel"

    def __init__(self, work, lessonlib_path, support=None, limits=None):
        self.limits = limits or Limits()
        self.lessonlib_path = lessonlib_path
        self.support = support
        os.makedirs(work, exist_ok=True)
        # short: unix socket paths are limited to 107 bytes
        self.ipc_dir = tempfile.mkdtemp(prefix="k", dir=work)
        os.chmod(self.ipc_dir, 0o700)
        self.name = "lessonlib-" + uuid.uuid4().hex[:12]
        self.cgroups = []

    # -- the command --------------------------------------------------------
    def env(self):
        """The kernel's whole environment."""
        bindir = os.path.dirname(sys.executable)
        return {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": self.HOME,
                "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                "PYTHONPATH": self.LIB, "PYTHONDONTWRITEBYTECODE": "1",
                "MPLCONFIGDIR": self.HOME + "/.matplotlib", "OPENBLAS_NUM_THREADS": "1",
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1", "LESSONLIB_GRADING": "1"}

    def _bwrap_args(self):
        # the writable /tmp first: what is bound below (a Python installed under /tmp,
        # the socket folder) must land on top of it, not under it
        a = [find_bwrap() or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
             "--uid", str(_UID), "--gid", str(_UID), "--hostname", "sandbox",
             "--proc", "/proc", "--dev", "/dev",
             "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp",
             "--dir", self.WORKDIR, "--dir", self.HOME,
             "--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                a += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                a += ["--ro-bind", top, top]
        for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                  "/etc/fonts", "/etc/mime.types"):
            if os.path.exists(f):
                a += ["--ro-bind", f, f]
        for root in _python_roots():
            a += ["--ro-bind", root, root]
        for hidden in _hidden_packages():
            a += ["--tmpfs", hidden, "--remount-ro", hidden]
        a += ["--ro-bind", self.lessonlib_path, self.LIB,
              "--bind", self.ipc_dir, self.ipc_dir]
        if self.support and os.path.isdir(self.support):
            for name in sorted(os.listdir(self.support)):
                src = os.path.join(self.support, name)
                if not os.path.islink(src):
                    a += ["--ro-bind", src, os.path.join(self.WORKDIR, name)]
        a += ["--chdir", self.WORKDIR, "--clearenv"]
        for k, v in self.env().items():
            a += ["--setenv", k, v]
        return a + ["--"]

    def prefix(self):
        """The command to put before the kernel's own command."""
        self.cgroups = _cgroup_dirs(self.name, self.limits)
        lim = self.limits
        spec = {"rlimits": {"RLIMIT_AS": lim.memory_bytes, "RLIMIT_FSIZE": lim.file_bytes,
                            "RLIMIT_NOFILE": lim.open_files, "RLIMIT_CPU": lim.cpu_seconds,
                            "RLIMIT_CORE": 0},
                "cgroups": [os.path.join(c, "cgroup.procs") for c in self.cgroups]}
        return [sys.executable, "-S", "-c", _LAUNCHER, json.dumps(spec)] + self._bwrap_args()

    @property
    def has_process_limit(self):
        """Whether the number of processes is capped (a pids cgroup was made)."""
        return any("/pids/" in c for c in self.cgroups)

    def seal(self):
        """Make the socket folder read-only for the kernel (after it bound its sockets).

        As root, the folder is given to a user the sandbox does not map, so the
        kernel cannot make it writable again; otherwise only its mode changes.
        """
        try:
            os.chown(self.ipc_dir, _UID, _UID)
        except OSError:
            pass
        os.chmod(self.ipc_dir, 0o555)

    def _counter(self, fname, key=None):
        for c in self.cgroups:
            try:
                with open(os.path.join(c, fname)) as fh:
                    text = fh.read()
            except OSError:
                continue
            for line in text.splitlines():
                parts = line.split()
                if key is None and len(parts) == 1 and parts[0].isdigit():
                    return int(parts[0])
                if key is not None and len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
        return 0

    def memory_exceeded(self):
        """Whether the sandbox's memory cgroup hit its limit."""
        return self._counter("memory.failcnt") > 0

    def processes_exceeded(self):
        """Whether the sandbox was refused a process by its pids cgroup."""
        return self._counter("pids.events", "max") > 0

    def limits_hit(self):
        """Sentences naming each cgroup limit the sandbox reached."""
        out = []
        if self.processes_exceeded():
            out.append(f"the notebook reached the process limit ({self.limits.processes} "
                       f"processes and threads)")
        if self.memory_exceeded():
            out.append(f"the notebook reached the memory limit "
                       f"({self.limits.memory_bytes >> 20} MiB)")
        return out

    def cleanup(self):
        """Remove the socket folder and the cgroups (their processes are gone)."""
        for c in self.cgroups:
            procs = os.path.join(c, "cgroup.procs")
            try:
                with open(procs) as fh:
                    pids = [int(p) for p in fh.read().split()]
                for pid in pids:   # --die-with-parent makes this rare
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                os.rmdir(c)
            except OSError:
                pass
        self.cgroups = []
        shutil.rmtree(self.ipc_dir, ignore_errors=True)
