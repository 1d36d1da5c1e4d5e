"""The zip container, judged by its directory before anything is decompressed.

Entries, the sizes and ratios they claim (a zip bomb claims little and yields gigabytes),
duplicate names, encryption and compression methods; then what the names say the file is
(an .ods, an .xlsb, a Word or PowerPoint file, or a zip with no workbook in it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ooxml.ziparchive import DEFLATED, ENCRYPTED, STORED, BadZip, Member, TooManyMembers, directory, inflate
from . import refusals as R
from .limits import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_RATIO, MAX_UNZIPPED_BYTES, MAX_XML_BYTES, RATIO_FLOOR
from .refusals import Unreadable

if TYPE_CHECKING:
    from .package import Opening

_XML_SUFFIXES = (".xml", ".rels", ".vml")


def bound_zip(o: Opening) -> None:
    """The zip directory (entries, claimed sizes and ratios, methods), then what its names say it is."""
    try:
        members = directory(o.data, MAX_MEMBERS)
    except TooManyMembers as exc:
        raise Unreadable(R.TOO_MANY_PARTS, count=exc.args[0]) from None
    except BadZip:
        raise Unreadable(R.TRUNCATED) from None
    _check_zip(members)
    o.by_name = by_name = {m.name: m for m in members}
    mimetype = by_name.get("mimetype")
    if mimetype and mimetype.size < 1000 and b"opendocument" in inflate_member(o.data, mimetype):
        raise Unreadable(R.ODS_FORMAT)
    if "xl/workbook.xml" not in by_name:
        if "xl/workbook.bin" in by_name:
            raise Unreadable(R.XLSB_FORMAT)
        if "content.xml" in by_name and "META-INF/manifest.xml" in by_name:
            raise Unreadable(R.ODS_FORMAT)
        if any(n.startswith(("word/", "ppt/")) for n in by_name):
            raise Unreadable(R.OFFICE_DOC)
        raise Unreadable(R.NO_WORKBOOK)


def _check_zip(members: list[Member]) -> None:
    """Refuse by what the zip directory says, before decompressing anything."""
    if len({m.name.lower().replace("\\", "/").lstrip("/") for m in members}) != len(members):
        # Two entries of one name (in any case, with \ or a leading /: readers differ in how they fold
        # them): each reader may pick a different one.
        raise Unreadable(R.DUPLICATE_PARTS)
    total = 0
    for m in members:
        if m.flags & ENCRYPTED:
            raise Unreadable(R.ENCRYPTED_PARTS)
        if m.method not in (STORED, DEFLATED):
            # Excel, WPS and LibreOffice only deflate; bzip2/lzma are refused rather than trusted.
            raise Unreadable(R.COMPRESSION)
        total += m.size
        if m.size > MAX_MEMBER_BYTES or total > MAX_UNZIPPED_BYTES or _bomb_ratio(m):
            raise Unreadable(R.ZIP_BOMB)
        if m.name.lower().endswith(_XML_SUFFIXES) and m.size > MAX_XML_BYTES:
            raise _too_much(m.name, m.size)


def _bomb_ratio(m: Member) -> bool:
    return m.size > RATIO_FLOOR and m.size / max(m.compressed_size, 1) > MAX_RATIO


def _too_much(part: str, size: int) -> Unreadable:
    return Unreadable(R.PART_TOO_LARGE, part=part, mb=size / 1048576)


def inflate_member(data: bytes, member: Member) -> bytes:
    """One entry, decompressed (its size was bounded by the directory); a damaged one is a damaged file."""
    try:
        return inflate(data, member)
    except BadZip:
        raise Unreadable(R.DAMAGED) from None
