"""The review loop: report → decisions typed into its 审核 sheet (LibreOffice) → `xlform review` → the store →
the next report prefilled; `status` and `remind` from the store; the edited report read as untrusted input."""

from __future__ import annotations

import io
import json
import os
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from tests.cli_runner import invoke
from tests.helpers import clean_sample, fill_issued
from tests.lo import fill_cells
from xlform.form.model import Declaration
from xlform.form.template import TemplateError, load_template, parse_template, templates_dir
from xlform.issue.distribute import DistributeResult, Issued, distribute
from xlform.issue.roster import Department
from xlform.reading.reader import Registry, read
from xlform.review.decisions import Decision, Package, Verdict
from xlform.review.round import Awaited, RoundFacts, UnreadFile, Version, form_lines, form_state, who_must_act
from xlform.review.status import FormState
from xlform.store import Store
from xlform.writing.workbook import write_workbook

DEPARTMENTS = [Department("区教育局", "001", "张三", "64120001", 2), Department("区民政局", "002", "李四", "64120002"),
               Department("区卫生健康委", "003")]
T0 = 1_700_000_000


@pytest.fixture
def issued(tmp_path: Path) -> DistributeResult:
    return distribute(DEPARTMENTS, tmp_path / "下发", load_template("shanghai-2020"))


def _forms(issued: DistributeResult) -> dict[tuple[str, int], Issued]:
    return {(i.department, i.project_no): i for i in issued.issued}


def _wrong_money(d: Declaration) -> None:
    d.funding.fiscal_local = Decimal("1000")  # 财政拨款 ≠ 上级 + 本级 + 下级: an error


def _round(tmp_path: Path, issued: DistributeResult) -> Path:
    """区民政局 returns with an error, 区卫生健康委 a clean form; 区教育局 nothing yet."""
    inbox = tmp_path / "收件"
    forms = _forms(issued)
    fill_issued(issued, forms[("区民政局", 1)], inbox / "民政局.xlsx", _wrong_money, mtime=T0)
    fill_issued(issued, forms[("区卫生健康委", 1)], inbox / "卫健委.xlsx", mtime=T0)
    return inbox


def _report(inbox: Path, out: Path, issued: DistributeResult, db: Path) -> Any:
    fmt = out.suffix.lstrip(".")
    result = invoke(["report", inbox, "-o", out, "--manifest", issued.folder, "--db", db, "--jobs", "1", "--format", fmt])
    assert result.exit_code in (0, 1), result.output
    return result


def _sheet(path: Path, name: str) -> list[dict[str, Any]]:
    values = list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:] if any(v is not None for v in row)]


def _cell(path: Path, sheet: str, department: str, header: str, key: str = "部门") -> str:
    """The address of `header`'s cell on the row of `department` (found by content, as a reviewer would)."""
    ws = openpyxl.load_workbook(path)[sheet]
    heads = [c.value for c in ws[1]]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, heads.index(key) + 1).value == department)
    return f"{get_column_letter(heads.index(header) + 1)}{row}"


def _type(path: Path, out: Path, sheet: str, cells: dict[tuple[str, str], Any]) -> Path:
    """Type into the report as a reviewer does in Excel (openpyxl: the quick way for untrusted-input cases)."""
    wb = openpyxl.load_workbook(path)
    for (department, header), value in cells.items():
        wb[sheet][_cell(path, sheet, department, header)] = value
    wb.save(out)
    return out


# ---- the loop through a real LibreOffice ---------------------------------------------------------


