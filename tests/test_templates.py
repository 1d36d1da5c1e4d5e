"""Templates are data: built-ins load, an edited copy works, a broken one is refused clearly."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import yaml

from tests.cli_runner import invoke
from xlform.form.template import TemplateError, builtin_ids, load_template, templates_dir
from xlform.reading.reader import Registry, read
from xlform.writing.workbook import write_workbook


def _builtin_yaml(template_id: str = "shanghai-2020") -> dict:
    return yaml.safe_load(templates_dir().joinpath(f"{template_id}.yaml").read_text(encoding="utf-8"))


def test_builtins_load_with_their_taxonomies() -> None:
    assert builtin_ids() == ["mof-2021", "national-2026", "shanghai-2020"]
    sh = load_template("shanghai-2020")
    assert sh.taxonomy["产出目标"] == ("数量", "质量", "时效", "成本")
    assert sh.money_unit == "元" and sh.year == 2020
    mof = load_template("mof-2021")
    assert "成本指标" in mof.level1 and mof.indicator_style == "mof"
    assert list(mof.columns["indicators"]) == [
        "level1", "level2", "name", "value_type", "operator", "target", "measure_unit", "value_basis", "note",
        "library_help"]
    national = load_template("national-2026")  # YAML only: everything it adds is data
    assert national.money_unit == "万元" and national.required_level1[0] == "成本指标"
    assert list(national.columns["indicators"]) == [
        "level1", "level2", "name", "value_type", "operator", "target", "measure_unit", "explanation", "value_basis",
        "score", "library_help"]
    assert not national.has("fiscal_local") and national.field_by_key["competent_dept"].kind == "code"


def test_edited_template_is_written_and_read_back(tmp_path: Path, sample) -> None:
    data = _builtin_yaml()
    data.update(id="bureau-2025", version="3", year=2025, money_unit="万元")
    data["labels"]["name"] = "项目名称（全称）"
    data["taxonomy"]["产出目标"] = ["数量", "质量", "时效", "成本", "安全"]
    data["rows"]["indicators"] = 30
    data["choices"]["category"] = ["一次性项目", "经常性项目"]
    path = tmp_path / "bureau.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = invoke(["new", "-t", str(path), "-o", str(tmp_path / "b.xlsx")])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    sheet, ref = next(iter(wb.defined_names["t_indicators"].destinations))
    assert len(wb[sheet][ref.replace("$", "")]) == 30
    project = data["sheets"]["project"]
    assert wb[project]["A4"].value == "项目名称（全称）"
    assert "（2025 年）" in wb[project]["A2"].value
    # The reader refuses the unknown template unless told about it, then reads it.
    from xlform.reading.refusals import Unreadable

    with pytest.raises(Unreadable, match="bureau-2025"):
        read(tmp_path / "b.xlsx")
    t = load_template(path)
    sample.indicators[0].level2 = "安全"
    write_workbook(t, tmp_path / "filled.xlsx", sample)
    back = read(tmp_path / "filled.xlsx", Registry([path]))
    assert back.identity.template_id == "bureau-2025" and back.indicators[0].level2 == "安全"
    assert back.identity.money_unit == "万元"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("labels"), "键 labels 缺失"),
        (lambda d: d["labels"].pop("phone"), "键 labels.phone"),
        (lambda d: d.update(year="明年"), "键 year"),
        (lambda d: d.update(money_unit="美元"), "键 money_unit"),
        (lambda d: d["rows"].update(indicators=0), "键 rows.indicators"),
        (lambda d: d["taxonomy"].update(产出目标=[]), "键 taxonomy.产出目标"),
        (lambda d: d.update(required_level1=["不存在的目标"]), "required_level1"),
        (lambda d: d["sheets"].update(goals="绩效/目标"), "键 sheets.goals"),
        (lambda d: d["columns"]["indicators"].pop("target"), "columns.indicators.target"),
        (lambda d: d["choices"].update(category=["一次性项目", "一次性项目"]), "重复"),
        (lambda d: d.update(colour="red"), "键 colour 不认识"),
        (lambda d: d["required"].append("nonsense"), "nonsense"),
    ],
)
def test_broken_template_names_file_key_and_problem(tmp_path: Path, edit, expected: str) -> None:
    data = _builtin_yaml()
    edit(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert str(path) in str(info.value) and expected in str(info.value)
    out = tmp_path / "never.xlsx"
    result = invoke(["new", "-t", str(path), "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()  # nothing half-written


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="YAML 格式错误"):
        load_template(path)
    with pytest.raises(TemplateError, match="找不到模板"):
        load_template(tmp_path / "nope.yaml")
