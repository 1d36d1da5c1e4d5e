"""The outcome of reading and checking one item: a compact record (plain strings and numbers) that crosses
process boundaries, goes into the store and feeds the report."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar, Self

from ..export import Added, added_columns, added_fields, added_tables, plain_text, template_of
from ..forking import sent_as_values
from ..form.fields import FIELDS, MONEY_KEYS, TABLE_COLUMNS
from ..form.library import in_library_text
from ..form.model import Declaration, Indicator, row_value, rows_of
from ..form.template import Template
from ..reading.reader import Registry
from ..reading.refusals import Reason
from ..review.result import FileResult, check_file
from ..review.status import Status
from .inbox import DiskFile, Item, _suffix

# ---- outcomes: what reading and checking one item gives, in compact form ----------------


class _Row:
    """A row of an outcome's table. In JSON (the store) a list in field order: compact, and read back fast."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]]

    def to_json(self) -> list[Any]:
        return [getattr(self, n) for n in self._names]

    @classmethod
    def from_json(cls, values: list[Any]) -> Self:
        return cls(*values)


@sent_as_values
@dataclass(slots=True)
class IndicatorRow(_Row):
    level1: str
    level2: str
    name: str
    target: str  # as typed
    operator: str
    number: str  # decimal string, "" when the target has none
    unit: str
    note: str
    value_type: str
    value_basis: str
    row: int
    extra: list[str] = field(default_factory=list)  # the columns the template adds (Outcome.indicator_columns)
    last_target: str = ""  # 上年目标值 of a carried-over row ("" otherwise)
    library: str = ""  # 库内 / 自定义 ("" when the template has no library)
    reference: str = ""  # the library's 参考值 of a 库内 indicator


@sent_as_values
@dataclass(slots=True)
class CostRow(_Row):
    project: str
    content: str
    detail: str
    amount: str  # decimal strings, in the return's money unit
    unit_price: str
    price_basis: str
    quantity: str
    quantity_basis: str
    note: str
    row: int
    extra: list[str] = field(default_factory=list)  # the columns the template adds (Outcome.cost_columns)


@sent_as_values
@dataclass(slots=True)
class FindingRow(_Row):
    severity: str
    rule: str
    sheet: str
    cell: str
    field: str
    value: str
    message: str


for _cls in (IndicatorRow, CostRow, FindingRow):
    _cls._names = tuple(f.name for f in fields(_cls))


@dataclass(slots=True)
class AddedRows:
    """A table the template adds (资金来源明细…): its key and label, its columns, and its rows, each the
    columns' values as text (export.plain_text) and then the sheet row it was read from."""

    key: str
    label: str
    columns: list[Added]
    rows: list[list[Any]]

    def to_json(self) -> list[Any]:
        return [self.key, self.label, [_added_json(c) for c in self.columns], self.rows]

    @classmethod
    def from_json(cls, values: list[Any]) -> AddedRows:
        key, label, columns, rows = values
        return cls(key, label, [Added(*c) for c in columns], rows)


@dataclass(slots=True)
class TableTexts:
    """A built-in table's rows as text: the column keys (the template's order, added columns last) and each
    row's values (export.plain_text) followed by its sheet row."""

    columns: list[str]
    rows: list[list[Any]]

    def to_json(self) -> list[Any]:
        return [self.columns, self.rows]

    @classmethod
    def from_json(cls, values: list[Any]) -> TableTexts:
        return cls(*values)


def _added_json(a: Added) -> list[str]:
    return [a.key, a.header, a.kind]


