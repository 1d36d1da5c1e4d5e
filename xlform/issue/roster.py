"""The roster: which departments get a workbook, read from a CSV or XLSX a clerk keeps.

One row per department: 部门名称 (required), 部门编码, 联系人, 联系电话 and
项目数 / 项目数量 (optional). The whole file is validated before anything is
written, and every problem found is reported at once, by row, in Chinese, so a
clerk fixes the roster in one pass instead of one error per run.
"""

from __future__ import annotations

import csv
import email.policy
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..fileio import FileTooLarge, read_limited
from ..form.values import clean_text
from ..ooxml.cellref import column_letters
from ..reading.refusals import Unreadable

MAX_PROJECTS = 100  # per department; more is almost certainly a typo (e.g. 1000 for 10)
MAX_NAME = 60  # characters; the name goes into file names, which Windows caps at 255 bytes
HEADER_SEARCH_ROWS = 10  # a roster may carry a title row or two above its header
MAX_SHOWN_PROBLEMS = 20
MAX_ROSTER_BYTES = 20 * 1024 * 1024  # a roster of every department of a province is under 1 MB

# Header text (after removing spaces, *, and colons) → field. Aliases cover what clerks type.
_HEADERS = {
    "部门名称": "name", "单位名称": "name",
    "部门编码": "code", "单位编码": "code", "部门代码": "code", "单位代码": "code",
    "联系人": "contact",
    "联系电话": "phone", "电话": "phone",
    "项目数": "projects", "项目数量": "projects", "项目个数": "projects",
    "e-mail": "email", "email": "email", "邮箱": "email", "电子邮箱": "email", "电子邮件": "email",
}
_HEADER_LABELS = {"name": "部门名称", "code": "部门编码", "contact": "联系人", "phone": "联系电话", "projects": "项目数",
                  "email": "邮箱"}  # each field as a message names it
_HEADER_NOISE = re.compile(r"[\s*＊:：（）()]|必填")
# Characters Windows forbids in file names, and control characters (which nothing should hold).
_BAD_FILENAME_CHARS = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")  # one plain address: nothing a header could split on
def check_sender(text: str) -> None:
    """One address a From header can carry (ys@example.cn, 预算科 <ys@example.cn>, "预算科"<ys@example.cn>), else a
    UserError: never a second one, nor a character that breaks or hides part of a header line."""
    unsafe = any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
    header = None if unsafe else email.policy.default.header_factory("From", text)  # as the .eml will parse it
    found = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
    if header is None or header.defects or len(found) != 1 or not _EMAIL.fullmatch(found[0][1]) or "@" in found[0][0]:
        raise UserError(f"发件人“{_visible(text[:60])}”不是一个有效的电子邮件地址（只写一个，例如 ys@example.cn 或 "
                        "预算科 <ys@example.cn>）。")


@dataclass(frozen=True)
class Department:
    """A department forms go to and come back from: a roster row; the manifest and the report hold one too."""

    name: str
    code: str = ""
    contact: str = ""
    phone: str = ""
    projects: int = 1  # roster only: workbooks to issue
    row: int = 0  # roster only: 1-based row in the roster file, for messages
    email: str = ""  # roster only: where `xlform feedback --eml` addresses the department's mail


def read_roster(path: str | Path) -> list[Department]:
    """Read and validate a roster; raises UserError listing every problem found."""
    path = Path(path)
    rows = _read_rows(path)
    header_at, columns = _find_header(rows, path)
    departments, problems = _parse_rows(rows, header_at, columns)
    if not departments and not problems:
        problems.append("名单中没有任何部门（表头下面是空的）。")
    if problems:
        shown = problems[:MAX_SHOWN_PROBLEMS]
        more = f"\n  ……另有 {len(problems) - len(shown)} 处问题" if len(problems) > len(shown) else ""
        raise UserError(f"部门名单 {path} 有 {len(problems)} 处问题，请修改后重试（尚未生成任何文件）：\n  "
                        + "\n  ".join(shown) + more)
    return departments


# ---- reading the file ------------------------------------------------------------


def _read_rows(path: Path) -> list[list[Any]]:
    if not path.is_file():
        if path.exists():
            raise UserError(f"部门名单 {path} 不是普通文件（是文件夹、管道或设备）；请给出名单文件（.csv 或 .xlsx）。")
        raise UserError(f"找不到部门名单文件：{path}")
    suffix = path.suffix.lower()
    if suffix == ".csv" or suffix == ".txt":
        return _csv_rows(path)
    if suffix == ".xlsx":
        return _xlsx_rows(path)
    if suffix in (".xls", ".et", ".ods", ".xlsm"):
        raise UserError(f"部门名单 {path} 是 {suffix} 格式；请在 Excel 或 WPS 中“另存为” .xlsx 或 .csv 后再用。")
    raise UserError(f"部门名单 {path} 应为 .csv 或 .xlsx 文件。")


