"""The unit SLA board keeps its gauges as cases change: after any sequence of changes (repeats,
re-routes, closes) its figures are those counted over every case, at any time; a rebuild gives
the same; the ledger's job rebuilds once per generation and not while the tables are restoring."""

from __future__ import annotations

import asyncio
import copy
import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from liandong.bench_scale import Template
from liandong.domain import CaseState, CaseStatus, ClockConfig, HandoffStatus
from liandong.domain.case import state_from_json
from services.ledger import app as ledger_app
from services.ledger.app import Recorder, refresh_gauges
from services.ledger.board import Board, Figures

BASE = state_from_json(Template.build().open)
UNITS = ["HRSS", "HOUSING", "POLICE"]


def variant(rng: random.Random, number: str) -> CaseState:
    """The base case under ``number`` at a random stage, led by a random unit."""
    case = copy.deepcopy(BASE)
    case.case_number = number
    lead = copy.deepcopy(next(iter(case.handoffs.values())))
    lead.unit = rng.choice(UNITS)
    case.handoffs = {lead.unit: lead}
    case.lead_unit = lead.unit if rng.random() > 0.1 else None
    due = lead.acceptance_due_at
    stage = rng.choice(["requested", "accepted", "late", "resolved", "not_accepted"])
    if stage in ("accepted", "late", "resolved"):
        lead.accepted_at = due + timedelta(days=1 if stage == "late" else -3)
        lead.status = HandoffStatus.ACCEPTED
        lead.handling_due_at = lead.accepted_at + timedelta(days=60)
        case.status = CaseStatus.ACCEPTED
    if stage == "resolved":
        lead.resolved_at = lead.accepted_at + timedelta(days=rng.choice([10, 70]))  # type: ignore[operator]
        lead.status = HandoffStatus.RESOLVED
        case.status = CaseStatus.RESOLVED
    if stage == "not_accepted":
        lead.status = HandoffStatus.NOT_ACCEPTED
        case.status = CaseStatus.NOT_ACCEPTED
    return case


def recount(cases: Iterable[CaseState], at: datetime) -> Figures:
    """The same figures counted over every case, as the ledger did before the board: the reference."""
    open_by_unit: Counter[str] = Counter()
    overdue: Counter[tuple[str, str]] = Counter()
    accepted: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    for c in cases:
        lead = c.lead
        if lead is None:
            continue
        if c.status not in (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED):
            open_by_unit[lead.unit] += 1
        for clock in c.overdue(at):
            overdue[(lead.unit, clock)] += 1
        if lead.accepted_at is not None:
            accepted[lead.unit] += 1
            on_time[lead.unit] += lead.accepted_at <= lead.acceptance_due_at
    return Figures(open_by_unit, overdue, +accepted, +on_time)


def same(a: Figures, b: Figures) -> bool:
    return (+a.open, +a.overdue, +a.accepted, +a.on_time) == (+b.open, +b.overdue, +b.accepted, +b.on_time)


def test_after_any_changes_the_board_counts_what_a_recount_over_every_case_does() -> None:
    rng = random.Random(7)
    board, latest = Board(), {}
    for _ in range(600):
        case = variant(rng, f"140214-2026-{rng.randrange(40):06d}")
        board.set(case)
        if rng.random() < 0.2:
            board.set(case)  # a replayed batch sets it again
        latest[case.case_number] = case
    base = BASE.registered_at
    assert base is not None
    for days in (0, 16, 80, 200):  # before and after the clocks fall due
        at = base + timedelta(days=days)
        assert same(board.figures(at), recount(latest.values(), at)), days
    assert sum(board.figures(base + timedelta(days=16)).overdue.values()) > 0  # the test can fail
    rebuilt = Board()
    for case in latest.values():
        rebuilt.set(case)
    assert same(rebuilt.figures(base), board.figures(base))
    rebuilt.clear()
    assert not rebuilt.marks and not rebuilt.open and not +rebuilt.accepted
    assert len(board.open) == sum(1 for c in latest.values() if c.lead and c.status not in
                                  (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED))


class View:
    """The ledger's view as the job reads it: the keys it owns, one case at a time, the generation."""

    def __init__(self, cases: list[CaseState]) -> None:
        self.cases = {c.case_number: c for c in cases}
        self.reads, self.generation_now = 0, None
        self.peers = self

    def generation(self) -> Any:
        return self.generation_now

    def owned_keys(self, _: str) -> list[str]:
        self.reads += 1
        return list(self.cases)

    def get(self, _: str, key: str) -> CaseState | None:
        return self.cases.get(key)


def refresh(recorder: Recorder, view: View, at: Any) -> None:
    asyncio.run(refresh_gauges(recorder, view, at))  # type: ignore[arg-type]


def test_the_job_reads_the_cases_once_per_generation_and_not_while_restoring(monkeypatch: Any) -> None:
    monkeypatch.setattr(ledger_app, "REBUILD_SLICE", 7)  # several turns of the loop
    rng = random.Random(3)
    cases = [variant(rng, f"140214-2026-{i:06d}") for i in range(30)]
    recorder = Recorder.unsealed(ClockConfig())
    view = View(cases)
    at = BASE.registered_at + timedelta(days=1)  # type: ignore[operator]
    refresh(recorder, view, at)
    assert view.reads == 0 and not recorder.board.marks  # restoring: nothing read, nothing set
    view.generation_now = 5
    for _ in range(3):
        refresh(recorder, view, at)
    assert view.reads == 1 and same(recorder.board.figures(at), recount(cases, at))
    view.generation_now = 6  # a rebalance: read again
    view.cases = {c.case_number: c for c in cases[:10]}
    refresh(recorder, view, at)
    assert view.reads == 2 and same(recorder.board.figures(at), recount(cases[:10], at))


def test_a_case_changed_while_the_board_is_rebuilt_is_counted_as_it_now_is(monkeypatch: Any) -> None:
    monkeypatch.setattr(ledger_app, "REBUILD_SLICE", 1)
    rng = random.Random(5)
    cases = [variant(rng, f"140214-2026-{i:06d}") for i in range(6)]
    recorder = Recorder.unsealed(ClockConfig())
    view = View(cases)
    view.generation_now = 1
    at = BASE.registered_at + timedelta(days=1)  # type: ignore[operator]
    changed = variant(random.Random(1), cases[-1].case_number)
    assert not same(recount([cases[-1]], at), recount([changed], at))  # the change shows in the figures

    async def run() -> None:
        job = asyncio.ensure_future(refresh_gauges(recorder, view, at))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the job has read the first cases: a batch now changes the last one
        view.cases[changed.case_number] = changed
        recorder.board.set(changed)
        await job

    asyncio.run(run())
    assert same(recorder.board.figures(at), recount(view.cases.values(), at))
