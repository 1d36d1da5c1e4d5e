"""A bureau's own rules, written in its template: each test writes the rule inline, fills a form and
states the finding (or its absence) and the cell it points at; the same rule live on 校验.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import clean_form, field_ref, template_over
from xlform.form.model import Declaration, Indicator, Row
from xlform.form.targets import parse_target
from xlform.form.template import TemplateError, load_template
from xlform.reading.reader import Registry, read
from xlform.review.findings import Finding
from xlform.review.rules import check
from xlform.writing.livechecks import FAIL, PASS, PENDING, live_checks
from xlform.writing.workbook import write_workbook

SPLIT = """
choices: {project_nature: [新增, 延续]}
fields:
  general_budget: {label: 一般公共预算, kind: money, section: funding}
  fund_budget: {label: 政府性基金, kind: money, section: funding}
  prior_budget: {label: 上年预算安排, kind: money, section: funding}
  project_nature: {label: 项目属性, kind: choice, list: project_nature, after: category}
columns:
  indicators:
    score: {label: 分值, kind: number}
"""


def bureau(tmp_path: Path, rules: str, extra: str = "") -> str:
    return template_over(tmp_path, SPLIT + rules + extra)


def findings(tmp_path: Path, template: str, d: Declaration) -> tuple[list[Finding], Path]:
    path = tmp_path / "f.xlsx"
    write_workbook(load_template(template), path, d)
    return check(read(path, Registry([template]))), path


def custom(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.rule.startswith("custom.")]


def filled(**extra: object) -> Declaration:
    d = clean_form()
    d.extra.update({"general_budget": D("200000.00"), "fund_budget": D("32124.00"), "project_nature": "新增"})
    d.extra.update(extra)
    return d


SPLIT_RULE = """
rules:
  split_sum:
    title: 各来源之和等于当年预算
    check: general_budget + fund_budget = current_year
    message: 各来源之和 {general_budget + fund_budget} 与当年预算 {current_year} 不一致。
"""


def test_arithmetic_rule_passes_and_fails_at_the_first_field_it_names(tmp_path: Path) -> None:
    template = bureau(tmp_path, SPLIT_RULE)
    found, path = findings(tmp_path, template, filled())
    assert custom(found) == []
    found, path = findings(tmp_path, template, filled(fund_budget=D("30000.00")))
    hits = custom(found)
    assert [(f.rule, f.severity) for f in hits] == [("custom.split_sum", "error")]
    assert (hits[0].sheet, hits[0].cell) == field_ref(openpyxl.load_workbook(path), "f_general_budget")
    assert hits[0].message == "各来源之和 230,000.00 与当年预算 232,124.00 不一致。"


def test_a_difference_under_half_a_cent_passes(tmp_path: Path) -> None:
    template = bureau(tmp_path, SPLIT_RULE)
    assert custom(findings(tmp_path, template, filled(fund_budget=D("32123.996")))[0]) == []
    assert custom(findings(tmp_path, template, filled(fund_budget=D("32123.99")))[0])


def test_when_limits_the_rule_and_cell_names_where_it_points(tmp_path: Path) -> None:
    template = bureau(tmp_path, """
rules:
  prior_required:
    title: 延续项目须填上年预算安排
    check: not blank(prior_budget)
    when: project_nature = "延续"
    cell: prior_budget
    severity: 提示
""")
    assert custom(findings(tmp_path, template, filled())[0]) == []  # 新增: the rule does not apply
    found, path = findings(tmp_path, template, filled(project_nature="延续"))
    hits = custom(found)
    assert [(f.rule, f.severity, f.message) for f in hits] == [("custom.prior_required", "warning", "延续项目须填上年预算安排")]
    assert (hits[0].sheet, hits[0].cell) == field_ref(openpyxl.load_workbook(path), "f_prior_budget")
    assert custom(findings(tmp_path, template, filled(project_nature="延续", prior_budget=D(1)))[0]) == []


def test_sum_over_a_column_points_at_the_column(tmp_path: Path) -> None:
    template = bureau(tmp_path, """
rules:
  score_total:
    title: 指标分值合计为 100
    check: sum(indicators.score) = 100
    message: 各指标分值合计 {sum(indicators.score)}，应为 100。
