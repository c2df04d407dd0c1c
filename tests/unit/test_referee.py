"""The bus is the referee: triage checks every unit's answer where it arrives, whatever client
wrote it (the answers here are plain records on a replies topic, as any Kafka client would send
them), publishes what it accepts again with the deadline that applies, and tells the unit on its
inbox why it refused the rest. Triage's own declaration, in memory, through the real codec."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from liandong import BUREAU_ANSWERS, HANDLING_UNITS, UNIT_REPLIES, Codec, Event, SchemaCatalogue, get_settings, load_clocks
from liandong.domain import BUREAU_TZ
from liandong.domain.triage import Triage
from liandong.service import InMemory
from services.triage.app import TRIAGE, load_routing

CODEC = Codec(SchemaCatalogue(get_settings().schemas_dir))
CLOCKS = load_clocks()
T0 = datetime(2026, 2, 13, 2, 30, tzinfo=UTC)  # Fri 13 Feb 2026, 10:30 Beijing: the Spring Festival follows
CASE = {"case_number": "140214-2026-000777", "petition_id": str(uuid.uuid4()), "district_code": "140214"}
PII = ("赵建国", "13500001111")


def end(month: int, day: int) -> datetime:
    return datetime.combine(date(2026, month, day), time(23, 59, 59, 999000), BUREAU_TZ).astimezone(UTC)


class Bus:
    """Triage in memory, with the bus's time under the test's control."""

    def __init__(self) -> None:
        self.now = T0
        self.triage = InMemory(TRIAGE, Triage(load_routing(), CLOCKS, lambda: self.now), CODEC)
        self.n = 0

    def register(self, summary: str = "施工工地老板恶意欠薪三个月") -> list[Event]:
        return self.triage.send(("petition.registered", {
            "event_id": uuid.uuid4(), "occurred_at": T0, "case": CASE, "deadline": None, "channel": "VISIT",
            "petitioner": {"name": PII[0], "id_number": None, "phone": PII[1], "address": None, "group_size": 1},
            "summary": summary, "category_hint": "WAGE_ARREARS", "idempotency_key": f"k-{uuid.uuid4().hex[:6]}",
            "received_at": T0 - timedelta(minutes=5), "repeat_of": None}))

    def answer(self, writer: str, event_type: str, at: datetime, unit: str | None = None, **fields: Any) -> list[Event]:
        """``writer`` (a unit) writes an answer naming ``unit`` (default: itself) on its own replies topic."""
        self.n += 1
        self.now = max(self.now, at)
        record = {"event_id": uuid.uuid4(), "occurred_at": at, "case": CASE, "deadline": None,
                  "unit": unit or writer, **fields}
        msg = CODEC.encode(event_type, record, source=f"/unit/{writer.lower()}")
        topic = UNIT_REPLIES.format(unit=HANDLING_UNITS[writer])
        return self.triage.send(CODEC.decode(topic, msg.key, msg.value, msg.headers))

    def state(self) -> dict[str, Any]:
        return self.triage.state(CASE["case_number"])


def refusal(out: list[Event], writer: str) -> str:
    """The one thing published for a refused answer: ``answer.refused`` on the writer's inbox."""
    assert [(e.type, e.topic) for e in out] == [("answer.refused", f"liandong.unit.{HANDLING_UNITS[writer]}.inbox")]
    assert out[0].data["unit"] == writer and out[0].key == CASE["case_number"]
    return str(out[0].data["reason"])


@pytest.fixture
def bus() -> Bus:
    b = Bus()
    out = b.register()
    assert {e.data["unit"]: e.data["role"] for e in out if e.type == "case.handoff.requested"} == {
        "HRSS": "LEAD", "HOUSING": "CO", "POLICE": "CO"}
    return b


