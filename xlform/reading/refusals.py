"""Every reason a file is not read, in one place: a stable code, a short title, the sentence a clerk reads.

The code is what programs and tests rely on (`xlform check --format json` and the report carry it);
the sentence may be reworded, the code may not. A refusal is raised as `Unreadable(REFUSAL, **values)`
by the reader, or given as a `Reason` to an item collecting lists without reading it.
The README's table of them is made from this catalogue (`python -m xlform.readme_tables README.md`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One refusal, formatted: what an item or a result carries."""

    code: str
    message: str


@dataclass(frozen=True)
class Refusal:
    code: str  # stable: unreadable.<reason> (ignored.<reason> for what is listed but never a problem)
    title: str  # the reason's kind, in a few Chinese words (the report's 原因类别)
    template: str  # the sentence, str.format placeholders for what varies

    def format(self, **values: Any) -> str:
        return self.template.format(**values)

    def __call__(self, **values: Any) -> Reason:
        return Reason(self.code, self.format(**values))


class Unreadable(Exception):
    """A file that cannot be read at all; str() is the reason, in Chinese, `.code` its code."""

    def __init__(self, refusal: Refusal, **values: Any) -> None:
        super().__init__(refusal.format(**values))
        self.code = refusal.code
        self.refusal = refusal

    def __reduce__(self) -> tuple[Any, ...]:  # pickled across worker processes like any exception
        return _rebuilt, (self.refusal, str(self))


def _rebuilt(refusal: Refusal, message: str) -> Unreadable:
    exc = Unreadable.__new__(Unreadable)
    Exception.__init__(exc, message)
    exc.code, exc.refusal = refusal.code, refusal
    return exc


CATALOGUE: dict[str, Refusal] = {}


def declare(code: str, title: str, template: str) -> Refusal:
    if code in CATALOGUE:
        raise ValueError(f"refusal {code} declared twice")
    CATALOGUE[code] = refusal = Refusal(code, title, template)
    return refusal


_RESAVE = "请用 Excel 或 WPS 重新保存。"
_TOO_MUCH = "请删除多余的行或粘贴进来的大量数据后重新保存。"

# ---- the file itself: opening, sniffing its format --------------------------------------
CANNOT_OPEN = declare("unreadable.cannot_open", "无法打开", "无法打开文件（{why}）。")
TOO_LARGE = declare("unreadable.too_large", "文件过大",
                    "文件过大（{mb:.0f} MB），申报表通常不到 1 MB，请确认是否选错文件。")
EMPTY = declare("unreadable.empty", "文件为空", "文件是空的（0 字节），请重新保存后再交。")
ENCRYPTED = declare("unreadable.encrypted", "设置了密码",
                    "文件设置了打开密码（已加密），无法读取；请取消密码后另存为 .xlsx 再交。")
LEGACY_FORMAT = declare("unreadable.legacy_format", "格式不对",
                        "这是旧版 Excel 格式（.xls）；请用 Excel 或 WPS “另存为” Excel 工作簿（.xlsx）后再交。")
WPS_FORMAT = declare("unreadable.wps_format", "格式不对",
                     "这是 WPS 表格格式（.et）；请在 WPS 中“另存为” Excel 工作簿（.xlsx）后再交。")
XLSB_FORMAT = declare("unreadable.xlsb_format", "格式不对",
                      "这是 Excel 二进制工作簿（.xlsb）；请在 Excel 中“另存为” Excel 工作簿（.xlsx）后再交。")
ODS_FORMAT = declare("unreadable.ods_format", "格式不对",
                     "这是 ODS（OpenDocument）格式；请在 LibreOffice/WPS 中“另存为” Excel 工作簿（.xlsx）后再交。")
WORD_DOC = declare("unreadable.word_document", "不是表格文件",
                   "这是 Word 文档（.doc），不是 Excel 工作簿（.xlsx）；请确认是否选错文件。")
OFFICE_DOC = declare("unreadable.office_document", "不是表格文件",
                     "这是 Word 或 PowerPoint 文件，不是 Excel 工作簿（.xlsx）；请确认是否选错文件。")
UNICODE_TEXT = declare("unreadable.unicode_text", "不是表格文件",
                       "这是文本（如 CSV 或 Unicode 文本）文件，只是扩展名为表格；请在 Excel 或 WPS 中打开后另存为 .xlsx。")
TEXT = declare("unreadable.text", "不是表格文件",
               "这是文本（如 CSV）文件，只是扩展名为表格；请在 Excel 或 WPS 中打开后另存为 .xlsx。")
