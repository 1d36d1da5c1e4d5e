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
from .fields import FIELD_BY_KEY, SECTIONS, Column, Field, Kind, table_name

if TYPE_CHECKING:  # template.py asks this module how much text a field holds
    from .template import Template

# 项目总体情况: label in A:B (or a sub-label in B), input in C:F.
PROJECT_COLS = 6
PROJECT_WIDTHS = (12, 14, 16, 14, 16, 24)  # column widths A..F, in characters
# Where a field sits in its row of 项目总体情况: (first input col, last input col, label col, label last col).
FULL = (2, 5, 0, 1)  # the whole row: label in A:B, input C:F
LEFT = (2, 2, 0, 1)  # the left half of a row shared by two short fields
RIGHT = (4, 5, 3, 3)  # the right half
SUB = (2, 5, 1, 1)  # under a group label in A: sub-label in B (立项依据, 必要性…)
MONEY = (4, 4, 1, 3)  # 项目资金: label B:D, amount E, the live check's words in F
HEADER = (1, 3, 0, 0)  # 填报单位 above the table
ADDED_BOX = FULL  # a field a template adds gets a row of its own
# The rows of the built-in form, section by section: a row holds one field, or two sharing it (负责人 / 联系人).
# A field keeps its place in a shared row while its partner stays beside it in the template's order.
_BUILTIN_ROWS: dict[str, tuple[tuple[tuple[str, tuple[int, int, int, int]], ...], ...]] = {
    "basics": ((("name", FULL),), (("category", FULL),), (("leader", LEFT), ("contact", RIGHT)),
               (("phone", RIGHT),), (("start_date", LEFT), ("end_date", RIGHT)), (("overview", FULL),)),
    "approval": ((("basis", SUB),), (("necessity", SUB),), (("feasibility", SUB),)),
    "funding": tuple(((key, MONEY),) for key in
                     ("total", "current_year", "fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate", "other")),
    "details": ((("resources", FULL),), (("overall_goal", FULL),), (("annual_goal", FULL),), (("other_notes", FULL),)),
    "footer": ((("unit_head", LEFT), ("filled_by", RIGHT)), (("filled_on", LEFT),)),
}
_SECTION_BOX = {"basics": FULL, "approval": SUB, "funding": MONEY, "details": FULL, "footer": FULL}
_BOX_OF = {key: box for rows in _BUILTIN_ROWS.values() for row in rows for key, box in row}
_BOX_OF["unit"] = HEADER
_PAIRS = {row[0][0]: row[1][0] for rows in _BUILTIN_ROWS.values() for row in rows if len(row) == 2}
FIRST_FIELD_ROW = 3  # row 2 holds 填报单位 and the money unit
FUNDING_CHECK_COL = 5  # column F beside each amount: the live check's message
PROJECT_NAME_ROW_GOALS = 3  # 项目名称 on tables 2 and 3 repeats table 1's
GOALS_MAX_WIDTH = 26  # a column of 绩效目标 shared by several tables is as wide as its widest, up to this
COST_CHECK_WIDTH = 16  # the per-row check right of 项目构成分解: "应为 99999999999.99" in 9 pt
LONG_LIMIT = 200  # characters of a paragraph field a template gives no limit for
TABLE_TEXT_LIMIT = 100  # characters of a text column in a row table (rows there grow as text is typed)
TARGET_LIMIT = 50  # characters of a 目标值
# 上年目标值 of a form carried over from last year: a locked column just right of the indicator table, outside
# t_indicators and the fingerprint (a carried form reads with the same template as any other form of the round);
# the reader finds it by this name, which follows rows a clerk inserts like every other name.
LAST_TARGET_NAME = "c_indicators_last_target"
LAST_TARGET_HEADER = "上年目标值"
# Fields of 项目总体情况 a template may give a length limit (the text kinds among them).
LIMITED_FIELDS = tuple(f.key for f in FIELD_BY_KEY.values() if f.kind in (Kind.TEXT, Kind.LONG))


def _box_units(box: tuple[int, int, int, int]) -> int:
    return sum(PROJECT_WIDTHS[box[0] : box[1] + 1])


def box_width(key: str) -> int:
    """Width in column units of a field's input box on 项目总体情况 (merged columns added up); a field a
    template adds has a whole row."""
    return _box_units(_BOX_OF.get(key, ADDED_BOX))


@cache
def field_per_line(key: str) -> int:
    return paper.chars_per_line(box_width(key))


