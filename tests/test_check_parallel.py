"""`check` and `export` read in several worker processes: the same output, in the same order, as one."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cli_runner import invoke
from tests.helpers import filled
from xlform.export import declaration_dict, dumps_json, dumps_json_item, table_dicts, to_csv
from xlform.form.template import load_template
from xlform.review.result import FileResult, check_file, json_list, result_json, shown_export, shown_json
from xlform.writing.workbook import write_workbook


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    template = load_template("shanghai-2020")
    for i in range(9):
        d = filled("shanghai-2020", {"project.name": "" if i % 3 == 0 else f"项目{i}"})
        write_workbook(template, inbox / f"{i:02d}.xlsx", d)
    (inbox / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    return inbox


def test_json_made_in_pieces_is_the_json_of_the_list(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    results = [check_file(p) for p in sorted(inbox.iterdir())]
    results.append(FileResult("带\n换行.xlsx", error="第一行\n第二行", code="x"))
    assert json_list([shown_json(r) for r in results]) == dumps_json([result_json(r) for r in results])
    assert json_list([]) == dumps_json([])


def _standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


class _Level(enum.IntEnum):
    LOW = 1


class _Word(enum.StrEnum):
    OK = "通过"


_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from([_Level.LOW, _Word.OK]),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_PLAIN)
def test_the_json_text_is_the_standard_modules(value: Any) -> None:
    # Every JSON type, escapes, NaN and infinities, empty and nested containers, enum members: the same text
    # as json.dumps(indent=2), and as an item of a list the same lines two spaces in.
    assert dumps_json(value) == _standard(value)
    assert dumps_json_item(value) == "  " + _standard(value).replace("\n", "\n  ")


def test_what_is_not_plain_json_is_converted_or_refused_as_json_does() -> None:
    assert dumps_json({1: "a", None: [True], 2.5: {}}) == _standard({1: "a", None: [True], 2.5: {}})
    for bad in (Decimal("1.5"), {"a": {1, 2}}, [object()], {("k",): 1}):
        with pytest.raises(TypeError):
            dumps_json(bad)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps_json(loop)


def test_a_findings_dict_is_its_dataclass(tmp_path: Path) -> None:
    results = [check_file(p) for p in sorted(_inbox(tmp_path).iterdir())]
    findings = [f for r in results for f in r.findings]
    assert findings and all(f.to_dict() == asdict(f) for f in findings)
    assert [list(f.to_dict()) for f in findings[:1]] == [list(asdict(findings[0]))]


def test_check_with_two_jobs_prints_what_one_prints(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    for fmt in ("text", "json"):
        one = invoke(["check", str(inbox), "--format", fmt, "--jobs", "1"])
        two = invoke(["check", str(inbox), "--format", fmt, "--jobs", "2"])
        assert one.exit_code == two.exit_code == 2  # the .xls cannot be read
        assert one.stdout == two.stdout
    files = [r["file"] for r in json.loads(two.stdout)]
    assert [Path(f).name for f in files] == sorted(p.name for p in inbox.iterdir())
    assert sum(r["errors"] > 0 for r in json.loads(two.stdout)) == 3


def test_export_with_two_jobs_exports_what_one_exports(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    one = invoke(["export", str(inbox), "--jobs", "1"])
    two = invoke(["export", str(inbox), "--jobs", "2"])
    assert one.stdout == two.stdout and len(json.loads(two.stdout)) == 9
    # Flat exports: each file's rows made in its worker, the columns of all joined here.
    declarations = [r.declaration for r in map(check_file, sorted(inbox.glob("*.xlsx"))) if r.declaration is not None]
    for how, expected in ((["-f", "csv"], to_csv(declarations)),
                          (["-f", "csv", "--table", "indicators"], to_csv(declarations, "indicators")),
                          (["--table", "costs"], dumps_json(table_dicts(declarations, "costs")) + "\n")):
        one, two = (invoke(["export", str(inbox), *how, "--jobs", jobs]) for jobs in ("1", "2"))
        assert one.exit_code == two.exit_code == 2 and one.stdout == two.stdout == expected, how
    assert len(to_csv(declarations, "indicators").splitlines()) == 1 + sum(len(d.indicators) for d in declarations)


def test_export_json_made_in_the_workers_is_the_json_of_the_declarations(tmp_path: Path) -> None:
    """Each file's JSON is made where it was read; the whole is the text dumps_json writes of every declaration."""
    inbox = _inbox(tmp_path)
    out = tmp_path / "导出.json"
    result = invoke(["export", str(inbox), "-o", str(out), "--jobs", "2"])
    assert result.exit_code == 2 and "无法读取" in result.stderr and "old.xls" in result.stderr  # listed, not dropped
    expected = [declaration_dict(r.declaration) for r in map(check_file, sorted(inbox.glob("*.xlsx")))
                if r.declaration is not None]
    assert out.read_text(encoding="utf-8") == dumps_json(expected) + "\n"
    assert len(expected) == 9 and {d["project"]["name"] for d in expected} >= {"项目1", "项目2"}
    assert shown_export(FileResult("坏.xlsx", error="坏", code="x")).error == "坏"  # said on stderr, not exported


