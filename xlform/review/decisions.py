"""A reviewer's decision on one return, as typed into the report's 审核 sheet and kept in the store.

A decision belongs to one version of a form (its item key): a return that supersedes it starts
undecided, and the history of every decision stays in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """审核结论, as the 审核 sheet's dropdown offers it."""

    PASS = "通过"
    RETURN = "退回修改"
    REJECT = "不予支持"


# 财预〔2015〕88号 grades a target 优 / 良 / 中 / 差; 中 goes back to the department and is reviewed again.
GRADES = ("优", "良", "中", "差")


@dataclass(frozen=True)
class Decision:
    form_id: str
    item_key: str  # the version decided on (store returns.item_key)
    verdict: Verdict
    grade: str = ""  # one of GRADES, "" when the template does not grade
    opinion: str = ""  # 审核意见
    indicator_opinions: tuple[tuple[int, str], ...] = ()  # (indicator's sheet row, 指标审核意见)
    reviewer: str = ""  # who (the report file's last author, else the user running review)
    decided_at: str = ""  # when (ISO, seconds)
    source: str = ""  # the report file it was read from (sha256)
    department: str = ""
    project: str = ""

    def same_decision(self, other: Decision) -> bool:
        """The same judgement again (a report read twice): not a new entry in the history."""
        return (self.form_id, self.item_key, self.verdict, self.grade, self.opinion, self.indicator_opinions) == (
            other.form_id, other.item_key, other.verdict, other.grade, other.opinion, other.indicator_opinions)


@dataclass(frozen=True)
class Package:
    """A return package written back to a department (`xlform feedback`)."""

    form_id: str
    item_key: str  # the version it answers
    department: str
    path: str
    sha256: str
    written_at: str
    findings: int = 0  # findings it sends back
