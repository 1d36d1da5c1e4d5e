"""Issue one prefilled, locked workbook per department (per project) and a manifest of what went out.

Building a workbook with xlsxwriter takes ~15-25 ms, almost all of it the
template's layout, validations and styles, which are the same for every
department. So the workbook is built once with placeholder strings for the
per-department values (form id, department name, department code); xlsxwriter
puts each string once into xl/sharedStrings.xml, and each department's file is
that package with only the shared-strings part replaced (XML-escaped) and
re-deflated, the other parts' compressed bytes copied as they are. That is
~0.3 ms per workbook instead of ~20 ms. If a template ever places a placeholder
anywhere else, stamping falls back to building each workbook in full.
"""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..collect.inbox import TEMPLATE_COPY_PREFIX, TEMPLATE_COPY_SUFFIX, is_template_copy
from ..errors import UserError
from ..export import csv_safe
from ..fileio import FileTooLarge, atomic_path, os_reason, read_limited, write_bytes_atomic
from ..form.model import Declaration, Identity
from ..form.template import Template, TemplateError, load_template
from ..form.values import MAX_YEAR, MIN_YEAR
from ..ooxml.ziparchive import copied, deflated, directory, write_zip
from .roster import Department, decode_csv, department_name_problem, read_roster, safe_file_part

if TYPE_CHECKING:
    from .carry import Carried, CarryOver

MANIFEST_NAME = "下发清单.csv"
FILE_STEM = "绩效目标申报表"
SHARED_STRINGS = "xl/sharedStrings.xml"
BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Issued:
    """One workbook sent out: a row of the manifest."""

    form_id: str
    recipient: Department
    project_no: int
    file: str  # file name inside the output folder
    issued_at: str
    template: str
    version: str
    year: int
    template_file: str = ""  # the copy of the template beside the manifest ("" in a manifest from before copies)
    template_digest: str = ""  # its sha256, as stamped into each workbook's _meta
    carried_from: str = ""  # last year's form id of a form carried over (--carry-over), "" for a new one
    carry_match: str = ""  # how last year's return was matched (项目代码 … / 部门 + 项目名称 …), and what is missing

    # The manifest's columns for the recipient.
    @property
    def department(self) -> str:
        return self.recipient.name

    @property
    def code(self) -> str:
        return self.recipient.code

    @property
    def contact(self) -> str:
        return self.recipient.contact

    @property
    def phone(self) -> str:
        return self.recipient.phone


# Manifest columns: (header a clerk sees, Issued attribute). The order is the file's.
MANIFEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("表单编号", "form_id"),
    ("部门名称", "department"),
    ("部门编码", "code"),
    ("联系人", "contact"),
    ("联系电话", "phone"),
    ("项目序号", "project_no"),
    ("文件", "file"),
    ("下发时间", "issued_at"),
    ("模板", "template"),
    ("模板版本", "version"),
    ("年度", "year"),
    ("模板文件", "template_file"),
    ("模板摘要", "template_digest"),
    ("上年表单编号", "carried_from"),
    ("上年匹配", "carry_match"),
)


@dataclass(frozen=True)
class DistributeResult:
    issued: list[Issued]
    folder: Path
    manifest: Path
    seconds: float
    template_copy: Path | None = None
    carry_notes: list[str] = field(default_factory=list)  # last year's projects not carried, and why
    kept: int = 0  # forms of the round already issued (--append), left as they were

    @property
    def rate(self) -> float:
        """Workbooks per second, for the closing line and the benchmark."""
        return len(self.issued) / self.seconds if self.seconds > 0 else float("inf")


def file_name(year: int, department: str, project_no: int) -> str:
    """`2020_区教育局_绩效目标申报表.xlsx`; the second and later projects get `_2`, `_3`."""
    suffix = f"_{project_no}" if project_no > 1 else ""
    return f"{year}_{department}_{FILE_STEM}{suffix}.xlsx"


def package_name(year: int, department: str, project: str, mark: str) -> str:
    """`2026_区教育局_校舍维修_退回修改.xlsx`: a workbook sent back, named as the one issued was, by its project."""
    parts = [str(year), safe_file_part(department) or "未填填报单位", safe_file_part(project, 40) or FILE_STEM, mark]
    return "_".join(parts) + ".xlsx"


