"""Incremental fetch sessions (liandong.fetch_sessions): what goes on the wire at each step, and when a
session starts again. Against a real broker: tests/integration/test_fetch_sessions.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.protocol.fetch import FetchRequest, FetchRequest_v4, FetchRequest_v11
from aiokafka.structs import TopicPartition

from liandong.fetch_sessions import INITIAL_EPOCH, FetchSession, SessionFetchRequest, _SessionClient

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def full(offsets: dict[TopicPartition, int]) -> FetchRequest:
    """aiokafka's fetch of ``offsets``, as its fetcher builds it."""
    by_topic: dict[str, list[tuple[int, int, int]]] = {}
    for tp, offset in offsets.items():
        by_topic.setdefault(tp.topic, []).append((tp.partition, offset, 1048576))
    return FetchRequest(100, 1, 52428800, 0, list(by_topic.items()))


def wire(request: SessionFetchRequest, struct: type = FetchRequest_v11) -> Any:
    return request.build(struct)


def named(struct: Any) -> set[tuple[str, int, int]]:
    return {(topic, p[0], p[2]) for topic, parts in struct.topics for p in parts}


def answer(session_id: int = 0, error_code: int = 0) -> Any:
    return SimpleNamespace(session_id=session_id, error_code=error_code, topics=[])


def test_a_session_starts_full_then_names_only_what_moved_and_what_was_left_out() -> None:
    session = FetchSession()
    first = session.request(full({A0: 5, A1: 7, B0: 0}))
    struct = wire(first)
    assert (struct.session_id, struct.session_epoch) == (0, INITIAL_EPOCH)
    assert named(struct) == {("a", 0, 5), ("a", 1, 7), ("b", 0, 0)} and struct.forgotten_topics_data == []
    session.answered(first, answer(session_id=42))
    assert (session.id, session.epoch) == (42, 1)

    # nothing moved: an empty request in the session; the answer reads against every partition
    second = session.request(full({A0: 5, A1: 7, B0: 0}))
    struct = wire(second)
    assert (struct.session_id, struct.session_epoch) == (42, 1) and named(struct) == set()
    assert {tp for tp in second.wanted} == {A0, A1, B0}
    assert {(t, p) for t, parts in second.topics for p, *_ in parts} == {("a", 0), ("a", 1), ("b", 0)}
    session.answered(second, answer(session_id=42))
    assert session.epoch == 2

    # a0 read on to 9; b0 left out (its records still buffered): b0 forgotten, a0 sent with its offset
    third = session.request(full({A0: 9, A1: 7}))
    struct = wire(third)
    assert named(struct) == {("a", 0, 9)} and struct.forgotten_topics_data == [("b", [0])]
    session.answered(third, answer(session_id=42))
    # b0 fetched again: named again, from where the consumer is now
    fourth = wire(session.request(full({A0: 9, A1: 7, B0: 3})))
    assert named(fourth) == {("b", 0, 3)} and fourth.session_epoch == 3


@pytest.mark.parametrize("why", ["session error", "no session kept", "old broker", "failed send"])
def test_a_session_the_broker_may_not_hold_starts_again_with_a_full_fetch(why: str) -> None:
    session = FetchSession()
    first = session.request(full({A0: 1, A1: 1}))
    wire(first)
    session.answered(first, answer(session_id=7))
    nxt = session.request(full({A0: 2, A1: 1}))
    if why == "session error":  # FETCH_SESSION_ID_NOT_FOUND: the broker evicted it or restarted
        wire(nxt)
        session.answered(nxt, answer(error_code=70))
    elif why == "no session kept":
        session.reset()
        again = session.request(full({A0: 2, A1: 1}))
        wire(again)
        session.answered(again, answer(session_id=0))  # its session cache is full
    elif why == "old broker":  # FetchRequest v4: no session fields, the full fetch aiokafka asked for
        struct = nxt.build(FetchRequest_v4)
        assert {(t, p[0]) for t, parts in struct.topics for p in parts} == {("a", 0), ("a", 1)}
        session.answered(nxt, answer())
    else:
        class Refusing:
            async def send(self, node_id: int, request: Any, **kwargs: Any) -> Any:
                wire(request)
                raise ConnectionError("broker away")

        with pytest.raises(ConnectionError):
            asyncio.run(_SessionClient(Refusing()).send(1, nxt))
    assert (session.epoch, session.partitions) == (INITIAL_EPOCH, {})
    struct = wire(session.request(full({A0: 2, A1: 1})))
    closed = 0 if why == "no session kept" else 7  # a full fetch closes the session the broker may still hold
    assert (struct.session_id, struct.session_epoch) == (closed, INITIAL_EPOCH)
    assert named(struct) == {("a", 0, 2), ("a", 1, 1)}


def test_a_partition_whose_end_the_consumer_does_not_know_starts_a_new_session() -> None:
    """After a new assignment the consumer knows no partition's end, and a broker answers in a session
    only for what changed: a quiet partition would never be answered for."""
    session = FetchSession()
    first = session.request(full({A0: 4, A1: 0}))
    wire(first)
    session.answered(first, answer(session_id=42))
    known = session.request(full({A0: 4, A1: 0}), unknown=lambda tp: False)
    assert named(wire(known)) == set()
    session.answered(known, answer(session_id=42))
    fresh = session.request(full({A0: 4, A1: 0}), unknown=lambda tp: tp == A1)
    struct = wire(fresh)
    assert (struct.session_id, struct.session_epoch) == (42, INITIAL_EPOCH)  # closes 42, opens another
    assert named(struct) == {("a", 0, 4), ("a", 1, 0)}
    session.answered(fresh, answer(session_id=43))
    assert (session.id, session.epoch, session.full) == (43, 1, 2)


def test_the_client_reports_each_answer_to_its_session_and_passes_other_requests_through() -> None:
    seen: list[Any] = []

    class Broker:
        async def send(self, node_id: int, request: Any, **kwargs: Any) -> Any:
            seen.append(request)
            return answer(session_id=9) if isinstance(request, SessionFetchRequest) else "metadata"

        cluster = "the cluster"

    client = _SessionClient(Broker())
    session = FetchSession()
    request = session.request(full({A0: 0}))
    wire(request)
    asyncio.run(client.send(1, request))
    assert (session.id, session.epoch, session.full) == (9, 1, 1)
    assert asyncio.run(client.send(1, "a metadata request")) == "metadata" and client.cluster == "the cluster"
