"""`xlform review`: the decisions a reviewer typed into the report's 审核 sheet, read back into the store.

The edited report is untrusted input like any return: it goes through the same safe open (reading/package,
its limits, then calamine sees only the checked parts), and only the decision cells are taken from it:
审核结论, 评级, 审核意见 on 审核 and 指标审核意见 on 指标明细, each row found by its 表单编号 and hidden
version key, never by its place (a reviewer may sort or filter). Whose return a row is comes from the
store, not from the sheet. A decision on a version the store knows to be superseded is refused, and so
is a row the store does not know; everything else is recorded in one transaction, a decision already
holding for its version skipped, so reading the same report twice adds nothing.
"""

from __future__ import annotations

import getpass
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ..errors import UserError
from ..form.values import clean_text
from ..reading import limits
from ..reading.package import Package, open_package
from ..reading.parts import parse_tree
from ..reading.refusals import Unreadable
from ..review.decisions import GRADES, Decision, Verdict
from ..review.round import project_chains
from ..store import HistoryEntry, Store, existing_store
from .tables import FORM_ID, GRADE, INDICATOR_OPINION, OPINION, REVIEW_SHEET, VERDICT, VERSION

INDICATOR_SHEET = "指标明细"
INDICATOR_ROW = "行"  # the indicator's row on the return's sheet (tables._WHERE)
CORE = "docProps/core.xml"
_CORE_NS = {"cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
            "dc": "http://purl.org/dc/elements/1.1/"}
MAX_SHOWN = 30  # refusals printed one by one; the rest counted


@dataclass
class ReviewRead:
    """What `xlform review` did with one report."""

    recorded: list[Decision] = field(default_factory=list)
    unchanged: int = 0  # decisions equal to the one already holding for their version
    refused: list[str] = field(default_factory=list)  # one Chinese line each
    reviewer: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else 0

    def lines(self) -> list[str]:
        out = [f"审核人：{self.reviewer or '（未知）'}",
               f"已记录 {len(self.recorded)} 条审核结论；{self.unchanged} 条未变（与记录库中已有的相同）；"
               f"{len(self.refused)} 条被拒绝。"]
        out += [f"  记录：{d.department} {d.project}：{d.verdict}" + (f"（{d.grade}）" if d.grade else "")
                for d in self.recorded]
        out += [f"  拒绝：{why}" for why in self.refused[:MAX_SHOWN]]
        if len(self.refused) > MAX_SHOWN:
            out.append(f"  ……另有 {len(self.refused) - MAX_SHOWN} 条被拒绝")
        if not (self.recorded or self.unchanged or self.refused):
            out.append(f"  报告的“{REVIEW_SHEET}”表中还没有填写审核结论：请在“{VERDICT}”列选择结论（需要时填写评级和审核意见），"
                       "保存后再运行 xlform review。")
        return out


@dataclass(frozen=True)
class _Row:
    number: int  # 1-based, as the reviewer sees it
    form_id: str
    item_key: str
    verdict: str
    grade: str
    opinion: str


def read_review(report: Path, db: Path, now: str | None = None) -> ReviewRead:
    """Read the decisions of `report` into the store `db`. UserError for a file that is not a usable report."""
    report, db = Path(report), existing_store(db)
    if report.is_dir():
        raise UserError(f"{report} 是一个文件夹；请给出填好审核结论并保存的汇总报告 .xlsx 文件。")
    if not report.is_file():
        raise UserError(f"找不到汇总报告 {report}。")
    data, pkg = _open(report)
    rows, opinions = _sheets(report, pkg)
    now = now or datetime.now().isoformat(timespec="seconds")
    out = ReviewRead(reviewer=_reviewer(pkg))
    source = hashlib.sha256(data).hexdigest()
    with Store(db) as store:
        decisions = []
        seen: set[tuple[str, str]] = set()
        for row in rows:
            d = _decision(row, opinions.pop((row.form_id, row.item_key), ()), store, seen, out, source, now)
            if d is not None:
                decisions.append(d)
        for (form_id, _), texts in opinions.items():
            if texts:
                out.refused.append(f"表单编号 {form_id}：指标明细中有指标审核意见，但“{REVIEW_SHEET}”表中没有这份申报表的"
                                   f"审核结论；请在“{REVIEW_SHEET}”表中填写审核结论后再运行。")
        out.recorded = store.add_decisions(decisions)
        store.set_reviewed(source, now)  # the next report may write over this file: its decisions are in
        out.unchanged = len(decisions) - len(out.recorded)
    return out


