"""The report's data rows, written straight as worksheet XML into a workbook xlsxwriter made.

xlsxwriter spends about 6 µs on a cell; the report of 10,000 returns holds 1.6 million
of them, which was half the time of `xlform report`, all of it in one process. So
xlsxwriter writes each sheet's frame (header, column widths, print setup, filter,
totals, conditional formats, the chart) with one probe row of sample values, and
here that probe row is replaced by the real rows, ten times faster.

It also keeps every text a text: xlsxwriter writes a string that starts with
"<r>" and ends with "</r>" into the file as raw XML (a rich string), so a clerk's
project name could have put a formula into the bureau's report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..forking import FORK
from .cellref import column_letters
from .xmltext import t_element
from .ziparchive import Entry, copied, deflated, directory, inflate, write_zip

# The probe row: one value of each column kind, so xlsxwriter puts each column's style on a cell.
PROBE = {"text": "x", "input": "x", "wrapped": "x",
         "money": 0, "int": 0, "number": 0, "date": date(2000, 1, 1), "datetime": datetime(2000, 1, 1)}
PROBE_ROW = 2  # 1-based: right under the header row

_EPOCH_DAY = date(1899, 12, 31)  # serial 0
_LEAP_BUG = date(1900, 3, 1)  # from here on Excel counts one day more (its phantom 1900-02-29)
_ROWS_PER_CHUNK = 2000  # rows joined and compressed at a time: memory stays flat


@dataclass
class SheetRows:
    """The rows to put in one worksheet part, and each column's kind (a key of PROBE)."""

    kinds: list[str]
    rows: Sequence[Sequence[Any]]

    @property
    def cells(self) -> int:
        """What writing it costs, about: a sheet of 19 columns takes twice as long a row as one of 10."""
        return len(self.rows) * len(self.kinds)


def fill_rows(path: Path, sheets: dict[str, SheetRows], jobs: int = 1) -> None:
    """Rewrite the workbook at `path` with each named worksheet part's probe row replaced by its rows
    (styled as the probe row's cells are); every other part is copied as it is. With `jobs` > 1 and rows
    enough, the sheets are written side by side in forked processes (Linux)."""
    data = path.read_bytes()
    members = directory(data, 10_000)
    missing = set(sheets) - {m.name for m in members}
    if missing:
        raise ValueError(f"no worksheet part {sorted(missing)} in {path}")
    frames = {m.name: inflate(data, m) for m in members if m.name in sheets}
    written = _written(frames, sheets, jobs)
    path.write_bytes(write_zip(written[m.name] if m.name in sheets else copied(data, m) for m in members))


# Below this many rows in all a report is written in one process: a fork costs more than it saves.
PARALLEL_ROWS = 20_000
# The sheets a forked writer renders: set just before the fork, so a child has them without a copy.
_TO_WRITE: tuple[dict[str, bytes], dict[str, SheetRows]] | None = None


def _written(frames: dict[str, bytes], sheets: dict[str, SheetRows], jobs: int) -> dict[str, Entry]:
    """Each sheet's part, rows in place and compressed. The sheets of a report are independent, and its
    writing was otherwise the one long step of `xlform report` left in a single process: with `jobs` > 1
    they are shared out by cells between this process and jobs - 1 forked ones (each fork counts the
    parent's memory again in its own resident size, so no more of them than cores beside this one)."""
    global _TO_WRITE
    if jobs < 2 or len(sheets) < 2 or sum(len(s.rows) for s in sheets.values()) < PARALLEL_ROWS \
            or not FORK:  # elsewhere a worker would start a fresh interpreter
        return {n: _sheet_entry(n, frames[n], sheets[n]) for n in sheets}
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: imported only where it is used
    from multiprocessing import get_context

    lanes: list[list[str]] = [[] for _ in range(min(jobs, len(sheets)))]  # lane 0: this process
    load = [0] * len(lanes)
    for name in sorted(sheets, key=lambda n: -sheets[n].cells):  # the largest first, to the lightest lane
        lane = load.index(min(load))
        lanes[lane].append(name)
        load[lane] += sheets[name].cells
    _TO_WRITE = (frames, sheets)
    try:
        with ProcessPoolExecutor(max_workers=len(lanes) - 1, mp_context=get_context("fork")) as pool:
            forked = [pool.submit(_forked_entries, names) for names in lanes[1:]]
            written = {n: _sheet_entry(n, frames[n], sheets[n]) for n in lanes[0]}
            for future in forked:
                written.update(future.result())
            return written
    finally:
        _TO_WRITE = None


def _forked_entries(names: list[str]) -> dict[str, Entry]:
    assert _TO_WRITE is not None, "set before the fork"
    frames, sheets = _TO_WRITE
    return {n: _sheet_entry(n, frames[n], sheets[n]) for n in names}


def _sheet_entry(name: str, frame: bytes, sheet: SheetRows) -> Entry:
    return deflated(name, _filled(frame, sheet))


_PROBE = re.compile(rb'<row r="%d"[ >]' % PROBE_ROW)
_PROBE_CELL = re.compile(rb'<c r="([A-Z]+)%d"( s="\d+")?' % PROBE_ROW)
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"/>')


