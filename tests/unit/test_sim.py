"""The district simulation's generator and report, without a broker."""

from __future__ import annotations

import random
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liandong.sim.generator import CHANNELS, MATTERS, generate, previous_year_count
from liandong.sim.report import ReportInputs, render_markdown, use_cjk_font, write_report
from services.intake.submission import Submission


def test_same_seed_same_petitions_other_seed_others() -> None:
    a = generate(200, year=2025, seed=7)
    b = generate(200, year=2025, seed=7)
    c = generate(200, year=2025, seed=8)
    assert [p.record for p in a] == [p.record for p in b]
    assert [p.record for p in a] != [p.record for p in c]


def test_volumes_years_categories_channels() -> None:
    petitions = generate(600, year=2025, seed=1)
    years = Counter(p.received_at.year for p in petitions)
    assert years[2025] == 600
    assert years[2024] == previous_year_count(600) == round(600 / (1 - 0.342))
    assert [p.received_at for p in petitions] == sorted(p.received_at for p in petitions)
    categories = Counter(p.category for p in petitions)
    assert set(categories) == {m.category for m in MATTERS}  # every modelled matter occurs
    assert categories.most_common(2)[0][0] in ("WAGE_ARREARS", "HEATING")
    assert set(Counter(p.channel for p in petitions)) == set(CHANNELS)
    # winter heating is seasonal: far more in December-February than in May-August
    heating = Counter(p.received_at.month for p in petitions if p.category == "HEATING")
    assert sum(heating[m] for m in (12, 1, 2)) > 5 * sum(heating[m] for m in (5, 6, 7, 8))


def test_repeats_and_group_visits() -> None:
    petitions = generate(600, year=2025, seed=3)
    repeats = [p for p in petitions if p.repeat]
    assert 0.04 < len(repeats) / len(petitions) < 0.12
    firsts = {(p.record["petitioner"]["id_number"], p.category) for p in petitions if not p.repeat}
    assert all((p.record["petitioner"]["id_number"], p.category) in firsts for p in repeats)
    groups = [p for p in petitions if p.persons > 1]
    assert groups and all(p.channel == "VISIT" and p.record["petitioner"]["group_size"] == p.persons for p in groups)


def test_every_petition_is_a_valid_submission() -> None:
    keys = set()
    for p in generate(300, year=2025, seed=5):
        sub = Submission.model_validate(p.record)  # what intake's POST /petitions accepts
        keys.add(sub.idempotency_key)
    assert len(keys) == 300 + previous_year_count(300)


STATS = {
    "year": 2025, "total": 400, "year_on_year_change": -0.342, "previous_year_total": 608,
    "by_channel": {"ONLINE": 170, "VISIT": 90, "HOTLINE_12345": 100, "LETTER": 40},
    "by_category": {"WAGE_ARREARS": 110, "HEATING": 90, "LITIGATION": 20, "OTHER": 180},
    "by_lead_unit": {"HRSS": 150, "HOUSING": 200}, "by_status": {"RESOLVED": 330, "REPEAT": 30, "DIVERTED": 20, "ROUTED": 20},
    "by_unit": {"HRSS": {"cases": 150, "resolved": 140, "accepted_on_time": 150, "accepted_late": 0, "closed_on_time": 138,
                         "closed_late": 2, "objections": 3, "extensions": 20},
                "STREET_OFFICE": {"cases": 50, "resolved": 40, "accepted_on_time": 20, "accepted_late": 30,
                                  "closed_on_time": 40, "closed_late": 0, "objections": 0, "extensions": 5}},
    "diverted": 20, "resolved": 330, "outcomes": {"SUPPORTED": 200, "EXPLAINED": 130},
    "on_time_acceptance_rate": 0.85, "on_time_closing_rate": 0.9862, "objection_rate": 0.0086,
    "extension_rate": 0.0714, "repeat_rate": 0.075, "overdue": 4,
    "persons": 731, "persons_year_on_year_change": -0.25, "visits": {"batches": 90, "persons": 421},
    "group_visits": {"batches": 17, "persons": 160}, "by_mode": {"FORWARD": 300, "ASSIGN": 50},
    "most_complained_units": [{"unit": "HOUSING", "cases": 200, "share": 0.5714}],
    "review_rate": 0.0606, "recheck_rate": 0.25,
    "reviews": {"REVIEW": {"applied": 20, "decided": 16, "upheld": 12, "changed": 3, "revoked": 1, "change_rate": 0.25},
                "RECHECK": {"applied": 4, "decided": 4, "upheld": 4, "changed": 0, "revoked": 0, "change_rate": 0.0}},
    "supervision": {"letters_issued": {"reminder": 12, "notice": 3, "listed": 1},
                    "letters_by_unit": {"STREET_OFFICE": {"reminder": 10, "notice": 3, "listed": 1}},
                    "recommendations": {"issued": 4, "answered": 3, "adopted": 2, "not_adopted": 1},
                    "recommendation_adoption_rate": 0.6667},
}