def _csv_rows(path: Path) -> list[list[Any]]:
    try:
        raw = read_limited(path, MAX_ROSTER_BYTES)
    except FileTooLarge:
        raise UserError(f"部门名单 {path} 过大（超过 {MAX_ROSTER_BYTES // 1048576} MB）；请确认是否选错文件。") from None
    except OSError as exc:
        raise UserError(f"无法读取部门名单 {path}：{exc.strerror or exc}") from None
    # UTF-8 (with or without BOM) first; Excel on Chinese Windows saves "CSV" as GBK, which GB18030 covers.
    text = decode_csv(raw)
    if text is None:
        raise UserError(f"部门名单 {path} 的编码无法识别；请在 Excel 中另存为“CSV UTF-8（逗号分隔）”。")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:
        raise UserError(f"部门名单 {path} 不是有效的 CSV（{exc}）。") from None


def _xlsx_rows(path: Path) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    from ..reading.package import open_package  # here: a CSV roster (and an unchanged report) needs no reader

    try:
        # The same safe open as a return: bounded, bombs and far cells refused before calamine sees the file.
        pkg = open_package(path)
        book = CalamineWorkbook.from_filelike(io.BytesIO(pkg.calamine_zip()))
        for name in book.sheet_names:
            rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            if any(_header_fields(r) for r in rows[:HEADER_SEARCH_ROWS]):
                return rows
        return book.get_sheet_by_index(0).to_python(skip_empty_area=False) if book.sheet_names else []
    except UserError:
        raise
    except Unreadable as exc:
        raise UserError(f"部门名单 {path} 无法读取：{exc}") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure is "this file is not a readable xlsx"
        raise UserError(f"部门名单 {path} 无法读取（{type(exc).__name__}）；请用 Excel 或 WPS 重新保存为 .xlsx。") from None


# ---- header and rows --------------------------------------------------------------


def _header_fields(row: list[Any]) -> dict[int, str]:
    found: dict[int, str] = {}
    for i, cell in enumerate(row):
        key = _HEADERS.get(_HEADER_NOISE.sub("", clean_text(cell)).lower())  # E-mail, EMAIL
        if key and key not in found.values():
            found[i] = key
    return found if "name" in found.values() else {}


def _find_header(rows: list[list[Any]], path: Path) -> tuple[int, dict[int, str]]:
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = _header_fields(row)
        if columns:
            _refuse_repeated_columns(row, columns, path)
            return i, columns
    first = next((r for r in rows if any(clean_text(c) for c in r)), [])
    seen = "、".join(clean_text(c) for c in first if clean_text(c))[:100] or "（空）"
    raise UserError(f"部门名单 {path} 缺少“部门名称”列（前 {HEADER_SEARCH_ROWS} 行中没有找到）。"
                    f"应有的列：部门名称（必填）、部门编码、联系人、联系电话、项目数、邮箱；现有：{seen}。")


def _refuse_repeated_columns(row: list[Any], columns: dict[int, str], path: Path) -> None:
    """Two columns for one thing (two 部门名称, 邮箱 and 电子邮箱): which one holds the truth is anyone's guess."""
    for i, cell in enumerate(row):
        key = _HEADERS.get(_HEADER_NOISE.sub("", clean_text(cell)).lower())
        if key and i not in columns:
            first = next(j for j, k in columns.items() if k == key)
            raise UserError(f"部门名单 {path} 的表头有两列都是“{_HEADER_LABELS[key]}”（第 {column_letters(first)} 列"
                            f"“{clean_text(row[first])}”和第 {column_letters(i)} 列“{clean_text(cell)}”）；请删去或改名其中一列。")


def _phone_problem(phone: str) -> str:
    """Why a 联系电话 cannot be one ("" when it can). Offices write numbers every way (021-64000000 转 8001,
    138 0000 0000（微信同号）, 6400 0000（办）, two of them): only text with hardly a digit (见附件, -1) is refused,
    and control characters; the number is only shown on the form."""
    if _CONTROL_CHARS.search(phone) or sum(ch.isdigit() for ch in phone) < 5:
        return f"联系电话“{_visible(phone)}”不像电话号码（至少要有 5 位数字）。"
    return ""


