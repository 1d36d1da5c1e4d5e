"""A template or library is an untrusted file too: hostile YAML is one Chinese line, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import invoke
from xlform.form.template import TemplateError, parse_template

HOSTILE = {
    "nested": "[" * 50_000 + "]" * 50_000,
    "huge_number": "id: x\nversion: " + "9" * 20_000 + "\n",
    "alias_bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9)),
    "broken": "id: [unclosed\n",
    "not_a_mapping": "- just\n- a list\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_one_clear_error(case: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(HOSTILE[case], "本局模板.yaml")
    assert "本局模板.yaml" in str(err.value)
    path = tmp_path / "本局模板.yaml"
    path.write_text(HOSTILE[case], encoding="utf-8")
    run = invoke(["template", "check", str(path)])
    assert run.exit_code == 1 and "Traceback" not in run.output and "模板" in run.output


def _with(changes: str, sheet_name: str | None = None) -> str:
    """The mof-2021 template as `template copy` writes it, with lines added (and the first sheet renamed)."""
    from xlform.form.shipped import templates_dir

    base = (templates_dir() / "mof-2021.yaml").read_text(encoding="utf-8")
    if sheet_name is not None:
        assert "  project: 项目总体情况\n" in base
        base = base.replace("  project: 项目总体情况\n", f"  project: {sheet_name}\n", 1)
    return base + changes


def _columns(n: int, sheet: str = "") -> str:
    cols = "".join(f"      c{i}: {{label: 列{i}, kind: money}}\n" for i in range(n))
    return f"tables:\n  wide:\n    label: 宽表\n    rows: 3\n{sheet}    columns:\n{cols}"


@pytest.mark.parametrize("name", ['"\'项目"', '"项目\'"', "History", "HISTORY"])
def test_a_sheet_name_excel_refuses_is_a_template_problem_not_a_crash(name: str, tmp_path: Path) -> None:
    for text in (_with("", name), _with(f"tables:\n  t1:\n    label: T\n    rows: 3\n    sheet: {name}\n"
                                        "    columns:\n      a: {label: A, kind: text}\n")):
        with pytest.raises(TemplateError, match="不是有效的工作表名"):
            parse_template(text, "本局模板.yaml")
        path = tmp_path / "本局模板.yaml"
        path.write_text(text, encoding="utf-8")
        made = invoke(["new", "-t", str(path), "-o", str(tmp_path / "空白.xlsx")])
        assert made.exit_code == 2 and "工作表名" in made.stderr and "内部错误" not in made.output


@pytest.mark.parametrize(("changes", "problem"), [
    (_columns(200), "202 列"),  # as the reader, refusing the blank form, counted them
    (_columns(99), "101 列，超过"),
    ("tables:\n" + "".join(f"  t{i}:\n    label: 表{i}\n    rows: 500\n    columns:\n      a: {{label: A, kind: text}}\n"
                           for i in range(40)), "行、"),
])
def test_a_form_too_big_to_read_back_is_refused_before_it_is_issued(changes: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=problem):
        parse_template(_with(changes), "本局模板.yaml")


@pytest.mark.parametrize("changes", [_columns(98), _columns(100, "    sheet: 宽表\n")])
def test_the_widest_form_allowed_is_issued_and_read_back(changes: str, tmp_path: Path) -> None:
    path = tmp_path / "本局模板.yaml"
    path.write_text(_with(changes), encoding="utf-8")
    assert invoke(["new", "-t", str(path), "-o", str(tmp_path / "空白.xlsx")]).exit_code == 0
    checked = invoke(["check", "-t", str(path), str(tmp_path / "空白.xlsx")])
    assert "无法读取：" not in checked.stdout and "合计：1 个文件" in checked.stdout, checked.output


@pytest.mark.parametrize(("text", "key", "lines"), [
    ("id: a\nid: b\n", "id", "第 1 行和第 2 行"),
    ("labels: {name: 甲, name: 乙}\n", "name", "第 1 行和第 1 行"),
    ("choices:\n  a: [x]\nrows: {}\nchoices:\n  b: [y]\n", "choices", "第 1 行和第 4 行"),
])
def test_a_key_written_twice_is_named_not_silently_replaced(text: str, key: str, lines: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=f"键“{key}”在{lines}各写了一次"):
        parse_template(text, "本局模板.yaml")
    path = tmp_path / "本局模板.yaml"
    path.write_text(_with("\n" + text.split("\n", 1)[0].split(":")[0] + ": 重复\n") if key == "id" else text,
                    encoding="utf-8")
    run = invoke(["template", "check", str(path)])
    assert run.exit_code == 1 and "各写了一次" in run.stdout and "Traceback" not in run.output


def test_yaml_merge_keys_are_not_taken_for_keys_written_twice() -> None:
    from xlform.form.yamltext import load_yaml

    assert load_yaml("a: &x {k: 1, j: 3}\nb:\n  <<: *x\n  k: 2\n") == {"a": {"k": 1, "j": 3}, "b": {"k": 2, "j": 3}}


def _inserted(key: str, lines: str) -> str:
    """mof-2021 with `lines` added at the top of its `key:` block (or a new block when it has none)."""
    base = _with("")
    return base.replace(f"\n{key}:\n", f"\n{key}:\n{lines}", 1) if f"\n{key}:\n" in base else f"{base}\n{key}:\n{lines}"


@pytest.mark.parametrize(("text", "problem"), [
    (_inserted("taxonomy", "".join(f"  一级{i}: [二级{i}]\n" for i in range(3000))), "个一级目标，最多 50 个"),
    (_inserted("taxonomy", "  一级甲: [" + ", ".join(f"二级{i}" for i in range(500)) + "]\n"), "有 500 项，最多 100 项"),
    (_inserted("choices", "  huge:\n" + "".join(f"    - 选项{i}\n" for i in range(20000))), "有 20000 项，最多"),
    (_inserted("choices", "".join(f"  l{i}: [a]\n" for i in range(300))), "个列表，最多 200 个列表"),
    (_inserted("codes", "  departments:\n" + "".join(f"    - {100000 + i}-部门{i}\n" for i in range(20000))),
     "有 20000 项，最多"),
    (_with("fields:\n  x1:\n    label: " + "长" * 5000 + "\n    kind: text\n"), "过长（5000 字"),
])
def test_a_template_too_big_for_a_form_is_refused_quickly(text: str, problem: str) -> None:
    """Each took minutes or more before: lists drawn column by column on the hidden sheet (a 30,000-entry
    taxonomy, 105 s for `new`), duplicates found by counting every item again (hours for 100,000)."""
    import time

    start = time.perf_counter()
    with pytest.raises(TemplateError) as err:
        parse_template(text, "本局模板.yaml")
    assert time.perf_counter() - start < 60  # a bound on a hang, not a speed claim: it takes well under a second
    assert problem in str(err.value), str(err.value)[:300]


def test_thousands_of_problems_are_shown_as_the_first_thirty(tmp_path: Path) -> None:
    path = tmp_path / "本局模板.yaml"
    extra = "".join(f"  l{i}: [a, b]\n" for i in range(150))
    path.write_text(_with("").replace("\nchoices:\n", "\nchoices:\n" + extra, 1), encoding="utf-8")
    for args in (["template", "check", str(path)], ["new", "-t", str(path), "-o", str(tmp_path / "x.xlsx")]):
        run = invoke(args)
        assert "……另有 120 个问题" in run.output and run.output.count("没有字段或列用到") == 30
