"""The summary report: every return collected, checked and laid out for the bureau, in one run.

`make_report` walks the inboxes, collects what is new (in parallel processes;
with a store, unchanged files are skipped), keeps the latest return of each
form, matches returns to the roster or manifest, and writes the tables:
汇总, 按部门 (+ chart), 指标明细, 构成明细, 问题清单, 未读取文件, 被替代版本 —
as an xlsx workbook (xlsxwriter, constant memory, user text only through
write_string), as CSV files or as one JSON document. Nothing is dropped: every
input file is a row of 汇总, 被替代版本 or 未读取文件.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook

from .collect import (
    STATUS_IGNORED,
    Collected,
    DiskFile,
    FileOutcome,
    Outcome,
    collect_files,
    file_hash,
    is_junk,
    walk,
)
from .distribute import read_manifest
from .errors import UserError
from .export import csv_safe
from .fileio import atomic_path
from .findings import SEVERITY_LABEL
from .review import STATUS_FIX, STATUS_PASS
from .roster import Department, read_roster
from .store import Store

FORMATS = ("xlsx", "csv", "json")
NO_UNIT = "（未填填报单位）"
TO_YUAN = {"元": Decimal(1), "万元": Decimal(10000)}


# ---- what the report is about ------------------------------------------------------


@dataclass
class Expected:
    """A department returns are expected from (a roster row, or the manifest's rows for it)."""

    name: str
    code: str = ""
    contact: str = ""
    phone: str = ""
    count: int | None = None  # forms expected; None when nobody said (no roster, no manifest)
    listed: bool = True  # False: not on the roster/manifest, known only from its returns
    form_ids: set[str] = field(default_factory=set)  # issued to it (manifest only)
    returns: list[Return] = field(default_factory=list)


@dataclass
class Return:
    """One readable item as the report lists it."""

    name: str
    received: datetime
    key: str
    outcome: Outcome
    department: str = ""  # as matched to the roster, else as read
    replaced: list[Return] = field(default_factory=list)  # earlier versions this one supersedes
    superseded_by: Return | None = None


@dataclass
class Unread:
    name: str
    received: datetime
    reason: str
    ignored: bool


@dataclass
class ReportResult:
    outputs: list[Path]
    files: int = 0  # every input file, zip members counted one by one
    returns: int = 0  # latest version of each form, readable
    with_errors: int = 0
    unreadable: int = 0
    ignored: int = 0
    superseded: int = 0
    departments_missing: int = 0
    forms_missing: int = 0
    skipped: int = 0  # files on disk not read again (unchanged since the store saw them)
    reused_report: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if (self.with_errors or self.unreadable or self.forms_missing) else 0

    def closing_line(self) -> str:
        line = (f"共 {self.files} 个文件：读取申报表 {self.returns} 份，其中需修改 {self.with_errors} 份；"
                f"无法读取 {self.unreadable} 个；未提交部门 {self.departments_missing} 个")
        if self.forms_missing > self.departments_missing:
            line += f"（共缺 {self.forms_missing} 份）"
        extra = []
        if self.superseded:
            extra.append(f"{self.superseded} 份旧版本已被重新提交的版本替代")
        if self.ignored:
            extra.append(f"已忽略临时文件 {self.ignored} 个")
        if self.skipped:
            extra.append(f"{self.skipped} 个文件未变，沿用上次结果")
        return line + "。" + ("；".join(extra) + "。" if extra else "")


# ---- the run ------------------------------------------------------------------------


def make_report(
    inboxes: list[Path],
    output: Path,
    *,
    roster: Path | None = None,
    manifest: Path | None = None,
    db: Path | None = None,
    jobs: int | None = None,
    fmt: str = "xlsx",
    templates: list[str] | None = None,
    progress: bool | None = None,
    parallel_from: int = 64,
) -> ReportResult:
    """Collect, check and report. Raises UserError for a usage mistake; a bad return never raises."""
    started = time.perf_counter()
    if fmt not in FORMATS:
        raise UserError(f"报告格式应为 {'、'.join(FORMATS)} 之一。")
    if roster and manifest:
        raise UserError("--roster 和 --manifest 只能选一个：名单说明应交哪些部门，下发清单说明发出了哪些表。")
    output = _output_path(Path(output), fmt)
    inboxes = [Path(p) for p in inboxes]
    if not inboxes:
        raise UserError("请指定至少一个收件文件夹。")
    for path, what in ((output, "报告"), (db, "收件记录库")):
        if path is not None:
            _not_inside_inbox(Path(path), inboxes, what)
    expected = _expected(roster, manifest)
    disks = walk(inboxes)
    now = datetime.now().isoformat(timespec="seconds")
    store = Store(Path(db), templates or []) if db else None
    try:
        collected, stored, fresh = _collect(disks, store, jobs or os.cpu_count() or 1, templates or [], progress, now,
                                            parallel_from)
        signature = _signature(disks, collected, expected, fmt, store.checker) if store is not None else ""
        result = _unchanged_report(store, output, signature) if store is not None else None
        if result is None:
            if store is not None:  # results of unchanged files are loaded only when the report is rewritten
                outcomes = store.results(c.key for items in stored.values() for c in items)
                for items in stored.values():
                    for c in items:
                        c.outcome = outcomes[c.key]
            returns, unread = _sort_out(disks, collected)
            if store is not None:
                store.record_returns([(c, r.name, r.received.isoformat()) for r, c, path in returns if path in fresh],
                                     now)
            result = _assemble([r for r, _, _ in returns], unread, expected, output, fmt)
            if store is not None:
                _remember_report(store, signature, result)
        result.skipped = len(stored)
    except sqlite3.Error as exc:  # locked by another run for 30 s, disk full, …: the store stays as it was
        raise UserError(f"收件记录库 {db} 读写失败（{exc}）；请稍后重试，或确认没有另一个汇总正在运行。") from None
    finally:
        if store is not None:
            store.close()
    result.seconds = time.perf_counter() - started
    return result


def _output_path(output: Path, fmt: str) -> Path:
    if fmt != "xlsx" and output.suffix.lower() in (".xlsx", ""):
        return output.with_suffix(f".{fmt}")
    if fmt == "xlsx" and output.suffix.lower() != ".xlsx":
        raise UserError(f"报告文件 {output} 应以 .xlsx 结尾（或用 --format csv / json）。")
    return output


def _not_inside_inbox(path: Path, inboxes: list[Path], what: str) -> None:
    target = path.resolve()
    for inbox in inboxes:
        if inbox.is_dir() and target.is_relative_to(inbox.resolve()):
            raise UserError(f"{what} {path} 不能放在收件文件夹 {inbox} 里：收件文件夹只读不写，"
                            "否则下次汇总会把它当成交来的文件。请换一个位置。")


def _expected(roster: Path | None, manifest: Path | None) -> list[Expected]:
    if roster:
        return [_from_department(d) for d in read_roster(roster)]
    if manifest:
        by_name: dict[str, Expected] = {}
        for item in read_manifest(manifest):
            e = by_name.setdefault(item.department, Expected(item.department, item.code, item.contact, item.phone, 0))
            e.count = (e.count or 0) + 1
            e.form_ids.add(item.form_id)
        return list(by_name.values())
    return []


def _from_department(d: Department) -> Expected:
    return Expected(d.name, d.code, d.contact, d.phone, d.projects)


@contextmanager
def _progress_bar(total: int, enabled: bool | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr, shown only on a terminal (never in logs or tests)."""
    from rich.console import Console

    console = Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled or total == 0:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # Started at the first batch, not before: worker processes are forked while no other thread runs.
    bar = Progress(TextColumn("读取申报表"), BarColumn(), MofNCompleteColumn(), TextColumn("剩余"),
                   TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task("read", total=total)

    def advance(n: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.advance(task, n)

    try:
        yield advance
    finally:
        bar.stop()


def _collect(disks: list[DiskFile], store: Store | None, jobs: int, templates: list[str], progress: bool | None,
             now: str, parallel_from: int) -> tuple[dict[str, list[Collected]], dict[str, list[Collected]], set[str]]:
    """path → its items with results. With a store, files it knows come back as items whose outcome is
    still None (the second dict), so an unchanged inbox costs a stat per file and a few queries; the set
    holds the paths that are new to the store (read now, or known content under a new name or time)."""
    out: dict[str, list[Collected]] = {}
    stored: dict[str, list[Collected]] = {}
    todo: list[DiskFile] = []
    reuse: dict[str, str] = {}  # path → sha256 of content the store knows
    fresh: set[str] = set()
    if store is None:
        todo = disks
    else:
        known, contents = store.known_files(), store.contents()
        touched = []
        for d in disks:
            k = known.get(d.path)
            if is_junk(d.name):
                todo.append(d)
            elif k and k.size == d.size and k.mtime_ns == d.mtime_ns and k.sha256 in contents:
                reuse[d.path] = k.sha256
            else:
                try:
                    sha = file_hash(d.path)
                except OSError:
                    todo.append(d)
                    continue
                if sha in contents:  # same bytes seen before under another name or time
                    reuse[d.path] = sha
                    touched.append((d.path, d.size, d.mtime_ns, sha))
                    fresh.add(d.path)
                else:
                    todo.append(d)
        store.touch(touched, now)
        for path, sha in reuse.items():
            out[path] = stored[path] = [Collected(member, key, None) for member, key in contents[sha]]  # type: ignore[arg-type]

    with _progress_bar(len(todo), progress) as advance:
        def done(batch: list[FileOutcome]) -> None:
            if store is not None:
                store.save(batch, now)
            for fo in batch:
                out[fo.disk.path] = fo.items
                fresh.add(fo.disk.path)
            advance(len(batch))

        collect_files(todo, jobs=jobs, templates=templates, on_done=done, parallel_from=parallel_from)
    return out, stored, fresh


def _sort_out(disks: list[DiskFile], collected: dict[str, list[Collected]]
              ) -> tuple[list[tuple[Return, Collected, str]], list[Unread]]:
    returns: list[tuple[Return, Collected, str]] = []
    unread: list[Unread] = []
    for d in disks:
        received = datetime.fromtimestamp(d.mtime_ns / 1e9).replace(microsecond=0)
        for c in collected.get(d.path, []):
            name = f"{d.name}/{c.member}" if c.member else d.name
            if c.outcome.readable:
                returns.append((Return(name, received, c.key, c.outcome), c, d.path))
            else:
                unread.append(Unread(name, received, c.outcome.error, c.outcome.status == STATUS_IGNORED))
    return returns, unread


def _form_key(r: Return) -> str:
    """Which returns are versions of one form. An issued workbook is one form wherever it goes; a blank
    one (`xlform new`, copied to many departments) shares its form id, so the department tells them apart."""
    o = r.outcome
    if not o.form_id:
        return f"file:{r.name}"
    return o.form_id if o.issued_to else f"{o.form_id}|{o.department}"


def _latest(returns: list[Return]) -> tuple[list[Return], list[Return]]:
    """The latest return of each form (by received time, then name), and the ones it supersedes."""
    forms: dict[str, list[Return]] = defaultdict(list)
    for r in returns:
        forms[_form_key(r)].append(r)
    latest, superseded = [], []
    for versions in forms.values():
        versions.sort(key=lambda r: (r.received, r.name))
        newest = versions[-1]
        newest.replaced = versions[:-1]
        for old in versions[:-1]:
            old.superseded_by = newest
        latest.append(newest)
        superseded.extend(versions[:-1])
    return latest, superseded


def _assemble(all_returns: list[Return], unread: list[Unread], expected: list[Expected], output: Path, fmt: str
              ) -> ReportResult:
    latest, superseded = _latest(all_returns)
    departments = _match(latest, expected)
    unit = _report_unit(latest)
    order = {e.name: i for i, e in enumerate(departments)}
    latest.sort(key=lambda r: (order.get(r.department, len(order)), r.department, r.outcome.project, r.received, r.name))
    superseded.sort(key=lambda r: (order.get(r.department, len(order)), r.department, r.name))
    unread.sort(key=lambda u: (u.ignored, u.name))
    listed = [e for e in departments if e.listed]
    result = ReportResult(outputs=[])
    result.files = len(all_returns) + len(unread)
    result.returns = len(latest)
    result.with_errors = sum(r.outcome.status == STATUS_FIX for r in latest)
    result.unreadable = sum(not u.ignored for u in unread)
    result.ignored = sum(u.ignored for u in unread)
    result.superseded = len(superseded)
    result.departments_missing = sum(not e.returns for e in listed)
    result.forms_missing = sum(max(0, (e.count or 0) - len(e.returns)) for e in listed)
    tables = build_tables(latest, superseded, unread, departments, unit)
    result.outputs = write_tables(tables, output, fmt, unit, result)
    return result


def _match(latest: list[Return], expected: list[Expected]) -> list[Expected]:
    """Attach each return to its department: by form id (manifest), name, then code. Others join at the end."""
    by_form = {form_id: e for e in expected for form_id in e.form_ids}
    by_name = {e.name: e for e in expected}
    by_code = {e.code: e for e in expected if e.code}
    extra: dict[str, Expected] = {}
    for r in latest:
        o = r.outcome
        e = by_form.get(o.form_id) or by_name.get(o.department) or (by_code.get(o.code) if o.code else None)
        if e is None:
            name = o.department or NO_UNIT
            e = extra.setdefault(name, Expected(name, o.code, listed=False))
        r.department = e.name
        for old in r.replaced:
            old.department = e.name
        e.returns.append(r)
    return [*expected, *sorted(extra.values(), key=lambda e: e.name)]


def _report_unit(latest: list[Return]) -> str:
    """One money unit for the whole report: the returns' own, or 万元 when templates differ."""
    units = {r.outcome.money_unit or "元" for r in latest}
    return units.pop() if len(units) == 1 else ("万元" if units else "元")


def _money(text: str, unit: str, to: str) -> float | None:
    if not text:
        return None
    try:
        value = Decimal(text) * TO_YUAN.get(unit or "元", Decimal(1)) / TO_YUAN[to]
    except (InvalidOperation, KeyError):
        return None
    return float(value)


def _number(text: str) -> float | None:
    try:
        return float(Decimal(text)) if text else None
    except InvalidOperation:
        return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


# ---- tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # JSON key
    kind: str = "text"  # text | money | int | number | date | datetime
    width: int = 12
    total: bool = False  # summed in the totals row


@dataclass
class Table:
    sheet: str
    key: str
    columns: list[Column]
    rows: list[list[Any]]
    totals: bool = False
    status_col: int | None = None  # coloured 通过 / 需修改 / 未提交


def _money_columns(unit: str) -> list[Column]:
    names = ("项目总预算", "当年预算", "财政拨款", "上级财政拨款", "本级财政安排", "下级财政配套", "其他资金")
    keys = ("total", "current_year", "fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate", "other")
    return [Column(f"{n}（{unit}）", k, "money", 15, True) for n, k in zip(names, keys, strict=True)]


def build_tables(latest: list[Return], superseded: list[Return], unread: list[Unread], departments: list[Expected],
                 unit: str) -> list[Table]:
    return [
        _summary(latest, unit),
        _by_department(departments, unit),
        _indicators(latest),
        _costs(latest, unit),
        _problems(latest),
        _unread(unread),
        _superseded(superseded),
    ]


def _summary(latest: list[Return], unit: str) -> Table:
    columns = [
        Column("部门", "department", width=18), Column("部门编码", "code", width=10),
        Column("项目名称", "project", width=32), Column("项目类别", "category", width=12),
        Column("起始日期", "start", "date", 11), Column("结束日期", "end", "date", 11),
        *_money_columns(unit),
        Column("指标数", "indicators", "int", 8, True), Column("错误", "errors", "int", 6, True),
        Column("提示", "warnings", "int", 6, True), Column("状态", "status", width=9),
        Column("文件", "file", width=44), Column("收到时间", "received", "datetime", 17),
        Column("表单编号", "form_id", width=38), Column("模板", "template", width=18), Column("备注", "note", width=36),
    ]
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
            f"{o.template} 版本 {o.version}", "；".join(notes),
        ])
    return Table("汇总", "returns", columns, rows, totals=True, status_col=columns.index(_col(columns, "status")))


