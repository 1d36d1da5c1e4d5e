"""The checks a workbook runs by itself while a clerk fills it (formulas, no macros).

Each check is a condition in the expression language (form/expr.py), compiled once to an
Excel boolean over defined names and evaluated in Python, so the writer can store the right
cached result (LibreOffice and plain readers show cached values without recalculating): the
built-in checks below and a template's own rules alike. A check waits (待填写) until
the cells it needs are filled, so a blank form shows no verdict; while it
fails, the inputs it names turn red and the note beside each says what is
wrong. The reviewer's full catalogue (review/rules.py) re-does all of this on the
values read back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal

from ..form.expr import Blank, ColumnSum, Compiled, ExprError, Node, NumberCompare, TextCompare, compile_expr
from ..form.expr import Field as ExprField
from ..form.model import Declaration, DeclarationValues
from ..form.template import Template
from ..form.template_rules import template_env
from ..form.values import MONEY_TOLERANCE

PASS, FAIL, PENDING = "通过", "未通过", "待填写"  # 待填写: a cell the check needs is still empty


def _n(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def _eq(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) < MONEY_TOLERANCE


@dataclass(frozen=True)
class LiveCheck:
    id: str
    title: str
    fix: str
    formula: str  # an Excel expression that is TRUE when the check passes
    passes: Callable[[Declaration], bool]
    ready: str  # an Excel expression that is TRUE once the cells the check needs are filled
    is_ready: Callable[[Declaration], bool]
    # (field key, what is wrong, in words): each of these inputs turns red while the check fails, and
    # the note beside it shows the words.
    notes: tuple[tuple[str, str], ...]

    @property
    def cells(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.notes)

    def status(self, d: Declaration) -> str:
        if not self.is_ready(d):
            return PENDING
        return PASS if self.passes(d) else FAIL

    def fails(self, d: Declaration) -> bool:
        return self.status(d) == FAIL

    def status_formula(self) -> str:
        return f'=IF(NOT({self.ready}),"{PENDING}",IF(IFERROR({self.formula},FALSE),"{PASS}","{FAIL}"))'

    def fail_expression(self) -> str:
        """TRUE when the check fails: its cells are filled and do not agree."""
        return f"AND({self.ready},NOT(IFERROR({self.formula},FALSE)))"

    def fail_formula(self) -> str:
        """For conditional formatting."""
        return "=" + self.fail_expression()


NOTE_SEPARATOR = "；"


def note_formula(messages: list[tuple[LiveCheck, str]]) -> str:
    """The note beside one input: the words of every check on it that fails, joined (MID drops the
    leading separator; TEXTJOIN would not work in older Excel)."""
    parts = "&".join(f'IF({check.fail_expression()},"{NOTE_SEPARATOR}{text}","")' for check, text in messages)
    return f"=MID({parts},{len(NOTE_SEPARATOR) + 1},255)"


def note_text(messages: list[tuple[LiveCheck, str]], d: Declaration) -> str:
    """The note's value for `d` (the writer's cached result)."""
    return NOTE_SEPARATOR.join(text for check, text in messages if check.fails(d))


def notes_by_field(template: Template) -> dict[str, list[tuple[LiveCheck, str]]]:
    """For each input some check turns red: the checks and their words, in catalogue order."""
    found: dict[str, list[tuple[LiveCheck, str]]] = {}
    for check in live_checks(template):
        for key, text in check.notes:
            found.setdefault(key, []).append((check, text))
    return found


def cost_row_message(amount: Decimal | None, price: Decimal | None, quantity: Decimal | None) -> str:
    """What the per-row check column of 项目构成分解 shows ("" when fine)."""
    if price is None or quantity is None or _eq(_n(amount), price * quantity):
        return ""
    return f"应为 {price * quantity:.2f}"


def cost_row_formula(amount: str, price: str, quantity: str) -> str:
    """The same test as cost_row_message, on one row's cell addresses."""
    return (
        f'=IF(AND(ISNUMBER({price}),ISNUMBER({quantity})),'
        f'IF(ROUND(N({amount})-{price}*{quantity},2)=0,"","应为 "&TEXT({price}*{quantity},"0.00")),"")'
    )


def _costs_match(d: Declaration) -> bool:
    return not any(cost_row_message(c.amount, c.unit_price, c.quantity) for c in d.costs)


# ---- checks written in the expression language: the same tree gives the formula and the Python test ----


def _names(node: Node) -> Iterator[str]:
    """The fields (f_<key>) and columns (c_<table>_<column>) a subtree reads, in order."""
    if isinstance(node, ExprField | Blank):
        yield "f_" + node.key
    elif isinstance(node, ColumnSum):
        yield f"c_{node.table}_{node.column}"
    for f in fields(node):  # type: ignore[arg-type]
        child = getattr(node, f.name)
        for item in child if isinstance(child, tuple) else (child,):
            if isinstance(item, Node):
                yield from _names(item)


def _filled_formula(name: str) -> str:
    if name.startswith("f_"):
        return f"NOT(ISBLANK({name}))"
    return f"SUMPRODUCT((LEN({name})>0)*1)>0"


def _filled(values: DeclarationValues, name: str, columns: dict[str, tuple[str, str]]) -> bool:
    if name.startswith("f_"):
        return values.field(name[2:]) not in (None, "", False)
    return any(v not in (None, "", False) for v in values.column(*columns[name]))


