"""Collecting returns: every file under the inbox folders, inside .zip files too, read and checked.

Returns arrive by mail (often zipped), USB and OA exports, so an inbox holds
workbooks, zips, zips of zips, junk, and now and then a link, a pipe or a folder
nobody may open. `walk` lists every entry on disk (stat only): a regular file
to read, or an entry listed with the reason it is not read; `items_of` turns
one file into the items it holds, opening zips in memory with the same kind of
limits as reading/limits.py (never extracting to disk, never writing into the inbox),
all within a budget that adds up across zip levels, per file on disk and per
run; `collect_file` reads and checks each item into a compact `Outcome`, which
is what crosses process boundaries, goes into the store and feeds the report.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import posixpath
import re
import stat
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any, BinaryIO

from ..errors import UserError
from ..forking import FORK, sent_as_values
from ..reading import refusals as R
from ..reading.limits import MAX_FILE_BYTES, MAX_RATIO, RATIO_FLOOR, read_chunks
from ..reading.refusals import Reason

# Zip inboxes: a real one holds up to a few thousand ~30 KB returns. The member and unzipped limits hold for
# one zip on disk with every zip inside it together: they add up across levels.
MAX_ZIP_BYTES = 1024 * 1024 * 1024
MAX_ZIP_MEMBERS = 20000
MAX_ZIP_UNZIPPED = 2 * 1024 * 1024 * 1024
MAX_ZIP_DEPTH = 3  # a zip inside a zip inside a zip, as forwarded mail does
ZIP_SECONDS = 600.0  # opening and checking all one zip on disk holds (20,000 returns take about 30 s)
# One run, every file and zip member together: each is a row of the report, and an Excel sheet holds
# 1,048,576 rows (the few summary lines a run may add fit in what is left).
MAX_RUN_ITEMS = 1_000_000
MAX_RUN_UNZIPPED = 16 * 1024 * 1024 * 1024
_JUNK_NAMES = {"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store", "icon\r"}
_JUNK_DIRS = {"__macosx", ".git", ".svn", "$recycle.bin"}
# Handed to the reader, which says what each is and how to save it as .xlsx; anything else is not a return.
_SPREADSHEET_SUFFIXES = {"", ".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".et", ".ett", ".ods", ".csv"}

# What an entry is listed for and not read (their wording: reading/refusals.py).
NOT_REGULAR, FOLDER_UNREADABLE = R.NOT_REGULAR, R.FOLDER_UNREADABLE
LINK_OUTSIDE, LINK_INSIDE, LINK_BROKEN, LINK_LOOP = R.LINK_OUTSIDE, R.LINK_INSIDE, R.LINK_BROKEN, R.LINK_LOOP
_OS_REASONS = {errno.EACCES: "没有权限", errno.EPERM: "没有权限", errno.ENAMETOOLONG: "路径太长",
               errno.ELOOP: "快捷方式层层相套", errno.ENOENT: "已不存在", errno.ENOTDIR: "已不存在",
               errno.EIO: "磁盘读取出错", errno.EINVAL: "系统不允许这样读取"}


def _why(exc: OSError) -> str:
    """An operating-system error as a clerk reads it."""
    return _OS_REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__


def _size(n: int) -> str:
    return f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def shown_name(path: str) -> str:
    """A path as people see it, and as any file, database or terminal can carry it. A name that is not UTF-8
    (a Windows zip unpacked on Linux leaves GBK names, which os.fsdecode carries as surrogate escapes
    nothing else accepts) is shown decoded as GB18030 when it is that, else with U+FFFD for what is not
    text; only the shown name changes, the path that opens the file stays as the OS gave it. Control characters
    (a line break in a name would split a line of output) and the marks that turn text right to left (U+202E
    makes 报告\u202excod.exe show as 报告exe.docx) are shown as their codes, \x0a, \u202e."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        path = os.sep.join(_shown_part(part) for part in os.fsencode(path).split(os.sep.encode()))
    return _UNSHOWABLE.sub(_code_of, path) if _UNSHOWABLE.search(path) else path


