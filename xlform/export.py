"""Declarations as plain data: nested JSON objects, flat CSV rows, and safe CSV text.

One place for the flat column names (Chinese headers keyed by field), used by
`xlform export` and by the report. What a template adds (fields, columns, tables) goes after the
built-in columns, headed by the template's own labels (`Added`, `Heads`).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .form.fields import FIELD_BY_KEY, MONEY_KEYS, TABLES
from .form.model import Declaration, Target, row_value, rows_of
from .form.template import Template
from .form.values import Coded

# Text a spreadsheet would run as a formula when it opens a CSV.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """Text for a CSV cell; a leading = + - @ tab or CR gets a ' so no spreadsheet runs it."""
    text = plain_text(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def plain_text(value: Any) -> str:
    """A value as one line of text: amounts as decimals, dates ISO, ticks ✓, code-list entries 编码-名称."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Target):  # an indicator table a template adds: its 目标值 as typed
        return value.raw
    return str(value)



def _jsonable(value: Any) -> Any:
    if value is None or value.__class__ in _AS_IS:  # most of a declaration's values
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Coded):
        return {"code": value.code, "name": value.name}
    if is_dataclass(value) and not isinstance(value, type):
        # field by field (dataclasses.asdict deep-copies every value first: two thirds of exporting a return)
        return {name: _jsonable(getattr(value, name)) for name in _field_names(value.__class__)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


_AS_IS = frozenset({str, int, float, bool})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names (dataclasses.fields builds a tuple of them for every row of every return)."""
    return tuple(f.name for f in fields(cls))


def declaration_dict(d: Declaration) -> dict[str, Any]:
    """The data of a declaration as nested JSON-ready objects (money as decimal strings, code-list entries as
    {"code", "name"}): the built-in parts by attribute, what the template adds in `extra` (by field key) and
    `tables` (by table key), each row's added columns in its own `extra`."""
    data: dict[str, Any] = {f.name: getattr(d, f.name) for f in fields(d) if f.name != "source"}
    data["file"] = d.source.file
    out: dict[str, Any] = _jsonable(data)
    return out


def dumps_json(items: Any) -> str:
    """json.dumps(items, ensure_ascii=False, indent=2), the same text. The standard module's C encoder does
    not indent, and its Python one builds the text a few characters at a time (three times as slow as this,
    which `check --format json` and `export` pay for every file); anything but plain JSON types goes to it."""
    return _json_text(items, "\n")


def _json_text(value: Any, newline: str) -> str:
    """dumps_json's text with every line break written as `newline` (a line break and an indent)."""
    try:
        return _indented(value, newline)
    except (_NotPlain, RecursionError):
        return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", newline)


class _NotPlain(Exception):
    """A value or key _indented leaves to the json module (which converts or refuses it as it always has)."""


_encode_text = json.encoder.encode_basestring  # the C function where there is one, as json.dumps uses with ensure_ascii=False
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _indented(value: Any, newline: str) -> str:
    """`value` as json.dumps(indent=2) writes it at the depth `newline` (a line break and its indent) stands for."""
    if isinstance(value, str):
        return _encode_text(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        text = float.__repr__(value)
        return _SPECIAL_FLOATS.get(text, text)
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(k, str) for k in value):
            raise _NotPlain  # json.dumps turns numbers, booleans and None into keys; let it
        items = [_encode_text(k) + ": " + _indented(v, inner) for k, v in value.items()]
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[" + inner + ("," + inner).join([_indented(v, inner) for v in value]) + newline + "]"
    raise _NotPlain


def dumps_json_item(obj: Any) -> str:
    """An object as dumps_json writes it as an item of a list: every line two spaces in (JSON text has no raw
    newline inside a string). Made in the worker that read a file, so only this text comes back."""
    return "  " + _json_text(obj, "\n  ")


def json_items_list(items: Sequence[str]) -> str:
    """Items made by dumps_json_item as one list: the same text as dumps_json of their objects."""
    return "[\n" + ",\n".join(items) + "\n]" if items else "[]"


# The short heading of each form field in flat exports and in the report (the template's labels are the form's own
# wording, numbered and bureau-specific; these stay the same for every template so scripts can rely on them).
FIELD_HEADINGS: dict[str, str] = {
    "unit": "填报单位", "name": "项目名称", "category": "项目类别", "leader": "项目负责人", "contact": "联系人",
    "phone": "联系电话", "start_date": "起始日期", "end_date": "结束日期",
    "total": "项目总预算", "current_year": "当年预算", "fiscal": "财政拨款", "fiscal_superior": "上级财政拨款",
    "fiscal_local": "本级财政安排", "fiscal_subordinate": "下级财政配套", "other": "其他资金",
    "overview": "项目概况", "overall_goal": "项目总目标", "annual_goal": "年度绩效目标",
    "unit_head": "填报单位负责人", "filled_by": "填表人", "filled_on": "填报日期",
}
# Form fields in the flat per-project export, in column order (money: every fields.MONEY_KEYS).
_PROJECT_FIELDS = ("unit", "name", "category", "leader", "contact", "phone", "start_date", "end_date", *MONEY_KEYS,
                   "overview", "overall_goal", "annual_goal", "unit_head", "filled_by", "filled_on")

# Flat per-project columns: (header, getter).
PROJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("文件", "source.file"),
    ("表单编号", "identity.form_id"),
    ("模板", "identity.template_id"),
    ("模板版本", "identity.template_version"),
    ("年度", "identity.year"),
    ("下发部门", "identity.department"),
    ("金额单位", "identity.money_unit"),
    *((FIELD_HEADINGS[k], f"{FIELD_BY_KEY[k].group}.{k}") for k in _PROJECT_FIELDS),
)

