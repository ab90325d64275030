"""nbgrader preprocessors the grading pipeline plugs into autograde and feedback.

nbgrader's own ``Autograde`` and ``GenerateFeedback`` converters do the
work; these classes are configured into them (``Autograde.autograde_preprocessors``,
``GenerateFeedback.preprocessors``) and change only what this course needs:

:class:`SandboxedExecute`
    nbgrader's ``Execute``, but the kernel runs in the bubblewrap sandbox
    of :mod:`lessonlib.grading.sandbox` (or, with ``--no-sandbox``, as a
    plain process in an empty folder), and grade cells are not run in the
    kernel at all: the grader runs their checks itself
    (:mod:`lessonlib.grading.verdict`), calling the student's functions in
    the kernel, and writes the cell's outputs, an error output for a
    failed check (so that nbgrader scores it 0). Time-outs, a dead or
    unresponsive kernel, limits reached and calls to a blocked reference
    are written to a report file next to the gradebook, with the verdict
    of every check call for the class report
    (:func:`lessonlib.grading.class_report.verdict`).
:class:`HideHiddenTests`
    feedback shows neither the hidden tests' code nor tracebacks that
    would quote it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import time

import zmq
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.preprocessors.execute import UnresponsiveKernelError
from traitlets import Bool, Dict, Integer, Unicode

from .sandbox import Limits, Sandbox
from .verdict import KernelGone, KernelLink, UnsupportedGradeCell, hidden_seed, parse_grade_cell

__all__ = ["SandboxedExecute", "SandboxKernelManager", "HideHiddenTests",
           "TooManyTimeouts", "REFERENCE_MARK"]

_BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
_END_HIDDEN = "### END HIDDEN TESTS"
#: Largest message the grader accepts from a kernel (bytes).
_MAX_MESSAGE = 64 * 1024 * 1024
#: What a blocked reference writes to the kernel's stderr when called.
REFERENCE_MARK = "LESSONLIB-REFERENCE-CALLED"


class TooManyTimeouts(RuntimeError):
    """More cells timed out than the grader allows for one notebook."""


class _CallTimeout(RuntimeError):
    """A check's call into the kernel ran out of time (the kernel was interrupted)."""


