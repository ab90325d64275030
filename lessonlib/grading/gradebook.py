"""The gradebook through nbgrader's own API, on any database nbgrader supports.

A grading run keeps every gradebook behind :class:`nbgrader.api.Gradebook`
(SQLAlchemy underneath), so that what works on the SQLite file ``OUT/gradebook.db``
works on a PostgreSQL (or MySQL) gradebook too:

:func:`copy_definitions`
    the assignments, notebooks and cells of the graded template, by name,
    into a gradebook that may not have them yet (an empty PostgreSQL
    database, or the course's own gradebook);
:func:`merge`
    students and their graded submissions (scores, comments, flags) from
    one gradebook into another, by name: a rerun updates what it wrote
    instead of adding to it, and keeps what an instructor graded by hand;
:func:`max_scores`, :func:`export_csv`
    the points of each assignment, and nbgrader's CSV export.

A student's own gradebook (made by the autograde job) is opened read-only
(:func:`sqlite_url`), after :func:`lessonlib.grading.report.check_schema`
has found nothing in it beyond nbgrader's schema. Database URLs are
SQLAlchemy's: ``sqlite:////abs/path/gradebook.db``,
``postgresql+psycopg://user:password@host:5432/db`` (``pip install
"psycopg[binary]"``). Messages show a URL without its password
(:func:`show_url`).
"""

from __future__ import annotations

import os
from urllib.parse import quote

__all__ = ["GradebookError", "sqlite_url", "show_url", "check_url", "copy_definitions",
           "merge", "submissions", "max_scores", "export_csv"]

CONNECT_TIMEOUT = 10   # seconds to reach a database server


class GradebookError(Exception):
    """A gradebook URL that cannot be used; the message says why and what to do."""


def sqlite_url(path, read_only=False):
    """The SQLAlchemy URL of the SQLite file ``path`` (any character in it is fine).

    Parameters
    ----------
    path : str
        The database file.
    read_only : bool
        Open it with SQLite's ``mode=ro``: nothing can be written through it.

    Returns
    -------
    str

    Examples
    --------
    >>> sqlite_url("/tmp/a b/gradebook.db")
    'sqlite:///file:/tmp/a%2520b/gradebook.db?uri=true'
    >>> sqlite_url("/tmp/a b/gradebook.db", read_only=True)
    'sqlite:///file:/tmp/a%2520b/gradebook.db?mode=ro&uri=true'
    """
    # SQLite's URI form (a plain sqlite:///path ends at a "?" or "#" in the path),
    # quoted twice: SQLAlchemy decodes the URL once, SQLite its file: URI once more
    url = "sqlite:///file:" + quote(quote(os.path.abspath(path))) + "?"
    return url + ("mode=ro&uri=true" if read_only else "uri=true")


def show_url(url):
    """``url`` with its password hidden, for messages.

    Examples
    --------
    >>> show_url("postgresql+psycopg://grader:s3cret@db.example:5432/course")
    'postgresql+psycopg://grader:***@db.example:5432/course'
    >>> show_url("not a url")
    'not a url'
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _engine_args(url):
    from sqlalchemy.engine import make_url
    if make_url(url).get_backend_name() in ("postgresql", "mysql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    return {}


def check_url(url, parameter="--gradebook"):
    """Connect to the database at ``url`` once; raise :class:`GradebookError` if it fails.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL.
    parameter : str
        How the caller calls it, for the message.

    Raises
    ------
    GradebookError
        The URL is malformed, its driver is not installed, or the server
        cannot be reached or refuses the login: one line naming ``parameter``,
        the URL (no password) and the fix.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
    shown = show_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise GradebookError(f"{parameter} expects a database URL such as "
                             f"sqlite:////abs/path/gradebook.db or "
                             f"postgresql+psycopg://user:password@host/db; got {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise GradebookError(f"{parameter} {shown}: an in-memory SQLite gradebook would be lost "
                             f"when the run ends; give a file, sqlite:////abs/path/gradebook.db")
    try:
        engine = create_engine(url, **_engine_args(url))
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        hint = ('pip install "psycopg[binary]" and write postgresql+psycopg://...'
                if parsed.get_backend_name() == "postgresql" else
                "install the database driver SQLAlchemy names")
        raise GradebookError(f"{parameter} {shown}: no driver for it in this Python "
                             f"({type(exc).__name__}: {exc}); {hint}") from None
    try:
        with engine.connect() as con:
            con.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise GradebookError(f"{parameter} {shown}: cannot connect ({first})") from None
    finally:
        engine.dispose()


def _open(url, course_id):
    from nbgrader.api import Gradebook
    return Gradebook(url, course_id)


