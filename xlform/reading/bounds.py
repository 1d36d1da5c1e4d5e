"""The bounds of each worksheet: how far its values reach.

python-calamine allocates the whole rectangle from A1 to the last value of a sheet: one value in
XFD1048576 is a 17-billion-cell grid and aborts the process. So every sheet part is bounded first,
by a few quick searches for the usual spelling of our sheets, else by an exact scan that places cells
as calamine does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import refusals as R
from .limits import MAX_SHEET_COLS, MAX_SHEET_ROWS, MAX_SHEET_TAGS
from .parts import refuse_huge_count
from .refusals import Unreadable
from .workbook_xml import SheetRef

if TYPE_CHECKING:
    from .package import Opening


def bound_sheets(o: Opening) -> None:
    """Each worksheet's extent: calamine allocates the whole rectangle from A1 to the last value."""
    o.given, o.cells_end = _check_sheets(o.xml.parts, o.sheets, o.xml.counts_unchecked)
    o.xml.counts_unchecked.clear()


def _check_sheets(parts: dict[str, bytes], sheets: list[SheetRef],
                  uncounted: list[str]) -> tuple[dict[str, bytes], dict[str, int]]:
    """Bound every worksheet calamine could be asked for (any part with <sheetData), named or not, as
    calamine is given it (given_to_calamine); the sheets given otherwise than as they are come back, with where
    their cells end in the part.
    First the declared counts of the sheets `uncounted`: where calamine gets only a sheet's cells, in the
    bytes before them, else in the whole part."""
    shown = {s.part: s.name for s in sheets}
    views = {part: given_to_calamine(whole) if part in shown else (whole, len(whole), 0)
             for part, whole in parts.items() if b"sheetData" in whole}
    for part in uncounted:
        whole = parts[part]
        refuse_huge_count(whole, part, views[part][1] if part in views else len(whole))
    given: dict[str, bytes] = {}
    cells_end: dict[str, int] = {}
    for part, (body, _, after) in views.items():
        whole = parts[part]
        where = f"工作表“{shown[part]}”" if part in shown else f"部件 {part}"
        if body is not whole:
            given[part] = body
        if after:
            cells_end[part] = after
        if clearly_within_limits(body):
            continue  # one search answers for every sheet of ours
        if body.count(b"<") > MAX_SHEET_TAGS:  # bounds the time sheet_extent may take
            raise Unreadable(R.SHEET_TOO_MANY_TAGS, where=where, limit=MAX_SHEET_TAGS)
        rows, cols = sheet_extent(body)
        if rows > MAX_SHEET_ROWS or cols > MAX_SHEET_COLS:
            last = f"第 {rows} 行" if rows > MAX_SHEET_ROWS else f"第 {cols} 列"
            raise Unreadable(R.SHEET_TOO_FAR, where=where, last=last, rows=MAX_SHEET_ROWS, cols=MAX_SHEET_COLS)
    return given, cells_end


_NO_MERGED_CELLS = b"<mergeCells></mergeCells>"


def given_to_calamine(body: bytes) -> tuple[bytes, int, int]:
    """(a worksheet as calamine is given it, how many of the part's first bytes to look for a declared count in,
    where its cells end in the part: 0 when they are not spelled the usual way).

    The bounds are checked on exactly the bytes given: the sheet's root tag, an empty <mergeCells>, and its
    cells, `<sheetData>…</sheetData>`. Half the bytes of a return's sheets are formats and validations around
    the cells, which calamine does not need; and python-calamine reads a sheet's merged cells (which nothing
    here uses) by parsing it a second time up to the first <mergeCells>, so one right at the start halves its
    work. Where the cells are spelled otherwise than every writer spells them (once, no prefix), everything
    after the root tag; where the start is (an XML declaration at most, then `<worksheet` with double-quoted
    attributes), the part as it is.

    No element inside sheetData has a count, and calamine reserves memory for none of a sheet's (its only such
    count is sharedStrings' uniqueCount): the count scan looks, where calamine gets only the cells, at the
    bytes before them (not given to calamine either, but a huge count there is a made file: refused all the
    same), else at the whole part. It then skips nine-tenths of a sheet."""
    at = body.find(b"<worksheet")
    end = body.find(b">", at)
    head, root = body[:at], body[at:end]
    if at < 0 or end < 0 or head.count(b"<") > (1 if head.startswith(b"<?xml") and head.rstrip().endswith(b"?>") else 0):
        return body, len(body), 0
    if root.count(b'"') % 2 or b"'" in root or b"<" in root[1:]:
        return body, len(body), 0  # a ">" inside an attribute value: not the end of the tag
    cells = body.find(b"<sheetData>", end)
    close = body.find(b"sheetData", cells + 2) if cells > 0 else -1
    if close < 0 or body.find(b"sheetData") != cells + 1 or not body.startswith(b"</sheetData>", close - 2):
        return body[: end + 1] + _NO_MERGED_CELLS + body[end + 1 :], len(body), 0
    after = close + len(b"sheetData>")
    return body[: end + 1] + _NO_MERGED_CELLS + body[cells:after] + b"</worksheet>", cells, after


