"""The expression language of bureau rules: `general_budget + fund_budget = current_year`.

A condition is parsed once per template into a tree of frozen dataclasses, checked against the form's
fields and tables, and then either evaluated in Python on a return's values (the reviewer's check) or
compiled to an Excel formula the workbook evaluates while a clerk types. Both give the same answer:
each node says, in one place, what it means in Python and what it is in Excel.

Semantics shared by both sides:
- in a number a blank, text or unreadable value counts 0 (Excel: SUM(f_key) ignores text, blank is 0);
  a date is its Excel day number, so dates compare and subtract;
- numbers compare to the cent: the difference is rounded to 6 decimals (which removes the binary noise
  of Excel's arithmetic: 100.005-100 is 0.00499999999999545 there), then half away from zero to 2;
- text compares without regard to case, as Excel and WPS do;
- any error (division by zero) fails the whole condition: evaluate() gives False, and the caller wraps
  the formula as IFERROR(cond,FALSE). and/or evaluate both sides, as Excel's AND()/OR() do.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from enum import Enum
from typing import Any, ClassVar, Protocol

from xlform.errors import UserError
from xlform.form.fields import Kind
from xlform.form.values import Coded, to_halfwidth

__all__ = [
    "EXCEL_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_FORMULA",
    "Compiled",
    "Env",
    "ExprError",
    "Message",
    "Type",
    "Values",
    "compile_expr",
    "compile_message",
    "message_placeholders_labels",
    "parse",
    "template_message",
]

MAX_DEPTH = 30  # nested brackets / calls: far beyond any real rule, and Excel allows 64 nested functions
MAX_FORMULA = 8000  # Excel refuses formulas over 8192 characters; leave room for the caller's IFERROR/IF
EXCEL_FUNCTIONS = ("SUM", "SUMPRODUCT", "AND", "OR", "NOT", "LEN", "ISBLANK", "ABS", "ROUND")  # all a formula uses
NOT_FILLED = "未填"
NOT_COMPUTABLE = "无法计算"


class ExprError(UserError):
    """A bad expression: a Chinese message and the 1-based character position it is about."""

    def __init__(self, message: str, position: int) -> None:
        self.message, self.position = message, position
        super().__init__(f"第 {position} 个字符处：{message}")


class Type(Enum):
    NUMBER = "数字"
    TEXT = "文字"
    BOOL = "判断"


_NUMBER_KINDS = frozenset({Kind.MONEY, Kind.NUMBER, Kind.INTEGER, Kind.YEAR, Kind.DATE})


def type_of(kind: Kind) -> Type:
    if kind in _NUMBER_KINDS:
        return Type.NUMBER
    return Type.BOOL if kind is Kind.TICK else Type.TEXT


@dataclass(frozen=True)
class Env:
    """What an expression may name: the form's fields and tables (every column), and their labels."""

    fields: dict[str, Kind]
    tables: dict[str, dict[str, Kind]]
    labels: dict[str, str] = field(default_factory=dict)  # field key, table key or "table.column" -> label

    def label(self, key: str) -> str:
        return self.labels.get(key) or key.rpartition(".")[2]


class Values(Protocol):
    def field(self, key: str) -> Any: ...
    def column(self, table: str, column: str) -> list[Any]: ...  # one value per filled row
    def rows(self, table: str) -> int: ...  # filled rows


Names = Callable[[str], str]  # f_key / c_table_column -> what the formula writes for it


def _same(name: str) -> str:
    return name


# ---------------------------------------------------------------- values in Python

_EPOCH = date(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug, day numbers from March 1900 match)
_MICRO, _CENT = Decimal("0.000001"), Decimal("0.01")
# Errors raise instead of giving NaN or Infinity, so that evaluate() can fail the condition.
_CONTEXT = Context(prec=34, traps=[InvalidOperation, DivisionByZero, Overflow])


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, str | Coded):
        return Decimal(0)  # as Excel's SUM() ignores text and logical values in a cell
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest decimal that is the float, as Excel shows it
    if isinstance(value, datetime):
        delta = value - datetime(1899, 12, 30)
        return Decimal(delta.days) + Decimal(delta.seconds) / 86400
    if isinstance(value, date):
        return Decimal((value - _EPOCH).days)
    return Decimal(0)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value is False  # a tick read back is False when empty


