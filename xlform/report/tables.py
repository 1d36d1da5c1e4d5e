"""What the summary report is about (returns, departments, unreadable files) and its tables.

Each sheet of the report is a Table: columns with a kind (text, money, date…)
and plain rows. Builders here turn collected returns into those tables;
report_files.py writes them as xlsx, CSV or JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..collect.outcome import Outcome
from ..export import FIELD_HEADINGS, Added, Heads, unique
from ..form.fields import ADDED_COLUMN_WIDTH, MONEY_KEYS, Kind
from ..form.model import Indicator, Target
from ..reading.refusals import title_of
from ..review.decisions import GRADES, Decision, Verdict
from ..review.findings import SEVERITY_LABEL
from ..review.round import Decisions, FormLine, counts_text
from ..review.rules import catalogue, target_change
from ..review.status import FormState, Status
from .changes import Change, ChangeKind
from .result import Column, Expected, Table

TO_YUAN = {"元": Decimal(1), "万元": Decimal(10000)}
RULE_TITLES = {rule_id: title for rule_id, _, title, _ in catalogue()}


@dataclass
class Return:
    """One readable item as the report lists it."""

    name: str
    received: datetime
    key: str
    outcome: Outcome
    department: str = ""  # as matched to the roster, else as read
    modified: str = ""  # a zip member's own time: orders versions that arrived in one zip
    replaced: list[Return] = field(default_factory=list)  # earlier versions this one supersedes
    superseded_by: Return | None = None
    changes: list[Change] = field(default_factory=list)  # 修改情况: against replaced[-1], the version before it
    reused_with: list[Return] = field(default_factory=list)  # latest returns of the same form for other projects


@dataclass
class Unread:
    name: str
    received: datetime
    reason: str
    ignored: bool
    code: str = ""  # the reason's code (reading/refusals.py)
    department: str = ""  # whose it is, where its name, folder or the manifest shows it ("" when nothing does)
    form_id: str = ""  # the issued workbook it is, when its name is one the manifest lists


def _money(text: str, unit: str, to: str) -> float | None:
    if not text:
        return None
    try:
        if (unit or "元") == to:  # the usual case: no scaling (a third of building the tables)
            return float(text)  # correctly rounded from the decimal text, as float(Decimal(text)) is
        value = Decimal(text) * TO_YUAN.get(unit or "元", Decimal(1)) / TO_YUAN[to]
    except (InvalidOperation, KeyError, ValueError):
        return None
    return float(value)


def _number(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _money_columns(unit: str) -> list[Column]:
    # The split of 财政拨款 by level stays on the sheet; on paper 财政拨款 + 其他资金 = 当年预算 says enough.
    return [Column(f"{FIELD_HEADINGS[k]}（{unit}）", k, "money", 15, True, printed=k not in _SPLIT_OF_FISCAL)
            for k in MONEY_KEYS]


# The columns a detail sheet starts with (whose row it is) and ends with (where it was read).
_WHOSE = (Column("部门", "department", width=18, identifies=True), Column("项目名称", "project", width=28, identifies=True))
_WHERE = (Column("文件", "file", width=40, technical=True), Column("行", "row", "int", 6))
_SPLIT_OF_FISCAL = ("fiscal_superior", "fiscal_local", "fiscal_subordinate")
_DEPARTMENT_MONEY = ("total", "current_year")  # what 按部门 sums per department


@dataclass
class Review:
    """The round as reviewers left it: each form's line (review/round.py) and the decisions holding."""

    lines: list[FormLine] = field(default_factory=list)
    decisions: Decisions = field(default_factory=dict)
    grading: bool = False  # a return's template asks for the 88号 grade (template `review: {grades: true}`)

    def __post_init__(self) -> None:  # looked up once per row of 10,000: indexed once
        self._states = {(line.form_id, line.item_key): line.state for line in self.lines if line.item_key}
        self._of: dict[str, list[FormLine]] = {}
        for line in self.lines:
            self._of.setdefault(line.department, []).append(line)

    def state(self, r: Return) -> str:
        return self._states.get((r.outcome.form_id, r.key), "")

    def decision(self, r: Return) -> Decision | None:
        return self.decisions.get((r.outcome.form_id, r.key))

    def of(self, department: str) -> list[FormLine]:
        return self._of.get(department, [])


