"""Open a returned .xlsx safely: sniff the format, bound the zip, refuse hostile XML.

Nothing here executes, fetches or recalculates anything in the file. What the
reader needs from the XML (sheet list, defined names, protection flags, a
cell's number format) is read straight from the parts, and every refusal is
an `Unreadable` with one Chinese sentence a clerk understands.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

# Limits: a real return is ~30 KB zipped and ~300 KB unzipped.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 2000
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


class Unreadable(Exception):
    """A file that cannot be read at all; str() is the reason, in Chinese."""


@dataclass(frozen=True)
class SheetRef:
    name: str
    part: str  # e.g. xl/worksheets/sheet2.xml
    state: str  # visible / hidden / veryHidden


@dataclass
class Package:
    path: Path
    data: bytes
    zf: zipfile.ZipFile
    sheets: list[SheetRef]
    names: dict[str, str]  # workbook-level defined names → formula text
    structure_locked: bool
    has_macros: bool
    external_links: bool
    _styles: dict[int, bool] | None = field(default=None, repr=False)

    def sheet(self, name: str) -> SheetRef | None:
        return next((s for s in self.sheets if s.name == name), None)

    def read_part(self, part: str) -> bytes:
        return _safe_xml(self.zf, part)

    def sheet_protected(self, name: str) -> bool:
        ref = self.sheet(name)
        if ref is None:
            return False
        tag = re.search(rb"<(?:\w+:)?sheetProtection\b[^>]*>", self.read_part(ref.part))
        return bool(tag and re.search(rb'\bsheet="(1|true)"', tag.group(0)))

    def is_percent_cell(self, sheet: str, address: str) -> bool:
        """Whether the cell at `address` carries a percent number format (for 1.0 shown as 100%)."""
        ref = self.sheet(sheet)
        if ref is None:
            return False
        m = re.search(rb'<c r="' + address.encode() + rb'"[^>]*?\ss="(\d+)"', self.read_part(ref.part))
        return bool(m) and self._percent_styles().get(int(m.group(1)), False)

    def _percent_styles(self) -> dict[int, bool]:
        if self._styles is None:
            self._styles = {}
            try:
                root = SafeET.fromstring(self.read_part("xl/styles.xml"))
            except (KeyError, SafeET.ParseError):
                return self._styles
            custom = {
                int(n.get("numFmtId", "0")): "%" in (n.get("formatCode") or "")
                for n in root.iter(f"{NS_MAIN}numFmt")
            }
            xfs = root.find(f"{NS_MAIN}cellXfs")
            for i, xf in enumerate(xfs if xfs is not None else []):
                fmt = int(xf.get("numFmtId", "0"))
                self._styles[i] = fmt in (9, 10) or custom.get(fmt, False)
        return self._styles


def open_package(path: Path, data: bytes | None = None) -> Package:
    """Sniff and open `path` (or `data` read from it), or raise Unreadable with the reason."""
    path = Path(path)
    if data is None:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise Unreadable(f"文件过大（{size / 1048576:.0f} MB），申报表通常不到 1 MB，请确认是否选错文件。")
            data = path.read_bytes()
        except OSError as exc:
            raise Unreadable(f"无法打开文件（{exc.strerror or exc}）。") from None
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"文件过大（{len(data) / 1048576:.0f} MB），申报表通常不到 1 MB，请确认是否选错文件。")
    _sniff(path, data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Unreadable("文件已损坏（压缩包不完整，可能是传输或保存时中断），请重新保存后再交。") from None
    _check_zip(zf)
    names = set(zf.namelist())
    if "mimetype" in names and b"opendocument" in zf.read("mimetype")[:100]:
        raise Unreadable("这是 ODS（OpenDocument）格式；请在 LibreOffice/WPS 中“另存为” Excel 工作簿（.xlsx）后再交。")
    if "xl/workbook.xml" not in names:
        raise Unreadable("这不是 Excel 工作簿（.xlsx）：压缩包里没有工作簿内容。")
    content_types = _safe_xml(zf, "[Content_Types].xml") if "[Content_Types].xml" in names else b""
    sheets, defined, locked = _workbook(zf)
    return Package(
        path=path,
        data=data,
        zf=zf,
        sheets=sheets,
        names=defined,
        structure_locked=locked,
        has_macros=b"macroEnabled" in content_types or "xl/vbaProject.bin" in names,
        external_links=any(n.startswith("xl/externalLinks/") for n in names),
    )


def _sniff(path: Path, data: bytes) -> None:
    suffix = path.suffix.lower()
    if not data:
        raise Unreadable("文件是空的（0 字节），请重新保存后再交。")
    if data.startswith(OLE_MAGIC):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in data:
            raise Unreadable("文件设置了打开密码（已加密），无法读取；请取消密码后另存为 .xlsx 再交。")
        if suffix == ".et":
            raise Unreadable("这是 WPS 表格格式（.et）；请在 WPS 中“另存为” Excel 工作簿（.xlsx）后再交。")
        raise Unreadable("这是旧版 Excel 格式（.xls）；请用 Excel 或 WPS “另存为” Excel 工作簿（.xlsx）后再交。")
    if data.startswith(ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return
    head = data[:2048]
    if suffix == ".et":
        raise Unreadable("这是 WPS 表格格式（.et）；请在 WPS 中“另存为” Excel 工作簿（.xlsx）后再交。")
    if head.lstrip().startswith((b"<?xml", b"<html", b"<HTML", b"<!DOCTYPE")):
        raise Unreadable("这是网页或 XML 文件，不是 Excel 工作簿（.xlsx）；请用 Excel 或 WPS 另存为 .xlsx。")
    text = b"\x00" not in head and (_decodes(head, "utf-8") or _decodes(head, "gb18030"))
    if text:
        raise Unreadable("这是文本（如 CSV）文件，只是扩展名为表格；请在 Excel 或 WPS 中打开后另存为 .xlsx。")
    raise Unreadable("这不是 Excel 工作簿（.xlsx），无法识别文件内容。")


def _decodes(head: bytes, encoding: str) -> bool:
    try:
        head.decode(encoding)
    except UnicodeDecodeError:
        # The 2 KB cut may split a multi-byte character: allow a short tail.
        try:
            head[:-4].decode(encoding)
        except UnicodeDecodeError:
            return False
    return True


def _check_zip(zf: zipfile.ZipFile) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise Unreadable(f"文件结构异常（压缩包内有 {len(infos)} 个部件），已拒绝读取。")
    total = 0
    for info in infos:
        total += info.file_size
        too_big = info.file_size > MAX_MEMBER_BYTES or total > MAX_UNZIPPED_BYTES
        ratio = info.file_size / max(info.compress_size, 1)
        if too_big or (info.file_size > RATIO_FLOOR and ratio > MAX_RATIO):
            raise Unreadable("文件解压后异常庞大（疑似“压缩炸弹”），已拒绝读取；如是正常申报表，请删除多余内容后重新保存。")


def _safe_xml(zf: zipfile.ZipFile, part: str) -> bytes:
    """Read one XML part, refusing DTDs: no entity expansion (billion laughs), no external entities."""
    try:
        with zf.open(part) as fh:
            body = fh.read(MAX_MEMBER_BYTES + 1)
    except KeyError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise Unreadable("文件已损坏（内部数据无法解压），请重新保存后再交。") from None
    if len(body) > MAX_MEMBER_BYTES:
        raise Unreadable("文件解压后异常庞大（疑似“压缩炸弹”），已拒绝读取。")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Unreadable("文件中含有不安全的 XML 声明（DOCTYPE/实体），已拒绝读取；请用 Excel 或 WPS 重新保存。")
    return body


def _parse(zf: zipfile.ZipFile, part: str) -> Element:
    try:
        return SafeET.fromstring(_safe_xml(zf, part))
    except KeyError:
        raise Unreadable(f"文件不完整（缺少 {part}），请用 Excel 或 WPS 重新保存。") from None
    except Exception as exc:  # defusedxml / expat errors of any kind mean a damaged file
        raise Unreadable(f"文件已损坏（{part} 无法解析），请重新保存后再交。") from exc


def _workbook(zf: zipfile.ZipFile) -> tuple[list[SheetRef], dict[str, str], bool]:
    root = _parse(zf, "xl/workbook.xml")
    targets = {}
    if "xl/_rels/workbook.xml.rels" in zf.namelist():
        for rel in _parse(zf, "xl/_rels/workbook.xml.rels").iter(f"{NS_PKG_REL}Relationship"):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            targets[rel.get("Id")] = target
    sheets = []
    for s in root.iter(f"{NS_MAIN}sheet"):
        part = targets.get(s.get(f"{NS_REL}id"), "")
        sheets.append(SheetRef(s.get("name", ""), part, s.get("state", "visible")))
    names = {}
    for n in root.iter(f"{NS_MAIN}definedName"):
        if n.get("localSheetId") is None and n.get("name"):
            names[n.get("name", "")] = (n.text or "").strip()
    protection = root.find(f"{NS_MAIN}workbookProtection")
    locked = protection is not None and protection.get("lockStructure") in ("1", "true")
    return sheets, names, locked
