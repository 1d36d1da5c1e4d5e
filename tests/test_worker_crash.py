"""A file that kills the process reading it (as a Rust abort in a parser would) costs only that file."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import invoke
from xlform.collect import workers
from xlform.collect.inbox import DiskFile, Item
from xlform.collect.outcome import FileOutcome, Outcome
from xlform.collect.workers import collect_files
from xlform.form.template import load_template
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.report.run import make_report


def kill_worker_on(monkeypatch: pytest.MonkeyPatch, name: str, hit: Callable[[Any], bool]) -> None:
    """Replace collect.`name` (collect_file or check_item) by one that kills its process at once, as a
    Rust abort or the OOM killer would, when `hit(argument)`; forked workers inherit the patch."""
    real = getattr(workers, name)

    def dies(arg: Any, registry: Any = None) -> Any:
        if hit(arg):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(arg, registry)

    monkeypatch.setattr(workers, name, dies)


def test_a_file_that_kills_its_worker_is_listed_and_every_other_file_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = distribute([Department(f"部门{i:02d}") for i in range(12)], tmp_path / "下发", load_template("shanghai-2020"))
    files = sorted(issued.folder.glob("*.xlsx"))
    killer = files[5]
    kill_worker_on(monkeypatch, "collect_file", lambda disk: disk.path == str(killer))
    disks = [DiskFile(str(f), f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    results: list[FileOutcome] = []
    collect_files(disks, jobs=2, on_done=results.extend, parallel_from=1)
    assert sorted(r.disk.path for r in results) == sorted(str(f) for f in files)  # nothing lost
    by_path = {r.disk.path: r for r in results}
    crashed = by_path[str(killer)].items[0].outcome
    assert crashed.status == "无法读取" and "异常退出" in crashed.error
    assert all(r.items[0].outcome.status != "无法读取" for p, r in by_path.items() if p != str(killer))


def test_a_file_that_hangs_its_worker_is_listed_as_timed_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader stuck in native code never returns to Python: the watchdog is the kernel's SIGALRM,
    and the stuck file is named while every other file is read."""
    issued = distribute([Department(f"部门{i:02d}") for i in range(8)], tmp_path / "下发", load_template("shanghai-2020"))
    files = sorted(issued.folder.glob("*.xlsx"))
    stuck = files[3]
    real = workers.check_item

    def hangs_on_stuck(item: Item, registry=None) -> Outcome:  # type: ignore[no-untyped-def]
        if item.name == stuck.name:
            ctypes.CDLL(None).sleep(30)  # native code: no Python runs until it returns, long after the timeout
        return real(item, registry)

    monkeypatch.setattr(workers, "check_item", hangs_on_stuck)
    disks = [DiskFile(str(f), f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    results: list[FileOutcome] = []
    started = time.monotonic()
    collect_files(disks, jobs=2, on_done=results.extend, parallel_from=1, file_timeout=1)
    assert time.monotonic() - started < 20
    by_path = {r.disk.path: r for r in results}
    assert sorted(by_path) == sorted(str(f) for f in files) and len(results) == len(files)  # nothing lost
    outcome = by_path[str(stuck)].items[0].outcome
    assert outcome.status == "无法读取" and "超过 1 秒" in outcome.error and "重新保存" in outcome.error
    assert all(r.items[0].outcome.status != "无法读取" for p, r in by_path.items() if p != str(stuck))


def test_a_small_inbox_is_read_in_a_worker_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three files, the default settings: the file that kills its reader is listed in the report, which
    is still written (read in this process, it would have taken the whole command down)."""
    issued = distribute([Department(f"部门{i}") for i in range(3)], tmp_path / "下发", load_template("shanghai-2020"))
    inbox = tmp_path / "收件"
    inbox.mkdir()
    for f in issued.folder.glob("*.xlsx"):
        (inbox / f.name).write_bytes(f.read_bytes())
    killer = sorted(inbox.glob("*.xlsx"))[1]
    kill_worker_on(monkeypatch, "collect_file", lambda disk: disk.path == str(killer))
    result = make_report([inbox], tmp_path / "r.json", fmt="json", jobs=1)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (result.returns, result.unreadable) == (2, 1)
    assert [Path(u["file"]).name for u in doc["unreadable"]] == [killer.name]
    assert "异常退出" in doc["unreadable"][0]["reason"]


def test_a_member_that_kills_its_worker_costs_only_itself_not_its_zip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A department mails one zip of returns: the member that kills the reader is listed, the rest are read."""
    issued = distribute([Department(f"部门{i}") for i in range(4)], tmp_path / "下发", load_template("shanghai-2020"))
    inbox = tmp_path / "收件"
    inbox.mkdir()
    returns = sorted(issued.folder.glob("*.xlsx"))
    with zipfile.ZipFile(inbox / "各部门.zip", "w") as zf:
        for f in returns:
            zf.write(f, f"申报表/{f.name}")
    killer = returns[2].name
    kill_worker_on(monkeypatch, "check_item", lambda item: item.name.endswith(killer))
    result = make_report([inbox], tmp_path / "r.json", fmt="json", jobs=2)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (result.returns, result.unreadable) == (3, 1)
    assert [u["file"].endswith(f"各部门.zip/申报表/{killer}") for u in doc["unreadable"]] == [True]
    assert "异常退出" in doc["unreadable"][0]["reason"]


def test_a_worker_dying_while_others_finish_loses_and_repeats_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool breaks at any moment relative to the other workers' results and the next hand-over:
    every file still comes back exactly once (a worker dying during a hand-over used to end the report)."""
    def file_or_die(disk: DiskFile, registry: Any = None) -> FileOutcome:
        if disk.name == "dies":
            time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGALRM)  # what the watchdog does
        time.sleep(0.0005)
        return FileOutcome(disk, "", [])

    monkeypatch.setattr(workers, "collect_file", file_or_die)
    disks = [DiskFile(f"/nonexistent/{i}", "dies" if i == 40 else f"{i}.xlsx", 1, 0) for i in range(300)]
    for _ in range(10):  # one file a chunk: a hand-over after every result, where the pool broke unseen
        results: list[FileOutcome] = []
        in_hand, not_started = workers._in_pool(workers._collect_chunk, [[d] for d in disks], 2, ([], 60.0),  # type: ignore[arg-type]
                                                lambda _, batch, into=results: into.extend(batch))
        back = [r.disk.path for r in results] + [d.path for chunk in in_hand + not_started for d in chunk]
        assert sorted(back) == sorted(d.path for d in disks)  # each exactly once
        assert "/nonexistent/40" in [d.path for chunk in in_hand for d in chunk]
    results = []
    collect_files(disks, jobs=2, on_done=results.extend, parallel_from=1)
    assert sorted(r.disk.path for r in results) == sorted(d.path for d in disks)
    assert [r.items[0].outcome.error_code for r in results if r.disk.name == "dies"] == [workers.CRASHED.code]


def test_check_answers_for_a_file_that_kills_or_hangs_its_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`xlform check` reads in a worker too: one line for the file at fault, every other file checked."""
    issued = distribute([Department(f"部门{i}") for i in range(4)], tmp_path / "下发", load_template("shanghai-2020"))
    files = sorted(issued.folder.glob("*.xlsx"))
    killer, stuck = files[1], files[2]
    real = workers.check_file

    def dies_or_hangs(path: Path, registry: Any = None, *rest: Any) -> Any:
        if Path(path) == killer:
            os.kill(os.getpid(), signal.SIGKILL)
        if Path(path) == stuck:
            ctypes.CDLL(None).sleep(30)
        return real(path, registry, *rest)

    monkeypatch.setattr(workers, "check_file", dies_or_hangs)
    results = workers.check_paths(files, file_timeout=1)
    assert [r.file for r in results] == [str(f) for f in files]  # in order, none lost
    assert [r.readable for r in results] == [True, False, False, True]
    assert "异常退出" in results[1].error and "超过 1 秒" in results[2].error

    monkeypatch.setattr(workers, "FILE_TIMEOUT", 1)  # the command's own default, shortened
    run = invoke(["check", str(issued.folder)])
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert f"无法读取：“{killer.name}”读取这个文件时读取程序异常退出" in run.output
    assert f"无法读取：“{stuck.name}”读取这个文件超过 1 秒仍未完成" in run.output
    assert "合计：5 个文件，0 个通过，2 个需修改，3 个无法读取" in run.output  # blank forms, and 下发清单.csv
