"""Collecting returns: every file under the inbox folders, inside .zip files too, read and checked.

Returns arrive by mail (often zipped), USB and OA exports, so an inbox holds
workbooks, zips, zips of zips and junk. `walk` lists the files on disk (stat
only); `items_of` turns one of them into the items it holds, as (display name,
bytes), opening zips in memory with the same kind of limits as package.py
(never extracting to disk, never writing into the inbox); `collect_file`
reads and checks each item into a compact `Outcome`, which is what crosses
process boundaries, goes into the store and feeds the report.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import UserError
from .package import MAX_FILE_BYTES, MAX_RATIO, RATIO_FLOOR
from .reader import Registry
from .review import STATUS_UNREADABLE, FileResult, check_file

STATUS_IGNORED = "已忽略"
JUNK_REASON = "临时文件，已忽略"
# Zip inboxes: a real one holds up to a few thousand ~30 KB returns.
MAX_ZIP_BYTES = 1024 * 1024 * 1024
MAX_ZIP_MEMBERS = 20000
MAX_ZIP_UNZIPPED = 2 * 1024 * 1024 * 1024
MAX_ZIP_DEPTH = 3  # a zip inside a zip inside a zip, as forwarded mail does
_JUNK_NAMES = {"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store", "icon\r"}
_JUNK_DIRS = {"__macosx", ".git", ".svn", "$recycle.bin"}
# Handed to the reader, which says what each is and how to save it as .xlsx; anything else is not a return.
_SPREADSHEET_SUFFIXES = {"", ".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".et", ".ett", ".ods", ".csv"}


@dataclass(frozen=True, slots=True)
class DiskFile:
    path: str  # as the OS needs it
    name: str  # as the user sees it in the report
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Item:
    """One input file: a file on disk or a member of a zip; `data` is None when it is not read."""

    name: str
    member: str = ""  # path inside the (outermost) zip, "" for a file on disk
    data: bytes | None = None
    reason: str = ""  # why there is nothing to read
    ignored: bool = False  # OS junk (Thumbs.db, ~$ lock files): listed, never counted as a problem


def is_junk(name: str) -> bool:
    """Files operating systems and office programs leave beside real ones."""
    parts = name.replace("\\", "/").split("/")
    base, lower = parts[-1], parts[-1].lower()
    return (lower in _JUNK_NAMES or base.startswith(("~$", "._", ".~lock.")) or lower.endswith(".tmp")
            or any(part.lower() in _JUNK_DIRS for part in parts[:-1]))


def walk(inboxes: Iterable[Path]) -> list[DiskFile]:
    """Every file under the inbox folders (a file may be given directly), in a stable order. Stat only."""
    found: list[DiskFile] = []
    for inbox in inboxes:
        inbox = Path(inbox)
        if inbox.is_file():
            st = inbox.stat()
            found.append(DiskFile(str(inbox), str(inbox), st.st_size, st.st_mtime_ns))
        elif inbox.is_dir():
            _scan(str(inbox), found)
        else:
            raise UserError(f"找不到收件文件夹：{inbox}")
    seen: set[str] = set()  # a folder given twice, or inside another one given, is still read once
    unique = []
    for d in found:
        real = os.path.abspath(d.path)
        if real not in seen:
            seen.add(real)
            unique.append(d)
    return unique


def _scan(folder: str, found: list[DiskFile]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return  # unreadable folder: nothing in it can be collected; the rest still is
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):  # a link back up the tree must not loop
                _scan(entry.path, found)
            elif entry.is_file():
                st = entry.stat()
                found.append(DiskFile(entry.path, entry.path, st.st_size, st.st_mtime_ns))
        except OSError:
            continue  # vanished between listing and stat (a sync client at work)


def file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def items_of(disk: DiskFile) -> Iterator[Item]:
    """What one file on disk holds: itself, or each member of a zip (recursively)."""
    if is_junk(disk.name):
        yield Item(disk.name, reason=JUNK_REASON, ignored=True)
        return
    if disk.name.lower().endswith(".zip"):
        if disk.size > MAX_ZIP_BYTES:
            yield Item(disk.name, reason=f"压缩包过大（{disk.size / 1048576:.0f} MB），已拒绝读取；请分成几个较小的压缩包。")
            return
        if _directory_too_big(disk.path):
            yield Item(disk.name, reason="压缩包目录异常庞大（声称有极多文件），已拒绝读取；请分成几个较小的压缩包。")
            return
        try:
            with zipfile.ZipFile(disk.path) as zf:
                yield from _zip_items(zf, disk.name, "", 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            yield Item(disk.name, reason="压缩包已损坏或不完整，无法打开；请重新下载或让对方重新打包。")
        return
    if not_a_workbook(disk.name):
        yield Item(disk.name, reason=not_a_workbook(disk.name))
        return
    if disk.size > MAX_FILE_BYTES:
        yield Item(disk.name, reason=f"文件过大（{disk.size / 1048576:.0f} MB），申报表通常不到 1 MB，请确认是否选错文件。")
        return
    try:
        yield Item(disk.name, data=Path(disk.path).read_bytes())
    except OSError as exc:
        yield Item(disk.name, reason=f"无法打开文件（{exc.strerror or exc}）。")


def _directory_too_big(path: str) -> bool:
    """Whether a zip's central directory is too big to list: zipfile builds one object per entry
    before we could count them, so a forged directory of millions of entries is refused first."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 66_000))  # the end record sits in the last 64 KB (+ its comment)
            tail = fh.read()
    except OSError:
        return False  # let zipfile report the damage
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 16:
        return False
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory_bytes = int.from_bytes(tail[at + 12 : at + 16], "little")
    return entries > MAX_ZIP_MEMBERS or directory_bytes > MAX_ZIP_MEMBERS * 1024


