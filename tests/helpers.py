"""The one way tests build a filled declaration, fill a distributed workbook, find a field's cell and name a sheet.

- `clean_sample()`: the sample with what a reviewer sends back fixed (xlform's own builder, re-exported).
- `clean_form(template)` / `filled(template, edits)`: the clean form for a template, then `path → value` edits.
- `fill_blank(blank, out)` / `fill_issued(issued, item, out)`: a distributed workbook filled as its department would.
- `field_cell(wb, name)`: the openpyxl cell a defined name (f_unit, f_phone, …) points at, to type into.
- `sheet_names(template)`: the template's own sheet names (project / goals / guarantees), not copies of them.
Typing into a real LibreOffice is tests/lo.py `fill_cells`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from openpyxl.cell.cell import Cell
from openpyxl.workbook.workbook import Workbook

from xlform.form.model import Declaration, Indicator
from xlform.form.sample import clean_sample_declaration as clean_sample
from xlform.form.targets import parse_target
from xlform.form.template import Template, load_template, templates_dir
from xlform.issue.distribute import DistributeResult, Issued
from xlform.reading.reader import read
from xlform.writing.workbook import write_workbook

__all__ = [
    "CLEAN_GOAL",
    "DELETE",
    "clean_form",
    "clean_sample",
    "field_cell",
    "field_ref",
    "fill_blank",
    "fill_issued",
    "filled",
    "indicator",
    "set_amount",
    "sheet_names",
]

DELETE = object()  # as an edit's value: remove that list item
CLEAN_GOAL = "系统运维完成率达到100%，满意度达到95%以上。"  # an annual goal that agrees with the indicators


def sheet_names(template: str = "shanghai-2020") -> tuple[str, str, str]:
    """The three sheets of a template, by role: (project, goals, guarantees)."""
    sheets = load_template(template).sheets
    return sheets["project"], sheets["goals"], sheets["guarantees"]


def clean_form(template: str = "shanghai-2020") -> Declaration:
    """The clean sample for `template`, with a unit and a goal that names the indicators' own figures."""
    d = clean_sample()
    d.identity.template_id = template  # what xlform.check uses when a Declaration was not read
    d.project.unit = "闵行区机关事务管理局"
    d.project.annual_goal = CLEAN_GOAL
    if template == "mof-2021":  # national wording, amounts in 万元
        d.indicators = [
            indicator("成本指标", "经济成本指标", "会议系统建设成本", "≤23.21万元"),
            indicator("产出指标", "数量指标", "系统运维完成率", "100%"),
            indicator("产出指标", "时效指标", "运维完成及时性", "及时"),
            indicator("效益指标", "社会效益指标", "视频会议正常召开", "100%"),
            indicator("满意度指标", "服务对象满意度指标", "系统使用满意度", "≥95%"),
        ]
        set_amount(d, Decimal("23.21"))
    return d


def indicator(level1: str, level2: str, name: str, target: str) -> Indicator:
    return Indicator(level1=level1, level2=level2, name=name, target=parse_target(target), note="工作计划")


def set_amount(d: Declaration, amount: Decimal) -> None:
    """Every amount of the one-line sample budget at once, so the sums stay consistent."""
    f = d.funding
    f.total = f.current_year = f.fiscal = f.fiscal_local = amount
    d.activities[0].amount = amount
    d.costs[0].amount = d.costs[0].unit_price = amount


def filled(template: str, edits: dict[str, Any]) -> Declaration:
    """The clean form with `path → value` edits: "funding.fiscal", "indicators[3]", "costs[0].quantity";
    "amounts" sets every amount at once; DELETE removes a list item; a str target is parsed."""
    d = clean_form(template)
    for path, value in edits.items():
        if path == "amounts":
            set_amount(d, value)
            continue
        *parents, last = path.split(".")
        obj: Any = d
        for part in parents:
            obj = _step(obj, part)
        m = re.fullmatch(r"(\w+)\[(\d+)\]", last)
        if m:
            items = getattr(obj, m[1])
            if value is DELETE:
                del items[int(m[2])]
            else:
                items[int(m[2])] = value
        elif isinstance(obj, dict):  # d.extra / d.tables / a row's extra: what a template adds
            obj[last] = value
        elif last == "target" and isinstance(value, str):
            setattr(obj, last, parse_target(value))
        else:
            assert hasattr(obj, last), path
            setattr(obj, last, value)
    return d


def _step(obj: Any, part: str) -> Any:
    m = re.fullmatch(r"(\w+)\[(\d+)\]", part)
    return getattr(obj, m[1])[int(m[2])] if m else getattr(obj, part)


BUREAU = str(Path(__file__).parent / "templates" / "bureau-2026.yaml")  # a bureau's own form: added fields and a table


def fill_blank(blank: Path, out: Path, change: Callable[[Declaration], None] | None = None,
               mtime: float | None = None) -> Path:
    """Fill a distributed workbook as its department would: its identity kept, the clean sample typed in
    (then `change`), saved at `out` (with `mtime` if given)."""
    issued = read(blank)
    identity = issued.identity
    d = clean_sample()
    if change:
        change(d)
    d.identity = identity
    out.parent.mkdir(parents=True, exist_ok=True)
    # The template the blank was written with (a version 1 blank stays version 1), as the department's copy is.
    template = issued.source.template if isinstance(issued.source.template, Template) \
        else load_template(identity.template_id)
    write_workbook(template, out, d)
    if mtime is not None:
        os.utime(out, (mtime, mtime))
    return out


def fill_issued(issued: DistributeResult, item: Issued, out: Path, change: Callable[[Declaration], None] | None = None,
                mtime: float | None = None) -> Path:
    """`fill_blank` for one workbook of a distributed round."""
    return fill_blank(issued.folder / item.file, out, change, mtime)


def field_ref(wb: Workbook, name: str) -> tuple[str, str]:
    """(sheet, address without $) a workbook-level defined name points at: "B4" for a cell, "A6:G105" for a table."""
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return sheet, ref.replace("$", "")


def field_cell(wb: Workbook, name: str) -> Cell:
    """The cell a field's defined name points at (the first cell of a range), for typing into with openpyxl."""
    sheet, ref = field_ref(wb, name)
    cell = wb[sheet][ref.split(":")[0]]
    assert isinstance(cell, Cell), (name, ref)
    return cell


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def template_over(tmp_path: Path, yaml_text: str, base: str = "shanghai-2020") -> str:
    """A bureau template: the built-in `base` with the keys of `yaml_text` merged over it."""
    data = yaml.safe_load(templates_dir().joinpath(f"{base}.yaml").read_text(encoding="utf-8"))
    _merge(data, {"id": "bureau-test"} | (yaml.safe_load(yaml_text) or {}))
    path = tmp_path / f"template-{len(list(tmp_path.glob('template-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


