"""Tolerant coercion of raw cell values into model types.

python-calamine hands back str, int, float, bool, date, datetime, time or None,
and clerks type the same amount as 232124, "232,124.00", "２３２１２４元" or
"￥232124". Everything here accepts all of those and raises ValueProblem (with a
Chinese message a clerk understands) only for what really is not a value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

__all__ = [
    "CENT",
    "MONEY_TOLERANCE",
    "Coded",
    "ValueProblem",
    "clean_text",
    "parse_code",
    "parse_date",
    "parse_decimal",
    "parse_integer",
    "parse_money",
    "parse_tick",
    "parse_year",
    "to_halfwidth",
]


CENT = Decimal("0.01")  # amounts are kept to the cent
# Two amounts are equal when they agree to the cent: the reviewer's checks and the workbook's own live checks.
MONEY_TOLERANCE = CENT / 2


class ValueProblem(ValueError):
    """A cell holds something that is not a value of the expected kind."""


# What is wrong and what to write instead; the reader puts the cell's label and value before it.
_NOT_A_NUMBER = "不是有效的数字，请只填数字，如 3"
_NOT_MONEY = "不是有效的金额，请只填数字，如 232124.00"
_NOT_A_DATE = "不是有效的日期，请写成 2020-01-01 或 2020年1月1日"
_NOT_A_TICK = "不是有效的勾选标记，请填 ✓ 或留空"
_NOT_AN_INTEGER = "不是整数，请只填整数，如 12"
_NOT_A_YEAR = "不是有效的年度，请填四位年份，如 2026"
_NOT_A_CODE = "不是“编码-名称”形式，请从下拉列表选择，如 219001-区教育局"


# U+FF01..U+FF5E mirror ASCII 0x21..0x7E at a fixed offset; U+3000 is the ideographic space.
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Invisible characters that Python's str.strip() keeps but copy-paste from Word/web brings along.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (Ｕ+FF01..FF5E) → ASCII, ideographic space → space. Length is kept."""
    return text.translate(_HALFWIDTH)


def _plain_decimal(d: Decimal) -> str:
    # format "f" never switches to exponent notation (Decimal("1E+2") → "100").
    return format(d, "f")


def _strip_zeros(d: Decimal) -> Decimal:
    # normalize() alone would turn 100 into 1E+2, which prints badly.
    # int() is exact at any size, where quantize() fails past the context's 28 digits (1E+27 typed in a cell).
    return Decimal(int(d)) if d == d.to_integral_value() else d.normalize()


_TEN_DECIMALS = Decimal("1E-10")


def _float_decimal(value: float) -> Decimal:
    if value.is_integer() and abs(value) < 1e15:
        return Decimal(int(value))  # most amounts: exact, and the quickest way there
    # repr gives the shortest round-tripping text (0.1 → "0.1"); rounding to 10
    # decimals then removes binary noise such as 232124.00000000003.
    d = Decimal(repr(value)).quantize(_TEN_DECIMALS) if abs(value) < 1e15 else Decimal(repr(value))
    return _strip_zeros(d)


# What str.strip() removes (Unicode white space) and the invisible characters, stripped in one pass.
_STRIPPED = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + _INVISIBLE


def clean_text(value: object) -> str:
    """Any cell value as the text a person sees, without surrounding blanks."""
    if value.__class__ is str:  # most cells: skip the type tests below
        return value.strip(_STRIPPED)
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "TRUE" if value else "FALSE"  # what Excel shows
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 1e21:  # as Excel shows it (1E+30), not a line of thirty zeros
            return repr(value).upper()
        return _plain_decimal(_float_decimal(value))
    if isinstance(value, Decimal):
        return _plain_decimal(value)
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        if value.time() == time(0):
            return value.date().isoformat()  # a date cell that calamine typed as datetime
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip(_STRIPPED)


_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")


# Larger than any budget in 元 (10¹⁵ = 1000 万亿). Past it a value is a typing accident, and Decimal
# arithmetic at its default 28 digits would fail on it, so it is refused at its cell like any bad value.
MAX_NUMBER = Decimal(10) ** 15
_TOO_LARGE = "（数值大得不合常理，超过 1000 万亿；请核对数字和单位）"


def _parse_number(value: object, problem: str) -> Decimal | None:
    number = _parse_any_number(value, problem)
    if number is not None and abs(number) >= MAX_NUMBER:
        raise ValueProblem(problem + _TOO_LARGE)
    return number


def _parse_any_number(value: object, problem: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):  # TRUE in a money cell is a mistake, not 1
        raise ValueProblem(problem)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueProblem(problem)
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(problem)
        return _float_decimal(value)
    if not isinstance(value, str):  # dates, times: never silently a number
        raise ValueProblem(problem)
    text = _SPACES.sub("", to_halfwidth(clean_text(value)))
    if not text:
        return None
    text = text.replace("−", "-")  # U+2212 MINUS SIGN, from Word
    text = text.removeprefix("¥").removeprefix("￥")
    # The unit word is the form's money unit; converting 万元 ↔ 元 is the caller's job.
    text = text.removesuffix("万元").removesuffix("元")
    # Commas must group by three: "1,5" could be a European decimal, so refuse it.
    if not _NUMBER.fullmatch(text):
        raise ValueProblem(problem)
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValueProblem(problem) from exc


