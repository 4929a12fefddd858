"""Every file in a submissions folder becomes a row: ids from names, zips unpacked, bad files explained."""

import datetime
import json
import os
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import autograde.grading.intake
from autograde.grading.intake import StudentIds, collect
from autograde.grading.rows import Status


def notebook_bytes(code="x = 1"):
    return nbformat.writes(new_notebook(cells=[new_code_cell(code)])).encode()


def by_file(submissions):
    return {s.file: s for s in submissions}


def test_student_ids_from_names_as_students_leave_them():
    ids = StudentIds()
    assert ids("s1234_lab1.ipynb") == "s1234"
    assert ids("Copy of alice-b.lab1 (2).ipynb") == "alice-b"
    assert StudentIds(r"lab1_(?P<student>\w+)\.ipynb")("lab1_bob.ipynb") == "bob"
    with pytest.raises(ValueError, match=r"\(\?P<student>"):
        StudentIds(r"(\w+)")


def test_id_mapping_csv(tmp_path):
    mapping = tmp_path / "ids.csv"
    mapping.write_text("file,student_id\nlab1 (3).ipynb,s42\n")
    assert StudentIds(mapping_csv=mapping)("lab1 (3).ipynb") == "s42"
    assert StudentIds(mapping_csv=mapping)("unknown.ipynb") is None
    mapping.write_text("name,id\n")
    with pytest.raises(ValueError, match="file,student_id"):
        StudentIds(mapping_csv=mapping)


def test_bad_files_get_a_clear_status(tmp_path):
    (tmp_path / "ann_empty.ipynb").write_bytes(b"")
    (tmp_path / "ben_junk.ipynb").write_text("this is not json")
    (tmp_path / "cat_truncated.ipynb").write_text('{"cells": [')
    (tmp_path / "dan_script.py").write_text("print(1)")
    (tmp_path / "eve_essay.docx").write_bytes(b"PK..")
    (tmp_path / "fay_good.ipynb").write_bytes(notebook_bytes())
    rows = by_file(collect(tmp_path))
    assert {rows[name].status for name in rows if name != "fay_good.ipynb"} == {Status.NOT_GRADED}
    assert rows["ann_empty.ipynb"].reason.startswith("empty file")
    assert rows["ben_junk.ipynb"].reason.startswith("not a notebook (not JSON)")
    assert rows["cat_truncated.ipynb"].reason.startswith("not a readable notebook")
    assert "submit the .ipynb" in rows["dan_script.py"].reason
    assert "submit the .ipynb" in rows["eve_essay.docx"].reason
    assert rows["fay_good.ipynb"].status == Status.GRADABLE and rows["fay_good.ipynb"].student_id == "fay"


def test_old_notebook_format_is_converted(tmp_path):
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {"cells": [{"cell_type": "code", "input": "y = 2", "language": "python", "outputs": [], "metadata": {}}]}
        ],
    }
    (tmp_path / "gil_old.ipynb").write_text(json.dumps(v3))
    [row] = collect(tmp_path)
    assert row.status == Status.GRADABLE and row.notebook["cells"][0]["source"] == "y = 2"
    assert row.notes == ["converted from notebook format 3 to 4"]


def test_zips_are_unpacked(tmp_path):
    with zipfile.ZipFile(tmp_path / "jon.zip", "w") as z:
        z.writestr("lab1_rnns_from_scratch.ipynb", notebook_bytes())
        z.writestr("__MACOSX/._lab1_rnns_from_scratch.ipynb", b"junk")
    (tmp_path / "kim_broken.zip").write_bytes(b"not a zip")
    rows = by_file(collect(tmp_path))
    assert rows["jon.zip/lab1_rnns_from_scratch.ipynb"].student_id == "jon"
    assert rows["jon.zip/lab1_rnns_from_scratch.ipynb"].status == Status.GRADABLE
    assert "damaged .zip" in rows["kim_broken.zip"].reason
    assert len(rows) == 2


