"""The ACL matrix against the real StandardAuthorizer: every unit principal, every topic,
reading and writing succeed exactly where the matrix says; a refusal is a clear error,
logged and counted, and the client goes on working."""

from __future__ import annotations

import uuid

import pytest
from kafka import TopicPartition
from kafka.errors import TopicAuthorizationFailedError
from liandong_sdk import DepartmentClient

from liandong import BUS_UNITS, HANDLING_UNITS, REVIEWING_BODIES, AuthorizationDenied, Bus, OutgoingMessage, all_topics
from liandong.examples import example_record
from liandong.metrics import AUTHORIZATION_DENIED
from services.registry import SPECS, grants

TOPICS = sorted(t.name for t in all_topics())
UNIT_GRANTS = {g.principal: g for g in grants() if g.principal.startswith("unit-")}


def _can_read(bus: Bus, topic: str) -> bool:
    consumer = bus.consumer(group_id=None, enable_auto_commit=False, request_timeout_ms=10000)
    try:
        # Without DESCRIBE the topic does not even show in metadata; without READ the fetch is refused.
        if not consumer.partitions_for_topic(topic):
            return False
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        consumer.poll(timeout_ms=1500)
        consumer.poll(timeout_ms=500)
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        consumer.close()


def _can_write(bus: Bus, topic: str) -> bool:
    with bus.publisher(f"acl-probe-{bus.principal}", max_block_ms=10000) as pub:
        try:
            pub.send(OutgoingMessage(topic, b"acl-probe", b"acl-probe", [])).get(timeout=15)
            return True
        except AuthorizationDenied:
            return False


@pytest.mark.parametrize("principal", sorted(UNIT_GRANTS))
def test_each_unit_reads_and_writes_exactly_what_the_matrix_says(bus: Bus, principal: str) -> None:
    grant = UNIT_GRANTS[principal]
    as_unit = bus.as_principal(principal)
    readable = {t for t in TOPICS if _can_read(as_unit, t)}
    writable = {t for t in TOPICS if _can_write(as_unit, t)}
    slug = principal.removeprefix("unit-")
    assert readable == {t for t in TOPICS if grant.may_read(t)} == {f"liandong.unit.{slug}.inbox"}
    assert writable == {t for t in TOPICS if grant.may_write(t)} == {f"liandong.unit.{slug}.replies", "liandong.deadletter"}


def test_services_are_granted_exactly_their_topics_in_and_out() -> None:
    triage = SPECS["triage"].grant()
    assert "liandong.bureau.petitions" in triage.reads and "liandong.bureau.petitions" not in triage.writes
    assert set(triage.writes) >= {f"liandong.unit.{s}.inbox" for s in HANDLING_UNITS.values()}
    # the referee: it alone reads the units' replies; it writes the checked answers
    assert set(triage.reads) >= {f"liandong.unit.{s}.replies" for s in HANDLING_UNITS.values()}
    assert "liandong.bureau.answers" in triage.writes
    for other in ("ledger", "supervision", "coordination", "intake"):
        assert not any(t.endswith(".replies") for t in SPECS[other].grant().reads), other
    ledger = SPECS["ledger"].grant()
    assert set(ledger.writes) == {"liandong.deadletter"}  # the ledger publishes nothing
    assert ledger.owned_topic_prefixes == ("ledger-",)  # its table's changelog
    intake = SPECS["intake"].grant()
    # no unit's inbox (contact details of its cases); only the reviewing bodies' (its own review requests)
    assert {t for t in intake.reads if t.endswith(".inbox")} == {f"liandong.unit.{s}.inbox" for s in REVIEWING_BODIES.values()}
    coordination = SPECS["coordination"].grant()  # no personal data: neither petitions nor inboxes are read
    assert set(coordination.reads) == {"liandong.bureau.coordination", "liandong.bureau.answers"}  # answers once checked
    assert set(coordination.writes) == ({"liandong.bureau.coordination", "liandong.deadletter"}
                                        | {f"liandong.unit.{s}.inbox" for s in HANDLING_UNITS.values()})
    assert coordination.owned_topic_prefixes == ("coordination-",)  # its tables' changelogs


def test_a_refusal_is_a_clear_error_counted_and_the_client_goes_on(bus: Bus) -> None:
    before = AUTHORIZATION_DENIED.labels("unit/police", "write")._value.get()
    with DepartmentClient("POLICE", bus, group_id=f"unit-police-{uuid.uuid4().hex[:6]}") as police:
        stray = bus.codec.encode("case.progress", example_record(bus.schemas, "case.progress", unit="JUSTICE"),
                                 source="/test")
        with pytest.raises(AuthorizationDenied, match=r"'unit-police' is not allowed to write topic liandong\.unit\.justice\.replies"):
            police._publisher.send(stray).get(timeout=15)
        assert AUTHORIZATION_DENIED.labels("unit/police", "write")._value.get() == before + 1
        # still working: its own inbox and replies are fine
        police.inbox(0.5)
        own = bus.codec.encode("case.progress", example_record(bus.schemas, "case.progress", unit="POLICE"),
                               source="/test")
        police._publisher.send(own).get(timeout=15)


def test_a_unit_cannot_read_another_units_inbox_and_is_told_so(bus: Bus) -> None:
    as_police = bus.as_principal("unit-police")
    with as_police.subscriber(["liandong.unit.justice.inbox"], group_id=f"unit-police-{uuid.uuid4().hex[:6]}",
                              service="probe") as sub, pytest.raises(AuthorizationDenied, match="not allowed to read"):
        for _ in range(20):
            sub.poll(500)


def test_supervision_writes_letters_and_listings_but_no_bureau_decisions(bus: Bus) -> None:
    grant = SPECS["supervision"].grant()
    assert set(grant.writes) == ({"liandong.bureau.supervision", "liandong.deadletter"}  # the bodies' too (复查/复核期限)
                                 | {f"liandong.unit.{s}.inbox" for s in BUS_UNITS.values()})
    as_supervision = bus.as_principal(grant.principal)
    assert _can_write(as_supervision, "liandong.unit.hrss.inbox")
    assert _can_write(as_supervision, "liandong.bureau.supervision")
    assert not _can_write(as_supervision, "liandong.bureau.triage")
    assert not _can_write(as_supervision, "liandong.unit.hrss.replies")  # answers are the unit's own