def _cents(value: Decimal) -> Decimal:
    # 6 decimals first, as the formula does to shed its binary noise; then to the cent, half away from zero
    return value.quantize(_MICRO, ROUND_HALF_UP).quantize(_CENT, ROUND_HALF_UP)


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------- the tree


class Node:
    """A construct: its type, its Python value, its Excel formula, and how a message names it."""

    TYPE: ClassVar[Type]
    pos: int  # 1-based position of its first character
    composite: ClassVar[bool] = False  # needs brackets inside another operator

    @property
    def type(self) -> Type:
        return self.TYPE

    def value(self, values: Values) -> Any:
        raise NotImplementedError

    def excel(self, names: Names) -> str:
        raise NotImplementedError

    def label(self, env: Env) -> str:
        raise NotImplementedError

    def _bracket(self, text: str) -> str:
        return f"({text})" if self.composite else text


@dataclass(frozen=True)
class Num(Node):
    number: Decimal
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        return self.number

    def excel(self, names: Names) -> str:
        return _decimal_text(self.number)

    def label(self, env: Env) -> str:
        return _decimal_text(self.number)


@dataclass(frozen=True)
class Text(Node):
    text: str
    pos: int
    TYPE: ClassVar[Type] = Type.TEXT

    def value(self, values: Values) -> str:
        return self.text

    def excel(self, names: Names) -> str:
        return '"' + self.text.replace('"', '""') + '"'

    def label(self, env: Env) -> str:
        return f"“{self.text}”"


@dataclass(frozen=True)
class Field(Node):
    """A field of the form, read as a number, a text or a tick by its kind."""

    key: str
    kind: Kind
    pos: int

    @property
    def type(self) -> Type:
        return type_of(self.kind)

    def value(self, values: Values) -> Any:
        raw = values.field(self.key)
        if self.type is Type.NUMBER:
            return _number(raw)
        return _text(raw) if self.type is Type.TEXT else not _blank(raw)

    def excel(self, names: Names) -> str:
        name = names("f_" + self.key)
        if self.type is Type.NUMBER:
            return f"SUM({name})"
        return name if self.type is Type.TEXT else f"NOT(ISBLANK({name}))"  # a tick cell holds ✓ or nothing

    def label(self, env: Env) -> str:
        return env.label(self.key)


@dataclass(frozen=True)
class ColumnSum(Node):
    table: str
    column: str
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        return sum((_number(v) for v in values.column(self.table, self.column)), Decimal(0))

    def excel(self, names: Names) -> str:
        return f"SUM({names(f'c_{self.table}_{self.column}')})"

    def label(self, env: Env) -> str:
        return env.label(f"{self.table}.{self.column}") + "合计"


@dataclass(frozen=True)
class RowCount(Node):
    """Filled rows of a table: a row with anything in any of its columns."""

    table: str
    columns: tuple[str, ...]
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        return Decimal(values.rows(self.table))

    def excel(self, names: Names) -> str:
        joined = "&".join(names(f"c_{self.table}_{c}") for c in self.columns)
        return f"SUMPRODUCT((LEN({joined})>0)*1)"

    def label(self, env: Env) -> str:
        return env.label(self.table) + "行数"


@dataclass(frozen=True)
class Blank(Node):
    key: str
    pos: int
    TYPE: ClassVar[Type] = Type.BOOL

    def value(self, values: Values) -> bool:
        return _blank(values.field(self.key))

    def excel(self, names: Names) -> str:
        return f"ISBLANK({names('f_' + self.key)})"

    def label(self, env: Env) -> str:
        return env.label(self.key) + "未填"


@dataclass(frozen=True)
class Len(Node):
    arg: Node
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        return Decimal(len(self.arg.value(values)))

    def excel(self, names: Names) -> str:
        return f"LEN({self.arg.excel(names)})"

    def label(self, env: Env) -> str:
        return self.arg.label(env) + "字数"


@dataclass(frozen=True)
class Abs(Node):
    arg: Node
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        return abs(self.arg.value(values))

    def excel(self, names: Names) -> str:
        return f"ABS({self.arg.excel(names)})"

    def label(self, env: Env) -> str:
        return f"|{self.arg.label(env)}|"


