"""Last year carried forward: a round in year N collected into a store, then year N+1 distributed with
`--carry-over`, filled and reported with its 上年对比 sheet; the ways last year's store or files can fail."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import fill_issued, set_amount
from tests.lo import require_soffice, resave
from xlform.form.layout import LAST_TARGET_HEADER, LAST_TARGET_NAME
from xlform.form.model import Declaration
from xlform.form.sample import example_declaration
from xlform.form.targets import parse_target
from xlform.form.template import load_template
from xlform.issue.distribute import DistributeResult, Issued, read_manifest
from xlform.reading.reader import read
from xlform.review.decisions import Decision, Verdict
from xlform.review.rules import check
from xlform.store import Store
from xlform.writing.workbook import write_workbook

ROSTER = "部门名称,项目数\n区教育局,2\n区民政局,1\n"
PROJECTS = {("区教育局", 1): "会议系统运维", ("区教育局", 2): "校园安全监控", ("区民政局", 1): "养老服务补贴"}


def _round_n(tmp_path: Path, template: str = "shanghai-2020",
             change: Callable[[Declaration, Issued], None] | None = None) -> tuple[Path, list[Issued], Path]:
    """Year N: distribute, every department returns its forms, report --db. Returns (store, issued, inbox)."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp_path / "issued-n"
    r = invoke(["distribute", roster, "-o", out, "-t", template])
    assert r.exit_code == 0, r.output
    issued = read_manifest(out)
    result = DistributeResult(issued, out, out / "下发清单.csv", 0)
    inbox = tmp_path / "inbox-n"
    for item in issued:
        def fill(d: Declaration, item: Issued = item) -> None:
            if template != "shanghai-2020":  # the template's own example, as `xlform example -t` fills it
                for part, value in vars(example_declaration(load_template(template))).items():
                    setattr(d, part, value)
            d.project.name = PROJECTS[(item.department, item.project_no)]
            if change:
                change(d, item)
        fill_issued(result, item, inbox / item.file, fill)
    db = tmp_path / "n.db"
    r = invoke(["report", inbox, "-o", tmp_path / "report-n.xlsx", "--manifest", out, "--db", db])
    assert r.exit_code == 0, r.output
    return db, issued, inbox


def _carry(tmp_path: Path, db: Path, template: str = "shanghai-2020") -> tuple[Path, list[Issued], str]:
    out = tmp_path / "issued-n1"
    r = invoke(["distribute", tmp_path / "roster.csv", "-o", out, "-t", template, "--year", "2027",
                "--carry-over", db])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    return out, read_manifest(out), r.output


def test_two_year_round_carries_last_years_returns_and_reports_the_comparison(tmp_path: Path) -> None:
    db, last, inbox = _round_n(tmp_path)
    last_year = {i.form_id: read(inbox / i.file) for i in last}
    stored = db.read_bytes()
    out, issued, said = _carry(tmp_path, db)
    assert db.read_bytes() == stored  # last year's store is only read
    assert "复制上年：3 份" in said
    # The manifest: each form of N+1 names last year's form and how it was matched.
    assert {i.carried_from for i in issued} == set(last_year)
    assert all(i.form_id not in last_year and i.year == 2027 for i in issued)
    for item in issued:
        before = last_year[item.carried_from]
        assert item.carry_match == f"部门 + 项目名称“{before.project.name}”"
        d = read(out / item.file)
        assert (d.identity.department, d.identity.year, d.identity.carried_from) == (item.department, 2027,
                                                                                      item.carried_from)
        # Texts, indicators with last year's targets, guarantees carried; money and dates left empty.
        assert d.project.name == before.project.name and d.project.overview == before.project.overview
        assert d.project.basis == before.project.basis and d.project.annual_goal == before.project.annual_goal
        assert [(i.name, i.target.raw, i.last_target) for i in d.indicators] == [
            (i.name, i.target.raw, i.target.raw) for i in before.indicators]
        assert d.guarantees == before.guarantees
        assert [c.detail for c in d.costs] == [c.detail for c in before.costs]
        assert all(getattr(d.funding, k) is None for k in vars(d.funding))
        assert d.project.start_date is None and all(c.amount is None for c in d.costs)
        assert d.identity.last_budget == f"{before.funding.current_year:f}"
        # 上年目标值: a locked column on a protected sheet, its header beside the table.
        wb = openpyxl.load_workbook(out / item.file)
        sheet, ref = next(iter(wb.defined_names[LAST_TARGET_NAME].destinations))
        ws = wb[sheet]
        first = ref.replace("$", "").split(":")[0]
        assert ws.protection.sheet
        column = ws[ref.replace("$", "")]
        assert [row[0].value for row in column][: len(before.indicators)] == [i.target.raw for i in before.indicators]
        assert all(row[0].protection.locked for row in column)
        header_row = ws[first].row - 1
        assert ws.cell(header_row, ws[first].column).value == LAST_TARGET_HEADER
    # Year N+1 filled: amounts this year, one target lowered, one raised, the rest copied unchanged.
    inbox2 = tmp_path / "inbox-n1"
    inbox2.mkdir()
    for item in issued:
        d = read(out / item.file)
        set_amount(d, D("250000"))
        d.indicators[4].target = parse_target("≥90%")
        write_workbook(load_template("shanghai-2020"), inbox2 / item.file, d)
    r = invoke(["report", inbox2, "-o", tmp_path / "report-n1.xlsx", "--manifest", out, "--db", tmp_path / "n1.db"])
    assert "Traceback" not in r.output
    wb = openpyxl.load_workbook(tmp_path / "report-n1.xlsx")
    assert "上年对比" in wb.sheetnames
    problems = [[c.value for c in row] for row in wb["问题清单"].iter_rows(min_row=2)]
    lowered = [p for p in problems if "indicators.target_lowered" in p]
    copied = [p for p in problems if "indicators.copied_target" in p]
    assert len(lowered) == 3 and len(copied) == 3 * 4
    assert any("“≥90%”低于上年目标值“95%”" in str(v) for v in lowered[0])
    ws = wb["上年对比"]
    head = [c.value for c in ws[_header_row(ws)]]
    rows = [dict(zip(head, (c.value for c in row), strict=False)) for row in ws.iter_rows(min_row=_header_row(ws) + 1)]
    budget = [r for r in rows if r.get("上年当年预算（元）") is not None]
    assert {(r["上年当年预算（元）"], r["本年当年预算（元）"], r["预算增减（元）"]) for r in budget} >= {
        (232124, 250000, 250000 - 232124)}
    satisfaction = [r for r in rows if r.get("三级目标") == "系统使用满意度"]
    assert {(r["上年目标值"], r["本年目标值"], r["变化"]) for r in satisfaction} == {("95%", "≥90%", "要求降低")}
    same = [r for r in rows if r.get("三级目标") == "系统运维完成率"]
    assert {r["变化"] for r in same} == {"未变"}


