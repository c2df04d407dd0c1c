"""The base of the typed events (``liandong_sdk.events``): conversion to and from the plain
records fastavro reads and writes.

A class's fields and their annotations are the plan: a nested record becomes its class, an Avro
enum its ``StrEnum``, a uuid a ``uuid.UUID``; lists, maps and optional values are followed. The
plan is read once per class.
"""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Self

Convert = Callable[[Any], Any]


class Record:
    """A record of one of the catalogue's Avro schemas (``SCHEMA`` is its full name)."""

    __slots__ = ()
    SCHEMA: ClassVar[str]

    def to_record(self) -> dict[str, Any]:
        """The plain record fastavro writes (enums as their symbols, nested records as dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Self:
        """The typed record of a plain one (as fastavro reads it, as a handler built it, or kept as
        JSON: ids, times and dates as text).
        A field missing from ``data`` takes its schema default; an unknown one is a TypeError."""
        plan = _plan(cls)
        unknown = set(data) - set(plan)
        if unknown:
            raise TypeError(f"{cls.__name__}: no field(s) {', '.join(sorted(unknown))}")
        return cls(**{name: plan[name](value) for name, value in data.items()})


class EventRecord(Record):
    """The payload of one event type of the catalogue (``TYPE``, e.g. ``case.handoff.rejected``)."""

    __slots__ = ()
    TYPE: ClassVar[str]


def known(enum: type[StrEnum]) -> tuple[str, ...]:
    """An Avro enum's symbols without its fallback ``UNKNOWN`` (what a reader maps a symbol it
    does not know to): the values a writer may choose."""
    return tuple(m.value for m in enum if m.value != "UNKNOWN")


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_record()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_PLANS: dict[type[Record], dict[str, Convert]] = {}


def _plan(cls: type[Record]) -> dict[str, Convert]:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = _PLANS[cls] = {f.name: _converter(hints[f.name]) for f in fields(cls)}  # type: ignore[arg-type]
    return plan


def _converter(hint: Any) -> Convert:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        convert = _converter(inner)
        return lambda v: None if v is None else convert(v)
    if origin is list:
        item = _converter(typing.get_args(hint)[0])
        return lambda v: [item(i) for i in v]
    if origin is dict:
        value = _converter(typing.get_args(hint)[1])
        return lambda v: {k: value(i) for k, i in v.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        return lambda v: v if isinstance(v, hint) else hint.from_record(v)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if hint is uuid.UUID:
        return lambda v: v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))
    if hint is datetime or hint is date:  # a record kept as JSON has its times and dates as ISO text
        parse = hint.fromisoformat
        return lambda v: parse(v) if isinstance(v, str) else v
    return lambda v: v
