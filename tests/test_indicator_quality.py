"""Quality checks on indicators: units, direction, 定量/定性, names, placeholders and deadlines.

The same catalogue style as tests/test_checks.py: the clean form with inline `field → value` edits, written to a
real workbook, read back and checked (and checked in memory too: national forms keep 计算符号 and 计量单位 in
their own columns, which only reading folds into the target). The bad form fires the rule at the cell to fix
with the value in the message; a nearby good form is silent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from tests.helpers import clean_form, filled
from tests.helpers import indicator as _ind
from tests.test_checks import Case, findings_of, show
from xlform.form.model import Indicator
from xlform.form.sample import clean_sample_declaration, example_declaration, sample_declaration
from xlform.form.targets import parse_target
from xlform.form.template import load_template, templates_dir
from xlform.reading.reader import Registry, read
from xlform.review.rules import CATALOGUE, check
from xlform.writing.workbook import write_workbook

G = "绩效目标"
MOF = "mof-2021"
# The shanghai clean form's indicators sit on rows 18–22: 系统运维完成率 (数量), 系统运维质量达标率 (质量),
# 运维完成及时性 (时效), 视频会议正常召开 (社会效益), 系统使用满意度; mof-2021's on the same rows, with a 成本
# row (会议系统建设成本 ≤23.21万元) first and no 质量 one; its target is column G, its 计量单位 H, 指标值类型 E.
# The project runs 2020-01-01 to 2020-12-31.

CASES = [
    # ---- units -----------------------------------------------------------------------
    Case("indicators.unit_missing", {"indicators[3].target": "≥50"}, (G, "E21"), ("视频会议正常召开", "“≥50”", "单位"),
         good={"indicators[3].target": "≥50场"}),
    Case("indicators.unit_missing", {"indicators[3].target": "≥50"}, (G, "G21"), ("“≥50”", "计量单位"), template=MOF,
         name="mof", good={"indicators[3].target": "50", "indicators[3].operator": "≥", "indicators[3].measure_unit": "场"}),
    Case("indicators.unit_missing", {"indicators[2].target": "≤10"}, (G, "E20"), ("“≤10”", "≤10天"), name="timeliness",
         good={"indicators[2].target": "≤10天"}),
    Case("indicators.unit_conflict", {"indicators[3].target": "28.8万元", "indicators[3].measure_unit": "%"}, (G, "G21"),
         ("28.8万元", "万元", "“%”", "计量单位"), template=MOF,
         good={"indicators[3].target": "100", "indicators[3].measure_unit": "%"}),
    Case("indicators.unit_conflict", {"indicators[0].target": "≤23.21%", "indicators[0].measure_unit": "万元"},
         (G, "G18"), ("≤23.21%", "“万元”"), template=MOF, name="percent-in-wanyuan",
         good={"indicators[0].target": "≤23.21", "indicators[0].measure_unit": "万元"}),
    # An own indicator (not in the built-in library, which says the same of its own through library_mismatch).
    Case("indicators.rate_not_percent", {"indicators[1].name": "设备巡检达标率", "indicators[1].target": "28.8万元"},
         (G, "E19"), ("设备巡检达标率", "“28.8万元”", "万元", "百分数"),
         good={"indicators[1].name": "设备巡检达标率", "indicators[1].target": "≥95%"}),
    Case("indicators.rate_not_percent", {"indicators[3].name": "视频会议正常召开率", "indicators[3].target": "28.8",
                                         "indicators[3].measure_unit": "万元"}, (G, "G21"), ("“28.8”", "万元"),
         template=MOF, name="measure-unit",
         good={"indicators[3].name": "视频会议正常召开率", "indicators[3].target": "100", "indicators[3].measure_unit": "%"}),
    Case("indicators.percent_over_100", {"indicators[1].target": "120%"}, (G, "E19"), ("系统运维质量达标率", "“120%”", "100%"),
         good={"indicators[1].target": "100%"}),
    Case("indicators.percent_over_100", {"indicators[4].target": "≥105%"}, (G, "E22"), ("系统使用满意度", "“≥105%”"),
         name="satisfaction", good={"indicators[4].target": "≥95%"},
         also=frozenset({"goal.target_mismatch"})),  # the goal says 95%
    Case("indicators.percent_over_100", {"indicators[1].target": "120"}, (G, "E19"), ("“120”", "100%"),
         name="no-unit", good={"indicators[1].target": "100%"}, also=frozenset({"indicators.percent_unit_missing"})),
    Case("indicators.percent_unit_missing", {"indicators[4].target": "95"}, (G, "G22"), ("“95”", "计量单位"),
         template=MOF, name="mof",
         good={"indicators[4].target": "95", "indicators[4].operator": "≥", "indicators[4].measure_unit": "%"}),
    # ---- direction ---------------------------------------------------------------------
    Case("indicators.cost_floor", {"indicators[0].target": "≥23.21万元"}, (G, "G18"),
         ("会议系统建设成本", "“≥23.21万元”", "≤23.21万元"), template=MOF, good={"indicators[0].target": "≤23.21万元"}),
    Case("indicators.cost_floor", {"indicators[0].target": "23.21", "indicators[0].operator": "≥",
                                   "indicators[0].measure_unit": "万元"}, (G, "G18"), ("“23.21”", "≤23.21万元"),
         template=MOF, name="operator-column",
         good={"indicators[0].target": "23.21", "indicators[0].operator": "≤", "indicators[0].measure_unit": "万元"}),
    Case("indicators.cost_floor", {"indicators[1].level2": "成本", "indicators[1].name": "会议系统运维成本",
                                   "indicators[1].target": ">232124元"}, (G, "E19"), ("“>232124元”", "≤232124元"),
         name="shanghai", good={"indicators[1].level2": "成本", "indicators[1].name": "会议系统运维成本",
                                "indicators[1].target": "≤232124元"}),
    Case("indicators.quantity_ceiling", {"indicators[0].name": "设备巡检完成率", "indicators[0].target": "≤100%"},
         (G, "E18"), ("设备巡检完成率", "“≤100%”", "≥100%"),
         good={"indicators[0].name": "设备巡检完成率", "indicators[0].target": "≥100%"}),
    Case("indicators.quantity_ceiling", {"indicators[1].level2": "数量", "indicators[1].name": "培训覆盖人次",
                                         "indicators[1].target": "≤1000人次"}, (G, "E19"), ("培训覆盖人次", "≥1000人次"),
         name="coverage", good={"indicators[1].level2": "数量", "indicators[1].name": "培训覆盖人次",
                                "indicators[1].target": "≥1000人次"}),
    # ---- 定量 / 定性 and words that measure nothing -------------------------------------------
    Case("indicators.value_type_mismatch", {"indicators[3].value_type": "定量", "indicators[3].target": "按月安排"},
         (G, "E21"), ("“定量”", "“按月安排”", "定性"), template=MOF,
         good={"indicators[3].value_type": "定性", "indicators[3].target": "按月安排"}),
    Case("indicators.value_type_mismatch", {"indicators[2].value_type": "定性", "indicators[2].target": "100",
                                            "indicators[2].measure_unit": "%"}, (G, "E20"), ("“定性”", "“100”", "“%”"),
         template=MOF, name="qualitative-with-number",
         good={"indicators[2].value_type": "定量", "indicators[2].target": "100", "indicators[2].measure_unit": "%"}),
    Case("indicators.vague_target", {"indicators[3].target": "有效提升"}, (G, "E21"), ("视频会议正常召开", "“有效提升”"),
         good={"indicators[3].target": "会议保障水平有所提升"}),
    Case("indicators.vague_target", {"indicators[3].target": "显著"}, (G, "G21"), ("“显著”",), template=MOF, name="mof",
         good={"indicators[3].target": "正常召开"}),
    # ---- names ---------------------------------------------------------------------------
    Case("indicators.name_like_level", {"indicators[3].name": "社会效益"}, (G, "D21"), ("“社会效益”", "二级目标"),
         good={"indicators[3].name": "视频会议正常召开率"}),
    Case("indicators.name_like_level", {"indicators[0].name": "社会成本指标"}, (G, "D18"), ("“社会成本指标”",),
         template=MOF, name="other-level", good={"indicators[0].name": "会议系统运维成本"}),
    Case("indicators.duplicate_name", {"indicators[3].name": "系统运维完成率"}, (G, "D21"),
         ("“系统运维完成率”", f"{G}!D18"), good={"indicators[3].name": "视频会议正常召开率"}),
    # ---- placeholders ----------------------------------------------------------------------
    Case("indicators.placeholder", {"indicators[1].target": "/"}, (G, "E19"), ("第 19 行", "“/”", "目标值"),
         good={"indicators[1].target": "100%"}),
    Case("indicators.placeholder", {"indicators[1].name": "*", "indicators[1].target": "*"}, (G, "D19"),
         ("“*”", "指标名称和目标值", "删去"), name="row",
         good={"indicators[1].name": "系统运维质量达标率", "indicators[1].target": "100%"}),
    Case("indicators.placeholder", {"indicators[1].target": "待定"}, (G, "G19"), ("“待定”",), template=MOF,
         name="mof", good={"indicators[1].target": "100%"}),
    Case("indicators.required_level1_placeholder", {"indicators[3].name": "—", "indicators[3].target": "—"},
         (G, "D21"), ("效果目标", "“—”", "经济效益"), good={"indicators[3].name": "视频会议正常召开率"}),
    Case("indicators.required_level1_placeholder", {"indicators[0].name": "/", "indicators[0].target": "/"},
         (G, "D18"), ("成本指标", "“/”", "经济成本指标"), template=MOF, name="mof",
         good={"indicators[0].name": "会议系统运维成本"}),
    # ---- 时效: deadlines inside the project's dates ------------------------------------------------
    Case("indicators.deadline_outside", {"indicators[2].target": "2021年3月底前"}, (G, "E20"),
         ("运维完成及时性", "“2021年3月底前”", "2021-03-31", "2020-12-31"), good={"indicators[2].target": "2020年12月底前"}),
    Case("indicators.deadline_outside", {"project.end_date": date(2020, 6, 30), "indicators[2].target": "8月底"},
         (G, "E20"), ("“8月底”", "按预算年度", "2020-08-31", "2020-06-30"), name="no-year",
         good={"project.end_date": date(2020, 6, 30), "indicators[2].target": "6月底"}),
    Case("indicators.deadline_outside", {"project.end_date": date(2020, 6, 30), "indicators[2].target": "2020-07-15"},
         (G, "G20"), ("“2020-07-15”", "2020-06-30"), template=MOF, name="iso",
         good={"project.end_date": date(2020, 6, 30), "indicators[2].target": "2020-06-30"}),
    Case("indicators.deadline_outside", {"project.start_date": date(2020, 3, 1), "indicators[2].target": "2020年2月底前"},
         (G, "E20"), ("“2020年2月底前”", "2020-02-29", "2020-03-01"), name="before-start",
         good={"project.start_date": date(2020, 3, 1), "indicators[2].target": "2020年3月底前"}),
]

QUALITY_RULES = {c.rule for c in CASES} - {"indicators.percent_unit_missing"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_fires_at_the_cell_to_fix(write, case: Case) -> None:
    _, findings = findings_of(write, case.template, case.bad, case.cells)
    hits = [f for f in findings if f.rule == case.rule and (f.sheet, f.cell) == case.where]
    assert hits, f"{case.rule} did not fire at {case.where[0]}!{case.where[1]}:\n{show(findings)}"
    for text in case.says:
        assert text in hits[0].message, (text, hits[0].message)
    assert hits[0].severity == CATALOGUE[case.rule].severity
    assert hits[0].value in hits[0].message and hits[0].message.endswith("。"), hits[0].message
    assert {f.rule for f in findings} == {case.rule} | case.also, show(findings)
    # Checked in memory (a Declaration built in code), the same findings at the same cells.
    in_memory = check(filled(case.template, case.bad))
    assert {(f.rule, f.where) for f in in_memory} == {(f.rule, f.where) for f in findings}, show(in_memory)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_silent_on_the_good_form(write, case: Case) -> None:
    _, findings = findings_of(write, case.template, case.good, case.good_cells)
    assert findings == [], show(findings)
    assert check(filled(case.template, case.good)) == []


# ---- what must stay silent --------------------------------------------------------------------

PLAIN_GOAL = "按计划完成会议系统运维，保障会务有序进行。"  # states no figure, so no target is compared with it
GOOD_TARGETS = [
    ("indicators[0].target", "≥95%"),  # 系统运维完成率
    ("indicators[0].target", "100%以上"),
    ("indicators[1].target", "不低于98%"),
    ("indicators[3].target", "正常召开"),
    ("indicators[3].target", "及时"),
    ("indicators[3].target", "良好"),
    ("indicators[3].target", "有效"),  # a state, as 制度执行有效性 has it
    ("indicators[3].target", "完善"),
    ("indicators[3].target", "会议保障水平有所提升"),  # vague words, but not the whole target
    ("indicators[3].target", "≥ 1,000 人次"),
    ("indicators[4].target", "≥95%"),
]


@pytest.mark.parametrize(("path", "target"), GOOD_TARGETS, ids=[t for _, t in GOOD_TARGETS])
def test_good_targets_raise_nothing(path: str, target: str) -> None:
    d = filled("shanghai-2020", {path: target, "project.annual_goal": PLAIN_GOAL})
    assert check(d) == [], show(check(d))


@pytest.mark.parametrize("row", [
    _ind("效果目标", "社会效益", "设备巡检频率", "≥4次"),  # 频率 is no percentage
    _ind("效果目标", "社会效益", "服务人次增长率", "≥120%"),  # a growth rate may pass 100%
    _ind("效果目标", "社会效益", "重大安全事故", "无"),  # 无 is the target of what must not happen
    _ind("效果目标", "社会效益", "群众投诉", "无"),
    _ind("效果目标", "社会效益", "服务质量指数", "≥0.8"),  # an index has no unit
    _ind("产出目标", "数量", "未完成项目数", "≤2个"),  # a ceiling is right for what is left undone
    _ind("产出目标", "成本", "运维成本节约率", "≥5%"),  # a saving is a floor
    _ind("影响力目标", "满意度", "群众满意度测评得分", "≥90分"),
], ids=lambda i: i.name)
def test_plausible_indicators_raise_nothing(row: Indicator) -> None:
    d = clean_form()
    d.indicators.append(row)
    assert check(d) == [], show(check(d))


DEADLINES_INSIDE = ["2020年8月底前", "2020-06-30", "6月底", "8月末", "年底前", "年末", "上半年", "2020年第三季度前",
                    "2020年06月30日前", "2020.6.30前", "当年12月底前", "2020-06", "2020年3月至6月", "按期完成", "每月10日前",
                    "10个工作日内"]  # fmt: skip


@pytest.mark.parametrize("target", DEADLINES_INSIDE)
def test_deadlines_inside_the_dates_are_no_problem(write, target: str) -> None:
    """A 时效 target given as a date or month is a target: no format finding, no deadline finding, in any form."""
    for template in ("shanghai-2020", MOF):
        d = filled(template, {"indicators[2].target": target})
        assert check(d) == [], (target, show(check(d)))
    assert parse_target(target).number is not None or parse_target(target).deadline is not None, target


@pytest.mark.parametrize(("target", "due"), [("2021年1月底前", "2021-01-31"), ("2021-02", "2021-02-28"),
                                             ("下半年", "2020-12-31")])
def test_deadline_outside_is_no_format_problem(target: str, due: str) -> None:
    """Outside the dates: only indicators.deadline_outside, never indicators.target_format."""
    d = filled("shanghai-2020", {"indicators[2].target": target, "project.end_date": date(2020, 11, 30)})
    findings = check(d)
    assert [f.rule for f in findings] == ["indicators.deadline_outside"], show(findings)
    assert due in findings[0].message


@pytest.mark.parametrize("target", ["显著", "进一步", "有所提升", "明显改善", "得到有效提升", "进一步完善", "不断提高"])
def test_vague_words_as_the_whole_target(target: str) -> None:
    findings = check(filled("shanghai-2020", {"indicators[3].target": target}))
    assert [(f.rule, f.where, f.severity) for f in findings] == [("indicators.vague_target", f"{G}!E21", "warning")]


def test_value_type_rule_only_where_the_template_has_the_column() -> None:
    """shanghai-2020 has no 指标值类型: a value there (a Declaration built in code) is not checked."""
    d = filled("shanghai-2020", {"indicators[3].value_type": "定量", "indicators[3].target": "正常召开"})
    assert check(d) == []


def test_placeholder_and_required_level1_give_one_finding() -> None:
    """The only 效果目标 row is “/”: told to fill in a 效果目标, not to delete the row; a second, real row moves it
    to indicators.placeholder (that row may be deleted)."""
    lone = check(filled("shanghai-2020", {"indicators[3].name": "/", "indicators[3].target": "/"}))
    assert [f.rule for f in lone] == ["indicators.required_level1_placeholder"], show(lone)
    d = filled("shanghai-2020", {"indicators[3].name": "/", "indicators[3].target": "/"})
    d.indicators.append(_ind("效果目标", "社会效益", "视频会议正常召开率", "100%"))
    assert [(f.rule, f.where) for f in check(d)] == [("indicators.placeholder", f"{G}!D21")]


def test_rules_check_every_indicator_table(tmp_path: Path) -> None:
    """A template's own table declared `like: indicators` (中期绩效指标) is checked like 绩效指标, at its own cells."""
    data = yaml.safe_load(templates_dir().joinpath(f"{MOF}.yaml").read_text(encoding="utf-8"))
    data.update(id="bureau-mid", version="1")
    data["tables"] = {"midterm": {"label": "中期绩效指标", "rows": 6, "like": "indicators"}}
    path = tmp_path / "mid.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    template = load_template(path)
    d = filled(MOF, {})
    d.identity.template_id = "bureau-mid"
    d.tables["midterm"] = [_ind(i.level1, i.level2, i.name, i.target.raw) for i in d.indicators]
    d.tables["midterm"][0].target = parse_target("≥23.21万元")  # a cost floor
    d.tables["midterm"][3].name = "系统运维完成率"  # the same name twice in this table
    write_workbook(template, tmp_path / "f.xlsx", d)
    back = read(tmp_path / "f.xlsx", Registry([path]))
    findings = check(back)
    got = sorted((f.rule, f.sheet) for f in findings)
    assert got == [("indicators.cost_floor", G), ("indicators.duplicate_name", G)], show(findings)
    main_rows = {f"{G}!{c}{r}" for c in "DG" for r in range(18, 23)}  # 绩效指标's own rows
    assert not {f.where for f in findings} & main_rows, show(findings)
    assert {(f.rule, f.where) for f in check(d, template)} == {(f.rule, f.where) for f in findings}


def test_built_in_examples_raise_nothing_new(write) -> None:
    """The sample, the clean sample and every built-in template's example: none of these rules fires."""
    declarations = [sample_declaration(), clean_sample_declaration()]
    for p in sorted(templates_dir().glob("*.yaml")):
        template = load_template(p.stem)
        d = example_declaration(template)
        declarations += [d, read(write(d, p.stem))]
    for d in declarations:
        fired = [f for f in check(d) if f.rule in QUALITY_RULES or f.rule == "indicators.percent_unit_missing"]
        assert fired == [], show(fired)
