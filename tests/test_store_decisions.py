"""The store keeps every reviewer decision and package, with history, in a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from xlform.review.decisions import Decision, Package, Verdict
from xlform.store import SCHEMA_VERSION, Store


def _decision(verdict: Verdict, opinion: str = "", key: str = "k1") -> Decision:
    return Decision("F-1", key, verdict, "", opinion, ((12, "目标值偏低"),), "张三", "2026-03-01T10:00:00", "sha",
                    "区教育局", "校舍维修")


def test_decisions_keep_history_and_skip_repeats(tmp_path: Path) -> None:
    db = tmp_path / "round.db"
    with Store(db) as store:
        first = store.add_decisions([_decision(Verdict.RETURN, "请补充成本指标")])
        again = store.add_decisions([_decision(Verdict.RETURN, "请补充成本指标")])  # the same report read twice
        later = store.add_decisions([_decision(Verdict.PASS, key="k2")])
    assert [len(first), len(again), len(later)] == [1, 0, 1]
    with Store(db) as store:
        history = store.decisions("F-1")
        holding = store.latest_decisions()
    assert [d.verdict for d in history] == [Verdict.RETURN, Verdict.PASS]
    assert history[0].indicator_opinions == ((12, "目标值偏低"),) and history[0].opinion == "请补充成本指标"
    assert holding[("F-1", "k1")].verdict is Verdict.RETURN and holding[("F-1", "k2")].verdict is Verdict.PASS
    version = sqlite3.connect(db).execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION


def test_packages_recorded_once(tmp_path: Path) -> None:
    db = tmp_path / "round.db"
    package = Package("F-1", "k1", "区教育局", str(tmp_path / "out.xlsx"), "abc", "2026-03-02T09:00:00", 3)
    with Store(db) as store:
        store.add_packages([package])
        store.add_packages([package])
        assert store.packages("F-1") == [package]
        assert store.packages("F-2") == []
