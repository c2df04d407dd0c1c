"""Incremental fetch sessions (Kafka's KIP-227) for aiokafka's fetcher: patch 9 of
``liandong.faust_patches``.

Why: aiokafka sends every fetch as a full one, naming every partition the consumer reads, and the
broker answers for each of them. Triage and the ledger read about 20 topics each (over 200 partitions
at the 12 a topic of the time), and each service fetches again after every record it gets, so at
load most of a fetch's cost, in the broker and in the client's pure-Python protocol code, went on
partitions with nothing new. The Java client has used sessions since Kafka 1.1: the broker keeps the list, and a
request names only the partitions whose fetch offset changed (``send``) or that the consumer stopped
reading (``forgotten``); the answer holds only partitions with records or with new metadata (high
watermark, log start, an error).

The bookkeeping is the Java client's (``FetchSessionHandler``): a full request (epoch 0) asks for a
new session, and closes the one named by its id, if any; its answer's id (0: the broker keeps none)
starts it at epoch 1; each answered incremental request moves the epoch on; an error of the session
itself (an unknown id, a wrong epoch: the broker evicted or restarted), a failed or cancelled
request, or a broker too old for sessions (FetchRequest < v7) ends it, and the next request is full
again. So is a request for a partition whose end (high watermark) the consumer does not know: after
a new assignment, a quiet partition would otherwise never be answered for, and its end stay unknown
(faust's ticking services wait until they have read to every end). A partition aiokafka leaves out
of a fetch (records still buffered, paused, awaiting a reset) is forgotten, and named again with its
offset when it is fetched again, so the broker never reads it from an offset the consumer has moved
past.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

#: Epochs of KIP-227: 0 asks for a new session (or, with an id, for none); then 1, 2, ...
INITIAL_EPOCH = 0
MAX_EPOCH = 2**31 - 1
#: The oldest FetchRequest with session fields.
SESSION_VERSION = 7

Wanted = dict[TopicPartition, tuple[int, int]]  # partition -> (fetch offset, max bytes)


class FetchSession:
    """What one broker holds for this consumer: the session id, the next epoch, and each partition
    in the session with the fetch offset it was last sent."""

    def __init__(self) -> None:
        self.id = 0
        self.epoch = INITIAL_EPOCH
        self.partitions: Wanted = {}
        #: Requests answered, and how many of them were incremental (for tests and the curious).
        self.full = 0
        self.incremental = 0

    def request(self, base: FetchRequest, unknown: Callable[[TopicPartition], bool] | None = None
                ) -> SessionFetchRequest:
        """``base`` (aiokafka's full fetch) as this session's next request. ``unknown``: whether the
        consumer knows nothing yet of a partition's end (a new assignment): a broker answers in a
        session only for partitions where something changed, so such a partition needs a full fetch."""
        wanted: Wanted = {TopicPartition(topic, partition): (offset, max_bytes)
                          for topic, partitions in base.topics for partition, offset, max_bytes in partitions}
        if self.epoch == INITIAL_EPOCH or (unknown is not None and any(map(unknown, wanted))):
            # with the id of a session the broker may still hold: it closes that one and opens another
            return SessionFetchRequest(base, self, wanted, send=wanted, forgotten=[], session_id=self.id,
                                       epoch=INITIAL_EPOCH)
        send = {tp: v for tp, v in wanted.items() if self.partitions.get(tp) != v}
        forgotten = [tp for tp in self.partitions if tp not in wanted]
        return SessionFetchRequest(base, self, wanted, send=send, forgotten=forgotten, session_id=self.id,
                                   epoch=self.epoch)

    def answered(self, request: SessionFetchRequest, response: Any) -> None:
        error = int(getattr(response, "error_code", 0) or 0)
        if request.version is None or request.version < SESSION_VERSION or error:
            self.reset()
            return
        if request.epoch == INITIAL_EPOCH:
            self.full += 1
            self.id = response.session_id  # 0: the broker keeps no session, the next request is full again
            self.epoch = INITIAL_EPOCH if self.id == 0 else 1
        else:
            self.incremental += 1
            self.epoch = self.epoch + 1 if self.epoch < MAX_EPOCH else 1
        self.partitions = request.wanted if self.id else {}

    def reset(self) -> None:
        """The next request is full (the id stays: that request closes the session on the broker)."""
        self.epoch = INITIAL_EPOCH
        self.partitions = {}


class SessionFetchRequest(FetchRequest):  # type: ignore[misc]  # aiokafka's protocol classes are untyped here
    """A fetch in a session. ``topics`` (what aiokafka reads the answer against) is every partition
    wanted; what goes on the wire is only ``send`` and ``forgotten``, with the session's id and epoch."""

    def __init__(self, base: FetchRequest, session: FetchSession, wanted: Wanted, *, send: Wanted,
                 forgotten: list[TopicPartition], session_id: int, epoch: int) -> None:
        super().__init__(base._max_wait_ms, base._min_bytes, base._max_bytes, base._isolation_level, base.topics,
                         rack_id=base._rack_id)
        self.session = session
        self.wanted = wanted
        self.send = send
        self.forgotten = forgotten
        self.session_id = session_id
        self.epoch = epoch
        self.version: int | None = None

    def build(self, request_struct_class: Any) -> Any:
        self.version = request_struct_class.API_VERSION
        if self.version < SESSION_VERSION:  # no sessions: the full fetch aiokafka asked for
            return super().build(request_struct_class)
        every = self.topics
        self._topics = _by_topic(self.send)
        try:
            struct = super().build(request_struct_class)
        finally:
            self._topics = every
        struct.session_id = self.session_id
        struct.session_epoch = self.epoch
        struct.forgotten_topics_data = [(topic, [tp.partition for tp in tps])
                                        for topic, tps in _group(self.forgotten).items()]
        return struct


def _group(tps: Any) -> dict[str, list[TopicPartition]]:
    out: dict[str, list[TopicPartition]] = {}
    for tp in tps:
        out.setdefault(tp.topic, []).append(tp)
    return out


def _by_topic(wanted: Wanted) -> list[tuple[str, list[tuple[int, int, int]]]]:
    return [(topic, [(tp.partition, *wanted[tp]) for tp in tps]) for topic, tps in _group(wanted).items()]


class _SessionClient:
    """The fetcher's client: a fetch in a session reports its answer (or its failure) to the session."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def send(self, node_id: int, request: Any, **kwargs: Any) -> Any:
        if not isinstance(request, SessionFetchRequest):
            return await self._client.send(node_id, request, **kwargs)
        try:
            response = await self._client.send(node_id, request, **kwargs)
        except BaseException:  # unknown whether the broker moved the session on: start a new one
            request.session.reset()
            raise
        request.session.answered(request, response)
        return response


def sessions(fetcher: Any) -> dict[int, FetchSession]:
    """Each broker's session of ``fetcher`` (an aiokafka Fetcher), by node id."""
    found: dict[int, FetchSession] = fetcher.__dict__.setdefault("_liandong_fetch_sessions", {})
    return found


def _with_sessions_client(init: Any) -> Any:
    @functools.wraps(init)
    def __init__(self: Any, client: Any, *args: Any, **kwargs: Any) -> None:
        init(self, _SessionClient(client), *args, **kwargs)
    __init__.liandong_patched = True  # type: ignore[attr-defined]
    return __init__


def _in_sessions(get_actions: Any) -> Any:
    @functools.wraps(get_actions)
    def _get_actions_per_node(self: Any, assignment: Any) -> Any:
        fetch_requests, *rest = get_actions(self, assignment)
        by_node = sessions(self)

        def unknown(tp: TopicPartition) -> bool:
            return assignment.state_value(tp).highwater is None

        fetch_requests = [(node_id, by_node.setdefault(node_id, FetchSession()).request(request, unknown))
                          for node_id, request in fetch_requests]
        return (fetch_requests, *rest)
    _get_actions_per_node.liandong_patched = True  # type: ignore[attr-defined]
    return _get_actions_per_node


def install() -> None:
    """Every aiokafka fetcher created from now on fetches in sessions (idempotent)."""
    if not getattr(Fetcher.__init__, "liandong_patched", False):
        Fetcher.__init__ = _with_sessions_client(Fetcher.__init__)
    if not getattr(Fetcher._get_actions_per_node, "liandong_patched", False):
        Fetcher._get_actions_per_node = _in_sessions(Fetcher._get_actions_per_node)
