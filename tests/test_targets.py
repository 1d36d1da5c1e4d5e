"""目标值 notation and the targets stated in 年度绩效目标 text (targets.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.timing import assert_linear
from xlform.form.model import Deadline, Target
from xlform.form.targets import GoalTarget, extract_goal_targets, format_target, parse_target, same_subject

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
        # A time limit is a number of days: ≤ 10 个工作日.
        ("10个工作日内", "≤", D(10), "个工作日"),
        ("3天内", "≤", D(3), "天"),
        ("6个月", "", D(6), "个月"),
        ("10个工作日内完成", "≤", D(10), "个工作日"),
        ("24小时内响应", "≤", D(24), "小时"),
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
    [
        *("及时", "良好", "显著", "有效提升", "明显改善", " 及时 ", "1-2次", "95%-100%", "较上年提升5%"),
        # Look like dates but are none: a year with no deadline word, impossible days and months.
        *("较2025年提升", "2026年13月底前", "2026-02-30", "2026年2月30日前", "13月底", "第五季度", "6月32日前", "2026-6"),
    ],
)
def test_parse_qualitative(raw: str) -> None:
    t = parse_target(raw)
    assert t.qualitative is True
    assert t.number is None
    assert (t.operator, t.unit) == ("", "")
    assert t.raw == raw.strip()


@pytest.mark.parametrize(
    ("raw", "deadline", "by"),
    [
        # The date itself, as clerks write it: the last day allowed is that day.
        ("2026-06-30", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026/6/30", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026.6.30", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026年6月30日", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026年6月30日前", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026年6月30号之前", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("２０２６年６月３０日前", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026 年 6 月 30 日前", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("截至2026年6月30日", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("不晚于2026-06-30", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("≤2026年6月30日", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("2026年6月30日前完成设备安装调试", Deadline(2026, 6, 30), date(2026, 6, 30)),
        (date(2026, 6, 30), Deadline(2026, 6, 30), date(2026, 6, 30)),  # typed 6/30 into Excel: a date cell
        # A month, a quarter, a half year, a year: its last day.
        ("2026年8月底前", Deadline(2026, 8), date(2026, 8, 31)),
        ("于2026年8月底前完成", Deadline(2026, 8), date(2026, 8, 31)),
        ("2026年8月", Deadline(2026, 8), date(2026, 8, 31)),
        ("2026年2月底", Deadline(2026, 2), date(2026, 2, 28)),
        ("2028年2月末", Deadline(2028, 2), date(2028, 2, 29)),
        ("2026年12月完成", Deadline(2026, 12), date(2026, 12, 31)),
        ("2026年6月上旬", Deadline(2026, 6, 10), date(2026, 6, 10)),
        ("2026年6月中旬前", Deadline(2026, 6, 20), date(2026, 6, 20)),
        ("2026年第三季度", Deadline(2026, 9), date(2026, 9, 30)),
        ("2026年上半年完成", Deadline(2026, 6), date(2026, 6, 30)),
        ("2026年底前", Deadline(2026, 12), date(2026, 12, 31)),
        ("2026年度内完成", Deadline(2026, 12), date(2026, 12, 31)),
        ("2026年", Deadline(2026, 12), date(2026, 12, 31)),
        ("2026年年底前", Deadline(2026, 12), date(2026, 12, 31)),
        ("2026年06月30日", Deadline(2026, 6, 30), date(2026, 6, 30)),
        ("到2026年底完成", Deadline(2026, 12), date(2026, 12, 31)),
        # A period: its end is the deadline.
        ("2026年1月1日至2026年12月31日", Deadline(2026, 12, 31), date(2026, 12, 31)),
        ("2026年3月-6月", Deadline(2026, 6), date(2026, 6, 30)),
        ("2026年3月至6月底", Deadline(2026, 6), date(2026, 6, 30)),
        ("2026-01-01~2026-06-30", Deadline(2026, 6, 30), date(2026, 6, 30)),
    ],
)
def test_parse_deadline_with_its_date(raw: object, deadline: Deadline, by: date) -> None:
    t = parse_target(raw)  # type: ignore[arg-type]
    assert t.deadline == deadline
    assert t.deadline is not None and t.deadline.date == by and t.deadline.by(2020) == by  # the text's year wins
    assert (t.number, t.operator, t.unit, t.qualitative) == (None, "", "", False)


@pytest.mark.parametrize(
    ("raw", "deadline", "by_2026", "by_2028"),
    [
        # No year: the budget year's (a later check compares with the project's dates).
        ("6月底", Deadline(None, 6), date(2026, 6, 30), date(2028, 6, 30)),
        ("6月底前", Deadline(None, 6), date(2026, 6, 30), date(2028, 6, 30)),
        ("6月30号前", Deadline(None, 6, 30), date(2026, 6, 30), date(2028, 6, 30)),
        ("12月31日前", Deadline(None, 12, 31), date(2026, 12, 31), date(2028, 12, 31)),
        ("十月底前完成", Deadline(None, 10), date(2026, 10, 31), date(2028, 10, 31)),
        ("2月底", Deadline(None, 2), date(2026, 2, 28), date(2028, 2, 29)),
        ("2月29日前", Deadline(None, 2, 29), None, date(2028, 2, 29)),  # only in a leap year
        ("年底前", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("年内完成", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("当年完成", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("本年度内", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("上半年完成", Deadline(None, 6), date(2026, 6, 30), date(2028, 6, 30)),
        ("下半年", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("第三季度", Deadline(None, 9), date(2026, 9, 30), date(2028, 9, 30)),
        ("三季度末前", Deadline(None, 9), date(2026, 9, 30), date(2028, 9, 30)),
        ("第1季度", Deadline(None, 3), date(2026, 3, 31), date(2028, 3, 31)),
        ("今年年底前", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        ("1-6月", Deadline(None, 6), date(2026, 6, 30), date(2028, 6, 30)),
        ("3月至10月", Deadline(None, 10), date(2026, 10, 31), date(2028, 10, 31)),
        ("每年12月底前", Deadline(None, 12), date(2026, 12, 31), date(2028, 12, 31)),
        # A deadline word with no date at all.
        ("按期完成", Deadline(), None, None),
        ("按时完成", Deadline(), None, None),
        ("如期完成", Deadline(), None, None),
        ("按计划完成", Deadline(), None, None),
        ("每月10日前", Deadline(), None, None),  # every month: no one date
        ("次月5日前完成", Deadline(), None, None),
    ],
)
def test_parse_deadline_without_a_year(raw: str, deadline: Deadline, by_2026: date | None, by_2028: date | None) -> None:
    t = parse_target(raw)
    assert t.deadline == deadline
    assert t.deadline is not None and t.deadline.date is None
    assert (t.deadline.by(2026), t.deadline.by(2028)) == (by_2026, by_2028)
    assert (t.number, t.qualitative) == (None, False)


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
        ("响应时间控制在2个工作日内", [("响应时间", "≤", D(2), "个工作日")]),
        # A date is no quantity: 2026 年 is when, not how much.
        ("项目完成时间为2026年8月底，满意度达到95%以上", [("满意度", "≥", D(95), "%")]),
        ("完成时间为6月，完成率达到100%", [("完成率", "=", D(100), "%")]),
        ("验收日期为2026-06-30；验收日期为2026.6.30；验收日期为2026/6/30", []),
        ("培训次数为1-2次", []),  # a range, not one number
        ("项目周期为3年", [("项目周期", "=", D(3), "年")]),
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


# Texts that made a backtracking regex take seconds to minutes; each is made 3,200 and 32,000 characters long.
TARGET_TEXTS = {
    "spaces between two numbers": lambda n: "1" + " " * n + "1",
    "operator, spaces": lambda n: "≥" + " " * n + "x",
    "number, spaces, word": lambda n: "95" + " " * n + "以上x",
    "number, unit, digit": lambda n: "1" + "%" * n + "1",
    "date, spaces": lambda n: "2026年6月" + " " * n + "底前x",
    "digits": lambda n: "1" * n + "x",
    "grouped digits": lambda n: "1" + ",111" * (n // 4) + ",1",
}
GOAL_TEXTS = {
    "joining words": lambda n: "和" * n,
    "verbs without numbers": lambda n: "满意度达到" * (n // 5),
    "verb, spaces": lambda n: ("达到" + " " * 98) * (n // 100),
    "one long subject": lambda n: "甲" * n + "为1",
    "many targets": lambda n: "满意度达到95%以上，" * (n // 10),
    "targets joined": lambda n: "完成率达到100%和" * (n // 10),
    "numbers": lambda n: "为1" * (n // 2),
}


@pytest.mark.parametrize("make", TARGET_TEXTS.values(), ids=TARGET_TEXTS.keys())
def test_parse_target_takes_linear_time(make) -> None:
    assert_linear(parse_target, make(3200), make(32000))


@pytest.mark.parametrize("make", GOAL_TEXTS.values(), ids=GOAL_TEXTS.keys())
def test_extract_goal_targets_takes_linear_time(make) -> None:
    assert_linear(extract_goal_targets, make(3200), make(32000))


def test_long_odd_texts_are_quick() -> None:
    """The trial's case: `1` + 3,000 spaces + `1` took minutes."""
    import time

    start = time.perf_counter()
    parse_target("1" + " " * 3000 + "1")
    for make in (*TARGET_TEXTS.values(), *GOAL_TEXTS.values()):
        parse_target(make(32000))
        extract_goal_targets(make(32000))
    assert time.perf_counter() - start < 1.0
