"""The expression language of bureau rules: each construct in Python and as an Excel formula, each error
with its message and position, and the agreement of both sides in a real LibreOffice."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import example, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from tests.lo import recalculate, require_soffice
from xlform.errors import UserError
from xlform.form.expr import (
    EXCEL_FUNCTIONS,
    MAX_DEPTH,
    Env,
    ExprError,
    Type,
    compile_expr,
    compile_message,
    message_placeholders_labels,
    parse,
    template_message,
)
from xlform.form.fields import Kind
from xlform.form.values import Coded

ENV = Env(
    fields={"current_year": Kind.MONEY, "general_budget": Kind.MONEY, "fund_budget": Kind.MONEY, "prior_budget": Kind.MONEY,
            "people": Kind.INTEGER, "year": Kind.YEAR, "rate": Kind.NUMBER, "start_date": Kind.DATE, "end_date": Kind.DATE,
            "project_nature": Kind.CHOICE, "overview": Kind.LONG, "unit": Kind.CODE, "agreed": Kind.TICK},
    tables={"indicators": {"name": Kind.TEXT, "score": Kind.NUMBER},
            "funding_sources": {"source": Kind.TEXT, "amount": Kind.MONEY}},
    labels={"current_year": "当年预算", "general_budget": "一般公共预算", "fund_budget": "政府性基金",
            "indicators": "绩效指标", "indicators.score": "分值", "funding_sources.amount": "金额"},
)


@dataclass
class Filled:
    """A return's values as the reader hands them over: fields, and tables as rows (blank rows are not filled)."""

    fields: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def field(self, key: str) -> Any:
        return self.fields.get(key)

    def _filled(self, table: str) -> list[dict[str, Any]]:
        return [row for row in self.tables.get(table, []) if any(v not in (None, "") for v in row.values())]

    def column(self, table: str, column: str) -> list[Any]:
        return [row.get(column) for row in self._filled(table)]

    def rows(self, table: str) -> int:
        return len(self._filled(table))


def check(text: str, **fields: Any) -> Any:
    return compile_expr(text, ENV).evaluate(Filled(fields))


def excel(text: str) -> str:
    return compile_expr(text, ENV).excel()


# ---------------------------------------------------------------- constructs


def test_sum_of_fields_equals_to_the_cent() -> None:
    text = "general_budget + fund_budget = current_year"
    assert excel(text) == "ROUND(ROUND(SUM(f_general_budget)+SUM(f_fund_budget)-SUM(f_current_year),6),2)=0"
    assert check(text, general_budget=Decimal("100.00"), fund_budget=Decimal("20.50"), current_year=Decimal("120.50")) is True
    assert check(text, general_budget=Decimal("100.004"), fund_budget=0, current_year=Decimal("100")) is True
    # a difference of half a cent rounds away from zero: not equal
    assert check(text, general_budget=Decimal("100.005"), fund_budget=0, current_year=Decimal("100")) is False
    assert check(text, general_budget=Decimal("100"), fund_budget=0, current_year=Decimal("100.005")) is False


def test_number_literals() -> None:
    assert excel("rate = 0.5") == "ROUND(ROUND(SUM(f_rate)-0.5,6),2)=0"
    assert check("rate = 0.5", rate=Decimal("0.5")) is True
    assert excel("people >= 100") == "ROUND(ROUND(SUM(f_people)-100,6),2)>=0"


def test_string_literals_in_either_quote() -> None:
    for text in ('project_nature = "延续"', "project_nature = '延续'", "project_nature = “延续”"):
        assert excel(text) == 'f_project_nature="延续"'
        assert check(text, project_nature="延续") is True
        assert check(text, project_nature="新增") is False
    assert excel("""project_nature = 'say "hi"'""") == 'f_project_nature="say ""hi"""'


def test_text_comparison_ignores_case_as_excel_does() -> None:
    assert check('overview = "abc"', overview="ABC") is True
    assert check('overview != "abc"', overview="ABC") is False


def test_text_compares_with_text_and_code_as_shown() -> None:
    assert excel("overview = project_nature") == "f_overview=f_project_nature"
    assert check("overview = project_nature") is True  # both blank
    assert check('unit = "219001-区教育局"', unit=Coded("219001", "区教育局")) is True
    assert check('project_nature = ""') is True


