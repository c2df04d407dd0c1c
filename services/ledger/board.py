"""The unit SLA board's gauges (open cases, overdue cases, on-time acceptance), kept as cases change.

Why not recount every case every few seconds: at 100,000 cases that took the ledger 13 s of its
event loop out of every 18 (measured by ``liandong bench-scale``), and it grows with every case
ever registered. Here each case the worker owns leaves a mark when it changes: an open case keeps
its lead unit's running clocks (overdue changes with time, so it is counted when the gauges are
set, over the open cases only); a closed case keeps only which unit accepted it and whether in time, one
shared object per (unit, in time). Marks are set, never added, so setting a case again (a batch
replayed, the board rebuilt while a batch completes) counts it once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from liandong import HANDLING_UNITS
from liandong.domain import CaseState, CaseStatus, Clocks
from liandong.metrics import ON_TIME_ACCEPTANCE, OPEN_CASES, OVERDUE_CASES

from .tallies import Tallies

CLOSED = (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED)
CLOCKS = ("ACCEPTANCE_NOTICE", "HANDLING")


@dataclass(frozen=True, slots=True)
class Mark:
    """What one case adds to the board."""

    unit: str  # the lead unit
    open: bool
    clocks: Clocks | None  # while open: the lead unit's clocks that still run
    accepted: bool
    on_time: bool


@cache
def _closed(unit: str, accepted: bool, on_time: bool) -> Mark:
    return Mark(unit, False, None, accepted, on_time)


def mark(case: CaseState) -> Mark | None:
    """The case's mark (None: it adds nothing: no lead unit, or closed without an acceptance)."""
    lead = case.lead
    if lead is None:
        return None
    accepted = lead.accepted_at is not None
    on_time = lead.accepted_at is not None and lead.accepted_at <= lead.acceptance_due_at
    if case.status not in CLOSED:
        return Mark(lead.unit, True, case.clocks(), accepted, on_time)
    return _closed(lead.unit, accepted, on_time) if accepted else None


@dataclass(frozen=True)
class Figures:
    open: Counter[str]
    overdue: Counter[tuple[str, str]]
    accepted: Counter[str]
    on_time: Counter[str]


class Board:
    def __init__(self) -> None:
        self.marks: dict[str, Mark] = {}
        self.open: dict[str, Mark] = {}
        self.accepted: Counter[str] = Counter()
        self.on_time: Counter[str] = Counter()
        #: The annual report's figures, kept beside the gauges (the same cases, the same rebuilds).
        self.tallies = Tallies()
        #: The consumer generation the marks were rebuilt for (what this worker owns changes with it).
        self.generation: object = None
        #: Held while the marks are rebuilt (by the gauges' job, or a question that cannot wait for it).
        self.rebuilding = asyncio.Lock()

    def set(self, case: CaseState) -> None:
        """The case as it now is (after an event, or read from the table)."""
        key = case.case_number
        self.tallies.set(case)
        old = self.marks.pop(key, None)
        if old is not None:
            self.accepted[old.unit] -= old.accepted
            self.on_time[old.unit] -= old.on_time
        self.open.pop(key, None)
        new = mark(case)
        if new is None:
            return
        self.marks[key] = new
        self.accepted[new.unit] += new.accepted
        self.on_time[new.unit] += new.on_time
        if new.open:
            self.open[key] = new

    def clear(self) -> None:
        """Forgets every case (before they are read again: after a rebalance, what the worker owns changed)."""
        self.marks.clear()
        self.open.clear()
        self.accepted.clear()
        self.on_time.clear()
        self.tallies.clear()
        self.generation = None

    def figures(self, at: datetime) -> Figures:
        open_by_unit: Counter[str] = Counter()
        overdue: Counter[tuple[str, str]] = Counter()
        for m in self.open.values():
            open_by_unit[m.unit] += 1
            for clock in m.clocks.overdue(at) if m.clocks is not None else ():
                overdue[(m.unit, clock)] += 1
        return Figures(open_by_unit, overdue, +self.accepted, +self.on_time)

    def publish(self, at: datetime) -> Figures:
        """Sets the gauges (each worker those of the cases it owns: the dashboards sum over workers)."""
        f = self.figures(at)
        for unit in HANDLING_UNITS:
            OPEN_CASES.labels(unit).set(f.open[unit])
            for clock in CLOCKS:
                OVERDUE_CASES.labels(unit, clock).set(f.overdue[(unit, clock)])
            if f.accepted[unit]:
                ON_TIME_ACCEPTANCE.labels(unit).set(f.on_time[unit] / f.accepted[unit])
        return f

