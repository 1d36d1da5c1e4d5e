"""YAML text (templates, indicator libraries) to plain data: PyYAML's C parser where it is built in.

The pure-Python parser takes a fifth of a second per built-in template, and every command that reads
returns loads all of them (current and previous versions, their libraries); libyaml does the same in a
hundredth. Both build only plain types (SafeLoader), and the errors they raise are the same classes.
"""

from __future__ import annotations

from typing import Any

import yaml

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(yaml.YAMLError):
    """A key written twice in one mapping: YAML keeps the last silently, so a second `choices:` block pasted
    at the end of a template would replace the first, and the problem shown would be keys "missing"."""

    def __init__(self, key: str, first_line: int, line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.first_line, self.line = key, first_line, line

    def __str__(self) -> str:
        return (f"键“{self.key}”在第 {self.first_line} 行和第 {self.line} 行各写了一次（后一处会整个顶替前一处）；"
                "请合并为一处")


class _Loader(_BASE):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                key = (key_node.tag, key_node.value)  # 1 and "1" are two keys
                if key in seen:
                    raise DuplicateKey(key_node.value, seen[key], line)
                seen[key] = line
        return super().construct_mapping(node, deep)


def load_yaml(text: str, allow_duplicates: bool = False) -> Any:
    """The data of one YAML document; yaml.YAMLError (DuplicateKey for a key written twice in one mapping,
    unless `allow_duplicates`: then the last one counts, as YAML has it), RecursionError or ValueError as
    yaml.safe_load raises them."""
    return yaml.load(text, Loader=_BASE if allow_duplicates else _Loader)
