"""The store behind `report --db` under interruption, template mixes, concurrent runs and broken files.

Every check compares against a clean run: an interrupted-then-rerun store, or one two runs wrote at
once, must hold exactly what a clean run's store holds (timestamps aside), and each report must be
what a clean run with the same templates writes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import xlform.report.build
import xlform.store
from tests.cli_runner import CliResult, invoke
from tests.conftest import ROOT
from xlform.form.sample import sample_declaration
from xlform.form.template import load_template, templates_dir
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.store import Store
from xlform.writing.workbook import write_workbook

RETURNS = 300
# When the store saw something, not what it holds: two stores of the same inbox differ only there.
VOLATILE_COLUMNS = {"id", "first_seen", "last_seen", "last_used"}
BUSY = "收件记录库正被另一个 xlform report 使用"


@dataclass(frozen=True)
class Made:
    issued: Path  # RETURNS issued workbooks, read as returns
    extra_template: Path  # a template the built-ins do not know
    extra_return: Path  # a return of that template: unreadable without `-t extra_template`


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("made")
    result = distribute([Department(f"单位{i:04d}") for i in range(RETURNS)], root / "issued",
                        load_template("shanghai-2020"))
    data = yaml.safe_load(templates_dir().joinpath("shanghai-2020.yaml").read_text(encoding="utf-8"))
    data.update(id="bureau-2025", version="3", year=2025)
    extra = root / "extra.yaml"
    extra.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ret = root / "zzz_区外单位.xlsx"  # sorts last: read in the last batch
    write_workbook(load_template(extra), ret, sample_declaration())
    return Made(result.folder, extra, ret)


def make_inbox(made: Made, folder: Path, n: int = RETURNS, extra: bool = True) -> Path:
    """n issued returns and (optionally) the return of the extra template, with fixed mtimes."""
    folder.mkdir(parents=True)
    files = sorted(p for p in made.issued.iterdir() if p.suffix == ".xlsx")[:n]
    for i, src in enumerate([*files, *([made.extra_return] if extra else [])]):
        dst = folder / src.name
        shutil.copyfile(src, dst)
        os.utime(dst, (1_700_000_000 + i, 1_700_000_000 + i))
    return folder


@pytest.fixture(scope="module")
def shared(made: Made, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One inbox many tests only read."""
    return make_inbox(made, tmp_path_factory.mktemp("shared") / "收件箱")


def report(inbox: Path, db: Path, out: Path, *more: str) -> CliResult:
    return invoke(["report", str(inbox), "-f", "json", "-o", str(out), "--db", str(db), *more])


def report_process(inbox: Path, db: Path, out: Path, *more: str, stderr: Any = subprocess.PIPE
                   ) -> subprocess.Popen[str]:
    """The real command in its own process group (its worker processes with it)."""
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "report", str(inbox), "-f", "json", "-o", str(out),
                             "--db", str(db), *more], stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                            start_new_session=True)


def store_tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a store, rows sorted, timestamps and row ids left out; a report state keeps
    its output's name, signature and counts (not the output's size and time)."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for name in names:
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cursor.description]
            rows = []
            for row in cursor:
                values = dict(zip(columns, row, strict=True))
                if name == "meta" and values["key"].startswith("report:"):
                    state = json.loads(values["value"])
                    values = {"key": "report:" + Path(values["key"][7:]).name, "value": (state["signature"],
                              json.dumps(state["counts"], sort_keys=True))}
                elif name == "meta" and values["key"].startswith("to_act:"):  # who must act, by output name
                    values = {"key": "to_act:" + Path(values["key"][7:]).name, "value": values["value"]}
                rows.append(tuple(v for c, v in values.items() if c not in VOLATILE_COLUMNS))
            out[name] = sorted(rows, key=repr)
    return out


def report_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Clean:
    tables: dict[str, list[tuple[Any, ...]]]
    report: dict[str, Any]


_clean: dict[tuple[str, ...], Clean] = {}


