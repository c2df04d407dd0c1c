"""Random case records with every part the annual report counts (years, channels, group visits,
lead and co-units at any stage, letters, recommendations, reviews, callbacks, notices), for tests
that compare ways of counting them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from liandong_sdk.events import SupervisionListed, SupervisionNoticeIssued, SupervisionReminderIssued

from liandong.domain import CaseState, CaseStatus, ClockConfig, HandoffStatus, UnitHandoff
from liandong.domain.case import TimelineEntry

CLOCKS = ClockConfig()
UNITS = ("HRSS", "HOUSING", "POLICE", "JUSTICE")
LETTERS = (SupervisionReminderIssued.TYPE, SupervisionNoticeIssued.TYPE, SupervisionListed.TYPE)


def random_case(rng: random.Random, number: int) -> CaseState:
    year = rng.choice((2025, 2026, 2026))
    t0 = datetime(year, rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(24), tzinfo=UTC)
    c = CaseState(f"140214-{year}-{number:06d}", channel=rng.choice(("VISIT", "ONLINE", "LETTER")),
                  persons=rng.choice((1, 1, 2, 5, 12)), category=rng.choice(("WAGE_ARREARS", "HOUSING", "LAND")),
                  registered_at=t0, repeat_of=f"140214-{year}-000001" if rng.random() < 0.1 else None,
                  objections=rng.choice((0, 0, 1)), extensions=rng.choice((0, 0, 1)))
    if rng.random() < 0.1:
        c.status = rng.choice((CaseStatus.REGISTERED, CaseStatus.DIVERTED))
        return c
    lead, *co = rng.sample(UNITS, rng.choice((1, 2, 3)))
    c.lead_unit, c.co_units, c.mode = lead, co, rng.choice(("FORWARD", "ASSIGN"))
    for unit in (lead, *co):
        h = UnitHandoff(unit, "LEAD" if unit == lead else "CO", HandoffStatus.REQUESTED, t0, CLOCKS.acceptance_due(t0))
        stage = rng.choice(("requested", "accepted", "resolved", "resolved", "not_accepted"))
        if stage in ("accepted", "resolved"):
            h.accepted_at = t0 + timedelta(days=rng.choice((2, 20)))
            h.handling_due_at = CLOCKS.handling_due(h.accepted_at)
            h.status = HandoffStatus.ACCEPTED
        if stage == "resolved":
            h.resolved_at = h.accepted_at + timedelta(days=rng.choice((10, 70)))  # type: ignore[operator]
            h.status = HandoffStatus.RESOLVED
        if stage == "not_accepted":
            h.status = HandoffStatus.NOT_ACCEPTED
        c.handoffs[unit] = h
    h = c.handoffs[lead]
    c.status = {HandoffStatus.REQUESTED: CaseStatus.ROUTED, HandoffStatus.ACCEPTED: CaseStatus.ACCEPTED,
                HandoffStatus.RESOLVED: CaseStatus.RESOLVED, HandoffStatus.NOT_ACCEPTED: CaseStatus.NOT_ACCEPTED}[h.status]
    if h.resolved_at is not None:
        c.resolved_at, c.outcome = h.resolved_at, rng.choice(("RESOLVED", "PARTIAL"))
        if rng.random() < 0.5:
            c.satisfaction = {"evaluation": rng.choice(("SATISFIED", "BASICALLY_SATISFIED", "UNSATISFIED")),
                              "unit": lead, "called_at": h.resolved_at}
        if rng.random() < 0.3:
            c.reviews["REVIEW"] = _review(rng, h.resolved_at)
            if c.reviews["REVIEW"]["decision"] and rng.random() < 0.5:
                c.reviews["RECHECK"] = _review(rng, h.resolved_at + timedelta(days=40))
    for i in range(rng.choice((0, 0, 1, 3))):
        c.timeline.append(TimelineEntry(t0 + timedelta(days=20 + i * 7), rng.choice(LETTERS), rng.choice((lead, None))))
    for i in range(rng.choice((0, 0, 1))):
        c.recommendations[f"r{i}"] = {"unit": rng.choice(UNITS), "kind": "UNKNOWN",
                                      "issued_at": rng.choice((None, t0)), "adopted": rng.choice((None, True, False)),
                                      "answered_at": None}
    for i in range(rng.choice((0, 1, 2))):
        c.notices[f"n{i}"] = {"kind": rng.choice(("ACCEPTANCE", "NOT_ACCEPTED")), "channel": "POST",
                              "issued_at": rng.choice((None, t0)), "delivered_at": rng.choice((None, t0))}
    return c


def _review(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {"body": rng.choice(UNITS), "reviewed_unit": None, "applied_at": at + timedelta(days=5),
            "due_at": at + timedelta(days=35), "decision": rng.choice((None, "UPHELD", "CHANGED", "REVOKED")),
            "decided_at": None}


def random_package(rng: random.Random, case_number: str, number: int) -> dict[str, Any]:
    closed = rng.random() < 0.6
    return {"package_id": f"p{number}", "case_number": case_number, "status": "CLOSED" if closed else "OPEN",
            "result": rng.choice(("RESOLVED", "PARTIALLY_RESOLVED", "UNRESOLVED", "TRANSFERRED_TO_JUDICIAL"))
            if closed else None}