def test_a_class_download_is_read_with_class_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "class_download.zip", "w") as z:
        z.writestr("hal_lab1.ipynb", notebook_bytes())
        z.writestr("ivy_lab1.ipynb", notebook_bytes())
        z.writestr("__MACOSX/._hal_lab1.ipynb", b"junk")
    for rows in (by_file(collect(tmp_path, class_zip=True)), by_file(collect(tmp_path, StudentIds(class_zip=True)))):
        assert rows["class_download.zip/hal_lab1.ipynb"].student_id == "hal"
        assert rows["class_download.zip/ivy_lab1.ipynb"].student_id == "ivy"
        assert {row.status for row in rows.values()} == {Status.GRADABLE} and len(rows) == 2
        assert all(row.notes == [] for row in rows.values())


def test_two_files_for_one_student_grade_the_newest(tmp_path):
    for name, mtime in (("lee_lab1.ipynb", 1_000), ("lee_lab1 (1).ipynb", 2_000)):
        (tmp_path / name).write_bytes(notebook_bytes())
        os.utime(tmp_path / name, (mtime, mtime))
    rows = by_file(collect(tmp_path))
    assert rows["lee_lab1 (1).ipynb"].status == Status.GRADABLE
    assert rows["lee_lab1.ipynb"].status == Status.SUPERSEDED
    assert rows["lee_lab1.ipynb"].reason == "superseded by the newer file lee_lab1 (1).ipynb"
    assert "also submitted lee_lab1.ipynb" in rows["lee_lab1 (1).ipynb"].notes[0]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder of submissions"):
        collect(tmp_path / "nope")


def notebook_dict():
    """A valid notebook as it lies on disk: a markdown cell and a code cell with an output."""
    cells = [
        new_markdown_cell("# Lab 1"),
        new_code_cell("x = 1\ny = 2", execution_count=1, outputs=[new_output("stream", name="stdout", text="hi\n")]),
    ]
    return json.loads(nbformat.writes(new_notebook(cells=cells)))


def pop_all(key):
    return lambda nb: [cell.pop(key) for cell in nb["cells"]]


