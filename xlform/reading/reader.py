"""Read a returned workbook into a Declaration.

Values come from python-calamine (fast); defined names, sheet list and
protection flags straight from the file's XML (package.py). The workbook says
which template it follows (the _meta sheet); every value is found through its
defined name and cross-checked against the label beside it, so a workbook
whose structure was edited yields a finding, never shifted numbers.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ..form.fields import META_SHEET, Kind
from ..form.kinds import KINDS, TEXT_KINDS
from ..form.layout import LAST_TARGET_NAME, TablePos, layout_for
from ..form.meta import META_FORMAT, identity_from_meta
from ..form.model import (
    Declaration,
    Indicator,
    Row,
    Source,
    rows_of,
    set_field_value,
)
from ..form.targets import parse_target
from ..form.template import (
    MAX_YEAR,
    MIN_YEAR,
    Template,
    TemplateRef,
    as_template,
    builtin_templates,
    parse_template,
    previous_templates,
)
from ..form.values import SERIAL_1904, ValueProblem, clean_text
from ..ooxml.cellref import cell_name, column_index, column_letters
from ..review import rules
from ..review.findings import Finding, shown
from ..review.rules import Declared
from . import refusals as R
from .package import Package, open_package
from .refusals import Unreadable
from .styles import Shown, as_shown

_NUMBERS = (int, float)  # what calamine hands back for a number (bool is a class of its own)

_REF = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")
_PUNCT = re.compile(r"[\s:：*＊]+")


@dataclass(frozen=True)
class Ref:
    sheet: str
    row: int  # 0-based
    col: int
    last_row: int
    last_col: int


@functools.lru_cache(maxsize=4096)  # the same few hundred references recur in every return of a round
def parse_ref(text: str) -> Ref | None:
    m = _REF.match(text.strip())
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or (m.group(2) or "")
    row, col = int(m.group(4)) - 1, column_index(m.group(3))
    last_row = int(m.group(6)) - 1 if m.group(6) else row
    last_col = column_index(m.group(5)) if m.group(5) else col
    if row < 0 or last_row < 0:  # "$C$0": no such row
        return None
    # Corners in either order, as Excel reads "B20:A5" (it writes them top-left first; a hand edit may not).
    return Ref(sheet, min(row, last_row), min(col, last_col), max(row, last_row), max(col, last_col))


class Registry:
    """The templates a reader knows: the built-ins plus any the user passes, by (id, version) and by digest.

    A workbook names the digest of the exact template it was issued with; that one reads it. Without it
    (issued before digests, or a template edited since), the last registered template of its id and version
    whose layout fingerprint matches reads it, else the last registered of that id and version."""

    def __init__(self, extra: Sequence[TemplateRef] | None = None) -> None:
        self.templates: dict[tuple[str, str], Template] = {}  # (id, version) → the last registered
        self.by_digest: dict[str, Template] = {}
        self._versions: dict[tuple[str, str], list[Template]] = {}  # every one registered, last first
        # Every worksheet a reader may look at (the only ones a file is opened for): kept up to date on
        # register, not computed on every read.
        self.sheet_names: set[str] = {META_SHEET}
        for t in [*previous_templates(), *builtin_templates()]:  # the current built-ins preferred
            self.register(t)
        for ref in extra or []:
            self.register(as_template(ref))

    def register(self, template: Template) -> Template:
        key = (template.id, template.version)
        self.templates[key] = template
        if template.digest:
            self.by_digest[template.digest] = template
        versions = self._versions.setdefault(key, [])
        if template in versions:
            versions.remove(template)
        versions.insert(0, template)
        self.sheet_names |= set(template.input_sheets)
        return template

    def register_text(self, text: str, source: str) -> Template:
        """A template from its YAML text (TemplateError when it is not a valid one)."""
        return self.register(parse_template(text, source, issuing=False))

    def find(self, template_id: str, version: str, digest: str = "", fingerprint: str = "") -> Template:
        exact = self.by_digest.get(digest) if digest else None
        if exact is not None and (exact.id, exact.version) == (template_id, version):
            return exact
        versions = self._versions.get((template_id, version))
        if versions:
            same_layout = [t for t in versions if fingerprint and layout_for(t).accepts(fingerprint)]
            return (same_layout or versions)[0]
        known = "、".join(f"{i} 版本 {v}" for i, v in sorted(self.templates))
        if any(i == template_id for i, _ in self.templates):
            raise Unreadable(R.TEMPLATE_VERSION, template=template_id, version=version, known=known)
        raise Unreadable(R.TEMPLATE_UNKNOWN, template=template_id, version=version, known=known)


_default_registry: Registry | None = None


def default_registry() -> Registry:
    global _default_registry
    if _default_registry is None:
        _default_registry = Registry()
    return _default_registry


def read(path: str | Path, registry: Registry | None = None, data: bytes | None = None, *,
         templates: Sequence[TemplateRef] = ()) -> Declaration:
    """Read one workbook. Raises Unreadable (reason in Chinese) when it cannot be read at all.

    `templates`: a bureau's own templates (YAML paths or Template objects) beside the built-ins, for a
    return issued with one of them; to read many, make the Registry once: read(p, Registry(templates))."""
    path = Path(path)
    if templates:
        registry = Registry([*(registry.templates.values() if registry else ()), *templates])
    registry = registry or default_registry()
    return _Reader(open_package(path, data, registry.sheet_names), registry).read()


class _Reader:
    def __init__(self, pkg: Package, registry: Registry) -> None:
        self.pkg = pkg
        self.registry = registry
        self.findings: list[Finding] = []
        self.grids: dict[str, list[list[Any]]] = {}
        self.dated: dict[str, frozenset[str]] = {}  # per sheet: the cells formatted as dates
        try:
            # Only the parts package.py has checked (and bounded) ever reach calamine.
            self.book = CalamineWorkbook.from_filelike(io.BytesIO(pkg.calamine_zip()))
        except BaseException as exc:  # calamine raises several types, a Rust panic included
            if not _calamine_failed(exc):
                raise
            raise Unreadable(R.CALAMINE_FAILED, detail=_short(exc)) from None

    def grid(self, sheet: str) -> list[list[Any]]:
        if sheet not in self.grids:
            try:
                rows: list[list[Any]] = self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except BaseException as exc:  # a calamine failure: a damaged sheet
                if not _calamine_failed(exc):
                    raise
                raise Unreadable(R.SHEET_DAMAGED, sheet=sheet, detail=_short(exc)) from None
            self.grids[sheet] = rows
        return self.grids[sheet]

    # ---- identity -----------------------------------------------------------
    def read(self) -> Declaration:
        self.edited_labels: list[tuple[str, Any]] = []  # (the template's label, the file's) told apart by an edit
        template = self.identify()
        layout = layout_for(template)
        d = Declaration(identity=self.identity)
        d.source = Source(file=str(self.pkg.path), findings=self.findings, template=template)
        self.check_container(template)
        missing = [s for s in template.input_sheets if self.pkg.sheet(s) is None]
        if missing:
            raise Unreadable(R.SHEET_MISSING, sheets="”“".join(missing))
        self.read_fields(d, template)
        for table, pos in layout.tables.items():
            rows = self.read_table(d, template, pos)
            if table in template.added_tables:
                d.tables[table] = rows
            else:
                setattr(d, table, rows)
        if self.edited_labels:
            self.report_edited(template)
        _mark_library(d, template)
        return d

    def edited_label(self, template: Template, label: str, found: Any, table: str = "") -> bool:
        """A label that differs only because the template was edited after issue: the file's own label,
        not empty and not another label of the same part (that would be a shifted structure)."""
        if not self.edited or not isinstance(found, str) or not _PUNCT.sub("", found):
            return False
        if _PUNCT.sub("", found) in _labels_of(template, table):
            return False
        self.edited_labels.append((label, found))
        return True

    def report_edited(self, template: Template) -> None:
        pairs = [f"“{shown(found)}”（现模板为“{label}”）" for label, found in self.edited_labels[:5]]
        more = f"等 {len(self.edited_labels)} 处" if len(self.edited_labels) > 5 else ""
        self.add(rules.TEMPLATE_EDITED, "", "", "模板", template.id,
                 f"这份表下发后，模板 {template.id} 版本 {template.version} 被修改过（下发时所用的模板不在本次读取的"
                 f"模板中），表上的标签与现模板不同：{'、'.join(pairs)}{more}；这些项已按单元格名称照常读取。"
                 "如需按下发时的模板审核，请用 --manifest 下发文件夹 或 -t 下发时的模板文件。")

    def identify(self) -> Template:
        if self.pkg.sheet(META_SHEET) is None:
            raise Unreadable(R.NOT_ISSUED)
        values = {}
        for row in self.grid(META_SHEET):
            if len(row) >= 2 and isinstance(row[0], str):
                values[row[0]] = clean_text(row[1])
        if values.get("format") != META_FORMAT or not values.get("template_id"):
            raise Unreadable(R.META_INCOMPLETE)
        self.identity = ident = identity_from_meta(values)
        template = self.registry.find(ident.template_id, ident.template_version, ident.template_digest,
                                      ident.fingerprint)
        if not layout_for(template).accepts(ident.fingerprint):
            raise Unreadable(R.TEMPLATE_CHANGED, template=template.id, version=template.version)
        # Issued with a definition the reader does not have, of the same layout: the template was edited
        # since (a label, a prompt, a list). Its labels may differ from the file's: read, and say so once.
        self.edited = bool(ident.template_digest) and ident.template_digest != template.digest
        self.trust_meta(template, values.get("year", ""))
        return template

    def trust_meta(self, template: Template, claimed_year: str) -> None:
        """_meta is a sheet anyone can unhide and edit: what it says is a claim. The money unit printed on
        the form is the template's, so amounts are read in that unit whatever _meta says; a year outside
        any budget round is dropped. Either edit is a finding: the file's identity was tampered with."""
        claimed = self.identity.money_unit
        if claimed != template.money_unit:
            self.add(rules.META_CHANGED, "", "", "金额单位", claimed,
                     f"表内识别信息中的金额单位“{claimed}”与模板 {template.id} 表上印的“{template.money_unit}”不符"
                     f"（识别信息被改动过）；金额已按“{template.money_unit}”读取。请使用下发的原表填报。")
            self.identity = replace(self.identity, money_unit=template.money_unit)
        year = self.identity.year
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
            shown = claimed_year[:12] + ("…" if len(claimed_year) > 12 else "")
            self.add(rules.META_CHANGED, "", "", "年度", shown,
                     f"表内识别信息中的年度“{shown}”不是有效的预算年度（识别信息被改动过）；请使用下发的原表填报。")
            self.identity = replace(self.identity, year=None)

    def check_container(self, template: Template) -> None:
        for name in template.input_sheets:
            if self.pkg.sheet(name) is not None and not self.pkg.sheet_protected(name):
                self.add(rules.UNPROTECTED, name, "", "工作表保护", "未保护",
                         f"工作表“{name}”未保护（保护被取消）；请核对表格结构未被改动（已按单元格名称读取）。")
        if self.pkg.has_macros:
            self.add(rules.MACROS, "", "", "宏", "含宏",
                     "文件含宏（VBA），本系统不会运行它；请另存为不含宏的 .xlsx。")
        if self.pkg.external_links:
            self.add(rules.EXTERNAL_LINKS, "", "", "外部链接", "含外部链接",
                     "文件含外部链接（指向其他工作簿），本系统不读取也不更新它们；请把这些单元格复制后“粘贴为数值”，再重新保存。")

    def add(self, rule: Declared, sheet: str, cell: str, field: str, value: Any, message: str) -> None:
        self.findings.append(rule.finding(sheet, cell, field, value, message))

    # ---- single cells -----------------------------------------------------
    def read_fields(self, d: Declaration, template: Template) -> None:
        names = self.pkg.names
        spots = _field_spots(template, tuple([names.get(name) for name in _field_names(template)]))
        for spot in spots:
            label = spot.label
            if spot.row < 0:
                self.add(rules.NAME_MISSING, spot.sheet, "", label, "",
                         f"找不到“{label}”的单元格（名称 {spot.name} 被删除或失效），该项未读取；请使用下发的原表。")
                continue
            rows = self.grids.get(spot.sheet) or self.grid(spot.sheet)
            cells = rows[spot.row] if spot.row < len(rows) else ()
            found = cells[spot.label_col] if spot.label_col < len(cells) else ""
            if found != label and not _same_label(found, label) and not self.edited_label(template, label, found):
                self.add(rules.LABEL_MISMATCH, spot.sheet, _address(spot.row, spot.label_col),
                         label, found,
                         f"“{label}”旁边的标签变成了“{shown(found)}”，表格结构被改动，该项未读取；请使用下发的原表。")
                continue
            d.source.cells[spot.key] = (spot.sheet, spot.address)
            raw = cells[spot.col] if spot.col < len(cells) else ""
            if spot.text and raw.__class__ not in _NUMBERS:
                value = clean_text(raw)
            else:
                value = self.convert(spot.kind, raw, spot.sheet, spot.address, label)
            set_field_value(d, spot.group, spot.key, value)

    def convert(self, kind: Kind, raw: Any, sheet: str, address: str, label: str) -> Any:
        """One raw cell value → model value; a value of the wrong kind becomes a finding and None."""
        try:
            if kind in TEXT_KINDS:
                return clean_text(self.as_shown(raw, sheet, address))
            if kind is Kind.DATE and self.pkg.date1904 and raw.__class__ in _NUMBERS:
                raw += SERIAL_1904  # read as the same day's serial in the 1900 system
            elif kind is not Kind.DATE:
                raw = self.as_shown(raw, sheet, address)  # a date pasted into an amount: a date, not 46082 元
            if kind is Kind.TARGET:
                number = isinstance(raw, (int, float)) and not isinstance(raw, bool)
                if number and self.pkg.is_percent_cell(sheet, address):
                    # normalize() drops trailing zeros; "f" then never shows an exponent (1 → "100", not "1").
                    return parse_target(f"{(Decimal(str(raw)) * 100).normalize():f}%")
                return parse_target(raw)
            return (KINDS[kind].convert or clean_text)(raw)
        except ValueProblem as exc:
            self.add(rules.CATALOGUE[KINDS[kind].rule], sheet, address, label, raw,
                     f"“{label}”填了“{shown(raw)}”，{exc}。")
            return None if kind is not Kind.TICK else False

    def date_cells(self, sheet: str) -> frozenset[str]:
        if sheet not in self.dated:
            self.dated[sheet] = self.pkg.date_cells(sheet)
        return self.dated[sheet]

    def as_shown(self, raw: Any, sheet: str, address: str) -> Any:
        """A number in a cell formatted as a date is that date (as Excel shows it, and as a clerk typed it)."""
        if raw.__class__ not in _NUMBERS or address not in self.date_cells(sheet):
            return raw
        shown = self.pkg.shown(sheet, address)
        if shown is Shown.DATE and self.pkg.date1904:
            raw += SERIAL_1904
        return as_shown(raw, shown) if shown is Shown.DATE or shown is Shown.DURATION else raw

    # ---- row tables ---------------------------------------------------------
    def read_table(self, d: Declaration, template: Template, pos: TablePos) -> list[Any]:
        label = pos.section_label
        text = self.pkg.names.get(pos.name)
        plan = _table_plan(template, pos.table, text) if text else None
        if plan is None:
            self.add(rules.NAME_MISSING, pos.sheet, "", label, "",
                     f"找不到“{label}”表格（名称 {pos.name} 被删除或失效），该表未读取；请使用下发的原表。")
            return []
        ref, columns = plan.ref, plan.columns
        grid = self.grid(ref.sheet)
        headers = grid[ref.row - 1] if ref.row - 1 < len(grid) else []
        for c in columns:
            found = headers[c.col] if c.col < len(headers) else ""
            if (found != c.header and not _same_label(found, c.header)
                    and not self.edited_label(template, c.header, found, pos.table)):
                self.add(rules.LABEL_MISMATCH, ref.sheet, _address(ref.row - 1, c.col),
                         c.header, found,
                         f"“{label}”表的列标题“{c.header}”变成了“{shown(found)}”，表格结构被改动，该表未读取；请使用下发的原表。")
                return []
        d.source.columns[pos.table] = (ref.sheet, {c.key: c.letter for c in columns})
        items = []
        row_type = template.row_type(pos.table)
        plain = row_type is Row  # every column of an added table's Row is in its `values`
        # Rows past the sheet's last row are empty: a name stretched to row 1,048,576 (or 10^12) costs nothing.
        last_row = min(ref.last_row, len(grid) - 1)
        first, width = ref.col, len(columns)
        sheet = ref.sheet
        dated = self.date_cells(sheet)  # almost always none: a table's cells are numbers and text
        for r in range(ref.row, last_row + 1):
            values = grid[r][first : first + width]
            if values.count("") == len(values):
                continue  # empty rows between filled ones are normal (calamine gives "" for an empty cell)
            if len(values) < width:
                values += [""] * (width - len(values))
            found_before = len(self.findings)
            filled = False
            own: dict[str, Any] = {}  # the row type's attributes
            added: dict[str, Any] = {}  # columns the template adds
            for i, key, builtin, convert, is_text, c in plan.cells:
                raw = values[i]
                if builtin and raw == "":
                    continue  # the dataclass default is the empty value
                number = raw.__class__ in _NUMBERS
                if convert is None or (number and (is_text or (dated and f"{c.letter}{r + 1}" in dated))):
                    # the cell's format matters: a target, a date, a number shown as a date
                    value = self.convert(c.kind, raw, sheet, f"{c.letter}{r + 1}", c.header)
                else:
                    try:  # the address of a cell is built only for a finding
                        value = convert(raw)
                    except ValueProblem:
                        value = self.convert(c.kind, raw, sheet, f"{c.letter}{r + 1}", c.header)
                (own if builtin else added)[key] = value
                if not filled:
                    filled = value not in ("", None, False) and getattr(value, "raw", True) != ""
            if not filled and len(self.findings) == found_before:
                continue  # only blanks typed in (a value that could not be read keeps its row)
            item = row_type(values=added, row=r + 1) if plain else row_type(row=r + 1, extra=added, **own)
            if isinstance(item, Indicator):
                _merge_mof_target(item)
            items.append(item)
        if pos.table == "indicators" and LAST_TARGET_NAME in self.pkg.names:
            self.read_last_targets(items, grid)
        return items

    def read_last_targets(self, items: list[Any], grid: list[list[Any]]) -> None:
        """上年目标值 of a carried-over form, from its locked column (sheet protection keeps a clerk from typing
        there; a value edited anyway only changes the 提示 the carry-over rules give, never an amount)."""
        ref = parse_ref(self.pkg.names[LAST_TARGET_NAME])
        if ref is None or ref.col != ref.last_col:
            return
        for item in items:
            r = item.row - 1
            if ref.row <= r <= ref.last_row and r < len(grid) and ref.col < len(grid[r]):
                item.last_target = clean_text(grid[r][ref.col])


