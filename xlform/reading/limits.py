"""The size limits of a returned file, in one place, and the first of them: the file's own size.

Every defence that bounds something (the zip directory, each XML part, each sheet) takes its number
from here, and so does the inbox that lists files before reading them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from . import refusals as R
from .refusals import Unreadable

if TYPE_CHECKING:
    from .package import Opening

# Limits. A real return is ~25 KB zipped and ~80 KB unzipped (a few MB with
# 32,767-character texts), with fewer than 200 rows and 20 columns a sheet.
MAX_FILE_BYTES = 50 * 1024 * 1024  # the file itself (a pasted photo can make a return a few MB)
MAX_MEMBERS = 2000  # zip entries (a return has ~15)
MAX_MEMBER_BYTES = 100 * 1024 * 1024  # what one entry claims unzipped
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # what all entries claim together
MAX_RATIO = 200  # unzipped / zipped, for entries over RATIO_FLOOR (XML parts of a return: 3-10)
RATIO_FLOOR = 1024 * 1024
MAX_XML_BYTES = 16 * 1024 * 1024  # one XML part, as really decompressed
MAX_XML_TOTAL = 32 * 1024 * 1024  # all XML parts together, as really decompressed
MAX_TREE_TAGS = 500_000  # parts parsed into a tree (workbook.xml, .rels, styles.xml): bounds memory
MAX_SHEET_ROWS = 10_000  # last row holding a value
MAX_SHEET_COLS = 100  # last column holding a value (CV); with the rows: ≤ 1,000,000 cells, ~40 MB
MAX_SHEET_TAGS = 500_000  # XML tags ("<") in one sheet part (a sheet of ours has ~3,000)


def file_bytes(path: Path) -> bytes:
    """The file's bytes, never more than MAX_FILE_BYTES + 1 of them."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # no file object: one return, one read
        try:
            size = os.fstat(fd).st_size
            # Never more than the limit, even from a file that grows while we read it or a pipe or
            # device (whose size reads 0); the bytes it claims, when it claims any, in one read.
            data = b"".join(read_chunks(fd, MAX_FILE_BYTES + 1, size + 1)) if size <= MAX_FILE_BYTES else b""
        finally:
            os.close(fd)
    except OSError as exc:
        raise Unreadable(R.CANNOT_OPEN, why=exc.strerror or exc) from None
    if size > MAX_FILE_BYTES:
        raise Unreadable(R.TOO_LARGE, mb=size / 1048576)
    return data


def read_chunks(fd: int, n: int, first: int) -> Iterator[bytes]:
    """At most n bytes of an open file, until its end: `first` of them in the first read (the size the file
    claims and one more, to see its end: a return in one read), then a MiB at a time (a pipe, a file that
    grows, one of /proc's whose size reads 0). Joined, one chunk is itself, not a copy."""
    want = first
    while n > 0:
        chunk = os.read(fd, min(want, n))
        if not chunk:
            return
        yield chunk
        n -= len(chunk)
        want = 1 << 20


def bound_file(o: Opening) -> None:
    """The file's size, also when its bytes were handed over rather than read here."""
    if len(o.data) > MAX_FILE_BYTES:
        raise Unreadable(R.TOO_LARGE, mb=len(o.data) / 1048576)
