"""The template is the form: fields, columns and tables a bureau adds, drops or reorders in YAML.

Each test writes its template inline (a few YAML keys over a built-in), writes or fills a workbook of it,
reads it back and states the value or finding it expects, in the same test.
"""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from tests.cli_runner import invoke
from tests.helpers import clean_form, field_cell, field_ref, template_over
from xlform.form.layout import layout_for
from xlform.form.model import Indicator, Row
from xlform.form.targets import parse_target
from xlform.form.template import TemplateError, load_template
from xlform.form.values import Coded
from xlform.reading.reader import Registry, read
from xlform.review.rules import check
from xlform.writing.workbook import write_workbook

LISTS = {"choices": {"project_nature": ["新增", "延续"]},
         "codes": {"departments": ["219001-区教育局", "219002-区卫生健康委"]}}


def read_with(path: Path, template: str) -> Any:
    return read(path, Registry([template]))


def type_cells(path: Path, values: dict[str, Any]) -> None:
    """What a clerk does: type into cells found by their defined names, save."""
    wb = openpyxl.load_workbook(path)
    for name, value in values.items():
        field_cell(wb, name).value = value
    wb.save(path)


# ---- a field of every kind -----------------------------------------------------------------------------

KIND_CASES = [
    # kind, extra keys, what a clerk types, what the reader gives back
    ("text", {}, "京财预〔2026〕1号", "京财预〔2026〕1号"),
    ("long", {"limit": 120}, "第一段。\n第二段。", "第一段。\n第二段。"),
    ("money", {}, "1,234.5", D("1234.50")),
    ("number", {}, "3.5", D("3.5")),
    ("integer", {}, "12", 12),
    ("date", {}, "2026年3月1日", date(2026, 3, 1)),
    ("phone", {}, "021-24033138", "021-24033138"),
    ("choice", {"list": "project_nature"}, "延续", "延续"),
    ("code", {"list": "departments"}, "219001-区教育局", Coded("219001", "区教育局")),
    ("tick", {}, "√", True),
    ("year", {}, "2026年", 2026),
]


def _kind_template(tmp_path: Path, kind: str, extra: dict[str, Any], required: bool = False) -> str:
    spec = {"label": "新增项", "kind": kind, "section": "details", "required": required, **extra}
    lists = {"choices": {"project_nature": LISTS["choices"]["project_nature"]}} if kind == "choice" else {}
    if kind == "code":
        lists = {"codes": LISTS["codes"]}
    return template_over(tmp_path, yaml.safe_dump({"fields": {"added": spec}, **lists}, allow_unicode=True))