@pytest.mark.libreoffice
def test_decisions_typed_in_libreoffice_reach_the_store_and_the_next_report(tmp_path: Path,
                                                                           issued: DistributeResult) -> None:
    db = tmp_path / "收件记录.db"
    inbox = _round(tmp_path, issued)
    first = tmp_path / "汇总1.xlsx"
    _report(inbox, first, issued, db)
    review = _sheet(first, "审核")
    assert [(r["部门"], r["审核状态"], r["错误数"]) for r in review] == [
        ("区民政局", str(FormState.FIX), 1), ("区卫生健康委", str(FormState.PENDING), 0)]
    opinion_cell = _cell(first, "指标明细", "区民政局", "指标审核意见")
    typed = tmp_path / "审核后.xlsx"
    with pytest.raises(AssertionError):  # the sheet is protected: only the decision cells take input
        fill_cells(first, tmp_path / "x.xlsx", {"审核": {_cell(first, "审核", "区民政局", "部门"): "改部门"}})
    fill_cells(first, typed, {
        "审核": {_cell(first, "审核", "区民政局", "审核结论"): "退回修改",
                 _cell(first, "审核", "区民政局", "审核意见"): "财政拨款与分项不符，请核对",
                 _cell(first, "审核", "区卫生健康委", "审核结论"): "通过"},
        "指标明细": {opinion_cell: "目标值偏低"}})

    result = invoke(["review", typed, "--db", db])
    assert result.exit_code == 0, result.output
    assert "已记录 2 条审核结论；0 条未变" in result.stdout
    with Store(db) as store:
        decisions = store.decisions()
    assert {d.department: d.verdict for d in decisions} == {"区民政局": Verdict.RETURN, "区卫生健康委": Verdict.PASS}
    returned = next(d for d in decisions if d.department == "区民政局")
    assert returned.opinion == "财政拨款与分项不符，请核对" and returned.reviewer
    assert [text for _, text in returned.indicator_opinions] == ["目标值偏低"]
    again = invoke(["review", typed, "--db", db])  # the same report read twice: nothing new
    assert again.exit_code == 0 and "已记录 0 条审核结论；2 条未变" in again.stdout, again.output
    with Store(db) as store:
        assert len(store.decisions()) == 2

    # 区教育局 returns: its row sorts first, the others move down; their decisions stay with them.
    fill_issued(issued, _forms(issued)[("区教育局", 1)], inbox / "教育局.xlsx", mtime=T0 + 100)
    second = tmp_path / "汇总2.xlsx"
    _report(inbox, second, issued, db)
    review = {r["部门"]: r for r in _sheet(second, "审核")}
    assert list(review) == ["区教育局", "区民政局", "区卫生健康委"]
    assert (review["区民政局"]["审核结论"], review["区民政局"]["审核意见"], review["区民政局"]["审核状态"]) == (
        "退回修改", "财政拨款与分项不符，请核对", str(FormState.RETURNED))
    assert (review["区卫生健康委"]["审核结论"], review["区卫生健康委"]["审核状态"]) == ("通过", str(FormState.PASSED))
    assert review["区教育局"]["审核结论"] is None and review["区教育局"]["审核状态"] == str(FormState.PENDING)
    assert review["区民政局"]["审核人"] == returned.reviewer
    indicators = [r for r in _sheet(second, "指标明细") if r["指标审核意见"]]
    assert [(r["部门"], r["指标审核意见"]) for r in indicators] == [("区民政局", "目标值偏低")]
    summary = {r["部门"]: r for r in _sheet(second, "汇总") if r["部门"] != "合计"}
    assert summary["区民政局"]["审核状态"] == str(FormState.RETURNED) and summary["区民政局"]["状态"] == "需修改"
    departments = {r["部门"]: r["审核状态"] for r in _sheet(second, "按部门") if r["部门"] != "合计"}
    assert departments == {"区教育局": "未提交 1；待审核 1",
                           "区民政局": "已退回 1", "区卫生健康委": "通过 1"}
    # Read back through LibreOffice once more: the prefilled cells are what the store holds, so nothing changes.
    resaved = tmp_path / "再存.xlsx"
    fill_cells(second, resaved, {"审核": {}})
    assert invoke(["review", resaved, "--db", db]).stdout.count("已记录 0 条审核结论；2 条未变") == 1


# ---- superseded versions, untrusted reports -----------------------------------------------------


@pytest.fixture
def reported(tmp_path: Path, issued: DistributeResult) -> tuple[Path, Path, Path]:
    db = tmp_path / "收件记录.db"
    inbox = _round(tmp_path, issued)
    out = tmp_path / "汇总.xlsx"
    _report(inbox, out, issued, db)
    return inbox, out, db


