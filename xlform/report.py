"""The summary report run: every return collected, checked and laid out for the bureau.

`make_report` walks the inboxes, collects what is new (in parallel processes;
with a store, unchanged files are skipped), keeps the latest return of each
form, matches returns to the roster or manifest, and writes the tables
(built in report_tables.py, written by report_files.py):
汇总, 按部门 (+ chart), 指标明细, 构成明细, 问题清单, 未读取文件, 被替代版本 —
as an xlsx workbook (xlsxwriter, constant memory, user text only through
write_string), as CSV files or as one JSON document. Nothing is dropped: every
input file is a row of 汇总, 被替代版本 or 未读取文件.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from . import collect
from .collect import (
    STATUS_IGNORED,
    Collected,
    DiskFile,
    FileOutcome,
    collect_files,
    file_hash,
    is_junk,
    walk,
)
from .distribute import read_manifest
from .errors import UserError
from .report_files import write_tables
from .report_tables import Expected, ReportResult, Return, Unread, build_tables
from .review import STATUS_FIX
from .roster import Department, read_roster
from .store import Store

FORMATS = ("xlsx", "csv", "json")
NO_UNIT = "（未填填报单位）"


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
    parallel_from: int | None = None,
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
             now: str, parallel_from: int | None) -> tuple[dict[str, list[Collected]], dict[str, list[Collected]], set[str]]:
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
        extra = 0  # rows kept results add beyond one a file: within the run's limit, as what is read now is

        def affordable(sha: str) -> bool:
            nonlocal extra
            if len(disks) + extra + len(contents[sha]) - 1 > collect.MAX_RUN_ITEMS:
                return False  # read again instead, on the run's budget (the rest of a zip listed in one line)
            extra += len(contents[sha]) - 1
            return True

        for d in disks:
            k = known.get(d.path)
            if is_junk(d.name) or d.reason:  # nothing to hash: listed as it is
                todo.append(d)
            elif k and k.size == d.size and k.mtime_ns == d.mtime_ns and k.sha256 in contents and affordable(k.sha256):
                reuse[d.path] = k.sha256
            else:
                try:
                    sha = file_hash(d.path)
                except OSError:
                    todo.append(d)
                    continue
                if sha in contents and affordable(sha):  # same bytes seen before under another name or time
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

        collect_files(todo, jobs=jobs, templates=templates, on_done=done, parallel_from=parallel_from,
                      counted=sum(len(items) for items in stored.values()))  # one run budget, kept results too
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
