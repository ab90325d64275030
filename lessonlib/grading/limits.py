"""What the intake reads from the file system, how much of it, and how.

Submissions are untrusted input. Everything :mod:`lessonlib.grading.intake`
reads goes through this module, which

* lists a folder with :func:`scan`: at most :data:`MAX_ENTRIES` entries,
  each classified from ``lstat`` (a symbolic link is never followed, a FIFO
  or a device is never opened);
* reads a file with :func:`read_capped`: a regular file only, refused by
  its size before a byte is read, then read in chunks that stop at the
  limit even if the file grew;
* unpacks a class zip with :func:`extract_zip`: refused as a whole when
  its headers announce too many members or too many bytes, member by
  member otherwise, with every copy counted against the same limits
  (headers can lie).

The limits are module constants, read at call time, so that a test can
lower them with ``monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)``.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass

from .course import CourseError

__all__ = ["IntakeError", "Entry", "Skipped", "scan", "read_capped", "extract_zip", "show", "size_text",
           "MAX_FILE_BYTES", "MAX_ZIP_MEMBERS", "MAX_ZIP_BYTES", "MAX_ENTRIES", "MAX_DEPTH",
           "MAX_NAME_BYTES", "IGNORED"]

MAX_FILE_BYTES = 20 * 2**20     # one notebook, or one member of a zip
MAX_ZIP_MEMBERS = 2000          # members of a class zip (folders included)
MAX_ZIP_BYTES = 200 * 2**20     # a class zip, compressed and uncompressed
MAX_ENTRIES = 500               # entries of a student or an assignment folder
MAX_DEPTH = 100                 # nesting of a notebook's JSON
MAX_NAME_BYTES = 255            # one component of a path (the Linux limit)
CHUNK = 2**16

# Names that operating systems and tools leave behind; skipped everywhere.
IGNORED = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".DS_Store", "Thumbs.db")

_KINDS = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
          stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "device",
          stat.S_IFBLK: "device"}
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


class IntakeError(CourseError):
    """The submissions as a whole cannot be read (a zip too large, damaged, or a bomb).

    A :class:`~lessonlib.grading.course.CourseError`, hence a ``ValueError``:
    the command line reports it as an error of the run.
    """


class TooLarge(OSError):
    """A file is larger than the limit it is read with; ``size`` is what was seen."""

    def __init__(self, size, limit):
        super().__init__(f"{size_text(size)}, over the {size_text(limit)} limit")
        self.size, self.limit = size, limit


class NotRegular(OSError):
    """A path is a symbolic link, a folder, a FIFO or a device, not a regular file."""

    def __init__(self, kind):
        super().__init__(f"a {kind}, not a regular file")
        self.kind = kind


def size_text(n):
    """A byte count for people.

    >>> size_text(512), size_text(20 * 2**20), size_text(3 * 2**30)
    ('512 bytes', '20.0 MiB', '3.0 GiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def show(text, limit=80):
    """``text`` made safe to print: undecodable bytes and control characters escaped, cut.

    File names on disk may hold any byte but ``/`` (Python gives the
    undecodable ones as lone surrogates) and zip member names may be very
    long; a message quoting them must still print, and fit on a line.

    >>> show("ann\\nbob"), show("caf\\udce9"), show("x" * 100, limit=10)
    ('ann\\\\x0abob', 'caf\\\\xe9', 'xxxxxxxxx…')
    """
    text = str(text)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:   # lone surrogates that no undecodable byte produced
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _INVISIBLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 256
                          else f"\\u{ord(m[0]):04x}", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class Entry:
    """One entry of a folder, as ``lstat`` sees it.

    ``kind`` is ``"file"``, ``"dir"``, ``"symlink"``, ``"FIFO"``,
    ``"socket"``, ``"device"``, or ``"unknown"``.
    """

    name: str
    path: str
    kind: str
    size: int = 0


def fold(name):
    """``name`` as a case-insensitive, normalising file system (macOS, Windows) compares it."""
    return unicodedata.normalize("NFC", name).casefold()


def differs(name, other):
    """How ``name`` differs from ``other``, which folds to the same (:func:`fold`).

    >>> differs("Ann", "ann"), differs("jos\u00e9", "jose\u0301")
    ('differs only in case from ann', 'differs only in Unicode form from jose\u0301')
    """
    how = "case" if name.casefold() == other.casefold() else "Unicode form"
    return f"differs only in {how} from {show(other)}"


def skipped(name):
    """Whether ``name`` is litter from an operating system or a tool."""
    return name in IGNORED or name.startswith("._")


def kind_of(path):
    """The kind of ``path`` as :class:`Entry` names it, without following a link."""
    return _KINDS.get(stat.S_IFMT(os.lstat(path).st_mode), "unknown")


def scan(folder, limit=None):
    """The entries of ``folder``, sorted by name, without litter, never following a link.

    Parameters
    ----------
    folder : str
    limit : int, optional
        Stop listing after this many entries (default :data:`MAX_ENTRIES`);
        ``0`` for no limit.

    Returns
    -------
    entries : list of Entry
    problem : str or None
        Why the listing is incomplete: more than ``limit`` entries, or the
        folder could not be read.
    """
    limit = MAX_ENTRIES if limit is None else limit
    out = []
    try:
        with os.scandir(folder) as it:
            for d in it:
                if skipped(d.name):
                    continue
                if limit and len(out) >= limit:
                    return sorted(out, key=lambda e: e.name), f"more than {limit} entries"
                try:
                    st = d.stat(follow_symlinks=False)
                    kind, size = _KINDS.get(stat.S_IFMT(st.st_mode), "unknown"), st.st_size
                except OSError:
                    kind, size = "unknown", 0
                out.append(Entry(d.name, d.path, kind, size))
    except OSError as exc:
        return sorted(out, key=lambda e: e.name), f"it could not be read ({exc.strerror})"
    return sorted(out, key=lambda e: e.name), None


def read_capped(path, limit=None):
    """The bytes of the regular file ``path``, if it holds at most ``limit`` bytes.

    The file is opened without following a symbolic link and without
    blocking (a FIFO put in its place is refused, not waited on); its size
    is checked before reading and the reading stops one chunk past the limit.

    Raises
    ------
    NotRegular
        ``path`` is not a regular file.
    TooLarge
        It holds more than ``limit`` bytes (default :data:`MAX_FILE_BYTES`).
    OSError
        It cannot be opened or read.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    kind = kind_of(path)
    if kind != "file":
        raise NotRegular(kind)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(_KINDS.get(stat.S_IFMT(st.st_mode), "unknown"))
        if st.st_size > limit:
            raise TooLarge(st.st_size, limit)
        chunks, n = [], 0
        while True:
            chunk = os.read(fd, min(CHUNK, limit + 1 - n))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            n += len(chunk)
            if n > limit:
                raise TooLarge(n, limit)
    finally:
        os.close(fd)


def copy_capped(src, dst, limit):
    """Copy the stream ``src`` to ``dst`` in chunks; raise :class:`TooLarge` past ``limit``.

    Returns
    -------
    int
        The number of bytes copied.
    """
    n = 0
    while True:
        chunk = src.read(min(CHUNK, limit + 1 - n))
        if not chunk:
            return n
        n += len(chunk)
        if n > limit:
            raise TooLarge(n, limit)
        dst.write(chunk)


@dataclass
class Skipped:
    """A member of a zip that was not extracted.

    ``target`` is where it belonged, when that place is safe to name (the
    member is a link, a device or damaged, but its path is fine), so that the
    student it belonged to can be told; else None.
    """

    member: str
    why: str
    target: str | None = None


def _path_problem(info, parts):
    """Why a zip member's path is unsafe, or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts:
        return "a path that leaves the folder (..)"
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts):
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    return None


