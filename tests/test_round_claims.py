"""A return's _meta is a claim: the report checks it against the manifest of the round."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests.helpers import fill_blank
from xlform.form.template import load_template
from xlform.issue.distribute import DistributeResult, distribute
from xlform.issue.roster import Department
from xlform.reading.reader import read
from xlform.report.run import make_report
from xlform.writing.workbook import write_workbook

T = load_template("shanghai-2020")


def _meta_edited(path: Path, key: str, value: str) -> Path:
    wb = openpyxl.load_workbook(path)
    for row in wb["_meta"].iter_rows():
        if row[0].value == key:
            row[1].value = value
    wb.save(path)
    return path


@pytest.fixture
def round_2026(tmp_path: Path) -> DistributeResult:
    return distribute([Department("区教育局"), Department("区民政局"), Department("区卫健委")], tmp_path / "下发", T,
                      year=2026)


def _problems(report: Path) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(report)["问题清单"]
    header, *rows = ws.iter_rows(values_only=True)
    return [dict(zip(header, r, strict=True)) for r in rows]


def test_claims_that_do_not_match_the_manifest_are_errors(tmp_path: Path, round_2026: DistributeResult) -> None:
    issued = {i.department: round_2026.folder / i.file for i in round_2026.issued}
    inbox = tmp_path / "收件"
    fill_blank(issued["区教育局"], inbox / "教育局.xlsx")  # honest
    last_year = distribute([Department("区民政局")], tmp_path / "去年", T, year=2025)
    fill_blank(last_year.folder / last_year.issued[0].file, inbox / "民政局_去年的表.xlsx")
    blank = tmp_path / "空白.xlsx"
    write_workbook(T, blank, None, year=2026)
    fill_blank(blank, inbox / "卫健委_自己生成的表.xlsx")
    _meta_edited(fill_blank(issued["区卫健委"], inbox / "卫健委_改了部门.xlsx"), "department", "区教育局")
    _meta_edited(fill_blank(issued["区民政局"], inbox / "民政局_改了年度.xlsx"), "year", "2025")

    make_report([inbox], tmp_path / "r.xlsx", manifest=round_2026.folder, jobs=1)
    by_file: dict[str, set[str]] = {}
    for p in _problems(tmp_path / "r.xlsx"):
        by_file.setdefault(Path(str(p["文件"])).name, set()).add(str(p["规则"]))
    rounds = {name: {r for r in rules if r.startswith("round.")} for name, rules in by_file.items()}
    assert not rounds.get("教育局.xlsx")
    assert rounds["民政局_去年的表.xlsx"] == {"round.not_issued"}
    assert rounds["卫健委_自己生成的表.xlsx"] == {"round.not_issued"}
    assert rounds["卫健委_改了部门.xlsx"] == {"round.other_department"}
    assert rounds["民政局_改了年度.xlsx"] == {"round.wrong_year"}
    messages = " ".join(str(p["说明"]) for p in _problems(tmp_path / "r.xlsx"))
    assert "2025 年度" in messages and "本轮为 2026 年度" in messages and "未经下发" in messages

    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"]
    header, *rows = ws.iter_rows(values_only=True)
    status = {Path(str(r[header.index("文件")])).name: r[header.index("状态")] for r in rows if r[0] != "合计"}
    assert status["民政局_去年的表.xlsx"] == "需修改"


def test_without_a_manifest_there_is_nothing_to_check_against(tmp_path: Path, round_2026: DistributeResult) -> None:
    inbox = tmp_path / "收件"
    last_year = distribute([Department("区民政局")], tmp_path / "去年", T, year=2025)
    fill_blank(last_year.folder / last_year.issued[0].file, inbox / "a.xlsx")
    make_report([inbox], tmp_path / "r.xlsx", jobs=1)
    assert not [p for p in _problems(tmp_path / "r.xlsx") if str(p["规则"]).startswith("round.")]


@pytest.mark.parametrize("db", [False, True])
def test_two_versions_in_one_mail_zip_are_ordered_by_their_own_times(tmp_path: Path, round_2026: DistributeResult,
                                                                    db: bool) -> None:
    """Named so that the older one sorts last: the newer one (by the zip's member times) must win."""
    import io
    import zipfile

    blank = round_2026.folder / round_2026.issued[0].file
    old, new = tmp_path / "old.xlsx", tmp_path / "new.xlsx"
    fill_blank(blank, old)
    d = read(old)
    d.project.leader = "改过的负责人"  # the same project corrected (another project's name would be a copy: both kept)
    write_workbook(T, new, d)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("申报表_最终版.xlsx", (2026, 3, 1, 9, 0, 0)), old.read_bytes())
        zf.writestr(zipfile.ZipInfo("申报表_修改稿.xlsx", (2026, 3, 5, 16, 30, 0)), new.read_bytes())
    inbox = tmp_path / "收件"
    inbox.mkdir()
    (inbox / "邮件.zip").write_bytes(buf.getvalue())
    store = tmp_path / "s.db" if db else None
    for _ in range(2 if db else 1):  # with a store, the second run takes the order from what it kept
        make_report([inbox], tmp_path / "r.xlsx", manifest=round_2026.folder, db=store, jobs=1)
        ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"]
        header, *rows = ws.iter_rows(values_only=True)
        files = [str(r[header.index("文件")]) for r in rows if r[0] != "合计"]
        assert len(files) == 1 and files[0].endswith("申报表_修改稿.xlsx")
        superseded = openpyxl.load_workbook(tmp_path / "r.xlsx")["被替代版本"]
        assert any("申报表_最终版.xlsx" in str(c.value) for row in superseded.iter_rows() for c in row)
