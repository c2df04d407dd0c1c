"""Every reach into faust's (and aiokafka's) internals, in one place, written for faust-streaming
0.15.3 with aiokafka 0.14.0 (pyproject pins faust-streaming <0.16).

``tests/unit/test_faust_patches.py`` fingerprints the source of each internal used here: when an
upgrade changes one, that test fails and names it, so the patch is re-read before it silently
stops working.

1. Faust hard-codes a 1.5 s fetch long-poll for its worker consumers. A fetch leaves out the
   partitions whose records are still buffered, so records arriving there meanwhile wait for the
   long poll to end: up to 1.5 s per hop at low load. We bound it as our own consumers do
   (``liandong_sdk.FETCH_MAX_WAIT_MS``), through aiokafka's ``_fetch_max_wait_ms``, which
   ``AIOKafkaConsumer.start`` hands to its fetcher. A service no one waits on for an answer also
   has the broker gather a fetch (``gather``, aiokafka's ``_fetch_min_bytes``): each fetch costs the
   broker a read of every partition the worker owns, answered or not.
2. A table write picks its changelog partition from the faust event being processed (a private
   context variable). Batched writes happen after the batch's events were taken, so
   ``processing(source)`` makes the event that caused a write current again while it is written.
3. A table write (``Table.__setitem__``: ``on_key_set`` hands the changelog record to faust's send
   buffer, then the store is written) keeps no handle on that record: when the broker refuses it
   faust only logs a warning (``Topic._on_published``), and the offsets of the events that made the
   write are committed anyway, so after a crash the state is restored without it. ``write`` does
   what ``__setitem__`` does but sends the record itself and returns the broker's acknowledgement:
   a batch waits for it, and sends again what was refused, before its events are acked. Once the
   broker acknowledges it, the record's offset is kept as the store's own (what faust's
   changelog-sent callback does): a RocksDB store then knows at the next start that it holds this
   worker's writes, and restores only what came after.
4. A message faust's stream passes over (fetched before the latest rebalance, or read while the
   flow is stopped: ``Stream._py_aiter``) is acked there as if it had been handled, so the next
   commit goes past it, and the seek to the committed offset that ends the rebalance never reads
   it again: the message is lost to the group (seen after a SIGKILL and restart, when the dead
   member's leaving makes a second rebalance). A stream tracks every message it takes up before
   handling it; ``Consumer.ack`` now counts only tracked messages: one no stream took up stays
   uncommitted and is read again after the seek.
5. ``committed``, ``set_aside``, ``seek_back`` and ``missing`` serve the consumer's own check that
   no offset is passed over (``liandong.streams.Continuity``): a message put aside is neither
   counted as handled nor waited for by a rebalance, and the partition is read again from the
   offset missed (``seek_wait`` is the consumer-thread-safe seek that also moves faust's read
   offset, which drops anything below).
6. Faust takes any jump in the offsets its fetch loop sees as offsets that do not exist (a gap,
   ``Consumer._add_gap``) and commits past them once a later offset is acked. A jump is also what
   a message faust dropped around a rebalance leaves, and a gap entry for an offset handled later
   puts a duplicate in faust's acked list, which stops its commits for the partition. So only the
   check's confirmed holes (a fetch from the missed offset began past it, ``missing``) are gaps.
7. The seek that ends a rebalance (``Consumer.perform_seek`` through aiokafka's
   ``seek_to_committed``) moves only partitions the group has committed; one it never committed
   stays where the fetch left it. Messages faust passed over there (fetched while its flow was
   stopped, patch 4) were never read again: a worker SIGKILLed before its first commit of a
   partition left its replacement to begin after them, and nothing could tell (the fault run lost
   handoffs and petitions that way in CI). Such a partition is now read from its beginning, as
   ``auto_offset_reset=earliest`` means (handlers are idempotent).
8. Table recovery seeks each standby changelog partition to the offset it has for it
   (``Recovery._seek_offsets``), and has none (None) for a partition assigned while that recovery
   was already running: aiokafka refuses the seek ("Offset must be a positive integer"), recovery
   crashes, and the worker keeps running without its tables (a 2-worker bench run: one ledger
   worker answered for half the cases). An offset it does not have is taken as -1, as recovery
   does for a changelog never read (the partition is read from its beginning).
9. aiokafka sends every fetch as a full one, naming each partition a service reads (about 20 topics'
   worth), and the broker answers for each: most of a fetch's cost went on partitions with nothing
   new. Its fetcher now fetches in incremental sessions (KIP-227), as the Java client does:
   ``liandong.fetch_sessions`` (installed by ``create_app`` unless ``LIANDONG_FETCH_SESSIONS=false``).
10. Faust's partition assignor is sticky: a worker keeps what it had up to ``ceil(partitions /
   workers)``. With standby replicas (faust's default, 1) it never takes partitions away below that,
   so a worker that joins after the others have settled can get no active partition at all (4
   partitions: 2 + 2 + 0 for three ledger workers, faust-streaming issue #93; its fix applies only
   without standbys). A third worker started a little late then stood idle for good, and the CI
   scale-out test waited for it in vain. ``balance`` moves partitions after faust's assignment, from
   the worker holding most to the one holding fewest, actives then standbys, until each holds at
   least ``floor(total / workers)``; an active goes preferably to a worker holding its standby (the
   two swap roles, no changelog is read anew).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from faust.assignor.client_assignment import CopartitionedAssignment
from faust.assignor.copartitioned_assignor import CopartitionedAssignor
from faust.streams import _current_event, current_event
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
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
    "faust.streams:Stream._py_aiter",
    "faust.transport.consumer:Consumer.ack",
    "faust.transport.consumer:Consumer._drain_messages",
    "faust.transport.consumer:Consumer._new_offset",
    "faust.transport.consumer:Consumer._add_gap",
    "faust.transport.consumer:Consumer.perform_seek",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._seek_wait",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.seek_to_committed",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.seek_to_committed",
    "faust.tables.recovery:Recovery._seek_offsets",
    "faust.assignor.copartitioned_assignor:CopartitionedAssignor.get_assignment",
    "faust.assignor.client_assignment:CopartitionedAssignment.can_assign",
    "faust.assignor.client_assignment:CopartitionedAssignment.num_assigned",
    "faust.assignor.client_assignment:CopartitionedAssignment.assign_partition",
    "faust.assignor.client_assignment:CopartitionedAssignment.unassign_partition",
    # patch 9 (liandong.fetch_sessions)
    "aiokafka.consumer.fetcher:Fetcher.__init__",
    "aiokafka.consumer.fetcher:Fetcher._get_actions_per_node",
    "aiokafka.consumer.fetcher:Fetcher._proc_fetch_request",
    "aiokafka.protocol.fetch:FetchRequest.build",
    "aiokafka.client:AIOKafkaClient.send",
)

__all__ = ["INTERNALS", "WRITTEN_FOR", "balance", "committed", "current_event", "gather", "install", "missing", "processing", "seek_back",
           "set_aside", "write"]


#: Bytes a fetch of each app's worker consumer gathers before the broker answers (``gather``).
_GATHER: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def gather(app: Any, min_bytes: int) -> None:
    """The broker answers ``app``'s fetches once ``min_bytes`` have gathered, or after the long poll
    (``FETCH_MAX_WAIT_MS``); by default (1 byte) at the first record. Set before the app starts."""
    _GATHER[app] = min_bytes


def _responsive_worker_consumer(create: Callable[..., Any]) -> Callable[..., Any]:
    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        # both read when the consumer starts its fetcher
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        consumer._fetch_min_bytes = _GATHER.get(self.app, 1)
        return consumer

    create_worker_consumer.__wrapped__ = create  # type: ignore[attr-defined]
    return create_worker_consumer


def _tracked_only(ack: Callable[..., bool]) -> Callable[..., bool]:
    def ack_tracked(self: Any, message: Any) -> bool:
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            self._unacked_messages.discard(message)  # nothing waits for it: it is read again
            return False
        return ack(self, message)

    ack_tracked.__wrapped__ = ack  # type: ignore[attr-defined]
    return ack_tracked


def _from_the_beginning_if_never_committed(seek_to_committed: Callable[..., Any]) -> Callable[..., Any]:
    async def seek_to_committed_or_beginning(self: Any) -> Any:
        committed = await seek_to_committed(self)
        never = [tp for tp, offset in committed.items() if not offset]  # None, or 0: the beginning too
        if never:
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *never)
        return committed

    seek_to_committed_or_beginning.__wrapped__ = seek_to_committed  # type: ignore[attr-defined]
    return seek_to_committed_or_beginning


def _unknown_offsets_from_the_beginning(seek_offsets: Callable[..., Any]) -> Callable[..., Any]:
    async def seek_known_offsets(self: Any, consumer: Any, tps: Any, offsets: Any, title: str) -> Any:
        for tp in tps:
            if offsets.get(tp) is None or offsets[tp] < -1:
                offsets[tp] = -1  # faust's "nothing read yet": it seeks to the beginning
        return await seek_offsets(self, consumer, tps, offsets, title)

    seek_known_offsets.__wrapped__ = seek_offsets  # type: ignore[attr-defined]
    return seek_known_offsets


async def _no_guess(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """A jump in the fetched offsets is not taken for a gap (patch 6)."""


def balance(assignments: list[CopartitionedAssignment]) -> None:
    """Moves partitions between ``assignments`` (one group of copartitioned topics, one per worker)
    until each worker holds at least ``floor(total / workers)`` actives, then standbys (patch 10)."""
    for active in (True, False):
        least = sum(a.num_assigned(active) for a in assignments) // max(len(assignments), 1)
        while (poor := min(assignments, key=lambda a: a.num_assigned(active))).num_assigned(active) < least:
            move = _movable(assignments, poor, least, active)
            if move is None:  # nothing the poorest may take (standbys of its own actives): as good as it gets
                break
            rich, partition = move
            rich.unassign_partition(partition, active)
            if active and partition in poor.standbys:  # they swap roles: both already hold its data
                poor.unassign_partition(partition, active=False)
                rich.assign_partition(partition, active=False)
            poor.assign_partition(partition, active)


def _movable(assignments: list[CopartitionedAssignment], poor: CopartitionedAssignment, least: int, active: bool
             ) -> tuple[CopartitionedAssignment, int] | None:
    """A partition a worker above ``least`` holds that ``poor`` may take (one it holds as a standby first)."""
    for rich in sorted(assignments, key=lambda a: -a.num_assigned(active)):
        if rich.num_assigned(active) <= least:
            return None
        takeable = [p for p in sorted(rich.get_assigned_partitions(active)) if poor.can_assign(p, active)]
        if active:
            takeable.sort(key=lambda p: p not in poor.standbys)
        if takeable:
            return rich, takeable[0]
    return None


def _balanced(get_assignment: Callable[..., Any]) -> Callable[..., Any]:
    """Faust's sticky assignment, then ``balance`` (patch 10)."""
    @functools.wraps(get_assignment)
    def wrapper(self: CopartitionedAssignor) -> Any:
        assignments = get_assignment(self)
        balance(list(assignments.values()))
        return assignments
    return wrapper


