"""The zip container of an .xlsx, read and written straight from and to bytes.

A return is read thousands of times in a round, and zipfile's objects (a
ZipInfo per entry, a reader object per member) cost more than the inflating
itself. A workbook's zip is simple: one disk, no encryption, stored or
deflated members. This module reads exactly that and hands anything else
(Zip64 records) to zipfile, so the result is the same either way.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

try:  # zlib-ng inflates a return's parts twice as fast as the standard module, with the same interface
    from zlib_ng import zlib_ng as zlib
except ImportError:  # pragma: no cover - a platform without zlib-ng wheels: the standard module does the same
    import zlib  # type: ignore[no-redef]

STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
UTF8_NAMES = 0x800  # general-purpose flag: the name is UTF-8, not code page 437
ENCRYPTED = 0x1

_END = struct.Struct("<4s4H2IH")  # end of central directory record
_CENTRAL = struct.Struct("<4s6H3I5H2I")  # central directory entry, before its name
_LOCAL = struct.Struct("<4s5H3I2H")  # local file header, before its name
_END_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
_ZIP64_LOCATOR = b"PK\x06\x07"
_DOS_DATE_1980 = 0x21  # 1980-01-01, the zip epoch
_PLAIN_LIMIT = 0xFFFFFFFF  # sizes and offsets at or past this need Zip64 records


class BadZip(Exception):
    """The bytes are not a readable zip (truncated, inconsistent, a member that does not inflate)."""


class TooManyMembers(Exception):
    """The directory lists more members than the caller allows; args[0] is the count."""


@dataclass(slots=True)  # not frozen: a frozen dataclass is three times slower to build, and a return has ~15
class Member:
    name: str
    raw_name: bytes  # as stored: the local header must repeat it
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int  # uncompressed, as the directory claims
    header_offset: int  # of its local header
    dos_time: int = 0
    dos_date: int = 0


def directory(data: bytes, max_members: int) -> list[Member]:
    """The members the central directory lists, in its order. Raises BadZip or TooManyMembers."""
    at = data.rfind(_END_SIG, max(0, len(data) - _END.size - 0xFFFF))
    if at < 0 or len(data) - at < _END.size:
        raise BadZip
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _END.unpack_from(data, at)
    if data[max(0, at - 20) : at - 16] == _ZIP64_LOCATOR or 0xFFFF in (count, disk) or _PLAIN_LIMIT in (cd_size, cd_offset):
        return _zipfile_directory(data, max_members)
    if count > max_members:
        raise TooManyMembers(count)
    if disk or cd_disk:
        raise BadZip  # a multi-disk archive: no spreadsheet program writes one
    # Bytes before the archive (a self-extractor stub) shift every offset; zipfile allows this too.
    shift = at - cd_size - cd_offset
    if shift < 0:
        raise BadZip
    members, pos = [], cd_offset + shift
    try:
        for _ in range(count):
            (sig, _made, _need, flags, method, dos_time, dos_date, crc, csize, size, name_len, extra_len, comment_len,
             _disk, _internal, _external, offset) = _CENTRAL.unpack_from(data, pos)
            if sig != _CENTRAL_SIG:
                raise BadZip
            raw = data[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
            if _PLAIN_LIMIT in (csize, size, offset):
                return _zipfile_directory(data, max_members)
            if b"\0" in raw:
                raise BadZip  # zipfile cuts a name at NUL, other readers do not: two readers, two parts
            name = raw.decode("utf-8" if flags & UTF8_NAMES else "cp437")
            members.append(Member(name, raw, flags, method, crc, csize, size, offset + shift, dos_time, dos_date))
            pos += _CENTRAL.size + name_len + extra_len + comment_len
    except (struct.error, UnicodeDecodeError):
        raise BadZip from None
    if pos != cd_offset + shift + cd_size:
        raise BadZip  # the entries do not fill the directory the end record describes
    return members


def _zipfile_directory(data: bytes, max_members: int) -> list[Member]:
    """Zip64 records: let zipfile read the directory (counting entries first, as it builds one object each)."""
    if data.count(_CENTRAL_SIG) > max_members:
        raise TooManyMembers(data.count(_CENTRAL_SIG))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise BadZip from None
    if any("\0" in i.orig_filename for i in infos):
        raise BadZip
    return [Member(i.filename, i.orig_filename.encode("utf-8" if i.flag_bits & UTF8_NAMES else "cp437"), i.flag_bits,
                   i.compress_type, i.CRC, i.compress_size, i.file_size, i.header_offset, *_dos(i.date_time))
            for i in infos]


def _dos(date_time: tuple[int, ...]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def raw_member(data: bytes, member: Member) -> bytes:
    """A member's bytes as stored (a raw deflate stream, or the body itself). The local header must
    name the same part as the directory, or two zip readers could read two different parts."""
    at = member.header_offset
    try:
        sig, *_, name_len, extra_len = _LOCAL.unpack_from(data, at)
    except struct.error:
        raise BadZip from None
    if sig != _LOCAL_SIG or data[at + _LOCAL.size : at + _LOCAL.size + name_len] != member.raw_name:
        raise BadZip
    start = at + _LOCAL.size + name_len + extra_len
    raw = data[start : start + member.compressed_size]
    if len(raw) != member.compressed_size:
        raise BadZip
    return raw


def inflate(data: bytes, member: Member) -> bytes:
    """A member's bytes, never more than the size the directory claims: a header that lies, a stream
    that does not inflate or a wrong CRC all raise BadZip. The caller bounds member.size first."""
    raw = raw_member(data, member)
    if member.method == STORED:
        body = raw
    elif member.method == DEFLATED:
        stream = zlib.decompressobj(-15)
        try:
            body = stream.decompress(raw, member.size + 1)
        # zlib-ng's stub declares `error` an instance; at run time it is the exception class, as in the standard module
        except cast("type[Exception]", zlib.error):
            raise BadZip from None
        if not stream.eof:
            raise BadZip
    else:
        raise BadZip
    if len(body) != member.size or zlib.crc32(body) != member.crc:
        raise BadZip
    return body


def crc32(body: bytes) -> int:
    return zlib.crc32(body)


class TooLarge(Exception):
    """The archive would need Zip64 records (a member or the whole past 4 GiB), which write_zip does not write."""


@dataclass(slots=True)
class Entry:
    """A member to write, its bytes as they go into the zip (a raw deflate stream, or stored as is)."""

    name: str
    method: int
    crc: int
    size: int  # uncompressed
    data: bytes
    dos_time: int = 0
    dos_date: int = _DOS_DATE_1980


# zlib-ng's level 5 packs a 10,000-return report's sheets smaller than its level 6 (9.1 MB against 9.3) in
# two-thirds of the time (0.35 s against 0.52); the standard module's level 5 (no zlib-ng wheel) is 6% larger
# than its level 6, in three-quarters of the time.
_LEVEL = 5


def deflated(name: str, chunks: Iterable[bytes]) -> Entry:
    """A DEFLATED entry made from `chunks` as they come: the whole body is never in memory at once."""
    packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
    packed: list[bytes] = []
    crc = size = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        packed.append(packer.compress(chunk))
    packed.append(packer.flush())
    return Entry(name, DEFLATED, crc, size, b"".join(packed))


def copied(data: bytes, member: Member) -> Entry:
    """A member of another archive, as it is (not inflated and deflated again)."""
    return Entry(member.name, member.method, member.crc, member.size, raw_member(data, member),
                 member.dos_time, member.dos_date)


def write_zip(entries: Iterable[Entry]) -> bytes:
    """A plain (not Zip64) archive of entries whose bytes and CRC-32s are ready: written directly,
    ten times faster than zipfile's writer, and an archive this simple needs nothing more.
    Raises TooLarge past the 4 GiB that plain records can describe."""
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for e in entries:
        if max(e.size, offset + len(e.data)) >= _PLAIN_LIMIT:
            raise TooLarge
        name = e.name.encode()
        fixed = (UTF8_NAMES, e.method, e.dos_time, e.dos_date, e.crc, len(e.data), e.size, len(name))
        local = _LOCAL.pack(_LOCAL_SIG, 20, *fixed, 0) + name
        central.append(_CENTRAL.pack(_CENTRAL_SIG, 20, 20, *fixed, 0, 0, 0, 0, 0, offset) + name)
        chunks += (local, e.data)
        offset += len(local) + len(e.data)
    listing = b"".join(central)
    if offset + len(listing) >= _PLAIN_LIMIT or len(central) >= 0xFFFF:
        raise TooLarge
    end = _END.pack(_END_SIG, 0, 0, len(central), len(central), len(listing), offset, 0)
    return b"".join([*chunks, listing, end])


def stored_zip(parts: dict[str, bytes], crcs: dict[str, int]) -> bytes:
    """An uncompressed zip of `parts` whose CRC-32s are known."""
    return write_zip(Entry(name, STORED, crcs[name], len(body), body) for name, body in parts.items())
