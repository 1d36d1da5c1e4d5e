"""The Python API mirrors the command line: xlform.read(path) and xlform.check(declaration)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import xlform
from tests.helpers import sheet_names
from xlform.form.model import Declaration
from xlform.reading.refusals import Unreadable
from xlform.review.findings import Finding

P = sheet_names()[0]


def test_read_and_check_are_exported() -> None:
    assert {"read", "check"} <= set(xlform.__all__)
    assert callable(xlform.read) and callable(xlform.check)


def test_read_then_check_a_written_workbook(write, sample) -> None:
    path = write(sample)
    d = xlform.read(path)
    assert isinstance(d, Declaration)
    assert d.identity.template_id == "shanghai-2020" and d.identity.form_id
    assert d.project.name == "沪闵路6258号1号楼139会议室新建会议系统"
    assert d.funding.current_year == Decimal("232124")
    assert d.indicators[4].target.number == Decimal(95)
    assert d.source.file == str(path)
    findings = xlform.check(d)
    assert all(isinstance(f, Finding) for f in findings)
    mismatch = [f for f in findings if f.rule == "goal.target_mismatch"]
    assert len(mismatch) == 1 and "85%" in mismatch[0].message and "95%" in mismatch[0].message
    assert mismatch[0].where == f"{P}!C22"


def test_read_accepts_str_paths(write, sample) -> None:
    assert xlform.read(str(write(sample))).project.leader == "张宇华"


def test_check_a_declaration_built_in_code(sample) -> None:
    sample.project.unit = "闵行区机关事务管理局"
    sample.project.category = "经常性项目"
    sample.project.annual_goal = "满意度达到95%以上。"
    assert xlform.check(sample) == []
    sample.funding.fiscal_local = Decimal("200000")
    assert [(f.rule, f.where) for f in xlform.check(sample)] == [("funding.fiscal_parts", f"{P}!E15")]


def test_read_refuses_what_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_text("单位,金额\n区机关事务管理局,232124\n", encoding="utf-8")
    with pytest.raises(Unreadable, match="CSV"):
        xlform.read(path)


def test_a_return_of_a_bureaus_own_template_is_read_with_that_template_given(tmp_path: Path) -> None:
    from tests.cli_runner import invoke

    own = tmp_path / "hd-2026.yaml"
    assert invoke(["template", "copy", "mof-2021", "-o", str(own)]).exit_code == 0
    blank = tmp_path / "空白.xlsx"
    assert invoke(["new", "-t", str(own), "-o", str(blank)]).exit_code == 0
    with pytest.raises(Unreadable, match="未知的模板"):
        xlform.read(blank)
    d = xlform.read(blank, templates=[str(own)])
    assert d.identity.template_id == "hd-2026" and isinstance(xlform.check(d), list)
    known = xlform.Registry([own])
    assert xlform.read(blank, known).identity.template_id == "hd-2026"
    assert "Registry" in xlform.__all__ and "Registry" in dir(xlform)
