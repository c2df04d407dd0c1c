"""A real three-broker cluster (``LocalCluster``, the code of ``liandong cluster start``): topics with
three replicas and two in sync, and a broker SIGKILLed while petitions flow, then restarted. The
ledger ends equal, case by case, to what the same petitions give without the fault (the same
decisions run in memory), with no event applied twice and no case lost."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from liandong import Bus, Codec, SchemaCatalogue, get_settings, load_clocks
from liandong.broker import LocalCluster
from liandong.domain import Ledger
from liandong.domain.triage import Triage
from liandong.service import InMemory
from services.ledger.app import build as build_ledger
from services.triage.app import TRIAGE, load_routing
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api_get, wait_for

pytestmark = pytest.mark.cluster
N = 40  # petitions; the broker dies after the first third
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
SUMMARIES = ["施工工地老板恶意欠薪三个月", "小区冬季供暖温度不达标", "养老金没有按时发放", "邻里纠纷", "物业不作为"]
HINTS = ["WAGE_ARREARS", "HEATING", "SOCIAL_SECURITY", "CIVIL_DISPUTE", "PROPERTY_MANAGEMENT"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Bus]]:
    from services.registry import provision

    folder = tmp_path_factory.mktemp("cluster")
    settings = get_settings().model_copy(update={"secrets_file": folder / "secrets.json", "replication_factor": 3,
                                                 "min_insync_replicas": 2, "topic_partitions": 6})
    cluster = LocalCluster(folder / "nodes", settings=settings, secrets_file=folder / "secrets.json")
    try:
        bootstrap = cluster.start()
        bus = Bus.from_settings(bootstrap, settings)
        provision(bus)
        for node in cluster.nodes:  # every node knows the principals just created (SCRAM users travel in the metadata)
            for principal in ("svc-triage", "svc-ledger", "svc-intake"):
                wait_for(lambda n=node, p=principal: _logs_in(Bus.from_settings(n.bootstrap_servers, settings)
                                                               .as_principal(p)), timeout=60, interval=0.5,
                         message=f"{principal} accepted by node {node.node_id}")
        yield cluster, bus
    finally:
        cluster.stop()
    assert all(not running for _, _, running in cluster.status())


def _logs_in(bus: Bus) -> bool:
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bus.bootstrap_servers, request_timeout_ms=5000, **bus.client_config())
    except KafkaError:
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except KafkaError:
        return False
    finally:
        admin.close()


def _admin(bus: Bus) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bus.bootstrap_servers, **bus.client_config())


def test_every_topic_has_three_replicas_and_needs_two_in_sync(cluster: tuple[LocalCluster, Bus]) -> None:
    _, bus = cluster
    admin = _admin(bus)
    try:
        described = admin.describe_topics(["liandong.bureau.petitions", "liandong.bureau.answers",
                                           "liandong.unit.hrss.inbox"])
        for topic in described:
            assert topic["partitions"] and all(len(p["replica_nodes"]) == 3 for p in topic["partitions"]), topic["name"]
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "liandong.bureau.petitions")])
        entries = next(iter(configs.values()))["liandong.bureau.petitions"]
        value = entries["min.insync.replicas"]
        assert str(value.get("value") if isinstance(value, dict) else value) == "2"
    finally:
        admin.close()


def _petition(i: int, tag: str) -> dict[str, Any]:
    case = {"case_number": f"140214-{NOW.year}-5{i:05d}", "petition_id": str(uuid.uuid4()), "district_code": "140214"}
    return {"event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{i}"), "occurred_at": NOW + timedelta(minutes=i),
            "case": case, "deadline": None, "channel": "ONLINE",
            "petitioner": {"name": f"申{i}", "id_number": None, "phone": None, "address": None, "group_size": 1},
            "summary": SUMMARIES[i % 5], "category_hint": HINTS[i % 5], "idempotency_key": f"{tag}-{i}",
            "received_at": NOW + timedelta(minutes=i), "repeat_of": None}


def _undisturbed(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the same petitions give with no fault: triage's own declaration and the ledger's decision, in memory."""
    codec = Codec(SchemaCatalogue(get_settings().schemas_dir))
    triage = InMemory(TRIAGE, Triage(load_routing(), load_clocks()), codec)
    ledger, states = Ledger(load_clocks()), {}
    for record in records:
        for event in [codec.decode(m.topic, m.key, m.value, m.headers) for m in
                      [codec.encode("petition.registered", record, source="/test")]] + triage.send(
                          ("petition.registered", record)):
            state, _ = ledger.record(states.get(event.key), event)
            if state is not None:
                states[event.key] = state
    return {k: _view(s.to_dict()) for k, s in states.items()}