BROKEN = {
    "cells without source": (pop_all("source"), "repaired: 2 cells without source"),
    "a code cell without outputs": (lambda nb: nb["cells"][1].pop("outputs"), "repaired: 1 code cell without outputs"),
    "source as a list with non-text": (
        lambda nb: nb["cells"][1].update(source=["x = 1\n", 2]),
        "repaired: 1 cell whose source was not text",
    ),
    "cells without metadata": (pop_all("metadata"), "repaired: 2 cells without metadata"),
    "a cell without an id": (lambda nb: nb["cells"][0].pop("id"), "repaired: 1 cell without a valid id"),
    "an unknown cell type": (
        lambda nb: nb["cells"][0].update(cell_type="heading"),
        "repaired: 1 cell of unknown type (kept as raw text, not run)",
    ),
    "outputs of the wrong shape": (
        lambda nb: nb["cells"][1].update(outputs=[{"output_type": "stream"}]),
        "repaired: 1 code cell with malformed outputs (dropped)",
    ),
    "outputs not a list": (
        lambda nb: nb["cells"][1].update(outputs={"text": "hi"}),
        "repaired: 1 code cell with malformed outputs (dropped)",
    ),
    "a code cell without execution_count": (
        lambda nb: nb["cells"][1].pop("execution_count"),
        "repaired: 1 code cell without a valid execution_count",
    ),
    "a markdown cell with outputs": (
        lambda nb: nb["cells"][0].update(outputs=[]),
        "repaired: 1 cell with unexpected fields (removed)",
    ),
    "a kernelspec without a name": (
        lambda nb: nb["metadata"].update(kernelspec={"display_name": "Python 3"}),
        "repaired: 1 metadata field that broke the schema (removed)",
    ),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_notebooks_that_break_the_schema_are_repaired_and_graded(tmp_path, kind):
    break_it, note = BROKEN[kind]
    notebook = notebook_dict()
    break_it(notebook)
    (tmp_path / "mia_lab1.ipynb").write_text(json.dumps(notebook))
    [row] = collect(tmp_path)
    assert row.status == Status.GRADABLE and row.notes == [note]
    nbformat.validate(row.notebook)
    assert row.notebook.cells[-1].source in ("x = 1\ny = 2", "x = 1\n2", "")


def test_of_duplicate_cell_ids_the_last_cell_keeps_the_id(tmp_path):
    """As the rebuild takes the last of two copies of an answer cell; nbformat would rename the last."""
    notebook = notebook_dict()
    notebook["cells"].append(dict(notebook["cells"][1], source="x = 3"))
    (tmp_path / "ned_lab1.ipynb").write_text(json.dumps(notebook))
    [row] = collect(tmp_path)
    assert row.status == Status.GRADABLE and row.notes == ["repaired: 1 duplicate cell id"]
    ids = [cell.id for cell in row.notebook.cells]
    assert ids[2] == notebook["cells"][1]["id"] and ids[1] != ids[2]


@pytest.mark.parametrize(
    "break_it, error",
    [
        (lambda nb: nb.pop("cells"), "it has no list of cells"),
        (lambda nb: nb["cells"][0].update(attachments=5), "cells[0].attachments: 5 is not of type 'object'"),
    ],
    ids=["no cells", "attachments not an object"],
)
def test_notebooks_beyond_repair_get_a_clear_status(tmp_path, break_it, error):
    notebook = notebook_dict()
    break_it(notebook)
    (tmp_path / "oli_lab1.ipynb").write_text(json.dumps(notebook))
    [row] = collect(tmp_path)
    assert row.reason == f"not a valid notebook: {error}; ask the student to download the .ipynb again"


def test_an_error_inside_intake_costs_only_that_files_row(tmp_path, monkeypatch):
    for name in ("pam_lab1.ipynb", "quin_lab1.ipynb", "rex_lab1.ipynb"):
        (tmp_path / name).write_bytes(notebook_bytes())
    with zipfile.ZipFile(tmp_path / "class.zip", "w") as z:
        z.writestr("sam_lab1.ipynb", notebook_bytes())
        z.writestr("tom_lab1.ipynb", notebook_bytes())
    parse, read_bytes = autograde.grading.intake.read_notebook, Path.read_bytes

    def flaky_parse(data, name):
        if name.endswith(("quin_lab1.ipynb", "tom_lab1.ipynb")):
            raise RuntimeError("the parser broke\nsecond line")
        return parse(data, name)

    def locked(path):
        if path.name == "rex_lab1.ipynb":
            raise PermissionError(13, "Permission denied")
        return read_bytes(path)

    monkeypatch.setattr(autograde.grading.intake, "read_notebook", flaky_parse)
    monkeypatch.setattr(Path, "read_bytes", locked)
    rows = by_file(collect(tmp_path, class_zip=True))
    # The status is the grader's error, the one the report files as such; what went wrong is in the notes.
    for name, error in [
        ("quin_lab1.ipynb", "RuntimeError: the parser broke"),
        ("class.zip/tom_lab1.ipynb", "RuntimeError: the parser broke"),
        ("rex_lab1.ipynb", "PermissionError: [Errno 13] Permission denied"),
    ]:
        assert rows[name].status == Status.GRADER_ERROR and rows[name].reason == "", name
        assert rows[name].notes[-1] == f"grader error while reading the file: {error}", name
    assert rows["rex_lab1.ipynb"].student_id == "rex"
    assert (
        rows["pam_lab1.ipynb"].status == rows["class.zip/sam_lab1.ipynb"].status == Status.GRADABLE and len(rows) == 5
    )


def test_a_failing_schema_repair_is_a_row_not_an_abort(tmp_path, monkeypatch):
    def broken_repair(notebook):
        raise KeyError("cells")

    monkeypatch.setattr(autograde.grading.intake, "_repair", broken_repair)
    notebook = notebook_dict()
    notebook["cells"][0].pop("source")
    (tmp_path / "uma_lab1.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "vic_lab1.ipynb").write_bytes(notebook_bytes())
    rows = by_file(collect(tmp_path))
    assert rows["uma_lab1.ipynb"].status == Status.GRADER_ERROR
    assert rows["uma_lab1.ipynb"].notes == ["grader error while reading the file: KeyError: 'cells'"]
    assert rows["vic_lab1.ipynb"].status == Status.GRADABLE


def write_zip(path, members):
    """A zip whose members carry the given dates: ``{name: (year, month, day, hour, minute, second)}``."""
    with zipfile.ZipFile(path, "w") as z:
        for name, date_time in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=date_time), notebook_bytes())


