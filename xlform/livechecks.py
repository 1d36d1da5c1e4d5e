"""The checks a workbook runs by itself while a clerk fills it (formulas, no macros).

Each check is an Excel boolean over defined names, plus the same test in
Python so the writer can store the right cached result: LibreOffice and plain
readers show cached values without recalculating. The reviewer's full
catalogue (checks.py) re-does all of this on the values read back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from .model import Declaration

PASS, FAIL = "通过", "未通过"


def _n(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def _eq(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) < Decimal("0.005")


@dataclass(frozen=True)
class LiveCheck:
    id: str
    title: str
    fix: str
    formula: str  # an Excel expression that is TRUE when the check passes
    passes: Callable[[Declaration], bool]
    cells: tuple[str, ...]  # field keys whose input turns red when it fails

    def status_formula(self) -> str:
        return f'=IF(IFERROR({self.formula},FALSE),"{PASS}","{FAIL}")'

    def fail_formula(self) -> str:
        """For conditional formatting: TRUE when the check fails."""
        return f"=NOT(IFERROR({self.formula},FALSE))"


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
        ("fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate"),
    ),
    LiveCheck(
        "current_year_sum",
        "当年预算 = 财政拨款 + 其他资金",
        "核对二、当年预算，应等于（一）财政拨款与（二）其他资金之和。",
        "ROUND(N(f_current_year)-N(f_fiscal)-N(f_other),2)=0",
        lambda d: _eq(_n(d.funding.current_year), _n(d.funding.fiscal) + _n(d.funding.other)),
        ("current_year", "fiscal", "other"),
    ),
    LiveCheck(
        "current_year_le_total",
        "当年预算 ≤ 项目总预算",
        "当年预算不能超过项目总预算，请核对一、二两项。",
        "N(f_current_year)<=N(f_total)+0.005",
        lambda d: _n(d.funding.current_year) <= _n(d.funding.total) + Decimal("0.005"),
        ("total", "current_year"),
    ),
    LiveCheck(
        "cost_total",
        "项目构成分解 金额合计 = 当年预算",
        "项目构成分解各行明细金额之和应等于当年预算。",
        "ROUND(SUM(c_costs_amount)-N(f_current_year),2)=0",
        lambda d: _eq(sum((_n(c.amount) for c in d.costs), Decimal(0)), _n(d.funding.current_year)),
        ("current_year",),
    ),
    LiveCheck(
        "cost_rows",
        "项目构成分解 每行 明细金额 = 单价 × 数量",
        "标红的行：明细金额应等于单价乘以数量。",
        # The per-row message column (c_costs_check) is empty where a row matches.
        'COUNTIF(c_costs_check,"?*")=0',
        _costs_match,
        (),
    ),
    LiveCheck(
        "activities_sum",
        "项目构成 主体活动金额之和 = 当年预算",
        "项目构成各主体活动的金额之和应等于当年预算。",
        "OR(COUNT(c_activities_amount)=0,ROUND(SUM(c_activities_amount)-N(f_current_year),2)=0)",
        _activities_sum,
        ("current_year",),
    ),
)