def test_a_decision_on_a_superseded_version_is_refused(tmp_path: Path, issued: DistributeResult,
                                                       reported: tuple[Path, Path, Path]) -> None:
    inbox, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "通过",
                                                       ("区卫生健康委", "审核结论"): "通过"})
    # Meanwhile 区民政局 sends a corrected version, and a report reads it.
    fill_issued(issued, _forms(issued)[("区民政局", 1)], inbox / "民政局（改）.xlsx", mtime=T0 + 3600)
    _report(inbox, tmp_path / "汇总2.xlsx", issued, db)
    result = invoke(["review", typed, "--db", db])
    assert result.exit_code == 1, result.output
    assert "已记录 1 条审核结论" in result.stdout and "1 条被拒绝" in result.stdout
    refused = next(line for line in result.stdout.splitlines() if line.startswith("  拒绝："))
    assert "区民政局" in refused and "民政局（改）.xlsx" in refused and "替代" in refused, refused
    with Store(db) as store:
        assert [d.department for d in store.decisions()] == ["区卫生健康委"]


def test_a_decision_on_a_returned_version_makes_the_resubmission_resubmitted(
        tmp_path: Path, issued: DistributeResult, reported: tuple[Path, Path, Path]) -> None:
    inbox, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "退回修改"})
    assert invoke(["review", typed, "--db", db]).exit_code == 0
    fill_issued(issued, _forms(issued)[("区民政局", 1)], inbox / "民政局（改）.xlsx", mtime=T0 + 3600)
    second = tmp_path / "汇总2.xlsx"
    _report(inbox, second, issued, db)
    row = next(r for r in _sheet(second, "审核") if r["部门"] == "区民政局")
    assert row["审核状态"] == str(FormState.RESUBMITTED) and row["审核结论"] is None  # a new version starts undecided


