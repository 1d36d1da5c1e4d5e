"""The SQLite store behind `xlform report --db`: what was collected, so daily re-runs are fast and history stays.

Tables (schema version in `meta`):
- checkers: each signature of code and templates that wrote here (`checker_signature`), and when
  it was last used. What follows is kept per signature, so runs with different templates
  (`-t extra.yaml` in one, not in the other) or different versions of xlform share one store
  without dropping each other's results; signatures unused for long are cleared out.
- files: the last seen size, mtime and sha256 of each file on disk. An
  unchanged (path, size, mtime) is not even read again; a changed one is
  hashed, and content seen before (a touched or copied file) is not re-checked.
- contents: what a file's bytes hold: one item for a workbook, one per member
  for a zip (item key = sha256 of the item's bytes + suffix).
- results: the outcome of reading and checking an item, as compact JSON.
- returns: every return ever received, by form id, with when it arrived: the
  history a resubmission supersedes but never deletes (whichever templates read it).
- meta: the schema version, what each report written was made of (report.py keeps an unchanged one), and
  what the last report knew of the round (`round`: who was expected, latest returns; `status`, `remind`).
- decisions: every reviewer decision read back from a report's 审核 sheet (`xlform review`), per form
  version, with who and when; a new decision is a new row (the history stays), the same one read twice is not.
- packages: every return package written back to a department (`xlform feedback`), with its file's sha256.
- templates: every template a run was given (-t, a manifest's copy), by digest, with its YAML text: a
  later run without -t or --manifest still reads the round (`xlform check --db` reads them too).

Interruption: a file's row, its items, their results and the returns it holds are written in one
transaction (one per batch of files, WAL journal), so whatever the store says it knows, it knows
completely. Ctrl-C, kill -9 or a power cut loses at most the batch being written, and the next run
reads only what is missing and leaves the store exactly as an uninterrupted run would.

Concurrency: write transactions start with BEGIN IMMEDIATE and wait their turn (up to BUSY_SECONDS)
behind another run's batch, which takes milliseconds; readers never wait. Two runs on one store both
work: a file both read is saved twice with the same rows. A run that cannot get its turn stops with
a Chinese message, the store as it was.

Nothing is written to a file before it is known to be an xlform store of a version this code reads:
another program's database, a damaged file, a newer schema or a read-only store is refused as it is.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import TemplateError, UserError
from .form.shipped import templates_dir
from .review.decisions import Decision, Package, Verdict
from .review.round import project_chains

if TYPE_CHECKING:  # at run time these are imported where results or templates are handled (see _outcome)
    from .collect.outcome import Collected, FileOutcome, Outcome
    from .form.template import Template, TemplateRef

SCHEMA_VERSION = 7  # 2: files, contents and results keyed by checker signature; 3: a zip member's time in contents;
#                    4: a result's payload is an object keyed by field (Outcome.to_json), no longer a list;
#                    5: the templates table (added to a schema 4 store, which keeps everything else);
#                    6: a result holds what its template adds (fields, columns, tables, with their labels);
#                    7: decisions and packages (the review loop)
TEMPLATES_SINCE = 5  # the schema that added the templates table
DECISIONS_SINCE = 7  # the schema that added decisions and packages
BUSY_SECONDS = 30.0  # how long a run waits for its turn to write behind another run that makes no progress
ATTEMPT_SECONDS = 1.0  # one try at the write lock; a run writing batch after batch is waited for as long as it lasts
KEEP_CHECKERS = 4  # signatures whose results stay (a bureau alternating template sets, an upgrade)
IN_USE_SECONDS = 3600  # a signature used this recently may belong to a run still going: never cleared
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")  # files SQLite keeps beside the store
_PER_CHECKER = ("files", "contents", "results")
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkers (signature TEXT PRIMARY KEY, last_used INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS files (
        checker TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, PRIMARY KEY (checker, path))""",
    """CREATE TABLE IF NOT EXISTS contents (
        checker TEXT NOT NULL, file_sha256 TEXT NOT NULL, seq INTEGER NOT NULL, member TEXT NOT NULL,
        item_key TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY (checker, file_sha256, seq))""",
    """CREATE TABLE IF NOT EXISTS results (
        checker TEXT NOT NULL, item_key TEXT NOT NULL, status TEXT NOT NULL, form_id TEXT NOT NULL,
        payload TEXT NOT NULL, PRIMARY KEY (checker, item_key))""",
    """CREATE TABLE IF NOT EXISTS returns (
        id INTEGER PRIMARY KEY, form_id TEXT NOT NULL, item_key TEXT NOT NULL, name TEXT NOT NULL,
        department TEXT NOT NULL, project TEXT NOT NULL, status TEXT NOT NULL,
        received_at TEXT NOT NULL, first_seen TEXT NOT NULL, UNIQUE (form_id, item_key, name))""",
    "CREATE INDEX IF NOT EXISTS returns_form ON returns (form_id, received_at)",
    """CREATE TABLE IF NOT EXISTS templates (
        digest TEXT PRIMARY KEY, id TEXT NOT NULL, version TEXT NOT NULL, text TEXT NOT NULL,
        first_seen TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS decisions (
        id INTEGER PRIMARY KEY, form_id TEXT NOT NULL, item_key TEXT NOT NULL, verdict TEXT NOT NULL,
        grade TEXT NOT NULL, opinion TEXT NOT NULL, indicator_opinions TEXT NOT NULL, reviewer TEXT NOT NULL,
        decided_at TEXT NOT NULL, source TEXT NOT NULL, department TEXT NOT NULL, project TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS decisions_form ON decisions (form_id, id)",
    """CREATE TABLE IF NOT EXISTS packages (
        id INTEGER PRIMARY KEY, form_id TEXT NOT NULL, item_key TEXT NOT NULL, department TEXT NOT NULL,
        path TEXT NOT NULL, sha256 TEXT NOT NULL, written_at TEXT NOT NULL, findings INTEGER NOT NULL,
        UNIQUE (form_id, item_key, sha256))""",
]


def _forget_results(conn: sqlite3.Connection) -> None:
    """5 → 6: results before 6 lack what the template adds; every file is read again (history stays)."""
    for table in _PER_CHECKER:
        conn.execute(f"DELETE FROM {table}")
    _results_cleared(conn)


def _results_cleared(conn: sqlite3.Connection) -> None:
    """Results were cleared out: a report kept as made of them is no longer known to be (Store.checker_epoch)."""
    conn.execute("INSERT INTO meta VALUES ('results_epoch', '1') ON CONFLICT(key) DO UPDATE SET "
                 "value = CAST(value AS INTEGER) + 1")


# Each schema from 4 on is reached from the one before by its own step, in one transaction with the rest of
# opening; a step only adds (tables, columns) or clears what is recomputed, so steps of other lines of work
# merge by renumbering. Stores older than _FIRST_STEPPED are set up afresh (their per-checker tables dropped).
_FIRST_STEPPED = 4
_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {
    5: lambda conn: None,  # the templates table: _SCHEMA creates it
    6: _forget_results,
    7: lambda conn: None,  # decisions and packages: _SCHEMA creates them
}
_NEW_AGAIN = "可以删除它（连同同名的 -wal、-shm 文件）重新建立，只是下次要重新读取全部文件"


@dataclass(frozen=True)
class KnownFile:
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class HistoryEntry:
    name: str
    item_key: str
    department: str
    project: str
    status: str
    received_at: str
    first_seen: str


def latest_of(history: Iterable[tuple[str, HistoryEntry]]) -> list[tuple[str, HistoryEntry]]:
    """(form id, latest return) of every form, from (form id, return) pairs oldest first. Versions of one form are
    those of one form id and department (a blank form copied to several departments is several forms); a workbook
    copied for a second project keeps a latest return for each project, as the report does (project_chains)."""
    forms: dict[tuple[str, str], list[HistoryEntry]] = {}
    for form_id, entry in history:
        forms.setdefault((form_id, entry.department), []).append(entry)
    return [(form_id, chain[-1]) for (form_id, _), versions in forms.items()
            for chain in project_chains(versions, lambda e: e.project)]


@dataclass(frozen=True)
class Receipt:
    """One readable return a file holds, named and dated as the report shows it."""

    item: Collected
    name: str
    received_at: str


def checker_signature(templates: Iterable[TemplateRef] = ()) -> str:
    """What results depend on: this package's code, the built-in templates as shipped (current, earlier
    versions, their indicator libraries: the files themselves, so an unchanged inbox is answered without
    parsing one) and every template given, in the order the reader prefers them (the same template given
    twice counts once, where it was given last)."""
    digest = _shipped().copy()
    for t in distinct(templates):
        digest.update((t.digest or repr(t)).encode())  # its text: where it was loaded from does not matter
    return digest.hexdigest()[:32]


def distinct(templates: Iterable[TemplateRef]) -> list[Template]:
    """Templates loaded, each digest once, at its last place: a Registry built from them prefers the same ones."""
    refs = list(templates)
    if not refs:
        return []
    from .form.template import as_template

    by_digest: dict[str, Template] = {}
    for t in map(as_template, refs):
        by_digest.pop(t.digest or str(id(t)), None)
        by_digest[t.digest or str(id(t))] = t
    return list(by_digest.values())


@functools.cache  # the files of this installation: read once a process
def _shipped() -> Any:
    digest = hashlib.sha256(__version__.encode())
    for name, code in [*_code_files(resources.files("xlform"), "", ".py"), *_code_files(templates_dir(), "", ".yaml")]:
        digest.update(name.encode() + b"\0" + code)
    return digest


def _code_files(folder: Traversable, prefix: str, suffix: str) -> list[tuple[str, bytes]]:
    """Every file of a folder with this suffix, its subfolders included, by relative name in a stable order."""
    found: list[tuple[str, bytes]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.is_dir() and entry.name != "__pycache__":
            found += _code_files(entry, f"{prefix}{entry.name}/", suffix)
        elif entry.name.endswith(suffix):
            found.append((prefix + entry.name, entry.read_bytes()))
    return found


def existing_store(path: Path) -> Path:
    """The store a command reads (status, remind, review, feedback), or a UserError saying why it is not one."""
    path = Path(path)
    if path.is_dir():
        inside = "、".join(p.name for p in sorted(path.glob("*.db"))[:3])
        hint = f"（这个文件夹中有：{inside}）" if inside else ""
        raise UserError(f"收件记录库 {path} 是一个文件夹{hint}；请给出 xlform report --db 建立的记录库文件，"
                        f"例如 {path / (inside.split('、')[0] if inside else '收件记录.db')}。")
    if not path.is_file():
        raise UserError(f"找不到收件记录库 {path}；请给出 xlform report --db 所用的记录库"
                        f"（还没有时先运行 xlform report 收件文件夹 -o 报告.xlsx --db {path}）。")
    return path


def recorded_file(recorded: str, store: Path) -> str:
    """Where a file the store recorded is now: as recorded (an absolute path, or relative to where report ran),
    else relative to the store's folder or a folder above it (report ran there: `xlform demo` records
    xlform-demo/收件/… beside xlform-demo/收件记录.db; the folder may since have been moved or copied whole);
    "" when none exists. Whoever opens it checks it is the file recorded (its hash)."""
    if os.path.lexists(recorded) or os.path.isabs(recorded):
        return recorded if os.path.lexists(recorded) else ""
    folder = Path(store).resolve().parent
    return next((str(p / recorded) for p in (folder, *folder.parents) if os.path.lexists(p / recorded)), "")


def store_files(path: Path) -> list[Path]:
    """The store and the files SQLite keeps beside it: none of them may be written over or read as a return."""
    path = Path(path)
    return [path, *(path.with_name(path.name + suffix) for suffix in SIDE_SUFFIXES)]


class Store:
    def __init__(self, path: Path, templates: Iterable[TemplateRef] = ()) -> None:
        self.path = Path(path)
        self.given = distinct(templates)  # a broken template is refused before the store is touched
        self.checker = checker_signature(self.given)
        self.templates: list[Template] = self.given  # once open: those recorded, then those given
        self._check_place()
        try:
            # Each attempt to write waits a second; _writing keeps trying while the other run makes progress.
            self.conn = sqlite3.connect(self.path, timeout=ATTEMPT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None
        try:
            self._open()
        except sqlite3.Error as exc:
            self.conn.close()
            raise store_error(self.path, exc) from None
        except BaseException:
            self.conn.close()
            raise

    def _check_place(self) -> None:
        """Refuse, before anything is written, a path the store cannot live at."""
        path = self.path
        if path.is_dir():
            raise UserError(f"收件记录库 {path} 是一个文件夹；请给出文件名，例如 {path / '收件记录.db'}。")
        _make_folder(path.parent)
        if path.exists() and not path.is_file():  # a pipe or a device would block or never end
            raise UserError(f"{path} 不是普通文件，不能用作收件记录库；请换一个文件名。")
        if path.exists() and not _looks_like_sqlite(path):
            raise UserError(f"{path} 不是 xlform 的收件记录库（SQLite），请换一个文件名。")
        # WAL keeps two files beside the store, so its folder must be writable too.
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UserError(_READ_ONLY.format(path=path))

    def _open(self) -> None:
        self._version()  # only reads: a file that is not a store this code reads stays as it is
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        with self._writing():
            version = self._version()  # again under the write lock: another run may have set it up meanwhile
            if version < _FIRST_STEPPED:
                for table in _PER_CHECKER:  # keyed without the checker: recomputed (results came from older code)
                    self.conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA:
                self.conn.execute(statement)
            if version < _FIRST_STEPPED:
                _results_cleared(self.conn)
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    _STEPS[step](self.conn)
            self.conn.execute("DELETE FROM meta WHERE key = 'checker'")  # schema 1 kept a single signature here
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._record_templates()
            self._in_use()
            self._clear_out()

    def _version(self) -> int:
        return _schema_version(self.conn, self.path)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction: taken at once (waiting its turn behind another run), rolled back on
        any error or Ctrl-C, so the store is only ever as after a whole transaction."""
        self._begin()
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, waiting behind another run for as long as it keeps committing (a long report
        writes batch after batch: waiting a fixed time would starve behind it), and giving up only after
        BUSY_SECONDS in which it committed nothing."""
        deadline = time.monotonic() + BUSY_SECONDS
        seen = self._data_version()
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = self._data_version()
                if now != seen:  # the other run committed since: it is alive, keep waiting
                    seen, deadline = now, time.monotonic() + BUSY_SECONDS
                elif time.monotonic() >= deadline:
                    raise

    def _data_version(self) -> int:
        """Changes whenever another connection commits to the store (SQLite's PRAGMA data_version)."""
        try:
            row = self.conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.OperationalError:
            return -1
        return int(row[0]) if row else -1

    def _record_templates(self) -> None:
        """The templates given join those recorded (a built-in as this version has it ships with the code);
        the run reads with all of them, the given ones preferred."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        given = [t for t in self.given if t.text and t.digest]
        if given:  # the built-ins parsed only then
            from .form.template import builtin_templates, previous_templates

            shipped = {t.digest for t in [*previous_templates(), *builtin_templates()]}
            self.conn.executemany("INSERT OR IGNORE INTO templates VALUES (?, ?, ?, ?, ?)",
                                  [(t.digest, t.id, t.version, t.text, now) for t in given if t.digest not in shipped])
        self.templates = distinct([*_loaded(self.conn), *self.given])
        self.checker = checker_signature(self.templates)

    def _in_use(self) -> None:
        """This signature is in use (again in every batch, so a run never writes for a signature cleared out)."""
        self.conn.execute("INSERT INTO checkers VALUES (?, ?) ON CONFLICT(signature) DO UPDATE SET "
                          "last_used = excluded.last_used", (self.checker, int(time.time())))

    def _clear_out(self) -> None:
        """Results of code and templates no longer used: all but the KEEP_CHECKERS most recently used, and
        never one used within IN_USE_SECONDS (a run may still be reading with it)."""
        old = [sig for (sig,) in self.conn.execute(
            "SELECT signature FROM checkers WHERE last_used < ? AND signature NOT IN "
            "(SELECT signature FROM checkers ORDER BY last_used DESC LIMIT ?)",
            (int(time.time()) - IN_USE_SECONDS, KEEP_CHECKERS))]
        for sig in old:
            for table in _PER_CHECKER:
                self.conn.execute(f"DELETE FROM {table} WHERE checker = ?", (sig,))
            self.conn.execute("DELETE FROM checkers WHERE signature = ?", (sig,))
        if old:
            _results_cleared(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(exc, sqlite3.Error):  # a failure while reading or writing it, said as every other one is
            raise store_error(self.path, exc) from None

    # ---- reading (this signature's) ---------------------------------------------------
    def known_files(self) -> dict[str, KnownFile]:
        return {_path_of(path): KnownFile(size, mtime, sha) for path, size, mtime, sha in self.conn.execute(
            "SELECT path, size, mtime_ns, sha256 FROM files WHERE checker = ?", (self.checker,))}

    def checker_epoch(self) -> list[int | None]:
        """Which life of this signature's results the store is in: other numbers once results were cleared out
        (an upgrade, old signatures cleared) or this signature's row was made again."""
        cleared = self._meta("results_epoch")
        row = self.conn.execute("SELECT rowid FROM checkers WHERE signature = ?", (self.checker,)).fetchone()
        return [int(cleared or 0), int(row[0]) if row else None]

    def contents(self) -> dict[str, list[tuple[str, str, str]]]:
        """file sha256 → [(member, item key, member's time)] of every file whose items all have results."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        rows = self.conn.execute(
            "SELECT c.file_sha256, c.member, c.item_key, c.modified, r.item_key IS NULL FROM contents c "
            "LEFT JOIN results r ON r.checker = c.checker AND r.item_key = c.item_key "
            "WHERE c.checker = ? ORDER BY c.file_sha256, c.seq", (self.checker,))
        incomplete = set()
        for sha, member, key, modified, missing in rows:
            out.setdefault(sha, []).append((member, key, modified))
            if missing:
                incomplete.add(sha)
        for sha in incomplete:
            del out[sha]
        return out

    def results(self, keys: Iterable[str]) -> dict[str, Outcome]:
        """The results of these items that the store has (another run may have cleared some out)."""
        wanted = set(keys)
        found: dict[str, Outcome] = {}
        if not wanted:
            return found
        for key, payload in self.conn.execute("SELECT item_key, payload FROM results WHERE checker = ?",
                                              (self.checker,)):
            if key in wanted:
                found[key] = _outcome(payload)
        return found

    def report_state(self, output: str) -> dict[str, Any] | None:
        """What the last report written to `output` was made of, its files' sizes and mtimes, its counts."""
        state = self._meta_json(_path_value(f"report:{output}"))
        return state if isinstance(state, dict) else None

    def set_report_state(self, output: str, state: dict[str, Any], to_act: list[Any], inboxes: Iterable[Path] = ()) -> None:
        """The state, and who must act as that report found (kept apart: thousands of lines, read only when
        the report is kept unchanged); and the inbox folders it read, in the same transaction (_remember_inboxes)."""
        with self._writing():
            self._remember_inboxes(inboxes)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              (_path_value(f"report:{output}"), json.dumps(state)))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              (_path_value(f"to_act:{output}"), json.dumps(to_act, ensure_ascii=False)))

    def _remember_inboxes(self, folders: Iterable[Path]) -> None:
        """The inbox folders a report read (absolute): remind and feedback never write into them (inbox_folders),
        also when every return sits in a subfolder, or none could be found again. Inside a write transaction."""
        known = self._meta_json("inboxes")
        known = [str(k) for k in known] if isinstance(known, list) else []
        added = [f for f in (os.path.abspath(f) for f in folders) if f not in known]
        if added:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('inboxes', ?)", (json.dumps(known + added),))

    def report_to_act(self, output: str) -> Any:
        """What set_report_state kept of who must act (None when nothing, or nothing readable)."""
        return self._meta_json(_path_value(f"to_act:{output}"))

    def reviewed(self, report_sha256: str) -> bool:
        """Whether `xlform review` has read a report file with these bytes."""
        return self.conn.execute("SELECT 1 FROM meta WHERE key = ?", (f"reviewed:{report_sha256}",)).fetchone() is not None

    def set_reviewed(self, report_sha256: str, when: str) -> None:
        with self._writing():
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (f"reviewed:{report_sha256}", when))

    def round_state(self) -> dict[str, Any] | None:
        """What the last report knew of the round (review/round.RoundFacts as JSON): who was expected, with
        their contacts, the latest returns and the unreadable files; `status` and `remind` read it."""
        state = self._meta_json("round")
        return state if isinstance(state, dict) else None

    def set_round(self, state: dict[str, Any]) -> str:
        """Keep the round's facts; returns the digest round_digest will give for them."""
        text = json.dumps(state, ensure_ascii=False)
        with self._writing():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('round', ?)", (text,))
        return hashlib.sha256(text.encode()).hexdigest()

    def round_digest(self) -> str:
        """Which facts are kept now ("" when none), from the text itself (whichever version wrote it): whoever
        remembered the digest needs not read them again. A few ms for 10,000 returns."""
        text = self._meta("round")
        return hashlib.sha256(str(text).encode()).hexdigest() if text is not None else ""

    def _meta(self, key: str | bytes) -> Any:
        """A value kept in meta, None when there is none."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _meta_json(self, key: str | bytes) -> Any:
        """A JSON value kept in meta, None when there is none or it does not parse (another program wrote it)."""
        return _json_or_none(self._meta(key))

    def history(self, form_id: str) -> list[HistoryEntry]:
        """Every return of one form, oldest first, in the report's order: the latest is the one it shows."""
        rows = self.conn.execute(
            "SELECT name, item_key, department, project, status, received_at, first_seen FROM returns "
            "WHERE form_id = ? ORDER BY received_at, name", (form_id,))
        return [HistoryEntry(*row) for row in rows]

    def latest_returns(self) -> list[tuple[str, HistoryEntry]]:
        """(form id, its latest return) of every form, as the report keeps them (`latest_of`)."""
        return latest_of(self._returns(self.conn))

    @staticmethod
    def _returns(conn: sqlite3.Connection) -> Iterator[tuple[str, HistoryEntry]]:
        """(form id, return) of the whole history, in the report's order."""
        for form_id, *row in conn.execute(
                "SELECT form_id, name, item_key, department, project, status, received_at, first_seen FROM returns "
                "ORDER BY received_at, name"):
            yield form_id, HistoryEntry(*row)

    def sources(self, item_key: str) -> list[tuple[str, str, str]]:
        """Where an item was read from, whichever templates read it: (path, the file's sha256 then, member in
        a zip or "") of each file recorded holding it, most recently seen first."""
        rows = self.conn.execute(
            "SELECT f.path, f.sha256, c.member, MAX(f.last_seen) FROM contents c JOIN files f "
            "ON f.checker = c.checker AND f.sha256 = c.file_sha256 WHERE c.item_key = ? "
            "GROUP BY f.path, f.sha256, c.member ORDER BY MAX(f.last_seen) DESC, f.path", (item_key,))
        return [(_path_of(path), sha, member) for path, sha, member, _ in rows]

    def decisions(self, form_id: str | None = None) -> list[Decision]:
        """Every decision (of one form), oldest first: the last of a form's version is the one that holds."""
        sql = f"SELECT {_DECISION_COLUMNS} FROM decisions" + (" WHERE form_id = ?" if form_id is not None else "")
        return [_decision(row) for row in self.conn.execute(sql + " ORDER BY id", () if form_id is None else (form_id,))]

    def latest_decisions(self) -> dict[tuple[str, str], Decision]:
        """(form id, item key) → the decision that holds for that version."""
        return {(d.form_id, d.item_key): d for d in self.decisions()}

    def packages(self, form_id: str | None = None) -> list[Package]:
        sql = "SELECT form_id, item_key, department, path, sha256, written_at, findings FROM packages"
        rows = self.conn.execute(sql + (" WHERE form_id = ?" if form_id is not None else "") + " ORDER BY id",
                                 () if form_id is None else (form_id,))
        return [Package(*row) for row in rows]

    # ---- writing (one transaction per call) -------------------------------------------
    def add_decisions(self, decisions: Iterable[Decision]) -> list[Decision]:
        """Record decisions in one transaction; one equal to the decision already holding for its version is
        skipped (reading the same report twice changes nothing). Returns those recorded."""
        added: list[Decision] = []
        with self._writing():
            holding = self.latest_decisions()
            for d in decisions:
                before = holding.get((d.form_id, d.item_key))
                if before is not None and before.same_decision(d):
                    continue
                self.conn.execute(f"INSERT INTO decisions ({_DECISION_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                                  (d.form_id, d.item_key, str(d.verdict), d.grade, d.opinion,
                                   json.dumps(d.indicator_opinions, ensure_ascii=False), d.reviewer, d.decided_at,
                                   d.source, d.department, d.project))
                holding[(d.form_id, d.item_key)] = d
                added.append(d)
        return added

    def add_packages(self, packages: Iterable[Package]) -> None:
        """Record packages written, in one transaction (the same file written again is one row)."""
        with self._writing():
            self.conn.executemany("INSERT OR IGNORE INTO packages (form_id, item_key, department, path, sha256, "
                                  "written_at, findings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  [(p.form_id, p.item_key, p.department, p.path, p.sha256, p.written_at, p.findings)
                                   for p in packages])


    def save(self, batch: list[FileOutcome], returns: list[Receipt], now: str) -> None:
        """Files just read, their items and results, and the returns they hold, in one transaction:
        a file the store knows always has its returns in the history."""
        with self._writing():
            self._in_use()
            for fo in batch:
                if not fo.sha256:
                    continue  # junk or a file that vanished: nothing worth remembering
                self._file(fo.disk.path, fo.disk.size, fo.disk.mtime_ns, fo.sha256, now)
                self.conn.execute("DELETE FROM contents WHERE checker = ? AND file_sha256 = ?",
                                  (self.checker, fo.sha256))
                self.conn.executemany("INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?)",
                                      [(self.checker, fo.sha256, i, c.member, c.key, c.modified)
                                       for i, c in enumerate(fo.items)])
                self.conn.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                    [(self.checker, c.key, c.outcome.status, c.outcome.form_id,
                      json.dumps(c.outcome.to_json(), ensure_ascii=False, separators=(",", ":"))) for c in fo.items])
            self._record(returns, now)

    def touch(self, files: list[tuple[str, int, int, str]], returns: list[Receipt], now: str) -> None:
        """Files whose content is already known (copied or touched): their new size and mtime, and the
        returns they hold under their new names, in one transaction."""
        with self._writing():
            self._in_use()
            for path, size, mtime_ns, sha in files:
                self._file(path, size, mtime_ns, sha, now)
            self._record(returns, now)

    def _file(self, path: str, size: int, mtime_ns: int, sha: str, now: str) -> None:
        self.conn.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(checker, path) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, last_seen = excluded.last_seen",
            (self.checker, _path_value(path), size, mtime_ns, sha, now, now))

    def _record(self, returns: list[Receipt], now: str) -> None:
        """New returns join the history; one seen before (by any run, with any templates) stays as first recorded."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO returns (form_id, item_key, name, department, project, status, received_at, "
            "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.item.outcome.form_id, r.item.key, r.name, r.item.outcome.department, r.item.outcome.project,
              r.item.outcome.status, r.received_at, now) for r in returns if r.item.outcome.form_id])


_DECISION_COLUMNS = ("form_id, item_key, verdict, grade, opinion, indicator_opinions, reviewer, decided_at, source, "
                     "department, project")


def _decision(row: tuple[Any, ...]) -> Decision:
    form_id, item_key, verdict, grade, opinion, opinions, reviewer, decided_at, source, department, project = row
    return Decision(form_id, item_key, Verdict(verdict), grade, opinion,
                    tuple((int(r), str(t)) for r, t in json.loads(opinions)), reviewer, decided_at, source,
                    department, project)


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of the file (0: a new, empty one), or why it is not a store this code reads."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return 0
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            if "meta" in tables else None
    except sqlite3.OperationalError:  # a table called meta, but not ours
        row = None
    if row is None:
        raise UserError(f"{path} 是其他程序的数据库，不是 xlform 的收件记录库；请换一个文件名。")
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        version = 0
    if version > SCHEMA_VERSION:
        raise UserError(f"收件记录库 {path} 由更新版本的 xlform 建立（结构版本 {version}），请升级 xlform。")
    if version < 1:
        raise UserError(f"收件记录库 {path} 的结构版本“{row[0]}”无法识别，文件可能已损坏或被其他程序改过；"
                        f"{_NEW_AGAIN}。")
    return version


def _outcome(payload: str) -> Outcome:
    """A stored result. The module that makes results (and with it the reader) is imported here, on first
    use: a run that only asks what the store knows (an unchanged report, status, remind) never loads it."""
    from .collect.outcome import Outcome

    return Outcome.from_json(json.loads(payload))


def _loaded(conn: sqlite3.Connection) -> list[Template]:
    """The recorded templates, oldest first. One this version cannot load (a hand-edited row) is left out:
    it could read nothing."""
    found = []
    for digest, tid, version, text in conn.execute(
            "SELECT digest, id, version, text FROM templates ORDER BY first_seen, rowid"):
        from .form.template import parse_template  # on the first recorded template: a store without any never loads it

        try:
            t = parse_template(text, f"收件记录库中的模板 {tid} 版本 {version}", issuing=False)
        except TemplateError:
            continue
        if t.digest == digest:
            found.append(t)
    return found


@contextmanager
def _read_only(path: Path, missing: str, not_store: str) -> Iterator[tuple[sqlite3.Connection, int]]:
    """A store opened without writing anything, with its schema version: `missing` or `not_store` (messages)
    when it is not there or not a store, an SQLite failure said in Chinese."""
    if not path.is_file():
        raise UserError(missing)
    if not _looks_like_sqlite(path) or path.stat().st_size == 0:
        raise UserError(not_store)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS)
    except sqlite3.Error as exc:
        raise store_error(path, exc) from None
    try:
        yield conn, _schema_version(conn, path)
    except sqlite3.Error as exc:
        raise store_error(path, exc) from None
    finally:
        conn.close()


def _json_or_none(text: str | None) -> Any:
    """A JSON value kept in the store, None when there is none or it does not parse (another program wrote it)."""
    try:
        return json.loads(text) if text is not None else None
    except (ValueError, TypeError):
        return None


def _this_round_read_only(path: Path) -> AbstractContextManager[tuple[sqlite3.Connection, int]]:
    """The store a command of this round names (--db), opened without writing anything."""
    return _read_only(path, f"找不到收件记录库 {path}；请检查路径（它由 xlform report --db 建立）。",
                      f"{path} 不是 xlform 的收件记录库（SQLite），请检查路径。")


def recorded_templates(path: Path) -> list[Template]:
    """The templates a store recorded, read without writing anything (`xlform check --db`)."""
    with _this_round_read_only(Path(path)) as (conn, version):
        return _loaded(conn) if version >= TEMPLATES_SINCE else []


def inbox_folders(path: Path) -> list[Path]:
    """The folders the store's returns were read from, where they still are (found as recorded_file finds a
    file): what a command writing beside the store (remind, feedback) must never write into, lest the next
    report read its output as a return. Read without writing anything."""
    path = Path(path)
    with _this_round_read_only(path) as (conn, _):
        recorded = {os.path.dirname(p) for (p,) in conn.execute("SELECT DISTINCT path FROM files")}
        row = conn.execute("SELECT value FROM meta WHERE key = 'inboxes'").fetchone()
    given = _json_or_none(row[0] if row else None)  # the inboxes themselves, as report was given them (absolute)
    # "" is the folder report ran in: where that was is not known now (the folder this command runs in is no guide).
    found = [recorded_file(folder, path) for folder in sorted(recorded - {"", "."})]
    found += [f for f in (given if isinstance(given, list) else []) if isinstance(f, str)]
    return [Path(folder) for folder in dict.fromkeys(found) if folder and os.path.isdir(folder)]


@dataclass(frozen=True)
class FinalReturn:
    """The latest version of one form in a store: a past round's final return (distribute --carry-over)."""

    form_id: str
    item_key: str
    name: str  # as the report listed it (a zip member: the zip's name / the member)
    received_at: str
    outcome: Outcome | None  # None when no result of it is left (cleared with an old signature)
    places: tuple[tuple[str, str], ...]  # (file on disk, member of it or "") that held these bytes when collected
    verdict: str = ""  # the reviewer's decision holding for this version ("" when none)