def _open(report: Path) -> tuple[bytes, Package]:
    """The report through the returns' safe open: its size, its first bytes, its zip, each part it needs."""
    try:
        data = limits.file_bytes(report)
        return data, open_package(report, data, {REVIEW_SHEET, INDICATOR_SHEET}, extra=(CORE,))
    except Unreadable as exc:
        raise UserError(f"汇总报告 {report} 无法读取：{exc}") from None


def _sheets(report: Path, pkg: Package) -> tuple[list[_Row], dict[tuple[str, str], tuple[tuple[int, str], ...]]]:
    if pkg.sheet(REVIEW_SHEET) is None:
        raise UserError(f"{report} 不是 xlform 生成的汇总报告（没有“{REVIEW_SHEET}”工作表）；"
                        "请给出 xlform report 生成、填好审核结论后保存的 .xlsx 文件。")
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(pkg.calamine_zip()))
        review = book.get_sheet_by_name(REVIEW_SHEET).to_python(skip_empty_area=False)
        indicators = (book.get_sheet_by_name(INDICATOR_SHEET).to_python(skip_empty_area=False)
                      if pkg.sheet(INDICATOR_SHEET) is not None else [])
    except BaseException as exc:  # calamine raises several types, a Rust panic included
        if not (isinstance(exc, Exception) or type(exc).__name__ == "PanicException"):
            raise
        raise UserError(f"汇总报告 {report} 已损坏，无法读取其中的“{REVIEW_SHEET}”表；请用 Excel 或 WPS 重新保存。") from None
    at = _columns(review, (FORM_ID, VERSION, VERDICT, OPINION), report, REVIEW_SHEET)
    grade = at.get(GRADE)
    rows = []
    for n, values in enumerate(review[1:], start=2):
        cell = _cells(values)
        row = _Row(n, cell(at[FORM_ID]), cell(at[VERSION]), cell(at[VERDICT]), cell(grade), cell(at[OPINION]))
        if row.verdict or row.grade or row.opinion:
            rows.append(row)
    opinions: dict[tuple[str, str], list[tuple[int, str]]] = {}
    if indicators and INDICATOR_OPINION in _header(indicators):
        at = _columns(indicators, (FORM_ID, VERSION, INDICATOR_OPINION, INDICATOR_ROW), report, INDICATOR_SHEET)
        for values in indicators[1:]:
            cell = _cells(values)
            text, number = cell(at[INDICATOR_OPINION]), cell(at[INDICATOR_ROW])
            if text and number.isdigit():
                opinions.setdefault((cell(at[FORM_ID]), cell(at[VERSION])), []).append((int(number), text))
    return rows, {k: tuple(sorted(v)) for k, v in opinions.items()}


def _header(rows: list[list[Any]]) -> list[str]:
    return [clean_text(v) for v in rows[0]] if rows else []


def _columns(rows: list[list[Any]], needed: tuple[str, ...], report: Path, sheet: str) -> dict[str, int]:
    """Each column by its header (the reviewer may have moved columns, never renamed them)."""
    header = _header(rows)
    at = {h: i for i, h in reversed(list(enumerate(header))) if h}
    missing = [h for h in needed if h not in at]
    if missing:
        raise UserError(f"{report} 的“{sheet}”表缺少列：{'、'.join(missing)}；它不是 xlform 生成的汇总报告，"
                        "或表头被改动过。请用 xlform report 重新生成报告后再填写审核结论。")
    return at


