"""The course's two JupyterLabs: the student's and the instructor's.

::

    python -m lessonlib.labs student       # make lab:        course/, Validate only
    python -m lessonlib.labs instructor    # make instructor: the course root, formgrader

Each role's configuration is a folder of the repository, ``jupyter/<role>/``
(``jupyter_server_config.json``: nbgrader's server extensions and no network
calls; ``labconfig/page_config.json``: nbgrader's lab plugins). It is put first
on ``JUPYTER_CONFIG_PATH``, so it overrides what installing nbgrader enabled in
the environment (all four server extensions, all lab plugins), and the user's
own ``~/.jupyter`` (theme, shortcuts) still applies to the rest. Each role has
its own workspaces folder, ``.jupyter-workspaces/<role>/`` (git-ignored), so one
lab never restores the other's tabs.

=========== =============== ==================================================
role        serves          nbgrader
=========== =============== ==================================================
student     ``course/``     Validate button (nothing else: no formgrader, no
                            create-assignment, no assignment or course list)
instructor  the course root formgrader (its links open ``solutions/`` and
            (nbgrader_      ``course/``), create-assignment, Validate; the
            config.py)      gradebook is ``gradebook.db`` beside it
=========== =============== ==================================================

Both start from the course root, the folder of ``nbgrader_config.py``: nbgrader
reads its configuration (and the gradebook's relative ``db_url``) from the
current directory. The assignment and course lists are off in both: they need
nbgrader's exchange, which a one-machine course does not have.

:func:`command` builds the command line, environment and working directory that
the Makefile runs (through :func:`main`) and that ``tests/notebooks/test_labs.py`` starts
with a free port and a token.

This module needs a checkout of the repository (the ``jupyter/`` folder beside
the package); a student who installed ``lessonlib[student]`` runs ``jupyter
lab`` in the folder of the released notebooks instead.
"""

import os
import sys
from pathlib import Path

__all__ = ["ROLES", "CONFIG", "REPOSITORY", "command", "main"]

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIG = REPOSITORY / "jupyter"

# role -> the folder it serves, relative to the course root
ROLES = {"student": "course", "instructor": "."}


def command(role, root=None, *, port=None, token=None, open_browser=True, env=None):
    """``(argv, env, cwd)`` of the JupyterLab of ``role`` ("student" or "instructor").

    ``root`` is the course root (the folder of ``nbgrader_config.py``; default:
    this repository). ``port`` and ``token`` fix what JupyterLab otherwise
    chooses itself; ``open_browser=False`` for a lab no person looks at.
    ``env`` is the environment to start from (default: ``os.environ``).

    >>> argv, env, cwd = command("student", "/srv/cnn")
    >>> argv[1:4], [a for a in argv if a.startswith("--notebook-dir")]
    (['-m', 'jupyter', 'lab'], ['--notebook-dir=/srv/cnn/course'])
    >>> cwd, env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(CONFIG / "student")
    ('/srv/cnn', True)
    >>> [a for a in argv if "workspaces" in a]
    ['--LabApp.workspaces_dir=/srv/cnn/.jupyter-workspaces/student']
    >>> command("grader")
    Traceback (most recent call last):
    ...
    ValueError: role must be one of 'student', 'instructor', got 'grader'
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(map(repr, ROLES))}, got {role!r}")
    config = CONFIG / role
    if not config.is_dir():
        raise FileNotFoundError(
            f"{config} is missing: the labs need a checkout of the lessonlib repository "
            f"(students outside it run `jupyter lab` in the folder of their notebooks)")
    root = Path(root if root is not None else REPOSITORY).resolve()
    env = dict(os.environ if env is None else env)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(config)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    argv = [sys.executable, "-m", "jupyter", "lab",
            f"--notebook-dir={(root / ROLES[role]).resolve()}",
            f"--LabApp.workspaces_dir={root / '.jupyter-workspaces' / role}"]
    if port is not None:
        argv += [f"--port={port}", "--port-retries=0"]
    if token is not None:
        argv.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        argv.append("--no-browser")
    # Jupyter refuses to run as root unless told; containers often run as root.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv, env, str(root)


def main(argv=None):
    """``python -m lessonlib.labs ROLE [JUPYTER LAB OPTIONS ...]``: replaces itself with the lab."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] not in ROLES:
        print(f"usage: python -m lessonlib.labs {{{','.join(ROLES)}}} [jupyter lab options ...]",
              file=sys.stderr)
        return 2
    try:
        cmd, env, cwd = command(args[0])
    except FileNotFoundError as exc:
        print(f"lessonlib.labs: {exc}", file=sys.stderr)
        return 2
    os.chdir(cwd)
    os.execve(cmd[0], cmd + args[1:], env)


if __name__ == "__main__":
    sys.exit(main())
