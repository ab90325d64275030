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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field

__all__ = ["Submission", "Intake", "read_submissions", "normalise", "cell_source",
           "hidden_test_lines"]

_IGNORED = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".DS_Store", "Thumbs.db")
_CODE_EXT = (".py", ".pyc", ".pyd", ".so", ".pth", ".dll", ".dylib")
_BAD_ID = re.compile(r"[*?\[\]/\\]|^\.|^$")


def normalise(name):
    """A name reduced for matching: lower case, no copy marks, only letters and digits.

    >>> normalise("Alpha (1).ipynb"), normalise("alpha-Copy1")
    ('alpha', 'alpha')
    """
    base = name[:-6] if name.lower().endswith(".ipynb") else name
    base = re.sub(r"(\s*\(\d+\)|[-_ ]?copy\d*)+$", "", base, flags=re.I)
    return re.sub(r"[^a-z0-9]", "", base.lower())


def cell_source(cell):
    """A cell's source as one string (notebook files may store a list of lines)."""
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


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
    nbg = cell.get("metadata", {}).get("nbgrader") or {}
    return nbg.get("grade_id") if (nbg.get("grade") or nbg.get("solution")
                                   or nbg.get("locked")) else None


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


def _safe_extract(zpath, dest):
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if name.startswith("/") or ".." in parts or (info.external_attr >> 16) & 0o170000 \
                    == 0o120000:
                continue  # absolute, escaping or symbolic-link members are not extracted
            target = os.path.join(dest, *parts)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _entries(folder):
    return sorted(n for n in os.listdir(folder) if n not in _IGNORED and not n.startswith("._"))


def _find_root(top, course):
    """The folder whose children are student folders (descending single wrappers)."""
    known = {normalise(a) for a in course.assignments}
    known_nb = {normalise(n) for nbs in course.assignments.values() for n in nbs}
    folder = top
    for _ in range(4):
        children = [c for c in _entries(folder) if os.path.isdir(os.path.join(folder, c))]
        for child in children:
            inner = _entries(os.path.join(folder, child))
            if any(normalise(i) in known or (i.endswith(".ipynb") and normalise(i) in known_nb)
                   for i in inner):
                return folder
        if len(children) != 1:
            return folder
        folder = os.path.join(folder, children[0])
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
    """
    if os.path.isfile(path):
        unzipped = work.rstrip(os.sep) + "-unzipped"
        _safe_extract(path, unzipped)
        top = unzipped
    else:
        top = path
    root = _find_root(top, course)
    intake = Intake(root=root)
    for student in _entries(root):
        sdir = os.path.join(root, student)
        if not os.path.isdir(sdir):
            intake.ignored.append(f"{student}: a file where a student folder was expected")
            continue
        if _BAD_ID.search(student):
            intake.ignored.append(f"{student}: not a usable student id")
            continue
        found = {}   # assignment -> list of (path, notebook file name, flag)
        for entry in _entries(sdir):
            epath = os.path.join(sdir, entry)
            if os.path.isdir(epath):
                a = _assignment_of(entry, course)
                if a is None:
                    intake.ignored.append(f"{student}/{entry}: not an assignment of the course")
                    continue
                note = None if entry == a else f"folder {entry!r} graded as {a}"
                for f in _entries(epath):
                    found.setdefault(a, []).append((os.path.join(epath, f), f, note))
            elif entry.endswith(".ipynb"):
                a = _assignment_of(entry, course, is_notebook=True)
                if a is None:
                    intake.ignored.append(f"{student}/{entry}: matches no notebook of the course")
                    continue
                found.setdefault(a, []).append(
                    (epath, entry, f"{entry} was outside its assignment folder"))
            else:
                intake.ignored.append(f"{student}/{entry}: a file outside any assignment folder")
        for a, files in found.items():
            sub = Submission(student, a, folder=os.path.join(work, student, a))
            _prepare(sub, files, course.assignments[a], release.get(a, {}))
            intake.submissions[(student, a)] = sub
    return intake


def _prepare(sub, files, expected, release):
    os.makedirs(sub.folder, exist_ok=True)
    notes = sorted({n for _, _, n in files if n})
    sub.flags += notes
    notebooks = {f: p for p, f, _ in files if f.endswith(".ipynb") and os.path.isfile(p)}
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
            sub.flags.append(f"{pick} graded as {nb}.ipynb")
    for f in sorted(set(notebooks) - set(chosen.values())):
        sub.flags.append(f"extra notebook {f} not graded")
    for path, f, _ in files:
        if f == "timestamp.txt" and os.path.isfile(path):
            shutil.copy(path, os.path.join(sub.folder, f))
            sub.has_timestamp = True
        elif not f.endswith(".ipynb") and (f.endswith(_CODE_EXT) or os.path.isdir(path)):
            sub.flags.append(f"extra file {f} ignored (it could shadow a module)")
    for nb in expected:
        if nb not in chosen:
            sub.failures[nb] = f"no {nb}.ipynb submitted"
            continue
        try:
            with open(notebooks[chosen[nb]], encoding="utf-8") as fh:
                data = json.load(fh)
        except (ValueError, UnicodeDecodeError) as exc:
            sub.failures[nb] = f"{chosen[nb]} is not valid notebook JSON ({exc})"
            continue
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list) \
                or data.get("nbformat") != 4:
            sub.failures[nb] = f"{chosen[nb]} is not a Jupyter notebook (nbformat 4)"
            continue
        sub.flags += _repair(data, release.get(nb))
        with open(os.path.join(sub.folder, nb + ".ipynb"), "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        sub.notebooks.append(nb)


def _repair(nb, release):
    """De-duplicate grade ids and cell ids; note deleted grade cells. Return flags."""
    flags = []
    stubs, graded = {}, []
    for c in (release or {}).get("cells", []):
        gid = _grade_id(c)
        if gid:
            stubs[gid] = cell_source(c).strip()
            if (c["metadata"]["nbgrader"].get("grade")):
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
