"""The department roster: CSV in every encoding Excel writes, XLSX, and a clear message for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter

from tests.cli_runner import invoke
from xlform.errors import UserError
from xlform.issue.roster import Department, read_roster

GOOD = "部门名称,部门编码,联系人,联系电话,项目数\n区教育局,001,张三,021-64120000,2\n区卫生健康委,002,,,\n"


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "名单.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_the_encodings_excel_writes(tmp_path: Path, encoding: str) -> None:
    departments = read_roster(_csv(tmp_path, GOOD, encoding))
    assert departments == [
        Department("区教育局", "001", "张三", "021-64120000", 2, row=2),
        Department("区卫生健康委", "002", "", "", 1, row=3),
    ]


def test_xlsx_with_a_title_row_numbers_and_aliases(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("名单")
    ws.write_string(0, 0, "2020 年预算单位名单")  # a title above the header, as clerks make them
    for col, head in enumerate(("序号", "单位名称", "部门编码", "项目数量")):
        ws.write_string(1, col, head)
    ws.write_row(2, 0, [1, "区教育局", 101, 3])  # Excel hands back 101.0 and 3.0
    ws.write_row(3, 0, [2, "区民政局"])
    wb.close()
    assert [(d.name, d.code, d.projects) for d in read_roster(path)] == [("区教育局", "101", 3), ("区民政局", "", 1)]


def test_xlsx_with_a_number_no_date_could_be_in_a_date_cell(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A roster kept in Excel, with a date column and a value typed into it by mistake: read, and quietly."""
    path = tmp_path / "名单.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["部门名称", "部门编码", "联系电话"])
    ws.write_row(1, 0, ["区教育局", "001"])
    ws.write_number(1, 2, -1e30, day)
    wb.close()
    assert [(d.name, d.phone[:2]) for d in read_roster(path)] == [("区教育局", "-1")]
    assert "panicked" not in capfd.readouterr().err


def test_tab_separated_and_trailing_blank_lines(tmp_path: Path) -> None:
    path = _csv(tmp_path, "部门名称\t项目数\n区教育局\t1\n\n\t\n")
    assert [d.name for d in read_roster(path)] == ["区教育局"]


def _problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(UserError) as info:
        read_roster(_csv(tmp_path, text))
    return str(info.value)


def test_missing_name_column_says_what_is_expected_and_found(tmp_path: Path) -> None:
    message = _problem(tmp_path, "单位,联系人\n区教育局,张三\n")
    assert "缺少“部门名称”列" in message and "部门编码" in message and "单位、联系人" in message


def test_empty_and_duplicate_names_are_reported_by_row(tmp_path: Path) -> None:
    message = _problem(tmp_path, "部门名称,部门编码\n区教育局,1\n,2\n区教育局,3\n")
    assert "第 3 行：部门名称为空" in message
    assert "第 4 行：部门名称“区教育局”与第 2 行重复" in message
    assert "尚未生成任何文件" in message


@pytest.mark.parametrize("bad", [*'/\\:*?"<>|', "\x07"])
def test_names_that_cannot_be_file_names(tmp_path: Path, bad: str) -> None:
    name = f"区教育局{bad}基建处"
    quoted = '"' + name.replace('"', '""') + '"'
    assert "不能用于文件名" in _problem(tmp_path, f"部门名称\n{quoted}\n")


@pytest.mark.parametrize("name", [" 区教育局", "区教育局 ", ".区教育局", "区教育局.", "区教育局\u3000"])
def test_leading_or_trailing_spaces_and_dots(tmp_path: Path, name: str) -> None:
    assert "开头或结尾有空格或句点" in _problem(tmp_path, f"部门名称\n{name}\n")


def test_formula_looking_names_codes_and_counts(tmp_path: Path) -> None:
    message = _problem(tmp_path, "部门名称,部门编码,项目数\n=cmd,1,1\n区教育局,1,0\n区民政局,2,两个\n区财政局,3,2.5\n")
    assert "以 = + - @ 开头" in message
    assert "部门编码“1”与第 2 行重复" in message
    assert "项目数“0”应为 1 到 100" in message and "项目数“两个”不是数字" in message
    assert "项目数“2.5”" in message
    assert "有 5 处问题" in message  # every problem at once, not one per run


def test_empty_roster_and_unsupported_files(tmp_path: Path) -> None:
    assert "没有任何部门" in _problem(tmp_path, "部门名称,部门编码\n")
    (tmp_path / "名单.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(UserError, match="另存为"):
        read_roster(tmp_path / "名单.xls")
    with pytest.raises(UserError, match="找不到部门名单"):
        read_roster(tmp_path / "none.csv")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError, match="无法读取"):
        read_roster(tmp_path / "bad.xlsx")


def test_cli_rejects_a_bad_roster_before_writing_anything(tmp_path: Path) -> None:
    roster = _csv(tmp_path, "部门名称\n区教育局\n区教育局\n区民政局/基建\n")
    out = tmp_path / "out"
    result = invoke(["distribute", str(roster), "-o", str(out)])
    assert result.exit_code == 2
    assert "重复" in result.stderr and "不能用于文件名" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()


@pytest.mark.parametrize("header", ["部门名称,联系人,部门名称", "部门名称,邮箱,电子邮箱", "单位名称,部门名称"])
def test_two_columns_for_one_thing_are_named_not_one_silently_taken(tmp_path: Path, header: str) -> None:
    text = _problem(tmp_path, f"{header}\n区教育局,张三,jyj@example.cn\n")
    assert "有两列都是" in text and ("第 A 列" in text or "第 B 列" in text)


@pytest.mark.parametrize("phone", ["abc", "-1", "电话见附件", "=1+1"])
def test_a_phone_that_is_no_number_is_a_problem(tmp_path: Path, phone: str) -> None:
    assert "联系电话" in _problem(tmp_path, f"部门名称,联系电话\n区教育局,{phone}\n")


@pytest.mark.parametrize("phone", ["021-64120000", "021-6412 0000 转 8001", "(021)64120000", "13800000000/13900000000",
                                   "０２１-６４１２００００", "+86 21 6412 0000", "13800000000（微信同号）", "6400 0000（办）"])
def test_phones_as_offices_write_them_are_read(tmp_path: Path, phone: str) -> None:
    assert [d.phone for d in read_roster(_csv(tmp_path, f"部门名称,联系电话\n区教育局,{phone}\n"))] == [phone]


def test_a_tick_box_value_is_no_department_name(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["部门名称", "联系人"])
    ws.write_boolean(1, 0, True)
    ws.write_row(2, 0, ["区民政局", "李四"])
    wb.close()
    with pytest.raises(UserError, match="第 2 行：“部门名称”是逻辑值"):
        read_roster(path)


def test_a_roster_path_that_is_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    folder = tmp_path / "名单.csv"
    folder.mkdir()
    with pytest.raises(UserError, match="不是普通文件"):
        read_roster(folder)
