"""Reliability, with real processes on real brokers (one broker per run, so runs do not mix).

The same petitions run twice: once undisturbed, once while every service in turn is killed
with SIGKILL and restarted, the broker is restarted mid-stream, and 1% corrupted and 1%
wrong-schema messages are mixed in. The ledgers must be equal; every bad message must be a
dead letter with its reason; and replaying the topics from the beginning into a fresh ledger
must give the same ledger again.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from liandong import REASON_HEADER, SOURCE_HEADER, Bus, OutgoingMessage
from liandong.broker import LocalBroker
from liandong.examples import example_record
from services.ledger.app import build as build_ledger
from services.registry import PIPELINE
from tests.conftest import ServiceHost, api_get, provisioned_broker, wait_for
from tests.e2e.stack import ProcessStack, normalise, petitions

pytestmark = pytest.mark.fault

N, BATCHES = 80, 10


def _run(bus: Bus, run_dir: Path, district: str, between_batches: Any = None) -> tuple[ProcessStack, list[str]]:
    stack = ProcessStack(bus.bootstrap_servers, bus.settings.secrets_path, run_dir, district)
    try:
        stack.start_all()
        feed = petitions(N, "fault")
        size = N // BATCHES
        numbers: list[str] = []
        for b in range(BATCHES):
            result = stack.submit(feed[b * size:(b + 1) * size])
            assert result["rejected"] == 0 and result["registered"] == size, result
            numbers += [r["case_number"] for r in result["results"]]
            if between_batches:
                between_batches(b, stack)
    except BaseException:
        stack.stop_all()  # the caller only gets a stack to stop once this returns
        raise
    return stack, numbers


@pytest.mark.timeout(1200)
def test_kills_broker_restart_and_poison_leave_the_ledger_as_an_undisturbed_run(
        fresh_broker: tuple[LocalBroker, Bus], tmp_path: Path) -> None:
    broker, bus = fresh_broker

    # -- the reference: an undisturbed run on its own broker --------------------------------
    (tmp_path / "reference").mkdir()
    with provisioned_broker(tmp_path / "reference") as (_, ref_bus):
        ref_stack, ref_numbers = _run(ref_bus, tmp_path / "ref", "140201")
        try:
            reference = ref_stack.wait_settled(ref_numbers, timeout=180, limit=480)
        finally:
            ref_stack.stop_all()

    # -- the disturbed run ----------------------------------------------------------------------
    victims = list(PIPELINE)  # intake, triage, ledger, monitor and the five departments
    injected: list[tuple[str, str]] = []  # (topic, kind)

    def disturb(batch: int, stack: ProcessStack) -> None:
        if batch < len(victims):
            stack.kill(victims[batch])
            stack.start(victims[batch])
        if batch == BATCHES // 2:
            broker.stop()
            broker.start()
        if batch % 2 == 1:  # about 1% of the messages each: corrupted, and valid Avro under the wrong type
            injected.extend(_inject_poison(bus))

    stack, numbers = _run(bus, tmp_path / "chaos", "140202", disturb)
    try:
        _compare(bus, stack, numbers, ref_numbers, reference, injected)
    except AssertionError as exc:
        # Kept beside the run's logs and broker data, for whoever looks into a failure.
        (tmp_path / "failure.txt").write_text(str(exc), encoding="utf-8")
        raise
    finally:
        stack.stop_all()


def _compare(bus: Bus, stack: ProcessStack, numbers: list[str], ref_numbers: list[str],
             reference: dict[str, dict[str, Any]], injected: list[tuple[str, str]]) -> None:
    """The disturbed run against the reference: every case the same, nothing twice, poison dead-lettered."""
    disturbed = stack.wait_settled(numbers, timeout=180, limit=480)
    assert [n.split("-", 1)[1] for n in numbers] == [n.split("-", 1)[1] for n in ref_numbers]  # no case lost or added
    want = {n.split("-", 1)[1]: normalise(c) for n, c in reference.items()}

    def differences(view: dict[str, dict[str, Any]]) -> dict[str, Any]:
        got = {n.split("-", 1)[1]: normalise(c) for n, c in view.items()}
        return {k: {f: (got[k][f], want[k][f]) for f in want[k] if got.get(k, {}).get(f) != want[k][f]}
                for k in want if got.get(k) != want[k]}

    # A settled case can still be joined by what follows its last answer on other topics (the petitioner's
    # notices, written by another service): compare until the views agree, or for a minute at most.
    found = {"view": disturbed}

    def agreed() -> bool:
        found["view"] = stack.cases(numbers)
        return not differences(found["view"])

    with contextlib.suppress(AssertionError):
        wait_for(agreed, timeout=60, interval=2.0, message="the disturbed run's ledger to agree with the reference")
    disturbed = found["view"]
    assert not differences(disturbed), f"disturbed vs undisturbed: {differences(disturbed)}"
    for c in disturbed.values():  # nothing applied twice
        ids = [t["event_id"] for t in c["timeline"]]
        assert len(ids) == len(set(ids))
    _assert_dead_lettered(bus, injected)
    _assert_replay_gives_the_same_ledger(bus, stack, numbers)


def _inject_poison(bus: Bus) -> list[tuple[str, str]]:
    number = f"140202-2026-{uuid.uuid4().int % 10**6:06d}"
    progress = bus.codec.encode("case.progress", example_record(bus.schemas, "case.progress", case_number=number, unit="HRSS"),
                                source="/test")
    accepted = bus.codec.encode("case.accepted", example_record(bus.schemas, "case.accepted", case_number=number, unit="HRSS"),
                                source="/test")
    bad = [
        OutgoingMessage("liandong.bureau.petitions", number.encode(), b"\xc3\x01garbage", progress.headers),
        OutgoingMessage("liandong.unit.hrss.replies", number.encode(), progress.value[:-3], progress.headers),
        OutgoingMessage("liandong.unit.hrss.replies", number.encode(), accepted.value, progress.headers),  # wrong schema
    ]
    with bus.publisher("poison") as pub:
        for m in bad:
            pub.send(m).get(timeout=60)
    return [(m.topic, "wrong-schema" if m.value == accepted.value else "corrupted") for m in bad]


def _assert_dead_lettered(bus: Bus, injected: list[tuple[str, str]]) -> None:
    assert injected

    def letters() -> list[Any]:
        consumer = bus.consumer("liandong.deadletter", auto_offset_reset="earliest", enable_auto_commit=False,
                                consumer_timeout_ms=3000, group_id=None)
        try:
            return list(consumer)
        finally:
            consumer.close()

    def covered() -> list[Any] | None:
        found = letters()
        by_topic: dict[str, set[bytes]] = {}
        for m in found:
            h = dict(m.headers)
            by_topic.setdefault(h[SOURCE_HEADER].decode().rsplit("/", 2)[0], set()).add(h[REASON_HEADER])
        want_ok = all(topic in by_topic for topic, _ in injected)
        return found if want_ok else None

    found = wait_for(covered, timeout=120, interval=1.0, message="every injected message in the dead-letter topic")
    reasons = {dict(m.headers)[REASON_HEADER] for m in found}
    assert {b"UNDECODABLE", b"INVALID"} <= reasons
    services = {bus.codec.decode_value(m.value)[1]["service"] for m in found}
    assert {"triage", "ledger"} <= services  # each consumer of a topic dead-letters what it cannot read


def _assert_replay_gives_the_same_ledger(bus: Bus, stack: ProcessStack, numbers: list[str]) -> None:
    """A fresh ledger (new consumer group, empty table) reading every topic from the beginning."""
    host = ServiceHost()
    try:
        replay = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0,
                                         app_id=f"ledger-replay-{uuid.uuid4().hex[:6]}"))
        port = replay.bound["http"]
        running = stack.cases(numbers)

        def replayed() -> dict[str, Any] | None:
            out = {n: api_get(port, f"/cases/{n}") for n in numbers}
            return out if all(out[n] is not None and _same(out[n], running[n]) for n in numbers) else None

        wait_for(replayed, timeout=180, interval=1.0, message="the replayed ledger to equal the running one")
    finally:
        host.close()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal ledger entries; `overdue` depends on when it is asked, not on the log."""
    return {k: v for k, v in a.items() if k != "overdue"} == {k: v for k, v in b.items() if k != "overdue"}
