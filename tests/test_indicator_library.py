"""The indicator library (指标库): a template's YAML/CSV file, the 三级 dropdown and help lookup in the workbook,
库内/自定义 on reading, the library_mismatch rule, the report's columns, and the library travelling with a round."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml

from tests.cli_runner import invoke
from tests.helpers import clean_form, indicator, template_over
from tests.lo import fill_cells, require_soffice, resave
from xlform.form.layout import layout_for
from xlform.form.library import IN_LIBRARY, LIBRARY_COLUMNS
from xlform.form.targets import parse_target
from xlform.form.template import (
    TemplateError,
    builtin_ids,
    builtin_library_ids,
    load_template,
    parse_template,
    templates_dir,
)
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.reading.reader import Registry, read
from xlform.report.run import make_report
from xlform.review.rules import check
from xlform.writing.workbook import write_workbook

HEADER = "一级,二级,三级,指标解释,计量单位,方向,参考值,适用,来源\n"
OWN_CSV = HEADER + (
    ",数量,会议系统设备安装数量,按合同安装并调试完成的设备套数,套,≥,12,会议,本局 2026 年行业指标\n"
    "影响力目标,满意度,参会人员满意度,参会人员对会议保障的满意程度,%,≥,95%,会议,本局 2026 年行业指标\n"
)


def _bureau(tmp_path: Path, library: object, extra: str = "", csv_text: str = OWN_CSV, encoding: str = "utf-8",
            name: str = "本局指标库.csv") -> str:
    """A bureau template over shanghai-2020 whose library is `library`, with its own CSV beside it."""
    (tmp_path / name).write_bytes(csv_text.encode(encoding))
    return template_over(tmp_path, yaml.safe_dump({"library": library}, allow_unicode=True) + extra)


def _problems(path: str) -> str:
    with pytest.raises(TemplateError) as err:
        load_template(path)
    return "\n".join(err.value.problems)


# ---- the library file and the template --------------------------------------------------------------

@pytest.mark.parametrize("template_id", builtin_ids())
def test_each_builtin_has_a_small_sourced_starter_library(template_id: str) -> None:
    t = load_template(template_id)
    assert t.library is not None and 15 <= len(t.library.indicators) <= 40
    for i in t.library.indicators:
        assert i.level2 in t.taxonomy[i.level1], i
        assert "财预" in i.source or "样表" in i.source, i  # where it came from
        assert i.direction in ("≥", "≤", "=", "")
    # every 一级 of the taxonomy has indicators to pick from
    assert {i.level1 for i in t.library.indicators} == set(t.taxonomy)
    assert "library_help" in t.columns["indicators"]


def test_builtin_libraries_are_shipped_files() -> None:
    assert builtin_library_ids() == ["mof-2021", "shanghai-2020"]
    assert (templates_dir() / "library" / "mof-2021.yaml").is_file()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_library_in_any_encoding_excel_writes_extends_the_builtin(tmp_path: Path, encoding: str) -> None:
    t = load_template(_bureau(tmp_path, ["内置:shanghai-2020", "本局指标库.csv"], encoding=encoding))
    assert t.library is not None
    own = t.library.find("数量", "会议系统设备安装数量")
    assert own is not None and own.level1 == "产出目标"  # 一级 left empty: the one 二级 数量 belongs to
    assert (own.unit, own.direction, own.reference, own.kinds, own.source) == ("套", "≥", "12", ("会议",), "本局 2026 年行业指标")
    assert t.library.find("数量", "系统运维完成率") is not None  # the built-in ones are still there
    assert len(t.library.indicators) == len(load_template("shanghai-2020").library.indicators) + 2


def test_a_bureau_replaces_the_library_with_its_own_yaml(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "own.yaml").write_text(
        "- 来源: 本局\n  指标:\n    - {二级: 质量, 三级: 会场音质达标率, 计量单位: '%', 方向: '>='}\n", encoding="utf-8")
    t = load_template(template_over(tmp_path, "library: lib/own.yaml"))
    assert t.library is not None and [(i.name, i.direction, i.source) for i in t.library.indicators] == [
        ("会场音质达标率", "≥", "本局")]


def test_every_library_problem_is_listed_at_once_in_chinese(tmp_path: Path) -> None:
    bad = HEADER + (
        ",数量,培训人数,,人次,≥,,,\n"
        ",数量,培训人数,,人次,≥,,,\n"  # duplicate of the row above
        ",数量指标,培训人数,,人次,≥,,,\n"  # a 二级 of another taxonomy
        ",质量,验收合格率,,%,约,,,\n"  # no direction
        "效果目标,数量,x,,,,,,\n"  # 二级 not under this 一级
        ",质量,甲|乙,,,,,,\n"  # the workbook's lookup key joins 二级|三级
    )
    problems = _problems(_bureau(tmp_path, "本局指标库.csv", csv_text=bad))
    assert "第 3 行的指标“培训人数”（二级 数量）重复" in problems
    assert "第 4 行的二级“数量指标”不在模板的指标体系中（可用：产出目标：数量、质量、时效、成本" in problems
    assert "第 5 行的方向“约”应为 ≥、≤ 或 =" in problems
    assert "第 6 行的二级“数量”不属于一级“效果目标”" in problems
    assert "第 7 行的“三级”不能含有“|”" in problems
    assert all(p.startswith("模板 ") and "键 library（本局指标库.csv）" in p for p in problems.splitlines())


@pytest.mark.parametrize(("content", "expected"), [
    (b"\x80\x80\xff", "编码无法识别"),  # neither UTF-8 nor GB18030
    (b"", "是空文件"),
    ("名称,二级\nx,数量\n".encode(), "列标题“名称”不认识"),
    ("二级\n数量\n".encode(), "缺少列“三级”"),
    (b"a\x00b", "控制字符"),
])
def test_unusable_csv_is_a_template_problem(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "本局指标库.csv").write_bytes(content)
    path = template_over(tmp_path, "library: 本局指标库.csv")
    assert expected in _problems(path)


@pytest.mark.parametrize(("library", "expected"), [
    ("../outside.csv", "相对路径"),
    ("/etc/passwd", "相对路径"),
    ("本局指标库.txt", "相对路径"),
    ("没有这个文件.csv", "找不到文件"),
    ("内置:nope", "不是内置指标库（可用：内置:mof-2021、内置:shanghai-2020）"),
])
def test_library_path_must_be_a_file_beside_the_template(tmp_path: Path, library: str, expected: str) -> None:
    assert expected in _problems(template_over(tmp_path, f"library: '{library}'"))


def test_library_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_bytes(HEADER.encode() + b"x" * (1024 * 1024 + 10))
    assert "过大（超过 1024 KB）" in _problems(template_over(tmp_path, "library: big.csv"))


def test_help_column_without_a_library_is_a_problem(tmp_path: Path) -> None:
    path = template_over(tmp_path, "library: null")
    assert "键 columns.indicators.library_help 要有指标库（library）" in _problems(path)


def test_template_check_lists_library_problems_without_a_traceback(tmp_path: Path) -> None:
    path = _bureau(tmp_path, "本局指标库.csv", csv_text=HEADER + ",数量,x,,,大约,,,\n")
    r = invoke(["template", "check", path])
    assert r.exit_code == 1
    assert "方向“大约”" in r.output and "Traceback" not in r.output
    good = _bureau(tmp_path, ["内置:shanghai-2020", "本局指标库.csv"])
    r = invoke(["template", "check", good])
    assert r.exit_code == 0 and "指标库：28 个指标（内置:shanghai-2020、本局指标库.csv）" in r.output


def test_template_copy_keeps_a_working_library(tmp_path: Path) -> None:
    out = tmp_path / "hd-2026.yaml"
    assert invoke(["template", "copy", "mof-2021", "-o", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "# library：指标库" in text and "library: 内置:mof-2021" in text
    t = load_template(out)
    assert t.library is not None and t.library == load_template("mof-2021").library
    # the commented example at the end works as written: its CSV lines beside the copy, its library line in
    example = text[text.index("# 指标库：在内置指标库之外"):].splitlines()
    (tmp_path / "本局指标库.csv").write_text("\n".join(line[4:] for line in example[3:5]) + "\n", encoding="utf-8")
    out.write_text(text.replace("library: 内置:mof-2021\n", example[1][2:] + "\n"), encoding="utf-8")
    extended = load_template(out)
    assert extended.library.find("数量指标", "会议系统设备安装数量") is not None


# ---- the library travels with the template (round copy, store) --------------------------------------

def test_library_is_carried_in_the_template_text(tmp_path: Path) -> None:
    path = _bureau(tmp_path, ["内置:shanghai-2020", "本局指标库.csv"])
    t = load_template(path)
    assert "library_files:" in t.text and "会议系统设备安装数量" in t.text
    (tmp_path / "本局指标库.csv").unlink()  # the round's copy needs no other file
    again = parse_template(t.text, "下发模板副本")
    assert again.digest == t.digest and again.library == t.library


def test_edited_library_file_changes_the_template_digest(tmp_path: Path) -> None:
    path = _bureau(tmp_path, "本局指标库.csv")
    before = load_template(path)
    assert load_template(path) is before  # unchanged: the same object
    (tmp_path / "本局指标库.csv").write_text(OWN_CSV.replace("95%", "98%"), encoding="utf-8")
    after = load_template(path)
    assert after.digest != before.digest and after.library.find("满意度", "参会人员满意度").reference == "98%"


def test_report_from_the_store_alone_still_knows_the_library(tmp_path: Path) -> None:
    """Issue with a bureau library, delete the library file, report with --manifest, then with --db only."""
    path = _bureau(tmp_path, ["内置:shanghai-2020", "本局指标库.csv"])
    t = load_template(path)
    issued = distribute([Department("区机关事务管理局")], tmp_path / "下发", t)
    (tmp_path / "本局指标库.csv").unlink()
    d = clean_form()
    d.identity = read(issued.folder / issued.issued[0].file, Registry([t])).identity
    d.indicators[0] = indicator("产出目标", "数量", "会议系统设备安装数量", "≥12套")
    inbox = tmp_path / "收件"
    inbox.mkdir()
    write_workbook(t, inbox / "交回.xlsx", d)
    db = tmp_path / "收件记录.db"
    for args in (["--manifest", str(issued.folder)], []):
        out = tmp_path / f"报告{len(args)}.csv"
        r = invoke(["report", str(inbox), "-o", str(out), "--db", str(db), "--format", "csv", "--jobs", "1", *args])
        assert r.exit_code in (0, 1), r.output
        with open(tmp_path / f"{out.stem}_指标明细.csv", encoding="utf-8-sig", newline="") as fh:
            rows = {row["三级目标"]: row for row in csv.DictReader(fh)}
        assert rows["会议系统设备安装数量"]["库内/自定义"] == IN_LIBRARY
        assert rows["会议系统设备安装数量"]["参考值（指标库）"] == "12"


# ---- the workbook -------------------------------------------------------------------------------

def _list_values(wb: openpyxl.Workbook, name: str) -> list[str]:
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return [c.value for row in wb[sheet][ref.replace("$", "")] for c in row if c.value is not None]


@pytest.mark.parametrize("template_id", builtin_ids())
def test_level3_dropdown_is_a_third_cascade_that_accepts_own_text(write, template_id: str) -> None:
    t = load_template(template_id)
    pos = layout_for(t).tables["indicators"]
    wb = openpyxl.load_workbook(write(None, template_id))
    ws = wb[t.sheets["goals"]]
    first = pos.first_row + 1
    letter = openpyxl.utils.get_column_letter(pos.col_of("name") + 1)
    dv = next(dv for dv in ws.data_validations.dataValidation if f"{letter}{first}" in str(dv.sqref))
    assert str(dv.sqref) == f"{letter}{first}:{letter}{pos.last_row + 1}"
    assert dv.type == "list" and dv.errorStyle == "information"  # a department's own indicator still goes in
    l1 = openpyxl.utils.get_column_letter(pos.col_of("level1") + 1)
    l2 = openpyxl.utils.get_column_letter(pos.col_of("level2") + 1)
    assert dv.formula1 == (f'INDIRECT("l3_"&MATCH(${l1}{first},l_level1,0)&"_"&MATCH(${l2}{first},'
                           f'INDIRECT("l2_"&MATCH(${l1}{first},l_level1,0)),0))')
    # l3_<一级 position>_<二级 position> lists exactly the library's indicators under that pair
    for i, (level1, level2s) in enumerate(t.taxonomy.items(), start=1):
        for j, level2 in enumerate(level2s, start=1):
            assert _list_values(wb, f"l3_{i}_{j}") == list(t.library.under(level1, level2)), (level1, level2)
    assert "l3_key" in wb.defined_names and "l3_help" in wb.defined_names


def test_help_column_is_a_locked_lookup_with_cached_values(write) -> None:
    t = load_template("shanghai-2020")
    pos = layout_for(t).tables["indicators"]
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "本单位自己的指标", "3次"))
    path = write(d)
    formulas = openpyxl.load_workbook(path)[t.sheets["goals"]]
    values = openpyxl.load_workbook(path, data_only=True)[t.sheets["goals"]]
    col = pos.col_of("library_help") + 1
    assert formulas.cell(pos.header_row + 1, col).value == "指标解释（指标库）"
    for k in range(pos.n_rows):
        cell = formulas.cell(pos.first_row + 1 + k, col)
        assert cell.value.startswith("=IFERROR(INDEX(l3_help,MATCH(") and "l3_key,0))" in cell.value
        assert cell.protection.locked
        assert "XLOOKUP" not in cell.value and "FILTER" not in cell.value
    shown = [values.cell(pos.first_row + 1 + k, col).value or "" for k in range(len(d.indicators) + 1)]
    library = t.library
    expected = [(library.find(i.level2, i.name).help if library.find(i.level2, i.name) else "") for i in d.indicators]
    assert shown == [*expected, ""]  # own indicator and blank row: ""
    assert shown[0] == "实际完成的运维工作量占计划运维工作量的比例（计量单位：%）"  # 系统运维完成率


def test_template_without_a_library_has_the_plain_name_column(tmp_path: Path) -> None:
    path = template_over(tmp_path, "library: null")
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    del data["columns"]["indicators"]["library_help"], data["library"]
    Path(path).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    t = load_template(path)
    assert t.library is None and "library_help" not in t.columns["indicators"]
    out = tmp_path / "plain.xlsx"
    write_workbook(t, out)
    wb = openpyxl.load_workbook(out)
    assert not [n for n in wb.defined_names if n.startswith("l3_")]
    pos = layout_for(t).tables["indicators"]
    letter = openpyxl.utils.get_column_letter(pos.col_of("name") + 1)
    dv = next(dv for dv in wb[t.sheets["goals"]].data_validations.dataValidation
              if f"{letter}{pos.first_row + 1}" in str(dv.sqref))
    assert dv.type == "custom" and "LEN(" in dv.formula1  # the length check, as before
    d = clean_form()
    write_workbook(t, out, d)
    assert all(i.in_library is None for i in read(out, Registry([t])).indicators)


# ---- reading, the rule, the report ------------------------------------------------------------------

def test_reader_marks_library_and_own_indicators_and_ignores_the_help_column(write, tmp_path: Path) -> None:
    t = load_template("shanghai-2020")
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "本单位自己的指标", "3次"))
    path = write(d)
    wb = openpyxl.load_workbook(path)
    pos = layout_for(t).tables["indicators"]
    wb[t.sheets["goals"]].cell(pos.first_row + 1, pos.col_of("library_help") + 1).value = "有人改了说明"
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    for p in (path, edited):
        got = read(p)
        assert [(i.name, i.in_library) for i in got.indicators] == [
            ("系统运维完成率", True), ("系统运维质量达标率", True), ("运维完成及时性", True),
            ("视频会议正常召开", False), ("系统使用满意度", True), ("本单位自己的指标", False)]
        assert got.indicators == read(path).indicators  # the help column is not data
        assert all("library_help" not in i.extra for i in got.indicators)


def test_library_mismatch_points_at_the_unit_column_of_a_national_form(write) -> None:
    d = clean_form("mof-2021")
    own = indicator("产出指标", "数量指标", "培训人数", "≥200")
    own.measure_unit = "人"  # the library says 人次
    d.indicators.append(own)
    got = read(write(d, "mof-2021"))
    hits = [f for f in check(got) if f.rule == "indicators.library_mismatch"]
    assert len(hits) == 1 and hits[0].severity == "warning"
    t = load_template("mof-2021")
    pos = layout_for(t).tables["indicators"]
    assert hits[0].cell == f"{openpyxl.utils.get_column_letter(pos.col_of('measure_unit') + 1)}{own_row(got, '培训人数')}"
    assert "计量单位“人”与指标库的“人次”不同" in hits[0].message


def own_row(d, name: str) -> int:
    return next(i.row for i in d.indicators if i.name == name)


@pytest.mark.parametrize("target", ["≥200人次", "200人次", "≥ 200 人次", "≥200"])
def test_library_mismatch_silent_when_unit_and_direction_agree_or_are_not_given(write, target: str) -> None:
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "培训人数", target))
    assert "indicators.library_mismatch" not in {f.rule for f in check(read(write(d)))}


def test_library_mismatch_silent_for_an_own_indicator(write) -> None:
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "本单位培训人数", "≤3次"))
    assert "indicators.library_mismatch" not in {f.rule for f in check(read(write(d)))}


def test_report_details_show_in_library_and_reference(write, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "本单位自己的指标", "3次"))
    write_workbook(load_template("shanghai-2020"), inbox / "a.xlsx", d)
    out = tmp_path / "r.xlsx"
    make_report([inbox], out, jobs=1)
    ws = openpyxl.load_workbook(out)["指标明细"]
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    assert head.index("库内/自定义") == head.index("三级目标") + 1
    assert head.index("参考值（指标库）") == head.index("目标值") + 1  # beside the target
    got = {r[head.index("三级目标")]: (r[head.index("库内/自定义")], r[head.index("参考值（指标库）")]) for r in rows[1:]}
    assert got["系统使用满意度"] == ("库内", "95%")
    assert got["视频会议正常召开"][0] == "自定义" and not got["视频会议正常召开"][1]
    assert got["本单位自己的指标"][0] == "自定义"


def test_library_columns_are_one_list() -> None:
    assert list(LIBRARY_COLUMNS.values()) == HEADER.strip().split(",")


# ---- through LibreOffice ------------------------------------------------------------------------

@pytest.mark.libreoffice
@pytest.mark.slow
def test_libreoffice_resave_keeps_the_dropdown_and_the_lookup(write, tmp_path: Path) -> None:
    require_soffice()
    t = load_template("shanghai-2020")
    pos = layout_for(t).tables["indicators"]
    src = write(clean_form())
    out = resave(src, tmp_path / "lo")
    wb = openpyxl.load_workbook(out)
    ws = wb[t.sheets["goals"]]
    name_col = openpyxl.utils.get_column_letter(pos.col_of("name") + 1)
    dvs = [dv for dv in ws.data_validations.dataValidation if f"{name_col}{pos.first_row + 1}" in str(dv.sqref)]
    assert len(dvs) == 1 and dvs[0].type == "list" and dvs[0].errorStyle == "information"
    assert "l3_" in dvs[0].formula1 and "INDIRECT" in dvs[0].formula1
    assert _list_values(wb, "l3_1_1") == list(t.library.under("产出目标", "数量"))
    help_col = pos.col_of("library_help") + 1
    first = pos.first_row + 1
    formula = ws.cell(first, help_col).value
    assert "INDEX(l3_help" in formula and "MATCH(" in formula and "IFERROR(" in formula
    assert ws.cell(first, help_col).protection.locked
    values = openpyxl.load_workbook(out, data_only=True)[t.sheets["goals"]]
    assert values.cell(first, help_col).value == t.library.find("数量", "系统运维完成率").help
    assert not values.cell(pos.last_row + 1, help_col).value
    assert [i.in_library for i in read(out).indicators] == [i.in_library for i in read(src).indicators]


@pytest.mark.libreoffice
@pytest.mark.slow
def test_library_indicator_typed_in_libreoffice_reads_back_as_in_library(tmp_path: Path) -> None:
    require_soffice()
    t = load_template("mof-2021")
    pos = layout_for(t).tables["indicators"]
    src = tmp_path / "blank.xlsx"
    write_workbook(t, src)
    row = pos.first_row + 1

    def at(key: str, below: int = 0) -> str:
        return f"{openpyxl.utils.get_column_letter(pos.col_of(key) + 1)}{row + below}"

    typed = {t.sheets["goals"]: {at("level1"): "产出指标", at("level2"): "数量指标", at("name"): "培训人数",
                                 at("operator"): "≥", at("target"): "200", at("measure_unit"): "人次",
                                 at("level1", 1): "产出指标", at("level2", 1): "数量指标", at("name", 1): "本单位新设指标"}}
    out = tmp_path / "typed.xlsx"
    fill_cells(src, out, typed, calculate=True)
    d = read(out)
    assert [(i.name, i.in_library) for i in d.indicators] == [("培训人数", True), ("本单位新设指标", False)]
    assert "indicators.library_mismatch" not in {f.rule for f in check(d)}
    values = openpyxl.load_workbook(out, data_only=True)[t.sheets["goals"]]
    help_col = pos.col_of("library_help") + 1
    assert values.cell(row, help_col).value == "参加培训并完成全部课程的人数（计量单位：人次）"
    assert not values.cell(row + 1, help_col).value  # an own indicator: nothing to explain


def test_library_text_shaped_like_rich_text_xml_stays_text(tmp_path: Path) -> None:
    """A library is an outside file: an 指标解释 written as <r>…</r> must not reach the workbook as XML."""
    sneaky = '<r><t>x</t></r><f>HYPERLINK("http://example.invalid")</f>'
    rows = io.StringIO()
    csv.writer(rows).writerow(["", "数量", "恶意指标", f"<r>{sneaky}</r>", "", "", "", "", ""])  # no unit: the help is the text
    path = _bureau(tmp_path, "本局指标库.csv", csv_text=HEADER + rows.getvalue())
    t = load_template(path)
    out = tmp_path / "form.xlsx"
    d = clean_form()
    d.indicators.append(indicator("产出目标", "数量", "恶意指标", "≥1次"))
    write_workbook(t, out, d)
    assert f"<r>{sneaky}</r>" in _list_values(openpyxl.load_workbook(out), "l3_help")
    with zipfile.ZipFile(out) as z:
        parts = b"".join(z.read(n) for n in z.namelist() if n.endswith(".xml"))
    assert b"<f>HYPERLINK" not in parts and b"<r><t>x</t></r>" not in parts  # only ever as escaped text


@pytest.mark.parametrize(("target", "fires"), [
    ("=100%", False),  # the only value ≥ allows for a rate: the same direction
    ("＞95%", False),  # ＞ points the way ≥ does
    ("100%", False),  # no operator: nothing to compare
    ("=90%", True),
    ("<95%", True),
])
def test_library_direction_of_a_rate(write, target: str, fires: bool) -> None:
    d = clean_form()
    d.indicators[1].target = parse_target(target)  # 系统运维质量达标率: ≥ in the library
    found = [f for f in check(read(write(d))) if f.rule == "indicators.library_mismatch"]
    assert bool(found) is fires, found


@pytest.mark.parametrize(("target", "quality"), [("≤100%", "indicators.quantity_ceiling"),
                                                 ("28.8万元", "indicators.rate_not_percent")])
def test_a_library_indicator_gets_one_warning_for_one_mistake(write, target: str, quality: str) -> None:
    """What library_mismatch says of a 库内 indicator (its unit, its direction) the general indicator checks do not
    say again at the same cell; an own indicator still gets theirs."""
    d = clean_form()
    d.indicators[0].target = parse_target(target)  # 系统运维完成率, in the library as ≥ … %
    own = indicator("产出目标", "数量", "本单位设备巡检完成率", target)
    d.indicators.append(own)
    got = read(write(d))
    findings = check(got)
    at_library = [f.rule for f in findings if f.field and f.value == target and f.message.startswith("指标“系统运维完成率”")]
    assert at_library == ["indicators.library_mismatch"], [(f.rule, f.message) for f in findings]
    assert quality in {f.rule for f in findings if f.message.startswith("指标“本单位设备巡检完成率”")}
