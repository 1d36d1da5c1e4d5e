"""`xlform feedback` (and `report --feedback`): a return package for every department with a return to fix.

For each form whose latest return has errors, or whose holding decision is 退回修改 (or grade 中), the file the
department submitted is read again through the report's own path (inbox.Source: a zip member as the report
took it), checked against the sha256 the store recorded, and written back by xlform's writer: the template's
protection and validations whatever program the department used, the same 表单编号 and _meta (so the corrected
return supersedes it), each finding's cell red with a comment, and a first sheet 审核意见. Per department a
one-page 审核意见 summary and, with --eml, a ready-to-send mail; an index lists what was written. Outputs are
written atomically, never over an input; the same store gives the same files, and the store records each
package once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from xlsxwriter.workbook import Workbook

from ..collect.inbox import Source, walk
from ..collect.outcome import item_key
from ..errors import UserError
from ..export import csv_safe, template_of
from ..fileio import refuse_overwriting_inputs, write_bytes_atomic
from ..form import paper
from ..form.fields import FEEDBACK_SHEET
from ..form.layout import layout_for
from ..form.model import Declaration
from ..form.template import TemplateRef
from ..reading.reader import Registry
from ..review.decisions import Decision, Package
from ..review.findings import SEVERITY_LABEL, Finding
from ..review.result import check_file
from ..review.round import sent_back
from ..review.rules import rule_title
from ..review.status import FormState, Status
from ..store import HistoryEntry, Store, existing_store, inbox_folders, recorded_file, store_files
from ..writing.workbook import FONT, TITLE_FONT, ReviewNotes, write_workbook
from .distribute import package_name
from .roster import check_sender, read_roster, safe_file_part

MARK = "退回修改"  # in every package's name, so a clerk tells it from the workbook first issued
SUMMARY_STEM = "审核意见"
INDEX_NAME = "退回清单.csv"
XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
BEIJING = timezone(timedelta(hours=8))
HOW_TO_RETURN = ("请按标红单元格的批注逐项修改（本表第一张“审核意见”列出全部问题），保存后把本文件交回；"
                 "不要另用空白表重填，表内的表单编号会让交回的文件替代上一版。")
INDEX_HEADS = ("部门", "项目", "表单编号", "文件", "问题数", "邮箱", "邮件", "未生成的原因")


@dataclass(frozen=True)
class Sent:
    """One form's package, written."""

    department: str
    project: str
    form_id: str
    item_key: str
    path: Path
    findings: int
    sha256: str
    verdict: str  # 退回修改 (with a grade), or 需修改（有错误） before any decision
    opinion: str  # the reviewer's words ("" when none)

    @property
    def said(self) -> str:
        return f"{self.verdict}：{self.opinion}" if self.opinion else self.verdict


@dataclass(frozen=True)
class NotSent:
    """A form to send back whose submitted file could not be read again: listed with the reason."""

    department: str
    project: str
    form_id: str
    name: str  # the return as the report names it
    reason: str


@dataclass
class FeedbackResult:
    folder: Path
    sent: list[Sent] = field(default_factory=list)
    not_sent: list[NotSent] = field(default_factory=list)
    summaries: dict[str, Path] = field(default_factory=dict)  # department → its 审核意见 summary
    mails: dict[str, Path] = field(default_factory=dict)  # department → its .eml
    emails: dict[str, str] = field(default_factory=dict)  # department → address from the roster
    index: Path | None = None
    recorded: int = 0  # packages new to the store

    def lines(self) -> list[str]:
        departments = len({s.department for s in self.sent})
        if self.sent:
            out = [f"退回修改包：{departments} 个部门 {len(self.sent)} 份，写在 {self.folder}"]
        elif self.not_sent:
            out = [f"没有写出退回修改包：要退回的 {len(self.not_sent)} 份表读不到部门交来的原件（原因见下）"]
        else:
            out = [f"没有需要退回修改的表（最新版本都没有错误，或审核结论不是退回修改）；清单写在 {self.folder}"]
        for s in self.sent:
            mail = f"；邮件 {self.mails[s.department].name}" if s.department in self.mails else ""
            out.append(f"  {s.department} · {s.project or '（未填项目名称）'}：{s.path.name}（{s.findings} 个问题）{mail}")
        for n in self.not_sent:
            out.append(f"  未生成：{n.department} · {n.project or '（未填项目名称）'}（{n.name}）：{n.reason}")
        if self.index is not None:
            out.append(f"  清单：{self.index}")
        return out


