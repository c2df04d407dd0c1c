"""Incremental fetch sessions (liandong.fetch_sessions) on the real broker: a consumer of many
partitions fetches in one session, its requests name only what moved, and it still gets every record
of every partition, in order, also after a seek back and after the broker forgets the session."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from liandong import Bus, fetch_sessions
from tests.conftest import create_topics, until

TOPICS = 4
PARTITIONS = 12
ROUNDS = 6


def _produce(bus: Bus, records: list[tuple[str, int, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bus.bootstrap_servers, acks="all", **bus.client_config())
    try:
        for topic, partition, value in records:
            producer.send(topic, value=value, partition=partition)
        producer.flush()
    finally:
        producer.close()


def test_a_consumer_in_a_session_gets_every_record_and_names_only_what_moved(bus: Bus,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fetch_sessions.install()
    tag = uuid.uuid4().hex[:6]
    topics = [f"test.sessions.{tag}.{n}" for n in range(TOPICS)]
    create_topics(bus, PARTITIONS, *topics)
    parts = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]

    async def run() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bus.bootstrap_servers, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=100, **bus.client_config())
        await consumer.start()
        sent_on_wire: list[int] = []
        got: dict[TopicPartition, list[bytes]] = {tp: [] for tp in parts}

        async def read(until_count: int) -> None:
            async def enough() -> bool:
                for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                    got[tp].extend(r.value for r in records)
                return sum(map(len, got.values())) >= until_count
            await until(enough, timeout=30, message=f"{until_count} records")

        try:
            consumer.assign(parts)
            fetcher: Any = consumer._fetcher
            session_of = fetch_sessions.sessions(fetcher)
            build = fetch_sessions.SessionFetchRequest.build

            def counting_build(self: Any, cls: Any) -> Any:
                struct = build(self, cls)
                sent_on_wire.append(sum(len(p) for _, p in struct.topics))
                return struct

            monkeypatch.setattr(fetch_sessions.SessionFetchRequest, "build", counting_build)
            expected: dict[TopicPartition, list[bytes]] = {tp: [] for tp in parts}
            total = 0
            for n in range(ROUNDS):  # a few records at a time, each round on a few partitions only
                batch = [(parts[(n * 7 + i * 5) % len(parts)], f"{n}-{i}".encode()) for i in range(5)]
                await asyncio.to_thread(_produce, bus, [(tp.topic, tp.partition, v) for tp, v in batch])
                for tp, v in batch:
                    expected[tp].append(v)
                total += len(batch)
                await read(total)
            assert got == expected
            (session,) = session_of.values()
            assert session.id != 0 and session.incremental > session.full
            # the requests in the session named a few partitions, not all 48
            assert sent_on_wire[0] == len(parts) and sorted(sent_on_wire)[len(sent_on_wire) // 2] < len(parts) // 4

            # a seek back: the partition is named again with the older offset, and read again from it
            tp = next(tp for tp in parts if len(expected[tp]) >= 2)

            async def in_session_at_its_end() -> bool:  # so the seek is news to the broker's session
                return session.partitions.get(tp, (None,))[0] == len(expected[tp])
            await until(in_session_at_its_end, timeout=30, message="the partition in the session at its end")
            consumer.seek(tp, 0)
            again: list[bytes] = []

            async def reread() -> bool:
                again.extend(r.value for r in (await consumer.getmany(tp, timeout_ms=200)).get(tp, []))
                return len(again) >= len(expected[tp])
            await until(reread, timeout=30, message="the partition read again")
            assert again == expected[tp]

            # the broker forgets the session (as after its restart or an eviction): a full fetch starts again
            session.id, session.epoch = session.id + 1, 5  # an id the broker does not know
            before = session.full
            await asyncio.to_thread(_produce, bus, [(parts[1].topic, parts[1].partition, b"after")])
            expected[parts[1]].append(b"after")
            await read(total + 1)
            assert got == expected and session.full > before
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_a_new_assignment_learns_every_partitions_end_even_where_nothing_moved(bus: Bus) -> None:
    """A consumer's new assignment knows no partition's end (high watermark) yet, and a broker answers
    in a session only for partitions where something changed: the session must start anew. (Without
    that, a quiet partition's end stayed unknown after a rebalance, and a service that ticks only once
    it has read to every end never ticked again: CI of stop 33.)"""
    fetch_sessions.install()
    topic = f"test.sessions.{uuid.uuid4().hex[:6]}.quiet"
    create_topics(bus, 2, topic)
    busy, quiet = TopicPartition(topic, 0), TopicPartition(topic, 1)
    _produce(bus, [(topic, 0, b"only")])

    async def run() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bus.bootstrap_servers, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=100, **bus.client_config())
        await consumer.start()
        try:
            fetcher: Any = consumer._fetcher
            for assignment in ("first", "second"):  # the same partitions assigned again
                consumer.assign([busy, quiet])
                got: list[bytes] = []

                async def both_ends_known(got: list[bytes] = got) -> bool:
                    got.extend(r.value for r in (await consumer.getmany(timeout_ms=200)).get(busy, []))
                    return got == [b"only"] and consumer.highwater(busy) == 1 and consumer.highwater(quiet) == 0
                await until(both_ends_known, timeout=30,
                            message=f"the record, and both partitions' ends, in the {assignment} assignment")
                # nothing in flight when the assignment changes (else the cancelled fetch ends the session)
                consumer.pause(busy, quiet)

                async def idle() -> bool:
                    return not fetcher._in_flight
                await until(idle, timeout=30, message="no fetch in flight")
            (session,) = fetch_sessions.sessions(fetcher).values()
            assert session.full >= 2  # the second assignment started a new session
        finally:
            await consumer.stop()

    asyncio.run(run())
