"""xlform: 财政项目支出绩效目标申报表 workbooks — generate, collect, check, summarise.

The library mirrors the command line:
    xlform.read(path, templates=[...]) -> Declaration   (templates: a bureau's own, beside the built-ins)
    xlform.check(declaration) -> list[Finding]
    xlform.write_workbook(template, path, declaration=None) -> Identity
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each name is imported when first used: a command that only reads never loads the writer (xlsxwriter),
# and `import xlform` stays cheap for a script that needs one function.
_API = {"load_template": ".form.template", "read": ".reading.reader", "Registry": ".reading.reader",
        "check": ".review.rules", "write_workbook": ".writing.workbook"}

if TYPE_CHECKING:
    from .form.template import load_template
    from .reading.reader import Registry, read
    from .review.rules import check
    from .writing.workbook import write_workbook

__all__ = ["Registry", "__version__", "check", "load_template", "read", "write_workbook"]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'xlform' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
