"""The real 2020 闵行区 sample return (../shared/seed) as a Declaration.

`xlform example` writes it, tests read it back, and the demo builds varied
returns from it. Paragraphs cut short in the PDF extract are kept as they are.
What a template adds (and any value it would rather show) comes from the
template's own `example:`, laid over the sample by `with_example`.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date
from decimal import Decimal

from .fields import TABLES
from .model import (
    Activity,
    CostItem,
    Declaration,
    Footer,
    Funding,
    Guarantee,
    Identity,
    Indicator,
    Project,
    rows_of,
    set_field_value,
    set_row_value,
)
from .targets import parse_target
from .template import Template

_BASIS = (
    "依据：1、《上海市机关事务管理工作“十二五”规划》；八、服务保障：始终作为党政机关高效运行提供服务保障作为机关事务管理工作的"
    "根本职责，以重大政务活动服务保障为龙头，以党政机关运行环境建设、落实政府采购和信息化保障为重点，进一步加强服务保障基础设施建设，"
    "切实履行好服务保障职能。\n2、闵行区机关事务管理局“负责全区性重要会议及重大活动等的经费保障；配合做好政府采购工作，"
    "负责本区有关会议（活动）的后勤保障服务工作”的机构职能。\n3、以往的惯例做法。"
)
_NECESSITY = (
    "必要性：1、区机关公共会议室是区党政机关的会议决策中心，担负区四套班子领导党政会议召开、学习交流、工作接待等重要任务，"
    "服务于全区机关单位，需要适用、稳定的会议系统、视频系统支持。 2、通过维护和托管，为会场提供优质的会场环境，满足会议需求，"
    "有利于领导决策、有效传达会议精神，提高政府机关工作效率和公共服务水平。"
)
_PROJECT = Project(
    unit="",
    name="沪闵路6258号1号楼139会议室新建会议系统",
    category="",  # none ticked in the extract
    leader="张宇华",
    contact="何小荣",
    phone="24033138",
    start_date=date(2020, 1, 1),
    end_date=date(2020, 12, 31),
    overview=(
        "区机关公共会议室是区党政机关的会议决策和传达中心，担负着区党政会议召开、学习交流、工作接待等重要任务，"
        "服务于全区各机关（部门）等单位。各会场使用频率较高，会议音频视频保障系统、技术设备软件、硬件维护、"
        "对管线等附属配置的维护、会议多媒体需求都需要委托第三方进行维护和托管。"
    ),
    basis=_BASIS,
    necessity=_NECESSITY,
    feasibility="求，更好地服务区委、区政府等四套领导班子召开各类会议，保障会务有序进行，促进领导有效决策和提升会议传达效果，"
    "为闵行经济社会发展做出贡献。",
    resources="规定》、《区机关会务服务分级保障操作办法》、《闵行区区级机关餐饮服务、会务保障质",
    overall_goal=(
        "通过整个会务系统的维护和托管，更好地服务区委、区政府等四套领导班子召开各类会议，保障会务有序进行，"
        "满足会议传达、远程交互、录音视频等会务保障需求，促进领导有效决策和行政效率的提升，为闵行经济社会发展做出贡献。"
    ),
    annual_goal="设备有效使用率达到99.5%以上，满意率达到85%以上。",
    other_notes="",
)
_AMOUNT = Decimal("232124.00")


def _indicator(l1: str, l2: str, name: str, target: str, note: str) -> Indicator:
    return Indicator(level1=l1, level2=l2, name=name, target=parse_target(target), note=note)


_GUIDE = "闵行区机关事务管理局内控指南"


def sample_declaration() -> Declaration:
    """A fresh copy of the sample (callers may change it freely)."""
    return deepcopy(_SAMPLE)


def clean_sample_declaration() -> Declaration:
    """The sample with the two things a reviewer sends back fixed (no category ticked; an annual goal whose 85%
    contradicts the indicator's 95%): a return that passes. The one such builder: the demo, the benchmark and
    the tests start from it."""
    d = sample_declaration()
    d.project.category = "经常性项目"
    d.project.annual_goal = "按计划完成会议系统运维，保障会务有序进行。"
    return d


def example_declaration(template: Template) -> Declaration:
    """What `xlform example -t ID` writes: the sample, with the template's `example:` laid over it."""
    d = with_example(sample_declaration(), template)
    if template.example:  # the sample speaks of 2020; a template's own example of the template's year
        d.identity.year = template.year
    return d


def with_example(d: Declaration, template: Template) -> Declaration:
    """`d` with the template's sample values: each field it names set; each row it gives for a built-in table
    laid over that row of `d` (added past the last); an added table's rows as given. A template without
    `example:` leaves `d` as it is."""
    for key, value in template.example.items():
        if key in template.field_by_key:
            set_field_value(d, template.field_by_key[key].group, key, deepcopy(value))
            continue
        columns = template.column_defs[key]
        rows = rows_of(d, key) if key in TABLES else []
        for i, values in enumerate(value):
            if i == len(rows):
                rows.append(template.row_type(key)())
            for column, v in values.items():
                set_row_value(rows[i], column, deepcopy(v), columns[column].builtin)
        if key not in TABLES:
            d.tables[key] = rows
    return d


_SAMPLE = Declaration(
    identity=Identity(year=2020),
    project=_PROJECT,
    funding=Funding(
        total=_AMOUNT,
        current_year=_AMOUNT,
        fiscal=_AMOUNT,
        fiscal_superior=Decimal(0),
        fiscal_local=_AMOUNT,
        fiscal_subordinate=Decimal(0),
        other=Decimal(0),
    ),
    activities=[Activity(name="音频音控系统", amount=_AMOUNT, level1="")],
    indicators=[
        _indicator("产出目标", "数量", "系统运维完成率", "100%", "工作计划"),
        _indicator("产出目标", "质量", "系统运维质量达标率", "100%", "工作计划"),
        _indicator("产出目标", "时效", "运维完成及时性", "及时", "工作计划"),
        _indicator("效果目标", "社会效益", "视频会议正常召开", "100%", "100%"),
        _indicator("影响力目标", "满意度", "系统使用满意度", "95%", "满意度常规标杆"),
    ],
    costs=[
        CostItem(
            project="1号楼139会议室",
            content="58号1号楼139会议室新建",
            detail="号1号楼139会议室新建",
            amount=_AMOUNT,
            unit_price=_AMOUNT,
            quantity=Decimal("1.00"),
            note="年度项目",
        )
    ],
    guarantees=[
        Guarantee("项目管理制度", _GUIDE, "严格按照相关管理规定对项目实施工作管理", True, True, True),
        Guarantee("预算管理制度", _GUIDE, "每年对所需经费按照财政管理要求进行预算编报", True, True, True),
        Guarantee("财务管理制度", _GUIDE, "严格按照财务管理制度进行专款专用", True, True, True),
    ],
    footer=Footer(),
)
