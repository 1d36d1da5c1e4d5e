"""What styles.xml says about a cell's number format: shown as a percent, as a date or time, or neither.

python-calamine is never given styles.xml (package.py): it then converts no cell to a date, so no value,
however absurd (-1E+30 typed into a date cell), can make it fail, and it has less to parse. The few
places where the format matters ask here instead: a number in a 目标值 cell formatted as a percent
(1 shown as 100%), and a number in a text field formatted as a date (shown as 2026-01-01, read so).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum

from defusedxml import ElementTree as SafeET

from ..form.values import MAX_SERIAL, serial_date
from .limits import MAX_TREE_TAGS

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


class Shown(Enum):
    """How a number format shows a number, as far as reading it is concerned."""

    NUMBER = "number"
    PERCENT = "percent"
    DATE = "date"  # a date, a time of day, or both
    DURATION = "duration"  # [h]:mm: hours past 24


# Built-in number formats (ECMA-376 18.8.30; 27–36 and 50–58 are the East Asian date formats).
_BUILTIN_PERCENT = frozenset({9, 10})
_BUILTIN_DATE = frozenset({*range(14, 23), 45, 47, *range(27, 37), *range(50, 59)})
_BUILTIN_DURATION = frozenset({46})


def format_shows(code: str) -> Shown:
    """What a custom format code shows: its first section, outside quoted text, escapes and [brackets]."""
    quoted = escaped = False
    depth = 0
    bracket = ""
    for ch in code:
        if escaped:
            escaped = False
        elif quoted:
            quoted = ch != '"'
        elif ch in "\\_*":  # \x and _x and *x: the next character is literal or padding
            escaped = True
        elif ch == '"':
            quoted = True
        elif ch == ";":
            break
        elif ch == "[":
            depth, bracket = depth + 1, ""
        elif ch == "]":
            depth = max(0, depth - 1)
            if bracket and set(bracket.lower()) <= set("hms") and len(set(bracket.lower())) == 1:
                return Shown.DURATION  # [h], [mm], [ss]: elapsed time
        elif depth:
            bracket += ch
        elif ch in "yYmMdDhHsS":
            return Shown.DATE
        elif ch == "%":
            return Shown.PERCENT
    return Shown.NUMBER


@dataclass(frozen=True)
class CellStyles:
    """How each cell style (an index into cellXfs, a cell's s attribute) shows a number."""

    shown: tuple[Shown, ...]

    def of(self, index: int) -> Shown:
        return self.shown[index] if 0 <= index < len(self.shown) else Shown.NUMBER

    @functools.cached_property
    def dated(self) -> tuple[int, ...]:
        """The styles that show a number as a date, a time or a duration."""
        return tuple(i for i, s in enumerate(self.shown) if s in (Shown.DATE, Shown.DURATION))


def date_cells(sheet: bytes, styles: CellStyles) -> frozenset[str]:
    """The cells of a sheet part whose format shows a date (B7, …): a number pasted there with its format
    is a date, never an amount. One C-speed find per date style answers for most sheets, and each cell
    found is named from the `<c r="…"` its attribute belongs to."""
    found = set()
    for index in styles.dated:
        needle = b' s="%d"' % index
        at = sheet.find(needle)
        while at >= 0:
            start = sheet.rfind(b'<c r="', 0, at)
            if start >= 0 and sheet.find(b">", start, at) < 0:  # the attribute of that very tag
                found.add(sheet[start + 6 : sheet.find(b'"', start + 6)].decode("ascii", "replace"))
            at = sheet.find(needle, at + len(needle))
    return frozenset(found)


def cell_styles(body: bytes) -> CellStyles:
    """The styles of a styles.xml part (checked by parts.py); read once per distinct part."""
    found = _SEEN.get(body)
    if found is None:
        found = _parse(body)
        if len(body) <= _SEEN_BYTES:
            if len(_SEEN) >= _SEEN_MAX:
                _SEEN.pop(next(iter(_SEEN)))
            _SEEN[body] = found
    return found


# The returns of a round share styles.xml byte for byte: what it says is a function of its bytes.
_SEEN: dict[bytes, CellStyles] = {}
_SEEN_BYTES = 512 * 1024
_SEEN_MAX = 32


def _parse(body: bytes) -> CellStyles:
    if not body or body.count(b"<") > MAX_TREE_TAGS:
        return CellStyles(())
    try:
        root = SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 - a damaged styles part: numbers are then shown as numbers
        return CellStyles(())
    custom = {_int(n.get("numFmtId")): format_shows(n.get("formatCode") or "") for n in root.iter(f"{NS_MAIN}numFmt")}
    xfs = root.find(f"{NS_MAIN}cellXfs")
    shown = []
    for xf in xfs if xfs is not None else []:
        fmt = _int(xf.get("numFmtId"))
        if fmt in custom:
            shown.append(custom[fmt])
        elif fmt in _BUILTIN_PERCENT:
            shown.append(Shown.PERCENT)
        elif fmt in _BUILTIN_DATE:
            shown.append(Shown.DATE)
        elif fmt in _BUILTIN_DURATION:
            shown.append(Shown.DURATION)
        else:
            shown.append(Shown.NUMBER)
    return CellStyles(tuple(shown))


def _int(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return -1


_STYLE_ATTR = re.compile(rb'[^>]*?\ss\s*=\s*["\'](\d+)["\']')


def style_of(sheet: bytes, address: str) -> int | None:
    """The s attribute of the cell at `address` (B7) in a sheet part, None when it has none or is not found."""
    tag = b'<c r="' + address.encode() + b'"'
    at = sheet.find(tag)  # a C-speed jump to the one cell: the closing quote keeps B7 from matching B70
    if at < 0:
        return None
    m = _STYLE_ATTR.match(sheet, at + len(tag))
    return int(m.group(1)) if m else None


def as_shown(serial: float, shown: Shown) -> date | datetime | time | timedelta | float:
    """A number (a serial of the 1900 date system) as a cell of that format shows it — what calamine would
    have handed back for a date-formatted cell — else the number itself. Excel keeps milliseconds."""
    if not math.isfinite(serial) or not -MAX_SERIAL <= serial <= MAX_SERIAL:
        return serial  # no calendar holds it: Excel shows ##### and the number is what there is
    if shown is Shown.DURATION:
        return timedelta(milliseconds=round(serial * _MS_PER_DAY))
    if shown is not Shown.DATE or serial < 0:
        return serial
    days, ms = divmod(round(serial * _MS_PER_DAY), _MS_PER_DAY)
    of_day = (datetime.min + timedelta(milliseconds=ms)).time()
    if days == 0:
        return of_day  # a time of day only
    day = serial_date(days)
    return day if ms == 0 else datetime.combine(day, of_day)


_MS_PER_DAY = 86_400_000