@dataclass(frozen=True)
class Round(Node):
    arg: Node
    digits: int
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER

    def value(self, values: Values) -> Decimal:
        number: Decimal = self.arg.value(values)
        if self.digits < 6:  # as the formula: shed binary noise first
            number = number.quantize(_MICRO, ROUND_HALF_UP)
        return number.quantize(Decimal(1).scaleb(-self.digits), ROUND_HALF_UP)

    def excel(self, names: Names) -> str:
        inner = self.arg.excel(names)
        if self.digits < 6:
            inner = f"ROUND({inner},6)"
        return f"ROUND({inner},{self.digits})"

    def label(self, env: Env) -> str:
        return f"{self.arg._bracket(self.arg.label(env))}（保留 {self.digits} 位小数）"


@dataclass(frozen=True)
class Neg(Node):
    arg: Node
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER
    composite: ClassVar[bool] = True

    def value(self, values: Values) -> Decimal:
        return -self.arg.value(values)

    def excel(self, names: Names) -> str:
        return "-" + self.arg._bracket(self.arg.excel(names))

    def label(self, env: Env) -> str:
        return "-" + self.arg._bracket(self.arg.label(env))


_ARITH: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_ARITH_LABEL = {"+": "+", "-": "-", "*": "×", "/": "÷"}


@dataclass(frozen=True)
class Arith(Node):
    """items[0] ops[0] items[1] ops[1] …, left to right: a flat chain, so a long sum is no deep tree."""

    items: tuple[Node, ...]
    ops: tuple[str, ...]
    pos: int
    TYPE: ClassVar[Type] = Type.NUMBER
    composite: ClassVar[bool] = True

    def value(self, values: Values) -> Decimal:
        result: Decimal = self.items[0].value(values)
        for op, item in zip(self.ops, self.items[1:], strict=True):
            result = _ARITH[op](result, item.value(values))
        return result

    def excel(self, names: Names) -> str:
        return self._join([i._bracket(i.excel(names)) for i in self.items], self.ops)

    def label(self, env: Env) -> str:
        return self._join([i._bracket(i.label(env)) for i in self.items], [f" {_ARITH_LABEL[o]} " for o in self.ops])

    @staticmethod
    def _join(parts: Sequence[str], ops: Sequence[str]) -> str:
        out = [parts[0]]
        for op, part in zip(ops, parts[1:], strict=True):
            out += [op, part]
        return "".join(out)


# canonical comparison -> Python test of (left - right) or of the two texts
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_COMPARE_LABEL = {"=": "=", "<>": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


@dataclass(frozen=True)
class NumberCompare(Node):
    op: str
    left: Node
    right: Node
    pos: int
    TYPE: ClassVar[Type] = Type.BOOL

    def value(self, values: Values) -> bool:
        return _COMPARE[self.op](_cents(self.left.value(values) - self.right.value(values)), 0)

    def excel(self, names: Names) -> str:
        right = self.right._bracket(self.right.excel(names))
        return f"ROUND(ROUND({self.left.excel(names)}-{right},6),2){self.op}0"

    def label(self, env: Env) -> str:
        return f"{self.left.label(env)} {_COMPARE_LABEL[self.op]} {self.right.label(env)}"


@dataclass(frozen=True)
class TextCompare(Node):
    op: str  # = or <>
    left: Node
    right: Node
    pos: int
    TYPE: ClassVar[Type] = Type.BOOL

    def value(self, values: Values) -> bool:
        return _COMPARE[self.op](self.left.value(values).lower(), self.right.value(values).lower())

    def excel(self, names: Names) -> str:
        return f"{self.left.excel(names)}{self.op}{self.right.excel(names)}"

    def label(self, env: Env) -> str:
        return f"{self.left.label(env)} {_COMPARE_LABEL[self.op]} {self.right.label(env)}"


@dataclass(frozen=True)
class Logic(Node):
    op: str  # and / or
    items: tuple[Node, ...]
    pos: int
    TYPE: ClassVar[Type] = Type.BOOL
    composite: ClassVar[bool] = True

    def value(self, values: Values) -> bool:
        results = [item.value(values) for item in self.items]  # every one, so that an error fails as in Excel
        return all(results) if self.op == "and" else any(results)

    def excel(self, names: Names) -> str:
        return f"{self.op.upper()}({','.join(i.excel(names) for i in self.items)})"

    def label(self, env: Env) -> str:
        return (" 且 " if self.op == "and" else " 或 ").join(i._bracket(i.label(env)) for i in self.items)


@dataclass(frozen=True)
class Not(Node):
    arg: Node
    pos: int
    TYPE: ClassVar[Type] = Type.BOOL

    def value(self, values: Values) -> bool:
        return not self.arg.value(values)

    def excel(self, names: Names) -> str:
        return f"NOT({self.arg.excel(names)})"

    def label(self, env: Env) -> str:
        return f"并非（{self.arg.label(env)}）"


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # num / str / name / op / end
    text: str  # an operator in its canonical spelling; a string's content as written
    pos: int  # 1-based


# What a Chinese keyboard types besides full-width ASCII (which to_halfwidth folds); one character each, so
# positions in the folded text are positions in the original.
_FOLD = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "×": "*", "÷": "/", "。": "."})
_TOKEN = re.compile(r"""(?P<num>[0-9]+(?:\.[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>"[^"]*"|'[^']*')
    |(?P<op>==|!=|<>|<=|>=|[=<>≠≤≥+\-*/(),.])""", re.VERBOSE)