def test_untrusted_reports_are_refused_in_chinese(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    pdf = tmp_path / "扫描.xlsx"
    pdf.write_bytes(b"%PDF-1.4 not a workbook")
    foreign = tmp_path / "别的表.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "审核结论"
    wb.save(foreign)
    bomb = tmp_path / "压缩炸弹.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zipfile.ZipFile(out) as src:
            for item in src.infolist():
                zf.writestr(item, src.read(item))
        zf.writestr("xl/worksheets/sheet99.xml", b"<" + b" " * 30_000_000)
    headless = tmp_path / "改了表头.xlsx"
    wb = openpyxl.load_workbook(out)
    wb["审核"]["F1"] = "结论"
    wb.save(headless)
    for path, said in [(pdf, "无法读取"), (foreign, "不是 xlform 生成的汇总报告"), (bomb, "无法读取"),
                       (headless, "缺少列"), (tmp_path / "没有.xlsx", "找不到汇总报告")]:
        result = invoke(["review", path, "--db", db])
        assert result.exit_code == 2, (path, result.output)
        assert said in result.stderr and "Traceback" not in result.output, (path, result.output)
    with Store(db) as store:
        assert store.decisions() == []


def test_forged_rows_and_verdicts_outside_the_list_are_refused(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {
        ("区民政局", "审核结论"): "同意", ("区卫生健康委", "审核结论"): "通过",
        ("区卫生健康委", "表单编号"): "00000000-0000-0000-0000-000000000000"})
    result = invoke(["review", typed, "--db", db])
    assert result.exit_code == 1, result.output
    assert "审核结论“同意”不在列表中（可选：通过、退回修改、不予支持）" in result.stdout
    assert "表单编号“00000000-0000-0000-0000-000000000000”不在收件记录库中" in result.stdout
    assert "已记录 0 条审核结论" in result.stdout
    with Store(db) as store:
        assert store.decisions() == []


def test_rows_are_matched_by_form_id_and_version_not_by_place(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    wb = openpyxl.load_workbook(out)
    ws = wb["审核"]
    heads = [c.value for c in ws[1]]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    rows.reverse()  # the reviewer sorted the sheet
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            ws.cell(r, c, value)
    ws.cell(2, heads.index("审核结论") + 1, "不予支持")  # now the row of 区卫生健康委
    wb.save(tmp_path / "排序后.xlsx")
    assert invoke(["review", tmp_path / "排序后.xlsx", "--db", db]).exit_code == 0
    with Store(db) as store:
        assert [(d.department, d.verdict) for d in store.decisions()] == [("区卫生健康委", Verdict.REJECT)]


# ---- status and remind ---------------------------------------------------------------------------


def test_status_text_and_json_and_remind(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "退回修改",
                                                       ("区民政局", "审核意见"): "请核对财政拨款"})
    assert invoke(["review", typed, "--db", db]).exit_code == 0

    text = invoke(["status", "--db", db])
    assert text.exit_code == 0, text.output
    assert "合计 4 份：未提交 2，待审核 1，已退回 1" in text.stdout
    line = next(x for x in text.stdout.splitlines() if x.startswith("区民政局"))
    assert "已退回" in line and "退回修改" in line
    doc = json.loads(invoke(["status", "--db", db, "--format", "json"]).stdout)
    assert doc["counts"] == {"missing": 2, "unreadable": 0, "pending": 1, "fix": 0, "returned": 1, "resubmitted": 0,
                             "passed": 0, "rejected": 0}
    assert doc["total"] == 4 and doc["expected_known"] is True
    civil = next(f for f in doc["forms"] if f["department"] == "区民政局")
    assert set(civil) == {"department", "project", "form_id", "status", "status_code", "errors", "warnings", "file",
                          "received", "reason", "last_decision"}
    assert (civil["status_code"], civil["errors"], civil["last_decision"]["verdict"],
            civil["last_decision"]["for_latest_version"]) == ("returned", 1, "退回修改", True)

    sheet = tmp_path / "催报.xlsx"
    remind = invoke(["remind", "--db", db, "--deadline", "2026-03-10", "-o", sheet])
    assert remind.exit_code == 0, remind.output
    assert "区教育局（张三、64120001）：" in remind.stdout and "尚有 2 份申报表未提交" in remind.stdout
    assert "请于 2026-03-10 前" in remind.stdout and "审核意见：请核对财政拨款" in remind.stdout
    assert "区卫生健康委" not in remind.stdout  # nothing to do: pending review is the bureau's move
    rows = _sheet(sheet, "催报")
    assert [(r["部门"], r["联系人"], r["未提交"], r["已退回"]) for r in rows] == [
        ("区教育局", "张三", 2, 0), ("区民政局", "李四", 0, 1)]
    assert "请于 2026-03-10 前" in rows[0]["催报内容"]
    ws = openpyxl.load_workbook(sheet)["催报"]
    text_cell = ws.cell(2, [c.value for c in ws[1]].index("催报内容") + 1)
    assert text_cell.alignment.wrap_text and ws.page_setup.orientation == "landscape"  # printed whole, A4 landscape
    assert invoke(["remind", "--db", db, "--deadline", "3月10日"]).exit_code == 2
    assert invoke(["status", "--db", tmp_path / "没有.db"]).exit_code == 2


def test_report_ends_with_who_must_act(tmp_path: Path, issued: DistributeResult) -> None:
    result = _report(_round(tmp_path, issued), tmp_path / "r.xlsx", issued, tmp_path / "s.db")
    tail = result.stdout.splitlines()[-3:]
    assert tail[0].startswith("需催报 2 个部门")
    assert tail[1] == "  区教育局（张三，64120001）：未提交 2 份"
    assert tail[2] == "  区民政局（李四，64120002）：需修改（有错误） 1 份"


# ---- the states themselves -----------------------------------------------------------------------


def _decided(key: str, verdict: Verdict, grade: str = "") -> Decision:
    return Decision("F", key, verdict, grade)


def test_form_state_follows_the_version_decided_on() -> None:
    v1 = Version("F", "k1", "区民政局", "项目", 2, 0, "a.xlsx", "2026-03-01T09:00:00")
    v2 = Version("F", "k2", "区民政局", "项目", 0, 0, "b.xlsx", "2026-03-05T09:00:00", earlier=("k1",))
    assert form_state(v1, {}) is FormState.FIX
    assert form_state(v1, {("F", "k1"): _decided("k1", Verdict.RETURN)}) is FormState.RETURNED
    assert form_state(v1, {("F", "k1"): _decided("k1", Verdict.PASS, "中")}) is FormState.RETURNED  # 88号: 中 goes back
    assert form_state(v1, {}, [Package("F", "k1", "区民政局", "p.xlsx", "s", "2026-03-02T00:00:00")]) is FormState.RETURNED
    assert form_state(v2, {("F", "k1"): _decided("k1", Verdict.RETURN)}) is FormState.RESUBMITTED
    assert form_state(v2, {("F", "k1"): _decided("k1", Verdict.PASS)}) is FormState.PENDING  # not sent back
    assert form_state(v2, {("F", "k2"): _decided("k2", Verdict.REJECT)}) is FormState.REJECTED
    assert form_state(v2, {("F", "k2"): _decided("k2", Verdict.PASS, "优")}) is FormState.PASSED


def test_an_unreadable_file_attributed_to_a_department_stands_for_its_missing_form() -> None:
    facts = RoundFacts(
        (Awaited("区教育局", contact="张三", count=2, form_ids=("A", "B")), Awaited("区民政局", count=1, form_ids=("C",))),
        (Version("A", "ka", "区教育局", "项目一", 0, 0, "a.xlsx", "2026-03-01T09:00:00"),),
        (UnreadFile("教育局/项目二.xls", "这是 .xls 格式", department="区教育局"), UnreadFile("无名.pdf", "不是表格文件")),
        expected_known=True)
    lines = form_lines(facts, {})
    assert [(line.department, line.form_id, line.state) for line in lines] == [
        ("区教育局", "A", FormState.PENDING), ("区教育局", "B", FormState.UNREADABLE), ("区民政局", "C", FormState.MISSING)]
    assert lines[1].file == "教育局/项目二.xls"
    chases = who_must_act(facts, lines)
    assert [(c.department.name, c.department.contact, [line.state for line in c.lines]) for c in chases] == [
        ("区教育局", "张三", [FormState.UNREADABLE]), ("区民政局", "", [FormState.MISSING])]


# ---- grading, where the template asks for it ------------------------------------------------------


def test_the_template_key_review_grades(tmp_path: Path) -> None:
    text = (templates_dir() / "shanghai-2020.yaml").read_text(encoding="utf-8")
    assert parse_template(text, "x").review_grades is False
    assert parse_template(text + "\nreview:\n  grades: true\n", "x").review_grades is True
    with pytest.raises(TemplateError, match=r"review\.grades"):
        parse_template(text + "\nreview:\n  grades: 是\n", "x")


def test_a_grading_template_gets_a_grade_column_and_a_grade_is_read_back(tmp_path: Path) -> None:
    text = (templates_dir() / "shanghai-2020.yaml").read_text(encoding="utf-8")
    yaml_path = tmp_path / "graded.yaml"
    yaml_path.write_text(text.replace("id: shanghai-2020", "id: graded-2020", 1) + "\nreview:\n  grades: true\n",
                         encoding="utf-8")
    template = load_template(str(yaml_path))
    issued = distribute(DEPARTMENTS[1:2], tmp_path / "下发", template)
    inbox = tmp_path / "收件"
    d = clean_sample()
    d.identity = read(issued.folder / issued.issued[0].file, Registry([template])).identity
    inbox.mkdir()
    write_workbook(template, inbox / "民政局.xlsx", d)
    db, out = tmp_path / "s.db", tmp_path / "r.xlsx"
    _report(inbox, out, issued, db)
    assert "评级" in _sheet(out, "审核")[0]
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "通过", ("区民政局", "评级"): "中"})
    assert invoke(["review", typed, "--db", db]).exit_code == 0
    with Store(db) as store:
        assert [(d.verdict, d.grade) for d in store.decisions()] == [(Verdict.PASS, "中")]
    second = tmp_path / "r2.xlsx"
    _report(inbox, second, issued, db)
    row = _sheet(second, "审核")[0]
    assert (row["评级"], row["审核状态"]) == ("中", str(FormState.RETURNED))
    wrong = _type(second, tmp_path / "错.xlsx", "审核", {("区民政局", "评级"): "甲"})
    result = invoke(["review", wrong, "--db", db])
    assert result.exit_code == 1 and "评级“甲”不在列表中" in result.stdout


