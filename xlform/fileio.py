"""Writing output files so that a crash never leaves half a file behind."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

_REASONS = {
    errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限", errno.EROFS: "磁盘或文件夹是只读的",
    errno.ENOSPC: "磁盘空间不足", errno.EDQUOT: "磁盘配额已用完", errno.ENOTDIR: "路径中有一段是文件而不是文件夹",
    errno.ENAMETOOLONG: "路径或文件名过长", errno.ENOENT: "路径不存在",
    errno.EEXIST: "路径中有一段已是文件（要建的文件夹与它同名）", errno.EISDIR: "这是一个文件夹",
}


def os_reason(exc: OSError) -> str:
    """Why the system refused, as a clerk would say it (the system's own words only for the rare rest)."""
    return _REASONS.get(exc.errno or 0) or f"系统提示：{exc.strerror or exc}"


def _current_umask() -> int:
    # The only portable way to read the umask is to set it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode(target: Path) -> int:
    """The permissions `open(target, "w")` would give: an existing file keeps its own, a new one gets
    0666 less the user's umask. (mkstemp creates 0600, which colleagues on a shared drive cannot open.)"""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one step.

    On any error (or Ctrl-C) the temporary file is removed and `target`, if it
    existed, is left exactly as it was. The result has the permissions a normal write would give.
    """
    target = _writable_target(Path(target))
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"无法创建输出文件夹 {folder}：{os_reason(exc)}；请换一个输出位置。") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise UserError(f"无法在文件夹 {folder} 中写入文件：{os_reason(exc)}；请换一个输出位置。") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, normal_mode(target))
        try:
            os.replace(tmp_path, target)
        except PermissionError:  # the folder took a new file, so it is this one that is held
            raise UserError(f"无法替换 {target}：文件可能正在 Excel/WPS 中打开，请关闭后重试。") from None
        except IsADirectoryError:
            raise UserError(f"无法写入 {target}：这是一个文件夹；请给出文件名。") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _writable_target(target: Path) -> Path:
    """The regular file an output goes to. A symbolic link is written through (the file it points at is
    replaced, the link stays); a device, pipe or socket (/dev/stdout, a FIFO) is refused: replacing it would
    swap it for a plain file (as root, a system device), writing into it would not be atomic."""
    if os.path.islink(target):
        target = Path(os.path.realpath(target))  # a link to a file not yet there: created where the link points
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise UserError(f"无法写入 {target}：{os_reason(exc)}；请换一个输出位置。") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"无法写入 {target}：这是一个文件夹；请给出文件名。")
    if not stat.S_ISREG(mode):
        raise UserError(f"无法写入 {target}：这不是普通文件（是设备、管道或套接字）；请给出一个文件名。")
    return target


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


class FileTooLarge(Exception):
    """A file past the size its reader accepts."""


def read_limited(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file, in one bounded read whatever its size claims (it may grow
    while read). Raises FileTooLarge past the limit, and OSError for what is not a regular file (a pipe would
    block, a device never end)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise IsADirectoryError(21, "不是普通文件", str(path))
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(limit)
    return data


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a link loop
        return Path(os.path.abspath(path))


def same_file(a: Path, b: Path) -> bool:
    """One file: by resolved path, or by inode when both exist (a hard link, another mount of the folder)."""
    return _resolved(a) == _resolved(b) or (_identity(a) is not None and _identity(a) == _identity(b))


def refuse_overwriting_inputs(outputs: list[tuple[Path, str]], inputs: list[tuple[Path, str]]) -> None:
    """No command writes over what it reads, nor into a folder it reads: each output (path, what it is)
    is compared with each input (path, what it is) by resolved path and by inode, before anything is
    written. A folder input also covers everything below it (a report written among the returns would
    be read back next time as a return)."""
    for output, made in outputs:
        target = _resolved(output)
        for given, what in inputs:
            source = _resolved(given)
            if same_file(output, given):
                raise UserError(f"{made} {output} 就是要读取的{what}（{given}）；xlform 从不覆盖输入的文件，"
                                "请换一个输出文件名。")
            if Path(given).is_dir() and target.is_relative_to(source):
                raise UserError(f"{made} {output} 不能放在{what} {given} 里：要读取的文件夹只读不写，"
                                "否则下次会把它当成交来的文件。请换一个位置。")