TABLE_EXPORT_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "activities": (("主体活动", "name"), ("金额", "amount"), ("对应一级目标", "level1"), ("行", "row")),
    "indicators": (
        ("一级目标", "level1"), ("二级目标", "level2"), ("三级目标", "name"), ("目标值", "target.raw"),
        ("符号", "target.operator"), ("数值", "target.number"), ("单位", "target.unit"),
        ("定性", "target.qualitative"), ("备注", "note"), ("指标值类型", "value_type"),
        ("指标值设定依据", "value_basis"), ("行", "row"),
    ),
    "costs": (
        ("分解项目名称", "project"), ("项目内容", "content"), ("项目明细", "detail"), ("明细金额", "amount"),
        ("单价", "unit_price"), ("单价依据", "price_basis"), ("数量", "quantity"),
        ("数量依据", "quantity_basis"), ("备注", "note"), ("行", "row"),
    ),
    "guarantees": (
        ("制度类别", "kind"), ("文件名称", "document"), ("具体措施", "measures"),
        ("立项和计划阶段", "planning"), ("实施阶段", "implementation"), ("收尾和完成阶段", "completion"),
        ("行", "row"),
    ),
}
TABLE_KEY_COLUMNS = (("文件", "source.file"), ("表单编号", "identity.form_id"),
                     ("填报单位", "project.unit"), ("项目名称", "project.name"))


def getpath(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


# ---- what a template adds ----------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A field or column a template adds, as flat exports and the report head it."""

    key: str  # the field's or column's key (Declaration.extra, a row's extra, Row.values)
    header: str  # the template's label
    kind: str  # its form Kind (the report types its values by it)


def template_of(d: Declaration) -> Template | None:
    """The template a declaration was read with (None for one built in code and never read)."""
    template = d.source.template
    return template if isinstance(template, Template) else None


# Cached per template (templates hash by identity): every return read and reported asks again.
@functools.cache
def added_fields(template: Template | None) -> tuple[Added, ...]:
    """The fields of 项目总体情况 the template adds, in form order."""
    if template is None:
        return ()
    return tuple(Added(f.key, template.labels.get(f.key, f.key), f.kind) for f in template.fields if not f.builtin)


@functools.cache
def added_columns(template: Template | None, table: str) -> tuple[Added, ...]:
    """The columns the template adds to a built-in table; every column of a table it adds."""
    if template is None:
        return ()
    headers = template.columns.get(table, {})
    return tuple(Added(k, headers.get(k, k), c.kind) for k, c in template.column_defs.get(table, {}).items()
                 if (not c.builtin or table not in TABLES) and not c.computed)


def added_tables(template: Template | None) -> dict[str, str]:
    """Table key → label of every table the template adds."""
    if template is None:
        return {}
    return {key: template.labels.get(key, key) for key in template.added_tables}


@dataclass
class Heads:
    """What several templates add, as one set of columns in first-seen order: one column per header and
    kind. A header already taken (a built-in column's, or the same label with another kind) gets its key
    after it, so every header stays unique and no value lands in a column of another kind; keys likewise."""

    taken: set[str] = field(default_factory=set)  # headers in use (the built-in columns')
    keys: set[str] = field(default_factory=set)  # keys in use (the report's JSON keys)
    shown: Callable[[Added], str] = lambda part: part.header  # the header as shown (the report adds the unit)
    columns: list[Added] = field(default_factory=list)  # with the unique header and key each column gets
    _at: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, parts: Iterable[Added]) -> None:
        for part in parts:
            if (part.header, part.kind) in self._at:
                continue
            header = self.shown(part)
            if header in self.taken:
                header = self.shown(Added(part.key, f"{part.header}（{part.key}）", part.kind))
            header, key = unique(header, self.taken), unique(part.key, self.keys, "_")
            self._at[(part.header, part.kind)] = len(self.columns)
            self.columns.append(Added(key, header, part.kind))

    def row(self, parts: Sequence[Added], values: Iterable[Any]) -> list[Any]:
        """One row's values (given by its own template's parts) in these columns; None where it has none."""
        out: list[Any] = [None] * len(self.columns)
        for part, value in zip(parts, values, strict=True):
            out[self._at[(part.header, part.kind)]] = value
        return out

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def unique(name: str, taken: set[str], sep: str = "") -> str:
    """`name`, or with a number after it while that is taken; then taken too."""
    out, n = name, 2
    while out in taken:
        out, n = f"{name}{sep}{n}", n + 1
    taken.add(out)
    return out


