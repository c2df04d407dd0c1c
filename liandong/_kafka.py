"""Plain Kafka clients (kafka-python) speaking the Liandong wire format, and topic provisioning.

The department SDK and command-line tools use these; faust services use ``_faust``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import (
    CommitFailedError,
    GroupAuthorizationFailedError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from ._catalogue import TopicSpec, all_topics
from ._deadletter import dead_letter
from ._errors import AuthorizationDenied, WireError
from ._logging import get_logger
from ._metrics import AUTHORIZATION_DENIED, CONSUMED, DEAD_LETTERS, count_produced
from ._settings import get_settings
from ._wire import Codec, Event, OutgoingMessage

log = get_logger(__name__)


# -- provisioning ---------------------------------------------------------------------------
@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    repartitioned: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reconfigured or self.repartitioned)


def provision_topics(bootstrap: str, topics: Iterable[TopicSpec] | None = None, *,
                     partitions: int | None = None, **client: Any) -> ProvisionReport:
    """Creates missing topics and brings config and partition counts up to the catalogue.

    Idempotent: a second run changes nothing. Partitions are only ever added (Kafka cannot
    remove them).
    """
    default_partitions = partitions or get_settings().topic_partitions
    specs = list(topics if topics is not None else all_topics())
    report = ProvisionReport()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **client)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [NewTopic(s.name, s.partitions or default_partitions, 1, topic_configs=s.config()) for s in missing]
            # Another provisioner may win the race; the config check of the next run still applies.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            report.created = [s.name for s in missing]
        present = [s for s in specs if s.name in existing]
        if present:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([s.name for s in present])}
            resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=None) for s in present]
            configs = admin.describe_configs(resources, config_filter="all")
            current = _flatten_configs(configs)
            for s in present:
                want = s.config()
                have = current.get(s.name, {})
                if any(have.get(k) != v for k, v in want.items()):
                    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, s.name, configs=want)])
                    report.reconfigured.append(s.name)
                wanted_parts = s.partitions or default_partitions
                if described.get(s.name, wanted_parts) < wanted_parts:
                    admin.create_partitions({s.name: NewPartitions(wanted_parts)})
                    report.repartitioned.append(s.name)
                if s.name not in report.reconfigured and s.name not in report.repartitioned:
                    report.unchanged.append(s.name)
        if missing:
            admin.wait_for_topics([s.name for s in missing], timeout_ms=30000)
    finally:
        admin.close()
    return report


def _flatten_configs(described: Any) -> dict[str, dict[str, str]]:
    """kafka-python's describe_configs result as {topic: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for resources in described.values():
        for name, entries in resources.items():
            out[name] = {k: str(v.get("value") if isinstance(v, dict) else v) for k, v in entries.items()}
    return out


# -- producing ------------------------------------------------------------------------------
_DENIED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


def denied(principal: str, service: str, operation: str, resource: str) -> AuthorizationDenied:
    """Logs and counts a refusal, and returns the error to raise to the caller."""
    AUTHORIZATION_DENIED.labels(service, operation).inc()
    log.error("authorization_denied", principal=principal, service=service, operation=operation, resource=resource)
    return AuthorizationDenied(principal, operation, resource)


class _Delivery:
    """kafka-python's send future, with an authorization refusal turned into AuthorizationDenied."""

    def __init__(self, future: Any, publisher: Publisher, topic: str) -> None:
        self._future, self._publisher, self._topic = future, publisher, topic

    def get(self, timeout: float | None = None) -> Any:
        try:
            return self._future.get(timeout=timeout)
        except _DENIED:
            raise denied(self._publisher.principal, self._publisher.service, "write", f"topic {self._topic}") from None


#: The longest a consumer's fetch waits at the broker for new records (see Subscriber).
FETCH_MAX_WAIT_MS = 100


