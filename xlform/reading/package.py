"""Open a returned .xlsx safely: the defences, in order, and the Package they hand the reader.

Nothing here executes, fetches or recalculates anything in the file. What the
reader needs from the XML (sheet list, defined names, protection flags, a
cell's number format) is read straight from the parts, and every refusal is
an `Unreadable` with one Chinese sentence a clerk understands and its code (refusals.py).

The defences are `STEPS`, run in order by open_package, cheapest first, each before anything bigger
is parsed; each lives in a module of its own:
1. `limits.bound_file`: the file's size (limits.py holds every limit);
2. `sniff.sniff`: the first bytes (empty, OLE = encrypted/.xls/.et, CSV, HTML, …);
3. `container.bound_zip`: the zip directory (entries, claimed sizes and ratios, methods);
4. `parts.load_structure`, `workbook_xml.read_workbook_xml`, `parts.load_sheets`: decompress each XML
   part needed with a cap on the bytes it really yields (headers can lie), refusing DTDs and UTF-16,
   and read the sheets, defined names and protection from workbook.xml;
5. `bounds.bound_sheets`: each worksheet's extent (last row / column holding a value), because
   python-calamine allocates the whole rectangle from A1 to the last value;
6. calamine only ever sees a fresh zip of exactly the parts checked here (Package.calamine_zip), so
   a zip that Python's and Rust's zip readers would read differently cannot
   slip an unchecked part past us; and never styles.xml, so it converts no value to a date and no
   value can make it fail (styles.py answers where a cell's format matters).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..ooxml.ziparchive import Member, crc32, stored_zip
from . import bounds, container, limits, parts, sniff, styles, workbook_xml
from .parts import XmlParts
from .styles import Shown
from .workbook_xml import SheetRef

_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b[^>]*>")
_SHEET_LOCKED = re.compile(rb'\bsheet="(1|true)"')


@dataclass
class Package:
    path: Path
    sheets: list[SheetRef]
    names: dict[str, str]  # workbook-level defined names → formula text
    structure_locked: bool
    has_macros: bool
    external_links: bool
    parts: dict[str, bytes] = field(default_factory=dict, repr=False)  # every XML part, checked
    crcs: dict[str, int] = field(default_factory=dict, repr=False)  # their CRC-32s, verified
    date1904: bool = False  # the workbook counts dates from 1904-01-01 (Excel for Mac)
    given: dict[str, bytes] = field(default_factory=dict, repr=False)  # worksheets as calamine gets them (bounds.py)
    cells_end: dict[str, int] = field(default_factory=dict, repr=False)  # where each one's cells end in its part

    def sheet(self, name: str) -> SheetRef | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, SheetRef]:
        """The sheets by name, the first of a name winning (asked for a few dozen times a return)."""
        found: dict[str, SheetRef] = {}
        for s in self.sheets:
            found.setdefault(s.name, s)
        return found

    def read_part(self, part: str) -> bytes:
        """A checked XML part (KeyError when the file has none by that name)."""
        return self.parts[part]

    def calamine_zip(self) -> bytes:
        """The checked XML parts as a fresh, uncompressed zip: all python-calamine ever parses.

        Without styles.xml: calamine then converts no number to a date (it fails on a serial no
        calendar holds, -1E+30 typed into a date cell, printing a Rust panic), and the reader asks
        styles.py where a cell's format matters. The defined names are cut out of its workbook.xml: they
        are read here, and calamine would parse them again for nothing (a fifth of its work when it opens
        a return). Each worksheet exactly as the bounds were checked on it: its cells after an empty list of
        merged cells, without the formats and validations around them (bounds.given_to_calamine)."""
        parts = {n: b for n, b in self.parts.items() if not n.lower().endswith("styles.xml")}
        changed = dict(self.given)
        book = parts.get("xl/workbook.xml", b"")
        start, end = book.find(b"<definedNames>"), book.find(b"</definedNames>")
        if 0 < start < end:
            changed["xl/workbook.xml"] = book[:start] + book[end + len(b"</definedNames>") :]
        parts.update(changed)
        return stored_zip(parts, {**self.crcs, **{n: crc32(b) for n, b in changed.items()}})

    def sheet_cells(self, name: str) -> bytes | None:
        """The bytes of a worksheet that hold its cells: as calamine is given it (only `<sheetData>`, half the
        part), else the whole part. A cell's style is looked up here: no cell stands outside sheetData."""
        ref = self.sheet(name)
        if ref is None:
            return None
        return self.given.get(ref.part) or self.parts.get(ref.part)

    def sheet_protected(self, name: str) -> bool:
        ref = self.sheet(name)
        body = self.parts.get(ref.part) if ref is not None else None
        if ref is None or body is None:
            return False
        # find() first: a C-speed jump to the one tag, where a regex would try every "<" of the sheet. The
        # schema puts it right after the cells (every program writes it there): looked for from there, not
        # through them, where the cells were found the usual way.
        at = body.find(b"sheetProtection", self.cells_end.get(ref.part, 0))
        tag = _PROTECTION.search(body, max(0, at - 64)) if at >= 0 else None
        return bool(tag and _SHEET_LOCKED.search(tag.group(0)))

    def shown(self, sheet: str, address: str) -> Shown:
        """How the number format of the cell at `address` shows a number (percent, date, …)."""
        body = self.sheet_cells(sheet)
        index = styles.style_of(body, address) if body is not None else None
        return self._cell_styles().of(index) if index is not None else Shown.NUMBER

    def date_cells(self, sheet: str) -> frozenset[str]:
        """The cells of a sheet whose number format shows a date (styles.date_cells)."""
        body = self.sheet_cells(sheet)
        return styles.date_cells(body, self._cell_styles()) if body is not None else frozenset()

    def _cell_styles(self) -> styles.CellStyles:
        return styles.cell_styles(self.parts.get("xl/styles.xml", b""))

    def is_percent_cell(self, sheet: str, address: str) -> bool:
        """Whether the cell at `address` carries a percent number format (for 1.0 shown as 100%)."""
        return self.shown(sheet, address) is Shown.PERCENT