def _cells(values: list[Any]) -> Callable[[int | None], str]:
    """A row's cell by column index, as the text a person sees ("" past the row's end or for no column)."""
    def cell(i: int | None) -> str:
        return clean_text(values[i]) if i is not None and i < len(values) else ""
    return cell


def _decision(row: _Row, opinions: tuple[tuple[int, str], ...], store: Store, seen: set[tuple[str, str]],
              out: ReviewRead, source: str, now: str) -> Decision | None:
    """The row's decision, or None with the reason it is refused added to `out`."""
    where = f"“{REVIEW_SHEET}”表第 {row.number} 行"
    history = store.history(row.form_id) if row.form_id else []
    mine = next((h for h in history if h.item_key == row.item_key), None)
    who = f"{where}（{mine.department} {mine.project}）" if mine is not None else where

    def refuse(why: str) -> None:
        out.refused.append(f"{who}：{why}")

    if not row.form_id or not history:
        refuse(f"表单编号“{row.form_id or '（空）'}”不在收件记录库中：这一行不是本库汇总出的报告中的，或表单编号被改动过；"
               "未记录。")
    elif mine is None:
        refuse(f"表单编号 {row.form_id} 的这一版本不在收件记录库中（版本列被改动过，或报告来自另一个记录库）；未记录。")
    elif row.verdict not in tuple(Verdict):
        refuse(f"审核结论“{row.verdict}”不在列表中（可选：{'、'.join(Verdict)}）；未记录。" if row.verdict else
               f"填了{'评级' if row.grade else '审核意见'}，但没有审核结论（{'、'.join(Verdict)}）；未记录。")
    elif row.grade and row.grade not in GRADES:
        refuse(f"评级“{row.grade}”不在列表中（可选：{'、'.join(GRADES)}）；未记录。")
    elif (row.form_id, row.item_key) in seen:
        refuse(f"表单编号 {row.form_id} 的同一版本出现了不止一行；只记录第一行的结论。")
    else:
        newer = _newer(history, mine)
        if newer is not None:
            refuse(f"这条结论针对的版本已被 {newer.received_at.replace('T', ' ')} 收到的新版本（{newer.name}）替代，"
                   "未记录；请用新生成的报告审核新版本。")
            return None
        seen.add((row.form_id, row.item_key))
        return Decision(row.form_id, row.item_key, Verdict(row.verdict), row.grade, row.opinion, opinions,
                        out.reviewer, now, source, mine.department, mine.project)
    return None


def _newer(history: list[HistoryEntry], mine: HistoryEntry) -> HistoryEntry | None:
    """The newest version received after `mine` that supersedes it, if any (history is oldest first, in the
    report's order): of the same department (a blank form shared by departments) and the same project (a
    workbook copied for a second project supersedes nothing), as the report chains them (project_chains)."""
    same = [h for h in history if h.department == mine.department]
    chain = next(c for c in project_chains(same, lambda h: h.project) if any(h.item_key == mine.item_key for h in c))
    last = max(i for i, h in enumerate(chain) if h.item_key == mine.item_key)  # the same bytes sent again count once
    newer = [h for h in chain[last + 1:] if h.item_key != mine.item_key]
    return newer[-1] if newer else None


def _reviewer(pkg: Package) -> str:
    """Who saved the report: its last author (docProps/core.xml), else its creator, else the user running review."""
    if CORE in pkg.parts:
        try:
            root = parse_tree(pkg.parts, CORE)
        except Unreadable:
            root = None
        if root is not None:
            for tag in ("cp:lastModifiedBy", "dc:creator"):
                found = root.find(tag, _CORE_NS)
                text = clean_text(found.text) if found is not None else ""
                if text:
                    return text[:60]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name known to the system
        return ""
