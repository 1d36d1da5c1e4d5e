"""A bureau's own form through a whole round, typed into by a real LibreOffice.

A built-in template is copied with `xlform template copy`, edited as text the way a budget clerk edits it
(two fields, a code list and a table added), checked, turned into a filled workbook, typed into in
LibreOffice, then checked, exported and reported: the added values come back everywhere.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import CLEAN_GOAL
from tests.lo import fill_cells
from xlform.form.layout import layout_for
from xlform.form.template import load_template

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]

ADDED = """
fields:
  competent_dept:
    label: 主管部门
    kind: code
    list: departments
    required: true
    after: unit
  staff:
    label: 受益人数
    kind: integer
    section: details

codes:
  departments:
    - 219001-区教育局
    - 219002-区卫生健康委

tables:
  funding_sources:
    label: 资金来源明细
    rows: 4
    after: costs
    columns:
      source: {label: 资金来源, kind: choice, list: fund_source, required: true}
      amount: {label: 金额, kind: money}
"""


def test_copied_template_with_added_fields_and_table_through_a_round(tmp_path: Path) -> None:
    template = tmp_path / "hd-2020.yaml"
    assert invoke(["template", "copy", "shanghai-2020", "-o", str(template)]).exit_code == 0
    text = template.read_text(encoding="utf-8")
    text = text.replace("\nchoices:\n", "\nchoices:\n  fund_source: [一般公共预算, 政府性基金, 其他]\n", 1) + ADDED
    template.write_text(text, encoding="utf-8")
    checked = invoke(["template", "check", str(template)])
    assert checked.exit_code == 0, checked.output

    sample = tmp_path / "sample.xlsx"
    assert invoke(["example", "-t", str(template), "-o", str(sample)]).exit_code == 0
    t = load_template(template)
    layout = layout_for(t)
    sources = layout.tables["funding_sources"]
    goals = t.sheets["goals"]
    first = sources.first_row + 1
    inbox = tmp_path / "inbox"
    filled = inbox / "区教育局.xlsx"
    fill_cells(sample, filled, {
        "*": {"name:f_competent_dept": "219001-区教育局", "name:f_staff": "12", "name:f_unit": "区教育局", "name:f_category": "经常性项目",
              "name:f_annual_goal": CLEAN_GOAL},
        goals: {f"B{first}": "一般公共预算", f"C{first}": "200000", f"B{first + 1}": "其他", f"C{first + 1}": "32124"},
    })

    checked = invoke(["check", "-t", str(template), "--format", "json", str(filled)])
    report = json.loads(checked.stdout)
    findings = [f for r in report["files"] for f in r["findings"]] if "files" in report else report[0]["findings"]
    assert [f for f in findings if f["severity"] == "error"] == [], findings

    exported = invoke(["export", "-t", str(template), str(filled)])
    data = json.loads(exported.stdout)[0]
    assert data["extra"]["competent_dept"] == {"code": "219001", "name": "区教育局"}
    assert data["extra"]["staff"] == 12
    rows = data["tables"]["funding_sources"]
    assert [(r["values"]["source"], Decimal(r["values"]["amount"])) for r in rows] == [
        ("一般公共预算", Decimal("200000")), ("其他", Decimal("32124"))]

    out = tmp_path / "汇总.xlsx"
    made = invoke(["report", str(inbox), "-o", str(out), "-t", str(template)])
    assert made.exit_code == 0, made.output
    wb = openpyxl.load_workbook(out)
    summary = wb["汇总"]
    headers = [c.value for c in summary[1]]
    row = [c.value for c in summary[2]]
    assert row[headers.index("主管部门")] == "219001-区教育局"
    assert row[headers.index("受益人数")] == 12
    detail = wb["资金来源明细"]
    detail_headers = [c.value for c in detail[1]]
    amount = next(i for i, h in enumerate(detail_headers) if str(h).startswith("金额"))  # 金额（元）
    amounts = [r[amount] for r in detail.iter_rows(min_row=2, values_only=True)]
    assert sorted(a for a in amounts if isinstance(a, int | float)) == [32124, 200000]

