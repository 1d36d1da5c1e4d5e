"""What a bureau's template adds reaches every output: `export` (JSON, CSV, --table) and the report
(汇总 columns, added columns on the detail sheets, a detail sheet per added table; xlsx, CSV, JSON; --db)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml

from tests.cli_runner import invoke
from tests.helpers import clean_form
from xlform.collect.outcome import Outcome
from xlform.export import PROJECT_COLUMNS, TABLE_EXPORT_COLUMNS, TABLE_KEY_COLUMNS
from xlform.form.model import Declaration, Row
from xlform.form.template import load_template
from xlform.form.values import Coded
from xlform.store import SCHEMA_VERSION
from xlform.writing.workbook import write_workbook

BUREAU = Path(__file__).parent / "templates" / "bureau-2026.yaml"
ADDED_FIELDS = ["主管部门", "项目属性", "上年预算安排", "受益人数"]  # the template's labels, in form order


def bureau_return(project: str, dept: Coded, staff: int, sources: list[tuple[str, str, str]]) -> Declaration:
    d = clean_form("shanghai-2020")
    d.project.name = project
    d.extra = {"competent_dept": dept, "project_nature": "延续", "staff": staff, "prior_budget": Decimal("5000.50")}
    for n, i in enumerate(d.indicators):
        i.extra["score"] = Decimal(10 + n) / 2
    d.tables = {"funding_sources": [Row({"source": s, "amount": Decimal(a), "note": note}) for s, a, note in sources]}
    return d


def write_bureau(path: Path, d: Declaration) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(load_template(BUREAU), path, d)
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Two bureau returns with every added field, column and table filled, and one shanghai-2020 return."""
    folder = tmp_path / "收件"
    write_bureau(folder / "甲.xlsx", bureau_return("甲项目", Coded("219001", "区教育局"), 120,
                                                  [("一般公共预算", "200000", "本级"), ("其他", "32124", "")]))
    write_bureau(folder / "乙.xlsx", bureau_return("乙项目", Coded("219003", "区民政局"), 8,
                                                  [("政府性基金", "232124", "=1+1")]))
    write_workbook(load_template("shanghai-2020"), folder / "丙.xlsx", clean_form("shanghai-2020"))
    return folder


def export(*args: object) -> str:
    r = invoke(["export", *map(str, args), "-t", BUREAU])
    assert r.exit_code == 0, r.output
    return r.stdout


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


# ---- export ----------------------------------------------------------------------------------


def test_export_json_holds_added_fields_rows_and_tables(inbox: Path) -> None:
    [data] = json.loads(export(inbox / "甲.xlsx"))
    assert data["extra"] == {"competent_dept": {"code": "219001", "name": "区教育局"}, "project_nature": "延续",
                             "prior_budget": "5000.50", "staff": 120}
    assert [i["extra"]["score"] for i in data["indicators"]] == ["5", "5.5", "6", "6.5", "7"]
    rows = data["tables"]["funding_sources"]
    assert [(r["values"]["source"], r["values"]["amount"], r["values"]["note"]) for r in rows] == \
        [("一般公共预算", "200000.00", "本级"), ("其他", "32124.00", "")]
    assert all(r["row"] > 0 for r in rows)


def test_export_csv_adds_one_column_per_added_field_keeping_the_built_in_ones(inbox: Path) -> None:
    text = export(inbox, "-f", "csv")
    header = next(csv.reader(io.StringIO(text)))
    assert header == [h for h, _ in PROJECT_COLUMNS] + ADDED_FIELDS
    rows = {r["项目名称"]: r for r in csv_rows(text)}
    assert [rows["甲项目"][h] for h in ADDED_FIELDS] == ["219001-区教育局", "延续", "5000.50", "120"]
    assert [rows["乙项目"][h] for h in ADDED_FIELDS] == ["219003-区民政局", "延续", "5000.50", "8"]
    shanghai = next(r for name, r in rows.items() if name not in ("甲项目", "乙项目"))
    assert [shanghai[h] for h in ADDED_FIELDS] == ["", "", "", ""]
    # A return of a built-in template alone: exactly the columns scripts know.
    alone = export(inbox / "丙.xlsx", "-f", "csv")
    assert next(csv.reader(io.StringIO(alone))) == [h for h, _ in PROJECT_COLUMNS]