def clean(inbox: Path, tmp: Path, *more: str) -> Clean:
    """What one uninterrupted run on a fresh store leaves (cached per inbox and options)."""
    key = (str(inbox), *more)
    if key not in _clean:
        folder = tmp / f"clean{len(_clean)}"
        folder.mkdir()
        r = report(inbox, folder / "s.db", folder / "r.json", "--jobs", "1", *more)
        assert r.exit_code == 1, r.output  # issued blank forms have findings
        _clean[key] = Clean(store_tables(folder / "s.db"), report_json(folder / "r.json"))
    return _clean[key]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reference")


def interrupt_at(monkeypatch: pytest.MonkeyPatch, name: str, nth: int, when: str) -> None:
    """Ctrl-C at the nth call of a step of the run (`when` = before it starts, or after it returned)."""
    owner: Any = xlform.report.build if name == "write_tables" else Store
    real = getattr(owner, name)
    calls = itertools.count(1)

    def step(*args: Any, **kwargs: Any) -> Any:
        n = next(calls)
        if n == nth and when == "before":
            raise KeyboardInterrupt
        out = real(*args, **kwargs)
        if n == nth:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(owner, name, step)


# ---- 1. interruption: the next run leaves the store a clean run leaves ------------------------------

POINTS = [("save", 1, "before"), ("save", 1, "after"), ("save", 5, "after"), ("write_tables", 1, "before"),
          ("set_report_state", 1, "before")]


@pytest.mark.parametrize(("name", "nth", "when"), POINTS, ids=[f"{w}-{n}{k}" for n, k, w in POINTS])
def test_ctrl_c_anywhere_then_a_rerun_gives_the_clean_store(
        tmp_path: Path, shared: Path, reference: Path, monkeypatch: pytest.MonkeyPatch, name: str, nth: int,
        when: str) -> None:
    db, out = tmp_path / "s.db", tmp_path / "r.json"
    with monkeypatch.context() as m:
        interrupt_at(m, name, nth, when)
        stopped = report(shared, db, out, "--jobs", "1")
    assert stopped.exit_code == 130 and "Traceback" not in stopped.output
    again = report(shared, db, out, "--jobs", "2")
    assert again.exit_code == 1, again.output
    expected = clean(shared, reference)
    assert report_json(out) == expected.report
    assert store_tables(db) == expected.tables
    assert len(expected.tables["returns"]) == RETURNS  # the extra template's return is unreadable here


