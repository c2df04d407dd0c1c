"""The ledger's statistics, in the shape of a bureau's annual report.

Every figure of the report is a sum over cases, so each case's part of it is counted on its own
(``tally``: counts under keys that start with the case's year) and the report is built from the
sum (``report``). That lets the ledger keep the sum as cases change (``services/ledger/tallies.py``)
instead of reading every case ever registered for each ``GET /stats``, and lets the workers of a
group each send their sum rather than their cases. ``statistics`` counts over a list of cases: the
reference the kept sums are tested against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from liandong.domain import BUREAU_TZ, CaseState, CaseStatus, bureau_year

from .supervision_stats import supervision_report, tally_supervision

#: A visit by this many people or more is a group visit (集体访; Art. 18: more than five choose representatives).
GROUP_VISIT_PERSONS = 5
#: How many units the report names as the most complained about (信访量较大的单位).
MOST_COMPLAINED = 5
#: The review stages the report always shows.
STAGES = ("REVIEW", "RECHECK")
UNIT_FIGURES = ("cases", "resolved", "accepted_on_time", "accepted_late", "closed_on_time", "closed_late",
                "objections", "extensions")

#: What one case (or package) adds to the report: a count per key, each key (year, figure, *detail).
Tally = Counter[tuple[Any, ...]]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _shares(counts: dict[str, int], total: int) -> dict[str, float | None]:
    return {k: _rate(v, total) for k, v in Counter(counts).most_common()}


def tally(c: CaseState, now: datetime) -> Tally:
    """What the case adds to its year's figures as of ``now`` (nothing before it is registered).
    It changes with ``now`` only as ``due_times`` pass."""
    t: Tally = Counter()
    if c.registered_at is None:
        return t
    y = bureau_year(c.registered_at)
    t[y, "total"] += 1
    t[y, "persons"] += c.persons
    if c.channel == "VISIT":
        t[y, "visits"] += 1
        t[y, "visit_persons"] += c.persons
        if c.persons >= GROUP_VISIT_PERSONS:
            t[y, "group_visits"] += 1
            t[y, "group_visit_persons"] += c.persons
    t[y, "channel", c.channel] += 1
    t[y, "category", c.category] += 1
    t[y, "month", f"{c.registered_at.astimezone(BUREAU_TZ):%Y-%m}", c.category] += 1
    t[y, "status", c.status.value] += 1
    if c.outcome:
        t[y, "outcome", c.outcome] += 1
    if c.repeat_of is not None:
        t[y, "repeats"] += 1
    late = c.overdue(now)
    if late:
        t[y, "overdue"] += 1
    _tally_lead(c, now, y, t)
    for stage, r in c.reviews.items():
        t[y, "review", stage, "applied"] += r["applied_at"] is not None
        if r["decision"]:
            t[y, "review", stage, "decided"] += 1
            t[y, "review", stage, r["decision"].lower()] += 1
    if c.satisfaction is not None:
        t[y, "satisfaction", c.satisfaction["evaluation"]] += 1
        t[y, "satisfaction_by_unit", c.satisfaction["unit"], c.satisfaction["evaluation"]] += 1
    for n in c.notices.values():
        if n["issued_at"]:
            t[y, "notices_issued", n["kind"]] += 1
        t[y, "notices_delivered"] += n["delivered_at"] is not None
    tally_supervision(c, late, y, t)
    return +t  # the keys counted zero times go: a tally is the same whichever way it was counted


def _tally_lead(c: CaseState, now: datetime, y: int, t: Tally) -> None:
    """The lead unit's part: deadline compliance, objections and extensions (routed cases only)."""
    h = c.lead
    if h is None:
        return
    if c.mode:
        t[y, "mode", c.mode] += 1
    u = h.unit
    t[y, "unit", u, "cases"] += 1  # the routed cases, by lead unit
    t[y, "unit", u, "resolved"] += c.status == CaseStatus.RESOLVED
    t[y, "unit", u, "objections"] += c.objections > 0
    t[y, "unit", u, "extensions"] += c.extensions > 0
    if h.accepted_at is not None:
        on_time = h.accepted_at <= h.acceptance_due_at
        t[y, "accepted_known"] += 1
        t[y, "accepted_on_time"] += on_time
        t[y, "unit", u, "accepted_on_time" if on_time else "accepted_late"] += 1
    elif now > h.acceptance_due_at and c.status != CaseStatus.NOT_ACCEPTED:
        t[y, "accepted_known"] += 1  # overdue and still not accepted: late
        t[y, "unit", u, "accepted_late"] += 1
    if h.handling_due_at is not None:
        if h.resolved_at is not None:
            on_time = h.resolved_at <= h.handling_due_at
            t[y, "closed_known"] += 1
            t[y, "closed_on_time"] += on_time
            t[y, "unit", u, "closed_on_time" if on_time else "closed_late"] += 1
        elif now > h.handling_due_at:
            t[y, "closed_known"] += 1
            t[y, "unit", u, "closed_late"] += 1


