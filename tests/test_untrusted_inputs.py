"""Rosters and templates are files from someone's desk too: each bad one is a Chinese line and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xlsxwriter

from tests.cli_runner import invoke
from tests.conftest import ROOT


def _roster_xlsx(path: Path, far: tuple[int, int] | None = None, projects: object = 1) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["部门名称", "项目数"])
    ws.write_row(1, 0, ["区教育局", projects])
    if far:
        ws.write(*far, "x")
    wb.close()
    return path


def _fails_cleanly(args: list[str], *words: str) -> str:
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert "内部错误" not in result.output and "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("far", [(1048575, 16383), (1048575, 0), (0, 16383), (200000, 5)])
def test_a_roster_with_a_far_cell_is_refused_before_calamine(tmp_path: Path, far: tuple[int, int]) -> None:
    """One value in XFD1048576 made calamine ask for 512 GB and the process abort (rc 134)."""
    roster = _roster_xlsx(tmp_path / "名单.xlsx", far)
    _fails_cleanly(["distribute", str(roster), "-o", str(tmp_path / "下发")], "部门名单", "无法读取")
    assert not (tmp_path / "下发").exists()


@pytest.mark.parametrize("projects", ["nan", "inf", "-inf", "NaN", "1e400", "Infinity"])
def test_a_roster_project_count_that_is_no_number(tmp_path: Path, projects: str) -> None:
    csv_roster = tmp_path / "名单.csv"
    csv_roster.write_text(f"部门名称,项目数\n区教育局,{projects}\n", encoding="utf-8")
    _fails_cleanly(["distribute", str(csv_roster), "-o", str(tmp_path / "a")], f"项目数“{projects}”")
    _fails_cleanly(["distribute", str(_roster_xlsx(tmp_path / "名单.xlsx", projects=projects)), "-o",
                    str(tmp_path / "b")], "项目数")


def test_a_roster_that_is_a_pipe_or_too_big(tmp_path: Path) -> None:
    fifo = tmp_path / "名单.csv"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    _fails_cleanly(["distribute", str(fifo), "-o", str(tmp_path / "a")], "部门名单")
    big = tmp_path / "大.csv"
    with open(big, "wb") as fh:
        fh.write(b"\xef\xbb\xbf\xe9\x83\xa8\xe9\x97\xa8\xe5\x90\x8d\xe7\xa7\xb0\n")
        fh.truncate(21 * 1024 * 1024)
    _fails_cleanly(["distribute", str(big), "-o", str(tmp_path / "b")], "过大")


@pytest.mark.parametrize("body", [
    "year: " + "9" * 5000,
    "year: " + "9" * 4000,
    "labels: " + "[" * 50000 + "]" * 50000,
    "labels:\n" + "".join(" " * i + f"k{i}:\n" for i in range(3000)),
    "labels: {" * 5000 + "}" * 5000,
    "rows: &a [*a]",
    "id: [1",
    "\x00\x01\x02",
])
def test_a_hostile_template_is_one_chinese_line(tmp_path: Path, body: str) -> None:
    path = tmp_path / "模板.yaml"
    base = (ROOT / "templates" / "shanghai-2020.yaml").read_text(encoding="utf-8")
    path.write_text(f"{base}\n{body}\n", encoding="utf-8")  # a later key wins in YAML: the hostile part counts
    for args in (["new", "-t", str(path), "-o", str(tmp_path / "a.xlsx")], ["check", str(tmp_path), "-t", str(path)]):
        assert "不认识" not in _fails_cleanly(args, "模板")
    assert not (tmp_path / "a.xlsx").exists()


def test_a_template_that_is_too_big_or_not_a_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (2 * 1024 * 1024) + "\n", encoding="utf-8")
    _fails_cleanly(["new", "-t", str(big), "-o", str(tmp_path / "a.xlsx")], "过大")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    _fails_cleanly(["new", "-t", str(fifo), "-o", str(tmp_path / "a.xlsx")], "模板")


def test_an_output_folder_that_takes_no_files_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, who may write anywhere: the refusal the system gives a clerk is simulated."""
    import errno
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    for args in (["new", "-o", str(tmp_path / "a.xlsx")], ["example", "-o", str(tmp_path / "b.xlsx")]):
        message = _fails_cleanly(args, "没有写入权限", str(tmp_path))
        assert "Excel/WPS" not in message
    inbox = tmp_path / "in"
    inbox.mkdir()
    message = _fails_cleanly(["report", str(inbox), "-o", str(tmp_path / "r.xlsx")], "没有写入权限")
    assert "Excel/WPS" not in message