def test_ctrl_c_while_known_files_are_taken_over_then_a_rerun_gives_the_clean_store(
        tmp_path: Path, made: Made, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files moved and touched (same bytes, new names and times) are recorded without being read again."""
    inbox = make_inbox(made, tmp_path / "in", 40)
    ref, db = tmp_path / "ref.db", tmp_path / "s.db"
    for store in (ref, db):
        assert report(inbox, store, tmp_path / "r.json").exit_code == 1
    moved = inbox / "转来的"
    moved.mkdir()
    for i, path in enumerate(sorted(inbox.glob("*.xlsx"))[:30]):
        target = moved / path.name if i % 2 else path
        path.rename(target)
        os.utime(target, (1_800_000_000 + i, 1_800_000_000 + i))
    assert report(inbox, ref, tmp_path / "r.json").exit_code == 1
    with monkeypatch.context() as m:
        interrupt_at(m, "touch", 1, "after")
        assert report(inbox, db, tmp_path / "r.json").exit_code == 130
    assert report(inbox, db, tmp_path / "r.json").exit_code == 1
    assert store_tables(db) == store_tables(ref)
    assert len(store_tables(db)["returns"]) == 40 + 15  # each name a return was received under


def _rows(db: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1, RETURNS // 2])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_killed_run_then_a_rerun_gives_the_clean_store(tmp_path: Path, shared: Path, reference: Path,
                                                       sig: signal.Signals, rows: int) -> None:
    db, out, log = tmp_path / "s.db", tmp_path / "r.json", tmp_path / "stderr.txt"
    with log.open("w") as err:
        run = report_process(shared, db, out, "--jobs", "1", stderr=err)
    try:
        while _rows(db) < rows and run.poll() is None:
            time.sleep(0.005)
        run.send_signal(sig)  # the main process only, as `kill` does
        run.wait(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):  # worker processes a killed run left behind
            os.killpg(run.pid, signal.SIGKILL)
    stderr = log.read_text()
    if run.returncode not in (-signal.SIGKILL, 130):
        pytest.fail(f"the run ended (exit {run.returncode}) before it could be stopped at {rows} files")
    assert "Traceback" not in stderr
    assert 0 < _rows(db) < RETURNS + 1
    again = report(shared, db, out)
    assert again.exit_code == 1, again.output
    expected = clean(shared, reference)
    assert report_json(out) == expected.report
    assert store_tables(db) == expected.tables


def test_a_store_that_forgot_returns_is_mended_by_the_upgrade(tmp_path: Path, made: Made) -> None:
    """A store written by the previous schema, whose history lost returns to an interrupted run."""
    inbox = make_inbox(made, tmp_path / "in", 20, extra=False)
    db = tmp_path / "s.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                sha256 TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
            CREATE TABLE contents (file_sha256 TEXT NOT NULL, seq INTEGER NOT NULL, member TEXT NOT NULL,
                item_key TEXT NOT NULL, PRIMARY KEY (file_sha256, seq));
            CREATE TABLE results (item_key TEXT PRIMARY KEY, status TEXT NOT NULL, form_id TEXT NOT NULL,
                payload TEXT NOT NULL);
            CREATE TABLE returns (id INTEGER PRIMARY KEY, form_id TEXT NOT NULL, item_key TEXT NOT NULL,
                name TEXT NOT NULL, department TEXT NOT NULL, project TEXT NOT NULL, status TEXT NOT NULL,
                received_at TEXT NOT NULL, first_seen TEXT NOT NULL, UNIQUE (form_id, item_key, name));
            INSERT INTO meta VALUES ('schema_version', '1'), ('checker', 'previous version');
            INSERT INTO returns VALUES (1, 'f-old', 'k', 'old.xlsx', '区教育局', '旧项目', '通过', '2020-01-01T00:00:00',
                '2020-01-01T00:00:00');""")
    assert report(inbox, db, tmp_path / "r.json").exit_code == 1
    with Store(db) as store:
        assert [h.project for h in store.history("f-old")] == ["旧项目"]  # the history stays
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM returns").fetchone()[0] == 20 + 1


def test_history_names_the_latest_return_as_the_report_does(tmp_path: Path, made: Made) -> None:
    """Two versions of one form received in the same second: the history's order is the report's,
    whichever run saw which first (that depends on when runs were interrupted)."""
    issued = sorted(made.issued.glob("*.xlsx"))[0]
    inbox, db = tmp_path / "in", tmp_path / "s.db"
    inbox.mkdir()
    for name in ("b.xlsx", "a.xlsx"):
        shutil.copyfile(issued, inbox / name)
        os.utime(inbox / name, (1_700_000_000, 1_700_000_000))
        assert report(inbox, db, tmp_path / "r.json").exit_code == 1
        if name == "b.xlsx":
            with closing(sqlite3.connect(db)) as conn, conn:  # as if the first run had been long ago
                conn.execute("UPDATE returns SET first_seen = '2020-01-01T00:00:00'")
    shown = report_json(tmp_path / "r.json")["returns"]
    assert len(shown) == 1
    form_id = next(iter({r[0] for r in store_tables(db)["returns"]}))
    with Store(db) as store:
        history = store.history(form_id)
    assert len(history) == 2 and history[-1].name == str(inbox / "b.xlsx")
    assert str(inbox / "b.xlsx") in json.dumps(shown, ensure_ascii=False)