_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _code_of(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown_part(raw: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


@sent_as_values
@dataclass(frozen=True, slots=True)
class DiskFile:
    path: str  # as the OS needs it
    name: str  # as the user sees it in the report (shown_name of the path)
    size: int
    mtime_ns: int
    reason: str = ""  # why it is listed and not read (a link, a pipe, a folder that cannot be opened); "" to read
    code: str = ""  # the reason's code (reading/refusals.py)


_MTIME_RANGE = (0, 2**63 - 1)  # what SQLite's INTEGER holds, and a date every writer can show (1970 to 2262)


def _disk_file(path: str, st: os.stat_result | None, why: Reason | None = None, name: str | None = None) -> DiskFile:
    """One entry as walk lists it. A file's time can be anything a program set (past the year 9999, before
    1970): it is kept within the range every writer of dates and the store can take."""
    mtime = min(max(st.st_mtime_ns, _MTIME_RANGE[0]), _MTIME_RANGE[1]) if st is not None else 0
    size = st.st_size if st is not None and why is None else 0
    return DiskFile(path, shown_name(path if name is None else name), size, mtime,
                    why.message if why else "", why.code if why else "")


@dataclass(slots=True)
class Item:
    """One input file: a file on disk or a member of a zip; `data` is None when it is not read."""

    name: str
    member: str = ""  # path inside the (outermost) zip, "" for a file on disk
    data: bytes | None = None
    reason: str = ""  # why there is nothing to read
    ignored: bool = False  # OS junk (Thumbs.db, ~$ lock files): listed, never counted as a problem
    modified: str = ""  # a zip member's own time (ISO), which orders two versions mailed in one zip
    code: str = ""  # the reason's code (reading/refusals.py)
    sha256: str = ""  # of `data`, where reading it hashed it already ("": not yet)

    @classmethod
    def refused(cls, name: str, why: Reason, member: str = "") -> Item:
        """An item listed and not read, for this reason."""
        return cls(name, member, reason=why.message, ignored=why.code.startswith(R.IGNORED), code=why.code)


def is_junk(name: str) -> bool:
    """Files operating systems and office programs leave beside real ones."""
    parts = name.replace("\\", "/").split("/")
    base, lower = parts[-1], parts[-1].lower()
    return (lower in _JUNK_NAMES or base.startswith(("~$", "._", ".~lock.")) or lower.endswith(".tmp")
            or any(part.lower() in _JUNK_DIRS for part in parts[:-1]))


# ---- walking the inboxes: every entry read or listed ---------------------------------------


class _Walk:
    """Entries under the inboxes, in a stable order, with at most MAX_RUN_ITEMS to read in one run. Only
    regular files are read. A link is never followed: one that points inside an inbox names what is read
    there anyway (so nothing is read twice and no loop is walked), one that points elsewhere is listed, as
    are pipes, devices, sockets and folders that cannot be opened. Iterative: any depth of folders; and a
    folder seen again under an inbox (a bind mount of it, or of a folder above it) is listed, not walked again."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = [(str(r), os.path.realpath(r)) for r in roots]
        self.count = 0
        self._folders: dict[tuple[int, int], str] = {}  # (device, inode) of each folder walked → its path

    def _add(self, found: list[DiskFile], disk: DiskFile) -> None:
        self.count += 1
        found.append(disk)

    @property
    def full(self) -> bool:
        return self.count >= MAX_RUN_ITEMS

    def scan(self, top: str) -> list[DiskFile]:
        found: list[DiskFile] = []
        over = 0  # entries past the run's limit: counted, not looked at
        top_stat = os.stat(top)
        self._folders = {(top_stat.st_dev, top_stat.st_ino): top}  # per inbox: one inside another is read once anyway
        stack = [self._entries(top, found)]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            if self.full:
                try:
                    if entry.is_dir(follow_symlinks=False) and self._first_visit(entry.path, entry.stat(follow_symlinks=False)):
                        stack.append(self._entries(entry.path, found))
                        continue
                except OSError:
                    pass
                over += 1
                continue
            folder = self._entry(entry, found)
            if folder is not None:
                stack.append(self._entries(folder, found))
        if over:
            found.append(_disk_file(top, None, R.TOO_MANY_FILES(limit=MAX_RUN_ITEMS, count=over)))
        return found

    def _entries(self, folder: str, found: list[DiskFile]) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:  # the rest is still collected; this folder is listed
            self._add(found, _disk_file(folder, _lstat(folder), _folder_unreadable(exc)))
            return iter(())
        return iter(entries)

    def _entry(self, entry: os.DirEntry[str], found: list[DiskFile]) -> str | None:
        """Lists one entry; returns the path of a folder to go into."""
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # gone between listing and looking (a sync client at work)
        except OSError as exc:
            folder = _is_folder(entry)
            self._add(found, _disk_file(entry.path, None, _folder_unreadable(exc) if folder else
                                        R.ENTRY_UNREADABLE(why=_why(exc))))
            return None
        if stat.S_ISDIR(st.st_mode):
            if self._first_visit(entry.path, st):
                return entry.path
            self._add(found, _disk_file(entry.path, st, R.FOLDER_SEEN(
                first=shown_name(self._folders[st.st_dev, st.st_ino]))))
        elif stat.S_ISREG(st.st_mode):
            self._add(found, _disk_file(entry.path, st))
        elif stat.S_ISLNK(st.st_mode):
            self._add(found, _disk_file(entry.path, st, self._link(entry.path)))
        else:
            self._add(found, _disk_file(entry.path, st, NOT_REGULAR()))
        return None

    def _first_visit(self, path: str, st: os.stat_result) -> bool:
        return self._folders.setdefault((st.st_dev, st.st_ino), path) == path

    def _link(self, path: str) -> Reason:
        try:
            os.stat(path)  # where it leads, if anywhere
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return LINK_LOOP()
            return LINK_BROKEN() if exc.errno in (errno.ENOENT, errno.ENOTDIR) else R.LINK_UNREADABLE(why=_why(exc))
        real = os.path.realpath(path)
        for given, root in self.roots:
            if PurePath(real).is_relative_to(root):
                return LINK_INSIDE(target=shown_name(os.path.normpath(os.path.join(given, os.path.relpath(real, root)))))
        return LINK_OUTSIDE()

    def given(self, path: str) -> DiskFile:
        """A file named on the command line: a link is followed (the user chose it), a pipe or device is not read."""
        self.count += 1
        try:
            st = os.stat(path)
        except OSError as exc:
            lst = _lstat(path)
            if exc.errno == errno.ELOOP:
                return _disk_file(path, lst, LINK_LOOP())
            gone = exc.errno in (errno.ENOENT, errno.ENOTDIR) and lst is not None
            return _disk_file(path, lst, LINK_BROKEN() if gone else R.ENTRY_UNREADABLE(why=_why(exc)))
        if not stat.S_ISREG(st.st_mode):
            return _disk_file(path, st, NOT_REGULAR())
        return _disk_file(os.path.realpath(path) if os.path.islink(path) else path, st, name=path)  # opened unfollowed


def _folder_unreadable(exc: OSError) -> Reason:
    advice = "请检查文件夹的访问权限。" if exc.errno in (errno.EACCES, errno.EPERM) else ""
    return FOLDER_UNREADABLE(why=_why(exc), advice=advice)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)  # the listing's own type: no system call where it has one
    except OSError:
        return False


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except OSError:
        return None


def given_kind(path: Path) -> str:
    """What a path named on the command line is: "folder", "missing", else "entry" (a file, a link, a
    pipe, or a name the system cannot look at, too long or not permitted: listed with its reason)."""
    try:
        return "folder" if stat.S_ISDIR(os.stat(path).st_mode) else "entry"
    except (FileNotFoundError, NotADirectoryError):
        return "entry" if _lstat(str(path)) is not None else "missing"  # a broken link is there, and listed
    except OSError:
        return "entry"


def walk(inboxes: Iterable[Path]) -> list[DiskFile]:
    """Every entry under the inbox folders (a file may be given directly), in a stable order. Stat only."""
    inboxes = [Path(p) for p in inboxes]
    kinds = [given_kind(p) for p in inboxes]
    walker = _Walk([p for p, kind in zip(inboxes, kinds, strict=True) if kind == "folder"])
    found: list[DiskFile] = []
    for inbox, kind in zip(inboxes, kinds, strict=True):
        if kind == "folder":
            found += walker.scan(str(inbox))
        elif kind == "entry":
            found.append(walker.given(str(inbox)))
        else:
            raise UserError(f"找不到收件文件夹：{shown_name(str(inbox))}")
    if len(inboxes) == 1:  # one folder walked visits each folder once: nothing to weed out
        return found
    seen: set[str] = set()  # a folder given twice, or inside another one given, is still read once
    unique = []
    for d in found:
        real = os.path.abspath(d.path)
        if real not in seen:
            seen.add(real)
            unique.append(d)
    return unique


# ---- opening a file: only regular files, never more than the limit --------------------------


class NotRegular(OSError):
    """A pipe, device, socket, folder or link where a file was expected: never opened, or closed at once."""


class PastLimit(OSError):
    """A file larger than collecting ever reads (whatever its size said when it was listed)."""


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def open_regular(path: str) -> io.FileIO:
    """A regular file opened for reading, never anything else: looked at first (opening a pipe waits for a
    writer, opening a device may make it act), opened without following a link and without waiting, then
    looked at again (it may have been swapped in between)."""
    if not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
        raise NotRegular(errno.EINVAL, NOT_REGULAR.template, path)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(errno.EINVAL, NOT_REGULAR.template, path)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def _read_limit(name: str) -> int:
    return MAX_ZIP_BYTES if name.lower().endswith(".zip") else MAX_FILE_BYTES


def _read_hashed(fh: io.FileIO, limit: int, keep: bool) -> tuple[str, int, bytes]:
    """(sha256, length, bytes if kept) of at most limit + 1 bytes, whatever the file's size said: it may
    have grown since, or be one of /proc's, whose size reads 0 and whose reading never ends."""
    digest, n, chunks = hashlib.sha256(), 0, []
    first = min(os.fstat(fh.fileno()).st_size, limit) + 1 if keep else 1 << 20  # a return: one read, no copy
    for chunk in read_chunks(fh.fileno(), limit + 1, first):
        digest.update(chunk)
        n += len(chunk)
        if keep:
            chunks.append(chunk)
    return digest.hexdigest(), n, b"".join(chunks)


def file_hash(path: str) -> str:
    """sha256 of a file's bytes exactly as collecting reads them; OSError for anything that is not a regular
    file, or is larger than collecting reads (such files are never read, only listed)."""
    limit = _read_limit(path)
    with open_regular(path) as fh:
        if os.fstat(fh.fileno()).st_size > limit:
            raise PastLimit(errno.EFBIG, "too large", path)
        digest, n, _ = _read_hashed(fh, limit, keep=False)
    if n > limit:
        raise PastLimit(errno.EFBIG, "too large", path)
    return digest


def prefetch(disks: Iterable[DiskFile]) -> None:
    """Ask the OS to start reading these files now (POSIX_FADV_WILLNEED), so that while a worker reads and
    checks one the next is already coming off the disk: on an inbox not in memory (the first run of a
    round, a network share) every read otherwise waits for the disk while the core idles. Only a hint:
    each file is opened as open_regular opens it (never a pipe or a device) and closed at once; anything
    that fails is left for the real read to answer."""
    if not hasattr(os, "posix_fadvise"):  # macOS, Windows: no such call
        return
    for disk in disks:
        if disk.reason or disk.size > _read_limit(disk.path):
            continue  # listed, never read
        try:
            with open_regular(disk.path) as fh:
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            continue


class _Window(io.RawIOBase):
    """The first `size` bytes of an open file: zipfile sees exactly the bytes that were hashed, however the
    file changes on disk meanwhile."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd, self._size, self._pos = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        os.lseek(self._fd, self._pos, os.SEEK_SET)
        chunk = os.read(self._fd, n)
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


# ---- budgets: what a file on disk and a whole run may cost ----------------------------------


class RunBudget:
    """Items and unzipped bytes the whole run may still spend, shared by its worker processes."""

    def __init__(self, items: int = MAX_RUN_ITEMS, unzipped: int = MAX_RUN_UNZIPPED, shared: bool = False) -> None:
        self._lock: AbstractContextManager[Any]
        if shared:  # the pool's workers inherit it, and all draw on the one figure
            left = _pool_context().Array("q", [items, unzipped])
            self._left: Any = left
            self._lock = left.get_lock()
        else:
            self._left, self._lock = [items, unzipped], nullcontext()

    def take(self, items: int, unzipped: int) -> str:
        """"" when the run can afford it (and it is spent), else why not."""
        with self._lock:
            if items > self._left[0]:
                return f"本次汇总的文件（连同压缩包里的文件）已超过 {MAX_RUN_ITEMS} 个"
            if unzipped > self._left[1]:
                return f"本次汇总解压的内容已超过 {_size(MAX_RUN_UNZIPPED)}"
            self._left[0] -= items
            self._left[1] -= unzipped
        return ""


@dataclass(slots=True)
class Budget:
    """What one file on disk may still cost, every zip level inside it together, drawn from the run's."""

    run: RunBudget
    items: int = field(default_factory=lambda: MAX_ZIP_MEMBERS)
    unzipped: int = field(default_factory=lambda: MAX_ZIP_UNZIPPED)
    deadline: float = field(default_factory=lambda: time.monotonic() + ZIP_SECONDS)

    def take(self, items: int, unzipped: int) -> str:
        """"" when it can be afforded (and it is spent), else why not."""
        if time.monotonic() > self.deadline:
            return f"读取这个压缩包已超过 {ZIP_SECONDS:.0f} 秒"
        if items > self.items:
            return f"这个压缩包（连同其中的压缩包）里的文件超过 {MAX_ZIP_MEMBERS} 个"
        if unzipped > self.unzipped:
            return f"这个压缩包（连同其中的压缩包）解压后超过 {_size(MAX_ZIP_UNZIPPED)}"
        why = self.run.take(items, unzipped)
        if not why:
            self.items -= items
            self.unzipped -= unzipped
        return why


_run_budget: RunBudget | None = None  # the run's, in a worker process or while a run reads in this one


@contextmanager
def _running(budget: RunBudget) -> Iterator[None]:
    global _run_budget
    before, _run_budget = _run_budget, budget
    try:
        yield
    finally:
        _run_budget = before


def _file_budget() -> Budget:
    return Budget(_run_budget if _run_budget is not None else RunBudget())


# ---- what a file holds ------------------------------------------------------------------------


class Source:
    """One file on disk, opened once: the items it holds, and the sha256 of exactly the bytes they came
    from ("" when it was not read: junk, listed, refused unread)."""

    def __init__(self, disk: DiskFile, budget: Budget | None = None) -> None:
        self.disk = disk
        self.budget = budget or _file_budget()
        self.sha256 = ""

    def items(self) -> Iterator[Item]:
        disk = self.disk
        if is_junk(disk.name):
            yield Item.refused(disk.name, R.JUNK())
            return
        if disk.reason:
            yield Item(disk.name, reason=disk.reason, code=disk.code, ignored=disk.code.startswith(R.IGNORED))
            return
        try:
            with open_regular(disk.path) as fh:
                yield from (self._zip(fh) if disk.name.lower().endswith(".zip") else self._file(fh))
        except NotRegular:
            yield Item.refused(disk.name, NOT_REGULAR())
        except OSError as exc:
            yield Item.refused(disk.name, R.CANNOT_OPEN(why=_why(exc)))

    def _file(self, fh: io.FileIO) -> Iterator[Item]:
        name, size = self.disk.name, os.fstat(fh.fileno()).st_size
        data = b""
        if size <= MAX_FILE_BYTES:
            digest, size, data = _read_hashed(fh, MAX_FILE_BYTES, keep=True)
            if size <= MAX_FILE_BYTES:
                self.sha256 = digest
        refused = not_a_workbook(name)
        if refused:
            yield Item.refused(name, refused)
        elif size > MAX_FILE_BYTES:
            yield Item.refused(name, R.TOO_LARGE(mb=size / 1048576))
        else:
            yield Item(name, data=data, sha256=digest)

    def _zip(self, fh: io.FileIO) -> Iterator[Item]:
        name, size, digest = self.disk.name, os.fstat(fh.fileno()).st_size, ""
        if size <= MAX_ZIP_BYTES:
            digest, size, _ = _read_hashed(fh, MAX_ZIP_BYTES, keep=False)
        if size > MAX_ZIP_BYTES:
            yield Item.refused(name, R.ZIP_TOO_LARGE(mb=size / 1048576))
            return
        self.sha256 = digest
        view = io.BufferedReader(_Window(fh.fileno(), size))
        if _directory_too_big(view):
            yield Item.refused(name, R.ZIP_DIRECTORY())
            return
        try:
            with zipfile.ZipFile(view) as zf:
                yield from _zip_items(zf, name, "", 1, self.budget)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            yield Item.refused(name, R.ZIP_DAMAGED())


def items_of(disk: DiskFile, budget: Budget | None = None) -> Iterator[Item]:
    """What one file on disk holds: itself, or each member of a zip (recursively)."""
    return Source(disk, budget).items()


def _directory_too_big(fh: BinaryIO) -> bool:
    """Whether a zip's central directory is too big to list: zipfile builds one object per entry
    before we could count them, so a forged directory of millions of entries is refused first."""
    try:
        end = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, end - 66_000))  # the end record sits in the last 64 KB (+ its comment)
        tail = fh.read()
        fh.seek(0)
    except OSError:
        return False  # let zipfile report the damage
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 16:
        return False
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory_bytes = int.from_bytes(tail[at + 12 : at + 16], "little")
    return entries > MAX_ZIP_MEMBERS or directory_bytes > MAX_ZIP_MEMBERS * 1024