def _col(columns: list[Column], key: str) -> Column:
    return next(c for c in columns if c.key == key)


def _by_department(departments: list[Expected], unit: str) -> Table:
    has_list = any(e.listed for e in departments)
    columns = [
        Column("部门", "department", width=20), Column("部门编码", "code", width=10),
        Column("联系人", "contact", width=10), Column("联系电话", "phone", width=14),
        Column("应交份数", "expected", "int", 9, True), Column("已交份数", "returned", "int", 9, True),
        Column("通过", "passed", "int", 7, True), Column("需修改", "to_fix", "int", 7, True),
        Column(f"项目总预算（{unit}）", "total", "money", 16, True),
        Column(f"当年预算（{unit}）", "current_year", "money", 16, True),
        Column("状态", "status", width=16),
    ]
    rows = []
    for e in departments:
        returned = len(e.returns)
        fix = sum(r.outcome.status == STATUS_FIX for r in e.returns)
        missing = max(0, (e.count or 0) - returned)
        if returned == 0:
            status = "未提交"
        else:
            parts = (["不在名单中"] if has_list and not e.listed else []) + (["需修改"] if fix else []) \
                + ([f"缺 {missing} 份"] if missing else [])
            status = "；".join(parts) or "已通过"
        totals = [sum(_money(r.outcome.money[i], r.outcome.money_unit, unit) or 0.0 for r in e.returns) if e.returns
                  else None for i in (0, 1)]
        rows.append([e.name, e.code, e.contact, e.phone, e.count, returned,
                     sum(r.outcome.status == STATUS_PASS for r in e.returns), fix, *totals, status])
    return Table("按部门", "departments", columns, rows, totals=True, status_col=len(columns) - 1)


