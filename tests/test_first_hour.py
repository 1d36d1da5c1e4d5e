"""What a new user meets first: a fresh install, usage errors, where outputs go and how they can be opened."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest

from tests.cli_runner import invoke
from tests.conftest import ROOT
from xlform.form.sample import sample_declaration
from xlform.form.template import load_template
from xlform.reading.reader import read
from xlform.writing.workbook import write_workbook

# English that click, typer, pydantic or argparse print when a message is not ours.
ENGLISH = ("error", "usage", "invalid", "argument", "input should", "possible options", "show this", "expected",
           "required", "choose", "value error", "<bool>", "options:", "positional", "traceback", "did you mean")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, timeout=60)


def test_the_package_imports_only_what_it_declares() -> None:
    """Every module xlform imports is the standard library's, its own, or from a declared dependency."""
    declared = {r.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("_", "-")
                for r in requires("xlform") or [] if "extra ==" not in r}
    providers = packages_distributions()
    for source in (ROOT / "xlform").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "xlform":
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
                assert dists & declared, f"{source.name} imports {name}, which no declared dependency provides"


@pytest.mark.parametrize("args", [
    ["no-such-command"], ["check"], ["check", "x.xlsx", "--format", "xml"], ["new", "--year", "1999"],
    ["new", "--year", "二〇二六"], ["report", "in"], ["report", "in", "-o", "r.xlsx", "--jobs", "0"],
    ["export", "x.xlsx", "--table", "nope"], ["new", "--no-such-option"], ["new", "--unit"], ["demo", "a", "b"],
])
def test_usage_errors_are_one_chinese_line(args: list[str]) -> None:
    proc = _cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("用法错误：")
    assert not [w for w in ENGLISH if w in lines[0].lower()], lines[0]


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["check", "-h"], ["report", "--help"], []])
def test_help_is_in_chinese(args: list[str]) -> None:
    proc = _cli(*args)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "用法：" in proc.stdout and "显示本帮助并退出" in proc.stdout
    assert not [w for w in ENGLISH if w in proc.stdout.lower()], proc.stdout


def test_new_refuses_a_folder_and_other_suffixes_and_adds_xlsx(tmp_path: Path) -> None:
    folder = tmp_path / "下发"
    folder.mkdir()
    result = invoke(["new", "-o", str(folder)])
    assert result.exit_code == 2 and "是一个文件夹" in result.stderr and "Error" not in result.stderr
    assert list(folder.iterdir()) == []
    for name in ("a.xls", "a.csv", "a.XLSM"):
        result = invoke(["new", "-o", str(tmp_path / name)])
        assert result.exit_code == 2 and ".xlsx" in result.stderr and not (tmp_path / name).exists()
    assert invoke(["new", "-o", str(tmp_path / "申报表")]).exit_code == 0
    assert read(tmp_path / "申报表.xlsx").identity.template_id == "shanghai-2020" and not (tmp_path / "申报表").exists()
    assert invoke(["example", "-o", str(tmp_path / "示例")]).exit_code == 0 and (tmp_path / "示例.xlsx").is_file()
    assert invoke(["new", "-o", str(tmp_path / "B.XLSX")]).exit_code == 0 and (tmp_path / "B.XLSX").is_file()


def test_export_table_as_json(tmp_path: Path) -> None:
    path = tmp_path / "示例.xlsx"
    write_workbook(load_template("shanghai-2020"), path, sample_declaration())
    rows = json.loads(invoke(["export", str(path), "--table", "indicators"]).stdout)
    assert len(rows) == len(read(path).indicators) and rows[0]["一级目标"] == "产出目标"
    assert rows[0]["文件"] == str(path) and "目标值" in rows[0]
    full = json.loads(invoke(["export", str(path)]).stdout)
    assert "indicators" in full[0]  # without --table, the whole declaration as before


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_get_the_permissions_of_a_normal_file(tmp_path: Path, umask_022: None) -> None:
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称\n区教育局\n区民政局\n", encoding="utf-8")
    assert invoke(["new", "-o", str(tmp_path / "new.xlsx")]).exit_code == 0
    assert invoke(["example", "-o", str(tmp_path / "ex.xlsx")]).exit_code == 0
    assert invoke(["export", str(tmp_path / "ex.xlsx"), "-f", "csv", "-o", str(tmp_path / "ex.csv")]).exit_code == 0
    assert invoke(["distribute", str(roster), "-o", str(tmp_path / "下发")]).exit_code == 0
    inbox = tmp_path / "收件"
    inbox.mkdir()
    (inbox / "ex.xlsx").write_bytes((tmp_path / "ex.xlsx").read_bytes())
    for fmt in ("xlsx", "csv", "json"):
        invoke(["report", str(inbox), "-o", str(tmp_path / f"r.{fmt}"), "-f", fmt])
    outputs = [tmp_path / n for n in ("new.xlsx", "ex.xlsx", "ex.csv", "r.xlsx", "r.json")]
    outputs += [tmp_path / "下发" / "下发清单.csv", *sorted((tmp_path / "下发").glob("*.xlsx"))]
    outputs += sorted(tmp_path.glob("r*.csv"))
    assert len(outputs) >= 9
    for path in outputs:
        assert _mode(path) == 0o644, f"{path.name}: {oct(_mode(path))}"
    os.umask(0o077)  # a stricter umask is honoured too
    assert invoke(["new", "-o", str(tmp_path / "private.xlsx")]).exit_code == 0
    assert _mode(tmp_path / "private.xlsx") == 0o600
    (tmp_path / "ex.csv").chmod(0o664)  # an existing output keeps the permissions it was given
    assert invoke(["export", str(tmp_path / "ex.xlsx"), "-f", "csv", "-o", str(tmp_path / "ex.csv")]).exit_code == 0
    assert _mode(tmp_path / "ex.csv") == 0o664


def test_check_and_export_open_mailed_zips_as_report_does(tmp_path: Path) -> None:
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    ret = inbox / "区民政局.xlsx"
    write_workbook(load_template("shanghai-2020"), ret, sample_declaration())
    with zipfile.ZipFile(inbox / "邮件附件.zip", "w") as zf:
        zf.writestr("区教育局/申报表.xlsx", ret.read_bytes())
        zf.writestr("说明.docx", b"not a return")
        zf.writestr("__MACOSX/._申报表.xlsx", b"junk")
    (inbox / "~$区民政局.xlsx").write_bytes(b"lock")  # Office's lock file: not a return, not a problem
    result = invoke(["check", str(inbox), "-f", "json"])
    by_file = {os.path.relpath(r["file"], inbox): r for r in json.loads(result.stdout)}
    assert set(by_file) == {"区民政局.xlsx", "邮件附件.zip/区教育局/申报表.xlsx", "邮件附件.zip/说明.docx"}, by_file.keys()
    assert by_file["邮件附件.zip/区教育局/申报表.xlsx"]["error"] == "" and by_file["邮件附件.zip/区教育局/申报表.xlsx"]["form_id"]
    assert "docx" in by_file["邮件附件.zip/说明.docx"]["error"]
    assert result.exit_code == 2  # one member is not a workbook
    exported = invoke(["export", str(inbox / "邮件附件.zip")])
    assert [d["file"].endswith("区教育局/申报表.xlsx") for d in json.loads(exported.stdout)] == [True]
    assert "说明.docx" in exported.stderr and exported.exit_code == 2
    missing = invoke(["check", str(tmp_path / "没有这个文件.xlsx")])
    assert missing.exit_code == 2 and "找不到" in missing.stdout
