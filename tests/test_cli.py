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
