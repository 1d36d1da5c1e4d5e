"""Declarations as plain data: nested JSON objects, flat CSV rows, and safe CSV text.

One place for the flat column names (Chinese headers keyed by field), used by
`xlform export` and by the report.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import date
from decimal import Decimal
from typing import Any

from .form.fields import FIELD_BY_KEY, MONEY_KEYS
from .form.model import Declaration

# Text a spreadsheet would run as a formula when it opens a CSV.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """Text for a CSV cell; a leading = + - @ tab or CR gets a ' so no spreadsheet runs it."""
    text = _plain(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def declaration_dict(d: Declaration) -> dict[str, Any]:
    """The data of a declaration as nested JSON-ready objects (money as decimal strings)."""
    data: dict[str, Any] = {f.name: asdict(getattr(d, f.name)) if f.name in ("identity", "project", "funding", "footer")
            else [asdict(x) for x in getattr(d, f.name)]
            for f in fields(d) if f.name != "source"}
    data["file"] = d.source.file
    return _jsonable(data)


def dumps_json(items: Any) -> str:
    return json.dumps(items, ensure_ascii=False, indent=2)


# The short heading of each form field in flat exports and in the report (the template's labels are the form's own
# wording, numbered and bureau-specific; these stay the same for every template so scripts can rely on them).
FIELD_HEADINGS: dict[str, str] = {
    "unit": "填报单位", "name": "项目名称", "category": "项目类别", "leader": "项目负责人", "contact": "联系人",
    "phone": "联系电话", "start_date": "起始日期", "end_date": "结束日期",
    "total": "项目总预算", "current_year": "当年预算", "fiscal": "财政拨款", "fiscal_superior": "上级财政拨款",
    "fiscal_local": "本级财政安排", "fiscal_subordinate": "下级财政配套", "other": "其他资金",
    "overview": "项目概况", "overall_goal": "项目总目标", "annual_goal": "年度绩效目标",
    "unit_head": "填报单位负责人", "filled_by": "填表人", "filled_on": "填报日期",
}
# Form fields in the flat per-project export, in column order (money: every fields.MONEY_KEYS).
_PROJECT_FIELDS = ("unit", "name", "category", "leader", "contact", "phone", "start_date", "end_date", *MONEY_KEYS,
                   "overview", "overall_goal", "annual_goal", "unit_head", "filled_by", "filled_on")

# Flat per-project columns: (header, getter).
PROJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("文件", "source.file"),
    ("表单编号", "identity.form_id"),
    ("模板", "identity.template_id"),
    ("模板版本", "identity.template_version"),
    ("年度", "identity.year"),
    ("下发部门", "identity.department"),
    ("金额单位", "identity.money_unit"),
    *((FIELD_HEADINGS[k], f"{FIELD_BY_KEY[k].group}.{k}") for k in _PROJECT_FIELDS),
)

TABLE_EXPORT_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "activities": (("主体活动", "name"), ("金额", "amount"), ("对应一级目标", "level1"), ("行", "row")),
    "indicators": (
        ("一级目标", "level1"), ("二级目标", "level2"), ("三级目标", "name"), ("目标值", "target.raw"),
        ("符号", "target.operator"), ("数值", "target.number"), ("单位", "target.unit"),
        ("定性", "target.qualitative"), ("备注", "note"), ("指标值类型", "value_type"),
        ("指标值设定依据", "value_basis"), ("行", "row"),
    ),
    "costs": (
        ("分解项目名称", "project"), ("项目内容", "content"), ("项目明细", "detail"), ("明细金额", "amount"),
        ("单价", "unit_price"), ("单价依据", "price_basis"), ("数量", "quantity"),
        ("数量依据", "quantity_basis"), ("备注", "note"), ("行", "row"),
    ),
    "guarantees": (
        ("制度类别", "kind"), ("文件名称", "document"), ("具体措施", "measures"),
        ("立项和计划阶段", "planning"), ("实施阶段", "implementation"), ("收尾和完成阶段", "completion"),
        ("行", "row"),
    ),
}
TABLE_KEY_COLUMNS = (("文件", "source.file"), ("表单编号", "identity.form_id"),
                     ("填报单位", "project.unit"), ("项目名称", "project.name"))


def getpath(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def project_row(d: Declaration) -> list[Any]:
    return [getpath(d, p) for _, p in PROJECT_COLUMNS]


def table_rows(d: Declaration, table: str) -> Iterable[list[Any]]:
    keys = [getpath(d, p) for _, p in TABLE_KEY_COLUMNS]
    for item in getattr(d, table):
        yield keys + [getpath(item, p) for _, p in TABLE_EXPORT_COLUMNS[table]]


def table_dicts(declarations: Iterable[Declaration], table: str) -> list[dict[str, Any]]:
    """One row table as JSON-ready objects, one per row, keyed like the CSV headers (`export --table` in JSON)."""
    headers = table_headers(table)
    return [_jsonable(dict(zip(headers, row, strict=True))) for d in declarations for row in table_rows(d, table)]


def table_headers(table: str | None) -> list[str]:
    if table is None:
        return [h for h, _ in PROJECT_COLUMNS]
    return [h for h, _ in TABLE_KEY_COLUMNS] + [h for h, _ in TABLE_EXPORT_COLUMNS[table]]


def to_csv(declarations: Iterable[Declaration], table: str | None = None) -> str:
    """UTF-8 CSV text (the caller adds a BOM for Excel); formula-looking text is neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table_headers(table))
    for d in declarations:
        rows = [project_row(d)] if table is None else table_rows(d, table)
        for row in rows:
            writer.writerow([csv_safe(v) for v in row])
    return out.getvalue()