@pytest.mark.parametrize("op", ["!=", "<>", "≠", "！＝"])
def test_not_equal_spellings(op: str) -> None:
    text = f"current_year {op} prior_budget"
    assert excel(text) == "ROUND(ROUND(SUM(f_current_year)-SUM(f_prior_budget),6),2)<>0"
    assert check(text, current_year=1, prior_budget=Decimal("1.004")) is False
    assert check(text, current_year=1, prior_budget=Decimal("1.01")) is True


@pytest.mark.parametrize(("op", "canonical", "results"), [
    ("<", "<", (True, False, False)), ("<=", "<=", (True, True, False)), ("≤", "<=", (True, True, False)),
    (">", ">", (False, False, True)), (">=", ">=", (False, True, True)), ("≥", ">=", (False, True, True)),
    ("=", "=", (False, True, False)), ("==", "=", (False, True, False)), ("＝", "=", (False, True, False))])
def test_comparisons(op: str, canonical: str, results: tuple[bool, bool, bool]) -> None:
    text = f"people {op} 10"
    assert excel(text) == f"ROUND(ROUND(SUM(f_people)-10,6),2){canonical}0"
    assert tuple(check(text, people=n) for n in (9, 10, 11)) == results


def test_multiplication_binds_tighter_and_brackets_group() -> None:
    assert check("general_budget + fund_budget * 2 = 5", general_budget=1, fund_budget=2) is True
    assert check("(general_budget + fund_budget) * 2 = 6", general_budget=1, fund_budget=2) is True
    assert excel("(general_budget + fund_budget) * 2 = 6") == "ROUND(ROUND((SUM(f_general_budget)+SUM(f_fund_budget))*2-6,6),2)=0"
    # the right side of a comparison is subtracted as a whole
    assert excel("current_year = general_budget - fund_budget") == \
        "ROUND(ROUND(SUM(f_current_year)-(SUM(f_general_budget)-SUM(f_fund_budget)),6),2)=0"
    assert check("current_year = general_budget - fund_budget", current_year=1, general_budget=3, fund_budget=2) is True
    assert check("people / 4 * 2 = 5", people=10) is True  # left to right


def test_unary_minus() -> None:
    assert excel("-current_year < 0") == "ROUND(ROUND(-SUM(f_current_year)-0,6),2)<0"
    assert check("-current_year < 0", current_year=5) is True
    assert check("- -current_year > 0", current_year=5) is True
    assert excel("-(general_budget - fund_budget) = 0") == "ROUND(ROUND(-(SUM(f_general_budget)-SUM(f_fund_budget))-0,6),2)=0"


def test_division_by_zero_fails_the_condition() -> None:
    text = "general_budget / fund_budget > 1"
    assert check(text, general_budget=3, fund_budget=2) is True
    assert check(text, general_budget=3, fund_budget=0) is False
    assert check(text, general_budget=0) is False  # 0/0
    assert check(f"not ({text})", general_budget=3, fund_budget=0) is False  # the whole check fails, not just its part


def test_and_or_not() -> None:
    text = "people > 1 and (rate = 0 or not blank(overview))"
    assert excel(text) == "AND(ROUND(ROUND(SUM(f_people)-1,6),2)>0,OR(ROUND(ROUND(SUM(f_rate)-0,6),2)=0,NOT(ISBLANK(f_overview))))"
    assert check(text, people=2, rate=0) is True
    assert check(text, people=2, rate=1) is False
    assert check(text, people=2, rate=1, overview="x") is True
    assert check(text, people=1, rate=0) is False
    assert check("people = 1 and people = 1 and people = 2", people=1) is False  # a flat chain of three


def test_or_evaluates_every_operand_as_excel_does() -> None:
    # Excel's OR() computes its division by zero even when the first side holds: the check fails there too
    assert check("people = 0 or rate / people > 1", people=0, rate=5) is False


def test_not_precedence_and_repetition() -> None:
    assert check("not people = 1", people=1) is False
    assert check("not not people = 1", people=1) is True
    assert excel("not not people = 1") == "NOT(NOT(ROUND(ROUND(SUM(f_people)-1,6),2)=0))"


