"""Resubmissions and rounds that grow: 修改情况, 未作修改, a form copied for another project, unreadable files
attributed to their department, several manifests and `distribute --append` — real workbooks written,
edited and reported through the command line."""

from __future__ import annotations

import csv
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import fill_issued, indicator, sheet_names
from tests.lo import require_soffice, resave
from tests.test_template_outputs import BUREAU, bureau_return, write_bureau
from xlform.form.model import Declaration, Row
from xlform.form.template import load_template
from xlform.form.values import Coded
from xlform.issue.distribute import MANIFEST_NAME, DistributeResult, distribute, read_manifest
from xlform.issue.roster import Department
from xlform.report.run import make_report

P = sheet_names()[0]
T = load_template("shanghai-2020")
DAY = 86400
DEPARTMENTS = [Department("区教育局", "001"), Department("区民政局", "002"), Department("区卫生健康委", "003")]


@pytest.fixture
def issued(tmp_path: Path) -> DistributeResult:
    return distribute(DEPARTMENTS, tmp_path / "下发", T)


def rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path)[sheet]
    header, *values = ws.iter_rows(values_only=True)
    return [dict(zip(header, r, strict=True)) for r in values if any(v is not None for v in r) and r[0] != "合计"]


def report(inbox: Path, out: Path, *manifests: Path, fmt: str = "xlsx") -> tuple[int, str]:
    args = ["report", inbox, "-o", out, "--jobs", "1", "--format", fmt]
    for m in manifests:
        args += ["--manifest", m]
    r = invoke(args)
    return r.exit_code, r.output


def _wrong_fiscal(d: Declaration) -> None:
    d.funding.fiscal_local = Decimal("1000")  # 财政拨款 ≠ 上级 + 本级 + 下级: funding.fiscal_parts


