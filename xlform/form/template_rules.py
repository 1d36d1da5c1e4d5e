"""The rules part of a template: a bureau's own rules (`rules:`) and settings of the built-in ones
(`builtin_rules:`), checked and compiled once, when the template is loaded.

A bureau rule is a condition in the expression language (form/expr.py) with an id, a severity, a title
and a message; the reviewer's check evaluates it on every return and the workbook shows it live on 校验.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .expr import Compiled, Env, ExprError, Message, compile_expr, compile_message
from .fields import Column, Field

if TYPE_CHECKING:  # the template's validator lends its way of naming problems
    from .template import Template, _Validator

RULE_KEYS = ("title", "check", "when", "message", "severity", "cell", "live")
SETTING_KEYS = ("enabled", "severity")
# How a template may write a severity: the code's word or the one the report prints.
SEVERITIES = {"error": "error", "warning": "warning", "错误": "error", "提示": "warning"}
CUSTOM_PREFIX = "custom."  # a bureau rule's finding id: custom.<id>
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class BureauRule:
    key: str  # as written in the template; findings carry CUSTOM_PREFIX + key
    severity: str  # "error" or "warning"
    title: str
    check: Compiled  # true when the return passes
    when: Compiled | None  # the rule applies only where this is true
    message: Message  # with {expression} placeholders filled from the return
    cell: str  # where a finding points: a field key or table.column ("" : the first one the check names)
    live: bool = True  # also a live check on the workbook's 校验 sheet

    @property
    def id(self) -> str:
        return CUSTOM_PREFIX + self.key


@dataclass(frozen=True)
class RuleSetting:
    """A built-in rule as a template configures it."""

    enabled: bool = True
    severity: str = ""  # "" : the catalogue's
    params: dict[str, Any] = field(default_factory=dict)  # thresholds, by the names the rule declares


def expression_env(fields: tuple[Field, ...], column_defs: dict[str, dict[str, Column]],
                   labels: dict[str, str], headers: dict[str, dict[str, str]]) -> Env:
    """The names a template's expressions may use: its fields, and each table's columns."""
    names = {f.key: labels.get(f.key, f.key) for f in fields}
    for table, cols in headers.items():
        names |= {f"{table}.{key}": f"{labels.get(table, table)}·{header}" for key, header in cols.items()}
        names[table] = labels.get(table, table)
    return Env(fields={f.key: f.kind for f in fields},
               tables={t: {k: c.kind for k, c in cols.items()} for t, cols in column_defs.items()},
               labels=names)


@functools.cache
def template_env(template: Template) -> Env:
    """The names a loaded template's expressions may use (built-in live checks compile against it)."""
    return expression_env(template.fields, template.column_defs, template.labels, template.columns)


def bureau_rules(v: _Validator, section: dict[str, Any], env: Env) -> tuple[BureauRule, ...]:
    found = (v.attempt(lambda key=key, spec=spec: _bureau_rule(v, str(key), spec, env), None)
             for key, spec in section.items())
    return tuple(r for r in found if r is not None)


def _bureau_rule(v: _Validator, key: str, spec: Any, env: Env) -> BureauRule:
    path = f"rules.{key}"
    if not _RULE_ID.match(key):
        raise v.fail(path, "的键只能用小写字母开头，含小写字母、数字和下划线，如 split_sum。")
    if not isinstance(spec, dict):
        raise v.fail(path, "应为映射，如 {title: …, check: a + b = c, message: …}。")
    v.known_keys(spec, RULE_KEYS, path)
    severity = _severity(v, spec, f"{path}.severity") or "error"
    check = _compiled(v, spec, "check", path, env, required=True)
    assert check is not None
    when = _compiled(v, spec, "when", path, env, required=False)
    title = v.text(spec, "title", f"{path}.title")
    text = v.text(spec, "message", f"{path}.message", empty_ok=True) or title
    try:
        message = compile_message(text, env)
    except ExprError as exc:
        raise v.fail(f"{path}.message", f"中的占位符有误：{exc}") from None
    cell = v.text(spec, "cell", f"{path}.cell", empty_ok=True)
    if cell and cell not in env.fields and not _is_column(cell, env):
        raise v.fail(f"{path}.cell", f"“{cell}”不是表上的字段或 表.列（可用字段：{'、'.join(env.fields)}）。")
    if not cell and not check.fields and not check.columns:
        raise v.fail(f"{path}.cell", "缺失：条件没有提到字段，请写明问题指向哪个字段或 表.列。")
    live = v.flag(spec, "live", f"{path}.live") if "live" in spec else True
    return BureauRule(key, severity, title, check, when, message, cell, live)


def _is_column(name: str, env: Env) -> bool:
    table, _, column = name.partition(".")
    return column in env.tables.get(table, {})


def _compiled(v: _Validator, spec: dict[str, Any], key: str, path: str, env: Env, *, required: bool) -> Compiled | None:
    text = v.text(spec, key, f"{path}.{key}", empty_ok=not required)
    if not text:
        return None
    try:
        return compile_expr(text, env)
    except ExprError as exc:
        raise v.fail(f"{path}.{key}", f"“{text}”：{exc}") from None


def _severity(v: _Validator, spec: dict[str, Any], path: str) -> str:
    key = path.rsplit(".", 1)[1]
    if key not in spec:
        return ""
    word = v.text(spec, key, path)
    if word not in SEVERITIES:
        raise v.fail(path, f"应为 {'、'.join(SEVERITIES)} 之一。")
    return SEVERITIES[word]


def rule_settings(v: _Validator, section: dict[str, Any]) -> dict[str, RuleSetting]:
    """`builtin_rules:` rule id → {enabled, severity, thresholds}, checked against the catalogue."""
    from ..review.rules import CATALOGUE  # the catalogue is defined above the form layer; asked only here

    def setting(rule_id: str, spec: Any) -> RuleSetting:
        path = f"builtin_rules.{rule_id}"
        declared = CATALOGUE.get(rule_id)
        if declared is None:
            raise v.fail(path, "不是内置规则（xlform rules 列出全部；自定义规则写在 rules 里）。")
        if not isinstance(spec, dict):
            raise v.fail(path, "应为映射，如 {enabled: false} 或 {severity: warning}。")
        params = dict(declared.params)
        v.known_keys(spec, SETTING_KEYS + tuple(params), path)
        enabled = v.flag(spec, "enabled", f"{path}.enabled") if "enabled" in spec else True
        for name, default in declared.params:
            value = spec.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise v.fail(f"{path}.{name}", f"应为不小于 0 的数（默认 {default}）。")
            params[name] = value
        return RuleSetting(enabled, _severity(v, spec, f"{path}.severity"), params)

    found = {str(k): v.attempt(lambda k=k, spec=spec: setting(str(k), spec), None) for k, spec in section.items()}
    return {k: s for k, s in found.items() if s is not None}
