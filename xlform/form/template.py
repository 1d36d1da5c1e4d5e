"""Templates: the YAML that says what a form looks like, loaded and checked up front.

A template is data. A bureau copies a built-in one, edits labels, lists, row
counts, the year or the money unit, and passes its path. Everything is
validated before a single cell is written, and a problem names the file, the
key and what is wrong, in Chinese.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import re
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from ..errors import TemplateError
from ..fileio import FileTooLarge, os_reason, read_limited
from ..reading.limits import MAX_SHEET_COLS, MAX_SHEET_ROWS
from .fields import (
    ADDABLE_KINDS,
    ADDED_COLUMN_WIDTH,
    EXTRA,
    FIELD_BY_KEY,
    FIELDS,
    IDENTITY_FIELDS,
    LISTED_KINDS,
    REQUIRED_COLUMNS,
    SECTION_LABELS,
    SECTIONS,
    TABLE_COLUMNS,
    TABLES,
    Column,
    Field,
    Kind,
)
from .kinds import KINDS, OPEN_LISTS
from .layout import ADDED_BOX, box_limit_default, box_max_limit, default_limit, field_max_limit, layout_for
from .library import (
    LIBRARY_SUFFIXES,
    MAX_LIBRARY_BYTES,
    MAX_LIBRARY_INDICATORS,
    Library,
    LibraryIndicator,
    LibraryProblem,
    decode_csv,
    embedded_block,
    library_indicator,
    raw_entries,
    yaml_problem,
)
from .model import ROW_TYPES, Indicator, Row
from .shipped import builtin_ids, templates_dir
from .targets import parse_target
from .template_rules import BureauRule, RuleSetting, bureau_rules, expression_env, rule_settings
from .values import MAX_YEAR, MIN_YEAR, Coded, ValueProblem, parse_code
from .yamltext import load_yaml

MONEY_UNITS = ("元", "万元")
MAX_TEMPLATE_BYTES = 1024 * 1024  # a template is a few KB; a bigger file is not one
INDICATOR_STYLES = ("shanghai", "mof")
SHEET_KEYS = ("project", "goals", "guarantees")
TITLE_KEYS = ("project", "goals", "guarantees", "goals_annex")
MAX_ROWS = 500
# A label, a title, a prompt is a line or two on the form; a list option is a cell a clerk picks (Excel keeps a
# cell to 32,767 characters, a dropdown entry to 255).
MAX_TEXT_CHARS = 1000
MAX_OPTION_CHARS = 255
# Lists are drawn on a hidden sheet, a column each: a real form has a dozen lists of a few to a few hundred
# options, a taxonomy three or four 一级 of ten 二级 (the writer's time grows with columns × rows).
MAX_LISTS = 200
MAX_LIST_OPTIONS = 5000
MAX_LEVEL1 = 50
MAX_LEVEL2 = 100
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # a key a template adds: it becomes part of a defined name
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class AddedTable:
    """A row table the template adds: where it goes and what its rows are."""

    key: str
    like: str  # "indicators": its rows are Indicators and the indicator rules check them; "" plain Rows
    after: str  # on 绩效目标, below this table; "" when it has a sheet of its own
    sheet: str  # its own sheet's name ("" when placed after a table)


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
    labels: dict[str, str]  # every field, section and table label, added ones included
    columns: dict[str, dict[str, str]]  # table → column key → header, in order (added tables included)
    required: tuple[str, ...]
    choices: dict[str, tuple[str, ...]]
    taxonomy: dict[str, tuple[str, ...]]
    required_level1: tuple[str, ...]
    rows: dict[str, int]
    limits: dict[str, int]  # most characters of each text field of 项目总体情况 (every one, defaults filled in)
    source: str = ""
    text: str = ""  # the YAML exactly as loaded: a round keeps this copy beside its manifest
    digest: str = ""  # sha256 of `text`: which definition a workbook was issued with (stamped into _meta)
    # The form's fields of 项目总体情况 in the order they are drawn (built-in ones a template drops are not
    # here; added ones are, with group "extra").
    fields: tuple[Field, ...] = FIELDS
    prompts: dict[str, str] = dataclass_field(default_factory=dict)  # field key → input prompt
    codes: dict[str, tuple[Coded, ...]] = dataclass_field(default_factory=dict)  # code lists by key
    # Every table's columns with their kinds (template.columns holds their headers), added tables included.
    column_defs: dict[str, dict[str, Column]] = dataclass_field(default_factory=dict)
    added_tables: dict[str, AddedTable] = dataclass_field(default_factory=dict)
    bureau_rules: tuple[BureauRule, ...] = ()  # the template's own rules (rules:)
    rule_settings: dict[str, RuleSetting] = dataclass_field(default_factory=dict)  # built-in ones (builtin_rules:)
    review_grades: bool = False  # the report's 审核 sheet asks for the 88号 grade 优/良/中/差 (review: {grades: true})
    # Sample values (`example:`), typed by kind: a field key → its value; a table key → one {column: value}
    # per row (of a built-in table: laid over the sample's row of that index). `xlform example` and the demo.
    example: dict[str, Any] = dataclass_field(default_factory=dict)
    library: Library | None = None  # the indicator library (指标库) 三级 is picked from, when it names one

    @property
    def level1(self) -> tuple[str, ...]:
        return tuple(self.taxonomy)

    @property
    def field_by_key(self) -> dict[str, Field]:
        return _fields_by_key(self)

    def has(self, key: str) -> bool:
        """Whether the form has this field (a template may drop built-in ones)."""
        return key in _fields_by_key(self)

    @property
    def input_sheets(self) -> tuple[str, ...]:
        """Every sheet a clerk fills: the three of the form, then any an added table has of its own."""
        return tuple(self.sheets.values()) + tuple(t.sheet for t in self.added_tables.values() if t.sheet)

    @property
    def tables(self) -> tuple[str, ...]:
        """Every row table, built-in then added, in the order of template.columns."""
        return tuple(self.columns)

    def row_type(self, table: str) -> type:
        """The dataclass of a table's rows: the built-in one, Indicator for a table like indicators, else Row."""
        if table in ROW_TYPES:
            return ROW_TYPES[table]
        return Indicator if self.added_tables[table].like == "indicators" else Row

    def indicator_tables(self) -> tuple[str, ...]:
        """The tables the indicator rules check: 绩效指标 and any table declared like it."""
        return ("indicators", *tuple(k for k, t in self.added_tables.items() if t.like == "indicators"))

    def choice_list(self, key: str) -> tuple[str, ...]:
        """The allowed values of a choice field or column (level1/level2 come from the taxonomy)."""
        if key == "level1":
            return self.level1
        if key == "level2":
            return tuple(v for values in self.taxonomy.values() for v in values)
        if key in self.codes:
            return tuple(str(c) for c in self.codes[key])
        return self.choices.get(key, ())


@functools.cache
def _fields_by_key(template: Template) -> dict[str, Field]:
    return {f.key: f for f in template.fields}


def builtin_templates() -> list[Template]:
    return [load_template(i) for i in builtin_ids()]


_previous: list[Template] = []