def final_returns(path: Path) -> list[FinalReturn]:
    """The final return of every form a store holds, read without writing anything; the store's latest
    decisions with them. Anything that is not a store this version reads is a UserError."""
    path = Path(path)
    last_year = "请给出上年 xlform report --db 建立的文件"
    with _read_only(path, f"找不到上年的收件记录库 {path}；{last_year}。",
                    f"{path} 不是 xlform 的收件记录库（SQLite）；{last_year}。") as (conn, version):
        if version < _FIRST_STEPPED:
            raise UserError(f"收件记录库 {path} 的版本太旧（结构版本 {version}），无法带入上年的申报表；"
                            "请先用本版本对上年的收件文件夹运行一次 xlform report --db。")
        latest = latest_of(Store._returns(conn))
        keys = {entry.item_key for _, entry in latest}
        outcomes: dict[str, Outcome] = {}
        for key, payload in conn.execute(  # the most recently used signature's result wins
                "SELECT r.item_key, r.payload FROM results r LEFT JOIN checkers c ON c.signature = r.checker "
                "ORDER BY c.last_used"):
            if key in keys:
                try:
                    outcomes[key] = _outcome(payload)
                except (ValueError, TypeError, KeyError):
                    continue  # a result this version cannot take: the file is read again instead
        places: dict[str, dict[tuple[str, str], None]] = {}
        for key, member, file_path in conn.execute(
                "SELECT c.item_key, c.member, f.path FROM contents c JOIN files f "
                "ON f.checker = c.checker AND f.sha256 = c.file_sha256"):
            if key in keys:
                places.setdefault(key, {})[(_path_of(file_path), member)] = None
        verdicts: dict[tuple[str, str], str] = {}
        if version >= DECISIONS_SINCE:
            for form_id, key, verdict in conn.execute("SELECT form_id, item_key, verdict FROM decisions ORDER BY id"):
                verdicts[(form_id, key)] = verdict
    return [FinalReturn(form_id, e.item_key, e.name, e.received_at, outcomes.get(e.item_key),
                        tuple(places.get(e.item_key, ())), verdicts.get((form_id, e.item_key), ""))
            for form_id, e in latest]