@dataclass(frozen=True)
class _TableColumn:
    key: str
    kind: Kind
    text: bool  # a text kind: read with clean_text, never a finding
    header: str
    col: int  # 0-based, in this file
    letter: str
    builtin: bool  # an attribute of the row type; False: kept in the row's `extra`
    computed: bool  # a formula the writer draws (the library's help): not data
    # raw cell value → model value, raising ValueProblem (None: a target or a date, read by _Reader.convert)
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class _TablePlan:
    ref: Ref  # the table's rows, below its header row
    columns: tuple[_TableColumn, ...]
    # The columns that hold data (a computed column does not), unpacked for the loop over every cell:
    # (index in the row, key, builtin, convert, text, the column)
    cells: tuple[tuple[int, str, bool, Callable[[Any], Any] | None, bool, _TableColumn], ...] = ()


@functools.lru_cache(maxsize=256)
def _table_plan(template: Template, table: str, text: str) -> _TablePlan | None:
    """Where a table's columns sit, given the text of its defined name (None: the name is unusable)."""
    pos = layout_for(template).tables[table]
    ref = parse_ref(text)
    if (ref is None or ref.sheet != pos.sheet or ref.last_col - ref.col != pos.last_col - pos.first_col
            or ref.row == 0):  # a table always has its header row above it
        return None
    columns = []
    for c in pos.columns:
        col = ref.col + (c.col - pos.first_col)
        kind = c.column.kind
        # None: read by _Reader.convert, which also asks the cell's format (a target, a date) or the date system
        convert = clean_text if kind in TEXT_KINDS else (None if kind in (Kind.TARGET, Kind.DATE) else KINDS[kind].convert)
        columns.append(_TableColumn(c.column.key, kind, kind in TEXT_KINDS, c.header, col, column_letters(col),
                                    c.column.builtin, c.column.computed, convert))
    cells = tuple((i, c.key, c.builtin, c.convert, c.text, c) for i, c in enumerate(columns) if not c.computed)
    return _TablePlan(ref, tuple(columns), cells)



