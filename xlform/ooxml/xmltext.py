"""Cell text as Excel writes it between <t> tags: escaped, cut to length, whitespace kept.

Used wherever xlform writes a cell's XML itself rather than through xlsxwriter
(the report's data rows, and text xlsxwriter would mistake for rich-text XML).
"""

from __future__ import annotations

import re

MAX_TEXT = 32767  # Excel's limit for one cell, in UTF-16 units

# Text needing work: XML's three, the control characters Excel writes as _xHHHH_ (and a literal
# _xHHHH_, escaped so it reads back as itself), non-characters and lone surrogates (UTF-8 cannot carry them).
_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff]|_x[0-9A-Fa-f]{4}_")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def t_element(text: str) -> str:
    """A non-empty text as a whole <t> element (xml:space="preserve" when it starts or ends with white space)."""
    t = text_xml(text)
    space = ' xml:space="preserve"' if t[:1].isspace() or t[-1:].isspace() else ""
    return f"<t{space}>{t}</t>"


def text_xml(text: str) -> str:
    """Text as the content of a <t> element."""
    if len(text) > MAX_TEXT // 2:
        text = _excel_length(text)
    if _NEEDS_WORK.search(text):
        text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
        text = _SURROGATE.sub("\ufffd", text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _excel_length(text: str) -> str:
    """Cut to the 32,767 UTF-16 units a cell holds (as xlsxwriter does), never inside a pair."""
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * MAX_TEXT:
        return text
    return units[: 2 * MAX_TEXT].decode("utf-16-le", "ignore")