def test_the_handoff_carries_the_objection_window_and_the_acceptance_deadline(bus: Bus) -> None:
    b = Bus()
    handoffs = [e for e in b.register() if e.type == "case.handoff.requested"]
    for h in handoffs:
        # Fri 13 Feb: Sat 14 (make-up day), the Spring Festival (15-23), Tue 24 .. Fri 27 Feb
        assert h.data["objection_due_at"] == end(2, 27)
        # 15 days: Sat 28 Feb, a make-up working day, so not moved
        assert h.data["deadline"] == {"clock": "ACCEPTANCE_NOTICE", "due_at": end(2, 28), "days": 15,
                                      "day_basis": "CALENDAR"}


def test_a_unit_cannot_answer_for_another(bus: Bus) -> None:
    before = bus.state()
    out = bus.answer("HOUSING", "case.handoff.rejected", T0 + timedelta(hours=1), unit="HRSS",
                     reason="不属于本单位职责", suggested_unit="HOUSING")
    assert "a unit answers only for itself" in refusal(out, "HOUSING")
    assert bus.state()["lead"] == "HRSS" and bus.state()["handoffs"] == before["handoffs"]
    assert not any(p in str(out[0].data) for p in PII)


def test_an_objection_after_its_window_is_refused_and_one_on_its_last_evening_is_not(bus: Bus) -> None:
    late = bus.answer("HRSS", "case.handoff.rejected", T0 + timedelta(days=40), reason="不属于本单位职责")
    assert "objection window" in refusal(late, "HRSS") and "2026-02-27 23:59" in late[0].data["reason"]
    assert bus.state()["lead"] == "HRSS"
    bus.now = T0
    in_time = bus.answer("HRSS", "case.handoff.rejected", datetime(2026, 2, 27, 8, 0, tzinfo=UTC),  # 16:00 Beijing
                         reason="不属于本单位职责", suggested_unit="JUSTICE")
    assert [e.type for e in in_time] == ["case.handoff.rejected", "case.handoff.requested"]
    assert in_time[0].topic == BUREAU_ANSWERS
    assert in_time[0].data["deadline"]["clock"] == "OBJECTION" and in_time[0].data["deadline"]["due_at"] == end(2, 27)
    assert bus.state()["lead"] == "JUSTICE"


def test_extensions_stay_within_the_cap_and_carry_the_moved_due_date(bus: Bus) -> None:
    bus.answer("HRSS", "case.handoff.accepted", T0 + timedelta(hours=2), signed_by="李科长")
    accepted = bus.answer("HRSS", "case.accepted", T0 + timedelta(hours=3), notice_no="n-1")
    # 13 Feb + 60 days: Tue 14 Apr
    handling = {"clock": "HANDLING", "due_at": end(4, 14), "days": 60, "day_basis": "CALENDAR"}
    assert accepted[0].data["deadline"] == handling
    # the unit is told its handling deadline on its inbox: it needs no calendar of its own
    assert [(e.type, e.topic) for e in accepted[1:]] == [("case.deadline.set", "liandong.unit.hrss.inbox")]
    assert accepted[1].data["deadline"] == handling and accepted[1].data["cause_event_id"] == accepted[0].id
    too_long = bus.answer("HRSS", "case.extension.approved", T0 + timedelta(days=50), extra_days=45, reason="复杂")
    assert "at most 30 days" in refusal(too_long, "HRSS")
    ok = bus.answer("HRSS", "case.extension.approved", T0 + timedelta(days=51), extra_days=20, reason="需现场核查")
    assert [e.topic for e in ok] == [BUREAU_ANSWERS, "liandong.unit.hrss.inbox"]
    assert ok[1].data["deadline"] == ok[0].data["deadline"]
    # 80 days: Sun 3 May, inside Labour Day (1-5 May): Wed 6 May
    assert ok[0].data["deadline"] == {"clock": "HANDLING", "due_at": end(5, 6), "days": 80, "day_basis": "CALENDAR"}
    again = bus.answer("HRSS", "case.extension.approved", T0 + timedelta(days=52), extra_days=11, reason="还要")
    assert "(Art. 32; 20 used), asked 11" in refusal(again, "HRSS")
    assert bus.state()["handoffs"]["HRSS"]["extension_days"] == 20