def local_time(date_time):
    return datetime.datetime(*date_time).timestamp()  # as zipfile's dates are read: local time


def test_a_students_zip_cannot_replace_another_students_work(tmp_path):
    """Mallory's zip holds her notebook and a stub named for Bob, dated 2099: Bob's own file is graded."""
    (tmp_path / "bob_lab1.ipynb").write_bytes(notebook_bytes("x = 'bob'"))
    write_zip(
        tmp_path / "mallory_lab1.zip",
        {"mallory_lab1.ipynb": (2024, 1, 1, 0, 0, 0), "bob_lab1.ipynb": (2099, 1, 1, 0, 0, 0)},
    )
    rows = by_file(collect(tmp_path))
    assert rows["bob_lab1.ipynb"].status == Status.GRADABLE and rows["bob_lab1.ipynb"].notes == []
    assert rows["mallory_lab1.zip/mallory_lab1.ipynb"].status == Status.GRADABLE
    stub = rows["mallory_lab1.zip/bob_lab1.ipynb"]
    assert stub.student_id == "mallory"  # the row is Mallory's upload, not a submission in Bob's name
    assert (
        stub.reason == "superseded by the newer file mallory_lab1.zip/mallory_lab1.ipynb"
    )  # its date in 2099 wins nothing
    assert stub.notes == [NAMED_FOR_BOB.format(zip="mallory_lab1.zip", owner="mallory")]


NAMED_FOR_BOB = (
    "named for another student (bob), but inside {zip}: it counts only for {owner}, whose zip it is "
    "(a download of the whole class: --class-zip)"
)


def test_a_zip_counts_only_for_the_student_its_name_identifies(tmp_path):
    """A.zip holding B_lab1.ipynb is A's submission, with a note; B's row is B's own file, untouched."""
    (tmp_path / "bob_lab1.ipynb").write_bytes(notebook_bytes("x = 'bob'"))
    os.utime(tmp_path / "bob_lab1.ipynb", (1_000_000, 1_000_000))
    write_zip(tmp_path / "amy.zip", {"bob_lab1.ipynb": (2024, 1, 1, 0, 0, 0)})
    rows = by_file(collect(tmp_path))
    inside = rows["amy.zip/bob_lab1.ipynb"]
    assert inside.student_id == "amy" and inside.status == Status.GRADABLE
    assert inside.notes == [NAMED_FOR_BOB.format(zip="amy.zip", owner="amy")]
    assert rows["bob_lab1.ipynb"].student_id == "bob" and rows["bob_lab1.ipynb"].status == Status.GRADABLE
    assert rows["bob_lab1.ipynb"].notes == []


def test_with_class_zip_a_members_name_says_whose_it_is(tmp_path):
    (tmp_path / "bob_lab1.ipynb").write_bytes(notebook_bytes("x = 'bob'"))
    os.utime(tmp_path / "bob_lab1.ipynb", (1_000_000, 1_000_000))
    write_zip(tmp_path / "amy.zip", {"bob_lab1.ipynb": (2024, 1, 1, 0, 0, 0)})
    rows = by_file(collect(tmp_path, class_zip=True))
    assert (
        rows["amy.zip/bob_lab1.ipynb"].student_id == "bob" and rows["amy.zip/bob_lab1.ipynb"].status == Status.GRADABLE
    )
    assert rows["bob_lab1.ipynb"].reason == "superseded by the newer file amy.zip/bob_lab1.ipynb"