def box_max_limit(box: tuple[int, int, int, int]) -> int:
    return paper.max_limit(paper.chars_per_line(_box_units(box)))


def box_limit_default(box: tuple[int, int, int, int], long: bool) -> int:
    """A paragraph gets LONG_LIMIT; a one-line field what fits its box on one line."""
    per_line = paper.chars_per_line(_box_units(box))
    return min(LONG_LIMIT, paper.max_limit(per_line)) if long else per_line - 1


@cache
def _per_line(width: int) -> int:  # asked for every text of every return by the text.length rule
    return paper.chars_per_line(width)


def field_max_limit(key: str) -> int:
    """The most characters a field can be given and still print in full in one row."""
    return paper.max_limit(field_per_line(key))


def default_limit(key: str) -> int:
    """The limit of a built-in field a template names none for."""
    return box_limit_default(_BOX_OF[key], FIELD_BY_KEY[key].kind is Kind.LONG)


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
    fields: dict[str, FieldCell]  # in drawing order
    tables: dict[str, TablePos]  # built-in then added
    goals_width: int  # columns used on 绩效目标 (A + the widest table)
    goals_widths: tuple[int, ...]  # column widths of 绩效目标, A to the cost check column
    cost_total_row: int  # 金额合计 row on 绩效目标
    activity_total_row: int
    goals_last_row: int  # the last row drawn on 绩效目标
    groups: tuple[tuple[str, int, int], ...]  # (label key, first row, last row) of the merged labels in column A
    signature_row: int  # （填报单位盖章） on the right of this row of 项目总体情况
    goals_tables: tuple[str, ...]  # the tables on 绩效目标, top to bottom
    sheet_tables: tuple[str, ...]  # added tables with a sheet of their own
    fingerprint: str
    legacy_fingerprint: str  # as workbooks issued before labels left the fingerprint have it

    @property
    def funding_keys(self) -> tuple[str, ...]:
        """The rows of 项目资金 (with the live check's words beside each)."""
        return tuple(k for k, c in self.fields.items() if c.field.section == "funding")

    def accepts(self, fingerprint: str) -> bool:
        return fingerprint in (self.fingerprint, self.legacy_fingerprint)


