"""The 填表说明 sheet: how to fill the form, what is checked, whom to ask."""

from __future__ import annotations

from ..form.fields import CHECK_SHEET, TICK
from ..form.layout import Layout
from ..form.template import Template
from .livechecks import PENDING, live_checks


def _count(n: int) -> str:
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)


def _dropdowns(t: Template) -> str:
    """Which cells have a dropdown; with an indicator library, 三级 too (in as many lines as without one,
    so 填表说明 keeps its one page)."""
    if t.library is None:
        return ("4. 带下拉箭头的单元格请从列表中选择：项目类别、一级目标，以及随一级目标变化的二级目标。"
                f"制度保障的三个阶段适用的请选择 {TICK}。")
    return ("4. 带下拉箭头的单元格请从列表中选择：项目类别、一级目标、随一级变化的二级目标、随二级变化的三级目标"
            f"（库外指标可直接填写）；制度保障各阶段适用的选 {TICK}。")


def help_lines(t: Template, layout: Layout) -> list[tuple[str, str]]:
    """(kind, text) pairs, kind "head" or "text", in the order they appear."""
    s = t.sheets
    required = "、".join(t.labels[k] for k in t.required)
    levels = "；".join(f"{k}：{'、'.join(v)}" for k, v in t.taxonomy.items())
    lines: list[tuple[str, str]] = [
        ("head", "一、怎样填写"),
        ("text", "1. 只需填写浅黄色的单元格；灰色单元格是标题、说明或自动计算的结果，已锁定。"
                 "本工作簿无需密码即可填写，请勿删除、改名或移动工作表。"),
        ("text", f"2. 依次填写{''.join(f'“{name}”' for name in t.input_sheets)}{_count(len(t.input_sheets))}张表。"
                 f"{'和'.join(t.input_sheets[1:])}的项目名称自动取自{s['project']}。"),
        ("text", f"3. 金额单位：{t.money_unit}。金额填数字，不小于 0，最多两位小数；日期按 {t.year}-01-01 的格式填写。"),
        ("text", _dropdowns(t)),
        ("text", "5. 目标值写法：定量的写数字和单位，可带符号，如 100%、≥95%、≤10次、≥1,000人次；"
                 "定性的写文字，如 及时、良好、显著提升。年度绩效目标中写到的数值应与指标表一致。"),
        ("text", "6. 行数不够时，可在表格中间插入整行（右键 → 插入），新行会自动纳入该表。"),
        ("text", "7. 文字栏有字数上限（选中单元格时有提示，换一次行按一整行计），不超过上限的内容打印时都能"
                 "完整显示。粘贴文字请粘贴到编辑栏里：直接粘贴整个单元格不会检查字数。"),
        ("head", "二、会检查什么"),
        ("text", f"填写时自动检查，结果见“{CHECK_SHEET}”工作表：所需的单元格还没填时显示“{PENDING}”；"
                 "金额不符的单元格会变红，旁边写明哪里不符："),
    ]
    checks = live_checks(t)
    own = {b.id for b in t.bureau_rules}
    lines += [("text", f"· {c.title}") for c in checks if c.id not in own]
    if own:  # one paragraph, so a bureau's rules do not push the sheet onto a second page
        lines.append(("text", "· 本表另有：" + "；".join(c.title for c in checks if c.id in own) + "。"))
    lines += [
        ("text", f"收表后财政部门还会审核：必填项是否齐全（{required}）；电话、日期、金额的格式；"
                 "起止日期是否在预算年度内；每个二级目标是否属于其一级目标；"
                 f"每个必需的一级目标（{'、'.join(t.required_level1)}）至少有一项指标；每项指标都有目标值；"
                 "年度绩效目标文字中的数值与指标是否一致；写了文件名称的制度保障是否至少勾选一个阶段。"),
        ("text", f"指标层级：{levels}。"),
        ("head", "三、有问题找谁"),
        ("text", t.help_contact or "请联系下发本表的财政部门。"),
        ("text", f"模板：{t.id}（版本 {t.version}）。请勿复制其他单位的表格改用，以免无法识别。"),
    ]
    return lines
