"""Hypothesis strategies for any Avro schema (as parsed by fastavro)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

_TIMES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
                      ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=64),
    "string": st.text(max_size=40),
}


def from_schema(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of([from_schema(s, named) for s in schema])
    if isinstance(schema, str):
        return from_schema(named[schema], named) if schema in named else _PRIMITIVES[schema]
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    logical = schema.get("logicalType")
    if logical == "uuid":
        return st.uuids()
    if logical == "timestamp-millis":
        return _TIMES
    if logical == "date":
        return st.dates()
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: from_schema(f["type"], named) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(from_schema(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), from_schema(schema["values"], named), max_size=3)
    return from_schema(kind, named)
