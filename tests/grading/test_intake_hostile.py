"""The intake under malformed and hostile submissions.

Every test builds one bad case next to an honest student (``ann``) in the
same submissions folder, and checks that the intake did not raise, that
the bad case is reported with a reason naming the file, and that ``ann``
was read normally. The course and its release are built in memory (no
nbgrader, no kernel); limits are lowered with ``monkeypatch`` so that
every case stays small.
"""

import copy
import io
import json
import os
import re
import signal
import socket
import struct
import sys
import zipfile
from contextlib import contextmanager

import pytest

sys.modules.setdefault("rfc3987_syntax", None)   # jsonschema's slow optional import
import nbformat  # noqa: E402

from lessonlib.grading import limits  # noqa: E402
from lessonlib.grading.course import Course  # noqa: E402
from lessonlib.grading.intake import IntakeError, read_submissions  # noqa: E402


def _cell(kind, src, grade_id=None, **nbg):
    cell = {"cell_type": kind, "id": grade_id or "c0",
            "metadata": {}, "source": src}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if grade_id:
        cell["metadata"]["nbgrader"] = {"grade_id": grade_id, "schema_version": 3,
                                        "grade": False, "solution": False, "locked": False,
                                        **nbg}
    return cell


RELEASE = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    _cell("markdown", "# ReLU", "intro", locked=True),
    _cell("code", "import numpy as np", "imports", locked=True),
    _cell("code", "def relu(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
          "relu-impl", solution=True),
    _cell("code", "assert relu(-1) == 0", "relu-test", grade=True, locked=True, points=1),
]}
RELEASES = {"01_alpha": {"alpha": RELEASE}}


def honest():
    nb = copy.deepcopy(RELEASE)
    nb["cells"][2]["source"] = "def relu(x):\n    return np.maximum(x, 0)"
    return nb


@pytest.fixture
def course(tmp_path):
    return Course(root=str(tmp_path / "course"), assignments={"01_alpha": ["alpha"]})


def write(path, data):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, dict):
        data = json.dumps(data)
    with open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


@contextmanager
def deadline(seconds=5):
    """Fail instead of hanging (a FIFO that was opened blocks)."""
    def boom(*_):
        raise TimeoutError("the intake blocked")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def intake_of(tmp_path, course, subs=None):
    """Add the honest ``ann``, read ``subs``, check ``ann`` and every message; the Intake."""
    subs = tmp_path / "subs" if subs is None else subs
    if os.path.isdir(subs):
        write(subs / "ann" / "01_alpha" / "alpha.ipynb", honest())
    with deadline():
        intake = read_submissions(str(subs), str(tmp_path / "work"), course, RELEASES)
    ann = intake.submissions["ann", "01_alpha"]
    assert (ann.notebooks, ann.flags, ann.failures) == (["alpha"], [], {})
    out = json.loads((tmp_path / "work" / "ann" / "01_alpha" / "alpha.ipynb").read_text())
    assert out["cells"][2]["source"] == honest()["cells"][2]["source"]
    messages = list(intake.ignored)
    for sub in intake.submissions.values():
        messages += sub.flags + list(sub.failures.values())
        for nb in sub.notebooks:   # what nbgrader will read is a valid notebook
            with open(os.path.join(sub.folder, nb + ".ipynb"), encoding="utf-8") as fh:
                nbformat.validate(nbformat.read(fh, as_version=4))
    for m in messages:            # every message prints, on one line
        m.encode("utf-8")
        assert not re.search(r"[\x00-\x1f\x7f]", m), m
        assert len(m) < 400, m
    return intake


def failure(intake, student="bob"):
    sub = intake.submissions[student, "01_alpha"]
    assert not sub.gradable
    return sub.failures["alpha"]


def flags(intake, student="bob"):
    sub = intake.submissions[student, "01_alpha"]
    assert sub.notebooks == ["alpha"], sub.failures
    return "\n".join(sub.flags)


def prepared(tmp_path, student="bob"):
    return json.loads((tmp_path / "work" / student / "01_alpha" / "alpha.ipynb").read_text())


# -- notebook content that cannot be graded ------------------------------------