def not_a_workbook(name: str) -> str:
    """Why a file with this name is not read at all ("" when the reader should look at it)."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if suffix in _SPREADSHEET_SUFFIXES or not suffix.isascii() or len(suffix) > 6:
        return ""  # "申报表.区教育局" has no real suffix: let the reader sniff it
    if suffix in (".rar", ".7z", ".gz", ".tar", ".tgz"):
        return f"这是 {suffix} 压缩包，本系统只打开 .zip；请解压后把申报表放进收件文件夹，或改用 .zip 打包。"
    return f"不是表格文件（{suffix} 文件），未读取；申报表应为 Excel 工作簿（.xlsx）。"


def _member_name(info: zipfile.ZipInfo) -> str:
    """Zip tools on Chinese Windows store names in GBK without saying so; Python reads them as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _zip_items(zf: zipfile.ZipFile, shown: str, prefix: str, depth: int) -> Iterator[Item]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        yield Item(shown, reason=f"压缩包内文件过多（{len(infos)} 个），已拒绝读取；请分成几个较小的压缩包。")
        return
    total = 0
    for info in infos:
        member = _member_name(info)
        name = f"{shown}/{member}"
        inner = prefix + member
        total += info.file_size
        if is_junk(member):
            yield Item(name, inner, reason=JUNK_REASON, ignored=True)
        elif not_a_workbook(member) and not member.lower().endswith(".zip"):
            yield Item(name, inner, reason=not_a_workbook(member))
        elif info.flag_bits & 0x1:
            yield Item(name, inner, reason="压缩包内的这个文件设置了密码，无法读取；请不加密码重新打包。")
        elif (info.file_size > MAX_FILE_BYTES or total > MAX_ZIP_UNZIPPED
              or (info.file_size > RATIO_FLOOR and info.file_size / max(info.compress_size, 1) > MAX_RATIO)):
            yield Item(name, inner, reason="解压后异常庞大（疑似“压缩炸弹”）或文件过大，已拒绝读取。")
        else:
            try:
                with zf.open(info) as fh:
                    data = fh.read(MAX_FILE_BYTES + 1)  # bounded whatever the header claims
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
                yield Item(name, inner, reason="压缩包内的这个文件已损坏，无法解压；请让对方重新打包发送。")
                continue
            if member.lower().endswith(".zip"):
                yield from _nested(data, name, inner, depth)
            else:
                yield Item(name, inner, data=data)