def build_tables(latest: list[Return], superseded: list[Return], unread: list[Unread], departments: list[Expected],
                 unit: str, review: Review | None = None) -> list[Table]:
    review = review or Review()
    tables = [
        _summary(latest, unit, review),
        _by_department(departments, unit, review),
        _indicators(latest, unit, review),
        _costs(latest, unit),
        _problems(latest),
        _changes(latest),
        _unread(unread),
        _superseded(superseded),
        review_table(latest, review),
    ]
    tables[4:4] = _added_tables(latest, unit, tables)  # after the other detail sheets
    if any(r.outcome.carried_from for r in latest):  # only a round carried over from last year has one
        tables.insert(4, _last_year(latest, unit))
    return tables


# ---- what templates add: columns typed by their kind ------------------------------------

# The report's column kind for each form Kind; any other kind is text (choices, codes as 编码-名称, ticks as ✓).
_COLUMN_KIND = {Kind.MONEY: "money", Kind.INTEGER: "int", Kind.YEAR: "int", Kind.NUMBER: "number", Kind.DATE: "date"}


def _added_heads(columns: list[Column], unit: str, added: Iterable[Any] = ()) -> Heads:
    """Heads for what the returns' templates add (`added`: each return's list) to a table that has these
    columns (money headed with the report's unit)."""
    heads = Heads({c.header for c in columns}, {c.key for c in columns},
                  lambda a: f"{a.header}（{unit}）" if a.kind == Kind.MONEY else a.header)
    for part in added:
        heads.add(part)
    return heads


def _added_columns(heads: Heads, beside: str) -> list[Column]:
    """The added columns, on the sheet one after the other right after the column `beside` ("": where they
    are), printed (they are part of the form), each typed by its kind; money summed like the table's own."""
    out = []
    for a in heads.columns:
        kind = _COLUMN_KIND.get(Kind(a.kind), "text")
        out.append(Column(a.header, a.key, kind, ADDED_COLUMN_WIDTH.get(Kind(a.kind), 14), kind == "money",
                          beside=beside))
        beside = a.key if beside else ""
    return out


def _values(heads: Heads, parts: Sequence[Added], texts: Sequence[str], money_unit: str, unit: str) -> list[Any]:
    """A row's values (stored as text, export.plain_text) in the added columns, typed for the report: amounts
    in the report's unit. Nothing at all when no template adds anything (the usual report: kept cheap)."""
    if not heads.columns:
        return []
    out: list[Any] = []
    for a, text in zip(parts, texts, strict=True):
        kind = _COLUMN_KIND.get(Kind(a.kind), "text")
        if kind == "money":
            out.append(_money(text, money_unit, unit))
        elif kind in ("int", "number"):
            number = _number(text)
            out.append(int(number) if kind == "int" and number is not None and number.is_integer() else number)
        elif kind == "date":
            out.append(_date(text))
        else:
            out.append(text)
    return heads.row(parts, out)


