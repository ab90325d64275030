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
2. **Tampering is noticed.** A snapshot taken before any student code
   runs records the functions of NumPy, ``lessonlib`` (checks included),
   ``builtins`` and ``sys``, and the IPython machinery that decides
   whether a cell failed (input and AST transformers, exception handlers,
   output streams, display hooks, event callbacks, the shell's and
   kernel's methods). :func:`report` lists every difference.
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

import builtins
import functools
import json
import os
import re
import sys
import types

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

# Names IPython itself puts into builtins while a cell runs.
_TRAP_NAMES = {"get_ipython", "display", "exit", "quit", "__IPYTHON__", "help",
               "_", "__", "___"}
_GUARDED_MODULES = ("numpy", "numpy.testing", "numpy.linalg", "builtins", "copy",
                    "math", "operator", "traceback", "functools", "sys")
_IPY_PACKAGES = ("IPython", "ipykernel", "traitlets", "jupyter_client", "comm")
_LIBRARY_CALLBACKS = ("matplotlib", "matplotlib_inline", "ipywidgets", "IPython",
                      "ipykernel", "comm", "tqdm", "lessonlib")

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


# ---------------------------------------------------------------- snapshot --

def _members(obj):
    """Callables (and properties) defined on a module or class, by name."""
    out = {}
    for k, v in list(vars(obj).items()):
        if isinstance(v, types.ModuleType):
            continue
        if callable(v) or isinstance(v, (property, staticmethod, classmethod)):
            out[k] = v
    return out


def _lessonlib_modules():
    return sorted(n for n, m in sys.modules.items()
                  if m is not None and (n == "lessonlib" or n.startswith("lessonlib."))
                  and not n.startswith("lessonlib.grading"))


def _ipython_classes(shell):
    seen = []
    for obj in (shell, getattr(shell, "kernel", None), getattr(shell, "displayhook", None),
                getattr(shell, "display_pub", None), getattr(shell, "compile", None),
                getattr(shell, "input_transformer_manager", None)):
        if obj is None:
            continue
        for cls in type(obj).__mro__:
            if cls.__module__.split(".")[0] in _IPY_PACKAGES and cls not in seen:
                seen.append(cls)
    try:
        from IPython.core import interactiveshell as _ish
        seen += [_ish.ExecutionResult, _ish.ExecutionInfo]
    except ImportError:  # pragma: no cover - IPython always present in a kernel
        pass
    return seen


def _ipython_state(shell):
    itm = getattr(shell, "input_transformer_manager", None)
    lists = {
        "input transformers (cleanup)": getattr(itm, "cleanup_transforms", None),
        "input transformers (line)": getattr(itm, "line_transforms", None),
        "input transformers (token)": getattr(itm, "token_transformers", None),
        "input transformers (post)": getattr(shell, "input_transformers_post", None),
        "AST transformers": getattr(shell, "ast_transformers", None),
    }
    attrs = {name: getattr(shell, name, None) for name in (
        "custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "display_pub",
        "displayhook", "display_formatter", "compile", "input_transformer_manager",
        "events", "kernel", "builtin_trap", "showtraceback", "_showtraceback",
        "run_cell", "run_cell_async", "run_code", "run_ast_nodes", "transform_cell",
        "showsyntaxerror", "excepthook")}
    instances = {}
    for label, obj in (("shell", shell), ("kernel", getattr(shell, "kernel", None)),
                       ("display hook", getattr(shell, "displayhook", None)),
                       ("display publisher", getattr(shell, "display_pub", None))):
        if obj is not None:
            instances[label] = (obj, type(obj), {k: v for k, v in vars(obj).items()
                                                 if callable(v)})
    return lists, attrs, instances


def _take_snapshot():
    import numpy  # noqa: F401  imported so that its functions are recorded
    import numpy.linalg  # noqa: F401
    import numpy.testing  # noqa: F401
    snap = {"modules": {}, "classes": {}, "sys": {}, "ipython": None}
    for name in _GUARDED_MODULES + tuple(_lessonlib_modules()):
        mod = sys.modules.get(name)
        if mod is None:
            continue
        snap["modules"][name] = (mod, _members(mod))
        if name.startswith("lessonlib"):
            for v in vars(mod).values():
                if isinstance(v, type) and getattr(v, "__module__", "") == name:
                    snap["classes"][f"{name}.{v.__name__}"] = (v, _members(v))
    snap["sys"] = {"excepthook": sys.excepthook, "displayhook": sys.displayhook,
                   "stdout": sys.stdout, "stderr": sys.stderr, "trace": sys.gettrace(),
                   "profile": sys.getprofile(), "meta_path": list(sys.meta_path),
                   "path_hooks": list(sys.path_hooks)}
    shell = _shell()
    if shell is not None:
        lists, attrs, instances = _ipython_state(shell)
        snap["ipython"] = {
            "lists": {k: (v, list(v) if v is not None else None) for k, v in lists.items()},
            "attrs": attrs, "instances": instances,
            "events": {k: list(v) for k, v in shell.events.callbacks.items()},
            "classes": {c: _members(c) for c in _ipython_classes(shell)},
        }
    return snap


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    return get_ipython()


def _changed_members(label, before, now):
    out = []
    for k, v in before.items():
        if k in now and now[k] is not v:
            out.append(f"{label}.{k} was replaced")
        elif k not in now:
            out.append(f"{label}.{k} was deleted")
    return out


def _foreign(cb):
    mod = getattr(cb, "__module__", None)
    if mod is None:
        func = getattr(cb, "__func__", None)
        mod = getattr(func, "__module__", None)
    return not (isinstance(mod, str) and mod.split(".")[0] in _LIBRARY_CALLBACKS)


def _diff():
    snap = _state.snapshot
    found = []
    for name, (mod, members) in snap["modules"].items():
        if sys.modules.get(name) is not mod:
            found.append(f"module {name} was replaced in sys.modules")
        now = _members(mod)
        if name == "builtins":
            members = {k: v for k, v in members.items() if k not in _TRAP_NAMES}
        found += _changed_members(name, members, now)
    for label, (cls, members) in snap["classes"].items():
        found += _changed_members(label, members, _members(cls))
    s = snap["sys"]
    for key, now in (("excepthook", sys.excepthook), ("displayhook", sys.displayhook),
                     ("stdout", sys.stdout), ("stderr", sys.stderr),
                     ("trace", sys.gettrace()), ("profile", sys.getprofile())):
        if now is not s[key]:
            found.append(f"sys.{'set' + key if key in ('trace', 'profile') else key} "
                         f"was changed")
    for key in ("meta_path", "path_hooks"):
        added = [f for f in getattr(sys, key) if f not in s[key]]
        if any(_foreign(f) and _foreign(type(f)) for f in added):
            found.append(f"an import hook was added to sys.{key}")
    found += _diff_ipython()
    found += _diff_namespace()
    return found


def _diff_ipython():
    ipy = _state.snapshot["ipython"]
    shell = _shell()
    if ipy is None or shell is None:
        return []
    found = []
    lists, attrs, instances = _ipython_state(shell)
    for label, (obj, items) in ipy["lists"].items():
        now = lists[label]
        if now is not obj or (now is not None and list(now) != items):
            found.append(f"IPython {label} were changed")
    for name, value in ipy["attrs"].items():
        now = getattr(shell, name, None)
        same = now is value or (isinstance(value, types.MethodType)
                                and getattr(now, "__func__", None) is value.__func__
                                and getattr(now, "__self__", None) is value.__self__)
        if not same and not (isinstance(value, tuple) and now == value):
            found.append(f"IPython shell.{name} was replaced")
    for label, (obj, cls, members) in ipy["instances"].items():
        now_obj, now_cls, now_members = instances.get(label, (None, None, {}))
        if now_obj is not obj or now_cls is not cls:
            found.append(f"the IPython {label} was replaced")
            continue
        for k, v in now_members.items():
            if members.get(k) is not v:
                found.append(f"the IPython {label}'s {k} was replaced")
    for cls, members in ipy["classes"].items():
        found += _changed_members(f"{cls.__module__}.{cls.__qualname__}", members,
                                  _members(cls))
    for event, callbacks in shell.events.callbacks.items():
        before = ipy["events"].get(event, [])
        if any(cb not in before and _foreign(cb) for cb in callbacks):
            found.append(f"a callback from the notebook was registered on IPython's "
                         f"'{event}' event")
    return found


def _diff_namespace():
    shell = _shell()
    if shell is None:
        return []
    ns = shell.user_ns
    found = []
    checks = _state.snapshot["modules"].get("lessonlib.checks")
    core = _state.snapshot["modules"].get("lessonlib.checks._core")
    protected = {}
    for entry in (core, checks):
        if entry is not None:
            mod, members = entry
            names = getattr(mod, "__all__", None) or list(members)
            protected.update({n: members[n] for n in names if n in members})
    for name, original in protected.items():
        if name in ns and ns[name] is not original:
            found.append(f"{name} was redefined in the notebook")
    for name, modname in (("np", "numpy"), ("numpy", "numpy"), ("lessonlib", "lessonlib")):
        if name in ns and ns[name] is not sys.modules.get(modname):
            found.append(f"the name {name} no longer refers to the {modname} module")
    return found


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
    for modname in _lessonlib_modules():
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
    state.snapshot = _take_snapshot()
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
        tampered = _diff()
    except Exception as exc:  # a guard that cannot look is itself a finding
        tampered = [f"the grading guard could not inspect the kernel ({type(exc).__name__}: {exc})"]
    finally:
        _state.busy = False
    return json.dumps({"tampered": tampered, "reference": list(_state.reference),
                       "denied": list(_state.denied)})
