"""The course folder as nbgrader sees it, and the release command.

:class:`Course` reads ``nbgrader_config.py`` (the folder names of the
source and the release, the course id) and lists the assignments: the
folders of the source directory that hold a notebook. :func:`release`
regenerates the release with nbgrader's ``generate_assignment ASSIGNMENT
--force``, run from the course root for each assignment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

__all__ = ["Course", "CourseError", "release", "nbgrader_env"]

_SKIP_DIRS = (".ipynb_checkpoints", "__pycache__")

# ``nbgrader generate_assignment NAME --force`` for each NAME, in one process:
# the app the nbgrader command runs, without paying its start-up per assignment
# (jsonschema's optional rfc3987_syntax grammar, unused by nbformat, takes seconds).
_RELEASE = """
import sys
sys.modules.setdefault("rfc3987_syntax", None)
from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp
for name in sys.argv[1:]:
    print("releasing", name, flush=True)
    app = GenerateAssignmentApp()
    app.initialize([name, "--force"])
    app.start()
"""


class CourseError(ValueError):
    """The course folder, an assignment name or a command argument is wrong."""


def nbgrader_env():
    """The environment for nbgrader processes: this Python's bin on PATH.

    nbgrader runs the ``alembic`` executable that lives next to Python.
    """
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


@dataclass
class Course:
    """An nbgrader course folder.

    Attributes
    ----------
    root : str
        Absolute path of the folder holding ``nbgrader_config.py``.
    source_dir, release_dir : str
        Folder names of the instructor notebooks and of the student release.
    course_id : str
    assignments : dict of str to list of str
        Assignment id -> notebook names (without ``.ipynb``), in order.
    """

    root: str
    source_dir: str = "source"
    release_dir: str = "release"
    course_id: str = "default_course"
    assignments: dict = field(default_factory=dict)

    @classmethod
    def load(cls, root="."):
        """Read ``root/nbgrader_config.py`` and list the assignments.

        Raises
        ------
        CourseError
            If ``root`` has no ``nbgrader_config.py`` or no assignment.
        """
        root = os.path.abspath(root)
        path = os.path.join(root, "nbgrader_config.py")
        if not os.path.isfile(path):
            raise CourseError(
                f"{root} is not a course folder: it has no nbgrader_config.py. Run the "
                f"command from the course root (the folder with nbgrader_config.py).")
        from traitlets.config.loader import PyFileConfigLoader
        cfg = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
        cd = cfg.get("CourseDirectory", {})
        course = cls(root=root, source_dir=cd.get("source_directory", "source"),
                     release_dir=cd.get("release_directory", "release"),
                     course_id=cd.get("course_id", "default_course"))
        src = course.path(course.source_dir)
        if not os.path.isdir(src):
            raise CourseError(f"the source folder {src} does not exist (nbgrader_config.py "
                              f"sets CourseDirectory.source_directory = {course.source_dir!r}).")
        for name in sorted(os.listdir(src)):
            folder = os.path.join(src, name)
            if name.startswith(".") or name in _SKIP_DIRS or not os.path.isdir(folder):
                continue
            notebooks = sorted(f[:-6] for f in os.listdir(folder)
                               if f.endswith(".ipynb") and not f.startswith("."))
            if notebooks:
                course.assignments[name] = notebooks
        return course

    def path(self, *parts):
        """A path inside the course folder."""
        return os.path.join(self.root, *parts)

    def select(self, names=None):
        """Check assignment names; all assignments when ``names`` is empty.

        Raises
        ------
        CourseError
            If a name is not an assignment of the source folder.
        """
        if not names:
            if not self.assignments:
                raise CourseError(f"{self.path(self.source_dir)} holds no assignment folder "
                                  f"with a notebook.")
            return list(self.assignments)
        unknown = [n for n in names if n not in self.assignments]
        if unknown:
            known = ", ".join(self.assignments) or "none"
            raise CourseError(f"unknown assignment {', '.join(unknown)}: the assignments of "
                              f"{self.source_dir}/ are {known}.")
        return list(dict.fromkeys(names))


def release(assignments=None, root=".", echo=print):
    """Regenerate the student release from the source, with nbgrader.

    Runs nbgrader's ``generate_assignment ASSIGNMENT --force`` from the
    course root for each assignment (all by default), in one process. nbgrader creates the
    gradebook and the assignment's entry in it when they are missing.
    Releasing every assignment also removes release folders whose source
    folder no longer exists.

    Parameters
    ----------
    assignments : sequence of str, optional
    root : str
        The course folder.
    echo : callable
        Where progress lines go.

    Returns
    -------
    list of str
        The assignments released.

    Raises
    ------
    CourseError
        For an unknown assignment, or when nbgrader fails (its log is in
        the message).
    """
    course = Course.load(root)
    names = course.select(assignments)
    echo(f"releasing {', '.join(names)} from {course.source_dir}/ into {course.release_dir}/")
    proc = subprocess.run([sys.executable, "-c", _RELEASE, *names], cwd=course.root,
                          env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        done = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("releasing ")]
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise CourseError(f"nbgrader generate_assignment {done[-1] if done else names[0]} "
                          f"failed:\n{tail}")
    for name in names:
        out = course.path(course.release_dir, name)
        n = len([f for f in os.listdir(out) if f.endswith(".ipynb")])
        echo(f"  {course.release_dir}/{name}: {n} notebook(s)")
    if not assignments:
        rel = course.path(course.release_dir)
        for name in sorted(os.listdir(rel)) if os.path.isdir(rel) else []:
            folder = os.path.join(rel, name)
            if os.path.isdir(folder) and name not in course.assignments \
                    and not name.startswith("."):
                shutil.rmtree(folder)
                echo(f"  removed {course.release_dir}/{name}: it has no source folder")
    return names
