"""nbgrader preprocessors the grading pipeline plugs into autograde and feedback.

nbgrader's own ``Autograde`` and ``GenerateFeedback`` converters do the
work; these classes are configured into them (``Autograde.autograde_preprocessors``,
``GenerateFeedback.preprocessors``) and change only what this course needs:

:class:`GuardedExecute`
    nbgrader's ``Execute``, but the kernel starts in an empty scratch
    folder outside the course, with the guard of
    :mod:`lessonlib.grading.guard` installed before the first cell; after
    every grade cell it asks the guard for a report and runs a failing
    canary. A grade cell that ran in a tampered kernel gets an error
    output (so nbgrader scores it 0) naming what was tampered with.
    Timeouts, a dead kernel and an unresponsive kernel are written to a
    report file next to the gradebook.
:class:`GradeCellOutputs`
    warnings on stderr and a value shown by a grade cell do not change
    its score: in this course a grade cell earns its points when it
    raises nothing.
:class:`HideHiddenTests`
    feedback shows neither the hidden tests' code nor tracebacks that
    would quote it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import tempfile
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.preprocessors.execute import UnresponsiveKernelError
from jupyter_core.utils import run_sync
from traitlets import Integer, List, Unicode

__all__ = ["GuardedExecute", "GradeCellOutputs", "HideHiddenTests", "TooManyTimeouts",
           "INTEGRITY_ERROR"]

INTEGRITY_ERROR = "GradingIntegrityError"
_BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
_END_HIDDEN = "### END HIDDEN TESTS"
_KEEP_ENV = ("PATH", "VIRTUAL_ENV", "PYTHONPATH", "CONDA_PREFIX")


class TooManyTimeouts(RuntimeError):
    """More cells timed out than the grader allows for one notebook."""


def _cell_label(cell, index):
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid or f"cell {index + 1}"


class GuardedExecute(Execute):
    """nbgrader's Execute in a scratch folder, with the grading guard installed."""

    deny_paths = List(Unicode(), help="Roots the kernel may not touch.").tag(config=True)
    allow_paths = List(Unicode(), help="Roots inside denied ones it may.").tag(config=True)
    scratch_root = Unicode("", help="Where kernels' scratch folders are made.").tag(config=True)
    report_dir = Unicode("", help="Where per-notebook reports are written.").tag(config=True)
    max_timeouts = Integer(3, help="Stop a notebook after this many timeouts.").tag(config=True)
    probe_timeout = Integer(20, help="Seconds to wait for the guard's answer.").tag(config=True)

    # -- kernel start ---------------------------------------------------------
    def _kernel_env(self):
        deny = [os.path.realpath(p) for p in self.deny_paths if p]
        env = {k: v for k, v in os.environ.items()
               if k in _KEEP_ENV or not any(d in v for d in deny)}
        tmp = os.path.join(self._scratch, "tmp")
        env.update(PWD=self._scratch, TMPDIR=tmp, TMP=tmp, TEMP=tmp)
        for key in ("OLDPWD", "MPLBACKEND"):
            env.pop(key, None)
        return env

    async def async_start_new_kernel(self, **kwargs):
        kwargs["cwd"] = self._scratch
        kwargs["env"] = self._kernel_env()
        if self.report_dir:   # the kernel's own messages go to a log, not the terminal
            os.makedirs(self.report_dir, exist_ok=True)
            self._kernel_log = open(os.path.join(self.report_dir, "kernel.log"), "ab")
            kwargs["stdout"] = kwargs["stderr"] = self._kernel_log
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        allow = [self._scratch] + list(self.allow_paths)
        expr = ("__import__('lessonlib.grading.guard', fromlist=['install']).install("
                f"deny={list(self.deny_paths)!r}, allow={allow!r})")
        reply = await self._request("", {"install": expr})
        result = (reply or {}).get("content", {}).get("user_expressions", {}).get("install", {})
        if result.get("status") != "ok":
            why = f"{result.get('ename', 'no answer')}: {result.get('evalue', '')}"
            self._report["fatal"] = f"the grading guard could not be installed ({why})"
            raise RuntimeError(self._report["fatal"])
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # -- requests outside the notebook's cells -------------------------------
    async def _request(self, code, user_expressions=None, timeout=None):
        """Send one silent execute request; return its reply or None on timeout."""
        msg_id = self.kc.execute(code, silent=True, store_history=False,
                                 user_expressions=user_expressions or {},
                                 allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + (timeout or self.probe_timeout)
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=1)
            except Exception:  # queue.Empty: check the kernel is still there
                await self._async_check_alive()
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    async def _integrity(self):
        """Ask the guard what changed; run the canary. Return the reasons found."""
        reply = await self._request("", {"report": "__import__('lessonlib.grading.guard', "
                                                   "fromlist=['report']).report()"})
        reasons = []
        result = (reply or {}).get("content", {}).get("user_expressions", {}).get("report", {})
        try:
            rep = json.loads(ast.literal_eval(result["data"]["text/plain"]))
        except (KeyError, ValueError, SyntaxError, TypeError):
            rep = None
            reasons.append("the grader's integrity probe got no answer: the kernel's "
                           "execution machinery was altered")
        if rep is not None:
            reasons += rep.get("tampered", [])
            refs = rep.get("reference", [])
            reasons += refs[self._n_reference:]
            self._n_reference = len(refs)
            self._report["denied"] = rep.get("denied", [])
        canary = await self._request("raise AssertionError('lessonlib grading canary')")
        if canary is None:
            reasons.append("the grader's canary got no answer")
        elif canary["content"].get("status") != "error":
            reasons.append("a failing test was reported as passing: the kernel's error "
                           "reporting was altered")
        return reasons

    _integrity_sync = run_sync(_integrity)

    async def _responsive(self):
        return await self._request("", timeout=self.probe_timeout) is not None

    _responsive_sync = run_sync(_responsive)

    # -- notebook and cells ---------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._report = {"timeouts": [], "integrity": [], "denied": [], "fatal": None,
                        "timeout_seconds": self.timeout}
        self._n_reference = 0
        self._n_timeouts = 0
        self._current = "the first cell"
        if self.scratch_root:
            os.makedirs(self.scratch_root, exist_ok=True)
        self._scratch = os.path.realpath(
            tempfile.mkdtemp(prefix="kernel-", dir=self.scratch_root or None))
        os.makedirs(os.path.join(self._scratch, "tmp"))
        src = (resources or {}).get("metadata", {}).get("path") or ""
        if src and os.path.isdir(src):
            for name in os.listdir(src):  # the assignment's support files, no notebook
                path = os.path.join(src, name)
                if name.endswith(".ipynb") or name.startswith("."):
                    continue
                if os.path.isdir(path):
                    shutil.copytree(path, os.path.join(self._scratch, name))
                else:
                    shutil.copy(path, self._scratch)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            self._report["fatal"] = (f"the kernel died while running {self._current} "
                                     f"(the code crashed Python or exited it)")
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
            self._write_report(resources or {})
            shutil.rmtree(self._scratch, ignore_errors=True)
            if getattr(self, "_kernel_log", None) is not None:
                self._kernel_log.close()
                self._kernel_log = None

    def _write_report(self, resources):
        if not self.report_dir:
            return
        os.makedirs(self.report_dir, exist_ok=True)
        name = resources.get("nbgrader", {}).get("notebook") or "notebook"
        with open(os.path.join(self.report_dir, f"{name}.json"), "w") as fh:
            json.dump(self._report, fh, indent=1)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        label = _cell_label(cell, index)
        self._current = label
        cell, resources = super().preprocess_cell(cell, resources, index)
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
               for o in cell.outputs):
            self._n_timeouts += 1
            self._report["timeouts"].append(label)
            if not self._responsive_sync():
                raise UnresponsiveKernelError(label)
            if self._n_timeouts >= self.max_timeouts:
                raise TooManyTimeouts(label)
        if nbutils.is_grade(cell):
            reasons = self._integrity_sync()
            if reasons:
                text = "; ".join(dict.fromkeys(reasons))
                cell.outputs.append(NotebookNode(
                    output_type="error", ename=INTEGRITY_ERROR,
                    evalue=f"this test ran in a tampered grading kernel: {text}",
                    traceback=[f"{INTEGRITY_ERROR}: this test ran in a tampered grading "
                               f"kernel: {text}"]))
                self._report["integrity"].append({"cell": label, "reasons": reasons})
        return cell, resources


class GradeCellOutputs(NbGraderPreprocessor):
    """Stderr and displayed values of grade cells do not change their score.

    nbgrader gives 0 to a grade cell with any stderr output, and reads a
    number shown by the cell as partial credit. Here checks pass or raise,
    so stderr becomes stdout and a shown value becomes plain display.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and nbutils.is_grade(cell):
            for out in cell.outputs:
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    out["name"] = "stdout"
                elif out.get("output_type") == "execute_result":
                    out["output_type"] = "display_data"
                    out.pop("execution_count", None)
        return cell, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests, and tracebacks that could quote them, from feedback."""

    def preprocess_cell(self, cell, resources, index):
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
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
