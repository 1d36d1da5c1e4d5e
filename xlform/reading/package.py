"""Open a returned .xlsx safely: sniff the format, bound the zip, refuse hostile XML.

Nothing here executes, fetches or recalculates anything in the file. What the
reader needs from the XML (sheet list, defined names, protection flags, a
cell's number format) is read straight from the parts, and every refusal is
an `Unreadable` with one Chinese sentence a clerk understands and its code (refusals.py).

The defences are `STEPS`, run in order by open_package, cheapest first, each before anything bigger is parsed:
1. `sniff` the first bytes (empty, OLE = encrypted/.xls/.et, CSV, HTML, …);
2. `bound_zip`: the zip directory (entries, claimed sizes and ratios, methods);
3. `load_structure`, `read_workbook_xml`, `load_sheets`: decompress each XML part needed with a cap on
   the bytes it really yields (headers can lie), refusing DTDs (billion laughs, external entities; XML
   allows a DOCTYPE only before the root element, so that prolog is what is scanned) and UTF-16;
4. `bound_sheets`: each worksheet's extent (last row / column holding a value), because
   python-calamine allocates the whole rectangle from A1 to the last value:
   one value in XFD1048576 is a 17-billion-cell grid and aborts the process;
5. calamine only ever sees a fresh zip of exactly the parts checked here, so
   a zip that Python's and Rust's zip readers would read differently cannot
   slip an unchecked part past us.
"""

from __future__ import annotations

import functools
import html
import os
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from ..ooxml.ziparchive import DEFLATED, ENCRYPTED, STORED, BadZip, Member, TooManyMembers, crc32, directory, inflate, stored_zip
from . import refusals as R
from .refusals import Unreadable

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

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_XML_SUFFIXES = (".xml", ".rels", ".vml")

_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b[^>]*>")
# A cell value of 11+ integer digits or with an exponent: as a date serial it is past any calendar
# (calamine's date conversion panics on such a value in a date-styled cell, printing a Rust panic).
# The literal "<v>" start lets the engine skip ahead (a third of a millisecond a return with a leading group);
# a prefixed <x:v> is rare, and checked by the slower pattern only where the part has one.
_HUGE_VALUE = re.compile(rb"<v>\s*[-+]?(?:\d{11,}|\d*\.?\d+[eE])")
_HUGE_PREFIXED_VALUE = re.compile(rb"<\w+:v>\s*[-+]?(?:\d{11,}|\d*\.?\d+[eE])")
_CELL_STYLE = re.compile(rb"(<(?:\w+:)?c\b[^>]*?)\s+s\s*=\s*[\"'][^\"']*[\"']")


@dataclass(frozen=True)
class SheetRef:
    name: str
    part: str  # e.g. xl/worksheets/sheet2.xml
    state: str  # visible / hidden / veryHidden


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
        body = self.parts.get(part, b"")
        return _HUGE_VALUE.search(body) is not None or (b":v>" in body and _HUGE_PREFIXED_VALUE.search(body) is not None)

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
                root = _parse(self.parts, "xl/styles.xml")
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


def open_package(path: Path, data: bytes | None = None, sheets: Collection[str] | None = None) -> Package:
    """Sniff and open `path` (or `data` read from it), or raise Unreadable with the reason.

    `sheets` names the worksheets the caller will read (None: all). Only those,
    and the parts every reader needs, are decompressed and checked; the rest of
    the file is never opened, so it can neither hurt nor slow us.
    """
    path = Path(path)
    opening = _Opening(path, _file_bytes(path) if data is None else data, sheets)
    for step in STEPS:
        step(opening)
    return opening.package()