WEB_PAGE = declare("unreadable.web_page", "不是表格文件",
                   "这是网页或 XML 文件，不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 另存为 .xlsx。")
UNKNOWN_FORMAT = declare("unreadable.unknown_format", "不是表格文件", "这不是 Excel 工作簿（.xlsx），无法识别文件内容。")
NO_WORKBOOK = declare("unreadable.no_workbook", "不是表格文件", "这不是 Excel 工作簿（.xlsx）：压缩包里没有工作簿内容。")

# ---- the zip inside an .xlsx -----------------------------------------------------------
TRUNCATED = declare("unreadable.truncated", "文件损坏",
                    "文件已损坏（压缩包不完整，可能是传输或保存时中断），请重新保存后再交。")
DAMAGED = declare("unreadable.damaged", "文件损坏", "文件已损坏（内部数据无法解压），请重新保存后再交。")
TOO_MANY_PARTS = declare("unreadable.too_many_parts", "结构异常", "文件结构异常（压缩包内有 {count} 个部件），已拒绝读取。")
DUPLICATE_PARTS = declare("unreadable.duplicate_parts", "结构异常",
                          "文件结构异常（压缩包内有重名部件），已拒绝读取；" + _RESAVE)
ENCRYPTED_PARTS = declare("unreadable.encrypted_parts", "设置了密码",
                          "文件内部被加密，无法读取；请取消密码后用 Excel 或 WPS 另存为 .xlsx 再交。")
COMPRESSION = declare("unreadable.compression", "结构异常",
                      "文件使用了不支持的压缩方式，不是 Excel 或 WPS 保存的 .xlsx；" + _RESAVE)
ZIP_BOMB = declare("unreadable.zip_bomb", "压缩炸弹",
                   "文件解压后异常庞大（疑似“压缩炸弹”），已拒绝读取；如是正常申报表，请删除多余内容后重新保存。")
PART_TOO_LARGE = declare("unreadable.part_too_large", "内容过多",
                         "文件内容过多（{part} 解压后约 {mb:.0f} MB，申报表通常不到 1 MB），已拒绝读取；" + _TOO_MUCH)
CONTENT_TOO_LARGE = declare("unreadable.content_too_large", "内容过多",
                            "文件内容过多（解压后的表格内容超过 {mb} MB，申报表通常不到 1 MB），已拒绝读取；" + _TOO_MUCH)

# ---- the XML parts ---------------------------------------------------------------------
UTF16 = declare("unreadable.utf16", "结构异常", "文件内部使用了不支持的文字编码（UTF-16），无法可靠读取；" + _RESAVE)
XML_ENTITIES = declare("unreadable.xml_entities", "不安全的 XML",
                       "文件中含有不安全的 XML 声明（DOCTYPE/实体），已拒绝读取；" + _RESAVE)
HUGE_COUNT = declare("unreadable.huge_count", "结构异常", "文件结构异常（{part} 声明了不合理的数量），已拒绝读取；" + _RESAVE)
PART_MISSING = declare("unreadable.part_missing", "文件不完整", "文件不完整（缺少 {part}），" + _RESAVE)
PART_TOO_BIG = declare("unreadable.part_too_big", "结构异常", "文件结构异常（{part} 过于庞大），已拒绝读取；" + _RESAVE)
PART_DAMAGED = declare("unreadable.part_damaged", "文件损坏", "文件已损坏（{part} 无法解析），请重新保存后再交。")
SHEET_TOO_MANY_TAGS = declare(
    "unreadable.sheet_too_many_tags", "内容过多",
    "{where}内容过多（超过 {limit} 个 XML 标记，申报表一张表只有几千个），已拒绝读取；请删除多余的行、列或粘贴进来的数据后重新保存。")
SHEET_TOO_FAR = declare(
    "unreadable.sheet_too_far", "内容过多",
    "{where}中一直到{last}都有内容（申报表不到 200 行、20 列，本系统最多读取 {rows} 行、{cols} 列），"
    "已拒绝读取；请删除多余的行、列或粘贴进来的数据后重新保存。")

# ---- what the reader finds in the workbook ----------------------------------------------
CALAMINE_FAILED = declare("unreadable.content_damaged", "文件损坏",
                          "文件已损坏，无法读取表格内容（技术信息：{detail}），" + _RESAVE)
SHEET_DAMAGED = declare("unreadable.sheet_damaged", "文件损坏",
                        "工作表“{sheet}”已损坏，无法读取（技术信息：{detail}），" + _RESAVE)
