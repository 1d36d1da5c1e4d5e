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

from .fields import FIELD_BY_KEY, TABLE_COLUMNS, Column, Field, table_name
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
PROJECT_NAME_ROW_GOALS = 3  # 项目名称 on tables 2 and 3 repeats table 1's


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
    cost_total_row: int  # 金额合计 row on 绩效目标
    activity_total_row: int
    fingerprint: str


def _table(template: Template, table: str, sheet: str, header_row: int, first_col: int = 1) -> TablePos:
    cols = tuple(
        TableCol(TABLE_COLUMNS[table][key], header, first_col + i)
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
    activities = _table(template, "activities", goals, PROJECT_NAME_ROW_GOALS + 2)
    activity_total_row = activities.last_row + 1
    indicators = _table(template, "indicators", goals, activity_total_row + 2)
    costs = _table(template, "costs", goals, indicators.last_row + 2)
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
        cost_total_row=cost_total_row,
        activity_total_row=activity_total_row,
        fingerprint=_fingerprint(template, fields, tables),
    )


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
