"""Each built-in template's blank form as text (tests/form_text.py), compared with the committed snapshot.

A changed layout, label, validation or print setting shows here as a unified diff to read and, if meant,
accept: `XLFORM_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py` rewrites tests/snapshots/.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import openpyxl
import pytest

from tests.form_text import workbook_text
from xlform.form.template import builtin_ids, load_template
from xlform.writing.workbook import write_workbook

SNAPSHOTS = Path(__file__).parent / "snapshots"
YEAR = 2025  # a fixed year: prompts and date ranges name it, the default would follow the calendar


def blank_text(template_id: str, folder: Path) -> str:
    path = folder / f"{template_id}.xlsx"
    write_workbook(load_template(template_id), path, None, year=YEAR)
    return workbook_text(path)


@pytest.mark.parametrize("template_id", builtin_ids())
def test_blank_form_matches_its_snapshot(template_id: str, tmp_path: Path) -> None:
    got = blank_text(template_id, tmp_path)
    snapshot = SNAPSHOTS / f"{template_id}.txt"
    if os.environ.get("XLFORM_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(got, encoding="utf-8")
    want = snapshot.read_text(encoding="utf-8") if snapshot.exists() else ""
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), got.splitlines(keepends=True),
                                            f"tests/snapshots/{template_id}.txt", "written now"))
        pytest.fail(f"the blank {template_id} form changed (XLFORM_UPDATE_SNAPSHOTS=1 accepts it):\n{diff}",
                    pytrace=False)


def test_snapshot_text_is_the_same_for_two_writes(tmp_path: Path) -> None:
    """Nothing that differs between runs (form id, time written) reaches the text."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert blank_text("shanghai-2020", tmp_path / "a") == blank_text("shanghai-2020", tmp_path / "b")


def test_a_changed_label_shows_in_the_diff(tmp_path: Path) -> None:
    """The snapshot is fine-grained enough to see one label of one sheet change."""
    path = tmp_path / "f.xlsx"
    write_workbook(load_template("shanghai-2020"), path, None, year=YEAR)
    before = workbook_text(path)
    wb = openpyxl.load_workbook(path)
    ws = wb[load_template("shanghai-2020").sheets["project"]]
    ws["A4"].value = "改过的标签"
    wb.save(path)
    changed = [line for line in difflib.unified_diff(before.splitlines(), workbook_text(path).splitlines(), lineterm="")
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and changed[0].startswith("-A4: ") and changed[1] == "+A4: 改过的标签", changed