def parse_decimal(value: object) -> Decimal | None:
    """A number (quantity, price) from a cell; None when the cell is empty."""
    return _parse_number(value, _NOT_A_NUMBER)


def parse_money(value: object) -> Decimal | None:
    """An amount of money; separate from parse_decimal so money checks can evolve."""
    return _parse_number(value, _NOT_MONEY)


_EXCEL_EPOCH = date(1899, 12, 30)  # serial 0 once the fictitious 1900-02-29 is accounted for
MAX_SERIAL = 2958465  # 9999-12-31
SERIAL_1904 = 1462  # a serial of the 1904 date system (Excel for Mac) + this = the same day's 1900 serial
# A time part after the date (text pasted from a system export) is accepted and dropped.
_TIME_PART = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_PATTERNS = tuple(
    re.compile(p + _TIME_PART)
    for p in (
        r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})",  # 2020-01-01, 2020/1/1, 2020.1.1
        r"(\d{4})年(\d{1,2})月(\d{1,2})日?",  # 2020年1月1日
        r"(\d{4})(\d{2})(\d{2})",  # 20200101
    )
)


# A run of blanks is tried from its first blank only and never given back: linear in the text.
_SPACED_SEPARATOR = re.compile(r"(?<!\s)\s*+([-/.年月日:])\s*+")


def _from_serial(serial: float) -> date:
    day = math.floor(serial)  # the fraction is a time of day
    if not 1 <= day <= MAX_SERIAL or day == 60:  # 60 is Excel's non-existent 1900-02-29
        raise ValueProblem(_NOT_A_DATE)
    return serial_date(day)


def serial_date(day: int) -> date:
    """The day of a whole serial number (1900 date system, 1 ≤ day ≤ MAX_SERIAL)."""
    return _EXCEL_EPOCH + timedelta(days=day + 1 if day < 60 else day)


def parse_date(value: object) -> date | None:
    """A date from a date cell, an Excel serial number or typed text; None when empty."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueProblem(_NOT_A_DATE)
    if isinstance(value, int | float | Decimal):
        if not math.isfinite(value):
            raise ValueProblem(_NOT_A_DATE)
        return _from_serial(float(value))
    text = to_halfwidth(clean_text(value))
    # Spaces around separators ("2020 年 1 月 1 日") are noise; one space before a time is not.
    text = _SPACED_SEPARATOR.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    if not text:
        return None
    for pattern in _DATE_PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError as exc:  # 2020-02-30 and the like
                raise ValueProblem(_NOT_A_DATE) from exc
    raise ValueProblem(_NOT_A_DATE)


# ☒ and ✅ are ticked boxes too; ☐ is the empty box some templates pre-print.
_TICKED = frozenset({"✓", "√", "✔", "☑", "☒", "✅", "是", "Y", "y", "x", "X", "1"})
_UNTICKED = frozenset({"", "否", "☐", "0", "N", "n"})


def parse_tick(value: object) -> bool:
    """A stage tick of 制度保障: True for ✓ and its look-alikes, False when empty."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float | Decimal):
        if value == 1:
            return True
        if value == 0:
            return False
        raise ValueProblem(_NOT_A_TICK)
    if isinstance(value, str):
        text = to_halfwidth(clean_text(value)).strip()
        if text in _TICKED:
            return True
        if text in _UNTICKED:
            return False
    raise ValueProblem(_NOT_A_TICK)


def parse_integer(value: object) -> int | None:
    """A whole number (人数, 个数); 12.0 is 12, 12.5 is not a whole number."""
    number = _parse_number(value, _NOT_AN_INTEGER)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueProblem(_NOT_AN_INTEGER)
    return int(number)


MIN_YEAR, MAX_YEAR = 2000, 2100  # the budget years a form may be for


def parse_year(value: object) -> int | None:
    """A year (2026, "2026年", "2026.0" from a number cell saved as text)."""
    if isinstance(value, str):
        value = clean_text(value).removesuffix("年度").removesuffix("年")
    try:
        year = parse_integer(value)
    except ValueProblem:
        raise ValueProblem(_NOT_A_YEAR) from None
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueProblem(_NOT_A_YEAR)
    return year


@dataclass(frozen=True)
class Coded:
    """An entry of a code list: the code and the name, both kept (219001-区教育局)."""

    code: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.code}-{self.name}" if self.name else self.code


# The code is digits or letters; the separator as clerks type it (-, －, —, a space).
_CODED = re.compile(r"([0-9A-Za-z][0-9A-Za-z.]*)\s*[-－—–\s]\s*(.+)")


def parse_code(value: object) -> Coded | None:
    """`219001-区教育局` → Coded("219001", "区教育局"); a bare code keeps an empty name (the check then
    looks it up in the list)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueProblem(_NOT_A_CODE)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return Coded(str(int(value)))
    text = to_halfwidth(clean_text(value)).strip()
    if not text:
        return None
    m = _CODED.fullmatch(text)
    if m:
        return Coded(m[1], m[2].strip())
    if re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.]*", text):
        return Coded(text)
    raise ValueProblem(_NOT_A_CODE)
