"""A static audit of the code a student wrote, before any of it runs.

The audit reads the submitted notebook outside the kernel (nothing the
student wrote can change it) and flags code that an exercise of this
course never needs and a cheat does: using lessonlib's reference in place
of the function to write, reaching into the grader or IPython, rebinding
NumPy's or lessonlib's functions, touching files, processes or the
interpreter's internals, dynamic code. A finding flags the submission for
a human; it does not change the score.

Audited cells are the ones the student wrote: solution cells, and code
cells that are not in the release. Locked and grade cells are not (nbgrader
restores them from the source). IPython syntax (magics, ``!shell``) is
translated first; ``%matplotlib``, ``%time`` and ``%timeit`` are fine.

What it cannot see: code hidden in strings that are decoded at run time
without ``exec``/``eval``/``compile``/``__import__`` (the dynamic layer in
:mod:`lessonlib.grading.guard` covers those), and code in files the
student did not submit.
"""

from __future__ import annotations

import ast

from .intake import cell_source

__all__ = ["audit_notebook", "reference_names"]

_RISKY_MODULES = {
    "os": "file system and processes", "subprocess": "processes", "shutil": "files",
    "pathlib": "files", "glob": "files", "sqlite3": "databases such as the gradebook",
    "socket": "the network", "urllib": "the network", "http": "the network",
    "requests": "the network", "ctypes": "native memory", "cffi": "native memory",
    "gc": "the interpreter's objects", "inspect": "frames and source of other code",
    "importlib": "dynamic imports", "builtins": "Python's built-in functions",
    "IPython": "the IPython kernel", "ipykernel": "the IPython kernel",
    "pty": "processes", "signal": "signal handling", "multiprocessing": "processes",
    "threading": "threads", "pickle": "arbitrary objects from files",
    "marshal": "code objects", "zipfile": "files", "tarfile": "files",
    "tempfile": "files", "io": None, "sys": None,
}
_PROTECTED_MODULES = ("numpy", "lessonlib", "builtins", "sys", "IPython", "math", "copy",
                      "operator", "traceback")
_SYS_ATTRS = {"modules", "_getframe", "settrace", "setprofile", "excepthook",
              "displayhook", "meta_path", "path_hooks", "addaudithook", "exit",
              "stdout", "stderr"}
_SYS_READ_OK = {"stdout", "stderr"}
_DUNDERS = {"__builtins__", "__globals__", "__code__", "__closure__", "__subclasses__",
            "__wrapped__", "__dict__", "__import__", "__loader__", "__spec__",
            "f_locals", "f_globals", "f_back", "tb_frame", "gi_frame", "cr_frame",
            "f_code", "co_code"}
_CALLS = {"open": "opens a file", "exec": "executes code built at run time",
          "eval": "evaluates code built at run time", "compile": "compiles code at run time",
          "__import__": "imports a module by name at run time",
          "globals": "manipulates the notebook's global namespace",
          "breakpoint": "starts a debugger", "exit": "ends the kernel",
          "quit": "ends the kernel"}
_LINE_MAGICS_OK = {"matplotlib", "time", "timeit", "precision", "pprint", "who", "whos",
                   "config"}
_CELL_MAGICS_OK = {"time", "timeit"}
_CHECK_NAMES = {"run_cases", "compare", "Case", "Diagnosis", "CheckFailed", "passed",
                "call_student"}


def reference_names():
    """Public callables of ``lessonlib`` (data loaders excepted): the reference."""
    import lessonlib
    out = set()
    for name in dir(lessonlib):
        obj = getattr(lessonlib, name)
        mod = getattr(obj, "__module__", "") or ""
        if not name.startswith("_") and callable(obj) and mod.startswith("lessonlib.") \
                and not mod.startswith(("lessonlib.data", "lessonlib.viz", "lessonlib.checks")):
            out.add(name)
    return out


def _check_functions():
    """The ``check_*`` functions grade cells call."""
    import lessonlib.checks
    return {n for n in dir(lessonlib.checks) if n.startswith("check_")}


def _transform(source):
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(source)


