"""A round issued before an upgrade keeps reading: the built-ins as earlier versions shipped them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import invoke
from xlform import check, read
from xlform.form.sample import example_declaration
from xlform.form.template import builtin_ids, builtin_templates, load_template, previous_templates
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.writing.workbook import write_workbook


def test_every_previous_version_is_an_older_version_of_a_builtin() -> None:
    current = {t.id: t for t in builtin_templates()}
    previous = previous_templates()
    assert {t.id for t in previous} == set(builtin_ids())
    for t in previous:
        assert int(t.version) < int(current[t.id].version)
        assert t.digest and t.digest != current[t.id].digest
        assert t.library is None  # before the library


def test_a_return_issued_with_version_1_reads_without_its_rounds_copy(tmp_path: Path) -> None:
    for old in previous_templates():
        issued = distribute([Department("区教育局")], tmp_path / old.id, old)
        blank = issued.folder / issued.issued[0].file
        for copy in issued.folder.glob("*.yaml"):
            copy.unlink()  # no --manifest copy: only what xlform ships
        d = read(blank)
        assert (d.identity.template_id, d.identity.template_version) == (old.id, old.version)
        assert not [f for f in check(d) if f.rule.startswith("structure.")]
    # A new form is always the current version.
    assert load_template("shanghai-2020").version != "1"
    run = invoke(["check", str(tmp_path / "shanghai-2020")])
    assert "模板 shanghai-2020 版本 1" in run.stdout and "Traceback" not in run.output


def test_a_filled_version_1_return_reads_its_values(tmp_path: Path) -> None:
    old = next(t for t in previous_templates() if t.id == "national-2026")
    d = example_declaration(old)
    write_workbook(old, tmp_path / "v1.xlsx", d)
    back = read(tmp_path / "v1.xlsx")
    assert back.identity.template_version == "1"
    assert back.project.name == d.project.name and back.extra == d.extra
    assert [(i.name, i.target.number) for i in back.indicators] == [(i.name, i.target.number) for i in d.indicators]


def test_a_round_issued_with_version_1_goes_through_report_feedback_and_carry_over(tmp_path: Path) -> None:
    """Returns of a version 1 round: the report reads them as version 1, feedback writes the package in version 1
    (the department's form, so the corrected return supersedes it), and next year carries them into version 2."""
    from decimal import Decimal

    from tests.helpers import fill_issued
    from xlform.issue.feedback import write_feedback
    from xlform.report.run import make_report

    old = next(t for t in previous_templates() if t.id == "shanghai-2020")
    departments = [Department("区教育局"), Department("区民政局")]
    issued = distribute(departments, tmp_path / "下发", old)
    inbox, db = tmp_path / "收件", tmp_path / "收件.db"
    for item in issued.issued:
        def fill(d, item=item):  # type: ignore[no-untyped-def]
            d.project.name = f"{item.department}项目"
            if item.department == "区教育局":
                d.funding.fiscal_local = Decimal("1000")  # an error: sent back
        returned = fill_issued(issued, item, inbox / item.file, fill)
        assert read(returned).identity.template_version == "1"
    make_report([inbox], tmp_path / "汇总.xlsx", manifest=issued.folder, db=db, jobs=1, progress=False)
    sent = write_feedback(db, tmp_path / "退回").sent
    assert [s.department for s in sent] == ["区教育局"]
    back = read(sent[0].path)
    assert (back.identity.template_version, back.identity.form_id) == ("1", issued.issued[0].form_id)
    r = invoke(["distribute", "-o", tmp_path / "明年", "--year", "2021", "--carry-over", db,
                str(_roster(tmp_path, departments))])
    assert r.exit_code == 0, r.output
    for item in (tmp_path / "明年").glob("*.xlsx"):
        d = read(item)
        assert d.identity.template_version == load_template("shanghai-2020").version
        assert d.project.name.endswith("项目") and d.project.overview


def _roster(tmp_path: Path, departments: list[Department]) -> Path:
    path = tmp_path / "名单.csv"
    path.write_text("部门名称\n" + "".join(f"{d.name}\n" for d in departments), encoding="utf-8")
    return path


def test_a_round_issued_before_templates_were_checked_more_strictly_stays_readable(tmp_path: Path) -> None:
    """A copy kept beside the manifest (and the one the store records) is the template the forms were issued
    with: a later, stricter xlform reads with it as it is (a key written twice keeps its last value)."""
    from xlform.form.shipped import templates_dir
    from xlform.form.template import TemplateError, parse_template
    from xlform.issue.distribute import distribute

    text = (templates_dir() / "shanghai-2020.yaml").read_text(encoding="utf-8").replace(
        "id: shanghai-2020", "id: hd-old", 1) + "\nhelp_contact: 预算科 64000000\n"
    with pytest.raises(TemplateError, match="各写了一次"):
        parse_template(text, "本局.yaml")  # what template check says of it now
    old = parse_template(text, "本局.yaml", issuing=False)  # as an earlier xlform took it
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称\n区教育局\n", encoding="utf-8")
    issued = distribute(roster, tmp_path / "下发", old)
    inbox = tmp_path / "收件"
    inbox.mkdir()
    (inbox / "区教育局.xlsx").write_bytes((issued.folder / issued.issued[0].file).read_bytes())  # sent back blank
    for given in (["--manifest", str(tmp_path / "下发")],):
        checked = invoke(["check", str(inbox), *given])
        assert "无法读取：" not in checked.stdout and "合计：1 个文件" in checked.stdout, checked.output
    db = tmp_path / "s.db"
    made = invoke(["report", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--manifest", str(tmp_path / "下发"),
                   "--db", str(db)])
    assert made.exit_code in (0, 1) and "无法读取 0 个" in made.stdout, made.output
    again = invoke(["check", str(inbox), "--db", str(db)])
    assert "无法读取：" not in again.stdout and "合计：1 个文件" in again.stdout, again.output