@dataclass(frozen=True)
class _Due:
    """A form to send back: its latest return and the decision holding for it (None: none yet)."""

    form_id: str
    entry: HistoryEntry
    decision: Decision | None


@dataclass(frozen=True)
class _Planned:
    """A package about to be written: where, for which form, from the return read again."""

    path: Path
    due: _Due
    declaration: Declaration
    findings: list[Finding]

    @property
    def department(self) -> str:
        return self.due.entry.department


def write_feedback(
    db: Path,
    outdir: Path,
    *,
    eml: bool = False,
    roster: Path | None = None,
    templates: Sequence[TemplateRef] = (),
    sender: str = "",
    inboxes: Sequence[Path] = (),
    now: str | None = None,
) -> FeedbackResult:
    """Write every package due from the store at `db` into `outdir`. Raises UserError for a usage mistake."""
    if sender:
        check_sender(sender)
    db, outdir = existing_store(db), Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"{outdir} 是一个文件；请给退回修改包指定一个文件夹（-o 文件夹）。")
    departments = {d.name: d for d in read_roster(roster)} if roster else {}
    now = now or datetime.now(BEIJING).isoformat(timespec="seconds")
    result = FeedbackResult(outdir)
    with Store(db, templates) as store:
        registry = Registry(list(store.templates))
        due = _due(store)
        read_back: list[tuple[_Due, Declaration, list[Finding], list[str]]] = []
        for item in due:
            got = _read_again(store, item, registry)
            if isinstance(got, str):
                e = item.entry
                result.not_sent.append(NotSent(e.department, e.project, item.form_id, e.name, got))
            else:
                read_back.append((item, *got))
        plan = _plan(read_back, outdir)
        groups = _by_department(plan)
        inputs: list[tuple[Path, str]] = [(p, "收件记录库") for p in store_files(db)]
        inputs += [(Path(p), "交来的申报表") for _, _, _, sources in read_back for p in sources]
        inputs += [(Path(p).parent, "收件文件夹") for _, _, _, sources in read_back for p in sources]
        inputs += [(Path(p), "收件文件夹") for p in [*inboxes, *inbox_folders(db)]]
        if roster:
            inputs.append((Path(roster), "部门名单"))
        inputs += [(Path(t), "模板") for t in templates if isinstance(t, str | Path) and Path(t).exists()]
        outputs = [(p.path, "退回修改包") for p in plan]
        for planned in groups.values():
            outputs.append((outdir / _department_name(planned, SUMMARY_STEM, ".xlsx"), "审核意见汇总"))
            if eml:
                outputs.append((outdir / _department_name(planned, MARK, ".eml"), "邮件"))
        outputs.append((outdir / INDEX_NAME, "退回清单"))
        refuse_overwriting_inputs(outputs, inputs)
        for department, planned in groups.items():
            forms = []
            for p in planned:
                data = _package(p)
                _write(p.path, data)
                forms.append(Sent(department, p.due.entry.project, p.due.form_id, p.due.entry.item_key, p.path,
                                  len(p.findings), hashlib.sha256(data).hexdigest(), _verdict(p.due),
                                  p.due.decision.opinion if p.due.decision else ""))
            result.sent += forms
            year, created = str(_year(planned[0].declaration)), max(_created(p.due.entry) for p in planned)
            summary = outdir / _department_name(planned, SUMMARY_STEM, ".xlsx")
            _write(summary, _summary(year, department, forms, created))
            result.summaries[department] = summary
            address = departments[department].email if department in departments else ""
            if address:
                result.emails[department] = address
            if eml:
                mail = outdir / _department_name(planned, MARK, ".eml")
                _write(mail, _mail(year, department, forms, summary, address, sender, created))
                result.mails[department] = mail
        result.index = outdir / INDEX_NAME
        _write(result.index, _index(result))
        before = len(store.packages())
        store.add_packages(Package(s.form_id, s.item_key, s.department, str(s.path.resolve()), s.sha256, now,
                                   s.findings) for s in result.sent)
        result.recorded = len(store.packages()) - before
    return result


