"""Example records built from the schemas themselves: the smoke scenario publishes one of
every event type, and tests use them as a starting point."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from liandong_sdk import EVENT_TYPES, HANDLING_UNITS, SchemaCatalogue


def example_record(schemas: SchemaCatalogue, event_type: str, *, case_number: str = "140214-2026-000001",
                   unit: str = "JUSTICE", now: datetime | None = None) -> dict[str, Any]:
    """A valid record of ``event_type`` addressed to ``unit`` for case ``case_number``."""
    assert unit in HANDLING_UNITS
    et = EVENT_TYPES[event_type]
    moment = now or datetime.now(UTC).replace(microsecond=0)
    record: dict[str, Any] = _value(schemas.current(et.schema).parsed, moment, {})
    if "case" in record:
        record["case"]["case_number"] = case_number
    if "unit" in record:
        record["unit"] = unit
    if "task_number" in record:
        record["task_number"] = case_number
    if "source_topic" in record:
        record["source_topic"] = "liandong.bureau.petitions"
    return record


def _value(schema: Any, now: datetime, named: dict[str, Any]) -> Any:
    if isinstance(schema, list):  # a union: take the non-null branch, to exercise it
        branch = next((s for s in schema if s != "null"), "null")
        return _value(branch, now, named)
    if isinstance(schema, str):
        return _value(named[schema], now, named) if schema in named else _PRIMITIVE_EXAMPLES[schema]
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    logical = schema.get("logicalType")
    if logical == "uuid":
        return uuid.uuid4()
    if logical in ("timestamp-millis", "timestamp-micros"):
        return now
    if logical == "date":
        return date(now.year, now.month, now.day)
    if kind == "record":
        return {f["name"]: _value(f["type"], now, named) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "array":
        return [_value(schema["items"], now, named)]
    if kind == "map":
        return {"k": _value(schema["values"], now, named)}
    if isinstance(kind, (str, list, dict)):
        return _value(kind, now, named)
    raise ValueError(f"no example for {schema!r}")


_PRIMITIVE_EXAMPLES: dict[str, Any] = {
    "null": None, "boolean": True, "int": 1, "long": 1, "float": 1.0, "double": 1.0,
    "bytes": b"\x00\x01", "string": "示例",
}