def _view(case: dict[str, Any]) -> dict[str, Any]:
    """What must be equal: the case's status, routing, handoffs and its timeline's events."""
    return {"status": str(case["status"]), "lead_unit": case["lead_unit"], "co_units": sorted(case["co_units"]),
            "handoffs": sorted(case["handoffs"]), "timeline": sorted((t["event"], t.get("unit")) for t in case["timeline"])}


_get = api_get


def _leader_of(bus: Bus, topic: str, partition: int) -> int:
    admin = _admin(bus)
    try:
        (described,) = admin.describe_topics([topic])
        return int(next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == partition))
    finally:
        admin.close()


def test_a_broker_killed_while_petitions_flow_loses_nothing_and_applies_nothing_twice(
        cluster: tuple[LocalCluster, Bus]) -> None:
    nodes, bus = cluster
    tag = uuid.uuid4().hex[:6]
    records = [_petition(i, tag) for i in range(N)]
    expected = _undisturbed(records)
    host = ServiceHost()
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        port = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        publisher = bus.as_principal("svc-intake").publisher("intake", linger_ms=0)
        victim = None
        try:
            for i, record in enumerate(records):
                publisher.publish("petition.registered", record).get(60)
                if i == N // 3:  # the leader of a partition the petitions go to: SIGKILLed mid-flow
                    leader = _leader_of(bus, "liandong.bureau.petitions", 0)
                    victim = nodes.nodes[leader - 1]
                    killed = victim.info()
                    assert killed is not None
                    os.killpg(killed.pid, signal.SIGKILL)
                    wait_for(lambda k=killed: not k.alive(), timeout=30, message="the killed broker gone")
        finally:
            publisher.close()
        assert victim is not None
        victim.start(wait=False)  # back, catching up as a follower

        def settled() -> dict[str, dict[str, Any]] | None:
            got = {}
            for number, want in expected.items():
                case = _get(port, f"/cases/{number}")
                if case is None or len(case["timeline"]) < len(want["timeline"]):
                    return None
                got[number] = _view(case)
            return got

        got = wait_for(settled, timeout=240, interval=1.0, message="every case in the ledger")
        for number, want in expected.items():
            assert got[number] == want, number  # equal to the undisturbed run: nothing lost, nothing twice
        assert all(running for _, _, running in nodes.status())
        admin = _admin(bus)  # faust's changelogs are replicated like the bus's own topics
        try:
            changelogs = [t for t in admin.list_topics() if t.startswith(f"ledger-{tag}") and t.endswith("-changelog")]
            assert changelogs
            for topic in admin.describe_topics(changelogs):
                assert all(len(p["replica_nodes"]) == 3 for p in topic["partitions"]), topic["name"]
        finally:
            admin.close()
    finally:
        host.close()


def test_cluster_layout_is_kept_for_a_restart(tmp_path: Path) -> None:
    assert not LocalCluster.made(tmp_path / "c")
    a = LocalCluster(tmp_path / "c", settings=get_settings())
    assert LocalCluster.made(tmp_path / "c")
    b = LocalCluster(tmp_path / "c", settings=get_settings())
    assert a.bootstrap_servers == b.bootstrap_servers and len(a.nodes) == 3
    assert (a.replication, a.min_isr) == (3, 2)
