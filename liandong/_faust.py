"""Faust helpers: an app configured for the bus, raw topics, and a decoding stream that
dead-letters what it cannot read.

Agents read raw bytes and decode here rather than through a faust codec, so that a bad
message becomes a dead letter with its reason instead of a crashed or silently skipped
stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import faust
from aiokafka.errors import GroupAuthorizationFailedError, ProducerClosed, TopicAuthorizationFailedError
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import KafkaTimeoutError as AIOKafkaTimeoutError
from faust.exceptions import FaustError
from kafka.errors import KafkaError, KafkaTimeoutError

from ._bus import Bus
from ._deadletter import dead_letter
from ._errors import WireError
from ._kafka import denied
from ._logging import get_logger
from ._metrics import CONSUMED, DEAD_LETTERS, PROCESSING, count_produced
from ._wire import Codec, Event, OutgoingMessage

log = get_logger(__name__)


def create_app(service: str, bus: Bus, **overrides: Any) -> faust.App:
    """A faust app for one service: its own consumer group, memory tables backed by changelogs,
    authenticated as the bus's principal. Faust's own web server (table and router views) is off."""
    settings = bus.settings
    config: dict[str, Any] = dict(
        broker=f"kafka://{bus.bootstrap_servers}",
        broker_credentials=bus.faust_credentials(),
        topic_replication_factor=1,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        store="memory://",
        web_enabled=False,
        producer_acks=-1,
        broker_commit_every=100,
        # A killed worker's partitions move to its replacement within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        autodiscover=False,
        # Tables hold bytes; each service encodes its own state (see its table's docstring).
        table_key_serializer="raw",
        table_value_serializer="raw",
    )
    config.update(overrides)
    return faust.App(service, **config)


def table(app: faust.App, name: str, partitions: int) -> Any:
    """A bytes-to-bytes table (each service encodes its own state), changelog ``<app id>-<name>-changelog``."""
    return app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes)


def raw_topic(app: faust.App, *names: str) -> Any:
    """A topic of raw bytes; the bus's own codec decodes it (see ``decoded``)."""
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                     internal=False)


async def send(app: faust.App, msg: OutgoingMessage, *, wait: bool = False) -> Any:
    """Produces a message; with ``wait`` returns only once the broker acknowledged it."""
    count_produced(msg.headers, msg.topic)
    if wait:
        return await app.producer.send_and_wait(msg.topic, msg.key, msg.value, partition=None, timestamp=None,
                                                headers=msg.headers)
    return await app.producer.send(msg.topic, msg.key, msg.value, partition=None, timestamp=None,
                                   headers=msg.headers)


async def decoded(stream: Any, codec: Codec, *, app: faust.App, service: str) -> AsyncIterator[Event]:
    """Yields each message of ``stream`` as an Event; undecodable or invalid ones go to the
    dead-letter topic with the reason, and the stream goes on."""
    async for ev in stream.events():
        m = ev.message
        headers = [(k, bytes(v)) for k, v in (m.headers or [])]
        try:
            event = codec.decode(m.topic, m.key, m.value, headers, m.partition, m.offset)
        except WireError as exc:
            log.warning("dead_letter", topic=m.topic, partition=m.partition, offset=m.offset, reason=str(exc))
            DEAD_LETTERS.labels(service, m.topic, exc.reason).inc()
            CONSUMED.labels(service, m.topic, "undecodable", "dead_lettered").inc()
            letter = dead_letter(codec, exc, service=service, topic=m.topic, partition=m.partition, offset=m.offset,
                                 key=m.key, value=m.value, headers=headers)
            await retrying(partial(send, app, letter, wait=True), service=service, what="dead_letter")
            continue
        yield event


Handler = Callable[[Event], Awaitable[None]]
AIOKafkaAuthorizationErrors = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)
#: Backoff between attempts while the broker is unreachable (a restart, a leader election).
RETRY_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)


def _transient(exc: Exception) -> bool:
    """Worth trying again: the broker's own retriable errors, and timeouts while it is away."""
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, (AIOKafkaTimeoutError, KafkaTimeoutError))


async def retrying(attempt: Callable[[], Awaitable[Any]], *, service: str, what: str) -> Any:
    """Runs ``attempt`` until it succeeds, waiting longer after each transient broker error.

    Why not let the error escape: faust restarts a crashed agent on the *next* message, so the
    one in flight would be skipped until the worker restarts. Handlers are idempotent, so
    trying the same message again is safe."""
    failures = 0
    while True:
        try:
            return await attempt()
        except AIOKafkaAuthorizationErrors:
            raise
        except (KafkaError, AIOKafkaError) as exc:
            if not _transient(exc):
                raise
            delay = RETRY_BACKOFF[min(failures, len(RETRY_BACKOFF) - 1)]
            failures += 1
            log.warning("broker_unavailable_retrying", service=service, what=what, attempt=failures, error=repr(exc),
                        retry_in_s=delay)
            await asyncio.sleep(delay)


async def consume(stream: Any, codec: Codec, handler: Handler, *, app: faust.App, service: str) -> None:
    """Runs ``handler`` on every decoded event of ``stream``. A message the handler fails on
    (a bug or a record it cannot act on) is dead-lettered with the error and the stream goes on;
    a broker that is unreachable for a while (a restart) is waited for, the same message tried again."""
    async for event in decoded(stream, codec, app=app, service=service):
        started = time.perf_counter()
        outcome = "handled"
        try:
            await retrying(partial(handler, event), service=service, what=event.type)
        except AIOKafkaAuthorizationErrors as exc:
            # Not this message's fault either, but retrying cannot help until an admin grants the ACL:
            # count it, keep the message as a dead letter, and go on serving everything else.
            outcome = "dead_lettered"
            error: Exception = denied(str(getattr(app.conf.broker_credentials, "username", "anonymous")), service,
                                      "write", f"({exc})")
            await _dead_letter_event(app, codec, error, event, service)
        except (FaustError, ProducerClosed, asyncio.CancelledError):
            raise  # the worker is stopping or broken: not this message's fault
        except Exception as exc:
            outcome = "dead_lettered"
            log.error("handler_failed", service=service, event_type=event.type, key=event.key, error=repr(exc))
            DEAD_LETTERS.labels(service, event.topic, "HANDLER_ERROR").inc()
            await _dead_letter_event(app, codec, exc, event, service)
        finally:
            PROCESSING.labels(service, event.type).observe(time.perf_counter() - started)
            CONSUMED.labels(service, event.topic, event.type, outcome).inc()


async def _dead_letter_event(app: faust.App, codec: Codec, error: Exception, event: Event, service: str) -> None:
    letter = dead_letter(codec, error, service=service, topic=event.topic, partition=event.partition,
                         offset=event.offset, key=event.key.encode(), value=event.raw_value,
                         headers=list(event.headers.items()))
    await retrying(partial(send, app, letter, wait=True), service=service, what="dead_letter")