def install() -> None:
    """Applies patches 1, 4, 6, 7, 8 and 10 (idempotent)."""
    if not hasattr(CopartitionedAssignor.get_assignment, "__wrapped__"):
        CopartitionedAssignor.get_assignment = _balanced(CopartitionedAssignor.get_assignment)  # type: ignore[method-assign]
    current = AIOKafkaConsumerThread._create_worker_consumer
    if not hasattr(current, "__wrapped__"):
        AIOKafkaConsumerThread._create_worker_consumer = _responsive_worker_consumer(current)  # type: ignore[method-assign]
    if not hasattr(AIOKafkaConsumerThread.seek_to_committed, "__wrapped__"):
        AIOKafkaConsumerThread.seek_to_committed = _from_the_beginning_if_never_committed(  # type: ignore[method-assign]
            AIOKafkaConsumerThread.seek_to_committed)
    if not hasattr(Recovery._seek_offsets, "__wrapped__"):
        Recovery._seek_offsets = _unknown_offsets_from_the_beginning(Recovery._seek_offsets)  # type: ignore[method-assign]
    if not hasattr(Consumer.ack, "__wrapped__"):
        Consumer.ack = _tracked_only(Consumer.ack)  # type: ignore[method-assign]
    if not hasattr(Consumer._add_gap, "__wrapped__"):
        _no_guess.__wrapped__ = Consumer._add_gap  # type: ignore[attr-defined]
        Consumer._add_gap = _no_guess  # type: ignore[method-assign]


