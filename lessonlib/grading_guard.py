"""The grader's guard inside a student's kernel.

The grader (:mod:`lessonlib.grading_nbgrader`) runs :func:`install` in
every grading kernel before the first cell of the notebook, and asks for
:func:`report` after every grade cell, through a channel that cell code
does not go through (an execute request's ``user_expressions``). The
guard does three things:

1. **Instructor files are out of reach.** An audit hook
   (:func:`sys.addaudithook`, which Python code cannot remove) refuses to
   open, list, copy, link or connect to anything under the *denied* roots
   (the course folder, the grading run's work folder, the submissions,
   the output folder), except the *allowed* roots (the kernel's own
   scratch folder, the Python installation, the ``lessonlib`` package).
   Paths are resolved first, so ``..``, symbolic links and
   ``/proc/<pid>/cwd`` lead to the same answer. Code called from the
   notebook may not start processes, load native libraries through
   ``ctypes``, list the interpreter's objects (``gc``), open network
   connections or signal another process.
2. **Tampering is noticed.** A snapshot (:mod:`lessonlib.grading_snapshot`)
   taken before any student code runs records the functions of NumPy,
   ``lessonlib`` (checks included), ``builtins`` and ``sys``, and the
   IPython machinery that decides whether a cell failed (input and AST
   transformers, exception handlers, output streams, display hooks, event
   callbacks, the shell's and kernel's methods). :func:`report` lists
   every difference.
3. **The reference is not the answer.** Each ``lessonlib`` reference
   function is wrapped so that a call made, while a check runs, from
   code outside ``lessonlib`` to the function *of the same name as the
   one being checked* is recorded (``relu`` calling ``lessonlib.relu``).

All of this runs in the same process as the student's code. Code written
to defeat the guard itself (finding its snapshot and rewriting it, or
native code) can succeed; the static audit
(:mod:`lessonlib.grading_audit`) flags the tools such code needs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import types

from .grading_snapshot import diff, lessonlib_modules, take

__all__ = ["install", "report"]

# Audit events that name paths, and the positions of the path arguments.
_PATH_EVENTS = {
    "open": (0,), "os.listdir": (0,), "os.scandir": (0,), "glob.glob": (0,),
    "os.chdir": (0,), "os.rename": (0, 1), "os.remove": (0,), "os.rmdir": (0,),
    "os.mkdir": (0,), "os.symlink": (0, 1), "os.link": (0, 1), "os.chmod": (0,),
    "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,), "os.listxattr": (0,),
    "os.getxattr": (0,), "shutil.copyfile": (0, 1), "shutil.copymode": (0, 1),
    "shutil.copystat": (0, 1), "shutil.copytree": (0, 1), "shutil.rmtree": (0,),
    "shutil.move": (0, 1), "sqlite3.connect": (0,), "pathlib.Path.glob": (0,),
    "pathlib.Path.rglob": (0,), "os.fwalk": (0,), "os.walk": (0,),
}
# Audit events refused when notebook code is on the stack.
_STUDENT_EVENTS = {
    "subprocess.Popen": "start a process", "os.system": "run a shell command",
    "os.exec": "replace the kernel process", "os.posix_spawn": "start a process",
    "os.spawn": "start a process", "os.fork": "fork the kernel",
    "os.forkpty": "fork the kernel", "pty.spawn": "start a process",
    "ctypes.dlopen": "load a native library", "ctypes.dlsym": "look up a native symbol",
    "ctypes.dlsym/handle": "look up a native symbol",
    "gc.get_objects": "list the interpreter's objects",
    "gc.get_referrers": "inspect the interpreter's objects",
    "gc.get_referents": "inspect the interpreter's objects",
    "socket.connect": "open a network connection",
    "socket.getaddrinfo": "resolve a network address",
}
_WATCHED = frozenset(_PATH_EVENTS) | frozenset(_STUDENT_EVENTS) | {"os.kill", "os.killpg"}

_state = None


class _State:
    """Everything the guard remembers: limits, snapshot and records."""

    def __init__(self, deny, allow):
        self.deny = [_real(p) for p in deny if p]
        self.allow = [_real(p) for p in allow if p]
        self.denied = []
        self.reference = []
        self.busy = False
        self.snapshot = {}
        self.call_student = None


def _real(path):
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _under(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _is_student_frame(frame):
    if frame.f_globals.get("__name__") == "__main__":
        return True
    name = frame.f_code.co_filename
    return name.startswith("<") and not name.startswith("<frozen")


def _student_on_stack(frame, depth=64):
    while frame is not None and depth:
        if _is_student_frame(frame):
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _record(kind, text):
    items = getattr(_state, kind)
    if text not in items and len(items) < 20:
        items.append(text)


def _deny_path(event, value):
    if isinstance(value, int) or value is None:
        return
    try:
        path = _real(value if not isinstance(value, bytes) else os.fsdecode(value))
    except (TypeError, ValueError):
        return
    if any(_under(path, a) for a in _state.allow):
        return
    if any(_under(path, d) for d in _state.deny):
        _record("denied", f"{event} {path}")
        raise PermissionError(
            f"grading sandbox: {event} of {path} is not allowed while grading "
            f"(instructor files are out of reach)")


def _audit(event, args):
    if event not in _WATCHED or _state is None or _state.busy:
        return
    _state.busy = True
    try:
        if event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args):
                    _deny_path(event, args[i])
            return
        frame = sys._getframe(1)
        if not _student_on_stack(frame):
            return
        if event in ("os.kill", "os.killpg"):
            if event == "os.killpg" or (args and args[0] != os.getpid()):
                _record("denied", f"{event} {args[0] if args else ''}")
                raise PermissionError("grading sandbox: signalling another process is "
                                      "not allowed while grading")
            return
        what = _STUDENT_EVENTS[event]
        _record("denied", f"{event} ({what})")
        raise PermissionError(f"grading sandbox: code in the notebook may not {what} "
                              f"while grading")
    finally:
        _state.busy = False


# --------------------------------------------------------------- reference --

def _under_check():
    """The name of the function being checked right now, or None."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _state.call_student:
            name = frame.f_locals.get("name")
            m = re.match(r"[A-Za-z_]\w*", str(name or ""))
            return m.group(0) if m else ""
        frame = frame.f_back
    return None


