"""目标值 notation: `≥95%`, `≤10次`, `≥ 1,000 人次`, `95%以上`, deadlines such as `2026年8月底前`, or words.

Also finds the targets a clerk states in the 年度绩效目标 free text
("满意率达到85%以上") so a check can compare them with the indicators.

A cell holds up to 32,767 characters, so every parser here takes time linear in the
text: no pattern has two unbounded parts that can trade characters (tests/timing.py).
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .model import Deadline, Target
from .values import clean_text, to_halfwidth

__all__ = ["GoalTarget", "extract_goal_targets", "format_target", "operator_symbol", "parse_deadline", "parse_target",
           "same_subject"]

# Applied after to_halfwidth, which already turns ＞＜＝％ into > < = %.
_OPERATORS = {">=": "≥", "<=": "≤", "≧": "≥", "≦": "≤", "≥": "≥", "≤": "≤", "=": "=", ">": ">", "<": "<"}
# Clerks often write the operator as a word ("不低于90%"); longest first so 大于等于 beats 大于.
_WORD_OPERATORS = {
    "大于等于": "≥", "不低于": "≥", "不少于": "≥",
    "小于等于": "≤", "不高于": "≤", "不超过": "≤", "不多于": "≤",
    "大于": ">", "高于": ">", "超过": ">", "小于": "<", "低于": "<", "等于": "=",
}  # fmt: skip
# 内 too: "10个工作日内" is ≤ 10 个工作日.
_TAILS = {"及以上": "≥", "以上": "≥", "及以下": "≤", "以下": "≤", "以内": "≤", "之内": "≤", "内": "≤"}


def _alternation(words: Iterable[str]) -> str:
    # Longest first: a regex alternation takes the first branch that fits, so 人次 must precede 人.
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# The operator and the number; whatever follows is the unit (and a 以上-like tail). `\s*+` never gives
# back a space, so "≥" + many spaces + "x" fails in one pass.
_TARGET_HEAD = re.compile(rf"(?P<op>{_alternation([*_OPERATORS, *_WORD_OPERATORS])})?\s*+(?P<num>{_NUM})")
_TAIL_WORDS = tuple(sorted(_TAILS, key=len, reverse=True))
_DIGIT = re.compile(r"\d")
_DATE_WORD = re.compile(r"[年月日号季]")
_SPACES = re.compile(r"\s+")
# "13月底", "8日前": a date that is no date (month 13), not 13 of a unit called 月底.
_DATE_UNIT = re.compile(r"[月日号](?:份|底|末|初|中|上旬|中旬|下旬|前|之前|以前)")

# ---- deadlines (时效) -------------------------------------------------------------------

_CN_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
               "十一": 11, "十二": 12}  # fmt: skip
_YEAR = r"(?:19|20)\d{2}"
_MONTH = r"1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九]"
_DAY = r"3[01]|[12]\d|0?[1-9]"
_PART_DAYS = {"上旬": 10, "初": 10, "中旬": 20, "中": 20}  # 下旬, 底, 末: the month's end
_PERIOD_MONTHS = {"上半年": 6, "下半年": 12, "一季度": 3, "二季度": 6, "三季度": 9, "四季度": 12,
                  "1季度": 3, "2季度": 6, "3季度": 9, "4季度": 12}  # fmt: skip
_DONE_WORDS = ("完成", "完工", "办结", "建成", "交付", "上线", "验收", "实施", "竣工", "结束", "到位", "投入使用",
               "响应", "处理", "办理", "解决", "到场", "答复", "回复")  # fmt: skip
# Matched on the half-width text without blanks. Every part is of bounded length but the last
# (free words after 完成, "…前完成设备安装"), so a long text fails after a few characters.
_DEADLINE = re.compile(
    r"(?:截至|截止到|截止至|截止|不晚于|最迟于|最迟|最晚|于|在|到|每年|≤|<=|<)?"
    r"(?:"
    rf"(?P<y>{_YEAR})(?P<sep>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=sep)(?P<d>{_DAY})日?"  # 2026-06-30, 2026/6/30, 2026.6.30
    rf"|(?P<iy>{_YEAR})[-/](?P<im>1[0-2]|0[1-9])"  # 2026-06: a month, its two digits (2026-6 may be a range)
    rf"|(?:(?P<my>{_YEAR})年|[当本今]年度?)?(?P<mm>{_MONTH})月份?(?:(?P<md>{_DAY})[日号]|(?P<mp>上旬|中旬|下旬|初|中|底|末))?"
    rf"|(?:(?P<py>{_YEAR})年度?|[当本今]年度?|年度)?第?(?P<period>上半年|下半年|[1-4一二三四]季度)(?:末|底)?"
    rf"|(?:(?P<yy>{_YEAR})年度?|[当本今]年度?|年度|(?P<bare>年))(?:年(?=[底末内]))?(?P<yp>底|末|内)?"  # 2026年年底
    rf"|(?P<monthly>每个?月|次月|当月)(?:(?:{_DAY})[日号]|底|末)?"  # every month: no one date
    r")"
    r"(?P<mark>之前|以前|为止|以内|之内|前|止|内)?"
    rf"(?P<done>前?(?:{_alternation(_DONE_WORDS)})\D*)?"
)
_DONE_ENDINGS = tuple(sorted(_DONE_WORDS, key=len, reverse=True))
# A deadline word with no date: the project's own schedule.
_ON_TIME = re.compile(rf"(?:按期|按时|如期|准时|按计划|按进度|按节点|限期)(?:(?:{_alternation(_DONE_WORDS)})\D*)?")


def _ending(text: str, words: tuple[str, ...]) -> str:
    """The longest of `words` that `text` ends with ("" for none); one C call for the usual none."""
    return next(w for w in words if text.endswith(w)) if text.endswith(words) else ""


def _cn_int(text: str) -> int:
    return _CN_NUMBERS.get(text) or int(text)


def parse_deadline(text: str) -> Deadline | None:
    """A 时限 (`2026年8月底前`, `6月底`, `第三季度`, `2026年3月至6月`, `按期完成`); None when the text is none."""
    compact = _SPACES.sub("", to_halfwidth(text))
    found = _deadline(compact)
    if found is None and len(compact) <= _PERIOD_LIMIT:
        found = _period_end(compact)
    return found


_PERIOD_SEPARATOR = re.compile(r"至|到|~|—|-")
_PERIOD_LIMIT = 40  # a period is short; longer texts are not split (each split is a parse)


def _period_end(compact: str) -> Deadline | None:
    """`2026年3月至6月底`, `1-6月`: a period is due at its end (the year from its start if it names none)."""
    for m in _PERIOD_SEPARATOR.finditer(compact):
        start, end = compact[: m.start()], compact[m.end() :]
        if start.isdigit() and "月" in end:
            start += "月"  # 1-6月
        first, last = _deadline(start), _deadline(end)
        if first is not None and last is not None and first.month and last.month:
            return Deadline(last.year or first.year, last.month, last.day)
    return None


def _deadline(compact: str) -> Deadline | None:
    m = _DEADLINE.fullmatch(compact)
    if m is None:
        return Deadline() if _ON_TIME.fullmatch(compact) else None
    if m["monthly"]:
        return Deadline()
    year: int | None
    day: int | None
    if m["y"]:
        year, month, day = int(m["y"]), int(m["m"]), int(m["d"])
    elif m["iy"]:
        year, month, day = int(m["iy"]), int(m["im"]), None
    elif m["mm"]:
        year = int(m["my"]) if m["my"] else None
        month = _cn_int(m["mm"])
        day = int(m["md"]) if m["md"] else _PART_DAYS.get(m["mp"] or "")
    elif m["period"]:
        year, month, day = (int(m["py"]) if m["py"] else None), _PERIOD_MONTHS[m["period"]], None
    else:
        if m["bare"] and not (m["yp"] or m["mark"] or m["done"]):
            return None  # 年 alone says nothing
        year, month, day = (int(m["yy"]) if m["yy"] else None), 12, None
    if day is not None and day > calendar.monthrange(year or 2000, month)[1]:  # 2000: 2月29日 may be fine
        return None
    return Deadline(year, month, day)


def parse_target(raw: str | int | float | Decimal | date | None) -> Target:
    """Parse one 目标值 cell: a number with operator and unit, a deadline, or words (qualitative)."""
    text = clean_text(raw)  # a date cell (6/30 typed in Excel) becomes 2026-06-30
    if not text:
        return Target(raw="")
    if len(text) > _SHORT:
        return _parse(text)
    t = _parse_short(text)  # a fresh Target each time: the reader completes a national form's (operator, unit)
    return Target(t.raw, t.operator, t.number, t.unit, t.qualitative, t.deadline)


# The same few dozen targets (100%, ≥98%, 及时) recur in every return of a round: parsed once each.
_SHORT = 40


@functools.lru_cache(maxsize=2048)
def _parse_short(text: str) -> Target:
    return _parse(text)


def _parse(text: str) -> Target:
    half = to_halfwidth(text).strip()
    m = _TARGET_HEAD.match(half)
    # A digit after the number ("1-2次", "2026-06-30") means it is no simple target.
    simple = m is not None and not _DIGIT.search(half, m.end())
    # A deadline either is no simple target or has 年/月 after its number (2026年底前, 6月底): "100%" skips it.
    if not simple or _DATE_WORD.search(half, m.end() if m else 0):
        deadline = parse_deadline(half)
        if deadline is not None:
            return Target(raw=text, deadline=deadline)
    if m is None or not simple:
        return Target(raw=text, qualitative=True)
    rest = half[m.end() :].rstrip()
    done = _ending(rest, _DONE_ENDINGS)  # 10个工作日内完成: ≤ 10 个工作日
    rest = rest[: len(rest) - len(done)].rstrip()
    tail = _ending(rest, _TAIL_WORDS)
    unit = _SPACES.sub("", rest[: len(rest) - len(tail)])
    if _DATE_UNIT.match(unit):
        return Target(raw=text, qualitative=True)
    op = m["op"] or ""
    operator = _OPERATORS.get(op) or _WORD_OPERATORS.get(op, "") or _TAILS.get(tail, "")  # 符号 wins over 以上
    return Target(raw=text, operator=operator, number=Decimal(m["num"].replace(",", "")), unit=unit)


def operator_symbol(text: str) -> str:
    """A 计算符号 cell (national forms keep it in its own column) as a target's operator: ＞ → >, >= → ≥,
    不低于 → ≥; "" when it is none of them."""
    half = to_halfwidth(text).strip()
    return _OPERATORS.get(half) or _WORD_OPERATORS.get(half, "")


def format_target(t: Target) -> str:
    """The one place a target is turned back into display text: the clerk's own wording."""
    return t.raw