def from_expression(check_id: str, title: str, fix: str, check: Compiled, notes: tuple[tuple[str, str], ...],
                    when: Compiled | None = None) -> LiveCheck:
    """A live check from a compiled condition. It waits (待填写) until every cell the left side of a comparison
    reads is filled and at least one cell of its right side is; a condition that is not a comparison never
    waits. Under `when`, a return the condition does not apply to passes."""
    tree = check.tree
    # c_<table>_<column> → (table, column): a table key may hold "_", so keep the split the expression made.
    columns = {f"c_{t}_{c}": (t, c) for t, c in (*check.columns, *(when.columns if when is not None else ()))}
    if isinstance(tree, NumberCompare | TextCompare):
        left, right = list(dict.fromkeys(_names(tree.left))), list(dict.fromkeys(_names(tree.right)))
    else:
        left, right = [], []
    conditional = list(dict.fromkeys(_names(when.tree))) if when is not None else []
    left = list(dict.fromkeys(conditional + left))  # a rule for some returns waits until it can tell which
    parts = [_filled_formula(n) for n in left]
    if right:
        either = [_filled_formula(n) for n in right]
        parts.append(either[0] if len(either) == 1 else f"OR({','.join(either)})")
    ready = (parts[0] if len(parts) == 1 else f"AND({','.join(parts)})") if parts else "TRUE"
    formula = check.excel()
    if when is not None:
        formula = f"OR(NOT(IFERROR({when.excel()},FALSE)),{formula})"

    def is_ready(d: Declaration) -> bool:
        values = DeclarationValues(d)
        return (all(_filled(values, n, columns) for n in left)
                and (not right or any(_filled(values, n, columns) for n in right)))

    def passes(d: Declaration) -> bool:
        values = DeclarationValues(d)
        return (when is not None and not when.evaluate(values)) or bool(check.evaluate(values))

    return LiveCheck(check_id, title, fix, formula, passes, ready, is_ready, notes)


# The built-in checks: id, title, how to fix, the condition, and the words beside each input it turns red.
BUILTIN_CHECKS: tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("fiscal_parts", "财政拨款 = 上级财政拨款 + 本级财政安排 + 下级财政配套", "核对（一）财政拨款及其三个组成部分，使其相等。",
     "fiscal = fiscal_superior + fiscal_local + fiscal_subordinate",
     (("fiscal", "≠ 上级 + 本级 + 下级"), ("fiscal_superior", "三项之和 ≠ 财政拨款"),
      ("fiscal_local", "三项之和 ≠ 财政拨款"), ("fiscal_subordinate", "三项之和 ≠ 财政拨款"))),
    ("current_year_sum", "当年预算 = 财政拨款 + 其他资金", "核对二、当年预算，应等于（一）财政拨款与（二）其他资金之和。",
     "current_year = fiscal + other",
     (("current_year", "≠ 财政拨款 + 其他资金"), ("fiscal", "加其他资金 ≠ 当年预算"), ("other", "加财政拨款 ≠ 当年预算"))),
    ("current_year_le_total", "当年预算 ≤ 项目总预算", "当年预算不能超过项目总预算，请核对一、二两项。",
     "current_year <= total", (("total", "小于当年预算"), ("current_year", "超过项目总预算"))),
    ("cost_total", "项目构成分解 金额合计 = 当年预算", "项目构成分解各行明细金额之和应等于当年预算。",
     "sum(costs.amount) = current_year", (("current_year", "≠ 项目构成分解合计"),)),
    ("activities_sum", "项目构成 主体活动金额之和 = 当年预算", "项目构成各主体活动的金额之和应等于当年预算。",
     "sum(activities.amount) = current_year", (("current_year", "≠ 主体活动金额合计"),)),
)
# The per-row check of 项目构成分解 is row by row, which the expression language does not say: written here.
COST_ROWS = LiveCheck(
    "cost_rows",
    "项目构成分解 每行 明细金额 = 单价 × 数量",
    "标红的行：明细金额应等于单价乘以数量。",
    'COUNTIF(c_costs_check,"?*")=0',  # the per-row message column (c_costs_check) is empty where a row matches
    _costs_match,
    "COUNT(c_costs_amount)>0",
    lambda d: any(c.amount is not None for c in d.costs),
    (),  # each row says what is wrong in its own check column
)
LIVE_ORDER = ("fiscal_parts", "current_year_sum", "current_year_le_total", "cost_total", "cost_rows", "activities_sum")


@functools.cache
def builtin_condition(template: Template, check_id: str) -> Compiled | None:
    """A built-in check's condition for this template (None: the template lacks a field it reads). The
    reviewer's rule of the same arithmetic decides with it, so each sum is written once."""
    text = next(text for cid, _, _, text, _ in BUILTIN_CHECKS if cid == check_id)
    try:
        return compile_expr(text, template_env(template))
    except ExprError:
        return None


@functools.cache
def live_checks(template: Template) -> tuple[LiveCheck, ...]:
    """The checks a workbook of this template runs: the built-in ones whose fields it has, then its own rules."""
    found: dict[str, LiveCheck] = {"cost_rows": COST_ROWS}
    for check_id, title, fix, _, notes in BUILTIN_CHECKS:
        compiled = builtin_condition(template, check_id)
        if compiled is not None:
            found[check_id] = from_expression(check_id, title, fix, compiled, notes)
    checks = [found[k] for k in LIVE_ORDER if k in found]
    for b in template.bureau_rules:
        if b.live:
            # Beside each input it turns red, a short pointer: the full words are on 校验 (the row stays one line).
            note = f"不符，见“校验”第 {3 + len(checks)} 行"
            checks.append(from_expression(b.id, b.title, b.message.labelled(), b.check,
                                          tuple((k, note) for k in b.check.fields), b.when))
    return tuple(checks)


# Words beside the totals on 绩效目标 when their check fails.
TOTAL_NOTES = {"cost_total": "≠ 当年预算", "activities_sum": "≠ 当年预算"}
