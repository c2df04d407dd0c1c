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


# -- every figure of the annual report, on a fixed data set with hand-computed answers ---------------
def _fold(c: CaseState, event_type: str, **fields: object) -> None:
    """One event through the ledger's own fold (as the ledger applies it)."""
    from tests.stand_ins import typed

    at = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(hours=len(c.timeline))
    ref = {"case_number": c.case_number, "district_code": "140214"}
    assert c.apply(typed(event_type, {"event_id": f"{c.case_number}/{len(c.timeline)}", "occurred_at": at, "case": ref,
                                      **fields}), f"{c.case_number}/{len(c.timeline)}", CLOCKS)


def _review(c: CaseState, body: str, stage: str, decision: str | None, reviewed: str | None = None) -> None:
    _fold(c, "review.requested", unit=body, stage=stage, reviewed_unit=reviewed or c.lead_unit,
          applied_at=datetime(2026, 6, 1, tzinfo=UTC))
    if decision:
        _fold(c, "review.decided", unit=body, stage=stage, decision=decision, text="意见", decided_by="复查办")


def test_every_figure_of_the_annual_report_on_a_fixed_data_set() -> None:
    now = datetime(2026, 12, 31, tzinfo=UTC)
    last_year = [case(1, 2025), case(2, 2025, channel="VISIT")]
    last_year[1].persons = 3  # 2025: 2 cases, 4 persons
    a = case(1, 2026, channel="VISIT")  # a group visit of six about wages, assigned from above (交办) to HRSS
    b = case(2, 2026)
    c = case(3, 2026, channel="VISIT", lead="HOUSING")
    d = case(4, 2026, channel="LETTER", lead="HOUSING", resolved_after=None)
    e = case(5, 2026, channel="HOTLINE_12345", lead="JUSTICE")
    a.persons, c.persons = 6, 2
    for x, mode, category in ((a, "ASSIGN", "WAGE_ARREARS"), (b, "FORWARD", "WAGE_ARREARS"), (c, "FORWARD", "HEATING"),
                              (d, "FORWARD", "HEATING"), (e, "ASSIGN", "PROPERTY")):
        x.mode, x.category = mode, category
    _review(a, "CITY_HRSS", "REVIEW", "CHANGED")
    _review(a, "CITY_GOVERNMENT", "RECHECK", "UPHELD", reviewed="CITY_HRSS")
    _review(b, "CITY_HRSS", "REVIEW", "UPHELD")
    _review(e, "DISTRICT_GOVERNMENT", "REVIEW", None)  # applied, not decided yet
    packages = [
        {"case_number": a.case_number, "status": "CLOSED", "result": "RESOLVED"},
        {"case_number": d.case_number, "status": "OPEN", "result": None},
        {"case_number": last_year[0].case_number, "status": "CLOSED", "result": "UNRESOLVED"},  # another year's
    ]
    s = statistics([*last_year, a, b, c, d, e], now, 2026, packages)

    assert (s["total"], s["previous_year_total"], s["year_on_year_change"]) == (5, 2, 1.5)  # (5 - 2) / 2
    assert (s["persons"], s["previous_year_persons"], s["persons_year_on_year_change"]) == (11, 4, 1.75)  # 6+1+2+1+1
    assert s["visits"] == {"batches": 2, "persons": 8} and s["group_visits"] == {"batches": 1, "persons": 6}
    assert s["by_mode"] == {"ASSIGN": 2, "FORWARD": 3}
    assert s["channel_share"] == {"VISIT": 0.4, "ONLINE": 0.2, "LETTER": 0.2, "HOTLINE_12345": 0.2}
    assert s["category_share"] == {"WAGE_ARREARS": 0.4, "HEATING": 0.4, "PROPERTY": 0.2}
    assert s["most_complained_units"] == [{"unit": "HOUSING", "cases": 2, "share": 0.4},  # a tie: by name
                                          {"unit": "HRSS", "cases": 2, "share": 0.4},
                                          {"unit": "JUSTICE", "cases": 1, "share": 0.2}]
    # four resolved (a, b, c, e); three of their opinions taken to review, two decided, one of those re-checked
    assert (s["resolved"], s["review_rate"], s["recheck_rate"]) == (4, 0.75, 0.5)
    assert s["reviews"]["REVIEW"] == {"applied": 3, "decided": 2, "upheld": 1, "changed": 1, "revoked": 0,
                                      "change_rate": 0.5}
    assert s["reviews"]["RECHECK"] == {"applied": 1, "decided": 1, "upheld": 1, "changed": 0, "revoked": 0,
                                       "change_rate": 0.0}
    assert s["packages"] == {"assigned": 2, "closed": 1, "resolved": 1, "partially_resolved": 0, "unresolved": 0,
                             "transferred_to_judicial": 0, "resolution_rate": 1.0}
    # every ledger worker gathers the cases in its own order: the figures must not depend on it
    assert statistics([e, d, c, b, a, *reversed(last_year)], now, 2026, list(reversed(packages))) == s
    assert a.reviews["RECHECK"]["body"] == "CITY_GOVERNMENT" and a.reviews["RECHECK"]["reviewed_unit"] == "CITY_HRSS"
