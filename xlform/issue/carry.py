"""Last year carried forward (distribute --carry-over): each department's projects from last year's final
returns, prefilled into this year's forms.

Last year's final return of a form is its latest version in last year's store (a version the reviewers
decided 不予支持 is not carried). Its full declaration is read again from the file the store recorded,
through the normal reader, after checking that the bytes are still those collected (the store keeps
their sha256). A file gone or changed since is carried from what the store's result holds (name, category,
indicators with their targets, the text of 项目构成分解) and the manifest says why the rest is missing.

What is carried: every text, the indicators with last year's targets (shown again in the locked 上年目标值
column), 制度保障, the text columns of the tables; every amount and date is left empty for this year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..collect.inbox import items_of, walk
from ..collect.outcome import Outcome, item_key
from ..form.fields import MONEY_KEYS, Kind
from ..form.model import CostItem, Declaration, Indicator, Row, field_value, rows_of, set_field_value
from ..form.targets import parse_target
from ..form.template import Template
from ..reading.reader import Registry, read
from ..reading.refusals import Unreadable
from ..review.decisions import Verdict
from ..store import FinalReturn, final_returns, recorded_file, recorded_templates
from .roster import Department

NATURE_FIELD, CONTINUING = "project_nature", "延续"  # 项目属性 where a template has it (national-2026)
CODE_FIELD = "project_code"  # 项目代码: what matches a project across years where a template has it
_EMPTIED = (Kind.MONEY, Kind.DATE)  # this year's to fill: amounts, and dates (last year's lie in last year)


@dataclass
class Carried:
    """One of last year's projects, prefilled for this year (identity left to distribute)."""

    form_id: str  # last year's form id
    department: str
    match: str  # how it was matched, for the manifest: 项目代码 … / 部门 + 项目名称 …
    declaration: Declaration
    last_budget: str = ""  # last year's 当年预算 (decimal text) and its unit
    last_money_unit: str = ""
    note: str = ""  # why only part was carried ("" when everything was)
    received_at: str = field(default="", compare=False)


@dataclass
class CarryOver:
    """What a last year's store gives this year's distribution: the projects by department, and notes."""

    by_department: dict[str, list[Carried]]
    notes: list[str]  # projects not carried, and why


def carry_over(store: Path, template: Template, departments: Iterable[Department]) -> CarryOver:
    """Last year's projects of each department on this year's roster (matched by name, or by code)."""
    finals = final_returns(store)
    registry = Registry(recorded_templates(store))
    wanted = list(departments)
    by_name = {d.name: d for d in wanted}
    by_code = {d.code: d for d in wanted if d.code}
    notes: list[str] = []
    groups: dict[tuple[str, str, str], list[FinalReturn]] = {}
    for f in finals:
        o = f.outcome
        if o is None or not o.readable:
            continue
        dept = by_name.get(o.issued_to or o.department) or (by_code.get(o.code) if o.code else None)
        if dept is None:
            continue
        code = _extra_text(o, CODE_FIELD)
        key = (dept.name, "code", code) if code and template.has(CODE_FIELD) else (dept.name, "name", o.project)
        groups.setdefault(key, []).append(f)
    out: dict[str, list[Carried]] = {}
    for (dept_name, how, value), found in groups.items():
        # The latest not rejected; a project whose every version was rejected is not carried.
        kept = [f for f in found if f.verdict != Verdict.REJECT]
        if not kept:
            notes.append(f"{dept_name}“{_project_of(found[-1])}”：上年审核结论为{Verdict.REJECT}，未带入。")
            continue
        best = max(kept, key=lambda f: f.received_at)
        match = f"项目代码 {value}" if how == "code" else f"部门 + 项目名称“{value}”"
        out.setdefault(dept_name, []).append(_carried(best, dept_name, match, template, registry, store))
    for carried in out.values():
        carried.sort(key=lambda c: (c.declaration.project.name, c.form_id))
    return CarryOver(out, notes)


def _project_of(f: FinalReturn) -> str:
    return f.outcome.project if f.outcome is not None else ""


def _carried(f: FinalReturn, department: str, match: str, template: Template, registry: Registry,
             store: Path) -> Carried:
    assert f.outcome is not None
    o = f.outcome
    last, why = _reread(f, registry, store)
    if last is not None:
        d = prefill(last, template)
        budget, unit = last.funding.current_year, last.identity.money_unit
        budget_text = "" if budget is None else f"{budget:f}"
    else:
        d = prefill_from_outcome(o, template)
        budget_text, unit = _budget_of(o), o.money_unit
    note = f"{why}，只带入了项目名称、类别、绩效指标和项目构成分解的文字" if why else ""
    return Carried(f.form_id, department, match, d, budget_text, unit or "元", note, f.received_at)


