"""The reviewer's catalogue, rule by rule, on real workbooks.

Every case is a small filled form written inline: the clean form below (the
real sample with what it lacks filled in), then `field → value` changes that
break exactly one rule. The form is written to a real .xlsx, read back and
checked; the bad form must fire the rule at the cell a person has to fix, with
the numbers in the message, and a nearby good form must be silent.
Reader rules (kind.*) need a cell typed wrongly, which a Declaration cannot
hold: those cases also type raw values into the written workbook.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from tests.helpers import BUREAU, DELETE, clean_form, clean_sample, fill_issued, filled, sheet_names
from tests.helpers import indicator as _ind
from tests.timing import assert_linear
from xlform.form.model import Activity, CostItem, Declaration, Row
from xlform.form.sample import sample_declaration
from xlform.form.template import load_template, templates_dir
from xlform.form.values import Coded
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.reading.reader import Registry, read
from xlform.review.findings import SHOWN_LIMIT, Finding
from xlform.review.result import check_file, result_text
from xlform.review.rules import RULES, catalogue, check
from xlform.writing.workbook import write_workbook

P, G, Z = sheet_names()  # the same three sheet names in both built-in templates
AMOUNT = D("232124.00")


def type_into(path: Path, cells: dict[tuple[str, str], Any]) -> None:
    """What a clerk does in Excel: type raw values into cells, save."""
    wb = openpyxl.load_workbook(path)
    for (sheet, address), value in cells.items():
        wb[sheet][address].value = value
    wb.save(path)


@dataclass
class Case:
    rule: str
    bad: dict[str, Any]  # field → value: what breaks the rule
    where: tuple[str, str]  # (sheet, cell) the finding must point at
    says: tuple[str, ...]  # what the message must contain (the numbers a reviewer quotes)
    good: dict[str, Any] = field(default_factory=dict)  # a nearby form that passes
    cells: dict[tuple[str, str], Any] = field(default_factory=dict)  # raw values typed after writing (bad)
    good_cells: dict[tuple[str, str], Any] = field(default_factory=dict)
    template: str = "shanghai-2020"
    also: frozenset[str] = frozenset()  # other rules the bad form legitimately trips
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.rule}{'-' + self.name if self.name else ''}"


CASES = [
    # ---- 项目总体情况 -------------------------------------------------------------
    Case("required.field", {"project.contact": ""}, (P, "E6"), ("联系人", "必填")),
    Case("required.field", {"funding.other": None}, (P, "E19"), ("（二）其他资金",), name="money",
         good={"funding.other": D(0)}),
    Case("required.field", {"project.start_date": None}, (P, "C8"), ("起始日期",), name="date"),
    Case("choice.category", {"project.category": "专项项目"}, (P, "C5"), ("专项项目", "一次性项目"),
         good={"project.category": "中期预算试点项目"}),
    Case("format.phone", {"project.phone": "2403313"}, (P, "E7"), ("2403313",),
         good={"project.phone": "021-24033138"}),
    Case("format.phone", {"project.phone": "1380000000"}, (P, "E7"), ("1380000000",), name="mobile",
         good={"project.phone": "13800000000"}),
    Case("text.length", {"project.overview": "长" * 301}, (P, "C9"), ("项目概况", "301 字", "上限 300 字"),
         good={"project.overview": "长" * 300}),
    Case("text.length", {"project.basis": "依据。\n" * 10}, (P, "C10"), ("336 字", "9 处换行", "34 字计"),
         name="breaks", good={"project.basis": "依据。\n" * 8}),
    Case("text.length", {"guarantees[0].measures": "措" * 101}, (Z, "C7"), ("具体措施", "101 字", "上限 100 字"),
         name="table", good={"guarantees[0].measures": "措" * 100}),
    Case("money.value", {"funding.fiscal_superior": D("-100"), "funding.fiscal_local": D("232224")},
         (P, "E16"), ("-100.00", "负数"),
         good={"funding.fiscal_superior": D("100"), "funding.fiscal_local": D("232024")}),
    Case("money.value", {"funding.fiscal_superior": D("0.005"), "funding.fiscal_local": D("232123.995")},
         (P, "E17"), ("232123.995", "两位小数"), name="decimals",
         good={"funding.fiscal_superior": D("0.01"), "funding.fiscal_local": D("232123.99")}),
    Case("money.value", {"costs[0].unit_price": D("77374.666"), "costs[0].quantity": D("3"), "costs[0].amount": AMOUNT},
         (G, "F40"), ("77374.666",), name="unit-price",
         good={"amounts": D("232124.01"), "costs[0].unit_price": D("77374.67"), "costs[0].quantity": D("3")}),
    Case("funding.fiscal_parts", {"funding.fiscal_local": D("200000")}, (P, "E15"), ("232,124.00", "200,000.00"),
         good={"funding.fiscal_superior": D("32124"), "funding.fiscal_local": D("200000")}),
    Case("funding.current_year_sum", {"funding.other": D("1000")}, (P, "E14"), ("232,124.00", "233,124.00"),
         good={"funding.other": D("1000"), "funding.fiscal": D("231124"), "funding.fiscal_local": D("231124")}),
    Case("funding.current_year_le_total", {"funding.total": D("100000")}, (P, "E14"), ("232,124.00", "100,000.00"),
         good={"funding.total": D("500000")}),
    Case("funding.unit", {"amounts": D("23.21")}, (P, "E14"), ("23.21", "万元"), good={"amounts": D("1000")}),
    Case("funding.unit", {"amounts": AMOUNT}, (P, "E14"), ("232,124.00", "23.21 亿元"), template="mof-2021",
         name="wan-yuan", good={"amounts": D("99999.99")}),
    Case("dates.order", {"project.start_date": date(2020, 12, 31), "project.end_date": date(2020, 1, 1)},
         (P, "E8"), ("2020-01-01", "2020-12-31"),
         good={"project.start_date": date(2020, 12, 31), "project.end_date": date(2020, 12, 31)}),
    Case("dates.budget_year", {"project.start_date": date(2019, 7, 1)}, (P, "C8"), ("2019-07-01", "2020"),
         good={"project.start_date": date(2020, 7, 1)}),
    Case("dates.budget_year", {"project.end_date": date(2021, 3, 31)}, (P, "E8"), ("2021-03-31", "2020"),
         name="end"),
    # ---- 绩效目标 --------------------------------------------------------------
    Case("activities.total",
         {"activities": [Activity("音频音控系统", D("100000")), Activity("视频系统", D("100000"))]},
         (G, "C8"), ("200,000.00", "232,124.00"),
         good={"activities": [Activity("音频音控系统", D("100000")), Activity("视频系统", D("132124"))]}),
    Case("activities.level1", {"activities[0].level1": "产出"}, (G, "D7"), ("产出", "产出目标、效果目标、影响力目标"),
         good={"activities[0].level1": "产出目标"}),
    Case("indicators.level1", {"indicators[1].level1": "产出指标"}, (G, "B19"), ("产出指标", "产出目标"),
         good={"indicators[1].level1": "产出目标"}),
    Case("indicators.level1", {"indicators[1].level1": "产出目标"}, (G, "B19"), ("产出目标", "成本指标"),
         template="mof-2021", name="mof", good={"indicators[1].level1": "产出指标"}),
    Case("indicators.level2", {"indicators[1].level2": "满意度"}, (G, "C19"), ("满意度", "产出目标", "数量、质量、时效、成本"),
         good={"indicators[1].level2": "成本"}),
    Case("indicators.level2", {"indicators[1].level2": ""}, (G, "C19"), ("第 19 行",), name="empty"),
    Case("indicators.required_level1", {"indicators[3]": DELETE}, (G, "B18"), ("效果目标", "经济效益"),
         good={"indicators[3].level2": "生态效益"}),
    Case("indicators.name", {"indicators[1].name": ""}, (G, "D19"), ("第 19 行",)),
    Case("indicators.target", {"indicators[2].target": ""}, (G, "E20"), ("运维完成及时性",),
         good={"indicators[2].target": "良好"}),
    Case("indicators.target_format", {"indicators[3].target": "1-2次"}, (G, "E21"), ("1-2次", "视频会议正常召开"),
         good={"indicators[3].target": "≥ 1,000 人次"}),
    Case("indicators.target_format", {"indicators[2].target": "2026年13月底前"}, (G, "E20"),
         ("2026年13月底前", "运维完成及时性", "2026年6月30日前"), name="deadline",
         good={"indicators[2].target": "2020年12月底前"}),
    Case("indicators.target_format", {"indicators[3].name": "", "indicators[3].target": "1-2次"}, (G, "E21"),
         ("第 21 行", "1-2次"), name="unnamed", also=frozenset({"indicators.name"})),
    Case("indicators.percent_unit_missing", {"indicators[4].target": "95"}, (G, "E22"), ("系统使用满意度", "“95”", "95%"),
         good={"indicators[4].target": "≥95%"}),
    Case("indicators.percent_unit_missing", {"indicators[0].target": "100"}, (G, "E18"), ("系统运维完成率", "100%"),
         name="rate", good={"indicators[0].target": "100%"}),
    Case("indicators.percent_unit_missing", {}, (G, "E22"), ("“95”",), name="number-cell",
         cells={(G, "E22"): 95}, good_cells={(G, "E22"): "95%"}),
    Case("goal.target_mismatch", {"project.annual_goal": "系统运维完成率达到100%，满意率达到85%以上。"},
         (P, "C22"), ("85%", "95%", "系统使用满意度", f"{G}!E22"),
         good={"project.annual_goal": "系统运维完成率达到100%，满意率达到95%以上。"}),
    Case("goal.target_mismatch", {"indicators[0].target": "≥90%"}, (P, "C22"), ("100%", "90%", f"{G}!E18"),
         name="indicator-side", good={"indicators[0].target": "≥100%"}),
    Case("goal.target_mismatch", {"indicators[4].target": "90"}, (P, "C22"), ("满意度达到95%以上", "95% 与 90%", "“90”"),
         name="unit-missing", also=frozenset({"indicators.percent_unit_missing"})),
    Case("goal.target_unmatched", {"project.annual_goal": "设备有效使用率达到99.5%以上，满意度达到95%以上。"},
         (P, "C22"), ("设备有效使用率", "99.5%"),
         good={"project.annual_goal": "会议保障有序进行，满意度达到95%以上。"}),
    # ---- carried over from last year: this year's target against the locked 上年目标值 ----------
    Case("indicators.copied_target", {"indicators[4].last_target": "95%"}, (G, "E22"),
         ("系统使用满意度", "“95%”", "上年目标值“95%”", "备注"), good={"indicators[4].last_target": "90%"}),
    Case("indicators.copied_target", {"indicators[4].target": "≥ 95 %", "indicators[4].last_target": "不低于95%"},
         (G, "E22"), ("“≥ 95 %”", "上年目标值“不低于95%”"), name="same-figure",
         good={"indicators[4].target": "≥ 95 %", "indicators[4].last_target": "≥95分"}),
    Case("indicators.target_lowered", {"indicators[4].last_target": "≥98%"}, (G, "E22"),
         ("“95%”", "低于上年目标值“≥98%”", "降低"), good={"indicators[4].last_target": "≥ 90 %"}),
    Case("indicators.target_lowered", {"indicators[3].target": "≤15次", "indicators[3].last_target": "≤10次"},
         (G, "E21"), ("“≤15次”", "高于上年目标值“≤10次”", "放宽"), name="at-most",
         good={"indicators[3].target": "≤8次", "indicators[3].last_target": "≤10次"}),
    Case("indicators.library_mismatch", {"indicators[1].target": "≤100%"}, (G, "E19"),
         ("系统运维质量达标率", "“≤100%”", "方向 ≤ 与指标库的 ≥ 不同"), good={"indicators[1].target": "≥100%"}),
    # ---- 项目构成分解 ------------------------------------------------------------
    Case("costs.row", {"costs[0].unit_price": D("1000"), "costs[0].quantity": D("3")}, (G, "E40"),
         ("1,000.00", "数量 3", "3,000.00", "232,124.00"),
         good={"costs": [CostItem(detail="维护", amount=D("3000"), unit_price=D("1000"), quantity=D("3")),
                         CostItem(detail="设备", amount=D("229124"), unit_price=D("229124"), quantity=D("1"))]}),
    Case("costs.row", {"costs[0].unit_price": D("1000.005"), "costs[0].quantity": D("3")}, (G, "E40"),
         ("单价 1000.005", "3000.015"), name="decimals", also=frozenset({"money.value"})),
    Case("costs.row", {"costs[0].project": "", "costs[0].content": "", "costs[0].detail": "",
                       "costs[0].unit_price": D("1000"), "costs[0].quantity": D("3")}, (G, "E40"), ("第 40 行", "3,000.00"),
         name="unnamed"),
    Case("costs.total", {"costs[0].amount": D("200000"), "costs[0].unit_price": D("200000")}, (G, "E40"),
         ("200,000.00", "232,124.00"),
         good={"costs": [CostItem(detail="维护", amount=D("32124")), CostItem(detail="设备", amount=D("200000"))]}),
    Case("costs.total", {"costs": []}, (G, "E40"), ("未填写项目构成分解", "232,124.00"), name="empty"),
    # ---- 制度保障 --------------------------------------------------------------
    Case("guarantees.stage", {"guarantees[1].planning": False, "guarantees[1].implementation": False,
                              "guarantees[1].completion": False}, (Z, "D8"), ("闵行区机关事务管理局内控指南",),
         good={"guarantees[1].planning": False, "guarantees[1].completion": False}),
    Case("guarantees.document", {"guarantees[2].document": ""}, (Z, "B9"), ("第 9 行", "财务管理制度"),
         good={"guarantees[2].document": "闵行区财务管理办法"}),
    Case("guarantees.kind", {"guarantees[0].kind": "其他制度"}, (Z, "A7"), ("其他制度",),
         good={"guarantees[0].kind": "财务管理制度"}),
    # ---- reader rules: a cell typed with something that is not a value of its kind ----
    Case("kind.money", {}, (P, "E13"), ("一、项目总预算", "不是有效的金额", "二十三万"),
         cells={(P, "E13"): "二十三万"}, good_cells={(P, "E13"): "232,124.00"}),
    Case("kind.number", {}, (G, "H40"), ("数量", "一批"), cells={(G, "H40"): "一批"}, good_cells={(G, "H40"): "１"}),
    Case("kind.date", {}, (P, "C8"), ("起始日期", "2020年13月"), cells={(P, "C8"): "2020年13月1日"},
         good_cells={(P, "C8"): "2020年1月1日"}),
    Case("kind.tick", {}, (Z, "E7"), ("实施阶段", "部分"), cells={(Z, "E7"): "部分"}, good_cells={(Z, "E7"): "√"}),
    # ---- what a bureau's template adds (tests/templates/bureau-2026.yaml) ----------------------
    Case("choice.value", {"extra.project_nature": "续建"}, (P, "C7"), ("项目属性", "续建", "新增、延续"),
         good={"extra.project_nature": "延续"}, template=BUREAU),
    Case("code.value", {"extra.competent_dept": Coded("219009", "区教育局")}, (P, "C4"),
         ("主管部门", "219009", "219001"), good={"extra.competent_dept": Coded("219001", "区教育局")},
         template=BUREAU),
    Case("code.value", {"extra.competent_dept": Coded("219002", "区教育局")}, (P, "C4"),
         ("219002-区教育局", "区卫生健康委"), template=BUREAU, name="name"),
    Case("kind.code", {}, (P, "C4"), ("主管部门", "教育局"), cells={(P, "C4"): "教育局"},
         good_cells={(P, "C4"): "219003-区民政局"}, template=BUREAU),
    Case("kind.number", {}, (P, "C27"), ("受益人数", "12.5", "整数"), cells={(P, "C27"): 12.5},
         good_cells={(P, "C27"): "１２"}, template=BUREAU, name="integer"),
    Case("required.column", {"tables.funding_sources": [Row({"amount": D(100)})]}, (G, "B58"),
         ("资金来源明细", "资金来源"), good={"tables.funding_sources": [Row({"source": "其他", "amount": D(100)})]},
         template=BUREAU),
    Case("money.value", {"extra.prior_budget": D("-5")}, (P, "E22"), ("上年预算安排", "-5"), template=BUREAU,
         name="added", good={"extra.prior_budget": D("5.10")}),
    Case("money.value", {"tables.funding_sources": [Row({"source": "其他", "amount": D("1.005")})]}, (G, "C58"),
         ("金额", "1.005"), template=BUREAU, name="added-table"),
]


def findings_of(write: Callable[..., Path], template: str, changes: dict[str, Any],
                cells: dict[tuple[str, str], Any]) -> tuple[Declaration, list[Finding]]:
    path = write(filled(template, changes), template)
    if cells:
        type_into(path, cells)
    d = read(path, Registry([template]) if template == BUREAU else None)
    return d, check(d)


def show(findings: list[Finding]) -> str:
    return "\n".join(f"{f.rule} {f.where} {f.message}" for f in findings)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_fires_at_the_cell_to_fix(write, case: Case) -> None:
    _, findings = findings_of(write, case.template, case.bad, case.cells)
    hits = [f for f in findings if f.rule == case.rule and (f.sheet, f.cell) == case.where]
    assert hits, f"{case.rule} did not fire at {case.where[0]}!{case.where[1]}:\n{show(findings)}"
    for text in case.says:
        assert text in hits[0].message, (text, hits[0].message)
    severity = next((sev for rid, sev, _, _ in catalogue() if rid == case.rule), None)
    assert hits[0].severity == severity
    assert {f.rule for f in findings} == {case.rule} | case.also, show(findings)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_silent_on_the_good_form(write, case: Case) -> None:
    _, findings = findings_of(write, case.template, case.good, case.good_cells)
    assert findings == [], show(findings)


@pytest.mark.parametrize("template", ["shanghai-2020", "mof-2021"])
def test_clean_form_is_clean_in_memory_and_read_back(write, template: str) -> None:
    assert check(clean_form(template)) == []
    assert check(read(write(clean_form(template), template))) == []


def test_every_rule_has_a_firing_case() -> None:
    """Adding a rule to the catalogue without a case here fails this test."""
    from tests.test_indicator_quality import CASES as QUALITY_CASES  # here: that module imports this one

    covered = {c.rule for c in CASES + QUALITY_CASES}
    rule_ids = {r.id for r in RULES} | {rid for rid, *_ in catalogue() if rid.startswith("kind.")}
    assert rule_ids - covered == set()
    assert covered - {rid for rid, *_ in catalogue()} == set()  # and no case for a rule that does not exist


# ---- what every message says --------------------------------------------------------

# Latin words a message may contain: file kinds and the macro language, as a clerk sees them in Excel.
LATIN_WORDS = {"VBA", "xlsx", "xlsm"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_message_quotes_the_value_found(write, case: Case) -> None:
    """The value a message names is the value in the cell, never a rounded one, said once, in Chinese."""
    _, findings = findings_of(write, case.template, case.bad, case.cells)
    for f in findings:
        if f.value:
            assert f.value in f.message, (f.value, f.message)
        assert f.text == f.message  # the message already names the value: nothing added
        assert f.message.count("现为") <= 1, f.message
        assert "“”" not in f.message and "（）" not in f.message, f.message
        assert f.message.endswith("。"), f.message
        assert set(re.findall(r"[A-Za-z]{2,}", f.message)) <= LATIN_WORDS, f.message


@pytest.mark.parametrize("cells", [
    {(G, "E17"): "指标值"},  # a column header edited: the table is not read
    {(P, "B13"): "一、项目总预算（含追加）"},  # a label edited beside a named cell
    {(P, "E13"): "二十三万" * 100},  # a long text where money belongs
], ids=["header", "label", "long"])
def test_reader_findings_quote_the_value_found(write, cells) -> None:
    _, findings = findings_of(write, "shanghai-2020", {}, cells)
    assert findings
    for f in findings:
        assert f.value in f.message and f.text == f.message, (f.value, f.message)
        assert f.message.endswith("。") and f.message.count("现为") <= 1, f.message
    long = [f for f in findings if f.rule == "kind.money"]
    if long:  # cut to the same length in both, and said to be cut
        assert long[0].value.endswith("…") and len(long[0].value) == SHOWN_LIMIT


def test_container_findings_quote_the_value_found(write) -> None:
    """工作表保护被取消, 含宏, 含外部链接: said in the message, not added again after it."""
    path = write(clean_form())
    wb = openpyxl.load_workbook(path)
    wb[P].protection.sheet = False
    wb.save(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/vbaProject.bin", b"\0" * 64)
        z.writestr("xl/externalLinks/externalLink1.xml", b'<?xml version="1.0"?><externalLink/>')
    findings = check(read(path))
    assert {f.rule for f in findings} == {"structure.unprotected", "structure.macros", "structure.external_links"}
    for f in findings:
        assert f.value and f.value in f.message and f.text == f.message, (f.value, f.message)


def test_catalogue_is_in_chinese() -> None:
    for rule_id, _, title, example in catalogue():
        assert re.search(r"[\u4e00-\u9fff]", title) and example.endswith("。"), rule_id
        assert set(re.findall(r"[A-Za-z]{2,}", title + example)) <= LATIN_WORDS, rule_id


def test_money_with_more_decimals_is_shown_as_typed(write) -> None:
    """The trial's case: “最多保留两位小数（现为 1020.001）。（现为：1,020.00）” contradicted itself."""
    changes = {"funding.fiscal_superior": D("1020.001"), "funding.fiscal_local": D("231103.999")}
    result = check_file(write(filled("shanghai-2020", changes)))
    money = [f for f in result.findings if f.rule == "money.value"]
    assert [(f.cell, f.value) for f in money] == [("E16", "1020.001"), ("E17", "231103.999")]
    text = result_text(result)
    assert "1,020.00" not in text and "231,104.00" not in text
    line = next(line for line in text.splitlines() if "E16" in line)
    assert line.count("1020.001") == 1 and line.count("现为") == 1, line