# ---- which forms, read again --------------------------------------------------------------


def _due(store: Store) -> list[_Due]:
    """The latest return of every form that goes back: with errors and not decided otherwise, or decided 退回修改
    (or graded 中). A decision of 通过 or 不予支持 on that version keeps it here."""
    decisions = store.latest_decisions()
    due = []
    for form_id, entry in store.latest_returns():
        decision = decisions.get((form_id, entry.item_key))
        if _goes_back(entry, decision):
            due.append(_Due(form_id, entry, decision))
    return sorted(due, key=lambda d: (d.entry.department, d.entry.project, d.form_id))


def _goes_back(entry: HistoryEntry, decision: Decision | None) -> bool:
    if decision is None:
        return entry.status == Status.FIX
    return sent_back(decision)  # 退回修改, or graded 中 (财预〔2015〕88号): as status and remind say it


def _read_again(store: Store, due: _Due, registry: Registry) -> tuple[Declaration, list[Finding], list[str]] | str:
    """The return as the department submitted it, read and checked again, or why it cannot be. A path the store
    keeps relative (as report was given it) is looked for from here, then from the store's folder."""
    sources = store.sources(due.entry.item_key)
    if not sources:
        return "收件记录库中没有这份表所在文件的记录，请先重新运行 xlform report（带 --db）再生成。"
    reasons = []
    for recorded, sha, member in sources:
        where = f"{recorded}（压缩包内的 {member}）" if member else recorded
        path = recorded_file(recorded, store.path)
        if not path:
            relative = "" if os.path.isabs(recorded) else "（记录的是相对于当时运行 report 的文件夹的路径，请在那里运行）"
            reasons.append(f"交来的文件 {where} 已不在原处（被移走或删除）{relative}；请把它放回收件文件夹，"
                           "或重新运行 report 后再生成")
            continue
        source = Source(walk([Path(path)])[0])
        found = None
        for item in source.items():  # every member of a zip, within the report's own limits
            if found is None and item.data is not None and item_key(item) == due.entry.item_key:
                found = item
        if found is None or source.sha256 != sha:
            reasons.append(f"交来的文件 {where} 在收件后被改动过（内容与收件记录不符），退回的必须是部门交来的原件；"
                           "请重新运行 report 后再生成")
            continue
        checked = check_file(found.name, registry, found.data, found.name)
        if checked.declaration is None:
            reasons.append(f"交来的文件 {where} 重新读取时无法读取：{checked.error}")
            continue
        return checked.declaration, checked.findings, [path]
    return "；".join(dict.fromkeys(reasons)) + "。"


# ---- the package -------------------------------------------------------------------------


def _plan(read_back: list[tuple[_Due, Declaration, list[Finding], list[str]]], outdir: Path) -> list[_Planned]:
    """Each package's path: year, department, project and 退回修改, as distribute names the workbooks; a second
    form of the same name gets _2."""
    taken: dict[str, int] = {}
    plan = []
    for item, d, findings, _ in read_back:
        name = package_name(_year(d), item.entry.department, d.project.name, MARK)
        taken[name] = taken.get(name, 0) + 1
        if taken[name] > 1:
            name = name.removesuffix(".xlsx") + f"_{taken[name]}.xlsx"
        plan.append(_Planned(outdir / name, item, d, findings))
    return plan


def _year(d: Declaration) -> int:
    template = template_of(d)
    return d.identity.year or (template.year if template is not None else 0)


