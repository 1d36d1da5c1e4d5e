"""The report workbook: xlsxwriter's frame with the data rows written by xlform.xlsx_rows, read back
by calamine, openpyxl and a real LibreOffice exactly as the tables hold them."""

from __future__ import annotations

import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from tests.lo import require_soffice, resave
from xlform.report.files import write_xlsx
from xlform.report.result import Column, Table

# What a clerk can type, and what xlsxwriter alone would have written as raw XML (the first).
INJECTION = '<r><t>a</t></r></is></c><c r="ZZ9"><f>HYPERLINK("http://x","y")</f><v>1</v></c><c t="inlineStr"><is><r><t>b</t></r>'
TEXTS = [INJECTION, "a\x01b", " 前导空格", "末尾空格 ", "_x0041_", "😀中文", "=1+1", "a\r\nb\tc", "长" * 40000, "&<>\"'"]
COLUMNS = [Column("文本", "t"), Column("金额", "m", "money", total=True), Column("整数", "i", "int", total=True),
           Column("数值", "n", "number"), Column("日期", "d", "date"), Column("时间", "dt", "datetime"),
           Column("状态", "s")]
N = 4500  # more than two chunks of rows


def _rows() -> list[list[Any]]:
    rows: list[list[Any]] = []
    for i in range(N):
        text = TEXTS[i] if i < len(TEXTS) else f"第{i}行"
        rows.append([text, i * 1.25, i, 0.1 * i if i % 7 else None, date(2020, 1, 1 + i % 28),
                     datetime(2020, 5, 6, 7, 8, 9) if i % 2 else None, "通过" if i % 3 else "需修改"])
    rows.append(["无法换算", float("inf"), None, float("nan"), date(1899, 1, 1), "不是时间", ""])
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[Any]]]:
    rows = _rows()
    path = tmp_path_factory.mktemp("report") / "汇总.xlsx"
    small = Table("小表", "small", [Column("部门", "d")], [["区民政局"]])
    write_xlsx([small, Table("明细", "detail", COLUMNS, rows, totals=True, status_col=6)], path, "元")
    return path, rows


def _expected_text(value: str) -> str:
    return value[:32767] if len(value) > 32767 else value


def test_every_value_reads_back_in_calamine(report: tuple[Path, list[list[Any]]]) -> None:
    path, rows = report
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("明细").to_python(skip_empty_area=False)
    assert grid[0] == [c.header for c in COLUMNS]
    body, totals = grid[1:-1], grid[-1]
    assert len(body) == len(rows) and totals[0] == "合计"
    for got, want in zip(body, rows, strict=True):
        assert got[0] == _expected_text(want[0])
        assert got[1] == want[1] or (str(want[1]) == got[1] == "inf")  # ∞ kept as text, not dropped
        assert got[2] == ("" if want[2] is None else want[2])
        assert got[3] == ("" if want[3] is None else want[3]) or str(want[3]) == got[3] == "nan"
        assert got[4] == (want[4] if want[4].year >= 1900 else want[4].isoformat())
        assert got[5] == ("" if want[5] is None else want[5])  # a text in a datetime column stays that text
        assert got[6] == want[6]


def test_styles_filter_totals_and_no_injected_cell(report: tuple[Path, list[list[Any]]]) -> None:
    path, rows = report
    ws = openpyxl.load_workbook(path)["明细"]
    last = len(rows) + 2  # header, rows, totals
    assert ws.dimensions == f"A1:G{last}"
    assert ws.auto_filter.ref == f"A1:G{len(rows) + 1}" and ws.freeze_panes == "A2"
    assert ws["A2"].value == INJECTION and ws["A2"].data_type == "s"
    assert ws["ZZ9"].value is None
    assert (ws["B3"].number_format, ws["C3"].number_format, ws["E3"].number_format) == ("#,##0.00", "0", "yyyy-mm-dd")
    assert ws["F3"].number_format == "yyyy-mm-dd hh:mm" and ws["F3"].value == datetime(2020, 5, 6, 7, 8, 9)
    assert ws["A3"].font.name == "宋体" and ws["A1"].font.b
    assert ws[f"B{last}"].value == f"=SUBTOTAL(109,B2:B{last - 1})"
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet2.xml").decode()
        assert zf.testzip() is None
    assert re.findall(r"<f>([^<]*)</f>", xml) == [f"SUBTOTAL(109,B2:B{last - 1})", f"SUBTOTAL(109,C2:C{last - 1})"]
    assert "<hyperlink" not in xml and "ZZ9" not in xml.replace(INJECTION.replace("<", "&lt;").replace(">", "&gt;"), "")


def test_libreoffice_opens_the_report(report: tuple[Path, list[list[Any]]], tmp_path: Path) -> None:
    require_soffice()
    path, rows = report
    grid = CalamineWorkbook.from_path(str(resave(path, tmp_path))).get_sheet_by_name("明细").to_python()
    assert len(grid) == len(rows) + 2
    assert [r[0] for r in grid[1:-1]][10:] == [r[0] for r in rows][10:]
    assert grid[1][0] == INJECTION and grid[6][0] == "😀中文" and grid[7][0] == "=1+1"
    assert [r[1] for r in grid[1:N + 1]] == [r[1] for r in rows[:N]]
    assert grid[-1][1] == pytest.approx(sum(r[1] for r in rows[:N]))  # the 合计 (∞ left out)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, derandomize=not os.environ.get("XLFORM_FUZZ_RANDOM"), database=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=5))
def test_any_text_is_well_formed_and_reads_back_as_itself(tmp_path_factory: pytest.TempPathFactory,
                                                          texts: list[str]) -> None:
    path = tmp_path_factory.mktemp("any") / "r.xlsx"
    write_xlsx([Table("表", "t", [Column("文本", "t")], [[t] for t in texts])], path, "元")
    with zipfile.ZipFile(path) as zf:
        ElementTree.fromstring(zf.read("xl/worksheets/sheet1.xml"))  # well-formed XML, whatever was typed
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("表").to_python(skip_empty_area=False)
    assert [row[0] for row in grid[1:]] == texts


def test_sheets_written_side_by_side_are_the_sheets_written_one_by_one(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A large report's sheets are written in forked processes (Linux): part for part the same bytes."""
    import concurrent.futures
    from concurrent.futures.process import ProcessPoolExecutor

    from xlform.ooxml import rows as ooxml_rows

    monkeypatch.setattr(ooxml_rows, "PARALLEL_ROWS", N)  # this report counts as large
    pools = []

    class Counted(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Counted)
    tables = [Table("明细", "detail", COLUMNS, _rows(), totals=True, status_col=6),
              Table("又一张", "more", COLUMNS, _rows()[:N // 2], totals=True)]
    parts = {}
    for jobs in (1, 2):
        path = tmp_path / f"{jobs}.xlsx"
        write_xlsx(tables, path, "元", jobs=jobs)
        with zipfile.ZipFile(path) as z:
            parts[jobs] = {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}
    assert pools == [1]  # jobs=2: one sheet written in a forked process beside this one; jobs=1: all here
    assert len(parts[1]) == 2 and parts[1] == parts[2]
    assert b"\xe7\xac\xac4499\xe8\xa1\x8c" in parts[2]["xl/worksheets/sheet1.xml"]  # 第4499行: the rows are there
