"""The form on paper: every text prints whole, each sheet on its designed pages, the grid has no holes,
and the live checks say 待填写 until filled and, beside each red cell, what is wrong."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml
from python_calamine import CalamineWorkbook

from tests.helpers import field_ref as _ref
from tests.lo import export_pdf, fill_cells, require_cjk_font
from tests.printing import filled_to_limits, pages_by_sheet, paragraphs, pdf_cell_texts, pdf_words, squeeze, text_at_limit
from xlform.form.fields import CHECK_SHEET, HELP_SHEET
from xlform.form.layout import LIMITED_FIELDS, field_per_line, layout_for
from xlform.form.model import CostItem, Declaration, Funding
from xlform.form.template import TemplateError, builtin_ids, load_template, parse_template, templates_dir
from xlform.writing.livechecks import live_checks
from xlform.writing.workbook import write_workbook

LIVE_CHECKS = live_checks(load_template("shanghai-2020"))  # both built-ins run the same checks

TEMPLATES = builtin_ids()
LINE_PT, PAD_PT = 16, 4  # one wrapped line of 11 pt text in LibreOffice with Noto Sans CJK: 15.9 pt
ONE_LINE_PT = 17.15  # the height LibreOffice gives a row of one line of it


def _needs(lines: int) -> float:
    return ONE_LINE_PT if lines == 1 else lines * LINE_PT + PAD_PT


def _width(ws, first: int, last: int) -> int:
    """Column units of columns first..last (1-based), as the file gives them (xlsxwriter adds 0.71)."""
    return sum(int(ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width) for c in range(first, last + 1))


def _box(ws, ref: str) -> tuple[int, int, int]:
    """(row, first column, last column) of the merged box a cell opens (1-based)."""
    cell = ws[ref]
    for rng in ws.merged_cells.ranges:
        if rng.min_row == cell.row and rng.min_col == cell.column:
            return cell.row, rng.min_col, rng.max_col
    return cell.row, cell.column, cell.column


# ---- 1. long text: limits, validation, room ---------------------------------------------------


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_text_field_is_limited_to_what_its_row_can_print(write, template_id: str) -> None:
    t = load_template(template_id)
    wb = openpyxl.load_workbook(write(None, template_id))
    ws = wb[t.sheets["project"]]
    rules = {r.coord: dv for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}
    for key in LIMITED_FIELDS:
        limit = t.limits[key]
        _, ref = _ref(wb, f"f_{key}")
        row, first, last = _box(ws, ref)
        # At most (width - 1) / 2 wide characters a line; a line break takes a whole line.
        per_line = (_width(ws, first, last) - 1) // 2
        lines = limit // per_line + 1
        height = ws.row_dimensions[row].height
        assert _needs(lines) <= height <= 409, (key, limit, lines, height)
        if key == "unit":
            continue  # issued forms fix the department; a blank one validates it like any text
        dv = rules[ref]
        assert dv.type == "custom" and dv.formula1.endswith(f"<={limit}"), (key, dv.formula1)
        assert "CHAR(10)" in dv.formula1 and f"{per_line - 1}*" in dv.formula1  # a break counts as a line
        assert f"最多 {limit} 个字" in dv.prompt and f"最多 {limit} 个字" in dv.error, key
    long_limits = {k: t.limits[k] for k in ("overview", "basis", "necessity", "annual_goal")}
    assert all(100 <= v <= 500 for v in long_limits.values()), long_limits  # set in the template, sensible


def test_limits_in_the_builtin_templates_are_explicit() -> None:
    for template_id in TEMPLATES:
        data = yaml.safe_load(templates_dir().joinpath(f"{template_id}.yaml").read_text(encoding="utf-8"))
        assert {"overview", "basis", "necessity", "feasibility", "resources", "overall_goal", "annual_goal",
                "other_notes"} <= set(data["limits"]), template_id


@pytest.mark.parametrize(("limits", "expected"), [
    ({"overview": 900}, r"键 limits\.overview 应为 1 到 849 之间的整数"),
    ({"overview": "三百"}, r"键 limits\.overview 应为 1 到"),
    ({"overview": 0}, r"键 limits\.overview"),
    ({"phone": 20}, r"键 limits\.phone 不是可限定字数的文字字段"),
    ({"leader": 200}, r"键 limits\.leader 应为 1 到 174 之间"),
])
def test_template_refuses_a_limit_that_cannot_print(limits: dict, expected: str) -> None:
    data = yaml.safe_load(templates_dir().joinpath("shanghai-2020.yaml").read_text(encoding="utf-8"))
    data["limits"] = limits
    with pytest.raises(TemplateError, match=expected):
        parse_template(yaml.safe_dump(data, allow_unicode=True), "my.yaml")


def test_the_largest_limit_fits_excels_tallest_row(write, tmp_path: Path) -> None:
    data = yaml.safe_load(templates_dir().joinpath("shanghai-2020.yaml").read_text(encoding="utf-8"))
    data["limits"] = {"overview": 849}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    t = load_template(path)
    write_workbook(t, tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    row = int(re.sub(r"\D", "", _ref(wb, "f_overview")[1]))
    assert _needs(25) <= wb[t.sheets["project"]].row_dimensions[row].height <= 409


def test_rows_never_exceed_409_points_even_for_text_over_the_limit(write, sample) -> None:
    sample.project.overview = "长" * 32767  # pasted past the validation
    sample.indicators[0].name = "长" * 5000
    wb = openpyxl.load_workbook(write(sample))
    heights = [d.height for ws in wb for d in ws.row_dimensions.values() if d.height]
    assert heights and max(heights) <= 409


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_filled_table_rows_get_the_height_their_text_needs(write, sample, template_id: str) -> None:
    """Unmerged table rows grow as a clerk types; rows the writer fills must be sized by it."""
    t = load_template(template_id)
    wb = openpyxl.load_workbook(write(sample, template_id))
    tp = layout_for(t).tables["guarantees"]
    ws = wb[t.sheets["guarantees"]]
    col = tp.col_of("measures")
    assert col is not None
    width = int(ws.column_dimensions[openpyxl.utils.get_column_letter(col + 1)].width)
    wrapped = 0
    for i, g in enumerate(sample.guarantees):
        lines = -(-2 * len(g.measures) // (width - 1))
        if lines > 1:
            wrapped += 1
            assert (ws.row_dimensions[tp.first_row + 1 + i].height or 15) >= _needs(lines), g.measures
    assert wrapped >= 2


# ---- 2. headers with room for their lines ---------------------------------------------------------


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_table_headers_have_room_for_their_wrapped_lines(write, template_id: str) -> None:
    t = load_template(template_id)
    layout = layout_for(t)
    wb = openpyxl.load_workbook(write(None, template_id))
    for tp in layout.tables.values():
        ws = wb[tp.sheet]
        for c in tp.columns:
            width = int(ws.column_dimensions[openpyxl.utils.get_column_letter(c.col + 1)].width)
            lines = -(-2 * len(c.header) // (width - 1))  # wide characters, at most (width - 1) / 2 a line
            height = ws.row_dimensions[tp.header_row + 1].height or 15
            assert height >= _needs(lines), (tp.table, c.header, width, height)


# ---- 4. the grid of 项目总体情况 has no holes ---------------------------------------------------------


def _bordered(ws, cell) -> bool:
    for rng in ws.merged_cells.ranges:  # a merged box: its first cell carries the format
        if cell.coordinate in rng:
            cell = ws.cell(row=rng.min_row, column=rng.min_col)
            break
    b = cell.border
    return all(getattr(b, side).style for side in ("left", "right", "top", "bottom"))


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_every_cell_of_the_project_grid_is_bordered(write, template_id: str) -> None:
    t = load_template(template_id)
    fields = layout_for(t).fields
    ws = openpyxl.load_workbook(write(None, template_id))[t.sheets["project"]]
    phone = fields["phone"]
    for col in range(1, phone.label_col + 1):  # left of 联系电话
        assert _bordered(ws, ws.cell(row=phone.row + 1, column=col)), col
    for row in range(fields["name"].row + 1, fields["other_notes"].row + 2):
        for col in range(1, 7):
            assert _bordered(ws, ws.cell(row=row, column=col)), ws.cell(row=row, column=col).coordinate


# ---- 5. 待填写 until filled ------------------------------------------------------------------------


def _statuses(path: Path, count: int = len(LIVE_CHECKS)) -> tuple[list, list]:
    """The 校验 results (the first `count` rows) as openpyxl and calamine read their cached values."""
    ws = openpyxl.load_workbook(path, data_only=True)[CHECK_SHEET]
    a = [ws.cell(row=3 + i, column=2).value for i in range(count)]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(CHECK_SHEET).to_python()
    b = [grid[2 + i][1] for i in range(count)]
    return a, b


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_blank_form_shows_every_check_as_pending(write, template_id: str) -> None:
    path = write(None, template_id)
    count = len(live_checks(load_template(template_id)))  # a template lacking a check's fields has no row for it
    a, b = _statuses(path, count)
    assert a == b == ["待填写"] * count
    formulas = openpyxl.load_workbook(path)[CHECK_SHEET]
    for i in range(count):
        formula = formulas.cell(row=3 + i, column=2).value
        assert any(wait in formula for wait in ("ISBLANK(", "COUNT(", "SUMPRODUCT((LEN(")), formula  # waits for input
        assert '"待填写"' in formula


def test_filled_checks_cache_pass_fail_and_pending(write, sample) -> None:
    a, b = _statuses(write(sample))
    assert a == b == ["通过"] * len(LIVE_CHECKS)
    ids = [c.id for c in LIVE_CHECKS]
    part = Declaration(funding=Funding(fiscal=Decimal(100), fiscal_local=Decimal(90)))
    a, b = _statuses(write(part))
    assert a == b
    got = dict(zip(ids, a, strict=True))
    assert got["fiscal_parts"] == "未通过"
    assert {k: v for k, v in got.items() if k != "fiscal_parts"} == dict.fromkeys(set(ids) - {"fiscal_parts"}, "待填写")
    part.funding.fiscal_local = Decimal(100)
    part.funding.current_year = Decimal(100)
    part.costs = [CostItem(amount=Decimal(60))]
    got = dict(zip(ids, _statuses(write(part))[0], strict=True))
    assert got == {"fiscal_parts": "通过", "current_year_sum": "通过", "current_year_le_total": "待填写",
                   "cost_total": "未通过", "cost_rows": "通过", "activities_sum": "待填写"}


# ---- 6. words beside every red cell -----------------------------------------------------------------


def _notes(path: Path, t) -> dict[str, str]:
    """The cached text of the note cell right of each amount on 项目总体情况."""
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb[t.sheets["project"]]
    found = {}
    for key in ("total", "current_year", "fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate", "other"):
        cell = ws[_ref(wb, f"f_{key}")[1]]
        found[key] = ws.cell(row=cell.row, column=cell.column + 1).value or ""
    return found


def test_every_red_cell_has_a_note_beside_it(write, sample) -> None:
    t = load_template("shanghai-2020")
    path = write(sample)
    wb = openpyxl.load_workbook(path)
    for sheet in (t.sheets["project"], t.sheets["goals"]):
        ws = wb[sheet]
        for cf in ws.conditional_formatting:
            if not any("f_" in f for r in cf.rules for f in r.formula):
                continue  # the per-row cost check: its own column says what is wrong
            for cell_range in cf.sqref.ranges:
                beside = ws.cell(row=cell_range.min_row, column=cell_range.max_col + 1)
                assert str(beside.value).startswith("=MID("), (sheet, cell_range.coord, beside.value)
    assert set(_notes(path, t).values()) == {""}  # the example agrees with itself


def test_note_says_what_is_wrong_and_cached_value_matches(write, sample) -> None:
    t = load_template("shanghai-2020")
    assert set(_notes(write(None), t).values()) == {""}  # a blank form says nothing
    sample.funding.other = Decimal(1000)  # 当年预算 ≠ 财政拨款 + 其他资金
    notes = _notes(write(sample), t)
    assert notes["current_year"] == "≠ 财政拨款 + 其他资金"
    assert notes["fiscal"] == "加其他资金 ≠ 当年预算" and notes["other"] == "加财政拨款 ≠ 当年预算"
    assert notes["total"] == notes["fiscal_local"] == ""
    sample.funding.current_year += 1000  # now agrees, but exceeds the total and the breakdowns
    notes = _notes(write(sample), t)
    assert notes["current_year"] == "超过项目总预算；≠ 项目构成分解合计；≠ 主体活动金额合计"
    assert notes["total"] == "小于当年预算" and notes["other"] == ""
    goals = openpyxl.load_workbook(write(sample), data_only=True)[t.sheets["goals"]]
    layout = layout_for(t)
    costs, activities = layout.tables["costs"], layout.tables["activities"]
    assert goals.cell(row=layout.cost_total_row + 1, column=costs.col_of("amount") + 2).value == "≠ 当年预算"
    assert goals.cell(row=layout.activity_total_row + 1, column=activities.col_of("amount") + 2).value == "≠ 当年预算"


# ---- LibreOffice: what is printed, and what it calculates --------------------------------------------


def _pdf(tmp_path: Path, src: Path) -> Path:
    require_cjk_font()
    return export_pdf(src, tmp_path / "pdf")


def _missing(d: Declaration, pdf: Path) -> list[str]:
    text = "|".join(squeeze(page) for page in pdf_cell_texts(pdf))
    return [p[:30] for p in paragraphs(d) if squeeze(p) not in text]


@pytest.mark.libreoffice
@pytest.mark.parametrize("template_id", TEMPLATES)
def test_blank_form_prints_each_sheet_on_its_designed_pages(tmp_path: Path, template_id: str) -> None:
    t = load_template(template_id)
    src = tmp_path / "blank.xlsx"
    write_workbook(t, src)
    pages = pages_by_sheet(t, _pdf(tmp_path, src))
    s = t.sheets
    # 项目总体情况: basics and 项目立项情况 on page 1, 项目资金 to the signatures on page 2;
    # 绩效目标: 项目构成 and the indicators on page 1, 项目构成分解 with 金额合计 on page 2.
    assert {k: len(v) for k, v in pages.items()} == {HELP_SHEET: 1, s["project"]: 2, s["goals"]: 2,
                                                    s["guarantees"]: 1, CHECK_SHEET: 1}
    labels = t.labels
    first, second = (squeeze(p) for p in pages[s["project"]])
    assert labels["overview"] in first and labels["feasibility"] in first and labels["funding"] not in first
    assert labels["funding"] in second and labels["filled_on"] in second
    first, second = (squeeze(p) for p in pages[s["goals"]])
    assert labels["activities"] in first and labels["indicators"] in first and labels["costs"] not in first
    assert labels["costs"] in second and labels["cost_total"] in second
    assert t.columns["costs"]["amount"] in second  # the table with its header, not a tail of it


@pytest.mark.libreoffice
def test_example_prints_every_text_whole_with_headers_clear_of_the_rows(tmp_path: Path, sample) -> None:
    t = load_template("shanghai-2020")
    src = tmp_path / "example.xlsx"
    write_workbook(t, src, sample)
    pdf = _pdf(tmp_path, src)
    assert _missing(sample, pdf) == []
    # 制度保障: the two-line stage headers end above the first row's text.
    page = next(i for i, words in enumerate(pdf_words(pdf)) if any(w.text == t.titles["guarantees"] for w in words))
    words = pdf_words(pdf)[page]
    first_row = min(w.top for w in words if w.text == sample.guarantees[0].kind)
    headers = [w for w in words if w.text and any(w.text in h for h in ("立项和计划阶段", "收尾和完成阶段"))]
    assert len(headers) >= 4, [w.text for w in headers]  # each wraps to two lines
    assert max(w.bottom for w in headers) <= first_row, [(w.text, w.bottom, first_row) for w in headers]


@pytest.mark.libreoffice
@pytest.mark.parametrize("template_id", TEMPLATES)
def test_form_written_to_every_limit_prints_whole(tmp_path: Path, template_id: str) -> None:
    t = load_template(template_id)
    d = filled_to_limits(t)
    src = tmp_path / "limits.xlsx"
    write_workbook(t, src, d)
    assert _missing(d, _pdf(tmp_path, src)) == []


@pytest.mark.libreoffice
def test_form_typed_to_every_limit_in_libreoffice_prints_whole(tmp_path: Path) -> None:
    """Typed, the rows keep the writer's heights (merged cells never grow): they must hold the limit."""
    t = load_template("shanghai-2020")
    blank = tmp_path / "blank.xlsx"
    write_workbook(t, blank)
    typed: dict[str, str] = {}
    for key in LIMITED_FIELDS:
        typed[f"name:f_{key}"] = text_at_limit(t.labels[key], t.limits[key], field_per_line(key))
    for table in ("indicators", "guarantees"):
        tp = layout_for(t).tables[table]
        for c in tp.columns:
            if c.column.key in ("name", "document", "measures"):
                typed[f"name:c_{table}_{c.column.key}"] = text_at_limit(tp.section_label + c.header, c.limit,
                                                                         c.per_line)
    out = tmp_path / "typed.xlsx"
    fill_cells(blank, out, {"*": typed})
    text = "|".join(squeeze(page) for page in pdf_cell_texts(_pdf(tmp_path, out)))
    wanted = [p for value in typed.values() for p in value.split("\n")]
    assert [p[:30] for p in wanted if squeeze(p) not in text] == []