def _header_row(ws: openpyxl.worksheet.worksheet.Worksheet) -> int:
    """The row of column headers (the report may put a title above it)."""
    for row in ws.iter_rows(min_row=1, max_row=5):
        if any(c.value == "上年目标值" for c in row):
            return row[0].row
    raise AssertionError("no header row")


def test_a_round_not_carried_over_has_no_comparison_sheet(tmp_path: Path) -> None:
    _round_n(tmp_path)
    assert "上年对比" not in openpyxl.load_workbook(tmp_path / "report-n.xlsx").sheetnames


def test_changed_or_missing_last_year_files_carry_what_the_store_holds_and_say_why(tmp_path: Path) -> None:
    db, last, inbox = _round_n(tmp_path)
    gone, changed = last[0], last[1]
    (inbox / gone.file).unlink()
    d = read(inbox / changed.file)
    d.project.overview = "收件后又改过的文字"
    write_workbook(load_template("shanghai-2020"), inbox / changed.file, d)
    out, issued, _ = _carry(tmp_path, db)
    by_last = {i.carried_from: i for i in issued}
    assert "已不在原处" in by_last[gone.form_id].carry_match
    assert "被改动过" in by_last[changed.form_id].carry_match
    assert "只带入了项目名称" in by_last[changed.form_id].carry_match
    for form_id in (gone.form_id, changed.form_id):
        d = read(out / by_last[form_id].file)
        assert d.project.name and d.project.overview == ""  # from the stored result: no texts
        assert [i.last_target for i in d.indicators] == ["100%", "100%", "及时", "100%", "95%"]
        assert d.identity.last_budget == "232124.00"
    untouched = read(out / by_last[last[2].form_id].file)
    assert untouched.project.overview and "；" not in by_last[last[2].form_id].carry_match


def test_a_project_decided_not_supported_is_not_carried(tmp_path: Path) -> None:
    db, last, _ = _round_n(tmp_path)
    with Store(db) as store:
        key = store.history(last[0].form_id)[-1].item_key
        store.add_decisions([Decision(last[0].form_id, key, Verdict.REJECT, opinion="不符合支持方向")])
    _, issued, said = _carry(tmp_path, db)
    assert last[0].form_id not in {i.carried_from for i in issued}
    assert "不予支持，未带入" in said and PROJECTS[("区教育局", 1)] in said
    # The roster still asks for two forms of 区教育局: the second is blank.
    education = [i for i in issued if i.department == "区教育局"]
    assert len(education) == 2 and sorted(bool(i.carried_from) for i in education) == [False, True]


