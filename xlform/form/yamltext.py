"""YAML text (templates, indicator libraries) to plain data: PyYAML's C parser where it is built in.

The pure-Python parser takes a fifth of a second per built-in template, and every command that reads
returns loads all of them (current and previous versions, their libraries); libyaml does the same in a
hundredth. Both build only plain types (SafeLoader), and the errors they raise are the same classes.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """The data of one YAML document; yaml.YAMLError, RecursionError or ValueError as yaml.safe_load raises them."""
    return yaml.load(text, Loader=_LOADER)