def _reread(f: FinalReturn, registry: Registry, store: Path) -> tuple[Declaration | None, str]:
    """Last year's declaration from the file the store recorded (found as feedback finds it), if its bytes are
    still those collected."""
    if not f.places:
        return None, "上年的申报表文件没有记录"
    why = ""
    for recorded, member in f.places:
        path = recorded_file(recorded, store)
        if not path or not Path(path).is_file():
            why = f"上年的文件 {recorded} 已不在原处"
            continue
        for disk in walk([Path(path)]):
            for item in items_of(disk):
                if item.member != member or item.data is None:
                    continue
                if item_key(item) != f.item_key:
                    why = f"上年的文件 {path} 在收件后被改动过"
                    continue
                try:
                    return read(item.name, registry, item.data), ""
                except Unreadable as exc:
                    why = f"上年的文件 {path} 无法读取（{exc}）"
        why = why or f"上年的文件 {path} 中找不到这份申报表"
    return None, why


def _budget_of(o: Outcome) -> str:
    i = MONEY_KEYS.index("current_year")
    return o.money[i] if i < len(o.money) else ""


def _extra_text(o: Outcome, key: str) -> str:
    for a, text in zip(o.added_fields, o.extra, strict=False):
        if a.key == key:
            return text
    return ""


# ---- the prefilled declaration -------------------------------------------------------------------


def prefill(last: Declaration, template: Template) -> Declaration:
    """This year's form of last year's project: texts, indicators with last year's targets, 制度保障, the tables'
    text; amounts and dates empty. Only what this year's template has (fields by key, rows up to its room)."""
    d = Declaration()
    last_template = last.source.template if isinstance(last.source.template, Template) else None
    for f in template.fields:
        if f.kind in _EMPTIED or (last_template is not None and not last_template.has(f.key)):
            continue
        value = field_value(last, f.group, f.key)
        if value not in (None, ""):
            set_field_value(d, f.group, f.key, value)
    _mark_continuing(d, template)
    for table in template.tables:
        kinds = {key: c.kind for key, c in template.column_defs[table].items()}
        rows = [_emptied(item, kinds) for item in rows_of(last, table)[: template.rows[table]]]
        if table in template.added_tables:
            d.tables[table] = rows
        else:
            setattr(d, table, rows)
    for i in d.indicators:
        i.last_target = last_target_text(i.target.raw, i.operator or i.target.operator,
                                         i.measure_unit or i.target.unit)
    return d


def _emptied(item: Any, kinds: dict[str, Kind]) -> Any:
    """A copy of a table row with its amounts and dates left empty."""
    if isinstance(item, Row):
        return Row({k: v for k, v in item.values.items() if kinds.get(k) not in _EMPTIED})
    builtin = {k: None for k, kind in kinds.items() if kind in _EMPTIED and hasattr(item, k)}
    extra = {k: v for k, v in item.extra.items() if kinds.get(k) not in _EMPTIED}
    return replace(item, row=0, extra=extra, **builtin)


def _mark_continuing(d: Declaration, template: Template) -> None:
    """项目属性 = 延续 where the template has that field and that choice."""
    f = next((f for f in template.fields if f.key == NATURE_FIELD), None)
    if f is not None and CONTINUING in template.choice_list(f.choices):
        set_field_value(d, f.group, f.key, CONTINUING)


def last_target_text(raw: str, operator: str, unit: str) -> str:
    """Last year's target as one text: a national form keeps 计算符号 and 计量单位 in columns of their own
    (≥ | 95 | %), the 上年目标值 column shows them together (≥95%)."""
    if not raw:
        return ""
    parsed = parse_target(raw)
    if parsed.number is None:
        return raw
    return f"{'' if parsed.operator else operator}{raw}{'' if parsed.unit else unit}"


def prefill_from_outcome(o: Outcome, template: Template) -> Declaration:
    """What the store's result holds, when last year's file cannot be read again."""
    d = Declaration()
    d.project.name, d.project.category = o.project, o.category
    for a, text in zip(o.added_fields, o.extra, strict=False):
        if text and template.has(a.key) and Kind(a.kind) in (Kind.TEXT, Kind.LONG, Kind.CHOICE):
            d.extra[a.key] = text
    _mark_continuing(d, template)
    columns = template.columns["indicators"]
    for r in o.indicators[: template.rows["indicators"]]:
        split = "operator" in columns or "measure_unit" in columns
        d.indicators.append(Indicator(
            level1=r.level1, level2=r.level2, name=r.name, target=parse_target(r.target), note=r.note,
            value_type=r.value_type, value_basis=r.value_basis,
            operator=r.operator if split else "", measure_unit=r.unit if split else "",
            last_target=last_target_text(r.target, r.operator, r.unit)))
    for c in o.costs[: template.rows["costs"]]:
        d.costs.append(CostItem(project=c.project, content=c.content, detail=c.detail, price_basis=c.price_basis,
                                quantity_basis=c.quantity_basis, note=c.note))
    return d


__all__ = ["Carried", "CarryOver", "carry_over", "last_target_text", "prefill", "prefill_from_outcome"]