@pytest.mark.parametrize(("amount", "shown"), [
    (D("1" * 40), []),
    (D("1" * 40 + ".001"), ["1" * 40 + ".001"]),
    (D("1E+40"), []),
    (D("-1E+40"), ["-10" + ",000" * 13 + ".00"]),
    (D("1.000"), []),  # typed with three zeros: still whole cents
])
def test_amounts_of_any_size_are_checked(amount: D, shown: list[str]) -> None:
    """Decimal's 28 digits are no limit on what a cell holds: a huge amount is a finding, not a crash."""
    findings = check(filled("shanghai-2020", {"funding.other": amount}))
    assert [f.value for f in findings if f.rule == "money.value"] == shown


def test_text_adds_the_value_only_where_the_message_lacks_it() -> None:
    quoted = Finding("money.value", "error", P, "E16", "金额", "1020.001", "“金额”最多保留两位小数（现为 1020.001）。")
    assert quoted.text == quoted.message
    unquoted = Finding("structure.unprotected", "warning", P, "", "工作表保护", "未保护", "工作表的保护被取消。")
    assert unquoted.text == "工作表的保护被取消。（现为：未保护）"
    assert Finding("required.field", "error", P, "E6", "联系人", "", "“联系人”为必填项，请填写。").text.endswith("请填写。")