def _table(template: Template, table: str, sheet: str, header_row: int, first_col: int = 1,
           widths: tuple[int, ...] = ()) -> TablePos:
    defs = template.column_defs[table]
    cols = tuple(
        TableCol(defs[key], header, first_col + i, widths[first_col + i] if widths else defs[key].width)
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


def _project_fields(template: Template) -> tuple[dict[str, FieldCell], tuple[tuple[str, int, int], ...], int]:
    """Each field's cell on 项目总体情况, row by row and section by section, with the group labels and the
    signature row. The built-in form comes out exactly as it always was."""
    sheet = template.sheets["project"]
    fields: dict[str, FieldCell] = {}

    def place(f: Field, row: int, box: tuple[int, int, int, int]) -> None:
        fields[f.key] = FieldCell(f, sheet, row, *box)

    groups = []
    row = FIRST_FIELD_ROW
    for f in template.fields:
        if f.section == "header":
            place(f, FIRST_FIELD_ROW - 1, HEADER)
    for section in SECTIONS:
        members = [f for f in template.fields if f.section == section]
        if not members:
            continue
        if section == "footer":
            row += 1  # a blank row above the signatures
        first = row
        i = 0
        while i < len(members):
            f = members[i]
            partner = _PAIRS.get(f.key)
            if partner and i + 1 < len(members) and members[i + 1].key == partner:
                place(f, row, _BOX_OF[f.key])
                place(members[i + 1], row, _BOX_OF[partner])
                i += 2
            else:
                box = _BOX_OF.get(f.key, _SECTION_BOX[section]) if f.builtin else _SECTION_BOX[section]
                paired = f.key in _PAIRS or f.key in _PAIRS.values()
                place(f, row, FULL if paired and section != "footer" else box)
                i += 1
            row += 1
        if section in ("approval", "funding"):
            groups.append((section, first, row - 1))
    filled_on = fields.get("filled_on")
    signature = filled_on.row if filled_on is not None and filled_on.last_col < 3 else row
    return fields, tuple(groups), signature


def _goals_order(template: Template) -> list[str]:
    order = ["activities", "indicators", "costs"]
    for key, added in template.added_tables.items():
        if added.after:
            order.insert(order.index(added.after) + 1 + sum(
                1 for k in order[order.index(added.after) + 1:] if template.added_tables.get(k, None) is not None
                and template.added_tables[k].after == added.after), key)
    return order


@cache
def layout_for(template: Template) -> Layout:
    goals, guarantees = template.sheets["goals"], template.sheets["guarantees"]
    fields, groups, signature_row = _project_fields(template)
    # 绩效目标: 项目名称 row, then 项目构成 (with its 合计) / 指标 / 项目构成分解 (with 金额合计) and any added
    # table, a blank row between.
    order = _goals_order(template)
    widths = _goals_widths(template, order)
    tables: dict[str, TablePos] = {}
    row = PROJECT_NAME_ROW_GOALS + 2
    activity_total_row = cost_total_row = 0
    for table in order:
        pos = _table(template, table, goals, row, widths=widths)
        tables[table] = pos
        row = pos.last_row + 1
        if table == "activities":
            activity_total_row, row = row, row + 1
        elif table == "costs":
            cost_total_row, row = row, row + 1
        row += 1
    # 制度保障: two header rows (保障阶段 above the three stages); an added table with its own sheet likewise.
    tables["guarantees"] = _table(template, "guarantees", guarantees, PROJECT_NAME_ROW_GOALS + 2, first_col=0)
    sheet_tables = tuple(k for k, t in template.added_tables.items() if t.sheet)
    for key in sheet_tables:
        tables[key] = _table(template, key, template.added_tables[key].sheet, PROJECT_NAME_ROW_GOALS + 2, first_col=0)
    tables = {k: tables[k] for k in template.tables}  # built-in then added, as the template lists them
    goals_width = 1 + max(len(tables[t].columns) for t in order)
    return Layout(
        template=template,
        fields=fields,
        tables=tables,
        goals_width=goals_width,
        goals_widths=widths,
        cost_total_row=cost_total_row,
        activity_total_row=activity_total_row,
        goals_last_row=row - 2,
        groups=groups,
        signature_row=signature_row,
        goals_tables=tuple(order),
        sheet_tables=sheet_tables,
        fingerprint=_fingerprint(template, fields, tables),
        legacy_fingerprint=_legacy_fingerprint(template, fields, tables),
    )


def _goals_widths(template: Template, tables: list[str]) -> tuple[int, ...]:
    """Column widths of 绩效目标: A holds the section labels; each other column is as wide as the widest
    table column in it (capped); the last is the per-row check of 项目构成分解."""
    count = 1 + max(len(template.columns[t]) for t in tables)
    widths = [10]
    for col in range(1, count):
        found = [template.column_defs[t][k].width for t in tables for i, k in enumerate(template.columns[t])
                 if i + 1 == col]
        widths.append(min(max(found, default=12), GOALS_MAX_WIDTH))
    cost_check = 1 + len(template.columns["costs"])
    widths += [12] * (max(count, cost_check) + 1 - len(widths))  # the writer draws one column past the widest table
    widths[cost_check] = COST_CHECK_WIDTH
    return tuple(widths)


def _fingerprint(template: Template, fields: dict[str, FieldCell], tables: dict[str, TablePos]) -> str:
    """A short hash of what reading depends on: names, positions and kinds. Labels, prompts, help text and
    lists are left out, so a template edited in those after distribution still reads its returns (they
    are read with the definition they were issued with, where the round kept it)."""
    parts = [template.id, template.version]
    parts += [f"{f.name}@{f.sheet}!{f.row},{f.col}:{f.field.kind}" for f in fields.values()]
    for t in tables.values():
        parts.append(f"{t.name}@{t.sheet}!{t.header_row},{t.n_rows}")
        parts += [f"{c.column.key}:{c.col}:{c.column.kind}" for c in t.columns]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _legacy_fingerprint(template: Template, fields: dict[str, FieldCell], tables: dict[str, TablePos]) -> str:
    """The fingerprint as the first releases computed it (labels and taxonomy included)."""
    parts = [template.id, template.version]
    parts += [f"{f.name}@{f.sheet}!{f.row},{f.col}={template.labels[k]}" for k, f in fields.items()]
    for t in tables.values():
        parts.append(f"{t.name}@{t.sheet}!{t.header_row},{t.n_rows}")
        parts += [f"{c.column.key}:{c.col}={c.header}" for c in t.columns]
    parts += [f"{k}>{','.join(v)}" for k, v in template.taxonomy.items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
