"""目标值 notation and the targets stated in 年度绩效目标 text (targets.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xlform.model import Target
from xlform.targets import GoalTarget, extract_goal_targets, format_target, parse_target, same_subject

D = Decimal


@pytest.mark.parametrize(
    ("raw", "operator", "number", "unit"),
    [
        # The sample's own values.
        ("100%", "", D(100), "%"),
        ("95%", "", D(95), "%"),
        # The notation of FORM.md.
        ("≥95%", "≥", D(95), "%"),
        ("≤10次", "≤", D(10), "次"),
        ("≥ 1,000 人次", "≥", D(1000), "人次"),
        ("95%以上", "≥", D(95), "%"),
        ("95%及以上", "≥", D(95), "%"),
        ("10次以内", "≤", D(10), "次"),
        ("5%以下", "≤", D(5), "%"),
        ("≥95%以上", "≥", D(95), "%"),  # an explicit operator wins over the trailing word
        ("=100%", "=", D(100), "%"),
        (">=90%", "≥", D(90), "%"),
        ("<=3天", "≤", D(3), "天"),
        (">0", ">", D(0), ""),
        ("<5", "<", D(5), ""),
        ("≧80%", "≥", D(80), "%"),
        ("≦2小时", "≤", D(2), "小时"),
        # Full-width forms.
        ("＞５０％", ">", D(50), "%"),
        ("＜１０件", "<", D(10), "件"),
        ("＝１００％", "=", D(100), "%"),
        ("≥１，０００人次", "≥", D(1000), "人次"),
        ("９５％以上", "≥", D(95), "%"),
        # Numbers and units.
        ("100", "", D(100), ""),
        ("99.5%", "", D("99.5"), "%"),
        ("-5%", "", D(-5), "%"),
        ("232,124元", "", D(232124), "元"),
        ("23.21万元", "", D("23.21"), "万元"),
        ("1 台", "", D(1), "台"),
        ("3000平方米", "", D(3000), "平方米"),
        ("12 公里", "", D(12), "公里"),
        ("≥ 1,000 万人次", "≥", D(1000), "万人次"),
        ("100%（含）", "", D(100), "%(含)"),  # any trailing text is the unit, made half-width
        # Operators written as words.
        ("不低于90%", "≥", D(90), "%"),
        ("不少于 20 人", "≥", D(20), "人"),
        ("不超过5天", "≤", D(5), "天"),
        ("大于等于 95%", "≥", D(95), "%"),
        # Plain numbers from number cells.
        (100, "", D(100), ""),
        (95.5, "", D("95.5"), ""),
        (1.0, "", D(1), ""),  # not guessed to be 100%: the reader passes "100%"
        (D("0.95"), "", D("0.95"), ""),
    ],
)
def test_parse_quantitative(raw: object, operator: str, number: Decimal, unit: str) -> None:
    t = parse_target(raw)  # type: ignore[arg-type]
    assert (t.operator, t.number, t.unit, t.qualitative) == (operator, number, unit, False)
    assert isinstance(t.number, Decimal)


@pytest.mark.parametrize(
    ("raw", "expected_raw"),
    [
        ("100%", "100%"),
        ("  ≥ 1,000 人次\u3000", "≥ 1,000 人次"),
        ("＞５０％", "＞５０％"),  # the clerk's own characters are kept
        (100, "100"),
        (1.0, "1"),
        (D("95.0"), "95.0"),
    ],
)
def test_parse_keeps_clean_raw(raw: object, expected_raw: str) -> None:
    assert parse_target(raw).raw == expected_raw  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    ["及时", "良好", "显著", "有效提升", "明显改善", " 及时 ", "1-2次", "95%-100%", "较上年提升5%", "2020年12月完成"],
)
def test_parse_qualitative(raw: str) -> None:
    t = parse_target(raw)
    assert t.qualitative is True
    assert t.number is None
    assert (t.operator, t.unit) == ("", "")
    assert t.raw == raw.strip()


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_parse_empty(raw: str | None) -> None:
    assert parse_target(raw) == Target(raw="")


@pytest.mark.parametrize("raw", ["≥95%", "及时", "＞５０％", "", "≥ 1,000 人次"])
def test_format_target_shows_the_raw_text(raw: str) -> None:
    assert format_target(parse_target(raw)) == raw
    assert format_target(Target(raw="x", operator="≥", number=D(1), unit="%")) == "x"


SAMPLE_GOAL = "设备有效使用率达到99.5%以上，满意率达到85%以上。"


def test_extract_sample_goal() -> None:
    assert extract_goal_targets(SAMPLE_GOAL) == [
        GoalTarget(phrase="设备有效使用率达到99.5%以上", subject="设备有效使用率", operator="≥", number=D("99.5"), unit="%"),
        GoalTarget(phrase="满意率达到85%以上", subject="满意率", operator="≥", number=D(85), unit="%"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("完成率达到100%。", [("完成率", "=", D(100), "%")]),
        ("满意度不低于90%", [("满意度", "≥", D(90), "%")]),
        ("培训人数不少于1,000人次；", [("培训人数", "≥", D(1000), "人次")]),
        ("故障率控制在5%以内", [("故障率", "≤", D(5), "%")]),
        ("故障率控制在5%", [("故障率", "≤", D(5), "%")]),
        ("故障率控制在1%以上", [("故障率", "≥", D(1), "%")]),
        ("投诉率低于2%", [("投诉率", "≤", D(2), "%")]),
        ("响应时间不超过2小时", [("响应时间", "≤", D(2), "小时")]),
        ("覆盖率高于80%", [("覆盖率", "≥", D(80), "%")]),
        ("受益人数超过500人", [("受益人数", "≥", D(500), "人")]),
        ("设备完好率≥98%", [("设备完好率", "≥", D(98), "%")]),
        ("差错率<=1%", [("差错率", "≤", D(1), "%")]),
        ("会议保障场次为120场", [("会议保障场次", "=", D(120), "场")]),
        ("合格率为95%以上", [("合格率", "≥", D(95), "%")]),
        ("确保全年设备完好率达到98%以上", [("设备完好率", "≥", D(98), "%")]),
        ("使满意率达到85%以上", [("满意率", "≥", D(85), "%")]),
        ("满意率达到８５％以上", [("满意率", "≥", D(85), "%")]),
        ("满意率达到 85 % 以上", [("满意率", "≥", D(85), "%")]),
        (
            "满意率达到85%以上和完成率达到100%",
            [("满意率", "≥", D(85), "%"), ("完成率", "=", D(100), "%")],
        ),
        (
            "项目实施后，运维完成率达到100%、质量达标率不低于95%；满意度达到95%以上。",
            [("运维完成率", "=", D(100), "%"), ("质量达标率", "≥", D(95), "%"), ("满意度", "≥", D(95), "%")],
        ),
        ("保障会议正常召开，提升服务水平。", []),
        ("以服务为宗旨", []),  # 为 without a number is no target
        ("", []),
    ],
)
def test_extract_goal_targets(text: str, expected: list[tuple[str, str, Decimal, str]]) -> None:
    found = extract_goal_targets(text)
    assert [(g.subject, g.operator, g.number, g.unit) for g in found] == expected
    for g in found:
        assert g.phrase in text  # phrases are cut from the original, full-width and all
        assert g.subject in g.phrase


def test_extract_phrase_keeps_full_width() -> None:
    [g] = extract_goal_targets("满意率达到８５％以上。")
    assert g.phrase == "满意率达到８５％以上"
    assert (g.number, g.unit) == (D(85), "%")


@pytest.mark.parametrize(
    ("goal_subject", "indicator_name", "level2", "expected"),
    [
        # The brief's cases: the sample's 满意率 is its 满意度 indicator; 使用率 is nothing of it.
        ("满意率", "系统使用满意度", "满意度", True),
        ("设备有效使用率", "系统使用满意度", "满意度", False),
        ("满意率", "系统运维完成率", "数量", False),
        ("群众满意度", "服务对象满意度", "服务对象满意度指标", True),
        ("满意率", "用户评价", "满意度", True),  # level2 alone is enough
        ("完成率", "系统运维完成率", "数量", True),
        ("运维完成率", "系统运维完成率", "数量", True),
        ("设备完好率", "完好率", "质量", True),  # vice versa: the indicator's core inside the subject
        ("质量达标率", "系统运维质量达标率", "质量", True),
        ("设备有效使用率", "系统运维完成率", "数量", False),
        ("完成率", "运维质量达标率", "质量", False),
        ("使用率", "设备使用率", "数量", False),  # only generic words: nothing left to compare
        ("", "系统运维完成率", "数量", False),
    ],
)
def test_same_subject(goal_subject: str, indicator_name: str, level2: str, expected: bool) -> None:
    assert same_subject(goal_subject, indicator_name, level2) is expected


def test_sample_goal_disagrees_with_its_satisfaction_indicator() -> None:
    # FORM.md: the sample says 满意率达到85%以上 while its indicator says 95%.
    indicators = [
        ("系统运维完成率", "数量", parse_target("100%")),
        ("系统运维质量达标率", "质量", parse_target("100%")),
        ("系统使用满意度", "满意度", parse_target("95%")),
    ]
    goals = extract_goal_targets(SAMPLE_GOAL)
    matched = [(g, t) for g in goals for name, l2, t in indicators if same_subject(g.subject, name, l2)]
    assert [(g.subject, t.number) for g, t in matched] == [("满意率", D(95))]
    assert matched[0][0].number != matched[0][1].number
