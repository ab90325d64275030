"""Grade cells decided by the grader: the checks run here, the student's code there.

A grade cell of this course is a list of check calls::

    from lessonlib.checks import check_conv2d
    check_conv2d(conv2d)
    ### BEGIN HIDDEN TESTS
    check_conv2d(conv2d, hidden=True)
    ### END HIDDEN TESTS

While grading, such a cell is not run in the student's kernel. The grader
(:class:`~lessonlib.grading.preprocessors.SandboxedExecute`) parses it
(:func:`parse_grade_cell`) and runs each check *in its own process*, with
the student's function replaced by a :class:`RemoteObject`: calling it
sends the inputs to the kernel and returns what the student's function
returned there (:mod:`lessonlib.grading.in_kernel`). Cases, the reference,
the comparison and the diagnosis all stay in the grader, so nothing the
kernel does can see an expected value or change a verdict; the same check
functions give the student's instant feedback in the notebook.

Hidden checks get a seed derived from a secret the kernel never sees, the
student, the notebook and the cell (:func:`hidden_seed`): each student has
their own hidden inputs.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import hmac
import re

import numpy as np

from . import in_kernel
from .in_kernel import Handle, RemoteError, WireError

__all__ = ["parse_grade_cell", "CheckCall", "UnsupportedGradeCell", "RemoteObject",
           "KernelLink", "hidden_seed", "KernelGone"]


class UnsupportedGradeCell(ValueError):
    """A grade cell holds something else than imports and check calls."""


class KernelGone(BaseException):
    """The kernel died, timed out or stopped answering during a check.

    A ``BaseException``, so that a check's ``except Exception`` (which turns
    the student's errors into a diagnosis) lets it through to the grader.
    ``cause`` is the original exception.
    """

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


class CheckCall:
    """One ``check_<name>(<expression>, hidden=..., seed=...)`` of a grade cell."""

    def __init__(self, check, target, hidden=False, seed=0, line=0):
        self.check, self.target, self.hidden, self.seed, self.line = (
            check, target, hidden, seed, line)

    def __repr__(self):
        return f"CheckCall({self.check}({self.target}, hidden={self.hidden}), line {self.line})"


def _literal(node, what):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise UnsupportedGradeCell(f"{what} must be a constant") from None


def parse_grade_cell(source):
    """The check calls of a grade cell, in order.

    Allowed statements: a docstring, ``from lessonlib.checks import ...``,
    ``import lessonlib.checks``, and ``check_<name>(<name or attribute>[,
    hidden=<bool>][, seed=<int>])`` (optionally as ``lessonlib.checks.check_<name>``).

    Raises
    ------
    UnsupportedGradeCell
        Naming the first statement that is none of those.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UnsupportedGradeCell(f"the grade cell is not valid Python ({exc.msg}, "
                                   f"line {exc.lineno})") from None
    calls = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "lessonlib.checks":
            continue
        if isinstance(node, ast.Import) and all(a.name in ("lessonlib", "lessonlib.checks")
                                                for a in node.names):
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call):
            f = call.func
            name = f.id if isinstance(f, ast.Name) else (
                f.attr if isinstance(f, ast.Attribute) and ast.unparse(f.value)
                in ("lessonlib.checks", "checks") else None)
            if name and name.startswith("check_") and len(call.args) == 1 \
                    and isinstance(call.args[0], (ast.Name, ast.Attribute)):
                opts = {}
                for kw in call.keywords:
                    if kw.arg not in ("hidden", "seed"):
                        raise UnsupportedGradeCell(
                            f"line {node.lineno}: {name} takes hidden= and seed= only")
                    opts[kw.arg] = _literal(kw.value, kw.arg)
                calls.append(CheckCall(name, ast.unparse(call.args[0]),
                                       bool(opts.get("hidden", False)),
                                       int(opts.get("seed", 0)), node.lineno))
                continue
        raise UnsupportedGradeCell(
            f"line {node.lineno} (`{ast.unparse(node)[:60]}`) is not a check call: grade "
            f"cells may only import lessonlib.checks and call its check_* functions on the "
            f"student's function, because their verdict is decided outside the student's "
            f"kernel")
    return calls


def hidden_seed(secret, *parts):
    """A seed for hidden cases: HMAC-SHA256 of ``parts`` under ``secret``, 31 bits."""
    msg = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hmac.new(secret.encode(), msg, hashlib.sha256).digest()[:4],
                          "big") & 0x7FFFFFFF


# ------------------------------------------------------------- the proxies --

