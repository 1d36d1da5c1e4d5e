"""Sniff what a file really is from its first bytes, whatever its name says.

A clerk may send an encrypted workbook, an old .xls, a WPS .et, a Word file, a CSV or a web page
saved as .xlsx: each is refused with a sentence that names what it is, before any zip is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import refusals as R
from .refusals import Unreadable

if TYPE_CHECKING:
    from .package import Opening

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def sniff(o: Opening) -> None:
    """The first bytes: empty, OLE (encrypted / .xls / .et / .doc), CSV, HTML, …"""
    _sniff(o.path, o.data)


def _sniff(path: Path, data: bytes) -> None:
    suffix = path.suffix.lower()
    if not data:
        raise Unreadable(R.EMPTY)
    if data.startswith(OLE_MAGIC):
        # An OLE2 compound file: Office puts an encrypted .xlsx in one, under these stream names (UTF-16).
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in data:
            raise Unreadable(R.ENCRYPTED)
        if suffix in (".et", ".ett"):
            raise Unreadable(R.WPS_FORMAT)
        if b"W\x00o\x00r\x00d\x00D\x00o\x00c\x00u\x00m\x00e\x00n\x00t" in data:
            raise Unreadable(R.WORD_DOC)
        raise Unreadable(R.LEGACY_FORMAT)
    if data.startswith(ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return
    head = data[:2048]
    if suffix in (".et", ".ett"):
        raise Unreadable(R.WPS_FORMAT)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode 文本" export is UTF-16
        raise Unreadable(R.UNICODE_TEXT)
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if stripped[:5].lower() in (b"<?xml", b"<html", b"<!doc") or stripped[:6].lower() == b"<table":
        raise Unreadable(R.WEB_PAGE)
    text = b"\x00" not in head and (_decodes(head, "utf-8") or _decodes(head, "gb18030"))
    if text:
        raise Unreadable(R.TEXT)
    raise Unreadable(R.UNKNOWN_FORMAT)


def _decodes(head: bytes, encoding: str) -> bool:
    try:
        head.decode(encoding)
    except UnicodeDecodeError:
        # The 2 KB cut may split a multi-byte character: allow a short tail.
        try:
            head[:-4].decode(encoding)
        except UnicodeDecodeError:
            return False
    return True
