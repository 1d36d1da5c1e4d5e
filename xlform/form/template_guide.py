"""`xlform template copy`: a built-in template as a bureau's starting point, commented key by key.

The copy is the built-in YAML as shipped (so what it says is exactly what the built-in does) with a new
id, a comment above every top-level key, and, at the end, commented examples of what a bureau may add:
fields, code lists, added columns and tables, dropped and reordered fields.
"""

from __future__ import annotations

import re

from .fields import ADDABLE_KINDS, FIELDS, IDENTITY_FIELDS, SECTIONS
from .library import LIBRARY_COLUMNS
from .template import _ID, KEY_HELP, builtin_ids, load_template, templates_dir

_TOP_KEY = re.compile(r"^([a-z_0-9]+):")
_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)

EXAMPLES = f"""
# ---------------------------------------------------------------------------------------------
# 以下是可选的写法示例：去掉行首的 # 即可使用（改完用 xlform template check 本文件 检查）。
#
# 新增字段（kind 可用：{"、".join(k.value for k in ADDABLE_KINDS)}；
#   section 可用：{"、".join(SECTIONS)}；after 写放在哪个字段之后）：
# fields:
#   competent_dept:
#     label: 主管部门
#     kind: code            # 编码列表，表上显示“编码-名称”
#     list: departments     # codes 中的列表名
#     required: true
#     prompt: 请选择本单位的主管部门
#     after: unit           # 紧跟填报单位（放在第一行）
#   project_nature:
#     label: 项目属性
#     kind: choice
#     list: project_nature  # choices 中的列表名
#     after: category
#   project_code:
#     label: 项目代码
#     kind: text
#     limit: 30
#     after: name
#
# codes:
#   departments:
#     - 219001-区教育局
#     - 219002-区卫生健康委
#
# choices 中为新增的下拉字段加列表：
#   project_nature: [新增, 延续]
#
# 去掉表上没有的内置字段（可去掉：{"、".join(f.key for f in FIELDS if f.key not in IDENTITY_FIELDS)}）：
# drop: [fiscal_subordinate]
#
# 调整一部分内的顺序（须把这一部分的字段各列一次）：
# order:
#   details: [overall_goal, annual_goal, resources, other_notes]
#
# 在内置行表上加列（写在 columns 下对应的表里）：
#   indicators:
#     ...
#     explain: {{label: 指标解释, kind: long}}
#     score: {{label: 分值, kind: number}}
#
# 新增行表（after: 放在绩效目标表某张表之后；或 sheet: 单独一张工作表）：
# tables:
#   funding_sources:
#     label: 资金来源明细
#     rows: 5
#     after: costs
#     columns:
#       source: {{label: 资金来源, kind: choice, list: fund_source, required: true}}
#       amount: {{label: 金额, kind: money}}
#       note: 备注              # 只写标题：文字列
#   mid_indicators:
#     label: 中期绩效指标
#     like: indicators        # 与绩效指标同列，指标规则同样审核
#     rows: 10
#     after: indicators
#
# 汇总报告的“审核”表要求评级（优、良、中、差；中 = 退回修改后再审，财预〔2015〕88号）：
# review:
#   grades: true
"""


def new_id(source_id: str, stem: str) -> str:
    """The copy's id: the file's name when it is a valid id and not a built-in's, else <source>-copy."""
    candidate = stem.strip().lower()
    if _ID.match(candidate) and candidate not in builtin_ids():
        return candidate
    return f"{source_id}-copy"


def commented_copy(source_id: str, copy_id: str) -> str:
    """The built-in template's YAML with id replaced and a comment above each top-level key."""
    text = templates_dir().joinpath(f"{source_id}.yaml").read_text(encoding="utf-8")
    text = _ID_LINE.sub(f"id: {copy_id}", text, count=1)
    lines: list[str] = [f"# 由内置模板 {source_id} 复制。改完后运行：xlform template check 本文件", ""]
    for line in text.splitlines():
        m = _TOP_KEY.match(line)
        if m and m.group(1) in KEY_HELP:
            if lines and lines[-1].strip() and not lines[-1].startswith("#"):
                lines.append("")
            lines.append(f"# {m.group(1)}：{KEY_HELP[m.group(1)]}")
        lines.append(line)
    return "\n".join(lines).rstrip("\n") + "\n" + EXAMPLES + _library_example(source_id)


def _library_example(source_id: str) -> str:
    """How to extend or replace the template's indicator library, in the source template's own terms."""
    t = load_template(source_id)
    if t.library is None:
        return ""
    every = [level2 for level2s in t.taxonomy.values() for level2 in level2s]
    level2 = next((x for x in every if "数量" in x), every[0])  # the example is a count of things
    return f"""#
# 指标库：在内置指标库之外加上本局的指标（文件与本模板放在同一文件夹；CSV 可用 Excel 另存，UTF-8 或 GBK 均可）：
# library: [{", ".join(t.library.files)}, 本局指标库.csv]
#   本局指标库.csv 的第一行是列标题，之后每行一个指标（一级可不写，按二级推定；方向写 ≥、≤ 或 =，定性指标不写）：
#   {",".join(LIBRARY_COLUMNS.values())}
#   ,{level2},会议系统设备安装数量,按合同安装并调试完成的设备套数,套,≥,12,会议,本局 2026 年行业指标
# 只用本局的指标库：library: 本局指标库.csv
"""
