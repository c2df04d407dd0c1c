"""The ledger's statistics, in the shape of a bureau's annual report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from liandong.domain import BUREAU_TZ, CaseState, CaseStatus, bureau_year

from .supervision_stats import supervision_statistics


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def statistics(cases: Iterable[CaseState], now: datetime, year: int | None = None) -> dict[str, Any]:
    all_cases = [c for c in cases if c.registered_at is not None]
    # The year in bureau time, as in the case numbers: 1 Jan 07:00 Beijing time is the new year.
    years = Counter(bureau_year(c.registered_at) for c in all_cases if c.registered_at)
    year = year or (max(years) if years else bureau_year(now))
    this = [c for c in all_cases if c.registered_at and bureau_year(c.registered_at) == year]
    routed = [c for c in this if c.lead is not None]
    accepted_on_time = accepted_known = 0
    closed_on_time = closed_known = 0
    by_unit: dict[str, Counter[str]] = {}  # the lead unit's deadline compliance, objections and extensions
    for c in routed:
        h = c.lead
        assert h is not None
        u = by_unit.setdefault(h.unit, Counter())
        u["cases"] += 1
        u["resolved"] += c.status == CaseStatus.RESOLVED
        u["objections"] += c.objections > 0
        u["extensions"] += c.extensions > 0
        if h.accepted_at is not None:
            accepted_known += 1
            accepted_on_time += h.accepted_at <= h.acceptance_due_at
            u["accepted_on_time" if h.accepted_at <= h.acceptance_due_at else "accepted_late"] += 1
        elif now > h.acceptance_due_at and c.status not in (CaseStatus.NOT_ACCEPTED,):
            accepted_known += 1  # overdue and still not accepted: late
            u["accepted_late"] += 1
        if h.handling_due_at is not None:
            if h.resolved_at is not None:
                closed_known += 1
                closed_on_time += h.resolved_at <= h.handling_due_at
                u["closed_on_time" if h.resolved_at <= h.handling_due_at else "closed_late"] += 1
            elif now > h.handling_due_at:
                closed_known += 1
                u["closed_late"] += 1
    previous = years.get(year - 1, 0)
    return {
        "year": year,
        "total": len(this),
        "year_on_year_change": _rate(len(this) - previous, previous) if previous else None,
        "previous_year_total": previous or None,
        "by_channel": dict(Counter(c.channel for c in this)),
        "by_category": dict(Counter(c.category for c in this)),
        "by_month_category": by_month_category(this),
        "by_lead_unit": dict(Counter(c.lead_unit for c in routed if c.lead_unit)),
        "by_unit": {unit: {k: counts[k] for k in ("cases", "resolved", "accepted_on_time", "accepted_late", "closed_on_time",
                                                  "closed_late", "objections", "extensions")}
                    for unit, counts in sorted(by_unit.items())},
        "by_status": dict(Counter(c.status.value for c in this)),
        "diverted": sum(c.status == CaseStatus.DIVERTED for c in this),
        "resolved": sum(c.status == CaseStatus.RESOLVED for c in this),
        "outcomes": dict(Counter(c.outcome for c in this if c.outcome)),
        "on_time_acceptance_rate": _rate(accepted_on_time, accepted_known),
        "on_time_closing_rate": _rate(closed_on_time, closed_known),
        "objection_rate": _rate(sum(c.objections > 0 for c in routed), len(routed)),
        "extension_rate": _rate(sum(c.extensions > 0 for c in routed), len(routed)),
        "repeat_rate": _rate(sum(c.repeat_of is not None for c in this), len(this)),
        "overdue": sum(bool(c.overdue(now)) for c in this),
        "supervision": supervision_statistics(this, now),  # 督查督办: overdue by unit, letters, 三项建议
        "satisfaction": satisfaction_statistics(this),  # 回访: 满意率, by unit
        "notices": {"issued": dict(Counter(n["kind"] for c in this for n in c.notices.values() if n["issued_at"])),
                    "delivered": sum(n["delivered_at"] is not None for c in this for n in c.notices.values())},
    }


def by_month_category(cases: Iterable[CaseState]) -> dict[str, dict[str, int]]:
    """Petitions per month of registration (bureau time, "2026-01") and matter: the seasons' peaks."""
    months: dict[str, Counter[str]] = {}
    for c in cases:
        if c.registered_at is not None:
            months.setdefault(f"{c.registered_at.astimezone(BUREAU_TZ):%Y-%m}", Counter())[c.category] += 1
    return {month: dict(n) for month, n in sorted(months.items())}


def satisfaction_statistics(cases: Iterable[CaseState]) -> dict[str, Any]:
    """The callbacks' evaluations; the satisfaction rate (满意率) counts satisfied and basically satisfied."""
    total: Counter[str] = Counter()
    by_unit: dict[str, Counter[str]] = {}
    for c in cases:
        if c.satisfaction is not None:
            total[c.satisfaction["evaluation"]] += 1
            by_unit.setdefault(c.satisfaction["unit"], Counter())[c.satisfaction["evaluation"]] += 1

    def figures(n: Counter[str]) -> dict[str, Any]:
        evaluated = n["SATISFIED"] + n["BASICALLY_SATISFIED"] + n["UNSATISFIED"]
        return {"evaluated": evaluated, "satisfied": n["SATISFIED"], "basically_satisfied": n["BASICALLY_SATISFIED"],
                "unsatisfied": n["UNSATISFIED"], "rate": _rate(n["SATISFIED"] + n["BASICALLY_SATISFIED"], evaluated)}

    return {**figures(total), "by_unit": {unit: figures(n) for unit, n in sorted(by_unit.items())}}