@pytest.mark.parametrize("kind", ["text", "other-db", "missing", "empty-sqlite"])
def test_a_carry_over_that_is_not_a_store_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    bad = tmp_path / "last.db"
    if kind == "text":
        bad.write_text("不是数据库", encoding="utf-8")
    elif kind == "other-db":
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
    elif kind == "empty-sqlite":
        sqlite3.connect(bad).close()
    r = invoke(["distribute", roster, "-o", tmp_path / "out", "--carry-over", bad])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "收件记录库" in r.output
    assert not (tmp_path / "out").exists()  # nothing written


def test_national_template_matches_by_project_code_and_marks_continuing(tmp_path: Path) -> None:
    codes = {("区教育局", 1): "310112-2026-000001", ("区教育局", 2): "310112-2026-000002",
             ("区民政局", 1): "310112-2026-000003"}

    def code(d: Declaration, item: Issued) -> None:
        d.extra["project_code"] = codes[(item.department, item.project_no)]
        d.extra["project_nature"] = "新增"

    db, last, inbox = _round_n(tmp_path, "national-2026", code)
    out, issued, _ = _carry(tmp_path, db, "national-2026")
    for item in issued:
        before = read(inbox / next(i.file for i in last if i.form_id == item.carried_from))
        assert item.carry_match == f"项目代码 {before.extra['project_code']}"
        d = read(out / item.file)
        assert d.extra["project_code"] == before.extra["project_code"] and d.extra["project_nature"] == "延续"
        # 计算符号 | 指标值 | 计量单位 in their own columns; 上年目标值 shows them as one.
        i = next(i for i in before.indicators if i.operator and i.measure_unit and i.target.number is not None)
        now = next(x for x in d.indicators if x.name == i.name)
        assert now.last_target == f"{i.operator}{i.target.raw}{i.measure_unit}"
        assert "indicators.copied_target" in {f.rule for f in check(d)}
        assert d.extra["prior_budget"] is None and d.extra["general_budget"] is None and d.funding.current_year is None


@pytest.mark.libreoffice
def test_a_carried_workbook_resaved_by_libreoffice_keeps_last_years_targets(tmp_path: Path) -> None:
    require_soffice()
    db, _, _ = _round_n(tmp_path)
    out, issued, _ = _carry(tmp_path, db)
    src = out / issued[0].file
    resaved = resave(src, tmp_path / "lo")
    before, after = read(src), read(resaved)
    assert [i.last_target for i in after.indicators] == [i.last_target for i in before.indicators]
    assert after.identity.carried_from == issued[0].carried_from and after.identity.last_budget
    wb = openpyxl.load_workbook(resaved)
    sheet, ref = next(iter(wb.defined_names[LAST_TARGET_NAME].destinations))
    assert wb[sheet].protection.sheet
    assert all(row[0].protection.locked for row in wb[sheet][ref.replace("$", "")])


def test_returns_mailed_in_a_zip_are_read_again_from_the_zip(tmp_path: Path) -> None:
    _, last, inbox = _round_n(tmp_path)
    mailed = tmp_path / "mail"
    mailed.mkdir()
    with zipfile.ZipFile(mailed / "附件.zip", "w") as zf:
        for item in last:
            zf.write(inbox / item.file, f"交回/{item.file}")
    db2 = tmp_path / "mailed.db"
    r = invoke(["report", mailed, "-o", tmp_path / "mailed.xlsx", "--db", db2])
    assert r.exit_code == 0, r.output
    out, issued, _ = _carry(tmp_path, db2)
    assert {i.carried_from for i in issued} == {i.form_id for i in last}
    for item in issued:
        assert "；" not in item.carry_match  # everything carried: the texts came from the zip's member
        assert read(out / item.file).project.overview


def test_a_store_that_kept_relative_paths_is_carried_over_from_another_folder(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Last year's report ran in its folder with a relative inbox (the store keeps the paths as given); this
    year's distribution runs elsewhere: last year's files are found beside the store, as feedback finds them."""
    year = tmp_path / "2026"
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert invoke(["distribute", roster, "-o", year / "下发"]).exit_code == 0
    issued = read_manifest(year / "下发")
    result = DistributeResult(issued, year / "下发", year / "下发" / "下发清单.csv", 0)
    for item in issued:
        fill_issued(result, item, year / "收件" / item.file,
                    lambda d, item=item: setattr(d.project, "name", PROJECTS[(item.department, item.project_no)]))
    monkeypatch.chdir(year)
    r = invoke(["report", "收件", "-o", "汇总.xlsx", "--manifest", "下发", "--db", "收件.db"])
    assert r.exit_code == 0, r.output
    elsewhere = tmp_path / "2027"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = invoke(["distribute", roster, "-o", "下发", "--year", "2027", "--carry-over", year / "收件.db"])
    assert r.exit_code == 0, r.output
    carried = read_manifest(elsewhere / "下发")
    assert [i.carry_match for i in carried if "已不在原处" in i.carry_match] == []
    assert all(read(elsewhere / "下发" / i.file).project.overview for i in carried)  # the whole text, not the outline
