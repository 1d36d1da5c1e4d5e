"""What a report is made of and hands back: its tables' shape (Table, Column, Heading), whom it expects
returns from (Expected) and what a run says (ReportResult).

Apart from the builders in tables.py, so that an unchanged report (run.py) and `status` (standing.py) are
answered without loading them, or the reader and rules they use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..reading import refusals as R
from ..review.round import Chase

if TYPE_CHECKING:
    from ..issue.roster import Department
    from .tables import Return, Unread

REPORT_TITLE = "财政项目支出绩效目标申报"


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # JSON key
    kind: str = "text"  # text | money | int | number | date | datetime | input (typed in) | wrapped (a paragraph)
    width: int = 12
    total: bool = False  # summed in the totals row
    identifies: bool = False  # says whose row it is (department, project): repeated on every printed page
    technical: bool = False  # for tracing and scripts (file path, form id, template): right of the sheet, not printed
    beside: str = ""  # on the sheet, right after the column with this key (CSV and JSON keep the table's order)
    printed: bool = True  # False: detail a meeting does not need on paper (on the sheet, left of the technical ones)
    hidden: bool = False  # on the sheet but hidden (the 审核 sheet's version key: the reader matches on it)
    choices: tuple[str, ...] = ()  # an input column's dropdown (kind "input")

    @property
    def rank(self) -> int:
        """Where the column goes on the sheet: printed, then detail left off paper, then technical."""
        return 2 if self.technical else (0 if self.printed else 1)


@dataclass
class Table:
    """Columns in their CSV order (a contract: new columns only ever go at the end) and plain rows."""

    sheet: str
    key: str
    columns: list[Column]
    rows: Sequence[Sequence[Any]]
    totals: bool = False
    status_col: int | None = None  # coloured 通过 / 需修改 / 未提交
    protected: bool = False  # the sheet is protected: only its input columns (kind "input") can be typed in

    def sheet_order(self) -> list[int]:
        """The columns' order on the worksheet: as read (each `beside` column after its anchor), then those
        left off paper, technical last: the print area is the printed columns at the left."""
        order: list[int] = []
        for rank in (0, 1, 2):
            shown = {c.key for c in self.columns if c.rank == rank}

            def place(i: int, rank: int = rank, shown: set[str] = shown) -> None:
                order.append(i)
                for j, d in enumerate(self.columns):
                    if d.beside == self.columns[i].key and d.rank == rank:
                        place(j)

            for i, c in enumerate(self.columns):
                if c.rank == rank and c.beside not in shown:
                    place(i)
        return order


@dataclass(frozen=True)
class Heading:
    """The top of every printed page: the budget year(s), the sheet and the day the report was made."""

    years: tuple[int, ...] = ()
    made: date = field(default_factory=date.today)

    def text(self, sheet: str) -> str:
        year = f"{'、'.join(str(y) for y in self.years)} 年度 " if self.years else ""
        return f"{year}{REPORT_TITLE} {sheet} · {self.made.isoformat()}"


@dataclass
class Expected:
    """A department returns are expected from (a roster row, or the manifest's rows for it)."""

    department: Department
    count: int | None = None  # forms expected; None when nobody said (no roster, no manifest)
    listed: bool = True  # False: not on the roster/manifest, known only from its returns
    form_ids: set[str] = field(default_factory=set)  # issued to it (manifest only)
    returns: list[Return] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)  # its files that could not be read


@dataclass
class ReportResult:
    outputs: list[Path]
    files: int = 0  # every input file, zip members counted one by one
    returns: int = 0  # latest version of each form, readable
    with_errors: int = 0
    unreadable: int = 0
    ignored: int = 0
    superseded: int = 0
    departments_missing: int = 0
    forms_missing: int = 0
    skipped: int = 0  # files on disk not read again (unchanged since the store saw them)
    codes: dict[str, int] = field(default_factory=dict)  # refusal code → files listed unread with it (ignored too)
    resubmitted: int = 0  # latest returns that supersede an earlier version (compared in 修改情况)
    unchanged: int = 0  # of those, identical in content to the version before (round.unchanged_resubmission)
    notices: list[str] = field(default_factory=list)  # lines said on the console before the closing line
    reused_report: bool = False
    seconds: float = 0.0
    to_act: list[Chase] = field(default_factory=list)  # departments that must act (`report` ends with them)

    @property
    def exit_code(self) -> int:
        return 1 if (self.with_errors or self.unreadable or self.forms_missing) else 0

    def closing_line(self) -> str:
        unread = {c: n for c, n in self.codes.items() if not c.startswith(R.IGNORED)}
        why = f"（{R.counted(unread)}）" if self.unreadable and unread else ""
        line = (f"共 {self.files} 个文件：读取申报表 {self.returns} 份，其中需修改 {self.with_errors} 份；"
                f"无法读取 {self.unreadable} 个{why}；未提交部门 {self.departments_missing} 个")
        if self.forms_missing > self.departments_missing:
            line += f"（共缺 {self.forms_missing} 份）"
        extra = []
        if self.superseded:
            extra.append(f"{self.superseded} 份旧版本已被重新提交的版本替代")
        if self.resubmitted:
            same = f"，其中 {self.unchanged} 份未作修改" if self.unchanged else ""
            extra.append(f"重新提交 {self.resubmitted} 份（修改情况见报告{same}）")
        ignored = {c: n for c, n in self.codes.items() if c.startswith(R.IGNORED)}
        if self.ignored:
            extra.append(f"已忽略{R.counted(ignored)}" if ignored else f"已忽略 {self.ignored} 个")
        if self.skipped:
            extra.append(f"{self.skipped} 个文件未变，沿用上次结果")
        advice = R.hint(unread)
        return line + "。" + ("；".join(extra) + "。" if extra else "") + (f"\n{advice}" if advice else "")
