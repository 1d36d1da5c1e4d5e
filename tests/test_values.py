"""Coercion of raw calamine cell values (values.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from tests.timing import assert_linear
from xlform.form.values import (
    ValueProblem,
    clean_text,
    parse_date,
    parse_decimal,
    parse_money,
    parse_tick,
    to_halfwidth,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("２３２１２４", "232124"),
        ("ＡＢＣｘｙｚ", "ABCxyz"),
        ("，．－％＞＜＝～", ",.-%><=~"),
        ("满意度\u3000９５％", "满意度 95%"),
        ("已是半角 abc 123", "已是半角 abc 123"),
        ("", ""),
    ],
)
def test_to_halfwidth(text: str, expected: str) -> None:
    assert to_halfwidth(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  张宇华 ", "张宇华"),
        ("\u3000张宇华\u3000", "张宇华"),
        ("\xa0何小荣\xa0", "何小荣"),
        ("\ufeff\u200b项目\u200b", "项目"),
        ("内 部 空 格", "内 部 空 格"),  # only the surrounding blanks go
        (24033138.0, "24033138"),  # a phone number typed into a number cell
        (24033138, "24033138"),
        (0.1, "0.1"),
        (232124.5, "232124.5"),
        (232124.00000000003, "232124"),
        (1e20, "100000000000000000000"),
        (Decimal("1E+2"), "100"),
        (Decimal("232124.00"), "232124.00"),
        (True, "TRUE"),
        (False, "FALSE"),
        (date(2020, 1, 1), "2020-01-01"),
        (datetime(2020, 12, 31), "2020-12-31"),
        (datetime(2020, 12, 31, 8, 30), "2020-12-31 08:30:00"),
        (time(8, 30), "08:30:00"),
    ],
)
def test_clean_text(value: object, expected: str) -> None:
    assert clean_text(value) == expected


DECIMALS = [
    (None, None),
    ("", None),
    ("   ", None),
    ("\u3000", None),
    (0, Decimal(0)),
    (232124, Decimal(232124)),
    (-5, Decimal(-5)),
    (0.1, Decimal("0.1")),
    (232124.0, Decimal(232124)),
    (232124.00000000003, Decimal(232124)),
    (0.1 + 0.2, Decimal("0.3")),
    (1.5e-3, Decimal("0.0015")),
    (1e14, Decimal(10) ** 14),
    (999999999999999.0, Decimal(999999999999999)),  # just under MAX_NUMBER
    (Decimal("1.25"), Decimal("1.25")),
    ("232124", Decimal(232124)),
    ("232,124.00", Decimal("232124.00")),
    ("1,234,567.89", Decimal("1234567.89")),
    ("２３２，１２４．００", Decimal("232124.00")),
    ("－５", Decimal(-5)),
    ("−5", Decimal(-5)),  # U+2212 from Word
    ("+3", Decimal(3)),
    (".5", Decimal("0.5")),
    (" 232 124 ", Decimal(232124)),
    ("232124元", Decimal(232124)),
    ("23.2124万元", Decimal("23.2124")),  # the unit word is dropped, not applied
    ("¥232124", Decimal(232124)),
    ("￥ 232,124.00 元", Decimal("232124.00")),
]


@pytest.mark.parametrize(("value", "expected"), DECIMALS)
def test_parse_decimal(value: object, expected: Decimal | None) -> None:
    result = parse_decimal(value)
    assert result == expected
    if expected is not None:
        assert isinstance(result, Decimal)


def test_parse_decimal_keeps_typed_precision() -> None:
    # The "at most 2 decimals" money check needs what the clerk typed.
    assert str(parse_decimal("232,124.00")) == "232124.00"
    assert str(parse_decimal(0.1)) == "0.1"
    assert str(parse_decimal(232124.0)) == "232124"


INVALID_NUMBERS = [
    True,
    False,
    "abc",
    "12a",
    "1,5",  # could be a European decimal comma
    "12,34,567",
    "1.2.3",
    "95%",
    "--5",
    "1e5",
    "元",
    float("nan"),
    float("inf"),
    Decimal("NaN"),
    date(2020, 1, 1),
    datetime(2020, 1, 1),
    time(8, 0),
]


@pytest.mark.parametrize("value", INVALID_NUMBERS)
def test_parse_decimal_rejects(value: object) -> None:
    with pytest.raises(ValueProblem, match="不是有效的数字"):
        parse_decimal(value)


@pytest.mark.parametrize(("value", "expected"), DECIMALS)
def test_parse_money_accepts_the_same(value: object, expected: Decimal | None) -> None:
    assert parse_money(value) == expected


@pytest.mark.parametrize("value", INVALID_NUMBERS)
def test_parse_money_rejects_with_money_message(value: object) -> None:
    with pytest.raises(ValueProblem, match="不是有效的金额"):
        parse_money(value)


def test_value_problem_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="金额") as info:
        parse_money("一百元")
    assert isinstance(info.value, ValueProblem)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        (date(2020, 1, 1), date(2020, 1, 1)),
        (datetime(2020, 12, 31, 15, 30), date(2020, 12, 31)),
        # Excel serials, 1900 system with its fictitious 1900-02-29 (serial 60).
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),
        (43831, date(2020, 1, 1)),
        (44196, date(2020, 12, 31)),
        (43831.0, date(2020, 1, 1)),
        (43831.75, date(2020, 1, 1)),  # the fraction is a time of day
        (Decimal(43831), date(2020, 1, 1)),
        (2958465, date(9999, 12, 31)),
        ("2020-01-01", date(2020, 1, 1)),
        ("2020-1-1", date(2020, 1, 1)),
        ("2020/1/1", date(2020, 1, 1)),
        ("2020/01/31", date(2020, 1, 31)),
        ("2020.1.1", date(2020, 1, 1)),
        ("2020年1月1日", date(2020, 1, 1)),
        ("2020年01月01日", date(2020, 1, 1)),
        ("2020年12月31", date(2020, 12, 31)),
        ("20200101", date(2020, 1, 1)),
        ("２０２０年１２月３１日", date(2020, 12, 31)),
        ("２０２０－０１－０１", date(2020, 1, 1)),
        (" 2020 年 1 月 1 日 ", date(2020, 1, 1)),
        ("\u30002020-01-01\u3000", date(2020, 1, 1)),
        ("2020-01-01 00:00:00", date(2020, 1, 1)),
        ("2020-01-01T08:30", date(2020, 1, 1)),
        ("2020-02-29", date(2020, 2, 29)),
    ],
)
def test_parse_date(value: object, expected: date | None) -> None:
    result = parse_date(value)
    assert result == expected
    assert type(result) is (date if expected is not None else type(None))


@pytest.mark.parametrize(
    "value",
    [
        0,
        60,  # 1900-02-29 never existed
        -1,
        2958466,
        float("nan"),
        True,
        time(8, 0),
        "2020-02-30",
        "2019-02-29",
        "2020-13-01",
        "2020-00-10",
        "20201301",
        "2020年",
        "2020-01",
        "01/02/2020",  # day/month order is ambiguous, so refuse it
        "明年一月",
        "abc",
        "2020-01-01 后",
    ],
)
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(ValueProblem, match="不是有效的日期"):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("✓", True),
        ("√", True),
        ("✔", True),
        ("☑", True),
        ("☒", True),
        ("是", True),
        ("Y", True),
        ("y", True),
        ("x", True),
        ("X", True),
        ("1", True),
        ("Ｙ", True),
        (" √ ", True),
        (True, True),
        (1, True),
        (1.0, True),
        (None, False),
        ("", False),
        ("  ", False),
        ("否", False),
        ("☐", False),
        ("0", False),
        (0, False),
        (0.0, False),
        (False, False),
    ],
)
def test_parse_tick(value: object, expected: bool) -> None:
    assert parse_tick(value) is expected


@pytest.mark.parametrize("value", ["好", "?", "√√", "2", 2, 0.5, "yes please", date(2020, 1, 1)])
def test_parse_tick_rejects(value: object) -> None:
    with pytest.raises(ValueProblem, match="勾选"):
        parse_tick(value)


@pytest.mark.parametrize("value", [1e15, 1e20, -1e300, "1" + "0" * 15, "9" * 5000, Decimal("1E+27")])
def test_a_number_past_any_budget_is_a_problem_not_a_crash(value: object) -> None:
    with pytest.raises(ValueProblem, match="不合常理"):
        parse_decimal(value)
    with pytest.raises(ValueProblem, match="不合常理"):
        parse_money(value)


# A cell holds up to 32,767 characters: odd ones must not make reading slow (3,200 against 32,000).
ODD_CELLS = {
    "spaces inside a date": lambda n: "2020" + " " * n + "x",
    "spaces around separators": lambda n: "2020" + " - " * (n // 3) + "x",
    "digits": lambda n: "1" * n + "x",
    "spaced digits": lambda n: " 1" * (n // 2) + ",",
    "grouped digits": lambda n: "1" + ",111" * (n // 4) + ",1",
}


@pytest.mark.parametrize("parse", [parse_date, parse_money, parse_decimal, parse_tick])
@pytest.mark.parametrize("make", ODD_CELLS.values(), ids=ODD_CELLS.keys())
def test_parsers_take_linear_time(parse, make) -> None:
    assert_linear(parse, make(3200), make(32000))
