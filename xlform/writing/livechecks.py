"""The checks a workbook runs by itself while a clerk fills it (formulas, no macros).

Each check is an Excel boolean over defined names, plus the same test in
Python so the writer can store the right cached result: LibreOffice and plain
readers show cached values without recalculating. A check waits (待填写) until
the cells it needs are filled, so a blank form shows no verdict; while it
fails, the inputs it names turn red and the note beside each says what is
wrong. The reviewer's full catalogue (checks.py) re-does all of this on the
values read back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..form.model import Declaration
from ..form.template import Template
from ..form.values import MONEY_TOLERANCE

PASS, FAIL, PENDING = "通过", "未通过", "待填写"  # 待填写: a cell the check needs is still empty


def _n(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def _eq(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) < MONEY_TOLERANCE


def _filled(*values: Decimal | None) -> bool:
    return all(v is not None for v in values)


def _any(*values: Decimal | None) -> bool:
    return any(v is not None for v in values)


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

    @property
    def needs(self) -> frozenset[str]:
        """The fields its formulas name (f_<key>): a template that drops one of them has no such check."""
        return frozenset(_FIELD_NAME.findall(self.formula + self.ready))

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
_FIELD_NAME = re.compile(r"\bf_(\w+)")


def live_checks(template: Template) -> tuple[LiveCheck, ...]:
    """The checks a workbook of this template runs: those whose fields it has."""
    return tuple(c for c in LIVE_CHECKS if all(template.has(key) for key in c.needs))


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


def _activities_sum(d: Declaration) -> bool:
    amounts = [a.amount for a in d.activities if a.amount is not None]
    return not amounts or _eq(sum(amounts, Decimal(0)), _n(d.funding.current_year))


def _blanks(*names: str) -> str:
    """Excel: how many of these single cells are empty (COUNTBLANK takes one range only)."""
    return "(" + "+".join(f"ISBLANK({n})" for n in names) + ")"


# Names of whole columns of row tables, defined by the writer: c_<table>_<column>.
LIVE_CHECKS: tuple[LiveCheck, ...] = (
    LiveCheck(
        "fiscal_parts",
        "财政拨款 = 上级财政拨款 + 本级财政安排 + 下级财政配套",
        "核对（一）财政拨款及其三个组成部分，使其相等。",
        "ROUND(N(f_fiscal)-N(f_fiscal_superior)-N(f_fiscal_local)-N(f_fiscal_subordinate),2)=0",
        lambda d: _eq(
            _n(d.funding.fiscal),
            _n(d.funding.fiscal_superior) + _n(d.funding.fiscal_local) + _n(d.funding.fiscal_subordinate),
        ),
        f"AND(NOT(ISBLANK(f_fiscal)),{_blanks('f_fiscal_superior', 'f_fiscal_local', 'f_fiscal_subordinate')}<3)",
        lambda d: _filled(d.funding.fiscal)
        and _any(d.funding.fiscal_superior, d.funding.fiscal_local, d.funding.fiscal_subordinate),
        (("fiscal", "≠ 上级 + 本级 + 下级"), ("fiscal_superior", "三项之和 ≠ 财政拨款"),
         ("fiscal_local", "三项之和 ≠ 财政拨款"), ("fiscal_subordinate", "三项之和 ≠ 财政拨款")),
    ),
    LiveCheck(
        "current_year_sum",
        "当年预算 = 财政拨款 + 其他资金",
        "核对二、当年预算，应等于（一）财政拨款与（二）其他资金之和。",
        "ROUND(N(f_current_year)-N(f_fiscal)-N(f_other),2)=0",
        lambda d: _eq(_n(d.funding.current_year), _n(d.funding.fiscal) + _n(d.funding.other)),
        f"AND(NOT(ISBLANK(f_current_year)),{_blanks('f_fiscal', 'f_other')}<2)",
        lambda d: _filled(d.funding.current_year) and _any(d.funding.fiscal, d.funding.other),
        (("current_year", "≠ 财政拨款 + 其他资金"), ("fiscal", "加其他资金 ≠ 当年预算"),
         ("other", "加财政拨款 ≠ 当年预算")),
    ),
    LiveCheck(
        "current_year_le_total",
        "当年预算 ≤ 项目总预算",
        "当年预算不能超过项目总预算，请核对一、二两项。",
        f"N(f_current_year)<=N(f_total)+{MONEY_TOLERANCE}",
        lambda d: _n(d.funding.current_year) <= _n(d.funding.total) + MONEY_TOLERANCE,
        f"{_blanks('f_total', 'f_current_year')}=0",
        lambda d: _filled(d.funding.total, d.funding.current_year),
        (("total", "小于当年预算"), ("current_year", "超过项目总预算")),
    ),
    LiveCheck(
        "cost_total",
        "项目构成分解 金额合计 = 当年预算",
        "项目构成分解各行明细金额之和应等于当年预算。",
        "ROUND(SUM(c_costs_amount)-N(f_current_year),2)=0",
        lambda d: _eq(sum((_n(c.amount) for c in d.costs), Decimal(0)), _n(d.funding.current_year)),
        "AND(NOT(ISBLANK(f_current_year)),COUNT(c_costs_amount)>0)",
        lambda d: _filled(d.funding.current_year) and any(c.amount is not None for c in d.costs),
        (("current_year", "≠ 项目构成分解合计"),),
    ),
    LiveCheck(
        "cost_rows",
        "项目构成分解 每行 明细金额 = 单价 × 数量",
        "标红的行：明细金额应等于单价乘以数量。",
        # The per-row message column (c_costs_check) is empty where a row matches.
        'COUNTIF(c_costs_check,"?*")=0',
        _costs_match,
        "COUNT(c_costs_amount)>0",
        lambda d: any(c.amount is not None for c in d.costs),
        (),  # each row says what is wrong in its own check column
    ),
    LiveCheck(
        "activities_sum",
        "项目构成 主体活动金额之和 = 当年预算",
        "项目构成各主体活动的金额之和应等于当年预算。",
        "ROUND(SUM(c_activities_amount)-N(f_current_year),2)=0",
        _activities_sum,
        "AND(NOT(ISBLANK(f_current_year)),COUNT(c_activities_amount)>0)",
        lambda d: _filled(d.funding.current_year) and any(a.amount is not None for a in d.activities),
        (("current_year", "≠ 主体活动金额合计"),),
    ),
)
CHECK_BY_ID = {c.id: c for c in LIVE_CHECKS}
# Words beside the totals on 绩效目标 when their check fails.
TOTAL_NOTES = {"cost_total": "≠ 当年预算", "activities_sum": "≠ 当年预算"}