def test_changes_list_fields_rows_and_which_findings_were_fixed(tmp_path: Path, issued: DistributeResult) -> None:
    form = issued.issued[0]
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    now = time.time()
    fill_issued(issued, form, inbox / "教育局_第一次.xlsx", _wrong_fiscal, mtime=now - 2 * DAY)

    def corrected(d: Declaration) -> None:
        d.project.overview = "改写后的项目概况。"
        del d.indicators[2]  # 运维完成及时性 removed
        d.indicators.append(indicator("产出目标", "质量", "设备完好率", "≥98%"))
        d.indicators[0].target = indicator("", "", "", "≥99%").target  # 系统运维完成率 100% → ≥99%

    fill_issued(issued, form, inbox / "教育局_第二次.xlsx", corrected, mtime=now - DAY)
    _, output = report(inbox, out, issued.folder)
    assert "重新提交 1 份（修改情况见报告）" in output and "未作修改" not in output

    changes = rows(out, "修改情况")
    assert all(c["部门"] == "区教育局" and c["表单编号"] == form.form_id for c in changes)
    assert all(str(c["原版本文件"]).endswith("教育局_第一次.xlsx") for c in changes)
    by_kind: dict[str, list[dict[str, object]]] = {}
    for c in changes:
        by_kind.setdefault(str(c["类别"]), []).append(c)
    fields = {c["表/字段"]: (c["原内容"], c["现内容"]) for c in by_kind["修改字段"]}
    assert fields["项目概况"][1] == "改写后的项目概况。" and fields["项目概况"][0]  # the template's labels
    assert fields["2. 本级财政安排"] == ("1000.00", "232124.00")
    assert set(fields) == {"项目概况", "2. 本级财政安排"}
    [removed] = by_kind["删除行"]
    assert removed["表/字段"] == "绩效目标" and "三级目标：运维完成及时性" in str(removed["原内容"])
    [added] = by_kind["新增行"]
    assert "三级目标：设备完好率" in str(added["现内容"]) and "目标值：≥98%" in str(added["现内容"])
    [changed] = by_kind["修改行"]
    assert (changed["原内容"], changed["现内容"]) == ("目标值：100%", "目标值：≥99%")
    [fixed] = by_kind["原问题"]
    assert fixed["是否已改正"] == "是" and str(fixed["原问题"]).startswith("财政拨款 ≠ 上级 + 本级 + 下级（")
    assert f"{P}!" in str(fixed["原问题"])

    # The same in JSON and CSV.
    report(inbox, tmp_path / "r.json", issued.folder, fmt="json")
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["summary"]["resubmitted"] == 1 and doc["summary"]["unchanged"] == 0
    assert {c["kind"] for c in doc["changes"]} == {"修改字段", "删除行", "新增行", "修改行", "原问题"}
    assert any(c["kind"] == "原问题" and c["fixed"] == "是" and c["finding"] for c in doc["changes"])
    report(inbox, tmp_path / "r.csv", issued.folder, fmt="csv")
    with open(tmp_path / "r_修改情况.csv", encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(changes) and any(r["类别"] == "新增行" and "设备完好率" in r["现内容"] for r in table)


def test_a_finding_left_as_it_was_is_not_fixed(tmp_path: Path, issued: DistributeResult) -> None:
    form = issued.issued[1]
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    now = time.time()
    fill_issued(issued, form, inbox / "a.xlsx", _wrong_fiscal, mtime=now - DAY)

    def only_contact(d: Declaration) -> None:
        _wrong_fiscal(d)
        d.project.contact = "新联系人"

    fill_issued(issued, form, inbox / "b.xlsx", only_contact, mtime=now)
    report(inbox, out, issued.folder)
    changes = rows(out, "修改情况")
    assert [(c["类别"], c["表/字段"], c["现内容"]) for c in changes if c["类别"] == "修改字段"] == \
        [("修改字段", "联系人", "新联系人")]
    [finding] = [c for c in changes if c["类别"] == "原问题"]
    assert finding["是否已改正"] == "否" and "财政拨款" in str(finding["现内容"])


@pytest.mark.libreoffice
def test_an_unchanged_resubmission_resaved_in_libreoffice_is_flagged(tmp_path: Path, issued: DistributeResult) -> None:
    require_soffice()
    form = issued.issued[0]
    first = fill_issued(issued, form, tmp_path / "first" / "教育局.xlsx", _wrong_fiscal)
    again = resave(first, tmp_path / "resaved")  # opened and saved again: other bytes, the same content
    assert again.read_bytes() != first.read_bytes()
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    inbox.mkdir()
    now = time.time()
    (inbox / "教育局.xlsx").write_bytes(first.read_bytes())
    (inbox / "教育局_重新提交.xlsx").write_bytes(again.read_bytes())
    os.utime(inbox / "教育局.xlsx", (now - DAY, now - DAY))
    code, output = report(inbox, out, issued.folder)
    assert code == 1  # the error it still has
    assert "未作修改：区教育局" in output and "其中 1 份未作修改" in output

    problems = rows(out, "问题清单")
    [flag] = [p for p in problems if p["规则"] == "round.unchanged_resubmission"]
    assert flag["级别"] == "提示" and flag["规则名称"] == "重新提交的表未作修改"
    assert "教育局.xlsx" in str(flag["说明"]) and "内容完全相同" in str(flag["说明"])
    assert "上一版的 1 个问题都还在" in str(flag["说明"])
    assert any(p["规则"] == "funding.fiscal_parts" for p in problems)  # still there, and still an error
    [summary] = rows(out, "汇总")
    assert summary["状态"] == "需修改" and str(summary["文件"]).endswith("教育局_重新提交.xlsx")
    changes = rows(out, "修改情况")
    assert [c["类别"] for c in changes] == ["未作修改", "原问题"] and changes[1]["是否已改正"] == "否"
    [old] = rows(out, "被替代版本")
    assert "未作修改" in str(old["说明"])


def test_a_form_copied_for_a_second_project_keeps_both(tmp_path: Path, issued: DistributeResult) -> None:
    form = issued.issued[2]
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    now = time.time()
    fill_issued(issued, form, inbox / "卫健委_项目一.xlsx", lambda d: setattr(d.project, "name", "社区医院设备维护"),
                mtime=now - DAY)
    fill_issued(issued, form, inbox / "卫健委_项目二.xlsx", lambda d: setattr(d.project, "name", "疾控中心信息系统"),
                mtime=now)
    _, output = report(inbox, out, issued.folder)
    assert "一表多用：区卫生健康委" in output and "社区医院设备维护" in output and "疾控中心信息系统" in output
    summary = rows(out, "汇总")
    assert sorted(str(r["项目名称"]) for r in summary) == ["疾控中心信息系统", "社区医院设备维护"]
    assert rows(out, "被替代版本") == [] and rows(out, "修改情况") == []
    flags = [p for p in rows(out, "问题清单") if p["规则"] == "round.form_reused"]
    assert sorted(str(p["项目名称"]) for p in flags) == ["疾控中心信息系统", "社区医院设备维护"]
    assert all(p["级别"] == "提示" and "社区医院设备维护" in str(p["说明"]) and "疾控中心信息系统" in str(p["说明"])
               for p in flags)
    # With a store, an unchanged inbox keeps its report, and says the same.
    for _ in range(2):
        r = invoke(["report", inbox, "-o", tmp_path / "db.xlsx", "--manifest", issued.folder, "--db", tmp_path / "s.db"])
        assert "一表多用：区卫生健康委" in r.output
    assert "沿用上次生成的文件" in r.output


def test_unreadable_files_count_for_their_department(tmp_path: Path, issued: DistributeResult) -> None:
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504  # an old .xls (OLE2)
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    (inbox / "附件").mkdir(parents=True)
    by_name = {i.department: i for i in issued.issued}
    (inbox / Path(by_name["区卫生健康委"].file).with_suffix(".xls").name).write_bytes(ole)  # its issued name, as .xls
    (inbox / "附件" / "区民政局绩效目标申报.xls").write_bytes(ole)  # a name with the department in it
    fill_issued(issued, by_name["区教育局"], inbox / "教育局.xlsx")
    code, output = report(inbox, out, issued.folder)
    assert code == 1 and "无法读取 2 个" in output and "未提交部门 0 个" in output
    unread = {Path(str(u["文件"])).name: u for u in rows(out, "未读取文件")}
    health = unread["2020_区卫生健康委_绩效目标申报表.xls"]
    assert health["部门"] == "区卫生健康委" and health["表单编号"] == by_name["区卫生健康委"].form_id
    assert unread["区民政局绩效目标申报.xls"]["部门"] == "区民政局" and not unread["区民政局绩效目标申报.xls"]["表单编号"]
    departments = {d["部门"]: d for d in rows(out, "按部门")}
    assert departments["区卫生健康委"]["状态"] == "已提交但无法读取" and departments["区卫生健康委"]["无法读取"] == 1
    assert departments["区民政局"]["状态"] == "已提交但无法读取"
    assert departments["区教育局"]["无法读取"] == 0


def test_a_department_folder_names_whose_file_it_is(tmp_path: Path, issued: DistributeResult) -> None:
    inbox = tmp_path / "收件"
    (inbox / "区民政局").mkdir(parents=True)
    (inbox / "区民政局" / "申报表.xlsx").write_bytes(b"")  # empty: unreadable
    report(inbox, tmp_path / "r.xlsx", issued.folder)
    [u] = rows(tmp_path / "r.xlsx", "未读取文件")
    assert u["部门"] == "区民政局"
    departments = {d["部门"]: d["状态"] for d in rows(tmp_path / "r.xlsx", "按部门")}
    assert departments == {"区教育局": "未提交", "区民政局": "已提交但无法读取", "区卫生健康委": "未提交"}


def test_two_manifests_are_one_round(tmp_path: Path, issued: DistributeResult) -> None:
    late = distribute([Department("区文化和旅游局", "004")], tmp_path / "补发", T)
    inbox, out = tmp_path / "收件", tmp_path / "汇总.xlsx"
    fill_issued(issued, issued.issued[0], inbox / "教育局.xlsx")
    fill_issued(late, late.issued[0], inbox / "文旅局.xlsx")
    _, output = report(inbox, out, issued.folder, late.folder)
    assert "未提交部门 2 个" in output  # 民政局 and 卫健委; the late department's return counts
    departments = {d["部门"]: d["状态"] for d in rows(out, "按部门")}
    assert departments["区文化和旅游局"] == "已通过" and departments["区教育局"] == "已通过"
    assert set(departments) == {"区教育局", "区民政局", "区卫生健康委", "区文化和旅游局"}
    assert not [p for p in rows(out, "问题清单") if str(p["规则"]).startswith("round.")]
    # Only the first manifest: the late department's return is not of this round (the old behaviour of a
    # second --manifest replacing the first lost a whole folder like this).
    report(inbox, out, issued.folder)
    assert any(p["规则"] == "round.not_issued" for p in rows(out, "问题清单"))

    # The same form issued to two departments in two manifests: said, nothing written.
    clash = tmp_path / "冲突"
    clash.mkdir()
    text = (late.folder / MANIFEST_NAME).read_text(encoding="utf-8-sig")
    (clash / MANIFEST_NAME).write_text(text.replace(late.issued[0].form_id, issued.issued[0].form_id), encoding="utf-8")
    r = invoke(["report", inbox, "-o", tmp_path / "x.xlsx", "--manifest", issued.folder, "--manifest", clash])
    assert r.exit_code == 2 and "区教育局" in r.stderr and "区文化和旅游局" in r.stderr and "表单编号" in r.stderr
    assert not (tmp_path / "x.xlsx").exists()
    # The same manifest given twice is the same round, once.
    _, output = report(inbox, out, issued.folder, issued.folder)
    assert "未提交部门 2 个" in output


def test_check_takes_several_manifests(tmp_path: Path, issued: DistributeResult) -> None:
    late = distribute([Department("区文化和旅游局")], tmp_path / "补发", T)
    path = fill_issued(late, late.issued[0], tmp_path / "文旅局.xlsx")
    r = invoke(["check", path, "--manifest", issued.folder, "--manifest", late.folder])
    assert r.exit_code == 0, r.output


def _roster(path: Path, names: list[str]) -> Path:
    path.write_text("部门名称,项目数\n" + "".join(f"{n}\n" for n in names), encoding="utf-8")
    return path


def test_distribute_append_twice_grows_the_round(tmp_path: Path) -> None:
    out = tmp_path / "下发"
    r = invoke(["distribute", _roster(tmp_path / "a.csv", ["区教育局,1", "区民政局,1"]), "-o", out])
    assert r.exit_code == 0, r.output
    manifest = out / MANIFEST_NAME
    first_bytes = manifest.read_bytes()
    first = read_manifest(out)
    workbooks = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.xlsx")}

    r = invoke(["distribute", _roster(tmp_path / "b.csv", ["区教育局,2", "区民政局,1", "区卫生健康委,1"]), "-o", out,
                "--append"])
    assert r.exit_code == 0, r.output
    assert "原有 2 份" in r.output and "新增 2 份" in r.output
    second = read_manifest(out)
    assert second[:2] == first  # the forms issued before, as they were
    assert manifest.read_bytes().startswith(first_bytes)  # their rows not rewritten
    assert [(i.department, i.project_no) for i in second[2:]] == [("区教育局", 2), ("区卫生健康委", 1)]
    for name, (data, mtime) in workbooks.items():  # not written again
        assert ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) == (data, mtime)

    r = invoke(["distribute", _roster(tmp_path / "c.csv", ["区文化和旅游局,1"]), "-o", out, "--append"])
    assert r.exit_code == 0, r.output
    third = read_manifest(out)
    assert third[:4] == second and third[4].department == "区文化和旅游局"
    ids = [i.form_id for i in third]
    assert len(set(ids)) == len(ids) == 5
    assert sorted(p.name for p in out.glob("*.xlsx")) == sorted(i.file for i in third)
    assert not list(out.glob(".*"))  # no staging or temporary file left

    # Nothing new: nothing written. A first distribute into the folder, another template, another year: refused.
    before = manifest.read_bytes()
    r = invoke(["distribute", tmp_path / "c.csv", "-o", out, "--append"])
    assert r.exit_code == 0 and "都已下发过" in r.output and manifest.read_bytes() == before
    r = invoke(["distribute", tmp_path / "c.csv", "-o", out])
    assert r.exit_code == 2 and "同名文件" in r.stderr and "--append" in r.stderr
    r = invoke(["distribute", _roster(tmp_path / "d.csv", ["区审计局"]), "-o", out, "--append", "-t", "mof-2021"])
    assert r.exit_code == 2 and "同一个模板" in r.stderr and manifest.read_bytes() == before
    r = invoke(["distribute", tmp_path / "d.csv", "-o", out, "--append", "--year", "2031"])
    assert r.exit_code == 2 and "年度" in r.stderr and manifest.read_bytes() == before
    r = invoke(["distribute", tmp_path / "d.csv", "-o", tmp_path / "空", "--append"])
    assert r.exit_code == 2 and "没有下发清单" in r.stderr

    # The grown round reports as one: a return of the last department is of this round.
    inbox = tmp_path / "收件"
    grown = DistributeResult(third, out, manifest, 0.0)
    fill_issued(grown, third[4], inbox / "文旅局.xlsx")
    report(inbox, tmp_path / "r.xlsx", out)
    departments = {d["部门"]: d["状态"] for d in rows(tmp_path / "r.xlsx", "按部门")}
    assert departments["区文化和旅游局"] == "已通过" and departments["区教育局"] == "未提交"


