"""The service skeleton in memory: triage's own declaration, events in and out through the real
codec, its table's state visible, without a broker (the same declaration runs on faust in the
integration tests)."""

from __future__ import annotations

import json
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
from liandong.service import InMemory, Service, Table
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
    assert d.state(CASE.case_number)["lead"] == lead


def test_a_redelivered_event_changes_nothing() -> None:
    d = driver()
    event = registered()
    first = d.send(event)
    kept = d.stores["triage-cases"][CASE.case_number.encode()]
    assert first and d.send(event) == []
    assert d.stores["triage-cases"][CASE.case_number.encode()] == kept


def test_the_lead_units_objection_reroutes_the_case() -> None:
    d = driver()
    d.send(registered())
    lead = d.state(CASE.case_number)["lead"]
    objection = CaseHandoffRejected(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=1), case=CASE,
                                    unit=Unit(lead), reason="不属于本单位职责")
    out = d.send(objection)
    # the referee's checked copy (on the bureau's answers topic), then the handoff to the next unit
    assert [(e.type, e.topic) for e in out] == [("case.handoff.rejected", "liandong.bureau.answers"),
                                               ("case.handoff.requested", out[1].topic)]
    assert out[1].data["unit"] != lead and d.state(CASE.case_number)["lead"] == out[1].data["unit"]


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
                     tables=(Table("sloppy", {PetitionRegistered: echo}),))
    with pytest.raises(AssertionError, match="does not emit"):
        InMemory(sloppy, None, CODEC).send(registered())


def test_liandong_events_names_every_consumer_of_an_objection() -> None:
    from services.registry import event_map

    rows = {r.event_type: r for r in event_map()}
    assert set(rows) == set(EVENT_TYPES)
    objection = rows["case.handoff.rejected"]
    assert objection.topic == "liandong.unit.{unit}.replies"
    assert objection.checked_on == "liandong.bureau.answers"  # the referee's copy, what the others read
    assert "triage: Triage.answered" in objection.consumers  # declared: the handler itself (the referee)
    assert "triage" in objection.producers  # the checked copy
    assert "ledger: Recorder.record" in objection.consumers
    assert "supervision: Supervisor.watch" in objection.consumers
    assert "intake: IntakeService._rejected" in objection.consumers  # its log follower's map (intake has no Service)
    assert not any(c.startswith("intake") for c in rows["case.accepted"].consumers)  # on a topic it reads, not followed
    assert "supervision: Supervisor.repeated" in rows["petition.repeat.detected"].consumers  # on the earlier case
    joined = rows["mediation.joined"].consumers
    assert "coordination: Coordination.joined" in joined and "ledger: Recorder.view" in joined
    assert objection.producers == ("triage", "units (writes the topic)")
    assert "triage" in rows["case.handoff.requested"].producers
    assert "triage: Triage.vouched" in rows["mediation.joined"].consumers  # who speaks is checked, coordination judges


# -- a service of several tables, with ticks: coordination's own declaration ----------------------
def coordination() -> InMemory:
    from liandong.domain.coordination import Coordination
    from services.coordination.app import COORDINATION
    from services.coordination.config import load_config

    return InMemory(COORDINATION, Coordination(load_config()), CODEC)


def test_coordination_fans_out_an_invitation_and_reminds_when_it_falls_due() -> None:
    from services.coordination.requests import mediation_proposal

    d = coordination()
    case = "140214-2026-000555"
    out = d.send(mediation_proposal(case, convener="JUSTICE", participants=["HRSS", "HOUSING"], subject="欠薪纠纷",
                                    legal_advisers=[], at=T0))
    assert sorted(e.topic for e in out) == [f"liandong.unit.{u}.inbox" for u in ("housing", "hrss", "justice")]
    (mediation,) = d.state(case, "coordination-mediations").values()
    assert d.state(case, "coordination-packages") is None  # only the table that handles the type changed
    assert d.tick(T0 + timedelta(days=1)) == []  # not due yet
    due = T0 + timedelta(days=d.decisions.config.mediation_answer_days)
    reminded = d.tick(due)
    assert sorted((e.type, e.data["unit"]) for e in reminded) == [("mediation.reminder", "HOUSING"),
                                                                  ("mediation.reminder", "HRSS")]
    assert d.tick(due) == []  # once per stage: the tick's state was kept
    assert mediation["status"] == "OPEN"


def test_a_refused_event_changes_nothing_and_is_reported() -> None:
    from services.coordination.requests import mediation_proposal

    d = coordination()
    case = "140214-2026-000556"
    d.send(mediation_proposal(case, convener="JUSTICE", participants=["HRSS"], subject="欠薪纠纷", legal_advisers=[],
                              at=T0))
    kept = d.stores["coordination-mediations"][case.encode()]
    (mid,) = d.state(case, "coordination-mediations")
    session = ("mediation.session_held", {
        "event_id": str(uuid.uuid4()), "occurred_at": T0 + timedelta(days=1),
        "case": d.state(case, "coordination-mediations")[mid]["case"], "deadline": None, "mediation_id": mid,
        "unit": "HRSS", "held_at": T0 + timedelta(days=1), "attendees": ["王科长"], "summary": "未到场"})
    assert d.send(session) == []
    ((event, reason),) = d.refused
    assert event.type == "mediation.session_held" and "only the convener JUSTICE" in reason
    stored = json.loads(d.stores["coordination-mediations"][case.encode()])
    assert stored["state"] == json.loads(kept)["state"]  # the state as it was
    assert event.id in stored["handled"]  # remembered: a redelivery is not judged again
    assert d.send(event) == [] and len(d.refused) == 1


