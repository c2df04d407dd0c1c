"""Producing and consuming through the real broker, with kafka-python and with a faust agent;
bad messages land in the dead-letter topic with their reasons and the stream goes on."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from liandong import DEAD_LETTER, REASON_HEADER, Bus, Event, OutgoingMessage
from liandong.examples import example_record
from liandong.streams import create_app, decoded, raw_topic

CE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"}


def _case() -> str:
    return f"140214-2026-{uuid.uuid4().int % 10**9:09d}"


def _poll_until(sub: Any, predicate: Any, timeout: float = 30.0) -> list[Event]:
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while not predicate(seen) and time.monotonic() < deadline:
        seen += sub.poll(300)
    return seen


def _dead_letters_since(bus: Bus, start: dict[Any, int], timeout: float = 20.0) -> list[Any]:
    """Dead-letter messages written after the offsets in ``start``."""
    consumer = bus.consumer(enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout * 1000))
    try:
        consumer.assign(list(start))
        for tp, off in start.items():
            consumer.seek(tp, off)
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = consumer.poll(500)
            for records in batch.values():
                out += records
            if out and not batch:
                break
        return out
    finally:
        consumer.close()


def _dead_letter_end_offsets(bus: Bus) -> dict[Any, int]:
    from kafka import TopicPartition

    consumer = bus.consumer()
    try:
        parts = [TopicPartition(DEAD_LETTER, p) for p in consumer.partitions_for_topic(DEAD_LETTER)]
        return dict(consumer.end_offsets(parts))
    finally:
        consumer.close()


def test_every_header_is_present_and_the_key_is_the_case_number(bus: Bus, group_id: str) -> None:
    case = _case()
    record = example_record(bus.schemas, "case.handoff.requested", case_number=case, unit="POLICE")
    with bus.publisher("test") as pub:
        pub.publish("case.handoff.requested", record).get(timeout=30)
    consumer = bus.consumer("liandong.unit.police.inbox", group_id=group_id, auto_offset_reset="earliest", consumer_timeout_ms=20000)
    try:
        raw = next(m for m in consumer if m.key == case.encode())
    finally:
        consumer.close()
    headers = dict(raw.headers)
    assert set(headers) >= CE_HEADERS
    assert headers["ce_subject"] == case.encode()
    assert headers["ce_type"] == b"liandong.case.handoff.requested"
    event = bus.codec.decode(raw.topic, raw.key, raw.value, raw.headers)
    assert event.key == case and event.data == record


def test_bad_messages_are_dead_lettered_and_the_stream_goes_on(bus: Bus, group_id: str) -> None:
    topic = "liandong.unit.justice.replies"
    case = _case()
    good = example_record(bus.schemas, "case.progress", case_number=case, unit="JUSTICE")
    other = bus.codec.encode("case.accepted", example_record(bus.schemas, "case.accepted", case_number=case),
                             source="/test")
    start = _dead_letter_end_offsets(bus)
    progress = bus.codec.encode("case.progress", good, source="/test")
    with bus.publisher("test") as pub:
        pub.send(OutgoingMessage(topic, case.encode(), b"\x00garbage", progress.headers)).get(30)  # corrupted
        pub.send(OutgoingMessage(topic, case.encode(), other.value, progress.headers)).get(30)  # wrong schema
        pub.publish("case.progress", good).get(30)
    with bus.subscriber([topic], group_id=group_id, service="dlq-test") as sub:
        events = _poll_until(sub, lambda seen: any(e.key == case for e in seen))
        assert [e.data for e in events if e.key == case] == [good]
        assert sub.dead_lettered >= 2
    letters = [m for m in _dead_letters_since(bus, start)
               if dict(m.headers).get("liandong_dlq_source", b"").startswith(topic.encode())
               and bus.codec.decode_value(m.value)[1]["key"] == case.encode()]  # this test's messages only
    reasons = sorted(dict(m.headers)[REASON_HEADER] for m in letters)
    assert reasons == [b"INVALID", b"UNDECODABLE"]
    decoded_letters = [bus.codec.decode_value(m.value)[1] for m in letters]
    assert {bytes(d["value"]) for d in decoded_letters} == {b"\x00garbage", other.value}
    assert all(d["source_topic"] == topic and d["service"] == "dlq-test" for d in decoded_letters)
    assert any("wrong schema" in d["error"] for d in decoded_letters)


def test_a_faust_agent_reads_events_and_dead_letters_bad_ones(bus: Bus) -> None:
    topic_name = "liandong.unit.hrss.replies"
    cases = [_case() for _ in range(3)]
    start = _dead_letter_end_offsets(bus)
    with bus.publisher("test") as pub:
        for i, case in enumerate(cases):
            if i == 1:
                pub.send(OutgoingMessage(topic_name, case.encode(), b"not avro", [])).get(30)
            pub.publish("case.resolved", example_record(bus.schemas, "case.resolved", case_number=case,
                                                        unit="HRSS")).get(30)
    app = create_app(f"faust-test-{uuid.uuid4().hex[:6]}", bus)
    got: list[Event] = []
    all_seen = asyncio.Event()

    @app.agent(raw_topic(app, topic_name))
    async def resolved(stream: Any) -> None:
        async for event in decoded(stream, bus.codec, app=app, service="faust-test"):
            got.append(event)
            if set(cases) <= {e.key for e in got}:
                all_seen.set()

    async def run() -> None:
        await app.start()
        try:
            await asyncio.wait_for(all_seen.wait(), timeout=60)
        finally:
            await app.stop()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    assert {e.type for e in got if e.key in cases} == {"case.resolved"}
    assert set(cases) <= {e.key for e in got}
    letters = [m for m in _dead_letters_since(bus, start) if m.key == topic_name.encode()]
    assert any(dict(m.headers)[REASON_HEADER] == b"UNDECODABLE" for m in letters)
