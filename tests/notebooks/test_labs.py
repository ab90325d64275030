"""The two labs (``make lab``: the student's, ``make instructor``) and the student install.

Fast tests read the configuration: ``pyproject.toml``'s ``student`` extra covers
every import of the released notebooks, the license is an SPDX string, the
Makefile starts both labs through :mod:`lessonlib.labs`, the role folders
``jupyter/student`` and ``jupyter/instructor`` switch nbgrader's parts as
documented.

Slow tests start real JupyterLabs (127.0.0.1, a free port, a token) and ask
their REST API and the page config in the HTML of ``/lab``:

* ``make lab`` and ``make instructor`` themselves, on this repository: the
  student's lab serves ``course/`` without the formgrader, the instructor's the
  course root with it; starting them writes no gradebook;
* both labs from :func:`lessonlib.labs.command` (what the Makefile runs) on a
  temporary copy of the course, where they may write: Validate runs a notebook
  in the student's lab; the instructor's formgrader lists every assignment of
  ``solutions/``, its links open real folders and Generate regenerates the
  release; the gradebook appears only where ``nbgrader_config.py`` puts it;
  the two labs keep separate workspaces;
* headless Chromium (Debian's ``chromium``, never a downloaded browser): the
  student's notebook with its Validate button and no instructor tools, the
  instructor's formgrader listing the assignments. The screenshots go to the
  test's temporary folder, or to ``docs/screenshots/`` (the committed ones)
  when ``LESSONLIB_UPDATE_SCREENSHOTS=1``. Skipped without chromium or
  playwright, unless ``LESSONLIB_REQUIRE_BROWSER=1``.
"""

import ast
import glob
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from lessonlib import labs

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("LESSONLIB_REQUIRE_BROWSER") == "1"
UPDATE_SCREENSHOTS = os.environ.get("LESSONLIB_UPDATE_SCREENSHOTS") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

NBGRADER_SERVER = ("formgrader", "validate_assignment", "assignment_list", "course_list")
NBGRADER_PLUGINS = ("formgrader", "validate-assignment", "create-assignment", "assignment-list",
                    "course-list", "menu")
# What each role has of nbgrader: server extensions and lab plugins that are on.
EXPECTED = {
    "student": ({"validate_assignment"}, {"validate-assignment"}),
    "instructor": ({"validate_assignment", "formgrader"},
                   {"validate-assignment", "formgrader", "create-assignment", "menu"}),
}
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir()
                     if p.is_dir() and re.fullmatch(r"\d\d_\w+", p.name))


def _toml(path):
    try:
        import tomllib
    except ImportError:                      # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(path, "rb") as f:
        return tomllib.load(f)