def _summary(latest: list[Return], unit: str, review: Review) -> Table:
    columns = [
        Column("部门", "department", width=18, identifies=True), Column("部门编码", "code", width=10, printed=False),
        Column(FIELD_HEADINGS["name"], "project", width=32, identifies=True),
        Column(FIELD_HEADINGS["category"], "category", width=12),
        Column(FIELD_HEADINGS["start_date"], "start", "date", 11, printed=False),
        Column(FIELD_HEADINGS["end_date"], "end", "date", 11, printed=False),
        *_money_columns(unit),
        Column("指标数", "indicators", "int", 8, True, printed=False), Column("错误", "errors", "int", 6, True),
        Column("提示", "warnings", "int", 6, True), Column("状态", "status", width=9),
        Column("文件", "file", width=44, technical=True),
        Column("收到时间", "received", "datetime", 17, printed=False),
        Column("表单编号", "form_id", width=38, technical=True), Column("模板", "template", width=18, technical=True),
        Column("备注", "note", width=36),
        Column(REVIEW_STATE, "review_state", width=14, beside="status"),
    ]
    heads = _added_heads(columns, unit, (r.outcome.added_fields for r in latest))
    columns += _added_columns(heads, "category")
    rows = []
    for r in latest:
        o = r.outcome
        notes = []
        if (o.money_unit or "元") != unit:
            notes.append(f"原表金额单位为{o.money_unit}，已换算为{unit}")
        if r.replaced:
            notes.append(f"替代了 {len(r.replaced)} 份早先提交的版本")
        rows.append([
            r.department, o.code, o.project, o.category, _date(o.start), _date(o.end),
            *[_money(m, o.money_unit, unit) for m in o.money],
            len(o.indicators), o.errors, o.warnings, o.status, r.name, r.received, o.form_id,
            f"{o.template} 版本 {o.version}", "；".join(notes), review.state(r),
            *_values(heads, o.added_fields, o.extra, o.money_unit, unit),
        ])
    return Table("汇总", "returns", columns, rows, totals=True, status_col=columns.index(_col(columns, "status")))


def _col(columns: list[Column], key: str) -> Column:
    return next(c for c in columns if c.key == key)


def _by_department(departments: list[Expected], unit: str, review: Review) -> Table:
    has_list = any(e.listed for e in departments)
    columns = [
        Column("部门", "department", width=20, identifies=True), Column("部门编码", "code", width=10),
        Column("联系人", "contact", width=10), Column("联系电话", "phone", width=14),
        Column("应交份数", "expected", "int", 9, True), Column("已交份数", "returned", "int", 9, True),
        Column(Status.PASS, "passed", "int", 7, True), Column(Status.FIX, "to_fix", "int", 7, True),
        *(Column(f"{FIELD_HEADINGS[k]}（{unit}）", k, "money", 16, True) for k in _DEPARTMENT_MONEY),
        Column("状态", "status", width=16),
        Column("无法读取", "unreadable", "int", 9, True, beside="returned"),  # its files listed in 未读取文件
        Column(REVIEW_STATE, "review_state", width=28),  # its forms by FormState: "通过 2；已退回 1"
    ]
    rows = []
    for e in departments:
        u = e.department
        returned = len(e.returns)
        # Unreadable and missing forms as review/round.form_lines finds them (the same in status and remind): an
        # unreadable file stands for a form not read otherwise, a form used for two projects is still one form.
        lines = review.of(u.name)
        unreadable = sum(line.state is FormState.UNREADABLE for line in lines)
        missing = sum(line.state is FormState.MISSING for line in lines)
        fix = sum(r.outcome.status == Status.FIX for r in e.returns)
        if returned == 0:  # a file came but could not be read: it did send something
            status: str = FormState.UNREADABLE if e.unread else Status.MISSING
        else:
            parts = ([Status.NOT_LISTED] if has_list and not e.listed else []) + ([Status.FIX] if fix else []) \
                + ([f"{FormState.UNREADABLE} {unreadable} 份"] if unreadable else []) \
                + ([f"{Status.SHORT} {missing} 份"] if missing else [])
            status = "；".join(parts) or Status.ALL_PASSED
        totals = [sum(_money(r.outcome.money[i], r.outcome.money_unit, unit) or 0.0 for r in e.returns) if e.returns
                  else None for i in map(MONEY_KEYS.index, _DEPARTMENT_MONEY)]
        rows.append([u.name, u.code, u.contact, u.phone, e.count, returned,
                     sum(r.outcome.status == Status.PASS for r in e.returns), fix, *totals, status, len(e.unread),
                     counts_text(lines)])
    return Table("按部门", "departments", columns, rows, totals=True, status_col=columns.index(_col(columns, "status")))