def test_blank() -> None:
    assert excel("blank(prior_budget)") == "ISBLANK(f_prior_budget)"
    assert check("blank(prior_budget)") is True
    assert check("blank(prior_budget)", prior_budget="") is True
    assert check("blank(prior_budget)", prior_budget=Decimal(0)) is False  # 0 is filled in
    assert check("blank(agreed)", agreed=False) is True  # an empty tick is read as False
    assert check("blank(agreed)", agreed=True) is False


def test_a_tick_is_a_condition() -> None:
    assert excel("agreed") == "NOT(ISBLANK(f_agreed))"
    assert check("agreed", agreed=True) is True
    assert check("agreed", agreed=False) is False
    assert check("agreed or people > 0") is False


def test_len() -> None:
    assert excel("len(overview) <= 3") == "ROUND(ROUND(LEN(f_overview)-3,6),2)<=0"
    assert check("len(overview) <= 3", overview="三个字") is True
    assert check("len(overview) <= 3", overview="四个字了") is False
    assert check("len(overview) = 0") is True
    assert check("len(unit) = 11", unit=Coded("219001", "区教育局")) is True  # as shown: 219001-区教育局


def test_abs() -> None:
    assert excel("abs(general_budget - fund_budget) < 1") == "ROUND(ROUND(ABS(SUM(f_general_budget)-SUM(f_fund_budget))-1,6),2)<0"
    assert check("abs(general_budget - fund_budget) < 1", general_budget=1, fund_budget=Decimal("1.5")) is True
    assert check("abs(general_budget - fund_budget) < 1", general_budget=3, fund_budget=Decimal("1.5")) is False


def test_round_half_away_from_zero() -> None:
    assert excel("round(rate, 2) = 0.13") == "ROUND(ROUND(ROUND(ROUND(SUM(f_rate),6),2)-0.13,6),2)=0"
    assert compile_expr("round(rate, 2)", ENV, condition=False).evaluate(Filled({"rate": Decimal("0.125")})) == Decimal("0.13")
    assert compile_expr("round(rate, 0)", ENV, condition=False).evaluate(Filled({"rate": Decimal("-2.5")})) == Decimal("-3")
    assert compile_expr("round(rate, 8)", ENV, condition=False).excel() == "ROUND(SUM(f_rate),8)"


def test_sum_of_a_column_counts_text_and_blank_as_zero() -> None:
    values = Filled(tables={"indicators": [{"name": "a", "score": 60}, {"name": "b", "score": "四十"},
                                           {"name": "c", "score": None}, {"name": "d", "score": Decimal("40.004")}]})
    compiled = compile_expr("sum(indicators.score) = 100", ENV)
    assert compiled.excel() == "ROUND(ROUND(SUM(c_indicators_score)-100,6),2)=0"
    assert compiled.evaluate(values) is True


def test_count_rows_over_every_column() -> None:
    compiled = compile_expr("count(funding_sources) >= 2", ENV)
    assert compiled.excel() == "ROUND(ROUND(SUMPRODUCT((LEN(c_funding_sources_source&c_funding_sources_amount)>0)*1)-2,6),2)>=0"
    rows = [{"source": "", "amount": 5}, {"source": None, "amount": None}, {"source": "自筹", "amount": None}]
    assert compiled.evaluate(Filled(tables={"funding_sources": rows})) is True
    assert compiled.evaluate(Filled(tables={"funding_sources": rows[:2]})) is False


def test_dates_are_day_numbers() -> None:
    assert check("start_date <= end_date", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)) is True
    assert check("end_date - start_date = 364", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)) is True
    assert check("start_date = 46023", start_date=date(2026, 1, 1)) is True  # Excel's serial number of that day
    assert check("start_date = 46023.5", start_date=datetime(2026, 1, 1, 12)) is True


def test_text_or_blank_in_a_number_is_zero() -> None:
    assert check("current_year = 0") is True
    assert check("current_year = 0", current_year="一百万") is True
    assert check("current_year = 0", current_year="100") is True  # text, as Excel's SUM() ignores it
    assert check("people = 3", people=3) is True
    assert check("rate = 0.1", rate=0.1) is True  # a float as calamine gives it