def _dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Auditor(ast.NodeVisitor):
    def __init__(self, ctx, aliases):
        self.ctx = ctx            # exercise names, reference names, provided names
        self.aliases = aliases    # local name -> module path
        self.found = []

    def flag(self, text):
        if text not in self.found:
            self.found.append(text)

    def resolve(self, node):
        """The module path an expression refers to ('numpy.testing'), or None."""
        dotted = _dotted(node)
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        if head not in self.aliases:
            return None
        return self.aliases[head] + ("." + rest if rest else "")

    # -- imports --------------------------------------------------------------
    def _module(self, module):
        root = module.split(".")[0]
        why = _RISKY_MODULES.get(root)
        if why:
            self.flag(f"imports {module} ({why})")
        if root == "lessonlib":
            parts = module.split(".")
            if len(parts) > 1 and (parts[1].startswith(("_", "grading"))
                                   or (parts[1] == "checks" and len(parts) > 2)):
                self.flag(f"imports lessonlib internals ({module})")

    def _reference(self, name, how):
        if name in self.ctx["exercises"]:
            self.flag(f"{how} lessonlib's reference {name}, the function it must implement")
        elif name in self.ctx["reference"] and name not in self.ctx["provided"]:
            self.flag(f"{how} lessonlib's reference {name} (the notebook does not provide it)")

    def visit_Import(self, node):
        for a in node.names:
            self._module(a.name)
            local = a.asname or a.name.split(".")[0]
            target = a.name if a.asname else a.name.split(".")[0]
            self._rebind(local, target)
            self.aliases[local] = target
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        self._module(module)
        for a in node.names:
            local = a.asname or a.name
            if module.split(".")[0] == "lessonlib":
                if a.name == "*":
                    self.flag(f"imports everything from {module} (the reference)")
                elif module.startswith("lessonlib.checks") and a.name.startswith("_"):
                    self.flag(f"imports lessonlib internals ({module}.{a.name})")
                elif not module.startswith(("lessonlib.checks", "lessonlib.viz",
                                            "lessonlib.data")):
                    self._reference(a.name, "imports")
                self.aliases[local] = f"{module}.{a.name}"
            else:
                self._rebind(local, f"{module}.{a.name}")
                self.aliases.pop(local, None)
            if a.name in _RISKY_MODULES and _RISKY_MODULES[a.name] and not module:
                self.flag(f"imports {a.name}")
        self.generic_visit(node)

    # -- names and bindings ---------------------------------------------------
    def _rebind(self, name, value=""):
        protected = {"np": "numpy", "numpy": "numpy", "lessonlib": "lessonlib"}
        if name in protected and not str(value).startswith(protected[name]):
            self.flag(f"binds {name} to something other than the {protected[name]} module")
        if name in self.ctx["checks"] or name in _CHECK_NAMES:
            if not str(value).startswith("lessonlib.checks"):
                self.flag(f"redefines {name}, which the tests call")

    def _target(self, target):
        if isinstance(target, ast.Name):
            self._rebind(target.id)
            self.aliases.pop(target.id, None)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            base = target.value
            if isinstance(base, ast.Attribute) and base.attr == "__dict__":
                base = base.value
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) \
                    and base.func.id == "vars" and base.args:
                base = base.args[0]
            mod = self.resolve(base)
            if mod and mod.split(".")[0] in _PROTECTED_MODULES:
                what = f"{mod}.{target.attr}" if isinstance(target, ast.Attribute) else mod
                self.flag(f"rebinds {what}")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._target(t)

    def visit_Assign(self, node):
        for t in node.targets:
            self._target(t)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._target(t)
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self._rebind(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._rebind(node.name)
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id == "get_ipython":
            self.flag("uses get_ipython() (the kernel's machinery)")
        elif node.id in ("__builtins__", "__import__"):
            self.flag(f"uses {node.id}")
        elif node.id in self.aliases and isinstance(node.ctx, ast.Load):
            path = self.aliases[node.id]
            if path.startswith("lessonlib.") and path.count(".") >= 1:
                name = path.rsplit(".", 1)[1]
                if not path.startswith(("lessonlib.checks", "lessonlib.viz", "lessonlib.data")):
                    self._reference(name, "calls")

    def visit_Attribute(self, node):
        mod = self.resolve(node.value)
        if node.attr in _DUNDERS:
            self.flag(f"uses interpreter internals ({node.attr})")
        if mod and isinstance(node.ctx, ast.Load):
            full = f"{mod}.{node.attr}"
            if mod.split(".")[0] == "lessonlib":
                if node.attr.startswith("_") or ".grading" in full or full.startswith(
                        "lessonlib.checks._"):
                    self.flag(f"uses lessonlib internals ({full})")
                elif not full.startswith(("lessonlib.checks", "lessonlib.viz",
                                          "lessonlib.data")) and node.attr not in (
                        "checks", "viz", "data"):
                    self._reference(node.attr, "calls")
            elif mod == "sys" and node.attr in _SYS_ATTRS - _SYS_READ_OK:
                self.flag(f"uses sys.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node):
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call) \
                and isinstance(f.value.func, ast.Name) and f.value.func.id == "get_ipython":
            self._magic(f.attr, node.args)
            for a in node.args[1:]:
                self.visit(a)
            return
        if isinstance(f, ast.Name):
            if f.id in _CALLS:
                self.flag(_CALLS[f.id])
            if f.id in ("setattr", "delattr") and node.args:
                mod = self.resolve(node.args[0])
                if mod and mod.split(".")[0] in _PROTECTED_MODULES:
                    self.flag(f"{f.id} on {mod}")
            if f.id == "getattr" and node.args:
                mod = self.resolve(node.args[0])
                if mod and mod.split(".")[0] in ("lessonlib", "builtins", "sys") and not (
                        len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                    self.flag(f"looks up a name of {mod} built at run time")
                elif mod and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    self.visit_Attribute(ast.Attribute(value=node.args[0],
                                                       attr=str(node.args[1].value),
                                                       ctx=ast.Load()))
        self.generic_visit(node)

    def _magic(self, kind, args):
        name = args[0].value if args and isinstance(args[0], ast.Constant) else "?"
        if kind == "run_line_magic" and name not in _LINE_MAGICS_OK:
            self.flag(f"uses the IPython magic %{name}")
        elif kind == "run_cell_magic":
            if name not in _CELL_MAGICS_OK:
                self.flag(f"uses the IPython cell magic %%{name}"
                          + (" (captures the cell's output)" if name == "capture" else ""))
            if len(args) > 2 and isinstance(args[2], ast.Constant):
                for text in _audit_source(str(args[2].value), self.ctx, self.aliases):
                    self.flag(text)
        elif kind in ("system", "getoutput"):
            self.flag("runs a shell command (!)")
        elif kind not in ("run_line_magic", "run_cell_magic"):
            self.flag("uses get_ipython() (the kernel's machinery)")


def _audit_source(source, ctx, aliases):
    try:
        tree = ast.parse(_transform(source))
    except (SyntaxError, ValueError):
        return []   # it will fail when it runs; nothing to audit
    a = _Auditor(ctx, aliases)
    a.visit(tree)
    return a.found


def _learn_aliases(source, aliases):
    try:
        tree = ast.parse(_transform(source))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = \
                    a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lessonlib"):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"


def _nbg(cell):
    return cell.get("metadata", {}).get("nbgrader") or {}


def _defined_names(source):
    try:
        tree = ast.parse(_transform(source))
    except (SyntaxError, ValueError):
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name)}