def _indicators(latest: list[Return], unit: str, review: Review) -> Table:
    columns = [
        *_WHOSE, Column("一级目标", "level1", width=12), Column("二级目标", "level2", width=12),
        Column("三级目标", "name", width=28), Column("库内/自定义", "library", width=8),
        Column("目标值", "target", width=12), Column("参考值（指标库）", "reference", width=10),
        Column("符号", "operator", width=6), Column("数值", "number", "number", 10), Column("单位", "unit", width=8),
        Column("备注", "note", width=20), Column("指标值类型", "value_type", width=10),
        Column("指标值设定依据", "value_basis", width=14), *_WHERE,
        Column(INDICATOR_OPINION, "review_opinion", "input", 30), *_VERSION,
    ]
    heads = _added_heads(columns, unit, (r.outcome.indicator_columns for r in latest))
    columns += _added_columns(heads, "value_basis")
    rows = []
    for r in latest:
        o = r.outcome
        decided = review.decision(r)
        opinions = dict(decided.indicator_opinions) if decided is not None else {}
        for i in o.indicators:
            row = [r.department, o.project, i.level1, i.level2, i.name, i.library, i.target, i.reference, i.operator,
                   _number(i.number), i.unit, i.note, i.value_type, i.value_basis, r.name, i.row,
                   opinions.get(i.row, ""), o.form_id, r.key]
            if heads.columns:  # a column a template adds (most reports have none: 80,000 rows at 10,000 returns)
                row += _values(heads, o.indicator_columns, i.extra, o.money_unit, unit)
            rows.append(row)
    return Table("指标明细", "indicators", columns, rows)


def _last_year(latest: list[Return], unit: str) -> Table:
    """上年对比: each carried-over return, this year against last (from the form itself: last year's budget in its
    _meta, each row's 上年目标值 in its locked column), so no last year's store is needed. The budget on the
    return's first row, then one row per indicator."""
    columns = [
        *_WHOSE, Column(f"上年当年预算（{unit}）", "last_budget", "money", 15, True),
        Column(f"本年当年预算（{unit}）", "current_year", "money", 15, True),
        Column(f"预算增减（{unit}）", "budget_change", "money", 15, True),
        Column("一级目标", "level1", width=12), Column("三级目标", "name", width=28),
        Column("上年目标值", "last_target", width=14), Column("本年目标值", "target", width=14),
        Column("变化", "change", width=10), *_WHERE, Column("上年表单编号", "carried_from", width=38, technical=True),
    ]
    at = MONEY_KEYS.index("current_year")
    rows: list[list[Any]] = []
    for r in latest:
        o = r.outcome
        if not o.carried_from:
            continue
        last = _money(o.last_budget, o.last_money_unit, unit)
        now = _money(o.money[at], o.money_unit, unit) if at < len(o.money) else None
        budget = [last, now, now - last if now is not None and last is not None else None]
        for n, i in enumerate(o.indicators or [None]):
            money = budget if n == 0 else [None, None, None]
            if i is None:
                rows.append([r.department, o.project, *money, "", "", "", "", "", r.name, None, o.carried_from])
                continue
            target = Target(i.target, i.operator, _decimal(i.number), i.unit)
            change = target_change(Indicator(level2=i.level2, name=i.name, target=target, last_target=i.last_target))
            rows.append([r.department, o.project, *money, i.level1, i.name, i.last_target, i.target, change,
                         r.name, i.row, o.carried_from])
    return Table("上年对比", "last_year", columns, rows, totals=True)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _costs(latest: list[Return], unit: str) -> Table:
    columns = [
        *_WHOSE, Column("构成项目", "item", width=20), Column("项目内容", "content", width=20),
        Column("项目明细", "detail", width=20), Column(f"明细金额（{unit}）", "amount", "money", 15, True),
        Column(f"单价（{unit}）", "unit_price", "money", 15), Column("单价依据", "price_basis", width=14),
        Column("数量", "quantity", "number", 8), Column("数量依据", "quantity_basis", width=14),
        Column("备注", "note", width=16), *_WHERE,
    ]
    heads = _added_heads(columns, unit, (r.outcome.cost_columns for r in latest))
    columns += _added_columns(heads, "note")
    rows = []
    for r in latest:
        o = r.outcome
        mu = o.money_unit
        for c in o.costs:
            row = [r.department, o.project, c.project, c.content, c.detail, _money(c.amount, mu, unit),
                   _money(c.unit_price, mu, unit), c.price_basis, _number(c.quantity), c.quantity_basis, c.note,
                   r.name, c.row]
            if heads.columns:  # as in _indicators
                row += _values(heads, o.cost_columns, c.extra, mu, unit)
            rows.append(row)
    return Table("构成明细", "costs", columns, rows)


