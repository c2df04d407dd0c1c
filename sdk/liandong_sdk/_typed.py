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
from dataclasses import dataclass, fields
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
        plan = _plan(type(self))
        record = {name: getattr(self, name) for name in plan.order}
        for name, write in plan.writes:
            value = record[name]
            if value is not None:
                record[name] = write(value)
        return record

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Self:
        """The typed record of a plain one (as fastavro reads it, as a handler built it, or kept as
        JSON: ids, times and dates as text).
        A field missing from ``data`` takes its schema default; an unknown one is a TypeError."""
        plan = _plan(cls)
        if not plan.names.issuperset(data):
            unknown = set(data) - plan.names
            raise TypeError(f"{cls.__name__}: no field(s) {', '.join(sorted(unknown))}")
        kwargs = dict(data)
        for name, read in plan.reads:
            value = kwargs.get(name)
            if value is not None:
                kwargs[name] = read(value)
        return cls(**kwargs)


class EventRecord(Record):
    """The payload of one event type of the catalogue (``TYPE``, e.g. ``case.handoff.rejected``)."""

    __slots__ = ()
    TYPE: ClassVar[str]


def known(enum: type[StrEnum]) -> tuple[str, ...]:
    """An Avro enum's symbols without its fallback ``UNKNOWN`` (what a reader maps a symbol it
    does not know to): the values a writer may choose."""
    return tuple(m.value for m in enum if m.value != "UNKNOWN")


@dataclass(frozen=True, slots=True)
class _Plan:
    """How a class's fields are read from a plain record and written to one: only the fields that
    need a conversion are visited (a text or a number passes as it is, a list or map is copied);
    ``None`` passes both ways."""

    order: tuple[str, ...]  # the schema's, kept by to_record
    names: frozenset[str]
    reads: tuple[tuple[str, Convert], ...]
    writes: tuple[tuple[str, Convert], ...]


_PLANS: dict[type[Record], _Plan] = {}


def _plan(cls: type[Record]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        reads = [(n, r) for n in names if (r := _reader(hints[n])) is not None]
        writes = [(n, w) for n in names if (w := _writer(hints[n])) is not None]
        plan = _PLANS[cls] = _Plan(tuple(names), frozenset(names), tuple(reads), tuple(writes))
    return plan


def _optional(hint: Any) -> Any:
    """The type inside ``X | None`` (the plan skips None itself)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner
    return hint


def _through(hint: Any, leaf: Callable[[Any], Convert | None]) -> Convert | None:
    """``leaf``'s conversion for a field's type, carried through ``| None``, lists and maps (copied:
    no list or map shared); None where nothing needs converting."""
    hint = _optional(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        item = _through(typing.get_args(hint)[0], leaf)
        return list if item is None else (lambda v: [item(i) for i in v])
    if origin is dict:
        value = _through(typing.get_args(hint)[1], leaf)
        return dict if value is None else (lambda v: {k: value(i) for k, i in v.items()})
    return leaf(hint)


def _reader(hint: Any) -> Convert | None:
    """The conversion of a plain value to the field's type; None where the value is already it."""
    return _through(hint, _read_leaf)


def _writer(hint: Any) -> Convert | None:
    """The conversion of a field's value to what fastavro writes; None where it writes it as it is."""
    return _through(hint, _write_leaf)


def _read_leaf(hint: Any) -> Convert | None:
    if isinstance(hint, type) and issubclass(hint, Record):
        return lambda v: v if isinstance(v, hint) else hint.from_record(v)
    if isinstance(hint, type) and issubclass(hint, Enum):
        members = hint._value2member_map_
        return lambda v: members.get(v) or hint(v)  # hint(v): a symbol this version does not know
    if hint is uuid.UUID:
        return lambda v: v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))
    if hint is datetime or hint is date:  # a record kept as JSON has its times and dates as ISO text
        parse = hint.fromisoformat
        return lambda v: parse(v) if isinstance(v, str) else v
    return None


def _write_leaf(hint: Any) -> Convert | None:
    if isinstance(hint, type) and issubclass(hint, Record):
        return lambda v: v.to_record() if isinstance(v, Record) else v
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda v: v.value if isinstance(v, Enum) else v
    return None