@pytest.mark.parametrize(("kind", "extra", "typed", "expected"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_added_field_of_each_kind_is_typed_in_and_read_back(tmp_path: Path, kind: str, extra: dict[str, Any],
                                                            typed: Any, expected: Any) -> None:
    template = _kind_template(tmp_path, kind, extra)
    blank = tmp_path / "blank.xlsx"
    write_workbook(load_template(template), blank)
    type_cells(blank, {"f_added": typed})
    d = read_with(blank, template)
    assert d.extra["added"] == expected
    assert d.source.cells["added"] == field_ref(openpyxl.load_workbook(blank), "f_added")
    assert [f for f in check(d) if "新增项" in f.field] == []


@pytest.mark.parametrize(("kind", "extra", "typed", "expected"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_added_field_written_from_a_declaration_reads_back_the_same(tmp_path: Path, kind: str, extra: dict[str, Any],
                                                                    typed: Any, expected: Any) -> None:
    template = _kind_template(tmp_path, kind, extra)
    d = clean_form()
    d.extra["added"] = expected
    path = tmp_path / "filled.xlsx"
    write_workbook(load_template(template), path, d)
    assert read_with(path, template).extra["added"] == expected


BAD_VALUES = [("money", "二十三万", "kind.money"), ("integer", "12.5", "kind.number"), ("date", "2026年13月1日", "kind.date"),
              ("year", "1850", "kind.number"), ("code", "教育局", "kind.code"), ("tick", "部分", "kind.tick")]


@pytest.mark.parametrize(("kind", "typed", "rule"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_added_field_of_the_wrong_kind_is_a_finding_at_its_cell(tmp_path: Path, kind: str, typed: str, rule: str) -> None:
    extra = {"list": "departments"} if kind == "code" else {}
    template = _kind_template(tmp_path, kind, extra)
    blank = tmp_path / "blank.xlsx"
    write_workbook(load_template(template), blank)
    type_cells(blank, {"f_added": typed})
    d = read_with(blank, template)
    hits = [f for f in check(d) if f.rule == rule]
    assert [(f.sheet, f.cell) for f in hits] == [field_ref(openpyxl.load_workbook(blank), "f_added")]
    assert typed in hits[0].message and "新增项" in hits[0].message


def test_required_added_field_left_blank_is_a_finding(tmp_path: Path) -> None:
    template = _kind_template(tmp_path, "text", {}, required=True)
    path = tmp_path / "f.xlsx"
    write_workbook(load_template(template), path, clean_form())
    findings = check(read_with(path, template))
    assert [(f.rule, f.field) for f in findings] == [("required.field", "新增项")]


def test_prompt_and_placement_after_a_field(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
fields:
  competent_dept: {label: 主管部门, kind: code, list: departments, after: unit, prompt: 请选择本单位的主管部门}
  project_code: {label: 项目代码, kind: text, after: name, limit: 30}
codes: {departments: [219001-区教育局]}
""")
    t = load_template(template)
    keys = [f.key for f in t.fields]
    assert keys[:4] == ["unit", "competent_dept", "name", "project_code"]
    layout = layout_for(t)
    assert layout.fields["competent_dept"].row == 3 and layout.fields["name"].row == 4  # 0-based: rows 4, 5
    path = tmp_path / "blank.xlsx"
    write_workbook(t, path)
    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet2.xml").decode()
        lists_xml = z.read("xl/sharedStrings.xml").decode()
    assert "请选择本单位的主管部门" in sheet_xml
    assert "219001-区教育局" in lists_xml  # the list a clerk picks from shows 编码-名称


# ---- columns and tables ----------------------------------------------------------------------------------


def test_added_columns_on_indicators_read_into_extra(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
columns:
  indicators:
    explain: {label: 指标解释, kind: long}
    score: {label: 分值, kind: number}
""")
    d = clean_form()
    d.indicators[0].extra = {"explain": "按合同约定的运维次数计算", "score": D("20")}
    path = tmp_path / "f.xlsx"
    write_workbook(load_template(template), path, d)
    got = read_with(path, template)
    assert got.indicators[0].extra == {"explain": "按合同约定的运维次数计算", "score": D("20")}
    assert got.indicators[1].extra == {"explain": "", "score": None}
    headers = [c.value for c in openpyxl.load_workbook(path)["绩效目标"][17]]
    assert "指标解释" in headers and "分值" in headers
    assert check(got) == []


def test_added_table_with_its_own_columns(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
choices: {fund_source: [一般公共预算, 政府性基金, 其他]}
tables:
  funding_sources:
    label: 资金来源明细
    rows: 3
    after: costs
    columns:
      source: {label: 资金来源, kind: choice, list: fund_source, required: true}
      amount: {label: 金额, kind: money}
      start: {label: 到位日期, kind: date}
""")
    d = clean_form()
    d.tables["funding_sources"] = [Row({"source": "一般公共预算", "amount": D("200000.00"), "start": date(2020, 3, 1)}),
                                   Row({"source": "", "amount": D("32124.00"), "start": None})]
    path = tmp_path / "f.xlsx"
    write_workbook(load_template(template), path, d)
    got = read_with(path, template)
    rows = got.tables["funding_sources"]
    assert [r.values for r in rows] == [r.values for r in d.tables["funding_sources"]]
    findings = check(got)
    assert [(f.rule, f.cell) for f in findings] == [("required.column", f"B{rows[1].row}")]
    wb = openpyxl.load_workbook(path)
    assert field_ref(wb, "t_funding_sources")[0] == "绩效目标"


def test_added_table_on_a_sheet_of_its_own(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
tables:
  assets:
    label: 资产配置明细
    sheet: 资产配置
    rows: 5
    columns:
      item: 资产名称
      count: {label: 数量, kind: integer}
""")
    d = clean_form()
    d.tables["assets"] = [Row({"item": "视频会议终端", "count": 12})]
    path = tmp_path / "f.xlsx"
    write_workbook(load_template(template), path, d)
    wb = openpyxl.load_workbook(path)
    assert "资产配置" in wb.sheetnames and wb["资产配置"].protection.sheet
    got = read_with(path, template)
    assert got.tables["assets"][0].values == {"item": "视频会议终端", "count": 12}


def test_second_indicator_table_is_checked_by_the_indicator_rules(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
tables:
  mid_indicators: {label: 中期绩效指标, like: indicators, rows: 6, after: indicators}
""")
    t = load_template(template)
    d = clean_form()
    d.tables["mid_indicators"] = [Indicator(level1="产出目标", level2="满意度", name="三年内覆盖率",
                                            target=parse_target("100%"), note="规划")]
    path = tmp_path / "f.xlsx"
    write_workbook(t, path, d)
    got = read_with(path, template)
    assert got.tables["mid_indicators"][0].name == "三年内覆盖率"
    pos = layout_for(t).tables["mid_indicators"]
    findings = {(f.rule, f.cell) for f in check(got)}
    # 满意度 is not a 二级 of 产出目标, and the table lacks the other required 一级 targets.
    assert ("indicators.level2", f"C{pos.first_row + 1}") in findings
    assert ("indicators.required_level1", f"B{pos.first_row + 1}") in findings
    assert all(cell.startswith(("B", "C")) and int(cell[1:]) > pos.header_row for _, cell in findings)


# ---- dropping and reordering ------------------------------------------------------------------------------


def test_dropped_field_has_no_cell_and_its_rules_do_not_run(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
drop: [fiscal_subordinate, leader]
required: [unit, name, contact]
""")
    t = load_template(template)
    assert not t.has("fiscal_subordinate") and not t.has("leader")
    path = tmp_path / "f.xlsx"
    d = clean_form()
    d.funding.fiscal_local = D(0)  # 财政拨款 ≠ its parts: but the parts rule does not apply without 下级财政配套
    write_workbook(t, path, d)
    wb = openpyxl.load_workbook(path)
    assert "f_fiscal_subordinate" not in wb.defined_names and "f_fiscal" in wb.defined_names
    checks = [row[0].value for row in wb["校验"].iter_rows(min_row=3) if row[0].value]
    assert not any("下级财政配套" in str(c) for c in checks)
    assert any("当年预算 = 财政拨款 + 其他资金" in str(c) for c in checks)
    rules = {f.rule for f in check(read_with(path, template))}
    assert "funding.fiscal_parts" not in rules
    out = invoke(["rules", "-t", template])
    assert out.exit_code == 0
    line = next(x for x in out.stdout.splitlines() if x.startswith("funding.fiscal_parts"))
    assert "不适用" in line and "fiscal_subordinate" in line


def test_reordered_section(tmp_path: Path) -> None:
    template = template_over(tmp_path, "order: {details: [overall_goal, annual_goal, resources, other_notes]}")
    t = load_template(template)
    base = layout_for(load_template("shanghai-2020"))
    moved = layout_for(t)
    assert moved.fields["overall_goal"].row == base.fields["resources"].row
    assert moved.fields["resources"].row == base.fields["annual_goal"].row
    path = tmp_path / "f.xlsx"
    d = clean_form()
    write_workbook(t, path, d)
    got = read_with(path, template)
    assert (got.project.overall_goal, got.project.resources) == (d.project.overall_goal, d.project.resources)
    assert check(got) == []


def test_label_edit_keeps_the_fingerprint_a_new_field_changes_it(tmp_path: Path) -> None:
    base = layout_for(load_template(template_over(tmp_path, "")))
    relabelled = layout_for(load_template(template_over(tmp_path, "labels: {name: 项目全称}")))
    assert relabelled.fingerprint == base.fingerprint
    added = layout_for(load_template(template_over(tmp_path, "fields: {x: {label: 新增}}")))
    assert added.fingerprint != base.fingerprint


def test_builtin_layout_unchanged_and_old_fingerprints_accepted() -> None:
    layout = layout_for(load_template("shanghai-2020"))
    assert layout.accepts(layout.legacy_fingerprint) and layout.accepts(layout.fingerprint)
    assert [(k, c.row) for k, c in layout.fields.items()][:3] == [("unit", 2), ("name", 3), ("category", 4)]


# ---- template check and template copy ----------------------------------------------------------------------


def test_template_check_lists_every_problem_with_the_valid_options(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
labels: {nmae: 项目全称}
choices: {unused_list: [a, b]}
fields:
  x: {label: 新增, kind: bogus}
  unit: {label: 单位}
drop: [name, no_such_field]
""")
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    problems = caught.value.problems
    keys = ["labels.nmae", "choices.unused_list", "fields.x.kind", "fields.unit", "drop"]
    for key in keys:
        assert any(f"键 {key} " in p for p in problems), (key, problems)
    assert any("labels.nmae" in p and "name" in p and "可用" in p for p in problems)
    assert any("fields.x.kind" in p and "integer" in p for p in problems)
    out = invoke(["template", "check", template])
    assert out.exit_code == 1
    assert all(any(f"键 {key} " in line for line in out.stdout.splitlines()) for key in keys)
    assert f"共 {len(problems)} 个问题" in out.stdout


def test_template_check_passes_a_good_template(tmp_path: Path) -> None:
    out = invoke(["template", "check", template_over(tmp_path, "fields: {x: {label: 新增, kind: integer}}")])
    assert out.exit_code == 0, out.output
    assert "可以使用" in out.stdout and "新增（x，integer）" in out.stdout


def test_template_copy_is_commented_loads_and_is_never_overwritten(tmp_path: Path) -> None:
    out_file = tmp_path / "hd-2026.yaml"
    r = invoke(["template", "copy", "mof-2021", "-o", str(out_file)])
    assert r.exit_code == 0, r.output
    text = out_file.read_text(encoding="utf-8")
    assert "id: hd-2026" in text and "# labels：" in text and "# fields:" in text
    t = load_template(out_file)
    assert t.id == "hd-2026" and t.labels == load_template("mof-2021").labels
    again = invoke(["template", "copy", "mof-2021", "-o", str(out_file)])
    assert again.exit_code == 2 and "不会覆盖" in again.stderr
    assert out_file.read_text(encoding="utf-8") == text
    # The examples at the end, uncommented, make a valid template.
    tail = text.split("# 以下是可选的写法示例")[1]
    assert "competent_dept" in tail


def test_the_readme_example_is_a_valid_template(tmp_path: Path) -> None:
    """The worked example in the README, merged over the built-in it starts from, loads and draws."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### 写一个本局模板")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    template = template_over(tmp_path, example, base="mof-2021")
    t = load_template(template)
    assert t.has("competent_dept") and not t.has("fiscal_subordinate")
    assert set(t.added_tables) == {"funding_sources", "mid_indicators"}
    path = tmp_path / "blank.xlsx"
    write_workbook(t, path)
    assert "t_funding_sources" in openpyxl.load_workbook(path).defined_names


def test_a_template_edited_in_place_is_read_again(tmp_path: Path) -> None:
    path = Path(template_over(tmp_path, "labels: {name: 项目名称}"))
    first = load_template(path)
    assert load_template(path) is first  # unchanged: the same object (layouts and plans cached per template)
    path.write_text(path.read_text(encoding="utf-8").replace("name: 项目名称", "name: 项目全称"), encoding="utf-8")
    assert load_template(path).labels["name"] == "项目全称"


def test_keys_that_would_share_a_name_are_refused(tmp_path: Path) -> None:
    template = template_over(tmp_path, """
fields:
  costs: {label: 成本}
  assets: {label: 资产}
tables:
  assets: {label: 资产配置, columns: {item: 资产名称}}
""")
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    assert any("fields.costs" in p for p in caught.value.problems)
    assert any("tables.assets" in p and "同名" in p for p in caught.value.problems)