def _cell_label(cell, index):
    nbg = cell.get("metadata", {}).get("nbgrader") or {}
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) and gid else f"cell {index + 1}"


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command starts inside a :class:`Sandbox`."""

    sandbox = None   # set by SandboxedExecute before the kernel starts

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return (self.sandbox.prefix() + cmd) if self.sandbox is not None else cmd


def _output_size(msg):
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    data = content.get("data") or {}
    n = sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())
    if msg.get("msg_type") == "error":
        n += sum(len(t) for t in content.get("traceback", []))
    return n


class SandboxedExecute(Execute):
    """nbgrader's Execute with a sandboxed kernel and grade cells decided here."""

    sandbox = Bool(True, help="Run the kernel in the bubblewrap sandbox.").tag(config=True)
    lessonlib_path = Unicode("", help="Folder with the kernel's lessonlib.").tag(config=True)
    work_dir = Unicode("", help="Where the kernels' folders are made.").tag(config=True)
    report_dir = Unicode("", help="Where per-notebook reports are written.").tag(config=True)
    seed_secret = Unicode("", help="Secret the hidden cases' seeds derive from.").tag(config=True)
    limits = Dict({}, help="Fields of lessonlib.grading.sandbox.Limits.").tag(config=True)
    max_timeouts = Integer(3, help="Stop a notebook after this many timeouts.").tag(config=True)
    probe_timeout = Integer(10, help="Seconds to wait for an interrupted kernel.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    # -- kernel start ---------------------------------------------------------
    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        # interrupt through the control channel: a signal would reach bwrap, not the kernel
        km.kernel_spec.interrupt_mode = "message"
        # a message bigger than this (from a hostile kernel) drops the connection instead
        # of filling the grader's memory; the manager's context makes the client's sockets
        km.context.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE)
        if self.sandbox:
            km.sandbox = self._box
            km.transport = "ipc"
            km.ip = os.path.join(self._box.ipc_dir, "k")
            km.connection_file = os.path.join(self._box.ipc_dir, "kernel.json")
        return km

    async def async_start_new_kernel(self, **kwargs):
        if self.sandbox:
            kwargs["cwd"] = "/"
            kwargs["env"] = {"PATH": "/usr/bin:/bin"}   # bwrap --clearenv sets the rest
        else:
            env = self._box.env()
            env.update(HOME=self._scratch, TMPDIR=self._scratch, PYTHONPATH=self.lessonlib_path,
                       MPLCONFIGDIR=os.path.join(self._scratch, ".matplotlib"))
            kwargs["cwd"] = self._scratch
            kwargs["env"] = env
        if self.report_dir:   # the kernel's own messages go to a log, not the terminal
            os.makedirs(self.report_dir, exist_ok=True)
            self._kernel_log_path = os.path.join(self.report_dir, f"{self._name}.kernel.log")
            self._kernel_log = open(self._kernel_log_path, "ab")
            kwargs["stdout"] = kwargs["stderr"] = self._kernel_log
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        if self.sandbox:   # the sockets are bound: the kernel may not add files any more
            self._box.seal()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # -- calls into the kernel ------------------------------------------------
    async def _async_ask(self, expression, timeout):
        """Evaluate one user expression in the kernel; return the text it gave."""
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"r": expression}, allow_stdin=False,
                                 stop_on_error=False)
        reply = await self._await_reply(msg_id, timeout)
        if reply is None:   # too slow: interrupt, then wait for the interrupted reply
            await self.km.interrupt_kernel()
            if await self._await_reply(msg_id, self.probe_timeout) is None:
                raise UnresponsiveKernelError(self._current)
            raise _CallTimeout(self._current)
        result = reply.get("content", {}).get("user_expressions", {}).get("r", {})
        if result.get("status") != "ok":
            from .in_kernel import encode
            return encode({"error": {"type": str(result.get("ename", "Error"))[:100],
                                     "message": str(result.get("evalue", ""))[:2000]}})
        text = result.get("data", {}).get("text/plain", "")
        if not (isinstance(text, str) and text[:1] in "'\"" and len(text) < 64 * 1024 ** 2):
            return '{"error": {"type": "WireError", "message": "not a text answer"}}'
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if not isinstance(value, str):
            return '{"error": {"type": "WireError", "message": "not a text answer"}}'
        return value

    async def _await_reply(self, msg_id, timeout):
        deadline = time.monotonic() + max(timeout, 0.01)
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.shell_channel.get_msg(
                    timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
            except Exception:  # queue.Empty: check the kernel is still there
                await self._async_check_alive()
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    _ask_sync = run_sync(_async_ask)

    # -- notebook and cells ---------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        resources = resources or {}
        nbg = resources.get("nbgrader", {})
        self._name = nbg.get("notebook") or "notebook"
        self._ids = (nbg.get("student", ""), nbg.get("assignment", ""), self._name)
        self._report = {"timeouts": [], "fatal": None, "timeout_seconds": self.timeout,
                        "limits": [], "reference": [], "grader_errors": [],
                        "sandbox": bool(self.sandbox), "checks": []}
        self._n_timeouts = 0
        self._current = "the first cell"
        self._started = time.monotonic()
        self._out_bytes = 0
        self._out_capped = False
        self._kernel_log = None
        self._limits = Limits(**self.limits)
        work = self.work_dir or tempfile.gettempdir()
        os.makedirs(work, exist_ok=True)
        self._scratch = os.path.realpath(tempfile.mkdtemp(prefix="s", dir=work))
        src = resources.get("metadata", {}).get("path") or ""
        support = os.path.join(self._scratch, "support")
        os.makedirs(support)
        if src and os.path.isdir(src):
            for name in os.listdir(src):  # the assignment's support files, no notebook
                path = os.path.join(src, name)
                if name.endswith(".ipynb") or name.startswith(".") or os.path.islink(path):
                    continue
                if os.path.isdir(path):
                    shutil.copytree(path, os.path.join(support, name), symlinks=False)
                elif os.path.isfile(path):
                    shutil.copy(path, support)
        if not self.sandbox:
            for name in os.listdir(support):
                shutil.move(os.path.join(support, name), self._scratch)
        self._box = Sandbox(work, self.lessonlib_path, support, self._limits)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            self._report["fatal"] = self._death_reason()
            raise
        except (UnresponsiveKernelError, CellTimeoutError):
            self._report["fatal"] = (f"the kernel stopped responding after {self._current} "
                                     f"timed out ({self.timeout} s) and could not be interrupted")
            raise
        except TooManyTimeouts:
            self._report["fatal"] = (f"{self._n_timeouts} cells timed out "
                                     f"({', '.join(self._report['timeouts'])}); grading stopped")
            raise
        finally:
            if self._kernel_log is not None:
                self._kernel_log.close()
                self._kernel_log = None
            self._scan_kernel_log()
            self._report["limits"] += self._box.limits_hit()
            self._box.cleanup()
            self._write_report()
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _death_reason(self):
        why = f"the kernel died while running {self._current}"
        if self._box.memory_exceeded():
            return why + f" (it reached the memory limit, {self._limits.memory_bytes >> 20} MiB)"
        return why + " (the code crashed Python, exited it, or hit a resource limit)"

    def _scan_kernel_log(self):
        path = getattr(self, "_kernel_log_path", None)
        if not path or not os.path.isfile(path):
            return
        with open(path, "rb") as fh:
            text = fh.read(8 * 1024 ** 2).decode("utf-8", "replace")
        found = re.findall(REFERENCE_MARK + r" ([\w.]{1,100}) \(([\w-]{1,20})\)", text)
        self._report["reference"] = [list(x) for x in dict.fromkeys(found)]
        if os.path.getsize(path) >= self._limits.file_bytes:
            self._report["limits"].append(f"the kernel's own output reached the file size "
                                          f"limit ({self._limits.file_bytes >> 20} MiB)")

    def _write_report(self):
        if not self.report_dir:
            return
        os.makedirs(self.report_dir, exist_ok=True)
        with open(os.path.join(self.report_dir, f"{self._name}.json"), "w") as fh:
            json.dump(self._report, fh, indent=1)

    def output(self, outs, msg, display_id, cell_index):
        if msg.get("msg_type") in ("stream", "display_data", "execute_result", "error"):
            self._out_bytes += _output_size(msg)
            if self._out_bytes > self._limits.output_bytes:
                if not self._out_capped:
                    self._out_capped = True
                    self._report["limits"].append(
                        f"the notebook printed more than {self._limits.output_bytes >> 20} MiB "
                        f"of output; the rest was dropped (from {self._current})")
                    outs.append(NotebookNode(output_type="stream", name="stdout", text=(
                        "[output limit reached: further output of this notebook dropped]\n")))
                return None
        return super().output(outs, msg, display_id, cell_index)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        label = _cell_label(cell, index)
        self._current = label
        if time.monotonic() - self._started > self._limits.wall_seconds:
            if not any("time limit" in x for x in self._report["limits"]):
                self._report["limits"].append(
                    f"the notebook's time limit ({self._limits.wall_seconds} s) was reached "
                    f"before {label}; the remaining cells were not run (scored 0)")
            cell.outputs = [_error("TimeLimit", "not run: the notebook's time limit was "
                                   "reached")]
            return cell, resources
        if nbutils.is_grade(cell):
            cell.outputs = self._grade_cell(cell, label)
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
               for o in cell.outputs):
            self._timed_out(label)
        return cell, resources

    def _timed_out(self, label):
        self._n_timeouts += 1
        self._report["timeouts"].append(label)
        if self._n_timeouts >= self.max_timeouts:
            raise TooManyTimeouts(label)

    def _grade_cell(self, cell, label):
        """Run the cell's checks here, against the kernel; return the cell's outputs."""
        from .. import checks
        from ..checks import CheckFailed
        from .class_report import verdict

        def record(k, call, failure=None, kind=None):   # for the class report
            try:
                self._report["checks"].append(verdict(self._ids, label, k, call, failure, kind))
            except Exception:  # noqa: BLE001 - the report shows the verdict as missing
                pass
        try:
            calls = parse_grade_cell(cell.source)
        except UnsupportedGradeCell as exc:
            self._report["grader_errors"].append(f"{label}: {exc}")
            return [_error("UnsupportedGradeCell", str(exc))]
        deadline = time.monotonic() + (self.timeout or 120)

        def ask(expr):
            try:
                return self._ask_sync(expr, deadline - time.monotonic())
            except (DeadKernelError, UnresponsiveKernelError, _CallTimeout) as exc:
                raise KernelGone(exc) from None
        link = KernelLink(ask)
        secret = self.seed_secret or "lessonlib"
        buf = io.StringIO()
        outputs = []
        for k, call in enumerate(calls):
            check = getattr(checks, call.check, None)
            if not callable(check):
                record(k, call, NameError(call.check), "grader error")
                outputs.append(_error("NameError", f"lessonlib.checks has no {call.check}"))
                break
            seed = hidden_seed(secret, *self._ids, label, k) if call.hidden else call.seed
            try:
                with contextlib.redirect_stdout(buf):
                    target = _resolve(link, call.target)
                    check(target, hidden=call.hidden, seed=seed)
            except CheckFailed as exc:
                record(k, call, exc)
                outputs.append(_error("CheckFailed", str(exc)))
                break
            except KernelGone as gone:
                if not isinstance(gone.cause, _CallTimeout):
                    raise gone.cause from None
                record(k, call, f"{call.target} did not finish within {self.timeout} s",
                       "timeout")
                self._timed_out(label)
                outputs.append(_error("CellTimeoutError", f"{call.target} did not finish within "
                                      f"{self.timeout} s"))
                break
            except Exception as exc:  # a bug of the grader's, never the student's points
                why = f"{type(exc).__name__}: {exc}"[:300]
                self._report["grader_errors"].append(f"{label}: the check crashed ({why})")
                record(k, call, exc, "grader error")
                outputs.append(_error("GraderError", f"the check could not run: {why}"))
                break
            record(k, call)
        text = buf.getvalue()
        printed = "".join(link.printed)
        head = [NotebookNode(output_type="stream", name="stdout", text=text)] if text else []
        if printed and outputs:
            head.append(NotebookNode(output_type="stream", name="stdout",
                                     text="Your function printed:\n" + printed[:2000]))
        return head + outputs


