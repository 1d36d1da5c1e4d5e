"""The store behind `report --db`: skip what is unchanged, supersede resubmissions, keep history, stay consistent."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.conftest import ROOT
from xlform.collect.inbox import DiskFile
from xlform.collect.outcome import Collected, FileOutcome, IndicatorRow, Outcome
from xlform.errors import UserError
from xlform.form.model import Declaration
from xlform.form.sample import sample_declaration
from xlform.form.template import load_template
from xlform.issue.distribute import DistributeResult, distribute
from xlform.issue.roster import Department
from xlform.reading.reader import read
from xlform.report.run import make_report
from xlform.store import SCHEMA_VERSION, Store
from xlform.writing.workbook import write_workbook

DAY = 86400


@pytest.fixture
def issued(tmp_path: Path) -> DistributeResult:
    return distribute([Department("区教育局"), Department("区民政局"), Department("区卫生健康委")], tmp_path / "下发",
                      load_template("shanghai-2020"))


def fill(issued: DistributeResult, n: int, path: Path, name: str, mtime: float, leader: str = "") -> Path:
    d: Declaration = sample_declaration()
    d.identity = read(issued.folder / issued.issued[n].file).identity
    d.project.name = name
    d.project.leader = leader or d.project.leader
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(load_template("shanghai-2020"), path, d)
    os.utime(path, (mtime, mtime))
    return path


def summary_names(report: Path) -> list[str]:
    ws = openpyxl.load_workbook(report)["汇总"]
    header, *rows = ws.iter_rows(values_only=True)
    at = header.index("项目名称")
    return [r[at] for r in rows if r[0] not in (None, "合计")]


def test_second_run_skips_unchanged_files_and_catches_changes(tmp_path: Path, issued: DistributeResult) -> None:
    inbox, db, out = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.xlsx"
    now = time.time()
    for n in range(3):
        fill(issued, n, inbox / f"{n}.xlsx", f"项目{n}", now - DAY)
    (inbox / "junk.xlsx").write_bytes(b"junk")
    first = make_report([inbox], out, db=db, jobs=1)
    assert (first.returns, first.unreadable, first.skipped, first.reused_report) == (3, 1, 0, False)

    again = make_report([inbox], out, db=db, jobs=1)
    assert (again.returns, again.unreadable, again.skipped, again.reused_report) == (3, 1, 4, True)

    os.utime(inbox / "1.xlsx", (now, now))  # touched, same bytes: hashed, not re-read
    fill(issued, 2, inbox / "2.xlsx", "改过的项目", now)  # new content at the same path: re-read
    third = make_report([inbox], out, db=db, jobs=1)
    assert third.skipped == 3 and not third.reused_report
    assert sorted(summary_names(out)) == ["改过的项目", "项目0", "项目1"]

    os.remove(out)  # a report someone deleted is written again, even when nothing changed
    fourth = make_report([inbox], out, db=db, jobs=1)
    assert fourth.skipped == 4 and not fourth.reused_report and out.exists()


# What answering an unchanged inbox must not load: the reader, the rules, the writers, what builds a report.
_BUILDING = ("xlform.reading.reader", "xlform.reading.package", "xlform.collect.workers", "xlform.collect.outcome",
             "xlform.report.build", "xlform.report.tables", "xlform.report.files", "xlform.report.changes",
             "xlform.writing.workbook", "xlform.issue.carry")
# With a CSV roster (or no list at all) not even the template parser: nothing names a template to parse.
_PARSING = ("xlform.form.template", "xlform.review.rules", "xlform.issue.distribute")
_LOADED = """import sys
from xlform.cli import main
code = main(sys.argv[1:])
print("LOADED", " ".join(sorted(m for m in sys.modules if m.startswith("xlform"))))
raise SystemExit(code)
"""


def _loaded(args: list[str]) -> tuple[int, str, set[str]]:
    """Run the real command in a fresh interpreter (this checkout's code: run from its root): its exit code,
    output, and the xlform modules it loaded."""
    run = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    out, _, loaded = run.stdout.rpartition("LOADED ")
    assert "xlform.cli" in loaded, run.stdout + run.stderr  # the list was printed
    return run.returncode, out + run.stderr, set(loaded.split())


@pytest.mark.parametrize("expected_by", ["roster", "manifest"])
def test_an_unchanged_inbox_is_answered_without_loading_the_reader(tmp_path: Path, issued: DistributeResult,
                                                                    expected_by: str) -> None:
    """The `--db` re-run over unchanged files answers from the store; importing the reader, rules and writers
    was a third of that run's time, so they stay unloaded. With --manifest the template copies kept beside it
    are parsed (they are part of what the results depend on); with a CSV roster nothing is."""
    inbox, db, out, roster = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.xlsx", tmp_path / "名单.csv"
    for n in range(2):
        fill(issued, n, inbox / f"{n}.xlsx", f"项目{n}", time.time() - DAY)
    roster.write_text("部门名称\n区教育局\n区民政局\n区卫生健康委\n", encoding="utf-8")
    who = ["--roster", str(roster)] if expected_by == "roster" else ["--manifest", str(issued.folder)]
    args = ["report", str(inbox), "-o", str(out), "--db", str(db), *who, "--jobs", "1"]
    code, said, loaded = _loaded(args)
    assert code == 1 and "内容未变" not in said and "xlform.reading.reader" in loaded, said  # 区卫生健康委 is missing
    first = out.read_bytes()
    code, said, loaded = _loaded(args)
    assert code == 1 and "内容未变，沿用上次生成的文件" in said and "区卫生健康委" in said, said
    assert out.read_bytes() == first
    unloaded = _BUILDING + (_PARSING if expected_by == "roster" else ())
    assert sorted(loaded & set(unloaded)) == []
    for command in (["status", "--db", str(db)], ["remind", "--db", str(db)]):  # the daily questions too
        code, said, loaded = _loaded(command)
        assert code == 0 and "区卫生健康委" in said, (command, said)
        assert sorted(loaded & {*_BUILDING, *_PARSING}) == [], command
        if command[0] == "status":  # its columns line up in a terminal, wide (CJK) characters counted twice
            tokens = ["表单编号", *(i.form_id for i in issued.issued[:2])]
            lines = [line for line in said.splitlines() if any(t in line for t in tokens)]
            starts = {_columns(line[: line.index(next(t for t in tokens if t in line))]) for line in lines}
            assert len(lines) == 3 and len(starts) == 1, said
    fill(issued, 1, inbox / "1.xlsx", "改过的项目", time.time())  # a changed file: the report is built again
    code, said, loaded = _loaded(args)
    assert code == 1 and "内容未变" not in said and "xlform.report.build" in loaded, said
    assert summary_names(out) == ["项目0", "改过的项目"]


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_help_and_usage_errors_load_no_template_parser() -> None:
    for args, expected in ((["--help"], 0), (["report"], 2), (["status"], 2)):
        code, said, loaded = _loaded(args)
        assert code == expected, said
        assert not loaded & {*_BUILDING, *_PARSING}, (args, sorted(loaded & {*_BUILDING, *_PARSING}))


def _acting(chases: list) -> list:
    return [(c.department.name, [(line.state, line.form_id, line.item_key, line.errors, line.file) for line in c.lines])
            for c in chases]


def test_unchanged_report_says_who_must_act_as_the_round_stands(tmp_path: Path, issued: DistributeResult) -> None:
    from xlform.review.round import RoundFacts, form_lines, who_must_act

    inbox, db, out = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.xlsx"
    fill(issued, 0, inbox / "0.xlsx", "项目0", time.time() - DAY)
    first = make_report([inbox], out, db=db, manifest=issued.folder, jobs=1)
    again = make_report([inbox], out, db=db, manifest=issued.folder, jobs=1)
    assert again.reused_report and _acting(again.to_act) == _acting(first.to_act)
    assert {"区民政局", "区卫生健康委"} <= {c.department.name for c in first.to_act}  # their forms are missing

    # Another report on the same store (another inbox) changes the round's facts: the unchanged report's
    # list is then worked out from them, as `xlform status` would.
    fill(issued, 1, tmp_path / "other" / "1.xlsx", "项目1", time.time() - DAY)
    make_report([tmp_path / "other"], tmp_path / "o.xlsx", db=db, manifest=issued.folder, jobs=1)
    third = make_report([inbox], out, db=db, manifest=issued.folder, jobs=1)
    with Store(db) as store:
        facts = RoundFacts.stored(store.round_state())
        assert facts is not None
        expected = who_must_act(facts, form_lines(facts, store.latest_decisions(), store.packages()))
    assert third.reused_report and _acting(third.to_act) == _acting(expected) != _acting(first.to_act)

    # The facts as any version may have written them (no digest kept beside them): read from the text itself.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'round'", (json.dumps({"departments": [], "returns": []}),))
    fourth = make_report([inbox], out, db=db, manifest=issued.folder, jobs=1)
    assert fourth.reused_report and fourth.to_act == []


def test_a_file_that_could_not_be_opened_is_tried_again(tmp_path: Path, issued: DistributeResult,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """No permission yet, a sync client's placeholder, gone while listed: once it opens, the report has it,
    though the inbox lists the same files with the same sizes and times."""
    import errno

    import xlform.collect.inbox as inbox_module

    inbox, db, out = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.xlsx"
    for n in range(2):
        fill(issued, n, inbox / f"{n}.xlsx", f"项目{n}", time.time() - DAY)
    opened = inbox_module.open_regular

    def refused(path: str):  # type: ignore[no-untyped-def]
        if path.endswith("1.xlsx"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return opened(path)

    monkeypatch.setattr(inbox_module, "open_regular", refused)
    first = make_report([inbox], out, db=db, jobs=1)
    assert (first.returns, first.unreadable) == (1, 1)
    monkeypatch.undo()
    again = make_report([inbox], out, db=db, jobs=1)
    assert (again.returns, again.unreadable, again.reused_report, again.skipped) == (2, 0, False, 1)
    assert make_report([inbox], out, db=db, jobs=1).reused_report  # now every file is one the store keeps


def test_resubmission_supersedes_and_history_stays(tmp_path: Path, issued: DistributeResult) -> None:
    inbox, db, out = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.xlsx"
    now = time.time()
    fill(issued, 0, inbox / "第一次" / "教育局.xlsx", "教育项目", now - 2 * DAY, "第一版的负责人")
    fill(issued, 1, inbox / "民政局.xlsx", "民政项目", now - 2 * DAY)
    result = invoke(["report", str(inbox), "-o", str(out), "--db", str(db)])
    assert result.exit_code == 1  # the sample has findings
    assert summary_names(out) == ["教育项目", "民政项目"]

    fill(issued, 0, inbox / "第二次" / "教育局.xlsx", "教育项目", now - DAY, "第二版的负责人")
    result = invoke(["report", str(inbox), "-o", str(out), "--db", str(db)])
    assert "1 份旧版本已被重新提交的版本替代" in result.output and "2 个文件未变" in result.output
    assert summary_names(out) == ["教育项目", "民政项目"]
    ws = openpyxl.load_workbook(out)["被替代版本"]
    header, *old = ws.iter_rows(values_only=True)  # by header: the sheet puts technical columns at the right
    assert len(old) == 1
    version = dict(zip(header, old[0], strict=True))
    assert version["项目名称"] == "教育项目" and str(version["被替代为"]).endswith("第二次/教育局.xlsx")

    with Store(db) as store:
        history = store.history(issued.issued[0].form_id)
    assert [h.name.split("/")[-2] for h in history] == ["第一次", "第二次"]
    assert history[0].received_at < history[1].received_at

    # The old file removed from the inbox: it stays in the history, the report shows the latest.
    (inbox / "第一次" / "教育局.xlsx").unlink()
    make_report([inbox], out, db=db, jobs=1)
    assert summary_names(out) == ["教育项目", "民政项目"]
    with Store(db) as store:
        assert len(store.history(issued.issued[0].form_id)) == 2


def test_schema_is_versioned_and_foreign_files_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        assert meta["schema_version"] == str(SCHEMA_VERSION)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(UserError, match="更新版本"):
        Store(db)
    text = tmp_path / "notes.db"
    text.write_text("not a database", encoding="utf-8")
    with pytest.raises(UserError, match="不是 xlform 的收件记录库"):
        Store(text)


def test_changed_checker_rechecks_everything(tmp_path: Path, issued: DistributeResult) -> None:
    inbox, db = tmp_path / "in", tmp_path / "s.db"
    fill(issued, 0, inbox / "a.xlsx", "甲", time.time())
    make_report([inbox], tmp_path / "r.xlsx", db=db, jobs=1)
    with sqlite3.connect(db) as conn:  # as if older code (or other templates) had written it
        for table in ("files", "contents", "results"):
            conn.execute(f"UPDATE {table} SET checker = 'older code'")
        conn.execute("UPDATE checkers SET signature = 'older code'")
    result = make_report([inbox], tmp_path / "r.xlsx", db=db, jobs=1)
    assert result.skipped == 0 and result.returns == 1
    with sqlite3.connect(db) as conn:  # the other code's results stay beside this code's
        assert conn.execute("SELECT count(DISTINCT checker) FROM results").fetchone() == (2,)


def test_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    """Ctrl-C (or any error) inside a batch leaves the store as it was before the batch."""
    store = Store(tmp_path / "s.db")
    good = FileOutcome(DiskFile("/in/a.xlsx", "a.xlsx", 1, 1), "a" * 64, [Collected("", "k1|.xlsx|", Outcome("通过"))])
    broken = FileOutcome(DiskFile("/in/b.xlsx", "b.xlsx", 1, 1), "b" * 64, [Collected("", "k2|.xlsx|", None)])  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        store.save([good, broken], [], "2020-01-01T00:00:00")
    assert store.known_files() == {} and store.contents() == {}
    store.save([good], [], "2020-01-01T00:00:00")
    assert list(store.known_files()) == ["/in/a.xlsx"] and store.contents() == {"a" * 64: [("", "k1|.xlsx|", "")]}
    assert store.results(["k1|.xlsx|"])["k1|.xlsx|"].status == "通过"
    store.close()


def test_a_schema_3_store_is_upgraded_results_recomputed_history_kept(tmp_path: Path, issued: DistributeResult) -> None:
    """Schema 3 kept a result as a positional list; schema 4 as an object keyed by field, its rows as lists."""
    inbox, db, out = tmp_path / "in", tmp_path / "s.db", tmp_path / "r.json"
    fill(issued, 0, inbox / "a.xlsx", "甲", time.time() - DAY)
    make_report([inbox], out, db=db, jobs=1, fmt="json")
    first = out.read_text(encoding="utf-8")
    with sqlite3.connect(db) as conn:  # as schema 3 wrote it
        for key, payload in conn.execute("SELECT item_key, payload FROM results").fetchall():
            data = json.loads(payload)
            old = [[*row] for row in data.pop("findings")]
            conn.execute("UPDATE results SET payload = ? WHERE item_key = ?",
                         (json.dumps([*data.values(), old], ensure_ascii=False), key))
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.execute("INSERT INTO returns VALUES (99, 'f-old', 'k', 'old.xlsx', '区教育局', '旧项目', '通过', "
                     "'2020-01-01T00:00:00', '2020-01-01T00:00:00')")
    again = make_report([inbox], out, db=db, jobs=1, fmt="json")
    assert again.skipped == 0 and again.returns == 1  # read again, not taken from the old payload
    assert out.read_text(encoding="utf-8") == first
    with Store(db) as store:
        assert [h.project for h in store.history("f-old")] == ["旧项目"]
        assert len(store.history(issued.issued[0].form_id)) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        (payload,) = conn.execute("SELECT payload FROM results").fetchone()
    back = Outcome.from_json(json.loads(payload))
    assert back.project == "甲" and all(isinstance(i, IndicatorRow) for i in back.indicators) and back.indicators


def test_check_loads_the_store_and_the_manifest_reader_only_when_asked_to(tmp_path: Path, issued: DistributeResult) -> None:
    # A sixth of what `check` imported before reading a file was these two, used only with --db / --manifest.
    fill(issued, 0, tmp_path / "0.xlsx", "项目0", time.time())
    code, said, loaded = _loaded(["check", str(tmp_path / "0.xlsx"), "--jobs", "1"])
    assert code in (0, 1) and "0.xlsx" in said, said
    assert "xlform.reading.reader" in loaded and not loaded & {"xlform.store", "xlform.issue.distribute"}, sorted(loaded)
    code, said, loaded = _loaded(["check", str(tmp_path / "0.xlsx"), "--manifest", str(issued.folder), "--jobs", "1"])
    assert code in (0, 1) and "xlform.issue.distribute" in loaded and "xlform.store" not in loaded, said