def _parse_rows(rows: list[list[Any]], header_at: int, columns: dict[int, str]) -> tuple[list[Department], list[str]]:
    departments: list[Department] = []
    problems: list[str] = []
    names: dict[str, int] = {}
    codes: dict[str, int] = {}
    for index in range(header_at + 1, len(rows)):
        line = index + 1
        values = {key: _cell_text(rows[index][i]) if i < len(rows[index]) else "" for i, key in columns.items()}
        if not any(values.values()):
            continue  # blank lines are common at the end of a sheet
        where = f"第 {line} 行"
        ticked = [_HEADER_LABELS[key] for i, key in columns.items() if i < len(rows[index]) and isinstance(rows[index][i], bool)]
        if ticked:  # TRUE / FALSE: a cell typed as a tick box, not a name or a number
            problems.append(f"{where}：“{'、'.join(ticked)}”是逻辑值（TRUE / FALSE），不是文字；请重新填写。")
            continue
        name = values.get("name", "")
        name_problem = department_name_problem(name)
        if name_problem:
            problems.append(f"{where}：{name_problem}")
        elif name in names:
            problems.append(f"{where}：部门名称“{name}”与第 {names[name]} 行重复；每个部门只列一次（多个项目请填“项目数”）。")
        else:
            names[name] = line
        code = values.get("code", "").strip()
        if code and _CONTROL_CHARS.search(code):
            problems.append(f"{where}：部门编码“{_visible(code)}”含有控制字符。")
        elif code and code in codes:
            problems.append(f"{where}：部门编码“{code}”与第 {codes[code]} 行重复。")
        elif code:
            codes[code] = line
        projects, projects_problem = _projects(values.get("projects", ""))
        if projects_problem:
            problems.append(f"{where}：{projects_problem}")
        contact, phone = values.get("contact", "").strip(), values.get("phone", "").strip()
        email = values.get("email", "").strip()
        if phone and _phone_problem(phone):
            problems.append(f"{where}：{_phone_problem(phone)}")
        if email and not _EMAIL.fullmatch(email):
            problems.append(f"{where}：邮箱“{_visible(email)}”不是有效的电子邮件地址。")
        departments.append(Department(name, code, contact, phone, projects, line, email))
    return departments, problems


def department_name_problem(name: str) -> str:
    """Why `name` cannot be a department name (it goes into file names and cells), or ""."""
    if not name:
        return "部门名称为空。"
    if _BAD_FILENAME_CHARS.search(name):
        return f"部门名称“{_visible(name)}”含有不能用于文件名的字符（/ \\ : * ? \" < > | 或控制字符），请删去。"
    if name != name.strip(" .\u3000") or name != name.strip():
        return f"部门名称“{name}”开头或结尾有空格或句点，请删去。"
    if name.startswith(_FORMULA_START):
        return f"部门名称“{name}”以 = + - @ 开头，表格软件会把它当成公式，请修改。"
    if len(name) > MAX_NAME:
        return f"部门名称过长（{len(name)} 个字，最多 {MAX_NAME} 个字）。"
    return ""


def safe_file_part(text: str, limit: int = MAX_NAME) -> str:
    """Text (a project name, typed by anyone) as part of a file name: what Windows forbids becomes _, no
    leading or trailing space or dot, at most `limit` characters."""
    cleaned = _BAD_FILENAME_CHARS.sub("_", clean_text(text)).strip(" .\u3000")
    return cleaned[:limit].rstrip(" .\u3000")


def _projects(text: str) -> tuple[int, str]:
    if not text:
        return 1, ""
    try:
        value = float(text)
    except ValueError:
        return 1, f"项目数“{text}”不是数字。"
    if not math.isfinite(value):  # nan, inf: float() takes them, int() would not
        return 1, f"项目数“{text}”不是数字。"
    if value != int(value) or not 1 <= value <= MAX_PROJECTS:
        return 1, f"项目数“{text}”应为 1 到 {MAX_PROJECTS} 之间的整数。"
    return int(value), ""


def _cell_text(value: Any) -> str:
    """Cell → text without reformatting: 101.0 (Excel's number) → "101", not "101.0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    # Kept as typed (not stripped): a name with stray spaces is reported, not silently changed.
    text = str(value).replace("\ufeff", "")
    return text if text.strip() else ""


def _visible(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def decode_csv(raw: bytes) -> str | None:
    """CSV text as Chinese offices save it: UTF-8 (with or without BOM) or GBK, which GB18030 covers."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