def _suffix(name: str) -> str:
    """The lower-case suffix, as PurePosixPath gives it (at a tenth of the cost: a zip may hold 20,000 names)."""
    suffix = posixpath.splitext(name.replace("\\", "/"))[1].lower()
    return "" if suffix == "." else suffix


# The copy of its template a round keeps beside its manifest (issue/distribute.py): never a return, so a
# distribute folder used as an inbox lists it as ignored, not as a file that could not be read.
TEMPLATE_COPY_PREFIX = "下发模板_"
TEMPLATE_COPY_SUFFIX = ".yaml"


def is_template_copy(name: str) -> bool:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.startswith(TEMPLATE_COPY_PREFIX) and base.lower().endswith(TEMPLATE_COPY_SUFFIX)


def not_a_workbook(name: str) -> Reason | None:
    """Why a file with this name is not read at all (None when the reader should look at it)."""
    if is_template_copy(name):
        return R.TEMPLATE_COPY()
    suffix = _suffix(name)
    if suffix in _SPREADSHEET_SUFFIXES or not suffix.isascii() or len(suffix) > 6:
        return None  # "申报表.区教育局" has no real suffix: let the reader sniff it
    if suffix == ".lnk":  # what a shared Windows folder holds where a link would be
        return R.SHORTCUT()
    if suffix in (".rar", ".7z", ".gz", ".tar", ".tgz"):
        return R.OTHER_ARCHIVE(suffix=suffix)
    return R.NOT_SPREADSHEET(suffix=suffix)


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