def _indicators(latest: list[Return]) -> Table:
    columns = [
        Column("部门", "department", width=18), Column("项目名称", "project", width=28),
        Column("一级目标", "level1", width=12), Column("二级目标", "level2", width=12),
        Column("三级目标", "name", width=28), Column("目标值", "target", width=12),
        Column("符号", "operator", width=6), Column("数值", "number", "number", 10), Column("单位", "unit", width=8),
        Column("备注", "note", width=20), Column("指标值类型", "value_type", width=10),
        Column("指标值设定依据", "value_basis", width=14), Column("文件", "file", width=40),
        Column("行", "row", "int", 6),
    ]
    rows = []
    for r in latest:
        for level1, level2, name, raw, op, number, unit, note, vtype, basis, row in r.outcome.indicators:
            rows.append([r.department, r.outcome.project, level1, level2, name, raw, op, _number(number), unit, note,
                         vtype, basis, r.name, row])
    return Table("指标明细", "indicators", columns, rows)


def _costs(latest: list[Return], unit: str) -> Table:
    columns = [
        Column("部门", "department", width=18), Column("项目名称", "project", width=28),
        Column("构成项目", "item", width=20), Column("项目内容", "content", width=20),
        Column("项目明细", "detail", width=20), Column(f"明细金额（{unit}）", "amount", "money", 15, True),
        Column(f"单价（{unit}）", "unit_price", "money", 15), Column("单价依据", "price_basis", width=14),
        Column("数量", "quantity", "number", 8), Column("数量依据", "quantity_basis", width=14),
        Column("备注", "note", width=16), Column("文件", "file", width=40), Column("行", "row", "int", 6),
    ]
    rows = []
    for r in latest:
        mu = r.outcome.money_unit
        for item, content, detail, amount, price, pbasis, qty, qbasis, note, row in r.outcome.costs:
            rows.append([r.department, r.outcome.project, item, content, detail, _money(amount, mu, unit),
                         _money(price, mu, unit), pbasis, _number(qty), qbasis, note, r.name, row])
    return Table("构成明细", "costs", columns, rows)


