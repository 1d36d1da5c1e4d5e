"""Reading what clerks and programs hand back: tolerant of how values are typed,
strict about structure, never shifting numbers, never touching the file.

Each test writes a real workbook, changes it with openpyxl the way a clerk's
spreadsheet program would (load, assign, save: openpyxl keeps the defined
names, the very hidden _meta sheet and the protection flags) and reads it.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.helpers import sheet_names
from xlform.form.fields import META_SHEET
from xlform.form.layout import layout_for
from xlform.form.model import Declaration, Target
from xlform.form.template import load_template
from xlform.reading.reader import read
from xlform.reading.refusals import Unreadable
from xlform.reading.workbook_xml import _defined_names
from xlform.review.rules import check

P, G, Z = sheet_names()
CJK = re.compile(r"[\u4e00-\u9fff]")


def edit(path: Path, cells: dict[tuple[str, str], Any] | None = None, formats: dict[tuple[str, str], str] | None = None,
         ) -> None:
    wb = openpyxl.load_workbook(path)
    for (sheet, address), value in (cells or {}).items():
        wb[sheet][address].value = value
    for (sheet, address), number_format in (formats or {}).items():
        wb[sheet][address].number_format = number_format
    wb.save(path)


def reader_rules(d: Declaration) -> list[tuple[str, str]]:
    return [(f.rule, f.where) for f in d.source.findings]


def test_resaved_by_openpyxl_reads_as_the_original(write, sample) -> None:
    path = write(sample)
    before = read(path)
    edit(path)
    after = read(path)
    assert after == before
    assert after.source.findings == []


# ---- values typed the way clerks type them ------------------------------------------

TOLERATED = [
    # (cell, typed value, number format or None, field path, expected value)
    ((P, "E13"), "232,124.00", None, "funding.total", Decimal("232124")),
    ((P, "E13"), "２３２１２４", None, "funding.total", Decimal("232124")),
    ((P, "E13"), " 232124 ", None, "funding.total", Decimal("232124")),
    ((P, "E13"), "￥232,124.50元", None, "funding.total", Decimal("232124.50")),
    ((P, "E13"), "232124", "@", "funding.total", Decimal("232124")),  # a number typed into a text cell
    ((P, "E16"), "", None, "funding.fiscal_superior", None),
    ((G, "H40"), "１.００", None, "costs[0].quantity", Decimal("1")),
    ((G, "E18"), "100%", None, "indicators[0].target", Target("100%", "", Decimal(100), "%")),
    ((G, "E18"), "１００％", None, "indicators[0].target", Target("１００％", "", Decimal(100), "%")),
    ((G, "E18"), 1.0, "0%", "indicators[0].target", Target("100%", "", Decimal(100), "%")),
    ((G, "E18"), 0.955, "0.0%", "indicators[0].target", Target("95.5%", "", Decimal("95.5"), "%")),
    ((G, "E18"), 1, "0%", "indicators[0].target", Target("100%", "", Decimal(100), "%")),
    ((G, "E18"), " ≥ 95 % ", None, "indicators[0].target", Target("≥ 95 %", "≥", Decimal(95), "%")),
    ((P, "C8"), 43831, "General", "project.start_date", date(2020, 1, 1)),  # a date serial shown as a number
    ((P, "C8"), 43831, "yyyy-mm-dd", "project.start_date", date(2020, 1, 1)),
    ((P, "C8"), 43831.75, "General", "project.start_date", date(2020, 1, 1)),  # with a time of day
    ((P, "C8"), "2020/1/1", None, "project.start_date", date(2020, 1, 1)),
    ((P, "C8"), "2020年1月1日", None, "project.start_date", date(2020, 1, 1)),
    ((P, "C8"), " 2020 年 1 月 1 日 ", None, "project.start_date", date(2020, 1, 1)),
    ((P, "C8"), "2020.01.01", None, "project.start_date", date(2020, 1, 1)),
    ((P, "C8"), "２０２０－０１－０１", None, "project.start_date", date(2020, 1, 1)),
    ((P, "E7"), 24033138, "General", "project.phone", "24033138"),  # phone typed as a number
    ((P, "C4"), "  会议系统  ", None, "project.name", "会议系统"),
    ((P, "C4"), "\u3000会议系统\u200b", None, "project.name", "会议系统"),
    ((Z, "D7"), "√", None, "guarantees[0].planning", True),
    ((Z, "D7"), "", None, "guarantees[0].planning", False),
    ((Z, "D7"), " ✔ ", None, "guarantees[0].planning", True),
]


def _get(d: Declaration, path: str) -> Any:
    obj: Any = d
    for part in path.split("."):
        m = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        obj = getattr(obj, m[1])[int(m[2])] if m else getattr(obj, part)
    return obj


@pytest.mark.parametrize(("where", "typed", "number_format", "path", "expected"), TOLERATED,
                         ids=[f"{c[0][1]}={c[1]!r}" for c in TOLERATED])
def test_values_typed_as_clerks_type_them(write, sample, where, typed, number_format, path, expected) -> None:
    file = write(sample)
    edit(file, {where: typed}, {where: number_format} if number_format else None)
    d = read(file)
    assert d.source.findings == []
    value = _get(d, path)
    assert value == expected
    assert type(value) is type(expected)


def test_wrongly_typed_value_is_a_finding_not_a_guess(write, sample) -> None:
    file = write(sample)
    edit(file, {(P, "E14"): "二十三万", (P, "E8"): "明年", (G, "H40"): "一批", (Z, "E8"): "部分"})
    d = read(file)
    assert reader_rules(d) == [  # in reading order
        ("kind.date", f"{P}!E8"),
        ("kind.money", f"{P}!E14"),
        ("kind.number", f"{G}!H40"),
        ("kind.tick", f"{Z}!E8"),
    ]
    assert d.funding.current_year is None and d.project.end_date is None and d.costs[0].quantity is None
    assert d.guarantees[1].implementation is False
    assert all(CJK.search(f.message) for f in d.source.findings)
    assert d.source.findings[1].value == "二十三万"


def test_empty_rows_between_filled_ones(write, sample) -> None:
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    ws = wb[G]
    rows = [18, 21, 25, 30, 37]  # 37 is the table's last row
    values = [[ws.cell(row=18 + i, column=c).value for c in range(2, 7)] for i in range(5)]
    for r in range(18, 38):
        for c in range(2, 7):
            ws.cell(row=r, column=c).value = None
    for r, row_values in zip(rows, values, strict=True):
        for c, v in enumerate(row_values, start=2):
            ws.cell(row=r, column=c).value = v
    ws.cell(row=41, column=2).value = None  # nothing in an empty cost row either
    wb.save(file)
    d = read(file)
    assert d.source.findings == []
    assert d.indicators == sample.indicators
    assert [i.row for i in d.indicators] == rows
    fifth = next(f for f in check(d) if f.rule == "goal.target_mismatch")
    assert f"{G}!E37" in fifth.message  # findings follow the row each indicator was read from


def _shift_name(text: str, at: int, by: int) -> str:
    """Row numbers at or below `at` in a reference move down by `by`, as Excel does on insert."""
    return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + by if int(m[1]) >= at else int(m[1])}", text)


def test_row_inserted_inside_a_table(write, sample) -> None:
    """A clerk inserts a row inside 绩效目标 (protection allows it); Excel stretches the names.

    openpyxl's insert_rows moves cells but not defined names, so the insert is done
    by hand: move the cells, re-merge the section labels, stretch the names.
    """
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    ws = wb[G]
    at = 20  # between the 2nd and 3rd indicator
    for merged in ("A17:A37", "A39:A54"):
        ws.unmerge_cells(merged)
    ws.move_range(f"A{at}:K{ws.max_row}", rows=1)
    ws.merge_cells("A17:A38")
    ws.merge_cells("A40:A55")
    for name in wb.defined_names.values():
        if name.attr_text.startswith(f"{G}!"):
            name.attr_text = _shift_name(name.attr_text, at, 1)
    for c, v in enumerate(["产出目标", "成本", "单位运维成本", "≤232124元", "合同"], start=2):
        ws.cell(row=at, column=c).value = v
    wb.save(file)
    d = read(file)
    assert d.source.findings == []
    assert [i.name for i in d.indicators] == [
        "系统运维完成率", "系统运维质量达标率", "单位运维成本", "运维完成及时性", "视频会议正常召开", "系统使用满意度"]
    assert d.indicators[2].target == Target("≤232124元", "≤", Decimal(232124), "元")
    assert [i.row for i in d.indicators] == [18, 19, 20, 21, 22, 23]
    assert d.costs == sample.costs and d.costs[0].row == 41


# ---- structure: refuse, or read only what is safe ------------------------------------


def test_label_changed_beside_a_named_cell(write, sample) -> None:
    file = write(sample)
    edit(file, {(P, "B13"): "一、项目总预算（含追加）"})
    d = read(file)
    assert reader_rules(d) == [("structure.label_mismatch", f"{P}!B13")]
    f = d.source.findings[0]
    assert f.severity == "error" and "一、项目总预算" in f.message and f.value == "一、项目总预算（含追加）"
    assert d.funding.total is None  # not read, not guessed
    assert d.funding.current_year == Decimal("232124")  # the rest is read as usual
    assert "total" not in d.source.cells


def test_rows_inserted_without_the_names_never_shift_numbers(write, sample) -> None:
    """A program inserted a row in 项目总体情况 but left the names where they were (openpyxl does that):
    every named cell below now sits beside another label. Those are reported, none is read shifted."""
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    wb[P].insert_rows(10)  # above 依据 (row 10)
    wb.save(file)
    d = read(file)
    layout = layout_for(load_template("shanghai-2020"))
    moved = [key for key, pos in layout.fields.items() if pos.row + 1 >= 10]
    assert moved and "total" in moved
    mismatched = {f.field for f in d.source.findings if f.rule == "structure.label_mismatch"}
    labels = load_template("shanghai-2020").labels
    assert mismatched == {labels[k] for k in moved}
    for key in moved:
        group = layout.fields[key].field.group
        assert getattr(getattr(d, group), key) in (None, ""), key
    assert d.project.name == sample.project.name  # above the insert: read as usual
    assert d.project.end_date == sample.project.end_date


def test_protection_removed(write, sample) -> None:
    file = write(sample)
    original = read(file)
    wb = openpyxl.load_workbook(file)
    wb[P].protection.sheet = False
    wb.save(file)
    d = read(file)
    assert [(f.rule, f.severity, f.sheet) for f in d.source.findings] == [("structure.unprotected", "warning", P)]
    assert d == original  # still read in full: values are found by name and label


@pytest.mark.parametrize("spelling", ["as written", "prefixed", "cells spelled oddly", "only inside the cells"])
def test_protection_is_looked_for_after_the_cells(tmp_path: Path, spelling: str) -> None:
    """The protection element stands after the cells (the schema's order): it is looked for from there; with a
    namespace prefix, or in a sheet whose cells are spelled otherwise (looked for through the whole part), it
    still counts. A tag among the cells is not where any program writes it: the sheet counts as unprotected."""
    from tests.hostile import corpus

    part = "xl/worksheets/sheet2.xml"  # 项目总体情况
    body = corpus.members(corpus.valid_return())[part]
    tag = re.search(rb"<sheetProtection\b[^>]*>", body)
    assert tag is not None and body.find(b"</sheetData>") < tag.start()

    def edit(b: bytes) -> bytes:
        if spelling == "prefixed":
            b = b.replace(b"<worksheet ", b'<worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ', 1)
            return b.replace(b"<sheetProtection", b"<x:sheetProtection", 1)
        if spelling == "cells spelled oddly":
            return b.replace(b"<sheetData>", b"<sheetData >", 1)
        if spelling == "only inside the cells":
            b = b.replace(tag.group(0), b"", 1)
            return b.replace(b"<sheetData>", b"<sheetData>" + tag.group(0), 1)
        return b

    file = tmp_path / "r.xlsx"
    file.write_bytes(corpus.edited({part: edit}))
    findings = [(f.rule, f.sheet) for f in read(file).source.findings]
    if spelling == "only inside the cells":
        assert findings == [("structure.unprotected", P)]
    else:
        assert findings == []


def test_name_deleted(write, sample) -> None:
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    del wb.defined_names["f_phone"]
    wb.save(file)
    d = read(file)
    assert [(f.rule, f.sheet, f.field) for f in d.source.findings] == [("structure.name_missing", P, "联系电话")]
    assert d.project.phone == ""
    assert "required.field" not in {f.rule for f in check(d) if f.field == "联系电话"}


def _add_member(path: Path, name: str, body: bytes) -> None:
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in members:
            dst.writestr(info, data)
        dst.writestr(name, body)


@pytest.mark.parametrize(("member", "rule"), [
    ("xl/vbaProject.bin", "structure.macros"),
    ("xl/externalLinks/externalLink1.xml", "structure.external_links"),
])
def test_macros_and_external_links_are_reported_not_run(write, sample, member: str, rule: str) -> None:
    file = write(sample)
    original = read(file)
    _add_member(file, member, b'<?xml version="1.0"?><externalLink/>' if member.endswith(".xml") else b"\0" * 64)
    d = read(file)
    assert [f.rule for f in d.source.findings] == [rule]
    assert d == original


def test_spreadsheet_that_is_not_ours(tmp_path: Path) -> None:
    path = tmp_path / "其他表格.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "项目名称"
    wb.active["B1"] = "会议系统"
    wb.save(path)
    with pytest.raises(Unreadable) as exc:
        read(path)
    assert CJK.search(str(exc.value)) and "不是本系统下发的申报表" in str(exc.value)


def _meta_row(wb: openpyxl.Workbook, key: str) -> int:
    ws = wb[META_SHEET]
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=1).value == key)


def test_unknown_template_version(write, sample) -> None:
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    assert wb[META_SHEET].sheet_state == "veryHidden"
    wb[META_SHEET].cell(row=_meta_row(wb, "template_version"), column=2).value = "99"
    wb.save(file)
    with pytest.raises(Unreadable) as exc:
        read(file)
    assert "版本 99" in str(exc.value) and "shanghai-2020" in str(exc.value)


def test_unknown_template(write, sample) -> None:
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    wb[META_SHEET].cell(row=_meta_row(wb, "template_id"), column=2).value = "beijing-2030"
    wb.save(file)
    with pytest.raises(Unreadable, match="未知的模板“beijing-2030”"):
        read(file)


def test_sheet_renamed(write, sample) -> None:
    file = write(sample)
    wb = openpyxl.load_workbook(file)
    wb[G].title = f"{G}（修改）"
    wb.save(file)
    with pytest.raises(Unreadable) as exc:
        read(file)
    assert G in str(exc.value) and "改名" in str(exc.value)


@pytest.mark.parametrize("template", ["shanghai-2020", "mof-2021"])
def test_reading_does_not_modify_the_file(write, sample, template: str) -> None:
    file = write(sample, template)
    before = (hashlib.sha256(file.read_bytes()).hexdigest(), file.stat().st_mtime_ns, sorted(file.parent.iterdir()))
    d = read(file)
    check(d)
    after = (hashlib.sha256(file.read_bytes()).hexdigest(), file.stat().st_mtime_ns, sorted(file.parent.iterdir()))
    assert after == before


_USUAL_NAME = b'<definedName name="a">S!$A$1</definedName>'
_ODD_NAME = b"<x:definedName name='b' >S!$B$2</x:definedName>"


@pytest.mark.parametrize("body", [
    b"<workbook><definedNames>" + _USUAL_NAME + _ODD_NAME + b"</definedNames></workbook>",
    # No wrapper: the "definedName" count alone would match one usual name plus the wrapper.
    b"<workbook>" + _USUAL_NAME + _ODD_NAME + b"</workbook>",
], ids=["wrapped", "unwrapped"])
def test_defined_names_in_an_unusual_spelling_are_all_read(body: bytes) -> None:
    assert _defined_names(body) == {"a": "S!$A$1", "b": "S!$B$2"}


def test_macros_known_by_their_relationship_under_any_name(write, sample) -> None:
    file = write(sample)
    with zipfile.ZipFile(file) as src:
        members = {info.filename: src.read(info.filename) for info in src.infolist()}
    rels = "xl/_rels/workbook.xml.rels"
    members[rels] = members[rels].replace(b"</Relationships>", b'<Relationship Id="rIdM" Type="http://schemas.'
                                          b'microsoft.com/office/2006/relationships/vbaProject" Target="code.bin"/>'
                                          b"</Relationships>")
    members["xl/code.bin"] = b"\0" * 64
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, body in members.items():
            dst.writestr(name, body)
    assert [f.rule for f in read(file).source.findings] == ["structure.macros"]


def test_ranges_named_bottom_right_first_read_the_same(write, sample) -> None:
    """Excel writes a range top-left first but reads "B20:A5" as "A5:B20"; a hand-edited file may have either."""
    file = write(sample)
    original = read(file)
    with zipfile.ZipFile(file) as src:
        members = {info.filename: src.read(info.filename) for info in src.infolist()}
    workbook, count = re.subn(rb"(\$[A-Z]+\$\d+):(\$[A-Z]+\$\d+)</definedName>", rb"\2:\1</definedName>",
                              members["xl/workbook.xml"])
    assert count >= 3  # the row tables are ranges
    members["xl/workbook.xml"] = workbook
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, body in members.items():
            dst.writestr(name, body)
    assert read(file) == original


def test_workbook_xml_read_once_per_distinct_part_and_never_shared_mutably(write) -> None:
    """Returns of a round share workbook.xml: it is read once, and each file gets its own copies."""
    from xlform.reading.package import open_package

    first, second = write(), write()
    a, b = open_package(first), open_package(second)
    assert a.names == b.names and a.names is not b.names
    a.names.clear()
    assert open_package(first).names == b.names  # clearing one file's names touched no other
