"""A template or library is an untrusted file too: hostile YAML is one Chinese line, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import invoke
from xlform.form.template import TemplateError, parse_template

HOSTILE = {
    "nested": "[" * 50_000 + "]" * 50_000,
    "huge_number": "id: x\nversion: " + "9" * 20_000 + "\n",
    "alias_bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9)),
    "broken": "id: [unclosed\n",
    "not_a_mapping": "- just\n- a list\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_one_clear_error(case: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(HOSTILE[case], "本局模板.yaml")
    assert "本局模板.yaml" in str(err.value)
    path = tmp_path / "本局模板.yaml"
    path.write_text(HOSTILE[case], encoding="utf-8")
    run = invoke(["template", "check", str(path)])
    assert run.exit_code == 1 and "Traceback" not in run.output and "模板" in run.output
