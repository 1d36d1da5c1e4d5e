"""The reviewer's catalogue: every check in FORM.md as a small rule with a stable id.

Each rule is a function over a Declaration that yields Findings pointing at
the cell a person must fix. Ids are a contract (reports and scripts filter on
them): add rules freely, never rename one. `xlform rules` prints this
catalogue, and the README lists it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from ..errors import TemplateError
from ..form.fields import TABLES, Column, Field, Kind
from ..form.layout import field_per_line, layout_for
from ..form.library import Library, LibraryIndicator, same_direction, same_unit
from ..form.model import Declaration, DeclarationValues, Indicator, field_value, row_value, rows_of
from ..form.paper import counted_length
from ..form.shipped import DEFAULT_TEMPLATE
from ..form.targets import GoalTarget, extract_goal_targets, operator_symbol, parse_target, same_subject
from ..form.template import Template, load_template
from ..form.template_rules import BureauRule
from ..form.values import CENT, to_halfwidth
from ..ooxml.cellref import column_letters
from ..writing.livechecks import builtin_condition, cost_row_message
from .findings import SEVERITY_LABEL, Finding, Severity, shown


@dataclass(frozen=True)
class Declared:
    """A rule of the catalogue. Those `check` runs are `Rule`s; the others (kind.*, structure.*, round.*)
    are declared at the end of this module and raised by the reader or the report through `finding`."""

    id: str
    severity: Severity
    title: str  # what the rule checks, in Chinese
    example: str  # a case that fires, as a reviewer would describe it
    needs: tuple[str, ...] = ()  # fields of 项目总体情况 it reads: a template without one of them does not run it
    params: tuple[tuple[str, float], ...] = ()  # thresholds a template may set (builtin_rules:), with defaults

    def applies(self, template: Template) -> bool:
        setting = template.rule_settings.get(self.id)
        return all(template.has(key) for key in self.needs) and (setting is None or setting.enabled)

    def finding(self, sheet: str, cell: str, field: str, value: Any, message: str) -> Finding:
        return Finding(self.id, self.severity, sheet, cell, field, shown(value), message)


@dataclass(frozen=True)
class Rule(Declared):
    fn: Callable[[Rule, Context], Iterator[Finding]] = lambda r, ctx: iter(())

    def run(self, ctx: Context) -> Iterator[Finding]:
        return self.fn(self, ctx)


class Context:
    """A declaration plus how to name its cells (from where it was read, else from its template)."""

    def __init__(self, d: Declaration, template: Template) -> None:
        self.d = d
        self.t = template
        self.layout = layout_for(template)
        self.goal_pairs: list[tuple[GoalTarget, Indicator | None]] | None = None  # see _goal_pairs
        self._values: DeclarationValues | None = None
        self.quality: list[_Facts] | None = None  # see _facts

    def label(self, key: str) -> str:
        return self.t.labels.get(key, key)

    def term(self, key: str) -> str:
        """A field's label inside a sentence, without the form's numbering: 二、当年预算 → 当年预算."""
        return _NUMBERING.sub("", self.label(key))

    def cell(self, key: str) -> tuple[str, str]:
        if key in self.d.source.cells:
            return self.d.source.cells[key]
        pos = self.layout.fields[key]
        return pos.sheet, f"{column_letters(pos.col)}{pos.row + 1}"

    def row_cell(self, table: str, column: str, row: int) -> tuple[str, str]:
        """The cell of `column` in a table row (row is 1-based; 0 = not read, use the table's first row)."""
        pos = self.layout.tables[table]
        sheet, letters = self.d.source.columns.get(table, (pos.sheet, {}))
        col_pos = pos.col_of(column)
        letter = letters.get(column) or (column_letters(col_pos) if col_pos is not None else "A")
        return sheet, f"{letter}{row or pos.first_row + 1}"

    def header(self, table: str, column: str) -> str:
        return self.t.columns[table].get(column, column)

    def values(self) -> DeclarationValues:
        """The declaration as bureau rules' expressions read it."""
        if self._values is None:
            self._values = DeclarationValues(self.d)
        return self._values

    def holds(self, check_id: str) -> bool:
        """Whether a built-in check's condition (writing/livechecks.py, the same the workbook runs) holds."""
        condition = builtin_condition(self.t, check_id)
        return condition is None or bool(condition.evaluate(self.values()))

    def param(self, rule: Declared, name: str) -> Decimal:
        """A threshold of a rule: the template's setting, else the rule's default."""
        setting = self.t.rule_settings.get(rule.id)
        value = setting.params[name] if setting and name in setting.params else dict(rule.params)[name]
        return Decimal(str(value))

    def indicator_rows(self) -> Iterator[tuple[str, Indicator]]:
        """Every indicator the indicator rules check, with its table: 绩效指标 and tables declared like it."""
        for table in self.t.indicator_tables():
            for i in rows_of(self.d, table):
                yield table, i

    def unread(self, table: str) -> bool:
        """A table the reader could not read (structure edited; it reported that): rules skip it."""
        return bool(self.d.source.cells) and table not in self.d.source.columns

    def finding(self, rule: Rule, where: tuple[str, str], field: str, value: object, message: str) -> Finding:
        return Finding(rule.id, rule.severity, where[0], where[1], field, _show(value), message)


# 一、 （一） 1. : the numbering of the form's labels, dropped where a label is named in a sentence.
_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[.、．]\s*)")


def _show(value: object) -> str:
    """A value as a finding shows it, in its `value` and in its message alike."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return _money(value)
    return shown(value)


def _money(value: Decimal | None) -> str:
    """An amount as found: 232,124.00, or every digit typed when there are more than two decimals
    (1020.001, not 1,020.00: the reviewer must see what makes it wrong)."""
    if value is None:
        return "空"
    return f"{value:,.2f}" if _cents(value) else f"{value:f}"


def _cents(value: Decimal) -> bool:
    """At most two decimals (1.000 counts); read off the digits when quantize() fails (past 28 digits)."""
    try:
        return value == value.quantize(CENT)
    except InvalidOperation:
        pass
    _, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    return not significant or int(exponent) + len(digits) - len(significant) >= -2


def _is(value: Decimal | None) -> str:
    """为 232,124.00, or 未填写: an amount as the subject of a sentence."""
    return "未填写" if value is None else f"为 {_money(value)}"


def _num(value: Decimal) -> str:
    return f"{value:f}"  # never 1E+2


def _n(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


RULES: list[Rule] = []  # what `check` runs, in order
CATALOGUE: dict[str, Declared] = {}  # every rule by id, those RULES first: `xlform rules` and the README


def _register(r: Declared) -> None:
    if r.id in CATALOGUE:
        raise ValueError(f"rule {r.id} declared twice")
    CATALOGUE[r.id] = r


def declare(rule_id: str, severity: Severity, title: str, example: str) -> Declared:
    """A rule raised outside `check` (while reading, or by the report)."""
    this = Declared(rule_id, severity, title, example)
    _register(this)
    return this


def rule(rule_id: str, severity: Severity, title: str, example: str, needs: tuple[str, ...] = (),
         params: tuple[tuple[str, float], ...] = ()) -> Callable[..., Callable[[Context], Iterator[Finding]]]:
    def register(fn: Callable[[Rule, Context], Iterator[Finding]]) -> Callable[[Context], Iterator[Finding]]:
        this = Rule(rule_id, severity, title, example, needs, params, fn)
        _register(this)
        RULES.append(this)
        return this.run

    return register


def check(d: Declaration, template: Template | None = None) -> list[Finding]:
    """All findings for one declaration: what reading found, then every rule in catalogue order."""
    if template is None:
        template = _template_of(d)
    d = _with_rows(d, template)
    ctx = Context(d, template)
    findings = list(d.source.findings)
    for r in rules_for(template):
        findings.extend(r.run(ctx))
    return findings


@functools.cache
def rules_for(template: Template) -> tuple[Rule, ...]:
    """The rules `check` runs on this template's returns: the built-in ones whose fields it has and that it
    does not turn off (at the severity it sets), then its own rules."""
    chosen = []
    for r in RULES:
        if not r.applies(template):
            continue
        setting = template.rule_settings.get(r.id)
        chosen.append(replace(r, severity=cast(Severity, setting.severity)) if setting and setting.severity else r)
    return tuple(chosen) + tuple(_bureau_rule(b) for b in template.bureau_rules)


def rule_title(rule_id: str, template: Template | None = None) -> str:
    """A rule's Chinese title as the catalogue (or the template's own rules) states it; its id when unknown."""
    own = {b.id: b.title for b in template.bureau_rules} if template is not None else {}
    known = CATALOGUE.get(rule_id)
    return own.get(rule_id) or (known.title if known is not None else rule_id)


def _template_of(d: Declaration) -> Template:
    """The template a declaration follows: the one it was read with (a bureau's own YAML included),
    else a built-in by id, else shanghai-2020."""
    if isinstance(d.source.template, Template):
        return d.source.template
    try:
        return load_template(d.identity.template_id or DEFAULT_TEMPLATE)
    except TemplateError:
        return load_template(DEFAULT_TEMPLATE)


def _with_rows(d: Declaration, template: Template) -> Declaration:
    """A declaration built in code (not read) has row 0 everywhere: give each item the sheet row
    the writer puts it on, so findings point at its own cell, not at the table's first row."""
    if all(item.row for table in template.tables for item in rows_of(d, table)):
        return d
    layout = layout_for(template)

    def numbered(table: str) -> list[Any]:
        return [item if item.row else replace(item, row=layout.tables[table].first_row + 1 + i)
                for i, item in enumerate(rows_of(d, table))]

    rows: dict[str, Any] = {table: numbered(table) for table in TABLES}
    added = {table: numbered(table) for table in template.added_tables}
    return replace(d, **rows, tables={**d.tables, **added})


# ---- 项目总体情况 ----------------------------------------------------------------


@rule("required.field", "error", "必填项未填写", "项目名称、项目类别、联系电话等必填项为空。")
def _required(r: Rule, ctx: Context) -> Iterator[Finding]:
    reported = {(f.sheet, f.cell) for f in ctx.d.source.findings}  # e.g. kind.money: filled, but not a number
    for key in ctx.t.required:
        field = ctx.t.field_by_key[key]
        value = field_value(ctx.d, field.group, key)
        unread = ctx.d.source.cells and key not in ctx.d.source.cells  # already a structure finding
        if (value is None or value == "") and not unread and ctx.cell(key) not in reported:
            label = ctx.label(key)
            yield ctx.finding(r, ctx.cell(key), label, "", f"“{label}”为必填项，请填写。")


@rule("choice.category", "error", "项目类别不在列表中", "项目类别填了“专项项目”，应从下拉列表选择。", ("category",))
def _category(r: Rule, ctx: Context) -> Iterator[Finding]:
    value = ctx.d.project.category
    allowed = ctx.t.choice_list("category")
    if value and value not in allowed:
        label = ctx.label("category")
        yield ctx.finding(r, ctx.cell("category"), label, value,
                          f"“{label}”填了“{_show(value)}”，应为 {'、'.join(allowed)} 之一，请从下拉列表选择。")


# A bare local number has 8 digits (as the message says); with an area code, 7 or 8 (smaller cities).
_PHONE_NOISE = re.compile(r"[()（）\s]")
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|(?:0\d{2,3}[-\s]?[2-9]\d{6,7}|[2-9]\d{7})(?:[-转]\d{1,5})?)$")


