"""xlform: 财政项目支出绩效目标申报表 workbooks — generate, collect, check, summarise.

The library mirrors the command line:
    xlform.read(path) -> Declaration
    xlform.check(declaration) -> list[Finding]
    xlform.write_workbook(template, path, declaration=None) -> Identity
"""

__version__ = "0.1.0"

from .form.template import load_template
from .reading.reader import read
from .review.rules import check
from .writing.workbook import write_workbook

__all__ = ["__version__", "check", "load_template", "read", "write_workbook"]
