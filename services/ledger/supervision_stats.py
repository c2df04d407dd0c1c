"""The ledger's supervision statistics (督查督办): overdue cases by unit, the letters issued and
what happened after them, and the three recommendations issued and adopted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from liandong_sdk.events import SupervisionListed, SupervisionNoticeIssued, SupervisionReminderIssued

from liandong.domain import CaseState

#: "Closed within N days of a notice": the N of the report.
CLOSED_WITHIN_DAYS = 15
LETTERS = {SupervisionReminderIssued.TYPE: "reminder", SupervisionNoticeIssued.TYPE: "notice", SupervisionListed.TYPE: "listed"}


def supervision_statistics(cases: Iterable[CaseState], now: datetime, within_days: int = CLOSED_WITHIN_DAYS) -> dict[str, Any]:
    overdue_by_unit: dict[str, Counter[str]] = {}
    issued: Counter[str] = Counter()
    issued_by_unit: dict[str, Counter[str]] = {}
    after: dict[str, Counter[str]] = {kind: Counter() for kind in ("reminder", "notice", "listed")}
    recs: Counter[str] = Counter()
    recs_by_unit: dict[str, Counter[str]] = {}
    for c in cases:
        if c.lead is not None:
            for clock in c.overdue(now):
                overdue_by_unit.setdefault(c.lead.unit, Counter())[clock] += 1
        first: dict[str, datetime] = {}
        for t in c.timeline:
            kind = LETTERS.get(t.event)
            if kind is None:
                continue
            issued[kind] += 1
            issued_by_unit.setdefault(t.unit or "UNKNOWN", Counter())[kind] += 1
            first.setdefault(kind, t.at)
        for kind, at in first.items():  # each case once per kind: what happened after its first such letter
            a = after[kind]
            a["cases"] += 1
            if c.resolved_at is None:
                a["still_open"] += 1
            elif c.resolved_at <= at + timedelta(days=within_days):
                a[f"closed_within_{within_days}_days"] += 1
            else:
                a["closed_later"] += 1
        for r in c.recommendations.values():
            u = recs_by_unit.setdefault(r["unit"], Counter())
            for counter in (recs, u):
                counter["issued"] += r["issued_at"] is not None
                counter["answered"] += r["adopted"] is not None
                counter["adopted"] += r["adopted"] is True
                counter["not_adopted"] += r["adopted"] is False
    keys = ("cases", f"closed_within_{within_days}_days", "closed_later", "still_open")
    rec_keys = ("issued", "answered", "adopted", "not_adopted")
    return {
        "overdue_by_unit": {u: dict(v) for u, v in sorted(overdue_by_unit.items())},
        "letters_issued": {k: issued[k] for k in ("reminder", "notice", "listed")},
        "letters_by_unit": {u: {k: v[k] for k in ("reminder", "notice", "listed")} for u, v in sorted(issued_by_unit.items())},
        "after_letters": {kind: {k: a[k] for k in keys} for kind, a in after.items()},
        "recommendations": {k: recs[k] for k in rec_keys},
        "recommendations_by_unit": {u: {k: v[k] for k in rec_keys} for u, v in sorted(recs_by_unit.items())},
        "recommendation_adoption_rate": round(recs["adopted"] / recs["answered"], 4) if recs["answered"] else None,
    }
