"""A finding: one thing a reviewer would send back, pointing at the cell to fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]
SEVERITY_LABEL = {"error": "错误", "warning": "提示"}


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
    def where(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