# -- a handler on another key the event names: supervision's repeat petition --------------------
def test_a_repeat_petition_is_judged_on_the_earlier_cases_record_and_ticks_issue_the_ladder() -> None:
    from liandong_sdk.events import CaseAccepted, CaseHandoffRequested, HandoffMode, HandoffRole, PetitionRepeatDetected

    from liandong import load_clocks
    from liandong.domain.supervision import Supervisor
    from services.supervision.app import SUPERVISION

    d = InMemory(SUPERVISION, Supervisor(load_clocks()), CODEC)
    d.send(registered())
    d.send(CaseHandoffRequested(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(hours=1), case=CASE, deadline=None,
                                unit=Unit.HRSS, role=HandoffRole.LEAD, mode=HandoffMode.FORWARD, attempt=1,
                                petitioner=Petitioner(name="赵建国", phone="13500001111"), summary="欠薪",
                                category=MatterCategory.WAGE_ARREARS))
    assert d.tick(T0 + timedelta(days=1)) == []  # nothing due yet
    letters = d.tick(T0 + timedelta(days=40))  # the acceptance notice clock long past: the ladder, at once
    assert {e.type for e in letters} >= {"supervision.notice", "supervision.listed"}
    assert d.tick(T0 + timedelta(days=41)) == []  # each letter once
    d.send(CaseAccepted(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=41), case=CASE, deadline=None,
                        unit=Unit.HRSS, notice_no="受理告知〔2026〕1号"))
    later = CaseRef(case_number="140214-2026-000999", petition_id=uuid.uuid4(), district_code="140214")
    repeat = PetitionRepeatDetected(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=45), case=later,
                                    deadline=None, earlier_case_number=CASE.case_number, earlier_closed=False,
                                    reason="同一信访人同一事项")
    (notice,) = d.send(repeat)
    assert notice.type == "supervision.notice" and notice.key == CASE.case_number
    assert notice.data["unit"] == "HRSS" and notice.data["trigger"] == "SHOULD_HANDLE_NOT_HANDLED"
    assert str(notice.id) in d.state(CASE.case_number).issued  # kept on the earlier case's record
    assert d.state(later.case_number) is not None  # the new case's own record: its forward clock stopped
    assert d.send(repeat) == []  # the same repeat again: no second notice


# -- the ledger's coordination views: a fold in the domain, counted by the service once ----------
def test_the_ledger_keeps_a_team_task_and_counts_it_once_however_often_it_is_delivered() -> None:
    from liandong_sdk.events import TeamTaskAcknowledged, TeamTaskAssigned

    from liandong import load_clocks
    from liandong.metrics import TEAM_TASKS
    from services.ledger.app import LEDGER, Recorder

    d = InMemory(LEDGER, Recorder.unsealed(load_clocks()), CODEC)
    task = f"T-{uuid.uuid4().hex[:6]}"
    assigned = TeamTaskAssigned(event_id=uuid.uuid4(), occurred_at=T0, task_number=task, team="wages",
                                group="inspection", unit=Unit.HRSS, campaign="wages-2026", description="排查在建项目")
    before = {s: TEAM_TASKS.labels(s)._value.get() for s in ("assigned", "acknowledged")}
    for _ in range(2):  # redelivered: recognised by its id
        assert d.send(assigned) == []
    d.send(TeamTaskAcknowledged(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(hours=2), task_number=task,
                                team="wages", group="inspection", unit=Unit.HRSS, acknowledged_by="王科长"))
    view = d.state(task, "ledger-coordination")
    assert view is not None and view["task"]["status"] == "ACKNOWLEDGED" and view["task"]["campaign"] == "wages-2026"
    assert {s: TEAM_TASKS.labels(s)._value.get() - before[s] for s in before} == {"assigned": 1, "acknowledged": 1}


def test_the_services_on_the_way_to_an_answer_batch_briefly_the_others_unhurried() -> None:
    """Triage (each handoff, each answer it referees) and coordination (the units' tasks) sit between
    a petition and a unit's answer; the ledger, notices and supervision do not: a fuller batch writes
    a busy case's record once for several events, and an idle worker wakes up less often."""
    from liandong.streams import BATCH_WITHIN, UNHURRIED_WITHIN
    from services.coordination.app import COORDINATION
    from services.ledger.app import LEDGER
    from services.notices.app import NOTICES
    from services.supervision.app import SUPERVISION

    assert TRIAGE.batch_within == COORDINATION.batch_within == BATCH_WITHIN
    assert LEDGER.batch_within == NOTICES.batch_within == SUPERVISION.batch_within == UNHURRIED_WITHIN
    assert UNHURRIED_WITHIN > BATCH_WITHIN
