"""How the form comes out on paper: characters per line, row heights, page breaks.

A merged cell never grows to fit its text in Excel, WPS or LibreOffice, and a
row never splits across pages, so the writer sizes every row itself and places
the page breaks. Sizes are estimated for the program that prints least per
line and per page (Excel or WPS with 宋体, LibreOffice with a fallback CJK font
such as Noto Sans CJK, measured here): what fits by these numbers fits in all.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

BODY_PT = 11  # the form's font size
MAX_ROW_PT = 409  # Excel's largest row height
PAD_PT = 4  # above and below the text inside a cell
ONE_LINE_PT = 18  # a one-line row of 11 pt text (LibreOffice sizes it to 17.15 pt)
LINE_FACTOR = 16 / 11  # one wrapped line: 16 pt for 11 pt text (Noto Sans CJK in LibreOffice; 宋体 needs less)

# A4 in points, and the margins the writer sets (0.6 in top and bottom, 0.5 in left and right).
A4 = (595.3, 841.9)
MARGIN_TB_PT, MARGIN_LR_PT = 0.6 * 72, 0.5 * 72
FIT_SAFETY = 0.98  # pages are filled to 98 % of the estimate at most


def is_wide(ch: str) -> bool:
    """CJK characters, full-width punctuation and the East Asian ambiguous ones (≠ ≥ ✓) take two units."""
    return unicodedata.east_asian_width(ch) in "WFA"


def text_units(text: str) -> int:
    """Width in column-width units at 11 pt: two for a wide character, one for any other."""
    return sum(2 if is_wide(ch) else 1 for ch in text)


def _room(width: float, size: float) -> float:
    """Usable units of a box `width` column units wide, in 11-pt units (one unit goes to cell padding)."""
    return max(width - 1, 1) * BODY_PT / size


def chars_per_line(width: float, size: float = BODY_PT) -> int:
    """Wide characters that always fit on one line of a box (columns or a merged range) `width` units wide."""
    return max(1, int(_room(width, size) // 2))


def text_lines(text: str, width: float, size: float = BODY_PT) -> int:
    """Lines a text wraps to in a box `width` units wide (each paragraph at least one)."""
    room = _room(width, size)
    return sum(max(1, math.ceil(text_units(part) / room)) for part in text.split("\n"))


def line_pt(size: float = BODY_PT) -> float:
    return math.ceil(size * LINE_FACTOR)


def lines_pt(lines: int, size: float = BODY_PT) -> float:
    """Row height for `lines` lines of text, capped at Excel's maximum. Whole pixels (0.75 pt), rounded up:
    the file stores heights in pixels and would otherwise round them down."""
    points = ONE_LINE_PT if lines <= 1 else max(ONE_LINE_PT, lines * line_pt(size) + PAD_PT)
    return min(_PIXEL * math.floor(MAX_ROW_PT / _PIXEL), _PIXEL * math.ceil(points / _PIXEL))


_PIXEL = 0.75


def limit_lines(limit: int, per_line: int) -> int:
    """Lines a text of at most `limit` counted characters can need, where each line break counts as a whole
    line (`per_line` characters, see limit_formula): every paragraph of p characters takes at most
    (p + per_line) / per_line lines, so all of them together at most limit / per_line + 1."""
    return limit // per_line + 1


def limit_pt(limit: int, per_line: int) -> float:
    return lines_pt(limit_lines(limit, per_line))


def max_limit(per_line: int) -> int:
    """The largest limit whose text still fits one row of Excel's maximum height."""
    lines = int((MAX_ROW_PT - PAD_PT) // line_pt())
    return lines * per_line - 1


def counted_length_formula(cell: str, per_line: int) -> str:
    """Excel: the length as limits count it, a line break (CHAR(10)) counting as a whole line."""
    breaks = f'(LEN({cell})-LEN(SUBSTITUTE({cell},CHAR(10),"")))'
    return f"LEN({cell})+{per_line - 1}*{breaks}"


def counted_length(text: str, per_line: int) -> int:
    """The same count in Python."""
    return len(text) + (per_line - 1) * text.count("\n")


# ---- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """How one kind of spreadsheet program lays out a printed sheet."""

    name: str
    unit_pt: float  # printed width of one column-width unit
    auto_row_pt: float  # a row the program sizes itself (one line of 11 pt text)


COLUMN_PAD_PT = 3.75  # each column's 5 pixels of padding
PROGRAMS = (
    Program("Excel / WPS", 5.25, 15.0),  # 7 pixels a unit at the least (宋体 gives 8)
    Program("LibreOffice", 6.0, 17.25),  # at least 8 pixels a unit; rows it fits to one line of Noto Sans CJK
)


def _budget(program: Program, widths: Sequence[float], landscape: bool) -> float:
    """Points of rows (at their own size) that fit one page, after fit-to-width scaling."""
    page_w, page_h = (A4[1], A4[0]) if landscape else A4
    sheet_w = sum(w * program.unit_pt + COLUMN_PAD_PT for w in widths)
    scale = min(1.0, (page_w - 2 * MARGIN_LR_PT) / sheet_w)
    return (page_h - 2 * MARGIN_TB_PT) / scale * FIT_SAFETY


def page_breaks(widths: Sequence[float], heights: Sequence[float | None], blocks: Sequence[tuple[int, int]],
                repeat_rows: int, landscape: bool) -> list[int]:
    """First rows of the second and later pages: whole blocks (rows first..last) go onto a page while
    they fit it in every program; rows 0..repeat_rows-1 are printed again at the top of each page.

    heights: each row's height, None for one the program sizes itself."""
    def tall(program: Program, first: int, last: int) -> float:
        return sum(program.auto_row_pt if h is None else h for h in heights[first:last + 1])

    budgets = [_budget(p, widths, landscape) for p in PROGRAMS]
    heading = [tall(p, 0, repeat_rows - 1) for p in PROGRAMS]
    used = list(heading)
    empty = True  # nothing but the repeated rows on this page yet
    breaks = []
    for first, last in blocks:
        need = [tall(p, first, last) for p in PROGRAMS]
        if not empty and any(u + n > b for u, n, b in zip(used, need, budgets, strict=True)):
            breaks.append(first)
            used = list(heading)
        used = [u + n for u, n in zip(used, need, strict=True)]
        empty = False
    return breaks