def _created(entry: HistoryEntry) -> datetime:
    """A fixed creation date for the files of one return: when it was received (same input, same bytes)."""
    try:
        return datetime.fromisoformat(entry.received_at).replace(tzinfo=None)
    except ValueError:
        return datetime(2000, 1, 1)


def _verdict(item: _Due) -> str:
    d = item.decision
    if d is None:
        return FormState.FIX
    return d.verdict + (f"（{d.grade}）" if d.grade else "")


def _notes(d: Declaration, findings: list[Finding], item: _Due) -> ReviewNotes:
    template = template_of(d)
    decision = item.decision
    opinion: list[tuple[str, str]] = [("审核结论", _verdict(item))]
    if decision is not None and decision.opinion:
        opinion.append(("审核意见", decision.opinion))
    marks = [(f.sheet, f.cell, f.text) for f in findings if f.cell]
    if decision is not None and template is not None:
        goals = layout_for(template).tables["indicators"]
        col = goals.col_of("name")
        for row, text in decision.indicator_opinions:
            opinion.append((f"指标审核意见（绩效目标表第 {row} 行）", text))
            if col is not None:
                marks.append((goals.sheet, f"{_letter(col)}{row}", f"指标审核意见：{text}"))
    opinion.append(("如何交回", HOW_TO_RETURN))
    rows = tuple((SEVERITY_LABEL[f.severity], rule_title(f.rule, template), f.where, f.value, f.message)
                 for f in findings)
    who = item.entry.department or d.identity.department
    title = f"{_year(d)} 年度 {who} · {d.project.name or '（未填项目名称）'} · 审核意见（{MARK}）"
    return ReviewNotes(title, tuple(opinion), rows, tuple(marks), _created(item.entry))


def _letter(col: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(col)


def _package(p: _Planned) -> bytes:
    template = template_of(p.declaration)
    if template is None:  # read by the reader: it always knows its template
        raise UserError(f"无法确定 {p.due.entry.name} 所用的模板。")
    buffer = io.BytesIO()
    write_workbook(template, buffer, p.declaration, notes=_notes(p.declaration, p.findings, p.due))
    return buffer.getvalue()


# ---- per department: the summary, the mail --------------------------------------------------


def _by_department(plan: list[_Planned]) -> dict[str, list[_Planned]]:
    out: dict[str, list[_Planned]] = {}
    for p in plan:
        out.setdefault(p.department, []).append(p)
    return out


def _department_name(planned: list[_Planned], what: str, suffix: str) -> str:
    """`2026_区教育局_审核意见.xlsx`, `2026_区教育局_退回修改.eml`."""
    first = planned[0]
    return f"{_year(first.declaration)}_{safe_file_part(first.department) or '未填填报单位'}_{what}{suffix}"


SUMMARY_HEADS = ("序号", "项目名称", "表单编号", "审核结论", "问题数", "审核意见", "退回文件")
SUMMARY_WIDTHS = (6, 26, 20, 17, 8, 50, 34)


def _summary(year: str, department: str, forms: list[Sent], created: datetime) -> bytes:
    """One page to print and sign: the department, and each form sent back with its count and the opinion."""
    buffer = io.BytesIO()
    wb = Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                           "strings_to_numbers": False})
    wb.set_properties({"title": f"{year} 年度 {department} 审核意见", "author": "财政局", "created": created})
    base = {"font_name": FONT, "font_size": 11, "valign": "vcenter", "text_wrap": True, "border": 1}
    title = wb.add_format({"font_name": TITLE_FONT, "font_size": 16, "bold": True, "align": "center",
                           "valign": "vcenter"})
    head = wb.add_format({**base, "bold": True, "bg_color": "#EDEDED", "align": "center"})
    cell = wb.add_format(base)
    ws = wb.add_worksheet(FEEDBACK_SHEET)
    for col, width in enumerate(SUMMARY_WIDTHS):
        ws.set_column(col, col, width)
    last = len(SUMMARY_HEADS) - 1
    ws.merge_range(0, 0, 0, last, f"{year} 年度 {department} 绩效目标申报表审核意见", title)
    ws.set_row(0, 30)
    ws.merge_range(1, 0, 1, last, f"共退回 {len(forms)} 份，请按各表第一张“审核意见”修改后交回。",
                   wb.add_format({"font_name": FONT, "font_size": 11, "valign": "vcenter"}))
    for col, text in enumerate(SUMMARY_HEADS):
        ws.write_string(2, col, text, head)
    ws.set_row(2, paper.ONE_LINE_PT)
    for i, s in enumerate(forms, start=1):
        row = 2 + i
        ws.write_number(row, 0, i, cell)
        texts = {1: s.project, 2: s.form_id, 3: s.verdict, 5: s.opinion, 6: s.path.name}
        for col, text in texts.items():
            ws.write_string(row, col, text, cell)
        ws.write_number(row, 4, s.findings, cell)
        # Rows written by a program are not grown by Excel, WPS or LibreOffice: sized here for the longest text.
        ws.set_row(row, max(paper.lines_pt(paper.text_lines(t, SUMMARY_WIDTHS[c])) for c, t in texts.items()))
    ws.merge_range(4 + len(forms), 0, 4 + len(forms), last, "财政局（盖章）            年    月    日",
                   wb.add_format({"font_name": FONT, "font_size": 11, "align": "right"}))
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # one page wide; a department with many forms goes on, its header repeated
    ws.repeat_rows(2)
    ws.center_horizontally()
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.protect("", {"format_columns": True, "format_rows": True})
    wb.close()
    return buffer.getvalue()