def inputs() -> ReportInputs:
    cases = [("HRSS", "RESOLVED")] * 140 + [("HRSS", "IN_PROGRESS")] * 10 + [("STREET_OFFICE", "RESOLVED")] * 40 + [
        (None, "DIVERTED")] * 20
    return ReportInputs(year=2025, stats=STATS, cases=cases,
                        coordination={"supervision": {"reminder": 12, "notice": 3}, "packages": {"RESOLVED": 4, "PARTIAL": 1},
                                      "mediation": {}},
                        services=["intake", "ledger", "supervision", "coordination"],
                        metrics_urls={"ledger": "http://127.0.0.1:9403/metrics"}, run={"seed": 1, "seconds": 60})


def test_report_reads_like_the_annual_statistics() -> None:
    md = render_markdown(inputs())
    assert "**400 件(批)**, down 34.2% year on year (608 in 2024)" in md
    assert ("Persons (人次): **731**, down 25.0% year on year; visits (来访) 90 批 421 人次, of them group visits "
            "(集体访, 5 or more people) 17 批 160 人次.") in md
    assert "- Forwarded (转送) 300, assigned (交办) 50." in md
    assert "- 住建 housing: 200 (57.1% of the routed cases)" in md
    assert "| Review rate (复查率: reviews applied for / opinions) | 6.1% |" in md
    assert "| 复查 review | 20 | 16 | 12 | 3 | 1 | 25.0% |" in md and "| 复核 re-check | 4 | 4 | 4 | 0 | 0 | 0.0% |" in md
    assert "| 街道 street office | 10 | 3 | 1 |" in md
    assert "issued 4, answered 3, adopted 2 (adoption rate 66.7%)" in md
    assert "| On-time acceptance notice (按期受理告知率, 15 days) | 85.0% |" in md
    assert "| On-time closing (按期办结率, 60 days + extension) | 98.6% |" in md
    assert "| Repeat rate (重复信访率) | 7.5% |" in md
    assert "| 欠薪 wage arrears | 110 | 27.5% |" in md
    assert "Most deadline breaches: **街道 street office** (30 late acceptance notices" in md
    assert "- reminder: 12" in md and "- notice: 3" in md
    assert "Packages closed (包案): 5, resolution rate 80.0%" in md
    assert "- ledger: http://127.0.0.1:9403/metrics" in md


def test_report_takes_the_packages_from_the_ledger() -> None:
    r = inputs()
    r.stats = {**STATS, "packages": {"assigned": 6, "closed": 4, "resolved": 3, "partially_resolved": 1, "unresolved": 0,
                                     "transferred_to_judicial": 0, "resolution_rate": 0.75}}
    assert "Packages closed (包案): 4, resolution rate 75.0%; PARTIALLY_RESOLVED 1, RESOLVED 3" in render_markdown(r)


def test_report_says_what_is_missing_from_the_build() -> None:
    r = inputs()
    r.services = ["intake", "ledger"]
    md = render_markdown(r)
    assert "supervision service is not part of this build" in md
    assert "coordination service (packages, mediation, task teams) is not part of this build" in md


