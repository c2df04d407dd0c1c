"""What a decision reads of an event: the bus's decoded ``liandong_sdk.Event`` is one, and so is
any test's stand-in. The domain names this much and no more of the wire."""

from __future__ import annotations

from typing import Any, Protocol


class Incoming(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...

    @property
    def topic(self) -> str: ...
