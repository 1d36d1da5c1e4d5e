"""`xlform demo`, the README's first command, end to end; and the console entry point around report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from tests.cli_runner import invoke


def _by_header(ws: Worksheet) -> list[dict[str, object]]:
    header, *rows = ws.iter_rows(values_only=True)
    return [dict(zip(header, r, strict=True)) for r in rows]


def test_demo_runs_end_to_end_and_says_where_everything_is(tmp_path: Path) -> None:
    folder = tmp_path / "xlform-demo"
    result = invoke(["demo", str(folder)])
    assert result.exit_code == 0, result.output + result.stderr
    for shown in ("部门名单.csv", "下发", "收件", "汇总报告.xlsx", "收件记录.db"):
        assert str(folder / shown) in result.output
    # The broken file bears the name 区教育局's second workbook was issued under: sent, not missing.
    # The loop in two summaries: three to fix before the packages went back, two after 卫生健康委's correction.
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  第一次汇总，"))
    assert lines[first].startswith("  第一次汇总，共 7 个文件：读取申报表 5 份，其中需修改 3 份；")
    assert lines[first + 1].startswith("  退回修改包：")
    assert lines[first + 2].startswith(
        "  重新提交后再汇总，共 8 个文件：读取申报表 5 份，其中需修改 2 份；无法读取 1 个（文件损坏 1 个）；未提交部门 1 个。")
    wb = openpyxl.load_workbook(folder / "汇总报告.xlsx")
    departments = {r["部门"]: r["状态"] for r in _by_header(wb["按部门"]) if r["部门"] != "合计"}
    assert departments == {"区机关事务管理局": "需修改", "区教育局": "已提交但无法读取 1 份", "区卫生健康委": "已通过",
                           "区民政局": "需修改", "区生态环境局": "已通过", "区文化和旅游局": "未提交"}
    rules = {r["规则"] for r in _by_header(wb["问题清单"])}
    assert {"goal.target_mismatch", "indicators.level2", "indicators.target", "funding.unit",
            "dates.budget_year"} <= rules
    superseded = _by_header(wb["被替代版本"])
    assert len(superseded) == 1 and superseded[0]["部门"] == "区卫生健康委" and superseded[0]["状态"] == "需修改"
    # The loop: 卫生健康委's return went back as a package, came in again corrected under the same 表单编号,
    # and the second report shows that version (通过) superseding the one sent back.
    packages = folder / "退回修改"
    package = packages / "2020_区卫生健康委_社区卫生服务中心设备购置_退回修改.xlsx"
    assert package.is_file() and (packages / "2020_区卫生健康委_退回修改.eml").is_file()
    assert {p.name for p in packages.glob("*_退回修改.xlsx")} == {
        package.name, "2020_区机关事务管理局_沪闵路6258号1号楼139会议室新建会议系统_退回修改.xlsx",
        "2020_区民政局_养老服务补贴发放_退回修改.xlsx"}
    assert str(superseded[0]["被替代为"]).endswith(f"重新提交/{package.name}")
    health = [r for r in _by_header(wb["汇总"]) if r["部门"] == "区卫生健康委"]
    assert len(health) == 1 and health[0]["状态"] == "通过" and health[0]["表单编号"] == superseded[0]["表单编号"]
    assert f"  退回修改包：{packages}（3 个部门 3 份；区卫生健康委改好后重新提交，已替代原版本）" in result.output

    again = invoke(["demo", str(folder)])  # a demo folder may be re-run
    assert again.exit_code == 0, again.output + again.stderr


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep", encoding="utf-8")
    result = invoke(["demo", str(tmp_path)])
    assert result.exit_code == 2 and "不是空的" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def _console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script's entry point, `xlform.cli:run`, as a user runs it."""
    return subprocess.run([sys.executable, "-c", "from xlform.cli import run; run()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_console_entry_point_demo_then_report_exit_codes(tmp_path: Path) -> None:
    demo = _console("demo", cwd=tmp_path)  # the default folder ./xlform-demo
    assert demo.returncode == 0, demo.stderr
    folder = tmp_path / "xlform-demo"
    report = _console("report", str(folder / "收件"), "-o", "again.xlsx", "--manifest", str(folder / "下发"), cwd=tmp_path)
    assert report.returncode == 1 and "未提交部门 1 个" in report.stdout, report.stderr
    usage = _console("report", str(folder / "收件"), cwd=tmp_path)  # no -o
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    both = _console("report", str(folder / "收件"), "-o", "x.xlsx", "--roster", "a.csv", "--manifest", "b", cwd=tmp_path)
    assert both.returncode == 2 and both.stderr.startswith("错误：") and len(both.stderr.strip().splitlines()) == 1


def test_demo_runs_on_a_bureaus_own_template_as_the_readme_shows(tmp_path: Path) -> None:
    """README: `xlform template copy mof-2021 -o hd-2026.yaml`, then the demo on it: the copy is no built-in."""
    own = tmp_path / "hd-2026.yaml"
    assert invoke(["template", "copy", "mof-2021", "-o", str(own)]).exit_code == 0
    result = invoke(["demo", "-t", str(own), str(tmp_path / "演示")])
    assert result.exit_code == 0, result.output
    assert "模板：hd-2026" in result.stdout and (tmp_path / "演示" / "汇总报告.xlsx").is_file()
    summary = _by_header(openpyxl.load_workbook(tmp_path / "演示" / "汇总报告.xlsx")["汇总"])
    assert {r["模板"] for r in summary if r["部门"] != "合计"} == {"hd-2026 版本 2"}


def test_export_finds_the_rounds_own_template_as_check_and_report_do(tmp_path: Path) -> None:
    own = tmp_path / "hd-2026.yaml"
    assert invoke(["template", "copy", "mof-2021", "-o", str(own)]).exit_code == 0
    folder = tmp_path / "演示"
    assert invoke(["demo", "-t", str(own), str(folder)]).exit_code == 0
    own.unlink()  # the round keeps its copy: the folder issued and the store are enough
    import json

    alone = invoke(["export", str(folder / "收件")])
    assert alone.exit_code == 2 and "未知的模板“hd-2026”" in alone.stderr
    for given in (["--manifest", str(folder / "下发")], ["--db", str(folder / "收件记录.db")]):
        r = invoke(["export", str(folder / "收件"), *given])
        assert "未知的模板" not in r.stderr, r.stderr
        assert {d["identity"]["template_id"] for d in json.loads(r.stdout)} == {"hd-2026"}
    onto = invoke(["export", str(folder / "收件"), "--manifest", str(folder / "下发"), "-f", "csv",
                   "-o", str(folder / "下发" / "下发清单.csv")])
    assert onto.exit_code == 2 and "不能放在下发文件夹" in onto.stderr