def _file_bytes(path: Path) -> bytes:
    """The file's bytes, never more than MAX_FILE_BYTES + 1 of them."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            # Never more than the limit, even from a file that grows while we read it or a pipe or
            # device (whose size reads 0); the bytes it claims, when it claims any, in one read.
            data = fh.read((size or MAX_FILE_BYTES) + 1) if size <= MAX_FILE_BYTES else b""
    except OSError as exc:
        raise Unreadable(R.CANNOT_OPEN, why=exc.strerror or exc) from None
    if size > MAX_FILE_BYTES:
        raise Unreadable(R.TOO_LARGE, mb=size / 1048576)
    return data


@dataclass
class _Opening:
    """A file on its way through STEPS: what each step found, for the next."""

    path: Path
    data: bytes
    wanted: Collection[str] | None
    by_name: dict[str, Member] = field(default_factory=dict)
    parts: _XmlParts | None = None
    sheets: list[SheetRef] = field(default_factory=list)
    defined: dict[str, str] = field(default_factory=dict)
    locked: bool = False
    targets: dict[str | None, str] = field(default_factory=dict)

    @property
    def xml(self) -> _XmlParts:
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


def sniff(o: _Opening) -> None:
    """The first bytes: size, empty, OLE (encrypted / .xls / .et / .doc), CSV, HTML, …"""
    if len(o.data) > MAX_FILE_BYTES:
        raise Unreadable(R.TOO_LARGE, mb=len(o.data) / 1048576)
    _sniff(o.path, o.data)


def bound_zip(o: _Opening) -> None:
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
    if mimetype and mimetype.size < 1000 and b"opendocument" in _inflate(o.data, mimetype):
        raise Unreadable(R.ODS_FORMAT)
    if "xl/workbook.xml" not in by_name:
        if "xl/workbook.bin" in by_name:
            raise Unreadable(R.XLSB_FORMAT)
        if "content.xml" in by_name and "META-INF/manifest.xml" in by_name:
            raise Unreadable(R.ODS_FORMAT)
        if any(n.startswith(("word/", "ppt/")) for n in by_name):
            raise Unreadable(R.OFFICE_DOC)
        raise Unreadable(R.NO_WORKBOOK)


def load_structure(o: _Opening) -> None:
    """The parts that say what the workbook holds, each decompressed within the limits, free of DTDs."""
    o.parts = _XmlParts(o.data, o.by_name)
    o.parts.load(n for n in _STRUCTURE if n in o.by_name)


def read_workbook_xml(o: _Opening) -> None:
    """workbook.xml and its relationships: the sheets, defined names, structure protection."""
    o.sheets, o.defined, o.locked, o.targets = _workbook(o.xml.parts)


def load_sheets(o: _Opening) -> None:
    """What calamine reads when it opens a workbook, then the sheets the caller asked for (checked as load_structure checks)."""
    names = o.by_name
    shared = [t for t in o.targets.values() if t.lower().endswith(("sharedstrings.xml", "styles.xml"))]
    o.xml.load(n for n in [*shared, "xl/sharedStrings.xml", "xl/styles.xml"] if n in names)
    o.xml.load(s.part for s in o.sheets if (o.wanted is None or s.name in o.wanted) and s.part in names)


def bound_sheets(o: _Opening) -> None:
    """Each worksheet's extent: calamine allocates the whole rectangle from A1 to the last value."""
    _check_sheets(o.xml.parts, o.sheets)


# The defences, in order, cheapest first, each before anything bigger is parsed.
STEPS: tuple[Callable[[_Opening], None], ...] = (sniff, bound_zip, load_structure, read_workbook_xml, load_sheets,
                                                  bound_sheets)


def _has_macros(names: Iterable[str], parts: dict[str, bytes]) -> bool:
    """An .xlsm carries its macros in vbaProject.bin, which the workbook's relationships point to."""
    return (any(n.lower().endswith("vbaproject.bin") for n in names)
            or b"vbaproject" in parts.get("xl/_rels/workbook.xml.rels", b"").lower())


# What calamine needs to recognise and open a workbook ([Content_Types].xml it does not read).
_STRUCTURE = ("_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels")


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


def _inflate(data: bytes, member: Member) -> bytes:
    try:
        return inflate(data, member)
    except BadZip:
        raise Unreadable(R.DAMAGED) from None


# Case-blind: quick-xml (inside calamine) accepts <!doctype as well.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _prolog(body: bytes) -> bytes:
    """The bytes to scan for a DTD: those before the root element, the one place XML allows a DOCTYPE.

    Later in a part a DOCTYPE is malformed XML that expat refuses and calamine never expands, so
    scanning the prolog is as safe as scanning the part, and 1,000 times quicker. Comments and
    processing instructions are skipped whole (a `<` inside one is not the root); anything else
    odd in the prolog (`<!` that is not a comment, an unclosed comment) means the whole part is scanned.
    """
    at = 0
    for _ in range(100):  # a real prolog has two or three items
        at = body.find(b"<", at)
        if at < 0:
            return body
        if body.startswith(b"<!--", at):
            end = body.find(b"-->", at + 4)
            close = 3
        elif body.startswith(b"<?", at):
            end = body.find(b"?>", at + 2)
            close = 2
        elif body.startswith(b"<!", at):
            return body
        else:
            return body[:at]
        if end < 0:
            return body
        at = end + close
    return body