def _name(requirement):
    """The normalised project name of a requirement string: 'Foo_Bar[x]>=1' -> 'foo-bar'."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _notebook_imports(pattern):
    """Top-level module -> notebooks that import it, over the code cells of the notebooks."""
    found = {}
    for path in sorted(glob.glob(str(ROOT / pattern))):
        nb = json.loads(pathlib.Path(path).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            # IPython magics and shell escapes are not Python
            source = "\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(
                        pathlib.Path(path).parent.name)
    return found


# --------------------------------------------------------------------------- install


def test_the_student_extra_brings_the_lab_validate_and_widgets():
    project = _toml(ROOT / "pyproject.toml")["project"]
    student = {_name(r) for r in project["optional-dependencies"]["student"]}
    assert {"jupyterlab", "nbgrader", "ipywidgets"} <= student, student
    # the existing extras and dependencies are still there
    assert {"jupyterlab", "nbgrader"} <= {_name(r) for r in project["optional-dependencies"]["course"]}
    assert "numpy" in {_name(r) for r in project["dependencies"]}


def test_the_student_extra_covers_every_import_of_the_released_notebooks():
    project = _toml(ROOT / "pyproject.toml")["project"]
    # pip install "lessonlib[student]" installs the extra and lessonlib's dependencies
    installed = ({_name(r) for r in project["optional-dependencies"]["student"]}
                 | {_name(r) for r in project["dependencies"]})
    imports = _notebook_imports("course/*/*.ipynb")
    assert "lessonlib" in imports and len(imports["lessonlib"]) == len(ASSIGNMENTS), imports
    assert "numpy" in imports and "matplotlib" in imports, imports    # the parse finds them
    providers = importlib.metadata.packages_distributions()   # module -> distributions
    missing = {}
    for module, notebooks in sorted(imports.items()):
        if module == "lessonlib" or module in sys.stdlib_module_names:
            continue
        dists = {_name(d) for d in providers.get(module, [module])}
        if not dists & installed:
            missing[module] = (sorted(dists), sorted(notebooks))
    assert not missing, f"imported by course/ but not in lessonlib[student]: {missing}"


def test_the_license_is_an_spdx_string_and_the_backend_understands_it():
    data = _toml(ROOT / "pyproject.toml")
    assert data["project"]["license"] == "MIT"          # PEP 639, not a { text = ... } table
    [setuptools] = [r for r in data["build-system"]["requires"] if _name(r) == "setuptools"]
    version = re.search(r">=\s*([\d.]+)", setuptools).group(1)
    assert tuple(map(int, version.split("."))) >= (77,), setuptools


# --------------------------------------------------------------------------- configuration


def _makefile_recipe(target):
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}\s*:", line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


@pytest.mark.parametrize("target, role", [("lab", "student"), ("instructor", "instructor")])
def test_the_makefile_starts_each_lab_through_lessonlib_labs(target, role):
    recipe = _makefile_recipe(target)
    assert len(recipe) == 1 and re.search(rf"python -m lessonlib\.labs {role}\b", recipe[0]), recipe


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_each_role_switches_nbgraders_parts(role):
    server_on, plugins_on = EXPECTED[role]
    config = json.loads((ROOT / "jupyter" / role / "jupyter_server_config.json").read_text())
    extensions = config["ServerApp"]["jpserver_extensions"]
    assert {name: extensions[f"nbgrader.server_extensions.{name}"] for name in NBGRADER_SERVER} \
        == {name: name in server_on for name in NBGRADER_SERVER}
    # no news feed, no update check, no PyPI search: the labs download nothing
    assert config["LabApp"]["news_url"] is None
    assert config["LabApp"]["check_for_updates_class"] == "jupyterlab.NeverCheckForUpdate"
    assert config["LabApp"]["extension_manager"] == "readonly"
    page = json.loads((ROOT / "jupyter" / role / "labconfig" / "page_config.json").read_text())
    disabled = {k for k, v in page["disabledExtensions"].items() if v}
    assert {p for p in NBGRADER_PLUGINS if f"@jupyter/nbgrader:{p}" not in disabled} == plugins_on
    assert "@jupyterlab/apputils-extension:announcements" in disabled


def test_the_labs_serve_their_folder_with_their_own_config_and_workspaces(tmp_path):
    student, s_env, s_cwd = labs.command("student", tmp_path, env={})
    instructor, i_env, i_cwd = labs.command("instructor", tmp_path, env={"JUPYTER_CONFIG_PATH": "/x"})
    assert s_cwd == i_cwd == str(tmp_path.resolve())    # nbgrader reads nbgrader_config.py from here
    assert f"--notebook-dir={tmp_path.resolve() / 'course'}" in student
    assert f"--notebook-dir={tmp_path.resolve()}" in instructor
    assert s_env["JUPYTER_CONFIG_PATH"] == str(ROOT / "jupyter" / "student")
    assert i_env["JUPYTER_CONFIG_PATH"] == os.pathsep.join([str(ROOT / "jupyter" / "instructor"), "/x"])
    ws = [next(a for a in argv if a.startswith("--LabApp.workspaces_dir=")).split("=", 1)[1]
          for argv in (student, instructor)]
    assert ws[0] != ws[1] and ws == [str(tmp_path.resolve() / ".jupyter-workspaces" / r)
                                     for r in ("student", "instructor")]
    assert ("--allow-root" in student) == (os.geteuid() == 0)
    # without a port or a token, JupyterLab chooses them (and opens the browser)
    assert not [a for a in student if a.startswith(("--port", "--IdentityProvider", "--no-browser"))]


def test_the_workspaces_and_the_gradebook_are_ignored_by_git():
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = [".jupyter-workspaces/student/default.jupyterlab-workspace",
             ".jupyter-workspaces/instructor/default.jupyterlab-workspace", "gradebook.db"]
    out = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == paths, out


def test_python_m_lessonlib_labs_without_a_role_is_a_usage_error(capsys):
    assert labs.main([]) == 2
    assert labs.main(["grader"]) == 2
    assert "usage: python -m lessonlib.labs {student,instructor}" in capsys.readouterr().err


# --------------------------------------------------------------------------- running labs


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(lab, path, data=None, method=None):
    """(status, body) of a request to the lab, with its token."""
    request = urllib.request.Request(
        f"{lab['base']}{path}", data=data, method=method,
        headers={"Authorization": f"token {lab['token']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _json(lab, path, **kw):
    status, body = _request(lab, path, **kw)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def _listed(value):
    """The names a page config lists: a list, or a mapping name -> true."""
    return set(value) if isinstance(value, list) else {k for k, v in value.items() if v}


def _page_config(lab):
    status, html = _request(lab, "/lab")
    assert status == 200, html[:500]
    data = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                     html, re.S)
    return json.loads(data.group(1))


def _start(argv, env, cwd, log_path, **popen):
    """Start a lab; returns (process, log file). Its process group is its own."""
    env = dict(env)
    env.pop("NBGRADER_EXECUTION", None)
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, **popen)
    return proc, log


def _wait_ready(lab, proc, log_path, deadline=180):
    end = time.monotonic() + deadline
    while True:
        try:
            urllib.request.urlopen(f"{lab['base']}/api/status?token={lab['token']}", timeout=3)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"JupyterLab did not start:\n{pathlib.Path(log_path).read_text()[-3000:]}")
            time.sleep(0.3)


def _stop(proc, log):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)     # the lab, and make above it if any
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    log.close()


def _gradebooks(root):
    return sorted(str(p.relative_to(root)) for p in pathlib.Path(root).rglob("gradebook.db"))


def _copy_course(dest):
    """What the labs need of the course root: solutions/, course/, nbgrader_config.py."""
    dest.mkdir()
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "gradebook.db*")
    for folder in ("solutions", "course"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def _both(tmp, start):
    """Start the student's and the instructor's lab with ``start(role, port, token, log)``."""
    procs, out = [], {}
    try:
        for role in ("student", "instructor"):
            port, token = _free_port(), uuid.uuid4().hex
            log_path = tmp / f"{role}.log"
            proc, log = start(role, port, token, log_path)
            procs.append((proc, log))
            out[role] = {"base": f"http://127.0.0.1:{port}", "token": token, "role": role,
                         "log": log_path, "proc": proc}
        for role, lab in out.items():
            _wait_ready(lab, lab["proc"], lab["log"])
        yield out
    finally:
        for proc, log in procs:
            _stop(proc, log)


def _isolated_env(tmp):
    """The user's environment, with a runtime and a settings folder of the test's own."""
    return dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"))


@pytest.fixture(scope="module")
def made_labs(tmp_path_factory):
    """``make lab`` and ``make instructor`` on this repository (the venv is not re-installed)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv: the Makefile's labs run in it (make venv)")
    tmp = tmp_path_factory.mktemp("made-labs")
    env = _isolated_env(tmp)
    before = {p: os.stat(ROOT / p).st_mtime_ns for p in _gradebooks(ROOT)}

    def start(role, port, token, log):
        target = {"student": "lab", "instructor": "instructor"}[role]
        argv = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", target,
                f"LAB_ARGS=--port={port} --port-retries=0 --IdentityProvider.token={token}"
                " --no-browser --ip=127.0.0.1"]
        return _start(argv, env, tmp, log)

    for labs_ in _both(tmp, start):
        labs_["gradebooks_before"] = before
        yield labs_