_SPACE = re.compile(r"\s*")
_CANONICAL = {"==": "=", "!=": "<>", "≠": "<>", "≤": "<=", "≥": ">="}
_KEYWORDS = ("and", "or", "not")
_COMPARISONS = frozenset(_COMPARE)


def _tokens(text: str) -> list[_Token]:
    folded = to_halfwidth(text).translate(_FOLD)
    tokens: list[_Token] = []
    pos = _SPACE.match(folded, 0).end()  # type: ignore[union-attr]  # \s* always matches
    while pos < len(folded):
        m = _TOKEN.match(folded, pos)
        if m is None:
            if folded[pos] in "\"'":
                raise ExprError("文字缺少结束的引号", pos + 1)
            raise ExprError(f"不认识的符号“{text[pos]}”", pos + 1)
        kind = m.lastgroup or ""
        if kind == "str":
            tokens.append(_Token("str", text[pos + 1:m.end() - 1], pos + 1))
        elif kind == "name" and m.group().lower() in _KEYWORDS:
            tokens.append(_Token("op", m.group().lower(), pos + 1))
        else:
            tokens.append(_Token(kind, _CANONICAL.get(m.group(), m.group()), pos + 1))
        pos = _SPACE.match(folded, m.end()).end()  # type: ignore[union-attr]
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------- parsing and checking

_FUNCTIONS = ("sum", "count", "blank", "len", "abs", "round")
_NOT_BOOL = "条件应为比较或判断，如 a = b"


def _choices(name: str, known: Sequence[str]) -> str:
    """（可用：…）: the names closest to a mistyped one, else the first few."""
    close = difflib.get_close_matches(name, known, n=5)
    shown = (close + [k for k in sorted(known) if k not in close])[:8]
    more = f" 等 {len(known)} 个" if len(known) > len(shown) else ""
    return f"（可用：{'、'.join(shown)}{more}）" if known else "（没有可用的）"


