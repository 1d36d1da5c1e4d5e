"""What each field on the form is: its key, its kind and its defined name.

Labels are not here: they belong to the template (YAML), so a bureau can
reword them. Keys are the attribute names of the dataclasses in model.py, and
the defined name of a single cell is always ``f_<key>``, of a row table
``t_<table>``: writer and reader derive names from this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"  # one line of text
    LONG = "long"  # a paragraph
    MONEY = "money"
    DATE = "date"
    PHONE = "phone"
    CHOICE = "choice"  # from a list named by the field's `choices` key
    NUMBER = "number"  # a quantity, may have decimals
    TICK = "tick"  # ✓ or empty
    TARGET = "target"  # 目标值 notation
    INTEGER = "integer"  # a whole number (人数, 个数)
    YEAR = "year"  # a budget year, 2000..2100
    CODE = "code"  # from a code list, shown and typed as 编码-名称 (219001-区教育局); read as a Coded


# Kinds a template may give a field or column it adds (目标值 belongs to the indicator tables).
ADDABLE_KINDS: tuple[Kind, ...] = tuple(k for k in Kind if k is not Kind.TARGET)
# Kinds whose values come from a list named by the field's `choices` key.
LISTED_KINDS = (Kind.CHOICE, Kind.CODE)


@dataclass(frozen=True)
class Field:
    key: str
    kind: Kind
    group: str  # dataclass attribute of Declaration holding it: project / funding / footer; "extra" for added
    choices: str = ""  # key into template.choices (CHOICE) or template.codes (CODE)
    section: str = ""  # which part of 项目总体情况 it sits in (SECTIONS)

    @property
    def builtin(self) -> bool:
        return self.group != EXTRA

    @property
    def name(self) -> str:
        return f"f_{self.key}"


@dataclass(frozen=True)
class Column:
    key: str
    kind: Kind
    choices: str = ""
    width: int = 12  # characters; long text columns get more
    builtin: bool = True  # False: a column the template adds (kept in the row's `extra`)
    required: bool = False  # an added column a filled row must not leave empty
    computed: bool = False  # drawn by a formula, locked; not data: the reader skips it


# The width a column a template adds gets, by kind, when it names none (characters).
ADDED_COLUMN_WIDTH = {Kind.LONG: 30, Kind.TEXT: 16, Kind.MONEY: 14, Kind.DATE: 12, Kind.TICK: 9,
                      Kind.CHOICE: 14, Kind.CODE: 20, Kind.NUMBER: 10, Kind.INTEGER: 8, Kind.YEAR: 8,
                      Kind.PHONE: 14}


P, F, FT, EXTRA = "project", "funding", "footer", "extra"

# The parts of 项目总体情况, top to bottom. A field a template adds goes into one of them; "approval" and
# "funding" sit under a merged group label in column A, "footer" (signatures) below a blank row.
SECTIONS = ("basics", "approval", "funding", "details", "footer")
# What identifies a return: a template may relabel these, never drop or move them.
IDENTITY_FIELDS = ("unit", "name")

# Single cells, in the order they appear on 项目总体情况.
FIELDS: tuple[Field, ...] = (
    Field("unit", Kind.TEXT, P, section="header"),
    Field("name", Kind.TEXT, P, section="basics"),
    Field("category", Kind.CHOICE, P, "category", section="basics"),
    Field("leader", Kind.TEXT, P, section="basics"),
    Field("contact", Kind.TEXT, P, section="basics"),
    Field("phone", Kind.PHONE, P, section="basics"),
    Field("start_date", Kind.DATE, P, section="basics"),
    Field("end_date", Kind.DATE, P, section="basics"),
    Field("overview", Kind.LONG, P, section="basics"),
    Field("basis", Kind.LONG, P, section="approval"),
    Field("necessity", Kind.LONG, P, section="approval"),
    Field("feasibility", Kind.LONG, P, section="approval"),
    Field("total", Kind.MONEY, F, section="funding"),
    Field("current_year", Kind.MONEY, F, section="funding"),
    Field("fiscal", Kind.MONEY, F, section="funding"),
    Field("fiscal_superior", Kind.MONEY, F, section="funding"),
    Field("fiscal_local", Kind.MONEY, F, section="funding"),
    Field("fiscal_subordinate", Kind.MONEY, F, section="funding"),
    Field("other", Kind.MONEY, F, section="funding"),
    Field("resources", Kind.LONG, P, section="details"),
    Field("overall_goal", Kind.LONG, P, section="details"),
    Field("annual_goal", Kind.LONG, P, section="details"),
    Field("other_notes", Kind.LONG, P, section="details"),
    Field("unit_head", Kind.TEXT, FT, section="footer"),
    Field("filled_by", Kind.TEXT, FT, section="footer"),
    Field("filled_on", Kind.DATE, FT, section="footer"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
# The money cells (项目资金), in form order: checks, outcomes, export and report all take them from here.
MONEY_KEYS: tuple[str, ...] = tuple(f.key for f in FIELDS if f.kind is Kind.MONEY)

# Labels that head a group rather than a cell.
SECTION_LABELS = (
    "approval", "funding", "activities", "indicators", "costs", "guarantees",
    "cost_total", "activity_total",
)

# Row tables: the column keys a template may use, with their kinds.
TABLE_COLUMNS: dict[str, dict[str, Column]] = {
    "activities": {
        "name": Column("name", Kind.TEXT, width=30),
        "amount": Column("amount", Kind.MONEY, width=14),
        "level1": Column("level1", Kind.CHOICE, "level1", width=14),
    },
    "indicators": {
        "level1": Column("level1", Kind.CHOICE, "level1", width=12),
        "level2": Column("level2", Kind.CHOICE, "level2", width=14),
        "name": Column("name", Kind.TEXT, width=26),
        "value_type": Column("value_type", Kind.CHOICE, "value_type", width=10),
        "operator": Column("operator", Kind.CHOICE, "operator", width=8),
        "target": Column("target", Kind.TARGET, width=12),
        "measure_unit": Column("measure_unit", Kind.TEXT, width=10),
        "value_basis": Column("value_basis", Kind.CHOICE, "value_basis", width=16),
        "note": Column("note", Kind.TEXT, width=16),
        # The chosen library indicator's 指标解释 and 计量单位 (a lookup formula; needs `library:`).
        "library_help": Column("library_help", Kind.TEXT, width=16, computed=True),
    },
    "costs": {
        "project": Column("project", Kind.TEXT, width=16),
        "content": Column("content", Kind.TEXT, width=18),
        "detail": Column("detail", Kind.TEXT, width=18),
        "amount": Column("amount", Kind.MONEY, width=14),
        "unit_price": Column("unit_price", Kind.MONEY, width=12),
        "price_basis": Column("price_basis", Kind.TEXT, width=10),
        "quantity": Column("quantity", Kind.NUMBER, width=8),
        "quantity_basis": Column("quantity_basis", Kind.TEXT, width=10),
        "note": Column("note", Kind.TEXT, width=12),
    },
    "guarantees": {
        "kind": Column("kind", Kind.CHOICE, "guarantee_kind", width=14),
        "document": Column("document", Kind.TEXT, width=28),
        "measures": Column("measures", Kind.TEXT, width=34),
        "planning": Column("planning", Kind.TICK, width=9),
        "implementation": Column("implementation", Kind.TICK, width=9),
        "completion": Column("completion", Kind.TICK, width=9),
    },
}
# Columns every template must have; the rest are optional extras.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "activities": ("name", "amount"),
    "indicators": ("level1", "level2", "name", "target"),
    "costs": ("amount",),
    "guarantees": ("kind", "document", "planning", "implementation", "completion"),
}
TABLES = tuple(TABLE_COLUMNS)


def table_name(table: str) -> str:
    return f"t_{table}"


TICK = "✓"
# The meta sheet and the hidden list sheet.
META_SHEET = "_meta"
LISTS_SHEET = "_lists"
CHECK_SHEET = "校验"
HELP_SHEET = "填表说明"
FEEDBACK_SHEET = "审核意见"  # first sheet of a workbook sent back to fix (issue/feedback.py); never read as input
