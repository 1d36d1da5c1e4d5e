"""The indicator library (指标库) a template may name: indicators a clerk picks 三级 from.

A library is a YAML or CSV file beside the template (a bureau edits it without code). Its columns are
named in Chinese, the same in both formats: 一级, 二级, 三级, 指标解释, 计量单位, 方向, 参考值, 适用, 来源.
The file is untrusted: it is read bounded and every problem is reported through the template's validator,
in Chinese. Loading a template embeds each library file's text into the template's own text
(`library_files:`), so the copy a round keeps (manifest, store) still knows the library without the file.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

import yaml

from .values import to_halfwidth
from .yamltext import DuplicateKey, load_yaml

MAX_LIBRARY_BYTES = 1024 * 1024  # a library of a few hundred indicators is ~100 KB
MAX_LIBRARY_INDICATORS = 2000  # one list column per 二级 on the hidden sheet; more is not a library
LIBRARY_SUFFIXES = (".yaml", ".yml", ".csv")
# The columns of a library file: its key in LibraryIndicator → its header (CSV) or key (YAML).
LIBRARY_COLUMNS = {
    "level1": "一级", "level2": "二级", "name": "三级", "explanation": "指标解释", "unit": "计量单位",
    "direction": "方向", "reference": "参考值", "kinds": "适用", "source": "来源",
}  # fmt: skip
NEEDED_COLUMNS = ("level2", "name")
GROUP_KEY = "指标"  # a YAML group: {来源: …, 指标: [ … ]}; its 来源 applies to each indicator that names none
# How a library may write its direction, and what it means (a target's ＞ / ＜ point the same way).
DIRECTIONS = {"≥": "≥", "≧": "≥", ">=": "≥", "=": "=", "≤": "≤", "≦": "≤", "<=": "≤"}
SAME_DIRECTION = {">": "≥", "≥": "≥", "<": "≤", "≤": "≤", "=": "="}
IN_LIBRARY, CUSTOM = "库内", "自定义"
LIBRARY_KEY_SEPARATOR = "|"  # 二级|三级: the key the workbook's help column looks a chosen indicator up by
_KINDS_SPLIT = re.compile(r"[、,，;；/\s]+")
_UNIT_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def same_unit(a: str, b: str) -> bool:
    """Units compared as a reader sees them: full-width ％ is %, spaces do not count."""
    return _UNIT_SPACE.sub("", to_halfwidth(a)) == _UNIT_SPACE.sub("", to_halfwidth(b))


def same_direction(library: str, operator: str, number: Decimal | None, unit: str) -> bool:
    """Whether a target's operator points the library's way. ＞ is ≥'s way, ＜ ≤'s; = at the only value the
    library's direction allows is that direction too (=100% for a ≥ rate, =0 for a ≤ cap)."""
    direction = SAME_DIRECTION.get(operator, "")
    if not library or not direction or direction == library:
        return True
    if direction == "=" and number is not None:
        return (library == "≥" and number == 100 and same_unit(unit, "%")) or (library == "≤" and number == 0)
    return False


def in_library_text(value: bool | None) -> str:
    """库内 / 自定义 for an indicator matched against a library; "" when there was none to match."""
    return "" if value is None else (IN_LIBRARY if value else CUSTOM)


@dataclass(frozen=True)
class LibraryIndicator:
    level1: str
    level2: str
    name: str
    explanation: str = ""
    unit: str = ""
    direction: str = ""  # ≥ ≤ = or "" (a qualitative indicator)
    reference: str = ""  # 参考值
    kinds: tuple[str, ...] = ()  # the kinds of project it suits (适用); () = any
    source: str = ""  # the public guidance it was drawn from

    @property
    def help(self) -> str:
        """What the workbook's help column shows for it: 指标解释 and 计量单位."""
        unit = f"计量单位：{self.unit}" if self.unit else ""
        if self.explanation and unit:
            return f"{self.explanation}（{unit}）"
        return self.explanation or unit