def test_full_width_punctuation_is_accepted() -> None:
    text = "（general_budget＋fund_budget）＊２＜＝current_year／２"
    assert excel(text) == excel("(general_budget+fund_budget)*2<=current_year/2")
    assert excel("round（rate，2）＞0") == excel("round(rate, 2) > 0")
    assert excel("project_nature ＝ “延续（试点）”") == 'f_project_nature="延续（试点）"'  # text keeps its brackets


def test_keywords_and_functions_in_capitals() -> None:
    assert excel("NOT BLANK(overview) AND SUM(indicators.score) = 100") == excel("not blank(overview) and sum(indicators.score) = 100")


def test_names_in_order_of_first_appearance() -> None:
    compiled = compile_expr("fund_budget + general_budget + fund_budget = sum(funding_sources.amount) and count(indicators) > 0", ENV)
    assert compiled.fields == ("fund_budget", "general_budget")
    assert compiled.columns == (("funding_sources", "amount"),)
    assert compiled.tables == ("funding_sources", "indicators")


def test_excel_names_hook_maps_names_to_cells() -> None:
    cells = {"f_people": "B2", "c_indicators_score": "C2:E2", "c_indicators_name": "F2:H2"}
    compiled = compile_expr("people + sum(indicators.score) > count(indicators)", ENV)
    assert compiled.excel(cells.__getitem__) == "ROUND(ROUND(SUM(B2)+SUM(C2:E2)-SUMPRODUCT((LEN(F2:H2&C2:E2)>0)*1),6),2)>0"


def test_formulas_use_only_classic_functions() -> None:
    used: set[str] = set()
    for text in AGREEMENT:
        used |= set(re.findall(r"([A-Z]+)\(", compile_expr(text, AGREEMENT_ENV).excel()))
    assert used == set(EXCEL_FUNCTIONS)


def test_a_value_expression() -> None:
    compiled = compile_expr("general_budget + fund_budget", ENV, condition=False)
    assert compiled.type is Type.NUMBER
    assert compiled.evaluate(Filled({"general_budget": Decimal("1.5"), "fund_budget": 2})) == Decimal("3.5")
    assert compile_expr("general_budget / fund_budget", ENV, condition=False).evaluate(Filled({"general_budget": 1})) is None


def test_label_names_what_a_clerk_sees() -> None:
    assert compile_expr("general_budget + fund_budget = current_year", ENV).label(ENV) == "一般公共预算 + 政府性基金 = 当年预算"
    assert compile_expr("sum(indicators.score) = 100", ENV).label(ENV) == "分值合计 = 100"


# ---------------------------------------------------------------- messages


def test_template_message_renders_values() -> None:
    values = Filled({"general_budget": Decimal("232124"), "fund_budget": Decimal("1000.5"), "project_nature": "延续"},
                    {"indicators": [{"name": "a", "score": 60}, {"name": "b", "score": 30}]})
    message = ("{general_budget} + {fund_budget} = {general_budget + fund_budget}，当年预算 {current_year}，"
               "{count(indicators)} 个指标共 {sum(indicators.score)} 分，属性 {project_nature}，{{原样}}")
    assert template_message(message, ENV, values) == \
        "232,124.00 + 1,000.50 = 233,124.50，当年预算 未填，2 个指标共 90 分，属性 延续，{原样}"
    assert template_message("{general_budget / current_year}", ENV, values) == "无法计算"
    assert template_message("{start_date}", ENV, Filled({"start_date": date(2026, 3, 1)})) == "2026-03-01"


def test_message_placeholders_labels() -> None:
    message = "{general_budget} + {fund_budget} 应等于 {current_year}（{sum(indicators.score)}）"
    assert message_placeholders_labels(message, ENV) == "一般公共预算 + 政府性基金 应等于 当年预算（分值合计）"
    assert compile_message("｛current_year｝", ENV).labelled() == "当年预算"


@pytest.mark.parametrize(("message", "error", "position"), [
    ("合计 {curent_year} 元", "不认识的名称“curent_year”", 5),
    ("合计 {current_year + } 元", "算式不完整，缺少数值或名称", 20),
    ("合计 {current_year 元", "“{”缺少对应的“}”", 4),
    ("合计 current_year} 元", "多了一个“}”", 16),
    ("{current_year = 1}", "此处应为数字或文字，而不是比较或判断", 2),
    ("{}", "没有写内容", 2),
], ids=["unknown-name", "incomplete", "unclosed", "stray-brace", "condition", "empty"])
def test_message_errors(message: str, error: str, position: int) -> None:
    with pytest.raises(ExprError) as exc:
        compile_message(message, ENV)
    assert error in exc.value.message
    assert exc.value.position == position


