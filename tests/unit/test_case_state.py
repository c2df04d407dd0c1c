"""The case state machine: folding events into CaseState, idempotency, illegal answers,
overdue clocks, extensions, co-units and the JSON form the ledger stores."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from liandong_sdk.records import json_default

from liandong import Codec, SchemaCatalogue, get_settings
from liandong.bench_scale import Template
from liandong.domain import CaseState, CaseStatus, ClockConfig, HandoffStatus, IllegalTransition
from liandong.domain.case import UNIT_TRANSITIONS, check_unit_transition, state_from_json, state_to_json
from tests.stand_ins import In, typed

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
CLOCKS = ClockConfig()  # weekends only: no holidays in these tests (docs/clocks.md: a period's end)


def end(month: int, day: int) -> datetime:
    """24:00 of a day in 2026 (its last millisecond, Beijing time): where a period ends (Civil Code Art. 201, 203)."""
    return datetime.combine(date(2026, month, day), time(23, 59, 59, 999000), CST)
CASE_NUMBER = "140214-2026-000001"
CASE = {"case_number": CASE_NUMBER, "petition_id": "5b0c7f8e-1f0a-4d44-9f0b-5a4c2b7d9e10", "district_code": "140214"}
PETITIONER = {"name": "王秀英", "id_number": "14021419800101002X", "phone": "13912345678", "address": "平城区某街1号",
              "group_size": 1}
_NS = uuid.UUID("2f3b8f5e-7d3c-4c38-9a57-0e2e5c7a1b44")
H = HandoffStatus


def eid(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


def data(name: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """An event record shaped like the Avro records in schemas/liandong.events.*.avsc."""
    return {"event_id": eid(name), "occurred_at": at, "case": dict(CASE), "deadline": None, **fields}


# One (event type, record) per step; the event id is derived from the step's name.
def registered(at: datetime = T0) -> tuple[str, dict[str, Any]]:
    return "petition.registered", data("registered", at, channel="VISIT", petitioner=PETITIONER,
                                       summary="拖欠工资三个月", category_hint="WAGE_ARREARS", idempotency_key="k-1",
                                       received_at=at - timedelta(hours=1), repeat_of=None)


def triaged(lead: str = "HRSS", co: tuple[str, ...] = ("HOUSING",), at: datetime = T0) -> tuple[str, dict[str, Any]]:
    return "petition.triaged", data("triaged", at, category="WAGE_ARREARS", lead_unit=lead, co_units=list(co),
                                    mode="ASSIGN", rationale="欠薪由人社牵头")


def handoff(unit: str, role: str = "LEAD", at: datetime = T0, attempt: int = 1) -> tuple[str, dict[str, Any]]:
    return "case.handoff.requested", data(f"handoff/{unit}/{attempt}", at, unit=unit, role=role, mode="ASSIGN",
                                          category="WAGE_ARREARS", summary="拖欠工资三个月", petitioner=PETITIONER,
                                          attempt=attempt)


def answer(event_type: str, unit: str, at: datetime, name: str = "", **fields: Any) -> tuple[str, dict[str, Any]]:
    defaults: dict[str, dict[str, Any]] = {
        "case.handoff.accepted": {"signed_by": "李四"},
        "case.handoff.rejected": {"reason": "不属于本单位职责", "suggested_unit": "UNKNOWN"},
        "case.accepted": {"notice_no": f"{CASE_NUMBER}-受理"},
        "case.not_accepted": {"reason": "已经复核终结"},
        "case.progress": {"percent": 50, "note": "已约谈企业"},
        "case.extension.approved": {"extra_days": 30, "reason": "情况复杂"},
        "case.resolved": {"outcome": "SUPPORTED", "tag": "SOLVED", "opinion": "工资已足额支付"},
    }
    return event_type, data(name or f"{event_type}/{unit}/{at.isoformat()}", at, unit=unit,
                            **{**defaults[event_type], **fields})


def fold(*events: tuple[str, dict[str, Any]], state: CaseState | None = None) -> CaseState:
    state = state or CaseState(CASE_NUMBER)
    for event_type, record in events:
        assert state.apply(typed(event_type, record), str(record["event_id"]), CLOCKS) is True
    return state


def routed() -> CaseState:
    """Registered, triaged and handed to HRSS (lead) and HOUSING (co) at T0."""
    return fold(registered(), triaged(), handoff("HRSS"), handoff("HOUSING", "CO"))


def accepted_by_lead(at: datetime = T0 + timedelta(days=2)) -> CaseState:
    return fold(answer("case.handoff.accepted", "HRSS", T0 + timedelta(days=1)), answer("case.accepted", "HRSS", at),
                state=routed())


@pytest.mark.parametrize(("event_type", "record"), [
    registered(), triaged(), handoff("HRSS"),
    *(answer(t, "HRSS", T0) for t in UNIT_TRANSITIONS),
    ("petition.repeat.detected", data("repeat", T0, earlier_case_number="140214-2025-000077", earlier_closed=False, reason="r")),
    ("petition.diverted", data("diverted", T0, category="LITIGATION", diversion_channel="LITIGATION", explanation="e")),
    ("case.jurisdiction.escalated", data("escalated", T0, units_tried=["HRSS"], reason="r")),
    ("case.jurisdiction.decided", data("decided", T0, unit="HRSS", decided_by="局务会", reason="r")),
], ids=lambda v: v if isinstance(v, str) else "")
def test_the_hand_built_records_fit_their_schemas(event_type: str, record: dict[str, Any]) -> None:
    """Guards the test data itself: every record these tests fold is one the bus would carry."""
    msg = Codec(SchemaCatalogue(get_settings().schemas_dir)).encode(event_type, record, source="/test")
    assert msg.key == CASE_NUMBER.encode()


# -- folding a case through its life -------------------------------------------------------
def test_registration_records_channel_category_and_time_but_no_personal_data() -> None:
    s = fold(registered())
    assert (s.status, s.channel, s.category) == (CaseStatus.REGISTERED, "VISIT", "WAGE_ARREARS")
    assert s.registered_at == T0 - timedelta(hours=1)
    assert [t.event for t in s.timeline] == ["petition.registered"]
    stored = state_to_json(s).decode()
    for value in ("王秀英", "14021419800101002X", "13912345678", "平城区"):
        assert value not in stored


def test_triage_and_handoffs_route_the_case_to_its_lead() -> None:
    s = fold(registered(), triaged())
    assert (s.status, s.lead_unit, s.co_units, s.mode) == (CaseStatus.REGISTERED, "HRSS", ["HOUSING"], "ASSIGN")
    fold(handoff("HRSS"), handoff("HOUSING", "CO"), state=s)
    assert s.status is CaseStatus.ROUTED
    assert set(s.handoffs) == {"HRSS", "HOUSING"}
    lead = s.lead
    assert lead is not None and lead.unit == "HRSS" and lead.role == "LEAD" and lead.status is H.REQUESTED
    assert lead.requested_at == T0
    assert lead.acceptance_due_at == end(3, 17)  # Mon 2 Mar 09:00 + 15 days: Tue 17 Mar, 24:00
    assert s.handoffs["HOUSING"].role == "CO"


def test_lead_answers_move_the_case_from_routed_to_resolved() -> None:
    s = routed()
    steps = [
        (answer("case.handoff.accepted", "HRSS", T0 + timedelta(days=1)), CaseStatus.SIGNED, H.SIGNED),
        (answer("case.accepted", "HRSS", T0 + timedelta(days=2)), CaseStatus.ACCEPTED, H.ACCEPTED),
        (answer("case.progress", "HRSS", T0 + timedelta(days=10), percent=40), CaseStatus.IN_PROGRESS, H.IN_PROGRESS),
        (answer("case.progress", "HRSS", T0 + timedelta(days=20), percent=80), CaseStatus.IN_PROGRESS, H.IN_PROGRESS),
        (answer("case.resolved", "HRSS", T0 + timedelta(days=30)), CaseStatus.RESOLVED, H.RESOLVED),
    ]
    for event, case_status, handoff_status in steps:
        fold(event, state=s)
        assert (s.status, s.handoffs["HRSS"].status) == (case_status, handoff_status), event[0]
    h = s.handoffs["HRSS"]
    assert h.signed_at == T0 + timedelta(days=1)
    assert h.accepted_at == T0 + timedelta(days=2)
    assert h.handling_due_at == end(5, 4)  # accepted Wed 4 Mar + 60 days: Sun 3 May, a rest day: Mon 4 May
    assert h.resolved_at == s.resolved_at == T0 + timedelta(days=30)
    assert (s.outcome, s.tag, s.progress_percent) == ("SUPPORTED", "SOLVED", 80)
    assert s.handoffs["HOUSING"].status is H.REQUESTED
    assert len(s.timeline) == 4 + len(steps)


def test_progress_never_goes_backwards() -> None:
    s = fold(answer("case.progress", "HRSS", T0 + timedelta(days=5), percent=70),
             answer("case.progress", "HRSS", T0 + timedelta(days=6), percent=30), state=accepted_by_lead())
    assert s.progress_percent == 70


def test_lead_not_accepting_closes_the_case_as_not_accepted() -> None:
    s = fold(answer("case.handoff.accepted", "HRSS", T0), answer("case.not_accepted", "HRSS", T0 + timedelta(days=3)),
             state=routed())
    assert s.status is CaseStatus.NOT_ACCEPTED and s.handoffs["HRSS"].status is H.NOT_ACCEPTED
    assert s.overdue(T0 + timedelta(days=100)) == []


def test_objection_rerouting_escalation_and_decision() -> None:
    s = fold(answer("case.handoff.rejected", "HRSS", T0 + timedelta(days=1), suggested_unit="JUSTICE"), state=routed())
    assert s.objections == 1 and s.handoffs["HRSS"].status is H.OBJECTED
    assert s.timeline[-1].detail == "不属于本单位职责"
    fold(handoff("JUSTICE", at=T0 + timedelta(days=1), attempt=2), state=s)
    assert (s.lead_unit, s.status, s.handoffs["JUSTICE"].attempt) == ("JUSTICE", CaseStatus.ROUTED, 2)
    fold(answer("case.handoff.rejected", "JUSTICE", T0 + timedelta(days=2)),
         ("case.jurisdiction.escalated", data("escalated", T0 + timedelta(days=2), units_tried=["HRSS", "JUSTICE"],
                                              reason="两次异议")), state=s)
    assert s.status is CaseStatus.ESCALATED and s.objections == 2
    fold(("case.jurisdiction.decided", data("decided", T0 + timedelta(days=3), unit="STREET_OFFICE",
                                            decided_by="联席会议", reason="属地")),
         handoff("STREET_OFFICE", at=T0 + timedelta(days=3), attempt=3), state=s)
    assert (s.lead_unit, s.status) == ("STREET_OFFICE", CaseStatus.ROUTED)
    assert s.lead is not None and s.lead.acceptance_due_at == end(3, 20)


def test_repeat_and_diversion_set_their_status() -> None:
    s = fold(registered(), ("petition.repeat.detected", data("repeat", T0, earlier_case_number="140214-2025-000077",
                                                             earlier_closed=True, reason="same matter")))
    assert (s.status, s.repeat_of) == (CaseStatus.REPEAT, "140214-2025-000077")
    assert s.timeline[-1].detail == "repeat of 140214-2025-000077 (closed)"
    d = fold(registered(), ("petition.diverted", data("diverted", T0, category="LITIGATION", diversion_channel="LITIGATION",
                                                     explanation="请向人民法院提出")))
    assert (d.status, d.category, d.diverted_to) == (CaseStatus.DIVERTED, "LITIGATION", "LITIGATION")
    assert d.overdue(T0 + timedelta(days=100)) == []


# -- idempotency -------------------------------------------------------------------------
def test_the_same_event_applied_twice_changes_nothing() -> None:
    s = accepted_by_lead()
    event_type, record = answer("case.progress", "HRSS", T0 + timedelta(days=5), percent=40)
    assert s.apply(typed(event_type, record), record["event_id"], CLOCKS) is True
    before = copy.deepcopy(s.to_dict())
    assert s.apply(typed(event_type, record), record["event_id"], CLOCKS) is False
    # Same id, different content (a redelivery must not be re-read either).
    assert s.apply(typed(event_type, {**record, "percent": 90}), record["event_id"], CLOCKS) is False
    assert s.to_dict() == before
    assert s.progress_percent == 40


def test_a_redelivered_handoff_does_not_reset_the_units_progress() -> None:
    s = accepted_by_lead()
    event_type, record = handoff("HRSS")
    assert s.apply(typed(event_type, record), record["event_id"], CLOCKS) is False
    assert s.handoffs["HRSS"].status is H.ACCEPTED and s.status is CaseStatus.ACCEPTED


# -- illegal transitions ---------------------------------------------------------------------
@pytest.mark.parametrize(("event_type", "current", "state_named"), [
    ("case.resolved", H.SIGNED, "SIGNED"),
    ("case.resolved", H.REQUESTED, "REQUESTED"),
    ("case.accepted", H.REQUESTED, "REQUESTED"),
    ("case.handoff.accepted", H.SIGNED, "SIGNED"),
    ("case.progress", H.RESOLVED, "RESOLVED"),
    ("case.extension.approved", H.SIGNED, "SIGNED"),
    ("case.handoff.rejected", H.ACCEPTED, "ACCEPTED"),
    ("case.not_accepted", H.NOT_ACCEPTED, "NOT_ACCEPTED"),
    ("case.accepted", None, "no handoff"),
])
def test_check_unit_transition_refuses_answers_the_state_does_not_allow(
        event_type: str, current: HandoffStatus | None, state_named: str) -> None:
    with pytest.raises(IllegalTransition, match=rf"{event_type} is not allowed in state {state_named} \(allowed in: "):
        check_unit_transition(event_type, current)


@pytest.mark.parametrize(("event_type", "current", "after"), [
    ("case.handoff.accepted", H.REQUESTED, H.SIGNED),
    ("case.handoff.rejected", H.REQUESTED, H.OBJECTED),
    ("case.handoff.rejected", H.SIGNED, H.OBJECTED),
    ("case.accepted", H.SIGNED, H.ACCEPTED),
    ("case.not_accepted", H.SIGNED, H.NOT_ACCEPTED),
    ("case.progress", H.ACCEPTED, H.IN_PROGRESS),
    ("case.extension.approved", H.IN_PROGRESS, None),
    ("case.resolved", H.IN_PROGRESS, H.RESOLVED),
])
def test_check_unit_transition_returns_the_next_state(event_type: str, current: HandoffStatus,
                                                       after: HandoffStatus | None) -> None:
    assert check_unit_transition(event_type, current) == after


def test_illegal_transition_is_a_value_error_and_every_answer_has_a_rule() -> None:
    assert issubclass(IllegalTransition, ValueError)
    assert set(UNIT_TRANSITIONS) == {"case.handoff.accepted", "case.handoff.rejected", "case.accepted",
                                     "case.not_accepted", "case.progress", "case.extension.approved", "case.resolved"}


def test_resolving_before_accepting_is_recorded_as_ignored_and_changes_nothing() -> None:
    s = fold(answer("case.handoff.accepted", "HRSS", T0 + timedelta(days=1)), state=routed())
    fold(answer("case.resolved", "HRSS", T0 + timedelta(days=2)), state=s)
    assert s.status is CaseStatus.SIGNED and s.handoffs["HRSS"].status is H.SIGNED
    assert (s.outcome, s.resolved_at, s.handoffs["HRSS"].resolved_at) == (None, None, None)
    assert s.timeline[-1].detail.startswith("ignored: case.resolved is not allowed in state SIGNED")


def test_an_answer_read_before_its_handoff_waits_for_it() -> None:
    """Inbox and replies are different topics: the ledger may read a reply before the handoff."""
    early_sign = answer("case.handoff.accepted", "POLICE", T0 + timedelta(days=1))
    s = fold(early_sign, state=routed())
    assert "POLICE" not in s.handoffs and s.status is CaseStatus.ROUTED
    assert [p["event_type"] for p in s.pending] == ["case.handoff.accepted"]
    assert s.apply(typed(*early_sign), str(early_sign[1]["event_id"]), CLOCKS) is False  # redelivered: still once
    restored = state_from_json(state_to_json(s))  # pending answers survive the changelog
    fold(handoff("POLICE", "CO", T0 + timedelta(hours=1)), state=restored)
    assert restored.handoffs["POLICE"].status is H.SIGNED and restored.pending == []
    assert [t.event for t in restored.timeline][-2:] == ["case.handoff.requested", "case.handoff.accepted"]


# -- co-units ----------------------------------------------------------------------------
def test_co_unit_answers_do_not_change_the_case_status_or_outcome() -> None:
    s = routed()
    fold(answer("case.handoff.accepted", "HOUSING", T0 + timedelta(days=1)),
         answer("case.accepted", "HOUSING", T0 + timedelta(days=2)),
         answer("case.progress", "HOUSING", T0 + timedelta(days=3), percent=90),
         answer("case.resolved", "HOUSING", T0 + timedelta(days=4), outcome="EXPLAINED", tag="EXPLAINED"), state=s)
    assert s.handoffs["HOUSING"].status is H.RESOLVED
    assert s.status is CaseStatus.ROUTED
    assert (s.outcome, s.tag, s.resolved_at, s.progress_percent) == (None, None, None, 0)
    assert s.handoffs["HRSS"].status is H.REQUESTED


def test_co_unit_objection_counts_but_keeps_the_lead() -> None:
    s = fold(answer("case.handoff.rejected", "HOUSING", T0 + timedelta(days=1)), state=routed())
    assert s.objections == 1 and s.handoffs["HOUSING"].status is H.OBJECTED
    assert (s.lead_unit, s.status) == ("HRSS", CaseStatus.ROUTED)


# -- clocks: overdue and extension -------------------------------------------------------------
def test_acceptance_notice_is_overdue_only_after_15_days_and_until_accepted() -> None:
    s = routed()
    due = end(3, 17)
    assert s.overdue(due) == []
    assert s.overdue(due + timedelta(seconds=1)) == ["ACCEPTANCE_NOTICE"]
    fold(answer("case.handoff.accepted", "HRSS", T0 + timedelta(days=1)), state=s)
    assert s.overdue(due + timedelta(seconds=1)) == ["ACCEPTANCE_NOTICE"]  # signing is not the acceptance notice
    fold(answer("case.accepted", "HRSS", due + timedelta(days=1)), state=s)
    assert s.overdue(due + timedelta(days=2)) == []


def test_a_late_co_unit_does_not_make_the_case_overdue() -> None:
    s = fold(answer("case.handoff.accepted", "HRSS", T0), answer("case.accepted", "HRSS", T0), state=routed())
    assert s.handoffs["HOUSING"].status is H.REQUESTED
    assert s.overdue(T0 + timedelta(days=30)) == []


def test_handling_is_overdue_after_60_days_until_resolved() -> None:
    accepted_at = T0 + timedelta(days=2)
    s = accepted_by_lead(accepted_at)
    assert s.overdue(end(5, 4)) == []  # Sun 3 May + the next working day
    assert s.overdue(end(5, 4) + timedelta(seconds=1)) == ["HANDLING"]
    fold(answer("case.resolved", "HRSS", accepted_at + timedelta(days=70)), state=s)
    assert s.overdue(accepted_at + timedelta(days=71)) == []


def test_no_lead_no_overdue() -> None:
    assert fold(registered()).overdue(T0 + timedelta(days=365)) == []


def test_extension_moves_handling_due() -> None:
    accepted_at = T0 + timedelta(days=2)
    s = accepted_by_lead(accepted_at)
    assert s.handoffs["HRSS"].handling_due_at == end(5, 4)
    fold(answer("case.extension.approved", "HRSS", accepted_at + timedelta(days=50), extra_days=20), state=s)
    h = s.handoffs["HRSS"]
    assert (h.extension_days, s.extensions) == (20, 1)
    assert h.handling_due_at == end(5, 25)  # 80 days: Sat 23 May, moved to Mon 25 May
    assert s.status is CaseStatus.ACCEPTED  # an extension is not a state change
    assert s.overdue(accepted_at + timedelta(days=61)) == []
    assert s.overdue(end(5, 25) + timedelta(seconds=1)) == ["HANDLING"]
    assert s.timeline[-1].detail == "+20 days: 情况复杂"
    fold(answer("case.extension.approved", "HRSS", accepted_at + timedelta(days=70), extra_days=10), state=s)
    assert s.handoffs["HRSS"].handling_due_at == end(6, 2)  # 90 days: Tue 2 Jun
    assert s.extensions == 2


def test_handling_due_uses_the_configured_clocks() -> None:
    clocks = ClockConfig(handling_days=30, acceptance_notice_days=7)
    s = CaseState(CASE_NUMBER)
    for event_type, record in (handoff("HRSS"), answer("case.handoff.accepted", "HRSS", T0),
                               answer("case.accepted", "HRSS", T0 + timedelta(days=1))):
        s.apply(typed(event_type, record), record["event_id"], clocks)
    assert s.handoffs["HRSS"].acceptance_due_at == end(3, 9)
    assert s.handoffs["HRSS"].handling_due_at == end(4, 2)


# -- the ledger's JSON form ------------------------------------------------------------------
def _full_history() -> CaseState:
    s = accepted_by_lead()
    return fold(answer("case.progress", "HRSS", T0 + timedelta(days=5), percent=60),
                answer("case.extension.approved", "HRSS", T0 + timedelta(days=50), extra_days=15),
                answer("case.handoff.rejected", "HOUSING", T0 + timedelta(days=1)),
                answer("case.resolved", "HRSS", T0 + timedelta(days=70), outcome="EXPLAINED", tag="EXPLAINED"), state=s)


@pytest.mark.parametrize("make", [lambda: CaseState(CASE_NUMBER), routed, _full_history],
                         ids=["empty", "routed", "full-history"])
def test_state_json_round_trip_is_equal(make: Any) -> None:
    s = make()
    back = state_from_json(state_to_json(s))
    assert back == s
    assert state_to_json(back) == state_to_json(s)


def test_a_record_written_by_the_earlier_encoder_reads_the_same() -> None:
    """Changelogs written before the ledger encoded with pydantic-core (json.dumps, "+00:00" times)
    still restore the same states."""
    s = state_from_json(Template.build().closed)  # times in UTC, as the services write them
    earlier = json.dumps(s.to_dict(), default=json_default, ensure_ascii=False, separators=(",", ":")).encode()
    assert earlier != state_to_json(s)  # the two encoders do differ (times: "+00:00" and "Z")
    assert state_from_json(earlier) == s == state_from_json(state_to_json(s))


def test_state_from_json_restores_types() -> None:
    back = state_from_json(state_to_json(_full_history()))
    assert back.status is CaseStatus.RESOLVED
    h = back.handoffs["HRSS"]
    assert h.status is H.RESOLVED and h.handling_due_at == end(5, 18)  # 4 Mar + 75 days
    assert all(isinstance(x, datetime) and x.tzinfo is not None
               for x in (h.requested_at, h.acceptance_due_at, h.signed_at, h.accepted_at, h.resolved_at, back.resolved_at))
    assert all(isinstance(t.at, datetime) for t in back.timeline)
    # The restored state goes on folding: a redelivered event is still recognised.
    event_type, record = answer("case.resolved", "HRSS", T0 + timedelta(days=70), outcome="EXPLAINED", tag="EXPLAINED")
    assert back.apply(typed(event_type, record), record["event_id"], CLOCKS) is False


# -- statuses that stay true; the bus's refusals on the timeline --------------------------------------
def test_a_referred_case_stays_referred_whatever_the_units_answer_later() -> None:
    s = accepted_by_lead()
    fold(("case.referred", data("referred", T0 + timedelta(days=20), channel="ARBITRATION",
                                mediation_id=str(uuid.uuid4()), reason="调解不成，引导劳动仲裁")), state=s)
    assert s.status is CaseStatus.REFERRED
    fold(answer("case.progress", "HRSS", T0 + timedelta(days=25), percent=90),
         answer("case.resolved", "HRSS", T0 + timedelta(days=30)), state=s)
    assert s.status is CaseStatus.REFERRED and s.handoffs["HRSS"].status is H.RESOLVED  # the unit's own record moves on
    assert [t.event for t in s.timeline[-2:]] == ["case.progress", "case.resolved"]


def test_an_answer_the_bus_refused_shows_on_the_timeline_and_changes_nothing() -> None:
    from liandong.domain import Ledger
    def refusal(record: dict[str, Any]) -> In:
        return In("answer.refused", record["event_id"], record, "liandong.unit.housing.inbox")

    s = routed()
    record = {"event_id": eid("refused"), "occurred_at": T0 + timedelta(days=1), "case": CASE, "deadline": None,
              "unit": "HOUSING", "key": CASE_NUMBER, "refused_event_id": str(uuid.uuid4()),
              "refused_type": "case.handoff.rejected", "reason": "a unit answers only for itself"}
    before = copy.deepcopy(s.handoffs)
    after, _ = Ledger(CLOCKS).record(s, refusal(record))
    assert after is not None and after.handoffs == before and after.status is CaseStatus.ROUTED
    assert after.timeline[-1].detail == "the bus refused case.handoff.rejected: a unit answers only for itself"
    assert Ledger(CLOCKS).record(None, refusal(record)) == (None, [])


# -- the whole state machine: every state, every answer, what follows ---------------------------------
ANSWERS = ("case.handoff.accepted", "case.handoff.rejected", "case.accepted", "case.not_accepted", "case.progress",
           "case.extension.approved", "case.resolved")
S, OBJ, A, N, P, R = H.SIGNED, H.OBJECTED, H.ACCEPTED, H.NOT_ACCEPTED, H.IN_PROGRESS, H.RESOLVED
#: Written out by hand (not derived from UNIT_TRANSITIONS): per handoff state, the state after each
#: answer in ANSWERS' order; "-" where the answer is refused, "=" where it is allowed and changes no state.
HANDOFF_MACHINE: dict[HandoffStatus, tuple[object, ...]] = {
    H.REQUESTED: (S, OBJ, "-", "-", "-", "-", "-"),
    H.SIGNED: ("-", OBJ, A, N, "-", "-", "-"),
    H.OBJECTED: ("-", "-", "-", "-", "-", "-", "-"),
    H.ACCEPTED: ("-", "-", "-", "-", P, "=", R),
    H.NOT_ACCEPTED: ("-", "-", "-", "-", "-", "-", "-"),
    H.IN_PROGRESS: ("-", "-", "-", "-", P, "=", R),
    H.RESOLVED: ("-", "-", "-", "-", "-", "-", "-"),
}


@pytest.mark.parametrize("current", list(HandoffStatus))
def test_every_handoff_state_allows_exactly_what_the_table_says(current: HandoffStatus) -> None:
    assert set(HANDOFF_MACHINE) == set(HandoffStatus)
    for event_type, expected in zip(ANSWERS, HANDOFF_MACHINE[current], strict=True):
        if expected == "-":
            with pytest.raises(IllegalTransition):
                check_unit_transition(event_type, current)
        else:
            assert check_unit_transition(event_type, current) == (None if expected == "=" else expected), event_type


def _case_in(status: CaseStatus) -> CaseState:
    """A case brought into ``status`` by the events that lead there."""
    lead = lambda t, d: answer(t, "HRSS", T0 + timedelta(days=d))  # noqa: E731
    steps: dict[CaseStatus, Any] = {
        CaseStatus.REGISTERED: lambda: fold(registered()),
        CaseStatus.ROUTED: routed,
        CaseStatus.SIGNED: lambda: fold(lead("case.handoff.accepted", 1), state=routed()),
        CaseStatus.ACCEPTED: accepted_by_lead,
        CaseStatus.IN_PROGRESS: lambda: fold(lead("case.progress", 3), state=accepted_by_lead()),
        CaseStatus.RESOLVED: lambda: fold(lead("case.resolved", 4), state=accepted_by_lead()),
        CaseStatus.NOT_ACCEPTED: lambda: fold(lead("case.handoff.accepted", 1), lead("case.not_accepted", 2),
                                              state=routed()),
        CaseStatus.REFERRED: lambda: fold(("case.referred", data("referred", T0 + timedelta(days=5), channel="ARBITRATION",
                                                                  mediation_id=str(uuid.uuid4()), reason="调解不成")),
                                          state=accepted_by_lead()),
        CaseStatus.ESCALATED: lambda: fold(lead("case.handoff.rejected", 1), ("case.jurisdiction.escalated", data(
            "escalated", T0 + timedelta(days=2), units_tried=["HRSS"], reason="职责不明")), state=routed()),
        CaseStatus.DIVERTED: lambda: fold(registered(), ("petition.diverted", data(
            "diverted", T0, category="LITIGATION", diversion_channel="LITIGATION", explanation="请向人民法院提出"))),
        CaseStatus.REPEAT: lambda: fold(registered(), ("petition.repeat.detected", data(
            "repeat", T0, earlier_case_number="140214-2025-000077", earlier_closed=True, reason="same matter"))),
    }
    assert set(steps) == set(CaseStatus)
    s = steps[status]()
    assert s.status is status
    return s


#: Per case status, the case's status after each of the lead's answers (ANSWERS' order): what may follow it.
#: An answer its handoff does not allow changes nothing; a referred case stays referred.
C = CaseStatus
CASE_MACHINE: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    C.REGISTERED: (C.REGISTERED,) * 7,  # no handoff yet: every answer waits for one
    C.ROUTED: (C.SIGNED, C.ROUTED, C.ROUTED, C.ROUTED, C.ROUTED, C.ROUTED, C.ROUTED),  # an objection: triage re-routes
    C.SIGNED: (C.SIGNED, C.SIGNED, C.ACCEPTED, C.NOT_ACCEPTED, C.SIGNED, C.SIGNED, C.SIGNED),
    C.ACCEPTED: (C.ACCEPTED, C.ACCEPTED, C.ACCEPTED, C.ACCEPTED, C.IN_PROGRESS, C.ACCEPTED, C.RESOLVED),
    C.IN_PROGRESS: (C.IN_PROGRESS,) * 4 + (C.IN_PROGRESS, C.IN_PROGRESS, C.RESOLVED),
    C.RESOLVED: (C.RESOLVED,) * 7,
    C.NOT_ACCEPTED: (C.NOT_ACCEPTED,) * 7,
    C.REFERRED: (C.REFERRED,) * 7,
    C.ESCALATED: (C.ESCALATED,) * 7,  # the lead objected: only the bureau's decision and a new handoff move it
    C.DIVERTED: (C.DIVERTED,) * 7,
    C.REPEAT: (C.REPEAT,) * 7,
}


@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_case_status_is_followed_only_by_what_the_table_says(status: CaseStatus) -> None:
    assert set(CASE_MACHINE) == set(CaseStatus)
    for event_type, expected in zip(ANSWERS, CASE_MACHINE[status], strict=True):
        s = _case_in(status)
        fold(answer(event_type, "HRSS", T0 + timedelta(days=10)), state=s)
        assert s.status is expected, f"{status} + {event_type}: {s.status}, expected {expected}"


def test_a_diverted_case_the_bureau_routes_after_all_is_routed_and_says_so() -> None:
    d = fold(registered(), ("petition.diverted", data("diverted", T0, category="OFFICIAL_MISCONDUCT",
                                                     diversion_channel="DISCIPLINE", explanation="请向纪检监察机关反映",
                                                     matched=["吃拿卡要"])))
    assert d.status is CaseStatus.DIVERTED and d.timeline[-1].detail == "diverted to DISCIPLINE (matched 吃拿卡要)"
    fold(("case.jurisdiction.decided", data("undivert", T0 + timedelta(days=1), unit="STREET_OFFICE",
                                            decided_by="信访局", reason="属服务态度问题")),
         handoff("STREET_OFFICE", at=T0 + timedelta(days=1)), state=d)
    assert (d.status, d.lead_unit, d.diverted_to) == (CaseStatus.ROUTED, "STREET_OFFICE", None)
    assert "信访局 decided: STREET_OFFICE (was diverted to DISCIPLINE)" in [t.detail for t in d.timeline]
