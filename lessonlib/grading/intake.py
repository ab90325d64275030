"""Reading a class's submissions before nbgrader sees them.

Students submit what they submit. :func:`read_submissions` takes a folder
in nbgrader's submitted layout ``<student>/<assignment>/<notebook>.ipynb``
(or a ``.zip`` of one, with or without a top folder), and writes, for each
student and assignment, a clean copy that nbgrader can grade:

* a notebook under a wrong name (``alpha (1).ipynb``, ``Alpha.ipynb``), or
  outside its assignment folder, is graded under its expected name and
  the rename is flagged;
* a file that is not valid notebook JSON is reported, with the parser's
  message, and not graded;
* cells that share a grade id (a duplicated cell) are reduced to one:
  the last copy the student edited, else the last copy; flagged;
* a grade cell the student deleted is flagged (nbgrader restores it);
* extra notebooks are flagged and not graded; extra code files (``.py``
  and the like, which could shadow an import) are flagged and dropped;
  other extra files are dropped.

Nothing a student submits can stop the run or reach another student:

* what is read is bounded (:mod:`lessonlib.grading.limits`): a notebook
  over :data:`~lessonlib.grading.limits.MAX_FILE_BYTES` is not read, a
  folder over :data:`~lessonlib.grading.limits.MAX_ENTRIES` entries is not
  listed, a zip over its limits is refused as a whole
  (:class:`~lessonlib.grading.limits.IntakeError`);
* symbolic links, FIFOs, sockets and devices are never followed or opened;
* a student id that is not a safe folder name (control characters, a
  leading ``-`` or ``.``, more than 100 characters, undecodable bytes) or
  that differs only in case from another is not graded, with the reason;
* a notebook's JSON is checked from the top: damage that nbgrader would
  trip on (a cell that is not an object, metadata that is not an object,
  invalid nbgrader metadata, a bad ``source`` or ``outputs``, NaN) is
  repaired and flagged; what cannot be repaired (not JSON, not UTF-8, not
  an nbformat 4 notebook, nested deeper than
  :data:`~lessonlib.grading.limits.MAX_DEPTH`, still invalid for
  ``nbformat.validate`` after repair) fails that notebook with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass, field

from . import limits
from .limits import Entry, IntakeError, NotRegular, TooLarge, read_capped, scan, show, size_text

__all__ = ["Submission", "Intake", "IntakeError", "read_submissions", "normalise",
           "cell_source", "hidden_test_lines"]

_CODE_EXT = (".py", ".pyc", ".pyd", ".so", ".pth", ".dll", ".dylib")
_MAX_ID = 100
# Why a folder name is not a usable student id (a folder of work/ and an nbgrader id).
_ID_RULES = [
    (r"^\s*$", "it is empty or only spaces"),
    (r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]",
     "it holds a control or invisible character"),
    (r"[\ud800-\udfff]", "it holds bytes that are not UTF-8"),
    (r"[*?\[\]/\\]", "it holds one of * ? [ ] / \\"),
    (r"^[.\-]", "it starts with '.' or '-'"),
    (r"^\s|\s$", "it starts or ends with a space"),
    (rf"^.{{{_MAX_ID + 1}}}", f"it is longer than {_MAX_ID} characters"),
]
_BAD_ID = re.compile("|".join(f"(?:{r})" for r, _ in _ID_RULES), re.S)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TIMESTAMP_BYTES = 1024


def normalise(name):
    """A name reduced for matching: lower case, no copy marks, only letters and digits.

    >>> normalise("Alpha (1).ipynb"), normalise("alpha-Copy1")
    ('alpha', 'alpha')
    """
    base = name[:-6] if name.lower().endswith(".ipynb") else name
    base = re.sub(r"(\s*\(\d+\)|[-_ ]?copy\d*)+$", "", base, flags=re.I)
    return re.sub(r"[^a-z0-9]", "", base.lower())


def cell_source(cell):
    """A cell's source as one string (notebook files may store a list of lines).

    A source of any other type reads as empty.
    """
    s = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(s, list):
        return "".join(x for x in s if isinstance(x, str))
    return s if isinstance(s, str) else ""


def hidden_test_lines(source):
    """The non-blank lines between the hidden-test delimiters of ``source``."""
    out, inside = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "### END HIDDEN TESTS" in line:
            inside = False
        elif inside and line.strip():
            out.append(line.strip())
    return out


def _grade_id(cell):
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    if not isinstance(nbg, dict) or not (nbg.get("grade") or nbg.get("solution")
                                         or nbg.get("locked")):
        return None
    gid = nbg.get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def _id_problem(student):
    """Why ``student`` is not a usable student id, or None."""
    if not _BAD_ID.search(student):
        return None
    return next(why for rule, why in _ID_RULES if re.search(rule, student, re.S))


@dataclass
class Submission:
    """One student's work on one assignment, ready for nbgrader."""

    student: str
    assignment: str
    folder: str = ""                                  # prepared copy
    notebooks: list = field(default_factory=list)     # notebook names prepared
    flags: list = field(default_factory=list)         # reasons to look
    failures: dict = field(default_factory=dict)      # notebook -> why not graded
    has_timestamp: bool = False

    @property
    def gradable(self):
        return bool(self.notebooks)


