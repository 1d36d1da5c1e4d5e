"""Every reason a file is not read has a stable code, and every rule a finding names is in the catalogue."""

from __future__ import annotations

import csv
import json
import pickle
import re
from pathlib import Path

import openpyxl

from tests.cli_runner import invoke
from tests.hostile import corpus
from xlform.reading import refusals as R
from xlform.reading.package import open_package
from xlform.reading.refusals import CATALOGUE, Unreadable
from xlform.report.run import make_report
from xlform.review.result import check_file
from xlform.review.rules import CATALOGUE as RULES_CATALOGUE
from xlform.review.rules import RULES, catalogue


def test_each_refusal_has_a_code_a_chinese_title_and_a_chinese_sentence() -> None:
    assert len(CATALOGUE) >= 44
    for code, refusal in CATALOGUE.items():
        assert refusal.code == code and re.fullmatch(r"(unreadable|ignored)\.[a-z0-9_]+", code), code
        assert re.search(r"[\u4e00-\u9fff]", refusal.title) and re.search(r"[\u4e00-\u9fff]", refusal.template), code


def test_unreadable_carries_its_code_across_processes() -> None:
    """Workers send results back pickled: the code must survive the trip, the sentence too."""
    exc = Unreadable(R.TOO_LARGE, mb=60.4)
    back = pickle.loads(pickle.dumps(exc))
    assert (str(back), back.code) == ("文件过大（60 MB），申报表通常不到 1 MB，请确认是否选错文件。", "unreadable.too_large")


def test_the_reader_raises_each_refusal_with_its_code(tmp_path: Path) -> None:
    for make, refusal in [(corpus.empty, R.EMPTY), (corpus.encrypted, R.ENCRYPTED), (corpus.legacy_xls, R.LEGACY_FORMAT),
                          (corpus.zip_bomb_ratio, R.ZIP_BOMB), (corpus.xml_bomb_sheet, R.XML_ENTITIES),
                          (corpus.sheet_deleted, R.SHEET_MISSING), (corpus.not_our_form, R.NOT_ISSUED)]:
        folder = tmp_path / make.__name__
        folder.mkdir()
        r = check_file(make(folder))
        assert (r.code, r.readable) == (refusal.code, False), (make.__name__, r.error)
    try:
        open_package(tmp_path / "x.xlsx", b"")
    except Unreadable as exc:
        assert exc.code == R.EMPTY.code and str(exc) == R.EMPTY.template
    assert check_file(corpus.write_return(tmp_path / "ok.xlsx")).code == ""  # read: no code


def test_check_json_gives_the_code_beside_the_error(tmp_path: Path) -> None:
    good = corpus.write_return(tmp_path / "ok.xlsx")
    bad = corpus.legacy_xls(tmp_path)
    r = invoke(["check", "-f", "json", str(good), str(bad)])
    doc = {Path(d["file"]).name: d for d in json.loads(r.stdout)}
    assert doc[good.name]["code"] == "" and doc[good.name]["error"] == ""
    assert doc[bad.name]["code"] == "unreadable.legacy_format" and doc[bad.name]["error"] == R.LEGACY_FORMAT.template
    keys = list(doc[bad.name])
    assert keys[-2:] == ["error", "code"]  # added at the end, the keys before unchanged


def test_the_report_lists_code_and_title_of_each_unread_file(tmp_path: Path) -> None:
    inbox = tmp_path / "收件"
    inbox.mkdir()
    corpus.write_return(inbox / "好.xlsx")
    corpus.encrypted(inbox)
    (inbox / "说明.pdf").write_bytes(b"%PDF-1.4")
    expected = {"加密.xlsx": R.ENCRYPTED, "说明.pdf": R.NOT_SPREADSHEET}

    make_report([inbox], tmp_path / "r.json", fmt="json", jobs=1)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    rows = {Path(u["file"]).name: u for u in doc["unreadable"]}
    assert {n: (u["code"], u["code_title"]) for n, u in rows.items()} == {
        n: (r.code, r.title) for n, r in expected.items()}
    assert list(next(iter(rows.values())))[:3] == ["file", "reason", "received"]  # existing keys first, in order

    make_report([inbox], tmp_path / "r.csv", fmt="csv", jobs=1)
    with open(tmp_path / "r_未读取文件.csv", encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["文件", "原因", "收到时间", "原因类别", "原因代码", "部门", "表单编号"]  # new columns at the end
    assert {Path(row[0]).name: (row[3], row[4]) for row in table[1:]} == {
        n: (r.title, r.code) for n, r in expected.items()}

    make_report([inbox], tmp_path / "r.xlsx", jobs=1)
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["未读取文件"]
    # The title beside the reason, then whose file it is; the technical columns at the right.
    assert [c.value for c in ws[1]] == ["文件", "原因", "原因类别", "收到时间", "部门", "原因代码", "表单编号"]


def test_every_rule_a_finding_names_is_in_the_catalogue(tmp_path: Path) -> None:
    """Reader rules (kind.*, structure.*) and report rules (round.*) are declared like the others: the
    finding takes its id and severity from the declared rule."""
    ids = [rule_id for rule_id, *_ in catalogue()]
    assert len(ids) == len(set(ids)) == len(RULES_CATALOGUE)
    assert {r.id for r in RULES} < set(ids)
    assert {"kind.money", "structure.macros", "round.not_issued"} <= set(ids)
    r = check_file(corpus.with_macros(tmp_path))
    severities = {rule_id: severity for rule_id, severity, *_ in catalogue()}
    assert r.findings and all(severities[f.rule] == f.severity for f in r.findings)
    assert "structure.macros" in {f.rule for f in r.findings}
