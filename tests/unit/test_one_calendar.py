"""One calendar, everywhere: for handoffs around the 2026 holidays, triage's carried deadlines, the
ledger's record, supervision's clocks (from the carried deadline, and computed on its own) and
the shipped configuration agree, for the objection window, the acceptance notice, handling with
an extension, and the reminder the ladder sends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from liandong import Codec, Event, SchemaCatalogue, get_settings, load_clocks
from liandong.domain import BUREAU_TZ, Ledger
from liandong.domain.supervision import SupervisedCase, Supervisor
from liandong.domain.triage import Triage
from liandong.service import InMemory
from services.triage.app import TRIAGE, load_routing
from tests.stand_ins import plain, typed

CODEC = Codec(SchemaCatalogue(get_settings().schemas_dir))
CLOCKS = load_clocks()


def bj(month: int, day: int, hour: int = 10, minute: int = 30) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BUREAU_TZ).astimezone(UTC)


def end(month: int, day: int) -> datetime:
    return datetime.combine(date(2026, month, day), time(23, 59, 59, 999000), BUREAU_TZ)


# (handed at, objection window end, acceptance end, accepted at, handling end with a 20-day extension, reminder day)
CASES = [
    # Fri 13 Feb: the window runs over the Spring Festival (make-up Sat 14 Feb counts); 15 days end on
    # Sat 28 Feb, a make-up working day; accepted Mon 2 Mar + 80 days: Thu 21 May; reminder Mon 18 May.
    (bj(2, 13), end(2, 27), end(2, 28), bj(3, 2), end(5, 21), date(2026, 5, 18)),
    # Thu 5 Feb: day 15 is Fri 20 Feb, inside the Spring Festival: Tue 24 Feb.
    (bj(2, 5), end(2, 12), end(2, 24), bj(2, 6), end(4, 27), date(2026, 4, 22)),
    # Wed 30 Sep: National Day week; make-up Sat 10 Oct counts. Accepted Thu 8 Oct + 80 days: Sun 27 Dec -> Mon 28 Dec.
    (bj(9, 30), end(10, 13), end(10, 15), bj(10, 8), end(12, 28), date(2026, 12, 23)),
    # Sun 20 Sep (a make-up working day, but the start day is not counted): 21-24 Sep, the Mid-Autumn
    # Festival (25-27), Mon 28 Sep; day 15 is Mon 5 Oct, inside National Day: Thu 8 Oct.
    (bj(9, 20), end(9, 28), end(10, 8), bj(9, 21), end(12, 10), date(2026, 12, 7)),
]


class In:
    def __init__(self, event: Event) -> None:
        self.type, self.id, self.data, self.topic, self.payload = event.type, event.id, event.data, event.topic, event.payload


def registered(at: datetime, number: str) -> tuple[str, dict[str, Any]]:
    case = {"case_number": number, "petition_id": str(uuid.uuid4()), "district_code": "140214"}
    return ("petition.registered", {
        "event_id": uuid.uuid4(), "occurred_at": at, "case": case, "deadline": None, "channel": "VISIT",
        "petitioner": {"name": "李", "id_number": None, "phone": None, "address": None, "group_size": 1},
        "summary": "拖欠工资三个月", "category_hint": "SOCIAL_SECURITY", "idempotency_key": f"k-{uuid.uuid4()}",
        "received_at": at, "repeat_of": None})


def answer(triage: InMemory, event_type: str, at: datetime, case: dict[str, Any], **fields: Any) -> list[Event]:
    record = {"event_id": uuid.uuid4(), "occurred_at": at, "case": case, "deadline": None, "unit": "HRSS", **fields}
    msg = CODEC.encode(event_type, record, source="/unit/hrss")
    return triage.send(CODEC.decode("liandong.unit.hrss.replies", msg.key, msg.value, msg.headers))


@pytest.mark.parametrize(("handed", "objection", "acceptance", "accepted", "handling", "reminder"), CASES,
                         ids=["spring-festival-window", "spring-festival-acceptance", "national-day", "makeup-sunday"])
def test_triage_the_ledger_and_supervision_keep_the_same_deadlines(
        handed: datetime, objection: datetime, acceptance: datetime, accepted: datetime, handling: datetime,
        reminder: date) -> None:
    number = f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
    triage = InMemory(TRIAGE, Triage(load_routing(), CLOCKS, lambda: accepted + timedelta(days=100)), CODEC)
    out = triage.send(registered(handed, number))
    handoff = next(e for e in out if e.type == "case.handoff.requested")
    case = handoff.data["case"]
    # triage: what the handoff carries
    assert handoff.data["objection_due_at"] == objection and handoff.data["deadline"]["due_at"] == acceptance
    signed = answer(triage, "case.handoff.accepted", accepted - timedelta(minutes=5), case, signed_by="李")
    checked = answer(triage, "case.accepted", accepted, case, notice_no="n")
    extended = answer(triage, "case.extension.approved", accepted + timedelta(days=30), case, extra_days=20,
                      reason="复杂")
    assert extended[0].data["deadline"]["due_at"] == handling
    # the ledger, folding the same events (the checked copies)
    ledger = Ledger(CLOCKS)
    state = None
    for event in [handoff, *signed[:1], *checked[:1], *extended[:1]]:
        state, _ = ledger.record(state, In(event))
    assert state is not None
    h = state.handoffs["HRSS"]
    assert (h.acceptance_due_at, h.handling_due_at) == (acceptance, handling)
    # supervision, from the carried deadlines and computing on its own from bare events
    for carried in (True, False):
        sup, s = Supervisor(CLOCKS), SupervisedCase(number)
        for event in [handoff, *signed[:1], *checked[:1], *extended[:1]]:
            data = event.data if carried else {**event.data, "deadline": None}
            sup.apply(s, typed(event.type, data), event.id)
        clock = s.clocks["HANDLING/HRSS"]
        assert clock.due_at == handling, carried
        start = datetime.combine(reminder, time(0), BUREAU_TZ)  # the reminder goes out from the start of its day
        assert [name for name, _ in plain(sup.due(s, start - timedelta(seconds=1)))
                if name == "supervision.reminder"] == [], carried
        letters = plain(sup.due(s, start + timedelta(seconds=1)))
        assert [(name, r["stage"]) for name, r in letters] == [("supervision.reminder", "HANDLING")], carried