@dataclass
class Intake:
    """Everything read from the submissions."""

    root: str
    submissions: dict = field(default_factory=dict)   # (student, assignment) -> Submission
    ignored: list = field(default_factory=list)       # "path: why"

    @property
    def students(self):
        return sorted({s for s, _ in self.submissions})


@dataclass
class _File:
    """A file or folder found for an assignment; ``problem`` says why it cannot be read."""

    path: str
    name: str
    kind: str = "file"
    note: str | None = None       # a flag for the whole submission (rename, wrong place)
    problem: str | None = None
    folder: bool = False          # the problem concerns the assignment folder


def _problem(entry, label, missing):
    """Why the entry ``label`` cannot be read, from its kind."""
    if entry.kind == "skipped":
        return missing[entry.path]
    if entry.kind == "symlink":
        return f"{label} is a symbolic link, not graded"
    if entry.kind == "unknown":
        return f"{label} could not be examined; not graded"
    what = "folder" if entry.kind == "dir" else entry.kind
    return f"{label} is a {what}, not a regular file; not graded"


def _find_root(top, course):
    """The folder whose children are student folders (descending single wrappers)."""
    known = {normalise(a) for a in course.assignments}
    known_nb = {normalise(n) for nbs in course.assignments.values() for n in nbs}
    folder = top
    for _ in range(4):
        children = [c for c in scan(folder, 0)[0] if c.kind == "dir"]
        for child in children:
            inner = scan(child.path)[0]
            if any(normalise(i.name) in known or (i.name.endswith(".ipynb")
                                                  and normalise(i.name) in known_nb)
                   for i in inner):
                return folder
        if len(children) != 1:
            return folder
        folder = children[0].path
    return top


def _assignment_of(name, course, is_notebook=False):
    if not is_notebook:
        for a in course.assignments:
            if name == a or normalise(name) == normalise(a):
                return a
    target = normalise(name)
    hits = [a for a, nbs in course.assignments.items() if target in {normalise(n) for n in nbs}]
    return hits[0] if len(hits) == 1 else None