@dataclass(frozen=True)
class _Spot:
    """Where a single-cell field sits in one file, as its defined name says (row -1: the name is
    missing or points to another sheet)."""

    key: str
    group: str
    kind: Kind
    text: bool  # a text kind: read with clean_text, never a finding
    label: str
    name: str
    sheet: str
    row: int = -1
    col: int = 0
    label_col: int = 0
    address: str = ""


@functools.lru_cache(maxsize=64)
def _field_names(template: Template) -> tuple[str, ...]:
    return tuple(pos.name for pos in layout_for(template).fields.values())


@functools.lru_cache(maxsize=256)
def _field_spots(template: Template, refs: tuple[str | None, ...]) -> tuple[_Spot, ...]:
    """Where each field sits, given the texts of their defined names: worked out once for all the
    returns of a round that share them (all do, unless a clerk's program rewrote a name)."""
    spots = []
    for (key, pos), text in zip(layout_for(template).fields.items(), refs, strict=True):
        kind = pos.field.kind
        spot = _Spot(key, pos.field.group, kind, kind in TEXT_KINDS, template.labels[key], pos.name, pos.sheet)
        ref = parse_ref(text) if text else None
        if ref is not None and ref.sheet == pos.sheet:
            spot = replace(spot, row=ref.row, col=ref.col, label_col=pos.label_col, address=_address(ref.row, ref.col))
        spots.append(spot)
    return tuple(spots)


