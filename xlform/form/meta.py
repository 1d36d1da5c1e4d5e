"""The very hidden _meta sheet: who issued a workbook, from which template, with what layout.

The reader identifies a workbook by these values, never by its file name.
"""

from __future__ import annotations

from .model import Identity

META_FORMAT = "xlform-meta-1"
META_KEYS = (
    "format",
    "generator",
    "template_id",
    "template_version",
    "form_id",
    "issued_at",
    "department",
    "department_code",
    "year",
    "money_unit",
    "fingerprint",
    "template_digest",
)
# Written only on a form carried over from last year (a blank or ordinary form has no such rows).
CARRY_KEYS = ("carried_from", "last_budget", "last_money_unit")


def meta_values(identity: Identity, generator_version: str) -> dict[str, str]:
    return {
        "format": META_FORMAT,
        "generator": f"xlform {generator_version}",
        "template_id": identity.template_id,
        "template_version": identity.template_version,
        "form_id": identity.form_id,
        "issued_at": identity.issued_at,
        "department": identity.department,
        "department_code": identity.department_code,
        "year": str(identity.year or ""),
        "money_unit": identity.money_unit,
        "fingerprint": identity.fingerprint,
        "template_digest": identity.template_digest,
        **{key: getattr(identity, key) for key in CARRY_KEYS},
    }


def identity_from_meta(values: dict[str, str]) -> Identity:
    year = values.get("year", "")
    return Identity(
        template_id=values.get("template_id", ""),
        template_version=values.get("template_version", ""),
        form_id=values.get("form_id", ""),
        issued_at=values.get("issued_at", ""),
        department=values.get("department", ""),
        department_code=values.get("department_code", ""),
        # A claim the reader checks; anything not a short number (5,000 digits, 二〇二六) becomes 0, out of range.
        year=(int(year) if year.isdigit() and len(year) <= 9 else 0) if year else None,
        money_unit=values.get("money_unit", "") or "元",
        fingerprint=values.get("fingerprint", ""),
        template_digest=values.get("template_digest", ""),
        **{key: values.get(key, "") for key in CARRY_KEYS},
    )
