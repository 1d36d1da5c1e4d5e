"""The report: roster → distribute → returns filled in code → `xlform report`, checked sheet by sheet."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string, get_column_letter

from tests.cli_runner import invoke
from tests.helpers import clean_sample, fill_issued, sheet_names
from xlform.form.model import Declaration
from xlform.form.template import load_template
from xlform.issue.distribute import DistributeResult, Issued, distribute
from xlform.issue.roster import Department
from xlform.reading.reader import read
from xlform.report.result import REPORT_TITLE
from xlform.report.run import make_report
from xlform.review.rules import catalogue
from xlform.writing.workbook import write_workbook

P = sheet_names()[0]  # the template's project sheet
SHEETS = ["汇总", "按部门", "指标明细", "构成明细", "问题清单", "修改情况", "未读取文件", "被替代版本", "审核"]
DEPARTMENTS = [Department("区教育局", "001", "张三", "64120001", 2), Department("区民政局", "002"),
               Department("区卫生健康委", "003"), Department("区文化和旅游局", "004", "吴婷", "64120006")]


@pytest.fixture
def issued(tmp_path: Path) -> DistributeResult:
    return distribute(DEPARTMENTS, tmp_path / "下发", load_template("shanghai-2020"))


def by_file(issued: DistributeResult) -> dict[tuple[str, int], Issued]:
    return {(i.department, i.project_no): i for i in issued.issued}


def rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path)[sheet]
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, r, strict=True)) for r in values[1:] if any(v is not None for v in r)]


def test_full_run_lists_every_file_and_every_missing_department(tmp_path: Path, issued: DistributeResult) -> None:
    forms = by_file(issued)
    inbox = tmp_path / "收件"

    def mistakes(d: Declaration) -> None:
        d.funding.fiscal_local = Decimal("1000")  # 财政拨款 ≠ 上级 + 本级 + 下级

    fill_issued(issued, forms[("区教育局", 1)], inbox / "教育局" / "a.xlsx")
    fill_issued(issued, forms[("区民政局", 1)], inbox / "民政局.xlsx", mistakes)
    buf = io.BytesIO()  # 卫健委 mails a zip: its return, a note and a nested zip of junk
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(fill_issued(issued, forms[("区卫生健康委", 1)], tmp_path / "tmp" / "w.xlsx"), "卫健委/申报表.xlsx")
        zf.writestr("说明.txt", "见附件")
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as izf:
            izf.writestr("__MACOSX/._申报表.xlsx", b"mac")
            izf.writestr("csv改名.xlsx", "部门,金额\n区教育局,1\n")
        zf.writestr("再打包.zip", inner.getvalue())
    (inbox / "卫健委邮件.zip").write_bytes(buf.getvalue())
    (inbox / "Thumbs.db").write_bytes(b"\0" * 10)
    (inbox / "~$民政局.xlsx").write_bytes(b"lock")
    (inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "截断.xlsx").write_bytes((inbox / "民政局.xlsx").read_bytes()[:3000])
    (inbox / "空文件.xlsx").write_bytes(b"")

    out = tmp_path / "报告" / "汇总.xlsx"
    result = invoke(["report", str(inbox), "-o", str(out), "--manifest", str(issued.folder), "--jobs", "1"])
    assert result.exit_code == 1, result.output + result.stderr
    assert ("共 11 个文件：读取申报表 3 份，其中需修改 1 份；无法读取 5 个（不是表格文件 3 个、文件损坏 1 个、文件为空 1 个）；"
            "未提交部门 1 个（共缺 2 份）") in result.output
    assert "已忽略临时文件 3 个" in result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS

    summary = rows(out, "汇总")
    assert summary[-1]["部门"] == "合计"
    returns = summary[:-1]
    assert [(r["部门"], r["状态"]) for r in returns] == [("区教育局", "通过"), ("区民政局", "需修改"), ("区卫生健康委", "通过")]
    assert returns[2]["文件"] == f"{inbox}/卫健委邮件.zip/卫健委/申报表.xlsx"
    assert returns[0]["当年预算（元）"] == 232124 and returns[0]["指标数"] == 5
    assert summary[-1]["当年预算（元）"] == "=SUBTOTAL(109,E2:E4)"  # 当年预算 is the 5th printed column
    ws = wb["汇总"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert ws["E2"].number_format == "#,##0.00"  # 当年预算

    departments = {r["部门"]: r for r in rows(out, "按部门")}
    assert departments["区教育局"]["状态"] == "缺 1 份" and departments["区教育局"]["应交份数"] == 2
    assert departments["区民政局"]["状态"] == "需修改"
    assert departments["区文化和旅游局"]["状态"] == "未提交" and departments["区文化和旅游局"]["联系电话"] == "64120006"

    problems = rows(out, "问题清单")
    assert any(p["规则"] == "funding.fiscal_parts" and p["部门"] == "区民政局" and p["位置"] == f"{P}!E15"
               for p in problems)
    assert {r["三级目标"] for r in rows(out, "指标明细")} >= {"系统运维完成率", "系统使用满意度"}
    assert len(rows(out, "构成明细")) == 3

    unread = {Path(str(r["文件"])).name: r["原因"] for r in rows(out, "未读取文件")}
    assert set(unread) == {"截断.xlsx", "空文件.xlsx", "扫描件.pdf", "说明.txt", "csv改名.xlsx",
                           "Thumbs.db", "~$民政局.xlsx", "._申报表.xlsx"}
    assert "临时文件" in str(unread["Thumbs.db"]) and "0 字节" in str(unread["空文件.xlsx"])
    assert "文本" in str(unread["csv改名.xlsx"]) and ".pdf" in str(unread["扫描件.pdf"])

    # Nothing lost: every input file is a return, a superseded version or an unread file.
    listed = len(returns) + len(rows(out, "被替代版本")) + len(unread)
    assert listed == 11
    with zipfile.ZipFile(out) as zf:
        assert any(n.startswith("xl/charts/chart") for n in zf.namelist())
    assert not list((tmp_path / "报告").glob(".*part"))  # the atomic write left nothing behind
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        ["教育局", "民政局.xlsx", "卫健委邮件.zip", "Thumbs.db", "~$民政局.xlsx", "扫描件.pdf", "截断.xlsx", "空文件.xlsx"])


def test_formula_and_link_text_stays_text(tmp_path: Path, issued: DistributeResult) -> None:
    hostile = ["=1+1", "+8613800000000", "-2", "@SUM(A1:A2)", "http://example.com/x", "=HYPERLINK(\"http://a\",\"b\")",
               # xlsxwriter alone writes text shaped like a rich string as raw XML: here, a formula cell
               '<r><t>a</t></r></is></c><c r="ZZ1"><f>1+1</f><v>2</v></c><c t="inlineStr"><is><r><t>b</t></r>']

    def typed(d: Declaration) -> None:
        d.project.name = hostile[0]
        d.project.category = hostile[5]  # wrong category: the value lands in 问题清单 too
        d.indicators[0].name = hostile[1]
        d.indicators[1].name = hostile[2]
        d.indicators[2].note = hostile[3]
        d.indicators[3].note = hostile[6]
        d.costs[0].detail = hostile[4]

    fill_issued(issued, by_file(issued)[("区民政局", 1)], tmp_path / "in" / "a.xlsx", typed)
    out = tmp_path / "r.xlsx"
    make_report([tmp_path / "in"], out, jobs=1)
    wb = openpyxl.load_workbook(out)
    found = {}
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value in hostile:
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value)
                    found[cell.value] = cell
    assert set(found) == set(hostile)
    with zipfile.ZipFile(out) as zf:
        sheets = [zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<hyperlink" in xml for xml in sheets)  # no links ...
    assert all(f.startswith("SUBTOTAL(") for xml in sheets for f in re.findall(r"<f>([^<]*)</f>", xml))  # ... nor formulas

    make_report([tmp_path / "in"], tmp_path / "r.csv", fmt="csv", jobs=1)
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as fh:
        row = next(r for r in csv.DictReader(fh))
    assert row["项目名称"] == "'=1+1"
    with open(tmp_path / "r_指标明细.csv", encoding="utf-8-sig", newline="") as fh:
        names = [r["三级目标"] for r in csv.DictReader(fh)]
    assert names[:2] == ["'+8613800000000", "'-2"]


def test_all_passed_exits_zero_and_json_has_every_section(tmp_path: Path, issued: DistributeResult) -> None:
    item = by_file(issued)[("区民政局", 1)]
    fill_issued(issued, item, tmp_path / "in" / "民政局.xlsx")
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称,部门编码\n区民政局,002\n", encoding="utf-8")
    result = invoke(["report", str(tmp_path / "in"), "-o", str(tmp_path / "r.json"), "--roster",
                                 str(roster), "--format", "json"])
    assert result.exit_code == 0, result.output + result.stderr
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["summary"] == {"files": 1, "returns": 1, "with_errors": 0, "unreadable": 0, "ignored": 0,
                              "superseded": 0, "departments_missing": 0, "forms_missing": 0, "resubmitted": 0,
                              "unchanged": 0}
    assert set(doc) >= {"returns", "departments", "indicators", "costs", "findings", "changes", "unreadable",
                        "superseded"}
    assert doc["returns"][0]["form_id"] == item.form_id and doc["returns"][0]["current_year"] == 232124.0
    assert doc["departments"][0]["status"] == "已通过"


def test_mixed_money_units_are_converted_to_one(tmp_path: Path) -> None:
    issued = {t: distribute([Department(f"区{t}局")], tmp_path / t, load_template(t)) for t in ("shanghai-2020", "mof-2021")}
    inbox = tmp_path / "in"
    fill_issued(issued["shanghai-2020"], issued["shanghai-2020"].issued[0], inbox / "a.xlsx")

    def in_wan(d: Declaration) -> None:
        for key in ("total", "current_year", "fiscal", "fiscal_local"):
            setattr(d.funding, key, Decimal("23.2124"))
        d.indicators = []
        d.activities[0].amount = d.costs[0].amount = d.costs[0].unit_price = Decimal("23.2124")

    fill_issued(issued["mof-2021"], issued["mof-2021"].issued[0], inbox / "b.xlsx", in_wan)
    make_report([inbox], tmp_path / "r.xlsx", jobs=1)
    summary = rows(tmp_path / "r.xlsx", "汇总")[:-1]
    assert [r["当年预算（万元）"] for r in summary] == [pytest.approx(23.2124), pytest.approx(23.2124)]
    notes = [r["备注"] for r in summary]
    assert "原表金额单位为元，已换算为万元" in notes


def test_parallel_run_gives_the_same_report(tmp_path: Path, issued: DistributeResult) -> None:
    inbox = tmp_path / "in"
    for n, item in enumerate(issued.issued):
        fill_issued(issued, item, inbox / f"{n}.xlsx", (lambda d: setattr(d.project, "category", "")) if n % 2 else None)
    (inbox / "junk.xlsx").write_bytes(b"not a workbook")
    one = make_report([inbox], tmp_path / "one.json", fmt="json", jobs=1, parallel_from=1000)  # in this process
    two = make_report([inbox], tmp_path / "two.json", fmt="json", jobs=2, parallel_from=0, progress=True)
    assert (one.returns, one.with_errors, one.unreadable) == (two.returns, two.with_errors, two.unreadable) == (5, 2, 1)
    a = json.loads((tmp_path / "one.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "two.json").read_text(encoding="utf-8"))
    assert a == b


def test_zip_with_gbk_names_and_a_bomb(tmp_path: Path, issued: DistributeResult) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    ret = fill_issued(issued, by_file(issued)[("区民政局", 1)], tmp_path / "x.xlsx").read_bytes()
    gbk = "区民政局.xlsx".encode("gbk")
    placeholder = b"A" * (len(gbk) - 5) + b".xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(placeholder.decode(), ret)  # stored without the UTF-8 flag, as Chinese Windows zips are
        zf.writestr("bomb.xlsx", b"\0" * (3 * 1024 * 1024))
    (inbox / "附件.zip").write_bytes(buf.getvalue().replace(placeholder, gbk))
    (inbox / "坏.zip").write_bytes(b"PK\x03\x04broken")
    (inbox / "附件.rar").write_bytes(b"Rar!\x1a\x07\x00")
    make_report([inbox], tmp_path / "r.xlsx", jobs=1)
    assert [r["文件"] for r in rows(tmp_path / "r.xlsx", "汇总")[:-1]] == [f"{inbox}/附件.zip/区民政局.xlsx"]
    unread = {Path(str(r["文件"])).name: str(r["原因"]) for r in rows(tmp_path / "r.xlsx", "未读取文件")}
    assert "压缩炸弹" in unread["bomb.xlsx"] and "压缩包已损坏" in unread["坏.zip"]
    assert "只打开 .zip" in unread["附件.rar"]


@pytest.mark.parametrize("args, message", [
    (["--roster", "r.csv", "--manifest", "m.csv"], "只能选一个"),
    (["-o", "IN/r.xlsx"], "不能放在收件文件夹"),
    (["--db", "IN/s.db"], "不能放在收件文件夹"),
    (["-o", "r.txt"], "应以 .xlsx 结尾"),
    (["--roster", "none.csv"], "找不到部门名单"),
    (["--manifest", "none"], "找不到下发清单"),
])
def test_usage_errors_exit_2_with_one_chinese_line(tmp_path: Path, args: list[str], message: str) -> None:
    inbox = tmp_path / "IN"
    inbox.mkdir()
    args = [a.replace("IN/", f"{inbox}/") if "/" in a else (str(tmp_path / a) if "." in a or a == "none" else a)
            for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "r.xlsx")]
    result = invoke(["report", str(inbox), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list(inbox.iterdir())


def test_missing_inbox_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2 and "找不到收件文件夹" in result.stderr


def test_blank_forms_copied_to_many_departments_are_not_superseded(tmp_path: Path) -> None:
    """`xlform new` makes one blank form (one form id); departments filling copies are different returns."""
    t = load_template("shanghai-2020")
    blank = tmp_path / "blank.xlsx"
    write_workbook(t, blank)
    identity = read(blank).identity
    for unit in ("区教育局", "区民政局"):
        d = clean_sample()
        d.identity, d.project.unit = identity, unit
        write_workbook(t, tmp_path / "in" / f"{unit}.xlsx", d)
    result = make_report([tmp_path / "in"], tmp_path / "r.xlsx", jobs=1)
    assert (result.returns, result.superseded) == (2, 0)


@pytest.mark.libreoffice
@pytest.mark.slow
def test_report_reads_a_return_typed_in_libreoffice(tmp_path: Path, issued: DistributeResult) -> None:
    """A distributed workbook typed into by a real program (LibreOffice, via tests/lo.py), then reported."""
    lo = pytest.importorskip("tests.lo")
    lo.require_soffice()
    item = by_file(issued)[("区民政局", 1)]
    typed = tmp_path / "in" / "民政局.xlsx"
    lo.fill_cells(issued.folder / item.file, typed, {"*": {
        "name:f_name": "LibreOffice 中填写的项目", "name:f_category": "经常性项目", "name:f_total": 1000,
        "name:f_current_year": 1000, "name:f_fiscal": 1000, "name:f_fiscal_local": 1000,
    }})
    result = make_report([tmp_path / "in"], tmp_path / "r.xlsx", jobs=1)
    assert (result.returns, result.unreadable) == (1, 0)
    summary = rows(tmp_path / "r.xlsx", "汇总")[0]
    assert summary["表单编号"] == item.form_id and summary["部门"] == "区民政局"
    assert summary["项目名称"] == "LibreOffice 中填写的项目" and summary["项目类别"] == "经常性项目"
    assert summary["当年预算（元）"] == 1000


def test_a_folder_given_twice_is_read_once(tmp_path: Path, issued: DistributeResult) -> None:
    fill_issued(issued, by_file(issued)[("区民政局", 1)], tmp_path / "in" / "sub" / "a.xlsx")
    result = make_report([tmp_path / "in", tmp_path / "in" / "sub"], tmp_path / "r.xlsx", jobs=1)
    assert (result.files, result.returns, result.superseded) == (1, 1, 0)


# ---- printing: every sheet a meeting document ------------------------------------------------------------

# For tracing and scripts: right of the sheet, not printed.
TECHNICAL = {"文件", "表单编号", "模板", "被替代为", "原因代码", "原版本文件", "版本"}
# Detail a meeting does not need on paper: on the sheet between the printed and the technical columns.
OFF_PAPER = {"汇总": {"部门编码", "起始日期", "结束日期", "上级财政拨款（元）", "本级财政安排（元）", "下级财政配套（元）",
                    "指标数", "收到时间"}}
WHOSE_ROW = {"汇总": {"部门", "项目名称"}, "按部门": {"部门"}, "指标明细": {"部门", "项目名称"}, "构成明细": {"部门", "项目名称"},
             "问题清单": {"部门", "项目名称"}, "修改情况": {"部门", "项目名称"}, "未读取文件": {"文件"},
             "被替代版本": {"部门", "项目名称"}, "审核": {"部门", "项目名称"}}


def _every_sheet_filled(tmp_path: Path, issued: DistributeResult) -> Path:
    """An inbox whose report has rows on every sheet: a finding, a superseded version, an unreadable file."""
    forms = by_file(issued)
    inbox = tmp_path / "in"
    fill_issued(issued, forms[("区教育局", 1)], inbox / "教育局.xlsx", mtime=1_600_000_000)
    fill_issued(issued, forms[("区教育局", 1)], inbox / "教育局（改）.xlsx", mtime=1_600_000_100)
    fill_issued(issued, forms[("区民政局", 1)], inbox / "民政局.xlsx", lambda d: setattr(d.project, "category", ""))
    (inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4")
    return inbox


def _columns(ref: str) -> tuple[int, int]:
    """'$A:$C' → (1, 3)."""
    first, last = (column_index_from_string(part.strip("$")) for part in ref.split(":"))
    return first, last


def test_every_sheet_prints_a4_landscape_one_page_wide_with_title_and_whose_row(tmp_path: Path,
                                                                               issued: DistributeResult) -> None:
    out = tmp_path / "汇总.xlsx"
    made = {date.today().isoformat()}
    make_report([_every_sheet_filled(tmp_path, issued)], out, manifest=issued.folder, jobs=1)
    made.add(date.today().isoformat())  # a run may cross midnight
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    year = issued.issued[0].year
    for ws in wb:
        header = [c.value for c in ws[1]]
        ps = ws.page_setup
        assert (ps.orientation, int(ps.paperSize)) == ("landscape", 9), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert int(ps.fitToWidth or 1) == 1 and int(ps.fitToHeight) == 0, ws.title  # absent fitToWidth means 1
        assert ws.print_title_rows == "$1:$1", ws.title
        first, last = _columns(ws.print_title_cols)
        assert {header[i - 1] for i in range(first, last + 1)} >= WHOSE_ROW[ws.title], ws.title
        title = ws.oddHeader.center  # 12 pt bold; a size code runs into digits after it, so the year must survive
        assert title.size == 12 and title.text in {f"&B{year} 年度 {REPORT_TITLE} {ws.title} · {day}" for day in made}, \
            title.text
        assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"

        # The print area: every row (the data rows are not written by xlsxwriter), no technical column.
        technical = TECHNICAL - WHOSE_ROW[ws.title]
        detail = OFF_PAPER.get(ws.title, set())
        shown = [h for h in header if h not in technical | detail]
        assert header == shown + [h for h in header if h in detail] + [h for h in header if h in technical], ws.title
        assert ws.max_row > 1, ws.title
        assert ws.print_area == f"'{ws.title}'!$A$1:${get_column_letter(len(shown))}${ws.max_row}", ws.title
    assert [h.value for h in wb["汇总"][1]][-3:] == ["文件", "表单编号", "模板"]


def test_report_csv_keeps_its_columns_in_their_order(tmp_path: Path, issued: DistributeResult) -> None:
    """The sheets move technical columns to the right; the CSV files are a contract and keep their order."""
    make_report([_every_sheet_filled(tmp_path, issued)], tmp_path / "r.csv", fmt="csv", jobs=1)
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["部门", "部门编码", "项目名称", "项目类别", "起始日期", "结束日期", "项目总预算（元）", "当年预算（元）",
                      "财政拨款（元）", "上级财政拨款（元）", "本级财政安排（元）", "下级财政配套（元）", "其他资金（元）", "指标数",
                      "错误", "提示", "状态", "文件", "收到时间", "表单编号", "模板", "备注", "审核状态"]


def test_problem_list_names_each_rule_in_chinese_beside_its_id(tmp_path: Path, issued: DistributeResult) -> None:
    titles = {rule_id: title for rule_id, _, title, _ in catalogue()}
    inbox = _every_sheet_filled(tmp_path, issued)
    make_report([inbox], tmp_path / "r.xlsx", jobs=1)
    header = [c.value for c in openpyxl.load_workbook(tmp_path / "r.xlsx")["问题清单"][1]]
    assert header[header.index("规则") + 1] == "规则名称"
    problems = rows(tmp_path / "r.xlsx", "问题清单")
    assert any(p["规则"] == "required.field" for p in problems)
    assert all(p["规则名称"] == titles[str(p["规则"])] for p in problems)

    make_report([inbox], tmp_path / "r.csv", fmt="csv", jobs=1)  # CSV: the same columns as before, the title added
    with open(tmp_path / "r_问题清单.csv", encoding="utf-8-sig", newline="") as fh:
        found = list(csv.reader(fh))
    assert found[0] == ["部门", "项目名称", "文件", "级别", "规则", "位置", "内容", "现值", "说明", "规则名称"]
    assert found[1:] and all(r[9] == titles[r[4]] for r in found[1:])

    make_report([inbox], tmp_path / "r.json", fmt="json", jobs=1)  # JSON: the same keys, rule_title added
    findings = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["findings"]
    assert set(findings[0]) == {"department", "project", "file", "severity", "rule", "where", "field", "value", "message",
                                "rule_title"}
    assert all(f["rule_title"] == titles[f["rule"]] for f in findings)


@pytest.mark.libreoffice
@pytest.mark.slow
def test_summary_printed_by_libreoffice_shows_whose_row_on_every_page(tmp_path: Path) -> None:
    """Printed to PDF by a real LibreOffice: 汇总 runs over several pages, one page wide, and every page
    has the header row (so the department and project columns are named), the title and its page number."""
    lo = pytest.importorskip("tests.lo")
    lo.require_soffice()
    departments = [Department(f"区测试{n:03d}局", f"{n:03d}") for n in range(110)]  # more rows than one page holds
    issued = distribute(departments, tmp_path / "下发", load_template("shanghai-2020"))
    for item in issued.issued:
        fill_issued(issued, item, tmp_path / "in" / item.file)
    made = {date.today().isoformat()}
    make_report([tmp_path / "in"], tmp_path / "汇总.xlsx", manifest=issued.folder, jobs=2)
    made.add(date.today().isoformat())  # the report is dated the day it was made (a run may cross midnight)
    pages = lo.pdf_pages(lo.export_pdf(tmp_path / "汇总.xlsx", tmp_path / "pdf"))
    summary = [p for p in pages if re.search(r"^\s*汇总\s+第 \d+ 页", p, re.MULTILINE)]  # by the footer: sheet, page
    assert len(summary) >= 2, pages[:2]
    for n, page in enumerate(summary, start=1):
        assert "项目类别" in page and "项目名称" in page, page  # the header row, repeated
        assert "当年预算（元）" in page and re.search(r"区测试\d{3}局", page), page  # one page wide: amounts beside names
        assert f"第 {n} 页，共 {len(pages)} 页" in page, page  # LibreOffice numbers the whole workbook's pages
        assert any(f"{issued.issued[0].year} 年度 {REPORT_TITLE} 汇总 · {day}" in page for day in made), page  # the title
        assert "表单编号" not in page and "shanghai-2020" not in page, page  # technical columns are not printed
        assert "上级财政拨款" not in page and "收到时间" not in page, page  # nor detail left off paper
    assert sum(len(re.findall(r"区测试\d{3}局", p)) for p in summary) == len(departments)


def test_a_report_hands_the_garbage_collector_back_as_it_found_it(tmp_path: Path) -> None:
    """make_report keeps its results out of the collector's full passes while it runs (gc.freeze), and only then."""
    import gc

    from xlform.writing.workbook import write_workbook

    (tmp_path / "in").mkdir()
    write_workbook(load_template("shanghai-2020"), tmp_path / "in" / "a.xlsx", clean_sample())
    assert gc.get_freeze_count() == 0
    result = make_report([tmp_path / "in"], tmp_path / "r.xlsx", jobs=1)
    assert result.returns == 1 and gc.get_freeze_count() == 0
