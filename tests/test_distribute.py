"""Distribute: one stamped workbook per department and project, each reading back as its own form."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import field_cell
from xlform.errors import UserError
from xlform.export import declaration_dict
from xlform.form.model import Declaration, Identity
from xlform.form.template import builtin_ids, load_template
from xlform.issue.distribute import MANIFEST_NAME, Stamper, distribute, file_name, read_manifest
from xlform.issue.roster import Department
from xlform.reading.reader import read
from xlform.writing.workbook import write_workbook

ROSTER = "部门名称,部门编码,联系人,联系电话,项目数\n区教育局,001,张三,64120000,3\n区卫生健康委,002,,,\n区财政局&审计<局>,,,,1\n"
NOW = datetime(2020, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def _roster(tmp_path: Path, text: str = ROSTER) -> Path:
    path = tmp_path / "名单.csv"
    path.write_text(text, encoding="utf-8-sig")
    return path


def test_cli_writes_named_files_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "下发"
    roster = _roster(tmp_path, ROSTER.replace("区财政局&审计<局>", "区财政局&审计局"))
    result = invoke(["distribute", str(roster), "-o", str(out), "--year", "2021"])
    assert result.exit_code == 0, result.output
    assert "已为 3 个部门生成 5 份申报表" in result.output and "用时" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "2021_区教育局_绩效目标申报表.xlsx", "2021_区教育局_绩效目标申报表_2.xlsx", "2021_区教育局_绩效目标申报表_3.xlsx",
        "2021_区卫生健康委_绩效目标申报表.xlsx", "2021_区财政局&审计局_绩效目标申报表.xlsx", MANIFEST_NAME,
        "下发模板_shanghai-2020.yaml",  # the exact template issued, beside the manifest
    ])
    manifest = read_manifest(out)
    assert [(m.department, m.code, m.project_no, m.year) for m in manifest] == [
        ("区教育局", "001", 1, 2021), ("区教育局", "001", 2, 2021), ("区教育局", "001", 3, 2021),
        ("区卫生健康委", "002", 1, 2021), ("区财政局&审计局", "", 1, 2021),
    ]
    assert manifest[0].contact == "张三" and manifest[0].phone == "64120000"
    assert len({m.form_id for m in manifest}) == 5
    header = (out / MANIFEST_NAME).read_bytes().decode("utf-8")
    assert header.startswith("\ufeff表单编号,部门名称,部门编码")


def test_each_file_reads_back_as_its_own_form(tmp_path: Path) -> None:
    t = load_template("shanghai-2020")
    departments = [Department("区教育局", "001", projects=2), Department("区财政局&审计局", "0&2<"),
                   Department("区民政局")]
    result = distribute(departments, tmp_path / "out", t, now=NOW)
    assert result.rate > 0
    seen = set()
    for item in result.issued:
        path = tmp_path / "out" / item.file
        d = read(path)
        assert d.identity.form_id == item.form_id
        assert d.identity.department == item.department and d.project.unit == item.department
        assert d.identity.department_code == item.code
        assert d.identity.issued_at == "2020-03-01T09:30:00+08:00" and d.identity.year == 2020
        seen.add(d.identity.form_id)
        wb = openpyxl.load_workbook(path)  # a strict second reader opens it too
        cell = field_cell(wb, "f_unit")
        assert cell.value == item.department and cell.protection.locked  # prefilled and locked
        assert wb[t.sheets["project"]].protection.sheet
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
    assert len(seen) == 4


@pytest.mark.parametrize("template_id", builtin_ids())
def test_stamped_workbook_equals_one_built_in_full(tmp_path: Path, template_id: str) -> None:
    t = load_template(template_id)
    stamper = Stamper(t, 2024, NOW.isoformat())
    assert stamper.fast, "placeholders must sit only in sharedStrings, or distribute falls back to slow writes"
    stamped = tmp_path / "stamped.xlsx"
    stamped.write_bytes(stamper.stamp("form-1", "区教育局<&>", "C-9"))
    full = tmp_path / "full.xlsx"
    identity = Identity(form_id="form-1", department="区教育局<&>", department_code="C-9", issued_at=NOW.isoformat())
    write_workbook(t, full, Declaration(identity=identity), year=2024)
    a, b = declaration_dict(read(stamped)), declaration_dict(read(full))
    a.pop("file"), b.pop("file")
    assert a == b
    with zipfile.ZipFile(stamped) as s, zipfile.ZipFile(full) as f:
        assert s.namelist() == f.namelist()
        for name in s.namelist():
            if name not in ("xl/sharedStrings.xml", "docProps/core.xml"):
                assert s.read(name) == f.read(name), name


def test_slow_path_still_right_when_placeholders_are_elsewhere(tmp_path: Path) -> None:
    stamper = Stamper(load_template("shanghai-2020"), 2020, NOW.isoformat())
    stamper.fast = False  # as if a template put the department into another part too
    d = read("x.xlsx", data=stamper.stamp("f-2", "区民政局", ""))
    assert (d.identity.form_id, d.identity.department) == ("f-2", "区民政局")


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    existing = out / file_name(2020, "区民政局", 1)
    existing.write_bytes(b"issued last week")
    roster = _roster(tmp_path, "部门名称\n区教育局\n区民政局\n")
    result = invoke(["distribute", str(roster), "-o", str(out)])
    assert result.exit_code == 2
    assert "已有 1 个同名文件" in result.stderr
    assert existing.read_bytes() == b"issued last week"
    assert sorted(p.name for p in out.iterdir()) == [existing.name]


def test_unknown_template_and_case_clash(tmp_path: Path) -> None:
    roster = _roster(tmp_path, "部门名称\n区教育局\n")
    result = invoke(["distribute", str(roster), "-o", str(tmp_path / "o"), "-t", "nope"])
    assert result.exit_code == 2 and "找不到模板" in result.stderr
    with pytest.raises(UserError, match="大小写"):
        distribute([Department("ABC局"), Department("abc局")], tmp_path / "o2", load_template("shanghai-2020"))
    with pytest.raises(UserError, match="不能用于文件名"):
        distribute([Department("a/b")], tmp_path / "o3", load_template("shanghai-2020"))


def test_manifest_survives_a_resave_in_excel_as_gbk(tmp_path: Path) -> None:
    result = distribute([Department("区教育局", "+86-1")], tmp_path / "out", load_template("shanghai-2020"))
    text = result.manifest.read_text(encoding="utf-8-sig")
    assert "'+86-1" in text  # neutralised for spreadsheets...
    result.manifest.write_bytes(text.encode("gbk"))
    again = read_manifest(result.manifest)
    assert again[0].code == "+86-1" and again[0].form_id == result.issued[0].form_id  # ...and read back as typed


def test_stamped_zip_is_well_formed() -> None:
    stamper = Stamper(load_template("shanghai-2020"), 2020, NOW.isoformat())
    data = stamper.stamp("x", "区教育局", "1")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert "区教育局" in zf.read("xl/sharedStrings.xml").decode()


def _edited_manifest(tmp_path: Path, column: str, value: str) -> Path:
    result = distribute([Department("区教育局"), Department("区民政局")], tmp_path / "out", load_template("shanghai-2020"))
    import csv

    with result.manifest.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[1][rows[0].index(column)] = value
    with result.manifest.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return result.manifest


@pytest.mark.parametrize(("column", "value"), [("年度", "abcd"), ("年度", "20200"), ("项目序号", "abc"), ("项目序号", "0"),
                                               ("模板摘要", "deadbeef"), ("表单编号", ""), ("部门名称", "")])
def test_a_manifest_cell_edited_out_of_shape_is_named_with_its_row(tmp_path: Path, column: str, value: str) -> None:
    manifest = _edited_manifest(tmp_path, column, value)
    with pytest.raises(UserError, match=f"第 2 行：“{column}”"):
        read_manifest(manifest)
    inbox = tmp_path / "收件"
    inbox.mkdir()
    r = invoke(["report", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--manifest", str(manifest.parent)])
    assert r.exit_code == 2 and "被改坏了" in r.stderr and not (tmp_path / "r.xlsx").exists()


def test_a_manifest_with_only_its_header_is_not_taken_for_no_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / MANIFEST_NAME
    manifest.write_text("表单编号,部门名称,项目序号\n", encoding="utf-8-sig")
    with pytest.raises(UserError, match="没有任何下发记录"):
        read_manifest(manifest)
    bad = tmp_path / "坏" / MANIFEST_NAME
    bad.parent.mkdir()
    bad.write_bytes(b"\xef\xbb\xbf\xe8\xa1\xa8\xe5\x8d\x95\xe7\xbc\x96\xe5\x8f\xb7,x\n\x00a,b\n")
    with pytest.raises(UserError, match="下发清单"):
        read_manifest(bad)
