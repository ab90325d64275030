"""The student's path in a real browser: JupyterLab in headless Chromium.

Starts JupyterLab on 127.0.0.1 (a free port, a token, a temporary copy of
``course/``, its own settings, runtime and workspace directories) and drives
Debian's ``chromium`` with Playwright:

* notebook 01 with a wrong ``correlate2d`` (it flips the kernel) and the
  other exercises solved: after running every cell above the grade cell
  and the grade cell (the student's path to it), its output starts
  with the diagnosis and shows no lessonlib frame, and it fits the width
  of the output area;
* notebook 02's sliding-window explorer (ipywidgets): moving a slider
  redraws its figure.

Screenshots (PNG) go to ``$LESSONLIB_SCREENSHOTS`` (default: the test's
temporary directory). Skipped when chromium or playwright is missing,
unless ``LESSONLIB_REQUIRE_BROWSER=1`` (CI sets it). Playwright's own
browser download is never used: ``executable_path`` is the system chromium.
"""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
SOLUTIONS = ROOT / "solutions"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRED = os.environ.get("LESSONLIB_REQUIRE_BROWSER") == "1"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

FLIPPED = '''def correlate2d(image, kernel):
    """Valid 2-D cross-correlation of one (H, W) image with one (kH, kW) kernel."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)[::-1, ::-1]      # the mistake: a flipped kernel
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out
'''


