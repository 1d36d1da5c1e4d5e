"""The LibreOffice test harness itself: resave keeps protection and names, fill_cells types like a clerk."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from tests.lo import fill_cells, require_soffice, resave

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]

SHEET = "项目总体情况"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """One protected sheet; B2 (defined name f_x), C3, D3 and E3 (Text format) unlocked, A1 locked with a value."""
    path = tmp_path / "src" / "tiny.xlsx"
    path.parent.mkdir()
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(SHEET)
    unlocked = wb.add_format({"locked": False})
    ws.write("A1", "标题")
    ws.write_blank("B2", None, unlocked)
    ws.write_blank("C3", None, unlocked)
    ws.write_blank("D3", None, unlocked)
    ws.write_blank("E3", None, wb.add_format({"locked": False, "num_format": "@"}))
    wb.define_name("f_x", f"='{SHEET}'!$B$2")
    ws.protect()
    wb.close()
    return path


def test_resave_keeps_protection_name_and_unlocked_cell(tmp_path: Path, tiny: Path) -> None:
    require_soffice()
    out = resave(tiny, tmp_path / "lo")
    assert out != tiny and out.is_file()
    wb = openpyxl.load_workbook(out)
    ws = wb[SHEET]
    assert ws.protection.sheet
    assert "f_x" in wb.defined_names
    sheet, ref = next(iter(wb.defined_names["f_x"].destinations))
    assert (sheet, ref.replace("$", "")) == (SHEET, "B2")
    assert ws["B2"].protection.locked is False
    assert ws["A1"].protection.locked is True and ws["A1"].value == "标题"


def test_resave_refuses_to_overwrite_its_input(tiny: Path) -> None:
    require_soffice()
    with pytest.raises(AssertionError, match="overwrite"):
        resave(tiny, tiny.parent)


def test_fill_cells_types_like_a_clerk(tmp_path: Path, tiny: Path) -> None:
    require_soffice()
    out = tmp_path / "typed.xlsx"
    fill_cells(tiny, out, {"*": {"name:f_x": "你好 world"}, SHEET: {"C3": "100%", "D3": "2020/12/31", "E3": "0123"}})
    wb = openpyxl.load_workbook(out)
    ws = wb[SHEET]
    assert ws["B2"].value == "你好 world"
    assert ws["C3"].value == 1 and isinstance(ws["C3"].value, int | float) and "%" in ws["C3"].number_format
    assert ws["D3"].value == datetime(2020, 12, 31)  # zh-CN accepts Y/M/D
    assert ws["E3"].value == "0123"  # a Text cell keeps the leading zero
    assert ws.protection.sheet and ws["B2"].protection.locked is False


def test_fill_cells_reports_locked_cell_and_unknown_name(tmp_path: Path, tiny: Path) -> None:
    require_soffice()
    out = tmp_path / "typed.xlsx"
    with pytest.raises(AssertionError) as info:
        fill_cells(tiny, out, {SHEET: {"A1": "x"}, "*": {"name:f_missing": "y"}})
    message = str(info.value)
    assert "A1" in message and "locked" in message and "f_missing" in message
    assert not out.exists()