@dataclass
class GoalTarget:
    """A target stated in prose: "满意率达到85%以上" → 满意率 ≥ 85 %."""

    phrase: str
    subject: str
    operator: str
    number: Decimal
    unit: str


# Verbs whose direction is fixed; the others (达到, 为, 控制在) take it from 以上/以下/以内.
_VERB_OPERATORS = {
    "不低于": "≥", "不少于": "≥", "高于": "≥", "超过": "≥", "≥": "≥", ">=": "≥",
    "不超过": "≤", "不高于": "≤", "低于": "≤", "≤": "≤", "<=": "≤",
}  # fmt: skip
_VERBS = [*_VERB_OPERATORS, "达到", "为", "控制在"]
_UNITS = [
    "%", "‰", "人次", "万人次", "万人", "万元", "元", "个工作日", "工作日", "个月", "个", "天", "周", "小时",
    "台", "套", "项", "家", "户", "人", "件", "年", "月", "日", "分钟", "分", "平方米", "公里", "千米", "米", "吨",
    "次", "场", "辆", "份", "篇", "所", "处",
]  # fmt: skip
_PUNCT = r"，。；、,;:：！？!?()（）“”\"\s"
_JOINERS = "和及与并且"
# A stated target: verb, number, unit, 以上-like tail. The number is taken whole (atomic) and is no
# target when a date or a range goes on from it (2026-06-30, 2026.6.30, 1-2次).
_CLAIM = re.compile(
    rf"(?P<verb>{_alternation(_VERBS)})\s*+(?P<num>(?>{_NUM}))(?![-/.~]\d)"
    rf"(?:\s*(?P<unit>{_alternation(_UNITS)}))?(?:\s*(?P<tail>{_alternation(_TAILS)}))?"
)
_LAST_PUNCT = re.compile(rf"[{_PUNCT}][^{_PUNCT}]*\Z")  # searched with an end position: the last one before it
_JOINER = re.compile(f"[{_JOINERS}]")
_BOUNDARY = re.compile(f"[{_PUNCT}{_JOINERS}]")  # what a subject may start right after
_LEAD_WORDS = ("确保", "保证", "力争", "实现", "全年", "年度", "预计", "其中", "使")


