"""Events as the domain reads them, built from plain records in unit tests (no broker, no codec).

A test gives the fields a decision reads; ``typed`` completes the rest of a record with neutral
values (empty text, zero, the first symbol, the event's own time), so that a test of supervision's
clocks need not spell out a petitioner.
"""

from __future__ import annotations

import types
import typing
import uuid
from dataclasses import MISSING, dataclass, fields
from datetime import date, datetime
from enum import Enum
from typing import Any

from liandong_sdk.events import EVENT_CLASSES, EventRecord, Record

_IDS = uuid.UUID("9c1f0a3e-5b7d-4e2a-8f61-3d2c1b0a9e87")


def typed(event_type: str, data: dict[str, Any]) -> EventRecord:
    """The payload of ``event_type`` for a plain record (as the codec would decode it); an id that
    is no UUID (a test's name for it, e.g. ``"e1"``) becomes one derived from that name."""
    cls = EVENT_CLASSES[event_type]
    return cls.from_record(_complete(cls, data, data.get("occurred_at")))


def _complete(cls: type[Record], data: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    given = {name: _named(hints[name], value, at) for name, value in data.items() if name in hints}
    missing = [f for f in fields(cls) if f.name not in data  # type: ignore[arg-type]
               and f.default is MISSING and f.default_factory is MISSING]
    return {**data, **given, **{f.name: _neutral(hints[f.name], at) for f in missing}}


def _named(hint: Any, value: Any, at: datetime | None) -> Any:
    """``value`` with test names for ids made UUIDs and nested records completed."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        inner = [h for h in typing.get_args(hint) if h is not type(None)]
        return value if value is None or len(inner) != 1 else _named(inner[0], value, at)
    if hint is uuid.UUID and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return uuid.uuid5(_IDS, value)
    if isinstance(hint, type) and issubclass(hint, Record) and isinstance(value, dict):
        return _complete(hint, value, at)
    return value


def _neutral(hint: Any, at: datetime | None) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return None
    if origin is list:
        return []
    if origin is dict:
        return {}
    if isinstance(hint, type) and issubclass(hint, Record):
        return _complete(hint, {}, at)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return next(iter(hint))
    neutral = {str: "", int: 0, bool: False, uuid.UUID: uuid.UUID(int=0), datetime: at,
               date: at.date() if at else None}
    return neutral[hint]


@dataclass(frozen=True)
class In:
    """An incoming event (``liandong.domain.incoming.Incoming``): its type, id, record and topic."""

    type: str
    id: str
    data: dict[str, Any]
    topic: str = ""
    signature_error: str | None = None

    @property
    def payload(self) -> EventRecord:
        return typed(self.type, self.data)


def plain(out: Any) -> list[tuple[str, dict[str, Any]]]:
    """Typed events out as (event type, plain record with ids as text), the way tests compare them."""
    return [(o.TYPE, _text_ids(o.to_record())) if isinstance(o, EventRecord) else o for o in out]


class Plain:
    """A decisions object (``Coordination``, ``Triage``) whose (state, events) answers give their
    events as ``plain`` records."""

    def __init__(self, decisions: Any) -> None:
        self.decisions = decisions

    def __getattr__(self, name: str) -> Any:
        decide = getattr(self.decisions, name)

        def call(*args: Any) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
            state, out = decide(*args)
            return state, plain(out)

        return call


def _text_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _text_ids(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_text_ids(v) for v in node]
    return str(node) if isinstance(node, uuid.UUID) else node