def open_package(path: Path, data: bytes | None = None, sheets: Collection[str] | None = None,
                 extra: Iterable[str] = ()) -> Package:
    """Sniff and open `path` (or `data` read from it), or raise Unreadable with the reason.

    `sheets` names the worksheets the caller will read (None: all). Only those,
    and the parts every reader needs, are decompressed and checked; the rest of
    the file is never opened, so it can neither hurt nor slow us. `extra` names other XML parts
    the caller reads (docProps/core.xml), loaded where present and checked like the rest.
    """
    path = Path(path)
    opening = Opening(path, limits.file_bytes(path) if data is None else data, sheets)
    for step in STEPS:
        step(opening)
    opening.xml.load(n for n in extra if n in opening.by_name)
    return opening.package()


@dataclass
class Opening:
    """A file on its way through STEPS: what each step found, for the next."""

    path: Path
    data: bytes
    wanted: Collection[str] | None
    by_name: dict[str, Member] = field(default_factory=dict)
    parts: XmlParts | None = None
    sheets: list[SheetRef] = field(default_factory=list)
    defined: dict[str, str] = field(default_factory=dict)
    locked: bool = False
    date1904: bool = False
    targets: dict[str | None, str] = field(default_factory=dict)
    given: dict[str, bytes] = field(default_factory=dict)
    cells_end: dict[str, int] = field(default_factory=dict)

    @property
    def xml(self) -> XmlParts:
        assert self.parts is not None, "load_structure runs first"
        return self.parts

    def package(self) -> Package:
        names = self.by_name.keys()
        return Package(
            path=self.path,
            sheets=self.sheets,
            names=self.defined,
            structure_locked=self.locked,
            has_macros=_has_macros(names, self.xml.parts),
            external_links=any(n.startswith("xl/externalLinks/") for n in names),
            parts=self.xml.parts,
            crcs=self.xml.crcs,
            date1904=self.date1904,
            given=self.given,
            cells_end=self.cells_end,
        )


# The defences, in order, cheapest first, each before anything bigger is parsed.
STEPS: tuple[Callable[[Opening], None], ...] = (
    limits.bound_file,
    sniff.sniff,
    container.bound_zip,
    parts.load_structure,
    workbook_xml.read_workbook_xml,
    parts.load_sheets,
    bounds.bound_sheets,
)


def _has_macros(names: Iterable[str], loaded: dict[str, bytes]) -> bool:
    """An .xlsm carries its macros in vbaProject.bin, which the workbook's relationships point to."""
    return (any(n.lower().endswith("vbaproject.bin") for n in names)
            or b"vbaproject" in loaded.get("xl/_rels/workbook.xml.rels", b"").lower())