def test_an_unreadable_file_followed_by_a_readable_one_is_not_a_missing_form(tmp_path: Path,
                                                                           issued: DistributeResult) -> None:
    form = issued.issued[1]
    inbox = tmp_path / "收件"
    inbox.mkdir()
    (inbox / Path(form.file).with_suffix(".xls").name).write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504)
    fill_issued(issued, form, inbox / form.file)  # then saved as .xlsx, as asked
    report(inbox, tmp_path / "r.xlsx", issued.folder)
    departments = {d["部门"]: d for d in rows(tmp_path / "r.xlsx", "按部门")}
    assert (departments["区民政局"]["状态"], departments["区民政局"]["无法读取"]) == ("已通过", 1)
    # A link to a return read where it is, inside the inbox, is no file of its own.
    (inbox / "区民政局_链接.xlsx").symlink_to(inbox / form.file)  # named after it, yet no file of its own
    report(inbox, tmp_path / "r.xlsx", issued.folder)
    unread = {Path(str(u["文件"])).name: u["部门"] for u in rows(tmp_path / "r.xlsx", "未读取文件")}
    assert unread == {"2020_区民政局_绩效目标申报表.xls": "区民政局", "区民政局_链接.xlsx": None}


def test_a_project_name_filled_in_later_is_the_same_project(tmp_path: Path, issued: DistributeResult) -> None:
    form = issued.issued[0]
    inbox, out = tmp_path / "收件", tmp_path / "r.xlsx"
    now = time.time()
    fill_issued(issued, form, inbox / "a.xlsx", lambda d: setattr(d.project, "name", ""), mtime=now - DAY)
    fill_issued(issued, form, inbox / "b.xlsx", mtime=now)
    _, output = report(inbox, out, issued.folder)
    assert "一表多用" not in output and len(rows(out, "汇总")) == 1 and len(rows(out, "被替代版本")) == 1
    changes = rows(out, "修改情况")
    assert [c["表/字段"] for c in changes if c["类别"] == "修改字段"] == ["项目名称"]
    assert any(c["类别"] == "原问题" and c["是否已改正"] == "是" and "必填" in str(c["原问题"]) for c in changes)