_READ_ONLY = "收件记录库 {path} 是只读的（或所在文件夹不可写），无法记录本次收件；请换一个可写的位置，或修改权限后重试。"


def store_error(path: Path, exc: sqlite3.Error) -> UserError:
    """What to tell the user when SQLite fails on the store: by its error code, never its English text."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if not code and isinstance(exc, sqlite3.OperationalError) and "decode" in str(exc):
        code = sqlite3.SQLITE_CORRUPT  # text that is not the UTF-8 written there: damaged bytes in a valid page
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return UserError(f"收件记录库正被另一个 xlform report 使用（{path}），等了 {BUSY_SECONDS:.0f} 秒仍未轮到；"
                         "请等那次汇总结束后再运行。")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return UserError(_READ_ONLY.format(path=path))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return UserError(f"收件记录库 {path} 已损坏，无法读取；{_NEW_AGAIN}。")
    if code == sqlite3.SQLITE_FULL:
        return UserError(f"磁盘已满，收件记录库 {path} 无法写入；请腾出空间后重试（已记录的部分保持完整）。")
    if code == sqlite3.SQLITE_CANTOPEN:
        return UserError(f"无法打开收件记录库 {path}（文件或所在文件夹不可访问）；请检查路径和权限。")
    if code == sqlite3.SQLITE_IOERR:
        return UserError(f"读写收件记录库 {path} 时出错（磁盘或网络盘故障）；请稍后重试（已记录的部分保持完整）。")
    return UserError(f"收件记录库 {path} 读写失败（SQLite 错误代码 {code}）；请稍后重试。")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise UserError(f"无法建立收件记录库：{blocker} 是一个文件，不是文件夹；请换一个位置。") from None
        raise UserError(f"无法建立收件记录库所在的文件夹 {folder}（没有权限，或这个位置不能建立文件夹）；请换一个位置。") \
            from None


def _path_value(path: str) -> str | bytes:
    """A path as the store keeps it: text, or the OS's bytes for a name that is not UTF-8 (a Windows
    zip unpacked on Linux), which SQLite text cannot hold; a blob never equals a text, so keys stay apart."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def _path_of(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head in (b"", b"SQLite format 3\x00")