def test_results_of_code_and_templates_no_longer_used_are_cleared_out(tmp_path: Path, made: Made) -> None:
    inbox = make_inbox(made, tmp_path / "in", 3)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "r.json").exit_code == 1
    now = int(time.time())
    # Other signatures: six used days ago, four a few minutes ago (maybe by runs still going).
    others = {f"old{i}": now - 86400 * (10 + i) for i in range(6)} | {f"recent{i}": now - 60 * (i + 1) for i in range(4)}
    with closing(sqlite3.connect(db)) as conn, conn:
        (current,) = conn.execute("SELECT signature FROM checkers").fetchone()
        for sig, used in others.items():
            conn.execute("INSERT INTO checkers VALUES (?, ?)", (sig, used))
            for table in ("files", "contents", "results"):
                columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})") if c[1] != "checker"]
                conn.execute(f"INSERT INTO {table} (checker, {', '.join(columns)}) "
                             f"SELECT ?, {', '.join(columns)} FROM {table} WHERE checker = ?", (sig, current))
    assert report(inbox, db, tmp_path / "r.json").exit_code == 1
    kept = {current, *(f"recent{i}" for i in range(4))}  # the 4 most recently used, and any used within the hour
    with closing(sqlite3.connect(db)) as conn:
        assert {s for (s,) in conn.execute("SELECT signature FROM checkers")} == kept
        for table in ("files", "contents", "results"):
            assert {s for (s,) in conn.execute(f"SELECT DISTINCT checker FROM {table}")} == kept, table


def test_a_report_put_back_with_the_same_size_and_time_is_written_again(tmp_path: Path, made: Made) -> None:
    """The unchanged report is kept only if it is the very file written (another run, a copy put back…)."""
    inbox = make_inbox(made, tmp_path / "in", 3)
    db, out = tmp_path / "s.db", tmp_path / "r.json"
    assert report(inbox, db, out).exit_code == 1
    written, st = out.read_bytes(), out.stat()
    other = tmp_path / "other.json"
    other.write_bytes(b" " * st.st_size)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, out)
    r = report(inbox, db, out)
    assert r.exit_code == 1 and "沿用上次生成的文件" not in r.output
    assert out.read_bytes() == written


# ---- 2. runs with different templates on one store ----------------------------------------------------


# Another set of templates, with results of its own: the extra one and a built-in named again.
ALSO = ("-t", "mof-2021")


def test_runs_with_different_templates_keep_each_others_results(tmp_path: Path, made: Made, reference: Path) -> None:
    """Template sets share a store without clearing each other's results; and a template one run was given
    is remembered, so a later run without -t reads that template's returns too (with the same results)."""
    inbox = make_inbox(made, tmp_path / "in", 30)
    db, extra = tmp_path / "s.db", ("-t", str(made.extra_template))
    plain, with_extra = clean(inbox, reference), clean(inbox, reference, *extra)
    assert plain.report["summary"]["unreadable"] == 1 and with_extra.report["summary"]["unreadable"] == 0
    first = report(inbox, db, tmp_path / "first.json")  # before any -t: the extra return cannot be read
    assert first.exit_code == 1 and report_json(tmp_path / "first.json") == plain.report
    for round_ in range(2):
        for i, more in enumerate((extra, (*extra, *ALSO), ())):
            out = tmp_path / f"r{round_}{i}.json"  # a new output: the report is written, not reused
            r = report(inbox, db, out, *more)
            assert r.exit_code == 1, r.output
            assert report_json(out) == with_extra.report
            if round_ or not more:  # what each template set found is still there: nothing is read again
                assert "31 个文件未变" in r.output


