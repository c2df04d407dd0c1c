"""The ledger's supervision statistics (督查督办): overdue cases by unit, the letters issued and
what happened after them, and the three recommendations issued and adopted. A case's part is
counted under its year's keys (``tally_supervision``), the report's section built from the sum."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from liandong_sdk.events import SupervisionListed, SupervisionNoticeIssued, SupervisionReminderIssued

from liandong.domain import CaseState

#: "Closed within N days of a notice": the N of the report.
CLOSED_WITHIN_DAYS = 15
LETTERS = {SupervisionReminderIssued.TYPE: "reminder", SupervisionNoticeIssued.TYPE: "notice", SupervisionListed.TYPE: "listed"}
KINDS = ("reminder", "notice", "listed")
AFTER = ("cases", f"closed_within_{CLOSED_WITHIN_DAYS}_days", "closed_later", "still_open")
RECOMMENDATION_FIGURES = ("issued", "answered", "adopted", "not_adopted")


def tally_supervision(c: CaseState, late: list[str], year: int, t: Counter[tuple[Any, ...]]) -> None:
    """Adds the case's supervision figures to its tally ``t`` (``late``: its overdue clocks now)."""
    if c.lead is not None:
        for clock in late:
            t[year, "sv_overdue", c.lead.unit, clock] += 1
    first: dict[str, datetime] = {}
    for entry in c.timeline:
        kind = LETTERS.get(entry.event)
        if kind is None:
            continue
        t[year, "sv_letters", kind] += 1
        t[year, "sv_letters_by_unit", entry.unit or "UNKNOWN", kind] += 1
        first.setdefault(kind, entry.at)
    for kind, at in first.items():  # each case once per kind: what happened after its first such letter
        t[year, "sv_after", kind, "cases"] += 1
        if c.resolved_at is None:
            after = "still_open"
        elif c.resolved_at <= at + timedelta(days=CLOSED_WITHIN_DAYS):
            after = f"closed_within_{CLOSED_WITHIN_DAYS}_days"
        else:
            after = "closed_later"
        t[year, "sv_after", kind, after] += 1
    for r in c.recommendations.values():
        unit = r["unit"]
        t[year, "sv_recommended", unit] += 1  # the unit shows even if nothing of it is counted yet
        for figure, counted in (("issued", r["issued_at"] is not None), ("answered", r["adopted"] is not None),
                                ("adopted", r["adopted"] is True), ("not_adopted", r["adopted"] is False)):
            t[year, "sv_recommendations", figure] += counted
            t[year, "sv_recommendations_by_unit", unit, figure] += counted


def supervision_report(figures: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """The section from one year's summed figures (keys without the year)."""
    def n(*key: str) -> int:
        return figures.get(key, 0)

    overdue: dict[str, dict[str, int]] = {}
    letter_units: set[str] = set()
    recommended: set[str] = set()
    for key, v in sorted(figures.items(), key=lambda kv: tuple(map(str, kv[0]))):
        if key[0] == "sv_overdue":
            overdue.setdefault(key[1], {})[key[2]] = v
        elif key[0] == "sv_letters_by_unit":
            letter_units.add(key[1])
        elif key[0] == "sv_recommended":
            recommended.add(key[1])
    answered = n("sv_recommendations", "answered")
    return {
        "overdue_by_unit": overdue,
        "letters_issued": {k: n("sv_letters", k) for k in KINDS},
        "letters_by_unit": {u: {k: n("sv_letters_by_unit", u, k) for k in KINDS} for u in sorted(letter_units)},
        "after_letters": {kind: {k: n("sv_after", kind, k) for k in AFTER} for kind in KINDS},
        "recommendations": {k: n("sv_recommendations", k) for k in RECOMMENDATION_FIGURES},
        "recommendations_by_unit": {u: {k: n("sv_recommendations_by_unit", u, k) for k in RECOMMENDATION_FIGURES}
                                    for u in sorted(recommended)},
        "recommendation_adoption_rate": round(n("sv_recommendations", "adopted") / answered, 4) if answered else None,
    }
