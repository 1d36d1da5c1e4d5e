"""The latest return of a form is the same everywhere: the report, `feedback`, `review` and `distribute
--carry-over` all keep each project of a workbook copied for a second project (一表多用), as the report does."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from tests.cli_runner import invoke
from tests.helpers import fill_issued
from xlform.form.model import Declaration
from xlform.form.template import load_template
from xlform.issue.carry import carry_over
from xlform.issue.distribute import DistributeResult, distribute
from xlform.issue.feedback import write_feedback
from xlform.issue.roster import Department
from xlform.store import Store, final_returns

DAY = 86400
DEPARTMENTS = [Department("区教育局", "001"), Department("区卫生健康委", "003")]
FIRST, SECOND = "社区医院设备维护", "疾控中心信息系统"


def _first(d: Declaration) -> None:
    d.project.name = FIRST
    d.funding.fiscal_local = Decimal("1000")  # 财政拨款 ≠ 上级 + 本级 + 下级: an error to send back


def _second(d: Declaration) -> None:
    d.project.name = SECOND


@pytest.fixture
def reused(tmp_path: Path) -> tuple[DistributeResult, Path, Path]:
    """区卫生健康委 fills its one form for a project (with an error), then copies it for a second (clean)."""
    issued = distribute(DEPARTMENTS, tmp_path / "下发", load_template("shanghai-2020"))
    form = next(i for i in issued.issued if i.department == "区卫生健康委")
    inbox, db, now = tmp_path / "收件", tmp_path / "收件.db", time.time()
    fill_issued(issued, form, inbox / "卫健委_项目一.xlsx", _first, mtime=now - DAY)
    fill_issued(issued, form, inbox / "卫健委_项目二.xlsx", _second, mtime=now)
    r = invoke(["report", inbox, "-o", tmp_path / "汇总.xlsx", "--manifest", issued.folder, "--db", db, "--jobs", "1"])
    assert r.exit_code == 1 and "一表多用" in r.output, r.output
    return issued, tmp_path / "汇总.xlsx", db


def test_feedback_sends_back_the_project_with_errors_of_a_reused_form(tmp_path: Path, reused) -> None:
    _, _, db = reused
    with Store(db) as store:
        assert sorted(e.project for _, e in store.latest_returns()) == sorted([FIRST, SECOND])
    result = write_feedback(db, tmp_path / "退回")
    assert [(s.department, s.project) for s in result.sent] == [("区卫生健康委", FIRST)]


def test_review_records_a_decision_on_either_project_of_a_reused_form(tmp_path: Path, reused) -> None:
    _, report, db = reused
    wb = openpyxl.load_workbook(report)
    ws = wb["审核"]
    heads = [c.value for c in ws[1]]
    verdicts = {FIRST: "退回修改", SECOND: "通过"}
    for row in range(2, ws.max_row + 1):
        project = ws.cell(row, heads.index("项目名称") + 1).value
        if project in verdicts:
            ws[f"{get_column_letter(heads.index('审核结论') + 1)}{row}"] = verdicts[project]
    wb.save(tmp_path / "审核后.xlsx")
    r = invoke(["review", tmp_path / "审核后.xlsx", "--db", db])
    assert r.exit_code == 0 and "已记录 2 条审核结论" in r.stdout, r.output
    with Store(db) as store:
        assert sorted(d.project for d in store.decisions()) == sorted([FIRST, SECOND])
    # status shows each project's own decision, not the last one recorded for the form id
    forms = json.loads(invoke(["status", "--db", db, "--format", "json"]).stdout)["forms"]
    shown = {f["project"]: (f["status"], f["last_decision"]["verdict"]) for f in forms if f["project"] in verdicts}
    assert shown == {FIRST: ("已退回", "退回修改"), SECOND: ("通过", "通过")}


def test_carry_over_carries_both_projects_of_a_reused_form(reused) -> None:
    _, _, db = reused
    assert sorted(f.outcome.project for f in final_returns(db) if f.outcome) == sorted([FIRST, SECOND])
    carried = carry_over(db, load_template("shanghai-2020"), DEPARTMENTS)
    assert sorted(c.declaration.project.name for c in carried.by_department["区卫生健康委"]) == sorted([FIRST, SECOND])


def test_a_form_used_twice_does_not_stand_in_for_another_form_not_returned(tmp_path: Path) -> None:
    """区教育局 was issued two forms, used the first for two projects and never returned the second: the report's
    count, its 按部门 and `status` all say one form is missing."""
    issued = distribute([Department("区教育局", "001", projects=2)], tmp_path / "下发", load_template("shanghai-2020"))
    first = next(i for i in issued.issued if i.project_no == 1)
    inbox, db, now = tmp_path / "收件", tmp_path / "收件.db", time.time()
    fill_issued(issued, first, inbox / "项目甲.xlsx", lambda d: setattr(d.project, "name", "项目甲"), mtime=now - DAY)
    fill_issued(issued, first, inbox / "项目乙.xlsx", lambda d: setattr(d.project, "name", "项目乙"), mtime=now)
    out = tmp_path / "汇总.xlsx"
    r = invoke(["report", inbox, "-o", out, "--manifest", issued.folder, "--db", db, "--jobs", "1"])
    assert r.exit_code == 1 and "共缺 1 份" in r.stdout, r.output
    ws = openpyxl.load_workbook(out)["按部门"]
    heads = [c.value for c in ws[1]]
    assert "缺 1 份" in str(ws.cell(2, heads.index("状态") + 1).value)
    status = invoke(["status", "--db", db, "--format", "json"])
    assert '"missing": 1' in status.stdout, status.stdout


def test_a_folder_given_for_the_store_or_the_report_is_said_as_a_folder(tmp_path: Path) -> None:
    """status, remind, review and feedback name a folder given where the store (or the report) goes, and the
    stores in it, instead of saying it cannot be found."""
    folder = tmp_path / "第一轮"
    folder.mkdir()
    (folder / "收件记录.db").write_bytes(b"")
    for args in (["status", "--db", folder], ["remind", "--db", folder], ["feedback", "--db", folder, "-o", tmp_path / "退回"],
                 ["review", tmp_path / "x.xlsx", "--db", folder]):
        r = invoke(args)
        assert r.exit_code == 2 and "是一个文件夹" in r.stderr and "收件记录.db" in r.stderr, (args, r.output)
    r = invoke(["review", folder, "--db", folder / "收件记录.db"])
    assert r.exit_code == 2 and "是一个文件夹" in r.stderr and ".xlsx" in r.stderr, r.output
