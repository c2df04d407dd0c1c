"""One object that wires the bus for a process: settings, identity, schemas, codec, clients."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer

from ._catalogue import TopicSpec
from ._kafka import ProvisionReport, Publisher, Subscriber, provision_topics
from ._schemas import SchemaCatalogue
from ._security import ADMIN, MECHANISM, password_for
from ._settings import Settings, get_settings
from ._wire import Codec


@dataclass
class Bus:
    bootstrap_servers: str
    settings: Settings
    principal: str = ADMIN

    @classmethod
    def from_settings(cls, bootstrap_servers: str | None = None, settings: Settings | None = None,
                      principal: str | None = None) -> Bus:
        settings = settings or get_settings()
        bootstrap = bootstrap_servers or settings.bootstrap_servers or f"127.0.0.1:{settings.broker_port}"
        return cls(bootstrap, settings, principal or settings.principal or ADMIN)

    def as_principal(self, principal: str) -> Bus:
        """The same bus, authenticated as another principal (an explicit LIANDONG_PRINCIPAL wins)."""
        return replace(self, principal=self.settings.principal or principal)

    @cached_property
    def schemas(self) -> SchemaCatalogue:
        return SchemaCatalogue(self.settings.schemas_dir)

    @cached_property
    def codec(self) -> Codec:
        return Codec(self.schemas)

    # -- identity -----------------------------------------------------------------------
    @property
    def secured(self) -> bool:
        return self.settings.security_protocol != "PLAINTEXT"

    def password(self) -> str:
        explicit = self.settings.password if self.settings.principal == self.principal else None
        return password_for(self.principal, self.settings.secrets_path, explicit)

    def client_config(self) -> dict[str, Any]:
        """kafka-python keyword arguments that authenticate as this bus's principal."""
        if not self.secured:
            return {}
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "sasl_plain_username": self.principal, "sasl_plain_password": self.password()}

    def faust_credentials(self) -> Any:
        import faust

        if not self.secured:
            return None
        return faust.SASLCredentials(username=self.principal, password=self.password(), mechanism=MECHANISM)

    # -- clients -------------------------------------------------------------------------
    def publisher(self, source: str, **producer: Any) -> Publisher:
        return Publisher(self.bootstrap_servers, source=f"/liandong/{source}", codec=self.codec,
                         **{**self.client_config(), **producer})

    def subscriber(self, topics: list[str], *, group_id: str | None, service: str, **consumer: Any) -> Subscriber:
        return Subscriber(self.bootstrap_servers, topics, group_id=group_id, service=service, codec=self.codec,
                          dead_letters=self.publisher(service), **{**self.client_config(), **consumer})

    def consumer(self, *topics: str, **consumer: Any) -> KafkaConsumer:
        """A raw kafka-python consumer (bytes in, no decoding) with this bus's identity."""
        return KafkaConsumer(*topics, bootstrap_servers=self.bootstrap_servers, **{**self.client_config(), **consumer})

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self.client_config())

    def provision_topics(self, topics: list[TopicSpec] | None = None, *, partitions: int | None = None) -> ProvisionReport:
        return provision_topics(self.bootstrap_servers, topics, partitions=partitions or self.settings.topic_partitions,
                                **self.client_config())
