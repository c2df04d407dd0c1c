"""Small helpers for plain records, in one place: a case reference as it travels, JSON of records
with times and ids, UTC timestamps. Plain Python, no I/O (the domain layer uses them too)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["case_ref", "case_ref_of", "json_default", "parse_time", "utc_iso"]


def case_ref(case: dict[str, Any]) -> dict[str, Any]:
    """A ``CaseRef`` record (as decoded, or as a handler built it) with its petition id as text,
    ready to travel in a new record or to be kept as JSON."""
    return {"case_number": case["case_number"], "petition_id": str(case["petition_id"]),
            "district_code": case["district_code"]}


def case_ref_of(case_number: str) -> dict[str, Any]:
    """A ``CaseRef`` for a case the bureau's tools know by its number alone: the district from the
    number, a petition id derived from it (the same every time). No personal data."""
    return {"case_number": case_number, "petition_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"liandong:{case_number}")),
            "district_code": case_number.split("-", 1)[0]}


def parse_time(value: str | datetime) -> datetime:
    """A time as kept in JSON state (ISO 8601 text), or one that already is a ``datetime``."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def json_default(o: object) -> str:
    """``json.dumps(..., default=json_default)``: times and dates in ISO 8601, ids as text."""
    if isinstance(o, (date, datetime)):
        return o.isoformat()
    if isinstance(o, uuid.UUID):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def utc_iso(t: datetime) -> str:
    """``t`` in UTC, ISO 8601 (a time without a zone is taken as UTC)."""
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
