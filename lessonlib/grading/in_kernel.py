"""What runs inside the sandbox while a notebook is graded: calls, not verdicts.

The grader (outside the sandbox) runs every check of a grade cell itself.
When a check calls the student's function, the grader sends the call's
inputs to the kernel, as data, through an ``execute_request`` whose user
expression is ``call(fn, payload)``; this module runs the function and
returns its outputs, as data. The grader compares them with lessonlib's
reference, which never runs in (or is sent to) the kernel.

Nothing here decides anything, so nothing here needs protecting: a student
who replaces this module can only change what their own function appears
to return.

The wire format (:func:`encode`, :func:`decode`) is JSON with arrays as
``{"__nd__": [dtype, shape, base64 bytes]}``; never pickle. :func:`decode`
is what the grader uses on the kernel's answers, so it treats its input as
hostile: sizes are bounded, dtypes are numeric, nesting is bounded.
Values that are not data (a model, a bound method) stay in the kernel and
travel as handles, ``{"__handle__": n}``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import math
import sys
import traceback

import numpy as np

__all__ = ["encode", "decode", "call", "get", "build", "WireError", "MAX_BYTES"]

MAX_BYTES = 32 * 1024 * 1024   # one message, either way
MAX_DEPTH = 32
MAX_ITEMS = 100_000
_DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}
_objects: dict = {}   # handle -> object kept in the kernel
_ids: dict = {}       # id(object) -> handle
_PRINT_LIMIT = 10_000


class WireError(ValueError):
    """A message that is not valid data (too big, too deep, an unknown type)."""


# ----------------------------------------------------------------- encoding --

def _enc(v, depth, count, keep):
    count[0] += 1
    if count[0] > MAX_ITEMS or depth > MAX_DEPTH:
        raise WireError("the value is too large or too deeply nested to send")
    if isinstance(v, np.generic) and v.dtype.str in _DTYPES:   # before float: float64 is one
        return {"__np__": _enc(np.asarray(v), depth + 1, count, keep)}
    if v is None or isinstance(v, (bool, str)):
        return str(v) if isinstance(v, str) else v
    if isinstance(v, int):
        v = int(v)
        return v if abs(v) < 2 ** 63 else {"__bigint__": str(v)}
    if isinstance(v, float):
        v = float(v)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(v, np.ndarray) and v.dtype.str in _DTYPES and v.dtype.kind != "O":
        a = np.array(v, order="C", copy=True)
        return {"__nd__": [a.dtype.str, list(a.shape), base64.b64encode(a.tobytes()).decode()]}
    if isinstance(v, np.ndarray) and v.dtype.kind == "O" and keep is None:
        raise WireError("arrays of Python objects cannot be sent")
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x, depth + 1, count, keep) for x in v]}
    if isinstance(v, list):
        return [_enc(x, depth + 1, count, keep) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {"__dict__": {k: _enc(x, depth + 1, count, keep) for k, x in v.items()}}
    if isinstance(v, Handle):
        return {"__handle__": v.id}
    if getattr(type(v), "__lessonlib_wire__", False):   # a check's own small object
        cls = type(v)
        return {"__obj__": [f"{cls.__module__}:{cls.__qualname__}",
                            _enc(dict(vars(v)), depth + 1, count, keep)]}
    if keep is None:
        raise WireError(f"a {type(v).__name__} cannot be sent as data")
    return keep(v)


def encode(value, keep=None):
    """``value`` as a JSON text.

    Parameters
    ----------
    value : object
        Data: None, bool, int, float, str, NumPy arrays and scalars of
        numeric dtypes, and tuples, lists and str-keyed dicts of those.
    keep : callable, optional
        ``keep(obj) -> dict`` for values that are not data (the kernel keeps
        them and sends a handle); without it such values raise WireError.
    """
    text = json.dumps(_enc(value, 0, [0], keep), allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise WireError(f"the value is {len(text)} bytes, more than {MAX_BYTES}")
    return text


class Handle:
    """Reference to an object that stays in the kernel (see :func:`decode`)."""

    def __init__(self, id_, info=None):
        self.id = id_
        self.info = info or {}


def _dec(v, depth, count, resolve):
    count[0] += 1
    if count[0] > MAX_ITEMS or depth > MAX_DEPTH:
        raise WireError("the message is too large or too deeply nested")
    if v is None or isinstance(v, (bool, str, float)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, list):
        return [_dec(x, depth + 1, count, resolve) for x in v]
    if not isinstance(v, dict) or len(v) < 1:
        raise WireError(f"unexpected {type(v).__name__} in the message")
    key = next(iter(v))
    body = v[key]
    if key == "__nd__":
        return _array(body)
    if key == "__np__":
        arr = _dec(body, depth + 1, count, resolve)
        if not isinstance(arr, np.ndarray) or arr.ndim != 0:
            raise WireError("a NumPy scalar must be a 0-d array")
        return arr[()]
    if key == "__tuple__" and isinstance(body, list):
        return tuple(_dec(x, depth + 1, count, resolve) for x in body)
    if key == "__dict__" and isinstance(body, dict):
        return {str(k): _dec(x, depth + 1, count, resolve) for k, x in body.items()}
    if key == "__bigint__" and isinstance(body, str) and len(body) < 400:
        return int(body)
    if key == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if key == "__handle__" and isinstance(body, int):
        return resolve(body, v)
    if key == "__obj__" and isinstance(body, list) and len(body) == 2:
        cls = _wire_class(body[0])
        return _object(cls, _dec(body[1], depth + 1, count, resolve))
    if key == "__error__" and isinstance(body, dict):
        return RemoteError.from_wire(body)
    raise WireError(f"unknown entry {key!r} in the message")


def _array(body):
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], str)
            and isinstance(body[1], list) and isinstance(body[2], str)):
        raise WireError("malformed array")
    dtype = _DTYPES.get(body[0])
    if dtype is None:
        raise WireError(f"arrays of dtype {body[0]!r} are not accepted")
    shape = body[1]
    if len(shape) > 32 or not all(isinstance(s, int) and 0 <= s < 2 ** 31 for s in shape):
        raise WireError("malformed array shape")
    n = 1
    for s in shape:
        n *= s
    if n * dtype.itemsize > MAX_BYTES:
        raise WireError("the array is too large")
    try:
        raw = base64.b64decode(body[2], validate=True)
    except (binascii.Error, ValueError):
        raise WireError("malformed array data") from None
    if len(raw) != n * dtype.itemsize:
        raise WireError("the array's data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _wire_class(name):
    """A check's wire class (``__lessonlib_wire__``) named ``module:Class``, or WireError."""
    import importlib
    mod, _, qualname = str(name).partition(":")
    cls = None
    if mod.startswith("lessonlib.checks.") and qualname.isidentifier():
        try:
            cls = getattr(importlib.import_module(mod), qualname, None)
        except ImportError:
            cls = None
    if not (isinstance(cls, type) and cls.__dict__.get("__lessonlib_wire__", False)):
        raise WireError(f"objects of {str(name)[:80]!r} are not accepted")
    return cls


