"""Every reach into faust's (and aiokafka's) internals, in one place, written for faust-streaming
0.15.3 with aiokafka 0.14.0 (pyproject pins faust-streaming <0.16).

``tests/unit/test_faust_patches.py`` fingerprints the source of each internal used here: when an
upgrade changes one, that test fails and names it, so the patch is re-read before it silently
stops working.

1. Faust hard-codes a 1.5 s fetch long-poll for its worker consumers. A fetch leaves out the
   partitions whose records are still buffered, so records arriving there meanwhile wait for the
   long poll to end: up to 1.5 s per hop at low load. We bound it as our own consumers do
   (``liandong_sdk.FETCH_MAX_WAIT_MS``), through aiokafka's ``_fetch_max_wait_ms``, which
   ``AIOKafkaConsumer.start`` hands to its fetcher.
2. A table write picks its changelog partition from the faust event being processed (a private
   context variable). Batched writes happen after the batch's events were taken, so
   ``processing(source)`` makes the event that caused a write current again while it is written.
3. A table write (``Table.__setitem__``: ``on_key_set`` hands the changelog record to faust's send
   buffer, then the store is written) keeps no handle on that record: when the broker refuses it
   faust only logs a warning (``Topic._on_published``), and the offsets of the events that made the
   write are committed anyway, so after a crash the state is restored without it. ``write`` does
   what ``__setitem__`` does but sends the record itself and returns the broker's acknowledgement:
   a batch waits for it, and sends again what was refused, before its events are acked. (The
   changelog-sent callback only records offsets for RocksDB stores; ours are in memory.)
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event, current_event
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from liandong_sdk import FETCH_MAX_WAIT_MS

WRITTEN_FOR = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
#: The internals the patches rely on, as ``module:qualified name`` (fingerprinted by the test).
INTERNALS = (
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.start",
    "faust.streams:current_event",
    "mode.utils.collections:ManagedUserDict.__setitem__",
    "faust.tables.table:Table.on_key_set",
    "faust.tables.base:Collection.send_changelog",
    "faust.tables.base:Collection.partition_for_key",
    "faust.tables.base:Collection._on_changelog_sent",
    "faust.topics:Topic._on_published",
)

__all__ = ["INTERNALS", "WRITTEN_FOR", "current_event", "install", "processing", "write"]


def _responsive_worker_consumer(create: Callable[..., Any]) -> Callable[..., Any]:
    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer

    create_worker_consumer.__wrapped__ = create  # type: ignore[attr-defined]
    return create_worker_consumer


def install() -> None:
    """Applies patch 1 (idempotent)."""
    current = AIOKafkaConsumerThread._create_worker_consumer
    if not hasattr(current, "__wrapped__"):
        AIOKafkaConsumerThread._create_worker_consumer = _responsive_worker_consumer(current)  # type: ignore[method-assign]


@contextmanager
def processing(source: Any) -> Iterator[None]:
    """Makes ``source`` (a faust event) the one being processed, as faust's own stream iteration
    does: a table write needs it to pick the changelog partition (patch 2)."""
    token = _current_event.set(weakref.ref(source) if source is not None else None)
    try:
        yield
    finally:
        _current_event.reset(token)


async def write(app: Any, table: Any, key: Any, value: bytes) -> asyncio.Future[Any]:
    """``table[key] = value`` with the changelog record sent by us, not through faust's send buffer
    (patch 3): returns the broker's acknowledgement (a future that fails with the broker's error)."""
    if table._should_expire_keys():
        raise TypeError(f"{table.name}: windowed tables are not written this way")  # no key ttl kept here
    partition = table.partition_for_key(key)  # None: the producer's partitioner picks it (use_partitioner)
    ack = await app.producer.send(table.changelog_topic.get_topic_name(), key, value, partition=partition,
                                  timestamp=None, headers=None)
    table._sensor_on_set(table, key, value)
    table.data[key] = value
    return ack  # type: ignore[no-any-return]
