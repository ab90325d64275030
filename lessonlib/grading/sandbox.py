"""The operating-system sandbox every student's kernel runs in (bubblewrap).

(being written)
"""

from __future__ import annotations

import shutil

from .course import CourseError

__all__ = ["SandboxUnavailable", "find_bwrap", "check_available", "INSTALL_HINT"]

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                "Fedora: `sudo dnf install bubblewrap`), or pass --no-sandbox to grade "
                "without isolation (every row is then flagged)")


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot make a sandbox on this machine."""


def find_bwrap():
    """Path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def check_available():
    """Raise :class:`SandboxUnavailable` unless a sandbox can be made here."""
    if find_bwrap() is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}.")
