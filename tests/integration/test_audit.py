"""A record that proves itself, on the real broker: a case's events reach the ledger signed by their
publishers and linked into its chain; ``liandong audit verify`` finds it intact. Someone with write
access to the ledger's audit changelog then changes a stored event, and later a stored signature; after
each, the restarted ledger's API and ``liandong audit verify`` name the event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from liandong_sdk import DepartmentClient
from typer.testing import CliRunner

from liandong import Bus
from liandong.audit import link_key
from liandong.cli import app as cli
from services.ledger.api import AUDIT
from services.ledger.app import build as build_ledger
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api_get, wait_for

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def stack(bus: Bus) -> Iterator[dict[str, Any]]:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        ledger = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}"))
        yield {"host": host, "ledger": ledger, "app_id": f"ledger-{tag}"}
    finally:
        host.close()


def register(bus: Bus) -> str:
    number = f"140214-{NOW.year}-7{uuid.uuid4().int % 10**5:05d}"
    case = {"case_number": number, "petition_id": str(uuid.uuid4()), "district_code": "140214"}
    with bus.as_principal("svc-intake").publisher("intake", linger_ms=0) as intake:
        intake.publish("petition.registered", {
            "event_id": uuid.uuid4(), "occurred_at": NOW, "case": case, "deadline": None, "channel": "LETTER",
            "petitioner": {"name": "周某", "id_number": None, "phone": None, "address": None, "group_size": 1},
            "summary": "施工工地老板恶意欠薪三个月", "category_hint": "WAGE_ARREARS", "idempotency_key": f"k-{uuid.uuid4()}",
            "received_at": NOW, "repeat_of": None}).get(30)
    return number


def verify_cli(bus: Bus, port: int, number: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "verify", number, "--url", f"http://127.0.0.1:{port}",
                                    "--principals", str(bus.settings.principals_path)])


def tamper(bus: Bus, app_id: str, number: str, change: Any) -> None:
    """Writes the case's stored links again on the ledger's audit changelog, changed by ``change``
    (as anyone with write access to that topic, or to the broker's disks, could)."""
    topic = f"{app_id}-{AUDIT}-changelog"
    prefix = f"{number}/".encode()
    consumer = KafkaConsumer(bootstrap_servers=bus.bootstrap_servers, enable_auto_commit=False, **bus.client_config())
    stored: dict[bytes, tuple[int, bytes]] = {}  # key -> (partition, the latest value)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(parts)
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=500).items():
                stored.update((r.key, (tp.partition, r.value)) for r in records if r.key.startswith(prefix))
    finally:
        consumer.close()
    assert stored, f"no link of {number} on {topic}"
    keys = sorted(stored)
    assert keys == [link_key(number, i).encode() for i in range(len(keys))]
    chain = [json.loads(stored[k][1]) for k in keys]
    change(chain)
    producer = KafkaProducer(bootstrap_servers=bus.bootstrap_servers, **bus.client_config())
    try:
        for key, link in zip(keys, chain, strict=True):
            value = json.dumps(link, ensure_ascii=False, separators=(",", ":")).encode()
            if json.loads(value) != json.loads(stored[key][1]):
                producer.send(topic, key=key, value=value, partition=stored[key][0]).get(30)
    finally:
        producer.close()


def restart(stack: dict[str, Any], bus: Bus) -> int:
    """The ledger restarted: its state restored from the changelog. Its new port."""
    host: ServiceHost = stack["host"]
    host.stop(stack["ledger"])
    stack["ledger"] = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=stack["app_id"]))
    return int(stack["ledger"].bound["http"])


def test_a_case_record_proves_itself_and_tampering_is_caught(stack: dict[str, Any], bus: Bus) -> None:
    number = register(bus)
    with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-audit-{uuid.uuid4().hex[:6]}") as hrss:
        wait_for(lambda: hrss.inbox(0.5) is not None and number in hrss.cases, message=f"{number} in HRSS's inbox")
        hrss.sign_for(number, "李科长")
        hrss.commit()
    port = stack["ledger"].bound["http"]

    def recorded(p: int) -> Any:
        c = api_get(p, f"/cases/{number}")
        if not c or c["handoffs"].get("HRSS", {}).get("status") != "SIGNED":
            return None
        audit = api_get(p, f"/cases/{number}/audit")
        return audit if audit and audit["length"] == len(c["timeline"]) else None

    audit = wait_for(lambda: recorded(port), timeout=60, message="the sign-for in the ledger and its chain")
    assert audit["intact"] is True and audit["first_broken"] is None
    links = audit["links"]
    signers = {link["ce_type"]: link["signer"] for link in links}
    assert signers["liandong.petition.registered"] == "svc-intake"
    assert signers["liandong.case.handoff.accepted"] == "svc-triage"  # the referee's checked copy of HRSS's word
    said = next(link["answer"] for link in links if link["ce_type"] == "liandong.case.handoff.accepted")
    assert said["signer"] == "unit-hrss" and said["topic"] == "liandong.unit.hrss.replies"  # and HRSS's own signature
    assert {link["sealed_by"] for link in links} == {"svc-ledger"}
    assert "周某" not in json.dumps(audit, ensure_ascii=False)  # the petitioner's name is in no link
    result = verify_cli(bus, port, number)
    assert result.exit_code == 0 and "intact" in result.output, result.output

    # 1. a stored event changed: the sign-for dated a week earlier
    signed_for = next(i for i, link in enumerate(links) if link["ce_type"] == "liandong.case.handoff.accepted")
    tamper(bus, stack["app_id"], number, lambda chain: chain[signed_for].update(ce_time="2020-01-01T00:00:00.000Z"))
    port = restart(stack, bus)
    audit = wait_for(lambda: (a := api_get(port, f"/cases/{number}/audit")) and a["intact"] is False and a,
                     timeout=60, message="the changed event found by the restarted ledger")
    assert audit["first_broken"]["index"] == signed_for and audit["first_broken"]["problem"] == "changed"
    result = verify_cli(bus, port, number)
    assert result.exit_code == 1, result.output
    assert f"changed at event {signed_for + 1}" in result.output and "case.handoff.accepted" in result.output

    # 2. that event put back, the petition's signature changed instead
    original = links[signed_for]["ce_time"]

    # (the links are in the order the ledger read the events: the petition's is not always the first)
    petition = next(i for i, link in enumerate(links) if link["ce_type"] == "liandong.petition.registered")

    def swap_signature(chain: list[dict[str, Any]]) -> None:
        chain[signed_for]["ce_time"] = original
        signature = chain[petition]["signature"]
        chain[petition]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]

    tamper(bus, stack["app_id"], number, swap_signature)
    port = restart(stack, bus)
    audit = wait_for(lambda: (a := api_get(port, f"/cases/{number}/audit")) and a["first_broken"]
                     and a["first_broken"]["index"] == petition and a, timeout=60, message="the changed signature found")
    assert "'svc-intake' does not verify" in audit["first_broken"]["reason"]
    result = verify_cli(bus, port, number)
    assert result.exit_code == 1 and f"changed at event {petition + 1} " in result.output, result.output