def test_a_report_held_open_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    real = os.replace

    def held(src: object, dst: object) -> None:
        if str(dst).endswith("r.xlsx"):
            raise PermissionError(errno.EACCES, "Permission denied")
        real(src, dst)  # type: ignore[arg-type]

    inbox = tmp_path / "in"
    inbox.mkdir()
    monkeypatch.setattr(os, "replace", held)
    _fails_cleanly(["report", str(inbox), "-o", str(tmp_path / "r.xlsx")], "Excel/WPS 中打开")
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no temporary file left behind


@pytest.fixture
def round_(tmp_path: Path) -> dict[str, Path]:
    """A distributed round with one return in the inbox, and the bytes of every input to compare after."""
    roster = tmp_path / "名单.csv"
    roster.write_text("部门名称\n区教育局\n", encoding="utf-8")
    assert invoke(["distribute", str(roster), "-o", str(tmp_path / "下发")]).exit_code == 0
    inbox = tmp_path / "收件"
    inbox.mkdir()
    ret = inbox / "区教育局.xlsx"
    ret.write_bytes(next((tmp_path / "下发").glob("*.xlsx")).read_bytes())
    db = tmp_path / "s.db"
    assert invoke(["report", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--db", str(db)]).exit_code in (0, 1)
    return {"roster": roster, "inbox": inbox, "ret": ret, "db": db, "manifest": tmp_path / "下发" / "下发清单.csv",
            "issued": tmp_path / "下发"}


def _snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in paths for p in ([root] if root.is_file() else sorted(root.rglob("*")))
            if p.is_file()}


@pytest.mark.parametrize("case", [
    lambda r: ["report", r["ret"], "-o", r["ret"]],
    lambda r: ["report", r["inbox"], "-o", r["inbox"] / "汇总.xlsx"],
    lambda r: ["report", r["inbox"], "-o", r["inbox"] / "sub" / "汇总.xlsx"],
    lambda r: ["report", r["inbox"], "-o", r["manifest"], "-f", "csv", "--manifest", r["issued"]],
    lambda r: ["report", r["inbox"], "-o", r["roster"], "-f", "csv", "--roster", r["roster"]],
    lambda r: ["report", r["inbox"], "-o", r["db"], "-f", "json", "--db", r["db"]],
    lambda r: ["report", r["inbox"], "-o", Path(f"{r['db']}-wal"), "-f", "json", "--db", r["db"]],
    lambda r: ["report", r["inbox"], "-o", r["issued"].parent / "r.xlsx", "--db", r["inbox"] / "s.db"],
    lambda r: ["report", r["inbox"], "-o", r["roster"].with_name("名单_汇总.csv"), "-f", "csv",
               "--roster", r["roster"].with_name("名单_汇总.csv")],
    lambda r: ["export", r["ret"], "-o", r["ret"]],
    lambda r: ["export", r["inbox"], "-o", r["inbox"] / "导出.json"],  # export reads its folders as an inbox
    lambda r: ["export", r["ret"], "-f", "csv", "-o", r["ret"].parent / ".." / "收件" / "区教育局.xlsx"],
])
def test_no_command_writes_over_its_inputs(round_: dict[str, Path], case) -> None:  # type: ignore[no-untyped-def]
    args = [str(a) for a in case(round_)]
    if args[-1].endswith("名单_汇总.csv"):  # a roster that happens to bear a sibling CSV's name
        Path(args[-1]).write_text("部门名称\n区教育局\n", encoding="utf-8")
    before = _snapshot([round_["roster"], round_["inbox"], round_["db"], round_["issued"]])
    before.update(_snapshot([Path(args[-1])]) if Path(args[-1]).is_file() else {})
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert "从不覆盖" in result.stderr or "不能放在" in result.stderr, result.stderr
    after = _snapshot([round_["roster"], round_["inbox"], round_["db"], round_["issued"]])
    after.update(_snapshot([Path(args[-1])]) if Path(args[-1]).is_file() else {})
    assert after == before


def test_an_output_linked_to_an_input_is_refused(round_: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "链接.xlsx"
    link.symlink_to(round_["ret"])
    hard = tmp_path / "硬链接.xlsx"
    os.link(round_["ret"], hard)
    before = round_["ret"].read_bytes()
    for out in (link, hard):
        result = invoke(["report", str(round_["ret"]), "-o", str(out)])
        assert result.exit_code == 2 and "从不覆盖" in result.stderr
    assert round_["ret"].read_bytes() == before


def test_an_output_that_is_a_link_is_written_through_and_a_pipe_is_refused(tmp_path: Path) -> None:
    """`os.replace` over a link or a device swaps it for a plain file: as root, -o /dev/full did so."""
    given = tmp_path / "in.xlsx"
    assert invoke(["example", "-o", str(given)]).exit_code == 0
    real = tmp_path / "真的.json"
    real.write_text("旧的", encoding="utf-8")
    link = tmp_path / "链接.json"
    link.symlink_to(real.name)
    assert invoke(["export", str(given), "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("[")
    dangling = tmp_path / "将来.json"
    dangling.symlink_to("将来的文件.json")
    assert invoke(["export", str(given), "-o", str(dangling)]).exit_code == 0
    assert dangling.is_symlink() and (tmp_path / "将来的文件.json").read_text(encoding="utf-8").startswith("[")
    fifo = tmp_path / "管道"
    os.mkfifo(fifo)
    piped = tmp_path / "经链接的管道.json"
    piped.symlink_to(fifo.name)
    for out in (fifo, piped, Path("/dev/null")):
        _fails_cleanly(["export", str(given), "-o", str(out)], "不是普通文件")
    assert fifo.exists() and not fifo.is_file() and piped.is_symlink()
    assert Path("/dev/null").is_char_device()


def test_a_name_too_long_for_the_system_is_one_line_and_the_other_files_are_still_checked(tmp_path: Path) -> None:
    given = tmp_path / "in.xlsx"
    assert invoke(["example", "-o", str(given)]).exit_code == 0
    long_name = tmp_path / ("长" * 90 + ".xlsx")  # 270 bytes: past the 255 a name may have
    result = invoke(["check", str(given), str(long_name)])
    assert result.exit_code == 2 and "内部错误" not in result.output
    assert "路径太长" in result.stdout and "合计：2 个文件" in result.stdout
    long_db = str(long_name.with_suffix(".db"))
    for args in (["new", "-o", str(long_name)], ["report", str(tmp_path), "-o", str(tmp_path / "r.xlsx"), "--db", long_db],
                 ["status", "--db", long_db]):
        _fails_cleanly(args, "过长")


def test_a_full_disk_under_the_printed_output_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    given = tmp_path / "in.xlsx"
    assert invoke(["example", "-o", str(given)]).exit_code == 0
    for args in (["check", str(given)], ["export", str(given)]):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-c", "from xlform.cli import run; run()", *args],
                                  stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "磁盘空间不足" in done.stderr and "Traceback" not in done.stderr and "内部错误" not in done.stderr
