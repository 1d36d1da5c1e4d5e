"""The real command: templates / new / example / check / export / rules, and the installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.conftest import ROOT
from tests.helpers import sheet_names
from xlform.reading.reader import read


def test_help_is_bilingual() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "申报表" in result.output and "workbook" in result.output.lower()
    for command in ("templates", "new", "example", "check", "export"):
        assert command in result.output


def test_templates_lists_builtins() -> None:
    result = invoke(["templates"])
    assert result.exit_code == 0
    assert "shanghai-2020" in result.output and "mof-2021" in result.output
    assert "万元" in result.output and "产出目标" in result.output


def test_new_with_unit_year_and_default_name(tmp_path: Path) -> None:
    result = invoke(["new", "--unit", "区教育局", "--year", "2026", "-o", str(tmp_path / "a.xlsx")])
    assert result.exit_code == 0, result.output
    d = read(tmp_path / "a.xlsx")
    assert d.identity.department == "区教育局" and d.identity.year == 2026 and d.project.unit == "区教育局"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert invoke(["new", "-t", "mof-2021"]).exit_code == 0
    finally:
        os.chdir(cwd)
    assert (tmp_path / "2022_绩效目标申报表.xlsx").exists()


def test_example_then_check_and_export(tmp_path: Path) -> None:
    out = tmp_path / "example.xlsx"
    assert invoke(["example", "-o", str(out)]).exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert wb[sheet_names()[0]]["C4"].value == "沪闵路6258号1号楼139会议室新建会议系统"
    text = invoke(["check", str(out)])
    assert text.exit_code == 1  # the real sample has errors a reviewer sends back
    assert "goal.target_mismatch" in text.output and "85%" in text.output and "95%" in text.output
    assert "合计：1 个文件" in text.output
    payload = json.loads(invoke(["check", str(out), "--format", "json"]).output)
    assert payload[0]["template"] == "shanghai-2020@2" and payload[0]["ok"] is False
    assert {"file", "form_id", "department", "errors", "warnings", "findings", "error"} <= set(payload[0])
    exported = json.loads(invoke(["export", str(out)]).output)
    assert Decimal(exported[0]["funding"]["current_year"]) == Decimal("232124")
    assert Decimal(exported[0]["indicators"][4]["target"]["number"]) == 95
    csv_text = invoke(["export", str(out), "--format", "csv", "--table", "costs"]).output
    assert "明细金额" in csv_text.splitlines()[0] and "232124.00" in csv_text
    (tmp_path / "坏.xlsx").write_bytes(b"\x00garbage")  # a folder with one bad file: it is named, the rest exported
    both = invoke(["export", str(tmp_path)])
    assert both.exit_code == 2 and "无法读取" in both.stderr and "坏.xlsx" in both.stderr
    assert [Path(d["file"]).name for d in json.loads(both.stdout)] == [out.name]


def test_entry_point_never_shows_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "垃圾 文件.xlsx"
    junk.write_bytes(b"\x00\x01garbage")
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check", str(junk)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "垃圾 文件.xlsx" in proc.stdout and "不是 Excel" in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "new", "-t", "no-such-template"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "找不到模板" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_installed_wheel_finds_its_templates(tmp_path: Path) -> None:
    """Build the wheel, install it in a fresh venv, run the installed command outside the checkout."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(dist), str(ROOT)], check=True, timeout=300)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    # The wheel's dependencies come from the interpreter running the tests (a venv's own packages, not
    # the base interpreter's): its site folders go on the inner venv's path through a .pth file. Only
    # the inner venv's site folder has its .pth files run, so an editable install of the checkout stays out.
    inner_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    outer = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    Path(inner_site, "outer-deps.pth").write_text("\n".join(sorted(outer)) + "\n", encoding="utf-8")
    wheel = next(dist.glob("xlform-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run([str(env_dir / "bin" / "xlform"), "templates"], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "shanghai-2020" in proc.stdout and "mof-2021" in proc.stdout
    where = subprocess.run([str(py), "-c", "import xlform.form.template as t; print(t.templates_dir())"], cwd=work,
                           capture_output=True, text=True, timeout=60)
    assert "site-packages" in where.stdout  # package data, not the source tree
    proc = subprocess.run([str(env_dir / "bin" / "xlform"), "example", "-o", "ex.xlsx"], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and (work / "ex.xlsx").exists()


def test_usage_errors_are_one_chinese_line_with_exit_2() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("用法错误：缺少参数") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "no-such-command"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "没有这个命令" in proc.stderr


def test_output_piped_into_a_reader_that_stops_ends_quietly() -> None:
    # `xlform status --db … | head -1`: head exits, the next write meets a closed pipe.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "rules"], stdout=write_end, stderr=subprocess.PIPE,
                             timeout=120)
    finally:
        os.close(write_end)
    stderr = run.stderr.decode("utf-8", errors="replace")
    assert "内部错误" not in stderr and "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert run.returncode == 141  # as a shell reports a program ended by SIGPIPE


def test_a_password_excel_cannot_take_is_refused(tmp_path: Path) -> None:
    long = "x" * 256
    r = invoke(["new", "--password", long, "-o", str(tmp_path / "a.xlsx")])
    assert r.exit_code == 2 and "255" in r.stderr and not (tmp_path / "a.xlsx").exists()
    template = tmp_path / "本局.yaml"
    assert invoke(["template", "copy", "mof-2021", "-o", str(template)]).exit_code == 0
    import re

    text = template.read_text(encoding="utf-8")
    assert re.search(r"^password:.*$", text, flags=re.M)
    template.write_text(re.sub(r"^password:.*$", f"password: {long}", text, count=1, flags=re.M), encoding="utf-8")
    checked = invoke(["template", "check", str(template)])
    assert checked.exit_code == 1 and "password" in checked.stdout and "255" in checked.stdout
    assert invoke(["new", "--password", "x" * 255, "-o", str(tmp_path / "b.xlsx")]).exit_code == 0


def test_the_reminder_hint_after_a_report_names_the_store_or_asks_for_one(tmp_path: Path) -> None:
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称\n区教育局\n区民政局\n", encoding="utf-8")
    inbox = tmp_path / "收件"
    inbox.mkdir()
    plain = invoke(["report", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--roster", str(roster)])
    assert "需催报 2 个部门（汇总时加 --db 记录库" in plain.stdout, plain.output
    db = tmp_path / "s.db"
    kept = invoke(["report", str(inbox), "-o", str(tmp_path / "r2.xlsx"), "--roster", str(roster), "--db", str(db)])
    assert f"xlform remind --db {db} 列出催报文字" in kept.stdout, kept.output


def test_export_under_a_spreadsheet_name_is_refused(tmp_path: Path) -> None:
    given = tmp_path / "in.xlsx"
    assert invoke(["example", "-o", str(given)]).exit_code == 0
    for fmt, name in (("csv", "指标.xlsx"), ("json", "数据.XLS")):
        r = invoke(["export", str(given), "-f", fmt, "-o", str(tmp_path / name)])
        assert r.exit_code == 2 and f"请改为 {Path(name).stem}.{fmt}" in r.stderr and not (tmp_path / name).exists()
    assert invoke(["export", str(given), "-f", "csv", "-o", str(tmp_path / "指标.csv")]).exit_code == 0
