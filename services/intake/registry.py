"""The intake's memory: idempotency keys, case numbers and matters seen before.

Pure and rebuilt from the bus on start (its own petition.registered events, plus closures),
so intake keeps no state of its own that could drift from the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Registration:
    case_number: str
    new: bool  # False when the idempotency key was seen before: nothing is published
    repeat_of: str | None = None
    earlier_closed: bool = False


@dataclass
class IntakeRegistry:
    district_code: str
    by_key: dict[str, str] = field(default_factory=dict)
    by_matter: dict[str, str] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    last_seq: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def matter_key(name: str, id_number: str | None, phone: str | None, category: str) -> str:
        """The same person on the same kind of matter; hashed so the key itself holds no personal data."""
        who = id_number.upper() if id_number else f"{name.strip()}|{phone or ''}"
        return hashlib.sha256(f"{who}|{category}".encode()).hexdigest()[:32]

    def plan(self, idempotency_key: str, matter: str, year: int) -> Registration:
        """What registering would give, changing nothing (``remember`` it once published)."""
        if idempotency_key in self.by_key:
            return Registration(self.by_key[idempotency_key], new=False)
        seq = self.last_seq.get(year, 0) + 1
        case_number = f"{self.district_code}-{year}-{seq:06d}"
        earlier = self.by_matter.get(matter)
        return Registration(case_number, True, earlier, earlier in self.closed if earlier else False)

    def register(self, idempotency_key: str, matter: str, year: int) -> Registration:
        reg = self.plan(idempotency_key, matter, year)
        if reg.new:
            self.remember(idempotency_key, matter, reg.case_number)
        return reg

    def remember(self, idempotency_key: str, matter: str, case_number: str) -> None:
        """Records a registration (a new one, or one read back from the log)."""
        self.by_key[idempotency_key] = case_number
        self.by_matter.setdefault(matter, case_number)  # repeats link to the original case
        district, _, rest = case_number.partition("-")
        year, _, seq = rest.partition("-")
        if district == self.district_code and year.isdigit() and seq.isdigit():
            self.last_seq[int(year)] = max(self.last_seq.get(int(year), 0), int(seq))

    def close(self, case_number: str) -> None:
        self.closed.add(case_number)
