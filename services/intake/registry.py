"""The intake's memory: idempotency keys, case numbers and matters seen before.

Pure and rebuilt from the bus on start (its own petition.registered events, plus closures),
so intake keeps no state of its own that could drift from the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Registration:
    case_number: str
    new: bool  # False when the idempotency key was seen before: nothing is published
    repeat_of: str | None = None
    earlier_closed: bool = False


@dataclass
class IntakeRegistry:
    """A repeat is the same person on the same matter while its case is open, or closed no longer
    ago than the review window (``window_end(closed_at)``: Art. 35's 30 days, configurable as
    ``repeat_window_days``); after that the matter is a new case, and later repeats link to it."""

    district_code: str
    by_key: dict[str, str] = field(default_factory=dict)
    by_matter: dict[str, str] = field(default_factory=dict)
    #: Case number -> when it was closed.
    closed: dict[str, datetime] = field(default_factory=dict)
    last_seq: dict[int, int] = field(default_factory=dict)
    #: The end of the repeat window of a case closed at the given time (None: a closed case stays the matter's).
    window_end: Callable[[datetime], datetime] | None = None
    #: This instance's stripe of the sequence (instance i of n gives i+1, i+1+n, …): several intake
    #: instances of a district never give the same number.
    instance: int = 0
    instances: int = 1

    def next_seq(self, year: int) -> int:
        """The first number of this instance's stripe after every number given so far (by any instance)."""
        after = self.last_seq.get(year, 0)
        seq = after + 1
        return seq + (self.instance - (seq - 1)) % self.instances

    @staticmethod
    def matter_key(name: str, id_number: str | None, phone: str | None, category: str) -> str:
        """The same person on the same kind of matter; hashed so the key itself holds no personal data."""
        who = id_number.upper() if id_number else f"{name.strip()}|{phone or ''}"
        return hashlib.sha256(f"{who}|{category}".encode()).hexdigest()[:32]

    def plan(self, idempotency_key: str, matter: str, year: int, received_at: datetime | None = None) -> Registration:
        """What registering would give, changing nothing (``remember`` it once published)."""
        if idempotency_key in self.by_key:
            return Registration(self.by_key[idempotency_key], new=False)
        seq = self.next_seq(year)
        case_number = f"{self.district_code}-{year}-{seq:06d}"
        earlier = self.by_matter.get(matter)
        if earlier is None:
            return Registration(case_number, True)
        closed_at = self.closed.get(earlier)
        if closed_at is not None and received_at is not None and self.window_end is not None \
                and received_at > self.window_end(closed_at):
            return Registration(case_number, True)  # closed longer ago than the review window: a new case
        return Registration(case_number, True, earlier, closed_at is not None)

    def register(self, idempotency_key: str, matter: str, year: int, received_at: datetime | None = None) -> Registration:
        reg = self.plan(idempotency_key, matter, year, received_at)
        if reg.new:
            self.remember(idempotency_key, matter, reg.case_number, reg.repeat_of)
        return reg

    def remember(self, idempotency_key: str, matter: str, case_number: str, repeat_of: str | None = None) -> None:
        """Records a registration (a new one, or one read back from the log): a repeat links to the
        matter's case; a case that is not a repeat becomes the matter's case."""
        self.by_key[idempotency_key] = case_number
        if repeat_of is None:
            self.by_matter[matter] = case_number
        else:
            self.by_matter.setdefault(matter, repeat_of)
        district, _, rest = case_number.partition("-")
        year, _, seq = rest.partition("-")
        if district == self.district_code and year.isdigit() and seq.isdigit():
            self.last_seq[int(year)] = max(self.last_seq.get(int(year), 0), int(seq))

    def close(self, case_number: str, at: datetime) -> None:
        self.closed.setdefault(case_number, at)