def _nested(data: bytes, name: str, inner: str, depth: int) -> Iterator[Item]:
    if depth >= MAX_ZIP_DEPTH:
        yield Item(name, inner, reason=f"压缩包嵌套超过 {MAX_ZIP_DEPTH} 层，已拒绝读取；请解开后重新打包。")
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner_zf:
            yield from _zip_items(inner_zf, name, inner + "/", depth + 1)
    except (zipfile.BadZipFile, ValueError, EOFError):
        yield Item(name, inner, reason="压缩包已损坏或不完整，无法打开；请重新下载或让对方重新打包。")


# ---- outcomes: what reading and checking one item gives, in compact form ----------------


@dataclass(slots=True)
class Outcome:
    """Read + check result of one item: plain strings and numbers only (cheap to pickle and to store).

    Money stays a decimal string, dates ISO strings; the report converts them.
    """

    status: str  # 通过 / 需修改 / 无法读取 / 已忽略
    error: str = ""  # why it could not be read
    form_id: str = ""
    issued_to: str = ""  # department in _meta ("" for a blank form nobody was issued)
    department: str = ""  # issued_to, else what the department typed as 填报单位
    code: str = ""
    template: str = ""
    version: str = ""
    year: int | None = None
    money_unit: str = ""
    project: str = ""
    category: str = ""
    start: str = ""
    end: str = ""
    money: list[str] = field(default_factory=list)  # 总预算, 当年, 财政拨款, 上级, 本级, 下级, 其他
    errors: int = 0
    warnings: int = 0
    indicators: list[list[Any]] = field(default_factory=list)
    costs: list[list[Any]] = field(default_factory=list)
    findings: list[list[str]] = field(default_factory=list)  # severity, rule, sheet, cell, field, value, message

    def to_list(self) -> list[Any]:
        return [getattr(self, f) for f in _OUTCOME_FIELDS]

    @classmethod
    def from_list(cls, values: list[Any]) -> Outcome:
        return cls(*values)

    @property
    def readable(self) -> bool:
        return self.status not in (STATUS_UNREADABLE, STATUS_IGNORED)


_OUTCOME_FIELDS = [f.name for f in fields(Outcome)]
MONEY_FIELDS = ("total", "current_year", "fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate", "other")


def _s(value: Any) -> str:
    return "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else f"{value}")


def outcome_of(result: FileResult) -> Outcome:
    d = result.declaration
    if d is None:
        return Outcome(STATUS_UNREADABLE, result.error)
    ident, p = d.identity, d.project
    return Outcome(
        status=result.status,
        form_id=ident.form_id,
        issued_to=ident.department,
        department=ident.department or p.unit,
        code=ident.department_code,
        template=ident.template_id,
        version=ident.template_version,
        year=ident.year,
        money_unit=ident.money_unit,
        project=p.name,
        category=p.category,
        start=_s(p.start_date),
        end=_s(p.end_date),
        money=[_s(getattr(d.funding, key)) for key in MONEY_FIELDS],
        errors=result.errors,
        warnings=result.warnings,
        indicators=[[i.level1, i.level2, i.name, i.target.raw, i.target.operator, _s(i.target.number), i.target.unit,
                     i.note, i.value_type, i.value_basis, i.row] for i in d.indicators],
        costs=[[c.project, c.content, c.detail, _s(c.amount), _s(c.unit_price), c.price_basis, _s(c.quantity),
                c.quantity_basis, c.note, c.row] for c in d.costs],
        findings=[[f.severity, f.rule, f.sheet, f.cell, f.field, f.value, f.message] for f in result.findings],
    )


def check_item(item: Item, registry: Registry | None = None) -> Outcome:
    if item.data is None:
        return Outcome(STATUS_IGNORED if item.ignored else STATUS_UNREADABLE, item.reason)
    return outcome_of(check_file(item.name, registry, item.data, item.name))


def item_key(item: Item) -> str:
    """What a result depends on: the bytes, and the name's suffix (the reader's advice differs for .et and .xls)."""
    digest = hashlib.sha256(item.data).hexdigest() if item.data is not None else "-"
    return f"{digest}|{PurePosixPath(item.name).suffix.lower()}|{item.reason}"


