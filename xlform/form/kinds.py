"""What each Kind of value means to the writer and the reader, in one table: adding a kind is one row here
(and, for a kind that needs one, its data validation in writing/workbook.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .fields import Kind
from .targets import parse_target
from .values import CENT, parse_code, parse_date, parse_decimal, parse_integer, parse_money, parse_tick, parse_year


class Cell(StrEnum):
    """How the writer puts a value in its cell."""

    NUMBER = "number"
    DATE = "date"
    TICK = "tick"  # ✓ when true
    TEXT = "text"  # always as text, never a formula or a number


@dataclass(frozen=True)
class KindSpec:
    input_format: str  # the writer's cell format for an input of this kind
    cell: Cell
    convert: Callable[[Any], Any] | None  # raw cell value → model value; None: text (clean_text, never a finding)
    rule: str = "kind.value"  # the finding for a value the reader cannot convert


def _cents(value: Decimal | None) -> Decimal | None:
    """Money shown with two decimals (232124 → 232124.00); more decimals are kept for the check to see."""
    if value is not None and value == value.quantize(CENT):
        return value.quantize(CENT)
    return value


KINDS: dict[Kind, KindSpec] = {
    Kind.TEXT: KindSpec("text", Cell.TEXT, None),
    Kind.LONG: KindSpec("long", Cell.TEXT, None),
    Kind.MONEY: KindSpec("money", Cell.NUMBER, lambda raw: _cents(parse_money(raw)), "kind.money"),
    Kind.DATE: KindSpec("date", Cell.DATE, parse_date, "kind.date"),
    Kind.PHONE: KindSpec("code", Cell.TEXT, None),
    Kind.CHOICE: KindSpec("choice", Cell.TEXT, None),
    Kind.NUMBER: KindSpec("number", Cell.NUMBER, parse_decimal, "kind.number"),
    Kind.TICK: KindSpec("tick", Cell.TICK, parse_tick, "kind.tick"),
    Kind.TARGET: KindSpec("code", Cell.TEXT, parse_target),  # the reader also turns a percent cell into a target
    Kind.INTEGER: KindSpec("integer", Cell.NUMBER, parse_integer, "kind.number"),
    Kind.YEAR: KindSpec("year", Cell.NUMBER, parse_year, "kind.number"),
    Kind.CODE: KindSpec("choice", Cell.TEXT, parse_code, "kind.code"),
}
TEXT_KINDS = frozenset(k for k, spec in KINDS.items() if spec.convert is None)
