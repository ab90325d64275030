"""The sandbox on its own: what a process started the way grading starts kernels sees.

Each test runs a short Python program inside :class:`lessonlib.grading.sandbox.Sandbox`
(the same launcher, limits and bubblewrap command as a grading kernel) and,
as the honest control, the same program outside it.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from lessonlib.grading import sandbox
from lessonlib.grading.sandbox import Limits, Sandbox, SandboxUnavailable

pytestmark = pytest.mark.sandbox

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r"""
import json, os, resource, socket, sys
out = {"uid": os.getuid(), "pid": os.getpid(), "env": sorted(os.environ),
       "cwd": os.getcwd()}
paths, port = sys.argv[1:-1], int(sys.argv[-1])
out["sees"] = {p: os.path.exists(p) for p in paths}
try:
    socket.create_connection(("127.0.0.1", port), timeout=1)
    out["connected"] = True
except (OSError, ValueError):
    out["connected"] = False
try:
    with open("/tmp/fill", "wb") as fh:
        fh.write(b"x" * (8 * 1024 * 1024))
    out["wrote_8mb"] = True
except OSError:
    out["wrote_8mb"] = False
out["rlimit_as"] = resource.getrlimit(resource.RLIMIT_AS)[0]
for p in paths[-1:]:   # the last path: a folder of the grader's (tmp_path)
    try:
        open(os.path.join(p, "planted"), "w").write("x")
        out.setdefault("wrote_into", []).append(p)
    except OSError:
        pass
print(json.dumps(out))
"""


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


def _probe(cmd_prefix, paths, port, env=None):
    proc = subprocess.run(cmd_prefix + [sys.executable, "-c", PROBE, *paths, str(port)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_inside_the_sandbox_nothing_of_the_grader_is_visible_or_reachable(tmp_path, listener,
                                                                          monkeypatch):
    secret_dir = tmp_path / "submissions"
    secret_dir.mkdir()
    monkeypatch.setenv("LESSONLIB_TEST_GRADER_SECRET", "xyz")
    paths = [os.path.join(REPO, "README.md"), os.path.join(REPO, "lessonlib"),
             os.path.join(REPO, "solutions"), "/etc/passwd", str(secret_dir)]
    (tmp_path / "lib").mkdir()
    box = Sandbox(str(tmp_path / "k"), str(tmp_path / "lib"), limits=Limits(tmp_bytes=4 << 20))
    try:
        inside = _probe(box.prefix(), paths, listener)
    finally:
        box.cleanup()
    assert not (secret_dir / "planted").exists()
    outside = _probe([], paths, listener)
    # the honest control: outside, the same program sees, connects, writes
    assert all(outside["sees"].values()) and outside["connected"] and outside["wrote_8mb"]
    assert "LESSONLIB_TEST_GRADER_SECRET" in outside["env"]
    # inside: another user, its own PID namespace, none of those paths, no network
    assert inside["uid"] == 65534 and inside["pid"] < 10
    assert inside["sees"] == {p: False for p in paths}
    assert inside["connected"] is False
    assert inside["wrote_8mb"] is False             # /tmp was capped at 4 MiB
    assert "wrote_into" not in inside
    assert "LESSONLIB_TEST_GRADER_SECRET" not in inside["env"]
    assert set(inside["env"]) <= set(sandbox.ENV) | {"PWD", "SHLVL", "_"}
    assert inside["rlimit_as"] == Limits().memory_bytes
    assert inside["cwd"] == Sandbox.WORKDIR
    assert outside["wrote_into"] == [str(secret_dir)]   # control: writable from outside


def test_the_kernel_library_is_read_only_inside(tmp_path):
    lib = tmp_path / "lib"
    (lib / "lessonlib").mkdir(parents=True)
    (lib / "lessonlib" / "__init__.py").write_text("X = 1\n")
    box = Sandbox(str(tmp_path / "k"), str(lib))
    code = ("import lessonlib, sys\n"
            "try:\n    open(lessonlib.__file__, 'a').write('X = 2')\n    print('wrote')\n"
            "except OSError:\n    print('read-only', lessonlib.X, lessonlib.__file__)")
    try:
        proc = subprocess.run(box.prefix() + [sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=60)
    finally:
        box.cleanup()
    assert proc.stdout.split()[:2] == ["read-only", "1"], proc.stderr
    assert proc.stdout.split()[2].startswith(Sandbox.LIB)
    assert (lib / "lessonlib" / "__init__.py").read_text() == "X = 1\n"


def test_no_process_outlives_the_sandbox(tmp_path):
    marker = "lessonlib-sandbox-test-orphan"
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {marker}'],"
            " start_new_session=True)\nprint('started')")
    box = Sandbox(str(tmp_path / "k"), str(tmp_path))
    try:
        proc = subprocess.run(box.prefix() + [sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=60)
    finally:
        box.cleanup()
    assert proc.stdout.strip() == "started", proc.stderr
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                alive.append(pid)
        except OSError:
            pass
    assert alive == []


def test_a_machine_where_bubblewrap_cannot_sandbox_is_told_so(monkeypatch):
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: "/bin/false")
    with pytest.raises(SandboxUnavailable, match="cannot make a sandbox on this machine"):
        sandbox.check_available()
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.check_available()


def test_limits_reached_are_named(tmp_path):
    box = Sandbox(str(tmp_path / "k"), str(tmp_path), limits=Limits(processes=20))
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(100):\n"
            "        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n"
            "        n += 1\nexcept OSError:\n    pass\nprint(n)")
    try:
        proc = subprocess.run(box.prefix() + [sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=60)
        hit = box.limits_hit()
        limited = box.has_process_limit
    finally:
        box.cleanup()
    if not limited:
        pytest.skip("no pids cgroup here: the process count is not capped")
    assert int(proc.stdout) < 20
    assert any("process limit (20" in h for h in hit)
