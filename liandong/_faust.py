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
from typing import Any

import faust
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from aiokafka.errors import KafkaError as AIOKafkaError
from faust.exceptions import FaustError
from kafka.errors import KafkaError

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
            await send(app, wait=True, msg=dead_letter(codec, exc, service=service, topic=m.topic, partition=m.partition,
                                        offset=m.offset, key=m.key, value=m.value, headers=headers))
            continue
        yield event


Handler = Callable[[Event], Awaitable[None]]
AIOKafkaAuthorizationErrors = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


async def consume(stream: Any, codec: Codec, handler: Handler, *, app: faust.App, service: str) -> None:
    """Runs ``handler`` on every decoded event of ``stream``. A message the handler fails on
    (a bug or a record it cannot act on) is dead-lettered with the error and the stream goes on;
    broker and framework errors still stop the agent, since they are not the message's fault."""
    async for event in decoded(stream, codec, app=app, service=service):
        started = time.perf_counter()
        outcome = "handled"
        try:
            await handler(event)
        except AIOKafkaAuthorizationErrors as exc:
            # Not this message's fault either, but retrying cannot help until an admin grants the ACL:
            # count it, keep the message as a dead letter, and go on serving everything else.
            outcome = "dead_lettered"
            error: Exception = denied(str(getattr(app.conf.broker_credentials, "username", "anonymous")), service,
                                      "write", f"({exc})")
            await send(app, wait=True, msg=dead_letter(
                codec, error, service=service, topic=event.topic, partition=event.partition, offset=event.offset,
                key=event.key.encode(), value=event.raw_value, headers=list(event.headers.items())))
        except (FaustError, KafkaError, AIOKafkaError, asyncio.CancelledError):
            raise
        except Exception as exc:
            outcome = "dead_lettered"
            log.error("handler_failed", service=service, event_type=event.type, key=event.key, error=repr(exc))
            DEAD_LETTERS.labels(service, event.topic, "HANDLER_ERROR").inc()
            await send(app, wait=True, msg=dead_letter(
                codec, exc, service=service, topic=event.topic, partition=event.partition, offset=event.offset,
                key=event.key.encode(), value=event.raw_value, headers=list(event.headers.items())))
        finally:
            PROCESSING.labels(service, event.type).observe(time.perf_counter() - started)
            CONSUMED.labels(service, event.topic, event.type, outcome).inc()