def test_changes_in_what_a_template_adds_and_in_the_other_tables(tmp_path: Path) -> None:
    def version(staff: int, sources: list[tuple[str, str, str]]) -> Declaration:
        d = bureau_return("甲项目", Coded("219001", "区教育局"), staff, sources)
        d.identity.form_id, d.identity.department = "5b7c2a50-0000-4000-8000-000000000001", "区教育局"
        return d

    inbox, now = tmp_path / "收件", time.time()
    first = version(120, [("一般公共预算", "200000", "本级")])
    os.utime(write_bureau(inbox / "甲.xlsx", first), (now - DAY, now - DAY))
    second = version(150, [("一般公共预算", "200000", "本级"), ("其他", "32124", "")])
    second.activities[0].name = "音视频系统运维"
    del second.guarantees[1]
    second.tables["funding_sources"][0] = Row({"source": "一般公共预算", "amount": Decimal("200000"), "note": "区本级"})
    write_bureau(inbox / "甲_改.xlsx", second)
    make_report([inbox], tmp_path / "r.xlsx", templates=[BUREAU], jobs=1)
    got = {(c["类别"], c["表/字段"], c["原内容"], c["现内容"]) for c in rows(tmp_path / "r.xlsx", "修改情况")}
    assert ("修改字段", "受益人数", "120", "150") in got
    assert ("新增行", "资金来源明细", None, "资金来源：其他；金额：32124.00") in got
    assert ("修改行", "资金来源明细", "备注：本级", "备注：区本级") in got
    assert ("修改行", "项目构成", "主体活动（作业、任务）：音频音控系统", "主体活动（作业、任务）：音视频系统运维") in got
    assert any(k == "删除行" and t == "制度保障" and "文件名称" in str(old) for k, t, old, _ in got)