# ---------------------------------------------------------------- errors

ERRORS = [
    ("current_year = (general_budget + fund_budget", "缺少右括号", 45),
    ("current_year = general_budget)", "多余的右括号", 30),
    ("curent_year = 1", "不认识的名称“curent_year”（可用：current_year", 1),
    ("current_year = sum(general_budget)", "sum() 的参数应为 表.列，如 sum(indicators.score)", 20),
    ("sum(indicators) = 1", "sum() 的参数应为 表.列", 5),
    ("sum(indicator.score) = 1", "不认识的表格“indicator”（可用：indicators", 5),
    ("sum(indicators.scor) = 1", "表格“indicators”没有列“scor”（可用：score", 16),
    ("sum(indicators.name) = 1", "sum() 只能加总数字列，“name”不是数字", 16),
    ("count(people) = 1", "不认识的表格“people”", 7),
    ("count(indicators.score) = 1", "count() 的参数应为表格", 7),
    ("indicators.score = 1", "表.列 只能用在 sum() 里", 1),
    ("indicators = 1", "表格“indicators”只能用在 count(indicators) 或 sum(indicators.列) 里", 1),
    ("project_nature + 1 = 2", "文字不能做加减乘除", 1),
    ('current_year = 1 + "延续"', "文字不能做加减乘除", 20),
    ("-overview = 1", "文字不能做加减乘除", 2),
    ("agreed + 1 = 1", "比较或勾选项不能做加减乘除", 1),
    ("people < year < 3", "比较符不能连用", 15),
    ('project_nature < "延续"', "文字只能用 = 或 != 比较", 16),
    ('current_year = "延续"', "数字不能和文字比较", 14),
    ("agreed = 1", "比较或勾选项不能再拿来比较", 1),
    ("people and agreed", "and 的两边应为比较或判断", 1),
    ("agreed or overview", "or 的两边应为比较或判断", 11),
    ("not people", "not 后面应为比较或判断", 5),
    ("current_year", "条件应为比较或判断，如 a = b", 1),
    ("general_budget + fund_budget", "条件应为比较或判断", 1),
    ("current_year = 1,000", "逗号只用来分隔函数的参数；数字不写千位分隔符，如 1000", 17),
    ("current_year = 1 2", "多了“2”（是否少写了运算符？）", 18),
    ("current_year = ", "算式不完整，缺少数值或名称", 16),
    ("current_year = * 2", "此处应为数值或名称，而不是“*”", 16),
    ("", "没有写内容", 1),
    ("current_year @ 1", "不认识的符号“@”", 14),
    ('project_nature = "延续', "文字缺少结束的引号", 18),
    ("summ(indicators.score) = 1", "不认识的函数“summ”", 1),
    ("blank(current_year + 1)", "blank() 的参数应为一个填写项", 7),
    ("blank(indicators)", "blank() 的参数应为一个填写项", 7),
    ("len(people) > 1", "len() 的参数应为文字", 5),
    ("abs(overview) > 1", "abs() 的参数应为数字", 5),
    ("round(rate) > 1", "round() 需要两个参数", 11),
    ("round(rate, 2.5) > 1", "round() 的第二个参数应为 0 到 10 的整数", 13),
    ("round(rate, people) > 1", "round() 的第二个参数应为 0 到 10 的整数", 13),
    ("len(overview, 2) > 1", "len() 的参数太多", 13),
    ("abs(rate + 1", "缺少右括号", 13),
    ("sum(indicators.score", "缺少右括号", 21),
    ("count(indicators", "缺少右括号", 17),
    ("blank(overview, rate)", "blank() 的参数太多", 15),
    ("sum(indicators.score + 1) = 100", "sum() 的参数应为 表.列", 5),
]


@pytest.mark.parametrize(("text", "error", "position"), ERRORS, ids=[e[1][:14] + f"@{e[2]}" for e in ERRORS])
def test_error(text: str, error: str, position: int) -> None:
    with pytest.raises(ExprError) as exc:
        compile_expr(text, ENV)
    assert exc.value.message.startswith(error)
    assert exc.value.position == position
    assert str(exc.value) == f"第 {position} 个字符处：{exc.value.message}"
    assert isinstance(exc.value, UserError)  # shown to the person, never a traceback


