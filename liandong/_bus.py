"""One object that wires the bus for a process: settings, identity, schemas, codec, clients.

``Bus`` is the SDK's ``Connection`` configured from the service settings, with the operator's
extras (admin client, topic provisioning, faust credentials) and Prometheus counting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from kafka import KafkaAdminClient
from liandong_sdk import MECHANISM, Connection, TopicSpec

from ._provisioning import ProvisionReport, provision_topics
from ._settings import Settings, get_settings
from .metrics import OBSERVER
from .security import ADMIN


@dataclass
class Bus(Connection):
    settings: Settings = field(default_factory=get_settings)

    @classmethod
    def from_settings(cls, bootstrap_servers: str | None = None, settings: Settings | None = None,
                      principal: str | None = None) -> Bus:
        settings = settings or get_settings()
        bootstrap = bootstrap_servers or settings.bootstrap_servers or f"127.0.0.1:{settings.broker_port}"
        return cls(bootstrap_servers=bootstrap, principal=principal or settings.principal or ADMIN,
                   explicit_password=settings.password, secrets_file=settings.secrets_path,
                   security_protocol=settings.security_protocol, principal_fixed=settings.principal is not None,
                   schemas_dir=settings.schemas_dir, observer=OBSERVER, settings=settings)

    def as_principal(self, principal: str) -> Bus:
        """The same bus, authenticated as another principal (an explicit LIANDONG_PRINCIPAL wins)."""
        return self if self.principal_fixed else replace(self, principal=principal)

    def faust_credentials(self) -> Any:
        import faust

        if not self.secured:
            return None
        return faust.SASLCredentials(username=self.principal, password=self.password(), mechanism=MECHANISM)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self.client_config())

    def provision_topics(self, topics: list[TopicSpec] | None = None, *, partitions: int | None = None) -> ProvisionReport:
        return provision_topics(self.bootstrap_servers, topics, partitions=partitions or self.settings.topic_partitions,
                                **self.client_config())
