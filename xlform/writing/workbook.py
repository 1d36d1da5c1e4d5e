"""Write the locked, validated 申报表 workbook (blank, prefilled or filled) with xlsxwriter.

Layout comes from layout.py, labels and lists from the template, values from a
Declaration. User text always goes through _text (never write(), which
would turn "=…" into a formula). One small post-processing step (_finish) adds
workbook-structure protection, which xlsxwriter does not offer, and writes the
few texts xlsxwriter would mistake for rich-text XML.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlsxwriter.utility import quote_sheetname, xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from .. import __version__
from ..errors import UserError
from ..fileio import write_bytes_atomic
from ..form import paper
from ..form.fields import CHECK_SHEET, FEEDBACK_SHEET, HELP_SHEET, LISTS_SHEET, META_SHEET, TICK, Kind
from ..form.kinds import KINDS, Cell, Validating
from ..form.layout import (
    FIRST_FIELD_ROW,
    FUNDING_CHECK_COL,
    LAST_TARGET_HEADER,
    LAST_TARGET_NAME,
    PROJECT_COLS,
    PROJECT_NAME_ROW_GOALS,
    PROJECT_WIDTHS,
    FieldCell,
    Layout,
    TableCol,
    TablePos,
    box_width,
    field_per_line,
    layout_for,
)
from ..form.library import LIBRARY_KEY_SEPARATOR
from ..form.meta import CARRY_KEYS, META_KEYS, meta_values
from ..form.model import Declaration, Identity, Indicator, field_value, row_value, rows_of
from ..form.template import Template
from ..ooxml.xmltext import t_element
from . import livechecks
from .help_text import help_lines

FONT = "宋体"
TITLE_FONT = "黑体"
INPUT_FILL = "#FFF8DC"  # pale yellow: "type here"
LABEL_FILL = "#EDEDED"
COMPUTED_FILL = "#F2F2F2"
BAD_FILL = "#FFC7CE"
BAD_FONT = "#9C0006"
GOOD_FILL = "#C6EFCE"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
HELP_WIDTH = 80  # 填表说明 is one column that fits an A4 portrait page unscaled
NOTE_PT = 9  # the words beside a red cell
TITLE_PT = 30
SPACER_PT = 8  # the blank rows between tables
CHECK_WIDTHS = (44, 10, 50)  # 校验: 检查项, 结果, 如何修改
FIX_FILL = "#FF7C80"  # a cell the reviewer sends back: red, apart from the live checks' pale BAD_FILL
REVIEW_AUTHOR = "财政局审核"  # the author of the comments on cells sent back
REVIEW_HEADS = ("序号", "类别", "问题", "位置", "现填内容", "如何修改")
REVIEW_WIDTHS = (6, 6, 22, 18, 24, 60)


@dataclass(frozen=True)
class ReviewNotes:
    """What a workbook sent back to fix carries besides the return (issue/feedback.py builds it): a first
    sheet 审核意见 with the reviewer's opinion and each finding, and each finding's cell red with a comment."""

    title: str  # the sheet's heading
    opinion: tuple[tuple[str, str], ...]  # (what, text) above the list: 审核结论, 审核意见, 指标审核意见 by row
    findings: tuple[tuple[str, str, str, str, str], ...]  # (类别, 问题, 位置 sheet!cell, 现填内容, 如何修改)
    marks: tuple[tuple[str, str, str], ...]  # (sheet, A1 cell, message) to fill red and comment
    created: datetime  # the file's creation date (same return → same bytes)


def write_workbook(
    template: Template,
    target: Path | io.BytesIO,
    declaration: Declaration | None = None,
    *,
    year: int | None = None,
    password: str | None = None,
    now: datetime | None = None,
    notes: ReviewNotes | None = None,
) -> Identity:
    """Write a workbook for `declaration` (None = blank) and return the identity stamped into it.

    A Path is written atomically; a BytesIO receives the bytes. `notes` makes it a workbook sent back to fix.
    """
    declaration = declaration or Declaration()
    _fits(template, declaration)
    identity = _stamp(template, declaration.identity, year, now)
    declaration = replace(declaration, identity=identity)
    data = _WorkbookWriter(template, declaration, password, notes).build()
    if isinstance(target, io.BytesIO):
        target.write(data)
    else:
        write_bytes_atomic(Path(target), data)
    return identity


def _fits(template: Template, declaration: Declaration) -> None:
    """Refuse rather than drop rows: a table with more rows than the template has room for."""
    for table, room in template.rows.items():
        count = len(rows_of(declaration, table))
        if count > room:
            raise UserError(f"“{template.labels[table]}”有 {count} 行，模板 {template.id} 只有 {room} 行；"
                            f"请在模板的 rows.{table} 中调大行数后再生成。")


def _stamp(template: Template, given: Identity, year: int | None, now: datetime | None) -> Identity:
    layout = layout_for(template)
    when = now or datetime.now(timezone(timedelta(hours=8)))  # 北京时间, what the clerks see
    return replace(
        given,
        template_id=template.id,
        template_version=template.version,
        form_id=given.form_id or str(uuid.uuid4()),
        issued_at=given.issued_at or when.isoformat(timespec="seconds"),
        year=year or given.year or template.year,
        money_unit=template.money_unit,
        fingerprint=layout.fingerprint,
        template_digest=template.digest,
    )


class _WorkbookWriter:
    def __init__(self, template: Template, declaration: Declaration, password: str | None,
                 notes: ReviewNotes | None = None) -> None:
        self.t = template
        self.d = declaration
        self.notes = notes
        self.props: dict[int, dict[str, Any]] = {}  # id(format) → its properties, to derive the red one of each
        self.layout: Layout = layout_for(template)
        self.password = template.password if password is None else password
        self.buffer = io.BytesIO()
        # Text xlsxwriter would write as raw rich-text XML: a placeholder goes in, _finish puts the text back.
        self.verbatim: dict[str, str] = {}
        # Row heights each sheet needs (points); rows not listed are sized by the program (table rows).
        self.heights: dict[str, dict[int, float]] = {}
        self.wb = Workbook(
            self.buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_format_properties": {"font_name": FONT, "font_size": paper.BODY_PT},
            },
        )
        self.f = self._formats()

    # ---- formats -----------------------------------------------------------
    def _formats(self) -> dict[str, Any]:
        base = {"font_name": FONT, "font_size": paper.BODY_PT, "valign": "vcenter", "text_wrap": True, "border": 1}

        def add(props: dict[str, Any]) -> Any:
            made = self.wb.add_format(props)
            self.props[id(made)] = props
            return made

        def fmt(**kw: Any) -> Any:
            return add({**base, **kw})

        inp = {"locked": False, "bg_color": INPUT_FILL}
        return {
            "title": add({"font_name": TITLE_FONT, "font_size": 16, "bold": True, "align": "center",
                          "valign": "vcenter"}),
            "subtitle": add({"font_name": FONT, "font_size": 11, "align": "center", "valign": "vcenter"}),
            "plain": add({"font_name": FONT, "font_size": 11, "valign": "vcenter"}),
            # One line whatever its length: shrinks rather than wraps or spills (填报单位（盖章） in column A).
            "plain_fit": add({"font_name": FONT, "font_size": 11, "valign": "vcenter", "shrink": True}),
            "right": add({"font_name": FONT, "font_size": 11, "align": "right", "valign": "vcenter"}),
            "label": fmt(bold=True, bg_color=LABEL_FILL, align="center"),
            "label_left": fmt(bold=True, bg_color=LABEL_FILL, align="left"),
            "header": fmt(bold=True, bg_color=LABEL_FILL, align="center"),
            "text": fmt(**inp),
            "long": fmt(**inp, valign="top"),
            "code": fmt(**inp, num_format="@"),  # phone, 目标值: keep what is typed as text
            "money": fmt(**inp, num_format=MONEY_FORMAT),
            "number": fmt(**inp, num_format="0.00"),
            "integer": fmt(**inp, num_format="0"),
            "year": fmt(**inp, num_format="0", align="center"),
            "date": fmt(**inp, num_format=DATE_FORMAT, align="center"),
            "tick": fmt(**inp, align="center"),
            "choice": fmt(**inp, align="center"),
            # Prefilled and locked (the department): its row is sized before the name is known (distribute
            # stamps it in afterwards), so a long name shrinks to fit instead of wrapping.
            "fixed": fmt(bg_color=COMPUTED_FILL, text_wrap=False, shrink=True),
            "computed": fmt(bg_color=COMPUTED_FILL),
            "computed_money": fmt(bg_color=COMPUTED_FILL, num_format=MONEY_FORMAT),
            "note": add({"font_name": FONT, "font_size": NOTE_PT, "font_color": BAD_FONT, "valign": "vcenter",
                         "text_wrap": True, "border": 1, "bg_color": COMPUTED_FILL}),
            "bad": add({"bg_color": BAD_FILL, "font_color": BAD_FONT}),
            "good": add({"bg_color": GOOD_FILL, "font_color": "#006100"}),
            "help_title": add({"font_name": TITLE_FONT, "font_size": 14, "bold": True}),
            "help_head": add({"font_name": FONT, "font_size": 11, "bold": True, "bg_color": LABEL_FILL}),
            "help": add({"font_name": FONT, "font_size": 11, "text_wrap": True, "valign": "top"}),
        }

    def input_format(self, kind: Kind) -> Any:
        return self.f[KINDS[kind].input_format]

    # ---- the whole workbook ------------------------------------------------
    def build(self) -> bytes:
        sheets = self.t.sheets
        review = self.wb.add_worksheet(FEEDBACK_SHEET) if self.notes else None
        help_ws = self.wb.add_worksheet(HELP_SHEET)
        project = self.wb.add_worksheet(sheets["project"])
        goals = self.wb.add_worksheet(sheets["goals"])
        guarantees = self.wb.add_worksheet(sheets["guarantees"])
        own = [(self.wb.add_worksheet(self.layout.tables[k].sheet), self.layout.tables[k])
               for k in self.layout.sheet_tables]
        checks = self.wb.add_worksheet(CHECK_SHEET)
        lists = self.wb.add_worksheet(LISTS_SHEET)
        meta = self.wb.add_worksheet(META_SHEET)
        self._lists(lists)
        self._project(project)
        self._goals(goals)
        self._guarantees(guarantees)
        for ws, tp in own:
            self._sheet_table(ws, tp)
        self._checks(checks)
        self._help(help_ws)
        self._meta(meta)
        for ws in (help_ws, project, goals, guarantees, *(ws for ws, _ in own), checks):
            self._protect(ws)
        if review is not None and self.notes is not None:
            self._mark(self.notes)
            self._review(review, self.notes)
            self._protect(review)
            self.wb.set_properties({"created": self.notes.created, "author": REVIEW_AUTHOR})
        self.wb.close()
        return _finish(self.buffer.getvalue(), self.password, self.verbatim)

    def _protect(self, ws: Worksheet) -> None:
        table_sheet = ws.name in {tp.sheet for tp in self.layout.tables.values()}
        ws.protect(self.password, {
            "format_columns": True,
            "format_rows": True,
            "insert_rows": table_sheet,  # more rows for a long table; names stretch with them
            "select_locked_cells": True,
            "select_unlocked_cells": True,
        })

    # ---- rows and pages ------------------------------------------------------
    def _tall(self, ws: Worksheet, row: int, points: float) -> None:
        """Row `row` is at least `points` high (the largest need of its cells wins)."""
        sheet = self.heights.setdefault(ws.name, {})
        sheet[row] = max(sheet.get(row, 0.0), points)

    def _tall_for(self, ws: Worksheet, row: int, text: str, width: float, size: float = paper.BODY_PT) -> None:
        self._tall(ws, row, paper.lines_pt(paper.text_lines(text, width, size), size))

    def _print_setup(self, ws: Worksheet, *, landscape: bool, repeat_to: int, widths: tuple[int, ...],
                     last_row: int, blocks: list[tuple[int, int]], repeat_from: int = 0) -> None:
        """A4, one page wide, rows 0..repeat_to on every page, each row at its height, and a page
        break before each block of rows (a table, a field) that would not fit the page in full."""
        ws.set_paper(9)  # A4
        if landscape:
            ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(left=paper.MARGIN_LR_PT / 72, right=paper.MARGIN_LR_PT / 72,
                       top=paper.MARGIN_TB_PT / 72, bottom=paper.MARGIN_TB_PT / 72)
        ws.repeat_rows(repeat_from, repeat_to)
        ws.set_footer("&C第 &P 页，共 &N 页")
        sized = self.heights.get(ws.name, {})
        for row, points in sorted(sized.items()):
            ws.set_row(row, points)
        heights = [sized.get(r) for r in range(last_row + 1)]
        breaks = paper.page_breaks(widths, heights, blocks, repeat_to + 1, landscape)
        if breaks:
            ws.set_h_pagebreaks(breaks)

    def _heading(self, ws: Worksheet, title: str, width: int) -> None:
        last = width - 1
        ws.merge_range(0, 0, 0, last, title, self.f["title"])
        self._tall(ws, 0, TITLE_PT)
        ws.merge_range(1, 0, 1, last, f"（{self.d.identity.year} 年）", self.f["subtitle"])
        self._tall(ws, 1, paper.ONE_LINE_PT)

    # ---- 项目总体情况 --------------------------------------------------------
    def _project(self, ws: Worksheet) -> None:
        t, f = self.t, self.f
        for col, width in enumerate(PROJECT_WIDTHS):
            ws.set_column(col, col, width)
        self._heading(ws, t.titles["project"], PROJECT_COLS)
        ws.write_string(2, 4, f"金额单位：{t.money_unit}", f["right"])
        ws.write_string(2, 5, "", f["plain"])
        for key, first, last in self.layout.groups:
            if last > first:
                ws.merge_range(first, 0, last, 0, t.labels[key], f["label"])
            else:
                ws.write_string(first, 0, t.labels[key], f["label"])
        for cell in self.layout.fields.values():
            self._label(ws, cell)
            self._field(ws, cell)
        self._funding_checks(ws)
        self._signature(ws)
        last_row = max(max(c.row for c in self.layout.fields.values()), self._signature_row())
        self._fill_gaps(ws, last_row)
        # Every row has its height: merged inputs never grow by themselves, in any program.
        for row in range(2, last_row + 1):
            self._tall(ws, row, paper.ONE_LINE_PT if self._used(row) else SPACER_PT)
        self._print_setup(ws, landscape=False, repeat_to=2, widths=PROJECT_WIDTHS, last_row=last_row,
                          blocks=self._project_blocks(last_row))

    def _used(self, row: int) -> bool:
        return any(c.row == row for c in self.layout.fields.values())

    def _project_blocks(self, last_row: int) -> list[tuple[int, int]]:
        """Rows that print on one page together: each field row, each group under one merged label,
        and the signature rows with the blank row above them."""
        blocks: list[tuple[int, int]] = []
        row = FIRST_FIELD_ROW
        groups = {first: last for _, first, last in self.layout.groups}
        while row <= last_row:
            if row in groups:
                end = groups[row]
            elif not self._used(row):
                end = last_row
            else:
                end = row
            blocks.append((row, end))
            row = end + 1
        return blocks

    def _fill_gaps(self, ws: Worksheet, last_row: int) -> None:
        """Border the cells of the form's grid that hold nothing (left of 联系电话), so the printed table
        has no holes."""
        taken: set[tuple[int, int]] = set()
        for cell in self.layout.fields.values():
            taken.update((cell.row, c) for c in range(cell.label_col, cell.label_last_col + 1))
            taken.update((cell.row, c) for c in range(cell.col, cell.last_col + 1))
        for _, first, last in self.layout.groups:
            taken.update((r, 0) for r in range(first, last + 1))
        funding = {self.layout.fields[k].row for k in self.layout.funding_keys}
        taken.update((r, FUNDING_CHECK_COL) for r in funding)
        first_row = FIRST_FIELD_ROW
        grid_rows = [r for r in range(first_row, last_row + 1) if self._used(r) and r != self._signature_row()]
        for row in grid_rows:
            col = 0
            while col < PROJECT_COLS:
                if (row, col) in taken:
                    col += 1
                    continue
                end = col
                while end + 1 < PROJECT_COLS and (row, end + 1) not in taken:
                    end += 1
                if end > col:
                    ws.merge_range(row, col, row, end, "", self.f["computed"])
                else:
                    ws.write_blank(row, col, None, self.f["computed"])
                col = end + 1

    def _label(self, ws: Worksheet, cell: FieldCell) -> None:
        text = self.t.labels[cell.field.key]
        style = self.f["label_left"] if cell.label_col == 1 else self.f["label"]  # sub-labels sit in B
        if cell.field.key == "unit":
            ws.write_string(cell.row, cell.label_col, text, self.f["plain_fit"])
            return
        if cell.label_last_col > cell.label_col:
            ws.merge_range(cell.row, cell.label_col, cell.row, cell.label_last_col, text, style)
        else:
            ws.write_string(cell.row, cell.label_col, text, style)
        self._tall_for(ws, cell.row, text, sum(PROJECT_WIDTHS[cell.label_col : cell.label_last_col + 1]))

    def _field(self, ws: Worksheet, cell: FieldCell) -> None:
        field = cell.field
        value = field_value(self.d, field.group, field.key)
        fmt = self.input_format(field.kind)
        if field.key == "unit":
            department = self.d.identity.department
            value = value or department
            fmt = self.f["fixed"] if department else self.f["text"]  # issued: the name is fixed
        if cell.last_col > cell.col:
            ws.merge_range(cell.row, cell.col, cell.row, cell.last_col, "", fmt)
        self._value(ws, cell.row, cell.col, field.kind, value, fmt)
        self.wb.define_name(field.name, _abs(ws.name, cell.row, cell.col))
        limit = self.t.limits.get(field.key, 0)
        if fmt is not self.f["fixed"]:
            self._validate(ws, cell.row, cell.col, field.kind, field.choices, field.key in self.t.required,
                           self.t.labels[field.key], limit=limit, per_line=field_per_line(field.key) if limit else 0,
                           prompt=self.t.prompts.get(field.key, ""))
        if limit:
            # Room for the longest text the validation lets in; more if a text over the limit is written.
            self._tall(ws, cell.row, paper.limit_pt(limit, field_per_line(field.key)))
            if field.key != "unit":  # the department may be stamped in later: its row may not depend on it
                self._tall_for(ws, cell.row, str(value or ""), box_width(field.key))

    def _value(self, ws: Worksheet, row: int, col: int, kind: Kind, value: Any, fmt: Any) -> None:
        """Write one input value with the call that suits its kind; None / "" stays blank."""
        cell = KINDS[kind].cell
        if value is None or value == "" or value is False:
            ws.write_blank(row, col, None, fmt)
        elif cell is Cell.NUMBER:
            ws.write_number(row, col, float(value), fmt)
        elif cell is Cell.DATE:
            ws.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
        elif cell is Cell.TICK:
            ws.write_string(row, col, TICK, fmt)
        else:
            self._text(ws, row, col, _shown(kind, value), fmt)

    def _text(self, ws: Worksheet, row: int, col: int, text: str, fmt: Any = None) -> None:
        """User text, always as text. xlsxwriter writes a string shaped like "<r>…</r>" into the file as
        raw rich-text XML (a formula cell could ride in on it), so such a string is written by _finish."""
        if text.startswith("<r>") and text.endswith("</r>"):
            token = f"XLFORMVERBATIM{uuid.uuid4().hex}"
            self.verbatim[token] = text
            text = token
        ws.write_string(row, col, text, fmt)

    def _validate(self, ws: Worksheet, row: int, col: int, kind: Kind, choices: str, required: bool,
                  label: str, last_row: int | None = None, *, limit: int = 0, per_line: int = 0,
                  prompt: str = "") -> None:
        """Data validation with a Chinese prompt and error for one cell or a column of cells.

        Text kinds take `limit` characters, a line break counting as a whole line of `per_line`
        characters: what the validation lets in prints in full in the cell's row (paper.limit_lines)."""
        last_row = row if last_row is None else last_row
        rule = KINDS[kind].validation(Validating(
            here=xl_rowcol_to_cell(row, col), need="（必填）" if required else "",
            year=self.d.identity.year or self.t.year, money_unit=self.t.money_unit, choices=choices,
            left=xl_rowcol_to_cell(row, col - 1, col_abs=True) if col else "", limit=limit, per_line=per_line))
        if prompt:  # the template's own words for this cell, then what the cell accepts
            rule["input_message"] = f"{prompt}\n{rule['input_message']}"
        self._apply_validation(ws, row, col, last_row, rule, label)

    def _apply_validation(self, ws: Worksheet, row: int, col: int, last_row: int, rule: dict[str, Any],
                          label: str) -> None:
        rule["input_message"] = rule["input_message"][:255]  # Excel refuses a longer prompt
        rule["input_title"] = label[:32]
        rule["error_title"] = "输入有误"
        rule["ignore_blank"] = True
        ws.data_validation(row, col, last_row, col, rule)

    def _funding_checks(self, ws: Worksheet) -> None:
        """Beside each amount: what is wrong, in words, while a check on it fails; the amount turns red."""
        fields = self.layout.fields
        notes = livechecks.notes_by_field(self.t)
        for key, messages in notes.items():
            cell = fields[key]
            for check, _ in messages:
                ws.conditional_format(cell.row, cell.col, cell.row, cell.col,
                                      {"type": "formula", "criteria": check.fail_formula(), "format": self.f["bad"]})
        for key in self.layout.funding_keys:
            row = fields[key].row
            messages = notes.get(key, [])
            if not messages:
                ws.write_blank(row, FUNDING_CHECK_COL, None, self.f["note"])
                continue
            ws.write_formula(row, FUNDING_CHECK_COL, livechecks.note_formula(messages), self.f["note"],
                             livechecks.note_text(messages, self.d))
            # Room for every message at once, so none is ever cut off on paper.
            every = livechecks.NOTE_SEPARATOR.join(text for _, text in messages)
            self._tall_for(ws, row, every, PROJECT_WIDTHS[FUNDING_CHECK_COL], NOTE_PT)

    def _signature_row(self) -> int:
        return self.layout.signature_row

    def _signature(self, ws: Worksheet) -> None:
        row = self._signature_row()
        ws.merge_range(row, 3, row, 5, "（填报单位盖章）", self.f["right"])

    # ---- 绩效目标 ------------------------------------------------------------
    def _goals(self, ws: Worksheet) -> None:
        t, f, layout = self.t, self.f, self.layout
        widths = layout.goals_widths
        width = len(widths)
        for col, w in enumerate(widths):
            ws.set_column(col, col, w)
        self._heading(ws, t.titles["goals"], width)
        ws.write_string(2, 0, t.titles["goals_annex"], f["plain"])
        ws.write_string(2, width - 1, f"金额单位：{t.money_unit}", f["right"])
        self._tall(ws, 2, paper.ONE_LINE_PT)
        self._project_name_row(ws, widths)
        blocks = []
        for key in layout.goals_tables:
            tp = layout.tables[key]
            self._table(ws, tp, rows_of(self.d, key))
            self._tall(ws, tp.header_row - 1, SPACER_PT)
            last = {"activities": layout.activity_total_row, "costs": layout.cost_total_row}.get(key, tp.last_row)
            blocks.append((tp.header_row - 1, last))  # a table never splits across pages (its label is one cell)
        self._activity_total(ws, layout.tables["activities"])
        self._cost_total(ws, layout.tables["costs"])
        ws.freeze_panes(PROJECT_NAME_ROW_GOALS + 1, 0)
        self._print_setup(ws, landscape=True, repeat_to=PROJECT_NAME_ROW_GOALS, widths=widths,
                          last_row=layout.goals_last_row, blocks=blocks)

    def _project_name_row(self, ws: Worksheet, widths: tuple[int, ...]) -> None:
        row = PROJECT_NAME_ROW_GOALS
        ws.write_string(row, 0, self.t.labels["name"], self.f["label"])
        if len(widths) > 2:
            ws.merge_range(row, 1, row, len(widths) - 1, "", self.f["computed"])
        ws.write_formula(row, 1, '=IF(f_name="","",f_name)', self.f["computed"], self.d.project.name)
        self._tall_for(ws, row, self.d.project.name, sum(widths[1:]))

    def _table(self, ws: Worksheet, tp: TablePos, rows: list[Any]) -> None:
        """A row table under its merged section label in column A."""
        ws.merge_range(tp.header_row, 0, tp.last_row, 0, tp.section_label, self.f["label"])
        self._table_body(ws, tp, rows)

    def _table_body(self, ws: Worksheet, tp: TablePos, rows: list[Any]) -> None:
        """Headers, input rows (values where given), validations, and the names t_<table> and c_<table>_<column>.

        Input rows keep no height of their own, so Excel, WPS and LibreOffice grow them as a clerk types
        (unmerged cells do); rows written with text that wraps get the height it needs."""
        for c in tp.columns:
            ws.write_string(tp.header_row, c.col, c.header, self.f["header"])
            self._tall_for(ws, tp.header_row, c.header, c.width)
        for i in range(tp.n_rows):
            item = rows[i] if i < len(rows) else None
            for c in tp.columns:
                if c.column.computed:
                    self._library_help(ws, tp, tp.first_row + i, c, item)
                    continue
                value = row_value(item, c.column.key) if item is not None else None
                self._value(ws, tp.first_row + i, c.col, c.column.kind, value, self.input_format(c.column.kind))
                if c.column.kind in (Kind.TEXT, Kind.LONG, Kind.CHOICE, Kind.CODE, Kind.TARGET) and value:
                    lines = paper.text_lines(_shown(c.column.kind, value), c.width)
                    if lines > 1:
                        self._tall(ws, tp.first_row + i, paper.lines_pt(lines))
        sheet = quote_sheetname(ws.name)
        for c in tp.columns:
            text_kind = c.column.kind in (Kind.TEXT, Kind.LONG, Kind.TARGET)
            if c.column.computed:
                pass  # locked: nothing to validate
            elif c.column.key == "name" and self._library_keys(tp):
                self._validate_library_name(ws, tp, c)
            else:
                self._validate(ws, tp.first_row, c.col, c.column.kind, c.column.choices, False, c.header, tp.last_row,
                               limit=c.limit if text_kind else 0, per_line=c.per_line if text_kind else 0)
            letter = xl_col_to_name(c.col)
            self.wb.define_name(f"c_{tp.table}_{c.column.key}",
                                f"={sheet}!${letter}${tp.first_row + 1}:${letter}${tp.last_row + 1}")
        self.wb.define_name(tp.name, f"={sheet}!${xl_col_to_name(tp.first_col)}${tp.first_row + 1}"
                                     f":${xl_col_to_name(tp.last_col)}${tp.last_row + 1}")
        if tp.table == "indicators" and any(getattr(item, "last_target", "") for item in rows):
            self._last_targets(ws, tp, rows)

    def _last_targets(self, ws: Worksheet, tp: TablePos, rows: list[Any]) -> None:
        """上年目标值 beside the indicator table of a carried-over form: locked (grey, like every computed cell),
        so the clerk sees last year's target while setting this year's and the reviewer's comparison holds."""
        col = tp.last_col + 1
        if col >= len(self.layout.goals_widths):
            ws.set_column(col, col, 12)
        ws.write_string(tp.header_row, col, LAST_TARGET_HEADER, self.f["header"])
        for i in range(tp.n_rows):
            text = rows[i].last_target if i < len(rows) else ""
            if text:
                self._text(ws, tp.first_row + i, col, text, self.f["computed"])
            else:
                ws.write_blank(tp.first_row + i, col, None, self.f["computed"])
        letter = xl_col_to_name(col)
        self.wb.define_name(LAST_TARGET_NAME, f"={quote_sheetname(ws.name)}!${letter}${tp.first_row + 1}"
                                              f":${letter}${tp.last_row + 1}")

    # ---- the indicator library (指标库) -------------------------------------------
    def _library_keys(self, tp: TablePos) -> tuple[int, int, int] | None:
        """The columns of 一级, 二级 and 三级 of an indicator table, when the template has a library."""
        level1, level2, name = tp.col_of("level1"), tp.col_of("level2"), tp.col_of("name")
        if self.t.library is None or level1 is None or level2 is None or name is None:
            return None
        return level1, level2, name

    def _validate_library_name(self, ws: Worksheet, tp: TablePos, c: TableCol) -> None:
        """三级: a dropdown of the library's indicators for the row's 一级 and 二级 (the third level of the
        cascade, lists named by position like 二级's), which still takes the department's own indicator."""
        keys = self._library_keys(tp)
        assert keys is not None
        level1, level2, _ = (xl_rowcol_to_cell(tp.first_row, col, col_abs=True) for col in keys)
        where = f'MATCH({level1},l_level1,0)'
        rule = {"validate": "list",
                "source": f'=INDIRECT("l3_"&{where}&"_"&MATCH({level2},INDIRECT("l2_"&{where}),0))',
                "error_type": "information",
                "input_message": f"可从下拉列表选择指标库中的指标（先选一级、二级），也可填写本单位自己的指标"
                                 f"（最多 {c.limit} 个字）。",
                "error_message": "这不是指标库中的指标；作为本单位自定义的指标填写请点“确定”，重新选择请点“取消”。"}
        self._apply_validation(ws, tp.first_row, c.col, tp.last_row, rule, c.header)

    def _library_help(self, ws: Worksheet, tp: TablePos, row: int, c: TableCol, item: Any) -> None:
        """The chosen library indicator's 指标解释 and 计量单位, by a lookup on the hidden list sheet; the cached
        value is what the formula gives for the row as written ("" for a blank row or an own indicator)."""
        keys = self._library_keys(tp)
        library = self.t.library
        if keys is None or library is None:
            ws.write_blank(row, c.col, None, self.f["computed"])
            return
        level2, name = (xl_rowcol_to_cell(row, col) for col in keys[1:])
        found = library.find(item.level2, item.name) if isinstance(item, Indicator) else None
        shown = found.help if found is not None else ""
        ws.write_formula(row, c.col, f'=IFERROR(INDEX(l3_help,MATCH({level2}&"{LIBRARY_KEY_SEPARATOR}"&{name},'
                                     'l3_key,0)),"")', self.f["computed"], shown)
        if shown:
            self._tall_for(ws, row, shown, c.width)

    def _total_note(self, ws: Worksheet, row: int, amount_col: int, note_col: int, check_id: str) -> None:
        """A total on 绩效目标 that disagrees with 当年预算 turns red, and the cell beside it says so."""
        check = next((c for c in livechecks.live_checks(self.t) if c.id == check_id), None)
        if check is None:  # the template lacks a field the check needs (当年预算)
            ws.write_blank(row, note_col, None, self.f["note"])
            return
        ws.conditional_format(row, amount_col, row, amount_col,
                              {"type": "formula", "format": self.f["bad"], "criteria": check.fail_formula()})
        messages = [(check, livechecks.TOTAL_NOTES[check_id])]
        ws.write_formula(row, note_col, livechecks.note_formula(messages), self.f["note"],
                         livechecks.note_text(messages, self.d))

    def _activity_total(self, ws: Worksheet, tp: TablePos) -> None:
        row = self.layout.activity_total_row
        amount_col = tp.col_of("amount")
        assert amount_col is not None
        ws.write_string(row, 0, "", self.f["label"])
        ws.write_string(row, tp.first_col, self.t.labels["activity_total"], self.f["label"])
        total = sum((a.amount for a in self.d.activities if a.amount is not None), Decimal(0))
        ws.write_formula(row, amount_col, "=SUM(c_activities_amount)", self.f["computed_money"], float(total))
        self._total_note(ws, row, amount_col, amount_col + 1, "activities_sum")
        for col in range(tp.first_col + 1, tp.last_col + 1):
            if col not in (amount_col, amount_col + 1):
                ws.write_string(row, col, "", self.f["computed"])
        self._tall(ws, row, paper.ONE_LINE_PT)

    def _cost_total(self, ws: Worksheet, tp: TablePos) -> None:
        """金额合计 row and a per-row check column right of 项目构成分解."""
        f = self.f
        row = self.layout.cost_total_row
        amount, price, qty = (tp.col_of(k) for k in ("amount", "unit_price", "quantity"))
        check_col = tp.last_col + 1
        ws.write_string(tp.header_row, check_col, "校验", f["header"])
        ws.write_string(row, 0, "", f["label"])
        ws.write_string(row, tp.first_col, self.t.labels["cost_total"], f["label"])
        assert amount is not None
        total = sum((c.amount for c in self.d.costs if c.amount is not None), Decimal(0))
        ws.write_formula(row, amount, "=SUM(c_costs_amount)", f["computed_money"], float(total))
        self._total_note(ws, row, amount, amount + 1, "cost_total")
        for col in range(tp.first_col + 1, check_col + 1):
            if col not in (amount, amount + 1):
                ws.write_string(row, col, "", f["computed"])
        self._tall(ws, row, paper.ONE_LINE_PT)
        for i in range(tp.n_rows):
            r = tp.first_row + i
            item = self.d.costs[i] if i < len(self.d.costs) else None
            if price is None or qty is None:
                ws.write_blank(r, check_col, None, f["note"])
                continue
            cells = [xl_rowcol_to_cell(r, c) for c in (amount, price, qty)]
            cached = livechecks.cost_row_message(item.amount, item.unit_price, item.quantity) if item else ""
            ws.write_formula(r, check_col, livechecks.cost_row_formula(*cells), f["note"], cached)
        self.wb.define_name("c_costs_check", f"={quote_sheetname(ws.name)}!${xl_col_to_name(check_col)}$"
                                             f"{tp.first_row + 1}:${xl_col_to_name(check_col)}${tp.last_row + 1}")
        ws.conditional_format(tp.first_row, amount, tp.last_row, amount, {
            "type": "formula", "format": f["bad"],
            "criteria": f'=LEN({xl_rowcol_to_cell(tp.first_row, check_col, col_abs=True)})>0'})

    # ---- 制度保障 ------------------------------------------------------------
    def _guarantees(self, ws: Worksheet) -> None:
        t, f = self.t, self.f
        tp = self.layout.tables["guarantees"]
        widths = tuple(c.width for c in tp.columns)
        for c in tp.columns:
            ws.set_column(c.col, c.col, c.width)
        self._heading(ws, t.titles["guarantees"], len(widths))
        self._tall(ws, 2, SPACER_PT)
        self._project_name_row(ws, widths)
        stages = [c.col for c in tp.columns if c.column.kind is Kind.TICK]
        group_row = tp.header_row - 1
        for c in tp.columns:
            ws.write_blank(group_row, c.col, None, f["header"])
        ws.write_string(group_row, 0, t.labels["guarantees"], f["header"])
        if stages:
            ws.merge_range(group_row, stages[0], group_row, stages[-1], "保障阶段", f["header"])
        self._tall(ws, group_row, paper.ONE_LINE_PT)
        self._table_body(ws, tp, self.d.guarantees)
        ws.freeze_panes(tp.first_row, 0)
        self._print_setup(ws, landscape=False, repeat_to=tp.header_row, widths=widths, last_row=tp.last_row,
                          blocks=[(r, r) for r in range(tp.first_row, tp.last_row + 1)])

    def _sheet_table(self, ws: Worksheet, tp: TablePos) -> None:
        """A table the template adds on a sheet of its own: a title, the project name, then the table."""
        widths = tuple(c.width for c in tp.columns)
        for c in tp.columns:
            ws.set_column(c.col, c.col, c.width)
        self._heading(ws, tp.section_label, max(len(widths), 2))
        self._tall(ws, 2, SPACER_PT)
        self._project_name_row(ws, widths if len(widths) > 1 else (*widths, 12))  # the name needs a column
        self._tall(ws, tp.header_row - 1, SPACER_PT)
        self._table_body(ws, tp, rows_of(self.d, tp.table))
        ws.freeze_panes(tp.first_row, 0)
        self._print_setup(ws, landscape=len(widths) > 6, repeat_to=tp.header_row, widths=widths,
                          last_row=tp.last_row, blocks=[(r, r) for r in range(tp.first_row, tp.last_row + 1)])

    # ---- a workbook sent back: 审核意见 and the cells to fix ---------------------
    def _mark(self, notes: ReviewNotes) -> None:
        """Each cell a finding points at filled red (the whole merged box it belongs to), keeping its other
        properties (an input cell stays unlocked), with a comment holding the findings' messages."""
        messages: dict[tuple[str, int, int], list[str]] = {}
        for sheet, cell, message in notes.marks:
            if self.wb.get_worksheet_by_name(sheet) is None or not cell:
                continue
            row, col = xl_cell_to_rowcol(cell.split(":")[0])
            said = messages.setdefault((sheet, row, col), [])
            if message not in said:
                said.append(message)
        red: dict[int, Any] = {}
        for (sheet, row, col), said in messages.items():
            ws = self.wb.get_worksheet_by_name(sheet)
            assert ws is not None
            box = next(((r0, c0, r1, c1) for r0, c0, r1, c1 in ws.merge if r0 <= row <= r1 and c0 <= col <= c1),
                       (row, col, row, col))
            for r in range(box[0], box[2] + 1):
                for c in range(box[1], box[3] + 1):
                    self._fill_red(ws, r, c, red)
            text = "\n".join(said)
            lines = sum(paper.text_lines(m, 40) for m in said)
            ws.write_comment(row, col, text, {"author": REVIEW_AUTHOR, "x_scale": 2.5,
                                              "y_scale": max(1.0, lines * 0.35)})

    def _fill_red(self, ws: Worksheet, row: int, col: int, red: dict[int, Any]) -> None:
        cell = ws.table.get(row, {}).get(col)
        old = getattr(cell, "format", None)
        key = id(old)
        if key not in red:
            props = self.props.get(key, {"border": 1}) if old is not None else {"border": 1}
            red[key] = self.wb.add_format({**props, "bg_color": FIX_FILL, "pattern": 1})
        if cell is None:
            ws.write_blank(row, col, None, red[key])
        else:
            ws.table[row][col] = cell._replace(format=red[key])

    def _review(self, ws: Worksheet, notes: ReviewNotes) -> None:
        """审核意见: the opinion, then one row per finding; read-only, printed on A4 one page wide."""
        f = self.f
        last = len(REVIEW_WIDTHS) - 1
        for col, width in enumerate(REVIEW_WIDTHS):
            ws.set_column(col, col, width)
        ws.merge_range(0, 0, 0, last, notes.title, f["title"])
        self._tall(ws, 0, TITLE_PT)
        row = 1
        for what, text in notes.opinion:
            ws.merge_range(row, 0, row, 2, what, f["label_left"])
            ws.merge_range(row, 3, row, last, "", f["computed"])
            self._text(ws, row, 3, text, f["computed"])
            self._tall_for(ws, row, text, sum(REVIEW_WIDTHS[3:]))
            self._tall_for(ws, row, what, sum(REVIEW_WIDTHS[:3]))
            row += 1
        self._tall(ws, row, SPACER_PT)
        head = row + 1
        for col, text in enumerate(REVIEW_HEADS):
            ws.write_string(head, col, text, f["header"])
        self._tall(ws, head, paper.ONE_LINE_PT)
        for i, values in enumerate(notes.findings, start=1):
            r = head + i
            ws.write_number(r, 0, i, f["computed"])
            for col, text in enumerate(values, start=1):
                self._text(ws, r, col, text, f["computed"])
                self._tall_for(ws, r, text, REVIEW_WIDTHS[col])
        end = head + max(len(notes.findings), 0)
        ws.activate()
        self._print_setup(ws, landscape=True, repeat_from=head, repeat_to=head, widths=REVIEW_WIDTHS, last_row=end,
                          blocks=[(r, r) for r in range(1, end + 1)])

    # ---- 校验, 填表说明, lists, meta ------------------------------------------
    def _checks(self, ws: Worksheet) -> None:
        f = self.f
        for col, width in enumerate(CHECK_WIDTHS):
            ws.set_column(col, col, width)
        ws.merge_range(0, 0, 0, 2, "校验结果（随填写自动更新）", f["title"])
        self._tall(ws, 0, TITLE_PT)
        for col, head in enumerate(("检查项", "结果", "未通过时如何修改")):
            ws.write_string(1, col, head, f["header"])
        self._tall(ws, 1, paper.ONE_LINE_PT)
        checks = livechecks.live_checks(self.t)
        for i, check in enumerate(checks):
            r = 2 + i
            ws.write_string(r, 0, check.title, f["computed"])
            ws.write_formula(r, 1, check.status_formula(), f["computed"], check.status(self.d))
            ws.write_string(r, 2, check.fix, f["computed"])
            self._tall_for(ws, r, check.title, CHECK_WIDTHS[0])
            self._tall_for(ws, r, check.fix, CHECK_WIDTHS[2])
        last = 1 + len(checks)
        ws.conditional_format(2, 1, last, 1, {"type": "cell", "criteria": "==",
                                              "value": f'"{livechecks.FAIL}"', "format": f["bad"]})
        ws.conditional_format(2, 1, last, 1, {"type": "cell", "criteria": "==",
                                              "value": f'"{livechecks.PASS}"', "format": f["good"]})
        note = (f"说明：“{livechecks.PENDING}”表示该项所需的单元格还没有填写。"
                "本页只做金额勾稽检查；必填项、指标层级、目标值等由财政部门收表时统一审核。")
        ws.merge_range(last + 2, 0, last + 2, 2, note, f["help"])
        self._tall(ws, last + 1, SPACER_PT)
        self._tall_for(ws, last + 2, note, sum(CHECK_WIDTHS))
        self._print_setup(ws, landscape=False, repeat_to=1, widths=CHECK_WIDTHS, last_row=last + 2,
                          blocks=[(r, r) for r in range(2, last + 3)])

    def _help(self, ws: Worksheet) -> None:
        f = self.f
        ws.set_column(0, 0, HELP_WIDTH)
        ws.write_string(0, 0, f"{self.t.title} · 填表说明", f["help_title"])
        self._tall(ws, 0, 24)
        self._tall(ws, 1, SPACER_PT)
        lines = help_lines(self.t, self.layout)
        for i, (kind, text) in enumerate(lines, start=2):
            ws.write_string(i, 0, text, f["help_head"] if kind == "head" else f["help"])
            self._tall_for(ws, i, text, HELP_WIDTH)
        if self.notes is None:  # a workbook sent back opens on 审核意见
            ws.activate()
        last = 1 + len(lines)
        self._print_setup(ws, landscape=False, repeat_to=0, widths=(HELP_WIDTH,), last_row=last,
                          blocks=[(r, r) for r in range(1, last + 1)])

    def _lists(self, ws: Worksheet) -> None:
        """Every dropdown list lives here (never inline: Excel caps inline lists at 255 chars)."""
        lists: dict[str, tuple[str, ...]] = dict(self.t.choices)
        lists.update({key: self.t.choice_list(key) for key in self.t.codes})  # shown as 编码-名称
        lists["level1"] = self.t.level1
        lists["tick"] = (TICK,)
        col = 0
        for key, values in lists.items():
            self._list_column(ws, col, f"l_{key}", values)
            col += 1
        # One list of 二级 per 一级, named by position: 一级 text need not be a valid name.
        for i, values in enumerate(self.t.taxonomy.values(), start=1):
            self._list_column(ws, col, f"l2_{i}", values)
            col += 1
        library = self.t.library
        if library is not None:
            # 三级 of the library by 一级 and 二级 position (l3_<一级>_<二级>); the help column's lookup by 二级|三级.
            for i, (level1, level2s) in enumerate(self.t.taxonomy.items(), start=1):
                for j, level2 in enumerate(level2s, start=1):
                    self._list_column(ws, col, f"l3_{i}_{j}", library.under(level1, level2))
                    col += 1
            sep = LIBRARY_KEY_SEPARATOR
            self._list_column(ws, col, "l3_key", tuple(f"{x.level2}{sep}{x.name}" for x in library.indicators))
            self._list_column(ws, col + 1, "l3_help", tuple(x.help for x in library.indicators))
        ws.hide()
        ws.protect(self.password)

    def _list_column(self, ws: Worksheet, col: int, name: str, values: tuple[str, ...]) -> None:
        ws.write_string(0, col, name)
        for r, v in enumerate(values, start=1):
            self._text(ws, r, col, v)  # lists come from files a bureau edits (a library's 指标解释 too)
        letter = xl_col_to_name(col)
        # An empty list is one blank cell (never $X$2:$X$1, which would take in the header).
        self.wb.define_name(name, f"={LISTS_SHEET}!${letter}$2:${letter}${max(len(values), 1) + 1}")

    def _meta(self, ws: Worksheet) -> None:
        values = meta_values(self.d.identity, __version__)
        carried = [key for key in CARRY_KEYS if values[key]]
        for r, key in enumerate(META_KEYS + tuple(carried)):
            ws.write_string(r, 0, key)
            self._text(ws, r, 1, values[key])
        ws.very_hidden()
        ws.protect(self.password)


