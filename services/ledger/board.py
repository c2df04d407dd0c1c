"""The unit SLA board's gauges (open cases, overdue cases, on-time acceptance), kept as cases change.

Why not recount every case every few seconds: at 100,000 cases that took the ledger 13 s of its
event loop out of every 18 (measured by ``liandong bench-scale``), and it grows with every case
ever registered. Here each case the worker owns leaves a mark when it changes: an open case keeps
its lead unit's running clocks (overdue changes with time, so it is counted when the gauges are
set, over the open cases only); a closed case adds which unit accepted it and whether in time to
the counts, and is forgotten at the next ``settle``: nothing per closed case is kept, so memory does
not grow with the years of cases. A change to a forgotten case takes out what it added, worked out
from its record as it was (``before``, which the ledger asks before it applies an event). Until the
next ``settle`` a case's mark is kept, so setting it again (a batch of several of its events)
counts it once.

While the board is rebuilt (after a start or a rebalance: every case the worker owns read once)
batches go on. A case a batch sets before the rebuild has read it counts as it now is, and the
rebuild passes it over; one read already counts as a change.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from liandong import HANDLING_UNITS
from liandong.domain import CaseState, CaseStatus, Clocks
from liandong.metrics import ON_TIME_ACCEPTANCE, OPEN_CASES, OVERDUE_CASES

from .tallies import Part, Tallies

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


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class Before:
    """What a case added before a change, where the board no longer keeps it (None: it keeps that)."""

    mark: Mark | None
    part: Part | None


@dataclass(frozen=True)
class Figures:
    open: Counter[str]
    overdue: Counter[tuple[str, str]]
    accepted: Counter[str]
    on_time: Counter[str]


class Board:
    def __init__(self) -> None:
        #: The marks of the open cases, and of every case set since the last ``settle``.
        self.marks: dict[str, Mark] = {}
        self.accepted: Counter[str] = Counter()
        self.on_time: Counter[str] = Counter()
        #: The annual report's figures, kept beside the gauges (the same cases, the same rebuilds).
        self.tallies = Tallies()
        #: The consumer generation the marks were rebuilt for (what this worker owns changes with it).
        self.generation: object = None
        #: Held while the marks are rebuilt (by the gauges' job, or a question that cannot wait for it).
        self.rebuilding = asyncio.Lock()
        self._fresh: set[str] = set()  # set since the last ``settle``
        self._read: set[str] | None = None  # while rebuilt: the cases read so far
        self._touched: set[str] = set()  # while rebuilt: the cases set before the rebuild read them
        #: The cases a batch has applied an event to and not yet counted (``set``): what is left
        #: between batches was applied by one that failed.
        self.applying: set[str] = set()

    def before(self, case: CaseState) -> Before | None:
        """What the case, as its record now is, adds where the board does not keep it; asked before an
        event changes it, and handed to ``set`` after."""
        key = case.case_number
        mark_kept, part_kept = key in self.marks or key in self._fresh, self.tallies.kept(key)
        if mark_kept and part_kept:
            return None  # in flight: the usual case, nothing to work out
        return Before(None if mark_kept else mark(case), None if part_kept else self.tallies.part(case))

    def set(self, case: CaseState, before: Before | None = None) -> None:
        """The case as it now is, after a change; ``before`` as ``before`` gave it."""
        key = case.case_number
        self.applying.discard(key)
        if self._read is not None and key not in self._read:
            self._touched.add(key)  # the rebuild has not read it yet: counted as it now is, passed over
            before = None
        self._count(key, case, before)

    def _count(self, key: str, case: CaseState, before: Before | None) -> None:
        old = self.marks.pop(key, None)
        if old is None and key not in self._fresh and before is not None:
            old = before.mark
        if old is not None:
            self.accepted[old.unit] -= old.accepted
            self.on_time[old.unit] -= old.on_time
        self.tallies.set(case, before.part if before is not None else None)
        self._fresh.add(key)
        new = mark(case)
        if new is not None:
            self.marks[key] = new
            self.accepted[new.unit] += new.accepted
            self.on_time[new.unit] += new.on_time

    def settle(self, at: datetime) -> None:
        """Moves what no longer changes with time into the sums, and forgets the closed cases."""
        self.tallies.settle(at)
        for key in self._fresh:
            m = self.marks.get(key)
            if m is not None and not m.open:
                del self.marks[key]
        self._fresh.clear()

    # -- a rebuild: every case the worker owns, read once -------------------------------------------
    def clear(self) -> None:
        """Forgets every case, before they are read again (after a rebalance, what the worker owns changed)."""
        self.marks.clear()
        self.accepted.clear()
        self.on_time.clear()
        self.tallies.clear()
        self._fresh.clear()
        self._touched.clear()
        self._read = set()
        self.generation = None

    def read(self, key: str, case: CaseState | None) -> None:
        """The case as the rebuild read it from the table (None: not there)."""
        if self._read is None or key in self._touched:
            return  # a batch set it since the rebuild began: counted as it now is
        if case is not None:
            self._count(key, case, None)
        self._read.add(key)

    def rebuilt(self, generation: object) -> None:
        """Every case the worker owns has been read."""
        self._read, self.generation = None, generation
        self._touched.clear()

    # -- kept across a clean restart (services/ledger/keeping.py) ------------------------------------
    def saved(self, at: datetime) -> dict[str, Any]:
        """What ``load`` takes back (JSON), settled as of ``at``: the open cases' marks, the counts and
        the kept sums."""
        self.settle(at)
        return {
            "marks": [[key, m.unit, m.accepted, m.on_time, m.clocks and [_iso(m.clocks.acceptance_due_at),
                                                                          _iso(m.clocks.handling_due_at)]]
                      for key, m in self.marks.items()],  # the open cases': the rest went at the settle
            "accepted": self.accepted, "on_time": self.on_time, "tallies": self.tallies.saved(),
        }

    def load(self, saved: dict[str, Any]) -> None:
        """What ``saved`` gave, in place of what the board holds (its cases not read: ``rebuilt`` says
        when they hold for what the worker owns)."""
        self.clear()
        self._read = None
        for key, unit, accepted, on_time, clocks in saved["marks"]:
            self.marks[key] = Mark(unit, True, Clocks(*map(_time, clocks)) if clocks else None, accepted, on_time)
        self.accepted.update(saved["accepted"])
        self.on_time.update(saved["on_time"])
        self.tallies.load(saved["tallies"])

    def figures(self, at: datetime) -> Figures:
        open_by_unit: Counter[str] = Counter()
        overdue: Counter[tuple[str, str]] = Counter()
        for m in self.marks.values():
            if not m.open:
                continue
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