def _object(cls, state):
    """An instance of ``cls`` with ``state`` as its attributes, made without running code."""
    if not isinstance(state, dict):
        raise WireError("an object's state must be a dict")
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def decode(text, resolve=None):
    """Data from a JSON text made by :func:`encode` (hostile input is refused).

    Parameters
    ----------
    text : str
    resolve : callable, optional
        ``resolve(id, entry)`` turns a handle into an object; by default a
        :class:`Handle`.

    Raises
    ------
    WireError
        If the text is too long, not JSON, too deep, or holds anything but data.
    """
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise WireError("the message is not text or is too long")
    try:
        raw = json.loads(text)
    except RecursionError:
        raise WireError("the message is nested too deeply") from None
    except ValueError as exc:
        raise WireError(f"the message is not valid JSON ({str(exc)[:80]})") from None
    try:
        return _dec(raw, 0, [0], resolve or (lambda i, entry: Handle(i, entry)))
    except RecursionError:
        raise WireError("the message is nested too deeply") from None


class RemoteError(Exception):
    """What the student's function raised, as the grader sees it."""

    def __init__(self, type_name, message, line=None, code=None, builtin=False):
        super().__init__(message)
        self.type_name, self.message = type_name, message
        self.line, self.code, self.builtin = line, code, builtin

    @classmethod
    def from_wire(cls, body):
        def s(key, n):
            v = body.get(key)
            return v[:n] if isinstance(v, str) else None
        line = body.get("line")
        return cls(s("type", 100) or "Exception", s("message", 2000) or "",
                   line if isinstance(line, int) else None, s("code", 300),
                   body.get("builtin") is True)


# ------------------------------------------------------------ kernel side --

def _student_frame(tb):
    """The innermost frame of the notebook's own code (else the innermost): (line, text)."""
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if (f.filename or "").startswith(("<ipython-input", "<cell"))
            or "/ipykernel_" in (f.filename or "")]
    f = (mine or frames or [None])[-1]
    return (f.lineno, (f.line or "").strip()[:300]) if f is not None else (None, None)