def test_an_answer_for_a_case_never_handed_to_the_unit_is_refused(bus: Bus) -> None:
    out = bus.answer("JUSTICE", "case.handoff.accepted", T0 + timedelta(hours=1), signed_by="王")
    assert "never handed to JUSTICE" in refusal(out, "JUSTICE")
    assert "JUSTICE" not in bus.state()["handoffs"]


def test_resolving_before_accepting_is_refused_then_the_valid_answers_apply(bus: Bus) -> None:
    early = bus.answer("HRSS", "case.resolved", T0 + timedelta(hours=1), outcome="SUPPORTED", tag="SOLVED",
                       opinion="已支付")
    assert "not allowed in state REQUESTED" in refusal(early, "HRSS")
    blank = bus.answer("HRSS", "case.handoff.accepted", T0 + timedelta(hours=2), signed_by="  ")
    assert "signed_by must not be empty" in refusal(blank, "HRSS")
    for event_type, fields in [("case.handoff.accepted", {"signed_by": "李"}), ("case.accepted", {"notice_no": "n"}),
                               ("case.progress", {"percent": 50, "note": "约谈"}),
                               ("case.resolved", {"outcome": "SUPPORTED", "tag": "SOLVED", "opinion": "已支付"})]:
        out = bus.answer("HRSS", event_type, T0 + timedelta(days=1 + bus.n), **fields)
        assert (out[0].type, out[0].topic) == (event_type, BUREAU_ANSWERS)
    assert bus.state()["handoffs"]["HRSS"]["status"] == "RESOLVED"
    assert [reason for _, reason in bus.triage.refused][:2] == [early[0].data["reason"], blank[0].data["reason"]]


def test_an_answer_dated_in_the_future_or_before_its_handoff_is_refused(bus: Bus) -> None:
    bus.now = T0

    def held(at: datetime) -> list[Event]:  # the bus's time stays at T0 (the helper would move it)
        record = {"event_id": uuid.uuid4(), "occurred_at": at, "case": CASE, "deadline": None, "unit": "POLICE",
                  "signed_by": "张"}
        msg = CODEC.encode("case.handoff.accepted", record, source="/unit/police")
        return bus.triage.send(CODEC.decode("liandong.unit.police.replies", msg.key, msg.value, msg.headers))

    assert "in the future" in refusal(held(T0 + timedelta(hours=2)), "POLICE")
    assert "before" in refusal(held(T0 - timedelta(days=1)), "POLICE")
    assert [e.topic for e in held(T0 + timedelta(minutes=5))] == [BUREAU_ANSWERS]  # within the clock skew allowed


def test_a_redelivered_refused_answer_is_not_judged_twice(bus: Bus) -> None:
    out = bus.answer("HRSS", "case.resolved", T0 + timedelta(hours=1), outcome="SUPPORTED", tag="SOLVED", opinion="x")
    refused = bus.triage.published[-1]
    assert refused.type == "answer.refused" and out == [refused]
    again = bus.triage.send(CODEC.decode("liandong.unit.hrss.replies", *_raw(out[0].data["refused_event_id"])))
    assert again == []