@pytest.mark.parametrize("content, reason", [
    (b'{"cells": [', r"alpha\.ipynb is not valid notebook JSON \(Expecting"),
    (b"", r"alpha\.ipynb is not valid notebook JSON"),
    (b'\xff\xfe{"cells": []}', r"alpha\.ipynb is not valid notebook JSON \(not UTF-8 text: "
                               r"byte 0xff at position 0\)"),
    (b"[1, 2]", r"alpha\.ipynb is not a Jupyter notebook \(nbformat 4\): it holds a list, "
                r"expected an object"),
    (b'"text"', r"it holds a string, expected an object"),
    (b'{"nbformat": 3, "cells": []}', r"'nbformat' is 3, expected 4"),
    (b'{"nbformat": "4", "cells": []}', r"'nbformat' is \"4\", expected 4"),
    (b'{"nbformat": 4, "cells": {"a": 1}}', r"'cells' is an object, expected a list"),
    (b'{"nbformat": 4, "cells": null}', r"'cells' is null, expected a list"),
    (b"[" * 100_000 + b"]" * 100_000, r"not valid notebook JSON \(nested too deeply to read\)"),
    (b'{"nbformat": 4, "cells": [], "metadata": {"x": ' + b"[" * 150 + b"]" * 150 + b"}}",
     r"alpha\.ipynb is nested more than 100 levels deep"),
    (b'{"nbformat": 4, "cells": [], "metadata": {"n": ' + b"9" * 5000 + b"}}",
     r"not valid notebook JSON \(Exceeds the limit \(4300 digits\)"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '
     b'[{"cell_type": "heading", "id": "h", "metadata": {}, "source": "x"}]}',
     r"alpha\.ipynb is not a valid notebook, even after repair: at \['cells'\]\[0\]: "),
    (b'{"nbformat": 4, "metadata": {}, "cells": []}',
     r"not a valid notebook, even after repair: 'nbformat_minor' is a required property"),
])
def test_content_that_cannot_be_graded_fails_that_notebook_only(tmp_path, course, content,
                                                                reason):
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", content)
    why = failure(intake_of(tmp_path, course))
    assert re.search(reason, why), why
    assert len(why) < 300
    assert not (tmp_path / "work" / "bob" / "01_alpha" / "alpha.ipynb").exists()


# -- notebook content that is repaired -----------------------------------------

def _broken(edit):
    nb = honest()
    edit(nb)
    return nb


def _set(index, key, value):
    def edit(nb):
        nb["cells"][index][key] = value
    return edit


def _set_nbgrader(index, key, value):
    def edit(nb):
        nb["cells"][index]["metadata"]["nbgrader"][key] = value
    return edit


@pytest.mark.parametrize("edit, reason", [
    (lambda nb: nb["cells"].insert(1, "print(1)"),
     r"^alpha\.ipynb: cell 2: is a string, not a cell; dropped$"),
    (lambda nb: nb["cells"].extend([None, 7, []]),
     r"^alpha\.ipynb: cell 5: is null, not a cell; dropped"),
    (_set(1, "metadata", None), r"cell 2: metadata is null, expected an object; reset to \{\}"),
    (_set(1, "metadata", ["a"]), r"cell 2: metadata is a list, expected an object; reset"),
    (_set(1, "metadata", "x"), r"cell 2: metadata is a string, expected an object; reset"),
    (lambda nb: nb.update(metadata=None),
     r"^alpha\.ipynb: the notebook metadata is null, expected an object; reset to \{\}$"),
    (lambda nb: nb["cells"][1]["metadata"].update(nbgrader=["grade"]),
     r"cell 2: nbgrader metadata is invalid \(a list, expected an object\); removed"),
    (lambda nb: nb["cells"][1]["metadata"].update(nbgrader="yes"),
     r"cell 2: nbgrader metadata is invalid \(a string, expected an object\); removed"),
    (_set_nbgrader(2, "grade_id", ["relu-impl"]),
     r"cell 3: nbgrader metadata is invalid \(grade_id is a list, expected a string\)"),
    (_set_nbgrader(2, "grade_id", 3), r"grade_id is a number, expected a string"),
    (_set_nbgrader(2, "grade_id", None), r"grade_id is null, expected a string"),
    (_set_nbgrader(2, "grade_id", "relu impl"), r"grade_id: 'relu impl' does not match"),
    (_set_nbgrader(2, "solution", "yes"), r"solution: 'yes' is not of type 'boolean'"),
    (_set_nbgrader(2, "schema_version", 99), r"schema_version: 99 is greater than"),
    (_set(2, "source", 42), r"cell 3: source is a number, expected text; emptied"),
    (_set(2, "source", None), r"cell 3: source is null, expected text; emptied"),
    (_set(2, "source", ["a", 1]), r"cell 3: source is a list, expected text; emptied"),
    (_set(2, "outputs", {"x": 1}), r"cell 3: outputs is an object, expected a list; emptied"),
    (_set(2, "outputs", [{"output_type": "stream"}, 3]),
     r"^alpha\.ipynb: its outputs were invalid and were cleared"),
    (_set(2, "execution_count", "five"), r"its outputs were invalid and were cleared"),
    (_set(2, "id", "not an id!"), r"cell 3: id is not a valid cell id; replaced"),
    (_set(2, "id", ["x"]), r"cell 3: id is not a valid cell id; replaced"),
    (lambda nb: nb["metadata"].update(x=float("nan"), y=float("inf")),
     r"^alpha\.ipynb: 2 NaN or infinite number\(s\) replaced by null$"),
    (lambda nb: nb["cells"][0].update(source="caf\udce9"),
     r"^alpha\.ipynb: 1 text\(s\) with invalid characters \(lone surrogates\) repaired$"),
])
def test_damaged_structure_is_repaired_and_flagged(tmp_path, course, edit, reason):
    nb = _broken(edit)
    # json.dumps writes NaN and Infinity as Python does, a lone surrogate as \\udce9
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", json.dumps(nb))
    intake = intake_of(tmp_path, course)
    found = flags(intake)
    assert re.search(reason, found, re.M), found
    text = (tmp_path / "work" / "bob" / "01_alpha" / "alpha.ipynb").read_text(encoding="utf-8")
    json.loads(text, parse_constant=pytest.fail)                     # strict JSON
    assert not re.search(r"\\ud[89a-f]", text, re.I)                  # no lone surrogate