@rule("format.phone", "error", "联系电话格式不对", "联系电话填了“2403313”（少一位）。", ("phone",))
def _phone(r: Rule, ctx: Context) -> Iterator[Finding]:
    phone = ctx.d.project.phone
    compact = _PHONE_NOISE.sub("", phone)
    if phone and not _PHONE.match(compact):
        label = ctx.label("phone")
        yield ctx.finding(r, ctx.cell("phone"), label, phone,
                          f"“{label}”应为 8 位本地号码、带区号的固定电话（如 021-24033138）或 11 位手机号，现为“{_show(phone)}”。")


@rule("text.length", "warning", "文字超过字数上限，打印不全",
      "项目概况粘贴了 900 字，本表上限 300 字（打印出来只有前面一部分）。")
def _text_length(r: Rule, ctx: Context) -> Iterator[Finding]:
    # The workbook refuses such text when typed; text pasted as a whole cell gets past that.
    fields_, columns = _text_limits(ctx.t)
    for key, group, limit, per_line in fields_:
        text = field_value(ctx.d, group, key) or ""
        if len(text) <= limit and "\n" not in text:
            continue  # the usual case, decided without the page arithmetic
        if key == "unit" and ctx.d.identity.department:
            continue  # prefilled by the bureau, not the department's to shorten
        if counted_length(text, per_line) > limit:
            yield _too_long(r, ctx, ctx.cell(key), ctx.label(key), text, limit, per_line)
    for table, key, builtin, limit, per_line, header in columns:
        for item in rows_of(ctx.d, table):
            text = (getattr(item, key) if builtin else row_value(item, key)) or ""
            if len(text) <= limit and "\n" not in text:
                continue
            if counted_length(text, per_line) > limit:
                yield _too_long(r, ctx, ctx.row_cell(table, key, item.row), header, text, limit, per_line)


@functools.cache
def _text_limits(template: Template) -> tuple[tuple[tuple[str, str, int, int], ...],
                                             tuple[tuple[str, str, bool, int, int, str], ...]]:
    """What text.length looks at, worked out once per template: (key, group, limit, characters per line) of
    each limited field, and (table, column, built-in, limit, per line, header) of each text column."""
    fields_ = tuple((key, template.field_by_key[key].group, limit, field_per_line(key))
                    for key, limit in template.limits.items())
    columns = tuple((table, c.column.key, c.column.builtin, c.limit, c.per_line, c.header)
                    for table, pos in layout_for(template).tables.items() for c in pos.columns
                    if c.column.kind in (Kind.TEXT, Kind.LONG) and not c.column.computed)
    return fields_, columns


def _too_long(r: Rule, ctx: Context, where: tuple[str, str], label: str, text: str, limit: int,
              per_line: int) -> Finding:
    breaks = text.count("\n")
    length = f"{counted_length(text, per_line):,} 字"
    count = length + (f"（{breaks} 处换行各按一整行 {per_line} 字计）" if breaks else "")
    return ctx.finding(r, where, label, length,  # the value found is the length: the text itself is at the cell
                       f"“{label}”有 {count}，超过本表上限 {limit} 字，打印出来会显示不全；请精简到 {limit} 字以内。")


@rule("money.value", "error", "金额为负数或超过两位小数", "本级财政安排填了 -100 或 232124.555。")
def _money_values(r: Rule, ctx: Context) -> Iterator[Finding]:
    # Where and under which label are only looked up for a bad value: most returns have none.
    for f in _money_fields(ctx.t):
        value = field_value(ctx.d, f.group, f.key)
        if _bad_money(value):
            yield _money_problem(r, ctx, value, ctx.cell(f.key), ctx.label(f.key))
    for table, column in _money_columns(ctx.t):
        for item in rows_of(ctx.d, table):
            value = row_value(item, column)
            if _bad_money(value):
                yield _money_problem(r, ctx, value, ctx.row_cell(table, column, item.row), ctx.header(table, column))


@functools.cache
def _money_fields(template: Template) -> tuple[Field, ...]:
    return tuple(f for f in template.fields if f.kind is Kind.MONEY)


@functools.cache
def _money_columns(template: Template) -> tuple[tuple[str, str], ...]:
    return tuple((table, key) for table, cols in template.column_defs.items()
                 for key, c in cols.items() if c.kind is Kind.MONEY)


def _bad_money(value: Decimal | None) -> bool:
    return value is not None and (value < 0 or not _cents(value))


def _money_problem(r: Rule, ctx: Context, value: Decimal, where: tuple[str, str], label: str) -> Finding:
    if value < 0:
        return ctx.finding(r, where, label, value, f"“{label}”不能为负数（现为 {_money(value)}）。")
    return ctx.finding(r, where, label, value, f"“{label}”最多保留两位小数（现为 {_money(value)}）。")


@rule("funding.fiscal_parts", "error", "财政拨款 ≠ 上级 + 本级 + 下级",
      "财政拨款 232,124.00，而三项之和为 200,000.00。", needs=("fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate"))
def _fiscal_parts(r: Rule, ctx: Context) -> Iterator[Finding]:
    f = ctx.d.funding
    parts = (f.fiscal_superior, f.fiscal_local, f.fiscal_subordinate)
    if f.fiscal is None and all(p is None for p in parts):
        return
    if not ctx.holds("fiscal_parts"):  # the sum is worked out for the message only: most returns hold
        total = sum((_n(p) for p in parts), Decimal(0))
        label = ctx.label("fiscal")
        parts_named = "、".join(ctx.term(key) for key in ("fiscal_superior", "fiscal_local", "fiscal_subordinate"))
        yield ctx.finding(r, ctx.cell("fiscal"), label, f.fiscal,
                          f"“{label}”{_is(f.fiscal)}，但{parts_named}之和为 {_money(total)}；请核对，使两者相等。")


@rule("funding.current_year_sum", "error", "当年预算 ≠ 财政拨款 + 其他资金", "当年预算 232,124.00，财政拨款 200,000.00，其他资金 0。",
      needs=("current_year", "fiscal", "other"))