""")
    d = filled()
    for i, score in zip(d.indicators, (20, 20, 20, 20, 10), strict=True):
        i.extra["score"] = D(score)
    hits = custom(findings(tmp_path, template, d)[0])
    assert [f.message for f in hits] == ["各指标分值合计 90，应为 100。"]
    assert hits[0].cell.startswith("H")  # 分值 follows 指标解释（指标库）: the seventh column of the indicator table (B..H)
    d.indicators[-1].extra["score"] = D(20)
    assert custom(findings(tmp_path, template, d)[0]) == []


def test_count_len_abs_round_and_or(tmp_path: Path) -> None:
    template = bureau(tmp_path, """
rules:
  enough_indicators:
    title: 至少 6 项指标
    check: count(indicators) >= 6 or len(overview) > 1000
  rounding:
    title: 当年预算取整到百元
    check: abs(current_year - round(current_year / 100, 0) * 100) = 0 and current_year > 0
""")
    d = filled()
    hits = {f.rule for f in custom(findings(tmp_path, template, d)[0])}
    assert hits == {"custom.enough_indicators", "custom.rounding"}
    d.indicators.append(Indicator(level1="产出目标", level2="数量", name="培训人次", target=parse_target("≥100人次")))
    for key in ("current_year", "total", "fiscal", "fiscal_local"):
        setattr(d.funding, key, D("232100.00"))
    d.activities[0].amount = d.costs[0].amount = d.costs[0].unit_price = D("232100.00")
    d.extra["general_budget"] = D("199976.00")
    assert custom(findings(tmp_path, template, d)[0]) == []


def test_a_table_row_count_in_an_added_table(tmp_path: Path) -> None:
    template = bureau(tmp_path, """
rules:
  sources_listed:
    title: 须列明资金来源
    check: count(funding_sources) >= 1
    cell: funding_sources.source
""", """
tables:
  funding_sources:
    label: 资金来源明细
    columns: {source: 资金来源, amount: {label: 金额, kind: money}}
""")
    hits = custom(findings(tmp_path, template, filled())[0])
    assert [f.rule for f in hits] == ["custom.sources_listed"] and hits[0].field == "资金来源"
    d = filled()
    d.tables["funding_sources"] = [Row({"source": "一般公共预算", "amount": D(1)})]
    assert custom(findings(tmp_path, template, d)[0]) == []


BAD_RULES = [
    ("check: general_budget + = current_year", "rules.bad.check", "第 18 个字符"),
    ("check: curent_year = 1", "rules.bad.check", "curent_year"),
    ("check: general_budget + project_nature = 1", "rules.bad.check", "文字"),
    ("check: general_budget", "rules.bad.check", "条件"),
    ("check: current_year = 1\n    message: 合计 {sum(indicators.nope)}", "rules.bad.message", "nope"),
    ("check: current_year = 1\n    severity: fatal", "rules.bad.severity", "error"),
    ("check: current_year = 1\n    cell: nowhere", "rules.bad.cell", "nowhere"),
]


@pytest.mark.parametrize(("body", "key", "says"), BAD_RULES, ids=[b[1] + "-" + b[2] for b in BAD_RULES])
def test_a_bad_rule_names_the_file_the_rule_and_the_position(tmp_path: Path, body: str, key: str, says: str) -> None:
    template = bureau(tmp_path, f"\nrules:\n  bad:\n    title: 坏规则\n    {body}\n")
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    problem = next(p for p in caught.value.problems if f"键 {key} " in p)
    assert template in problem and says in problem, problem


def test_builtin_rules_off_severity_and_threshold(tmp_path: Path) -> None:
    d = clean_form()
    d.funding.fiscal_local = D(0)  # 财政拨款 ≠ its parts
    for key in ("current_year", "total", "fiscal"):
        setattr(d.funding, key, D("800.00"))
    d.funding.fiscal_local = D("800.00")
    d.activities[0].amount = d.costs[0].amount = d.costs[0].unit_price = D("800.00")
    base = {f.rule: f.severity for f in findings(tmp_path, template_over(tmp_path, ""), d)[0]}
    assert base.get("funding.unit") == "warning"  # 800 元 is small for a 元 form
    configured = template_over(tmp_path, """
