"""The annual report's figures (``GET /stats``) kept as the cases a worker owns change.

Why: counting them afresh decoded every case ever registered for each question (19 s at 100,000
cases, over a minute at a million, with all of them in memory at once; ``liandong bench-scale``).
Every figure is a sum of what each case adds (``stats.tally``), so the worker keeps the sum.

A case's part changes with time only when one of its lead unit's due times passes (``stats.due_times``).
A case whose due times have all passed is *settled*: its part is added to the sums, one per scope
(every case; and each unit, over the cases it may see), and the case is forgotten: nothing of it is
kept, so memory does not grow with the years of cases. A later change to a settled case (a review, a
callback) takes out what it added, worked out from its record as it was (``part``, by the ledger
before it applies the event). A case with a due time still ahead is *pending*: its parts until each
due time and after the last are worked out once, and the one for the moment asked is added to the
answer. Parts are tuples of small numbers, one object per distinct part among the pending cases,
and no case's record is kept past the next ``settle``.
Setting a case again before that (a batch of several of its events) counts it once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liandong.domain import CaseState

from .stats import Tally, due_times, tally

#: What one case adds: (the units that may see it, (key id, count, key id, count, ...)).
Part = tuple[frozenset[str], tuple[int, ...]]
END = datetime.max.replace(tzinfo=UTC)
#: Distinct parts kept for sharing beyond four per pending case.
SHARED_SLACK = 1024


@dataclass(frozen=True, slots=True)
class Pending:
    """A case with due times ahead: its part up to and including each due time, and after the last."""

    steps: tuple[tuple[datetime, Part], ...]
    final: Part

    def at(self, now: datetime) -> Part:
        for until, part in self.steps:
            if now <= until:
                return part
        return self.final


class Tallies:
    def __init__(self) -> None:
        self.pending: dict[str, Pending] = {}
        self.changed: dict[str, CaseState] = {}  # set since the last ``settle``
        #: The settled cases' sums: None for every case, a unit for the cases it may see.
        self.sums: dict[str | None, Tally] = {}
        self._keys: dict[tuple[Any, ...], int] = {}  # a figure's key -> its id in parts
        #: One object per distinct part of the pending cases (most share theirs with many others);
        #: started afresh when it outgrows them, so it does not keep the parts of cases long settled.
        self._shared: dict[Part, Part] = {}
        self._names: list[tuple[Any, ...]] = []

    def kept(self, key: str) -> bool:
        """Whether the case is kept (pending, or changed since the last ``settle``); else it is settled
        (its part only in the sums), or was never set."""
        return key in self.pending or key in self.changed

    def part(self, case: CaseState) -> Part:
        """What the case adds once settled (its part after its last due time)."""
        return self._part(case.concerned(), tally(case, END))

    def set(self, case: CaseState, before: Part | None = None) -> None:
        """The case as it now is (after an event, or read from the table). ``before``: what it added
        as it was before the change (``part``), should it be settled here; None: it was not counted."""
        key = case.case_number
        if self.pending.pop(key, None) is None and key not in self.changed and before is not None:
            self._add(before, -1)  # settled: only its sum was kept
        self.changed[key] = case

    def clear(self) -> None:
        for kept in (self.pending, self.changed, self.sums, self._shared):
            kept.clear()

    def settle(self, now: datetime) -> None:
        """Works out the parts of the cases changed since, and moves every case whose due times have
        all passed into the sums."""
        while self.changed:  # one at a time: a case that cannot be counted stays, and says so next time
            key = next(iter(self.changed))
            case = self.changed[key]
            where = case.concerned()
            ahead = [d for d in due_times(case) if d >= now]
            final = self.part(case)
            if ahead:
                self.pending[key] = Pending(tuple((d, self._share(self._part(where, tally(case, d)))) for d in ahead),
                                            self._share(final))
            else:
                self._add(final, 1)
            del self.changed[key]
        for key, pending in list(self.pending.items()):
            if now > pending.steps[-1][0]:
                del self.pending[key]
                self._add(pending.final, 1)
        if len(self._shared) > 4 * len(self.pending) + SHARED_SLACK:
            self._shared.clear()

    def totals(self, now: datetime, unit: str | None = None) -> Tally:
        """The sum of the parts of every case (``unit``: of the cases it may see) as of ``now``."""
        self.settle(now)
        total = Counter(self.sums.get(unit, {}))
        for pending in self.pending.values():
            where, counts = pending.at(now)
            if unit is None or unit in where:
                for key, n in self._counts(counts):
                    total[key] += n
        return total

    # -- kept across a clean restart (services/ledger/keeping.py) ------------------------------------
    def saved(self) -> dict[str, Any]:
        """The sums and the pending cases, as JSON (after a ``settle``: nothing changed waits)."""
        if self.changed:
            raise ValueError("settle the changed cases first")
        return {
            "names": self._names,
            "sums": [[scope, [[self._keys[key], n] for key, n in total.items()]] for scope, total in self.sums.items()],
            "pending": [[key, sorted(p.final[0]), [[until.isoformat(), part[1]] for until, part in p.steps], p.final[1]]
                        for key, p in self.pending.items()],
        }

    def load(self, saved: dict[str, Any]) -> None:
        """What ``saved`` gave, in place of what is kept."""
        self.clear()
        self._names = [tuple(name) for name in saved["names"]]
        self._keys = {name: i for i, name in enumerate(self._names)}
        self.sums = {scope: Counter({self._names[i]: n for i, n in counts}) for scope, counts in saved["sums"]}
        for key, where, steps, final in saved["pending"]:
            scopes = frozenset(where)
            self.pending[key] = Pending(tuple((datetime.fromisoformat(until), self._share((scopes, tuple(part))))
                                              for until, part in steps), self._share((scopes, tuple(final))))

    def _share(self, part: Part) -> Part:
        return self._shared.setdefault(part, part)

    def _part(self, where: frozenset[str], counted: Tally) -> Part:
        ids = []
        for key, n in counted.items():
            i = self._keys.get(key)
            if i is None:
                i = self._keys[key] = len(self._names)
                self._names.append(key)
            ids.append((i, n))
        return where, tuple(x for pair in sorted(ids) for x in pair)

    def _counts(self, counts: tuple[int, ...]) -> Iterator[tuple[tuple[Any, ...], int]]:
        for i in range(0, len(counts), 2):
            yield self._names[counts[i]], counts[i + 1]

    def _add(self, part: Part, sign: int) -> None:
        where, counts = part
        for scope in (None, *where):
            total = self.sums.setdefault(scope, Counter())
            for key, n in self._counts(counts):
                n = total[key] + sign * n
                if n:
                    total[key] = n
                else:
                    del total[key]