def previous_templates() -> list[Template]:
    """The built-ins as earlier versions of xlform shipped them (templates/previous/, named <id>-<version>.yaml):
    never offered for a new form, but a return issued with one still reads, whether or not its round kept a
    copy (a new version changes the layout, and a round under way must not break on an upgrade)."""
    if not _previous:
        folder = templates_dir() / "previous"
        _previous.extend(parse_template(p.read_text(encoding="utf-8"), f"内置模板 {p.name[: -len('.yaml')]}（旧版本）",
                                        templates_dir())
                         for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".yaml"))
    return list(_previous)


_cache: dict[str, Template] = {}


def load_template(ref: str | Path, *, issuing: bool = True) -> Template:
    """A built-in template by id, or a YAML file by path (read again each time: a file edited since gives
    the edited template, an unchanged one the same Template object). `issuing`: see parse_template."""
    key = str(ref)
    if key in builtin_ids():
        if key not in _cache:
            text = templates_dir().joinpath(f"{key}.yaml").read_text(encoding="utf-8")
            _cache[key] = parse_template(text, f"内置模板 {key}", templates_dir())
        return _cache[key]
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
        except UnicodeDecodeError:
            raise TemplateError(f"模板文件 {path} 不是 UTF-8 编码的文字（用记事本或 WPS 另存为 UTF-8 后再用；"
                                "也可能选错了文件）。") from None
        except OSError as exc:
            raise TemplateError(f"模板文件 {path} 无法读取：{os_reason(exc)}。") from None
        key = f"{path}\n{hashlib.sha256(text.encode('utf-8')).hexdigest()}\n{issuing}"
        cached = _cache.get(key)
        if cached is not None and cached.text == text:  # no library file beside it that may have changed
            return cached
        template = parse_template(text, str(path), path.parent, issuing=issuing)
        if cached is None or cached.digest != template.digest:  # the same template (library included): same object
            _cache[key] = template
        return _cache[key]


# What names a template for a reader: a built-in id, a YAML path, or a template already loaded
# (the copy a round kept beside its manifest, or one the store recorded).
TemplateRef = str | Path | Template


def as_template(ref: TemplateRef) -> Template:
    """A template to read returns with (so not held to the rules for issuing new forms: see parse_template)."""
    return ref if isinstance(ref, Template) else load_template(ref, issuing=False)


BUILTIN_LIBRARY = "内置:"  # `library: 内置:shanghai-2020` names a library shipped with xlform (templates/library/)


def builtin_library_ids() -> list[str]:
    folder = templates_dir() / "library"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def parse_template(text: str, source: str, base: Traversable | None = None, *, issuing: bool = True) -> Template:
    """A template from its YAML text. `base` is the folder a library file it names is relative to (None: the
    text must carry its library files, as the copy a round keeps does).

    `issuing`: held to every rule for a form about to be issued (template check, new, example, distribute).
    False for a template returns are read with (the copy a round kept, one a store recorded, -t for check or
    report): a round issued by an earlier xlform stays readable when a later one checks templates more
    strictly (a key written twice keeps its last value, as YAML does; no limit added since applies)."""
    try:
        data = load_yaml(text, allow_duplicates=not issuing)
    except yaml.YAMLError as exc:
        raise TemplateError(f"模板 {source}：{yaml_problem(exc)}。") from None
    except RecursionError:  # [[[[… fifty thousand deep: the parser recurses per level
        raise TemplateError(f"模板 {source}：嵌套层数过多（列表或键套了上千层），不是有效的模板。") from None
    except ValueError:  # an integer of thousands of digits (Python refuses to convert past 4,300)
        raise TemplateError(f"模板 {source}：含有位数过多的数字（上千位），不是有效的模板。") from None
    validator = _Validator(source, base, issuing)
    template = validator.template(data)
    if validator.library_read:  # carry the library in the text: the round's copy needs no other file
        text += ("" if text.endswith("\n") else "\n") + embedded_block(validator.library_texts)  # the YAML kept as written
    template = replace(template, text=text, digest=hashlib.sha256(text.encode("utf-8")).hexdigest())
    if issuing:  # on the template as returned: its layout (cached by object) is the one reader and writer use
        validator.attempt(lambda: validator.within_reading_limits(template), None)
        validator.raise_problems()
    return template


class _Problem(Exception):
    """One problem of a template; the validator collects them all before it gives up."""


# Every top-level key, with what it says: `template check` lists them, `template copy` writes each above its key.
KEY_HELP = {
    "id": "模板编号：小写字母、数字、点、横线；换了版式请改编号或版本，交回的表据此识别",
    "version": "版本：字段、行表、位置有变动时加一",
    "title": "表名（填表说明的标题）",
    "region": "地区",
    "year": "预算年度（下发时可用 --year 另指定）",
    "money_unit": "金额单位：元 或 万元",
    "indicator_style": "指标列式样：shanghai（目标值一格）或 mof（计算符号、计量单位分列）",
    "password": "工作表保护密码；空 = 无密码",
    "help_contact": "填表说明最后的咨询方式",
    "sheets": "三张工作表的名字",
    "titles": "各表顶部的标题",
    "labels": "内置字段、分组和行表的名称（改名只改这里）",
    "prompts": "选中单元格时显示的输入提示（字段键: 提示文字）",
    "columns": "各内置行表的列（键: 列标题），顺序即表上顺序；新增列写成 键: {label: 列标题, kind: 类型}",
    "required": "必填字段",
    "choices": "下拉列表（列表名: [选项, …]）",
    "codes": "编码列表（列表名: [编码-名称, …]），读回时编码和名称都保留",
    "taxonomy": "指标体系：一级目标: [二级目标, …]",
    "required_level1": "每份申报至少要有一项指标的一级目标",
    "rows": "各内置行表的行数",
    "limits": "文字栏最多多少字（打印时完整显示）",
    "fields": "项目总体情况上新增的字段：键: {label, kind, list, required, prompt, section, after, limit}",
    "drop": "表上不要的内置字段（填报单位、项目名称不能去掉）",
    "order": "调整一部分内字段的顺序：部分名: [字段键, …]",
    "tables": "新增的行表：键: {label, rows, columns, like, after 或 sheet}",
    "rules": "本局的审核规则：键: {title, check（条件表达式）, when, message, severity, cell}",
    "builtin_rules": "内置规则的设置：规则编号: {enabled: false, severity: warning, 阈值…}",
    "library": "指标库：一个或几个 YAML / CSV 文件（相对本模板；内置的写 内置:模板编号），列 一级、二级、三级、指标解释、"
               "计量单位、方向、参考值、适用、来源；三级目标下拉可选其中的指标，也可自填",
    "library_files": "指标库文件的原样副本（载入模板时自动附上，供下发副本和收件记录库使用）；改指标库请改文件",
    "review": "审核：{grades: true} 时汇总报告的“审核”表多一列评级（优、良、中、差；中 = 退回修改后再审）",
    "example": "xlform example 和 xlform demo 填写的示例值：字段键: 值；行表键: [{列键: 值}, …]"
               "（内置行表按行序补在样例的各行上，新增行表即各行）；值按字段和列的类型校验",
}
_TOP_KEYS = tuple(KEY_HELP)
_FIELD_KEYS = ("label", "kind", "list", "required", "prompt", "section", "after", "limit")
_COLUMN_KEYS = ("label", "kind", "list", "required", "width")
_TABLE_KEYS = ("label", "rows", "columns", "like", "after", "sheet")
_GOALS_TABLES = ("activities", "indicators", "costs")  # the tables of 绩效目标 an added table may follow
ADDED_TABLE_ROWS = 10


