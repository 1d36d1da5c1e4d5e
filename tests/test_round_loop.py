"""One round from start to end, as a bureau runs it, through the real command line, a real SQLite store and a real
LibreOffice: distribute → returns (one typed in LibreOffice) → report → decisions typed into 审核 → review →
feedback with mails → the package corrected in LibreOffice → report (已重新提交, 修改情况, findings fixed, the
decision history) → an unchanged resubmission flagged → the mail parsed back."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import field_ref, fill_blank
from tests.lo import fill_cells, require_soffice, resave
from tests.test_review_loop import _cell, _sheet
from xlform.form.model import Declaration
from xlform.form.template import load_template
from xlform.issue.distribute import Issued, read_manifest
from xlform.reading.reader import read
from xlform.review.decisions import Verdict
from xlform.review.rules import check
from xlform.review.status import FormState
from xlform.store import Store
from xlform.writing.workbook import FIX_FILL, REVIEW_AUTHOR

DAY = 86400
RED = "FF" + FIX_FILL.lstrip("#")  # as openpyxl reports a fill colour
ROSTER = ("部门名称,部门编码,联系人,联系电话,邮箱\n"
          "区教育局,001,王敏,64120001,jyj@example.gov.cn\n"
          "区民政局,002,陈敏,64120002,mzj@example.gov.cn\n"
          "区卫生健康委,003,李建国,64120003,wjw@example.gov.cn\n")
OPINION = "财政拨款与上级、本级、下级之和不符，请核对本级财政安排"
INDICATOR_OPINION = "完成率应写明统计口径"
FIXED = {"f_leader": "张伟", "f_contact": "李娜"}  # what the department types into the red cells


def _no_leader_or_contact(d: Declaration) -> None:
    d.project.leader = d.project.contact = ""  # two required fields left empty: two cells to fix


def _typed_return(blank: Path, goals: str) -> dict[str, dict[str, Any]]:
    """What 区教育局's clerk types into the issued blank (the unit is prefilled and locked)."""
    wb = openpyxl.load_workbook(blank)
    first = int(field_ref(wb, "t_indicators")[1].split(":")[0].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return {
        "*": {"name:f_name": "校园安全监控系统维护", "name:f_category": "经常性项目", "name:f_leader": "王敏",
              "name:f_contact": "李强", "name:f_phone": "021-64871234", "name:f_start_date": "2020-01-01",
              "name:f_end_date": "2020-12-31", "name:f_total": "500000", "name:f_current_year": "300000",
              "name:f_fiscal": "300000", "name:f_fiscal_local": "300000", "name:f_other": "0",
              "name:f_annual_goal": "监控设备完好率达到98%以上。"},
        goals: {f"B{first}": "产出目标", f"C{first}": "数量", f"D{first}": "监控设备完好率", f"E{first}": "98%"},
    }


def _report(inbox: Path, out: Path, issued: Path, db: Path, *more: str) -> str:
    r = invoke(["report", inbox, "-o", out, "--manifest", issued, "--db", db, "--jobs", "1", *more])
    assert r.exit_code in (0, 1) and "Traceback" not in r.output, r.output
    return r.output


def _status(db: Path) -> dict[str, dict[str, Any]]:
    r = invoke(["status", "--db", db, "--format", "json"])
    assert r.exit_code == 0, r.output
    return {f["department"]: f for f in json.loads(r.stdout)["forms"]}


def _at(path: Path, when: float) -> Path:
    os.utime(path, (when, when))
    return path


@pytest.mark.libreoffice
def test_a_round_from_distribution_to_a_corrected_resubmission(tmp_path: Path) -> None:
    require_soffice()
    now = time.time()
    roster, issued, inbox, db = tmp_path / "部门名单.csv", tmp_path / "下发", tmp_path / "收件", tmp_path / "收件记录.db"
    roster.write_text(ROSTER, encoding="utf-8")
    goals = load_template("shanghai-2020").sheets["goals"]

    # Day 1: distribute, one workbook per department.
    r = invoke(["distribute", roster, "-o", issued])
    assert r.exit_code == 0, r.output
    forms: dict[str, Issued] = {i.department: i for i in read_manifest(issued)}
    assert sorted(forms) == ["区卫生健康委", "区教育局", "区民政局"]

    # Returns: 区教育局 typed in LibreOffice, 区民政局 without its leader and contact, 区卫生健康委 clean.
    education = inbox / "区教育局.xlsx"
    fill_cells(issued / forms["区教育局"].file, education, _typed_return(issued / forms["区教育局"].file, goals))
    _at(education, now - 4 * DAY)
    civil = fill_blank(issued / forms["区民政局"].file, inbox / "区民政局.xlsx", _no_leader_or_contact, mtime=now - 4 * DAY)
    fill_blank(issued / forms["区卫生健康委"].file, inbox / "区卫生健康委.xlsx", mtime=now - 4 * DAY)
    typed = read(education)
    assert (typed.identity.form_id, typed.project.unit, typed.project.name) == (
        forms["区教育局"].form_id, "区教育局", "校园安全监控系统维护")
    civil_findings = [f for f in check(read(civil)) if f.severity == "error"]
    assert [f.rule for f in civil_findings] == ["required.field", "required.field"]

    first = tmp_path / "汇总1.xlsx"
    _report(inbox, first, issued, db)
    review = {row["部门"]: row for row in _sheet(first, "审核")}
    assert review["区民政局"]["审核状态"] == str(FormState.FIX) and review["区民政局"]["错误数"] == 2
    assert review["区卫生健康委"]["审核状态"] == str(FormState.PENDING) and review["区卫生健康委"]["错误数"] == 0
    assert review["区教育局"]["表单编号"] == forms["区教育局"].form_id

    # 审核: decisions typed into the report in LibreOffice, read back.
    decided = tmp_path / "汇总1_已审核.xlsx"
    fill_cells(first, decided, {
        "审核": {_cell(first, "审核", "区民政局", "审核结论"): str(Verdict.RETURN),
                 _cell(first, "审核", "区民政局", "审核意见"): OPINION,
                 _cell(first, "审核", "区卫生健康委", "审核结论"): str(Verdict.PASS)},
        "指标明细": {_cell(first, "指标明细", "区民政局", "指标审核意见"): INDICATOR_OPINION}})
    r = invoke(["review", decided, "--db", db])
    assert r.exit_code == 0 and "已记录 2 条审核结论；0 条未变" in r.stdout, r.output
    assert _status(db)["区民政局"]["status_code"] == "returned"
    # 催报: who must act, with the roster's contact, the reviewer's opinion and the deadline.
    r = invoke(["remind", "--db", db, "--deadline", "2020-03-10"])
    assert r.exit_code == 0, r.output
    assert "区民政局（陈敏、64120002）：" in r.stdout and f"已退回修改，审核意见：{OPINION.rstrip('。')}" in r.stdout
    assert "请于 2020-03-10 前" in r.stdout and "区教育局（王敏、64120001）：" in r.stdout
    assert "区卫生健康委" not in r.stdout  # passed: nothing to chase

    # 退回: a package per department to fix (区民政局 sent back, 区教育局 has errors), a mail each.
    out = tmp_path / "退回修改"
    r = invoke(["feedback", "--db", db, "-o", out, "--eml", "--roster", roster])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    package, = out.glob("*_区民政局_*_退回修改.xlsx")
    assert package.name == f"2020_区民政局_{read(civil).project.name}_退回修改.xlsx"
    assert not list(out.glob("*_区卫生健康委_*"))  # passed: nothing goes back

    # The department opens its package in LibreOffice: the cells to fix are red, each with its finding.
    opened = resave(package, tmp_path / "部门打开")
    wb = openpyxl.load_workbook(opened)
    assert [(f.sheet, f.cell) for f in civil_findings] == [field_ref(wb, name) for name in FIXED]
    for finding in civil_findings:
        cell = wb[finding.sheet][finding.cell]
        assert cell.fill.fgColor.rgb == RED and cell.protection.locked is False
        assert cell.comment is not None and cell.comment.text.strip() == finding.text
        assert finding.message in finding.text
        as_written = openpyxl.load_workbook(package)[finding.sheet][finding.cell].comment
        assert as_written is not None and as_written.author == REVIEW_AUTHOR  # LibreOffice keeps no comment author
    indicator_rows = [c for row in wb[goals].iter_rows() for c in row if c.comment is not None]
    assert [c.comment.text.strip() for c in indicator_rows] == [f"指标审核意见：{INDICATOR_OPINION}"]
    assert wb[goals].cell(indicator_rows[0].row, 2).value  # on the indicator's own row
    sheet, phone = field_ref(wb, "f_phone")
    untouched = wb[sheet][phone]
    assert untouched.fill.fgColor.rgb != RED and untouched.comment is None

    # 重新提交: the correction typed into the red cell, saved into the inbox.
    corrected = inbox / "重新提交" / "区民政局_已修改.xlsx"
    typed_in: dict[str, dict[str, Any]] = {}
    for f, value in zip(civil_findings, FIXED.values(), strict=True):
        typed_in.setdefault(f.sheet, {})[f.cell] = value
    fill_cells(package, corrected, typed_in)
    _at(corrected, now - 2 * DAY)
    second = tmp_path / "汇总2.xlsx"
    output = _report(inbox, second, issued, db)
    assert "重新提交 1 份（修改情况见报告）" in output and "未作修改" not in output
    review = {row["部门"]: row for row in _sheet(second, "审核")}
    assert review["区民政局"]["审核状态"] == str(FormState.RESUBMITTED) and review["区民政局"]["审核结论"] is None
    summary = {row["部门"]: row for row in _sheet(second, "汇总") if row["部门"] != "合计"}
    assert summary["区民政局"]["审核状态"] == str(FormState.RESUBMITTED) and summary["区民政局"]["状态"] == "通过"
    assert str(summary["区民政局"]["文件"]).endswith("区民政局_已修改.xlsx")
    changes = [c for c in _sheet(second, "修改情况") if c["部门"] == "区民政局"]
    assert [(c["类别"], c["表/字段"], c["原内容"], c["现内容"]) for c in changes if c["类别"] == "修改字段"] == [
        ("修改字段", "项目负责人", None, "张伟"), ("修改字段", "联系人", None, "李娜")]
    sent_back = [c for c in changes if c["类别"] == "原问题"]
    assert [(c["原问题"], c["原内容"], c["是否已改正"]) for c in sent_back] == [
        (f"必填项未填写（{f.where}）", f.message, "是") for f in civil_findings]
    state = _status(db)["区民政局"]
    assert (state["status"], state["status_code"], state["errors"]) == (str(FormState.RESUBMITTED), "resubmitted", 0)
    last = state["last_decision"]
    assert (last["verdict"], last["opinion"], last["for_latest_version"]) == (str(Verdict.RETURN), OPINION, False)

    # The corrected version passes review: the history keeps both decisions.
    passed = tmp_path / "汇总2_已审核.xlsx"
    fill_cells(second, passed, {"审核": {_cell(second, "审核", "区民政局", "审核结论"): str(Verdict.PASS)}})
    r = invoke(["review", passed, "--db", db])
    assert r.exit_code == 0 and "已记录 1 条审核结论" in r.stdout, r.output
    with Store(db) as store:
        history = store.decisions(forms["区民政局"].form_id)
    assert [(d.verdict, d.opinion) for d in history] == [(Verdict.RETURN, OPINION), (Verdict.PASS, "")]
    assert history[0].item_key != history[1].item_key and all(d.reviewer and d.decided_at for d in history)
    assert [text for _, text in history[0].indicator_opinions] == [INDICATOR_OPINION]
    state = _status(db)["区民政局"]
    assert state["status_code"] == "passed" and state["last_decision"]["for_latest_version"] is True

    # 区教育局 sends its package back re-saved in LibreOffice, not a cell changed: 未作修改.
    education_package, = out.glob("*_区教育局_*_退回修改.xlsx")
    unchanged = inbox / "区教育局_重新提交.xlsx"
    shutil.copyfile(resave(education_package, tmp_path / "原样另存"), unchanged)
    _at(unchanged, now - DAY)
    third = tmp_path / "汇总3.xlsx"
    output = _report(inbox, third, issued, db)
    assert "未作修改：区教育局" in output and "其中 1 份未作修改" in output, output
    [flag] = [p for p in _sheet(third, "问题清单") if p["规则"] == "round.unchanged_resubmission"]
    assert flag["部门"] == "区教育局" and flag["级别"] == "提示" and "区教育局.xlsx" in str(flag["说明"])
    kept = [c for c in _sheet(third, "修改情况") if c["部门"] == "区教育局"]
    assert kept[0]["类别"] == "未作修改" and kept[1:] and {c["类别"] for c in kept[1:]} == {"原问题"}
    assert {c["是否已改正"] for c in kept[1:]} == {"否"}  # every finding sent back is still there

    # The mail to 区民政局 parses back: Chinese subject, the roster's address, the package attached unchanged.
    mail, = out.glob("*_区民政局_退回修改.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "2020 年度绩效目标申报表退回修改：区民政局（1 份）"
    assert msg["To"] == "mzj@example.gov.cn"
    body = msg.get_body(("plain",))
    assert body is not None and "区民政局：" in body.get_content() and package.name in body.get_content()
    attached = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert attached[package.name] == package.read_bytes()
    assert set(attached) == {package.name, "2020_区民政局_审核意见.xlsx"}