def _keep(obj):
    n = _ids.get(id(obj))
    if n is None or _objects.get(n) is not obj:
        n = len(_objects) + 1
        _objects[n] = obj
        _ids[id(obj)] = n

    def text(v):
        return v[:100] if isinstance(v, str) else None
    return {"__handle__": n, "type": type(obj).__name__[:100],
            "module": str(getattr(type(obj), "__module__", ""))[:100],
            "name": text(getattr(obj, "__name__", None)),
            "fmodule": text(getattr(obj, "__module__", None)),
            "callable": callable(obj)}


def _resolve(i, entry):
    if i not in _objects:
        raise WireError(f"no object {i} in the kernel")
    return _objects[i]


def _resolve_name(label):
    """The object a dotted name such as ``numpy.convolve`` names, if imported."""
    parts = label.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = sys.modules.get(".".join(parts[:i]))
        if mod is not None:
            obj = mod
            try:
                for p in parts[i:]:
                    obj = getattr(obj, p)
            except AttributeError:
                return None
            return obj
    return None


def _watching(labels, hits):
    """Record calls to the functions named ``labels`` (dotted) while the block runs."""
    from ..checks._core import recording_calls
    return recording_calls({label: _resolve_name(label) for label in labels}, hits)


class _Capped(io.TextIOBase):
    """A text stream keeping the first ``_PRINT_LIMIT`` characters written to it."""

    def __init__(self):
        self.parts, self.size = [], 0

    def writable(self):
        return True

    def write(self, text):
        if self.size < _PRINT_LIMIT:
            self.parts.append(str(text)[:_PRINT_LIMIT - self.size])
            self.size += len(self.parts[-1])
        return len(text)

    def getvalue(self):
        return "".join(self.parts)


def _answer(fn, args, kwargs, forbid=()):
    args_copy = list(args)
    buf = _Capped()
    hits = []
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), \
                _watching(forbid, hits):
            out = fn(*args_copy, **kwargs)
        result = {"ok": out, "args": tuple(args_copy), "kwargs": kwargs,
                  "forbidden": list(dict.fromkeys(hits))}
    except BaseException as exc:  # the student's error, sent back as data
        line, code = _student_frame(exc.__traceback__)
        t = type(exc)
        result = {"error": {"type": t.__name__, "message": str(exc)[:2000], "line": line,
                            "code": code, "builtin": t.__module__ == "builtins"}}
    result["printed"] = buf.getvalue()[:_PRINT_LIMIT]
    return result


def _reply(result):
    try:
        return encode(result, keep=_keep)
    except (WireError, RecursionError, TypeError, ValueError) as exc:
        return encode({"error": {"type": "WireError", "message": str(exc)[:500],
                                 "builtin": False}})


def _request(payload):
    req = decode(payload, _resolve)
    if not isinstance(req, dict):
        raise WireError("a request must be a dict")
    return req


def call(fn, payload):
    """Run ``fn(*args, **kwargs)`` with the inputs in ``payload``; return the answer.

    The answer (JSON text) holds ``ok`` (the result) with ``args``/``kwargs``
    as they are after the call (so the grader sees in-place changes), or
    ``error`` (type, message, the student's line), and ``printed``.
    """
    try:
        req = _request(payload)
        if isinstance(fn, int):
            fn = _resolve(fn, None)
        forbid = [f for f in req.get("forbid", ()) if isinstance(f, str)][:50]
        return _reply(_answer(fn, req.get("args", ()), req.get("kwargs", {}), forbid))
    except WireError as exc:
        return _reply({"error": {"type": "WireError", "message": str(exc), "builtin": False}})


def get(handle, payload):
    """``getattr(object, name)`` of a kept object, as an answer (``payload``: the name)."""
    try:
        obj = _resolve(handle, None)
        name = decode(payload)
        if not isinstance(name, str):
            raise WireError("an attribute name must be a str")
        return _reply({"ok": getattr(obj, name)})
    except BaseException as exc:  # reported, like any error of the student's code
        return _reply({"error": {"type": type(exc).__name__, "message": str(exc)[:2000],
                                 "builtin": type(exc).__module__ == "builtins"}})


def build(factory, payload):
    """Make an object in the kernel with one of lessonlib's check factories.

    ``factory`` is ``"module:function"`` inside ``lessonlib.checks`` (a model
    for ``train_step``, a function for ``numerical_gradient``).
    """
    import importlib
    try:
        mod, _, name = factory.partition(":")
        if not mod.startswith("lessonlib.checks"):
            raise WireError(f"no factory {factory!r}")
        fn = getattr(importlib.import_module(mod), name)
        req = _request(payload)
        return _reply(_answer(fn, req.get("args", ()), req.get("kwargs", {})))
    except BaseException as exc:  # a broken kernel-side library: an error answer
        return _reply({"error": {"type": type(exc).__name__, "message": str(exc)[:2000],
                                 "builtin": False}})
