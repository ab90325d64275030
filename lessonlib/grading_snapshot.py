"""The grading guard's snapshot: what a grading kernel looks like before student code.

:func:`take` records, by identity, the functions of NumPy (``numpy``,
``numpy.testing``, ``numpy.linalg``), of every ``lessonlib`` module and the
classes they define, of ``builtins``, ``sys``, ``copy``, ``math``,
``operator``, ``traceback`` and ``functools``; ``sys``'s hooks and streams;
and the IPython machinery that decides whether a cell failed (input and AST
transformers, exception handlers, display hooks and publishers, event
callbacks, the shell's and kernel's methods and classes). :func:`diff` lists,
in words, everything that changed since. Names IPython itself manages
(``get_ipython`` in builtins, callbacks of matplotlib or ipywidgets) are
not differences.
"""

from __future__ import annotations

import sys
import types

__all__ = ["take", "diff", "lessonlib_modules"]

# Names IPython itself puts into builtins while a cell runs.
_TRAP_NAMES = {"get_ipython", "display", "exit", "quit", "__IPYTHON__", "help",
               "_", "__", "___"}
_GUARDED_MODULES = ("numpy", "numpy.testing", "numpy.linalg", "builtins", "copy",
                    "math", "operator", "traceback", "functools", "sys")
_IPY_PACKAGES = ("IPython", "ipykernel", "traitlets", "jupyter_client", "comm")
_LIBRARY_CALLBACKS = ("matplotlib", "matplotlib_inline", "ipywidgets", "IPython",
                      "ipykernel", "comm", "tqdm", "lessonlib")


def _members(obj):
    """Callables (and properties) defined on a module or class, by name."""
    out = {}
    for k, v in list(vars(obj).items()):
        if isinstance(v, types.ModuleType):
            continue
        if callable(v) or isinstance(v, (property, staticmethod, classmethod)):
            out[k] = v
    return out


def lessonlib_modules():
    """Names of the loaded lessonlib modules, the grading ones excepted."""
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


def take():
    """Record the state :func:`diff` compares with."""
    import numpy  # noqa: F401  imported so that its functions are recorded
    import numpy.linalg  # noqa: F401
    import numpy.testing  # noqa: F401
    snap = {"modules": {}, "classes": {}, "sys": {}, "ipython": None}
    for name in _GUARDED_MODULES + tuple(lessonlib_modules()):
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


def diff(snap):
    """Every difference between now and ``snap`` (from :func:`take`), in words."""
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
    found += _diff_ipython(snap)
    found += _diff_namespace(snap)
    return found


def _diff_ipython(snap):
    ipy = snap["ipython"]
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


def _diff_namespace(snap):
    shell = _shell()
    if shell is None:
        return []
    ns = shell.user_ns
    found = []
    checks = snap["modules"].get("lessonlib.checks")
    core = snap["modules"].get("lessonlib.checks._core")
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