@dataclass(slots=True)
class Collected:
    """One item of a file on disk, with its result."""

    member: str
    key: str
    outcome: Outcome


@dataclass(slots=True)
class FileOutcome:
    disk: DiskFile
    sha256: str
    items: list[Collected]


def collect_file(disk: DiskFile, registry: Registry | None = None) -> FileOutcome:
    """Hash, open and check everything one file on disk holds. Never raises for a bad file."""
    try:
        sha = file_hash(disk.path) if not is_junk(disk.name) else ""
    except OSError:
        sha = ""
    collected = []
    for item in items_of(disk):
        with _watchdog():
            outcome = check_item(item, registry)
        collected.append(Collected(item.member, item_key(item), outcome))
    return FileOutcome(disk, sha, collected)


# ---- running many: one process or a pool -----------------------------------------------

# Seconds a worker may spend on one workbook. A return takes milliseconds and the largest file the
# limits let through about a second; past this the reader is stuck (a parser caught in a loop), and
# the worker process ends itself, which the pool turns into one file listed as unreadable.
FILE_TIMEOUT = 60.0

_FORK = sys.platform.startswith("linux")
# Fewer files than this are read in this process (see collect_files).
PARALLEL_FROM = 1 if _FORK else 64

_worker_registry: Registry | None = None
_worker_timeout: float | None = None  # set in worker processes only: the watchdog ends the whole process


@contextmanager
def _watchdog() -> Iterator[None]:
    """In a worker: end the process if the body runs longer than its timeout. The kernel delivers
    SIGALRM, whose default action ends the process, so it works even while a parser holds the
    interpreter inside native code (a Python-level timer would wait for it); re-arming is a system call."""
    if _worker_timeout is None:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, _worker_timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _init_worker(templates: list[str], timeout: float | None) -> None:
    global _worker_registry, _worker_timeout
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; no tracebacks per worker
    _worker_registry = Registry(list(templates)) if templates else None
    if timeout is not None and hasattr(signal, "setitimer"):  # not on Windows: no watchdog there
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        _worker_timeout = timeout


def _collect_chunk(chunk: list[DiskFile]) -> list[FileOutcome]:
    return [collect_file(d, _worker_registry) for d in chunk]