def due_times(c: CaseState) -> list[datetime]:
    """The instants after which the case's tally can change by itself, earliest first: the lead
    unit's clocks make it late only once they have run out (``now > due``), and nothing else in a
    tally depends on the time."""
    h = c.lead
    return sorted({d for d in (h.acceptance_due_at, h.handling_due_at) if d is not None}) if h is not None else []


def tally_package(package: dict[str, Any], year: int) -> Tally:
    """What a responsibility package (包案) adds to the figures of its key case's year."""
    t: Tally = Counter()
    t[year, "packages", "assigned"] += 1
    if package["status"] == "CLOSED":
        t[year, "packages", "closed"] += 1
        t[year, "packages", "result", package["result"]] += 1
    return t


def report(totals: Tally, now: datetime, year: int | None = None) -> dict[str, Any]:
    """The year's figures (default: the latest year with cases) from the sum of the cases' tallies."""
    by_year: dict[int, dict[tuple[Any, ...], int]] = {}
    for (y, *figure), count in totals.items():
        by_year.setdefault(y, {})[tuple(figure)] = count
    years = [y for y, figures in by_year.items() if figures.get(("total",))]
    year = year or (max(years) if years else bureau_year(now))
    this, last = by_year.get(year, {}), by_year.get(year - 1, {})

    def n(*key: Any) -> int:
        return this.get(key, 0)

    def named(figure: str) -> dict[str, int]:
        """The counts of one figure by its detail (a channel, a status ...), in order of the detail."""
        return {key[1]: v for key, v in sorted(this.items(), key=_order) if len(key) == 2 and key[0] == figure}

    total, persons = n("total"), n("persons")
    previous, previous_persons = last.get(("total",), 0), last.get(("persons",), 0)
    channels, categories, statuses = named("channel"), named("category"), named("status")
    by_unit: dict[str, dict[str, int]] = {}
    months: dict[str, dict[str, int]] = {}
    for key, v in sorted(this.items(), key=_order):
        if key[0] == "unit":
            by_unit.setdefault(key[1], dict.fromkeys(UNIT_FIGURES, 0))[key[2]] = v
        elif key[0] == "month":
            months.setdefault(key[1], {})[key[2]] = v
    leads = {unit: figures["cases"] for unit, figures in by_unit.items()}
    routed = sum(leads.values())
    return {
        "year": year,
        "total": total,
        "year_on_year_change": _rate(total - previous, previous) if previous else None,
        "previous_year_total": previous or None,
        "persons": persons,
        "persons_year_on_year_change": _rate(persons - previous_persons, previous_persons) if previous_persons else None,
        "previous_year_persons": previous_persons or None,
        "visits": {"batches": n("visits"), "persons": n("visit_persons")},
        "group_visits": {"batches": n("group_visits"), "persons": n("group_visit_persons")},
        "by_mode": named("mode"),
        "by_channel": channels,
        "channel_share": _shares(channels, total),
        "by_category": categories,
        "category_share": _shares(categories, total),
        # ties by name: every worker gathers the cases in its own order, and must give the same list
        "most_complained_units": [{"unit": u, "cases": k, "share": _rate(k, routed)}
                                  for u, k in sorted(leads.items(), key=lambda kv: (-kv[1], kv[0]))[:MOST_COMPLAINED]],
        "by_month_category": months,
        "by_lead_unit": leads,
        "by_unit": by_unit,
        "by_status": statuses,
        "diverted": statuses.get(CaseStatus.DIVERTED.value, 0),
        "resolved": statuses.get(CaseStatus.RESOLVED.value, 0),
        "outcomes": named("outcome"),
        "on_time_acceptance_rate": _rate(n("accepted_on_time"), n("accepted_known")),
        "on_time_closing_rate": _rate(n("closed_on_time"), n("closed_known")),
        "objection_rate": _rate(sum(u["objections"] for u in by_unit.values()), routed),
        "extension_rate": _rate(sum(u["extensions"] for u in by_unit.values()), routed),
        "repeat_rate": _rate(n("repeats"), total),
        **_reviews(this, statuses.get(CaseStatus.RESOLVED.value, 0)),
        "overdue": n("overdue"),
        "supervision": supervision_report(this),  # 督查督办: overdue by unit, letters, 三项建议
        "satisfaction": _satisfaction(this),  # 回访: 满意率, by unit
        "packages": _packages(this),
        "notices": {"issued": named("notices_issued"), "delivered": n("notices_delivered")},
    }