@dataclass(frozen=True)
class Library:
    files: tuple[str, ...]  # as the template names them
    indicators: tuple[LibraryIndicator, ...]
    _by_key: dict[tuple[str, str], LibraryIndicator] = dataclass_field(default_factory=dict, compare=False, repr=False,
                                                                       hash=False)

    def __post_init__(self) -> None:
        self._by_key.update({(i.level2, i.name): i for i in self.indicators})

    def find(self, level2: str, name: str) -> LibraryIndicator | None:
        """The library's indicator of this 二级 and 三级 name (None: the department's own)."""
        return self._by_key.get((level2, name))

    def under(self, level1: str, level2: str) -> tuple[str, ...]:
        return tuple(i.name for i in self.indicators if i.level1 == level1 and i.level2 == level2)


class LibraryProblem(Exception):
    """A problem of a library file; the validator prefixes the template and key."""


def decode_csv(data: bytes) -> str:
    """A CSV as Excel writes it: UTF-8 (with or without BOM) or, on Chinese Windows, GB18030/GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LibraryProblem("编码无法识别：请存为 UTF-8 或 GB18030（GBK）编码的 CSV。")


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error as a clerk reads it (templates and libraries alike): the line, and the parser's words."""
    if isinstance(exc, DuplicateKey):
        return str(exc)
    mark = getattr(exc, "problem_mark", None)
    where = f"第 {mark.line + 1} 行" if mark is not None else ""
    return f"YAML 格式错误{where}（技术信息：{getattr(exc, 'problem', exc)}）"


