"""A written workbook as readable text, for the layout snapshots in tests/snapshots/.

Read with openpyxl (a reader other than xlform's own), section by section: sheets, defined names, then per sheet
its protection, print setup, column widths, row heights, merged ranges, the text of locked cells (labels, titles,
formulas), the unlocked cells a clerk types into, and data validations. Nothing that changes from one run to
the next is shown: _meta's form id, time written, fingerprint, template digest and generator version are shown as "…".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from xlform.form.fields import META_SHEET

_PROTECTION_FLAGS = ("sheet", "objects", "scenarios", "formatCells", "formatColumns", "formatRows", "insertColumns",
                     "insertRows", "insertHyperlinks", "deleteColumns", "deleteRows", "selectLockedCells",
                     "selectUnlockedCells", "sort", "autoFilter", "pivotTables")


# _meta values that differ from one write (or one xlform version) to the next: shown as "…".
_VOLATILE_META = frozenset({"generator", "form_id", "issued_at", "fingerprint", "template_digest"})


def _text(value: Any) -> str:
    """A value on one line: line breaks shown as ⏎ so each cell stays one line of the snapshot."""
    return str(value).replace("\r\n", "⏎").replace("\n", "⏎")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def workbook_text(path: Path) -> str:
    wb = openpyxl.load_workbook(path)
    out = ["[workbook]"]
    out += [f"sheet {ws.title} ({ws.sheet_state})" for ws in wb.worksheets]
    security = wb.security
    out.append(f"structure locked: {bool(security and security.lockStructure)}")
    out.append("")
    out.append("[defined names]")
    out += [f"{name} → {defined.attr_text}" for name, defined in sorted(wb.defined_names.items())]
    for ws in wb.worksheets:
        out.append("")
        out += _sheet_text(ws)
    return "\n".join(out) + "\n"


def _sheet_text(ws: Worksheet) -> list[str]:
    out = [f"[sheet {ws.title}]"]
    p = ws.protection
    out.append("protection: " + " ".join(f"{flag}={int(bool(getattr(p, flag)))}" for flag in _PROTECTION_FLAGS))
    out += _print_text(ws)
    widths = {key: dim.width for key, dim in sorted(ws.column_dimensions.items()) if dim.customWidth}
    out.append("column widths: " + " ".join(f"{k}={_num(w)}" for k, w in widths.items()))
    heights = {r: dim.height for r, dim in sorted(ws.row_dimensions.items()) if dim.height is not None}
    out.append("row heights: " + " ".join(f"{r}={_num(h)}" for r, h in heights.items()))
    hidden_rows = [str(r) for r, dim in sorted(ws.row_dimensions.items()) if dim.hidden]
    if hidden_rows:
        out.append("hidden rows: " + " ".join(hidden_rows))
    merged = sorted(ws.merged_cells.ranges, key=lambda m: (m.min_row, m.min_col))
    out.append("merged: " + " ".join(str(m) for m in merged))
    unlocked: list[str] = []  # runs of unlocked cells along a row: "B7:D7"
    for row in ws.iter_rows():
        run: list[str] = []
        for cell in row:
            if not cell.protection.locked:
                run.append(cell.coordinate)
                continue
            if run:
                unlocked.append(run[0] if len(run) == 1 else f"{run[0]}:{run[-1]}")
                run = []
            if cell.value is not None and cell.value != "":  # an empty string is no label
                volatile = ws.title == META_SHEET and cell.column > 1 and ws.cell(cell.row, 1).value in _VOLATILE_META
                out.append(f"{cell.coordinate}: {'…' if volatile else _text(cell.value)}")
        if run:
            unlocked.append(run[0] if len(run) == 1 else f"{run[0]}:{run[-1]}")
    out.append("unlocked: " + " ".join(unlocked))
    for dv in sorted(ws.data_validations.dataValidation, key=_position):
        parts = [f"validation {dv.sqref}: {dv.type}"]
        if dv.operator:
            parts.append(dv.operator)
        parts += [f"{k}={_text(v)}" for k, v in (("formula1", dv.formula1), ("formula2", dv.formula2)) if v is not None]
        parts.append(f"blank={'ok' if dv.allow_blank else 'no'}")
        if dv.showInputMessage and (dv.promptTitle or dv.prompt):
            parts.append(f"prompt={_text(dv.promptTitle or '')}|{_text(dv.prompt or '')}")
        if dv.showErrorMessage:
            parts.append(f"error={dv.errorStyle or 'stop'}|{_text(dv.errorTitle or '')}|{_text(dv.error or '')}")
        out.append(" ".join(parts))
    return out


def _position(dv: DataValidation) -> tuple[int, int, str]:
    """Validations in sheet order: by the first cell they cover (row, then column)."""
    min_col, min_row, _, _ = range_boundaries(str(dv.sqref).split()[0])
    return min_row or 0, min_col or 0, str(dv.sqref)


def _print_text(ws: Worksheet) -> list[str]:
    s, m, props = ws.page_setup, ws.page_margins, ws.sheet_properties.pageSetUpPr
    fit = bool(props and props.fitToPage)
    return [
        f"print: orientation={s.orientation or '-'} paper={s.paperSize or '-'} fit={'yes' if fit else 'no'}"
        + (f" fitWidth={s.fitToWidth} fitHeight={s.fitToHeight}" if fit else "")
        + f" titles={ws.print_title_rows or '-'}/{ws.print_title_cols or '-'} area={ws.print_area or '-'}"
        + f" centred={int(bool(ws.print_options.horizontalCentered))}",
        f"margins: left={_num(m.left)} right={_num(m.right)} top={_num(m.top)} bottom={_num(m.bottom)}"
        f" header={_num(m.header)} footer={_num(m.footer)}",
        f"header/footer: {_text(ws.oddHeader.center.text or '')}|{_text(ws.oddFooter.center.text or '')}",
    ]