NOT_ISSUED = declare("unreadable.not_issued", "不是下发的申报表",
                     "这不是本系统下发的申报表（缺少识别信息）；请使用财政部门下发的申报表填报。")
META_INCOMPLETE = declare("unreadable.meta_incomplete", "不是下发的申报表",
                          "这不是本系统下发的申报表（识别信息不完整）；请使用财政部门下发的申报表填报。")
TEMPLATE_VERSION = declare(
    "unreadable.template_version", "模板不符",
    "这是模板 {template} 的版本 {version}，本系统只认识 {known}；请使用本次下发的申报表重新填报，"
    "或由财政部门用 --template 指定该版本的模板文件。")
TEMPLATE_UNKNOWN = declare("unreadable.template_unknown", "模板不符",
                           "这张表来自未知的模板“{template}”（版本 {version}），本系统认识：{known}。")
TEMPLATE_CHANGED = declare(
    "unreadable.template_changed", "模板不符",
    "这张表与模板 {template} 版本 {version} 的格式不一致（同一版本号下模板被修改过），"
    "无法确定各数值的位置；请使用本次下发的申报表重新填报。")
SHEET_MISSING = declare("unreadable.sheet_missing", "工作表缺失",
                        "工作表“{sheets}”被删除或改名，无法按表读取；请使用下发的原表重新填报，不要改动工作表。")
OUT_OF_MEMORY = declare("unreadable.out_of_memory", "内容过多", "文件内容过大，读取时内存不足，已拒绝读取。")
UNEXPECTED = declare("unreadable.unexpected", "文件损坏",
                     "文件已损坏或格式异常，无法读取（{error}）；请用 Excel 或 WPS 重新保存后再交。")
CHECK_FAILED = declare("unreadable.check_failed", "审核出错", "审核时出错（{error}: {detail}）；请把此文件发给维护人员。")

# ---- collecting: what is listed under the inbox folders and never read -------------------
IGNORED = "ignored."  # the codes of what is listed but never a problem
JUNK = declare("ignored.junk", "临时文件", "临时文件，已忽略")
TEMPLATE_COPY = declare("ignored.template_copy", "下发模板副本",
                        "这是下发时保存的模板副本（供汇总和审核时识别申报表），不是申报表，已忽略")
MISSING = declare("unreadable.missing", "找不到文件", "找不到这个文件或文件夹，请检查路径。")
NOT_REGULAR = declare("unreadable.not_regular", "不是普通文件", "这不是普通文件（管道/设备/套接字），未读取。")
LINK_OUTSIDE = declare("unreadable.link_outside", "快捷方式",
                       "这是一个快捷方式（符号链接），指向收件文件夹以外的位置，未读取；如需汇总，请把文件本身放进收件文件夹。")
LINK_INSIDE = declare("unreadable.link_inside", "快捷方式",
                      "这是一个快捷方式（符号链接），指向收件文件夹里的“{target}”，那里的文件已按原位置读取，这里不再重复读取。")
LINK_BROKEN = declare("unreadable.link_broken", "快捷方式", "这是一个快捷方式（符号链接），它指向的文件或文件夹已不存在，未读取。")
LINK_LOOP = declare("unreadable.link_loop", "快捷方式", "这是一个快捷方式（符号链接），它绕回了自己（循环链接），未读取。")
LINK_UNREADABLE = declare("unreadable.link_unreadable", "快捷方式",
                          "这是一个快捷方式（符号链接），无法查看它指向的位置（{why}），未读取。")
SHORTCUT = declare("unreadable.shortcut", "快捷方式",
                   "这是一个 Windows 快捷方式（.lnk），不是文件本身，未读取；请把它指向的申报表本身放进收件文件夹。")
FOLDER_UNREADABLE = declare("unreadable.folder_unreadable", "无法打开", "无法打开这个文件夹（{why}），其中的文件未读取。{advice}")
ENTRY_UNREADABLE = declare("unreadable.entry_unreadable", "无法打开", "无法查看这个文件（{why}），未读取。")
FOLDER_SEEN = declare("unreadable.folder_seen", "重复的文件夹",
                      "这个文件夹就是已经读取的“{first}”（挂载到了这里），这里不再重复读取。")
TOO_MANY_FILES = declare("unreadable.too_many_files", "文件过多",
                         "收件文件夹里的文件超过 {limit} 个，这里还有 {count} 个文件未读取；请分成几个收件文件夹分别汇总。")