def read_submissions(path, work, course, release):
    """Read a submissions folder or zip and prepare one copy per student and assignment.

    Nothing a student submitted raises out of here: what cannot be read is
    a failure of that student's notebook, a flag, or a line of
    :attr:`Intake.ignored`, each naming the file and what is wrong.

    Parameters
    ----------
    path : str
        Folder in nbgrader's submitted layout, or a ``.zip`` of one.
    work : str
        Empty folder for the prepared copies (``work/<student>/<assignment>/``).
    course : lessonlib.grading.course.Course
    release : dict
        ``{assignment: {notebook: release notebook dict}}``, for duplicated
        and deleted cells.

    Returns
    -------
    Intake

    Raises
    ------
    IntakeError
        If ``path`` is a zip that cannot be read, or is over the limits of
        :mod:`lessonlib.grading.limits` (refused as a whole, before anything
        is extracted).
    """
    ignored, missing = [], {}   # missing: where a zip member was not extracted -> why
    if os.path.isfile(path):
        top = work.rstrip(os.sep) + "-unzipped"
        label = show(os.path.basename(path))
        for s in limits.extract_zip(path, top):
            ignored.append(f"{label}: {show(s.member)}: {s.why}")
            if s.target:
                missing[os.path.normpath(s.target)] = \
                    f"{show(os.path.basename(s.target))} in {label}: {s.why}"
    else:
        top = path
    root = _find_root(top, course)
    intake = Intake(root=root, ignored=ignored)
    entries, problem = scan(root, 0)
    if problem:
        raise IntakeError(f"the submissions folder {root}: {problem}")
    students = []
    for e in entries:
        label = show(e.name)
        if e.kind == "symlink":
            intake.ignored.append(f"{label}: a symbolic link where a student folder was "
                                  f"expected; not followed")
        elif e.kind != "dir":
            what = "a file" if e.kind == "file" else f"a {e.kind}"
            intake.ignored.append(f"{label}: {what} where a student folder was expected")
        elif _id_problem(e.name):
            intake.ignored.append(f"{label}: not a usable student id ({_id_problem(e.name)})")
        else:
            students.append(e)
    # ids equal but for case or Unicode form would share a folder on macOS or Windows
    folded = {}
    for e in students:
        folded.setdefault(limits.fold(e.name), []).append(e.name)
    for e in students:
        twins = [t for t in folded[limits.fold(e.name)] if t != e.name]
        try:
            _read_student(intake, e, twins, work, course, release, missing)
        except Exception as exc:  # a bug must cost one student, not the class
            intake.ignored.append(f"{show(e.name)}: the intake failed on this student's "
                                  f"folder ({type(exc).__name__}: {show(exc, 120)}); not graded")
            for key in [k for k in intake.submissions if k[0] == e.name]:
                del intake.submissions[key]
    return intake


def _read_student(intake, entry, twins, work, course, release, missing):
    """Read one student folder into ``intake.submissions``."""
    student, label = entry.name, show(entry.name)
    found, trouble = _student_files(entry.path, student, course, intake, missing)
    if twins and not trouble:
        trouble = (f"the student folder {label} {limits.differs(student, twins[0])}; "
                   f"neither is graded (rename one)")
    for a, files in found.items():
        sub = Submission(student, a, folder=os.path.join(work, student, a))
        if trouble:
            sub.failures = {nb: trouble for nb in course.assignments[a]}
        else:
            _prepare(sub, files, course.assignments[a], release.get(a, {}))
        intake.submissions[(student, a)] = sub


def _listing(folder, missing):
    """:func:`limits.scan`, with the zip members that belonged in ``folder`` (kind "skipped")."""
    entries, problem = scan(folder)
    folder = os.path.normpath(folder)
    entries += [Entry(os.path.basename(p), p, "skipped") for p in missing
                if os.path.dirname(p) == folder]
    return sorted(entries, key=lambda e: e.name), problem


def _student_files(sdir, student, course, intake, missing):
    """The files of one student folder, by assignment.

    Returns
    -------
    found : dict of str to list of _File
    trouble : str or None
        Why none of this student's work can be graded (the folder is too
        large to list, or unreadable).
    """
    label = show(student)
    entries, problem = _listing(sdir, missing)
    if problem:
        # look up the assignment folders by their exact names, to fail them with the reason
        found = {a: [] for a in course.assignments if os.path.isdir(os.path.join(sdir, a))}
        why = f"the student folder {label}: {problem}; not read"
        if not found:
            intake.ignored.append(why)
        return found, why
    found = {}   # assignment -> list of _File
    for entry in entries:
        elabel = show(entry.name)
        if entry.kind in ("dir", "symlink", "skipped") and not entry.name.endswith(".ipynb"):
            a = _assignment_of(entry.name, course)
            if a is None:
                intake.ignored.append(f"{label}/{elabel}: not an assignment of the course")
                continue
            files = found.setdefault(a, [])
            if entry.kind != "dir":
                why = (f"the folder {elabel} is a symbolic link, not graded"
                       if entry.kind == "symlink" else _problem(entry, elabel, missing))
                files.append(_File(entry.path, entry.name, entry.kind, folder=True, problem=why))
                continue
            note = None if entry.name == a else f"folder {show(entry.name)!r} graded as {a}"
            inner, problem = _listing(entry.path, missing)
            if problem:
                files.append(_File(entry.path, entry.name, "dir", note=note, folder=True,
                                   problem=f"the folder {elabel}: {problem}; not read"))
                continue
            for f in inner:
                bad = None if f.kind in ("file", "dir") else _problem(f, show(f.name), missing)
                files.append(_File(f.path, f.name, f.kind, note, bad))
        elif entry.name.endswith(".ipynb"):
            a = _assignment_of(entry.name, course, is_notebook=True)
            if a is None:
                intake.ignored.append(f"{label}/{elabel}: matches no notebook of the course")
                continue
            found.setdefault(a, []).append(_File(
                entry.path, entry.name, entry.kind, f"{elabel} was outside its assignment folder",
                None if entry.kind == "file" else _problem(entry, elabel, missing)))
        else:
            intake.ignored.append(f"{label}/{elabel}: a file outside any assignment folder")
    return found, None


