"""A report built anew: what is new collected (in parallel processes; with a store, unchanged files are
skipped and their results loaded), the latest return of each form kept, each resubmission compared with the
version before it (changes.py), returns and unreadable files matched to whom they were expected from, and
the tables built (tables.py) and written (files.py): 汇总, 按部门 (+ chart), 指标明细, 构成明细, 问题清单, 修改情况,
未读取文件, 被替代版本 — as an xlsx workbook (xlsxwriter, constant memory, user text only through write_string),
as CSV files or as one JSON document.

run.py decides whether a report must be built at all, and imports this module only then: it brings in the
reader, the rules and the writer, which an unchanged inbox does not need.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..collect import inbox as collect
from ..collect.inbox import DiskFile, file_hash, is_junk, shown_name
from ..collect.outcome import Collected, FileOutcome, FindingRow, Outcome
from ..collect.workers import collect_files
from ..form.template import TemplateRef, as_template, builtin_templates
from ..issue.distribute import Issued
from ..issue.roster import Department
from ..reading import refusals as R
from ..review import rules
from ..review.decisions import Package
from ..review.round import Awaited, Decisions, RoundFacts, UnreadFile, Version, form_lines, project_chains, who_must_act
from ..review.rules import Declared
from ..review.status import FormState, Status
from ..store import Receipt, Store
from .changes import Change, ChangeKind, Labels, compare, findings_fixed
from .files import write_tables
from .result import Expected, Heading, ReportResult
from .tables import Return, Review, Unread, build_tables

NO_UNIT = "（未填填报单位）"  # the 部门 of a return whose 填报单位 is empty and matches nobody expected


@dataclass(frozen=True)
class ReadWith:
    """How the files are read: worker processes, the templates known, the progress bar, the run's time."""

    jobs: int
    templates: list[TemplateRef]
    progress: bool | None
    now: str
    parallel_from: int | None


@dataclass
class Built:
    result: ReportResult
    kept: set[str]  # the files whose results the store now holds (an unchanged inbox run again skips them)
    retry: bool  # a file was read and not kept for a reason that may pass (it could not be opened)
    facts: str  # the digest of the round's facts kept in the store (Store.set_round), "" without one


def build_report(disks: list[DiskFile], store: Store | None, read: ReadWith, expected: list[Expected],
                 issued: list[Issued], output: Path, fmt: str, inboxes: list[Path], decisions: Decisions,
                 packages: list[Package], expected_known: bool) -> Built:
    """Collect, check, assemble and write the report of these files."""
    collected, stored, saved = _collect(disks, store, read)
    if store is not None:  # results of unchanged files are loaded only when the report is rewritten
        lost = _load(store, stored)
        while lost:  # another run cleared them out meanwhile: read those files again
            for path in lost:
                del stored[path]
            again, more, also = _collect([d for d in disks if d.path in lost], store, read)
            collected.update(again)
            stored.update(more)
            saved |= also
            lost = _load(store, more)
    returns, unread = _sort_out(disks, collected)
    known = read.templates
    grading = {(t.id, t.version) for t in [*builtin_templates(), *map(as_template, known)] if t.review_grades}
    review = _Reviewed(decisions, packages, grading, expected_known)
    result = _assemble(returns, unread, expected, issued, output, fmt, Labels(known), inboxes, review, read.jobs)
    result.skipped = len(stored)
    if store is None:
        return Built(result, set(), False, "")
    facts = store.set_round(review.facts.to_json())
    kept = {*stored, *saved}
    return Built(result, kept, _read_each_time(disks, collected, kept), facts)


def _check_claims(latest: list[Return], issued: list[Issued]) -> None:
    """What a return says about itself (form id, department, year in its _meta) is a claim: against the
    manifest a form from another round, a blank form nobody was issued, or an identity edited after issue
    is said plainly, as an error at the return, instead of counting silently as a department's return."""
    if not issued:
        return
    by_form = {i.form_id: i for i in issued}
    years = sorted({i.year for i in issued})
    for r in latest:
        o = r.outcome
        item = by_form.get(o.form_id)
        if item is None:
            when = f"（表内为 {o.year} 年度，本轮为 {'、'.join(map(str, years))} 年度）" if o.year not in years else ""
            how = "由财政部门下发" if o.issued_to else "未经下发（空白表）"
            _claim(o, rules.NOT_ISSUED, "表单编号", o.form_id,
                   f"这份表{how}，但表单编号不在本轮下发清单中{when}；请用本轮下发给本部门的申报表重新填报。")
            continue
        if o.issued_to != item.department:
            _claim(o, rules.OTHER_DEPARTMENT, "下发部门", o.issued_to,
                   f"下发清单中这个表单编号是下发给“{item.department}”的，表内识别信息却是“{o.issued_to or '（空）'}”"
                   "（识别信息被改动，或用了其他部门的表）；请用本部门的申报表重新填报。")
        if o.year != item.year:
            _claim(o, rules.WRONG_YEAR, "年度", str(o.year or ""),
                   f"下发清单中这份表是 {item.year} 年度的，表内识别信息为“{o.year or '（空）'}”；"
                   "识别信息被改动过，请用下发的原表重新填报。")