def copy_definitions(src_url, dst_url, course_id, assignments=None):
    """Create or update, by name, the assignments of ``src_url`` in ``dst_url``.

    Parameters
    ----------
    src_url, dst_url : str
        Database URLs: the graded template's gradebook and the target.
    course_id : str
        nbgrader's course id (both gradebooks are of this course).
    assignments : collection of str, optional
        Only these (default: all of ``src_url``'s).

    Returns
    -------
    list of str
        The assignments copied, sorted.
    """
    done = []
    with _open(src_url, course_id) as src, _open(dst_url, course_id) as dst:
        for a in sorted(src.assignments, key=lambda a: a.name):
            if assignments is not None and a.name not in assignments:
                continue
            dst.update_or_create_assignment(a.name, duedate=a.duedate)
            for nb in a.notebooks:
                dst.update_or_create_notebook(nb.name, a.name, kernelspec=nb.kernelspec)
                for c in nb.grade_cells:
                    dst.update_or_create_grade_cell(c.name, nb.name, a.name,
                                                    max_score=c.max_score,
                                                    cell_type=c.cell_type)
                for c in nb.solution_cells:
                    dst.update_or_create_solution_cell(c.name, nb.name, a.name)
                for c in nb.task_cells:
                    dst.update_or_create_task_cell(c.name, nb.name, a.name,
                                                   max_score=c.max_score,
                                                   cell_type=c.cell_type)
                for c in nb.source_cells:
                    dst.update_or_create_source_cell(c.name, nb.name, a.name,
                                                     cell_type=c.cell_type, locked=c.locked,
                                                     source=c.source, checksum=c.checksum)
            done.append(a.name)
    return done


_STUDENT = ("first_name", "last_name", "email", "lms_user_id")


def merge(src_url, dst_url, course_id, submissions):
    """Copy graded submissions, with their students, from one gradebook into another.

    The target must know the assignments already (a copy of the template,
    or :func:`copy_definitions`). A submission the target has is updated in
    place: its automatic scores and comments are replaced, and a manual
    score, extra credit or manual comment given in the target (in the
    formgrader) is kept unless the source has one.

    Parameters
    ----------
    src_url, dst_url : str
        Database URLs (the source may be read-only: nothing is written to it).
    course_id : str
        nbgrader's course id.
    submissions : iterable of (str, str)
        ``(student, assignment)`` pairs to copy.

    Returns
    -------
    int
        The number of submissions written.

    Raises
    ------
    nbgrader.api.MissingEntry
        If the source lacks one of ``submissions`` or the target one of
        its assignments, notebooks or cells.
    """
    import warnings
    from sqlalchemy.exc import SAWarning
    pairs = sorted(set(submissions))
    with _open(src_url, course_id) as src, _open(dst_url, course_id) as dst, \
            warnings.catch_warnings():
        # nbgrader's add_submission builds its rows in a way SQLAlchemy 2 warns about
        warnings.filterwarnings("ignore", message="Object of type", category=SAWarning)
        for sid in sorted({s for s, _ in pairs}):
            st = src.find_student(sid)
            dst.update_or_create_student(sid, **{k: getattr(st, k) for k in _STUDENT})
        for sid, a in pairs:
            _merge_submission(src.find_submission(a, sid), dst, sid, a)
        dst.db.commit()
    return len(pairs)


def _merge_submission(sub, dst, sid, a):
    dst.update_or_create_submission(a, sid, timestamp=sub.timestamp, extension=sub.extension)
    for nb in sub.notebooks:
        tnb = dst.find_submission_notebook(nb.name, a, sid)
        tnb.flagged = nb.flagged
        tnb.late_submission_penalty = nb.late_submission_penalty
        for g in nb.grades:
            tg = dst.find_grade(g.name, nb.name, a, sid)
            tg.auto_score = g.auto_score
            hand_graded = g.manual_score is None and tg.manual_score is not None
            if g.manual_score is not None:
                tg.manual_score = g.manual_score
            if g.extra_credit is not None:
                tg.extra_credit = g.extra_credit
            tg.needs_manual_grade = False if hand_graded else g.needs_manual_grade
        for c in nb.comments:
            tc = dst.find_comment(c.name, nb.name, a, sid)
            tc.auto_comment = c.auto_comment
            if c.manual_comment is not None:
                tc.manual_comment = c.manual_comment


def submissions(url, course_id):
    """Every ``(student, assignment)`` pair with a submission in a gradebook, sorted."""
    with _open(url, course_id) as gb:
        return sorted((s.student.id, s.assignment.name)
                      for a in gb.assignments for s in a.submissions)


def max_scores(url, course_id):
    """The points of every assignment of a gradebook: ``{assignment: float}``."""
    with _open(url, course_id) as gb:
        return {a.name: float(a.max_score or 0) for a in gb.assignments}


def export_csv(url, course_id, to, log=None):
    """nbgrader's CSV export (:class:`nbgrader.plugins.CsvExportPlugin`) of a gradebook."""
    import logging
    from nbgrader.plugins import CsvExportPlugin
    with _open(url, course_id) as gb:
        CsvExportPlugin(to=to, log=log or logging.getLogger("lessonlib.export")).export(gb)
    return to