def test_a_zip_of_several_notebooks_grades_its_newest_for_its_owner(tmp_path):
    write_zip(
        tmp_path / "submissions.zip", {"bob_lab1.ipynb": (2024, 1, 2, 0, 0, 0), "eve_lab1.ipynb": (2024, 1, 1, 0, 0, 0)}
    )
    rows = by_file(collect(tmp_path))
    bob, eve = rows["submissions.zip/bob_lab1.ipynb"], rows["submissions.zip/eve_lab1.ipynb"]
    assert bob.student_id == eve.student_id == "submissions"
    assert bob.status == Status.GRADABLE and eve.reason == "superseded by the newer file submissions.zip/bob_lab1.ipynb"
    assert "also submitted submissions.zip/eve_lab1.ipynb (older, not graded)" in bob.notes
    assert NAMED_FOR_BOB.format(zip="submissions.zip", owner="submissions") in bob.notes


def test_a_zip_whose_name_has_no_id_says_what_to_do(tmp_path):
    write_zip(tmp_path / "(1).zip", {"bob_lab1.ipynb": (2024, 1, 1, 0, 0, 0)})
    [row] = collect(tmp_path)
    assert row.student_id is None and row.reason.startswith("no student id in the zip's name")
    assert "--class-zip" in row.reason and "the student the zip names" in row.notes[0]


def test_a_zip_date_in_the_future_does_not_beat_a_loose_file(tmp_path):
    (tmp_path / "cy_lab1.ipynb").write_bytes(notebook_bytes())
    os.utime(tmp_path / "cy_lab1.ipynb", (1_000_000, 1_000_000))
    write_zip(tmp_path / "class.zip", {"cy_lab1.ipynb": (2099, 1, 1, 0, 0, 0), "dee_lab1.ipynb": (2024, 1, 1, 0, 0, 0)})
    rows = by_file(collect(tmp_path, class_zip=True))
    assert rows["cy_lab1.ipynb"].status == Status.GRADABLE
    assert rows["class.zip/cy_lab1.ipynb"].reason == "superseded by the newer file cy_lab1.ipynb"
    assert any("files from several sources (class.zip, cy_lab1.ipynb)" in note for note in rows["cy_lab1.ipynb"].notes)


def test_a_loose_file_wins_a_tie_with_a_zip_member(tmp_path):
    date = (2024, 3, 4, 5, 6, 8)
    (tmp_path / "cy_lab1.ipynb").write_bytes(notebook_bytes())
    os.utime(tmp_path / "cy_lab1.ipynb", (local_time(date), local_time(date)))
    write_zip(
        tmp_path / "week9.zip", {"cy_lab1.ipynb": date, "dee_lab1.ipynb": date}
    )  # "week9.zip/..." sorts after the loose name
    rows = by_file(collect(tmp_path, class_zip=True))
    assert rows["cy_lab1.ipynb"].status == Status.GRADABLE
    assert rows["week9.zip/cy_lab1.ipynb"].reason == "superseded by the newer file cy_lab1.ipynb"


def test_files_of_one_student_from_two_zips_are_named_in_a_note(tmp_path):
    write_zip(
        tmp_path / "week1.zip", {"eli_lab1.ipynb": (2024, 1, 1, 0, 0, 0), "fay_lab1.ipynb": (2024, 1, 1, 0, 0, 0)}
    )
    write_zip(
        tmp_path / "week2.zip", {"eli_lab1.ipynb": (2024, 2, 1, 0, 0, 0), "gus_lab1.ipynb": (2024, 2, 1, 0, 0, 0)}
    )
    rows = by_file(collect(tmp_path, class_zip=True))
    assert rows["week2.zip/eli_lab1.ipynb"].status == Status.GRADABLE  # the newest still wins
    assert rows["week1.zip/eli_lab1.ipynb"].reason == "superseded by the newer file week2.zip/eli_lab1.ipynb"
    assert any(
        "files from several sources (week1.zip, week2.zip)" in note for note in rows["week2.zip/eli_lab1.ipynb"].notes
    )
    assert rows["week2.zip/gus_lab1.ipynb"].notes == []  # one source: no note