def _kind_problem(info):
    """Why a zip member is not a file or folder to extract, or None."""
    mode = info.external_attr >> 16
    kind = _KINDS.get(stat.S_IFMT(mode)) if stat.S_IFMT(mode) else None
    if kind == "symlink":
        return "a symbolic link"
    if kind not in (None, "file", "dir"):
        return f"a {kind}, not a regular file"
    return None


def extract_zip(zpath, dest):
    """Extract the class zip ``zpath`` into ``dest``, within the limits.

    Members that cannot be extracted safely (absolute paths, ``..``,
    symbolic links, devices, overlong names, a second member of the same
    name, a name that differs only in case or Unicode form from an earlier
    one, which would land in the same file on macOS and Windows, damaged or
    encrypted data) are skipped and reported.

    Returns
    -------
    list of Skipped
        The members not extracted, in the order of the zip.

    Raises
    ------
    IntakeError
        If ``zpath`` is not a readable zip, is larger than
        :data:`MAX_ZIP_BYTES`, has more than :data:`MAX_ZIP_MEMBERS`
        members, announces more than :data:`MAX_ZIP_BYTES` uncompressed, has
        a member announcing more than :data:`MAX_FILE_BYTES`, or holds more
        than its headers announce.
    """
    size = os.path.getsize(zpath)
    if size > MAX_ZIP_BYTES:
        raise IntakeError(f"{zpath} is {size_text(size)}, over the {size_text(MAX_ZIP_BYTES)} "
                          f"limit for a submissions zip; unzip it and grade the folder")
    try:
        zf = zipfile.ZipFile(zpath)
    except Exception as exc:  # zipfile raises many kinds on a damaged archive
        raise IntakeError(f"{zpath} is not a readable zip ({show(exc, 200)})") from None
    out = []
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise IntakeError(f"{zpath} has {len(infos)} members, over the limit of "
                              f"{MAX_ZIP_MEMBERS}; not extracted")
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_BYTES:
            raise IntakeError(f"{zpath} would unpack to {size_text(total)}, over the "
                              f"{size_text(MAX_ZIP_BYTES)} limit; not extracted")
        big = [i for i in infos if i.file_size > MAX_FILE_BYTES]
        if big:
            raise IntakeError(
                f"{zpath}: member {show(big[0].filename)} would unpack to "
                f"{size_text(big[0].file_size)}, over the {size_text(MAX_FILE_BYTES)} limit per "
                f"file ({len(big)} such member(s)); not extracted. Remove it, or unzip and "
                f"grade the folder")
        seen, spelled, written = set(), {}, 0
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or any(skipped(p) for p in parts):
                continue
            why = _path_problem(info, parts)
            key = tuple(fold(p) for p in parts)
            if why is None and tuple(parts) in seen:
                why = "a second member of the same name"
            if why is None:
                for k in range(1, len(parts) + 1):
                    first = spelled.setdefault(key[:k], tuple(parts[:k]))
                    if first != tuple(parts[:k]):
                        why = differs("/".join(parts[:k]), "/".join(first))
                        break
            if why:
                out.append(Skipped(info.filename, f"{why}; not extracted"))
                continue
            seen.add(tuple(parts))
            target = os.path.join(dest, *parts)
            why = _kind_problem(info)
            try:
                if why:   # its folder is made, so that its student is told
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    out.append(Skipped(info.filename, f"{why}; not extracted", target))
                elif info.is_dir():
                    os.makedirs(target, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        written += copy_capped(src, dst,
                                               min(MAX_FILE_BYTES, MAX_ZIP_BYTES - written))
            except TooLarge:
                _remove(target)
                raise IntakeError(f"{zpath}: member {show(info.filename)} holds more than its "
                                  f"header says and more than the limits allow; the zip is "
                                  f"damaged or a zip bomb; not extracted") from None
            except Exception as exc:  # damaged, encrypted, unsupported compression, OS error
                _remove(target)
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                out.append(Skipped(info.filename, f"could not be extracted ({show(why, 120)})",
                                   target))
    return out


def _remove(path):
    try:
        if os.path.isfile(path) and not os.path.islink(path):
            os.remove(path)
    except OSError:
        pass