def _problems(latest: list[Return]) -> Table:
    columns = [
        Column("部门", "department", width=18), Column("项目名称", "project", width=28),
        Column("文件", "file", width=40), Column("级别", "severity", width=6), Column("规则", "rule", width=26),
        Column("位置", "where", width=18), Column("内容", "field", width=16), Column("现值", "value", width=20),
        Column("说明", "message", width=70),
    ]
    rows = []
    for r in latest:
        for severity, rule, sheet, cell, fld, value, message in r.outcome.findings:
            where = f"{sheet}!{cell}" if cell else sheet
            rows.append([r.department, r.outcome.project, r.name, SEVERITY_LABEL.get(severity, severity), rule, where,
                         fld, value, message])
    return Table("问题清单", "findings", columns, rows)


def _unread(unread: list[Unread]) -> Table:
    columns = [Column("文件", "file", width=50), Column("原因", "reason", width=80),
               Column("收到时间", "received", "datetime", 17)]
    return Table("未读取文件", "unreadable", columns, [[u.name, u.reason, u.received] for u in unread])


def _superseded(superseded: list[Return]) -> Table:
    columns = [
        Column("部门", "department", width=18), Column("项目名称", "project", width=28),
        Column("文件", "file", width=44), Column("收到时间", "received", "datetime", 17),
        Column("状态", "status", width=9), Column("表单编号", "form_id", width=38),
        Column("被替代为", "superseded_by", width=44), Column("说明", "note", width=40),
    ]
    rows = []
    for r in superseded:
        newest = r.superseded_by
        note = ""
        if newest is not None and newest.key.split("|")[0] == r.key.split("|")[0]:
            note = "与新版本内容相同（重复提交）"
        elif newest is not None and newest.outcome.project != r.outcome.project:
            note = "项目名称与新版本不同：可能是复制同一张表填报了另一个项目，请核实"
        rows.append([r.department, r.outcome.project, r.name, r.received, r.outcome.status, r.outcome.form_id,
                     newest.name if newest else "", note])
    return Table("被替代版本", "superseded", columns, rows)


