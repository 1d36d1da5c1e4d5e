"""Read and check one file: the unit of work of `xlform check` and of the report.

A FileResult always exists, readable or not: that is how no file is ever
silently dropped. Its JSON shape (`result_json`) is a contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..export import FlatRows, declaration_dict, dumps_json_item, flat_rows, json_items_list
from ..form.model import Declaration
from ..reading import refusals as R
from ..reading.reader import Registry, read
from ..reading.refusals import Reason, Unreadable
from .findings import SEVERITY_LABEL, Finding
from .rules import check
from .status import Status


@dataclass
class FileResult:
    file: str
    declaration: Declaration | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""  # why the file could not be read; "" when it was
    code: str = ""  # the refusal's code (reading/refusals.py); "" when it was read

    @classmethod
    def refused(cls, file: str, why: Reason) -> FileResult:
        return cls(file, error=why.message, code=why.code)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    @property
    def readable(self) -> bool:
        return self.declaration is not None

    @property
    def ignored(self) -> bool:
        """A file beside the returns, not one (an Office lock file, the round's template copy): listed, no problem."""
        return self.code.startswith(R.IGNORED)

    @property
    def ok(self) -> bool:
        return self.readable and self.errors == 0

    @property
    def status(self) -> Status:
        if self.ignored:
            return Status.IGNORED
        if not self.readable:
            return Status.UNREADABLE
        return Status.PASS if self.errors == 0 else Status.FIX


def check_file(path: str | Path, registry: Registry | None = None, data: bytes | None = None,
               name: str | None = None) -> FileResult:
    """Read and check one workbook; an unreadable one gives a result with `error` set."""
    shown = name or str(path)
    try:
        d = read(path, registry, data)
    except Unreadable as exc:
        return FileResult(shown, error=str(exc), code=exc.code)
    except MemoryError:
        return FileResult.refused(shown, R.OUT_OF_MEMORY())
    except Exception as exc:  # noqa: BLE001 - a damaged file must never stop a whole collection
        return FileResult.refused(shown, R.UNEXPECTED(error=type(exc).__name__))
    d.source.file = shown
    try:
        findings = check(d)
    except Exception as exc:  # noqa: BLE001 - same reasoning: report, don't crash
        return FileResult.refused(shown, R.CHECK_FAILED(error=type(exc).__name__, detail=exc))
    return FileResult(shown, d, findings)


def result_json(r: FileResult) -> dict[str, Any]:
    identity = r.declaration.identity if r.declaration else None
    return {
        "file": r.file,
        "template": f"{identity.template_id}@{identity.template_version}" if identity else "",
        "form_id": identity.form_id if identity else "",
        "department": (identity.department or r.declaration.project.unit) if identity and r.declaration else "",
        "ok": r.ok,
        "errors": r.errors,
        "warnings": r.warnings,
        "findings": [f.to_dict() for f in r.findings],
        "error": r.error,
        "code": r.code,
    }


@dataclass(frozen=True)
class Shown:
    """What `xlform check` prints of one file, made where the file was read: only this comes back from a
    worker process (a declaration is twenty times its size to send)."""

    file: str
    readable: bool
    errors: int
    warnings: int
    code: str
    text: str  # result_text, or the result's JSON object (result_json, indented as inside the list)
    error: str = ""  # why the file could not be read ("" when it was)
    flat: FlatRows | None = None  # its rows in a flat export (shown_flat)

    @property
    def ok(self) -> bool:
        return self.readable and self.errors == 0

    @property
    def ignored(self) -> bool:
        return self.code.startswith(R.IGNORED)


def shown_text(r: FileResult) -> Shown:
    return Shown(r.file, r.readable, r.errors, r.warnings, r.code, result_text(r), r.error)


def shown_json(r: FileResult) -> Shown:
    return Shown(r.file, r.readable, r.errors, r.warnings, r.code, dumps_json_item(result_json(r)), r.error)


def shown_export(r: FileResult) -> Shown:
    """What `xlform export` writes of one file (JSON): its declaration_dict as an item of the list."""
    text = dumps_json_item(declaration_dict(r.declaration)) if r.declaration is not None else ""
    return Shown(r.file, r.readable, r.errors, r.warnings, r.code, text, r.error)


def shown_flat(r: FileResult, table: str | None, for_csv: bool) -> Shown:
    """What `xlform export` needs of one file for a flat export (CSV, or one row table with --table): its rows
    (export.flat_rows), made in the worker that read it; the columns of all files are joined at the end."""
    flat = flat_rows(r.declaration, table, for_csv) if r.declaration is not None else None
    return Shown(r.file, r.readable, r.errors, r.warnings, r.code, "", r.error, flat)


def json_list(items: list[Shown]) -> str:
    """The items made by shown_json or shown_export, as one JSON list: the same text as dumps_json of their objects."""
    return json_items_list([s.text for s in items])


def result_text(r: FileResult) -> str:
    if r.ignored:
        return f"文件：{r.file}\n  {r.error}"
    if not r.readable:
        return f"文件：{r.file}\n  无法读取：“{Path(r.file).name}”{r.error}"  # one sentence naming the file
    lines = [f"文件：{r.file}"]
    d = r.declaration
    assert d is not None
    who = d.identity.department or d.project.unit or "（未填填报单位）"
    lines.append(f"  {who} · {d.project.name or '（未填项目名称）'} · 模板 {d.identity.template_id} 版本 "
                 f"{d.identity.template_version} · 表单编号 {d.identity.form_id}")
    by_sheet: dict[str, list[Finding]] = {}
    for f in r.findings:
        by_sheet.setdefault(f.sheet or "整个文件", []).append(f)
    for sheet, items in by_sheet.items():
        lines.append(f"  【{sheet}】")
        for f in items:
            cell = f"{f.sheet}!{f.cell}" if f.cell else "—"
            lines.append(f"    {SEVERITY_LABEL[f.severity]} {f.rule} {cell} {f.text}")
    verdict = Status.PASS if r.ok else Status.FIX
    lines.append(f"  结果：{verdict}，{r.errors} 个错误，{r.warnings} 个提示")
    return "\n".join(lines)
