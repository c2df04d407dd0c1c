"""Supervision (督查督办), pure: clocks from case events, the escalation ladder on the business
calendar, extension and resolution, triggers beyond time, recommendations without an answer.

Time is simulated: a fake clock steps hour by hour over months and ``Supervisor.due`` is asked at
every step, as the service's timer would; each letter's date is the step it first came out at.
The calendar is the shipped ``liandong/clocks.yaml`` (China's 2026 holidays).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from liandong import load_clocks
from liandong.domain import BusinessCalendar, ClockConfig, EscalationLadder
from liandong.domain.supervision import STAGE_EVENT, SupervisedCase, Supervisor, recommendation, stage_event_id
from tests.stand_ins import plain, typed

CST = timezone(timedelta(hours=8))
CLOCKS = load_clocks()  # the shipped liandong/clocks.yaml
SUP = Supervisor(CLOCKS)


def at(month: int, day: int, hour: int = 10, minute: int = 30) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


def end(month: int, day: int) -> datetime:
    """24:00 of the day (its last millisecond): where a period ends. A reminder comes out at the
    start of its day, a notice once the period is over (the next day's first step, 00:30 here)."""
    return datetime.combine(date(2026, month, day), time(23, 59, 59, 999000), CST)


class Case:
    """Events of one case, as the bus would carry them."""

    def __init__(self, number: str | None = None) -> None:
        self.number = number or f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
        self.ref = {"case_number": self.number, "petition_id": str(uuid.uuid4()), "district_code": "140214"}
        self.state = SupervisedCase(self.number)

    def event(self, event_type: str, when: datetime, sup: Supervisor = SUP, event_id: str | None = None,
              **fields: Any) -> str:
        eid = event_id or str(uuid.uuid4())
        data = {"event_id": eid, "occurred_at": when, "case": self.ref, "deadline": None, **fields}
        sup.apply(self.state, typed(event_type, data), eid)
        return eid

    def handoff(self, when: datetime, unit: str = "HRSS", role: str = "LEAD", **kw: Any) -> str:
        return self.event("case.handoff.requested", when, unit=unit, role=role, mode="ASSIGN", attempt=1, **kw)


def run(case: Case, start: datetime, end: datetime, sup: Supervisor = SUP, step: timedelta = timedelta(hours=1),
        events: Iterable[tuple[datetime, str, dict[str, Any]]] = ()) -> list[tuple[str, datetime, dict[str, Any]]]:
    """Advances a fake clock from ``start`` to ``end``; applies ``events`` (time, type, fields) when
    their time comes; returns every letter issued with the time it came out."""
    pending = sorted(events, key=lambda e: e[0])
    out: list[tuple[str, datetime, dict[str, Any]]] = []
    now = start
    while now <= end:
        while pending and pending[0][0] <= now:
            when, event_type, fields = pending.pop(0)
            case.event(event_type, when, sup, **fields)
        next_due = sup.next_due(case.state)  # the service's tick visits a case only once this has come
        due = plain(sup.due(case.state, now))
        assert not due or (next_due is not None and next_due <= now), (now, next_due, due)
        out += [(name, now, record) for name, record in due]
        now += step
    return out


def kinds(letters: list[tuple[str, datetime, dict[str, Any]]]) -> list[tuple[str, str, datetime]]:
    return [(name, r["stage"], when) for name, when, r in letters]


# -- configuration ---------------------------------------------------------------------------
def test_the_shipped_configuration_has_the_regulations_durations_and_2026_holidays() -> None:
    assert (CLOCKS.forward_days, CLOCKS.acceptance_notice_days, CLOCKS.objection_working_days) == (15, 15, 5)
    assert (CLOCKS.handling_days, CLOCKS.extension_max_days) == (60, 30)
    assert (CLOCKS.review_decide_days, CLOCKS.recheck_decide_days, CLOCKS.recommendation_answer_days) == (30, 30, 30)
    assert CLOCKS.ladder == EscalationLadder(reminder_before=3, notice_after=0, listing_after=10, working_days=True)
    assert not CLOCKS.calendar.is_working_day(date(2026, 10, 1)) and not CLOCKS.calendar.is_working_day(date(2026, 9, 25))
    assert CLOCKS.calendar.is_working_day(date(2026, 10, 10))  # a Saturday, make-up day
    assert all(d.weekday() >= 5 for d in CLOCKS.calendar.makeup_workdays)


def test_configuration_is_data_and_unknown_keys_are_refused() -> None:
    c = ClockConfig.from_data({"handling_days": 30, "ladder": {"reminder_before": 5, "working_days": False},
                               "calendar": {"holidays": ["2026-10-01"], "makeup_workdays": [date(2026, 10, 10)]}})
    assert c.handling_days == 30 and c.acceptance_notice_days == 15
    assert c.ladder.reminder_before == 5 and not c.ladder.working_days
    assert c.calendar == BusinessCalendar.of([date(2026, 10, 1)], [date(2026, 10, 10)])
    with pytest.raises(ValueError, match="handling_dayz"):
        ClockConfig.from_data({"handling_dayz": 30})
    with pytest.raises(ValueError, match=r"ladder\.remind"):
        ClockConfig.from_data({"ladder": {"remind": 3}})
    with pytest.raises(ValueError, match="handling_days"):
        ClockConfig.from_data({"handling_days": "sixty"})


def test_working_days_count_back_across_a_holiday() -> None:
    cal = CLOCKS.calendar
    # Tue 29 Sep back 3 working days: Mon 28, (Sun 27, Sat 26, Fri 25 Mid-Autumn off) Thu 24, Wed 23.
    assert cal.add_working_days(at(9, 29), -3) == at(9, 23)
    # Mon 12 Oct back 1: Sat 10 Oct is a make-up working day.
    assert cal.add_working_days(at(10, 12), -1) == at(10, 10)


# -- the escalation ladder on the calendar -----------------------------------------------------
def test_acceptance_clock_ladder_lands_on_the_right_working_days_across_the_holidays() -> None:
    case = Case()
    case.handoff(at(9, 14))  # acceptance due Tue 29 Sep, 24:00 (15 calendar days)
    letters = run(case, at(9, 14), at(11, 30))
    assert kinds(letters) == [
        ("supervision.reminder", "ACCEPTANCE_NOTICE", at(9, 23, 0)),  # 3 working days before, Mid-Autumn skipped
        ("supervision.notice", "ACCEPTANCE_NOTICE", at(9, 30, 0)),  # once the last day is over
        # 10 working days after: Sep 30, Oct 8, 9, Sat 10 (make-up), 12, 13, 14, 15, 16, 19; the next day
        ("supervision.listed", "ACCEPTANCE_NOTICE", at(10, 20, 0)),
    ]
    for _, _, r in letters:
        assert r["unit"] == "HRSS" and r["trigger"] == "OVERDUE" and r["case"]["case_number"] == case.number
        assert r["deadline"]["clock"] == "ACCEPTANCE_NOTICE" and r["deadline"]["due_at"] == end(9, 29)
    assert "petitioner" not in str(letters)


def test_without_the_holiday_calendar_the_same_ladder_lands_elsewhere() -> None:
    plain = Supervisor(ClockConfig())
    case = Case()
    case.handoff(at(9, 14), sup=plain)
    assert kinds(run(case, at(9, 14), at(11, 30), sup=plain)) == [
        ("supervision.reminder", "ACCEPTANCE_NOTICE", at(9, 24, 0)),
        ("supervision.notice", "ACCEPTANCE_NOTICE", at(9, 30, 0)),
        ("supervision.listed", "ACCEPTANCE_NOTICE", at(10, 14, 0)),
    ]


def test_calendar_day_offsets_when_configured() -> None:
    sup = Supervisor(ClockConfig(ladder=EscalationLadder(reminder_before=2, notice_after=1, listing_after=7,
                                                         working_days=False), calendar=CLOCKS.calendar))
    case = Case()
    case.handoff(at(9, 14), sup=sup)
    assert kinds(run(case, at(9, 14), at(11, 30), sup=sup)) == [
        ("supervision.reminder", "ACCEPTANCE_NOTICE", at(9, 27, 0)),
        ("supervision.notice", "ACCEPTANCE_NOTICE", at(10, 1, 0)),
        ("supervision.listed", "ACCEPTANCE_NOTICE", at(10, 7, 0)),
    ]


def test_acceptance_in_time_stops_its_clock_and_starts_handling() -> None:
    case = Case()
    case.handoff(at(3, 2))
    letters = run(case, at(3, 2), at(7, 31), events=[
        (at(3, 10), "case.handoff.accepted", {"unit": "HRSS", "signed_by": "李"}),
        (at(3, 11), "case.accepted", {"unit": "HRSS", "notice_no": "n"}),  # before the reminder (Thu 12 Mar)
    ])
    # handling due Mon 11 May (11 Mar + 60 is Sun 10 May, a rest day): reminder Thu 7 May (back: Sat 9 May is a
    # make-up working day, then Fri 8, Thu 7), notice once 11 May is over, listing 10 working days later: 12-15,
    # 18-22, 25 May, over on the 26th
    assert kinds(letters) == [
        ("supervision.reminder", "HANDLING", at(5, 7, 0)),
        ("supervision.notice", "HANDLING", at(5, 12, 0)),
        ("supervision.listed", "HANDLING", at(5, 26, 0)),
    ]


def test_an_extension_moves_the_clock() -> None:
    case = Case()
    case.handoff(at(3, 2))
    # handling due Wed 6 May: day 60 is Fri 1 May, inside the Labour Day holiday (1-5 May)
    case.event("case.accepted", at(3, 2), unit="HRSS", notice_no="n")
    letters = run(case, at(3, 2), at(7, 31), events=[
        (at(4, 20), "case.extension.approved", {"unit": "HRSS", "extra_days": 20, "reason": "需现场核查"}),
    ])
    # without the extension: reminder 28 Apr; with it due Thu 21 May: reminder Mon 18 May, listing after 4 Jun
    assert kinds(letters) == [
        ("supervision.reminder", "HANDLING", at(5, 18, 0)),
        ("supervision.notice", "HANDLING", at(5, 22, 0)),
        ("supervision.listed", "HANDLING", at(6, 5, 0)),
    ]
    assert letters[1][2]["deadline"] == {"clock": "HANDLING", "due_at": end(5, 21), "days": 80, "day_basis": "CALENDAR"}


def test_an_extension_follows_the_moved_due_date_the_referee_carried() -> None:
    case = Case()
    case.handoff(at(3, 2))
    case.event("case.accepted", at(3, 2), unit="HRSS", notice_no="n")
    carried = {"clock": "HANDLING", "due_at": end(5, 21), "days": 80, "day_basis": "CALENDAR"}
    case.event("case.extension.approved", at(4, 20), unit="HRSS", extra_days=20, reason="需现场核查", deadline=carried)
    assert case.state.clocks["HANDLING/HRSS"].due_at == end(5, 21)


def test_resolution_stops_the_clock_between_notice_and_listing() -> None:
    case = Case()
    case.handoff(at(3, 2))
    case.event("case.accepted", at(3, 2), unit="HRSS", notice_no="n")
    letters = run(case, at(3, 2), at(8, 31), events=[
        (at(5, 8), "case.resolved", {"unit": "HRSS", "outcome": "SUPPORTED", "tag": "SOLVED", "opinion": "已支付"}),
    ])
    # due Wed 6 May (moved past Labour Day): reminder Tue 28 Apr, notice once 6 May is over
    assert kinds(letters) == [("supervision.reminder", "HANDLING", at(4, 28, 0)),
                              ("supervision.notice", "HANDLING", at(5, 7, 0))]


def test_a_resolution_read_before_its_acceptance_never_opens_the_clock() -> None:
    case = Case()
    case.event("case.accepted", at(3, 5), unit="HRSS", notice_no="n")  # replies read before the inbox
    case.handoff(at(3, 2))
    case.event("case.resolved", at(3, 20), unit="HRSS", outcome="EXPLAINED", tag="EXPLAINED", opinion="x")
    case.event("case.accepted", at(3, 5), unit="HRSS", notice_no="n")  # a redelivery under another id
    assert run(case, at(3, 2), at(8, 31), step=timedelta(hours=6)) == []


def test_a_shorter_deadline_carried_by_the_event_wins() -> None:
    case = Case()
    case.handoff(at(3, 2), deadline={"clock": "ACCEPTANCE_NOTICE", "due_at": end(3, 9), "days": 7,
                                     "day_basis": "CALENDAR"})  # assigned from above: 7 days
    letters = run(case, at(3, 2), at(4, 30))
    assert kinds(letters)[:2] == [("supervision.reminder", "ACCEPTANCE_NOTICE", at(3, 4, 0)),
                                  ("supervision.notice", "ACCEPTANCE_NOTICE", at(3, 10, 0))]


def test_a_late_tick_sends_the_notice_not_a_stale_reminder() -> None:
    case = Case()
    case.handoff(at(3, 2))  # due 17 Mar
    assert kinds(run(case, at(3, 18), at(3, 18))) == [("supervision.notice", "ACCEPTANCE_NOTICE", at(3, 18))]


def test_the_bureaus_own_forward_clock_is_only_listed() -> None:
    stuck, routed = Case(), Case()
    for c in (stuck, routed):
        c.event("petition.registered", at(3, 2), channel="ONLINE", category_hint="OTHER", repeat_of=None)
    routed.event("petition.triaged", at(3, 2), lead_unit="HRSS")
    assert run(routed, at(3, 2), at(5, 30), step=timedelta(hours=6)) == []
    letters = run(stuck, at(3, 2), at(5, 30))
    # due 17 Mar, listed once 10 working days more are over (31 Mar), on the bureau's supervision topic
    assert [(n, r["unit"], r["stage"], w) for n, w, r in letters] == [
        ("supervision.listed", "BUREAU", "FORWARD", at(4, 1, 0))]


# -- exactly once ----------------------------------------------------------------------------------
def test_each_stage_fires_once_also_through_a_restart_from_the_saved_state() -> None:
    case = Case()
    case.handoff(at(9, 14))
    first = run(case, at(9, 14), at(9, 30, 12))  # reminder and notice
    case.state = SupervisedCase.from_json(case.state.to_json())  # the table, restored after a restart
    second = run(case, at(9, 14), at(11, 30))  # even re-running the past
    assert kinds(first) == [("supervision.reminder", "ACCEPTANCE_NOTICE", at(9, 23, 0)),
                            ("supervision.notice", "ACCEPTANCE_NOTICE", at(9, 30, 0))]
    assert kinds(second) == [("supervision.listed", "ACCEPTANCE_NOTICE", at(10, 20, 0))]
    ids = [r["event_id"] for _, _, r in first + second]
    assert len(set(ids)) == 3


def test_a_letter_read_back_from_the_bus_is_not_sent_again_and_ids_are_derived() -> None:
    a, b = Case("140214-2026-000001"), Case("140214-2026-000001")
    a.handoff(at(9, 14), event_id="h1")
    b.handoff(at(9, 14), event_id="h1")
    sent = run(a, at(9, 14), at(9, 24))
    assert len(sent) == 1
    name, _, record = sent[0]
    assert record["event_id"] == stage_event_id(a.number, a.state.clocks["ACCEPTANCE_NOTICE/HRSS"], "REMINDER")
    # b lost its state after sending (crash): it reads its own letter back and does not send it again
    b.event(name, at(9, 23), event_id=record["event_id"], **{k: v for k, v in record.items()
                                                            if k not in ("event_id", "occurred_at", "case", "deadline")})
    assert run(b, at(9, 14), at(9, 24)) == []
    notices = [r["event_id"] for _, _, r in run(a, at(9, 30), at(9, 30))]
    assert len(notices) == 1 and [r["event_id"] for _, _, r in run(b, at(9, 30), at(9, 30))] == notices


# -- triggers beyond time ------------------------------------------------------------------------
def _earlier(status: str, outcome: str = "SUPPORTED") -> Case:
    c = Case()
    c.handoff(at(3, 2))
    if status in ("ACCEPTED", "RESOLVED"):
        c.event("case.accepted", at(3, 3), unit="HRSS", notice_no="n")
    if status == "RESOLVED":
        c.event("case.resolved", at(4, 1), unit="HRSS", outcome=outcome, tag="SOLVED", opinion="x")
    if status == "NOT_ACCEPTED":
        c.event("case.not_accepted", at(3, 5), unit="HRSS", reason="不属于受理范围")
    return c


@pytest.mark.parametrize(("status", "outcome", "trigger", "clock"), [
    ("REQUESTED", "", "SHOULD_ACCEPT_NOT_ACCEPTED", "ACCEPTANCE_NOTICE"),
    ("NOT_ACCEPTED", "", "SHOULD_ACCEPT_NOT_ACCEPTED", "ACCEPTANCE_NOTICE"),
    ("ACCEPTED", "", "SHOULD_HANDLE_NOT_HANDLED", "HANDLING"),
    ("RESOLVED", "SUPPORTED", "OPINION_NOT_IMPLEMENTED", "HANDLING"),
    ("RESOLVED", "NOT_SUPPORTED", "REPEAT_AFTER_CLOSURE", "HANDLING"),
])
def test_a_repeat_petition_triggers_a_notice_naming_why(status: str, outcome: str, trigger: str, clock: str) -> None:
    earlier = _earlier(status, outcome or "SUPPORTED")
    new = Case()
    data = {"occurred_at": at(5, 6), "case": new.ref, "deadline": None, "earlier_case_number": earlier.number,
            "earlier_closed": status == "RESOLVED", "reason": "same matter"}
    out = plain(SUP.repeat(earlier.state, "repeat-1", typed("petition.repeat.detected", data)))
    assert [(n, r["trigger"], r["stage"], r["unit"], r["case"]["case_number"]) for n, r in out] == [
        ("supervision.notice", trigger, clock, "HRSS", earlier.number)]
    assert new.number in out[0][1]["text"]
    assert SUP.repeat(earlier.state, "repeat-1", typed("petition.repeat.detected", data)) == []  # the same repeat event again: nothing new


def test_a_repeat_of_a_case_nobody_handled_triggers_nothing() -> None:
    diverted = Case()
    diverted.event("petition.diverted", at(3, 2), category="LITIGATION")
    data = {"occurred_at": at(5, 6), "case": Case().ref, "earlier_case_number": diverted.number}
    assert SUP.repeat(diverted.state, "r", typed("petition.repeat.detected", data)) == []
    assert SUP.repeat(None, "r", typed("petition.repeat.detected", data)) == []


def test_a_petition_not_accepted_after_the_recheck_triggers_nothing() -> None:
    earlier = _earlier("RESOLVED", "NOT_SUPPORTED")
    data = {"occurred_at": at(9, 6), "case": Case().ref, "earlier_case_number": earlier.number, "earlier_closed": True,
            "reason": "same matter", "not_accepted_reason": "已经复核，不再受理"}
    assert SUP.repeat(earlier.state, "r", typed("petition.repeat.detected", data)) == []  # the matter is closed (Art. 36)
    ordinary = {**data, "not_accepted_reason": None}
    assert SUP.repeat(earlier.state, "r2", typed("petition.repeat.detected", ordinary))  # an ordinary repeat: a notice


def test_the_bureau_can_issue_a_notice_for_irregular_handling_once() -> None:
    case = _earlier("ACCEPTED")
    out = plain(SUP.notice(case.state, "HRSS", "IRREGULAR_HANDLING", "未按规定送达受理告知书", at(4, 1), "manual-1"))
    assert out[0][1]["trigger"] == "IRREGULAR_HANDLING" and out[0][1]["deadline"]["clock"] == "HANDLING"
    assert SUP.notice(case.state, "HRSS", "IRREGULAR_HANDLING", "again", at(4, 2), "manual-1") == []


# -- the three recommendations -----------------------------------------------------------------
def test_a_recommendation_without_an_answer_escalates() -> None:
    case = _earlier("RESOLVED")
    rec = recommendation(case.ref, "HRSS", "IMPROVE_WORK", "建立欠薪案件台账", at(6, 1), CLOCKS)
    assert rec["deadline"]["due_at"] == end(7, 1)
    case.event("supervision.recommendation", at(6, 1), **{k: v for k, v in rec.items()
                                                         if k not in ("event_id", "occurred_at", "case", "deadline")})
    letters = run(case, at(6, 1), at(8, 31))
    # due Wed 1 Jul: reminder Fri 26 Jun, notice once 1 Jul is over, listing 10 working days later (15 Jul)
    assert [(n, r["stage"], r["trigger"], w) for n, w, r in letters] == [
        ("supervision.reminder", "RECOMMENDATION_FEEDBACK", "MISSING_ANSWER", at(6, 26, 0)),
        ("supervision.notice", "RECOMMENDATION_FEEDBACK", "MISSING_ANSWER", at(7, 2, 0)),
        ("supervision.listed", "RECOMMENDATION_FEEDBACK", "MISSING_ANSWER", at(7, 16, 0)),
    ]


def test_a_recommendation_answered_in_time_stops_its_clock() -> None:
    case = _earlier("RESOLVED")
    rec = recommendation(case.ref, "HRSS", "IMPROVE_POLICY", "完善工程款支付担保制度", at(6, 1), CLOCKS)
    fields = {k: v for k, v in rec.items() if k not in ("event_id", "occurred_at", "case", "deadline")}
    letters = run(case, at(6, 1), at(8, 31), events=[
        (at(6, 1), "supervision.recommendation", fields),
        (at(6, 20), "supervision.feedback", {"recommendation_id": rec["recommendation_id"], "unit": "HRSS",
                                             "adopted": False, "reason": "已有相关制度"}),
    ])
    assert letters == []


def test_recommendation_records_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        recommendation(Case().ref, "HRSS", "BE_NICER", "x", at(6, 1), CLOCKS)
    with pytest.raises(ValueError, match="text"):
        recommendation(Case().ref, "HRSS", "IMPROVE_WORK", "  ", at(6, 1), CLOCKS)


def test_stage_events_are_the_catalogues_supervision_events() -> None:
    from liandong import EVENT_TYPES

    assert {cls.TYPE for cls in STAGE_EVENT.values()} <= set(EVENT_TYPES)


# -- the ledger: supervision on the timeline, and its statistics -------------------------------------
def _ledger_case(resolved_after_notice: int | None, recs: Iterable[tuple[str, bool | None]] = ()) -> Any:
    from liandong.domain import CaseState

    c = Case()
    state = CaseState(c.number)
    n = iter(range(10**6))

    def apply(event_type: str, when: datetime, **fields: Any) -> None:
        data = {"occurred_at": when, "case": c.ref, "deadline": None, **fields}
        assert state.apply(typed(event_type, data), f"{c.number}/{next(n)}", CLOCKS)

    apply("petition.registered", at(3, 2), received_at=at(3, 2), channel="ONLINE", category_hint="WAGE_ARREARS")
    apply("case.handoff.requested", at(3, 2), unit="HRSS", role="LEAD", mode="ASSIGN", attempt=1)
    apply("case.handoff.accepted", at(3, 3), unit="HRSS", signed_by="李")
    apply("case.accepted", at(3, 3), unit="HRSS", notice_no="n")
    apply("supervision.reminder", at(4, 28), unit="HRSS", stage="HANDLING", trigger="OVERDUE", letter_no="提醒函-1", text="t")
    apply("supervision.notice", at(5, 2), unit="HRSS", stage="HANDLING", trigger="OVERDUE", letter_no="督办函-1", text="t")
    if resolved_after_notice is not None:
        apply("case.resolved", at(5, 2) + timedelta(days=resolved_after_notice), unit="HRSS", outcome="SUPPORTED",
              tag="SOLVED", opinion="x")
    for i, (kind, adopted) in enumerate(recs):
        rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{c.number}/{i}"))
        apply("supervision.recommendation", at(6, 1), recommendation_id=rid, unit="HRSS", kind=kind, text="建议")
        if adopted is not None:
            apply("supervision.feedback", at(6, 20), recommendation_id=rid, unit="HRSS", adopted=adopted,
                  reason=None if adopted else "已有制度")
    return state


def test_supervision_is_on_the_case_timeline() -> None:
    state = _ledger_case(3, [("IMPROVE_WORK", False)])
    entries = {t.event: t.detail for t in state.timeline}
    assert entries["supervision.notice"] == "督办函-1: HANDLING (OVERDUE)"
    assert entries["supervision.recommendation"] == "IMPROVE_WORK: 建议"
    assert entries["supervision.feedback"] == "not adopted: 已有制度"
    (rec,) = state.recommendations.values()
    assert rec["adopted"] is False and rec["issued_at"] == at(6, 1)


def test_supervision_statistics_overdue_by_unit_after_notices_and_recommendations() -> None:
    from services.ledger.stats import statistics

    cases = [
        _ledger_case(3, [("IMPROVE_WORK", True), ("IMPROVE_POLICY", False)]),  # closed 3 days after the notice
        _ledger_case(40, [("PURSUE_ACCOUNTABILITY", None)]),  # closed later
        _ledger_case(None, [("IMPROVE_WORK", True)]),  # still open, overdue (handling due 2 May)
    ]
    s = statistics(cases, at(7, 1), 2026)["supervision"]
    assert s["overdue_by_unit"] == {"HRSS": {"HANDLING": 1}}
    assert s["letters_issued"] == {"reminder": 3, "notice": 3, "listed": 0}
    assert s["after_letters"]["notice"] == {"cases": 3, "closed_within_15_days": 1, "closed_later": 1, "still_open": 1}
    assert s["recommendations"] == {"issued": 4, "answered": 3, "adopted": 2, "not_adopted": 1}
    assert s["recommendations_by_unit"]["HRSS"]["issued"] == 4
    assert s["recommendation_adoption_rate"] == round(2 / 3, 4)


def test_a_units_status_does_not_depend_on_the_order_inbox_and_replies_are_read() -> None:
    earlier = Case()
    earlier.event("case.resolved", at(4, 1), unit="HRSS", outcome="SUPPORTED", tag="SOLVED", opinion="x")
    earlier.event("case.accepted", at(3, 3), unit="HRSS", notice_no="n")
    earlier.handoff(at(3, 2))  # the inbox read last
    assert earlier.state.unit_status == {"HRSS": "RESOLVED"} and earlier.state.running() == []
    data = {"occurred_at": at(5, 6), "case": Case().ref, "earlier_case_number": earlier.number}
    assert plain(SUP.repeat(earlier.state, "r", typed("petition.repeat.detected", data)))[0][1]["trigger"] == "OPINION_NOT_IMPLEMENTED"


def test_a_case_is_not_due_again_once_its_ladder_is_through() -> None:
    case = Case()
    case.handoff(at(3, 2))
    assert SUP.next_due(case.state) == SUP.schedule(case.state.clocks["ACCEPTANCE_NOTICE/HRSS"])["REMINDER"]
    run(case, at(3, 2), at(6, 30))  # reminder, notice, listing: all issued
    assert SUP.next_due(case.state) is None
    case.event("case.accepted", at(7, 1), unit="HRSS", notice_no="n")  # a new clock: due again
    assert SUP.next_due(case.state) == SUP.schedule(case.state.clocks["HANDLING/HRSS"])["REMINDER"]


# -- review and re-check (复查/复核): the reviewing body's decision clock -----------------------------
def test_a_review_clock_runs_from_the_application_and_stops_at_the_decision() -> None:
    from liandong import BUS_UNITS

    sup = Supervisor(CLOCKS, letter_units=tuple(BUS_UNITS))  # as the service runs it: bodies get letters too
    case = Case()
    review = {"unit": "CITY_HRSS", "stage": "REVIEW"}
    case.event("review.requested", at(9, 7), sup, reviewed_unit="HRSS", applied_at=at(9, 7), grounds="工资未结清",
               decision_under_review="不予支持", **review)
    letters = run(case, at(9, 7), at(11, 30), sup, events=[
        (at(10, 15), "review.decided", {**review, "decision": "UPHELD", "text": "维持", "decided_by": "复查办"})])
    # 30 days from Mon 7 Sep end on Wed 7 Oct, in the National Day holiday: moved to Thu 8 Oct. The reminder
    # 3 working days before (Sep 28, across the holiday); the notice once 8 Oct is over; decided before the listing.
    assert kinds(letters) == [("supervision.reminder", "REVIEW", at(9, 28, 0)),
                              ("supervision.notice", "REVIEW", at(10, 9, 0))]
    assert {r["unit"] for _, _, r in letters} == {"CITY_HRSS"}
    assert all("复查期限" in r["text"] for _, _, r in letters)


def test_a_recheck_decided_in_time_gets_no_letter() -> None:
    case = Case()
    recheck = {"unit": "CITY_GOVERNMENT", "stage": "RECHECK"}
    case.event("review.requested", at(3, 2), reviewed_unit="CITY_HRSS", applied_at=at(3, 2), grounds="不服",
               decision_under_review="变更", **recheck)
    assert case.state.clocks["RECHECK/CITY_GOVERNMENT"].due_at == end(4, 1)  # 30 days: Wed 1 Apr
    case.event("review.decided", at(3, 20), decision="UPHELD", text="维持", decided_by="复核办", **recheck)
    assert run(case, at(3, 2), at(6, 30), step=timedelta(hours=6)) == []