def test_a_huge_float_reads_as_infinity_and_is_repaired(tmp_path, course):
    text = json.dumps(honest()).replace('"metadata": {}', '"metadata": {"x": 1e99999}', 1)
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", text)
    assert "1 NaN or infinite number(s) replaced by null" in flags(intake_of(tmp_path, course))


def test_a_grade_id_that_is_a_list_loses_its_metadata_but_the_cell_is_graded(tmp_path, course):
    nb = honest()
    nb["cells"][2]["metadata"]["nbgrader"]["grade_id"] = ["relu-impl", "relu-test"]
    nb["cells"][3]["metadata"] = None                       # and the test cell's is gone
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", nb)
    found = flags(intake_of(tmp_path, course))
    assert "test cell relu-test was deleted; restored from the source and graded" in found
    out = prepared(tmp_path)
    assert "nbgrader" not in out["cells"][2]["metadata"]
    assert out["cells"][2]["source"] == nb["cells"][2]["source"]   # the student's code is kept


def test_many_damaged_cells_make_one_flag(tmp_path, course):
    nb = honest()
    nb["cells"] += [{"cell_type": "markdown", "id": f"m{i}", "metadata": None, "source": ""}
                    for i in range(30)]
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", nb)
    found = flags(intake_of(tmp_path, course))
    assert re.fullmatch(r"alpha\.ipynb: cells 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 20 more: "
                        r"metadata is null, expected an object; reset to \{\}", found), found


def test_missing_cell_ids_are_added(tmp_path, course):
    nb = honest()
    for c in nb["cells"]:
        del c["id"]
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", nb)
    intake = intake_of(tmp_path, course)
    assert flags(intake) == ""
    ids = [c["id"] for c in prepared(tmp_path)["cells"]]
    assert len(set(ids)) == 4


def test_a_bom_and_an_old_minor_version_are_accepted(tmp_path, course):
    nb = honest()
    nb["nbformat_minor"] = 4
    for c in nb["cells"]:
        del c["id"]
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb",
          b"\xef\xbb\xbf" + json.dumps(nb).encode())
    intake = intake_of(tmp_path, course)
    assert flags(intake) == ""
    assert prepared(tmp_path)["cells"][2]["source"] == nb["cells"][2]["source"]


# -- size limits ---------------------------------------------------------------

def test_a_notebook_over_the_size_limit_is_not_read(tmp_path, course, monkeypatch):
    size = len(json.dumps(honest()).encode())
    assert size < 1024
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", size)      # ann's notebook: exactly the limit
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", json.dumps(honest()) + " ")
    why = failure(intake_of(tmp_path, course))
    assert why == (f"alpha.ipynb is {size + 1} bytes, over the {size} bytes limit for a "
                   f"notebook; not read")


def test_read_capped_stops_at_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert limits.read_capped(str(path), 100) == b"x" * 100
    with pytest.raises(limits.TooLarge, match=r"100 bytes, over the 99 bytes limit"):
        limits.read_capped(str(path), 99)