def test_export_table_takes_added_tables_and_heads_added_columns(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "资金来源.csv"
    export(inbox, "-f", "csv", "--table", "funding_sources", "-o", out)
    text = out.read_text(encoding="utf-8-sig")
    assert next(csv.reader(io.StringIO(text))) == [h for h, _ in TABLE_KEY_COLUMNS] + ["行", "资金来源", "金额", "备注"]
    got = sorted((r["项目名称"], r["资金来源"], r["金额"], r["备注"]) for r in csv_rows(text))
    assert got == [("乙项目", "政府性基金", "232124.00", "'=1+1"),  # formula-looking text stays text
                   ("甲项目", "一般公共预算", "200000.00", "本级"), ("甲项目", "其他", "32124.00", "")]

    [first, *_] = json.loads(export(inbox / "甲.xlsx", "--table", "funding_sources"))
    assert (first["资金来源"], first["金额"], first["项目名称"]) == ("一般公共预算", "200000.00", "甲项目")

    text = export(inbox, "-f", "csv", "--table", "indicators")
    header = next(csv.reader(io.StringIO(text)))
    assert header == [h for h, _ in (*TABLE_KEY_COLUMNS, *TABLE_EXPORT_COLUMNS["indicators"])] + ["分值"]
    scores = {(r["项目名称"], r["三级目标"]): r["分值"] for r in csv_rows(text)}
    assert sorted(v for (p, _), v in scores.items() if p == "甲项目") == ["5", "5.5", "6", "6.5", "7"]
    assert {v for (p, _), v in scores.items() if p not in ("甲项目", "乙项目")} == {""}


def test_export_table_unknown_to_every_template_is_a_chinese_usage_error(inbox: Path) -> None:
    r = invoke(["export", inbox, "--table", "nope", "-t", BUREAU])
    assert r.exit_code == 2 and not r.stdout
    assert "--table 不能取“nope”" in r.stderr and "funding_sources（资金来源明细）" in r.stderr
    assert "indicators" in r.stderr and "Traceback" not in r.stderr
    # Without the bureau's template the added table is not known either.
    r = invoke(["export", inbox, "--table", "funding_sources"])
    assert r.exit_code == 2 and "--table 不能取“funding_sources”" in r.stderr and "funding_sources（" not in r.stderr


def test_same_label_of_another_kind_and_a_built_in_heading_get_their_own_columns(inbox: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(BUREAU.read_text(encoding="utf-8"))
    data["id"] = "bureau-2026b"
    data["fields"]["competent_dept"] = {"label": "主管部门", "kind": "text", "after": "unit"}
    del data["codes"]
    data["fields"]["staff"]["label"] = "项目负责人"  # the heading of a built-in column
    other = tmp_path / "b.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    d = bureau_return("丁项目", Coded("219002", "区卫生健康委"), 3, [])
    d.extra["competent_dept"] = "卫健委"
    write_workbook(load_template(other), inbox / "丁.xlsx", d)
    r = invoke(["export", inbox, "-f", "csv", "-t", BUREAU, "-t", other])
    assert r.exit_code == 0, r.output
    header = next(csv.reader(io.StringIO(r.stdout)))
    assert header[:len(PROJECT_COLUMNS)] == [h for h, _ in PROJECT_COLUMNS]
    # First seen first: which one keeps the plain label depends on the files' order.
    assert sorted(header[len(PROJECT_COLUMNS):]) == sorted([*ADDED_FIELDS, "主管部门（competent_dept）",
                                                            "项目负责人（staff）"])
    rows = {row["项目名称"]: row for row in csv_rows(r.stdout)}
    depts = ("主管部门", "主管部门（competent_dept）")
    text_dept, code_dept = ([h for h in depts if rows[p][h]] for p in ("丁项目", "甲项目"))
    assert len(text_dept) == len(code_dept) == 1 and text_dept != code_dept
    assert (rows["丁项目"][text_dept[0]], rows["甲项目"][code_dept[0]]) == ("卫健委", "219001-区教育局")
    assert (rows["丁项目"]["项目负责人（staff）"], rows["丁项目"]["受益人数"], rows["甲项目"]["受益人数"]) == ("3", "", "120")


# ---- the report --------------------------------------------------------------------------------


def sheet(path: Path, name: str) -> tuple[list[str], list[list[object]], openpyxl.worksheet.worksheet.Worksheet]:
    ws = openpyxl.load_workbook(path)[name]
    header, *rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return header, [r for r in rows if r[0] not in (None, "合计")], ws


def report(inbox: Path, out: Path, *more: object) -> None:
    r = invoke(["report", inbox, "-o", out, "-t", BUREAU, "-j", "1", *more])
    assert r.exit_code in (0, 1), r.output


def every_sheet(path: Path) -> dict[str, list[tuple[object, ...]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [r for r in ws.iter_rows(values_only=True)] for ws in wb}


def test_report_has_added_columns_and_a_sheet_per_added_table(inbox: Path, tmp_path: Path) -> None:
    out, db = tmp_path / "汇总.xlsx", tmp_path / "收件.db"
    report(inbox, out, "--db", db)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "按部门", "指标明细", "构成明细", "资金来源明细", "问题清单", "修改情况", "未读取文件", "被替代版本",
                             "审核"]

    header, rows, ws = sheet(out, "汇总")
    assert header[header.index("项目类别") + 1:][:4] == ["主管部门", "项目属性", "上年预算安排（元）", "受益人数"]
    by_project = {r[header.index("项目名称")]: r for r in rows}
    got = [by_project["甲项目"][header.index(h)] for h in ("主管部门", "项目属性", "上年预算安排（元）", "受益人数")]
    assert got == ["219001-区教育局", "延续", 5000.5, 120]
    shanghai = next(r for p, r in by_project.items() if p not in ("甲项目", "乙项目"))
    assert shanghai[header.index("主管部门")] is None
    at = header.index("上年预算安排（元）") + 1
    money_cell = next(ws.cell(n, at) for n in range(2, ws.max_row) if ws.cell(n, at).value == 5000.5)
    assert money_cell.number_format == "#,##0.00"
    printed = openpyxl.utils.column_index_from_string(ws.print_area.split(":")[1].split("$")[1])
    assert header.index("受益人数") < printed <= header.index("文件")  # added ones printed, technical ones not

    header, rows, _ = sheet(out, "指标明细")
    assert header.index("分值") == header.index("指标值设定依据") + 1
    scores = sorted(r[header.index("分值")] for r in rows if r[header.index("项目名称")] == "乙项目")
    assert scores == [5, 5.5, 6, 6.5, 7]
    assert {r[header.index("分值")] for r in rows if r[header.index("项目名称")] not in ("甲项目", "乙项目")} == {None}

    header, rows, ws = sheet(out, "资金来源明细")
    assert header == ["部门", "项目名称", "资金来源", "金额（元）", "备注", "行", "文件"]
    assert sorted((r[1], r[2], r[3], r[4] or "") for r in rows) == [("乙项目", "政府性基金", 232124, "=1+1"),
                                                                    ("甲项目", "一般公共预算", 200000, "本级"),
                                                                    ("甲项目", "其他", 32124, "")]
    assert {ws.cell(n, 4).number_format for n in range(2, 5)} == {"#,##0.00"}
    assert next(c for c in ws["E"] if c.value == "=1+1").data_type == "s"  # text, never a formula
    assert all(isinstance(r[5], int) and str(r[6]).endswith(".xlsx") for r in rows)

    # Again from the store: nothing is read again, the report is rebuilt from stored results alike.
    first = every_sheet(out)
    out.unlink()
    r = invoke(["report", inbox, "-o", out, "-t", BUREAU, "-j", "1", "--db", db])
    assert "3 个文件未变" in r.stdout
    assert every_sheet(out) == first


def test_report_csv_and_json_have_the_added_parts(inbox: Path, tmp_path: Path) -> None:
    report(inbox, tmp_path / "r.csv", "-f", "csv")
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert {r["项目名称"]: r["主管部门"] for r in summary if r["项目名称"] in ("甲项目", "乙项目")} == \
        {"甲项目": "219001-区教育局", "乙项目": "219003-区民政局"}
    with open(tmp_path / "r_资金来源明细.csv", encoding="utf-8-sig", newline="") as fh:
        sources = list(csv.DictReader(fh))
    assert sorted((r["项目名称"], r["资金来源"], r["金额（元）"]) for r in sources) == \
        [("乙项目", "政府性基金", "232124"), ("甲项目", "一般公共预算", "200000"), ("甲项目", "其他", "32124")]

    report(inbox, tmp_path / "r.json", "-f", "json")
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    first = next(r for r in doc["returns"] if r["project"] == "甲项目")
    assert (first["competent_dept"], first["prior_budget"], first["staff"]) == ("219001-区教育局", 5000.5, 120)
    assert sorted((r["project"], r["source"], r["amount"]) for r in doc["funding_sources"])[1:] == \
        [("甲项目", "一般公共预算", 200000.0), ("甲项目", "其他", 32124.0)]
    assert {i["score"] for i in doc["indicators"] if i["project"] == "甲项目"} == {5, 5.5, 6, 6.5, 7}


def test_a_schema_4_store_is_upgraded_and_its_results_read_again(inbox: Path, tmp_path: Path) -> None:
    """Schema 4 results hold nothing the template adds: a store of that version reads every file again."""
    out, db = tmp_path / "r.json", tmp_path / "s.db"
    report(inbox, out, "--db", db, "-f", "json")
    first = json.loads(out.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:  # as schema 4 wrote it
        for key, payload in conn.execute("SELECT item_key, payload FROM results").fetchall():
            data = json.loads(payload)
            for name in ("added_fields", "extra", "indicator_columns", "cost_columns", "tables"):
                data.pop(name, None)
            for name in ("indicators", "costs"):
                data[name] = [row[:-1] for row in data[name]]
            conn.execute("UPDATE results SET payload = ? WHERE item_key = ?", (json.dumps(data), key))
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
        (returns,) = conn.execute("SELECT count(*) FROM returns").fetchone()
    out.unlink()
    r = invoke(["report", inbox, "-o", out, "-t", BUREAU, "-j", "1", "--db", db, "-f", "json"])
    assert "未变" not in r.stdout, r.stdout  # read again, not taken from the old results
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["funding_sources"] == first["funding_sources"] and again["returns"] == first["returns"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT count(*) FROM returns").fetchone() == (returns,)  # the history stays
        payloads = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM results")]
    back = [Outcome.from_json(p) for p in payloads]
    assert sorted(o.extra[0] for o in back if o.extra) == ["219001-区教育局", "219003-区民政局"]


def test_added_table_sheets_are_valid_excel_names_clashing_with_none(tmp_path: Path) -> None:
    data = yaml.safe_load(BUREAU.read_text(encoding="utf-8"))
    data["tables"]["funding_sources"]["label"] = "构成明细"  # the name of one of the report's own sheets
    long = "重大项目/分阶段实施计划及各阶段资金安排与绩效目标对照明细表（按年度）"
    data["tables"]["milestones"] = {"label": long, "rows": 2, "after": "costs", "columns": {"stage": "阶段"}}
    template = tmp_path / "t.yaml"
    template.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    d = bureau_return("甲项目", Coded("219001", "区教育局"), 1, [("其他", "1", "")])
    d.tables["milestones"] = [Row({"stage": "一期"})]
    write_workbook(load_template(template), tmp_path / "in" / "甲.xlsx", d)
    out = tmp_path / "r.xlsx"
    r = invoke(["report", tmp_path / "in", "-o", out, "-t", template, "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    names = openpyxl.load_workbook(out).sheetnames
    added = [n for n in names if n not in ("汇总", "按部门", "指标明细", "构成明细", "问题清单", "修改情况", "未读取文件", "被替代版本",
                                           "审核")]
    assert added == ["构成明细（2）", long.replace("/", "_")[:31]]
    assert sheet(out, added[1])[1][0][2] == "一期"