@sent_as_values
@dataclass(slots=True)
class Outcome:
    """Read + check result of one item: plain strings and numbers only (cheap to pickle and to store).

    Money stays a decimal string, dates ISO strings; the report converts them.
    """

    status: str  # a Status: 通过 / 需修改 / 无法读取 / 已忽略 (plain text once read back from the store)
    error: str = ""  # why it could not be read
    form_id: str = ""
    issued_to: str = ""  # department in _meta ("" for a blank form nobody was issued)
    department: str = ""  # issued_to, else what the department typed as 填报单位
    code: str = ""
    template: str = ""
    version: str = ""
    year: int | None = None
    money_unit: str = ""
    project: str = ""
    category: str = ""
    start: str = ""
    end: str = ""
    money: list[str] = field(default_factory=list)  # one per fields.MONEY_KEYS
    errors: int = 0
    warnings: int = 0
    indicators: list[IndicatorRow] = field(default_factory=list)
    costs: list[CostRow] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    error_code: str = ""  # the refusal's code (reading/refusals.py); `code` is the department's
    # What the return's template adds, with its labels (a stored result needs no template to be reported):
    added_fields: list[Added] = field(default_factory=list)  # fields of 项目总体情况, in form order
    extra: list[str] = field(default_factory=list)  # their values as text (export.plain_text), one per added field
    indicator_columns: list[Added] = field(default_factory=list)  # columns added to 绩效指标 (IndicatorRow.extra)
    cost_columns: list[Added] = field(default_factory=list)  # columns added to 项目构成分解 (CostRow.extra)
    tables: list[AddedRows] = field(default_factory=list)
    # Carried over from last year (Identity.carried_from …): the report's 上年对比 needs no last year's store.
    carried_from: str = ""
    last_budget: str = ""
    last_money_unit: str = ""
    # What comparing a resubmission with the version it supersedes needs (report/changes.py), in the cheapest
    # form: the filled fields of 项目总体情况 not held above, as text by key (empty ones left out; all of them
    # together: field_texts), and the rows of the built-in tables not held above (项目构成, 制度保障) as text.
    texts: dict[str, str] = field(default_factory=dict)
    rows: dict[str, TableTexts] = field(default_factory=dict)

    @classmethod
    def refused(cls, why: Reason) -> Outcome:
        return cls(Status.UNREADABLE, why.message, error_code=why.code)

    def to_json(self) -> dict[str, Any]:
        """For the store: keyed by field, the rows as lists."""
        data = {f: getattr(self, f) for f in _OUTCOME_FIELDS}
        for name in _ROW_TYPES:
            data[name] = [r.to_json() for r in data[name]]
        for name in _ADDED_LISTS:
            data[name] = [_added_json(a) for a in data[name]]
        data["tables"] = [t.to_json() for t in self.tables]
        data["rows"] = {k: t.to_json() for k, t in self.rows.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        data = dict(data)
        for name, row in _ROW_TYPES.items():
            data[name] = [row.from_json(r) for r in data[name]]
        for name in _ADDED_LISTS:
            data[name] = [Added(*a) for a in data.get(name, ())]
        data["tables"] = [AddedRows.from_json(t) for t in data.get("tables", ())]
        data["rows"] = {k: TableTexts.from_json(t) for k, t in data.get("rows", {}).items()}
        return cls(**data)

    def field_texts(self) -> dict[str, str]:
        """Every filled field of 项目总体情况 as text, by key: built-in and added alike."""
        held = {"name": self.project, "category": self.category, "start_date": self.start, "end_date": self.end,
                **dict(zip(MONEY_KEYS, self.money, strict=False)),
                **{a.key: text for a, text in zip(self.added_fields, self.extra, strict=False)}}
        return {**self.texts, **{k: v for k, v in held.items() if v}}

    @property
    def readable(self) -> bool:
        return self.status not in (Status.UNREADABLE, Status.IGNORED)


_OUTCOME_FIELDS = [f.name for f in fields(Outcome)]
_ROW_TYPES: dict[str, type[_Row]] = {"indicators": IndicatorRow, "costs": CostRow, "findings": FindingRow}
_ADDED_LISTS = ("added_fields", "indicator_columns", "cost_columns")


def _s(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is Decimal or value.__class__ is str:  # most of a return's values: no lookup
        return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else f"{value}"


def outcome_of(result: FileResult) -> Outcome:
    d = result.declaration
    if d is None:
        return Outcome(Status.UNREADABLE, result.error, error_code=result.code)
    ident, p = d.identity, d.project
    template = template_of(d)
    fields_added, ind_cols, cost_cols = (added_fields(template), added_columns(template, "indicators"),
                                         added_columns(template, "costs"))
    texts, rows = _texts_of(d, template)
    return Outcome(
        status=result.status,
        form_id=ident.form_id,
        issued_to=ident.department,
        department=ident.department or p.unit,
        code=ident.department_code,
        template=ident.template_id,
        version=ident.template_version,
        year=ident.year,
        money_unit=ident.money_unit,
        project=p.name,
        category=p.category,
        start=_s(p.start_date),
        end=_s(p.end_date),
        money=[_s(getattr(d.funding, key)) for key in MONEY_KEYS],
        errors=result.errors,
        warnings=result.warnings,
        indicators=[IndicatorRow(i.level1, i.level2, i.name, i.target.raw, i.target.operator, _s(i.target.number),
                                 i.target.unit, i.note, i.value_type, i.value_basis, i.row, _texts(i, ind_cols),
                                 i.last_target, in_library_text(i.in_library), _reference(template, i))
                    for i in d.indicators],
        costs=[CostRow(c.project, c.content, c.detail, _s(c.amount), _s(c.unit_price), c.price_basis, _s(c.quantity),
                       c.quantity_basis, c.note, c.row, _texts(c, cost_cols)) for c in d.costs],
        findings=[FindingRow(f.severity, f.rule, f.sheet, f.cell, f.field, f.value, f.message)
                  for f in result.findings],
        added_fields=list(fields_added),
        extra=[plain_text(d.extra.get(a.key)) for a in fields_added],
        indicator_columns=list(ind_cols),
        cost_columns=list(cost_cols),
        tables=[AddedRows(key, label, list(columns), [[*_texts(item, columns), item.row] for item in rows_of(d, key)])
                for key, label in added_tables(template).items() for columns in [added_columns(template, key)]],
        carried_from=ident.carried_from,
        last_budget=ident.last_budget,
        last_money_unit=ident.last_money_unit,
        texts=texts,
        rows=rows,
    )


# The fields an Outcome holds in their own attributes (field_texts gives them back by key).
HELD_FIELDS = frozenset({"name", "category", "start_date", "end_date", *MONEY_KEYS})
# The built-in tables an outcome holds only as text (TableTexts): 绩效指标 and 项目构成分解 are held in full.
TEXT_TABLES = ("activities", "guarantees")


def _texts_of(d: Declaration, template: Template | None) -> tuple[dict[str, str], dict[str, TableTexts]]:
    """Every filled field not held elsewhere as text by key, and the rows of TEXT_TABLES as text (the template's
    columns). Every return pays for this, so what to take is worked out once per template (_text_parts)."""
    groups, tables = _text_parts(template)
    texts: dict[str, str] = {}
    for group, keys in groups:
        part = getattr(d, group)
        for key in keys:
            value = getattr(part, key)
            text = value if type(value) is str else plain_text(value)
            if text:
                texts[key] = text
    rows: dict[str, TableTexts] = {}
    for table, builtin, added, values_of in tables:
        items = getattr(d, table)
        if items:
            table_rows = []
            for i in items:
                row = [_text(v) for v in values_of(i)]
                if added:
                    row += [plain_text(i.extra.get(k)) for k in added]
                row.append(i.row)
                table_rows.append(row)
            rows[table] = TableTexts([*builtin, *added], table_rows)
    return texts, rows


def _text(value: Any) -> str:
    return value if type(value) is str else plain_text(value)


_TextTable = tuple[str, tuple[str, ...], tuple[str, ...], Callable[[Any], tuple[Any, ...]]]
_Parts = tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[_TextTable, ...]]


def _values_of(keys: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """An item's values of these attributes, as a tuple (attrgetter gives one name's value bare)."""
    if len(keys) == 1:
        one = attrgetter(keys[0])
        return lambda item: (one(item),)
    return attrgetter(*keys) if keys else lambda item: ()


@functools.cache  # by template (they hash by identity), as export.added_fields
def _text_parts(template: Template | None) -> _Parts:
    """The fields _texts_of takes, by their dataclass (group), and each text table's built-in and added columns
    (with a getter of an item's built-in values)."""
    groups: dict[str, list[str]] = {}
    for f in template.fields if template is not None else FIELDS:
        if f.builtin and f.key not in HELD_FIELDS:  # the others are held as project, money…, or in `extra`
            groups.setdefault(f.group, []).append(f.key)
    tables = []
    for table in TEXT_TABLES:
        keys = list(template.column_defs.get(table, {})) if template is not None else list(TABLE_COLUMNS[table])
        builtin = tuple(k for k in keys if k in TABLE_COLUMNS[table])
        tables.append((table, builtin, tuple(k for k in keys if k not in TABLE_COLUMNS[table]), _values_of(builtin)))
    return tuple((g, tuple(keys)) for g, keys in groups.items()), tuple(tables)


def _reference(template: Template | None, i: Indicator) -> str:
    """The library's 参考值 of a 库内 indicator, "" otherwise."""
    found = template.library.find(i.level2, i.name) if template is not None and template.library else None
    return found.reference if found is not None else ""


def _texts(item: Any, columns: Sequence[Added]) -> list[str]:
    """A row's values in these (added) columns, as text."""
    return [plain_text(row_value(item, c.key)) for c in columns] if columns else []


def check_item(item: Item, registry: Registry | None = None) -> Outcome:
    if item.data is None:
        return Outcome(Status.IGNORED if item.ignored else Status.UNREADABLE, item.reason, error_code=item.code)
    return outcome_of(check_file(item.name, registry, item.data, item.name))


def item_key(item: Item) -> str:
    """What a result depends on: the bytes, and the name's suffix (the reader's advice differs for .et and .xls)."""
    digest = (item.sha256 or hashlib.sha256(item.data).hexdigest()) if item.data is not None else "-"
    return f"{digest}|{_suffix(item.name)}|{item.reason}"


@sent_as_values
@dataclass(slots=True)
class Collected:
    """One item of a file on disk, with its result."""

    member: str
    key: str
    outcome: Outcome
    modified: str = ""  # Item.modified


@sent_as_values
@dataclass(slots=True)
class FileOutcome:
    disk: DiskFile
    sha256: str
    items: list[Collected]