OTHER_ARCHIVE = declare("unreadable.other_archive", "不是表格文件",
                        "这是 {suffix} 压缩包，本系统只打开 .zip；请解压后把申报表放进收件文件夹，或改用 .zip 打包。")
NOT_SPREADSHEET = declare("unreadable.not_spreadsheet", "不是表格文件",
                          "不是表格文件（{suffix} 文件），未读取；申报表应为 Excel 工作簿（.xlsx）。")

# ---- collecting: zip files of returns -----------------------------------------------------
ZIP_TOO_LARGE = declare("unreadable.zip_too_large", "文件过大", "压缩包过大（{mb:.0f} MB），已拒绝读取；请分成几个较小的压缩包。")
ZIP_DIRECTORY = declare("unreadable.zip_directory", "压缩包异常",
                        "压缩包目录异常庞大（声称有极多文件），已拒绝读取；请分成几个较小的压缩包。")
ZIP_DAMAGED = declare("unreadable.zip_damaged", "文件损坏", "压缩包已损坏或不完整，无法打开；请重新下载或让对方重新打包。")
ZIP_TOO_MANY = declare("unreadable.zip_too_many", "文件过多",
                       "压缩包内文件过多（{count} 个），已拒绝读取；请分成几个较小的压缩包。")
ZIP_NOT_OPENED = declare(
    "unreadable.zip_not_opened", "文件过多",
    "这个压缩包里还有 {count} 个文件未打开：{why}；请解开压缩包，分成几个较小的压缩包（或直接放进收件文件夹）后重新汇总。")
ZIP_TOO_DEEP = declare("unreadable.zip_too_deep", "压缩包异常", "压缩包嵌套超过 {depth} 层，已拒绝读取；请解开后重新打包。")
MEMBER_ENCRYPTED = declare("unreadable.member_encrypted", "设置了密码", "压缩包内的这个文件设置了密码，无法读取；请不加密码重新打包。")
MEMBER_BOMB = declare("unreadable.member_bomb", "压缩炸弹", "解压后异常庞大（疑似“压缩炸弹”）或文件过大，已拒绝读取。")
MEMBER_DAMAGED = declare("unreadable.member_damaged", "文件损坏", "压缩包内的这个文件已损坏，无法解压；请让对方重新打包发送。")

# ---- collecting: the reading process ------------------------------------------------------
CRASHED = declare("unreadable.crashed", "读取程序异常退出",
                  "读取这个文件时读取程序异常退出（文件可能损坏或经过特殊构造），已拒绝读取；请用 Excel 或 WPS 重新保存后再交。")
TIMEOUT = declare("unreadable.timeout", "读取超时",
                  "读取这个文件超过 {seconds:.0f} 秒仍未完成（文件可能损坏或经过特殊构造），已停止读取；"
                  "请用 Excel 或 WPS 重新保存后再交。")


# Refused because the reader lacks the template a return was issued with: what the user can do about it.
TEMPLATE_CODES = frozenset({TEMPLATE_VERSION.code, TEMPLATE_UNKNOWN.code, TEMPLATE_CHANGED.code})
TEMPLATE_HINT = ("没有下发时所用的模板，这些表无法读取：请加上 -t 模板文件（下发时所用的 YAML），"
                 "或 --manifest 下发文件夹（下发时在清单旁保存了模板副本），或 --db 收件记录库（以前的汇总记下了所用的模板）。")


def counted(codes: dict[str, int]) -> str:
    """“模板不符 9 个、文件损坏 1 个”: how many files of each reason (by its title), the most first."""
    by_title: dict[str, int] = {}
    for code, n in codes.items():
        title = title_of(code) or "其他原因"
        by_title[title] = by_title.get(title, 0) + n
    return "、".join(f"{title} {n} 个" for title, n in sorted(by_title.items(), key=lambda kv: -kv[1]))


def hint(codes: dict[str, int]) -> str:
    """What to do about these refusals, when there is something to do ("" otherwise)."""
    return TEMPLATE_HINT if any(n and code in TEMPLATE_CODES for code, n in codes.items()) else ""


def title_of(code: str) -> str:
    """The title of a code ("" for none: a file that was read)."""
    refusal = CATALOGUE.get(code)
    return refusal.title if refusal else ""


def markdown() -> str:
    """The README's table of refusal codes, from the catalogue."""
    rows = ["| 代码 | 原因类别 | 说明 |", "|---|---|---|"]
    for r in CATALOGUE.values():
        shown = r.template.replace("|", "\\|")
        rows.append(f"| `{r.code}` | {r.title} | {shown} |")
    return "\n".join(rows)