# ---- 时效 targets: a deadline is a target, not an unreadable number ----------------------

DEADLINES = ["2026年8月底前", "2026-06-30", "2026年6月30日前", "6月底", "12月31日前", "年底前", "第三季度", "按期完成",
             "2026.6.30", "2026/6/30", "上半年完成", "当年完成", "10个工作日内", "２０２６年６月３０日前", "2026年年底前",
             "2026年3月至6月", "1-6月", "每月10日前", "10个工作日内完成", "于2026年6月底前完成设备安装"]  # fmt: skip


@pytest.mark.parametrize("template", ["shanghai-2020", "mof-2021"])
def test_deadline_targets_pass(write, template: str) -> None:
    """Every return in the trial got target_format for its 时效 deadline; none should (in a 2026 project, so that
    every deadline is inside its dates)."""
    year_2026 = {"identity.year": 2026, "project.start_date": date(2026, 1, 1), "project.end_date": date(2026, 12, 31)}
    for target in DEADLINES:
        d = filled(template, {**year_2026, "indicators[2].target": target})
        findings = check(read(write(d, template)))
        assert findings == [], (target, show(findings))
        assert check(d) == [], target


@pytest.mark.parametrize("raw", ["2026年13月底前", "6月32日前", "2026-02-30"])
def test_timeliness_hints_are_deadlines(raw: str) -> None:
    """A 时效 indicator is told how to write a deadline, not “≥95%”, whether its target is bad or empty."""
    for target in (raw, ""):
        findings = check(filled("shanghai-2020", {"indicators[2].target": target}))
        [f] = [f for f in findings if f.rule in ("indicators.target_format", "indicators.target")]
        assert "≥95%" not in f.message and "2026年6月30日前" in f.message, f.message
    mof = check(filled("mof-2021", {"indicators[0].target": "约23万元"}))  # 成本指标: a cap, not ≥
    [f] = [f for f in mof if f.rule == "indicators.target_format"]
    assert "≥95%" not in f.message and "≤" in f.message, f.message