# A table the template adds has the sheet row as its one built-in column; its own columns follow.
_ADDED_TABLE_BASE = (("行", "row"),)


def _cell(value: Any) -> Any:
    return value.raw if isinstance(value, Target) else value  # 目标值 of a table declared like 绩效指标


def _row_columns(table: str) -> tuple[tuple[str, str], ...]:
    """A row table's own built-in columns, after TABLE_KEY_COLUMNS (whose return a row is)."""
    return TABLE_EXPORT_COLUMNS.get(table, _ADDED_TABLE_BASE)


def _base_columns(table: str | None) -> tuple[tuple[str, str], ...]:
    """A flat export's built-in columns (never changed: scripts rely on them); what templates add follows them."""
    return PROJECT_COLUMNS if table is None else (*TABLE_KEY_COLUMNS, *_row_columns(table))


@dataclass
class FlatRows:
    """One declaration in a flat export (the per-project CSV, or one row table), made where it was read so only
    this crosses back from a worker: each row's values in the built-in columns, and apart the columns its
    template adds (`parts`) with each row's values in them, which `_joined` puts in the columns of all files."""

    parts: tuple[Added, ...]
    rows: list[tuple[list[Any], list[Any]]]


def flat_rows(d: Declaration, table: str | None, for_csv: bool) -> FlatRows:
    """The rows of `table` (None: the one per-project row), each value as the CSV writes it (csv_safe) or as
    JSON does (for_csv False)."""
    show = csv_safe if for_csv else _jsonable
    template = template_of(d)
    if table is None:
        parts = added_fields(template)
        return FlatRows(parts, [([show(getpath(d, p)) for _, p in PROJECT_COLUMNS],
                                 [show(d.extra.get(p.key)) for p in parts])])
    keys = [show(getpath(d, p)) for _, p in TABLE_KEY_COLUMNS]
    base = _row_columns(table)
    parts = added_columns(template, table)
    return FlatRows(parts, [(keys + [show(getpath(item, p)) for _, p in base],
                             [show(_cell(row_value(item, p.key))) for p in parts]) for item in rows_of(d, table)])


def _joined(flats: Sequence[FlatRows], table: str | None) -> tuple[list[str], list[list[Any]]]:
    """The headers (the built-in ones, then what any file's template adds) and every row in those columns;
    None where a file's template lacks an added column."""
    base = _base_columns(table)
    heads = Heads({h for h, _ in base})
    for flat in flats:
        heads.add(flat.parts)
    rows = [values + heads.row(flat.parts, added) for flat in flats for values, added in flat.rows]
    return [h for h, _ in base] + heads.headers, rows


def flat_csv(flats: Sequence[FlatRows], table: str | None = None) -> str:
    """UTF-8 CSV text (the caller adds a BOM for Excel) of rows made by flat_rows(…, for_csv=True)."""
    headers, rows = _joined(flats, table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()


def flat_dicts(flats: Sequence[FlatRows], table: str) -> list[dict[str, Any]]:
    """One row table as JSON-ready objects keyed like the CSV headers, of rows made by flat_rows(…, for_csv=False)."""
    headers, rows = _joined(flats, table)
    return [dict(zip(headers, row, strict=True)) for row in rows]


def to_csv(declarations: Iterable[Declaration], table: str | None = None) -> str:
    """UTF-8 CSV text (the caller adds a BOM for Excel); formula-looking text is neutralised."""
    return flat_csv([flat_rows(d, table, for_csv=True) for d in declarations], table)


def table_dicts(declarations: Iterable[Declaration], table: str) -> list[dict[str, Any]]:
    """One row table as JSON-ready objects, one per row, keyed like the CSV headers (`export --table` in JSON)."""
    return flat_dicts([flat_rows(d, table, for_csv=False) for d in declarations], table)


def known_tables(templates: Iterable[Template]) -> dict[str, str]:
    """Every table `export --table` can take with these templates: key → label (built-in ones first)."""
    out: dict[str, str] = {}
    for template in templates:
        for key in template.tables:
            out.setdefault(key, template.labels.get(key, key))
    return out
