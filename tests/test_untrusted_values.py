"""What a return says about itself is a claim; a value no budget could hold is a finding at its cell."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from xlform.form.sample import sample_declaration
from xlform.form.template import load_template
from xlform.review.result import check_file
from xlform.writing.workbook import write_workbook


@pytest.fixture
def edit(tmp_path: Path) -> Callable[[str, Callable[[openpyxl.Workbook], None]], Path]:
    """A filled return, edited and saved by openpyxl as another program would."""

    def _edit(template: str, change: Callable[[openpyxl.Workbook], None]) -> Path:
        path = tmp_path / f"{template}.xlsx"
        write_workbook(load_template(template), path, sample_declaration())
        wb = openpyxl.load_workbook(path)
        change(wb)
        out = tmp_path / f"{template}-edited.xlsx"
        wb.save(out)
        return out

    return _edit


def _cell_of(wb: openpyxl.Workbook, name: str) -> tuple[str, str]:
    sheet, ref = wb.defined_names[name].attr_text.split("!")
    return sheet, ref.replace("$", "")


def _set(name: str, value: object) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        sheet, cell = _cell_of(wb, name)
        wb[sheet][cell] = value
    return change


def _meta(key: str, value: str) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        for row in wb["_meta"].iter_rows():
            if row[0].value == key:
                row[1].value = value
    return change


@pytest.mark.parametrize("value", [1e27, 1e300, -1e300, 1e200, "9" * 5000, "1" + "0" * 40 + "元"])
@pytest.mark.parametrize("field", ["f_total", "f_fiscal", "f_current_year"])
def test_an_absurd_amount_is_a_finding_at_its_cell(edit: Callable[..., Path], field: str, value: object) -> None:
    path = edit("shanghai-2020", _set(field, value))
    r = check_file(path)
    assert r.readable, r.error  # re-saving would not help: the file is fine, the value is not
    wb = openpyxl.load_workbook(path)
    _, cell = _cell_of(wb, field)
    found = [f for f in r.findings if f.rule == "kind.money" and f.cell == cell]
    assert found and "不合常理" in found[0].message and len(found[0].value) <= 200


@pytest.mark.parametrize("value", [1e300, 1e30, -1e30])
@pytest.mark.parametrize("field", ["f_name", "f_start_date", "f_leader"])
def test_a_huge_number_in_a_text_or_date_cell_is_read(edit: Callable[..., Path], field: str, value: float,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    r = check_file(edit("shanghai-2020", _set(field, value)))
    assert r.readable, r.error
    assert "panicked" not in capfd.readouterr().err  # nothing of the Rust library's reaches the terminal
    if field == "f_start_date":
        assert any(f.rule == "kind.date" for f in r.findings)
    else:
        assert r.declaration is not None
        assert getattr(r.declaration.project, field[2:]) == repr(value).upper()  # as Excel shows it: 1E+300


@pytest.mark.parametrize(("template", "claim"), [("shanghai-2020", "万元"), ("shanghai-2020", "美元"),
                                                 ("mof-2021", "元"), ("shanghai-2020", "")])
def test_a_money_unit_edited_in_meta_does_not_rescale_amounts(edit: Callable[..., Path], template: str, claim: str) -> None:
    t = load_template(template)
    honest = check_file(edit(template, lambda wb: None))
    r = check_file(edit(template, _meta("money_unit", claim)))
    assert r.declaration is not None and honest.declaration is not None
    assert r.declaration.identity.money_unit == t.money_unit
    assert r.declaration.funding == honest.declaration.funding
    changed = [f for f in r.findings if f.rule == "structure.meta_changed"]
    if claim or t.money_unit != "元":
        assert changed and t.money_unit in changed[0].message and r.errors > honest.errors
    assert Decimal(str(r.declaration.funding.total)) == Decimal(str(honest.declaration.funding.total))


@pytest.mark.parametrize("claim", ["1999", "2101", "9" * 5000, "二〇二六", "-2026"])
def test_a_year_edited_in_meta_is_a_finding(edit: Callable[..., Path], claim: str) -> None:
    r = check_file(edit("shanghai-2020", _meta("year", claim)))
    assert r.declaration is not None and r.declaration.identity.year is None
    found = [f for f in r.findings if f.rule == "structure.meta_changed" and f.field == "年度"]
    assert found and len(found[0].message) < 120


def test_an_honest_return_has_no_meta_finding(edit: Callable[..., Path]) -> None:
    for template in ("shanghai-2020", "mof-2021"):
        r = check_file(edit(template, lambda wb: None))
        assert not [f for f in r.findings if f.rule == "structure.meta_changed"]


def _typed_as_date(name: str, when: object, number_format: str) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        sheet, cell = _cell_of(wb, name)
        wb[sheet][cell] = when
        wb[sheet][cell].number_format = number_format
    return change


@pytest.mark.parametrize(("when", "number_format", "shown"), [
    (datetime(2026, 3, 1), "yyyy-mm-dd", "2026-03-01"),
    (datetime(2026, 3, 1), 'yyyy"年"m"月"d"日"', "2026-03-01"),
    (datetime(2026, 3, 1, 9, 30), "yyyy-mm-dd hh:mm", "2026-03-01 09:30:00"),
    (time(9, 30), "h:mm", "09:30:00"),
])
def test_a_date_typed_into_a_text_cell_reads_as_the_date_shown(edit: Callable[..., Path], when: object,
                                                               number_format: str, shown: str) -> None:
    """A text cell whose format became a date (pasted with its format) holds a serial number; it reads as
    the date it shows, not as 46082."""
    r = check_file(edit("shanghai-2020", _typed_as_date("f_leader", when, number_format)))
    assert r.declaration is not None
    assert r.declaration.project.leader == shown


def test_a_number_in_a_text_cell_stays_a_number(edit: Callable[..., Path]) -> None:
    r = check_file(edit("shanghai-2020", _typed_as_date("f_phone", 24033138, "0")))
    assert r.declaration is not None and r.declaration.project.phone == "24033138"


def test_dates_of_a_1904_workbook_are_the_days_typed(edit: Callable[..., Path]) -> None:
    """Excel for Mac may count dates from 1904: the same serial is four years and a day later there."""
    def mac(wb: openpyxl.Workbook) -> None:
        wb.epoch = CALENDAR_MAC_1904
        for name, when in (("f_start_date", datetime(2026, 1, 1)), ("f_end_date", datetime(2026, 12, 31)),
                           ("f_leader", datetime(2026, 6, 30))):
            _typed_as_date(name, when, "yyyy-mm-dd")(wb)

    path = edit("shanghai-2020", mac)
    with zipfile.ZipFile(path) as z:
        assert b'date1904="1"' in z.read("xl/workbook.xml")  # openpyxl wrote the 1904 system
    r = check_file(path)
    assert r.declaration is not None
    project = r.declaration.project
    assert (project.start_date, project.end_date) == (date(2026, 1, 1), date(2026, 12, 31))
    assert project.leader == "2026-06-30"
    assert not [f for f in r.findings if f.rule == "kind.date"]


@pytest.mark.parametrize("field", ["f_total", "f_fiscal_local"])
def test_a_date_pasted_into_an_amount_is_no_amount(edit: Callable[..., Path], field: str) -> None:
    """Pasted with its format, a date is the number 46082 in a date-formatted cell: a finding, never 46,082 元."""
    path = edit("shanghai-2020", _typed_as_date(field, datetime(2026, 3, 1), "yyyy-mm-dd"))
    r = check_file(path)
    assert r.declaration is not None
    wb = openpyxl.load_workbook(path)
    _, cell = _cell_of(wb, field)
    found = [f for f in r.findings if f.rule == "kind.money" and f.cell == cell]
    assert found and "2026-03-01" in found[0].message, [(f.rule, f.cell, f.message) for f in r.findings][:5]
    assert getattr(r.declaration.funding, field[2:]) is None


def test_a_date_pasted_into_a_cost_amount_is_no_amount(edit: Callable[..., Path]) -> None:
    from xlform.form.layout import layout_for
    from xlform.ooxml.cellref import cell_name

    pos = layout_for(load_template("shanghai-2020")).tables["costs"]
    col = pos.col_of("amount")
    assert col is not None
    cell = cell_name(pos.first_row, col)  # the first cost row, filled in the sample

    def paste(wb: openpyxl.Workbook) -> None:
        wb[pos.sheet][cell] = datetime(2026, 3, 1)
        wb[pos.sheet][cell].number_format = "yyyy/m/d"

    r = check_file(edit("shanghai-2020", paste))
    assert r.declaration is not None
    found = [f for f in r.findings if f.rule == "kind.money" and f.cell == cell]
    assert found and "2026-03-01" in found[0].message
    assert r.declaration.costs[0].amount is None
