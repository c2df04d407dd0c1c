"""The unit SLA board keeps its gauges as cases change: after any sequence of changes (repeats,
re-routes, closes) its figures are those counted over every case, at any time; a rebuild gives
the same; the ledger's job rebuilds once per generation and not while the tables are restoring."""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from liandong_sdk.events import (
    CaseRef,
    Satisfaction,
    SatisfactionEvaluated,
    Unit,
)

from liandong.bench_scale import Template, answer, ledger_in_memory, register
from liandong.domain import CaseState, CaseStatus, ClockConfig, HandoffStatus
from liandong.domain.case import state_from_json
from services.ledger import app as ledger_app
from services.ledger.api import CASES
from services.ledger.app import Recorder, refresh_gauges
from services.ledger.board import Board, Figures
from services.ledger.stats import report, statistics

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
    base = BASE.registered_at
    assert base is not None
    at, forgotten = base, 0
    for step in range(1, 601):
        case = variant(rng, f"140214-2026-{rng.randrange(40):06d}")
        old = latest.get(case.case_number)
        before = board.before(old) if old is not None else None  # as the ledger asks it, before the change
        board.set(case, before)
        if rng.random() < 0.2:
            board.set(case, before)  # a second event of the case in the same batch
        latest[case.case_number] = case
        if step % 50 == 0:
            at += timedelta(days=rng.choice((1, 20)))  # the ledger's clock only goes forward
            board.settle(at)
            forgotten += len(latest) - len(board.marks)
            assert same(board.figures(at), recount(latest.values(), at)), step
    assert forgotten > 0  # closed cases were forgotten, and changed again after
    for days in (0, 16, 80, 200):  # before and after the clocks fall due
        later = at + timedelta(days=days)
        assert same(board.figures(later), recount(latest.values(), later)), days
    assert sum(board.figures(base + timedelta(days=16)).overdue.values()) > 0  # the test can fail
    assert len(board.marks) == sum(1 for c in latest.values() if c.lead and c.status not in
                                   (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED))  # only the open cases kept
    rebuilt = Board()
    rebuilt.clear()
    for case in latest.values():
        rebuilt.read(case.case_number, case)
    rebuilt.rebuilt(1)
    assert same(rebuilt.figures(at), board.figures(at))
    rebuilt.clear()
    assert not rebuilt.marks and not +rebuilt.accepted


class View:
    """The ledger's view as the job reads it: the keys it owns, one case at a time, the generation."""

    def __init__(self, cases: list[CaseState]) -> None:
        self.cases = {c.case_number: c for c in cases}
        self.reads, self.generation_now = 0, None
        self.peers = self
        self.exclusive = asyncio.Lock()  # what the batches hold

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

    closed = cases[0] = next(c for c in (variant(rng, cases[0].case_number) for _ in range(50))
                             if c.lead and c.status == CaseStatus.RESOLVED)  # read first; its mark counts
    view.cases[closed.case_number] = closed
    reopened = copy.deepcopy(BASE)  # open again, led by another unit
    reopened.case_number, reopened.handoffs = closed.case_number, {"POLICE": next(iter(BASE.handoffs.values()))}
    reopened.lead_unit = reopened.handoffs["POLICE"].unit = "POLICE"

    async def run() -> None:
        job = asyncio.ensure_future(refresh_gauges(recorder, view, at))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the job has read the first cases: a batch now changes the last one
        view.cases[changed.case_number] = changed
        recorder.board.set(changed)
        assert closed.case_number not in recorder.board.marks  # read, and forgotten: closed
        before = recorder.board.before(closed)  # and one it has read
        view.cases[closed.case_number] = reopened
        recorder.board.set(reopened, before)
        await job

    asyncio.run(run())
    assert same(recorder.board.figures(at), recount(view.cases.values(), at))