def test_csv_and_json_reports_carry_the_decisions(tmp_path: Path, reported: tuple[Path, Path, Path],
                                                  issued: DistributeResult) -> None:
    inbox, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "退回修改"})
    assert invoke(["review", typed, "--db", db]).exit_code == 0
    _report(inbox, tmp_path / "r.json", issued, db)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    row = next(r for r in doc["review"] if r["department"] == "区民政局")
    assert (row["verdict"], row["review_state"]) == ("退回修改", str(FormState.RETURNED))
    assert next(r for r in doc["returns"] if r["department"] == "区民政局")["review_state"] == str(FormState.RETURNED)
    _report(inbox, tmp_path / "r.csv", issued, db)
    text = (tmp_path / "r_审核.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].split(",")[:6] == ["部门", "项目名称", "审核状态", "错误数", "提示数", "审核结论"]
    assert "退回修改" in text
    assert not os.path.exists(tmp_path / "r_催报.csv")


def test_a_review_of_a_report_from_another_store_finds_nothing_it_knows(tmp_path: Path,
                                                                      reported: tuple[Path, Path, Path]) -> None:
    _, out, _ = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "通过"})
    other = tmp_path / "另一个.db"
    Store(other).close()
    result = invoke(["review", typed, "--db", other])
    assert result.exit_code == 1 and "不在收件记录库中" in result.stdout, result.output