@pytest.fixture(scope="module")
def course_labs(tmp_path_factory):
    """Both labs from lessonlib.labs.command (the Makefile's), on a copy of the course."""
    tmp = tmp_path_factory.mktemp("course-labs")
    course = _copy_course(tmp / "cnn")
    env = _isolated_env(tmp)

    def start(role, port, token, log):
        argv, env_, cwd = labs.command(role, course, port=port, token=token, open_browser=False,
                                       env=env)
        return _start(argv + ["--ip=127.0.0.1"], env_, cwd, log)

    for labs_ in _both(tmp, start):
        labs_["root"] = course
        labs_["gradebooks_at_start"] = _gradebooks(course)
        yield labs_


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_make_lab_serves_course_and_make_instructor_the_course_root(made_labs):
    student, instructor = made_labs["student"], made_labs["instructor"]
    s_items = {i["name"] for i in _json(student, "/api/contents/")["content"]}
    assert set(ASSIGNMENTS) <= s_items and "nbgrader_config.py" not in s_items, s_items
    i_items = {i["name"] for i in _json(instructor, "/api/contents/")["content"]}
    assert {"solutions", "course", "nbgrader_config.py"} <= i_items, i_items
    # the formgrader (asked without touching the gradebook): the instructor's only
    assert _request(student, "/formgrader/api/status")[0] == 404
    assert _json(instructor, "/formgrader/api/status") == {"status": True}
    for role in ("student", "instructor"):
        config = _page_config(made_labs[role])
        disabled = _listed(config["disabledExtensions"])
        assert {p for p in NBGRADER_PLUGINS if f"@jupyter/nbgrader:{p}" not in disabled} \
            == EXPECTED[role][1], (role, disabled)
        assert config["workspacesDir"] == str(ROOT / ".jupyter-workspaces" / role)
        assert config["news"] == {"disabled": True}
        assert config["extensionManager"]["name"] == "read-only"
    # starting both wrote no gradebook, and changed none
    after = {p: os.stat(ROOT / p).st_mtime_ns for p in _gradebooks(ROOT)}
    assert after == made_labs["gradebooks_before"]


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_student_lab_has_validate_and_none_of_the_instructor_tools(course_labs):
    student, instructor = course_labs["student"], course_labs["instructor"]
    for path in ("/formgrader", "/formgrader/manage_assignments", "/formgrader/api/assignments",
                 "/formgrader/api/assignment/01_convolution/assign"):
        assert _request(student, path)[0] == 404, path
        assert _request(instructor, path)[0] in (200, 405), path      # the negative control
    # no assignment or course list, hence no exchange errors, in either lab
    for lab in (student, instructor):
        assert _request(lab, "/assignments")[0] == 404
        assert _request(lab, "/courses")[0] == 404
    # Validate: its version check and a real validation of a released notebook
    version = importlib.metadata.version("nbgrader")
    assert _json(student, f"/nbgrader_version?version={version}") == {"success": True}
    result = _json(student, "/assignments/validate", method="POST",
                   data=json.dumps({"path": "01_convolution/convolution.ipynb"}).encode())
    assert result["success"] is True, result
    failed = result["value"]["failed"]          # the released stubs raise NotImplementedError
    assert failed and "convolve1d is not implemented yet" in failed[0]["raw_error"], result
    # neither Validate nor the 404s wrote a gradebook in the student's folder
    assert _gradebooks(course_labs["root"] / "course") == []


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_page_config_switches_nbgraders_plugins_per_role(course_labs):
    for role in ("student", "instructor"):
        config = _page_config(course_labs[role])
        assert "@jupyter/nbgrader" in {e["name"] for e in config["federated_extensions"]}
        disabled = _listed(config["disabledExtensions"])
        assert {p for p in NBGRADER_PLUGINS if f"@jupyter/nbgrader:{p}" not in disabled} \
            == EXPECTED[role][1], (role, disabled)
        locked = _listed(config["lockedExtensions"])
        assert {f"@jupyter/nbgrader:{p}" for p in NBGRADER_PLUGINS} <= locked


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_formgrader_lists_every_assignment_and_its_links_open_real_files(course_labs):
    instructor, root = course_labs["instructor"], course_labs["root"]
    assert course_labs["gradebooks_at_start"] == []        # starting both wrote none
    assignments = _json(instructor, "/formgrader/api/assignments")
    assert [a["name"] for a in assignments] == ASSIGNMENTS
    # the page's links are url_prefix + "/" + path: "." when the lab serves the course root
    status, html = _request(instructor, "/formgrader/manage_assignments")
    assert status == 200 and 'var url_prefix = ".";' in html, html[:2000]
    for a in assignments:
        assert a["source_path"] == f"solutions/{a['name']}"
        assert a["release_path"] == f"course/{a['name']}"
        for folder in (a["source_path"], a["release_path"]):     # name / Preview links
            listing = _json(instructor, f"/api/contents/{folder}")
            assert listing["type"] == "directory"
            assert [i for i in listing["content"] if i["name"].endswith(".ipynb")], listing
        notebooks = _json(instructor, f"/formgrader/api/notebooks/{a['name']}")
        assert notebooks, a["name"]
    # Generate (the formgrader's "assign" button), on the copy: it rewrites the release
    release = root / "course" / "01_convolution"
    [notebook] = release.glob("*.ipynb")
    os.utime(notebook, ns=(0, 0))
    result = _json(instructor, "/formgrader/api/assignment/01_convolution/assign", method="POST",
                   data=b"{}")
    assert result["success"] is True, result
    assert notebook.stat().st_mtime_ns > 0
    # the gradebook: only where nbgrader_config.py puts it (db_url relative to the course root)
    assert _gradebooks(root) == ["gradebook.db"]


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_one_lab_never_restores_the_others_workspace(course_labs):
    student, instructor = course_labs["student"], course_labs["instructor"]
    dirs = [_page_config(lab)["workspacesDir"] for lab in (student, instructor)]
    assert dirs == [str(course_labs["root"] / ".jupyter-workspaces" / r)
                    for r in ("student", "instructor")]
    marker = {"data": {"layout-restorer:data": {"main": {"dock": {
        "type": "tab-area", "currentIndex": 0, "widgets": ["notebook:01_convolution/convolution.ipynb"]}}}},
        "metadata": {"id": "default"}}
    status, body = _request(student, "/lab/api/workspaces/default", method="PUT",
                            data=json.dumps(marker).encode())
    assert status == 204, body
    theirs = _json(instructor, "/lab/api/workspaces/default")
    assert "notebook:01_convolution/convolution.ipynb" not in json.dumps(theirs)
    assert list(pathlib.Path(dirs[0]).glob("*.jupyterlab-workspace"))


