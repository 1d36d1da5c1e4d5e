"""Return packages (`xlform feedback`, `report --feedback`): a real round → report with a store → the packages,
opened with openpyxl and xlform's own reader, the mails parsed back, repeats, files gone or changed, and a
package corrected in LibreOffice coming back as the new version of its form."""

from __future__ import annotations

import email
import email.policy
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import fill_issued
from xlform.form.fields import FEEDBACK_SHEET
from xlform.form.model import Declaration
from xlform.form.template import load_template
from xlform.issue.distribute import DistributeResult, Issued, distribute, package_name
from xlform.issue.feedback import INDEX_NAME, MARK, write_feedback
from xlform.issue.roster import read_roster
from xlform.reading.reader import read
from xlform.report.run import make_report
from xlform.review.decisions import Decision, Verdict
from xlform.review.round import RETURNED_GRADE
from xlform.review.rules import check, rule_title
from xlform.store import Store
from xlform.writing.workbook import FIX_FILL

DAY = 86400
FIX_FILL_RGB = "FF" + FIX_FILL.lstrip("#")  # as openpyxl reports a fill colour
ROSTER = ("部门名称,部门编码,联系人,联系电话,电子邮箱\n"
          "区教育局,MH002,王晓静,64123456,jyj@example.gov.cn\n"
          "区民政局,MH004,陈敏,64120004,\n"
          "区卫生健康委,MH003,李建国,13800138003,wjw@example.gov.cn\n")


def _leader_and_contact_missing(d: Declaration) -> None:
    d.project.leader = ""
    d.project.contact = ""


@dataclass
class Round:
    root: Path
    roster: Path
    issued: DistributeResult
    inbox: Path
    db: Path
    education: Path  # the return with errors
    health: Path  # a clean return the reviewer sends back all the same

    def item(self, department: str) -> Issued:
        return next(i for i in self.issued.issued if i.department == department)

    def report(self, name: str = "汇总.xlsx") -> Path:
        out = self.root / name
        make_report([self.inbox], out, manifest=self.issued.folder, db=self.db, jobs=1, progress=False)
        return out


@pytest.fixture
def round_(tmp_path: Path) -> Round:
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    issued = distribute(roster, tmp_path / "下发", load_template("shanghai-2020"))
    inbox = tmp_path / "收件"
    past = time.time() - DAY
    r = Round(tmp_path, roster, issued, inbox, tmp_path / "收件.db", inbox / "区教育局.xlsx", inbox / "区卫生健康委.xlsx")
    fill_issued(issued, r.item("区教育局"), r.education, _leader_and_contact_missing, mtime=past)
    fill_issued(issued, r.item("区卫生健康委"), r.health, mtime=past)
    civil = fill_issued(issued, r.item("区民政局"), tmp_path / "区民政局.xlsx")
    with zipfile.ZipFile(inbox / "区民政局_附件.zip", "w") as zf:  # a clean return, mailed zipped
        zf.write(civil, "区民政局.xlsx")
    r.report()
    with Store(r.db) as store:
        (form_id, entry), = [(f, e) for f, e in store.latest_returns() if e.department == "区卫生健康委"]
        store.add_decisions([Decision(form_id, entry.item_key, Verdict.RETURN, "", "成本测算依据不足，请补充",
                                      ((12, "目标值应量化"),), "审核员", "2026-03-01T10:00:00", "report",
                                      "区卫生健康委", entry.project)])
    return r


def _feedback(r: Round, out: Path, *more: str) -> None:
    result = invoke(["feedback", "--db", r.db, "-o", out, "--roster", r.roster, *more])
    assert result.exit_code == 0, result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def _package(out: Path, department: str) -> Path:
    found, = out.glob(f"*_{department}_*_退回修改.xlsx")
    return found


