"""A failed check, as a student sees it: the diagnosis first and alone, wrapped, no frames.

The tests run a real IPython kernel (jupyter_client) and read the error
output it sends, whose ``traceback`` is what JupyterLab shows, what
nbgrader's Validate prints and what its feedback HTML renders.
"""

import re

import pytest

from lessonlib.checks import CheckFailed
from lessonlib.checks._core import WIDTH, format_mismatch, render

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

ANSI = re.compile(r"\x1b\[[0-9;]*m")

FLIPPED = '''
import numpy as np
from lessonlib.checks import check_correlate2d

def correlate2d(image, kernel):
    """A student's mistake: the kernel is flipped (a convolution)."""
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)[::-1, ::-1]
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out

check_correlate2d(correlate2d)
'''

NEARLY = '''
import numpy as np
from lessonlib.checks import check_relu

check_relu(lambda x: np.maximum(np.asarray(x, float), 0) * (1 + 3e-7))
'''


@pytest.fixture(scope="module")
def kernel():
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3",
                                                    startup_timeout=60)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def error_output(kc, code, timeout=60):
    """The ``error`` message content the kernel sent for ``code`` (None if it ran)."""
    msg_id = kc.execute(code)
    error = None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            error = msg["content"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return error


def plain(lines):
    return [ANSI.sub("", x) for x in "\n".join(lines).split("\n")]


def assert_student_readable(tb):
    lines = plain(tb)
    assert lines[0].startswith("CheckFailed: "), lines
    for line in lines:
        assert "lessonlib/" not in line and 'File "' not in line and "File " not in line, line
        assert "Traceback" not in line, line
        assert len(line) <= 100, line
    return lines


def test_a_flipped_kernel_shows_the_diagnosis_first_and_alone(kernel):
    err = error_output(kernel, FLIPPED)
    assert err is not None and err["ename"] == "CheckFailed"
    lines = assert_student_readable(err["traceback"])
    text = " ".join(x.strip() for x in lines)
    assert "correlate2d" in lines[0]
    assert "flip" in text.lower(), text
    assert all(len(x) <= WIDTH for x in lines)
    assert err["traceback"][0].startswith("\x1b[1;31mCheckFailed\x1b[0m: ")   # red, bold


def test_nbgrader_validate_and_feedback_show_the_whole_diagnosis(kernel):
    """Validate prints the output's traceback indented and clipped; feedback renders it as HTML."""
    validator = pytest.importorskip("nbgrader.validator")
    from nbconvert.filters import ansi2html
    tb = error_output(kernel, FLIPPED)["traceback"]
    v = validator.Validator()
    shown = v._indent("\n".join(tb)).split("\n")
    assert shown[0].strip().startswith("CheckFailed: correlate2d is wrong")
    assert not any(x.endswith("...") for x in shown), shown     # nothing clipped
    html = ansi2html("\n".join(tb))
    assert "CheckFailed" in html and "flipped kernel" in html and "lessonlib/" not in html


def test_numbers_show_the_digits_that_differ_and_the_relative_error(kernel):
    err = error_output(kernel, NEARLY)
    assert err is not None and err["ename"] == "CheckFailed"
    lines = assert_student_readable(err["traceback"])
    text = " ".join(x.strip() for x in lines)
    got, expected = re.search(r"got (\S+), expected (\S+?) \(relative error", text).groups()
    assert got != expected, text
    assert "relative error 3e-07" in text, text


def test_negative_control_a_plain_assertion_error_shows_frames(kernel):
    """Without ``_render_traceback_`` IPython prints the frames: what the student saw before."""
    code = FLIPPED.replace("check_correlate2d(correlate2d)", """
from lessonlib.checks import CheckFailed
_hook = CheckFailed._render_traceback_
del CheckFailed._render_traceback_
check_correlate2d(correlate2d)
""")
    err = error_output(kernel, code)
    assert error_output(kernel, "CheckFailed._render_traceback_ = _hook") is None
    lines = plain(err["traceback"])
    assert any("lessonlib/" in x for x in lines), lines
    assert not lines[0].startswith("CheckFailed"), lines[0]
    assert len(lines) > 10
    err = error_output(kernel, "assert False, 'a plain AssertionError'")
    assert err["ename"] == "AssertionError"
    assert any("Traceback" in x or "Cell In[" in x for x in plain(err["traceback"]))


def test_render_wraps_long_messages_and_keeps_paragraphs():
    msg = ("conv2d is wrong for x of shape (2, 3, 7, 7), 3x3 kernel, stride 2, padding 1: "
           "12 of 98 value(s) differ; the largest difference is at index (1, 2, 3, 3): "
           + format_mismatch(0.318540001, 0.31854) + ".\nSecond paragraph.")
    lines = render(msg, color=False)
    assert lines[0].startswith("CheckFailed: conv2d is wrong")
    assert all(len(x) <= WIDTH for x in lines), lines
    assert all(x.startswith("  ") for x in lines[1:-1])
    assert lines[-1] == "Second paragraph."
    assert " ".join(x.strip() for x in lines[:-1]) == "CheckFailed: " + msg.split("\n")[0]


def test_the_hook_returns_the_render():
    exc = CheckFailed("relu is wrong. " * 20)
    assert exc._render_traceback_() == render(str(exc))
    assert isinstance(exc, AssertionError)


@pytest.mark.parametrize("got, expected, shown", [
    (0.3185412, 0.3185398, "got 0.318541, expected 0.31854 "),
    (1.0000000000000002, 1.0, "got 1.0000000000000002, expected 1 "),
    (float("nan"), 1.0, "got nan, expected 1"),
])
def test_format_mismatch_shows_the_difference(got, expected, shown):
    assert format_mismatch(got, expected).startswith(shown)