# ---- the reviewer's sheet: decisions typed in, read back by `xlform review` ---------------------

REVIEW_SHEET = "审核"
REVIEW_STATE = "审核状态"
INDICATOR_OPINION = "指标审核意见"
# The headers `xlform review` finds its columns by (never by position: a reviewer may move them).
VERDICT, GRADE, OPINION, FORM_ID, VERSION = "审核结论", "评级", "审核意见", "表单编号", "版本"
# Which version a row is (hidden): a decision on a version since superseded is told apart from one on the latest.
_VERSION = (Column(FORM_ID, "form_id", width=38, technical=True),
            Column(VERSION, "item_key", width=20, technical=True, hidden=True))


def review_table(latest: list[Return], review: Review) -> Table:
    """审核: one row per latest return, its decision cells filled with the decision holding for that version."""
    columns = [
        Column("部门", "department", width=18, identifies=True), Column("项目名称", "project", width=28, identifies=True),
        Column(REVIEW_STATE, "review_state", width=16), Column("错误数", "errors", "int", 7),
        Column("提示数", "warnings", "int", 7),
        Column(VERDICT, "verdict", "input", 12, choices=tuple(Verdict)),
        *([Column(GRADE, "grade", "input", 8, choices=GRADES)] if review.grading else []),
        Column(OPINION, "opinion", "input", 48), Column("审核人", "reviewer", width=10),
        Column("审核时间", "decided_at", width=19), *_VERSION,
    ]
    rows = []
    for r in latest:
        o = r.outcome
        d = review.decision(r)
        rows.append([r.department, o.project, review.state(r), o.errors, o.warnings,
                     d.verdict if d is not None else "", *([d.grade if d is not None else ""] if review.grading else []),
                     d.opinion if d is not None else "", d.reviewer if d is not None else "",
                     d.decided_at.replace("T", " ") if d is not None else "", o.form_id, r.key])
    return Table(REVIEW_SHEET, "review", columns, rows, protected=True)


SHEET_NAME_MAX = 31  # characters Excel allows in a sheet name
_NOT_IN_SHEET_NAME = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _added_tables(latest: list[Return], unit: str, tables: list[Table]) -> list[Table]:
    """A detail sheet for each table the returns' templates add, named by its label (one sheet per label,
    whichever templates have it), with the identifying columns of the other detail sheets."""
    by_label: dict[str, tuple[str, Heads]] = {}
    for r in latest:
        for t in r.outcome.tables:
            if t.label not in by_label:
                by_label[t.label] = (t.key, _added_heads([*_WHOSE, *_WHERE], unit))
            by_label[t.label][1].add(t.columns)
    sheets, keys = {t.sheet for t in tables}, {t.key for t in tables} | _REPORT_JSON_KEYS
    out = []
    for label, (key, heads) in by_label.items():
        rows = []
        for r in latest:
            o = r.outcome
            for t in o.tables:
                if t.label == label:
                    rows += [[r.department, o.project,
                              *_values(heads, t.columns, row[:-1], o.money_unit, unit), r.name, row[-1]]
                             for row in t.rows]
        columns = [*_WHOSE, *_added_columns(heads, ""), *_WHERE]
        out.append(Table(_sheet_name(label, sheets), unique(key, keys, "_"), columns, rows))
    return out


_REPORT_JSON_KEYS = {"money_unit", "summary"}  # files.write_json's own keys beside the tables'