class _Validator:
    """Turns parsed YAML into a Template, or raises TemplateError listing every problem (file, key, what is
    wrong, and the valid options)."""

    def __init__(self, source: str, base: Traversable | None = None, issuing: bool = True) -> None:
        self.source = source
        self.base = base
        self.issuing = issuing  # the limits on a form to issue apply (parse_template)
        self.problems: list[str] = []
        self.library_texts: dict[str, str] = {}  # each library file's text, by the name the template gives
        self.library_read = False  # a library file was read from disk (not carried in the text)

    def fail(self, key: str, problem: str) -> _Problem:
        return _Problem(f"模板 {self.source}：键 {key} {problem}")

    def note(self, problem: _Problem) -> None:
        self.problems.append(str(problem))

    def attempt(self, fn: Any, default: Any) -> Any:
        """fn(), or `default` with its problem noted, so the next key is still checked."""
        try:
            return fn()
        except _Problem as problem:
            self.note(problem)
            return default

    def text(self, data: dict[str, Any], key: str, path: str, *, empty_ok: bool = False) -> str:
        value = data.get(key)
        if value is None and empty_ok:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(path, "缺失或不是文字。")
        value = str(value).strip()
        if not value and not empty_ok:
            raise self.fail(path, "不能为空。")
        if self.issuing and len(value) > MAX_TEXT_CHARS:
            raise self.fail(path, f"过长（{len(value)} 字，最多 {MAX_TEXT_CHARS} 字）。")
        return value

    def password(self, data: dict[str, Any]) -> str:
        value = self.text(data, "password", "password", empty_ok=True)
        if self.issuing and len(value) > 255:  # Excel protects a sheet with at most 255 characters
            raise self.fail("password", f"过长（{len(value)} 字，最多 255 字）。")
        return value

    def mapping(self, data: dict[str, Any], key: str, path: str, *, optional: bool = False) -> dict[str, Any]:
        value = data.get(key)
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, "缺失或不是“键: 值”映射。")
        return value

    def strings(self, value: Any, path: str, most: int = MAX_LIST_OPTIONS) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "应为非空列表。")
        self.bounded(value, path, most, "项")
        items = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)) or not str(item).strip():
                raise self.fail(f"{path}[{i}]", "应为非空文字。")
            if self.issuing and len(str(item).strip()) > MAX_OPTION_CHARS:
                raise self.fail(f"{path}[{i}]", f"过长（{len(str(item).strip())} 字，一个选项最多 {MAX_OPTION_CHARS} 字）。")
            items.append(str(item).strip())
        counts = collections.Counter(items)  # not items.count per item: a list of 100,000 would take hours
        dupes = sorted(x for x, n in counts.items() if n > 1)
        if dupes:
            raise self.fail(path, f"有重复的值：{'、'.join(dupes[:20])}{'等' if len(dupes) > 20 else ''}。")
        return tuple(items)

    def flag(self, data: dict[str, Any], key: str, path: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(path, "应为 true 或 false。")
        return value

    def count(self, value: Any, path: str, top: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise self.fail(path, f"应为 1 到 {top} 之间的整数。")
        return value

    def known_keys(self, data: dict[str, Any], known: Any, path: str) -> None:
        for key in data:
            if str(key) not in known:
                prefix = f"{path}." if path else ""
                self.note(self.fail(f"{prefix}{key}", "不认识（拼写错误？可用的键：" + "、".join(known) + "）。"))

    # ---- the whole template ------------------------------------------------
    def template(self, data: Any) -> Template:
        if not isinstance(data, dict):
            raise TemplateError(f"模板 {self.source}：顶层应为“键: 值”映射。")
        self.known_keys(data, tuple(_TOP_KEYS), "")
        template_id = self.attempt(lambda: self.template_id(data), "invalid")
        year = self.attempt(lambda: self.year(data), MIN_YEAR)
        money_unit = self.attempt(lambda: self.one_of(data, "money_unit", MONEY_UNITS), MONEY_UNITS[0])
        style = self.attempt(lambda: self.one_of(data, "indicator_style", INDICATOR_STYLES), INDICATOR_STYLES[0])
        sheets = self.attempt(lambda: self.sheets(data), {k: k for k in SHEET_KEYS})
        codes = self.attempt(lambda: self.codes(self.mapping(data, "codes", "codes", optional=True)), {})
        choices = self.attempt(lambda: self.choices(self.mapping(data, "choices", "choices")), {})
        read_taxonomy = self.attempt(lambda: self.taxonomy(data), None)
        taxonomy = read_taxonomy or {"—": ("—",)}
        # What is checked against the taxonomy is not, when there is none to check against (a page of echoes).
        required_level1 = self.attempt(lambda: self.required_level1(data, taxonomy), ()) if read_taxonomy else ()
        library = self.attempt(lambda: self.library(data, taxonomy), None) if read_taxonomy else None
        fields, added_labels, added_required, added_limits, prompts = self.fields(data, choices, codes)
        labels = self.labels(data, fields, added_labels)
        column_defs, columns = self.columns(self.attempt(lambda: self.mapping(data, "columns", "columns"), {}),
                                            choices, codes)
        added_tables, rows = self.tables(data, columns, column_defs, choices, codes, sheets, labels)
        present = {f.key for f in fields}
        required = self.attempt(lambda: self.required(data, present), ()) + added_required
        limits = self.attempt(lambda: self.limits(data.get("limits", {}), fields, added_limits), {})
        prompts.update(self.attempt(lambda: self.prompts(data, present), {}))
        self.unused_lists(choices, codes, fields, column_defs)
        env = expression_env(fields, column_defs, labels, columns)
        own_rules = self.attempt(lambda: bureau_rules(self, self.mapping(data, "rules", "rules", optional=True), env), ())
        settings = self.attempt(
            lambda: rule_settings(self, self.mapping(data, "builtin_rules", "builtin_rules", optional=True)), {})
        template = Template(
            id=template_id,
            version=self.attempt(lambda: self.text(data, "version", "version"), ""),
            title=self.attempt(lambda: self.text(data, "title", "title"), ""),
            region=self.attempt(lambda: self.text(data, "region", "region", empty_ok=True), ""),
            year=year,
            money_unit=money_unit,
            indicator_style=style,
            password=self.attempt(lambda: self.password(data), ""),
            help_contact=self.attempt(lambda: self.text(data, "help_contact", "help_contact", empty_ok=True), ""),
            sheets=sheets,
            titles=self.attempt(lambda: self.named_texts(data, "titles", TITLE_KEYS), {k: k for k in TITLE_KEYS}),
            labels=labels,
            columns=columns,
            required=required,
            choices=choices,
            taxonomy=taxonomy,
            required_level1=required_level1,
            rows=rows,
            limits=limits,
            source=self.source,
            fields=fields,
            prompts=prompts,
            codes=codes,
            column_defs=column_defs,
            added_tables=added_tables,
            bureau_rules=own_rules,
            rule_settings=settings,
            library=library,
            review_grades=self.attempt(lambda: self.review(data), False),
        )
        if read_taxonomy:
            self.attempt(lambda: self.library_help(template), None)
        example = self.attempt(lambda: self.example(self.mapping(data, "example", "example", optional=True),
                                                    template), {}) if read_taxonomy else {}
        self.raise_problems()
        return replace(template, example=example)

    def raise_problems(self) -> None:
        if self.problems:
            raise TemplateError("\n".join(self.problems), tuple(self.problems))

    # ---- the indicator library ------------------------------------------------
    def library(self, data: dict[str, Any], taxonomy: dict[str, tuple[str, ...]]) -> Library | None:
        """`library:` (one file or a list), each file's text from `library_files:` when the template carries
        it, else read (bounded) beside the template; every indicator checked against the taxonomy."""
        carried = data.get("library_files")
        if "library" not in data or data["library"] is None:
            if carried is not None:
                raise self.fail("library_files", "有指标库文件的副本，却没有 library 指明用哪些文件。")
            return None
        raw = data["library"]
        names = self.strings(raw if isinstance(raw, list) else [raw], "library")
        if carried is not None and (not isinstance(carried, dict)
                                    or not all(isinstance(v, str) for v in carried.values())):
            raise self.fail("library_files", "应为“文件名: 文件内容”映射（载入模板时自动生成，请勿手改）。")
        indicators: list[LibraryIndicator] = []
        seen: dict[tuple[str, str], str] = {}
        for name in names:
            path = f"library（{name}）"
            if carried is not None:
                if name not in carried:
                    self.note(self.fail("library_files", f"中没有“{name}”的副本：改了 library 列表时，请删掉 library_files"
                                                         "这一段（载入时按文件重新附上）。"))
                    continue
                text = carried[name]
            else:
                text = self.attempt(lambda name=name: self.library_text(name), None)
                if text is None:
                    continue
            self.library_texts[name] = text
            try:
                entries = raw_entries(name, text)
            except LibraryProblem as problem:
                self.note(self.fail(path, f"{problem}"))
                continue
            for where, entry in entries:
                try:
                    item = library_indicator(entry, taxonomy)
                except LibraryProblem as problem:
                    self.note(self.fail(path, f"{where}{problem}"))
                    continue
                key = (item.level2, item.name)
                if key in seen:
                    self.note(self.fail(path, f"{where}的指标“{item.name}”（二级 {item.level2}）重复（已见于{seen[key]}）。"))
                    continue
                seen[key] = f"{name} {where}"
                indicators.append(item)
        if carried is not None:
            for extra in carried:
                if extra not in names:
                    self.note(self.fail("library_files", f"中的“{extra}”不在 library 列表中；请删掉 library_files 这一段。"))
        if len(indicators) > MAX_LIBRARY_INDICATORS:
            raise self.fail("library", f"共有 {len(indicators)} 个指标，最多 {MAX_LIBRARY_INDICATORS} 个。")
        if not indicators and not self.problems:
            raise self.fail("library", "中没有任何指标。")
        return Library(tuple(names), tuple(indicators))

    def library_text(self, name: str) -> str:
        """One library file's text: a built-in one, or a file beside the template (never outside its folder)."""
        path = f"library（{name}）"
        if name.startswith(BUILTIN_LIBRARY):
            ident = name[len(BUILTIN_LIBRARY):].strip()
            if ident not in builtin_library_ids():
                raise self.fail(path, f"不是内置指标库（可用：{'、'.join(BUILTIN_LIBRARY + i for i in builtin_library_ids())}）。")
            self.library_read = True
            return (templates_dir() / "library" / f"{ident}.yaml").read_text(encoding="utf-8")
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or "\\" in name or not name.lower().endswith(LIBRARY_SUFFIXES):
            raise self.fail(path, "应为本模板所在文件夹中（或其下）的 .yaml / .csv 文件，写相对路径，如 本局指标库.csv。")
        if self.base is None:
            raise self.fail(path, "找不到：这份模板没有随附该指标库文件（library_files），也不知道模板所在的文件夹。")
        file = self.base
        for part in parts:  # one step at a time: an installed package's folder takes one name per joinpath
            file = file / part
        if not isinstance(file, Path):  # a Traversable of the installed package: only built-ins live there
            raise self.fail(path, f"内置模板的指标库请写成 {BUILTIN_LIBRARY}编号。")
        if not file.is_file():
            raise self.fail(path, f"找不到文件 {file}（路径相对模板所在的文件夹）。")
        try:
            data = read_limited(file, MAX_LIBRARY_BYTES)
        except FileTooLarge:
            raise self.fail(path, f"过大（超过 {MAX_LIBRARY_BYTES // 1024} KB），指标库通常只有几十 KB；请确认是否选错文件。") from None
        except OSError as exc:
            raise self.fail(path, f"无法读取（{exc.strerror or exc}）。") from None
        try:
            text = decode_csv(data) if name.lower().endswith(".csv") else data.decode("utf-8-sig")
        except (LibraryProblem, UnicodeDecodeError):
            raise self.fail(path, "编码无法识别：YAML 请存为 UTF-8；CSV 可为 UTF-8 或 GB18030（GBK）。") from None
        self.library_read = True
        return text

    def library_help(self, t: Template) -> None:
        """The help column (指标解释 of the chosen library indicator) needs a library, and 二级 and 三级 beside it."""
        for table, cols in t.column_defs.items():
            if any(c.computed for c in cols.values()):
                if t.library is None:
                    self.note(self.fail(f"columns.{table}.library_help", "要有指标库（library）才能显示指标解释。"))
                elif "level2" not in cols or "name" not in cols:
                    self.note(self.fail(f"columns.{table}.library_help", "所在的表须有二级和三级两列。"))

    def review(self, data: dict[str, Any]) -> bool:
        """`review: {grades: true}`: the reviewer grades each return (default: no grade)."""
        review = self.mapping(data, "review", "review", optional=True)
        self.known_keys(review, ("grades",), "review")
        grades = review.get("grades", False)
        if not isinstance(grades, bool):
            raise self.fail("review.grades", "应为 true 或 false。")
        return grades

    def template_id(self, data: dict[str, Any]) -> str:
        template_id = self.text(data, "id", "id")
        if not _ID.match(template_id):
            raise self.fail("id", "只能用小写字母、数字、点、横线和下划线。")
        return template_id

    def year(self, data: dict[str, Any]) -> int:
        year = data.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            raise self.fail("year", f"应为 {MIN_YEAR} 到 {MAX_YEAR} 之间的年份。")
        return year

    def one_of(self, data: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
        value = self.text(data, key, key)
        if value not in options:
            raise self.fail(key, f"应为 {' 或 '.join(options)}，现为“{value}”。")
        return value

    def sheets(self, data: dict[str, Any]) -> dict[str, str]:
        sheets = self.named_texts(data, "sheets", SHEET_KEYS)
        for key, name in sheets.items():
            self.attempt(lambda key=key, name=name: self.sheet_name(name, f"sheets.{key}"), None)
        if len({name.casefold() if self.issuing else name for name in sheets.values()}) != len(sheets):  # Excel: A = a
            raise self.fail("sheets", "三张表的名字不能相同。")
        return sheets

    def sheet_name(self, name: str, path: str) -> str:
        # Excel's own rules (it refuses to open a file that breaks them), and _ for the sheets xlform adds.
        excel_refuses = name.startswith("'") or name.endswith("'") or name.casefold() == "history"
        if len(name) > 31 or _BAD_SHEET_CHARS.search(name) or name.startswith("_") or (self.issuing and excel_refuses):
            raise self.fail(path, "不是有效的工作表名（最多 31 字，不含 [ ] : * ? / \\，不以 _ 开头，不以 ' 开头或结尾，"
                                  "不能叫 History）。")
        return name

    def within_reading_limits(self, template: Template) -> None:
        """Every cell the form draws within the rows and columns a returned sheet may reach (reading/limits.py):
        else the tool would issue a form it then refuses to read back."""
        layout = layout_for(template)
        reach: dict[str, tuple[int, int]] = {}  # sheet → (last row, last column), 1-based
        spots = [(c.sheet, c.row, c.last_col) for c in layout.fields.values()]
        spots += [(t.sheet, t.last_row, t.last_col) for t in layout.tables.values()]
        spots.append((template.sheets["goals"], layout.goals_last_row, max(layout.goals_width, len(layout.goals_widths)) - 1))
        for sheet, row, col in spots:
            rows, cols = reach.get(sheet, (0, 0))
            reach[sheet] = max(rows, row + 1), max(cols, col + 1)
        for sheet, (rows, cols) in reach.items():
            if rows > MAX_SHEET_ROWS or cols > MAX_SHEET_COLS:
                raise _Problem(f"模板 {self.source}：工作表“{sheet}”画出来有 {rows} 行、{cols} 列，超过交回的表允许的 "
                               f"{MAX_SHEET_ROWS} 行、{MAX_SHEET_COLS} 列（这样的表下发后无法读回）；请减少行数、列或新增行表。")

    def choices(self, section: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        self.bounded(section, "choices", MAX_LISTS, "个列表")
        result = {}
        for k, v in section.items():
            result[str(k)] = self.attempt(lambda k=k, v=v: self.strings(v, f"choices.{k}", MAX_LIST_OPTIONS), ())
        return result

    def bounded(self, items: dict[str, Any] | list[Any], path: str, most: int, what: str) -> None:
        """A count a form could hold, and its lists sheet (one column each, one row an option) could draw."""
        if self.issuing and len(items) > most:
            raise self.fail(path, f"有 {len(items)} {what}，最多 {most} {what}。")

    def codes(self, section: dict[str, Any]) -> dict[str, tuple[Coded, ...]]:
        """Code lists: each entry `219001-区教育局`, or a mapping {code: 219001, name: 区教育局}."""
        result: dict[str, tuple[Coded, ...]] = {}
        self.bounded(section, "codes", MAX_LISTS, "个列表")
        for key, entries in section.items():
            path = f"codes.{key}"
            if not isinstance(entries, list) or not entries:
                self.note(self.fail(path, "应为非空列表，每项写成“编码-名称”，如 219001-区教育局。"))
                continue
            try:
                self.bounded(entries, path, MAX_LIST_OPTIONS, "项")
            except _Problem as problem:
                self.note(problem)
                continue
            items: list[Coded] = []
            for i, entry in enumerate(entries):
                coded = self.attempt(lambda entry=entry, where=f"{path}[{i}]": self.coded(entry, where), None)
                if coded is not None:
                    items.append(coded)
            counts = collections.Counter(c.code for c in items)
            dupes = sorted(code for code, n in counts.items() if n > 1)
            if dupes:
                self.note(self.fail(path, f"有重复的编码：{'、'.join(dupes[:20])}{'等' if len(dupes) > 20 else ''}。"))
            result[str(key)] = tuple(items)
        return result

    def coded(self, entry: Any, path: str) -> Coded:
        if isinstance(entry, dict):
            code, name = self.text(entry, "code", f"{path}.code"), self.text(entry, "name", f"{path}.name")
            return Coded(code, name)
        try:
            coded = parse_code(entry) if isinstance(entry, str) else None
        except ValueProblem:
            coded = None
        if coded is None or not coded.name:
            raise self.fail(path, f"应写成“编码-名称”，如 219001-区教育局（现为“{entry}”）。")
        return coded

    def taxonomy(self, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        raw = self.mapping(data, "taxonomy", "taxonomy")
        self.bounded(raw, "taxonomy", MAX_LEVEL1, "个一级目标")
        taxonomy = {str(k).strip(): self.attempt(lambda k=k, v=v: self.strings(v, f"taxonomy.{k}", MAX_LEVEL2), ("—",))
                    for k, v in raw.items()}
        if not taxonomy:
            raise self.fail("taxonomy", "至少要有一个一级目标。")
        return taxonomy

    def required_level1(self, data: dict[str, Any], taxonomy: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        values = self.strings(data.get("required_level1", list(taxonomy)), "required_level1")
        for value in values:
            if value not in taxonomy:
                self.note(self.fail("required_level1", f"中的“{value}”不在 taxonomy 的一级目标里"
                                                       f"（可用：{'、'.join(taxonomy)}）。"))
        return tuple(v for v in values if v in taxonomy)

    def named_texts(self, data: dict[str, Any], key: str, needed: tuple[str, ...]) -> dict[str, str]:
        section = self.mapping(data, key, key)
        for extra in section:
            if extra not in needed:
                self.note(self.fail(f"{key}.{extra}", f"不认识（拼写错误？可用：{'、'.join(needed)}）。"))
        return {k: self.attempt(lambda k=k: self.text(section, k, f"{key}.{k}"), k) for k in needed}

    # ---- fields of 项目总体情况 -----------------------------------------------
    def fields(self, data: dict[str, Any], choices: dict[str, tuple[str, ...]],
               codes: dict[str, tuple[Coded, ...]]
               ) -> tuple[tuple[Field, ...], dict[str, str], tuple[str, ...], dict[str, int], dict[str, str]]:
        """The form's fields in drawing order: the built-ins, less `drop`, plus `fields`, sorted by `order`."""
        dropped = set(self.attempt(lambda: self.drop(data), ()))
        by_section: dict[str, list[Field]] = {s: [] for s in ("header", *SECTIONS)}
        for f in FIELDS:
            if f.key not in dropped:
                by_section[f.section].append(f)
        labels: dict[str, str] = {}
        required: list[str] = []
        limits: dict[str, int] = {}
        prompts: dict[str, str] = {}
        placed: list[tuple[Field, str]] = []  # added fields with the field they follow ("" = end of section)
        raw = self.attempt(lambda: self.mapping(data, "fields", "fields", optional=True), {})
        for key, spec in raw.items():
            added = self.attempt(lambda key=key, spec=spec: self.added_field(str(key), spec, choices, codes), None)
            if added is None:
                continue
            f, label, after, is_required, limit, prompt = added
            labels[f.key] = label
            if is_required:
                required.append(f.key)
            if limit:
                limits[f.key] = limit
            if prompt:
                prompts[f.key] = prompt
            placed.append((f, after))
        # Place added fields: `after` may name a field added later in the file, so place until nothing moves.
        pending = placed
        while pending:
            left = []
            for f, after in pending:
                if not after:
                    by_section[f.section].append(f)
                    continue
                for section, members in by_section.items():
                    keys = [m.key for m in members]
                    if after in keys:
                        where = 0 if section == "header" else keys.index(after) + 1
                        target = "basics" if section == "header" else section
                        if f.section and target != f.section:
                            self.note(self.fail(f"fields.{f.key}.after", f"“{after}”在 {section} 部分，与 section: "
                                                                          f"{f.section} 不符。"))
                        by_section[target].insert(where, replace(f, section=target))
                        break
                else:
                    left.append((f, after))
            if len(left) == len(pending):
                present = [m.key for ms in by_section.values() for m in ms]
                for f, after in left:
                    self.note(self.fail(f"fields.{f.key}.after", f"“{after}”不是表上的字段（可用：{'、'.join(present)}）。"))
                break
            pending = left
        self.attempt(lambda: self.order(data, by_section), None)
        fields = tuple(f for members in by_section.values() for f in members)
        return fields, labels, tuple(required), limits, prompts

    def drop(self, data: dict[str, Any]) -> tuple[str, ...]:
        if "drop" not in data:
            return ()
        keys = self.strings(data["drop"], "drop")
        droppable = [f.key for f in FIELDS if f.key not in IDENTITY_FIELDS]
        for key in keys:
            if key in IDENTITY_FIELDS:
                self.note(self.fail("drop", f"中的“{key}”标识一份申报，不能去掉（可改 labels 中的名称）。"))
            elif key not in FIELD_BY_KEY:
                self.note(self.fail("drop", f"中的“{key}”不是内置字段（可去掉的：{'、'.join(droppable)}）。"))
        return tuple(k for k in keys if k in droppable)

    def added_field(self, key: str, spec: Any, choices: dict[str, tuple[str, ...]],
                    codes: dict[str, tuple[Coded, ...]]) -> tuple[Field, str, str, bool, int, str]:
        path = f"fields.{key}"
        if key in FIELD_BY_KEY:
            raise self.fail(path, "是内置字段：改名请写在 labels 里，不要的字段写进 drop。")
        if key in SECTION_LABELS:
            raise self.fail(path, f"与表上的分组或行表同名（{'、'.join(SECTION_LABELS)}），请换一个键。")
        if not _KEY.match(key):
            raise self.fail(path, "的键只能用小写字母开头，含小写字母、数字和下划线（最多 40 个），如 competent_dept。")
        if not isinstance(spec, dict):
            raise self.fail(path, "应为映射，如 {label: 主管部门, kind: code, list: departments}。")
        self.known_keys(spec, _FIELD_KEYS, path)
        kind, choices_key = self.kind_and_list(spec, path, choices, codes)
        # No section: the one of the field it follows, else 其他 (details).
        section = self.text(spec, "section", f"{path}.section", empty_ok=True)
        if section and section not in SECTIONS:
            raise self.fail(f"{path}.section", f"应为 {'、'.join(SECTIONS)} 之一。")
        after = self.text(spec, "after", f"{path}.after", empty_ok=True)
        section = section or ("" if after else "details")
        limit = 0
        if "limit" in spec:
            if kind not in (Kind.TEXT, Kind.LONG):
                raise self.fail(f"{path}.limit", "只有 text 和 long 字段可以限定字数。")
            limit = self.count(spec["limit"], f"{path}.limit", box_max_limit(ADDED_BOX))
        label = self.text(spec, "label", f"{path}.label")
        return (Field(key, kind, EXTRA, choices_key, section), label, after, self.flag(spec, "required", f"{path}.required"),
                limit, self.text(spec, "prompt", f"{path}.prompt", empty_ok=True))

    def kind_and_list(self, spec: dict[str, Any], path: str, choices: dict[str, tuple[str, ...]],
                      codes: dict[str, tuple[Coded, ...]]) -> tuple[Kind, str]:
        name = self.text(spec, "kind", f"{path}.kind", empty_ok=True) or "text"
        kinds = [k.value for k in ADDABLE_KINDS]
        if name not in kinds:
            raise self.fail(f"{path}.kind", f"“{name}”不认识（可用：{'、'.join(kinds)}）。")
        kind = Kind(name)
        list_key = self.text(spec, "list", f"{path}.list", empty_ok=True)
        if kind in LISTED_KINDS:
            pool, where = (codes, "codes") if kind is Kind.CODE else (choices, "choices")
            if not list_key:
                raise self.fail(f"{path}.list", f"缺失：{kind.value} 字段要写明用 {where} 中的哪个列表"
                                                f"（现有：{'、'.join(pool) or '无'}）。")
            if list_key not in pool:
                raise self.fail(f"{path}.list", f"“{list_key}”不在 {where} 中（现有：{'、'.join(pool) or '无'}）。")
        elif list_key:
            raise self.fail(f"{path}.list", "只有 choice 和 code 字段有列表。")
        return kind, list_key

    def order(self, data: dict[str, Any], by_section: dict[str, list[Field]]) -> None:
        section_orders = self.mapping(data, "order", "order", optional=True)
        for section, keys in section_orders.items():
            path = f"order.{section}"
            if section not in SECTIONS:
                self.note(self.fail(path, f"不认识（可排序的部分：{'、'.join(SECTIONS)}）。"))
                continue
            wanted = self.attempt(lambda keys=keys, path=path: self.strings(keys, path), None)
            if wanted is None:
                continue
            have = {f.key: f for f in by_section[section]}
            if set(wanted) != set(have):
                missing = [k for k in have if k not in wanted]
                extra = [k for k in wanted if k not in have]
                detail = "；".join(x for x in (f"缺少 {'、'.join(missing)}" if missing else "",
                                              f"不属于这一部分的 {'、'.join(extra)}" if extra else "") if x)
                self.note(self.fail(path, f"应把这一部分的字段各列一次（{'、'.join(have)}）：{detail}。"))
                continue
            by_section[section] = [have[k] for k in wanted]

    def labels(self, data: dict[str, Any], fields: tuple[Field, ...], added: dict[str, str]) -> dict[str, str]:
        section = self.attempt(lambda: self.mapping(data, "labels", "labels"), {})
        builtin = [f.key for f in FIELDS] + list(SECTION_LABELS)
        for extra in section:
            if extra not in builtin:
                hint = "（新增字段的名称写在 fields 里）" if extra in added else ""
                self.note(self.fail(f"labels.{extra}", f"不认识{hint}（可用：{'、'.join(builtin)}）。"))
        present = {f.key for f in fields}
        groups = {f.section for f in fields}
        needed = [f.key for f in fields if f.builtin] + [k for k in SECTION_LABELS if k not in SECTIONS or k in groups]
        labels = {k: self.attempt(lambda k=k: self.text(section, k, f"labels.{k}"), k) for k in needed}
        # Labels of dropped fields may stay in a copied template; they are not used.
        labels.update({k: str(v).strip() for k, v in section.items() if k in FIELD_BY_KEY and k not in present
                       and isinstance(v, str)})
        labels.update(added)
        return labels

    def prompts(self, data: dict[str, Any], present: set[str]) -> dict[str, str]:
        section = self.mapping(data, "prompts", "prompts", optional=True)
        result = {}
        for key in section:
            if key not in present:
                self.note(self.fail(f"prompts.{key}", f"不是表上的字段（可用：{'、'.join(sorted(present))}）。"))
                continue
            result[str(key)] = self.attempt(lambda key=key: self.text(section, key, f"prompts.{key}"), "")
        return result

    def required(self, data: dict[str, Any], present: set[str]) -> tuple[str, ...]:
        keys = self.strings(data.get("required", ["name"]), "required")
        for key in keys:
            if key not in present:
                why = "已在 drop 中去掉" if key in FIELD_BY_KEY else "不是表上的字段"
                self.note(self.fail("required", f"中的“{key}”{why}（可用：{'、'.join(sorted(present))}）。"))
        return tuple(k for k in keys if k in present)

    # ---- row tables ----------------------------------------------------------
    def columns(self, section: dict[str, Any], choices: dict[str, tuple[str, ...]],
                codes: dict[str, tuple[Coded, ...]]) -> tuple[dict[str, dict[str, Column]], dict[str, dict[str, str]]]:
        defs: dict[str, dict[str, Column]] = {}
        headers: dict[str, dict[str, str]] = {}
        for extra in section:
            if extra not in TABLE_COLUMNS:
                self.note(self.fail(f"columns.{extra}", f"不认识（内置行表：{'、'.join(TABLES)}；新增行表写在 tables 里）。"))
        for table, known in TABLE_COLUMNS.items():
            cols = section.get(table)
            defs[table], headers[table] = {}, {}
            if not isinstance(cols, dict) or not cols:
                self.note(self.fail(f"columns.{table}", "缺失或为空。"))
                continue
            for key, value in cols.items():
                path = f"columns.{table}.{key}"
                if isinstance(value, dict):
                    if key in known:
                        self.note(self.fail(path, "是内置列：直接写列标题（文字），不要写成映射。"))
                        continue
                    added = self.attempt(lambda key=key, value=value, path=path:
                                         self.added_column(str(key), value, path, choices, codes), None)
                    if added is not None:
                        defs[table][key], headers[table][key] = added
                elif key not in known:
                    self.note(self.fail(path, f"不认识（内置列：{'、'.join(known)}；新增列写成 "
                                              "{label: 列标题, kind: 类型}）。"))
                else:
                    header = self.attempt(lambda cols=cols, key=key, path=path: self.text(cols, key, path), key)
                    defs[table][key], headers[table][key] = known[key], header
            for key in REQUIRED_COLUMNS[table]:
                if key not in cols:
                    self.note(self.fail(f"columns.{table}.{key}", "缺失：这一列是必需的。"))
        return defs, headers

    def added_column(self, key: str, spec: dict[str, Any], path: str, choices: dict[str, tuple[str, ...]],
                     codes: dict[str, tuple[Coded, ...]]) -> tuple[Column, str]:
        if not _KEY.match(key):
            raise self.fail(path, "的键只能用小写字母开头，含小写字母、数字和下划线，如 score。")
        self.known_keys(spec, _COLUMN_KEYS, path)
        kind, choices_key = self.kind_and_list(spec, path, choices, codes)
        width = ADDED_COLUMN_WIDTH[kind]
        if "width" in spec:
            width = self.count(spec["width"], f"{path}.width", 60)
        column = Column(key, kind, choices_key, width, builtin=False, required=self.flag(spec, "required", f"{path}.required"))
        return column, self.text(spec, "label", f"{path}.label")

    def tables(self, data: dict[str, Any], columns: dict[str, dict[str, str]], defs: dict[str, dict[str, Column]],
               choices: dict[str, tuple[str, ...]], codes: dict[str, tuple[Coded, ...]], sheets: dict[str, str],
               labels: dict[str, str]) -> tuple[dict[str, AddedTable], dict[str, int]]:
        """Built-in row counts (`rows`) and the tables a template adds (`tables`); fills columns/defs/labels."""
        rows_raw = self.attempt(lambda: self.mapping(data, "rows", "rows"), {})
        rows: dict[str, int] = {}
        for table in TABLE_COLUMNS:
            rows[table] = self.attempt(lambda table=table: self.count(rows_raw.get(table), f"rows.{table}", MAX_ROWS), 1)
        for extra in rows_raw:
            if extra not in TABLE_COLUMNS:
                self.note(self.fail(f"rows.{extra}", f"不认识（内置行表：{'、'.join(TABLES)}；新增行表的行数写在 "
                                                     f"tables.{extra}.rows）。"))
        added: dict[str, AddedTable] = {}
        sheet_names = set(sheets.values())
        for key, spec in self.attempt(lambda: self.mapping(data, "tables", "tables", optional=True), {}).items():
            path = f"tables.{key}"
            try:
                new = self.added_table(str(key), spec, path, columns, defs, choices, codes, sheet_names, added, labels)
                count = self.count(spec.get("rows", ADDED_TABLE_ROWS), f"{path}.rows", MAX_ROWS)
            except _Problem as problem:
                self.note(problem)
                defs.pop(str(key), None)
                columns.pop(str(key), None)
                continue
            added[new.key] = new
            labels[new.key] = self.text(spec, "label", f"{path}.label")
            rows[new.key] = count
            if new.sheet:
                sheet_names.add(new.sheet)
        return added, rows

    def added_table(self, key: str, spec: Any, path: str, columns: dict[str, dict[str, str]],
                    defs: dict[str, dict[str, Column]], choices: dict[str, tuple[str, ...]],
                    codes: dict[str, tuple[Coded, ...]], sheet_names: set[str],
                    earlier: dict[str, AddedTable], labels: dict[str, str]) -> AddedTable:
        if key in TABLE_COLUMNS or key in SECTION_LABELS:
            raise self.fail(path, f"与内置行表同名（{'、'.join(TABLES)}）：内置行表的列写在 columns 里。")
        if key in labels or key in FIELD_BY_KEY:
            raise self.fail(path, "与一个字段同名，请换一个键（字段和行表的键不能相同）。")
        if not _KEY.match(key):
            raise self.fail(path, "的键只能用小写字母开头，含小写字母、数字和下划线，如 funding_sources。")
        if not isinstance(spec, dict):
            raise self.fail(path, "应为映射，如 {label: 资金来源明细, rows: 5, columns: {…}}。")
        self.known_keys(spec, _TABLE_KEYS, path)
        self.text(spec, "label", f"{path}.label")
        like = self.text(spec, "like", f"{path}.like", empty_ok=True)
        if like not in ("", "indicators"):
            raise self.fail(f"{path}.like", "只能是 indicators（与绩效指标同列、同样审核）。")
        sheet = self.text(spec, "sheet", f"{path}.sheet", empty_ok=True)
        after = self.text(spec, "after", f"{path}.after", empty_ok=True)
        goals_tables = list(_GOALS_TABLES) + [k for k, t in earlier.items() if t.after]
        if sheet and after:
            raise self.fail(path, "after 和 sheet 只能写一个：放在绩效目标表某张表之后，或单独一张工作表。")
        if sheet:
            self.sheet_name(sheet, f"{path}.sheet")
            if sheet in sheet_names:
                raise self.fail(f"{path}.sheet", f"“{sheet}”与已有的工作表同名。")
        elif after and after not in goals_tables:
            raise self.fail(f"{path}.after", f"“{after}”不是绩效目标表上的行表（可用：{'、'.join(goals_tables)}）。")
        raw_columns = spec.get("columns")
        table_defs: dict[str, Column] = {}
        table_headers: dict[str, str] = {}
        if like == "indicators" and raw_columns is None:
            table_defs, table_headers = dict(defs["indicators"]), dict(columns["indicators"])
        else:
            if not isinstance(raw_columns, dict) or not raw_columns:
                raise self.fail(f"{path}.columns", "缺失或为空：写明各列，如 {source: {label: 资金来源, kind: text}}。")
            known = TABLE_COLUMNS["indicators"] if like else {}
            for ckey, value in raw_columns.items():
                cpath = f"{path}.columns.{ckey}"
                if like and isinstance(value, str) and ckey in known:
                    table_defs[ckey], table_headers[ckey] = known[ckey], value.strip()
                    continue
                if isinstance(value, str):  # a plain header: a text column
                    value = {"label": value, "kind": "text"}
                column = self.attempt(lambda ckey=ckey, value=value, cpath=cpath:
                                      self.added_column(str(ckey), value, cpath, choices, codes), None)
                if column is not None:
                    table_defs[ckey], table_headers[ckey] = column
            if like:
                for needed in REQUIRED_COLUMNS["indicators"]:
                    if needed not in table_defs:
                        self.note(self.fail(f"{path}.columns.{needed}", "缺失：按绩效指标审核的表必须有这一列。"))
        defs[key], columns[key] = table_defs, table_headers
        return AddedTable(key, like, "" if sheet else (after or goals_tables[-1]), sheet)

    # ---- sample values -----------------------------------------------------------------
    def example(self, section: dict[str, Any], t: Template) -> dict[str, Any]:
        """`example:` typed by the kind of each field and column; a value of the wrong kind is a problem."""
        result: dict[str, Any] = {}
        for key, value in section.items():
            path = f"example.{key}"
            if key in t.field_by_key:
                f = t.field_by_key[key]
                result[key] = self.attempt(lambda f=f, value=value, path=path:
                                           self.sample_value(f.kind, f.choices, value, path, t), None)
            elif key in t.column_defs:
                result[key] = self.attempt(lambda key=key, value=value, path=path:
                                           self.sample_rows(key, value, path, t), ())
            else:
                self.note(self.fail(path, "不是表上的字段或行表（可用：" + "、".join([*t.field_by_key, *t.tables]) + "）。"))
        return result

    def sample_rows(self, table: str, rows: Any, path: str, t: Template) -> tuple[dict[str, Any], ...]:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise self.fail(path, "应为各行的列表，每行写成 {列键: 值}，如 [{score: 20}, {score: 30}]。")
        if len(rows) > t.rows[table]:
            raise self.fail(path, f"有 {len(rows)} 行，超过这张表的行数 {t.rows[table]}。")
        columns = t.column_defs[table]
        result = []
        for i, row in enumerate(rows):
            values = {}
            for key, value in row.items():
                where = f"{path}[{i}].{key}"
                if key not in columns:
                    self.note(self.fail(where, f"不是这张表的列（可用：{'、'.join(columns)}）。"))
                    continue
                c = columns[key]
                values[str(key)] = self.attempt(lambda c=c, value=value, where=where:
                                                self.sample_value(c.kind, c.choices, value, where, t), None)
            result.append(values)
        return tuple(result)

    def sample_value(self, kind: Kind, list_key: str, value: Any, path: str, t: Template) -> Any:
        """A sample value as the reader would give it back: typed by its kind, in its list if it has one."""
        if isinstance(value, (dict, list)) or value is None:
            raise self.fail(path, f"应为一个 {kind.value} 值，不是列表、映射或空值。")
        if kind is Kind.TARGET:
            return parse_target(self.text({"v": value}, "v", path))
        convert = KINDS[kind].convert
        if convert is None:  # a text kind
            text = self.text({"v": value}, "v", path, empty_ok=True)  # "" leaves the cell empty
            allowed = t.choice_list(list_key) if kind is Kind.CHOICE else ()
            if text and allowed and text not in allowed and list_key not in OPEN_LISTS:
                raise self.fail(path, f"“{text}”不在列表 {list_key} 中（可用：{'、'.join(allowed)}）。")
            return text
        try:
            typed = convert(value)
        except ValueProblem as problem:
            raise self.fail(path, f"应为 {kind.value} 类型的值：“{value}”{problem}。") from None
        if kind is Kind.CODE and str(typed) not in t.choice_list(list_key):
            raise self.fail(path, f"“{value}”不在编码列表 {list_key} 中（可用：{'、'.join(t.choice_list(list_key))}）。")
        return typed

    # ---- limits and lists ---------------------------------------------------------
    def limits(self, section: Any, fields: tuple[Field, ...], added: dict[str, int]) -> dict[str, int]:
        """Length limits: each must print in full in one row (Excel's rows are at most 409 pt high)."""
        if not isinstance(section, dict):
            raise self.fail("limits", "应为“字段: 字数”映射。")
        limited = [f for f in fields if f.kind in (Kind.TEXT, Kind.LONG)]
        keys = [f.key for f in limited]
        result: dict[str, int] = {}
        for key, value in section.items():
            if key not in keys or not FIELD_BY_KEY.get(key):
                hint = "（新增字段的字数写在 fields 里的 limit）" if key in added else ""
                usable = "、".join(k for k in keys if k in FIELD_BY_KEY)
                self.note(self.fail(f"limits.{key}", f"不是可限定字数的文字字段{hint}（可用：{usable}）。"))
                continue
            top = field_max_limit(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                self.note(self.fail(f"limits.{key}", f"应为 1 到 {top} 之间的整数：更多的字在这一格里打印不下"
                                                     "（一行最高 409 磅）。"))
        for f in limited:
            if f.builtin:
                value = section.get(f.key)
                ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= field_max_limit(f.key)
                result[f.key] = value if ok and isinstance(value, int) else default_limit(f.key)
            else:
                result[f.key] = added.get(f.key) or box_limit_default(ADDED_BOX, f.kind is Kind.LONG)
        return result

    def unused_lists(self, choices: dict[str, tuple[str, ...]], codes: dict[str, tuple[Coded, ...]],
                     fields: tuple[Field, ...], defs: dict[str, dict[str, Column]]) -> None:
        """Every list a field or column names exists, and every list is used by one (a typo is not ignored)."""
        used = {f.choices for f in fields if f.kind in LISTED_KINDS}
        used |= {c.choices for cols in defs.values() for c in cols.values()
                 if c.kind in LISTED_KINDS and c.choices not in ("level1", "level2")}
        for key in sorted(used):
            if key not in choices and key not in codes:
                self.note(self.fail(f"choices.{key}", "缺失：表格中有用到这个下拉列表。"))
        for pool, where in ((choices, "choices"), (codes, "codes")):
            for key in pool:
                if key not in used:
                    self.note(self.fail(f"{where}.{key}", f"没有字段或列用到这个列表（用到的：{'、'.join(sorted(used)) or '无'}）；"
                                                          "拼写错误？"))
