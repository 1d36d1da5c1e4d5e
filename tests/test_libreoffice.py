"""Round trips through a real headless LibreOffice: what a department's program does to our files."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.lo import fill_cells, require_soffice, resave
from xlform.export import declaration_dict
from xlform.form.template import builtin_ids, load_template
from xlform.reading.reader import read
from xlform.review.rules import check
from xlform.writing.workbook import write_workbook

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]


def _validation_cells(ws) -> set[str]:
    return {r.coord for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}


@pytest.mark.parametrize("template_id", builtin_ids())
@pytest.mark.parametrize("filled", [False, True], ids=["blank", "example"])
def test_resaved_workbook_keeps_protection_inputs_and_dropdowns(tmp_path: Path, sample, template_id: str,
                                                                 filled: bool) -> None:
    require_soffice()
    t = load_template(template_id)
    src = tmp_path / "src" / "form.xlsx"
    src.parent.mkdir()
    write_workbook(t, src, sample if filled else None)
    out = resave(src, tmp_path / "lo")
    before, after = openpyxl.load_workbook(src), openpyxl.load_workbook(out)
    # LibreOffice 7.4 keeps the document protected but writes <workbookProtection/> without
    # lockStructure="1" (so Excel would allow sheet changes again); sheet protection survives.
    with zipfile.ZipFile(out) as z:
        assert b"<workbookProtection" in z.read("xl/workbook.xml")
    for name in t.sheets.values():
        assert after[name].protection.sheet, name
    for field_name in ("f_name", "f_fiscal", "f_start_date", "f_category"):
        sheet, ref = next(iter(after.defined_names[field_name].destinations))
        assert after[sheet][ref.replace("$", "")].protection.locked is False
    for name in t.sheets.values():
        lost = _validation_cells(before[name]) - _validation_cells(after[name])
        assert not lost, f"{name}: validations lost on {sorted(lost)[:5]}"
    goals = after[t.sheets["goals"]]
    formulas = {dv.formula1 for dv in goals.data_validations.dataValidation if dv.type == "list"}
    assert "l_level1" in formulas and any("INDIRECT" in f for f in formulas)
    assert after["_meta"].sheet_state in ("hidden", "veryHidden")  # LibreOffice writes veryHidden as hidden


def test_example_resaved_reads_and_exports_identically(tmp_path: Path, sample) -> None:
    require_soffice()
    src = tmp_path / "src" / "example.xlsx"
    src.parent.mkdir()
    write_workbook(load_template("shanghai-2020"), src, sample)
    out = resave(src, tmp_path / "lo")
    original, resaved = read(src), read(out)
    a, b = declaration_dict(original), declaration_dict(resaved)
    a.pop("file"), b.pop("file")
    assert a == b
    assert [f.rule for f in check(original)] == [f.rule for f in check(resaved)]


def test_form_typed_in_libreoffice_reads_back_with_expected_findings(tmp_path: Path) -> None:
    """A clerk types into the input cells (as text, the way typing works): values and findings come back."""
    require_soffice()
    src = tmp_path / "src" / "blank.xlsx"
    src.parent.mkdir()
    write_workbook(load_template("shanghai-2020"), src)
    t = load_template("shanghai-2020")
    sheet = t.sheets["goals"]
    ind = openpyxl.load_workbook(src).defined_names["t_indicators"]
    _, ref = next(iter(ind.destinations))
    first = int(ref.split(":")[0].split("$")[-1])
    typed = {
        "*": {
            "name:f_unit": "区教育局",
            "name:f_name": "校园安全监控系统维护",
            "name:f_category": "经常性项目",
            "name:f_leader": "王敏",
            "name:f_contact": "李强",
            "name:f_phone": "021-64871234",
            "name:f_start_date": "2020-01-01",
            "name:f_end_date": "2020/12/31",
            "name:f_total": "500000",
            "name:f_current_year": "300000",
            "name:f_fiscal": "300000",
            "name:f_fiscal_local": "250000",  # 上级+本级+下级 = 250,000 ≠ 300,000
            "name:f_other": "0",
            "name:f_annual_goal": "监控设备完好率达到98%以上。",
        },
        sheet: {
            f"B{first}": "产出目标", f"C{first}": "数量", f"D{first}": "监控设备完好率", f"E{first}": "98%",
            f"B{first + 1}": "效果目标", f"C{first + 1}": "满意度", f"D{first + 1}": "校园安全感", f"E{first + 1}": "提升",
        },
    }
    out = tmp_path / "typed.xlsx"
    fill_cells(src, out, typed)
    d = read(out)
    assert d.project.name == "校园安全监控系统维护" and d.project.unit == "区教育局"
    assert d.project.start_date.isoformat() == "2020-01-01" and d.project.end_date.isoformat() == "2020-12-31"
    assert d.funding.total == Decimal("500000") and d.funding.fiscal_local == Decimal("250000")
    assert d.indicators[0].target.number == Decimal("98") and d.indicators[0].target.unit == "%"
    rules = {f.rule: f for f in check(d)}
    assert "funding.fiscal_parts" in rules and "250,000.00" in rules["funding.fiscal_parts"].message
    assert rules["funding.fiscal_parts"].cell == "E15"
    assert "indicators.level2" in rules  # 满意度 is not under 效果目标
    assert "indicators.required_level1" in rules  # no 影响力目标
    assert "goal.target_mismatch" not in rules  # 98% agrees
