"""The README lists the whole rule catalogue and every refusal code, so the docs cannot fall behind the code."""

from __future__ import annotations

from tests.conftest import ROOT
from xlform.reading.refusals import CATALOGUE as REFUSALS
from xlform.readme_tables import updated
from xlform.review.rules import catalogue


def test_readme_lists_every_rule() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- rules:start -->")[1].split("<!-- rules:end -->")[0]
    listed = {line.split("`")[1] for line in block.splitlines() if line.startswith("| `")}
    assert listed == {rule_id for rule_id, *_ in catalogue()}


def test_readme_tables_are_the_catalogues() -> None:
    """Both tables are what `python -m xlform.readme_tables README.md` writes: titles, severities and wording too."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert updated(readme) == readme


def test_readme_lists_every_refusal_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- refusals:start -->")[1].split("<!-- refusals:end -->")[0]
    listed = [line.split("`")[1] for line in block.splitlines() if line.startswith("| `")]
    assert listed == list(REFUSALS) and len(set(listed)) == len(listed)


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line for line in lines[:6] if line.startswith(("pip ", "python "))]
    assert commands[0].startswith("pip install . && xlform demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = commands[1].split("#")[0].strip()
    assert test_command in ci  # CI runs exactly the README's test command
