"""The round remembers its template: a workbook names the digest of the exact YAML it was issued with,
and each return is read with that definition, wherever the reader finds it (-t, the manifest folder, the store)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import invoke
from tests.helpers import clean_sample
from xlform.form.layout import layout_for
from xlform.form.model import Declaration
from xlform.form.template import Template, parse_template, templates_dir
from xlform.issue.distribute import distribute
from xlform.issue.roster import Department
from xlform.reading.reader import Registry, read
from xlform.reading.refusals import Unreadable
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


def test_without_its_digest_the_template_of_the_same_layout_reads_a_return(tmp_path: Path) -> None:
    """Several templates of one id and version: the one whose layout matches the return's, not the last given."""
    path = filled(bureau(), tmp_path / "r.xlsx")
    same_layout, other_layout = edited_after_issue(), bureau(BUREAU.replace("  indicators: 20\n", "  indicators: 25\n"))
    assert layout_for(other_layout).fingerprint != layout_for(same_layout).fingerprint
    assert read(path, Registry([same_layout, other_layout])).source.template is same_layout
    with pytest.raises(Unreadable) as refused:  # only a template of another layout: refused, not misread
        read(path, Registry([other_layout]))
    assert refused.value.code == "unreadable.template_changed"


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


def test_a_relabelled_template_still_reads_returns_issued_before(tmp_path: Path) -> None:
    issued = bureau()
    edited = bureau(BUREAU.replace("  name: 项目名称\n", "  name: 项目全称\n", 1), "relabelled.yaml")
    d = read(filled(issued, tmp_path / "r.xlsx"), Registry([edited]))
    assert d.project.name == clean_sample().project.name
    assert [f.rule for f in d.source.findings] == ["structure.template_edited"]


# ---- the whole round on the command line: distribute with a bureau's YAML, then report and check ----------

ROSTER = "部门名称,部门编码\n区教育局,001\n区民政局,002\n区卫生健康委,003\n"


def _round(tmp_path: Path, text: str = BUREAU) -> tuple[Path, Path, Path]:
    """A bureau's YAML, the round distributed with it on the command line, and every form returned filled
    (the first with the category the bureau later drops). Returns (yaml, distribute folder, inbox)."""
    yaml_path, roster = tmp_path / "区财政局模板.yaml", tmp_path / "名单.csv"
    yaml_path.write_text(text, encoding="utf-8")
    roster.write_text(ROSTER, encoding="utf-8-sig")
    r = invoke(["distribute", roster, "-o", tmp_path / "下发", "-t", yaml_path, "--year", "2026"])
    assert r.exit_code == 0, r.output
    assert "下发模板_minhang-2026.yaml" in r.output and "--manifest" in r.output
    issued, inbox = tmp_path / "下发", tmp_path / "收件"
    template = bureau(text)
    for i, blank in enumerate(sorted(issued.glob("*.xlsx"))):
        d = clean_sample()
        d.identity = read(blank, Registry([template])).identity
        d.project.category = DROPPED if i == 0 else "一次性项目"
        inbox.mkdir(exist_ok=True)
        write_workbook(template, inbox / blank.name, d)
    return yaml_path, issued, inbox


