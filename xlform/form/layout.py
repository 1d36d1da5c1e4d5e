"""Where everything sits on the sheets, computed from a template.

The writer draws at these positions and gives each input a defined name; the
reader finds inputs by those names (which follow rows a user inserts) and uses
the label positions here only to cross-check that a name still sits beside its
label. Rows and columns are 0-based, as xlsxwriter and python-calamine count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from . import paper
from .fields import FIELD_BY_KEY, TABLE_COLUMNS, Column, Field, Kind, table_name

if TYPE_CHECKING:  # template.py asks this module how much text a field holds
    from .template import Template

# 项目总体情况: label in A:B (or a sub-label in B), input in C:F.
PROJECT_COLS = 6
PROJECT_WIDTHS = (12, 14, 16, 14, 16, 24)  # column widths A..F, in characters
# Rows of the first sheet: (field key, row, first input col, last input col, label col, label last col).
# A row holding two fields (负责人 / 联系人) lists both.
_PROJECT_ROWS: tuple[tuple[str, int, int, int, int, int], ...] = (
    ("unit", 2, 1, 3, 0, 0),
    ("name", 3, 2, 5, 0, 1),
    ("category", 4, 2, 5, 0, 1),
    ("leader", 5, 2, 2, 0, 1),
    ("contact", 5, 4, 5, 3, 3),
    ("phone", 6, 4, 5, 3, 3),
    ("start_date", 7, 2, 2, 0, 1),
    ("end_date", 7, 4, 5, 3, 3),
    ("overview", 8, 2, 5, 0, 1),
    ("basis", 9, 2, 5, 1, 1),
    ("necessity", 10, 2, 5, 1, 1),
    ("feasibility", 11, 2, 5, 1, 1),
    ("total", 12, 4, 4, 1, 3),
    ("current_year", 13, 4, 4, 1, 3),
    ("fiscal", 14, 4, 4, 1, 3),
    ("fiscal_superior", 15, 4, 4, 1, 3),
    ("fiscal_local", 16, 4, 4, 1, 3),
    ("fiscal_subordinate", 17, 4, 4, 1, 3),
    ("other", 18, 4, 4, 1, 3),
    ("resources", 19, 2, 5, 0, 1),
    ("overall_goal", 20, 2, 5, 0, 1),
    ("annual_goal", 21, 2, 5, 0, 1),
    ("other_notes", 22, 2, 5, 0, 1),
    ("unit_head", 24, 2, 2, 0, 1),
    ("filled_by", 24, 4, 5, 3, 3),
    ("filled_on", 25, 2, 2, 0, 1),
)
# Group labels spanning several rows in column A: (label key, first row, last row).
PROJECT_GROUPS = (("approval", 9, 11), ("funding", 12, 18))
FUNDING_CHECK_COL = 5  # column F beside each amount: the live check's message
FUNDING_KEYS = tuple(key for key, f in FIELD_BY_KEY.items() if f.group == "funding")  # the rows of 项目资金
PROJECT_NAME_ROW_GOALS = 3  # 项目名称 on tables 2 and 3 repeats table 1's
GOALS_MAX_WIDTH = 26  # a column of 绩效目标 shared by several tables is as wide as its widest, up to this
COST_CHECK_WIDTH = 16  # the per-row check right of 项目构成分解: "应为 99999999999.99" in 9 pt
LONG_LIMIT = 200  # characters of a paragraph field a template gives no limit for
TABLE_TEXT_LIMIT = 100  # characters of a text column in a row table (rows there grow as text is typed)
TARGET_LIMIT = 50  # characters of a 目标值
_BOXES = {key: (col, last) for key, _, col, last, _, _ in _PROJECT_ROWS}
# Fields of 项目总体情况 a template may give a length limit (the text kinds among them).
LIMITED_FIELDS = tuple(f.key for f in FIELD_BY_KEY.values() if f.kind in (Kind.TEXT, Kind.LONG))


def box_width(key: str) -> int:
    """Width in column units of a field's input box on 项目总体情况 (merged columns added up)."""
    col, last = _BOXES[key]
    return sum(PROJECT_WIDTHS[col : last + 1])


@cache
def field_per_line(key: str) -> int:
    return paper.chars_per_line(box_width(key))


@cache
def _per_line(width: int) -> int:  # asked for every text of every return by the text.length rule
    return paper.chars_per_line(width)


def field_max_limit(key: str) -> int:
    """The most characters a field can be given and still print in full in one row."""
    return paper.max_limit(field_per_line(key))


def default_limit(key: str) -> int:
    """A paragraph gets LONG_LIMIT; a one-line field what fits its box on one line."""
    if FIELD_BY_KEY[key].kind is Kind.LONG:
        return min(LONG_LIMIT, field_max_limit(key))
    return field_per_line(key) - 1  # limit_lines(per_line - 1) == 1


@dataclass(frozen=True)
class FieldCell:
    field: Field
    sheet: str
    row: int
    col: int
    last_col: int  # input spans col..last_col (merged when wider than one)
    label_col: int
    label_last_col: int

    @property
    def name(self) -> str:
        return self.field.name