def test_copy_capped_stops_even_when_the_stream_never_ends():
    class Endless(io.RawIOBase):
        served = 0

        def read(self, n=-1):
            self.served += n
            return b"x" * n

    src, dst = Endless(), io.BytesIO()
    with pytest.raises(limits.TooLarge):
        limits.copy_capped(src, dst, 1000)
    assert src.served <= 1001 and len(dst.getvalue()) <= 1000
    assert limits.copy_capped(io.BytesIO(b"y" * 1000), io.BytesIO(), 1000) == 1000


def _zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            if isinstance(name, zipfile.ZipInfo):
                zf.writestr(name, data)
            else:
                zf.writestr(name, data if isinstance(data, (str, bytes)) else json.dumps(data))
    return path


def _class_zip(tmp_path, *extra):
    return _zip(tmp_path / "class.zip",
                [("submitted/ann/01_alpha/alpha.ipynb", honest()), *extra])


def test_a_zip_with_too_many_members_is_refused(tmp_path, course, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ZIP_MEMBERS", 5)
    extra = [(f"submitted/bob/01_alpha/f{i}.png", "x") for i in range(4)]
    intake_of(tmp_path, course, _class_zip(tmp_path, *extra))          # 5 members: read
    os.remove(tmp_path / "class.zip")
    zpath = _class_zip(tmp_path, *extra, ("submitted/bob/01_alpha/f9.png", "x"))
    with pytest.raises(IntakeError, match=r"class\.zip has 6 members, over the limit of 5"):
        read_submissions(str(zpath), str(tmp_path / "work2"), course, RELEASES)
    assert not (tmp_path / "work2-unzipped").exists()


def test_a_zip_that_unpacks_too_large_is_refused(tmp_path, course, monkeypatch):
    zpath = _class_zip(tmp_path, ("submitted/bob/01_alpha/data.txt", "0" * 20_000))
    total = sum(i.file_size for i in zipfile.ZipFile(zpath).infolist())
    assert os.path.getsize(zpath) < total // 4
    monkeypatch.setattr(limits, "MAX_ZIP_BYTES", total)                   # at the limit: read
    intake_of(tmp_path, course, zpath)
    monkeypatch.setattr(limits, "MAX_ZIP_BYTES", total - 1)
    with pytest.raises(IntakeError, match=r"would unpack to .* over the .* limit; not extracted"):
        read_submissions(str(zpath), str(tmp_path / "work2"), course, RELEASES)
    assert not (tmp_path / "work2-unzipped").exists()


def test_a_zip_file_over_the_limit_is_not_opened(tmp_path, course, monkeypatch):
    zpath = _class_zip(tmp_path)
    monkeypatch.setattr(limits, "MAX_ZIP_BYTES", os.path.getsize(zpath) - 1)
    with pytest.raises(IntakeError, match=r"class\.zip is .*, over the .* limit for a "
                                          r"submissions zip"):
        read_submissions(str(zpath), str(tmp_path / "work"), course, RELEASES)


def test_a_zip_member_over_the_file_limit_is_refused(tmp_path, course, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 5000)
    zpath = _class_zip(tmp_path, ("submitted/bob/01_alpha/data.txt", "0" * 5000))
    intake_of(tmp_path, course, zpath)                                    # 5000 bytes: read
    zpath = _zip(tmp_path / "big.zip", [("submitted/ann/01_alpha/alpha.ipynb", honest()),
                                         ("submitted/bob/01_alpha/data.txt", "0" * 5001)])
    with pytest.raises(IntakeError, match=r"member submitted/bob/01_alpha/data\.txt would "
                                          r"unpack to 4\.9 KiB, over the 4\.9 KiB limit per file"):
        read_submissions(str(zpath), str(tmp_path / "work2"), course, RELEASES)


def _lie_about_size(zpath, member, size):
    """Rewrite the sizes ``member``'s headers announce (local and central) to ``size``."""
    data = bytearray(zpath.read_bytes())
    info = zipfile.ZipFile(zpath).getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)          # local header
    pos = data.find(b"PK\x01\x02")                                      # central directory
    while pos >= 0:
        if data[pos + 46:pos + 46 + len(member)] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
        pos = data.find(b"PK\x01\x02", pos + 4)
    zpath.write_bytes(bytes(data))