@functools.lru_cache(maxsize=64)
def _labels_of(template: Template, table: str) -> frozenset[str]:
    """The labels of a template's single cells ("") or the headers of one table, as _same_label compares them."""
    texts = template.columns[table].values() if table else template.labels.values()
    return frozenset(_PUNCT.sub("", t) for t in texts)


@functools.lru_cache(maxsize=4096)
def _address(row: int, col: int) -> str:
    """"B7" for 0-based (6, 1): the same few hundred cells in every return."""
    return cell_name(row, col)


def _mark_library(d: Declaration, template: Template) -> None:
    """Each indicator with a name: 库内 when (二级, 三级) is in the template's library, else 自定义."""
    library = template.library
    if library is None:
        return
    for table in template.indicator_tables():
        for item in rows_of(d, table):
            if isinstance(item, Indicator) and item.name:
                item.in_library = library.find(item.level2, item.name) is not None


def _merge_mof_target(item: Indicator) -> None:
    """National forms split 计算符号 / 指标值 / 计量单位: fold them into the parsed target."""
    t = item.target
    if item.operator and not t.operator and t.number is not None:
        t.operator = parse_target(item.operator + "1").operator or item.operator
    if item.measure_unit and not t.unit and t.number is not None:
        t.unit = item.measure_unit






def _same_label(found: Any, expected: str) -> bool:
    """Labels match ignoring spaces, colons and asterisks (LibreOffice, WPS and clerks add or drop them)."""
    return found == expected or _PUNCT.sub("", clean_text(found)) == _PUNCT.sub("", expected)


def _calamine_failed(exc: BaseException) -> bool:
    """An error from calamine: any Exception, or a Rust panic (pyo3's PanicException derives from BaseException)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:80]