def test_error_positions_count_full_width_characters() -> None:
    with pytest.raises(ExprError) as exc:
        compile_expr("（current_year＝１", ENV)
    assert (exc.value.message, exc.value.position) == ("缺少右括号", 16)


def test_a_formula_too_long_for_excel_is_refused() -> None:
    text = " + ".join(["general_budget"] * 600) + " = 0"
    with pytest.raises(ExprError, match="超过上限"):
        compile_expr(text, ENV)


def _parse_seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        parse(text, ENV)
        best = min(best, time.perf_counter() - start)
    return best


def test_parsing_is_linear_in_length() -> None:
    term = "(people * 2 - rate) + "
    short, long = term * (10_000 // len(term) + 1) + "1 > 0", term * (40_000 // len(term) + 4) + "1 > 0"
    assert len(short) >= 10_000
    seconds = _parse_seconds(short)
    assert seconds < 1.0
    assert _parse_seconds(long) < 4 * seconds * 3  # 4× the text: well under the 16× a quadratic parser takes


@pytest.mark.parametrize("text", [
    "(" * 5000 + "people" + ")" * 5000 + " > 0",
    "abs(" * 5000 + "people" + ")" * 5000 + " > 0",
    "round(" * 5000 + "people" + ", 2)" * 5000 + " > 0",
], ids=["brackets", "calls", "round"])
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(ExprError, match=f"嵌套太深（最多 {MAX_DEPTH} 层）"):
        compile_expr(text, ENV)


def test_long_runs_of_prefix_operators_stay_shallow() -> None:
    assert check("not " * 5000 + "people = 1", people=1) is True
    assert check("-" * 5001 + "people = -1", people=1) is True


# ---------------------------------------------------------------- agreement with a real LibreOffice

AGREEMENT_ENV = Env(
    fields={"a": Kind.MONEY, "b": Kind.MONEY, "c": Kind.MONEY, "n": Kind.INTEGER, "d1": Kind.DATE, "d2": Kind.DATE,
            "nature": Kind.CHOICE, "name": Kind.TEXT, "tick": Kind.TICK},
    tables={"t": {"x": Kind.MONEY, "y": Kind.NUMBER, "s": Kind.TEXT}},
)
AGREEMENT = [
    "a + b = c", "a + b != c", "a - b * 2 <= c", "a < b", "a >= b", "a > b - c", "-a < b", "a / b > 1",
    "(a + b) * 2 = c", "n >= 3", "d1 <= d2", "d2 - d1 > 30", 'nature = "延续"', "nature <> name", 'name = "ab"',
    "blank(a)", "not blank(nature)", "blank(tick)", "tick", "len(name) <= 3", "abs(a - b) < 1", "round(a, 0) = round(b, 0)",
    "round(a / 3, 2) = 0.33", "sum(t.x) = a", "sum(t.x) + sum(t.y) >= 10", "count(t) >= 2", "count(t) = 0 or a > 0",
    "a = b and b = c", "not (a > b or c < 0)", "n = 0 or c / n > 1",
]
_PER_ROW = 3  # table rows of each case
_NUMBERS = [0, 100, Decimal("100.004"), Decimal("100.005"), Decimal("99.995"), Decimal("100.01"), Decimal("0.005"),
            Decimal("-0.005"), Decimal("0.01"), Decimal("-100.005"), Decimal("1.5"), Decimal("0.335")]
number = st.one_of(st.none(), st.sampled_from(_NUMBERS), st.decimals(-10_000, 10_000, places=3),
                   st.sampled_from(["一百", "100"]))  # text typed into a number cell
text = st.one_of(st.none(), st.sampled_from(["延续", "新增", "ab", "AB", "三个字", "一二三四", "0"]))
Case = dict[str, Any]
case = st.fixed_dictionaries({
    "a": number, "b": number, "c": number, "n": st.one_of(st.none(), st.integers(-3, 10)),
    "d1": st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
    "d2": st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
    "nature": text, "name": text, "tick": st.booleans(),
    "t": st.lists(st.fixed_dictionaries({"x": number, "y": number, "s": text}), min_size=_PER_ROW, max_size=_PER_ROW),
})
# hand-picked cases at the cent boundary, a text amount, and blanks everywhere
_EDGES: list[Case] = [
    {"a": Decimal("100.005"), "b": 0, "c": 100, "n": 0, "d1": None, "d2": None, "nature": None, "name": None, "tick": False,
     "t": [{"x": Decimal("100.005"), "y": None, "s": None}, {"x": None, "y": None, "s": None}, {"x": None, "y": 0, "s": "x"}]},
    {"a": Decimal("100.004"), "b": Decimal("-0.005"), "c": Decimal("99.995"), "n": None, "d1": date(2026, 1, 1),
     "d2": date(2026, 1, 31), "nature": "延续", "name": "AB", "tick": True,
     "t": [{"x": "一百", "y": Decimal("9.995"), "s": None}, {"x": None, "y": None, "s": None}, {"x": 0, "y": None, "s": None}]},
    {"a": None, "b": None, "c": None, "n": None, "d1": None, "d2": None, "nature": None, "name": None, "tick": False,
     "t": [{"x": None, "y": None, "s": None}] * _PER_ROW},
]
_COLUMNS = [*AGREEMENT_ENV.fields, *(f"t.{c}.{r}" for c in AGREEMENT_ENV.tables["t"] for r in range(_PER_ROW))]
_COL = {key: i for i, key in enumerate(_COLUMNS)}


def _cell(col: int, row: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def _names(row: int) -> Any:
    def name(defined: str) -> str:
        kind, _, key = defined.partition("_")
        if kind == "f":
            return _cell(_COL[key], row)
        table, _, column = key.partition("_")
        return f"{_cell(_COL[f'{table}.{column}.0'], row)}:{_cell(_COL[f'{table}.{column}.{_PER_ROW - 1}'], row)}"
    return name


def _write(ws: Any, row: int, col: int, value: Any, date_format: Any) -> None:
    if value is None or value is False or value == "":
        return
    if value is True:
        ws.write_string(row, col, "✓")
    elif isinstance(value, str):
        ws.write_string(row, col, value)
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), date_format)
    else:
        ws.write_number(row, col, float(value))


