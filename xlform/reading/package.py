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
   slip an unchecked part past us.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..ooxml.ziparchive import Member, crc32, stored_zip
from . import bounds, container, limits, parts, sniff, workbook_xml
from .parts import XmlParts, parse_tree
from .refusals import Unreadable
from .workbook_xml import SheetRef

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b[^>]*>")
_CELL_STYLE = re.compile(rb"(<(?:\w+:)?c\b[^>]*?)\s+s\s*=\s*[\"'][^\"']*[\"']")


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
    _styles: dict[int, bool] | None = field(default=None, repr=False)

    def sheet(self, name: str) -> SheetRef | None:
        return next((s for s in self.sheets if s.name == name), None)

    def read_part(self, part: str) -> bytes:
        """A checked XML part (KeyError when the file has none by that name)."""
        return self.parts[part]

    def calamine_zip(self, unstyled: str | None = None) -> bytes:
        """The checked XML parts as a fresh, uncompressed zip: all python-calamine ever parses.

        The defined names are cut out of its workbook.xml: they are read here, and calamine
        would parse them again for nothing (a fifth of its work when it opens a return).
        `unstyled` names a sheet part whose cells lose their styles: calamine then hands back a
        date cell as its serial number instead of converting it (it panics on a serial no calendar
        holds, -1E+30 typed into a date cell), and the reader converts the serial itself."""
        parts, crcs = self.parts, self.crcs
        if unstyled in parts:
            body = _CELL_STYLE.sub(rb"\1", parts[unstyled])
            parts, crcs = {**parts, unstyled: body}, {**crcs, unstyled: crc32(body)}
        book = parts.get("xl/workbook.xml", b"")
        start, end = book.find(b"<definedNames>"), book.find(b"</definedNames>")
        if 0 < start < end:
            book = book[:start] + book[end + len(b"</definedNames>") :]
            parts = {**parts, "xl/workbook.xml": book}
            crcs = {**crcs, "xl/workbook.xml": crc32(book)}
        return stored_zip(parts, crcs)

    def has_huge_value(self, part: str) -> bool:
        """Whether a sheet holds a number no date could be (read such a sheet with calamine_zip(unstyled=part))."""
        return bounds.huge_value(self.parts.get(part, b""))

    def sheet_protected(self, name: str) -> bool:
        ref = self.sheet(name)
        if ref is None or ref.part not in self.parts:
            return False
        body = self.parts[ref.part]
        # find() first: a C-speed jump to the one tag, where a regex would try every "<" of the sheet.
        at = body.find(b"sheetProtection")
        tag = _PROTECTION.search(body, max(0, at - 64)) if at >= 0 else None
        return bool(tag and re.search(rb'\bsheet="(1|true)"', tag.group(0)))

    def is_percent_cell(self, sheet: str, address: str) -> bool:
        """Whether the cell at `address` carries a percent number format (for 1.0 shown as 100%)."""
        ref = self.sheet(sheet)
        if ref is None or ref.part not in self.parts:
            return False
        m = re.search(rb'<c r="' + address.encode() + rb'"[^>]*?\ss="(\d+)"', self.parts[ref.part])
        return m is not None and self._percent_styles().get(int(m.group(1)), False)

    def _percent_styles(self) -> dict[int, bool]:
        if self._styles is None:
            self._styles = {}
            try:
                root = parse_tree(self.parts, "xl/styles.xml")
            except Unreadable:  # without styles a number is just not shown as a percent
                return self._styles
            custom = {
                _int(n.get("numFmtId")): "%" in (n.get("formatCode") or "")
                for n in root.iter(f"{NS_MAIN}numFmt")
            }
            xfs = root.find(f"{NS_MAIN}cellXfs")
            for i, xf in enumerate(xfs if xfs is not None else []):
                fmt = _int(xf.get("numFmtId"))
                self._styles[i] = fmt in (9, 10) or custom.get(fmt, False)
        return self._styles


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
    targets: dict[str | None, str] = field(default_factory=dict)

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


def _int(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return -1
