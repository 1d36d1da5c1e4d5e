"""Writing the report's tables: an xlsx workbook (xlsxwriter for each sheet's frame, xlsx_rows
for its data rows; user text always a text, never a formula or a link), CSV files, or one JSON document."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from ..errors import UserError
from ..export import csv_safe
from ..fileio import atomic_path, os_reason
from ..ooxml.cellref import cell_name
from ..ooxml.rows import PROBE, PROBE_ROW, SheetRows, fill_rows
from ..ooxml.ziparchive import TooLarge
from ..review.status import STATUS_STYLE
from .result import Heading, ReportResult, Table

if TYPE_CHECKING:
    from xlsxwriter.workbook import Workbook


def write_tables(tables: list[Table], output: Path, fmt: str, unit: str, result: ReportResult,
                 heading: Heading | None = None, jobs: int = 1) -> list[Path]:
    try:
        if fmt == "xlsx":
            write_xlsx(tables, output, unit, heading, jobs)
            return [output]
        if fmt == "json":
            write_json(tables, output, unit, result)
            return [output]
        return write_csv(tables, output)
    except TooLarge:
        raise UserError("报告超过 4 GB，无法写成一个 .xlsx 工作簿；请改用 --format csv。") from None
    except OSError as exc:
        raise UserError(f"无法写入 {output}：{os_reason(exc)}") from None


def write_xlsx(tables: list[Table], output: Path, unit: str, heading: Heading | None = None, jobs: int = 1) -> None:
    heading = heading or Heading()
    with atomic_path(output) as tmp:
        from xlsxwriter.workbook import Workbook  # imported where a report is written, not by every command

        wb = Workbook(str(tmp), {
            "constant_memory": True,  # rows go to disk as written: memory stays flat for 10,000 returns
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
        })
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        fmts = {
            "header": wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                     "align": "center"}),
            "text": wb.add_format(base),
            # What a reviewer types (审核结论, 审核意见): unlocked on a protected sheet, tinted so it is found.
            "input": wb.add_format({**base, "locked": False, "bg_color": "#FFF2CC", "text_wrap": True}),
            "wrapped": wb.add_format({**base, "text_wrap": True}),  # a paragraph (催报内容), printed whole
            "money": wb.add_format({**base, "num_format": "#,##0.00"}),
            "int": wb.add_format({**base, "num_format": "0"}),
            "number": wb.add_format({**base, "num_format": "General"}),
            "date": wb.add_format({**base, "num_format": "yyyy-mm-dd"}),
            "datetime": wb.add_format({**base, "num_format": "yyyy-mm-dd hh:mm"}),
            "total": wb.add_format({**base, "bold": True, "top": 1, "num_format": "#,##0.00"}),
            "total_int": wb.add_format({**base, "bold": True, "top": 1, "num_format": "0"}),
            "total_text": wb.add_format({**base, "bold": True, "top": 1}),
            "bad": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "good": wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"}),
            "warn": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        }
        rows: dict[str, SheetRows] = {}
        for number, table in enumerate((_on_sheet(t) for t in tables), start=1):
            _write_sheet(wb, table, fmts, heading)
            if table.key == "departments":
                _chart(wb, table, unit)
            if table.rows:  # xlsxwriter names worksheet parts by their order
                rows[f"xl/worksheets/sheet{number}.xml"] = SheetRows([c.kind for c in table.columns], table.rows)
        wb.close()
        fill_rows(tmp, rows, jobs)


def _on_sheet(table: Table) -> Table:
    """The table with its columns in worksheet order (Table.sheet_order)."""
    order = table.sheet_order()
    if order == list(range(len(table.columns))):
        return table
    status = order.index(table.status_col) if table.status_col is not None else None
    return Table(table.sheet, table.key, [table.columns[i] for i in order], _Picked(table.rows, order), table.totals,
                 status, table.protected)


class _Picked(Sequence[Sequence[Any]]):
    """Rows with their columns picked in another order as they are read. Not a second copy: keeping
    100,000 reordered rows alive costs the garbage collector more than picking them (0.1 s per report)."""

    def __init__(self, rows: Sequence[Sequence[Any]], order: list[int]) -> None:
        self._rows = rows
        self._pick = itemgetter(*order)  # more than one column here, so a tuple per row

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return map(self._pick, self._rows)

    @overload
    def __getitem__(self, i: int) -> Sequence[Any]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Sequence[Any]]: ...

    def __getitem__(self, i: int | slice) -> Sequence[Any] | Sequence[Sequence[Any]]:
        if isinstance(i, slice):
            return [self._pick(row) for row in self._rows[i]]
        return self._pick(self._rows[i])


def _write_sheet(wb: Workbook, table: Table, fmts: dict[str, Any], heading: Heading) -> None:
    ws = wb.add_worksheet(table.sheet)
    columns = table.columns
    for c, col in enumerate(columns):
        # An input column's own style unlocks its empty cells too (they have no cell of their own).
        ws.set_column(c, c, col.width, fmts["input"] if col.kind == "input" else None, {"hidden": col.hidden})
    ws.set_row(0, 30)
    for c, col in enumerate(columns):
        ws.write_string(0, c, col.header, fmts["header"])
    ws.freeze_panes(1, 0)
    _print_setup(ws, table, heading)
    if table.rows:  # the probe row: each column's style on one cell; fill_rows puts the rows in its place
        for c, col in enumerate(columns):
            _cell_writer(ws, col.kind, fmts)(PROBE_ROW - 1, c, PROBE[col.kind])
    last = len(table.rows)
    ws.autofilter(0, 0, max(last, 1), len(columns) - 1)
    if table.totals and table.rows:
        _totals(ws, table, last + 1, fmts)
    _inputs(ws, table, last)
    if table.status_col is not None and table.rows:
        for text, style in STATUS_STYLE:
            ws.conditional_format(1, table.status_col, last, table.status_col,
                                  {"type": "text", "criteria": "begins with", "value": text, "format": fmts[style]})


def _inputs(ws: Any, table: Table, last: int) -> None:
    """The dropdowns of input columns, and a protected sheet's protection: a reviewer types only there
    (filtering and sorting stay allowed: `xlform review` matches rows by their key, not their place)."""
    for c, col in enumerate(table.columns):
        if col.choices and last:
            ws.data_validation(1, c, last, c, {
                "validate": "list", "source": list(col.choices), "error_type": "stop",
                "error_title": col.header, "error_message": f"请从下拉列表中选择：{'、'.join(col.choices)}",
                "input_title": col.header, "input_message": "、".join(col.choices)})
    if table.protected:
        ws.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True})


def _print_setup(ws: Any, table: Table, heading: Heading) -> None:
    """Printed for a meeting, and 问题清单 sent back: A4 landscape, one page wide, the header row and the
    columns saying whose row it is on every page, title on top, page numbers below. Technical columns
    (at the right, see Table.sheet_order) are left out of the print area."""
    columns = table.columns
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.8, bottom=0.6)
    ws.repeat_rows(0)
    who = [c for c, col in enumerate(columns) if col.identifies]
    if who:
        ws.repeat_columns(min(who), max(who))
    ws.set_header("&C&12&B" + heading.text(table.sheet).replace("&", "&&"))  # size before bold: "&12" + "2026" would read as size 122026
    ws.set_footer(f"&L{table.sheet}&C第 &P 页，共 &N 页")
    # The data rows are written later by xlsx_rows, so the area is sized from the table, not the frame.
    last_row = len(table.rows) + (1 if table.totals and table.rows else 0)
    ws.print_area(0, 0, last_row, sum(col.rank == 0 for col in columns) - 1)


def _cell_writer(ws: Any, kind: str, fmts: dict[str, Any]) -> Callable[[int, int, Any], Any]:
    if kind == "money":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["money"])
    if kind == "int":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["int"])
    if kind == "number":
        return lambda r, c, v: ws.write_number(r, c, v, fmts["number"])
    if kind == "date":
        return lambda r, c, v: ws.write_datetime(r, c, datetime(v.year, v.month, v.day), fmts["date"])
    if kind == "datetime":
        return lambda r, c, v: ws.write_datetime(r, c, v, fmts["datetime"])
    fmt = fmts[kind] if kind in ("input", "wrapped") else fmts["text"]
    return lambda r, c, v: ws.write_string(r, c, str(v), fmt)  # never write(): "=…" must stay text


def _totals(ws: Any, table: Table, row: int, fmts: dict[str, Any]) -> None:
    """合计 with SUBTOTAL(109): it follows the autofilter; the cached value is the full sum."""
    ws.write_string(row, 0, "合计", fmts["total_text"])
    for c, col in enumerate(table.columns):
        if c == 0:
            continue
        if not col.total:
            ws.write_blank(row, c, None, fmts["total_text"])
            continue
        values = [v for v in (r[c] for r in table.rows) if isinstance(v, (int, float)) and math.isfinite(v)]
        total = round(sum(values), 6)  # 万元 after conversion can carry more than two decimals
        first, last = cell_name(1, c), cell_name(row - 1, c)
        style = fmts["total"] if col.kind == "money" else fmts["total_int"]
        ws.write_formula(row, c, f"=SUBTOTAL(109,{first}:{last})", style, total)


def _chart(wb: Workbook, table: Table, unit: str) -> None:
    """当年预算 by department, beside the 按部门 table (the totals row left out)."""
    if not table.rows:
        return
    ws = wb.get_worksheet_by_name(table.sheet)
    value_col = next(i for i, c in enumerate(table.columns) if c.key == "current_year")
    n = len(table.rows)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({
        "name": f"当年预算（{unit}）",
        "categories": [table.sheet, 1, 0, n, 0],
        "values": [table.sheet, 1, value_col, n, value_col],
        "data_labels": {"value": True, "num_format": "#,##0"},
    })
    chart.set_title({"name": f"各部门当年预算（{unit}）"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})  # first department at the top, as in the table
    chart.set_x_axis({"num_format": "#,##0"})
    chart.set_size({"width": 640, "height": min(4000, max(300, 24 * n + 80))})
    ws.insert_chart(1, len(table.columns) + 1, chart)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_json(tables: list[Table], output: Path, unit: str, result: ReportResult) -> None:
    doc: dict[str, Any] = {
        "money_unit": unit,
        "summary": {
            "files": result.files, "returns": result.returns, "with_errors": result.with_errors,
            "unreadable": result.unreadable, "ignored": result.ignored, "superseded": result.superseded,
            "departments_missing": result.departments_missing, "forms_missing": result.forms_missing,
            "resubmitted": result.resubmitted, "unchanged": result.unchanged,
        },
    }
    for table in tables:
        doc[table.key] = [{col.key: _plain(v) for col, v in zip(table.columns, row, strict=True)} for row in table.rows]
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def write_csv(tables: list[Table], output: Path) -> list[Path]:
    """汇总 goes to `output`; each other table to `<stem>_<sheet>.csv` beside it (UTF-8 with BOM, for Excel)."""
    paths = []
    for i, table in enumerate(tables):
        path = output if i == 0 else output.with_name(f"{output.stem}_{table.sheet}{output.suffix}")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.header for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_safe(_csv_value(v)) for v in row])
        with atomic_path(path) as tmp:
            tmp.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
        paths.append(path)
    return paths


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.2f}" if value != int(value) else f"{value:.0f}"
    return _plain(value)
