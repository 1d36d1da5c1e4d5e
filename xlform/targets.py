"""目标值 notation: `≥95%`, `≤10次`, `≥ 1,000 人次`, `95%以上`, or words such as 及时.

Also finds the targets a clerk states in the 年度绩效目标 free text
("满意率达到85%以上") so a check can compare them with the indicators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .model import Target
from .values import clean_text, to_halfwidth

__all__ = ["GoalTarget", "extract_goal_targets", "format_target", "parse_target", "same_subject"]

# Applied after to_halfwidth, which already turns ＞＜＝％ into > < = %.
_OPERATORS = {">=": "≥", "<=": "≤", "≧": "≥", "≦": "≤", "≥": "≥", "≤": "≤", "=": "=", ">": ">", "<": "<"}
# Clerks often write the operator as a word ("不低于90%"); longest first so 大于等于 beats 大于.
_WORD_OPERATORS = {
    "大于等于": "≥", "不低于": "≥", "不少于": "≥",
    "小于等于": "≤", "不高于": "≤", "不超过": "≤", "不多于": "≤",
    "大于": ">", "高于": ">", "超过": ">", "小于": "<", "低于": "<", "等于": "=",
}  # fmt: skip
_TAILS = {"及以上": "≥", "以上": "≥", "及以下": "≤", "以下": "≤", "以内": "≤", "之内": "≤"}


def _alternation(words: Iterable[str]) -> str:
    # Longest first: a regex alternation takes the first branch that fits, so 人次 must precede 人.
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_TARGET = re.compile(
    rf"(?P<op>{_alternation([*_OPERATORS, *_WORD_OPERATORS])})?\s*(?P<num>{_NUM})\s*"
    # The unit is whatever non-numeric text follows; a digit there ("1-2次") means it is no simple target.
    rf"(?P<unit>[^\d]*?)\s*(?P<tail>{_alternation(_TAILS)})?"
)


def parse_target(raw: str | int | float | Decimal | None) -> Target:
    """Parse one 目标值 cell. Text with no readable number is qualitative."""
    text = clean_text(raw)
    if not text:
        return Target(raw="")
    m = _TARGET.fullmatch(to_halfwidth(text).strip())
    if not m:
        return Target(raw=text, qualitative=True)
    op = m["op"] or ""
    operator = _OPERATORS.get(op) or _WORD_OPERATORS.get(op, "")
    if not operator and m["tail"]:
        operator = _TAILS[m["tail"]]  # an explicit operator wins over a trailing 以上
    number = Decimal(m["num"].replace(",", ""))
    return Target(raw=text, operator=operator, number=number, unit=re.sub(r"\s+", "", m["unit"]))


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
    "%", "‰", "人次", "万人次", "万人", "万元", "元", "个", "天", "小时", "台", "套", "项", "家", "户", "人",
    "件", "年", "月", "日", "分钟", "分", "平方米", "公里", "千米", "米", "吨", "次", "场", "辆", "份", "篇", "所", "处",
]  # fmt: skip
_PUNCT = r"，。；、,;:：！？!?()（）“”\"\s"
# The subject starts right after punctuation, a joining word (so "…85%以上和完成率达到100%"
# yields two targets) or at the start, and runs up to the verb.
_GOAL = re.compile(
    rf"(?:(?<=[{_PUNCT}和及与并且])|^)(?P<subject>[^{_PUNCT}]+?)(?P<verb>{_alternation(_VERBS)})\s*"
    rf"(?P<num>{_NUM})(?:\s*(?P<unit>{_alternation(_UNITS)}))?(?:\s*(?P<tail>{_alternation(_TAILS)}))?"
)
_LEAD_WORDS = ("确保", "保证", "力争", "实现", "全年", "年度", "预计", "其中", "使")


def _trim_subject(subject: str) -> str:
    changed = True
    while changed:  # "确保全年…" has two lead words
        changed = False
        for word in _LEAD_WORDS:
            if subject.startswith(word) and len(subject) > len(word):
                subject, changed = subject[len(word) :], True
    return subject


def extract_goal_targets(text: str) -> list[GoalTarget]:
    """The quantified targets stated in a 年度绩效目标 paragraph, in order."""
    # to_halfwidth keeps every character's position, so phrases are cut from the original text.
    found = []
    for m in _GOAL.finditer(to_halfwidth(text)):
        verb, tail = m["verb"], m["tail"] or ""
        operator = _VERB_OPERATORS.get(verb) or _TAILS.get(tail) or ("≤" if verb == "控制在" else "=")
        found.append(
            GoalTarget(
                phrase=text[m.start() : m.end()],
                subject=_trim_subject(text[m.start("subject") : m.end("subject")]),
                operator=operator,
                number=Decimal(m["num"].replace(",", "")),
                unit=m["unit"] or "",
            )
        )
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