def _prepare(sub, files, expected, release):
    os.makedirs(sub.folder, exist_ok=True)
    sub.flags += sorted({f.note for f in files if f.note})
    notebooks = {}
    for f in files:
        if f.name.endswith(".ipynb") and f.kind == "file" and not f.problem:
            notebooks.setdefault(f.name, f.path)
    chosen = {}
    for nb in expected:
        if nb + ".ipynb" in notebooks:
            chosen[nb] = nb + ".ipynb"
    for nb in expected:
        if nb in chosen:
            continue
        free = [f for f in notebooks if f not in chosen.values()]
        alike = [f for f in free if normalise(f) == normalise(nb)]
        if len(alike) == 1 or (not alike and len(free) == 1
                               and len([e for e in expected if e not in chosen]) == 1):
            pick = (alike or free)[0]
            chosen[nb] = pick
            sub.flags.append(f"{show(pick)} graded as {nb}.ipynb")
    for f in sorted(set(notebooks) - set(chosen.values())):
        sub.flags.append(f"extra notebook {show(f)} not graded")
    for f in files:
        if f.problem:
            continue
        if f.name == "timestamp.txt" and f.kind == "file":
            sub.has_timestamp = _copy_timestamp(f.path, sub)
        elif not f.name.endswith(".ipynb") and (f.name.endswith(_CODE_EXT) or f.kind == "dir"):
            sub.flags.append(f"extra file {show(f.name)} ignored (it could shadow a module)")
    # what could not be read: the failure of the notebook it stands for, else a flag
    problems = {}
    for f in files:
        if not f.problem:
            continue
        meant = [nb for nb in expected if nb not in chosen
                 and (f.folder or normalise(f.name) == normalise(nb))]
        for nb in meant:
            problems.setdefault(nb, f.problem)
        if not meant:
            sub.flags.append(f.problem)
    for nb in expected:
        if nb not in chosen:
            sub.failures[nb] = problems.get(nb, f"no {nb}.ipynb submitted")
            continue
        name = show(chosen[nb])
        try:
            data, flags = _load(notebooks[chosen[nb]], name, release.get(nb))
            text = json.dumps(data, allow_nan=False)   # no indent: the C encoder, 5x faster
            with open(os.path.join(sub.folder, nb + ".ipynb"), "w", encoding="utf-8") as fh:
                fh.write(text)
        except _Unusable as exc:
            sub.failures[nb] = str(exc)
            continue
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            sub.failures[nb] = f"{name} could not be prepared for nbgrader ({show(exc, 120)})"
            continue
        sub.flags += flags
        sub.notebooks.append(nb)


