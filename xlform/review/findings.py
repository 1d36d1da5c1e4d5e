"""A finding: one thing a reviewer would send back, pointing at the cell to fix."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from ..form.values import clean_text

Severity = Literal["error", "warning"]
SEVERITY_LABEL = {"error": "错误", "warning": "提示"}
SHOWN_LIMIT = 200  # characters of a cell's text a finding quotes


def shown(value: object) -> str:
    """A value as a finding quotes it (its `value` and its message alike): the text, cut with “…” when long."""
    text = clean_text(value)
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 1] + "…"


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id from the catalogue (checks.py) or the reader (reader.py)
    severity: Severity
    sheet: str
    cell: str  # A1 style, "" when the finding is about the whole file or sheet
    field: str  # the form's label for what is wrong
    value: str  # what was found, as text
    message: str  # what is wrong and what to do, in Chinese

    @property
    def text(self) -> str:
        """The message as one line for a person: the value found is added only where the message does not name it."""
        if not self.value or self.value in self.message:
            return self.message
        return f"{self.message}（现为：{self.value}）"

    @property
    def where(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def to_dict(self) -> dict[str, str]:
        # Every field is a str: dataclasses.asdict would deep-copy each one, five times as slow.
        return {name: getattr(self, name) for name in _FINDING_FIELDS}


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