def test_package_is_the_return_rewritten_with_its_findings_marked(round_: Round, tmp_path: Path) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out)
    original = read(round_.education)
    findings = [f for f in check(original) if f.cell]
    assert {f.rule for f in findings} >= {"required.field"} and findings
    package = _package(out, "区教育局")
    assert package.name == f"2020_区教育局_{original.project.name}_退回修改.xlsx"
    wb = openpyxl.load_workbook(package)
    assert wb.sheetnames[0] == FEEDBACK_SHEET and wb.active.title == FEEDBACK_SHEET
    for f in findings:
        cell = wb[f.sheet][f.cell]
        assert cell.fill.fgColor.rgb == FIX_FILL_RGB, f.where
        assert cell.protection.locked is False  # an input cell stays open to type into
        assert cell.comment is not None and f.message in cell.comment.text and cell.comment.author == "财政局审核"
    project = wb[findings[0].sheet]
    assert project.protection.sheet and wb.security.lockStructure
    assert project.data_validations.dataValidation  # the template's validations, whatever program they used
    untouched = wb[findings[0].sheet]["C4"]
    assert untouched.fill.fgColor.rgb != FIX_FILL_RGB
    review = [[c for c in row if c is not None] for row in wb[FEEDBACK_SHEET].iter_rows(values_only=True)]
    flat = [str(c) for row in review for c in row]
    for f in findings:
        assert rule_title(f.rule) in flat and f.where in flat and f.message in flat
    # Read back by xlform: the same form (表单编号, department, year, template), the same data and findings.
    again = read(package)
    assert again.identity == original.identity
    assert again.project == original.project and again.indicators == original.indicators
    assert [(f.rule, f.where) for f in check(again)] == [(f.rule, f.where) for f in check(original)]
    # The one sent back by decision carries the reviewer's opinion, its indicator's opinion at that row.
    health = openpyxl.load_workbook(_package(out, "区卫生健康委"))
    texts = [str(c) for row in health[FEEDBACK_SHEET].iter_rows(values_only=True) for c in row if c is not None]
    assert "退回修改" in texts and "成本测算依据不足，请补充" in texts and "目标值应量化" in texts
    assert not list(out.glob("*区民政局*"))  # clean and not sent back: nothing for it


def test_summary_is_one_printable_page_per_department(round_: Round, tmp_path: Path) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out)
    wb = openpyxl.load_workbook(out / "2020_区教育局_审核意见.xlsx")
    ws = wb.active
    assert ws["A1"].value == "2020 年度 区教育局 绩效目标申报表审核意见"
    setup = ws.page_setup  # fitTo 1 is the file format's default: written as nothing
    assert setup.paperSize == 9 and ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth in (None, 1)
    assert ws.print_title_rows == "$3:$3" and setup.fitToHeight == 0
    rows = list(ws.iter_rows(min_row=4, max_row=4, values_only=True))
    project, form_id, verdict, count, _, file = rows[0][1:7]
    assert project == read(round_.education).project.name
    assert form_id == round_.item("区教育局").form_id and verdict == "需修改（有错误）"
    assert count == len(check(read(round_.education))) and file == _package(out, "区教育局").name
    index = (out / INDEX_NAME).read_text(encoding="utf-8-sig").splitlines()
    assert index[0].split(",")[:6] == ["部门", "项目", "表单编号", "文件", "问题数", "邮箱"]
    assert any(line.startswith("区教育局,") and "jyj@example.gov.cn" in line for line in index)


def test_eml_parses_back_with_chinese_and_its_attachments_intact(round_: Round, tmp_path: Path) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out, "--eml", "--from", "czj@example.gov.cn")
    raw = (out / "2020_区教育局_退回修改.eml").read_bytes()
    assert raw.isascii() and b"\r\n" in raw  # RFC 5322 on the wire: 7-bit, CRLF; the Chinese encoded
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "2020 年度绩效目标申报表退回修改：区教育局（1 份）"
    assert msg["To"] == "jyj@example.gov.cn" and msg["From"] == "czj@example.gov.cn"
    body = msg.get_body(("plain",))
    assert body is not None and "区教育局：" in body.get_content() and "退回修改" in body.get_content()
    attached = {part.get_filename(): part for part in msg.iter_attachments()}
    package, summary = _package(out, "区教育局"), out / "2020_区教育局_审核意见.xlsx"
    assert set(attached) == {package.name, summary.name}
    for path in (package, summary):
        part = attached[path.name]
        assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert part.get_content() == path.read_bytes()
    assert re.search(r"filename\*(0\*)?=utf-8''", raw.decode())  # RFC 2231 (Thunderbird, Foxmail)
    # No address in the roster: the mail is still written, To left for the clerk.
    civil_free = email.message_from_bytes((out / "2020_区卫生健康委_退回修改.eml").read_bytes(),
                                          policy=email.policy.default)
    assert civil_free["To"] == "wjw@example.gov.cn"


@pytest.mark.parametrize("sender", ["a@b.cn\r\nBcc: e@x.cn", "not an address", "a@b.cn, evil@x.cn", "a@b.cn\nX: y",
                                    "预算科 <a@b.cn> <c@d.cn>", "a\x0bb <a@b.cn>", "ab\u2028cd <a@b.cn>",
                                    "ab\x1bc <a@b.cn>", "预\u202e科 <a@b.cn>", ""])
