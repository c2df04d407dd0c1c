"""One object that wires the bus for a process: settings, schemas, codec, bootstrap address."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ._kafka import Publisher, Subscriber
from ._schemas import SchemaCatalogue
from ._settings import Settings, get_settings
from ._wire import Codec


@dataclass
class Bus:
    bootstrap_servers: str
    settings: Settings

    @classmethod
    def from_settings(cls, bootstrap_servers: str | None = None, settings: Settings | None = None) -> Bus:
        settings = settings or get_settings()
        bootstrap = bootstrap_servers or settings.bootstrap_servers or f"127.0.0.1:{settings.broker_port}"
        return cls(bootstrap, settings)

    @cached_property
    def schemas(self) -> SchemaCatalogue:
        return SchemaCatalogue(self.settings.schemas_dir)

    @cached_property
    def codec(self) -> Codec:
        return Codec(self.schemas)

    def publisher(self, source: str, **producer: Any) -> Publisher:
        return Publisher(self.bootstrap_servers, source=f"/liandong/{source}", codec=self.codec, **producer)

    def subscriber(self, topics: list[str], *, group_id: str | None, service: str, **consumer: Any) -> Subscriber:
        return Subscriber(self.bootstrap_servers, topics, group_id=group_id, service=service, codec=self.codec,
                          dead_letters=self.publisher(service), **consumer)