def test_a_file_outcome_crosses_processes_whole(tmp_path: Path) -> None:
    # What a report's worker sends back: its rows pickle as (class, values), and come back the same rows.
    import hashlib
    import pickle

    from xlform.collect.inbox import _Walk
    from xlform.collect.outcome import CostRow, FindingRow, IndicatorRow
    from xlform.collect.workers import collect_file

    inbox = _inbox(tmp_path)
    walk = _Walk([inbox])
    for path in sorted(inbox.iterdir()):
        sent = collect_file(walk.given(str(path)))
        back = pickle.loads(pickle.dumps([sent], protocol=pickle.HIGHEST_PROTOCOL))[0]
        assert back == sent
        for c in (c for c in back.items if c.outcome.readable):
            rows = [*c.outcome.indicators, *c.outcome.costs, *c.outcome.findings]
            assert rows and all(type(r) in (IndicatorRow, CostRow, FindingRow) for r in rows)
            # the key names the bytes read: the file's own digest, taken once
            assert c.key.split("|")[0] == hashlib.sha256(path.read_bytes()).hexdigest() == sent.sha256


def test_what_a_folder_holds_beside_the_returns_is_listed_as_ignored(tmp_path: Path) -> None:
    """check and export answer every file they were handed, as the report does: a temporary file is listed
    as ignored, never counted as unreadable (a lock file named on its own leaves nothing to check: exit 2, as
    for an empty folder)."""
    from tests.cli_runner import invoke

    folder = tmp_path / "收件"
    folder.mkdir()
    assert invoke(["example", "-o", str(folder / "区教育局.xlsx")]).exit_code == 0
    (folder / "Thumbs.db").write_bytes(b"\x00" * 64)
    (folder / "~$区教育局.xlsx").write_bytes(b"owner")
    text = invoke(["check", str(folder)])
    assert text.exit_code == 1, text.output  # the example has errors; nothing unreadable
    assert "文件：" + str(folder / "Thumbs.db") in text.stdout and "临时文件，已忽略" in text.stdout
    assert "合计：1 个文件" in text.stdout and "另有 2 个已忽略（临时文件 2 个）" in text.stdout
    as_json = invoke(["check", "--format", "json", str(folder)])
    assert as_json.exit_code == 1 and len(json.loads(as_json.stdout)) == 1
    assert as_json.stderr.count("已忽略") == 2 and "Thumbs.db：临时文件，已忽略" in as_json.stderr
    exported = invoke(["export", str(folder), "-o", str(tmp_path / "导出.json")])
    assert exported.exit_code == 0 and exported.stderr.count("已忽略") == 2, exported.output
    alone = invoke(["check", str(folder / "~$区教育局.xlsx")])  # named on its own: still a lock file
    assert alone.exit_code == 2 and "临时文件，已忽略" in alone.stdout and "1 个已忽略" in alone.stderr