def _workbook(path: Path, cases: list[Case]) -> None:
    compiled = [compile_expr(text, AGREEMENT_ENV) for text in AGREEMENT]
    wb = xlsxwriter.Workbook(str(path))
    ws, date_format = wb.add_worksheet(), wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, [*_COLUMNS, *AGREEMENT])  # a full first row: the read-back range starts at A1
    for row, values in enumerate(cases, start=1):
        for key in AGREEMENT_ENV.fields:
            _write(ws, row, _COL[key], values[key], date_format)
        for r, cells in enumerate(values["t"]):
            for column, value in cells.items():
                _write(ws, row, _COL[f"t.{column}.{r}"], value, date_format)
        for i, c in enumerate(compiled):  # as the writer does: a condition that errs is not met
            ws.write_formula(row, len(_COLUMNS) + i, f"=IFERROR({c.excel(_names(row))},FALSE)")
    wb.close()


@pytest.mark.libreoffice
@settings(max_examples=4, deadline=None, derandomize=True)
@given(st.lists(case, min_size=50, max_size=50))
@example(_EDGES)
def test_python_and_libreoffice_agree(cases: list[Case]) -> None:
    require_soffice()
    compiled = [compile_expr(text, AGREEMENT_ENV) for text in AGREEMENT]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "cases.xlsx"), Path(tmp, "out", "cases.xlsx")
        _workbook(src, cases)
        recalculate(src, dst)
        rows = CalamineWorkbook.from_path(str(dst)).get_sheet_by_index(0).to_python()
    wrong = []
    for row, values in enumerate(cases):
        filled = Filled({k: values[k] for k in AGREEMENT_ENV.fields}, {"t": values["t"]})
        for i, c in enumerate(compiled):
            got = rows[row + 1][len(_COLUMNS) + i]
            if c.evaluate(filled) is not got:
                wrong.append(f"{c.text}: Python {c.evaluate(filled)}, LibreOffice {got!r} on {values}")
    assert not wrong, "\n".join(wrong[:10])