def test_report_files_and_charts(tmp_path: Path) -> None:
    r = inputs()
    r.stats = {**STATS, "by_month_category": {"2025-01": {"WAGE_ARREARS": 30, "HEATING": 12}, "2025-07": {"LAND": 3},
                                               "2025-12": {"HEATING": 20, "WAGE_ARREARS": 9}}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path, text = write_report(r, tmp_path)
    # The CJK font (make fonts: Debian's fonts-wqy-microhei) draws every Chinese label: no glyph is missing.
    assert use_cjk_font(), "no CJK font: run `make fonts`"
    assert not [w for w in caught if "Glyph" in str(w.message)], [str(w.message) for w in caught]
    assert path.read_text(encoding="utf-8") == text
    assert "![Petitions by month and matter](cases_by_month_matter.png)" in text
    for name in ("cases_by_unit_status.png", "deadline_compliance.png", "cases_by_month_matter.png"):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert '"total": 400' in (tmp_path / "stats.json").read_text(encoding="utf-8")


def test_report_shows_the_callbacks_satisfaction_by_unit() -> None:
    r = inputs()
    assert "No callback was recorded." in render_markdown(r)
    r.stats = {**STATS, "notices": {"issued": {"ACCEPTANCE": 3, "OPINION": 2}, "delivered": 4}, "satisfaction": {
        "evaluated": 8, "satisfied": 5, "basically_satisfied": 2, "unsatisfied": 1, "rate": 0.875,
        "by_unit": {"HRSS": {"evaluated": 8, "satisfied": 5, "basically_satisfied": 2, "unsatisfied": 1, "rate": 0.875}}}}
    md = render_markdown(r)
    assert "satisfaction rate (满意率) **87.5%**" in md and "unsatisfied (不满意) 1" in md
    assert "| 5 | 2 | 1 | 87.5% |" in md
    assert "- Issued: 5 (受理告知书 3, 处理意见书 2); confirmed delivered (送达): 4." in md


def test_the_simulated_bureau_calls_back_each_resolved_case_once() -> None:
    from liandong.sim.bureau import CALLBACK_ATTEMPTS, EVALUATIONS, Bureau

    bureau = object.__new__(Bureau)
    bureau.rng, bureau.called_back, bureau.attempts = random.Random(3), set(), {}
    sent: list[dict[str, Any]] = []
    opinion_known: set[str] = set()

    def record(body: dict[str, Any]) -> tuple[int, Any]:
        sent.append(body)
        return (200, {}) if body["case_number"] in opinion_known else (409, {})

    at = datetime(2026, 5, 1, tzinfo=UTC)
    opinion_known.update({"a", "b"})
    assert bureau.call_back({"a", "b", "slow"}, at, record) == 2  # intake has not read "slow"'s opinion yet
    opinion_known.add("slow")
    assert bureau.call_back({"a", "b", "slow", "c"}, at, record) == 1  # "slow" now; "c" not yet; a, b not again
    for _ in range(CALLBACK_ATTEMPTS):
        bureau.call_back({"c"}, at, record)
    assert [b["case_number"] for b in sent].count("c") == CALLBACK_ATTEMPTS  # then given up
    assert sorted(b["case_number"] for b in sent if b["case_number"] != "c") == ["a", "b", "slow", "slow"]
    assert {b["evaluation"] for b in sent} <= set(EVALUATIONS) and all(b["called_at"] == at.isoformat() for b in sent)


def test_the_simulated_bureau_forwards_the_unsatisfieds_reviews_and_their_rechecks() -> None:
    from liandong.sim.bureau import CALLBACK_ATTEMPTS, Bureau

    class Always(random.Random):
        def random(self) -> float:
            return 0.0  # every unsatisfied petitioner applies, every upheld review goes on to a re-check

        def choices(self, population: Any, weights: Any = None, **kw: Any) -> list[Any]:
            return ["UNSATISFIED"]

    bureau = object.__new__(Bureau)
    bureau.rng, bureau.called_back, bureau.attempts = Always(), set(), {}
    bureau.to_apply = {}
    at = datetime(2026, 5, 1, tzinfo=UTC)
    assert bureau.call_back({"a", "b"}, at, lambda body: (200, {})) == 2
    known: set[tuple[str, str]] = {("a", "REVIEW")}  # intake knows a's opinion; b's not yet
    sent: list[dict[str, Any]] = []

    def apply(body: dict[str, Any]) -> tuple[int, Any]:
        sent.append(body)
        return (200, {}) if (body["case_number"], body["stage"]) in known else (409, {})

    assert bureau.apply_reviews(at, apply) == 1 and bureau.to_apply == {("b", "REVIEW"): 1}

    class Published:
        def __init__(self) -> None:
            self.sent: list[tuple[str, dict[str, Any]]] = []

        def publish(self, name: str, record: dict[str, Any]) -> Any:
            self.sent.append((name, record))
            return type("Done", (), {"get": lambda self, timeout: None})()

    from liandong import load_clocks
    from liandong.sim.reviewers import Decided

    bureau.supervision, bureau.clocks = Published(), load_clocks()
    case_c = {"case_number": "c", "petition_id": "p", "district_code": "140214"}
    bureau.reviewed([Decided("a", "REVIEW", "UPHELD", "HRSS", {}), Decided("c", "REVIEW", "REVOKED", "HOUSING", case_c)],
                    at)  # a revoked opinion is redone, not re-checked; its unit is recommended to improve its work
    [(name, rec)] = bureau.supervision.sent
    assert name == "supervision.recommendation" and (rec["unit"], rec["kind"], rec["case"]) == ("HOUSING", "IMPROVE_WORK", case_c)
    assert rec["deadline"]["due_at"] == load_clocks().recommendation_due(at)
    known |= {("a", "RECHECK")}
    assert bureau.apply_reviews(at, apply) == 1 and ("a", "RECHECK") not in bureau.to_apply  # forwarded
    assert [(b["case_number"], b["stage"]) for b in sent].count(("a", "RECHECK")) == 1
    for _ in range(CALLBACK_ATTEMPTS):
        bureau.apply_reviews(at, apply)
    assert bureau.to_apply == {} and [b["case_number"] for b in sent].count("b") == CALLBACK_ATTEMPTS  # given up
    assert {(b["stage"], b["grounds"]) for b in sent} == {("REVIEW", "对处理意见不服"), ("RECHECK", "对复查意见不服")}