def template_copy_name(template: Template) -> str:
    """`下发模板_shanghai-2020.yaml`, the exact template a round was issued with, kept beside its manifest
    (report and check find it there): a clerk sees what it is; the id is only letters, digits, . _ -."""
    return f"{TEMPLATE_COPY_PREFIX}{template.id}{TEMPLATE_COPY_SUFFIX}"


def distribute(
    roster: Path | list[Department],
    outdir: Path,
    template: Template,
    *,
    year: int | None = None,
    now: datetime | None = None,
    carry_over: Path | None = None,
    append: bool = False,
) -> DistributeResult:
    """Write one workbook per department and project into `outdir`, then the manifest.

    Everything is validated first (the roster, clashes with files already in
    `outdir`), so a mistake writes nothing. Workbooks are written into a hidden
    staging folder and moved in at the end: Ctrl-C while writing leaves no partial set.

    `carry_over` (last year's store): each department's projects of last year are prefilled into its forms
    (issue/carry.py), as many forms as it has projects or the roster asks for, whichever is more.

    `append`: `outdir` holds a round already issued (its manifest); only what the roster adds is issued
    (new departments, and projects beyond those a department already has), with the same template and year.
    The forms already issued are kept as they are (neither their workbooks nor their manifest rows are
    rewritten), no form id is used twice, and the manifest is replaced in one step.
    """
    started = time.perf_counter()
    departments = read_roster(roster) if isinstance(roster, (str, Path)) else _checked(roster)
    outdir = Path(outdir)
    before = _issued_before(outdir, template, year) if append else []
    year = year or (before[0].year if before else template.year)
    issued_at = (now or datetime.now(BEIJING)).isoformat(timespec="seconds")
    copy_name = template_copy_name(template) if template.text else ""
    had = {(i.department, i.project_no) for i in before}
    taken = {i.form_id for i in before}
    carried = _carry_over(carry_over, template, departments)
    plan, prefilled = [], {}
    for d in departments:
        last = carried.by_department.get(d.name, [])
        for n in range(1, max(d.projects, len(last)) + 1):
            if (d.name, n) in had:
                continue  # --append: issued before, kept as it is
            c = last[n - 1] if n <= len(last) else None
            item = Issued(_new_form_id(taken), d, n, file_name(year, d.name, n), issued_at, template.id,
                          template.version, year, copy_name, template.digest if copy_name else "",
                          c.form_id if c else "", "；".join(filter(None, (c.match, c.note))) if c else "")
            plan.append(item)
            if c is not None:
                prefilled[item.form_id] = c
    _check_outdir(outdir, plan, "" if append else copy_name, append)
    manifest = outdir / MANIFEST_NAME
    if append and not plan:
        return DistributeResult([], outdir, manifest, time.perf_counter() - started, None, kept=len(before))
    stamper = Stamper(template, year, issued_at)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        staging = outdir / f".xlform-staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            for item in plan:
                c = prefilled.get(item.form_id)
                data = stamper.stamp(item.form_id, item.department, item.code) if c is None \
                    else _carried_workbook(template, item, c)
                (staging / item.file).write_bytes(data)
            for item in plan:  # renames in one folder: a moment, whatever the count
                (staging / item.file).replace(outdir / item.file)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if copy_name and not (outdir / copy_name).is_file():  # before the manifest, which names it
            write_bytes_atomic(outdir / copy_name, template.text.encode("utf-8"))
        if append:
            append_manifest(manifest, plan)
        else:
            write_manifest(manifest, plan)
    except OSError as exc:
        raise UserError(f"无法写入输出文件夹 {outdir}：{os_reason(exc)}") from None
    return DistributeResult(plan, outdir, manifest, time.perf_counter() - started,
                            outdir / copy_name if copy_name else None, carried.notes, kept=len(before))


def _carry_over(store: Path | None, template: Template, departments: list[Department]) -> CarryOver:
    from .carry import CarryOver, carry_over  # last year's store, and the reader it needs: only for --carry-over

    if store is None:
        return CarryOver({}, [])
    return carry_over(Path(store), template, departments)


def _carried_workbook(template: Template, item: Issued, c: Carried) -> bytes:
    """A form prefilled with last year's project: written in full (its values differ from every other form)."""
    identity = Identity(form_id=item.form_id, department=item.department, department_code=item.code,
                        issued_at=item.issued_at, carried_from=c.form_id, last_budget=c.last_budget,
                        last_money_unit=c.last_money_unit)
    return _workbook_bytes(template, replace(c.declaration, identity=identity), item.year)