def _wrap(fn, name):
    lib_call_student = _state.call_student

    @functools.wraps(fn)
    def reference(*args, **kwargs):
        caller = sys._getframe(1)
        if caller.f_code is lib_call_student:
            _record("reference", f"the function checked as {caller.f_locals.get('name')!r} "
                                 f"is lessonlib's reference {name}")
        elif not str(caller.f_globals.get("__name__", "")).startswith("lessonlib"):
            under = _under_check()
            if under is not None and under == name:
                _record("reference", f"{name} called lessonlib's reference {name} while "
                                     f"being checked")
        return fn(*args, **kwargs)

    reference._lessonlib_reference = True
    return reference


def _wrap_references():
    import lessonlib
    try:
        from lessonlib.checks import _core
    except ImportError:  # pragma: no cover - checks are part of lessonlib
        return
    cs = getattr(_core, "call_student", None)
    _state.call_student = getattr(cs, "__code__", None)
    wrappers = {}
    for name in getattr(lessonlib, "__all__", dir(lessonlib)):
        fn = getattr(lessonlib, name, None)
        if isinstance(fn, types.FunctionType) and fn.__module__.startswith("lessonlib."):
            wrappers[id(fn)] = (fn, _wrap(fn, name))
    for modname in lessonlib_modules():
        mod = sys.modules[modname]
        for attr, value in list(vars(mod).items()):
            hit = wrappers.get(id(value))
            if hit is not None and hit[0] is value:
                setattr(mod, attr, hit[1])


# ------------------------------------------------------------------- entry --

def install(deny=(), allow=()):
    """Start guarding this kernel. Called once, before any notebook cell.

    Parameters
    ----------
    deny : sequence of str
        Roots no code in the kernel may open, list or modify.
    allow : sequence of str
        Roots inside a denied root that stay reachable (the kernel's
        scratch folder, the Python installation, the lessonlib package).
    """
    global _state
    if _state is not None:
        return
    import lessonlib
    import lessonlib.checks  # noqa: F401  the checks' functions are snapshotted
    allow = list(allow) + [sys.prefix, sys.base_prefix, os.path.dirname(lessonlib.__file__)]
    state = _State(deny, allow)
    _state = state
    _wrap_references()
    state.snapshot = take()
    sys.addaudithook(_audit)


def report():
    """What the guard saw, as a JSON string.

    Returns
    -------
    str
        ``{"tampered": [...], "reference": [...], "denied": [...]}``:
        current differences from the snapshot, calls of the reference in
        place of the checked function, and refused operations.
    """
    if _state is None:
        return json.dumps({"tampered": ["the grading guard is not installed"],
                           "reference": [], "denied": []})
    _state.busy = True
    try:
        tampered = diff(_state.snapshot)
    except Exception as exc:  # a guard that cannot look is itself a finding
        tampered = [f"the grading guard could not inspect the kernel "
                    f"({type(exc).__name__}: {exc})"]
    finally:
        _state.busy = False
    return json.dumps({"tampered": tampered, "reference": list(_state.reference),
                       "denied": list(_state.denied)})