def test_a_forgotten_case_changed_through_the_ledger_counts_as_it_now_is() -> None:
    """Through the ledger's own handler: resolved cases settled long ago are forgotten (nothing of
    them kept); late callbacks change some, and the board and the kept sums count them as they now
    are, once each."""
    recorder = Recorder.unsealed(ClockConfig())
    ledger, send = ledger_in_memory(recorder)  # as on the bus: triage referees the units' answers
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    numbers = [f"140214-2026-{i:06d}" for i in range(1, 7)]
    for i, number in enumerate(numbers):
        case = register(send, number, at, f"forgotten-{i}")
        answer(send, case, ledger.state(number, CASES).lead_unit, at,  # type: ignore[union-attr]
               signed=timedelta(days=1 + i * 4), accepted=timedelta(days=3 + i * 4))
    board, later = recorder.board, at + timedelta(days=400)
    board.settle(later)
    assert not board.marks and not board.tallies.pending and not board.tallies.changed  # all forgotten
    counted = report(board.tallies.totals(later), later, 2026)
    for number in numbers[:3]:
        state = ledger.state(number, CASES)
        assert state is not None and state.lead_unit is not None
        ledger.send(SatisfactionEvaluated(event_id=uuid.uuid4(), occurred_at=later, unit=Unit(state.lead_unit),
                                          case=CaseRef(case_number=number, petition_id=uuid.uuid4(),
                                                       district_code="140214"),
                                          evaluation=next(iter(Satisfaction)), called_at=later, remark=""))
    board.settle(later)
    cases = [c for n in numbers if (c := ledger.state(n, CASES)) is not None]
    assert len(cases) == 6 and same(board.figures(later), recount(cases, later))
    assert report(board.tallies.totals(later), later, 2026) == statistics(cases, later, 2026) != counted


def test_the_job_waits_for_a_batch_between_what_its_handler_saw_and_what_it_counts() -> None:
    """A batch's handler asks what a case added (nothing to work out: the board still keeps it), then
    waits for the broker; the gauges' job must not settle (and forget) the case in between, or the
    batch's count would add it a second time."""
    rng = random.Random(9)
    old = next(c for c in (variant(rng, "140214-2026-000001") for _ in range(50))
               if c.lead is not None and c.status == CaseStatus.RESOLVED)
    new = copy.deepcopy(old)
    lead = new.handoffs.pop(new.lead_unit)  # type: ignore[arg-type]
    lead.unit = new.lead_unit = "POLICE" if lead.unit != "POLICE" else "HRSS"  # re-routed: another unit's mark
    new.handoffs = {lead.unit: lead}
    recorder, view = Recorder.unsealed(ClockConfig()), View([new])
    view.generation_now = 1
    board = recorder.board
    board.rebuilt(1)
    board.set(old)  # counted, not yet settled: kept
    later = BASE.registered_at + timedelta(days=400)  # type: ignore[operator]

    async def run() -> None:
        async with view.exclusive:  # the batch
            before = board.before(old)
            assert before is None  # kept: nothing worked out
            job = asyncio.ensure_future(refresh_gauges(recorder, view, later))  # type: ignore[arg-type]
            for _ in range(5):
                await asyncio.sleep(0)
            board.set(new, before)  # the batch's count, once the broker has acknowledged
        await job

    asyncio.run(run())
    assert same(board.figures(later), recount([new], later))
    assert not board.marks  # settled by the job afterwards


def test_a_batch_that_applied_events_and_failed_has_every_case_read_again() -> None:
    rng = random.Random(4)
    cases = [variant(rng, f"140214-2026-{i:06d}") for i in range(5)]
    recorder, view = Recorder.unsealed(ClockConfig()), View(cases)
    view.generation_now = 1
    at = BASE.registered_at + timedelta(days=1)  # type: ignore[operator]
    refresh(recorder, view, at)
    assert view.reads == 1
    refresh(recorder, view, at)
    assert view.reads == 1  # nothing changed: not read again
    recorder.board.applying.add(cases[0].case_number)  # a handler applied an event; its batch never counted it
    refresh(recorder, view, at)
    assert view.reads == 2 and not recorder.board.applying
    assert same(recorder.board.figures(at), recount(cases, at))