class Publisher:
    """Publishes catalogue events with an idempotent, acks=all producer."""

    def __init__(self, bootstrap: str, *, source: str, codec: Codec, **producer: Any) -> None:
        self.codec = codec
        self.source = source
        self.service = source.removeprefix("/liandong/")
        self.principal = str(producer.get("sasl_plain_username") or "anonymous")
        config: dict[str, Any] = {"acks": "all", "linger_ms": 5, "retries": 2**31 - 1, "max_in_flight_requests_per_connection": 5}
        config.update(producer)
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, **config)

    def publish(self, event_type: str, record: dict[str, Any]) -> Any:
        """Encodes and sends; returns kafka-python's future (``.get()`` waits for the ack)."""
        return self.send(self.codec.encode(event_type, record, source=self.source))

    def send(self, msg: OutgoingMessage) -> _Delivery:
        count_produced(msg.headers, msg.topic)
        try:
            future = self._producer.send(msg.topic, key=msg.key, value=msg.value, headers=msg.headers)
        except _DENIED:
            raise denied(self.principal, self.service, "write", f"topic {msg.topic}") from None
        return _Delivery(future, self, msg.topic)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout)

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- consuming ------------------------------------------------------------------------------
class Subscriber:
    """Consumes topics as decoded events; any message that cannot be decoded or validated is
    sent to the dead-letter topic with its reason and the stream goes on.

    Offsets are committed only by ``commit()``, after the caller has handled what it polled
    (at-least-once).
    """

    def __init__(self, bootstrap: str, topics: Iterable[str], *, group_id: str | None, service: str,
                 codec: Codec, dead_letters: Publisher, **consumer: Any) -> None:
        self.codec = codec
        self.service = service
        self.dead_letters = dead_letters
        # A fetch holds partitions whose records are still buffered out of the request: with the
        # default 500 ms long poll, their new records could wait that long. 100 ms bounds it.
        config: dict[str, Any] = {"enable_auto_commit": False, "auto_offset_reset": "earliest",
                                  "fetch_max_wait_ms": FETCH_MAX_WAIT_MS}
        config.update(consumer)
        self.principal = str(config.get("sasl_plain_username") or "anonymous")
        self.group_id = group_id
        self._topics = set(topics)
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, **config)
        if self._topics:
            # Metadata first: a group joined before it knows the topic's partitions can be left
            # with an empty assignment (kafka-python's range assignor warns "No partition metadata").
            for t in sorted(self._topics):
                self._consumer.partitions_for_topic(t)
            self._consumer.subscribe(sorted(self._topics))
        self._end: dict[TopicPartition, int] = {}
        self._dirty = False  # records polled and not yet committed
        self.dead_lettered = 0

    def poll(self, timeout_ms: int = 1000, max_records: int | None = None) -> list[Event]:
        try:
            batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        except TopicAuthorizationFailedError as exc:
            raise denied(self.principal, self.service, "read", f"topic(s) {exc}") from None
        except GroupAuthorizationFailedError:
            raise denied(self.principal, self.service, "read", f"consumer group {self.group_id}") from None
        # A topic the principal may not even describe is silently left out by kafka-python; say so.
        refused = self._topics & set(self._consumer._cluster.unauthorized_topics)
        if refused:
            raise denied(self.principal, self.service, "read", f"topic(s) {', '.join(sorted(refused))}")
        events: list[Event] = []
        self._dirty = self._dirty or any(batches.values())
        before = self.dead_lettered
        for records in batches.values():
            for r in records:
                try:
                    event = self.codec.decode(r.topic, r.key, r.value, r.headers, r.partition, r.offset)
                except WireError as exc:
                    self._dead_letter(r, exc)
                    CONSUMED.labels(self.service, r.topic, "undecodable", "dead_lettered").inc()
                    continue
                events.append(event)
                CONSUMED.labels(self.service, r.topic, event.type, "received").inc()
        if self.dead_lettered != before:
            self.dead_letters.flush()
        return events

    def _dead_letter(self, r: Any, exc: Exception) -> None:
        log.warning("dead_letter", topic=r.topic, partition=r.partition, offset=r.offset, reason=str(exc))
        self.dead_letters.send(dead_letter(self.codec, exc, service=self.service, topic=r.topic,
                                           partition=r.partition, offset=r.offset, key=r.key, value=r.value,
                                           headers=r.headers))
        DEAD_LETTERS.labels(self.service, r.topic, getattr(exc, "reason", "HANDLER_ERROR")).inc()
        self.dead_lettered += 1

    def assign_all(self, topics: Iterable[str], *, from_beginning: bool = True) -> None:
        """Reads every partition of ``topics`` without a consumer group (to rebuild state from a log)."""
        topics = list(topics)
        self._topics |= set(topics)
        parts = [TopicPartition(t, p) for t in topics for p in sorted(self._consumer.partitions_for_topic(t) or ())]
        self._consumer.assign(parts)
        if from_beginning:
            self._consumer.seek_to_beginning(*parts)
        self._end = dict(self._consumer.end_offsets(parts))

    def caught_up(self) -> bool:
        """True once every assigned partition has been read up to where it ended at ``assign_all``."""
        return all(self._consumer.position(tp) >= end for tp, end in self._end.items())

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield from self.poll()

    def commit(self) -> bool:
        """Commits what was polled; False when a rebalance got in the way (the records come again,
        and idempotent handlers recognise them)."""
        if not self._dirty or not self._consumer.assignment():
            return True  # nothing new since the last commit (committing mid-join would restart the join)
        try:
            self._consumer.commit()
            self._dirty = False
        except (CommitFailedError, RebalanceInProgressError) as exc:
            log.warning("commit_deferred", service=self.service, reason=type(exc).__name__)
            return False
        return True

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