def _chromium():
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _need(what, ok):
    if ok:
        return
    if REQUIRED:
        pytest.fail(f"{what} (LESSONLIB_REQUIRE_BROWSER=1 requires the browser test)")
    pytest.skip(f"{what}: install it (apt-get install chromium; pip install playwright) "
                f"or set LESSONLIB_REQUIRE_BROWSER=1 to make this a failure")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _solution_sources(path):
    """grade_id -> source of the solution cells of a solutions/ notebook (markers removed)."""
    nb = json.loads(path.read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            src = "".join(cell["source"])
            src = re.sub(r"^\s*### (BEGIN|END) SOLUTION\s*\n", "", src, flags=re.M)
            out[meta["grade_id"]] = src
    return out


def _prepare_course(tmp):
    """A copy of course/ whose notebook 01 has every exercise solved except a flipped correlate2d."""
    course = tmp / "course"
    shutil.copytree(COURSE, course)
    nb_path = course / "01_convolution" / "convolution.ipynb"
    nb = json.loads(nb_path.read_text())
    solved = _solution_sources(SOLUTIONS / "01_convolution" / "convolution.ipynb")
    solved["correlate2d"] = FLIPPED
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            cell["source"] = solved[meta["grade_id"]]
    nb_path.write_text(json.dumps(nb, indent=1))
    return course


def _settings(tmp):
    """User settings: every cell in the DOM (no windowing), no news or update prompts."""
    settings = tmp / "lab-settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
     ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return settings


@pytest.fixture(scope="session")   # one JupyterLab and one browser per worker
def lab(tmp_path_factory):
    _need("chromium is not installed", _chromium())
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _need("the Python package playwright is not installed", False)
    tmp = tmp_path_factory.mktemp("browser")
    course = _prepare_course(tmp)
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(_settings(tmp)),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "ws"),
               JUPYTER_CONFIG_DIR=str(tmp / "config"))
    env.pop("NBGRADER_EXECUTION", None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
           f"--notebook-dir={course}", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.workspaces_dir={tmp / 'ws'}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (tmp / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield {"base": base, "token": token, "tmp": tmp}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


@pytest.fixture(scope="session")   # one JupyterLab and one browser per worker
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS, headless=True,
                              timeout=30_000)
        try:
            yield b
        finally:
            b.close()


def _shots(lab):
    d = pathlib.Path(os.environ.get("LESSONLIB_SCREENSHOTS") or lab["tmp"] / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _open(browser, lab, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(f"{lab['base']}/lab/tree/{path}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    # the notebook's file is loaded (a busy machine shows the one-cell placeholder model
    # first) and its kernel is idle
    # (and it is this notebook, not one the restored workspace opened first)
    page.wait_for_function("(p) => { const w = window.jupyterapp && window.jupyterapp.shell"
                           ".currentWidget; return w && w.context && w.context.isReady"
                           " && w.context.path.endsWith(p)"
                           " && w.content.model && w.content.model.cells.length > 1"
                           " && w.sessionContext && w.sessionContext"
                           ".session && w.sessionContext.session.kernel && w.sessionContext"
                           ".session.kernel.status === 'idle'; }", arg=path, timeout=90_000)
    return page


# Runs, in order, the first cell whose source contains each text.
RUN_CELLS = """async (texts) => {
    const app = window.jupyterapp, nb = app.shell.currentWidget.content;
    for (const t of texts) {
        const cells = nb.model.cells;
        let i = -1;
        for (let k = 0; k < cells.length && i < 0; k++)
            if (cells.get(k).sharedModel.getSource().includes(t)) i = k;
        if (i < 0) throw new Error('no cell contains ' + t + ' among ' + cells.length);
        nb.activeCellIndex = i;
        nb.deselectAll();
        await app.commands.execute('notebook:run-cell');
    }
}"""


# Runs every cell above the first one whose source contains the text, then that cell.
RUN_UP_TO = """async (t) => {
    const app = window.jupyterapp, nb = app.shell.currentWidget.content, cells = nb.model.cells;
    let i = -1;
    for (let k = 0; k < cells.length && i < 0; k++)
        if (cells.get(k).sharedModel.getSource().includes(t)) i = k;
    if (i < 0) throw new Error('no cell contains ' + t);
    nb.activeCellIndex = i;
    nb.deselectAll();
    await app.commands.execute('notebook:run-all-above');
    nb.activeCellIndex = i;
    nb.deselectAll();
    await app.commands.execute('notebook:run-cell');
}"""


def _cell(page, text):
    """The notebook cell whose editor contains ``text``."""
    return page.locator(".jp-Notebook .jp-Cell").filter(
        has=page.locator(".jp-InputArea", has_text=text)).first


def test_a_wrong_function_shows_the_diagnosis_first_without_frames(browser, lab):
    page = _open(browser, lab, "01_convolution/convolution.ipynb")
    try:
        # The student's path to the grade cell: every cell above it, then the grade cell.
        page.evaluate(RUN_UP_TO, "check_correlate2d(correlate2d)")
        cell = _cell(page, "check_correlate2d(correlate2d)")
        error = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        error.wait_for(timeout=90_000)
        cell.scroll_into_view_if_needed()
        shots = _shots(lab)
        cell.screenshot(path=str(shots / "01_grade_cell.png"))
        page.screenshot(path=str(shots / "01_page.png"))
        text = error.inner_text()
        lines = [x for x in text.splitlines() if x.strip()]
        assert lines[0].startswith("CheckFailed: correlate2d is wrong"), text
        assert "flipped kernel" in " ".join(lines), text
        assert "lessonlib/" not in text and 'File "' not in text and "Traceback" not in text, text
        assert len(lines) <= 6, text
        # The whole diagnosis is visible: no horizontal scrolling in the output.
        widths = error.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert widths[0] <= widths[1] + 1, widths
        # The earlier grade cells (solved) passed: their output is the check mark line.
        passed = _cell(page, "check_convolve1d(convolve1d)").locator(".jp-OutputArea-output")
        assert "all" in passed.first.inner_text() and "match" in passed.first.inner_text()
    finally:
        page.close()


def test_the_sliding_window_explorer_redraws_when_a_slider_moves(browser, lab):
    page = _open(browser, lab, "02_padding_stride/padding_stride.ipynb")
    try:
        page.evaluate(RUN_CELLS, ["from lessonlib import viz", "viz.sliding_window_explorer("])
        cell = _cell(page, "viz.sliding_window_explorer(")
        image = cell.locator(".widget-output img")
        image.wait_for(timeout=60_000)
        cell.scroll_into_view_if_needed()
        shots = _shots(lab)
        cell.screenshot(path=str(shots / "02_explorer_before.png"))
        before = image.get_attribute("src")
        slider = cell.locator(".widget-slider").filter(has_text="padding")
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() == "1"
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "([el, old]) => { const img = el.querySelector('.widget-output img');"
            " return img && img.getAttribute('src') !== old; }",
            arg=[cell.element_handle(), before], timeout=20_000)
        assert readout.inner_text().strip() == "2"
        cell.screenshot(path=str(shots / "02_explorer_after.png"))
        assert image.get_attribute("src") != before
    finally:
        page.close()