def test_a_run_with_other_templates_in_the_middle_of_a_run(tmp_path: Path, shared: Path, made: Made, reference: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run, with other templates, while this one reads files or loads what it knew."""
    db, extra = tmp_path / "s.db", ("-t", str(made.extra_template))
    plain, with_extra = clean(shared, reference), clean(shared, reference, *extra)
    real_save, real_results = Store.save, Store.results
    nested: list[CliResult] = []
    started = [False]

    other = [extra]  # the templates of the run in the middle

    def other_run() -> None:
        if not started[0]:
            started[0] = True  # once: the other run saves and loads too
            nested.append(report(shared, db, tmp_path / "other.json", *other[0]))

    def save(self: Store, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        other_run()  # after this run's first batch

    def results(self: Store, *args: Any, **kwargs: Any) -> Any:
        other_run()  # after this run chose the files it knew, before it loads their results
        return real_results(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Store, "save", save)
        first = report(shared, db, tmp_path / "a.json", "--jobs", "1")
    assert first.exit_code == 1 and nested[0].exit_code == 1, first.output + nested[0].output
    assert report_json(tmp_path / "a.json") == plain.report
    assert report_json(tmp_path / "other.json") == with_extra.report
    # Then without -t too: the store remembers the extra template, and what was read with it.
    for out, more in ((tmp_path / "b.json", extra), (tmp_path / "c.json", ())):
        r = report(shared, db, out, *more)
        assert r.exit_code == 1 and f"{RETURNS + 1} 个文件未变" in r.output, r.output
        assert report_json(out) == with_extra.report

    nested.clear()
    started[0] = False
    other[0] = (*extra, *ALSO)
    with monkeypatch.context() as m:
        m.setattr(Store, "results", results)
        second = report(shared, db, tmp_path / "d.json")
    assert second.exit_code == 1 and nested[0].exit_code == 1, second.output + nested[0].output
    assert report_json(tmp_path / "d.json") == with_extra.report
    assert report_json(tmp_path / "other.json") == with_extra.report


def test_results_that_vanished_under_a_run_are_read_again(tmp_path: Path, made: Made,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = make_inbox(made, tmp_path / "in", 10)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "a.json").exit_code == 1
    real = Store.results

    def results(self: Store, *args: Any, **kwargs: Any) -> Any:
        with closing(sqlite3.connect(db)) as conn, conn:  # as a run that clears out old results would
            conn.execute("DELETE FROM results")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "results", results)
    r = report(inbox, db, tmp_path / "b.json")
    assert r.exit_code == 1, r.output
    assert report_json(tmp_path / "b.json") == report_json(tmp_path / "a.json")


# ---- 3. concurrent runs ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mixed", [False, True], ids=["same-templates", "different-templates"])
def test_two_runs_at_once_on_one_store(tmp_path: Path, shared: Path, made: Made, reference: Path,
                                       mixed: bool) -> None:
    # Different sets: the extra template, and it with a built-in named again (a store remembers the extra
    # template, so a run without -t would read with it as soon as the other run recorded it).
    first: tuple[str, ...] = ("-t", str(made.extra_template)) if mixed else ()
    extra = (*first, *ALSO) if mixed else ()
    db, ref = tmp_path / "s.db", tmp_path / "ref.db"
    for out, more in (("a.json", first), ("b.json", extra)):  # the same runs, one after the other
        assert report(shared, ref, tmp_path / "ref" / out, *more).exit_code == 1
    for round_ in range(2):  # a fresh store, then one that knows every file
        runs = [report_process(shared, db, tmp_path / out, "--jobs", "1", *more)
                for out, more in (("a.json", first), ("b.json", extra))]
        for run in runs:
            _, stderr = run.communicate(timeout=300)
            assert run.returncode == 1, stderr
            assert "Traceback" not in stderr and "内部错误" not in stderr
        assert report_json(tmp_path / "a.json") == clean(shared, reference, *first).report
        assert report_json(tmp_path / "b.json") == clean(shared, reference, *extra).report
        assert store_tables(db) == store_tables(ref), f"round {round_}"


def test_a_store_busy_for_too_long_is_refused_in_chinese(tmp_path: Path, made: Made,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = make_inbox(made, tmp_path / "in", 5)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "a.json").exit_code == 1
    monkeypatch.setattr(xlform.store, "BUSY_SECONDS", 0.2)
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another run writing, for longer than this one waits
        r = report(inbox, db, tmp_path / "b.json")
        other.execute("ROLLBACK")
    assert r.exit_code == 2 and BUSY in r.stderr, r.output
    assert not _english(r.stderr, db) and not (tmp_path / "b.json").exists()
    assert report(inbox, db, tmp_path / "b.json").exit_code == 1


def test_a_run_waits_as_long_as_the_other_keeps_writing(tmp_path: Path, made: Made,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A long report writes batch after batch: a run behind it waits for as long as it makes progress, not a
    fixed time (which starved the second of two runs on a busy machine)."""
    import threading
    import time as clock

    inbox = make_inbox(made, tmp_path / "in", 5)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "a.json").exit_code == 1
    monkeypatch.setattr(xlform.store, "BUSY_SECONDS", 0.5)  # far less than the other run writes for

    def writing_batches() -> None:
        with closing(sqlite3.connect(db, isolation_level=None)) as other:
            end = clock.monotonic() + 3.0
            while clock.monotonic() < end:
                other.execute("BEGIN IMMEDIATE")
                other.execute("INSERT OR REPLACE INTO meta VALUES ('batch', ?)", (str(clock.monotonic()),))
                clock.sleep(0.3)
                other.execute("COMMIT")

    other = threading.Thread(target=writing_batches)
    other.start()
    clock.sleep(0.1)
    try:
        r = report(inbox, db, tmp_path / "b.json")
    finally:
        other.join()
    assert r.exit_code == 1, r.output
    assert report_json(tmp_path / "b.json") == report_json(tmp_path / "a.json")


