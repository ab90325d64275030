"""The ``lessonlib`` command: arguments and the errors it explains (no grading run)."""

from importlib.metadata import entry_points

import pytest

from lessonlib.cli import main
from lessonlib.grading.demo import make_demo_course


@pytest.fixture
def course(tmp_path):
    root = make_demo_course(tmp_path / "course")
    (tmp_path / "subs" / "ann" / "01_alpha").mkdir(parents=True)
    return root


def usage_error(capsys, argv):
    """Run an argument that argparse rejects; return its message."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_the_console_script_is_declared():
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts["lessonlib"] == "lessonlib.cli:main"


def test_help_names_both_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "release" in out and "grade" in out


def test_a_command_is_required(capsys):
    assert "required" in usage_error(capsys, [])


@pytest.mark.parametrize("jobs", ["0", "-2", "two", "1.5"])
def test_bad_jobs_are_refused_with_the_reason(capsys, course, tmp_path, jobs):
    err = usage_error(capsys, ["--course", course, "grade", str(tmp_path / "subs"),
                               "--out", str(tmp_path / "out"), "--jobs", jobs])
    assert "argument --jobs: must be a positive integer" in err
    assert repr(jobs) in err or jobs in err


@pytest.mark.parametrize("timeout", ["0", "-1", "soon"])
def test_bad_timeouts_are_refused(capsys, course, tmp_path, timeout):
    err = usage_error(capsys, ["--course", course, "grade", str(tmp_path / "subs"),
                               "--out", str(tmp_path / "out"), "--timeout", timeout])
    assert "argument --timeout: must be a positive number of seconds" in err


def test_out_is_required(capsys, course, tmp_path):
    err = usage_error(capsys, ["--course", course, "grade", str(tmp_path / "subs")])
    assert "--out" in err and "required" in err


def test_a_missing_submissions_folder_is_explained(capsys, course, tmp_path):
    status = main(["--course", course, "grade", str(tmp_path / "nowhere"),
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "the submissions folder" in err and "does not exist" in err
    assert "<student>/<assignment>/<notebook>.ipynb" in err
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_zip_is_refused(capsys, course, tmp_path):
    (tmp_path / "grades.txt").write_text("x")
    status = main(["--course", course, "grade", str(tmp_path / "grades.txt"),
                   "--out", str(tmp_path / "out")])
    assert status == 2
    assert "is a file but not a .zip" in capsys.readouterr().err


def test_out_inside_the_submissions_is_refused(capsys, course, tmp_path):
    status = main(["--course", course, "grade", str(tmp_path / "subs"),
                   "--out", str(tmp_path / "subs" / "results")])
    assert status == 2
    assert "inside the submissions folder" in capsys.readouterr().err


def test_an_unknown_assignment_lists_the_known_ones(capsys, course, tmp_path):
    status = main(["--course", course, "grade", str(tmp_path / "subs"),
                   "--out", str(tmp_path / "out"), "--assignment", "03_gamma"])
    err = capsys.readouterr().err
    assert status == 2
    assert "unknown assignment 03_gamma" in err and "01_alpha, 02_beta" in err


def test_outside_a_course_folder_the_error_says_where_to_run(capsys, tmp_path):
    (tmp_path / "subs").mkdir()
    status = main(["--course", str(tmp_path), "grade", str(tmp_path / "subs"),
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "has no nbgrader_config.py" in err and "course root" in err
    assert main(["--course", str(tmp_path), "release"]) == 2


def test_release_of_an_unknown_assignment_is_refused(capsys, course):
    assert main(["--course", course, "release", "01_alpha", "99_omega"]) == 2
    assert "unknown assignment 99_omega" in capsys.readouterr().err


# --course, --version, --no-sandbox, exit statuses -------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_course_is_accepted_before_or_after_the_command(capsys, tmp_path, where):
    from lessonlib.cli import build_parser
    course = str(tmp_path / "elsewhere")
    argv = ["--course", course, "release"] if where == "before" else \
        ["release", "--course", course]
    assert build_parser().parse_args(argv).course == course
    assert build_parser().parse_args(["release"]).course == "."   # negative control
    gargv = ["--course", course, "grade", "s", "--out", "o"] if where == "before" else \
        ["grade", "s", "--out", "o", "--course", course]
    assert build_parser().parse_args(gargv).course == course
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{course} is not a course folder: it has no nbgrader_config.py" in err


def test_version(capsys):
    from importlib.metadata import version
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"lessonlib {version('lessonlib')}"


def test_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "--no-sandbox" in out
    for line in ("0         done", "1         unexpected internal error",
                 "2         usage, course or lock error", "130, 143  interrupted"):
        assert line in out
    import lessonlib.cli
    assert "Exit status" in lessonlib.cli.__doc__


@pytest.mark.parametrize("flag, sandbox", [([], True), (["--no-sandbox"], False)])
def test_no_sandbox_reaches_grade(monkeypatch, tmp_path, flag, sandbox):
    import lessonlib.grading.run as run
    seen = {}
    monkeypatch.setattr(run, "grade", lambda *a, **k: seen.update(k))
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), *flag]) == 0
    assert seen["sandbox"] is sandbox


def test_scheduler_reaches_grade_and_is_in_the_help(monkeypatch, tmp_path, capsys):
    import lessonlib.grading.run as run
    seen = {}
    monkeypatch.setattr(run, "grade", lambda *a, **k: seen.update(k))
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert seen["scheduler"] is None
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--scheduler", "tcp://127.0.0.1:8786"]) == 0
    assert seen["scheduler"] == "tcp://127.0.0.1:8786"
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    assert "--scheduler" in capsys.readouterr().out


def test_scheduler_without_distributed_names_the_extra(monkeypatch, capsys, course, tmp_path):
    import lessonlib.grading.distributed as dist
    monkeypatch.setattr(dist, "available", lambda: False)
    status = main(["--course", course, "grade", str(tmp_path / "subs"), "--out",
                   str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    assert status == 2
    assert "lessonlib[cluster]" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_one_line_and_a_log(monkeypatch, capsys, tmp_path):
    import tempfile
    import lessonlib.grading.run as run

    def broken(*a, **k):
        raise ZeroDivisionError("a bug\nover two lines")
    monkeypatch.setattr(run, "grade", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lessonlib grade: internal error (ZeroDivisionError: a bug over "
                          "two lines); see the log ")
    log = err.strip().rsplit(" ", 1)[1]
    text = open(log).read()
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text


MISSING = """
import sys
sys.modules["nbgrader"] = None   # as if it were not installed
from lessonlib.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["release"], ["grade", "subs", "--out", "out"]])
def test_a_missing_nbgrader_is_one_line_with_the_fix(tmp_path, command):
    import subprocess
    import sys
    args = [sys.executable, "-c", MISSING, "--course", str(tmp_path), *command]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"lessonlib {command[0]}: error: nbgrader is not installed")
    assert proc.stderr.strip().endswith('install the course tools: pip install -e ".[course]"')
    # negative control: with nbgrader there, the same command gets past that check
    args[2] = MISSING.replace('sys.modules["nbgrader"] = None', "")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "nbgrader is not installed" not in proc.stderr
    assert "is not a course folder" in proc.stderr or "does not exist" in proc.stderr
