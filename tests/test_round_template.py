"""The round remembers its template: a workbook names the digest of the exact YAML it was issued with,
and each return is read with that definition, wherever the reader finds it (-t, the manifest folder, the store)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import clean_sample
from xlform.form.layout import layout_for
from xlform.form.model import Declaration
from xlform.form.template import Template, parse_template, templates_dir
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.reading.package import Unreadable
from xlform.reading.reader import Registry, read
from xlform.writing.workbook import write_workbook

BUILTIN = templates_dir().joinpath("shanghai-2020.yaml").read_text(encoding="utf-8")
# A bureau's copy of the built-in: its own id, otherwise the same form.
BUREAU = BUILTIN.replace("id: shanghai-2020", "id: minhang-2026", 1)
DROPPED = "中期预算试点项目"  # a category the bureau drops from its list after distribution


def bureau(text: str = BUREAU, source: str = "bureau.yaml") -> Template:
    return parse_template(text, source)


def edited_after_issue() -> Template:
    """The bureau's template edited after distribution where the layout fingerprint does not look: a
    choice list and the help contact."""
    text = (BUREAU.replace(f", {DROPPED}]", "]", 1)
            .replace("help_contact: 如有疑问，请联系区财政局预算科。", "help_contact: 如有疑问，请拨打 64120000。", 1))
    assert text != BUREAU
    return bureau(text, "bureau-edited.yaml")


def meta(path: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path)["_meta"]
    return {str(r[0].value): str(r[1].value or "") for r in ws.iter_rows()}


def filled(template: Template, path: Path, category: str = "一次性项目") -> Path:
    d = clean_sample()
    d.project.category = category
    write_workbook(template, path, d)
    return path


def test_the_written_and_the_distributed_workbook_name_their_template_digest(tmp_path: Path) -> None:
    t = bureau()
    assert len(t.digest) == 64
    write_workbook(t, tmp_path / "new.xlsx", Declaration())
    assert meta(tmp_path / "new.xlsx")["template_digest"] == t.digest
    result = distribute([Department("区教育局"), Department("区民政局")], tmp_path / "out", t)
    for item in result.issued:  # stamped copies of one prebuilt workbook: the digest is in every one
        values = meta(result.folder / item.file)
        assert values["template_digest"] == t.digest and values["department"] == item.department
        assert values["form_id"] == item.form_id
    assert read(result.folder / result.issued[0].file, Registry([t])).identity.template_digest == t.digest


@pytest.mark.parametrize("order", ["issued first", "edited first"])
def test_a_return_is_read_with_the_definition_it_was_issued_with(tmp_path: Path, order: str) -> None:
    issued, edited = bureau(), edited_after_issue()
    assert layout_for(issued).fingerprint == layout_for(edited).fingerprint
    path = filled(issued, tmp_path / "r.xlsx", category=DROPPED)
    registry = Registry([issued, edited] if order == "issued first" else [edited, issued])
    d = read(path, registry)
    assert d.source.template is issued
    assert d.project.category == DROPPED
    from xlform.review.rules import check

    assert [f.rule for f in check(d) if f.rule == "choice.category"] == []
    # With only the edited template the (id, version) fallback reads it, and the dropped value is a finding.
    alone = read(path, Registry([edited]))
    assert alone.source.template is edited
    assert [f.rule for f in check(alone) if f.rule == "choice.category"] == ["choice.category"]
    assert not [f for f in alone.source.findings if f.rule == "structure.template_edited"]  # no label differs


def test_registry_takes_yaml_text_and_refuses_an_unknown_template(tmp_path: Path) -> None:
    path = filled(bureau(), tmp_path / "r.xlsx")
    with pytest.raises(Unreadable) as refused:
        read(path, Registry())
    assert refused.value.code == "unreadable.template_unknown"
    registry = Registry()
    registry.register_text(BUREAU, "收件记录库中的模板")
    assert read(path, registry).source.template.digest == bureau().digest


def _with_fingerprint(path: Path, old: str, new: str) -> None:
    """The file's _meta fingerprint replaced: what a template edit the fingerprint does not see leaves."""
    data = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                assert body.count(old.encode()) == 1
                body = body.replace(old.encode(), new.encode())
            dst.writestr(info, body)
    path.write_bytes(out.getvalue())


def test_a_label_edited_after_issue_is_read_with_one_warning(tmp_path: Path) -> None:
    """Once the fingerprint no longer covers labels, a relabelled template keeps its fingerprint; here the
    return's _meta is given the edited template's fingerprint to stand for that."""
    issued = bureau()
    edited = bureau(BUREAU.replace("  name: 项目名称\n", "  name: 项目全称\n", 1)
                    .replace("    amount: 金额\n", "    amount: 金额（元）\n"), "relabelled.yaml")
    assert edited.labels["name"] == "项目全称"
    path = filled(issued, tmp_path / "r.xlsx")
    _with_fingerprint(path, layout_for(issued).fingerprint, layout_for(edited).fingerprint)
    d = read(path, Registry([edited]))
    assert d.project.name == clean_sample().project.name
    rules = [f.rule for f in d.source.findings]
    assert "structure.label_mismatch" not in rules
    [warning] = [f for f in d.source.findings if f.rule == "structure.template_edited"]
    assert warning.severity == "warning"
    assert "“项目名称”（现模板为“项目全称”）" in warning.message
    # A workbook that names no digest (issued before digests) gets no such tolerance.
    plain = filled(issued, tmp_path / "plain.xlsx")
    _with_fingerprint(plain, layout_for(issued).fingerprint, layout_for(edited).fingerprint)
    _with_fingerprint(plain, issued.digest, "")
    rules = [f.rule for f in read(plain, Registry([edited])).source.findings]
    assert "structure.label_mismatch" in rules and "structure.template_edited" not in rules


@pytest.mark.xfail(strict=False, reason="the layout fingerprint still covers labels until form/layout.py "
                                        "is rewritten; then a relabelled template keeps its fingerprint")
def test_a_relabelled_template_still_reads_returns_issued_before(tmp_path: Path) -> None:
    issued = bureau()
    edited = bureau(BUREAU.replace("  name: 项目名称\n", "  name: 项目全称\n", 1), "relabelled.yaml")
    d = read(filled(issued, tmp_path / "r.xlsx"), Registry([edited]))
    assert d.project.name == clean_sample().project.name
    assert [f.rule for f in d.source.findings] == ["structure.template_edited"]