def test_a_sender_that_is_not_one_address_is_refused_before_anything_is_written(round_: Round, tmp_path: Path,
                                                                                sender: str) -> None:
    out = tmp_path / "退回"
    result = invoke(["feedback", "--db", round_.db, "-o", out, "--eml", "--from", sender])
    if not sender:  # no --from: the mail program fills it in
        assert result.exit_code == 0 and "From" not in (out / "2020_区教育局_退回修改.eml").read_text(encoding="ascii")
        return
    assert result.exit_code == 2 and "发件人" in result.stderr and "内部错误" not in result.output
    assert "\r" not in result.stderr and result.stderr.count("\n") == 1  # the line breaks shown, not printed
    assert not out.exists()


@pytest.mark.parametrize("sender", ["预算科 <czj@example.gov.cn>", "预算科<czj@example.gov.cn>", '"预算科" <czj@example.gov.cn>'])
def test_a_sender_with_a_display_name_is_one_from_header(round_: Round, tmp_path: Path, sender: str) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out, "--eml", "--from", sender)
    msg = email.message_from_bytes((out / "2020_区教育局_退回修改.eml").read_bytes(), policy=email.policy.default)
    assert msg["From"].addresses[0].display_name == "预算科" and msg["From"].addresses[0].addr_spec == "czj@example.gov.cn"


def test_a_repeat_run_writes_the_same_files_and_no_new_store_rows(round_: Round, tmp_path: Path) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out, "--eml")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    with Store(round_.db) as store:
        packages = store.packages()
    assert {p.department for p in packages} == {"区教育局", "区卫生健康委"}
    time.sleep(1.1)  # a second later: nothing the files hold may depend on when they were written
    _feedback(round_, out, "--eml")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    with Store(round_.db) as store:
        assert store.packages() == packages


def test_a_submitted_file_gone_or_changed_is_listed_with_a_reason(round_: Round, tmp_path: Path) -> None:
    round_.education.unlink()
    data = round_.health.read_bytes()
    round_.health.write_bytes(data + b"\0")  # changed after it was received
    out = tmp_path / "退回"
    result = write_feedback(round_.db, out, roster=round_.roster)
    assert not result.sent
    reasons = {n.department: n.reason for n in result.not_sent}
    assert "已不在原处" in reasons["区教育局"] and "被改动过" in reasons["区卫生健康委"]
    cli = invoke(["feedback", "--db", round_.db, "-o", tmp_path / "again"])
    assert cli.exit_code == 1 and "未生成：区教育局" in cli.output and "Traceback" not in cli.output + cli.stderr
    index = (out / INDEX_NAME).read_text(encoding="utf-8-sig")
    assert "已不在原处" in index and "被改动过" in index


def test_packages_are_never_written_among_the_returns(round_: Round) -> None:
    before = sorted(p.name for p in round_.inbox.iterdir())
    result = invoke(["feedback", "--db", round_.db, "-o", round_.inbox / "退回"])
    assert result.exit_code == 2 and "收件文件夹" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in round_.inbox.iterdir()) == before


def test_nothing_is_written_among_the_returns_even_when_no_return_could_be_read_again(round_: Round) -> None:
    """The inbox is known from the store, not only from the returns read back: with every return gone, the
    list of what could not be sent would have been written into the inbox, and read as a return next time."""
    for f in round_.inbox.glob("*.xlsx"):
        f.unlink()
    before = sorted(p.name for p in round_.inbox.iterdir())
    for args in (["feedback", "--db", round_.db, "-o", round_.inbox], ["feedback", "--db", round_.db, "-o", round_.inbox / "退回"],
                 ["remind", "--db", round_.db, "-o", round_.inbox / "催报.xlsx"]):
        result = invoke([str(a) for a in args])
        assert result.exit_code == 2 and "收件文件夹" in result.stderr, result.output
        assert result.stdout == ""  # refused before a reminder or a package is worked out
    assert sorted(p.name for p in round_.inbox.iterdir()) == before