def _claim(o: Outcome, rule: Declared, field: str, value: str, message: str) -> None:
    """A finding the report raises at a return (the round's rules): counted like the reader's own."""
    f = rule.finding("", "", field, value, message)
    o.findings.append(FindingRow(f.severity, f.rule, f.sheet, f.cell, f.field, f.value, f.message))
    o.errors += f.severity == "error"
    o.warnings += f.severity == "warning"
    if f.severity == "error":
        o.status = Status.FIX


@contextmanager
def _progress_bar(total: int, enabled: bool | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr, shown only on a terminal (never in logs or tests)."""
    if total == 0:  # nothing to read (an unchanged inbox): not even rich is loaded
        yield lambda n: None
        return
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


def _collect(disks: list[DiskFile], store: Store | None,
             read: ReadWith) -> tuple[dict[str, list[Collected]], dict[str, list[Collected]], set[str]]:
    """path → its items with results. With a store, files it knows come back as items whose outcome may
    still be None (also in the second dict), so a known file costs a stat and a few queries; the third
    value: the paths of the files read now whose results the store keeps (skipped when they come again).
    Each file read is saved with the returns it holds in one transaction, and so is each known file under
    a new name or time: a file the store knows has its returns in the history, whenever a run stops."""
    out: dict[str, list[Collected]] = {}
    stored: dict[str, list[Collected]] = {}
    saved: set[str] = set()
    todo: list[DiskFile] = []
    reuse: dict[str, str] = {}  # path → sha256 of content the store knows
    if store is None:
        todo = disks
    else:
        known, contents = store.known_files(), store.contents()
        touched: list[DiskFile] = []
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
                    touched.append(d)
                else:
                    todo.append(d)
        for path, sha in reuse.items():
            out[path] = stored[path] = [Collected(member, key, None, modified)  # type: ignore[arg-type]
                                        for member, key, modified in contents[sha]]
        lost = _load(store, {d.path: stored[d.path] for d in touched})  # their returns are recorded now
        todo += [d for d in touched if d.path in lost]
        touched = [d for d in touched if d.path not in lost]
        for path in lost:
            del out[path], stored[path]
        if touched:
            store.touch([(d.path, d.size, d.mtime_ns, reuse[d.path]) for d in touched],
                        [r for d in touched for r in _receipts(d, out[d.path])], read.now)

    _keep()  # before the workers are forked: they need not scan what they inherit either
    with _progress_bar(len(todo), read.progress) as advance:
        def done(batch: list[FileOutcome]) -> None:
            if store is not None:
                store.save(batch, [r for fo in batch for r in _receipts(fo.disk, fo.items)], read.now)
                saved.update(fo.disk.path for fo in batch if fo.sha256)  # as store.save keeps them
            for fo in batch:
                out[fo.disk.path] = fo.items
            _keep()
            advance(len(batch))

        collect_files(todo, jobs=read.jobs, templates=read.templates, on_done=done, parallel_from=read.parallel_from,
                      counted=sum(len(items) for items in stored.values()))  # one run budget, kept results too
    return out, stored, saved


def _keep() -> None:
    """What a report holds to its end (the results of 10,000 returns: millions of objects, none in a cycle)
    is taken out of the garbage collector's full passes as it arrives: each pass would scan all of it again,
    a sixth of a 10,000-return report. Young objects are collected as ever; make_report hands all back."""
    gc.freeze()


def _load(store: Store, stored: dict[str, list[Collected]]) -> set[str]:
    """Fill in the stored results of these files; the paths whose results are gone come back."""
    outcomes = store.results(c.key for items in stored.values() for c in items if c.outcome is None)
    lost: set[str] = set()
    for path, items in stored.items():
        for c in items:
            if c.outcome is None:
                if c.key in outcomes:
                    c.outcome = outcomes[c.key]
                else:
                    lost.add(path)
    return lost


def _received(d: DiskFile) -> datetime:
    return datetime.fromtimestamp(d.mtime_ns / 1e9).replace(microsecond=0)


def _shown(d: DiskFile, c: Collected) -> str:
    return f"{d.name}/{c.member}" if c.member else d.name


def _receipts(d: DiskFile, items: list[Collected]) -> list[Receipt]:
    """The returns one file holds, as the store's history records them."""
    received = _received(d).isoformat()
    return [Receipt(c, _shown(d, c), received) for c in items if c.outcome.readable]


def _sort_out(disks: list[DiskFile], collected: dict[str, list[Collected]]) -> tuple[list[Return], list[Unread]]:
    returns: list[Return] = []
    unread: list[Unread] = []
    for d in disks:
        received = _received(d)
        for c in collected.get(d.path, []):
            name = _shown(d, c)
            if c.outcome.readable:
                returns.append(Return(name, received, c.key, c.outcome, modified=c.modified))
            else:
                unread.append(Unread(name, received, c.outcome.error, c.outcome.status == Status.IGNORED,
                                     c.outcome.error_code))
    return returns, unread


def _form_key(r: Return) -> str:
    """Which returns are versions of one form. An issued workbook is one form wherever it goes; a blank
    one (`xlform new`, copied to many departments) shares its form id, so the department tells them apart."""
    o = r.outcome
    if not o.form_id:
        return f"file:{r.name}"
    return o.form_id if o.issued_to else f"{o.form_id}|{o.department}"


def _arrival(r: Return) -> tuple[datetime, str, str]:
    """When a version came: received, then (in one zip) each member's own time, then its name."""
    return r.received, r.modified, r.name


def _latest(returns: list[Return]) -> tuple[list[Return], list[Return]]:
    """The latest return of each form (by received time, then name), and the ones it supersedes.

    One form's versions that name different projects are a copied workbook used for a second project:
    each project keeps its own latest return (none is dropped) and they know of each other (reused_with).
    A version with no project name yet belongs with the version before it."""
    forms: dict[str, list[Return]] = defaultdict(list)
    for r in returns:
        forms[_form_key(r)].append(r)
    latest, superseded = [], []
    for versions in forms.values():
        versions.sort(key=_arrival)
        chains = project_chains(versions, lambda r: r.outcome.project)
        newest_of = []
        for chain in chains:
            newest = chain[-1]
            newest.replaced = chain[:-1]
            for old in chain[:-1]:
                old.superseded_by = newest
            newest_of.append(newest)
            superseded.extend(chain[:-1])
        for newest in newest_of:
            newest.reused_with = [r for r in newest_of if r is not newest]
        latest.extend(newest_of)
    return latest, superseded


def _resubmissions(latest: list[Return], labels: Labels, notices: list[str]) -> tuple[int, int]:
    """修改情况 of every return that supersedes another, against the version right before it; one identical
    in content is flagged 未作修改. Returns (resubmitted, unchanged)."""
    resubmitted = unchanged = 0
    for r in latest:
        if not r.replaced:
            continue
        resubmitted += 1
        before = r.replaced[-1]
        changes = compare(before.outcome, r.outcome, labels)
        fixed = findings_fixed(before.outcome, r.outcome)
        if not changes:
            unchanged += 1
            same_file = before.key.split("|")[0] == r.key.split("|")[0]
            what = "是同一个文件（重复提交）" if same_file else "内容完全相同（只是重新保存）"
            left = f"；上一版的 {len(fixed)} 个问题都还在，请按问题清单修改后再交" if fixed else ""
            message = (f"这份表与 {before.received:%Y-%m-%d %H:%M} 收到的上一版（{before.name}）{what}，"
                       f"未作任何修改{left}。")
            _claim(r.outcome, rules.UNCHANGED_RESUBMISSION, "", "", message)
            changes = [Change(ChangeKind.UNCHANGED, "", None, before.name, r.name)]
            notices.append(f"未作修改：{r.department}“{r.outcome.project}”（{r.name}）与上一版内容相同。")
        r.changes = changes + fixed
    return resubmitted, unchanged


def _reused(latest: list[Return], notices: list[str]) -> None:
    """A workbook copied for another project: said at each of its returns (both stay in the report)."""
    for r in latest:
        if not r.reused_with:
            continue
        others = "、".join(f"“{o.outcome.project}”（{o.name}）" for o in r.reused_with)
        _claim(r.outcome, rules.FORM_REUSED, "项目名称", r.outcome.project,
               f"表单编号 {r.outcome.form_id} 的同一张表交来了不同的项目：本表为“{r.outcome.project}”，另有{others}。"
               "可能是复制下发的表填报了另一个项目；各项目都已列入汇总，互不替代，请核实，并请部门为每个项目使用单独下发的申报表。")
        notices.append(f"一表多用：{r.department} 表单编号 {r.outcome.form_id} 的表用于项目“{r.outcome.project}”，"
                       f"另有{others}；各项目都已列入汇总，请核实。")


@dataclass
class _Reviewed:
    """What the store holds of the reviewers' work, and (once assembled) the round's facts it is kept with."""

    decisions: Decisions
    packages: list[Package]
    grading: set[tuple[str, str]]  # templates (id, version) that ask for the 88号 grade
    expected_known: bool
    facts: RoundFacts = field(default_factory=RoundFacts)


def _facts(latest: list[Return], unread: list[Unread], departments: list[Expected], r: _Reviewed) -> RoundFacts:
    """The round as review/round.py computes states from: kept in the store for `status` and `remind`."""
    return RoundFacts(
        tuple(Awaited(e.department.name, e.department.code, e.department.contact, e.department.phone, e.count,
                      tuple(sorted(e.form_ids)), e.listed) for e in departments),
        tuple(Version(x.outcome.form_id, x.key, x.department, x.outcome.project, x.outcome.errors, x.outcome.warnings,
                      x.name, x.received.isoformat(), tuple(old.key for old in x.replaced)) for x in latest),
        tuple(UnreadFile(u.name, u.reason, u.department, u.form_id) for u in unread if not u.ignored),
        max([x.received.isoformat() for x in latest] + [u.received.isoformat() for u in unread], default=""),
        r.expected_known)


def _assemble(all_returns: list[Return], unread: list[Unread], expected: list[Expected], issued: list[Issued],
              output: Path, fmt: str, labels: Labels, inboxes: list[Path], reviewed: _Reviewed | None = None,
              jobs: int = 1) -> ReportResult:
    reviewed = reviewed or _Reviewed({}, [], set(), bool(expected))
    latest, superseded = _latest(all_returns)
    _check_claims(latest, issued)
    departments = _match(latest, expected)
    notices: list[str] = []
    resubmitted, unchanged = _resubmissions(latest, labels, notices)
    _reused(latest, notices)
    _attribute(unread, departments, issued, inboxes)
    unit = _report_unit(latest)
    order = {e.department.name: i for i, e in enumerate(departments)}
    latest.sort(key=lambda r: (order.get(r.department, len(order)), r.department, r.outcome.project, r.received, r.name))
    superseded.sort(key=lambda r: (order.get(r.department, len(order)), r.department, r.name))
    unread.sort(key=lambda u: (u.ignored, u.name))
    listed = [e for e in departments if e.listed]
    result = ReportResult(outputs=[])
    result.files = len(all_returns) + len(unread)
    result.returns = len(latest)
    result.with_errors = sum(r.outcome.status == Status.FIX for r in latest)
    result.unreadable = sum(not u.ignored for u in unread)
    result.ignored = sum(u.ignored for u in unread)
    for u in unread:
        result.codes[u.code] = result.codes.get(u.code, 0) + 1
    result.superseded = len(superseded)
    result.resubmitted, result.unchanged, result.notices = resubmitted, unchanged, notices
    # A department whose file could not be read did send it (已提交但无法读取): not missing, though not read.
    result.departments_missing = sum(not e.returns and not e.unread for e in listed)
    reviewed.facts = _facts(latest, unread, departments, reviewed)
    lines = form_lines(reviewed.facts, reviewed.decisions, reviewed.packages)
    # Missing forms as form_lines finds them (by form id: a form used for two projects is not another form).
    on_list = {e.department.name for e in listed}
    result.forms_missing = sum(line.state is FormState.MISSING and line.department in on_list for line in lines)
    result.to_act = who_must_act(reviewed.facts, lines)
    grading = any((r.outcome.template, r.outcome.version) in reviewed.grading for r in latest)
    tables = build_tables(latest, superseded, unread, departments, unit, Review(lines, reviewed.decisions, grading))
    _keep()  # the tables' rows, kept until they are written
    heading = Heading(tuple(sorted({r.outcome.year for r in latest if r.outcome.year})))
    result.outputs = write_tables(tables, output, fmt, unit, result, heading, jobs)
    return result


def _match(latest: list[Return], expected: list[Expected]) -> list[Expected]:
    """Attach each return to its department: by form id (manifest), name, then code. Others join at the end."""
    by_form = {form_id: e for e in expected for form_id in e.form_ids}
    by_name = {e.department.name: e for e in expected}
    by_code = {e.department.code: e for e in expected if e.department.code}
    extra: dict[str, Expected] = {}
    for r in latest:
        o = r.outcome
        e = by_form.get(o.form_id) or by_name.get(o.department) or (by_code.get(o.code) if o.code else None)
        if e is None:
            name = o.department or NO_UNIT
            e = extra.setdefault(name, Expected(Department(name, o.code), listed=False))
        r.department = e.department.name
        for old in r.replaced:
            old.department = e.department.name
        e.returns.append(r)
    return [*expected, *sorted(extra.values(), key=lambda e: e.department.name)]


def _attribute(unread: list[Unread], departments: list[Expected], issued: list[Issued], inboxes: list[Path]) -> None:
    """Whose each unreadable file is, where it shows: its name is one the manifest lists (so the form too), a
    folder (or .zip) under the inbox is named after a department, or its name contains a department's
    name (the longest that fits). The department then counts it (已提交但无法读取), not as 未提交."""
    by_name = {e.department.name: e for e in departments}
    if not by_name:
        return
    names = sorted(by_name, key=len, reverse=True)
    stems = sorted(((Path(i.file).stem, i) for i in issued if i.file), key=lambda s: len(s[0]), reverse=True)
    roots = sorted({shown_name(str(p)).rstrip("/\\") for p in inboxes}, key=len, reverse=True)
    for u in unread:
        if u.ignored or u.code in _NOT_ONE_FILE:
            continue
        parts = _below(u.name, roots)
        base, folders = _stem(parts[-1]), [_stem(p) for p in reversed(parts[:-1])]  # the innermost folder first
        item = next((i for stem, i in stems if base.startswith(stem)), None)
        department = (item.department if item is not None else "") \
            or next((f for f in folders if f in by_name), "") \
            or next((n for text in (base, *folders) for n in names if n in text), "")
        if department in by_name:
            u.department, u.form_id = department, item.form_id if item is not None else ""
            by_name[department].unread.append(u)


# Lines of 未读取文件 that are not one file a department sent: read where they point, or many files in one line.
_NOT_ONE_FILE = frozenset(r.code for r in (R.LINK_INSIDE, R.FOLDER_SEEN, R.FOLDER_UNREADABLE, R.TOO_MANY_FILES,
                                           R.ZIP_NOT_OPENED))


def _below(name: str, roots: list[str]) -> list[str]:
    """The parts of a listed name under the inbox it was found in (a zip's members after the zip)."""
    for root in roots:
        if name.startswith(root) and name[len(root):len(root) + 1] in ("/", "\\"):
            name = name[len(root) + 1:]
            break
    return [p for p in re.split(r"[/\\]", name) if p] or [name]


def _stem(part: str) -> str:
    return part.rsplit(".", 1)[0] if "." in part else part


def _report_unit(latest: list[Return]) -> str:
    """One money unit for the whole report: the returns' own, or 万元 when templates differ."""
    units = {r.outcome.money_unit or "元" for r in latest}
    return units.pop() if len(units) == 1 else ("万元" if units else "元")


# Refusals a file's size alone decides (the size is in the signature); any other file read and not kept by the
# store (one that could not be opened: no permission, a sync placeholder, gone meanwhile) is tried again each run.
_BY_SIZE = frozenset({R.TOO_LARGE.code, R.ZIP_TOO_LARGE.code})


def _read_each_time(disks: list[DiskFile], collected: dict[str, list[Collected]], kept: set[str]) -> bool:
    """Whether a file of the inbox is one the store keeps no result of, for a reason that may pass."""
    return any(c.outcome.error_code not in _BY_SIZE for d in disks
               if d.path not in kept and not is_junk(d.name) and not d.reason for c in collected.get(d.path, []))
