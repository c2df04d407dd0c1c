"""The ledger's statistics, in the shape of a bureau's annual report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from liandong.domain import BUREAU_TZ, CaseState, CaseStatus, bureau_year

from .supervision_stats import supervision_statistics

#: A visit by this many people or more is a group visit (集体访; Art. 18: more than five choose representatives).
GROUP_VISIT_PERSONS = 5
#: How many units the report names as the most complained about (信访量较大的单位).
MOST_COMPLAINED = 5


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _shares(counts: Counter[str], total: int) -> dict[str, float | None]:
    return {k: _rate(v, total) for k, v in counts.most_common()}


def statistics(cases: Iterable[CaseState], now: datetime, year: int | None = None,
               packages: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The year's figures (default: the latest year with cases); ``packages``: the responsibility
    packages' views (包案), of which those on this year's cases count."""
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
    persons = sum(c.persons for c in this)
    previous_persons = sum(c.persons for c in all_cases if c.registered_at and bureau_year(c.registered_at) == year - 1)
    visits = [c for c in this if c.channel == "VISIT"]
    group_visits = [c for c in visits if c.persons >= GROUP_VISIT_PERSONS]
    channels, categories = Counter(c.channel for c in this), Counter(c.category for c in this)
    leads = Counter(c.lead_unit for c in routed if c.lead_unit)
    return {
        "year": year,
        "total": len(this),
        "year_on_year_change": _rate(len(this) - previous, previous) if previous else None,
        "previous_year_total": previous or None,
        "persons": persons,
        "persons_year_on_year_change": _rate(persons - previous_persons, previous_persons) if previous_persons else None,
        "previous_year_persons": previous_persons or None,
        "visits": {"batches": len(visits), "persons": sum(c.persons for c in visits)},
        "group_visits": {"batches": len(group_visits), "persons": sum(c.persons for c in group_visits)},
        "by_mode": dict(Counter(c.mode for c in routed if c.mode)),
        "by_channel": dict(channels),
        "channel_share": _shares(channels, len(this)),
        "by_category": dict(categories),
        "category_share": _shares(categories, len(this)),
        # ties by name: every worker gathers the cases in its own order, and must give the same list
        "most_complained_units": [{"unit": u, "cases": n, "share": _rate(n, len(routed))}
                                  for u, n in sorted(leads.items(), key=lambda kv: (-kv[1], kv[0]))[:MOST_COMPLAINED]],
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
        **review_statistics(this),
        "overdue": sum(bool(c.overdue(now)) for c in this),
        "supervision": supervision_statistics(this, now),  # 督查督办: overdue by unit, letters, 三项建议
        "satisfaction": satisfaction_statistics(this),  # 回访: 满意率, by unit
        "packages": package_statistics(packages, {c.case_number for c in this}),
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


def review_statistics(cases: list[CaseState]) -> dict[str, Any]:
    """Review (复查) and re-check (复核): how many opinions were taken further, and what the bodies decided.
    The review rate is over the cases resolved; the re-check rate over the reviews decided."""
    stages: dict[str, Counter[str]] = {"REVIEW": Counter(), "RECHECK": Counter()}
    for c in cases:
        for stage, r in c.reviews.items():
            n = stages.setdefault(stage, Counter())
            n["applied"] += r["applied_at"] is not None
            if r["decision"]:
                n["decided"] += 1
                n[r["decision"].lower()] += 1
    resolved = sum(c.status == CaseStatus.RESOLVED for c in cases)
    figures = {stage: {"applied": n["applied"], "decided": n["decided"], "upheld": n["upheld"], "changed": n["changed"],
                       "revoked": n["revoked"], "change_rate": _rate(n["changed"] + n["revoked"], n["decided"])}
               for stage, n in stages.items()}
    return {"review_rate": _rate(stages["REVIEW"]["applied"], resolved),
            "recheck_rate": _rate(stages["RECHECK"]["applied"], stages["REVIEW"]["decided"]),
            "reviews": figures}


def package_statistics(packages: Iterable[dict[str, Any]], numbers: set[str]) -> dict[str, Any]:
    """The responsibility packages (包案) on these cases: the resolution rate is resolved over closed."""
    on = [p for p in packages if p["case_number"] in numbers]
    closed = [p for p in on if p["status"] == "CLOSED"]
    results = Counter(p["result"] for p in closed)
    return {"assigned": len(on), "closed": len(closed), "resolved": results["RESOLVED"],
            "partially_resolved": results["PARTIALLY_RESOLVED"], "unresolved": results["UNRESOLVED"],
            "transferred_to_judicial": results["TRANSFERRED_TO_JUDICIAL"],
            "resolution_rate": _rate(results["RESOLVED"], len(closed))}
