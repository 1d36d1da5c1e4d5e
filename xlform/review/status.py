"""The status words a clerk reads: of one return, one item and one department. Written out as they are."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    # A return or an item (check, report 汇总, the store).
    PASS = "通过"
    FIX = "需修改"
    UNREADABLE = "无法读取"
    IGNORED = "已忽略"  # a temporary file (~$…), not a return
    # A department (report 按部门).
    MISSING = "未提交"
    ALL_PASSED = "已通过"
    NOT_LISTED = "不在名单中"
    SHORT = "缺"  # starts "缺 2 份": forms still missing


# How the report colours a status cell (by the word it begins with).
STATUS_STYLE: tuple[tuple[Status, str], ...] = (
    (Status.FIX, "bad"), (Status.MISSING, "bad"), (Status.PASS, "good"), (Status.ALL_PASSED, "good"),
    (Status.SHORT, "warn"), (Status.NOT_LISTED, "warn"),
)
