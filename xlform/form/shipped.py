"""The templates shipped with xlform: where they live, their ids and the default one.

Kept apart from template.py (the parser and its checks) so that a command that only needs to name
the built-ins — the help text, a usage error, an unchanged report — does not load the parser.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

DEFAULT_TEMPLATE = "shanghai-2020"


def templates_dir() -> Traversable:
    """Where the built-in templates live: package data when installed, ../templates in a checkout."""
    try:
        return resources.files("xlform.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "templates"  # xlform/form/shipped.py → templates/


def builtin_ids() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in templates_dir().iterdir() if p.name.endswith(".yaml"))