# ---- writing -------------------------------------------------------------------------


def write_tables(tables: list[Table], output: Path, fmt: str, unit: str, result: ReportResult) -> list[Path]:
    try:
        if fmt == "xlsx":
            write_xlsx(tables, output, unit)
            return [output]
        if fmt == "json":
            write_json(tables, output, unit, result)
            return [output]
        return write_csv(tables, output)
    except PermissionError:
        raise UserError(f"无法写入 {output}：文件可能正在 Excel/WPS 中打开，请关闭后重试。") from None
    except OSError as exc:
        raise UserError(f"无法写入 {output}：{exc.strerror or exc}") from None


def write_xlsx(tables: list[Table], output: Path, unit: str) -> None:
    with atomic_path(output) as tmp:
        wb = Workbook(str(tmp), {
            "constant_memory": True,  # rows go to disk as written: memory stays flat for 10,000 returns
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
        })
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        fmts = {
            "header": wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                     "align": "center"}),
            "text": wb.add_format(base),
            "money": wb.add_format({**base, "num_format": "#,##0.00"}),
            "int": wb.add_format({**base, "num_format": "0"}),
            "number": wb.add_format({**base, "num_format": "General"}),
            "date": wb.add_format({**base, "num_format": "yyyy-mm-dd"}),
            "datetime": wb.add_format({**base, "num_format": "yyyy-mm-dd hh:mm"}),
            "total": wb.add_format({**base, "bold": True, "top": 1, "num_format": "#,##0.00"}),
            "total_int": wb.add_format({**base, "bold": True, "top": 1, "num_format": "0"}),
            "total_text": wb.add_format({**base, "bold": True, "top": 1}),
            "bad": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "good": wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"}),
            "warn": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        }
        for table in tables:
            _write_sheet(wb, table, fmts)
            if table.key == "departments":
                _chart(wb, table, unit)
        wb.close()