def test_report_feedback_writes_the_same_packages(round_: Round, tmp_path: Path) -> None:
    _feedback(round_, tmp_path / "单独")
    result = invoke(["report", round_.inbox, "-o", tmp_path / "r.xlsx", "--manifest", round_.issued.folder,
                     "--db", round_.db, "--feedback", tmp_path / "随报告"])
    assert result.exit_code == 1 and "退回修改包：2 个部门 2 份" in result.output, result.output + result.stderr
    alone = {p.name: p.read_bytes() for p in (tmp_path / "单独").iterdir() if p.name != INDEX_NAME}
    assert {p.name: p.read_bytes() for p in (tmp_path / "随报告").iterdir() if p.name != INDEX_NAME} == alone
    assert "jyj@example.gov.cn" not in (tmp_path / "随报告" / INDEX_NAME).read_text(encoding="utf-8-sig")  # no roster
    no_store = invoke(["report", round_.inbox, "-o", tmp_path / "r2.xlsx", "--feedback", tmp_path / "x"])
    assert no_store.exit_code == 2 and "--db" in no_store.stderr


def test_roster_email_column_is_found_by_its_usual_names(tmp_path: Path) -> None:
    for head in ("邮箱", "电子邮箱", "E-mail", "email"):
        path = tmp_path / f"{head}.csv"
        path.write_text(f"部门名称,{head}\n区教育局,a@b.cn\n", encoding="utf-8")
        assert read_roster(path)[0].email == "a@b.cn"
    bad = tmp_path / "bad.csv"
    bad.write_text("部门名称,邮箱\n区教育局,a@b.cn\\nBcc: x@y.cn\n", encoding="utf-8")
    with pytest.raises(Exception, match="不是有效的电子邮件地址"):
        read_roster(bad)


@pytest.mark.libreoffice
def test_a_package_corrected_in_libreoffice_supersedes_the_return(round_: Round, tmp_path: Path) -> None:
    from tests.lo import fill_cells

    out = tmp_path / "退回"
    _feedback(round_, out)
    package = _package(out, "区教育局")
    to_fix = [f for f in check(read(round_.education)) if f.rule == "required.field"]
    typed = {f.sheet: {} for f in to_fix}
    for f, name in zip(to_fix, ("张伟", "李娜"), strict=False):
        typed[f.sheet][f.cell] = name
    corrected = round_.inbox / "重新提交" / "区教育局_已修改.xlsx"
    fill_cells(package, corrected, typed)
    report = round_.report("第二次.xlsx")
    wb = openpyxl.load_workbook(report)
    header, *rows = wb["汇总"].iter_rows(values_only=True)
    by_form = [dict(zip(header, r, strict=True)) for r in rows]
    form_id = round_.item("区教育局").form_id
    mine = [r for r in by_form if r.get("表单编号") == form_id]
    assert len(mine) == 1 and mine[0]["状态"] == "通过", mine
    assert str(mine[0]["文件"]).endswith("区教育局_已修改.xlsx")
    superseded = [r for r in wb["被替代版本"].iter_rows(min_row=2, values_only=True) if r and r[0]]
    assert any("区教育局.xlsx" in " ".join(map(str, r)) for r in superseded)
    again = read(corrected)
    assert again.identity.form_id == form_id and not [f for f in check(again) if f.severity == "error"]


def test_summary_carries_the_reviewers_opinion(round_: Round, tmp_path: Path) -> None:
    out = tmp_path / "退回"
    _feedback(round_, out)
    ws = openpyxl.load_workbook(out / "2020_区卫生健康委_审核意见.xlsx").active
    row = next(ws.iter_rows(min_row=4, max_row=4, values_only=True))
    assert row[3] == "退回修改" and row[5] == "成本测算依据不足，请补充"


def test_package_names_are_safe_file_names() -> None:
    name = package_name(2026, "区教育局", "校舍/维修:一期*", MARK)
    assert name == "2026_区教育局_校舍_维修_一期__退回修改.xlsx"
    assert package_name(2026, "区教育局", " ", MARK) == "2026_区教育局_绩效目标申报表_退回修改.xlsx"


def test_nothing_to_send_back_is_said_plainly(tmp_path: Path) -> None:
    with Store(tmp_path / "空.db"):
        pass
    result = invoke(["feedback", "--db", tmp_path / "空.db", "-o", tmp_path / "退回"])
    assert result.exit_code == 0 and "没有需要退回修改的表" in result.output
    missing = invoke(["feedback", "--db", tmp_path / "无.db", "-o", tmp_path / "退回"])
    assert missing.exit_code == 2 and "找不到收件记录库" in missing.stderr and not (tmp_path / "无.db").exists()