_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(\s[^>]*?)?(/?)>")
_R_ATTR = re.compile(rb"""\sr\s*=\s*["']\s*([A-Za-z]{0,8})(\d{0,12})\s*["']""")
# Every cell's opening tag, in any spelling (prefix, whitespace), and the usual one: `<c r="B7"`.
_ANY_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_USUAL_CELL = re.compile(rb'<c r="[A-Z]{1,3}\d{1,7}"')
# Any cell tag (`<c` then white space, "/" or ">") other than `<c r="B7"`, B7 inside the limits (column
# ≤ CV, row ≤ 9999), followed only by the other attributes a cell has (s, t, cm, vm, ph), each after one
# space: a bare <c> or <c/>, odd white space, single quotes, a far or odd reference, or a second r
# (calamine takes the last one: `<c r="A4" r="XFD1048576">`). The literal "<c" start makes the engine
# jump between cell tags instead of trying every "<" of the sheet (half the time).
_SUSPECT_CELL = re.compile(
    rb'<c(?=[\s/>])(?! r="(?:[A-Z]|[AB][A-Z]|C[A-V])\d{1,4}"(?: (?:s|t|cm|vm|ph)="[^"]*+")*+/?>)')
# A cell tag with a namespace prefix (<x:c …>): rare, sent to the exact scan.
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
# An r attribute spelled otherwise: other white space before it, around "=", or single quotes.
# Written to start with the literal "r" (a fast scan); the look-behinds then check what precedes it.
_ODD_R = re.compile(rb"""r(?:(?<=[\t\n\r]r)\s*=|(?<=\sr)(?:\s+=|=\s|='))""")
# A usual cell that may hold a value: not self-closing.
_VALUE_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"[^>]*(?<!/)>')


def sheet_extent(body: bytes) -> tuple[int, int]:
    """(last row, last column), 1-based, of the cells in a sheet part that may hold a value.

    Mirrors how calamine places cells. Self-closing cells (<c r="XFD1" s="3"/>,
    formatting only) hold nothing and do not count.
    """
    if len(_ANY_CELL.findall(body)) != len(_USUAL_CELL.findall(body)) or not _only_usual_r(body):
        return _positional_extent(body)
    # Excel, WPS, LibreOffice and every library we know write `<c r="B7"` for every cell: C-speed scans only.
    found = _VALUE_CELL.findall(body)
    if not found:
        return 0, 0
    letters, digits = zip(*found, strict=True)
    return max(map(int, digits)), max(map(_col_number, set(letters)))


def clearly_within_limits(body: bytes) -> bool:
    """True when every cell is spelled `<c r="B7"` and none is beyond the limits: a few C-speed
    searches that answer for every sheet of ours, before the exact (slower) sheet_extent."""
    return not (_SUSPECT_CELL.search(body) or _PREFIXED_CELL.search(body))


def _only_usual_r(body: bytes) -> bool:
    """Every r attribute is the one right after `<c ` or `<row `. calamine takes the LAST r of a tag,
    so a second one (`<c r="A4" r="XFD1048576">`) must send the sheet to the exact, positional scan."""
    return body.count(b' r="') == body.count(b'<c r="') + body.count(b'<row r="') and not _ODD_R.search(body)


def _positional_extent(body: bytes) -> tuple[int, int]:
    """The same, for cells placed by position: r="B7", else the next column; a row's r="7", else the next row."""
    row = col = last_row = last_col = 0
    for m in _TAG.finditer(body):
        tag, attrs, empty = m.groups()
        found = list(_R_ATTR.finditer(attrs)) if attrs else []
        r = found[-1] if found else None  # the last r counts, as calamine reads it
        if tag == b"row":
            row = int(r.group(2)) if r and r.group(2) else row + 1
            col = 0
            continue
        if r and r.group(1):
            col = _col_number(r.group(1).upper())
            cell_row = int(r.group(2)) if r.group(2) else row
        else:
            col += 1
            cell_row = row
        if empty:
            continue
        last_row, last_col = max(last_row, cell_row), max(last_col, col)
        if last_row > MAX_SHEET_ROWS or last_col > MAX_SHEET_COLS:
            break
    return last_row, last_col


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n