class _Parser:
    """Recursive descent, one method per precedence level; chains are loops, so only brackets and calls
    recurse, and their depth is bounded."""

    def __init__(self, text: str, env: Env) -> None:
        self.tokens, self.i, self.env, self.depth = _tokens(text), 0, env, 0
        # names in order of first appearance (dicts as ordered sets)
        self.fields: dict[str, None] = {}
        self.columns: dict[tuple[str, str], None] = {}
        self.tables: dict[str, None] = {}

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_close(self) -> None:
        if not self.at(")"):
            raise ExprError("缺少右括号", self.tok.pos)
        self.take()
        self.depth -= 1

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExprError("没有写内容", 1)
        node = self.or_()
        if self.tok.kind != "end":
            token = self.tok
            if self.at(")"):
                raise ExprError("多余的右括号", token.pos)
            if self.at(","):
                raise ExprError("逗号只用来分隔函数的参数；数字不写千位分隔符，如 1000", token.pos)
            raise ExprError(f"多了“{token.text}”（是否少写了运算符？）", token.pos)
        return node

    def or_(self) -> Node:
        return self.logic("or", self.and_)

    def and_(self) -> Node:
        return self.logic("and", self.not_)

    def logic(self, op: str, operand: Callable[[], Node]) -> Node:
        items = [operand()]
        while self.at(op):
            self.take()
            items.append(operand())
        if len(items) == 1:
            return items[0]
        for item in items:
            if item.type is not Type.BOOL:
                raise ExprError(f"{op} 的两边应为比较或判断，如 a = b", item.pos)
        return Logic(op, tuple(items), items[0].pos)

    def not_(self) -> Node:
        starts = []
        while self.at("not"):
            starts.append(self.take().pos)
        node = self.compare()
        if starts and node.type is not Type.BOOL:
            raise ExprError("not 后面应为比较或判断，如 not blank(x)", node.pos)
        if len(starts) % 2:  # not not x is x: a long run of them is no deep tree
            return Not(node, starts[0])
        return Not(Not(node, starts[-1]), starts[0]) if starts else node

    def compare(self) -> Node:
        left = self.sum_()
        if not (self.tok.kind == "op" and self.tok.text in _COMPARISONS):
            return left
        op = self.take()
        right = self.sum_()
        if self.tok.kind == "op" and self.tok.text in _COMPARISONS:
            raise ExprError("比较符不能连用：a < b < c 请写成 a < b and b < c", self.tok.pos)
        types = {left.type, right.type}
        if types == {Type.NUMBER}:
            return NumberCompare(op.text, left, right, left.pos)
        if types == {Type.TEXT}:
            if op.text not in ("=", "<>"):
                raise ExprError("文字只能用 = 或 != 比较", op.pos)
            return TextCompare(op.text, left, right, left.pos)
        if types == {Type.NUMBER, Type.TEXT}:
            raise ExprError("数字不能和文字比较", op.pos)
        bad = left if left.type is Type.BOOL else right
        raise ExprError("比较或勾选项不能再拿来比较；请用 and、or、not 连接", bad.pos)

    def sum_(self) -> Node:
        return self.chain(("+", "-"), self.product)

    def product(self) -> Node:
        return self.chain(("*", "/"), self.unary)

    def chain(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        items, signs = [operand()], []
        while self.at(*ops):
            signs.append(self.take().text)
            items.append(operand())
        if not signs:
            return items[0]
        for item in items:
            _need_number(item)
        return Arith(tuple(items), tuple(signs), items[0].pos)

    def unary(self) -> Node:
        minus = []
        while self.at("-", "+"):
            token = self.take()
            if token.text == "-":
                minus.append(token.pos)
        node = self.atom()
        if minus:
            _need_number(node)
        return Neg(node, minus[0]) if len(minus) % 2 else node

    def atom(self) -> Node:
        token = self.tok
        if token.kind == "num":
            self.take()
            return Num(Decimal(token.text), token.pos)
        if token.kind == "str":
            self.take()
            return Text(token.text, token.pos)
        if token.kind == "name":
            self.take()
            if self.at("("):
                return self.call(token)
            if self.at("."):
                raise ExprError("表.列 只能用在 sum() 里，如 sum(indicators.score)", token.pos)
            return self.field(token)
        if self.at("("):
            self.open()
            node = self.or_()
            self.expect_close()
            return node
        if token.kind == "end":
            raise ExprError("算式不完整，缺少数值或名称", token.pos)
        raise ExprError(f"此处应为数值或名称，而不是“{token.text}”", token.pos)

    def open(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"括号嵌套太深（最多 {MAX_DEPTH} 层）", self.tok.pos)
        self.take()

    def field(self, token: _Token) -> Field:
        key = token.text
        if key in self.env.fields:
            self.fields.setdefault(key)
            return Field(key, self.env.fields[key], token.pos)
        if key in self.env.tables:
            raise ExprError(f"表格“{key}”只能用在 count({key}) 或 sum({key}.列) 里", token.pos)
        raise ExprError(f"不认识的名称“{key}”{_choices(key, list(self.env.fields))}", token.pos)

    def call(self, name: _Token) -> Node:
        fn = name.text.lower()
        if fn not in _FUNCTIONS:
            raise ExprError(f"不认识的函数“{name.text}”（可用：{'、'.join(_FUNCTIONS)}）", name.pos)
        self.open()
        arg = self.tok
        node: Node
        if fn == "sum":
            node = self.column_sum(arg, name.pos)
        elif fn == "count":
            node = self.row_count(arg, name.pos)
        elif fn == "blank":
            if arg.kind != "name" or not self.ends_argument(1) or arg.text in self.env.tables:
                raise ExprError("blank() 的参数应为一个填写项，如 blank(prior_budget)", arg.pos)
            self.take()
            node = Blank(self.field(arg).key, name.pos)
        elif fn == "len":
            node = Len(self.argument(fn, Type.TEXT), name.pos)
        elif fn == "abs":
            node = Abs(self.argument(fn, Type.NUMBER), name.pos)
        else:
            node = Round(self.argument(fn, Type.NUMBER), self.digits(), name.pos)
        if self.at(","):
            raise ExprError(f"{fn}() 的参数太多", self.tok.pos)
        self.expect_close()
        return node

    def ends_argument(self, ahead: int) -> bool:
        """The token so far ahead closes an argument (a missing bracket or an extra argument is said as such)."""
        token = self.tokens[min(self.i + ahead, len(self.tokens) - 1)]
        return token.kind == "end" or (token.kind == "op" and token.text in (")", ","))

    def argument(self, fn: str, want: Type) -> Node:
        node = self.or_()
        if node.type is not want:
            raise ExprError(f"{fn}() 的参数应为{want.value}", node.pos)
        return node

    def column_sum(self, arg: _Token, pos: int) -> ColumnSum:
        table, dot, column = self.tokens[self.i:self.i + 3]
        if not (table.kind == "name" and dot.text == "." and column.kind == "name") or not self.ends_argument(3):
            raise ExprError("sum() 的参数应为 表.列，如 sum(indicators.score)", arg.pos)
        columns = self.table(table)
        if column.text not in columns:
            raise ExprError(f"表格“{table.text}”没有列“{column.text}”{_choices(column.text, list(columns))}", column.pos)
        if type_of(columns[column.text]) is not Type.NUMBER:
            raise ExprError(f"sum() 只能加总数字列，“{self.env.label(table.text + '.' + column.text)}”不是数字", column.pos)
        self.i += 3
        self.columns.setdefault((table.text, column.text))
        return ColumnSum(table.text, column.text, pos)

    def row_count(self, arg: _Token, pos: int) -> RowCount:
        if arg.kind != "name" or not self.ends_argument(1):
            raise ExprError("count() 的参数应为表格，如 count(funding_sources)", arg.pos)
        columns = self.table(arg)
        self.take()
        return RowCount(arg.text, tuple(columns), pos)

    def table(self, token: _Token) -> dict[str, Kind]:
        if token.text not in self.env.tables:
            raise ExprError(f"不认识的表格“{token.text}”{_choices(token.text, list(self.env.tables))}", token.pos)
        self.tables.setdefault(token.text)
        return self.env.tables[token.text]

    def digits(self) -> int:
        if not self.at(","):
            raise ExprError("round() 需要两个参数，如 round(x, 2)", self.tok.pos)
        self.take()
        token = self.tok
        if token.kind != "num" or "." in token.text or int(token.text) > 10:
            raise ExprError("round() 的第二个参数应为 0 到 10 的整数，如 round(x, 2)", token.pos)
        self.take()
        return int(token.text)


def _need_number(node: Node) -> None:
    if node.type is Type.TEXT:
        raise ExprError("文字不能做加减乘除", node.pos)
    if node.type is Type.BOOL:
        raise ExprError("比较或勾选项不能做加减乘除", node.pos)


# ---------------------------------------------------------------- compiled expressions


@dataclass(frozen=True)
class Compiled:
    """A checked expression: what it names, its Python value and its Excel formula."""

    text: str
    fields: tuple[str, ...]  # field keys in order of first appearance (the first is where a finding points)
    columns: tuple[tuple[str, str], ...]  # (table, column) named in sum()
    tables: tuple[str, ...]  # tables named in count() or sum()
    tree: Node

    @property
    def type(self) -> Type:
        return self.tree.type

    def evaluate(self, values: Values) -> Any:
        """bool for a condition (False when it cannot be computed); Decimal or str for a value (None then)."""
        try:
            with localcontext(_CONTEXT):
                return self.tree.value(values)
        except ArithmeticError:  # division by zero, or a number too large: as IFERROR(cond,FALSE)
            return False if self.type is Type.BOOL else None

    def excel(self, names: Names | None = None) -> str:
        """The formula without its leading "="; names maps f_key / c_table_column (default: those defined names).
        A condition that cannot be computed is an Excel error: wrap it as IFERROR(formula,FALSE)."""
        return self.tree.excel(names or _same)

    def label(self, env: Env) -> str:
        """The expression with labels for names, for text a clerk reads: 一般公共预算 + 政府性基金."""
        return self.tree.label(env)


def parse(text: str, env: Env) -> Compiled:
    """Parse and check an expression of any type (ExprError when it is bad)."""
    parser = _Parser(text, env)
    tree = parser.parse()
    return Compiled(text, tuple(parser.fields), tuple(parser.columns), tuple(parser.tables), tree)


def compile_expr(text: str, env: Env, *, condition: bool = True) -> Compiled:
    """A rule's check / when (condition=True: must be a comparison or judgement), or a number or text
    expression (condition=False) such as a message placeholder."""
    compiled = parse(text, env)
    if condition and compiled.type is not Type.BOOL:
        raise ExprError(_NOT_BOOL, compiled.tree.pos)
    if not condition and compiled.type is Type.BOOL:
        raise ExprError("此处应为数字或文字，而不是比较或判断", compiled.tree.pos)
    length = len(compiled.excel())
    if length > MAX_FORMULA:
        raise ExprError(f"写成 Excel 公式有 {length} 个字符，超过上限 {MAX_FORMULA}；请拆成几条规则", 1)
    return compiled


# ---------------------------------------------------------------- messages with {placeholders}


def _show(value: Any, money: bool) -> str:
    if value is None or value == "" or value is False:
        return NOT_FILLED
    if value is True:
        return "✓"
    if isinstance(value, int | float | Decimal):
        number = _number(value)
        return f"{number.quantize(_CENT, ROUND_HALF_UP):,.2f}" if money else _decimal_text(number)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Placeholder:
    compiled: Compiled
    money: bool  # shown as an amount: 232,124.00
    label: str

    def render(self, values: Values) -> str:
        tree = self.compiled.tree
        if isinstance(tree, Field):  # a field alone shows what was filled in, or 未填
            return _show(values.field(tree.key), self.money)
        value = self.compiled.evaluate(values)
        return NOT_COMPUTABLE if value is None else _show(value, self.money)


@dataclass(frozen=True)
class Message:
    """A rule's message, checked once: literal text and {expression} placeholders ({{ and }} are braces)."""

    text: str
    parts: tuple[str | _Placeholder, ...]

    def render(self, values: Values) -> str:
        return "".join(p if isinstance(p, str) else p.render(values) for p in self.parts)

    def labelled(self) -> str:
        """The message with each placeholder shown as what it names, for the workbook's fixed text."""
        return "".join(p if isinstance(p, str) else p.label for p in self.parts)


def compile_message(message: str, env: Env) -> Message:
    folded = to_halfwidth(message)  # ｛ ｝ typed on a Chinese keyboard are braces too
    parts: list[str | _Placeholder] = []
    literal: list[str] = []
    i = 0
    while i < len(message):
        ch = folded[i]
        if ch in "{}" and folded[i + 1:i + 2] == ch:
            literal.append(ch)
            i += 2
        elif ch == "}":
            raise ExprError("多了一个“}”（要写花括号本身请写 }}）", i + 1)
        elif ch == "{":
            end = folded.find("}", i + 1)
            if end < 0:
                raise ExprError("“{”缺少对应的“}”", i + 1)
            try:
                compiled = compile_expr(message[i + 1:end], env, condition=False)
            except ExprError as exc:  # a position in the message, not in the placeholder
                raise ExprError(exc.message, exc.position + i + 1) from None
            money = any(env.fields.get(k) is Kind.MONEY for k in compiled.fields) or any(
                env.tables[t].get(c) is Kind.MONEY for t, c in compiled.columns)
            parts += ["".join(literal), _Placeholder(compiled, money, compiled.label(env))]
            literal = []
            i = end + 1
        else:
            literal.append(message[i])
            i += 1
    parts.append("".join(literal))
    return Message(message, tuple(p for p in parts if p != ""))


def template_message(message: str, env: Env, values: Values) -> str:
    """The message with each {expression} replaced by its value: “合计 {sum(t.amount)} 元” → “合计 232,124.00 元”."""
    return compile_message(message, env).render(values)


def message_placeholders_labels(message: str, env: Env) -> str:
    """The message with each {expression} shown as its labels: “{current_year}” → “当年预算”."""
    return compile_message(message, env).labelled()