def _trim_subject(subject: str) -> str:
    start, changed = 0, True
    while changed:  # "确保全年…" has two lead words
        changed = False
        for word in _LEAD_WORDS:
            if subject.startswith(word, start) and len(subject) - start > len(word):
                start, changed = start + len(word), True
    return subject[start:]


def _is_date(number: Decimal, unit: str) -> bool:
    """A date in the text ("为2026年", "为6月"), not a quantity (durations are 个月, 3年)."""
    return unit == "月" or (unit == "年" and number == number.to_integral_value() and 1900 <= number <= 2199)


def extract_goal_targets(text: str) -> list[GoalTarget]:
    """The quantified targets stated in a 年度绩效目标 paragraph, in order.

    The subject runs from just after punctuation, a joining word (so "…85%以上和完成率达到100%"
    yields two targets) or the start, up to the verb; it never reaches back into the previous target.
    One pass over the text: each stretch is searched once, whatever its length.
    """
    half = to_halfwidth(text)  # keeps every character's position, so phrases are cut from the original
    found = []
    floor = 0  # a subject starts at or after the end of the previous target
    run_start, scanned = 0, 0  # just after the last punctuation before the verb; searched up to `scanned`
    joiner = -1  # the first joining word at or after `floor` (-1: not searched yet)
    for m in _CLAIM.finditer(half):
        verb_at = m.start()
        last = _LAST_PUNCT.search(half, scanned, verb_at)
        if last is not None:
            run_start = last.start() + 1
        scanned = verb_at
        if run_start >= floor:
            start = run_start
        elif _BOUNDARY.match(half, floor - 1):
            start = floor
        else:
            if joiner < floor:
                j = _JOINER.search(half, floor)
                joiner = j.start() if j else len(half)
            start = joiner + 1
        number, unit = Decimal(m["num"].replace(",", "")), m["unit"] or ""
        if start >= verb_at or _is_date(number, unit):
            continue  # no subject before the verb, or not a quantity
        verb, tail = m["verb"], m["tail"] or ""
        found.append(
            GoalTarget(
                phrase=text[start : m.end()],
                subject=_trim_subject(text[start:verb_at]),
                operator=_VERB_OPERATORS.get(verb) or _TAILS.get(tail) or ("≤" if verb == "控制在" else "="),
                number=number,
                unit=unit,
            )
        )
        floor = m.end()
    return found


_GENERIC_WORDS = ("系统", "设备", "使用", "有效", "项目", "的")


def _core(subject: str) -> str:
    """The key noun of a subject: 设备有效使用率 → "", 系统使用满意度 → 满意."""
    for word in _GENERIC_WORDS:
        subject = subject.replace(word, "")
    return subject.rstrip("率度性")


def same_subject(goal_subject: str, indicator_name: str, level2: str) -> bool:
    """Whether a target in the goal text and an indicator talk about the same thing (fuzzy)."""
    if "满意" in goal_subject:  # 满意率 / 满意度 / 群众满意 are all the satisfaction indicator
        return "满意" in indicator_name or "满意" in level2
    goal = _core(goal_subject)
    if len(goal) < 2:  # a lone character (or nothing) would match almost anything
        return False
    others = (_core(indicator_name), _core(level2))
    return any(len(other) >= 2 and (goal in other or other in goal) for other in others)