def _write_sheet(wb: Workbook, table: Table, fmts: dict[str, Any]) -> None:
    ws = wb.add_worksheet(table.sheet)
    columns = table.columns
    for c, col in enumerate(columns):
        ws.set_column(c, c, col.width)
    ws.set_row(0, 30)
    for c, col in enumerate(columns):
        ws.write_string(0, c, col.header, fmts["header"])
    ws.freeze_panes(1, 0)
    ws.set_paper(9)  # A4, landscape, one page wide, header on every page: 问题清单 gets printed and sent back
    ws.set_landscape()
    if sum(c.width for c in columns) <= 260:  # wider tables would print too small to read: let them span pages
        ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_footer(f"&L{table.sheet}&C第 &P 页，共 &N 页")
    writers = [_cell_writer(ws, col.kind, fmts) for col in columns]
    for r, row in enumerate(table.rows, start=1):
        for c, value in enumerate(row):
            if value is not None and value != "":
                writers[c](r, c, value)
    last = len(table.rows)
    ws.autofilter(0, 0, max(last, 1), len(columns) - 1)
    if table.totals and table.rows:
        _totals(ws, table, last + 1, fmts)
    if table.status_col is not None and table.rows:
        for text, style in (("需修改", "bad"), ("未提交", "bad"), ("通过", "good"), ("已通过", "good"),
                            ("缺", "warn"), ("不在名单中", "warn")):
            ws.conditional_format(1, table.status_col, last, table.status_col,
                                  {"type": "text", "criteria": "begins with", "value": text, "format": fmts[style]})


