"""修改情况: a resubmission compared with the version it supersedes.

Fields changed (the template's label, old → new), rows added, removed and changed in every table
(绩效指标, 项目构成, 项目构成分解, 制度保障 and the tables a template adds), and for each finding of the
old version whether the new one still has it (same rule at the same cell). Worked out from the compact
outcomes (collect/outcome.py), so a stored result needs no file to be compared; only resubmissions cost
anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from ..collect.outcome import Outcome
from ..form.fields import FIELDS
from ..form.template import Template, TemplateRef
from ..reading.reader import Registry
from ..reading.refusals import Unreadable
from ..review.rules import CATALOGUE


class ChangeKind(StrEnum):
    FIELD = "修改字段"
    ADDED = "新增行"
    REMOVED = "删除行"
    CHANGED = "修改行"
    UNCHANGED = "未作修改"
    FINDING = "原问题"


FIXED, NOT_FIXED = "是", "否"


@dataclass(frozen=True)
class Change:
    """One row of 修改情况."""

    kind: ChangeKind
    where: str  # the field's label, or the table's label
    row: int | None = None  # the sheet row (the new one's; the old one's for a removed row)
    old: str = ""
    new: str = ""
    finding: str = ""  # 原问题: the rule's title and the cell (FINDING rows)
    fixed: str = ""  # 是 / 否 (FINDING rows)


@dataclass(frozen=True)
class _Table:
    """A table of one outcome, ready to compare: its label, its columns (key, header) and rows (sheet row, texts)."""

    label: str
    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[int, tuple[str, ...]]]


# Which columns say which row is which (a row keeps its identity when its other cells change); others: all.
_IDENTIFY = {"indicators": ("name",), "activities": ("name",), "costs": ("project", "content", "detail"),
             "guarantees": ("kind", "document")}
# 绩效指标 as an outcome holds it: column key → IndicatorRow attribute (operator and unit folded into the target).
_INDICATOR_ATTRS = {"level1": "level1", "level2": "level2", "name": "name", "target": "target",
                    "operator": "operator", "measure_unit": "unit", "note": "note", "value_type": "value_type",
                    "value_basis": "value_basis"}
_COST_ATTRS = ("project", "content", "detail", "amount", "unit_price", "price_basis", "quantity", "quantity_basis",
               "note")


class Labels:
    """The template's labels for an outcome's fields and tables, found by its template id and version
    (the templates this run reads with); the key itself where no template is known."""

    def __init__(self, templates: Sequence[TemplateRef] = ()) -> None:
        self._refs = list(templates)
        self._registry: Registry | None = None
        self._found: dict[tuple[str, str], Template | None] = {}

    def template(self, o: Outcome) -> Template | None:
        key = (o.template, o.version)
        if key not in self._found:
            if self._registry is None:  # built only when a resubmission is compared
                self._registry = Registry(self._refs)
            try:
                self._found[key] = self._registry.find(o.template, o.version)
            except Unreadable:
                self._found[key] = None
        return self._found[key]


def compare(old: Outcome, new: Outcome, labels: Labels) -> list[Change]:
    """What changed from `old` to `new` (fields, then each table's rows); [] when the content is the same."""
    template = labels.template(new) or labels.template(old)
    changes = _fields(old, new, template)
    old_tables, new_tables = _tables(old, template), _tables(new, template)
    for key in dict.fromkeys([*old_tables, *new_tables]):
        empty = _Table((new_tables.get(key) or old_tables[key]).label, (), [])
        changes += _rows(key, old_tables.get(key, empty), new_tables.get(key, empty))
    return changes


def findings_fixed(old: Outcome, new: Outcome) -> list[Change]:
    """Each finding of the old version: fixed when the new one has no finding of that rule at that cell."""
    now = {(f.rule, f.sheet, f.cell): f for f in new.findings}
    out = []
    for f in old.findings:
        still = now.get((f.rule, f.sheet, f.cell))
        where = f"{f.sheet}!{f.cell}" if f.cell else f.sheet
        title = CATALOGUE[f.rule].title if f.rule in CATALOGUE else f.rule
        out.append(Change(ChangeKind.FINDING, f.field, None, f.message, still.message if still else "",
                          f"{title}（{where}）" if where else title, NOT_FIXED if still else FIXED))
    return out


def _fields(old: Outcome, new: Outcome, template: Template | None) -> list[Change]:
    before, after = old.field_texts(), new.field_texts()
    added = {a.key: a.header for a in (*old.added_fields, *new.added_fields)}
    order = [f.key for f in (template.fields if template is not None else FIELDS)]
    out = []
    for key in dict.fromkeys([*order, *before, *after]):
        if before.get(key, "") != after.get(key, ""):
            label = added.get(key) or (template.labels.get(key, key) if template is not None else key)
            out.append(Change(ChangeKind.FIELD, label, None, before.get(key, ""), after.get(key, "")))
    return out


def _tables(o: Outcome, template: Template | None) -> dict[str, _Table]:
    """Every table of an outcome as rows of text, keyed by table."""
    def label(table: str) -> str:
        return template.labels.get(table, table) if template is not None else table

    def header(table: str, key: str) -> str:
        return template.columns.get(table, {}).get(key, key) if template is not None else key

    def has(table: str, key: str) -> bool:
        return template is None or key in template.column_defs.get(table, {})

    out: dict[str, _Table] = {}
    ind = [k for k in _INDICATOR_ATTRS if has("indicators", k)]
    out["indicators"] = _Table(label("indicators"), (*((k, header("indicators", k)) for k in ind),
                                                     *((a.key, a.header) for a in o.indicator_columns)),
                               [(i.row, (*(getattr(i, _INDICATOR_ATTRS[k]) for k in ind), *i.extra))
                                for i in o.indicators])
    cost = [k for k in _COST_ATTRS if has("costs", k)]
    out["costs"] = _Table(label("costs"), (*((k, header("costs", k)) for k in cost),
                                           *((a.key, a.header) for a in o.cost_columns)),
                          [(c.row, (*(getattr(c, k) for k in cost), *c.extra)) for c in o.costs])
    for table, texts in o.rows.items():
        out[table] = _Table(label(table), tuple((k, header(table, k)) for k in texts.columns),
                            [(int(r[-1]), tuple(r[:-1])) for r in texts.rows])
    for t in o.tables:
        out[t.key] = _Table(t.label, tuple((a.key, a.header) for a in t.columns),
                            [(int(r[-1]), tuple(r[:-1])) for r in t.rows])
    return out


def _rows(key: str, old: _Table, new: _Table) -> list[Change]:
    """Rows added, removed and changed, matched by the columns that identify a row (in order)."""
    columns = new.columns or old.columns
    if old.columns and new.columns and old.columns != new.columns:  # another template's columns: compare by key
        return _by_key(key, old, new)
    ident = [i for i, (k, _) in enumerate(columns) if k in _IDENTIFY.get(key, ())] or list(range(len(columns)))
    old_keys = [tuple(v[i] for i in ident) for _, v in old.rows]
    new_keys = [tuple(v[i] for i in ident) for _, v in new.rows]
    out: list[Change] = []
    label = new.label or old.label
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes():
        pairs = list(zip(range(i1, i2), range(j1, j2), strict=False)) if tag in ("equal", "replace") else []
        for i, j in pairs:
            (_, before), (row, after) = old.rows[i], new.rows[j]
            if before != after:
                changed = [n for n, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
                out.append(Change(ChangeKind.CHANGED, label, row, _shown(columns, before, changed),
                                  _shown(columns, after, changed)))
        for i in range(i1 + len(pairs), i2):
            out.append(Change(ChangeKind.REMOVED, label, old.rows[i][0], _shown(columns, old.rows[i][1])))
        for j in range(j1 + len(pairs), j2):
            out.append(Change(ChangeKind.ADDED, label, new.rows[j][0], new=_shown(columns, new.rows[j][1])))
    return out


def _by_key(key: str, old: _Table, new: _Table) -> list[Change]:
    """Two versions with different columns (another template): both tables brought to the union of columns."""
    keys = list(dict.fromkeys([k for k, _ in (*old.columns, *new.columns)]))
    headers = dict(old.columns) | dict(new.columns)
    columns = tuple((k, headers[k]) for k in keys)

    def widened(t: _Table) -> _Table:
        at = [k for k, _ in t.columns]
        return _Table(t.label, columns, [(r, tuple(v[at.index(k)] if k in at else "" for k in keys)) for r, v in t.rows])

    return _rows(key, widened(old), widened(new))


def _shown(columns: Sequence[tuple[str, str]], values: Sequence[str], only: Sequence[int] | None = None) -> str:
    """A row as a reviewer reads it: 列名：值；… (the filled columns, or just the changed ones)."""
    picked = range(len(values)) if only is None else only
    return "；".join(f"{columns[i][1]}：{values[i]}" for i in picked if only is not None or values[i])