# A count / uniqueCount attribute of a million or more (literal "ount" first: a fast scan).
_HUGE_COUNT = re.compile(rb"""ount\s*=\s*["']\s*\d{7}""")


class _XmlParts:
    """XML parts, each really decompressed within the limits and free of DTDs, as they are asked for."""

    def __init__(self, data: bytes, members: dict[str, Member]) -> None:
        self.data = data
        self.members = members
        self.parts: dict[str, bytes] = {}
        self.crcs: dict[str, int] = {}
        self.total = 0

    def load(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.parts:
                self._load(self.members[name])

    def _load(self, info: Member) -> None:
        cap = min(MAX_XML_BYTES, MAX_XML_TOTAL - self.total)
        if info.size > cap:  # the directory was checked against MAX_XML_BYTES: this is the running total
            raise Unreadable(R.CONTENT_TOO_LARGE, mb=MAX_XML_TOTAL // 1048576)
        body = _inflate(self.data, info)
        self.total += len(body)
        if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
            # UTF-16/32: our byte checks below would not see a DTD, and calamine reads such a sheet as empty.
            raise Unreadable(R.UTF16)
        if _DTD.search(_prolog(body)):
            raise Unreadable(R.XML_ENTITIES)
        if _HUGE_COUNT.search(body):
            # calamine reserves memory for a declared count (sst uniqueCount="2147483648" asked for
            # 51 GB and aborted the process); a return has a few hundred of anything.
            raise Unreadable(R.HUGE_COUNT, part=info.name)
        self.parts[info.name] = body
        self.crcs[info.name] = info.crc


def _structural(parts: dict[str, bytes], part: str) -> bytes:
    """A small structural part (workbook.xml, .rels, styles.xml), present and of a sane size."""
    try:
        body = parts[part]
    except KeyError:
        raise Unreadable(R.PART_MISSING, part=part) from None
    if body.count(b"<") > MAX_TREE_TAGS:
        raise Unreadable(R.PART_TOO_BIG, part=part)
    return body


def _parse(parts: dict[str, bytes], part: str) -> Element:
    """Parse a small structural part into a tree (defusedxml: refuses any entity declaration, wherever it stands)."""
    body = _structural(parts, part)
    try:
        return SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 - defusedxml / expat errors of any kind mean a damaged file
        raise Unreadable(R.PART_DAMAGED, part=part) from None


# The few elements the reader needs from workbook.xml and its .rels, in any namespace prefix. The prefix
# is possessive (++): trying it on each of the ~60 <definedName tags then costs no backtracking.
_ELEMENT = re.compile(rb"<(?:[\w.-]++:)?(sheet|workbookProtection|Relationship)\b([^>]*?)/?>")
# Defined names are most of workbook.xml. Excel, WPS, LibreOffice and xlsxwriter all write them like this:
_USUAL_DEFINED = re.compile(r'<definedName name="([^"&<]*)"( localSheetId="\d+")?>([^<&]*)</definedName>')
# … and this reads any other spelling (prefixes, attribute order, entities).
_DEFINED = re.compile(rb"<(?:[\w.-]++:)?definedName\b([^>]*)>([^<]*)<")


@functools.cache
def _attr_pattern(name: str) -> re.Pattern[bytes]:
    """An attribute by local name (r:id → id), its value in either quote."""
    return re.compile(rb"(?:^|\s)(?:[\w.-]+:)?" + name.encode() + rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attr(raw: bytes, name: str) -> str | None:
    m = _attr_pattern(name).search(raw)
    return _xml_text(m.group(1) if m.group(1) is not None else m.group(2)) if m else None


def _elements(parts: dict[str, bytes], part: str) -> Iterator[tuple[bytes, bytes]]:
    """(local tag, raw attributes) of the elements the reader needs.

    A regex scan rather than a tree: four times faster on workbook.xml, and safe
    because a regex expands no declared entity (_xml_text knows only built-in ones); calamine
    parses the same part strictly right after, so a damaged one is still refused.
    """
    for m in _ELEMENT.finditer(_structural(parts, part)):
        yield m.group(1), m.group(2)


def _xml_text(raw: bytes) -> str:
    """XML character data to text (the five entities and character references)."""
    text = raw.decode("utf-8", "replace")
    return html.unescape(text) if "&" in text else text


# Excel, WPS, LibreOffice and xlsxwriter write relationships with the attributes in this order.
_USUAL_REL = re.compile(rb'<Relationship Id="([^"&<]*)" Type="[^"&<]*" Target="([^"&<]*)"(?: TargetMode="\w+")?/>')


def _workbook(parts: dict[str, bytes]) -> tuple[list[SheetRef], dict[str, str], bool, dict[str | None, str]]:
    rels = parts.get("xl/_rels/workbook.xml.rels", b"")
    usual_rels = _USUAL_REL.findall(rels)
    if len(usual_rels) == rels.count(b"Relationship") - rels.count(b"Relationships"):  # no other spelling
        relations = [(rid.decode("utf-8", "replace"), target.decode("utf-8", "replace")) for rid, target in usual_rels]
    else:
        relations = [(_attr(raw, "Id"), _attr(raw, "Target") or "")
                     for tag, raw in _elements(parts, "xl/_rels/workbook.xml.rels") if tag == b"Relationship"]
    targets = {rid: _part_name(target) for rid, target in relations}
    sheets, locked = [], False
    for tag, raw in _elements(parts, "xl/workbook.xml"):
        if tag == b"sheet":
            usual = _USUAL_SHEET_ATTRS.fullmatch(raw)
            if usual:
                name, state, rid = (g.decode("utf-8", "replace") for g in usual.groups(b""))
            else:
                name, state, rid = _attr(raw, "name") or "", _attr(raw, "state") or "", _attr(raw, "id") or ""
            sheets.append(SheetRef(name, targets.get(rid, ""), state or "visible"))
        elif tag == b"workbookProtection":
            locked = _attr(raw, "lockStructure") in ("1", "true")
    return sheets, _defined_names(parts["xl/workbook.xml"]), locked, targets


# A <sheet> element's attributes as every writer we know orders them.
_USUAL_SHEET_ATTRS = re.compile(rb' name="([^"&<]*)" sheetId="\d+"(?: state="(\w+)")? r:id="([^"&<]*)"')


def _part_name(target: str) -> str:
    """A relationship target (relative to xl/, or absolute) → the zip part name."""
    target = target.replace("\\", "/")
    target = target.lstrip("/") if target.startswith("/") else "xl/" + target
    odd = "/." in target or "//" in target or target.endswith("/")  # ".", "..", "//" or a trailing "/"
    return posixpath.normpath(target) if odd else target


def _defined_names(body: bytes) -> dict[str, str]:
    """Workbook-level defined names → formula text (names local to one sheet, like print areas, left out)."""
    # Decoded once as a whole: a decode per name would cost more than the search.
    usual = _USUAL_DEFINED.findall(body.decode("utf-8", "replace"))
    # Each usual element holds "definedName" twice, the one <definedNames> wrapper twice more: when the
    # counts agree there is no other spelling to read.
    if (2 * len(usual) + 2 == body.count(b"definedName")
            and body.count(b"<definedNames>") == 1 and body.count(b"</definedNames>") == 1):
        return {name: text.strip() for name, local, text in usual if not local}
    names = {}
    for attrs_raw, text in _DEFINED.findall(body):
        name = _attr(attrs_raw, "name")
        if name is not None and b"localSheetId" not in attrs_raw:
            names[name] = _xml_text(text).strip()
    return names


def _check_sheets(parts: dict[str, bytes], sheets: list[SheetRef]) -> None:
    """Bound every worksheet calamine could be asked for (any part with <sheetData), named or not."""
    shown = {s.part: s.name for s in sheets}
    for part, body in parts.items():
        if b"sheetData" not in body:
            continue
        where = f"工作表“{shown[part]}”" if part in shown else f"部件 {part}"
        if clearly_within_limits(body):
            continue  # one search answers for every sheet of ours
        if body.count(b"<") > MAX_SHEET_TAGS:  # bounds the time sheet_extent may take
            raise Unreadable(R.SHEET_TOO_MANY_TAGS, where=where, limit=MAX_SHEET_TAGS)
        rows, cols = sheet_extent(body)
        if rows > MAX_SHEET_ROWS or cols > MAX_SHEET_COLS:
            last = f"第 {rows} 行" if rows > MAX_SHEET_ROWS else f"第 {cols} 列"
            raise Unreadable(R.SHEET_TOO_FAR, where=where, last=last, rows=MAX_SHEET_ROWS, cols=MAX_SHEET_COLS)


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


def _int(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return -1