def _shown(kind: Kind, value: Any) -> str:
    """The text a table or field value shows in its cell."""
    if kind is Kind.TARGET:
        return value.raw if hasattr(value, "raw") else str(value)
    return str(value)


def _abs(sheet: str, row: int, col: int) -> str:
    return f"={quote_sheetname(sheet)}!{xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)}"


def _legacy_password_hash(password: str) -> str:
    """Excel's 16-bit password verifier, as workbookProtection's workbookPassword expects."""
    h = 0
    for i, ch in enumerate(password, start=1):
        value = ord(ch) << i
        h ^= ((value >> 15) | value) & 0x7FFF
    h ^= len(password) ^ 0xCE4B
    return f"{h:X}"


def _finish(data: bytes, password: str, verbatim: dict[str, str]) -> bytes:
    """Add <workbookProtection lockStructure="1"/> (no adding, renaming or deleting sheets), which
    xlsxwriter does not offer, and put each verbatim text in place of its placeholder string."""
    attrs = ' lockStructure="1"'
    if password:
        attrs = f' workbookPassword="{_legacy_password_hash(password)}"' + attrs
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                body = body.replace(b"<bookViews>", f"<workbookProtection{attrs}/><bookViews>".encode(), 1)
            elif info.filename == "xl/sharedStrings.xml":
                for token, text in verbatim.items():
                    body = body.replace(f"<t>{token}</t>".encode(), t_element(text).encode(), 1)
            dst.writestr(info, body)
    return out.getvalue()


def default_filename(template: Template, identity: Identity, stem: str = "绩效目标申报表") -> str:
    parts = [str(identity.year or template.year)]
    if identity.department:
        parts.append(identity.department)
    parts.append(stem)
    return "_".join(parts) + ".xlsx"