def _workbook_bytes(template: Template, declaration: Declaration, year: int | None) -> bytes:
    """One workbook written in memory. The writer (xlsxwriter) is imported here, where a form is written:
    reading a manifest or a round's copy of its template never loads it."""
    from ..writing.workbook import write_workbook

    out = io.BytesIO()
    write_workbook(template, out, declaration, year=year)
    return out.getvalue()


def _new_form_id(taken: set[str]) -> str:
    """A fresh form id, never one already issued in this round."""
    while (form_id := str(uuid.uuid4())) in taken:
        pass
    taken.add(form_id)
    return form_id


def _issued_before(outdir: Path, template: Template, year: int | None) -> list[Issued]:
    """The round `--append` extends: its manifest, issued with this template (the same digest where it was
    recorded: its copy beside the manifest reads every return of the round) and for this year."""
    manifest = outdir / MANIFEST_NAME
    if not manifest.is_file():
        raise UserError(f"{outdir} 中没有下发清单 {MANIFEST_NAME}，无法追加下发；第一次下发请不要加 --append。")
    before = read_manifest(manifest)
    for item in before:
        if (item.template, item.version) != (template.id, template.version) or (
                item.template_digest and template.digest and item.template_digest != template.digest):
            raise UserError(f"{outdir} 的这一轮是用模板 {item.template}（版本 {item.version}）下发的，与现在的模板"
                            f" {template.id}（版本 {template.version}）不同；追加下发须用同一个模板"
                            "（-t 给出下发文件夹里的模板副本），或另用一个新文件夹下发。")
        if year is not None and item.year != year:
            raise UserError(f"{outdir} 的这一轮是 {item.year} 年度的，不能追加 {year} 年度的表；请另用一个新文件夹下发。")
    return before


def _checked(departments: list[Department]) -> list[Department]:
    """The same rules as a roster file, for callers that pass departments in code."""
    seen: set[str] = set()
    for d in departments:
        problem = department_name_problem(d.name) or ("部门名称重复。" if d.name in seen else "")
        if problem:
            raise UserError(f"部门“{d.name}”：{problem}")
        seen.add(d.name)
    if not departments:
        raise UserError("没有任何部门，无法下发。")
    return departments


def _check_outdir(outdir: Path, plan: list[Issued], copy_name: str, append: bool = False) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"输出位置 {outdir} 是一个文件，不是文件夹。")
    lowered: dict[str, str] = {}
    for item in plan:  # Windows and macOS file names ignore case: 'Abc' and 'ABC' would overwrite each other
        key = item.file.lower()
        if key in lowered and lowered[key] != item.department:
            raise UserError(f"部门“{lowered[key]}”和“{item.department}”只差大小写，生成的文件名会互相覆盖；请修改名单。")
        lowered[key] = item.department
    if not outdir.is_dir():
        return
    existing = {p.name.lower() for p in outdir.iterdir()}
    clashes = [item.file for item in plan if item.file.lower() in existing]
    clashes += [name for name in ("" if append else MANIFEST_NAME, copy_name) if name and name.lower() in existing]
    if clashes:
        shown = "、".join(clashes[:3]) + ("等" if len(clashes) > 3 else "")
        again = "；给这一轮补发新增的部门请加 --append" if not append and MANIFEST_NAME.lower() in existing else ""
        raise UserError(f"输出文件夹 {outdir} 中已有 {len(clashes)} 个同名文件（{shown}）。为免覆盖已下发的申报表"
                        f"（覆盖后原表的表单编号就对不上了），请换一个空文件夹，或先移走这些文件{again}。")


# ---- stamping ----------------------------------------------------------------------


