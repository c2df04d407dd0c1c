"""One service skeleton: a service declares what it is, the core runs it.

A declaration names the service, the topics it reads and writes, the event types it emits, its
tables and, per table, a handler map. A handler is a plain function of the service's decisions
object, the state the table keeps under the message key (``None`` before the first event) and
the event; it returns the state to keep (``None``: keep nothing new) and the events to publish::

    TRIAGE = Service(
        "triage",
        topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_REPLIES),
        topics_out=(BUREAU_TRIAGE, UNIT_INBOX),
        emits=(PetitionTriaged, PetitionDiverted, CaseJurisdictionEscalated, CaseHandoffRequested),
        tables=(Table("triage-cases", {PetitionRegistered: Triage.registered, ...}),),
    )

A table may also have a ``tick``: a function of (decisions, state, now) run for every entry the
worker owns, every ``tick_seconds``, for what falls due with time (reminders, escalations). A
``Job`` is periodic work over the whole state that publishes nothing (gauges, a lag scrape), and
``http`` builds the service's HTTP API over a read-only ``View`` of its tables. A ``Keeper`` keeps
what a service derives from a table (the ledger's statistics) across a clean restart with RocksDB.

What every service needs lives here once:
- the derived-id rule's other half: an event id already handled for a key is skipped, so a
  redelivery changes nothing (a table whose state remembers its own ids says ``dedupe=False``);
- a handler that raises ``Refused`` changes nothing: the event is remembered as handled, logged
  and counted (``liandong_events_refused_total``), and the table's ``refusal`` says what to tell
  the sender (triage: ``answer.refused`` on the unit's inbox);
- a unit's answer that a service publishes goes to its event type's ``checked_on`` topic
  (``liandong.bureau.answers``): a service never writes a unit's replies topic;
- the order that makes a crash harmless: every output acknowledged by the broker before the state
  that says it was sent, then the offsets (``liandong.streams.Batch``), for events and ticks alike;
  the agent and the ticks never interleave;
- ticks wait until the tables are restored and every input partition has been read to its end as
  of the tick, so that what is issued is decided on everything the bus already holds;
- a handler may also return a ``Put``: an entry of another of the service's tables under a key
  of its own (the ledger's audit links), written and acknowledged before the state of the event's
  key, so that a state never names an entry that was not kept;
- the two ways to run a declaration: ``faust_runtime`` on the broker and ``InMemory`` for unit
  tests, through the real codec but without a broker.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from faust.types import TP
from kafka.partitioner.default import murmur2
from liandong_sdk import (
    Codec,
    Event,
    EventRecord,
    OutgoingMessage,
    PeerUnavailable,
    Refused,
    StartupError,
    answer_headers,
    concrete_topics,
    event_type,
    topic_matches,
)
from liandong_sdk.events import EVENT_CLASSES
from liandong_sdk.records import json_default

from ._bus import Bus
from ._logging import get_logger
from .api import Api, problem
from .clock import now as wall_clock
from .faust_patches import WRITTEN, committed, gather
from .metrics import REFUSED, WORKER_READY
from .runtime import Runtime
from .streams import BATCH_WITHIN, UNHURRIED_FETCH_BYTES, UNHURRIED_WITHIN, Batch, Recent, consume_batches, create_app, raw_topic, retrying
from .tokens import PEER_HEADER, TokenStore

State = Any


@dataclass(frozen=True)
class Put:
    """An entry a handler writes in another of its service's tables, under a key of its own, in the
    partition of the event in hand (so on the worker that owns the event's key). Written, and
    acknowledged, before the state of the event's key: a state may count on what it put.

    Why: what only grows (a case's audit links) kept in the state itself is written again, whole,
    with every event; kept as entries of its own, each is written once."""

    table: str
    key: str
    value: Any


#: An event to publish: typed, or an event type's name and plain record.
Published = EventRecord | tuple[str, dict[str, Any]]
#: What a handler may return: events to publish, and ``Put``s.
Output = Published | Put
#: (decisions, state, event) -> (state, outputs). The event is an ``Incoming[P]`` whose payload is
#: the class the handler is mapped to; a map keyed by class cannot tell a type checker which, hence Any.
Handler = Callable[[Any, State | None, Any], tuple[State | None, Sequence[Output]]]
Tick = Callable[[Any, State, datetime], tuple[State | None, Sequence[Published]]]
Clock = Callable[[], datetime]
#: What to publish when a handler refuses an event: (decisions, the event, the reason) -> outputs.
Refusal = Callable[[Any, Event, str], Sequence[Published]]

__all__ = ["Clock", "Elsewhere", "Handler", "InMemory", "Job", "Keeper", "Output", "Put", "Refusal", "Service", "State", "Table",
           "Tick", "View", "faust_runtime"]

log = get_logger(__name__)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default).encode()


@dataclass(frozen=True)
class Table:
    """One keyed state of a service (one entry per message key: a case, a task) and how it changes."""

    name: str
    handlers: Mapping[type[EventRecord], Handler]
    #: Run on every entry the worker owns, every tick, with the time: what falls due (None: nothing does).
    tick: Tick | None = None
    #: When an entry next falls due for ``tick`` (None: never, until an event changes it): a tick then
    #: visits only the entries due (``DueIndex``), not every one. Without it every entry, every tick.
    next_due: Callable[[Any, State], datetime | None] | None = None
    #: Handlers that act on the state under another key the event names (see ``Elsewhere``).
    elsewhere: Mapping[type[EventRecord], Elsewhere] = field(default_factory=dict)
    #: What to count (metrics) for an event that changed this table's state: decided as it is applied
    #: (the state as of that event), counted once its batch is complete, so a replayed batch counts once.
    counts: Callable[[Any, State, Event], Callable[[], None]] | None = None
    #: The core remembers the event ids handled per key (False: the state recognises its own repeats).
    dedupe: bool = True
    keep_handled: int = 50
    #: The state's own encoding, when it does not dedupe through the core (else JSON, with the ids handled).
    encode: Callable[[State], bytes] = field(default=_json, repr=False)
    decode: Callable[[bytes], State] = field(default=json.loads, repr=False)
    #: What to publish when a handler raises ``Refused`` (the sender's notice); None: nothing.
    refusal: Refusal | None = None

    def handler(self, event_type: str) -> Handler | None:
        return self._by_type.get(event_type)

    @cached_property
    def _by_type(self) -> dict[str, Handler]:
        # Built once: handler() is asked for every event the service reads.
        return {cls.TYPE: h for cls, h in self.handlers.items()}

    # -- the stored entry: the state, and (dedupe) the event ids it has handled ----------------
    def load(self, raw: bytes | None) -> Entry | None:
        if raw is None:
            return None
        if not self.dedupe:
            return Entry(self.decode(raw))
        stored = json.loads(raw)
        return Entry(stored["state"], stored["handled"])

    def dump(self, entry: Entry) -> bytes:
        if not self.dedupe:
            return self.encode(entry.state)
        return _json({"handled": entry.handled, "state": entry.state})

    def apply(self, decisions: Any, entry: Entry | None, event: Event, handler: Handler | None = None) -> Applied:
        """One event: the entry to store (None: nothing to store) and the outputs. An event this
        key has already handled, or a type without a handler here, gives nothing. ``handler``:
        another than the event type's (an ``Elsewhere`` one)."""
        handler = handler or self.handler(event.type)
        if handler is None or (entry is not None and event.id in entry.handled):
            return Applied()
        state = entry.state if entry is not None else None
        handled = [*(entry.handled if entry is not None else ())][-self.keep_handled:]
        if self.dedupe:
            handled.append(event.id)
        try:
            new_state, out = handler(decisions, state, event)
        except Refused as exc:  # nothing changes; remembered, so that a redelivery is not judged again
            notice: list[Output] = list(self.refusal(decisions, event, str(exc))) if self.refusal is not None else []
            return Applied(Entry(state, handled) if self.dedupe and state is not None else None, notice, str(exc))
        if new_state is None:
            return Applied(outputs=list(out))
        return Applied(Entry(new_state, handled), list(out))


@dataclass(frozen=True)
class Elsewhere:
    """A handler that acts on the state under another key the event names (a repeat petition, on
    its earlier case), besides or instead of the message key's. That entry is read and written only
    where this worker owns its partition (with several workers, elsewhere the event is not applied
    there, and a warning says so)."""

    key: Callable[[Any], str]  # of the event (an ``Incoming[P]``, as for a Handler)
    handler: Handler


@dataclass
class Entry:
    state: State
    handled: list[str] = field(default_factory=list)


@dataclass
class Applied:
    entry: Entry | None = None
    outputs: list[Output] = field(default_factory=list)
    refused: str | None = None


@dataclass(frozen=True)
class Job:
    """Periodic work over the whole state that publishes nothing: ``run(decisions, view, now)``, a
    function or a coroutine function (one that reads much gives way to the rest now and then).
    ``blocking``: it does I/O, so it runs in a thread (and must not read the tables)."""

    every: float
    run: Callable[[Any, View, datetime], Awaitable[None] | None]
    blocking: bool = False


class Peers:
    """The other workers of a service, for answers about keys they own. This one: a single worker
    (in memory, or the only worker of its group) owns every key."""

    def owner(self, table: str, key: str) -> str | None:
        """The base URL of the worker that owns ``key``, if it is another one."""
        return None

    def others(self) -> list[str]:
        """The base URLs of the group's other workers."""
        return []

    def mine(self) -> Callable[[bytes], bool]:
        """Whether this worker owns a key (the assignment read once: ask again after a rebalance)."""
        return lambda key: True

    def generation(self) -> object | None:
        """What this worker owns changes when this does; None while its tables are not whole
        (restoring, rebalancing)."""
        return 0


#: RocksDB's memory per table partition (one database each; the memory store ignores them). faust's
#: defaults (3 write buffers of 64 MiB, a 2 GiB block cache) would let a ledger's databases (36 with 3 tables
#: at 12 partitions) grow to tens of GiB: a first start that restored a million cases held 1 GiB until it
#: was restarted.
#: A case is one point read, so a small cache costs little (``liandong bench-scale``).
ROCKSDB_OPTIONS = {"write_buffer_size": 4 * 2**20, "max_write_buffer_number": 2, "block_cache_size": 8 * 2**20}


#: The path a worker serves its own entries of a table on, for the group's other workers (View.everywhere).
OWNED_PATH = "/_workers/owned/{table}"
#: Set on a question one worker forwards to another: that one answers from what it has.
FORWARDED = "X-Liandong-Forwarded"


class View:
    """Read-only access to a service's tables, states decoded (for HTTP views and jobs).

    A worker's tables also hold standby copies of partitions other workers own: ``states`` is all a
    worker has (its jobs' gauges), ``owned`` what it owns, ``everywhere`` what the whole group owns
    (asked of the others), ``owner`` which worker to ask about one key."""

    def __init__(self, tables: Mapping[str, tuple[Table, Any]], peers: Peers | None = None,
                 peer_key: Callable[[], str] | None = None) -> None:
        self._tables = tables
        self.peers = peers or Peers()
        #: The key this worker presents to the others (``liandong.tokens``: only workers ask each other).
        self.peer_key = peer_key or (lambda: "")
        #: A table's changelog offsets as its store has them, for each partition this worker owns
        #: (None where the store keeps none: in memory; and no partitions where nothing is kept).
        self.offsets: Callable[[str], dict[int, int | None]] = lambda table: {}
        #: Held by each batch from its first handler to its last count: a job that holds it sees no
        #: batch half done (the ledger's board, between what a handler saw and what it counted).
        self.exclusive = asyncio.Lock()

    def states(self, table: str) -> list[State]:
        spec, store = self._tables[table]
        return [entry.state for raw in list(store.values()) if (entry := spec.load(raw)) is not None]

    def get(self, table: str, key: str) -> State | None:
        spec, store = self._tables[table]
        entry = spec.load(store.get(key.encode()))
        return entry.state if entry is not None else None

    def owner(self, table: str, key: str) -> str | None:
        return self.peers.owner(table, key)

    def owned_keys(self, table: str) -> list[str]:
        _, store = self._tables[table]
        mine = self.peers.mine()
        return [key.decode() for key in list(store.keys()) if mine(key)]

    def owned_raw(self, table: str) -> list[bytes]:
        _, store = self._tables[table]
        mine = self.peers.mine()
        return [raw for key, raw in list(store.items()) if mine(key)]

    def owned(self, table: str) -> list[State]:
        spec, _ = self._tables[table]
        return [entry.state for raw in self.owned_raw(table) if (entry := spec.load(raw)) is not None]

    async def everywhere(self, table: str) -> list[State]:
        """Every state the group owns: this worker's and the others' (raises PeerUnavailable)."""
        spec, _ = self._tables[table]
        states = self.owned(table)
        for raws in await self.ask_others(OWNED_PATH.format(table=table)):
            states += [entry.state for raw in raws if (entry := spec.load(raw.encode())) is not None]
        return states

    async def ask_others(self, path_qs: str) -> list[Any]:
        """The JSON answers of the group's other workers to GET ``path_qs`` (a path of theirs for
        workers only: ``Api.internal``), in no set order (raises PeerUnavailable)."""
        others = self.peers.others()
        if not others:
            return []
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async def fetch(url: str) -> Any:
                try:
                    async with session.get(url + path_qs, headers={FORWARDED: "1", PEER_HEADER: self.peer_key()}) as response:
                        response.raise_for_status()
                        return await response.json()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    raise PeerUnavailable(f"worker {url} did not answer ({exc!r}): ask again") from exc

            return list(await asyncio.gather(*(fetch(url) for url in others)))


async def forward(request: web.Request, base_url: str) -> web.Response:
    """Asks the worker at ``base_url`` the same question (GET), as the same caller (its token goes
    along), and answers with its answer."""
    timeout = aiohttp.ClientTimeout(total=10)
    headers = {FORWARDED: "1", **{h: request.headers[h] for h in ("Authorization",) if h in request.headers}}
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(base_url + request.rel_url.path_qs, headers=headers) as response:
            return web.Response(body=await response.read(), status=response.status,
                                content_type=response.content_type, charset=response.charset)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return unavailable(PeerUnavailable(f"worker {base_url} owns it and did not answer ({exc!r}): ask again"))


def unavailable(exc: PeerUnavailable) -> web.Response:
    return problem(503, str(exc), headers={"Retry-After": "1"})


@web.middleware
async def peers_unavailable(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
    """An API that gathers from the group's workers answers 503 (with the cause) when one cannot be asked."""
    try:
        return await handler(request)
    except PeerUnavailable as exc:
        return unavailable(exc)


def forwarded(request: web.Request) -> bool:
    return FORWARDED in request.headers


def _serve_owned(api: Api, view: View) -> None:
    async def owned(request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if table not in view._tables:
            return problem(404, f"no table {table}")
        return web.json_response([raw.decode() for raw in view.owned_raw(table)])

    api.internal.append(("GET", OWNED_PATH, owned))


class _FaustPeers(Peers):
    """The group's workers as faust's partition assignor knows them: each one's canonical URL (its
    HTTP API, set by the runtime) and the table partitions it owns."""

    def __init__(self, app: Any, owned: Callable[[], set[int]], partitions: int) -> None:
        self._app = app
        self._owned = owned
        self._partitions = partitions

    def _me(self) -> str:
        return str(self._app.conf.canonical_url)

    def owner(self, table: str, key: str) -> str | None:
        try:
            url = str(self._app.router.key_store(table, key.encode()))
        except KeyError:  # not assigned yet (a rebalance): answer from what is here
            return None
        return None if url == self._me() else url

    def others(self) -> list[str]:
        return sorted({str(url) for url in self._app.assignor.tables_metadata()} - {self._me()})

    def mine(self) -> Callable[[bytes], bool]:
        owned, partitions = self._owned(), self._partitions
        return lambda key: _partition(key, partitions) in owned

    def generation(self) -> object | None:
        app = self._app
        if getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False) \
                or not app.tables.recovery.completed.is_set():
            return None
        generation: object = app.consumer_generation_id
        return generation


@dataclass(frozen=True)
class Keeper:
    """What a service derives from one table's entries (the ledger's kept sums), saved at a clean
    stop and loaded at the next start: otherwise a start reads every entry again to derive it.

    What was saved holds while the table's store (RocksDB) still has the offsets it was saved with
    (``View.offsets``); the records the table restores past them (written while the worker was
    away) reach ``restored`` first, before they replace the entries they follow."""

    table: str
    #: (decisions, path): at start, before the table restores; a missing or unreadable file, nothing.
    load: Callable[[Any, Path], object]
    #: (decisions, path, offsets, generation): at a clean stop, once the agent has stopped; the
    #: table's changelog offsets its store now has, for the partitions the worker owned since it
    #: was last restored (``recovered``) for that consumer generation.
    save: Callable[[Any, Path, dict[int, int | None], object], object]
    #: (decisions, partition, offset, key, the entry restored or None, the entry it replaces: read on
    #: demand) for each changelog record the table restores, active or standby.
    restored: Callable[[Any, int, int, bytes, bytes | None, Callable[[], bytes | None]], None]
    #: (decisions, view, generation): once the partitions the worker owns are restored, before any
    #: event of theirs is handled.
    recovered: Callable[[Any, View, object], None]


@dataclass(frozen=True)
class Service:
    name: str
    topics_in: tuple[str, ...]
    topics_out: tuple[str, ...]
    #: What the handlers may publish (checked by ``InMemory``, listed by ``liandong events``).
    emits: tuple[type[EventRecord], ...]
    tables: tuple[Table, ...] = ()
    #: Seconds between ticks, for the tables that have one (configurable per run: ``faust_runtime``).
    tick_seconds: float = 1.0
    jobs: tuple[Job, ...] = ()
    #: The service's HTTP API: ``http(decisions, view, clock)``, served on the port ``faust_runtime`` is given.
    http: Callable[[Any, View, Clock], Api] | None = None
    #: Decode every message read, handled or not (the ledger: so that a bad message of any type is
    #: dead-lettered); else only those whose ``ce_type`` header names a type handled here.
    decodes_all: bool = False
    #: No one waits on it for an answer (the ledger, notices, supervision): it takes its input in
    #: fuller batches, fetched less often (``batch_within``, ``fetch_min_bytes``).
    unhurried: bool = False
    #: What it derives from a table and keeps across a clean restart (persistent table stores only).
    keeper: Keeper | None = None

    @property
    def batch_within(self) -> float:
        """How long a batch of its input waits to fill (``take_events``' window): the latency it adds
        where it sits on the way to an answer, and, when idle, a wake-up each time it passes."""
        return UNHURRIED_WITHIN if self.unhurried else BATCH_WITHIN

    @property
    def fetch_min_bytes(self) -> int:
        """Bytes the broker gathers before it answers a fetch (else at the long poll's end, 100 ms); 1
        answers at the first record. Every fetch costs the broker a read of each partition the worker
        owns, so an unhurried service has fewer, fuller ones."""
        return UNHURRIED_FETCH_BYTES if self.unhurried else 1

    @property
    def handlers(self) -> dict[type[EventRecord], list[str]]:
        """Every event type handled, with the handlers' names (for ``liandong events``)."""
        found: dict[type[EventRecord], list[str]] = {}
        for t in self.tables:
            for cls, h in [*t.handlers.items(), *((c, e.handler) for c, e in t.elsewhere.items())]:
                found.setdefault(cls, []).append(getattr(h, "__qualname__", repr(h)))
        return found

    @property
    def wanted(self) -> frozenset[bytes] | None:
        """The ``ce_type`` headers of the messages to decode (None: every message)."""
        if self.decodes_all:
            return None
        return frozenset(event_type(cls.TYPE).ce_type.encode() for cls in self.handlers)

    def encode(self, codec: Codec, output: Published, cause: Event | None = None) -> OutgoingMessage:
        """The message of ``output``, published while handling ``cause``."""
        source = f"/liandong/{self.name}"
        name, record = (output.TYPE, output.to_record()) if isinstance(output, EventRecord) else output
        msg = codec.encode(name, record, source=source)
        checked_on = event_type(name).checked_on
        if checked_on is not None:  # a service never writes a unit's replies: a unit answer it publishes is the checked one
            headers = msg.headers
            if cause is not None and cause.signer is not None and cause.id == str(record.get("event_id")):
                # the answer itself, checked: it carries the unit's own signature of what it sent
                headers = headers + answer_headers(cause.headers, cause.topic, cause.raw_value)
            return OutgoingMessage(checked_on, msg.key, msg.value, headers)
        return msg


class DueIndex:
    """When each entry of a ticking table next falls due, earliest first (a heap with stale
    entries skipped): a tick takes the keys due and looks at nothing else. Rebuilt from the table
    when the worker's assignment changes (its restored partitions were not written through it)."""

    def __init__(self) -> None:
        self._due: dict[bytes, datetime] = {}
        self._heap: list[tuple[datetime, bytes]] = []
        self.generation: int | None = None

    def __len__(self) -> int:
        return len(self._due)

    def set(self, key: bytes, when: datetime | None) -> None:
        if when is None:
            self._due.pop(key, None)
        elif self._due.get(key) != when:
            self._due[key] = when
            heapq.heappush(self._heap, (when, key))

    def take(self, at: datetime) -> list[bytes]:
        """The keys due at ``at``, removed (``set`` them again from their new state)."""
        due = []
        while self._heap and self._heap[0][0] <= at:
            when, key = heapq.heappop(self._heap)
            if self._due.get(key) == when:
                del self._due[key]
                due.append(key)
        return due

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()


class Stalled:
    """Says so, once a minute, while a service's ticks keep waiting for its input to be read to the
    end: a letter that never goes out is otherwise silent (CI of stop 33: a partition's end stayed
    unknown, and supervision waited for it for good)."""

    def __init__(self, service: str, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._service, self._every, self._clock = service, every, clock
        self._since: float | None = None
        self._said = 0.0

    def waiting(self, unread: list[str]) -> bool:
        """Another tick put off for ``unread``; True when that was logged."""
        t = self._clock()
        if self._since is None:
            self._since = self._said = t
            return False
        if t - self._said < self._every:
            return False
        self._said = t
        log.warning("ticks_waiting", service=self._service, seconds=round(t - self._since), partitions=len(unread),
                    unread=unread[:5])
        return True

    def clear(self) -> None:
        self._since = None


def faust_runtime(service: Service, bus: Bus, decisions: Any, *, app_id: str | None = None,
                  clock: Clock | None = None, tick_seconds: float | None = None, port: int | None = None) -> Runtime:
    """The declaration as a faust app: one agent over ``topics_in``, a faust table per table, a timer
    for the ticks and each job, and the HTTP API on ``port`` (0: any free port)."""
    app_id = app_id or service.name
    now: Clock = clock or wall_clock  # the wall clock, or a simulation's compressed one
    runtime = Runtime(service.name, bus, topics=tuple(concrete_topics(*service.topics_in, *service.topics_out)))
    stores: dict[str, tuple[Table, Any]] = {}
    tokens = TokenStore(bus.settings.tokens_path)
    view = View(stores, peer_key=lambda: tokens.peer_key)
    #: What /healthz adds about the worker (once it is a member of its group: below).
    health: list[Callable[[], dict[str, Any]]] = [dict]
    if service.http is not None:
        api = service.http(decisions, view, now)
        _serve_owned(api, view)
        runtime.web_apps.append((api.application(tokens, middlewares=[peers_unavailable], health=lambda: health[0]()),
                                 port or 0))  # 0: any free port
    if not service.topics_in:  # nothing to read: the jobs alone, no consumer group
        _loop_jobs(service, runtime, decisions, view, now)
        return runtime

    if bus.settings.table_store != "memory://" and any(t.elsewhere for t in service.tables):
        # faust's RocksDB store looks a key up in the partition of the event in hand: an entry
        # under another key (another case) would be missed.
        raise StartupError(f"{service.name}: its tables act on entries under another key than the event's; they need "
                           f"LIANDONG_TABLE_STORE=memory:// (not {bus.settings.table_store})")
    app = create_app(app_id, bus)
    gather(app, service.fetch_min_bytes)
    partitions = bus.settings.topic_partitions
    topics_in = concrete_topics(*service.topics_in)
    keeper = service.keeper if bus.settings.table_store != "memory://" else None
    for t in service.tables:
        # A ticking table is written outside any stream event too: its changelog partition then comes
        # from the producer's partitioner (murmur2 of the key, as for every keyed topic of the bus).
        stores[t.name] = (t, app.Table(t.name, partitions=partitions, key_type=bytes, value_type=bytes,
                                       use_partitioner=t.tick is not None, options=dict(ROCKSDB_OPTIONS),
                                       on_changelog_event=_restored(keeper, decisions, stores)
                                       if keeper is not None and keeper.table == t.name else None))
    indexes = {t.name: DueIndex() for t in service.tables if t.tick is not None and t.next_due is not None}
    lock = asyncio.Lock()  # the agent's batches and the ticks never interleave
    progress: dict[tuple[str, int], int] = {}  # (topic, partition) -> the last offset handled
    recent = Recent()  # the states of the cases in flight, kept decoded between batches
    kept = _Kept()  # the generation and the keeper table's offsets as last restored
    kept_at = Path(app.conf.tabledir) / f"{app_id}-{keeper.table}.kept.json" if keeper is not None else None

    def apply(spec: Table, store: Any, key: bytes, event: Event, batch: Batch, handler: Handler | None = None) -> None:
        applied = spec.apply(decisions, batch.get(store, key, spec.load), event, handler)
        _refused(service, event, applied)
        for output in applied.outputs:
            if isinstance(output, Put):
                target, target_store = _target(stores, output)
                batch.put(target_store, output.key.encode(), output.value, target.encode, first=True)
            else:
                batch.send(service.encode(bus.codec, output, event))
        if applied.entry is not None:  # stored once the outputs are acknowledged
            batch.put(store, key, applied.entry, spec.dump)
            index = indexes.get(spec.name)
            if index is not None:
                batch.after(partial(index.set, key, spec.next_due(decisions, applied.entry.state)))  # type: ignore[misc]
            if spec.counts is not None:
                batch.after(spec.counts(decisions, applied.entry.state, event))

    async def handle(event: Event, batch: Batch) -> None:
        for spec, store in stores.values():
            if spec.handler(event.type) is not None:  # most of what a service reads needs nothing of a table
                apply(spec, store, event.key.encode(), event, batch)
            other = spec.elsewhere.get(EVENT_CLASSES.get(event.type))  # type: ignore[arg-type]
            if other is not None:
                key = other.key(event).encode()
                if view.peers.mine()(key):
                    apply(spec, store, key, event, batch, other.handler)
                else:
                    log.warning("elsewhere_not_owned", service=service.name, event_type=event.type,
                                key=key.decode(errors="replace"))

    @app.agent(raw_topic(app, *topics_in), name=f"{app_id}.handle")
    async def agent(stream: Any) -> None:
        await consume_batches(stream, bus.codec, handle, app=app, service=service.name, lock=lock, progress=progress,
                              wanted=service.wanted, recent=recent, within=service.batch_within)

    def unread() -> list[str]:
        """The input partitions not yet handled up to their end: a tick decides on what the bus already
        holds (after a restart, a case's inbox may be read before its replies: a stopped clock must
        stay so)."""
        consumer = app.consumer
        found = []
        for tp in consumer.assignment():
            if tp.topic not in topics_in:
                continue
            end = consumer.highwater(tp)  # the next offset to be written
            read = max(progress.get((tp.topic, tp.partition), -1) + 1, committed(app, tp) or 0)
            if end is None or read < end:
                found.append(f"{tp.topic}/{tp.partition}: " + ("end unknown" if end is None else f"{read} of {end}"))
        return found

    def owned() -> set[int]:
        # Standby copies of other workers' partitions are in the tables too: tick only what is ours.
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic in topics_in}

    view.peers = _FaustPeers(app, owned, partitions)

    def ready() -> bool:
        # Not before the app has started: a scrape would otherwise create faust's table recovery early.
        return bool(app.started and not app.should_stop and view.peers.generation() is not None)

    WORKER_READY.labels(service.name).set_function(lambda: 1.0 if ready() else 0.0)
    # Whether the worker is between rebalances with its tables restored, and the partitions it owns.
    health[0] = lambda: {"ready": (now_ready := ready()), "partitions": sorted(owned()) if now_ready else []}

    async def unready() -> None:  # stopped: 0, and the registry no longer holds on to the app
        WORKER_READY.labels(service.name).set_function(lambda: 0.0)

    runtime.on_stop.append(unready)

    def offsets(table: str) -> dict[int, int | None]:
        _, store = stores[table]
        topic = store.changelog_topic.get_topic_name()
        return {p: store.persisted_offset(TP(topic, p)) for p in sorted(owned())}

    view.offsets = offsets
    view.exclusive = lock
    if keeper is not None and kept_at is not None:
        async def load() -> None:
            keeper.load(decisions, kept_at)

        async def recovered() -> None:  # before any event of the partitions restored is handled
            generation = app.consumer_generation_id
            kept.generation, kept.offsets = generation, view.offsets(keeper.table)
            keeper.recovered(decisions, view, generation)

        async def save() -> None:  # the agent has stopped: no batch is in flight, none comes after
            if kept.offsets is None:
                return  # never restored: nothing it derived stands for the store
            written = WRITTEN.get(stores[keeper.table][1].changelog_topic.get_topic_name(), {})
            offsets = {p: max((x for x in (o, written.get(p)) if x is not None), default=None)
                       for p, o in kept.offsets.items()}
            try:
                keeper.save(decisions, kept_at, offsets, kept.generation)
            except Exception:  # the next start reads every entry instead: slower, not wrong
                log.exception("keep_failed", service=service.name, path=str(kept_at))

        stores[keeper.table][1].on_recover(recovered)
        runtime.on_start.append(load)
        runtime.on_stop.append(save)

    def due_keys(spec: Table, store: Any, at: datetime, mine: Callable[[bytes], bool]) -> list[bytes]:
        index = indexes.get(spec.name)
        if index is None:  # no next_due: every entry the worker owns
            return [key for key in list(store.keys()) if mine(key)]
        if index.generation != app.consumer_generation_id:  # a rebalance: what this worker owns changed
            index.clear()
            for key, raw in list(store.items()):
                if mine(key) and (entry := spec.load(raw)) is not None:
                    index.set(key, spec.next_due(decisions, entry.state))  # type: ignore[misc]
            index.generation = app.consumer_generation_id
        return index.take(at)

    async def tick(at: datetime) -> int:
        batch = Batch(recent)
        taken: list[tuple[DueIndex, bytes]] = []
        async with lock:
            try:
                await _tick(at, batch, taken)
            except BaseException:
                for index, key in taken:  # not done: due again (the ticker tries again)
                    index.set(key, at)
                raise
        return len(batch.messages)

    async def _tick(at: datetime, batch: Batch, taken: list[tuple[DueIndex, bytes]]) -> None:
        mine = view.peers.mine()
        for spec, store in stores.values():
            if spec.tick is None:
                continue
            index = indexes.get(spec.name)
            for key in due_keys(spec, store, at, mine):
                if index is not None:
                    taken.append((index, key))
                entry = spec.load(store.get(key))  # each key once per tick: nothing of this batch to read first
                if entry is None:
                    continue
                try:
                    new_state, out = spec.tick(decisions, entry.state, at)
                except Exception:  # one entry's trouble must not stop the others, nor the timer
                    log.exception("tick_failed", service=service.name, table=spec.name, key=key.decode())
                    if index is not None:
                        index.set(key, at)  # tried again next tick
                    continue
                state = new_state if new_state is not None else entry.state
                if index is not None:
                    batch.after(partial(index.set, key, spec.next_due(decisions, state)))  # type: ignore[misc]
                if not out:
                    continue
                for output in out:
                    batch.send(service.encode(bus.codec, output))
                batch.put(store, key, Entry(state, entry.handled), spec.dump)
        await batch.complete(app, service=service.name)

    if any(t.tick is not None for t in service.tables):
        stalled = Stalled(service.name)

        @app.timer(interval=tick_seconds or service.tick_seconds)  # type: ignore[untyped-decorator]
        async def ticker() -> None:
            # A timer's exception would stop the worker's timers: never let one escape.
            try:
                if view.peers.generation() is None:
                    return  # the tables are not whole yet: issuing now could repeat a reminder
                if behind := unread():
                    stalled.waiting(behind)
                    return  # events the bus already holds may settle what would fall due
                stalled.clear()
                at = now()
                issued = await retrying(partial(tick, at), service=service.name, what="tick")
                if issued:
                    log.info("tick_issued", service=service.name, count=issued, at=at.isoformat())
            except Exception:
                log.exception("tick_failed", service=service.name)

    for job in service.jobs:
        app.timer(interval=job.every)(_job_once(service, job, decisions, view, now))
    runtime.faust_apps.append(app)
    return runtime


def _target(stores: Mapping[str, tuple[Table, Any]], put: Put) -> tuple[Table, Any]:
    found = stores.get(put.table)
    if found is None:
        raise KeyError(f"a handler put an entry in {put.table!r}, which is not one of the service's tables")
    return found


@dataclass
class _Kept:
    generation: object = None
    offsets: dict[int, int | None] | None = None


def _restored(keeper: Keeper, decisions: Any, stores: dict[str, tuple[Table, Any]]) -> Callable[[Any], Awaitable[None]]:
    """faust's ``on_changelog_event`` for the kept table: it comes before the record is applied."""
    async def restored(event: Any) -> None:
        message = event.message
        _, store = stores[keeper.table]
        key: bytes = message.key
        keeper.restored(decisions, message.partition, message.offset, key, message.value, lambda: store.get(key))
    return restored


def _partition(key: bytes, partitions: int) -> int:
    """The partition of a key, as the bus's producers choose it (murmur2, Kafka's default)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def _job_once(service: Service, job: Job, decisions: Any, view: View, now: Clock) -> Callable[[], Awaitable[None]]:
    async def once() -> None:
        # A timer's exception would stop the worker's timers: never let one escape.
        try:
            if job.blocking:
                await asyncio.to_thread(job.run, decisions, view, now())
            elif inspect.isawaitable(done := job.run(decisions, view, now())):
                await done
        except Exception:
            log.exception("job_failed", service=service.name, job=getattr(job.run, "__qualname__", repr(job.run)))
    once.__name__ = once.__qualname__ = f"{service.name}.{getattr(job.run, '__name__', 'job')}"
    return once


def _loop_jobs(service: Service, runtime: Runtime, decisions: Any, view: View, now: Clock) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def loop(job: Job) -> None:
        once = _job_once(service, job, decisions, view, now)
        while True:
            await once()
            await asyncio.sleep(job.every)

    async def start() -> None:
        tasks.extend(asyncio.ensure_future(loop(job)) for job in service.jobs)

    async def stop() -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)


def _refused(service: Service, event: Event, applied: Applied) -> None:
    if applied.refused is not None:
        log.warning("event_refused", service=service.name, event_type=event.type, key=event.key,
                    event_id=event.id, reason=applied.refused)
        REFUSED.labels(service.name, event.type).inc()


class InMemory:
    """A declaration run without a broker, for unit tests (as faststream's TestKafkaBroker):
    events in, events out, the tables' states visible, ticks run at a given time. Every event goes
    through the real codec both ways, so topics, keys and schemas are checked as on the bus."""

    def __init__(self, service: Service, decisions: Any, codec: Codec) -> None:
        self.service, self.decisions, self.codec = service, decisions, codec
        self.stores: dict[str, dict[bytes, bytes]] = {t.name: {} for t in service.tables}
        self._tables = {t.name: (t, self.stores[t.name]) for t in service.tables}
        self.view = View(self._tables)
        self.published: list[Event] = []
        self.refused: list[tuple[Event, str]] = []

    def state(self, key: str, table: str | None = None) -> State | None:
        """The state kept under ``key`` (in the service's only table, unless ``table`` names one)."""
        return self.view.get(table or self._only_table(), key)

    def _only_table(self) -> str:
        (only,) = self.service.tables
        return only.name

    def send(self, event: Published | Event) -> list[Event]:
        """Delivers one event (typed, an event type's name and record, or decoded) as the service
        would consume it; returns what it published."""
        if not isinstance(event, Event):
            # As its sender writes it: a unit's answer on its replies topic, or (for a service that
            # reads only the checked answers) the referee's copy.
            name, record = (event.TYPE, event.to_record()) if isinstance(event, EventRecord) else event
            msg = self.codec.encode(name, record, source="/liandong/test")
            checked_on = event_type(name).checked_on
            if checked_on in self.service.topics_in and not any(topic_matches(t, msg.topic) for t in self.service.topics_in):
                msg = OutgoingMessage(checked_on, msg.key, msg.value, msg.headers)
            event = self.codec.decode(msg.topic, msg.key, msg.value, msg.headers)
        if not any(topic_matches(t, event.topic) for t in self.service.topics_in):
            raise ValueError(f"{self.service.name} does not read {event.topic} (it reads {', '.join(self.service.topics_in)})")
        out: list[Published] = []
        for spec in self.service.tables:
            store = self.stores[spec.name]
            targets: list[tuple[bytes, Handler | None]] = []
            if spec.handler(event.type) is not None:
                targets.append((event.key.encode(), None))
            other = spec.elsewhere.get(EVENT_CLASSES.get(event.type))  # type: ignore[arg-type]
            if other is not None:
                targets.append((other.key(event).encode(), other.handler))
            for key, handler in targets:
                applied = spec.apply(self.decisions, spec.load(store.get(key)), event, handler)
                if applied.refused is not None:
                    self.refused.append((event, applied.refused))
                for output in applied.outputs:
                    if isinstance(output, Put):  # before the state that names it, as on the bus
                        target, target_store = _target(self._tables, output)
                        target_store[output.key.encode()] = target.encode(output.value)
                    else:
                        out.append(output)
                if applied.entry is not None:
                    store[key] = spec.dump(applied.entry)  # as the table would: the stored bytes, read back
                    if spec.counts is not None:
                        spec.counts(self.decisions, applied.entry.state, event)()  # a batch of one, complete
        return self._publish(out, event)

    def tick(self, at: datetime) -> list[Event]:
        """Runs every table's tick at ``at``, as the timer would; returns what it published."""
        out: list[Published] = []
        for spec in self.service.tables:
            if spec.tick is None:
                continue
            store = self.stores[spec.name]
            for key, raw in list(store.items()):
                entry = spec.load(raw)
                assert entry is not None
                new_state, issued = spec.tick(self.decisions, entry.state, at)
                if issued:
                    store[key] = spec.dump(Entry(new_state if new_state is not None else entry.state, entry.handled))
                    out += issued
        return self._publish(out)

    def _publish(self, out: Sequence[Published], cause: Event | None = None) -> list[Event]:
        emitted = [cls.TYPE for cls in self.service.emits]
        published = []
        for output in out:
            msg = self.service.encode(self.codec, output, cause)
            decoded = self.codec.decode(msg.topic, msg.key, msg.value, msg.headers)
            if decoded.type not in emitted:
                raise AssertionError(f"{self.service.name} published {decoded.type}, which its declaration does not emit")
            if not any(topic_matches(t, msg.topic) for t in self.service.topics_out):
                raise AssertionError(f"{self.service.name} published on {msg.topic}, not one of its topics out")
            published.append(decoded)
        self.published += published
        return published
