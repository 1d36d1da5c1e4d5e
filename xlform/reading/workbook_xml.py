"""What workbook.xml and its relationships say: the sheets (name, part, visibility), the
workbook-level defined names, whether the structure is locked and the date system (1900 or 1904).

Read by regular expressions over the checked parts (parts.py), never by a parser that could expand
a declared entity; calamine parses the same parts strictly afterwards.
"""

from __future__ import annotations

import functools
import html
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .parts import structural

if TYPE_CHECKING:
    from .package import Opening


@dataclass(frozen=True)
class SheetRef:
    name: str
    part: str  # e.g. xl/worksheets/sheet2.xml
    state: str  # visible / hidden / veryHidden


def read_workbook_xml(o: Opening) -> None:
    """workbook.xml and its relationships: the sheets, defined names, structure protection, date system."""
    body, rels = o.xml.parts.get("xl/workbook.xml", b""), o.xml.parts.get("xl/_rels/workbook.xml.rels", b"")
    key = (body, rels)
    found = _SEEN.get(key) if len(body) + len(rels) <= _SEEN_BYTES else None
    if found is None:
        found = _workbook(o.xml.parts)
        if len(body) + len(rels) <= _SEEN_BYTES:
            if len(_SEEN) >= _SEEN_MAX:
                _SEEN.pop(next(iter(_SEEN)))
            _SEEN[key] = found
    sheets, defined, o.locked, targets, o.date1904 = found
    o.sheets, o.defined, o.targets = list(sheets), dict(defined), dict(targets)  # copies: callers may edit them


# The returns of a round share their workbook.xml byte for byte (the department is stamped elsewhere): what
# it says is a function of its bytes, so it is read once per distinct part. Small parts only, a few dozen.
_Workbook = tuple[list[SheetRef], dict[str, str], bool, dict[str | None, str], bool]
_SEEN: dict[tuple[bytes, bytes], _Workbook] = {}
_SEEN_BYTES = 256 * 1024
_SEEN_MAX = 32


# The few elements the reader needs from workbook.xml and its .rels, in any namespace prefix. The prefix
# is possessive (++): trying it on each of the ~60 <definedName tags then costs no backtracking.
_ELEMENT = re.compile(rb"<(?:[\w.-]++:)?(sheet|workbookProtection|workbookPr|Relationship)\b([^>]*?)/?>")
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
    for m in _ELEMENT.finditer(structural(parts, part)):
        yield m.group(1), m.group(2)


def _xml_text(raw: bytes) -> str:
    """XML character data to text (the five entities and character references)."""
    text = raw.decode("utf-8", "replace")
    return html.unescape(text) if "&" in text else text


# Excel, WPS, LibreOffice and xlsxwriter write relationships with the attributes in this order.
_USUAL_REL = re.compile(rb'<Relationship Id="([^"&<]*)" Type="[^"&<]*" Target="([^"&<]*)"(?: TargetMode="\w+")?/>')


def _workbook(parts: dict[str, bytes]) -> _Workbook:
    rels = parts.get("xl/_rels/workbook.xml.rels", b"")
    usual_rels = _USUAL_REL.findall(rels)
    if len(usual_rels) == rels.count(b"Relationship") - rels.count(b"Relationships"):  # no other spelling
        relations = [(rid.decode("utf-8", "replace"), target.decode("utf-8", "replace")) for rid, target in usual_rels]
    else:
        relations = [(_attr(raw, "Id"), _attr(raw, "Target") or "")
                     for tag, raw in _elements(parts, "xl/_rels/workbook.xml.rels") if tag == b"Relationship"]
    targets = {rid: _part_name(target) for rid, target in relations}
    sheets, locked, date1904 = [], False, False
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
        elif tag == b"workbookPr":  # Excel for Mac's 1904 date system: serial 0 is 1904-01-01
            date1904 = _attr(raw, "date1904") in ("1", "true")
    return sheets, _defined_names(parts["xl/workbook.xml"]), locked, targets, date1904


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