def _sheet_name(label: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (≤31 characters, none of []:*?/\\) that no other sheet of the report has."""
    name = label.translate(_NOT_IN_SHEET_NAME).strip("'") or "新增行表"
    out, n = name[:SHEET_NAME_MAX], 2
    while out in taken:
        suffix = f"（{n}）"
        out, n = name[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(out)
    return out


def _problems(latest: list[Return]) -> Table:
    columns = [
        Column("部门", "department", width=18, identifies=True), Column("项目名称", "project", width=28, identifies=True),
        Column("文件", "file", width=40, technical=True), Column("级别", "severity", width=6),
        Column("规则", "rule", width=26), Column("位置", "where", width=18), Column("内容", "field", width=16),
        Column("现值", "value", width=20), Column("说明", "message", width=70),
        Column("规则名称", "rule_title", width=24, beside="rule"),  # the id is for scripts; departments read this
    ]
    rows = []
    for r in latest:
        for f in r.outcome.findings:
            where = f"{f.sheet}!{f.cell}" if f.cell else f.sheet
            rows.append([r.department, r.outcome.project, r.name, SEVERITY_LABEL.get(f.severity, f.severity), f.rule,
                         where, f.field, f.value, f.message, RULE_TITLES.get(f.rule, "")])
    return Table("问题清单", "findings", columns, rows)


def _unread(unread: list[Unread]) -> Table:
    columns = [Column("文件", "file", width=50, identifies=True), Column("原因", "reason", width=80),
               Column("收到时间", "received", "datetime", 17),
               Column("原因类别", "code_title", width=16, beside="reason"),  # what a reviewer sorts by
               Column("原因代码", "code", width=26, technical=True),  # stable, for scripts (README: 无法读取的原因)
               Column("部门", "department", width=16),  # whose, by its name, folder or the manifest
               Column("表单编号", "form_id", width=38, technical=True)]
    rows = [[u.name, u.reason, u.received, title_of(u.code), u.code, u.department, u.form_id] for u in unread]
    return Table("未读取文件", "unreadable", columns, rows)


def _changes(latest: list[Return]) -> Table:
    """修改情况: for each resubmission, what changed against the version it supersedes and whether each
    finding of that version was fixed."""
    columns = [
        Column("部门", "department", width=18, identifies=True), Column("项目名称", "project", width=28, identifies=True),
        Column("类别", "kind", width=9), Column("表/字段", "where", width=18), Column("行", "row", "int", 6),
        Column("原内容", "old", width=40), Column("现内容", "new", width=40),
        Column("原问题", "finding", width=30), Column("是否已改正", "fixed", width=9),
        Column("文件", "file", width=40, technical=True), Column("原版本文件", "previous", width=40, technical=True),
        Column("表单编号", "form_id", width=38, technical=True),
    ]
    rows = []
    for r in latest:
        previous = r.replaced[-1].name if r.replaced else ""
        for c in r.changes:
            rows.append([r.department, r.outcome.project, c.kind, c.where, c.row, c.old, c.new, c.finding, c.fixed,
                         r.name, previous, r.outcome.form_id])
    return Table("修改情况", "changes", columns, rows)


def _superseded(superseded: list[Return]) -> Table:
    columns = [
        Column("部门", "department", width=18, identifies=True), Column("项目名称", "project", width=28, identifies=True),
        Column("文件", "file", width=44, technical=True), Column("收到时间", "received", "datetime", 17),
        Column("状态", "status", width=9), Column("表单编号", "form_id", width=38, technical=True),
        Column("被替代为", "superseded_by", width=44, technical=True), Column("说明", "note", width=40),
    ]
    rows = []
    for r in superseded:
        newest = r.superseded_by
        note = ""
        if newest is not None and newest.key.split("|")[0] == r.key.split("|")[0]:
            note = "与新版本内容相同（重复提交）"
        elif newest is not None and newest.replaced[-1] is r and any(c.kind == ChangeKind.UNCHANGED
                                                                      for c in newest.changes):
            note = "新版本与这一版内容相同（重新保存，未作修改）"
        rows.append([r.department, r.outcome.project, r.name, r.received, r.outcome.status, r.outcome.form_id,
                     newest.name if newest else "", note])
    return Table("被替代版本", "superseded", columns, rows)