class Stamper:
    """The template's workbook built once; `stamp()` gives one department's copy in well under a millisecond."""

    def __init__(self, template: Template, year: int, issued_at: str) -> None:
        self.template, self.year, self.issued_at = template, year, issued_at
        tag = uuid.uuid4().hex
        self.tokens = {key: f"XLFORM{key.upper()}{tag}" for key in ("form_id", "department", "code")}
        identity = Identity(form_id=self.tokens["form_id"], department=self.tokens["department"],
                            department_code=self.tokens["code"], issued_at=issued_at)
        data = _workbook_bytes(template, Declaration(identity=identity), year)
        self.members = [copied(data, m) for m in directory(data, max_members=10_000)]  # still compressed
        self.sst: str | None = None
        self.sst_index = -1
        for i, m in enumerate(self.members):
            if m.name == SHARED_STRINGS:
                self.sst_index = i
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    self.sst = zf.read(SHARED_STRINGS).decode("utf-8")
        self.fast = self._placeholders_only_in_sst(data)

    def _placeholders_only_in_sst(self, data: bytes) -> bool:
        """Each token exactly once, as a whole shared string, and in no other part."""
        if self.sst is None:
            return False
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                if name != SHARED_STRINGS and any(t.encode() in zf.read(name) for t in self.tokens.values()):
                    return False
        return all(self.sst.count(f"<t>{t}</t>") == 1 and self.sst.count(t) == 1 for t in self.tokens.values())

    def stamp(self, form_id: str, department: str, code: str) -> bytes:
        if not self.fast:
            identity = Identity(form_id=form_id, department=department, department_code=code,
                                issued_at=self.issued_at)
            return _workbook_bytes(self.template, Declaration(identity=identity), self.year)
        assert self.sst is not None
        sst = (self.sst.replace(self.tokens["form_id"], html.escape(form_id, quote=False))
               .replace(self.tokens["department"], html.escape(department, quote=False))
               .replace(self.tokens["code"], html.escape(code, quote=False)))
        body = sst.encode("utf-8")
        old = self.members[self.sst_index]
        members = list(self.members)
        members[self.sst_index] = replace(deflated(old.name, [body]), dos_time=old.dos_time, dos_date=old.dos_date)
        return write_zip(members)


# ---- the manifest ------------------------------------------------------------------


def write_manifest(path: Path, issued: list[Issued]) -> None:
    """CSV with a BOM (so Excel opens it as UTF-8); text that looks like a formula is neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in MANIFEST_COLUMNS])
    for item in issued:
        writer.writerow([csv_safe(getattr(item, attr)) for _, attr in MANIFEST_COLUMNS])
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))


def append_manifest(path: Path, issued: list[Issued]) -> None:
    """The manifest with these rows after its own: its text kept exactly as it is (a clerk may have re-saved
    it in Excel: GBK, columns moved), the new rows in its columns, written in one step (UTF-8 with a BOM)."""
    raw = path.read_bytes()
    text = decode_csv(raw)
    if text is None:
        raise UserError(f"下发清单 {path} 的编码无法识别。")
    text = text.lstrip("\ufeff")
    header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    attr = dict(MANIFEST_COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for item in issued:
        writer.writerow([csv_safe(getattr(item, attr[h])) if h in attr else "" for h in header])
    if text and not text.endswith(("\n", "\r")):
        text += "\r\n"
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\ufeff" + text + out.getvalue()).encode("utf-8"))


def read_manifest(path: str | Path) -> list[Issued]:
    """The manifest written by `distribute` (a clerk may have re-saved it in Excel, hence GBK too).

    `path` may be the CSV itself or the folder `distribute` wrote.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise UserError(f"找不到下发清单：{path}（由 xlform distribute 生成的 {MANIFEST_NAME}）。")
    try:
        raw = read_limited(path, MAX_MANIFEST_BYTES)
    except FileTooLarge:
        raise UserError(f"下发清单 {path} 过大（超过 {MAX_MANIFEST_BYTES // 1048576} MB），不是 distribute 写的清单。") from None
    text = decode_csv(raw)
    if text is None:
        raise UserError(f"下发清单 {path} 的编码无法识别。")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:  # a NUL byte, a field past the csv module's limit: not a list anyone saved from Excel
        raise UserError(f"下发清单 {path} 不是有效的 CSV；请使用 xlform distribute 生成的清单。") from None
    if not rows:
        raise UserError(f"下发清单 {path} 是空的。")
    header = [h.strip() for h in rows[0]]
    where = {attr: header.index(h) for h, attr in MANIFEST_COLUMNS if h in header}
    missing = [h for h, attr in MANIFEST_COLUMNS[:2] if attr not in where]
    if missing:
        raise UserError(f"下发清单 {path} 缺少列：{'、'.join(missing)}；请使用 xlform distribute 生成的清单。")
    issued, problems = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        values: dict[str, object] = {}
        for _, attr in MANIFEST_COLUMNS:
            text = _unsafe(row[where[attr]]) if attr in where and where[attr] < len(row) else ""
            problem = _manifest_cell_problem(attr, text)
            if problem:
                problems.append(f"第 {line} 行：{problem}")
            values[attr] = (int(text) if text.isdigit() else 0) if attr in _INT_COLUMNS else text
        recipient = Department(str(values.pop("department")), str(values.pop("code")), str(values.pop("contact")),
                               str(values.pop("phone")))
        issued.append(Issued(recipient=recipient, **values))  # type: ignore[arg-type]
    if not issued and not problems:
        problems.append("表头下面没有任何下发记录")
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ……另有 {len(problems) - 20} 处" if len(problems) > 20 else "")
        raise UserError(f"下发清单 {path} 有 {len(problems)} 处被改坏了（distribute 写出的清单不会这样）：\n  {shown}\n"
                        "请改回，或换用 distribute 写出的原清单。")
    return issued