# ---- a text of any length is checked quickly --------------------------------------------

GOAL_TEXTS = {
    "joining words": lambda n: "和" * n,
    "verbs without numbers": lambda n: "满意度达到" * (n // 5),
    "many targets": lambda n: "满意度达到95%以上，" * (n // 10),
    "one long subject": lambda n: "甲" * n + "为1",
    "spaces": lambda n: "1" + " " * n + "1",
}


@pytest.mark.parametrize("make", GOAL_TEXTS.values(), ids=GOAL_TEXTS.keys())
def test_checking_takes_linear_time_in_the_text(make) -> None:
    """The goal text and the other typed cells, each 3,200 and 32,000 characters long."""
    def run(text: str) -> list[Finding]:
        fields = ("project.annual_goal", "project.phone", "project.category", "indicators[3].target",
                  "indicators[3].name", "indicators[3].level2", "guarantees[0].kind")
        return check(filled("shanghai-2020", dict.fromkeys(fields, text)))

    assert_linear(run, make(3200), make(32000))


# ---- the real sample, as `xlform example` writes it ---------------------------------


def test_sample_gets_what_a_careful_reviewer_raises(write) -> None:
    d = read(write(sample_declaration()))
    findings = check(d)
    got = {(f.rule, f.severity, f.sheet, f.cell) for f in findings}
    assert got == {
        ("required.field", "error", P, "B3"),  # 填报单位 is empty in the extract (it is stamped on paper)
        ("required.field", "error", P, "C5"),  # no 项目类别 ticked in the extract
        ("goal.target_mismatch", "error", P, "C22"),  # 满意率达到85%以上 vs the 95% satisfaction indicator
        ("goal.target_unmatched", "warning", P, "C22"),  # 设备有效使用率达到99.5%以上 has no indicator
    }, show(findings)
    assert len(findings) == 4
    mismatch = next(f for f in findings if f.rule == "goal.target_mismatch")
    assert "85%" in mismatch.message and "95%" in mismatch.message
    assert "系统使用满意度" in mismatch.message and f"{G}!E22" in mismatch.message
    assert mismatch.value == "满意率达到85%以上"
    unmatched = next(f for f in findings if f.rule == "goal.target_unmatched")
    assert "99.5%" in unmatched.value


def test_clean_sample_fixes_the_two_things_a_reviewer_sends_back(write, tmp_path: Path) -> None:
    """The one clean-sample builder (demo, benchmark, tests): only the unit is left, which distribution prefills."""
    got = {(f.rule, f.sheet, f.cell) for f in check(read(write(clean_sample())))}
    assert got == {("required.field", P, "B3")}
    issued = distribute([Department("闵行区机关事务管理局")], tmp_path / "下发", load_template("shanghai-2020"))
    result = check_file(fill_issued(issued, issued.issued[0], tmp_path / "回收" / "a.xlsx"))
    assert result.error == "" and result.findings == [], show(result.findings)


def test_sample_checked_in_memory_points_at_the_same_cells(write) -> None:
    """xlform.check on a Declaration built in code names the cells the writer would use."""
    in_memory = check(sample_declaration())
    read_back = check(read(write(sample_declaration())))
    assert in_memory == read_back


def test_in_memory_rows_point_at_each_item() -> None:
    d = clean_form()
    d.indicators[4].level2 = "数量"  # 5th indicator: sheet row 22
    d.guarantees[2].kind = "其他制度"  # 3rd guarantee: sheet row 9
    where = {(f.rule, f.where) for f in check(d)}
    assert ("indicators.level2", f"{G}!C22") in where
    assert ("guarantees.kind", f"{Z}!A9") in where
    assert d.indicators[4].row == 0  # the caller's declaration is not changed


def test_in_memory_money_unit_is_the_templates() -> None:
    """A Declaration built in code for a 万元 template is checked in 万元 (Identity defaults to 元)."""
    assert [f.rule for f in check(filled("mof-2021", {"amounts": AMOUNT}))] == ["funding.unit"]
    assert check(filled("mof-2021", {})) == []


def test_unreadable_cell_is_not_also_reported_empty(write) -> None:
    """A required amount typed as words is one finding (kind.money), not also “请填写”."""
    _, findings = findings_of(write, "shanghai-2020", {}, {(P, "E14"): "二十三万"})
    at_cell = [f.rule for f in findings if f.where == f"{P}!E14"]
    assert at_cell[0] == "kind.money"
    assert "required.field" not in at_cell


def test_unread_table_gives_no_consequential_findings(write) -> None:
    """A header edited on 绩效目标: the indicators are not read, so no “missing 一级” or goal findings."""
    d, findings = findings_of(write, "shanghai-2020", {}, {(G, "E17"): "指标值"})
    assert d.indicators == []
    assert [(f.rule, f.where) for f in findings] == [("structure.label_mismatch", f"{G}!E17")]


def test_bureau_template_is_checked_against_its_own_lists(tmp_path: Path) -> None:
    """A bureau's copy of a template (read through a Registry) is checked with its own taxonomy."""
    data = yaml.safe_load(templates_dir().joinpath("shanghai-2020.yaml").read_text(encoding="utf-8"))
    data.update(id="bureau-2025", version="3")
    data["taxonomy"]["产出目标"].append("安全")
    path = tmp_path / "bureau.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    write_workbook(load_template(path), tmp_path / "f.xlsx", filled("shanghai-2020", {"indicators[0].level2": "安全"}))
    back = read(tmp_path / "f.xlsx", Registry([path]))
    assert back.identity.template_id == "bureau-2025"
    assert check(back) == []
    back.indicators[1].level2 = "安保"
    assert [(f.rule, f.where) for f in check(back)] == [("indicators.level2", f"{G}!C19")]


def test_goal_matched_to_the_indicator_it_names(write) -> None:
    """Two satisfaction indicators: each stated target is compared with its own, not with the first one."""
    base = clean_form().indicators[:4]
    two = {"project.annual_goal": "服务对象满意度达到95%以上，群众满意度达到90%以上。"}
    good = filled("shanghai-2020", {**two, "indicators": [
        *base, _ind("影响力目标", "满意度", "服务对象满意度", "≥95%"), _ind("影响力目标", "满意度", "群众满意度", "≥90%")]})
    assert check(read(write(good))) == []
    bad = filled("shanghai-2020", {**two, "indicators": [
        *base, _ind("影响力目标", "满意度", "服务对象满意度", "≥95%"), _ind("影响力目标", "满意度", "群众满意度", "≥85%")]})
    findings = check(read(write(bad)))
    assert [(f.rule, f.where) for f in findings] == [("goal.target_mismatch", f"{P}!C22")]
    assert "群众满意度" in findings[0].message and f"{G}!E23" in findings[0].message
    assert "90%" in findings[0].message and "85%" in findings[0].message
