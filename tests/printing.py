"""Helpers for the print tests: a form filled to every length limit, and the text of its printed pages."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from xlform.form.fields import CHECK_SHEET, HELP_SHEET, Kind
from xlform.form.layout import LIMITED_FIELDS, field_per_line, layout_for
from xlform.form.model import Activity, CostItem, Declaration, Guarantee, Indicator
from xlform.form.paper import counted_length
from xlform.form.targets import parse_target
from xlform.form.template import Template

# Plain running Chinese text with full-width punctuation (the widest text there is, and line starts that
# the rules against a leading "，" push around).
_POOL = ("区机关公共会议室是区党政机关的会议决策和传达中心，担负着区党政会议召开、学习交流、工作接待等重要任务，"
         "服务于全区各机关（部门）等单位。各会场使用频率较高，会议音频视频保障系统、技术设备软件、硬件维护、"
         "对管线等附属配置的维护、会议多媒体需求都需要委托第三方进行维护和托管。")
_DIGITS = "〇一二三四五六七八九"


def _tag(name: str, i: int) -> str:
    return f"【{name}{''.join(_DIGITS[int(d)] for d in str(i))}】"


def paragraph(name: str, i: int, length: int) -> str:
    """`length` characters, opening with a tag that no other paragraph has."""
    head = _tag(name, i)
    body = (_POOL * (length // len(_POOL) + 2))[(i * 7) % len(_POOL):]
    return (head + body)[:length]


def text_at_limit(name: str, limit: int, per_line: int) -> str:
    """A text exactly at `limit` as the validation counts it: two line breaks where the limit leaves room
    (each counts as a whole line), the rest of the characters spread over the three paragraphs."""
    breaks = 2 if limit >= 4 * per_line else 0
    room = limit - breaks * per_line
    sizes = [room // (breaks + 1)] * (breaks + 1)
    sizes[-1] += room - sum(sizes)
    text = "\n".join(paragraph(name, i, n) for i, n in enumerate(sizes))
    assert counted_length(text, per_line) == limit
    return text


def filled_to_limits(template: Template) -> Declaration:
    """Every text field of 项目总体情况 at its limit, and the first row of every table with each text column
    at its limit (each paragraph tagged with the field's label, so a cut one is never found elsewhere)."""
    d = Declaration()
    for key in LIMITED_FIELDS:
        group = getattr(d, "project" if hasattr(d.project, key) else "footer")
        setattr(group, key, text_at_limit(template.labels[key], template.limits[key], field_per_line(key)))
    rows = {"activities": Activity(), "indicators": Indicator(), "costs": CostItem(), "guarantees": Guarantee()}
    for table, item in rows.items():
        tp = layout_for(template).tables[table]
        for c in tp.columns:
            if c.column.kind in (Kind.TEXT, Kind.TARGET) and not c.column.computed:  # a formula, not typed
                text = text_at_limit(tp.section_label + c.header, c.limit, c.per_line)
                setattr(item, c.column.key, parse_target(text) if c.column.kind is Kind.TARGET else text)
        getattr(d, table).append(item)
    return d


def paragraphs(d: Declaration) -> list[str]:
    """Every paragraph of every text in `d`."""
    found = []
    for group in (d.project, d.footer):
        for value in vars(group).values():
            if isinstance(value, str):
                found += value.split("\n")
    for table in ("activities", "indicators", "costs", "guarantees"):
        for item in getattr(d, table):
            for value in vars(item).values():
                text = value.raw if hasattr(value, "raw") else value
                if isinstance(text, str):
                    found += text.split("\n")
    return [p for p in found if p]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdftotext(*args: str) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext (poppler-utils) is needed"
    return subprocess.run([tool, "-enc", "UTF-8", *args, "-"], capture_output=True, check=True).stdout.decode("utf-8")


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext, reading order)."""
    return _pdftotext(str(pdf)).split("\f")[:-1]


@dataclass(frozen=True)
class Word:
    text: str
    left: float
    top: float
    bottom: float


_BOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>')


def pdf_words(pdf: Path) -> list[list[Word]]:
    """The words of each page with where they sit (points from the top left)."""
    return [[Word(html.unescape(t), float(x), float(y0), float(y1)) for x, y0, y1, t in _BOX.findall(page)]
            for page in _pdftotext("-bbox", str(pdf)).split("<page ")[1:]]


_LINE = re.compile(r'<line xMin="[\d.]+" yMin="([\d.]+)"[^>]*>(.*?)</line>', re.S)
_WORD_AT = re.compile(r'<word xMin="([\d.]+)"[^>]*>(.*?)</word>')


def pdf_cell_texts(pdf: Path) -> list[str]:
    """Each page's text read down the columns: the lines that start at the same x (the wrapped lines of a
    left-aligned cell) one after another, top to bottom, so a cell's text is whole even where pdftotext's
    reading order interleaves the lines of cells side by side. pdftotext may join the lines of two cells
    side by side into one line: a word that starts where other lines start begins a new cell there."""
    texts = []
    for page in _pdftotext("-bbox-layout", str(pdf)).split("<page ")[1:]:
        lines = [(float(y), [(round(float(x), 1), html.unescape(t)) for x, t in _WORD_AT.findall(body)])
                 for y, body in _LINE.findall(page)]
        starts = {words[0][0] for _, words in lines if words}
        columns: dict[float, list[tuple[float, str]]] = {}
        for y, words in lines:
            pieces: list[tuple[float, str]] = []
            for x, text in words:
                if not pieces or x in starts:
                    pieces.append((x, text))
                else:
                    pieces[-1] = (pieces[-1][0], pieces[-1][1] + text)
            for x, text in pieces:
                columns.setdefault(x, []).append((y, text))
        texts.append("|".join("".join(t for _, t in sorted(col)) for _, col in sorted(columns.items())))
    return texts


def sheet_titles(template: Template) -> dict[str, str]:
    """Sheet name -> the title row it prints at the top of every page."""
    return {
        HELP_SHEET: f"{template.title} · 填表说明",
        template.sheets["project"]: template.titles["project"],
        template.sheets["goals"]: template.titles["goals"],
        template.sheets["guarantees"]: template.titles["guarantees"],
        CHECK_SHEET: "校验结果（随填写自动更新）",
    }


def pages_by_sheet(template: Template, pdf: Path) -> dict[str, list[str]]:
    """The printed pages of each sheet, told apart by the title each page repeats."""
    titles = sheet_titles(template)
    found: dict[str, list[str]] = {name: [] for name in titles}
    for page in pdf_pages(pdf):
        first = next((line.strip() for line in page.splitlines() if line.strip()), "")
        owner = [name for name, title in titles.items() if squeeze(first) == squeeze(title)]
        assert len(owner) == 1, f"a page without a known title: {first!r}"
        found[owner[0]].append(page)
    return found
