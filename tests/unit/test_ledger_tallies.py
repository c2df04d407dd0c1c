"""The annual report's figures kept as cases change (services/ledger/tallies.py): after any sequence
of changes, at any later time and for any unit, the report from the kept sums is the report counted
over every case; a case's part changes with time only as its due times pass; a settled case keeps
nothing of its own."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.ledger import tallies as tallies_module
from services.ledger.stats import due_times, report, statistics, tally
from services.ledger.tallies import Tallies
from tests.unit.cases import UNITS, random_case

END = datetime.max.replace(tzinfo=UTC)


def test_the_kept_sums_give_the_report_a_count_over_every_case_gives() -> None:
    rng = random.Random(11)
    tallies, latest = Tallies(), {}
    now = datetime(2025, 1, 1, tzinfo=UTC)
    seen_pending = seen_settled = 0
    for step in range(1, 1201):
        case = random_case(rng, rng.randrange(300))  # the same number again: the case changed
        old = latest.get(case.case_number)  # what it added as it was, asked before the change
        before = tallies.part(old) if old is not None and not tallies.kept(old.case_number) else None
        tallies.set(case, before)
        if rng.random() < 0.2:
            tallies.set(case, before)  # a second event of the case in the same batch
        latest[case.case_number] = case
        if step % 200 == 0:
            now += timedelta(days=rng.choice((20, 90)))  # the ledger's clock only goes forward
            tallies.settle(now)
            seen_pending += bool(tallies.pending)
            seen_settled += len(latest) > len(tallies.pending)
            for unit in (None, *UNITS):
                seen = [c for c in latest.values() if unit is None or c.concerns(unit)]
                for year in (None, 2025, 2026):
                    assert report(tallies.totals(now, unit), now, year) == statistics(seen, now, year), (step, unit)
    assert seen_pending and seen_settled  # both ways of counting were used
    assert statistics(latest.values(), now)["total"] > 0  # the figures compared are not empty
    tallies.clear()
    assert report(tallies.totals(now), now, 2026)["total"] == 0 and not tallies.sums


def test_a_cases_part_changes_with_time_only_as_its_due_times_pass() -> None:
    rng = random.Random(5)
    changed = 0
    for n in range(400):
        case = random_case(rng, n)
        times = due_times(case)
        start = datetime(2020, 1, 1, tzinfo=UTC)
        for since, until in zip([start, *times], [*times, END], strict=True):  # constant in (since, until]
            part = tally(case, until)
            assert tally(case, since + timedelta(microseconds=1)) == part, (case.case_number, until)
            assert tally(case, since + (until - since) / 2) == part
            changed += since != start and tally(case, since) != part
    assert changed > 10  # the due times do change the parts


def test_a_settled_case_keeps_nothing_of_its_own() -> None:
    rng = random.Random(3)
    cases = [random_case(rng, n) for n in range(1000)]
    tallies = Tallies()
    for case in cases:
        tallies.set(case)
    later = max(max(due_times(c), default=END - timedelta(days=2)) for c in cases) + timedelta(days=1)
    tallies.settle(later)
    assert not tallies.pending and not tallies.changed  # only the sums
    for year in (2025, 2026):
        assert report(tallies.totals(later), later, year) == statistics(cases, later, year)
    assert report(tallies.totals(later), later, 2026)["total"] > 0


def test_a_case_that_cannot_be_counted_stays_waiting_and_loses_no_other() -> None:
    rng = random.Random(8)
    bad, good = random_case(rng, 1), random_case(rng, 2)
    while bad.lead is None:
        bad = random_case(rng, 1)
    broken = copy.deepcopy(bad)
    assert broken.lead is not None
    broken.lead.acceptance_due_at = broken.lead.acceptance_due_at.replace(tzinfo=None)  # cannot be compared
    tallies = Tallies()
    tallies.set(broken)
    tallies.set(good)
    now = datetime(2027, 6, 1, tzinfo=UTC)
    with pytest.raises(TypeError):
        tallies.totals(now)  # an error, not figures without the cases after it
    assert set(tallies.changed) == {bad.case_number, good.case_number}
    tallies.set(bad)  # the case as it should be
    assert report(tallies.totals(now), now, 2026) == statistics([bad, good], now, 2026)


def test_pending_cases_with_the_same_figures_share_one_part_and_the_sharing_stays_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tallies_module, "SHARED_SLACK", 0)
    rng = random.Random(3)
    template = random_case(rng, 1)
    while not due_times(template):
        template = random_case(rng, 1)
    tallies = Tallies()
    for n in range(1000):
        case = copy.deepcopy(template)
        case.case_number = f"140214-2026-{n:06d}"
        tallies.set(case)
    before = min(due_times(template)) - timedelta(days=1)
    tallies.settle(before)
    assert len(tallies.pending) == 1000 and len({id(p.final) for p in tallies.pending.values()}) == 1
    later = max(due_times(template)) + timedelta(days=1)
    tallies.settle(later)  # all settled: nothing of theirs kept, the shared parts let go
    assert not tallies.pending and not tallies._shared
    assert report(tallies.totals(later), later, 2026)["total"] + report(tallies.totals(later), later, 2025)["total"] == 1000
