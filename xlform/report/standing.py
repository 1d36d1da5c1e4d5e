"""`xlform status` and `xlform remind`: where the round stands, from the store alone.

The store keeps what the last report knew of the round (review/round.RoundFacts: who was expected, with
their contacts, the latest return of each form, the unreadable files attributed to a department) and
every decision and package since; the states are computed by review/round.form_lines, as the report
computes them. What arrived in the inboxes after that report is not known until `report` runs again.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..fileio import refuse_overwriting_inputs
from ..review.decisions import Decision
from ..review.round import Chase, FormLine, RoundFacts, form_lines, state_counts, who_must_act
from ..review.status import FormState
from ..store import Store, existing_store, inbox_folders, store_files
from .result import Column, Heading, Table

# The JSON name of each state (`status --format json`): a contract, like the Chinese words.
STATE_CODES: dict[FormState, str] = {
    FormState.MISSING: "missing", FormState.UNREADABLE: "unreadable", FormState.PENDING: "pending",
    FormState.FIX: "fix", FormState.RETURNED: "returned", FormState.RESUBMITTED: "resubmitted",
    FormState.PASSED: "passed", FormState.REJECTED: "rejected",
}


@dataclass
class Standing:
    facts: RoundFacts
    lines: list[FormLine]
    last: dict[tuple[str, str], Decision]  # (form id, project) → its last decision (any version of that project)

    def last_of(self, line: FormLine) -> Decision | None:
        """The last decision on the line's form: on its project (a form used for two projects has one each), else
        on any version of the form (one decided before the project was named)."""
        if not line.form_id:
            return None
        return self.last.get((line.form_id, line.project)) or self.last.get((line.form_id, ""))


def standing(db: Path) -> Standing:
    """The round as the store knows it. UserError when there is no store, or no report has run on it."""
    db = existing_store(db)
    with Store(db) as store:
        state = store.round_state()
        if state is None and store.latest_returns():  # returns collected by a version before status existed
            raise UserError(f"收件记录库 {db} 中的收件记录是旧版本的 xlform 汇总的，其中没有各表的状态；请用本版本重新运行 "
                            f"xlform report 收件文件夹 -o 报告.xlsx --db {db}（带上 --roster 或 --manifest）后再查看。")
        if state is None:
            raise UserError(f"收件记录库 {db} 中还没有汇总记录；请先运行 xlform report 收件文件夹 -o 报告.xlsx --db {db}。")
        facts = RoundFacts.stored(state)
        if facts is None:
            raise UserError(f"收件记录库 {db} 中的汇总记录无法识别（由其他版本的 xlform 写入）；请重新运行 xlform report。")
        lines = form_lines(facts, store.latest_decisions(), store.packages())
        last: dict[tuple[str, str], Decision] = {}
        for d in store.decisions():  # oldest first: the last one of each stays
            last[(d.form_id, d.project)] = last[(d.form_id, "")] = d
    return Standing(facts, lines, last)


# ---- status --------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Columns a text takes in a terminal: two for each wide (CJK) character."""
    if text.isascii():  # form ids, counts, dates: most cells
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16]


def _decided(d: Decision | None) -> str:
    if d is None:
        return ""
    grade = f"（{d.grade}）" if d.grade else ""
    return f"{d.verdict}{grade} {d.reviewer} {_when(d.decided_at)}".strip()


def status_text(s: Standing) -> list[str]:
    heads = ["部门", "项目", "表单编号", "状态", "错误", "提示", "最近审核"]
    rows = [[line.department, line.project or ("（" + line.file + "）" if line.file else ""), line.form_id,
             line.state, str(line.errors) if line.item_key else "", str(line.warnings) if line.item_key else "",
             _decided(s.last_of(line))] for line in s.lines]
    measured: dict[str, int] = {}  # departments and states recur thousands of times: each text measured once
    for text in (*heads, *(v for r in rows for v in r)):
        if text not in measured:
            measured[text] = _width(text)
    widths = [max(measured[r[i]] for r in [heads, *rows]) for i in range(len(heads))]
    out = ["  ".join(v + " " * (w - measured[v]) for v, w in zip(r, widths, strict=True)).rstrip() for r in [heads, *rows]]
    counts = state_counts(s.lines)
    out.append(f"合计 {len(s.lines)} 份：" + ("，".join(f"{state} {n}" for state, n in counts.items()) or "无"))
    known = "" if s.facts.expected_known else "（汇总时未给 --roster 或 --manifest，无法列出未提交的部门）"
    newest = f"（其中最新的文件收到于 {_when(s.facts.newest)}）" if s.facts.newest else ""
    out.append(f"据最近一次汇总{newest}及之后记录的审核结论{known}；之后收到的文件要再运行 xlform report 才会列入。")
    return out


def status_json(s: Standing) -> dict[str, Any]:
    def decision(d: Decision | None, line: FormLine) -> dict[str, Any] | None:
        if d is None:
            return None
        return {"verdict": str(d.verdict), "grade": d.grade, "opinion": d.opinion, "reviewer": d.reviewer,
                "decided_at": d.decided_at, "for_latest_version": d.item_key == line.item_key}

    forms = [{
        "department": line.department, "project": line.project, "form_id": line.form_id,
        "status": str(line.state), "status_code": STATE_CODES[line.state], "errors": line.errors,
        "warnings": line.warnings, "file": line.file, "received": line.received, "reason": line.reason,
        "last_decision": decision(s.last_of(line), line),
    } for line in s.lines]
    counts = state_counts(s.lines)
    return {"newest_received": s.facts.newest, "expected_known": s.facts.expected_known, "forms": forms,
            "counts": {code: counts.get(state, 0) for state, code in STATE_CODES.items()}, "total": len(s.lines)}


