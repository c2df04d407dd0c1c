"""What a decision reads of an event: the bus's decoded ``liandong_sdk.Event`` is one, and so is
any test's stand-in. The domain names this much and no more of the wire: the event's id (its
``ce_id``), the topic it came on, its payload as the event type's class, and why its signature
does not hold (an answer only; None when it does, or was not checked)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from liandong_sdk.events import EventRecord

P = TypeVar("P", bound=EventRecord, covariant=True)


class Incoming(Protocol[P]):
    @property
    def id(self) -> str: ...

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> P: ...

    @property
    def signature_error(self) -> str | None: ...