def collect_files(
    disks: list[DiskFile],
    *,
    jobs: int,
    templates: list[str] | None = None,
    on_done: Callable[[list[FileOutcome]], None],
    parallel_from: int | None = None,
    file_timeout: float | None = None,
) -> None:
    """Collect every file, handing results to `on_done` in batches as they finish.

    Files are read in `jobs` worker processes, where a file that crashes the reader
    or takes longer than `file_timeout` seconds (default FILE_TIMEOUT) costs only itself. Below
    `parallel_from` files everything runs here instead (default: never where a
    worker is forked in ~10 ms; below 64 files where each must start a fresh interpreter).
    """
    templates = list(templates or [])
    if len(disks) < (PARALLEL_FROM if parallel_from is None else parallel_from):
        _collect_here(disks, templates, on_done)
        return
    size = max(4, min(64, len(disks) // (jobs * 8) or 1))
    pending = [disks[i: i + size] for i in range(0, len(disks), size)]
    init = _worker_args(templates, file_timeout)
    while pending:
        in_hand, pending = _collect_in_pool(pending, jobs, init, on_done)
        if in_hand:  # a worker died (killed, out of memory, a file that aborts or hangs the reader)
            _collect_isolated([d for chunk in in_hand for d in chunk], init, on_done)


MISSING = "找不到这个文件或文件夹，请检查路径。"


def check_inputs(paths: Iterable[Path]) -> list[DiskFile | str]:
    """What `check` and `export` were handed, walked as the report walks an inbox: a folder stands for
    every file below it, OS and Office temporary files aside (so a stray .xls in a folder is answered
    too); a path that does not exist stays as its name, to be answered as missing."""
    entries: list[DiskFile | str] = []
    for path in paths:
        if path.is_dir():
            found: list[DiskFile] = []
            _scan(str(path), found)
            entries += [d for d in found if not is_junk(os.path.relpath(d.path, path))]
        elif path.exists():
            entries += walk([path])
        else:
            entries.append(str(path))
    return entries


def check_paths(paths: list[Path], templates: list[str] | None = None,
                file_timeout: float | None = None) -> list[FileResult]:
    """`xlform check` and `export`: every workbook under the paths, mailed zips opened as the report opens
    them, each read and checked in a worker process as collect_files does, so a file that crashes or hangs
    the reader is answered like any other unreadable file (timeout: default FILE_TIMEOUT). Results in order."""
    templates = list(templates or [])
    entries = check_inputs(paths)
    disks = [e for e in entries if isinstance(e, DiskFile)]
    by_disk: dict[str, list[FileResult]] = {}
    if len(disks) < PARALLEL_FROM:
        registry = Registry(templates) if templates else None
        by_disk = {d.path: _check_disk(d, registry) for d in disks}
    else:
        worker = _OneWorker(_worker_args(templates, file_timeout))
        try:
            for start in range(0, len(disks), 32):
                chunk = disks[start : start + 32]
                batch, failure = worker.run(_check_chunk, chunk)
                if failure is not None:  # which one: each again, on its own
                    batch = [_check_alone(d, worker) for d in chunk]
                by_disk.update((d.path, results) for d, results in zip(chunk, batch, strict=True))
        finally:
            worker.close()
    results: list[FileResult] = []
    for entry in entries:
        results += by_disk[entry.path] if isinstance(entry, DiskFile) else [FileResult(entry, error=MISSING)]
    return results


def _result_of(item: Item, registry: Registry | None) -> FileResult:
    if item.data is None:
        return FileResult(item.name, error=item.reason)
    return check_file(item.name, registry, item.data, item.name)


def _check_disk(disk: DiskFile, registry: Registry | None) -> list[FileResult]:
    """Each item one file holds (a workbook, or each member of a mailed zip), junk aside."""
    results = []
    for item in items_of(disk):
        if item.ignored:
            continue
        with _watchdog():
            results.append(_result_of(item, registry))
    return results


def _check_chunk(disks: list[DiskFile]) -> list[list[FileResult]]:
    return [_check_disk(d, _worker_registry) for d in disks]


def _check_item_in_worker(item: Item) -> FileResult:
    with _watchdog():
        return _result_of(item, _worker_registry)


def _check_alone(disk: DiskFile, worker: _OneWorker) -> list[FileResult]:
    """One file on its own in the worker; a zip that kills it goes member by member (only the member at fault is lost)."""
    batch, failure = worker.run(_check_chunk, [disk])
    if failure is None:
        return list(batch[0])
    if not disk.name.lower().endswith(".zip"):
        return [FileResult(disk.name, error=failure)]
    results = []
    for item in items_of(disk):
        if item.ignored:
            continue
        one, failure = worker.run(_check_item_in_worker, item) if item.data is not None else (_result_of(item, None), None)
        results.append(one if failure is None else FileResult(item.name, error=failure))
    return results


def _collect_here(disks: list[DiskFile], templates: list[str], on_done: Callable[[list[FileOutcome]], None]) -> None:
    registry = Registry(templates) if templates else None
    for start in range(0, len(disks), 16):
        on_done([collect_file(d, registry) for d in disks[start: start + 16]])


CRASHED = "读取这个文件时读取程序异常退出（文件可能损坏或经过特殊构造），已拒绝读取；请用 Excel 或 WPS 重新保存后再交。"
TIMED_OUT = ("读取这个文件超过 {seconds:.0f} 秒仍未完成（文件可能损坏或经过特殊构造），已停止读取；"
             "请用 Excel 或 WPS 重新保存后再交。")
_WorkerArgs = tuple[list[str], float | None]  # _init_worker's: templates, per-workbook timeout


def _worker_args(templates: list[str], file_timeout: float | None) -> _WorkerArgs:
    return templates, FILE_TIMEOUT if file_timeout is None else file_timeout


def _collect_isolated(disks: list[DiskFile], init: _WorkerArgs, on_done: Callable[[list[FileOutcome]], None]) -> None:
    """After a worker died: one file at a time in one worker, so the file that kills or hangs its
    process is named and listed as unreadable (never re-read in this process, which it would kill
    too), and every other file is still read. Slower, but only for what was unfinished when the pool broke."""
    worker = _OneWorker(init)
    try:
        for disk in disks:
            if disk.name.lower().endswith(".zip"):  # a mailed zip of returns: lose only the member at fault
                on_done([_member_by_member(disk, worker)])
                continue
            batch, failure = worker.run(_collect_chunk, [disk])
            on_done(batch if failure is None else [_failed(disk, failure)])
    finally:
        worker.close()


class _OneWorker:
    """One worker process, started again after whatever ends it."""

    def __init__(self, init: _WorkerArgs) -> None:
        self.init = init
        self.pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[Any], Any], arg: Any) -> tuple[Any, str | None]:
        """(fn(arg), None) from the worker, or (None, why it failed) when the worker died on it."""
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_pool_context(), initializer=_init_worker,
                                            initargs=self.init)
        started = time.monotonic()
        try:
            return self.pool.submit(fn, arg).result(), None
        except BrokenProcessPool:
            self.close()
            timeout = self.init[1]
            hung = timeout is not None and time.monotonic() - started >= timeout
            return None, TIMED_OUT.format(seconds=timeout) if hung else CRASHED

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def _check_in_worker(item: Item) -> Outcome:
    with _watchdog():
        return check_item(item, _worker_registry)


