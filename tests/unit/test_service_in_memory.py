"""The service skeleton in memory: triage's own declaration, events in and out through the real
codec, its table's state visible, without a broker (the same declaration runs on faust in the
integration tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from liandong_sdk.events import (
    CaseHandoffRejected,
    CaseRef,
    Channel,
    MatterCategory,
    Petitioner,
    PetitionRegistered,
    PetitionTriaged,
    Unit,
)

from liandong import EVENT_TYPES, Codec, SchemaCatalogue, get_settings
from liandong.domain import ClockConfig
from liandong.domain.triage import Triage
from liandong.service import InMemory, Service
from services.triage.app import TRIAGE, load_routing

CODEC = Codec(SchemaCatalogue(get_settings().schemas_dir))
T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
CASE = CaseRef(case_number="140214-2026-000321", petition_id=uuid.uuid4(), district_code="140214")


def driver() -> InMemory:
    return InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), CODEC)


def registered(summary: str = "某工地拖欠工资三个月", event_id: uuid.UUID | None = None) -> PetitionRegistered:
    return PetitionRegistered(
        event_id=event_id or uuid.uuid4(), occurred_at=T0, case=CASE, deadline=None, channel=Channel.VISIT,
        petitioner=Petitioner(name="赵建国", phone="13500001111"), summary=summary,
        category_hint=MatterCategory.WAGE_ARREARS, idempotency_key=f"visit-{uuid.uuid4().hex[:6]}",
        received_at=T0 - timedelta(minutes=5))


def test_a_registered_petition_is_routed_and_its_state_kept() -> None:
    d = driver()
    out = d.send(registered())
    assert out[0].type == "petition.triaged" and isinstance(out[0].payload, PetitionTriaged)
    handoffs = [e for e in out if e.type == "case.handoff.requested"]
    lead = out[0].payload.lead_unit
    assert [h.topic for h in handoffs if h.data["role"] == "LEAD"] == [f"liandong.unit.{lead.lower()}.inbox"]
    state = d.state[CASE.case_number]
    assert state["lead"] == lead and len(state["handled"]) == 1


def test_a_redelivered_event_changes_nothing() -> None:
    d = driver()
    event = registered()
    first = d.send(event)
    assert first and d.send(event) == []
    assert len(d.state[CASE.case_number]["handled"]) == 1


def test_the_lead_units_objection_reroutes_the_case() -> None:
    d = driver()
    d.send(registered())
    lead = d.state[CASE.case_number]["lead"]
    objection = CaseHandoffRejected(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=1), case=CASE,
                                    unit=Unit(lead), reason="不属于本单位职责")
    out = d.send(objection)
    assert [e.type for e in out] == ["case.handoff.requested"]
    assert out[0].data["unit"] != lead and d.state[CASE.case_number]["lead"] == out[0].data["unit"]


def test_an_event_on_a_topic_the_service_does_not_read_is_refused() -> None:
    d = driver()
    msg = CODEC.encode_event(registered(), source="/liandong/test")
    event = CODEC.decode(msg.topic, msg.key, msg.value, msg.headers)
    wrong = type(event)(**{**{f: getattr(event, f) for f in event.__dataclass_fields__}, "topic": "liandong.deadletter"})
    with pytest.raises(ValueError, match="does not read"):
        d.send(wrong)


def test_a_handler_that_publishes_what_its_declaration_does_not_emit_fails() -> None:
    def echo(_: object, state: object, event: object) -> tuple[dict[str, object], list[tuple[str, dict[str, object]]]]:
        return {}, [("petition.triaged", {"event_id": uuid.uuid4(), "occurred_at": T0, "case": CASE.to_record(),
                                          "deadline": None, "category": "OTHER", "lead_unit": "JUSTICE",
                                          "co_units": [], "mode": "FORWARD", "rationale": "x"})]

    sloppy = Service("sloppy", topics_in=TRIAGE.topics_in, topics_out=TRIAGE.topics_out, emits=(),
                     handlers={PetitionRegistered: echo})
    with pytest.raises(AssertionError, match="does not emit"):
        InMemory(sloppy, None, CODEC).send(registered())


def test_liandong_events_names_every_consumer_of_an_objection() -> None:
    from services.registry import event_map

    rows = {r.event_type: r for r in event_map()}
    assert set(rows) == set(EVENT_TYPES)
    objection = rows["case.handoff.rejected"]
    assert objection.topic == "liandong.unit.{unit}.replies"
    assert "triage: Triage.rejected" in objection.consumers  # declared: the handler itself
    assert "ledger (reads the topic)" in objection.consumers
    assert objection.producers == ("units (writes the topic)",)
    assert "triage" in rows["case.handoff.requested"].producers
    assert not any(c.startswith("triage") for c in rows["case.accepted"].consumers)  # read, but not handled