def _current_year_sum(r: Rule, ctx: Context) -> Iterator[Finding]:
    f = ctx.d.funding
    if f.current_year is None and f.fiscal is None and f.other is None:
        return
    if not ctx.holds("current_year_sum"):
        total = _n(f.fiscal) + _n(f.other)
        label = ctx.label("current_year")
        yield ctx.finding(r, ctx.cell("current_year"), label, f.current_year,
                          f"“{label}”{_is(f.current_year)}，但{ctx.term('fiscal')}与{ctx.term('other')}之和为 "
                          f"{_money(total)}；请核对。")


@rule("funding.current_year_le_total", "error", "当年预算超过项目总预算", "项目总预算 100,000.00，当年预算 232,124.00。",
      needs=("total", "current_year"))
def _current_le_total(r: Rule, ctx: Context) -> Iterator[Finding]:
    f = ctx.d.funding
    if f.current_year is not None and f.total is not None and not ctx.holds("current_year_le_total"):
        label = ctx.label("current_year")
        current, total = ctx.term("current_year"), ctx.term("total")
        yield ctx.finding(r, ctx.cell("current_year"), label, f.current_year,
                          f"“{label}”{_money(f.current_year)} 超过了{total} {_money(f.total)}；{current}不能大于{total}。")


@rule("funding.unit", "warning", "金额与金额单位（元/万元）不相称",
      "金额单位为元，当年预算却只填了 23.21（像是按万元填的）。", needs=("current_year",),
      params=(("yuan_min", 1000), ("wanyuan_max", 100000)))
def _money_unit(r: Rule, ctx: Context) -> Iterator[Finding]:
    value = ctx.d.funding.current_year
    # Identity.money_unit defaults to 元: only a stamped identity (written or read; it has a fingerprint) says
    # the unit, a Declaration built in code is in its template's unit.
    unit = (ctx.d.identity.money_unit if ctx.d.identity.fingerprint else "") or ctx.t.money_unit
    if value is None or value <= 0:
        return
    label = ctx.label("current_year")
    if unit == "元" and value < ctx.param(r, "yuan_min"):
        yield ctx.finding(r, ctx.cell("current_year"), label, value,
                          f"金额单位为元，“{label}”只有 {_money(value)} 元；如是按万元填写，请换算成元（×10000）。")
    elif unit == "万元" and value >= ctx.param(r, "wanyuan_max"):
        yield ctx.finding(r, ctx.cell("current_year"), label, value,
                          f"金额单位为万元，“{label}”为 {_money(value)} 万元（即 {value / 10000:,.2f} 亿元）；"
                          "如是按元填写，请换算成万元（÷10000）。")


@rule("dates.order", "error", "起始日期晚于结束日期", "起始日期 2020-12-31，结束日期 2020-01-01。",
      needs=("start_date", "end_date"))
def _date_order(r: Rule, ctx: Context) -> Iterator[Finding]:
    p = ctx.d.project
    if p.start_date and p.end_date and p.start_date > p.end_date:
        yield ctx.finding(r, ctx.cell("end_date"), ctx.label("end_date"), p.end_date.isoformat(),
                          f"“{ctx.label('end_date')}”{p.end_date} 早于“{ctx.label('start_date')}”{p.start_date}，请核对。")


@rule("dates.budget_year", "warning", "项目日期不在预算年度内", "2020 年的申报表，起始日期填了 2019-07-01。")
def _date_year(r: Rule, ctx: Context) -> Iterator[Finding]:
    year = ctx.d.identity.year or ctx.t.year
    where = f"“{ctx.label('other_notes')}”中" if ctx.t.has("other_notes") else "申报材料中"
    for key in ("start_date", "end_date"):
        value = getattr(ctx.d.project, key) if ctx.t.has(key) else None
        if value is not None and value.year != year:
            label = ctx.label(key)
            yield ctx.finding(r, ctx.cell(key), label, value.isoformat(),
                              f"“{label}”{value} 不在预算年度（{year} 年）内；跨年项目请在{where}说明。")


# ---- 绩效目标 -------------------------------------------------------------------


@rule("activities.total", "error", "项目构成各主体活动金额之和 ≠ 当年预算", "两项主体活动共 200,000.00，当年预算 232,124.00。",
      needs=("current_year",))
def _activities_total(r: Rule, ctx: Context) -> Iterator[Finding]:
    amounts = [a for a in ctx.d.activities if a.amount is not None]
    if not amounts or ctx.d.funding.current_year is None:
        return
    if not ctx.holds("activities_sum"):
        total = sum((a.amount for a in amounts if a.amount is not None), Decimal(0))
        header = ctx.header("activities", "amount")
        yield ctx.finding(r, ctx.row_cell("activities", "amount", amounts[-1].row), header, total,
                          f"“{ctx.label('activities')}”各项{header}合计 {_money(total)}，与{ctx.term('current_year')} "
                          f"{_money(ctx.d.funding.current_year)} 不一致。")


@rule("activities.level1", "error", "主体活动对应的一级目标不在列表中", "对应一级目标填了“产出”。")
def _activities_level1(r: Rule, ctx: Context) -> Iterator[Finding]:
    if "level1" not in ctx.t.columns["activities"]:
        return
    for a in ctx.d.activities:
        if a.level1 and a.level1 not in ctx.t.taxonomy:
            header = ctx.header("activities", "level1")
            yield ctx.finding(r, ctx.row_cell("activities", "level1", a.row), header, a.level1,
                              f"“{header}”填了“{_show(a.level1)}”，应为 {'、'.join(ctx.t.level1)} 之一。")


@rule("indicators.level1", "error", "一级目标不在指标体系中", "一级目标填了“产出指标”（本模板为“产出目标”）。")
def _level1(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "level1")
        if not i.level1:
            yield ctx.finding(r, ctx.row_cell(table, "level1", i.row), header, "",
                              f"第 {i.row} 行指标没有填“{header}”，请从下拉列表选择。")
        elif i.level1 not in ctx.t.taxonomy:
            yield ctx.finding(r, ctx.row_cell(table, "level1", i.row), header, i.level1,
                              f"“{header}”填了“{_show(i.level1)}”，应为 {'、'.join(ctx.t.level1)} 之一。")


@rule("indicators.level2", "error", "二级目标不属于其一级目标", "一级目标“产出目标”下填了二级目标“满意度”。")
def _level2(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "level2")
        allowed = ctx.t.taxonomy.get(i.level1)
        if allowed is None:
            continue
        if not i.level2:
            yield ctx.finding(r, ctx.row_cell(table, "level2", i.row), header, "",
                              f"第 {i.row} 行指标没有填“{header}”，请从下拉列表选择（可选：{'、'.join(allowed)}）。")
        elif i.level2 not in allowed:
            yield ctx.finding(r, ctx.row_cell(table, "level2", i.row), header, i.level2,
                              f"{header}“{_show(i.level2)}”不属于{ctx.header(table, 'level1')}“{i.level1}”，"
                              f"应为 {'、'.join(allowed)} 之一。")


