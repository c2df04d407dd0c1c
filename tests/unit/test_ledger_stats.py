"""The ledger's statistics: the figures of a bureau's annual report, from case states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from liandong.domain import CaseState, CaseStatus, ClockConfig, HandoffStatus, UnitHandoff
from services.ledger.stats import statistics

UTC = UTC
CLOCKS = ClockConfig()


def case(n: int, year: int, *, channel: str = "ONLINE", lead: str | None = "HRSS", accepted_after: int | None = 3,
         resolved_after: int | None = 30, objections: int = 0, repeat_of: str | None = None) -> CaseState:
    t0 = datetime(year, 3, 1, tzinfo=UTC)
    c = CaseState(f"140214-{year}-{n:06d}", channel=channel, category="WAGE_ARREARS", registered_at=t0,
                  objections=objections, repeat_of=repeat_of)
    if lead:
        h = UnitHandoff(lead, "LEAD", HandoffStatus.REQUESTED, t0, CLOCKS.acceptance_due(t0))
        if accepted_after is not None:
            h.accepted_at = t0 + timedelta(days=accepted_after)
            h.handling_due_at = CLOCKS.handling_due(h.accepted_at)
            h.status = HandoffStatus.ACCEPTED
            if resolved_after is not None:
                h.resolved_at = h.accepted_at + timedelta(days=resolved_after)
                h.status = HandoffStatus.RESOLVED
        c.handoffs[lead], c.lead_unit = h, lead
        c.status = CaseStatus.RESOLVED if h.resolved_at else CaseStatus.ROUTED
    return c


def test_annual_figures_and_year_on_year_change() -> None:
    now = datetime(2026, 12, 31, tzinfo=UTC)
    cases = [case(i, 2025) for i in range(1, 5)]  # four last year
    cases += [
        case(1, 2026, channel="VISIT"),
        case(2, 2026, accepted_after=20),  # accepted late (day 20 > 15)
        case(3, 2026, resolved_after=70, objections=1),  # closed late (70 > 60)
        case(4, 2026, lead=None, repeat_of="140214-2026-000001"),
        case(5, 2026, accepted_after=None),  # never accepted, long overdue
    ]
    s = statistics(cases, now, 2026)
    assert s["total"] == 5 and s["previous_year_total"] == 4
    assert s["year_on_year_change"] == 0.25
    assert s["by_channel"] == {"VISIT": 1, "ONLINE": 4}
    assert s["by_lead_unit"] == {"HRSS": 4}
    assert s["on_time_acceptance_rate"] == 0.5  # 2 on time of 4 known (one late, one overdue)
    assert s["on_time_closing_rate"] == round(2 / 3, 4)
    assert s["objection_rate"] == 0.25
    assert s["repeat_rate"] == 0.2
    assert s["overdue"] == 1


def test_without_last_year_there_is_no_year_on_year_change() -> None:
    s = statistics([case(1, 2026)], datetime(2026, 6, 1, tzinfo=UTC))
    assert s["year"] == 2026 and s["year_on_year_change"] is None


def test_the_year_is_the_bureaus_as_in_the_case_numbers() -> None:
    """1 Jan 2026 07:00 Beijing time is 31 Dec 2025 23:00 UTC: numbered and counted in 2026."""
    from liandong.domain import BUREAU_TZ, bureau_year

    new_year = datetime(2026, 1, 1, 7, 0, tzinfo=BUREAU_TZ).astimezone(UTC)
    assert new_year.year == 2025 and bureau_year(new_year) == 2026
    c = case(1, 2026)
    c.registered_at = new_year
    s = statistics([c, case(2, 2025)], datetime(2026, 6, 1, tzinfo=UTC))
    assert (s["year"], s["total"], s["previous_year_total"]) == (2026, 1, 1)


def test_petitions_by_month_and_matter_count_in_bureau_time() -> None:
    """31 Jan 17:00 UTC is 1 Feb at the bureau: February's, as the petitioner saw it."""
    cases = []
    for n, (at, category) in enumerate([(datetime(2026, 1, 31, 17, 0, tzinfo=UTC), "WAGE_ARREARS"),
                                        (datetime(2026, 1, 31, 15, 0, tzinfo=UTC), "WAGE_ARREARS"),
                                        (datetime(2026, 2, 10, 2, 0, tzinfo=UTC), "WAGE_ARREARS"),
                                        (datetime(2026, 12, 5, 2, 0, tzinfo=UTC), "HEATING")], start=1):
        cases.append(CaseState(f"140214-2026-{n:06d}", channel="VISIT", category=category, registered_at=at))
    assert statistics(cases, datetime(2026, 12, 31, tzinfo=UTC), 2026)["by_month_category"] == {
        "2026-01": {"WAGE_ARREARS": 1}, "2026-02": {"WAGE_ARREARS": 2}, "2026-12": {"HEATING": 1}}