def _raw(event_id: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    record = {"event_id": uuid.UUID(event_id), "occurred_at": T0 + timedelta(hours=1), "case": CASE, "deadline": None,
              "unit": "HRSS", "outcome": "SUPPORTED", "tag": "SOLVED", "opinion": "x"}
    msg = CODEC.encode("case.resolved", record, source="/unit/hrss")
    return msg.key, msg.value, msg.headers


def test_a_coordination_answer_is_checked_for_who_speaks_and_passed_on() -> None:
    b = Bus()
    record = {"event_id": uuid.uuid4(), "occurred_at": T0, "case": CASE, "deadline": None, "mediation_id": str(uuid.uuid4()),
              "unit": "POLICE"}
    msg = CODEC.encode("mediation.joined", record, source="/unit/housing")
    wrong = b.triage.send(CODEC.decode("liandong.unit.housing.replies", msg.key, msg.value, msg.headers))
    assert "a unit answers only for itself" in refusal(wrong, "HOUSING")
    right = b.triage.send(CODEC.decode("liandong.unit.police.replies", msg.key, msg.value, msg.headers))
    assert [(e.type, e.topic, e.id) for e in right] == [("mediation.joined", BUREAU_ANSWERS, str(record["event_id"]))]


def test_an_item_assigned_from_above_bounds_every_clock_by_its_due_date() -> None:
    """上级交办: the bureau above set 20 Mar; the acceptance (15 days: 28 Feb) is within it, the handling
    clock (60 days) is not: it ends on 20 Mar, and an extension does not move it past that."""
    b = Bus()
    above = end(3, 20)
    out = b.triage.send(("petition.registered", {
        "event_id": uuid.uuid4(), "occurred_at": T0, "case": CASE, "deadline": None, "channel": "LETTER",
        "petitioner": {"name": PII[0], "id_number": None, "phone": PII[1], "address": None, "group_size": 1},
        "summary": "施工工地老板恶意欠薪三个月", "category_hint": "WAGE_ARREARS", "idempotency_key": "above-1",
        "received_at": T0, "repeat_of": None, "assigned_by": "市信访局", "assigned_due_at": above}))
    lead = next(e for e in out if e.type == "case.handoff.requested" and e.data["role"] == "LEAD")
    assert lead.data["deadline"]["due_at"] == end(2, 28)
    b.answer("HRSS", "case.handoff.accepted", T0 + timedelta(hours=1), signed_by="李")
    accepted = b.answer("HRSS", "case.accepted", T0 + timedelta(hours=2), notice_no="n")
    assert accepted[0].data["deadline"]["due_at"] == above
    extended = b.answer("HRSS", "case.extension.approved", T0 + timedelta(days=20), extra_days=30, reason="复杂")
    assert extended[0].data["deadline"]["due_at"] == above
    tight = Bus()
    tight.triage.send(("petition.registered", {
        "event_id": uuid.uuid4(), "occurred_at": T0, "case": CASE, "deadline": None, "channel": "LETTER",
        "petitioner": {"name": PII[0], "id_number": None, "phone": None, "address": None, "group_size": 1},
        "summary": "施工工地老板恶意欠薪三个月", "category_hint": "WAGE_ARREARS", "idempotency_key": "above-2",
        "received_at": T0, "repeat_of": None, "assigned_by": "省信访局", "assigned_due_at": end(2, 24)}))
    assert tight.state()["handoffs"]["HRSS"]["acceptance_due_at"] == end(2, 24).isoformat()


def test_an_answer_read_before_its_case_is_held_and_judged_once_the_case_is_known() -> None:
    """After a restart triage's state can lag behind the handoffs it had published: a unit's
    answer read before the redelivered petition is held, not refused, and judged then."""
    b = Bus()
    early = b.answer("HRSS", "case.handoff.accepted", T0 + timedelta(hours=1), signed_by="李")
    assert early == [] and "held" in b.state()
    out = b.register()
    assert ("case.handoff.accepted", BUREAU_ANSWERS) in [(e.type, e.topic) for e in out]
    assert b.state()["handoffs"]["HRSS"]["status"] == "SIGNED" and "held" not in b.state()
    c = Bus()
    c.answer("JUSTICE", "case.handoff.accepted", T0 + timedelta(hours=1), signed_by="王")  # never handed to it
    assert "never handed to JUSTICE" in refusal([e for e in c.register() if e.type == "answer.refused"], "JUSTICE")


# -- review and re-check (复查/复核): a reviewing body decides only what was asked of it ----------------
def _review_event(b: Bus, event_type: str, writer: str, topic_template: str, **fields: Any) -> list[Event]:
    from liandong import BUS_UNITS

    record = {"event_id": uuid.uuid4(), "occurred_at": b.now, "case": CASE, "deadline": None, **fields}
    msg = CODEC.encode(event_type, record, source=f"/unit/{writer.lower()}")
    return b.triage.send(CODEC.decode(topic_template.format(unit=BUS_UNITS[writer]), msg.key, msg.value, msg.headers))


def _requested(b: Bus, body: str = "CITY_HRSS", stage: str = "REVIEW") -> list[Event]:
    from liandong import UNIT_INBOX

    return _review_event(b, "review.requested", body, UNIT_INBOX, unit=body, stage=stage, reviewed_unit="HRSS",
                         applied_at=b.now, grounds="工资未结清", decision_under_review="不予支持")


def _decided(b: Bus, writer: str, unit: str | None = None, **over: Any) -> list[Event]:
    fields = {"unit": unit or writer, "stage": "REVIEW", "decision": "UPHELD", "text": "经复查，予以维持",
              "decided_by": "复查办", **over}
    return _review_event(b, "review.decided", writer, UNIT_REPLIES, **fields)


def _refused_to(out: list[Event], body_slug: str) -> str:
    assert [(e.type, e.topic) for e in out] == [("answer.refused", f"liandong.unit.{body_slug}.inbox")]
    return str(out[0].data["reason"])


def test_a_review_decision_passes_once_and_only_from_the_body_asked(bus: Bus) -> None:
    assert _requested(bus) == []
    assert "requested of CITY_HRSS, not of CITY_GOVERNMENT" in _refused_to(_decided(bus, "CITY_GOVERNMENT"), "city-gov")
    # a body speaking for another, on its own topic, is refused for that before anything else
    assert "a unit answers only for itself" in _refused_to(_decided(bus, "CITY_GOVERNMENT", unit="CITY_HRSS"), "city-gov")
    assert "decision (UPHELD, CHANGED, REVOKED)" in _refused_to(_decided(bus, "CITY_HRSS", decision="UNKNOWN"), "city-hrss")
    assert "text must not be empty" in _refused_to(_decided(bus, "CITY_HRSS", text=" "), "city-hrss")
    # a re-check not (yet) requested: held until its request is read, not refused nor passed
    assert _decided(bus, "CITY_HRSS", stage="RECHECK") == [] and len(bus.state()["held_decisions"]) == 1
    out = _decided(bus, "CITY_HRSS")
    assert [(e.type, e.topic, e.data["decision"]) for e in out] == [("review.decided", BUREAU_ANSWERS, "UPHELD")]
    assert bus.state()["reviews"]["REVIEW"]["decision"] == "UPHELD"
    assert "decided before (UPHELD)" in _refused_to(_decided(bus, "CITY_HRSS", decision="REVOKED"), "city-hrss")


def test_a_decision_read_before_its_request_is_judged_when_the_request_arrives(bus: Bus) -> None:
    assert _decided(bus, "CITY_HRSS", decision="CHANGED") == []  # the request not read yet: held, not refused
    out = _requested(bus)
    assert [(e.type, e.data["decision"]) for e in out] == [("review.decided", "CHANGED")]
    assert bus.state()["reviews"]["REVIEW"]["decision"] == "CHANGED" and bus.state()["held_decisions"] == []


def test_a_decision_dated_before_the_application_is_refused(bus: Bus) -> None:
    _requested(bus)
    early = _review_event(bus, "review.decided", "CITY_HRSS", UNIT_REPLIES, unit="CITY_HRSS", stage="REVIEW",
                          decision="UPHELD", text="维持", decided_by="复查办")
    assert early[0].type == "review.decided"  # same instant as the application: fine
    b = Bus()
    b.register()
    _requested(b)
    record = {"event_id": uuid.uuid4(), "occurred_at": b.now - timedelta(days=1), "case": CASE, "deadline": None,
              "unit": "CITY_HRSS", "stage": "REVIEW", "decision": "UPHELD", "text": "维持", "decided_by": "复查办"}
    msg = CODEC.encode("review.decided", record, source="/unit/city_hrss")
    out = b.triage.send(CODEC.decode("liandong.unit.city-hrss.replies", msg.key, msg.value, msg.headers))
    assert "dated before the application" in _refused_to(out, "city-hrss")
