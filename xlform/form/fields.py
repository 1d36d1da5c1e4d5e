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


@dataclass(frozen=True)
class Field:
    key: str
    kind: Kind
    group: str  # dataclass attribute of Declaration holding it: project / funding / footer
    choices: str = ""  # key into template.choices for CHOICE fields

    @property
    def name(self) -> str:
        return f"f_{self.key}"


@dataclass(frozen=True)
class Column:
    key: str
    kind: Kind
    choices: str = ""
    width: int = 12  # characters; long text columns get more


P, F, FT = "project", "funding", "footer"

# Single cells, in the order they appear on 项目总体情况.
FIELDS: tuple[Field, ...] = (
    Field("unit", Kind.TEXT, P),
    Field("name", Kind.TEXT, P),
    Field("category", Kind.CHOICE, P, "category"),
    Field("leader", Kind.TEXT, P),
    Field("contact", Kind.TEXT, P),
    Field("phone", Kind.PHONE, P),
    Field("start_date", Kind.DATE, P),
    Field("end_date", Kind.DATE, P),
    Field("overview", Kind.LONG, P),
    Field("basis", Kind.LONG, P),
    Field("necessity", Kind.LONG, P),
    Field("feasibility", Kind.LONG, P),
    Field("total", Kind.MONEY, F),
    Field("current_year", Kind.MONEY, F),
    Field("fiscal", Kind.MONEY, F),
    Field("fiscal_superior", Kind.MONEY, F),
    Field("fiscal_local", Kind.MONEY, F),
    Field("fiscal_subordinate", Kind.MONEY, F),
    Field("other", Kind.MONEY, F),
    Field("resources", Kind.LONG, P),
    Field("overall_goal", Kind.LONG, P),
    Field("annual_goal", Kind.LONG, P),
    Field("other_notes", Kind.LONG, P),
    Field("unit_head", Kind.TEXT, FT),
    Field("filled_by", Kind.TEXT, FT),
    Field("filled_on", Kind.DATE, FT),
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
