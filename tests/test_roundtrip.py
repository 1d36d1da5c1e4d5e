"""write(declaration) then read gives the same declaration back, for generated declarations.

Generated text is awkward on purpose: leading = + - @ (formula triggers), links,
quotes, newlines and tabs, emoji, full-width characters, XML-looking text,
Excel's own _xHHHH_ escapes, thousands of characters. Two things are excluded,
because no workbook can carry them and the reader documents them:
- control characters other than \\n and \\t (XML 1.0 cannot store them; \\r
  is normalised away by XML parsers);
- blanks around a text: the reader strips them (clean_text), so generated text
  is stripped the same way before it is written.
For mof-2021 the reader folds the 计算符号 / 计量单位 columns into a target that
lacks them; generated national indicators are already in that folded form.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers import sheet_names
from xlform.form.model import Activity, CostItem, Declaration, Footer, Funding, Guarantee, Identity, Indicator, Project
from xlform.form.targets import parse_target
from xlform.form.template import load_template
from xlform.reading.reader import read
from xlform.writing.workbook import write_workbook

TEMPLATES = ["shanghai-2020", "mof-2021"]
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def stripped(text: str) -> str:
    """What the reader keeps of a text: no surrounding blanks or zero-width characters."""
    while True:
        shorter = text.strip().strip(_INVISIBLE)
        if shorter == text:
            return text
        text = shorter


# No Cc (controls, incl. \r), Cs (lone surrogates), Cn (unassigned, incl. U+FFFE/U+FFFF): not storable in XML.
_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Cn")) | st.sampled_from("\n\t")
_PIECES = st.sampled_from([
    "=", "=SUM(A1:A3)", "+", "+86 21", "-", "-1", "@", "@SUM(1)", "http://example.com/a?b=1&c=2",
    "https://www.shanghai.gov.cn", "mailto:x@y.cn", "'", "''", '"', "“引号”", "「」", "\n", "\t", "😀", "👨‍👩‍👧",
    "ＡＢＣ１２３", "２３２１２４", "　", "_x000D_", "_x0041_", "<b>&amp;</b>", "]]>", "232,124.00", "1E5",
    "0012", "TRUE", "#N/A", "100%", "≥95%", "满意率达到85%以上", "沪闵路6258号", "🀄", "\u00a0", "é", "ẞ",
])  # fmt: skip
_SHORT = st.lists(_PIECES | st.text(_CHARS, max_size=12), max_size=6).map("".join)
_LONG = st.builds(lambda piece, n, tail: piece * n + tail, _PIECES, st.integers(100, 400), st.text(_CHARS, max_size=50))
TEXT = st.one_of(_SHORT, _SHORT, _LONG).map(stripped)
SHORT = _SHORT.map(stripped)

MONEY = st.none() | st.decimals(min_value=0, max_value=Decimal("99999999999.99"), places=2)
QUANTITY = st.none() | st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2)
DATE = st.none() | st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31))
TARGET_TEXT = st.sampled_from([
    "≥95%", "及时", "100%", "≤10次", "≥ 1,000 人次", "95%以上", "＞９０％", "不低于90%", "1-2次", "=100", "良好",
    "有效提升", "0", "≤232124元", "",
]) | SHORT  # fmt: skip


def choice(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["", *values]) | SHORT


def nonempty(item: object) -> bool:
    """A row with nothing in it is not read back (empty rows between filled ones are skipped)."""
    return any(v not in ("", None, False) for k, v in vars(item).items() if k not in ("row", "target", "extra")) or bool(
        getattr(getattr(item, "target", None), "raw", ""))


def activities() -> st.SearchStrategy[Activity]:
    return st.builds(Activity, name=TEXT, amount=MONEY, level1=choice("产出目标", "效益指标")).filter(nonempty)


@st.composite
def indicators(draw: st.DrawFn, template: str) -> Indicator:
    target = parse_target(draw(TARGET_TEXT))
    item = Indicator(level1=draw(choice("产出目标", "产出指标")), level2=draw(choice("数量", "数量指标")), name=draw(TEXT),
                     target=target, note=draw(TEXT))
    if template == "mof-2021":
        item.value_type = draw(choice("定量", "定性"))
        item.value_basis = draw(choice("计划标准", "行业标准"))
        # A target with a number but no operator/unit takes them from these columns: generate the folded form.
        has_number = target.number is not None
        item.operator = draw(choice("≥", "≤", "=")) if not has_number or target.operator else ""
        item.measure_unit = draw(choice("%", "次", "万元")) if not has_number or target.unit else ""
    assume(nonempty(item))
    return item


def costs() -> st.SearchStrategy[CostItem]:
    return st.builds(CostItem, project=SHORT, content=TEXT, detail=SHORT, amount=MONEY, unit_price=MONEY,
                     price_basis=SHORT, quantity=QUANTITY, quantity_basis=SHORT, note=SHORT).filter(nonempty)


def guarantees() -> st.SearchStrategy[Guarantee]:
    return st.builds(Guarantee, kind=choice("项目管理制度"), document=TEXT, measures=TEXT, planning=st.booleans(),
                     implementation=st.booleans(), completion=st.booleans()).filter(nonempty)


@st.composite
def declarations(draw: st.DrawFn, template: str) -> Declaration:
    rows = load_template(template).rows
    project = Project(**{k: draw(TEXT) for k in (
        "unit", "name", "leader", "contact", "phone", "overview", "basis", "necessity", "feasibility", "resources",
        "overall_goal", "annual_goal", "other_notes")}, category=draw(choice("一次性项目", "经常性项目")),
        start_date=draw(DATE), end_date=draw(DATE))  # fmt: skip
    funding = Funding(**{k: draw(MONEY) for k in (
        "total", "current_year", "fiscal", "fiscal_superior", "fiscal_local", "fiscal_subordinate", "other")})
    identity = Identity(department=draw(SHORT), department_code=draw(SHORT), year=draw(st.none() | st.integers(2000, 2100)))
    if identity.department and not project.unit:
        project.unit = identity.department  # an issued form shows its department as 填报单位
    return Declaration(
        identity=identity,
        project=project,
        funding=funding,
        activities=draw(st.lists(activities(), max_size=rows["activities"])),
        indicators=draw(st.lists(indicators(template), max_size=rows["indicators"])),
        costs=draw(st.lists(costs(), max_size=rows["costs"])),
        guarantees=draw(st.lists(guarantees(), max_size=rows["guarantees"])),
        footer=Footer(unit_head=draw(SHORT), filled_by=draw(SHORT), filled_on=draw(DATE)),
    )


def _roundtrip(d: Declaration, template: str, path: Path) -> tuple[Declaration, Declaration]:
    identity = write_workbook(load_template(template), path, d)
    return replace(d, identity=identity), read(path)


@pytest.mark.parametrize("template", TEMPLATES)
def test_write_then_read_is_identity(tmp_path_factory: pytest.TempPathFactory, template: str) -> None:
    folder = tmp_path_factory.mktemp(template)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(d=declarations(template))
    def roundtrip(d: Declaration) -> None:
        expected, got = _roundtrip(d, template, folder / "form.xlsx")
        assert got.source.findings == []
        assert got.identity == expected.identity
        assert got.project == expected.project
        assert got.funding == expected.funding
        assert got.activities == expected.activities
        assert got.indicators == expected.indicators
        assert got.costs == expected.costs
        assert got.guarantees == expected.guarantees
        assert got == expected

    roundtrip()


def test_formula_lookalikes_stay_text(tmp_path: Path) -> None:
    """Text that is only '=' (or starts like a formula or a link) is stored as text and read back as such."""
    d = Declaration(
        project=Project(unit="=", name="=SUM(A1:A3)", leader="+1", contact="-1", phone="@SUM(1)",
                        overview="http://example.com", annual_goal="=\n=", other_notes="'=1"),
        indicators=[Indicator(level1="=", level2="=", name="=HYPERLINK(\"http://x\")", target=parse_target("=100"))],
        guarantees=[Guarantee(kind="=", document="=", planning=True)],
    )
    expected, got = _roundtrip(d, "shanghai-2020", tmp_path / "f.xlsx")
    assert got == expected
    assert got.indicators[0].target.operator == "=" and got.indicators[0].target.number == 100
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    project = sheet_names("shanghai-2020")[0]
    for address in ("B3", "C4", "C6", "E6", "E7", "C9"):
        cell = wb[project][address]
        assert cell.data_type == "s", (address, cell.value)


def test_text_shaped_like_rich_text_xml_stays_text(tmp_path: Path) -> None:
    """xlsxwriter would write "<r>…</r>" into the file as raw XML, here carrying a formula cell."""
    rich = '<r><t>a</t></r></si><si><t>b</t></si><si><r><t>c</t></r>'
    rich_cell = '<r><t>a</t></r></is></c><c r="Z1"><f>1+1</f><v>2</v></c><c t="inlineStr"><is><r><t>b</t></r>'
    d = Declaration(project=Project(name=rich, overview=rich_cell, leader="<r> 张\x01 _x0041_ </r>"),
                    indicators=[Indicator(level1="产出指标", level2="数量指标", name=rich, target=parse_target("=1"))])
    expected, got = _roundtrip(d, "shanghai-2020", tmp_path / "f.xlsx")
    assert got == expected and got.project.name == rich and got.project.overview == rich_cell
    assert "_x0041_" in got.project.leader and "_x005F" not in got.project.leader
    long = Declaration(project=Project(name="<r>" + "长" * 40000 + "</r>"))  # cut to Excel's limit, as any text is
    _, got = _roundtrip(long, "shanghai-2020", tmp_path / "long.xlsx")
    assert got.project.name == "<r>" + "长" * (32767 - 3)
    with zipfile.ZipFile(tmp_path / "f.xlsx") as zf:
        assert b"<f>1+1</f>" not in b"".join(zf.read(n) for n in zf.namelist())


def test_extremes_of_money_dates_and_row_counts(tmp_path: Path) -> None:
    """Largest generated amounts, cents, zero, dates at both ends, and every table full to its row limit."""
    t = load_template("shanghai-2020")
    d = Declaration(
        project=Project(name="满", start_date=date(1900, 3, 1), end_date=date(9999, 12, 31)),
        funding=Funding(total=Decimal("99999999999.99"), current_year=Decimal("0.01"), fiscal=Decimal(0)),
        activities=[Activity(name=f"活动{i}", amount=Decimal(i) / 100) for i in range(t.rows["activities"])],
        indicators=[Indicator(name=f"指标{i}", target=parse_target(f"≥{i}%")) for i in range(t.rows["indicators"])],
        costs=[CostItem(amount=Decimal("0.10"), quantity=Decimal("0.5")) for _ in range(t.rows["costs"])],
        guarantees=[Guarantee(completion=True) for _ in range(t.rows["guarantees"])],
    )
    expected, got = _roundtrip(d, "shanghai-2020", tmp_path / "f.xlsx")
    assert got == expected
    assert [i.row for i in got.indicators] == list(range(18, 38))
