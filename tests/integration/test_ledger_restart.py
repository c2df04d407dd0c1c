"""The ledger restores its table from the changelog after a restart, and re-reading changes nothing;
after a clean stop with RocksDB it keeps its board instead of reading every case again."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka.partitioner.default import murmur2

from liandong import Bus, concrete_topics, load_clocks
from liandong.audit import Chain
from liandong.domain import ClockConfig, Ledger, bureau_year
from liandong.domain.case import state_to_json
from liandong.examples import example_record
from liandong.metrics import REGISTRY
from liandong.service import InMemory, faust_runtime
from services.ledger.api import CASES
from services.ledger.app import LEDGER, Recorder
from services.ledger.app import build as build_ledger
from tests.conftest import ServiceHost, api_get, publish_checked, wait_for

_get = api_get  # None for a 404, or while nothing answers yet (still starting)


def test_restarting_the_ledger_restores_its_state(bus: Bus) -> None:
    number = f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
    for name, unit in (("petition.registered", "JUSTICE"), ("petition.triaged", "JUSTICE"),
                       ("case.handoff.requested", "JUSTICE"), ("case.handoff.accepted", "JUSTICE")):
        rec = example_record(bus.schemas, name, case_number=number, unit=unit)
        if name == "case.handoff.requested":
            rec["role"] = "LEAD"
        if name == "petition.triaged":
            rec["lead_unit"] = "JUSTICE"
        publish_checked(bus, name, rec)  # the sign-for as the referee passes it on
    app_id = f"ledger-restart-{uuid.uuid4().hex[:6]}"
    host = ServiceHost()
    try:
        first = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=app_id))
        port = first.bound["http"]
        before = wait_for(lambda: (c := _get(port, f"/cases/{number}")) and len(c["timeline"]) == 4 and c,
                          message="the case with 4 timeline entries")
        assert before["status"] == "SIGNED"
        assert REGISTRY.get_sample_value("liandong_worker_ready", {"service": "ledger"}) == 1.0  # assigned, restored
        host.stop(first)
        assert _get(port, f"/cases/{number}") is None  # really stopped
        assert REGISTRY.get_sample_value("liandong_worker_ready", {"service": "ledger"}) == 0.0
        port2 = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=app_id)).bound["http"]
        # served while the changelog is still read: an older version of the record may answer first
        wait_for(lambda: _get(port2, f"/cases/{number}") == before, message="the case after the restart, as before it")
    finally:
        host.close()


def test_a_clean_restart_keeps_the_board_and_counts_what_was_written_while_away(bus: Bus, tmp_path: Path) -> None:
    """With RocksDB, a clean stop saves the board and its kept sums; the next start loads them
    instead of reading every case, and counts a record written to the changelog meanwhile as a
    change: the statistics are those a read of every case gives."""
    settings = bus.settings.model_copy(update={"table_store": "rocksdb://", "run_dir": tmp_path})
    ledger_bus = replace(bus, settings=settings).as_principal("svc-ledger")
    shadow = InMemory(LEDGER, Recorder.unsealed(ClockConfig()), bus.codec)  # the records the ledger writes
    numbers = [f"140214-2026-{uuid.uuid4().int % 10**6:06d}" for _ in range(5)]
    for number in numbers[:4]:
        for name in ("petition.registered", "petition.triaged", "case.handoff.requested", "case.handoff.accepted"):
            rec = lifecycle_record(bus, name, number)
            publish_checked(bus, name, rec)
            shadow.send((name, rec))
    app_id = f"ledger-kept-{uuid.uuid4().hex[:6]}"
    stats = f"/stats?year={bureau_year(datetime.now(UTC))}"  # this year's: other tests' cases may be in later ones
    host = ServiceHost()
    try:
        first = Recorder(Ledger(load_clocks()), Chain(ledger_bus.signer), ledger_bus.verifier)
        port = host.start(faust_runtime(LEDGER, ledger_bus, first, app_id=app_id, port=0)).bound["http"]
        wait_for(lambda: all(_get(port, f"/cases/{n}") for n in numbers[:4]), message="the four cases")
        # The ledger reads the session's whole log (other tests' cases of this year too): its statistics
        # hold still, to be compared, once it has read all of it.
        before = wait_for(lambda: first.board.generation is not None and caught_up(bus, app_id) and _get(port, stats),
                          message="the board rebuilt, the log read")
        host.stop(host.runtimes[-1])
        (kept,) = (tmp_path / "tables").rglob("*.kept.json")
        # saved with the offsets of the ledger's own writes: a restart restores nothing of this run again
        ends = changelog_ends(bus, f"{app_id}-{CASES}-changelog")
        assert json.loads(kept.read_text())["offsets"] == {str(p): (end - 1 if end else None) for p, end in ends.items()}
        assert any(ends.values())
        # Written while the ledger was away: the first case accepted, and a fifth case.
        shadow.send(("case.accepted", lifecycle_record(bus, "case.accepted", numbers[0])))
        for name in ("petition.registered", "petition.triaged", "case.handoff.requested"):
            shadow.send((name, lifecycle_record(bus, name, numbers[4])))
        write_changelog(bus, f"{app_id}-{CASES}-changelog", {n: state_to_json(shadow.state(n, CASES)) for n in
                                                             (numbers[0], numbers[4])})

        second = Recorder(Ledger(load_clocks()), Chain(ledger_bus.signer), ledger_bus.verifier)
        reads: list[str] = []
        read = second.board.read
        second.board.read = lambda key, case: (reads.append(key), read(key, case))[1]  # type: ignore[method-assign]
        port = host.start(faust_runtime(LEDGER, ledger_bus, second, app_id=app_id, port=0)).bound["http"]
        loaded = wait_for(lambda: _get(port, f"/cases/{numbers[4]}") and caught_up(bus, app_id) and _get(port, stats),
                          message="the fifth case, the log read, and the statistics")
        assert second.board.generation is not None and reads == [] and not kept.exists()  # loaded, not read
        assert loaded["total"] == before["total"] + 1 and loaded != before
        second.board.generation = object()  # as after a rebalance: every case read again
        recounted = wait_for(lambda: (s := _get(port, stats)) and reads and s, message="the cases read again")
        assert len(reads) >= 5 and recounted == loaded
    finally:
        host.close()


def lifecycle_record(bus: Bus, name: str, number: str) -> dict[str, Any]:
    rec = example_record(bus.schemas, name, case_number=number, unit="JUSTICE")
    if name == "case.handoff.requested":
        rec["role"] = "LEAD"
    if name == "petition.triaged":
        rec["lead_unit"] = "JUSTICE"
    return rec


def write_changelog(bus: Bus, topic: str, records: dict[str, bytes]) -> None:
    """Records as the ledger writes them: in the partition of their case's events."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bus.bootstrap_servers, acks="all", **bus.client_config())
    try:
        for number, value in records.items():
            key = number.encode()
            partition = (murmur2(key) & 0x7FFFFFFF) % bus.settings.topic_partitions
            producer.send(topic, key=key, value=value, partition=partition).get(timeout=30)
    finally:
        producer.close()


def caught_up(bus: Bus, group: str) -> bool:
    """Whether the ledger's group has committed every message of its input topics there is so far (the
    monitor's lag counts only the partitions a group has committed in; here one not yet is behind)."""
    from kafka import TopicPartition

    admin, consumer = bus.admin(), bus.consumer(group_id=None)
    try:
        committed = admin.list_group_offsets([group]).get(group) or {}
        parts = [TopicPartition(t, p) for t in concrete_topics(*LEDGER.topics_in) for p in consumer.partitions_for_topic(t) or ()]
        return all(end == 0 or ((meta := committed.get(tp)) is not None and meta.offset >= end)
                   for tp, end in consumer.end_offsets(parts).items())
    finally:
        admin.close()
        consumer.close()


def changelog_ends(bus: Bus, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bus.bootstrap_servers, **bus.client_config())
    try:
        tps = [TopicPartition(topic, p) for p in range(bus.settings.topic_partitions)]
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()
