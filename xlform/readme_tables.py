"""The README's tables made from the code's catalogues, so the two cannot drift apart.

`python -m xlform.readme_tables README.md` rewrites each table between its markers; tests/test_docs.py
checks that the README holds what this would write.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from .reading import refusals
from .review import rules

TABLES: dict[str, Callable[[], str]] = {"rules": rules.markdown, "refusals": refusals.markdown}


def updated(readme: str) -> str:
    """The README text with every table between <!-- name:start --> and <!-- name:end --> made afresh."""
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        readme = f"{head}{start}{table()}\n{end}{tail}"
    return readme


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        path.write_text(updated(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