def set_aside(app: Any, message: Any) -> None:
    """``message`` (taken up by a stream) will not be handled in this fetch: not counted as acked
    when the stream acks it, not waited for by a rebalance (patch 5)."""
    message.tracked = False
    app.consumer._unacked_messages.discard(message)


def committed(app: Any, tp: Any) -> int | None:
    """The group's committed offset for ``tp`` as the consumer last learnt it (None if none): set by
    the seek that ends a rebalance (``Consumer.perform_seek``) and by each commit."""
    return app.consumer._committed_offset.get(tp)  # type: ignore[no-any-return]


async def missing(app: Any, tp: Any, first: int, last: int) -> None:
    """Offsets ``first``..``last`` of ``tp`` are not there: committing may pass them (patch 6)."""
    await inspect.unwrap(Consumer._add_gap)(app.consumer, tp, first, last)


async def seek_back(app: Any, tp: Any, offset: int) -> None:
    """Reads ``tp`` again from ``offset`` (patch 5)."""
    await app.consumer.seek_wait({tp: offset})


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
    ack.add_done_callback(partial(_persisted, table))
    return ack  # type: ignore[no-any-return]


#: The last offset acknowledged in each changelog partition written through ``write`` (changelog
#: topic -> partition -> offset): what the store has persisted, still known once it is closed.
WRITTEN: dict[str, dict[int, int]] = {}


def _persisted(table: Any, ack: asyncio.Future[Any]) -> None:
    if not ack.cancelled() and ack.exception() is None:
        sent = ack.result()
        table.data.set_persisted_offset(sent.topic_partition, sent.offset)
        written = WRITTEN.setdefault(sent.topic_partition.topic, {})
        written[sent.topic_partition.partition] = max(sent.offset, written.get(sent.topic_partition.partition, -1))