# --------------------------------------------------------------------------- browser


def _chromium():
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _need(what, ok):
    if ok:
        return
    if REQUIRED:
        pytest.fail(f"{what} (LESSONLIB_REQUIRE_BROWSER=1 requires the browser test)")
    pytest.skip(f"{what}: apt-get install chromium; pip install playwright")


@pytest.fixture(scope="module")
def browser(course_labs):
    """``run(body)``: ``body(browser)`` with headless Chromium, in a thread of its own.

    Playwright's sync API allows one instance per thread, and tests/notebooks/test_browser.py
    keeps its own open for the session (in the same pytest worker): so each test
    here drives its own in another thread.
    """
    _need("chromium is not installed", _chromium())
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _need("the Python package playwright is not installed", False)

    def run(body):
        outcome = {}

        def target():
            from playwright.sync_api import sync_playwright
            try:
                with sync_playwright() as p:
                    b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS,
                                          headless=True, timeout=30_000)
                    try:
                        body(b)
                    finally:
                        b.close()
            except BaseException as exc:      # re-raised in the test's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name="playwright")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]

    return run


def _screenshot(page, name, tmp_path):
    """A small PNG: docs/screenshots/NAME when asked (LESSONLIB_UPDATE_SCREENSHOTS=1)."""
    folder = ROOT / "docs" / "screenshots" if UPDATE_SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    try:
        from PIL import Image
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=256)
        small.save(path, optimize=True)
    except ImportError:
        pass
    return path


