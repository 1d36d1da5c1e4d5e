"""`xlform demo`: the whole job on built-in data, offline, in about a second.

A roster of six departments → distribute → returns "filled in" by code the
way departments fill them (the real 2020 sample, a clean one, and the usual
mistakes: funding parts that do not add up, a 二级 under the wrong 一级, a
missing 目标值, amounts typed in 万元 on a 元 form, a date outside the year),
a zipped mail attachment, a broken file, a department that never answers →
the summary report → return packages for the returns to fix (`xlform
feedback`'s own code) → one department corrects its package and sends it in
again under the same 表单编号 → the summary report once more, the correction
superseding the return it answers. Every output is a real file to open.

`-t ID` runs the same round on another template. One that carries its own
`example:` gets returns built from it (with the template's lists, taxonomy,
money unit and year), broken in the same ways; the default keeps the returns
above, built in code for the 2020 sample.
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from .errors import UserError
from .form.fields import Kind
from .form.model import (
    Activity,
    CostItem,
    Declaration,
    Identity,
    Indicator,
    Target,
    field_value,
    row_value,
    rows_of,
    set_field_value,
    set_row_value,
)
from .form.sample import clean_sample_declaration, example_declaration, sample_declaration, with_example
from .form.shipped import DEFAULT_TEMPLATE
from .form.targets import parse_target
from .form.template import Template, load_template
from .issue.distribute import DistributeResult, Issued, distribute
from .issue.feedback import FeedbackResult, write_feedback
from .reading.reader import Registry, read
from .report.result import ReportResult
from .report.run import make_report
from .writing.workbook import write_workbook

MARKER = ".xlform-demo"
ROSTER_NAME = "部门名单.csv"
ISSUED_DIR = "下发"
INBOX_DIR = "收件"
REPORT_NAME = "汇总报告.xlsx"
STORE_NAME = "收件记录.db"
FEEDBACK_DIR = "退回修改"
RESUBMITTED_DIR = "重新提交"
CORRECTS = "区卫生健康委"  # the department that corrects its package and sends it in again
DAY = 86400

ROSTER = (
    ("部门名称", "部门编码", "联系人", "联系电话", "项目数"),
    ("区机关事务管理局", "MH001", "何小荣", "24033138", "1"),
    ("区教育局", "MH002", "王晓静", "64123456", "2"),
    ("区卫生健康委", "MH003", "李建国", "13800138003", "1"),
    ("区民政局", "MH004", "陈敏", "64120004", "1"),
    ("区生态环境局", "MH005", "周涛", "64120005", "1"),
    ("区文化和旅游局", "MH006", "吴婷", "64120006", "1"),
)


@dataclass
class DemoResult:
    folder: Path
    roster: Path
    issued: DistributeResult
    inbox: Path
    report: ReportResult
    seconds: float
    template: Template | None = None  # the round's template when it is not the default
    feedback: FeedbackResult | None = None
    first: ReportResult | None = None  # the report before the packages went back: the loop shows as two summaries

    def lines(self) -> list[str]:
        own = [f"  模板：{self.template.id}（{self.template.title}，版本 {self.template.version}）"] if self.template else []
        return [
            f"演示完成（用时 {self.seconds:.1f} 秒），所有文件都在 {self.folder}：",
            *own,
            f"  部门名单：{self.roster}（6 个部门，区教育局有 2 个项目）",
            f"  下发的申报表：{self.issued.folder}（{len(self.issued.issued)} 份，部门已预填并锁定；"
            f"下发清单 {self.issued.manifest}）",
            f"  交回的申报表：{self.inbox}（含邮件附件 .zip、一次重新提交、一个损坏的文件、一个临时文件；"
            "区文化和旅游局未交）",
            *([f"  第一次汇总，{self.first.closing_line()}"] if self.first else []),
            *self._feedback_lines(),
            f"  {'重新提交后再汇总，' if self.first else ''}{self.report.closing_line()}",
            f"  汇总报告：{self.report.outputs[0]}",
            f"  收件记录库：{self.folder / STORE_NAME}",
            "下一步：用 Excel 或 WPS 打开汇总报告（汇总、按部门、问题清单……）。用自己的名单时：",
            "  xlform distribute 部门名单.csv -o 下发",
            "  xlform report 收件 -o 汇总报告.xlsx --manifest 下发 --db 收件记录.db",
            "  xlform review 汇总报告.xlsx --db 收件记录.db    # 在报告的“审核”表里填好审核结论之后",
            "  xlform feedback --db 收件记录.db -o 退回修改 --eml",
        ]

    def _feedback_lines(self) -> list[str]:
        if self.feedback is None:
            return []
        departments = len({s.department for s in self.feedback.sent})
        return [f"  退回修改包：{self.feedback.folder}（{departments} 个部门 {len(self.feedback.sent)} 份；"
                f"{CORRECTS}改好后重新提交，已替代原版本）"]


def run_demo(folder: Path, template_ref: str | Path = DEFAULT_TEMPLATE) -> DemoResult:
    started = time.perf_counter()
    template = load_template(template_ref)  # before any file is written: an unknown template changes nothing
    folder = Path(folder)
    _prepare(folder)
    roster = folder / ROSTER_NAME
    roster.write_text("\n".join(",".join(row) for row in ROSTER) + "\n", encoding="utf-8-sig")
    issued = distribute(roster, folder / ISSUED_DIR, template)
    inbox = folder / INBOX_DIR
    inbox.mkdir()
    make = _from_example(template) if template.example else _SAMPLE_RETURNS
    _fill_returns(issued, inbox, template, make)
    db = folder / STORE_NAME

    def summarise() -> ReportResult:
        return make_report([inbox], folder / REPORT_NAME, manifest=issued.manifest, db=db, jobs=1, progress=False)

    first = summarise()
    feedback = write_feedback(db, folder / FEEDBACK_DIR, eml=True, templates=[template])
    _correct(feedback, issued, inbox, template, make)
    report = summarise()
    shown = template if template.id != DEFAULT_TEMPLATE else None
    return DemoResult(folder, roster, issued, inbox, report, time.perf_counter() - started, shown, feedback, first)


def _correct(feedback: FeedbackResult, issued: DistributeResult, inbox: Path, template: Template,
             make: Returns) -> None:
    """CORRECTS types the corrections into its package (the amounts the findings point at) and sends it in a day
    after its first return: the package read back, its identity and everything else kept, the money fixed."""
    sent = next(s for s in feedback.sent if s.department == CORRECTS)
    d = read(sent.path, Registry([template]))
    fixed = make["health"](next(i for i in issued.issued if i.department == CORRECTS))
    d.funding, d.extra = fixed.funding, fixed.extra
    corrected = inbox / RESUBMITTED_DIR / sent.path.name
    write_workbook(template, corrected, d)
    now = time.time()
    os.utime(corrected, (now, now))


def _prepare(folder: Path) -> None:
    """A fresh folder, or one a previous demo made (then only the demo's own files are replaced)."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} 是一个文件；请给演示指定一个文件夹。")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).is_file():
        raise UserError(f"文件夹 {folder} 已存在且不是空的；演示会在其中写入文件，请指定一个新文件夹（如 xlform-demo2）。")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("xlform demo\n", encoding="utf-8")
    for name in (ISSUED_DIR, INBOX_DIR, FEEDBACK_DIR):
        shutil.rmtree(folder / name, ignore_errors=True)
    for name in (ROSTER_NAME, REPORT_NAME, STORE_NAME, STORE_NAME + "-wal", STORE_NAME + "-shm"):
        (folder / name).unlink(missing_ok=True)


# ---- the returns, as departments would fill them ------------------------------------


# What each department sends, by role: the sample as is, two clean ones, one whose funding does not add up
# and its correction, one with indicator mistakes, one in the wrong money unit with a date outside the year.
Maker = Callable[[Issued], Declaration]
Returns = dict[str, Maker]


def _fill_returns(issued: DistributeResult, inbox: Path, template: Template, make: Returns) -> None:
    forms = {(i.department, i.project_no): i for i in issued.issued}
    now = time.time()
    known = Registry([template])  # a bureau's own template (-t its.yaml) is not among the built-ins

    def fill(key: tuple[str, int], role: str, where: Path) -> Path:
        item = forms[key]
        blank = read(issued.folder / item.file, known)  # what the department received: its identity stays
        d = make[role](item)
        d.identity = blank.identity
        where.parent.mkdir(parents=True, exist_ok=True)
        write_workbook(template, where, d)
        os.utime(where, (now - DAY, now - DAY))
        return where

    fill(("区机关事务管理局", 1), "sample", inbox / forms[("区机关事务管理局", 1)].file)
    fill(("区教育局", 1), "education", inbox / forms[("区教育局", 1)].file)
    # Project 2 arrives broken: a copy cut short in transit.
    good = fill(("区教育局", 2), "education_second", inbox / "tmp_区教育局_2.xlsx")
    broken = inbox / forms[("区教育局", 2)].file
    data = good.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    good.unlink()
    # 卫生健康委 first sends funding that does not add up; its corrected package follows (_correct).
    first = fill(("区卫生健康委", 1), "health_wrong", inbox / "第一次提交" / forms[("区卫生健康委", 1)].file)
    os.utime(first, (now - 2 * DAY, now - 2 * DAY))
    # 民政局 mails its return zipped.
    civil = fill(("区民政局", 1), "civil_affairs", inbox / "区民政局.xlsx")
    with zipfile.ZipFile(inbox / "区民政局_邮件附件.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(civil, forms[("区民政局", 1)].file)
    civil.unlink()
    fill(("区生态环境局", 1), "environment", inbox / forms[("区生态环境局", 1)].file)
    (inbox / "Thumbs.db").write_bytes(b"\0" * 64)  # what Windows leaves in a folder of files


def _clean(name: str, amount: str, activity: str, indicators: list[tuple[str, str, str, str]],
           detail: tuple[str, str, str, str]) -> Declaration:
    """A return with nothing to send back: the sample's structure, a project of its own."""
    d = clean_sample_declaration()
    money = Decimal(amount)
    p = d.project
    p.name = name
    p.overview = f"{name}，按年度计划组织实施。"
    p.annual_goal = "按计划完成项目任务，服务对象满意度稳步提升。"
    p.overall_goal = "保障项目按期、按质完成，提升公共服务水平。"
    f = d.funding
    f.total = f.current_year = f.fiscal = f.fiscal_local = money
    f.fiscal_superior = f.fiscal_subordinate = f.other = Decimal(0)
    d.activities = [Activity(name=activity, amount=money, level1="产出目标")]
    d.indicators = [Indicator(level1=l1, level2=l2, name=n, target=parse_target(t), note="工作计划")
                    for l1, l2, n, t in indicators]
    content, item, price, quantity = detail
    d.costs = [CostItem(project=name[:12], content=content, detail=item, amount=money, unit_price=Decimal(price),
                        quantity=Decimal(quantity), note="年度项目")]
    d.identity = Identity()
    return d


def _education(_: Issued) -> Declaration:
    return _clean("中小学智慧教室设备更新", "1250000", "教室多媒体设备更新",
                  [("产出目标", "数量", "更新教室数", "≥50间"), ("产出目标", "质量", "设备验收合格率", "100%"),
                   ("效果目标", "社会效益", "教学信息化覆盖率", "≥95%"), ("影响力目标", "满意度", "师生满意度", "≥90%")],
                  ("设备采购", "多媒体一体机", "25000", "50"))


def _education_second(_: Issued) -> Declaration:
    return _clean("校园安全监控改造", "380000", "监控设备改造",
                  [("产出目标", "数量", "改造学校数", "≥10所"), ("影响力目标", "满意度", "家长满意度", "≥90%"),
                   ("效果目标", "社会效益", "校园安全事件下降", "有效降低")],
                  ("设备改造", "高清摄像头", "3800", "100"))


def _health(_: Issued) -> Declaration:
    return _clean("社区卫生服务中心设备购置", "860000", "医疗设备购置",
                  [("产出目标", "数量", "购置设备台数", "≥20台"), ("产出目标", "时效", "设备到位及时性", "及时"),
                   ("效果目标", "社会效益", "社区门诊服务能力", "显著提升"), ("影响力目标", "满意度", "患者满意度", "≥90%")],
                  ("设备购置", "医疗设备", "43000", "20"))


def _health_wrong(issued: Issued) -> Declaration:
    d = _health(issued)
    d.funding.fiscal_local = Decimal("600000")  # 财政拨款 860,000 ≠ 0 + 600,000 + 0
    return d


def _civil_affairs(_: Issued) -> Declaration:
    d = _clean("养老服务补贴发放", "2400000", "补贴发放",
               [("产出目标", "数量", "补贴发放人次", "≥8000人次"), ("产出目标", "满意度", "补贴发放准确率", "100%"),
                ("效果目标", "社会效益", "困难老人生活保障", ""), ("影响力目标", "满意度", "老人满意度", "≥90%")],
               ("补贴发放", "养老服务补贴", "300", "8000"))
    return d  # 二级“满意度”放在了“产出目标”下；“困难老人生活保障”没有目标值


def _environment(_: Issued) -> Declaration:
    d = _clean("河道水质监测", "45.8", "水质监测服务",
               [("产出目标", "数量", "监测断面数", "≥30个"), ("效果目标", "生态效益", "水质达标率", "≥85%"),
                ("影响力目标", "满意度", "群众满意度", "≥85%")],
               ("监测服务", "水质监测", "45.8", "1"))
    d.project.start_date = date(2019, 7, 1)  # 不在 2020 预算年度内
    return d  # 金额按万元填在了“元”的表上（45.8 元）


_SAMPLE_RETURNS: Returns = {
    "sample": lambda _: sample_declaration(), "education": _education, "education_second": _education_second,
    "health_wrong": _health_wrong, "health": _health, "civil_affairs": _civil_affairs, "environment": _environment,
}


# ---- the same returns on a template's own example ----------------------------------------------


def _from_example(t: Template) -> Returns:
    """The returns of a template with `example:`: its example under each department's project name, broken
    the same ways as the default's, in the template's own terms (its taxonomy, its money unit, its year)."""

    def project(name: str) -> Maker:
        def make(item: Issued) -> Declaration:
            d = _own_codes(with_example(clean_sample_declaration(), t), t, item.department)
            d.project.name = name
            d.project.overview = f"{name}，按年度计划组织实施。"
            d.identity = Identity()
            return d
        return make

    def broken(name: str, spoil: Callable[[Declaration], None]) -> Maker:
        def make(item: Issued) -> Declaration:
            d = project(name)(item)
            spoil(d)
            return d
        return make

    return {
        "sample": lambda item: _own_codes(example_declaration(t), t, item.department),
        "education": project("中小学智慧教室设备更新"),
        "education_second": project("校园安全监控改造"),
        "health_wrong": broken("社区卫生服务中心设备购置", _fiscal_off),
        "health": project("社区卫生服务中心设备购置"),
        "civil_affairs": broken("养老服务补贴发放", lambda d: _indicator_mistakes(d, t)),
        "environment": broken("河道水质监测", lambda d: _other_unit_and_year(d, t)),
    }


def _own_codes(d: Declaration, t: Template, department: str) -> Declaration:
    """Each code field the template adds (主管部门, 实施单位) set to the first entry of its list named for the
    department (区教育局 → 219-区教育局, 219001-区教育局本级), where the list has one."""
    for f in t.fields:
        if f.kind is Kind.CODE:
            own = next((c for c in t.codes[f.choices] if c.name.startswith(department)), None)
            if own is not None:
                set_field_value(d, f.group, f.key, own)
    return d


def _fiscal_off(d: Declaration) -> None:
    """财政拨款 typed 3 too many: it no longer adds up with 其他资金 to 当年预算 (nor its sources to it)."""
    d.funding.fiscal = (d.funding.fiscal or Decimal(0)) + Decimal(3)


def _indicator_mistakes(d: Declaration, t: Template) -> None:
    """A 二级 from under another 一级 on the first indicator, and no 目标值 on the last; and what a bureau's
    own rules look at: the last indicator's added number (分值) and the last amount the template adds
    (上年预算安排) left blank."""
    first, last = d.indicators[0], d.indicators[-1]
    first.level2 = next(v for l1, values in t.taxonomy.items() if l1 != first.level1 for v in values)
    last.target = Target()
    numbers = [c.key for c in t.column_defs["indicators"].values() if not c.builtin and c.kind is Kind.NUMBER]
    if numbers:
        last.extra[numbers[0]] = None
    amounts = [f.key for f in t.fields if not f.builtin and f.kind is Kind.MONEY]
    if amounts:
        d.extra[amounts[-1]] = None


def _other_unit_and_year(d: Declaration, t: Template) -> None:
    """Every amount typed in the other money unit (元 on a 万元 form, or the reverse), and a start date in the
    year before the budget year."""
    factor = Decimal(10000) if t.money_unit == "万元" else Decimal("0.0001")
    for f in t.fields:
        value = field_value(d, f.group, f.key)
        if f.kind is Kind.MONEY and value is not None:
            set_field_value(d, f.group, f.key, value * factor)
    for table, columns in t.column_defs.items():
        for c in columns.values():
            for item in rows_of(d, table):
                value = row_value(item, c.key)
                if c.kind is Kind.MONEY and value is not None:
                    set_row_value(item, c.key, value * factor, c.builtin)
    d.project.start_date = date(t.year - 1, 7, 1)