def _zip_items(zf: zipfile.ZipFile, shown: str, prefix: str, depth: int, budget: Budget) -> Iterator[Item]:
    """Each member, as long as the budget lasts; then one item for the members not opened."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        yield Item.refused(shown, R.ZIP_TOO_MANY(count=len(infos)), prefix.rstrip("/"))
        return
    for n, info in enumerate(infos):
        member = _member_name(info)
        name = f"{shown}/{member}"
        inner = prefix + member
        refused: Reason | None
        if is_junk(member):
            refused = R.JUNK()
        elif not member.lower().endswith(".zip") and (refused := not_a_workbook(member)):
            pass
        elif info.flag_bits & 0x1:
            refused = R.MEMBER_ENCRYPTED()
        elif info.file_size > MAX_FILE_BYTES or (
                info.file_size > RATIO_FLOOR and info.file_size / max(info.compress_size, 1) > MAX_RATIO):
            refused = R.MEMBER_BOMB()
        else:
            refused = None
        why = budget.take(1, 0 if refused else info.file_size)  # a row of the report; the bytes it unzips to
        if why:
            yield Item.refused(shown, R.ZIP_NOT_OPENED(count=len(infos) - n, why=why), prefix.rstrip("/"))
            return
        if refused:
            yield Item.refused(name, refused, inner)
            continue
        try:
            with zf.open(info) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)  # bounded whatever the header claims
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
            yield Item.refused(name, R.MEMBER_DAMAGED(), inner)
            continue
        if member.lower().endswith(".zip"):
            yield from _nested(data, name, inner, depth, budget)
        else:
            yield Item(name, inner, data=data, modified=_member_time(info))


def _member_time(info: zipfile.ZipInfo) -> str:
    try:
        return datetime(*info.date_time).isoformat()
    except ValueError:  # a zip tool's 1980-00-00: no time to order by
        return ""


def _nested(data: bytes, name: str, inner: str, depth: int, budget: Budget) -> Iterator[Item]:
    if depth >= MAX_ZIP_DEPTH:
        yield Item.refused(name, R.ZIP_TOO_DEEP(depth=MAX_ZIP_DEPTH), inner)
        return
    view = io.BytesIO(data)
    if _directory_too_big(view):
        yield Item.refused(name, R.ZIP_DIRECTORY(), inner)
        return
    try:
        with zipfile.ZipFile(view) as inner_zf:
            yield from _zip_items(inner_zf, name, inner + "/", depth + 1, budget)
    except (zipfile.BadZipFile, ValueError, EOFError):
        yield Item.refused(name, R.ZIP_DAMAGED(), inner)


def _pool_context() -> Any:
    """fork where it is safe (Linux): workers start at once, and a caller's script is not re-imported
    (spawn would re-run an unguarded `__main__`). The first pool forks its workers at the first submit,
    before the progress bar starts its thread; pools started after a worker died fork beside that
    thread, which only draws the bar (a worker never prints, so never waits on the lock it may hold)."""
    import multiprocessing

    return multiprocessing.get_context("fork" if FORK else "spawn")
