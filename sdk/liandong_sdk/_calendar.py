"""A business calendar (weekends, statutory holidays, make-up working days 调休) and the rule by
which the bureau's periods end.

The rule is the Civil Code's (民法典 Art. 201, 203): the day a period starts in is not counted; the
period ends at 24:00 of its last day; a last day that is a statutory rest day moves to the first
working day after it. Rest days are the weekends and the published holidays, as in the courts'
practice (民法通则 Art. 154 named Sundays expressly); a weekend day the State Council makes a
working day (调休) is a working day. Days are the bureau's days (Beijing time, no daylight saving).

The end of a period is carried as the last millisecond of its last day (23:59:59.999 bureau
time), so that "on time" is ``at <= due`` everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

#: Working days are days in the bureau's own time zone (China has no daylight saving time).
BUREAU_TZ: tzinfo = timezone(timedelta(hours=8), "Asia/Shanghai")
#: A period's last moment on its last day: 24:00 less the millisecond the wire format can carry.
END_OF_DAY = time(23, 59, 59, 999000)

log = logging.getLogger("liandong_sdk.calendar")


def bureau_year(at: datetime) -> int:
    """The year ``at`` falls in at the bureau (1 Jan 07:00 Beijing time is 31 Dec in UTC): the year
    of case numbers, statistics and letter numbers. A naive time is taken as bureau time."""
    return (at.astimezone(BUREAU_TZ) if at.tzinfo is not None else at).year


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    #: Weekend days that are working days (make-up days around long holidays).
    makeup_workdays: frozenset[date] = field(default_factory=frozenset)
    tz: tzinfo = BUREAU_TZ
    #: The years whose holidays this calendar holds (empty: no claim, no warning).
    years: frozenset[int] = field(default_factory=frozenset)
    #: Years outside ``years`` already warned about (once per calendar).
    warned: set[int] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def of(cls, holidays: Iterable[date] = (), makeup_workdays: Iterable[date] = (),
           years: Iterable[int] | None = None) -> BusinessCalendar:
        """A calendar of these days; it covers ``years`` (default: the years its holidays fall in)."""
        holidays = frozenset(holidays)
        return cls(holidays, frozenset(makeup_workdays),
                   years=frozenset(years if years is not None else (d.year for d in holidays)))

    def covers(self, day: date) -> bool:
        """Whether the calendar knows the holidays of ``day``'s year."""
        return not self.years or day.year in self.years

    def is_working_day(self, day: date) -> bool:
        if not self.covers(day) and day.year not in self.warned:
            self.warned.add(day.year)
            log.warning("the clocks' calendar has no holidays for %d (it covers %s): counting weekends only",
                        day.year, ", ".join(str(y) for y in sorted(self.years)))
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def day_of(self, at: datetime) -> date:
        """The bureau's day ``at`` falls in (a naive time is taken as bureau time)."""
        return (at.astimezone(self.tz) if at.tzinfo is not None else at).date()

    def end_of(self, day: date, like: datetime | None = None) -> datetime:
        """24:00 of ``day`` (its last millisecond), in ``like``'s time zone (naive if ``like`` is)."""
        end = datetime.combine(day, END_OF_DAY, self.tz)
        if like is not None and like.tzinfo is None:
            return end.replace(tzinfo=None)
        return end.astimezone(like.tzinfo) if like is not None else end

    def period_end(self, start: datetime, days: int, *, working: bool = False) -> datetime:
        """When a period of ``days`` (calendar or working days) that starts at ``start`` ends, by the
        Civil Code's rule (see the module); in ``start``'s time zone."""
        day = self.day_of(start)
        if working:
            day = self._working_days_after(day, days)
        else:
            day += timedelta(days=days)
            while not self.is_working_day(day):
                day += timedelta(days=1)  # the last day is a rest day: the first working day after it
        return self.end_of(day, start)

    def _working_days_after(self, day: date, days: int) -> date:
        step = timedelta(days=1 if days > 0 else -1)
        remaining = abs(days)
        while remaining > 0:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days after ``start`` (same local time of day), counting
        days in the bureau's time zone; returned in ``start``'s time zone. Negative ``days``
        count back (``-3``: three working days before ``start``). For offsets from a moment (the
        escalation ladder); a period's end is ``period_end``."""
        t = start.astimezone(self.tz) if start.tzinfo is not None else start
        t = datetime.combine(self._working_days_after(t.date(), days), t.timetz()) if t.tzinfo else \
            datetime.combine(self._working_days_after(t.date(), days), t.time())
        return t.astimezone(start.tzinfo) if start.tzinfo is not None else t

    def add_days(self, start: datetime, days: int, *, working: bool = False) -> datetime:
        return self.add_working_days(start, days) if working else start + timedelta(days=days)