builtin_rules:
  funding.unit: {severity: error, yuan_min: 500}
  goal.target_unmatched: {enabled: false}
""")
    assert "funding.unit" not in {f.rule for f in findings(tmp_path, configured, d)[0]}  # 800 ≥ 500
    stricter = template_over(tmp_path, "builtin_rules: {funding.unit: {severity: error, yuan_min: 5000}}")
    assert {f.rule: f.severity for f in findings(tmp_path, stricter, d)[0]}["funding.unit"] == "error"
    out = invoke(["rules", "-t", configured])
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "不适用" in lines["goal.target_unmatched"] and "关闭" in lines["goal.target_unmatched"]
    assert "yuan_min = 500" in lines["funding.unit"] and "错误" in lines["funding.unit"]


def test_unknown_builtin_rule_or_threshold_is_a_template_problem(tmp_path: Path) -> None:
    template = template_over(tmp_path, "builtin_rules: {funding.nope: {enabled: false}, funding.unit: {yuan: 3}}")
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    assert any("builtin_rules.funding.nope" in p for p in caught.value.problems)
    assert any("builtin_rules.funding.unit.yuan" in p and "yuan_min" in p for p in caught.value.problems)


def test_rules_list_shows_the_bureau_rules(tmp_path: Path) -> None:
    out = invoke(["rules", "-t", bureau(tmp_path, SPLIT_RULE)])
    assert out.exit_code == 0
    assert any(line.startswith("custom.split_sum") and "general_budget + fund_budget = current_year" in line
               for line in out.stdout.splitlines())


def test_bureau_rule_is_live_on_the_check_sheet_with_cached_status(tmp_path: Path) -> None:
    template = bureau(tmp_path, SPLIT_RULE)
    t = load_template(template)
    checks = live_checks(t)
    assert checks[-1].id == "custom.split_sum"
    row = 3 + len(checks) - 1
    path = tmp_path / "bad.xlsx"
    write_workbook(t, path, filled(fund_budget=D("30000.00")))
    ws = openpyxl.load_workbook(path)["校验"]
    assert ws.cell(row=row, column=1).value == "各来源之和等于当年预算"
    formula = openpyxl.load_workbook(path)["校验"].cell(row=row, column=2).value
    assert "f_general_budget" in formula and "ROUND" in formula
    cached = openpyxl.load_workbook(path, data_only=True)["校验"]
    assert cached.cell(row=row, column=2).value == FAIL
    assert "各来源之和" in cached.cell(row=row, column=3).value and "一般公共预算" in cached.cell(row=row, column=3).value
    good = tmp_path / "good.xlsx"
    write_workbook(t, good, filled())
    assert openpyxl.load_workbook(good, data_only=True)["校验"].cell(row=row, column=2).value == PASS
    blank = tmp_path / "blank.xlsx"
    write_workbook(t, blank)
    assert openpyxl.load_workbook(blank, data_only=True)["校验"].cell(row=row, column=2).value == PENDING
    # The inputs it names turn red while it fails.
    sheet = openpyxl.load_workbook(path)[t.sheets["project"]]
    cell = field_ref(openpyxl.load_workbook(path), "f_general_budget")[1]
    assert any(cell in str(rng) for rng in sheet.conditional_formatting)


@pytest.mark.libreoffice
def test_bureau_rule_turns_as_a_clerk_types_in_libreoffice(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    from tests.lo import fill_cells

    template = bureau(tmp_path, SPLIT_RULE)
    t = load_template(template)
    row = 2 + len(live_checks(t)) - 1  # 0-based row of the bureau rule on 校验
    blank = tmp_path / "blank.xlsx"
    write_workbook(t, blank)
    statuses = []
    for name, budget in (("bad", "30000"), ("good", "32124")):
        out = tmp_path / f"{name}.xlsx"
        fill_cells(blank, out, {"*": {"name:f_current_year": "232124", "name:f_general_budget": "200000",
                                      "name:f_fund_budget": budget}})
        statuses.append(CalamineWorkbook.from_path(str(out)).get_sheet_by_name("校验").to_python()[row][1])
    assert statuses == [FAIL, PASS]
