"""The SQLite store behind `xlform report --db`: what was collected, so daily re-runs are fast and history stays.

Tables (schema version in `meta`):
- files: the last seen size, mtime and sha256 of each file on disk. An
  unchanged (path, size, mtime) is not even read again; a changed one is
  hashed, and content seen before (a touched or copied file) is not re-checked.
- contents: what a file's bytes hold: one item for a workbook, one per member
  for a zip (item key = sha256 of the item's bytes + suffix).
- results: the outcome of reading and checking an item, as compact JSON. They
  depend on the code and templates that produced them, so a changed checker
  (the `checker` signature in `meta`) drops them and they are recomputed.
- returns: every return ever received, by form id, with when it arrived: the
  history a resubmission supersedes but never deletes.

Every batch is written in one transaction (WAL journal), so Ctrl-C leaves the
store as it was after the last complete batch and the next run carries on.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from .collect import Collected, FileOutcome, Outcome
from .errors import UserError
from .template import builtin_templates, load_template

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contents (
    file_sha256 TEXT NOT NULL, seq INTEGER NOT NULL, member TEXT NOT NULL, item_key TEXT NOT NULL,
    PRIMARY KEY (file_sha256, seq));
CREATE TABLE IF NOT EXISTS results (
    item_key TEXT PRIMARY KEY, status TEXT NOT NULL, form_id TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS returns (
    id INTEGER PRIMARY KEY, form_id TEXT NOT NULL, item_key TEXT NOT NULL, name TEXT NOT NULL,
    department TEXT NOT NULL, project TEXT NOT NULL, status TEXT NOT NULL,
    received_at TEXT NOT NULL, first_seen TEXT NOT NULL, UNIQUE (form_id, item_key, name));
CREATE INDEX IF NOT EXISTS returns_form ON returns (form_id, received_at);
"""


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


def checker_signature(templates: Iterable[str] = ()) -> str:
    """What results depend on: this package's code and every template the reader may use."""
    digest = hashlib.sha256(__version__.encode())
    package = resources.files("xlform")
    for entry in sorted(package.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".py"):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    for t in [*builtin_templates(), *(load_template(ref) for ref in templates)]:
        digest.update(repr(t).encode())
    return digest.hexdigest()[:32]


class Store:
    def __init__(self, path: Path, templates: Iterable[str] = ()) -> None:
        self.path = Path(path)
        if self.path.exists() and not _looks_like_sqlite(self.path):
            raise UserError(f"{self.path} 不是 xlform 的收件记录库（SQLite），请换一个文件名。")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.checker = checker_signature(templates)
                self._migrate(self.checker)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"收件记录库 {self.path} 无法打开（{exc}）；可以删除它重新建立（只是下次要重新读取全部文件）。") \
                from None

    def _migrate(self, checker: str) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        version = int(meta.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise UserError(f"收件记录库 {self.path} 由更新版本的 xlform 建立（结构版本 {version}），请升级 xlform。")
        if meta.get("checker") != checker:
            # Results came from other code or templates: recompute them (files' hashes stay valid).
            self.conn.execute("DELETE FROM results")
            self.conn.execute("DELETE FROM contents")
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              [("schema_version", str(SCHEMA_VERSION)), ("checker", checker)])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ------------------------------------------------------------------
    def known_files(self) -> dict[str, KnownFile]:
        return {_path_of(path): KnownFile(size, mtime, sha) for path, size, mtime, sha
                in self.conn.execute("SELECT path, size, mtime_ns, sha256 FROM files")}

    def contents(self) -> dict[str, list[tuple[str, str]]]:
        """file sha256 → [(member, item key)] of every file whose items all have results."""
        out: dict[str, list[tuple[str, str]]] = {}
        rows = self.conn.execute(
            "SELECT c.file_sha256, c.member, c.item_key, r.item_key IS NULL FROM contents c "
            "LEFT JOIN results r ON r.item_key = c.item_key ORDER BY c.file_sha256, c.seq")
        incomplete = set()
        for sha, member, key, missing in rows:
            out.setdefault(sha, []).append((member, key))
            if missing:
                incomplete.add(sha)
        for sha in incomplete:
            del out[sha]
        return out

    def results(self, keys: Iterable[str]) -> dict[str, Outcome]:
        wanted = set(keys)
        found = {}
        for key, payload in self.conn.execute("SELECT item_key, payload FROM results"):
            if key in wanted:
                found[key] = Outcome.from_list(json.loads(payload))
        return found

    def report_state(self, output: str) -> dict[str, Any] | None:
        """What the last report written to `output` was made of, its files' sizes and mtimes, its counts."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (_path_value(f"report:{output}"),)).fetchone()
        return json.loads(row[0]) if row else None

    def set_report_state(self, output: str, state: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_path_value(f"report:{output}"), json.dumps(state)))

    def history(self, form_id: str) -> list[HistoryEntry]:
        """Every return of one form, oldest first: the latest is the one the report shows."""
        rows = self.conn.execute(
            "SELECT name, item_key, department, project, status, received_at, first_seen FROM returns "
            "WHERE form_id = ? ORDER BY received_at, first_seen, name", (form_id,))
        return [HistoryEntry(*row) for row in rows]

    # ---- writing (one transaction per call) -------------------------------------------
    def save(self, batch: list[FileOutcome], now: str) -> None:
        """Files just read, their items and results, in one transaction."""
        with self.conn:
            for fo in batch:
                if not fo.sha256:
                    continue  # junk or a file that vanished: nothing worth remembering
                self._file(fo.disk.path, fo.disk.size, fo.disk.mtime_ns, fo.sha256, now)
                self.conn.execute("DELETE FROM contents WHERE file_sha256 = ?", (fo.sha256,))
                self.conn.executemany("INSERT INTO contents VALUES (?, ?, ?, ?)",
                                      [(fo.sha256, i, c.member, c.key) for i, c in enumerate(fo.items)])
                self.conn.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                    [(c.key, c.outcome.status, c.outcome.form_id,
                      json.dumps(c.outcome.to_list(), ensure_ascii=False, separators=(",", ":"))) for c in fo.items])

    def touch(self, files: list[tuple[str, int, int, str]], now: str) -> None:
        """Files whose content is already known (copied or touched): remember their new size and mtime."""
        with self.conn:
            for path, size, mtime_ns, sha in files:
                self._file(path, size, mtime_ns, sha, now)

    def _file(self, path: str, size: int, mtime_ns: int, sha: str, now: str) -> None:
        self.conn.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, last_seen = excluded.last_seen",
            (_path_value(path), size, mtime_ns, sha, now, now))

    def record_returns(self, returns: list[tuple[Collected, str, str]], now: str) -> None:
        """(item, display name, received at) of returns seen: new ones join the history."""
        with self.conn:
            self.conn.executemany(
                "INSERT OR IGNORE INTO returns (form_id, item_key, name, department, project, status, received_at, "
                "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.outcome.form_id, c.key, name, c.outcome.department, c.outcome.project, c.outcome.status,
                  received, now) for c, name, received in returns if c.outcome.form_id])


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
