"""Plain Kafka clients (kafka-python) speaking the Liandong wire format.

``Publisher`` encodes catalogue events and sends them with an idempotent acks=all producer;
``Subscriber`` decodes what it polls, sends anything undecodable to the dead-letter topic with
its reason and goes on, and commits only when asked (at-least-once). What they count goes to an
``Observer`` (the bus's services count into Prometheus; a department's system may plug in its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    CommitFailedError,
    GroupAuthorizationFailedError,
    RebalanceInProgressError,
    TopicAuthorizationFailedError,
)

from ._deadletter import dead_letter
from ._errors import AuthorizationDenied, StartupError, WireError
from ._signing import Headers
from ._typed import EventRecord
from ._wire import Codec, Event, OutgoingMessage

log = logging.getLogger("liandong_sdk")


class Observer:
    """What the clients report, each call on the client's own thread; this base counts nothing.
    Subclass it to count (the bus's services count into Prometheus)."""

    def produced(self, headers: Headers, topic: str) -> None:
        """A message was handed to the producer."""

    def consumed(self, service: str, topic: str, event_type: str, outcome: str) -> None:
        """A message was polled: ``received``, or ``dead_lettered`` when it could not be decoded."""

    def dead_lettered(self, service: str, topic: str, reason: str) -> None:
        """A message went to the dead-letter topic, for ``reason`` (``UNDECODABLE``, ``INVALID`` …)."""

    def denied(self, service: str, operation: str) -> None:
        """The broker refused a ``read`` or ``write`` for lack of an ACL."""


UNOBSERVED = Observer()


# -- producing ------------------------------------------------------------------------------
_DENIED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


def denied(principal: str, service: str, operation: str, resource: str,
           observer: Observer = UNOBSERVED) -> AuthorizationDenied:
    """Logs and counts a refusal, and returns the error to raise to the caller."""
    observer.denied(service, operation)
    log.error("authorization_denied principal=%s service=%s operation=%s resource=%s", principal, service, operation,
              resource)
    return AuthorizationDenied(principal, operation, resource)


class _Delivery:
    """kafka-python's send future, with an authorization refusal turned into AuthorizationDenied."""

    def __init__(self, future: Any, publisher: Publisher, topic: str) -> None:
        self._future, self._publisher, self._topic = future, publisher, topic

    def get(self, timeout: float | None = None) -> Any:
        try:
            return self._future.get(timeout=timeout)
        except _DENIED:
            p = self._publisher
            raise denied(p.principal, p.service, "write", f"topic {self._topic}", p.observer) from None


#: The longest a consumer's fetch waits at the broker for new records (see Subscriber).
FETCH_MAX_WAIT_MS = 100


class Publisher:
    """Publishes catalogue events with an idempotent, acks=all producer."""

    def __init__(self, bootstrap: str, *, source: str, codec: Codec, observer: Observer | None = None,
                 **producer: Any) -> None:
        self.codec = codec
        self.observer = observer or UNOBSERVED
        self.source = source
        self.service = source.removeprefix("/liandong/")
        self.principal = str(producer.get("sasl_plain_username") or "anonymous")
        config: dict[str, Any] = {"acks": "all", "linger_ms": 5, "retries": 2**31 - 1, "max_in_flight_requests_per_connection": 5}
        config.update(producer)
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, **config)

    def publish(self, event: str | EventRecord, record: dict[str, Any] | None = None) -> _Delivery:
        """Encodes and sends a typed event (``publish(CaseAccepted(...))``) or an event type's plain
        record (``publish(CaseAccepted.TYPE, {...})``); ``.get()`` on the result waits for the ack."""
        if isinstance(event, EventRecord):
            return self.send(self.codec.encode_event(event, source=self.source))
        if record is None:
            raise TypeError(f"publish({event!r}) needs the record")
        return self.send(self.codec.encode(event, record, source=self.source))

    def send(self, msg: OutgoingMessage) -> _Delivery:
        self.observer.produced(msg.headers, msg.topic)
        try:
            future = self._producer.send(msg.topic, key=msg.key, value=msg.value, headers=msg.headers)
        except _DENIED:
            raise denied(self.principal, self.service, "write", f"topic {msg.topic}", self.observer) from None
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
                 codec: Codec, dead_letters: Publisher, observer: Observer | None = None, **consumer: Any) -> None:
        self.codec = codec
        self.observer = observer or UNOBSERVED
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
            raise denied(self.principal, self.service, "read", f"topic(s) {exc}", self.observer) from None
        except GroupAuthorizationFailedError:
            raise denied(self.principal, self.service, "read", f"consumer group {self.group_id}", self.observer) from None
        # A topic the principal may not even describe is silently left out by kafka-python; say so.
        refused = self._topics & set(self._consumer._cluster.unauthorized_topics)
        if refused:
            raise denied(self.principal, self.service, "read", f"topic(s) {', '.join(sorted(refused))}", self.observer)
        events: list[Event] = []
        self._dirty = self._dirty or any(batches.values())
        before = self.dead_lettered
        for records in batches.values():
            for r in records:
                try:
                    event = self.codec.decode(r.topic, r.key, r.value, r.headers, r.partition, r.offset)
                except WireError as exc:
                    self._dead_letter(r, exc)
                    self.observer.consumed(self.service, r.topic, "undecodable", "dead_lettered")
                    continue
                events.append(event)
                self.observer.consumed(self.service, r.topic, event.type, "received")
        if self.dead_lettered != before:
            self.dead_letters.flush()
        return events

    def _dead_letter(self, r: Any, exc: Exception) -> None:
        log.warning("dead_letter topic=%s partition=%s offset=%s reason=%s", r.topic, r.partition, r.offset, exc)
        self.dead_letters.send(dead_letter(self.codec, exc, service=self.service, topic=r.topic,
                                           partition=r.partition, offset=r.offset, key=r.key, value=r.value,
                                           headers=r.headers))
        self.observer.dead_lettered(self.service, r.topic, getattr(exc, "reason", "HANDLER_ERROR"))
        self.dead_lettered += 1

    def assign_all(self, topics: Iterable[str], *, from_beginning: bool = True, timeout: float = 30.0,
                   wait: Callable[[float], None] = time.sleep) -> None:
        """Reads every partition of ``topics`` without a consumer group (to rebuild state from a log).

        Waits up to ``timeout`` seconds for every topic's partitions to be known: a metadata answer
        that is late or lacks a topic would otherwise make an empty log look read to its end (and
        intake would hand out case numbers again). Raises ``StartupError`` naming the topics."""
        topics = list(topics)
        self._topics |= set(topics)
        deadline = time.monotonic() + timeout
        while True:
            known = {t: sorted(self._consumer.partitions_for_topic(t)) for t in topics}
            missing = [t for t, p in known.items() if not p]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise StartupError(f"{self.service}: the partitions of {', '.join(missing)} are not known after "
                                   f"{timeout:.0f} s: is the topic provisioned (liandong provision), and may this "
                                   f"principal describe it?")
            wait(0.2)
        parts = [TopicPartition(t, p) for t, ps in known.items() for p in ps]
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
            log.warning("commit_deferred service=%s reason=%s", self.service, type(exc).__name__)
            return False
        return True

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