def _resolve(link, expression):
    """The student's object named by a grade cell, as a proxy (or data)."""
    from ..checks import CheckFailed
    from .in_kernel import RemoteError
    try:
        return link.resolve(expression)
    except RemoteError as exc:
        if exc.type_name == "NameError":
            raise CheckFailed(f"{expression} is not defined. Run the cell that defines it; "
                              f"check that the name is spelled as in the exercise.") from None
        raise CheckFailed(f"{expression} could not be read ({exc.type_name}: "
                          f"{exc.message[:200]}).") from None


def _error(ename, evalue):
    """An error output as the student sees a failed check: the diagnosis, wrapped, alone."""
    from ..checks._core import render
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=render(evalue, ename))


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests, and tracebacks that could quote them, from feedback."""

    def preprocess_cell(self, cell, resources, index):
        from ..checks._core import render
        if cell.cell_type != "code" or _BEGIN_HIDDEN not in cell.source:
            return cell, resources
        kept, inside = [], False
        for line in cell.source.splitlines():
            if _BEGIN_HIDDEN in line:
                inside = True
            elif _END_HIDDEN in line:
                inside = False
            elif not inside:
                kept.append(line)
        cell.source = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).rstrip()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = render(str(out.get("evalue", "")), str(out.get("ename", "Error")))
        return cell, resources
