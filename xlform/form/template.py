"""Templates: the YAML that says what a form looks like, loaded and checked up front.

A template is data. A bureau copies a built-in one, edits labels, lists, row
counts, the year or the money unit, and passes its path. Everything is
validated before a single cell is written, and a problem names the file, the
key and what is wrong, in Chinese.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from ..fileio import FileTooLarge, read_limited
from .fields import FIELD_BY_KEY, FIELDS, REQUIRED_COLUMNS, SECTION_LABELS, TABLE_COLUMNS, Kind
from .layout import LIMITED_FIELDS, default_limit, field_max_limit

DEFAULT_TEMPLATE = "shanghai-2020"
MONEY_UNITS = ("元", "万元")
MIN_YEAR, MAX_YEAR = 2000, 2100  # the budget years a form may be for
MAX_TEMPLATE_BYTES = 1024 * 1024  # a template is a few KB; a bigger file is not one
INDICATOR_STYLES = ("shanghai", "mof")
SHEET_KEYS = ("project", "goals", "guarantees")
TITLE_KEYS = ("project", "goals", "guarantees", "goals_annex")
MAX_ROWS = 500
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


class TemplateError(Exception):
    """A template that cannot be used; the message is for the person who edited it."""


# eq=False: templates are compared and hashed by identity (load_template caches them).
@dataclass(frozen=True, eq=False)
class Template:
    id: str
    version: str
    title: str
    region: str
    year: int
    money_unit: str
    indicator_style: str
    password: str
    help_contact: str
    sheets: dict[str, str]
    titles: dict[str, str]
    labels: dict[str, str]
    columns: dict[str, dict[str, str]]  # table → column key → header, in order
    required: tuple[str, ...]
    choices: dict[str, tuple[str, ...]]
    taxonomy: dict[str, tuple[str, ...]]
    required_level1: tuple[str, ...]
    rows: dict[str, int]
    limits: dict[str, int]  # most characters of each text field of 项目总体情况 (every one, defaults filled in)
    source: str = ""
    text: str = ""  # the YAML exactly as loaded: a round keeps this copy beside its manifest
    digest: str = ""  # sha256 of `text`: which definition a workbook was issued with (stamped into _meta)

    @property
    def level1(self) -> tuple[str, ...]:
        return tuple(self.taxonomy)

    def choice_list(self, key: str) -> tuple[str, ...]:
        """The allowed values of a choice field or column (level1/level2 come from the taxonomy)."""
        if key == "level1":
            return self.level1
        if key == "level2":
            return tuple(v for values in self.taxonomy.values() for v in values)
        return self.choices.get(key, ())


def templates_dir() -> Traversable:
    """Where the built-in templates live: package data when installed, ../templates in a checkout."""
    try:
        return resources.files("xlform.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "templates"  # xlform/form/template.py → templates/


def builtin_ids() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in templates_dir().iterdir() if p.name.endswith(".yaml"))


def builtin_templates() -> list[Template]:
    return [load_template(i) for i in builtin_ids()]


_cache: dict[str, Template] = {}


def load_template(ref: str | Path) -> Template:
    """A built-in template by id, or a YAML file by path."""
    key = str(ref)
    if key in _cache:
        return _cache[key]
    if key in builtin_ids():
        text = templates_dir().joinpath(f"{key}.yaml").read_text(encoding="utf-8")
        template = parse_template(text, f"内置模板 {key}")
    else:
        path = Path(ref)
        if not path.is_file():
            raise TemplateError(
                f"找不到模板“{ref}”：既不是内置模板（{'、'.join(builtin_ids())}），也不是存在的 YAML 文件。"
            )
        try:
            text = read_limited(path, MAX_TEMPLATE_BYTES).decode("utf-8-sig")
        except FileTooLarge:
            raise TemplateError(f"模板文件 {path} 过大（超过 {MAX_TEMPLATE_BYTES // 1024} KB），"
                                "模板通常只有几 KB；请确认是否选错文件。") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"模板文件 {path} 无法读取（需为 UTF-8 编码的 YAML）：{exc}") from None
        template = parse_template(text, str(path))
    _cache[key] = template
    return template


def parse_template(text: str, source: str) -> Template:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else ""
        raise TemplateError(f"模板 {source}：YAML 格式错误{where}（技术信息：{getattr(exc, 'problem', exc)}）。") from None
    except RecursionError:  # [[[[… fifty thousand deep: the parser recurses per level
        raise TemplateError(f"模板 {source}：嵌套层数过多（列表或键套了上千层），不是有效的模板。") from None
    except ValueError:  # an integer of thousands of digits (Python refuses to convert past 4,300)
        raise TemplateError(f"模板 {source}：含有位数过多的数字（上千位），不是有效的模板。") from None
    template = _Validator(source).template(data)
    return replace(template, text=text, digest=hashlib.sha256(text.encode("utf-8")).hexdigest())


class _Validator:
    """Turns parsed YAML into a Template, or raises TemplateError naming the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> TemplateError:
        return TemplateError(f"模板 {self.source}：键 {key} {problem}")

    def text(self, data: dict[str, Any], key: str, path: str, *, empty_ok: bool = False) -> str:
        value = data.get(key)
        if value is None and empty_ok:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(path, "缺失或不是文字。")
        value = str(value).strip()
        if not value and not empty_ok:
            raise self.fail(path, "不能为空。")
        return value

    def mapping(self, data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(path, "缺失或不是“键: 值”映射。")
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "应为非空列表。")
        items = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)) or not str(item).strip():
                raise self.fail(f"{path}[{i}]", "应为非空文字。")
            items.append(str(item).strip())
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            raise self.fail(path, f"有重复的值：{'、'.join(dupes)}。")
        return tuple(items)

    def template(self, data: Any) -> Template:
        if not isinstance(data, dict):
            raise TemplateError(f"模板 {self.source}：顶层应为“键: 值”映射。")
        known = {
            "id", "version", "title", "region", "year", "money_unit", "indicator_style", "password",
            "help_contact", "sheets", "titles", "labels", "columns", "required", "choices",
            "taxonomy", "required_level1", "rows", "limits",
        }
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise self.fail(unknown[0], "不认识（拼写错误？可用的键：" + "、".join(sorted(known)) + "）。")
        template_id = self.text(data, "id", "id")
        if not _ID.match(template_id):
            raise self.fail("id", "只能用小写字母、数字、点、横线和下划线。")
        year = data.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            raise self.fail("year", f"应为 {MIN_YEAR} 到 {MAX_YEAR} 之间的年份。")
        money_unit = self.text(data, "money_unit", "money_unit")
        if money_unit not in MONEY_UNITS:
            raise self.fail("money_unit", f"应为 {' 或 '.join(MONEY_UNITS)}，现为“{money_unit}”。")
        style = self.text(data, "indicator_style", "indicator_style")
        if style not in INDICATOR_STYLES:
            raise self.fail("indicator_style", f"应为 {' 或 '.join(INDICATOR_STYLES)}。")
        sheets = self.named_texts(data, "sheets", SHEET_KEYS)
        for key, name in sheets.items():
            if len(name) > 31 or _BAD_SHEET_CHARS.search(name) or name.startswith("_"):
                raise self.fail(f"sheets.{key}", "不是有效的工作表名（最多 31 字，不含 [ ] : * ? / \\，不以 _ 开头）。")
        if len(set(sheets.values())) != len(sheets):
            raise self.fail("sheets", "三张表的名字不能相同。")
        columns = self.columns(self.mapping(data, "columns", "columns"))
        choices = {
            str(k): self.strings(v, f"choices.{k}") for k, v in self.mapping(data, "choices", "choices").items()
        }
        for needed in self.choice_keys(columns):
            if needed not in choices:
                raise self.fail(f"choices.{needed}", "缺失：表格中有用到这个下拉列表。")
        taxonomy_raw = self.mapping(data, "taxonomy", "taxonomy")
        taxonomy = {str(k).strip(): self.strings(v, f"taxonomy.{k}") for k, v in taxonomy_raw.items()}
        if not taxonomy:
            raise self.fail("taxonomy", "至少要有一个一级目标。")
        required_level1 = self.strings(data.get("required_level1", list(taxonomy)), "required_level1")
        for value in required_level1:
            if value not in taxonomy:
                raise self.fail("required_level1", f"中的“{value}”不在 taxonomy 的一级目标里。")
        required = self.strings(data.get("required", ["name"]), "required")
        for key in required:
            if key not in FIELD_BY_KEY:
                raise self.fail("required", f"中的“{key}”不是表上的字段（可用：{'、'.join(FIELD_BY_KEY)}）。")
        rows_raw = self.mapping(data, "rows", "rows")
        rows = {}
        for table in TABLE_COLUMNS:
            count = rows_raw.get(table)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ROWS:
                raise self.fail(f"rows.{table}", f"应为 1 到 {MAX_ROWS} 之间的整数。")
            rows[table] = count
        return Template(
            id=template_id,
            version=self.text(data, "version", "version"),
            title=self.text(data, "title", "title"),
            region=self.text(data, "region", "region", empty_ok=True),
            year=year,
            money_unit=money_unit,
            indicator_style=style,
            password=self.text(data, "password", "password", empty_ok=True),
            help_contact=self.text(data, "help_contact", "help_contact", empty_ok=True),
            sheets=sheets,
            titles=self.named_texts(data, "titles", TITLE_KEYS),
            labels=self.named_texts(data, "labels", tuple(f.key for f in FIELDS) + SECTION_LABELS),
            columns=columns,
            required=required,
            choices=choices,
            taxonomy=taxonomy,
            required_level1=required_level1,
            rows=rows,
            limits=self.limits(data.get("limits", {})),
            source=self.source,
        )

    def named_texts(self, data: dict[str, Any], key: str, needed: tuple[str, ...]) -> dict[str, str]:
        section = self.mapping(data, key, key)
        for extra in section:
            if extra not in needed:
                raise self.fail(f"{key}.{extra}", "不认识（拼写错误？）。")
        return {k: self.text(section, k, f"{key}.{k}") for k in needed}

    def columns(self, section: dict[str, Any]) -> dict[str, dict[str, str]]:
        result = {}
        for table, known in TABLE_COLUMNS.items():
            cols = section.get(table)
            if not isinstance(cols, dict) or not cols:
                raise self.fail(f"columns.{table}", "缺失或为空。")
            for key in cols:
                if key not in known:
                    raise self.fail(f"columns.{table}.{key}", f"不认识（可用：{'、'.join(known)}）。")
            for key in REQUIRED_COLUMNS[table]:
                if key not in cols:
                    raise self.fail(f"columns.{table}.{key}", "缺失：这一列是必需的。")
            result[table] = {str(k): self.text(cols, k, f"columns.{table}.{k}") for k in cols}
        return result

    def limits(self, section: Any) -> dict[str, int]:
        """Length limits: each must print in full in one row (Excel's rows are at most 409 pt high)."""
        if not isinstance(section, dict):
            raise self.fail("limits", "应为“字段: 字数”映射。")
        for key, value in section.items():
            if key not in LIMITED_FIELDS:
                raise self.fail(f"limits.{key}", f"不是可限定字数的文字字段（可用：{'、'.join(LIMITED_FIELDS)}）。")
            top = field_max_limit(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise self.fail(f"limits.{key}", f"应为 1 到 {top} 之间的整数：更多的字在这一格里打印不下"
                                                 "（一行最高 409 磅）。")
        return {key: section.get(key, default_limit(key)) for key in LIMITED_FIELDS}

    @staticmethod
    def choice_keys(columns: dict[str, dict[str, str]]) -> set[str]:
        keys = {"category"}
        for table, cols in columns.items():
            for key in cols:
                column = TABLE_COLUMNS[table][key]
                if column.kind is Kind.CHOICE and column.choices not in ("level1", "level2"):
                    keys.add(column.choices)
        return keys