def _menus(page):
    return [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def _side_tabs(page):
    return page.locator("li.lm-TabBar-tab").evaluate_all("els => els.map(e => e.dataset.id)")


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_student_sees_a_notebook_with_validate_and_no_instructor_tools(browser, course_labs,
                                                                             tmp_path):
    browser(lambda b: _student_sees(b, course_labs["student"], tmp_path))


def _student_sees(browser, lab, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{lab['base']}/lab/tree/01_convolution/convolution.ipynb?token={lab['token']}")
        button = page.locator(".validate-button")
        button.wait_for()
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        page.locator(".jp-Notebook .jp-Cell").nth(1).wait_for()
        page.wait_for_selector("li.lm-TabBar-tab[data-id='filebrowser']")
        assert button.inner_text().strip() == "Validate"
        assert "Nbgrader" not in _menus(page) and "Kernel" in _menus(page)
        tabs = _side_tabs(page)
        assert "filebrowser" in tabs
        assert not [t for t in tabs if t and ("nbgrader" in t or "formgrader" in t)], tabs
        _screenshot(page, "student-lab.png", tmp_path)
        # the button works: it validates the notebook and shows the result
        button.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=180_000)
        text = dialog.inner_text()
        assert "Validation Results" in text and "convolve1d is not implemented yet" in text, text
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_instructor_sees_the_formgrader_listing_every_assignment(browser, course_labs,
                                                                    tmp_path):
    browser(lambda b: _instructor_sees(b, course_labs["instructor"], tmp_path))


def _instructor_sees(browser, lab, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(90_000)
    try:
        # ?formgrader=true: the formgrader plugin's route opens it in a tab
        page.goto(f"{lab['base']}/lab?formgrader=true&token={lab['token']}")
        frame = page.frame_locator("iframe")
        rows = frame.locator("tbody tr")
        frame.locator("tbody tr", has_text=ASSIGNMENTS[-1]).wait_for()
        names = [t.split()[0] for t in rows.all_inner_texts() if t.strip()]
        assert names == ASSIGNMENTS, names
        assert "Nbgrader" in _menus(page)
        assert "nbgrader-create_assignemnt" in _side_tabs(page)      # (sic) nbgrader's id
        frame.locator("table").first.evaluate("e => e.scrollIntoView({block: 'end'})")
        _screenshot(page, "instructor-formgrader.png", tmp_path)
        # its links open real folders in the lab's file browser: the name the source,
        # Preview the release
        crumbs = page.locator(".jp-FileBrowser .jp-BreadCrumbs").first
        listing = page.locator(".jp-FileBrowser .jp-DirListing-content").first
        first = frame.locator("tbody tr").first
        for link, folder in ((first.locator("td").first.locator("a"), "solutions"),
                             (first.locator("td.preview a"), "course")):
            link.click()
            page.wait_for_function(
                "([el, want]) => el.innerText.replace(/\\s+/g, '').includes(want)",
                arg=[crumbs.element_handle(), f"{folder}/{ASSIGNMENTS[0]}"], timeout=30_000)
            listing.locator(".jp-DirListing-item", has_text=".ipynb").first.wait_for()
    finally:
        page.close()