def _mail(year: str, department: str, forms: list[Sent], summary: Path, address: str, sender: str,
          created: datetime) -> bytes:
    """One mail a clerk opens in Outlook, Foxmail or Thunderbird and sends: Chinese subject and body, the
    packages and the summary attached (RFC 2231 file names). Its bytes depend only on what it carries."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = f"{year} 年度绩效目标申报表退回修改：{department}（{len(forms)} 份）"
    if sender:
        msg["From"] = sender
    if address:
        msg["To"] = address
    msg["Date"] = format_datetime(created.replace(tzinfo=BEIJING))
    msg["X-Unsent"] = "1"  # Outlook opens it as a draft ready to send
    lines = [f"{department}：", "",
             f"贵单位报送的 {year} 年度财政项目支出绩效目标申报表经审核，以下 {len(forms)} 份需修改后重新报送：", ""]
    for i, s in enumerate(forms, start=1):
        lines.append(f"{i}. {s.project or '（未填项目名称）'}：{s.findings} 个问题，{s.said}（附件 {s.path.name}）")
    lines += ["", HOW_TO_RETURN, f"审核意见汇总见附件 {summary.name}。", "", "财政局"]
    msg.set_content("\n".join(lines), charset="utf-8")
    attachments = [*(s.path for s in forms), summary]
    digest = hashlib.sha256()
    for path in attachments:
        data = path.read_bytes()
        digest.update(data)
        msg.add_attachment(data, maintype=XLSX_MIME[0], subtype=XLSX_MIME[1], filename=path.name)
    msg.set_boundary(f"xlform-{digest.hexdigest()[:32]}")
    return msg.as_bytes(policy=policy.SMTP)


# ---- the index, and writing --------------------------------------------------------------------


def _index(result: FeedbackResult) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(INDEX_HEADS)
    for s in result.sent:
        mail = result.mails.get(s.department)
        w.writerow([csv_safe(v) for v in (s.department, s.project, s.form_id, s.path.name, s.findings,
                                          result.emails.get(s.department, ""), mail.name if mail else "", "")])
    for n in result.not_sent:
        w.writerow([csv_safe(v) for v in (n.department, n.project, n.form_id, "", "", "", "", n.reason)])
    return out.getvalue().encode("utf-8-sig")


def _write(path: Path, data: bytes) -> None:
    """Atomically, and not at all when the file already holds these bytes (a repeat run keeps its times)."""
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    write_bytes_atomic(path, data)