def test_reviewer_is_the_workbook_last_author(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    typed = _type(out, tmp_path / "审核后.xlsx", "审核", {("区民政局", "审核结论"): "通过"})
    wb = openpyxl.load_workbook(typed)
    wb.properties.lastModifiedBy = "王审核"
    wb.save(typed)
    buf = io.BytesIO(typed.read_bytes())
    with zipfile.ZipFile(buf) as zf:
        assert "王审核" in zf.read("docProps/core.xml").decode()
    result = invoke(["review", typed, "--db", db])
    assert "审核人：王审核" in result.stdout
    with Store(db) as store:
        assert store.decisions()[0].reviewer == "王审核"


def test_round_facts_another_version_wrote_are_said_plainly(tmp_path: Path, reported: tuple[Path, Path, Path]) -> None:
    _, _, db = reported
    with Store(db) as store:
        store.set_round({"departments": [{"name": "区教育局", "unknown": 1}]})
    result = invoke(["status", "--db", db])
    assert result.exit_code == 2 and "汇总记录无法识别" in result.stderr, result.output
    fresh = tmp_path / "新.db"
    Store(fresh).close()
    result = invoke(["remind", "--db", fresh])
    assert result.exit_code == 2 and "还没有汇总记录" in result.stderr, result.output


def test_a_report_with_decisions_not_read_back_is_not_written_over(tmp_path: Path, issued: DistributeResult,
                                                                   reported: tuple[Path, Path, Path]) -> None:
    """The reviewer typed decisions into 汇总.xlsx itself and saved; a report run before `review` would lose them."""
    inbox, out, db = reported
    _type(out, out, "审核", {("区民政局", "审核结论"): "退回修改"})  # saved over the report, as Excel does
    edited = out.read_bytes()
    fill_issued(issued, _forms(issued)[("区教育局", 1)], inbox / "教育局.xlsx", mtime=T0 + 60)  # more news arrives
    blocked = invoke(["report", inbox, "-o", out, "--manifest", issued.folder, "--db", db, "--jobs", "1"])
    assert blocked.exit_code == 2 and "Traceback" not in blocked.output
    assert "xlform review" in blocked.stderr and "丢失" in blocked.stderr, blocked.output
    assert out.read_bytes() == edited  # the decisions are still there
    assert invoke(["review", out, "--db", db]).exit_code == 0
    again = _report(inbox, out, issued, db)  # read back: the report may be written again, and shows the decision
    assert "Traceback" not in again.output
    row = next(r for r in _sheet(out, "审核") if r["部门"] == "区民政局")
    assert row["审核结论"] == "退回修改"
    # A report nobody edited is written over as before.
    assert _report(inbox, out, issued, db).exit_code in (0, 1)


def test_a_store_an_earlier_version_reported_into_says_to_report_again(reported: tuple[Path, Path, Path]) -> None:
    """A store whose returns were collected before the review loop (no round facts in it): status and remind
    say the report must run again with this version, not that no report ever ran."""
    _, _, db = reported
    with Store(db) as store, store._writing():
        store.conn.execute("DELETE FROM meta WHERE key = 'round'")
    for command in ("status", "remind"):
        result = invoke([command, "--db", db])
        assert result.exit_code == 2 and "旧版本" in result.stderr and "还没有汇总记录" not in result.stderr, \
            result.output
        assert "xlform report" in result.stderr and "Traceback" not in result.output


def test_a_report_reviewed_before_anything_was_typed_says_what_to_fill(reported: tuple[Path, Path, Path]) -> None:
    _, out, db = reported
    result = invoke(["review", out, "--db", db])
    assert result.exit_code == 0 and "已记录 0 条审核结论" in result.stdout, result.output
    assert "还没有填写审核结论" in result.stdout and "审核结论" in result.stdout
