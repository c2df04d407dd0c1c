"""One object that wires the bus for a process: settings, identity, schemas, codec, clients.

``Bus`` is the SDK's ``Connection`` configured from the service settings, with the operator's
extras (admin client, topic provisioning, faust credentials) and Prometheus counting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaConnectionError, KafkaError
from liandong_sdk import MECHANISM, Connection, StartupError, TopicSpec

from ._provisioning import ProvisionReport, provision_topics
from ._settings import Settings, get_settings
from .broker import accepts
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
                   schemas_dir=settings.schemas_dir, observer=OBSERVER, explicit_signing_key=settings.signing_key,
                   signing_keys_file=settings.signing_keys_path, principals_file=settings.principals_path,
                   settings=settings)

    def as_principal(self, principal: str) -> Bus:
        """The same bus, authenticated as another principal (an explicit LIANDONG_PRINCIPAL wins)."""
        return self if self.principal_fixed else replace(self, principal=principal)

    def check(self, topics: Iterable[str], *, service: str, timeout: float | None = None) -> None:
        """Before a service starts: the broker answers, takes this principal's credentials, and
        shows it every topic of ``topics``. Raises ``StartupError`` naming the cause and the remedy,
        within ``timeout`` seconds (the settings' ``startup_timeout``) when the broker is away."""
        timeout = self.settings.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        servers = [s.rsplit(":", 1) for s in self.bootstrap_servers.split(",")]
        while not any(accepts(host, int(port)) for host, port in servers):
            if time.monotonic() >= deadline:
                raise StartupError(
                    f"{service}: no broker answered at {self.bootstrap_servers} within {timeout:.0f} s: start one "
                    f"(liandong broker start) or point LIANDONG_BOOTSTRAP_SERVERS at yours "
                    f"(LIANDONG_STARTUP_TIMEOUT waits longer)")
            time.sleep(0.5)
        # It listens; kafka-python retries a refused login until its bootstrap timeout, then gives up.
        wait_ms = int(max(5.0, deadline - time.monotonic()) * 1000)
        try:
            consumer = self.consumer(group_id=None, bootstrap_timeout_ms=wait_ms)
        except KafkaError as exc:
            raise StartupError(f"{service}: the broker at {self.bootstrap_servers} did not let principal "
                               f"{self.principal!r} in ({exc}): check its password in {self.secrets_file} "
                               f"(liandong provision writes it) and that the port is the broker's") from None
        try:
            while True:
                try:
                    missing = [t for t in topics if not consumer.partitions_for_topic(t)]
                    break
                except KafkaConnectionError as exc:
                    # A node of a cluster that dropped us: just started, or not yet knowing a principal
                    # created a moment ago on another node. Asked again until the deadline.
                    if time.monotonic() >= deadline:
                        raise StartupError(f"{service}: a broker of {self.bootstrap_servers} kept dropping the "
                                           f"connection ({exc}) for {timeout:.0f} s: see its log") from None
                    time.sleep(0.5)
        finally:
            consumer.close()
        if missing:
            raise StartupError(f"{service}: principal {self.principal!r} sees no topic {', '.join(missing)}: provision "
                               f"the topics and ACLs (liandong provision), or grant it the ACLs its declaration needs")

    def faust_credentials(self) -> Any:
        import faust

        if not self.secured:
            return None
        return faust.SASLCredentials(username=self.principal, password=self.password(), mechanism=MECHANISM)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self.client_config())

    def provision_topics(self, topics: list[TopicSpec] | None = None, *, partitions: int | None = None) -> ProvisionReport:
        return provision_topics(self.bootstrap_servers, topics, partitions=partitions or self.settings.topic_partitions,
                                replication_factor=self.settings.replication_factor,
                                min_insync=self.settings.min_insync_replicas, **self.client_config())

