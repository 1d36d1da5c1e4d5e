"""The data on a 财政项目支出绩效目标申报表, as plain dataclasses.

The writer takes a Declaration (blank or filled) and the reader gives one back,
so `write(d)` then `read()` is the identity the tests rely on. Money is Decimal,
dates are date; every free-text field is a str ("" when empty).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .fields import FIELD_BY_KEY, TABLES


@dataclass
class Identity:
    """Who issued the workbook and what layout it has (the hidden _meta sheet)."""

    template_id: str = ""
    template_version: str = ""
    form_id: str = ""
    issued_at: str = ""  # ISO 8601 timestamp, "" for a workbook never issued
    department: str = ""  # the department it was issued to, "" when blank
    department_code: str = ""
    year: int | None = None
    money_unit: str = "元"
    fingerprint: str = ""
    template_digest: str = ""  # sha256 of the template YAML it was issued with ("" before digests were stamped)
    # A form carried over from last year's return (distribute --carry-over): that return's form id, its 当年预算
    # (decimal text, "" when it had none) and money unit. "" for every other form.
    carried_from: str = ""
    last_budget: str = ""
    last_money_unit: str = ""


@dataclass
class Funding:
    total: Decimal | None = None  # 一、项目总预算
    current_year: Decimal | None = None  # 二、当年预算
    fiscal: Decimal | None = None  # （一）财政拨款
    fiscal_superior: Decimal | None = None  # 1. 上级财政拨款
    fiscal_local: Decimal | None = None  # 2. 本级财政安排
    fiscal_subordinate: Decimal | None = None  # 3. 下级财政配套
    other: Decimal | None = None  # （二）其他资金


@dataclass
class Project:
    """Table 1 · 项目总体情况 (everything but the money)."""

    unit: str = ""  # 填报单位
    name: str = ""
    category: str = ""
    leader: str = ""
    contact: str = ""
    phone: str = ""
    start_date: date | None = None
    end_date: date | None = None
    overview: str = ""
    basis: str = ""
    necessity: str = ""
    feasibility: str = ""
    resources: str = ""
    overall_goal: str = ""
    annual_goal: str = ""
    other_notes: str = ""


@dataclass
class Footer:
    unit_head: str = ""  # 填报单位负责人
    filled_by: str = ""  # 填表人
    filled_on: date | None = None  # 填报日期


@dataclass
class Activity:
    """One 项目构成 row: 主体活动 with its amount and the 一级目标 it serves."""

    name: str = ""
    amount: Decimal | None = None
    level1: str = ""
    row: int = field(default=0, compare=False)  # 1-based sheet row it was read from; 0 when not read
    extra: dict[str, Any] = field(default_factory=dict)  # columns the template adds, by key


@dataclass(frozen=True)
class Deadline:
    """A 时限 target of a 时效 indicator: `2026年8月底前` → year 2026, month 8, day None (the month's end).

    Only what the text says is kept: `6月底` has no year (the budget year's June), `按期完成` has no
    date at all (month None). `by()` turns it into the last day the target allows.
    """

    year: int | None = None
    month: int | None = None  # None: no date named (按期完成)
    day: int | None = None  # None: the end of the month

    def by(self, year: int | None = None) -> date | None:
        """The last day allowed; `year` (the budget year) stands in when the text names none."""
        year = self.year or year
        if year is None or self.month is None:
            return None
        last = calendar.monthrange(year, self.month)[1]
        if self.day is not None and self.day > last:
            return None  # 2月29日 in a year that has none
        return date(year, self.month, self.day or last)

    @property
    def date(self) -> date | None:
        """The date the text itself gives (None for 6月底 or 按期完成)."""
        return self.by()


@dataclass
class Target:
    """A parsed 目标值: `≥95%` → operator '≥', number 95, unit '%'; `2026年6月30日前` → a deadline."""

    raw: str = ""
    operator: str = ""
    number: Decimal | None = None
    unit: str = ""
    qualitative: bool = False  # words only (及时, 良好): neither a number nor a deadline
    deadline: Deadline | None = None


@dataclass
class Indicator:
    level1: str = ""  # 一级目标 / 一级指标
    level2: str = ""  # 二级目标 / 二级指标
    name: str = ""  # 三级目标: the indicator's own name
    target: Target = field(default_factory=Target)
    note: str = ""  # 备注 (shanghai) — the basis of the value
    # Extra columns of national (mof-style) forms; "" where a template lacks them.
    value_type: str = ""  # 指标值类型: 定量 / 定性
    operator: str = ""  # 计算符号 as its own column
    measure_unit: str = ""  # 计量单位
    value_basis: str = ""  # 指标值设定依据
    row: int = field(default=0, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)  # columns the template adds (指标解释, 分值…)
    last_target: str = ""  # 上年目标值 of a carried-over row, as last year's return had it (a locked column)
    # Whether (二级, 三级) is an indicator of the template's library (库内) or the department's own (自定义);
    # None: no library, or no name. Worked out by the reader, so not part of the data compared.
    in_library: bool | None = field(default=None, compare=False)


@dataclass
class CostItem:
    """One 项目构成分解 row."""

    project: str = ""  # 项目名称
    content: str = ""  # 项目内容
    detail: str = ""  # 项目明细
    amount: Decimal | None = None  # 明细金额
    unit_price: Decimal | None = None  # 单价
    price_basis: str = ""
    quantity: Decimal | None = None  # 数量
    quantity_basis: str = ""
    note: str = ""
    row: int = field(default=0, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Guarantee:
    """One 制度保障 row; the three stages are ticks (True = ✓)."""

    kind: str = ""  # 制度类别
    document: str = ""  # 文件名称
    measures: str = ""  # 具体措施
    planning: bool = False  # 立项和计划阶段
    implementation: bool = False  # 实施阶段
    completion: bool = False  # 收尾和完成阶段
    row: int = field(default=0, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One row of a table a template adds (资金来源明细…): its values by column key, typed by the column's
    kind (Decimal, date, int, str, bool, Coded)."""

    values: dict[str, Any] = field(default_factory=dict)
    row: int = field(default=0, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)  # always empty: every column of a Row is in `values`


@dataclass
class Declaration:
    identity: Identity = field(default_factory=Identity)
    project: Project = field(default_factory=Project)
    funding: Funding = field(default_factory=Funding)
    activities: list[Activity] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    costs: list[CostItem] = field(default_factory=list)
    guarantees: list[Guarantee] = field(default_factory=list)
    footer: Footer = field(default_factory=Footer)
    # What the template adds: extra["competent_dept"] is a field of 项目总体情况 by its key (typed by its
    # kind: str, Decimal, int, date, bool, Coded); tables["funding_sources"] the rows of an added table
    # (Row, or Indicator for a table declared `like: indicators`).
    extra: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[Any]] = field(default_factory=dict)
    # Where things were read from, and what reading found; not part of the data itself.
    source: Source = field(default_factory=lambda: Source(), compare=False)


@dataclass
class Source:
    """Where a Declaration was read from: the file, each field's cell, each table's columns."""

    file: str = ""
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # field key → (sheet, "C4")
    columns: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # table → (sheet, key → "E")
    findings: list = field(default_factory=list)  # list[Finding] raised while reading
    template: object = None  # the Template it was read with (a bureau's own YAML included)


# The row type of each built-in table (an added table's rows are Row, or Indicator when declared like indicators).
ROW_TYPES: dict[str, type] = {"activities": Activity, "indicators": Indicator, "costs": CostItem, "guarantees": Guarantee}


def field_value(d: Declaration, group: str, key: str) -> Any:
    """A field of 项目总体情况 by its group and key: built-in attributes, or `extra` for added fields."""
    if group == "extra":
        return d.extra.get(key)
    return getattr(getattr(d, group), key)


def set_field_value(d: Declaration, group: str, key: str, value: Any) -> None:
    if group == "extra":
        d.extra[key] = value
    else:
        setattr(getattr(d, group), key, value)


def row_value(item: Any, key: str) -> Any:
    """A column of a table row: the row type's attribute, else an added column (`extra` / Row.values)."""
    if isinstance(item, Row):
        return item.values.get(key)
    if hasattr(item, key) and key not in ("row", "extra"):
        return getattr(item, key)
    return item.extra.get(key)


def set_row_value(item: Any, key: str, value: Any, builtin: bool) -> None:
    if isinstance(item, Row):
        item.values[key] = value
    elif builtin:
        setattr(item, key, value)
    else:
        item.extra[key] = value


def rows_of(d: Declaration, table: str) -> list[Any]:
    """The rows of a table, built-in or added."""
    if table in TABLES:
        rows: list[Any] = getattr(d, table)
        return rows
    return d.tables.get(table, [])



class DeclarationValues:
    """A declaration as the expression language reads it (form/expr.Values): fields by key, columns by
    table, filled rows."""

    def __init__(self, d: Declaration) -> None:
        self.d = d

    def field(self, key: str) -> Any:
        field = FIELD_BY_KEY.get(key)
        return field_value(self.d, field.group if field else "extra", key)

    def column(self, table: str, column: str) -> list[Any]:
        return [row_value(item, column) for item in rows_of(self.d, table)]

    def rows(self, table: str) -> int:
        return len(rows_of(self.d, table))