def _filled(body: bytes, sheet: SheetRows) -> Iterator[bytes]:
    probe = _PROBE.search(body)
    if probe is None:
        raise ValueError("the worksheet has no probe row")
    start, end = probe.start(), body.index(b"</row>", probe.start()) + len(b"</row>")
    styles = {col.decode(): style.decode() for col, style in _PROBE_CELL.findall(body[start:end])}
    last_row = len(sheet.rows) + PROBE_ROW - 1

    def dimension(m: re.Match[bytes]) -> bytes:  # the used range now reaches the last row
        bottom = max(last_row, int(m.group(1) or 1))
        return b'<dimension ref="A1:%s%d"/>' % (column_letters(len(sheet.kinds) - 1).encode(), bottom)

    yield _DIMENSION.sub(dimension, body[:start], count=1)
    yield from _rows_xml(sheet, styles)
    yield body[end:]


def _rows_xml(sheet: SheetRows, styles: dict[str, str]) -> Iterator[bytes]:
    kept = _Kept()  # one sheet's short texts as XML: its departments, levels, states … repeat
    columns = []
    for c, kind in enumerate(sheet.kinds):
        letters = column_letters(c)
        style = styles.get(letters, "")
        texts: dict[str, str] = {}  # this column's kept texts: the cell's XML after its row number
        columns.append((f'<c r="{letters}', texts, _cell_writer(kind, letters, style, _text_cell(style, texts, kept))))
    out: list[str] = []
    add = out.append
    for n, row in enumerate(sheet.rows, start=PROBE_ROW):
        number = str(n)
        add(f'<row r="{number}">')
        for (head, texts, write), v in zip(columns, row, strict=False):
            if v is None or v == "":
                continue
            after = texts.get(v) if v.__class__ is str else None
            add(head + number + after if after is not None else write(v, number))  # a kept text: no call
        add("</row>")
        if n % _ROWS_PER_CHUNK == 0:
            yield "".join(out).encode()
            out.clear()
    yield "".join(out).encode()


def _cell_writer(kind: str, col: str, style: str, text: Callable[[Any], str]) -> Callable[[Any, str], str]:
    """A function (value, row number) → the cell's XML, for a column of this kind (`text`: as a text)."""
    if kind in ("text", "input", "wrapped"):  # input: a reviewer types it (unlocked); wrapped: a paragraph
        return lambda v, n: f'<c r="{col}{n}{text(v)}'
    if kind in ("date", "datetime"):
        as_date = kind == "date"

        def when(v: Any, n: str) -> str:
            serial = _serial(v, as_date)
            if serial is None:  # before 1900, or not a date at all: kept as text
                return f'<c r="{col}{n}{text(v.isoformat() if isinstance(v, date) else str(v))}'
            return f'<c r="{col}{n}"{style}><v>{serial}</v></c>'
        return when

    def number(v: Any, n: str) -> str:
        value = _number(v)
        return f'<c r="{col}{n}{text(str(v))}' if value is None else f'<c r="{col}{n}"{style}><v>{value}</v></c>'
    return number


# Texts up to this long are escaped once per sheet (kept), up to this many of them: memory stays small.
_KEPT_TEXT, _KEPT_TEXTS = 100, 20_000


class _Kept:
    """The texts a sheet keeps, all its columns together. When there are _KEPT_TEXTS of them all are let go
    and keeping starts again: what recurs (a department, a level) is soon kept again, and so is what a return
    repeats on each of its rows (its file, its form id), which a sheet of 10,000 returns has 30,000 of."""

    def __init__(self) -> None:
        self.count = 0
        self.columns: list[dict[str, str]] = []

    def keep(self, texts: dict[str, str], v: str, after: str) -> None:
        if self.count >= _KEPT_TEXTS:
            for column in self.columns:
                column.clear()
            self.count = 0
        texts[v] = after
        self.count += 1


def _text_cell(style: str, texts: dict[str, str], kept: _Kept) -> Callable[[Any], str]:
    """A function value → a text cell's XML after `<c r="B7` (its style, its text); a short text is
    kept in the column's `texts`, which the row loop looks in first."""
    kept.columns.append(texts)

    def cell(v: Any) -> str:
        after = f'"{style} t="inlineStr"><is>{t_element(v if isinstance(v, str) else str(v))}</is></c>'
        if type(v) is str and len(v) <= _KEPT_TEXT:  # a subclass (an enum) may show otherwise than its value
            kept.keep(texts, v, after)
        return after
    return cell


def _number(v: Any) -> str | None:
    """A number as a cell value; None for what a cell cannot hold as a number (∞, NaN, not a number)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, int):
        return str(v)
    return repr(v).upper() if math.isfinite(v) else None


def _serial(v: Any, as_date: bool) -> int | float | None:
    """Excel's serial day number (1 = 1900-01-01, with Excel's phantom 1900-02-29); None before 1900."""
    if not isinstance(v, date) or v.year < 1900:
        return None
    day = date(v.year, v.month, v.day)
    whole = (day - _EPOCH_DAY).days + (1 if day >= _LEAP_BUG else 0)
    if as_date or not isinstance(v, datetime):
        return whole
    return whole + (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6) / 86400