def _cell_writer(ws: Any, kind: str, fmts: dict[str, Any]) -> Callable[[int, int, Any], Any]:
    if kind == "money":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["money"])
    if kind == "int":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["int"])
    if kind == "number":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["number"])
    if kind == "date":
        return lambda r, c, v: ws.write_datetime(r, c, datetime(v.year, v.month, v.day), fmts["date"])
    if kind == "datetime":
        return lambda r, c, v: ws.write_datetime(r, c, v, fmts["datetime"])
    fmt = fmts["text"]
    return lambda r, c, v: ws.write_string(r, c, str(v), fmt)  # never write(): "=…" must stay text


def _totals(ws: Any, table: Table, row: int, fmts: dict[str, Any]) -> None:
    """合计 with SUBTOTAL(109): it follows the autofilter; the cached value is the full sum."""
    ws.write_string(row, 0, "合计", fmts["total_text"])
    for c, col in enumerate(table.columns):
        if c == 0:
            continue
        if not col.total:
            ws.write_blank(row, c, None, fmts["total_text"])
            continue
        values = [v for v in (r[c] for r in table.rows) if isinstance(v, (int, float))]
        total = round(sum(values), 6)  # 万元 after conversion can carry more than two decimals
        first, last = xl_rowcol_to_cell(1, c), xl_rowcol_to_cell(row - 1, c)
        style = fmts["total"] if col.kind == "money" else fmts["total_int"]
        ws.write_formula(row, c, f"=SUBTOTAL(109,{first}:{last})", style, total)