@pytest.mark.libreoffice
def test_live_checks_calculate_in_libreoffice_pending_pass_fail_and_notes(tmp_path: Path) -> None:
    t = load_template("shanghai-2020")
    blank = tmp_path / "blank.xlsx"
    write_workbook(t, blank)
    money = {"f_total": 200, "f_current_year": 100, "f_fiscal": 100, "f_fiscal_superior": 0, "f_fiscal_local": 100,
             "f_fiscal_subordinate": 0, "f_other": 0, "c_costs_amount": 100, "c_activities_amount": 100}
    good = tmp_path / "good.xlsx"
    fill_cells(blank, good, {"*": {f"name:{k}": v for k, v in money.items()}})
    a, b = _statuses(good)
    assert a == b == ["通过"] * len(LIVE_CHECKS)
    assert set(_notes(good, t).values()) == {""}
    bad = tmp_path / "bad.xlsx"
    fill_cells(good, bad, {"*": {"name:f_current_year": 150}})
    got = dict(zip([c.id for c in LIVE_CHECKS], _statuses(bad)[0], strict=True))
    assert got["current_year_sum"] == got["cost_total"] == got["activities_sum"] == "未通过"
    assert got["fiscal_parts"] == got["current_year_le_total"] == "通过"
    notes = _notes(bad, t)
    assert notes["current_year"] == "≠ 财政拨款 + 其他资金；≠ 项目构成分解合计；≠ 主体活动金额合计"
    assert notes["fiscal"] == "加其他资金 ≠ 当年预算" and notes["total"] == ""
    cleared = tmp_path / "cleared.xlsx"
    fill_cells(bad, cleared, {"*": dict.fromkeys((f"name:{k}" for k in money), None)})
    a, b = _statuses(cleared)
    assert a == b == ["待填写"] * len(LIVE_CHECKS)
    assert set(_notes(cleared, t).values()) == {""}

