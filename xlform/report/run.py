"""The summary report run: every return collected, checked and laid out for the bureau.

`make_report` guards its inputs and outputs, walks the inboxes and, with a store, answers an inbox
listed exactly as the last report saw it with that report (kept, not rewritten); otherwise build.py
builds the report. Nothing is dropped: every input file is a row of 汇总, 被替代版本 or 未读取文件.

This module imports only what answering an unchanged inbox needs (a third of a second less for every
such run): build.py, and what reads rosters and manifests, are imported where they are used.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collect.inbox import DiskFile, file_hash, walk
from ..errors import UserError
from ..fileio import refuse_overwriting_inputs, same_file
from ..review.decisions import Package
from ..review.round import (
    Decisions,
    RoundFacts,
    chases_from_json,
    chases_json,
    form_lines,
    who_must_act,
)
from ..store import Store, distinct, store_error, store_files
from .result import Expected, ReportResult

if TYPE_CHECKING:
    from ..form.template import TemplateRef
    from ..issue.distribute import Issued
    from ..issue.roster import Department

FORMATS = ("xlsx", "csv", "json")


# ---- the run ------------------------------------------------------------------------


def make_report(
    inboxes: list[Path],
    output: Path,
    *,
    roster: Path | None = None,
    manifest: Path | Sequence[Path] | None = None,
    db: Path | None = None,
    jobs: int | None = None,
    fmt: str = "xlsx",
    templates: list[str] | None = None,
    progress: bool | None = None,
    parallel_from: int | None = None,
) -> ReportResult:
    """Collect, check and report. Raises UserError for a usage mistake; a bad return never raises."""
    started = time.perf_counter()
    frozen_before = gc.get_freeze_count()
    if fmt not in FORMATS:
        raise UserError(f"报告格式应为 {'、'.join(FORMATS)} 之一。")
    # Several manifests are one round that grew (a 补发 to new departments): their issued lists merged.
    manifests = [Path(manifest)] if isinstance(manifest, (str, Path)) else [Path(m) for m in manifest or ()]
    if roster and manifests:
        raise UserError("--roster 和 --manifest 只能选一个：名单说明应交哪些部门，下发清单说明发出了哪些表。")
    output = _output_path(Path(output), fmt)
    inboxes = [Path(p) for p in inboxes]
    if not inboxes:
        raise UserError("请指定至少一个收件文件夹。")
    _guard_inputs(output, fmt, inboxes, roster, manifests, db, templates or [])
    if db is not None:
        db = Path(db)
        _not_the_store(output, fmt, db)
    expected, issued = _expected(roster, manifests)
    # The templates to read with: the round's own copies (manifests), then -t; with a store, those it recorded first.
    given: list[TemplateRef] = [*_issued_with(manifests), *(templates or [])]
    disks = walk(inboxes)
    if db is not None:
        disks = _without_store(disks, db)
    now = datetime.now().isoformat(timespec="seconds")
    store = Store(db, given) if db is not None else None
    try:
        saved = store.report_state(str(output.resolve())) if store is not None else None  # the last report here
        if store is not None and fmt == "xlsx":
            _keep_decisions_not_read_back(store, saved, output, db)
        known: list[TemplateRef] = list(store.templates if store is not None else distinct(given))
        decisions = store.latest_decisions() if store is not None else {}
        packages = store.packages() if store is not None else []
        # An inbox listed as the report last written saw it (same files, sizes, times) is that report: the
        # store trusts a known file's size and time as it does when it skips reading one.
        signature = _signature(disks, expected, fmt, store.checker, decisions, packages) if store is not None else ""
        result = _unchanged_report(store, saved, output, signature, decisions, packages) if store is not None else None
        if result is None:
            from .build import ReadWith, build_report  # the reader, the rules and the writer: loaded only now

            read = ReadWith(jobs or os.cpu_count() or 1, known, progress, now, parallel_from)
            built = build_report(disks, store, read, expected, issued, output, fmt, inboxes,
                                 decisions, packages, bool(roster or manifest))
            result = built.result
            if store is not None:  # a file read but not kept, for a reason that may pass: not the same report
                _remember_report(store, "" if built.retry else signature, result, len(built.kept), built.facts,
                                 [p for p in inboxes if p.is_dir()])
    except sqlite3.Error as exc:  # locked by another run too long, disk full, …: the store stays as it was
        if db is None:
            raise
        raise store_error(db, exc) from None
    finally:
        if store is not None:
            store.close()
        if not frozen_before:  # see _keep: the caller's own frozen objects, if any, stay so
            gc.unfreeze()
    result.seconds = time.perf_counter() - started
    return result


def _output_path(output: Path, fmt: str) -> Path:
    if fmt != "xlsx" and output.suffix.lower() in (".xlsx", ""):
        return output.with_suffix(f".{fmt}")
    if fmt == "xlsx" and output.suffix.lower() != ".xlsx":
        raise UserError(f"报告文件 {output} 应以 .xlsx 结尾（或用 --format csv / json）。")
    return output


def _guard_inputs(output: Path, fmt: str, inboxes: list[Path], roster: Path | None, manifests: list[Path],
                  db: Path | None, templates: list[str]) -> None:
    """The report and the store are never written over anything this run reads, nor inside an inbox."""
    inputs: list[tuple[Path, str]] = [(p, "收件文件夹" if p.is_dir() else "收件文件") for p in inboxes]
    if roster:
        inputs.append((Path(roster), "部门名单"))
    if manifests:
        from ..issue.distribute import MANIFEST_NAME

        inputs += [(m / MANIFEST_NAME if m.is_dir() else m, "下发清单") for m in manifests]
    inputs += [(Path(t), "模板") for t in templates if Path(t).suffix.lower() in (".yaml", ".yml") or Path(t).exists()]
    outputs = [(output, "报告")]
    if fmt == "csv":  # 汇总 is `output`; the other tables go beside it as <stem>_<sheet>.csv
        outputs += [(p, "报告") for p, _ in inputs
                    if p.parent.resolve() == output.parent.resolve() and p.name.startswith(f"{output.stem}_")
                    and p.suffix.lower() == ".csv"]
    if db is not None:
        refuse_overwriting_inputs(outputs, [(p, "收件记录库") for p in store_files(Path(db))])
        outputs += [(p, "收件记录库") for p in store_files(Path(db))]  # SQLite writes all of them
    refuse_overwriting_inputs(outputs, inputs)


def _not_the_store(output: Path, fmt: str, db: Path) -> None:
    """No output may be written over the store or the files SQLite keeps beside it: that loses every record."""
    for own in store_files(db):
        # CSV tables other than 汇总 go to <stem>_<sheet>.csv beside the output (report_files.write_csv).
        beside = (fmt == "csv" and own.name.startswith(f"{output.stem}_") and own.name.endswith(output.suffix)
                  and same_file(own.parent, output.parent))
        if beside or same_file(output, own):
            raise UserError(f"报告 {output} 会覆盖收件记录库 {db}：请给报告或收件记录库换一个文件名。")


def _without_store(disks: list[DiskFile], db: Path) -> list[DiskFile]:
    """The store never sits in an inbox folder, but a link to it (or to its -wal, -shm) might: never a return.
    Checked by name and size first, so only a likely file costs a stat."""
    own = [p for p in store_files(db) if p.exists()]
    names, sizes = {p.name for p in own}, {p.stat().st_size for p in own}
    return [d for d in disks if not ((os.path.basename(d.path) in names or d.size in sizes)
                                     and any(same_file(Path(d.path), p) for p in own))]


def _expected(roster: Path | None, manifests: list[Path]) -> tuple[list[Expected], list[Issued]]:
    """Who must return forms, and (from the manifests) every form issued."""
    if roster:
        from ..issue.roster import read_roster

        return [_from_department(d) for d in read_roster(roster)], []
    if manifests:
        from ..issue.distribute import read_manifests

        by_name: dict[str, Expected] = {}
        issued = read_manifests(manifests)
        for item in issued:
            e = by_name.setdefault(item.department, Expected(item.recipient, 0))
            e.count = (e.count or 0) + 1
            e.form_ids.add(item.form_id)
        return list(by_name.values()), issued
    return [], []


def _issued_with(manifests: list[Path]) -> list[TemplateRef]:
    """The templates the round was issued with: the copies kept beside its manifests."""
    if not manifests:
        return []
    from ..issue.distribute import manifest_templates

    return [t for m in manifests for t in manifest_templates(m)]


def _from_department(d: Department) -> Expected:
    return Expected(d, d.projects)


# ---- not rewriting an unchanged report -----------------------------------------------


def _signature(disks: list[DiskFile], expected: list[Expected], fmt: str, checker: str, decisions: Decisions,
               packages: list[Package]) -> str:
    """Everything a report is made of: each file's path, name, size and time (or why it is only listed), the
    checker (code and templates: what a file's result depends on), the roster or manifest, the format, the
    decisions and packages recorded."""
    digest = hashlib.sha256(f"{fmt}\0{checker}\n".encode())
    digest.update(repr(sorted((k, repr(d)) for k, d in decisions.items())).encode())
    digest.update(repr([(p.form_id, p.item_key, p.sha256) for p in packages]).encode())
    for d in disks:
        digest.update(repr((d.path, d.name, d.size, d.mtime_ns, d.reason, d.code)).encode())
    for e in expected:
        u = e.department
        digest.update(repr((u.name, u.code, u.contact, u.phone, e.count, sorted(e.form_ids))).encode())
    return digest.hexdigest()


_COUNTS = ("files", "returns", "with_errors", "unreadable", "ignored", "superseded", "departments_missing",
           "forms_missing", "resubmitted", "unchanged")


def _file_states(paths: list[Path]) -> list[list[object]]:
    """Each output's size, time and inode (a file written again is a new inode, even within one clock tick)."""
    states: list[list[object]] = []
    for path in paths:
        st = path.stat()
        states.append([str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino])
    return states


def _unchanged_report(store: Store, saved: dict[str, Any] | None, output: Path, signature: str, decisions: Decisions,
                      packages: list[Package]) -> ReportResult | None:
    """The report of an unchanged inbox is the same report: keep it, if nobody touched its files since (`saved`:
    what the store kept of the last report written to `output`). Who must act is as that report found, unless
    another report has changed the round's facts in the store since."""
    try:
        if saved is None or saved["signature"] != signature:
            return None
        paths = [Path(state[0]) for state in saved["files"]]
        if _file_states(paths) != saved["files"]:
            return None
        counts = {name: int(saved["counts"][name]) for name in _COUNTS}
        codes = {str(code): int(n) for code, n in saved["codes"].items()}
        notices = [str(line) for line in saved["notices"]]
        kept = int(saved["kept"])
        if saved["epoch"] != store.checker_epoch():  # this code's results were cleared out since (kept is not)
            return None
    except (OSError, LookupError, TypeError, ValueError, AttributeError):  # gone, or a state some other version wrote
        return None
    result = ReportResult(outputs=[output.with_name(p.name) for p in paths], reused_report=True)  # as the user wrote it
    for name, count in counts.items():
        setattr(result, name, count)
    result.codes, result.notices, result.skipped = codes, notices, kept
    try:
        if saved["round"] == store.round_digest():
            result.to_act = chases_from_json(store.report_to_act(str(output.resolve())), decisions)
            return result
    except (LookupError, TypeError, ValueError, AttributeError):  # a state some other version wrote
        pass
    facts = RoundFacts.stored(store.round_state()) or RoundFacts()
    result.to_act = who_must_act(facts, form_lines(facts, decisions, packages))
    return result


def _keep_decisions_not_read_back(store: Store, saved: dict[str, Any] | None, output: Path, db: Path | None) -> None:
    """A report edited since xlform wrote it may hold decisions typed into its 审核 sheet that `xlform review`
    has not read yet: writing the new report over it would lose them, so the run stops and says what to do."""
    try:
        written = saved["files"][0] if saved is not None else None
        if written is None or not output.is_file() or _file_states([output])[0] == written:
            return  # never written here, gone, or as xlform wrote it
        sha = file_hash(str(output))
    except (OSError, LookupError, TypeError):
        return
    if not store.reviewed(sha):
        raise UserError(f"汇总报告 {output} 在上次生成之后被修改、保存过（可能已在“审核”表中填写了审核结论），还没有用 "
                        f"xlform review 读回：直接覆盖会丢失这些结论。请先运行 xlform review {output} --db {db}"
                        "（没有填写结论也可以运行，读回后再汇总即可），或把这份报告改名另存，再重新汇总。")


def _remember_report(store: Store, signature: str, result: ReportResult, kept: int, facts: str,
                     inboxes: list[Path]) -> None:
    """What the report was made of and said; `kept`: the files the store now holds results of (an unchanged
    inbox run again skips them all); `facts`: the digest of the round's facts it kept (Store.set_round);
    `inboxes`: the folders it read (an unchanged inbox is one already recorded)."""
    state = {"signature": signature, "files": _file_states(result.outputs),
             "counts": {name: getattr(result, name) for name in _COUNTS}, "codes": result.codes,
             "notices": result.notices, "kept": kept, "epoch": store.checker_epoch(), "round": facts}
    store.set_report_state(str(result.outputs[0].resolve()), state, chases_json(result.to_act), inboxes)