def _chart(wb: Workbook, table: Table, unit: str) -> None:
    """当年预算 by department, beside the 按部门 table (the totals row left out)."""
    if not table.rows:
        return
    ws = wb.get_worksheet_by_name(table.sheet)
    value_col = next(i for i, c in enumerate(table.columns) if c.key == "current_year")
    n = len(table.rows)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({
        "name": f"当年预算（{unit}）",
        "categories": [table.sheet, 1, 0, n, 0],
        "values": [table.sheet, 1, value_col, n, value_col],
        "data_labels": {"value": True, "num_format": "#,##0"},
    })
    chart.set_title({"name": f"各部门当年预算（{unit}）"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})  # first department at the top, as in the table
    chart.set_x_axis({"num_format": "#,##0"})
    chart.set_size({"width": 640, "height": min(4000, max(300, 24 * n + 80))})
    ws.insert_chart(1, len(table.columns) + 1, chart)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_json(tables: list[Table], output: Path, unit: str, result: ReportResult) -> None:
    doc: dict[str, Any] = {
        "money_unit": unit,
        "summary": {
            "files": result.files, "returns": result.returns, "with_errors": result.with_errors,
            "unreadable": result.unreadable, "ignored": result.ignored, "superseded": result.superseded,
            "departments_missing": result.departments_missing, "forms_missing": result.forms_missing,
        },
    }
    for table in tables:
        doc[table.key] = [{col.key: _plain(v) for col, v in zip(table.columns, row, strict=True)} for row in table.rows]
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def write_csv(tables: list[Table], output: Path) -> list[Path]:
    """汇总 goes to `output`; each other table to `<stem>_<sheet>.csv` beside it (UTF-8 with BOM, for Excel)."""
    paths = []
    for i, table in enumerate(tables):
        path = output if i == 0 else output.with_name(f"{output.stem}_{table.sheet}{output.suffix}")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.header for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_safe(_csv_value(v)) for v in row])
        with atomic_path(path) as tmp:
            tmp.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
        paths.append(path)
    return paths


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.2f}" if value != int(value) else f"{value:.0f}"
    return _plain(value)


# ---- not rewriting an unchanged report -----------------------------------------------


def _signature(disks: list[DiskFile], collected: dict[str, list[Collected]], expected: list[Expected], fmt: str,
               checker: str) -> str:
    """Everything a report is made of: each item's name, content key (which fixes its result under this
    checker) and received time, the roster or manifest, the format."""
    digest = hashlib.sha256(f"{fmt}\0{checker}\n".encode())
    for d in disks:
        for c in collected.get(d.path, []):
            digest.update(f"{d.name}\0{c.member}\0{c.key}\0{d.mtime_ns}\n".encode())
    for e in expected:
        digest.update(repr((e.name, e.code, e.contact, e.phone, e.count, sorted(e.form_ids))).encode())
    return digest.hexdigest()


_COUNTS = ("files", "returns", "with_errors", "unreadable", "ignored", "superseded", "departments_missing",
           "forms_missing")


def _file_states(paths: list[Path]) -> list[list[object]]:
    states: list[list[object]] = []
    for path in paths:
        st = path.stat()
        states.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return states


def _unchanged_report(store: Store, output: Path, signature: str) -> ReportResult | None:
    """The report of an unchanged inbox is the same report: keep it, if nobody touched its files since."""
    saved = store.report_state(str(output.resolve()))
    if not isinstance(saved, dict) or saved.get("signature") != signature:
        return None
    paths = [Path(p) for p, _, _ in saved["files"]]
    try:
        if _file_states(paths) != saved["files"]:
            return None
    except OSError:
        return None
    result = ReportResult(outputs=[output.with_name(p.name) for p in paths], reused_report=True)  # as the user wrote it
    for name in _COUNTS:
        setattr(result, name, saved["counts"][name])
    return result


def _remember_report(store: Store, signature: str, result: ReportResult) -> None:
    state = {"signature": signature, "files": _file_states(result.outputs),
             "counts": {name: getattr(result, name) for name in _COUNTS}}
    store.set_report_state(str(result.outputs[0].resolve()), state)