# ---- 4. stores that cannot be used: a Chinese line, exit 2, the file untouched -------------------------


def _english(text: str, *paths: Path) -> set[str]:
    """English words in a message (paths and the program's own names aside)."""
    for path in sorted(paths, key=lambda p: -len(str(p))):  # s.db-wal before s.db
        text = text.replace(str(path), "")
    return set(re.findall(r"[A-Za-z]{3,}", text)) - {"xlform", "SQLite", "report", "wal", "shm"}


def _store(tmp_path: Path, inbox: Path) -> Path:
    db = tmp_path / "store" / "s.db"
    assert report(inbox, db, tmp_path / "first.json").exit_code == 1
    return db


def _set_version(db: Path, value: str) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))


def _write(db: Path, data: bytes) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(data)


def _foreign(db: Path, table: str = "people") -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(f"CREATE TABLE {table} (name TEXT)")
        conn.execute(f"INSERT INTO {table} VALUES ('张三')")


BROKEN = {
    "version-not-a-number": (lambda db: _set_version(db, "二"), "结构版本"),
    "version-from-a-newer-xlform": (lambda db: _set_version(db, "99"), "更新版本"),
    "not-sqlite": (lambda db: _write(db, "这不是数据库".encode()), "不是 xlform 的收件记录库"),
    "sqlite-header-then-garbage": (lambda db: _write(db, b"SQLite format 3\x00" + os.urandom(8000)), "已损坏"),
    "truncated": (lambda db: _write(db, db.read_bytes()[:1500]), "已损坏"),
    "another-programs-database": (_foreign, "不是 xlform 的收件记录库"),
    "another-programs-meta-table": (lambda db: _foreign(db, "meta"), "不是 xlform 的收件记录库"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_store_that_cannot_be_used_is_refused_and_left_as_it_is(tmp_path: Path, made: Made, case: str) -> None:
    inbox = make_inbox(made, tmp_path / "in", 3)
    db = _store(tmp_path, inbox) if case in ("version-not-a-number", "version-from-a-newer-xlform", "truncated") \
        else tmp_path / "store" / "s.db"
    damage, expected = BROKEN[case]
    damage(db)
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    r = report(inbox, db, tmp_path / "r.json")
    assert r.exit_code == 2 and "收件记录库" in r.stderr and expected in r.stderr, r.output
    assert "Traceback" not in r.output and not _english(r.stderr, db)
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before
    assert not (tmp_path / "r.json").exists()


def _blocked_folders(tmp_path: Path) -> Iterator[Path]:
    if Path("/proc/self").is_dir():
        yield Path("/proc/xlform-store/s.db")  # a folder nobody can make
    (tmp_path / "a.txt").write_text("a file, not a folder", encoding="utf-8")
    yield tmp_path / "a.txt" / "s.db"
    yield tmp_path / "a.txt" / "deeper" / "s.db"


def test_a_store_folder_that_cannot_be_made_is_refused(tmp_path: Path, made: Made) -> None:
    inbox = make_inbox(made, tmp_path / "in", 1)
    for db in _blocked_folders(tmp_path):
        r = report(inbox, db, tmp_path / "r.json")
        assert r.exit_code == 2 and "收件记录库" in r.stderr, r.output
        assert "Traceback" not in r.output and not _english(r.stderr, db, *db.parents)
        assert not (tmp_path / "r.json").exists()
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "a file, not a folder"
    folder = tmp_path / "folder.db"
    folder.mkdir()
    r = report(inbox, folder, tmp_path / "r.json")
    assert r.exit_code == 2 and "文件夹" in r.stderr and not _english(r.stderr, folder), r.output


def _read_only(path: Path) -> None:
    """Unwritable even for root: the immutable flag (chattr), else the permissions."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("running as root on a file system without the immutable flag: nothing is read-only")
    else:
        path.chmod(0o555 if path.is_dir() else 0o444)


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_is_refused_and_left_as_it_is(tmp_path: Path, made: Made, what: str) -> None:
    inbox = make_inbox(made, tmp_path / "in", 3)
    db = _store(tmp_path, inbox)
    locked = db if what == "file" else db.parent
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    _read_only(locked)
    try:
        r = report(inbox, db, tmp_path / "r.json")
    finally:
        _writable(locked)
    assert r.exit_code == 2 and "只读" in r.stderr, r.output
    assert "Traceback" not in r.output and not _english(r.stderr, db, db.parent)
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before
    assert not (tmp_path / "r.json").exists()


# ---- 5. the store is never an output, nor read as a return ---------------------------------------------


def _hard_link(db: Path, out: Path) -> Path:
    os.link(db, out)
    return out


def _sym_link(db: Path, out: Path) -> Path:
    out.symlink_to(db)
    return out


OUTPUTS = {
    "the-store-itself": (lambda db, tmp: db, "json"),
    "its-write-ahead-log": (lambda db, tmp: db.with_name(db.name + "-wal"), "json"),
    "its-shared-memory-file": (lambda db, tmp: db.with_name(db.name + "-shm"), "json"),
    "a-hard-link-to-it": (lambda db, tmp: _hard_link(db, tmp / "copy.json"), "json"),
    "a-symbolic-link-to-it": (lambda db, tmp: _sym_link(db, tmp / "link.json"), "json"),
    "the-path-of-a-new-store": (lambda db, tmp: tmp / "new" / ".." / "fresh.db", "json"),
    "a-csv-beside-the-summary": (lambda db, tmp: tmp / "s.csv", "csv"),
}


@pytest.mark.parametrize("case", list(OUTPUTS))
def test_an_output_that_is_the_store_is_refused_before_anything_is_written(tmp_path: Path, made: Made,
                                                                           case: str) -> None:
    inbox = make_inbox(made, tmp_path / "in", 2)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "first.json").exit_code == 1
    target, fmt = OUTPUTS[case]
    out = target(db, tmp_path)
    if case == "the-path-of-a-new-store":
        db = tmp_path / "fresh.db"
    elif case == "a-csv-beside-the-summary":  # the summary goes to s.csv, the 问题清单 table to s_问题清单.csv
        db.rename(tmp_path / "s_问题清单.csv")
        db = tmp_path / "s_问题清单.csv"
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    r = invoke(["report", str(inbox), "-f", fmt, "-o", str(out), "--db", str(db)])
    assert r.exit_code == 2 and "收件记录库" in r.stderr, r.output
    assert not _english(r.stderr, db, out)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_the_store_and_its_side_files_are_never_read_as_returns(tmp_path: Path, made: Made) -> None:
    inbox = make_inbox(made, tmp_path / "in", 2, extra=False)
    db = tmp_path / "s.db"
    assert report(inbox, db, tmp_path / "a.json").exit_code == 1
    with closing(sqlite3.connect(db)) as holder:  # another reader keeps the -wal and -shm files in place
        holder.execute("SELECT count(*) FROM returns").fetchone()
        assert db.with_name("s.db-wal").exists() and db.with_name("s.db-shm").exists()
        for side in ("s.db", "s.db-wal", "s.db-shm"):
            (inbox / side).symlink_to(tmp_path / side)
        r = report(inbox, db, tmp_path / "b.json")
        assert r.exit_code == 1, r.output
        summary = report_json(tmp_path / "b.json")
        assert summary["summary"]["files"] == 2 and summary["unreadable"] == []
        for given in (db, db.with_name("s.db-wal")):  # handed over as an inbox file
            r = invoke(["report", str(inbox), str(given), "-f", "json", "-o", str(tmp_path / "c.json"),
                        "--db", str(db)])
            assert r.exit_code == 2 and "收件记录库" in r.stderr, r.output


def test_a_report_over_a_return_handed_over_as_a_file_is_refused(tmp_path: Path, made: Made) -> None:
    ret = next(make_inbox(made, tmp_path / "in", 1, extra=False).iterdir())
    before = ret.read_bytes()
    r = invoke(["report", str(ret), "-o", str(ret)])
    assert r.exit_code == 2 and "从不覆盖输入的文件" in r.stderr, r.output
    assert ret.read_bytes() == before


def test_a_pipe_as_the_store_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "s.db"
    os.mkfifo(fifo)
    inbox = tmp_path / "in"
    inbox.mkdir()
    r = invoke(["report", str(inbox), "-o", str(tmp_path / "r.json"), "-f", "json", "--db", str(fifo)])
    assert r.exit_code == 2 and "不是普通文件" in r.stderr


def test_workers_end_with_a_killed_parent(tmp_path: Path) -> None:
    """kill -9 of `report` must not leave its workers waiting forever (holding the caller's pipes open)."""
    import signal
    import subprocess
    import sys
    import time

    script = ("import time, xlform.collect.workers as c\n"
              "from concurrent.futures import ProcessPoolExecutor\n"
              "pool = ProcessPoolExecutor(2, mp_context=c._pool_context(), initializer=c._init_worker, initargs=([], None))\n"
              "print(*[f.result() for f in [pool.submit(__import__('os').getpid) for _ in range(4)]], flush=True)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workers = {int(p) for p in proc.stdout.readline().split()}
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]


def test_text_in_the_store_that_is_no_longer_utf8_is_a_damaged_store_for_every_command(tmp_path: Path) -> None:
    """Bytes damaged inside a valid page: SQLite reads the page, Python cannot decode its text (an error with
    no SQLite code, which had reached users as an internal error with the damaged record in it)."""
    demo = tmp_path / "演示"
    assert invoke(["demo", str(demo)]).exit_code == 0
    data = (demo / "收件记录.db").read_bytes()
    name = "区教育局".encode()
    assert name in data
    bad = tmp_path / "坏.db"
    bad.write_bytes(data.replace(name, b"\xff" * len(name)))
    for args in (["status", "--db", bad], ["remind", "--db", bad, "-o", tmp_path / "催报.xlsx"],
                 ["feedback", "--db", bad, "-o", tmp_path / "退回"],
                 ["distribute", demo / "部门名单.csv", "-o", tmp_path / "下发", "--carry-over", bad]):
        r = invoke([str(a) for a in args])
        assert r.exit_code == 2 and "已损坏" in r.stderr, r.output
        assert "内部错误" not in r.output and "\ufffd" not in r.output and not _english(r.stderr, bad)
