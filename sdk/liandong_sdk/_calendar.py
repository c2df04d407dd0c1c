"""A business calendar: weekends, public holidays and make-up working days (调休)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

#: Working days are days in the bureau's own time zone (China has no daylight saving time).
BUREAU_TZ: tzinfo = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    #: Weekend days that are working days (make-up days around long holidays).
    makeup_workdays: frozenset[date] = field(default_factory=frozenset)
    tz: tzinfo = BUREAU_TZ

    @classmethod
    def of(cls, holidays: Iterable[date] = (), makeup_workdays: Iterable[date] = ()) -> BusinessCalendar:
        return cls(frozenset(holidays), frozenset(makeup_workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days after ``start`` (same local time of day), counting
        days in the bureau's time zone; returned in ``start``'s time zone. Negative ``days``
        count back (``-3``: three working days before ``start``)."""
        t = start.astimezone(self.tz) if start.tzinfo is not None else start
        remaining = abs(days)
        step = timedelta(days=1 if days > 0 else -1)
        while remaining > 0:
            t += step
            if self.is_working_day(t.date()):
                remaining -= 1
        return t.astimezone(start.tzinfo) if start.tzinfo is not None else t

    def add_days(self, start: datetime, days: int, *, working: bool = False) -> datetime:
        return self.add_working_days(start, days) if working else start + timedelta(days=days)