@dataclass(frozen=True)
class TableCol:
    column: Column
    header: str
    col: int
    width: int  # as printed: on 绩效目标 the widest of the tables sharing the column

    @property
    def per_line(self) -> int:
        return _per_line(self.width)

    @property
    def limit(self) -> int:
        """Characters a text column takes: what prints in full even when its row grows to the maximum."""
        cap = TARGET_LIMIT if self.column.kind is Kind.TARGET else TABLE_TEXT_LIMIT
        return min(cap, paper.max_limit(self.per_line))


@dataclass(frozen=True)
class TablePos:
    table: str
    sheet: str
    header_row: int  # the row of column headers, just above the first input row
    first_row: int
    n_rows: int
    columns: tuple[TableCol, ...]
    section_label: str  # the merged label in column A

    @property
    def name(self) -> str:
        return table_name(self.table)

    @property
    def last_row(self) -> int:
        return self.first_row + self.n_rows - 1

    @property
    def first_col(self) -> int:
        return self.columns[0].col

    @property
    def last_col(self) -> int:
        return self.columns[-1].col

    def col_of(self, key: str) -> int | None:
        for c in self.columns:
            if c.column.key == key:
                return c.col
        return None


@dataclass(frozen=True)
class Layout:
    template: Template
    fields: dict[str, FieldCell]
    tables: dict[str, TablePos]
    goals_width: int  # columns used on 绩效目标 (A + the widest table)
    goals_widths: tuple[int, ...]  # column widths of 绩效目标, A to the cost check column
    cost_total_row: int  # 金额合计 row on 绩效目标
    activity_total_row: int
    fingerprint: str


def _table(template: Template, table: str, sheet: str, header_row: int, first_col: int = 1,
           widths: tuple[int, ...] = ()) -> TablePos:
    cols = tuple(
        TableCol(TABLE_COLUMNS[table][key], header, first_col + i,
                 widths[first_col + i] if widths else TABLE_COLUMNS[table][key].width)
        for i, (key, header) in enumerate(template.columns[table].items())
    )
    return TablePos(
        table=table,
        sheet=sheet,
        header_row=header_row,
        first_row=header_row + 1,
        n_rows=template.rows[table],
        columns=cols,
        section_label=template.labels[table],
    )


@cache
def layout_for(template: Template) -> Layout:
    project, goals, guarantees = (template.sheets[k] for k in ("project", "goals", "guarantees"))
    fields = {
        key: FieldCell(FIELD_BY_KEY[key], project, row, col, last, lcol, llast)
        for key, row, col, last, lcol, llast in _PROJECT_ROWS
    }
    # 绩效目标: 项目名称 row, then 项目构成 / 指标 / 项目构成分解, a blank row between.
    widths = _goals_widths(template)
    activities = _table(template, "activities", goals, PROJECT_NAME_ROW_GOALS + 2, widths=widths)
    activity_total_row = activities.last_row + 1
    indicators = _table(template, "indicators", goals, activity_total_row + 2, widths=widths)
    costs = _table(template, "costs", goals, indicators.last_row + 2, widths=widths)
    cost_total_row = costs.last_row + 1
    # 制度保障: two header rows (保障阶段 above the three stages).
    guarantee_pos = _table(template, "guarantees", guarantees, PROJECT_NAME_ROW_GOALS + 2, first_col=0)
    tables = {t.table: t for t in (activities, indicators, costs, guarantee_pos)}
    goals_width = 1 + max(len(t.columns) for t in (activities, indicators, costs))
    return Layout(
        template=template,
        fields=fields,
        tables=tables,
        goals_width=goals_width,
        goals_widths=widths,
        cost_total_row=cost_total_row,
        activity_total_row=activity_total_row,
        fingerprint=_fingerprint(template, fields, tables),
    )


def _goals_widths(template: Template) -> tuple[int, ...]:
    """Column widths of 绩效目标: A holds the section labels; each other column is as wide as the widest
    table column in it (capped); the last is the per-row check of 项目构成分解."""
    tables = ("activities", "indicators", "costs")
    count = 1 + max(len(template.columns[t]) for t in tables)
    widths = [10]
    for col in range(1, count):
        found = [TABLE_COLUMNS[t][k].width for t in tables for i, k in enumerate(template.columns[t]) if i + 1 == col]
        widths.append(min(max(found, default=12), GOALS_MAX_WIDTH))
    cost_check = 1 + len(template.columns["costs"])
    widths += [12] * (max(count, cost_check) + 1 - len(widths))  # the writer draws one column past the widest table
    widths[cost_check] = COST_CHECK_WIDTH
    return tuple(widths)


def _fingerprint(template: Template, fields: dict[str, FieldCell], tables: dict[str, TablePos]) -> str:
    """A short hash of names, positions and labels: two workbooks with the same
    fingerprint can be read with the same code, whatever their file says."""
    parts = [template.id, template.version]
    parts += [f"{f.name}@{f.sheet}!{f.row},{f.col}={template.labels[k]}" for k, f in fields.items()]
    for t in tables.values():
        parts.append(f"{t.name}@{t.sheet}!{t.header_row},{t.n_rows}")
        parts += [f"{c.column.key}:{c.col}={c.header}" for c in t.columns]
    parts += [f"{k}>{','.join(v)}" for k, v in template.taxonomy.items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