def _order(item: tuple[tuple[Any, ...], int]) -> tuple[str, ...]:
    return tuple(map(str, item[0]))


def _reviews(figures: dict[tuple[Any, ...], int], resolved: int) -> dict[str, Any]:
    """Review (复查) and re-check (复核): how many opinions were taken further, and what the bodies decided.
    The review rate is over the cases resolved; the re-check rate over the reviews decided."""
    stages = {*STAGES, *(key[1] for key in figures if key[0] == "review")}

    def n(stage: str, what: str) -> int:
        return figures.get(("review", stage, what), 0)

    return {"review_rate": _rate(n("REVIEW", "applied"), resolved),
            "recheck_rate": _rate(n("RECHECK", "applied"), n("REVIEW", "decided")),
            "reviews": {stage: {"applied": n(stage, "applied"), "decided": n(stage, "decided"),
                                "upheld": n(stage, "upheld"), "changed": n(stage, "changed"),
                                "revoked": n(stage, "revoked"),
                                "change_rate": _rate(n(stage, "changed") + n(stage, "revoked"), n(stage, "decided"))}
                        for stage in sorted(stages)}}


def _satisfaction(figures: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """The callbacks' evaluations; the satisfaction rate (满意率) counts satisfied and basically satisfied."""
    def counts(n: Counter[str]) -> dict[str, Any]:
        evaluated = n["SATISFIED"] + n["BASICALLY_SATISFIED"] + n["UNSATISFIED"]
        return {"evaluated": evaluated, "satisfied": n["SATISFIED"], "basically_satisfied": n["BASICALLY_SATISFIED"],
                "unsatisfied": n["UNSATISFIED"], "rate": _rate(n["SATISFIED"] + n["BASICALLY_SATISFIED"], evaluated)}

    total: Counter[str] = Counter()
    by_unit: dict[str, Counter[str]] = {}
    for key, v in figures.items():
        if key[0] == "satisfaction":
            total[key[1]] += v
        elif key[0] == "satisfaction_by_unit":
            by_unit.setdefault(key[1], Counter())[key[2]] += v
    return {**counts(total), "by_unit": {unit: counts(n) for unit, n in sorted(by_unit.items())}}


def _packages(figures: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """The responsibility packages (包案) on the year's cases: the resolution rate is resolved over closed."""
    def n(*key: str) -> int:
        return figures.get(("packages", *key), 0)

    return {"assigned": n("assigned"), "closed": n("closed"), "resolved": n("result", "RESOLVED"),
            "partially_resolved": n("result", "PARTIALLY_RESOLVED"), "unresolved": n("result", "UNRESOLVED"),
            "transferred_to_judicial": n("result", "TRANSFERRED_TO_JUDICIAL"),
            "resolution_rate": _rate(n("result", "RESOLVED"), n("closed"))}


def statistics(cases: Iterable[CaseState], now: datetime, year: int | None = None,
               packages: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The year's figures counted over ``cases``; ``packages``: the responsibility packages' views
    (包案), each counted in the year of its key case if that case is among ``cases``."""
    totals: Tally = Counter()
    years: dict[str, int] = {}
    for c in cases:
        totals.update(tally(c, now))
        if c.registered_at is not None:
            years[c.case_number] = bureau_year(c.registered_at)
    for p in packages:
        if p["case_number"] in years:
            totals.update(tally_package(p, years[p["case_number"]]))
    return report(totals, now, year)
