"""Faust helpers: an app configured for the bus, raw topics, and a decoding stream that
dead-letters what it cannot read.

Agents read raw bytes and decode here rather than through a faust codec, so that a bad
message becomes a dead letter with its reason instead of a crashed or silently skipped
stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import faust
from aiokafka.errors import GroupAuthorizationFailedError, ProducerClosed, TopicAuthorizationFailedError
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import KafkaTimeoutError as AIOKafkaTimeoutError
from faust.exceptions import FaustError
from kafka.errors import KafkaError, KafkaTimeoutError
from liandong_sdk import EVENT_TYPES, Codec, Event, OutgoingMessage, WireError, dead_letter, denied

from . import fetch_sessions
from ._bus import Bus
from ._logging import get_logger
from .faust_patches import committed, current_event, install, missing, processing, seek_back, set_aside, write
from .metrics import CONSUMED, DEAD_LETTERS, OBSERVER, PROCESSING, REREADS, SKIPPED, count_produced

log = get_logger(__name__)


install()  # the faust patches (see liandong.faust_patches): before any app is created


def create_app(service: str, bus: Bus, **overrides: Any) -> faust.App:
    """A faust app for one service: its own consumer group, tables backed by changelogs (in memory
    or in RocksDB: ``table_store``), authenticated as the bus's principal. Faust's own web server (table and router views) is off."""
    settings = bus.settings
    if settings.fetch_sessions:
        fetch_sessions.install()
    datadir = settings.run_dir / "tables"
    datadir.mkdir(parents=True, exist_ok=True)  # faust makes only the last directory of the path
    config: dict[str, Any] = dict(
        broker=f"kafka://{bus.bootstrap_servers}",
        broker_credentials=bus.faust_credentials(),
        topic_replication_factor=settings.replication_factor,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        store=settings.table_store,
        datadir=str(datadir),
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
        event = await _decode(ev.message, codec, app=app, service=service)
        if event is not None:
            yield event


async def _decode(m: Any, codec: Codec, *, app: faust.App, service: str) -> Event | None:
    """The message as an Event, or None once it is dead-lettered with the reason it cannot be read."""
    headers = [(k, bytes(v)) for k, v in (m.headers or [])]
    try:
        return codec.decode(m.topic, m.key, m.value, headers, m.partition, m.offset)
    except WireError as exc:
        log.warning("dead_letter", topic=m.topic, partition=m.partition, offset=m.offset, reason=str(exc))
        DEAD_LETTERS.labels(service, m.topic, exc.reason).inc()
        CONSUMED.labels(service, m.topic, "undecodable", "dead_lettered").inc()
        letter = dead_letter(codec, exc, service=service, topic=m.topic, partition=m.partition, offset=m.offset,
                             key=m.key, value=m.value, headers=headers)
        await retrying(partial(send, app, letter, wait=True), service=service, what="dead_letter")
        return None


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


async def _dead_letter_event(app: faust.App, codec: Codec, error: Exception, event: Event, service: str) -> None:
    letter = dead_letter(codec, error, service=service, topic=event.topic, partition=event.partition,
                         offset=event.offset, key=event.key.encode(), value=event.raw_value,
                         headers=list(event.headers.items()))
    await retrying(partial(send, app, letter, wait=True), service=service, what="dead_letter")


# -- batches ----------------------------------------------------------------------------------
#: Most events one batch holds, and how long a batch waits to fill (the latency it adds per hop).
BATCH_MAX = 200
BATCH_WITHIN = 0.005
#: The window of a service no one waits on for an answer (the ledger, notices, supervision): a fuller
#: batch writes a busy case's record once for several events, and an idle worker wakes up less often.
UNHURRIED_WITHIN = 0.05
#: What its fetches gather (``Service.fetch_min_bytes``): about 120 events, or the long poll's 100 ms.
UNHURRIED_FETCH_BYTES = 32 * 1024


#: A table write a batch holds until it completes: (table, key, value, encode, the faust event that wrote it).
_Write = tuple[Any, Hashable, Any, Callable[[Any], bytes], Any]


class Batch:
    """What the events of one batch lead to: messages to send, table writes to make once the broker
    has acknowledged every message, and what to count once the broker has acknowledged the writes.

    Why: one round trip to the broker per batch instead of one per event, and a state read and
    written many times in a batch encoded once. The order that makes a crash harmless stays: the
    messages first, then the state that says they were sent, then the offsets (faust commits them
    after the batch). A crash in between replays the batch; handlers are idempotent and message ids
    derived, so readers drop what they already have. Handlers read state through ``get`` so that
    a second event of the same case in one batch sees what the first one did.
    """

    def __init__(self, recent: Recent | None = None) -> None:
        self.messages: list[OutgoingMessage] = []
        self._writes: dict[tuple[int, Hashable], _Write] = {}
        self._first: dict[tuple[int, Hashable], _Write] = {}
        self._after: list[Callable[[], None]] = []
        self._recent = recent

    def get(self, table: Any, key: Hashable, decode: Callable[[bytes], Any]) -> Any:
        """The state under ``key``: as this batch left it, else as the table holds it (None if absent):
        taken from ``recent`` if it kept that, else decoded."""
        hit = self._writes.get((id(table), key))
        if hit is not None:
            return hit[2]
        raw = table.get(key)
        if raw is None:
            return None
        if self._recent is not None and (kept := self._recent.take(table, key, raw)) is not None:
            return kept
        return decode(raw)

    def put(self, table: Any, key: Hashable, value: Any, encode: Callable[[Any], bytes], *, first: bool = False) -> None:
        """Writes ``encode(value)`` to the table once the batch's messages are acknowledged; ``first``:
        acknowledged before the batch's other writes (an entry a state names: ``service.Put``), and
        not read back through ``get``."""
        (self._first if first else self._writes)[(id(table), key)] = (table, key, value, encode, current_event())

    def send(self, msg: OutgoingMessage) -> None:
        self.messages.append(msg)

    def after(self, action: Callable[[], None]) -> None:
        """Runs ``action`` (a metric, say) once the batch is complete, so a replayed batch counts once."""
        self._after.append(action)

    async def complete(self, app: faust.App, *, service: str) -> None:
        if self.messages:
            await retrying(partial(_send_all, app, self.messages), service=service, what="batch")
        # Each acknowledged before the batch's events are: faust commits their offsets then, and a
        # state record the broker refused would otherwise be missing after a restart.
        await _write_entries(app, self._first, service)
        written = await _write_entries(app, self._writes, service)
        if self._recent is not None:
            for table, key, raw, value in written:
                self._recent.keep(table, key, raw, value)
        for action in self._after:
            action()


#: How many decoded states a worker keeps between batches (``Recent``): the cases in flight.
RECENT_STATES = 2000


class Recent:
    """The states a worker wrote last, each with the bytes it wrote for it, so that the next batch of
    the same case need not decode them again.

    Why: a case's events come a few at a time over seconds, one batch after another, and decoding the
    case's state from the table at each batch was an eighth of the ledger's time (the profile in
    docs/benchmark.md). A state is handed out only while the table holds the very bytes it was kept
    with (a write by anything else, a restore, a rebalance: decoded again), and once handed out it is
    no longer kept, since the batch may change it in place, until that batch writes it back (a batch
    that fails keeps nothing). At most ``size`` states are kept, the oldest written forgotten first."""

    def __init__(self, size: int = RECENT_STATES) -> None:
        self._size = size
        self._kept: dict[tuple[int, Hashable], tuple[bytes, Any]] = {}

    def take(self, table: Any, key: Hashable, raw: bytes) -> Any:
        """The state kept for ``raw`` under ``key`` (no longer kept), or None."""
        hit = self._kept.pop((id(table), key), None)
        return hit[1] if hit is not None and hit[0] == raw else None

    def keep(self, table: Any, key: Hashable, raw: bytes, value: Any) -> None:
        self._kept.pop((id(table), key), None)  # to the end: the newest
        self._kept[(id(table), key)] = (raw, value)
        if len(self._kept) > self._size:
            del self._kept[next(iter(self._kept))]

    def __len__(self) -> int:
        return len(self._kept)


async def _write_entries(app: faust.App, writes: dict[tuple[int, Hashable], _Write],
                         service: str) -> list[tuple[Any, Hashable, bytes, Any]]:
    """Encodes and writes ``Batch`` entries, waiting for every acknowledgement; (table, key, bytes,
    value) of each."""
    if not writes:
        return []
    encoded = [(table, key, encode(value), value, source) for table, key, value, encode, source in writes.values()]
    pending = [(table, key, raw, source) for table, key, raw, _, source in encoded]
    await retrying(partial(_write_all, app, pending), service=service, what="state")
    return [(table, key, raw, value) for table, key, raw, value, _ in encoded]


async def _write_all(app: faust.App, pending: list[tuple[Any, Hashable, bytes, Any]]) -> None:
    """Writes every table entry and waits for the broker to acknowledge each changelog record; what
    it refused stays in ``pending`` (the next attempt writes only that) and the first error is raised."""
    acks = []
    for table, key, raw, source in pending:
        with processing(source):  # the table writes to the changelog partition of its source event
            acks.append(await write(app, table, key, raw))
    results = await asyncio.gather(*acks, return_exceptions=True)
    refused = [(w, r) for w, r in zip(pending, results, strict=True) if isinstance(r, BaseException)]
    pending[:] = [w for w, _ in refused]
    if refused:
        raise refused[0][1]


async def _send_all(app: faust.App, messages: list[OutgoingMessage]) -> None:
    """Sends every message, then waits for every ack (a retry sends them all again: same ids)."""
    acks = [await send(app, msg) for msg in messages]
    await asyncio.gather(*acks)


BatchHandler = Callable[[Event, Batch], Awaitable[None]]


# -- no offset passed over ---------------------------------------------------------------------
@dataclass
class _Reread:
    highest: int  # the highest offset put aside since: what was fetched before the seek still comes
    seeks: int = 1


class Verdict(NamedTuple):
    handle: bool
    reread_from: int | None = None  # read the partition again from here first
    missing: tuple[int, int] | None = None  # these offsets (first, last) are not there: committing may pass them


class Continuity:
    """Checks that a worker handles every offset of each input partition, from the committed one on.

    Why: around a rebalance faust can pass a message over (fetched in the generation before, its
    read offset moved past it by a batch fetched before the seek) and hand on the ones after it;
    committing those would lose it to the group. A message past the next offset expected is put
    aside and the partition read again from that offset; what was fetched before the seek still
    arrives (offsets only rising) and is put aside too. When a fetch from the offset asked for
    starts past it again, the offsets in between are not there (a transaction marker, a compacted
    or deleted record): after ``MAX_SEEKS`` such fetches the hole is taken as real.

    ``committed(tp)``: the group's committed offset (where an assignment resumes), None if none; the
    next offset expected is the higher of it and the one after the last handled here (after a
    rebalance the partition may have been handled further by another worker)."""

    MAX_SEEKS = 3

    def __init__(self, committed: Callable[[Any], int | None]) -> None:
        self._committed = committed
        self._generation: int | None = None
        self._next: dict[Any, int] = {}
        self._rereads: dict[Any, _Reread] = {}

    def check(self, tp: Any, offset: int, generation: int | None) -> Verdict:
        """Whether to handle the message at ``offset`` of ``tp``, and what to do first."""
        if generation != self._generation:  # a rebalance's seek to the committed offsets starts afresh
            self._generation = generation
            self._rereads.clear()
        known = [o for o in (self._next.get(tp), self._committed(tp)) if o is not None]
        expected = max(known) if known else None
        if expected is None or offset <= expected:  # the one expected, or one read again (idempotent)
            if expected is None or offset == expected:
                self._next[tp] = offset + 1
                self._rereads.pop(tp, None)
            return Verdict(True)
        reread = self._rereads.get(tp)
        if reread is None:
            self._rereads[tp] = _Reread(highest=offset)
            return Verdict(False, reread_from=expected)
        if offset > reread.highest:
            reread.highest = offset
            return Verdict(False)
        if reread.seeks >= self.MAX_SEEKS:  # each fetch from `expected` began at `offset`: nothing between
            self._next[tp] = offset + 1
            self._rereads.pop(tp)
            return Verdict(True, missing=(expected, offset - 1))
        reread.seeks += 1
        reread.highest = offset
        return Verdict(False, reread_from=expected)


async def _continuous(events: list[Any], continuity: Continuity, *, app: faust.App, service: str) -> list[Any]:
    """The events of a batch to handle; the others put aside, their partitions read again."""
    kept = []
    for ev in events:
        m = ev.message
        verdict = continuity.check(m.tp, m.offset, m.generation_id)
        if verdict.reread_from is not None:
            log.warning("partition_reread", service=service, topic=m.topic, partition=m.partition,
                        offset=verdict.reread_from, given=m.offset)
            REREADS.labels(service, m.topic).inc()
            await seek_back(app, m.tp, verdict.reread_from)
        if verdict.missing is not None:
            log.warning("partition_gap", service=service, topic=m.topic, partition=m.partition,
                        first=verdict.missing[0], last=verdict.missing[1])
            await missing(app, m.tp, *verdict.missing)
        if verdict.handle:
            kept.append(ev)
        else:
            set_aside(app, m)
    return kept


async def consume_batches(stream: Any, codec: Codec, handler: BatchHandler, *, app: faust.App, service: str,
                          max_batch: int = BATCH_MAX, within: float = BATCH_WITHIN, lock: asyncio.Lock | None = None,
                          progress: dict[tuple[str, int], int] | None = None,
                          wanted: frozenset[bytes] | None = None, recent: Recent | None = None) -> None:
    """Runs ``handler`` on every decoded event of ``stream``, a batch at a time (see ``Batch``);
    undecodable messages are dead-lettered with their reason. If anything in a batch fails
    but the broker being away (waited for), the batch is done again one event at a time, so the
    one event at fault is dead-lettered alone and every other one is handled.

    ``lock``: held for each batch (whatever else writes the same tables waits for it);
    ``progress``: (topic, partition) -> the last offset handled, dead-lettered ones included;
    ``wanted``: the ``ce_type`` headers worth decoding (None: every message), see ``skipped``;
    ``recent``: the states kept decoded between batches (see ``Recent``).
    No offset is passed over (see ``Continuity``)."""
    continuity = Continuity(partial(committed, app))
    async for batch in stream.take_events(max_batch, within):
        messages = await _continuous(batch, continuity, app=app, service=service)
        if not messages:
            continue
        work = asyncio.ensure_future(_locked_batch(skipped(messages, wanted, service), codec, handler, app=app,
                                                   service=service, lock=lock, recent=recent))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            # Stopping mid-batch: faust acks the batch's events as this loop unwinds, so the batch is
            # finished first (or the stop's time limit ends the process before anything is committed).
            with contextlib.suppress(Exception):
                await work
            raise
        if progress is not None:
            for m in messages:
                progress[(m.message.topic, m.message.partition)] = m.message.offset


def skipped(messages: list[Any], wanted: frozenset[bytes] | None, service: str) -> list[Any]:
    """The messages worth decoding: those whose ``ce_type`` header names a type in ``wanted``.

    Why: decoding and checking a signature costs far more than reading a header, and most of what
    a service reads is for another one. A message this service has no handler for is not acted on
    here whatever it holds, so nothing is lost by not decoding it; one without a known ``ce_type``
    is decoded (and dead-lettered with its reason). The ledger reads every topic and decodes
    everything, so a bad message of any type still reaches the dead-letter topic."""
    if wanted is None:
        return messages
    kept = [m for m in messages if (t := _ce_type(m.message.headers)) in wanted or t not in KNOWN_CE_TYPES]
    if len(kept) < len(messages):
        SKIPPED.labels(service).inc(len(messages) - len(kept))
    return kept


#: Every ``ce_type`` of the catalogue: a message of another (or none) is decoded, to be dead-lettered.
KNOWN_CE_TYPES = frozenset(et.ce_type.encode() for et in EVENT_TYPES.values())


def _ce_type(headers: Any) -> bytes | None:
    for name, value in headers or ():
        if name == "ce_type":
            return bytes(value)
    return None


async def _locked_batch(messages: list[Any], codec: Codec, handler: BatchHandler, *, app: faust.App, service: str,
                        lock: asyncio.Lock | None, recent: Recent | None) -> None:
    async with lock or contextlib.nullcontext():
        await _consume_batch(messages, codec, handler, app=app, service=service, recent=recent)


async def _consume_batch(messages: list[Any], codec: Codec, handler: BatchHandler, *, app: faust.App,
                         service: str, recent: Recent | None = None) -> None:
    decoded_events = [(await _decode(m.message, codec, app=app, service=service), m) for m in messages]
    events = [(e, m) for e, m in decoded_events if e is not None]
    if not events:
        return
    try:
        await _handle_batch(events, handler, app=app, service=service, recent=recent)
    except (FaustError, ProducerClosed, asyncio.CancelledError):
        raise  # the worker is stopping or broken: not these messages' fault
    except Exception as exc:
        if len(events) == 1:
            await _fail(app, codec, exc, events[0][0], service)
            return
        log.warning("batch_failed_one_at_a_time", service=service, events=len(events), error=repr(exc))
        for one in events:
            try:
                await _handle_batch([one], handler, app=app, service=service, recent=recent)
            except (FaustError, ProducerClosed, asyncio.CancelledError):
                raise
            except Exception as error:
                await _fail(app, codec, error, one[0], service)


async def _handle_batch(events: list[tuple[Event, Any]], handler: BatchHandler, *, app: faust.App,
                        service: str, recent: Recent | None = None) -> None:
    """``events``: each decoded event with the faust event it came in."""
    batch = Batch(recent)
    timings: list[tuple[Event, float]] = []
    for event, source in events:
        started = time.perf_counter()
        with processing(source):
            await handler(event, batch)
        timings.append((event, time.perf_counter() - started))
    await batch.complete(app, service=service)
    for event, took in timings:
        PROCESSING.labels(service, event.type).observe(took)
        CONSUMED.labels(service, event.topic, event.type, "handled").inc()


async def _fail(app: faust.App, codec: Codec, exc: Exception, event: Event, service: str) -> None:
    """Dead-letters the one event a handler (or its authorization) failed on, and counts it."""
    error: Exception = exc
    if isinstance(exc, AIOKafkaAuthorizationErrors):
        # Retrying cannot help until an admin grants the ACL: keep the message, serve everything else.
        error = denied(str(getattr(app.conf.broker_credentials, "username", "anonymous")), service, "write", f"({exc})",
                       OBSERVER)
    else:
        log.error("handler_failed", service=service, event_type=event.type, key=event.key, error=repr(exc))
        DEAD_LETTERS.labels(service, event.topic, "HANDLER_ERROR").inc()
    await _dead_letter_event(app, codec, error, event, service)
    CONSUMED.labels(service, event.topic, event.type, "dead_lettered").inc()