def raw_entries(name: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    """The library's rows as (where, {header: value}) before they are checked: from a CSV or a YAML file."""
    if _CONTROL.search(text):
        raise LibraryProblem("含有控制字符，不是文字文件；请确认是否选错文件。")
    if name.lower().endswith(".csv"):
        return _csv_entries(text)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise LibraryProblem(f"{yaml_problem(exc)}。") from None
    except (RecursionError, ValueError):
        raise LibraryProblem("嵌套层数过多或含有位数过多的数字，不是有效的指标库。") from None
    return _yaml_entries(data)


def _csv_entries(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise LibraryProblem(f"CSV 格式错误（技术信息：{exc}）。") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise LibraryProblem("是空文件：第一行应为列标题（" + "、".join(LIBRARY_COLUMNS.values()) + "）。")
    headers = [h.strip() for h in rows[0]]
    known = set(LIBRARY_COLUMNS.values())
    unknown = [h for h in headers if h and h not in known]
    if unknown:
        raise LibraryProblem(f"的列标题“{'、'.join(unknown)}”不认识（可用：{'、'.join(LIBRARY_COLUMNS.values())}）。")
    missing = [LIBRARY_COLUMNS[k] for k in NEEDED_COLUMNS if LIBRARY_COLUMNS[k] not in headers]
    if missing:
        raise LibraryProblem(f"缺少列“{'、'.join(missing)}”（第一行应为列标题）。")
    return [(f"第 {n} 行", {h: v for h, v in zip(headers, row, strict=False) if h})
            for n, row in enumerate(rows[1:], start=2)]


def _yaml_entries(data: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(data, list) or not data:
        raise LibraryProblem(f"应为列表：每项一个指标 {{二级: …, 三级: …}}，或一组 {{来源: …, {GROUP_KEY}: [ … ]}}。")
    entries: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(data):
        if isinstance(item, dict) and GROUP_KEY in item:
            members = item[GROUP_KEY]
            extra = [str(k) for k in item if k not in (GROUP_KEY, LIBRARY_COLUMNS["source"])]
            if extra or not isinstance(members, list):
                raise LibraryProblem(f"第 {i + 1} 组应写成 {{来源: …, {GROUP_KEY}: [指标, …]}}"
                                     + (f"（不认识：{'、'.join(extra)}）" if extra else "") + "。")
            for j, member in enumerate(members):
                if isinstance(member, dict) and LIBRARY_COLUMNS["source"] in item:
                    member = {LIBRARY_COLUMNS["source"]: item[LIBRARY_COLUMNS["source"]], **member}
                entries.append((f"第 {i + 1} 组第 {j + 1} 项", member))
        else:
            entries.append((f"第 {i + 1} 项", item))
    return entries


def library_indicator(entry: Any, taxonomy: dict[str, tuple[str, ...]]) -> LibraryIndicator:
    """One row of a library, checked against the template's taxonomy (LibraryProblem says what is wrong)."""
    if not isinstance(entry, dict):
        raise LibraryProblem("应为“键: 值”映射，如 {二级: 数量, 三级: 培训人数}。")
    by_header = {v: k for k, v in LIBRARY_COLUMNS.items()}
    unknown = [str(k) for k in entry if k not in by_header]
    if unknown:
        raise LibraryProblem(f"的键“{'、'.join(unknown)}”不认识（可用：{'、'.join(LIBRARY_COLUMNS.values())}）。")
    values: dict[str, Any] = {}
    for header, value in entry.items():
        key = by_header[header]
        if key == "kinds" and isinstance(value, list):
            value = "、".join(str(v) for v in value if not isinstance(v, (dict, list)))
        if value is None:
            value = ""
        if isinstance(value, (dict, list, bool)):
            raise LibraryProblem(f"的“{header}”应为文字。")
        values[key] = str(value).strip()
    for key in NEEDED_COLUMNS:
        if not values.get(key):
            raise LibraryProblem(f"缺少“{LIBRARY_COLUMNS[key]}”。")
        if LIBRARY_KEY_SEPARATOR in values[key]:  # the workbook's lookup joins 二级 and 三级 with it
            raise LibraryProblem(f"的“{LIBRARY_COLUMNS[key]}”不能含有“{LIBRARY_KEY_SEPARATOR}”。")
    level1, level2 = values.get("level1", ""), values["level2"]
    owners = [l1 for l1, l2s in taxonomy.items() if level2 in l2s]
    every = "；".join(f"{l1}：{'、'.join(l2s)}" for l1, l2s in taxonomy.items())
    if level1 and level1 not in taxonomy:
        raise LibraryProblem(f"的一级“{level1}”不在模板的指标体系中（可用：{'、'.join(taxonomy)}）。")
    if level1 and level1 not in owners:
        raise LibraryProblem(f"的二级“{level2}”不属于一级“{level1}”（可用：{'、'.join(taxonomy[level1])}）。")
    if not owners:
        raise LibraryProblem(f"的二级“{level2}”不在模板的指标体系中（可用：{every}）。")
    if not level1 and len(owners) > 1:
        raise LibraryProblem(f"的二级“{level2}”在几个一级下都有（{'、'.join(owners)}），请写明“一级”。")
    direction = values.get("direction", "")
    if direction and to_halfwidth(direction).replace(" ", "") not in DIRECTIONS:
        raise LibraryProblem(f"的方向“{direction}”应为 ≥、≤ 或 =（不写：定性指标）。")
    return LibraryIndicator(
        level1=level1 or owners[0], level2=level2, name=values["name"],
        explanation=values.get("explanation", ""), unit=values.get("unit", ""),
        direction=DIRECTIONS[to_halfwidth(direction).replace(" ", "")] if direction else "",
        reference=values.get("reference", ""),
        kinds=tuple(k for k in _KINDS_SPLIT.split(values.get("kinds", "")) if k),
        source=values.get("source", ""))


def embedded_block(files: dict[str, str]) -> str:
    """The `library_files:` block appended to a template's text: each library file's text, verbatim."""
    return ("\n# ---- 指标库文件的原样副本：载入模板时自动附上，下发副本和收件记录库据此不再需要原文件。"
            "要改指标库，请改 library 所列的文件（或删掉这一段后改列表）。----\n"
            + yaml.dump({"library_files": files}, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=1000))


class _BlockDumper(yaml.SafeDumper):
    """Multi-line texts as `|` blocks: the copy stays readable."""


def _text_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _text_block)
