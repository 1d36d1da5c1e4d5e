"""What each Kind of value means to the writer and the reader, in one table: adding a kind is one row here
(its cell format, how it is written, its data validation, how it is read back and the rule for a value
that cannot be)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from . import paper
from .fields import TICK, Kind
from .targets import parse_target
from .values import (
    CENT,
    MAX_NUMBER,
    MAX_YEAR,
    MIN_YEAR,
    parse_code,
    parse_date,
    parse_decimal,
    parse_integer,
    parse_money,
    parse_tick,
    parse_year,
)


class Cell(StrEnum):
    """How the writer puts a value in its cell."""

    NUMBER = "number"
    DATE = "date"
    TICK = "tick"  # ✓ when true
    TEXT = "text"  # always as text, never a formula or a number


@dataclass(frozen=True)
class Validating:
    """What the data validation of one input cell (or a column of them) depends on."""

    here: str  # the first cell, A1 style
    need: str  # "（必填）" for a required field, else ""
    year: int  # the budget year: dates around it
    money_unit: str
    choices: str  # the list key of a choice or code field
    left: str  # the cell left of it, absolute column (二级 lists depend on the 一级 beside them)
    limit: int  # characters a text cell takes (text kinds)
    per_line: int  # characters a printed line of the cell holds (a line break counts as a whole line)


Rule = dict[str, Any]  # an xlsxwriter data_validation() dict


def _choice(v: Validating) -> Rule:
    source = f"=l_{v.choices}"
    if v.choices == "level2":
        source = f'=INDIRECT("l2_"&MATCH({v.left},l_level1,0))'
    rule: Rule = {"validate": "list", "source": source, "input_message": f"请从下拉列表中选择{v.need}。",
                  "error_message": "请从下拉列表中选择，不要自行输入。"}
    if v.choices in OPEN_LISTS:  # more may be added: allow, with a notice
        rule["error_type"] = "information"
        rule["error_message"] = OPEN_LISTS[v.choices]
    return rule


# Lists a clerk may go beyond, with the notice shown when they do.
OPEN_LISTS = {"guarantee_kind": "这不是常用的制度类别；如确需新增，请点“确定”。"}


def _text(v: Validating, hint: str = "") -> Rule:
    assert v.limit > 0 and v.per_line > 0, v
    counted = paper.counted_length_formula(v.here, v.per_line)
    breaks = f"每换一次行按 {v.per_line} 个字计" if v.limit >= v.per_line else "不能换行"
    return {"validate": "custom", "value": f"={counted}<={v.limit}",
            "input_message": f"{hint}最多 {v.limit} 个字（{breaks}），打印时才能完整显示{v.need}。",
            "error_message": f"内容过长：本格最多 {v.limit} 个字（{breaks}），超出的部分打印不出来。请精简后再填。"}


def _money(v: Validating) -> Rule:
    h = v.here
    return {"validate": "custom", "value": f"=AND(ISNUMBER({h}),{h}>=0,ROUND({h},2)={h})",
            "input_message": f"填写金额（{v.money_unit}），不小于 0，最多两位小数{v.need}。",
            "error_message": f"金额须为不小于 0 的数字，最多两位小数，单位：{v.money_unit}。"}


def _date(v: Validating) -> Rule:
    y = v.year
    return {"validate": "date", "criteria": "between", "minimum": datetime(y - 10, 1, 1),
            "maximum": datetime(y + 10, 12, 31), "input_message": f"填写日期，如 {y}-01-01{v.need}。",
            "error_message": f"请填写 {y - 10} 至 {y + 10} 年之间的有效日期，如 {y}-01-01。"}


def _no_validation(v: Validating) -> Rule:  # pragma: no cover - every kind has one
    raise AssertionError(v)


@dataclass(frozen=True)
class KindSpec:
    input_format: str  # the writer's cell format for an input of this kind
    cell: Cell
    convert: Callable[[Any], Any] | None  # raw cell value → model value; None: text (clean_text, never a finding)
    rule: str = "kind.value"  # the finding for a value the reader cannot convert
    validation: Callable[[Validating], Rule] = _no_validation  # the cell's data validation, prompt and error


def _cents(value: Decimal | None) -> Decimal | None:
    """Money shown with two decimals (232124 → 232124.00); more decimals are kept for the check to see."""
    if value is not None and value == value.quantize(CENT):
        return value.quantize(CENT)
    return value


_MAX_FLOAT = float(MAX_NUMBER)  # exact (10¹⁵ < 2⁵³), and ten times quicker to compare a float with than a Decimal


def _read_money(raw: Any) -> Decimal | None:
    # Most amounts are whole numbers typed into a number cell: exact, without the general parse (a return
    # has twenty of them; this is a tenth of its reading).
    if raw.__class__ is float and raw.is_integer() and -_MAX_FLOAT < raw < _MAX_FLOAT:
        return Decimal(int(raw)).quantize(CENT)
    return _cents(parse_money(raw))


KINDS: dict[Kind, KindSpec] = {
    Kind.TEXT: KindSpec("text", Cell.TEXT, None, validation=_text),
    Kind.LONG: KindSpec("long", Cell.TEXT, None, validation=_text),
    Kind.MONEY: KindSpec("money", Cell.NUMBER, _read_money, "kind.money", _money),
    Kind.DATE: KindSpec("date", Cell.DATE, parse_date, "kind.date", _date),
    Kind.PHONE: KindSpec("code", Cell.TEXT, None, validation=lambda v: {
        "validate": "length", "criteria": "between", "minimum": 7, "maximum": 20,
        "input_message": f"固定电话（可带区号）或 11 位手机号{v.need}。",
        "error_message": "电话号码应为 7 至 20 位，如 021-24033138 或 13800000000。"}),
    Kind.CHOICE: KindSpec("choice", Cell.TEXT, None, validation=_choice),
    Kind.NUMBER: KindSpec("number", Cell.NUMBER, parse_decimal, "kind.number", lambda v: {
        "validate": "decimal", "criteria": ">=", "value": 0,
        "input_message": "填写数量（不小于 0 的数字）。", "error_message": "数量须为不小于 0 的数字。"}),
    Kind.TICK: KindSpec("tick", Cell.TICK, parse_tick, "kind.tick", lambda v: {
        "validate": "list", "source": "=l_tick", "input_message": f"适用的阶段请选择 {TICK}，不适用留空。",
        "error_message": f"请选择 {TICK} 或留空。"}),
    # The reader also turns a percent cell into a target.
    Kind.TARGET: KindSpec("code", Cell.TEXT, parse_target, validation=lambda v: _text(v, "如 100%、≥95%、≤10次、及时；")),
    Kind.INTEGER: KindSpec("integer", Cell.NUMBER, parse_integer, "kind.number", lambda v: {
        "validate": "integer", "criteria": ">=", "value": 0,
        "input_message": f"填写整数（不小于 0）{v.need}。", "error_message": "请填写不小于 0 的整数。"}),
    Kind.YEAR: KindSpec("year", Cell.NUMBER, parse_year, "kind.number", lambda v: {
        "validate": "integer", "criteria": "between", "minimum": MIN_YEAR, "maximum": MAX_YEAR,
        "input_message": f"填写四位年份，如 {v.year}{v.need}。",
        "error_message": f"请填写 {MIN_YEAR} 至 {MAX_YEAR} 之间的四位年份，如 {v.year}。"}),
    Kind.CODE: KindSpec("choice", Cell.TEXT, parse_code, "kind.code", lambda v: {
        "validate": "list", "source": f"=l_{v.choices}", "input_message": f"请从下拉列表中选择（编码-名称）{v.need}。",
        "error_message": "请从下拉列表中选择“编码-名称”，不要自行输入。"}),
}
TEXT_KINDS = frozenset(k for k, spec in KINDS.items() if spec.convert is None)