def _summary(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def test_distribute_keeps_the_exact_template_beside_the_manifest(tmp_path: Path) -> None:
    from xlform.issue.distribute import manifest_templates, read_manifest

    text = BUREAU.replace("\n", "\r\n")  # exactly as written, line ends too: its digest is the workbooks'
    _, issued, _ = _round(tmp_path, text)
    copy = issued / "下发模板_minhang-2026.yaml"
    # the YAML exactly as written, then its indicator library (library_files:): the copy needs no other file
    assert copy.read_bytes().startswith(text.encode("utf-8")) and b"library_files:" in copy.read_bytes()
    assert copy.read_bytes() == bureau(text).text.encode("utf-8")
    rows = read_manifest(issued / "下发清单.csv")
    assert {(r.template_file, r.template_digest) for r in rows} == {(copy.name, bureau(text).digest)}
    [loaded] = manifest_templates(issued / "下发清单.csv")  # the CSV itself or its folder
    assert loaded.digest == bureau(text).digest == meta(issued / rows[0].file)["template_digest"]
    # Distributing into the same folder again would overwrite the copy: refused like the manifest.
    again = invoke(["distribute", tmp_path / "名单.csv", "-o", issued, "-t", tmp_path / "区财政局模板.yaml"])
    assert again.exit_code == 2 and "同名文件" in again.output


def test_report_with_only_the_manifest_reads_every_return(tmp_path: Path) -> None:
    _, issued, inbox = _round(tmp_path)
    (inbox / "下发模板_minhang-2026.yaml").write_bytes((issued / "下发模板_minhang-2026.yaml").read_bytes())
    out = tmp_path / "r.json"
    r = invoke(["report", inbox, "-o", out, "-f", "json", "--manifest", issued, "--jobs", "1"])
    summary = _summary(out)["summary"]
    assert (summary["returns"], summary["unreadable"], summary["ignored"]) == (3, 0, 1), r.output
    assert "已忽略下发模板副本 1 个" in r.output  # copied into the inbox with the returns: not a return
    checked = invoke(["check", inbox, "--manifest", issued / "下发清单.csv"])
    assert "3 个文件" in checked.output and "0 个无法读取" in checked.output, checked.output


def test_without_the_template_the_report_and_check_say_why_and_what_to_do(tmp_path: Path) -> None:
    _, issued, inbox = _round(tmp_path)
    r = invoke(["report", inbox, "-o", tmp_path / "r.xlsx", "--jobs", "1"])
    assert r.exit_code == 1
    assert "无法读取 3 个（模板不符 3 个）" in r.output
    assert "-t 模板文件" in r.output and "--manifest 下发文件夹" in r.output
    checked = invoke(["check", inbox])
    assert checked.exit_code == 2
    assert "3 个无法读取（模板不符 3 个）" in checked.output
    assert "-t 模板文件" in checked.output and "--manifest 下发文件夹" in checked.output
    # A damaged file is counted under its own reason, with no template hint.
    (inbox / "截断.xlsx").write_bytes(next(inbox.glob("*.xlsx")).read_bytes()[:3000])
    r = invoke(["check", inbox, "--manifest", issued])
    assert "1 个无法读取（文件损坏 1 个）" in r.output and "-t 模板文件" not in r.output, r.output


def test_the_store_remembers_the_template_for_runs_without_it(tmp_path: Path) -> None:
    yaml_path, issued, inbox = _round(tmp_path)
    db = tmp_path / "收件记录.db"
    first = invoke(["report", inbox, "-o", tmp_path / "a.json", "-f", "json", "--db", db, "-t", yaml_path])
    assert _summary(tmp_path / "a.json")["summary"]["unreadable"] == 0, first.output
    yaml_path.unlink()  # the bureau's file is gone; the store has the text
    late = clean_sample()  # arrives after the first run: read with the template the store recorded
    late.project.name = "新交的项目"
    late.identity = read(sorted(issued.glob("*.xlsx"))[1], Registry([bureau()])).identity
    write_workbook(bureau(), inbox / "晚交.xlsx", late)
    again = invoke(["report", inbox, "-o", tmp_path / "b.json", "-f", "json", "--db", db])
    summary = _summary(tmp_path / "b.json")["summary"]
    assert (summary["files"], summary["unreadable"]) == (4, 0), again.output
    assert "3 个文件未变" in again.output
    before = db.read_bytes(), db.stat().st_mtime_ns
    checked = invoke(["check", inbox, "--db", db])  # read only: the store stays as it was
    assert "0 个无法读取" in checked.output, checked.output
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    missing = invoke(["check", inbox, "--db", tmp_path / "无.db"])
    assert missing.exit_code == 2 and "找不到收件记录库" in missing.output and not (tmp_path / "无.db").exists()


def test_a_template_edited_after_distribution_still_reads_every_return_as_issued(tmp_path: Path) -> None:
    _, issued, inbox = _round(tmp_path)
    # The bureau edits its list and contact (a new path: load_template caches by path within one process).
    yaml_path = tmp_path / "区财政局模板（修改后）.yaml"
    yaml_path.write_text(edited_after_issue().text, encoding="utf-8")
    out = tmp_path / "r.json"
    for extra in (["-t", yaml_path, "--manifest", issued], ["--manifest", issued]):
        r = invoke(["report", inbox, "-o", out, "-f", "json", "--jobs", "1", *extra])
        doc = _summary(out)
        assert doc["summary"]["unreadable"] == 0, r.output
        assert not [f for f in doc["findings"] if f["rule"] == "choice.category"], extra
        assert DROPPED in {row["category"] for row in doc["returns"]}
    # Without the issued copy the edited template reads them (same layout); the dropped value is a finding.
    r = invoke(["report", inbox, "-o", out, "-f", "json", "--jobs", "1", "-t", yaml_path])
    doc = _summary(out)
    assert doc["summary"]["unreadable"] == 0, r.output
    assert [f["rule"] for f in doc["findings"] if f["rule"] == "choice.category"] == ["choice.category"]


def test_a_schema_4_store_gains_the_templates_table_and_keeps_its_results(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    from xlform.store import SCHEMA_VERSION

    yaml_path, _, inbox = _round(tmp_path)
    db = tmp_path / "收件记录.db"
    assert invoke(["report", inbox, "-o", tmp_path / "a.json", "-f", "json", "--db", db, "-t", yaml_path]).exit_code == 0
    with closing(sqlite3.connect(db)) as conn, conn:  # as schema 4 left it: everything but the templates table
        conn.execute("DROP TABLE templates")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
        history = conn.execute("SELECT COUNT(*) FROM returns").fetchone()
    # check --db reads a schema 4 store as it is (no templates recorded yet) and leaves it at schema 4.
    checked = invoke(["check", inbox, "--db", db])
    assert "3 个无法读取（模板不符 3 个）" in checked.output, checked.output
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
    again = invoke(["report", inbox, "-o", tmp_path / "b.json", "-f", "json", "--db", db, "-t", yaml_path])
    # Schema 6 reads every file again (results of schema 4 lack what a template adds); the history stays.
    assert "读取申报表 3 份" in again.output, again.output
    assert _summary(tmp_path / "b.json") == _summary(tmp_path / "a.json")
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT COUNT(*) FROM returns").fetchone() == history
        assert conn.execute("SELECT id, version, digest FROM templates").fetchall() == [
            ("minhang-2026", bureau().version, bureau().digest)]
    # From now on the store reads the round by itself.
    third = invoke(["report", inbox, "-o", tmp_path / "c.json", "-f", "json", "--db", db])
    assert _summary(tmp_path / "c.json")["summary"]["unreadable"] == 0, third.output