_INT_COLUMNS = ("project_no", "year")
MAX_MANIFEST_BYTES = 50 * 1024 * 1024  # a province's round is a few MB
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _manifest_cell_problem(attr: str, text: str) -> str:
    """Why a cell of the manifest is not what distribute wrote there ("" when it is)."""
    label = _MANIFEST_LABEL[attr]
    if attr in ("form_id", "department") and not text:
        return f"“{label}”是空的"
    if attr == "year" and text and not (text.isdigit() and MIN_YEAR <= int(text) <= MAX_YEAR):
        return f"“{label}”是“{text[:20]}”，不是 {MIN_YEAR}–{MAX_YEAR} 之间的年份"
    if attr == "project_no" and text and not (text.isdigit() and int(text) >= 1):
        return f"“{label}”是“{text[:20]}”，不是从 1 起的序号"
    if attr == "template_digest" and text and not _HEX64.fullmatch(text):
        return f"“{label}”是“{text[:20]}”，不是 64 位的摘要"
    return ""  # 下发时间 is only shown: Excel re-saving the list may rewrite it as a date of its own


_MANIFEST_LABEL = {attr: header for header, attr in MANIFEST_COLUMNS}


def read_manifests(paths: Sequence[str | Path]) -> list[Issued]:
    """Several manifests as one round (a later 补发 to new departments, or a folder `distribute --append`
    extended): every form once, in the order first seen. A form id issued to two different departments
    cannot be attributed: a usage error naming both, before anything is read."""
    seen: dict[str, tuple[Issued, Path]] = {}
    for path in map(Path, paths):
        for item in read_manifest(path):
            first = seen.get(item.form_id)
            if first is None:
                seen[item.form_id] = (item, path)
            elif first[0].department != item.department:
                raise UserError(f"表单编号 {item.form_id} 在下发清单 {first[1]} 中下发给“{first[0].department}”，"
                                f"在 {path} 中却下发给“{item.department}”：无法确定交回的表属于哪个部门；"
                                "请核对这两份下发清单（同一轮的表单编号不应重复）。")
    return [item for item, _ in seen.values()]


def _unsafe(text: str) -> str:
    """Undo csv_safe: a leading ' before = + - @ was added by us, not typed by anyone."""
    text = text.strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def manifest_templates(path: str | Path) -> list[Template]:
    """The templates a manifest's round was issued with: the copies `distribute` kept beside it (none for a
    manifest from before copies were kept). A copy that is named but missing or broken is a usage error:
    without it the returns may not be readable."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    found: list[Template] = []
    for name in dict.fromkeys(i.template_file for i in read_manifest(path) if i.template_file):
        if Path(name).name != name or not is_template_copy(name):
            raise UserError(f"下发清单 {path} 的“模板文件”列写的是“{name}”，不是 distribute 保存的模板副本"
                            f"（{TEMPLATE_COPY_PREFIX}….yaml）；请使用 xlform distribute 生成的清单。")
        copy = folder / name
        if not copy.is_file():
            raise UserError(f"下发清单中记录的模板副本 {name} 不在 {folder} 中；请把它放回下发清单旁边，"
                            "或用 -t 指定下发时所用的模板文件。")
        try:
            found.append(load_template(copy, issuing=False))  # read with as issued, whichever xlform issued it
        except TemplateError as exc:
            raise UserError(f"下发时保存的模板副本无法使用：{exc}") from None
    return found
