"""The generated workbook: sheets, protection, unlocked inputs, validations, names, meta."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import field_ref as _ref
from tests.helpers import sheet_names
from xlform.form.fields import CHECK_SHEET, HELP_SHEET, LISTS_SHEET, META_SHEET
from xlform.form.layout import layout_for
from xlform.form.model import Identity
from xlform.form.template import builtin_ids, load_template
from xlform.writing.livechecks import FAIL, PASS, live_checks

LIVE_CHECKS = live_checks(load_template("shanghai-2020"))  # both built-ins run the same checks

TEMPLATES = builtin_ids()
P, G, Z = sheet_names()  # the sheets of the default template, by role


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_sheets_order_visibility_and_structure_lock(write, template_id: str) -> None:
    t = load_template(template_id)
    wb = openpyxl.load_workbook(write(None, template_id))
    visible = [ws.title for ws in wb if ws.sheet_state == "visible"]
    assert visible == [HELP_SHEET, t.sheets["project"], t.sheets["goals"], t.sheets["guarantees"], CHECK_SHEET]
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert wb.security is not None and wb.security.lockStructure


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_sheet_protected_and_only_inputs_unlocked(write, template_id: str) -> None:
    t = load_template(template_id)
    layout = layout_for(t)
    wb = openpyxl.load_workbook(write(None, template_id))
    for ws in wb:
        assert ws.protection.sheet, ws.title
        assert not ws.protection.password  # fill without a password by default
    project = wb[t.sheets["project"]]
    for field in t.fields:  # the template's own: a built-in it drops has no cell, one it adds has
        sheet, ref = _ref(wb, field.name)
        assert sheet == t.sheets["project"]
        assert project[ref].protection.locked is False, field.key
        pos = layout.fields[field.key]
        label_cell = project.cell(row=pos.row + 1, column=pos.label_col + 1)
        assert label_cell.value == t.labels[field.key]
        assert label_cell.protection.locked is not False
    # Titles and computed cells stay locked.
    assert project["A1"].protection.locked is not False
    goals = wb[t.sheets["goals"]]
    total = goals.cell(row=layout.cost_total_row + 1, column=layout.tables["costs"].col_of("amount") + 1)
    assert str(total.value).startswith("=SUM(")
    assert total.protection.locked is not False


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_row_tables_named_unlocked_and_sized(write, template_id: str) -> None:
    t = load_template(template_id)
    wb = openpyxl.load_workbook(write(None, template_id))
    for table, count in t.rows.items():
        sheet, ref = _ref(wb, f"t_{table}")
        cells = wb[sheet][ref]
        assert len(cells) == count
        assert len(cells[0]) == len(t.columns[table])
        computed = [c.computed for c in t.column_defs[table].values()]  # the library's help column: locked
        assert all(c.protection.locked is computed[i] for row in cells for i, c in enumerate(row))
    assert t.rows["indicators"] >= 20


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_dropdowns_come_from_hidden_lists(write, template_id: str) -> None:
    t = load_template(template_id)
    layout = layout_for(t)
    wb = openpyxl.load_workbook(write(None, template_id))
    goals = wb[t.sheets["goals"]]
    sources = {}
    for dv in goals.data_validations.dataValidation:
        if dv.type == "list":
            for cell_range in dv.sqref.ranges:
                sources[cell_range.coord.split(":")[0]] = dv.formula1
    ind = layout.tables["indicators"]
    first = ind.first_row + 1
    level1 = f"{_letter(ind.col_of('level1'))}{first}"
    level2 = f"{_letter(ind.col_of('level2'))}{first}"
    assert sources[level1] == "l_level1"
    assert sources[level2].startswith("INDIRECT(") and "l_level1" in sources[level2]
    if t.indicator_style == "mof":
        for key in ("value_type", "operator", "value_basis"):
            assert sources[f"{_letter(ind.col_of(key))}{first}"] == f"l_{key}"
    # Every list is a range on the hidden sheet, never an inline string; 二级 lists follow the taxonomy.
    for i, level2_values in enumerate(t.taxonomy.values(), start=1):
        sheet, ref = _ref(wb, f"l2_{i}")
        assert sheet == LISTS_SHEET
        assert [c.value for (c,) in wb[sheet][ref]] == list(level2_values)
    sheet, ref = _ref(wb, "l_level1")
    assert [c.value for (c,) in wb[sheet][ref]] == list(t.taxonomy)
    project = wb[t.sheets["project"]]
    category_ref = _ref(wb, "f_category")[1]
    category = [dv for dv in project.data_validations.dataValidation if category_ref in str(dv.sqref)]
    assert category and category[0].formula1 == "l_category"
    assert category[0].promptTitle and category[0].prompt and category[0].error


def _letter(col: int | None) -> str:
    assert col is not None
    return openpyxl.utils.get_column_letter(col + 1)


def test_validations_have_chinese_prompts_and_rules(write) -> None:
    wb = openpyxl.load_workbook(write())
    project = wb[P]
    by_cell = {}
    for dv in project.data_validations.dataValidation:
        for r in dv.sqref.ranges:
            by_cell[r.coord] = dv
    money = by_cell[_ref(wb, "f_fiscal")[1]]
    assert money.type == "custom" and ">=0" in money.formula1 and "ROUND(" in money.formula1
    assert "金额" in money.error
    date_dv = by_cell[_ref(wb, "f_start_date")[1]]
    assert date_dv.type == "date" and date_dv.operator in (None, "between")  # between is the default
    assert int(date_dv.formula1) < int(date_dv.formula2)
    phone = by_cell[_ref(wb, "f_phone")[1]]
    assert phone.type == "textLength"
    long_text = by_cell[_ref(wb, "f_overview")[1]]
    limit = load_template("shanghai-2020").limits["overview"]
    assert long_text.type == "custom" and long_text.formula1.endswith(f"<={limit}") and "LEN(" in long_text.formula1
    assert f"最多 {limit} 个字" in long_text.prompt and f"最多 {limit} 个字" in long_text.error


def test_meta_sheet_identifies_the_workbook(write, tmp_path: Path) -> None:
    t = load_template("shanghai-2020")
    from xlform.form.model import Declaration
    from xlform.writing.workbook import write_workbook

    path = tmp_path / "issued.xlsx"
    identity = write_workbook(t, path, Declaration(identity=Identity(department="区教育局", department_code="017")))
    wb = openpyxl.load_workbook(path)
    meta = {row[0].value: row[1].value for row in wb[META_SHEET].iter_rows()}
    assert meta["template_id"] == "shanghai-2020" and meta["template_version"] == t.version
    assert meta["form_id"] == identity.form_id and len(identity.form_id) == 36
    assert meta["department"] == "区教育局" and meta["department_code"] == "017"
    assert meta["fingerprint"] == layout_for(t).fingerprint
    assert meta["issued_at"].startswith(identity.issued_at[:10])
    # The department is prefilled and locked.
    unit = wb[P][_ref(wb, "f_unit")[1]]
    assert unit.value == "区教育局" and unit.protection.locked is not False
    # Two blank workbooks never share a form id.
    other = write_workbook(t, tmp_path / "other.xlsx")
    assert other.form_id != identity.form_id and other.department == ""


def test_live_checks_have_correct_cached_values(write, sample) -> None:
    good = openpyxl.load_workbook(write(sample))[CHECK_SHEET]
    statuses = [good.cell(row=3 + i, column=2).value for i in range(len(LIVE_CHECKS))]
    formulas = openpyxl.load_workbook(write(sample), data_only=False)[CHECK_SHEET]
    assert all(str(formulas.cell(row=3 + i, column=2).value).startswith("=IF(") for i in range(len(LIVE_CHECKS)))
    cached = openpyxl.load_workbook(write(sample), data_only=True)[CHECK_SHEET]
    assert [cached.cell(row=3 + i, column=2).value for i in range(len(LIVE_CHECKS))] == [PASS] * len(LIVE_CHECKS)
    assert statuses  # formulas present in the normal view too
    sample.funding.fiscal_local -= 1000
    sample.costs[0].quantity = sample.costs[0].quantity * 2
    bad = openpyxl.load_workbook(write(sample), data_only=True)
    results = {c.id: bad[CHECK_SHEET].cell(row=3 + i, column=2).value for i, c in enumerate(LIVE_CHECKS)}
    assert results["fiscal_parts"] == FAIL and results["cost_rows"] == FAIL
    assert results["current_year_sum"] == PASS
    layout = layout_for(load_template("shanghai-2020"))
    costs = layout.tables["costs"]
    msg = bad[G].cell(row=costs.first_row + 1, column=costs.last_col + 2).value
    assert msg == "应为 464248.00"


def test_user_text_is_never_a_formula_or_link(write, sample) -> None:
    sample.project.name = "=HYPERLINK(\"http://evil\",\"x\")"
    sample.project.overview = "http://example.com/a"
    sample.indicators[0].name = "+1+1"
    path = write(sample)
    with zipfile.ZipFile(path) as z:
        sheet_xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
        formulas = re.findall(rb"<f>(.*?)</f>", sheet_xml)
        assert formulas and not any(b"HYPERLINK" in f for f in formulas)  # a string, never a formula
        assert not any(n.startswith("xl/worksheets/_rels") for n in z.namelist())
    wb = openpyxl.load_workbook(path)
    cell = wb[P][_ref(wb, "f_name")[1]]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_print_setup_and_freeze(write) -> None:
    wb = openpyxl.load_workbook(write())
    for name in (P, G, Z):
        ws = wb[name]
        assert ws.page_setup.paperSize == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # 1 is the default
        assert ws.print_title_rows
    assert wb[G].page_setup.orientation == "landscape"
    assert wb[G].freeze_panes == "A5"


def test_password_option_protects_with_a_password(tmp_path: Path) -> None:
    from xlform.writing.workbook import write_workbook

    path = tmp_path / "pw.xlsx"
    write_workbook(load_template("shanghai-2020"), path, password="s3cret")
    wb = openpyxl.load_workbook(path)
    assert wb[P].protection.password
    with zipfile.ZipFile(path) as z:
        assert b"workbookPassword=" in z.read("xl/workbook.xml")


def test_more_rows_than_the_template_holds_is_refused_not_dropped(tmp_path: Path, sample) -> None:
    from xlform.errors import UserError
    from xlform.writing.workbook import write_workbook

    t = load_template("shanghai-2020")
    sample.indicators = sample.indicators * 5  # 25 rows for a 20-row table
    with pytest.raises(UserError, match=r"25 行.*20 行.*rows\.indicators"):
        write_workbook(t, tmp_path / "too_many.xlsx", sample)
    assert not (tmp_path / "too_many.xlsx").exists()