# ---- remind --------------------------------------------------------------------------------


def _task(line: FormLine) -> str:
    """What one form needs from its department, in a sentence."""
    name = f"《{line.project}》" if line.project else "申报表"
    if line.state is FormState.MISSING:
        return "尚有 1 份申报表未提交" + (f"（表单编号 {line.form_id}）" if line.form_id else "") + "，请填写后交回"
    if line.state is FormState.UNREADABLE:
        return f"交回的文件“{line.file}”无法读取（{line.reason.rstrip('。')}），请处理后重新提交"
    if line.state is FormState.FIX:
        return f"{name}有 {line.errors} 处错误，请按问题清单修改后重新提交"
    opinion = line.decision.opinion if line.decision is not None else ""
    return f"{name}已退回修改" + (f"，审核意见：{opinion.rstrip('。')}" if opinion else "") + "，请修改后重新提交"


def _tasks(chase: Chase) -> list[str]:
    missing = [line for line in chase.lines if line.state is FormState.MISSING]
    tasks = [f"尚有 {len(missing)} 份申报表未提交，请填写后交回"] if len(missing) > 1 else []
    return tasks + [_task(line) for line in chase.lines if not (len(missing) > 1 and line.state is FormState.MISSING)]


def reminder_text(chase: Chase, deadline: date | None) -> str:
    """A message ready to paste (who, what is missing or wrong, by when)."""
    d = chase.department
    by = f"请于 {deadline.isoformat()} 前" if deadline else "请尽快"
    tasks = _tasks(chase)
    body = "\n".join(f"{i}. {t}。" for i, t in enumerate(tasks, start=1))
    who = "、".join(x for x in (d.contact, d.phone) if x)
    return f"{d.name}{'（' + who + '）' if who else ''}：\n您好！绩效目标申报{by}完成以下事项：\n{body}\n如有疑问请与财政局联系。谢谢！"


def summary_lines(chases: list[Chase], db: Path | None = None, limit: int = 5) -> list[str]:
    """The short list `report` ends with: a few departments and what each must do (the reminders themselves:
    `xlform remind` on the store the report was made with, which a report without --db has not)."""
    if not chases:
        return []
    more = f"xlform remind --db {db} 列出催报文字" if db is not None else "汇总时加 --db 记录库，即可用 xlform remind 列出催报文字"
    out = [f"需催报 {len(chases)} 个部门（{more}）："]
    for chase in chases[:limit]:
        counts = state_counts(chase.lines)
        d = chase.department
        who = "，".join(x for x in (d.contact, d.phone) if x)
        out.append(f"  {d.name}{'（' + who + '）' if who else ''}：" + "，".join(f"{s} {n} 份" for s, n in counts.items()))
    if len(chases) > limit:
        out.append(f"  ……另有 {len(chases) - limit} 个部门")
    return out


def reminders_table(chases: list[Chase], deadline: date | None) -> Table:
    columns = [Column("部门", "department", width=18, identifies=True), Column("联系人", "contact", width=10),
               Column("联系电话", "phone", width=14), Column("未提交", "missing", "int", 7),
               Column("无法读取", "unreadable", "int", 8), Column("需修改", "fix", "int", 7),
               Column("已退回", "returned", "int", 7), Column("催报内容", "text", "wrapped", 80),
               Column("截止日期", "deadline", "date", 11)]
    rows = []
    for chase in chases:
        counts = state_counts(chase.lines)
        d = chase.department
        rows.append([d.name, d.contact, d.phone, *(counts.get(s, 0) for s in
                                                    (FormState.MISSING, FormState.UNREADABLE, FormState.FIX,
                                                     FormState.RETURNED)),
                     reminder_text(chase, deadline), deadline])
    return Table("催报", "reminders", columns, rows)


def check_reminders_output(output: Path, db: Path) -> None:
    """Where the 催报 sheet may go, asked before anything is worked out or printed: an .xlsx, not the store,
    not among the returns (the next report would read it as one)."""
    if output.suffix.lower() != ".xlsx":
        raise UserError(f"催报表 {output} 应以 .xlsx 结尾。")
    if output.is_dir():
        raise UserError(f"“{output}”是一个文件夹；请用 -o 给出文件名，例如 -o {output / '催报.xlsx'}")
    refuse_overwriting_inputs([(output, "催报表")], [(p, "收件记录库") for p in store_files(db)]
                              + [(p, "收件文件夹") for p in inbox_folders(db)])


def write_reminders(chases: list[Chase], deadline: date | None, output: Path, db: Path) -> None:
    """The printable 催报 sheet (A4 landscape, as every sheet of the report)."""
    from .files import write_xlsx

    check_reminders_output(output, db)
    try:
        write_xlsx([reminders_table(chases, deadline)], output, "元", Heading())
    except OSError as exc:
        from ..fileio import os_reason

        raise UserError(f"无法写入 {output}：{os_reason(exc)}") from None


def remind(db: Path, deadline: date | None = None) -> tuple[Standing, list[Chase]]:
    s = standing(db)
    return s, who_must_act(s.facts, s.lines)