def test_a_return_mailed_in_a_zip_is_taken_from_the_zip(round_: Round, tmp_path: Path) -> None:
    with Store(round_.db) as store:
        (form_id, entry), = [(f, e) for f, e in store.latest_returns() if e.department == "区民政局"]
        assert entry.name.endswith(".zip/区民政局.xlsx")
        store.add_decisions([Decision(form_id, entry.item_key, Verdict.PASS, RETURNED_GRADE, "目标偏低", (), "审核员",
                                      "2026-03-01T10:00:00", "report", "区民政局", entry.project)])
    out = tmp_path / "退回"
    _feedback(round_, out)
    package = _package(out, "区民政局")  # graded 中: back for another review, though 通过
    assert read(package).identity.form_id == form_id == round_.item("区民政局").form_id
    texts = [c for row in openpyxl.load_workbook(package)[FEEDBACK_SHEET].iter_rows(values_only=True) for c in row]
    assert "通过（中）" in texts and "目标偏低" in texts


def test_relative_paths_the_store_keeps_are_found_beside_it(round_: Round, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # report run inside the round's folder: the store keeps 收件/区教育局.xlsx
    db = Path("相对.db")
    make_report([Path("收件")], Path("相对.xlsx"), manifest=Path("下发"), db=db, jobs=1, progress=False)
    elsewhere = tmp_path / "别处"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = write_feedback(tmp_path / db, Path("退回"))
    assert {s.department for s in result.sent} == {"区教育局"} and not result.not_sent


def test_relative_paths_recorded_from_a_folder_above_the_store_are_found(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`xlform demo` records xlform-demo/收件/… in xlform-demo/收件记录.db: found from inside the folder, and
    after the folder is moved whole."""
    monkeypatch.chdir(tmp_path)
    assert invoke(["demo"]).exit_code == 0
    monkeypatch.chdir(tmp_path / "xlform-demo")
    inside = invoke(["feedback", "--db", "收件记录.db", "-o", "退回2"])
    assert inside.exit_code == 0 and "未生成" not in inside.output, inside.output
    moved = tmp_path / "搬走" / "演示"
    moved.parent.mkdir()
    (tmp_path / "xlform-demo").rename(moved)
    monkeypatch.chdir(tmp_path / "搬走")
    again = invoke(["feedback", "--db", str(moved / "收件记录.db"), "-o", "退回3"])
    assert again.exit_code == 1 and "已不在原处" in again.output  # xlform-demo/… is nowhere above the store now
    monkeypatch.chdir(moved)
    written = {p.name for p in Path("退回2").glob("*_退回修改.xlsx")}  # those still due after the demo's resubmission
    assert written and written < {p.name for p in (moved / "退回修改").glob("*_退回修改.xlsx")}


def test_report_with_a_manifest_and_feedback_takes_the_mail_addresses_from_the_roster(round_: Round,
                                                                                      tmp_path: Path) -> None:
    """The round is checked against its manifest; the roster given with --feedback only addresses the mails."""
    out = tmp_path / "退回"
    r = invoke(["report", round_.inbox, "-o", tmp_path / "汇总2.xlsx", "--manifest", round_.issued.folder,
                "--db", round_.db, "--feedback", out, "--eml", "--roster", round_.roster])
    assert r.exit_code == 1 and "只能选一个" not in r.output, r.output
    mail = email.message_from_bytes((out / "2020_区教育局_退回修改.eml").read_bytes(), policy=email.policy.default)
    assert mail["To"] == "jyj@example.gov.cn"
    r = invoke(["report", round_.inbox, "-o", tmp_path / "汇总3.xlsx", "--manifest", round_.issued.folder,
                "--roster", round_.roster])
    assert r.exit_code == 2 and "只能选一个" in r.stderr  # without --feedback the two still conflict


def test_an_inbox_whose_returns_all_sit_in_subfolders_is_still_never_written_into(tmp_path: Path) -> None:
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称\n区教育局\n区民政局\n", encoding="utf-8")
    issued = distribute(roster, tmp_path / "下发", load_template("shanghai-2020"))
    inbox = tmp_path / "收件"
    (inbox / "区教育局").mkdir(parents=True)
    (inbox / "区教育局" / "交来的.xlsx").write_bytes((issued.folder / issued.issued[0].file).read_bytes())
    db = tmp_path / "记录.db"
    assert invoke(["report", inbox, "-o", tmp_path / "r.xlsx", "--db", db, "--roster", roster]).exit_code in (0, 1)
    for args in (["remind", "--db", db, "-o", inbox / "催报.xlsx"], ["feedback", "--db", db, "-o", inbox / "退回"]):
        result = invoke([str(a) for a in args])
        assert result.exit_code == 2 and "收件文件夹" in result.stderr, result.output
    assert sorted(p.name for p in inbox.rglob("*")) == ["交来的.xlsx", "区教育局"]
