"""Every file in a submissions folder becomes a row: ids from names, zips unpacked, bad files explained."""
import json
import os
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograde.intake import GRADABLE, StudentIds, collect


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
    assert rows["ann_empty.ipynb"].status.startswith("empty file")
    assert rows["ben_junk.ipynb"].status.startswith("not a notebook (not JSON)")
    assert rows["cat_truncated.ipynb"].status.startswith("not a readable notebook")
    assert "submit the .ipynb" in rows["dan_script.py"].status
    assert "submit the .ipynb" in rows["eve_essay.docx"].status
    assert rows["fay_good.ipynb"].status == GRADABLE and rows["fay_good.ipynb"].student_id == "fay"


def test_old_notebook_format_is_converted(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "y = 2", "language": "python", "outputs": [], "metadata": {}}]}]}
    (tmp_path / "gil_old.ipynb").write_text(json.dumps(v3))
    [row] = collect(tmp_path)
    assert row.status == GRADABLE and row.notebook["cells"][0]["source"] == "y = 2"
    assert row.notes == ["converted from notebook format 3 to 4"]


def test_zips_are_unpacked(tmp_path):
    with zipfile.ZipFile(tmp_path / "class_download.zip", "w") as z:
        z.writestr("hal_lab1.ipynb", notebook_bytes())
        z.writestr("ivy_lab1.ipynb", notebook_bytes())
        z.writestr("__MACOSX/._hal_lab1.ipynb", b"junk")
    with zipfile.ZipFile(tmp_path / "jon.zip", "w") as z:
        z.writestr("lab1_rnns_from_scratch.ipynb", notebook_bytes())
    (tmp_path / "kim_broken.zip").write_bytes(b"not a zip")
    rows = by_file(collect(tmp_path))
    assert rows["class_download.zip/hal_lab1.ipynb"].student_id == "hal"
    assert rows["class_download.zip/ivy_lab1.ipynb"].status == GRADABLE
    assert rows["jon.zip/lab1_rnns_from_scratch.ipynb"].student_id == "jon"
    assert "damaged .zip" in rows["kim_broken.zip"].status
    assert len(rows) == 4


def test_two_files_for_one_student_grade_the_newest(tmp_path):
    for name, mtime in (("lee_lab1.ipynb", 1_000), ("lee_lab1 (1).ipynb", 2_000)):
        (tmp_path / name).write_bytes(notebook_bytes())
        os.utime(tmp_path / name, (mtime, mtime))
    rows = by_file(collect(tmp_path))
    assert rows["lee_lab1 (1).ipynb"].status == GRADABLE
    assert rows["lee_lab1.ipynb"].status == "superseded by the newer file lee_lab1 (1).ipynb"
    assert "also submitted lee_lab1.ipynb" in rows["lee_lab1 (1).ipynb"].notes[0]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder of submissions"):
        collect(tmp_path / "nope")