def test_a_member_larger_than_its_header_is_not_extracted_past_it(tmp_path, course,
                                                                  monkeypatch):
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 5000)
    zpath = _class_zip(tmp_path, ("submitted/bob/01_alpha/alpha.ipynb", "0" * 50_000))
    _lie_about_size(zpath, "submitted/bob/01_alpha/alpha.ipynb", 100)
    assert zipfile.ZipFile(zpath).getinfo("submitted/bob/01_alpha/alpha.ipynb").file_size == 100
    intake = intake_of(tmp_path, course, zpath)
    lied = r"class\.zip: submitted/bob/01_alpha/alpha\.ipynb: could not be extracted \(Bad CRC"
    assert any(re.search(lied, line) for line in intake.ignored), intake.ignored
    bob = tmp_path / "work-unzipped" / "submitted" / "bob" / "01_alpha" / "alpha.ipynb"
    assert not bob.exists()
    assert re.match(r"alpha\.ipynb in class\.zip: could not be extracted \(Bad CRC-32",
                    failure(intake))


def test_a_member_that_outgrows_the_limits_while_copied_stops_the_zip(tmp_path, course,
                                                                     monkeypatch):
    zpath = _class_zip(tmp_path, ("submitted/bob/01_alpha/data.txt", "0" * 5000))
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 10_000)
    real = limits.copy_capped
    monkeypatch.setattr(limits, "copy_capped", lambda src, dst, limit: real(src, dst, 1000))
    with pytest.raises(IntakeError, match=r"holds more than its header says .* zip bomb"):
        read_submissions(str(zpath), str(tmp_path / "work"), course, RELEASES)