class KernelLink:
    """How proxies reach the kernel: ``ask(expression) -> answer text``.

    ``ask`` evaluates one user expression in the kernel and returns the text
    it evaluated to (raising :class:`KernelGone` if the kernel is gone).
    """

    def __init__(self, ask):
        self._ask = ask
        self.printed = []

    def _decode(self, text):
        try:
            answer = in_kernel.decode(text, resolve=lambda i, entry: RemoteObject(self, i, entry))
        except WireError as exc:
            raise RemoteError("WireError", f"the kernel's answer was refused: {exc}") from None
        if not isinstance(answer, dict):
            raise RemoteError("WireError", "the kernel's answer is not a dict")
        if answer.get("printed"):
            self.printed.append(str(answer["printed"]))
        if "error" in answer:
            raise RemoteError.from_wire(answer["error"] if isinstance(answer["error"], dict)
                                        else {})
        return answer

    def request(self, function, target, payload):
        """Call ``lessonlib.grading.in_kernel.<function>(target, payload)`` in the kernel."""
        expr = (f"__import__('lessonlib.grading.in_kernel', fromlist=['{function}'])"
                f".{function}({target}, {payload!r})")
        return self._decode(self._ask(expr))

    def resolve(self, expression):
        """The value of ``expression`` in the kernel: data, or a proxy."""
        payload = in_kernel.encode({"args": (), "kwargs": {}})
        answer = self.request("call", f"lambda: ({expression})", payload)
        return answer.get("ok")

    def build(self, factory, *args, **kwargs):
        """An object made in the kernel by a check factory ``"module:function"``."""
        payload = in_kernel.encode({"args": args, "kwargs": kwargs})
        return self.request("build", repr(factory), payload).get("ok")


def _copy_back(before, after):
    """Write the kernel's post-call values into the grader's arrays (in-place edits)."""
    if isinstance(before, np.ndarray) and isinstance(after, np.ndarray) \
            and before.shape == after.shape and before.flags.writeable:
        try:
            np.copyto(before, after, casting="unsafe")
        except (TypeError, ValueError):
            pass
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for b, a in zip(before, after):
            _copy_back(b, a)
    elif type(before) is type(after) and getattr(type(before), "__lessonlib_wire__", False):
        before.__dict__.update(after.__dict__)   # a check's fixture, e.g. its call count


def _student_exception(err):
    """The exception the student's code raised, re-made here (never a BaseException)."""
    cls = getattr(builtins, err.type_name, None)
    if not (err.builtin and isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(re.sub(r"\W", "_", err.type_name)[:60] or "Exception", (Exception,),
                   {"__module__": "student"})
    message = err.message
    # the same name and base, and str(exc) exactly what the kernel printed
    cls = type(cls.__name__, (cls,), {"__str__": lambda self: message,
                                      "__module__": cls.__module__})
    try:
        exc = cls(message)
    except Exception:  # exception classes whose constructor wants more arguments
        exc = cls.__new__(cls)
    exc.student_line = (err.line, err.code)
    return exc


class RemoteObject(Handle):
    """An object that lives in the kernel; attributes and calls go there."""

    def __init__(self, link, handle, info=None):
        info = info or {}
        self.__dict__["id"] = handle
        self.__dict__["_link"] = link
        self.__dict__["_handle"] = handle
        self.__dict__["_info"] = info
        self.__dict__["__name__"] = str(info.get("name") or info.get("type") or "object")
        self.__dict__["__qualname__"] = self.__dict__["__name__"]
        self.__dict__["__module__"] = str(info.get("fmodule") or info.get("module") or "")
        self.__dict__["__doc__"] = None
        self.__dict__["_forbidden"] = ()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self._link.request("get", self._handle, in_kernel.encode(name)).get("ok")
        except RemoteError as exc:
            if exc.type_name == "AttributeError":
                raise AttributeError(exc.message) from None
            raise _student_exception(exc) from None

    def __setattr__(self, name, value):
        raise AttributeError("objects in the student's kernel are read through the grader")

    def __call__(self, *args, **kwargs):
        if not self._info.get("callable", False):
            raise TypeError(f"'{self.__name__}' object is not callable")
        payload = in_kernel.encode({"args": args, "kwargs": kwargs,
                                    "forbid": list(self._forbidden)})
        try:
            answer = self._link.request("call", self._handle, payload)
        except RemoteError as exc:
            raise _student_exception(exc) from None
        if answer.get("forbidden"):
            from ..checks._core import ForbiddenCall
            raise ForbiddenCall([str(x)[:100] for x in answer["forbidden"]])
        for b, a in zip(args, answer.get("args") or ()):
            _copy_back(b, a)
        for k, b in kwargs.items():
            _copy_back(b, (answer.get("kwargs") or {}).get(k))
        return answer.get("ok")

    def make(self, factory, *args, **kwargs):
        """``factory(*args, **kwargs)`` run in the kernel (a check's model, a function)."""
        name = f"{factory.__module__}:{factory.__qualname__}"
        return self._link.build(name, *args, **kwargs)

    def forbidding(self, labels):
        """A copy that asks the kernel to report calls to ``labels`` (dotted names)."""
        other = RemoteObject(self._link, self._handle, self._info)
        other.__dict__["_forbidden"] = tuple(labels)
        return other

    def __repr__(self):
        return f"<{self.__name__} in the student's kernel>"
