"""The outcome of reading and checking one item: a compact record (plain strings and numbers) that crosses
process boundaries, goes into the store and feeds the report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

from ..form.fields import MONEY_KEYS
from ..reading.reader import Registry
from ..review.result import FileResult, check_file
from ..review.status import Status
from .inbox import DiskFile, Item, _suffix

# ---- outcomes: what reading and checking one item gives, in compact form ----------------


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
    indicators: list[list[Any]] = field(default_factory=list)
    costs: list[list[Any]] = field(default_factory=list)
    findings: list[list[str]] = field(default_factory=list)  # severity, rule, sheet, cell, field, value, message

    def to_list(self) -> list[Any]:
        return [getattr(self, f) for f in _OUTCOME_FIELDS]

    @classmethod
    def from_list(cls, values: list[Any]) -> Outcome:
        return cls(*values)

    @property
    def readable(self) -> bool:
        return self.status not in (Status.UNREADABLE, Status.IGNORED)


_OUTCOME_FIELDS = [f.name for f in fields(Outcome)]


def _s(value: Any) -> str:
    return "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else f"{value}")


def outcome_of(result: FileResult) -> Outcome:
    d = result.declaration
    if d is None:
        return Outcome(Status.UNREADABLE, result.error)
    ident, p = d.identity, d.project
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
        indicators=[[i.level1, i.level2, i.name, i.target.raw, i.target.operator, _s(i.target.number), i.target.unit,
                     i.note, i.value_type, i.value_basis, i.row] for i in d.indicators],
        costs=[[c.project, c.content, c.detail, _s(c.amount), _s(c.unit_price), c.price_basis, _s(c.quantity),
                c.quantity_basis, c.note, c.row] for c in d.costs],
        findings=[[f.severity, f.rule, f.sheet, f.cell, f.field, f.value, f.message] for f in result.findings],
    )


def check_item(item: Item, registry: Registry | None = None) -> Outcome:
    if item.data is None:
        return Outcome(Status.IGNORED if item.ignored else Status.UNREADABLE, item.reason)
    return outcome_of(check_file(item.name, registry, item.data, item.name))


def item_key(item: Item) -> str:
    """What a result depends on: the bytes, and the name's suffix (the reader's advice differs for .et and .xls)."""
    digest = hashlib.sha256(item.data).hexdigest() if item.data is not None else "-"
    return f"{digest}|{_suffix(item.name)}|{item.reason}"


@dataclass(slots=True)
class Collected:
    """One item of a file on disk, with its result."""

    member: str
    key: str
    outcome: Outcome
    modified: str = ""  # Item.modified


@dataclass(slots=True)
class FileOutcome:
    disk: DiskFile
    sha256: str
    items: list[Collected]