def test_a_member_with_unsupported_compression_is_skipped(tmp_path, course):
    zpath = _class_zip(tmp_path, ("submitted/bob/01_alpha/alpha.ipynb", honest()))
    data = bytearray(zpath.read_bytes())
    info = zipfile.ZipFile(zpath).getinfo("submitted/bob/01_alpha/alpha.ipynb")
    struct.pack_into("<H", data, info.header_offset + 8, 99)            # AES-encrypted, say
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        if b"bob" in data[pos + 46:pos + 80]:
            struct.pack_into("<H", data, pos + 10, 99)
        pos = data.find(b"PK\x01\x02", pos + 4)
    zpath.write_bytes(bytes(data))
    intake = intake_of(tmp_path, course, zpath)
    assert any(re.search(r"submitted/bob/01_alpha/alpha\.ipynb: could not be extracted "
                         r"\(.*compression", line) for line in intake.ignored), intake.ignored
    assert failure(intake) == ("alpha.ipynb in class.zip: could not be extracted (That "
                               "compression method is not supported)")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, course):
    (tmp_path / "class.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(IntakeError, match=r"class\.zip is not a readable zip"):
        read_submissions(str(tmp_path / "class.zip"), str(tmp_path / "work"), course, RELEASES)


def test_unsafe_zip_members_are_skipped_and_reported(tmp_path, course):
    link = zipfile.ZipInfo("submitted/bob/01_alpha/alpha.ipynb")
    link.external_attr = (0o120777 << 16)
    fifo = zipfile.ZipInfo("submitted/dan/01_alpha/alpha.ipynb")
    fifo.external_attr = (0o010644 << 16)
    members = [
        ("/etc/evil.ipynb", "x"), ("../escape.txt", "x"), ("submitted/../../up.txt", "x"),
        ("C:/windows.txt", "x"),
        (link, "../../ann/01_alpha/alpha.ipynb"), (fifo, ""),
        ("submitted/ann/01_alpha/alpha.ipynb", "{}"),                     # a second copy
        ("submitted/Ann/01_alpha/alpha.ipynb", honest()),                 # case only
        ("submitted/ANN/x.txt", "x"),
        ("submitted/" + "e" * 300 + "/01_alpha/alpha.ipynb", honest()),   # a name too long
        ("submitted/cat/01_alpha/alpha.ipynb", honest()),
    ]
    with pytest.warns(UserWarning, match="Duplicate name"):
        intake = intake_of(tmp_path, course, _class_zip(tmp_path, *members))
    text = "\n".join(intake.ignored)
    for pattern in [r"class\.zip: /etc/evil\.ipynb: an absolute path; not extracted",
                    r"\.\./escape\.txt: a path that leaves the folder \(\.\.\)",
                    r"submitted/\.\./\.\./up\.txt: a path that leaves",
                    r"C:/windows\.txt: an absolute path",
                    r"submitted/bob/01_alpha/alpha\.ipynb: a symbolic link; not extracted",
                    r"submitted/dan/01_alpha/alpha\.ipynb: a FIFO, not a regular file",
                    r"submitted/ann/01_alpha/alpha\.ipynb: a second member of the same name",
                    r"submitted/Ann/01_alpha/alpha\.ipynb: differs only in case from "
                    r"submitted/ann",
                    r"submitted/ANN/x\.txt: differs only in case",
                    r"submitted/eeeeeeeeee.*…: a name longer than 255 bytes"]:
        assert re.search(pattern, text), (pattern, text)
    assert intake.students == ["ann", "bob", "cat", "dan"]
    assert intake.submissions["cat", "01_alpha"].gradable
    assert failure(intake) == "alpha.ipynb in class.zip: a symbolic link; not extracted"
    assert failure(intake, "dan") == ("alpha.ipynb in class.zip: a FIFO, not a regular file; "
                                      "not extracted")
    assert not (tmp_path / "evil.ipynb").exists() and not (tmp_path / "escape.txt").exists()
    assert not any(p.is_symlink() for p in (tmp_path / "work-unzipped").rglob("*"))


# -- links and special files ---------------------------------------------------

def test_a_symlinked_student_folder_is_not_followed(tmp_path, course):
    write(tmp_path / "elsewhere" / "01_alpha" / "alpha.ipynb", honest())
    os.makedirs(tmp_path / "subs")
    os.symlink(tmp_path / "elsewhere", tmp_path / "subs" / "bob")
    intake = intake_of(tmp_path, course)
    assert intake.students == ["ann"]
    assert "bob: a symbolic link where a student folder was expected; not followed" \
        in intake.ignored


def test_a_symlinked_assignment_folder_fails_that_assignment(tmp_path, course):
    os.makedirs(tmp_path / "subs" / "bob")
    write(tmp_path / "subs" / "ann" / "01_alpha" / "alpha.ipynb", honest())
    os.symlink(tmp_path / "subs" / "ann" / "01_alpha", tmp_path / "subs" / "bob" / "01_alpha")
    intake = intake_of(tmp_path, course)
    assert failure(intake) == "the folder 01_alpha is a symbolic link, not graded"


def test_a_symlinked_notebook_is_not_graded(tmp_path, course):
    write(tmp_path / "subs" / "ann" / "01_alpha" / "alpha.ipynb", honest())
    os.makedirs(tmp_path / "subs" / "bob" / "01_alpha")
    os.symlink(tmp_path / "subs" / "ann" / "01_alpha" / "alpha.ipynb",
               tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb")
    os.makedirs(tmp_path / "subs" / "cat")                  # a link outside the folder, too
    os.symlink("/etc/passwd", tmp_path / "subs" / "cat" / "alpha.ipynb")
    intake = intake_of(tmp_path, course)
    assert failure(intake) == "alpha.ipynb is a symbolic link, not graded"
    assert failure(intake, "cat") == "alpha.ipynb is a symbolic link, not graded"


def test_a_symlink_beside_a_real_notebook_is_flagged(tmp_path, course):
    write(tmp_path / "subs" / "bob" / "01_alpha" / "Alpha (1).ipynb", honest())
    os.symlink("/etc/passwd", tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb")
    os.symlink("/etc/hostname", tmp_path / "subs" / "bob" / "01_alpha" / "timestamp.txt")
    intake = intake_of(tmp_path, course)
    assert intake.submissions["bob", "01_alpha"].flags == [
        "Alpha (1).ipynb graded as alpha.ipynb",
        "alpha.ipynb is a symbolic link, not graded",
        "timestamp.txt is a symbolic link, not graded"]
    assert not intake.submissions["bob", "01_alpha"].has_timestamp


def test_fifos_and_sockets_are_never_opened(tmp_path, course, monkeypatch):
    os.makedirs(tmp_path / "subs" / "bob" / "01_alpha")
    os.mkfifo(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb")
    os.mkfifo(tmp_path / "subs" / "fifo")                               # as a student folder
    os.makedirs(tmp_path / "subs" / "cat" / "01_alpha")
    monkeypatch.chdir(tmp_path / "subs" / "cat" / "01_alpha")           # short socket path
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("alpha.ipynb")
        intake = intake_of(tmp_path, course)
    assert failure(intake) == "alpha.ipynb is a FIFO, not a regular file; not graded"
    assert failure(intake, "cat") == "alpha.ipynb is a socket, not a regular file; not graded"
    assert "fifo: a FIFO where a student folder was expected" in intake.ignored


def test_read_capped_refuses_links_and_fifos(tmp_path):
    (tmp_path / "real").write_text("x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with deadline():
        for name, kind in (("link", "symlink"), ("fifo", "FIFO")):
            with pytest.raises(limits.NotRegular, match=f"a {kind}, not a regular file"):
                limits.read_capped(str(tmp_path / name))


# -- folders too large to list -------------------------------------------------

def test_an_assignment_folder_with_too_many_files_fails(tmp_path, course, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ENTRIES", 10)
    for student, n in (("bob", 11), ("cat", 10)):        # cat, at the limit, is read
        write(tmp_path / "subs" / student / "01_alpha" / "alpha.ipynb", honest())
        for i in range(n - 1):
            write(tmp_path / "subs" / student / "01_alpha" / f"plot{i}.png", "x")
    intake = intake_of(tmp_path, course)
    assert failure(intake) == "the folder 01_alpha: more than 10 entries; not read"
    assert flags(intake, "cat") == ""


def test_a_student_folder_with_too_many_entries_fails(tmp_path, course, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ENTRIES", 10)
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", honest())
    for i in range(20):
        write(tmp_path / "subs" / "bob" / f"junk{i}.txt", "x")
    for i in range(20):
        write(tmp_path / "subs" / "cat" / f"junk{i}.txt", "x")
    intake = intake_of(tmp_path, course)
    assert failure(intake) == "the student folder bob: more than 10 entries; not read"
    assert "the student folder cat: more than 10 entries; not read" in intake.ignored


# -- odd names -----------------------------------------------------------------

@pytest.mark.parametrize("student, reason", [
    ("bob\nsmith", r"^bob\\x0asmith: not a usable student id \(it holds a control or invisible"),
    ("bob\x1b[31m", r"^bob\\x1b\[31m: not a usable student id \(it holds a control"),
    ("bob\u202eevil", r"^bob\\u202eevil: not a usable student id \(it holds a control"),
    ("-rf", r"^-rf: not a usable student id \(it starts with '\.' or '-'\)"),
    (".hidden", r"it starts with '\.' or '-'"),
    ("   ", r"not a usable student id \(it is empty or only spaces\)"),
    (" bob", r"it starts or ends with a space"),
    ("b" * 101, r"^b{79}…: not a usable student id \(it is longer than 100 characters\)"),
    ("bob*", r"it holds one of \* \? \[ \] / \\"),
    (b"bob\xff", r"^bob\\xff: not a usable student id \(it holds bytes that are not UTF-8\)"),
])
def test_unusable_student_ids_are_ignored_with_the_reason(tmp_path, course, student, reason):
    root = os.path.join(os.fsencode(tmp_path), b"subs")
    sdir = os.path.join(root, os.fsencode(student), b"01_alpha")
    os.makedirs(sdir)
    with open(os.path.join(sdir, b"alpha.ipynb"), "w") as fh:
        json.dump(honest(), fh)
    intake = intake_of(tmp_path, course)
    assert intake.students == ["ann"]
    assert len(intake.ignored) == 1 and re.search(reason, intake.ignored[0]), intake.ignored
    assert sorted(os.listdir(tmp_path / "work")) == ["ann"]


def test_a_student_id_of_100_characters_is_accepted(tmp_path, course):
    write(tmp_path / "subs" / ("b" * 100) / "01_alpha" / "alpha.ipynb", honest())
    intake = intake_of(tmp_path, course)
    assert intake.submissions["b" * 100, "01_alpha"].gradable


@pytest.mark.parametrize("twin", ["Bob", "BOB"])
def test_student_ids_that_differ_only_in_case_are_both_failed(tmp_path, course, twin):
    write(tmp_path / "subs" / twin / "01_alpha" / "alpha.ipynb", honest())
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", honest())
    intake = intake_of(tmp_path, course)
    assert failure(intake) == (f"the student folder bob differs only in case from {twin}; "
                               f"neither is graded (rename one)")
    assert "differs only in case from bob" in failure(intake, twin)
    assert not (tmp_path / "work" / "bob" / "01_alpha" / "alpha.ipynb").exists()


def test_student_ids_that_differ_only_in_unicode_form_are_both_failed(tmp_path, course):
    composed, decomposed = "jos\u00e9", "jose\u0301"          # the same name on macOS
    write(tmp_path / "subs" / composed / "01_alpha" / "alpha.ipynb", honest())
    write(tmp_path / "subs" / decomposed / "01_alpha" / "alpha.ipynb", honest())
    intake = intake_of(tmp_path, course)
    assert failure(intake, composed) == (f"the student folder {composed} differs only in "
                                         f"Unicode form from {decomposed}; neither is graded "
                                         f"(rename one)")
    assert "differs only in Unicode form from" in failure(intake, decomposed)


def test_notebooks_that_differ_only_in_case_grade_the_exact_name(tmp_path, course):
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", honest())
    write(tmp_path / "subs" / "bob" / "01_alpha" / "ALPHA.ipynb", "not json")
    intake = intake_of(tmp_path, course)
    assert flags(intake) == "extra notebook ALPHA.ipynb not graded"


@pytest.mark.parametrize("name, shown", [
    (b"alpha\n.ipynb", "alpha\\x0a.ipynb"),
    (b"alpha\xff.ipynb", "alpha\\xff.ipynb"),
    (b"-alpha.ipynb", "-alpha.ipynb"),
    (b"Alpha\x07 (1).ipynb", "Alpha\\x07 (1).ipynb"),
])
def test_odd_notebook_names_are_graded_under_the_expected_name(tmp_path, course, name, shown):
    sdir = os.path.join(os.fsencode(tmp_path), b"subs", b"bob", b"01_alpha")
    os.makedirs(sdir)
    with open(os.path.join(sdir, name), "w") as fh:
        json.dump(honest(), fh)
    intake = intake_of(tmp_path, course)
    assert flags(intake) == f"{shown} graded as alpha.ipynb"
    assert os.listdir(tmp_path / "work" / "bob" / "01_alpha") == ["alpha.ipynb"]


def test_odd_file_names_beside_the_notebook_do_not_crash(tmp_path, course):
    sdir = os.path.join(os.fsencode(tmp_path), b"subs", b"bob", b"01_alpha")
    os.makedirs(sdir)
    with open(os.path.join(sdir, b"alpha.ipynb"), "w") as fh:
        json.dump(honest(), fh)
    for name in (b"\xfe\xfe.py", b"-rf.py", b"x" * 255 + b"", b"new\nline.ipynb"):
        with open(os.path.join(sdir, name[:255]), "w") as fh:
            fh.write("x")
    intake = intake_of(tmp_path, course)
    assert flags(intake).splitlines() == [
        "extra notebook new\\x0aline.ipynb not graded",
        "extra file -rf.py ignored (it could shadow a module)",
        "extra file \\xfe\\xfe.py ignored (it could shadow a module)"]


# -- timestamps ----------------------------------------------------------------

@pytest.mark.parametrize("content, flag", [
    ("2024-03-01 12:00:00.000000 UTC", None),
    ("not a date", r"timestamp\.txt is not a date nbgrader can read \(.*\); ignored"),
    ("", r"timestamp\.txt is not a date nbgrader can read \(empty\); ignored"),
    (b"\xff\xfe", r"timestamp\.txt is not a date nbgrader can read \('utf-8' codec .*"),
    ("2024-03-01 " * 500, r"timestamp\.txt is 5\.4 KiB, more than a timestamp; ignored"),
])
def test_a_timestamp_is_copied_only_if_nbgrader_can_read_it(tmp_path, course, content, flag):
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", honest())
    write(tmp_path / "subs" / "bob" / "01_alpha" / "timestamp.txt", content)
    intake = intake_of(tmp_path, course)
    sub = intake.submissions["bob", "01_alpha"]
    copied = tmp_path / "work" / "bob" / "01_alpha" / "timestamp.txt"
    if flag is None:
        assert sub.flags == [] and sub.has_timestamp and copied.read_text().strip() == content
    else:
        assert re.fullmatch(flag, "\n".join(sub.flags)), sub.flags
        assert not sub.has_timestamp and not copied.exists()


# -- a bug costs one student ---------------------------------------------------

def test_an_unexpected_error_costs_one_student(tmp_path, course, monkeypatch):
    from lessonlib.grading import intake as module
    real = module._student_files

    def flaky(sdir, student, *args):
        if student == "bob":
            raise KeyError("surprise")
        return real(sdir, student, *args)

    monkeypatch.setattr(module, "_student_files", flaky)
    write(tmp_path / "subs" / "bob" / "01_alpha" / "alpha.ipynb", honest())
    intake = intake_of(tmp_path, course)
    assert intake.students == ["ann"]
    assert intake.ignored == ["bob: the intake failed on this student's folder (KeyError: "
                              "'surprise'); not graded"]