def _member_by_member(disk: DiskFile, worker: _OneWorker) -> FileOutcome:
    """Each member of a zip checked on its own in the worker; the zip is listed here (its bytes are
    only unzipped, never parsed as a workbook, in this process)."""
    sha = _sha_or_blank(disk)
    collected = []
    for item in items_of(disk):
        outcome, failure = worker.run(_check_in_worker, item) if item.data is not None else (check_item(item), None)
        key = item_key(item) if failure is None else f"crashed|{sha}|{item.member}"
        collected.append(Collected(item.member, key, outcome if failure is None else Outcome(STATUS_UNREADABLE, failure)))
    return FileOutcome(disk, sha, collected)


def _failed(disk: DiskFile, reason: str) -> FileOutcome:
    sha = _sha_or_blank(disk)
    return FileOutcome(disk, sha, [Collected("", f"crashed|{sha}", Outcome(STATUS_UNREADABLE, reason))])


def _sha_or_blank(disk: DiskFile) -> str:
    try:
        return file_hash(disk.path)
    except OSError:
        return ""


def _pool_context() -> Any:
    """fork where it is safe (Linux): workers start at once, and a caller's script is not re-imported
    (spawn would re-run an unguarded `__main__`). The first pool forks its workers at the first submit,
    before the progress bar starts its thread; pools started after a worker died fork beside that
    thread, which only draws the bar (a worker never prints, so never waits on the lock it may hold)."""
    import multiprocessing

    return multiprocessing.get_context("fork" if _FORK else "spawn")


def _collect_in_pool(chunks: list[list[DiskFile]], jobs: int, init: _WorkerArgs, on_done: Callable[[list[FileOutcome]], None]
                     ) -> tuple[list[list[DiskFile]], list[list[DiskFile]]]:
    """Run the chunks in worker processes, a bounded number in flight (memory stays flat). When a
    worker dies the pool is broken: returns the chunks it had in hand (to be read one file at a time)
    and those not yet handed to it (for a fresh pool); ([], []) when all were read."""
    queue = list(reversed(chunks))
    running: dict[Future[list[FileOutcome]], list[DiskFile]] = {}

    def hand_over() -> None:  # the chunk leaves the queue only once the pool has taken it
        running[pool.submit(_collect_chunk, queue[-1])] = queue[-1]
        queue.pop()

    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=_pool_context(),
                             initializer=_init_worker, initargs=init) as pool:
        try:
            while queue and len(running) < jobs * 4:
                hand_over()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(future.result())  # a dead worker: BrokenProcessPool, the chunk still in running
                    del running[future]
                    if queue:
                        hand_over()
        except BrokenProcessPool:
            return list(running.values()), list(reversed(queue))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [], []
