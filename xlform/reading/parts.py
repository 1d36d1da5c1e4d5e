"""The XML parts a reader needs, each really decompressed within the limits and checked before use.

Zip headers can lie, so each part is capped by the bytes it really yields, one by one and all
together. A part is refused for a DTD (billion laughs, external entities; XML allows a DOCTYPE only
before the root element, so that prolog is what is scanned), for UTF-16 (the byte checks would not
see a DTD in it) and for a declared count calamine would reserve memory for. Only the parts asked
for are ever decompressed: the rest of the file can neither hurt nor slow us.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from ..ooxml.ziparchive import Member
from . import refusals as R
from .container import inflate_member
from .limits import MAX_TREE_TAGS, MAX_XML_BYTES, MAX_XML_TOTAL
from .refusals import Unreadable

if TYPE_CHECKING:
    from .package import Opening

# What calamine needs to recognise and open a workbook ([Content_Types].xml it does not read).
_STRUCTURE = ("_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels")


def load_structure(o: Opening) -> None:
    """The parts that say what the workbook holds, each decompressed within the limits, free of DTDs."""
    o.parts = XmlParts(o.data, o.by_name)
    o.parts.load(n for n in _STRUCTURE if n in o.by_name)


def load_sheets(o: Opening) -> None:
    """What calamine reads when it opens a workbook, then the sheets the caller asked for (checked as load_structure
    checks, but for their declared counts: bounds.bound_sheets looks for those where calamine could act on one)."""
    names = o.by_name
    shared = [t for t in o.targets.values() if t.lower().endswith(("sharedstrings.xml", "styles.xml"))]
    o.xml.load(n for n in [*shared, "xl/sharedStrings.xml", "xl/styles.xml"] if n in names)
    # The shared parts first and scanned whole: a sheet part that is also the workbook's sharedStrings (its
    # uniqueCount is the one count calamine reserves memory for) is then never one whose scan waits.
    o.xml.load((s.part for s in o.sheets if (o.wanted is None or s.name in o.wanted) and s.part in names), counts_later=True)


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


# A count / uniqueCount attribute of a million or more.
# Written to start with a literal: the regex engine's own search for it is quicker than bytes.find then
# a match at each place (measured: 35 against 46 µs a return over the parts other than the sheets).
_HUGE_COUNT = re.compile(rb"""ount\s*=\s*["']\s*\d{7}""")


def refuse_huge_count(body: bytes, part: str, end: int | None = None) -> None:
    """Refuse a part declaring a count of a million or more in its first `end` bytes (all of them: None)."""
    if _HUGE_COUNT.search(body, 0, len(body) if end is None else end):
        # calamine reserves memory for a declared count (sst uniqueCount="2147483648" asked for
        # 51 GB and aborted the process); a return has a few hundred of anything.
        raise Unreadable(R.HUGE_COUNT, part=part)


class XmlParts:
    """XML parts, each really decompressed within the limits and free of DTDs, as they are asked for."""

    def __init__(self, data: bytes, members: dict[str, Member]) -> None:
        self.data = data
        self.members = members
        self.parts: dict[str, bytes] = {}
        self.crcs: dict[str, int] = {}
        self.total = 0
        self.counts_unchecked: list[str] = []  # worksheets whose declared counts bounds.bound_sheets checks

    def load(self, names: Iterable[str], counts_later: bool = False) -> None:
        """Each part, checked; with counts_later its declared counts are left to bounds.bound_sheets."""
        for name in names:
            if name not in self.parts:
                self._load(self.members[name], counts_later)

    def _load(self, info: Member, counts_later: bool) -> None:
        cap = min(MAX_XML_BYTES, MAX_XML_TOTAL - self.total)
        if info.size > cap:  # the directory was checked against MAX_XML_BYTES: this is the running total
            raise Unreadable(R.CONTENT_TOO_LARGE, mb=MAX_XML_TOTAL // 1048576)
        body = inflate_member(self.data, info)
        self.total += len(body)
        if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
            # UTF-16/32: our byte checks below would not see a DTD, and calamine reads such a sheet as empty.
            raise Unreadable(R.UTF16)
        if _DTD.search(_prolog(body)):
            raise Unreadable(R.XML_ENTITIES)
        if counts_later:
            self.counts_unchecked.append(info.name)
        else:
            refuse_huge_count(body, info.name)
        self.parts[info.name] = body
        self.crcs[info.name] = info.crc


def structural(parts: dict[str, bytes], part: str) -> bytes:
    """A small structural part (workbook.xml, .rels, styles.xml), present and of a sane size."""
    try:
        body = parts[part]
    except KeyError:
        raise Unreadable(R.PART_MISSING, part=part) from None
    if body.count(b"<") > MAX_TREE_TAGS:
        raise Unreadable(R.PART_TOO_BIG, part=part)
    return body


def parse_tree(parts: dict[str, bytes], part: str) -> Element:
    """Parse a small structural part into a tree (defusedxml: refuses any entity declaration, wherever it stands)."""
    body = structural(parts, part)
    try:
        return SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 - defusedxml / expat errors of any kind mean a damaged file
        raise Unreadable(R.PART_DAMAGED, part=part) from None