@rule("indicators.required_level1", "error", "缺少必需的一级目标", "没有任何“影响力目标”（满意度）指标。")
def _required_level1(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table in ctx.t.indicator_tables():
        if ctx.unread(table):
            continue
        present = {i.level1 for i in rows_of(ctx.d, table)}
        header = ctx.header(table, "level1")
        where = "" if table == "indicators" else f"“{ctx.label(table)}”"
        for level1 in ctx.t.required_level1:
            if level1 not in present:
                yield ctx.finding(r, ctx.row_cell(table, "level1", 0), header, "",
                                  f"{where}缺少“{level1}”类指标：每个项目至少要有一项（可选{ctx.header(table, 'level2')}："
                                  f"{'、'.join(ctx.t.taxonomy[level1])}）。")


@rule("indicators.name", "error", "指标缺少名称（三级目标）", "填了目标值 100%，但三级目标（指标名称）为空。")
def _indicator_name(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "name")
        if not i.name:
            yield ctx.finding(r, ctx.row_cell(table, "name", i.row), header, "",
                              f"第 {i.row} 行指标没有填“{header}”（指标名称），请补充。")


def _indicator(i: Indicator) -> str:
    """How a message names an indicator: by its name, else by its row."""
    return f"指标“{_show(i.name)}”" if i.name else f"第 {i.row} 行指标"


# How to write a target, by what the indicator measures (its 二级, else words in its name): a 时效
# indicator is told to write a deadline, a 成本 one a cap, never “≥95%”.
_TARGET_HINTS = (
    (("时效", "及时", "时限"), "请写完成时限，如 2026年6月30日前、6月底前、10个工作日内"),
    (("成本",), "请写金额上限，如 ≤23.21万元"),
    (("满意",), "请写百分数，如 ≥95%"),
)
_TARGET_HINT = "请写成 符号+数值+单位，如 ≥95%、≤10次；定性指标写文字，如 及时"


def _target_hint(i: Indicator) -> str:
    for text in (i.level2, i.name):
        for words, hint in _TARGET_HINTS:
            if any(w in text for w in words):
                return hint
    return _TARGET_HINT


@rule("indicators.target", "error", "指标缺少目标值", "“系统运维完成率”的目标值为空。")
def _indicator_target(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "target")
        if not i.target.raw:
            yield ctx.finding(r, ctx.row_cell(table, "target", i.row), header, "",
                              f"{_indicator(i)}没有填{header}；{_target_hint(i)}。")


_DIGIT = re.compile(r"[0-9０-９]")


@rule("indicators.target_format", "warning", "目标值写法无法识别", "目标值写了“约95左右%”。")
def _target_format(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "target")
        t = i.target
        if t.raw and t.number is None and t.deadline is None and _DIGIT.search(t.raw):
            yield ctx.finding(r, ctx.row_cell(table, "target", i.row), header, t.raw,
                              f"{_indicator(i)}的{header}“{_show(t.raw)}”含数字但无法识别；{_target_hint(i)}。")


# A rate or a share (完成率, 覆盖比例, 满意度): its target is a percentage. Not 频率 (4次/月), 功率, 效率, 速率,
# 汇率 or 容积率: no percentages.
_RATE = re.compile(r"满意|比例|占比|(?<![频功效速汇])(?<!容积)率")


def _is_rate(i: Indicator) -> bool:
    """A satisfaction or rate indicator (满意度, 完成率): its target is a percentage."""
    return "满意" in i.level2 or _RATE.search(i.name) is not None


def _unit_of(i: Indicator) -> str:
    """The target's unit (or its 计量单位), % for a rate typed without one (95 is 95% there)."""
    return i.target.unit or _unit_name(i.measure_unit) or ("%" if _is_rate(i) else "")


@rule("indicators.percent_unit_missing", "warning", "满意度、完成率一类指标的目标值没有写 %",
      "“系统使用满意度”的目标值填了 95，没有写 %。")
def _percent_unit(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in ctx.indicator_rows():
        header = ctx.header(table, "target")
        columns = ctx.t.columns[table]
        also = f"，或在“{columns['measure_unit']}”中填 %" if "measure_unit" in columns else ""
        t = i.target
        if t.number is not None and not t.unit and not i.measure_unit.strip() and _is_rate(i):
            yield ctx.finding(r, ctx.row_cell(table, "target", i.row), header, t.raw,
                              f"{_indicator(i)}的{header}“{_show(t.raw)}”没有写 %；满意度、完成率一类指标请写百分数，"
                              f"如 {t.operator}{_num(t.number)}%{also}（与年度绩效目标比较时已按 {_num(t.number)}% 计）。")


# ---- 指标写得能否衡量：单位、方向、定量/定性、名称、占位符、时限 ------------------------------
# One pass over the indicators (_facts, once per declaration) works out what these rules look at; each rule
# then only walks that list. What fires is what a reviewer would send back; what may be right is 提示.

_PERCENT_UNITS = frozenset({"%", "‰", "百分点", "个百分点"})
_UNIT_SYNONYMS = {"百分比": "%", "百分率": "%", "日": "天", "工作日": "个工作日"}
# Rates that may pass 100% (增长率 150%) and counts that have no unit (指数 0.8, 系数).
_GROWTH = re.compile("增长|增幅|增速|增加|提高|提升|回报|收益|同比|环比|周转|杠杆|倍")
_UNITLESS = re.compile("指数|系数|比值|倍数|等级|级别|星级|评分|得分|分值")
# A 成本 indicator that is rightly a floor (成本节约率 ≥5%, 预算执行率 ≥90%), and a 数量 one rightly a ceiling
# (未完成项目数 ≤2个, 完成时间 ≤10天).
_FLOOR_OK = re.compile("节约|节省|节支|降低|下降|减少|压减|压缩|执行|到位")
_DONE = re.compile("完成|覆盖")
_CEILING_OK = re.compile("未|不|差错|失误|投诉|事故|时间|时长|天数|周期|用时|工期|成本|费用|金额|资金|损失")
# Full-width forms included, blanks around allowed: the cell is matched as typed. 无 as the target of an indicator
# of things that should not happen (安全事故 无) is a target, not a placeholder.
_PLACEHOLDER = re.compile(r"\s*(?:[*＊/／\\＼\-－—–_~·.。…、×]+|无|暂无|待定|待补充|待填写?|略|空|null|n/?a)\s*", re.IGNORECASE)
_PLACEHOLDER_LIMIT = 8  # longer texts are none: most cells are decided by their length
_NONE_OK = re.compile("事故|投诉|违规|违纪|违法|差错|纠纷|隐患|失误|损失|污染|问题|事件|风险|不良|缺陷|超支|赔偿|处罚")
# A target that is only words of degree or direction (有效提升, 显著, 进一步): nothing to check it against.
# Possessive, longest word first: one pass, no backtracking, and only short texts are tried.
_VAGUE_WORDS = ("进一步", "有效", "显著", "明显", "大幅度", "大幅", "较大幅度", "较大", "稳步", "逐步", "不断", "持续",
                "全面", "切实", "有所", "一定程度", "一定", "极大", "得到", "地", "的", "了",
                "提升", "提高", "改善", "增强", "增加", "加强", "优化", "促进", "改进", "降低", "减少", "下降", "好转",
                "上升", "增长", "扩大", "完善")  # fmt: skip
_VAGUE = re.compile("(?:" + "|".join(sorted(_VAGUE_WORDS, key=len, reverse=True)) + ")++")
_VAGUE_FILLER = re.compile("得到|一定|[地的了]")
_VAGUE_LIMIT = 16
_PLAIN_WORDS = frozenset({"有效", "持续", "完善", "全面"})  # states a 定性 target may rightly name (制度健全性：完善)
_BLANKS = re.compile(r"\s+")


def _compact(text: str) -> str:
    return _BLANKS.sub("", to_halfwidth(text))


def _unit_name(text: str) -> str:
    unit = _compact(text)
    return _UNIT_SYNONYMS.get(unit, unit)


@dataclass(slots=True)
class _Facts:
    """What the indicator-quality rules read off one indicator row, worked out once."""

    table: str
    i: Indicator
    unit: str  # the target's own unit, else its 计量单位 (national forms keep it in its own column)
    typed_unit: str  # the unit written in the target itself ("" when none)
    operator: str  # the target's operator, else its 计算符号
    rate: bool  # a rate or share by its name: its target is a percentage
    name_placeholder: bool
    target_placeholder: bool
    # (unit, direction) of a 库内 indicator differing from its library entry: said by library_mismatch, which the
    # general checks leave them to (one warning at a cell for one mistake)
    against_library: tuple[bool, bool] = (False, False)


def _facts(ctx: Context) -> list[_Facts]:
    if ctx.quality is None:
        ctx.quality = [_facts_of(table, i, ctx.t.library) for table in ctx.t.indicator_tables()
                       if not ctx.unread(table) for i in rows_of(ctx.d, table)]
    return ctx.quality


def _facts_of(table: str, i: Indicator, library: Library | None) -> _Facts:
    t = i.target
    typed = _UNIT_SYNONYMS.get(t.unit, t.unit)  # parse_target gives it half-width, without blanks
    unit = typed or (_unit_name(i.measure_unit) if t.number is not None and i.measure_unit else "")
    return _Facts(table, i, unit, typed, t.operator or (operator_symbol(i.operator) if i.operator else ""),
                  _RATE.search(i.name) is not None, _is_placeholder(i.name),
                  _is_placeholder(t.raw) and not (t.raw.strip() == "无" and _NONE_OK.search(i.name) is not None),
                  _library_differs(library.find(i.level2, i.name) if library is not None else None, i))


def _is_placeholder(text: str) -> bool:
    return 0 < len(text) <= _PLACEHOLDER_LIMIT and _PLACEHOLDER.fullmatch(text) is not None


def _placeholder_row(f: _Facts) -> bool:
    return f.name_placeholder or f.target_placeholder


def _where_target(ctx: Context, f: _Facts) -> tuple[str, str]:
    return ctx.row_cell(f.table, "target", f.i.row)


def _target_words(ctx: Context, f: _Facts) -> tuple[str, str]:
    """How a message names an indicator's 目标值: its column's header, and the target as typed."""
    return ctx.header(f.table, "target"), _show(f.i.target.raw)


def _at_target(r: Rule, ctx: Context, f: _Facts, message: str) -> Finding:
    """A finding at an indicator's 目标值 cell, under its column's header."""
    return ctx.finding(r, _where_target(ctx, f), ctx.header(f.table, "target"), f.i.target.raw, message)


def _unit_column(ctx: Context, table: str) -> str:
    """“，单位填在“计量单位”中” where the table has that column."""
    columns = ctx.t.columns[table]
    return f"，单位填在“{columns['measure_unit']}”中" if "measure_unit" in columns else ""


@rule("indicators.unit_missing", "warning", "定量目标值没有计量单位", "“更新教室数”的目标值填了 ≥50，没有写单位（间）。")
def _unit_missing(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i, t = f.i, f.i.target
        if t.number is None or f.unit or _is_rate(i) or _UNITLESS.search(i.name):
            continue  # a rate without % is indicators.percent_unit_missing
        value = f"{f.operator}{_num(t.number)}"
        units = next((u for words, u in _EXAMPLE_UNITS if any(w in i.level2 or w in i.level1 for w in words)), ("个", "人次"))
        header, typed = _target_words(ctx, f)
        yield _at_target(r, ctx, f, f"{_indicator(i)}的{header}“{typed}”没有计量单位；请写明单位，如 "
                         f"{value}{units[0]}、{value}{units[1]}{_unit_column(ctx, f.table)}。")


# The units a message suggests, by what the indicator measures.
_EXAMPLE_UNITS = ((("时效",), ("天", "个工作日")), (("成本",), ("万元", "元")))


@rule("indicators.unit_conflict", "error", "目标值中的单位与计量单位不一致",
      "指标值填了“28.8万元”，计量单位却是 %。")
def _unit_conflict(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i = f.i
        if not f.typed_unit or not i.measure_unit:
            continue
        measure = _unit_name(i.measure_unit)
        if measure and f.typed_unit != measure:
            unit_header = ctx.header(f.table, "measure_unit")
            header, typed = _target_words(ctx, f)
            yield _at_target(r, ctx, f, f"{_indicator(i)}的{header}“{typed}”写的单位是 {f.typed_unit}，"
                             f"而{unit_header}是“{_show(i.measure_unit)}”，两者不一致；请核对后统一，"
                             f"{header}只填数值，单位填在“{unit_header}”中。")


@rule("indicators.rate_not_percent", "warning", "比率、满意度类指标的目标值不是百分数",
      "“系统运维完成率”的目标值填了“28.8万元”。")
def _rate_not_percent(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i = f.i
        if not f.rate or i.target.number is None or not f.unit or f.unit in _PERCENT_UNITS:
            continue
        if f.unit == "分" and "满意" in i.name:
            continue  # 满意度测评得分 ≥90分: a score, as some surveys give it
        if f.against_library[0]:
            continue  # library_mismatch names the library's unit
        header, typed = _target_words(ctx, f)
        yield _at_target(r, ctx, f, f"{_indicator(i)}是比率（百分比）类指标，{header}“{typed}”的单位"
                         f"却是 {f.unit}；请写百分数，如 ≥95%；如要写金额或数量，请另设一项指标，并改用相应的名称。")


@rule("indicators.percent_over_100", "error", "比率、满意度类指标的目标值超过 100%", "“系统使用满意度”的目标值填了 105%。")
def _percent_over_100(r: Rule, ctx: Context) -> Iterator[Finding]:
    hundred = Decimal(100)
    for f in _facts(ctx):
        i, t = f.i, f.i.target
        if t.number is None or t.number <= hundred or f.operator in ("≤", "<") or _GROWTH.search(i.name):
            continue
        if (f.unit == "%" and _is_rate(i)) or (not f.unit and f.rate):  # 完成率 120 is 120% (and lacks its %)
            header, typed = _target_words(ctx, f)
            yield _at_target(r, ctx, f, f"{_indicator(i)}的{header}“{typed}”超过了 100%，"
                             "比率最多为 100%；请核对，如 ≥95%、100%。")


def _cost(i: Indicator) -> bool:
    return "成本" in i.level2 or "成本" in i.level1


@rule("indicators.cost_floor", "warning", "成本指标写成了“≥”（成本应是上限）", "“会议系统运维成本”填了 ≥23.21万元。")
def _cost_floor(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i = f.i
        if f.operator in ("≥", ">") and _cost(i) and not _FLOOR_OK.search(i.name) and not f.against_library[1]:
            fix = f"≤{_num(i.target.number)}{f.unit}" if i.target.number is not None else "≤23.21万元"
            header, typed = _target_words(ctx, f)
            yield _at_target(r, ctx, f, f"{_indicator(i)}是成本指标，{header}“{typed}”写成了下限"
                             f"（{f.operator}）；成本应写上限，如 {fix}。")


@rule("indicators.quantity_ceiling", "warning", "完成、覆盖类数量指标写成了“≤”",
      "“培训覆盖人次”填了 ≤1000人次（应为 ≥）。")
def _quantity_ceiling(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i = f.i
        if (f.operator in ("≤", "<") and "数量" in i.level2 and _DONE.search(i.name)
                and not _CEILING_OK.search(i.name) and not f.against_library[1]):  # else library_mismatch
            fix = f"≥{_num(i.target.number)}{f.unit}" if i.target.number is not None else "≥100%"
            header, typed = _target_words(ctx, f)
            yield _at_target(r, ctx, f, f"{_indicator(i)}是要完成（覆盖）的数量，{header}“{typed}”"
                             f"却写成了上限（{f.operator}）；请写下限，如 {fix}。")


_QUANTITATIVE, _QUALITATIVE = "定量", "定性"


@rule("indicators.value_type_mismatch", "error", "指标值类型与指标值不符（定量写了文字，定性写了数值）",
      "指标值类型选了“定量”，指标值填了“按月安排”。")
def _value_type_mismatch(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i, t = f.i, f.i.target
        if "value_type" not in ctx.t.columns[f.table] or not t.raw or f.target_placeholder:
            continue
        kind = _compact(i.value_type)
        header, type_header = ctx.header(f.table, "target"), ctx.header(f.table, "value_type")
        where = ctx.row_cell(f.table, "value_type", i.row)
        if kind == _QUANTITATIVE and t.number is None and t.deadline is None and not _DIGIT.search(t.raw):
            yield ctx.finding(r, where, type_header, i.value_type,
                              f"{_indicator(i)}的{type_header}为“定量”，{header}“{_show(t.raw)}”却是文字；"
                              f"定量指标请写数值，如 ≥95%；如确为文字描述，请把{type_header}改为“定性”。")
        elif kind == _QUALITATIVE and (t.number is not None or _compact(i.measure_unit)):
            unit = f"、计量单位“{_show(i.measure_unit)}”" if _compact(i.measure_unit) else ""
            yield ctx.finding(r, where, type_header, i.value_type,
                              f"{_indicator(i)}的{type_header}为“定性”，却填了{header}“{_show(t.raw)}”{unit}；"
                              f"有数值和单位的指标请把{type_header}改为“定量”，定性指标的{header}写文字（如 及时），"
                              "不填计量单位。")


@rule("indicators.vague_target", "warning", "目标值只有“有效提升”“显著”一类的词，无法衡量",
      "“会议保障水平”的目标值填了“有效提升”。")
def _vague_target(r: Rule, ctx: Context) -> Iterator[Finding]:
    for f in _facts(ctx):
        i, t = f.i, f.i.target
        if t.number is not None or t.deadline is not None or not t.raw or len(t.raw) > 2 * _VAGUE_LIMIT:
            continue
        text = _compact(t.raw)
        if (len(text) <= _VAGUE_LIMIT and text not in _PLAIN_WORDS and _VAGUE.fullmatch(text)
                and _VAGUE_FILLER.sub("", text)):
            header, typed = _target_words(ctx, f)
            yield _at_target(r, ctx, f, f"{_indicator(i)}的{header}“{typed}”只说了方向或程度，"
                             "到年底无法核对是否达到；请写可衡量的目标，如 ≥95%、比上年提高5个百分点，或写明要达到的状态，如 全部达标。")


@functools.cache
def _level_names(template: Template) -> dict[str, str]:
    """Every 一级 and 二级 name of a template, by the form compared (no spaces, no trailing 指标/目标)."""
    names = [*template.taxonomy, *(l2 for l2s in template.taxonomy.values() for l2 in l2s)]
    return {_level_key(n): n for n in names}


def _level_key(name: str) -> str:
    return _squeezed(name).removesuffix("指标").removesuffix("目标")


def _squeezed(text: str) -> str:
    """The text without blanks (full-width spaces too): 系统 运维完成率 is 系统运维完成率."""
    return "".join(text.split())


@rule("indicators.name_like_level", "warning", "三级指标名称照抄了一级或二级名称",
      "三级指标填了“社会成本指标”，与二级指标同名。")
def _name_like_level(r: Rule, ctx: Context) -> Iterator[Finding]:
    names = _level_names(ctx.t)
    for f in _facts(ctx):
        i = f.i
        key = _level_key(i.name) if i.name else ""
        if not key:
            continue
        if key in (_level_key(i.level2), _level_key(i.level1)):
            level = ctx.header(f.table, "level2" if key == _level_key(i.level2) else "level1")
            same = f"与{level}同名"
        elif key in names:
            same = f"与指标体系中的“{names[key]}”同名"
        else:
            continue
        header = ctx.header(f.table, "name")
        yield ctx.finding(r, ctx.row_cell(f.table, "name", i.row), header, i.name,
                          f"{header}“{_show(i.name)}”{same}，没有说明具体衡量什么；请写出指标本身，"
                          "如 系统运维完成率、会议系统运维成本。")


@rule("indicators.duplicate_name", "warning", "同一张指标表中指标名称重复", "“系统运维完成率”在第 18 行和第 21 行各填了一次。")
def _duplicate_name(r: Rule, ctx: Context) -> Iterator[Finding]:
    seen: dict[tuple[str, str], Indicator] = {}
    for f in _facts(ctx):
        i = f.i
        if not i.name or f.name_placeholder:
            continue
        key = (f.table, _squeezed(i.name))
        first = seen.setdefault(key, i)
        if first is not i:
            header = ctx.header(f.table, "name")
            sheet, cell = ctx.row_cell(f.table, "name", first.row)
            yield ctx.finding(r, ctx.row_cell(f.table, "name", i.row), header, i.name,
                              f"{header}“{_show(i.name)}”与 {sheet}!{cell} 重复；同一指标只填一行，"
                              "如是不同的指标，请改用能区分的名称。")


def _lone_placeholders(ctx: Context) -> list[list[_Facts]]:
    """For each required 一级 of each table whose rows are all placeholders, those rows."""
    found: list[list[_Facts]] = []
    facts = _facts(ctx)
    if not any(_placeholder_row(f) for f in facts):
        return found  # the usual case
    for table in ctx.t.indicator_tables():
        for level1 in ctx.t.required_level1:
            rows = [f for f in facts if f.table == table and f.i.level1 == level1]
            if rows and all(_placeholder_row(f) for f in rows):
                found.append(rows)
    return found


def _placeholder_cell(ctx: Context, f: _Facts) -> tuple[tuple[str, str], str, str]:
    """(cell, header, value) of a placeholder row: its name when that is one, else its target."""
    key = "name" if f.name_placeholder else "target"
    value = f.i.name if f.name_placeholder else f.i.target.raw
    return ctx.row_cell(f.table, key, f.i.row), ctx.header(f.table, key), value


@rule("indicators.placeholder", "error", "指标名称或目标值只填了占位符（*、/、无、待定、—）",
      "三级指标和目标值都填了“/”。")
def _placeholder(r: Rule, ctx: Context) -> Iterator[Finding]:
    # A required 一级 that has only such rows is indicators.required_level1_placeholder's (it says to fill, not delete).
    taken = {id(f) for rows in _lone_placeholders(ctx) for f in rows} if _LEVEL1_PLACEHOLDER.applies(ctx.t) else set()
    for f in _facts(ctx):
        if not _placeholder_row(f) or id(f) in taken:
            continue
        where, header, value = _placeholder_cell(ctx, f)
        both = f.name_placeholder and f.target_placeholder
        also = "和目标值" if both else ""
        what = "指标名称和目标值" if both else "指标名称" if f.name_placeholder else "目标值，如 ≥95%、及时"
        yield ctx.finding(r, where, header, value,
                          f"第 {f.i.row} 行指标的{header}{also}只填了“{_show(value)}”，不是实际内容；请填写具体的{what}，"
                          "没有这项指标就删去这一行。")


@rule("indicators.required_level1_placeholder", "error", "必需的一级指标下只有占位行",
      "“成本指标”下唯一的一行，三级指标填了“/”。")
def _required_level1_placeholder(r: Rule, ctx: Context) -> Iterator[Finding]:
    for rows in _lone_placeholders(ctx):
        f = rows[0]
        where, header, value = _placeholder_cell(ctx, f)
        level1, level2s = f.i.level1, "、".join(ctx.t.taxonomy.get(f.i.level1, ()))
        only = "唯一的一行" if len(rows) == 1 else f"的 {len(rows)} 行都"
        yield ctx.finding(r, where, header, value,
                          f"每个项目都要有“{level1}”类指标，而其下{only}只填了占位符（{header}“{_show(value)}”），"
                          f"等于没有；请填写实际的{level1}（可选{ctx.header(f.table, 'level2')}：{level2s}）及其目标值。")


_LEVEL1_PLACEHOLDER = CATALOGUE["indicators.required_level1_placeholder"]


@rule("indicators.deadline_outside", "warning", "时效目标的完成时限不在项目起止日期内",
      "项目 2026-06-30 结束，时效目标写了“2026年8月底前”。")
def _deadline_outside(r: Rule, ctx: Context) -> Iterator[Finding]:
    p = ctx.d.project
    start = p.start_date if ctx.t.has("start_date") else None
    end = p.end_date if ctx.t.has("end_date") else None
    if start is None and end is None:
        return
    year = ctx.d.identity.year or ctx.t.year
    for f in _facts(ctx):
        deadline = f.i.target.deadline
        due = deadline.by(year) if deadline is not None else None
        if deadline is None or due is None or not ((start and due < start) or (end and due > end)):
            continue
        assumed = "" if deadline.year else "按预算年度，"
        span = f"{start or '—'} 至 {end or '—'}"
        header, typed = _target_words(ctx, f)
        yield _at_target(r, ctx, f, f"{_indicator(f.i)}的{header}“{typed}”（{assumed}即 {due}）"
                         f"不在项目起止日期（{span}）内；请把完成时限定在项目期内，或核对起止日期。")


@rule("goal.target_mismatch", "error", "年度绩效目标中的数值与指标不一致",
      "年度绩效目标写“满意率达到85%以上”，满意度指标却是 95%。", needs=("annual_goal",))
def _goal_mismatch(r: Rule, ctx: Context) -> Iterator[Finding]:
    for goal, indicator in _goal_pairs(ctx):
        if indicator is None:
            continue
        t, unit = indicator.target, _unit_of(indicator)
        if t.number is not None and (t.number != goal.number or (unit and goal.unit and unit != goal.unit)):
            where = ctx.row_cell("indicators", "target", indicator.row)
            label, header = ctx.label("annual_goal"), ctx.header("indicators", "target")
            yield ctx.finding(r, ctx.cell("annual_goal"), label, goal.phrase,
                              f"“{label}”写“{_show(goal.phrase)}”，而{_indicator(indicator)}的{header}为“{_show(t.raw)}”"
                              f"（{where[0]}!{where[1]}）：{_num(goal.number)}{goal.unit} 与 {_num(t.number)}{unit} 不一致，请统一。")


@rule("goal.target_unmatched", "warning", "年度绩效目标中的数值没有对应指标",
      "年度绩效目标写“设备有效使用率达到99.5%以上”，指标表中没有这一指标。", needs=("annual_goal",))
def _goal_unmatched(r: Rule, ctx: Context) -> Iterator[Finding]:
    for goal, indicator in _goal_pairs(ctx):
        if indicator is None:
            label = ctx.label("annual_goal")
            yield ctx.finding(r, ctx.cell("annual_goal"), label, goal.phrase,
                              f"“{label}”写“{_show(goal.phrase)}”，但“{ctx.label('indicators')}”表中没有“{_show(goal.subject)}”"
                              "这一指标；请补充指标或修改文字。")


def _goal_pairs(ctx: Context) -> list[tuple[GoalTarget, Indicator | None]]:
    """Each target stated in 年度绩效目标 with the indicator it speaks of (None when none does);
    worked out once per declaration, for the two rules that use it."""
    if ctx.goal_pairs is None:
        ctx.goal_pairs = [] if ctx.unread("indicators") else list(_pair_goals(ctx))
    return ctx.goal_pairs


def _pair_goals(ctx: Context) -> Iterator[tuple[GoalTarget, Indicator | None]]:
    indicators = ctx.d.indicators
    for goal in extract_goal_targets(ctx.d.project.annual_goal):
        # Closest first: the indicator's own name, then a fuzzy match on the name, then one that only shares
        # the 二级 (which may be mis-picked). Of several (群众满意度, 服务对象满意度), one that agrees is the match.
        tiers = (
            [i for i in indicators if i.name and (goal.subject in i.name or i.name in goal.subject)],
            [i for i in indicators if same_subject(goal.subject, i.name, "")],
            [i for i in indicators if same_subject(goal.subject, i.name, i.level2)],
        )
        found = next((tier for tier in tiers if tier), [])
        agreeing = [i for i in found if i.target.number == goal.number]
        best = agreeing or found
        yield goal, best[0] if best else None


# ---- 项目构成分解 -------------------------------------------------------------------


@rule("costs.row", "error", "明细金额 ≠ 单价 × 数量", "单价 1,000.00 × 数量 3 = 3,000.00，明细金额却填了 2,000.00。")
def _cost_rows(r: Rule, ctx: Context) -> Iterator[Finding]:
    header, price, quantity = (ctx.header("costs", key) for key in ("amount", "unit_price", "quantity"))
    for c in ctx.d.costs:
        message = cost_row_message(c.amount, c.unit_price, c.quantity)
        if message and c.unit_price is not None and c.quantity is not None:
            name = c.detail or c.content or c.project
            who = f"“{_show(name)}”" if name else f"第 {c.row} 行"
            found = "却未填写" if c.amount is None else f"却为 {_money(c.amount)}"
            yield ctx.finding(r, ctx.row_cell("costs", "amount", c.row), header, c.amount,
                              f"{who}：{price} {_money(c.unit_price)} × {quantity} {_num(c.quantity.normalize())}"
                              f" = {_money(c.unit_price * c.quantity)}，{header}{found}。")


@rule("costs.total", "error", "项目构成分解金额合计 ≠ 当年预算", "各明细金额合计 200,000.00，当年预算 232,124.00。",
      needs=("current_year",))
def _cost_total(r: Rule, ctx: Context) -> Iterator[Finding]:
    current = ctx.d.funding.current_year
    if current is None or (current == 0 and not ctx.d.costs) or ctx.unread("costs"):
        return
    if not ctx.holds("cost_total"):
        total = sum((_n(c.amount) for c in ctx.d.costs), Decimal(0))
        header, costs, budget = ctx.header("costs", "amount"), ctx.label("costs"), ctx.term("current_year")
        last = ctx.d.costs[-1].row if ctx.d.costs else 0
        what = f"未填写{costs}" if not ctx.d.costs else f"{costs}{header}合计 {_money(total)}"
        yield ctx.finding(r, ctx.row_cell("costs", "amount", last), header, total if ctx.d.costs else None,
                          f"{what}，与{budget} {_money(current)} 不一致；{ctx.label('cost_total')}应等于{budget}。")


# ---- 制度保障 -------------------------------------------------------------------


@rule("guarantees.stage", "error", "制度保障未勾选保障阶段", "写了文件名称“内控指南”，三个阶段都没有勾选。")
def _guarantee_stage(r: Rule, ctx: Context) -> Iterator[Finding]:
    header = ctx.header("guarantees", "planning")
    for g in ctx.d.guarantees:
        if g.document and not (g.planning or g.implementation or g.completion):
            yield ctx.finding(r, ctx.row_cell("guarantees", "planning", g.row), header, "",
                              f"“{_show(g.document)}”没有勾选任何保障阶段；请在适用的阶段下填 ✓。")


@rule("guarantees.document", "warning", "制度保障缺少文件名称", "勾选了实施阶段 ✓，但文件名称为空。")
def _guarantee_document(r: Rule, ctx: Context) -> Iterator[Finding]:
    header = ctx.header("guarantees", "document")
    for g in ctx.d.guarantees:
        if not g.document and (g.measures or g.planning or g.implementation or g.completion):
            yield ctx.finding(r, ctx.row_cell("guarantees", "document", g.row), header, "",
                              f"第 {g.row} 行“{_show(g.kind) or ctx.label('guarantees')}”没有填写{header}，请补充依据的制度文件。")


@rule("guarantees.kind", "warning", "制度类别不是常用类别", "制度类别填了“其他制度”。")
def _guarantee_kind(r: Rule, ctx: Context) -> Iterator[Finding]:
    allowed = ctx.t.choice_list("guarantee_kind")
    header = ctx.header("guarantees", "kind")
    for g in ctx.d.guarantees:
        if g.kind and g.kind not in allowed:
            yield ctx.finding(r, ctx.row_cell("guarantees", "kind", g.row), header, g.kind,
                              f"{header}“{_show(g.kind)}”不是常用类别（{'、'.join(allowed)}）；如确为新增类别可忽略。")


# ---- what a template adds: its lists and required columns ------------------------------------------


def _added_listed(ctx: Context, kind: Kind) -> Iterator[tuple[tuple[str, str], str, Any, str]]:
    """(cell, label, value, list key) of every filled field or column the template adds with a list of `kind`."""
    for f in _added_fields(ctx.t, kind):
        value = field_value(ctx.d, f.group, f.key)
        if value not in (None, ""):
            yield ctx.cell(f.key), ctx.label(f.key), value, f.choices
    for table, column in _added_columns(ctx.t, kind):
        for item in rows_of(ctx.d, table):
            value = row_value(item, column.key)
            if value not in (None, ""):
                yield ctx.row_cell(table, column.key, item.row), ctx.header(table, column.key), value, column.choices


@functools.cache
def _added_fields(template: Template, kind: Kind) -> tuple[Field, ...]:
    return tuple(f for f in template.fields if not f.builtin and f.kind is kind)


@functools.cache
def _added_columns(template: Template, kind: Kind | None) -> tuple[tuple[str, Column], ...]:
    """Columns the template adds (of `kind`; None: required ones of any kind)."""
    return tuple((table, c) for table, cols in template.column_defs.items() for c in cols.values()
                 if not c.builtin and (c.kind is kind if kind is not None else c.required))


@rule("choice.value", "error", "选项不在下拉列表中", "模板新增的“项目属性”填了“续建”，列表只有 新增、延续。")
def _choice_value(r: Rule, ctx: Context) -> Iterator[Finding]:
    for where, label, value, key in _added_listed(ctx, Kind.CHOICE):
        allowed = ctx.t.choice_list(key)
        if value not in allowed:
            yield ctx.finding(r, where, label, value,
                              f"“{label}”填了“{_show(value)}”，应为 {'、'.join(allowed[:12])}"
                              f"{' 等' if len(allowed) > 12 else ''}之一，请从下拉列表选择。")


@rule("code.value", "error", "编码不在编码列表中，或编码与名称不符",
      "主管部门填了“219009-区教育局”，列表中区教育局的编码是 219001。")
def _code_value(r: Rule, ctx: Context) -> Iterator[Finding]:
    for where, label, value, key in _added_listed(ctx, Kind.CODE):
        entries = {c.code: c for c in ctx.t.codes.get(key, ())}
        found = entries.get(value.code)
        if found is None:
            by_name = [c for c in entries.values() if value.name and c.name == value.name]
            hint = f"（“{value.name}”的编码是 {by_name[0].code}）" if by_name else ""
            yield ctx.finding(r, where, label, str(value),
                              f"“{label}”填了“{_show(str(value))}”，编码 {_show(value.code)} 不在编码列表中{hint}；"
                              "请从下拉列表选择。")
        elif value.name and value.name != found.name:
            yield ctx.finding(r, where, label, str(value),
                              f"“{label}”填了“{_show(str(value))}”，编码 {found.code} 对应的是“{found.name}”；"
                              "请从下拉列表重新选择。")


@rule("required.column", "error", "行表中的必填列未填写", "资金来源明细填了金额，没有填资金来源。")
def _required_column(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, column in _added_columns(ctx.t, None):
        for item in rows_of(ctx.d, table):
            if row_value(item, column.key) in (None, ""):
                header = ctx.header(table, column.key)
                yield ctx.finding(r, ctx.row_cell(table, column.key, item.row), header, "",
                                  f"“{ctx.label(table)}”第 {item.row} 行没有填“{header}”，请补充。")


# ---- a template's own rules (rules:), in the expression language ------------------------------------


def _bureau_rule(b: BureauRule) -> Rule:
    def run(r: Rule, ctx: Context) -> Iterator[Finding]:
        values = ctx.values()
        if b.when is not None and not b.when.evaluate(values):
            return
        if b.check.evaluate(values):
            return
        where, label, value = _pointed(ctx, b)
        yield ctx.finding(r, where, label, value, b.message.render(values))

    return Rule(b.id, cast(Severity, b.severity), b.title, b.check.text, fn=run)


def _pointed(ctx: Context, b: BureauRule) -> tuple[tuple[str, str], str, Any]:
    """Where a bureau rule's finding points: the cell it names, else the first field (or column) of its check."""
    name = b.cell or (b.check.fields[0] if b.check.fields else ".".join(b.check.columns[0]))
    table, _, column = name.partition(".")
    if not column:
        return ctx.cell(name), ctx.label(name), ctx.values().field(name)
    rows = rows_of(ctx.d, table)
    return ctx.row_cell(table, column, rows[-1].row if rows else 0), ctx.header(table, column), ""


# ---- carried over from last year (distribute --carry-over): this year's target against 上年目标值 ----------


# How this year's target of a carried row stands against 上年目标值 (the report's 上年对比 says the same words).
SAME, RAISED, LOWERED, CHANGED, NEW = "未变", "要求提高", "要求降低", "已修改", "新增"
_BETTER = {"≥": 1, ">": 1, "≤": -1, "<": -1}  # which way a more demanding target moves, by operator


def target_change(i: Indicator) -> str:
    """SAME, RAISED, LOWERED, CHANGED (not comparable: words, another unit or direction) or NEW (no 上年目标值);
    "" for a row without this year's target. Only like is compared with like: the same unit (a rate typed
    without % counts as %) and the same direction (95% typed under last year's ≥98% is a ≥ target)."""
    now = i.target
    if not now.raw:
        return ""
    if not i.last_target:
        return NEW
    last = parse_target(i.last_target)
    if "".join(now.raw.split()) == "".join(i.last_target.split()):
        return SAME
    if now.number is None or last.number is None or _unit_of(i) != (last.unit or ("%" if _is_rate(i) else "")):
        return CHANGED
    operator = now.operator or last.operator
    direction = _BETTER.get(operator, 0)
    if now.number == last.number:
        return SAME if now.operator in ("", last.operator) else CHANGED
    if not direction or _BETTER.get(last.operator or operator) != direction:
        return CHANGED
    return RAISED if (now.number - last.number) * direction > 0 else LOWERED


def _carried(ctx: Context, change: str) -> Iterator[tuple[str, Indicator]]:
    for table, i in ctx.indicator_rows():
        if i.last_target and target_change(i) == change:
            yield table, i


@rule("indicators.copied_target", "warning", "目标值照抄上年（延续项目）",
      "延续项目“系统使用满意度”上年目标值为“≥95%”，今年仍填“≥95%”。")
def _copied_target(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in _carried(ctx, SAME):
        header = ctx.header(table, "target")
        yield ctx.finding(r, ctx.row_cell(table, "target", i.row), header, i.target.raw,
                          f"{_indicator(i)}的{header}“{_show(i.target.raw)}”与上年目标值“{_show(i.last_target)}”相同；"
                          "请按今年的工作安排重新测算，确需保持不变的请在备注中说明理由。")


@rule("indicators.target_lowered", "warning", "目标值低于上年（≥ 类）或高于上年（≤ 类）",
      "上年目标值“≥98%”，今年填“≥95%”；或上年“≤10个工作日”，今年“≤15个工作日”。")
def _target_lowered(r: Rule, ctx: Context) -> Iterator[Finding]:
    for table, i in _carried(ctx, LOWERED):
        header = ctx.header(table, "target")
        operator = i.target.operator or parse_target(i.last_target).operator
        how, what = ("低于", "降低") if _BETTER[operator] > 0 else ("高于", "放宽")
        yield ctx.finding(r, ctx.row_cell(table, "target", i.row), header, i.target.raw,
                          f"{_indicator(i)}的{header}“{_show(i.target.raw)}”{how}上年目标值“{_show(i.last_target)}”"
                          f"（{operator} 类指标的目标一般不应比上年{what}）；请说明理由，或调整目标值。")


# ---- rules raised while reading (reading/reader.py): a value or the workbook's structure -----------
KIND_MONEY = declare("kind.money", "error", "金额不是数字", "当年预算填了“二十三万”。")
KIND_NUMBER = declare("kind.number", "error", "数量不是数字", "数量填了“一批”。")
KIND_DATE = declare("kind.date", "error", "日期无法识别", "起始日期填了“2020年13月”。")
KIND_TICK = declare("kind.tick", "error", "保障阶段不是 ✓", "实施阶段填了“部分”。")
KIND_CODE = declare("kind.code", "error", "编码项不是“编码-名称”", "主管部门填了“教育局”，应从下拉列表选“219001-区教育局”。")
UNPROTECTED = declare("structure.unprotected", "warning", "工作表保护被取消", "用其他软件另存后工作表不再受保护。")
LABEL_MISMATCH = declare("structure.label_mismatch", "error", "标签与名称不符（结构被改动）",
                         "在项目总体情况中插入了行，标签错位。")
NAME_MISSING = declare("structure.name_missing", "error", "单元格名称缺失", "删除了带名称的单元格所在行。")
MACROS = declare("structure.macros", "warning", "含宏", "另存为 .xlsm 并带有 VBA。")
EXTERNAL_LINKS = declare("structure.external_links", "warning", "含外部链接", "公式引用了另一个工作簿。")
META_CHANGED = declare("structure.meta_changed", "error", "识别信息被改动",
                       "取消隐藏识别信息工作表，把金额单位“元”改成了“万元”。")
TEMPLATE_EDITED = declare("structure.template_edited", "warning", "表下发后模板被修改过（标签不同）",
                          "下发后把模板中的“项目名称”改成了“项目全称”，交回的表上仍是“项目名称”。")
# ---- raised by the report (report/run.py), which holds the manifest: a return's claims checked against it --
NOT_ISSUED = declare("round.not_issued", "error", "不是本轮下发的表", "交来的是去年下发的表，或自己另外生成的空白表。")
OTHER_DEPARTMENT = declare("round.other_department", "error", "表的下发部门与下发清单不符",
                           "下发给区教育局的表，识别信息里写成了区民政局。")
WRONG_YEAR = declare("round.wrong_year", "error", "表的年度与下发清单不符", "本轮为 2026 年度，表内识别信息为 2025 年度。")
# ---- raised by the report when a return supersedes another (report/changes.py compares them) -------------
UNCHANGED_RESUBMISSION = declare("round.unchanged_resubmission", "warning", "重新提交的表未作修改",
                                 "退回修改后交来的表与上一版内容完全相同（只是重新保存），问题一个也没改。")
FORM_REUSED = declare("round.form_reused", "warning", "同一张表用于另一个项目",
                      "复制下发给本部门的表填报了第二个项目：表单编号相同，项目名称不同。")


def catalogue() -> list[tuple[str, str, str, str]]:
    """(id, severity, title, example) of every rule, reader and report rules included, for docs and `xlform rules`."""
    return [(r.id, r.severity, r.title, r.example) for r in CATALOGUE.values()]


def markdown() -> str:
    """The README's table of rules, from the catalogue."""
    rows = ["| 规则编号 | 严重程度 | 检查什么 | 例子 |", "|---|---|---|---|"]
    rows += [f"| `{r.id}` | {SEVERITY_LABEL[r.severity]} | {r.title} | {r.example} |" for r in CATALOGUE.values()]
    return "\n".join(rows)


__all__ = ["CATALOGUE", "RULES", "Declared", "Rule", "catalogue", "check", "declare"]


# ---- the indicator library (指标库, form/library.py) ---------------------------------------------------
def _library_differs(entry: LibraryIndicator | None, i: Indicator) -> tuple[bool, bool]:
    """(unit, direction): whether a 库内 indicator's unit and direction differ from its library entry's."""
    if entry is None:
        return False, False
    unit = i.measure_unit or i.target.unit
    return (bool(entry.unit and unit and not same_unit(unit, entry.unit)),
            not same_direction(entry.direction, i.target.operator, i.target.number, unit))


@rule("indicators.library_mismatch", "warning", "库内指标的计量单位或方向与指标库不同",
      "指标库中“培训人数”计量单位为人次、方向为 ≥，表上写了“≤50人”。")
def _library_mismatch(r: Rule, ctx: Context) -> Iterator[Finding]:
    library = ctx.t.library
    if library is None:
        return
    for table, i in ctx.indicator_rows():
        entry = library.find(i.level2, i.name)
        if entry is None:
            continue  # the department's own indicator: nothing to compare with
        unit_differs, direction_differs = _library_differs(entry, i)
        differs = []
        if unit_differs:
            differs.append(f"计量单位“{_show(i.measure_unit or i.target.unit)}”与指标库的“{entry.unit}”不同")
        if direction_differs:
            differs.append(f"方向 {i.target.operator} 与指标库的 {entry.direction} 不同")
        if not differs:
            continue
        unit = i.measure_unit or i.target.unit
        only_unit = len(differs) == 1 and unit == i.measure_unit and "measure_unit" in ctx.t.columns[table]
        column = "measure_unit" if only_unit else "target"
        header, value = ctx.header(table, column), i.measure_unit if only_unit else i.target.raw
        yield ctx.finding(r, ctx.row_cell(table, column, i.row), header, value,
                          f"{_indicator(i)}是指标库中的指标，{header}“{_show(value)}”的{'，'.join(differs)}；"
                          "请核对，或改用本单位自定义的指标名称。")