def permitted_names(release):
    """Reference names an exercise of ``release`` tells the student to build on.

    They come from :data:`lessonlib.grading.references.PERMITTED`, by the
    checks the release's grade cells call (``conv2d`` in 08's grouped
    convolution).
    """
    from .references import PERMITTED
    from .verdict import UnsupportedGradeCell, parse_grade_cell
    names = set()
    for c in release.get("cells", []):
        if c.get("cell_type") == "code" and _nbg(c).get("grade"):
            try:
                calls = parse_grade_cell(cell_source(c))
            except UnsupportedGradeCell:
                continue
            for call in calls:
                names |= {k.rsplit(".", 1)[-1] for k in PERMITTED.get(call.check, {})}
    return names


def audit_notebook(nb, release, reference=None):
    """Audit the student-written cells of a submitted notebook.

    Parameters
    ----------
    nb : dict
        The submitted notebook (JSON).
    release : dict
        The released notebook the student started from.
    reference : set of str, optional
        lessonlib's reference names (default: :func:`reference_names`);
        those of :func:`permitted_names` are left out.

    Returns
    -------
    list of str
        Findings, ``"<cell>: <what>"``, in notebook order.
    """
    reference = reference_names() if reference is None else reference
    reference = set(reference) - permitted_names(release)
    rel_code = [c for c in release.get("cells", []) if c.get("cell_type") == "code"]
    known = {cell_source(c).strip() for c in rel_code}
    exercises, provided, aliases = set(), set(), {}
    for c in rel_code:
        src = cell_source(c)
        if _nbg(c).get("solution"):
            exercises |= _defined_names(src)
        else:
            _learn_aliases(src, aliases)
    provided = {v.rsplit(".", 1)[1] for v in aliases.values() if v.startswith("lessonlib.")}
    checks = {k for k, v in aliases.items() if v.startswith("lessonlib.checks")}
    ctx = {"exercises": exercises, "reference": reference, "provided": provided,
           "checks": checks | _check_functions()}
    findings = []
    for i, c in enumerate(nb.get("cells", [])):
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        nbg, src = _nbg(c), cell_source(c)
        student = nbg.get("solution") or not (nbg.get("grade") or nbg.get("locked"))
        if not student or (not nbg.get("solution") and src.strip() in known):
            _learn_aliases(src, aliases)
            continue
        label = nbg.get("grade_id") or f"cell {i + 1}"
        findings += [f"{label}: {t}" for t in _audit_source(src, ctx, aliases)]
    return list(dict.fromkeys(findings))
