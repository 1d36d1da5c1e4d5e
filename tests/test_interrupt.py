"""Ctrl-C halfway through a report: the previous report stays whole, the store stays consistent,
and the next run picks up cleanly."""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import ROOT
from xlform.form.template import load_template
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "report", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_ctrl_c_keeps_the_previous_report_and_a_consistent_store(tmp_path: Path) -> None:
    template = load_template("shanghai-2020")
    first = distribute([Department(f"部门{i:03d}") for i in range(5)], tmp_path / "first", template)
    inbox, db, out = tmp_path / "收件", tmp_path / "store.db", tmp_path / "汇总.xlsx"
    inbox.mkdir()
    for item in first.issued:
        (inbox / item.file).write_bytes((first.folder / item.file).read_bytes())
    done = _report([str(inbox), "-o", str(out), "--db", str(db), "--jobs", "1"])
    assert done.wait(timeout=120) in (0, 1), done.stderr.read() if done.stderr else ""
    before = _sha(out)

    # Many more returns arrive; the next run is interrupted while it reads them.
    more = distribute([Department(f"单位{i:04d}") for i in range(1500)], tmp_path / "more", template)
    for item in more.issued:
        (inbox / item.file).write_bytes((more.folder / item.file).read_bytes())
    inbox_files = sorted(p.name for p in inbox.iterdir())
    run = _report([str(inbox), "-o", str(out), "--db", str(db), "--jobs", "1"])
    time.sleep(1.5)
    run.send_signal(signal.SIGINT)
    code = run.wait(timeout=120)
    stderr = run.stderr.read().decode() if run.stderr else ""
    assert code == 130, f"not interrupted mid-run (exit {code}): {stderr[-500:]}"
    assert "Traceback" not in stderr and "中止" in stderr
    assert _sha(out) == before  # the previous report, untouched
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".汇总.xlsx.*"))
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(p.name for p in inbox.iterdir()) == inbox_files  # the inbox is never written to

    # The next run completes and lists every return.
    again = _report([str(inbox), "-o", str(out), "--db", str(db), "--jobs", "2"])
    assert again.wait(timeout=300) in (0, 1)
    ws = openpyxl.load_workbook(out, read_only=True)["汇总"]
    rows = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] not in (None, "合计")]
    assert len(rows) == 5 + 1500
