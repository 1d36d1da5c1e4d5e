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


class FormState(StrEnum):
    """Where one form stands in the round (汇总, 按部门, `xlform status`, `xlform remind`)."""

    MISSING = "未提交"
    UNREADABLE = "已提交但无法读取"
    PENDING = "待审核"  # read, no errors, no decision yet
    FIX = "需修改（有错误）"  # read with errors, not yet sent back
    RETURNED = "已退回"  # 退回修改 decided (or a package sent), no new version yet
    RESUBMITTED = "已重新提交"  # a new version arrived after it was sent back, not yet decided
    PASSED = "通过"
    REJECTED = "不予支持"


# How the report colours a status cell (by the word it begins with).
STATUS_STYLE: tuple[tuple[Status, str], ...] = (
    (Status.FIX, "bad"), (Status.MISSING, "bad"), (Status.PASS, "good"), (Status.ALL_PASSED, "good"),
    (Status.SHORT, "warn"), (Status.NOT_LISTED, "warn"),
)