def _copy_timestamp(path, sub):
    """Copy ``timestamp.txt`` if it is a date nbgrader can read; else flag it.

    nbgrader fails the whole autograde of a submission whose timestamp it
    cannot parse (``dateutil``, with an optional time zone as third word).
    """
    try:
        text = read_capped(path, _TIMESTAMP_BYTES).decode("utf-8").strip()
        if not text or len(text.split()) > 3:
            raise ValueError("empty" if not text else "too many words")
        try:
            from dateutil.parser import parse
        except ImportError:   # nbgrader depends on dateutil; without it, nothing to check
            parse = str
        parse(" ".join(text.split()[:2]))
    except TooLarge as exc:
        sub.flags.append(f"timestamp.txt is {size_text(exc.size)}, more than a timestamp; "
                         f"ignored")
        return False
    except (OSError, ValueError, OverflowError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        sub.flags.append(f"timestamp.txt is not a date nbgrader can read ({show(why, 80)}); "
                         f"ignored")
        return False
    with open(os.path.join(sub.folder, "timestamp.txt"), "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return True


class _Unusable(ValueError):
    """A notebook that cannot be graded; the message is the reason."""


def _type(value):
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    for t, name in ((bool, "a boolean"), (str, "a string"), (list, "a list"),
                    (dict, "an object"), ((int, float), "a number")):
        if isinstance(value, t):
            return name
    return type(value).__name__


def _load(path, name, release):
    """Read, check and repair the notebook at ``path``.

    Returns
    -------
    data : dict
        A valid nbformat 4 notebook.
    flags : list of str
        The repairs made.

    Raises
    ------
    _Unusable
        With the reason, naming the file, if it cannot be graded.
    """
    try:
        raw = read_capped(path)
    except TooLarge as exc:
        raise _Unusable(f"{name} is {size_text(exc.size)}, over the "
                        f"{size_text(exc.limit)} limit for a notebook; not read") from None
    except NotRegular as exc:
        raise _Unusable(f"{name} is a {exc.kind}, not a regular file; not graded") from None
    except OSError as exc:
        raise _Unusable(f"{name} could not be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unusable(f"{name} is not valid notebook JSON (not UTF-8 text: byte "
                        f"0x{raw[exc.start]:02x} at position {exc.start})") from None
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except RecursionError:
        raise _Unusable(f"{name} is not valid notebook JSON (nested too deeply to "
                        f"read)") from None
    except ValueError as exc:
        raise _Unusable(f"{name} is not valid notebook JSON ({show(exc, 160)})") from None
    flags = _scrub(data, name)
    if not isinstance(data, dict):
        raise _Unusable(f"{name} is not a Jupyter notebook (nbformat 4): it holds "
                        f"{_type(data)}, expected an object")
    version = data.get("nbformat")
    if type(version) is not int or version != 4:
        raise _Unusable(f"{name} is not a Jupyter notebook (nbformat 4): 'nbformat' is "
                        f"{show(json.dumps(version), 40)}, expected 4")
    if not isinstance(data.get("cells"), list):
        raise _Unusable(f"{name} is not a Jupyter notebook (nbformat 4): 'cells' is "
                        f"{_type(data.get('cells'))}, expected a list")
    flags += _sanitise(data, name)
    flags += _repair(data, release)
    return _validated(data, name, flags), flags


def _scrub(data, name):
    """Check the nesting depth; replace NaN, infinities and lone surrogates in place.

    Returns
    -------
    list of str
        The flags for what was replaced.

    Raises
    ------
    _Unusable
        If ``data`` is nested deeper than :data:`limits.MAX_DEPTH`.
    """
    numbers = texts = 0
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_DEPTH:
            raise _Unusable(f"{name} is nested more than {limits.MAX_DEPTH} levels deep, "
                            f"deeper than any notebook; not read")
        if isinstance(node, dict) and any(_SURROGATE.search(k) for k in node):
            items = [(_SURROGATE.sub("\ufffd", k), v) for k, v in node.items()]
            node.clear()
            node.update(items)
            texts += 1
        for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(v, float) and not math.isfinite(v):
                node[k] = None
                numbers += 1
            elif isinstance(v, str) and not v.isascii() and _SURROGATE.search(v):
                node[k] = _SURROGATE.sub("\ufffd", v)
                texts += 1
            elif isinstance(v, (dict, list)):
                stack.append((v, depth + 1))
    return ([f"{name}: {numbers} NaN or infinite number(s) replaced by null"] if numbers else []) \
        + ([f"{name}: {texts} text(s) with invalid characters (lone surrogates) repaired"]
           if texts else [])


def _cells_text(numbers):
    shown = ", ".join(str(n) for n in numbers[:10])
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return f"cell{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _sanitise(nb, name):
    """Repair the structure nbgrader relies on, in place; return the flags.

    Cells that are not objects are dropped; metadata that is not an object is
    reset to ``{}``; nbgrader metadata that nbgrader would reject is removed
    (the cell is then plain code, and a test cell is restored by nbgrader);
    a ``source`` that is not text is emptied; ``outputs`` that is not a list
    is emptied.
    """
    fixes = {}   # reason -> cell numbers (from 1, as in the student's file)

    def fix(why, n):
        fixes.setdefault(why, []).append(n)

    if not isinstance(nb.get("metadata"), dict):
        fix(f"the notebook metadata is {_type(nb.get('metadata'))}, expected an object; reset "
            f"to {{}}", 0)
        nb["metadata"] = {}
    cells = []
    for n, cell in enumerate(nb["cells"], 1):
        if not isinstance(cell, dict):
            fix(f"is {_type(cell)}, not a cell; dropped", n)
            continue
        cells.append(cell)
        meta = cell.get("metadata")
        if not isinstance(meta, dict):
            fix(f"metadata is {_type(meta)}, expected an object; reset to {{}}", n)
            cell["metadata"] = meta = {}
        if "nbgrader" in meta:
            why = _nbgrader_problem(meta["nbgrader"], cell.get("cell_type"))
            if why:
                fix(f"nbgrader metadata is invalid ({why}); removed", n)
                del meta["nbgrader"]
        src = cell.get("source", "")
        if not (isinstance(src, str) or isinstance(src, list)
                and all(isinstance(s, str) for s in src)):
            fix(f"source is {_type(src)}, expected text; emptied", n)
            cell["source"] = ""
        if cell.get("cell_type") == "code" and not isinstance(cell.get("outputs", []), list):
            fix(f"outputs is {_type(cell.get('outputs'))}, expected a list; emptied", n)
            cell["outputs"] = []
        cid = cell.get("id")
        if cid is not None and not (isinstance(cid, str) and re.fullmatch(r"[\w-]{1,64}", cid,
                                                                           re.A)):
            fix("id is not a valid cell id; replaced", n)
            cell["id"] = f"cell-{n}"
    nb["cells"] = cells
    return [f"{name}: {why}" if nums == [0] else f"{name}: {_cells_text(nums)}: {why}"
            for why, nums in fixes.items()]


_NBGRADER_SCHEMA = []   # [(schema, validator)] once read, [(None, None)] without nbgrader


def _nbgrader_schema():
    """nbgrader's cell metadata schema (v3) and its validator, read without importing nbgrader.

    Importing nbgrader takes a second (its server extensions); the schema is
    a file of the package. ``(None, None)`` if nbgrader is not installed.
    """
    if not _NBGRADER_SCHEMA:
        found = (None, None)
        try:
            spec = importlib.util.find_spec("nbgrader")
            for folder in (spec.submodule_search_locations or []) if spec else []:
                with open(os.path.join(folder, "nbgraderformat", "v3.json"),
                          encoding="utf-8") as fh:
                    schema = json.load(fh)
                found = (schema, _jsonschema().Draft4Validator(schema))
                break
        except (OSError, ValueError, ImportError):
            pass
        _NBGRADER_SCHEMA.append(found)
    return _NBGRADER_SCHEMA[0]


def _jsonschema():
    # jsonschema builds the grammar of the optional rfc3987_syntax package at import
    # (seconds); nbformat does not use that format checker (see jobs.init_worker)
    sys.modules.setdefault("rfc3987_syntax", None)
    import jsonschema
    return jsonschema


def _nbgrader_problem(meta, cell_type):
    """Why nbgrader (0.9, metadata schema 3) would reject the metadata ``meta``, or None.

    The checks of ``nbgrader.nbgraderformat.MetadataValidatorV3.validate_cell``,
    so that an invalid cell is repaired here rather than failing autograde.
    """
    if not isinstance(meta, dict):
        return f"{_type(meta)}, expected an object"
    gid = meta.get("grade_id")
    if "grade_id" in meta and not isinstance(gid, str):
        return f"grade_id is {_type(gid)}, expected a string"
    schema, validator = _nbgrader_schema()
    if schema is not None:
        known = set(schema["properties"])
        trimmed = {k: v for k, v in meta.items() if k in known}   # nbgrader drops the rest
        errors = sorted(validator.iter_errors(trimmed), key=lambda e: list(map(str, e.path)))
        if errors:
            where = ".".join(map(str, errors[0].path))
            return show(f"{where + ': ' if where else ''}{errors[0].message}", 120)
    flags = {k: meta.get(k, False) for k in ("grade", "solution", "locked", "task")}
    if flags["grade"] or flags["solution"] or flags["locked"]:
        if not gid:
            return "no grade_id"
    if flags["grade"] and "points" not in meta:
        return "a grade cell without points"
    if not flags["task"] and cell_type == "markdown" and flags["grade"] != flags["solution"]:
        return "a markdown cell must be both a grade and a solution cell"
    if flags["task"] and cell_type != "markdown":
        return "a task cell must be markdown"
    return None


def _nbformat():
    sys.modules.setdefault("rfc3987_syntax", None)   # as in _jsonschema
    import nbformat
    return nbformat


def _validated(data, name, flags):
    """``data`` as a notebook that passes ``nbformat.validate`` (missing cell ids added).

    If it is invalid only in its outputs or execution counts, they are
    cleared (nbgrader runs the notebook again) and that is flagged.

    Raises
    ------
    _Unusable
        With nbformat's message, if it is still invalid.
    """
    nbformat = _nbformat()
    for attempt in range(2):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nb = nbformat.from_dict(data)     # new containers: data is not changed
                nbformat.validate(nb)             # adds missing cell ids to nb (and warns)
            return nb
        except (nbformat.ValidationError, ValueError, TypeError, KeyError, AttributeError,
                RecursionError) as exc:
            code = [c for c in data["cells"] if c.get("cell_type") == "code"]
            if attempt == 0 and any(c.get("outputs") or c.get("execution_count") is not None
                                    for c in code):
                for c in code:
                    c["outputs"], c["execution_count"] = [], None
                flags.append(f"{name}: its outputs were invalid and were cleared (nbgrader "
                             f"runs the notebook again)")
                continue
            where = "".join(f"[{p!r}]" for p in getattr(exc, "absolute_path", ()))
            msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            msg = show(f"{'at ' + where + ': ' if where else ''}{msg}", 200)
            raise _Unusable(f"{name} is not a valid notebook, even after repair: {msg}") from None
    raise AssertionError("unreachable")


def _repair(nb, release):
    """De-duplicate grade ids and cell ids; note deleted grade cells. Return flags."""
    flags = []
    stubs, graded = {}, []
    for c in (release or {}).get("cells", []):
        gid = _grade_id(c)
        if gid:
            stubs[gid] = cell_source(c).strip()
            if c["metadata"]["nbgrader"].get("grade"):
                graded.append(gid)
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    groups = {}
    for i, c in enumerate(cells):
        gid = _grade_id(c)
        if gid:
            groups.setdefault(gid, []).append(i)
    drop = set()
    for gid, idx in groups.items():
        if len(idx) < 2:
            continue
        edited = [i for i in idx if cell_source(cells[i]).strip() != stubs.get(gid)]
        keep = (edited or idx)[-1]
        drop |= set(idx) - {keep}
        flags.append(f"cell {gid} appeared {len(idx)} times; graded the last "
                     f"{'edited ' if edited else ''}copy")
    cells = [c for i, c in enumerate(cells) if i not in drop]
    seen = set()
    for i, c in enumerate(cells):
        cid = c.get("id")
        if cid is not None and cid in seen:
            c["id"] = f"dup-{i}"[:64]
        seen.add(c.get("id"))
    nb["cells"] = cells
    present = {_grade_id(c) for c in cells}
    for gid in graded:
        if gid not in present:
            flags.append(f"test cell {gid} was deleted; restored from the source and graded")
    return flags