def test_an_archive_with_too_many_members_is_one_row(tmp_path):
    with zipfile.ZipFile(tmp_path / "amy.zip", "w") as z:
        for i in range(2_000):
            z.writestr(f"amy_lab1 ({i}).ipynb", b"{}")
    (tmp_path / "bob_lab1.ipynb").write_bytes(notebook_bytes())
    rows = by_file(collect(tmp_path))
    assert len(rows) == 2 and rows["bob_lab1.ipynb"].status == Status.GRADABLE  # the run goes on
    assert rows["amy.zip"].student_id == "amy"
    assert rows["amy.zip"].reason.startswith(
        "archive has 2,000 members, more than the 200 allowed: not unpacked; ask the student for the .ipynb alone"
    )
    # A zip whose end record claims 5 members is still judged by the members its directory holds.
    data = bytearray((tmp_path / "amy.zip").read_bytes())
    end = data.rindex(b"PK\x05\x06")
    data[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2
    (tmp_path / "amy.zip").write_bytes(bytes(data))
    assert by_file(collect(tmp_path))["amy.zip"].reason.startswith(
        "archive has 2,000 members, more than the 200 allowed"
    )


def test_an_archive_over_its_size_limits_is_not_read(tmp_path):
    with zipfile.ZipFile(tmp_path / "amy.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("amy_lab1.ipynb", notebook_bytes("x = 1" + " " * 300_000))
        z.writestr("amy_lab1 (1).ipynb", notebook_bytes("x = 2"))
    rows = by_file(collect(tmp_path, archive_limits=autograde.grading.intake.ArchiveLimits(member_bytes=200_000)))
    assert rows["amy.zip/amy_lab1.ipynb"].reason == (
        "0.3 MB unpacked, more than the 0.2 MB allowed for one file in a zip: not read; ask for the .ipynb itself"
    )
    assert rows["amy.zip/amy_lab1 (1).ipynb"].status == Status.GRADABLE  # the other member is still read
    [row] = collect(tmp_path, archive_limits=autograde.grading.intake.ArchiveLimits(total_bytes=250_000))
    assert row.file == "amy.zip" and row.reason.startswith(
        "archive unpacks to 0.3 MB, more than the 0.2 MB allowed: not unpacked"
    )


def patch_declared_size(path, member, size):
    """Makes the zip at ``path`` declare ``size`` bytes for ``member``, in its local header and its directory."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        while data[at + (30 if signature == b"PK\x03\x04" else 46) :][: len(name)] != name:
            at = data.index(signature, at + 1)
        data[at + offset : at + offset + 4] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_a_member_larger_than_it_declares_is_refused(tmp_path):
    """A zip bomb's trick: a small declared size, 10 MB when inflated. Nothing past the declared size is read."""
    path = tmp_path / "amy.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("amy_lab1.ipynb", b" " * 10_000_000)
        z.writestr("amy_lab1 (1).ipynb", notebook_bytes())
    patch_declared_size(path, "amy_lab1.ipynb", 1_000)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("amy_lab1.ipynb").file_size == 1_000
    rows = by_file(collect(tmp_path))
    assert rows["amy.zip/amy_lab1.ipynb"].reason.startswith(
        "damaged or tampered inside the .zip (its size or checksum is not what the zip declares"
    )
    assert rows["amy.zip/amy_lab1 (1).ipynb"].status == Status.GRADABLE


def test_zips_inside_zips_and_unusual_compression_are_not_read(tmp_path):
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("bob_lab1.ipynb", notebook_bytes())
    with zipfile.ZipFile(tmp_path / "amy.zip", "w") as z:
        z.write(inner, "bob.zip")
        z.writestr("amy_lab1.ipynb", notebook_bytes(), compress_type=zipfile.ZIP_BZIP2)
    inner.unlink()
    rows = by_file(collect(tmp_path))
    assert (
        rows["amy.zip/bob.zip"].reason
        == "a .zip inside the .zip: zips inside zips are not unpacked; ask for the .ipynb itself"
    )
    assert rows["amy.zip/bob.zip"].student_id == "amy"
    assert rows["amy.zip/amy_lab1.ipynb"].reason.startswith("compressed with zip method 12, which is not read")


HOSTILE = "\x1b[31m\u202e\u200b\n"


def test_names_with_control_characters_are_shown_escaped(tmp_path):
    (tmp_path / f"amy{HOSTILE}_lab1.ipynb").write_bytes(notebook_bytes())
    (tmp_path / f"{HOSTILE}cat.ipynb").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / f"bob{HOSTILE}.zip", "w") as z:
        z.writestr(f"dan{HOSTILE}_lab1.ipynb", notebook_bytes())
        z.writestr(f"x{HOSTILE}.py", b"print(1)")
    rows = collect(tmp_path)
    escaped = "\\x1b[31m\\u202e\\u200b\\n"
    assert {row.file for row in rows} == {
        f"amy{escaped}_lab1.ipynb",
        f"{escaped}cat.ipynb",
        f"bob{escaped}.zip/dan{escaped}_lab1.ipynb",
        f"bob{escaped}.zip/x{escaped}.py",
    }
    for row in rows:  # every field a row, a note or the console shows
        for text in (row.file, row.source, row.reason, row.student_id or "", *row.notes):
            assert text.isascii() and text.isprintable(), text
    by_name = by_file(rows)
    assert by_name[f"amy{escaped}_lab1.ipynb"].student_id == "amy"
    assert by_name[f"{escaped}cat.ipynb"].student_id is None  # the default pattern takes no id from such a name
    member = by_name[f"bob{escaped}.zip/dan{escaped}_lab1.ipynb"]
    assert member.student_id == "bob" and member.source == f"bob{escaped}.zip"
    assert member.notes == [
        f"named for another student (dan), but inside bob{escaped}.zip: it counts only for bob, "
        "whose zip it is (a download of the whole class: --class-zip)"
    ]


def test_an_id_with_control_characters_is_rejected(tmp_path):
    (tmp_path / f"e{HOSTILE}ve_lab1.ipynb").write_bytes(notebook_bytes())
    (tmp_path / "fay_lab1.ipynb").write_bytes(notebook_bytes())
    rows = by_file(collect(tmp_path, StudentIds(r"^(?P<student>[^_]+)")))
    row = rows["e\\x1b[31m\\u202e\\u200b\\nve_lab1.ipynb"]
    assert row.student_id is None and row.reason.startswith("no student id in the file name")
    assert row.notes == [
        "the student id read from the name, e\\x1b[31m\\u202e\\u200b\\nve, has control or invisible "
        "characters: rejected (rename the file, or map it to an id with --ids)"
    ]
    assert rows["fay_lab1.ipynb"].student_id == "fay"


def test_shown_escapes_only_what_hides():
    assert autograde.grading.intake.shown("José Núñez_lab1 (1).ipynb") == "José Núñez_lab1 (1).ipynb"
    assert autograde.grading.intake.shown("a\tb\u2066c\ufeffd\udc80") == "a\\tb\\u2066c\\ufeffd\\udc80"


@pytest.mark.parametrize(
    "source", ["\n" * 500_000, " " * 1_000_000, ["x = 1\n"] * 5_000], ids=["newlines", "spaces", "5,000 lines"]
)
def test_a_megabyte_notebook_gets_its_row_quickly(tmp_path, source):
    notebook = notebook_dict()
    notebook["cells"][1]["source"] = source
    (tmp_path / "amy_lab1.ipynb").write_text(json.dumps(notebook))
    many = notebook_dict()
    many["cells"] = [dict(many["cells"][1], id=f"c{i}") for i in range(5_000)]
    (tmp_path / "bob_lab1.ipynb").write_text(json.dumps(many))
    started = time.monotonic()
    rows = by_file(collect(tmp_path))
    assert time.monotonic() - started < 10
    assert rows["amy_lab1.ipynb"].status == rows["bob_lab1.ipynb"].status == Status.GRADABLE
    assert len(rows["bob_lab1.ipynb"].notebook.cells) == 5_000
